//! The one table from core errors to Python exceptions.
//!
//! memslim's exception classes live in `memslim/exceptions.py` so that each can inherit
//! both `MemslimError` and the built-in a user would catch (`TypeError`, ...). Every core
//! error type (records, documents, streams, mapped files, Parquet) is mapped here, and
//! `result.py_err(py)` ([`IntoPyResult`]) is the one way a binding turns a core `Result`
//! into a `PyResult`.

use std::path::Path;

use memslim_arena::DocError;
use memslim_mmap::MmapError;
use memslim_parquet::ParquetError;
use memslim_records::RecordsError;
use memslim_records::json::JsonError;
use memslim_stream::StreamError;
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIndexError, PyIsADirectoryError, PyKeyError,
    PyMemoryError, PyOSError, PyPermissionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// memslim's exception and warning classes (and the one foreign class the table needs).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Class {
    Schema,
    CorruptData,
    CorruptFile,
    FileFormat,
    FileLocked,
    Untrusted,
    Parse,
    InvalidValue,
    UnsupportedType,
    Limit,
    ConcurrentUse,
    ClosedFile,
    AppendOnly,
    /// `io.UnsupportedOperation` (a write to a file opened read-only).
    IoUnsupported,
    DamagedFileWarning,
    SkippedLinesWarning,
}

const CLASSES: usize = 16;
static CELLS: [PyOnceLock<Py<PyType>>; CLASSES] = [const { PyOnceLock::new() }; CLASSES];

impl Class {
    fn module_and_name(self) -> (&'static str, &'static str) {
        let name = match self {
            Class::Schema => "SchemaError",
            Class::CorruptData => "CorruptDataError",
            Class::CorruptFile => "CorruptFileError",
            Class::FileFormat => "FileFormatError",
            Class::FileLocked => "FileLockedError",
            Class::Untrusted => "UntrustedDataError",
            Class::Parse => "ParseError",
            Class::InvalidValue => "InvalidValueError",
            Class::UnsupportedType => "UnsupportedTypeError",
            Class::Limit => "LimitError",
            Class::ConcurrentUse => "ConcurrentUseError",
            Class::ClosedFile => "ClosedFileError",
            Class::AppendOnly => "AppendOnlyError",
            Class::DamagedFileWarning => "DamagedFileWarning",
            Class::SkippedLinesWarning => "SkippedLinesWarning",
            Class::IoUnsupported => return ("io", "UnsupportedOperation"),
        };
        ("memslim.exceptions", name)
    }

    /// The Python class, imported on first use.
    pub(crate) fn get(self, py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
        let (module, name) = self.module_and_name();
        CELLS[self as usize].import(py, module, name)
    }

    /// An exception of this class with `msg` (or the import's error, which cannot
    /// happen in an installed package).
    pub(crate) fn err(self, py: Python<'_>, msg: impl Into<String>) -> PyErr {
        match self.get(py) {
            Ok(cls) => PyErr::from_type(cls.clone(), msg.into()),
            Err(e) => e,
        }
    }

    /// Whether `e` is an instance of this class.
    pub(crate) fn matches(self, py: Python<'_>, e: &PyErr) -> bool {
        self.get(py).is_ok_and(|c| e.is_instance(py, c))
    }
}

/// `memslim.SchemaError` (also a `TypeError`).
pub(crate) fn schema_error(py: Python<'_>, msg: String) -> PyErr {
    Class::Schema.err(py, msg)
}

/// `memslim.CorruptDataError` (also a `ValueError`).
pub(crate) fn corrupt(py: Python<'_>, msg: String) -> PyErr {
    Class::CorruptData.err(py, msg)
}

/// `memslim.UntrustedDataError` (also a `ValueError`): a pickled value from a source the
/// user did not vouch for.
pub(crate) fn untrusted(py: Python<'_>, msg: String) -> PyErr {
    Class::Untrusted.err(py, msg)
}

/// Whether `e` is a `memslim.UntrustedDataError`.
pub(crate) fn is_untrusted(py: Python<'_>, e: &PyErr) -> bool {
    Class::Untrusted.matches(py, e)
}

