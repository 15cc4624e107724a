//! `_Records`, the base class of `DictList` and `TupleList`: a store and an order,
//! and the whole `MutableSequence` protocol over them.

use crate::sequence::{abridged_repr, count_arg, mul_count, position, slice_of};

use super::*;

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
    /// The store: the records this list holds, shared with its slices, copies and
    /// `Row` views (see [`Order`]).
    pub(super) state: Store,
    /// Which store rows this list holds, in its order (changed through
    /// [`PyRecords::order_mut`], which reports its size).
    pub(super) order: GilCell<ListOrder>,
    /// One token shared by the lists of one store: holders of the store beyond its
    /// lists' count are its `Row` views (see [`PyRecords::views_alive`]).
    family: Arc<()>,
}

/// Records shared by a list, its slices and copies, and their row views.
pub(crate) type Store = Arc<GilCell<Records>>;

/// A store's address, to tell a view of this store from one of another.
pub(super) fn store_ptr(store: &Store) -> usize {
    Arc::as_ptr(store) as usize
}

/// A list's [`Order`] and a count of its structural edits (for `sort`'s check that a
/// key function left the list alone).
pub(super) struct ListOrder {
    pub(super) order: Order,
    pub(super) edits: u64,
    /// This list in `memslim.stats()` and tracemalloc: one structure, with the bytes of
    /// its order, its own (its store reports the records' bytes, once for every list
    /// on it).
    trace: Tracked,
    /// Some store rows are this list's alone (see [`PyRecords::own_new_rows`]): given
    /// back to the store when the list goes.
    owns_rows: bool,
}

impl ListOrder {
    fn new(order: Order) -> ListOrder {
        let mut o = ListOrder {
            order,
            edits: 0,
            trace: Tracked::new(),
            owns_rows: false,
        };
        o.trace.set(o.order.nbytes());
        o
    }
}

/// A list's order borrowed for a change: its size is reported when the borrow ends.
pub(super) struct OrderMut<'a>(crate::gilcell::RefMut<'a, ListOrder>);

impl std::ops::Deref for OrderMut<'_> {
    type Target = ListOrder;
    fn deref(&self) -> &ListOrder {
        &self.0
    }
}

impl std::ops::DerefMut for OrderMut<'_> {
    fn deref_mut(&mut self) -> &mut ListOrder {
        &mut self.0
    }
}

impl Drop for OrderMut<'_> {
    fn drop(&mut self) {
        let o = &mut *self.0;
        o.trace.set(o.order.nbytes());
    }
}

/// The records of a list in its order: the store itself when the list is its whole
/// store, else a copy-on-write selection of it (not the store: rows are positions).
pub(super) enum Logical<'a> {
    Store(crate::gilcell::Ref<'a, Records>),
    Own(Box<Records>),
}

impl std::ops::Deref for Logical<'_> {
    type Target = Records;
    fn deref(&self) -> &Records {
        match self {
            Logical::Store(r) => r,
            Logical::Own(r) => r,
        }
    }
}

impl PyRecords {
    pub(super) fn from_records(records: Records) -> PyRecords {
        PyRecords {
            state: Arc::new(GilCell::new(records)),
            order: GilCell::new(ListOrder::new(Order::Whole)),
            family: Arc::new(()),
        }
    }

