//! `Row`: a live, dict-like view of one record, of a DictList's store (writable) or of
//! a record file (read-only: its records never change once appended).

use super::*;
use crate::mapping_views::{View, list_by_protocol};
use crate::mmap::{FileBatch, FileRecord, PyDictListFile};

/// A live, dict-like view of one record, wherever it is stored.
///
/// A record of a DictList: the view names a row of the list's store, which never moves
/// while the view exists. It follows its record through sorts, inserts and deletes, as
/// a dict taken out of a list would, and still reads and writes it once it has left
/// every list. A record of a record file (`DictList.open`): the view reads it, and
/// writes raise `UnsupportedTypeError`
/// (a `TypeError`).
///
/// No PyO3 free list: a `for` loop already reuses its views (`SpareRows`), and where
/// views are kept (`list(rows)`, `sorted`) the list is empty on every allocation and
/// full on every release, so its lock was pure cost (`list(rows)` 110 -> 83 ms on 1M
/// orders); CPython's own allocator serves a lone `rows[i]` as fast.
#[pyclass(
    name = "_RowBase",
    module = "memslim._memslim",
    mapping,
    frozen,
    subclass
)]
pub struct PyRow {
    pub(crate) source: RowSource,
    /// Row of the store or of the file. Mutable only while no one but the iterator
    /// holds this object (see `__next__`).
    pub(super) row: AtomicUsize,
}

/// The two rows an iterator handed out last. A `for` loop drops its previous row before
/// asking for the next one, so the row from two steps back is usually referenced by the
/// iterator alone; then nobody can observe it, and it is re-pointed instead of a new one
/// allocated.
#[derive(Default)]
pub(crate) struct SpareRows {
    rows: [Option<Py<PyRow>>; 2],
    turn: usize,
}

impl SpareRows {
    /// A view of record `row`: the spare from two steps back if nothing else holds it
    /// and `fits` says it reads the same storage, else a new one from `make`.
    #[inline]
    pub(crate) fn next(
        &mut self,
        py: Python<'_>,
        row: usize,
        fits: impl FnOnce(&PyRow) -> bool,
        make: impl FnOnce() -> PyRow,
    ) -> PyResult<Py<PyAny>> {
        if let Some(r) = self.reuse(py, row, fits) {
            return Ok(r);
        }
        let fresh = crate::fast_slots::new_row(py, make())?;
        let slot = &mut self.rows[self.turn];
        self.turn ^= 1;
        // Dropped here, not deferred: the fast slots call in without PyO3's count of
        // attached threads (see `fast_slots.rs`).
        if let Some(old) = slot.replace(fresh.clone_ref(py)) {
            old.drop_ref(py);
        }
        Ok(fresh.into_any())
    }

    /// The spare from two steps back re-pointed at record `row`, if nothing else holds
    /// it and `fits` says it reads the same storage. Drops no owned reference.
    #[inline]
    pub(crate) fn reuse(
        &mut self,
        py: Python<'_>,
        row: usize,
        fits: impl FnOnce(&PyRow) -> bool,
    ) -> Option<Py<PyAny>> {
        let r = self.rows[self.turn]
            .as_ref()
            .filter(|r| is_sole_reference(r, py) && fits(r.get()))?;
        r.get().repoint(row);
        let out = r.clone_ref(py).into_any();
        self.turn ^= 1;
        Some(out)
    }
}

/// Where a [`PyRow`]'s record is stored.
pub(crate) enum RowSource {
    /// A DictList's store.
    Memory(Store),
    /// A record file.
    File(FileRecord),
}

impl PyRow {
    /// A view of row `row` of a list's store.
    pub(crate) fn memory(store: Store, row: usize) -> PyRow {
        PyRow {
            source: RowSource::Memory(store),
            row: AtomicUsize::new(row),
        }
    }

    /// A view of record `row` of a record file.
    pub(crate) fn file(file: Py<PyDictListFile>, row: usize) -> PyRow {
        PyRow {
            source: RowSource::File(FileRecord::Locked(file)),
            row: AtomicUsize::new(row),
        }
    }

    /// A view of committed record `row` of a record file, read from `batch` (which
    /// holds it) without the file's lock.
    pub(crate) fn held(batch: std::sync::Arc<FileBatch>, row: usize) -> PyRow {
        PyRow {
            source: RowSource::File(FileRecord::Held(batch)),
            row: AtomicUsize::new(row),
        }
    }

