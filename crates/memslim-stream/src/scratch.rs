//! Per-batch scratch memory: a bump arena that is reset, not freed, between batches.
//!
//! Kept behind this small wrapper so that the arena crate's `Scratch` type can replace
//! it without touching the parsers.

use bumpalo::Bump;

/// A growable vector whose buffer lives in a [`Scratch`].
pub type ScratchVec<'s, T> = bumpalo::collections::Vec<'s, T>;

/// Bump-allocated scratch memory for one batch.
///
/// # Memory
/// Allocations are pointer bumps inside chunks owned by the arena. [`Scratch::reset`]
/// keeps the largest chunk, so once a batch of a given size has been parsed, the next
/// batches of that size allocate nothing from the system.
#[derive(Debug, Default)]
pub struct Scratch {
    bump: Bump,
}

impl Scratch {
    /// An empty arena (allocates on first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies `s` into the arena.
    pub fn alloc_str(&self, s: &str) -> &str {
        self.bump.alloc_str(s)
    }

    /// Copies `b` into the arena.
    pub fn alloc_bytes(&self, b: &[u8]) -> &[u8] {
        self.bump.alloc_slice_copy(b)
    }

    /// An empty vector in the arena with room for `cap` elements.
    pub fn vec<T>(&self, cap: usize) -> ScratchVec<'_, T> {
        ScratchVec::with_capacity_in(cap, &self.bump)
    }

    /// Forgets everything allocated, keeping the memory for the next batch.
    pub fn reset(&mut self) {
        self.bump.reset();
    }

    /// Bytes the arena holds from the system.
    pub fn allocated_bytes(&self) -> usize {
        self.bump.allocated_bytes()
    }
}
