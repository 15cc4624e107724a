//! Bindings for `memslim-mmap`: `DictListFile` (what `DictList.open` returns),
//! `DictList.save`, and `MmapList`.

use std::ffi::{CStr, c_int};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatchReader};
use arrow_schema::DataType;
use memslim_mmap::{MmapError, Mode, Num, NumArray, NumType, RecordFile};
use memslim_records::{CellRef, DType, OwnedNumbers, Sum, sum_arrow};

use crate::tracemalloc::Tracked;
use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBool, PyCapsule, PyDict, PyFloat, PyList, PySlice, PyString};
use pyo3::{IntoPyObjectExt, ffi, intern};

use crate::convert::{Items, Trust, cell_to_py_from, record_cells, value_to_py_from};
use crate::errors::{Class, IntoPyResult, mmap_to_py, schema_error};
use crate::mmap_ffi::{self, Export};
use crate::plain_records::{Input, append_plain_dicts};
use crate::records::is_exact_sequence;

/// A mutex that knows which thread holds it: waiting for another thread detaches from
/// the interpreter (so a holder running Python code cannot deadlock with us), and a
/// re-entrant call from the holding thread (Python code run while the lock is held, e.g.
/// unpickling a stored object whose class reads the same file) is a clear error instead
/// of a hang.
pub struct Guarded<T> {
    inner: Mutex<T>,
    owner: AtomicUsize,
}

thread_local! {
    static THREAD_MARK: u8 = const { 0 };
}

fn thread_mark() -> usize {
    THREAD_MARK.with(|m| std::ptr::from_ref(m) as usize)
}

/// The lock of a [`Guarded`]; forgets its owner when dropped.
pub struct Held<'a, T> {
    guard: MutexGuard<'a, T>,
    owner: &'a AtomicUsize,
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Held<'_, T> {
    fn drop(&mut self) {
        self.owner.store(0, Ordering::Release);
    }
}

impl<T> Guarded<T> {
    fn new(value: T) -> Self {
        Guarded {
            inner: Mutex::new(value),
            owner: AtomicUsize::new(0),
        }
    }

    fn lock(&self, py: Python<'_>) -> PyResult<Held<'_, T>> {
        let poisoned =
            |_| Class::ConcurrentUse.err(py, "a previous operation on this object panicked");
        let guard = match self.inner.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(_)) => return Err(poisoned(())),
            Err(std::sync::TryLockError::WouldBlock) => {
                if self.owner.load(Ordering::Acquire) == thread_mark() {
                    return Err(Class::ConcurrentUse.err(
                        py,
                        "re-entrant use: this object is already in use by the current call",
                    ));
                }
                self.inner.lock_py_attached(py).map_err(|_| poisoned(()))?
            }
        };
        self.owner.store(thread_mark(), Ordering::Release);
        Ok(Held {
            guard,
            owner: &self.owner,
        })
    }

    /// Runs `f` on the value with the interpreter detached (for I/O).
    fn detached<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut T) -> R + Send) -> PyResult<R>
    where
        T: Send,
    {
        self.lock(py).map(drop)?;
        py.detach(|| self.inner.lock().map(|mut v| f(&mut v)).map_err(|_| ()))
            .map_err(|()| {
                Class::ConcurrentUse.err(py, "a previous operation on this object panicked")
            })
    }
}

fn parse_mode(py: Python<'_>, mode: &str) -> PyResult<Mode> {
    match mode {
        "r" => Ok(Mode::Read),
        "a" => Ok(Mode::Append),
        other => Err(Class::InvalidValue.err(py, format!(
            "mode must be \"a\" (read and append, create if missing) or \"r\" (read-only), not {other:?}"
        ))),
    }
}

fn norm_index(i: isize, len: usize) -> PyResult<usize> {
    let j = if i < 0 { i + len as isize } else { i };
    if j < 0 || j as usize >= len {
        return Err(PyIndexError::new_err(format!(
            "index {i} out of range for {len} items"
        )));
    }
    Ok(j as usize)
}

/// A persistent list of records in a memory-mapped Arrow IPC file.
#[pyclass(name = "DictListFile", module = "memslim._memslim", frozen, sequence)]
pub struct PyDictListFile {
    inner: Guarded<RecordFile>,
    /// Whether pickled values in the file may be loaded (`trusted=True` at open).
    trust: Trust,
    /// The bytes this object holds in memory (mostly pending records), for tracemalloc.
    trace: Mutex<Tracked>,
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
    fn lock(&self) -> PyResult<Held<'_, RecordFile>> {
        Python::attach(|py| self.inner.lock(py))
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

