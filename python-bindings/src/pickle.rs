//! Pickling of `DictList` and `TupleList`: the core's checksummed snapshot, with its
//! column buffers handed to pickle protocol 5 out of band (and of `DocList`: its
//! checksummed byte image as one out-of-band buffer, [`image_arg`]).
//!
//! `__reduce_ex__(5)` returns the snapshot header plus one `pickle.PickleBuffer` per
//! column buffer, each over a read-only `_Buffer` that shares the list's memory; with
//! `pickle.dumps(rows, protocol=5, buffer_callback=...)` (as Dask and Ray pickle)
//! the buffers travel without being copied into the pickle. Protocols below 5 get one
//! bytes payload (header and buffers joined). Loading verifies the checksum and every
//! invariant in the core ([`RecordList::from_snapshot`]) and raises
//! `memslim.CorruptDataError` for anything else. The loaded list reads the buffers in
//! place when nothing can change them ([`Arg::into_buffer`]).

use std::ffi::c_int;
use std::panic::RefUnwindSafe;
use std::ptr::NonNull;
use std::sync::Arc;

use memslim_records::{Allocation, Buffer, RecordList, Snapshot};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyMemoryView, PyTuple};

use crate::errors::IntoPyResult;
use crate::mmap_ffi::{self, Export};

static PICKLE_BUFFER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// One column buffer of a pickled list, exported read-only through the buffer protocol.
#[pyclass(name = "_Buffer", module = "memslim._memslim", frozen)]
pub struct PyBufferPart {
    buf: Buffer,
}

#[pymethods]
impl PyBufferPart {
    fn __len__(&self) -> usize {
        self.buf.len()
    }

    /// # Safety
    /// Called by CPython with a view to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err(
                "a pickled memslim buffer is read-only",
            ));
        }
        let bytes = slf.get().buf.as_slice();
        let ex = Export {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            itemsize: 1,
            format: c"B",
            readonly: true,
        };
        // SAFETY: `view` comes from CPython's getbuffer call. The bytes belong to an
        // immutable Arrow buffer this object owns (it keeps the list's chunk alive, and
        // the list copies a shared chunk before writing to it), so they stay valid and
        // unchanged until the view, which holds a reference to this object, is released.
        unsafe { mmap_ffi::fill(slf.as_any(), view, flags, &ex) }
    }

    /// # Safety
    /// Called by CPython once per successful `__getbuffer__`.
    unsafe fn __releasebuffer__(&self, view: *mut ffi::Py_buffer) {
        // SAFETY: `view` was filled by `__getbuffer__` above.
        unsafe { mmap_ffi::release(view) };
    }
}

/// The pickle arguments for a snapshot: `(payload,)` below protocol 5, else the header
/// followed by one `PickleBuffer` per column buffer.
pub(crate) fn snapshot_args<'py>(
    py: Python<'py>,
    snap: Snapshot,
    protocol: i64,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if protocol < 5 {
        let payload = PyBytes::new_with(py, snap.len(), |out| {
            let (head, mut rest) = out.split_at_mut(snap.header.len());
            head.copy_from_slice(&snap.header);
            for b in &snap.buffers {
                let (dst, r) = rest.split_at_mut(b.len());
                dst.copy_from_slice(b.as_slice());
                rest = r;
            }
            Ok(())
        })?;
        return Ok(vec![payload.into_any()]);
    }
    let pb = PICKLE_BUFFER.import(py, "pickle", "PickleBuffer")?;
    let mut args = Vec::with_capacity(1 + snap.buffers.len());
    args.push(PyBytes::new(py, &snap.header).into_any());
    for buf in snap.buffers {
        let part = Bound::new(py, PyBufferPart { buf })?;
        args.push(pb.call1((part,))?);
    }
    Ok(args)
}

/// The pickle argument for a byte image owned by the caller (a DocList's): a `bytes`
/// object below protocol 5, else a `PickleBuffer` over it (out of band with a
/// `buffer_callback`, so the image is not copied into the pickle).
pub(crate) fn image_arg(
    py: Python<'_>,
    image: Vec<u8>,
    protocol: i64,
) -> PyResult<Bound<'_, PyAny>> {
    if protocol < 5 {
        return Ok(PyBytes::new(py, &image).into_any());
    }
    let pb = PICKLE_BUFFER.import(py, "pickle", "PickleBuffer")?;
    let part = Bound::new(
        py,
        PyBufferPart {
            buf: Buffer::from_vec(image),
        },
    )?;
    pb.call1((part,))
}

/// A pickled argument as an Arrow buffer: read in place where [`Arg::into_buffer`]
/// allows (a `bytes` object, or a view of one or of a `_Buffer` of ours), else copied.
///
/// # Errors
/// `BufferError` for a non-contiguous buffer, `TypeError` for an object with none.
pub(crate) fn arg_buffer(obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
    Ok(Arg::new(obj)?.into_buffer(obj.py()))
}

/// Bytes of a pickled argument: a `bytes` object (in-band) or anything exporting a
/// contiguous buffer (out of band: `PickleBuffer`, `memoryview`, `bytearray`, ...).
enum Arg<'py> {
    Bytes(Bound<'py, PyBytes>),
    Buffer(PyBuffer<u8>),
}

