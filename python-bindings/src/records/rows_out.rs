//! Values and rows made from a store's records: field values, TupleList rows (made in
//! blocks, and lent, see docs/tuple-rows.md) and a record's value as Python sees it.

use super::*;

impl Records {
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
            strs: None,
            at: crate::tuple_rows::items_offset(py),
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
}

/// Puts the values of a block straight into its rows (`rows[k]` is the row at block
/// position `k`), making the common scalars without the general conversion's call.
struct RowFill<'py, 'r> {
    py: Python<'py>,
    this: &'r Records,
    rows: &'r [Bound<'py, PyAny>],
    /// Field being read.
    j: usize,
    /// Field `j`'s `str` objects, one per dictionary entry ([`Records::str_objects`]).
    strs: Option<&'r super::store::StrCache>,
    /// Where a row's items begin ([`crate::tuple_rows::items_offset`]).
    at: Option<usize>,
    /// Positions from here on are skipped: the row there failed.
    upto: usize,
    /// Why the row at `upto` failed.
    bad: Option<PyErr>,
    /// No value is a container (see [`TupleMaker::settle`]).
    scalars: bool,
}

impl<'py> RowFill<'py, '_> {
    #[inline(always)]
    fn put(&mut self, k: usize, v: PyResult<Bound<'py, PyAny>>) {
        match v {
            Ok(v) => self.put_ok(k, v),
            Err(e) => self.fail(k, e),
        }
    }

    #[inline(always)]
    fn put_ok(&mut self, k: usize, v: Bound<'py, PyAny>) {
        if let Err(e) = crate::tuple_rows::put(&self.rows[k], self.j, v, self.at) {
            self.fail(k, e);
        }
    }

    #[cold]
    fn fail(&mut self, k: usize, e: PyErr) {
        self.upto = k;
        self.bad = Some(e);
    }
}

impl<'a> CellSink<'a> for RowFill<'_, '_> {
    fn field(&mut self, j: usize) {
        self.j = j;
        self.strs = self.this.str_objects(j);
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

    #[inline(always)]
    fn int(&mut self, k: usize, v: i64) {
        if k < self.upto {
            self.put_ok(k, crate::convert::int_to_py(self.py, v));
        }
    }

    #[inline]
    fn float(&mut self, k: usize, v: f64) {
        if k < self.upto {
            self.put_ok(k, PyFloat::new(self.py, v).into_any());
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

    #[inline(always)]
    fn dict_str(&mut self, k: usize, idx: u32, v: &'a str) {
        if k < self.upto {
            self.put_ok(k, super::store::dict_str(self.py, self.strs, idx, v));
        }
    }

    #[inline]
    fn bool(&mut self, k: usize, v: bool) {
        if k < self.upto {
            self.put_ok(k, PyBool::new(self.py, v).to_owned().into_any());
        }
    }

    #[inline(always)]
    fn null(&mut self, k: usize) {
        if k < self.upto {
            self.put_ok(k, self.py.None().into_bound(self.py));
        }
    }
}