    /// Whether dropping this view releases no Python object: a DictList's record whose
    /// store another list, slice or view holds too (dropping it only counts one holder
    /// fewer). `Row`'s own `tp_dealloc` frees such a view without PyO3's wrapper.
    #[inline]
    pub(crate) fn drops_no_object(&self) -> bool {
        matches!(&self.source, RowSource::Memory(s) if Arc::strong_count(s) > 1)
    }

    /// The store of a DictList's record; `None` for a record file's.
    #[inline]
    pub(crate) fn store(&self) -> Option<&Store> {
        match &self.source {
            RowSource::Memory(s) => Some(s),
            RowSource::File(_) => None,
        }
    }

    /// The store, or `UnsupportedTypeError` (a `TypeError`, as a read-only mapping
    /// raises) for a record of a file, which never changes once appended.
    fn writable(&self, py: Python<'_>) -> PyResult<&Store> {
        self.store().ok_or_else(|| {
            Class::UnsupportedType.err(
                py,
                "a record of a record file cannot be changed (the file is append-only); \
                 copy it with row.to_dict()",
            )
        })
    }

    /// The record's keys, in its key order.
    pub(crate) fn key_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        match &self.source {
            RowSource::File(file) => file.keys(py, self.row()),
            RowSource::Memory(_) => PyList::new(py, self.listed(py, View::Keys)?),
        }
    }

    /// The record's keys or values, in its key order; for [`View::Items`] each key then
    /// its value (see [`crate::mapping_views::Lister`]).
    pub(crate) fn listed<'py>(
        &self,
        py: Python<'py>,
        which: View,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let store = match &self.source {
            RowSource::Memory(store) => store,
            RowSource::File(file) => {
                if which == View::Keys {
                    return Ok(file.keys(py, self.row())?.iter().collect());
                }
                let d = file.dict(py, self.row())?;
                let mut out = Vec::with_capacity(d.len() * 2);
                for (k, v) in d.iter() {
                    if which == View::Items {
                        out.push(k);
                    }
                    out.push(v);
                }
                return Ok(out);
            }
        };
        let this = store.borrow(py)?;
        let name = |j: usize| this.names[j].bind(py).clone().into_any();
        let per = if which == View::Items { 2 } else { 1 };
        let mut out = Vec::with_capacity(this.inner.num_fields() * per);
        if which == View::Keys {
            this.inner.visit_keys(self.row(), |j| out.push(name(j)));
            return Ok(out);
        }
        let mut err = None;
        this.inner
            .visit_row(self.row(), |j, c| match this.cell_value(py, j, c) {
                Ok(v) => {
                    if which == View::Items {
                        out.push(name(j));
                    }
                    out.push(v);
                }
                Err(e) => err = err.take().or(Some(e)),
            });
        err.map_or(Ok(out), Err)
    }

    /// Whether this view reads a record file's records from `batch` (through the
    /// file's lock for `None`): an iterator may re-point it within them.
    pub(crate) fn reads_from(&self, batch: Option<&std::sync::Arc<FileBatch>>) -> bool {
        match (&self.source, batch) {
            (RowSource::File(FileRecord::Held(h)), Some(b)) => std::sync::Arc::ptr_eq(h, b),
            (RowSource::File(FileRecord::Locked(_)), None) => true,
            _ => false,
        }
    }

    /// Points this view at another record of the same storage: only while nobody but
    /// an iterator holds it (nobody can observe the change).
    #[inline]
    pub(crate) fn repoint(&self, row: usize) {
        self.row.store(row, Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn row(&self) -> usize {
        self.row.load(Ordering::Relaxed)
    }

    pub(super) fn key_str<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
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

    pub(super) fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let store = self.writable(py)?;
        let k = Self::key_str(key)?;
        if let Some(cell) = crate::scalar::scalar_cell(value) {
            // The common write: a scalar, usually to a field the list has (found by its
            // interned name), converted without staging the pair.
            let mut this = store.borrow_mut(py)?;
            let j = match this.col_of(key) {
                Some(j) => this
                    .inner
                    .set_field_at(self.row(), j, cell)
                    .map(|()| Some(j)),
                None => {
                    (this.inner.set_field(self.row(), k, cell)).map(|()| this.inner.field_index(k))
                }
            }
            .py_err(py)?;
            this.after_field_write(py, j);
            return Ok(());
        }
        let items: Items<'_> = vec![(key.clone(), value.clone())];
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, self.row())?;
        let mut this = store.borrow_mut(py)?;
        this.inner.set_field(self.row(), k, cells[0].1).py_err(py)?;
        let j = this.inner.field_index(k);
        this.after_field_write(py, j);
        Ok(())
    }

    pub(super) fn remove(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut this = self.writable(py)?.borrow_mut(py)?;
        match this.col_of(key) {
            Some(j) => this.inner.remove_field(self.row(), j).py_err(py),
            None => Ok(absent_key::<()>(key)?.is_some()),
        }
    }

    /// `self[key]` for the common case only: a stored value that is not a container,
    /// of a DictList's record or of a committed record of a file. `None` for anything
    /// else (a pending record, a missing key or field, a nested value, an error), which
    /// [`Self::lookup`] answers. Raises nothing and drops no owned reference (see
    /// `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyAny>> {
        self.quick_lookup(py, key).flatten()
    }

    /// [`Self::quick_get`], telling a key certainly missing apart: `Some(None)` when
    /// this DictList record lacks `key` (what `get` answers with its default), `None`
    /// when the answer takes more. Raises nothing and drops no owned reference.
    #[inline]
    pub(crate) fn quick_lookup<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> Option<Option<Bound<'py, PyAny>>> {
        let store = match &self.source {
            RowSource::Memory(store) => store,
            RowSource::File(FileRecord::Held(batch)) => {
                return batch.quick_value(py, self.row(), key).map(Some);
            }
            RowSource::File(FileRecord::Locked(_)) => return None,
        };
        let this = store.borrow(py).ok()?;
        let Some(j) = this.col_of(key) else {
            // A key that is not a str may be unhashable, which raises: the slow path.
            return key.is_instance_of::<PyString>().then_some(None);
        };
        match this.inner.get(self.row(), j) {
            CellRef::Absent => Some(None),
            CellRef::Encoded(_) => None,
            c => this.cell_value(py, j, c).ok().map(Some),
        }
    }

    /// Whether this DictList record has `key` (`key in row`; a key that is not one of
    /// the list's fields, or not a `str`, is not in it), without making its value (as
    /// [`Self::quick_lookup`] would). `None` when that takes more (a record file's
    /// record). Raises nothing and drops no owned reference (see
    /// `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_has(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> Option<bool> {
        let this = self.store()?.borrow(py).ok()?;
        Some(match this.col_of(key) {
            None if !key.is_instance_of::<PyString>() => return None,
            None => false,
            Some(j) => !matches!(this.inner.get(self.row(), j), CellRef::Absent),
        })
    }

    /// `len(row)` of a DictList's record; `None` for a record file's (see
    /// [`Self::quick_has`]).
    #[inline]
    pub(crate) fn quick_len(&self, py: Python<'_>) -> Option<usize> {
        Some(self.store()?.borrow(py).ok()?.inner.row_len(self.row()))
    }

    /// The keys of a DictList's record that has every field of its list in field order
    /// (most records): the list's names, one tuple shared by all such records, for
    /// `iter(row)` to iterate. `None` for any other record (see [`Self::quick_has`]).
    #[inline]
    pub(crate) fn quick_keys<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyTuple>> {
        let this = self.store()?.borrow(py).ok()?;
        this.every_key(py, self.row()).cloned()
    }

    /// `self[key] = value` for the common case only: a DictList's record, a key that is
    /// one of the list's fields, and an `int`, `float`, `bool` or `None` (not a string:
    /// a new one may make its field drop its cached `str` objects) written to a column
    /// that holds no strings. `false` for anything else, or a write the list refuses
    /// (it is then unchanged), which the full `__setitem__` does or explains. Raises
    /// nothing and drops no owned reference (see `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> bool {
        let RowSource::Memory(store) = &self.source else {
            return false;
        };
        let Some(cell) = crate::scalar::scalar_cell(value) else {
            return false;
        };
        if matches!(cell, Cell::Str(_) | Cell::Bytes(_)) {
            return false;
        }
        let Ok(mut this) = store.borrow_mut(py) else {
            return false;
        };
        let Some(j) = this.col_of(key) else {
            return false;
        };
        // No string cache to resize or drop, and every field named: `after_field_write`
        // then makes and releases no Python object.
        if this.inner.dictionary_state(j).is_some() || this.names.len() != this.inner.num_fields() {
            return false;
        }
        if this.inner.set_field_at(self.row(), j, cell).is_err() {
            return false;
        }
        this.after_field_write(py, Some(j));
        true
    }

    /// `del self[key]` for the common case only: a DictList's record that has `key`.
    /// `false` for anything else (the full `__delitem__` raises the `KeyError`, or
    /// explains); the record is then unchanged. Raises nothing and drops no owned
    /// reference (see `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_del(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> bool {
        let RowSource::Memory(store) = &self.source else {
            return false;
        };
        let Ok(mut this) = store.borrow_mut(py) else {
            return false;
        };
        let Some(j) = this.col_of(key) else {
            return false;
        };
        matches!(this.inner.remove_field(self.row(), j), Ok(true))
    }

    /// The value of `key` in the record, `None` if it has none. Inlined into its three
    /// callers (`row[key]`, `get`, `in`): the hot path of a row loop.
    #[inline(always)]
    pub(super) fn lookup<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match &self.source {
            RowSource::Memory(store) => {
                let this = store.borrow(py)?;
                let Some(j) = this.col_of(key) else {
                    return absent_key(key);
                };
                match this.inner.get(self.row(), j) {
                    CellRef::Absent => Ok(None),
                    c => this.cell_value(py, j, c).map(Some),
                }
            }
            RowSource::File(file) => match key.cast::<PyString>() {
                Ok(k) => file.value(py, self.row(), k),
                Err(_) => absent_key(key),
            },
        }
    }

    /// The record as a plain dict (a detached copy; its strings and small ints may be
    /// objects the list shares, as `iter_dicts` gives them: they are immutable).
    pub(crate) fn to_plain_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.source {
            RowSource::Memory(store) => store.borrow(py)?.plain_dict(py, self.row()),
            RowSource::File(file) => Ok(file.dict(py, self.row())?.into_any()),
        }
    }
}

