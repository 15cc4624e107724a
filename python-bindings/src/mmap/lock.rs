//! The lock every file type holds its core object behind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::sync::MutexExt;

use crate::errors::Class;

/// A mutex that knows which thread holds it: waiting for another thread detaches from
/// the interpreter (so a holder running Python code cannot deadlock with us), and a
/// re-entrant call from the holding thread (Python code run while the lock is held, e.g.
/// unpickling a stored object whose class reads the same file) is a clear error instead
/// of a hang.
pub struct Guarded<T> {
    pub(super) inner: Mutex<T>,
    owner: AtomicUsize,
}

thread_local! {
    static THREAD_MARK: u8 = const { 0 };
}

fn thread_mark() -> usize {
    THREAD_MARK.with(|m| std::ptr::from_ref(m) as usize)
}

/// The lock of a [`Guarded`]; forgets its owner when dropped.
pub struct Held<'a, T> {
    guard: MutexGuard<'a, T>,
    owner: &'a AtomicUsize,
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Held<'_, T> {
    fn drop(&mut self) {
        self.owner.store(0, Ordering::Release);
    }
}

impl<T> Guarded<T> {
    pub(super) fn new(value: T) -> Self {
        Guarded {
            inner: Mutex::new(value),
            owner: AtomicUsize::new(0),
        }
    }

    pub(super) fn lock(&self, py: Python<'_>) -> PyResult<Held<'_, T>> {
        let poisoned =
            |_| Class::ConcurrentUse.err(py, "a previous operation on this object panicked");
        let guard = match self.inner.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(_)) => return Err(poisoned(())),
            Err(std::sync::TryLockError::WouldBlock) => {
                if self.owner.load(Ordering::Acquire) == thread_mark() {
                    return Err(Class::ConcurrentUse.err(
                        py,
                        "re-entrant use: this object is already in use by the current call",
                    ));
                }
                self.inner.lock_py_attached(py).map_err(|_| poisoned(()))?
            }
        };
        self.owner.store(thread_mark(), Ordering::Release);
        Ok(Held {
            guard,
            owner: &self.owner,
        })
    }

    /// Runs `f` on the value with the interpreter detached (for I/O).
    pub(super) fn detached<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut T) -> R + Send,
    ) -> PyResult<R>
    where
        T: Send,
    {
        self.lock(py).map(drop)?;
        py.detach(|| self.inner.lock().map(|mut v| f(&mut v)).map_err(|_| ()))
            .map_err(|()| {
                Class::ConcurrentUse.err(py, "a previous operation on this object panicked")
            })
    }
}
