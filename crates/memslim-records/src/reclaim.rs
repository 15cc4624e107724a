//! [`Reclaim`]: store rows that one list alone reads, given back when that list goes.
//!
//! A list that shares its store with others (its slices, copies, the sum `a + b` of a
//! `DictList`, which holds `a`'s records themselves) adds its new records to that
//! store. Those rows stayed after the list was dropped, until the store's next
//! compaction: `for d in ds: tmp = rows + [d]` grew `rows`' store without bound. The
//! list that added rows is *their owner* here while no one else can reach them; when it
//! goes, its rows are *free*: a free run at the end of the store is cut off at once,
//! and the next owner's rows are written over free ones before the store grows.
//!
//! The binding reports the ways a row can reach another holder: the owner sharing its
//! positions with another list ([`Reclaim::pin`]: its rows are never freed by this
//! table; the store's compaction, when one list alone is left, still drops them once
//! nothing reads them), or a view of a row ([`Reclaim::note_view`]): a viewed row is
//! freed only at a time no view of the store is alive (the binding tells).
//!
//! # Memory
//! One entry per run of owned or free rows; nothing per row.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A run of rows only its owner reads.
#[derive(Debug)]
struct Owned {
    owner: usize,
    rows: Range<usize>,
    /// A view of one of them was made (it may still be alive).
    viewed: bool,
}

/// Rows of a shared store that one list alone reads (by owner), and rows no list reads.
#[derive(Debug)]
pub struct Reclaim {
    /// Runs of rows only their owner reads. Behind a lock because a view is made under
    /// a shared borrow of the store ([`Reclaim::note_view`]); the lock is only taken on
    /// that path for a row at or above `owned_from`.
    owned: Mutex<Vec<Owned>>,
    /// The lowest owned row (`usize::MAX` for none): a view below it touches nothing.
    owned_from: AtomicUsize,
    /// Rows of owners gone while a view of the store was alive, one of them viewed: free
    /// once no view is.
    viewed_gone: Vec<Range<usize>>,
    /// Runs of rows nothing reads, sorted, apart and not touching.
    free: Vec<Range<usize>>,
}

