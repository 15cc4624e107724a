//! `DictListFile`: a persistent list of records in a record file (`DictList.open`),
//! and its iterator.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow_schema::SchemaRef;
use memslim_mmap::view::Positions;
use memslim_mmap::{FileField, HeldBatch, MmapError, Mode, RecordFile};
use memslim_records::{
    DEFAULT_CHUNK_ROWS, ReadRecords, RecordList, append_records, where_positions,
};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList, PySlice, PyString, PyTuple};

use super::file_record::FileBatch;
use super::file_slice::PyFileSlice;
use super::lock::{Guarded, Held};
use super::{file_cell, parse_mode, seq_eq, slice_of};
use crate::convert::{Items, Trust, record_cells};
use crate::errors::{Class, IntoPyResult, mmap_to_py, schema_error};
use crate::gilcell::GilCell;
use crate::plain_records::{Input, append_plain_dicts};
use crate::records::{PyColumn, PyRow, SpareRows, new_dict_list};
use crate::sequence::position;
use crate::tracemalloc::Tracked;

/// A persistent list of records in a memory-mapped Arrow IPC file.
#[pyclass(name = "DictListFile", module = "memslim._memslim", frozen, sequence)]
pub struct PyDictListFile {
    inner: Guarded<RecordFile>,
    /// What readers of its committed batches need without the lock.
    pub(crate) state: Arc<FileState>,
    /// The bytes this object holds in memory (mostly pending records), for tracemalloc.
    trace: Mutex<Tracked>,
    /// The batch `[i]` read last, for the next `[i]` of the same batch.
    last_batch: Mutex<Option<Arc<FileBatch>>>,
}

/// What a record file's readers need without its lock.
pub(crate) struct FileState {
    /// The data file's path (for messages).
    pub(crate) path: PathBuf,
    /// Whether pickled values in the file may be loaded (`trusted=True` at open).
    pub(crate) trust: Trust,
    /// Set once `close()` ran.
    closed: AtomicBool,
    /// The field names of the schema read last, interned: a random `[i]` lands in a
    /// new batch each time, and its names are those of the batch before it.
    names: Mutex<Option<(SchemaRef, Names)>>,
}

/// A batch's field names as interned strings, in column order.
pub(crate) type Names = Arc<[Py<PyString>]>;

impl FileState {
    /// The interned field names of `schema`, made once per schema.
    pub(crate) fn names(&self, py: Python<'_>, schema: &SchemaRef) -> Names {
        let mut last = self.names.lock().unwrap_or_else(|e| e.into_inner());
        match &*last {
            Some((s, names)) if Arc::ptr_eq(s, schema) => Arc::clone(names),
            _ => {
                let names: Names = schema
                    .fields()
                    .iter()
                    .map(|f| PyString::intern(py, f.name()).unbind())
                    .collect();
                *last = Some((Arc::clone(schema), Arc::clone(&names)));
                names
            }
        }
    }

    /// Whether `close()` has not run.
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// `ClosedFileError` once `close()` ran.
    pub(crate) fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_open() {
            Ok(())
        } else {
            Err(mmap_to_py(py, MmapError::Closed))
        }
    }
}

impl Drop for PyDictListFile {
    /// Like a Python file object collected while open: flush what is pending and close
    /// (releasing the lock); an error here has no one to go to and is dropped.
    fn drop(&mut self) {
        if let Ok(f) = self.inner.inner.get_mut() {
            let _ = f.close();
        }
    }
}

