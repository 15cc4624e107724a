//! The ingest engine of a store: Python records (mappings, sequences, `Row`s and rows of
//! other lists) turned into cells and pushed into its core list, in batches.

use super::*;

impl Records {
    /// The `(key, value)` pairs of an incoming record.
    pub(super) fn record_items<'py>(
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
    pub(super) fn record_items_into<'py>(
        &self,
        v: &Bound<'py, PyAny>,
        row: usize,
        self_ptr: usize,
        out: &mut Items<'py>,
    ) -> PyResult<()> {
        let py = v.py();
        match &self.kind {
            RecordForm::Dict => {
                if let Ok(d) = v.cast_exact::<PyDict>() {
                    out.extend(d.iter());
                    return Ok(());
                }
                if let Ok(r) = v.cast::<PyRow>() {
                    let r = r.get();
                    if r.store().is_some_and(|s| store_ptr(s) == self_ptr) {
                        // A view into this very store: read it directly (no re-borrow).
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
            RecordForm::Tuple { fields, .. } => {
                let fields = fields.bind(py);
                let seq: Bound<'py, PyTuple> = if let Ok(t) = v.cast::<PyTuple>() {
                    t.clone()
                } else if let Ok(l) = v.cast_exact::<PyList>() {
                    l.to_tuple()
                } else if v.is_instance_of::<PyString>()
                    || v.is_instance_of::<PyBytes>()
                    || v.is_instance_of::<PyDict>()
                    // A mapping (a DictList's Row, a DocView) iterates its keys: never
                    // a record's values.
                    || v.cast::<pyo3::types::PyMapping>().is_ok()
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
                    return Err(Class::InvalidValue.err(
                        py,
                        format!(
                            "row {row}: expected {} values for fields {}, got {}",
                            fields.len(),
                            fields.repr()?,
                            seq.len()
                        ),
                    ));
                }
                out.extend(fields.iter().zip(seq.iter()));
                Ok(())
            }
        }
    }

    /// Converts and appends records, column by column in the core: a run of plain
    /// records is read in place, in one go however long (so the run's storing overlaps
    /// its reading, [`RecordList::push_grids`]); `Row`s of another DictList are copied
    /// cell to cell; the others go the general way, a batch at a time.
    ///
    /// `dest`: the positions the records take in the list the user sees (record `k` at
    /// `dest.nth(k)`), which an error about one of them names, not the store row it
    /// was going to (the two differ for a list that shares its store, or a staging one).
    pub(super) fn push_input(
        &mut self,
        py: Python<'_>,
        input: &Input<'_, '_>,
        self_ptr: usize,
        dest: Slice,
    ) -> PyResult<()> {
        let fields = self.tuple_fields(py)?;
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let base = self.inner.len();
        let named = |e: RecordsError| e.map_row(|r| dest.nth(r.saturating_sub(base)));
        let mut start = 0;
        // The general path may run Python code that changes a sequence's length.
        while start < input.len() {
            let n = self
                .append_plain(&input.from(start), &fields)
                .map_err(named)
                .py_err(py)?;
            self.after_append(py, n);
            start += n;
            if n == 0 {
                let batch = input.objects(start, BATCH)?;
                let mut m = 0;
                if matches!(self.kind, RecordForm::Dict) {
                    m = self.append_rows_of_other(&batch, self_ptr, named)?;
                }
                if m == 0 {
                    // Not a plain record of scalars: this batch goes the general way.
                    self.push_general(&batch, self_ptr, dest.skip(start))?;
                    m = batch.len();
                }
                self.after_append(py, m);
                start += m;
            }
        }
        Ok(())
    }

    /// A TupleList's field names (none for a DictList), for the plain-record paths.
    pub(super) fn tuple_fields(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        match &self.kind {
            RecordForm::Dict => Ok(Vec::new()),
            RecordForm::Tuple { fields, .. } => fields.bind(py).extract(),
        }
    }

    /// The leading plain records of `input` ([`append_plain_dicts`], or tuples of the
    /// list's `fields` through [`RecordList::append_positional`]).
    pub(super) fn append_plain(
        &mut self,
        input: &Input<'_, '_>,
        fields: &[&str],
    ) -> Result<usize, RecordsError> {
        match self.kind {
            RecordForm::Dict => append_plain_dicts(&mut self.inner, &self.names, input),
            RecordForm::Tuple { .. } => self.inner.append_positional(fields, input),
        }
    }

    /// Appends the leading `objs` that are `Row` views of one other DictList (as
    /// `DictList(r for r in rows if ...)` gives), cell to cell, with no Python object
    /// made per value. Returns how many were appended: 0 if `objs[0]` is not such a view,
    /// or if a field it needs cannot be added (the general path then reports it).
    /// `named` renames the row of an error, as [`Records::push_input`] names them.
    pub(super) fn append_rows_of_other(
        &mut self,
        objs: &[Bound<'_, PyAny>],
        self_ptr: usize,
        named: impl FnOnce(RecordsError) -> RecordsError,
    ) -> PyResult<usize> {
        let Some(head) = objs.first() else {
            return Ok(0);
        };
        let py = head.py();
        let Some(first) = head.cast::<PyRow>().ok().and_then(|r| r.get().store()) else {
            return Ok(0);
        };
        let src_ptr = store_ptr(first);
        if src_ptr == self_ptr {
            return Ok(0); // rows of this very store: the general path reads them in place
        }
        // The leading views of that same list.
        let rows: Vec<&PyRow> = objs
            .iter()
            .map_while(|o| o.cast::<PyRow>().ok().map(|r| r.get()))
            .take_while(|r| r.store().is_some_and(|s| store_ptr(s) == src_ptr))
            .collect();
        let src = first.borrow(py)?;
        // The source fields these rows use, mapped to ours (added if new).
        let rows: Vec<usize> = rows.iter().map(|r| r.row()).collect();
        if !self
            .inner
            .push_rows_of(&src.inner, &rows)
            .map_err(named)
            .py_err(py)?
        {
            return Ok(0);
        }
        Ok(rows.len())
    }

    /// [`Records::push_input`] for any records (each one's items collected first); an
    /// error about record `k` names position `dest.nth(k)`.
    pub(super) fn push_general(
        &mut self,
        objs: &[Bound<'_, PyAny>],
        self_ptr: usize,
        dest: Slice,
    ) -> PyResult<()> {
        let Some(first) = objs.first() else {
            return Ok(());
        };
        let py = first.py();
        let base = self.inner.len();
        let mut items: Items<'_> = Vec::with_capacity(objs.len() * 8);
        let mut bounds = Vec::with_capacity(objs.len());
        for (k, o) in objs.iter().enumerate() {
            let a = items.len();
            self.record_items_into(o, dest.nth(k), self_ptr, &mut items)?;
            bounds.push((a, items.len()));
        }
        let mut buf = Vec::new();
        let cells = batch_cells(&items, &bounds, &mut buf, |k| dest.nth(k))?;
        let records: Vec<&[(&str, Cell<'_>)]> = bounds.iter().map(|&(a, b)| &cells[a..b]).collect();
        self.inner
            .push_batch(&records)
            .map_err(|e| e.map_row(|r| dest.nth(r.saturating_sub(base))))
            .py_err(py)
    }

    /// Appends every record of `it` (atomic: all or nothing); an error names the
    /// position `dest` gives the record ([`Records::push_input`]).
    pub(super) fn extend_from_iter(
        &mut self,
        it: &Bound<'_, PyAny>,
        self_ptr: usize,
        dest: Slice,
    ) -> PyResult<()> {
        let cp = self.inner.checkpoint();
        let bytes_before = self.inner.nbytes();
        let py = it.py();
        let res = if is_exact_sequence(it) {
            self.push_input(py, &Input::Seq { seq: it, start: 0 }, self_ptr, dest)
        } else {
            let start = self.inner.len();
            feed_batches(it, BATCH, |batch| {
                self.expect_load(start, batch.len());
                let done = self.inner.len().saturating_sub(start);
                self.push_input(py, &Input::Objs(batch), self_ptr, dest.skip(done))
            })
        };
        self.settle(py, res, cp, bytes_before)
    }

    /// Before a batch of `batch` records from an iterator whose load began at length
    /// `start`: its length is unknown, so as many records again as it gave so far are
    /// announced (see [`RecordList::expect_rows`]).
    pub(super) fn expect_load(&mut self, start: usize, batch: usize) {
        let so_far = self.inner.len().saturating_sub(start);
        self.inner.expect_rows(so_far.max(batch));
    }

    /// Ends a multi-record append: on error, back to `cp`; on success, `finish_bulk`.
    pub(super) fn settle(
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
        self.finish_bulk(&cp, bytes_before);
        Ok(())
    }

    /// After a bulk load that began at `cp`: re-choose encodings, trim spare capacity
    /// (in proportion to the load), and return the heap holes that growth left behind to
    /// the OS.
    pub(super) fn finish_bulk(&mut self, cp: &Checkpoint, bytes_before: usize) {
        self.inner.optimize_since(cp);
        // It may have rebuilt a dictionary (`RecordList::compact_dictionaries`): the
        // cached strings of the old one's positions go.
        for j in 0..self.strings.len() {
            self.sync_strings(j);
        }
        self.retrack();
        if self.inner.nbytes().saturating_sub(bytes_before) >= TRIM_AFTER_BYTES {
            release_free_memory();
        }
    }

    /// A new core list holding the records of `values` (validated like appends), which
    /// are going to the positions `dest` (an error names them).
    pub(super) fn staged(&self, values: &Bound<'_, PyAny>, dest: Slice) -> PyResult<RecordList> {
        let py = values.py();
        if let Ok(o) = values.cast::<PyRecords>() {
            if let Some(src) = self.records_of(py, &*o.get().logical(py)?)? {
                return Ok(src);
            }
        }
        let mut tmp = self.with_inner(py, self.inner.empty_like());
        // Views into this list are read through their own (shared) borrow: no self
        // pointer, because `tmp` is not the list they belong to.
        tmp.extend_from_iter(values, 0, dest)?;
        Ok(std::mem::take(&mut tmp.inner))
    }

    /// The records of `other`, a list of this class, as this list takes them in (`None`
    /// for a list of the other class, whose records go item by item): a DictList's as
    /// they are, matched by key; a TupleList's by position, as tuples are, their fields
    /// renamed to this list's (a TupleList of another width is refused, as a tuple of
    /// another length is).
    pub(super) fn records_of(
        &self,
        py: Python<'_>,
        other: &Records,
    ) -> PyResult<Option<RecordList>> {
        self.arranged(py, other, self.positions_of(py, other)?)
    }

    /// [`Records::records_of`], the positions already known.
    pub(super) fn arranged(
        &self,
        py: Python<'_>,
        other: &Records,
        positions: Positions,
    ) -> PyResult<Option<RecordList>> {
        Ok(match positions {
            Positions::OtherClass => None,
            Positions::Same => Some(other.inner.clone()),
            Positions::Renamed(names) => {
                let mut src = other.inner.clone();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                src.rename_fields(&names).py_err(py)?;
                Some(src)
            }
            Positions::Width(theirs) => {
                let RecordForm::Tuple { fields, .. } = &self.kind else {
                    return Ok(None);
                };
                return Err(Class::InvalidValue.err(
                    py,
                    format!(
                        "expected {} values for fields {}, got a TupleList of {theirs}",
                        fields.bind(py).len(),
                        fields.bind(py).repr()?
                    ),
                ));
            }
        })
    }

    /// How the records of `other` line up with this list's fields (see
    /// [`Records::records_of`]).
    pub(super) fn positions_of(&self, py: Python<'_>, other: &Records) -> PyResult<Positions> {
        if other.what() != self.what() {
            return Ok(Positions::OtherClass);
        }
        let (RecordForm::Tuple { fields: ours, .. }, RecordForm::Tuple { fields: theirs, .. }) =
            (&self.kind, &other.kind)
        else {
            return Ok(Positions::Same);
        };
        let (ours, theirs) = (ours.bind(py), theirs.bind(py));
        if ours.len() != theirs.len() {
            return Ok(Positions::Width(theirs.len()));
        }
        if ours.eq(theirs)? {
            return Ok(Positions::Same);
        }
        // Field `j` of the other store is at position `p` of its tuples: it becomes this
        // list's field at `p`.
        let mut names = Vec::with_capacity(other.inner.num_fields());
        for j in 0..other.inner.num_fields() {
            let name = other.inner.field_name(j);
            let p = theirs
                .iter()
                .position(|f| f.extract::<&str>().is_ok_and(|f| f == name))
                .ok_or_else(|| PyKeyError::new_err(name.to_owned()))?;
            names.push(ours.get_item(p)?.extract::<String>()?);
        }
        Ok(Positions::Renamed(names))
    }
}

/// An exact `list` or `tuple`, whose items [`Records::push_input`] reads in place.
pub(crate) fn is_exact_sequence(v: &Bound<'_, PyAny>) -> bool {
    v.is_exact_instance_of::<PyList>() || v.is_exact_instance_of::<PyTuple>()
}

/// Takes the items of `values` in batches of `size` and hands each batch to `push`.
/// No borrow of any list is held while the iterator runs (it may be user code).
pub(super) fn feed_batches<'py>(
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

/// How another list's records line up with a list's fields ([`Records::positions_of`]).
pub(super) enum Positions {
    /// A list of the other class.
    OtherClass,
    /// Field for field (DictLists, or TupleLists of the same fields).
    Same,
    /// TupleLists of as many fields under other names: these names, one per field of
    /// the other store, are this list's fields at the same positions.
    Renamed(Vec<String>),
    /// TupleLists of another width (the other's).
    Width(usize),
}
