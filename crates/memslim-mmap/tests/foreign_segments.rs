//! Foreign Arrow IPC streams written back to back (a schema that changed between
//! segments): what reads through the unified schema must be values or errors, never a
//! panic.

use std::fs;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use memslim_mmap::{Mode, RecordFile};
use memslim_records::CellRef;

/// A stream of `name: Utf8`, then one whose `name` is a dictionary column of nulls only
/// with an empty dictionary (what a writer gives for an all-null categorical): exporting
/// the second segment in the unified (plain string) schema once panicked inside
/// arrow-rs (`normalized_keys` asserts a non-empty dictionary).
#[test]
fn all_null_dictionary_column_with_an_empty_dictionary_in_a_later_segment() {
    let dir = std::env::temp_dir().join(format!("memslim-foreign-seg-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let plain: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
    let first = RecordBatch::try_from_iter([
        ("id", Arc::new(Int32Array::from(vec![7])) as ArrayRef),
        ("name", plain),
    ])
    .unwrap();
    let keys = Int32Array::from(vec![None, None]);
    let empty: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
    let names: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(keys, empty).unwrap());
    let ids: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
    let second = RecordBatch::try_from_iter([("id", ids), ("name", names)]).unwrap();
    let mut bytes = Vec::new();
    for b in [&first, &second] {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut bytes, &b.schema()).unwrap();
        w.write(b).unwrap();
        w.finish().unwrap();
    }
    let p = dir.join("two.arrows");
    fs::write(&p, &bytes).unwrap();

    let mut r = RecordFile::open(&p, Mode::Read).unwrap();
    assert_eq!((r.num_segments(), r.len()), (2, 3));
    let mut names = Vec::new();
    for i in 0..r.len() {
        r.visit_row(i, |k, v| {
            if k == "name" {
                names.push(match v {
                    CellRef::Str(s) | CellRef::DictStr(_, s) => Some(s.to_owned()),
                    CellRef::Null => None,
                    other => panic!("unexpected {other:?}"),
                });
            }
        })
        .unwrap();
    }
    assert_eq!(names, [Some("x".to_owned()), None, None]);

    let (_, batches) = r.to_arrow().unwrap();
    let col: Vec<Option<String>> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("name").unwrap();
            let s = c
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("plain strings");
            (0..s.len())
                .map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(col, names);
    let (_, one) = r.field_arrow("name", 3).unwrap();
    assert_eq!(one.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
    fs::remove_dir_all(&dir).ok();
}

/// The value of `c` in each record of `r`, read in the order of `rows`, as text.
fn cells_of(r: &mut RecordFile, rows: impl Iterator<Item = usize>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for i in rows {
        r.visit_row(i, |k, v| {
            if k == "c" {
                out.push((
                    i,
                    match v {
                        CellRef::Str(s) | CellRef::DictStr(_, s) => s.to_owned(),
                        CellRef::Int(n) => n.to_string(),
                        other => panic!("unexpected {other:?}"),
                    },
                ));
            }
        })
        .unwrap();
    }
    out.sort();
    out
}

/// Streams back to back, each with its own dictionaries under the same id 0: a string
/// dictionary (replaced, then extended by a delta, within its stream), a plain `int64`
/// column, an `int64` dictionary, a string dictionary again. Dictionaries belong to
/// their stream: each segment's batches were once decoded with every dictionary of the
/// file before them, so a later segment read as corrupt ("dictionary id 0 not found in
/// schema", or values of the wrong type) depending on the order of reads.
#[test]
fn each_segment_is_decoded_with_its_own_dictionaries() {
    use arrow_array::Int64Array;
    use arrow_array::types::Int8Type;
    use arrow_ipc::writer::{DictionaryHandling, IpcWriteOptions, StreamWriter};

    let dir = std::env::temp_dir().join(format!("memslim-foreign-dicts-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let strs = |keys: Vec<i8>, values: Vec<&str>| -> RecordBatch {
        let values: ArrayRef = Arc::new(StringArray::from(values));
        let d = DictionaryArray::<Int8Type>::try_new(keys.into(), values).unwrap();
        RecordBatch::try_from_iter([("c", Arc::new(d) as ArrayRef)]).unwrap()
    };
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![10, 20, 10]));
    let plain = RecordBatch::try_from_iter([("c", ints)]).unwrap();
    let int_dict = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from(vec![1, 0, 1]),
        Arc::new(Int64Array::from(vec![7, 8])),
    )
    .unwrap();
    let int_dict = RecordBatch::try_from_iter([("c", Arc::new(int_dict) as ArrayRef)]).unwrap();
    let segments: Vec<(DictionaryHandling, Vec<RecordBatch>)> = vec![
        (
            DictionaryHandling::Resend,
            vec![
                strs(vec![0, 1], vec!["a", "b"]),
                // Another dictionary: a replacement.
                strs(vec![1, 0], vec!["x", "y"]),
            ],
        ),
        (
            DictionaryHandling::Delta,
            vec![
                strs(vec![0], vec!["p"]),
                // The same dictionary and more: a delta.
                strs(vec![1, 0], vec!["p", "q"]),
            ],
        ),
        (DictionaryHandling::Resend, vec![plain]),
        (DictionaryHandling::Resend, vec![int_dict]),
        (
            DictionaryHandling::Resend,
            vec![strs(vec![0, 0], vec!["z"])],
        ),
    ];
    let mut bytes = Vec::new();
    for (handling, batches) in &segments {
        let opts = IpcWriteOptions::default().with_dictionary_handling(*handling);
        let mut w =
            StreamWriter::try_new_with_options(&mut bytes, &batches[0].schema(), opts).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    let p = dir.join("dicts.arrows");
    fs::write(&p, &bytes).unwrap();
    let want: Vec<(usize, String)> = [
        "a", "b", "y", "x", "p", "q", "p", "10", "20", "10", "8", "7", "8", "z", "z",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| (i, (*s).to_owned()))
    .collect();

    // In order, backwards, and last segment first then the rest: each starts from a
    // fresh open, so the decoder sees the segments in that order.
    let n = want.len();
    let orders: [Vec<usize>; 3] = [
        (0..n).collect(),
        (0..n).rev().collect(),
        (13..n).chain(7..13).chain(0..7).collect(),
    ];
    for order in orders {
        let mut r = RecordFile::open(&p, Mode::Read).unwrap();
        assert_eq!((r.num_segments(), r.len()), (5, n));
        assert_eq!(cells_of(&mut r, order.iter().copied()), want, "{order:?}");
    }
    let mut r = RecordFile::open(&p, Mode::Read).unwrap();
    let (_, batches) = r.to_arrow().unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), n);
    fs::remove_dir_all(&dir).ok();
}
