//! Bindings for `memslim-mmap`, one file per Python type: `DictListFile` (what
//! `DictList.open` returns, and the iterator over it and its slices, dict_list_file.rs),
//! its lazy slice `FileSlice` (file_slice.rs), the record a `Row` of it holds
//! (file_record.rs), `NumberFile` (formerly `MmapList`, number_file.rs), and the lock
//! they all hold their core object behind (lock.rs). `DictList.save` and
//! `Stream.to_file` are here.
//!
//! A file's records are read through the same `Row` and `Column` types as a list's
//! (records/row.rs, records/column.rs), over the core's one read interface.

mod dict_list_file;
mod file_record;
mod file_slice;
mod lock;
mod number_file;

use memslim_mmap::Mode;
use memslim_mmap::view::Positions;
use memslim_records::CellRef;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PySlice, PyString};

use crate::convert::{Trust, cell_to_py_from};
use crate::errors::{Class, IntoPyResult};

pub(crate) use dict_list_file::PyDictListFile;
pub(crate) use dict_list_file::PyDictListFileIter;
pub(crate) use file_record::{FileBatch, FileRecord};
use file_slice::PyFileSlice;
use number_file::{PyNumberFile, PyNumberFileIter};

pub(super) fn parse_mode(py: Python<'_>, mode: &str) -> PyResult<Mode> {
    match mode {
        "r" => Ok(Mode::Read),
        "a" => Ok(Mode::Append),
        other => Err(Class::InvalidValue.err(py, format!(
            "mode must be \"a\" (read and append, create if missing) or \"r\" (read-only), not {other:?}"
        ))),
    }
}

/// The positions `view[s]` names (a slice of a slice is one view of the file). `view`
/// is asked after the slice's bounds are read, as `list` takes its length
/// ([`crate::sequence::slice_of`]).
pub(super) fn slice_of(
    s: &Bound<'_, PySlice>,
    view: impl FnOnce() -> PyResult<Positions>,
) -> PyResult<Positions> {
    let mut at = Positions::all(0);
    let slice = crate::sequence::slice_of(s, || {
        at = view()?;
        Ok(at.len)
    })?;
    Ok(at.slice(slice.start, slice.step, slice.len))
}

/// A value read from a record file: a pickled value is loaded only from a file opened
/// with `trusted=True`, and the error names the field and the file.
pub(crate) fn file_cell<'py>(
    py: Python<'py>,
    c: CellRef<'_>,
    trust: Trust,
    path: &std::path::Path,
    field: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell_to_py_from(py, c, trust).map_err(|e| untrusted_in(py, e, path, field))
}

/// `e`, or for a refused pickled value the same refusal naming `field` and `path`.
pub(super) fn untrusted_in(py: Python<'_>, e: PyErr, path: &std::path::Path, field: &str) -> PyErr {
    if !crate::errors::is_untrusted(py, &e) {
        return e;
    }
    crate::errors::untrusted(
        py,
        crate::convert::untrusted_message(&format!(
            "field {field:?} of record file {}",
            path.display()
        )),
    )
}

/// `==` of a read-only sequence of `len` items with `other`: equal when `other` is a
/// sized, non-string, non-dict iterable of as many equal items. `get(i)` gives item `i`
/// (`None` if there is none any more). No lock is held while `other` runs Python code.
pub(crate) fn seq_eq<'py>(
    py: Python<'py>,
    len: usize,
    other: &Bound<'py, PyAny>,
    get: impl Fn(usize) -> PyResult<Option<Bound<'py, PyAny>>>,
) -> PyResult<Py<PyAny>> {
    let Ok(n) = other.len() else {
        return Ok(py.NotImplemented());
    };
    if other.is_instance_of::<PyString>() || other.is_instance_of::<PyDict>() {
        return Ok(py.NotImplemented());
    }
    if len != n {
        return false.into_py_any(py);
    }
    for (i, item) in other.try_iter()?.enumerate() {
        let item = item?;
        match get(i)? {
            Some(v) if v.eq(item)? => {}
            _ => return false.into_py_any(py),
        }
    }
    true.into_py_any(py)
}

/// `DictList.save(path)`: writes the list's records exactly (absent keys, ints among
/// floats, key order), replacing `path` atomically; returns the number of records.
pub(crate) fn save_list(
    py: Python<'_>,
    list: &memslim_records::RecordList,
    path: std::path::PathBuf,
) -> PyResult<usize> {
    memslim_mmap::save_records(&path, list).py_err(py)
}

/// `Stream.to_file(path)`: writes anything exporting `__arrow_c_stream__` as a record
/// file, replacing `path` atomically; returns the number of records.
#[pyfunction]
pub(crate) fn _save_records(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    path: std::path::PathBuf,
) -> PyResult<usize> {
    let reader = crate::arrow_stream::import_stream(data, "save")?;
    let schema = reader.schema();
    memslim_mmap::save_arrow(&path, &schema, reader).py_err(py)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDictListFile>()?;
    m.add(
        "_DictListFileIter",
        crate::fast_slots::iter_class::<PyDictListFileIter>(m.py())?,
    )?;
    m.add_class::<PyNumberFile>()?;
    m.add_class::<PyNumberFileIter>()?;
    m.add_function(wrap_pyfunction!(_save_records, m)?)?;
    // The views of a file's records are the views of a list's (one read interface):
    // the old names stay for one release.
    m.add("FileRow", m.getattr("Row")?)?;
    m.add("FileColumn", m.getattr("Column")?)?;
    m.add_class::<PyFileSlice>()?;
    Ok(())
}
