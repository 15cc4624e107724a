//! Python face of `memslim-stream`: `read_jsonl`, `iter_jsonl` and the `BatchReader`
//! they return batches from.
//!
//! Inputs are converted here: a path opens a file in Rust (parsed on a second thread);
//! a file object or an iterable of lines becomes a `std::io::Read` that calls back into
//! Python for more bytes. Parsing runs with the interpreter released.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memslim_records::RecordList;
use memslim_records::json::JsonError;
use memslim_stream::{
    BatchReader, CsvOptions, CsvReader, EncodingErrors, Input, JsonlReader, MAX_LINE_BYTES,
    OnError, ReadOptions, Reopen, StreamError,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyIterator, PyMemoryView, PyString};

use crate::errors::{Class, IntoPyResult, stream_to_py};
use crate::records::{dict_list_from_core, with_core};
use crate::size;
use crate::writer::{Busy, batch_of, open_writer};

/// The Python exception raised inside a callback (`read`, `__next__`), kept so that the
/// user sees it rather than a generic I/O error.
type ErrSlot = Arc<Mutex<Option<PyErr>>>;

fn stash(slot: &ErrSlot, e: PyErr) -> io::Error {
    let msg = e.to_string();
    if let Ok(mut s) = slot.lock() {
        *s = Some(e);
    }
    io::Error::other(msg)
}

/// Where a [`PyRead`] gets its bytes.
enum PySource {
    /// A file object's `read` (binary or text).
    File(Py<PyAny>),
    /// The next items of an iterable of lines (bytes or str, with or without their
    /// line break). With `cr_ends`, a bare `\r` is a line break (CSV, as the `csv`
    /// module reads lines); else only `\n` is.
    Lines {
        iter: Py<PyIterator>,
        done: bool,
        cr_ends: bool,
    },
}

/// A Python file object or iterable of lines as a `Read`.
struct PyRead {
    source: PySource,
    pending: Vec<u8>,
    at: usize,
    slot: ErrSlot,
}

/// Bytes asked from a Python `read` per call.
const PY_READ: usize = 1 << 16;

fn bytes_of(v: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(b) = v.cast::<PyBytes>() {
        out.extend_from_slice(b.as_bytes());
    } else if let Ok(s) = v.cast::<PyString>() {
        out.extend_from_slice(s.to_str()?.as_bytes());
    } else if let Ok(b) = v.cast::<PyByteArray>() {
        out.extend_from_slice(&b.to_vec());
    } else {
        return Err(PyTypeError::new_err(format!(
            "expected bytes or str, got {}",
            v.get_type().name()?
        )));
    }
    Ok(())
}

impl PyRead {
    fn new(source: PySource, slot: ErrSlot) -> Self {
        PyRead {
            source,
            pending: Vec::new(),
            at: 0,
            slot,
        }
    }

    /// Fills `pending` (empty) from Python: one `read` of at least `want` bytes, or
    /// lines until `PY_READ` bytes or the end.
    fn refill(&mut self, py: Python<'_>, want: usize) -> PyResult<()> {
        match &mut self.source {
            PySource::File(obj) => {
                let data = obj.bind(py).call_method1("read", (want.max(PY_READ),))?;
                bytes_of(&data, &mut self.pending)
            }
            PySource::Lines {
                iter,
                done,
                cr_ends,
            } => {
                let mut it = iter.bind(py).clone();
                while self.pending.len() < PY_READ {
                    let Some(item) = it.next() else {
                        *done = true;
                        break;
                    };
                    let start = self.pending.len();
                    bytes_of(&item?, &mut self.pending)?;
                    // An item without its line break gets one. Judged by the item's own
                    // last byte, not the buffer's: an empty item (a blank line, as
                    // `str.splitlines` gives it) is a line too and must add its break.
                    let ended = match self.pending.get(start..).and_then(<[u8]>::last) {
                        Some(b'\n') => true,
                        Some(b'\r') => *cr_ends,
                        _ => false,
                    };
                    if !ended {
                        self.pending.push(b'\n');
                    }
                }
                Ok(())
            }
        }
    }
}

