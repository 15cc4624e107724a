//! A dictionary of distinct strings shared by every chunk of a dictionary-encoded column.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::{DefaultHashBuilder, HashTable};

/// See [`StrDict::scattered`].
const SCATTERED_BYTES: usize = 256 << 10;

/// Strings looked up together by [`StrDict::intern_group`]: enough lookups in flight to
/// overlap their misses, few enough that a group's entries stay in the L1 cache between
/// its steps.
pub(crate) const GROUP: usize = 32;

/// Entries from which the hash index is [`SHARDS`] tables instead of one. A hash table
/// grows by rehashing into one twice its size; split, each table grows on its own, so a
/// growth step allocates a 64th of the index beside the rest (growth never doubles a
/// huge buffer), while a small dictionary keeps one small table.
const SPLIT_AT: usize = 1 << 14;
const SHARDS: usize = 64;

/// Distinct strings in Arrow Utf8 layout plus a hash index over them. The index stores
/// only `u32` positions and hashes the stored bytes, so each entry costs ~5-9 bytes of
/// index beyond the string itself.
#[derive(Debug)]
pub(crate) struct StrDict {
    offsets: Vec<i32>,
    /// Every entry is a whole `&str` copied in, so entries are read without checking
    /// their UTF-8 again.
    data: String,
    /// One table, or [`SHARDS`] once the dictionary holds [`SPLIT_AT`] entries.
    index: Vec<HashTable<u32>>,
    hasher: DefaultHashBuilder,
    /// This object's own number: a copy gets a new one (see [`StrDict::id`]).
    id: u64,
    /// The number of the dictionary this one was copied from, copy by copy, back to
    /// one made empty or rebuilt (see [`StrDict::lineage`]).
    lineage: u64,
}

/// The next [`StrDict::id`] (0 is never one: a host's "no dictionary").
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl Clone for StrDict {
    /// A copy with the same entries, a number of its own and the same lineage.
    fn clone(&self) -> Self {
        StrDict {
            offsets: self.offsets.clone(),
            data: self.data.clone(),
            index: self.index.clone(),
            hasher: self.hasher.clone(),
            id: next_id(),
            lineage: self.lineage,
        }
    }
}

impl Default for StrDict {
    fn default() -> Self {
        Self::new()
    }
}

