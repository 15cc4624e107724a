//! How records go into a list: `extend` (in bulk, or a few one by one), the store rows
//! for assigned values, and one record written in place.

use super::*;

/// Store rows joining a list: rows it shares with others, or rows just appended to the
/// store for it.
pub(super) enum Rows {
    Shared(Vec<usize>),
    New(std::ops::Range<usize>),
}

impl Rows {
    /// `(store rows, whether they are shared)`.
    fn into_parts(self) -> (Vec<usize>, bool) {
        match self {
            Rows::Shared(v) => (v, true),
            Rows::New(r) => (r.collect(), false),
        }
    }
}

impl PyRecords {
    /// `list.extend`: records of a list on this store are added again (shared, as
    /// `rows.extend(rows[2:4])` or `rows += rows` would share dicts); those of another
    /// list of this class are copied in one block; anything else goes through
    /// [`PyRecords::extend_items`].
    pub(super) fn extend_any(&self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = values.py();
        if let Ok(other) = values.cast::<PyRecords>() {
            if let Some(rows) = self.rows_of_list(py, other.get())? {
                return self.push_rows(py, rows);
            }
        }
        if matches!(self.state.borrow(py)?.kind, RecordForm::Dict) {
            // A record file's records, copied natively rather than row view by row view.
            let chunk_rows = self.state.borrow(py)?.inner.chunk_rows();
            if let Some(src) = crate::mmap::PyDictListFile::records_of(values, chunk_rows)? {
                let rows = self.append_copy(py, &src)?;
                return self.push_rows(py, rows);
            }
        }
        self.extend_items(values)
    }

    /// The store rows a list brings to this one: its own rows, shared, if it is on this
    /// store and holds dicts (a TupleList's records are immutable values: copying them
    /// is the same to its users and keeps the list its whole store); else, for a list
    /// of this class, its records copied to the end of the store in one block. `None`
    /// for a list of the other class.
    pub(super) fn rows_of_list(&self, py: Python<'_>, other: &PyRecords) -> PyResult<Option<Rows>> {
        let n = self.state.borrow(py)?.inner.len();
        let dicts = matches!(self.state.borrow(py)?.kind, RecordForm::Dict);
        if dicts && Arc::ptr_eq(&other.state, &self.state) {
            other.pin_own_rows(py)?;
            return Ok(Some(Rows::Shared(other.order.borrow(py)?.order.slots(n))));
        }
        let src = self
            .state
            .borrow(py)?
            .records_of(py, &*other.logical(py)?)?;
        match src {
            Some(src) => self.append_copy(py, &src).map(Some),
            None => Ok(None),
        }
    }

    /// Appends a copy of every record of `src` to the end of the store (all or none).
    fn append_copy(&self, py: Python<'_>, src: &RecordList) -> PyResult<Rows> {
        let mut this = self.state.borrow_mut(py)?;
        let n = this.inner.len();
        this.inner.extend_from(src).py_err(py)?;
        this.sync_names(py);
        this.retrack();
        Ok(Rows::New(n..this.inner.len()))
    }

    /// Appends `rows` (just added to the store, or shared) to the list's order.
    pub(super) fn push_rows(&self, py: Python<'_>, rows: Rows) -> PyResult<()> {
        let n = self.state.borrow(py)?.inner.len();
        let mut o = self.order_mut(py)?;
        o.edits += 1;
        match rows {
            Rows::Shared(slots) => o.order.push_shared(n, &slots),
            Rows::New(r) => o.order.push_new(n, r.start, r.len()),
        }
        .py_err(py)
    }

