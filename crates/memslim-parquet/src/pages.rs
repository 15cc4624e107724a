//! Checks of the sizes a file's page headers claim, made before the decoder trusts them.
//!
//! The parquet crate reserves what a page header claims before it decodes the page: the
//! uncompressed size of a compressed page (`Vec::with_capacity`), and room for the
//! values of a dictionary page. A header claiming gigabytes makes that reservation fail,
//! and a failed allocation aborts the process. So before a file's pages are decoded,
//! [`check_pages`] reads every page header of the column chunks to be read (a few bytes
//! per page) and refuses a file whose claims its bytes cannot back: a page that
//! decompresses to more than any codec can expand its compressed bytes to, or a
//! dictionary of more values than its bytes hold.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use parquet::basic::{Compression, Type as PhysicalType};
use parquet::file::metadata::ParquetMetaData;

use crate::error::{ParquetError, Result, io};

/// The most any codec memslim reads expands its input (deflate's limit is 1032 to 1;
/// snappy's about 22, lz4's about 255), with room to spare.
const MAX_EXPANSION: u64 = 2048;
/// Bytes any compressed page may claim beyond that (the frames of tiny pages).
const SLACK: u64 = 4096;
/// Nesting a page header may use (it has 3 levels; statistics add none).
const MAX_DEPTH: u32 = 16;

const DICTIONARY_PAGE: i32 = 2;

/// Refuses the file at `path` (open as `file`) if a page header of the chunks of
/// `leaves` (leaf column indexes) claims more than the page's bytes can hold, or if the
/// data pages of a chunk hold fewer values than its row group claims rows (each row of
/// a column has one value or null at least).
///
/// # Errors
/// [`ParquetError::Corrupt`] naming the file, the row group, the column and the claim;
/// [`ParquetError::Io`] if reading fails.
///
/// # Memory
/// An 8 KiB read buffer; header fields are skipped, not kept.
pub(crate) fn check_pages(
    path: &Path,
    file: File,
    meta: &ParquetMetaData,
    leaves: &[usize],
) -> Result<()> {
    let file_len = file.metadata().map_err(io(path))?.len();
    let mut r = BufReader::with_capacity(8192, file);
    let mut at: u64 = 0;
    for (g, group) in meta.row_groups().iter().enumerate() {
        for &leaf in leaves {
            let Some(chunk) = group.columns().get(leaf) else {
                continue;
            };
            let corrupt = |reason: String| ParquetError::Corrupt {
                path: path.to_owned(),
                reason: format!(
                    "row group {g}, column {:?}: {reason}",
                    chunk.column_path().string()
                ),
            };
            // Where the decoder starts reading the chunk (`ColumnChunkMetaData::byte_range`).
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or_else(|| chunk.data_page_offset());
            let (Ok(start), Ok(len)) =
                (u64::try_from(start), u64::try_from(chunk.compressed_size()))
            else {
                return Err(corrupt("a negative offset or size".to_owned()));
            };
            let end = start
                .checked_add(len)
                .filter(|e| *e <= file_len)
                .ok_or_else(|| corrupt("the chunk ends past the end of the file".to_owned()))?;
            let compressed = chunk.compression() != Compression::UNCOMPRESSED;
            let value_bytes = min_value_bytes(chunk.column_type(), meta.file_metadata(), leaf);
            let mut values: u64 = 0;
            let mut pos = start;
            while pos < end {
                if pos != at {
                    r.seek(SeekFrom::Start(pos)).map_err(io(path))?;
                    at = pos;
                }
                let mut hr = HeaderReader {
                    r: (&mut r).take(end - pos),
                    read: 0,
                };
                let h = hr
                    .page_header()
                    .map_err(|e| corrupt(format!("page header at byte {pos}: {e}")))?;
                at += hr.read;
                let body_start = pos + hr.read;
                let (Ok(csize), Ok(usize_)) = (
                    u64::try_from(h.compressed_size),
                    u64::try_from(h.uncompressed_size),
                ) else {
                    return Err(corrupt(format!("page at byte {pos}: a negative size")));
                };
                if csize > end - body_start {
                    return Err(corrupt(format!(
                        "page at byte {pos} claims {csize} bytes, past the end of its chunk"
                    )));
                }
                // What the decoder holds of the page: its bytes as they are, or (when
                // compressed) the size the header claims, reserved up front.
                let body = if compressed {
                    let most = csize.saturating_mul(MAX_EXPANSION).saturating_add(SLACK);
                    if usize_ > most {
                        return Err(corrupt(format!(
                            "page at byte {pos} claims to decompress {csize} bytes into \
                             {usize_}, more than any codec expands them"
                        )));
                    }
                    usize_
                } else {
                    csize
                };
                if h.page_type == DICTIONARY_PAGE {
                    let values = u64::try_from(h.dictionary_values).unwrap_or(u64::MAX);
                    // Bits for booleans, whole bytes for every other type.
                    let held = match value_bytes {
                        0 => body.saturating_mul(8),
                        n => body / n,
                    };
                    if values > held {
                        return Err(corrupt(format!(
                            "dictionary page at byte {pos} claims {} values, more than its \
                             {body} bytes hold",
                            h.dictionary_values
                        )));
                    }
                }
                values = values.saturating_add(u64::try_from(h.data_values).unwrap_or(0));
                pos = body_start + csize;
            }
            let rows = u64::try_from(group.num_rows()).unwrap_or(u64::MAX);
            if values < rows {
                return Err(corrupt(format!(
                    "the row group claims {} rows, its pages hold {values} values",
                    group.num_rows()
                )));
            }
        }
    }
    Ok(())
}

