//! The store behind a list: its core `RecordList`, field names and string caches, the
//! TupleList rows it lends, and plain copies of its records. How Python records become
//! cells is in `ingest.rs`, how values and rows are made from them in `rows_out.rs`, and
//! how records compare with Python values in `compare.rs`.

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
    pub(super) lent: GilCell<Lent>,
    /// The allocation `append` lists a record's cells in, kept from one call to the
    /// next (empty between calls; see [`recycle`]).
    pub(super) cell_buf: Vec<(usize, Cell<'static>)>,
    /// Memory the store reads in place that Python's allocator made, by start address
    /// (see [`Records::wrap_reading`]); shared with the selections made from it.
    pub(super) python_made: Arc<[std::ops::Range<usize>]>,
    /// Rows that one list of the store alone reads (the new records of a DictList's
    /// `a + b`) or that no list reads any more, to give back ([`PyRecords::own_new_rows`]).
    pub(super) reclaim: Reclaim,
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
    pub(super) fn take_free(&mut self, py: Python<'_>) -> Option<Py<PyAny>> {
        let k = self
            .rows
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| is_sole_reference(&e.row, py)))?;
        self.next = k;
        self.rows[k].take().map(|e| e.row)
    }

    /// Keeps `row` at `next`, in place of the row there.
    pub(super) fn keep(&mut self, row: Py<PyAny>, from: Option<(usize, u64)>) {
        let k = self.next;
        self.next = (k + 1) % LENT_ROWS;
        self.rows[k] = Some(LentRow { row, from });
    }

    /// The store row `v` was made from, if it is a kept row and the store's write count
    /// is still `writes`.
    pub(super) fn slot_of(&self, v: &Bound<'_, PyAny>, writes: u64) -> Option<usize> {
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

/// Entry `idx` (`s`) of a dictionary as a `str`: the one object `strs` keeps for it (made
/// on first use) when it keeps one, else a new one.
#[inline(always)]
pub(super) fn dict_str<'py>(
    py: Python<'py>,
    strs: Option<&StrCache>,
    idx: u32,
    s: &str,
) -> Bound<'py, PyAny> {
    match strs.and_then(|c| c.get(py, idx as usize, s)) {
        Some(obj) => obj.into_any(),
        None => PyString::new(py, s).into_any(),
    }
}

/// Python strings for one field's dictionary, valid while `dict_id` is unchanged and the
/// dictionary does not shrink.
#[derive(Default)]
pub(super) struct StrCache {
    pub(super) dict_id: usize,
    pub(super) values: Vec<OnceLock<Py<PyString>>>,
    /// What the strings made so far take, as `sys.getsizeof` counts them (they are
    /// made on reads, which hold the store shared, hence atomic).
    made_bytes: AtomicUsize,
}

/// What `sys.getsizeof` says a `str` made from `s` takes: CPython's compact strings are
/// a header (one size for ASCII, one for the rest) and one code unit of 1, 2 or 4 bytes
/// per character plus a terminating one. The header sizes are measured once, from
/// strings of each kind.
fn str_object_bytes(py: Python<'_>, s: &str) -> usize {
    static HEADERS: OnceLock<(usize, usize)> = OnceLock::new();
    let (ascii, compact) = *HEADERS.get_or_init(|| {
        let size = |text: &str| {
            PyString::new(py, text)
                .call_method0(intern!(py, "__sizeof__"))
                .and_then(|n| n.extract::<usize>())
                .unwrap_or(0)
        };
        // "" is 1 unit past the ASCII header; "é" 2 one-byte units past the other.
        (size("").saturating_sub(1), size("é").saturating_sub(2))
    });
    if s.is_ascii() {
        return ascii + s.len() + 1;
    }
    let (chars, widest) = s
        .chars()
        .fold((0usize, 0u32), |(n, w), c| (n + 1, w.max(c as u32)));
    let unit = match widest {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        _ => 4,
    };
    compact + (chars + 1) * unit
}

