//! Compaction of string dictionaries: a dictionary keeps every string a column was
//! given, also once no record holds it (overwritten, removed), so a list whose strings
//! change grows without bound; rebuilt from the strings its records hold, it shrinks
//! back to them.

use std::sync::Arc;

use super::RecordList;
use crate::column::{ColChunk, Data, Layout, has_value};

/// Entries a dictionary holds beyond twice its list's records before it is rebuilt
/// ([`RecordList::compact_dictionaries`]).
pub(crate) const DICT_SLACK: usize = 4096;

impl RecordList {
    /// Rebuilds each string dictionary from the strings the list's records hold, in
    /// their order, dropping the ones no record holds any more (overwritten or
    /// removed), and writes every record's keys anew.
    ///
    /// Writes do this on their own: a write or an append that adds a string to a
    /// dictionary then holding more than twice the list's records plus 4,096 entries
    /// rebuilds it (at most as many records as there are live strings can hold, so at
    /// least half of it is strings no record holds). A dictionary or column chunk
    /// shared with a copy, a slice or an export is left to them: the list gets its own
    /// (copy-on-write). A rebuilt dictionary has a new
    /// [`RecordList::dictionary_state`] identity.
    ///
    /// # Memory
    /// O(records + dictionary entries): a flag and a position per entry, and the new
    /// dictionary beside the old until it is dropped.
    pub fn compact_dictionaries(&mut self) {
        for j in 0..self.cols.len() {
            self.compact_dict(j);
        }
    }

    /// Rebuilds field `j`'s dictionary when it holds more than twice the list's
    /// records plus [`DICT_SLACK`] entries: a rebuild costs O(records + entries) and
    /// comes after at least `records + DICT_SLACK` entries were added, so writes stay
    /// amortized O(1). Called after a write that may have added a string (not in the
    /// middle of one: the keys a batch looked up earlier must stay right).
    #[inline]
    pub(super) fn compact_dict_if_due(&mut self, j: usize) {
        let due = match (&self.cols[j].layout, &self.cols[j].dict) {
            (Layout::StrDict(_), Some(d)) => d.len() > 2 * self.len + DICT_SLACK,
            _ => false,
        };
        if due {
            self.compact_dict(j);
        }
    }

    /// [`RecordList::compact_dict_if_due`] for every field.
    pub(super) fn compact_dicts_if_due(&mut self) {
        for j in 0..self.cols.len() {
            self.compact_dict_if_due(j);
        }
    }

