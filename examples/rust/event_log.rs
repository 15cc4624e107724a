//! A persistent event log from Rust: append records, flush them durably, reopen the
//! file read-only in a fresh handle, and see what a crash mid-write leaves behind.

use memslim::mmap::{MmapError, Mode, RecordFile, index_path};
use memslim::records::{Cell, CellRef};

fn main() -> Result<(), MmapError> {
    let small = std::env::var_os("MEMSLIM_EXAMPLE_SMALL").is_some();
    let n: i64 = if small { 20_000 } else { 1_000_000 };
    let dir = std::env::temp_dir().join(format!("memslim-event-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| MmapError::Io {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join("events.msl");

    let mut log = RecordFile::open(&path, Mode::Append)?;
    for i in 0..n {
        let user = format!("user{}", i % 1000);
        log.push_record(&[
            ("seq", Cell::Int(i)),
            ("user", Cell::Str(&user)),
            ("amount", Cell::Float(i as f64 * 0.5)),
        ])?;
        if (i + 1) % 10_000 == 0 {
            log.flush()?; // durable from here on
        }
    }
    log.close()?;

    // A second process (here: a second handle) reads without loading the data.
    let mut reader = RecordFile::open(&path, Mode::Read)?;
    println!(
        "{} records in {} batches, {} bytes mapped, {} bytes held in memory",
        reader.len(),
        reader.num_batches(),
        reader.mapped_bytes(),
        reader.nbytes()
    );
    let mut last = Vec::new();
    reader.visit_row(reader.len() - 1, |k, v| last.push(format!("{k}={v:?}")))?;
    println!("last record: {}", last.join(", "));
    let mut seq = None;
    reader.visit_row(12_345, |k, v| {
        if k == "seq" {
            if let CellRef::Int(s) = v {
                seq = Some(s);
            }
        }
    })?;
    assert_eq!(seq, Some(12_345));

    // A crash between writing and committing leaves bytes past the last commit; the
    // next open ignores them (a writer cuts them off) and says so.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|source| MmapError::Io {
            path: path.clone(),
            source,
        })?;
    f.write_all(b"\xff\xff\xff\xff half a message")
        .map_err(|source| MmapError::Io {
            path: path.clone(),
            source,
        })?;
    let recovered = RecordFile::open(&path, Mode::Append)?;
    println!(
        "after a simulated crash: {} records, {} torn bytes dropped",
        recovered.len(),
        recovered.recovery().dropped_data_bytes
    );
    drop(recovered);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(index_path(&path));
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}
