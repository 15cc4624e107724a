//! The types Python sees for `Row` and the iterators of DictList, TupleList, Column and
//! record files: heap subclasses of the PyO3 classes ([`PyRow`], [`PyRecordsIter`],
//! [`PyTupleIter`], [`PyColumnIter`], [`PyDictListFileIter`], [`PyPairIter`]) whose hottest slot is a
//! plain C function.
//!
//! A user's row loop, `for r in rows: r["price"] * r["qty"]`, makes one `__next__` call
//! and one or more `row[key]` calls per record (and often `key in row`, `row.get(key)`,
//! `len(row)`, `iter(row)` (which `dict(row)` and `{**row}` use) or, to enrich records,
//! `row[key] = value`: `Row` has a fast path for each). Through PyO3's generated
//! wrappers each call paid 60-80 instructions of bookkeeping (its thread-state counter,
//! twice through a shared library's thread-local lookup; the panic trap; the reference
//! pool check; the `self` type check), as much as the work itself. PyO3 has no way to register a
//! slot by hand, so:
//!
//! - [`subclass`] makes a subclass of PyO3's class with `PyType_FromSpecWithBases`. It
//!   has its hot slots and a `tp_dealloc` of its own and inherits every other slot and
//!   every method; it adds no field, so its instances have exactly the layout of PyO3's;
//! - [`retype`] gives an object just made as an instance of PyO3's class the subclass
//!   as its type (what `obj.__class__ = Row` does for two layout-identical heap types,
//!   without the attribute machinery), and [`dealloc_as_base`] gives it its PyO3 class
//!   back before PyO3 frees it: PyO3 only ever makes and frees its own class's objects;
//! - each slot answers the common case through a `quick_` method of the class, which
//!   raises nothing and drops no owned reference (so it needs none of PyO3's
//!   bookkeeping), and hands anything else (a pending record, a nested value, a missing
//!   key, a view that must be made, an error) to PyO3's own slot on the base class.

use std::ffi::{CStr, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::PyClass;
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};

use crate::mapping_views::PyPairIter;
use crate::mmap::PyDictListFileIter;
use crate::records::{PyColumnIter, PyRecordsIter, PyRow, PyTupleIter};

/// A subclass made by [`subclass`], and the base class's own function for its slot.
pub(crate) struct Subclass<F> {
    ty: Py<PyType>,
    base_slot: F,
}

/// The `Row` subclass, with the base class's own `row[key]`, `row[key] = value` and
/// `key in row`.
struct RowSubclass {
    ty: Py<PyType>,
    base_get: ffi::binaryfunc,
    base_set: ffi::objobjargproc,
    base_has: ffi::objobjproc,
    base_iter: ffi::getiterfunc,
    base_len: ffi::lenfunc,
    /// The subclass's `tp_alloc` (CPython's generic one, inherited).
    alloc: ffi::allocfunc,
}

static ROW: PyOnceLock<RowSubclass> = PyOnceLock::new();

/// Where the `PyRow` lies in a `Row` object, measured on the first one PyO3 made (see
/// [`new_row`]); [`LAYOUT_UNKNOWN`] until then, [`LAYOUT_OTHER`] if the object holds
/// anything but the `PyRow` after CPython's header (then PyO3 makes and frees every
/// `Row`).
static ROW_CONTENTS: AtomicUsize = AtomicUsize::new(LAYOUT_UNKNOWN);
const LAYOUT_UNKNOWN: usize = 0;
const LAYOUT_OTHER: usize = usize::MAX;

/// An iterator class whose `next()` has a common case that makes nothing.
pub(crate) trait QuickNext:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// The class Python sees (`module._Name`).
    const PY_NAME: &'static CStr;
    /// `self` as a new instance of its PyO3 class.
    fn make(self, py: Python<'_>) -> PyResult<Py<Self>>;
    /// Where its subclass is kept.
    fn subclass_cell() -> &'static PyOnceLock<Subclass<ffi::iternextfunc>>;
    /// The next item when handing it out makes nothing, raises nothing and drops no
    /// owned reference; `None` for the full `__next__` to do the step.
    fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>>;
}