/// The fewest bytes a plain-encoded value of leaf `leaf` takes (0: a bit, for booleans).
fn min_value_bytes(
    t: PhysicalType,
    meta: &parquet::file::metadata::FileMetaData,
    leaf: usize,
) -> u64 {
    match t {
        PhysicalType::BOOLEAN => 0,
        PhysicalType::INT32 | PhysicalType::FLOAT | PhysicalType::BYTE_ARRAY => 4,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 8,
        PhysicalType::INT96 => 12,
        PhysicalType::FIXED_LEN_BYTE_ARRAY => {
            u64::try_from(meta.schema_descr().column(leaf).type_length())
                .unwrap_or(1)
                .max(1)
        }
    }
}

/// What [`check_pages`] needs of a page header.
#[derive(Debug, Default, PartialEq, Eq)]
struct PageHeader {
    page_type: i32,
    uncompressed_size: i32,
    compressed_size: i32,
    /// `num_values` of a dictionary page's header.
    dictionary_values: i32,
    /// `num_values` of a data page's header (v1 or v2): values and nulls.
    data_values: i32,
}

/// A reader of Thrift's compact protocol, enough to read a page header and skip what
/// it does not need.
struct HeaderReader<R> {
    r: R,
    /// Bytes read so far.
    read: u64,
}

type Parse<T> = std::result::Result<T, String>;

impl<R: Read> HeaderReader<R> {
    fn byte(&mut self) -> Parse<u8> {
        let mut b = [0u8; 1];
        self.r
            .read_exact(&mut b)
            .map_err(|_| "it runs past the end of its column chunk".to_owned())?;
        self.read += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> Parse<u64> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a malformed varint".to_owned())
    }

    fn i32(&mut self) -> Parse<i32> {
        let v = self.varint()?;
        let v = (v >> 1) as i64 ^ -((v & 1) as i64);
        i32::try_from(v).map_err(|_| "an i32 out of range".to_owned())
    }

