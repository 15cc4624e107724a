//! [`ArrowRun`]: the values of one Arrow array as a column run for
//! [`crate::RecordList::push_columns`], read a column at a time instead of a cell per
//! record and field.
//!
//! Ints and strings (plain, large, view, or a dictionary of them) come out typed, so
//! the list checks and stores them in one loop per column; every other type comes out
//! as cells read exactly as [`crate::arrow_cell`] reads them (nested values and `u64`
//! past `i64` encoded, variant columns checked).
//!
//! [`RecordList::push_arrow`] is the one importer built on it: [`RecordList::from_arrow`]
//! and the Parquet reader (which adds what its notes say: absent keys, ints stored in a
//! float column, key orders, partition values) both use it.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, DictionaryArray, PrimitiveArray};
use arrow_buffer::{ArrowNativeType, BooleanBuffer};
use arrow_schema::DataType;

use crate::arrow::{IMPORT_ROWS, Scalar, scalar_at};
use crate::columns::{Columns, Mark, Values};
use crate::{Cell, RecordList, RecordsError};

/// Where the values of one field of [`RecordList::push_arrow`] come from.
#[derive(Clone, Copy, Debug)]
pub enum ArrowSource<'a> {
    /// One value per row; `variant`: the array holds memslim's variant encoding
    /// ([`crate::is_variant_field`]), checked value by value.
    Array {
        /// The values.
        array: &'a dyn Array,
        /// Whether they are variant-encoded.
        variant: bool,
    },
    /// The same value on every row (a partition key named by a directory).
    Repeat(Cell<'a>),
}

/// One field of the records [`RecordList::push_arrow`] appends.
#[derive(Clone, Copy, Debug)]
pub struct ArrowColumn<'a> {
    /// The field of the list.
    pub field: usize,
    /// Its values.
    pub source: ArrowSource<'a>,
    /// The rows whose record lacks the key (their values are not read into the
    /// record); `None`: every record has it.
    pub absent: Option<&'a BooleanBuffer>,
    /// The rows whose float value was an int (stored in a float column): the record
    /// holds it as that int. Only floats are changed.
    pub ints: Option<&'a BooleanBuffer>,
}

/// Why [`RecordList::push_arrow`] failed.
#[derive(Debug)]
pub enum ArrowPushError {
    /// A value of column `column` (its index among those given) at `row` (counted
    /// from the first row given) cannot be read.
    Read {
        /// The column's index in the columns given.
        column: usize,
        /// The row, from the first given.
        row: usize,
        /// Why.
        error: RecordsError,
    },
    /// The list refused the records (as [`RecordList::push_columns`]; rows counted in
    /// the list).
    Push(RecordsError),
}

/// A column's values over one run of rows.
enum Sliced<'a> {
    Array(arrow_array::ArrayRef, bool),
    Repeat(Cell<'a>),
}

/// Values read into a run at a time: at most about this many (rows times columns), so
/// a run's typed copies stay a few MB however wide the records are.
const IMPORT_CELLS: usize = 1 << 18;

