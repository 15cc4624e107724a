//! `NumberFile` (formerly `MmapList`; the old name stays a deprecated alias in Python
//! for one release): a growable on-disk array of numbers of one dtype, wrapping
//! `memslim_mmap::NumArray`, that numpy views through the buffer protocol.

use std::ffi::{CStr, c_int};
use std::sync::atomic::{AtomicUsize, Ordering};

use memslim_mmap::view::Positions;
use memslim_mmap::{MmapError, Mode, Num, NumArray, NumType};
use memslim_records::clamp_index;
use pyo3::exceptions::{PyBufferError, PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyList, PySlice};
use pyo3::{IntoPyObjectExt, ffi, intern};

use super::lock::{Guarded, Held};
use super::{parse_mode, slice_of};
use crate::errors::{Class, IntoPyResult, mmap_to_py};
use crate::mmap_ffi::{self, Export};
use crate::sequence::{index_arg, norm_index, position};

/// A growable on-disk array of numbers.
#[pyclass(name = "NumberFile", module = "memslim._memslim", frozen, sequence)]
pub struct PyNumberFile {
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
    if is_numpy_bool(o) {
        return Ok(Num::Bool(o.is_truthy()?));
    }
    if let Ok(v) = o.extract::<f64>() {
        return Ok(Num::Float(v));
    }
    Err(Class::UnsupportedType.err(
        o.py(),
        format!("NumberFile holds numbers, not {}", o.get_type().name()?),
    ))
}

/// Whether `o` is a numpy bool (`numpy.True_`, an element of a boolean mask). It is no
/// int (it has no `__index__`), so it would otherwise convert through `__float__` to 1.0,
/// which a bool or int file refuses; it means what Python's `True` means. Recognized by
/// its type's name, so numpy need not be imported.
fn is_numpy_bool(o: &Bound<'_, PyAny>) -> bool {
    let t = o.get_type();
    let named = |s: PyResult<Bound<'_, pyo3::types::PyString>>, want: &[&str]| {
        s.is_ok_and(|s| s.to_str().is_ok_and(|s| want.contains(&s)))
    };
    // numpy 2 names it `bool`, numpy 1 `bool_`.
    named(t.name(), &["bool", "bool_"]) && named(t.module(), &["numpy"])
}

fn num_to_py(py: Python<'_>, n: Num) -> PyResult<Py<PyAny>> {
    match n {
        Num::Int(v) => v.into_py_any(py),
        Num::UInt(v) => v.into_py_any(py),
        Num::Float(v) => v.into_py_any(py),
        Num::Bool(v) => v.into_py_any(py),
    }
}

/// `values` as a Python list.
fn nums_to_list(py: Python<'_>, values: Vec<Num>) -> PyResult<Bound<'_, PyList>> {
    let out = values
        .into_iter()
        .map(|v| num_to_py(py, v))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, out)
}

impl Drop for PyNumberFile {
    /// Like a Python file object (and `DictList.open`'s writer) collected while open,
    /// or still open when the interpreter exits: flush the appends (write the length)
    /// and close, releasing the lock. An error here has no one to go to and is dropped;
    /// the header then holds the length of the last flush, as after a crash. No buffer
    /// export can be alive: each holds a reference to this object.
    fn drop(&mut self) {
        if let Ok(a) = self.inner.inner.get_mut() {
            let _ = a.close();
        }
    }
}

impl PyNumberFile {
    fn lock(&self) -> PyResult<Held<'_, NumArray>> {
        Python::attach(|py| self.inner.lock(py))
    }

    /// Whether a buffer export (a numpy view) is alive. `__getbuffer__` counts one under
    /// the lock, so the answer holds for as long as the caller holds the lock.
    fn exported(&self) -> bool {
        self.exports.load(Ordering::SeqCst) > 0
    }

    /// The lock, for an operation that resizes the file (which may move the map) or
    /// unmaps it: refused like bytearray while a buffer export is alive. Taken after the
    /// arguments are converted, since converting runs Python code (a generator,
    /// `__index__`, another thread) that may take a view the moment before.
    fn lock_to_resize(&self) -> PyResult<Held<'_, NumArray>> {
        let a = self.lock()?;
        if self.exported() {
            return Err(resize_refused());
        }
        Ok(a)
    }
}

fn resize_refused() -> PyErr {
    PyBufferError::new_err("Existing exports of data: object cannot be re-sized")
}

#[pymethods]
impl PyNumberFile {
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
        Ok(PyNumberFile {
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
        // The index is read before the lock is taken (its `__index__` may use this
        // file, as it may use a list), and the length after, under the lock the read holds.
        let mut held = None;
        let mut len = || -> PyResult<usize> {
            let a = self.lock()?;
            if a.is_closed() {
                return Err(mmap_to_py(py, MmapError::Closed));
            }
            Ok(held.insert(a).len())
        };
        if let Ok(s) = index.cast::<PySlice>() {
            let at = slice_of(s, || len().map(Positions::all))?;
            let a = held
                .as_ref()
                .ok_or_else(|| mmap_to_py(py, MmapError::Closed))?;
            let values = a.get_at(at).py_err(py)?;
            return nums_to_list(py, values).map(|l| l.into_any().unbind());
        }
        let i = position(index, len, "NumberFile")?;
        let a = held
            .as_ref()
            .ok_or_else(|| mmap_to_py(py, MmapError::Closed))?;
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
            let mut held = None;
            let at = slice_of(s, || {
                let a = held.insert(self.lock()?);
                Ok(Positions::all(a.len()))
            })?;
            let a = held
                .as_mut()
                .ok_or_else(|| mmap_to_py(py, MmapError::Closed))?;
            return a.set_at(at, &values).py_err(py);
        }
        let (i, v) = (index_arg(index, "NumberFile")?, num_from_py(value)?);
        let mut a = self.lock()?;
        let i = norm_index(i, a.len(), "NumberFile")?;
        a.set(i, v).py_err(py)
    }