#[pymethods]
impl PyRow {
    /// The view's own size, plus its list's records when nothing else holds them any
    /// more (the list is gone and no other view, slice or iterator reads them): what
    /// dropping the view would free.
    pub(super) fn __sizeof__(&self, py: Python<'_>) -> PyResult<usize> {
        let store = match self.store() {
            Some(s) if Arc::strong_count(s) == 1 => s.borrow(py)?.nbytes(),
            _ => 0,
        };
        Ok(std::mem::size_of::<Self>() + store)
    }

    /// For `memslim.deep_sizeof`: the records the view keeps alive, as its list
    /// reports them (see `buffers.rs`); none for a record file's row.
    pub(super) fn _buffers(&self, py: Python<'_>) -> PyResult<Vec<(usize, usize)>> {
        Ok(match self.store() {
            Some(s) => s.borrow(py)?.buffers(store_ptr(s)).into_vec(),
            None => Vec::new(),
        })
    }

    // jsonout: dict operators; the bodies are in the jsonout block at the end of the file.
    pub(super) fn __or__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        row_or(slf, other, false)
    }

    pub(super) fn __ror__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        row_or(slf, other, true)
    }

    pub(super) fn __ior__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.update(py, &PyTuple::new(py, [other])?, None)
    }

    pub(super) fn __reversed__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = self.key_list(py)?;
        keys.reverse()?;
        Ok(keys.try_iter()?.into_any())
    }

    /// `dict.fromkeys`: a new plain dict (a Row is always a record of a list).
    #[classmethod]
    #[pyo3(signature = (iterable, value = None))]
    pub(super) fn fromkeys<'py>(
        cls: &Bound<'py, PyType>,
        iterable: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        py.get_type::<PyDict>()
            .call_method1(intern!(py, "fromkeys"), (iterable, value))
    }

    #[classmethod]
    pub(super) fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        generic_alias(cls, item)
    }

    #[inline]
    pub(super) fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.lookup(py, key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    pub(super) fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.set(py, key, value)
    }

    pub(super) fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.remove(py, key)? {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    pub(super) fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        match &self.source {
            RowSource::Memory(store) => Ok(store.borrow(py)?.inner.row_len(self.row())),
            RowSource::File(file) => file.len(py, self.row()),
        }
    }

    pub(super) fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.lookup(py, key)?.is_some())
    }

    /// `iter(row)` as PyO3 sees it: Python calls `Row`'s own slot (see `fast_slots.rs`),
    /// which comes here for what its quick path ([`Self::quick_keys`]) does not answer.
    pub(super) fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.key_list(py)?.try_iter()?.into_any())
    }

    /// `row.get` as PyO3 sees it: Python calls `Row`'s own (see `fast_slots.rs`), which
    /// comes here for what its quick path does not answer.
    #[pyo3(signature = (key, default = None))]
    pub(crate) fn get<'py>(
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

    pub(super) fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::mapping_views::view(slf.as_any(), View::Keys, row_listing)
    }

    pub(super) fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::mapping_views::view(slf.as_any(), View::Values, row_listing)
    }

    pub(super) fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::mapping_views::view(slf.as_any(), View::Items, row_listing)
    }

    #[pyo3(signature = (key, *default))]
    pub(super) fn pop<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if default.len() > 1 {
            return Err(PyTypeError::new_err("pop expected at most 2 arguments"));
        }
        self.writable(py)?;
        match self.lookup(py, key)? {
            Some(v) => {
                self.remove(py, key)?;
                Ok(v)
            }
            None if default.len() == 1 => default.get_item(0),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    pub(super) fn popitem<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        self.writable(py)?;
        let keys = self.key_list(py)?;
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
    pub(super) fn setdefault<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(v) = self.lookup(py, key)? {
            return Ok(v);
        }
        self.writable(py)?;
        let d = default.unwrap_or_else(|| py.None().into_bound(py));
        self.set(py, key, &d)?;
        Ok(d)
    }

    /// `dict.update`'s: the mapping or pairs are positional and optional, and `None`
    /// given as one is refused as `dict.update(None)` refuses it (hence `*args`).
    #[pyo3(signature = (*args, **kwargs), text_signature = "($self, other=(), /, **kwargs)")]
    pub(super) fn update(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if args.len() > 1 {
            return Err(PyTypeError::new_err(format!(
                "update expected at most 1 argument, got {}",
                args.len()
            )));
        }
        let store = self.writable(py)?;
        let mut pairs: Items<'_> = Vec::new();
        if let Some(o) = args.iter().next() {
            let o = &o;
            pairs = if o.hasattr(intern!(py, "keys"))? {
                let mut v = Vec::new();
                for k in o.call_method0(intern!(py, "keys"))?.try_iter()? {
                    let k = k?;
                    let val = o.get_item(&k)?;
                    v.push((k, val));
                }
                v
            } else {
                let mut v = Vec::new();
                for (n, it) in o.try_iter()?.enumerate() {
                    v.push(update_pair(&it?, n)?);
                }
                v
            };
        }
        if let Some(kw) = kwargs {
            pairs.extend(kw.iter());
        }
        if pairs.is_empty() {
            return Ok(());
        }
        for (k, _) in &pairs {
            Self::key_str(k)?;
        }
        // One write of every field: the core checks them all before the first is written,
        // so an update that raises (a value that cannot be stored, or that the schema
        // refuses) leaves the record as it was, as an append that raises leaves the list.
        let mut buf = Vec::new();
        let cells = record_cells(&pairs, &mut buf, self.row())?;
        let mut this = store.borrow_mut(py)?;
        this.inner.set_fields(self.row(), &cells).py_err(py)?;
        this.after_append(py, 1);
        Ok(())
    }

    pub(super) fn clear(&self, py: Python<'_>) -> PyResult<()> {
        self.writable(py)?;
        for k in self.key_list(py)?.iter() {
            self.remove(py, &k)?;
        }
        Ok(())
    }

    /// The record as a plain dict (a detached copy).
    pub(super) fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_plain_dict(py)
    }

    /// Position of the record in its record file. A DictList's record has none of its
    /// own (it may sit in several lists, or in none): use `rows.index(row)`.
    #[getter]
    pub(super) fn index(&self) -> PyResult<usize> {
        match &self.source {
            RowSource::File(_) => Ok(self.row()),
            RowSource::Memory(_) => Err(PyAttributeError::new_err(
                "a DictList's Row has no index of its own (the record may sit in several \
                 lists, or in none); use rows.index(row)",
            )),
        }
    }

    pub(super) fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)
    }

    pub(super) fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let mapping = MAPPING.import(py, "collections.abc", "Mapping")?;
        if !other.is_instance(mapping)? {
            return Ok(py.NotImplemented());
        }
        match &me.source {
            RowSource::Memory(store) => {
                // Another view of this very record is equal without a look (as a dict
                // is equal to itself, NaN and all).
                let same = record_of(store, other);
                let this = store.borrow(py)?;
                this.row_equals(py, me.row(), other, store_ptr(store), same)?
                    .into_py_any(py)
            }
            RowSource::File(_) => {
                let other = match other.cast::<PyRow>() {
                    Ok(r) => r.get().to_plain_dict(py)?,
                    Err(_) => other.clone(),
                };
                me.to_plain_dict(py)?.eq(other)?.into_py_any(py)
            }
        }
    }

    pub(super) fn __ne__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let eq = Self::__eq__(slf, other)?;
        crate::convert::negated(py, eq)
    }

    pub(super) fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.to_dict(py)?.repr()?.to_string())
    }

    pub(super) fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // Pickling a view pickles its record as a plain dict.
        let d = self.to_dict(py)?;
        (py.import("builtins")?.getattr("dict")?, (d,)).into_pyobject(py)
    }
}