impl RecordList {
    /// Appends `rows` records made of `cols`, read from Arrow a column at a time:
    /// each record holds the keys of `cols` but those marked absent, in field order or
    /// in the order of `key_orders.0[i - 1]` for a row whose `key_orders.1` entry is
    /// `i` (see [`Columns::set_key_orders`]; empty: every record in field order).
    ///
    /// # Errors
    /// [`ArrowPushError::Read`] for a value that cannot be read (an undecodable variant
    /// value, a dictionary key outside its dictionary), before any record of its run
    /// is appended; [`ArrowPushError::Push`] as [`RecordList::push_columns`], also for
    /// an array, absent or int set, or key order that does not hold one entry per row.
    /// The records of earlier runs stay appended: use [`RecordList::checkpoint`] for
    /// all-or-nothing.
    ///
    /// # Memory
    /// Reads runs of rows (about 262,144 values each): per run 8 bytes per
    /// int, 16 per string, 32 per other value, and a mark per row of a column with
    /// nulls or absent keys, beside what the list stores.
    pub fn push_arrow(
        &mut self,
        rows: usize,
        cols: &[ArrowColumn<'_>],
        key_orders: (&[Vec<u32>], &[u32]),
    ) -> std::result::Result<(), ArrowPushError> {
        let bad = |what: &str| {
            ArrowPushError::Push(RecordsError::Corrupt(format!(
                "{what} does not hold one entry per record ({rows})"
            )))
        };
        for c in cols {
            if let ArrowSource::Array { array, .. } = c.source {
                if array.len() != rows {
                    return Err(bad("a column"));
                }
            }
            if c.absent.is_some_and(|b| b.len() != rows) || c.ints.is_some_and(|b| b.len() != rows)
            {
                return Err(bad("a set of rows"));
            }
        }
        let (table, per_row) = key_orders;
        if !per_row.is_empty() && per_row.len() != rows {
            return Err(bad("the key orders"));
        }
        let step = (IMPORT_CELLS / cols.len().max(1)).clamp(1024, IMPORT_ROWS);
        let mut start = 0;
        while start < rows {
            let len = step.min(rows - start);
            // Each array's rows of this run, held while the run borrows them.
            let sliced: Vec<Sliced<'_>> = cols
                .iter()
                .map(|c| match c.source {
                    ArrowSource::Array { array, variant } => {
                        Sliced::Array(array.slice(start, len), variant)
                    }
                    ArrowSource::Repeat(cell) => Sliced::Repeat(cell),
                })
                .collect();
            let mut runs = Vec::with_capacity(cols.len());
            for (k, c) in cols.iter().enumerate() {
                let mut run = match &sliced[k] {
                    Sliced::Array(a, variant) => {
                        ArrowRun::read(a.as_ref(), *variant).map_err(|(row, error)| {
                            ArrowPushError::Read {
                                column: k,
                                row: start + row,
                                error,
                            }
                        })?
                    }
                    Sliced::Repeat(cell) => ArrowRun::repeat(*cell, len),
                };
                run.apply(
                    c.absent.map(|b| b.slice(start, len)).as_ref(),
                    c.ints.map(|b| b.slice(start, len)).as_ref(),
                );
                runs.push(run);
            }
            let mut columns = Columns::new(len);
            for (k, run) in runs.iter_mut().enumerate() {
                let (values, marks) = run.take_values();
                // One entry per row, marks with ints or strings only: always taken.
                columns.push(cols[k].field, values, marks);
            }
            let orders = per_row.get(start..start + len).unwrap_or_default();
            if !columns.set_key_orders(table, orders) {
                return Err(bad("the key orders"));
            }
            self.push_columns(&columns).map_err(ArrowPushError::Push)?;
            start += len;
        }
        Ok(())
    }
}

/// One Arrow array's values, read for [`crate::Columns::push`].
#[derive(Debug)]
pub(crate) struct ArrowRun<'a> {
    kind: Kind<'a>,
    /// Per row (ints and strings only; empty: every row holds a value).
    marks: Vec<Mark>,
}

#[derive(Debug)]
enum Kind<'a> {
    Ints(Vec<i64>),
    Strs(Vec<&'a str>),
    /// Per row a cell borrowing the array, or the span of `enc` holding its encoding.
    Cells {
        cells: Vec<Pending<'a>>,
        enc: Vec<u8>,
    },
}

#[derive(Clone, Copy, Debug)]
enum Pending<'a> {
    Cell(Cell<'a>),
    Encoded(usize, usize),
    /// The record lacks the key.
    Absent,
}

