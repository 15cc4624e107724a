//! Python face of `memslim-records`: `DictList`, `TupleList`, `Row`, `Column`.
//!
//! Both list types derive from one base class (`_Records`) that owns the core
//! [`RecordList`] and implements the whole `MutableSequence` protocol once; they differ
//! only in how a record goes in (mapping or sequence) and comes out (live `Row` view or
//! namedtuple).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatchReader;
use arrow_schema::ffi::FFI_ArrowSchema;
use memslim_records::{
    Cell, CellRef, Checkpoint, ColumnView, DEFAULT_CHUNK_ROWS, DType, Grid, Numbers, OwnedNumbers,
    RecordList, RecordsError, Sum,
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
use crate::errors::{IntoPyResult, schema_error, stale_row};
use crate::gilcell::{GilCell, is_sole_reference};
use crate::os_memory::{TRIM_AFTER_BYTES, release_free_memory};
use crate::plain_records::{Input, append_plain_dicts, append_plain_tuples, tuple_of_type};
use crate::tracemalloc::Tracked;
use crate::tuple_rows::TupleMaker;

pub(crate) static MAPPING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ROW_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static NUMPY_ARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TUPLE_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CHAIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Records converted and pushed together by `extend` and the constructors. Small enough
/// that the batch buffers stay under glibc's mmap threshold: freeing larger ones raises
/// it, and then mid-sized column buffers land in the heap and fragment it.
const BATCH: usize = 256;

/// Appends between refreshes of the tracemalloc figure.
const RETRACK_EVERY: u32 = 4096;

/// How records go in and come out.
enum Kind {
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

impl Kind {
    fn clone_ref(&self, py: Python<'_>) -> Kind {
        match self {
            Kind::Dict => Kind::Dict,
            Kind::Tuple {
                fields,
                row_type,
                user_type,
                maker,
            } => Kind::Tuple {
                fields: fields.clone_ref(py),
                row_type: row_type.clone_ref(py),
                user_type: *user_type,
                maker: *maker,
            },
        }
    }

    fn class_name(&self) -> &'static str {
        match self {
            Kind::Dict => "DictList",
            Kind::Tuple { .. } => "TupleList",
        }
    }
}

/// Shared base of `DictList` and `TupleList`.
///
/// `frozen`: state lives in a [`GilCell`], whose plain borrow flag is much cheaper than
/// PyO3's atomic one on the per-row hot path.
#[pyclass(
    name = "_Records",
    module = "memslim._memslim",
    subclass,
    sequence,
    frozen
)]
pub struct PyRecords {
    state: GilCell<Records>,
}

/// The state behind a `_Records` object.
pub(crate) struct Records {
    inner: RecordList,
    kind: Kind,
    /// Field names as Python strings (interned), index-aligned with the core fields.
    names: Vec<Py<PyString>>,
    trace: Tracked,
    appends: u32,
    /// Per field: Python strings for the values of a small dictionary, made on first read.
    strings: Vec<StrCache>,
}

impl Drop for Records {
    fn drop(&mut self) {
        if self.inner.nbytes() >= TRIM_AFTER_BYTES {
            // Free the buffers first, then hand the pages back.
            self.inner = RecordList::new();
            release_free_memory();
        }
    }
}

/// Dictionaries up to this size get their Python string objects cached.
const STR_CACHE_MAX: usize = 1 << 16;

/// Python strings for one field's dictionary, valid while `dict_id` is unchanged and the
/// dictionary does not shrink.
#[derive(Default)]
struct StrCache {
    dict_id: usize,
    values: Vec<OnceLock<Py<PyString>>>,
}

/// `memslim.DictList`.
#[pyclass(name = "DictList", extends = PyRecords, module = "memslim._memslim", frozen)]
pub struct PyDictList;

/// `memslim.TupleList`.
#[pyclass(name = "TupleList", extends = PyRecords, module = "memslim._memslim", frozen)]
pub struct PyTupleList;

fn parse_schema(schema: &Bound<'_, PyAny>) -> PyResult<Vec<(String, DType)>> {
    let py = schema.py();
    let items = schema.call_method0(intern!(py, "items"))?;
    let mut out = Vec::new();
    for it in items.try_iter()? {
        let (k, v): (String, String) = it?.extract().map_err(|_| {
            PyTypeError::new_err("schema must map field names (str) to dtype names (str)")
        })?;
        let d = DType::parse(&v).py_err(py)?;
        out.push((k, d));
    }
    Ok(out)
}

fn norm_index(i: isize, len: usize, what: &str) -> PyResult<usize> {
    let j = if i < 0 { i + len as isize } else { i };
    if j < 0 || j as usize >= len {
        return Err(PyIndexError::new_err(format!("{what} index out of range")));
    }
    Ok(j as usize)
}

fn clamp_index(i: isize, len: usize) -> usize {
    if i < 0 {
        (i + len as isize).max(0) as usize
    } else {
        (i as usize).min(len)
    }
}