/// `memslim.ConcurrentUseError` (also a `RuntimeError`): `what` is busy in another
/// thread.
pub(crate) fn in_use(py: Python<'_>, what: &str) -> PyErr {
    Class::ConcurrentUse.err(py, format!("{what} is in use by another thread"))
}

/// A core error type with a Python exception a user would catch.
pub(crate) trait ToPyErr {
    fn to_py_err(self, py: Python<'_>) -> PyErr;
}

/// Extension for `Result<T, E>` of any core error `E`: `result.py_err(py)?`.
pub(crate) trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: ToPyErr> IntoPyResult<T> for Result<T, E> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.to_py_err(py))
    }
}

/// `impl ToPyErr for $error` by the mapping function `$map`.
macro_rules! to_py_err {
    ($($error:ty => $map:ident),* $(,)?) => {
        $(impl ToPyErr for $error {
            fn to_py_err(self, py: Python<'_>) -> PyErr {
                $map(py, self)
            }
        })*
    };
}

to_py_err! {
    RecordsError => to_py,
    DocError => doc_to_py,
    StreamError => stream_to_py,
    ParquetError => parquet_to_py,
    MmapError => mmap_to_py,
}

/// Maps a record store error. An index out of range and a missing field stay the
/// built-in `IndexError` and `KeyError` a list and a dict raise.
pub(crate) fn to_py(py: Python<'_>, e: RecordsError) -> PyErr {
    let msg = e.to_string();
    records_err(py, e, msg)
}

/// The Python class [`to_py`] gives `e`, with the message `msg` (which may add where
/// the error happened, such as the file).
fn records_err(py: Python<'_>, e: RecordsError, msg: String) -> PyErr {
    match e {
        RecordsError::SchemaMismatch { .. }
        | RecordsError::UnknownField { .. }
        | RecordsError::DuplicateKey { .. } => schema_error(py, msg),
        RecordsError::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
        RecordsError::NoSuchField(name) => PyKeyError::new_err(name),
        RecordsError::Corrupt(_) => corrupt(py, msg),
        RecordsError::Unsupported { .. } | RecordsError::UnsupportedArrowType { .. } => {
            Class::UnsupportedType.err(py, msg)
        }
        RecordsError::ValueTooLarge { .. } => Class::Limit.err(py, msg),
        RecordsError::UnknownDType(_) | RecordsError::Arrow(_) | RecordsError::FieldNames(_) => {
            Class::InvalidValue.err(py, msg)
        }
        // A bug in memslim, not an error the user can act on.
        RecordsError::WorkerStopped => PyRuntimeError::new_err(msg),
        // Python's own error for `rows[::2] = too_few`.
        RecordsError::SliceSize { .. } => PyValueError::new_err(msg),
        RecordsError::OutOfMemory { .. } | RecordsError::ValueOutOfMemory { .. } => {
            PyMemoryError::new_err(msg)
        }
    }
}

/// Maps a document (memslim-arena) error.
pub(crate) fn doc_to_py(py: Python<'_>, e: DocError) -> PyErr {
    let msg = e.to_string();
    match e {
        DocError::Corrupt(_) | DocError::UnknownSymbol { .. } => corrupt(py, msg),
        DocError::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
        DocError::TooDeep { .. } | DocError::InternerFull(_) => Class::Limit.err(py, msg),
        DocError::Build(_) => Class::InvalidValue.err(py, msg),
        DocError::OutOfMemory { .. } => PyMemoryError::new_err(msg),
        DocError::Busy => Class::ConcurrentUse.err(py, msg),
    }
}

