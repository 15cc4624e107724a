//! The one table from core errors to Python exceptions.
//!
//! memslim's exception classes live in `memslim/exceptions.py` so that each can inherit
//! both `MemslimError` and the built-in a user would catch (`TypeError`, ...).

use memslim_records::RecordsError;
use pyo3::exceptions::{PyIndexError, PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static SCHEMA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CORRUPT_DATA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, "memslim.exceptions", name)
}

fn raise(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, msg: String) -> PyErr {
    match class(py, cell, name) {
        Ok(cls) => PyErr::from_type(cls.clone(), msg),
        Err(e) => e,
    }
}

/// `memslim.SchemaError` (also a `TypeError`).
pub(crate) fn schema_error(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &SCHEMA_ERROR, "SchemaError", msg)
}

/// `memslim.CorruptDataError` (also a `ValueError`).
pub(crate) fn corrupt(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &CORRUPT_DATA_ERROR, "CorruptDataError", msg)
}

static UNTRUSTED_DATA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `memslim.UntrustedDataError` (also a `ValueError`): a pickled value from a source the
/// user did not vouch for.
pub(crate) fn untrusted(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &UNTRUSTED_DATA_ERROR, "UntrustedDataError", msg)
}

/// Whether `e` is a `memslim.UntrustedDataError`.
pub(crate) fn is_untrusted(py: Python<'_>, e: &PyErr) -> bool {
    class(py, &UNTRUSTED_DATA_ERROR, "UntrustedDataError").is_ok_and(|c| e.is_instance(py, c))
}

/// Maps a core error to the Python exception a user would catch.
pub(crate) fn to_py(py: Python<'_>, e: RecordsError) -> PyErr {
    let msg = e.to_string();
    match e {
        RecordsError::SchemaMismatch { .. }
        | RecordsError::UnknownField { .. }
        | RecordsError::DuplicateKey { .. } => schema_error(py, msg),
        RecordsError::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
        RecordsError::NoSuchField(name) => PyKeyError::new_err(name),
        RecordsError::Corrupt(_) => corrupt(py, msg),
        RecordsError::Unsupported { .. } | RecordsError::UnsupportedArrowType { .. } => {
            PyTypeError::new_err(msg)
        }
        RecordsError::ValueTooLarge { .. }
        | RecordsError::UnknownDType(_)
        | RecordsError::Arrow(_) => PyValueError::new_err(msg),
        RecordsError::WorkerStopped => PyRuntimeError::new_err(msg),
    }
}

/// Extension for `Result<T, RecordsError>`.
pub(crate) trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, RecordsError> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// Maps a document (memslim-arena) error to the Python exception a user would catch.
pub(crate) fn doc_to_py(py: Python<'_>, e: memslim_arena::DocError) -> PyErr {
    use memslim_arena::DocError;
    let msg = e.to_string();
    match e {
        DocError::Corrupt(_) | DocError::UnknownSymbol { .. } => corrupt(py, msg),
        DocError::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
        DocError::Build(_) | DocError::TooDeep { .. } | DocError::InternerFull(_) => {
            PyValueError::new_err(msg)
        }
    }
}

static PARSE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CORRUPT_FILE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Maps a streaming error: malformed input to `memslim.ParseError` (also a `ValueError`)
/// with `path`, `line` and `column` attributes, I/O errors by kind with the path in the
/// message, record errors as [`to_py`] maps them (with the line in the message).
pub(crate) fn stream_to_py(py: Python<'_>, e: memslim_stream::StreamError) -> PyErr {
    use memslim_stream::StreamError as S;
    use pyo3::exceptions::{
        PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError,
    };
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
        S::Corrupt { .. } => raise(py, &CORRUPT_FILE_ERROR, "CorruptFileError", msg),
        S::OutOfMemory { .. } => pyo3::exceptions::PyMemoryError::new_err(msg),
        S::Unwritable { .. } => PyValueError::new_err(msg),
        S::Invalid(_) => PyValueError::new_err(msg),
        S::Records(error) => to_py(py, error),
        S::Doc(error) => doc_to_py(py, error),
    }
}

fn parse_error(py: Python<'_>, msg: String, path: &str, line: u64, column: Option<u64>) -> PyErr {
    let err = raise(py, &PARSE_ERROR, "ParseError", msg);
    let value = err.value(py);
    let _ = value.setattr("path", path);
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    err
}

static FILE_FORMAT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Maps a Parquet error (each names its file) to the Python exception a user would catch.
pub(crate) fn parquet_to_py(py: Python<'_>, e: memslim_parquet::ParquetError) -> PyErr {
    use memslim_parquet::ParquetError as P;
    use pyo3::exceptions::PyOSError;
    let msg = e.to_string();
    match e {
        P::Io { path, source } => match source.raw_os_error() {
            // OSError(errno, strerror, filename): FileNotFoundError, ... by errno.
            Some(errno) => {
                let text = std::io::Error::from_raw_os_error(errno).to_string();
                let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
                PyOSError::new_err((errno, text, path.display().to_string()))
            }
            None if source.kind() == std::io::ErrorKind::AlreadyExists => {
                pyo3::exceptions::PyFileExistsError::new_err(msg)
            }
            None => PyOSError::new_err(msg),
        },
        P::Corrupt { .. } => raise(py, &CORRUPT_FILE_ERROR, "CorruptFileError", msg),
        P::Schema { .. } => schema_error(py, msg),
        P::Unsupported { .. } => raise(py, &FILE_FORMAT_ERROR, "FileFormatError", msg),
        P::Invalid(_) => PyValueError::new_err(msg),
        P::Records(error) => to_py(py, error),
        P::RecordFile(_) => raise(py, &CORRUPT_FILE_ERROR, "CorruptFileError", msg),
    }
}
