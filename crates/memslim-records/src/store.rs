//! A column buffer that the list owns and grows, or one it shares read-only.
//!
//! A list loaded from a pickle's out-of-band buffers (or built on any other memory that
//! outlives it) reads those buffers in place: [`Store::from_buffer`] wraps an aligned
//! Arrow [`Buffer`] without copying it. The first write to a shared store copies it into
//! a `Vec` the list owns ([`Store::make_mut`]), so writing never changes memory the list
//! does not own.

use std::collections::TryReserveError;
use std::ops::Deref;

use arrow_buffer::{ArrowNativeType, Buffer, ScalarBuffer};

/// Buffers of at least this many bytes grow by an eighth of their length at a time
/// instead of doubling.
const GROW_BY_EIGHTHS_FROM: usize = 4 << 10;

/// How many elements to add to a buffer of `len` elements of `size` bytes each that
/// needs `extra` more: its length while it is small (doubling), then an eighth of it.
/// A big buffer's spare capacity therefore stays under an eighth of it, so a small
/// append never leaves a huge buffer doubled and need not be trimmed after.
#[inline]
pub(crate) fn growth(len: usize, size: usize, extra: usize) -> usize {
    let step = if len * size < GROW_BY_EIGHTHS_FROM {
        len.max(8)
    } else {
        len / 8
    };
    extra.max(step)
}

/// Makes room in `v` for `extra` more values (see [`growth`]).
#[inline]
pub(crate) fn room<T>(v: &mut Vec<T>, extra: usize) {
    room_for(v, extra, extra);
}

/// Makes room in `v` for `need` more values; when it must grow, it grows for `want`
/// (at least `need`: the rest of a load announced ahead) or by [`growth`]'s step,
/// whichever is more. Growing only when `need` does not fit keeps an announcement
/// that moves with the load from growing the buffer at every call.
#[inline]
pub(crate) fn room_for<T>(v: &mut Vec<T>, need: usize, want: usize) {
    if v.capacity() - v.len() < need {
        grow(v, need.max(want));
    }
}

#[cold]
#[inline(never)]
fn grow<T>(v: &mut Vec<T>, extra: usize) {
    v.reserve_exact(growth(v.len(), size_of::<T>(), extra));
}

/// [`room_for`] with fallible allocation, for a buffer about to take a value whose size
/// the input sets: when it must grow it grows for `want` (or by [`growth`]'s step) if
/// that memory can be had, else for `need` alone.
///
/// # Errors
/// When not even `need` more values can be had; `v` is then unchanged.
pub(crate) fn try_room_for<T>(
    v: &mut Vec<T>,
    need: usize,
    want: usize,
) -> Result<(), TryReserveError> {
    if v.capacity() - v.len() < need {
        try_grow(v, need, want)?;
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Tests: a fallible growth to this many bytes or more fails, as it would with
    /// that little memory left.
    pub(crate) static FAIL_GROWTH_FROM: std::cell::Cell<usize> =
        const { std::cell::Cell::new(usize::MAX) };
}

/// Tests: fails a fallible growth to `bytes` bytes as [`FAIL_GROWTH_FROM`] says.
#[cfg(test)]
fn injected_failure(bytes: usize) -> Result<(), TryReserveError> {
    if bytes >= FAIL_GROWTH_FROM.with(std::cell::Cell::get) {
        return Err(Vec::<u8>::new()
            .try_reserve(usize::MAX)
            .expect_err("usize::MAX bytes cannot be had"));
    }
    Ok(())
}

#[cfg(not(test))]
#[inline(always)]
fn injected_failure(_: usize) -> Result<(), TryReserveError> {
    Ok(())
}

/// [`try_room_for`] for text: room for `need` more bytes in `s`, grown by [`growth`]'s
/// step if that can be had, else by `need` alone.
///
/// # Errors
/// When not even `need` more bytes can be had; `s` is then unchanged.
pub(crate) fn try_room_for_text(s: &mut String, need: usize) -> Result<(), TryReserveError> {
    if s.capacity() - s.len() < need {
        injected_failure(s.len() + need)?;
        if s.try_reserve_exact(growth(s.len(), 1, need)).is_err() {
            s.try_reserve_exact(need)?;
        }
    }
    Ok(())
}

/// An empty buffer with room for `bytes` bytes, asked for with a fallible allocation
/// (for a value whose size the input sets).
///
/// # Errors
/// When the memory cannot be had.
pub(crate) fn try_buffer(bytes: usize) -> Result<Vec<u8>, TryReserveError> {
    injected_failure(bytes)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(bytes)?;
    Ok(buf)
}

#[cold]
#[inline(never)]
fn try_grow<T>(v: &mut Vec<T>, need: usize, want: usize) -> Result<(), TryReserveError> {
    injected_failure((v.len() + need) * size_of::<T>())?;
    if v.try_reserve_exact(growth(v.len(), size_of::<T>(), need.max(want)))
        .is_ok()
    {
        return Ok(());
    }
    v.try_reserve_exact(need)
}

/// Values of one column buffer: a growable `Vec`, or a shared read-only buffer.
#[derive(Clone, Debug)]
pub(crate) enum Store<T: ArrowNativeType> {
    Own(Vec<T>),
    Shared(ScalarBuffer<T>),
}

impl<T: ArrowNativeType> Store<T> {
    /// The values in `buf` (a whole number of `T`s: the caller checked), shared when
    /// `buf` is aligned for `T`, else copied into an aligned buffer first.
    pub(crate) fn from_buffer(buf: Buffer) -> Self {
        let n = buf.len() / size_of::<T>();
        let buf = if buf.as_ptr().align_offset(align_of::<T>()) == 0 {
            buf
        } else {
            Buffer::from_slice_ref(buf.as_slice())
        };
        Store::Shared(ScalarBuffer::new(buf, 0, n))
    }

    /// The values as a `Vec` this store owns, copying shared values first.
    #[inline]
    pub(crate) fn make_mut(&mut self) -> &mut Vec<T> {
        if let Store::Shared(s) = self {
            *self = Store::Own(s.to_vec());
        }
        match self {
            Store::Own(v) => v,
            Store::Shared(_) => unreachable!("made owned above"),
        }
    }

    /// [`Store::make_mut`], with room made for `extra` more values (see [`growth`]).
    #[inline]
    pub(crate) fn grow(&mut self, extra: usize) -> &mut Vec<T> {
        self.grow_for(extra, extra)
    }

    /// [`Store::make_mut`], with room made for `need` more values (see [`room_for`]).
    #[inline]
    pub(crate) fn grow_for(&mut self, need: usize, want: usize) -> &mut Vec<T> {
        let v = self.make_mut();
        room_for(v, need, want);
        v
    }

    /// [`Store::grow_for`] with fallible growth (see [`try_room_for`]).
    ///
    /// # Errors
    /// When the memory for `need` more values cannot be had; the values are unchanged
    /// (a shared store may have been made owned).
    pub(crate) fn try_grow_for(&mut self, need: usize, want: usize) -> Result<(), TryReserveError> {
        try_room_for(self.make_mut(), need, want)
    }

    /// Appends `x` (see [`growth`]): an owned buffer with room takes it at once, without
    /// the ownership and capacity checks of [`Store::grow`] first.
    #[inline]
    pub(crate) fn push(&mut self, x: T) {
        if let Store::Own(v) = self {
            if v.len() < v.capacity() {
                v.push(x);
                return;
            }
        }
        self.grow(1).push(x);
    }

    /// Values `[off, off + len)` in reverse order, owned.
    pub(crate) fn reversed(&self, off: usize, len: usize) -> Self {
        Store::Own(self[off..off + len].iter().rev().copied().collect())
    }

    /// Keeps the first `n` values (a shared store stays shared).
    pub(crate) fn truncate(&mut self, n: usize) {
        match self {
            Store::Own(v) => v.truncate(n),
            Store::Shared(s) if n < s.len() => *s = s.slice(0, n),
            Store::Shared(_) => {}
        }
    }

    /// Frees unused capacity; a shared store has none.
    pub(crate) fn shrink_to_fit(&mut self) {
        if let Store::Own(v) = self {
            v.shrink_to_fit();
        }
    }

    /// Heap bytes this store keeps alive: an owned vector's capacity, or the shared
    /// buffer's length.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Store::Own(v) => v.capacity() * size_of::<T>(),
            Store::Shared(s) => s.len() * size_of::<T>(),
        }
    }

    /// Whether the values are read in place from a shared buffer.
    #[cfg(test)]
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Store::Shared(_))
    }
}

