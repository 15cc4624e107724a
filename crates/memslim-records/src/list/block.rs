//! Reading several records at once, field by field (for hosts that turn a batch of
//! records into their own objects).

use super::RecordList;
use crate::column::CellRef;

/// Takes the values [`RecordList::fill_block`] reads, one field at a time. The typed
/// methods are called inside the loop over a column's run of rows (and inlined there),
/// so a host converting values to its own objects pays no dispatch per value; each
/// defaults to [`CellSink::cell`] with the matching [`CellRef`].
pub trait CellSink<'a> {
    /// The values that follow are of field `j` (in field order, once per run of rows in
    /// one chunk).
    fn field(&mut self, j: usize);
    /// The value at position `k` of the block, when no typed method below applies.
    fn cell(&mut self, k: usize, value: CellRef<'a>);
    /// An integer.
    #[inline]
    fn int(&mut self, k: usize, v: i64) {
        self.cell(k, CellRef::Int(v));
    }
    /// A float.
    #[inline]
    fn float(&mut self, k: usize, v: f64) {
        self.cell(k, CellRef::Float(v));
    }
    /// A boolean.
    #[inline]
    fn bool(&mut self, k: usize, v: bool) {
        self.cell(k, CellRef::Bool(v));
    }
    /// A string of a plain string column, as the UTF-8 bytes the list checked when they
    /// came in (a host that checks them again when it makes its own string need not pay
    /// for a second check here).
    #[inline]
    fn text(&mut self, k: usize, v: &'a [u8]) {
        self.cell(k, CellRef::Str(std::str::from_utf8(v).unwrap_or_default()));
    }
    /// A string of a dictionary-encoded column: entry `idx` of the field's dictionary
    /// (one entry is one string for as long as the dictionary lives, so a host may keep
    /// its own object per entry) and its text.
    #[inline]
    fn dict_str(&mut self, k: usize, idx: u32, v: &'a str) {
        self.cell(k, CellRef::DictStr(idx, v));
    }
    /// `None` (null, not absent: an absent value comes through [`CellSink::cell`]).
    #[inline]
    fn null(&mut self, k: usize) {
        self.cell(k, CellRef::Null);
    }
}

/// [`RecordList::visit_block`]'s closure as a sink.
struct ClosureSink<F> {
    j: usize,
    f: F,
}

impl<'a, F: FnMut(usize, usize, CellRef<'a>)> CellSink<'a> for ClosureSink<F> {
    fn field(&mut self, j: usize) {
        self.j = j;
    }

    #[inline]
    fn cell(&mut self, k: usize, value: CellRef<'a>) {
        (self.f)(self.j, k, value);
    }
}

impl RecordList {
    /// Calls `f(field, k, value)` with field `field` of record `rows[k]`, for every field
    /// (in field order) and every `k` (in order within a field; absent as
    /// [`CellRef::Absent`]): the same values as [`RecordList::get`], but looking up each
    /// run of rows in one chunk once, and matching each column's layout once per run
    /// instead of once per value.
    ///
    /// # Panics
    /// If some row is `>= len()`.
    ///
    /// # Memory
    /// Allocates nothing; the values borrow from the list.
    pub fn visit_block<'a>(&'a self, rows: &[usize], f: impl FnMut(usize, usize, CellRef<'a>)) {
        self.fill_block(rows, &mut ClosureSink { j: 0, f });
    }

