//! Process-wide memory figures that a long-running service logs, and handing freed heap
//! memory back to the operating system.
//!
//! - [`LiveBytes`]: each live structure's share of the process totals ([`live_totals`]:
//!   how many structures, how many bytes they report); [`LiveStructure`] counts a
//!   structure whose bytes are reported by storage it shares with others.
//! - [`allocator_stats`]: what glibc's allocator holds (`mallinfo2()`).
//! - [`release_free_memory`]: column buffers grow by reallocation while a list is built;
//!   with glibc, the blocks they leave behind are free but stay resident (heap holes), so
//!   RSS would exceed what the list holds and would not fall back after `del`. After a
//!   bulk load and when a large list is dropped, a host asks glibc to return free pages
//!   (`malloc_trim(0)` also releases whole free pages inside the heap, not only at its
//!   top).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many counted [`LiveBytes`] and [`LiveStructure`] values exist: one per live
/// structure.
static LIVE_STRUCTURES: AtomicUsize = AtomicUsize::new(0);
/// The sum of the sizes last reported by every live [`LiveBytes`].
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// `(live structures, bytes they hold)` across the whole process.
///
/// # Memory
/// Reads two counters; allocates nothing.
pub fn live_totals() -> (usize, usize) {
    // Relaxed: each counter is exact on its own; the pair is a snapshot for logging.
    (
        LIVE_STRUCTURES.load(Ordering::Relaxed),
        LIVE_BYTES.load(Ordering::Relaxed),
    )
}

/// One live structure's entry in the process totals ([`live_totals`]): counted while it
/// exists, with the size it last reported.
///
/// # Memory
/// Two words; the totals are two process-wide counters.
#[derive(Debug)]
pub struct LiveBytes {
    size: usize,
    /// Counted as a structure (else only its bytes are).
    counted: bool,
}

impl LiveBytes {
    /// A structure of 0 bytes, counted from now until dropped.
    #[allow(clippy::new_without_default)] // each value changes the totals: no silent default
    pub fn new() -> Self {
        LIVE_STRUCTURES.fetch_add(1, Ordering::Relaxed);
        LiveBytes {
            size: 0,
            counted: true,
        }
    }

    /// Storage of 0 bytes whose size goes into the byte total but which is not a
    /// structure of its own: the structures that share it count themselves
    /// ([`LiveStructure`]).
    pub fn uncounted() -> Self {
        LiveBytes {
            size: 0,
            counted: false,
        }
    }

    /// The size last reported.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Reports the structure's current size; returns whether it changed.
    pub fn set(&mut self, size: usize) -> bool {
        if size == self.size {
            return false;
        }
        if size > self.size {
            LIVE_BYTES.fetch_add(size - self.size, Ordering::Relaxed);
        } else {
            LIVE_BYTES.fetch_sub(self.size - size, Ordering::Relaxed);
        }
        self.size = size;
        true
    }
}

impl Drop for LiveBytes {
    fn drop(&mut self) {
        if self.counted {
            LIVE_STRUCTURES.fetch_sub(1, Ordering::Relaxed);
        }
        LIVE_BYTES.fetch_sub(self.size, Ordering::Relaxed);
    }
}

/// One live structure in the count of [`live_totals`], with no bytes of its own: a list
/// whose storage, shared with its slices and copies, reports its bytes once
/// ([`LiveBytes::uncounted`]).
///
/// # Memory
/// None; the count is a process-wide counter.
#[derive(Debug)]
pub struct LiveStructure(());

impl LiveStructure {
    /// A structure counted from now until dropped.
    #[allow(clippy::new_without_default)] // each value changes the totals: no silent default
    pub fn new() -> Self {
        LIVE_STRUCTURES.fetch_add(1, Ordering::Relaxed);
        LiveStructure(())
    }
}