impl Default for Reclaim {
    fn default() -> Self {
        Reclaim {
            owned: Mutex::new(Vec::new()),
            owned_from: AtomicUsize::new(usize::MAX),
            viewed_gone: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl Reclaim {
    /// Runs `f` on the owned runs, then notes their lowest row.
    fn edit_owned<R>(&mut self, f: impl FnOnce(&mut Vec<Owned>) -> R) -> R {
        let owned = self.owned.get_mut().unwrap_or_else(|e| e.into_inner());
        let out = f(owned);
        set_owned_from(&self.owned_from, owned);
        out
    }

    /// Whether no row is owned or free (nothing to do for the store).
    pub fn is_empty(&self) -> bool {
        // `owned_from` is `usize::MAX` exactly when nothing is owned (every run holds a row).
        self.free.is_empty()
            && self.viewed_gone.is_empty()
            && self.owned_from.load(Ordering::Relaxed) == usize::MAX
    }

    /// Up to `n` free rows, lowest first, for new rows of an owner to be written over
    /// (they are then neither free nor owned until [`Reclaim::own`]). `views`: whether a
    /// view of the store is alive.
    pub fn take_free(&mut self, n: usize, views: bool) -> Vec<usize> {
        if !views && !self.viewed_gone.is_empty() {
            let gone = std::mem::take(&mut self.viewed_gone);
            self.add_free(gone);
        }
        let mut out = Vec::new();
        while out.len() < n {
            let Some(r) = self.free.first_mut() else {
                break;
            };
            let take = (n - out.len()).min(r.end - r.start);
            out.extend(r.start..r.start + take);
            r.start += take;
            if r.start >= r.end {
                self.free.remove(0);
            }
        }
        out
    }

    /// Rows (each once) that only `owner` reads from now on.
    pub fn own(&mut self, owner: usize, rows: &[usize]) {
        let mut sorted = rows.to_vec();
        sorted.sort_unstable();
        self.edit_owned(|owned| {
            let mut k = 0;
            while k < sorted.len() {
                let start = sorted[k];
                let mut end = start + 1;
                k += 1;
                while k < sorted.len() && sorted[k] == end {
                    end += 1;
                    k += 1;
                }
                owned.push(Owned {
                    owner,
                    rows: start..end,
                    viewed: false,
                });
            }
        });
    }

    /// A view of `row` was made: if an owner's, its run is freed only when no view is
    /// alive.
    #[inline]
    pub fn note_view(&self, row: usize) {
        if row >= self.owned_from.load(Ordering::Relaxed) {
            self.mark_viewed(row);
        }
    }

    #[cold]
    fn mark_viewed(&self, row: usize) {
        let mut owned = self.owned.lock().unwrap_or_else(|e| e.into_inner());
        for o in owned.iter_mut().filter(|o| o.rows.contains(&row)) {
            o.viewed = true;
        }
    }

    /// `owner` shares its positions with another list: its rows are no longer its own.
    pub fn pin(&mut self, owner: usize) {
        self.edit_owned(|owned| owned.retain(|o| o.owner != owner));
    }

    /// `owner` is gone: its rows are free (a viewed run only if no view of the store is
    /// alive: `views`). Returns the length the store of `store_len` rows may be cut to
    /// (free rows at its end are dropped from this table).
    pub fn release(&mut self, owner: usize, store_len: usize, views: bool) -> usize {
        let mut gone = Vec::new();
        let mut held = Vec::new();
        self.edit_owned(|owned| {
            owned.retain(|o| {
                if o.owner == owner {
                    if o.viewed && views {
                        held.push(o.rows.clone());
                    } else {
                        gone.push(o.rows.clone());
                    }
                }
                o.owner != owner
            })
        });
        self.viewed_gone.extend(held);
        if !views {
            gone.append(&mut self.viewed_gone);
        }
        self.add_free(gone);
        let mut len = store_len;
        while let Some(last) = self.free.last() {
            if last.end < len {
                break;
            }
            len = len.min(last.start);
            self.free.pop();
        }
        len
    }

    /// Adds runs to `free`, kept sorted and merged.
    fn add_free(&mut self, runs: Vec<Range<usize>>) {
        if runs.is_empty() {
            return;
        }
        self.free.extend(runs);
        self.free.sort_unstable_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(self.free.len());
        for r in self.free.drain(..) {
            match merged.last_mut() {
                Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        self.free = merged;
    }

    /// Forgets every row (the store was rebuilt or changed in place: rows moved).
    pub fn clear(&mut self) {
        self.edit_owned(|owned| owned.clear());
        self.viewed_gone.clear();
        self.free.clear();
    }
}

/// Notes the lowest row of `owned` in `from`.
fn set_owned_from(from: &AtomicUsize, owned: &[Owned]) {
    let low = owned
        .iter()
        .map(|o| o.rows.start)
        .min()
        .unwrap_or(usize::MAX);
    from.store(low, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::Reclaim;

    #[test]
    fn a_dropped_owners_rows_at_the_end_are_cut_and_others_reused() {
        let mut r = Reclaim::default();
        r.own(1, &[10]);
        r.own(2, &[11]);
        // Owner 1 goes while owner 2's row is after its own: its row is free.
        assert_eq!(r.release(1, 12, false), 12);
        assert_eq!(r.take_free(3, false), vec![10]);
        r.own(3, &[10]);
        assert_eq!(r.release(2, 12, false), 11, "free at the end: cut");
        assert_eq!(r.release(3, 11, false), 10);
        assert!(r.is_empty());
    }

    #[test]
    fn viewed_rows_wait_for_the_views_and_shared_rows_are_never_freed() {
        let mut r = Reclaim::default();
        r.own(1, &[5, 6, 8]);
        r.note_view(3); // below every owned row: nothing
        r.note_view(8);
        assert_eq!(
            r.release(1, 9, true),
            9,
            "row 8 was viewed, a view is alive"
        );
        assert_eq!(r.take_free(10, true), vec![5, 6]);
        assert_eq!(r.take_free(10, false), vec![8], "no view alive: row 8 too");
        r.own(2, &[5, 6]);
        r.pin(2);
        assert_eq!(r.release(2, 9, false), 9);
        assert!(r.take_free(10, false).is_empty());
        r.own(3, &[7]);
        r.note_view(7);
        assert_eq!(
            r.release(3, 8, false),
            7,
            "viewed, but no view is alive any more"
        );
    }

    #[test]
    fn clear_forgets_everything() {
        let mut r = Reclaim::default();
        r.own(1, &[0, 1]);
        r.release(1, 5, false);
        r.own(2, &[4]);
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.release(2, 5, false), 5);
    }
}
