//! The store behind a list: its core `RecordList`, field names and string caches, and
//! the ingest engine that turns Python records into cells.

use super::*;

/// The state behind a `_Records` object.
pub(crate) struct Records {
    pub(super) inner: RecordList,
    pub(super) kind: RecordForm,
    /// Field names as Python strings (interned), index-aligned with the core fields.
    pub(super) names: Vec<Py<PyString>>,
    /// `names` as one tuple, made on first use: the keys of every record that has each
    /// field in field order ([`RecordList::has_every_field`]), shared by `iter(row)`.
    names_tuple: OnceLock<Py<PyTuple>>,
    /// Per field, the first key object other than its name that `append` found naming
    /// it (see [`crate::plain_records::dict_cells_by_field`]).
    pub(super) seen_keys: Vec<Option<Py<PyString>>>,
    pub(super) trace: Tracked,
    pub(super) appends: u32,
    /// Per field: Python strings for the values of a small dictionary, made on first read.
    pub(super) strings: Vec<StrCache>,
    /// The TupleList rows `rows[i]` made last (see [`Lent`]).
    lent: GilCell<Lent>,
    /// The allocation `append` lists a record's cells in, kept from one call to the
    /// next (empty between calls; see [`recycle`]).
    pub(super) cell_buf: Vec<(usize, Cell<'static>)>,
}

/// An empty vector on `v`'s allocation, for cells of another lifetime: the standard
/// library collects a vector's `into_iter()` into a vector of a type of the same size
/// and alignment in place. (Were it ever to stop, this would allocate, nothing worse.)
pub(super) fn recycle<'b>(mut v: Vec<(usize, Cell<'_>)>) -> Vec<(usize, Cell<'b>)> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector was cleared"))
        .collect()
}

/// How many TupleList rows a store remembers having handed out.
const LENT_ROWS: usize = 4;

/// The TupleList rows `rows[i]` made last, each with the store row it was made from and
/// the store's write count then (`GilCell::writes` of the list's state). Two uses:
/// - a row nothing else holds any more is refilled by the next `rows[i]` (`rows[k][j]`
///   in a loop then allocates no row);
/// - a row still held and assigned back to a list on this store (`rows[i], rows[j] =
///   rows[j], rows[i]`, as `random.shuffle` does) is the record at its store row, if the
///   store has not been written since: the list shares that row, as it does a
///   DictList's `Row`, instead of converting the tuple again.
///
/// Only rows of plain scalars are kept: a row holding a container or an object could
/// keep a cycle or a finalizer alive past the user's last reference.
#[derive(Default)]
pub(super) struct Lent {
    rows: [Option<LentRow>; LENT_ROWS],
    /// Where the next row goes: the slot [`Lent::take_free`] emptied, else each in turn.
    next: usize,
}

struct LentRow {
    row: Py<PyAny>,
    /// The store row it holds and the store's write count when it was made; `None` for
    /// a row made for a caller that does not hand it to the user as `rows[i]`.
    from: Option<(usize, u64)>,
}

impl Lent {
    /// A kept row nothing else refers to, taken out to be refilled.
    fn take_free(&mut self, py: Python<'_>) -> Option<Py<PyAny>> {
        let k = self
            .rows
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| is_sole_reference(&e.row, py)))?;
        self.next = k;
        self.rows[k].take().map(|e| e.row)
    }

    /// Keeps `row` at `next`, in place of the row there.
    fn keep(&mut self, row: Py<PyAny>, from: Option<(usize, u64)>) {
        let k = self.next;
        self.next = (k + 1) % LENT_ROWS;
        self.rows[k] = Some(LentRow { row, from });
    }

    /// The store row `v` was made from, if it is a kept row and the store's write count
    /// is still `writes`.
    fn slot_of(&self, v: &Bound<'_, PyAny>, writes: u64) -> Option<usize> {
        let p = v.as_ptr();
        self.rows.iter().flatten().find_map(|e| match e.from {
            Some((slot, w)) if w == writes && e.row.as_ptr() == p => Some(slot),
            _ => None,
        })
    }
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
pub(super) const STR_CACHE_MAX: usize = 1 << 16;