impl Records {
    fn build(
        py: Python<'_>,
        kind: Kind,
        schema: Option<&Bound<'_, PyAny>>,
        chunk_rows: Option<usize>,
        fields: Option<&[String]>,
    ) -> PyResult<Self> {
        let chunk_rows = chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS);
        if chunk_rows == 0 {
            return Err(PyValueError::new_err("chunk_rows must be at least 1"));
        }
        let mut inner = match schema {
            Some(s) => {
                let mut decl = parse_schema(s)?;
                if let Some(fields) = fields {
                    for f in fields {
                        if !decl.iter().any(|(n, _)| n == f) {
                            decl.push((f.clone(), DType::Object));
                        }
                    }
                    decl.sort_by_key(|(n, _)| fields.iter().position(|f| f == n));
                }
                let refs: Vec<(&str, DType)> = decl.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                RecordList::with_schema(&refs, chunk_rows).py_err(py)?
            }
            None => RecordList::with_chunk_rows(chunk_rows),
        };
        if let Some(fields) = fields {
            for f in fields {
                inner.add_field(f).py_err(py)?;
            }
        }
        let mut r = Records {
            inner,
            kind,
            names: Vec::new(),
            trace: Tracked::new(),
            appends: 0,
            strings: Vec::new(),
        };
        r.sync_names(py);
        Ok(r)
    }

    /// A new Python list object of `kind` around an existing core list.
    fn wrap(py: Python<'_>, kind: Kind, inner: RecordList) -> PyResult<Py<PyAny>> {
        let chunk_rows = Some(inner.chunk_rows());
        let mut base = Records::build(py, kind, None, chunk_rows, None)?;
        base.inner = inner;
        base.sync_names(py);
        base.retrack();
        base.into_object(py)
    }

    fn with_inner(&self, py: Python<'_>, inner: RecordList) -> Records {
        let mut r = Records {
            inner,
            kind: self.kind.clone_ref(py),
            names: Vec::new(),
            trace: Tracked::new(),
            appends: 0,
            strings: Vec::new(),
        };
        r.sync_names(py);
        r.retrack();
        r
    }

    /// Wraps as a new Python object of the same class.
    fn into_object(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let tuple = matches!(self.kind, Kind::Tuple { .. });
        let init = PyClassInitializer::from(PyRecords {
            state: GilCell::new(self),
        });
        Ok(if tuple {
            Py::new(py, init.add_subclass(PyTupleList))?.into_any()
        } else {
            Py::new(py, init.add_subclass(PyDictList))?.into_any()
        })
    }

    fn sync_names(&mut self, py: Python<'_>) {
        let n = self.inner.num_fields();
        self.names.truncate(n);
        while self.names.len() < n {
            let name = self.inner.field_name(self.names.len());
            self.names.push(PyString::intern(py, name).unbind());
        }
        self.strings.resize_with(n, StrCache::default);
        for (j, cache) in self.strings.iter_mut().enumerate() {
            match self.inner.dictionary_state(j) {
                Some((id, len)) if len <= STR_CACHE_MAX => {
                    if id != cache.dict_id || len < cache.values.len() {
                        // Replaced, copied or rolled back: positions may mean other strings.
                        cache.values.clear();
                        cache.dict_id = id;
                    }
                    cache.values.resize_with(len, OnceLock::new);
                }
                _ => {
                    cache.values = Vec::new();
                    cache.dict_id = 0;
                }
            }
        }
    }

    /// Field `j` of record `i` as a Python object, reusing cached dictionary strings.
    #[inline]
    fn value<'py>(&self, py: Python<'py>, i: usize, j: usize) -> PyResult<Bound<'py, PyAny>> {
        self.cell_value(py, j, self.inner.get(i, j))
    }

    #[inline]
    fn cell_value<'py>(
        &self,
        py: Python<'py>,
        j: usize,
        c: CellRef<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let CellRef::DictStr(idx, s) = c {
            if let Some(slot) = self.strings.get(j).and_then(|c| c.values.get(idx as usize)) {
                let obj = slot.get_or_init(|| PyString::new(py, s).unbind());
                return Ok(obj.bind(py).clone().into_any());
            }
        }
        cell_to_py(py, c)
    }

    fn retrack(&mut self) {
        self.appends = 0;
        self.trace.set(self.inner.nbytes());
    }

    fn after_append(&mut self, py: Python<'_>, records: usize) {
        self.sync_names(py);
        self.appends = self.appends.saturating_add(records as u32);
        if self.appends >= RETRACK_EVERY {
            self.retrack();
        }
    }

    /// Field index of a key object: pointer match against our interned names first.
    #[inline]
    fn col_of(&self, key: &Bound<'_, PyAny>) -> Option<usize> {
        let p = key.as_ptr();
        if let Some(j) = self.names.iter().position(|n| n.as_ptr() == p) {
            return Some(j);
        }
        let s = key.cast::<PyString>().ok()?;
        self.inner.field_index(s.to_str().ok()?)
    }

    fn what(&self) -> &'static str {
        self.kind.class_name()
    }

    /// The `(key, value)` pairs of an incoming record.
    fn record_items<'py>(
        &self,
        v: &Bound<'py, PyAny>,
        row: usize,
        self_ptr: usize,
    ) -> PyResult<Items<'py>> {
        let mut out = Vec::new();
        self.record_items_into(v, row, self_ptr, &mut out)?;
        Ok(out)
    }

    /// Appends the `(key, value)` pairs of an incoming record to `out`.
    fn record_items_into<'py>(
        &self,
        v: &Bound<'py, PyAny>,
        row: usize,
        self_ptr: usize,
        out: &mut Items<'py>,
    ) -> PyResult<()> {
        let py = v.py();
        match &self.kind {
            Kind::Dict => {
                if let Ok(d) = v.cast_exact::<PyDict>() {
                    out.extend(d.iter());
                    return Ok(());
                }
                if let Ok(r) = v.cast::<PyRow>() {
                    let r = r.get();
                    if r.list.as_ptr() as usize == self_ptr {
                        // A view into this very list: read it directly (no re-borrow).
                        r.check(py, &self.inner)?;
                        let mut err = None;
                        self.inner
                            .visit_row(r.row(), |j, c| match cell_to_py(py, c) {
                                Ok(val) => {
                                    out.push((self.names[j].bind(py).clone().into_any(), val))
                                }
                                Err(e) => err = Some(e),
                            });
                        return match err {
                            Some(e) => Err(e),
                            None => Ok(()),
                        };
                    }
                }
                let mapping = MAPPING.import(py, "collections.abc", "Mapping")?;
                if !v.is_instance(mapping)? {
                    return Err(schema_error(
                        py,
                        format!(
                            "row {row}: a DictList record must be a mapping such as dict, not {}",
                            v.get_type().name()?
                        ),
                    ));
                }
                for it in v.call_method0(intern!(py, "items"))?.try_iter()? {
                    let (k, val): (Bound<'py, PyAny>, Bound<'py, PyAny>) = it?.extract()?;
                    out.push((k, val));
                }
                Ok(())
            }
            Kind::Tuple { fields, .. } => {
                let fields = fields.bind(py);
                let seq: Bound<'py, PyTuple> = if let Ok(t) = v.cast::<PyTuple>() {
                    t.clone()
                } else if let Ok(l) = v.cast_exact::<PyList>() {
                    l.to_tuple()
                } else if v.is_instance_of::<PyString>()
                    || v.is_instance_of::<PyBytes>()
                    || v.is_instance_of::<PyDict>()
                    || v.try_iter().is_err()
                {
                    return Err(schema_error(
                        py,
                        format!(
                            "row {row}: a TupleList record must be a tuple or other sequence, not {}",
                            v.get_type().name()?
                        ),
                    ));
                } else {
                    PyTuple::new(py, v.try_iter()?.collect::<PyResult<Vec<_>>>()?)?
                };
                if seq.len() != fields.len() {
                    return Err(PyValueError::new_err(format!(
                        "row {row}: expected {} values for fields {}, got {}",
                        fields.len(),
                        fields.repr()?,
                        seq.len()
                    )));
                }
                out.extend(fields.iter().zip(seq.iter()));
                Ok(())
            }
        }
    }

    /// Converts and appends a batch of records (column by column in the core).
    fn push_objects(&mut self, objs: &[Bound<'_, PyAny>], self_ptr: usize) -> PyResult<()> {
        let Some(first) = objs.first() else {
            return Ok(());
        };
        let py = first.py();
        let fields = self.tuple_fields(py)?;
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut start = 0;
        while start < objs.len() {
            let rest = &objs[start..];
            let mut n = self.append_plain(&Input::Objs(rest), &fields).py_err(py)?;
            if n == 0 && matches!(self.kind, Kind::Dict) {
                n = self.append_rows_of_other(rest, self_ptr)?;
            }
            if n == 0 {
                // Not a plain record of scalars: the rest of this batch goes the general way.
                self.push_general(rest, self_ptr)?;
                break;
            }
            start += n;
        }
        self.after_append(py, objs.len());
        Ok(())
    }

    /// A TupleList's field names (none for a DictList), for the plain-record paths.
    fn tuple_fields(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        match &self.kind {
            Kind::Dict => Ok(Vec::new()),
            Kind::Tuple { fields, .. } => fields.bind(py).extract(),
        }
    }

    /// The leading plain records of `input` ([`append_plain_dicts`], [`append_plain_tuples`]).
    fn append_plain(
        &mut self,
        input: &Input<'_, '_>,
        fields: &[&str],
    ) -> Result<usize, RecordsError> {
        match self.kind {
            Kind::Dict => append_plain_dicts(&mut self.inner, &self.names, input),
            Kind::Tuple { .. } => append_plain_tuples(&mut self.inner, fields, input),
        }
    }

    /// [`Records::push_objects`] for the items of an exact `list` or `tuple`: plain
    /// records are read in place, in one run however many there are (so the run's
    /// storing overlaps its reading, [`RecordList::push_grids`]); the others go through
    /// `push_objects` in batches.
    fn push_sequence(&mut self, seq: &Bound<'_, PyAny>, self_ptr: usize) -> PyResult<()> {
        let py = seq.py();
        let fields = self.tuple_fields(py)?;
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut start = 0;
        // The general path may run Python code that changes the sequence's length.
        while start < seq.len()? {
            let n = self
                .append_plain(&Input::Seq { seq, start }, &fields)
                .py_err(py)?;
            self.after_append(py, n);
            start += n;
            if n == 0 {
                let end = seq.len()?.min(start + BATCH);
                let batch = (start..end)
                    .map(|k| seq.get_item(k))
                    .collect::<PyResult<Vec<_>>>()?;
                self.push_objects(&batch, self_ptr)?;
                start += batch.len();
            }
        }
        Ok(())
    }

    /// Appends the leading `objs` that are `Row` views of one other DictList (as
    /// `DictList(r for r in rows if ...)` gives), cell to cell, with no Python object
    /// made per value. Returns how many were appended: 0 if `objs[0]` is not such a view,
    /// or if a field it needs cannot be added (the general path then reports it).
    fn append_rows_of_other(
        &mut self,
        objs: &[Bound<'_, PyAny>],
        self_ptr: usize,
    ) -> PyResult<usize> {
        let Some(head) = objs.first() else {
            return Ok(0);
        };
        let py = head.py();
        let Some(first) = head.cast_exact::<PyRow>().ok().map(|r| r.get()) else {
            return Ok(0);
        };
        let src_ptr = first.list.as_ptr();
        if src_ptr as usize == self_ptr {
            return Ok(0); // rows of this very list: the general path reads them in place
        }
        // The leading views of that same list.
        let rows: Vec<&PyRow> = objs
            .iter()
            .map_while(|o| o.cast_exact::<PyRow>().ok().map(|r| r.get()))
            .take_while(|r| r.list.as_ptr() == src_ptr)
            .collect();
        let src = first.list.get().state.borrow(py)?;
        // The source fields these rows use, mapped to ours (added if new).
        let mut used = vec![false; src.inner.num_fields()];
        for r in &rows {
            r.check(py, &src.inner)?;
            src.inner.visit_row(r.row(), |j, _| used[j] = true);
        }
        let mut map = vec![usize::MAX; used.len()];
        for (j, _) in used.iter().enumerate().filter(|(_, u)| **u) {
            match self.inner.add_field(src.inner.field_name(j)) {
                Ok(k) => map[j] = k,
                Err(_) => return Ok(0),
            }
        }
        let mut grid = Grid::with_capacity(self.inner.num_fields(), rows.len());
        let mut order = Vec::new();
        for r in &rows {
            grid.push_row();
            order.clear();
            src.inner.visit_row(r.row(), |j, c| {
                if let Some(cell) = c.to_cell() {
                    grid.set(map[j], cell);
                    order.push(map[j]);
                }
            });
            grid.set_order(&order);
        }
        self.inner.push_grid(&grid).py_err(py)?;
        Ok(rows.len())
    }

    /// [`Records::push_objects`] for any records (each one's items collected first).
    fn push_general(&mut self, objs: &[Bound<'_, PyAny>], self_ptr: usize) -> PyResult<()> {
        let Some(first) = objs.first() else {
            return Ok(());
        };
        let py = first.py();
        let base = self.inner.len();
        let mut items: Items<'_> = Vec::with_capacity(objs.len() * 8);
        let mut bounds = Vec::with_capacity(objs.len());
        for (k, o) in objs.iter().enumerate() {
            let a = items.len();
            self.record_items_into(o, base + k, self_ptr, &mut items)?;
            bounds.push((a, items.len()));
        }
        let mut buf = Vec::new();
        let cells = batch_cells(&items, &bounds, &mut buf, base)?;
        let records: Vec<&[(&str, Cell<'_>)]> = bounds.iter().map(|&(a, b)| &cells[a..b]).collect();
        self.inner.push_batch(&records).py_err(py)
    }

    /// Appends every record of `it` (atomic: all or nothing).
    fn extend_from_iter(&mut self, it: &Bound<'_, PyAny>, self_ptr: usize) -> PyResult<()> {
        let cp = self.inner.checkpoint();
        let bytes_before = self.inner.nbytes();
        let res = if is_exact_sequence(it) {
            self.push_sequence(it, self_ptr)
        } else {
            feed_batches(it, BATCH, |batch| self.push_objects(batch, self_ptr))
        };
        self.settle(it.py(), res, cp, bytes_before)
    }

    /// Ends a multi-record append: on error, back to `cp`; on success, `finish_bulk`.
    fn settle(
        &mut self,
        py: Python<'_>,
        res: PyResult<()>,
        cp: Checkpoint,
        bytes_before: usize,
    ) -> PyResult<()> {
        if let Err(e) = res {
            self.inner.rollback(cp);
            self.sync_names(py);
            return Err(e);
        }
        self.finish_bulk(bytes_before);
        Ok(())
    }

    /// After a bulk load: re-choose encodings, trim spare capacity, and return the heap
    /// holes that growth left behind to the OS.
    fn finish_bulk(&mut self, bytes_before: usize) {
        self.inner.optimize();
        self.retrack();
        if self.inner.nbytes().saturating_sub(bytes_before) >= TRIM_AFTER_BYTES {
            release_free_memory();
        }
    }

    /// A new core list holding the records of `values` (validated like appends).
    fn staged(&self, values: &Bound<'_, PyAny>) -> PyResult<RecordList> {
        let py = values.py();
        if let Ok(o) = values.cast::<PyRecords>() {
            let o = o.get().state.borrow(py)?;
            if o.what() == self.what() {
                return Ok(o.inner.clone());
            }
        }
        let mut tmp = self.with_inner(py, self.inner.empty_like());
        // Views into this list are read through their own (shared) borrow: no self
        // pointer, because `tmp` is not the list they belong to.
        tmp.extend_from_iter(values, 0)?;
        Ok(std::mem::take(&mut tmp.inner))
    }

    /// Field values of record `i` in field order (absent as `None`).
    fn field_values<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let mut err = None;
        let mut vals = Vec::with_capacity(self.inner.num_fields());
        self.inner.visit_fields(i, |j, c| {
            if err.is_none() {
                match self.cell_value(py, j, c) {
                    Ok(v) => vals.push(v),
                    Err(e) => err = Some(e),
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(vals),
        }
    }

    /// Record `i` as a plain detached Python value (dict or tuple).
    fn row_value<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        match &self.kind {
            Kind::Dict => {
                let d = PyDict::new(py);
                let mut err = None;
                self.inner.visit_row(i, |j, c| {
                    if err.is_none() {
                        if let Err(e) =
                            cell_to_py(py, c).and_then(|v| d.set_item(self.names[j].bind(py), v))
                        {
                            err = Some(e);
                        }
                    }
                });
                match err {
                    Some(e) => Err(e),
                    None => Ok(d.into_any()),
                }
            }
            Kind::Tuple {
                row_type, maker, ..
            } => {
                let n = self.inner.num_fields();
                let cls = row_type.bind(py);
                if let Some(maker) = maker {
                    return maker.make(cls, self.field_values(py, i)?.into_iter());
                }
                let vals = (0..n)
                    .map(|j| self.value(py, i, j))
                    .collect::<PyResult<Vec<_>>>()?;
                let vals = match cls.cast::<PyType>() {
                    Ok(t) => match tuple_of_type(t, vals)? {
                        Ok(row) => return Ok(row),
                        Err(vals) => vals,
                    },
                    Err(_) => vals,
                };
                // What namedtuple's own `_make` does: `tuple.__new__(cls, values)`, in C,
                // instead of the Python-level `__new__` that `cls(*values)` runs.
                let tuple_new = TUPLE_NEW.get_or_try_init(py, || {
                    py.get_type::<PyTuple>()
                        .getattr("__new__")
                        .map(Bound::unbind)
                })?;
                tuple_new
                    .bind(py)
                    .call1((row_type.bind(py), PyTuple::new(py, vals)?))
            }
        }
    }

    /// Calls `on_match(i)` for each record `i` in `rows` that equals `value` (Python
    /// `==`) until it returns false. `value` is converted once: a value that is not a
    /// record of this kind equals none; when the core cannot decide (host objects),
    /// Python compares the record with `value`.
    fn scan(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        rows: std::ops::Range<usize>,
        self_ptr: usize,
        mut on_match: impl FnMut(usize) -> bool,
    ) -> PyResult<()> {
        if has_own_eq(value)? {
            // As a list does: `record == value`, where Python falls back to the value's
            // reflected `__eq__`, whose answer (or exception) is the user's.
            for i in rows.start..rows.end.min(self.inner.len()) {
                if self.row_value(py, i)?.eq(value)? && !on_match(i) {
                    break;
                }
            }
            return Ok(());
        }
        let Ok(items) = self.record_items(value, rows.start, self_ptr) else {
            return Ok(());
        };
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, rows.start).ok();
        for i in rows.start..rows.end.min(self.inner.len()) {
            let decided = cells.as_ref().and_then(|c| self.inner.row_eq(i, c));
            let equal = match decided {
                Some(b) => b,
                None => self.row_value(py, i)?.eq(value)?,
            };
            if equal && !on_match(i) {
                break;
            }
        }
        Ok(())
    }

    /// Whether record `i` equals `value` (Python `==`).
    fn row_equals(
        &self,
        py: Python<'_>,
        i: usize,
        value: &Bound<'_, PyAny>,
        self_ptr: usize,
    ) -> PyResult<bool> {
        let mut equal = false;
        self.scan(py, value, i..i + 1, self_ptr, |_| {
            equal = true;
            false
        })?;
        Ok(equal)
    }

    fn find(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: usize,
        stop: usize,
        self_ptr: usize,
    ) -> PyResult<Option<usize>> {
        let mut found = None;
        self.scan(py, value, start..stop, self_ptr, |i| {
            found = Some(i);
            false
        })?;
        Ok(found)
    }
}

static OBJECT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DICT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TUPLE_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether comparing a record with `value` may run `value`'s own `__eq__` (a class of
/// the user's, a dict or tuple subclass that overrides it), so that only Python can
/// give the answer a list would. Built-in values and this module's rows never do.
fn has_own_eq(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = value.py();
    if value.is_exact_instance_of::<PyDict>()
        || value.is_exact_instance_of::<PyTuple>()
        || value.is_exact_instance_of::<PyList>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyBytes>()
        || value.is_none()
        || value.cast::<PyRow>().is_ok()
    {
        return Ok(false);
    }
    let slot = |cell: &'static PyOnceLock<Py<PyAny>>, name: &str| {
        cell.get_or_try_init(py, || {
            py.import("builtins")?
                .getattr(name)?
                .getattr("__eq__")
                .map(Bound::unbind)
        })
        .map(|f| f.bind(py).clone())
    };
    let eq = value.get_type().getattr(intern!(py, "__eq__"))?;
    Ok(!(eq.is(slot(&OBJECT_EQ, "object")?)
        || eq.is(slot(&DICT_EQ, "dict")?)
        || eq.is(slot(&TUPLE_EQ, "tuple")?)))
}

/// Takes the items of `values` in batches of `size` and hands each batch to `push`.
/// No borrow of any list is held while the iterator runs (it may be user code).
/// An exact `list` or `tuple`, whose items [`Records::push_sequence`] reads in place.
pub(crate) fn is_exact_sequence(v: &Bound<'_, PyAny>) -> bool {
    v.is_exact_instance_of::<PyList>() || v.is_exact_instance_of::<PyTuple>()
}

fn feed_batches<'py>(
    values: &Bound<'py, PyAny>,
    size: usize,
    mut push: impl FnMut(&[Bound<'py, PyAny>]) -> PyResult<()>,
) -> PyResult<()> {
    let mut batch = Vec::with_capacity(size);
    for item in values.try_iter()? {
        batch.push(item?);
        if batch.len() == size {
            push(&batch)?;
            batch.clear();
        }
    }
    if batch.is_empty() {
        Ok(())
    } else {
        push(&batch)
    }
}

/// A record handed to Python: a live `Row` for DictList, a namedtuple for TupleList.
fn item_out(slf: &Bound<'_, PyRecords>, i: usize) -> PyResult<Py<PyAny>> {
    let this = slf.get().state.borrow(slf.py())?;
    item_of(slf.py(), &this, slf.as_unbound(), i)
}

fn item_of(py: Python<'_>, this: &Records, list: &Py<PyRecords>, i: usize) -> PyResult<Py<PyAny>> {
    match this.kind {
        Kind::Dict => {
            let row = PyRow {
                list: list.clone_ref(py),
                row: AtomicUsize::new(i),
                version: AtomicU64::new(this.inner.version()),
            };
            Ok(Py::new(py, row)?.into_any())
        }
        Kind::Tuple { .. } => Ok(this.row_value(py, i)?.unbind()),
    }
}

fn slice_indices(s: &Bound<'_, PySlice>, len: usize) -> PyResult<(isize, isize, isize, usize)> {
    let ind = s.indices(len as isize)?;
    Ok((ind.start, ind.stop, ind.step, ind.slicelength))
}

fn slice_positions(start: isize, step: isize, n: usize) -> Vec<usize> {
    (0..n as isize)
        .map(|k| (start + k * step) as usize)
        .collect()
}

#[pymethods]
impl PyRecords {
    // jsonout: list operators; the bodies are in the jsonout block at the end of the file.
    fn __mul__(slf: &Bound<'_, Self>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        records_mul(slf, n)
    }

    fn __rmul__(slf: &Bound<'_, Self>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        records_mul(slf, n)
    }

    fn __imul__(slf: &Bound<'_, Self>, n: &Bound<'_, PyAny>) -> PyResult<()> {
        records_imul(slf, n)
    }

    fn __radd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        records_radd(slf, other)
    }

    #[classmethod]
    fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        generic_alias(cls, item)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let this = self.state.borrow(py)?;
        Ok(this.inner.len())
    }

    fn __getitem__(slf: &Bound<'_, Self>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if index.is_exact_instance_of::<pyo3::types::PyInt>() {
            // The common case, `rows[i]`: one conversion, one borrow.
            if let Ok(i) = index.extract::<isize>() {
                let this = slf.get().state.borrow(py)?;
                let i = norm_index(i, this.inner.len(), this.what())?;
                return item_of(py, &this, slf.as_unbound(), i);
            }
        }
        if let Ok(s) = index.cast::<PySlice>() {
            let this = slf.get().state.borrow(slf.py())?;
            let (start, _, step, n) = slice_indices(s, this.inner.len())?;
            let inner = if step == 1 {
                this.inner.slice(start as usize, start as usize + n)
            } else {
                this.inner.take(&slice_positions(start, step, n))
            };
            return this.with_inner(py, inner).into_object(py);
        }
        if index.is_instance_of::<pyo3::types::PyInt>() && index.extract::<isize>().is_err() {
            return Err(PyIndexError::new_err(
                "cannot fit 'int' into an index-sized integer",
            ));
        }
        let what = slf.get().state.borrow(py)?.what();
        let i: isize = index.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{} indices must be integers or slices, not {}",
                what,
                index
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let i = {
            let this = slf.get().state.borrow(slf.py())?;
            norm_index(i, this.inner.len(), this.what())?
        };
        item_out(slf, i)
    }

    fn __setitem__(
        slf: &Bound<'_, Self>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.as_ptr() as usize;
        if let Ok(s) = index.cast::<PySlice>() {
            let (start, _, step, n) =
                slice_indices(s, slf.get().state.borrow(slf.py())?.inner.len())?;
            let staged = slf.get().state.borrow(slf.py())?.staged(value)?;
            let mut this = slf.get().state.borrow_mut(slf.py())?;
            if step == 1 {
                let start = start as usize;
                this.inner.splice(start, start + n, &staged).py_err(py)?;
            } else {
                if staged.len() != n {
                    return Err(PyValueError::new_err(format!(
                        "attempt to assign sequence of size {} to extended slice of size {n}",
                        staged.len()
                    )));
                }
                for (k, pos) in slice_positions(start, step, n).into_iter().enumerate() {
                    this.inner.set_record_from(pos, &staged, k).py_err(py)?;
                }
            }
            this.sync_names(py);
            this.retrack();
            return Ok(());
        }
        let i: isize = index.extract()?;
        let this = slf.get().state.borrow(slf.py())?;
        let i = norm_index(i, this.inner.len(), this.what())?;
        let items = this.record_items(value, i, me)?;
        drop(this);
        let mut this = slf.get().state.borrow_mut(slf.py())?;
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, i)?;
        this.inner.set_record(i, &cells).py_err(py)?;
        this.after_append(py, 1);
        Ok(())
    }

    fn __delitem__(&self, index: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = index.py();
        let mut this = self.state.borrow_mut(py)?;
        let py = index.py();
        let len = this.inner.len();
        if let Ok(s) = index.cast::<PySlice>() {
            let (start, _, step, n) = slice_indices(s, len)?;
            if step == 1 {
                this.inner.remove_range(start as usize, start as usize + n);
            } else {
                let mut pos = slice_positions(start, step, n);
                pos.sort_unstable_by(|a, b| b.cmp(a));
                for p in pos {
                    this.inner.remove(p).py_err(py)?;
                }
            }
        } else {
            let i: isize = index.extract()?;
            let i = norm_index(i, len, this.what())?;
            this.inner.remove(i).py_err(py)?;
        }
        this.retrack();
        Ok(())
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyRecordsIter {
        PyRecordsIter {
            list: slf.clone().unbind(),
            pos: 0,
            back: false,
            spare: [None, None],
            turn: 0,
            spare_rows: [None, None],
        }
    }

    fn __reversed__(slf: &Bound<'_, Self>) -> PyRecordsIter {
        PyRecordsIter {
            list: slf.clone().unbind(),
            pos: usize::MAX,
            back: true,
            spare: [None, None],
            turn: 0,
            spare_rows: [None, None],
        }
    }

    fn __contains__(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let this = slf.get().state.borrow(slf.py())?;
        Ok(this
            .find(slf.py(), value, 0, usize::MAX, slf.as_ptr() as usize)?
            .is_some())
    }

    #[pyo3(signature = (value, start = 0, stop = isize::MAX))]
    fn index(
        slf: &Bound<'_, Self>,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
    ) -> PyResult<usize> {
        let this = slf.get().state.borrow(slf.py())?;
        let len = this.inner.len();
        let (a, b) = (clamp_index(start, len), clamp_index(stop, len));
        this.find(slf.py(), value, a, b, slf.as_ptr() as usize)?
            .ok_or_else(|| PyValueError::new_err(format!("value is not in {}", this.what())))
    }

    fn count(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let this = slf.get().state.borrow(slf.py())?;
        let mut n = 0;
        this.scan(
            slf.py(),
            value,
            0..usize::MAX,
            slf.as_ptr() as usize,
            |_| {
                n += 1;
                true
            },
        )?;
        Ok(n)
    }

    /// The records whose `field` compares to `value` with `op`, as a new list of the
    /// same class (copies; see select.rs for the semantics).
    #[pyo3(name = "where")]
    fn where_(
        slf: &Bound<'_, Self>,
        field: &str,
        op: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get().state.borrow(py)?;
        let rows = crate::select::where_rows(&this.inner, field, op, value)?;
        let picked = this.inner.take(&rows);
        this.with_inner(py, picked).into_object(py)
    }

    fn append(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let me = slf.as_ptr() as usize;
        let row = slf.get().state.borrow(slf.py())?.inner.len();
        let items = slf
            .get()
            .state
            .borrow(slf.py())?
            .record_items(value, row, me)?;
        let mut this = slf.get().state.borrow_mut(slf.py())?;
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, row)?;
        this.inner.push_record(&cells).py_err(slf.py())?;
        this.after_append(slf.py(), 1);
        Ok(())
    }

    fn extend(slf: &Bound<'_, Self>, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        if let Ok(other) = values.cast::<PyRecords>() {
            let same_kind = matches!(
                (
                    &other.get().state.borrow(py)?.kind,
                    &slf.get().state.borrow(slf.py())?.kind
                ),
                (Kind::Dict, Kind::Dict) | (Kind::Tuple { .. }, Kind::Tuple { .. })
            );
            if same_kind {
                // Copy-on-write clone: also makes `rows.extend(rows)` double the list.
                let src = other.get().state.borrow(py)?.inner.clone();
                let mut this = slf.get().state.borrow_mut(slf.py())?;
                this.inner.extend_from(&src).py_err(py)?;
                this.sync_names(py);
                this.retrack();
                return Ok(());
            }
        }
        let me = slf.as_ptr() as usize;
        let (cp, bytes_before) = {
            let this = slf.get().state.borrow(py)?;
            (this.inner.checkpoint(), this.inner.nbytes())
        };
        // A generator may look at the list while it grows (as with list.extend), so only
        // materialized inputs are pushed in batches; items are taken without holding a
        // borrow, then converted and pushed under one.
        let batch_size = if values.is_instance_of::<PyList>() || values.is_instance_of::<PyTuple>()
        {
            BATCH
        } else {
            1
        };
        let res = if is_exact_sequence(values) {
            slf.get().state.borrow_mut(py)?.push_sequence(values, me)
        } else {
            feed_batches(values, batch_size, |batch| {
                slf.get().state.borrow_mut(py)?.push_objects(batch, me)
            })
        };
        slf.get()
            .state
            .borrow_mut(py)?
            .settle(py, res, cp, bytes_before)
    }

    fn insert(slf: &Bound<'_, Self>, index: isize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let me = slf.as_ptr() as usize;
        let i = clamp_index(index, slf.get().state.borrow(slf.py())?.inner.len());
        let items = slf
            .get()
            .state
            .borrow(slf.py())?
            .record_items(value, i, me)?;
        let mut this = slf.get().state.borrow_mut(slf.py())?;
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, i)?;
        this.inner.insert_record(i, &cells).py_err(slf.py())?;
        this.after_append(slf.py(), 1);
        Ok(())
    }

    #[pyo3(signature = (index = -1))]
    fn pop<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let mut this = self.state.borrow_mut(py)?;
        let len = this.inner.len();
        if len == 0 {
            return Err(PyIndexError::new_err(format!(
                "pop from empty {}",
                this.what()
            )));
        }
        let i = norm_index(index, len, "pop")?;
        let v = this.row_value(py, i)?;
        this.inner.remove(i).py_err(py)?;
        Ok(v)
    }

    fn remove(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let found = {
            let this = slf.get().state.borrow(slf.py())?;
            this.find(slf.py(), value, 0, usize::MAX, slf.as_ptr() as usize)?
        };
        let mut this = slf.get().state.borrow_mut(slf.py())?;
        match found {
            Some(i) => this.inner.remove(i).py_err(slf.py()),
            None => Err(PyValueError::new_err(format!(
                "{}.remove(x): x not in list",
                this.what()
            ))),
        }
    }

    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        let mut this = self.state.borrow_mut(py)?;
        this.inner.clear();
        this.sync_names(py);
        this.retrack();
        Ok(())
    }

    fn reverse(&self, py: Python<'_>) -> PyResult<()> {
        let mut this = self.state.borrow_mut(py)?;
        this.inner.reverse();
        Ok(())
    }

    #[pyo3(signature = (*, key = None, reverse = false))]
    fn sort(slf: &Bound<'_, Self>, key: Option<&Bound<'_, PyAny>>, reverse: bool) -> PyResult<()> {
        let py = slf.py();
        // As list.sort: a key (or another thread) that changes the list while it sorts
        // makes the sort fail with ValueError, leaving the list as that change left it.
        let state = |slf: &Bound<'_, Self>| -> PyResult<(usize, u64)> {
            let this = slf.get().state.borrow(py)?;
            Ok((this.inner.len(), this.inner.version()))
        };
        let modified = || PyValueError::new_err("list modified during sort");
        let before = state(slf)?;
        let n = before.0;
        let keys = PyList::empty(py);
        for i in 0..n {
            if state(slf)? != before {
                return Err(modified());
            }
            let item = item_out(slf, i)?;
            match key {
                Some(f) => keys.append(f.call1((item,))?)?,
                None => keys.append(item)?,
            }
        }
        let kw = PyDict::new(py);
        kw.set_item("key", keys.getattr(intern!(py, "__getitem__"))?)?;
        kw.set_item("reverse", reverse)?;
        let sorted = py
            .import("builtins")?
            .getattr("sorted")?
            .call((pyo3::types::PyRange::new(py, 0, n as isize)?,), Some(&kw))?;
        let perm: Vec<usize> = sorted.extract()?;
        let mut this = slf.get().state.borrow_mut(py)?;
        if (this.inner.len(), this.inner.version()) != before {
            return Err(modified());
        }
        this.inner.permute(&perm).py_err(py)
    }

    fn __add__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get().state.borrow(slf.py())?;
        let is_list = other.is_instance_of::<PyList>() || other.is_instance_of::<PyRecords>();
        if !is_list {
            return Ok(py.NotImplemented());
        }
        let mut out = this.with_inner(py, this.inner.clone());
        drop(this);
        if let Ok(o) = other.cast::<PyRecords>() {
            let src = o.get().state.borrow(py)?.inner.clone();
            out.inner.extend_from(&src).py_err(py)?;
            out.sync_names(py);
        } else {
            out.extend_from_iter(other, slf.as_ptr() as usize)?;
        }
        out.retrack();
        out.into_object(py)
    }

    fn __iadd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::extend(slf, other)
    }

    fn __richcmp__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let eq = match op {
            CompareOp::Eq | CompareOp::Ne => {
                let this = slf.get().state.borrow(slf.py())?;
                let me = slf.as_ptr() as usize;
                if let Ok(o) = other.cast::<PyRecords>() {
                    let o = o.get().state.borrow(py)?;
                    if o.what() != this.what() {
                        return Ok(py.NotImplemented());
                    }
                    let mut same = o.inner.len() == this.inner.len();
                    let mut i = 0;
                    while same && i < this.inner.len() {
                        same = match this.inner.row_eq_other(i, &o.inner, i) {
                            Some(b) => b,
                            None => this.row_value(py, i)?.eq(o.row_value(py, i)?)?,
                        };
                        i += 1;
                    }
                    same
                } else if let Ok(l) = other.cast::<PyList>() {
                    let mut same = l.len() == this.inner.len();
                    let mut i = 0;
                    while same && i < this.inner.len() {
                        same = this.row_equals(py, i, &l.get_item(i)?, me)?;
                        i += 1;
                    }
                    same
                } else {
                    return Ok(py.NotImplemented());
                }
            }
            _ => return records_order(slf, other, op),
        };
        let result = if matches!(op, CompareOp::Eq) { eq } else { !eq };
        result.into_py_any(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let this = self.state.borrow(py)?;
        let n = this.inner.len();
        let show: Vec<usize> = if n <= 10 {
            (0..n).collect()
        } else {
            vec![0, 1, 2, n - 2, n - 1]
        };
        let mut parts = Vec::new();
        for (k, &i) in show.iter().enumerate() {
            if n > 10 && k == 3 {
                parts.push(format!("... {} more ...", n - 5));
            }
            parts.push(this.row_value(py, i)?.repr()?.to_string());
        }
        Ok(format!("{}([{}])", this.what(), parts.join(", ")))
    }

    fn copy(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let this = self.state.borrow(py)?;
        this.with_inner(py, this.inner.clone()).into_object(py)
    }

    fn __copy__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.copy(py)
    }

    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        // Values are stored, not referenced, so a copy is already deep.
        self.copy(py)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        Self::__reduce_ex__(slf, 4)
    }

    /// Pickle: the core's checksummed snapshot; from protocol 5 on, the column buffers
    /// go out of band (see pickle.rs).
    fn __reduce_ex__<'py>(slf: &Bound<'py, Self>, protocol: i64) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get().state.borrow(slf.py())?;
        let module = py.import("memslim._memslim")?;
        let mut args = crate::pickle::snapshot_args(py, this.inner.to_snapshot(), protocol)?;
        let restore = match &this.kind {
            Kind::Dict => module.getattr("_restore_dictlist")?,
            Kind::Tuple {
                fields,
                row_type,
                user_type,
                ..
            } => {
                let rt = if *user_type {
                    row_type.clone_ref(py).into_bound(py)
                } else {
                    py.None().into_bound(py)
                };
                // `(data, fields, row_type, *buffers)`
                args.insert(1, fields.clone_ref(py).into_bound(py).into_any());
                args.insert(2, rt);
                module.getattr("_restore_tuplelist")?
            }
        };
        (restore, PyTuple::new(py, args)?).into_pyobject(py)
    }

    fn __sizeof__(&self, py: Python<'_>) -> PyResult<usize> {
        let this = self.state.borrow(py)?;
        Ok(this.inner.nbytes() + std::mem::size_of::<Self>() + this.names.capacity() * 8)
    }

    /// Bytes of memory this list owns (buffers, dictionaries, indexes).
    #[getter]
    fn nbytes(&self, py: Python<'_>) -> PyResult<usize> {
        self.__sizeof__(py)
    }

    /// Field name -> dtype name.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let this = self.state.borrow(py)?;
        let d = PyDict::new(py);
        for j in 0..this.inner.num_fields() {
            d.set_item(this.names[j].bind(py), this.inner.field_dtype(j).name())?;
        }
        Ok(d)
    }

    /// Field name -> physical layout.
    fn storage_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let this = self.state.borrow(py)?;
        let d = PyDict::new(py);
        for j in 0..this.inner.num_fields() {
            d.set_item(
                this.names[j].bind(py),
                this.inner.field_layout(j).describe(),
            )?;
        }
        Ok(d)
    }

    fn column(&self, py: Python<'_>, name: &str) -> PyResult<PyColumn> {
        let this = self.state.borrow(py)?;
        let j = this
            .inner
            .field_index(name)
            .ok_or_else(|| PyKeyError::new_err(name.to_owned()))?;
        Ok(PyColumn {
            view: this.inner.column(j),
            copied: OnceLock::new(),
        })
    }

    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let this = self.state.borrow(py)?;
        let l = PyList::empty(py);
        for i in 0..this.inner.len() {
            l.append(this.row_value(py, i)?)?;
        }
        Ok(l)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let this = self.state.borrow(py)?;
        let schema = this.inner.arrow_schema();
        let ffi = FFI_ArrowSchema::try_from(schema.as_ref())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyCapsule::new_with_value(py, ffi, c"arrow_schema")
    }

    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The request is a hint the interface allows producers to ignore; we export our
        // own (exact) types.
        let _ = requested_schema;
        let (schema, batches) = self.state.borrow_mut(py)?.inner.to_arrow().py_err(py)?;
        crate::arrow_stream::export_stream(py, schema, batches)
    }
}

