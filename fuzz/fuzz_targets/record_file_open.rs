//! The record-file opener on damaged files: a known-good record file (three commits, the
//! last starting a second segment) with up to two edits (a byte changed, a file cut
//! short, the index lost), or data and index bytes straight from the input.
//!
//! Whatever the damage: no panic; every record read is either an error or exactly the
//! record written (never silently wrong); after one edit, a writer that opens (without
//! `recover`) has lost at most the last commit (what a crash during that flush leaves);
//! and
//! `recover` gives a prefix of the records that reads back whole (of a damaged memslim
//! file; from raw bytes, only the rule for every read).
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use memslim_mmap::{Mode, RecordFile, index_path};
use memslim_records::{Cell, CellRef};

struct Good {
    data: Vec<u8>,
    index: Vec<u8>,
    rows: Vec<String>,
    /// Records after each commit.
    commits: Vec<usize>,
}

/// Where the files go: memory-backed if the system has it (a repair syncs).
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("memslim-fuzz-recfile-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz dir");
        d
    })
}

fn rows(f: &mut RecordFile) -> Vec<Option<String>> {
    (0..f.len())
        .map(|i| {
            let mut parts = Vec::new();
            f.visit_row(i, |k, v| {
                let v = match v {
                    CellRef::Encoded(b) => format!("{:?}", memslim_records::variant::decode(b)),
                    v => format!("{v:?}"),
                };
                parts.push(format!("{k}={v}"));
            })
            .ok()
            .map(|()| parts.join(" "))
        })
        .collect()
}

fn good() -> &'static Good {
    static GOOD: OnceLock<Good> = OnceLock::new();
    GOOD.get_or_init(|| {
        let p = dir().join("good.msl");
        let mut f = RecordFile::open(&p, Mode::Append).expect("create");
        let mut commits = Vec::new();
        for (from, to) in [(0i64, 20i64), (20, 30), (30, 35)] {
            for i in from..to {
                let s = format!("s{i}");
                let mut rec = vec![("i", Cell::Int(i)), ("s", Cell::Str(&s))];
                if i % 3 == 0 {
                    rec.push(("n", Cell::Null));
                }
                f.push_record(&rec).expect("push");
            }
            if from == 30 {
                f.push_record(&[("i", Cell::Float(0.5)), ("new", Cell::Bool(true))])
                    .expect("push");
            }
            f.flush().expect("flush");
            commits.push(f.len());
        }
        let rows = rows(&mut f).into_iter().map(|r| r.expect("row")).collect();
        f.close().expect("close");
        Good {
            data: std::fs::read(&p).expect("data"),
            index: std::fs::read(index_path(&p)).expect("index"),
            rows,
            commits,
        }
    })
}

/// Every record that reads back is the record written there.
fn check_rows(f: &mut RecordFile, truth: &[String], what: &str) {
    for (i, r) in rows(f).into_iter().enumerate() {
        if let Some(r) = r {
            assert_eq!(Some(&r), truth.get(i), "{what}: row {i}");
        }
    }
}

fn clear_side_files(q: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir()) {
        for e in rd.flatten() {
            if e.path().to_string_lossy().contains(".dropped-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_file(index_path(q));
}

fuzz_target!(|input: &[u8]| {
    let g = good();
    let [mode, rest @ ..] = input else { return };
    let (mut data, mut index) = (g.data.clone(), Some(g.index.clone()));
    let mut edits = 0;
    if mode & 1 == 1 {
        // bytes straight from the input: [index length u16][index][data]
        let [a, b, rest @ ..] = rest else { return };
        let n = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
        index = Some(rest[..n].to_vec()).filter(|i| !i.is_empty());
        data = rest[n..].to_vec();
    } else {
        for edit in rest.chunks_exact(4).take(2) {
            let pos = usize::from(u16::from_le_bytes([edit[1], edit[2]]));
            let target = match (edit[0] & 1, &mut index) {
                (1, Some(i)) => i,
                _ => &mut data,
            };
            if target.is_empty() {
                continue;
            }
            let pos = pos % target.len();
            edits += 1;
            match edit[0] >> 1 & 3 {
                0 | 1 => target[pos] ^= edit[3].max(1),
                2 => target.truncate(pos),
                _ => index = None,
            }
        }
    }
    let q = dir().join("q.msl");
    clear_side_files(&q);
    std::fs::write(&q, &data).expect("write data");
    if let Some(i) = &index {
        std::fs::write(index_path(&q), i).expect("write index");
    }
    let truth = &g.rows;
    if let Ok(mut r) = RecordFile::open(&q, Mode::Read) {
        check_rows(&mut r, truth, "reader");
    }
    if let Ok(mut w) = RecordFile::open(&q, Mode::Append) {
        check_rows(&mut w, truth, "writer");
        if mode & 1 == 0 && edits <= 1 && w.recovery().damage.is_none() {
            // a writer drops at most the last commit, as a crash during it would (two
            // faults, say an index and a data file both cut, can look like a crash
            // during an earlier commit)
            let before_last = g.commits[g.commits.len() - 2];
            assert!(
                w.len() >= before_last || w.len() == 0 && data.is_empty(),
                "a writer opened with {} records",
                w.len()
            );
        }
    }
    if let Ok(mut f) = RecordFile::recover(&q) {
        if mode & 1 == 1 {
            // another program's stream, perhaps: its messages are not verified
            check_rows(&mut f, truth, "recovered");
            return;
        }
        let got = rows(&mut f);
        for (i, r) in got.iter().enumerate() {
            let r = r.as_ref().unwrap_or_else(|| panic!("recovered row {i} does not read"));
            assert_eq!(Some(r), truth.get(i), "recovered row {i}");
        }
    }
});
