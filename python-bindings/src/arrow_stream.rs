//! The Arrow PyCapsule stream interface, both ways: handing record batches to a consumer
//! (`__arrow_c_stream__`) and taking over a producer's stream (`DictList.from_arrow`,
//! `DictList.save`). The unsafe steps of an import are here: taking the stream out of
//! its capsule, calling its callbacks, and mending a producer's `Null` arrays.

use std::ffi::{CStr, c_void};

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi_and_data_type};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchOptions, StructArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
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
pub(crate) fn import_stream(data: &Bound<'_, PyAny>, what: &str) -> PyResult<ForeignStream> {
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
    ForeignStream::new(stream).map_err(|e| {
        crate::errors::Class::InvalidValue.err(py, format!("invalid Arrow stream: {e}"))
    })
}

/// A producer's Arrow C stream of record batches, read one batch at a time: what
/// arrow-rs' `RecordBatchStreamReader` does, but lenient where a common producer strays
/// from the specification (see [`mend_null_arrays`]), and reporting a malformed array
/// that makes arrow-rs panic as an error.
pub(crate) struct ForeignStream {
    stream: FFI_ArrowArrayStream,
    schema: SchemaRef,
    /// The batches' type (a struct of the schema's fields).
    batch_type: DataType,
}

impl ForeignStream {
    fn new(mut stream: FFI_ArrowArrayStream) -> Result<Self, ArrowError> {
        let (Some(get_schema), Some(_)) = (stream.get_schema(), stream.release()) else {
            return Err(ArrowError::CDataInterface(
                "the stream is released or has no get_schema".into(),
            ));
        };
        let mut ffi = FFI_ArrowSchema::empty();
        // SAFETY: `get_schema` is the callback of `stream`, a live (unreleased) stream
        // this reader owns; it writes a schema it hands over into `ffi`, which is
        // released when dropped.
        let rc = unsafe { get_schema(&raw mut stream, &raw mut ffi) };
        if rc != 0 {
            return Err(Self::producer_error(&mut stream, "get_schema", rc));
        }
        let field = Field::try_from(&ffi)?;
        let DataType::Struct(fields) = field.data_type() else {
            return Err(ArrowError::CDataInterface(format!(
                "the stream's arrays are {}, not record batches (structs)",
                field.data_type()
            )));
        };
        let schema = Schema::new(fields.clone()).with_metadata(field.metadata().clone());
        Ok(ForeignStream {
            stream,
            schema: std::sync::Arc::new(schema),
            batch_type: field.data_type().clone(),
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The error of a callback that returned `rc`, with the producer's message if it
    /// gives one.
    fn producer_error(stream: &mut FFI_ArrowArrayStream, call: &str, rc: i32) -> ArrowError {
        let mut msg = format!("the producer's {call} failed (error code {rc})");
        if let Some(last) = stream.get_last_error() {
            // SAFETY: `last` is `stream`'s own callback, called right after the call that
            // failed; it returns NULL or a NUL-terminated string valid until the next
            // call on the stream, copied out at once.
            let text = unsafe {
                let p = last(stream);
                (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
            };
            if let Some(t) = text {
                msg.push_str(": ");
                msg.push_str(&t);
            }
        }
        ArrowError::CDataInterface(msg)
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let get_next = self.stream.get_next()?;
        let mut array = FFI_ArrowArray::empty();
        // SAFETY: `get_next` is the callback of `self.stream`, live while this reader
        // is; it moves the next array (or a released one, at the end) into `array`,
        // which releases it when dropped.
        let rc = unsafe { get_next(&raw mut self.stream, &raw mut array) };
        if rc != 0 {
            return Some(Err(Self::producer_error(&mut self.stream, "get_next", rc)));
        }
        if array.is_released() {
            return None;
        }
        // SAFETY: `array` is a live array the producer handed over, of the stream's
        // type; only this reader refers to it.
        unsafe { mend_null_arrays((&raw mut array).cast(), &self.batch_type) };
        let ty = self.batch_type.clone();
        let schema = self.schema.clone();
        // arrow-rs asserts on some malformed arrays (a struct whose child count is not
        // its fields'): reported as an error, not a panic.
        let data = memslim_records::panic_guard::catch_quietly(move || {
            // SAFETY: the producer gives arrays of the stream's type (its schema), by
            // the C stream interface; `from_ffi_and_data_type` takes `array` over.
            let data = unsafe { from_ffi_and_data_type(array, ty) }?;
            // That takes the producer's word for the contents, and every reader of the
            // batch afterwards (arrow-rs' `value(i)` included) relies on them without
            // bounds or UTF-8 checks. A producer's array can break it and still pass its
            // own basic checks (pyarrow's `Array.from_buffers` with offsets that go
            // back, or a string array of bytes that are not UTF-8): reading it crashed
            // the interpreter or gave a `str` that is not one. So each field is checked
            // in full (offsets, UTF-8, dictionary keys, child lengths), as arrow-rs
            // checks an array it builds, and the error names the field.
            data.validate()?;
            for (field, child) in schema.fields().iter().zip(data.child_data()) {
                child.validate_full().map_err(|e| {
                    ArrowError::CDataInterface(format!(
                        "field {:?}: a malformed array: {e}",
                        field.name()
                    ))
                })?;
            }
            Ok(data)
        })
        .unwrap_or_else(|p| {
            let why = memslim_records::panic_guard::message(&*p).unwrap_or_default();
            Err(ArrowError::CDataInterface(format!(
                "a malformed array: {why}"
            )))
        });
        Some(data.and_then(|data| {
            let len = data.len();
            RecordBatch::try_new_with_options(
                self.schema.clone(),
                StructArray::from(data).into_parts().1,
                &RecordBatchOptions::new().with_row_count(Some(len)),
            )
        }))
    }
}

impl Iterator for ForeignStream {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

/// The C Data Interface's `ArrowArray` as its specification lays it out (arrow-rs keeps
/// the fields of its own `FFI_ArrowArray`, the same `repr(C)` struct, private).
#[repr(C)]
struct RawArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut RawArray,
    dictionary: *mut RawArray,
    release: Option<unsafe extern "C" fn(*mut RawArray)>,
    private_data: *mut c_void,
}

const _: () = assert!(std::mem::size_of::<RawArray>() == std::mem::size_of::<FFI_ArrowArray>());

/// Polars exports an array of type `Null` with one buffer (pola-rs/polars#22934) where
/// the specification gives that type none; arrow-rs refuses the array, pyarrow reads it.
/// Sets the buffer count of every `Null` array in the tree of `a` (of type `ty`) to 0:
/// the buffer is never read (a `Null` array is its length), and the producer releases
/// its buffers through its private data, not through this count.
///
/// # Safety
/// `a` points to a live, unreleased array of type `ty` that only the caller refers to.
unsafe fn mend_null_arrays(a: *mut RawArray, ty: &DataType) {
    // The types of the child arrays, in order.
    let children: Vec<&DataType> = match ty {
        DataType::Null => {
            // SAFETY: `a` is live and the caller's alone (this function's contract).
            unsafe { (*a).n_buffers = 0 };
            return;
        }
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type()).collect(),
        DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.data_type()).collect(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::Map(f, _) => vec![f.data_type()],
        DataType::RunEndEncoded(ends, values) => vec![ends.data_type(), values.data_type()],
        DataType::Dictionary(_, values) => {
            // SAFETY: `dictionary` of a live array is null or a live array it owns.
            let d = unsafe { (*a).dictionary };
            if !d.is_null() {
                // SAFETY: as above; only the caller refers to `a`, so to `d`.
                unsafe { mend_null_arrays(d, values) };
            }
            return;
        }
        _ => return,
    };
    // SAFETY: `a` is live; `children` holds `n_children` pointers to live arrays it owns.
    let (n, list) = unsafe { ((*a).n_children, (*a).children) };
    // A child count other than the type's is left for arrow-rs to report.
    if list.is_null() || usize::try_from(n) != Ok(children.len()) {
        return;
    }
    for (i, t) in children.into_iter().enumerate() {
        // SAFETY: `i < n_children` (checked above), so `list.add(i)` is one of the
        // child pointers; a non-null one is a live array owned by `a`.
        let c = unsafe { *list.add(i) };
        if !c.is_null() {
            // SAFETY: as above; only the caller refers to `a`, so to `c`.
            unsafe { mend_null_arrays(c, t) };
        }
    }
}