/// Reads any object exporting `__arrow_c_stream__` into a core list.
///
/// Pickled values are refused unless `trusted`: the table may come from anyone, and
/// loading them could run code of their choosing.
fn import_arrow(data: &Bound<'_, PyAny>, chunk_rows: usize, trusted: bool) -> PyResult<RecordList> {
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

#[pymethods]
impl PyDictList {
    /// Plain `dict` copies of the records, made in batches from a snapshot of the list.
    fn iter_dicts(slf: &Bound<'_, Self>) -> PyResult<PyPlainIter> {
        plain_iter(slf.py(), slf.as_super(), false)
    }

    #[new]
    #[pyo3(signature = (data = None, *, schema = None, chunk_rows = None))]
    fn new(
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        schema: Option<&Bound<'_, PyAny>>,
        chunk_rows: Option<usize>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut base = Records::build(py, Kind::Dict, schema, chunk_rows, None)?;
        if let Some(data) = data {
            if let Ok(o) = data.cast::<PyRecords>() {
                let src = o.get().state.borrow(py)?.inner.clone();
                base.inner.extend_from(&src).py_err(py)?;
                base.sync_names(py);
            } else {
                base.extend_from_iter(data, 0)?;
            }
        }
        base.retrack();
        Ok(PyClassInitializer::from(PyRecords {
            state: GilCell::new(base),
        })
        .add_subclass(PyDictList))
    }

    /// Opens a persistent record file: mode "a" (the default) reads and appends, creating
    /// it if missing; mode "r" only reads; `recover=True` repairs a damaged file first.
    /// See `DictListFile`.
    #[classmethod]
    #[pyo3(signature = (path, mode = "a", *, recover = false, trusted = false))]
    fn open(
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
    fn save(slf: &Bound<'_, Self>, path: std::path::PathBuf) -> PyResult<usize> {
        let sup: &Bound<'_, PyRecords> = slf.as_super();
        let base = sup.get().state.borrow(slf.py())?;
        crate::mmap::save_list(slf.py(), &base.inner, path)
    }

    /// Writes the records to Parquet: one file at `path`, or, with `partition_by` or
    /// `max_rows_per_file` (or `dataset=True`), part files under the directory `path`
    /// in the Hive layout. Returns the paths written. See `docs/parquet.md`.
    #[pyo3(signature = (path, *, partition_by=Vec::new(), max_rows_per_file=None, compression="snappy", row_group_size=131_072, dataset=None))]
    #[allow(clippy::too_many_arguments)]
    fn to_parquet(
        slf: &Bound<'_, Self>,
        path: &Bound<'_, PyAny>,
        partition_by: Vec<String>,
        max_rows_per_file: Option<usize>,
        compression: &str,
        row_group_size: usize,
        dataset: Option<bool>,
    ) -> PyResult<Vec<String>> {
        let list = {
            let sup: &Bound<'_, PyRecords> = slf.as_super();
            let base = sup.get().state.borrow(slf.py())?;
            base.inner.clone()
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

    /// Field names, in first-seen order.
    #[getter]
    fn columns(slf: &Bound<'_, Self>) -> PyResult<Vec<String>> {
        let sup: &Bound<'_, PyRecords> = slf.as_super();
        let base = sup.get().state.borrow(slf.py())?;
        Ok((0..base.inner.num_fields())
            .map(|j| base.inner.field_name(j).to_owned())
            .collect())
    }

    #[classmethod]
    #[pyo3(signature = (data, *, chunk_rows = None, trusted = false))]
    fn from_arrow(
        _cls: &Bound<'_, PyType>,
        data: &Bound<'_, PyAny>,
        chunk_rows: Option<usize>,
        trusted: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = data.py();
        let inner = import_arrow(data, chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS), trusted)?;
        Records::wrap(py, Kind::Dict, inner)
    }
}

impl PyTupleList {
    /// The list's fields and row type.
    fn parts(slf: &Bound<'_, Self>) -> PyResult<(Py<PyTuple>, Py<PyAny>)> {
        let py = slf.py();
        let sup: &Bound<'_, PyRecords> = slf.as_super();
        match &sup.get().state.borrow(py)?.kind {
            Kind::Tuple {
                fields, row_type, ..
            } => Ok((fields.clone_ref(py), row_type.clone_ref(py))),
            Kind::Dict => Err(PyTypeError::new_err("not a TupleList")),
        }
    }
}

fn namedtuple_for(py: Python<'_>, fields: &[String]) -> PyResult<Py<PyAny>> {
    // memslim/_rows.py: one class per field tuple, with rows that pickle.
    let make = ROW_TYPE.import(py, "memslim._rows", "row_type")?;
    Ok(make.call1((PyTuple::new(py, fields)?,))?.unbind())
}

fn tuple_kind(
    py: Python<'_>,
    fields: &[String],
    row_type: Option<Bound<'_, PyAny>>,
) -> PyResult<Kind> {
    let (row_type, user_type) = match row_type {
        Some(t) => (t.unbind(), true),
        None => (namedtuple_for(py, fields)?, false),
    };
    let maker = TupleMaker::new(row_type.bind(py))?;
    Ok(Kind::Tuple {
        fields: PyTuple::new(py, fields)?.unbind(),
        row_type,
        user_type,
        maker,
    })
}

#[pymethods]
impl PyTupleList {
    /// Plain `tuple` copies of the records, made in batches from a snapshot of the list.
    fn iter_tuples(slf: &Bound<'_, Self>) -> PyResult<PyPlainIter> {
        plain_iter(slf.py(), slf.as_super(), true)
    }

    #[new]
    #[pyo3(signature = (data = None, fields = None, *, schema = None, chunk_rows = None))]
    fn new(
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        fields: Option<Vec<String>>,
        schema: Option<&Bound<'_, PyAny>>,
        chunk_rows: Option<usize>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut first: Option<Bound<'_, PyAny>> = None;
        let mut rest: Option<Bound<'_, PyAny>> = None;
        if let Some(d) = data {
            let it = d.try_iter()?;
            rest = Some(it.clone().into_any());
            let mut it = it;
            first = it.next().transpose()?;
        }
        let mut row_type = None;
        let fields = match fields {
            Some(f) => f,
            None => {
                let from_first = first
                    .as_ref()
                    .and_then(|f| f.getattr(intern!(py, "_fields")).ok())
                    .and_then(|f| f.extract::<Vec<String>>().ok());
                if from_first.is_some() {
                    row_type = first.as_ref().map(|f| f.get_type().into_any());
                }
                match (from_first, schema) {
                    (Some(f), _) => f,
                    (None, Some(s)) => parse_schema(s)?.into_iter().map(|(n, _)| n).collect(),
                    (None, None) => {
                        return Err(PyTypeError::new_err(
                            "TupleList needs fields=(...) unless its data are namedtuples or a schema is given",
                        ));
                    }
                }
            }
        };
        if let Some(t) = &row_type {
            let tf: Vec<String> = t.getattr("_fields")?.extract()?;
            if tf != fields {
                row_type = None;
            }
        }
        let kind = tuple_kind(py, &fields, row_type)?;
        let mut base = Records::build(py, kind, schema, chunk_rows, Some(&fields))?;
        if let (Some(f), Some(rest)) = (first, rest) {
            // The first item was taken to find the fields; put it back in front.
            let chain = CHAIN.import(py, "itertools", "chain")?;
            let all = chain.call1((PyTuple::new(py, [f])?, rest))?;
            base.extend_from_iter(&all, 0)?;
        }
        base.retrack();
        Ok(PyClassInitializer::from(PyRecords {
            state: GilCell::new(base),
        })
        .add_subclass(PyTupleList))
    }

    /// Field names.
    #[getter]
    fn fields(slf: &Bound<'_, Self>) -> PyResult<Py<PyTuple>> {
        Ok(Self::parts(slf)?.0)
    }

    /// The namedtuple class rows come back as.
    #[getter]
    fn row_type(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(Self::parts(slf)?.1)
    }

    #[classmethod]
    #[pyo3(signature = (data, *, chunk_rows = None, trusted = false))]
    fn from_arrow(
        _cls: &Bound<'_, PyType>,
        data: &Bound<'_, PyAny>,
        chunk_rows: Option<usize>,
        trusted: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = data.py();
        let inner = import_arrow(data, chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS), trusted)?;
        let fields: Vec<String> = (0..inner.num_fields())
            .map(|j| inner.field_name(j).to_owned())
            .collect();
        let kind = tuple_kind(py, &fields, None)?;
        Records::wrap(py, kind, inner)
    }
}

/// Rebuilds a pickled DictList: one payload, or a snapshot header and its buffers.
#[pyfunction]
#[pyo3(signature = (data, *buffers))]
pub(crate) fn _restore_dictlist(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    buffers: &Bound<'_, PyTuple>,
) -> PyResult<Py<PyAny>> {
    let inner = crate::pickle::restore_core(py, data, buffers)?;
    Records::wrap(py, Kind::Dict, inner)
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
    let inner = crate::pickle::restore_core(py, data, buffers)?;
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
    Records::wrap(py, kind, inner)
}

/// Iterator over a list's records (live: sees appends made while iterating).
#[pyclass(name = "_RecordsIter", module = "memslim._memslim")]
pub struct PyRecordsIter {
    list: Py<PyRecords>,
    pos: usize,
    back: bool,
    /// Rows handed out two steps ago, reused when nothing else references them.
    spare: [Option<Py<PyRow>>; 2],
    turn: usize,
    /// TupleList rows handed out two steps ago, refilled when nothing else references
    /// them (as `spare` for DictList rows).
    spare_rows: [Option<Py<PyAny>>; 2],
}

#[pymethods]
impl PyRecordsIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let this = self.list.get().state.borrow(py)?;
        let len = this.inner.len();
        if let (
            false,
            Kind::Tuple {
                row_type,
                maker: Some(maker),
                ..
            },
        ) = (self.back, &this.kind)
        {
            if self.pos >= len {
                return Ok(None);
            }
            let i = self.pos;
            self.pos += 1;
            // A `for` loop drops its previous row before asking for the next one, so the
            // row from two steps back is usually referenced by this iterator alone; then
            // nobody can observe it, and it is refilled instead of freed and made anew.
            let slot = &mut self.spare_rows[self.turn];
            self.turn ^= 1;
            let vals = this.field_values(py, i)?;
            if let Some(r) = slot {
                // Checked after the values are made: making one may run Python code.
                if is_sole_reference(r, py) {
                    maker.refill(r.bind(py), vals.into_iter())?;
                    return Ok(Some(r.clone_ref(py)));
                }
            }
            let fresh = maker.make(row_type.bind(py), vals.into_iter())?.unbind();
            *slot = Some(fresh.clone_ref(py));
            return Ok(Some(fresh));
        }
        let i = if self.back {
            self.pos = self.pos.min(len);
            if self.pos == 0 {
                return Ok(None);
            }
            self.pos -= 1;
            self.pos
        } else {
            if self.pos >= len {
                return Ok(None);
            }
            self.pos += 1;
            self.pos - 1
        };
        if let Kind::Dict = this.kind {
            // A `for` loop drops its previous row before asking for the next one, so the
            // row from two steps back is usually referenced by this iterator alone; then
            // nobody can observe it and it can be re-pointed instead of allocating anew.
            let slot = &mut self.spare[self.turn];
            self.turn ^= 1;
            if let Some(r) = slot {
                if is_sole_reference(r, py) {
                    let row = r.get();
                    row.row.store(i, Ordering::Relaxed);
                    row.version.store(this.inner.version(), Ordering::Relaxed);
                    return Ok(Some(r.clone_ref(py).into_any()));
                }
            }
            let fresh = Py::new(
                py,
                PyRow {
                    list: self.list.clone_ref(py),
                    row: AtomicUsize::new(i),
                    version: AtomicU64::new(this.inner.version()),
                },
            )?;
            *slot = Some(fresh.clone_ref(py));
            return Ok(Some(fresh.into_any()));
        }
        item_of(py, &this, &self.list, i).map(Some)
    }
}