/// `a == b`, compared in place for short strings (field names, dictionary entries,
/// values searched for): up to 16 bytes take two overlapping loads from each side
/// instead of a call to `memcmp`, which costs more than the comparison at these
/// lengths.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl StrDict {
    pub(crate) fn new() -> Self {
        let id = next_id();
        StrDict {
            offsets: vec![0],
            data: String::new(),
            index: vec![HashTable::new()],
            hasher: DefaultHashBuilder::default(),
            id,
            lineage: id,
        }
    }

    /// A number no other dictionary object has (never 0), in this process: a copy, a
    /// rebuilt or a new dictionary gets another. While a list's dictionary keeps its
    /// number, positions keep their strings, unless a rollback shortens it (its
    /// length then drops).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// What copies share: a dictionary copied from another (copy-on-write), or from a
    /// copy of it, has its lineage; one made empty, loaded or rebuilt
    /// ([`StrDict::retain`]) starts its own. Entries only append within a lineage
    /// (but for a rollback's truncate), so a position below a length seen earlier in
    /// it is still the same string.
    pub(crate) fn lineage(&self) -> u64 {
        self.lineage
    }

    /// A new dictionary of the entries `keep` holds `true` for (`keep.len() ==
    /// self.len()`), in their order, and for each entry its position there (entries
    /// left out: `u32::MAX`). It starts a lineage of its own.
    pub(crate) fn retain(&self, keep: &[bool]) -> (StrDict, Vec<u32>) {
        let mut out = StrDict::new();
        let (mut n, mut bytes) = (0, 0);
        for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
            n += 1;
            bytes += self.bytes_at(i as u32).len();
        }
        out.offsets.reserve_exact(n);
        out.data.reserve_exact(bytes);
        out.index = index_for(n);
        let mut at = Vec::with_capacity(keep.len());
        for (i, &k) in keep.iter().enumerate() {
            // A subset of this dictionary's distinct entries: each is new there, and its
            // text fits (`intern` gives `None` only past 2 GiB).
            at.push(if k {
                out.intern(self.get(i as u32)).unwrap_or(0)
            } else {
                u32::MAX
            });
        }
        (out, at)
    }

    /// A dictionary of the strings `data[offsets[i]..offsets[i + 1]]`, in order; `None`
    /// unless the offsets start at 0, never decrease and end at the data's end, every
    /// entry is UTF-8 and no entry repeats.
    pub(crate) fn from_parts(offsets: &[i32], data: &[u8]) -> Option<Self> {
        if offsets.first() != Some(&0)
            || offsets.windows(2).any(|w| w[1] < w[0])
            || offsets.last().and_then(|&e| usize::try_from(e).ok()) != Some(data.len())
        {
            return None;
        }
        // The whole buffer is checked once; `str::get` then checks each entry's bounds
        // fall on character boundaries (O(1)), where checking entry by entry costs a
        // call per entry.
        let text = std::str::from_utf8(data).ok()?;
        let mut d = StrDict::new();
        d.data.reserve(data.len());
        d.offsets.reserve(offsets.len());
        d.index = index_for(offsets.len() - 1);
        for w in offsets.windows(2) {
            let s = text.get(w[0] as usize..w[1] as usize)?;
            let before = d.len();
            if d.intern(s)? as usize != before {
                return None;
            }
        }
        Some(d)
    }

    /// Makes room for `bytes` more bytes of new strings, with a fallible allocation (for
    /// strings whose size the input sets: see [`crate::list::BIG_VALUE`]).
    ///
    /// # Errors
    /// When the memory cannot be had; the dictionary is unchanged.
    pub(crate) fn try_room(
        &mut self,
        bytes: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        crate::store::try_room_for_text(&mut self.data, bytes)
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    #[inline]
    pub(crate) fn bytes_at(&self, i: u32) -> &[u8] {
        let i = i as usize;
        &self.data.as_bytes()[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &str {
        let i = i as usize;
        // Only `intern` writes the buffer and it copies whole `&str`s, so every entry is
        // UTF-8 and its bounds are character boundaries: `get` checks those two bounds
        // (O(1)) instead of the whole string.
        self.data
            .get(self.offsets[i] as usize..self.offsets[i + 1] as usize)
            .unwrap_or_default()
    }

    /// The table of the index that holds the entries of hash `h`.
    #[inline]
    fn table(&self, h: u64) -> usize {
        shard_of(h, self.index.len())
    }

    #[inline]
    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        let h = self.hasher.hash_one(s.as_bytes());
        self.index[self.table(h)]
            .find(h, |&i| same_bytes(self.bytes_at(i), s.as_bytes()))
            .copied()
    }

    /// Position of `s`, adding it if new. `None` if the data buffer would pass 2 GiB.
    pub(crate) fn intern(&mut self, s: &str) -> Option<u32> {
        self.intern_hashed(s, self.hasher.hash_one(s.as_bytes()))
    }

    /// [`StrDict::intern`] of each of `strs` in order, the answers appended to `out`.
    ///
    /// A lookup in a scattered dictionary is four cache misses, each waiting for the one
    /// before: the index's control bytes, its entry, the entry's bounds, its text. Here
    /// each step is taken for a [`GROUP`] of strings before the next, so the misses of
    /// different strings overlap: the first entry whose hash tag matches, then a
    /// prefetch of its bounds, then of its text, then the comparison. A string whose
    /// candidate is not it (none, a tag shared by chance, or new) goes through `intern`,
    /// so the positions are the ones one-by-one interning gives.
    pub(crate) fn intern_group(&mut self, strs: &[&str], out: &mut Vec<Option<u32>>) {
        if !self.scattered() {
            out.extend(strs.iter().map(|s| self.intern(s)));
            return;
        }
        for part in strs.chunks(GROUP) {
            let mut hash = [0u64; GROUP];
            let mut cand = [None; GROUP];
            for (k, s) in part.iter().enumerate() {
                let h = self.hasher.hash_one(s.as_bytes());
                hash[k] = h;
                cand[k] = self.index[self.table(h)].find(h, |_| true).copied();
                if let Some(i) = cand[k] {
                    self.prefetch_bounds(i);
                }
            }
            for &i in cand[..part.len()].iter().flatten() {
                self.prefetch_text(i);
            }
            for (k, s) in part.iter().enumerate() {
                let found = cand[k].filter(|&i| same_bytes(self.bytes_at(i), s.as_bytes()));
                out.push(found.or_else(|| self.intern_hashed(s, hash[k])));
            }
        }
    }

    /// [`StrDict::intern`] of `s`, whose hash is `h`.
    fn intern_hashed(&mut self, s: &str, h: u64) -> Option<u32> {
        let t = self.table(h);
        if let Some(i) = self.index[t].find(h, |&i| same_bytes(self.bytes_at(i), s.as_bytes())) {
            return Some(*i);
        }
        if self.data.len() + s.len() > i32::MAX as usize {
            return None;
        }
        let i = self.len() as u32;
        if self.data.capacity() - self.data.len() < s.len() {
            let more = crate::store::growth(self.data.len(), 1, s.len());
            self.data.reserve_exact(more);
        }
        self.data.push_str(s);
        crate::store::room(&mut self.offsets, 1);
        self.offsets.push(self.data.len() as i32);
        if self.index.len() == 1 && self.len() > SPLIT_AT {
            self.split_index();
            return Some(i);
        }
        let (offsets, data, hasher) = (&self.offsets, self.data.as_bytes(), &self.hasher);
        self.index[t].insert_unique(h, i, |&j| hash_at(hasher, offsets, data, j));
        Some(i)
    }

    /// Rebuilds the one table as [`SHARDS`], every entry (the newest included) placed
    /// in its own, each with room for as many again.
    #[cold]
    fn split_index(&mut self) {
        let mut index = index_for(2 * self.len());
        let (offsets, data, hasher) = (&self.offsets, self.data.as_bytes(), &self.hasher);
        for j in 0..self.len() as u32 {
            let h = hash_at(hasher, offsets, data, j);
            index[shard_of(h, SHARDS)].insert_unique(h, j, |&k| hash_at(hasher, offsets, data, k));
        }
        self.index = index;
    }

    /// Frees the spare capacity of the entries (not of the hash index, which would
    /// have to be rebuilt).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.data.shrink_to_fit();
    }

    /// Forgets entries `n..` (used to roll back a failed extend).
    pub(crate) fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        for t in &mut self.index {
            t.retain(|i| (*i as usize) < n);
        }
        // An entry boundary, so a character boundary (`truncate` cannot panic).
        self.data.truncate(self.offsets[n] as usize);
        self.offsets.truncate(n + 1);
    }

    /// Whether the entries both dictionaries have (the first `min(len)` keys) are the
    /// same strings.
    pub(crate) fn agrees_with(&self, other: &StrDict) -> bool {
        let n = self.len().min(other.len());
        self.offsets[..=n] == other.offsets[..=n]
            && self.data.as_bytes()[..self.offsets[n] as usize]
                == other.data.as_bytes()[..other.offsets[n] as usize]
    }

    pub(crate) fn offsets(&self) -> &[i32] {
        &self.offsets
    }

    pub(crate) fn data(&self) -> &[u8] {
        self.data.as_bytes()
    }

    /// Asks the CPU to load where entry `i`'s text starts and ends (see
    /// [`crate::hint::prefetch`]); nothing if there is no entry `i`.
    #[inline(always)]
    pub(crate) fn prefetch_bounds(&self, i: u32) {
        if let Some(o) = self.offsets.get(i as usize) {
            crate::hint::prefetch(o);
        }
    }

    /// Asks the CPU to load the start of entry `i`'s text, best once its bounds are
    /// loaded ([`StrDict::prefetch_bounds`]).
    #[inline(always)]
    pub(crate) fn prefetch_text(&self, i: u32) {
        let at = self.offsets.get(i as usize).map(|&o| o as usize);
        if let Some(b) = at.and_then(|o| self.data.as_bytes().get(o)) {
            crate::hint::prefetch(b);
        }
    }

    /// Whether the entries span more memory than stays in a core's cache while a caller
    /// works between lookups, so that looking up entries in random order misses it.
    pub(crate) fn scattered(&self) -> bool {
        self.offsets.len() * 4 + self.data.len() > SCATTERED_BYTES
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4
            + self.data.capacity()
            + self.index.capacity() * std::mem::size_of::<HashTable<u32>>()
            + self
                .index
                .iter()
                .map(|t| t.capacity() * (std::mem::size_of::<u32>() + 1))
                .sum::<usize>()
    }
}

