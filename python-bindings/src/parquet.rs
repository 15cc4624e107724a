//! Bindings of `memslim-parquet`: a writer of files and datasets, and a batch reader.

use std::path::PathBuf;

use memslim_parquet::{Codec, DatasetWriter, ParquetReader, ReadOptions, WriteOptions};
use memslim_records::RecordList;
use pyo3::prelude::*;

use crate::errors::IntoPyResult;
use crate::records::dict_list_from_core;
use crate::size;
use crate::writer::{Busy, batch_of, open_writer};

/// The `partition_by=` argument: one field name (a `str`, as polars takes it) or a
/// sequence of them.
///
/// # Errors
/// `TypeError` for anything else (a sequence holding a non-`str` included).
pub(crate) fn partition_keys(ob: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = ob.cast::<pyo3::types::PyString>() {
        return Ok(vec![s.to_str()?.to_owned()]);
    }
    ob.extract()
}

fn fspath(o: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let os = o.py().import("os")?;
    let s: String = os.call_method1("fspath", (o,))?.extract()?;
    Ok(PathBuf::from(s))
}

/// `memslim._memslim.ParquetWriter`: writes `DictList` batches to one Parquet file or a
/// (Hive-partitioned) dataset directory.
#[pyclass(name = "ParquetWriter", module = "memslim._memslim", frozen)]
pub struct PyParquetWriter {
    inner: Busy<DatasetWriter>,
    path: String,
}

#[pymethods]
impl PyParquetWriter {
    #[new]
    #[pyo3(signature = (path, *, dataset, partition_by=Vec::new(), max_rows_per_file=None, compression="snappy", row_group_size=131_072))]
    fn new(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        dataset: bool,
        #[pyo3(from_py_with = partition_keys)] partition_by: Vec<String>,
        #[pyo3(from_py_with = size::max_rows_per_file)] max_rows_per_file: Option<usize>,
        compression: &str,
        #[pyo3(from_py_with = size::row_group_size)] row_group_size: usize,
    ) -> PyResult<Self> {
        let p = fspath(path)?;
        let opts = WriteOptions {
            codec: Codec::from_name(compression).py_err(py)?,
            row_group_rows: row_group_size,
            max_rows_per_file,
            ..WriteOptions::default()
        };
        let w = DatasetWriter::create(&p, dataset, &partition_by, opts).py_err(py)?;
        Ok(PyParquetWriter {
            inner: Busy::new("ParquetWriter", w),
            path: p.display().to_string(),
        })
    }

    /// Writes a batch; returns the records written so far.
    fn write(&self, batch: &Bound<'_, PyAny>) -> PyResult<usize> {
        let py = batch.py();
        let mut guard = self.inner.lock(py)?;
        let w = open_writer(py, &mut guard, &self.path)?;
        let l = batch_of(batch, "ParquetWriter")?;
        py.detach(|| w.write(&l)).py_err(py)?;
        Ok(w.rows())
    }

    /// Finishes every file; returns the paths written (none if already closed).
    fn close(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let Some(w) = self.inner.lock(py)?.take() else {
            return Ok(Vec::new());
        };
        let files = py.detach(|| w.close()).py_err(py)?;
        Ok(files.iter().map(|p| p.display().to_string()).collect())
    }

    /// Drops the files not yet finished (finished part files stay).
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(w) = self.inner.lock(py)?.take() {
            w.abort();
        }
        Ok(())
    }

    /// Records written so far (0 once closed).
    #[getter]
    fn rows(&self, py: Python<'_>) -> PyResult<usize> {
        let guard = self.inner.lock(py)?;
        Ok(guard.as_ref().map_or(0, DatasetWriter::rows))
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (exc_type, *_args))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _args: &Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<bool> {
        if exc_type.is_none() {
            self.close(py)?;
        } else {
            self.abort(py)?;
        }
        Ok(false)
    }
}

/// `memslim._memslim.ParquetReader`: an iterator of `DictList` batches.
#[pyclass(name = "ParquetReader", module = "memslim._memslim", frozen)]
pub struct PyParquetReader {
    inner: Busy<ParquetReader>,
    /// The files read, in order: kept here, since the reader itself is dropped once
    /// run to the end or failed.
    files: Vec<String>,
}

#[pymethods]
impl PyParquetReader {
    #[new]
    #[pyo3(signature = (inputs, *, columns=None, batch_size=65_536, trusted=false))]
    fn new(
        py: Python<'_>,
        inputs: Vec<Bound<'_, PyAny>>,
        columns: Option<Vec<String>>,
        #[pyo3(from_py_with = size::batch_size)] batch_size: usize,
        trusted: bool,
    ) -> PyResult<Self> {
        let inputs = inputs.iter().map(fspath).collect::<PyResult<Vec<_>>>()?;
        let opts = ReadOptions {
            columns,
            batch_rows: batch_size,
            refuse_opaque: !trusted,
        };
        let r = py
            .detach(|| ParquetReader::open(&inputs, opts))
            .py_err(py)?;
        let files = r.files().map(|p| p.display().to_string()).collect();
        Ok(PyParquetReader {
            inner: Busy::new("ParquetReader", r),
            files,
        })
    }

    /// The files read, in order.
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut guard = self.inner.lock(py)?;
        let Some(r) = guard.as_mut() else {
            return Ok(None);
        };
        match py.detach(|| r.next()) {
            Some(Ok(list)) => Ok(Some(dict_list_from_core(py, list)?)),
            Some(Err(e)) => {
                *guard = None;
                Err(e).py_err(py)
            }
            None => {
                *guard = None;
                Ok(None)
            }
        }
    }
}

/// Registers this module's classes.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyParquetWriter>()?;
    m.add_class::<PyParquetReader>()?;
    m.add_function(wrap_pyfunction!(_read_parquet, m)?)?;
    Ok(())
}

/// Writes `list` as `DictList.to_parquet` does: one file, or a dataset directory when
/// `partition_by` or `max_rows_per_file` is given (or `dataset` says so).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_list(
    py: Python<'_>,
    list: RecordList,
    path: &Bound<'_, PyAny>,
    partition_by: Vec<String>,
    max_rows_per_file: Option<usize>,
    compression: &str,
    row_group_size: usize,
    dataset: Option<bool>,
) -> PyResult<Vec<String>> {
    let dataset = dataset.unwrap_or(!partition_by.is_empty() || max_rows_per_file.is_some());
    let w = PyParquetWriter::new(
        py,
        path,
        dataset,
        partition_by,
        max_rows_per_file,
        compression,
        row_group_size,
    )?;
    let Some(inner) = w.inner.lock(py)?.take() else {
        return Ok(Vec::new());
    };
    let files = py.detach(move || inner.write_all(&list)).py_err(py)?;
    Ok(files.iter().map(|p| p.display().to_string()).collect())
}

/// Reads every record of `inputs` into one `DictList`.
#[pyfunction]
#[pyo3(signature = (inputs, *, columns=None, trusted=false))]
pub(crate) fn _read_parquet(
    py: Python<'_>,
    inputs: Vec<Bound<'_, PyAny>>,
    columns: Option<Vec<String>>,
    trusted: bool,
) -> PyResult<Py<PyAny>> {
    let inputs = inputs.iter().map(fspath).collect::<PyResult<Vec<_>>>()?;
    let opts = ReadOptions {
        columns,
        refuse_opaque: !trusted,
        ..ReadOptions::default()
    };
    let list = py
        .detach(|| memslim_parquet::read_all(&inputs, opts))
        .py_err(py)?;
    dict_list_from_core(py, list)
}
