//! Registers a structure's Rust-side bytes with Python's `tracemalloc`, so that
//! `tracemalloc.get_traced_memory()` and snapshots see memory held by memslim.
//!
//! The same single point also keeps each structure's share of the process-wide totals
//! (live structures and the bytes they report, [`memslim_records::process::LiveBytes`]),
//! read by `memslim.stats()`.

use std::collections::HashMap;
use std::ffi::{c_int, c_uint};
use std::sync::{Mutex, PoisonError};

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
    /// The buffers this structure reports through [`SHARED`] (sorted addresses).
    held: Vec<usize>,
}

/// Buffers that several structures may share (the column chunks of a list and of its
/// copy-on-write copies: a TupleList's `t + []`, `copy.deepcopy`), each reported once
/// while any of them holds it: as its own tracemalloc block keyed by its address, and
/// once in the process totals. Reported by each holder instead, a copy that had
/// copied nothing counted its source's bytes again.
static SHARED: Mutex<Option<HashMap<usize, SharedBuffer>>> = Mutex::new(None);

#[derive(Debug)]
struct SharedBuffer {
    holders: usize,
    live: LiveBytes,
}

fn track(key: usize, size: usize) {
    // SAFETY: the functions take plain integers and dereference nothing; they are
    // called with the GIL held (from pymethods and deallocation), as CPython requires.
    // When tracemalloc is not tracing they return -1 and do nothing.
    unsafe {
        PyTraceMalloc_Track(DOMAIN, key, size);
    }
}

fn untrack(key: usize) {
    // SAFETY: as in `track`.
    unsafe {
        PyTraceMalloc_Untrack(DOMAIN, key);
    }
}

impl Tracked {
    /// A structure's block, counted as one structure by `memslim.stats()`.
    pub(crate) fn new() -> Self {
        Tracked {
            id: Box::new(0),
            live: LiveBytes::new(),
            held: Vec::new(),
        }
    }

    /// The block of storage that the structures sharing it count themselves
    /// ([`memslim_records::process::LiveStructure`]): its bytes only.
    pub(crate) fn uncounted() -> Self {
        Tracked {
            id: Box::new(0),
            live: LiveBytes::uncounted(),
            held: Vec::new(),
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
        track(self.key(), size);
    }

    /// Reports `total` bytes, of which the buffers `buffers` lists (`(address, bytes)`,
    /// [`memslim_records::RecordList::buffers`]) may be shared with other structures:
    /// those are reported once for all their holders ([`SHARED`]), the rest as this
    /// structure's block.
    pub(crate) fn set_with_buffers(&mut self, total: usize, buffers: Vec<(usize, usize)>) {
        let listed: usize = buffers.iter().map(|b| b.1).sum();
        let mut now = buffers;
        now.sort_unstable();
        now.dedup_by_key(|b| b.0);
        let mut reg = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        let reg = reg.get_or_insert_with(HashMap::new);
        let mut held = std::mem::take(&mut self.held).into_iter().peekable();
        for &(id, bytes) in &now {
            // Buffers held before and not now go.
            while let Some(gone) = held.next_if(|&h| h < id) {
                release(reg, gone);
            }
            let had = held.next_if_eq(&id).is_some();
            let e = reg.entry(id).or_insert_with(|| SharedBuffer {
                holders: 0,
                live: LiveBytes::uncounted(),
            });
            if !had {
                e.holders += 1;
            }
            if e.live.set(bytes) {
                track(id, bytes);
            }
        }
        for gone in held {
            release(reg, gone);
        }
        self.held = now.into_iter().map(|b| b.0).collect();
        self.set(total.saturating_sub(listed));
    }
}

/// One holder of buffer `id` lets it go: the last one ends its report.
fn release(reg: &mut HashMap<usize, SharedBuffer>, id: usize) {
    if let Some(e) = reg.get_mut(&id) {
        e.holders -= 1;
        if e.holders == 0 {
            reg.remove(&id);
            untrack(id);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Pyclass values are dropped during deallocation, with the GIL held.
        if self.live.size() != 0 {
            untrack(self.key());
        }
        if !self.held.is_empty() {
            let mut reg = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(reg) = reg.as_mut() {
                for id in std::mem::take(&mut self.held) {
                    release(reg, id);
                }
            }
        }
    }
}