    fn row<'py>(
        py: Python<'py>,
        f: &mut RecordFile,
        trust: Trust,
        i: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let mut err = None;
        let path = f.path().to_owned();
        f.visit_row(i, |k, v| {
            if err.is_some() {
                return;
            }
            let r = file_cell(py, v, trust, &path, k)
                .and_then(|o| d.set_item(PyString::intern(py, k), o));
            if let Err(e) = r {
                err = Some(e);
            }
        })
        .py_err(py)?;
        match err {
            Some(e) => Err(e),
            None => Ok(d),
        }
    }
}

/// A value read from a record file: a pickled value is loaded only from a file opened
/// with `trusted=True`, and the error names the field and the file.
fn file_cell<'py>(
    py: Python<'py>,
    c: CellRef<'_>,
    trust: Trust,
    path: &std::path::Path,
    field: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell_to_py_from(py, c, trust).map_err(|e| untrusted_in(py, e, path, field))
}

/// `e`, or for a refused pickled value the same refusal naming `field` and `path`.
fn untrusted_in(py: Python<'_>, e: PyErr, path: &std::path::Path, field: &str) -> PyErr {
    if !crate::errors::is_untrusted(py, &e) {
        return e;
    }
    crate::errors::untrusted(
        py,
        crate::convert::untrusted_message(&format!(
            "field {field:?} of record file {}",
            path.display()
        )),
    )
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
            inner: Guarded::new(f),
            trust: if trusted { Trust::Own } else { Trust::Foreign },
            trace: Mutex::new(Tracked::new()),
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
        let mut f = slf.get().lock()?;
        let len = f.len();
        if let Ok(s) = index.cast::<PySlice>() {
            drop(f);
            let whole = Positions {
                start: 0,
                step: 1,
                len,
            };
            let slice = PyFileSlice {
                file: slf.clone().unbind(),
                at: whole.slice(s)?,
            };
            return Ok(Bound::new(py, slice)?.into_any().unbind());
        }
        let i = index_arg(index, len)?;
        f.check_row(i).py_err(py)?;
        drop(f);
        let file = slf.clone().unbind();
        Ok(Bound::new(py, PyFileRow { file, row: i })?
            .into_any()
            .unbind())
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
                Self::row(py, &mut f, self.trust, i)?
            };
            out.append(d)?;
            i += 1;
        }
        Ok(out)
    }

    fn __iter__(slf: Bound<'_, Self>) -> PyDictListFileIter {
        PyDictListFileIter {
            file: slf.unbind(),
            pos: AtomicUsize::new(0),
        }
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let len = self.lock()?.len();
        seq_eq(py, len, other, |i| {
            let mut f = self.lock()?;
            if i >= f.len() {
                return Ok(None);
            }
            Ok(Some(Self::row(py, &mut f, self.trust, i)?.into_any()))
        })
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
        let (cp, base, committed) = {
            let mut f = this.lock()?;
            let committed = f.committed_len();
            let base = f.len();
            (f.pending_mut().py_err(py)?.checkpoint(), base, committed)
        };
        let push_one = |o: &Bound<'_, PyAny>, row: usize| -> PyResult<()> {
            let items = record_items(o, row)?;
            let mut buf = Vec::new();
            let cells = record_cells(&items, &mut buf, row)?;
            this.lock()?.push_record(&cells).py_err(py)
        };
        let res = (|| -> PyResult<()> {
            if is_exact_sequence(records) {
                // Plain dicts are read in place, in runs, as DictList's extend does; the
                // others one by one.
                let mut k = 0;
                while k < records.len()? {
                    let n = {
                        let mut f = this.lock()?;
                        let pending = f.pending_mut().py_err(py)?;
                        append_plain_dicts(
                            pending,
                            &[],
                            &Input::Seq {
                                seq: records,
                                start: k,
                            },
                        )
                        .py_err(py)?
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
            // Unless another thread flushed meanwhile, undo this call's records.
            if f.committed_len() == committed {
                if let Ok(list) = f.pending_mut() {
                    list.rollback(cp);
                }
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
    fn column(slf: &Bound<'_, Self>, name: &str) -> PyResult<PyFileColumn> {
        let f = slf.get().lock()?;
        if f.is_closed() {
            return Err(mmap_to_py(slf.py(), MmapError::Closed));
        }
        if !f.field_names().iter().any(|n| n == name) {
            return Err(pyo3::exceptions::PyKeyError::new_err(name.to_owned()));
        }
        Ok(PyFileColumn {
            file: slf.clone().unbind(),
            name: name.to_owned(),
            len: f.len(),
            numbers: OnceLock::new(),
        })
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

/// A read-only, dict-like view of one record of a `DictListFile`: a registered
/// `collections.abc.Mapping` that compares equal to the plain dict. Records of a file
/// never move (it is append-only), so a view always reads its own record; it keeps the
/// file object alive, and reading through it after `close()` raises `ValueError`.
#[pyclass(name = "FileRow", module = "memslim._memslim", mapping, frozen)]
pub struct PyFileRow {
    file: Py<PyDictListFile>,
    row: usize,
}

impl PyFileRow {
    /// Calls `f(key, value)` for each key of the record, in its order; stops at the
    /// first error (from the file, or from `f`).
    fn visit<'py>(
        &self,
        py: Python<'py>,
        mut f: impl FnMut(&str, CellRef<'_>) -> PyResult<bool>,
    ) -> PyResult<()> {
        let mut file = self.file.get().lock()?;
        let mut err = None;
        let mut done = false;
        file.visit_row(self.row, |k, v| {
            if done || err.is_some() {
                return;
            }
            match f(k, v) {
                Ok(more) => done = !more,
                Err(e) => err = Some(e),
            }
        })
        .py_err(py)?;
        err.map_or(Ok(()), Err)
    }

    fn value<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(key) = key.cast::<PyString>() else {
            return Ok(None);
        };
        let key = key.to_str()?;
        let owner = self.file.get();
        let mut file = owner.lock()?;
        let path = file.path().to_owned();
        file.with_field(self.row, key, |v| match v {
            CellRef::Absent => Ok(None),
            v => file_cell(py, v, owner.trust, &path, key).map(Some),
        })
        .py_err(py)?
    }

    fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let owner = self.file.get();
        let mut f = owner.lock()?;
        PyDictListFile::row(py, &mut f, owner.trust, self.row)
    }
}

#[pymethods]
impl PyFileRow {
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.value(py, key)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.clone().unbind()))
    }

    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.value(py, key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(key) = key.cast::<PyString>() else {
            return Ok(false);
        };
        let key = key.to_str()?;
        let mut found = false;
        self.visit(py, |k, _| {
            found = k == key;
            Ok(!found)
        })?;
        Ok(found)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let mut n = 0;
        self.visit(py, |_, _| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = PyList::empty(py);
        self.visit(py, |k, _| {
            keys.append(PyString::intern(py, k))?;
            Ok(true)
        })?;
        Ok(keys.try_iter()?.into_any())
    }

    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Keys)
    }

    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Values)
    }

    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Items)
    }

    /// The record as a plain dict (a detached copy).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.dict(py)
    }

    /// The record as a plain dict (a detached copy), as `dict.copy` gives.
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.dict(py)
    }

    /// Position of this record in its file.
    #[getter]
    fn index(&self) -> usize {
        self.row
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let mapping = crate::records::MAPPING.import(py, "collections.abc", "Mapping")?;
        if !other.is_instance(mapping)? {
            return Ok(py.NotImplemented());
        }
        let me = self.dict(py)?;
        let other = match other.cast::<PyFileRow>() {
            Ok(r) => r.get().dict(py)?.into_any(),
            Err(_) => other.clone(),
        };
        me.eq(other)?.into_py_any(py)
    }

    fn __ne__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let eq = self.__eq__(py, other)?;
        crate::convert::negated(py, eq)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.dict(py)?.repr()?.to_string())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        // Pickling a view pickles its record as a plain dict.
        let d = self.dict(py)?;
        (py.import("builtins")?.getattr("dict")?, (d,)).into_pyobject(py)
    }
}

