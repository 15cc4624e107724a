//! `DictList`: records in as mappings, out as `Row` views.

use super::*;

/// Reads any object exporting `__arrow_c_stream__` into a core list.
///
/// Pickled values are refused unless `trusted`: the table may come from anyone, and
/// loading them could run code of their choosing.
pub(super) fn import_arrow(
    data: &Bound<'_, PyAny>,
    chunk_rows: usize,
    trusted: bool,
) -> PyResult<RecordList> {
    let py = data.py();
    let reader = crate::arrow_stream::import_stream(data, "from_arrow")?;
    let schema = reader.schema();
    let list = RecordList::from_arrow(
        &schema,
        reader.map(|b| b.map_err(RecordsError::from)),
        chunk_rows,
    )
    .py_err(py)?;
    if !trusted {
        crate::convert::refuse_pickled(py, &list, "the imported Arrow data")?;
    }
    Ok(list)
}

/// A new `DictList` around `inner`, the list's own records (registered with
/// tracemalloc).
pub(crate) fn new_dict_list(py: Python<'_>, inner: RecordList) -> PyResult<Py<PyAny>> {
    Records::wrap(py, RecordForm::Dict, inner)
}

#[pymethods]
impl PyDictList {
    /// Plain `dict` copies of the records, made in batches from a snapshot of the list.
    pub(super) fn iter_dicts(slf: &Bound<'_, Self>) -> PyResult<PyPlainIter> {
        plain_iter(slf.py(), slf.as_super(), false)
    }

    #[new]
    #[pyo3(signature = (data = None, *, schema = None, chunk_rows = None))]
    pub(super) fn new(
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        schema: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::size::chunk_rows)] chunk_rows: Option<usize>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut base = Records::build(py, RecordForm::Dict, schema, chunk_rows, None)?;
        if let Some(data) = data {
            if let Ok(o) = data.cast::<PyRecords>() {
                let src = o.get().logical(py)?.inner.clone();
                base.inner.extend_from(&src).py_err(py)?;
                base.sync_names(py);
            } else if let Some(src) =
                crate::mmap::PyDictListFile::records_of(data, base.inner.chunk_rows())?
            {
                // A record file's records, copied natively (shared: the copy is new).
                base.inner.extend_from(&src).py_err(py)?;
                base.sync_names(py);
            } else {
                base.extend_from_iter(data, 0, Slice::before(0))?;
            }
        }
        base.retrack();
        Ok(PyClassInitializer::from(PyRecords::from_records(base)).add_subclass(PyDictList))
    }

    /// Opens a persistent record file: mode "a" (the default) reads and appends, creating
    /// it if missing; mode "r" only reads; `recover=True` repairs a damaged file first.
    /// See `DictListFile`.
    #[classmethod]
    #[pyo3(signature = (path, mode = "a", *, recover = false, trusted = false))]
    pub(super) fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: std::path::PathBuf,
        mode: &str,
        recover: bool,
        trusted: bool,
    ) -> PyResult<crate::mmap::PyDictListFile> {
        crate::mmap::PyDictListFile::new(py, path, mode, recover, trusted)
    }

    /// Writes the records to a record file at `path`, replacing it atomically; returns
    /// the number of records.
    pub(super) fn save(slf: &Bound<'_, Self>, path: std::path::PathBuf) -> PyResult<usize> {
        let sup: &Bound<'_, PyRecords> = slf.as_super();
        let base = sup.get().logical(slf.py())?;
        let list = base.inner.without_unused_fields();
        crate::mmap::save_list(slf.py(), &list, path)
    }

    /// Writes the records to Parquet: one file at `path`, or, with `partition_by` or
    /// `max_rows_per_file` (or `dataset=True`), part files under the directory `path`
    /// in the Hive layout. Returns the paths written. See `docs/parquet.md`.
    #[pyo3(signature = (path, *, partition_by=Vec::new(), max_rows_per_file=None, compression="snappy", row_group_size=131_072, dataset=None))]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn to_parquet(
        slf: &Bound<'_, Self>,
        path: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = crate::parquet::partition_keys)] partition_by: Vec<String>,
        #[pyo3(from_py_with = crate::size::max_rows_per_file)] max_rows_per_file: Option<usize>,
        compression: &str,
        #[pyo3(from_py_with = crate::size::row_group_size)] row_group_size: usize,
        dataset: Option<bool>,
    ) -> PyResult<Vec<String>> {
        let list = {
            let sup: &Bound<'_, PyRecords> = slf.as_super();
            let base = sup.get().logical(slf.py())?;
            base.inner.without_unused_fields()
        };
        crate::parquet::write_list(
            slf.py(),
            list,
            path,
            partition_by,
            max_rows_per_file,
            compression,
            row_group_size,
            dataset,
        )
    }

    /// Field names, in first-seen order (not those no record has any more).
    #[getter]
    pub(super) fn columns(slf: &Bound<'_, Self>) -> PyResult<Vec<String>> {
        let sup: &Bound<'_, PyRecords> = slf.as_super();
        let shown = sup.get().fields_shown(slf.py())?;
        let base = sup.get().state.borrow(slf.py())?;
        Ok(shown
            .into_iter()
            .map(|j| base.inner.field_name(j).to_owned())
            .collect())
    }

    #[classmethod]
    #[pyo3(signature = (data, *, chunk_rows = None, trusted = false))]
    pub(super) fn from_arrow(
        _cls: &Bound<'_, PyType>,
        data: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = crate::size::chunk_rows)] chunk_rows: Option<usize>,
        trusted: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = data.py();
        let inner = import_arrow(data, chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS), trusted)?;
        Records::wrap(py, RecordForm::Dict, inner)
    }
}
