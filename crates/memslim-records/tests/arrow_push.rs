//! `RecordList::push_arrow`: records read from Arrow a column at a time, with absent
//! keys, ints stored as floats, repeated values and key orders of their own, stored as
//! `push_record` stores the same records one by one.

use std::sync::Arc;

use arrow_array::types::Int8Type;
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, StringArray};
use arrow_buffer::BooleanBuffer;
use memslim_records::{ArrowColumn, ArrowPushError, ArrowSource, Cell, RecordList, RecordsError};
use proptest::prelude::*;

const NAMES: [&str; 4] = ["i", "s", "f", "p"];

/// One row: per column its value (`None`: null), whether the key is absent, whether
/// the float was an int; and the key order (a permutation of the columns).
#[derive(Clone, Debug)]
struct Row {
    i: Option<i64>,
    s: Option<u8>,
    f: Option<f64>,
    absent: [bool; 4],
    int: bool,
    order: Option<Vec<u32>>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(0u8..3),
        proptest::option::of(prop_oneof![Just(2.0), Just(-0.0), Just(0.5), any::<f64>()]),
        any::<[bool; 4]>(),
        any::<bool>(),
        proptest::option::of(Just(vec![0u32, 1, 2, 3]).prop_shuffle()),
    )
        .prop_map(|(i, s, f, absent, int, order)| Row {
            i,
            s,
            f,
            absent,
            int,
            order,
        })
}

fn dump(l: &RecordList) -> Vec<String> {
    (0..l.len())
        .map(|r| {
            let mut out = String::new();
            l.visit_row(r, |j, c| {
                out.push_str(&format!("{}={c:?};", l.field_name(j)))
            });
            out
        })
        .collect()
}

/// The records of `rows` pushed by `push_arrow` and, as the oracle, by `push_record`.
fn both(rows: &[Row]) -> (Result<RecordList, String>, RecordList) {
    let n = rows.len();
    let ints: ArrayRef = Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.i)));
    let words = StringArray::from(vec!["x", "yy", "z"]);
    let keys = arrow_array::Int8Array::from_iter(rows.iter().map(|r| r.s.map(|s| s as i8)));
    let strs: ArrayRef =
        Arc::new(DictionaryArray::<Int8Type>::try_new(keys, Arc::new(words)).unwrap());
    let floats: ArrayRef = Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.f)));
    let bits = |f: &dyn Fn(&Row) -> bool| BooleanBuffer::from_iter(rows.iter().map(f));
    let absent: Vec<BooleanBuffer> = (0..4).map(|k| bits(&|r: &Row| r.absent[k])).collect();
    let int_rows = bits(&|r: &Row| r.int);
    let arrays = [&ints, &strs, &floats];
    let mut cols: Vec<ArrowColumn<'_>> = (0..3)
        .map(|k| ArrowColumn {
            field: k,
            source: ArrowSource::Array {
                array: arrays[k].as_ref(),
                variant: false,
            },
            absent: Some(&absent[k]),
            ints: (k == 2).then_some(&int_rows),
        })
        .collect();
    cols.push(ArrowColumn {
        field: 3,
        source: ArrowSource::Repeat(Cell::Str("part")),
        absent: Some(&absent[3]),
        ints: None,
    });
    // Per row, its keys in its order (present ones only), and the oracle's record.
    let mut table: Vec<Vec<u32>> = Vec::new();
    let mut per_row = Vec::with_capacity(n);
    let mut oracle = RecordList::new();
    oracle.add_fields(&NAMES).unwrap();
    let s_of = ["x", "yy", "z"];
    for r in rows {
        let cell = |k: usize| -> Cell<'static> {
            match k {
                0 => r.i.map_or(Cell::Null, Cell::Int),
                1 => r.s.map_or(Cell::Null, |s| Cell::Str(s_of[s as usize])),
                2 => match r.f {
                    None => Cell::Null,
                    Some(v) if r.int => Cell::Int(v as i64),
                    Some(v) => Cell::Float(v),
                },
                _ => Cell::Str("part"),
            }
        };
        let natural = vec![0u32, 1, 2, 3];
        let keys: Vec<u32> = r
            .order
            .as_ref()
            .unwrap_or(&natural)
            .iter()
            .copied()
            .filter(|&k| !r.absent[k as usize])
            .collect();
        per_row.push(match &r.order {
            None => 0,
            Some(_) => match table.iter().position(|o| *o == keys) {
                Some(i) => i as u32 + 1,
                None => {
                    table.push(keys.clone());
                    table.len() as u32
                }
            },
        });
        let rec: Vec<(&str, Cell<'_>)> = keys
            .iter()
            .map(|&k| (NAMES[k as usize], cell(k as usize)))
            .collect();
        oracle.push_record(&rec).unwrap();
    }
    let mut got = RecordList::new();
    got.add_fields(&NAMES).unwrap();
    let pushed = got
        .push_arrow(n, &cols, (&table, &per_row))
        .map(|()| got)
        .map_err(|e| format!("{e:?}"));
    (pushed, oracle)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arrow_columns_store_the_records_push_record_stores(rows in proptest::collection::vec(row(), 0..60)) {
        let (got, want) = both(&rows);
        let got = got.map_err(TestCaseError::fail)?;
        prop_assert_eq!(dump(&got), dump(&want));
    }
}

