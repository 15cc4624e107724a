//! Errors of the streaming readers and sinks.

use std::io;

use memslim_records::RecordsError;
use memslim_records::json::JsonError;

/// Everything that can go wrong while reading or writing a stream. Input never panics.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A line (JSONL) or record (CSV) is malformed.
    #[error("{input}: line {line}, column {column}: {reason}")]
    Syntax {
        /// Path of the input, or a description such as `<file object>`.
        input: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column (in characters).
        column: u64,
        /// What is wrong.
        reason: String,
    },
    /// The input ends in the middle of its last record.
    #[error("{input}: line {line} is truncated: the input ends inside a record ({reason})")]
    Truncated {
        /// Path or description of the input.
        input: String,
        /// 1-based line number of the cut-off record.
        line: u64,
        /// What the parser saw.
        reason: String,
    },
    /// A record does not fit the list (declared schema, duplicate key, value too large).
    #[error("{input}: line {line}: {error}")]
    Record {
        /// Path or description of the input.
        input: String,
        /// 1-based line number.
        line: u64,
        /// The record store's error.
        #[source]
        error: RecordsError,
    },
    /// Reading or writing failed.
    #[error("{input}: {error}")]
    Io {
        /// Path or description of the input or output.
        input: String,
        /// The I/O error.
        #[source]
        error: io::Error,
    },
    /// A value cannot be written in the sink's format.
    #[error("{}: {error}", StreamError::unwritable_place(output, *row, field))]
    Unwritable {
        /// Path or description of the output.
        output: String,
        /// The record's position in everything the sink was given, from 0 (not in the
        /// batch being written).
        row: u64,
        /// Field name.
        field: String,
        /// Why (the JSON writer's error).
        #[source]
        error: JsonError,
    },
    /// Compressed input is damaged: a checksum does not match, the data does not decode,
    /// or it ends early.
    #[error("{input}: corrupt compressed input: {reason}")]
    Corrupt {
        /// Path or description of the input.
        input: String,
        /// What the decoder found.
        reason: String,
    },
    /// A buffer sized by the input could not be allocated.
    #[error("{input}: line {line}: cannot allocate {bytes} bytes to hold it")]
    OutOfMemory {
        /// Path or description of the input.
        input: String,
        /// 1-based line number.
        line: u64,
        /// The allocation that failed.
        bytes: usize,
    },
    /// A bad argument (option, selection, comparison).
    #[error("{0}")]
    Invalid(String),
    /// A document could not be stored (reading into a `DocList`: the symbol table is
    /// full).
    #[error(transparent)]
    Doc(memslim_arena::DocError),
    /// An error of the record store outside of reading (adapters).
    #[error(transparent)]
    Records(#[from] RecordsError),
}

impl StreamError {
    /// Where a [`StreamError::Unwritable`] value is, as its message names it: for a host
    /// that explains the value itself (a pickled object only the host can read).
    pub fn unwritable_place(output: &str, row: u64, field: &str) -> String {
        format!("{output}: record {row} (counted from 0), field {field:?}")
    }

    /// The error for an I/O error met while reading `input`: [`StreamError::Corrupt`]
    /// if a decompressor reported damaged data, [`StreamError::Invalid`] if it refused
    /// input that is not damaged (a zstd window past the limit, as when opening), else
    /// [`StreamError::Io`].
    pub fn from_io(input: &str, error: io::Error) -> StreamError {
        if let Some(reason) = crate::codec::refused_reason(&error) {
            return StreamError::Invalid(format!("{input}: {reason}"));
        }
        match crate::codec::corrupt_reason(&error) {
            Some(reason) => StreamError::Corrupt {
                input: input.to_owned(),
                reason,
            },
            None => StreamError::Io {
                input: input.to_owned(),
                error,
            },
        }
    }

    /// The input line the error is about, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            StreamError::Syntax { line, .. }
            | StreamError::Truncated { line, .. }
            | StreamError::OutOfMemory { line, .. }
            | StreamError::Record { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The I/O error inside, if this is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            StreamError::Io { error, .. } => Some(error.kind()),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = StreamError> = std::result::Result<T, E>;
