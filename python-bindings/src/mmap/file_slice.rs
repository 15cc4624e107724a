//! `FileSlice`: a lazy slice `rows[a:b:c]` of a `DictListFile`.

use memslim_mmap::view::Positions;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PySlice};

use super::dict_list_file::{PyDictListFile, PyDictListFileIter};
use super::{seq_eq, slice_of};
use crate::sequence::position;

/// A lazy, read-only slice `rows[a:b:c]` of a `DictListFile`: a registered
/// `collections.abc.Sequence` of `Row` views of the records it covers, which it reads
/// only when asked. Keeps the file object alive; raises `ValueError` after `close()`.
#[pyclass(name = "FileSlice", module = "memslim._memslim", frozen, sequence)]
pub struct PyFileSlice {
    pub(super) file: Py<PyDictListFile>,
    pub(super) at: Positions,
}

impl PyFileSlice {
    /// Item `k` as a plain dict (what `==`, `in`, `count`, `index` and `to_list` use).
    fn plain<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        let owner = self.file.get();
        let mut f = owner.lock()?;
        Ok(PyDictListFile::row(py, &mut *f, &owner.state, self.at.at(k))?.into_any())
    }

    /// The first position in `start..stop` holding `value` (`is` or `==`), and how many
    /// do (counting stops at the first when `first_only`).
    pub(super) fn find(
        &self,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
        first_only: bool,
    ) -> PyResult<(Option<usize>, usize)> {
        memslim_mmap::view::find(self.at.len, start, stop, first_only, |k| {
            let v = self.plain(value.py(), k)?;
            Ok(v.is(value) || v.eq(value)?)
        })
    }
}

#[pymethods]
impl PyFileSlice {
    fn __len__(&self) -> usize {
        self.at.len
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(s) = index.cast::<PySlice>() {
            let slice = PyFileSlice {
                file: self.file.clone_ref(py),
                at: slice_of(s, || Ok(self.at))?,
            };
            return Ok(Bound::new(py, slice)?.into_any());
        }
        let k = position(index, || Ok(self.at.len), "FileSlice")?;
        let row = PyDictListFile::row_view(&self.file, py, self.at.at(k))?;
        Ok(row.into_bound(py).into_any())
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let it = PyDictListFileIter::new(self.file.clone_ref(py), Some(self.at));
        crate::fast_slots::new_iter(py, it)
    }

    /// The items as plain values (records as dicts), in a list.
    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for k in 0..self.at.len {
            out.append(self.plain(py, k)?)?;
        }
        Ok(out)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        seq_eq(py, self.at.len, other, |k| self.plain(py, k).map(Some))
    }

    fn __ne__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::convert::negated(py, self.__eq__(py, other)?)
    }

    fn __contains__(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.find(value, 0, isize::MAX, true)?.0.is_some())
    }

    #[pyo3(
        signature = (value, start = crate::sequence::SliceIndex(0), stop = crate::sequence::SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    fn index(
        &self,
        value: &Bound<'_, PyAny>,
        start: crate::sequence::SliceIndex,
        stop: crate::sequence::SliceIndex,
    ) -> PyResult<usize> {
        let (start, stop) = (start.0, stop.0);
        self.find(value, start, stop, true)?
            .0
            .ok_or_else(|| PyValueError::new_err("value is not in FileSlice"))
    }

    fn count(&self, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        Ok(self.find(value, 0, isize::MAX, false)?.1)
    }

    fn __repr__(&self) -> String {
        format!(
            "FileSlice(start={}, stop={}, step={}, len={})",
            self.at.start,
            self.at.stop(),
            self.at.step,
            self.at.len
        )
    }
}
