//! Bulk appends of plain records (dicts, tuples) without reference counting.
//!
//! Building a DictList from a list of dicts spends most of its time reading dict items.
//! Here the items of exact `dict`s (read with `PyDict_Next`) and of tuples are taken as
//! borrowed references and scalar values go to the core as cells that borrow the
//! objects' own data, so no item is increfed, copied or collected into a temporary
//! vector.
//!
//! The loop (which field a key is, when a record goes the general way, new fields) is
//! the core's [`RecordList::append_keyed`] / [`RecordList::append_positional`]; this
//! file is the [`PlainRecords`] host that reads the Python objects for it.
//!
//! Borrowing is sound only while no Python code runs: Python code could mutate a dict and
//! free a value that a cell borrows. So everything from reading the first item to the
//! core's append happens inside that one call, whose host methods call only C-API
//! functions
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

use memslim_records::{Cell, PlainRecords, RecordList, RecordsError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::scalar::{Scalar, is_type, scalar, utf8};

/// Appends the leading records of `input` that are exact dicts with exact-`str` keys and
/// scalar values (`None`, `bool`, `int` within 64 bits, `float`, `str`, `bytes`, exact
/// types only), through [`RecordList::append_keyed`]. `names[j]` is field `j`'s name as
/// a Python string (an identity match saves a string comparison when the dicts share
/// key objects, as dict displays do).
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
    let known: Vec<KeyPtr> = names.iter().map(|n| KeyPtr(n.as_ptr())).collect();
    list.append_keyed(input, &known)
}

/// The items of `dict`, an exact dict, as `(field, value)` for
/// [`RecordList::push_fields`] on `list`, in `out` (cleared first): each key an exact
/// `str` naming one of the list's fields and each value a plain scalar (see
/// [`append_plain_dicts`]). `false` for any other dict, whose record then goes the
/// general way.
///
/// `names[j]` is field `j`'s name object, and `seen[j]` (as long as `names`) the first
/// other object found to name it: a key that is either (a dict display's keys are the
/// interned names; the dicts of one `csv.DictReader` share theirs) is matched without
/// reading it, any other by its text.
///
/// The cells borrow the dict's values: the caller hands them to the core before any
/// Python code can run (module docs).
pub(crate) fn dict_cells_by_field<'a>(
    dict: &Bound<'_, PyDict>,
    list: &RecordList,
    names: &[Py<PyString>],
    seen: &mut [Option<Py<PyString>>],
    out: &mut Vec<(usize, Cell<'a>)>,
) -> bool {
    out.clear();
    let py = dict.py();
    let items = DictItems {
        dict: dict.as_ptr(),
        pos: 0,
    };
    let is = |seen: &[Option<Py<PyString>>], j: usize, key: *mut ffi::PyObject| {
        names[j].as_ptr() == key || seen[j].as_ref().is_some_and(|s| s.as_ptr() == key)
    };
    // Keys usually come in field order: the field after the last one is tried first,
    // by identity, then by text; then every field by identity, then by text.
    let mut guess = 0;
    for (KeyPtr(key), value) in items {
        let j = if guess < names.len() && is(seen, guess, key) {
            guess
        } else {
            if !is_type(key, &raw mut ffi::PyUnicode_Type) {
                return false;
            }
            let Some(name) = utf8(key) else {
                return false;
            };
            let j = if guess < names.len() && list.field_name(guess) == name {
                guess
            } else if let Some(j) = (0..names.len()).find(|&j| is(seen, j, key)) {
                j
            } else {
                match list.field_index(name) {
                    Some(j) => j,
                    None => return false,
                }
            };
            if seen[j].is_none() {
                // SAFETY: `key` is a live exact str (a key of the dict); a new reference
                // to it is kept in `seen`, for the dicts that share their key objects.
                let key = unsafe { Borrowed::from_ptr(py, key) };
                seen[j] = key.cast::<PyString>().ok().map(|k| k.to_owned().unbind());
            }
            j
        };
        let Some(cell) = scalar(value).map(Scalar::cell) else {
            return false;
        };
        out.push((j, cell));
        guess = j + 1;
    }
    true
}

