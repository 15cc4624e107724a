//! `Column`: a read-only view of one field, of a DictList (a snapshot) or of a record
//! file (its records never change once appended), over the core's one read interface
//! ([`ReadField`]); with the NumPy, buffer and Arrow faces.

use std::ops::Range;
use std::path::PathBuf;

use memslim_mmap::{FieldNumbers, FileField};
use memslim_records::ReadField;

use super::*;
use crate::convert::{Trust, value_to_py_from};
use crate::mmap::{PyDictListFile, file_cell, seq_eq};
use crate::numpy::{array_interface, column_array};

/// A read-only view of one field: a registered `collections.abc.Sequence` of the values
/// `row.get(name)` gives, `None` where a record lacks the key.
#[pyclass(name = "Column", module = "memslim._memslim", frozen, sequence)]
pub struct PyColumn {
    pub(crate) source: ColumnSource,
}

/// Where a [`PyColumn`]'s values are stored.
pub(crate) enum ColumnSource {
    /// A DictList's field, frozen when the column was taken (later writes to the list
    /// copy the chunks they touch).
    Memory {
        view: ColumnView,
        /// The numbers copied into one buffer, for NumPy, made on first use.
        copied: OnceLock<Arc<OwnedNumbers>>,
    },
    /// A field of the first `len` records of a record file.
    File {
        file: Py<PyDictListFile>,
        name: String,
        len: usize,
        path: PathBuf,
        /// The field's type for NumPy, and its numbers when numeric without nulls.
        numbers: OnceLock<(DType, Option<FieldNumbers>)>,
    },
}

/// Runs `$body` with `$f` bound to the column's [`ReadField`] (a `&mut` of it), whichever
/// storage holds it, and converts its error.
macro_rules! read_field {
    ($col:expr, $py:expr, |$f:ident| $body:expr) => {
        match &$col.source {
            ColumnSource::Memory { view, .. } => {
                let mut v: &ColumnView = view;
                let $f = &mut v;
                ($body).py_err($py)
            }
            ColumnSource::File {
                file, name, len, ..
            } => {
                let mut guard = file.get().lock()?;
                let $f = &mut FileField::new(&mut guard, name, *len);
                ($body).py_err($py)
            }
        }
    };
}

/// A refusal of the core's aggregates over a value of an `object` column (a container,
/// an int past 128 bits, a host object, numbers beside strings): Python's own `sum`,
/// `min` or `max` answers, or raises, as over a list.
trait HostOnly {
    fn host_only(&self) -> bool;
}

impl HostOnly for RecordsError {
    fn host_only(&self) -> bool {
        matches!(
            self,
            RecordsError::Unsupported {
                dtype: DType::Object,
                ..
            }
        )
    }
}

impl HostOnly for memslim_mmap::MmapError {
    fn host_only(&self) -> bool {
        matches!(self, memslim_mmap::MmapError::Records(e) if e.host_only())
    }
}

/// `r`, with a refusal only Python can answer ([`HostOnly`]) as `Ok(None)`: the caller
/// then asks Python ([`python_aggregate`]).
fn or_host<T, E: HostOnly>(r: Result<T, E>) -> Result<Option<T>, E> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.host_only() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Python's `how` (`"sum"`, `"min"`, `"max"`) of the column's values that are not
/// `None`; `None` when there are none (`min`, `max`).
fn python_aggregate<'py>(
    col: &Bound<'py, PyColumn>,
    how: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = col.py();
    let builtins = py.import("builtins")?;
    let not_none = py
        .import("functools")?
        .getattr("partial")?
        .call1((py.import("operator")?.getattr("is_not")?, py.None()))?;
    let values = builtins.getattr("filter")?.call1((not_none, col))?;
    if how == "sum" {
        return builtins.getattr("sum")?.call1((values,)).map(Some);
    }
    let none = builtins.getattr("object")?.call0()?;
    let kw = pyo3::types::IntoPyDict::into_py_dict([("default", &none)], py)?;
    let r = builtins.getattr(how)?.call((values,), Some(&kw))?;
    Ok((!r.is(&none)).then_some(r))
}

