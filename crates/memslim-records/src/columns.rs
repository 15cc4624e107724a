//! [`Columns`]: records given column by column, the input of
//! [`crate::RecordList::push_columns`].
//!
//! A source that holds its records in columns already (a record file's batch) hands
//! them over a column at a time, typed where it can: a run of ints or of strings is
//! checked and stored in one loop per column, with no cell per value and no grid.

use crate::column::Cell;

/// What a row of an [`Values::Ints`] or [`Values::Strs`] column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mark {
    /// The row's value.
    Value,
    /// `None`.
    Null,
    /// The record lacks the key.
    Absent,
}

/// One column's values, one per row.
#[derive(Clone, Debug)]
pub enum Values<'a> {
    /// Ints; a row marked null or absent holds any value (ignored).
    Ints(Vec<i64>),
    /// Strings; a row marked null or absent holds any string (ignored).
    Strs(Vec<&'a str>),
    /// Any values: `None` is an absent key (the column's marks must be empty).
    Cells(Vec<Option<Cell<'a>>>),
}

impl Values<'_> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Values::Ints(v) => v.len(),
            Values::Strs(v) => v.len(),
            Values::Cells(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The values of one field for every row of a [`Columns`].
#[derive(Clone, Debug)]
pub struct ColumnRun<'a> {
    /// The field of the list they go to.
    pub field: usize,
    /// The values.
    pub values: Values<'a>,
    /// Per row, for ints and strings: value, null or absent. Empty: every row holds a
    /// value.
    pub marks: Vec<Mark>,
}

impl<'a> ColumnRun<'a> {
    /// The value of row `r` as a cell (`None`: absent).
    #[inline]
    pub(crate) fn cell(&self, r: usize) -> Option<Cell<'a>> {
        match self.marks.get(r) {
            Some(Mark::Null) => return Some(Cell::Null),
            Some(Mark::Absent) => return None,
            _ => {}
        }
        match &self.values {
            Values::Ints(v) => Some(Cell::Int(v[r])),
            Values::Strs(v) => Some(Cell::Str(v[r])),
            Values::Cells(v) => v[r],
        }
    }

    /// Bytes of variable-length data in row `r`.
    #[inline]
    pub(crate) fn var_len(&self, r: usize) -> usize {
        match &self.values {
            Values::Ints(_) => 0,
            Values::Strs(v) => match self.marks.get(r) {
                Some(Mark::Null | Mark::Absent) => 0,
                _ => v[r].len(),
            },
            Values::Cells(v) => v[r].as_ref().map_or(0, Cell::var_len),
        }
    }
}

/// Records given column by column: each record's keys are in field order (unless
/// [`Columns::set_key_orders`] gives it another), and a field no column names is absent
/// from every record. See [`crate::RecordList::push_columns`].
#[derive(Clone, Debug, Default)]
pub struct Columns<'a> {
    rows: usize,
    cols: Vec<ColumnRun<'a>>,
    /// Key orders: lists of fields, each listing a record's keys in its order.
    order_table: &'a [Vec<u32>],
    /// Per row, 0 (field order) or `i` for `order_table[i - 1]`; empty: all 0.
    orders: &'a [u32],
}

impl<'a> Columns<'a> {
    /// No columns yet, for `rows` records.
    pub fn new(rows: usize) -> Self {
        Columns {
            rows,
            cols: Vec::new(),
            order_table: &[],
            orders: &[],
        }
    }

    /// Gives records keys in an order of their own: row `r` lists its keys in field
    /// order if `per_row[r]` is 0, else in the order of `table[per_row[r] - 1]`, which
    /// must list exactly the fields the record has a value for (checked when pushed).
    /// `false`, with nothing changed, unless `per_row` has one entry per record (or
    /// none: every record in field order) and each names an order of `table`.
    pub fn set_key_orders(&mut self, table: &'a [Vec<u32>], per_row: &'a [u32]) -> bool {
        let fits = per_row.is_empty() || per_row.len() == self.rows;
        if !fits || per_row.iter().any(|&i| i as usize > table.len()) {
            return false;
        }
        self.order_table = table;
        self.orders = per_row;
        true
    }

    /// The key order of row `r`: `None` for field order, else its fields in key order.
    #[inline]
    pub(crate) fn key_order(&self, r: usize) -> Option<&'a [u32]> {
        match self.orders.get(r).copied() {
            None | Some(0) => None,
            Some(i) => self.order_table.get(i as usize - 1).map(Vec::as_slice),
        }
    }

    /// The key orders and, per row, the index of its own (see
    /// [`Columns::set_key_orders`]).
    pub(crate) fn key_orders(&self) -> (&'a [Vec<u32>], &'a [u32]) {
        (self.order_table, self.orders)
    }

    /// The number of records.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Adds the values of field `field`. `false`, with nothing added, unless `values`
    /// (and `marks`, if not empty) hold one entry per record, and marks go with ints
    /// or strings only.
    pub fn push(&mut self, field: usize, values: Values<'a>, marks: Vec<Mark>) -> bool {
        let marks_ok =
            marks.is_empty() || (marks.len() == self.rows && !matches!(values, Values::Cells(_)));
        if values.len() != self.rows || !marks_ok {
            return false;
        }
        self.cols.push(ColumnRun {
            field,
            values,
            marks,
        });
        true
    }

    /// The columns given.
    pub fn columns(&self) -> &[ColumnRun<'a>] {
        &self.cols
    }
}