impl Read for PyRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let done = matches!(self.source, PySource::Lines { done: true, .. });
        if self.at >= self.pending.len() && !done {
            self.pending.clear();
            self.at = 0;
            let r = Python::attach(|py| self.refill(py, buf.len()));
            r.map_err(|e| stash(&self.slot, e))?;
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// An opened input: whether it may be read from another thread, and where Python
/// errors raised while reading it are kept.
struct Opened {
    input: Input,
    threaded: bool,
    slot: ErrSlot,
}

fn open_input(src: &Bound<'_, PyAny>, cr_ends: bool) -> PyResult<Opened> {
    let py = src.py();
    let slot: ErrSlot = Arc::new(Mutex::new(None));
    let path: Option<String> = if src.is_instance_of::<PyString>() {
        Some(src.extract()?)
    } else if src.hasattr("__fspath__")? {
        let os = py.import("os")?;
        Some(os.call_method1("fspath", (src,))?.extract()?)
    } else {
        None
    };
    if let Some(path) = path {
        let input = Input::open(std::path::Path::new(&path)).py_err(py)?;
        return Ok(Opened {
            input,
            threaded: true,
            slot,
        });
    }
    // A bytes-like object is its bytes (a copy: the reader runs without the
    // interpreter, while a bytearray may change); iterating one would give ints.
    let data = if let Ok(b) = src.cast::<PyBytes>() {
        Some(b.as_bytes().to_vec())
    } else if let Ok(b) = src.cast::<PyByteArray>() {
        Some(b.to_vec())
    } else if src.is_instance_of::<PyMemoryView>() {
        Some(
            src.call_method0("tobytes")?
                .cast::<PyBytes>()?
                .as_bytes()
                .to_vec(),
        )
    } else {
        None
    };
    if let Some(data) = data {
        let input = Input::from_reader("<bytes>", Box::new(io::Cursor::new(data)));
        return Ok(Opened {
            input,
            threaded: true,
            slot,
        });
    }
    if src.hasattr("read")? {
        let name = src
            .getattr("name")
            .ok()
            .and_then(|n| n.extract::<String>().ok())
            .unwrap_or_else(|| "<file object>".to_owned());
        let reader = PyRead::new(PySource::File(src.clone().unbind()), slot.clone());
        return Ok(Opened {
            input: Input::from_reader(name, Box::new(reader)),
            threaded: false,
            slot,
        });
    }
    let iter = src.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "source must be a path, a file object, bytes, or an iterable of lines, not {}",
            crate::sequence::type_name(src)
        ))
    })?;
    let lines = PySource::Lines {
        iter: iter.unbind(),
        done: false,
        cr_ends,
    };
    let reader = PyRead::new(lines, slot.clone());
    Ok(Opened {
        input: Input::from_reader("<iterable>", Box::new(reader)),
        threaded: false,
        slot,
    })
}

/// The documents of a JSON Lines source (whatever [`open_input`] takes) in a new
/// `DocList`. Bytes are parsed in place; other sources are read in blocks, without the
/// interpreter but for a file object's or an iterable's own reads.
pub(crate) fn read_docs(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    opts: &ReadOptions,
) -> PyResult<memslim_arena::DocList> {
    let mut docs = memslim_arena::DocList::new();
    if let Ok(b) = source.cast::<PyBytes>() {
        let text = b.as_bytes();
        py.detach(|| {
            memslim_stream::docs::extend_docs_from_slice_with(&mut docs, "<bytes>", text, opts)
        })
        .map_err(|e| stream_to_py(py, e))?;
        return Ok(docs);
    }
    let Opened { input, slot, .. } = open_input(source, false)?;
    py.detach(|| memslim_stream::docs::extend_docs_with(&mut docs, input, opts))
        .map_err(|e| to_py_err(py, e, &slot))?;
    Ok(docs)
}

/// The Python error a callback raised, if that is what ended the stream; otherwise the
/// stream error mapped.
fn to_py_err(py: Python<'_>, e: StreamError, slot: &ErrSlot) -> PyErr {
    if matches!(e, StreamError::Io { .. }) {
        if let Some(err) = slot.lock().ok().and_then(|mut s| s.take()) {
            return err;
        }
    }
    stream_to_py(py, e)
}