impl Drop for LiveStructure {
    fn drop(&mut self) {
        LIVE_STRUCTURES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Loads and drops smaller than this do not trim (the walk is not free on a big heap).
pub const TRIM_AFTER_BYTES: usize = 1 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
/// Asks the allocator to return free heap pages to the operating system (glibc's
/// `malloc_trim(0)`; nothing elsewhere).
///
/// # Memory
/// Allocates nothing; walks the allocator's free lists.
pub fn release_free_memory() {
    unsafe extern "C" {
        // glibc's malloc.h: `int malloc_trim(size_t pad);`
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim takes a plain integer, touches only the allocator's own free
    // lists (under its own locks), and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
/// Asks the allocator to return free heap pages to the operating system (glibc's
/// `malloc_trim(0)`; nothing elsewhere).
///
/// # Memory
/// Allocates nothing; walks the allocator's free lists.
pub fn release_free_memory() {}

/// What glibc's allocator holds, from `mallinfo2()`: the figures a long-running service
/// logs next to `memslim.stats()`'s own byte counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Bytes of heap obtained with `brk`/`sbrk` (the main arena and others), in use or free.
    pub heap_bytes: usize,
    /// Bytes in blocks allocated directly with `mmap` (large allocations).
    pub mmap_bytes: usize,
    /// Bytes in use by the program within the heap (`mmap` blocks not included).
    pub in_use_bytes: usize,
    /// Bytes free inside the heap: held by the process, not returned to the OS.
    pub free_bytes: usize,
    /// Free bytes at the top of the heap that `malloc_trim` could return at once.
    pub releasable_bytes: usize,
}

/// glibc's `struct mallinfo2` (malloc.h, glibc >= 2.33): ten `size_t` fields.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[repr(C)]
#[allow(dead_code)] // the layout needs every field; we read five of them
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// The allocator's figures, or `None` where they cannot be had (not glibc, or a glibc
/// older than 2.33 that lacks `mallinfo2`).
///
/// # Memory
/// Allocates nothing; glibc walks its arenas under their locks (cost grows with the
/// number of free chunks, a few microseconds on a typical heap).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn allocator_stats() -> Option<AllocatorStats> {
    use std::ffi::{c_char, c_void};
    type MallInfo2Fn = unsafe extern "C" fn() -> MallInfo2;
    unsafe extern "C" {
        // dlfcn.h; with RTLD_DEFAULT (a null handle in glibc) it searches the global scope.
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }
    // Looked up at run time rather than linked, so the extension still loads on a glibc
    // older than 2.33 (it then reports `None`).
    // SAFETY: the symbol name is a NUL-terminated literal; dlsym only reads it and returns
    // a pointer or null, and a null handle is glibc's RTLD_DEFAULT.
    let symbol = unsafe { dlsym(std::ptr::null_mut(), c"mallinfo2".as_ptr()) };
    if symbol.is_null() {
        return None;
    }
    // SAFETY: a non-null `mallinfo2` from glibc has exactly this signature
    // (`struct mallinfo2 mallinfo2(void)`), and `MallInfo2` is its `repr(C)` layout.
    let mallinfo2: MallInfo2Fn = unsafe { std::mem::transmute::<*mut c_void, MallInfo2Fn>(symbol) };
    // SAFETY: mallinfo2 takes no arguments, returns its struct by value, and only reads
    // the allocator's state under the allocator's own locks; any thread may call it.
    let info = unsafe { mallinfo2() };
    Some(AllocatorStats {
        heap_bytes: info.arena,
        mmap_bytes: info.hblkhd,
        in_use_bytes: info.uordblks,
        free_bytes: info.fordblks,
        releasable_bytes: info.keepcost,
    })
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
/// The allocator's figures: none outside glibc.
pub fn allocator_stats() -> Option<AllocatorStats> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // The only test that creates `LiveBytes` in this crate's test binary, so the totals
    // move by exactly what it does.
    #[test]
    fn live_totals_follow_the_structures_and_their_sizes() {
        let (n0, b0) = live_totals();
        let mut a = LiveBytes::new();
        let mut b = LiveBytes::new();
        assert_eq!(live_totals(), (n0 + 2, b0));
        assert!(a.set(1000));
        assert!(!a.set(1000));
        assert!(b.set(24));
        assert_eq!(live_totals(), (n0 + 2, b0 + 1024));
        assert!(a.set(10));
        assert_eq!((a.size(), live_totals()), (10, (n0 + 2, b0 + 34)));
        drop(a);
        assert_eq!(live_totals(), (n0 + 1, b0 + 24));
        drop(b);
        assert_eq!(live_totals(), (n0, b0));
        // Storage shared by structures that count themselves.
        let mut shared = LiveBytes::uncounted();
        let (x, y) = (LiveStructure::new(), LiveStructure::new());
        assert!(shared.set(500));
        assert_eq!(live_totals(), (n0 + 2, b0 + 500));
        drop(x);
        drop(shared);
        assert_eq!(live_totals(), (n0 + 1, b0));
        drop(y);
        assert_eq!(live_totals(), (n0, b0));
    }

    #[test]
    fn allocator_figures_are_consistent_where_there_are_any() {
        release_free_memory();
        let held: Vec<u8> = vec![7; 1 << 16];
        if let Some(s) = allocator_stats() {
            assert!(s.in_use_bytes + s.free_bytes <= s.heap_bytes);
            assert!(s.releasable_bytes <= s.free_bytes);
        }
        assert_eq!(held.iter().map(|&b| usize::from(b)).sum::<usize>(), 7 << 16);
    }
}

/// One allocation that several structures may share (through an `Arc`): its identity
/// and size, and whether anything else holds it now. A caller that adds the sizes of
/// several structures counts each `id` once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// The allocation's address: the same in every structure that shares it.
    pub id: usize,
    /// Its heap bytes.
    pub bytes: usize,
    /// Whether another holder shares it (its `Arc` has more than one strong reference).
    pub shared: bool,
}

impl Buffer {
    /// The buffer of `bytes` behind `arc`.
    pub fn of<T: ?Sized>(arc: &std::sync::Arc<T>, bytes: usize) -> Buffer {
        Buffer {
            id: std::sync::Arc::as_ptr(arc).cast::<u8>() as usize,
            bytes,
            shared: std::sync::Arc::strong_count(arc) > 1,
        }
    }
}
