//! [`RecordList::push_columns`]: records given column by column, a typed run of ints
//! or strings stored in one loop per column.

use super::*;
use crate::columns::{ColumnRun, Columns, Mark, Values};

impl RecordList {
    /// Appends the records of `cols`, each record's keys in field order or the order
    /// [`Columns::set_key_orders`] gave it (a field no column names is absent from every
    /// record): what [`RecordList::push_grid`] (or [`RecordList::push_record`], for a
    /// record with a key order of its own) appends for the same records, checked and
    /// stored a column at a time. A run of
    /// ints into an int column is checked by its least and greatest value and copied
    /// in one loop; the strings of a dictionary column are looked up once per distinct
    /// short string of the run.
    ///
    /// # Errors
    /// As [`RecordList::push_grid`] (the same error, naming the same row); on error the
    /// list is unchanged. [`RecordsError::UnknownField`] for a column past the list's
    /// fields, [`RecordsError::DuplicateKey`] for a field given twice,
    /// [`RecordsError::Corrupt`] naming the row for a key order that does not list
    /// exactly the fields its record has a value for.
    pub fn push_columns(&mut self, cols: &Columns<'_>) -> Result<()> {
        let n = cols.num_rows();
        let mut given = vec![false; self.cols.len()];
        for c in cols.columns() {
            match given.get_mut(c.field) {
                None => {
                    return Err(RecordsError::UnknownField {
                        row: self.len,
                        field: format!("<column {}>", c.field),
                    });
                }
                Some(true) => {
                    return Err(RecordsError::DuplicateKey {
                        row: self.len,
                        field: self.cols[c.field].name.to_string(),
                    });
                }
                Some(g) => *g = true,
            }
        }
        if n == 0 {
            return Ok(());
        }
        self.check_key_orders(cols)?;
        let mut widen = Vec::new();
        for c in cols.columns() {
            match self.layout_after_run(c) {
                Some((target, exact)) if target != self.cols[c.field].layout => {
                    widen.push((c.field, target, exact));
                }
                Some(_) => {}
                // A value the column refuses: the grid's check names the first bad row
                // (row by row, as a grid is checked), and changes nothing.
                None => return self.push_grid(&grid_of(cols, self.cols.len())),
            }
        }
        // Each row's bytes of variable-length data, if any column has some.
        let mut var = Vec::new();
        for c in cols
            .columns()
            .iter()
            .filter(|c| !matches!(c.values, Values::Ints(_)))
        {
            var.resize(n, 0);
            for (r, v) in var.iter_mut().enumerate() {
                *v += c.var_len(r);
            }
        }
        // A record whose values the input sizes (see `BIG_VALUE`): room for each run's
        // values is made with fallible allocations, and a failure undoes the append.
        let big = var.iter().any(|&v| v >= BIG_VALUE);
        let cp = big.then(|| self.checkpoint());
        self.widen_columns(widen);
        let pushed = self.push_column_rows(cols, &var, big);
        if let (Err(e), Some(cp)) = (pushed, cp) {
            self.rollback(cp);
            return Err(e);
        }
        Ok(())
    }

    /// Checks that each key order of `cols` lists exactly the fields its record has a
    /// value for, each once (else the record would list an absent key, or lose one).
    fn check_key_orders(&self, cols: &Columns<'_>) -> Result<()> {
        let (table, per_row) = cols.key_orders();
        if table.is_empty() || per_row.iter().all(|&i| i == 0) {
            return Ok(());
        }
        let mut of_field: Vec<Option<&ColumnRun<'_>>> = vec![None; self.cols.len()];
        for c in cols.columns() {
            of_field[c.field] = Some(c);
        }
        let mut listed = vec![false; self.cols.len()];
        for r in 0..cols.num_rows() {
            let Some(order) = cols.key_order(r) else {
                continue;
            };
            let mut fits = true;
            for &j in order {
                let j = j as usize;
                let has = of_field
                    .get(j)
                    .copied()
                    .flatten()
                    .is_some_and(|c| c.cell(r).is_some());
                fits &= has && !std::mem::replace(&mut listed[j], true);
            }
            let keys = cols
                .columns()
                .iter()
                .filter(|c| c.cell(r).is_some())
                .count();
            for &j in order {
                if let Some(l) = listed.get_mut(j as usize) {
                    *l = false;
                }
            }
            if !fits || keys != order.len() {
                return Err(RecordsError::Corrupt(format!(
                    "row {}: its key order does not list exactly the record's keys",
                    self.len + r
                )));
            }
        }
        Ok(())
    }

