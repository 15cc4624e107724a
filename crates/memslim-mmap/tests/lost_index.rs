//! A memslim file whose index is lost and whose data has one damaged byte, opened to
//! read: every record that reads back is the record written at that position.

use std::fs;

use memslim_mmap::{Mode, RecordFile, index_path};
use memslim_records::{Cell, CellRef};

/// The first and the last 100 rows of `f`, by position (a damaged batch may state any
/// row count: records it moved would be at the end).
fn rows(f: &mut RecordFile) -> Vec<(usize, Option<String>)> {
    let n = f.len();
    let mut at: Vec<usize> = (0..n.min(100)).chain(n.saturating_sub(100)..n).collect();
    at.sort_unstable();
    at.dedup();
    at.into_iter()
        .map(|i| {
            let mut parts = Vec::new();
            let row = f
                .visit_row(i, |k, v| {
                    let v = match v {
                        CellRef::Encoded(b) => {
                            format!("{:?}", memslim_records::variant::decode(b))
                        }
                        v => format!("{v:?}"),
                    };
                    parts.push(format!("{k}={v}"));
                })
                .ok()
                .map(|()| parts.join(" "));
            (i, row)
        })
        .collect()
}

/// Found by the `record_file_open` fuzz target: a flipped byte in the first batch's
/// row count (20 became 61,460) failed that batch's checksum, but the rows of the
/// batches after it were placed after the 61,460 rows it stated, so record 20 read as
/// row 61,460, silently.
#[test]
fn a_damaged_row_count_does_not_move_later_records() {
    let dir = std::env::temp_dir().join(format!("memslim-lost-index-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join("good.msl");
    let mut f = RecordFile::open(&p, Mode::Append).unwrap();
    for (from, to) in [(0i64, 20i64), (20, 30), (30, 35)] {
        for i in from..to {
            let s = format!("s{i}");
            f.push_record(&[("i", Cell::Int(i)), ("s", Cell::Str(&s))])
                .unwrap();
        }
        f.flush().unwrap();
    }
    let good: Vec<String> = rows(&mut f).into_iter().map(|(_, r)| r.unwrap()).collect();
    f.close().unwrap();
    let data = fs::read(&p).unwrap();
    let q = dir.join("q.msl");
    for pos in (0..data.len()).step_by(3) {
        let mut bad = data.clone();
        bad[pos] ^= 0xf0;
        fs::write(&q, &bad).unwrap();
        let _ = fs::remove_file(index_path(&q));
        let Ok(mut r) = RecordFile::open(&q, Mode::Read) else {
            continue;
        };
        // No damaged count makes up records either (the last batch's included).
        assert!(
            r.len() <= good.len(),
            "byte {pos} flipped: {} records",
            r.len()
        );
        for (i, row) in rows(&mut r) {
            if let Some(row) = row {
                assert_eq!(Some(&row), good.get(i), "byte {pos} flipped: row {i}");
            }
        }
    }
    fs::remove_dir_all(&dir).ok();
}
