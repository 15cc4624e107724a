//! Index arithmetic of read-only views of a record file (a slice `rows[a:b:c]`, a
//! column) and the scan that their `index`, `count` and `in` share, kept apart from any
//! host language so that it can be tested on its own.

use memslim_records::clamp_index;

/// Which records of a file a view covers: `len` positions `start + k * step`.
///
/// # Memory
/// Three words; a slice of a slice is again one `Positions`, never a list of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Positions {
    /// The first position (0 for an empty view).
    pub start: usize,
    /// The distance between positions (negative for a reversed view; never 0).
    pub step: isize,
    /// How many positions.
    pub len: usize,
}

impl Positions {
    /// Every position of a sequence of `len` items, in order.
    pub fn all(len: usize) -> Positions {
        Positions {
            start: 0,
            step: 1,
            len,
        }
    }

    /// Position `k` of the view (`k < len`).
    pub fn at(&self, k: usize) -> usize {
        (self.start as isize + k as isize * self.step) as usize
    }

    /// The positions `view[a:b:c]` names, given the slice as Python's
    /// `slice.indices(len)` normalizes it: `start` and `step` within this view, and the
    /// number of items `count`. A slice of a slice is one view of the file.
    pub fn slice(&self, start: isize, step: isize, count: usize) -> Positions {
        Positions {
            start: if count == 0 {
                0
            } else {
                self.at(start as usize)
            },
            step: self.step * step,
            len: count,
        }
    }

    /// The exclusive end of the view, as `range(start, stop, step)` would name it.
    pub fn stop(&self) -> isize {
        self.start as isize + self.len as isize * self.step
    }
}

/// `i` as an index into `len` items, negative counting from the end (`None` if out of
/// range), as a list subscript takes it.
#[deprecated(
    since = "0.1.1",
    note = "use memslim_records::index_in, the one implementation"
)]
pub fn normalize_index(i: isize, len: usize) -> Option<usize> {
    memslim_records::index_in(i, len)
}

/// A `start` or `stop` argument of `index()` clamped to `0..=len`, negative counting from
/// the end, as `list.index` clamps it.
#[deprecated(
    since = "0.1.1",
    note = "use memslim_records::clamp_index, the one implementation"
)]
pub fn clamp_bound(i: isize, len: usize) -> usize {
    memslim_records::clamp_index(i, len)
}

/// The first position in `start..stop` (bounds clamped as `list.index` clamps them) for
/// which `matches` holds, and how many do; counting stops at the first when
/// `first_only`.
///
/// # Errors
/// The first error `matches` returns, which ends the scan.
pub fn find<E>(
    len: usize,
    start: isize,
    stop: isize,
    first_only: bool,
    mut matches: impl FnMut(usize) -> Result<bool, E>,
) -> Result<(Option<usize>, usize), E> {
    let (mut first, mut count) = (None, 0);
    for k in clamp_index(start, len)..clamp_index(stop, len) {
        if matches(k)? {
            first = first.or(Some(k));
            count += 1;
            if first_only {
                break;
            }
        }
    }
    Ok((first, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's `slice.indices` for the model.
    fn indices(
        len: usize,
        start: Option<isize>,
        stop: Option<isize>,
        step: isize,
    ) -> (isize, isize, usize) {
        let n = len as isize;
        let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
        let norm = |v: Option<isize>, default: isize| match v {
            None => default,
            Some(v) if v < 0 => (v + n).max(lo),
            Some(v) => v.min(hi),
        };
        let a = norm(start, if step > 0 { 0 } else { n - 1 });
        let b = norm(stop, if step > 0 { n } else { -1 });
        let count = if step > 0 {
            if b > a { (b - a + step - 1) / step } else { 0 }
        } else if a > b {
            (a - b - step - 1) / -step
        } else {
            0
        };
        (a, step, count as usize)
    }

    #[test]
    fn slices_of_slices_name_the_same_rows_as_lists_do() {
        let rows: Vec<usize> = (0..23).collect();
        let cases = [
            (Some(1), Some(20), 2),
            (None, None, -1),
            (Some(-5), None, 1),
            (Some(18), Some(2), -3),
            (Some(30), None, 1),
        ];
        for &(a, b, c) in &cases {
            let (s, st, n) = indices(rows.len(), a, b, c);
            let outer = Positions::all(rows.len()).slice(s, st, n);
            let model: Vec<usize> = (0..n)
                .map(|k| rows[(s + k as isize * st) as usize])
                .collect();
            let got: Vec<usize> = (0..outer.len).map(|k| outer.at(k)).collect();
            assert_eq!(got, model, "{a:?}:{b:?}:{c}");
            for &(a2, b2, c2) in &cases {
                let (s2, st2, n2) = indices(model.len(), a2, b2, c2);
                let inner = outer.slice(s2, st2, n2);
                let want: Vec<usize> = (0..n2)
                    .map(|k| model[(s2 + k as isize * st2) as usize])
                    .collect();
                let got: Vec<usize> = (0..inner.len).map(|k| inner.at(k)).collect();
                assert_eq!(got, want);
            }
        }
        assert_eq!(Positions::all(5).slice(1, 2, 2).stop(), 5);
    }

    #[test]
    #[allow(deprecated)]
    fn indices_normalize_and_clamp_as_lists_do() {
        assert_eq!(normalize_index(-1, 3), Some(2));
        assert_eq!(normalize_index(3, 3), None);
        assert_eq!(normalize_index(-4, 3), None);
        assert_eq!(normalize_index(isize::MIN, 3), None);
        assert_eq!(clamp_bound(-10, 4), 0);
        assert_eq!(clamp_bound(-1, 4), 3);
        assert_eq!(clamp_bound(isize::MAX, 4), 4);
        assert_eq!(clamp_bound(isize::MIN, 4), 0);
    }

    #[test]
    fn find_matches_list_index_and_count() {
        let v = [3, 1, 3, 2, 3];
        let at = |k: usize| Ok::<_, ()>(v[k] == 3);
        assert_eq!(find(v.len(), 0, isize::MAX, true, at), Ok((Some(0), 1)));
        assert_eq!(find(v.len(), 0, isize::MAX, false, at), Ok((Some(0), 3)));
        assert_eq!(find(v.len(), 1, -1, false, at), Ok((Some(2), 1)));
        assert_eq!(find(v.len(), -1, isize::MAX, true, at), Ok((Some(4), 1)));
        assert_eq!(find(v.len(), 3, 1, false, at), Ok((None, 0)));
        let failing = |k: usize| if k == 2 { Err("boom") } else { Ok(false) };
        assert_eq!(find(v.len(), 0, isize::MAX, false, failing), Err("boom"));
    }
}