/// [`crate::mapping_views::Lister`] of a `Row`.
fn row_listing<'py>(mapping: &Bound<'py, PyAny>, which: View) -> PyResult<Vec<Bound<'py, PyAny>>> {
    match mapping.cast::<PyRow>() {
        Ok(r) => r.get().listed(mapping.py(), which),
        Err(_) => list_by_protocol(mapping, which),
    }
}

/// The answer of a read-through mapping (`Row`, `DocView`) for a key it does not have:
/// missing, as a dict answers, except that a key a dict could not hold (a list, a dict)
/// raises its `TypeError: unhashable type`.
#[cold]
pub(crate) fn absent_key<T>(key: &Bound<'_, PyAny>) -> PyResult<Option<T>> {
    if !key.is_instance_of::<PyString>() {
        key.hash()?;
    }
    Ok(None)
}

/// The plain-dict form of a mapping `|` accepts: a `dict` as it is, a `Row` (or another
/// memslim mapping view) copied to a dict; `None` for anything else.
pub(super) fn or_operand<'py>(o: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if o.is_instance_of::<PyDict>() {
        return Ok(Some(o.clone()));
    }
    if let Ok(r) = o.cast::<PyRow>() {
        return Ok(Some(r.get().to_dict(o.py())?));
    }
    if let Ok(d) = o.cast::<crate::doc_list::PyDocView>() {
        return Ok(Some(d.get().shallow_dict(o.py())?.into_any()));
    }
    Ok(None)
}