    fn skip_bytes(&mut self, mut n: u64) -> Parse<()> {
        let mut buf = [0u8; 512];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.r
                .read_exact(&mut buf[..k])
                .map_err(|_| "it runs past the end of its column chunk".to_owned())?;
            self.read += k as u64;
            n -= k as u64;
        }
        Ok(())
    }

    /// Skips a value of compact type `t` (bools in a struct field carry their value
    /// in the type; `in_list`: a bool element takes a byte).
    fn skip(&mut self, t: u8, depth: u32, in_list: bool) -> Parse<()> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".to_owned());
        }
        match t {
            1 | 2 if !in_list => Ok(()),
            1..=3 => self.byte().map(|_| ()),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip_bytes(8),
            8 => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = match u64::from(h >> 4) {
                    15 => self.varint()?,
                    n => n,
                };
                for _ in 0..n {
                    self.skip(h & 0x0f, depth + 1, true)?;
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n > 0 {
                    let kv = self.byte()?;
                    for _ in 0..n {
                        self.skip(kv >> 4, depth + 1, true)?;
                        self.skip(kv & 0x0f, depth + 1, true)?;
                    }
                }
                Ok(())
            }
            12 => self.fields(depth + 1, |_, _, _| Ok(false)),
            13 => self.skip_bytes(16),
            _ => Err(format!("unknown Thrift type {t}")),
        }
    }

    /// Reads a struct's fields up to its stop byte; `each(self, id, type)` reads the
    /// fields it wants (answering true) and the others are skipped.
    fn fields(
        &mut self,
        depth: u32,
        mut each: impl FnMut(&mut Self, i16, u8) -> Parse<bool>,
    ) -> Parse<()> {
        let mut id: i16 = 0;
        loop {
            let h = self.byte()?;
            if h == 0 {
                return Ok(());
            }
            let t = h & 0x0f;
            id = match h >> 4 {
                0 => i16::try_from(self.i32()?).map_err(|_| "a field id out of range")?,
                d => id.saturating_add(i16::from(d)),
            };
            if !each(self, id, t)? {
                self.skip(t, depth, false)?;
            }
        }
    }

    fn page_header(&mut self) -> Parse<PageHeader> {
        let mut h = PageHeader::default();
        self.fields(0, |r, id, t| {
            Ok(match (id, t) {
                (1, 5) => {
                    h.page_type = r.i32()?;
                    true
                }
                (2, 5) => {
                    h.uncompressed_size = r.i32()?;
                    true
                }
                (3, 5) => {
                    h.compressed_size = r.i32()?;
                    true
                }
                // Data page v1 and v2 headers and the dictionary page header all
                // start with num_values.
                (5 | 7 | 8, 12) => {
                    let mut n = 0;
                    r.fields(1, |r, id, t| {
                        Ok(if (id, t) == (1, 5) {
                            n = r.i32()?;
                            true
                        } else {
                            false
                        })
                    })?;
                    if id == 7 {
                        h.dictionary_values = n;
                    } else {
                        h.data_values = n;
                    }
                    true
                }
                _ => false,
            })
        })?;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> Parse<PageHeader> {
        HeaderReader { r: bytes, read: 0 }.page_header()
    }

    #[test]
    fn a_page_header_reads_its_sizes_and_skips_the_rest() {
        // type=2 (dictionary), uncompressed=100, compressed=50, crc=7,
        // dictionary_page_header{num_values=10, encoding=0, is_sorted=true},
        // then an unknown field 20: list<binary> ["ab"].
        let bytes = [
            0x15, 0x04, 0x15, 0xc8, 0x01, 0x15, 0x64, 0x15, 0x0e, 0x3c, 0x15, 0x14, 0x15, 0x00,
            0x11, 0x00, 0x09, 0x28, 0x18, 0x02, b'a', b'b', 0x00,
        ];
        assert_eq!(
            header(&bytes),
            Ok(PageHeader {
                page_type: 2,
                uncompressed_size: 100,
                compressed_size: 50,
                dictionary_values: 10,
                data_values: 0,
            })
        );
    }

    #[test]
    fn a_truncated_or_malformed_header_is_an_error() {
        assert!(header(&[0x15, 0x04]).is_err());
        assert!(header(&[0x15]).is_err());
        assert!(header(&[0x1e]).is_err());
        assert!(header(&[0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]).is_err());
        // A list claiming 2**32 elements runs out of bytes, it is not iterated blind.
        assert!(header(&[0x19, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]).is_err());
        // Structs nested past any page header's depth.
        let deep = vec![0x1c; 100];
        assert!(header(&deep).is_err());
    }
}