    /// The order, borrowed to change it.
    pub(super) fn order_mut(&self, py: Python<'_>) -> PyResult<OrderMut<'_>> {
        Ok(OrderMut(self.order.borrow_mut(py)?))
    }

    /// Number of records.
    pub(super) fn len(&self, py: Python<'_>) -> PyResult<usize> {
        let n = self.state.borrow(py)?.inner.len();
        Ok(self.order.borrow(py)?.order.len(n))
    }

    /// The store row of position `i` (below [`PyRecords::len`]).
    pub(super) fn slot(&self, py: Python<'_>, i: usize) -> PyResult<usize> {
        Ok(self.order.borrow(py)?.order.slot(i))
    }

    /// The fields `schema` and `columns` name, in field order: all but
    /// [`PyRecords::fields_without_values`].
    pub(super) fn fields_shown(&self, py: Python<'_>) -> PyResult<Vec<usize>> {
        let skip = self.fields_without_values(py)?;
        let n = self.state.borrow(py)?.inner.num_fields();
        Ok((0..n).filter(|j| !skip.contains(j)).collect())
    }

    /// The store's fields none of this list's records has (each absent in every one):
    /// what a list of dicts would not have as a key at all, left out of `schema`,
    /// `columns` and the Arrow export.
    pub(super) fn fields_without_values(&self, py: Python<'_>) -> PyResult<Vec<usize>> {
        let this = self.state.borrow(py)?;
        let o = self.order.borrow(py)?;
        let store = this.inner.len();
        Ok(match o.order.as_range(store) {
            Some((start, n)) => this.inner.fields_without_values_in(start, start + n),
            None => {
                let n = o.order.len(store);
                this.inner
                    .fields_without_values((0..n).map(|p| o.order.slot(p)))
            }
        })
    }

    /// The records in list order (see [`Logical`]).
    pub(super) fn logical(&self, py: Python<'_>) -> PyResult<Logical<'_>> {
        let store = self.state.borrow(py)?;
        let o = self.order.borrow(py)?;
        let n = store.inner.len();
        Ok(match o.order.as_range(n) {
            Some((0, len)) if len == n => Logical::Store(store),
            Some((s, len)) => {
                Logical::Own(Box::new(store.selection(py, store.inner.slice(s, s + len))))
            }
            None => Logical::Own(Box::new(
                store.selection(py, store.inner.take(&o.order.slots(n))),
            )),
        })
    }

    /// Whether a structural edit may change the store in place: nothing but this list
    /// refers to its records (no view, slice or copy), after giving the list a store
    /// of its own rows if it had a selection of a larger one.
    ///
    /// Positions that share a record (`rows[i] = rows[j]`, `random.shuffle`) keep a list
    /// editing by order, which appends what it adds to the store. Once the store holds
    /// more rows no position reads than the list has records ([`Order::wastes`]), and
    /// nothing else refers to them, the store is compacted to the rows the list reads, shared
    /// ones kept shared: a run of edits costs amortized O(1) each, and the store stays
    /// within about twice the list.
    pub(super) fn in_place(&self, py: Python<'_>) -> PyResult<bool> {
        let mut o = self.order_mut(py)?;
        o.edits += 1;
        if Arc::strong_count(&self.state) != 1 {
            return Ok(false);
        }
        // The only holder of its store: rows others read or left are all its own now,
        // and an edit in place moves them.
        self.forget_reclaim(py)?;
        if o.order.is_whole() {
            return Ok(true);
        }
        // Decided before borrowing the store to change it: a mutable borrow counts as a
        // write, which makes the rows a TupleList lent stale.
        let n = self.state.borrow(py)?.inner.len();
        if o.order.is_aliased() && !o.order.wastes(n) {
            return Ok(false);
        }
        let mut store = self.state.borrow_mut(py)?;
        let (inner, order) = match o.order.as_range(n) {
            // Mostly ours: share the chunks (copy-on-write) rather than copy them.
            Some((s, len)) if len * 2 >= n => (store.inner.slice(s, s + len), Order::Whole),
            _ => {
                let (rows, order) = o.order.compacted(n);
                (store.inner.take(&rows), order)
            }
        };
        store.inner = inner;
        store.sync_names(py);
        store.retrack();
        o.order = order;
        Ok(o.order.is_whole())
    }

    /// Forgets the store's owned and free rows ([`Reclaim`]) before the store is edited
    /// in place or rebuilt, which moves rows (only done by its one holder).
    pub(super) fn forget_reclaim(&self, py: Python<'_>) -> PyResult<()> {
        // A mutable borrow counts as a write (stales the rows a TupleList lent): only
        // taken when there is something to forget.
        if !self.state.borrow(py)?.reclaim.is_empty() {
            self.state.borrow_mut(py)?.reclaim.clear();
        }
        Ok(())
    }

    /// Whether a `Row` view of the store may be alive: the store has holders besides
    /// its lists (each list holds it once; a `Row` holds it, and nothing else does).
    fn views_alive(&self) -> bool {
        Arc::strong_count(&self.state) > Arc::strong_count(&self.family)
    }

    /// This list's address: the owner of its rows in the store's [`Reclaim`].
    fn owner_id(&self) -> usize {
        self as *const PyRecords as usize
    }

    /// After `a + b` built this new list (a DictList on `a`'s store) by adding records to
    /// the store from row `first` on, which no other list reads: puts them in rows no
    /// list reads any more, if the store has some, instead of growing it, and notes them
    /// as this list's alone, so that they go back to the store when it goes (else
    /// `for d in ds: tmp = rows + [d]` grew `rows`' store without bound).
    pub(super) fn own_new_rows(&self, py: Python<'_>, first: usize) -> PyResult<()> {
        let mut store = self.state.borrow_mut(py)?;
        let n = store.inner.len();
        if n <= first {
            return Ok(());
        }
        let free = store.reclaim.take_free(n - first, self.views_alive());
        let mut rows: Vec<usize> = (first..n).collect();
        if !free.is_empty() {
            // Rows below `first`, as many as there are new ones at most: below them all.
            let from = n - free.len();
            let mut o = self.order_mut(py)?;
            if store.inner.move_tail_into(&free).is_ok() {
                o.order.remap_tail(n, from, &free).py_err(py)?;
                rows.truncate(from - first);
                store.sync_names(py);
                store.retrack();
            }
            // Copies written before a refusal are in rows nobody reads: this list's to
            // give back too.
            rows.extend(&free);
        }
        store.reclaim.own(self.owner_id(), &rows);
        drop(store);
        self.order_mut(py)?.owns_rows = true;
        Ok(())
    }

    /// This list is about to share its positions with another holder (a new list on its
    /// store): rows that were its alone are no longer.
    pub(super) fn pin_own_rows(&self, py: Python<'_>) -> PyResult<()> {
        if self.order.borrow(py)?.owns_rows {
            self.state.borrow_mut(py)?.reclaim.pin(self.owner_id());
        }
        Ok(())
    }

    /// The list's order for an edit by order (not in place): never `Whole`, since rows
    /// the edit adds to the store must not join the list by themselves.
    pub(super) fn fix_order(&self, py: Python<'_>) -> PyResult<()> {
        let n = self.state.borrow(py)?.inner.len();
        let mut o = self.order_mut(py)?;
        // In place: a copy of a million positions per `rows[i] = row` made
        // `random.shuffle(rows)` quadratic.
        o.order.fix(n);
        o.edits += 1;
        Ok(())
    }

    /// Applies `f` to the (fixed) order; `f` gets the store length.
    pub(super) fn edit_order<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Order, usize) -> Result<R, RecordsError>,
    ) -> PyResult<R> {
        self.fix_order(py)?;
        let n = self.state.borrow(py)?.inner.len();
        let mut o = self.order_mut(py)?;
        f(&mut o.order, n).py_err(py)
    }

