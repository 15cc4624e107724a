//! Parquet files memslim did not write (or damaged ones): bytes from the input, or a
//! known-good file with edits. Reading ends in records or an error: no panic escapes the
//! reader, no abort, no unbounded memory.
//!
//! The reader turns a panic inside the Parquet decoder into an error (its `guarded`), so
//! this target silences the panic hook libfuzzer-sys installs (which aborts even on a
//! panic that is caught); a panic nobody catches still aborts the run.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use memslim_fuzz::edited;
use memslim_parquet::{DatasetWriter, ReadOptions, RecordList, WriteOptions, read_all};
use memslim_records::Cell;

/// Where the files go: memory-backed if the system has it.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("memslim-fuzz-parquet-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz dir");
        d
    })
}

/// A small file with ints, floats among ints, strings, bools, bytes, nulls and absent
/// keys, in two row groups, uncompressed (so edits hit values, not a codec's framing).
fn good() -> &'static [u8] {
    static GOOD: OnceLock<Vec<u8>> = OnceLock::new();
    GOOD.get_or_init(|| {
        let mut l = RecordList::new();
        for i in 0..12i64 {
            let s = format!("s{}", i % 3);
            let price = if i % 4 == 0 {
                Cell::Int(i)
            } else {
                Cell::Float(i as f64 / 3.0)
            };
            let mut rec: Vec<(&str, Cell<'_>)> = vec![
                ("id", Cell::Int(i)),
                ("price", price),
                ("country", Cell::Str(&s)),
                ("ok", Cell::Bool(i % 2 == 0)),
                ("blob", Cell::Bytes(s.as_bytes())),
            ];
            if i % 3 == 0 {
                rec.push(("note", Cell::Null));
            }
            l.push_record(&rec)
                .expect("a fresh list takes these records");
        }
        let path = dir().join("good.parquet");
        let opts = WriteOptions {
            codec: memslim_parquet::Codec::Uncompressed,
            row_group_rows: 5,
            ..WriteOptions::default()
        };
        let mut w = DatasetWriter::file(&path, opts).expect("valid options");
        w.write(&l).expect("write the good file");
        w.close().expect("close the good file");
        std::fs::read(&path).expect("read the good file back")
    })
}

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
        let [mode, rest @ ..] = data else { return };
        let bytes = if mode & 1 == 0 {
            rest.to_vec()
        } else {
            edited(good(), rest, false)
        };
        let path = dir().join("input.parquet");
        std::fs::write(&path, &bytes).expect("write the input");
        let opts = ReadOptions {
            columns: if mode & 2 == 0 {
                None
            } else {
                Some(vec!["price".into(), "note".into()])
            },
            batch_rows: [1, 3, 1000, 65_536][usize::from(mode >> 2) & 3],
            // Both ways of meeting a pickled value: read, or refused (an error).
            refuse_opaque: mode & 16 != 0,
        };
        if let Ok(list) = read_all(&[path], opts) {
            for r in 0..list.len() {
                list.visit_row(r, |_, c| {
                    std::hint::black_box(format!("{c:?}"));
                });
            }
        }
    }
);
