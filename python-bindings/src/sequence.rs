//! What the sequence types (`DictList`, `TupleList`, `DocList`, `ListView`) share:
//! index arguments and repeat counts read with the errors a `list` raises, and the
//! abridged `repr` of a long sequence.

use memslim_records::{Slice, index_in};
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PySlice};

/// The name of `v`'s type, for messages.
pub(crate) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The module-qualified name of `v`'s type (`numpy.bool`, `collections.deque`; a
/// built-in's and a `__main__` class's bare: `int`), for a message that must not pass
/// one type off as another of the same name. Runs Python code (it reads the type's
/// `__module__` and `__qualname__`).
pub(crate) fn qualified_type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .fully_qualified_name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| type_name(v))
}

/// The repeat count of `seq * n` as `list * n` takes it (any object with `__index__`),
/// or `None` for an `n` that is no integer (`*` then answers `NotImplemented`, so that
/// Python tries the other operand).
///
/// # Errors
/// `OverflowError` for an int past the machine's index size, as `list * n` raises.
pub(crate) fn mul_count(n: &Bound<'_, PyAny>) -> PyResult<Option<isize>> {
    if !n.hasattr(intern!(n.py(), "__index__"))? {
        return Ok(None);
    }
    let i = n.call_method0(intern!(n.py(), "__index__"))?;
    i.extract::<isize>().map(Some).map_err(|_| {
        pyo3::exceptions::PyOverflowError::new_err("cannot fit 'int' into an index-sized integer")
    })
}

/// A repeat count as `list *= n` takes it: [`mul_count`], with `list`'s `TypeError` for
/// an `n` that is no integer.
pub(crate) fn count_arg(n: &Bound<'_, PyAny>) -> PyResult<isize> {
    match mul_count(n)? {
        Some(n) => Ok(n),
        None => Err(PyTypeError::new_err(format!(
            "can't multiply sequence by non-int of type '{}'",
            n.get_type().name()?
        ))),
    }
}

/// `index` (an int or any `__index__` object) as a position in `len()` items, negative
/// from the end. `len` is asked after `__index__` ran, which may change the sequence.
///
/// # Errors
/// As `list` raises them, `what` naming the type: `IndexError` for an int past the
/// machine's index size or a position out of range, `TypeError` for a non-integer.
pub(crate) fn position(
    index: &Bound<'_, PyAny>,
    len: impl FnOnce() -> PyResult<usize>,
    what: &str,
) -> PyResult<usize> {
    norm_index(index_arg(index, what)?, len()?, what)
}

/// `index` (an int or any `__index__` object) as an index, not yet resolved against a
/// length: for a caller that must run it before taking a lock ([`position`] resolves it).
///
/// # Errors
/// As [`position`], but never for a position out of range.
pub(crate) fn index_arg(index: &Bound<'_, PyAny>, what: &str) -> PyResult<isize> {
    if index.is_instance_of::<PyInt>() && index.extract::<isize>().is_err() {
        return Err(PyIndexError::new_err(
            "cannot fit 'int' into an index-sized integer",
        ));
    }
    index.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} indices must be integers or slices, not {}",
            type_name(index)
        ))
    })
}

/// Position `i` of `len` items, negative from the end ([`index_in`]).
///
/// # Errors
/// `IndexError` naming `what` out of range, as a `list` raises it.
pub(crate) fn norm_index(i: isize, len: usize, what: &str) -> PyResult<usize> {
    index_in(i, len).ok_or_else(|| PyIndexError::new_err(format!("{what} index out of range")))
}

/// A Python slice resolved against the sequence's length, as `list` resolves it: the
/// bounds are read first (their `__index__` may run Python code that changes the
/// sequence), then `len` is asked and the bounds clamped to it (`PySlice_Unpack`, then
/// `PySlice_AdjustIndices`). A length taken before the bounds were read described a
/// sequence that may no longer exist: a slice of it named rows a `clear()` had removed.
///
/// # Errors
/// As `list` raises them: `ValueError` for a zero step, `TypeError` for a bound that is
/// no integer, whatever a bound's `__index__` or `len` raises.
pub(crate) fn slice_of(
    s: &Bound<'_, PySlice>,
    len: impl FnOnce() -> PyResult<usize>,
) -> PyResult<Slice> {
    let (mut start, mut stop, mut step): (ffi::Py_ssize_t, ffi::Py_ssize_t, ffi::Py_ssize_t) =
        (0, 0, 0);
    // SAFETY: `s` is a live slice object (the `Bound` holds a reference and proves the
    // interpreter is attached), and the three pointers are to locals that outlive the call.
    if unsafe { ffi::PySlice_Unpack(s.as_ptr(), &mut start, &mut stop, &mut step) } < 0 {
        return Err(PyErr::fetch(s.py()));
    }
    let len = len()?;
    // A sequence's length fits `Py_ssize_t` (CPython refuses larger ones).
    let len = ffi::Py_ssize_t::try_from(len).unwrap_or(ffi::Py_ssize_t::MAX);
    // SAFETY: plain arithmetic on the locals the pointers name (no Python object is read).
    let n = unsafe { ffi::PySlice_AdjustIndices(len, &mut start, &mut stop, step) };
    Ok(Slice {
        start,
        step,
        len: usize::try_from(n).unwrap_or(0),
    })
}

/// `Name([a, b, c, ... k more ..., y, z])`: every item's repr when there are at most
/// `all` of them, else the first `head` and the last `tail` around a count. `repr(i)`
/// gives item `i`'s.
pub(crate) fn abridged_repr(
    name: &str,
    len: usize,
    (all, head, tail): (usize, usize, usize),
    mut repr: impl FnMut(usize) -> PyResult<String>,
) -> PyResult<String> {
    let mut parts = Vec::new();
    if len <= all {
        for i in 0..len {
            parts.push(repr(i)?);
        }
    } else {
        for i in 0..head {
            parts.push(repr(i)?);
        }
        parts.push(format!("... {} more ...", len - head - tail));
        for i in len - tail..len {
            parts.push(repr(i)?);
        }
    }
    Ok(format!("{name}([{}])", parts.join(", ")))
}

/// A bound of `index(value, start, stop)`: an int or any `__index__` object, one beyond
/// the platform's range saturated to its sign's end, as `list.index` clamps it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SliceIndex(pub(crate) isize);

impl<'a, 'py> FromPyObject<'a, 'py> for SliceIndex {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(i) = obj.extract::<isize>() {
            return Ok(SliceIndex(i));
        }
        let py = obj.py();
        let i = py
            .import("operator")?
            .getattr("index")?
            .call1((obj,))
            .map_err(|_| {
                PyTypeError::new_err("slice indices must be integers or have an __index__ method")
            })?;
        Ok(SliceIndex(if i.lt(0)? { isize::MIN } else { isize::MAX }))
    }
}
