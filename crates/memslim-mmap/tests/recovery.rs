//! What opening does with damage: a crash's torn tail is dropped; any other damage makes
//! a writer refuse, a reader open what verifies (and say so), and `recover` repair it,
//! keeping every byte it cuts off in a side file. Also: a lost index is rebuilt only
//! from messages that verify against their own checksums.

use std::fs;
use std::path::{Path, PathBuf};

use memslim_mmap::format::{ENTRY_LEN, HEADER_LEN};
use memslim_mmap::{MmapError, Mode, RecordFile, index_path};
use memslim_records::{Cell, CellRef};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memslim-recovery-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn push(f: &mut RecordFile, from: i64, to: i64) {
    for i in from..to {
        let s = format!("s{i}");
        f.push_record(&[("i", Cell::Int(i)), ("s", Cell::Str(&s))])
            .unwrap();
    }
}

fn rows(f: &mut RecordFile) -> Result<Vec<String>, MmapError> {
    (0..f.len())
        .map(|i| {
            let mut parts = Vec::new();
            f.visit_row(i, |k, v| {
                let v = match v {
                    CellRef::Encoded(b) => {
                        format!("{:?}", memslim_records::variant::decode(b).unwrap())
                    }
                    v => format!("{v:?}"),
                };
                parts.push(format!("{k}={v}"));
            })?;
            Ok(parts.join(" "))
        })
        .collect()
}

/// Three commits (the last, if `grow`, starts a second segment). Returns the path, the
/// records, and the data and index lengths after each commit.
struct Written {
    path: PathBuf,
    truth: Vec<String>,
    data: Vec<u64>,
    index: Vec<u64>,
    /// Records after each commit.
    len: Vec<usize>,
}

fn three_commits(dir: &Path, grow: bool) -> Written {
    let path = dir.join(if grow { "g.msl" } else { "f.msl" });
    let mut f = RecordFile::open(&path, Mode::Append).unwrap();
    let (mut data, mut index, mut len) = (Vec::new(), Vec::new(), Vec::new());
    for (from, to) in [(0, 20), (20, 30), (30, 35)] {
        push(&mut f, from, to);
        if grow && from == 30 {
            f.push_record(&[("i", Cell::Float(0.5)), ("new", Cell::Bool(true))])
                .unwrap();
        }
        f.flush().unwrap();
        len.push(f.len());
        data.push(fs::metadata(&path).unwrap().len());
        index.push(fs::metadata(index_path(&path)).unwrap().len());
    }
    assert_eq!(f.num_segments(), 1 + grow as usize);
    let truth = rows(&mut f).unwrap();
    f.close().unwrap();
    Written {
        path,
        truth,
        data,
        index,
        len,
    }
}

/// A copy of the written files, with `data` and `index` as given (`None`: no index).
fn place(w: &Written, q: &Path, data: &[u8], index: Option<&[u8]>) {
    for e in fs::read_dir(q.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(".dropped-") {
            fs::remove_file(p).unwrap();
        }
    }
    let _ = w;
    fs::write(q, data).unwrap();
    match index {
        Some(i) => fs::write(index_path(q), i).unwrap(),
        None => {
            let _ = fs::remove_file(index_path(q));
        }
    }
}

fn files(q: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    (fs::read(q).unwrap(), fs::read(index_path(q)).ok())
}

fn side_files(q: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(q.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".dropped-"))
        .collect();
    v.sort();
    v
}

/// A writer refuses with `Corrupt` naming `path` and leaves both files as they were.
fn writer_refuses(q: &Path, named: &Path, what: &str) {
    let before = files(q);
    match RecordFile::open(q, Mode::Append) {
        Err(MmapError::Corrupt { path, reason, .. }) => {
            assert_eq!(path, named, "{what}");
            assert!(reason.contains("recover"), "{what}: {reason}");
        }
        Err(e) => panic!("{what}: {e}"),
        Ok(f) => panic!("{what}: opened for appending with {} records", f.len()),
    }
    assert!(
        files(q) == before,
        "{what}: a refused open changed the files"
    );
}

/// `recover` keeps a prefix of the truth at least `min` long, saves what it cuts off,
/// and leaves a file that opens cleanly for appending.
fn recovers(q: &Path, truth: &[String], min: usize, what: &str) -> usize {
    let (data_before, index_before) = files(q);
    let mut r = RecordFile::recover(q).unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = rows(&mut r).unwrap();
    assert!(got.len() >= min, "{what}: {} < {min}", got.len());
    assert_eq!(got[..], truth[..got.len()], "{what}");
    let rec = r.recovery().clone();
    drop(r);
    // every byte cut off is in a side file
    let saved = side_files(q);
    assert_eq!(saved.len(), rec.saved.len(), "{what}");
    let (data_after, _) = files(q);
    if data_after.len() < data_before.len() {
        let cut = &data_before[data_after.len()..];
        assert!(
            saved.iter().any(|p| fs::read(p).unwrap() == cut),
            "{what}: the data cut off is not saved"
        );
    }
    if let Some(old) = index_before.filter(|i| Some(i) != files(q).1.as_ref()) {
        assert!(
            saved.iter().any(|p| fs::read(p).unwrap() == old),
            "{what}: the old index is not saved"
        );
    }
    let mut w = RecordFile::open(q, Mode::Append).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(w.recovery().damage.is_none(), "{what}");
    assert_eq!(rows(&mut w).unwrap(), got, "{what}");
    got.len()
}

