//! `FileRow`: a read-only, dict-like view of one record of a `DictListFile`.

use memslim_records::CellRef;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::dict_list_file::PyDictListFile;
use super::file_cell;
use crate::errors::IntoPyResult;

static MAPPING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A read-only, dict-like view of one record of a `DictListFile`: a registered
/// `collections.abc.Mapping` that compares equal to the plain dict. Records of a file
/// never move (it is append-only), so a view always reads its own record; it keeps the
/// file object alive, and reading through it after `close()` raises `ValueError`.
#[pyclass(name = "FileRow", module = "memslim._memslim", mapping, frozen)]
pub struct PyFileRow {
    pub(super) file: Py<PyDictListFile>,
    pub(super) row: usize,
}

impl PyFileRow {
    /// Calls `f(key, value)` for each key of the record, in its order; stops at the
    /// first error (from the file, or from `f`).
    fn visit<'py>(
        &self,
        py: Python<'py>,
        mut f: impl FnMut(&str, CellRef<'_>) -> PyResult<bool>,
    ) -> PyResult<()> {
        let mut file = self.file.get().lock()?;
        let mut err = None;
        let mut done = false;
        file.visit_row(self.row, |k, v| {
            if done || err.is_some() {
                return;
            }
            match f(k, v) {
                Ok(more) => done = !more,
                Err(e) => err = Some(e),
            }
        })
        .py_err(py)?;
        err.map_or(Ok(()), Err)
    }

    fn value<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(key) = key.cast::<PyString>() else {
            return Ok(None);
        };
        let key = key.to_str()?;
        let owner = self.file.get();
        let mut file = owner.lock()?;
        let path = file.path().to_owned();
        file.with_field(self.row, key, |v| match v {
            CellRef::Absent => Ok(None),
            v => file_cell(py, v, owner.trust, &path, key).map(Some),
        })
        .py_err(py)?
    }

    fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let owner = self.file.get();
        let mut f = owner.lock()?;
        PyDictListFile::row(py, &mut f, owner.trust, self.row)
    }
}

#[pymethods]
impl PyFileRow {
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.value(py, key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.value(py, key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(key) = key.cast::<PyString>() else {
            return Ok(false);
        };
        let key = key.to_str()?;
        let mut found = false;
        self.visit(py, |k, _| {
            found = k == key;
            Ok(!found)
        })?;
        Ok(found)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let mut n = 0;
        self.visit(py, |_, _| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = PyList::empty(py);
        self.visit(py, |k, _| {
            keys.append(PyString::intern(py, k))?;
            Ok(true)
        })?;
        Ok(keys.try_iter()?.into_any())
    }

    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Keys)
    }

    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Values)
    }

    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Items)
    }

    /// The record as a plain dict (a detached copy).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.dict(py)
    }

    /// The record as a plain dict (a detached copy), as `dict.copy` gives.
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.dict(py)
    }

    /// Position of this record in its file.
    #[getter]
    fn index(&self) -> usize {
        self.row
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let mapping = MAPPING.import(py, "collections.abc", "Mapping")?;
        if !other.is_instance(mapping)? {
            return Ok(py.NotImplemented());
        }
        let me = self.dict(py)?;
        let other = match other.cast::<PyFileRow>() {
            Ok(r) => r.get().dict(py)?.into_any(),
            Err(_) => other.clone(),
        };
        me.eq(other)?.into_py_any(py)
    }

    fn __ne__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let eq = self.__eq__(py, other)?;
        crate::convert::negated(py, eq)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.dict(py)?.repr()?.to_string())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // Pickling a view pickles its record as a plain dict.
        let d = self.dict(py)?;
        (py.import("builtins")?.getattr("dict")?, (d,)).into_pyobject(py)
    }
}
