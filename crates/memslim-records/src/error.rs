//! Errors of the record store.

use crate::DType;

/// Everything that can go wrong in `memslim-records`. Caller input never panics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordsError {
    /// A value does not fit the explicitly declared type of its field.
    #[error("row {row}, field {field:?}: expected {expected}, got {found}")]
    SchemaMismatch {
        /// Row index the record would have had.
        row: usize,
        /// Field name.
        field: String,
        /// Declared type.
        expected: DType,
        /// What the value was.
        found: &'static str,
    },
    /// A record names a field the explicit schema does not declare.
    #[error("row {row}, field {field:?}: not in the declared schema")]
    UnknownField {
        /// Row index the record would have had.
        row: usize,
        /// Field name.
        field: String,
    },
    /// The same key appears twice in one record.
    #[error("row {row}, field {field:?}: key given twice in one record")]
    DuplicateKey {
        /// Row index the record would have had.
        row: usize,
        /// Field name.
        field: String,
    },
    /// A string, bytes or encoded value is larger than one chunk can hold (2 GiB).
    #[error("row {row}, field {field:?}: value of {len} bytes is too large (limit {limit})")]
    ValueTooLarge {
        /// Row index.
        row: usize,
        /// Field name.
        field: String,
        /// Byte length of the value.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A row index is out of range.
    #[error("row index {index} out of range for {len} rows")]
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// Number of rows.
        len: usize,
    },
    /// A field name that no column has.
    #[error("no field {0:?}")]
    NoSuchField(String),
    /// New names for a list's fields that do not fit them ([`crate::RecordList::rename_fields`]).
    #[error("field names: {0}")]
    FieldNames(String),
    /// A dtype name that is not one of ours.
    #[error("unknown dtype {0:?} (expected one of null, bool, int64, float64, str, bytes, object)")]
    UnknownDType(String),
    /// An operation that the column's type does not support (e.g. sum of strings).
    #[error("field {field:?} of type {dtype}: {op} is not supported")]
    Unsupported {
        /// Field name.
        field: String,
        /// Its logical type.
        dtype: DType,
        /// What was asked.
        op: &'static str,
    },
    /// Serialized data or an encoded value is malformed.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// An Arrow type or array memslim cannot import.
    #[error("field {field:?}: cannot import Arrow type {arrow_type}")]
    UnsupportedArrowType {
        /// Field name.
        field: String,
        /// The Arrow type, as text.
        arrow_type: String,
    },
    /// An error reported by arrow-rs.
    #[error("arrow: {0}")]
    Arrow(String),
    /// The thread that stores grids for [`crate::RecordList::push_grids`] panicked (a
    /// bug in memslim): the append did not complete.
    #[error(
        "the append worker stopped unexpectedly (a bug in memslim); the append did not complete"
    )]
    WorkerStopped,

    /// A result too large to exist (`list * n` with a huge `n`): refused before any of it
    /// is made, as a list refuses it.
    #[error("{what} would take {bytes} bytes: more memory than can be had")]
    OutOfMemory {
        /// What was asked.
        what: &'static str,
        /// Bytes it would take (saturated).
        bytes: usize,
    },

    /// The memory to store a large value could not be had (the append is undone).
    #[error(
        "row {row}, field {field:?}: cannot allocate {bytes} bytes to store a value of {len} bytes"
    )]
    ValueOutOfMemory {
        /// Row index the record would have had.
        row: usize,
        /// Field name.
        field: String,
        /// Byte length of the value.
        len: usize,
        /// The size of the buffer that could not be had (saturated).
        bytes: usize,
    },

    /// An extended slice (step other than 1) was assigned a different number of records
    /// than it selects (the message is Python's).
    #[error("attempt to assign sequence of size {got} to extended slice of size {expected}")]
    SliceSize {
        /// Records given.
        got: usize,
        /// Positions the slice selects.
        expected: usize,
    },
}

impl RecordsError {
    /// The same error about the record at `row` instead: for a caller whose list holds
    /// part of a longer sequence (a batch of a stream), so that the error counts rows
    /// in the sequence. Errors about no one record are unchanged.
    ///
    /// ```
    /// use memslim_records::RecordsError;
    ///
    /// let e = RecordsError::UnknownField { row: 2, field: "x".into() };
    /// assert_eq!(e.at_row(7).to_string(), "row 7, field \"x\": not in the declared schema");
    /// ```
    #[must_use]
    pub fn at_row(self, at: usize) -> Self {
        self.map_row(|_| at)
    }

    /// The same error about the record `f` maps its row to: for a caller that knows
    /// the record by another number than the list that raised it (a record stored at
    /// row 9 of a store that is position 1 of the list the user sees). Errors about no
    /// one record are unchanged.
    ///
    /// ```
    /// use memslim_records::RecordsError;
    ///
    /// let e = RecordsError::DuplicateKey { row: 9, field: "x".into() };
    /// assert_eq!(e.map_row(|r| r - 8).to_string(), "row 1, field \"x\": key given twice in one record");
    /// ```
    #[must_use]
    pub fn map_row(mut self, f: impl FnOnce(usize) -> usize) -> Self {
        match &mut self {
            RecordsError::SchemaMismatch { row, .. }
            | RecordsError::UnknownField { row, .. }
            | RecordsError::DuplicateKey { row, .. }
            | RecordsError::ValueTooLarge { row, .. }
            | RecordsError::ValueOutOfMemory { row, .. } => *row = f(*row),
            _ => {}
        }
        self
    }
}

impl From<arrow_schema::ArrowError> for RecordsError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        RecordsError::Arrow(e.to_string())
    }
}

impl From<crate::variant::DecodeError> for RecordsError {
    fn from(e: crate::variant::DecodeError) -> Self {
        RecordsError::Corrupt(e.to_string())
    }
}

/// Result alias for this crate.
pub type Result<T, E = RecordsError> = std::result::Result<T, E>;
