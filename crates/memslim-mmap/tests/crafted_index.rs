//! Index entries whose checksums are right but whose numbers are not (a crafted or
//! rewritten `.idx`): an error or the records before them, never a panic.

use std::fs;

use memslim_mmap::format::{ENTRY_LEN, Entry, HEADER_LEN, MessageKind, decode_entry, encode_entry};
use memslim_mmap::{MmapError, Mode, RecordFile, index_path};
use memslim_records::Cell;

/// A batch entry right after the file's last message whose length reaches `u64::MAX`,
/// then (`extra`) entries at the largest offset: `offset + len` once overflowed in
/// `Entry::end` (a panic under overflow checks, a wrapped offset without).
#[test]
fn entry_lengths_that_overflow_the_offset_are_damage() {
    let dir = std::env::temp_dir().join(format!("memslim-crafted-idx-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join("a.msl");
    let mut f = RecordFile::open(&p, Mode::Append).unwrap();
    f.push_record(&[("id", Cell::Int(1))]).unwrap();
    f.close().unwrap();
    let ip = index_path(&p);
    let idx = fs::read(&ip).unwrap();
    let n = (idx.len() - HEADER_LEN) / ENTRY_LEN;
    let (last, _) = decode_entry(&idx[HEADER_LEN + (n - 1) * ENTRY_LEN..]).unwrap();
    let end = last.end();
    let batch = |offset, len| Entry {
        offset,
        len,
        rows: 1,
        kind: MessageKind::Batch,
        crc: Some(0),
    };
    let cases: [&[(Entry, bool)]; 3] = [
        &[(batch(end, u64::MAX - end), true)],
        &[
            (batch(end, u64::MAX - end), false),
            (batch(u64::MAX, 1), true),
        ],
        &[
            (batch(end, u64::MAX - end), false),
            (batch(u64::MAX, 1), true),
            (batch(0, 1), true),
        ],
    ];
    for (k, extra) in cases.iter().enumerate() {
        let mut b = idx.clone();
        for (e, last) in *extra {
            b.extend_from_slice(&encode_entry(e, *last));
        }
        fs::write(&ip, &b).unwrap();
        let r = RecordFile::open(&p, Mode::Read).unwrap();
        assert_eq!(r.len(), 1, "case {k}: the record before the damage reads");
        assert!(
            matches!(
                RecordFile::open(&p, Mode::Append),
                Err(MmapError::Corrupt { .. })
            ),
            "case {k}: a writer refuses the damaged index"
        );
        assert_eq!(RecordFile::recover(&p).unwrap().len(), 1, "case {k}");
        fs::write(&ip, &b).unwrap();
    }
    fs::remove_dir_all(&dir).ok();
}

/// Two batch entries (checksums fixed up) stating `u64::MAX` rows each: their sum once
/// overflowed while the file was indexed.
#[test]
fn row_counts_that_overflow_are_an_error() {
    let dir = std::env::temp_dir().join(format!("memslim-crafted-rows-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join("a.msl");
    let mut f = RecordFile::open(&p, Mode::Append).unwrap();
    f.push_record(&[("id", Cell::Int(1))]).unwrap();
    f.flush().unwrap();
    f.push_record(&[("id", Cell::Int(2))]).unwrap();
    f.close().unwrap();
    let ip = index_path(&p);
    let mut idx = fs::read(&ip).unwrap();
    let mut batches = 0;
    for at in (HEADER_LEN..idx.len()).step_by(ENTRY_LEN) {
        let (mut e, last) = decode_entry(&idx[at..]).unwrap();
        if e.kind == MessageKind::Batch {
            e.rows = u64::MAX;
            idx[at..at + ENTRY_LEN].copy_from_slice(&encode_entry(&e, last));
            batches += 1;
        }
    }
    assert_eq!(batches, 2);
    fs::write(&ip, &idx).unwrap();
    for mode in [Mode::Read, Mode::Append] {
        assert!(
            matches!(RecordFile::open(&p, mode), Err(MmapError::Corrupt { .. })),
            "{mode:?}"
        );
    }
    fs::remove_dir_all(&dir).ok();
}