/// The table of hash `h` in an index of `tables` tables (1 or [`SHARDS`]). Bits 32..38:
/// hashbrown places an entry by the low bits of its hash and tags it with the top
/// seven, so entries sharing these bits still spread over a table below 2^32 buckets.
#[inline]
fn shard_of(h: u64, tables: usize) -> usize {
    if tables == 1 {
        0
    } else {
        (h >> 32) as usize & (SHARDS - 1)
    }
}

/// An empty index with room for `n` entries: one table, or [`SHARDS`] past [`SPLIT_AT`].
fn index_for(n: usize) -> Vec<HashTable<u32>> {
    if n <= SPLIT_AT {
        return vec![HashTable::with_capacity(n)];
    }
    // A little over an even share each, as hashes do not split evenly.
    let each = n / SHARDS + n / (SHARDS * 8) + 8;
    (0..SHARDS)
        .map(|_| HashTable::with_capacity(each))
        .collect()
}

/// The hash of entry `j` (its stored bytes).
#[inline]
fn hash_at(hasher: &DefaultHashBuilder, offsets: &[i32], data: &[u8], j: u32) -> u64 {
    let j = j as usize;
    hasher.hash_one(&data[offsets[j] as usize..offsets[j + 1] as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_is_equality_at_every_short_length() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|k| k.wrapping_mul(37)).collect();
            assert!(same_bytes(&a, &a.clone()), "{n}");
            for k in 0..n {
                let mut b = a.clone();
                b[k] ^= 1;
                assert!(!same_bytes(&a, &b), "{n} {k}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    #[test]
    fn interning_is_idempotent_and_truncate_forgets() {
        let mut d = StrDict::new();
        let a = d.intern("alpha").unwrap();
        let b = d.intern("").unwrap();
        let c = d.intern("γ\0🦀").unwrap();
        assert_eq!(d.intern("alpha"), Some(a));
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(d.get(c), "γ\0🦀");
        d.truncate(1);
        assert_eq!(d.find("γ\0🦀"), None);
        assert_eq!(d.find("alpha"), Some(0));
        assert_eq!(d.intern("new"), Some(1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Looking strings up a group at a time gives the positions, and leaves the
        /// dictionary, that interning them one by one does: strings already in it, new
        /// ones, repeats within a group, across the split of the index, in a dictionary
        /// large enough to take the grouped path.
        #[test]
        fn interning_a_group_is_interning_each_in_turn(
            start in 0u32..40_000,
            picks in proptest::collection::vec(0u32..60_000, 0..400),
        ) {
            let mut each = StrDict::new();
            for k in 0..start {
                each.intern(&format!("entry {k:05}")).unwrap();
            }
            let mut grouped = each.clone();
            let strs: Vec<String> = picks.iter().map(|k| format!("entry {k:05}")).collect();
            let strs: Vec<&str> = strs.iter().map(String::as_str).collect();
            let want: Vec<Option<u32>> = strs.iter().map(|s| each.intern(s)).collect();
            let mut got = vec![Some(7)];
            grouped.intern_group(&strs, &mut got);
            proptest::prop_assert_eq!(got.remove(0), Some(7), "appends to `out`");
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(grouped.offsets(), each.offsets());
            proptest::prop_assert_eq!(grouped.data(), each.data());
            for s in &strs {
                proptest::prop_assert_eq!(grouped.find(s), each.find(s));
            }
        }
    }

    /// A candidate that is another string (hash tags shared) is checked and passed over.
    #[test]
    fn a_group_checks_each_candidate_against_the_string() {
        let mut d = StrDict::new();
        for k in 0..30_000 {
            d.intern(&format!("entry number {k}")).unwrap();
        }
        assert!(d.scattered());
        // None of these strings is in it, so any candidate `find(h, |_| true)` gives
        // is an entry whose 7-bit tag is the string's by chance: among 96 strings,
        // several (a group of 16 control bytes holds 8 to 14 entries).
        let strs: Vec<String> = (0..3 * GROUP).map(|k| format!("new {k}")).collect();
        let strs: Vec<&str> = strs.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        d.intern_group(&strs, &mut out);
        let want: Vec<Option<u32>> = (30_000..30_000 + 3 * GROUP as u32).map(Some).collect();
        assert_eq!(out, want);
        out.clear();
        d.intern_group(&strs, &mut out);
        assert_eq!(out, want, "found the second time");
    }

    #[test]
    fn a_large_dictionary_splits_its_index_and_finds_every_entry() {
        let mut d = StrDict::new();
        let n = 3 * SPLIT_AT as u32;
        for k in 0..n {
            assert_eq!(d.intern(&format!("s{k}")), Some(k));
            if k as usize == SPLIT_AT - 1 {
                assert_eq!(d.index.len(), 1, "one table up to SPLIT_AT entries");
            }
        }
        assert_eq!(d.index.len(), SHARDS);
        // No table holds much more than its share.
        let most = d.index.iter().map(|t| t.len()).max().unwrap();
        assert!(most < 2 * n as usize / SHARDS, "{most}");
        for k in (0..n).step_by(7) {
            assert_eq!(d.find(&format!("s{k}")), Some(k));
            assert_eq!(d.intern(&format!("s{k}")), Some(k));
        }
        assert_eq!(d.find("absent"), None);
        d.truncate(SPLIT_AT + 5);
        assert_eq!(d.find(&format!("s{}", SPLIT_AT + 5)), None);
        assert_eq!(
            d.find(&format!("s{}", SPLIT_AT + 4)),
            Some(SPLIT_AT as u32 + 4)
        );
        assert_eq!(d.intern("again"), Some(SPLIT_AT as u32 + 5));
        let back = StrDict::from_parts(d.offsets(), d.data()).unwrap();
        assert_eq!(back.index.len(), SHARDS);
        assert_eq!(back.find("again"), Some(SPLIT_AT as u32 + 5));
        assert_eq!(back.find("s0"), Some(0));
    }
}
