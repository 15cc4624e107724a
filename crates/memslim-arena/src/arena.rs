//! The one module of this crate with `unsafe` code: arena memory handed to long-lived
//! owners as handles.
//!
//! [`Arena`] owns a [`bumpalo::Bump`]. Allocation returns a small `Copy` handle
//! ([`ArenaSlice`], [`ArenaStr`]) instead of a borrowed reference, so the handle can be
//! stored next to the arena (in the same struct, in an index, in a view object) without
//! a self-referential lifetime. A handle is turned back into a reference only through
//! [`Arena::get`] / [`Arena::get_str`], which check that the handle was made by this
//! arena since its last reset; a foreign or stale handle gives `None`, never a dangling
//! reference.
//!
//! Why this is sound: bumpalo never moves or frees an allocation until the `Bump` is
//! reset or dropped. Resetting takes `&mut Arena` and gives the arena a new identity,
//! so handles from before the reset no longer pass the check; dropping the arena ends
//! every borrow obtained from it (the references returned by `get` borrow `&self`).
//! The same holds for the bytes of an adopted Arrow [`Buffer`] (see [`Arena::adopt`]):
//! the arena holds the buffer until it is reset or dropped, and a `Buffer`'s memory is
//! immutable and never moves or is freed while a reference to it lives.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_buffer::Buffer;
use bumpalo::Bump;

/// Source of arena identities: every arena and every reset gets a fresh one, never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn fresh_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A bump arena that hands out checked handles to the values it holds.
///
/// Allocation takes `&self` (an internal lock serializes allocators), so an arena shared
/// through an `Arc` can grow while readers hold handles to earlier allocations.
///
/// # Memory
/// Memory comes in chunks that double from 4 KiB up to `MAX_CHUNK` (1 MiB) and then stay that
/// size, so a large arena never reserves much more than it uses (a single bumpalo `Bump`
/// doubles without bound). Nothing is freed until [`reset`](Arena::reset) (which merges
/// the chunks into one) or drop.
/// Values are copied in (`T: Copy`, so nothing ever needs dropping).
///
/// ```
/// use memslim_arena::Arena;
///
/// let arena = Arena::new();
/// let s = arena.alloc_str("hello");
/// let xs = arena.alloc_slice(&[1u32, 2, 3]);
/// assert_eq!(arena.get_str(s), Some("hello"));
/// assert_eq!(arena.get(xs), Some(&[1u32, 2, 3][..]));
/// let other = Arena::new();
/// assert_eq!(other.get_str(s), None); // a handle only works with its own arena
/// ```
#[derive(Debug)]
pub struct Arena {
    chunks: Mutex<Chunks>,
    id: u64,
}

/// Chunks stop doubling at this size (bytes).
pub const MAX_CHUNK: usize = 1 << 20;

/// The first chunk's size when no capacity is given.
const FIRST_CHUNK: usize = 4 << 10;

/// One `Bump` per chunk: each is created with room for its chunk and never asked for
/// more than it has left, so it never grows a chunk of its own.
#[derive(Debug, Default)]
struct Chunks {
    bumps: Vec<Bump>,
    next: usize,
    /// Buffers read in place (see [`Arena::adopt`]), held until reset or drop.
    adopted: Vec<Buffer>,
}

impl Chunks {
    /// Copies `values` into the last chunk, first adding a chunk if they do not fit.
    #[inline]
    fn alloc_slice<T: Copy + Sync>(&mut self, values: &[T], arena: u64) -> ArenaSlice<T> {
        match self.try_alloc_slice(values, arena) {
            Some(s) => s,
            None => std::alloc::handle_alloc_error(std::alloc::Layout::new::<T>()),
        }
    }

    /// [`Chunks::alloc_slice`], `None` when a chunk for the values cannot be had.
    #[inline]
    fn try_alloc_slice<T: Copy + Sync>(
        &mut self,
        values: &[T],
        arena: u64,
    ) -> Option<ArenaSlice<T>> {
        let need = std::mem::size_of_val(values) + std::mem::align_of::<T>();
        let fits = self
            .bumps
            .last()
            .is_some_and(|b| b.chunk_capacity() >= need);
        if !fits {
            let size = self.next.max(need);
            self.bumps.push(Bump::try_with_capacity(size).ok()?);
            self.next = (self.next * 2).min(MAX_CHUNK).max(self.next);
        }
        let bump = match self.bumps.last() {
            Some(b) => b,
            None => unreachable!("a chunk was pushed above"),
        };
        let stored: &mut [T] = bump.alloc_slice_copy(values);
        Some(ArenaSlice {
            ptr: NonNull::from(stored).cast::<T>(),
            len: values.len(),
            arena,
            _owns: PhantomData,
        })
    }
}

