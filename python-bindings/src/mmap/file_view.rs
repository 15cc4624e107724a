//! The `Sequence` methods of a record file's lazy slice (`FileSlice`, through the
//! [`file_view_methods`] macro) and its iterator.

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::file_slice::PyFileSlice;
use super::seq_eq;

/// A read-only view of some records of a file: the `Sequence` methods.
pub(super) trait FileView {
    /// How many items the view has.
    fn view_len(&self) -> usize;
    /// Item `k` as a plain value (what `==`, `in`, `count`, `index` and `to_list` use).
    fn plain<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>>;

    fn to_plain_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for k in 0..self.view_len() {
            out.append(self.plain(py, k)?)?;
        }
        Ok(out)
    }

    fn view_eq(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let n = self.view_len();
        seq_eq(py, n, other, |k| self.plain(py, k).map(Some))
    }

    /// The first position in `start..stop` holding `value` (`is` or `==`), and how many
    /// do (counting stops at the first when `first_only`).
    fn find(
        &self,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
        first_only: bool,
    ) -> PyResult<(Option<usize>, usize)> {
        memslim_mmap::view::find(self.view_len(), start, stop, first_only, |k| {
            let v = self.plain(value.py(), k)?;
            Ok(v.is(value) || v.eq(value)?)
        })
    }

    fn view_index(
        &self,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
        what: &str,
    ) -> PyResult<usize> {
        self.find(value, start, stop, true)?
            .0
            .ok_or_else(|| PyValueError::new_err(format!("value is not in {what}")))
    }
}

/// The `#[pymethods]` of a file view (`$ty`, iterated as `FileViewRef::$variant`,
/// named `$what` in errors): the `Sequence` methods both kinds share, then `$extra`.
macro_rules! file_view_methods {
    ($ty:ident, $variant:ident, $what:literal, $($extra:tt)*) => {
        #[pymethods]
        impl $ty {
            fn __iter__(slf: Bound<'_, Self>) -> PyFileViewIter {
                PyFileViewIter {
                    view: FileViewRef::$variant(slf.unbind()),
                    pos: AtomicUsize::new(0),
                }
            }

            /// The items as plain values (records as dicts), in a list.
            fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.to_plain_list(py)
            }

            fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.view_eq(py, other)
            }

            fn __ne__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                crate::convert::negated(py, self.view_eq(py, other)?)
            }

            fn __contains__(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
                Ok(self.find(value, 0, isize::MAX, true)?.0.is_some())
            }

            #[pyo3(signature = (value, start = 0, stop = isize::MAX))]
            fn index(&self, value: &Bound<'_, PyAny>, start: isize, stop: isize) -> PyResult<usize> {
                self.view_index(value, start, stop, $what)
            }

            fn count(&self, value: &Bound<'_, PyAny>) -> PyResult<usize> {
                Ok(self.find(value, 0, isize::MAX, false)?.1)
            }

            $($extra)*
        }
    };
}
pub(super) use file_view_methods;

/// The view a [`PyFileViewIter`] walks.
pub(super) enum FileViewRef {
    Slice(Py<PyFileSlice>),
}

/// Iterator over a `FileSlice` (`Row` views).
#[pyclass(name = "_FileViewIter", module = "memslim._memslim", frozen)]
pub struct PyFileViewIter {
    pub(super) view: FileViewRef,
    pub(super) pos: AtomicUsize,
}

#[pymethods]
impl PyFileViewIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let k = self.pos.load(Ordering::Relaxed);
        let item = match &self.view {
            FileViewRef::Slice(s) if k < s.get().at.len => s.get().row(py, k)?,
            _ => return Ok(None),
        };
        self.pos.store(k + 1, Ordering::Relaxed);
        Ok(Some(item))
    }
}
