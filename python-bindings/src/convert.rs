//! Python objects to core cells and back.
//!
//! Exact types decide the storage: `bool` stays apart from `int`, `tuple` from `list`;
//! `str`, `bytes`, `int`, `float`, `None` go to typed columns; `list`/`tuple`/`dict`
//! and ints beyond 64 bits go to the variant encoding, as do dates, times, durations,
//! decimals, UUIDs and complex numbers, field by field (see `ext.rs`); any other object
//! (subclasses of the built-ins included, so their type survives) is pickled into it.
//!
//! Unpickling can run code chosen by whoever wrote the bytes, so a pickled value is
//! rebuilt only from bytes this process wrote itself ([`Trust::Own`]) or that the user
//! said they trust; anything else raises `memslim.UntrustedDataError`.

use memslim_records::variant::{self, Value, Writer};
use memslim_records::{Cell, CellRef};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{IntoPyObjectExt, intern};

use crate::errors::corrupt;
use crate::scalar::{Scalar, scalar_cell, scalar_of};
use crate::sequence::type_name;

/// Nesting deeper than this is refused (and a cycle is caught before it): the depth the
/// variant decoder accepts, so whatever is stored can be read back.
const MAX_NESTING: usize = variant::MAX_DEPTH;

/// Where stored bytes came from, which decides whether a pickled value may be loaded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Trust {
    /// Written by this process, or from a source the user said they trust.
    Own,
    /// From a file or an import the user did not vouch for: pickled values are refused.
    Foreign,
}

/// Python ints from [`INT_CACHE_LOW`] up to (not including) [`INT_CACHE_HIGH`] are made
/// once per process and shared, as CPython shares its own from -5 to 256: years, times of
/// day, flight numbers, small counts and codes then cost a reference each instead of an
/// allocation and a free. Every one made, they add about 420 KB of RSS to the process
/// (measured: a fresh process reading each value once).
const INT_CACHE_LOW: i64 = -1024;
const INT_CACHE_HIGH: i64 = 8192;
static INTS: [std::sync::OnceLock<Py<PyInt>>; (INT_CACHE_HIGH - INT_CACHE_LOW) as usize] =
    [const { std::sync::OnceLock::new() }; (INT_CACHE_HIGH - INT_CACHE_LOW) as usize];

/// `v` as a Python int: the shared one if it is in the cached range. Inlined into the
/// TupleList row filler's loop; [`int_to_py_outlined`] elsewhere.
#[inline(always)]
pub(crate) fn int_to_py(py: Python<'_>, v: i64) -> Bound<'_, PyAny> {
    let slot = usize::try_from(v.wrapping_sub(INT_CACHE_LOW))
        .ok()
        .and_then(|k| INTS.get(k));
    match slot {
        Some(slot) => match slot.get() {
            Some(obj) => obj.bind(py).clone().into_any(),
            None => first_shared_int(py, slot, v),
        },
        None => PyInt::new(py, v).into_any(),
    }
}

/// [`int_to_py`] out of line: the readers that inline [`cell_to_py_from`] (a DictList
/// row's `r["qty"]`) stay small.
#[inline(never)]
pub(crate) fn int_to_py_outlined(py: Python<'_>, v: i64) -> Bound<'_, PyAny> {
    int_to_py(py, v)
}

/// The first read of a cached int: made and kept for the rest of the process.
#[cold]
#[inline(never)]
fn first_shared_int<'py>(
    py: Python<'py>,
    slot: &std::sync::OnceLock<Py<PyInt>>,
    v: i64,
) -> Bound<'py, PyAny> {
    slot.get_or_init(|| PyInt::new(py, v).unbind())
        .bind(py)
        .clone()
        .into_any()
}