/// Iterator over a `DictListFile`: a `FileRow` view per record.
#[pyclass(name = "_DictListFileIter", module = "memslim._memslim", frozen)]
pub struct PyDictListFileIter {
    file: Py<PyDictListFile>,
    pos: AtomicUsize,
}

#[pymethods]
impl PyDictListFileIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let file = self.file.get();
        let mut f = file.lock()?;
        let i = self.pos.load(Ordering::Relaxed);
        if i >= f.len() {
            return Ok(None);
        }
        f.check_row(i).py_err(py)?;
        drop(f);
        self.pos.store(i + 1, Ordering::Relaxed);
        let row = PyFileRow {
            file: self.file.clone_ref(py),
            row: i,
        };
        Ok(Some(Bound::new(py, row)?.into_any().unbind()))
    }
}

/// `DictList.save(path)`: writes the list's records exactly (absent keys, ints among
/// floats, key order), replacing `path` atomically; returns the number of records.
pub(crate) fn save_list(
    py: Python<'_>,
    list: &memslim_records::RecordList,
    path: std::path::PathBuf,
) -> PyResult<usize> {
    memslim_mmap::save_records(&path, list).py_err(py)
}

/// `Stream.to_file(path)`: writes anything exporting `__arrow_c_stream__` as a record
/// file, replacing `path` atomically; returns the number of records.
#[pyfunction]
pub(crate) fn _save_records(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    path: std::path::PathBuf,
) -> PyResult<usize> {
    let reader = crate::arrow_stream::import_stream(data, "save")?;
    let schema = reader.schema();
    memslim_mmap::save_arrow(&path, &schema, reader).py_err(py)
}