#[test]
fn every_flip_of_the_last_index_entry_is_refused_read_and_repaired() {
    let dir = tmpdir("last-entry");
    let q = dir.join("q.msl");
    for grow in [false, true] {
        let w = three_commits(&dir, grow);
        let (data, index) = files(&w.path);
        let index = index.unwrap();
        let last = index.len() - ENTRY_LEN;
        for pos in last..index.len() {
            let mut ix = index.clone();
            ix[pos] ^= 1 << (pos % 8);
            let what = format!("grow {grow} flip at {pos}");
            place(&w, &q, &data, Some(&ix));
            // a reader gives the commits before the damage, and says so
            let mut r = RecordFile::open(&q, Mode::Read).unwrap();
            assert_eq!(rows(&mut r).unwrap(), w.truth[..30], "{what}");
            let rec = r.recovery();
            assert!(rec.damage.as_deref().unwrap().contains("offset"), "{what}");
            assert_eq!(rec.dropped_data_bytes, w.data[2] - w.data[1], "{what}");
            assert_eq!(rec.dropped_index_bytes, w.index[2] - w.index[1], "{what}");
            drop(r);
            writer_refuses(&q, &index_path(&q), &what);
            // the last commit's data verifies by itself: nothing is lost
            assert_eq!(recovers(&q, &w.truth, w.truth.len(), &what), w.truth.len());
        }
    }
}

#[test]
fn an_index_cut_at_any_length_never_loses_more_than_the_last_commit_silently() {
    let dir = tmpdir("cut-index");
    let q = dir.join("q.msl");
    for grow in [false, true] {
        let w = three_commits(&dir, grow);
        let (data, index) = files(&w.path);
        let index = index.unwrap();
        let n = w.truth.len();
        for cut in 0..=index.len() {
            let what = format!("grow {grow} cut {cut}");
            place(&w, &q, &data, Some(&index[..cut]));
            let cut = cut as u64;
            if cut == 0 {
                // no index at all: rebuilt from the messages, each verified
                let mut r = RecordFile::open(&q, Mode::Read).unwrap();
                assert_eq!(rows(&mut r).unwrap(), w.truth, "{what}");
                drop(r);
                let mut a = RecordFile::open(&q, Mode::Append).unwrap();
                assert_eq!(rows(&mut a).unwrap(), w.truth, "{what}");
                continue;
            }
            if cut < HEADER_LEN as u64 {
                assert!(matches!(
                    RecordFile::open(&q, Mode::Read),
                    Err(MmapError::NotOurs { .. })
                ));
                assert_eq!(recovers(&q, &w.truth, n, &what), n);
                continue;
            }
            let mut r = RecordFile::open(&q, Mode::Read).unwrap();
            let got = rows(&mut r).unwrap();
            assert_eq!(got[..], w.truth[..got.len()], "{what}");
            let damaged = r.recovery().damage.is_some();
            drop(r);
            if cut >= w.index[1] {
                // all but (part of) the last commit: what a crash during its flush
                // leaves, so a writer drops it as one
                assert_eq!(got.len(), if cut == w.index[2] { n } else { 30 }, "{what}");
                assert!(!damaged, "{what}");
                assert_eq!(recovers(&q, &w.truth, n, &what), n);
            } else {
                // the data shows commits the index lost
                assert!(damaged, "{what}");
                writer_refuses(&q, &q, &what);
                assert_eq!(recovers(&q, &w.truth, n, &what), n);
            }
        }
    }
}

#[test]
fn a_cut_data_file_is_refused_read_and_repaired() {
    let dir = tmpdir("cut-data");
    let q = dir.join("q.msl");
    for grow in [false, true] {
        let w = three_commits(&dir, grow);
        let (data, index) = files(&w.path);
        for cut in (w.data[0] - 40..w.data[2]).step_by(7) {
            let what = format!("grow {grow} cut {cut}");
            place(&w, &q, &data[..cut as usize], index.as_deref());
            let mut r = RecordFile::open(&q, Mode::Read).unwrap();
            let got = rows(&mut r).unwrap();
            assert_eq!(got[..], w.truth[..got.len()], "{what}");
            let want = w.data.iter().filter(|&&d| d <= cut).count();
            assert_eq!(got.len(), [0, 20, 30, 35][want].min(w.len[2]), "{what}");
            assert!(r.recovery().damage.as_deref().unwrap().contains("ends at"));
            drop(r);
            writer_refuses(&q, &q, &what);
            recovers(&q, &w.truth, got.len(), &what);
        }
    }
}

