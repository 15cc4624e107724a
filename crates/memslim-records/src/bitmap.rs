//! A growable bitmap in Arrow's layout (bit `i` is bit `i % 8` of byte `i / 8`).

/// Growable bitmap, least-significant bit first, as Arrow validity buffers are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bitmap {
    bytes: Vec<u8>,
    len: usize,
}

impl Bitmap {
    /// Asks the CPU to load bit `i` (see [`crate::hint::prefetch`]).
    #[inline]
    pub(crate) fn prefetch(&self, i: usize) {
        if let Some(b) = self.bytes.get(i / 8) {
            crate::hint::prefetch(b);
        }
    }

    pub(crate) fn filled(len: usize, value: bool) -> Self {
        let fill = if value { 0xff } else { 0 };
        let mut bytes = vec![fill; len.div_ceil(8)];
        if value && !len.is_multiple_of(8) {
            // Keep bits past `len` zero so byte-wise comparisons and counts stay exact.
            if let Some(last) = bytes.last_mut() {
                *last = (1u8 << (len % 8)) - 1;
            }
        }
        Bitmap { bytes, len }
    }

    /// A bitmap of `len` bits over `bytes`, which must be exactly `len.div_ceil(8)` long
    /// with the bits past `len` clear (`None` otherwise).
    pub(crate) fn from_bytes(bytes: Vec<u8>, len: usize) -> Option<Self> {
        if bytes.len() != len.div_ceil(8) {
            return None;
        }
        if !len.is_multiple_of(8) && bytes.last().is_some_and(|b| b >> (len % 8) != 0) {
            return None;
        }
        Some(Bitmap { bytes, len })
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        debug_assert!(i < self.len);
        (self.bytes[i >> 3] >> (i & 7)) & 1 == 1
    }

    /// Bits `[off, off + len)`, last first: eight at a time where whole bytes of the
    /// result are made (each from the eight bits it takes, bit order reversed).
    pub(crate) fn reversed(&self, off: usize, len: usize) -> Bitmap {
        debug_assert!(off + len <= self.len);
        // Bits `[start, start + 8)`, the first in bit 0; bits past the end read as 0.
        let eight = |start: usize| {
            let at = |k: usize| u16::from(self.bytes.get(k).copied().unwrap_or(0));
            let w = at(start >> 3) | at((start >> 3) + 1) << 8;
            (w >> (start & 7)) as u8
        };
        let mut bytes = vec![0u8; len.div_ceil(8)];
        let whole = len / 8;
        for (m, b) in bytes[..whole].iter_mut().enumerate() {
            // Result bits 8m..8m+8 are source bits end-8m-1 down to end-8m-8.
            *b = eight(off + len - 8 * (m + 1)).reverse_bits();
        }
        for k in whole * 8..len {
            if self.get(off + len - 1 - k) {
                bytes[k >> 3] |= 1 << (k & 7);
            }
        }
        Bitmap { bytes, len }
    }