    /// A new list of this class on the same store holding `order` (a slice, copy or
    /// selection sharing this list's records).
    pub(super) fn share(&self, py: Python<'_>, order: Order) -> PyResult<Py<PyAny>> {
        // Only one list may be its store's `Whole`: this one keeps its rows fixed now.
        self.fix_order(py)?;
        self.pin_own_rows(py)?;
        let tuple = matches!(self.state.borrow(py)?.kind, RecordForm::Tuple { .. });
        let init = PyClassInitializer::from(PyRecords {
            state: self.state.clone(),
            order: GilCell::new(ListOrder::new(order)),
            family: self.family.clone(),
        });
        Ok(if tuple {
            Py::new(py, init.add_subclass(PyTupleList))?.into_any()
        } else {
            Py::new(py, init.add_subclass(PyDictList))?.into_any()
        })
    }

    /// A new list of this class with its own copies of the records.
    pub(super) fn deep_copy(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let this = self.logical(py)?;
        this.with_inner(py, this.inner.clone()).into_object(py)
    }

    /// The first position in `[start, stop)` whose record equals `value`.
    pub(super) fn find(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: usize,
        stop: usize,
    ) -> PyResult<Option<usize>> {
        let same = self.own_row(value);
        let o = self.order.borrow(py)?;
        let this = self.state.borrow(py)?;
        this.find(
            py,
            value,
            start,
            stop,
            &o.order,
            store_ptr(&self.state),
            same,
        )
    }

    /// Removes the positions of `slice` (below [`PyRecords::len`]).
    pub(super) fn remove_slice(&self, py: Python<'_>, slice: &Slice) -> PyResult<()> {
        if !self.in_place(py)? {
            // Records others hold stay readable and writable through their views.
            return self.edit_order(py, |o, n| o.remove_slice(n, slice));
        }
        let mut this = self.state.borrow_mut(py)?;
        this.inner.remove_slice(slice).py_err(py)?;
        this.retrack();
        Ok(())
    }

    /// Removes position `i` (below [`PyRecords::len`]).
    pub(super) fn remove_at(&self, py: Python<'_>, i: usize) -> PyResult<()> {
        if !self.in_place(py)? {
            return self.edit_order(py, |o, n| o.splice(n, i, i + 1, &[], false));
        }
        self.state.borrow_mut(py)?.inner.remove(i).py_err(py)
    }
}

impl Drop for PyRecords {
    /// Gives the rows that were this list's alone back to its store (see
    /// [`PyRecords::own_new_rows`]); free rows at the store's end are cut off.
    fn drop(&mut self) {
        if !self.order.get_mut().owns_rows || Arc::strong_count(&self.state) == 1 {
            return;
        }
        let id = self.owner_id();
        let views = self.views_alive();
        let state = &self.state;
        // Dropped in deallocation, with the interpreter attached. A store busy with an
        // operation that dropped this list keeps the rows until its next compaction.
        Python::try_attach(|py| {
            let Ok(mut store) = state.borrow_mut(py) else {
                return;
            };
            let n = store.inner.len();
            let keep = store.reclaim.release(id, n, views);
            if keep < n {
                let before = store.inner.nbytes();
                store.inner.truncate_releasing(keep);
                store.retrack();
                if before.saturating_sub(store.inner.nbytes()) >= TRIM_AFTER_BYTES {
                    release_free_memory();
                }
            }
        });
    }
}

/// Record `i` (a position) handed to Python: a live `Row` for DictList, a namedtuple
/// for TupleList.
pub(super) fn item_out(slf: &Bound<'_, PyRecords>, i: usize) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let slot = slf.get().slot(py, i)?;
    let this = slf.get().state.borrow(py)?;
    item_of(py, &this, &slf.get().state, slot)
}

/// Store row `slot` handed to Python (see [`item_out`]).
pub(super) fn item_of(
    py: Python<'_>,
    this: &Records,
    store: &Store,
    slot: usize,
) -> PyResult<Py<PyAny>> {
    match this.kind {
        RecordForm::Dict => {
            this.reclaim.note_view(slot);
            let row = PyRow::memory(store.clone(), slot);
            Ok(crate::fast_slots::new_row(py, row)?.into_any())
        }
        RecordForm::Tuple { .. } => Ok(this.lend_row(py, slot, store.writes(py))?.unbind()),
    }
}