impl<'a> ArrowRun<'a> {
    /// Reads every value of `array` (`is_variant`: a column of memslim's variant
    /// encoding, checked value by value).
    ///
    /// # Errors
    /// The row of the first value that cannot be read and why
    /// ([`RecordsError::Corrupt`]: an undecodable variant value, a dictionary key
    /// outside its dictionary).
    ///
    /// # Memory
    /// 8 bytes per int, 16 per string (borrowed from the array), 1 per row for nulls;
    /// other values as cells (32 bytes each) and the encoded ones copied.
    pub(crate) fn read(
        array: &'a dyn Array,
        is_variant: bool,
    ) -> std::result::Result<Self, (usize, RecordsError)> {
        if let Some(run) = ints(array) {
            return Ok(run);
        }
        if let Some(run) = strs(array)? {
            return Ok(run);
        }
        let n = array.len();
        let mut cells = Vec::with_capacity(n);
        let mut enc = Vec::new();
        let mut buf = Vec::new();
        for i in 0..n {
            let p = match scalar_at(array, i, is_variant, &mut buf).map_err(|e| (i, e))? {
                Scalar::Cell(c) => Pending::Cell(c),
                Scalar::Encoded => {
                    let start = enc.len();
                    enc.extend_from_slice(&buf);
                    Pending::Encoded(start, enc.len())
                }
            };
            cells.push(p);
        }
        Ok(ArrowRun {
            kind: Kind::Cells { cells, enc },
            marks: Vec::new(),
        })
    }

    /// `cell` on each of `n` rows.
    fn repeat(cell: Cell<'a>, n: usize) -> Self {
        ArrowRun {
            kind: Kind::Cells {
                cells: vec![Pending::Cell(cell); n],
                enc: Vec::new(),
            },
            marks: Vec::new(),
        }
    }

    /// Marks the rows of `absent` absent (their values dropped) and turns the floats
    /// at the rows of `ints` into ints.
    fn apply(&mut self, absent: Option<&BooleanBuffer>, ints: Option<&BooleanBuffer>) {
        if let (Some(ints), Kind::Cells { cells, .. }) = (ints, &mut self.kind) {
            for r in ints.set_indices() {
                if let Pending::Cell(Cell::Float(v)) = cells[r] {
                    cells[r] = Pending::Cell(Cell::Int(v as i64));
                }
            }
        }
        let Some(absent) = absent.filter(|a| a.count_set_bits() > 0) else {
            return;
        };
        match &mut self.kind {
            Kind::Cells { cells, .. } => {
                for r in absent.set_indices() {
                    cells[r] = Pending::Absent;
                }
            }
            _ => {
                self.marks.resize(absent.len(), Mark::Value);
                for r in absent.set_indices() {
                    self.marks[r] = Mark::Absent;
                }
            }
        }
    }

    /// The values and marks to hand to [`crate::Columns::push`] (the typed values are
    /// moved out: call once).
    pub(crate) fn take_values(&mut self) -> (Values<'_>, Vec<Mark>) {
        let marks = std::mem::take(&mut self.marks);
        let values = match &mut self.kind {
            Kind::Ints(v) => Values::Ints(std::mem::take(v)),
            Kind::Strs(v) => Values::Strs(std::mem::take(v)),
            Kind::Cells { cells, enc } => {
                let enc: &[u8] = enc;
                Values::Cells(
                    cells
                        .iter()
                        .map(|p| match *p {
                            Pending::Cell(c) => Some(c),
                            Pending::Encoded(a, b) => Some(Cell::Encoded(&enc[a..b])),
                            Pending::Absent => None,
                        })
                        .collect(),
                )
            }
        };
        (values, marks)
    }
}

/// The nulls of `a` as marks (empty: none).
fn null_marks(a: &dyn Array) -> Vec<Mark> {
    match a.nulls() {
        Some(nulls) if nulls.null_count() > 0 => nulls
            .iter()
            .map(|valid| if valid { Mark::Value } else { Mark::Null })
            .collect(),
        _ => Vec::new(),
    }
}

