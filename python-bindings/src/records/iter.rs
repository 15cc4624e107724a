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
/// Reads up to [`ROW_BATCH`] rows ahead, field by field, and hands them out one by one
/// while neither the list nor its store has been written to since; any write drops
/// what was read ahead, so each row is read as the list holds it when it is handed out
/// (a list iterator's semantics: it sees appends, edits and removals made while
/// iterating, and stays exhausted once it is).
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
    fields: usize,
    /// Values of the rows read ahead: the next row's fields (in field order) last, so
    /// handing a row out drains the tail.
    vals: Vec<Option<Py<PyAny>>>,
    /// Rows in `vals`.
    ahead: usize,
    /// No value read ahead is a container (see [`TupleMaker::make_hinted`]).
    scalars: bool,
    /// `(store writes, list writes)` when `vals` was read.
    stamp: (u64, u64),
    /// Store rows of the positions being read (reused).
    slots: Vec<usize>,
    /// Rows handed out two steps ago, refilled when nothing else references them (a
    /// `for` loop drops its previous row before asking for the next one).
    spare: [Option<Py<PyAny>>; 2],
    turn: usize,
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
                fields: 0,
                vals: Vec::new(),
                ahead: 0,
                scalars: false,
                stamp: (0, 0),
                slots: Vec::new(),
                spare: [None, None],
                turn: 0,
            }),
        })
    }

    #[inline]
    fn stamp(&self, py: Python<'_>) -> (u64, u64) {
        let list = self.list.get();
        (list.state.writes(py), list.order.writes(py))
    }

    /// Reads the rows from `s.pos` on into `s.vals`: `false` at the end of the list.
    fn read_ahead(&self, py: Python<'_>, s: &mut TupleIterState) -> PyResult<bool> {
        s.vals.clear();
        s.ahead = 0;
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
        s.vals.resize_with(n * nf, || None);
        // First row whose value could not be made, and why.
        let mut bad: Option<(usize, PyErr)> = None;
        let mut scalars = true;
        let vals = &mut s.vals;
        this.inner.visit_block(&s.slots, |j, k, c| {
            if bad.as_ref().is_some_and(|(b, _)| *b <= k) {
                return;
            }
            // The common scalars are made here, without the general conversion's call.
            let v = match c {
                CellRef::Int(i) => Ok(PyInt::new(py, i).into_any()),
                CellRef::Float(f) => Ok(PyFloat::new(py, f).into_any()),
                CellRef::Null | CellRef::Absent => Ok(py.None().into_bound(py)),
                CellRef::Bool(b) => Ok(PyBool::new(py, b).to_owned().into_any()),
                // Only the variant encoding holds containers (lists, dicts, tuples,
                // objects).
                CellRef::Encoded(_) => {
                    scalars = false;
                    this.cell_value(py, j, c)
                }
                _ => this.cell_value(py, j, c),
            };
            match v {
                Ok(v) => vals[(n - 1 - k) * nf + j] = Some(v.unbind()),
                Err(e) => bad = Some((k, e)),
            }
        });
        let n = match bad {
            // The rows before it are handed out first; the error is raised when the
            // row that fails is reached, as reading row by row would.
            Some((0, e)) => {
                s.vals.clear();
                return Err(e);
            }
            Some((k, _)) => {
                s.vals.drain(..(n - k) * nf);
                k
            }
            None => n,
        };
        s.fields = nf;
        s.ahead = n;
        s.scalars = scalars;
        drop(this);
        drop(o);
        s.stamp = self.stamp(py);
        Ok(true)
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
        if (s.ahead == 0 || self.stamp(py) != s.stamp) && !self.read_ahead(py, &mut s)? {
            s.done = true;
            s.vals = Vec::new();
            s.spare = [None, None];
            return Ok(None);
        }
        let nf = s.fields;
        let tail = s.vals.len() - nf;
        if s.vals[tail..].iter().any(Option::is_none) {
            s.ahead = 0;
            return Err(pyo3::exceptions::PySystemError::new_err(
                "a TupleList row was read incompletely",
            ));
        }
        s.ahead -= 1;
        s.pos += 1;
        let scalars = s.scalars;
        let s = &mut *s;
        let items = s
            .vals
            .drain(tail..)
            .map(|v| v.unwrap_or_else(|| py.None()).into_bound(py));
        let slot = &mut s.spare[s.turn];
        s.turn ^= 1;
        if let Some(r) = slot {
            if maker.reusable() && is_sole_reference(r, py) {
                maker.refill_hinted(r.bind(py), items, scalars)?;
                return Ok(Some(r.clone_ref(py)));
            }
        }
        let fresh = maker
            .make_hinted(self.row_type.bind(py), items, scalars)?
            .unbind();
        *slot = Some(fresh.clone_ref(py));
        Ok(Some(fresh))
    }

    pub(super) fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let s = self.state.borrow(py)?;
        if s.done {
            return Ok(0);
        }
        Ok(self.list.get().len(py)?.saturating_sub(s.pos))
    }
}
