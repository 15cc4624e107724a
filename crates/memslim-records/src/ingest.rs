//! Bulk appends of a host's plain records, read where they are.
//!
//! Building a list from a host's records (for the Python binding, a list of dicts or
//! tuples) spends most of its time reading them. The host knows how to read its own
//! objects without copying; the core knows how they become rows: which field a key
//! is, when a record must go another way, when a new field is added. [`PlainRecords`]
//! is the line between the two: the host says what record `i` is and what its items
//! are, and [`RecordList::append_keyed`] / [`RecordList::append_positional`] run the
//! loop, filling grids that [`RecordList::push_grids`] stores (on a worker thread while
//! the next grid is read).
//!
//! Both stop at the first record that is not plain (the host said so, a key has no
//! name, a value is not a plain cell, a key repeats) and return how many they appended:
//! the host takes that record through its general path, which reports or handles it.

use crate::column::Cell;
use crate::error::Result;
use crate::feed::Fill;
use crate::grid::Grid;
use crate::keys::{FieldNames, KeyOrder};
use crate::list::RecordList;

use hashbrown::HashSet;

/// Rows per grid of a bulk append: large enough that storing a grid on the worker
/// thread ([`RecordList::push_grids`]) costs far more than handing it over, small enough
/// that two grids stay in the CPU's cache.
pub const GRID_ROWS: usize = 2048;

/// A host's records, read in place by [`RecordList::append_keyed`] (records of
/// `(key, value)` items, such as dicts) and [`RecordList::append_positional`] (records
/// of values in field order, such as tuples).
///
/// Every method is called on the caller's thread, during the append, and the cells it
/// returns must stay valid (their bytes unchanged) until the append returns: the host
/// keeps its objects alive and unchanged for the whole call (for Python: it runs no
/// Python code from any method).
pub trait PlainRecords<'a> {
    /// A record, as the host refers to it (for Python, a borrowed object pointer).
    type Record: Copy;
    /// A key object, compared by identity: the same key object as the one field `j`
    /// was last met with is field `j`, with no name comparison. `Default` is a value
    /// that is no key (for Python, the null pointer).
    type Key: Copy + PartialEq + Default;
    /// A value object.
    type Value: Copy;
    /// The items of a keyed record.
    type Items: Iterator<Item = (Self::Key, Self::Value)>;

    /// Records available.
    fn len(&self) -> usize;

    /// Whether there are no records.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i` (`< len()`) if it is a plain keyed record; `None` stops the append.
    fn keyed(&self, i: usize) -> Option<Self::Record>;

    /// The `(key, value)` items of a keyed record, in its key order.
    fn items(&self, record: Self::Record) -> Self::Items;

    /// The field name a key stands for; `None` (a key that is not a plain name) stops
    /// the append.
    fn key_name(&self, key: Self::Key) -> Option<&'a str>;

    /// Record `i` (`< len()`) if it is a plain positional record of exactly `width`
    /// values; `None` stops the append.
    fn positional(&self, i: usize, width: usize) -> Option<Self::Record>;

    /// Value `k` (`< width`) of a positional record.
    fn value(&self, record: Self::Record, k: usize) -> Self::Value;

    /// A value as a cell borrowing the value's own data; `None` (a value that needs
    /// the general path) stops the append.
    fn cell(&self, value: Self::Value) -> Option<Cell<'a>>;
}