#[test]
fn damaged_data_of_the_last_commit_is_refused_and_repaired() {
    let dir = tmpdir("last-data");
    let q = dir.join("q.msl");
    let w = three_commits(&dir, true);
    let (data, index) = files(&w.path);
    for pos in (w.data[1]..w.data[2]).step_by(5) {
        let what = format!("flip at {pos} (commit from {})", w.data[1]);
        let mut d = data.clone();
        d[pos as usize] ^= 0x20;
        place(&w, &q, &d, index.as_deref());
        // a reader finds the damage when it reads the batch, or at opening in the
        // schema message (and then gives the segments before it); a flipped
        // end-of-stream marker between segments is read by no record
        let mut r = RecordFile::open(&q, Mode::Read).unwrap();
        match rows(&mut r) {
            Ok(got) if r.recovery().damage.is_some() => assert_eq!(got, w.truth[..30]),
            Ok(got) => assert_eq!(got, w.truth, "{what}"),
            Err(e) => assert!(matches!(e, MmapError::Corrupt { .. }), "{what}"),
        }
        drop(r);
        writer_refuses(&q, &q, &what);
        assert_eq!(recovers(&q, &w.truth, 30, &what), 30, "{what}");
    }
}

/// The index is lost: each message memslim wrote carries its own checksum, so a flip
/// anywhere is an error or a reported prefix, never a wrong record, and a writer never
/// writes an index that blesses damage.
#[test]
fn a_lost_index_is_rebuilt_only_from_messages_that_verify() {
    let dir = tmpdir("lost-index");
    let q = dir.join("q.msl");
    let w = three_commits(&dir, true);
    let (data, _) = files(&w.path);
    let n = w.truth.len();
    for pos in 0..data.len() {
        let what = format!("flip at {pos}");
        let mut d = data.clone();
        d[pos] ^= 1 << (pos % 8);
        place(&w, &q, &d, None);
        match RecordFile::open(&q, Mode::Read) {
            Ok(mut r) => match rows(&mut r) {
                Ok(got) => {
                    assert_eq!(got[..], w.truth[..got.len()], "{what}");
                    if got.len() < n {
                        assert!(r.recovery().damage.is_some(), "{what}: silently short");
                    } else {
                        assert_eq!(got, w.truth, "{what}: went unnoticed");
                        // only bytes no record depends on: the key of a checksum
                        // itself, an end-of-stream marker's padding
                    }
                }
                Err(e) => assert!(matches!(e, MmapError::Corrupt { .. }), "{what}: {e}"),
            },
            Err(e) => assert!(
                matches!(e, MmapError::Corrupt { .. } | MmapError::NotOurs { .. }),
                "{what}: {e}"
            ),
        }
        match RecordFile::open(&q, Mode::Append) {
            Ok(mut a) => assert_eq!(rows(&mut a).unwrap(), w.truth, "{what}"),
            Err(e) => {
                assert!(
                    matches!(e, MmapError::Corrupt { .. } | MmapError::NotOurs { .. }),
                    "{what}: {e}"
                );
                assert!(!index_path(&q).exists() || fs::read(index_path(&q)).unwrap().is_empty());
            }
        }
    }
}

/// A foreign stream adopted by memslim and appended to: its own messages have no
/// checksum, memslim's do; without the index both read back, and a flip in memslim's
/// part is caught.
#[test]
fn a_foreign_stream_appended_to_then_losing_its_index() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch};

    let dir = tmpdir("foreign");
    let p = dir.join("s.arrows");
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    let batch = RecordBatch::try_from_iter([("i", ids)]).unwrap();
    let mut sw =
        arrow_ipc::writer::StreamWriter::try_new(fs::File::create(&p).unwrap(), &batch.schema())
            .unwrap();
    sw.write(&batch).unwrap();
    sw.finish().unwrap();
    let mut a = RecordFile::open(&p, Mode::Append).unwrap();
    a.push_record(&[("i", Cell::Int(4))]).unwrap();
    a.close().unwrap();
    fs::remove_file(index_path(&p)).unwrap();
    let want = ["i=Int(1)", "i=Int(2)", "i=Int(3)", "i=Int(4)"];
    let mut r = RecordFile::open(&p, Mode::Read).unwrap();
    assert_eq!(rows(&mut r).unwrap(), want);
    drop(r);
    let data = fs::read(&p).unwrap();
    let mut d = data.clone();
    let last = d.len() - 3;
    d[last] ^= 1;
    fs::write(&p, &d).unwrap();
    let mut r = RecordFile::open(&p, Mode::Read).unwrap();
    assert!(matches!(rows(&mut r), Err(MmapError::Corrupt { .. })));
    drop(r);
    assert!(matches!(
        RecordFile::open(&p, Mode::Append),
        Err(MmapError::Corrupt { .. })
    ));
    assert!(fs::read(index_path(&p)).map_or(true, |i| i.is_empty()));
    let mut r = RecordFile::recover(&p).unwrap();
    assert_eq!(rows(&mut r).unwrap(), want[..3]);
    assert_eq!(r.recovery().saved.len(), 1);
}
