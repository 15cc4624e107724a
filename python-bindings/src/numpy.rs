//! NumPy's protocols for the column views (`FileColumn`; `Column` once records.rs uses
//! this module instead of its own copy): `__array_interface__` and `__array__`.

use memslim_records::DType;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

static NUMPY_ARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// NumPy's `__array_interface__` for `len` read-only values of type `typestr` at `ptr`.
pub(crate) fn array_interface<'py>(
    py: Python<'py>,
    len: usize,
    ptr: usize,
    typestr: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("version", 3)?;
    d.set_item("shape", (len,))?;
    d.set_item("typestr", typestr)?;
    d.set_item("data", (ptr, true))?;
    Ok(d)
}

/// What `numpy.asarray` makes of a column view (`Column`, `FileColumn`): through the
/// view's `__array_interface__` when `zero_copy` (no copy unless `copy=True`), else from
/// its values (`ValueError` for `copy=False`): int and float columns with nulls as
/// float64 with NaN (as pandas and pyarrow's `to_numpy` do), bools as bool, the rest
/// as object.
pub(crate) fn column_array<'py>(
    view: &Bound<'py, PyAny>,
    zero_copy: bool,
    kind: DType,
    values: impl FnOnce() -> PyResult<Bound<'py, PyList>>,
    dtype: Option<&Bound<'py, PyAny>>,
    copy: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = view.py();
    let array = NUMPY_ARRAY.import(py, "numpy", "array")?;
    let kw = PyDict::new(py);
    if let Some(d) = dtype {
        kw.set_item("dtype", d)?;
    }
    if zero_copy {
        kw.set_item("copy", copy.unwrap_or(false))?;
        return array.call((view,), Some(&kw));
    }
    if copy == Some(false) {
        return Err(PyValueError::new_err(
            "this column cannot be viewed without a copy (it has nulls or is not numeric)",
        ));
    }
    let values = values()?;
    if dtype.is_none() {
        match kind {
            DType::Int64 | DType::Float64 => {
                let nan = f64::NAN.into_pyobject(py)?;
                let fl = PyList::empty(py);
                for v in values.iter() {
                    fl.append(if v.is_none() {
                        nan.clone().into_any()
                    } else {
                        v
                    })?;
                }
                kw.set_item("dtype", "float64")?;
                return array.call((fl,), Some(&kw));
            }
            DType::Bool => {}
            _ => kw.set_item("dtype", "object")?,
        }
    }
    array.call((values,), Some(&kw))
}