static PICKLE_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static PICKLE_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static INT_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `__ne__` from an `__eq__` result: `NotImplemented` passes through, a bool flips.
pub(crate) fn negated(py: Python<'_>, eq: Py<PyAny>) -> PyResult<Py<PyAny>> {
    if eq.is(py.NotImplemented()) {
        return Ok(eq);
    }
    (!eq.extract::<bool>(py)?).into_py_any(py)
}

/// `__richcmp__` from `compare`, which answers every operator: `!=` is asked as `==` and
/// [`negated`], as the types' separate `__ne__` methods answer it.
pub(crate) fn richcmp_ne_as_eq(
    py: Python<'_>,
    op: pyo3::basic::CompareOp,
    compare: impl FnOnce(pyo3::basic::CompareOp) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    match op {
        pyo3::basic::CompareOp::Ne => negated(py, compare(pyo3::basic::CompareOp::Eq)?),
        op => compare(op),
    }
}

/// A record's `(key, value)` pairs, kept alive while cells borrow from them.
pub(crate) type Items<'py> = Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>;

enum Pre<'a> {
    Cell(Cell<'a>),
    Enc(usize, usize),
}

/// Where a conversion error happened, for messages naming row and field.
pub(crate) fn at(row: usize, key: &str) -> String {
    format!("row {row}, field {key:?}")
}

/// Converts a record's items to cells. Encoded values are written to `buf`.
///
/// # Errors
/// `TypeError` naming row and field for a non-`str` key or an unstorable value,
/// `ValueError` for cyclic or too deeply nested values.
pub(crate) fn record_cells<'a>(
    items: &'a Items<'_>,
    buf: &'a mut Vec<u8>,
    row: usize,
) -> PyResult<Vec<(&'a str, Cell<'a>)>> {
    batch_cells(items, &[(0, items.len())], buf, |_| row)
}

/// Converts many records' items at once: record `k` is `items[bounds[k].0..bounds[k].1]`
/// and an error about it names row `row(k)`. The cells come back flat, in the same
/// positions.
///
/// # Errors
/// As [`record_cells`], for the first bad record.
pub(crate) fn batch_cells<'a>(
    items: &'a [(Bound<'_, PyAny>, Bound<'_, PyAny>)],
    bounds: &[(usize, usize)],
    buf: &'a mut Vec<u8>,
    row: impl Fn(usize) -> usize,
) -> PyResult<Vec<(&'a str, Cell<'a>)>> {
    buf.clear();
    let mut pre: Vec<(&'a str, Pre<'a>)> = Vec::with_capacity(items.len());
    for (k, &(a, b)) in bounds.iter().enumerate() {
        let row = row(k);
        for (key, v) in &items[a..b] {
            let Ok(ks) = key.cast::<PyString>() else {
                return Err(crate::errors::schema_error(
                    key.py(),
                    format!(
                        "row {row}: key {} is of type {}; record keys must be str",
                        key.repr().map(|r| r.to_string()).unwrap_or_default(),
                        type_name(key)
                    ),
                ));
            };
            let k = ks.to_str().map_err(|_| {
                PyValueError::new_err(format!(
                    "row {row}: key is not valid unicode (lone surrogate)"
                ))
            })?;
            pre.push((k, scalar_or_encode(v, buf, row, k)?));
        }
    }
    let buf: &'a [u8] = buf;
    Ok(pre
        .into_iter()
        .map(|(k, p)| {
            let c = match p {
                Pre::Cell(c) => c,
                Pre::Enc(s, e) => Cell::Encoded(&buf[s..e]),
            };
            (k, c)
        })
        .collect())
}

fn scalar_or_encode<'a>(
    v: &'a Bound<'_, PyAny>,
    buf: &mut Vec<u8>,
    row: usize,
    key: &str,
) -> PyResult<Pre<'a>> {
    if let Some(c) = scalar_cell(v) {
        return Ok(Pre::Cell(c));
    }
    let start = buf.len();
    let mut path = Vec::new();
    encode(v, buf, &mut path).map_err(|e| {
        let py = v.py();
        let msg = format!("{}: {}", at(row, key), e.value(py));
        if e.is_instance_of::<PyValueError>(py) {
            PyValueError::new_err(msg)
        } else if e.is_instance_of::<PyMemoryError>(py) {
            PyMemoryError::new_err(msg)
        } else {
            PyTypeError::new_err(msg)
        }
    })?;
    Ok(Pre::Enc(start, buf.len()))
}