// The signatures spell the default out (a literal shows in `__text_signature__`).
const _: () = assert!(MAX_LINE_BYTES == 1_073_741_824);

/// Default options with the input limits: `max_line_bytes` (checked) and the
/// interpreter's current `sys.get_int_max_str_digits()`, which `json.loads` obeys too.
pub(crate) fn reader_limits(py: Python<'_>, max_line_bytes: usize) -> PyResult<ReadOptions> {
    let digits: usize = py
        .import("sys")?
        .call_method0("get_int_max_str_digits")?
        .extract()?;
    ReadOptions::with_limits(max_line_bytes, digits).py_err(py)
}

#[allow(clippy::too_many_arguments)]
fn options(
    py: Python<'_>,
    batch_size: usize,
    columns: Option<Vec<String>>,
    schema: Option<&Bound<'_, PyAny>>,
    on_error: &str,
    threaded: bool,
    max_line_bytes: usize,
) -> PyResult<ReadOptions> {
    Ok(ReadOptions {
        batch_size,
        columns,
        schema: schema.map(crate::records::parse_schema).transpose()?,
        on_error: OnError::parse(on_error).py_err(py)?,
        threaded,
        ..reader_limits(py, max_line_bytes)?
    })
}

/// Warns `SkippedLinesWarning` with the count and the first error.
fn warn_skipped(py: Python<'_>, name: &str, skipped: &memslim_stream::Skipped) -> PyResult<()> {
    if skipped.count == 0 {
        return Ok(());
    }
    let cls = Class::SkippedLinesWarning.get(py)?;
    let msg = format!(
        "{name}: skipped {} malformed line(s); first: {}",
        skipped.count,
        skipped.first.as_deref().unwrap_or("?")
    );
    let msg = std::ffi::CString::new(msg.replace('\0', " "))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    PyErr::warn(py, cls.as_any(), &msg, 1)
}

/// Records read between checks for pending signals.
const SIGNAL_CHECK_ROWS: usize = 1 << 18;

/// Reads a JSON Lines input into one `DictList` (or, with `nested="docs"`, a `DocList`).
#[pyfunction]
#[pyo3(signature = (source, *, columns = None, schema = None, on_error = "raise", progress = false, nested = "columns", max_line_bytes = 1_073_741_824))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_jsonl(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    columns: Option<Vec<String>>,
    schema: Option<&Bound<'_, PyAny>>,
    on_error: &str,
    progress: bool,
    nested: &str,
    #[pyo3(from_py_with = size::max_line_bytes)] max_line_bytes: usize,
) -> PyResult<Py<PyAny>> {
    match nested {
        "columns" => {}
        "docs" => {
            if columns.is_some() || schema.is_some() || on_error != "raise" || progress {
                return Err(Class::InvalidValue.err(
                    py,
                    "read_jsonl(nested=\"docs\") takes no columns, schema, on_error or progress",
                ));
            }
            let opts = reader_limits(py, max_line_bytes)?;
            return Ok(crate::doc_list::doclist_from_jsonl(py, source, &opts)?.into_any());
        }
        other => {
            return Err(Class::InvalidValue.err(
                py,
                format!(
                    "nested must be \"columns\" (a DictList) or \"docs\" (a DocList), not {other:?}"
                ),
            ));
        }
    }
    iter_jsonl(
        py,
        source,
        usize::MAX,
        columns,
        schema,
        on_error,
        progress,
        max_line_bytes,
    )?
    .read_all(py)
}

