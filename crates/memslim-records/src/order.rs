//! [`Order`]: which stored records a list holds, and in what order.
//!
//! A Python `list[dict]` holds references: sorting it moves references, not dicts;
//! a slice or a shallow copy holds the same dicts; one dict may sit at two positions.
//! A list built on a [`crate::RecordList`] gets the same semantics by keeping its
//! records in a *store* (a `RecordList` whose rows never move while anything else
//! refers to them) and an `Order` mapping its positions to store rows ("slots").
//!
//! # Memory
//! [`Order::Whole`] (the list is its whole store, in store order: a list nobody
//! sliced, copied or reordered under a live view) and [`Order::Range`] cost nothing
//! per record. [`Order::Slots`] costs 4 bytes per position.

use crate::{RecordsError, Result};

/// Largest store a [`Order::Slots`] can address.
pub const MAX_SLOTS: usize = u32::MAX as usize;

/// Rows no position reads that a store may hold beyond as many as its list reads
/// before [`Order::wastes`] says to compact it.
pub const UNREAD_SLACK: usize = 1024;

/// Positions of a list mapped to the rows of the store it shares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Every row of the store, in store order (grows as the store does).
    #[default]
    Whole,
    /// Store rows `[start, start + len)`.
    Range {
        /// First store row.
        start: usize,
        /// Number of positions.
        len: usize,
    },
    /// Any store rows, in any order, repeats allowed.
    Slots {
        /// Store row of each position.
        slots: Vec<u32>,
        /// Some store row may appear twice (so the list cannot be compacted into a
        /// store of its own without losing that two positions are one record).
        aliased: bool,
    },
}

fn slot32(slot: usize) -> Result<u32> {
    u32::try_from(slot).map_err(|_| RecordsError::IndexOutOfRange {
        index: slot,
        len: MAX_SLOTS,
    })
}

impl Order {
    /// Number of positions, given the store's length.
    #[inline]
    pub fn len(&self, store_len: usize) -> usize {
        match self {
            Order::Whole => store_len,
            Order::Range { len, .. } => *len,
            Order::Slots { slots, .. } => slots.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self, store_len: usize) -> bool {
        self.len(store_len) == 0
    }

    /// Store row of position `pos` (which must be below [`Order::len`]).
    #[inline]
    pub fn slot(&self, pos: usize) -> usize {
        match self {
            Order::Whole => pos,
            Order::Range { start, .. } => start + pos,
            Order::Slots { slots, .. } => slots[pos] as usize,
        }
    }

    /// How many of the first `n` positions name the same store row in `self` and
    /// `other` (two orders over one store: those positions hold one record each). Runs
    /// and slot vectors are compared whole; a mix of the two counts none.
    pub fn common_prefix(&self, other: &Order, n: usize) -> usize {
        let start = |o: &Order| match o {
            Order::Whole => Some(0),
            Order::Range { start, .. } => Some(*start),
            Order::Slots { .. } => None,
        };
        match (self, other) {
            (Order::Slots { slots: a, .. }, Order::Slots { slots: b, .. }) => {
                let (a, b) = (&a[..n.min(a.len())], &b[..n.min(b.len())]);
                a.iter()
                    .zip(b)
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.len().min(b.len()))
            }
            _ => match (start(self), start(other)) {
                (Some(x), Some(y)) if x == y => n,
                _ => 0,
            },
        }
    }

    /// Whether positions are store rows (nothing to translate).
    #[inline]
    pub fn is_whole(&self) -> bool {
        matches!(self, Order::Whole)
    }

    /// Whether two positions may name one store row.
    pub fn is_aliased(&self) -> bool {
        matches!(self, Order::Slots { aliased: true, .. })
    }

    /// Whether the positions are store rows `[start, start + len)` in order; `Some(start)`.
    pub fn as_range(&self, store_len: usize) -> Option<(usize, usize)> {
        match self {
            Order::Whole => Some((0, store_len)),
            Order::Range { start, len } => Some((*start, *len)),
            Order::Slots { .. } => None,
        }
    }

    /// The store row of every position.
    pub fn slots(&self, store_len: usize) -> Vec<usize> {
        match self {
            Order::Slots { slots, .. } => slots.iter().map(|&s| s as usize).collect(),
            _ => (0..self.len(store_len)).map(|p| self.slot(p)).collect(),
        }
    }

    /// Makes this order stop growing with the store, in place ([`Order::fixed`]
    /// without copying the positions of an order that holds them).
    pub fn fix(&mut self, store_len: usize) {
        if let Order::Whole = self {
            *self = self.fixed(store_len);
        }
    }