    /// Goes through `items` in order: a `Row` of this store gives its own row
    /// ([`Rows::Shared`]); each run of other values is converted and appended to the
    /// store in batches ([`Rows::New`]). `take` gets each in turn. No rollback: the
    /// callers checkpoint the store. `dest`: the list positions the items go to, which
    /// an error about one names ([`Records::push_input`]).
    pub(super) fn store_items(
        &self,
        items: &[Bound<'_, PyAny>],
        dest: Slice,
        mut take: impl FnMut(Rows) -> PyResult<()>,
    ) -> PyResult<()> {
        let Some(head) = items.first() else {
            return Ok(());
        };
        let py = head.py();
        let me = store_ptr(&self.state);
        let mut k = 0;
        while k < items.len() {
            if let Some(slot) = self.own_row(&items[k]) {
                take(Rows::Shared(vec![slot]))?;
                k += 1;
                continue;
            }
            let end = (k..items.len())
                .find(|&e| self.own_row(&items[e]).is_some())
                .unwrap_or(items.len());
            let first = self.state.borrow(py)?.inner.len();
            self.state.borrow_mut(py)?.push_input(
                py,
                &Input::Objs(&items[k..end]),
                me,
                dest.skip(k),
            )?;
            take(Rows::New(first..self.state.borrow(py)?.inner.len()))?;
            k = end;
        }
        Ok(())
    }

    /// The store row of `v` if it is a `Row` of this list's store, or a TupleList row
    /// this store lent that still holds its record ([`Records::lent_slot`]).
    pub(super) fn own_row(&self, v: &Bound<'_, PyAny>) -> Option<usize> {
        record_of(&self.state, v)
    }

    /// Appends the records of `values`, all or none (see [`Undo`] for an iterator that
    /// changes the list meanwhile). A `Row` of this store adds its record again; the
    /// other values are converted and appended to the store, in batches, so an iterator
    /// of any length streams through.
    pub(super) fn extend_items(&self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = values.py();
        let bytes_before = self.state.borrow(py)?.inner.nbytes();
        let mut undo = Undo::begin(self, py)?;
        let n = self.state.borrow(py)?.inner.len();
        let dest = Slice::before(undo.len);
        let res = if is_exact_sequence(values)
            && !values
                .try_iter()?
                .any(|v| v.map(|v| self.own_row(&v).is_some()).unwrap_or(false))
        {
            // Plain records are read in place, in one run (the common, fast case), with
            // no reference taken to each (collecting them first would add a pass of
            // cache misses over the records when the references are dropped).
            let first = self.state.borrow(py)?.inner.len();
            let seq = Input::Seq {
                seq: values,
                start: 0,
            };
            let res = self
                .state
                .borrow_mut(py)?
                .push_input(py, &seq, store_ptr(&self.state), dest);
            let n = self.state.borrow(py)?.inner.len();
            res.and_then(|()| {
                self.order
                    .borrow_mut(py)?
                    .order
                    .push_new(n, first, n - first)
                    .py_err(py)
            })
        } else {
            // A generator may look at the list while it grows (as with list.extend), so
            // only materialized inputs are pushed in batches. It runs between them, with
            // no borrow held: what it changes is not this call's to undo.
            let batch_size =
                if values.is_instance_of::<PyList>() || values.is_instance_of::<PyTuple>() {
                    BATCH
                } else {
                    1
                };
            let res = feed_batches(values, batch_size, |batch| {
                undo.note(self, py);
                let res = self
                    .state
                    .borrow_mut(py)
                    .map(|mut s| s.expect_load(n, batch.len()))
                    .and_then(|()| self.push_items(batch));
                undo.stamp(self, py);
                res
            });
            undo.note(self, py);
            res
        };
        match res {
            Ok(()) => {
                self.state
                    .borrow_mut(py)?
                    .finish_bulk(&undo.cp, bytes_before);
                Ok(())
            }
            Err(e) => {
                let cp = undo.cp.clone();
                if undo.undo(self, py)? {
                    self.state.borrow_mut(py)?.finish_bulk(&cp, bytes_before);
                }
                Err(e)
            }
        }
    }

    /// Appends `items` (see [`PyRecords::extend_items`]), without rollback.
    pub(super) fn push_items(&self, items: &[Bound<'_, PyAny>]) -> PyResult<()> {
        let Some(head) = items.first() else {
            return Ok(());
        };
        let py = head.py();
        let dest = Slice::before(self.len(py)?);
        self.store_items(items, dest, |rows| self.push_rows(py, rows))
    }

    /// Store rows for `values` (any iterable of records) going to the list positions
    /// `dest`: a `Row` of this store or the records of a list on it give their own rows
    /// (shared); anything else is converted and appended to the store, which is rolled
    /// back on error (naming the record's position in `dest`). `(rows, shared)`.
    pub(super) fn rows_for(
        &self,
        values: &Bound<'_, PyAny>,
        dest: Slice,
    ) -> PyResult<(Vec<usize>, bool)> {
        let py = values.py();
        if let Ok(o) = values.cast::<PyRecords>() {
            if let Some(rows) = self.rows_of_list(py, o.get())? {
                return Ok(rows.into_parts());
            }
        }
        let items: Vec<Bound<'_, PyAny>> = values.try_iter()?.collect::<PyResult<_>>()?;
        // Rows of this list only (`rows[i] = rows[j]`, as `random.shuffle` does): shared
        // as they are, with nothing to store, check or settle.
        if !items.is_empty() {
            if let Some(slots) = items.iter().map(|v| self.own_row(v)).collect() {
                return Ok((slots, true));
            }
        }
        let (cp, bytes_before) = {
            let store = self.state.borrow(py)?;
            (store.inner.checkpoint(), store.inner.nbytes())
        };
        let mut rows = Vec::with_capacity(items.len());
        let mut shared = false;
        let res = self.store_items(&items, dest, |r| {
            let (more, s) = r.into_parts();
            rows.extend(more);
            shared |= s;
            Ok(())
        });
        self.state
            .borrow_mut(py)?
            .settle(py, res, cp, bytes_before)?;
        Ok((rows, shared))
    }

    /// Puts the records of `values` at the positions of `slice` by order (not in
    /// place): the records those positions held stay as they were for the others who
    /// share them.
    pub(super) fn assign_by_order(&self, slice: Slice, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = values.py();
        self.fix_order(py)?;
        let (rows, shared) = self.rows_for(values, slice)?;
        self.edit_order(py, |o, n| o.assign_slice(n, &slice, &rows, shared))
    }

    /// `rows[pos] = value` (`pos` a valid position).
    pub(super) fn set_one(&self, pos: usize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = value.py();
        if let Some(slot) = self.own_row(value) {
            // A record of this store (`rows[i] = rows[j]`): shared as it is, even where
            // the list could be written in place, where it would be converted again.
            return self.edit_order(py, |o, n| o.assign_slice(n, &Slice::at(pos), &[slot], true));
        }
        if !self.in_place(py)? {
            // Replacing a record others hold leaves theirs as it was, as with a list.
            let one = PyTuple::new(py, [value])?;
            return self.assign_by_order(Slice::at(pos), one.as_any());
        }
        self.write_record(value, pos, |l, cells| l.set_record(pos, cells))
    }

    /// `append` of the usual new record, without collecting its items or matching key
    /// names ([`RecordList::push_fields`]): for a DictList an exact dict whose keys name
    /// its fields in field order (the interned names themselves, as a dict display
    /// gives them, or equal strings); for a TupleList a tuple of its width; in either
    /// case only plain scalars that fit their columns as laid out. `false`, with nothing
    /// changed, for any other record, which `append` then converts the general way.
    pub(super) fn quick_append(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        use crate::plain_records::{dict_cells_by_field, tuple_cells_by_field};
        // No other value can take this path: spare it the mutable borrow, which counts
        // as a write (and so stales the rows a TupleList read ahead).
        if !value.is_exact_instance_of::<PyDict>() && !value.is_instance_of::<PyTuple>() {
            return Ok(false);
        }
        let mut this = self.state.borrow_mut(py)?;
        if this.names.len() != this.inner.num_fields() {
            return Ok(false);
        }
        let this = &mut *this;
        let mut cells = recycle(std::mem::take(&mut this.cell_buf));
        this.seen_keys.resize_with(this.names.len(), || None);
        let read = match &this.kind {
            RecordForm::Dict => value.cast_exact::<PyDict>().is_ok_and(|d| {
                dict_cells_by_field(d, &this.inner, &this.names, &mut this.seen_keys, &mut cells)
            }),
            RecordForm::Tuple { fields, .. } => value
                .cast::<PyTuple>()
                .is_ok_and(|t| tuple_cells_by_field(t, fields.bind(py), &this.names, &mut cells)),
        };
        // The cells borrow the record's values: pushed before any Python code runs.
        let pushed = read && this.inner.push_fields(&cells);
        if pushed {
            let strings = cells.iter().filter(|(_, c)| matches!(c, Cell::Str(_)));
            this.after_fitting_append(strings.map(|(j, _)| *j));
        }
        this.cell_buf = recycle(cells);
        Ok(pushed)
    }

    /// `append` of `value`, a new record (not one of this store's), converted under the
    /// store's mutable borrow, as `extend` converts many: a record's own methods (a
    /// mapping's `items()`, Python code) can neither read nor change the list meanwhile,
    /// so nothing but this call changes it ([`append_few`] counts on that).
    pub(super) fn append_converted(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if !self.quick_append(py, value)? {
            let dest = Slice::before(self.len(py)?);
            let one = Input::Objs(std::slice::from_ref(value));
            let ptr = store_ptr(&self.state);
            self.state.borrow_mut(py)?.push_input(py, &one, ptr, dest)?;
        }
        self.hold_last_record(py)
    }

    /// Puts the store's last record, just pushed by `append`, at the end of the list.
    pub(super) fn hold_last_record(&self, py: Python<'_>) -> PyResult<()> {
        let n = self.state.borrow(py)?.inner.len();
        self.order
            .borrow_mut(py)?
            .order
            .push_new(n, n - 1, 1)
            .py_err(py)
    }

    /// Converts `value` as record `row` and hands its cells to `edit` on the store
    /// (`append`, `insert` and `rows[i] = value` in place).
    pub(super) fn write_record(
        &self,
        value: &Bound<'_, PyAny>,
        row: usize,
        edit: impl FnOnce(&mut RecordList, &[(&str, Cell<'_>)]) -> Result<(), RecordsError>,
    ) -> PyResult<()> {
        let py = value.py();
        let ptr = store_ptr(&self.state);
        let items = {
            // The list may be read, not changed, while the record's own methods (Python
            // code) run: `row` and `edit` were chosen for it as it is. An order fixed or
            // reordered meanwhile (`rows.append(rows[0])` from a mapping's `items()`)
            // no longer matched the store `insert` or `rows[i] = x` then changed in place.
            let _order = self.order.borrow(py)?;
            self.state.borrow(py)?.record_items(value, row, ptr)?
        };
        let mut this = self.state.borrow_mut(py)?;
        let mut buf = Vec::new();
        let cells = record_cells(&items, &mut buf, row)?;
        // The core names the record by its store row, which is `row` only where the list
        // is its store's order.
        edit(&mut this.inner, &cells)
            .map_err(|e| e.at_row(row))
            .py_err(py)?;
        this.after_append(py, 1);
        Ok(())
    }
}

/// Appends a few new records (none of them this store's) as `append` does, without the
/// bulk pass over the whole list that `extend` makes for many; all or none, as
/// `extend`: a record that fails takes the ones before it back out.
pub(super) fn append_few(slf: &Bound<'_, PyRecords>, items: &[Bound<'_, PyAny>]) -> PyResult<()> {
    let py = slf.py();
    let me = slf.get();
    let undo = Undo::begin(me, py)?;
    for item in items {
        if let Err(e) = me.append_converted(py, item) {
            undo.undo(me, py)?;
            return Err(e);
        }
    }
    Ok(())
}

/// How a multi-record append that fails part way is undone, when Python code it runs
/// between its own writes (an iterator, as `list.extend` runs it) may have changed the
/// list, or its store through another list or a `Row`, meanwhile. The call watches the
/// write counts of the store and of the list's order: a write that is not its own is
/// the other code's.
///
/// - Nothing else wrote: the store goes back to its checkpoint and the list to its
///   former length (records, fields and type changes of the call gone: all or none).
/// - Only the store was written (a record changed through a `Row`, records appended
///   to a slice or copy): the checkpoint no longer describes the store (rolling back to
///   it truncated string dictionaries records still used), but the list's positions
///   from its former length on are still this call's: they are removed as `del`
///   removes them, and the other writes stay.
/// - The list itself was changed (a record appended, deleted, moved): its positions no
///   longer tell which records are the call's. They stay, as `list.extend` keeps the
///   items it took before the error, and so do the other code's changes.
pub(super) struct Undo {
    cp: Checkpoint,
    mark: OrderMark,
    /// The list's length before the call.
    len: usize,
    /// The write counts of the store and of the order after the call's last write.
    stamps: (u64, u64),
    store_changed: bool,
    order_changed: bool,
}

impl Undo {
    /// Starts watching a multi-record append to `list`.
    pub(super) fn begin(list: &PyRecords, py: Python<'_>) -> PyResult<Undo> {
        let (cp, n) = {
            let this = list.state.borrow(py)?;
            (this.inner.checkpoint(), this.inner.len())
        };
        let o = list.order.borrow(py)?;
        let (mark, len) = (o.order.mark(n), o.order.len(n));
        drop(o);
        Ok(Undo {
            cp,
            mark,
            len,
            stamps: Undo::stamps_of(list, py),
            store_changed: false,
            order_changed: false,
        })
    }

    fn stamps_of(list: &PyRecords, py: Python<'_>) -> (u64, u64) {
        (list.state.writes(py), list.order.writes(py))
    }

    /// Before the call writes again (and before it is undone): notes what other code
    /// wrote since the call's last write.
    pub(super) fn note(&mut self, list: &PyRecords, py: Python<'_>) {
        let (store, order) = Undo::stamps_of(list, py);
        self.store_changed |= store != self.stamps.0;
        self.order_changed |= order != self.stamps.1;
    }

    /// After the call wrote.
    pub(super) fn stamp(&mut self, list: &PyRecords, py: Python<'_>) {
        self.stamps = Undo::stamps_of(list, py);
    }

    /// Undoes the call after an error (see [`Undo`]); `true` when the store keeps
    /// records the call appended (their load then wants `finish_bulk`, as a whole one).
    ///
    /// # Errors
    /// Only a borrow refused, which cannot happen: no Python code runs meanwhile.
    pub(super) fn undo(self, list: &PyRecords, py: Python<'_>) -> PyResult<bool> {
        if self.order_changed {
            return Ok(true);
        }
        if self.store_changed {
            let ours = list.len(py)?.saturating_sub(self.len);
            let ours = Slice {
                len: ours,
                ..Slice::before(self.len)
            };
            list.remove_slice(py, &ours)?;
            return Ok(true);
        }
        let mut this = list.state.borrow_mut(py)?;
        this.inner.rollback(self.cp);
        this.sync_names(py);
        let n = this.inner.len();
        drop(this);
        list.order_mut(py)?.order.restore(n, self.mark);
        Ok(false)
    }
}

/// Records `extend` appends one by one: an exact list or tuple of at most this many.
const FEW: usize = 8;

/// The items of `value` if it is an exact list or tuple of at most [`FEW`].
pub(super) fn few_items<'py>(value: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(l) = value.cast_exact::<PyList>() {
        return (l.len() <= FEW).then(|| l.iter().collect());
    }
    let t = value.cast_exact::<PyTuple>().ok()?;
    (t.len() <= FEW).then(|| t.iter().collect())
}

/// The one item of a list or tuple of length one (`None` for anything else, whose
/// items only iterating it would show).
pub(super) fn single_item<'py>(value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    if let Ok(l) = value.cast_exact::<PyList>() {
        return (l.len() == 1).then(|| l.get_item(0).ok()).flatten();
    }
    let t = value.cast_exact::<PyTuple>().ok()?;
    (t.len() == 1).then(|| t.get_item(0).ok()).flatten()
}
