//! Python scalars as core cells: the one place that decides which Python values are
//! stored as typed cells.
//!
//! Exact types only, so subclasses (and their type) go the general way: `None`,
//! `bool` (kept apart from `int`), `int` within 64 bits, `float` (any value, `-0.0` and
//! NaN included), `str` with valid UTF-8 (no lone surrogates), and `bytes`. Anything
//! else (big ints, containers, subclasses, other objects) gets `None`, and each caller
//! goes on its own way: the variant encoding for records, a document for `DocList`,
//! an error for `where()`.
//!
//! A cell borrows the object's own data (a `str`'s cached UTF-8 form, a `bytes`
//! buffer), which lives, unchanged, as long as the object.

use std::ffi::c_int;

use memslim_records::Cell;
use pyo3::ffi;
use pyo3::prelude::*;

/// A plain Python scalar (module docs), borrowing its text or bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scalar<'a> {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Scalar<'a> {
    /// The core cell holding this value.
    #[inline]
    pub(crate) fn cell(self) -> Cell<'a> {
        match self {
            Scalar::None => Cell::Null,
            Scalar::Bool(b) => Cell::Bool(b),
            Scalar::Int(i) => Cell::Int(i),
            Scalar::Float(f) => Cell::Float(f),
            Scalar::Str(s) => Cell::Str(s),
            Scalar::Bytes(b) => Cell::Bytes(b),
        }
    }
}

/// `v` as a [`Scalar`] when it is a plain scalar (module docs), else `None`.
///
/// # Memory
/// No copy: the value borrows `v`'s text or bytes for as long as `v` is borrowed.
#[inline]
pub(crate) fn scalar_of<'a>(v: &'a Bound<'_, PyAny>) -> Option<Scalar<'a>> {
    // `v` holds a strong reference for `'a`, so the data the value borrows stays alive.
    scalar(v.as_ptr())
}

/// [`scalar_of`] as a core cell.
#[inline]
pub(crate) fn scalar_cell<'a>(v: &'a Bound<'_, PyAny>) -> Option<Cell<'a>> {
    scalar_of(v).map(Scalar::cell)
}

/// [`scalar_of`] for a borrowed reference: the caller keeps `v` alive (and unchanged)
/// for `'a`.
#[inline]
pub(crate) fn scalar<'a>(v: *mut ffi::PyObject) -> Option<Scalar<'a>> {
    // SAFETY: `v` is a live object that the caller keeps alive for `'a` (for
    // plain_records: a value of a dict that no Python code can mutate while it runs);
    // `Py_None`/`Py_True` only return pointers.
    let (none, truth) = unsafe { (ffi::Py_None(), ffi::Py_True()) };
    if v == none {
        Some(Scalar::None)
    } else if is_type(v, &raw mut ffi::PyUnicode_Type) {
        utf8(v).map(Scalar::Str)
    } else if is_type(v, &raw mut ffi::PyFloat_Type) {
        // SAFETY: `v` is a live exact float; reading it runs no Python code and cannot fail.
        Some(Scalar::Float(unsafe { ffi::PyFloat_AsDouble(v) }))
    } else if is_type(v, &raw mut ffi::PyLong_Type) {
        let mut overflow: c_int = 0;
        // SAFETY: `v` is a live exact int, so no `__index__` is called; beyond 64 bits the
        // function sets `overflow` and no exception.
        let x = unsafe { ffi::PyLong_AsLongLongAndOverflow(v, &mut overflow) };
        (overflow == 0).then_some(Scalar::Int(x))
    } else if is_type(v, &raw mut ffi::PyBool_Type) {
        Some(Scalar::Bool(v == truth))
    } else if is_type(v, &raw mut ffi::PyBytes_Type) {
        // SAFETY: `v` is a live exact bytes object: its buffer holds `PyBytes_Size` bytes
        // and lives (immutable) as long as the object, which outlives the cell (the
        // caller's contract). Neither call runs Python code.
        let b = unsafe {
            let p = ffi::PyBytes_AsString(v);
            let n = ffi::PyBytes_Size(v);
            std::slice::from_raw_parts(p.cast::<u8>(), n as usize)
        };
        Some(Scalar::Bytes(b))
    } else {
        None
    }
}

/// The UTF-8 text of an exact `str`, or `None` if it holds lone surrogates (or the
/// memory for its UTF-8 form cannot be had: the general path then raises).
pub(crate) fn utf8<'a>(s: *mut ffi::PyObject) -> Option<&'a str> {
    let mut n: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live exact str (every caller checks the exact type first).
    // `PyUnicode_AsUTF8AndSize` runs no Python code; it returns the string's UTF-8 form,
    // cached in the object (freed with it, never changed: a str is immutable), which
    // outlives the borrow (the caller keeps `s` alive for `'a`). That form is valid
    // UTF-8 by CPython's contract: it is the string's own buffer when the string is
    // ASCII, else encoded from its code points with the strict error handler, which
    // fails (NULL, `UnicodeEncodeError`) on the only code points UTF-8 cannot hold,
    // lone surrogates; no bytes from outside the interpreter reach it (a str made from
    // bytes was decoded, and so checked, when it was made). On failure we clear the
    // error: the general path handles such strings (`test_scalar.py` tries them).
    // Checking again here would cost a pass over every string appended.
    unsafe {
        let p = ffi::PyUnicode_AsUTF8AndSize(s, &mut n);
        if p.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let bytes = std::slice::from_raw_parts(p.cast::<u8>(), n as usize);
        Some(std::str::from_utf8_unchecked(bytes))
    }
}

#[inline]
pub(crate) fn is_type(o: *mut ffi::PyObject, t: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: `o` is a live object; reading its type pointer runs no code.
    unsafe { ffi::Py_TYPE(o) == t }
}