    /// The same positions as an order that does not grow with the store (for a second
    /// list sharing it: only one list may be the store's `Whole`).
    pub fn fixed(&self, store_len: usize) -> Order {
        match self {
            Order::Whole => Order::Range {
                start: 0,
                len: store_len,
            },
            o => o.clone(),
        }
    }

    /// Positions `[start, end)` (clamped) as a new order.
    pub fn slice(&self, store_len: usize, start: usize, end: usize) -> Order {
        let end = end.min(self.len(store_len));
        let start = start.min(end);
        match self {
            Order::Slots { slots, aliased } => Order::Slots {
                slots: slots[start..end].to_vec(),
                aliased: *aliased,
            },
            _ => Order::Range {
                start: self.slot(start),
                len: end - start,
            },
        }
    }

    /// The given positions (each below [`Order::len`]) as a new order.
    pub fn pick(&self, positions: &[usize]) -> Order {
        let mut seen: Vec<u64> = Vec::new();
        let mut aliased = self.is_aliased();
        let slots = positions
            .iter()
            .map(|&p| {
                let s = self.slot(p);
                if !aliased {
                    let (w, bit) = (s / 64, 1u64 << (s % 64));
                    if w >= seen.len() {
                        seen.resize(w + 1, 0);
                    }
                    aliased = seen[w] & bit != 0;
                    seen[w] |= bit;
                }
                s as u32
            })
            .collect();
        Order::Slots { slots, aliased }
    }

    /// The store rows the positions read, each once, in the order positions first read
    /// them, and the positions as an order over a store made of just those rows (row
    /// `k` of it being the `k`-th of them): how a list whose store holds rows it no
    /// longer reads is compacted without parting positions that share a record.
    /// `Whole` if no two positions share a row, else `Slots` flagged aliased.
    pub fn compacted(&self, store_len: usize) -> (Vec<usize>, Order) {
        let Order::Slots { slots, .. } = self else {
            return (self.slots(store_len), Order::Whole);
        };
        const UNSEEN: u32 = u32::MAX;
        let mut new_of = vec![UNSEEN; store_len];
        let mut rows = Vec::with_capacity(slots.len());
        let remapped = slots
            .iter()
            .map(|&s| {
                let k = &mut new_of[s as usize];
                if *k == UNSEEN {
                    // At most `slots.len()` rows, each below `MAX_SLOTS`: fits.
                    *k = rows.len() as u32;
                    rows.push(s as usize);
                }
                *k
            })
            .collect();
        if rows.len() == slots.len() {
            return (rows, Order::Whole);
        }
        (
            rows,
            Order::Slots {
                slots: remapped,
                aliased: true,
            },
        )
    }

    /// Whether a store of `store_len` rows holds more rows this order does not read than
    /// rows it reads, plus 1,024 rows of slack: worth compacting ([`Order::compacted`]).
    /// Compacting then costs amortized O(1) per row added since, and keeps the store
    /// within about twice the list.
    pub fn wastes(&self, store_len: usize) -> bool {
        store_len >= 2 * self.len(store_len) + UNREAD_SLACK
    }

    /// Turns `Whole` and `Range` into `Slots` (for an edit a range cannot express).
    pub(crate) fn slots_mut(&mut self, store_len: usize) -> (&mut Vec<u32>, &mut bool) {
        if !matches!(self, Order::Slots { .. }) {
            let slots = (0..self.len(store_len))
                .map(|p| self.slot(p) as u32)
                .collect();
            *self = Order::Slots {
                slots,
                aliased: false,
            };
        }
        match self {
            Order::Slots { slots, aliased } => (slots, aliased),
            _ => unreachable!("made Slots above"),
        }
    }

    /// Appends store rows `[first, first + n)`, just added to the store (so its length
    /// is now `store_len`) and held by no position yet.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] if the store outgrows [`MAX_SLOTS`].
    pub fn push_new(&mut self, store_len: usize, first: usize, n: usize) -> Result<()> {
        match self {
            // `Whole` grows with the store, whose new tail these rows are.
            Order::Whole => Ok(()),
            Order::Range { start, len } if *start + *len == first => {
                *len += n;
                Ok(())
            }
            _ => {
                slot32(first + n)?;
                let (slots, _) = self.slots_mut(store_len);
                slots.extend((first..first + n).map(|s| s as u32));
                Ok(())
            }
        }
    }

