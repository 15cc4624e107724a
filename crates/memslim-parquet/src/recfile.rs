//! Record files to Parquet, batch by batch.

use std::path::Path;

use memslim_mmap::{BATCH_ROWS, Mode, RecordFile};
use memslim_records::{DEFAULT_CHUNK_ROWS, collect_records};

use crate::error::{ParquetError, Result};
use crate::write::DatasetWriter;

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
        let rows: Vec<usize> = (start..end).collect();
        let mut list = collect_records(&mut file, &rows, DEFAULT_CHUNK_ROWS)?;
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