impl<T: ArrowNativeType> Default for Store<T> {
    fn default() -> Self {
        Store::Own(Vec::new())
    }
}

impl<T: ArrowNativeType> From<Vec<T>> for Store<T> {
    fn from(v: Vec<T>) -> Self {
        Store::Own(v)
    }
}

impl<T: ArrowNativeType> Deref for Store<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        match self {
            Store::Own(v) => v,
            Store::Shared(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_buffers_grow_by_an_eighth_and_small_ones_double() {
        let mut v: Vec<u64> = Vec::new();
        let mut grew = 0;
        for i in 0..1_000_000u64 {
            let cap = v.capacity();
            room(&mut v, 1);
            v.push(i);
            if v.capacity() != cap {
                grew += 1;
                let len = v.len() - 1;
                if len * 8 >= GROW_BY_EIGHTHS_FROM {
                    assert!(
                        v.capacity() <= len + len / 8 + 1,
                        "{len} -> {}",
                        v.capacity()
                    );
                } else {
                    assert!(v.capacity() >= 2 * len, "{len} -> {}", v.capacity());
                }
            }
        }
        // Geometric still: about 64 steps from 4 KiB to 8 MB, not one per push.
        assert!(grew < 100, "{grew} reallocations");
        let mut s = Store::from(vec![1u8; 100_000]);
        s.grow(10).extend_from_slice(&[2; 10]);
        assert!(s.heap_bytes() <= 100_010 + 100_000 / 8);
    }

    #[test]
    fn aligned_buffers_are_shared_and_copied_on_first_write() {
        let buf = Buffer::from_vec(vec![1i32, 2, 3]);
        let mut s = Store::<i32>::from_buffer(buf.clone());
        assert!(s.is_shared());
        assert_eq!(&*s, &[1, 2, 3]);
        assert_eq!(s.as_ptr().cast::<u8>(), buf.as_ptr());
        s.make_mut().push(4);
        assert!(!s.is_shared());
        assert_eq!(&*s, &[1, 2, 3, 4]);
        // The shared buffer is unchanged.
        assert_eq!(buf.typed_data::<i32>(), &[1, 2, 3]);
    }

    #[test]
    fn misaligned_buffers_are_copied_aligned() {
        let mut bytes = vec![0u8];
        for x in [7i64, -1, i64::MIN] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let whole = Buffer::from_vec(bytes);
        let s = Store::<i64>::from_buffer(whole.slice(1));
        assert_ne!(s.as_ptr().cast::<u8>(), whole.as_ptr().wrapping_add(1));
        assert_eq!(&*s, &[7, -1, i64::MIN]);
        let f = Store::<f64>::from_buffer(Buffer::from_vec((-0.0f64).to_le_bytes().to_vec()));
        assert_eq!(f[0].to_bits(), (-0.0f64).to_bits());
    }
}
