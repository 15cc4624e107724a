//! Making the rows of a `TupleList` (namedtuple instances or plain tuples) without
//! Python-level calls.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyTuple, PyType};

/// Makes instances of one tuple subclass the way `tuple.__new__` does: the type's own
/// allocator, then the items set in place. The allocator is looked up once, when the
/// list is made.
#[derive(Clone, Copy)]
pub(crate) struct TupleMaker {
    alloc: ffi::allocfunc,
    /// The class is `tuple` itself: rows come from `PyTuple_New` (and its free lists).
    exact: bool,
    /// Instances have no `__dict__`: a row holding only values that are not containers
    /// can leave the cycle collector alone, as CPython's own tuples do once it has seen
    /// them (`_PyTuple_MaybeUntrack`).
    untrack: bool,
    /// Instances have neither a `__dict__` nor weak references, and the interpreter's
    /// tuples keep nothing derived from their items, so one nobody else refers to can be
    /// refilled unobserved (see [`TupleMaker::blank`]).
    reusable: bool,
}

/// Whether this interpreter's tuples keep nothing computed from their items. From
/// CPython 3.14 a tuple caches its hash in the object on first `hash()` (and only a
/// new allocation clears it, not `PyTuple_SetItem`), so a row refilled after a loop
/// body hashed it (`t in seen`) would carry the old row's hash: there rows are always
/// new. Up to 3.13 a tuple is its items and nothing else.
pub(crate) fn tuples_cache_nothing(py: Python<'_>) -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| py.version_info() < (3, 14))
}

impl TupleMaker {
    /// `None` if `cls` is not `tuple` or a tuple subclass (the caller then calls it
    /// instead).
    pub(crate) fn new(cls: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        let Ok(cls) = cls.cast::<PyType>() else {
            return Ok(None);
        };
        if !cls.is_subclass_of::<PyTuple>()? {
            return Ok(None);
        }
        let exact = cls.is(cls.py().get_type::<PyTuple>());
        let untrack = cls
            .getattr("__dictoffset__")
            .and_then(|d| d.extract::<isize>())
            .is_ok_and(|d| d == 0);
        let reusable = untrack
            && tuples_cache_nothing(cls.py())
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
            exact,
            untrack,
            reusable,
        }))
    }

    /// Whether a row may be refilled once nobody else refers to it: its class gives
    /// instances no `__dict__` and no weak references (through which a refill could be
    /// seen).
    pub(crate) fn reusable(&self) -> bool {
        self.reusable
    }

    /// A row of `n` slots for [`put`] to fill, outside the cycle collector's lists (so
    /// that no Python code, such as `gc.get_objects()` in a value's `__setstate__`, can
    /// reach it before it is filled): `spare` if given and reusable (this maker's,
    /// referenced by the caller alone, `n` items: its old items are replaced as it is
    /// filled), else a new instance of `cls`, whose slots are empty. [`TupleMaker::settle`]
    /// once every slot is filled; a row that is not filled is dropped, never handed out.
    pub(crate) fn blank<'py>(
        &self,
        cls: &Bound<'py, PyAny>,
        n: usize,
        spare: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        if let Some(r) = spare {
            // SAFETY: reads the reference count and size of a live tuple (`spare` is a
            // row this maker made); the GIL is held.
            let fits = self.reusable
                && unsafe {
                    ffi::Py_REFCNT(r.as_ptr()) == 1
                        && ffi::Py_SIZE(r.as_ptr()) == n as ffi::Py_ssize_t
                };
            if fits {
                // SAFETY: `r` is a live GC object (every tuple is); untracking only
                // takes it off the collector's lists.
                unsafe {
                    if ffi::PyObject_GC_IsTracked(r.as_ptr()) == 1 {
                        ffi::PyObject_GC_UnTrack(r.as_ptr().cast());
                    }
                }
                return Ok(r.into_bound(py));
            }
        }
        let t = cls.as_ptr().cast::<ffi::PyTypeObject>();
        // SAFETY: `cls` is the class `new` read `alloc` from (a tuple subclass, or
        // `tuple`). `alloc(t, n)` is how tuple's own `__new__` makes a subclass instance,
        // and `PyTuple_New` a tuple: a new reference to `n` empty item slots, or NULL
        // with an exception set.
        let obj = unsafe {
            if self.exact {
                ffi::PyTuple_New(n as ffi::Py_ssize_t)
            } else {
                (self.alloc)(t, n as ffi::Py_ssize_t)
            }
        };
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: `obj` is a new (owned) reference; from here on it is released on every
        // path. A new tuple is tracked by the collector; untracking only takes it off the
        // lists (`PyTuple_New(0)` is the shared empty tuple: left alone).
        unsafe {
            let row = Bound::from_owned_ptr(py, obj);
            if n > 0 && ffi::PyObject_GC_IsTracked(obj) == 1 {
                ffi::PyObject_GC_UnTrack(obj.cast());
            }
            Ok(row)
        }
    }

    /// Puts a filled row from [`TupleMaker::blank`] back under the cycle collector
    /// unless it cannot be part of a cycle: its class has no `__dict__` and it holds no
    /// container (`scalars`: the caller knows it holds only `int`, `float`, `str`,
    /// `bytes`, `bool` or `None`; else each item's type is looked at).
    pub(crate) fn settle(&self, row: &Bound<'_, PyAny>, scalars: bool) {
        let p = row.as_ptr();
        // SAFETY: `row` is a live tuple whose slots are all filled; reading its items
        // (borrowed) and their types' flags runs no Python code. Tracking only puts a
        // live GC object on the collector's lists.
        unsafe {
            let n = ffi::Py_SIZE(p);
            if n == 0 {
                return;
            }
            let atomic = self.untrack
                && (scalars
                    || (0..n).all(|k| {
                        let v = ffi::PyTuple_GetItem(p, k);
                        !v.is_null()
                            && ffi::PyType_GetFlags(ffi::Py_TYPE(v)) & ffi::Py_TPFLAGS_HAVE_GC == 0
                    }));
            if !atomic && ffi::PyObject_GC_IsTracked(p) == 0 {
                ffi::PyObject_GC_Track(p.cast());
            }
        }
    }
}