/// Writes `v` in the variant encoding; `path` holds the containers being encoded.
pub(crate) fn encode(
    v: &Bound<'_, PyAny>,
    buf: &mut Vec<u8>,
    path: &mut Vec<usize>,
) -> PyResult<()> {
    let py = v.py();
    if let Some(x) = scalar_of(v) {
        if let Scalar::Str(s) = x {
            room_for_blob(buf, s.len())?;
        } else if let Scalar::Bytes(b) = x {
            room_for_blob(buf, b.len())?;
        }
        write_scalar(buf, x);
    } else if v.is_exact_instance_of::<PyInt>() {
        // Beyond 64 bits (a 64-bit int is a scalar cell).
        Writer::new(buf).big_int(big_int_to_le(v)?.as_bytes());
    } else if v.is_exact_instance_of::<PyList>()
        || v.is_exact_instance_of::<PyTuple>()
        || v.is_exact_instance_of::<PyDict>()
    {
        let id = v.as_ptr() as usize;
        if path.contains(&id) {
            return Err(PyValueError::new_err(
                "value contains itself (cyclic structure)",
            ));
        }
        if path.len() >= MAX_NESTING {
            return Err(PyValueError::new_err(format!(
                "value nested deeper than {MAX_NESTING} levels"
            )));
        }
        path.push(id);
        if let Ok(l) = v.cast_exact::<PyList>() {
            // Snapshot: encoding an element can run Python code (pickling).
            let items: Vec<Bound<'_, PyAny>> = l.iter().collect();
            Writer::new(buf).begin_list(items.len());
            for it in &items {
                encode(it, buf, path)?;
            }
        } else if let Ok(t) = v.cast_exact::<PyTuple>() {
            Writer::new(buf).begin_tuple(t.len());
            for it in t.iter() {
                encode(&it, buf, path)?;
            }
        } else if let Ok(d) = v.cast_exact::<PyDict>() {
            let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = d.iter().collect();
            Writer::new(buf).begin_dict(items.len());
            for (k, val) in &items {
                encode(k, buf, path)?;
                encode(val, buf, path)?;
            }
        }
        path.pop();
    } else if let Some(e) = crate::ext::to_ext(v)? {
        Writer::new(buf).ext(&e);
    } else {
        let dumps = PICKLE_DUMPS.import(py, "pickle", "dumps")?;
        let b = dumps.call1((v, 5)).map_err(|e| {
            if e.is_instance_of::<PyMemoryError>(py) {
                return e; // no memory is no type error
            }
            PyTypeError::new_err(format!(
                "cannot store a value of type {}: it is not a str, bytes, number, bool, None, \
                 list, tuple or dict, and pickling it failed: {}",
                type_name(v),
                e.value(py)
            ))
        })?;
        let b = b.cast::<PyBytes>()?.as_bytes();
        room_for_blob(buf, b.len())?;
        Writer::new(buf).opaque(b);
    }
    Ok(())
}

/// Makes room in `buf` for a string or bytes of `len` bytes about to be encoded, with a
/// fallible allocation when it is large: its size is the value's, and memory that is
/// not there must be a `MemoryError`, not an abort. (`exact`: `buf` need not double
/// past one large value.)
fn room_for_blob(buf: &mut Vec<u8>, len: usize) -> PyResult<()> {
    /// Smaller values grow the buffer as any push does.
    const LARGE: usize = 1 << 20;
    // A tag and a length varint come before the bytes.
    let need = len.saturating_add(11);
    if len >= LARGE && buf.capacity() - buf.len() < need && buf.try_reserve_exact(need).is_err() {
        return Err(PyMemoryError::new_err(format!(
            "cannot allocate {} bytes to encode a value of {len} bytes",
            buf.len().saturating_add(need)
        )));
    }
    Ok(())
}

