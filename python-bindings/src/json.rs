//! The native half of `memslim.dumps`: JSON text for a Python structure with memslim
//! objects anywhere inside it, written by the core writer ([`memslim_records::json`]).
//!
//! The plain parts (`dict`, `list`, `tuple`, `str`, `int`, `float`, `bool`, `None`) are
//! read here object by object; `DictList`, `TupleList`, `Row` and `Column` are written
//! straight from their columns; the other memslim objects go through
//! `memslim.to_builtins`. Anything this path cannot write exactly as `json.dumps` would
//! (a subclass of a container, an unknown object, a cycle, a NaN with `allow_nan=False`,
//! a string with lone surrogates...) makes it answer `None`, and `memslim/_json.py` hands
//! the whole object to Python's `json`, which writes it or raises its own exact error.

use std::sync::Arc;

use memslim_records::RecordList;
use memslim_records::json::{
    self, JsonError, JsonFormat, JsonWriter, RecordKeys, RecordShape, push_float,
};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use crate::records::{NativeJson, with_native_json};

/// Deeper structures go to Python's `json` (which has its own recursion limit).
const MAX_DEPTH: usize = 200;

static TO_BUILTINS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static VIA_BUILTINS: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

/// Why the native path stopped.
enum Stop {
    /// Python's `json` must write this object (or raise its error).
    Fallback,
    /// An error to raise as it is (a stale `Row`, a closed file...).
    Raise(PyErr),
}

impl From<JsonError> for Stop {
    fn from(_: JsonError) -> Self {
        Stop::Fallback
    }
}

type Step = Result<(), Stop>;

/// The escaped keys of the list the last `Row` came from, by its field names.
struct KeysCache {
    names: Vec<Arc<str>>,
    keys: RecordKeys,
}

struct Walker<'f> {
    w: JsonWriter<'f>,
    /// Containers being written (by address), to find cycles as `json` does.
    markers: Vec<usize>,
    depth: usize,
    row_keys: Option<KeysCache>,
}

fn native_err(e: PyErr) -> Stop {
    Stop::Raise(e)
}