/// Where a tuple's item slots (`ob_item`) begin, in bytes from the object's start: the
/// layout `PyTuple_GET_ITEM` reads, which the stable ABI does not promise (3.14 put a
/// cached hash before the items). Measured once, on a tuple whose items are known:
/// `tuple.__basicsize__` (the header up to the items) must be where its items are, and
/// `tuple.__itemsize__` a pointer's size; `None` if anything else is found, and then
/// [`put`] goes through `PyTuple_SetItem`. A subclass instance (a namedtuple) keeps its
/// items where a tuple does: tuple's own C code reads them there.
pub(crate) fn items_offset(py: Python<'_>) -> Option<usize> {
    static AT: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *AT.get_or_init(|| measure_items_offset(py))
}

fn measure_items_offset(py: Python<'_>) -> Option<usize> {
    let ty = py.get_type::<PyTuple>();
    let at: usize = ty.getattr("__basicsize__").ok()?.extract().ok()?;
    let width: usize = ty.getattr("__itemsize__").ok()?.extract().ok()?;
    let ptr = std::mem::size_of::<*mut ffi::PyObject>();
    if width != ptr || !at.is_multiple_of(ptr) || at < std::mem::size_of::<ffi::PyVarObject>() {
        return None;
    }
    let (x, y) = (
        py.None(),
        PyBool::new(py, true).to_owned().into_any().unbind(),
    );
    let probe = PyTuple::new(py, [x.bind(py), y.bind(py)]).ok()?;
    // SAFETY: `probe` is a live tuple of 2 items, whose object is at least `at` bytes
    // of header plus its two item pointers if the layout is as measured; the reads below
    // stay inside that (`__basicsize__` + 2 x `__itemsize__` bytes, what CPython
    // allocated for it) and only compare pointers.
    let found = unsafe {
        let items = probe
            .as_ptr()
            .cast::<u8>()
            .add(at)
            .cast::<*mut ffi::PyObject>();
        (*items, *items.add(1))
    };
    (found == (x.as_ptr(), y.as_ptr())).then_some(at)
}

/// Sets slot `k` of `row`, a row from [`TupleMaker::blank`] not yet settled (referenced
/// by the caller alone), to `v`, releasing what the slot held. `at` is
/// [`items_offset`]: where known, the slot is written directly.
///
/// # Errors
/// `SystemError` if `row` is referenced elsewhere or has no slot `k` (CPython's check).
#[inline(always)]
pub(crate) fn put(
    row: &Bound<'_, PyAny>,
    k: usize,
    v: Bound<'_, PyAny>,
    at: Option<usize>,
) -> PyResult<()> {
    let p = row.as_ptr();
    if let Some(at) = at {
        // SAFETY: `row` is a live tuple (every row comes from `blank`); reading its size
        // and reference count runs no code.
        let fits = unsafe { k < ffi::Py_SIZE(p) as usize && ffi::Py_REFCNT(p) == 1 };
        if fits {
            // SAFETY: what `PyTuple_SetItem` does once it has checked that `row` is a
            // tuple referenced once with a slot `k` (checked above; every row is a tuple
            // or tuple subclass, whose items lie at `at`, measured by `items_offset` on
            // this interpreter): the slot takes over `v`'s reference, and the item it
            // held (a refilled row's, or NULL in a new one) is released after, so that
            // whatever its release runs sees the row already holding `v`.
            unsafe {
                let slot = p.cast::<u8>().add(at).cast::<*mut ffi::PyObject>().add(k);
                let old = std::mem::replace(&mut *slot, v.into_ptr());
                if !old.is_null() {
                    ffi::Py_DecRef(old);
                }
            }
            return Ok(());
        }
    }
    // SAFETY: `PyTuple_SetItem` checks that `row` is a tuple referenced once and that
    // `k` is in range (else it raises SystemError and releases `v`); it takes over
    // `v`'s reference and releases the item it replaces.
    let rc = unsafe { ffi::PyTuple_SetItem(p, k as ffi::Py_ssize_t, v.into_ptr()) };
    if rc != 0 {
        return Err(PyErr::fetch(row.py()));
    }
    Ok(())
}