/// A handle to a slice of `T` in an [`Arena`].
#[derive(Debug)]
pub struct ArenaSlice<T> {
    ptr: NonNull<T>,
    len: usize,
    arena: u64,
    _owns: PhantomData<T>,
}

/// A buffer an [`Arena`] holds for reading in place ([`Arena::adopt`]), for making
/// handles to parts of it. It borrows the arena, which therefore cannot be reset
/// meanwhile.
#[derive(Debug)]
pub struct Adopted<'a> {
    base: NonNull<u8>,
    len: usize,
    arena: u64,
    _held_by: PhantomData<&'a Arena>,
}

impl Adopted<'_> {
    /// A handle to bytes `range` of the buffer, or `None` if the range is not inside it.
    #[inline]
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<ArenaSlice<u8>> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        Some(ArenaSlice {
            ptr: NonNull::new(self.base.as_ptr().wrapping_add(range.start))?,
            len: range.end - range.start,
            arena: self.arena,
            _owns: PhantomData,
        })
    }
}

impl<T> Clone for ArenaSlice<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ArenaSlice<T> {}

/// The same slice of the same arena (what `is` tells of two Python objects), not: equal
/// contents.
impl<T> PartialEq for ArenaSlice<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr && self.len == other.len && self.arena == other.arena
    }
}

impl<T> Eq for ArenaSlice<T> {}

impl<T> ArenaSlice<T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

// SAFETY: a handle is an address, a length and an arena identity; it grants no access by
// itself. The data is reached only through `Arena::get(&self)`, which hands out `&[T]`
// borrowed from the arena, so sending or sharing the handle shares nothing more than
// sharing `&[T]` would; hence the `T: Sync` bound on both.
unsafe impl<T: Sync> Send for ArenaSlice<T> {}
// SAFETY: see the `Send` impl above.
unsafe impl<T: Sync> Sync for ArenaSlice<T> {}

/// A handle to a UTF-8 string in an [`Arena`].
#[derive(Debug, Clone, Copy)]
pub struct ArenaStr(ArenaSlice<u8>);