impl Walker<'_> {
    fn walk(&mut self, o: &Bound<'_, PyAny>) -> Step {
        if o.is_none() {
            self.w.null();
        } else if let Ok(b) = o.cast_exact::<PyBool>() {
            self.w.bool(b.is_true());
        } else if let Ok(s) = o.cast::<PyString>() {
            // Lone surrogates have no UTF-8 form; `json` escapes them.
            let s = s.to_str().map_err(|_| Stop::Fallback)?;
            self.w.str(s);
        } else if o.is_instance_of::<PyInt>() {
            match o.extract::<i64>() {
                Ok(i) => self.w.int(i),
                Err(_) => {
                    let text = int_text(o).map_err(|_| Stop::Fallback)?;
                    self.w.raw(text.as_bytes());
                }
            }
        } else if let Ok(f) = o.cast::<PyFloat>() {
            self.w.float(f.value())?;
        } else if o.is_exact_instance_of::<PyList>() || o.is_exact_instance_of::<PyTuple>() {
            self.enter(o)?;
            self.w.begin_array();
            for item in o.try_iter().map_err(native_err)? {
                let item = item.map_err(native_err)?;
                self.w.item();
                self.walk(&item)?;
            }
            self.w.end_array();
            self.leave();
        } else if let Ok(d) = o.cast_exact::<PyDict>() {
            self.enter(o)?;
            self.dict(d)?;
            self.leave();
        } else if !self.memslim(o)? {
            return Err(Stop::Fallback);
        }
        Ok(())
    }

    fn enter(&mut self, o: &Bound<'_, PyAny>) -> Step {
        let id = o.as_ptr() as usize;
        if self.markers.contains(&id) || self.depth >= MAX_DEPTH {
            return Err(Stop::Fallback);
        }
        self.markers.push(id);
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.markers.pop();
        self.depth -= 1;
    }

    fn dict(&mut self, d: &Bound<'_, PyDict>) -> Step {
        let fmt = self.w.format();
        self.w.begin_object();
        if fmt.sort_keys {
            // Python sorts the keys itself when they are not all plain strings.
            let mut items = Vec::with_capacity(d.len());
            for (k, v) in d.iter() {
                let Ok(k) = k.cast_exact::<PyString>() else {
                    return Err(Stop::Fallback);
                };
                items.push((k.to_str().map_err(|_| Stop::Fallback)?.to_owned(), v));
            }
            items.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in items {
                self.w.key(&k);
                self.walk(&v)?;
            }
        } else {
            for (k, v) in d.iter() {
                if let Ok(s) = k.cast::<PyString>() {
                    self.w.key(s.to_str().map_err(|_| Stop::Fallback)?);
                } else if let Some(text) = key_text(&k, fmt)? {
                    self.w.key(&text);
                } else {
                    continue;
                }
                self.walk(&v)?;
            }
        }
        self.w.end_object();
        Ok(())
    }

    /// Writes a memslim object; `false` if `o` is none.
    fn memslim(&mut self, o: &Bound<'_, PyAny>) -> Result<bool, Stop> {
        let Self { w, row_keys, .. } = self;
        let done = with_native_json(o, |n| -> Result<(), JsonError> {
            match n {
                NativeJson::List(inner, tuples) => {
                    let shape = if tuples {
                        RecordShape::Array
                    } else {
                        RecordShape::Object
                    };
                    w.records(inner, 0..inner.len(), shape)
                }
                NativeJson::Row(inner, row) => {
                    let keys = cached_keys(row_keys, inner, w.format());
                    w.record(inner, row, keys, RecordShape::Object)
                }
                NativeJson::Column(view) => w.column(view),
            }
        })
        .map_err(native_err)?;
        if let Some(r) = done {
            r?;
            return Ok(true);
        }
        // Other memslim objects: through their plain form.
        let py = o.py();
        let types = VIA_BUILTINS
            .get_or_try_init(py, || -> PyResult<Vec<Py<PyType>>> {
                let m = py.import("memslim._memslim")?;
                [
                    "DocList",
                    "DocView",
                    "ListView",
                    "DictListFile",
                    "FileRow",
                    "FileSlice",
                    "FileColumn",
                    "NumberFile",
                ]
                .iter()
                .map(|n| Ok(m.getattr(*n)?.cast_into::<PyType>()?.unbind()))
                .collect()
            })
            .map_err(native_err)?;
        let t = o.get_type();
        if !types.iter().any(|x| t.is(x.bind(py))) {
            return Ok(false);
        }
        let to_builtins = TO_BUILTINS
            .import(py, "memslim._json", "to_builtins")
            .map_err(native_err)?;
        let plain = to_builtins.call1((o,)).map_err(native_err)?;
        self.enter(o)?;
        self.walk(&plain)?;
        self.leave();
        Ok(true)
    }
}

/// The keys of `inner`'s fields, reused while rows come from lists with the same fields.
fn cached_keys<'c>(
    cache: &'c mut Option<KeysCache>,
    inner: &RecordList,
    fmt: &JsonFormat,
) -> &'c RecordKeys {
    let n = inner.num_fields();
    let same = cache.as_ref().is_some_and(|c| {
        c.names.len() == n
            && c.names
                .iter()
                .enumerate()
                .all(|(j, a)| Arc::ptr_eq(a, inner.field_name_arc(j)))
    });
    if !same {
        *cache = Some(KeysCache {
            names: (0..n).map(|j| inner.field_name_arc(j).clone()).collect(),
            keys: RecordKeys::new(inner, fmt),
        });
    }
    match cache {
        Some(c) => &c.keys,
        None => unreachable!("just filled"),
    }
}

/// `int.__repr__(o)`, which `json` uses for ints (and int subclasses).
fn int_text(o: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = o.py();
    py.get_type::<PyInt>()
        .getattr(pyo3::intern!(py, "__repr__"))?
        .call1((o,))?
        .extract()
}

/// A non-`str` dict key as `json` converts it; `None` to skip it (`skipkeys`).
fn key_text(k: &Bound<'_, PyAny>, fmt: &JsonFormat) -> Result<Option<String>, Stop> {
    if let Ok(f) = k.cast::<PyFloat>() {
        let f = f.value();
        if !f.is_finite() && !fmt.allow_nan {
            return Err(Stop::Fallback);
        }
        let mut b = Vec::new();
        push_float(&mut b, f);
        return Ok(Some(String::from_utf8(b).map_err(|_| Stop::Fallback)?));
    }
    if let Ok(b) = k.cast_exact::<PyBool>() {
        return Ok(Some(if b.is_true() { "true" } else { "false" }.into()));
    }
    if k.is_none() {
        return Ok(Some("null".into()));
    }
    if k.is_instance_of::<PyInt>() {
        return int_text(k).map(Some).map_err(|_| Stop::Fallback);
    }
    if fmt.skipkeys {
        return Ok(None);
    }
    Err(Stop::Fallback)
}