/// A live, writable, dict-like view of one record of a DictList.
#[pyclass(name = "Row", module = "memslim._memslim", mapping, frozen)]
pub struct PyRow {
    list: Py<PyRecords>,
    /// Mutable only while no one but the iterator holds this object (see `__next__`).
    row: AtomicUsize,
    version: AtomicU64,
}

impl PyRow {
    /// The record's keys, in its key order.
    fn keys_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let this = self.list.get().state.borrow(py)?;
        self.check(py, &this.inner)?;
        let keys = this.inner.row_keys(self.row());
        PyList::new(py, keys.into_iter().map(|j| this.names[j].bind(py).clone()))
    }

    #[inline]
    fn row(&self) -> usize {
        self.row.load(Ordering::Relaxed)
    }

    fn check(&self, py: Python<'_>, inner: &RecordList) -> PyResult<()> {
        if inner.view_is_valid(self.row(), self.version.load(Ordering::Relaxed)) {
            Ok(())
        } else {
            Err(stale_row(
                py,
                format!(
                    "this Row (record {} when it was fetched) is stale: an insert, delete, sort, \
                     reverse or replacement moved or removed its record; fetch it again with rows[i]",
                    self.row()
                ),
            ))
        }
    }

    fn key_str<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
        key.cast::<PyString>()
            .map_err(|_| {
                schema_error(
                    key.py(),
                    format!(
                        "Row keys must be str, not {}",
                        key.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ),
                )
            })?
            .to_str()
    }

    fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let k = Self::key_str(key)?;
        let items: Items<'_> = vec![(key.clone(), value.clone())];
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, self.row())?;
        let mut this = self.list.get().state.borrow_mut(py)?;
        self.check(py, &this.inner)?;
        this.inner.set_field(self.row(), k, cells[0].1).py_err(py)?;
        this.after_append(py, 1);
        Ok(())
    }

    fn remove(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut this = self.list.get().state.borrow_mut(py)?;
        self.check(py, &this.inner)?;
        match this.col_of(key) {
            Some(j) => this.inner.remove_field(self.row(), j).py_err(py),
            None => Ok(false),
        }
    }

    fn lookup<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let this = self.list.get().state.borrow(py)?;
        self.check(py, &this.inner)?;
        let Some(j) = this.col_of(key) else {
            return Ok(None);
        };
        match this.inner.get(self.row(), j) {
            CellRef::Absent => Ok(None),
            c => this.cell_value(py, j, c).map(Some),
        }
    }
}

