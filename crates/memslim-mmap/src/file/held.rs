//! [`HeldBatch`]: a committed batch's records, read apart from the file that mapped them.

use std::ops::Range;

use memslim_records::{ReadRecords, RecordsError};

use super::*;

/// Where a held batch's values are read from (as [`Source`], owned).
pub(super) enum Source {
    Cells(Arc<BatchCells>),
    Batch(RecordBatch),
}

/// The records of one committed batch, from [`RecordFile::hold`], readable without the
/// file: committed records never change, so a reader that keeps the batch (a row view,
/// an iterator) reads them with no lock and no lookup of the batch.
///
/// Records are addressed by their position in the file; the batch holds
/// [`HeldBatch::rows`]. It reads exactly what [`RecordFile::visit_row`] and
/// [`RecordFile::with_field`] read, through the same code.
///
/// # Memory
/// Keeps the batch's message mapped (file-backed pages the kernel may drop) and its
/// per-record extras while held.
pub struct HeldBatch {
    pub(super) src: Source,
    pub(super) extras: Arc<Extras>,
    pub(super) schema: SchemaRef,
    pub(super) variant: Arc<[bool]>,
    pub(super) path: PathBuf,
    pub(super) offset: u64,
    pub(super) rows: Range<usize>,
}

impl HeldBatch {
    /// The file positions of the records the batch holds.
    pub fn rows(&self) -> Range<usize> {
        self.rows.clone()
    }

    /// Whether the batch holds the record at file position `row`.
    pub fn contains(&self, row: usize) -> bool {
        self.rows.contains(&row)
    }

    fn committed(&self) -> Committed<'_> {
        Committed {
            src: match &self.src {
                Source::Cells(c) => super::Source::Cells(c),
                Source::Batch(b) => super::Source::Batch(b),
            },
            extras: &self.extras,
            schema: &self.schema,
            variant: &self.variant,
            path: &self.path,
            offset: self.offset,
        }
    }

    /// Position `row` in the batch, or the error for a record it does not hold.
    #[inline]
    fn at(&self, row: usize) -> Result<usize> {
        if self.contains(row) {
            Ok(row - self.rows.start)
        } else {
            Err(RecordsError::IndexOutOfRange {
                index: row,
                len: self.rows.end,
            }
            .into())
        }
    }

    /// As [`RecordFile::with_field`], for a record of this batch.
    ///
    /// # Errors
    /// [`MmapError::Records`] for a record the batch does not hold, [`MmapError::Corrupt`]
    /// for a value whose bytes are damaged.
    pub fn with_field<R>(
        &self,
        row: usize,
        name: &str,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R> {
        self.committed().field(self.at(row)?, name, f)
    }

    /// The batch's field names, in column order (what [`HeldBatch::with_column`]'s
    /// `column` counts).
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.schema.fields().iter().map(|f| f.name().as_str())
    }

    /// As [`HeldBatch::with_field`] for the field in column `column` (of
    /// [`HeldBatch::field_names`]; [`CellRef::Absent`] past them): for a caller that
    /// looked the name up once for many records.
    ///
    /// # Errors
    /// As [`HeldBatch::with_field`].
    #[inline]
    pub fn with_column<R>(
        &self,
        row: usize,
        column: usize,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R> {
        let j = self.at(row)?;
        if column >= self.schema.fields().len() {
            return Ok(f(CellRef::Absent));
        }
        let mut buf = Vec::new();
        Ok(f(self.committed().cell(column, j, &mut buf)?))
    }

    /// The batch's schema: batches of one segment share it (the same `Arc`), so a
    /// reader may keep what it derives from the field names per schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The path of the file the batch was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// As [`RecordFile::visit_row`], for a record of this batch.
    ///
    /// # Errors
    /// As [`HeldBatch::with_field`].
    pub fn visit_row(&self, row: usize, f: impl FnMut(&str, CellRef<'_>)) -> Result<()> {
        self.committed().visit(self.at(row)?, f)
    }
}

/// The batch's records at their file positions (the ones before it are not held).
impl ReadRecords for &HeldBatch {
    type Error = MmapError;

    fn record_count(&self) -> usize {
        self.rows.end
    }

    fn visit_record(
        &mut self,
        row: usize,
        f: &mut dyn FnMut(&str, CellRef<'_>),
    ) -> std::result::Result<(), MmapError> {
        HeldBatch::visit_row(self, row, f)
    }

    fn read_field<R>(
        &mut self,
        row: usize,
        name: &str,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> std::result::Result<R, MmapError> {
        self.with_field(row, name, f)
    }
}