impl PyDictListFile {
    pub(crate) fn lock(&self) -> PyResult<Held<'_, RecordFile>> {
        Python::attach(|py| self.inner.lock(py))
    }

    /// Every record of the file as it is now, as a slice (what `index` and `count`
    /// search).
    fn whole(slf: &Bound<'_, Self>) -> PyResult<PyFileSlice> {
        slf.get().state.check_open(slf.py())?;
        let len = slf.get().lock()?.len();
        Ok(PyFileSlice {
            file: slf.clone().unbind(),
            at: Positions::all(len),
        })
    }

    /// The records of `src` if it is a record file (`DictList.open`) or a slice of
    /// one, as they are now, copied into a new list of `chunk_rows`-record chunks (as
    /// `where` copies them); `None` for any other object, and for records holding a
    /// pickled value, which the caller reads one by one (a file opened without
    /// `trusted=True` refuses one here, as reading the records would).
    pub(crate) fn records_of(
        src: &Bound<'_, PyAny>,
        chunk_rows: usize,
    ) -> PyResult<Option<RecordList>> {
        let py = src.py();
        let (file, at) = if let Ok(f) = src.cast::<PyDictListFile>() {
            (f.clone().unbind(), None)
        } else if let Ok(s) = src.cast::<PyFileSlice>() {
            (s.get().file.clone_ref(py), Some(s.get().at))
        } else {
            return Ok(None);
        };
        let me = file.get();
        me.state.check_open(py)?;
        let at = match at {
            Some(at) => at,
            None => Positions::all(me.lock()?.len()),
        };
        let positions = (0..at.len).map(|k| at.at(k));
        let list = me.copy_records(py, positions, chunk_rows, "the records of")?;
        // Pickled values (a file from before memslim stored dates and decimals natively,
        // or host objects) are read record by record, as before: each is unpickled and
        // stored as a new value is, natively where it can be, so that
        // `DictList(f).save(path)` rewrites an old file natively. (An untrusted file's
        // copy holds none: `copy_records` refused it.)
        let pickled = me.state.trust == Trust::Own && py.detach(|| list.first_opaque()).is_some();
        Ok((!pickled).then_some(list))
    }

    /// The records at `positions` of the file, in that order, copied under its lock
    /// into a new list of `chunk_rows`-record chunks. A file not opened as trusted
    /// refuses a pickled value among them, naming the record, the field and `what`
    /// records of the file they are.
    fn copy_records(
        &self,
        py: Python<'_>,
        positions: impl ExactSizeIterator<Item = usize>,
        chunk_rows: usize,
        what: &str,
    ) -> PyResult<RecordList> {
        /// Positions listed per call of the copier.
        const RUN: usize = 1 << 16;
        let mut list = RecordList::with_chunk_rows(chunk_rows);
        // The list grows once for every record, not once per run.
        list.expect_rows(positions.len());
        {
            let mut f = self.lock()?;
            let mut positions = positions.peekable();
            let mut rows = Vec::with_capacity(RUN.min(positions.len()));
            while positions.peek().is_some() {
                rows.clear();
                rows.extend(positions.by_ref().take(RUN));
                append_records(&mut list, &mut *f, &rows).map_err(|e| mmap_to_py(py, e))?;
            }
        }
        if self.state.trust == Trust::Foreign {
            let what = format!("{what} record file {}", self.state.path.display());
            crate::convert::refuse_pickled(py, &list, &what)?;
        }
        Ok(list)
    }

    /// Reports the current in-memory size to tracemalloc (call without the lock held).
    fn retrack(&self) {
        let Ok(n) = self.lock().map(|f| f.nbytes()) else {
            return;
        };
        if let Ok(mut t) = self.trace.lock() {
            t.set(n);
        }
    }

    /// A view of record `i` (checked first): one that holds the record's batch if it is
    /// committed.
    pub(super) fn row_view(file: &Py<Self>, py: Python<'_>, i: usize) -> PyResult<Py<PyRow>> {
        let this = file.get();
        let held = {
            let mut f = this.lock()?;
            let held = f.hold(i).py_err(py)?;
            if held.is_none() {
                f.check_row(i).py_err(py)?;
            }
            held
        };
        let row = match held {
            Some(batch) => PyRow::held(this.file_batch(py, batch)?, i),
            None => PyRow::file(file.clone_ref(py), i),
        };
        crate::fast_slots::new_row(py, row)
    }

    /// `batch` for row views: the one `[i]` gave last if it is the same batch.
    fn file_batch(&self, py: Python<'_>, batch: Arc<HeldBatch>) -> PyResult<Arc<FileBatch>> {
        let mut last = self
            .last_batch
            .lock()
            .map_err(|_| Class::ConcurrentUse.err(py, "a previous read of this file panicked"))?;
        match &*last {
            Some(b) if Arc::ptr_eq(&b.batch, &batch) => Ok(Arc::clone(b)),
            _ => {
                let b = Arc::new(FileBatch::new(py, Arc::clone(&self.state), batch));
                *last = Some(Arc::clone(&b));
                Ok(b)
            }
        }
    }

    /// Record `i` of `f` as a plain dict, its values converted as `trust` allows.
    pub(super) fn row<'py, S: ReadRecords<Error = MmapError>>(
        py: Python<'py>,
        f: &mut S,
        state: &FileState,
        i: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        Self::visit_record(py, f, state, i, |k, v| {
            d.set_item(PyString::intern(py, k), v)?;
            Ok(true)
        })?;
        Ok(d)
    }

    /// Calls `f(key, value)` for each key of record `i` in its order, the value
    /// converted as this file's trust allows, until `f` returns `Ok(false)` or an error.
    fn visit_record<'py, S: ReadRecords<Error = MmapError>>(
        py: Python<'py>,
        f: &mut S,
        state: &FileState,
        i: usize,
        mut each: impl FnMut(&str, Bound<'py, PyAny>) -> PyResult<bool>,
    ) -> PyResult<()> {
        let mut err = None;
        let mut done = false;
        f.visit_record(i, &mut |k, v| {
            if done || err.is_some() {
                return;
            }
            match file_cell(py, v, state.trust, &state.path, k).and_then(|o| each(k, o)) {
                Ok(more) => done = !more,
                Err(e) => err = Some(e),
            }
        })
        .py_err(py)?;
        err.map_or(Ok(()), Err)
    }
}

