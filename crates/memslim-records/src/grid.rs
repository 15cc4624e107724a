//! [`Grid`]: records as rows of cells addressed by column index, the input of bulk
//! appends ([`crate::RecordList::push_grid`]).
//!
//! A caller that already knows which column each value belongs to (a parser that keeps
//! the field order of the previous record, a binding that matches key objects by
//! identity) fills a grid and appends it in one call, with no per-record name lookups
//! and no per-record planning: the list checks and widens each column once per grid.
//!
//! A grid keeps only the cells it is given (sparse): records that each have a few of
//! many fields cost what their values cost, not rows times fields.

use crate::column::Cell;

/// One cell present in a grid.
#[derive(Clone, Debug)]
struct Slot<'a> {
    row: u32,
    col: u32,
    cell: Cell<'a>,
}

/// Rows of cells, each in one of the grid's columns; a column a row has no cell in is
/// an absent key.
///
/// # Memory
/// 32 bytes per cell given, 8 per row, 4 per column that was given a cell; rows are
/// numbered below `u32::MAX`.
#[derive(Clone, Debug, Default)]
pub struct Grid<'a> {
    ncols: usize,
    rows: usize,
    /// Bytes of variable-length data in all rows.
    var_bytes: usize,
    /// The cells given, in the order given.
    cells: Vec<Slot<'a>>,
    /// Whether `cells` is in row order (rows filled one after the other; not so once a
    /// cell is put in an earlier row by [`Grid::set_at`]).
    by_row: bool,
    /// Bytes of variable-length data in each row.
    row_var: Vec<usize>,
    /// `seen[j]`: no cell of column `j` is in a row at or past it (a column past the
    /// end: none at all). A cell for a row at or past it needs no search for a repeat.
    seen: Vec<u32>,
    /// Rows whose keys are not in column order: `(row, start, end)` into `order`.
    orders: Vec<(usize, usize, usize)>,
    order: Vec<u32>,
}

/// The cells of a grid by column: for each column, the indexes of its cells in row
/// order ([`Grid::columns`]).
pub(crate) struct Columns {
    /// Column `j`'s cells are `idx[start[j]..start[j + 1]]`.
    start: Vec<usize>,
    idx: Vec<u32>,
}

impl Columns {
    /// Indexes (into the grid) of column `j`'s cells, in row order.
    pub(crate) fn of(&self, j: usize) -> &[u32] {
        match (self.start.get(j), self.start.get(j + 1)) {
            (Some(&s), Some(&e)) => &self.idx[s..e],
            _ => &[],
        }
    }
}

impl<'a> Grid<'a> {
    /// An empty grid for records over the first `ncols` columns of a list.
    pub fn new(ncols: usize) -> Self {
        Grid {
            ncols,
            by_row: true,
            ..Grid::default()
        }
    }

    /// An empty grid with room for `rows` rows (and, up to a bound, for a cell in
    /// every column of each).
    pub fn with_capacity(ncols: usize, rows: usize) -> Self {
        Grid {
            ncols,
            by_row: true,
            cells: Vec::with_capacity(ncols.saturating_mul(rows).min(1 << 18)),
            row_var: Vec::with_capacity(rows.min(1 << 20)),
            ..Grid::default()
        }
    }

    /// Columns per row.
    pub fn num_cols(&self) -> usize {
        self.ncols
    }

    /// Rows held.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Cells held (keys present, in all rows).
    pub fn num_cells(&self) -> usize {
        self.cells.len()
    }

    /// True when the grid holds no rows.
    pub fn is_empty(&self) -> bool {
        self.num_rows() == 0
    }

    /// Starts a new row with every key absent.
    pub fn push_row(&mut self) {
        self.rows += 1;
        self.row_var.push(0);
    }

    /// Puts `cell` in column `j` of the last row. Returns false (and changes nothing)
    /// if there is no row, `j` is out of range, or the slot is already filled.
    pub fn set(&mut self, j: usize, cell: Cell<'a>) -> bool {
        match self.rows.checked_sub(1) {
            Some(r) => self.set_at(r, j, cell),
            None => false,
        }
    }