    /// Points the positions that read store rows `[from, from + to.len())` at rows
    /// `to` instead, row `from + k` becoming `to[k]` (its record was moved there:
    /// [`crate::RecordList::move_tail_into`]). `store_len` is the store's length before
    /// the move. No row of `to` may be read by a position already, so the positions
    /// share no more rows than before.
    ///
    /// # Errors
    /// As [`Order::push_new`].
    pub fn remap_tail(&mut self, store_len: usize, from: usize, to: &[usize]) -> Result<()> {
        let to32 = to
            .iter()
            .map(|&r| slot32(r))
            .collect::<Result<Vec<u32>>>()?;
        let (slots, _) = self.slots_mut(store_len);
        for s in slots.iter_mut() {
            if let Some(k) = (*s as usize).checked_sub(from) {
                if let Some(&t) = to32.get(k) {
                    *s = t;
                }
            }
        }
        Ok(())
    }

    /// Appends existing store rows (which other positions may already hold).
    /// `store_len` is the store's length before any rows this call adds, as for every
    /// edit below (a `Whole` order means exactly that many positions).
    ///
    /// # Errors
    /// As [`Order::push_new`].
    pub fn push_shared(&mut self, store_len: usize, rows: &[usize]) -> Result<()> {
        for &r in rows {
            slot32(r)?;
        }
        let (slots, aliased) = self.slots_mut(store_len);
        slots.extend(rows.iter().map(|&r| r as u32));
        *aliased = true;
        Ok(())
    }

    /// Replaces positions `[start, end)` (clamped) with store rows `rows`.
    ///
    /// # Errors
    /// As [`Order::push_new`].
    pub fn splice(
        &mut self,
        store_len: usize,
        start: usize,
        end: usize,
        rows: &[usize],
        shared: bool,
    ) -> Result<()> {
        for &r in rows {
            slot32(r)?;
        }
        let len = self.len(store_len);
        let end = end.min(len);
        let start = start.min(end);
        if rows.is_empty() {
            match self {
                Order::Whole if end == len => {
                    *self = Order::Range {
                        start: 0,
                        len: start,
                    };
                    return Ok(());
                }
                Order::Range { len, .. } if end == *len => {
                    *len = start;
                    return Ok(());
                }
                Order::Range { start: s, len } if start == 0 => {
                    *s += end;
                    *len -= end;
                    return Ok(());
                }
                _ => {}
            }
        }
        let (slots, aliased) = self.slots_mut(store_len);
        slots.splice(start..end, rows.iter().map(|&r| r as u32));
        *aliased |= shared;
        Ok(())
    }

    /// Reorders positions: position `i` becomes old position `perm[i]`.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] if `perm` is not a permutation of the positions.
    pub fn permute(&mut self, store_len: usize, perm: &[usize]) -> Result<()> {
        let len = self.len(store_len);
        let mut seen = crate::bitmap::Bitmap::filled(len, false);
        if perm.len() != len {
            return Err(RecordsError::IndexOutOfRange {
                index: perm.len(),
                len,
            });
        }
        for &p in perm {
            if p >= len || seen.get(p) {
                return Err(RecordsError::IndexOutOfRange { index: p, len });
            }
            seen.set(p, true);
        }
        let (slots, _) = self.slots_mut(store_len);
        let old = std::mem::take(slots);
        *slots = perm.iter().map(|&p| old[p]).collect();
        Ok(())
    }

    /// The positions repeated `n` times (empty for `n == 0`).
    ///
    /// # Errors
    /// As [`Order::push_new`] when the result would not fit in memory.
    pub fn repeat(&mut self, store_len: usize, n: usize) -> Result<()> {
        let len = self.len(store_len);
        if n == 1 {
            return Ok(());
        }
        // Every check before the slots are taken: on error the order is as it was.
        let total = len.checked_mul(n).filter(|&t| t <= MAX_SLOTS).ok_or(
            RecordsError::IndexOutOfRange {
                index: len.saturating_mul(n),
                len: MAX_SLOTS,
            },
        )?;
        let mut out = Vec::new();
        out.try_reserve_exact(total)
            .map_err(|_| RecordsError::OutOfMemory {
                what: "repeating the list",
                bytes: total.saturating_mul(4),
            })?;
        let (slots, aliased) = self.slots_mut(store_len);
        let one = std::mem::take(slots);
        for _ in 0..n {
            out.extend_from_slice(&one);
        }
        *slots = out;
        *aliased |= n > 1 && len > 0;
        Ok(())
    }