/// Maps a streaming error: malformed input to `memslim.ParseError` (also a `ValueError`)
/// with `path`, `line` and `column` attributes, I/O errors by kind with the path in the
/// message, record errors as [`to_py`] maps them (with the line in the message).
pub(crate) fn stream_to_py(py: Python<'_>, e: StreamError) -> PyErr {
    use StreamError as S;
    let msg = e.to_string();
    match e {
        S::Syntax {
            input,
            line,
            column,
            ..
        } => parse_error(py, msg, &input, line, Some(column)),
        S::Truncated { input, line, .. } => parse_error(py, msg, &input, line, None),
        S::Record { error, .. } => {
            let mapped = to_py(py, error);
            // Same class as the record store's error, with the input and line in front.
            PyErr::from_type(mapped.get_type(py), msg)
        }
        S::Io { error, .. } => match error.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        S::Corrupt { .. } => Class::CorruptFile.err(py, msg),
        S::OutOfMemory { .. } => PyMemoryError::new_err(msg),
        // What `json.dumps` (and `memslim.dumps`, which the sink's lines equal) raises.
        S::Unwritable { error, .. } => match error {
            JsonError::NoJsonForm(_) | JsonError::BadKey(_) | JsonError::Pickled { .. } => {
                PyTypeError::new_err(msg)
            }
            JsonError::Decode(_) => corrupt(py, msg),
            _ => PyValueError::new_err(msg),
        },
        S::Invalid(_) => Class::InvalidValue.err(py, msg),
        S::Records(error) => to_py(py, error),
        S::Doc(error) => doc_to_py(py, error),
    }
}

fn parse_error(py: Python<'_>, msg: String, path: &str, line: u64, column: Option<u64>) -> PyErr {
    let err = Class::Parse.err(py, msg);
    let value = err.value(py);
    let _ = value.setattr("path", path);
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    err
}

/// `OSError(errno, strerror, filename)`, which Python turns into `FileNotFoundError`,
/// `PermissionError`, ... by errno, with `.errno` and `.filename` set; `None` for an
/// error without an errno (except a directory refused by the core without one, given
/// the OS's `EISDIR`, so that it is an `IsADirectoryError`).
fn os_error(py: Python<'_>, path: &Path, source: &std::io::Error) -> Option<PyErr> {
    let errno = match source.raw_os_error() {
        Some(errno) => errno,
        None if source.kind() == std::io::ErrorKind::IsADirectory => py
            .import("errno")
            .ok()?
            .getattr("EISDIR")
            .ok()?
            .extract()
            .ok()?,
        None => return None,
    };
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    Some(PyOSError::new_err((
        errno,
        text,
        path.display().to_string(),
    )))
}

/// Maps a Parquet error (each names its file).
pub(crate) fn parquet_to_py(py: Python<'_>, e: ParquetError) -> PyErr {
    use ParquetError as P;
    let msg = e.to_string();
    match e {
        P::Io { path, source } => os_error(py, &path, &source).unwrap_or_else(|| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                PyFileExistsError::new_err(msg)
            } else {
                PyOSError::new_err(msg)
            }
        }),
        P::Corrupt { .. } | P::RecordFile(_) => Class::CorruptFile.err(py, msg),
        P::Schema { .. } => schema_error(py, msg),
        P::Unsupported { .. } => Class::FileFormat.err(py, msg),
        P::Invalid(_) => Class::InvalidValue.err(py, msg),
        P::Records(error) => to_py(py, error),
        P::Record { source, .. } => records_err(py, source, msg),
        P::Opaque { path, row, field } => untrusted(
            py,
            crate::convert::untrusted_message(&format!(
                "{}: row {row}, field {field:?}",
                path.display()
            )),
        ),
    }
}

/// Maps a mapped-file (memslim-mmap) error. A write to a read-only file is
/// `io.UnsupportedOperation`, as for a Python file object.
pub(crate) fn mmap_to_py(py: Python<'_>, e: MmapError) -> PyErr {
    let msg = e.to_string();
    match e {
        MmapError::Io { path, source } => {
            os_error(py, &path, &source).unwrap_or_else(|| PyOSError::new_err(msg))
        }
        MmapError::Corrupt { .. } => Class::CorruptFile.err(py, msg),
        MmapError::NotOurs { .. }
        | MmapError::FutureVersion { .. }
        | MmapError::Unsupported { .. } => Class::FileFormat.err(py, msg),
        MmapError::Locked { .. } => Class::FileLocked.err(py, msg),
        MmapError::ReadOnly(_) => Class::IoUnsupported.err(py, msg),
        MmapError::Closed => Class::ClosedFile.err(py, "I/O operation on a closed file"),
        MmapError::Records(e) => to_py(py, e),
        MmapError::FieldType { .. } => schema_error(py, msg),
        MmapError::Value(_) => Class::InvalidValue.err(py, msg),
        MmapError::OutOfMemory { .. } => PyMemoryError::new_err(msg),
    }
}
