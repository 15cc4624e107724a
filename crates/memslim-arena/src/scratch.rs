//! A reusable scratch arena: parse a batch into it, use the results, reset, repeat.

use crate::arena::{Arena, ArenaSlice, ArenaStr};

/// Scratch memory that is reset, not freed, between batches.
///
/// An [`Arena`] used for one batch at a time: allocation hands out checked `Copy`
/// handles ([`ArenaStr`], [`ArenaSlice`]), so a scratch and the handles into it can be
/// kept side by side in one struct and moved between threads together (a parsed block
/// of the streaming readers is such a struct). [`reset`](Scratch::reset) drops every
/// allocation at once; handles from before it no longer resolve (`None`), they never
/// dangle. After the first batches a reset keeps one chunk as large as a whole batch
/// needed, so the following batches allocate nothing.
///
/// # Memory
/// Holds arena chunks. `reset` keeps capacity for everything allocated before it, in
/// one chunk, and frees the rest.
///
/// ```
/// use memslim_arena::Scratch;
///
/// let mut scratch = Scratch::new();
/// for batch in [["a", "bb"], ["ccc", "d"]] {
///     let words: Vec<_> = batch.iter().map(|w| scratch.alloc_str(w)).collect();
///     assert_eq!(scratch.get_str(words[1]), Some(batch[1]));
///     scratch.reset();
///     assert_eq!(scratch.get_str(words[1]), None); // stale after the reset
/// }
/// assert!(scratch.allocated_bytes() > 0); // capacity kept for the next batch
/// ```
#[derive(Debug, Default)]
pub struct Scratch {
    arena: Arena,
    resets: u64,
}

impl Scratch {
    /// An empty scratch arena (no memory until first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// A scratch arena whose first chunk holds at least `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        Scratch {
            arena: Arena::with_capacity(bytes),
            resets: 0,
        }
    }

    /// Copies a string into the scratch arena.
    ///
    /// # Panics
    /// If the allocator is out of memory (as `String` would).
    #[inline]
    pub fn alloc_str(&mut self, s: &str) -> ArenaStr {
        self.arena.alloc_str_mut(s)
    }

    /// Copies a slice into the scratch arena. Panics as [`alloc_str`](Scratch::alloc_str).
    #[inline]
    pub fn alloc_slice<T: Copy + Sync>(&mut self, values: &[T]) -> ArenaSlice<T> {
        self.arena.alloc_slice_mut(values)
    }

    /// [`alloc_str`](Scratch::alloc_str), `None` (nothing allocated) when the memory
    /// cannot be had: for a string whose length the input sets.
    #[inline]
    pub fn try_alloc_str(&mut self, s: &str) -> Option<ArenaStr> {
        self.arena.try_alloc_str_mut(s)
    }

    /// [`alloc_slice`](Scratch::alloc_slice), `None` (nothing allocated) when the
    /// memory cannot be had.
    #[inline]
    pub fn try_alloc_slice<T: Copy + Sync>(&mut self, values: &[T]) -> Option<ArenaSlice<T>> {
        self.arena.try_alloc_slice_mut(values)
    }

    /// The string behind `handle`, or `None` if it was not made here since the last reset.
    #[inline]
    pub fn get_str(&self, handle: ArenaStr) -> Option<&str> {
        self.arena.get_str(handle)
    }

    /// The values behind `handle`, or `None` if it was not made here since the last reset.
    #[inline]
    pub fn get<T>(&self, handle: ArenaSlice<T>) -> Option<&[T]> {
        self.arena.get(handle)
    }

    /// Frees everything allocated since the last reset, keeping the capacity.
    pub fn reset(&mut self) {
        self.arena.reset();
        self.resets += 1;
    }

    /// How many times [`reset`](Scratch::reset) was called.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Bytes of chunk capacity held (in use or free for the next allocations).
    pub fn allocated_bytes(&self) -> usize {
        self.arena.allocated_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_keeps_the_capacity_and_stops_growing() {
        let mut scratch = Scratch::new();
        // Warm-up: the first batches grow chunk by chunk; resets merge them.
        for _ in 0..3 {
            for i in 0..10_000u32 {
                let v = scratch.alloc_slice(&[i; 4]);
                assert_eq!(scratch.get(v).map(|v| v[3]), Some(i));
            }
            scratch.reset();
        }
        let steady = scratch.allocated_bytes();
        assert!(steady >= 10_000 * 16, "{steady}");
        for round in 0..5 {
            let first = scratch.alloc_str("first");
            for i in 0..10_000u32 {
                scratch.alloc_slice(&[i; 4]);
            }
            assert_eq!(scratch.get_str(first), Some("first"));
            assert_eq!(scratch.allocated_bytes(), steady, "round {round} grew");
            scratch.reset();
            assert_eq!(scratch.allocated_bytes(), steady, "round {round} freed");
            assert_eq!(
                scratch.get_str(first),
                None,
                "a handle from before the reset"
            );
        }
        assert_eq!(scratch.resets(), 8);
    }

    #[test]
    fn a_scratch_moves_between_threads_with_its_handles() {
        let mut scratch = Scratch::with_capacity(64);
        let h = scratch.alloc_str("moved");
        let back = std::thread::spawn(move || {
            assert_eq!(scratch.get_str(h), Some("moved"));
            scratch
        })
        .join()
        .unwrap();
        assert_eq!(back.get_str(h), Some("moved"));
    }
}