#[pymethods]
impl PyRecords {
    // jsonout: list operators; the bodies are in the jsonout block at the end of the file.
    pub(super) fn __mul__(slf: &Bound<'_, Self>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        records_mul(slf, n)
    }

    pub(super) fn __rmul__(slf: &Bound<'_, Self>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        records_mul(slf, n)
    }

    pub(super) fn __imul__(slf: &Bound<'_, Self>, n: &Bound<'_, PyAny>) -> PyResult<()> {
        records_imul(slf, n)
    }

    pub(super) fn __radd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        records_radd(slf, other)
    }

    #[classmethod]
    pub(super) fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        generic_alias(cls, item)
    }

    pub(super) fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.len(py)
    }

    pub(super) fn __getitem__(
        slf: &Bound<'_, Self>,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if index.is_exact_instance_of::<pyo3::types::PyInt>() {
            // The common case, `rows[i]`.
            if let Ok(i) = index.extract::<isize>() {
                let me = slf.get();
                let o = me.order.borrow(py)?;
                let this = me.state.borrow(py)?;
                let pos = norm_index(i, o.order.len(this.inner.len()), this.what())?;
                return item_of(py, &this, &me.state, o.order.slot(pos));
            }
        }
        if let Ok(s) = index.cast::<PySlice>() {
            let me = slf.get();
            let slice = slice_of(s, || me.len(py))?;
            // A slice shares the records, as a list's slice shares its dicts (or tuples).
            let store_len = me.state.borrow(py)?.inner.len();
            let order = me.order.borrow(py)?.order.get_slice(store_len, &slice);
            return me.share(py, order);
        }
        let what = slf.get().state.borrow(py)?.what();
        item_out(slf, position(index, || slf.get().len(py), what)?)
    }

    pub(super) fn __setitem__(
        slf: &Bound<'_, Self>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        if let Ok(s) = index.cast::<PySlice>() {
            // A lazy iterable is taken whole first, as `list` takes it (`PySequence_Fast`):
            // views of this list it makes are then alive when the path is chosen, so
            // they are shared, not copied; and one that raises changes nothing.
            let taken;
            let value = if value.is_instance_of::<PyList>()
                || value.is_instance_of::<PyTuple>()
                || value.is_instance_of::<PyRecords>()
            {
                value
            } else {
                taken = py.get_type::<PyList>().call1((value,))?;
                &taken
            };
            let slice = slice_of(s, || me.len(py))?;
            // One position given one record (`rows[i:i+1] = [r]`): what `rows[i] = r`
            // does, without staging a list for the one record.
            if let (1, Some(one)) = (slice.len, single_item(value)) {
                return me.set_one(slice.positions().next().unwrap_or_default(), &one);
            }
            // Records of this store (`rows[1:3] = rows`, or a slice of it) are shared as
            // they are, as a list shares its dicts: by order, even where the list could
            // be written in place, where they would be converted again as copies.
            let own = value
                .cast::<PyRecords>()
                .is_ok_and(|o| Arc::ptr_eq(&o.get().state, &me.state));
            if !own && me.in_place(py)? {
                let staged = {
                    // Readable, not changeable, while the records convert (see
                    // `write_record`): the slice was resolved for the list as it is.
                    let _order = me.order.borrow(py)?;
                    me.state.borrow(py)?.staged(value, slice)?
                };
                let mut this = me.state.borrow_mut(py)?;
                this.inner.assign_slice(&slice, &staged).py_err(py)?;
                this.sync_names(py);
                this.retrack();
                return Ok(());
            }
            // Others share these records: the slice's positions get the new records'
            // store rows, and the records they held stay as they were for the others.
            return me.assign_by_order(slice, value);
        }
        let what = me.state.borrow(py)?.what();
        me.set_one(position(index, || me.len(py), what)?, value)
    }

    pub(super) fn __delitem__(&self, index: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = index.py();
        let slice = if let Ok(s) = index.cast::<PySlice>() {
            slice_of(s, || self.len(py))?
        } else {
            let what = self.state.borrow(py)?.what();
            Slice::at(position(index, || self.len(py), what)?)
        };
        self.remove_slice(py, &slice)
    }

    pub(super) fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let it = PyRecordsIter::new(slf, false)?;
        crate::fast_slots::new_iter(slf.py(), it)
    }

    pub(super) fn __reversed__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let it = PyRecordsIter::new(slf, true)?;
        crate::fast_slots::new_iter(slf.py(), it)
    }

    pub(super) fn __contains__(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(slf.get().find(slf.py(), value, 0, usize::MAX)?.is_some())
    }

    #[pyo3(
        signature = (value, start = crate::sequence::SliceIndex(0), stop = crate::sequence::SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    pub(super) fn index(
        slf: &Bound<'_, Self>,
        value: &Bound<'_, PyAny>,
        start: crate::sequence::SliceIndex,
        stop: crate::sequence::SliceIndex,
    ) -> PyResult<usize> {
        let (start, stop) = (start.0, stop.0);
        let py = slf.py();
        let me = slf.get();
        let len = me.len(py)?;
        let (a, b) = (clamp_index(start, len), clamp_index(stop, len));
        me.find(py, value, a, b)?.ok_or_else(|| {
            let what = me.state.borrow(py).map(|t| t.what()).unwrap_or("list");
            PyValueError::new_err(format!("value is not in {what}"))
        })
    }

    pub(super) fn count(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let me = slf.get();
        let same = me.own_row(value);
        let o = me.order.borrow(slf.py())?;
        let this = me.state.borrow(slf.py())?;
        let mut n = 0;
        this.scan(
            slf.py(),
            value,
            0..usize::MAX,
            &o.order,
            store_ptr(&me.state),
            same,
            |_| {
                n += 1;
                true
            },
        )?;
        Ok(n)
    }

    /// The records whose `field` compares to `value` with `op` (see select.rs for the
    /// semantics), as a new list of the same class: a DictList shares them, as a list
    /// comprehension over a list of dicts would.
    #[pyo3(name = "where")]
    pub(super) fn where_(
        slf: &Bound<'_, Self>,
        field: &str,
        op: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let this = me.logical(py)?;
        if !matches!(this.kind, RecordForm::Dict) && this.inner.field_index(field).is_none() {
            // Every row of a TupleList has each of its fields, and no other: a name
            // outside them is a mistake (a dict's absent key matches only `!=`).
            return Err(PyKeyError::new_err(field.to_owned()));
        }
        let rows = crate::select::where_rows(&this.inner, field, op, value)?;
        drop(this);
        let order = me.order.borrow(py)?.order.pick(&rows);
        me.share(py, order)
    }

    pub(super) fn append(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        if let Some(slot) = me.own_row(value) {
            // The list holds that record (again), as a list would hold the same dict.
            return me.edit_order(py, |o, n| o.push_shared(n, &[slot]));
        }
        if !me.quick_append(py, value)? {
            me.write_record(value, me.len(py)?, |l, cells| l.push_record(cells))?;
        }
        me.hold_last_record(py)
    }

    pub(super) fn extend(slf: &Bound<'_, Self>, values: &Bound<'_, PyAny>) -> PyResult<()> {
        // `rows.extend([r])` is `rows.append(r)`: no checkpoint or bulk pass for one record.
        if let Some(one) = single_item(values) {
            return Self::append(slf, &one);
        }
        let me = slf.get();
        if let Some(few) = few_items(values).filter(|f| f.iter().all(|v| me.own_row(v).is_none())) {
            return append_few(slf, &few);
        }
        me.extend_any(values)
    }

    pub(super) fn insert(
        slf: &Bound<'_, Self>,
        index: isize,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        let i = clamp_index(index, me.len(py)?);
        if !me.in_place(py)? {
            let one = PyTuple::new(py, [value])?;
            return me.assign_by_order(Slice::before(i), one.as_any());
        }
        me.write_record(value, i, |l, cells| l.insert_record(i, cells))
    }

    #[pyo3(signature = (index = -1))]
    pub(super) fn pop<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let len = self.len(py)?;
        if len == 0 {
            return Err(PyIndexError::new_err(format!(
                "pop from empty {}",
                self.state.borrow(py)?.what()
            )));
        }
        let i = norm_index(index, len, "pop")?;
        let slot = self.slot(py, i)?;
        let v = self.state.borrow(py)?.row_value(py, slot)?;
        self.remove_at(py, i)?;
        Ok(v)
    }

    pub(super) fn remove(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        let found = me.find(py, value, 0, usize::MAX)?;
        match found {
            Some(i) => me.remove_at(py, i),
            None => Err(PyValueError::new_err(format!(
                "{}.remove(x): x not in list",
                me.state.borrow(py)?.what()
            ))),
        }
    }

    pub(super) fn clear(&self, py: Python<'_>) -> PyResult<()> {
        if Arc::strong_count(&self.state) == 1 {
            // Nothing else reads the store (no other list, view, iterator or column):
            // every record goes with the list's positions, whatever their order (one
            // put back with `rows[i] = rows[j]` left it aliased, which `in_place`
            // keeps), as `list.clear` releases every item.
            self.forget_reclaim(py)?;
            let mut o = self.order_mut(py)?;
            o.edits += 1;
            o.order = Order::Whole;
        } else if !self.in_place(py)? {
            return self.edit_order(py, |o, n| o.truncate(n, 0));
        }
        let mut this = self.state.borrow_mut(py)?;
        this.inner.clear();
        this.sync_names(py);
        this.retrack();
        Ok(())
    }

    pub(super) fn reverse(&self, py: Python<'_>) -> PyResult<()> {
        if !self.in_place(py)? {
            return self.edit_order(py, |o, n| o.reverse(n));
        }
        self.state.borrow_mut(py)?.inner.reverse();
        Ok(())
    }

    /// `reverse` is handed to `sorted` as given, which takes any int, as `list.sort`.
    #[pyo3(signature = (*, key = None, reverse = None))]
    pub(super) fn sort(
        slf: &Bound<'_, Self>,
        key: Option<&Bound<'_, PyAny>>,
        reverse: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        // As list.sort: a key (or another thread) that changes the list while it sorts
        // makes the sort fail with ValueError, leaving the list as that change left it.
        let state = || -> PyResult<(usize, u64)> { Ok((me.len(py)?, me.order.borrow(py)?.edits)) };
        let modified = || PyValueError::new_err("list modified during sort");
        let before = state()?;
        let n = before.0;
        let keys = PyList::empty(py);
        for i in 0..n {
            if state()? != before {
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
        if let Some(r) = reverse {
            kw.set_item("reverse", r)?;
        }
        let sorted = py
            .import("builtins")?
            .getattr("sorted")?
            .call((pyo3::types::PyRange::new(py, 0, n as isize)?,), Some(&kw))?;
        let perm: Vec<usize> = sorted.extract()?;
        if state()? != before {
            return Err(modified());
        }
        // Rows taken as keys are gone now, unless the key kept them.
        drop(keys);
        if !me.in_place(py)? {
            return me.edit_order(py, |o, n| o.permute(n, &perm));
        }
        me.state.borrow_mut(py)?.inner.permute(&perm).py_err(py)
    }

    pub(super) fn __add__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let is_list = other.is_instance_of::<PyList>() || other.is_instance_of::<PyRecords>();
        if !is_list {
            return Ok(py.NotImplemented());
        }
        let me = slf.get();
        if matches!(me.state.borrow(py)?.kind, RecordForm::Dict) {
            // The sum holds this list's records (shared, as list + list shares dicts),
            // then `other`'s.
            let n = me.state.borrow(py)?.inner.len();
            let order = me.order.borrow(py)?.order.fixed(n);
            let out = me.share(py, order)?;
            let list = out.bind(py).cast::<PyRecords>()?.get();
            list.extend_any(other)?;
            list.own_new_rows(py, n)?;
            return Ok(out);
        }
        let this = me.logical(py)?;
        let mut out = this.with_inner(py, this.inner.clone());
        drop(this);
        let src = match other.cast::<PyRecords>() {
            Ok(o) => out.records_of(py, &*o.get().logical(py)?)?,
            Err(_) => None,
        };
        match src {
            Some(src) => {
                out.inner.extend_from(&src).py_err(py)?;
                out.sync_names(py);
            }
            None => {
                let dest = Slice::before(out.inner.len());
                out.extend_from_iter(other, 0, dest)?
            }
        }
        out.retrack();
        out.into_object(py)
    }

    pub(super) fn __iadd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::extend(slf, other)
    }

    pub(super) fn __richcmp__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let eq_only = matches!(op, CompareOp::Eq | CompareOp::Ne);
        let Some(c) = compare_items(slf, other, eq_only)? else {
            return Ok(py.NotImplemented());
        };
        let equal = c.lens.0 == c.lens.1 && !c.differ;
        let result = match op {
            CompareOp::Eq => equal,
            CompareOp::Ne => !equal,
            // As a list orders: by the first pair of items that differ, compared as the
            // plain dicts or tuples they equal, else by length.
            _ => match c.pair {
                Some((x, y)) => return Ok(x.rich_compare(y, op)?.unbind()),
                None => op.matches(c.lens.0.cmp(&c.lens.1)),
            },
        };
        result.into_py_any(py)
    }

    pub(super) fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let this = self.state.borrow(py)?;
        abridged_repr(this.what(), self.len(py)?, (10, 3, 2), |i| {
            Ok(this.row_value(py, self.slot(py, i)?)?.repr()?.to_string())
        })
    }

    /// A shallow copy: a new list holding the same records (for a DictList, writes
    /// through either list's rows show in both, as with a list of dicts).
    pub(super) fn copy(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let n = self.state.borrow(py)?.inner.len();
        let order = self.order.borrow(py)?.order.fixed(n);
        self.share(py, order)
    }

    pub(super) fn __copy__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.copy(py)
    }

    /// An independent list with copies of the records. A record held twice becomes
    /// two equal records (as `deepcopy` of a list of dicts would not: see the porting
    /// notes).
    pub(super) fn __deepcopy__(
        &self,
        py: Python<'_>,
        _memo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.deep_copy(py)
    }

    pub(super) fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        Self::__reduce_ex__(slf, 4)
    }

    /// Pickle: the core's checksummed snapshot; from protocol 5 on, the column buffers
    /// go out of band (see pickle.rs).
    pub(super) fn __reduce_ex__<'py>(
        slf: &Bound<'py, Self>,
        protocol: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get().logical(py)?;
        let module = py.import("memslim._memslim")?;
        let mut args = crate::pickle::snapshot_args(py, this.inner.to_snapshot(), protocol)?;
        let restore = match &this.kind {
            RecordForm::Dict => module.getattr("_restore_dictlist")?,
            RecordForm::Tuple {
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

    /// The store's bytes (shared with the slices, copies and views of the list, which
    /// keep it alive) plus this list's order (4 bytes per record once reordered).
    pub(super) fn __sizeof__(&self, py: Python<'_>) -> PyResult<usize> {
        let this = self.state.borrow(py)?;
        Ok(this.nbytes() + std::mem::size_of::<Self>() + self.order.borrow(py)?.order.nbytes())
    }

    /// For `memslim.deep_sizeof`: the memory `__sizeof__` adds to the object's own, as
    /// `(identity, bytes)` pairs, a buffer shared with other lists and views under one
    /// identity (see `buffers.rs`).
    pub(super) fn _buffers(&self, py: Python<'_>) -> PyResult<Vec<(usize, usize)>> {
        let mut out = self.state.borrow(py)?.buffers(store_ptr(&self.state));
        let o = self.order.borrow(py)?;
        out.push(&*o as *const ListOrder as usize, o.order.nbytes());
        Ok(out.into_vec())
    }

    /// Bytes of memory this list owns (buffers, dictionaries, indexes).
    #[getter]
    pub(super) fn nbytes(&self, py: Python<'_>) -> PyResult<usize> {
        self.__sizeof__(py)
    }

    /// Field name -> dtype name.
    #[getter]
    pub(super) fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let shown = self.fields_shown(py)?;
        let this = self.state.borrow(py)?;
        let d = PyDict::new(py);
        for j in shown {
            d.set_item(this.names[j].bind(py), this.inner.field_dtype(j).name())?;
        }
        Ok(d)
    }

    /// Field name -> physical layout, for the fields of `schema`.
    pub(super) fn storage_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let shown = self.fields_shown(py)?;
        let this = self.state.borrow(py)?;
        let d = PyDict::new(py);
        for j in shown {
            d.set_item(
                this.names[j].bind(py),
                this.inner.field_layout(j).describe(),
            )?;
        }
        Ok(d)
    }

    pub(super) fn column(&self, py: Python<'_>, name: &str) -> PyResult<PyColumn> {
        // A field none of the records has any more is no field of the list's, as for a
        // name never seen.
        let stored = self.state.borrow(py)?.inner.field_index(name);
        if let Some(j) = stored {
            if self.fields_without_values(py)?.contains(&j) {
                return Err(PyKeyError::new_err(name.to_owned()));
            }
        }
        let this = self.logical(py)?;
        let j = this
            .inner
            .field_index(name)
            .ok_or_else(|| PyKeyError::new_err(name.to_owned()))?;
        Ok(PyColumn::memory(this.inner.column(j)))
    }

    pub(super) fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let this = self.logical(py)?;
        let l = PyList::empty(py);
        for i in 0..this.inner.len() {
            l.append(this.row_value(py, i)?)?;
        }
        Ok(l)
    }

    pub(super) fn __arrow_c_schema__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let skip = self.fields_without_values(py)?;
        let this = self.state.borrow(py)?;
        let schema = this.inner.arrow_schema_without(&skip);
        let ffi = FFI_ArrowSchema::try_from(schema.as_ref())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyCapsule::new_with_value(py, ffi, c"arrow_schema")
    }

    #[pyo3(signature = (requested_schema = None))]
    pub(super) fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The request is a hint the interface allows producers to ignore; we export our
        // own (exact) types.
        let _ = requested_schema;
        let skip = self.fields_without_values(py)?;
        let (schema, batches) = match self.logical(py)? {
            Logical::Store(r) => {
                drop(r);
                self.state.borrow_mut(py)?.inner.to_arrow_without(&skip)
            }
            Logical::Own(mut r) => r.inner.to_arrow_without(&skip),
        }
        .py_err(py)?;
        crate::arrow_stream::export_stream(py, schema, batches)
    }
}