/// A whole `DictList` or `TupleList` written straight into the `str` that is returned,
/// when the text is known to be ASCII (`ensure_ascii` and ASCII separators, the
/// defaults); `None` for anything else (the general path then writes it).
///
/// The limited API has no `PyUnicode_New`, so the string is made by `PyUnicode_Resize`
/// (which leaves the new characters unwritten) and written through the pointer
/// `PyUnicode_AsUTF8AndSize` gives: for an ASCII string CPython's UTF-8 form *is* its
/// data. That is checked on the string itself before anything relies on it (a byte
/// written through the pointer must read back through `PyUnicode_ReadChar`); if it
/// does not hold, the general path runs. The text is then written once (by two threads
/// on long lists) and copied once, with no other buffer the size of the text: see
/// [`memslim_records::json::records_into`].
fn records_str(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    fmt: &JsonFormat,
) -> Result<Option<Py<PyString>>, Stop> {
    let ascii_format = fmt.ensure_ascii
        && fmt.item_separator.is_ascii()
        && fmt.key_separator.is_ascii()
        && fmt.indent.as_deref().is_none_or(str::is_ascii);
    if !ascii_format {
        return Ok(None);
    }
    let done = with_native_json(obj, |n| match n {
        NativeJson::List(inner, tuples) => {
            let shape = if tuples {
                RecordShape::Array
            } else {
                RecordShape::Object
            };
            Some(write_records_str(py, inner, shape, fmt))
        }
        _ => None,
    })
    .map_err(native_err)?;
    match done.flatten() {
        Some(r) => r,
        None => Ok(None),
    }
}

/// A new `str` of `len` ASCII characters, not yet written, and its data as bytes; `None`
/// if the string's UTF-8 form is not its data (see [`records_str`]).
fn blank_ascii_str(py: Python<'_>, len: usize) -> PyResult<Option<(Py<PyString>, *mut u8)>> {
    let len = len.max(2);
    let n = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("text too long"))?;
    // SAFETY: a two-byte ASCII C string and its length; the result is a new reference
    // (or NULL with an exception set, which `from_owned_ptr_or_err` raises).
    let s = unsafe { ffi::PyUnicode_FromStringAndSize(c"[]".as_ptr(), 2) };
    // SAFETY: `s` is a new reference or NULL.
    let s = unsafe { Bound::from_owned_ptr_or_err(py, s)? };
    let mut p = s.into_ptr();
    // SAFETY: `p` is a reference we own to a `str`; `PyUnicode_Resize` either resizes
    // it in place (we hold its only reference, it has no hash yet) or replaces `*p` with
    // a new string, releasing the old one; on failure `*p` is left as it was.
    let rc = unsafe { ffi::PyUnicode_Resize(&mut p, n) };
    // SAFETY: `p` is the reference we own, whatever `PyUnicode_Resize` did.
    let s = unsafe { Bound::from_owned_ptr(py, p) }.cast_into::<PyString>()?;
    if rc != 0 {
        return Err(PyErr::fetch(py));
    }
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live `str`; `size` is a valid out-pointer.
    let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `s` is a live `str`.
    let chars = unsafe { ffi::PyUnicode_GetLength(s.as_ptr()) };
    if size != n || chars != n {
        return Ok(None);
    }
    let data = data.cast_mut().cast::<u8>();
    // SAFETY: `data` points to `size` bytes (`PyUnicode_AsUTF8AndSize`); nobody else
    // holds this new string, so writing its first byte races with nothing. If the
    // pointer is not the string's own data, the write changes only the UTF-8 copy,
    // which is dropped with the string.
    unsafe { data.write(b'A') };
    // SAFETY: index 0 of a live string of length `n > 0`.
    let first = unsafe { ffi::PyUnicode_ReadChar(s.as_ptr(), 0) };
    if first != u32::from(b'A') {
        return Ok(None);
    }
    Ok(Some((s.unbind(), data)))
}