impl PyColumn {
    /// A column of a list's field.
    pub(crate) fn memory(view: ColumnView) -> PyColumn {
        PyColumn {
            source: ColumnSource::Memory {
                view,
                copied: OnceLock::new(),
            },
        }
    }

    /// Field `name` of the first `len` records of a record file.
    pub(crate) fn file(file: Py<PyDictListFile>, name: String, len: usize, path: PathBuf) -> Self {
        PyColumn {
            source: ColumnSource::File {
                file,
                name,
                len,
                path,
                numbers: OnceLock::new(),
            },
        }
    }

    /// The list's snapshot of the field; `None` for a file's column.
    pub(crate) fn view(&self) -> Option<&ColumnView> {
        match &self.source {
            ColumnSource::Memory { view, .. } => Some(view),
            ColumnSource::File { .. } => None,
        }
    }

    fn len(&self) -> usize {
        match &self.source {
            ColumnSource::Memory { view, .. } => view.len(),
            ColumnSource::File { len, .. } => *len,
        }
    }

    fn field_name(&self) -> &str {
        match &self.source {
            ColumnSource::Memory { view, .. } => view.name(),
            ColumnSource::File { name, .. } => name,
        }
    }

    /// A stored value as Python reads it: a pickled value in a file is loaded only when
    /// the file was opened with `trusted=True`.
    fn to_py<'py>(&self, py: Python<'py>, c: CellRef<'_>) -> PyResult<Bound<'py, PyAny>> {
        match &self.source {
            ColumnSource::Memory { .. } => cell_to_py(py, c),
            ColumnSource::File {
                file, name, path, ..
            } => file_cell(py, c, file.get().state.trust, path, name),
        }
    }

    fn trust(&self) -> Trust {
        match &self.source {
            ColumnSource::Memory { .. } => Trust::Own,
            ColumnSource::File { file, .. } => file.get().state.trust,
        }
    }