/// `rows * n`: a new list of the same class holding the same records `n` times, as
/// `[d] * n` holds one dict `n` times.
pub(super) fn records_mul(slf: &Bound<'_, PyRecords>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Some(n) = mul_count(n)? else {
        return Ok(py.NotImplemented());
    };
    let me = slf.get();
    let len = me.state.borrow(py)?.inner.len();
    let mut order = me.order.borrow(py)?.order.fixed(len);
    order.repeat(len, n.max(0) as usize).py_err(py)?;
    me.share(py, order)
}

/// `rows *= n`, in place (a DictList holds each record `n` times, see `records_mul`).
pub(super) fn records_imul(slf: &Bound<'_, PyRecords>, n: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = slf.py();
    let n = count_arg(n)?;
    let me = slf.get();
    if n <= 0 {
        // `rows *= 0` empties the list, as `clear()`, releasing what nothing else reads.
        return me.clear(py);
    }
    if matches!(me.state.borrow(py)?.kind, RecordForm::Dict) {
        return me.edit_order(py, |o, len| o.repeat(len, n.max(0) as usize));
    }
    if !me.in_place(py)? {
        // Positions share store rows (`rows[i] = rows[j]`): repeated by order.
        return me.edit_order(py, |o, len| o.repeat(len, n.max(0) as usize));
    }
    let inner = me.logical(py)?.repeated(py, n)?;
    let mut this = me.state.borrow_mut(py)?;
    this.inner = inner;
    this.sync_names(py);
    this.retrack();
    Ok(())
}

