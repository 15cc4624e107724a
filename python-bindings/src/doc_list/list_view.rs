//! `ListView`: a read-only, list-like view of a list or tuple inside a document.

use super::*;

/// A read-only, list-like view of a list or tuple inside a document.
#[pyclass(name = "ListView", module = "memslim._memslim", sequence, frozen)]
pub struct PyListView {
    pub(super) at: At,
}

impl PyListView {
    fn seq<'a>(&'a self, py: Python<'_>) -> PyResult<(Seq<'a>, bool)> {
        match self.at.node(py)? {
            Node::List(s) => Ok((s, false)),
            Node::Tuple(s) => Ok((s, true)),
            _ => Err(crate::errors::corrupt(
                py,
                "ListView of a non-sequence".into(),
            )),
        }
    }

    /// The value as a plain list or tuple of its items (nested containers as views):
    /// what `list.copy()` and the operators give, a shallow copy.
    fn shallow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items = self.items(py)?;
        Ok(if self.seq(py)?.1 {
            PyTuple::new(py, items)?.into_any()
        } else {
            PyList::new(py, items)?.into_any()
        })
    }

    /// `op` as the stored list or tuple compares, against a list, a tuple or a view.
    fn compare(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let plain =
            |o: &Bound<'_, PyAny>| o.is_instance_of::<PyList>() || o.is_instance_of::<PyTuple>();
        self.at.compare_plain(py, other, plain, op)
    }

    /// The error of the in-place form of `op` (`+`, `*`).
    fn in_place(&self, py: Python<'_>, op: &str) -> PyErr {
        let what = match self.seq(py) {
            Ok((_, true)) => "tuple",
            Ok(_) => "list",
            Err(e) => return e,
        };
        PyTypeError::new_err(format!(
            "a ListView is read-only: `x {op}= ...` cannot change the stored {what}; write \
             `x = x {op} ...` for a new {what}"
        ))
    }

    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let (s, _) = self.seq(py)?;
        s.iter()
            .map(|r| {
                let (n, pos) = r.map_err(|e| doc_to_py(py, e))?;
                self.at.child(py, n, pos)
            })
            .collect()
    }
}

#[pymethods]
impl PyListView {
    /// The view's own size, plus its list's documents when nothing else holds them.
    fn __sizeof__(&self) -> usize {
        self.at.sizeof::<Self>()
    }

    /// For `memslim.deep_sizeof`: the documents' store it keeps alive (see `buffers.rs`).
    fn _buffers(&self) -> Vec<(usize, usize)> {
        self.at.held(false).into_vec()
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.seq(py)?.0.len())
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (s, is_tuple) = self.seq(py)?;
        if let Ok(sl) = index.cast::<PySlice>() {
            let all = self.items(py)?;
            let picked: Vec<_> = slice_of(sl, || Ok(all.len()))?
                .positions()
                .map(|p| all[p].clone())
                .collect();
            return Ok(if is_tuple {
                PyTuple::new(py, picked)?.into_any()
            } else {
                PyList::new(py, picked)?.into_any()
            });
        }
        let i = norm_index(
            index,
            || Ok(s.len()),
            if is_tuple { "tuple" } else { "list" },
        )?;
        match s.get(i).map_err(|e| doc_to_py(py, e))? {
            Some((n, pos)) => self.at.child(py, n, pos),
            None => Err(PyIndexError::new_err("list index out of range")),
        }
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyList::new(py, self.items(py)?)?.try_iter()?.into_any())
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        PyList::new(py, self.items(py)?)?.contains(value)
    }

    #[pyo3(
        signature = (value, start = SliceIndex(0), stop = SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: SliceIndex,
        stop: SliceIndex,
    ) -> PyResult<usize> {
        let items = PyList::new(py, self.items(py)?)?;
        index_in(&items, value, start, stop, "the sequence")
    }

    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let items = PyList::new(py, self.items(py)?)?;
        items
            .call_method1(intern!(py, "count"), (value,))?
            .extract()
    }

    /// Whether the stored value is a tuple (``to_python()`` then gives a tuple).
    #[getter]
    fn is_tuple(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.seq(py)?.1)
    }

    /// The value as a plain ``list`` or ``tuple`` (a deep copy).
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.at.to_python(py)
    }

    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        crate::convert::richcmp_ne_as_eq(py, op, |op| self.compare(py, other, op))
    }

    /// A stored tuple hashes as the tuple (so it can be a set member or a dict key, and
    /// raises as the tuple does when it holds a list or dict); a stored list does not.
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        if !self.seq(py)?.1 {
            return Err(PyTypeError::new_err("unhashable type: 'ListView'"));
        }
        self.at.to_python(py)?.hash()
    }

    /// `list.copy()`: a new plain list of the items (nested lists and dicts as views). A
    /// stored tuple has no `copy`, as a tuple has none.
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.seq(py)?.1 {
            return Err(PyAttributeError::new_err(
                "'tuple' object has no attribute 'copy' (this ListView is a stored tuple)",
            ));
        }
        self.shallow(py)
    }

    /// `view + other`: as the stored list or tuple adds (a new plain list or tuple).
    fn __add__<'py>(
        &self,
        py: Python<'py>,
        other: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.shallow(py)?.add(other)
    }

    fn __radd__<'py>(
        &self,
        py: Python<'py>,
        other: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        other.add(self.shallow(py)?)
    }

    /// `view * n`: as the stored list or tuple repeats (a new plain list or tuple).
    fn __mul__<'py>(&self, py: Python<'py>, n: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.shallow(py)?.mul(n)
    }

    fn __rmul__<'py>(&self, py: Python<'py>, n: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.shallow(py)?.mul(n)
    }

    /// `view += other`: a stored list would be extended in place, which a read-only
    /// view cannot do: `TypeError`, rather than a new list that leaves the document as
    /// it was. (A stored tuple would give a new tuple; PyO3's in-place methods cannot
    /// hand `+` the operation, so it raises too, naming the spelling that works.)
    fn __iadd__(&self, py: Python<'_>, _other: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(self.in_place(py, "+"))
    }

    /// `view *= n`: as `+=`.
    fn __imul__(&self, py: Python<'_>, _n: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(self.in_place(py, "*"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.at.to_python(py)?.repr()?.to_string())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // Pickling or copying a view gives the plain list or tuple.
        let v = self.at.to_python(py)?;
        let ctor = v.get_type();
        let items = PyList::new(py, v.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
        (ctor, (items,)).into_pyobject(py)
    }
}

/// `list.index(value, start, stop)` over the values `all` (the bounds saturated to
/// the platform's range, which `list.index` clamps alike), its `ValueError` naming
/// `what`.
pub(crate) fn index_in(
    all: &Bound<'_, PyList>,
    value: &Bound<'_, PyAny>,
    start: SliceIndex,
    stop: SliceIndex,
    what: &str,
) -> PyResult<usize> {
    let py = all.py();
    match all.call_method1(pyo3::intern!(py, "index"), (value, start.0, stop.0)) {
        Ok(i) => i.extract(),
        Err(e) if e.is_instance_of::<PyValueError>(py) => {
            Err(PyValueError::new_err(format!("value is not in {what}")))
        }
        Err(e) => Err(e),
    }
}