/// Across runs of rows (a batch longer than one run), key orders and absent keys stay
/// on their rows.
#[test]
fn a_batch_of_many_runs_keeps_each_row() {
    let rows: Vec<Row> = (0..40_000i64)
        .map(|i| Row {
            i: (i % 11 != 0).then_some(i),
            s: Some((i % 3) as u8),
            f: Some(i as f64),
            absent: [i % 13 == 0, i % 17 == 0, false, i % 5 == 0],
            int: i % 2 == 0,
            order: (i % 7 == 0).then(|| vec![3, 2, 1, 0]),
        })
        .collect();
    let (got, want) = both(&rows);
    assert_eq!(dump(&got.unwrap()), dump(&want));
}

/// A key order that lists an absent key, or leaves out a present one, is refused
/// naming the row; so is a set of rows of another length.
#[test]
fn key_orders_must_list_exactly_the_present_keys() {
    let ints = Int64Array::from(vec![1, 2]);
    let absent = BooleanBuffer::from(vec![false, true]);
    let cols = [
        ArrowColumn {
            field: 0,
            source: ArrowSource::Array {
                array: &ints,
                variant: false,
            },
            absent: Some(&absent),
            ints: None,
        },
        ArrowColumn {
            field: 1,
            source: ArrowSource::Repeat(Cell::Bool(true)),
            absent: None,
            ints: None,
        },
    ];
    let mut l = RecordList::new();
    l.add_fields(&["a", "b"]).unwrap();
    let reversed = vec![vec![1u32, 0]];
    // Row 1 lacks "a": an order listing it does not fit.
    let e = l.push_arrow(2, &cols, (&reversed, &[1, 1])).unwrap_err();
    assert!(
        matches!(&e, ArrowPushError::Push(RecordsError::Corrupt(m)) if m.starts_with("row 1:")),
        "{e:?}"
    );
    let short = vec![vec![1u32]];
    let e = l.push_arrow(2, &cols, (&short, &[1, 0])).unwrap_err();
    assert!(
        matches!(&e, ArrowPushError::Push(RecordsError::Corrupt(m)) if m.starts_with("row 0:")),
        "{e:?}"
    );
    assert_eq!(l.len(), 0);
    let odd = BooleanBuffer::from(vec![false]);
    let bad = [ArrowColumn {
        absent: Some(&odd),
        ..cols[0]
    }];
    assert!(l.push_arrow(2, &bad, (&[], &[])).is_err());
    // The orders that fit: row 0 reversed, row 1 has "b" only.
    l.push_arrow(2, &cols, (&reversed, &[1, 0])).unwrap();
    assert_eq!(dump(&l), ["b=Bool(true);a=Int(1);", "b=Bool(true);"]);
}
