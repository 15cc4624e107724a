//! Building a list from a declared schema plus field names, appending the rows of
//! another list cell to cell, and repeating a list (`list * n`).

use super::*;

impl RecordList {
    /// An empty list with the fields a host's constructor asked for: `schema` (if any)
    /// declares fields and types; every name in `fields` is a field too, in that order
    /// (a name the schema lacks is declared as [`DType::Object`]). Schema fields not in
    /// `fields` come first, in schema order.
    ///
    /// # Errors
    /// [`RecordsError::DuplicateKey`] if the schema repeats a name.
    ///
    /// # Memory
    /// No rows: one entry per field.
    pub fn with_schema_and_fields(
        schema: Option<&[(&str, DType)]>,
        fields: Option<&[&str]>,
        chunk_rows: usize,
    ) -> Result<Self> {
        let mut list = match schema {
            Some(schema) => {
                let mut decl: Vec<(&str, DType)> = schema.to_vec();
                if let Some(fields) = fields {
                    for f in fields {
                        if !decl.iter().any(|(n, _)| n == f) {
                            decl.push((f, DType::Object));
                        }
                    }
                    // Stable: names not in `fields` (None) first, in schema order.
                    decl.sort_by_key(|(n, _)| fields.iter().position(|f| f == n));
                }
                RecordList::with_schema(&decl, chunk_rows)?
            }
            None => RecordList::with_chunk_rows(chunk_rows),
        };
        for f in fields.unwrap_or_default() {
            list.add_field(f)?;
        }
        Ok(list)
    }

    /// Appends rows `rows` of `src` (another list) with their values and key order,
    /// adding the fields they use. Returns `false`, appending nothing, when a field
    /// cannot be added (a declared schema lacks it; fields added before that stay, as
    /// with any failed append the caller rolls back).
    ///
    /// # Errors
    /// As [`RecordList::push_grid`] (a value that breaks a declared schema).
    ///
    /// # Panics
    /// If a row index is out of range of `src`.
    ///
    /// # Memory
    /// Values are not copied into a temporary: the cells borrow `src`'s buffers until
    /// stored. One field map and a grid of cell references for `rows.len()` rows.
    pub fn push_rows_of(&mut self, src: &RecordList, rows: &[usize]) -> Result<bool> {
        let mut used = vec![false; src.num_fields()];
        for &r in rows {
            // Which keys, not their values (a string's value is a read of its dictionary).
            src.visit_keys(r, |j| used[j] = true);
        }
        let mut map = vec![usize::MAX; used.len()];
        for (j, _) in used.iter().enumerate().filter(|(_, u)| **u) {
            match self.add_field(src.field_name(j)) {
                Ok(k) => map[j] = k,
                Err(_) => return Ok(false),
            }
        }
        let mut grid = Grid::with_capacity(self.num_fields(), rows.len());
        let mut order = Vec::new();
        for &r in rows {
            grid.push_row();
            order.clear();
            src.visit_row(r, |j, c| {
                if let Some(cell) = c.to_cell() {
                    grid.set(map[j], cell);
                    order.push(map[j]);
                }
            });
            grid.set_order(&order);
        }
        self.push_grid(&grid)?;
        Ok(true)
    }
}