/// A growable on-disk array of numbers.
#[pyclass(name = "MmapList", module = "memslim._memslim", frozen, sequence)]
pub struct PyMmapList {
    inner: Guarded<NumArray>,
    exports: AtomicUsize,
}

fn format_of(t: NumType) -> &'static CStr {
    match t {
        NumType::I8 => c"b",
        NumType::I16 => c"h",
        NumType::I32 => c"i",
        NumType::I64 => c"q",
        NumType::U8 => c"B",
        NumType::U16 => c"H",
        NumType::U32 => c"I",
        NumType::U64 => c"Q",
        NumType::F32 => c"f",
        NumType::F64 => c"d",
        NumType::Bool => c"?",
    }
}

fn num_from_py(o: &Bound<'_, PyAny>) -> PyResult<Num> {
    if let Ok(b) = o.cast::<PyBool>() {
        return Ok(Num::Bool(b.is_true()));
    }
    if o.is_instance_of::<PyFloat>() {
        return Ok(Num::Float(o.extract()?));
    }
    if let Ok(v) = o.extract::<i64>() {
        return Ok(Num::Int(v));
    }
    if let Ok(v) = o.extract::<u64>() {
        return Ok(Num::UInt(v));
    }
    if o.hasattr(intern!(o.py(), "__index__"))? {
        return Err(pyo3::exceptions::PyOverflowError::new_err(format!(
            "{} does not fit 64 bits",
            o.repr()?
        )));
    }
    if let Ok(v) = o.extract::<f64>() {
        return Ok(Num::Float(v));
    }
    Err(Class::UnsupportedType.err(
        o.py(),
        format!("MmapList holds numbers, not {}", o.get_type().name()?),
    ))
}

fn num_to_py(py: Python<'_>, n: Num) -> PyResult<Py<PyAny>> {
    match n {
        Num::Int(v) => v.into_py_any(py),
        Num::UInt(v) => v.into_py_any(py),
        Num::Float(v) => v.into_py_any(py),
        Num::Bool(v) => v.into_py_any(py),
    }
}

impl PyMmapList {
    fn lock(&self) -> PyResult<Held<'_, NumArray>> {
        Python::attach(|py| self.inner.lock(py))
    }

    /// Like bytearray: no resizing while a buffer export (a numpy view) is alive.
    fn check_resizable(&self) -> PyResult<()> {
        if self.exports.load(Ordering::SeqCst) > 0 {
            return Err(PyBufferError::new_err(
                "Existing exports of data: object cannot be re-sized",
            ));
        }
        Ok(())
    }
}