/// Reads a JSON Lines input as `DictList` batches of `batch_size` records.
#[pyfunction]
#[pyo3(signature = (source, *, batch_size = 65_536, columns = None, schema = None, on_error = "raise", progress = false, max_line_bytes = 1_073_741_824))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn iter_jsonl(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = size::batch_size)] batch_size: usize,
    columns: Option<Vec<String>>,
    schema: Option<&Bound<'_, PyAny>>,
    on_error: &str,
    progress: bool,
    #[pyo3(from_py_with = size::max_line_bytes)] max_line_bytes: usize,
) -> PyResult<PyBatchReader> {
    let opened = open_input(source, false)?;
    let opts = options(
        py,
        batch_size,
        columns,
        schema,
        on_error,
        opened.threaded,
        max_line_bytes,
    )?;
    let mut reader = JsonlReader::new(opened.input, opts);
    if progress {
        reader = reader.with_progress();
    }
    Ok(PyBatchReader::new(Box::new(reader), opened.slot))
}

/// `memslim.BatchReader`: an iterator of `DictList` batches from a streaming reader.
#[pyclass(name = "BatchReader", module = "memslim._memslim", frozen)]
pub struct PyBatchReader {
    inner: Busy<Box<dyn BatchReader>>,
    slot: ErrSlot,
    /// Counts kept after the reader is closed.
    last: Mutex<(String, u64, u64, Option<String>)>,
}

impl PyBatchReader {
    pub(crate) fn new(reader: Box<dyn BatchReader>, slot: ErrSlot) -> Self {
        let name = reader.name().to_owned();
        PyBatchReader {
            inner: Busy::new("BatchReader", reader),
            slot,
            last: Mutex::new((name, 0, 0, None)),
        }
    }

    /// Reads everything into one `DictList` (what `read_jsonl` and `read_csv` return),
    /// with the interpreter released, in steps, so that Ctrl-C (or any pending signal)
    /// interrupts a long read.
    fn read_all(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Some(mut reader) = self.inner.into_inner() else {
            return Err(Class::ClosedFile.err(py, "the reader is closed"));
        };
        let mut signal = None;
        let read = py.detach(|| {
            reader.read_rest_in_steps(SIGNAL_CHECK_ROWS, &mut || {
                Python::attach(|py| py.check_signals())
                    .map_err(|e| signal = Some(e))
                    .is_ok()
            })
        });
        let list = match (read, signal) {
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Err(to_py_err(py, e, &self.slot)),
            (Ok(list), None) => list.ok_or_else(|| {
                pyo3::exceptions::PyRuntimeError::new_err("read stopped without a signal")
            })?,
        };
        warn_skipped(py, reader.name(), reader.skipped())?;
        dict_list_from_core(py, list)
    }

    fn snapshot(&self, r: &dyn BatchReader) {
        if let Ok(mut l) = self.last.lock() {
            *l = (
                r.name().to_owned(),
                r.rows(),
                r.skipped().count,
                r.skipped().first.clone(),
            );
        }
    }
}