impl StrCache {
    /// The string for dictionary entry `idx` (`s`), made on first use; `None` if the
    /// cache keeps none for it.
    #[inline(always)]
    fn get<'py>(&self, py: Python<'py>, idx: usize, s: &str) -> Option<Bound<'py, PyString>> {
        let slot = self.values.get(idx)?;
        let obj = slot.get_or_init(|| {
            self.made_bytes
                .fetch_add(str_object_bytes(py, s), Ordering::Relaxed);
            PyString::new(py, s).unbind()
        });
        Some(obj.bind(py).clone())
    }

    /// Forgets every string (the positions may mean other strings now).
    fn clear(&mut self) {
        self.values.clear();
        *self.made_bytes.get_mut() = 0;
    }

    /// The slot table's bytes (allocated by Rust, which tracemalloc does not see).
    fn table_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<OnceLock<Py<PyString>>>()
    }

    /// The table and the strings made so far.
    fn nbytes(&self) -> usize {
        self.table_bytes() + self.made_bytes.load(Ordering::Relaxed)
    }
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
            // A store is no structure of its own: each list on it counts itself.
            trace: Tracked::uncounted(),
            appends: 0,
            strings: Vec::new(),
            lent: GilCell::new(Lent::default()),
            cell_buf: Vec::new(),
            python_made: Arc::new([]),
            reclaim: Reclaim::default(),
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

    /// [`Records::wrap`] of a list that reads `python_made` in place: address ranges of
    /// `bytes` objects (a pickle's buffers that came in band, protocol 5). Python's
    /// allocator made them, so tracemalloc sees them already, and the list does not
    /// report them to it again (its `nbytes` still counts them: it keeps them alive).
    pub(super) fn wrap_reading(
        py: Python<'_>,
        kind: RecordForm,
        inner: RecordList,
        mut python_made: Vec<std::ops::Range<usize>>,
    ) -> PyResult<Py<PyAny>> {
        let mut base = Records::new(py, kind, inner);
        // Sorted and joined where they overlap (views of one object), so that the one
        // range starting last at or before an address is the only one that can hold it.
        python_made.sort_unstable_by_key(|r| r.start);
        let mut joined: Vec<std::ops::Range<usize>> = Vec::with_capacity(python_made.len());
        for r in python_made {
            match joined.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => joined.push(r),
            }
        }
        base.python_made = joined.into();
        base.retrack();
        base.into_object(py)
    }

    /// A temporary `Records` over `inner` (a selection of this store's rows) for reading:
    /// not registered with tracemalloc, it owns no buffer of its own until written. Its
    /// names are this store's (interned strings are one object each).
    pub(super) fn selection(&self, py: Python<'_>, inner: RecordList) -> Records {
        let mut r = Records::new(py, self.kind.clone_ref(py), inner);
        r.python_made = Arc::clone(&self.python_made);
        r
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
    pub(super) fn sync_strings(&mut self, j: usize) {
        let cache = &mut self.strings[j];
        match self.inner.dictionary_state(j) {
            Some((id, len)) if len <= STR_CACHE_MAX => {
                if id != cache.dict_id || len < cache.values.len() {
                    // Replaced, copied or rolled back: positions may mean other strings.
                    cache.clear();
                    cache.dict_id = id;
                }
                cache.values.resize_with(len, OnceLock::new);
            }
            _ if cache.dict_id != 0 || !cache.values.is_empty() => {
                cache.clear();
                cache.values.shrink_to_fit();
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
            return Ok(dict_str(py, self.str_objects(j), idx, s));
        }
        cell_to_py(py, c)
    }

    /// Field `j`'s `str` objects, one per dictionary entry (none kept if its dictionary
    /// is too large to keep them, or it has none).
    #[inline]
    pub(super) fn str_objects(&self, j: usize) -> Option<&StrCache> {
        self.strings.get(j)
    }

    pub(super) fn retrack(&mut self) {
        self.appends = 0;
        // The column chunks and dictionaries, which copies of the list (copy-on-write)
        // share, are reported once for all of them.
        let mut buffers = Vec::new();
        // Memory Python made (in place of `bytes` objects) is in tracemalloc already.
        let mut python_made = 0;
        let made = &self.python_made;
        let in_made = |id: usize| {
            let i = made.partition_point(|r| r.start <= id);
            i > 0 && made[i - 1].contains(&id)
        };
        self.inner.buffers(|b| {
            if in_made(b.id) {
                python_made += b.bytes;
            } else {
                buffers.push((b.id, b.bytes));
            }
        });
        // The cached strings are Python objects, which tracemalloc sees made.
        let tables: usize = self.strings.iter().map(StrCache::table_bytes).sum();
        let total = (self.inner.nbytes() + tables).saturating_sub(python_made);
        self.trace.set_with_buffers(total, buffers);
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

    pub(super) fn what(&self) -> &'static str {
        self.kind.class_name()
    }

    /// Bytes of memory the store keeps alive: its records, its field names and the
    /// strings it keeps for reads of small dictionaries.
    pub(super) fn nbytes(&self) -> usize {
        let strings: usize = self.strings.iter().map(StrCache::nbytes).sum();
        self.inner.nbytes() + self.names.capacity() * 8 + strings
    }

    /// The store's memory as `(identity, bytes)` pairs (see [`crate::buffers::Buffers`]):
    /// the buffers its lists and views may share ([`RecordList::buffers`]), then the
    /// rest under `id`, the store's own address.
    pub(super) fn buffers(&self, id: usize) -> crate::buffers::Buffers {
        let mut out = crate::buffers::Buffers::default();
        let mut shared = 0;
        self.inner.buffers(|b| {
            shared += b.bytes;
            out.push(b.id, b.bytes);
        });
        out.push(id, self.nbytes().saturating_sub(shared));
        out
    }
}

// ----- plain copies of records (`iter_dicts`, `iter_tuples`, `to_dict`, `*`) ---------------

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
    pub(super) fn dict_of<'py>(
        &self,
        py: Python<'py>,
        i: usize,
        cached: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
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