#[pymethods]
impl PyRow {
    // jsonout: dict operators; the bodies are in the jsonout block at the end of the file.
    fn __or__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        row_or(slf, other, false)
    }

    fn __ror__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        row_or(slf, other, true)
    }

    fn __ior__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.update(py, Some(other), None)
    }

    fn __reversed__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.keys_list(py)?;
        keys.reverse()?;
        Ok(keys.try_iter()?.into_any())
    }

    /// `dict.fromkeys`: a new plain dict (a Row is always a record of a list).
    #[classmethod]
    #[pyo3(signature = (iterable, value = None))]
    fn fromkeys<'py>(
        cls: &Bound<'py, PyType>,
        iterable: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        py.get_type::<PyDict>()
            .call_method1(intern!(py, "fromkeys"), (iterable, value))
    }

    #[classmethod]
    fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        generic_alias(cls, item)
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.lookup(py, key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.set(py, key, value)
    }

    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.remove(py, key)? {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let this = self.list.get().state.borrow(py)?;
        self.check(py, &this.inner)?;
        Ok(this.inner.row_len(self.row()))
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.lookup(py, key)?.is_some())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.keys_list(py)?.try_iter()?.into_any())
    }

    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.lookup(py, key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Keys)
    }

    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Values)
    }

    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::mapping_view(slf.as_any(), crate::convert::View::Items)
    }

    #[pyo3(signature = (key, *default))]
    fn pop<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if default.len() > 1 {
            return Err(PyTypeError::new_err("pop expected at most 2 arguments"));
        }
        match self.lookup(py, key)? {
            Some(v) => {
                self.remove(py, key)?;
                Ok(v)
            }
            None if default.len() == 1 => default.get_item(0),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn popitem<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let keys = self.keys_list(py)?;
        let n = keys.len();
        if n == 0 {
            return Err(PyKeyError::new_err("popitem(): row is empty"));
        }
        let k = keys.get_item(n - 1)?;
        let v = self.__getitem__(py, &k)?;
        self.remove(py, &k)?;
        Ok((k, v))
    }

    #[pyo3(signature = (key, default = None))]
    fn setdefault<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(v) = self.lookup(py, key)? {
            return Ok(v);
        }
        let d = default.unwrap_or_else(|| py.None().into_bound(py));
        self.set(py, key, &d)?;
        Ok(d)
    }

    #[pyo3(signature = (other = None, /, **kwargs))]
    fn update(
        &self,
        py: Python<'_>,
        other: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if let Some(o) = other {
            let pairs: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> =
                if o.hasattr(intern!(py, "keys"))? {
                    let mut v = Vec::new();
                    for k in o.call_method0(intern!(py, "keys"))?.try_iter()? {
                        let k = k?;
                        let val = o.get_item(&k)?;
                        v.push((k, val));
                    }
                    v
                } else {
                    let mut v = Vec::new();
                    for it in o.try_iter()? {
                        v.push(it?.extract()?);
                    }
                    v
                };
            for (k, v) in pairs {
                self.set(py, &k, &v)?;
            }
        }
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                self.set(py, &k, &v)?;
            }
        }
        Ok(())
    }

    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        for k in self.keys_list(py)?.iter() {
            self.remove(py, &k)?;
        }
        Ok(())
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let this = self.list.get().state.borrow(py)?;
        self.check(py, &this.inner)?;
        this.row_value(py, self.row())
    }

    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)
    }

    /// Position of this record in its list.
    #[getter]
    fn index(&self, py: Python<'_>) -> PyResult<usize> {
        self.check(py, &self.list.get().state.borrow(py)?.inner)?;
        Ok(self.row())
    }

    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let list = me.list.bind(py);
        let mapping = MAPPING.import(py, "collections.abc", "Mapping")?;
        if !other.is_instance(mapping)? {
            return Ok(py.NotImplemented());
        }
        let this = list.get().state.borrow(py)?;
        me.check(py, &this.inner)?;
        this.row_equals(py, me.row(), other, list.as_ptr() as usize)?
            .into_py_any(py)
    }

    fn __ne__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let eq = Self::__eq__(slf, other)?;
        crate::convert::negated(py, eq)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.to_dict(py)?.repr()?.to_string())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // Pickling a view pickles its record as a plain dict.
        let d = self.to_dict(py)?;
        (py.import("builtins")?.getattr("dict")?, (d,)).into_pyobject(py)
    }
}