impl RecordList {
    /// Appends the leading records of `src` that are plain keyed records whose keys all
    /// have names and whose values are all plain cells, and returns how many. A key met
    /// for the first time adds its field (the grids read so far are stored, the fields
    /// new in the record are added, all at once, and the record is read again).
    ///
    /// `known[j]`, where given, is a key object that stands for field `j` (the host's
    /// own name object): a record whose key is that very object skips the name
    /// comparison, as do records that share key objects with an earlier one of the same
    /// call.
    ///
    /// # Errors
    /// The error of [`RecordList::push_grids`] (a record that breaks a declared schema)
    /// or of [`RecordList::add_field`]. Grids stored before stay appended, and so do
    /// fields added by the call: a caller that needs all or nothing takes a
    /// [`RecordList::checkpoint`] first.
    ///
    /// # Memory
    /// Two grids of [`GRID_ROWS`] rows, the field names and one key object per field.
    pub fn append_keyed<'a, S: PlainRecords<'a>>(
        &mut self,
        src: &S,
        known: &[S::Key],
    ) -> Result<usize> {
        let n = src.len();
        let mut fields = FieldNames::of(self);
        // Field `j`'s key object as last met (or the known one): records of one input
        // usually share key objects, so an identity match saves a string comparison.
        let mut key_objs: Vec<S::Key> = known.to_vec();
        // Records usually share a shape: the previous record's key order guesses this one's.
        let mut keys = KeyOrder::new();
        let mut i = 0;
        // The names a record has that the list lacks, in the record's order.
        let mut new_fields: Vec<&'a str> = Vec::new();
        let mut new_set: HashSet<&'a str> = HashSet::new();
        loop {
            self.expect_rows(n - i);
            self.push_grids(GRID_ROWS, |grid| {
                while i < n {
                    if grid.num_rows() == GRID_ROWS {
                        return Fill::Full;
                    }
                    let Some(record) = src.keyed(i) else {
                        break;
                    };
                    grid.push_row();
                    keys.start_record();
                    let read = read_keyed(
                        src,
                        record,
                        grid,
                        &mut keys,
                        &fields,
                        &mut key_objs,
                        (&mut new_fields, &mut new_set),
                    );
                    if read.is_err() || !new_fields.is_empty() {
                        grid.pop_row();
                        break;
                    }
                    grid.set_order(keys.order());
                    keys.finish_record();
                    i += 1;
                }
                Fill::Done
            })?;
            if new_fields.is_empty() {
                return Ok(i);
            }
            for (name, j) in new_fields.iter().zip(self.add_fields(&new_fields)?) {
                fields.push(name, j);
            }
            new_fields.clear();
            new_set.clear();
        }
    }

    /// Appends the leading records of `src` that are plain positional records of
    /// exactly `fields.len()` values, all plain cells; value `k` goes to the field
    /// named `fields[k]` (added if the list lacks it). Returns how many were appended.
    ///
    /// # Errors
    /// As [`RecordList::append_keyed`].
    ///
    /// # Memory
    /// As [`RecordList::append_keyed`].
    pub fn append_positional<'a, S: PlainRecords<'a>>(
        &mut self,
        fields: &[&str],
        src: &S,
    ) -> Result<usize> {
        let cols = fields
            .iter()
            .map(|f| self.add_field(f))
            .collect::<Result<Vec<usize>>>()?;
        let n = src.len();
        let mut i = 0;
        self.expect_rows(n);
        self.push_grids(GRID_ROWS, |grid| {
            'records: while i < n {
                if grid.num_rows() == GRID_ROWS {
                    return Fill::Full;
                }
                let Some(record) = src.positional(i, cols.len()) else {
                    break;
                };
                grid.push_row();
                for (k, &j) in cols.iter().enumerate() {
                    match src.cell(src.value(record, k)) {
                        Some(cell) if grid.set(j, cell) => {}
                        _ => {
                            grid.pop_row();
                            break 'records;
                        }
                    }
                }
                grid.set_order(&cols);
                i += 1;
            }
            Fill::Done
        })?;
        Ok(i)
    }
}