/// The items of `record`, a tuple (or tuple subclass) of a TupleList whose `fields` are
/// the store's first fields (`names`, the same objects), as `(field, value)` for
/// [`RecordList::push_fields`], in `out` (cleared first): each value a plain scalar.
/// `false` for a record of another length, another value, or a list whose fields are
/// not its store's first (its record then goes the general way).
///
/// The cells borrow the tuple's items: the caller hands them to the core before any
/// Python code can run (module docs).
pub(crate) fn tuple_cells_by_field<'a>(
    record: &Bound<'_, PyTuple>,
    fields: &Bound<'_, PyTuple>,
    names: &[Py<PyString>],
    out: &mut Vec<(usize, Cell<'a>)>,
) -> bool {
    out.clear();
    if record.len() != fields.len() || names.len() < fields.len() {
        return false;
    }
    for (k, (name, field)) in names.iter().zip(fields.iter_borrowed()).enumerate() {
        if name.as_ptr() != field.as_ptr() {
            return false;
        }
        // Borrowed: the immutable tuple keeps its items alive (module docs).
        let Ok(item) = record.get_borrowed_item(k) else {
            return false;
        };
        let Some(cell) = scalar(item.as_ptr()).map(Scalar::cell) else {
            return false;
        };
        out.push((k, cell));
    }
    true
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

impl<'py> Input<'_, 'py> {
    /// Records available (for a sequence: its length now, from `start`).
    pub(crate) fn len(&self) -> usize {
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

    /// The records from record `k` on.
    pub(crate) fn from(&self, k: usize) -> Input<'_, 'py> {
        match self {
            Input::Objs(objs) => Input::Objs(objs.get(k..).unwrap_or_default()),
            Input::Seq { seq, start } => Input::Seq {
                seq,
                start: start + k,
            },
        }
    }

    /// Records `k..k + max` (fewer at the end) as new references.
    pub(crate) fn objects(&self, k: usize, max: usize) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let end = self.len().min(k + max);
        match self {
            Input::Objs(objs) => Ok(objs.get(k..end).unwrap_or_default().to_vec()),
            Input::Seq { seq, start } => {
                (start + k..start + end).map(|i| seq.get_item(i)).collect()
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

/// A dict key as a borrowed reference, compared by identity (null: no key).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyPtr(*mut ffi::PyObject);

impl Default for KeyPtr {
    fn default() -> Self {
        KeyPtr(std::ptr::null_mut())
    }
}

/// The `(key, value)` items of an exact dict, as borrowed references.
pub(crate) struct DictItems {
    dict: *mut ffi::PyObject,
    pos: ffi::Py_ssize_t,
}

impl Iterator for DictItems {
    type Item = (KeyPtr, *mut ffi::PyObject);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let mut k = std::ptr::null_mut();
        let mut v = std::ptr::null_mut();
        // SAFETY: `dict` is a live exact dict; `PyDict_Next` runs no Python code and
        // returns borrowed references that stay valid while the dict is not mutated
        // (module docs).
        (unsafe { ffi::PyDict_Next(self.dict, &mut self.pos, &mut k, &mut v) } != 0)
            .then_some((KeyPtr(k), v))
    }
}

/// The Python side of the core's bulk append: every method only calls C-API functions
/// that run no Python code and allocate no garbage-collected object (module docs), so
/// the borrowed objects and the data their cells borrow stay alive and unchanged for
/// the whole append.
impl<'a> PlainRecords<'a> for Input<'_, '_> {
    type Record = *mut ffi::PyObject;
    type Key = KeyPtr;
    type Value = *mut ffi::PyObject;
    type Items = DictItems;

    #[inline]
    fn len(&self) -> usize {
        Input::len(self)
    }

    #[inline]
    fn keyed(&self, i: usize) -> Option<Self::Record> {
        let dict = self.item(i);
        (!dict.is_null() && is_type(dict, &raw mut ffi::PyDict_Type)).then_some(dict)
    }

    #[inline]
    fn items(&self, record: Self::Record) -> DictItems {
        DictItems {
            dict: record,
            pos: 0,
        }
    }

    #[inline]
    fn key_name(&self, KeyPtr(key): Self::Key) -> Option<&'a str> {
        // Not an exact `str` with valid UTF-8: the general path reports or handles it.
        if is_type(key, &raw mut ffi::PyUnicode_Type) {
            utf8(key)
        } else {
            None
        }
    }

    #[inline]
    fn positional(&self, i: usize, width: usize) -> Option<Self::Record> {
        let t = self.item(i);
        // SAFETY: `t` is null or a live object; the checks read its type and size only.
        let plain = !t.is_null()
            && unsafe {
                ffi::PyTuple_Check(t) != 0 && ffi::PyTuple_Size(t) == width as ffi::Py_ssize_t
            };
        plain.then_some(t)
    }

    #[inline]
    fn value(&self, record: Self::Record, k: usize) -> Self::Value {
        // SAFETY: `record` is a tuple of more than `k` items (`positional`), so the index
        // is in range and the call (which runs no Python code) returns a borrowed
        // reference that the immutable tuple keeps alive.
        unsafe { ffi::PyTuple_GetItem(record, k as ffi::Py_ssize_t) }
    }

    #[inline]
    fn cell(&self, value: Self::Value) -> Option<Cell<'a>> {
        scalar(value).map(Scalar::cell)
    }
}