#[pymethods]
impl PyDictListFile {
    #[new]
    #[pyo3(signature = (path, mode = "a", *, recover = false, trusted = false))]
    pub(crate) fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        mode: &str,
        recover: bool,
        trusted: bool,
    ) -> PyResult<Self> {
        let mode = parse_mode(py, mode)?;
        if recover && mode == Mode::Read {
            return Err(Class::InvalidValue
                .err(py, "recover=True repairs the file, so it needs mode=\"a\""));
        }
        let f = py
            .detach(|| match recover {
                true => RecordFile::recover(&path),
                false => RecordFile::open(&path, mode),
            })
            .py_err(py)?;
        let damage = match (mode, &f.recovery().damage) {
            (Mode::Read, Some(d)) => Some(format!(
                "{d}; opened the records before the damage ({} records), leaving out \
                 {} bytes of data (see .recovered; repair with recover=True)",
                f.len(),
                f.recovery().dropped_data_bytes
            )),
            _ => None,
        };
        let file = PyDictListFile {
            state: Arc::new(FileState {
                path: f.path().to_owned(),
                trust: if trusted { Trust::Own } else { Trust::Foreign },
                closed: AtomicBool::new(false),
                names: Mutex::new(None),
            }),
            inner: Guarded::new(f),
            trace: Mutex::new(Tracked::new()),
            last_batch: Mutex::new(None),
        };
        file.retrack();
        if let Some(msg) = damage {
            let cls = Class::DamagedFileWarning.get(py)?;
            let msg = std::ffi::CString::new(msg.replace('\0', " "))
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            PyErr::warn(py, cls.as_any(), &msg, 1)?;
        }
        Ok(file)
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.lock()?.len())
    }

    fn __getitem__(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let len = || -> PyResult<usize> { Ok(slf.get().lock()?.len()) };
        if let Ok(s) = index.cast::<PySlice>() {
            let slice = PyFileSlice {
                file: slf.clone().unbind(),
                at: slice_of(s, || len().map(Positions::all))?,
            };
            return Ok(Bound::new(py, slice)?.into_any().unbind());
        }
        let row = Self::row_view(slf.as_unbound(), py, position(index, len, "DictListFile")?)?;
        Ok(row.into_any())
    }

    /// Every record as a plain dict, in a list.
    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut i = 0;
        loop {
            let d = {
                let mut f = self.lock()?;
                if i >= f.len() {
                    break;
                }
                Self::row(py, &mut *f, &self.state, i)?
            };
            out.append(d)?;
            i += 1;
        }
        Ok(out)
    }

    fn __iter__(slf: Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        crate::fast_slots::new_iter(py, PyDictListFileIter::new(slf.unbind(), None))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let len = self.lock()?.len();
        seq_eq(py, len, other, |i| {
            let mut f = self.lock()?;
            if i >= f.len() {
                return Ok(None);
            }
            Ok(Some(Self::row(py, &mut *f, &self.state, i)?.into_any()))
        })
    }

    /// Position of the first record in `[start, stop)` equal to `value` (a dict, or a
    /// row), as `list.index` finds it.
    #[pyo3(
        signature = (value, start = crate::sequence::SliceIndex(0), stop = crate::sequence::SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    fn index(
        slf: &Bound<'_, Self>,
        value: &Bound<'_, PyAny>,
        start: crate::sequence::SliceIndex,
        stop: crate::sequence::SliceIndex,
    ) -> PyResult<usize> {
        let (start, stop) = (start.0, stop.0);
        Self::whole(slf)?
            .find(value, start, stop, true)?
            .0
            .ok_or_else(|| PyValueError::new_err("value is not in DictListFile"))
    }

    /// Number of records equal to `value`, as `list.count` counts them.
    fn count(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        Ok(Self::whole(slf)?.find(value, 0, isize::MAX, false)?.1)
    }

    /// The records whose `field` compares to `value` with `op` (as `DictList.where`
    /// selects them), read into a new `DictList`: the file is not changed, and records
    /// appended later are not in it. The core compares what it can, reading only the
    /// field's column; values only Python can compare are compared with no lock held.
    #[pyo3(name = "where")]
    fn where_(
        slf: &Bound<'_, Self>,
        field: &str,
        op: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let me = slf.get();
        me.state.check_open(py)?;
        let op = crate::select::parse_op(py, op)?;
        let probe = crate::select::probe(value);
        let (mut hits, undecided) = {
            let mut f = me.lock()?;
            let len = f.len();
            where_positions(&mut FileField::new(&mut f, field, len), op, probe.as_ref())
        }
        .map_err(|e| mmap_to_py(py, e))?;
        let (trust, path) = (me.state.trust, &me.state.path);
        for &i in &undecided {
            let v = me
                .lock()?
                .with_field(i, field, |c| file_cell(py, c, trust, path, field))
                .map_err(|e| mmap_to_py(py, e))??;
            if crate::select::py_compare(&v, value, op)? {
                hits.push(i);
            }
        }
        hits.sort_unstable();
        let what = "the records selected from";
        let list = me.copy_records(py, hits.into_iter(), DEFAULT_CHUNK_ROWS, what)?;
        new_dict_list(py, list)
    }

    /// Field names: the committed schema's, then any new ones pending records bring.
    #[getter]
    fn columns(&self) -> PyResult<Vec<String>> {
        Ok(self.lock()?.field_names())
    }

    /// The path of the data file.
    #[getter]
    fn path(&self) -> PyResult<String> {
        Ok(self.lock()?.path().display().to_string())
    }

    /// `"a"` or `"r"`.
    #[getter]
    fn mode(&self) -> PyResult<&'static str> {
        Ok(if self.lock()?.is_writable() { "a" } else { "r" })
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(self.lock()?.is_closed())
    }

    /// Records appended but not yet flushed.
    #[getter]
    fn pending(&self) -> PyResult<usize> {
        Ok(self.lock()?.pending_len())
    }

    /// What opening found and did: bytes past what the file gives, dropped (by a
    /// writer) or left out (by a reader); the damage found, if more than a crash's
    /// trace; the side files a repair saved the dropped bytes to.
    #[getter]
    fn recovered<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = self.lock()?;
        let r = f.recovery();
        let d = PyDict::new(py);
        d.set_item("dropped_data_bytes", r.dropped_data_bytes)?;
        d.set_item("dropped_index_bytes", r.dropped_index_bytes)?;
        d.set_item("damage", r.damage.as_deref())?;
        let saved: Vec<String> = r.saved.iter().map(|p| p.display().to_string()).collect();
        d.set_item("saved", saved)?;
        Ok(d)
    }

    /// Bytes this object holds in memory (index, bookkeeping, unflushed records); the
    /// mapped file is not counted (see `mapped_bytes`).
    #[getter]
    fn nbytes(&self) -> PyResult<usize> {
        Ok(self.lock()?.nbytes())
    }

    /// Bytes of committed data, mapped (paged in by the kernel only when read).
    #[getter]
    fn mapped_bytes(&self) -> PyResult<usize> {
        Ok(self.lock()?.mapped_bytes())
    }

    fn __sizeof__(&self) -> PyResult<usize> {
        Ok(self.lock()?.nbytes())
    }

    fn append(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let row = self.lock()?.len();
        // Python code (a mapping's keys/items) runs before the lock is taken.
        let items = record_items(record, row)?;
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, row)?;
        self.lock()?.push_record(&cells).py_err(py)?;
        self.retrack();
        Ok(())
    }

    /// Appends every record, or none: the pending records are rolled back on an error.
    fn extend(slf: &Bound<'_, Self>, records: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        // `rows.extend(rows)` appends the records there were, as a list does.
        let snapshot;
        let records = if records.is(slf) {
            snapshot = PyList::new(py, records.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
            snapshot.as_any()
        } else {
            records
        };
        let this = slf.get();
        let (mark, base) = {
            let mut f = this.lock()?;
            let base = f.len();
            (f.mark_pending().py_err(py)?, base)
        };
        // Python code (the iterator, a mapping's methods) runs between this call's
        // writes and may append to the file itself: its records are not this call's to
        // drop, and among them this call's are not told apart. So the length after each
        // write of the call is kept; a file found longer at the next one (or at an
        // error) was appended to by others, and a failed call then keeps its records, as
        // `list.extend` keeps the items it took before an error.
        let ours = std::cell::Cell::new(base);
        let others = std::cell::Cell::new(false);
        let note = |f: &RecordFile| others.set(others.get() || f.len() != ours.get());
        let push_one = |o: &Bound<'_, PyAny>, row: usize| -> PyResult<()> {
            let items = record_items(o, row)?;
            let mut buf = Vec::new();
            let cells = record_cells(&items, &mut buf, row)?;
            let mut f = this.lock()?;
            note(&f);
            let pushed = f.push_record(&cells).py_err(py);
            ours.set(f.len());
            pushed
        };
        let res = (|| -> PyResult<()> {
            if records.is_exact_instance_of::<PyList>() || records.is_exact_instance_of::<PyTuple>()
            {
                // Plain dicts are read in place, in runs, as DictList's extend does; the
                // others one by one.
                let mut k = 0;
                while k < records.len()? {
                    let n = {
                        let mut f = this.lock()?;
                        note(&f);
                        let pending = f.pending_mut().py_err(py)?;
                        let n = append_plain_dicts(
                            pending,
                            &[],
                            &Input::Seq {
                                seq: records,
                                start: k,
                            },
                        );
                        ours.set(f.len());
                        n.py_err(py)?
                    };
                    k += n;
                    if n == 0 {
                        push_one(&records.get_item(k)?, base + k)?;
                        k += 1;
                    }
                }
                return Ok(());
            }
            // The iterator runs without the lock (it may read this very file).
            for (k, o) in records.try_iter()?.enumerate() {
                push_one(&o?, base + k)?;
            }
            Ok(())
        })();
        if res.is_err() {
            let mut f = this.lock()?;
            note(&f);
            // Unless another thread flushed meanwhile, undo this call's records.
            if !others.get() {
                f.undo_pending(mark);
            }
        }
        this.retrack();
        res
    }

    /// Writes the pending records, syncs them and commits them; returns how many.
    fn flush(&self, py: Python<'_>) -> PyResult<usize> {
        let n = self.inner.detached(py, |f| f.flush())?.py_err(py);
        self.retrack();
        n
    }

    /// Picks up records another process committed; returns the new length.
    fn refresh(&self, py: Python<'_>) -> PyResult<usize> {
        self.lock()?.refresh().py_err(py)
    }

    /// Flushes (when writable) and closes; the writer lock is released.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let r = self.inner.detached(py, |f| f.close())?.py_err(py);
        self.state.closed.store(true, Ordering::Release);
        if let Ok(mut last) = self.last_batch.lock() {
            *last = None;
        }
        self.retrack();
        r
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// A lazy, read-only view of one field of the records there are now (pending ones
    /// included); absent and null read `None`, as from `DictList.column`.
    fn column(slf: &Bound<'_, Self>, name: &str) -> PyResult<PyColumn> {
        let f = slf.get().lock()?;
        if f.is_closed() {
            return Err(mmap_to_py(slf.py(), MmapError::Closed));
        }
        if !f.field_names().iter().any(|n| n == name) {
            return Err(pyo3::exceptions::PyKeyError::new_err(name.to_owned()));
        }
        Ok(PyColumn::file(
            slf.clone().unbind(),
            name.to_owned(),
            f.len(),
            f.path().to_owned(),
        ))
    }

    /// Every record, for Arrow consumers: committed batches point into the map.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let (schema, batches) = self.lock()?.to_arrow().py_err(py)?;
        crate::arrow_stream::export_stream(py, schema, batches)
    }

    fn __repr__(&self) -> PyResult<String> {
        let f = self.lock()?;
        Ok(format!(
            "DictListFile({:?}, mode={:?}, len={}{})",
            f.path().display().to_string(),
            if f.is_writable() { "a" } else { "r" },
            f.len(),
            if f.is_closed() { ", closed" } else { "" }
        ))
    }
}