/// Python strings for one field's dictionary, valid while `dict_id` is unchanged and the
/// dictionary does not shrink.
#[derive(Default)]
pub(super) struct StrCache {
    pub(super) dict_id: usize,
    pub(super) values: Vec<OnceLock<Py<PyString>>>,
}

impl Records {
    pub(super) fn build(
        py: Python<'_>,
        kind: RecordForm,
        schema: Option<&Bound<'_, PyAny>>,
        chunk_rows: Option<usize>,
        fields: Option<&[String]>,
    ) -> PyResult<Self> {
        // (At least 1: `chunk_rows=` is read by `size::chunk_rows`.)
        let chunk_rows = chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS);
        let decl = schema.map(parse_schema).transpose()?;
        let decl: Option<Vec<(&str, DType)>> = decl
            .as_ref()
            .map(|d| d.iter().map(|(n, t)| (n.as_str(), *t)).collect());
        let fields: Option<Vec<&str>> = fields.map(|f| f.iter().map(String::as_str).collect());
        let inner =
            RecordList::with_schema_and_fields(decl.as_deref(), fields.as_deref(), chunk_rows)
                .py_err(py)?;
        Ok(Records::new(py, kind, inner))
    }

    /// The `Records` of `kind` around a core list, its field names interned.
    fn new(py: Python<'_>, kind: RecordForm, inner: RecordList) -> Records {
        let mut r = Records {
            inner,
            kind,
            names: Vec::new(),
            names_tuple: OnceLock::new(),
            seen_keys: Vec::new(),
            trace: Tracked::new(),
            appends: 0,
            strings: Vec::new(),
            lent: GilCell::new(Lent::default()),
            cell_buf: Vec::new(),
        };
        r.sync_names(py);
        r
    }

    /// A new Python list object of `kind` around an existing core list.
    pub(super) fn wrap(py: Python<'_>, kind: RecordForm, inner: RecordList) -> PyResult<Py<PyAny>> {
        let mut base = Records::new(py, kind, inner);
        base.retrack();
        base.into_object(py)
    }

    /// A temporary `Records` over `inner` (a selection of this store's rows) for reading:
    /// not registered with tracemalloc, it owns no buffer of its own until written. Its
    /// names are this store's (interned strings are one object each).
    pub(super) fn selection(&self, py: Python<'_>, inner: RecordList) -> Records {
        Records::new(py, self.kind.clone_ref(py), inner)
    }

    /// A new list's `Records` over `inner` (derived from this store's records: same
    /// fields), registered with tracemalloc.
    pub(super) fn with_inner(&self, py: Python<'_>, inner: RecordList) -> Records {
        let mut r = self.selection(py, inner);
        r.retrack();
        r
    }

    /// Wraps as a new Python object of the same class.
    pub(super) fn into_object(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let tuple = matches!(self.kind, RecordForm::Tuple { .. });
        let init = PyClassInitializer::from(PyRecords::from_records(self));
        Ok(if tuple {
            Py::new(py, init.add_subclass(PyTupleList))?.into_any()
        } else {
            Py::new(py, init.add_subclass(PyDictList))?.into_any()
        })
    }

    pub(super) fn sync_names(&mut self, py: Python<'_>) {
        let n = self.inner.num_fields();
        if self.names.len() != n {
            self.names_tuple = OnceLock::new();
            self.seen_keys.clear();
        }
        self.names.truncate(n);
        while self.names.len() < n {
            let name = self.inner.field_name(self.names.len());
            self.names.push(PyString::intern(py, name).unbind());
        }
        self.strings.resize_with(n, StrCache::default);
        for j in 0..n {
            self.sync_strings(j);
        }
    }

    /// Brings field `j`'s string cache in line with its dictionary.
    fn sync_strings(&mut self, j: usize) {
        let cache = &mut self.strings[j];
        match self.inner.dictionary_state(j) {
            Some((id, len)) if len <= STR_CACHE_MAX => {
                if id != cache.dict_id || len < cache.values.len() {
                    // Replaced, copied or rolled back: positions may mean other strings.
                    cache.values.clear();
                    cache.dict_id = id;
                }
                cache.values.resize_with(len, OnceLock::new);
            }
            _ if cache.dict_id != 0 || !cache.values.is_empty() => {
                cache.values = Vec::new();
                cache.dict_id = 0;
            }
            _ => {}
        }
    }

    /// After a write to field `j` of one record: what [`Records::after_append`] does, but
    /// only that field's strings are looked at when the write added no field (a write
    /// changes no other column).
    pub(super) fn after_field_write(&mut self, py: Python<'_>, j: Option<usize>) {
        match j {
            Some(j) if self.names.len() == self.inner.num_fields() => {
                self.sync_strings(j);
                self.count_appends(1);
            }
            _ => self.after_append(py, 1),
        }
    }

    #[inline(always)]
    pub(super) fn cell_value<'py>(
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

    pub(super) fn retrack(&mut self) {
        self.appends = 0;
        self.trace.set(self.inner.nbytes());
    }

    pub(super) fn after_append(&mut self, py: Python<'_>, records: usize) {
        self.sync_names(py);
        self.count_appends(records);
    }

    /// [`Records::after_append`] after one record pushed as its fields were laid out
    /// (`RecordList::push_fields`: no new field, no new layout): only the fields given
    /// a string (`strings`) can have grown, or copied, their dictionary.
    pub(super) fn after_fitting_append(&mut self, strings: impl Iterator<Item = usize>) {
        debug_assert_eq!(self.names.len(), self.inner.num_fields());
        for j in strings {
            self.sync_strings(j);
        }
        self.count_appends(1);
    }

    /// Counts `records` more writes, refreshing the tracemalloc figure every
    /// [`RETRACK_EVERY`].
    fn count_appends(&mut self, records: usize) {
        self.appends = self.appends.saturating_add(records as u32);
        if self.appends >= RETRACK_EVERY {
            self.retrack();
        }
    }

    /// Field index of a key object: pointer match against our interned names first (a
    /// string literal in the caller's code is the interned name itself), inlined into
    /// `row[key]`; any other key goes by its text.
    #[inline]
    pub(super) fn col_of(&self, key: &Bound<'_, PyAny>) -> Option<usize> {
        let p = key.as_ptr();
        match self.names.iter().position(|n| n.as_ptr() == p) {
            Some(j) => Some(j),
            None => self.col_of_text(key),
        }
    }

    #[inline(never)]
    fn col_of_text(&self, key: &Bound<'_, PyAny>) -> Option<usize> {
        let s = key.cast::<PyString>().ok()?;
        self.inner.field_index(s.to_str().ok()?)
    }

    pub(super) fn what(&self) -> &'static str {
        self.kind.class_name()
    }

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

    /// The keys of store row `i` as a tuple shared with every record like it, when it
    /// has each field in field order; `None` for any other record, or if the tuple
    /// cannot be made (the error is dropped: the caller lists the keys instead).
    pub(super) fn every_key<'py>(&self, py: Python<'py>, i: usize) -> Option<&Bound<'py, PyTuple>> {
        if self.names.len() != self.inner.num_fields() || !self.inner.has_every_field(i) {
            return None;
        }
        if self.names_tuple.get().is_none() {
            let t = PyTuple::new(py, &self.names).ok()?;
            let _ = self.names_tuple.set(t.unbind());
        }
        self.names_tuple.get().map(|t| t.bind(py))
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

    /// Field values of record `i` in field order (absent as `None`).
    pub(super) fn field_values<'py>(
        &self,
        py: Python<'py>,
        i: usize,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
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

    /// The records at store rows `slots` as rows made by `maker` (instances of `cls`, the
    /// class it was made for), in order: each value is put straight into its row from
    /// the column's typed loop ([`RecordList::fill_block`]). A row of `spares` that
    /// nothing else refers to is refilled instead of a new one allocated.
    ///
    /// If a value cannot be made, the rows before its row come back with the error;
    /// the rest are dropped, never handed out.
    pub(super) fn fill_rows<'py>(
        &self,
        py: Python<'py>,
        maker: TupleMaker,
        cls: &Bound<'py, PyAny>,
        slots: &[usize],
        mut spares: impl Iterator<Item = Py<PyAny>>,
    ) -> (Vec<Bound<'py, PyAny>>, Option<PyErr>) {
        let nf = self.inner.num_fields();
        let mut rows = Vec::with_capacity(slots.len());
        for _ in slots {
            match maker.blank(cls, nf, spares.next()) {
                Ok(r) => rows.push(r),
                Err(e) => return (Vec::new(), Some(e)),
            }
        }
        let (upto, bad, _) = self.fill_blanks(py, maker, slots, &rows);
        rows.truncate(upto);
        (rows, bad)
    }

    /// Record `i` as a row made by `maker` (an instance of `cls`): a kept row ([`Lent`])
    /// nothing else holds, refilled, else a new one. Kept if it holds plain scalars,
    /// with `from` (its store row and the store's write count) when it goes to the user
    /// as `rows[i]`.
    fn tuple_row<'py>(
        &self,
        py: Python<'py>,
        maker: TupleMaker,
        cls: &Bound<'py, PyAny>,
        i: usize,
        writes: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Not borrowed while the row is filled: a value's conversion may run Python code
        // that reads this list (it then makes a row of its own).
        let spare = match self.lent.borrow_mut(py) {
            Ok(mut l) if maker.reusable() => l.take_free(py),
            _ => None,
        };
        let row = maker.blank(cls, self.inner.num_fields(), spare)?;
        let rows = std::slice::from_ref(&row);
        let (_, bad, scalars) = self.fill_blanks(py, maker, &[i], rows);
        if let Some(e) = bad {
            return Err(e);
        }
        if maker.reusable() && scalars {
            if let Ok(mut l) = self.lent.borrow_mut(py) {
                l.keep(row.clone().unbind(), writes.map(|w| (i, w)));
            }
        }
        Ok(row)
    }

    /// Store row `i` as the TupleList row `rows[i]` hands out, remembered with `writes`
    /// (the store's write count now) so that assigning it back shares the row
    /// ([`Records::lent_slot`]); for any other list, [`Records::row_value`].
    pub(super) fn lend_row<'py>(
        &self,
        py: Python<'py>,
        i: usize,
        writes: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let RecordForm::Tuple {
            row_type,
            maker: Some(maker),
            ..
        } = &self.kind
        {
            return self.tuple_row(py, *maker, row_type.bind(py), i, Some(writes));
        }
        self.row_value(py, i)
    }

    /// The store row a TupleList row `v` was made from by [`Records::lend_row`], if the
    /// store's write count is still `writes` (the row still holds that record).
    pub(super) fn lent_slot(&self, v: &Bound<'_, PyAny>, writes: u64) -> Option<usize> {
        self.lent.borrow(v.py()).ok()?.slot_of(v, writes)
    }

    /// Fills `rows` (blanks from [`TupleMaker::blank`]) with the records at store rows
    /// `slots`, and settles them: how many were filled, why the next one was not, and
    /// whether every value is a plain scalar (`int`, `float`, `str`, `bytes`, `bool`,
    /// `None`).
    fn fill_blanks(
        &self,
        py: Python<'_>,
        maker: TupleMaker,
        slots: &[usize],
        rows: &[Bound<'_, PyAny>],
    ) -> (usize, Option<PyErr>, bool) {
        let mut fill = RowFill {
            py,
            this: self,
            rows,
            j: 0,
            upto: slots.len(),
            bad: None,
            scalars: true,
        };
        self.inner.fill_block(slots, &mut fill);
        let (upto, bad, scalars) = (fill.upto, fill.bad, fill.scalars);
        for r in &rows[..upto] {
            maker.settle(r, scalars);
        }
        (upto, bad, scalars)
    }

    /// Record `i` as a plain detached Python value (dict or tuple).
    pub(super) fn row_value<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        match &self.kind {
            // Fresh `str` and `int` objects (not the shared ones `plain_dict` reuses): a detached
            // record shares nothing with the list, as `deep_sizeof` measures it.
            RecordForm::Dict => self.dict_of(py, i, false),
            RecordForm::Tuple {
                row_type, maker, ..
            } => {
                let cls = row_type.bind(py);
                if let Some(maker) = maker {
                    return self.tuple_row(py, *maker, cls, i, None);
                }
                let vals = self.field_values(py, i)?;
                // Not a tuple subclass (no maker): what namedtuple's own `_make` does,
                // `tuple.__new__(cls, values)`, which reports the problem.
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

    /// Calls `on_match(p)` for each position `p` in `positions` (of a list holding
    /// store rows `order`) whose record equals `value` as a list compares its items,
    /// `x is y or x == y`, until it returns false. `same` is the store row `value` is
    /// (see [`record_of`]): found without a look. The others compare by value: `value`
    /// is converted once, a value that is not a record of this kind equals none, and
    /// when the core cannot decide (host objects, a value or row class with an `__eq__`
    /// of its own) Python compares the record with `value`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        positions: std::ops::Range<usize>,
        order: &Order,
        self_ptr: usize,
        same: Option<usize>,
        on_match: impl FnMut(usize) -> bool,
    ) -> PyResult<()> {
        // A value with its own `__eq__`, or rows of a class with one: as a list does,
        // `record == value`, where Python falls back to the value's reflected `__eq__`,
        // whose answer (or exception) is the user's. Otherwise a value that is not a
        // record of this kind equals none.
        let mut buf = Vec::new();
        let items;
        let cells = if has_own_eq(value)? || self.rows_have_own_eq(py)? {
            None
        } else if matches!(self.kind, RecordForm::Tuple { .. })
            && !value.is_instance_of::<PyTuple>()
        {
            // A tuple equals no list or other sequence, though a TupleList takes any
            // sequence as a record when one is stored.
            return self.find_itself(order, positions, same, on_match);
        } else {
            match self.record_items(value, positions.start, self_ptr) {
                Ok(got) => {
                    items = got;
                    record_cells(&items, &mut buf, positions.start).ok()
                }
                Err(_) => return self.find_itself(order, positions, same, on_match),
            }
        };
        let undecided = |row| self.row_value(py, row)?.eq(value);
        self.inner.find_equal(
            order,
            positions,
            same,
            cells.as_deref(),
            undecided,
            on_match,
        )
    }

    /// [`Records::scan`] for a value equal to no record: only the record it is (if any)
    /// matches.
    fn find_itself(
        &self,
        order: &Order,
        positions: std::ops::Range<usize>,
        same: Option<usize>,
        on_match: impl FnMut(usize) -> bool,
    ) -> PyResult<()> {
        if same.is_none() {
            return Ok(());
        }
        let never = |_| PyResult::Ok(false);
        self.inner
            .find_equal(order, positions, same, None, never, on_match)
    }

    /// Whether store row `i` equals `value` as a list compares items (`same`: the store
    /// row `value` is, see [`Records::scan`]).
    pub(super) fn row_equals(
        &self,
        py: Python<'_>,
        i: usize,
        value: &Bound<'_, PyAny>,
        self_ptr: usize,
        same: Option<usize>,
    ) -> PyResult<bool> {
        let mut equal = false;
        self.scan(py, value, i..i + 1, &Order::Whole, self_ptr, same, |_| {
            equal = true;
            false
        })?;
        Ok(equal)
    }

    /// The first position in `[start, stop)` whose record equals `value` (see
    /// [`Records::scan`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn find(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: usize,
        stop: usize,
        order: &Order,
        self_ptr: usize,
        same: Option<usize>,
    ) -> PyResult<Option<usize>> {
        let mut found = None;
        self.scan(py, value, start..stop, order, self_ptr, same, |p| {
            found = Some(p);
            false
        })?;
        Ok(found)
    }

    /// Whether this list's rows are of a class with an `__eq__` of its own (a
    /// namedtuple subclass that defines one): then only Python can compare them, as a
    /// list of such rows compares with that `__eq__`.
    pub(super) fn rows_have_own_eq(&self, py: Python<'_>) -> PyResult<bool> {
        match &self.kind {
            RecordForm::Dict => Ok(false),
            RecordForm::Tuple { row_type, .. } => type_has_own_eq(row_type.bind(py)),
        }
    }
}

