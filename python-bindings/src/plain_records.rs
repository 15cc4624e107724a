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
//! While this thread reads the records of one grid, a worker thread stores the previous
//! grid ([`RecordList::push_grids`]), reading the bytes that its cells borrow. That too
//! happens inside the call, while this thread holds the GIL and runs no Python code, so
//! the borrowed objects stay alive and unchanged for the worker as well; the worker
//! itself never touches a Python object or the C API.
//!
//! On the way out, [`tuple_of_type`] makes namedtuple rows in one allocation.

use memslim_records::{FieldNames, Fill, KeyOrder, RecordList, RecordsError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

use crate::scalar::{Scalar, is_type, scalar, utf8};

/// Appends the leading records of `objs` that are exact dicts with exact-`str` keys and
/// scalar values (`None`, `bool`, `int` within 64 bits, `float`, `str`, `bytes`, exact
/// types only). `names[j]` is field `j`'s name as a Python string (a pointer match saves
/// a string comparison when the dicts share key objects, as dict displays do; so does a
/// match with the key object of an earlier record of the same call).
///
/// Returns how many records were appended; it stops at the first record that needs the
/// general path. Fields met for the first time are added to `list`.
///
/// # Errors
/// The core's error for a record that breaks a declared schema; the records of this
/// call are then not appended (fields added by it stay, as with any failed append the
/// caller rolls back).
pub(crate) fn append_plain_dicts(
    list: &mut RecordList,
    names: &[Py<PyString>],
    input: &Input<'_, '_>,
) -> Result<usize, RecordsError> {
    let n = input.len();
    let mut fields = FieldNames::of(list);
    // Field `j`'s key object as last met (or our own name object): records of one input
    // usually share key objects, so a pointer match saves a string comparison. Sound for
    // the whole call: the records hold their keys, and no Python code runs to drop them.
    let mut key_objs: Vec<*mut ffi::PyObject> = names.iter().map(Py::as_ptr).collect();
    // Records usually share a shape: the previous record's key order guesses this one's.
    let mut keys = KeyOrder::new();
    let mut i = 0;
    loop {
        // A field met for the first time: the grids so far are stored, the field is
        // added, and the record is read again.
        let mut new_field: Option<&str> = None;
        list.push_grids(GRID_ROWS, |grid| {
            'records: while i < n {
                if grid.num_rows() == GRID_ROWS {
                    return Fill::Full;
                }
                let dict = input.item(i);
                if dict.is_null() || !is_type(dict, &raw mut ffi::PyDict_Type) {
                    break;
                }
                grid.push_row();
                keys.start_record();
                let mut pos: ffi::Py_ssize_t = 0;
                while let Some((key, value)) = next_item(dict, &mut pos) {
                    let g = keys.guess();
                    let same = g.and_then(|g| key_objs.get(g)).is_some_and(|&k| k == key);
                    let found = match (same, g) {
                        (true, Some(g)) => Key::Field(g),
                        _ => resolve(&fields, g, key),
                    };
                    let j = match found {
                        Key::Field(j) if j < grid.num_cols() => {
                            if !same {
                                if key_objs.len() <= j {
                                    key_objs.resize(j + 1, std::ptr::null_mut());
                                }
                                key_objs[j] = key;
                            }
                            j
                        }
                        Key::New(name) => {
                            new_field = Some(name);
                            grid.pop_row();
                            break 'records;
                        }
                        Key::Field(_) | Key::Other => {
                            grid.pop_row();
                            break 'records;
                        }
                    };
                    let Some(cell) = scalar(value).map(Scalar::cell) else {
                        grid.pop_row();
                        break 'records;
                    };
                    if !grid.set(j, cell) {
                        grid.pop_row();
                        break 'records;
                    }
                    keys.push(j);
                }
                grid.set_order(keys.order());
                keys.finish_record();
                i += 1;
            }
            Fill::Done
        })?;
        match new_field {
            Some(name) => fields.push(name, list.add_field(name)?),
            None => return Ok(i),
        }
    }
}

