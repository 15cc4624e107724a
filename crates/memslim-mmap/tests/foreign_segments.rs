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
