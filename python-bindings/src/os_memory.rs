//! Handing freed heap memory back to the operating system.
//!
//! Column buffers grow by reallocation while a list is built; with glibc, the blocks they
//! leave behind are free but stay resident (heap holes), so RSS would exceed what the
//! list holds and would not fall back after `del`. After a bulk load and when a large
//! list is dropped we ask glibc to return free pages (`malloc_trim(0)` also releases
//! whole free pages inside the heap, not only at its top).

/// Loads and drops smaller than this do not trim (the walk is not free on a big heap).
pub(crate) const TRIM_AFTER_BYTES: usize = 1 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_free_memory() {
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
pub(crate) fn release_free_memory() {}

/// What glibc's allocator holds, from `mallinfo2()`: the figures a long-running service
/// logs next to `memslim.stats()`'s own byte counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllocatorStats {
    /// Bytes of heap obtained with `brk`/`sbrk` (the main arena and others), in use or free.
    pub(crate) heap_bytes: usize,
    /// Bytes in blocks allocated directly with `mmap` (large allocations).
    pub(crate) mmap_bytes: usize,
    /// Bytes in use by the program within the heap (`mmap` blocks not included).
    pub(crate) in_use_bytes: usize,
    /// Bytes free inside the heap: held by the process, not returned to the OS.
    pub(crate) free_bytes: usize,
    /// Free bytes at the top of the heap that `malloc_trim` could return at once.
    pub(crate) releasable_bytes: usize,
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
pub(crate) fn allocator_stats() -> Option<AllocatorStats> {
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
pub(crate) fn allocator_stats() -> Option<AllocatorStats> {
    None
}
