//! Hints to the CPU that change nothing a program sees, only when memory is read.

/// Asks the CPU to start loading the cache line holding `v`, so that a later read of it
/// finds it there: worth it before a run of reads scattered over more memory than the
/// cache holds. Nothing happens on architectures other than x86_64.
#[inline(always)]
pub fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint to the cache: it never faults and reads
        // nothing the program sees; the pointer comes from a live reference anyway.
        // SSE, which `_mm_prefetch` needs, is part of every x86_64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(v).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}