/// `row | other` (`reflected`: `other | row`): a new plain dict, as `dict | dict` gives.
pub(super) fn row_or(
    slf: &Bound<'_, PyRow>,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    dict_or(&slf.get().to_dict(slf.py())?, other, reflected)
}

/// `mine | other` (`reflected`: `other | mine`) for a read-through mapping (`Row`,
/// `DocView`) whose plain dict is `mine`: a new plain dict, as `dict | dict` gives, for
/// the operands a dict's `|` takes; `NotImplemented` for others.
pub(crate) fn dict_or(
    mine: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let py = mine.py();
    let Some(o) = or_operand(other)? else {
        return Ok(py.NotImplemented());
    };
    let (left, right) = if reflected { (&o, mine) } else { (mine, &o) };
    let out = PyDict::new(py);
    out.update(left.cast()?)?;
    out.update(right.cast()?)?;
    Ok(out.into_any().unbind())
}

/// Element `n` of the pairs given to `update`, unpacked as `dict.update` unpacks it: any
/// iterable of two items, with `dict`'s errors for anything else.
fn update_pair<'py>(
    item: &Bound<'py, PyAny>,
    n: usize,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let Ok(it) = item.try_iter() else {
        return Err(PyTypeError::new_err(format!(
            "cannot convert dictionary update sequence element #{n} to a sequence"
        )));
    };
    let parts = it.collect::<PyResult<Vec<_>>>()?;
    match <[_; 2]>::try_from(parts) {
        Ok([k, v]) => Ok((k, v)),
        Err(parts) => Err(PyValueError::new_err(format!(
            "dictionary update sequence element #{n} has length {}; 2 is required",
            parts.len()
        ))),
    }
}