#[pymethods]
impl PyBatchReader {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut guard = self.inner.lock(py)?;
        let Some(reader) = guard.as_mut() else {
            return Ok(None);
        };
        let next = py.detach(|| reader.next());
        self.snapshot(reader.as_ref());
        match next {
            Some(Ok(list)) => Ok(Some(dict_list_from_core(py, list)?)),
            Some(Err(e)) => {
                *guard = None;
                Err(to_py_err(py, e, &self.slot))
            }
            None => {
                let r = guard.take();
                if let Some(r) = r {
                    warn_skipped(py, r.name(), r.skipped())?;
                }
                Ok(None)
            }
        }
    }

    /// Stops reading and releases the input (a parsing thread ends too).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        *self.inner.lock(py)? = None;
        Ok(())
    }

    /// The input's path or description.
    #[getter]
    fn path(&self) -> String {
        self.last.lock().map(|l| l.0.clone()).unwrap_or_default()
    }

    /// Records read so far.
    #[getter]
    fn rows(&self) -> u64 {
        self.last.lock().map(|l| l.1).unwrap_or_default()
    }

    /// Lines skipped so far (with `on_error="skip"`).
    #[getter]
    fn skipped(&self) -> u64 {
        self.last.lock().map(|l| l.2).unwrap_or_default()
    }

    /// The first skipped line's error message, if any.
    #[getter]
    fn first_error(&self) -> Option<String> {
        self.last.lock().ok().and_then(|l| l.3.clone())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// A CSV input that can be read twice (type inference takes a first pass): paths are
/// opened again, seekable file objects are sought back; anything else is copied to an
/// unnamed temporary file first.
fn reopenable(src: &Bound<'_, PyAny>) -> PyResult<(Reopen, bool, ErrSlot)> {
    let py = src.py();
    let opened = open_input(src, true)?;
    let slot = opened.slot.clone();
    if src.is_instance_of::<PyString>() || src.hasattr("__fspath__")? {
        return Ok((memslim_stream::reopen_path(opened.input), true, slot));
    }
    let seekable = src.hasattr("read")?
        && src
            .call_method0("seekable")
            .and_then(|b| b.extract::<bool>())
            .unwrap_or(false);
    if seekable {
        // Whatever `tell` gives, only `seek` reads it: a text file's position is an
        // opaque cookie, larger than any offset once its decoder holds state.
        let start: Py<PyAny> = src.call_method0("tell")?.unbind();
        let obj: Py<PyAny> = src.clone().unbind();
        let name = opened.input.name.clone();
        let mut first = Some(opened.input);
        let slot2 = slot.clone();
        let reopen: Reopen = Box::new(move || {
            if let Some(i) = first.take() {
                return Ok(i);
            }
            let obj = Python::attach(|py| -> PyResult<Py<PyAny>> {
                obj.bind(py).call_method1("seek", (start.bind(py),))?;
                Ok(obj.clone_ref(py))
            })
            .map_err(|e| StreamError::Io {
                input: name.clone(),
                error: stash(&slot2, e),
            })?;
            let reader = PyRead::new(PySource::File(obj), slot2.clone());
            Ok(Input::from_reader(name.clone(), Box::new(reader)))
        });
        return Ok((reopen, false, slot));
    }
    // It cannot be read twice: copy it to a temporary file (disk, not memory).
    let input = opened.input;
    let reopen = py
        .detach(|| memslim_stream::reopen_spooled(input))
        .map_err(|e| to_py_err(py, e, &slot))?;
    Ok((reopen, true, slot))
}

/// Reads CSV into one `DictList`, with column types inferred over the whole input.
#[pyfunction]
#[pyo3(signature = (source, *, delimiter = ",", quotechar = "\"", header = true, infer = true, columns = None, schema = None, on_error = "raise", progress = false, encoding_errors = "strict", max_line_bytes = 1_073_741_824))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_csv(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    delimiter: &str,
    quotechar: &str,
    header: bool,
    infer: bool,
    columns: Option<Vec<String>>,
    schema: Option<&Bound<'_, PyAny>>,
    on_error: &str,
    progress: bool,
    encoding_errors: &str,
    #[pyo3(from_py_with = size::max_line_bytes)] max_line_bytes: usize,
) -> PyResult<Py<PyAny>> {
    iter_csv(
        py,
        source,
        usize::MAX,
        delimiter,
        quotechar,
        header,
        infer,
        columns,
        schema,
        on_error,
        progress,
        encoding_errors,
        max_line_bytes,
    )?
    .read_all(py)
}

/// Reads CSV as `DictList` batches of `batch_size` records.
#[pyfunction]
#[pyo3(signature = (source, *, batch_size = 65_536, delimiter = ",", quotechar = "\"", header = true, infer = true, columns = None, schema = None, on_error = "raise", progress = false, encoding_errors = "strict", max_line_bytes = 1_073_741_824))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn iter_csv(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = size::batch_size)] batch_size: usize,
    delimiter: &str,
    quotechar: &str,
    header: bool,
    infer: bool,
    columns: Option<Vec<String>>,
    schema: Option<&Bound<'_, PyAny>>,
    on_error: &str,
    progress: bool,
    encoding_errors: &str,
    #[pyo3(from_py_with = size::max_line_bytes)] max_line_bytes: usize,
) -> PyResult<PyBatchReader> {
    let csv = CsvOptions {
        delimiter: CsvOptions::dialect_byte("delimiter", delimiter).py_err(py)?,
        quote: CsvOptions::dialect_byte("quotechar", quotechar).py_err(py)?,
        header,
        infer,
        encoding_errors: EncodingErrors::parse(encoding_errors).py_err(py)?,
    };
    // Checked before the input is touched (a one-shot input is copied to disk first).
    reader_limits(py, max_line_bytes)?;
    let (reopen, threaded, slot) = reopenable(source)?;
    let opts = options(
        py,
        batch_size,
        columns,
        schema,
        on_error,
        threaded,
        max_line_bytes,
    )?;
    let mut reader = CsvReader::new(reopen, opts, csv).map_err(|e| to_py_err(py, e, &slot))?;
    if progress {
        reader = reader.with_progress();
    }
    Ok(PyBatchReader::new(Box::new(reader), slot))
}

