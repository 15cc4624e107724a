//! Python's sequence rules for a list of records: slices (assignment and deletion),
//! reversal, truncation and element-wise equality, on an [`Order`] (a list sharing its
//! store) and on a [`RecordList`] (a list that is its whole store).
//!
//! The bindings resolve a Python `slice` against the list's length (`slice.indices`)
//! and hand the result here as a [`Slice`]; what the positions mean and when an
//! assignment is refused is decided in this module, so that both storage paths agree.

use std::ops::Range;

use crate::{Order, RecordList, RecordsError, Result};

/// Index `i` of a sequence of `len` items, negative from the end, as Python reads a
/// `list` index; `None` if it is out of range.
#[inline]
pub fn index_in(i: isize, len: usize) -> Option<usize> {
    let j = if i < 0 {
        len.checked_sub(i.unsigned_abs())?
    } else {
        i as usize
    };
    (j < len).then_some(j)
}

/// `i` as a position from `0` to `len` (inclusive), as `list.insert` and the
/// `start`/`stop` of `list.index` read it: negative from the end, then clamped.
#[inline]
pub fn clamp_index(i: isize, len: usize) -> usize {
    if i < 0 {
        len.saturating_sub(i.unsigned_abs())
    } else {
        (i as usize).min(len)
    }
}

/// The positions a resolved slice selects: `len` of them, from `start` in steps of
/// `step` (what Python's `slice.indices` and its slice length give).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// First position; may be negative only when `len` is 0 (an empty backward slice).
    pub start: isize,
    /// Distance between positions, never 0.
    pub step: isize,
    /// Number of positions.
    pub len: usize,
}

impl Slice {
    /// The one position `pos` (`rows[pos] = v`, `del rows[pos]`).
    pub fn at(pos: usize) -> Slice {
        Slice {
            start: pos as isize,
            step: 1,
            len: 1,
        }
    }

    /// No position, just before `pos` (`rows.insert(pos, v)` is `rows[pos:pos] = [v]`).
    pub fn before(pos: usize) -> Slice {
        Slice {
            start: pos as isize,
            step: 1,
            len: 0,
        }
    }

    /// The positions, in slice order.
    pub fn positions(&self) -> impl Iterator<Item = usize> + use<> {
        let (start, step) = (self.start, self.step);
        (0..self.len as isize).map(move |k| (start + k * step) as usize)
    }

    /// The positions as one ascending run, for a step-1 slice (which an assignment
    /// may grow or shrink).
    pub fn as_range(&self) -> Option<Range<usize>> {
        let start = usize::try_from(self.start).unwrap_or(0);
        (self.step == 1).then_some(start..start + self.len)
    }

    /// The positions as disjoint ranges, last first, so that removing them in turn
    /// leaves the positions of those still to remove unchanged.
    pub fn ranges_from_back(&self) -> Vec<Range<usize>> {
        if let Some(r) = self.as_range() {
            return vec![r];
        }
        let mut pos: Vec<usize> = self.positions().collect();
        pos.sort_unstable_by(|a, b| b.cmp(a));
        pos.into_iter().map(|p| p..p + 1).collect()
    }

    /// The position the `k`th record assigned to the slice takes, which an error about
    /// that record names: for a step-1 slice, which takes any number of records, also
    /// past its end (`rows[3:5] = [a, b, c]` puts `c` at 5, `Slice::before(n)` numbers
    /// records appended to `n` records). Never below 0 (a record beyond an extended
    /// slice's positions, which [`Slice::check_assign`] refuses anyway).
    ///
    /// ```
    /// use memslim_records::Slice;
    ///
    /// let back = Slice { start: 6, step: -2, len: 2 };
    /// assert_eq!((back.nth(0), back.nth(1), back.nth(5)), (6, 4, 0));
    /// assert_eq!(Slice::before(8).nth(1), 9);
    /// ```
    pub fn nth(&self, k: usize) -> usize {
        usize::try_from(self.skip(k).start).unwrap_or(0)
    }

    /// The slice of the records assigned after the first `k` (its record 0 is record `k`
    /// of this one).
    pub fn skip(&self, k: usize) -> Slice {
        let steps = isize::try_from(k).unwrap_or(isize::MAX);
        Slice {
            start: self.start.saturating_add(steps.saturating_mul(self.step)),
            step: self.step,
            len: self.len.saturating_sub(k),
        }
    }