/// Implements [`QuickNext`] for an iterator class with an inherent `quick_next`.
macro_rules! quick_next {
    ($class:ty, $cell:ident, $name:literal) => {
        static $cell: PyOnceLock<Subclass<ffi::iternextfunc>> = PyOnceLock::new();

        impl QuickNext for $class {
            const PY_NAME: &'static CStr = $name;
            fn make(self, py: Python<'_>) -> PyResult<Py<Self>> {
                Py::new(py, self)
            }
            fn subclass_cell() -> &'static PyOnceLock<Subclass<ffi::iternextfunc>> {
                &$cell
            }
            fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>> {
                <$class>::quick_next(self, py)
            }
        }
    };
}

quick_next!(
    PyRecordsIter,
    RECORDS_ITER,
    c"memslim._memslim._RecordsIter"
);
quick_next!(PyTupleIter, TUPLE_ITER, c"memslim._memslim._TupleIter");
quick_next!(PyColumnIter, COLUMN_ITER, c"memslim._memslim._ColumnIter");
quick_next!(PyPairIter, PAIR_ITER, c"memslim._memslim._PairIter");
quick_next!(
    PyDictListFileIter,
    FILE_ITER,
    c"memslim._memslim._DictListFileIter"
);

/// A subclass named `name` of `T`'s class with each `(slot, func)` of `own` and of
/// `extra` (and `T`'s docstring), and the base's own function for each slot of `own`,
/// in order.
fn subclass<T: pyo3::PyTypeInfo, const N: usize>(
    py: Python<'_>,
    name: &'static CStr,
    own: [(c_int, *mut c_void); N],
    extra: &[(c_int, *mut c_void)],
) -> PyResult<(Py<PyType>, [*mut c_void; N])> {
    let base = py.get_type::<T>();
    let base_ptr = base.as_type_ptr();
    let mut base_slots = [std::ptr::null_mut(); N];
    for (b, &(slot, _)) in base_slots.iter_mut().zip(&own) {
        // SAFETY: `base_ptr` is a live type object (held by `base`); `PyType_GetSlot`
        // reads the slots of heap types, which every PyO3 class is.
        *b = unsafe { ffi::PyType_GetSlot(base_ptr, slot) };
        if b.is_null() {
            return Err(PanicException::new_err("memslim: a fast slot has no base"));
        }
    }
    // SAFETY: as above.
    let doc = unsafe { ffi::PyType_GetSlot(base_ptr, ffi::Py_tp_doc) };
    let dealloc: ffi::destructor = dealloc_as_base::<T>;
    let mut slots: Vec<ffi::PyType_Slot> = own
        .iter()
        .chain(extra)
        .map(|&(slot, pfunc)| ffi::PyType_Slot { slot, pfunc })
        .collect();
    // A `tp_dealloc` of `extra` (the `Row`'s) replaces the generic one.
    if !extra.iter().any(|&(slot, _)| slot == ffi::Py_tp_dealloc) {
        slots.push(ffi::PyType_Slot {
            slot: ffi::Py_tp_dealloc,
            pfunc: dealloc as *mut c_void,
        });
    }
    if !doc.is_null() {
        slots.push(ffi::PyType_Slot {
            slot: ffi::Py_tp_doc,
            pfunc: doc,
        });
    }
    slots.push(ffi::PyType_Slot {
        slot: 0,
        pfunc: std::ptr::null_mut(),
    });
    let mut spec = ffi::PyType_Spec {
        name: name.as_ptr(),
        // 0: the base's size (no field of its own, so the layouts are identical).
        basicsize: 0,
        itemsize: 0,
        flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_IMMUTABLETYPE) as _,
        slots: slots.as_mut_ptr(),
    };
    let bases = PyTuple::new(py, [base])?;
    // SAFETY: `spec` and `slots` are valid for the call, which copies what it keeps (the
    // docstring; the name is a static string); `bases` is a live tuple.
    let ty = unsafe { ffi::PyType_FromSpecWithBases(&mut spec, bases.as_ptr()) };
    // SAFETY: a new reference, or null with an exception set.
    let ty = unsafe { Bound::from_owned_ptr_or_err(py, ty)? };
    Ok((ty.cast_into::<PyType>()?.unbind(), base_slots))
}