/// A read-only snapshot of one field.
#[pyclass(name = "Column", module = "memslim._memslim", sequence)]
pub struct PyColumn {
    view: ColumnView,
    copied: OnceLock<Arc<OwnedNumbers>>,
}

impl PyColumn {
    fn interface_parts(&self) -> Option<(usize, &'static str)> {
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
    fn name(&self) -> &str {
        self.view.name()
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.view.dtype().name()
    }

    #[getter]
    fn null_count(&self) -> usize {
        self.view.null_count()
    }

    fn __len__(&self) -> usize {
        self.view.len()
    }

    fn __getitem__<'py>(
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

    fn __iter__(&self) -> PyColumnIter {
        // The view shares the column's chunks, so iterating copies nothing up front.
        PyColumnIter {
            view: self.view.clone(),
            pos: AtomicUsize::new(0),
        }
    }

    /// Number of values equal to `value` (native for built-in probes; see select.rs).
    fn count(&self, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        crate::select::column_count(&self.view, value)
    }

    /// Position of the first value equal to `value` in `[start, stop)`.
    #[pyo3(signature = (value, start = 0, stop = isize::MAX))]
    fn index(&self, value: &Bound<'_, PyAny>, start: isize, stop: isize) -> PyResult<usize> {
        let len = self.view.len();
        let (a, b) = (clamp_index(start, len), clamp_index(stop, len));
        crate::select::column_find(&self.view, value, a, b)?
            .ok_or_else(crate::select::not_in_column)
    }

    fn __contains__(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(crate::select::column_find(&self.view, value, 0, usize::MAX)?.is_some())
    }

    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for i in 0..self.view.len() {
            l.append(cell_to_py(py, self.view.get(i))?)?;
        }
        Ok(l)
    }