impl<'py> Arg<'py> {
    fn new(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Arg::Bytes(b.clone()));
        }
        let buf = PyBuffer::<u8>::get(obj)?;
        if !buf.is_c_contiguous() {
            return Err(PyBufferError::new_err(
                "a memslim pickle buffer must be contiguous",
            ));
        }
        Ok(Arg::Buffer(buf))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Arg::Bytes(b) => b.as_bytes(),
            Arg::Buffer(b) => {
                if b.len_bytes() == 0 {
                    return &[];
                }
                // SAFETY: the buffer is C-contiguous (checked in `new`) and `len_bytes`
                // long, and stays exported while `self` lives. The slice is read while
                // the GIL is held and no Python code runs, so nothing writes to a
                // writable exporter (e.g. a bytearray) meanwhile.
                unsafe { std::slice::from_raw_parts(b.buf_ptr() as *const u8, b.len_bytes()) }
            }
        }
    }
}

/// A Python object that keeps the memory of an Arrow buffer alive: a `bytes` object or
/// a `_Buffer` of ours, both immutable. A reference, not a buffer export: dropping it
/// where the interpreter is not attached (a worker thread) defers the decref instead of
/// waiting for the interpreter, as releasing an export would.
struct Held {
    _owner: Py<PyAny>,
}

// Nothing in `Held` is observed in a broken state after a panic: it is only dropped.
impl RefUnwindSafe for Held {}

/// The immutable object whose memory a view shows, if there is one: its exporter is a
/// `bytes` object or a `_Buffer` of ours, directly or under a `memoryview` (a
/// `PickleBuffer` forwards the export to the object it wraps).
fn immutable_exporter<'py>(py: Python<'py>, view: &PyBuffer<u8>) -> Option<Bound<'py, PyAny>> {
    let mut exporter = view.obj(py)?.clone();
    if exporter.is_instance_of::<PyMemoryView>() {
        exporter = exporter.getattr("obj").ok()?;
    }
    (exporter.is_exact_instance_of::<PyBytes>() || exporter.is_instance_of::<PyBufferPart>())
        .then_some(exporter)
}

impl Arg<'_> {
    /// The argument's bytes as an Arrow buffer, read in place when nothing can change
    /// them (a `bytes` object, or a view of one or of a `_Buffer` of ours, which is how a
    /// same-process round trip and most transports hand them back). Anything writable
    /// (a `bytearray`, a NumPy array, a read-only view whose owner can still write) is
    /// copied: the list reads its columns through invariants checked once, at load.
    fn into_buffer(self, py: Python<'_>) -> Buffer {
        self.into_buffer_and_owner(py).0
    }

    /// [`Arg::into_buffer`], and whether the buffer reads the memory of a `bytes` object
    /// in place (memory Python's allocator made, which tracemalloc sees already).
    fn into_buffer_and_owner(self, py: Python<'_>) -> (Buffer, bool) {
        let owner = match &self {
            Arg::Bytes(b) => Some(b.clone().into_any()),
            Arg::Buffer(view) => immutable_exporter(py, view),
        };
        let bytes = self.bytes();
        let ptr = NonNull::new(bytes.as_ptr().cast_mut());
        let (Some(ptr), Some(owner), len @ 1..) = (ptr, owner, bytes.len()) else {
            return (Buffer::from_slice_ref(bytes), false);
        };
        let python_made = owner.is_exact_instance_of::<PyBytes>();
        let owner: Arc<dyn Allocation> = Arc::new(Held {
            _owner: owner.unbind(),
        });
        // SAFETY: `ptr` and `len` describe contiguous bytes (`Arg::bytes`) inside the
        // memory of `owner`, a `bytes` object or a `_Buffer`: both immutable, and neither
        // moves or frees its memory while it lives. The buffer holds `owner`, so the
        // bytes stay valid, and unchanged after the load has validated them, for as long
        // as the buffer lives. (The export `self` may be released before then.)
        let buffer = unsafe { Buffer::from_custom_allocation(ptr, len, owner) };
        (buffer, python_made)
    }
}

/// Rebuilds the core list from a pickle's arguments: one payload (version 1 or 2),
/// copied, or a snapshot header and its buffers, read in place where
/// [`Arg::into_buffer`] allows. Also the address ranges of the `bytes` objects read in
/// place (memory Python made, which tracemalloc sees already).
pub(crate) fn restore_core(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    buffers: &Bound<'_, PyTuple>,
) -> PyResult<(RecordList, Vec<std::ops::Range<usize>>)> {
    let head = Arg::new(data)?;
    if buffers.is_empty() {
        // One payload: copied buffer by buffer (see `RecordList::from_snapshot_bytes`).
        return Ok((RecordList::from_bytes(head.bytes()).py_err(py)?, Vec::new()));
    }
    let mut python_made = Vec::new();
    let mut bufs = Vec::with_capacity(buffers.len());
    for b in buffers.iter() {
        let (buf, made) = Arg::new(&b)?.into_buffer_and_owner(py);
        if made {
            let start = buf.as_ptr() as usize;
            python_made.push(start..start + buf.len());
        }
        bufs.push(buf);
    }
    let list = RecordList::from_snapshot(head.bytes(), &bufs).py_err(py)?;
    Ok((list, python_made))
}

/// Registers this module's classes.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBufferPart>()?;
    Ok(())
}