fn row_subclass(py: Python<'_>) -> PyResult<&RowSubclass> {
    ROW.get_or_try_init(py, || {
        let get: ffi::binaryfunc = subscript;
        let set: ffi::objobjargproc = ass_subscript;
        let has: ffi::objobjproc = contains;
        let iter: ffi::getiterfunc = row_iter;
        let len: ffi::lenfunc = row_len;
        let dealloc: ffi::destructor = row_dealloc;
        // Read only by CPython, which keeps the pointer (the table is static).
        let mut extra = vec![
            (ffi::Py_tp_methods, ROW_METHODS.0.as_ptr() as *mut c_void),
            (ffi::Py_tp_dealloc, dealloc as *mut c_void),
        ];
        // `len()` asks the sequence slot first: where PyO3 fills it too, it is ours.
        // SAFETY: reads a slot of a live heap type (PyO3's class).
        if !unsafe { ffi::PyType_GetSlot(py.get_type::<PyRow>().as_type_ptr(), ffi::Py_sq_length) }
            .is_null()
        {
            extra.push((ffi::Py_sq_length, len as _));
        }
        let (ty, [own_get, own_set, own_has, own_iter, own_len]) = subclass::<PyRow, 5>(
            py,
            c"memslim._memslim.Row",
            [
                (ffi::Py_mp_subscript, get as _),
                (ffi::Py_mp_ass_subscript, set as _),
                (ffi::Py_sq_contains, has as _),
                (ffi::Py_tp_iter, iter as _),
                (ffi::Py_mp_length, len as _),
            ],
            &extra,
        )?;
        // SAFETY: a non-null `mp_subscript` slot holds a `binaryfunc`, a non-null
        // `mp_ass_subscript` slot an `objobjargproc`, a non-null `sq_contains` slot an
        // `objobjproc`, a non-null `tp_iter` slot a `getiterfunc` and a non-null
        // `mp_length` slot a `lenfunc`.
        let (base_get, base_set, base_has, base_iter, base_len) = unsafe {
            (
                std::mem::transmute::<*mut c_void, ffi::binaryfunc>(own_get),
                std::mem::transmute::<*mut c_void, ffi::objobjargproc>(own_set),
                std::mem::transmute::<*mut c_void, ffi::objobjproc>(own_has),
                std::mem::transmute::<*mut c_void, ffi::getiterfunc>(own_iter),
                std::mem::transmute::<*mut c_void, ffi::lenfunc>(own_len),
            )
        };
        // SAFETY: reads a slot of a live heap type (the subclass just made).
        let alloc = unsafe { ffi::PyType_GetSlot(ty.bind(py).as_type_ptr(), ffi::Py_tp_alloc) };
        if alloc.is_null() {
            return Err(PanicException::new_err("memslim: Row has no tp_alloc"));
        }
        // SAFETY: a non-null `tp_alloc` slot holds an `allocfunc`.
        let alloc = unsafe { std::mem::transmute::<*mut c_void, ffi::allocfunc>(alloc) };
        Ok(RowSubclass {
            ty,
            base_get,
            base_set,
            base_has,
            base_iter,
            base_len,
            alloc,
        })
    })
}

fn iter_subclass<T: QuickNext>(py: Python<'_>) -> PyResult<&Subclass<ffi::iternextfunc>> {
    T::subclass_cell().get_or_try_init(py, || {
        let f: ffi::iternextfunc = iternext::<T>;
        let (ty, [own]) = subclass::<T, 1>(py, T::PY_NAME, [(ffi::Py_tp_iternext, f as _)], &[])?;
        // SAFETY: a non-null `tp_iternext` slot holds an `iternextfunc`.
        let base_slot = unsafe { std::mem::transmute::<*mut c_void, ffi::iternextfunc>(own) };
        Ok(Subclass { ty, base_slot })
    })
}