/// An int array's values (`None`: not ints, or a `u64` past `i64`, which is encoded).
fn ints<'a>(a: &dyn Array) -> Option<ArrowRun<'a>> {
    fn widen<T: ArrowPrimitiveType>(a: &dyn Array) -> Option<Vec<i64>>
    where
        T::Native: TryInto<i64>,
    {
        let p: &PrimitiveArray<T> = a.as_primitive();
        let nulls = p.nulls();
        p.values()
            .iter()
            .enumerate()
            // A null slot holds any value: 0 there.
            .map(|(i, &v)| match nulls.is_some_and(|n| n.is_null(i)) {
                true => Some(0),
                false => v.try_into().ok(),
            })
            .collect()
    }
    use DataType::*;
    let values = match a.data_type() {
        Int8 => widen::<Int8Type>(a),
        Int16 => widen::<Int16Type>(a),
        Int32 => widen::<Int32Type>(a),
        Int64 => Some(a.as_primitive::<Int64Type>().values().to_vec()),
        UInt8 => widen::<UInt8Type>(a),
        UInt16 => widen::<UInt16Type>(a),
        UInt32 => widen::<UInt32Type>(a),
        UInt64 => widen::<UInt64Type>(a),
        _ => None,
    }?;
    Some(ArrowRun {
        kind: Kind::Ints(values),
        marks: null_marks(a),
    })
}

/// A string array's values, or a dictionary of strings' looked up (`Ok(None)`: not
/// strings).
fn strs(a: &dyn Array) -> std::result::Result<Option<ArrowRun<'_>>, (usize, RecordsError)> {
    use DataType::*;
    let values: Vec<&str> = match a.data_type() {
        Utf8 => a
            .as_string::<i32>()
            .iter()
            .map(Option::unwrap_or_default)
            .collect(),
        LargeUtf8 => a
            .as_string::<i64>()
            .iter()
            .map(Option::unwrap_or_default)
            .collect(),
        Utf8View => a
            .as_string_view()
            .iter()
            .map(Option::unwrap_or_default)
            .collect(),
        Dictionary(k, v) if matches!(**v, Utf8 | LargeUtf8 | Utf8View) => {
            return match **k {
                Int8 => dict_strs::<Int8Type>(a),
                Int16 => dict_strs::<Int16Type>(a),
                Int32 => dict_strs::<Int32Type>(a),
                Int64 => dict_strs::<Int64Type>(a),
                UInt8 => dict_strs::<UInt8Type>(a),
                UInt16 => dict_strs::<UInt16Type>(a),
                UInt32 => dict_strs::<UInt32Type>(a),
                UInt64 => dict_strs::<UInt64Type>(a),
                _ => return Ok(None),
            }
            .map(Some);
        }
        _ => return Ok(None),
    };
    Ok(Some(ArrowRun {
        kind: Kind::Strs(values),
        marks: null_marks(a),
    }))
}

