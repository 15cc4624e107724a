//! Writers of files and datasets: several writers of one path, the names they give
//! their files and directories, and what a reader then finds there.

use std::path::{Path, PathBuf};

use memslim_parquet::{DatasetWriter, ReadOptions, WriteOptions, read_all};
use memslim_records::{Cell, CellRef, RecordList};

fn tmpdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "memslim-parquet-writers-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Records `{"i": k, "tag": tag}` for `k` in `range`.
fn tagged(range: std::ops::Range<i64>, tag: &str) -> RecordList {
    let mut l = RecordList::new();
    for k in range {
        l.push_record(&[("i", Cell::Int(k)), ("tag", Cell::Str(tag))])
            .unwrap();
    }
    l
}

/// The `(i, tag)` pairs of `path`, in order.
fn pairs(path: &Path) -> Vec<(i64, String)> {
    let l = read_all(&[path.to_owned()], ReadOptions::default()).unwrap();
    let (i, t) = (l.field_index("i").unwrap(), l.field_index("tag").unwrap());
    (0..l.len())
        .map(|r| match (l.get(r, i), l.get(r, t)) {
            (CellRef::Int(k), CellRef::Str(s) | CellRef::DictStr(_, s)) => (k, s.to_owned()),
            other => panic!("unexpected cells {other:?}"),
        })
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn two_writers_of_one_file_never_share_a_temporary_file() {
    let dir = tmpdir("same-path");
    let p = dir.join("out.parquet");
    let small = WriteOptions {
        row_group_rows: 100,
        ..WriteOptions::default()
    };
    // A's first batch, then B writes the same path from start to end, then A goes on.
    let mut a = DatasetWriter::file(&p, small.clone()).unwrap();
    a.write(&tagged(0..500, "A")).unwrap();
    let mut b = DatasetWriter::file(&p, small.clone()).unwrap();
    b.write(&tagged(0..300, "B")).unwrap();
    b.close().unwrap();
    let want_b: Vec<_> = (0..300).map(|k| (k, "B".to_owned())).collect();
    assert_eq!(pairs(&p), want_b);
    a.write(&tagged(500..600, "A")).unwrap();
    assert_eq!(pairs(&p), want_b, "A's unfinished file is not at the path");
    a.close().unwrap();
    // The last complete writer wins, whole; no temporary file is left.
    let want_a: Vec<_> = (0..600).map(|k| (k, "A".to_owned())).collect();
    assert_eq!(pairs(&p), want_a);
    assert_eq!(names(&dir), ["out.parquet"]);
    // A writer dropped unfinished leaves the complete file there alone.
    let mut c = DatasetWriter::file(&p, small).unwrap();
    c.write(&tagged(0..10, "C")).unwrap();
    drop(c);
    assert_eq!(pairs(&p), want_a);
    assert_eq!(names(&dir), ["out.parquet"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_long_file_name_keeps_its_temporary_name_within_limits() {
    let dir = tmpdir("long-name");
    let p = dir.join(format!("{}.parquet", "é".repeat(120)));
    let mut w = DatasetWriter::file(&p, WriteOptions::default()).unwrap();
    w.write(&tagged(0..3, "L")).unwrap();
    w.close().unwrap();
    assert_eq!(pairs(&p).len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_partition_field_starting_with_an_underscore_or_a_dot_reads_back() {
    for field in ["_src", ".src", "__x"] {
        let dir = tmpdir("hidden-key");
        let root = dir.join("ds");
        let mut l = RecordList::new();
        for (i, v) in [(1, "x"), (2, "y")] {
            l.push_record(&[("id", Cell::Int(i)), (field, Cell::Str(v))])
                .unwrap();
        }
        let mut w =
            DatasetWriter::dataset(&root, &[field.to_owned()], WriteOptions::default()).unwrap();
        w.write(&l).unwrap();
        let files = w.close().unwrap();
        assert_eq!(files.len(), 2);
        // The directory is not hidden: its first byte is escaped.
        for d in names(&root) {
            assert!(d.starts_with('%'), "{d}");
        }
        let back = read_all(&[root], ReadOptions::default()).unwrap();
        assert_eq!(back.len(), 2);
        let j = back.field_index(field).unwrap();
        let got: Vec<_> = (0..2).map(|r| format!("{:?}", back.get(r, j))).collect();
        assert_eq!(
            got,
            [format!("{:?}", l.get(0, 1)), format!("{:?}", l.get(1, 1))]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The names of the columns stored in the Parquet file `path`.
fn columns(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[test]
fn an_empty_list_with_fields_is_written_with_its_columns() {
    let dir = tmpdir("empty-fields");
    let p = dir.join("e.parquet");
    let mut l = tagged(0..3, "E");
    l = l.slice(0, 0);
    assert_eq!(l.num_fields(), 2);
    let mut w = DatasetWriter::file(&p, WriteOptions::default()).unwrap();
    w.write(&l).unwrap();
    w.close().unwrap();
    assert_eq!(columns(&p), ["i", "tag"]);
    assert_eq!(
        read_all(std::slice::from_ref(&p), ReadOptions::default())
            .unwrap()
            .len(),
        0
    );
    // With no fields at all, the file has no columns, as before.
    let mut w = DatasetWriter::file(&p, WriteOptions::default()).unwrap();
    w.write(&RecordList::new()).unwrap();
    w.close().unwrap();
    assert!(columns(&p).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_write_all_leaves_no_part_of_the_list() {
    let dir = tmpdir("all-or-nothing");
    let long = "v".repeat(300); // a directory name no filesystem takes
    let mut l = RecordList::new();
    for (i, p) in [(1, "a"), (2, "a"), (3, "b"), (4, long.as_str())] {
        l.push_record(&[("id", Cell::Int(i)), ("p", Cell::Str(p))])
            .unwrap();
    }
    let opts = WriteOptions {
        max_rows_per_file: Some(1),
        ..WriteOptions::default()
    };
    // Into a new directory: nothing is left, the directory neither.
    let root = dir.join("new");
    let w = DatasetWriter::dataset(&root, &["p".to_owned()], opts.clone()).unwrap();
    assert!(w.write_all(&l).is_err());
    assert!(!root.exists());
    // Into a dataset already there: its files stay, and only they.
    let root = dir.join("old");
    let w = DatasetWriter::dataset(&root, &["p".to_owned()], opts.clone()).unwrap();
    let first = w.write_all(&l.slice(0, 1)).unwrap();
    let w = DatasetWriter::dataset(&root, &["p".to_owned()], opts).unwrap();
    assert!(w.write_all(&l).is_err());
    assert_eq!(names(&root), ["p=a"]);
    assert_eq!(names(&root.join("p=a")).len(), 1);
    assert!(first[0].exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