/// Appends the leading records of `objs` that are tuples (namedtuples included) of
/// exactly `fields.len()` plain scalars (as for [`append_plain_dicts`]); value `k` goes
/// to the field named `fields[k]`. Returns how many records were appended.
///
/// # Errors
/// As [`append_plain_dicts`].
pub(crate) fn append_plain_tuples(
    list: &mut RecordList,
    fields: &[&str],
    input: &Input<'_, '_>,
) -> Result<usize, RecordsError> {
    let cols = fields
        .iter()
        .map(|f| list.add_field(f))
        .collect::<Result<Vec<usize>, _>>()?;
    let n = input.len();
    let mut i = 0;
    list.push_grids(GRID_ROWS, |grid| {
        'records: while i < n {
            if grid.num_rows() == GRID_ROWS {
                return Fill::Full;
            }
            let t = input.item(i);
            // SAFETY: `t` is null or a live object; the checks read its type and size only.
            let plain = !t.is_null()
                && unsafe {
                    ffi::PyTuple_Check(t) != 0
                        && ffi::PyTuple_Size(t) == cols.len() as ffi::Py_ssize_t
                };
            if !plain {
                break;
            }
            grid.push_row();
            for (k, &j) in cols.iter().enumerate() {
                // SAFETY: `t` is a tuple of `cols.len()` items, so the index is in range
                // and the call (which runs no Python code) returns a borrowed reference
                // that the immutable tuple keeps alive.
                let v = unsafe { ffi::PyTuple_GetItem(t, k as ffi::Py_ssize_t) };
                match scalar(v).map(Scalar::cell) {
                    Some(cell) if grid.set(j, cell) => {}
                    _ => {
                        grid.pop_row();
                        break 'records;
                    }
                }
            }
            grid.set_order(&cols);
            i += 1;
        }
        Fill::Done
    })?;
    Ok(i)
}

/// Records to append, read in place: a slice of objects, or the items of an exact
/// `list` or `tuple` (whose item array no Python code can change while we read it,
/// module docs) from item `start` on, without a reference taken per item.
pub(crate) enum Input<'s, 'py> {
    Objs(&'s [Bound<'py, PyAny>]),
    Seq {
        seq: &'s Bound<'py, PyAny>,
        start: usize,
    },
}

impl Input<'_, '_> {
    /// Records available.
    fn len(&self) -> usize {
        match self {
            Input::Objs(objs) => objs.len(),
            Input::Seq { seq, start } => {
                let p = seq.as_ptr();
                // SAFETY: `p` is a live object; the size functions run no Python code (a
                // failure, impossible for an exact list or tuple, returns -1).
                let n = unsafe {
                    if ffi::PyList_CheckExact(p) != 0 {
                        ffi::PyList_Size(p)
                    } else if ffi::PyTuple_CheckExact(p) != 0 {
                        ffi::PyTuple_Size(p)
                    } else {
                        0
                    }
                };
                usize::try_from(n).unwrap_or(0).saturating_sub(*start)
            }
        }
    }

    /// Record `i` (`< len()`) as a borrowed reference; null if there is none.
    #[inline]
    fn item(&self, i: usize) -> *mut ffi::PyObject {
        match self {
            Input::Objs(objs) => objs.get(i).map_or(std::ptr::null_mut(), Bound::as_ptr),
            Input::Seq { seq, start } => {
                let p = seq.as_ptr();
                let k = (start + i) as ffi::Py_ssize_t;
                // SAFETY: `p` is a live exact list or tuple; the item functions check the
                // index, run no Python code and return a borrowed reference (or null
                // with an IndexError set, cleared here) that the container keeps alive
                // while no Python code runs (module docs).
                unsafe {
                    let item = if ffi::PyList_CheckExact(p) != 0 {
                        ffi::PyList_GetItem(p, k)
                    } else {
                        ffi::PyTuple_GetItem(p, k)
                    };
                    if item.is_null() {
                        ffi::PyErr_Clear();
                    }
                    item
                }
            }
        }
    }
}

/// Rows per grid of a bulk append: large enough that storing a grid on the worker
/// thread ([`RecordList::push_grids`]) costs far more than handing it over, small enough
/// that two grids stay in the CPU's cache.
const GRID_ROWS: usize = 2048;

/// The field of `key` when it is not the (identical) name object of field `guess`.
fn resolve<'a>(fields: &FieldNames, guess: Option<usize>, key: *mut ffi::PyObject) -> Key<'a> {
    if !is_type(key, &raw mut ffi::PyUnicode_Type) {
        return Key::Other;
    }
    let Some(name) = utf8(key) else {
        return Key::Other;
    };
    match fields.resolve(guess, name) {
        Some(j) => Key::Field(j),
        None => Key::New(name),
    }
}

enum Key<'a> {
    /// An existing field.
    Field(usize),
    /// A field the list does not have yet.
    New(&'a str),
    /// Not an exact `str` with valid UTF-8: the general path reports or handles it.
    Other,
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