/// `other + rows` for a plain `list` `other`: a new list of `rows`' class holding the
/// records of `other` (validated as appends are), then those of `rows`.
pub(super) fn records_radd(
    slf: &Bound<'_, PyRecords>,
    other: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    if !other.is_instance_of::<PyList>() {
        return Ok(py.NotImplemented());
    }
    let me = slf.get();
    if matches!(me.state.borrow(py)?.kind, RecordForm::Dict) {
        // `other`'s records, then this list's own (shared, as `list + list` shares).
        let len = me.state.borrow(py)?.inner.len();
        let out = me.share(py, Order::Whole.slice(len, 0, 0))?;
        let list = out.bind(py).cast::<PyRecords>()?.get();
        list.extend_any(other)?;
        list.extend_any(slf.as_any())?;
        list.own_new_rows(py, len)?;
        return Ok(out);
    }
    let this = me.logical(py)?;
    let mut out = this.with_inner(py, this.inner.empty_like());
    out.extend_from_iter(other, 0, Slice::before(0))?;
    out.inner.extend_from(&this.inner).py_err(py)?;
    out.sync_names(py);
    out.retrack();
    out.into_object(py)
}

/// How a list and another compare, as Python compares two lists: their lengths, and
/// the first position both have whose items differ.
pub(super) struct Compared<'py> {
    pub(super) lens: (usize, usize),
    /// Whether some position both have holds unequal items.
    pub(super) differ: bool,
    /// The items at the first such position, as plain values (a record as the dict or
    /// tuple it equals); not made for `==`.
    pub(super) pair: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
}