    /// Puts `cell` in column `j` of row `r`: [`Grid::set`] for any row, so that a grid
    /// can be filled column by column. Returns false (and changes nothing) if there is
    /// no row `r`, `j` is out of range, or the slot is already filled.
    ///
    /// # Performance
    /// Constant time when the cell's row is at or past every row column `j` has a cell
    /// in (rows filled in order, or one column after the other); else a search.
    pub fn set_at(&mut self, r: usize, j: usize, cell: Cell<'a>) -> bool {
        if r >= self.rows || j >= self.ncols {
            return false;
        }
        let (Ok(row), Ok(col)) = (u32::try_from(r), u32::try_from(j)) else {
            return false;
        };
        if j >= self.seen.len() {
            self.seen.resize(j + 1, 0);
        }
        if row < self.seen[j] && self.find(r, j).is_some() {
            return false;
        }
        self.seen[j] = self.seen[j].max(row.saturating_add(1));
        if self.cells.last().is_some_and(|s| s.row > row) {
            self.by_row = false;
        }
        let len = cell.var_len();
        self.var_bytes += len;
        self.row_var[r] += len;
        self.cells.push(Slot { row, col, cell });
        true
    }

    /// Index in `cells` of the cell of row `r`, column `j`.
    fn find(&self, r: usize, j: usize) -> Option<usize> {
        if self.by_row {
            let from = self.cells.partition_point(|s| (s.row as usize) < r);
            self.cells[from..]
                .iter()
                .take_while(|s| s.row as usize == r)
                .position(|s| s.col as usize == j)
                .map(|k| from + k)
        } else {
            self.cells
                .iter()
                .position(|s| s.row as usize == r && s.col as usize == j)
        }
    }

    /// Records the key order of the last row when it differs from column order
    /// (`order` lists the row's columns in the record's key order).
    pub fn set_order(&mut self, order: &[usize]) {
        if let Some(r) = self.num_rows().checked_sub(1) {
            self.set_order_at(r, order);
        }
    }

    /// [`Grid::set_order`] for row `r`. Rows are given their orders in ascending order:
    /// an order for a row at or before the last one given one is ignored.
    pub fn set_order_at(&mut self, r: usize, order: &[usize]) {
        let after_last = self.orders.last().is_none_or(|&(last, _, _)| last < r);
        if r >= self.rows || !after_last || order.windows(2).all(|w| w[0] < w[1]) {
            return;
        }
        let start = self.order.len();
        self.order.extend(order.iter().map(|&j| j as u32));
        self.orders.push((r, start, self.order.len()));
    }

    /// Removes the last row (and its key order).
    pub fn pop_row(&mut self) {
        let Some(r) = self.rows.checked_sub(1) else {
            return;
        };
        self.var_bytes -= self.row_var.pop().unwrap_or(0);
        self.rows = r;
        if self.by_row {
            let keep = self.cells.partition_point(|s| (s.row as usize) < r);
            self.cells.truncate(keep);
        } else {
            self.cells.retain(|s| (s.row as usize) < r);
        }
        // No cell is left in row `r` or past it.
        let r = u32::try_from(r).unwrap_or(u32::MAX);
        for s in &mut self.seen {
            *s = (*s).min(r);
        }
        if let Some(&(last, start, _)) = self.orders.last() {
            if last == self.rows {
                self.orders.pop();
                self.order.truncate(start);
            }
        }
    }

    /// Removes every row, keeping the allocations.
    pub fn clear(&mut self) {
        self.rows = 0;
        self.var_bytes = 0;
        // Only the columns given cells (not every column of a wide grid).
        for s in &self.cells {
            if let Some(seen) = self.seen.get_mut(s.col as usize) {
                *seen = 0;
            }
        }
        self.cells.clear();
        self.by_row = true;
        self.row_var.clear();
        self.orders.clear();
        self.order.clear();
    }