/// A dictionary of strings' values, each key checked against the dictionary; a null
/// key or a null dictionary entry is a null.
fn dict_strs<K: ArrowDictionaryKeyType>(
    a: &dyn Array,
) -> std::result::Result<ArrowRun<'_>, (usize, RecordsError)> {
    let d: &DictionaryArray<K> = a.as_dictionary();
    let entries = d.values();
    let text: Vec<Option<&str>> = match entries.data_type() {
        DataType::Utf8 => entries.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => entries.as_string::<i64>().iter().collect(),
        _ => entries.as_string_view().iter().collect(),
    };
    let n = d.len();
    let mut values = Vec::with_capacity(n);
    let mut marks = Vec::new();
    for (i, key) in d.keys().iter().enumerate() {
        let s = match key {
            None => None,
            Some(k) => {
                let at = k.to_usize().and_then(|k| text.get(k));
                let Some(s) = at else {
                    return Err((
                        i,
                        RecordsError::Corrupt("a dictionary key outside its dictionary".to_owned()),
                    ));
                };
                *s
            }
        };
        if s.is_none() {
            // Marks only once a row is null.
            marks.resize(n, Mark::Value);
            marks[i] = Mark::Null;
        }
        values.push(s.unwrap_or_default());
    }
    Ok(ArrowRun {
        kind: Kind::Strs(values),
        marks,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, Int32Array, RecordBatch, StringArray, UInt64Array, types::Int8Type,
    };
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::RecordList;

    fn cells(run: &mut ArrowRun<'_>) -> Vec<Option<String>> {
        let (values, marks) = run.take_values();
        (0..values.len())
            .map(|r| match marks.get(r) {
                Some(Mark::Null) => Some("None".to_owned()),
                Some(Mark::Absent) => None,
                _ => Some(match &values {
                    Values::Ints(v) => v[r].to_string(),
                    Values::Strs(v) => format!("{:?}", v[r]),
                    Values::Cells(v) => format!("{:?}", v[r]),
                }),
            })
            .collect()
    }

    /// A slice of an int array with nulls reads its own rows, nulls marked; a `u64`
    /// past `i64` makes the run cells (encoded), the rest ints.
    #[test]
    fn slices_and_wide_ints_read_as_their_rows() {
        let a = Int32Array::from(vec![Some(1), None, Some(3), Some(4), None, Some(6)]);
        let part = a.slice(1, 4);
        let mut run = ArrowRun::read(&part, false).unwrap();
        assert_eq!(
            cells(&mut run),
            ["None", "3", "4", "None"].map(|s| Some(s.to_owned()))
        );
        let u = UInt64Array::from(vec![Some(7), Some(u64::MAX), None]);
        let mut run = ArrowRun::read(&u, false).unwrap();
        let got = cells(&mut run);
        assert_eq!(got[0].as_deref(), Some("Some(Int(7))"));
        assert!(got[1].as_deref().unwrap().starts_with("Some(Encoded("));
        assert_eq!(got[2].as_deref(), Some("Some(Null)"));
    }

    /// A dictionary key outside its dictionary is refused at its row; null keys and
    /// null entries are nulls.
    #[test]
    fn dictionary_strings_check_each_key() {
        let values = StringArray::from(vec![Some("a"), None, Some("c")]);
        let keys = arrow_array::Int8Array::from(vec![Some(0), None, Some(1), Some(2)]);
        let d = DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values.clone())).unwrap();
        let mut run = ArrowRun::read(&d, false).unwrap();
        assert_eq!(
            cells(&mut run),
            ["\"a\"", "None", "None", "\"c\""].map(|s| Some(s.to_owned()))
        );
        // `try_new` checks keys: build one that points past the dictionary unchecked.
        let bad_keys = arrow_array::Int8Array::from(vec![0, 2, 5]);
        // SAFETY: test only; the key 5 past the 3 entries is what the import must refuse.
        let bad = unsafe { DictionaryArray::<Int8Type>::new_unchecked(bad_keys, Arc::new(values)) };
        let (row, e) = ArrowRun::read(&bad, false).unwrap_err();
        assert_eq!(row, 2);
        assert!(matches!(e, RecordsError::Corrupt(_)));
    }

    /// `from_arrow` reads a batch in runs: an error past the first run names the row in
    /// the list, and the records read back whole across runs.
    #[test]
    fn from_arrow_names_rows_past_the_first_run() {
        let n = crate::arrow::IMPORT_ROWS + 100;
        let ids: ArrayRef = Arc::new(arrow_array::Int64Array::from_iter_values(0..n as i64));
        let names: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("u{}", i % 7)),
        ));
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![ids, names]).unwrap();
        let list = RecordList::from_arrow(&schema, [Ok(batch)], 4096).unwrap();
        assert_eq!(list.len(), n);
        let last = n - 1;
        assert_eq!(list.get(last, 0), crate::CellRef::Int(last as i64));
        let want = format!("u{}", last % 7);
        assert!(
            matches!(list.get(last, 1), crate::CellRef::Str(s) | crate::CellRef::DictStr(_, s) if s == want)
        );
        let values = StringArray::from(vec!["a", "b"]);
        let keys = arrow_array::Int8Array::from_iter_values(
            (0..n).map(|i| if i == n - 3 { 9 } else { 1 }),
        );
        // SAFETY: test only; one key past the dictionary, which the import must refuse.
        let d = unsafe { DictionaryArray::<Int8Type>::new_unchecked(keys, Arc::new(values)) };
        let schema = Arc::new(Schema::new(vec![Field::new(
            "k",
            d.data_type().clone(),
            false,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(d)]).unwrap();
        let e = RecordList::from_arrow(&schema, [Ok(batch)], 4096).unwrap_err();
        assert!(e.to_string().contains(&format!("row {}", n - 3)), "{e}");
    }
}