/// An `int` as the little-endian two's complement bytes the variant encoding and the
/// documents store for ints beyond 64 bits.
///
/// `int`'s own methods, not the value's: an `int` subclass's overrides are not called
/// (its value is what is stored), so no Python code runs (a `DocList` converts with its
/// tables locked).
pub(crate) fn big_int_to_le<'py>(v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let py = v.py();
    let int = py.get_type::<PyInt>();
    let bits: usize = int
        .call_method1(intern!(py, "bit_length"), (v,))?
        .extract()?;
    let kw = PyDict::new(py);
    kw.set_item(intern!(py, "signed"), true)?;
    let args = (v, bits / 8 + 1, "little");
    let le = int.call_method(intern!(py, "to_bytes"), args, Some(&kw))?;
    Ok(le.cast_into::<PyBytes>()?)
}

/// The `int` of [`big_int_to_le`]'s bytes.
pub(crate) fn big_int_from_le<'py>(py: Python<'py>, le: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let int = INT_TYPE.import(py, "builtins", "int")?;
    let kw = PyDict::new(py);
    kw.set_item(intern!(py, "signed"), true)?;
    int.call_method("from_bytes", (PyBytes::new(py, le), "little"), Some(&kw))
}

/// Writes a plain scalar in the variant encoding.
fn write_scalar(buf: &mut Vec<u8>, x: Scalar<'_>) {
    let mut w = Writer::new(buf);
    match x {
        Scalar::None => w.none(),
        Scalar::Bool(b) => w.bool(b),
        Scalar::Int(i) => w.int(i),
        Scalar::Float(f) => w.float(f),
        Scalar::Str(s) => w.str(s),
        Scalar::Bytes(b) => w.bytes(b),
    }
}

/// A stored value of this process's own as a Python object.
#[inline]
pub(crate) fn cell_to_py<'py>(py: Python<'py>, c: CellRef<'_>) -> PyResult<Bound<'py, PyAny>> {
    cell_to_py_from(py, c, Trust::Own)
}

/// A stored value as a Python object; a pickled value from a [`Trust::Foreign`] source
/// raises `memslim.UntrustedDataError` instead of being loaded.
///
/// Inlined for the scalar cells, which a row loop reads most (`row["price"]`); the rest
/// go through [`other_cell_to_py`].
#[inline]
pub(crate) fn cell_to_py_from<'py>(
    py: Python<'py>,
    c: CellRef<'_>,
    trust: Trust,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match c {
        CellRef::Absent | CellRef::Null => py.None().into_bound(py),
        CellRef::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        CellRef::Int(i) => int_to_py_outlined(py, i),
        CellRef::Float(f) => PyFloat::new(py, f).into_any(),
        c => other_cell_to_py(py, c, trust)?,
    })
}

/// [`cell_to_py_from`] for strings, bytes and encoded values.
#[inline(never)]
fn other_cell_to_py<'py>(
    py: Python<'py>,
    c: CellRef<'_>,
    trust: Trust,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match c {
        // Decoded by CPython, which raises on bytes that are not UTF-8 (pyo3's
        // `PyString::new` panics instead): a string read from a mapped file lies in bytes
        // another program may overwrite (unsupported, but an error, never a panic).
        CellRef::Str(s) | CellRef::DictStr(_, s) => {
            PyString::from_bytes(py, s.as_bytes())?.into_any()
        }
        CellRef::Bytes(b) => PyBytes::new(py, b).into_any(),
        CellRef::Encoded(b) => {
            let v = variant::decode(b).map_err(|e| corrupt(py, e.to_string()))?;
            value_to_py_from(py, &v, trust)?
        }
        // The scalars, which the caller has already converted.
        scalar => cell_to_py_from(py, scalar, trust)?,
    })
}

