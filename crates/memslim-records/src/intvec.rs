//! Integer vectors whose element width adapts to the values held (8 to 64 bits).

use crate::store::Store;

/// Storage width of an integer column: the narrowest that holds all its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Width {
    /// `i8`
    W8,
    /// `i16`
    W16,
    /// `i32`
    W32,
    /// `i64`
    W64,
}

impl Width {
    /// Narrowest width that holds `v`.
    #[inline]
    pub fn for_value(v: i64) -> Width {
        if i8::try_from(v).is_ok() {
            Width::W8
        } else if i16::try_from(v).is_ok() {
            Width::W16
        } else if i32::try_from(v).is_ok() {
            Width::W32
        } else {
            Width::W64
        }
    }

    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Width::W8 => 1,
            Width::W16 => 2,
            Width::W32 => 4,
            Width::W64 => 8,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum IntVec {
    W8(Store<i8>),
    W16(Store<i16>),
    W32(Store<i32>),
    W64(Store<i64>),
}

macro_rules! each {
    ($self:expr, $v:ident => $body:expr) => {
        match $self {
            IntVec::W8($v) => $body,
            IntVec::W16($v) => $body,
            IntVec::W32($v) => $body,
            IntVec::W64($v) => $body,
        }
    };
}

impl IntVec {
    /// Asks the CPU to load value `i` (see [`crate::hint::prefetch`]).
    #[inline]
    pub(crate) fn prefetch(&self, i: usize) {
        each!(self, v => if let Some(x) = v.get(i) {
            crate::hint::prefetch(x);
        })
    }

    pub(crate) fn new(w: Width) -> Self {
        match w {
            Width::W8 => IntVec::W8(Store::default()),
            Width::W16 => IntVec::W16(Store::default()),
            Width::W32 => IntVec::W32(Store::default()),
            Width::W64 => IntVec::W64(Store::default()),
        }
    }

    pub(crate) fn width(&self) -> Width {
        match self {
            IntVec::W8(_) => Width::W8,
            IntVec::W16(_) => Width::W16,
            IntVec::W32(_) => Width::W32,
            IntVec::W64(_) => Width::W64,
        }
    }

    pub(crate) fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> i64 {
        match self {
            IntVec::W8(v) => i64::from(v[i]),
            IntVec::W16(v) => i64::from(v[i]),
            IntVec::W32(v) => i64::from(v[i]),
            IntVec::W64(v) => v[i],
        }
    }

    /// Sets element `i`; the caller has widened the vector to hold `x`.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, x: i64) {
        // Truncating casts are exact: the caller widened to `Width::for_value(x)` first.
        match self {
            IntVec::W8(v) => v.make_mut()[i] = x as i8,
            IntVec::W16(v) => v.make_mut()[i] = x as i16,
            IntVec::W32(v) => v.make_mut()[i] = x as i32,
            IntVec::W64(v) => v.make_mut()[i] = x,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: i64) {
        match self {
            IntVec::W8(v) => v.push(x as i8),
            IntVec::W16(v) => v.push(x as i16),
            IntVec::W32(v) => v.push(x as i32),
            IntVec::W64(v) => v.push(x),
        }
    }

    /// Appends every value of `xs`; the caller has widened the vector to hold them all.
    pub(crate) fn extend(&mut self, xs: impl ExactSizeIterator<Item = i64>) {
        // Truncating casts are exact, as in `push`.
        let n = xs.len();
        match self {
            IntVec::W8(v) => v.grow(n).extend(xs.map(|x| x as i8)),
            IntVec::W16(v) => v.grow(n).extend(xs.map(|x| x as i16)),
            IntVec::W32(v) => v.grow(n).extend(xs.map(|x| x as i32)),
            IntVec::W64(v) => v.grow(n).extend(xs),
        }
    }

    pub(crate) fn insert(&mut self, i: usize, x: i64) {
        match self {
            IntVec::W8(v) => v.grow(1).insert(i, x as i8),
            IntVec::W16(v) => v.grow(1).insert(i, x as i16),
            IntVec::W32(v) => v.grow(1).insert(i, x as i32),
            IntVec::W64(v) => v.grow(1).insert(i, x),
        }
    }

    pub(crate) fn remove(&mut self, i: usize) {
        each!(self, v => {
            v.make_mut().remove(i);
        })
    }

    pub(crate) fn truncate(&mut self, n: usize) {
        each!(self, v => v.truncate(n))
    }

    /// Makes room for `need` more values, growing for `want` (see
    /// [`crate::store::room_for`]).
    pub(crate) fn room(&mut self, need: usize, want: usize) {
        each!(self, v => {
            v.grow_for(need, want);
        })
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        each!(self, v => v.shrink_to_fit())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        each!(self, v => v.heap_bytes())
    }

    /// The address of the first value (`None` when empty): the allocation's identity.
    pub(crate) fn values_addr(&self) -> Option<usize> {
        each!(self, v => (!v.is_empty()).then(|| v.as_ptr() as usize))
    }

    /// The same values at width `w` (which must hold every value).
    pub(crate) fn widened(&self, w: Width) -> IntVec {
        let mut out = IntVec::new(w);
        out.room(self.len(), self.len());
        for i in 0..self.len() {
            out.push(self.get(i));
        }
        out
    }