/// `tp_dealloc` of every subclass: gives the object its PyO3 class back, then runs
/// PyO3's own dealloc. PyO3 thus makes and frees only instances of its own class (so a
/// class's free list, which holds only those, serves the subclass too); the object is
/// of the subclass only while Python holds it.
///
/// # Safety
/// Called by CPython only, as the `tp_dealloc` slot of `T`'s subclass: the thread is
/// attached and `obj`, an instance of that subclass whose last reference is gone, is
/// not used again by the caller.
unsafe extern "C" fn dealloc_as_base<T: pyo3::PyTypeInfo>(obj: *mut ffi::PyObject) {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let base = T::type_object_raw(py);
    // SAFETY: `obj` is an instance of a layout-identical subclass of `base` (see
    // `retype`), so it may take `base` back as its type: it takes a reference to `base`
    // and drops the one to the subclass (which the module keeps alive). `base` is a
    // live PyO3 class, whose `tp_dealloc` is set and frees an instance of it: `obj` now
    // is one, and is not used after the call.
    unsafe {
        let sub = (*obj).ob_type;
        ffi::Py_IncRef(base.cast());
        (*obj).ob_type = base;
        ffi::Py_DecRef(sub.cast());
        let dealloc = ffi::PyType_GetSlot(base, ffi::Py_tp_dealloc);
        if !dealloc.is_null() {
            let dealloc = std::mem::transmute::<*mut c_void, ffi::destructor>(dealloc);
            dealloc(obj);
        }
    }
}

/// Gives `obj` the type `ty`.
///
/// # Safety
/// `obj` was just made as an instance of the base class of `ty`, a subclass made by
/// [`subclass`], and nothing else refers to it yet.
unsafe fn retype<T>(obj: &Py<T>, ty: &Py<PyType>) {
    // SAFETY: `ty` adds no field, `__dict__` or weak-reference list to its base, so
    // an instance of either has the same size and layout, and its `tp_dealloc`
    // (`dealloc_as_base`) gives the object back its base class before PyO3 frees it.
    // So the object may change type, as CPython's own `__class__` assignment does for such pairs: it
    // takes a reference to the new type and drops the one to the old (which the module
    // keeps alive). `ob_type` is a public field of `PyObject` in the stable ABI of the
    // GIL-enabled builds that load abi3 modules.
    unsafe {
        let o = obj.as_ptr();
        let ty = ty.as_ptr().cast::<ffi::PyTypeObject>();
        ffi::Py_IncRef(ty.cast());
        let old = (*o).ob_type;
        (*o).ob_type = ty;
        ffi::Py_DecRef(old.cast());
    }
}

/// The `Row` class users see (`memslim.Row`, the type of every view).
pub(crate) fn row_class(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    Ok(row_subclass(py)?.ty.bind(py).clone())
}

/// The class Python sees for the iterators of class `T`.
pub(crate) fn iter_class<T: QuickNext>(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    Ok(iter_subclass::<T>(py)?.ty.bind(py).clone())
}

/// `row` as a Python `Row`, outside the cycle collector's lists.
///
/// A `Row` refers to no Python object the collector could follow (PyO3 gives its class a
/// traversal that visits nothing but the type, which the module keeps alive), so it can
/// never be part of a cycle; kept on the lists, every collection would walk each `Row`
/// a program holds (`list(rows)`, `sorted(rows, key=...)`) for nothing, as CPython
/// spares the dicts and tuples that hold only atomic values.
pub(crate) fn new_row(py: Python<'_>, row: PyRow) -> PyResult<Py<PyRow>> {
    let sub = row_subclass(py)?;
    let off = ROW_CONTENTS.load(Ordering::Relaxed);
    if off != LAYOUT_UNKNOWN && off != LAYOUT_OTHER {
        // SAFETY: `off` was measured on a `Row` PyO3 made, whose `PyRow` was all of it
        // past CPython's header (see `row_layout`).
        return unsafe { alloc_row(py, sub, off, row) };
    }
    let obj = Py::new(py, row)?;
    // SAFETY: `obj` was just made as a `PyRow`, and `sub.ty` is its subclass. Untracking
    // only takes a live GC object (every PyO3 object is one) off the collector's lists;
    // PyO3's dealloc untracks only a tracked object.
    unsafe {
        retype(&obj, &sub.ty);
        if ffi::PyObject_GC_IsTracked(obj.as_ptr()) == 1 {
            ffi::PyObject_GC_UnTrack(obj.as_ptr().cast());
        }
    }
    if off == LAYOUT_UNKNOWN {
        ROW_CONTENTS.store(row_layout(py, &obj), Ordering::Relaxed);
    }
    Ok(obj)
}

