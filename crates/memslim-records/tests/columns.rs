//! `RecordList::push_columns` (records given column by column, typed runs of ints and
//! strings) stores what `push_grid` stores for the same records: the same values, absent
//! vs null, layouts and bytes, and the same error, the list unchanged.

use memslim_records::{
    Cell, ColumnRun, Columns, DType, Grid, Mark, RecordList, RecordsError, Values,
};
use proptest::prelude::*;

/// One column of a generated block: its kind and, per row, a value and a mark.
#[derive(Clone, Debug)]
enum Col {
    Ints(Vec<(i64, Mark)>),
    Strs(Vec<(String, Mark)>),
    /// Any value; `None`: absent.
    Cells(Vec<Option<Any>>),
}

#[derive(Clone, Debug)]
enum Any {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl Any {
    fn cell(&self) -> Cell<'_> {
        match self {
            Any::Null => Cell::Null,
            Any::Int(i) => Cell::Int(*i),
            Any::Float(x) => Cell::Float(*x),
            Any::Str(s) => Cell::Str(s),
            Any::Bool(b) => Cell::Bool(*b),
        }
    }
}

fn mark() -> impl Strategy<Value = Mark> {
    prop_oneof![8 => Just(Mark::Value), 1 => Just(Mark::Null), 1 => Just(Mark::Absent)]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        -3i64..300,
        Just(1 << 40),
        Just((1 << 53) + 1),
        Just(i64::MIN),
        Just(i64::MAX),
        -40_000i64..40_000,
    ]
}

/// Strings short and long (past the 24 bytes kept by content), repeated and not, some
/// not ASCII, and enough distinct ones to pass a one-byte key width.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "a",
            "UA",
            "JFK",
            "naïve",
            "N14228",
            "日本語",
            "2013-01-01 05:00:00",
            "exactly twenty-four b..",
            "a string longer than twenty-four bytes",
        ])
        .prop_map(str::to_owned),
        (0u32..400).prop_map(|k| format!("s{k}")),
        (0u32..40).prop_map(|k| format!("a longer string number {k:04}")),
    ]
}

fn any_value() -> impl Strategy<Value = Option<Any>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            Just(Any::Null),
            int().prop_map(Any::Int),
            (-4.0f64..4.0).prop_map(Any::Float),
            text().prop_map(Any::Str),
            any::<bool>().prop_map(Any::Bool),
        ],
    )
}

fn column(rows: usize) -> impl Strategy<Value = Col> {
    prop_oneof![
        prop::collection::vec((int(), mark()), rows).prop_map(Col::Ints),
        prop::collection::vec((text(), mark()), rows).prop_map(Col::Strs),
        prop::collection::vec(any_value(), rows).prop_map(Col::Cells),
    ]
}

/// Blocks of records over up to 4 fields (which field each column is), each appended
/// in turn.
fn blocks() -> impl Strategy<Value = Vec<Vec<(usize, Col)>>> {
    let block = (0usize..160).prop_flat_map(|rows| {
        prop::collection::vec((0usize..4, column(rows)), 0..4).prop_map(|cols| {
            // One column per field.
            let mut seen = [false; 4];
            cols.into_iter()
                .filter(|(f, _)| !std::mem::replace(&mut seen[*f], true))
                .collect::<Vec<_>>()
        })
    });
    prop::collection::vec(block, 1..5)
}

fn rows_of(cols: &[(usize, Col)]) -> usize {
    cols.first().map_or(0, |(_, c)| match c {
        Col::Ints(v) => v.len(),
        Col::Strs(v) => v.len(),
        Col::Cells(v) => v.len(),
    })
}

fn to_columns(cols: &[(usize, Col)]) -> Columns<'_> {
    let mut out = Columns::new(rows_of(cols));
    for (f, c) in cols {
        let (values, marks) = match c {
            Col::Ints(v) => (
                Values::Ints(v.iter().map(|x| x.0).collect()),
                v.iter().map(|x| x.1).collect(),
            ),
            Col::Strs(v) => (
                Values::Strs(v.iter().map(|x| x.0.as_str()).collect()),
                v.iter().map(|x| x.1).collect(),
            ),
            Col::Cells(v) => (
                Values::Cells(v.iter().map(|x| x.as_ref().map(Any::cell)).collect()),
                Vec::new(),
            ),
        };
        // Marks that say every row holds its value may be left out.
        let marks = match marks.iter().all(|&m| m == Mark::Value) {
            true if f % 2 == 0 => Vec::new(),
            _ => marks,
        };
        assert!(out.push(*f, values, marks));
    }
    out
}