#[pymethods]
impl PyMmapList {
    #[new]
    #[pyo3(signature = (path, dtype = None, *, mode = "a"))]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        dtype: Option<&str>,
        mode: &str,
    ) -> PyResult<Self> {
        let writable = parse_mode(py, mode)? == Mode::Append;
        let dtype = dtype.map(NumType::parse).transpose().py_err(py)?;
        let a = py
            .detach(|| NumArray::open(&path, dtype, writable))
            .py_err(py)?;
        Ok(PyMmapList {
            inner: Guarded::new(a),
            exports: AtomicUsize::new(0),
        })
    }

    /// The element type's name, e.g. `"int64"`.
    #[getter]
    fn dtype(&self) -> PyResult<&'static str> {
        Ok(self.lock()?.dtype().name())
    }

    /// The path of the file.
    #[getter]
    fn path(&self) -> PyResult<String> {
        Ok(self.lock()?.path().display().to_string())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(self.lock()?.is_closed())
    }

    /// Bytes of the values (`len * itemsize`), which live in the mapped file.
    #[getter]
    fn nbytes(&self) -> PyResult<usize> {
        let a = self.lock()?;
        Ok(a.len() * a.dtype().width())
    }

    /// Bytes per element.
    #[getter]
    fn itemsize(&self) -> PyResult<usize> {
        Ok(self.lock()?.dtype().width())
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.lock()?.len())
    }

    fn __getitem__(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let a = self.lock()?;
        if a.is_closed() {
            return Err(mmap_to_py(py, MmapError::Closed));
        }
        if let Ok(s) = index.cast::<PySlice>() {
            let ind = s.indices(a.len() as isize)?;
            let mut out = Vec::with_capacity(ind.slicelength);
            let mut i = ind.start;
            for _ in 0..ind.slicelength {
                out.push(num_to_py(py, a.get(i as usize).py_err(py)?)?);
                i += ind.step;
            }
            return Ok(PyList::new(py, out)?.into_any().unbind());
        }
        let i = norm_index(index.extract()?, a.len())?;
        num_to_py(py, a.get(i).py_err(py)?)
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if let Ok(s) = index.cast::<PySlice>() {
            // Converted before the lock: the values may come from this very list.
            let values: Vec<Num> = value
                .try_iter()?
                .map(|v| num_from_py(&v?))
                .collect::<PyResult<_>>()?;
            let mut a = self.lock()?;
            let ind = s.indices(a.len() as isize)?;
            if values.len() != ind.slicelength {
                return Err(PyValueError::new_err(format!(
                    "MmapList cannot change size by slice assignment: {} values for {} positions",
                    values.len(),
                    ind.slicelength
                )));
            }
            // Check every value first, so a bad one changes nothing.
            for v in &values {
                memslim_mmap::array::encode(a.dtype(), *v).py_err(py)?;
            }
            let mut i = ind.start;
            for v in values {
                a.set(i as usize, v).py_err(py)?;
                i += ind.step;
            }
            return Ok(());
        }
        let (i, v): (isize, Num) = (index.extract()?, num_from_py(value)?);
        let mut a = self.lock()?;
        let i = norm_index(i, a.len())?;
        a.set(i, v).py_err(py)
    }

    fn __delitem__(&self, py: Python<'_>, index: isize) -> PyResult<()> {
        self.check_resizable()?;
        let mut a = self.lock()?;
        let i = norm_index(index, a.len())?;
        if i + 1 != a.len() {
            return Err(Class::AppendOnly.err(
                py,
                "MmapList only deletes from the end (del a[-1], a.pop())",
            ));
        }
        a.truncate(i).py_err(py)
    }

    fn append(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_resizable()?;
        let v = num_from_py(value)?;
        self.lock()?.push(v).py_err(py)
    }

    fn extend(&self, py: Python<'_>, values: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_resizable()?;
        let values: Vec<Num> = values
            .try_iter()?
            .map(|v| num_from_py(&v?))
            .collect::<PyResult<_>>()?;
        self.lock()?.extend(&values).py_err(py)
    }

    /// Appends `value` when `index` is the end (`len(a)` or beyond); an MmapList grows
    /// only at the end, so any other position is an IndexError.
    fn insert(&self, py: Python<'_>, index: isize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_resizable()?;
        let v = num_from_py(value)?;
        let mut a = self.lock()?;
        if index >= 0 && index as usize >= a.len() {
            return a.push(v).py_err(py);
        }
        Err(Class::AppendOnly.err(py, "MmapList only grows at the end: insert(len(a), value)"))
    }

    /// Removes and returns the last element (only the end: `pop()` or `pop(-1)`).
    #[pyo3(signature = (index = -1))]
    fn pop(&self, py: Python<'_>, index: isize) -> PyResult<Py<PyAny>> {
        self.check_resizable()?;
        let mut a = self.lock()?;
        if a.is_empty() {
            return Err(PyIndexError::new_err("pop from empty MmapList"));
        }
        let i = norm_index(index, a.len())?;
        if i + 1 != a.len() {
            return Err(Class::AppendOnly.err(py, "MmapList only pops from the end"));
        }
        let v = a.get(i).py_err(py)?;
        a.truncate(i).py_err(py)?;
        num_to_py(py, v)
    }

    #[pyo3(signature = (value, start = 0, stop = isize::MAX))]
    fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
    ) -> PyResult<usize> {
        let v = match num_from_py(value) {
            Ok(v) => v,
            Err(_) => return Err(PyValueError::new_err("value is not in MmapList")),
        };
        let a = self.lock()?;
        let clamp = |i: isize| -> usize {
            if i < 0 {
                (i + a.len() as isize).max(0) as usize
            } else {
                i as usize
            }
        };
        match a.find(v, clamp(start), clamp(stop)).py_err(py)?.0 {
            Some(i) => Ok(i),
            None => Err(PyValueError::new_err("value is not in MmapList")),
        }
    }

    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let Ok(v) = num_from_py(value) else {
            return Ok(0);
        };
        let a = self.lock()?;
        Ok(a.find(v, 0, usize::MAX).py_err(py)?.1)
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(v) = num_from_py(value) else {
            return Ok(false);
        };
        let a = self.lock()?;
        Ok(a.find(v, 0, usize::MAX).py_err(py)?.0.is_some())
    }

    fn __iter__(slf: Bound<'_, Self>) -> PyMmapListIter {
        PyMmapListIter {
            list: slf.unbind(),
            pos: AtomicUsize::new(0),
        }
    }

    /// The values as a plain list.
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let a = self.lock()?;
        let out = (0..a.len())
            .map(|i| num_to_py(py, a.get(i).py_err(py)?))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, out)?.unbind())
    }

    /// Makes appends durable: values, then the header with the new length.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.detached(py, |a| a.flush())?.py_err(py)
    }

    /// Flushes and unmaps; refused (BufferError) while a buffer export is alive.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.check_resizable()?;
        self.inner.detached(py, |a| a.close())?.py_err(py)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> PyResult<String> {
        let a = self.lock()?;
        Ok(format!(
            "MmapList({:?}, dtype={:?}, len={}{})",
            a.path().display().to_string(),
            a.dtype().name(),
            a.len(),
            if a.is_closed() { ", closed" } else { "" }
        ))
    }

    /// # Safety
    /// Called by CPython with a view to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let a = this.lock()?;
        let bytes = a.as_bytes().py_err(slf.py())?;
        let ex = Export {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            itemsize: a.dtype().width(),
            format: format_of(a.dtype()),
            readonly: !a.is_writable(),
        };
        // SAFETY: `view` comes from CPython's getbuffer call. The bytes stay mapped at
        // this address until the export is released: resizing and closing (the only
        // operations that move or unmap them) are refused while `exports` > 0.
        unsafe { mmap_ffi::fill(slf.as_any(), view, flags, &ex)? };
        this.exports.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// # Safety
    /// Called by CPython once per successful `__getbuffer__`.
    unsafe fn __releasebuffer__(&self, view: *mut ffi::Py_buffer) {
        // SAFETY: `view` was filled by `__getbuffer__` above.
        unsafe { mmap_ffi::release(view) };
        self.exports.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Iterator over an `MmapList`.
#[pyclass(name = "_MmapListIter", module = "memslim._memslim", frozen)]
pub struct PyMmapListIter {
    list: Py<PyMmapList>,
    pos: AtomicUsize,
}

#[pymethods]
impl PyMmapListIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let a = self.list.get().lock()?;
        let i = self.pos.load(Ordering::Relaxed);
        if i >= a.len() {
            return Ok(None);
        }
        let v = num_to_py(py, a.get(i).py_err(py)?)?;
        self.pos.store(i + 1, Ordering::Relaxed);
        Ok(Some(v))
    }
}

