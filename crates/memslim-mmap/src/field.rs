//! One field of a record file as numbers: its sum, mean and null count, and the numbers
//! themselves for an array library (zero-copy from the map when they are one batch).
//! Also the mark a bulk append rolls back to when it fails halfway.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use memslim_records::{Checkpoint, DType, OwnedNumbers, Sum, sum_arrow};

use crate::error::Result;
use crate::file::RecordFile;

/// The sum of a field and how many of its values are null or absent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldSum {
    /// The sum of the non-null values (bools count as ints), or `None` when the field
    /// is not numbers or bools.
    pub sum: Option<Sum>,
    /// Values that are null or absent.
    pub nulls: usize,
    /// Values in all (the records the sum covers).
    pub len: usize,
}

impl FieldSum {
    /// The mean of the non-null values: `None` when there are none, or when the field is
    /// not numbers ([`FieldSum::sum`] is `None`).
    pub fn mean(&self) -> Option<f64> {
        self.sum?.mean(self.len - self.nulls)
    }
}

/// A field's numbers in one buffer, for an array library.
#[derive(Clone, Debug)]
pub enum FieldNumbers {
    /// The one mapped Arrow array (`Int64` or `Float64`, no nulls): zero-copy.
    Mapped(ArrayRef),
    /// Several batches' values copied into one buffer.
    Owned(OwnedNumbers),
}

/// A point in the pending records that a bulk append rolls back to
/// ([`RecordFile::mark_pending`], [`RecordFile::undo_pending`]).
#[derive(Clone, Debug)]
pub struct PendingMark {
    checkpoint: Checkpoint,
    committed: usize,
}

impl RecordFile {
    /// The sum and null count of field `name` over the first `rows` records.
    ///
    /// # Errors
    /// As [`RecordFile::field_arrow`] (a closed file, an unknown field).
    ///
    /// # Memory
    /// Reads the field's arrays from the map (committed batches are not copied).
    pub fn field_sum(&mut self, name: &str, rows: usize) -> Result<FieldSum> {
        let (_, batches) = self.field_arrow(name, rows)?;
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
        Ok(FieldSum {
            sum: sum_arrow(&arrays),
            nulls: arrays.iter().map(|a| a.logical_null_count()).sum(),
            len: arrays.iter().map(|a| a.len()).sum(),
        })
    }

    /// The type of field `name` for an array library (`Int64`, `Float64`, `Bool`, else
    /// `Object`), and, for ints or floats without nulls, its first `rows` values in one
    /// buffer.
    ///
    /// # Errors
    /// As [`RecordFile::field_arrow`].
    ///
    /// # Memory
    /// Zero-copy when the values are one committed batch; otherwise one copy of them.
    pub fn field_numbers(
        &mut self,
        name: &str,
        rows: usize,
    ) -> Result<(DType, Option<FieldNumbers>)> {
        let (schema, batches) = self.field_arrow(name, rows)?;
        let kind = match schema.field(0).data_type() {
            DataType::Int64 => DType::Int64,
            DataType::Float64 => DType::Float64,
            DataType::Boolean => DType::Bool,
            _ => DType::Object,
        };
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
        let numbers = match (kind, batches.as_slice()) {
            (DType::Int64 | DType::Float64, [one]) if one.column(0).null_count() == 0 => {
                Some(FieldNumbers::Mapped(Arc::clone(one.column(0))))
            }
            (DType::Int64 | DType::Float64, _) => {
                OwnedNumbers::from_arrow(&arrays).map(FieldNumbers::Owned)
            }
            _ => None,
        };
        Ok((kind, numbers))
    }

    /// Marks the pending records, so that a bulk append that fails halfway can drop
    /// what it added ([`RecordFile::undo_pending`]).
    ///
    /// # Errors
    /// [`crate::MmapError::ReadOnly`] or [`crate::MmapError::Closed`].
    pub fn mark_pending(&mut self) -> Result<PendingMark> {
        let committed = self.committed_len();
        let checkpoint = self.pending_mut()?.checkpoint();
        Ok(PendingMark {
            checkpoint,
            committed,
        })
    }

    /// Drops the records appended since `mark`, unless a flush committed records
    /// meanwhile (another thread may flush while the appender runs host code): then
    /// they stay, as they are on disk. Returns whether it rolled back.
    pub fn undo_pending(&mut self, mark: PendingMark) -> bool {
        if self.committed_len() != mark.committed {
            return false;
        }
        match self.pending_mut() {
            Ok(list) => {
                list.rollback(mark.checkpoint);
                true
            }
            Err(_) => false,
        }
    }
}
