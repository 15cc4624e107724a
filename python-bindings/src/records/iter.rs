//! Iterators over a list's records: live views (`_RecordsIter`) and plain copies
//! (`_PlainIter`).

use super::*;

/// Iterator over a list's records (live: sees appends made while iterating): a
/// DictList's forward and reversed, a TupleList's reversed (its forward iterator reads
/// ahead, see [`PyTupleIter`]).
#[pyclass(
    name = "_RecordsIterBase",
    module = "memslim._memslim",
    frozen,
    subclass
)]
pub struct PyRecordsIter {
    list: Py<PyRecords>,
    back: bool,
    /// Behind the interpreter lock's own cell: cheaper than PyO3's borrow of `&mut self`
    /// (an atomic operation per step).
    state: GilCell<RecordsIterState>,
}

struct RecordsIterState {
    /// Forward: the next position; reversed: one past it (0 once ended).
    pos: usize,
    spare: SpareRows,
}

impl PyRecordsIter {
    /// A reversed iterator starts at the list's last record now, as a list's does:
    /// records appended before its first step are not handed out.
    pub(super) fn new(list: &Bound<'_, PyRecords>, back: bool) -> PyResult<Self> {
        let pos = if back { list.get().len(list.py())? } else { 0 };
        Ok(PyRecordsIter {
            list: list.clone().unbind(),
            back,
            state: GilCell::new(RecordsIterState {
                pos,
                spare: SpareRows::default(),
            }),
        })
    }
}

impl PyRecordsIter {
    /// `__next__` of a DictList's forward iterator: the view handed out two steps back
    /// re-pointed, or a new one (`list(rows)` keeps every view, so each is new). `None`
    /// when that cannot be (the end, a borrow that fails, a view that cannot be made):
    /// then `__next__` does the step, and raises if it must. Raises nothing and drops
    /// no owned reference but the spare a new view replaces, released directly (see
    /// `fast_slots.rs` and [`SpareRows::next`]).
    #[inline]
    pub(crate) fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        if self.back {
            return None;
        }
        let list = self.list.get();
        let o = list.order.borrow(py).ok()?;
        let this = list.state.borrow(py).ok()?;
        if !matches!(this.kind, RecordForm::Dict) {
            return None;
        }
        let mut s = self.state.borrow_mut(py).ok()?;
        if s.pos >= o.order.len(this.inner.len()) {
            return None;
        }
        let i = o.order.slot(s.pos);
        this.reclaim.note_view(i);
        let make = || PyRow::memory(list.state.clone(), i);
        let row = s.spare.next(py, i, |_| true, make).ok()?;
        s.pos += 1;
        Some(row)
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
        // As a list's iterators: once one ends (its next position is past the end, the
        // list having shrunk) it stays ended, whatever the list does after.
        let i = if self.back {
            if s.pos > len {
                s.pos = 0;
            }
            if s.pos == 0 {
                return Ok(None);
            }
            s.pos -= 1;
            s.pos
        } else {
            if s.pos >= len {
                s.pos = usize::MAX;
                return Ok(None);
            }
            s.pos += 1;
            s.pos - 1
        };
        let i = o.order.slot(i);
        if let RecordForm::Dict = this.kind {
            this.reclaim.note_view(i);
            let make = || PyRow::memory(list.state.clone(), i);
            return s.spare.next(py, i, |_| true, make).map(Some);
        }
        item_of(py, &this, &list.state, i).map(Some)
    }

    /// Records left, as a list's iterators count them (0 once ended).
    pub(super) fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let len = self.list.get().len(py)?;
        let pos = self.state.borrow(py)?.pos;
        Ok(match (self.back, pos) {
            (true, p) if p > len => 0,
            (true, p) => p,
            (false, usize::MAX) => 0,
            (false, p) => len.saturating_sub(p),
        })
    }
}