/// Which records of a file a view covers: `len` positions `start + k * step`.
#[derive(Clone, Copy, Debug)]
struct Positions {
    start: usize,
    step: isize,
    len: usize,
}

impl Positions {
    fn at(&self, k: usize) -> usize {
        (self.start as isize + k as isize * self.step) as usize
    }

    /// The positions `self[s]` names (a slice of a slice is one view of the file).
    fn slice(&self, s: &Bound<'_, PySlice>) -> PyResult<Positions> {
        let ind = s.indices(self.len as isize)?;
        Ok(Positions {
            start: if ind.slicelength == 0 {
                0
            } else {
                self.at(ind.start as usize)
            },
            step: self.step * ind.step,
            len: ind.slicelength,
        })
    }
}

fn index_arg(index: &Bound<'_, PyAny>, len: usize) -> PyResult<usize> {
    let i: isize = index.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "indices must be integers or slices, not {}",
            index
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    norm_index(i, len)
}

/// `==` of a read-only sequence of `len` items with `other`: equal when `other` is a
/// sized, non-string, non-dict iterable of as many equal items. `get(i)` gives item `i`
/// (`None` if there is none any more). No lock is held while `other` runs Python code.
fn seq_eq<'py>(
    py: Python<'py>,
    len: usize,
    other: &Bound<'py, PyAny>,
    get: impl Fn(usize) -> PyResult<Option<Bound<'py, PyAny>>>,
) -> PyResult<Py<PyAny>> {
    let Ok(n) = other.len() else {
        return Ok(py.NotImplemented());
    };
    if other.is_instance_of::<PyString>() || other.is_instance_of::<PyDict>() {
        return Ok(py.NotImplemented());
    }
    if len != n {
        return false.into_py_any(py);
    }
    for (i, item) in other.try_iter()?.enumerate() {
        let item = item?;
        match get(i)? {
            Some(v) if v.eq(item)? => {}
            _ => return false.into_py_any(py),
        }
    }
    true.into_py_any(py)
}

