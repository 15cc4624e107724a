//! A record file's record as a `Row` holds it: through the file's lock, or from the
//! committed batch that holds it, read without the lock.

use std::sync::Arc;

use memslim_mmap::HeldBatch;
use memslim_records::{CellRef, ReadRecords};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::dict_list_file::{FileState, Names};
use super::{PyDictListFile, untrusted_in};
use crate::convert::cell_to_py_from;
use crate::errors::IntoPyResult;

/// Where a row view reads a record file's record.
pub(crate) enum FileRecord {
    /// Through the file's lock: a pending record, or one of a slice.
    Locked(Py<PyDictListFile>),
    /// A committed record, from the batch that holds it (shared with the iterator or
    /// the `[i]` that made the view).
    Held(Arc<FileBatch>),
}

/// A committed batch of a record file, held for row views.
pub(crate) struct FileBatch {
    state: Arc<FileState>,
    pub(crate) batch: Arc<HeldBatch>,
    /// The batch's field names as interned strings, in column order: a key that is one
    /// of them (a literal `row["price"]` is) finds its column by identity.
    names: Names,
}

impl FileBatch {
    pub(crate) fn new(py: Python<'_>, state: Arc<FileState>, batch: Arc<HeldBatch>) -> Self {
        let names = state.names(py, batch.schema());
        FileBatch {
            state,
            batch,
            names,
        }
    }

    /// Field `key` of record `i` for the common case only: the key is one of the
    /// batch's interned names (a literal `row["price"]` is) and the value is stored and
    /// not a container (nor a pickled object). `None` for anything else, which
    /// [`FileRecord::value`] answers. Raises nothing and drops no owned reference (see
    /// `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_value<'py>(
        &self,
        py: Python<'py>,
        i: usize,
        key: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyAny>> {
        if !self.state.is_open() {
            return None;
        }
        let p = key.as_ptr();
        let c = self.names.iter().position(|n| n.as_ptr() == p)?;
        let trust = self.state.trust;
        self.batch
            .with_column(i, c, |v| match v {
                CellRef::Absent | CellRef::Encoded(_) => None,
                v => cell_to_py_from(py, v, trust).ok(),
            })
            .ok()
            .flatten()
    }

    /// The column of field `key` in the batch (past its fields for a name it lacks).
    fn column_of(&self, key: &Bound<'_, PyString>) -> PyResult<usize> {
        let p = key.as_ptr();
        if let Some(c) = self.names.iter().position(|n| n.as_ptr() == p) {
            return Ok(c);
        }
        let key = key.to_str()?;
        Ok(self
            .batch
            .field_names()
            .position(|n| n == key)
            .unwrap_or(self.names.len()))
    }
}

/// Runs `$body` with `$state` bound to the file's [`FileState`] and `$r` to records
/// that hold `$rec`'s record: its held batch (once the file is known open), else the
/// locked file.
macro_rules! with_records {
    ($rec:expr, $py:expr, |$state:ident, $r:ident| $body:expr) => {
        match $rec {
            FileRecord::Held(h) => {
                let $state = &*h.state;
                $state.check_open($py)?;
                let $r = &mut &*h.batch;
                $body
            }
            FileRecord::Locked(file) => {
                let file = file.get();
                let $state = &*file.state;
                let mut guard = file.lock()?;
                let $r = &mut *guard;
                $body
            }
        }
    };
}

impl FileRecord {
    /// Record `i` as a plain dict (for `Row.to_dict` and its kin).
    pub(crate) fn dict<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyDict>> {
        with_records!(self, py, |state, r| PyDictListFile::row(py, r, state, i))
    }

    /// The keys of record `i`, in its order.
    pub(crate) fn keys<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyList>> {
        let keys = with_records!(self, py, |_state, r| r.record_keys(i).py_err(py))?;
        PyList::new(py, keys.iter().map(|k| PyString::intern(py, k)))
    }

    /// Number of keys of record `i`.
    pub(crate) fn len(&self, py: Python<'_>, i: usize) -> PyResult<usize> {
        with_records!(self, py, |_state, r| r.record_len(i).py_err(py))
    }

    /// Field `key` of record `i`, `None` when the record lacks it.
    pub(crate) fn value<'py>(
        &self,
        py: Python<'py>,
        i: usize,
        key: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let convert = |trust, v: CellRef<'_>| match v {
            CellRef::Absent => Ok(None),
            v => cell_to_py_from(py, v, trust).map(Some),
        };
        let (state, value) = match self {
            // The column found by the key's identity, without a lookup by name.
            FileRecord::Held(h) => {
                let state = &*h.state;
                state.check_open(py)?;
                let value = h
                    .batch
                    .with_column(i, h.column_of(key)?, |v| convert(state.trust, v));
                (state, value)
            }
            FileRecord::Locked(file) => {
                let file = file.get();
                let state = &*file.state;
                let value = file
                    .lock()?
                    .with_field(i, key.to_str()?, |v| convert(state.trust, v));
                (state, value)
            }
        };
        // The path goes into the message only when a pickled value is refused.
        value
            .py_err(py)?
            .map_err(|e| untrusted_in(py, e, &state.path, &key.to_string_lossy()))
    }
}