    /// The cell of row `r`, column `j` (`None`: absent). A search among the cells of
    /// row `r` (when rows were filled in order; else among all cells): for checks and
    /// tests, not for reading a grid cell by cell.
    pub fn get(&self, r: usize, j: usize) -> Option<&Cell<'a>> {
        if j < self.ncols && r < self.rows {
            self.find(r, j).map(|k| &self.cells[k].cell)
        } else {
            None
        }
    }

    /// Every cell as `(row, column, cell)`, in row order (within a row, in the order
    /// given).
    pub(crate) fn by_rows(&self) -> impl Iterator<Item = (usize, usize, &Cell<'a>)> + '_ {
        let sorted: Vec<u32> = if self.by_row {
            Vec::new()
        } else {
            let mut idx: Vec<u32> = (0..self.cells.len() as u32).collect();
            idx.sort_by_key(|&i| self.cells[i as usize].row);
            idx
        };
        (0..self.cells.len()).map(move |k| {
            let s = &self.cells[sorted.get(k).map_or(k, |&i| i as usize)];
            (s.row as usize, s.col as usize, &s.cell)
        })
    }

    /// The cells by column, each column's in row order: work and memory in proportion
    /// to the cells and columns.
    pub(crate) fn columns(&self) -> Columns {
        let mut start = vec![0usize; self.ncols + 1];
        for s in &self.cells {
            start[s.col as usize + 1] += 1;
        }
        for j in 0..self.ncols {
            start[j + 1] += start[j];
        }
        let mut next = start.clone();
        let mut idx = vec![0u32; self.cells.len()];
        for (i, s) in self.cells.iter().enumerate() {
            let at = &mut next[s.col as usize];
            idx[*at] = i as u32;
            *at += 1;
        }
        if !self.by_row {
            for j in 0..self.ncols {
                idx[start[j]..start[j + 1]].sort_by_key(|&i| self.cells[i as usize].row);
            }
        }
        Columns { start, idx }
    }

    /// The row and cell at index `i` of the grid's cells (an index of [`Columns`]).
    #[inline]
    pub(crate) fn slot(&self, i: u32) -> (usize, &Cell<'a>) {
        let s = &self.cells[i as usize];
        (s.row as usize, &s.cell)
    }

    /// Key order of row `r` if it differs from column order.
    pub(crate) fn order_of(&self, r: usize) -> Option<&[u32]> {
        // Rows with an order are few and ascending: binary search.
        let i = self.orders.partition_point(|&(row, _, _)| row < r);
        match self.orders.get(i) {
            Some(&(row, s, e)) if row == r => Some(&self.order[s..e]),
            _ => None,
        }
    }

    /// Bytes of variable-length data in all rows.
    pub(crate) fn var_bytes(&self) -> usize {
        self.var_bytes
    }

    /// Bytes of variable-length data in row `r`.
    pub(crate) fn var_len(&self, r: usize) -> usize {
        self.row_var.get(r).copied().unwrap_or(0)
    }
}

/// Cursor over the cells of one column ([`Columns::of`]) for runs of consecutive rows.
pub(crate) struct ColumnRun<'g> {
    idx: &'g [u32],
    at: usize,
}

impl<'g> ColumnRun<'g> {
    pub(crate) fn new(idx: &'g [u32]) -> Self {
        ColumnRun { idx, at: 0 }
    }

    /// The column's cells of rows `from..to`, `from` being the end of the previous run
    /// (or 0); moves the cursor past them.
    pub(crate) fn take<'a>(
        &mut self,
        grid: &'g Grid<'a>,
        from: usize,
        to: usize,
    ) -> ColumnCells<'g, 'a> {
        let start = self.at;
        while self.idx.get(self.at).is_some_and(|&i| grid.slot(i).0 < to) {
            self.at += 1;
        }
        ColumnCells {
            grid,
            idx: &self.idx[start..self.at],
            row: from,
            end: to,
            pos: 0,
        }
    }
}

/// The cells of one column over a run of rows, row by row (`None`: absent).
#[derive(Clone)]
pub(crate) struct ColumnCells<'g, 'a> {
    grid: &'g Grid<'a>,
    /// The run's cells of the column, in row order.
    idx: &'g [u32],
    row: usize,
    end: usize,
    pos: usize,
}

impl<'g, 'a> ColumnCells<'g, 'a> {
    /// The cells present in the run.
    pub(crate) fn present(&self) -> impl Iterator<Item = &'g Cell<'a>> + '_ {
        self.idx.iter().map(|&i| self.grid.slot(i).1)
    }

    /// The cells present in the run, each with its row in the grid.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (usize, &'g Cell<'a>)> + '_ {
        self.idx.iter().map(|&i| self.grid.slot(i))
    }

    /// No cell in the run.
    pub(crate) fn is_blank(&self) -> bool {
        self.idx.is_empty()
    }
}

