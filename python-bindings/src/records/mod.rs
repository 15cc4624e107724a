//! Python face of `memslim-records`: `DictList`, `TupleList`, `Row`, `Column`, one file
//! per Python type (`list.rs` is the shared base `_Records`, `writes.rs` how records go
//! into it, `store.rs` what a list and its views share, with its ingest in `ingest.rs`,
//! the values and rows it makes in `rows_out.rs` and its comparisons in `compare.rs`).
//!
//! Both list types derive from one base class (`_Records`): a store (the core
//! [`RecordList`], shared with slices, copies and `Row` views) and an [`Order`] saying
//! which store rows the list holds. It implements the whole `MutableSequence` protocol
//! once; the two classes differ only in how a record goes in (mapping or sequence) and
//! comes out (live `Row` view or namedtuple).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_schema::ffi::FFI_ArrowSchema;
use memslim_records::{
    Cell, CellRef, CellSink, Checkpoint, ColumnView, DEFAULT_CHUNK_ROWS, DType, Numbers, Order,
    OrderMark, OwnedNumbers, Reclaim, RecordList, RecordsError, Slice, Sum, clamp_index,
};
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyAttributeError, PyIndexError, PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyCapsule, PyDict, PyFloat, PyInt, PyList, PySlice, PyString, PyTuple, PyType,
};
use pyo3::{IntoPyObjectExt, intern};

use crate::convert::{Items, batch_cells, cell_to_py, record_cells};
use crate::errors::{Class, IntoPyResult, schema_error};
use crate::gilcell::{GilCell, is_sole_reference};
use crate::os_memory::{TRIM_AFTER_BYTES, release_free_memory};
use crate::plain_records::{Input, append_plain_dicts};
use crate::sequence::norm_index;
use crate::tracemalloc::Tracked;
use crate::tuple_rows::TupleMaker;

mod column;
mod compare;
mod dict_list;
mod ingest;
mod iter;
mod list;
mod row;
mod rows_out;
mod store;
mod tuple_list;
mod writes;

pub(crate) use column::*;
use compare::*;
pub(crate) use dict_list::new_dict_list;
use dict_list::*;
pub(crate) use ingest::*;
pub(crate) use iter::*;
pub(crate) use list::*;
pub(crate) use row::*;
pub(crate) use store::*;
use tuple_list::*;
use writes::*;

pub(crate) static MAPPING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ROW_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TUPLE_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CHAIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Records converted and pushed together by `extend` and the constructors. Small enough
/// that the batch buffers stay under glibc's mmap threshold: freeing larger ones raises
/// it, and then mid-sized column buffers land in the heap and fragment it.
const BATCH: usize = 256;

/// Appends between refreshes of the tracemalloc figure.
const RETRACK_EVERY: u32 = 4096;

/// How records go in and come out: as mappings (`DictList`) or as tuples of the
/// list's fields (`TupleList`).
enum RecordForm {
    Dict,
    Tuple {
        fields: Py<PyTuple>,
        row_type: Py<PyAny>,
        /// `row_type` came from the user's data (pickled by reference).
        user_type: bool,
        /// How rows are made natively (`None`: `row_type` is not a tuple subclass).
        maker: Option<TupleMaker>,
    },
}

impl RecordForm {
    fn clone_ref(&self, py: Python<'_>) -> RecordForm {
        match self {
            RecordForm::Dict => RecordForm::Dict,
            RecordForm::Tuple {
                fields,
                row_type,
                user_type,
                maker,
            } => RecordForm::Tuple {
                fields: fields.clone_ref(py),
                row_type: row_type.clone_ref(py),
                user_type: *user_type,
                maker: *maker,
            },
        }
    }

    fn class_name(&self) -> &'static str {
        match self {
            RecordForm::Dict => "DictList",
            RecordForm::Tuple { .. } => "TupleList",
        }
    }
}

/// `memslim.DictList`.
#[pyclass(name = "DictList", extends = PyRecords, module = "memslim._memslim", frozen)]
pub struct PyDictList;

/// `memslim.TupleList`.
#[pyclass(name = "TupleList", extends = PyRecords, module = "memslim._memslim", frozen)]
pub struct PyTupleList;

/// A `schema=` argument (field name to dtype name) as core field types, for lists and
/// readers alike; `SchemaError` (a `TypeError`) for anything but str to str.
pub(crate) fn parse_schema(schema: &Bound<'_, PyAny>) -> PyResult<Vec<(String, DType)>> {
    let py = schema.py();
    let items = schema.call_method0(intern!(py, "items"))?;
    let mut out = Vec::new();
    for it in items.try_iter()? {
        let (k, v): (String, String) = it?.extract().map_err(|_| {
            schema_error(
                py,
                "schema must map field names (str) to dtype names (str)".into(),
            )
        })?;
        let d = DType::parse(&v).py_err(py)?;
        out.push((k, d));
    }
    Ok(out)
}

