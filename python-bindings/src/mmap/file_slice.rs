//! `FileSlice`: a lazy slice `rows[a:b:c]` of a `DictListFile`.

use memslim_mmap::view::Positions;
use pyo3::prelude::*;
use pyo3::types::{PyList, PySlice};
use std::sync::atomic::AtomicUsize;

use super::dict_list_file::PyDictListFile;
use super::file_view::{FileView, FileViewRef, PyFileViewIter, file_view_methods};
use super::{index_arg, slice_of};

/// A lazy, read-only slice `rows[a:b:c]` of a `DictListFile`: a registered
/// `collections.abc.Sequence` of `FileRow` views of the records it covers, which it
/// reads only when asked. Keeps the file object alive; raises `ValueError` after
/// `close()`.
#[pyclass(name = "FileSlice", module = "memslim._memslim", frozen, sequence)]
pub struct PyFileSlice {
    pub(super) file: Py<PyDictListFile>,
    pub(super) at: Positions,
}

impl FileView for PyFileSlice {
    fn view_len(&self) -> usize {
        self.at.len
    }

    fn plain<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        let owner = self.file.get();
        let mut f = owner.lock()?;
        Ok(PyDictListFile::row(py, &mut *f, &owner.state, self.at.at(k))?.into_any())
    }
}

impl PyFileSlice {
    pub(super) fn row<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        let row = PyDictListFile::row_view(&self.file, py, self.at.at(k))?;
        Ok(Bound::new(py, row)?.into_any())
    }
}

file_view_methods! {
    PyFileSlice, Slice, "FileSlice",

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
                at: slice_of(&self.at, s)?,
            };
            return Ok(Bound::new(py, slice)?.into_any());
        }
        self.row(py, index_arg(index, self.at.len)?)
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