/// The store row `v` is, for a list on `store`: a `Row` view of one of its records, or
/// a TupleList row `rows[i]` handed out (remembered, see docs/tuple-rows.md) whose
/// record nothing has written since. What a list of dicts or tuples tells by `x is y`.
pub(super) fn record_of(store: &Store, v: &Bound<'_, PyAny>) -> Option<usize> {
    if let Ok(r) = v.cast::<PyRow>() {
        return r
            .get()
            .store()
            .filter(|s| Arc::ptr_eq(s, store))
            .map(|_| r.get().row());
    }
    // Only a tuple can be a TupleList row (a dict goes no further).
    if !v.is_instance_of::<PyTuple>() {
        return None;
    }
    let py = v.py();
    store.borrow(py).ok()?.lent_slot(v, store.writes(py))
}

pub(super) static OBJECT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
pub(super) static DICT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
pub(super) static TUPLE_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether comparing a record with `value` may run `value`'s own `__eq__` (a class of
/// the user's, a dict or tuple subclass that overrides it), so that only Python can
/// give the answer a list would. Built-in values and this module's rows never do.
pub(super) fn has_own_eq(value: &Bound<'_, PyAny>) -> PyResult<bool> {
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
    type_has_own_eq(value.get_type().as_any())
}

/// Whether instances of `cls` compare with an `__eq__` other than `object`'s, `dict`'s
/// or `tuple`'s.
pub(super) fn type_has_own_eq(cls: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = cls.py();
    let slot = |cell: &'static PyOnceLock<Py<PyAny>>, name: &str| {
        cell.get_or_try_init(py, || {
            py.import("builtins")?
                .getattr(name)?
                .getattr("__eq__")
                .map(Bound::unbind)
        })
        .map(|f| f.bind(py).clone())
    };
    let eq = cls.getattr(intern!(py, "__eq__"))?;
    Ok(!(eq.is(slot(&OBJECT_EQ, "object")?)
        || eq.is(slot(&DICT_EQ, "dict")?)
        || eq.is(slot(&TUPLE_EQ, "tuple")?)))
}