    /// Values `[off, off + len)` in reverse order.
    pub(crate) fn reversed(&self, off: usize, len: usize) -> IntVec {
        match self {
            IntVec::W8(v) => IntVec::W8(v.reversed(off, len)),
            IntVec::W16(v) => IntVec::W16(v.reversed(off, len)),
            IntVec::W32(v) => IntVec::W32(v.reversed(off, len)),
            IntVec::W64(v) => IntVec::W64(v.reversed(off, len)),
        }
    }

    /// Copy of elements `[off, off + len)`.
    pub(crate) fn slice(&self, off: usize, len: usize) -> IntVec {
        match self {
            IntVec::W8(v) => IntVec::W8(v[off..off + len].to_vec().into()),
            IntVec::W16(v) => IntVec::W16(v[off..off + len].to_vec().into()),
            IntVec::W32(v) => IntVec::W32(v[off..off + len].to_vec().into()),
            IntVec::W64(v) => IntVec::W64(v[off..off + len].to_vec().into()),
        }
    }

    /// Calls `f(i, value)` for each `i` in `range`, in order, until it returns `false`;
    /// returns whether it never did. Matches the width once for the whole range, where
    /// [`IntVec::get`] matches it for every element.
    ///
    /// # Panics
    /// If `range` reaches past the end.
    #[inline(always)]
    pub(crate) fn for_each_in(
        &self,
        range: std::ops::Range<usize>,
        mut f: impl FnMut(usize, i64) -> bool,
    ) -> bool {
        let start = range.start;
        let mut at = |k: usize, x: i64| f(start + k, x);
        match self {
            IntVec::W8(v) => v[range]
                .iter()
                .enumerate()
                .all(|(k, x)| at(k, i64::from(*x))),
            IntVec::W16(v) => v[range]
                .iter()
                .enumerate()
                .all(|(k, x)| at(k, i64::from(*x))),
            IntVec::W32(v) => v[range]
                .iter()
                .enumerate()
                .all(|(k, x)| at(k, i64::from(*x))),
            IntVec::W64(v) => v[range].iter().enumerate().all(|(k, x)| at(k, *x)),
        }
    }

    /// The smallest and the largest element; `None` when there are none. Two passes
    /// the compiler vectorizes.
    pub(crate) fn min_max(&self) -> Option<(i64, i64)> {
        fn of<T: Copy + Ord + Into<i64>>(v: &[T]) -> Option<(i64, i64)> {
            Some((
                v.iter().copied().min()?.into(),
                v.iter().copied().max()?.into(),
            ))
        }
        each!(self, v => of(v))
    }

    /// Sum of elements `[off, off + len)`.
    pub(crate) fn sum_range(&self, off: usize, len: usize) -> i128 {
        // Up to 32-bit values, fewer than 2^31 of them cannot overflow an i64 sum, which
        // the compiler vectorizes; 64-bit values need i128.
        match self {
            IntVec::W8(v) => {
                i128::from(v[off..off + len].iter().map(|x| i64::from(*x)).sum::<i64>())
            }
            IntVec::W16(v) => {
                i128::from(v[off..off + len].iter().map(|x| i64::from(*x)).sum::<i64>())
            }
            IntVec::W32(v) => {
                i128::from(v[off..off + len].iter().map(|x| i64::from(*x)).sum::<i64>())
            }
            IntVec::W64(v) => v[off..off + len].iter().map(|x| i128::from(*x)).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_and_for_each_in_read_every_width() {
        for w in [Width::W8, Width::W16, Width::W32, Width::W64] {
            let mut v = IntVec::new(w);
            assert_eq!(v.min_max(), None);
            let xs: Vec<i64> = (0..50).map(|i| (i * 37 % 101) - 50).collect();
            for &x in &xs {
                v.push(x);
            }
            assert_eq!(v.min_max(), Some((-50, 50)));
            let mut seen = Vec::new();
            assert!(v.for_each_in(3..20, |i, x| {
                seen.push((i, x));
                true
            }));
            let want: Vec<(usize, i64)> = (3..20).map(|i| (i, xs[i])).collect();
            assert_eq!(seen, want);
            assert!(!v.for_each_in(0..50, |i, _| i < 7));
        }
    }

    #[test]
    fn width_is_the_narrowest_that_fits() {
        assert_eq!(Width::for_value(0), Width::W8);
        assert_eq!(Width::for_value(-128), Width::W8);
        assert_eq!(Width::for_value(128), Width::W16);
        assert_eq!(Width::for_value(-40_000), Width::W32);
        assert_eq!(Width::for_value(i64::MIN), Width::W64);
    }

    #[test]
    fn widening_keeps_values() {
        let mut v = IntVec::new(Width::W8);
        for x in [-3, 0, 127, -128] {
            v.push(x);
        }
        let w = v.widened(Width::W64);
        assert_eq!(
            (0..4).map(|i| w.get(i)).collect::<Vec<_>>(),
            vec![-3, 0, 127, -128]
        );
        assert!(w.heap_bytes() >= 32);
    }
}