    /// The layout column `c.field` needs for the values of `c`, and whether its ints
    /// are all exact in `f64`, as [`RecordList::push_grid`] works them out; `None` if
    /// a value is refused.
    fn layout_after_run(&self, c: &ColumnRun<'_>) -> Option<(Layout, bool)> {
        let meta = &self.cols[c.field];
        let mut target = meta.layout;
        let mut exact = true;
        let mut one = |cell: &Cell<'_>| -> bool {
            if let Cell::Int(v) = cell {
                exact &= crate::column::int_fits_f64(*v);
            }
            if fits(target, cell) {
                return true;
            }
            if cell.var_len() > MAX_VALUE_BYTES {
                return false;
            }
            match layout_after(meta, target, cell) {
                Some(t) => {
                    target = t;
                    true
                }
                None => false,
            }
        };
        let valued = |r: usize| c.marks.get(r).is_none_or(|&m| m == Mark::Value);
        let ok = match &c.values {
            Values::Ints(v) => {
                // A layout that holds the least and the greatest int holds every one
                // between (widths and exactness grow with the magnitude).
                let (lo, hi) = v
                    .iter()
                    .enumerate()
                    .filter(|&(r, _)| valued(r))
                    .fold((i64::MAX, i64::MIN), |(lo, hi), (_, &x)| {
                        (lo.min(x), hi.max(x))
                    });
                lo > hi || (one(&Cell::Int(lo)) && one(&Cell::Int(hi)))
            }
            Values::Strs(v) => v
                .iter()
                .enumerate()
                .all(|(r, s)| !valued(r) || one(&Cell::Str(s))),
            Values::Cells(v) => v.iter().flatten().all(&mut one),
        };
        ok.then_some((target, exact))
    }

    /// Pushes the records of `cols`, whose every value fits its column's layout, a run
    /// of rows per chunk, as [`RecordList::push_rows`] pushes a grid's; `var`: each
    /// row's bytes of variable-length data (empty: none); `big`: room for each run's
    /// variable-length values made first, fallibly.
    ///
    /// # Errors
    /// [`RecordsError::ValueOutOfMemory`] (only if `big`); the runs before it are
    /// stored: the caller rolls back.
    fn push_column_rows(&mut self, cols: &Columns<'_>, var: &[usize], big: bool) -> Result<()> {
        let n = cols.num_rows();
        let runs = cols.columns();
        let mut of_field: Vec<Option<&ColumnRun<'_>>> = vec![None; self.cols.len()];
        for c in runs {
            of_field[c.field] = Some(c);
        }
        let var_bytes: usize = var.iter().sum();
        let var_len = |r: usize| var.get(r).copied().unwrap_or(0);
        // The dictionary text the strings could take past its limit: laid out plainly
        // (as `make_text_room` does for a grid).
        for c in runs {
            let j = c.field;
            let Layout::StrDict(_) = self.cols[j].layout else {
                continue;
            };
            let text = self.cols[j].dict().data().len();
            if text + var_bytes <= crate::column::DICT_TEXT_MAX {
                continue;
            }
            let strings: usize = (0..n).map(|r| c.var_len(r)).sum();
            if text + strings > crate::column::DICT_TEXT_MAX {
                self.convert_column(j, Layout::StrPlain);
            }
        }
        let mut keys: Vec<Vec<u32>> = vec![Vec::new(); self.cols.len()];
        let mut cells: Vec<Option<Cell<'_>>> = Vec::new();
        // Per key order of `cols`: its pattern, once a row uses it.
        let mut ids: Vec<Option<u32>> = vec![None; cols.key_orders().0.len()];
        let mut done = 0;
        while done < n {
            let (k, run) = self.next_run(done, n, var_bytes, var_len);
            let span = done..done + run;
            if big {
                // Before any string of the run is interned.
                self.try_column_room(k, &span, &of_field)?;
            }
            // A dictionary column's strings are interned first (the keys written after),
            // and its key width made to hold the dictionary as the run leaves it.
            for c in runs {
                let j = c.field;
                let Layout::StrDict(w) = self.cols[j].layout else {
                    continue;
                };
                let need = match &c.values {
                    Values::Strs(strs) => {
                        let marks = c.marks.get(span.clone()).unwrap_or_default();
                        keys[j].clear();
                        self.cols[j].intern_strs(&strs[span.clone()], marks, &mut keys[j]);
                        self.cols[j].dict().len()
                    }
                    _ if self.cols[j].dict().len() + run <= crate::column::dict_capacity(w) => {
                        continue; // fits even if every row of the run brings a new string
                    }
                    _ => {
                        cells.clear();
                        cells.extend(span.clone().map(|r| c.cell(r)));
                        let most = crate::column::dict_capacity(Width::W16);
                        self.cols[j].intern_run(cells.iter().map(Option::as_ref), most)
                    }
                };
                let wide = key_width(need).max(w);
                if wide != w {
                    self.convert_column(j, Layout::StrDict(wide));
                }
            }
            let chunk = &mut self.chunks[k];
            for (j, cc) in chunk.cols.iter_mut().enumerate() {
                let cc = crate::cow::make_mut(cc);
                let meta = &mut self.cols[j];
                let want = self.incoming.min(self.chunk_rows - cc.len);
                let Some(c) = of_field[j] else {
                    cc.room(run, want, 0);
                    cc.push_run(meta, std::iter::repeat_n(None, run));
                    continue;
                };
                let marks = c.marks.get(span.clone()).unwrap_or_default();
                match (&c.values, &cc.data) {
                    (Values::Ints(v), Data::Int(_)) => {
                        cc.room(run, want, 0);
                        cc.push_ints(&v[span.clone()], marks);
                        continue;
                    }
                    (Values::Strs(v), Data::Keys(_)) => {
                        cc.room(run, want, 0);
                        cc.push_keys(meta, &keys[j], &v[span.clone()], marks);
                        continue;
                    }
                    _ => {}
                }
                cells.clear();
                cells.extend(span.clone().map(|r| c.cell(r)));
                let bytes = match cc.data {
                    Data::Var(_) => cells.iter().flatten().map(Cell::var_len).sum(),
                    _ => 0,
                };
                cc.room(run, want, bytes);
                let each = cells.iter().map(Option::as_ref);
                if let Layout::StrDict(_) = meta.layout {
                    cc.push_dict_run(meta, each);
                } else {
                    cc.push_run(meta, each);
                }
            }
            let start = done;
            self.rows_pushed(k, run, |list, i| match cols.key_order(start + i) {
                None => 0,
                Some(order) => {
                    let o = cols.key_orders().1[start + i] as usize - 1;
                    *ids[o].get_or_insert_with(|| {
                        let keys: Vec<usize> = order.iter().map(|&j| j as usize).collect();
                        list.pattern_id(&keys)
                    })
                }
            });
            done += run;
        }
        Ok(())
    }

    /// Makes room in chunk `k` for the variable-length values of rows `span` of the
    /// columns `of_field` (per field of the list), and in the dictionaries for their
    /// strings, with fallible allocations (see [`RecordList::try_room_for_run`]).
    ///
    /// # Errors
    /// [`RecordsError::ValueOutOfMemory`] naming the column that could not grow and the
    /// run's largest value in it; nothing of the run is stored.
    fn try_column_room(
        &mut self,
        k: usize,
        span: &std::ops::Range<usize>,
        of_field: &[Option<&ColumnRun<'_>>],
    ) -> Result<()> {
        let values = |j: usize| {
            let c = of_field.get(j).copied().flatten()?;
            let bytes = span.clone().map(|r| c.var_len(r)).sum();
            Some((span.len(), bytes))
        };
        let largest = |j: usize| {
            let c = of_field.get(j).copied().flatten();
            let len = |r: usize| c.map_or(0, |c| c.var_len(r));
            let r = span.clone().max_by_key(|&r| len(r)).unwrap_or(span.start);
            (r, len(r))
        };
        self.try_room_for_run(k, span.start, span.len(), values, largest)
    }
}

/// The records of `cols` as a grid over the first `ncols` fields.
fn grid_of<'a>(cols: &Columns<'a>, ncols: usize) -> Grid<'a> {
    let n = cols.num_rows();
    let mut grid = Grid::with_capacity(ncols, n);
    (0..n).for_each(|_| grid.push_row());
    for c in cols.columns() {
        for r in 0..n {
            if let Some(cell) = c.cell(r) {
                grid.set_at(r, c.field, cell);
            }
        }
    }
    grid
}
