//! Interior mutability for pyclass state, serialized by the interpreter lock.
//!
//! PyO3's own borrow checking is built for free-threaded Python: every `borrow()` is an
//! atomic compare-and-swap plus an atomic decrement. On the `row["key"]` hot path that
//! was most of the cost of a lookup. This module is an abi3 extension, and abi3 modules
//! only load into GIL-enabled CPython, where the GIL already serializes every attached
//! thread, so a plain (non-atomic) borrow flag is enough.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use pyo3::{PyResult, Python};

use crate::errors::Class;

/// A `RefCell` whose every access requires proof (`Python<'_>`) of holding the GIL.
pub(crate) struct GilCell<T> {
    /// 0: free; > 0: that many shared borrows; -1: borrowed mutably.
    flag: Cell<isize>,
    /// Mutable borrows taken so far: readers that cache what they read (a batch of rows
    /// made ahead) compare it to tell that the value may have changed since.
    writes: Cell<u64>,
    value: UnsafeCell<T>,
}

// SAFETY: the flag and the value are only read or written through `borrow`/`borrow_mut`
// (which take a `Python<'_>` token, so the calling thread is attached to a GIL-enabled
// interpreter: abi3 modules cannot be loaded by free-threaded builds), through the
// guards they return (which are `!Send`, so they are used and dropped on that thread),
// or through `get_mut` (which needs `&mut self`). The GIL lets one attached thread run at
// a time and orders its release before the next acquire, so no two threads touch the
// flag concurrently. A `&T` obtained from a guard may reach another thread only while the
// flag shows a shared borrow, so only shared access to `T` can overlap; `T: Sync` makes
// that sound, and `T: Send` covers the cell moving between threads with its owner.
unsafe impl<T: Send + Sync> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub(crate) fn new(value: T) -> Self {
        GilCell {
            flag: Cell::new(0),
            writes: Cell::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Shared access; fails while a mutable borrow is alive (re-entrant mutation).
    #[inline]
    pub(crate) fn borrow<'a>(&'a self, py: Python<'_>) -> PyResult<Ref<'a, T>> {
        let f = self.flag.get();
        if f < 0 {
            return Err(busy(py));
        }
        self.flag.set(f + 1);
        Ok(Ref {
            cell: self,
            _not_send: PhantomData,
        })
    }

    /// Exclusive access; fails while any other borrow is alive.
    #[inline]
    pub(crate) fn borrow_mut<'a>(&'a self, py: Python<'_>) -> PyResult<RefMut<'a, T>> {
        if self.flag.get() != 0 {
            return Err(busy(py));
        }
        self.flag.set(-1);
        self.writes.set(self.writes.get().wrapping_add(1));
        Ok(RefMut {
            cell: self,
            _not_send: PhantomData,
        })
    }
}

impl<T> GilCell<T> {
    /// The value, through exclusive access to the cell (no borrow can be alive).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// How many mutable borrows have been taken: unchanged means the value is as it was
    /// (nothing can change it but a mutable borrow).
    #[inline]
    pub(crate) fn writes(&self, _py: Python<'_>) -> u64 {
        self.writes.get()
    }
}

/// `memslim.ConcurrentUseError` (a `RuntimeError`), the class errors.md names for
/// re-entrant use, so `except memslim.MemslimError` catches it as it does the same
/// refusal from a record file.
#[cold]
fn busy(py: Python<'_>) -> pyo3::PyErr {
    Class::ConcurrentUse.err(
        py,
        "the list is being read or modified by an operation in progress (for example a \
         key function or generator that touches the list it is changing)",
    )
}

/// Shared borrow guard.
pub(crate) struct Ref<'a, T> {
    cell: &'a GilCell<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the flag counts this shared borrow, so no `RefMut` exists until it drops.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> Drop for Ref<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.cell.flag.set(self.cell.flag.get() - 1);
    }
}

/// Exclusive borrow guard.
pub(crate) struct RefMut<'a, T> {
    cell: &'a GilCell<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for RefMut<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the flag is -1 for this guard alone, so no other reference exists.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for RefMut<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` keeps this the only live access path.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for RefMut<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.cell.flag.set(0);
    }
}

/// Whether `obj` is referenced by its holder alone (so mutating it is unobservable).
#[inline]
pub(crate) fn is_sole_reference<T>(obj: &pyo3::Py<T>, _py: Python<'_>) -> bool {
    // SAFETY: `obj` is a live, owned reference, so its object is valid to read; the
    // `Python` token shows the GIL is held, so the count cannot change under us.
    unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) == 1 }
}
