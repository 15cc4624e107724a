//! `Row`: a live, writable, dict-like view of one record of a DictList's store.

use super::*;

/// A live, writable, dict-like view of one record of a DictList.
///
/// It names a row of the list's store, which never moves while the view exists: the
/// view follows its record through sorts, inserts and deletes, as a dict taken out of
/// a list would, and still reads and writes it once it has left every list.
#[pyclass(name = "Row", module = "memslim._memslim", mapping, frozen)]
pub struct PyRow {
    pub(super) store: Store,
    /// Row of the store. Mutable only while no one but the iterator holds this object
    /// (see `__next__`).
    pub(super) row: AtomicUsize,
}

impl PyRow {
    /// The record's keys, in its key order.
    pub(super) fn keys_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let this = self.store.borrow(py)?;
        let keys = this.inner.row_keys(self.row());
        PyList::new(py, keys.into_iter().map(|j| this.names[j].bind(py).clone()))
    }

    #[inline]
    pub(super) fn row(&self) -> usize {
        self.row.load(Ordering::Relaxed)
    }

    pub(super) fn key_str<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
        key.cast::<PyString>()
            .map_err(|_| {
                schema_error(
                    key.py(),
                    format!(
                        "Row keys must be str, not {}",
                        key.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ),
                )
            })?
            .to_str()
    }

    pub(super) fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let k = Self::key_str(key)?;
        let items: Items<'_> = vec![(key.clone(), value.clone())];
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, self.row())?;
        let mut this = self.store.borrow_mut(py)?;
        this.inner.set_field(self.row(), k, cells[0].1).py_err(py)?;
        this.after_append(py, 1);
        Ok(())
    }

    pub(super) fn remove(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut this = self.store.borrow_mut(py)?;
        match this.col_of(key) {
            Some(j) => this.inner.remove_field(self.row(), j).py_err(py),
            None => Ok(false),
        }
    }

    pub(super) fn lookup<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let this = self.store.borrow(py)?;
        let Some(j) = this.col_of(key) else {
            return Ok(None);
        };
        match this.inner.get(self.row(), j) {
            CellRef::Absent => Ok(None),
            c => this.cell_value(py, j, c).map(Some),
        }
    }
}

