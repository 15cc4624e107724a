//! What the batch writers (`JsonlWriter`, `ParquetWriter`) and the batch readers share:
//! the core object behind a lock that is never waited for, gone once closed.

use std::sync::{Mutex, MutexGuard};

use memslim_records::RecordList;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::{Class, in_use};
use crate::records::with_core;

/// A core writer or reader (`W`), `None` once closed or finished.
pub(crate) struct Busy<W> {
    inner: Mutex<Option<W>>,
    /// The Python class name, for errors.
    what: &'static str,
}

impl<W> Busy<W> {
    pub(crate) fn new(what: &'static str, w: W) -> Self {
        Busy {
            inner: Mutex::new(Some(w)),
            what,
        }
    }

    /// The lock, or `memslim.ConcurrentUseError` when another thread holds it. Never
    /// waits: a writer busy in another thread holds the lock with the interpreter
    /// detached and needs the interpreter back to finish, so waiting could deadlock.
    pub(crate) fn lock(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, Option<W>>> {
        self.inner.try_lock().map_err(|_| in_use(py, self.what))
    }

    /// The core object, `None` once closed or finished.
    pub(crate) fn into_inner(self) -> Option<W> {
        self.inner.into_inner().ok().flatten()
    }
}

/// The open writer in `guard`, or `memslim.ClosedFileError` naming `path`.
pub(crate) fn open_writer<'a, W>(
    py: Python<'_>,
    guard: &'a mut Option<W>,
    path: &str,
) -> PyResult<&'a mut W> {
    guard
        .as_mut()
        .ok_or_else(|| Class::ClosedFile.err(py, format!("{path}: writer is closed")))
}

/// The core list of a `DictList` batch to write (a copy-on-write clone), or a
/// `TypeError` saying `what` takes one.
pub(crate) fn batch_of(batch: &Bound<'_, PyAny>, what: &str) -> PyResult<RecordList> {
    with_core(batch, RecordList::clone)?
        .ok_or_else(|| PyTypeError::new_err(format!("{what}.write takes a DictList batch")))
}