    /// Heap bytes.
    pub fn nbytes(&self) -> usize {
        match self {
            Order::Slots { slots, .. } => slots.capacity() * 4,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `common_prefix` never claims a position whose store rows differ, and finds
        /// every agreeing position of two runs or two slot vectors.
        #[test]
        fn common_prefix_counts_only_agreeing_positions(
            a in order_strategy(), b in order_strategy(), store in 0usize..40,
        ) {
            let n = a.len(store).min(b.len(store));
            let k = a.common_prefix(&b, n);
            prop_assert!(k <= n);
            prop_assert!((0..k).all(|p| a.slot(p) == b.slot(p)));
            let runs = !matches!(a, Order::Slots { .. }) && !matches!(b, Order::Slots { .. });
            let slots = matches!(a, Order::Slots { .. }) && matches!(b, Order::Slots { .. });
            if slots || runs {
                prop_assert_eq!(k, (0..n).position(|p| a.slot(p) != b.slot(p)).unwrap_or(n));
            }
        }
    }

    proptest! {
        /// `remap_tail` points exactly the positions that read the moved rows at their
        /// new rows, and leaves every other position as it was.
        #[test]
        fn remap_tail_moves_only_the_tail_rows(o in order_strategy(), store in 6usize..12) {
            let o = match o {
                Order::Range { start, len } => Order::Range { start, len: len.min(store - start) },
                Order::Slots { slots, aliased } => Order::Slots { slots, aliased },
                w => w,
            };
            let (from, to) = (store - 2, [1usize, 0]);
            let before = o.slots(store);
            let mut after = o.clone();
            after.remap_tail(store, from, &to).unwrap();
            prop_assert_eq!(after.len(store), before.len());
            for (p, &s) in before.iter().enumerate() {
                let want = if s >= from { to[s - from] } else { s };
                prop_assert_eq!(after.slot(p), want);
            }
        }
    }

    fn order_strategy() -> impl Strategy<Value = Order> {
        prop_oneof![
            Just(Order::Whole),
            (0usize..5, 0usize..10).prop_map(|(start, len)| Order::Range { start, len }),
            proptest::collection::vec(0u32..6, 0..12).prop_map(|slots| Order::Slots {
                slots,
                aliased: true,
            }),
        ]
    }

    /// One edit, applied to an `Order` and to a `Vec<usize>` model.
    #[derive(Clone, Debug)]
    enum Op {
        Grow(usize),
        PushNew(usize),
        PushShared(Vec<usize>),
        Splice(usize, usize, usize, bool),
        Permute(Vec<usize>),
        Slice(usize, usize),
        Pick(Vec<usize>),
        Repeat(usize),
        Fixed,
        Compact,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..4).prop_map(Op::Grow),
            (0usize..4).prop_map(Op::PushNew),
            proptest::collection::vec(0usize..64, 0..4).prop_map(Op::PushShared),
            (0usize..20, 0usize..20, 0usize..4, any::<bool>())
                .prop_map(|(a, b, n, s)| Op::Splice(a, b, n, s)),
            proptest::collection::vec(any::<u32>(), 0..1)
                .prop_map(|v| Op::Permute(v.into_iter().map(|x| x as usize).collect())),
            (0usize..20, 0usize..20).prop_map(|(a, b)| Op::Slice(a, b)),
            proptest::collection::vec(0usize..64, 0..6).prop_map(Op::Pick),
            (0usize..3).prop_map(Op::Repeat),
            Just(Op::Fixed),
            Just(Op::Compact),
        ]
    }

    #[test]
    fn a_store_is_wasted_once_unread_rows_outnumber_read_ones_plus_the_slack() {
        let order = Order::Whole.slice(10_000, 0, 100);
        assert!(!order.wastes(2 * 100 + UNREAD_SLACK - 1));
        assert!(order.wastes(2 * 100 + UNREAD_SLACK));
        assert!(!Order::Whole.wastes(1 << 20));
    }

    proptest! {
        #[test]
        fn matches_a_vec_of_slots(ops in proptest::collection::vec(op(), 0..40)) {
            let mut store = 3usize;
            let mut order = Order::Whole;
            let mut model: Vec<usize> = (0..store).collect();
            for op in ops {
                match op {
                    Op::Grow(n) => {
                        // Another list sharing the store appends to it (never while this
                        // one is the store's `Whole`).
                        if !order.is_whole() { store += n; }
                    }
                    Op::PushNew(n) => {
                        let first = store;
                        store += n;
                        order.push_new(store, first, n).unwrap();
                        model.extend(first..store);
                    }
                    Op::PushShared(rows) => {
                        let before = store;
                        let rows: Vec<usize> = rows.into_iter().filter(|&r| r < store).collect();
                        order.push_shared(before, &rows).unwrap();
                        model.extend(&rows);
                        prop_assert!(order.is_aliased() || rows.is_empty());
                    }
                    Op::Splice(a, b, n, shared) => {
                        let before = store;
                        let rows: Vec<usize> = if shared {
                            (0..n).map(|k| (k * 7) % store.max(1)).filter(|&r| r < store).collect()
                        } else {
                            store += n;
                            (before..store).collect()
                        };
                        let len = model.len();
                        let b = b.min(len);
                        let a = a.min(b);
                        order.splice(before, a, b, &rows, shared).unwrap();
                        model.splice(a..b, rows.iter().copied());
                    }
                    Op::Permute(seed) => {
                        let len = model.len();
                        let mut perm: Vec<usize> = (0..len).collect();
                        let s = seed.first().copied().unwrap_or(1);
                        for i in (1..len).rev() { perm.swap(i, (s.wrapping_mul(i + 7)) % (i + 1)); }
                        order.permute(store, &perm).unwrap();
                        model = perm.iter().map(|&p| model[p]).collect();
                        let bad = order.permute(store, &vec![0; len + 1]);
                        prop_assert!(bad.is_err());
                    }
                    Op::Slice(a, b) => {
                        order = order.slice(store, a, b);
                        let (a2, b2) = (a.min(b.min(model.len())), b.min(model.len()));
                        model = model[a2..b2].to_vec();
                    }
                    Op::Pick(pos) => {
                        let pos: Vec<usize> = pos.into_iter().filter(|&p| p < model.len()).collect();
                        order = order.pick(&pos);
                        model = pos.iter().map(|&p| model[p]).collect();
                        let mut seen = std::collections::HashSet::new();
                        if !model.iter().all(|s| seen.insert(*s)) {
                            prop_assert!(order.is_aliased(), "a repeat must be flagged");
                        }
                    }
                    Op::Repeat(n) => {
                        order.repeat(store, n).unwrap();
                        model = model.repeat(n);
                    }
                    Op::Compact => {
                        let (rows, compacted) = order.compacted(store);
                        let mut seen = std::collections::HashSet::new();
                        prop_assert!(rows.iter().all(|r| seen.insert(*r)), "a row kept twice");
                        prop_assert_eq!(compacted.len(rows.len()), model.len());
                        for (p, &s) in model.iter().enumerate() {
                            prop_assert_eq!(rows[compacted.slot(p)], s);
                        }
                        prop_assert_eq!(compacted.is_whole(), rows.len() == model.len());
                        // The list now reads a store of just those rows.
                        store = rows.len();
                        order = compacted;
                        model = (0..model.len()).map(|p| order.slot(p)).collect();
                    }
                    Op::Fixed => {
                        let copy = order.fixed(store);
                        order.fix(store);
                        prop_assert_eq!(&order, &copy);
                        prop_assert!(!order.is_whole());
                    }
                }
                prop_assert_eq!(order.len(store), model.len());
                prop_assert_eq!(order.slots(store), model.clone());
                for (p, &s) in model.iter().enumerate() {
                    prop_assert_eq!(order.slot(p), s);
                }
                if let Some((start, len)) = order.as_range(store) {
                    prop_assert_eq!(model.clone(), (start..start + len).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn whole_and_range_cost_nothing() {
        assert_eq!(Order::Whole.nbytes(), 0);
        let o = Order::Whole.slice(100, 10, 20);
        assert_eq!(o, Order::Range { start: 10, len: 10 });
        assert_eq!(o.nbytes(), 0);
        let mut p = o.clone();
        p.permute(100, &(0..10).rev().collect::<Vec<_>>()).unwrap();
        assert_eq!(p.nbytes(), 40, "a reordered list pays 4 bytes per record");
    }

    #[test]
    fn truncation_and_front_removal_stay_ranges() {
        let mut o = Order::Whole;
        o.splice(10, 4, 10, &[], false).unwrap();
        assert_eq!(o, Order::Range { start: 0, len: 4 });
        o.splice(10, 0, 1, &[], false).unwrap();
        assert_eq!(o, Order::Range { start: 1, len: 3 });
    }
}