    /// Whether `got` records may replace the positions: any number for a step-1 slice,
    /// exactly [`Slice::len`] for an extended one (as a Python list decides).
    ///
    /// # Errors
    /// [`RecordsError::SliceSize`] when they may not.
    pub fn check_assign(&self, got: usize) -> Result<()> {
        if self.step != 1 && got != self.len {
            return Err(RecordsError::SliceSize {
                got,
                expected: self.len,
            });
        }
        Ok(())
    }
}

/// Where a list's [`Order`] stood before appends, to [`Order::restore`] it if they fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderMark {
    whole: bool,
    len: usize,
}

impl Order {
    /// A mark to [`Order::restore`] after appends that may fail part way.
    pub fn mark(&self, store_len: usize) -> OrderMark {
        OrderMark {
            whole: self.is_whole(),
            len: self.len(store_len),
        }
    }

    /// Drops the positions appended since `mark` (a `Whole` order stays whole: its
    /// store is rolled back with it).
    pub fn restore(&mut self, store_len: usize, mark: OrderMark) {
        if mark.whole {
            *self = Order::Whole;
        } else {
            // Cannot fail: removing adds no store row.
            let _ = self.truncate(store_len, mark.len);
        }
    }

    /// The list of the positions of `slice` (`rows[a:b:c]`), on the same store.
    pub fn get_slice(&self, store_len: usize, slice: &Slice) -> Order {
        match slice.as_range() {
            Some(r) => self.slice(store_len, r.start, r.end),
            None => self.pick(&slice.positions().collect::<Vec<_>>()),
        }
    }

    /// Puts store rows `rows` at the positions of `slice` (`shared`: some of them are
    /// held by other positions or lists, see [`Order::splice`]).
    ///
    /// # Errors
    /// As [`Slice::check_assign`] (before any change) and [`Order::splice`].
    pub fn assign_slice(
        &mut self,
        store_len: usize,
        slice: &Slice,
        rows: &[usize],
        shared: bool,
    ) -> Result<()> {
        slice.check_assign(rows.len())?;
        if let Some(r) = slice.as_range() {
            return self.splice(store_len, r.start, r.end, rows, shared);
        }
        for (pos, row) in slice.positions().zip(rows) {
            self.splice(store_len, pos, pos + 1, std::slice::from_ref(row), shared)?;
        }
        Ok(())
    }

    /// Removes the positions of `slice`.
    ///
    /// # Errors
    /// Never in practice: removing adds no store row ([`Order::splice`]).
    pub fn remove_slice(&mut self, store_len: usize, slice: &Slice) -> Result<()> {
        for r in slice.ranges_from_back() {
            self.splice(store_len, r.start, r.end, &[], false)?;
        }
        Ok(())
    }

    /// Keeps the first `len` positions (all of them if there are fewer).
    ///
    /// # Errors
    /// As [`Order::remove_slice`].
    pub fn truncate(&mut self, store_len: usize, len: usize) -> Result<()> {
        let n = self.len(store_len);
        self.splice(store_len, len, n, &[], false)
    }

    /// Reverses the positions, in place (no permutation is built or checked).
    ///
    /// # Errors
    /// Never: kept fallible as the other edits are.
    pub fn reverse(&mut self, store_len: usize) -> Result<()> {
        self.slots_mut(store_len).0.reverse();
        Ok(())
    }
}

impl RecordList {
    /// The records at the positions of `slice`, as a new list (sharing the chunks of a
    /// step-1 slice, copy-on-write).
    pub fn get_slice(&self, slice: &Slice) -> RecordList {
        match slice.as_range() {
            Some(r) => self.slice(r.start, r.end),
            None => self.take(&slice.positions().collect::<Vec<_>>()),
        }
    }