impl<'py> Compared<'py> {
    fn same(lens: (usize, usize)) -> Self {
        Compared {
            lens,
            differ: false,
            pair: None,
        }
    }
}

/// `slf` compared with `other` item by item as a list compares, `x is y or x == y`
/// (see [`RecordList::first_difference`]): `None` when `other` is not a list this one
/// compares with. With `eq_only` (for `==`), lists of different lengths are not
/// looked into. Another list of records is compared in the core, the same record
/// (the same row of a shared store, or the same stored record of a copy or slice)
/// without a look and without a Python object; a plain list, item by item, a `Row` or
/// row of this list being the record it views (see [`record_of`]).
pub(super) fn compare_items<'py>(
    slf: &Bound<'py, PyRecords>,
    other: &Bound<'py, PyAny>,
    eq_only: bool,
) -> PyResult<Option<Compared<'py>>> {
    let py = slf.py();
    let me = slf.get();
    let this = me.state.borrow(py)?;
    let ao = me.order.borrow(py)?;
    let n = ao.order.len(this.inner.len());
    if let Ok(o) = other.cast::<PyRecords>() {
        let o = o.get();
        let theirs;
        let that: &Records = if Arc::ptr_eq(&o.state, &me.state) {
            &this
        } else {
            theirs = o.state.borrow(py)?;
            &theirs
        };
        let bo = o.order.borrow(py)?;
        let m = bo.order.len(that.inner.len());
        if eq_only && n != m {
            return Ok(Some(Compared::same((n, m))));
        }
        let by_value = !(this.rows_have_own_eq(py)? || that.rows_have_own_eq(py)?);
        let positions = this.positions_of(py, that)?;
        let first = match positions {
            // A dict never equals a tuple, nor a tuple one of another length.
            Positions::OtherClass | Positions::Width(_) => (n.min(m) > 0).then_some(0),
            positions => {
                let renamed;
                let src = match positions {
                    Positions::Renamed(_) => {
                        renamed = this.arranged(py, that, positions)?;
                        renamed.as_ref().unwrap_or(&that.inner)
                    }
                    _ => &that.inner,
                };
                this.inner
                    .first_difference(&ao.order, src, &bo.order, by_value, |x, y| {
                        this.row_value(py, x)?.eq(that.row_value(py, y)?)
                    })?
            }
        };
        let pair = match first {
            Some(p) if !eq_only => Some((
                this.row_value(py, ao.order.slot(p))?,
                that.row_value(py, bo.order.slot(p))?,
            )),
            _ => None,
        };
        return Ok(Some(Compared {
            lens: (n, m),
            differ: first.is_some(),
            pair,
        }));
    }
    let is_list = other.is_instance_of::<PyList>();
    // Another stand-in for a list (of documents) compares for equality item by item.
    let documents = eq_only && other.is_instance_of::<crate::doc_list::PyDocList>();
    if !(is_list || documents) {
        return Ok(None);
    }
    let ptr = store_ptr(&me.state);
    let mut p = 0;
    loop {
        // Read again at each step: comparing may run Python code that changes `other`.
        let m = other.len()?;
        if (eq_only && n != m) || p >= n.min(m) {
            return Ok(Some(Compared::same((n, m))));
        }
        let item = other.get_item(p)?;
        let slot = ao.order.slot(p);
        let equal = if is_list {
            this.row_equals(py, slot, &item, ptr, record_of(&me.state, &item))?
        } else {
            this.row_value(py, slot)?.eq(&item)?
        };
        if !equal {
            let pair = if eq_only {
                None
            } else {
                Some((this.row_value(py, slot)?, item))
            };
            return Ok(Some(Compared {
                lens: (n, m),
                differ: true,
                pair,
            }));
        }
        p += 1;
    }
}

/// `type[...]` on a list or row class, as `list[dict]` does.
pub(super) fn generic_alias<'py>(
    cls: &Bound<'py, PyType>,
    item: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let alias = cls.py().import("types")?.getattr("GenericAlias")?;
    alias.call1((cls, item))
}