/// Rebuilds a pickled DictList: one payload, or a snapshot header and its buffers.
#[pyfunction]
#[pyo3(signature = (data, *buffers))]
pub(crate) fn _restore_dictlist(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    buffers: &Bound<'_, PyTuple>,
) -> PyResult<Py<PyAny>> {
    let (inner, python_made) = crate::pickle::restore_core(py, data, buffers)?;
    Records::wrap_reading(py, RecordForm::Dict, inner, python_made)
}

/// Rebuilds a pickled TupleList (arguments as `_restore_dictlist`, plus its fields).
#[pyfunction]
#[pyo3(signature = (data, fields, row_type = None, *buffers))]
pub(crate) fn _restore_tuplelist(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    fields: Vec<String>,
    row_type: Option<Bound<'_, PyAny>>,
    buffers: &Bound<'_, PyTuple>,
) -> PyResult<Py<PyAny>> {
    let (inner, python_made) = crate::pickle::restore_core(py, data, buffers)?;
    // The field names travel outside the checksummed payload: they must name its columns.
    let same = fields.len() == inner.num_fields()
        && fields
            .iter()
            .enumerate()
            .all(|(j, f)| inner.field_name(j) == f);
    if !same {
        return Err(crate::errors::corrupt(
            py,
            "corrupt data: memslim pickle: the TupleList's fields do not match its data".into(),
        ));
    }
    let kind = tuple_kind(py, &fields, row_type.filter(|t| !t.is_none()))?;
    Records::wrap_reading(py, kind, inner, python_made)
}

/// Registers this module's classes and functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecords>()?;
    m.add_class::<PyDictList>()?;
    m.add_class::<PyTupleList>()?;
    m.add("Row", crate::fast_slots::row_class(m.py())?)?;
    m.add_class::<PyColumn>()?;
    m.add(
        "_ColumnIter",
        crate::fast_slots::iter_class::<PyColumnIter>(m.py())?,
    )?;
    m.add(
        "_TupleIter",
        crate::fast_slots::iter_class::<PyTupleIter>(m.py())?,
    )?;
    m.add(
        "_RecordsIter",
        crate::fast_slots::iter_class::<PyRecordsIter>(m.py())?,
    )?;
    m.add_class::<PyPlainIter>()?;
    m.add_function(wrap_pyfunction!(_restore_dictlist, m)?)?;
    m.add_function(wrap_pyfunction!(_restore_tuplelist, m)?)?;
    Ok(())
}

/// A new `DictList` that owns `inner` (for the other binding files, which build core
/// lists themselves).
pub(crate) fn dict_list_from_core(py: Python<'_>, inner: RecordList) -> PyResult<Py<PyAny>> {
    Records::wrap(py, RecordForm::Dict, inner)
}

/// Runs `f` on the core list of a `DictList` or `TupleList`; `None` if `obj` is neither.
pub(crate) fn with_core<R>(
    obj: &Bound<'_, PyAny>,
    f: impl FnOnce(&RecordList) -> R,
) -> PyResult<Option<R>> {
    let Ok(o) = obj.cast::<PyRecords>() else {
        return Ok(None);
    };
    let state = o.get().logical(obj.py())?;
    Ok(Some(f(&state.inner)))
}

/// What `memslim.dumps` can write straight from storage.
pub(crate) enum NativeJson<'a> {
    /// A whole `DictList` (objects) or `TupleList` (arrays).
    List(&'a RecordList, bool),
    /// One record of a `DictList`.
    Row(&'a RecordList, usize),
    /// A `Column`.
    Column(&'a ColumnView),
}

/// Runs `f` on the storage behind `obj` if it is a `DictList`, `TupleList`, `Row` or
/// `Column`; `None` for anything else.
///
/// # Errors
/// A list or store busy with a change (re-entrant use) raises `memslim.ConcurrentUseError`.
pub(crate) fn with_native_json<R>(
    obj: &Bound<'_, PyAny>,
    f: impl FnOnce(NativeJson<'_>) -> R,
) -> PyResult<Option<R>> {
    let py = obj.py();
    if let Ok(o) = obj.cast::<PyRecords>() {
        let this = o.get().logical(py)?;
        let tuples = matches!(this.kind, RecordForm::Tuple { .. });
        return Ok(Some(f(NativeJson::List(&this.inner, tuples))));
    }
    if let Ok(r) = obj.cast::<PyRow>() {
        let r = r.get();
        if let Some(store) = r.store() {
            let this = store.borrow(py)?;
            return Ok(Some(f(NativeJson::Row(&this.inner, r.row()))));
        }
        return Ok(None);
    }
    if let Some(view) = obj.cast::<PyColumn>().ok().and_then(|c| c.get().view()) {
        return Ok(Some(f(NativeJson::Column(view))));
    }
    Ok(None)
}
