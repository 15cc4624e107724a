//! Iterators over a list's records: live views (`_RecordsIter`) and plain copies
//! (`_PlainIter`).

use super::*;

/// Iterator over a list's records (live: sees appends made while iterating): a
/// DictList's forward and reversed, a TupleList's reversed (its forward iterator reads
/// ahead, see [`PyTupleIter`]).
#[pyclass(name = "_RecordsIter", module = "memslim._memslim", frozen)]
pub struct PyRecordsIter {
    list: Py<PyRecords>,
    back: bool,
    /// Behind the interpreter lock's own cell: cheaper than PyO3's borrow of `&mut self`
    /// (an atomic operation per step).
    state: GilCell<RecordsIterState>,
}

struct RecordsIterState {
    pos: usize,
    spare: SpareRows,
}

impl PyRecordsIter {
    pub(super) fn new(list: Py<PyRecords>, back: bool) -> Self {
        PyRecordsIter {
            list,
            back,
            state: GilCell::new(RecordsIterState {
                pos: if back { usize::MAX } else { 0 },
                spare: SpareRows::default(),
            }),
        }
    }
}

#[pymethods]
impl PyRecordsIter {
    pub(super) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(super) fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let list = self.list.get();
        let o = list.order.borrow(py)?;
        let this = list.state.borrow(py)?;
        let len = o.order.len(this.inner.len());
        let mut s = self.state.borrow_mut(py)?;
        let i = if self.back {
            s.pos = s.pos.min(len);
            if s.pos == 0 {
                return Ok(None);
            }
            s.pos -= 1;
            s.pos
        } else {
            if s.pos >= len {
                return Ok(None);
            }
            s.pos += 1;
            s.pos - 1
        };
        let i = o.order.slot(i);
        if let RecordForm::Dict = this.kind {
            let make = || PyRow::memory(list.state.clone(), i);
            return s.spare.next(py, i, |_| true, make).map(Some);
        }
        item_of(py, &this, &list.state, i).map(Some)
    }
}

/// Iterator of plain copies of a list's records (`dict`s or `tuple`s), made a batch at a
/// time from a snapshot of the list taken when iteration began.
#[pyclass(name = "_PlainIter", module = "memslim._memslim")]
pub struct PyPlainIter {
    pub(super) snap: Records,
    pub(super) tuples: bool,
    pub(super) pos: usize,
    pub(super) ready: std::collections::VecDeque<Py<PyAny>>,
}

#[pymethods]
impl PyPlainIter {
    pub(super) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(super) fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
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

    pub(super) fn __length_hint__(&self) -> usize {
        self.ready.len() + self.snap.inner.len().saturating_sub(self.pos)
    }
}

pub(super) fn plain_iter(
    py: Python<'_>,
    list: &Bound<'_, PyRecords>,
    tuples: bool,
) -> PyResult<PyPlainIter> {
    let snap = match list.get().logical(py)? {
        Logical::Store(r, _) => r.snapshot(py),
        Logical::Own(r) => *r,
    };
    Ok(PyPlainIter {
        snap,
        tuples,
        pos: 0,
        ready: std::collections::VecDeque::new(),
    })
}

// ----- TupleList rows -------------------------------------------------------------------

/// Rows a [`PyTupleIter`] reads ahead at a time.
const ROW_BATCH: usize = 64;

/// Iterator over a `TupleList`'s rows (namedtuples, or instances of the list's row type).
///
/// Makes up to [`ROW_BATCH`] rows ahead, field by field, straight into the row objects,
/// and hands them out one by one while neither the list nor its store has been written
/// to since; any write drops what was made ahead, so each row is read as the list holds
/// it when it is handed out (a list iterator's semantics: it sees appends, edits and
/// removals made while iterating, and stays exhausted once it is).
#[pyclass(name = "_TupleIter", module = "memslim._memslim", frozen)]
pub struct PyTupleIter {
    list: Py<PyRecords>,
    row_type: Py<PyAny>,
    maker: Option<TupleMaker>,
    /// Behind the interpreter lock's own cell: cheaper than PyO3's borrow of `&mut self`.
    state: GilCell<TupleIterState>,
}

struct TupleIterState {
    /// List position of the next row handed out.
    pos: usize,
    done: bool,
    /// Rows made ahead, the next one last (handing a row out pops it). Referenced by
    /// this vector alone.
    ready: Vec<Py<PyAny>>,
    /// `(store writes, list writes)` when `ready` was made.
    stamp: (u64, u64),
    /// Store rows of the positions being read (reused).
    slots: Vec<usize>,
    /// Rows handed out since `ready` was made. The next batch refills those nothing
    /// else refers to any more (a `for` loop drops each row before asking for the next
    /// one) instead of allocating new ones.
    handed: Vec<Py<PyAny>>,
}