/// Iterator of plain copies of a list's records (`dict`s or `tuple`s), made a batch at a
/// time from a snapshot of the list taken when iteration began.
#[pyclass(name = "_PlainIter", module = "memslim._memslim")]
pub struct PyPlainIter {
    pub(super) snap: Records,
    /// Makes the `tuple`s (`None`: the copies are `dict`s).
    pub(super) tuples: Option<TupleMaker>,
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
            // A record that cannot be copied raises once the ones before it are out.
            let end = (self.pos + PLAIN_BATCH).min(self.snap.inner.len());
            let mut bad = None;
            if let Some(maker) = self.tuples {
                let slots: Vec<usize> = (self.pos..end).collect();
                let cls = py.get_type::<PyTuple>().into_any();
                let (rows, e) = self
                    .snap
                    .fill_rows(py, maker, &cls, &slots, std::iter::empty());
                self.pos += rows.len();
                self.ready.extend(rows.into_iter().map(Bound::unbind));
                bad = e;
            } else {
                for i in self.pos..end {
                    match self.snap.plain_dict(py, i) {
                        Ok(v) => self.ready.push_back(v.unbind()),
                        Err(e) => {
                            bad = Some(e);
                            break;
                        }
                    }
                    self.pos += 1;
                }
            }
            if let (true, Some(e)) = (self.ready.is_empty(), bad) {
                return Err(e);
            }
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
        Logical::Store(r) => r.snapshot(py),
        Logical::Own(r) => *r,
    };
    let tuples =
        if tuples {
            let maker = TupleMaker::new(py.get_type::<PyTuple>().as_any())?;
            Some(maker.ok_or_else(|| {
                pyo3::exceptions::PySystemError::new_err("tuple rows cannot be made")
            })?)
        } else {
            None
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
#[pyclass(name = "_TupleIterBase", module = "memslim._memslim", frozen, subclass)]
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

impl TupleIterState {
    /// The next row made ahead, handed out (kept among the rows to refill if its class
    /// allows); `None` if none is ready. Drops no owned reference.
    #[inline]
    fn hand_out(&mut self, py: Python<'_>, maker: TupleMaker) -> Option<Py<PyAny>> {
        let row = self.ready.pop()?;
        self.pos += 1;
        if maker.reusable() {
            self.handed.push(row.clone_ref(py));
        }
        Some(row)
    }
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

    /// `__next__` when a row made ahead is ready and the list has not been written to
    /// since: it is handed out. `None` otherwise (then `__next__` reads ahead, or ends).
    /// Raises nothing and drops no owned reference (see `fast_slots.rs`).
    #[inline]
    pub(crate) fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let maker = self.maker?;
        let mut s = self.state.borrow_mut(py).ok()?;
        if s.done || s.ready.is_empty() || self.stamp(py) != s.stamp {
            return None;
        }
        s.hand_out(py, maker)
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
        // Room for a whole batch handed out, so that handing rows out never grows it.
        let mut spares = std::mem::replace(&mut s.handed, Vec::with_capacity(ROW_BATCH));
        spares.append(&mut s.ready);
        let list = self.list.get();
        let o = list.order.borrow(py)?;
        let this = list.state.borrow(py)?;
        let len = o.order.len(this.inner.len());
        if s.pos >= len {
            return Ok(false);
        }
        let n = ROW_BATCH.min(len - s.pos);
        s.slots.clear();
        s.slots.extend((s.pos..s.pos + n).map(|p| o.order.slot(p)));
        let (rows, bad) = this.fill_rows(
            py,
            maker,
            self.row_type.bind(py),
            &s.slots,
            spares.into_iter(),
        );
        // The rows before a failed one are handed out first; the error is raised when
        // the row that fails is reached (then first of its batch), as reading row by row
        // would.
        if let (true, Some(e)) = (rows.is_empty(), bad) {
            return Err(e);
        }
        s.ready.clear();
        s.ready.extend(rows.into_iter().rev().map(Bound::unbind));
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
        if (s.ready.is_empty() || self.stamp(py) != s.stamp)
            && !self.read_ahead(py, maker, &mut s)?
        {
            s.done = true;
            s.ready = Vec::new();
            s.handed = Vec::new();
            return Ok(None);
        }
        match s.hand_out(py, maker) {
            Some(row) => Ok(Some(row)),
            None => Err(pyo3::exceptions::PySystemError::new_err(
                "a TupleList batch came out empty",
            )),
        }
    }

    pub(super) fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let s = self.state.borrow(py)?;
        if s.done {
            return Ok(0);
        }
        Ok(self.list.get().len(py)?.saturating_sub(s.pos))
    }
}