/// Where `obj`'s `PyRow` lies in it, if the object is CPython's header then the `PyRow`
/// and nothing else (PyO3's borrow flag, thread checker, `__dict__` and weak-reference
/// slots of a frozen class without either take no room); else [`LAYOUT_OTHER`].
fn row_layout(py: Python<'_>, obj: &Py<PyRow>) -> usize {
    let off = (obj.get() as *const PyRow as usize).wrapping_sub(obj.as_ptr() as usize);
    let basic = py
        .get_type::<PyRow>()
        .getattr(pyo3::intern!(py, "__basicsize__"))
        .and_then(|b| b.extract::<usize>());
    match basic {
        Ok(b)
            if off >= std::mem::size_of::<ffi::PyObject>()
                && off.is_multiple_of(std::mem::align_of::<PyRow>())
                && off.checked_add(std::mem::size_of::<PyRow>()) == Some(b) =>
        {
            off
        }
        _ => LAYOUT_OTHER,
    }
}

/// A new `Row` holding `row`, made as CPython makes an instance of a class of its own
/// (its `tp_alloc`: zeroed, typed, referenced once) with `row` written in place, and
/// kept off the collector's lists (see [`new_row`]). PyO3's way there (its initializer
/// calling `object.__new__` with an empty tuple, then the retyping) cost as much again.
///
/// # Safety
/// `off` is where a `Row` object PyO3 made holds its `PyRow`, which is all it holds
/// past CPython's header ([`row_layout`]).
unsafe fn alloc_row(
    py: Python<'_>,
    sub: &RowSubclass,
    off: usize,
    row: PyRow,
) -> PyResult<Py<PyRow>> {
    let ty = sub.ty.bind(py).as_type_ptr();
    // SAFETY: `ty` is a live type whose `tp_alloc` this is; it returns a new reference
    // to a zeroed object of `ty`'s size, typed `ty` (a reference to it taken), or null
    // with an exception set.
    let obj = unsafe { (sub.alloc)(ty, 0) };
    if obj.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: the object is `off + size_of::<PyRow>()` bytes long and suitably aligned
    // (as every `Row`: see the contract), so the write lands in it; what PyO3 keeps past
    // the header is the `PyRow` alone, which this initializes. Untracking takes the
    // live GC object just made off the collector's lists; `from_owned_ptr` takes over
    // the new reference.
    unsafe {
        std::ptr::write(obj.cast::<u8>().add(off).cast::<PyRow>(), row);
        if ffi::PyObject_GC_IsTracked(obj) == 1 {
            ffi::PyObject_GC_UnTrack(obj.cast());
        }
        Ok(Bound::from_owned_ptr(py, obj)
            .cast_into_unchecked::<PyRow>()
            .unbind())
    }
}