// -- batch adapters and sinks for `memslim.stream` pipelines ---------------------------

/// Runs `f` on the core list of `batch` with the interpreter released.
fn on_batch(
    batch: &Bound<'_, PyAny>,
    f: impl FnOnce(&RecordList) -> memslim_stream::Result<RecordList> + Send,
) -> PyResult<Py<PyAny>> {
    let py = batch.py();
    let l = batch_core(batch)?;
    let r = py.detach(move || f(&l));
    dict_list_from_core(py, r.py_err(py)?)
}

/// A copy-on-write clone of a batch's records (it shares their buffers), so that work
/// on it can run detached and holds no borrow of the batch.
fn batch_core(batch: &Bound<'_, PyAny>) -> PyResult<RecordList> {
    with_core(batch, RecordList::clone)?.ok_or_else(|| match batch.get_type().name() {
        Ok(name) => PyTypeError::new_err(format!("expected a DictList batch, got {name}")),
        Err(e) => e,
    })
}

/// The batch with only `fields`, in that order.
#[pyfunction]
fn _select(batch: &Bound<'_, PyAny>, fields: Vec<String>) -> PyResult<Py<PyAny>> {
    on_batch(batch, move |l| {
        let f: Vec<&str> = fields.iter().map(String::as_str).collect();
        memslim_stream::ops::select(l, &f)
    })
}

/// The batch with fields renamed; `first_row` is the place of its first record in the
/// stream (for the error about a record that would have one name twice).
#[pyfunction]
fn _rename(
    batch: &Bound<'_, PyAny>,
    mapping: Vec<(String, String)>,
    first_row: u64,
) -> PyResult<Py<PyAny>> {
    on_batch(batch, move |l| {
        let m: Vec<(&str, &str)> = mapping
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        memslim_stream::ops::rename(l, &m, first_row)
    })
}

/// The batch's records whose `field` compares to `value` with `op`: `rows.where`'s
/// scan and semantics (values the core cannot compare are compared by Python).
#[pyfunction]
fn _where(
    batch: &Bound<'_, PyAny>,
    field: &str,
    op: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let l = batch_core(batch)?;
    let rows = crate::select::where_rows(&l, field, op, value)?;
    dict_list_from_core(batch.py(), l.take(&rows))
}

/// The batch's records at `indices` (for Python-side filters).
#[pyfunction]
fn _take(batch: &Bound<'_, PyAny>, indices: Vec<usize>) -> PyResult<Py<PyAny>> {
    on_batch(batch, move |l| {
        if let Some(&bad) = indices.iter().find(|&&i| i >= l.len()) {
            return Err(StreamError::Invalid(format!("index {bad} out of range")));
        }
        Ok(l.take(&indices))
    })
}

/// `memslim._json._sink_error`: the sink's error for a value `json` has no form for, in
/// `json`'s words.
static SINK_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `memslim._json._sink_line`: a record holding a pickled object as `json.dumps` writes
/// it, or `None` if it cannot.
static SINK_LINE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `memslim.JsonlWriter`: writes `DictList` batches to a JSON Lines file.
#[pyclass(name = "JsonlWriter", module = "memslim._memslim", frozen)]
pub struct PyJsonlWriter {
    inner: Busy<memslim_stream::sink::JsonlWriter>,
    path: String,
    /// Records written, kept once the writer is closed.
    closed_rows: AtomicU64,
}

