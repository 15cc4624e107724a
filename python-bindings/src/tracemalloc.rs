//! Registers a structure's Rust-side bytes with Python's `tracemalloc`, so that
//! `tracemalloc.get_traced_memory()` and snapshots see memory held by memslim.
//!
//! The same single point also keeps process-wide totals (live structures and the bytes
//! they report), read by `memslim.stats()` through [`live_totals`].

use std::ffi::{c_int, c_uint};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Our own tracemalloc domain, so our entries never collide with Python's (domain 0).
const DOMAIN: c_uint = 0x6d73_6c6d;

unsafe extern "C" {
    // CPython's public C API (Include/cpython/tracemalloc.h), exported by every
    // CPython >= 3.7 interpreter our abi3 module loads into.
    fn PyTraceMalloc_Track(domain: c_uint, ptr: usize, size: usize) -> c_int;
    fn PyTraceMalloc_Untrack(domain: c_uint, ptr: usize) -> c_int;
}

/// How many [`Tracked`] values exist: one per live memslim structure.
static LIVE_STRUCTURES: AtomicUsize = AtomicUsize::new(0);
/// The sum of the sizes last reported by every live [`Tracked`].
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// `(live structures, bytes they hold)` across the whole process.
///
/// # Memory
/// Reads two counters; allocates nothing.
pub(crate) fn live_totals() -> (usize, usize) {
    // Relaxed: each counter is exact on its own; the pair is a snapshot for logging, and
    // every writer holds the GIL anyway.
    (
        LIVE_STRUCTURES.load(Ordering::Relaxed),
        LIVE_BYTES.load(Ordering::Relaxed),
    )
}

/// One tracked block whose size follows the structure's `nbytes`.
#[derive(Debug)]
pub(crate) struct Tracked {
    /// A heap address unique to this structure, used as the block's key.
    id: Box<u8>,
    size: usize,
}

impl Tracked {
    pub(crate) fn new() -> Self {
        LIVE_STRUCTURES.fetch_add(1, Ordering::Relaxed);
        Tracked {
            id: Box::new(0),
            size: 0,
        }
    }

    fn key(&self) -> usize {
        &*self.id as *const u8 as usize
    }

    /// Reports the current size (the GIL is held by every caller: all are pymethods).
    pub(crate) fn set(&mut self, size: usize) {
        if size == self.size {
            return;
        }
        // SAFETY: the functions take plain integers and dereference nothing; they are
        // called with the GIL held (from pymethods), as CPython requires. When tracemalloc
        // is not tracing they return -1 and do nothing.
        unsafe {
            PyTraceMalloc_Track(DOMAIN, self.key(), size);
        }
        if size > self.size {
            LIVE_BYTES.fetch_add(size - self.size, Ordering::Relaxed);
        } else {
            LIVE_BYTES.fetch_sub(self.size - size, Ordering::Relaxed);
        }
        self.size = size;
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE_STRUCTURES.fetch_sub(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(self.size, Ordering::Relaxed);
        if self.size != 0 {
            // SAFETY: as in `set`; pyclass values are dropped during deallocation, with the
            // GIL held.
            unsafe {
                PyTraceMalloc_Untrack(DOMAIN, self.key());
            }
        }
    }
}
