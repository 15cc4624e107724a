//! Making the rows of a `TupleList` (namedtuple instances) without Python-level calls.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

/// Makes instances of one tuple subclass the way `tuple.__new__` does: the type's own
/// allocator, then the items set in place. The allocator is looked up once, when the
/// list is made.
#[derive(Clone, Copy)]
pub(crate) struct TupleMaker {
    alloc: ffi::allocfunc,
    /// Instances have no `__dict__`: a row holding only values that are not containers
    /// can leave the cycle collector alone, as CPython's own tuples do once it has seen
    /// them (`_PyTuple_MaybeUntrack`).
    untrack: bool,
    /// Instances have neither a `__dict__` nor weak references, so one nobody else
    /// refers to can be refilled unobserved (see [`TupleMaker::refill_hinted`]).
    reusable: bool,
}

impl TupleMaker {
    /// `None` if `cls` is not a tuple subclass (the caller then calls it instead).
    pub(crate) fn new(cls: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        let Ok(cls) = cls.cast::<PyType>() else {
            return Ok(None);
        };
        if !cls.is_subclass_of::<PyTuple>()? {
            return Ok(None);
        }
        let untrack = cls
            .getattr("__dictoffset__")
            .and_then(|d| d.extract::<isize>())
            .is_ok_and(|d| d == 0);
        let reusable = untrack
            && cls
                .getattr("__weakrefoffset__")
                .and_then(|d| d.extract::<isize>())
                .is_ok_and(|d| d == 0);
        // SAFETY: `cls` is a live type object; `PyType_GetSlot` reads its slot table and
        // runs no Python code. Every tuple subclass has a `tp_alloc` (inherited from
        // `tuple`), whose signature is `allocfunc`, so the transmute of the (non-null)
        // slot pointer is sound.
        let alloc: ffi::allocfunc = unsafe {
            let slot = ffi::PyType_GetSlot(cls.as_type_ptr(), ffi::Py_tp_alloc);
            if slot.is_null() {
                return Ok(None);
            }
            std::mem::transmute::<*mut std::ffi::c_void, ffi::allocfunc>(slot)
        };
        Ok(Some(TupleMaker {
            alloc,
            untrack,
            reusable,
        }))
    }

    /// A new instance of `cls` (the class this maker was made for) holding `items`, all
    /// made before the instance is allocated.
    pub(crate) fn make<'py>(
        &self,
        cls: &Bound<'py, PyAny>,
        items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.make_hinted(cls, items, false)
    }

    /// Whether a row may be refilled once nobody else refers to it: its class gives
    /// instances no `__dict__` and no weak references (through which a refill could be
    /// seen).
    pub(crate) fn reusable(&self) -> bool {
        self.reusable
    }

    /// As [`TupleMaker::make`]; `scalars` says the caller knows no item is a container
    /// (an `int`, `float`, `str`, `bytes`, `bool` or `None`), which spares looking at
    /// each item's type.
    pub(crate) fn make_hinted<'py>(
        &self,
        cls: &Bound<'py, PyAny>,
        items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
        scalars: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let n = items.len() as ffi::Py_ssize_t;
        let t = cls.as_ptr().cast::<ffi::PyTypeObject>();
        // SAFETY: `cls` is the tuple subclass `alloc` was read from (`new` checked it);
        // `alloc(t, n)` is how tuple's own `__new__` makes a subclass instance: a new
        // reference to an object of `n` empty item slots, or NULL with an exception set.
        let obj = unsafe { (self.alloc)(t, n) };
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: `obj` is a new (owned) reference; from here on it is released on every
        // path.
        let obj = unsafe { Bound::from_owned_ptr(py, obj) };
        let mut filled = 0;
        let mut atomic = self.untrack;
        for (k, v) in items.enumerate().take(n as usize) {
            filled += 1;
            // SAFETY: reads the flags of the item's (live) type; runs no Python code.
            atomic = atomic
                && (scalars
                    || unsafe { ffi::PyType_GetFlags(ffi::Py_TYPE(v.as_ptr())) }
                        & ffi::Py_TPFLAGS_HAVE_GC
                        == 0);
            // SAFETY: `obj` is a tuple (subclass instance) of `n` slots whose only
            // reference is ours (no Python code runs between its allocation and here: the
            // items were made first), `k < n`, and `PyTuple_SetItem` takes over the
            // item's reference.
            let rc =
                unsafe { ffi::PyTuple_SetItem(obj.as_ptr(), k as ffi::Py_ssize_t, v.into_ptr()) };
            if rc != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        if filled != n {
            // Never handed out with empty slots.
            return Err(pyo3::exceptions::PySystemError::new_err(
                "a row came out with too few values",
            ));
        }
        if atomic {
            // SAFETY: `obj` is a live GC object (tuple subclasses are) without a
            // `__dict__`, holding only objects that are not GC types, so it can never be
            // part of a reference cycle; untracking an object is always memory-safe.
            unsafe { ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
        }
        Ok(obj)
    }

    /// Replaces the items of `row`, an instance this maker made whose only reference is
    /// the caller's (so nobody can see it change), with `items`: a row reused instead of
    /// freed and allocated again. `scalars` as in [`TupleMaker::make_hinted`].
    ///
    /// # Errors
    /// `SystemError` if `row` is not a tuple of `items.len()` items or is referenced
    /// elsewhere (nothing is changed then).
    pub(crate) fn refill_hinted<'py>(
        &self,
        row: &Bound<'py, PyAny>,
        items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
        scalars: bool,
    ) -> PyResult<()> {
        let py = row.py();
        let t = row.cast::<PyTuple>()?;
        // SAFETY: reads the reference count of a live object; the GIL is held.
        let sole = unsafe { ffi::Py_REFCNT(row.as_ptr()) } == 1;
        if t.len() != items.len() || !sole {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "a row can only be refilled while nothing else refers to it",
            ));
        }
        let mut atomic = self.untrack;
        for (k, v) in items.enumerate() {
            // SAFETY: as in `make`: reads the flags of the item's live type.
            atomic = atomic
                && (scalars
                    || unsafe { ffi::PyType_GetFlags(ffi::Py_TYPE(v.as_ptr())) }
                        & ffi::Py_TPFLAGS_HAVE_GC
                        == 0);
            // SAFETY: `row` is a tuple with more than `k` items whose only reference is
            // ours (checked above; no Python code runs in this loop), which is what
            // `PyTuple_SetItem` requires; it takes over the item's reference and
            // releases the item it replaces.
            let rc =
                unsafe { ffi::PyTuple_SetItem(row.as_ptr(), k as ffi::Py_ssize_t, v.into_ptr()) };
            if rc != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        // SAFETY: `row` is a live GC object; the tracking calls only move it in or out of
        // the collector's lists. Untracked only when it cannot be part of a cycle (as in
        // `make`); tracked again when it now holds a container.
        unsafe {
            let tracked = ffi::PyObject_GC_IsTracked(row.as_ptr()) == 1;
            if atomic && tracked {
                ffi::PyObject_GC_UnTrack(row.as_ptr().cast());
            } else if !atomic && !tracked {
                ffi::PyObject_GC_Track(row.as_ptr().cast());
            }
        }
        Ok(())
    }
}