    fn sum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.view.sum().py_err(py)? {
            Sum::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
            Sum::Float(f) => Ok(f.into_pyobject(py)?.into_any()),
        }
    }

    fn mean(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        let n = self.view.len() - self.view.null_count();
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(match self.view.sum().py_err(py)? {
            Sum::Int(i) => i as f64 / n as f64,
            Sum::Float(f) => f / n as f64,
        }))
    }

    fn min<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.view.min_max().py_err(py)? {
            Some((lo, _)) => cell_to_py(py, lo),
            None => Err(PyValueError::new_err("min() of a column with no values")),
        }
    }

    fn max<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.view.min_max().py_err(py)? {
            Some((_, hi)) => cell_to_py(py, hi),
            None => Err(PyValueError::new_err("max() of a column with no values")),
        }
    }

    /// NumPy's array interface: zero-copy for dense numeric columns in one chunk.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some((ptr, typestr)) = self.interface_parts() else {
            return Err(PyAttributeError::new_err(
                "__array_interface__ (only numeric columns without nulls)",
            ));
        };
        array_interface(py, self.view.len(), ptr, typestr)
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
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
    unsafe fn __getbuffer__(
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
    unsafe fn __releasebuffer__(&self, view: *mut pyo3::ffi::Py_buffer) {
        // SAFETY: `view` was filled by `__getbuffer__` above.
        unsafe { crate::mmap_ffi::release(view) };
    }

    fn __repr__(&self) -> String {
        format!(
            "Column({:?}, dtype={}, len={})",
            self.view.name(),
            self.view.dtype(),
            self.view.len()
        )
    }

    /// This column for Arrow consumers: one-column record batches (absent as null).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        crate::arrow_stream::export_column(py, &self.view, requested_schema)
    }
}

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

/// Iterator over a Column's values, converting each one as it is reached.
#[pyclass(name = "_ColumnIter", module = "memslim._memslim", frozen)]
pub struct PyColumnIter {
    view: ColumnView,
    pos: AtomicUsize,
}

#[pymethods]
impl PyColumnIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let i = self.pos.load(Ordering::Relaxed);
        if i >= self.view.len() {
            return Ok(None);
        }
        self.pos.store(i + 1, Ordering::Relaxed);
        cell_to_py(py, self.view.get(i)).map(Some)
    }
}

/// Registers this module's classes and functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecords>()?;
    m.add_class::<PyDictList>()?;
    m.add_class::<PyTupleList>()?;
    m.add_class::<PyRow>()?;
    m.add_class::<PyColumn>()?;
    m.add_class::<PyColumnIter>()?;
    m.add_class::<PyRecordsIter>()?;
    m.add_class::<PyPlainIter>()?;
    m.add_function(wrap_pyfunction!(_restore_dictlist, m)?)?;
    m.add_function(wrap_pyfunction!(_restore_tuplelist, m)?)?;
    Ok(())
}

/// A new `DictList` that owns `inner` (for the other binding files, which build core
/// lists themselves).
pub(crate) fn dict_list_from_core(py: Python<'_>, inner: RecordList) -> PyResult<Py<PyAny>> {
    Records::wrap(py, Kind::Dict, inner)
}

