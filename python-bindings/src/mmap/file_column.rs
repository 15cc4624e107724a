//! `FileColumn`: a lazy view of one field of a `DictListFile`.

use std::sync::OnceLock;
use std::sync::atomic::AtomicUsize;

use arrow_array::PrimitiveArray;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use memslim_mmap::view::Positions;
use memslim_mmap::{FieldNumbers, FieldSum};
use memslim_records::{DType, OwnedNumbers, Sum};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList, PySlice};

use super::dict_list_file::PyDictListFile;
use super::file_view::{FileView, FileViewRef, PyFileViewIter, file_view_methods};
use super::{file_cell, index_arg, slice_of, untrusted_in};
use crate::convert::value_to_py_from;
use crate::errors::{Class, IntoPyResult};

/// A lazy, read-only view of one field of a `DictListFile`: a registered
/// `collections.abc.Sequence` of the values `rows[i][name]` gives, with `None` where a
/// record lacks the key (as `DictList.column`). Reads the file on each access; keeps
/// the file object alive; raises `ValueError` after `close()`.
#[pyclass(name = "FileColumn", module = "memslim._memslim", frozen, sequence)]
pub struct PyFileColumn {
    pub(super) file: Py<PyDictListFile>,
    pub(super) name: String,
    pub(super) len: usize,
    /// The column's type for numpy, and its numbers when numeric without nulls.
    pub(super) numbers: OnceLock<(DType, Option<FieldNumbers>)>,
}

impl FileView for PyFileColumn {
    fn view_len(&self) -> usize {
        self.len
    }

    fn plain<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        let owner = self.file.get();
        let mut f = owner.lock()?;
        let path = f.path().to_owned();
        f.with_field(k, &self.name, |c| {
            file_cell(py, c, owner.trust, &path, &self.name)
        })
        .py_err(py)?
    }
}

impl PyFileColumn {
    /// The smallest (or, if `max`, the largest) non-null value, read value by value
    /// from the map under one lock.
    fn extreme<'py>(&self, py: Python<'py>, max: bool) -> PyResult<Bound<'py, PyAny>> {
        let owner = self.file.get();
        let (found, path) = {
            let mut f = owner.lock()?;
            (
                f.min_max(&self.name, self.len).py_err(py)?,
                f.path().to_owned(),
            )
        };
        match found {
            Some((lo, hi)) => value_to_py_from(py, if max { &hi } else { &lo }, owner.trust)
                .map_err(|e| untrusted_in(py, e, &path, &self.name)),
            None => Err(PyValueError::new_err(format!(
                "{}() of a column with no values",
                if max { "max" } else { "min" }
            ))),
        }
    }

    /// The sum and null count of the values, from the field's Arrow arrays.
    fn field_sum(&self, py: Python<'_>) -> PyResult<FieldSum> {
        self.file
            .get()
            .lock()?
            .field_sum(&self.name, self.len)
            .py_err(py)
    }

    /// The sum, or `memslim.UnsupportedTypeError` (a `TypeError`) for a column that is
    /// not numbers or bools.
    fn sum_of(&self, py: Python<'_>, s: &FieldSum) -> PyResult<Sum> {
        s.sum.ok_or_else(|| {
            Class::UnsupportedType.err(
                py,
                format!("sum of {:?}: not a column of numbers", self.name),
            )
        })
    }

    fn numbers(&self, py: Python<'_>) -> PyResult<&(DType, Option<FieldNumbers>)> {
        if let Some(n) = self.numbers.get() {
            return Ok(n);
        }
        let found = self
            .file
            .get()
            .lock()?
            .field_numbers(&self.name, self.len)
            .py_err(py)?;
        Ok(self.numbers.get_or_init(|| found))
    }
}

file_view_methods! {
    PyFileColumn, Column, "FileColumn",

    /// The field's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    fn __len__(&self) -> usize {
        self.len
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(s) = index.cast::<PySlice>() {
            let at = slice_of(&Positions::all(self.len), s)?;
            let out = PyList::empty(py);
            for k in 0..at.len {
                out.append(self.plain(py, at.at(k))?)?;
            }
            return Ok(out.into_any());
        }
        self.plain(py, index_arg(index, self.len)?)
    }

    /// Values that are null or absent.
    #[getter]
    fn null_count(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.field_sum(py)?.nulls)
    }

    /// Sum of the non-null values (bools count as ints); 0 for an empty column.
    fn sum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.field_sum(py)?;
        match self.sum_of(py, &s)? {
            Sum::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
            Sum::Float(f) => Ok(f.into_pyobject(py)?.into_any()),
        }
    }

    /// Smallest non-null value (numbers, bools or strings); `ValueError` if none.
    fn min<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.extreme(py, false)
    }

    /// Largest non-null value (numbers, bools or strings); `ValueError` if none.
    fn max<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.extreme(py, true)
    }

    /// Mean of the non-null values; `None` when there are none.
    fn mean(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        let s = self.field_sum(py)?;
        self.sum_of(py, &s)?;
        Ok(s.mean())
    }

    /// NumPy's array interface, read-only: zero-copy when the column's records are one
    /// committed batch of ints or floats without nulls, else one copy of the numbers;
    /// only for numeric columns without nulls.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (ptr, typestr) = match &self.numbers(py)?.1 {
            Some(FieldNumbers::Mapped(a)) => match (a.as_primitive_opt(), a.as_primitive_opt()) {
                (Some(i), _) => (
                    PrimitiveArray::<Int64Type>::values(i).as_ptr() as usize,
                    "<i8",
                ),
                (None, Some(f)) => (
                    PrimitiveArray::<Float64Type>::values(f).as_ptr() as usize,
                    "<f8",
                ),
                _ => return Err(no_interface()),
            },
            Some(FieldNumbers::Owned(OwnedNumbers::I64(v))) => (v.as_ptr() as usize, "<i8"),
            Some(FieldNumbers::Owned(OwnedNumbers::F64(v))) => (v.as_ptr() as usize, "<f8"),
            None => return Err(no_interface()),
        };
        crate::numpy::array_interface(py, self.len, ptr, typestr)
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let (kind, numbers) = this.numbers(slf.py())?;
        crate::numpy::column_array(
            slf.as_any(),
            numbers.is_some(),
            *kind,
            || this.to_plain_list(slf.py()),
            dtype,
            copy,
        )
    }

    /// This one field for Arrow consumers, as a stream of one-column record batches
    /// (absent as null): committed batches point into the map.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let (schema, batches) = self
            .file
            .get()
            .lock()?
            .field_arrow(&self.name, self.len)
            .py_err(py)?;
        crate::arrow_stream::export_stream(py, schema, batches)
    }

    fn __repr__(&self) -> String {
        format!("FileColumn({:?}, len={})", self.name, self.len)
    }
}

fn no_interface() -> PyErr {
    pyo3::exceptions::PyAttributeError::new_err(
        "__array_interface__ (only numeric columns without nulls)",
    )
}