/// Takes the items of `values` in batches of `size` and hands each batch to `push`.
/// No borrow of any list is held while the iterator runs (it may be user code).
/// An exact `list` or `tuple`, whose items [`Records::push_input`] reads in place.
pub(crate) fn is_exact_sequence(v: &Bound<'_, PyAny>) -> bool {
    v.is_exact_instance_of::<PyList>() || v.is_exact_instance_of::<PyTuple>()
}

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

// ----- jsonout: plain copies, JSON access and list/dict operators -------------------------
// Kept in one block (with one-line pymethods above delegating here) so that merges with
// other work on this file stay simple.

/// Records turned into plain objects per `iter_dicts` / `iter_tuples` refill.
pub(super) const PLAIN_BATCH: usize = 256;

impl Records {
    /// A snapshot sharing this list's storage (copy-on-write) and its interned names,
    /// for iterators that must not see later changes. Not registered with tracemalloc:
    /// it owns no buffer until the list is written to.
    pub(super) fn snapshot(&self, py: Python<'_>) -> Records {
        self.selection(py, self.inner.clone())
    }

    /// Record `i` as a new plain `dict`, reusing cached strings.
    pub(super) fn plain_dict<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        self.dict_of(py, i, true)
    }

    /// Record `i` as a new plain `dict`; `cached`: a value of a small dictionary is its
    /// cached `str` ([`Records::cell_value`]) and ints are shared, else every value is a
    /// new object ([`crate::convert::cell_to_py_fresh`]).
    fn dict_of<'py>(&self, py: Python<'py>, i: usize, cached: bool) -> PyResult<Bound<'py, PyAny>> {
        let d = PyDict::new(py);
        let mut err = None;
        self.inner.visit_row(i, |j, c| {
            if err.is_none() {
                let v = if cached {
                    self.cell_value(py, j, c)
                } else {
                    crate::convert::cell_to_py_fresh(py, c)
                };
                if let Err(e) = v.and_then(|v| d.set_item(self.names[j].bind(py), v)) {
                    err = Some(e);
                }
            }
        });
        err.map_or(Ok(d.into_any()), Err)
    }

    /// `self` repeated `n` times (empty for `n <= 0`), as a new core list.
    pub(super) fn repeated(&self, py: Python<'_>, n: isize) -> PyResult<RecordList> {
        let n = usize::try_from(n).unwrap_or(0);
        self.inner.repeated(n).py_err(py)
    }
}

