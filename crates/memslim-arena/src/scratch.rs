//! A reusable scratch arena: parse a batch into it, use the results, reset, repeat.

use bumpalo::Bump;

/// Scratch memory that is reset, not freed, between batches.
///
/// A thin owner over [`bumpalo::Bump`]: everything allocated from [`bump`](Scratch::bump)
/// borrows the scratch, so the borrow checker guarantees nothing allocated survives a
/// [`reset`](Scratch::reset) (which takes `&mut self`). After the first few batches the
/// arena has grown to the batch size and a reset makes the next batch allocation-free.
///
/// # Memory
/// Holds bumpalo chunks; `reset` keeps the largest one and frees the rest.
///
/// ```
/// use memslim_arena::Scratch;
///
/// let mut scratch = Scratch::new();
/// for batch in [["a", "bb"], ["ccc", "d"]] {
///     let words: Vec<&str> = batch.iter().map(|w| scratch.alloc_str(w)).collect();
///     assert_eq!(words.len(), 2);
///     scratch.reset(); // `words` cannot be used past this line
/// }
/// assert!(scratch.allocated_bytes() > 0);
/// ```
#[derive(Debug, Default)]
pub struct Scratch {
    bump: Bump,
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
            bump: Bump::with_capacity(bytes),
            resets: 0,
        }
    }

    /// The underlying bump allocator, for `bumpalo::collections` and friends.
    pub fn bump(&self) -> &Bump {
        &self.bump
    }

    /// Copies a string into the scratch arena.
    pub fn alloc_str(&self, s: &str) -> &str {
        self.bump.alloc_str(s)
    }

    /// Copies a slice into the scratch arena.
    pub fn alloc_slice<T: Copy>(&self, values: &[T]) -> &[T] {
        self.bump.alloc_slice_copy(values)
    }

    /// Moves a value into the scratch arena. Its destructor never runs, so prefer values
    /// that own no heap memory.
    pub fn alloc<T>(&self, value: T) -> &mut T {
        self.bump.alloc(value)
    }

    /// Frees everything allocated since the last reset, keeping the largest chunk.
    pub fn reset(&mut self) {
        self.bump.reset();
        self.resets += 1;
    }

    /// How many times [`reset`](Scratch::reset) was called.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Bytes of chunk capacity held (in use or free for the next allocations).
    pub fn allocated_bytes(&self) -> usize {
        self.bump.allocated_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_reuses_the_chunk() {
        let mut scratch = Scratch::new();
        for _ in 0..3 {
            for i in 0..10_000u32 {
                let v = scratch.alloc_slice(&[i; 4]);
                assert_eq!(v[3], i);
            }
            scratch.reset();
        }
        let steady = scratch.allocated_bytes();
        assert!(steady >= 10_000 * 16, "{steady}");
        for round in 0..5 {
            for i in 0..10_000u32 {
                scratch.alloc_slice(&[i; 4]);
            }
            assert_eq!(scratch.allocated_bytes(), steady, "round {round} grew");
            scratch.reset();
        }
        assert_eq!(scratch.resets(), 8);
        assert_eq!(scratch.alloc_str("x"), "x");
        assert_eq!(*scratch.alloc(5u8), 5);
    }
}