fn to_grid<'a>(cols: &Columns<'a>, ncols: usize) -> Grid<'a> {
    let runs: &[ColumnRun<'a>] = cols.columns();
    let mut g = Grid::new(ncols);
    for r in 0..cols.num_rows() {
        g.push_row();
        for c in runs {
            let cell = match (&c.values, c.marks.get(r)) {
                (_, Some(Mark::Absent)) => None,
                (_, Some(Mark::Null)) => Some(Cell::Null),
                (Values::Ints(v), _) => Some(Cell::Int(v[r])),
                (Values::Strs(v), _) => Some(Cell::Str(v[r])),
                (Values::Cells(v), _) => v[r],
            };
            if let Some(cell) = cell {
                assert!(g.set(c.field, cell));
            }
        }
    }
    g
}

/// Everything a list holds, as text: fields, layouts, each record's values.
fn dump(l: &RecordList) -> (Vec<String>, Vec<Vec<String>>) {
    let fields = (0..l.num_fields())
        .map(|j| format!("{} {:?}", l.field_name(j), l.field_layout(j)))
        .collect();
    let recs = (0..l.len())
        .map(|r| {
            (0..l.num_fields())
                .map(|j| match l.get(r, j) {
                    memslim_records::CellRef::DictStr(_, s) => format!("Str({s:?})"),
                    c => format!("{c:?}"),
                })
                .collect()
        })
        .collect();
    (fields, recs)
}

fn start(kind: u8) -> RecordList {
    match kind {
        0 => RecordList::with_chunk_rows(50),
        1 => {
            // Fields of every kind already, a dictionary near its one-byte width.
            let mut l = RecordList::with_chunk_rows(64);
            let names: Vec<String> = (0..120).map(|k| format!("s{k}")).collect();
            for (k, n) in names.iter().enumerate() {
                let rec = [
                    ("f0", Cell::Int(k as i64)),
                    ("f1", Cell::Str(n)),
                    ("f2", Cell::Float(0.5)),
                    ("f3", Cell::Null),
                ];
                l.push_record(&rec).unwrap();
            }
            l
        }
        _ => RecordList::with_schema(
            &[
                ("f0", DType::Int64),
                ("f1", DType::Str),
                ("f2", DType::Float64),
                ("f3", DType::Object),
            ],
            50,
        )
        .unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn columns_are_stored_as_a_grid_of_the_same_records_is(
        blocks in blocks(),
        kind in 0u8..3,
        share in any::<bool>(),
    ) {
        let (mut by_cols, mut by_grid) = (start(kind), start(kind));
        for l in [&mut by_cols, &mut by_grid] {
            for f in ["f0", "f1", "f2", "f3"] {
                if l.field_index(f).is_none() {
                    l.add_field(f).unwrap();
                }
            }
        }
        // A copy shares the dictionaries: interning must not change the copy.
        let copy = share.then(|| by_cols.clone());
        let copied = copy.as_ref().map(dump);
        for block in &blocks {
            let cols = to_columns(block);
            let before = dump(&by_cols);
            let a = by_cols.push_columns(&cols);
            let b = by_grid.push_grid(&to_grid(&cols, by_grid.num_fields()));
            prop_assert_eq!(
                a.as_ref().map_err(RecordsError::to_string),
                b.as_ref().map_err(RecordsError::to_string)
            );
            if a.is_err() {
                prop_assert_eq!(dump(&by_cols), before);
            }
            prop_assert_eq!(dump(&by_cols), dump(&by_grid));
        }
        if let (Some(copy), Some(copied)) = (&copy, copied) {
            prop_assert_eq!(dump(copy), copied);
        }
        // (A copy shares buffers, which `nbytes` counts.)
        drop(copy);
        by_cols.optimize();
        by_grid.optimize();
        prop_assert_eq!(by_cols.nbytes(), by_grid.nbytes());
    }
}

#[test]
fn columns_past_the_list_or_given_twice_are_refused() {
    let mut l = RecordList::new();
    l.add_field("a").unwrap();
    let mut c = Columns::new(1);
    assert!(c.push(1, Values::Ints(vec![1]), Vec::new()));
    assert!(matches!(
        l.push_columns(&c),
        Err(RecordsError::UnknownField { .. })
    ));
    let mut c = Columns::new(1);
    assert!(c.push(0, Values::Ints(vec![1]), Vec::new()));
    assert!(c.push(0, Values::Ints(vec![2]), Vec::new()));
    assert!(matches!(
        l.push_columns(&c),
        Err(RecordsError::DuplicateKey { .. })
    ));
    assert!(
        !c.push(0, Values::Ints(vec![1, 2]), Vec::new()),
        "two rows for one"
    );
    assert!(
        !c.push(0, Values::Cells(vec![None]), vec![Mark::Null]),
        "cells carry their own marks"
    );
    assert_eq!(l.len(), 0);
}