fn write_records_str(
    py: Python<'_>,
    inner: &RecordList,
    shape: RecordShape,
    fmt: &JsonFormat,
) -> Result<Option<Py<PyString>>, Stop> {
    let rows = 0..inner.len();
    let est = json::estimate_records_len(inner, rows.clone(), shape, fmt)?;
    let Some((s, data)) = blank_ascii_str(py, est).map_err(native_err)? else {
        return Ok(None);
    };
    let s = s.into_bound(py);
    let cap = est.max(2);
    // SAFETY: `data` is the data of the new string `s`, `cap` bytes long (checked by
    // `blank_ascii_str`); `s` is alive for as long as `dest` is used and nobody else
    // holds it, so this is the only view of those bytes. Only ASCII bytes are kept in
    // it (checked below), so the string stays a valid ASCII `str`.
    let dest = unsafe { std::slice::from_raw_parts_mut(data, cap) };
    let placed = json::records_into(inner, rows, shape, fmt, dest)?;
    if !placed.ascii {
        return Ok(None);
    }
    let len = placed.len + placed.overflow.len();
    let n = ffi::Py_ssize_t::try_from(len).map_err(|_| Stop::Fallback)?;
    let mut p = s.into_ptr();
    // SAFETY: as in `blank_ascii_str`: we own the only reference to `p`, a `str` with no
    // hash; the first `placed.len` characters are written, and the rest is written
    // below before anyone sees the string. Shrinking or growing keeps the written part.
    let rc = unsafe { ffi::PyUnicode_Resize(&mut p, n) };
    // SAFETY: `p` is the reference we own, whatever `PyUnicode_Resize` did.
    let s = unsafe { Bound::from_owned_ptr(py, p) }
        .cast_into::<PyString>()
        .map_err(|e| native_err(e.into()))?;
    if rc != 0 {
        return Err(Stop::Raise(PyErr::fetch(py)));
    }
    if !placed.overflow.is_empty() {
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: `s` is a live `str`; `size` is a valid out-pointer.
        let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
        if data.is_null() || size != n {
            return Err(Stop::Fallback);
        }
        // SAFETY: the (possibly moved) data of the same ASCII string, `len` bytes long,
        // is still its UTF-8 form; the overflow goes to its end, after `placed.len`.
        let dest = unsafe { std::slice::from_raw_parts_mut(data.cast_mut().cast::<u8>(), len) };
        dest[placed.len..].copy_from_slice(&placed.overflow);
    }
    Ok(Some(s.unbind()))
}

/// JSON text for `obj` exactly as `json.dumps` with these arguments writes it, or `None`
/// when only Python's `json` can (see the module docs).
#[pyfunction]
#[pyo3(signature = (obj, ensure_ascii, allow_nan, sort_keys, skipkeys, indent, item_separator, key_separator, int_max_str_digits))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn _dumps_native(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    ensure_ascii: bool,
    allow_nan: bool,
    sort_keys: bool,
    skipkeys: bool,
    indent: Option<String>,
    item_separator: String,
    key_separator: String,
    int_max_str_digits: usize,
) -> PyResult<Option<Py<PyString>>> {
    let fmt = JsonFormat {
        ensure_ascii,
        allow_nan,
        sort_keys,
        skipkeys,
        indent,
        item_separator,
        key_separator,
        int_max_str_digits,
    };
    match records_str(py, obj, &fmt) {
        Ok(Some(s)) => return Ok(Some(s)),
        Ok(None) => {}
        Err(Stop::Fallback) => return Ok(None),
        Err(Stop::Raise(e)) => return Err(e),
    }
    let mut walker = Walker {
        w: JsonWriter::new(&fmt),
        markers: Vec::new(),
        depth: 0,
        row_keys: None,
    };
    match walker.walk(obj) {
        Ok(()) => {}
        Err(Stop::Fallback) => return Ok(None),
        Err(Stop::Raise(e)) => return Err(e),
    }
    // The writer only ever writes UTF-8; Python decodes it (an ASCII scan for the
    // default `ensure_ascii`) while copying it into the string.
    let bytes = walker.w.into_bytes();
    Ok(Some(PyString::from_bytes(py, &bytes)?.unbind()))
}

/// Registers this module's functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_dumps_native, m)?)?;
    Ok(())
}