impl PyTupleIter {
    pub(super) fn new(list: &Bound<'_, PyRecords>) -> PyResult<Self> {
        let py = list.py();
        let this = list.get().state.borrow(py)?;
        let (row_type, maker) = match &this.kind {
            RecordForm::Tuple {
                row_type, maker, ..
            } => (row_type.clone_ref(py), *maker),
            RecordForm::Dict => return Err(PyTypeError::new_err("not a TupleList")),
        };
        Ok(PyTupleIter {
            list: list.clone().unbind(),
            row_type,
            maker,
            state: GilCell::new(TupleIterState {
                pos: 0,
                done: false,
                ready: Vec::new(),
                stamp: (0, 0),
                slots: Vec::new(),
                handed: Vec::new(),
            }),
        })
    }

    #[inline]
    fn stamp(&self, py: Python<'_>) -> (u64, u64) {
        let list = self.list.get();
        (list.state.writes(py), list.order.writes(py))
    }

    /// Makes the rows from `s.pos` on into `s.ready`: `false` at the end of the list.
    fn read_ahead(
        &self,
        py: Python<'_>,
        maker: TupleMaker,
        s: &mut TupleIterState,
    ) -> PyResult<bool> {
        // Rows made ahead but not handed out (the list changed) are refilled too.
        let mut spares = std::mem::take(&mut s.handed);
        spares.append(&mut s.ready);
        let list = self.list.get();
        let o = list.order.borrow(py)?;
        let this = list.state.borrow(py)?;
        let len = o.order.len(this.inner.len());
        if s.pos >= len {
            return Ok(false);
        }
        let n = ROW_BATCH.min(len - s.pos);
        let nf = this.inner.num_fields();
        s.slots.clear();
        s.slots.extend((s.pos..s.pos + n).map(|p| o.order.slot(p)));
        // `ready[n - 1 - k]` is the row at `s.pos + k`.
        let cls = self.row_type.bind(py);
        let mut spares = spares.into_iter();
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            rows.push(maker.blank(cls, nf, spares.next())?);
        }
        drop(spares);
        let mut fill = RowFill {
            py,
            this: &this,
            rows: &rows,
            j: 0,
            upto: n,
            bad: None,
            scalars: true,
        };
        this.inner.fill_block(&s.slots, &mut fill);
        let (bad, scalars) = (fill.bad, fill.scalars);
        // The rows before a failed one are handed out first; the error is raised when
        // the row that fails is reached (then first of its batch), as reading row by row
        // would. Rows not filled are dropped, never handed out.
        let made = match bad {
            Some((0, e)) => return Err(e),
            Some((k, _)) => k,
            None => n,
        };
        s.ready.clear();
        s.ready.extend(rows.into_iter().skip(n - made).map(|r| {
            maker.settle(&r, scalars);
            r.unbind()
        }));
        drop(this);
        drop(o);
        s.stamp = self.stamp(py);
        Ok(true)
    }
}

/// Puts the values of a batch straight into its rows (`rows[rows.len() - 1 - k]` is
/// the row at block position `k`), making the common scalars without the general
/// conversion's call.
struct RowFill<'py, 'r> {
    py: Python<'py>,
    this: &'r Records,
    rows: &'r [Bound<'py, PyAny>],
    /// Field being read.
    j: usize,
    /// Positions from here on are skipped: a row before them failed.
    upto: usize,
    /// First row whose value could not be made, and why.
    bad: Option<(usize, PyErr)>,
    /// No value is a container (see [`TupleMaker::settle`]).
    scalars: bool,
}

impl RowFill<'_, '_> {
    #[inline(always)]
    fn put(&mut self, k: usize, v: PyResult<Bound<'_, PyAny>>) {
        let row = &self.rows[self.rows.len() - 1 - k];
        if let Err(e) = v.and_then(|v| crate::tuple_rows::put(row, self.j, v)) {
            self.upto = k;
            self.bad = Some((k, e));
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
            self.put(k, Ok(PyInt::new(self.py, v).into_any()));
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
            self.put(k, crate::convert::str_from_utf8(self.py, v));
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

#[pymethods]
impl PyTupleIter {
    pub(super) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(super) fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut s = self.state.borrow_mut(py)?;
        if s.done {
            return Ok(None);
        }
        let Some(maker) = self.maker else {
            // A row type that is not a tuple subclass: made by calling it, row by row.
            let list = self.list.bind(py);
            if s.pos >= list.get().len(py)? {
                s.done = true;
                return Ok(None);
            }
            s.pos += 1;
            return item_out(list, s.pos - 1).map(Some);
        };
        if (s.ready.is_empty() || self.stamp(py) != s.stamp)
            && !self.read_ahead(py, maker, &mut s)?
        {
            s.done = true;
            s.ready = Vec::new();
            s.handed = Vec::new();
            return Ok(None);
        }
        let Some(row) = s.ready.pop() else {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "a TupleList batch came out empty",
            ));
        };
        s.pos += 1;
        if maker.reusable() {
            s.handed.push(row.clone_ref(py));
        }
        Ok(Some(row))
    }

    pub(super) fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let s = self.state.borrow(py)?;
        if s.done {
            return Ok(0);
        }
        Ok(self.list.get().len(py)?.saturating_sub(s.pos))
    }
}