/// `tp_dealloc` of `Row`: a view whose dropping frees nothing but its own memory (a
/// DictList record's, its store held elsewhere too) is dropped and freed here, as PyO3
/// would, without its wrapper (its thread-state count, panic trap and reference pool:
/// as much again as the rest); any other through PyO3's (see [`dealloc_as_base`]).
///
/// # Safety
/// As [`dealloc_as_base`]: called by CPython only, with the thread attached, for a
/// `Row` whose last reference is gone.
unsafe extern "C" fn row_dealloc(obj: *mut ffi::PyObject) {
    let off = ROW_CONTENTS.load(Ordering::Relaxed);
    if off != LAYOUT_UNKNOWN && off != LAYOUT_OTHER {
        // SAFETY: every `Row` holds its `PyRow` at `off` (measured on one PyO3 made;
        // `alloc_row` writes it there). Dropping it only decrements its store's count
        // when another holder keeps the store (`drops_no_object`), so no Python object
        // is released. Then, as PyO3's dealloc for a class based on `object`: the
        // object is untracked if it is tracked, freed by its type's `tp_free`, and the
        // reference it held to its (heap) type released, which the module keeps alive.
        unsafe {
            let row = obj.cast::<u8>().add(off).cast::<PyRow>();
            if (*row).drops_no_object() {
                if ffi::PyObject_GC_IsTracked(obj) == 1 {
                    ffi::PyObject_GC_UnTrack(obj.cast());
                }
                std::ptr::drop_in_place(row);
                let ty = (*obj).ob_type;
                let free = ffi::PyType_GetSlot(ty, ffi::Py_tp_free);
                if !free.is_null() {
                    let free = std::mem::transmute::<*mut c_void, ffi::freefunc>(free);
                    free(obj.cast());
                }
                ffi::Py_DecRef(ty.cast());
                return;
            }
        }
    }
    // SAFETY: the contract of `dealloc_as_base`, which this slot's is.
    unsafe { dealloc_as_base::<PyRow>(obj) }
}

/// `it` as a Python iterator.
pub(crate) fn new_iter<T: QuickNext>(py: Python<'_>, it: T) -> PyResult<Py<PyAny>> {
    let ty = &iter_subclass::<T>(py)?.ty;
    let obj = it.make(py)?;
    // SAFETY: `obj` was just made as a `T`, and `ty` is its subclass.
    unsafe { retype(&obj, ty) };
    Ok(obj.into_any())
}

/// Runs `quick` (which must not raise); a panic becomes a `PanicException`.
fn guarded<R>(py: Python<'_>, quick: impl FnOnce() -> R) -> Result<R, *mut ffi::PyObject> {
    catch_unwind(AssertUnwindSafe(quick)).map_err(|_| {
        PanicException::new_err("memslim: internal error in a fast path (please report it)")
            .restore(py);
        std::ptr::null_mut()
    })
}

/// Unreachable (a slot exists only once its subclass is stored), but never a null
/// result without an exception.
#[cold]
fn not_ready(py: Python<'_>) -> *mut ffi::PyObject {
    PanicException::new_err("memslim: fast slot used before its type was made").restore(py);
    std::ptr::null_mut()
}

