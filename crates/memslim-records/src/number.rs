//! Python's comparison of numbers of different kinds, exactly: one implementation for
//! every crate that compares an int with a float (selection, min/max, `memslim-mmap`'s
//! number files).

use std::cmp::Ordering;

/// How the int `i` compares with the float `f`, exactly, as Python compares them (not
/// through a rounded conversion: `2**53 + 1 > 2.0**53`); `None` for a NaN, which is
/// neither equal to, below nor above anything. `i128` holds every `i64` and `u64`.
///
/// ```
/// use std::cmp::Ordering;
/// use memslim_records::number::int_vs_float;
/// assert_eq!(int_vs_float((1 << 53) + 1, 9_007_199_254_740_992.0), Some(Ordering::Greater));
/// assert_eq!(int_vs_float(i128::from(i64::MAX), 2f64.powi(63)), Some(Ordering::Less));
/// assert_eq!(int_vs_float(3, 3.0), Some(Ordering::Equal));
/// assert_eq!(int_vs_float(0, f64::NAN), None);
/// ```
pub fn int_vs_float(i: i128, f: f64) -> Option<Ordering> {
    const BOUND: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0; // 2**127
    if f.is_nan() {
        return None;
    }
    if f >= BOUND {
        return Some(Ordering::Less);
    }
    if f < -BOUND {
        return Some(Ordering::Greater);
    }
    // `t` is an integer within i128's range, so converting it is exact.
    let t = f.trunc();
    Some(i.cmp(&(t as i128)).then_with(|| {
        // `i` is `f` without its fraction: below `f` if that was positive.
        if f > t {
            Ordering::Less
        } else if f < t {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The same answer by cases where each comparison is exact: an int a float holds
    /// exactly; a float too large to have a fraction; or magnitudes that decide alone.
    fn reference(i: i128, f: f64) -> Option<Ordering> {
        let two53 = (1i128 << 53) as f64;
        if f.is_nan() {
            None
        } else if i.unsigned_abs() <= 1 << 53 {
            (i as f64).partial_cmp(&f)
        } else if f.abs() >= 2f64.powi(127) {
            Some(if f > 0.0 {
                Ordering::Less
            } else {
                Ordering::Greater
            })
        } else if f.abs() >= two53 {
            Some(i.cmp(&(f as i128)))
        } else {
            Some(if i > 0 {
                Ordering::Greater
            } else {
                Ordering::Less
            })
        }
    }

    #[test]
    fn ints_and_floats_compare_exactly() {
        let big = 1i128 << 60;
        assert_eq!(int_vs_float(big + 1, big as f64), Some(Ordering::Greater));
        assert_eq!(int_vs_float(big, big as f64), Some(Ordering::Equal));
        assert_eq!(int_vs_float(-3, -2.5), Some(Ordering::Less));
        assert_eq!(int_vs_float(-2, -2.5), Some(Ordering::Greater));
        assert_eq!(int_vs_float(2, 2.5), Some(Ordering::Less));
        assert_eq!(int_vs_float(0, -0.0), Some(Ordering::Equal));
        assert_eq!(int_vs_float(i128::MAX, f64::INFINITY), Some(Ordering::Less));
        assert_eq!(
            int_vs_float(i128::MIN, f64::NEG_INFINITY),
            Some(Ordering::Greater)
        );
        assert_eq!(
            int_vs_float(i128::MIN, -(2f64.powi(127))),
            Some(Ordering::Equal)
        );
        assert_eq!(int_vs_float(1, f64::NAN), None);
    }

    proptest! {
        #[test]
        fn int_vs_float_agrees_with_a_reference(
            i in prop_oneof![
                any::<i64>().prop_map(i128::from),
                any::<i128>(),
                -(1i128 << 60)..(1i128 << 60),
            ],
            f in any::<f64>(),
            near in any::<bool>(),
        ) {
            // Half the time a float next to the int, where rounding would show.
            let f = if near { i as f64 + f.fract() } else { f };
            prop_assert_eq!(int_vs_float(i, f), reference(i, f));
        }
    }

    #[test]
    fn i64_bounds_compare_exactly() {
        let two63 = 2f64.powi(63);
        assert_eq!(
            int_vs_float(1 << 53, 9_007_199_254_740_992.0),
            Some(Ordering::Equal)
        );
        assert_eq!(
            int_vs_float((1 << 53) + 1, 9_007_199_254_740_992.0),
            Some(Ordering::Greater)
        );
        assert_eq!(int_vs_float(i64::MAX.into(), two63), Some(Ordering::Less));
        assert_eq!(int_vs_float(i64::MIN.into(), -two63), Some(Ordering::Equal));
        assert_eq!(
            int_vs_float(u64::MAX.into(), 2f64.powi(64)),
            Some(Ordering::Less)
        );
        assert_eq!(int_vs_float(0, f64::INFINITY), Some(Ordering::Less));
    }
}
