//! Errors of Parquet files and datasets: each names the file it is about.

use std::path::PathBuf;

use memslim_records::RecordsError;

/// Everything that can go wrong writing or reading a Parquet file or dataset.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// The operating system refused an operation on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// What the operating system said (its kind decides the Python class).
        source: std::io::Error,
    },
    /// The file is not Parquet, or its bytes are damaged.
    #[error("{path}: corrupt Parquet file: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What did not check out.
        reason: String,
    },
    /// A column of the file has a type memslim cannot hold, or values do not fit the
    /// type a file being written already has.
    #[error("{path}: field {field:?}: {reason}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The field.
        field: String,
        /// What does not fit.
        reason: String,
    },
    /// The file uses a Parquet feature this build does not read (a codec such as zstd).
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        reason: String,
    },
    /// A record of the file cannot be built (for example a key given twice in it).
    #[error("{path}: {source}")]
    Record {
        /// The file.
        path: PathBuf,
        /// What does not fit, its row counted within the file.
        source: RecordsError,
    },
    /// A record holds an opaque value (a host object the file stored as such, a pickled
    /// Python object for the Python bindings) and the reader was asked to refuse those
    /// ([`crate::ReadOptions::refuse_opaque`]).
    #[error("{path}: row {row}, field {field:?}: an opaque (host) value")]
    Opaque {
        /// The file.
        path: PathBuf,
        /// The record's row within the file.
        row: usize,
        /// The field holding it.
        field: String,
    },
    /// An argument or a value cannot be used (a partition value that names no directory).
    #[error("{0}")]
    Invalid(String),
    /// The record file being converted cannot be read.
    #[error(transparent)]
    RecordFile(Box<memslim_mmap::MmapError>),
    /// A record or value does not fit.
    #[error(transparent)]
    Records(#[from] RecordsError),
}

/// Result type of this crate.
pub type Result<T, E = ParquetError> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ParquetError + '_ {
    move |source| ParquetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An Arrow error while decoding `path` (the decoder reports Parquet errors, a
/// missing codec among them, as Arrow errors).
pub(crate) fn from_arrow(path: &std::path::Path, e: arrow_schema::ArrowError) -> ParquetError {
    from_parquet(path, parquet::errors::ParquetError::General(e.to_string()))
}

/// A parquet crate error about `path`, as the variant a user would catch.
pub(crate) fn from_parquet(
    path: &std::path::Path,
    e: parquet::errors::ParquetError,
) -> ParquetError {
    use parquet::errors::ParquetError as P;
    let reason = e.to_string();
    match e {
        P::NYI(_) => ParquetError::Unsupported {
            path: path.to_owned(),
            reason,
        },
        _ if reason.contains("Disabled feature at compile time") => ParquetError::Unsupported {
            path: path.to_owned(),
            reason: format!(
                "{reason} (memslim reads Parquet compressed with snappy, gzip or lz4, or not \
                 compressed; rewrite the file with one of those)"
            ),
        },
        P::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => ParquetError::Io {
                path: path.to_owned(),
                source: *source,
            },
            _ => ParquetError::Corrupt {
                path: path.to_owned(),
                reason,
            },
        },
        _ => ParquetError::Corrupt {
            path: path.to_owned(),
            reason,
        },
    }
}
