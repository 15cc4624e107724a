//! [`Grid`]: records as rows of cells addressed by column index, the input of bulk
//! appends ([`crate::RecordList::push_grid`]).
//!
//! A caller that already knows which column each value belongs to (a parser that keeps
//! the field order of the previous record, a binding that matches key objects by
//! identity) fills a grid and appends it in one call, with no per-record name lookups
//! and no per-record planning: the list checks and widens each column once per grid.

use crate::column::Cell;

/// Rows of cells, one slot per column; an empty slot is an absent key.
#[derive(Clone, Debug, Default)]
pub struct Grid<'a> {
    ncols: usize,
    rows: usize,
    /// Bytes of variable-length data in all rows.
    var_bytes: usize,
    /// Row-major: slot `(r, j)` is `cells[r * ncols + j]`.
    cells: Vec<Option<Cell<'a>>>,
    /// Rows whose keys are not in column order: `(row, start, end)` into `order`.
    orders: Vec<(usize, usize, usize)>,
    order: Vec<u32>,
}

impl<'a> Grid<'a> {
    /// An empty grid for records over the first `ncols` columns of a list.
    pub fn new(ncols: usize) -> Self {
        Grid {
            ncols,
            ..Grid::default()
        }
    }

    /// An empty grid with room for `rows` rows.
    pub fn with_capacity(ncols: usize, rows: usize) -> Self {
        Grid {
            ncols,
            cells: Vec::with_capacity(ncols * rows),
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

    /// True when the grid holds no rows.
    pub fn is_empty(&self) -> bool {
        self.num_rows() == 0
    }

    /// Starts a new row with every key absent.
    pub fn push_row(&mut self) {
        self.rows += 1;
        self.cells.resize(self.cells.len() + self.ncols, None);
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
    pub fn set_at(&mut self, r: usize, j: usize, cell: Cell<'a>) -> bool {
        if r >= self.rows || j >= self.ncols {
            return false;
        }
        let slot = &mut self.cells[r * self.ncols + j];
        if slot.is_some() {
            return false;
        }
        self.var_bytes += cell.var_len();
        *slot = Some(cell);
        true
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
        self.var_bytes -= self.var_len(r);
        self.rows = r;
        self.cells.truncate(r * self.ncols);
        if let Some(&(last, start, _)) = self.orders.last() {
            if last == r {
                self.orders.pop();
                self.order.truncate(start);
            }
        }
    }

    /// Removes every row, keeping the allocations.
    pub fn clear(&mut self) {
        self.rows = 0;
        self.var_bytes = 0;
        self.cells.clear();
        self.orders.clear();
        self.order.clear();
    }

    /// The cell of row `r`, column `j` (`None`: absent).
    #[inline]
    pub fn get(&self, r: usize, j: usize) -> Option<&Cell<'a>> {
        if j < self.ncols {
            self.cells[r * self.ncols + j].as_ref()
        } else {
            None
        }
    }

    /// The cells of row `r`, by column.
    #[inline]
    pub fn row(&self, r: usize) -> &[Option<Cell<'a>>] {
        &self.cells[r * self.ncols..(r + 1) * self.ncols]
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
        self.row(r).iter().flatten().map(Cell::var_len).sum()
    }
}

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
