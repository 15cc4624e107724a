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
