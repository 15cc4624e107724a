//! The seal that binds a file's `memslim.*` notes to the data they describe.
//!
//! The notes (absent keys, ints among floats, key order, partition columns, the row
//! count of a file with no columns) describe rows by position. Other tools carry
//! key-value metadata through a rewrite unchanged (pyarrow keeps it in the schema
//! through `sort_by`, `filter`, `take` and `write_table`), so notes found in a file
//! do not by themselves describe its rows. memslim therefore writes, beside them,
//! `memslim.seal`: the row count of each row group and the length and CRC-32 of the
//! file's bytes up to the end of its last row group (magic and every column chunk),
//! and the reader honours the notes only in a file memslim wrote (`created_by`) whose
//! row groups and bytes match the seal. Any other file reads as a file written by
//! others.

use std::fs::File;
use std::io::{Read, Write};

use parquet::file::metadata::ParquetMetaData;

/// Key of the seal.
pub(crate) const SEAL_KEY: &str = "memslim.seal";
/// The version of the seal (its first field), which says how the notes are encoded:
/// 1, per-row bitmaps and key orders (`memslim_mmap::exact`, written by memslim up to
/// 0.1 development builds); 2, runs (`crate::notes`). memslim writes 2 and reads both;
/// a reader that knows only 1 reads a file sealed with 2 as one written by others.
pub(crate) const SEAL_VERSION: u8 = 2;
/// What memslim writes as the file's `created_by`, up to its version.
const CREATED_BY_PREFIX: &str = "memslim ";

/// The `created_by` of the files memslim writes.
pub(crate) fn created_by() -> String {
    format!("{CREATED_BY_PREFIX}{}", env!("CARGO_PKG_VERSION"))
}

/// What the notes of a file were written for: the bytes of its data region (from the
/// start of the file to the end of its last row group) and its rows per row group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seal {
    /// How the notes are encoded (1 or [`SEAL_VERSION`]).
    pub(crate) version: u8,
    /// Length of the data region in bytes.
    pub(crate) len: u64,
    /// CRC-32 (IEEE) of the data region.
    pub(crate) crc: u32,
    /// Rows of each row group, in file order.
    pub(crate) rows: Vec<i64>,
}

impl Seal {
    /// The value stored under [`SEAL_KEY`]: `<version>:<len>:<crc hex>:<rows>,<rows>,...`.
    pub(crate) fn to_value(&self) -> String {
        let rows: Vec<String> = self.rows.iter().map(i64::to_string).collect();
        format!(
            "{}:{}:{:08x}:{}",
            self.version,
            self.len,
            self.crc,
            rows.join(",")
        )
    }

    /// The seal stored as `value`; `None` for another version or a malformed value.
    pub(crate) fn parse(value: &str) -> Option<Seal> {
        let mut it = value.splitn(4, ':');
        let version = match it.next()? {
            "1" => 1,
            "2" => 2,
            _ => return None,
        };
        let len = it.next()?.parse::<u64>().ok()?;
        let crc = it.next()?;
        if crc.len() != 8 {
            return None;
        }
        let crc = u32::from_str_radix(crc, 16).ok()?;
        let rows = it.next()?;
        let rows = if rows.is_empty() {
            Vec::new()
        } else {
            rows.split(',')
                .map(|r| r.parse::<i64>().ok())
                .collect::<Option<Vec<_>>>()?
        };
        Some(Seal {
            version,
            len,
            crc,
            rows,
        })
    }
}

/// A writer that checksums every byte it passes on (the seal of the data region is
/// taken once the last row group is flushed through it).
pub(crate) struct SealingWriter<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> SealingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        SealingWriter {
            inner,
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }

    /// Length and CRC-32 of the bytes written so far.
    pub(crate) fn sum(&self) -> (u64, u32) {
        (self.len, self.crc.clone().finalize())
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for SealingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether the notes of a file (its `memslim.*` key-value metadata, `seal` among them
/// or not) can be honoured, and if so the version of their encoding: the file was written by memslim, its row groups are those
/// of the seal and the CRC-32 of its first `seal.len` bytes (read from `file`) is the
/// seal's. A missing, malformed or mismatched seal, or another writer, answers false:
/// the notes may describe other rows (a rewrite by a tool that kept the metadata, or
/// a file written before memslim sealed its notes), as does a seal of another version.
///
/// # Errors
/// Reading `file` fails.
///
/// # Memory
/// A 256 KiB buffer; the data region is read once, sequentially.
pub(crate) fn notes_hold(
    meta: &ParquetMetaData,
    seal: Option<&str>,
    file: &mut File,
) -> std::io::Result<Option<u8>> {
    let written_by_memslim = meta
        .file_metadata()
        .created_by()
        .is_some_and(|c| c.starts_with(CREATED_BY_PREFIX));
    let Some(seal) = seal.filter(|_| written_by_memslim).and_then(Seal::parse) else {
        return Ok(None);
    };
    let rows: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
    if rows != seal.rows || file.metadata()?.len() < seal.len {
        return Ok(None);
    }
    Ok((crc_of_prefix(file, seal.len)? == Some(seal.crc)).then_some(seal.version))
}

/// CRC-32 of the first `len` bytes of `file` (read from its start); `None` if the file
/// is shorter.
fn crc_of_prefix(file: &mut File, len: u64) -> std::io::Result<Option<u32>> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0))?;
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(None);
        }
        crc.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(crc.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_reads_back_as_written() {
        for seal in [
            Seal {
                version: 1,
                len: 4,
                crc: 0xdead_beef,
                rows: vec![],
            },
            Seal {
                version: SEAL_VERSION,
                len: 123_456,
                crc: 0,
                rows: vec![3, 131_072, 1],
            },
        ] {
            assert_eq!(Seal::parse(&seal.to_value()), Some(seal));
        }
    }

    #[test]
    fn a_malformed_or_unknown_seal_is_no_seal() {
        for v in [
            "",
            "1",
            "3:4:00000000:",
            "1:x:00000000:1",
            "1:4:0000000:1",
            "1:4:0000000g:1",
            "1:4:00000000:1,,2",
            "1:4:00000000:a",
            "1:-4:00000000:1",
        ] {
            assert_eq!(Seal::parse(v), None, "{v:?}");
        }
    }

    #[test]
    fn the_sealing_writer_sums_what_it_passes_on() {
        let mut w = SealingWriter::new(Vec::new());
        w.write_all(b"PAR1").unwrap();
        w.write_all(b"data").unwrap();
        let (len, crc) = w.sum();
        let bytes = w.into_inner();
        assert_eq!(len, 8);
        assert_eq!(crc, crc32fast::hash(&bytes));
    }

    #[test]
    fn a_prefix_crc_reads_only_the_prefix_and_notices_a_short_file() {
        let dir = std::env::temp_dir().join(format!("memslim-seal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("prefix.bin");
        let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let mut f = File::open(&p).unwrap();
        assert_eq!(
            crc_of_prefix(&mut f, 300_001).unwrap(),
            Some(crc32fast::hash(&data[..300_001]))
        );
        assert_eq!(crc_of_prefix(&mut f, 600_001).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