#[pymethods]
impl PyRow {
    // jsonout: dict operators; the bodies are in the jsonout block at the end of the file.
    pub(super) fn __or__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        row_or(slf, other, false)
    }

    pub(super) fn __ror__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        row_or(slf, other, true)
    }

    pub(super) fn __ior__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.update(py, Some(other), None)
    }

    pub(super) fn __reversed__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.keys_list(py)?;
        keys.reverse()?;
        Ok(keys.try_iter()?.into_any())
    }

    /// `dict.fromkeys`: a new plain dict (a Row is always a record of a list).
    #[classmethod]
    #[pyo3(signature = (iterable, value = None))]
    pub(super) fn fromkeys<'py>(
        cls: &Bound<'py, PyType>,
        iterable: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        py.get_type::<PyDict>()
            .call_method1(intern!(py, "fromkeys"), (iterable, value))
    }

    #[classmethod]
    pub(super) fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        generic_alias(cls, item)
    }

    pub(super) fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.lookup(py, key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    pub(super) fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.set(py, key, value)
    }

    pub(super) fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.remove(py, key)? {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    pub(super) fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let this = self.store.borrow(py)?;
        Ok(this.inner.row_len(self.row()))
    }

    pub(super) fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.lookup(py, key)?.is_some())
    }

    pub(super) fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.keys_list(py)?.try_iter()?.into_any())
    }

    #[pyo3(signature = (key, default = None))]
    pub(super) fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.lookup(py, key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    pub(super) fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Keys)
    }

    pub(super) fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Values)
    }

    pub(super) fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Items)
    }

    #[pyo3(signature = (key, *default))]
    pub(super) fn pop<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if default.len() > 1 {
            return Err(PyTypeError::new_err("pop expected at most 2 arguments"));
        }
        match self.lookup(py, key)? {
            Some(v) => {
                self.remove(py, key)?;
                Ok(v)
            }
            None if default.len() == 1 => default.get_item(0),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    pub(super) fn popitem<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let keys = self.keys_list(py)?;
        let n = keys.len();
        if n == 0 {
            return Err(PyKeyError::new_err("popitem(): row is empty"));
        }
        let k = keys.get_item(n - 1)?;
        let v = self.__getitem__(py, &k)?;
        self.remove(py, &k)?;
        Ok((k, v))
    }

    #[pyo3(signature = (key, default = None))]
    pub(super) fn setdefault<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(v) = self.lookup(py, key)? {
            return Ok(v);
        }
        let d = default.unwrap_or_else(|| py.None().into_bound(py));
        self.set(py, key, &d)?;
        Ok(d)
    }

    #[pyo3(signature = (other = None, /, **kwargs))]
    pub(super) fn update(
        &self,
        py: Python<'_>,
        other: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if let Some(o) = other {
            let pairs: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> =
                if o.hasattr(intern!(py, "keys"))? {
                    let mut v = Vec::new();
                    for k in o.call_method0(intern!(py, "keys"))?.try_iter()? {
                        let k = k?;
                        let val = o.get_item(&k)?;
                        v.push((k, val));
                    }
                    v
                } else {
                    let mut v = Vec::new();
                    for it in o.try_iter()? {
                        v.push(it?.extract()?);
                    }
                    v
                };
            for (k, v) in pairs {
                self.set(py, &k, &v)?;
            }
        }
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                self.set(py, &k, &v)?;
            }
        }
        Ok(())
    }

    pub(super) fn clear(&self, py: Python<'_>) -> PyResult<()> {
        for k in self.keys_list(py)?.iter() {
            self.remove(py, &k)?;
        }
        Ok(())
    }

    pub(super) fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let this = self.store.borrow(py)?;
        this.row_value(py, self.row())
    }

    pub(super) fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)
    }

    pub(super) fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let mapping = MAPPING.import(py, "collections.abc", "Mapping")?;
        if !other.is_instance(mapping)? {
            return Ok(py.NotImplemented());
        }
        let this = me.store.borrow(py)?;
        this.row_equals(py, me.row(), other, store_ptr(&me.store))?
            .into_py_any(py)
    }

    pub(super) fn __ne__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let eq = Self::__eq__(slf, other)?;
        crate::convert::negated(py, eq)
    }

    pub(super) fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.to_dict(py)?.repr()?.to_string())
    }

    pub(super) fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // Pickling a view pickles its record as a plain dict.
        let d = self.to_dict(py)?;
        (py.import("builtins")?.getattr("dict")?, (d,)).into_pyobject(py)
    }
}

/// The plain-dict form of a mapping `|` accepts: a `dict` as it is, a `Row` (or another
/// memslim mapping view) copied to a dict; `None` for anything else.
pub(super) fn or_operand<'py>(o: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if o.is_instance_of::<PyDict>() {
        return Ok(Some(o.clone()));
    }
    if let Ok(r) = o.cast::<PyRow>() {
        return Ok(Some(r.get().to_dict(o.py())?));
    }
    let py = o.py();
    let m = o.py().import("memslim._memslim")?;
    for name in ["FileRow", "DocView"] {
        if o.is_instance(&m.getattr(name)?)? {
            let d = PyDict::new(py);
            d.update(o.cast()?)?;
            return Ok(Some(d.into_any()));
        }
    }
    Ok(None)
}

/// `row | other` (`reflected`: `other | row`): a new plain dict, as `dict | dict` gives.
pub(super) fn row_or(
    slf: &Bound<'_, PyRow>,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Some(o) = or_operand(other)? else {
        return Ok(py.NotImplemented());
    };
    let mine = slf.get().to_dict(py)?;
    let (left, right) = if reflected { (o, mine) } else { (mine, o) };
    let out = PyDict::new(py);
    out.update(left.cast()?)?;
    out.update(right.cast()?)?;
    Ok(out.into_any().unbind())
}