fn record_items<'py>(o: &Bound<'py, PyAny>, row: usize) -> PyResult<Items<'py>> {
    let py = o.py();
    let d = match o.cast::<PyDict>() {
        Ok(d) => d.clone(),
        Err(_) if o.hasattr(intern!(py, "keys"))? => {
            let d = PyDict::new(py);
            d.update(o.cast()?)?;
            d
        }
        Err(_) => {
            return Err(schema_error(
                py,
                format!(
                    "row {row}: expected a mapping, got {}",
                    o.get_type().name()?
                ),
            ));
        }
    };
    Ok(d.iter().collect())
}

/// Iterator over a `DictListFile` or a `FileSlice` of it: a `Row` view per record.
#[pyclass(
    name = "_DictListFileIterBase",
    module = "memslim._memslim",
    frozen,
    subclass
)]
pub struct PyDictListFileIter {
    file: Py<PyDictListFile>,
    /// The slice's records; `None`: the whole file, records appended while iterating
    /// included (as a list's iterator sees them).
    slice: Option<Positions>,
    /// Behind the interpreter lock's own cell: cheaper than PyO3's borrow of `&mut self`.
    state: GilCell<FileIterState>,
}

impl PyDictListFileIter {
    pub(super) fn new(file: Py<PyDictListFile>, slice: Option<Positions>) -> Self {
        PyDictListFileIter {
            file,
            slice,
            state: GilCell::new(FileIterState {
                pos: 0,
                spare: SpareRows::default(),
                batch: None,
            }),
        }
    }
}

