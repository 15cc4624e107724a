//! Variable-length values (strings, bytes, encoded values) in Arrow's offsets + data layout.
//!
//! Replacing a value in the middle of a chunk would shift every later byte; instead the
//! new value goes to a small override table, which is folded back into the buffers
//! (compacted) once it grows past a fraction of the chunk or before export. That keeps
//! `for r in rows: r["s"] = ...` linear instead of quadratic.

use hashbrown::HashMap;

use crate::store::Store;

#[derive(Clone, Debug)]
pub(crate) struct VarLen {
    offsets: Store<i32>,
    data: Store<u8>,
    overrides: Option<Box<Overrides>>,
}

#[derive(Clone, Debug, Default)]
struct Overrides {
    values: HashMap<u32, Box<[u8]>>,
    bytes: usize,
}

impl Default for VarLen {
    fn default() -> Self {
        VarLen {
            offsets: vec![0].into(),
            data: Store::default(),
            overrides: None,
        }
    }
}

impl VarLen {
    /// Asks the CPU to load where value `i` starts (see [`crate::hint::prefetch`]).
    #[inline]
    pub(crate) fn prefetch(&self, i: usize) {
        if let Some(o) = self.offsets.get(i) {
            crate::hint::prefetch(o);
        }
    }

    /// Values over `offsets` (one more than the values, starting at 0, never
    /// decreasing, ending at `data.len()`: the caller checked) and `data`.
    pub(crate) fn from_parts(offsets: Store<i32>, data: Store<u8>) -> Self {
        VarLen {
            offsets,
            data,
            overrides: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Bytes in the data buffer (not counting overrides).
    pub(crate) fn data_len(&self) -> usize {
        self.data.len()
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        if let Some(o) = &self.overrides {
            if let Some(v) = o.values.get(&(i as u32)) {
                return v;
            }
        }
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Appends; the caller checked `data_len() + v.len() <= MAX_VAR_BYTES`.
    #[inline]
    pub(crate) fn push(&mut self, v: &[u8]) {
        self.data.grow(v.len()).extend_from_slice(v);
        self.offsets.push(self.data.len() as i32);
    }

    /// Makes room for `rows.0` more values of `bytes.0` bytes in all, growing for
    /// `rows.1` values of `bytes.1` bytes (see [`crate::store::room_for`]).
    pub(crate) fn room(&mut self, rows: (usize, usize), bytes: (usize, usize)) {
        self.offsets.grow_for(rows.0, rows.1);
        self.data.grow_for(bytes.0, bytes.1);
    }

    /// [`VarLen::room`], the data buffer grown with a fallible allocation: it is about
    /// to take a value whose size the input sets (see [`crate::store::try_room_for`]).
    ///
    /// # Errors
    /// When the data buffer cannot grow by `bytes.0`; nothing grew.
    pub(crate) fn try_room(
        &mut self,
        rows: (usize, usize),
        bytes: (usize, usize),
    ) -> Result<(), std::collections::TryReserveError> {
        self.data.try_grow_for(bytes.0, bytes.1)?;
        self.offsets.grow_for(rows.0, rows.1);
        Ok(())
    }

    /// Makes room, with a fallible allocation, for a value of `len` bytes (one whose
    /// size the input sets: see [`crate::list::BIG_VALUE`]) about to be set or inserted
    /// in place: [`VarLen::set`] and [`VarLen::insert`] of it then grow nothing.
    ///
    /// # Errors
    /// When the memory cannot be had; the values are unchanged (maybe compacted).
    pub(crate) fn try_room_in_place(
        &mut self,
        len: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        self.compact();
        self.data.try_grow_for(len, len)
    }

    /// Appends a value produced by `write`, which appends its bytes to the buffer given.
    /// The value is written to a buffer of its own first: writing it in place would
    /// let the column's buffer double.
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut value = Vec::new();
        write(&mut value);
        self.push(&value);
    }

    /// Appends a value produced by `write` in place, in the data buffer grown first
    /// for `most` bytes (at least what `write` appends: the buffer then never doubles).
    pub(crate) fn push_sized(&mut self, most: usize, write: impl FnOnce(&mut Vec<u8>)) {
        write(self.data.grow(most));
        self.offsets.grow(1).push(self.data.len() as i32);
    }

    pub(crate) fn set(&mut self, i: usize, v: &[u8]) {
        if i + 1 == self.len() && self.overrides.is_none() {
            self.data.truncate(self.offsets[i] as usize);
            self.offsets.truncate(i + 1);
            self.push(v);
            return;
        }
        if v.len() >= crate::list::BIG_VALUE {
            // Written in place, into the room `try_room_in_place` may have made: as an
            // override it would be copied once more, and folded back at once.
            self.compact();
            let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
            let grow = v.len().saturating_sub(b - a);
            self.data.grow(grow).splice(a..b, v.iter().copied());
            let d = v.len() as i64 - (b - a) as i64;
            for o in &mut self.offsets.make_mut()[i + 1..] {
                *o = (i64::from(*o) + d) as i32;
            }
            return;
        }
        let o = self.overrides.get_or_insert_with(Box::default);
        o.bytes += v.len();
        if let Some(old) = o.values.insert(i as u32, v.into()) {
            o.bytes -= old.len();
        }
        let (n, bytes) = (o.values.len(), o.bytes);
        if n > 64 + self.len() / 8 || bytes > 64 * 1024 + self.data.len() / 4 {
            self.compact();
        }
    }

    pub(crate) fn insert(&mut self, i: usize, v: &[u8]) {
        self.compact();
        let at = self.offsets[i] as usize;
        self.data.grow(v.len()).splice(at..at, v.iter().copied());
        let offsets = self.offsets.grow(1);
        offsets.insert(i, at as i32);
        let d = v.len() as i32;
        for o in &mut offsets[i + 1..] {
            *o += d;
        }
    }

    pub(crate) fn remove(&mut self, i: usize) {
        self.compact();
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        self.data.make_mut().drain(a..b);
        let offsets = self.offsets.make_mut();
        offsets.remove(i + 1);
        let d = (b - a) as i32;
        for o in &mut offsets[i + 1..] {
            *o -= d;
        }
    }

    pub(crate) fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        if let Some(o) = &mut self.overrides {
            o.values.retain(|k, _| (*k as usize) < n);
            o.bytes = o.values.values().map(|v| v.len()).sum();
        }
        self.data.truncate(self.offsets[n] as usize);
        self.offsets.truncate(n + 1);
    }

    /// Folds pending overrides back into the offsets + data buffers.
    pub(crate) fn compact(&mut self) {
        if self.overrides.is_none() {
            return;
        }
        let fresh = self.slice(0, self.len());
        *self = fresh;
    }

    pub(crate) fn is_compact(&self) -> bool {
        self.overrides.is_none()
    }

    /// Compact copy of values `[off, off + len)`.
    ///
    /// # Performance
    /// The runs of values between overrides are copied as whole byte ranges with their
    /// offsets shifted, not value by value (`compact`, which rewrites a chunk every
    /// eighth of its rows replaced, made a per-value copy most of `rows[i] = r`).
    pub(crate) fn slice(&self, off: usize, len: usize) -> VarLen {
        let end = off + len;
        let mut set: Vec<usize> = self.overrides.as_ref().map_or_else(Vec::new, |o| {
            o.values
                .keys()
                .map(|&k| k as usize)
                .filter(|k| (off..end).contains(k))
                .collect()
        });
        set.sort_unstable();
        let mut bytes = self.offsets[end] as usize - self.offsets[off] as usize;
        for &i in &set {
            bytes = bytes + self.get(i).len() - self.stored_len(i);
        }
        let mut offsets = Vec::with_capacity(len + 1);
        let mut data = Vec::with_capacity(bytes);
        offsets.push(0i32);
        let mut from = off;
        for at in set.into_iter().chain(std::iter::once(end)) {
            self.copy_run(from, at, &mut offsets, &mut data);
            if at < end {
                data.extend_from_slice(self.get(at));
                offsets.push(data.len() as i32);
            }
            from = at + 1;
        }
        VarLen::from_parts(offsets.into(), data.into())
    }

    /// Bytes value `i` takes in the data buffer (an override's old value).
    fn stored_len(&self, i: usize) -> usize {
        (self.offsets[i + 1] - self.offsets[i]) as usize
    }

    /// Appends the stored values `[a, b)` (none overridden) to `offsets` and `data`,
    /// the bytes in one copy.
    fn copy_run(&self, a: usize, b: usize, offsets: &mut Vec<i32>, data: &mut Vec<u8>) {
        if a >= b {
            return;
        }
        let (lo, hi) = (self.offsets[a], self.offsets[b]);
        let shift = data.len() as i32 - lo;
        data.extend_from_slice(&self.data[lo as usize..hi as usize]);
        offsets.extend(self.offsets[a + 1..=b].iter().map(|o| o + shift));
    }

    /// Compact copy of values `[off, off + len)` in reverse order.
    ///
    /// # Performance
    /// One pass writing into buffers sized up front (no per-value growth check).
    pub(crate) fn reversed(&self, off: usize, len: usize) -> VarLen {
        if self.overrides.is_some() {
            return self.slice(off, len).reversed(0, len);
        }
        let bytes = (self.offsets[off + len] - self.offsets[off]) as usize;
        let mut offsets = Vec::with_capacity(len + 1);
        let mut data = Vec::with_capacity(bytes);
        offsets.push(0i32);
        for w in self.offsets[off..=off + len].windows(2).rev() {
            data.extend_from_slice(&self.data[w[0] as usize..w[1] as usize]);
            offsets.push(data.len() as i32);
        }
        VarLen::from_parts(offsets.into(), data.into())
    }

    pub(crate) fn offsets(&self) -> &[i32] {
        &self.offsets
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// `f(address, heap bytes)` of the offsets and of the text, each if not empty (see
    /// `ColChunk::buffers`).
    pub(crate) fn value_buffers(&self, mut f: impl FnMut(usize, usize)) {
        if !self.offsets.is_empty() {
            f(self.offsets.as_ptr() as usize, self.offsets.heap_bytes());
        }
        if !self.data.is_empty() {
            f(self.data.as_ptr() as usize, self.data.heap_bytes());
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let o = self.overrides.as_ref().map_or(0, |o| {
            o.bytes + o.values.capacity() * (std::mem::size_of::<(u32, Box<[u8]>)>() + 1)
        });
        self.offsets.heap_bytes() + self.data.heap_bytes() + o
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.data.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_insert_remove_match_a_vec_model() {
        let mut v = VarLen::default();
        let mut m: Vec<Vec<u8>> = Vec::new();
        for i in 0..200u32 {
            let s = format!("value-{i}").into_bytes();
            v.push(&s);
            m.push(s);
        }
        for i in (0..200).step_by(3) {
            let s = format!("changed-{i}-{}", "x".repeat(i % 7)).into_bytes();
            v.set(i, &s);
            m[i] = s;
        }
        v.insert(5, b"ins");
        m.insert(5, b"ins".to_vec());
        v.remove(17);
        m.remove(17);
        v.set(3, b"after");
        m[3] = b"after".to_vec();
        v.truncate(150);
        m.truncate(150);
        assert_eq!(v.len(), m.len());
        for (i, s) in m.iter().enumerate() {
            assert_eq!(v.get(i), &s[..], "value {i}");
        }
        v.compact();
        assert!(v.is_compact());
        for (i, s) in m.iter().enumerate() {
            assert_eq!(v.get(i), &s[..], "value {i} after compact");
        }
    }

    #[test]
    fn slice_and_reversed_match_a_vec_model_with_and_without_overrides() {
        let mut v = VarLen::default();
        let mut m: Vec<Vec<u8>> = Vec::new();
        for i in 0..300u32 {
            let s = "v".repeat(i as usize % 5).into_bytes();
            v.push(&s);
            m.push(s);
        }
        for round in 0..2 {
            for (off, len) in [(0, 300), (0, 0), (7, 50), (299, 1), (120, 180)] {
                let s = v.slice(off, len);
                let r = v.reversed(off, len);
                assert!(s.is_compact() && r.is_compact());
                assert_eq!((s.len(), r.len()), (len, len));
                for k in 0..len {
                    assert_eq!(s.get(k), &m[off + k][..], "round {round} slice {off}+{k}");
                    assert_eq!(r.get(k), &m[off + len - 1 - k][..], "round {round} rev");
                }
                assert_eq!(s.data_len(), (off..off + len).map(|i| m[i].len()).sum());
            }
            // Second round: some values overridden (not yet compacted), first and last too.
            for i in [0, 3, 4, 60, 61, 150, 299] {
                let s = format!("over-{i}").into_bytes();
                v.set(i, &s);
                m[i] = s;
            }
            assert!(!v.is_compact());
        }
    }
}