    /// Value `i` (in range).
    pub(super) fn value<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        if let ColumnSource::Memory { view, .. } = &self.source {
            return cell_to_py(py, view.get(i));
        }
        read_field!(self, py, |f| f.read_value(i, |c| self.to_py(py, c)))?
    }

    /// The values at `rows`, in a list.
    fn values<'py>(&self, py: Python<'py>, rows: Range<usize>) -> PyResult<Bound<'py, PyList>> {
        let mut out = Vec::new();
        self.values_into(py, rows, &mut out)?;
        PyList::new(py, out)
    }

    /// Appends the values at `rows` to `out`, in order: up to the first that cannot be
    /// made, whose error comes back.
    fn values_into(
        &self,
        py: Python<'_>,
        rows: Range<usize>,
        out: &mut Vec<Py<PyAny>>,
    ) -> PyResult<()> {
        let mut err = None;
        read_field!(self, py, |f| f.visit_values(rows, &mut |_, c| {
            match self.to_py(py, c) {
                Ok(v) => {
                    out.push(v.unbind());
                    true
                }
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        }))?;
        err.map_or(Ok(()), Err)
    }

    /// Whether the value at `i` equals `value` by Python's `==` (no lock held).
    fn python_eq(&self, py: Python<'_>, i: usize, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.value(py, i)?.eq(value)
    }

    /// How many values equal `value` (as `==` decides). Built-in values are compared
    /// natively; other values, and stored values only Python can compare, by Python's
    /// `==`, with no lock held while it runs.
    fn count_equal(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let Some(probe) = crate::select::probe(value) else {
            return (0..self.len())
                .try_fold(0, |n, i| Ok(n + usize::from(self.python_eq(py, i, value)?)));
        };
        let (n, undecided) = read_field!(self, py, |f| f.count_equal(&probe, 0..self.len()))?;
        undecided
            .into_iter()
            .try_fold(n, |n, i| Ok(n + usize::from(self.python_eq(py, i, value)?)))
    }

    /// The first position in `rows` whose value equals `value`, compared as
    /// [`PyColumn::count_equal`] compares.
    fn first_equal(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        rows: Range<usize>,
    ) -> PyResult<Option<usize>> {
        let rows = rows.start..rows.end.min(self.len());
        let Some(probe) = crate::select::probe(value) else {
            return self.first_python_eq(py, value, rows);
        };
        // The core stops at its first decided match; the positions before it that only
        // Python can decide are left to Python, in order.
        let (mut first, mut undecided) = (None, Vec::new());
        read_field!(self, py, |f| f.find_equal(
            &probe,
            rows,
            &mut |i, decided| {
                if decided {
                    first = Some(i);
                    return false;
                }
                undecided.push(i);
                true
            }
        ))?;
        Ok(self.first_python_eq(py, value, undecided)?.or(first))
    }

    /// The first of `candidates` whose value equals `value` by Python's `==`.
    fn first_python_eq(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        candidates: impl IntoIterator<Item = usize>,
    ) -> PyResult<Option<usize>> {
        for i in candidates {
            if self.python_eq(py, i, value)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// The file column's type for NumPy and its numbers (numeric without nulls).
    fn file_numbers(&self, py: Python<'_>) -> PyResult<Option<&(DType, Option<FieldNumbers>)>> {
        let ColumnSource::File {
            file,
            name,
            len,
            numbers,
            ..
        } = &self.source
        else {
            return Ok(None);
        };
        if let Some(n) = numbers.get() {
            return Ok(Some(n));
        }
        let found = file.get().lock()?.field_numbers(name, *len).py_err(py)?;
        Ok(Some(numbers.get_or_init(|| found)))
    }

    /// The address and NumPy type of the numbers as one buffer, when the field is
    /// numeric without nulls: zero-copy where they are one chunk (memory) or one batch
    /// (file), else copied once and kept.
    pub(super) fn interface_parts(
        &self,
        py: Python<'_>,
    ) -> PyResult<Option<(usize, &'static str)>> {
        let owned_parts = |o: &OwnedNumbers| match o {
            OwnedNumbers::I64(v) => (v.as_ptr() as usize, "<i8"),
            OwnedNumbers::F64(v) => (v.as_ptr() as usize, "<f8"),
        };
        match &self.source {
            ColumnSource::Memory { view, copied } => {
                if let Some(n) = view.numbers() {
                    return Ok(Some(match n {
                        Numbers::I64(s) => (s.as_ptr() as usize, "<i8"),
                        Numbers::F64(s) => (s.as_ptr() as usize, "<f8"),
                    }));
                }
                if !view.is_dense_numeric() {
                    return Ok(None);
                }
                let owned = copied.get_or_init(|| {
                    Arc::new(
                        view.numbers_copied()
                            .unwrap_or(OwnedNumbers::I64(Vec::new())),
                    )
                });
                Ok(Some(owned_parts(owned)))
            }
            ColumnSource::File { .. } => {
                use arrow_array::cast::AsArray;
                use arrow_array::types::{Float64Type, Int64Type};
                Ok(match self.file_numbers(py)?.and_then(|n| n.1.as_ref()) {
                    Some(FieldNumbers::Mapped(a)) => {
                        if let Some(i) = a.as_primitive_opt::<Int64Type>() {
                            Some((i.values().as_ptr() as usize, "<i8"))
                        } else {
                            a.as_primitive_opt::<Float64Type>()
                                .map(|f| (f.values().as_ptr() as usize, "<f8"))
                        }
                    }
                    Some(FieldNumbers::Owned(o)) => Some(owned_parts(o)),
                    None => None,
                })
            }
        }
    }

    /// The field's type for NumPy.
    fn numpy_dtype(&self, py: Python<'_>) -> PyResult<DType> {
        Ok(match &self.source {
            ColumnSource::Memory { view, .. } => view.dtype(),
            ColumnSource::File { .. } => self.file_numbers(py)?.map_or(DType::Object, |n| n.0),
        })
    }
}

impl PyColumn {
    /// The memory a column taken from a list keeps alive beyond its fixed size (see
    /// `buffers.rs`): the list's buffers of its field and its own bookkeeping; with
    /// `alone`, only the buffers nothing else holds.
    fn held(&self, alone: bool) -> crate::buffers::Buffers {
        let mut out = crate::buffers::Buffers::default();
        if let ColumnSource::Memory { view, copied } = &self.source {
            view.buffers(|b| {
                if !(alone && b.shared) {
                    out.push(b.id, b.bytes);
                }
            });
            out.push(self as *const Self as usize, view.own_heap_bytes());
            if let Some(c) = copied.get() {
                let bytes = match &**c {
                    OwnedNumbers::I64(v) => v.capacity() * 8,
                    OwnedNumbers::F64(v) => v.capacity() * 8,
                };
                out.push(Arc::as_ptr(c) as usize, bytes);
            }
        }
        out
    }
}

#[pymethods]
impl PyColumn {
    /// The column's own size, plus the buffers of its field that nothing else holds
    /// any more (its list gone, or changed since): what dropping it would free.
    pub(super) fn __sizeof__(&self) -> usize {
        let held: usize = self.held(true).into_vec().iter().map(|(_, n)| n).sum();
        std::mem::size_of::<Self>() + held
    }

    /// For `memslim.deep_sizeof`: every buffer the column keeps alive, shared with its
    /// list under the same identity (see `buffers.rs`).
    pub(super) fn _buffers(&self) -> Vec<(usize, usize)> {
        self.held(false).into_vec()
    }

    /// The field's name.
    #[getter]
    pub(super) fn name(&self) -> &str {
        self.field_name()
    }

    /// The field's type: a list's column type (`int64`, `str`, ...); for a record
    /// file, the type NumPy reads it as (`int64`, `float64`, `bool`, else `object`).
    #[getter]
    pub(super) fn dtype(&self, py: Python<'_>) -> PyResult<&'static str> {
        Ok(self.numpy_dtype(py)?.name())
    }

    /// Values that are null or absent.
    #[getter]
    pub(super) fn null_count(&self, py: Python<'_>) -> PyResult<usize> {
        read_field!(self, py, |f| f.null_count())
    }

    pub(super) fn __len__(&self) -> usize {
        self.len()
    }

    pub(super) fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let len = self.len();
        if let Ok(s) = index.cast::<PySlice>() {
            let slice = crate::sequence::slice_of(s, || Ok(len))?;
            if let Some(range) = slice.as_range() {
                return Ok(self.values(py, range)?.into_any());
            }
            let l = PyList::empty(py);
            for p in slice.positions() {
                l.append(self.value(py, p)?)?;
            }
            return Ok(l.into_any());
        }
        let i = norm_index(index.extract()?, len, "Column")?;
        self.value(py, i)
    }

    pub(super) fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::fast_slots::new_iter(slf.py(), PyColumnIter::new(slf.clone().unbind()))
    }

    /// Number of values equal to `value`.
    pub(super) fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.count_equal(py, value)
    }

    /// Position of the first value equal to `value` in `[start, stop)`.
    #[pyo3(
        signature = (value, start = crate::sequence::SliceIndex(0), stop = crate::sequence::SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    pub(super) fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: crate::sequence::SliceIndex,
        stop: crate::sequence::SliceIndex,
    ) -> PyResult<usize> {
        let (start, stop) = (start.0, stop.0);
        let len = self.len();
        let (a, b) = (clamp_index(start, len), clamp_index(stop, len));
        self.first_equal(py, value, a..b)?
            .ok_or_else(crate::select::not_in_column)
    }

    pub(super) fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.first_equal(py, value, 0..usize::MAX)?.is_some())
    }

    /// The values in a list.
    pub(super) fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.values(py, 0..usize::MAX)
    }

    /// `==` as a sequence: equal to a list (or other sized, non-string iterable) of
    /// equal values.
    pub(super) fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        seq_eq(py, self.len(), other, |i| self.value(py, i).map(Some))
    }

    pub(super) fn __ne__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let eq = self.__eq__(py, other)?;
        crate::convert::negated(py, eq)
    }

    /// Sum of the non-null values (bools count as ints); 0 for an empty column.
    pub(super) fn sum<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        match read_field!(slf.get(), py, |f| or_host(f.sum()))? {
            Some(Sum::Int(i)) => Ok(i.into_pyobject(py)?.into_any()),
            Some(Sum::Float(f)) => Ok(f.into_pyobject(py)?.into_any()),
            None => python_aggregate(slf, "sum")?
                .ok_or_else(|| pyo3::exceptions::PySystemError::new_err("sum() gave no answer")),
        }
    }

    /// Mean of the non-null values; `None` when there are none. Values only Python can
    /// add: Python's sum of them over their count (`sum(values) / len(values)`).
    pub(super) fn mean<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = slf.py();
        if let Some(m) = read_field!(slf.get(), py, |f| or_host(f.mean()))? {
            return Ok(m.map(|m| PyFloat::new(py, m).into_any()));
        }
        let n = read_field!(slf.get(), py, |f| f
            .null_count()
            .map(|nulls| f.value_count() - nulls))?;
        if n == 0 {
            return Ok(None);
        }
        let total = python_aggregate(slf, "sum")?
            .ok_or_else(|| pyo3::exceptions::PySystemError::new_err("sum() gave no answer"))?;
        total.div(n).map(Some)
    }

    /// Smallest non-null value (numbers, bools or strings); `ValueError` if none.
    pub(super) fn min<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        extreme(slf, false)
    }

    /// Largest non-null value (numbers, bools or strings); `ValueError` if none.
    pub(super) fn max<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        extreme(slf, true)
    }

    /// NumPy's array interface, read-only: zero-copy for numeric columns without nulls
    /// in one chunk (or one batch of a file), else one copy of the numbers.
    #[getter]
    pub(super) fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some((ptr, typestr)) = self.interface_parts(py)? else {
            return Err(PyAttributeError::new_err(
                "__array_interface__ (only numeric columns without nulls)",
            ));
        };
        array_interface(py, self.len(), ptr, typestr)
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    pub(super) fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let zero_copy = this.interface_parts(py)?.is_some();
        column_array(
            slf.as_any(),
            zero_copy,
            this.numpy_dtype(py)?,
            || this.to_list(py),
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
        let this = slf.get();
        let Some((ptr, typestr)) = this.interface_parts(slf.py())? else {
            return Err(PyBufferError::new_err(
                "only numeric columns without nulls support the buffer protocol",
            ));
        };
        let ex = crate::mmap_ffi::Export {
            ptr: ptr as *const u8,
            len: this.len() * 8,
            itemsize: 8,
            format: if typestr == "<f8" { c"d" } else { c"q" },
            readonly: true,
        };
        // SAFETY: `view` comes from CPython's getbuffer call. The numbers belong to
        // chunks this Column's view keeps alive (the list copies a shared chunk before
        // writing), to a file's mapped batch that the Arrow array in `numbers` keeps
        // mapped, or to a copy in `copied` / `numbers`; those cells are set once and
        // never replaced, so the numbers stay valid and unchanged while the view holds
        // a reference to this object.
        unsafe { crate::mmap_ffi::fill(slf.as_any(), view, flags, &ex) }
    }

    /// # Safety
    /// Called by CPython once per successful `__getbuffer__`.
    pub(super) unsafe fn __releasebuffer__(&self, view: *mut pyo3::ffi::Py_buffer) {
        // SAFETY: `view` was filled by `__getbuffer__` above.
        unsafe { crate::mmap_ffi::release(view) };
    }

    pub(super) fn __repr__(&self) -> String {
        match &self.source {
            ColumnSource::Memory { view, .. } => format!(
                "Column({:?}, dtype={}, len={})",
                view.name(),
                view.dtype(),
                view.len()
            ),
            ColumnSource::File {
                name, len, path, ..
            } => {
                format!(
                    "Column({name:?}, len={len}, file={:?})",
                    path.display().to_string()
                )
            }
        }
    }

    /// This column for Arrow consumers: one-column record batches (absent as null); a
    /// file's committed batches point into the map.
    #[pyo3(signature = (requested_schema = None))]
    pub(super) fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        match &self.source {
            ColumnSource::Memory { view, .. } => {
                crate::arrow_stream::export_column(py, view, requested_schema)
            }
            ColumnSource::File {
                file, name, len, ..
            } => {
                let (schema, batches) = file.get().lock()?.field_arrow(name, *len).py_err(py)?;
                crate::arrow_stream::export_stream(py, schema, batches)
            }
        }
    }
}