/// The `Row` subclass, whose `base_` functions its slots fall back to; `None`, with the
/// exception set ([`not_ready`]), before it is made (unreachable).
fn row_base(py: Python<'_>) -> Option<&'static RowSubclass> {
    let t = ROW.get(py);
    if t.is_none() {
        not_ready(py);
    }
    t
}

/// `row[key]`.
///
/// # Safety
/// Called by CPython only, as the `mp_subscript` slot of the `Row` subclass: the thread
/// is attached, `slf` is an instance of that subclass (so of `PyRow`) and `key` a live
/// object, both borrowed for the call.
unsafe extern "C" fn subscript(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let quick = guarded(py, || {
        // SAFETY: both pointers are live and borrowed for the call; `slf` is a `PyRow`.
        let (row, key) = unsafe {
            (
                Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>(),
                Borrowed::from_ptr(py, key),
            )
        };
        row.get().quick_get(py, &key).map(Bound::into_ptr)
    });
    match quick {
        Ok(Some(v)) => v,
        // Not the common case: PyO3's own slot on the base class (the subclass exists,
        // as it owns this slot).
        Ok(None) => row_base(py).map_or(std::ptr::null_mut(), |t| {
            // SAFETY: the base class's slot, called with the arguments CPython gave this
            // one, which satisfy it (the instance is a `PyRow`).
            unsafe { (t.base_get)(slf, key) }
        }),
        Err(e) => e,
    }
}

/// `key in row`.
///
/// # Safety
/// Called by CPython only, as the `sq_contains` slot of the `Row` subclass: the thread
/// is attached, `slf` is an instance of that subclass (so of `PyRow`) and `key` a live
/// object, both borrowed for the call.
unsafe extern "C" fn contains(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> c_int {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let quick = guarded(py, || {
        // SAFETY: both pointers are live and borrowed for the call; `slf` is a `PyRow`.
        let (row, key) = unsafe {
            (
                Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>(),
                Borrowed::from_ptr(py, key),
            )
        };
        row.get().quick_has(py, &key)
    });
    match quick {
        Ok(Some(has)) => c_int::from(has),
        // SAFETY: as in `subscript`.
        Ok(None) => row_base(py).map_or(-1, |t| unsafe { (t.base_has)(slf, key) }),
        Err(_) => -1,
    }
}

/// `iter(row)`: a record with every field in field order iterates its list's names
/// (one shared tuple, see [`PyRow::quick_keys`]); any other through PyO3's slot.
///
/// # Safety
/// Called by CPython only, as the `tp_iter` slot of the `Row` subclass: the thread is
/// attached and `slf` is an instance of that subclass (so of `PyRow`), borrowed for the
/// call.
unsafe extern "C" fn row_iter(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let quick = guarded(py, || {
        // SAFETY: `slf` is live, borrowed for the call, and a `PyRow`.
        let row = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>() };
        row.get().quick_keys(py)
    });
    match quick {
        // SAFETY: `keys` is a live tuple; `PyObject_GetIter` returns a new reference to
        // its iterator, or null with the exception set (the slot's contract too).
        // `keys`, a `Bound`, is released directly when it goes out of scope.
        Ok(Some(keys)) => unsafe { ffi::PyObject_GetIter(keys.as_ptr()) },
        // SAFETY: as in `subscript`.
        Ok(None) => row_base(py).map_or(std::ptr::null_mut(), |t| unsafe { (t.base_iter)(slf) }),
        Err(e) => e,
    }
}

/// `len(row)`: a DictList record's count of keys without PyO3's wrapper; a record
/// file's through PyO3's slot.
///
/// # Safety
/// Called by CPython only, as the `mp_length` (and `sq_length`) slot of the `Row`
/// subclass: the thread is attached and `slf` is an instance of that subclass (so of
/// `PyRow`), borrowed for the call.
unsafe extern "C" fn row_len(slf: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let quick = guarded(py, || {
        // SAFETY: `slf` is live, borrowed for the call, and a `PyRow`.
        let row = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>() };
        row.get().quick_len(py)
    });
    match quick {
        // A record has at most as many keys as its list has fields (far below
        // `isize::MAX`).
        Ok(Some(n)) => n as ffi::Py_ssize_t,
        // SAFETY: as in `subscript`.
        Ok(None) => row_base(py).map_or(-1, |t| unsafe { (t.base_len)(slf) }),
        Err(_) => -1,
    }
}

/// The methods `Row`'s subclass defines over its base's: `get`, as hot as `row[key]`
/// in record loops (`r.get("note")`).
struct MethodTable([ffi::PyMethodDef; 2]);

// SAFETY: the table is never written; CPython only reads it (and the static strings
// and function it points to).
unsafe impl Sync for MethodTable {}

static ROW_METHODS: MethodTable = MethodTable([
    ffi::PyMethodDef {
        ml_name: c"get".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFast: row_get,
        },
        ml_flags: ffi::METH_FASTCALL,
        ml_doc: c"get($self, key, default=None, /)\n--\n\nThe value of `key`, or `default` if the record has no such key (as `dict.get`).".as_ptr(),
    },
    ffi::PyMethodDef::zeroed(),
]);