#[pymethods]
impl PyJsonlWriter {
    #[new]
    fn new(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Self> {
        let os = py.import("os")?;
        let path: String = os.call_method1("fspath", (path,))?.extract()?;
        let w =
            memslim_stream::sink::JsonlWriter::create(std::path::Path::new(&path)).py_err(py)?;
        Ok(PyJsonlWriter {
            inner: Busy::new("JsonlWriter", w),
            path,
            closed_rows: AtomicU64::new(0),
        })
    }

    /// Appends a batch (complete lines only, flushed); returns records written so far.
    fn write(&self, batch: &Bound<'_, PyAny>) -> PyResult<u64> {
        let py = batch.py();
        let mut guard = self.inner.lock(py)?;
        let w = open_writer(py, &mut guard, &self.path)?;
        let l = batch_of(batch, "JsonlWriter")?;
        let before = w.rows();
        let mut from = 0;
        loop {
            let err = match py.detach(|| w.write_rows(&l, from..l.len())) {
                Err(StreamError::Unwritable {
                    output,
                    row,
                    field,
                    error:
                        error @ (JsonError::NoJsonForm(_)
                        | JsonError::BadKey(_)
                        | JsonError::Pickled { .. }),
                }) => (output, row, field, error),
                r => return r.py_err(py).map(|()| w.rows()),
            };
            let (output, row, field, error) = err;
            // A value the native writer has no form for: `json` itself writes the record
            // (an object stored pickled: a namedtuple, an OrderedDict, a str subclass),
            // or words the error (only it can say what a pickled object is, and it
            // names key types its own way). The row is counted in the stream; the batch
            // starts at `before`.
            let at = usize::try_from(row - before).unwrap_or(usize::MAX);
            let record = batch.get_item(at)?;
            let mut field = field;
            if matches!(error, JsonError::Pickled { .. }) {
                let line = SINK_LINE.import(py, "memslim._json", "_sink_line")?;
                let (written, text): (bool, String) = line.call1((&record,))?.extract()?;
                if written {
                    w.write_line(&text).py_err(py)?;
                    from = at + 1;
                    continue;
                }
                // The value `json` cannot write (maybe another of the record's).
                field = text;
            }
            let value = record.get_item(&field)?;
            let place = StreamError::unwritable_place(&output, row, &field);
            let explain = SINK_ERROR.import(py, "memslim._json", "_sink_error")?;
            let e = explain.call1((value, place, error.to_string()))?;
            return Err(PyErr::from_value(e));
        }
    }

    /// Flushes and closes the file.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        use memslim_stream::sink::Sink;
        if let Some(mut w) = self.inner.lock(py)?.take() {
            self.closed_rows.store(w.rows(), Ordering::Relaxed);
            w.flush().py_err(py)?;
        }
        Ok(())
    }

    /// Records written so far.
    #[getter]
    fn rows(&self, py: Python<'_>) -> PyResult<u64> {
        let guard = self.inner.lock(py)?;
        Ok(guard
            .as_ref()
            .map_or(self.closed_rows.load(Ordering::Relaxed), |w| w.rows()))
    }

    /// The file's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// Registers this module's classes and functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBatchReader>()?;
    m.add_function(wrap_pyfunction!(read_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(iter_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(read_csv, m)?)?;
    m.add_function(wrap_pyfunction!(iter_csv, m)?)?;
    m.add_class::<PyJsonlWriter>()?;
    m.add_function(wrap_pyfunction!(_select, m)?)?;
    m.add_function(wrap_pyfunction!(_rename, m)?)?;
    m.add_function(wrap_pyfunction!(_where, m)?)?;
    m.add_function(wrap_pyfunction!(_take, m)?)?;
    // The suffixes a path is decompressed by, for Python code that picks a reader by
    // suffix (`memslim.stream`, `memslim.report`): the core's list, not a copy of it.
    let suffixes: Vec<String> = memslim_stream::compressed_extensions()
        .map(|ext| format!(".{ext}"))
        .collect();
    m.add(
        "_COMPRESSED_SUFFIXES",
        pyo3::types::PyTuple::new(m.py(), suffixes)?,
    )?;
    Ok(())
}
