//! Bulk appends of plain records (dicts, tuples) without reference counting.
//!
//! Building a DictList from a list of dicts spends most of its time reading dict items.
//! Here the items of exact `dict`s (read with `PyDict_Next`) and of tuples are taken as
//! borrowed references and scalar values go to the core as cells that borrow the
//! objects' own data, so no item is increfed, copied or collected into a temporary
//! vector.
//!
//! Borrowing is sound only while no Python code runs: Python code could mutate a dict and
//! free a value that a cell borrows. So everything from reading the first item to the
//! core's append happens inside [`append_plain_dicts`] / [`append_plain_tuples`], which
//! call only C-API functions
//! that run no Python code and allocate no garbage-collected object (so a collection with
//! its finalizers cannot start either). Whatever needs more (a value that is not a plain
//! scalar, a key that is not an exact `str`, a mapping that is not an exact `dict`, a
//! tuple of the wrong length) stops the run, and the caller takes that record through the
//! general path.
//!
//! On the way out, [`tuple_of_type`] makes namedtuple rows in one allocation.

use std::ffi::c_int;

use memslim_records::{Cell, Grid, RecordList, RecordsError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

/// Appends the leading records of `objs` that are exact dicts with exact-`str` keys and
/// scalar values (`None`, `bool`, `int` within 64 bits, `float`, `str`, `bytes`, exact
/// types only). `names[j]` is field `j`'s name as a Python string (a pointer match saves
/// a string comparison when the dicts share key objects, as dict displays do).
///
/// Returns how many records were appended; it stops at the first record that needs the
/// general path. Fields met for the first time are added to `list`.
///
/// # Errors
/// The core's error for a record that breaks a declared schema; the records of this
/// call are then not appended (fields added by it stay, as with any failed append the
/// caller rolls back).
pub(crate) fn append_plain_dicts<'a>(
    list: &mut RecordList,
    names: &[Py<PyString>],
    objs: &'a [Bound<'_, PyAny>],
) -> Result<usize, RecordsError> {
    let mut grid: Grid<'a> = Grid::with_capacity(list.num_fields(), objs.len());
    // The previous record's columns in key order: records usually share a shape, so key
    // `e` of this record is most likely field `guess[e]`.
    let mut guess: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    let mut i = 0;
    'records: while i < objs.len() {
        let dict = objs[i].as_ptr();
        if !is_type(dict, &raw mut ffi::PyDict_Type) {
            break;
        }
        grid.push_row();
        order.clear();
        let mut pos: ffi::Py_ssize_t = 0;
        while let Some((key, value)) = next_item(dict, &mut pos) {
            let e = order.len();
            let g = guess.get(e).copied();
            let same = g
                .and_then(|g| names.get(g))
                .is_some_and(|n| n.as_ptr() == key);
            let found = match (same, g) {
                (true, Some(g)) => Key::Field(g),
                _ => resolve(list, g, key),
            };
            let j = match found {
                Key::Field(j) if j < grid.num_cols() => j,
                Key::Field(_) | Key::New(_) if grid.num_rows() > 1 => {
                    // A new field: append the rows so far, the caller calls again.
                    grid.pop_row();
                    break 'records;
                }
                Key::Field(_) => {
                    grid = Grid::with_capacity(list.num_fields(), objs.len() - i);
                    continue 'records;
                }
                Key::New(name) => {
                    list.add_field(name)?;
                    grid = Grid::with_capacity(list.num_fields(), objs.len() - i);
                    continue 'records;
                }
                Key::Other => {
                    grid.pop_row();
                    break 'records;
                }
            };
            let Some(cell) = scalar(value) else {
                grid.pop_row();
                break 'records;
            };
            if !grid.set(j, cell) {
                grid.pop_row();
                break 'records;
            }
            order.push(j);
        }
        grid.set_order(&order);
        std::mem::swap(&mut guess, &mut order);
        i += 1;
    }
    list.push_grid(&grid)?;
    Ok(grid.num_rows())
}