/// A read-only view of some records of a file (`FileColumn`, `FileSlice`): the
/// `Sequence` methods both share.
trait FileView {
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
        let n = self.view_len();
        let clamp = |i: isize| -> usize {
            if i < 0 {
                (i + n as isize).max(0) as usize
            } else {
                (i as usize).min(n)
            }
        };
        let (mut first, mut count) = (None, 0);
        for k in clamp(start)..clamp(stop) {
            let v = self.plain(value.py(), k)?;
            if v.is(value) || v.eq(value)? {
                first = first.or(Some(k));
                count += 1;
                if first_only {
                    break;
                }
            }
        }
        Ok((first, count))
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

/// The numbers of a `FileColumn` for numpy.
enum FileNumbers {
    /// The one mapped Arrow array (`Int64` or `Float64`, no nulls): zero-copy.
    Mapped(ArrayRef),
    /// Several batches' values copied into one buffer.
    Owned(OwnedNumbers),
}

/// A lazy, read-only view of one field of a `DictListFile`: a registered
/// `collections.abc.Sequence` of the values `rows[i][name]` gives, with `None` where a
/// record lacks the key (as `DictList.column`). Reads the file on each access; keeps
/// the file object alive; raises `ValueError` after `close()`.
#[pyclass(name = "FileColumn", module = "memslim._memslim", frozen, sequence)]
pub struct PyFileColumn {
    file: Py<PyDictListFile>,
    name: String,
    len: usize,
    /// The column's type for numpy, and its numbers when numeric without nulls.
    numbers: OnceLock<(DType, Option<FileNumbers>)>,
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

    /// The sum of the values (`TypeError` for a column that is not numbers or bools)
    /// and how many are null or absent, from the field's Arrow arrays.
    fn sum_and_nulls(&self, py: Python<'_>) -> PyResult<(Sum, usize)> {
        let (_, batches) = self
            .file
            .get()
            .lock()?
            .field_arrow(&self.name, self.len)
            .py_err(py)?;
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
        let nulls = arrays.iter().map(|a| a.logical_null_count()).sum();
        let sum = sum_arrow(&arrays).ok_or_else(|| {
            Class::UnsupportedType.err(
                py,
                format!("sum of {:?}: not a column of numbers", self.name),
            )
        })?;
        Ok((sum, nulls))
    }

    fn numbers(&self, py: Python<'_>) -> PyResult<&(DType, Option<FileNumbers>)> {
        if let Some(n) = self.numbers.get() {
            return Ok(n);
        }
        let (schema, batches) = self
            .file
            .get()
            .lock()?
            .field_arrow(&self.name, self.len)
            .py_err(py)?;
        let kind = match schema.field(0).data_type() {
            DataType::Int64 => DType::Int64,
            DataType::Float64 => DType::Float64,
            DataType::Boolean => DType::Bool,
            _ => DType::Object,
        };
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
        let numbers = match (kind, batches.as_slice()) {
            (DType::Int64 | DType::Float64, [one]) if one.column(0).null_count() == 0 => {
                Some(FileNumbers::Mapped(Arc::clone(one.column(0))))
            }
            (DType::Int64 | DType::Float64, _) => {
                OwnedNumbers::from_arrow(&arrays).map(FileNumbers::Owned)
            }
            _ => None,
        };
        Ok(self.numbers.get_or_init(|| (kind, numbers)))
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
            let at = Positions {
                start: 0,
                step: 1,
                len: self.len,
            }
            .slice(s)?;
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
        Ok(self.sum_and_nulls(py)?.1)
    }