/// Puts the items of a keyed record into the grid's last row. `Err(())`: the record is
/// not plain. Names the list lacks are not put anywhere but added to `new` (a set and
/// the names in order), up to where the record stops being plain: the caller adds
/// them all and reads the record again (one new read per record, however many new
/// fields it brings).
#[inline]
fn read_keyed<'a, S: PlainRecords<'a>>(
    src: &S,
    record: S::Record,
    grid: &mut Grid<'a>,
    keys: &mut KeyOrder,
    fields: &FieldNames,
    key_objs: &mut Vec<S::Key>,
    new: (&mut Vec<&'a str>, &mut HashSet<&'a str>),
) -> std::result::Result<(), ()> {
    let (new_names, new_set) = new;
    for (key, value) in src.items(record) {
        let g = keys.guess();
        let same = g.and_then(|g| key_objs.get(g)) == Some(&key);
        let j = match g {
            Some(g) if same => g,
            _ => {
                let name = src.key_name(key).ok_or(())?;
                let Some(j) = fields.resolve(g, name) else {
                    // A repeat of a new name ends the record, as a repeat of a field.
                    let repeat = !new_set.insert(name);
                    if !repeat {
                        new_names.push(name);
                    }
                    if repeat || src.cell(value).is_none() {
                        return Err(());
                    }
                    continue;
                };
                if key_objs.len() <= j {
                    key_objs.resize(j + 1, S::Key::default());
                }
                key_objs[j] = key;
                j
            }
        };
        if j >= grid.num_cols() {
            return Err(());
        }
        let cell = src.cell(value).ok_or(())?;
        if !grid.set(j, cell) {
            return Err(());
        }
        keys.push(j);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::{CellRef, DType};
    use proptest::prelude::*;

    /// A model host value: a plain int or str, or one the host's general path handles.
    #[derive(Clone, Debug)]
    enum V {
        Int(i64),
        Str(String),
        Unplain,
    }

    /// A model host record.
    #[derive(Clone, Debug)]
    enum Rec {
        /// `(key object, value)` items; key object `k` is named `names[k]`.
        Keyed(Vec<(usize, V)>),
        Positional(Vec<V>),
        /// Neither (for Python: a mapping that is not a dict, a list...).
        Other,
    }

    /// Records and key objects; several key objects may share a name (equal strings
    /// that are not the same object), and `None` is a key that is not a name.
    #[derive(Debug)]
    struct Host {
        names: Vec<Option<String>>,
        recs: Vec<Rec>,
    }

    impl<'a> PlainRecords<'a> for &'a Host {
        type Record = usize;
        /// `None` is no key.
        type Key = Option<usize>;
        type Value = &'a V;
        type Items = Box<dyn Iterator<Item = (Option<usize>, &'a V)> + 'a>;

        fn len(&self) -> usize {
            self.recs.len()
        }
        fn keyed(&self, i: usize) -> Option<usize> {
            matches!(self.recs[i], Rec::Keyed(_)).then_some(i)
        }
        fn items(&self, record: usize) -> Self::Items {
            let host: &'a Host = self;
            match &host.recs[record] {
                Rec::Keyed(items) => Box::new(items.iter().map(|(k, v)| (Some(*k), v))),
                _ => Box::new(std::iter::empty()),
            }
        }
        fn key_name(&self, key: Option<usize>) -> Option<&'a str> {
            let host: &'a Host = self;
            host.names[key?].as_deref()
        }
        fn positional(&self, i: usize, width: usize) -> Option<usize> {
            matches!(&self.recs[i], Rec::Positional(v) if v.len() == width).then_some(i)
        }
        fn value(&self, record: usize, k: usize) -> &'a V {
            let host: &'a Host = self;
            match &host.recs[record] {
                Rec::Positional(v) => &v[k],
                _ => unreachable!("value of a record that is not positional"),
            }
        }
        fn cell(&self, value: &'a V) -> Option<Cell<'a>> {
            match value {
                V::Int(i) => Some(Cell::Int(*i)),
                V::Str(s) => Some(Cell::Str(s)),
                V::Unplain => None,
            }
        }
    }

    /// The cell a stored value reads back as.
    fn cell_of(v: &V) -> Option<Cell<'_>> {
        match v {
            V::Int(i) => Some(Cell::Int(*i)),
            V::Str(s) => Some(Cell::Str(s)),
            V::Unplain => unreachable!("an unplain value is never stored"),
        }
    }

    /// What `append_keyed` should do, by the plain rules: the records appended (as
    /// `(name, value)` lists) and the field names the list ends with.
    fn keyed_model(host: &Host, start: &[String]) -> (Vec<Vec<(String, V)>>, Vec<String>) {
        let mut fields: Vec<String> = start.to_vec();
        let mut rows = Vec::new();
        for rec in &host.recs {
            let Rec::Keyed(items) = rec else { break };
            let mut row: Vec<(String, V)> = Vec::new();
            let mut plain = true;
            for (k, v) in items {
                let Some(name) = &host.names[*k] else {
                    plain = false;
                    break;
                };
                if !fields.contains(name) {
                    fields.push(name.clone());
                }
                if matches!(v, V::Unplain) || row.iter().any(|(n, _)| n == name) {
                    plain = false;
                    break;
                }
                row.push((name.clone(), v.clone()));
            }
            if !plain {
                break;
            }
            rows.push(row);
        }
        (rows, fields)
    }

    fn value() -> impl Strategy<Value = V> {
        prop_oneof![
            4 => any::<i64>().prop_map(V::Int),
            4 => "[a-c]{0,3}".prop_map(V::Str),
            1 => Just(V::Unplain),
        ]
    }

    /// `v` as an int (`int`) or a str, unplain values kept.
    fn typed(v: V, int: bool) -> V {
        match v {
            V::Str(s) if int => V::Int(s.len() as i64),
            V::Int(i) if !int => V::Str(i.to_string()),
            v => v,
        }
    }

    fn host() -> impl Strategy<Value = Host> {
        let names = proptest::collection::vec(
            prop_oneof![9 => "[a-e]".prop_map(Some), 1 => Just(None)],
            1..8,
        );
        names.prop_flat_map(|names| {
            let nk = names.len();
            let rec = prop_oneof![
                8 => proptest::collection::vec((0..nk, value()), 0..6).prop_map(Rec::Keyed),
                2 => proptest::collection::vec(value(), 0..4).prop_map(Rec::Positional),
                1 => Just(Rec::Other),
            ];
            proptest::collection::vec(rec, 0..40).prop_map(move |recs| {
                // One type per field, so that every column reads back as the cells put
                // in (a column of mixed types is stored encoded): fields a-b and even
                // positions hold ints, the others strs.
                let ints = |name: &Option<String>| name.as_deref().is_some_and(|n| n <= "b");
                let recs = recs
                    .into_iter()
                    .map(|r| match r {
                        Rec::Keyed(items) => Rec::Keyed(
                            items
                                .into_iter()
                                .map(|(k, v)| (k, typed(v, ints(&names[k]))))
                                .collect(),
                        ),
                        Rec::Positional(vals) => Rec::Positional(
                            vals.into_iter()
                                .enumerate()
                                .map(|(k, v)| typed(v, k % 2 == 0))
                                .collect(),
                        ),
                        Rec::Other => Rec::Other,
                    })
                    .collect();
                Host {
                    names: names.clone(),
                    recs,
                }
            })
        })
    }

    proptest! {
        /// `append_keyed` appends exactly the leading plain records, each with its
        /// values under its keys' fields in its key order, adds the fields met up to
        /// where it stops, and reads records of small grids as one big grid does.
        #[test]
        fn keyed_appends_the_plain_prefix(host in host(), start in proptest::collection::vec("[a-e]", 0..3), known in any::<bool>()) {
            let mut list = RecordList::new();
            for f in &start {
                list.add_field(f).unwrap();
            }
            let start: Vec<String> = (0..list.num_fields()).map(|j| list.field_name(j).to_owned()).collect();
            // The host's own name objects for the fields it starts with, when it has them.
            let known: Vec<Option<usize>> = if known {
                start.iter().map_while(|f| host.names.iter().position(|n| n.as_deref() == Some(f.as_str())).map(Some)).collect()
            } else {
                Vec::new()
            };
            let n = list.append_keyed(&&host, &known).unwrap();
            let (rows, fields) = keyed_model(&host, &start);
            prop_assert_eq!(n, rows.len());
            prop_assert_eq!(list.len(), rows.len());
            let got: Vec<String> = (0..list.num_fields()).map(|j| list.field_name(j).to_owned()).collect();
            prop_assert_eq!(got, fields);
            for (i, row) in rows.iter().enumerate() {
                let mut seen = Vec::new();
                list.visit_row(i, |j, c| seen.push((list.field_name(j).to_owned(), c.to_cell())));
                let want: Vec<(String, Option<Cell<'_>>)> = row.iter().map(|(n, v)| (n.clone(), cell_of(v))).collect();
                prop_assert_eq!(seen, want);
            }
        }

        /// `append_positional` appends the leading tuples of the right width whose
        /// values are all plain, value `k` under field `k`.
        #[test]
        fn positional_appends_the_plain_prefix(host in host(), width in 0usize..4) {
            let fields: Vec<String> = (0..width).map(|k| format!("f{k}")).collect();
            let names: Vec<&str> = fields.iter().map(String::as_str).collect();
            let mut list = RecordList::new();
            let n = list.append_positional(&names, &&host).unwrap();
            let want: Vec<&Vec<V>> = host
                .recs
                .iter()
                .map_while(|r| match r {
                    Rec::Positional(v) if v.len() == width && !v.iter().any(|x| matches!(x, V::Unplain)) => Some(v),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(n, want.len());
            prop_assert_eq!(list.num_fields(), width);
            for (i, vals) in want.iter().enumerate() {
                for (k, v) in vals.iter().enumerate() {
                    prop_assert_eq!(list.get(i, k).to_cell(), cell_of(v));
                }
            }
        }
    }

    /// Many grids (a worker thread stores them) hold the same rows, and a field first
    /// met in a later grid is added there.
    #[test]
    fn keyed_across_grids_and_a_late_field() {
        let mut recs: Vec<Rec> = (0..3 * GRID_ROWS as i64 + 5)
            .map(|i| Rec::Keyed(vec![(0, V::Int(i)), (1, V::Str(format!("s{}", i % 7)))]))
            .collect();
        recs[2 * GRID_ROWS + 1] = Rec::Keyed(vec![(1, V::Str("x".into())), (2, V::Int(-1))]);
        let host = Host {
            names: vec![Some("id".into()), Some("name".into()), Some("late".into())],
            recs,
        };
        let mut list = RecordList::new();
        let n = list.append_keyed(&&host, &[]).unwrap();
        assert_eq!(n, host.recs.len());
        assert_eq!(list.num_fields(), 3);
        let late = 2 * GRID_ROWS + 1;
        assert_eq!(list.get(late, 0), CellRef::Absent);
        assert_eq!(list.get(late, 2), CellRef::Int(-1));
        assert_eq!(list.get(late + 1, 0), CellRef::Int(late as i64 + 1));
        assert_eq!(list.get(late + 1, 2), CellRef::Absent);
    }

    /// A record that breaks a declared schema is the core's error, naming its row.
    #[test]
    fn a_schema_mismatch_is_an_error() {
        let host = Host {
            names: vec![Some("id".into())],
            recs: vec![
                Rec::Keyed(vec![(0, V::Int(1))]),
                Rec::Keyed(vec![(0, V::Str("x".into()))]),
            ],
        };
        let mut list = RecordList::with_schema(&[("id", DType::Int64)], 8).unwrap();
        let err = list.append_keyed(&&host, &[]).unwrap_err();
        assert!(
            matches!(err, crate::RecordsError::SchemaMismatch { row: 1, .. }),
            "{err}"
        );
    }
}