/// Appends the leading records of `objs` that are tuples (namedtuples included) of
/// exactly `fields.len()` plain scalars (as for [`append_plain_dicts`]); value `k` goes
/// to the field named `fields[k]`. Returns how many records were appended.
///
/// # Errors
/// As [`append_plain_dicts`].
pub(crate) fn append_plain_tuples<'a>(
    list: &mut RecordList,
    fields: &[&str],
    objs: &'a [Bound<'_, PyAny>],
) -> Result<usize, RecordsError> {
    let cols = fields
        .iter()
        .map(|f| list.add_field(f))
        .collect::<Result<Vec<usize>, _>>()?;
    let mut grid: Grid<'a> = Grid::with_capacity(list.num_fields(), objs.len());
    'records: for obj in objs {
        let t = obj.as_ptr();
        // SAFETY: `t` is a live object; the checks read its type and size only.
        let plain = unsafe {
            ffi::PyTuple_Check(t) != 0 && ffi::PyTuple_Size(t) == cols.len() as ffi::Py_ssize_t
        };
        if !plain {
            break;
        }
        grid.push_row();
        for (k, &j) in cols.iter().enumerate() {
            // SAFETY: `t` is a tuple of `cols.len()` items, so the index is in range and
            // the call (which runs no Python code) returns a borrowed reference that the
            // immutable tuple keeps alive.
            let v = unsafe { ffi::PyTuple_GetItem(t, k as ffi::Py_ssize_t) };
            match scalar(v) {
                Some(cell) if grid.set(j, cell) => {}
                _ => {
                    grid.pop_row();
                    break 'records;
                }
            }
        }
        grid.set_order(&cols);
    }
    list.push_grid(&grid)?;
    Ok(grid.num_rows())
}

enum Key<'a> {
    /// An existing field.
    Field(usize),
    /// A field the list does not have yet.
    New(&'a str),
    /// Not an exact `str` with valid UTF-8: the general path reports or handles it.
    Other,
}

/// The field of `key` when it is not the (identical) name object of field `guess`.
fn resolve<'a>(list: &RecordList, guess: Option<usize>, key: *mut ffi::PyObject) -> Key<'a> {
    if !is_type(key, &raw mut ffi::PyUnicode_Type) {
        return Key::Other;
    }
    let Some(name) = utf8(key) else {
        return Key::Other;
    };
    if let Some(g) = guess {
        if g < list.num_fields() && list.field_name(g) == name {
            return Key::Field(g);
        }
    }
    match list.field_index(name) {
        Some(j) => Key::Field(j),
        None => Key::New(name),
    }
}

/// The cell for a plain scalar, or `None` if the value needs the general path.
#[inline]
fn scalar<'a>(v: *mut ffi::PyObject) -> Option<Cell<'a>> {
    // SAFETY: `v` is a live object (a value of a dict that no Python code can mutate
    // while we run, see the module docs); `Py_None`/`Py_True` only return pointers.
    let (none, truth) = unsafe { (ffi::Py_None(), ffi::Py_True()) };
    if v == none {
        Some(Cell::Null)
    } else if is_type(v, &raw mut ffi::PyUnicode_Type) {
        utf8(v).map(Cell::Str)
    } else if is_type(v, &raw mut ffi::PyFloat_Type) {
        // SAFETY: `v` is a live exact float; reading it runs no Python code and cannot fail.
        Some(Cell::Float(unsafe { ffi::PyFloat_AsDouble(v) }))
    } else if is_type(v, &raw mut ffi::PyLong_Type) {
        let mut overflow: c_int = 0;
        // SAFETY: `v` is a live exact int, so no `__index__` is called; beyond 64 bits the
        // function sets `overflow` and no exception.
        let x = unsafe { ffi::PyLong_AsLongLongAndOverflow(v, &mut overflow) };
        (overflow == 0).then_some(Cell::Int(x))
    } else if is_type(v, &raw mut ffi::PyBool_Type) {
        Some(Cell::Bool(v == truth))
    } else if is_type(v, &raw mut ffi::PyBytes_Type) {
        // SAFETY: `v` is a live exact bytes object: its buffer holds `PyBytes_Size` bytes
        // and lives (immutable) as long as the object, which outlives the cell (module
        // docs). Neither call runs Python code.
        let b = unsafe {
            let p = ffi::PyBytes_AsString(v);
            let n = ffi::PyBytes_Size(v);
            std::slice::from_raw_parts(p.cast::<u8>(), n as usize)
        };
        Some(Cell::Bytes(b))
    } else {
        None
    }
}