impl RecordList {
    /// A new list holding this list's records `n` times over (`list * n`).
    ///
    /// # Errors
    /// As [`RecordList::extend_from`].
    ///
    /// # Memory
    /// Copies the records `n` times into new chunks.
    pub fn repeated(&self, n: usize) -> Result<RecordList> {
        let rows = self.len().saturating_mul(n);
        if rows > crate::order::MAX_SLOTS {
            return Err(RecordsError::IndexOutOfRange {
                index: rows,
                len: crate::order::MAX_SLOTS,
            });
        }
        // The copies' room, asked for at once and given back (the pages are not
        // touched): a result that cannot exist fails here, as a list's does, rather than
        // once memory has run out, which aborts.
        let bytes = self.nbytes().saturating_mul(n);
        if Vec::<u8>::new().try_reserve_exact(bytes).is_err() {
            return Err(RecordsError::OutOfMemory {
                what: "repeating the list",
                bytes,
            });
        }
        let mut out = self.empty_like();
        for _ in 0..n {
            out.extend_from(self)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(l: &RecordList) -> Vec<&str> {
        (0..l.num_fields()).map(|j| l.field_name(j)).collect()
    }

    /// Record `i` as `(key, value)` pairs in key order.
    fn record(l: &RecordList, i: usize) -> Vec<(String, Option<i64>)> {
        let mut out = Vec::new();
        l.visit_row(i, |j, c| {
            let v = match c {
                CellRef::Int(x) => Some(x),
                _ => None,
            };
            out.push((l.field_name(j).to_owned(), v));
        });
        out
    }

    #[test]
    fn fields_follow_the_given_order() {
        let l = RecordList::with_schema_and_fields(None, Some(&["b", "a"]), 4).unwrap();
        assert_eq!(names(&l), ["b", "a"]);
        assert!(!l.has_declared_schema());

        let schema = [
            ("x", DType::Int64),
            ("a", DType::Str),
            ("z", DType::Float64),
        ];
        let l =
            RecordList::with_schema_and_fields(Some(&schema), Some(&["a", "new", "x"]), 4).unwrap();
        assert_eq!(names(&l), ["z", "a", "new", "x"]);
        assert_eq!(l.field_declared(0), Some(DType::Float64));
        assert_eq!(l.field_declared(2), Some(DType::Object));
        assert!(l.has_declared_schema());

        let l = RecordList::with_schema_and_fields(Some(&schema), None, 4).unwrap();
        assert_eq!(names(&l), ["x", "a", "z"]);
    }

    #[test]
    fn a_repeated_schema_name_is_an_error() {
        let schema = [("x", DType::Int64), ("x", DType::Str)];
        let err = RecordList::with_schema_and_fields(Some(&schema), None, 4).unwrap_err();
        assert!(matches!(err, RecordsError::DuplicateKey { .. }));
    }

    #[test]
    fn rows_of_another_list_keep_values_and_key_order() {
        let mut src = RecordList::new();
        src.push_batch(&[
            &[("a", Cell::Int(1)), ("b", Cell::Int(2))],
            &[("c", Cell::Int(3)), ("a", Cell::Null)],
            &[("b", Cell::Int(4))],
        ])
        .unwrap();
        let mut dst = RecordList::new();
        dst.push_batch(&[&[("c", Cell::Int(9))]]).unwrap();
        assert!(dst.push_rows_of(&src, &[1, 0]).unwrap());
        assert_eq!(dst.len(), 3);
        assert_eq!(record(&dst, 1), record(&src, 1));
        assert_eq!(record(&dst, 2), record(&src, 0));
        assert_eq!(names(&dst), ["c", "a", "b"]);
    }

    #[test]
    fn a_field_the_schema_lacks_appends_nothing() {
        let mut src = RecordList::new();
        src.push_batch(&[&[("a", Cell::Int(1)), ("b", Cell::Int(2))]])
            .unwrap();
        let mut dst = RecordList::with_schema(&[("a", DType::Int64)], 4).unwrap();
        assert!(!dst.push_rows_of(&src, &[0]).unwrap());
        assert_eq!(dst.len(), 0);
    }

    #[test]
    fn a_value_the_schema_refuses_is_an_error() {
        let mut src = RecordList::new();
        src.push_batch(&[&[("a", Cell::Str("x"))]]).unwrap();
        let mut dst = RecordList::with_schema(&[("a", DType::Int64)], 4).unwrap();
        assert!(dst.push_rows_of(&src, &[0]).is_err());
    }

    #[test]
    fn repeated_is_list_times_n() {
        let mut src = RecordList::with_chunk_rows(2);
        src.push_batch(&[&[("a", Cell::Int(1))], &[("b", Cell::Int(2))], &[]])
            .unwrap();
        for n in 0..4 {
            let out = src.repeated(n).unwrap();
            assert_eq!(out.len(), 3 * n);
            for i in 0..out.len() {
                assert_eq!(record(&out, i), record(&src, i % 3));
            }
        }
        assert_eq!(names(&src.repeated(0).unwrap()), ["a", "b"]);
    }

    proptest! {
        /// Copied rows read back as the source rows, in the order asked for.
        #[test]
        fn push_rows_of_copies_records(
            recs in proptest::collection::vec(
                proptest::collection::btree_map("[a-d]", proptest::option::of(-300i64..300), 0..4),
                1..12),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let cells: Vec<Vec<(&str, Cell<'_>)>> = recs
                .iter()
                .map(|r| r.iter().map(|(k, v)| (k.as_str(), v.map_or(Cell::Null, Cell::Int))).collect())
                .collect();
            let refs: Vec<&[(&str, Cell<'_>)]> = cells.iter().map(Vec::as_slice).collect();
            let mut src = RecordList::with_chunk_rows(3);
            src.push_batch(&refs).unwrap();
            let rows: Vec<usize> = picks.iter().map(|p| p.index(recs.len())).collect();
            let mut dst = RecordList::with_chunk_rows(2);
            prop_assert!(dst.push_rows_of(&src, &rows).unwrap());
            prop_assert_eq!(dst.len(), rows.len());
            for (i, &r) in rows.iter().enumerate() {
                prop_assert_eq!(record(&dst, i), record(&src, r));
            }
        }
    }
}
