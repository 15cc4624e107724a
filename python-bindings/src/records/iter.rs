//! Iterators over a list's records: live views (`_RecordsIter`) and plain copies
//! (`_PlainIter`).

use super::*;

/// Iterator over a list's records (live: sees appends made while iterating).
#[pyclass(name = "_RecordsIter", module = "memslim._memslim")]
pub struct PyRecordsIter {
    pub(super) list: Py<PyRecords>,
    pub(super) pos: usize,
    pub(super) back: bool,
    /// Rows handed out two steps ago, reused when nothing else references them.
    pub(super) spare: [Option<Py<PyRow>>; 2],
    pub(super) turn: usize,
    /// TupleList rows handed out two steps ago, refilled when nothing else references
    /// them (as `spare` for DictList rows).
    pub(super) spare_rows: [Option<Py<PyAny>>; 2],
}

#[pymethods]
impl PyRecordsIter {
    pub(super) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(super) fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let list = self.list.get();
        let o = list.order.borrow(py)?;
        let this = list.state.borrow(py)?;
        let len = o.order.len(this.inner.len());
        if let (
            false,
            Kind::Tuple {
                row_type,
                maker: Some(maker),
                ..
            },
        ) = (self.back, &this.kind)
        {
            if self.pos >= len {
                return Ok(None);
            }
            let i = self.pos;
            self.pos += 1;
            // A `for` loop drops its previous row before asking for the next one, so the
            // row from two steps back is usually referenced by this iterator alone; then
            // nobody can observe it, and it is refilled instead of freed and made anew.
            let slot = &mut self.spare_rows[self.turn];
            self.turn ^= 1;
            let vals = this.field_values(py, o.order.slot(i))?;
            if let Some(r) = slot {
                // Checked after the values are made: making one may run Python code.
                if is_sole_reference(r, py) {
                    maker.refill(r.bind(py), vals.into_iter())?;
                    return Ok(Some(r.clone_ref(py)));
                }
            }
            let fresh = maker.make(row_type.bind(py), vals.into_iter())?.unbind();
            *slot = Some(fresh.clone_ref(py));
            return Ok(Some(fresh));
        }
        let i = if self.back {
            self.pos = self.pos.min(len);
            if self.pos == 0 {
                return Ok(None);
            }
            self.pos -= 1;
            self.pos
        } else {
            if self.pos >= len {
                return Ok(None);
            }
            self.pos += 1;
            self.pos - 1
        };
        let i = o.order.slot(i);
        if let Kind::Dict = this.kind {
            // A `for` loop drops its previous row before asking for the next one, so the
            // row from two steps back is usually referenced by this iterator alone; then
            // nobody can observe it and it can be re-pointed instead of allocating anew.
            let slot = &mut self.spare[self.turn];
            self.turn ^= 1;
            if let Some(r) = slot {
                if is_sole_reference(r, py) {
                    let row = r.get();
                    row.row.store(i, Ordering::Relaxed);
                    return Ok(Some(r.clone_ref(py).into_any()));
                }
            }
            let fresh = Py::new(py, PyRow::memory(list.state.clone(), i))?;
            *slot = Some(fresh.clone_ref(py));
            return Ok(Some(fresh.into_any()));
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