/// The UTF-8 text of an exact `str`, or `None` if it holds lone surrogates.
fn utf8<'a>(s: *mut ffi::PyObject) -> Option<&'a str> {
    let mut n: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live exact str. `PyUnicode_AsUTF8AndSize` runs no Python code; it
    // returns the string's UTF-8 form, cached in the object (freed with it, never
    // changed), which outlives the borrow (module docs). On failure (lone surrogates) it
    // returns NULL with a UnicodeEncodeError set, which we clear: the general path
    // handles such strings.
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

/// The next `(key, value)` of an exact dict, as borrowed references.
#[inline]
fn next_item(
    dict: *mut ffi::PyObject,
    pos: &mut ffi::Py_ssize_t,
) -> Option<(*mut ffi::PyObject, *mut ffi::PyObject)> {
    let mut k = std::ptr::null_mut();
    let mut v = std::ptr::null_mut();
    // SAFETY: `dict` is a live exact dict; `PyDict_Next` runs no Python code and returns
    // borrowed references that stay valid while the dict is not mutated (module docs).
    (unsafe { ffi::PyDict_Next(dict, pos, &mut k, &mut v) } != 0).then_some((k, v))
}

#[inline]
fn is_type(o: *mut ffi::PyObject, t: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: `o` is a live object; reading its type pointer runs no code.
    unsafe { ffi::Py_TYPE(o) == t }
}

/// An instance of the tuple subclass `cls` (a namedtuple) holding `items`: what
/// `tuple.__new__(cls, items)` does, without a call through Python and without the
/// intermediate tuple. If `cls` is not a tuple subclass, `items` come back (`Err`): the
/// caller then makes the call, which reports the problem.
///
/// # Errors
/// A failed allocation.
pub(crate) fn tuple_of_type<'py>(
    cls: &Bound<'py, PyType>,
    items: Vec<Bound<'py, PyAny>>,
) -> PyResult<Result<Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>>> {
    let py = cls.py();
    if !cls.is_subclass_of::<PyTuple>()? {
        return Ok(Err(items));
    }
    let t = cls.as_type_ptr();
    // SAFETY: `t` is a live type object; `PyType_GetSlot` reads its slot table and runs no
    // Python code. Every tuple subclass has a `tp_alloc` (inherited from `tuple`), whose
    // signature is `allocfunc`, so the transmute of the (non-null) slot pointer is sound.
    let alloc: ffi::allocfunc = unsafe {
        let slot = ffi::PyType_GetSlot(t, ffi::Py_tp_alloc);
        if slot.is_null() {
            return Ok(Err(items));
        }
        std::mem::transmute::<*mut std::ffi::c_void, ffi::allocfunc>(slot)
    };
    let n = items.len() as ffi::Py_ssize_t;
    // SAFETY: `alloc(t, n)` is how tuple's own `__new__` makes a subclass instance: a new
    // reference to an object of `n` empty item slots, or NULL with an exception set.
    let obj = unsafe { alloc(t, n) };
    if obj.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `obj` is a new (owned) reference; from here on it is released on every path.
    let obj = unsafe { Bound::from_owned_ptr(py, obj) };
    for (k, v) in items.into_iter().enumerate() {
        // SAFETY: `obj` is a tuple (subclass instance) of `n` slots whose only reference is
        // ours (nothing ran between its allocation and here: the items were made first),
        // `k < n`, and `PyTuple_SetItem` takes over the item's reference.
        let rc = unsafe { ffi::PyTuple_SetItem(obj.as_ptr(), k as ffi::Py_ssize_t, v.into_ptr()) };
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
    }
    Ok(Ok(obj))
}