struct FileIterState {
    pos: usize,
    spare: SpareRows,
    /// The committed batch holding the records being handed out (checked when first
    /// taken): their views read it without the file's lock.
    batch: Option<Arc<FileBatch>>,
}

impl PyDictListFileIter {
    /// The record at iteration position `pos`; `None` past the end of a slice (the
    /// whole file's end is checked against its length, which appends move).
    #[inline]
    fn record_at(&self, pos: usize) -> Option<usize> {
        match self.slice {
            Some(at) if pos >= at.len => None,
            Some(at) => Some(at.at(pos)),
            None => Some(pos),
        }
    }

    /// `__next__` when it makes nothing: the next record is in the batch the last one
    /// came from, and the view handed out two steps back is re-pointed. `None` when
    /// that cannot be (the end, a new batch, a view to make, a closed file): then
    /// `__next__` does the step. Raises nothing and drops no owned reference (see
    /// `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let mut s = self.state.borrow_mut(py).ok()?;
        let s = &mut *s;
        let i = self.record_at(s.pos)?;
        let batch = s.batch.as_ref().filter(|b| b.batch.contains(i))?;
        if !self.file.get().state.is_open() {
            return None;
        }
        let row = s.spare.reuse(py, i, |r| r.reads_from(Some(batch)))?;
        s.pos += 1;
        Some(row)
    }
}