    /// [`RecordList::visit_block`] through a [`CellSink`]: for each run of `rows` in one
    /// chunk and each field, [`CellSink::field`], then the field's value of each `rows[k]`
    /// of the run through the sink's typed methods.
    ///
    /// # Panics
    /// If some row is `>= len()`.
    pub fn fill_block<'a, S: CellSink<'a>>(&'a self, rows: &[usize], sink: &mut S) {
        let mut from = 0;
        while from < rows.len() {
            let (c, i0) = self.locate(rows[from]);
            let start = rows[from] - i0;
            let end = start + self.chunks[c].len;
            let to = from
                + rows[from..]
                    .iter()
                    .position(|&r| r < start || r >= end)
                    .unwrap_or(rows.len() - from);
            // A row past the end is located in the last chunk but not inside it: the
            // documented panic (the caller's bug), rather than a loop that never advances.
            let to = Some(to)
                .filter(|&t| t > from)
                .expect("fill_block: a row is past the end of the list");
            let chunk = &self.chunks[c];
            let run = &rows[from..to];
            if run.windows(2).any(|w| w[1] != w[0] + 1) || run.len() == 1 {
                // Rows out of order (or one alone) are cache misses in every column:
                // asked for at once, they overlap instead of coming one at a time.
                for col in chunk.cols.iter() {
                    for &r in run {
                        col.prefetch(chunk.off + r - start);
                    }
                }
            }
            if let [r] = run {
                // One row: a column's typed loop costs more to set up than the one value
                // it would read.
                let pos = chunk.off + r - start;
                for (j, col) in chunk.cols.iter().enumerate() {
                    sink.field(j);
                    col.give(from, pos, &self.cols[j], sink);
                }
            } else {
                for (j, col) in chunk.cols.iter().enumerate() {
                    sink.field(j);
                    let at = (from..to).map(|k| (k, chunk.off + rows[k] - start));
                    col.visit_at(at, &self.cols[j], sink);
                }
            }
            from = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cell, RecordList};

    #[test]
    #[should_panic(expected = "past the end")]
    fn a_row_past_the_end_panics_instead_of_looping() {
        let mut list = RecordList::new();
        list.push_record(&[("a", Cell::Int(1))]).unwrap();
        list.visit_block(&[0, 5], |_, _, _| {});
    }

    /// Every value `visit_block` gives, as `get` prints it, per field and position.
    fn block(list: &RecordList, rows: &[usize]) -> Vec<Vec<String>> {
        let mut got = vec![vec![String::new(); rows.len()]; list.num_fields()];
        list.visit_block(rows, |j, k, c| got[j][k] = format!("{c:?}"));
        got
    }

    fn by_get(list: &RecordList, rows: &[usize]) -> Vec<Vec<String>> {
        (0..list.num_fields())
            .map(|j| {
                rows.iter()
                    .map(|&r| format!("{:?}", list.get(r, j)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn block_reads_what_get_reads_across_chunks_nulls_and_absent_keys() {
        let mut l = RecordList::with_chunk_rows(3);
        let words = ["DE", "FR", "naïve", ""];
        for i in 0..11i64 {
            let w = words[i as usize % 4];
            let mut rec = vec![
                ("id", Cell::Int(i * 1_000_003)),
                (
                    "price",
                    if i == 4 {
                        Cell::Null
                    } else {
                        Cell::Float(-0.0 + i as f64)
                    },
                ),
                ("paid", Cell::Bool(i % 3 == 0)),
                ("country", Cell::Str(w)),
            ];
            if i % 5 != 2 {
                rec.push(("note", Cell::Bytes(b"x\0y")));
            }
            if i == 7 {
                rec.push(("mixed", Cell::Str("seven")));
            } else if i == 8 {
                rec.push(("mixed", Cell::Int(8)));
            }
            l.push_record(&rec).unwrap();
        }
        let n = l.len();
        let all: Vec<usize> = (0..n).collect();
        let back: Vec<usize> = (0..n).rev().collect();
        let twice: Vec<usize> = (0..n).flat_map(|r| [r, r, 10 - r]).collect();
        for rows in [all, back, twice, vec![], vec![5]] {
            assert_eq!(block(&l, &rows), by_get(&l, &rows), "rows {rows:?}");
        }
        // One row at a time (each field handed over by its typed method), with the
        // strings stored plain as well as in a dictionary.
        let mut plain = l.clone();
        let country = plain.field_index("country").unwrap();
        plain.convert_column(country, crate::column::Layout::StrPlain);
        for rec in [
            vec![("id", Cell::Int(99)), ("country", Cell::Null)],
            vec![("id", Cell::Int(100))],
            vec![("id", Cell::Int(101)), ("country", Cell::Str("naïve"))],
        ] {
            plain.push_record(&rec).unwrap();
        }
        let mut note = l.clone();
        let n_col = note.field_index("note").unwrap();
        note.push_record(&[("note", Cell::Null), ("id", Cell::Int(1))])
            .unwrap();
        for list in [&l, &plain, &note] {
            for r in 0..list.len() {
                assert_eq!(block(list, &[r]), by_get(list, &[r]), "row {r}");
            }
        }
        assert_eq!(plain.cols[country].layout, crate::column::Layout::StrPlain);
        assert!(matches!(
            note.get(note.len() - 1, n_col),
            crate::column::CellRef::Null
        ));
    }

    /// A list whose `user` field has a dictionary too large to stay in cache (so `visit_at`
    /// asks for its entries a group ahead), with nulls among them, beside a field with
    /// absent values, across chunks of 1,000 rows.
    fn scattered_list() -> &'static RecordList {
        static LIST: std::sync::OnceLock<RecordList> = std::sync::OnceLock::new();
        LIST.get_or_init(|| {
            let mut l = RecordList::with_chunk_rows(1000);
            for i in 0..40_000i64 {
                let user = format!("user-{:07}", (i * 7_919) % 30_011);
                let cell = if i % 13 == 0 {
                    Cell::Null
                } else {
                    Cell::Str(&user)
                };
                let mut rec = vec![("id", Cell::Int(i)), ("user", cell)];
                if i % 17 != 0 {
                    rec.push(("note", Cell::Str("n")));
                }
                l.push_record(&rec).unwrap();
            }
            let user = l.field_index("user").unwrap();
            assert!(
                l.cols[user].dict().scattered(),
                "the test needs a large dictionary"
            );
            l
        })
    }

    proptest::proptest! {
        #[test]
        fn block_reads_what_get_reads_from_a_scattered_dictionary(
            rows in proptest::collection::vec(0usize..40_000, 0..300),
        ) {
            let l = scattered_list();
            proptest::prop_assert_eq!(block(l, &rows), by_get(l, &rows));
        }

        #[test]
        fn a_column_visits_what_get_reads_from_a_scattered_dictionary(
            start in 0usize..40_000,
            len in 0usize..3_000,
        ) {
            let l = scattered_list();
            let user = l.field_index("user").unwrap();
            let view = l.column(user);
            let rows = start..(start + len).min(l.len());
            let mut got = Vec::new();
            view.visit(rows.clone(), |r, c| got.push((r, format!("{c:?}"))));
            let want: Vec<_> = rows.map(|r| (r, format!("{:?}", l.get(r, user)))).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