impl<'g, 'a> Iterator for ColumnCells<'g, 'a> {
    type Item = Option<&'g Cell<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.row >= self.end {
            return None;
        }
        let r = self.row;
        self.row += 1;
        match self.idx.get(self.pos) {
            Some(&i) => {
                let (row, cell) = self.grid.slot(i);
                if row == r {
                    self.pos += 1;
                    Some(Some(cell))
                } else {
                    Some(None)
                }
            }
            None => Some(None),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.row;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ColumnCells<'_, '_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CellRef, RecordList};

    /// Strings borrowed from one place repeat by address (as a Python string object
    /// does in many records), among new ones and nulls, pushed in grids into a
    /// dictionary too large for the cache (looked up a group at a time): each row
    /// reads back the string it was given.
    #[test]
    fn strings_repeated_by_address_among_new_ones_read_back() {
        let shared = ["DE", "FR", "a longer shared string"];
        let fresh: Vec<String> = (0..40_000).map(|k| format!("entry number {k}")).collect();
        let mut want: Vec<Option<&str>> = Vec::new();
        for (k, f) in fresh.iter().enumerate() {
            want.push(Some(f));
            if k % 3 == 0 {
                want.push(Some(shared[k % shared.len()]));
            }
            if k % 7 == 0 {
                want.push(None);
            }
            if k % 5 == 0 {
                want.push(Some(&fresh[k / 2]));
            }
        }
        let mut list = RecordList::new();
        let f = list.key_field("s", 0).unwrap();
        for block in want.chunks(1_000) {
            let mut g = Grid::new(1);
            for (r, s) in block.iter().enumerate() {
                g.push_row();
                assert!(g.set_at(r, f, s.map_or(Cell::Null, Cell::Str)));
            }
            list.push_grid(&g).unwrap();
        }
        assert_eq!(list.len(), want.len());
        for (r, s) in want.iter().enumerate() {
            match (list.get(r, f), s) {
                (CellRef::DictStr(_, got), Some(s)) => assert_eq!(got, *s, "row {r}"),
                (CellRef::Null, None) => {}
                (got, s) => panic!("row {r}: {got:?} for {s:?}"),
            }
        }
    }

    #[test]
    fn filled_column_by_column() {
        let mut g = Grid::new(2);
        assert!(!g.set_at(0, 0, Cell::Int(1)), "no row yet");
        (0..3).for_each(|_| g.push_row());
        for r in 0..3 {
            assert!(g.set_at(r, 1, Cell::Str("ab")));
        }
        assert!(g.set_at(1, 0, Cell::Int(5)));
        assert!(!g.set_at(1, 0, Cell::Null), "slot already filled");
        assert!(!g.set_at(3, 0, Cell::Null), "no row 3");
        assert!(!g.set_at(0, 2, Cell::Null), "no column 2");
        g.set_order_at(1, &[1, 0]);
        g.set_order_at(0, &[1, 0]); // before the last row given an order: ignored
        g.set_order_at(2, &[1]); // column order: nothing to record
        assert_eq!(g.order_of(0), None);
        assert_eq!(g.order_of(1), Some(&[1u32, 0][..]));
        assert_eq!(g.order_of(2), None);
        assert_eq!(g.get(1, 0), Some(&Cell::Int(5)));
        assert_eq!(g.get(0, 0), None);
        assert_eq!(g.var_bytes(), 6);
    }

    #[test]
    fn rows_slots_and_orders() {
        let mut g = Grid::new(3);
        assert!(g.is_empty());
        assert!(!g.set(0, Cell::Int(1)), "no row yet");
        g.push_row();
        assert!(g.set(2, Cell::Int(1)));
        assert!(g.set(0, Cell::Str("a")));
        assert!(!g.set(0, Cell::Null), "slot already filled");
        assert!(!g.set(3, Cell::Null), "out of range");
        g.set_order(&[2, 0]);
        g.push_row();
        g.set_order(&[0, 1]);
        assert_eq!(g.num_rows(), 2);
        assert_eq!(g.get(0, 2), Some(&Cell::Int(1)));
        assert_eq!(g.get(0, 1), None);
        assert_eq!(g.order_of(0), Some(&[2u32, 0][..]));
        assert_eq!(g.order_of(1), None);
        assert_eq!(g.var_len(0), 1);
        assert_eq!(g.var_bytes(), 1);
        g.pop_row();
        g.pop_row();
        assert!(g.is_empty());
        assert!(g.order.is_empty());
        assert_eq!(g.var_bytes(), 0);
    }

    #[test]
    fn rows_without_columns_are_counted() {
        let mut g = Grid::new(0);
        g.push_row();
        g.push_row();
        assert_eq!(g.num_rows(), 2);
        g.pop_row();
        assert_eq!(g.num_rows(), 1);
        assert_eq!(g.order_of(0), None);
    }
}