#[pymethods]
impl PyDictListFileIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let file = self.file.get();
        let mut s = self.state.borrow_mut(py)?;
        let s = &mut *s;
        // Ended for good, as a list's iterator, whatever is appended after.
        let Some(i) = self.record_at(s.pos) else {
            s.pos = usize::MAX;
            return Ok(None);
        };
        if s.batch.as_ref().is_some_and(|b| b.batch.contains(i)) {
            file.state.check_open(py)?;
        } else {
            let mut f = file.inner.lock(py)?;
            if i >= f.len() {
                s.pos = usize::MAX;
                return Ok(None);
            }
            // `None`: a pending record (`i` is below the length).
            let held = f.hold(i).py_err(py)?;
            drop(f);
            let state = &file.state;
            s.batch = held.map(|batch| Arc::new(FileBatch::new(py, Arc::clone(state), batch)));
        }
        s.pos += 1;
        let batch = s.batch.as_ref();
        let make = || match batch {
            Some(b) => PyRow::held(Arc::clone(b), i),
            None => PyRow::file(self.file.clone_ref(py), i),
        };
        s.spare.next(py, i, |r| r.reads_from(batch), make).map(Some)
    }

    /// Records left, as a list's iterator counts them (0 once ended, or the file
    /// closed).
    fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let pos = self.state.borrow(py)?.pos;
        let len = match self.slice {
            Some(at) => at.len,
            None => self.file.get().inner.lock(py).map_or(0, |f| f.len()),
        };
        Ok(len.saturating_sub(pos))
    }
}
