//! Record files to Parquet, batch by batch.

use std::path::Path;

use memslim_mmap::{BATCH_ROWS, Mode, RecordFile};
use memslim_records::{Cell, CellRef, RecordList};

use crate::error::{ParquetError, Result};
use crate::write::DatasetWriter;

/// An owned copy of a cell, to carry a record out of [`RecordFile::visit_row`].
enum Owned {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Encoded(Vec<u8>),
}

impl Owned {
    fn of(c: CellRef<'_>) -> Option<Owned> {
        Some(match c {
            CellRef::Absent => return None,
            CellRef::Null => Owned::Null,
            CellRef::Bool(b) => Owned::Bool(b),
            CellRef::Int(v) => Owned::Int(v),
            CellRef::Float(v) => Owned::Float(v),
            CellRef::Str(s) | CellRef::DictStr(_, s) => Owned::Str(s.to_owned()),
            CellRef::Bytes(b) => Owned::Bytes(b.to_vec()),
            CellRef::Encoded(b) => Owned::Encoded(b.to_vec()),
        })
    }

    fn cell(&self) -> Cell<'_> {
        match self {
            Owned::Null => Cell::Null,
            Owned::Bool(b) => Cell::Bool(*b),
            Owned::Int(v) => Cell::Int(*v),
            Owned::Float(v) => Cell::Float(*v),
            Owned::Str(s) => Cell::Str(s),
            Owned::Bytes(b) => Cell::Bytes(b),
            Owned::Encoded(b) => Cell::Encoded(b),
        }
    }
}

/// Writes every committed record of the record file at `src` to `out`, exactly (absent
/// keys, ints among floats, key order), [`BATCH_ROWS`] records at a time. Returns the
/// number written.
///
/// # Errors
/// [`ParquetError::RecordFile`] for a record file that cannot be opened or read; as
/// [`DatasetWriter::write`].
///
/// # Memory
/// One batch of records (copied out of the map) at a time.
pub fn write_record_file(src: impl AsRef<Path>, out: &mut DatasetWriter) -> Result<usize> {
    let mut file = RecordFile::open(src.as_ref(), Mode::Read)?;
    let n = file.len();
    let mut start = 0;
    while start < n {
        let end = n.min(start + BATCH_ROWS);
        let mut list = RecordList::new();
        let mut rec: Vec<(String, Owned)> = Vec::new();
        for row in start..end {
            rec.clear();
            file.visit_row(row, |k, v| {
                if let Some(v) = Owned::of(v) {
                    rec.push((k.to_owned(), v));
                }
            })?;
            let cells: Vec<(&str, Cell<'_>)> =
                rec.iter().map(|(k, v)| (k.as_str(), v.cell())).collect();
            list.push_record(&cells)?;
        }
        list.optimize();
        out.write(&list)?;
        start = end;
    }
    Ok(n)
}

impl From<memslim_mmap::MmapError> for ParquetError {
    fn from(e: memslim_mmap::MmapError) -> Self {
        ParquetError::RecordFile(Box::new(e))
    }
}