impl ArenaStr {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Arena {
    /// An empty arena; the first chunk is allocated on first use.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An arena whose first chunk holds at least `bytes` (allocated on first use).
    pub fn with_capacity(bytes: usize) -> Self {
        Arena {
            chunks: Mutex::new(Chunks {
                bumps: Vec::new(),
                next: bytes.max(FIRST_CHUNK),
                adopted: Vec::new(),
            }),
            id: fresh_id(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Chunks> {
        // A panic while holding the lock cannot leave the chunks inconsistent (bumpalo
        // updates its pointer only after a successful allocation), so poison is ignored.
        self.chunks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies `values` into the arena.
    ///
    /// # Panics
    /// If the allocator is out of memory (as `Vec` would).
    pub fn alloc_slice<T: Copy + Sync>(&self, values: &[T]) -> ArenaSlice<T> {
        self.lock().alloc_slice(values, self.id)
    }

    /// [`Arena::alloc_slice`], `None` (nothing allocated) when the memory for a new
    /// chunk cannot be had, rather than an abort.
    pub fn try_alloc_slice<T: Copy + Sync>(&self, values: &[T]) -> Option<ArenaSlice<T>> {
        self.lock().try_alloc_slice(values, self.id)
    }

    /// Copies each of `values` into the arena, taking the lock once for all of them.
    ///
    /// # Panics
    /// If the allocator is out of memory (as `Vec` would).
    pub fn alloc_slices<'v, T: Copy + Sync + 'v>(
        &self,
        values: impl IntoIterator<Item = &'v [T]>,
    ) -> Vec<ArenaSlice<T>> {
        let mut chunks = self.lock();
        values
            .into_iter()
            .map(|v| chunks.alloc_slice(v, self.id))
            .collect()
    }

    /// [`alloc_slice`](Arena::alloc_slice) for an owner with exclusive access (no lock
    /// taken: a scratch arena filled by one parser).
    #[inline]
    pub fn alloc_slice_mut<T: Copy + Sync>(&mut self, values: &[T]) -> ArenaSlice<T> {
        let id = self.id;
        self.chunks
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .alloc_slice(values, id)
    }

    /// [`alloc_slice_mut`](Arena::alloc_slice_mut), `None` (nothing allocated) when the
    /// memory for a new chunk cannot be had, rather than an abort.
    #[inline]
    pub fn try_alloc_slice_mut<T: Copy + Sync>(&mut self, values: &[T]) -> Option<ArenaSlice<T>> {
        let id = self.id;
        self.chunks
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .try_alloc_slice(values, id)
    }

    /// Copies one value into the arena (a slice of length one).
    pub fn alloc<T: Copy + Sync>(&self, value: T) -> ArenaSlice<T> {
        self.alloc_slice(std::slice::from_ref(&value))
    }

    /// Copies a string into the arena.
    pub fn alloc_str(&self, s: &str) -> ArenaStr {
        ArenaStr(self.alloc_slice(s.as_bytes()))
    }

    /// [`alloc_str`](Arena::alloc_str) without the lock (see
    /// [`alloc_slice_mut`](Arena::alloc_slice_mut)).
    #[inline]
    pub fn alloc_str_mut(&mut self, s: &str) -> ArenaStr {
        ArenaStr(self.alloc_slice_mut(s.as_bytes()))
    }

    /// [`alloc_str_mut`](Arena::alloc_str_mut), `None` (nothing allocated) when the
    /// memory for a new chunk cannot be had.
    #[inline]
    pub fn try_alloc_str_mut(&mut self, s: &str) -> Option<ArenaStr> {
        self.try_alloc_slice_mut(s.as_bytes()).map(ArenaStr)
    }

    /// Holds `buffer` to be read in place instead of copied: [`Adopted::slice`] then
    /// hands out handles to ranges of it. The arena keeps the buffer (a shared, immutable
    /// Arrow buffer, such as the bytes a pickle was loaded from) until it is reset or
    /// dropped, and counts its length in [`allocated_bytes`](Arena::allocated_bytes).
    pub fn adopt(&self, buffer: Buffer) -> Adopted<'_> {
        let bytes = buffer.as_slice();
        let adopted = Adopted {
            base: NonNull::from(bytes).cast::<u8>(),
            len: bytes.len(),
            arena: self.id,
            _held_by: PhantomData,
        };
        self.lock().adopted.push(buffer);
        adopted
    }

    /// The values behind `handle`, or `None` if it was not made by this arena since its
    /// last reset.
    #[inline]
    pub fn get<T>(&self, handle: ArenaSlice<T>) -> Option<&[T]> {
        if handle.arena != self.id {
            return None;
        }
        // SAFETY: the identity matches, so `handle` came from `alloc_slice`, or from
        // `Adopted::slice` of a buffer `adopt` gave this arena, after its last reset
        // (identities are never reused, and a reset replaces it). That allocation holds
        // `len` initialized `T`s at `ptr`, aligned for `T` (copied in by `alloc_slice`;
        // `Adopted::slice` hands out `u8`s of a range it checked lies inside the held
        // buffer, which need no alignment); neither bumpalo nor a held `Buffer` moves or frees
        // it before a reset or drop, both of which need `&mut self` / ownership and so
        // cannot happen while the returned borrow of `&self` lives. Nothing writes to it
        // after allocation (handles give no `&mut`; a `Buffer` is immutable). The
        // `Bump`s and buffers live in `Vec`s that may reallocate, which moves the
        // handles to the memory but not the memory, so the address stays valid.
        Some(unsafe { std::slice::from_raw_parts(handle.ptr.as_ptr(), handle.len) })
    }

    /// The string behind `handle`, or `None` if it was not made by this arena since its
    /// last reset.
    #[inline]
    pub fn get_str(&self, handle: ArenaStr) -> Option<&str> {
        let bytes = self.get(handle.0)?;
        // SAFETY: the bytes are UTF-8. An `ArenaStr` is made only in this module, and only
        // by `alloc_str`, `alloc_str_mut` and `try_alloc_str_mut`, each from the bytes of a
        // `&str` copied into this arena's own chunks (its field is private; nothing wraps
        // any other `ArenaSlice<u8>` in one). Bytes from outside (an adopted buffer: a
        // pickle's image, a mapped file) are handed out only as `ArenaSlice<u8>` by
        // `Adopted::slice`, never as an `ArenaStr`, and their readers check their UTF-8
        // (the document decoder, the text blocks, the symbol table; tested with crafted
        // pickles that carry a valid checksum in `test_pickle.py`). The check in `get`
        // guarantees these are the bytes the handle was made from: a handle of another
        // arena, or of this one before a reset, is refused. The chunks are this
        // process's heap, never shared or mapped, and nothing writes to an allocation
        // after it is made (see `get`).
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }

    /// Frees every allocation at once, keeping the capacity for reuse: one chunk at
    /// least as large as all chunks held before, so an arena reused for batches of a
    /// similar size stops allocating after the first few. Every handle made before is
    /// invalid afterwards (`get` returns `None` for it).
    pub fn reset(&mut self) {
        let chunks = self.chunks.get_mut().unwrap_or_else(|p| p.into_inner());
        chunks.adopted.clear();
        if chunks.bumps.len() > 1 {
            // Merge: the next batch of this size then fits in one chunk.
            let held: usize = chunks.bumps.iter().map(Bump::allocated_bytes).sum();
            chunks.bumps.clear();
            chunks.bumps.push(Bump::with_capacity(held));
        } else if let Some(b) = chunks.bumps.last_mut() {
            b.reset();
        }
        self.id = fresh_id();
    }

    /// Bytes of chunk capacity this arena holds (allocated or not yet handed out), and
    /// of the buffers it holds (see [`adopt`](Arena::adopt)).
    pub fn allocated_bytes(&self) -> usize {
        let chunks = self.lock();
        let bumps: usize = chunks.bumps.iter().map(Bump::allocated_bytes).sum();
        bumps + chunks.adopted.iter().map(Buffer::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn handles_round_trip_and_survive_growth() {
        let arena = Arena::with_capacity(16);
        let mut handles = Vec::new();
        for i in 0..2000u32 {
            handles.push((i, arena.alloc_slice(&[i, i + 1, i + 2])));
        }
        let s = arena.alloc_str("ünïcode 🙂");
        for (i, h) in handles {
            assert_eq!(arena.get(h), Some(&[i, i + 1, i + 2][..]));
        }
        assert_eq!(arena.get_str(s), Some("ünïcode 🙂"));
        assert!(arena.allocated_bytes() >= 2000 * 12);
        let empty = arena.alloc_slice::<u64>(&[]);
        assert_eq!(arena.get(empty), Some(&[][..]));
        assert!(empty.is_empty());
    }

    #[test]
    fn adopted_bytes_are_read_in_place_until_reset() {
        let mut arena = Arena::new();
        let copied = arena.alloc_slice(b"copied");
        let buffer = Buffer::from_vec(b"0123456789".to_vec());
        let at = buffer.as_ptr();
        let held = arena.adopt(buffer.clone());
        let hs: Vec<_> = [2..5, 0..0, 7..10]
            .into_iter()
            .map(|r| held.slice(r).expect("in range"))
            .collect();
        assert!(
            held.slice(8..11).is_none(),
            "a range past the end is refused"
        );
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        assert!(held.slice(backwards).is_none(), "so is one that ends first");
        drop(buffer);
        let got: Vec<&[u8]> = hs.iter().map(|h| arena.get(*h).unwrap()).collect();
        assert_eq!(got, [&b"234"[..], b"", b"789"]);
        assert_eq!(
            got[0].as_ptr(),
            at.wrapping_add(2),
            "read in place, not copied"
        );
        assert_eq!(arena.get(copied), Some(&b"copied"[..]));
        assert!(arena.allocated_bytes() >= 10);
        assert_eq!(Arena::new().get(hs[0]), None);
        arena.reset();
        assert_eq!(arena.get(hs[0]), None, "stale after reset");
        assert!(arena.lock().adopted.is_empty(), "reset lets the buffers go");
    }

    #[test]
    fn foreign_and_stale_handles_are_refused() {
        let mut a = Arena::new();
        let b = Arena::new();
        let h = a.alloc(7u64);
        assert_eq!(b.get(h), None);
        assert_eq!(a.get(h), Some(&[7u64][..]));
        a.reset();
        assert_eq!(
            a.get(h),
            None,
            "a handle from before reset must not resolve"
        );
        let h2 = a.alloc(8u64);
        assert_eq!(a.get(h2), Some(&[8u64][..]));
    }

    #[test]
    fn chunks_stop_doubling() {
        let arena = Arena::new();
        let piece = vec![7u8; 1000];
        let mut handles = Vec::new();
        for _ in 0..20_000 {
            handles.push(arena.alloc_slice(&piece));
        }
        let used = 20_000 * 1000;
        let held = arena.allocated_bytes();
        assert!(held >= used, "{held}");
        assert!(
            held <= used + 2 * MAX_CHUNK,
            "{held} reserved for {used} used"
        );
        let big = arena.alloc_slice(&vec![1u8; 3 * MAX_CHUNK]);
        assert_eq!(arena.get(big).map(<[u8]>::len), Some(3 * MAX_CHUNK));
        assert!(handles.iter().all(|h| arena.get(*h) == Some(&piece[..])));
    }

    #[test]
    fn shared_arena_grows_while_read_from_threads() {
        let arena = Arc::new(Arena::new());
        let first = arena.alloc_str("first");
        let reader = {
            let arena = Arc::clone(&arena);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    assert_eq!(arena.get_str(first), Some("first"));
                }
            })
        };
        for i in 0..1000 {
            let h = arena.alloc_str(&i.to_string());
            assert_eq!(arena.get_str(h), Some(i.to_string().as_str()));
        }
        reader.join().unwrap();
    }
}