/// Puts the values of a block straight into its rows (`rows[k]` is the row at block
/// position `k`), making the common scalars without the general conversion's call.
struct RowFill<'py, 'r> {
    py: Python<'py>,
    this: &'r Records,
    rows: &'r [Bound<'py, PyAny>],
    /// Field being read.
    j: usize,
    /// Positions from here on are skipped: the row there failed.
    upto: usize,
    /// Why the row at `upto` failed.
    bad: Option<PyErr>,
    /// No value is a container (see [`TupleMaker::settle`]).
    scalars: bool,
}

impl RowFill<'_, '_> {
    #[inline(always)]
    fn put(&mut self, k: usize, v: PyResult<Bound<'_, PyAny>>) {
        if let Err(e) = v.and_then(|v| crate::tuple_rows::put(&self.rows[k], self.j, v)) {
            self.upto = k;
            self.bad = Some(e);
        }
    }
}

impl<'a> CellSink<'a> for RowFill<'_, '_> {
    fn field(&mut self, j: usize) {
        self.j = j;
    }

    #[inline]
    fn cell(&mut self, k: usize, c: CellRef<'a>) {
        if k >= self.upto {
            return;
        }
        let v = match c {
            CellRef::Null | CellRef::Absent => Ok(self.py.None().into_bound(self.py)),
            // Only the variant encoding holds containers (lists, dicts, tuples, objects).
            CellRef::Encoded(_) => {
                self.scalars = false;
                self.this.cell_value(self.py, self.j, c)
            }
            _ => self.this.cell_value(self.py, self.j, c),
        };
        self.put(k, v);
    }

    #[inline]
    fn int(&mut self, k: usize, v: i64) {
        if k < self.upto {
            self.put(k, Ok(crate::convert::int_to_py(self.py, v)));
        }
    }

    #[inline]
    fn float(&mut self, k: usize, v: f64) {
        if k < self.upto {
            self.put(k, Ok(PyFloat::new(self.py, v).into_any()));
        }
    }

    #[inline]
    fn text(&mut self, k: usize, v: &'a [u8]) {
        if k < self.upto {
            // Checked as UTF-8 once, by CPython's decoder (the list checked it when it
            // came in).
            self.put(k, PyString::from_bytes(self.py, v).map(Bound::into_any));
        }
    }

    #[inline]
    fn bool(&mut self, k: usize, v: bool) {
        if k < self.upto {
            self.put(k, Ok(PyBool::new(self.py, v).to_owned().into_any()));
        }
    }

    #[inline]
    fn null(&mut self, k: usize) {
        if k < self.upto {
            self.put(k, Ok(self.py.None().into_bound(self.py)));
        }
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
