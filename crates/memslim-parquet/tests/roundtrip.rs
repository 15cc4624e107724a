//! Records written to Parquet (one file, or a partitioned dataset) read back exactly,
//! checked against plain vectors of key/value pairs.

use std::path::PathBuf;

use memslim_parquet::{
    DatasetWriter, ParquetError, ParquetReader, ReadOptions, WriteOptions, read_all,
};
use memslim_records::variant::{self, Value};
use memslim_records::{Cell, CellRef, RecordList};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl PartialEq for V {
    fn eq(&self, other: &V) -> bool {
        match (self, other) {
            (V::Float(a), V::Float(b)) => a.to_bits() == b.to_bits(),
            (V::Null, V::Null) => true,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Int(a), V::Int(b)) => a == b,
            (V::Str(a), V::Str(b)) => a == b,
            _ => false,
        }
    }
}

type Rec = Vec<(String, V)>;

fn cell(v: &V) -> Cell<'_> {
    match v {
        V::Null => Cell::Null,
        V::Bool(b) => Cell::Bool(*b),
        V::Int(i) => Cell::Int(*i),
        V::Float(f) => Cell::Float(*f),
        V::Str(s) => Cell::Str(s),
    }
}

fn value(c: CellRef<'_>) -> V {
    match c {
        CellRef::Null => V::Null,
        CellRef::Bool(b) => V::Bool(b),
        CellRef::Int(i) => V::Int(i),
        CellRef::Float(f) => V::Float(f),
        CellRef::Str(s) | CellRef::DictStr(_, s) => V::Str(s.to_owned()),
        // Columns mixing types hold variant-encoded values.
        CellRef::Encoded(b) => match variant::decode(b).unwrap() {
            Value::None => V::Null,
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Float(f) => V::Float(f),
            Value::Str(s) => V::Str(s),
            other => panic!("unexpected value {other:?}"),
        },
        other => panic!("unexpected cell {other:?}"),
    }
}

fn list_of(recs: &[Rec]) -> RecordList {
    let mut l = RecordList::with_chunk_rows(7);
    for r in recs {
        let cells: Vec<(&str, Cell<'_>)> = r.iter().map(|(k, v)| (k.as_str(), cell(v))).collect();
        l.push_record(&cells).unwrap();
    }
    l
}

/// `recs` written to the Parquet file `path`, with the default options.
fn write_file(path: &std::path::Path, recs: &[Rec]) {
    let mut w = DatasetWriter::file(path, WriteOptions::default()).unwrap();
    w.write(&list_of(recs)).unwrap();
    w.close().unwrap();
}

fn recs_of(l: &RecordList) -> Vec<Rec> {
    (0..l.len())
        .map(|i| {
            let mut r = Vec::new();
            l.visit_row(i, |j, c| r.push((l.field_name(j).to_owned(), value(c))));
            r
        })
        .collect()
}

fn value_strategy() -> impl Strategy<Value = V> {
    prop_oneof![
        Just(V::Null),
        any::<bool>().prop_map(V::Bool),
        any::<i64>().prop_map(V::Int),
        prop_oneof![Just(-0.0), Just(f64::NAN), Just(1.5), any::<f64>()].prop_map(V::Float),
        "[a-c]{0,3}".prop_map(V::Str),
    ]
}

/// Records over keys a..d plus `p` (a partition key: small str/int/None values), in
/// varying key orders, some keys absent.
fn records() -> impl Strategy<Value = Vec<Rec>> {
    let part = prop_oneof![
        Just(None),
        Just(Some(V::Null)),
        Just(Some(V::Str("x y".into()))),
        Just(Some(V::Str("1".into()))),
        Just(Some(V::Int(1))),
    ];
    let rec = (
        proptest::collection::vec(proptest::option::of(value_strategy()), 4),
        part,
        any::<bool>(),
    )
        .prop_map(|(vals, p, flip)| {
            let mut r: Rec = ["a", "b", "c", "d"]
                .iter()
                .zip(vals)
                .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v)))
                .collect();
            if let Some(p) = p {
                r.insert(r.len() / 2, ("p".into(), p));
            }
            if flip {
                r.reverse();
            }
            r
        });
    proptest::collection::vec(rec, 0..40)
}