/// Runs `f` on the core list of a `DictList` or `TupleList`; `None` if `obj` is neither.
pub(crate) fn with_core<R>(
    obj: &Bound<'_, PyAny>,
    f: impl FnOnce(&RecordList) -> R,
) -> PyResult<Option<R>> {
    let Ok(o) = obj.cast::<PyRecords>() else {
        return Ok(None);
    };
    let state = o.get().state.borrow(obj.py())?;
    Ok(Some(f(&state.inner)))
}

// ----- jsonout: plain copies, JSON access and list/dict operators -------------------------
// Kept in one block (with one-line pymethods above delegating here) so that merges with
// other work on this file stay simple.

/// Records turned into plain objects per `iter_dicts` / `iter_tuples` refill.
const PLAIN_BATCH: usize = 256;

impl Records {
    /// A snapshot sharing this list's storage (copy-on-write) and its interned names,
    /// for iterators that must not see later changes. Not registered with tracemalloc:
    /// it owns no buffer until the list is written to.
    fn snapshot(&self, py: Python<'_>) -> Records {
        let mut r = Records {
            inner: self.inner.clone(),
            kind: self.kind.clone_ref(py),
            names: self.names.iter().map(|n| n.clone_ref(py)).collect(),
            trace: Tracked::new(),
            appends: 0,
            strings: Vec::new(),
        };
        r.sync_names(py);
        r
    }

    /// Record `i` as a new plain `dict`, reusing cached strings.
    fn plain_dict<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let d = PyDict::new(py);
        let mut err = None;
        self.inner.visit_row(i, |j, c| {
            if err.is_none() {
                if let Err(e) = self
                    .cell_value(py, j, c)
                    .and_then(|v| d.set_item(self.names[j].bind(py), v))
                {
                    err = Some(e);
                }
            }
        });
        err.map_or(Ok(d.into_any()), Err)
    }

    /// Record `i` as a new plain `tuple` of its fields in field order.
    fn plain_tuple<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let n = self.inner.num_fields();
        let vals = (0..n)
            .map(|j| self.value(py, i, j))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyTuple::new(py, vals)?.into_any())
    }

    /// `self` repeated `n` times (empty for `n <= 0`), as a new core list.
    fn repeated(&self, py: Python<'_>, n: isize) -> PyResult<RecordList> {
        let mut out = self.inner.empty_like();
        for _ in 0..n.max(0) {
            out.extend_from(&self.inner).py_err(py)?;
        }
        Ok(out)
    }
}

/// Iterator of plain copies of a list's records (`dict`s or `tuple`s), made a batch at a
/// time from a snapshot of the list taken when iteration began.
#[pyclass(name = "_PlainIter", module = "memslim._memslim")]
pub struct PyPlainIter {
    snap: Records,
    tuples: bool,
    pos: usize,
    ready: std::collections::VecDeque<Py<PyAny>>,
}

#[pymethods]
impl PyPlainIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if self.ready.is_empty() {
            let end = (self.pos + PLAIN_BATCH).min(self.snap.inner.len());
            for i in self.pos..end {
                let v = if self.tuples {
                    self.snap.plain_tuple(py, i)?
                } else {
                    self.snap.plain_dict(py, i)?
                };
                self.ready.push_back(v.unbind());
            }
            self.pos = end;
        }
        Ok(self.ready.pop_front())
    }

    fn __length_hint__(&self) -> usize {
        self.ready.len() + self.snap.inner.len().saturating_sub(self.pos)
    }
}

fn plain_iter(py: Python<'_>, list: &Bound<'_, PyRecords>, tuples: bool) -> PyResult<PyPlainIter> {
    let snap = list.get().state.borrow(py)?.snapshot(py);
    Ok(PyPlainIter {
        snap,
        tuples,
        pos: 0,
        ready: std::collections::VecDeque::new(),
    })
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
/// A stale `Row` raises `StaleRowError`, as reading it would.
pub(crate) fn with_native_json<R>(
    obj: &Bound<'_, PyAny>,
    f: impl FnOnce(NativeJson<'_>) -> R,
) -> PyResult<Option<R>> {
    let py = obj.py();
    if let Ok(o) = obj.cast::<PyRecords>() {
        let this = o.get().state.borrow(py)?;
        let tuples = matches!(this.kind, Kind::Tuple { .. });
        return Ok(Some(f(NativeJson::List(&this.inner, tuples))));
    }
    if let Ok(r) = obj.cast::<PyRow>() {
        let r = r.get();
        let this = r.list.get().state.borrow(py)?;
        r.check(py, &this.inner)?;
        return Ok(Some(f(NativeJson::Row(&this.inner, r.row()))));
    }
    if let Ok(c) = obj.cast::<PyColumn>() {
        return Ok(Some(f(NativeJson::Column(&c.borrow().view))));
    }
    Ok(None)
}

/// `rows * n`: a new list of the same class holding copies of the records.
fn records_mul(slf: &Bound<'_, PyRecords>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Ok(n) = count_arg(n) else {
        return Ok(py.NotImplemented());
    };
    let this = slf.get().state.borrow(py)?;
    let inner = this.repeated(py, n)?;
    this.with_inner(py, inner).into_object(py)
}

/// `rows *= n`, in place.
fn records_imul(slf: &Bound<'_, PyRecords>, n: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = slf.py();
    let n = count_arg(n)?;
    let inner = slf.get().state.borrow(py)?.repeated(py, n)?;
    let mut this = slf.get().state.borrow_mut(py)?;
    this.inner = inner;
    this.sync_names(py);
    this.retrack();
    Ok(())
}

/// A repeat count as `list * n` takes it: any object with `__index__`.
fn count_arg(n: &Bound<'_, PyAny>) -> PyResult<isize> {
    if n.hasattr(intern!(n.py(), "__index__"))? {
        let i = n.call_method0(intern!(n.py(), "__index__"))?;
        return i.extract::<isize>().map_err(|_| {
            pyo3::exceptions::PyOverflowError::new_err(
                "cannot fit 'int' into an index-sized integer",
            )
        });
    }
    Err(PyTypeError::new_err(format!(
        "can't multiply sequence by non-int of type '{}'",
        n.get_type().name()?
    )))
}

/// `other + rows` for a plain `list` `other`: a new list of `rows`' class holding the
/// records of `other` (validated as appends are), then those of `rows`.
fn records_radd(slf: &Bound<'_, PyRecords>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    if !other.is_instance_of::<PyList>() {
        return Ok(py.NotImplemented());
    }
    let this = slf.get().state.borrow(py)?;
    let mut out = this.with_inner(py, this.inner.empty_like());
    out.extend_from_iter(other, slf.as_ptr() as usize)?;
    out.inner.extend_from(&this.inner).py_err(py)?;
    out.sync_names(py);
    out.retrack();
    out.into_object(py)
}

/// `<`, `<=`, `>`, `>=` as a list compares: item by item up to the first pair that
/// differs (compared as the plain dicts or tuples they equal), else by length.
fn records_order(
    slf: &Bound<'_, PyRecords>,
    other: &Bound<'_, PyAny>,
    op: CompareOp,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let others: Vec<Bound<'_, PyAny>> = if let Ok(o) = other.cast::<PyRecords>() {
        let o = o.get().state.borrow(py)?;
        if o.what() != slf.get().state.borrow(py)?.what() {
            return Ok(py.NotImplemented());
        }
        (0..o.inner.len())
            .map(|i| o.row_value(py, i))
            .collect::<PyResult<_>>()?
    } else if let Ok(l) = other.cast::<PyList>() {
        l.iter().collect()
    } else {
        return Ok(py.NotImplemented());
    };
    let mine: Vec<Bound<'_, PyAny>> = {
        let this = slf.get().state.borrow(py)?;
        (0..this.inner.len())
            .map(|i| this.row_value(py, i))
            .collect::<PyResult<_>>()?
    };
    for (a, b) in mine.iter().zip(&others) {
        if !a.eq(b)? {
            return Ok(a.rich_compare(b, op)?.unbind());
        }
    }
    let (n, m) = (mine.len(), others.len());
    let r = match op {
        CompareOp::Lt => n < m,
        CompareOp::Le => n <= m,
        CompareOp::Gt => n > m,
        CompareOp::Ge => n >= m,
        CompareOp::Eq => n == m,
        CompareOp::Ne => n != m,
    };
    r.into_py_any(py)
}

/// `type[...]` on a list or row class, as `list[dict]` does.
fn generic_alias<'py>(
    cls: &Bound<'py, PyType>,
    item: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let alias = cls.py().import("types")?.getattr("GenericAlias")?;
    alias.call1((cls, item))
}

/// The plain-dict form of a mapping `|` accepts: a `dict` as it is, a `Row` (or another
/// memslim mapping view) copied to a dict; `None` for anything else.
fn or_operand<'py>(o: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if o.is_instance_of::<PyDict>() {
        return Ok(Some(o.clone()));
    }
    if let Ok(r) = o.cast::<PyRow>() {
        return Ok(Some(r.get().to_dict(o.py())?));
    }
    let py = o.py();
    let m = o.py().import("memslim._memslim")?;
    for name in ["FileRow", "DocView"] {
        if o.is_instance(&m.getattr(name)?)? {
            let d = PyDict::new(py);
            d.update(o.cast()?)?;
            return Ok(Some(d.into_any()));
        }
    }
    Ok(None)
}

/// `row | other` (`reflected`: `other | row`): a new plain dict, as `dict | dict` gives.
fn row_or(
    slf: &Bound<'_, PyRow>,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Some(o) = or_operand(other)? else {
        return Ok(py.NotImplemented());
    };
    let mine = slf.get().to_dict(py)?;
    let (left, right) = if reflected { (o, mine) } else { (mine, o) };
    let out = PyDict::new(py);
    out.update(left.cast()?)?;
    out.update(right.cast()?)?;
    Ok(out.into_any().unbind())
}