    /// Rebuilds field `j`'s dictionary from the strings its records hold (nothing for
    /// a field that is not dictionary-encoded). Positions keep their order, so no key
    /// grows and the key width stays.
    #[cold]
    pub(super) fn compact_dict(&mut self, j: usize) {
        let Layout::StrDict(_) = self.cols[j].layout else {
            return;
        };
        let Some(old) = self.cols[j].dict.clone() else {
            return;
        };
        // Each chunk holding exactly its rows, so that no key outside them (a slice's
        // neighbours, a popped tail) is left pointing into the old dictionary.
        for k in 0..self.chunks.len() {
            self.materialize(k);
        }
        let mut keep = vec![false; old.len()];
        for c in &self.chunks {
            let cc = &c.cols[j];
            if let Data::Keys(keys) = &cc.data {
                for i in 0..c.len {
                    if has_value(cc.valid.as_ref(), cc.absent.as_ref(), i) {
                        if let Some(f) = keep.get_mut(keys.get(i) as usize) {
                            *f = true;
                        }
                    }
                }
            }
        }
        let (fresh, at) = old.retain(&keep);
        drop(old);
        for c in &mut self.chunks {
            let len = c.len;
            // Copied first if shared (copy-on-write): the others keep their keys.
            let cc = crate::cow::make_mut(&mut c.cols[j]);
            let ColChunk {
                data,
                valid,
                absent,
                ..
            } = cc;
            if let Data::Keys(keys) = data {
                for i in 0..len {
                    let was = keys.get(i);
                    // A null or absent row's key is never read: 0, as pushes leave it.
                    let now = if has_value(valid.as_ref(), absent.as_ref(), i) {
                        at.get(was as usize).map_or(0, |&p| i64::from(p))
                    } else {
                        0
                    };
                    if now != was {
                        keys.set(i, now);
                    }
                }
            }
        }
        self.cols[j].dict = Some(Arc::new(fresh));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::{Cell, CellRef};

    fn status(l: &RecordList, row: usize) -> String {
        match l.get(row, 0) {
            CellRef::DictStr(_, s) => s.to_owned(),
            other => panic!("row {row}: {other:?}"),
        }
    }

    /// Overwriting a string field of a list of fixed length, or appending and popping
    /// records, keeps its dictionary within twice its records plus the slack, and the
    /// values read back are the last ones written.
    #[test]
    fn a_dictionary_stays_bounded_under_overwrites_and_append_pop() {
        let rows = 500;
        let mut l = RecordList::new();
        for i in 0..rows {
            l.push_record(&[("status", Cell::Str(&format!("s{i}")))])
                .unwrap();
        }
        let bound = 2 * rows + DICT_SLACK + 1;
        let mut want: Vec<String> = (0..rows).map(|i| format!("s{i}")).collect();
        let mut ids = std::collections::HashSet::new();
        for step in 0..40_000 {
            let v = format!("updated at step {step}");
            let i = step % rows;
            match step % 3 {
                0 => l.set_field(i, "status", Cell::Str(&v)).unwrap(),
                1 => l.set_record(i, &[("status", Cell::Str(&v))]).unwrap(),
                _ => {
                    assert!(l.push_fields(&[(0, Cell::Str(&v))]));
                    l.remove(l.len() - 1).unwrap();
                    continue;
                }
            }
            want[i] = v;
            let (id, len) = l.dictionary_state(0).unwrap();
            assert!(len <= bound, "step {step}: {len} entries");
            ids.insert(id);
        }
        assert!(ids.len() > 5, "rebuilt {} times", ids.len() - 1);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(&status(&l, i), w, "row {i}");
        }
        // What is left is about what the records hold, not what was ever written.
        let fresh = l.take(&(0..rows).collect::<Vec<_>>());
        assert!(l.nbytes() < 4 * fresh.nbytes() + 400_000, "{}", l.nbytes());
    }

    /// A rebuild leaves what the list shares with a copy, a slice and an Arrow export
    /// as it was, and keeps the nulls and absent keys of the records.
    #[test]
    fn compaction_copies_what_is_shared_and_keeps_nulls_and_absent_keys() {
        let mut l = RecordList::with_chunk_rows(3);
        for i in 0..10 {
            let v = format!("v{i}");
            let rec: Vec<(&str, Cell<'_>)> = match i % 4 {
                0 => vec![("s", Cell::Null)],
                1 => vec![("x", Cell::Int(1))],
                _ => vec![("s", Cell::Str(&v))],
            };
            l.push_record(&rec).unwrap();
        }
        for i in 0..10 {
            l.set_field(2, "s", Cell::Str(&format!("gone {i}")))
                .unwrap();
        }
        l.set_field(2, "s", Cell::Str("v2")).unwrap();
        let copy = l.clone();
        let slice = l.slice(1, 7);
        let (_, batches) = l.to_arrow().unwrap();
        let of = |x: &RecordList| -> Vec<String> {
            (0..x.len())
                .map(|r| match x.get(r, 0) {
                    CellRef::DictStr(_, s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .collect()
        };
        let (copy_vals, slice_vals) = (of(&copy), of(&slice));
        let old_id = l.dictionary_state(0).unwrap().0;
        l.compact_dictionaries();
        let (id, len) = l.dictionary_state(0).unwrap();
        assert_ne!(id, old_id);
        assert_eq!(len, 4, "v2 v3 v6 v7");
        assert_eq!(of(&l), copy_vals);
        assert_eq!(of(&copy), copy_vals);
        assert_eq!(of(&slice), slice_vals);
        assert_eq!(copy.dictionary_state(0).unwrap().1, 14);
        let text: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let col = arrow_array::cast::AsArray::as_dictionary::<arrow_array::types::Int8Type>(
                    b.column(0),
                );
                let values = arrow_array::cast::AsArray::as_string::<i32>(col.values());
                (0..col.len())
                    .map(|i| {
                        col.key(i)
                            .map_or("-".to_owned(), |k| values.value(k).to_owned())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let want: Vec<String> = copy_vals
            .iter()
            .map(|v| {
                if v.starts_with('v') {
                    v.clone()
                } else {
                    "-".to_owned()
                }
            })
            .collect();
        assert_eq!(text, want, "the export reads as before");
    }
}
