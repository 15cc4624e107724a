//! `.gz`/`.gzip` and `.zst`/`.zstd` inputs are decompressed by extension, including
//! multi-member gzip and multi-frame zstd files, and a corrupt file is an error, not a
//! panic.

use std::io::Write;

use memslim_stream::{Input, JsonlReader, ReadOptions};

fn lines(from: usize, to: usize) -> Vec<u8> {
    (from..to)
        .map(|i| format!("{{\"id\": {i}, \"s\": \"v{i}\"}}\n"))
        .collect::<String>()
        .into_bytes()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn read(path: &std::path::Path) -> memslim_stream::Result<usize> {
    let rows = JsonlReader::new(Input::open(path)?, ReadOptions::default()).read_all()?;
    Ok(rows.len())
}

#[test]
fn gzip_and_zstd_by_extension() {
    let dir = std::env::temp_dir().join(format!("memslim-compressed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Two members / two frames, so readers that stop after the first would lose rows.
    let gz_data = [gz(&lines(0, 50_000)), gz(&lines(50_000, 60_000))].concat();
    let zst_data = [zst(&lines(0, 50_000)), zst(&lines(50_000, 60_000))].concat();
    let p = dir.join("a.jsonl.gz");
    std::fs::write(&p, &gz_data).unwrap();
    assert_eq!(read(&p).unwrap(), 60_000);
    let p = dir.join("a.jsonl.ZST");
    std::fs::write(&p, &zst_data).unwrap();
    assert_eq!(read(&p).unwrap(), 60_000);
    // Cut off / not compressed at all: errors.
    let p = dir.join("cut.jsonl.gz");
    std::fs::write(&p, &gz_data[..gz_data.len() / 2]).unwrap();
    assert!(read(&p).is_err());
    let p = dir.join("plain.jsonl.zst");
    std::fs::write(&p, lines(0, 10)).unwrap();
    assert!(read(&p).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_listed_extension_is_decompressed_in_any_case() {
    let exts: Vec<&str> = memslim_stream::compressed_extensions().collect();
    assert_eq!(exts, ["gz", "gzip", "zst", "zstd"]);
    let dir = std::env::temp_dir().join(format!("memslim-suffixes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ext in exts {
        let data = if ext.starts_with("gz") {
            gz(&lines(0, 10))
        } else {
            zst(&lines(0, 10))
        };
        for name in [ext.to_owned(), ext.to_uppercase()] {
            let p = dir.join(format!("a.jsonl.{name}"));
            std::fs::write(&p, &data).unwrap();
            assert_eq!(read(&p).unwrap(), 10, "{name}");
        }
        let input = Input::from_compressed("<bytes>", ext, Box::new(std::io::Cursor::new(data)));
        let rows = JsonlReader::new(input.unwrap(), ReadOptions::default()).read_all();
        assert_eq!(rows.unwrap().len(), 10, "{ext}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