    fn __delitem__(&self, py: Python<'_>, index: isize) -> PyResult<()> {
        let mut a = self.lock_to_resize()?;
        let i = norm_index(index, a.len(), "NumberFile")?;
        if i + 1 != a.len() {
            return Err(Class::AppendOnly.err(
                py,
                "NumberFile only deletes from the end (del a[-1], a.pop())",
            ));
        }
        a.truncate(i).py_err(py)
    }

    fn append(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = num_from_py(value)?;
        self.lock_to_resize()?.push(v).py_err(py)
    }

    /// All values are converted first, then appended at once (or none are).
    fn extend(&self, py: Python<'_>, values: &Bound<'_, PyAny>) -> PyResult<()> {
        // Refused before an iterator is consumed in vain (and again under the lock).
        if self.exported() {
            return Err(resize_refused());
        }
        let values: Vec<Num> = values
            .try_iter()?
            .map(|v| num_from_py(&v?))
            .collect::<PyResult<_>>()?;
        self.lock_to_resize()?.extend(&values).py_err(py)
    }

    /// Appends `value` when `index` is the end as `list.insert` reads it (`len(a)` or
    /// beyond, or any index of an empty file); a NumberFile grows only at the end, so
    /// any other position is an IndexError.
    fn insert(&self, py: Python<'_>, index: isize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = num_from_py(value)?;
        let mut a = self.lock_to_resize()?;
        if clamp_index(index, a.len()) == a.len() {
            return a.push(v).py_err(py);
        }
        Err(Class::AppendOnly.err(
            py,
            "NumberFile only grows at the end: insert(len(a), value)",
        ))
    }

    /// Removes and returns the last element (only the end: `pop()` or `pop(-1)`).
    #[pyo3(signature = (index = -1))]
    fn pop(&self, py: Python<'_>, index: isize) -> PyResult<Py<PyAny>> {
        let mut a = self.lock_to_resize()?;
        if a.is_empty() {
            return Err(PyIndexError::new_err("pop from empty NumberFile"));
        }
        let i = norm_index(index, a.len(), "NumberFile")?;
        if i + 1 != a.len() {
            return Err(Class::AppendOnly.err(py, "NumberFile only pops from the end"));
        }
        let v = a.get(i).py_err(py)?;
        a.truncate(i).py_err(py)?;
        num_to_py(py, v)
    }

    #[pyo3(
        signature = (value, start = crate::sequence::SliceIndex(0), stop = crate::sequence::SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: crate::sequence::SliceIndex,
        stop: crate::sequence::SliceIndex,
    ) -> PyResult<usize> {
        let (start, stop) = (start.0, stop.0);
        let v = match num_from_py(value) {
            Ok(v) => v,
            Err(_) => return Err(PyValueError::new_err("value is not in NumberFile")),
        };
        let a = self.lock()?;
        let n = a.len();
        match a
            .find(v, clamp_index(start, n), clamp_index(stop, n))
            .py_err(py)?
            .0
        {
            Some(i) => Ok(i),
            None => Err(PyValueError::new_err("value is not in NumberFile")),
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

    fn __iter__(slf: Bound<'_, Self>) -> PyNumberFileIter {
        PyNumberFileIter {
            list: slf.unbind(),
            pos: AtomicUsize::new(0),
        }
    }

    /// The values as a plain list.
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let a = self.lock()?;
        let values = a.get_at(Positions::all(a.len())).py_err(py)?;
        Ok(nums_to_list(py, values)?.unbind())
    }

    /// Makes appends durable: values, then the header with the new length.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.detached(py, |a| a.flush())?.py_err(py)
    }

    /// Flushes and unmaps; refused (BufferError) while a buffer export is alive.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        // Checked under the lock the unmapping holds: a view taken before would dangle.
        let closed = self
            .inner
            .detached(py, |a| (!self.exported()).then(|| a.close()))?;
        closed.ok_or_else(resize_refused)?.py_err(py)
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
            "NumberFile({:?}, dtype={:?}, len={}{})",
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
        // operations that move or unmap them) are refused while `exports` > 0, which
        // they read under the lock `a` holds until the export is counted.
        unsafe { mmap_ffi::fill(slf.as_any(), view, flags, &ex)? };
        this.exports.fetch_add(1, Ordering::SeqCst);
        drop(a);
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

/// Iterator over an `NumberFile`.
#[pyclass(name = "_NumberFileIter", module = "memslim._memslim", frozen)]
pub struct PyNumberFileIter {
    list: Py<PyNumberFile>,
    pos: AtomicUsize,
}

#[pymethods]
impl PyNumberFileIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let a = self.list.get().lock()?;
        let i = self.pos.load(Ordering::Relaxed);
        if i >= a.len() {
            // Ended for good, as a list's iterator, whatever is appended after.
            self.pos.store(usize::MAX, Ordering::Relaxed);
            return Ok(None);
        }
        let v = num_to_py(py, a.get(i).py_err(py)?)?;
        self.pos.store(i + 1, Ordering::Relaxed);
        Ok(Some(v))
    }
}