    /// Puts the records of `staged` at the positions of `slice`.
    ///
    /// # Errors
    /// As [`Slice::check_assign`] (before any change), [`RecordList::splice`] and
    /// [`RecordList::set_record_from`].
    pub fn assign_slice(&mut self, slice: &Slice, staged: &RecordList) -> Result<()> {
        slice.check_assign(staged.len())?;
        match slice.as_range() {
            Some(r) if r.len() != staged.len() => self.splice(r.start, r.end, staged),
            // As many records as the slice holds: each is written in place, as a list
            // does (a splice would rewrite every record after the slice).
            _ => self.set_records_from(&slice.positions().collect::<Vec<_>>(), staged),
        }
    }

    /// Writes record `k` of `staged` at position `positions[k]` for each `k`, in place.
    /// On error the records written so far are put back, so the list is as it was.
    fn set_records_from(&mut self, positions: &[usize], staged: &RecordList) -> Result<()> {
        if let [pos] = positions {
            // One record is written whole or not at all.
            return self.set_record_from(*pos, staged, 0);
        }
        // A list of their own (a copy sharing this one's dictionaries would make the
        // next new string copy a whole dictionary).
        let mut before = RecordList::new();
        for &p in positions {
            self.check_row(p)?;
            before.push_record(&self.record_cells(p))?;
        }
        for (k, &pos) in positions.iter().enumerate() {
            if let Err(e) = self.set_record_from(pos, staged, k) {
                for (b, &p) in positions[..k].iter().enumerate().rev() {
                    // Puts back what was there, which the list held a moment ago.
                    let _ = self.set_record_from(p, &before, b);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes the records at the positions of `slice`.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] for a position past the end.
    pub fn remove_slice(&mut self, slice: &Slice) -> Result<()> {
        for r in slice.ranges_from_back() {
            if r.len() == 1 {
                self.remove(r.start)?;
            } else {
                self.remove_range(r.start, r.end);
            }
        }
        Ok(())
    }

    /// Calls `on_match(p)`, until it returns false, for each position `p` in
    /// `positions` (of a list holding store rows `order`; clamped to its length) whose
    /// record equals `record`, as `index`, `count` and `in` compare: `x is y or x == y`.
    /// `same` is the store row that *is* the value looked for (a view of this list's
    /// record), which matches without a look, as a list finds the dict itself even when
    /// it holds a NaN. The others compare by value (Python `==`); `undecided(row)`
    /// decides a store row the core cannot (host objects), and every row when there is
    /// no `record` the core can compare (a value, or a row class, with an `__eq__` of
    /// the host's own).
    ///
    /// # Errors
    /// The first error `undecided` returns.
    pub fn find_equal<E>(
        &self,
        order: &Order,
        positions: Range<usize>,
        same: Option<usize>,
        record: Option<&[(&str, crate::Cell<'_>)]>,
        mut undecided: impl FnMut(usize) -> std::result::Result<bool, E>,
        mut on_match: impl FnMut(usize) -> bool,
    ) -> std::result::Result<(), E> {
        let end = positions.end.min(order.len(self.len()));
        for p in positions.start..end {
            let row = order.slot(p);
            let equal = if same == Some(row) {
                true
            } else {
                match record.and_then(|r| self.row_eq(row, r)) {
                    Some(b) => b,
                    None => undecided(row)?,
                }
            };
            if equal && !on_match(p) {
                break;
            }
        }
        Ok(())
    }

    /// The first position at which the list holding this store's rows `a` and the
    /// list holding `other`'s rows `b` hold unequal records, among the positions both
    /// have; `None` if they agree there. Records compare as a list compares its items,
    /// `x is y or x == y`: one stored record (the same row of one store, or the same
    /// place in storage a copy or slice shares, see [`RecordList::same_record`]) is
    /// equal without a look, so a record holding a NaN equals itself; other pairs
    /// compare their values (Python `==`) when `by_value`, and a pair the core cannot
    /// decide, or every pair when not `by_value` (a row class with an `__eq__` of its
    /// own), is decided by `undecided(row_a, row_b)`.
    ///
    /// This is where `==` and the orderings (`<`, `<=`, ...) of two lists look.
    ///
    /// # Errors
    /// The first error `undecided` returns.
    pub fn first_difference<E>(
        &self,
        a: &Order,
        other: &RecordList,
        b: &Order,
        by_value: bool,
        mut undecided: impl FnMut(usize, usize) -> std::result::Result<bool, E>,
    ) -> std::result::Result<Option<usize>, E> {
        let n = a.len(self.len()).min(b.len(other.len()));
        // Two lists of one store (`rows == rows[:]`, a copy): where their orders agree
        // they hold the same records, which a list finds equal by identity.
        let agree = if std::ptr::eq(self, other) {
            a.common_prefix(b, n)
        } else {
            0
        };
        let mut same = crate::list::SameRecord::new(self, other);
        for p in agree..n {
            let (x, y) = (a.slot(p), b.slot(p));
            if same.test(x, y) {
                continue;
            }
            let equal = match by_value.then(|| self.row_eq_other(x, other, y)).flatten() {
                Some(equal) => equal,
                None => undecided(x, y)?,
            };
            if !equal {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Python `==` between the list holding this store's rows `a` and the list
    /// holding `other`'s rows `b` (`other` may be this store): equal lengths and no
    /// [`RecordList::first_difference`].
    ///
    /// # Errors
    /// The first error `undecided` returns.
    pub fn eq_lists<E>(
        &self,
        a: &Order,
        other: &RecordList,
        b: &Order,
        by_value: bool,
        undecided: impl FnMut(usize, usize) -> std::result::Result<bool, E>,
    ) -> std::result::Result<bool, E> {
        if a.len(self.len()) != b.len(other.len()) {
            return Ok(false);
        }
        Ok(self
            .first_difference(a, other, b, by_value, undecided)?
            .is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cell;
    use proptest::prelude::*;

    /// A resolved slice as Python's `slice.indices` gives it for a list of `len`.
    fn resolve(len: usize, start: Option<isize>, stop: Option<isize>, step: isize) -> Slice {
        let n = len as isize;
        let clamp = |v: Option<isize>, dflt: isize, lo: isize, hi: isize| match v {
            None => dflt,
            Some(v) if v < 0 => (v + n).max(lo),
            Some(v) => v.min(hi),
        };
        let (start, stop) = if step > 0 {
            (clamp(start, 0, 0, n), clamp(stop, n, 0, n))
        } else {
            (clamp(start, n - 1, -1, n - 1), clamp(stop, -1, -1, n - 1))
        };
        let count = if step > 0 && stop > start {
            (stop - start - 1) / step + 1
        } else if step < 0 && start > stop {
            (start - stop - 1) / -step + 1
        } else {
            0
        };
        Slice {
            start,
            step,
            len: count as usize,
        }
    }

    fn list_of(values: &[i64]) -> RecordList {
        let mut l = RecordList::new();
        for &v in values {
            l.push_record(&[("v", Cell::Int(v))]).unwrap();
        }
        l
    }

    fn values_of(l: &RecordList) -> Vec<i64> {
        (0..l.len())
            .map(|i| match l.get(i, 0) {
                crate::CellRef::Int(v) => v,
                other => panic!("not an int: {other:?}"),
            })
            .collect()
    }

    /// The model: a `Vec` with Python's slice assignment and deletion.
    fn model_assign(v: &mut Vec<i64>, s: &Slice, new: &[i64]) -> bool {
        if let Some(r) = s.as_range() {
            v.splice(r, new.iter().copied());
            return true;
        }
        if new.len() != s.len {
            return false;
        }
        for (p, x) in s.positions().zip(new) {
            v[p] = *x;
        }
        true
    }

    fn model_delete(v: &mut Vec<i64>, s: &Slice) {
        let mut pos: Vec<usize> = s.positions().collect();
        pos.sort_unstable();
        pos.dedup();
        for p in pos.into_iter().rev() {
            v.remove(p);
        }
    }

    fn slice_args() -> impl Strategy<Value = (Option<isize>, Option<isize>, isize)> {
        (
            proptest::option::of(-12isize..12),
            proptest::option::of(-12isize..12),
            prop_oneof![Just(1isize), Just(-1), Just(2), Just(-2), Just(3), Just(-3)],
        )
    }

    #[test]
    fn indexes_at_the_ends_of_isize() {
        assert_eq!(index_in(isize::MIN, 5), None);
        assert_eq!(index_in(isize::MAX, 5), None);
        assert_eq!(index_in(-1, usize::MAX), Some(usize::MAX - 1));
        assert_eq!(clamp_index(isize::MIN, 5), 0);
        assert_eq!(clamp_index(isize::MAX, 5), 5);
    }

    proptest! {
        /// `index_in` reads an index as `list[i]` does: the item `v[i]` of a model
        /// `Vec` (negative from the end), or none.
        #[test]
        fn index_in_is_python_indexing(len in 0usize..20, i in -25isize..25) {
            let v: Vec<usize> = (0..len).collect();
            let want = if i < 0 { v.len().checked_sub(i.unsigned_abs()) } else { Some(i as usize) }
                .and_then(|j| v.get(j).copied());
            prop_assert_eq!(index_in(i, len), want);
        }

        /// `clamp_index` is where `list.insert(i, x)` puts `x`.
        #[test]
        fn clamp_index_is_where_insert_puts(len in 0usize..20, i in -25isize..25) {
            let mut v: Vec<i64> = (0..len as i64).collect();
            let at = if i < 0 { len.saturating_sub(i.unsigned_abs()) } else { (i as usize).min(len) };
            v.insert(at, -1);
            prop_assert_eq!(v.iter().position(|&x| x == -1), Some(clamp_index(i, len)));
        }
    }

    proptest! {
        #[test]
        fn slice_positions_match_python(len in 0usize..10, (a, b, step) in slice_args()) {
            let s = resolve(len, a, b, step);
            let pos: Vec<usize> = s.positions().collect();
            prop_assert_eq!(pos.len(), s.len);
            prop_assert!(pos.iter().all(|&p| p < len));
            let mut back: Vec<usize> = s.ranges_from_back().into_iter().flatten().collect();
            back.sort_unstable();
            let mut sorted = pos.clone();
            sorted.sort_unstable();
            prop_assert_eq!(back, sorted);
            // The k-th record assigned goes to the k-th position; after skipping k, the
            // rest go to the rest.
            for (k, &p) in pos.iter().enumerate() {
                prop_assert_eq!(s.nth(k), p);
                prop_assert_eq!(s.skip(k).positions().collect::<Vec<_>>(), &pos[k..]);
            }
        }

        #[test]
        fn record_list_slices_follow_the_model(
            values in proptest::collection::vec(-50i64..50, 0..10),
            (a, b, step) in slice_args(),
            new in proptest::collection::vec(-50i64..50, 0..6),
        ) {
            let s = resolve(values.len(), a, b, step);
            let picked: Vec<i64> = s.positions().map(|p| values[p]).collect();
            prop_assert_eq!(values_of(&list_of(&values).get_slice(&s)), picked);
            let mut model = values.clone();
            let ok = model_assign(&mut model, &s, &new);
            let mut l = list_of(&values);
            let res = l.assign_slice(&s, &list_of(&new));
            prop_assert_eq!(res.is_ok(), ok);
            if !ok {
                prop_assert_eq!(res, Err(RecordsError::SliceSize { got: new.len(), expected: s.len }));
            }
            prop_assert_eq!(values_of(&l), model);

            let mut model = values.clone();
            model_delete(&mut model, &s);
            let mut l = list_of(&values);
            l.remove_slice(&s).unwrap();
            prop_assert_eq!(values_of(&l), model);
        }

        #[test]
        fn order_slices_follow_the_model(
            store in 0usize..10,
            (a, b, step) in slice_args(),
            new in proptest::collection::vec(0usize..10, 0..6),
        ) {
            // Positions hold store rows; the model is the Vec of rows.
            let rows: Vec<usize> = (0..store).collect();
            let s = resolve(store, a, b, step);
            prop_assert_eq!(Order::Whole.get_slice(store, &s).slots(store), s.positions().collect::<Vec<_>>());
            let as_i = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
            let mut model = as_i(&rows);
            let ok = model_assign(&mut model, &s, &as_i(&new));
            let mut o = Order::Whole;
            prop_assert_eq!(o.assign_slice(store, &s, &new, true).is_ok(), ok);
            prop_assert_eq!(as_i(&o.slots(store)), model);

            let mut model = as_i(&rows);
            model_delete(&mut model, &s);
            let mut o = Order::Whole;
            o.remove_slice(store, &s).unwrap();
            prop_assert_eq!(as_i(&o.slots(store)), model);
        }

        #[test]
        fn restore_drops_what_was_appended(
            store in 0usize..8,
            keep in 0usize..8,
            shared in proptest::collection::vec(0usize..8, 0..4),
            new in 0usize..4,
        ) {
            let shared: Vec<usize> = shared.into_iter().filter(|&r| r < store).collect();
            for mut o in [Order::Whole, Order::Whole.get_slice(store, &Slice { start: 0, step: 1, len: keep.min(store) })] {
                let before = o.slots(store);
                let mark = o.mark(store);
                o.push_shared(store, &shared).unwrap();
                o.push_new(store + new, store, new).unwrap();
                o.restore(store + new, mark);
                prop_assert_eq!(o.slots(store), before);
            }
        }

        #[test]
        fn order_truncate_and_reverse(store in 0usize..10, keep in 0usize..12) {
            let mut o = Order::Whole;
            o.truncate(store, keep).unwrap();
            prop_assert_eq!(o.slots(store), (0..store.min(keep)).collect::<Vec<_>>());
            o.reverse(store).unwrap();
            prop_assert_eq!(o.slots(store), (0..store.min(keep)).rev().collect::<Vec<_>>());
        }

        /// Any order (whole, a range, or slots with repeats) reverses to its positions
        /// backwards, and back again.
        #[test]
        fn reverse_of_any_order_reverses_its_positions(
            store in 1usize..10,
            start in 0usize..10,
            shared in proptest::collection::vec(0usize..10, 0..6),
        ) {
            let start = start.min(store);
            let shared: Vec<usize> = shared.into_iter().map(|r| r % store).collect();
            let mut slots = Order::Whole;
            slots.push_shared(store, &shared).unwrap();
            let range = Order::Whole.get_slice(store, &Slice { start: start as isize, step: 1, len: store - start });
            for mut o in [Order::Whole, range, slots] {
                let before = o.slots(store);
                o.reverse(store).unwrap();
                prop_assert_eq!(o.slots(store), before.iter().rev().copied().collect::<Vec<_>>());
                o.reverse(store).unwrap();
                prop_assert_eq!(o.slots(store), before);
            }
        }

        #[test]
        fn eq_lists_is_vec_equality(
            a in proptest::collection::vec(-3i64..3, 0..6),
            b in proptest::collection::vec(-3i64..3, 0..6),
        ) {
            let never = |_, _| -> std::result::Result<bool, ()> { panic!("ints are decided") };
            let (la, lb) = (list_of(&a), list_of(&b));
            prop_assert_eq!(la.eq_lists(&Order::Whole, &lb, &Order::Whole, true, never), Ok(a == b));
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            prop_assert_eq!(la.first_difference(&Order::Whole, &lb, &Order::Whole, true, never), Ok(first));
        }

        /// Two lists over one store (rows picked from it, repeats allowed) compare as
        /// Python lists of the same dicts do: a NaN record equals itself (the same row)
        /// but no other NaN record; the first difference is where such lists differ.
        #[test]
        fn lists_of_one_store_compare_with_identity_first(
            a in proptest::collection::vec(0usize..6, 0..8),
            b in proptest::collection::vec(0usize..6, 0..8),
        ) {
            let l = nan_list();
            let value = |r: usize| [1.0, 2.0, 1.0, 7.0, f64::NAN, f64::NAN][r];
            let same = |(&x, &y): (&usize, &usize)| x == y || value(x) == value(y);
            let first = a.iter().zip(&b).position(|p| !same(p));
            let never = |_, _| -> std::result::Result<bool, ()> { panic!("numbers are decided") };
            let (oa, ob) = (Order::Whole.pick(&a), Order::Whole.pick(&b));
            prop_assert_eq!(l.first_difference(&oa, &l, &ob, true, never), Ok(first));
            prop_assert_eq!(l.eq_lists(&oa, &l, &ob, true, never), Ok(a.len() == b.len() && first.is_none()));
        }

        /// A copy or slice of a list shares its storage: the records it shares are
        /// the list's own (a NaN record equals itself there too), until a write gives
        /// one side records of its own, which then compare by value.
        #[test]
        fn copies_and_slices_hold_the_same_records(
            start in 0usize..6,
            chunk_rows in 1usize..5,
            write in proptest::option::of(0usize..6),
        ) {
            let mut l = RecordList::with_chunk_rows(chunk_rows);
            for v in [1.0, f64::NAN, 2.0, f64::NAN, 3.0, f64::NAN] {
                l.push_record(&[("v", Cell::Float(v)), ("s", Cell::Str("x"))]).unwrap();
            }
            let mut copy = l.slice(start, 6);
            if let Some(w) = write.filter(|&w| w < copy.len()) {
                copy.set_field(w, "s", Cell::Str("a new string")).unwrap();
            }
            for (i, j) in (start..6).enumerate() {
                // Written: a record of the copy's own, unequal if it holds a NaN.
                let written = write.is_some_and(|w| w == i);
                let chunk_written =
                    write.is_some_and(|w| w < copy.len() && (w + start) / chunk_rows == j / chunk_rows);
                let same = l.same_record(j, &copy, i);
                prop_assert!(!(same && written));
                if !chunk_written {
                    prop_assert!(same);
                }
            }
            let never = |_, _| -> std::result::Result<bool, ()> { Err(()) };
            let tail = l.slice(start, 6);
            prop_assert_eq!(l.eq_lists(&Order::Whole.slice(6, start, 6), &tail, &Order::Whole, true, never), Ok(true));
            // Another list holding equal values holds other records.
            let other = l.take(&(0..6).collect::<Vec<_>>());
            prop_assert!((0..6).all(|i| !l.same_record(i, &other, i)));
            prop_assert_eq!(l.eq_lists(&Order::Whole, &other, &Order::Whole, true, never), Ok(false));
        }
    }

    /// Records 1.0, 2.0, 1.0, 7.0, NaN, NaN.
    fn nan_list() -> RecordList {
        let mut l = RecordList::new();
        for v in [1.0, 2.0, 1.0, 7.0, f64::NAN, f64::NAN] {
            l.push_record(&[("v", Cell::Float(v))]).unwrap();
        }
        l
    }

    #[test]
    fn a_record_is_found_by_itself_and_by_its_values() {
        let l = nan_list();
        let never = |_| -> std::result::Result<bool, ()> { panic!("numbers are decided") };
        let found = |same, v: f64| {
            let rec = [("v", Cell::Float(v))];
            let mut seen = Vec::new();
            l.find_equal(
                &Order::Whole.pick(&[5, 4, 0, 2, 4]),
                0..5,
                same,
                Some(&rec),
                never,
                |p| {
                    seen.push(p);
                    true
                },
            )
            .unwrap();
            seen
        };
        assert_eq!(found(Some(4), f64::NAN), vec![1, 4]);
        assert_eq!(found(None, f64::NAN), Vec::<usize>::new());
        assert_eq!(found(Some(0), 1.0), vec![2, 3]);
        // Not by value: only the record itself is found without asking.
        let mut asked = Vec::new();
        l.find_equal(
            &Order::Whole,
            0..6,
            Some(3),
            None,
            |row| -> std::result::Result<bool, ()> {
                asked.push(row);
                Ok(false)
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(asked, vec![0, 1, 2, 4, 5]);
    }

    /// Lists whose dictionaries went separate ways read a shared chunk alike as long
    /// as the keys it holds mean the same strings; other fields, names or layouts make
    /// other records.
    #[test]
    fn shared_chunks_count_only_where_they_read_alike() {
        // Full chunks: what is appended goes to a chunk of its own.
        let mut l = RecordList::with_chunk_rows(2);
        for s in ["a", "b"] {
            l.push_record(&[("s", Cell::Str(s)), ("v", Cell::Float(f64::NAN))])
                .unwrap();
        }
        let mut grown = l.clone();
        grown
            .push_record(&[("s", Cell::Str("c")), ("v", Cell::Float(0.0))])
            .unwrap();
        assert!(l.same_record(1, &grown, 1));
        let mut renamed = l.clone();
        renamed.rename_fields(&["t", "v"]).unwrap();
        assert!(!l.same_record(0, &renamed, 0));
        let mut wider = l.clone();
        wider
            .push_record(&[
                ("s", Cell::Str("a")),
                ("v", Cell::Float(1.0)),
                ("w", Cell::Int(1)),
            ])
            .unwrap();
        assert!(!l.same_record(0, &wider, 0));
        let never = |_, _| -> std::result::Result<bool, ()> { Err(()) };
        assert_eq!(
            l.eq_lists(&Order::Whole, &l.clone(), &Order::Whole, true, never),
            Ok(true)
        );
        assert_eq!(
            l.first_difference(&Order::Whole, &grown, &Order::Whole, true, never),
            Ok(None)
        );
    }

    #[test]
    fn find_equal_visits_matches_in_order_and_stops() {
        let l = list_of(&[1, 2, 1, 1]);
        let never = |_| -> std::result::Result<bool, ()> { panic!("ints are decided") };
        let one = [("v", Cell::Int(1))];
        let mut seen = Vec::new();
        l.find_equal(&Order::Whole, 1..usize::MAX, None, Some(&one), never, |p| {
            seen.push(p);
            seen.len() < 2
        })
        .unwrap();
        assert_eq!(seen, vec![2, 3]);
        // Positions map to store rows through the order; no record: the host decides.
        let order = Order::Whole.get_slice(
            4,
            &Slice {
                start: 3,
                step: -1,
                len: 4,
            },
        );
        let mut asked = Vec::new();
        let mut found = Vec::new();
        let r: std::result::Result<(), ()> = l.find_equal(
            &order,
            0..4,
            None,
            None,
            |row| {
                asked.push(row);
                Ok(row == 1)
            },
            |p| {
                found.push(p);
                true
            },
        );
        assert_eq!((r, asked, found), (Ok(()), vec![3, 2, 1, 0], vec![2]));
        assert_eq!(
            l.find_equal(&Order::Whole, 0..4, None, None, |_| Err("boom"), |_| true),
            Err("boom")
        );
    }

    #[test]
    fn single_positions() {
        assert_eq!(Slice::at(3).positions().collect::<Vec<_>>(), vec![3]);
        assert_eq!(Slice::before(3).as_range(), Some(3..3));
        let mut l = list_of(&[1, 2]);
        l.assign_slice(&Slice::before(1), &list_of(&[9])).unwrap();
        assert_eq!(values_of(&l), vec![1, 9, 2]);
    }

    #[test]
    fn records_past_a_slice_are_numbered_on_without_overflow() {
        // A step-1 slice takes any number of records: they go on past its end.
        let s = Slice {
            start: 3,
            step: 1,
            len: 2,
        };
        assert_eq!((s.nth(2), s.nth(5)), (5, 8));
        assert_eq!(s.skip(3).nth(0), 6);
        // Extremes saturate (never below 0), never overflow.
        let back = Slice {
            start: 6,
            step: -2,
            len: 2,
        };
        assert_eq!(back.nth(usize::MAX), 0);
        let far = Slice {
            start: isize::MAX - 1,
            step: 1,
            len: 1,
        };
        assert_eq!(far.nth(usize::MAX), isize::MAX as usize);
        assert_eq!(far.skip(usize::MAX).len, 0);
    }

    /// Records written in place one by one are put back when a later one is refused.
    #[test]
    fn a_refused_record_leaves_a_same_size_assignment_undone() {
        let mut l = RecordList::with_schema(&[("v", crate::DType::Int64)], 4).unwrap();
        for v in 0..10 {
            l.push_record(&[("v", Cell::Int(v))]).unwrap();
        }
        let mut staged = list_of(&[70, 80]);
        staged
            .push_record(&[("v", Cell::Int(90)), ("w", Cell::Str("not in the schema"))])
            .unwrap();
        for s in [
            resolve(10, Some(3), Some(6), 1),
            resolve(10, Some(1), None, 3),
        ] {
            assert_eq!(s.len, 3);
            assert!(l.assign_slice(&s, &staged).is_err());
            assert_eq!(values_of(&l), (0..10).collect::<Vec<_>>());
        }
        l.assign_slice(&resolve(10, Some(3), Some(5), 1), &list_of(&[70, 80]))
            .unwrap();
        assert_eq!(values_of(&l), vec![0, 1, 2, 70, 80, 5, 6, 7, 8, 9]);
    }
}