    /// Sum of the non-null values (bools count as ints); 0 for an empty column.
    fn sum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.sum_and_nulls(py)?.0 {
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
        let (sum, nulls) = self.sum_and_nulls(py)?;
        let n = self.len - nulls;
        Ok((n > 0).then(|| match sum {
            Sum::Int(i) => i as f64 / n as f64,
            Sum::Float(f) => f / n as f64,
        }))
    }

    /// NumPy's array interface, read-only: zero-copy when the column's records are one
    /// committed batch of ints or floats without nulls, else one copy of the numbers;
    /// only for numeric columns without nulls.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (ptr, typestr) = match &self.numbers(py)?.1 {
            Some(FileNumbers::Mapped(a)) => match (a.as_primitive_opt(), a.as_primitive_opt()) {
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
            Some(FileNumbers::Owned(OwnedNumbers::I64(v))) => (v.as_ptr() as usize, "<i8"),
            Some(FileNumbers::Owned(OwnedNumbers::F64(v))) => (v.as_ptr() as usize, "<f8"),
            None => return Err(no_interface()),
        };
        crate::records::array_interface(py, self.len, ptr, typestr)
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let (kind, numbers) = this.numbers(slf.py())?;
        crate::records::column_array(
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

/// A lazy, read-only slice `rows[a:b:c]` of a `DictListFile`: a registered
/// `collections.abc.Sequence` of `FileRow` views of the records it covers, which it
/// reads only when asked. Keeps the file object alive; raises `ValueError` after
/// `close()`.
#[pyclass(name = "FileSlice", module = "memslim._memslim", frozen, sequence)]
pub struct PyFileSlice {
    file: Py<PyDictListFile>,
    at: Positions,
}

impl FileView for PyFileSlice {
    fn view_len(&self) -> usize {
        self.at.len
    }

    fn plain<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        let owner = self.file.get();
        let mut f = owner.lock()?;
        Ok(PyDictListFile::row(py, &mut f, owner.trust, self.at.at(k))?.into_any())
    }
}

impl PyFileSlice {
    fn row<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        let row = self.at.at(k);
        self.file.get().lock()?.check_row(row).py_err(py)?;
        let file = self.file.clone_ref(py);
        Ok(Bound::new(py, PyFileRow { file, row })?.into_any())
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
                at: self.at.slice(s)?,
            };
            return Ok(Bound::new(py, slice)?.into_any());
        }
        self.row(py, index_arg(index, self.at.len)?)
    }

    fn __repr__(&self) -> String {
        let stop = self.at.start as isize + self.at.len as isize * self.at.step;
        format!(
            "FileSlice(start={}, stop={}, step={}, len={})",
            self.at.start, stop, self.at.step, self.at.len
        )
    }
}

enum FileViewRef {
    Column(Py<PyFileColumn>),
    Slice(Py<PyFileSlice>),
}

/// Iterator over a `FileColumn` (values) or a `FileSlice` (`FileRow` views).
#[pyclass(name = "_FileViewIter", module = "memslim._memslim", frozen)]
pub struct PyFileViewIter {
    view: FileViewRef,
    pos: AtomicUsize,
}

#[pymethods]
impl PyFileViewIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let k = self.pos.load(Ordering::Relaxed);
        let item = match &self.view {
            FileViewRef::Column(c) if k < c.get().len => c.get().plain(py, k)?,
            FileViewRef::Slice(s) if k < s.get().at.len => s.get().row(py, k)?,
            _ => return Ok(None),
        };
        self.pos.store(k + 1, Ordering::Relaxed);
        Ok(Some(item))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDictListFile>()?;
    m.add_class::<PyDictListFileIter>()?;
    m.add_class::<PyMmapList>()?;
    m.add_class::<PyMmapListIter>()?;
    m.add_function(wrap_pyfunction!(_save_records, m)?)?;
    m.add_class::<PyFileRow>()?;
    m.add_class::<PyFileColumn>()?;
    m.add_class::<PyFileSlice>()?;
    m.add_class::<PyFileViewIter>()?;
    Ok(())
}