/// `col.min()` or `col.max()`: the core's answer, or Python's over the values only it
/// can order.
fn extreme<'py>(col: &Bound<'py, PyColumn>, max: bool) -> PyResult<Bound<'py, PyAny>> {
    let py = col.py();
    let how = if max { "max" } else { "min" };
    let this = col.get();
    let found = match read_field!(this, py, |f| or_host(f.min_max()))? {
        Some(Some((lo, hi))) => Some(value_to_py_from(
            py,
            if max { &hi } else { &lo },
            this.trust(),
        )?),
        Some(None) => None,
        None => python_aggregate(col, how)?,
    };
    found.ok_or_else(|| PyValueError::new_err(format!("{how}() of a column with no values")))
}

/// Values a column iterator makes ahead at most (it starts with a few, so that taking
/// one value makes few).
const COLUMN_BATCH: usize = 256;

/// Iterator over a Column's values. A list's column is a snapshot that never changes,
/// so its values are made a batch ahead, by the field's typed loop, and handed out one
/// by one; through the fast `next()` slot (see `fast_slots.rs`) handing one out is a
/// pop. A file's column reads one value at a time, so that a file closed meanwhile
/// refuses the next read. A value that cannot be made raises when reached, and the
/// next call goes on after it, as reading value by value did.
#[pyclass(
    name = "_ColumnIterBase",
    module = "memslim._memslim",
    frozen,
    subclass
)]
pub struct PyColumnIter {
    column: Py<PyColumn>,
    /// Behind the interpreter lock's own cell: cheaper than PyO3's borrow of `&mut self`.
    state: GilCell<ColumnIterState>,
}

