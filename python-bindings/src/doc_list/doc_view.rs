//! `DocView`: a read-only, dict-like view of a dict inside a document.

use super::*;
use crate::mapping_views::{View, list_by_protocol};
use crate::records::{absent_key, dict_or};

/// A read-only, dict-like view of a dict inside a document.
#[pyclass(name = "DocView", module = "memslim._memslim", mapping, frozen)]
pub struct PyDocView {
    pub(super) at: At,
}

impl PyDocView {
    fn map<'a>(&'a self, py: Python<'_>) -> PyResult<Map<'a>> {
        match self.at.node(py)? {
            Node::Dict(m) => Ok(m),
            _ => Err(crate::errors::corrupt(py, "DocView of a non-dict".into())),
        }
    }

    #[inline]
    fn lookup<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = key.py();
        let Some(sym) = self.at.sym_of(key)? else {
            return absent_key(key);
        };
        match self.map(py)?.get(sym).map_err(|e| doc_to_py(py, e))? {
            Some((node, pos)) => self.at.child(py, node, pos).map(Some),
            None => Ok(None),
        }
    }

    /// The dict as a plain `dict` of its keys and values, nested dicts and lists as
    /// views: what `dict.copy()` and `|` give, a shallow copy.
    pub(crate) fn shallow_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let keys = self.keys_list(py)?;
        let out = PyDict::new(py);
        for (key, item) in keys.iter().zip(self.map(py)?.iter()) {
            let (_, node, pos) = item.map_err(|e| doc_to_py(py, e))?;
            out.set_item(key, self.at.child(py, node, pos)?)?;
        }
        Ok(out)
    }

    fn keys_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let m = self.map(py)?;
        let table = self.at.ctx.store.symbols();
        let mut strs = self.at.ctx.strs.borrow_mut(py)?;
        let out = PyList::empty(py);
        for item in m.iter() {
            let (k, _, _) = item.map_err(|e| doc_to_py(py, e))?;
            out.append(strs.get(py, k, &table)?)?;
        }
        Ok(out)
    }
}

#[pymethods]
impl PyDocView {
    /// The view's own size, plus its list's documents when nothing else holds them.
    fn __sizeof__(&self) -> usize {
        self.at.sizeof::<Self>()
    }

    /// For `memslim.deep_sizeof`: the documents' store it keeps alive (see `buffers.rs`).
    fn _buffers(&self) -> Vec<(usize, usize)> {
        self.at.held(false).into_vec()
    }

    fn __getitem__<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match self.lookup(key)? {
            Some(v) => Ok(v),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.lookup(key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| key.py().None().into_bound(key.py())),
        })
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = key.py();
        let Some(sym) = self.at.sym_of(key)? else {
            return Ok(absent_key::<()>(key)?.is_some());
        };
        Ok(self
            .map(py)?
            .get(sym)
            .map_err(|e| doc_to_py(py, e))?
            .is_some())
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.map(py)?.len())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.keys_list(py)?.try_iter()?.into_any())
    }

    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::mapping_views::view(slf.as_any(), View::Keys, list_by_protocol)
    }

    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::mapping_views::view(slf.as_any(), View::Values, list_by_protocol)
    }

    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::mapping_views::view(slf.as_any(), View::Items, list_by_protocol)
    }

    /// The dict as a plain Python ``dict`` (a deep copy).
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.at.to_python(py)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let dict = |o: &Bound<'_, PyAny>| o.is_instance_of::<PyDict>();
        self.at.compare_plain(py, other, dict, CompareOp::Eq)
    }

    fn __ne__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let eq = self.__eq__(py, other)?;
        crate::convert::negated(py, eq)
    }

    fn __hash__(&self) -> PyResult<isize> {
        Err(PyTypeError::new_err("unhashable type: 'DocView'"))
    }

    /// `dict.copy()`: a new plain dict of the keys and values (a shallow copy: nested
    /// dicts and lists stay views; `to_python()` copies all the way down).
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.shallow_dict(py)
    }

    /// `view | d`: a new plain dict, as `dict | dict` gives.
    fn __or__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dict_or(self.shallow_dict(py)?.as_any(), other, false)
    }

    fn __ror__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dict_or(self.shallow_dict(py)?.as_any(), other, true)
    }

    /// `view |= other` would update the stored dict in place, which a read-only view
    /// cannot do: `TypeError`, rather than a new dict that leaves the document as it was.
    fn __ior__(&self, _other: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a DocView is read-only: `x |= ...` cannot change the stored dict; write \
             `x = x | ...` for a new dict",
        ))
    }

    fn __reversed__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.keys_list(py)?;
        keys.reverse()?;
        Ok(keys.try_iter()?.into_any())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.at.to_python(py)?.repr()?.to_string())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // Pickling or copying a view gives the plain dict.
        let d = self.at.to_python(py)?;
        (py.import("builtins")?.getattr("dict")?, (d,)).into_pyobject(py)
    }
}
