//! `Column`: a read-only snapshot of one field, and the NumPy and Arrow faces it shares
//! with `FileColumn`.

use super::*;
use crate::numpy::{array_interface, column_array};

/// A read-only snapshot of one field.
#[pyclass(name = "Column", module = "memslim._memslim", sequence)]
pub struct PyColumn {
    pub(super) view: ColumnView,
    pub(super) copied: OnceLock<Arc<OwnedNumbers>>,
}

impl PyColumn {
    pub(super) fn interface_parts(&self) -> Option<(usize, &'static str)> {
        if let Some(n) = self.view.numbers() {
            return Some(match n {
                Numbers::I64(s) => (s.as_ptr() as usize, "<i8"),
                Numbers::F64(s) => (s.as_ptr() as usize, "<f8"),
            });
        }
        if !self.view.is_dense_numeric() {
            return None;
        }
        let owned = self.copied.get_or_init(|| {
            Arc::new(
                self.view
                    .numbers_copied()
                    .unwrap_or(OwnedNumbers::I64(Vec::new())),
            )
        });
        Some(match owned.as_ref() {
            OwnedNumbers::I64(v) => (v.as_ptr() as usize, "<i8"),
            OwnedNumbers::F64(v) => (v.as_ptr() as usize, "<f8"),
        })
    }
}

#[pymethods]
impl PyColumn {
    #[getter]
    pub(super) fn name(&self) -> &str {
        self.view.name()
    }

    #[getter]
    pub(super) fn dtype(&self) -> &'static str {
        self.view.dtype().name()
    }

    #[getter]
    pub(super) fn null_count(&self) -> usize {
        self.view.null_count()
    }

    pub(super) fn __len__(&self) -> usize {
        self.view.len()
    }

    pub(super) fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let len = self.view.len();
        if let Ok(s) = index.cast::<PySlice>() {
            let (start, _, step, n) = slice_indices(s, len)?;
            let l = PyList::empty(py);
            for p in slice_positions(start, step, n) {
                l.append(cell_to_py(py, self.view.get(p))?)?;
            }
            return Ok(l.into_any());
        }
        let i = norm_index(index.extract()?, len, "Column")?;
        cell_to_py(py, self.view.get(i))
    }

    pub(super) fn __iter__(&self) -> PyColumnIter {
        // The view shares the column's chunks, so iterating copies nothing up front.
        PyColumnIter {
            view: self.view.clone(),
            pos: AtomicUsize::new(0),
        }
    }

    /// Number of values equal to `value` (native for built-in probes; see select.rs).
    pub(super) fn count(&self, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        crate::select::column_count(&self.view, value)
    }

    /// Position of the first value equal to `value` in `[start, stop)`.
    #[pyo3(signature = (value, start = 0, stop = isize::MAX))]
    pub(super) fn index(
        &self,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
    ) -> PyResult<usize> {
        let len = self.view.len();
        let (a, b) = (clamp_index(start, len), clamp_index(stop, len));
        crate::select::column_find(&self.view, value, a, b)?
            .ok_or_else(crate::select::not_in_column)
    }

    pub(super) fn __contains__(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(crate::select::column_find(&self.view, value, 0, usize::MAX)?.is_some())
    }

    pub(super) fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for i in 0..self.view.len() {
            l.append(cell_to_py(py, self.view.get(i))?)?;
        }
        Ok(l)
    }

    pub(super) fn sum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.view.sum().py_err(py)? {
            Sum::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
            Sum::Float(f) => Ok(f.into_pyobject(py)?.into_any()),
        }
    }

    pub(super) fn mean(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        let n = self.view.len() - self.view.null_count();
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(match self.view.sum().py_err(py)? {
            Sum::Int(i) => i as f64 / n as f64,
            Sum::Float(f) => f / n as f64,
        }))
    }

    pub(super) fn min<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.view.min_max().py_err(py)? {
            Some((lo, _)) => cell_to_py(py, lo),
            None => Err(PyValueError::new_err("min() of a column with no values")),
        }
    }

    pub(super) fn max<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.view.min_max().py_err(py)? {
            Some((_, hi)) => cell_to_py(py, hi),
            None => Err(PyValueError::new_err("max() of a column with no values")),
        }
    }

    /// NumPy's array interface: zero-copy for dense numeric columns in one chunk.
    #[getter]
    pub(super) fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some((ptr, typestr)) = self.interface_parts() else {
            return Err(PyAttributeError::new_err(
                "__array_interface__ (only numeric columns without nulls)",
            ));
        };
        array_interface(py, self.view.len(), ptr, typestr)
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    pub(super) fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.borrow();
        let zero_copy = this.interface_parts().is_some();
        column_array(
            slf.as_any(),
            zero_copy,
            this.view.dtype(),
            || this.to_list(slf.py()),
            dtype,
            copy,
        )
    }

    /// The buffer protocol (`memoryview(col)`), read-only: numeric columns without
    /// nulls, as `q` (int64) or `d` (float64) items; zero-copy where
    /// `__array_interface__` is.
    ///
    /// # Safety
    /// Called by CPython with a view to fill.
    pub(super) unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: std::ffi::c_int,
    ) -> PyResult<()> {
        use pyo3::exceptions::PyBufferError;
        if (flags & pyo3::ffi::PyBUF_WRITABLE) == pyo3::ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("a Column is read-only"));
        }
        let this = slf.borrow();
        let Some((ptr, typestr)) = this.interface_parts() else {
            return Err(PyBufferError::new_err(
                "only numeric columns without nulls support the buffer protocol",
            ));
        };
        let ex = crate::mmap_ffi::Export {
            ptr: ptr as *const u8,
            len: this.view.len() * 8,
            itemsize: 8,
            format: if typestr == "<f8" { c"d" } else { c"q" },
            readonly: true,
        };
        drop(this);
        // SAFETY: `view` comes from CPython's getbuffer call. The numbers belong to
        // chunks this Column's view keeps alive (the list copies a shared chunk before
        // writing) or to its copy in `copied`, which is set once and never replaced, so
        // they stay valid and unchanged while the view holds a reference to this object.
        unsafe { crate::mmap_ffi::fill(slf.as_any(), view, flags, &ex) }
    }

    /// # Safety
    /// Called by CPython once per successful `__getbuffer__`.
    pub(super) unsafe fn __releasebuffer__(&self, view: *mut pyo3::ffi::Py_buffer) {
        // SAFETY: `view` was filled by `__getbuffer__` above.
        unsafe { crate::mmap_ffi::release(view) };
    }

    pub(super) fn __repr__(&self) -> String {
        format!(
            "Column({:?}, dtype={}, len={})",
            self.view.name(),
            self.view.dtype(),
            self.view.len()
        )
    }

    /// This column for Arrow consumers: one-column record batches (absent as null).
    #[pyo3(signature = (requested_schema = None))]
    pub(super) fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        crate::arrow_stream::export_column(py, &self.view, requested_schema)
    }
}

/// Iterator over a Column's values, converting each one as it is reached.
#[pyclass(name = "_ColumnIter", module = "memslim._memslim", frozen)]
pub struct PyColumnIter {
    pub(super) view: ColumnView,
    pub(super) pos: AtomicUsize,
}

#[pymethods]
impl PyColumnIter {
    pub(super) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(super) fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let i = self.pos.load(Ordering::Relaxed);
        if i >= self.view.len() {
            return Ok(None);
        }
        self.pos.store(i + 1, Ordering::Relaxed);
        cell_to_py(py, self.view.get(i)).map(Some)
    }
}
