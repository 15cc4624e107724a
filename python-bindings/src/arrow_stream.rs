//! The Arrow PyCapsule stream interface, both ways: handing record batches to a consumer
//! (`__arrow_c_stream__`) and taking over a producer's stream (`DictList.from_arrow`,
//! `DictList.save`). The one unsafe step, taking the stream out of its capsule, is here.

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use memslim_records::ColumnView;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::IntoPyResult;

/// A capsule holding an Arrow C stream of `batches`, what `__arrow_c_stream__` returns.
///
/// # Errors
/// If the capsule cannot be made.
pub(crate) fn export_stream<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    let stream = FFI_ArrowArrayStream::new(Box::new(reader));
    PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
}

/// A capsule holding an Arrow C stream of `view`'s values as one-column record
/// batches (`Column.__arrow_c_stream__`). The requested schema is a hint the interface
/// lets producers ignore: the column's own (exact) types are exported.
///
/// # Errors
/// If arrow-rs rejects an array, or the capsule cannot be made.
pub(crate) fn export_column<'py>(
    py: Python<'py>,
    view: &ColumnView,
    requested_schema: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let _ = requested_schema;
    let (schema, batches) = view.to_arrow().py_err(py)?;
    export_stream(py, schema, batches)
}

/// Takes over the Arrow C stream that `data.__arrow_c_stream__()` exports; `what` names
/// the caller in the error for an object that has none.
///
/// # Errors
/// `TypeError` if `data` has no `__arrow_c_stream__`, `memslim.InvalidValueError` for an invalid
/// stream.
pub(crate) fn import_stream(
    data: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<RecordBatchStreamReader> {
    let py = data.py();
    if !data.hasattr(intern!(py, "__arrow_c_stream__"))? {
        return Err(PyTypeError::new_err(format!(
            "{what} needs an object with __arrow_c_stream__ (DictList, pyarrow Table, polars \
             DataFrame, ...), not {}",
            data.get_type().name()?
        )));
    }
    let capsule = data.call_method0(intern!(py, "__arrow_c_stream__"))?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: by the Arrow PyCapsule interface, a capsule named "arrow_array_stream"
    // holds a valid, initialized `ArrowArrayStream`. `from_raw` moves it out and leaves
    // a released (null `release`) stream behind, so the producer's capsule destructor
    // does not release it a second time.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr().cast()) };
    RecordBatchStreamReader::try_new(stream).map_err(|e| {
        crate::errors::Class::InvalidValue.err(py, format!("invalid Arrow stream: {e}"))
    })
}