/// `row.get(key, default=None, /)`, positional as `dict.get`'s: a value or a missing key
/// answered by [`PyRow::quick_lookup`], anything else by
/// [`PyRow::get`].
///
/// # Safety
/// Called by CPython only, as the `METH_FASTCALL` method `get` of the `Row` subclass:
/// the thread is attached, `slf` is an instance of that subclass (so of `PyRow`) and
/// `args` holds `nargs` live objects, all borrowed for the call.
unsafe extern "C" fn row_get(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    if !(1..=2).contains(&nargs) {
        let msg = if nargs < 1 {
            format!("get expected at least 1 argument, got {nargs}")
        } else {
            format!("get expected at most 2 arguments, got {nargs}")
        };
        pyo3::exceptions::PyTypeError::new_err(msg).restore(py);
        return std::ptr::null_mut();
    }
    // SAFETY: `args` holds `nargs` (1 or 2) live objects; `Py_None` only returns the
    // pointer.
    let (key, default) = unsafe {
        (
            *args,
            if nargs == 2 {
                *args.add(1)
            } else {
                ffi::Py_None()
            },
        )
    };
    let quick = guarded(py, || {
        // SAFETY: `slf` and `key` are live and borrowed for the call; `slf` is a `PyRow`.
        let (row, key) = unsafe {
            (
                Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>(),
                Borrowed::from_ptr(py, key),
            )
        };
        match row.get().quick_lookup(py, &key)? {
            Some(v) => Some(v.into_ptr()),
            None => {
                // SAFETY: `default` is live (an argument, or `None`); the new reference
                // is the result.
                unsafe { ffi::Py_IncRef(default) };
                Some(default)
            }
        }
    });
    match quick {
        Ok(Some(v)) => v,
        // The full lookup, with PyO3's bookkeeping (it may make and release objects, and
        // raise).
        Ok(None) => guarded(py, || {
            Python::attach(|py| {
                // SAFETY: as above; `default` is live and borrowed for the call.
                let (row, key, default) = unsafe {
                    (
                        Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>(),
                        Borrowed::from_ptr(py, key),
                        Borrowed::from_ptr(py, default).to_owned(),
                    )
                };
                match row.get().get(py, &key, Some(default)) {
                    Ok(v) => v.into_ptr(),
                    Err(e) => {
                        e.restore(py);
                        std::ptr::null_mut()
                    }
                }
            })
        })
        .unwrap_or_else(|e| e),
        Err(e) => e,
    }
}

/// `row[key] = value`, and `del row[key]` (`value` null).
///
/// # Safety
/// Called by CPython only, as the `mp_ass_subscript` slot of the `Row` subclass: the
/// thread is attached, `slf` is an instance of that subclass (so of `PyRow`), `key` a
/// live object and `value` a live object or null, all borrowed for the call.
unsafe extern "C" fn ass_subscript(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let quick = guarded(py, || {
        // SAFETY: the pointers are live (or, for `value`, null) and borrowed for the
        // call; `slf` is a `PyRow`.
        let (row, key) = unsafe {
            (
                Borrowed::from_ptr(py, slf).cast_unchecked::<PyRow>(),
                Borrowed::from_ptr(py, key),
            )
        };
        // SAFETY: as above.
        match unsafe { Borrowed::from_ptr_or_opt(py, value) } {
            Some(value) => row.get().quick_set(py, &key, &value),
            None => row.get().quick_del(py, &key),
        }
    });
    match quick {
        Ok(true) => return 0,
        Ok(false) => {}
        // A panic, restored as the exception.
        Err(_) => return -1,
    }
    // SAFETY: as in `subscript`.
    row_base(py).map_or(-1, |t| unsafe { (t.base_set)(slf, key, value) })
}

/// `next(it)`.
///
/// # Safety
/// Called by CPython only, as the `tp_iternext` slot of `T`'s subclass: the thread is
/// attached and `slf` is a live instance of that subclass (so of `T`), borrowed for the
/// call.
unsafe extern "C" fn iternext<T: QuickNext>(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: the thread is attached (see the function's contract).
    let py = unsafe { Python::assume_attached() };
    let quick = guarded(py, || {
        // SAFETY: `slf` is live, borrowed for the call, and a `T`.
        let it = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<T>() };
        it.get().quick_next(py).map(Py::into_ptr)
    });
    match quick {
        Ok(Some(v)) => v,
        Ok(None) => match T::subclass_cell().get(py) {
            // SAFETY: as in `subscript` (the instance is a `T`).
            Some(t) => unsafe { (t.base_slot)(slf) },
            None => not_ready(py),
        },
        Err(e) => e,
    }
}