struct ColumnIterState {
    /// Position of the next value to make.
    pos: usize,
    /// How many values the next batch makes.
    batch: usize,
    /// Values made ahead, the next one last (handing one out pops it).
    ready: Vec<Py<PyAny>>,
    /// Why the value after the ready ones (at `pos`) could not be made: raised once
    /// they are out.
    bad: Option<PyErr>,
}

impl PyColumnIter {
    pub(super) fn new(column: Py<PyColumn>) -> Self {
        let batch = match column.get().source {
            ColumnSource::Memory { .. } => 8,
            ColumnSource::File { .. } => 1,
        };
        PyColumnIter {
            column,
            state: GilCell::new(ColumnIterState {
                pos: 0,
                batch,
                ready: Vec::new(),
                bad: None,
            }),
        }
    }

    /// `__next__` when a value is ready: pops it. `None` otherwise (then `__next__`
    /// makes the next batch). Raises nothing and drops no owned reference.
    #[inline]
    pub(crate) fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state.borrow_mut(py).ok()?.ready.pop()
    }
}

#[pymethods]
impl PyColumnIter {
    pub(super) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(super) fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut s = self.state.borrow_mut(py)?;
        if s.ready.is_empty() && s.bad.is_none() {
            let col = self.column.get();
            let (from, batch) = (s.pos, s.batch);
            let end = col.len().min(from.saturating_add(batch));
            if from >= end {
                return Ok(None);
            }
            // Converting a value may run Python code (a pickled value's `__setstate__`):
            // the state is not borrowed meanwhile.
            drop(s);
            let mut made = Vec::with_capacity(end - from);
            let outcome = col.values_into(py, from..end, &mut made);
            s = self.state.borrow_mut(py)?;
            // Unless that code took values from this iterator meanwhile (then what it
            // left is handed out, and this batch is dropped).
            if s.pos == from && s.ready.is_empty() && s.bad.is_none() {
                s.pos = from + made.len();
                if batch > 1 {
                    s.batch = (batch * 2).min(COLUMN_BATCH);
                }
                s.bad = outcome.err();
                made.reverse();
                s.ready = made;
            }
        }
        if let Some(v) = s.ready.pop() {
            return Ok(Some(v));
        }
        match s.bad.take() {
            Some(e) => {
                // The next call goes on after the value that failed.
                s.pos += 1;
                Err(e)
            }
            None => Ok(None),
        }
    }

    /// Values left: the ones made ahead, and those after them.
    pub(super) fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let s = self.state.borrow(py)?;
        let after = self.column.get().len().saturating_sub(s.pos);
        Ok(s.ready.len() + after)
    }
}