/// The message of `memslim.UntrustedDataError` for a pickled value in `what`.
pub(crate) fn untrusted_message(what: &str) -> String {
    format!(
        "{what} holds a pickled Python object, and loading it could run code chosen by \
         whoever wrote the data; pass trusted=True if you trust its source (see SECURITY.md)"
    )
}

/// `memslim.UntrustedDataError` naming the first record of `list` (read from `what`, a
/// source the user did not vouch for) that holds a pickled value, if any does.
pub(crate) fn refuse_pickled(
    py: Python<'_>,
    list: &memslim_records::RecordList,
    what: &str,
) -> PyResult<()> {
    match py.detach(|| list.first_opaque()) {
        Some((row, j)) => Err(crate::errors::untrusted(
            py,
            untrusted_message(&format!(
                "row {row}, field {:?} of {what}",
                list.field_name(j)
            )),
        )),
        None => Ok(()),
    }
}

/// A stored value of this process's own as a new object that shares nothing, as
/// `json.loads` would make it: [`cell_to_py`], except that an int in the shared range
/// ([`int_to_py`]) is a new one too, at any depth. For detached copies whose size is
/// measured object by object (`memslim.report`'s list of dicts).
pub(crate) fn cell_to_py_fresh<'py>(
    py: Python<'py>,
    c: CellRef<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    match c {
        CellRef::Int(i) => Ok(PyInt::new(py, i).into_any()),
        CellRef::Encoded(b) => {
            let v = variant::decode(b).map_err(|e| corrupt(py, e.to_string()))?;
            value_to_py_as(py, &v, Trust::Own, Ints::Fresh)
        }
        c => cell_to_py(py, c),
    }
}

/// Whether decoded ints may be the shared ones ([`int_to_py`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ints {
    Shared,
    Fresh,
}

/// A decoded variant value as a Python object, refusing pickled values from a
/// [`Trust::Foreign`] source.
pub(crate) fn value_to_py_from<'py>(
    py: Python<'py>,
    v: &Value,
    trust: Trust,
) -> PyResult<Bound<'py, PyAny>> {
    value_to_py_as(py, v, trust, Ints::Shared)
}

fn value_to_py_as<'py>(
    py: Python<'py>,
    v: &Value,
    trust: Trust,
    ints: Ints,
) -> PyResult<Bound<'py, PyAny>> {
    let value_to_py = |py, v| value_to_py_as(py, v, trust, ints);
    Ok(match v {
        Value::None => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) if ints == Ints::Fresh => PyInt::new(py, *i).into_any(),
        Value::Int(i) => int_to_py_outlined(py, *i),
        Value::BigInt(le) => big_int_from_le(py, le)?,
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::List(items) => {
            let l = PyList::empty(py);
            for it in items {
                l.append(value_to_py(py, it)?)?;
            }
            l.into_any()
        }
        Value::Tuple(items) => {
            let v: Vec<Bound<'py, PyAny>> = items
                .iter()
                .map(|it| value_to_py(py, it))
                .collect::<PyResult<_>>()?;
            PyTuple::new(py, v)?.into_any()
        }
        Value::Dict(items) => {
            let d = PyDict::new(py);
            for (k, val) in items {
                d.set_item(value_to_py(py, k)?, value_to_py(py, val)?)?;
            }
            d.into_any()
        }
        Value::Opaque(_) if trust == Trust::Foreign => {
            return Err(crate::errors::untrusted(py, untrusted_message("the value")));
        }
        Value::Opaque(b) => {
            let loads = PICKLE_LOADS.import(py, "pickle", "loads")?;
            loads.call1((PyBytes::new(py, b),))?
        }
        Value::Ext(e) => crate::ext::ext_to_py(py, e)?,
    })
}
