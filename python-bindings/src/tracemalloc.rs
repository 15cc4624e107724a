//! Registers a structure's Rust-side bytes with Python's `tracemalloc`, so that
//! `tracemalloc.get_traced_memory()` and snapshots see memory held by memslim.
//!
//! The same single point also keeps each structure's share of the process-wide totals
//! (live structures and the bytes they report, [`memslim_records::process::LiveBytes`]),
//! read by `memslim.stats()`.

use std::ffi::{c_int, c_uint};

use memslim_records::process::LiveBytes;

/// Our own tracemalloc domain, so our entries never collide with Python's (domain 0).
const DOMAIN: c_uint = 0x6d73_6c6d;

unsafe extern "C" {
    // CPython's public C API (Include/cpython/tracemalloc.h), exported by every
    // CPython >= 3.7 interpreter our abi3 module loads into.
    fn PyTraceMalloc_Track(domain: c_uint, ptr: usize, size: usize) -> c_int;
    fn PyTraceMalloc_Untrack(domain: c_uint, ptr: usize) -> c_int;
}

/// One tracked block whose size follows the structure's `nbytes`.
#[derive(Debug)]
pub(crate) struct Tracked {
    /// A heap address unique to this structure, used as the block's key.
    id: Box<u8>,
    live: LiveBytes,
}

impl Tracked {
    /// A structure's block, counted as one structure by `memslim.stats()`.
    pub(crate) fn new() -> Self {
        Tracked {
            id: Box::new(0),
            live: LiveBytes::new(),
        }
    }

    /// The block of storage that the structures sharing it count themselves
    /// ([`memslim_records::process::LiveStructure`]): its bytes only.
    pub(crate) fn uncounted() -> Self {
        Tracked {
            id: Box::new(0),
            live: LiveBytes::uncounted(),
        }
    }

    fn key(&self) -> usize {
        &*self.id as *const u8 as usize
    }

    /// Reports the current size (the GIL is held by every caller: all are pymethods).
    pub(crate) fn set(&mut self, size: usize) {
        if !self.live.set(size) {
            return;
        }
        // SAFETY: the functions take plain integers and dereference nothing; they are
        // called with the GIL held (from pymethods), as CPython requires. When tracemalloc
        // is not tracing they return -1 and do nothing.
        unsafe {
            PyTraceMalloc_Track(DOMAIN, self.key(), size);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.live.size() != 0 {
            // SAFETY: as in `set`; pyclass values are dropped during deallocation, with the
            // GIL held.
            unsafe {
                PyTraceMalloc_Untrack(DOMAIN, self.key());
            }
        }
    }
}