    #[inline]
    pub(crate) fn set(&mut self, i: usize, v: bool) {
        debug_assert!(i < self.len);
        let m = 1u8 << (i & 7);
        if v {
            self.bytes[i >> 3] |= m;
        } else {
            self.bytes[i >> 3] &= !m;
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, v: bool) {
        if self.len.is_multiple_of(8) {
            crate::store::room(&mut self.bytes, 1);
            self.bytes.push(0);
        }
        self.len += 1;
        self.set(self.len - 1, v);
    }

    /// Appends `n` bits of value `v`: a byte at a time past the first partial byte.
    pub(crate) fn push_n(&mut self, v: bool, n: usize) {
        let mut n = n;
        while n > 0 && !self.len.is_multiple_of(8) {
            self.push(v);
            n -= 1;
        }
        let whole = n / 8;
        self.bytes
            .extend(std::iter::repeat_n(if v { 0xff } else { 0 }, whole));
        self.len += whole * 8;
        for _ in 0..n % 8 {
            self.push(v);
        }
    }

    /// Appends `n` bits, bit `r` being `bit(r)`: eight to a byte past the first
    /// partial byte.
    #[inline]
    pub(crate) fn push_each(&mut self, n: usize, bit: impl Fn(usize) -> bool) {
        let mut r = 0;
        while r < n && !self.len.is_multiple_of(8) {
            self.push(bit(r));
            r += 1;
        }
        let whole = (n - r) / 8;
        self.bytes.extend((0..whole).map(|b| {
            let at = r + 8 * b;
            (0..8).fold(0u8, |byte, k| byte | u8::from(bit(at + k)) << k)
        }));
        self.len += whole * 8;
        for k in r + 8 * whole..n {
            self.push(bit(k));
        }
    }

    /// Makes room for `need` more bits, growing for `want` (see
    /// [`crate::store::room_for`]).
    pub(crate) fn room(&mut self, need: usize, want: usize) {
        let bytes = |n: usize| (self.len + n).div_ceil(8) - self.bytes.len();
        let (need, want) = (bytes(need), bytes(want));
        crate::store::room_for(&mut self.bytes, need, want);
    }

    pub(crate) fn insert(&mut self, at: usize, v: bool) {
        self.push(false);
        let mut i = self.len - 1;
        while i > at {
            let b = self.get(i - 1);
            self.set(i, b);
            i -= 1;
        }
        self.set(at, v);
    }

    pub(crate) fn remove(&mut self, at: usize) {
        for i in at..self.len - 1 {
            let b = self.get(i + 1);
            self.set(i, b);
        }
        self.truncate(self.len - 1);
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.len = len;
        self.bytes.truncate(len.div_ceil(8));
        if !len.is_multiple_of(8) {
            if let Some(last) = self.bytes.last_mut() {
                *last &= (1u8 << (len % 8)) - 1;
            }
        }
    }

    /// Whether every bit in `[from, to)` is set: a byte at a time between the ends.
    pub(crate) fn all_set(&self, from: usize, to: usize) -> bool {
        debug_assert!(from <= to && to <= self.len);
        let mut i = from;
        while i < to && !i.is_multiple_of(8) {
            if !self.get(i) {
                return false;
            }
            i += 1;
        }
        while i + 8 <= to {
            if self.bytes[i / 8] != 0xff {
                return false;
            }
            i += 8;
        }
        (i..to).all(|k| self.get(k))
    }

    pub(crate) fn count_ones(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    pub(crate) fn all(&self, v: bool) -> bool {
        if v {
            self.count_ones() == self.len
        } else {
            self.count_ones() == 0
        }
    }

    /// Copy of bits `[off, off + len)`.
    pub(crate) fn slice(&self, off: usize, len: usize) -> Bitmap {
        if off.is_multiple_of(8) {
            let mut b = Bitmap {
                bytes: self.bytes[off / 8..(off + len).div_ceil(8)].to_vec(),
                len,
            };
            b.len = len;
            if !len.is_multiple_of(8) {
                if let Some(last) = b.bytes.last_mut() {
                    *last &= (1u8 << (len % 8)) - 1;
                }
            }
            return b;
        }
        let mut out = Bitmap::filled(0, false);
        out.bytes.reserve(len.div_ceil(8));
        for i in off..off + len {
            out.push(self.get(i));
        }
        out
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_insert_remove_match_a_vec_model() {
        let mut b = Bitmap::default();
        let mut m: Vec<bool> = Vec::new();
        for i in 0..50 {
            let v = i % 3 == 0;
            b.push(v);
            m.push(v);
        }
        b.insert(7, true);
        m.insert(7, true);
        b.insert(0, false);
        m.insert(0, false);
        b.remove(20);
        m.remove(20);
        b.truncate(33);
        m.truncate(33);
        assert_eq!(b.len, m.len());
        for (i, v) in m.iter().enumerate() {
            assert_eq!(b.get(i), *v, "bit {i}");
        }
        assert_eq!(b.count_ones(), m.iter().filter(|v| **v).count());
        let s = b.slice(3, 17);
        for i in 0..17 {
            assert_eq!(s.get(i), m[3 + i]);
        }
        assert_eq!(s.count_ones(), m[3..20].iter().filter(|v| **v).count());
    }

    proptest::proptest! {
        #[test]
        fn reversed_is_the_bits_last_first_with_padding_clear(
            bits in proptest::collection::vec(proptest::bool::ANY, 0..200),
            off in 0usize..200,
            len in 0usize..200,
        ) {
            let mut b = Bitmap::default();
            for &v in &bits {
                b.push(v);
            }
            let off = off.min(bits.len());
            let len = len.min(bits.len() - off);
            let r = b.reversed(off, len);
            let want: Vec<bool> = bits[off..off + len].iter().rev().copied().collect();
            proptest::prop_assert_eq!(r.len, len);
            proptest::prop_assert_eq!((0..len).map(|i| r.get(i)).collect::<Vec<_>>(), want);
            // Bits past the end stay clear, as from_bytes requires.
            proptest::prop_assert!(Bitmap::from_bytes(r.bytes.clone(), len).is_some());
        }
    }

    proptest::proptest! {
        #[test]
        fn push_each_appends_as_pushes_do(
            start in proptest::collection::vec(proptest::bool::ANY, 0..20),
            bits in proptest::collection::vec(proptest::bool::ANY, 0..100),
        ) {
            let mut a = Bitmap::default();
            start.iter().for_each(|&v| a.push(v));
            let mut b = a.clone();
            a.push_each(bits.len(), |r| bits[r]);
            bits.iter().for_each(|&v| b.push(v));
            // Same bits, same bytes (the bits past the end clear).
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn push_n_appends_as_many_pushes_do() {
        for start in 0..10 {
            for n in [0, 1, 7, 8, 9, 15, 16, 17, 64, 100] {
                for v in [false, true] {
                    let mut a = Bitmap::filled(start, !v);
                    let mut b = a.clone();
                    a.push_n(v, n);
                    for _ in 0..n {
                        b.push(v);
                    }
                    assert_eq!(a, b, "start {start}, {n} x {v}");
                }
            }
        }
    }

    #[test]
    fn filled_keeps_padding_clear() {
        let b = Bitmap::filled(13, true);
        assert_eq!(b.count_ones(), 13);
        assert!(b.all(true));
    }
}