fn tmpdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "memslim-parquet-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn one_file_round_trips_exactly(recs in records(), split in 0usize..40) {
        let dir = tmpdir("file");
        let path = dir.join("x.parquet");
        let list = list_of(&recs);
        let mut w = DatasetWriter::file(&path, WriteOptions { row_group_rows: 5, ..WriteOptions::default() }).unwrap();
        w.write(&list).unwrap();
        w.close().unwrap();
        let back = read_all(std::slice::from_ref(&path), ReadOptions { batch_rows: 3, ..ReadOptions::default() }).unwrap();
        prop_assert_eq!(recs_of(&back), recs.clone());
        // In batches, across row groups.
        let mut got = Vec::new();
        for l in ParquetReader::open(std::slice::from_ref(&path), ReadOptions { batch_rows: split.max(1), ..ReadOptions::default() }).unwrap() {
            got.extend(recs_of(&l.unwrap()));
        }
        prop_assert_eq!(got, recs);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partitioned_dataset_round_trips_per_partition(recs in records(), max in 1usize..9) {
        let dir = tmpdir("ds");
        let mut w = DatasetWriter::dataset(&dir, &["p".to_owned()], WriteOptions {
            max_rows_per_file: Some(max),
            ..WriteOptions::default()
        }).unwrap();
        // Two batches: the second may widen types (a new part file).
        let half = recs.len() / 2;
        w.write(&list_of(&recs[..half])).unwrap();
        w.write(&list_of(&recs[half..])).unwrap();
        let files = w.close().unwrap();
        prop_assert!(files.iter().all(|f| f.exists()));
        let back = recs_of(&read_all(std::slice::from_ref(&dir), ReadOptions::default()).unwrap());
        // Files are per partition: compare as multisets (key order and values exact).
        let key = |r: &Rec| format!("{r:?}");
        let mut want: Vec<String> = recs.iter().map(key).collect();
        let mut got: Vec<String> = back.iter().map(key).collect();
        want.sort();
        got.sort();
        prop_assert_eq!(got, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn projection_reads_only_the_chosen_keys_in_record_order() {
    let dir = tmpdir("proj");
    let path = dir.join("p.parquet");
    let recs: Vec<Rec> = vec![
        vec![
            ("b".into(), V::Int(1)),
            ("a".into(), V::Str("x".into())),
            ("c".into(), V::Null),
        ],
        vec![("a".into(), V::Float(2.0)), ("c".into(), V::Bool(true))],
    ];
    write_file(&path, &recs);
    let opts = ReadOptions {
        columns: Some(vec!["c".into(), "b".into()]),
        ..ReadOptions::default()
    };
    let back = recs_of(&read_all(&[path], opts).unwrap());
    assert_eq!(
        back,
        vec![
            vec![("b".to_owned(), V::Int(1)), ("c".to_owned(), V::Null)],
            vec![("c".to_owned(), V::Bool(true))],
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let dir = tmpdir("bad");
    let path = dir.join("ok.parquet");
    let recs: Vec<Rec> = (0..50)
        .map(|i| {
            vec![
                ("a".into(), V::Int(i)),
                ("s".into(), V::Str(format!("v{i}"))),
            ]
        })
        .collect();
    write_file(&path, &recs);
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.join("bad.parquet");
    for cut in [0, 3, 8, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        match read_all(std::slice::from_ref(&bad), ReadOptions::default()) {
            Err(ParquetError::Corrupt { path, .. }) => assert_eq!(path, bad),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Every single-byte flip: an error naming the file, or records (pages carry no
    // checksum), never a panic.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        std::fs::write(&bad, &b).unwrap();
        if let Err(e) = read_all(std::slice::from_ref(&bad), ReadOptions::default()) {
            assert!(e.to_string().contains("bad.parquet"), "{e}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn record_files_convert_exactly() {
    use memslim_mmap::{Mode, RecordFile};
    let dir = tmpdir("recfile");
    let src = dir.join("log.msl");
    let recs: Vec<Rec> = (0..300)
        .map(|i| {
            let mut r: Rec = vec![
                ("id".into(), V::Int(i)),
                (
                    "x".into(),
                    if i % 3 == 0 {
                        V::Int(i)
                    } else {
                        V::Float(i as f64 + 0.5)
                    },
                ),
            ];
            if i % 4 == 0 {
                r.push(("note".into(), V::Null));
            }
            if i % 5 == 0 {
                r.reverse();
            }
            r
        })
        .collect();
    let mut f = RecordFile::open(&src, Mode::Append).unwrap();
    for chunk in recs.chunks(70) {
        for r in chunk {
            let cells: Vec<(&str, Cell<'_>)> =
                r.iter().map(|(k, v)| (k.as_str(), cell(v))).collect();
            f.push_record(&cells).unwrap();
        }
        f.flush().unwrap();
    }
    f.close().unwrap();
    let out = dir.join("log.parquet");
    let mut w = DatasetWriter::file(&out, WriteOptions::default()).unwrap();
    assert_eq!(
        memslim_parquet::write_record_file(&src, &mut w).unwrap(),
        300
    );
    w.close().unwrap();
    assert_eq!(
        recs_of(&read_all(&[out], ReadOptions::default()).unwrap()),
        recs
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_part_file_read_alone_keeps_its_partition_value() {
    let dir = tmpdir("alone");
    let recs: Vec<Rec> = vec![
        vec![("p".into(), V::Str("a/b".into())), ("v".into(), V::Int(1))],
        vec![("v".into(), V::Int(2)), ("p".into(), V::Int(-4))],
    ];
    let mut w = DatasetWriter::dataset(&dir, &["p".to_owned()], WriteOptions::default()).unwrap();
    w.write(&list_of(&recs)).unwrap();
    let mut files = w.close().unwrap();
    files.sort();
    let mut got: Vec<Rec> = files
        .iter()
        .flat_map(|f| recs_of(&read_all(std::slice::from_ref(f), ReadOptions::default()).unwrap()))
        .collect();
    got.sort_by_key(|r| format!("{:?}", r.iter().find(|(k, _)| k == "v")));
    assert_eq!(got, recs);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn options_out_of_range_are_refused_before_any_file_is_touched() {
    let dir = tmpdir("opts");
    let file = dir.join("one.parquet");
    let invalid = |r: Result<DatasetWriter, ParquetError>, want: &str| match r {
        Err(ParquetError::Invalid(m)) => assert!(m.contains(want), "{m:?} lacks {want:?}"),
        Err(e) => panic!("expected Invalid({want:?}), got {e}"),
        Ok(_) => panic!("expected Invalid({want:?}), got a writer"),
    };
    let opts = |rows: usize, max: Option<usize>, open: usize| WriteOptions {
        row_group_rows: rows,
        max_rows_per_file: max,
        max_open_files: open,
        ..WriteOptions::default()
    };
    invalid(DatasetWriter::file(&file, opts(0, None, 1)), "row group");
    invalid(
        DatasetWriter::file(&file, opts(1, Some(5), 1)),
        "dataset directory",
    );
    invalid(
        DatasetWriter::dataset(&dir, &[], opts(0, None, 1)),
        "row group",
    );
    invalid(
        DatasetWriter::dataset(&dir, &[], opts(1, Some(0), 1)),
        "max_rows_per_file",
    );
    invalid(
        DatasetWriter::dataset(&dir, &[], opts(1, None, 0)),
        "max_open_files",
    );
    let by = ["p".to_owned()];
    invalid(
        DatasetWriter::create(&file, false, &by, opts(1, None, 1)),
        "partition_by",
    );
    assert!(DatasetWriter::create(&file, false, &[], opts(1, None, 1)).is_ok());
    assert!(DatasetWriter::create(&dir, true, &by, opts(1, Some(1), 1)).is_ok());
    assert!(
        !file.exists(),
        "a writer creates its file only when it writes"
    );

    // A batch of no rows is refused before the inputs are looked at (this one is missing).
    let zero = ReadOptions {
        batch_rows: 0,
        ..ReadOptions::default()
    };
    match ParquetReader::open(&[dir.join("missing.parquet")], zero) {
        Err(ParquetError::Invalid(m)) => assert!(m.contains("at least 1 row"), "{m}"),
        Err(e) => panic!("expected Invalid, got {e}"),
        Ok(_) => panic!("expected Invalid, got a reader"),
    }
}

#[test]
fn a_dataset_of_no_records_is_an_empty_directory_that_reads_back_empty() {
    let parent = tmpdir("empty-ds");
    let dir = parent.join("nested").join("ds");
    let w = DatasetWriter::dataset(&dir, &["p".to_owned()], WriteOptions::default()).unwrap();
    assert!(w.close().unwrap().is_empty());
    assert!(dir.is_dir());
    let back = read_all(std::slice::from_ref(&dir), ReadOptions::default()).unwrap();
    assert_eq!(back.len(), 0);
    // Files already there stay, and nothing is added.
    std::fs::write(dir.join("notes.txt"), b"kept").unwrap();
    let mut w = DatasetWriter::dataset(&dir, &[], WriteOptions::default()).unwrap();
    w.write(&list_of(&[])).unwrap();
    assert!(w.close().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&parent).unwrap();
}

/// Rewrites the Parquet file `src` to `dst` as another tool does that carries the
/// key-value metadata through (pyarrow's `read` + `write_table`): rows in the order
/// `order` picks, written with `created_by`, without the notes named in `drop`.
fn rewrite(src: &PathBuf, dst: &PathBuf, created_by: &str, order: &[usize], drop: &[&str]) {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(src).unwrap()).unwrap();
    let kv: Vec<_> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|k| k.key != "ARROW:schema" && !drop.contains(&k.key.as_str()))
        .collect();
    let schema = builder.schema().clone();
    let batches: Vec<_> = builder.build().unwrap().map(Result::unwrap).collect();
    let rows = one_row_batches(&batches);
    let props = WriterProperties::builder()
        .set_created_by(created_by.to_owned())
        .set_key_value_metadata(Some(kv))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(dst).unwrap(), schema, Some(props)).unwrap();
    for &r in order {
        w.write(&rows[r]).unwrap();
    }
    w.close().unwrap();
}

/// The rows of `batches` as one-row batches.
fn one_row_batches(batches: &[arrow_array::RecordBatch]) -> Vec<arrow_array::RecordBatch> {
    batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| b.slice(i, 1)))
        .collect()
}

fn kv(path: &PathBuf) -> Vec<(String, String)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|k| (k.key, k.value.unwrap_or_default()))
        .collect()
}

#[test]
fn notes_carried_into_a_rewrite_are_not_applied_to_its_rows() {
    let dir = tmpdir("rewrite");
    let src = dir.join("orig.parquet");
    let f = |k: &str, v: V| (k.to_owned(), v);
    let recs: Vec<Rec> = vec![
        vec![f("id", V::Int(0)), f("x", V::Int(2))],
        vec![f("id", V::Int(1))],
        vec![f("id", V::Int(2)), f("x", V::Float(7.25))],
        vec![f("x", V::Float(5.5)), f("id", V::Int(3))],
    ];
    write_file(&src, &recs);
    let read =
        |p: &PathBuf| recs_of(&read_all(std::slice::from_ref(p), ReadOptions::default()).unwrap());
    // memslim's own file: exact, and its notes are sealed.
    assert_eq!(read(&src), recs);
    assert!(kv(&src).iter().any(|(k, _)| k == "memslim.seal"));
    // As written by others: nulls for absent keys, floats, keys in column order.
    let foreign = |rows: &[usize]| -> Vec<Rec> {
        rows.iter()
            .map(|&r| {
                let id = V::Int(r as i64);
                let x = match r {
                    0 => V::Float(2.0),
                    1 => V::Null,
                    2 => V::Float(7.25),
                    _ => V::Float(5.5),
                };
                vec![f("id", id), f("x", x)]
            })
            .collect()
    };
    let cases: [(&str, &str, &[usize]); 5] = [
        // Sorted by another tool: same row count, other rows.
        ("sorted", "parquet-cpp-arrow version 21.0.0", &[3, 2, 1, 0]),
        // Filtered: fewer rows than the notes describe.
        ("filtered", "parquet-cpp-arrow version 21.0.0", &[2, 3]),
        // The same rows by another writer: the notes cannot be verified either.
        ("copied", "parquet-cpp-arrow version 21.0.0", &[0, 1, 2, 3]),
        // A writer that claims to be memslim: the seal does not match its bytes.
        ("claims-memslim", "memslim 0.1.0", &[3, 2, 1, 0]),
        ("claims-memslim-filtered", "memslim 0.1.0", &[1, 2]),
    ];
    for (tag, by, order) in cases {
        let dst = dir.join(format!("{tag}.parquet"));
        rewrite(&src, &dst, by, order, &[]);
        assert!(kv(&dst).iter().any(|(k, _)| k == "memslim.absent"), "{tag}");
        assert_eq!(read(&dst), foreign(order), "{tag}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_partition_note_carried_into_a_copy_adds_no_key() {
    let dir = tmpdir("partcopy");
    let f = |k: &str, v: V| (k.to_owned(), v);
    let recs: Vec<Rec> = vec![vec![f("id", V::Int(1)), f("country", V::Str("DE".into()))]];
    let mut w = DatasetWriter::dataset(
        dir.join("ds"),
        &["country".to_owned()],
        WriteOptions::default(),
    )
    .unwrap();
    w.write(&list_of(&recs)).unwrap();
    let files = w.close().unwrap();
    let part = &files[0];
    // Read in place, memslim's part file gives its partition value back.
    assert_eq!(
        recs_of(&read_all(std::slice::from_ref(part), ReadOptions::default()).unwrap()),
        recs
    );
    let copy = dir.join("copy.parquet");
    rewrite(part, &copy, "parquet-cpp-arrow version 21.0.0", &[0], &[]);
    assert!(kv(&copy).iter().any(|(k, _)| k == "memslim.partition"));
    assert_eq!(
        recs_of(&read_all(&[copy], ReadOptions::default()).unwrap()),
        vec![vec![f("id", V::Int(1))]]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn notes_without_a_seal_are_not_honoured() {
    // A file memslim wrote before it sealed its notes (or one whose seal was removed)
    // reads as a file written by others.
    let dir = tmpdir("unsealed");
    let src = dir.join("orig.parquet");
    let f = |k: &str, v: V| (k.to_owned(), v);
    let recs: Vec<Rec> = vec![
        vec![f("id", V::Int(0))],
        vec![f("id", V::Int(1)), f("x", V::Int(2))],
        vec![f("x", V::Float(0.5)), f("id", V::Int(2))],
    ];
    write_file(&src, &recs);
    let dst = dir.join("unsealed.parquet");
    rewrite(&src, &dst, "memslim 0.1.0", &[0, 1, 2], &["memslim.seal"]);
    assert_eq!(
        recs_of(&read_all(&[dst], ReadOptions::default()).unwrap()),
        vec![
            vec![f("id", V::Int(0)), f("x", V::Null)],
            vec![f("id", V::Int(1)), f("x", V::Float(2.0))],
            vec![f("id", V::Int(2)), f("x", V::Float(0.5))],
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_sealed_with_version_1_notes_still_read_back_exactly() {
    // Written by memslim before its notes went to runs: per-row hex bitmaps
    // (`memslim.absent` "0:20;1:22;2:38") and per-row key orders, seal version 1.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1_notes.parquet");
    assert!(
        kv(&path)
            .iter()
            .any(|(k, v)| k == "memslim.seal" && v.starts_with("1:"))
    );
    let f = |k: &str, v: V| (k.to_owned(), v);
    let want: Vec<Rec> = vec![
        vec![
            f("id", V::Int(0)),
            f("x", V::Float(1.5)),
            f("s", V::Str("a".into())),
        ],
        vec![f("id", V::Int(1)), f("s", V::Null)],
        vec![
            f("s", V::Str("c".into())),
            f("id", V::Int(2)),
            f("x", V::Int(3)),
        ],
        vec![f("id", V::Int(3)), f("x", V::Null)],
        vec![f("x", V::Int(2)), f("id", V::Int(4))],
        vec![],
        vec![
            f("id", V::Int(6)),
            f("s", V::Str("g".into())),
            f("x", V::Float(0.25)),
        ],
    ];
    for batch_rows in [1, 2, 3, 100] {
        let opts = ReadOptions {
            batch_rows,
            ..ReadOptions::default()
        };
        let got: Vec<Rec> = ParquetReader::open(std::slice::from_ref(&path), opts)
            .unwrap()
            .flat_map(|l| recs_of(&l.unwrap()))
            .collect();
        assert_eq!(got, want, "batches of {batch_rows}");
    }
}
