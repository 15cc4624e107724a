//! [`RecordList`]: the chunked, columnar list of records.

mod block;
// Appends of records given column by column.
mod columns;
// Rebuilding string dictionaries without the strings no record holds.
mod compact;
mod snapshot;
// Constructors and appends for hosts (schema plus field names, rows of another list).
mod merge;

pub use block::CellSink;
pub use snapshot::Snapshot;
pub(crate) use snapshot::VERSION as SNAPSHOT_VERSION;

use std::sync::Arc;

use hashbrown::HashMap;

use crate::bitmap::Bitmap;
use crate::column::{Cell, CellRef};
use crate::column::{ColChunk, ColMeta, DType, Data, Layout, layout_after, layout_for};
use crate::grid::{ColumnCells, ColumnRun, Columns, Grid};
use crate::intvec::Width;
use crate::keys::KeyOrder;
use crate::process::Buffer;
use crate::variant;
use crate::{RecordsError, Result};

/// Default rows per chunk: big enough that a million-row numeric column is one
/// contiguous buffer (zero-copy to numpy), small enough that no buffer grows past one
/// chunk's column.
pub const DEFAULT_CHUNK_ROWS: usize = 1 << 20;

/// A chunk is closed once its variable-length data passes this many bytes.
const CHUNK_VAR_BYTES: usize = 256 << 20;

/// Most bytes of strings a chunk takes when a dictionary column is laid out plainly
/// (see [`RecordList::split_for_plain_text`]); the crate's own tests reach a smaller one.
#[cfg(not(test))]
const SPLIT_FOR_TEXT_BYTES: usize = CHUNK_VAR_BYTES;
#[cfg(test)]
const SPLIT_FOR_TEXT_BYTES: usize = 1 << 20;

/// Largest single string, bytes or encoded value.
pub const MAX_VALUE_BYTES: usize = 1 << 30;

/// An append holding a value (or, in a grid, values) of at least this many bytes grows
/// the buffers that take them with fallible allocations, and on failure is undone and
/// reported ([`RecordsError::ValueOutOfMemory`]): memory that is not there must not
/// abort the process. Smaller appends skip the checkpoint this takes.
pub const BIG_VALUE: usize = 1 << 20;

/// Whether `record` holds a value of [`BIG_VALUE`] bytes or more.
fn is_big(record: &[(&str, Cell<'_>)]) -> bool {
    record.iter().any(|(_, c)| c.var_len() >= BIG_VALUE)
}

#[derive(Clone, Debug)]
struct Chunk {
    /// Rows `[off, off + len)` of the column chunks belong to this list (slices share).
    off: usize,
    len: usize,
    cols: Vec<Arc<ColChunk>>,
    /// Key-order pattern per row (0 = column order); allocated only when needed.
    order: Option<Arc<Vec<u32>>>,
}

#[derive(Clone, Debug, Default)]
struct Patterns {
    list: Vec<Arc<[u32]>>,
    index: HashMap<Arc<[u32]>, u32>,
}

impl Patterns {
    fn id(&mut self, order: &[u32]) -> u32 {
        if let Some(id) = self.index.get(order) {
            return *id;
        }
        let p: Arc<[u32]> = order.into();
        self.list.push(p.clone());
        let id = self.list.len() as u32;
        self.index.insert(p, id);
        id
    }

    fn get(&self, id: u32) -> &[u32] {
        self.list.get(id as usize - 1).map_or(&[], |p| p)
    }
}

/// Where a planned record's cells go.
struct Plan {
    /// Column of each record entry, in record order.
    cols: Vec<usize>,
    new_cols: Vec<(Arc<str>, Layout)>,
    widen: Vec<(usize, Layout)>,
}

impl Plan {
    /// The plan adds fields or widens a layout (so it must be applied before pushing).
    fn changes_layout(&self) -> bool {
        !self.widen.is_empty() || !self.new_cols.is_empty()
    }
}

/// State to return to if a multi-record operation fails part-way.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    len: usize,
    metas: Vec<ColMeta>,
    /// Per field, its dictionary's lineage and length ([`crate::strdict::StrDict::lineage`]).
    dicts: Vec<(u64, usize)>,
    patterns: usize,
}

/// Sum of a numeric column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sum {
    /// Integer (and bool) columns sum exactly.
    Int(i128),
    /// Float columns.
    Float(f64),
}

impl Sum {
    /// The mean of `n` values that add up to this sum; `None` when `n` is 0. As Python's
    /// `sum(values) / n`: an int sum is divided exactly and rounded once to the nearest
    /// double (ties to even), as Python divides ints, not rounded to a double first.
    pub fn mean(self, n: usize) -> Option<f64> {
        if n == 0 {
            return None;
        }
        Some(match self {
            Sum::Int(i) => int_ratio(i, n as u64),
            Sum::Float(f) => f / n as f64,
        })
    }
}

/// `a / n` (`n > 0`) rounded once to the nearest double, ties to even.
fn int_ratio(a: i128, n: u64) -> f64 {
    const EXACT: u128 = 1 << f64::MANTISSA_DIGITS;
    let (m, d) = (a.unsigned_abs(), u128::from(n));
    let q = if m <= EXACT && d <= EXACT {
        // Both exact as doubles: IEEE division rounds once.
        m as f64 / n as f64
    } else {
        // Scaled so that the quotient has at least 56 bits (three more than a double
        // keeps), with its lowest bit set when the division leaves a remainder: that
        // bit then only breaks what would otherwise look like a tie, so converting the
        // quotient rounds as the exact ratio would. `m << s` has at most 64 + 56 bits.
        let bits = |x: u128| 128 - x.leading_zeros();
        let s = (56 + bits(d)).saturating_sub(bits(m));
        let scaled = m << s;
        let (q, r) = (scaled / d, scaled % d);
        // 2**-s exactly (s <= 120): a power of two scales without rounding.
        let scale = f64::from_bits(u64::from(1023 - s) << 52);
        (q | u128::from(r != 0)) as f64 * scale
    };
    if a < 0 { -q } else { q }
}

/// A list of records (string-keyed maps) stored column by column in Arrow layout.
///
/// Columns appear as keys are first seen and widen as values arrive (null to anything,
/// int to float, mismatches to the `object` variant encoding); or they are declared up
/// front and enforced. Storage is split in chunks of at most `chunk_rows` rows; copies
/// and slices share chunks until written (copy-on-write).
///
/// # Memory
/// Per value: 1-8 bytes for ints (narrowest width), 8 for floats, 1 bit for bools, key
/// width (1-4 bytes) for dictionary-encoded strings, 4 + length for plain strings and
/// bytes, plus 1 bit per row for nulls once a column has one, and for absent keys once
/// a record lacks one.
#[derive(Clone, Debug)]
pub struct RecordList {
    cols: Vec<ColMeta>,
    by_name: HashMap<Arc<str>, usize>,
    chunks: Vec<Chunk>,
    /// `starts[k]` is the index of the first row of chunk `k`.
    starts: Vec<usize>,
    len: usize,
    chunk_rows: usize,
    closed: bool,
    patterns: Patterns,
    /// Rows a bulk append announced and has not pushed yet: the tail's buffers make
    /// room for them at once instead of growing run by run ([`RecordList::expect_rows`]).
    pub(crate) incoming: usize,
}

impl Default for RecordList {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordList {
    /// An empty list that infers its schema.
    pub fn new() -> Self {
        Self::with_chunk_rows(DEFAULT_CHUNK_ROWS)
    }

    /// An empty list with chunks of at most `chunk_rows` rows (at least 1).
    pub fn with_chunk_rows(chunk_rows: usize) -> Self {
        RecordList {
            cols: Vec::new(),
            by_name: HashMap::new(),
            chunks: Vec::new(),
            starts: Vec::new(),
            len: 0,
            chunk_rows: chunk_rows.max(1),
            closed: false,
            incoming: 0,
            patterns: Patterns::default(),
        }
    }

    /// An empty list whose fields and types are fixed: a value of another type or a
    /// field not listed is an error. Every field accepts null.
    ///
    /// # Errors
    /// [`RecordsError::DuplicateKey`] if a name repeats.
    pub fn with_schema(fields: &[(&str, DType)], chunk_rows: usize) -> Result<Self> {
        let mut l = Self::with_chunk_rows(chunk_rows);
        for (name, dtype) in fields {
            if l.by_name.contains_key(*name) {
                return Err(RecordsError::DuplicateKey {
                    row: 0,
                    field: (*name).to_owned(),
                });
            }
            let name: Arc<str> = (*name).into();
            l.by_name.insert(name.clone(), l.cols.len());
            l.cols.push(ColMeta::new(name, Some(*dtype)));
        }
        l.closed = true;
        Ok(l)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rows per chunk.
    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }

    /// Number of chunks (tests and diagnostics).
    pub fn num_chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Number of fields (columns).
    pub fn num_fields(&self) -> usize {
        self.cols.len()
    }

    /// Name of field `j`.
    pub fn field_name(&self, j: usize) -> &str {
        &self.cols[j].name
    }

    /// Shared name of field `j` (cheap to clone).
    pub fn field_name_arc(&self, j: usize) -> &Arc<str> {
        &self.cols[j].name
    }

    /// Gives every field a new name at once, `names[j]` to field `j` (the values,
    /// types and key orders stay): for records matched by position, such as tuples of
    /// lists with other field names.
    ///
    /// # Errors
    /// [`RecordsError::FieldNames`] when `names` does not have one name per field or
    /// repeats one; the list is then unchanged.
    pub fn rename_fields(&mut self, names: &[&str]) -> Result<()> {
        if names.len() != self.cols.len() {
            return Err(RecordsError::FieldNames(format!(
                "{} names for {} fields",
                names.len(),
                self.cols.len()
            )));
        }
        let mut by_name = HashMap::with_capacity(names.len());
        for (j, n) in names.iter().enumerate() {
            if by_name.insert(Arc::<str>::from(*n), j).is_some() {
                return Err(RecordsError::FieldNames(format!("{n:?} is given twice")));
            }
        }
        for (c, n) in self.cols.iter_mut().zip(names) {
            c.name = Arc::from(*n);
        }
        self.by_name = by_name;
        Ok(())
    }

    /// Index of the field named `name`.
    #[inline]
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Logical type of field `j`.
    pub fn field_dtype(&self, j: usize) -> DType {
        self.cols[j].layout.dtype()
    }

    /// Physical layout of field `j`.
    pub fn field_layout(&self, j: usize) -> Layout {
        self.cols[j].layout
    }

    /// For a dictionary-encoded string field: an identity of its dictionary (never 0,
    /// never reused in the process; it changes whenever the dictionary is replaced,
    /// copied or rebuilt, see [`RecordList::compact_dictionaries`]) and its length.
    /// Positions in [`CellRef::DictStr`] mean the same string for as long as both stay
    /// the same, or the length only grows. Lets a host cache one string object per
    /// distinct value.
    pub fn dictionary_state(&self, j: usize) -> Option<(usize, usize)> {
        match (self.cols[j].layout, &self.cols[j].dict) {
            (Layout::StrDict(_), Some(d)) => Some((d.id() as usize, d.len())),
            _ => None,
        }
    }

    /// The schema was declared (and is enforced).
    pub fn has_declared_schema(&self) -> bool {
        self.closed
    }

    /// Declared type of field `j`, if the schema was declared.
    pub fn field_declared(&self, j: usize) -> Option<DType> {
        self.cols[j].declared
    }

    /// Adds a field that no record has yet (all rows absent); returns its index, or the
    /// existing index if the field is already there.
    ///
    /// # Errors
    /// [`RecordsError::UnknownField`] when the schema is declared and lacks `name`.
    pub fn add_field(&mut self, name: &str) -> Result<usize> {
        self.add_field_of(name, DType::Null)
    }

    /// [`RecordList::add_field`] for a field whose type is known before its values
    /// (a CSV column typed over the whole input): it reports `dtype` even while every
    /// value it has is null. The type is not declared: a value of another type widens
    /// it as it would any field. An existing field is left as it is.
    ///
    /// # Errors
    /// As [`RecordList::add_field`].
    ///
    /// # Memory
    /// One entry per field, and an all-absent column in each chunk.
    pub fn add_field_of(&mut self, name: &str, dtype: DType) -> Result<usize> {
        if let Some(j) = self.field_index(name) {
            return Ok(j);
        }
        if self.closed {
            return Err(RecordsError::UnknownField {
                row: self.len,
                field: name.to_owned(),
            });
        }
        let plan = Plan {
            cols: Vec::new(),
            new_cols: vec![(name.into(), Layout::first_for(dtype))],
            widen: Vec::new(),
        };
        self.apply(&plan);
        Ok(self.cols.len() - 1)
    }

    /// [`RecordList::add_field`] for many names at once: the index of each, new fields
    /// added in the order given (a name given twice is one field). Work in proportion to
    /// the fields and chunks, where adding them one by one touches every chunk's fields
    /// once per new field.
    ///
    /// # Errors
    /// As [`RecordList::add_field`], for the first name the declared schema lacks; no
    /// field is added then.
    pub fn add_fields(&mut self, names: &[&str]) -> Result<Vec<usize>> {
        let mut fresh: HashMap<&str, usize> = HashMap::new();
        let mut new_cols = Vec::new();
        let mut out = Vec::with_capacity(names.len());
        for &name in names {
            if let Some(j) = self.field_index(name).or_else(|| fresh.get(name).copied()) {
                out.push(j);
                continue;
            }
            if self.closed {
                return Err(RecordsError::UnknownField {
                    row: self.len,
                    field: name.to_owned(),
                });
            }
            let j = self.cols.len() + new_cols.len();
            fresh.insert(name, j);
            new_cols.push((Arc::from(name), Layout::Null));
            out.push(j);
        }
        if !new_cols.is_empty() {
            self.apply(&Plan {
                cols: Vec::new(),
                new_cols,
                widen: Vec::new(),
            });
        }
        Ok(out)
    }

    /// [`RecordList::add_field`] for a key of a record that is to be row `row`: the
    /// error names that row.
    ///
    /// # Errors
    /// As [`RecordList::add_field`].
    pub fn key_field(&mut self, name: &str, row: usize) -> Result<usize> {
        self.add_field(name).map_err(|e| match e {
            RecordsError::UnknownField { field, .. } => RecordsError::UnknownField { row, field },
            e => e,
        })
    }

    // ----- locating rows -------------------------------------------------------------

    #[inline]
    fn locate(&self, row: usize) -> (usize, usize) {
        let k = if self.chunks.len() == 1 {
            0
        } else {
            self.starts.partition_point(|&s| s <= row) - 1
        };
        (k, row - self.starts[k])
    }

    pub(crate) fn check_row(&self, row: usize) -> Result<()> {
        if row >= self.len {
            return Err(RecordsError::IndexOutOfRange {
                index: row,
                len: self.len,
            });
        }
        Ok(())
    }

    fn restart(&mut self) {
        self.chunks.retain(|c| c.len > 0);
        self.starts.clear();
        let mut s = 0;
        for c in &self.chunks {
            self.starts.push(s);
            s += c.len;
        }
        self.len = s;
    }

    /// Makes chunk `k` own exactly its rows at offset 0 (slices copy their part).
    fn materialize(&mut self, k: usize) {
        let c = &mut self.chunks[k];
        let (off, len) = (c.off, c.len);
        for col in &mut c.cols {
            if off == 0 && col.len > len {
                if let Some(own) = crate::cow::get_mut(col) {
                    // A popped tail: trim in place instead of copying the chunk.
                    own.truncate(len);
                    continue;
                }
            }
            if off != 0 || col.len != len {
                *col = Arc::new(col.slice(off, len));
            }
        }
        if let Some(o) = &mut c.order {
            if off == 0 && o.len() > len {
                if let Some(own) = crate::cow::get_mut(o) {
                    own.truncate(len);
                }
            }
            if off != 0 || o.len() != len {
                *o = Arc::new(o[off..off + len].to_vec());
            }
        }
        c.off = 0;
    }

    // ----- reading -------------------------------------------------------------------

    /// The value of field `col` in record `row` ([`CellRef::Absent`] if the record lacks it).
    ///
    /// # Panics
    /// If `row >= len()` or `col >= num_fields()`.
    #[inline(always)]
    pub fn get(&self, row: usize, col: usize) -> CellRef<'_> {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        c.cols[col].get(c.off + i, &self.cols[col])
    }

    /// Like [`RecordList::get`] but checked.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] for a bad row; [`CellRef::Absent`] for a bad column.
    pub fn try_get(&self, row: usize, col: usize) -> Result<CellRef<'_>> {
        self.check_row(row)?;
        if col >= self.cols.len() {
            return Ok(CellRef::Absent);
        }
        Ok(self.get(row, col))
    }

    fn pattern(&self, row: usize) -> u32 {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        c.order.as_ref().map_or(0, |o| o[c.off + i])
    }

    /// Calls `f(field, value)` for each key of record `row`, in the record's key order.
    ///
    /// # Panics
    /// If `row >= len()`.
    pub fn visit_row<'a>(&'a self, row: usize, mut f: impl FnMut(usize, CellRef<'a>)) {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        let p = c.order.as_ref().map_or(0, |o| o[c.off + i]);
        if p == 0 {
            for (j, cc) in c.cols.iter().enumerate() {
                let v = cc.get(c.off + i, &self.cols[j]);
                if v != CellRef::Absent {
                    f(j, v);
                }
            }
        } else {
            for &j in self.patterns.get(p) {
                let j = j as usize;
                f(j, c.cols[j].get(c.off + i, &self.cols[j]));
            }
        }
    }

    /// Calls `f(field, value)` for every field of record `row` in field order, absent
    /// ones included ([`CellRef::Absent`]): one chunk lookup for the whole record.
    ///
    /// # Panics
    /// If `row >= len()`.
    pub fn visit_fields<'a>(&'a self, row: usize, mut f: impl FnMut(usize, CellRef<'a>)) {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        for (j, cc) in c.cols.iter().enumerate() {
            f(j, cc.get(c.off + i, &self.cols[j]));
        }
    }

    /// Field indexes of record `row`, in its key order.
    pub fn row_keys(&self, row: usize) -> Vec<usize> {
        let mut keys = Vec::new();
        self.visit_keys(row, |j| keys.push(j));
        keys
    }

    /// Calls `f(field)` for every key of record `row`, in its key order (the fields
    /// [`RecordList::visit_row`] visits), reading no value: only which are absent.
    ///
    /// # Panics
    /// If `row >= len()`.
    pub fn visit_keys(&self, row: usize, mut f: impl FnMut(usize)) {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        let p = c.order.as_ref().map_or(0, |o| o[c.off + i]);
        if p == 0 {
            for (j, cc) in c.cols.iter().enumerate() {
                if !cc.is_absent(c.off + i) {
                    f(j);
                }
            }
        } else {
            for &j in self.patterns.get(p) {
                f(j as usize);
            }
        }
    }

    /// Whether some record may lack field `j` (`false`: every record has it). Looks at
    /// which chunks keep an absence bitmap, not at the bits, so it is cheap and may say
    /// `true` for a field every record has.
    pub fn field_may_be_absent(&self, j: usize) -> bool {
        self.chunks
            .iter()
            .any(|c| c.cols.get(j).is_some_and(|cc| cc.absent.is_some()))
    }

    /// The fields none of `rows` has a value for, in field order: the keys that a list
    /// of dicts holding those records would not have at all (a key deleted from every
    /// record, or whose records all left the list). A declared field is never one, nor
    /// is any field when `rows` is empty (an empty list keeps its fields).
    ///
    /// Only fields some chunk keeps an absence bitmap for are looked at (see
    /// [`RecordList::field_may_be_absent`]), each until the first row that has it.
    /// [`RecordList::fields_without_values_in`] is faster for a run of rows.
    ///
    /// # Panics
    /// If some row is `>= len()`.
    pub fn fields_without_values(&self, rows: impl Iterator<Item = usize> + Clone) -> Vec<usize> {
        if rows.clone().next().is_none() {
            return Vec::new();
        }
        self.maybe_without_values()
            .filter(|&j| {
                rows.clone().all(|row| {
                    let (k, i) = self.locate(row);
                    let c = &self.chunks[k];
                    assert!(
                        i < c.len,
                        "fields_without_values: row {row} is past the end"
                    );
                    c.cols[j].is_absent(c.off + i)
                })
            })
            .collect()
    }

    /// [`RecordList::fields_without_values`] of rows `start..end`, reading the absence
    /// bitmaps a byte (eight rows) at a time.
    ///
    /// # Panics
    /// If `end > len()`.
    pub fn fields_without_values_in(&self, start: usize, end: usize) -> Vec<usize> {
        assert!(
            end <= self.len,
            "fields_without_values_in: {end} is past the end"
        );
        if start >= end {
            return Vec::new();
        }
        self.maybe_without_values()
            .filter(|&j| self.absent_in(j, start, end))
            .collect()
    }

    /// The fields that may have no value anywhere: undeclared, and absent somewhere.
    fn maybe_without_values(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.cols.len())
            .filter(|&j| self.cols[j].declared.is_none() && self.field_may_be_absent(j))
    }

    /// Whether no record of rows `start..end` has field `j`.
    fn absent_in(&self, j: usize, start: usize, end: usize) -> bool {
        self.chunks.iter().zip(&self.starts).all(|(c, &first)| {
            let (a, b) = (start.max(first), end.min(first + c.len));
            a >= b
                || c.cols[j]
                    .absent
                    .as_ref()
                    .is_some_and(|m| m.all_set(c.off + a - first, c.off + b - first))
        })
    }

    /// This list without the fields none of its records has (see
    /// [`RecordList::fields_without_values`] and [`RecordList::without_fields`]): what a
    /// file written from it should hold, as the dicts would have no such key.
    pub fn without_unused_fields(&self) -> RecordList {
        let unused = self.fields_without_values_in(0, self.len);
        self.dropping(
            &(0..self.cols.len())
                .map(|j| unused.contains(&j))
                .collect::<Vec<_>>(),
        )
    }

    /// This list without the fields at positions `skip`, none of whose records has a
    /// value for them (as [`RecordList::fields_without_values`] finds): the same
    /// records, sharing every other column's storage. A field of `skip` that some
    /// record has is kept (nothing is lost), as are positions past the last field.
    ///
    /// # Memory
    /// Shares the kept columns' chunks (copy-on-write); copies only a chunk's key-order
    /// exceptions, if it has any.
    pub fn without_fields(&self, skip: &[usize]) -> RecordList {
        let gone: Vec<bool> = (0..self.cols.len())
            .map(|j| skip.contains(&j) && self.absent_in(j, 0, self.len))
            .collect();
        self.dropping(&gone)
    }

    /// This list without the fields `j` for which `gone[j]` (one flag per field), which
    /// the caller knows no record has.
    fn dropping(&self, gone: &[bool]) -> RecordList {
        if !gone.contains(&true) {
            return self.clone();
        }
        // New position of each old field.
        let mut to = vec![None; self.cols.len()];
        let mut n = 0u32;
        for (j, g) in gone.iter().enumerate() {
            if !g {
                to[j] = Some(n);
                n += 1;
            }
        }
        let cols: Vec<ColMeta> = (0..self.cols.len())
            .filter(|&j| !gone[j])
            .map(|j| self.cols[j].clone())
            .collect();
        let by_name = cols
            .iter()
            .enumerate()
            .map(|(j, m)| (m.name.clone(), j))
            .collect();
        // Key orders name only fields a record has, so none names a field that goes;
        // one that is in field order once renumbered is no exception any more (0).
        let mut patterns = Patterns::default();
        let mut pattern_to = vec![0u32; self.patterns.list.len() + 1];
        for (p, order) in self.patterns.list.iter().enumerate() {
            let kept: Vec<u32> = order.iter().filter_map(|&j| to[j as usize]).collect();
            if kept.windows(2).any(|w| w[0] > w[1]) {
                pattern_to[p + 1] = patterns.id(&kept);
            }
        }
        let chunks = self
            .chunks
            .iter()
            .map(|c| Chunk {
                off: c.off,
                len: c.len,
                cols: c
                    .cols
                    .iter()
                    .zip(gone)
                    .filter(|(_, g)| !**g)
                    .map(|(cc, _)| cc.clone())
                    .collect(),
                order: c
                    .order
                    .as_ref()
                    .map(|o| Arc::new(o.iter().map(|&p| pattern_to[p as usize]).collect())),
            })
            .collect();
        RecordList {
            cols,
            by_name,
            chunks,
            starts: self.starts.clone(),
            len: self.len,
            chunk_rows: self.chunk_rows,
            closed: self.closed,
            patterns,
            incoming: 0,
        }
    }

    /// Whether float field `j` may hold values that arrived as ints (`false`: none do).
    /// As cheap and as conservative as [`RecordList::field_may_be_absent`].
    pub fn field_may_hold_ints(&self, j: usize) -> bool {
        self.chunks.iter().any(|c| {
            c.cols
                .get(j)
                .is_some_and(|cc| matches!(cc.data, Data::Float(_, Some(_))))
        })
    }

    /// Whether some record's keys may be in another order than the fields'
    /// (`false`: every record lists its keys in field order).
    pub fn may_have_key_order_exceptions(&self) -> bool {
        self.chunks.iter().any(|c| c.order.is_some())
    }

    /// Whether record `row` has every field of the list, its keys in field order: its
    /// keys are then exactly the field names, which a reader can share across records
    /// instead of listing each record's ([`RecordList::visit_keys`]).
    ///
    /// # Panics
    /// If `row >= len()`.
    pub fn has_every_field(&self, row: usize) -> bool {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        c.cols.len() == self.cols.len()
            && in_field_order(c, c.off + i)
            && c.cols.iter().all(|cc| !cc.is_absent(c.off + i))
    }

    /// Number of keys in record `row`.
    pub fn row_len(&self, row: usize) -> usize {
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        c.cols.iter().filter(|cc| !cc.is_absent(c.off + i)).count()
    }

    // ----- planning ------------------------------------------------------------------

    fn plan(&self, row: usize, record: &[(&str, Cell<'_>)]) -> Result<Plan> {
        let mut plan = Plan {
            cols: Vec::with_capacity(record.len()),
            new_cols: Vec::new(),
            widen: Vec::new(),
        };
        // A record's fields so far, to find a repeated key: a search of the short list
        // for a short record, a bit per field for a long one (a search would be
        // quadratic; a hash set, grown and rehashed for every record, cost more than the
        // rest of the plan). Its fields are the list's and at most one new per entry.
        let long = record.len() > 16;
        let mut taken = if long {
            vec![0u64; (self.cols.len() + record.len()).div_ceil(64)]
        } else {
            Vec::new()
        };
        let mut new_names: HashMap<&str, usize> = HashMap::new();
        for (e, (key, cell)) in record.iter().enumerate() {
            let len = cell.var_len();
            if len > MAX_VALUE_BYTES {
                return Err(RecordsError::ValueTooLarge {
                    row,
                    field: (*key).to_owned(),
                    len,
                    limit: MAX_VALUE_BYTES,
                });
            }
            let by_pos = self.cols.get(e).filter(|m| &*m.name == *key).map(|_| e);
            let j = match by_pos.or_else(|| self.by_name.get(*key).copied()) {
                Some(j) => {
                    let meta = &self.cols[j];
                    let target = layout_for(meta, cell).ok_or_else(|| mismatch(row, meta, cell))?;
                    if target != meta.layout {
                        let target = self.check_widening(j, target);
                        plan.widen.push((j, target));
                    }
                    j
                }
                None => {
                    if self.closed {
                        return Err(RecordsError::UnknownField {
                            row,
                            field: (*key).to_owned(),
                        });
                    }
                    let fresh = ColMeta::new(Arc::from(""), None);
                    let target = layout_for(&fresh, cell).unwrap_or(Layout::Object);
                    plan.new_cols.push(((*key).into(), target));
                    // A key new to the list and repeated in the record: its first
                    // place, so the check below finds it.
                    let j = self.cols.len() + plan.new_cols.len() - 1;
                    match new_names.entry(*key) {
                        hashbrown::hash_map::Entry::Occupied(o) => *o.get(),
                        hashbrown::hash_map::Entry::Vacant(v) => *v.insert(j),
                    }
                }
            };
            let repeated = if long {
                let bit = 1u64 << (j % 64);
                taken.get_mut(j / 64).is_some_and(|w| {
                    let seen = *w & bit != 0;
                    *w |= bit;
                    seen
                })
            } else {
                plan.cols.contains(&j)
            };
            if repeated {
                return Err(RecordsError::DuplicateKey {
                    row,
                    field: (*key).to_owned(),
                });
            }
            plan.cols.push(j);
        }
        Ok(plan)
    }

    /// Int columns become float only if every int already stored is exact in `f64`.
    fn check_widening(&self, j: usize, target: Layout) -> Layout {
        if matches!(self.cols[j].layout, Layout::Int(_)) && target == Layout::Float {
            for c in &self.chunks {
                if let Data::Int(v) = &c.cols[j].data {
                    let all = (c.off..c.off + c.len).all(|i| crate::column::int_fits_f64(v.get(i)));
                    if !all {
                        return Layout::Object;
                    }
                }
            }
        }
        target
    }

    fn apply(&mut self, plan: &Plan) {
        if !plan.new_cols.is_empty() {
            for k in 0..self.chunks.len() {
                self.materialize(k);
                let len = self.chunks[k].len;
                // One handle per field, whether the fields came one by one or together
                // (a chunk's handles never double past the fields it has).
                self.chunks[k].cols.reserve_exact(plan.new_cols.len());
                for _ in &plan.new_cols {
                    self.chunks[k]
                        .cols
                        .push(Arc::new(ColChunk::all_absent(len)));
                }
            }
            for (name, layout) in &plan.new_cols {
                self.by_name.insert(name.clone(), self.cols.len());
                self.cols.push(ColMeta::new(name.clone(), None));
                if *layout != Layout::Null {
                    self.convert_column(self.cols.len() - 1, *layout);
                }
            }
        }
        for &(j, layout) in &plan.widen {
            self.convert_column(j, layout);
        }
    }

    /// Re-lays out every chunk of column `j`; every value stored must fit `layout`.
    fn convert_column(&mut self, j: usize, layout: Layout) {
        let old = self.cols[j].clone();
        let same_kind = matches!(
            (old.layout, layout),
            (Layout::Int(_), Layout::Int(_)) | (Layout::StrDict(_), Layout::StrDict(_))
        );
        if same_kind {
            let w = match layout {
                Layout::Int(w) | Layout::StrDict(w) => w,
                _ => Width::W64,
            };
            for c in &mut self.chunks {
                crate::cow::make_mut(&mut c.cols[j]).set_int_width(w);
            }
            self.cols[j].layout = layout;
            return;
        }
        if let Layout::StrDict(_) = old.layout {
            self.split_for_plain_text(j, &old);
        }
        let mut meta = ColMeta::new(old.name.clone(), old.declared);
        meta.layout = layout;
        meta.dict = match layout {
            Layout::StrDict(_) => Some(Arc::default()),
            _ => None,
        };
        for k in 0..self.chunks.len() {
            if self.chunks[k].off != 0 {
                // A slice's chunk: its columns are cut to its rows first. Otherwise the
                // new column is made of the chunk's rows alone, leaving the other columns
                // as they are (converting field after field of a wide list would
                // otherwise touch every field each time).
                self.materialize(k);
            }
            let c = &self.chunks[k];
            let src = &c.cols[j];
            let mut out = ColChunk::empty(layout);
            for i in 0..c.len {
                push_converted(&mut out, &mut meta, src.get(i, &old));
            }
            out.tidy();
            self.chunks[k].cols[j] = Arc::new(out);
        }
        self.cols[j] = meta;
    }

    // ----- writing -------------------------------------------------------------------

    /// Appends a record given as `(key, value)` pairs in key order.
    ///
    /// # Errors
    /// [`RecordsError::SchemaMismatch`] / [`RecordsError::UnknownField`] against a declared
    /// schema, [`RecordsError::DuplicateKey`], [`RecordsError::ValueTooLarge`], and
    /// [`RecordsError::ValueOutOfMemory`] when the memory to store a large value cannot
    /// be had. On error the list is unchanged.
    ///
    /// # Memory
    /// Amortized O(1); the tail chunk's buffers double while small, then grow by an
    /// eighth up to `chunk_rows` rows, then a new chunk
    /// starts, so no buffer larger than one chunk is ever reallocated.
    pub fn push_record(&mut self, record: &[(&str, Cell<'_>)]) -> Result<()> {
        if self.push_fitting(record) {
            self.compact_dicts_if_due();
            return Ok(());
        }
        let plan = self.plan(self.len, record)?;
        let big = is_big(record);
        let cp = big.then(|| self.checkpoint());
        self.apply(&plan);
        let pushed = self.push_planned(
            std::slice::from_ref(&record),
            std::slice::from_ref(&plan.cols),
            big,
        );
        if let (Err(e), Some(cp)) = (pushed, cp) {
            self.rollback(cp);
            return Err(e);
        }
        self.compact_dicts_if_due();
        Ok(())
    }

    /// [`RecordList::push_batch`] one record at a time: a record that fails leaves the
    /// ones before it appended, and nothing of itself.
    fn push_each(&mut self, records: &[&[(&str, Cell<'_>)]]) -> Result<()> {
        records.iter().try_for_each(|r| self.push_record(r))
    }

    /// Appends many records at once, column by column (faster than one
    /// [`RecordList::push_record`] per record: each column's buffer is touched once
    /// per batch instead of once per record).
    ///
    /// # Errors
    /// As [`RecordList::push_record`], for the first bad record; the records before it
    /// are appended, it and the ones after it are not. Pair with
    /// [`RecordList::checkpoint`] / [`RecordList::rollback`] for all-or-nothing.
    pub fn push_batch(&mut self, records: &[&[(&str, Cell<'_>)]]) -> Result<()> {
        if records.len() > 1 {
            // Fast: names matched against the previous record's, one check per column. If
            // that fails, undo what it did and take the record-by-record path below, which
            // reports the first bad record and keeps the ones before it.
            let cp = self.checkpoint();
            match self.push_by_name(records) {
                Ok(true) => return Ok(()),
                Err(RecordsError::ValueOutOfMemory { .. }) => {
                    // Which record could not be stored, the ones before it appended.
                    self.rollback(cp);
                    return self.push_each(records);
                }
                _ => self.rollback(cp),
            }
        }
        self.push_batch_planned(records)
    }

    /// [`RecordList::push_batch`] through a [`Grid`]: `false` (and maybe new, empty
    /// fields, for the caller to roll back) when a record needs the planned path.
    fn push_by_name(&mut self, records: &[&[(&str, Cell<'_>)]]) -> Result<bool> {
        let mut cols: Vec<usize> = Vec::with_capacity(records.iter().map(|r| r.len()).sum());
        let mut keys = KeyOrder::new();
        // Fields the batch adds, given their indexes here and added together below
        // (one by one, each would touch every chunk's fields).
        let mut new_names: Vec<&str> = Vec::new();
        let mut new_index: HashMap<&str, usize> = HashMap::new();
        let known = self.cols.len();
        for rec in records {
            keys.start_record();
            for (key, _) in rec.iter() {
                let name_of = |g: usize| match g.checked_sub(known) {
                    None => &*self.cols[g].name,
                    Some(k) => new_names[k],
                };
                let j = match keys.guess() {
                    Some(g) if name_of(g) == *key => g,
                    _ => match self.by_name.get(*key).or_else(|| new_index.get(*key)) {
                        Some(&j) => j,
                        None if self.closed => return Ok(false),
                        None => {
                            let j = known + new_names.len();
                            new_names.push(key);
                            new_index.insert(key, j);
                            j
                        }
                    },
                };
                keys.push(j);
            }
            cols.extend_from_slice(keys.order());
            keys.finish_record();
        }
        self.add_fields(&new_names)?;
        let mut grid = Grid::with_capacity(self.cols.len(), records.len());
        let mut at = 0;
        for rec in records {
            grid.push_row();
            let these = &cols[at..at + rec.len()];
            for ((_, cell), &j) in rec.iter().zip(these) {
                if !grid.set(j, *cell) {
                    return Ok(false); // a repeated key
                }
            }
            grid.set_order(these);
            at += rec.len();
        }
        self.push_grid(&grid)?;
        Ok(true)
    }

    /// [`RecordList::push_batch`], record by record: each record is planned (and the
    /// layouts it needs applied) before the ones after it.
    fn push_batch_planned(&mut self, records: &[&[(&str, Cell<'_>)]]) -> Result<()> {
        if records
            .iter()
            .any(|r| r.iter().any(|(_, c)| c.var_len() >= BIG_VALUE))
        {
            // Rare: each record with a large value is stored with a checkpoint of its own.
            return self.push_each(records);
        }
        let mut plans: Vec<Vec<usize>> = Vec::with_capacity(records.len());
        let mut start = 0;
        for (k, rec) in records.iter().enumerate() {
            let mut plan = self.plan(self.len + k - start, rec);
            if k > start && plan.as_ref().map_or(true, Plan::changes_layout) {
                // Store what is planned before the layout changes, then plan again: a
                // widening looks at the values stored (int -> float only if every int
                // is exact in f64), and an error's row index counts stored rows.
                self.push_planned(&records[start..k], &plans, false)?;
                plans.clear();
                start = k;
                plan = self.plan(self.len, rec);
            }
            let plan = plan?;
            if plan.changes_layout() {
                self.apply(&plan);
            }
            plans.push(plan.cols);
        }
        self.push_planned(&records[start..], &plans, false)
    }

    /// Appends the rows of `grid`, checking and widening each column once for the
    /// whole grid rather than once per record.
    ///
    /// Every column the grid refers to must exist ([`RecordList::add_field`] adds one).
    ///
    /// # Errors
    /// [`RecordsError::SchemaMismatch`] against a declared schema and
    /// [`RecordsError::ValueTooLarge`], naming the first bad row; on error the list is
    /// unchanged. [`RecordsError::UnknownField`] if the grid has more columns than the list.
    /// [`RecordsError::ValueOutOfMemory`] (the list unchanged) when the memory to store
    /// the grid's values cannot be had, if they reach 1 MiB.
    pub fn push_grid(&mut self, grid: &Grid<'_>) -> Result<()> {
        let n = grid.num_rows();
        if grid.num_cols() > self.cols.len() {
            return Err(RecordsError::UnknownField {
                row: self.len,
                field: format!("<column {}>", grid.num_cols() - 1),
            });
        }
        if n == 0 {
            return Ok(());
        }
        // Each column's layout after the grid, and whether its ints are all exact in f64;
        // row by row, so the first error met is the first bad row.
        let mut state: Vec<(Layout, bool)> = self.cols[..grid.num_cols()]
            .iter()
            .map(|m| (m.layout, true))
            .collect();
        for (r, j, cell) in grid.by_rows() {
            {
                let (target, ints_exact) = &mut state[j];
                if let Cell::Int(v) = cell {
                    *ints_exact &= crate::column::int_fits_f64(*v);
                }
                if fits(*target, cell) {
                    continue; // the common case: nothing to widen, nothing to check
                }
                let meta = &self.cols[j];
                let len = cell.var_len();
                if len > MAX_VALUE_BYTES {
                    return Err(RecordsError::ValueTooLarge {
                        row: self.len + r,
                        field: meta.name.to_string(),
                        len,
                        limit: MAX_VALUE_BYTES,
                    });
                }
                *target = layout_after(meta, *target, cell)
                    .ok_or_else(|| mismatch(self.len + r, meta, cell))?;
            }
        }
        let widen: Vec<(usize, Layout, bool)> = state
            .into_iter()
            .enumerate()
            .filter(|&(j, (target, _))| target != self.cols[j].layout)
            .map(|(j, (target, exact))| (j, target, exact))
            .collect();
        let big = grid.var_bytes() >= BIG_VALUE;
        let cp = big.then(|| self.checkpoint());
        self.widen_columns(widen);
        let pushed = self.push_rows(grid, big);
        if let (Err(_), Some(cp)) = (&pushed, cp) {
            // Whatever of it was stored, and the layouts it changed, go.
            self.rollback(cp);
        }
        pushed
    }

    /// Lays out each column `j` of `widen` as `target` before an append whose values
    /// need it (`ints_exact`: the append's ints are all exact in `f64`).
    fn widen_columns(&mut self, widen: Vec<(usize, Layout, bool)>) {
        for (j, target, ints_exact) in widen {
            // Ints of this append met floats: all of them, and all stored, must be exact.
            let target = if target == Layout::Float && !ints_exact {
                Layout::Object
            } else {
                self.check_widening(j, target)
            };
            self.convert_column(j, target);
        }
    }

    /// [`RecordList::push_record`] for the common record, without a plan or a grid: its
    /// keys are the list's fields in order, some perhaps missing (absent, as the planned
    /// path stores them), and each value fits its column as the column is laid out
    /// ([`layout_for`]: no new field, no widening, not a new string for a dictionary
    /// whose key width is full). `false`, with nothing changed, for any other record: the
    /// general path then takes it.
    fn push_fitting(&mut self, record: &[(&str, Cell<'_>)]) -> bool {
        self.push_matching(record.len(), |meta, _, next| {
            record
                .get(next)
                .filter(|(key, _)| *meta.name == **key)
                .map(|(_, cell)| cell)
        })
    }

    /// Appends one record given by field: `(j, value)` pairs with `j` in ascending order,
    /// each `j` a field of the list, each value fitting its column as the column is laid
    /// out (the fields left out are absent). This is [`RecordList::push_record`]'s own
    /// first step, for a caller that has already found each key's field (by identity of
    /// the key objects, say) and so need not match names.
    ///
    /// Returns `false`, with nothing changed, for any other record (a field out of
    /// order or out of range, a value that needs a new layout or a new string past a
    /// full dictionary key width): the caller then appends it with
    /// [`RecordList::push_record`], which decides or reports.
    pub fn push_fields(&mut self, cells: &[(usize, Cell<'_>)]) -> bool {
        let pushed = self.push_matching(cells.len(), |_, j, next| {
            cells
                .get(next)
                .filter(|(f, _)| *f == j)
                .map(|(_, cell)| cell)
        });
        if pushed {
            // Only the fields given a string can have a dictionary that grew.
            for &(j, cell) in cells {
                if let Cell::Str(_) = cell {
                    self.compact_dict_if_due(j);
                }
            }
        }
        pushed
    }

    /// The one step behind [`RecordList::push_fitting`] and [`RecordList::push_fields`]:
    /// `at(meta, j, next)` is the value the record gives field `j` (described by
    /// `meta`), `next` being how many of its `n` values earlier fields took; `None`
    /// if it gives none. Every value must be taken, in field order.
    fn push_matching<'c, 'v: 'c>(
        &mut self,
        n: usize,
        at: impl Fn(&ColMeta, usize, usize) -> Option<&'c Cell<'v>>,
    ) -> bool {
        if n > self.cols.len() {
            return false;
        }
        let mut var = 0;
        let mut next = 0;
        for (j, meta) in self.cols.iter().enumerate() {
            let Some(cell) = at(meta, j, next) else {
                continue;
            };
            if !fits_as_laid_out(meta, cell) {
                return false;
            }
            var += cell.var_len();
            next += 1;
        }
        if next != n || var >= BIG_VALUE {
            // A new field, or the keys in another order; or a value large enough to be
            // stored with fallible allocations (the planned path does that).
            return false;
        }
        let k = self.tail_for(var);
        let want = self.incoming.min(self.chunk_rows - self.chunks[k].len);
        // Every push grows its own buffers (by the same steps) when they are full: room
        // is made ahead only for a load announced beyond this record, which a single
        // `append` is not (that call was an eighth of its cost).
        let ahead = want > 1;
        let chunk = &mut self.chunks[k];
        let mut next = 0;
        for (j, (cc, meta)) in chunk.cols.iter_mut().zip(&mut self.cols).enumerate() {
            let cell = at(meta, j, next);
            next += usize::from(cell.is_some());
            let cc = crate::cow::make_mut(cc);
            if ahead {
                cc.room(1, want, cell.map_or(0, Cell::var_len));
            }
            cc.push(meta, cell);
        }
        self.rows_pushed(k, 1, |_, _| 0);
        true
    }

    /// Pushes records whose plans have been applied (`big`: see [`RecordList::push_rows`]).
    fn push_planned(
        &mut self,
        records: &[&[(&str, Cell<'_>)]],
        plans: &[Vec<usize>],
        big: bool,
    ) -> Result<()> {
        let mut grid = Grid::with_capacity(self.cols.len(), records.len());
        for (rec, cols) in records.iter().zip(plans) {
            grid.push_row();
            for ((_, cell), &j) in rec.iter().zip(cols) {
                grid.set(j, *cell);
            }
            grid.set_order(cols);
        }
        self.push_rows(&grid, big)
    }

    /// Pushes rows whose every cell fits its column's layout, column by column.
    ///
    /// `big`: the grid holds a value whose size the input sets, large enough that the
    /// memory for it may not be there ([`BIG_VALUE`]): the variable-length buffers then
    /// grow with fallible allocations, each run's before any of the run is stored.
    ///
    /// # Errors
    /// [`RecordsError::ValueOutOfMemory`] (only if `big`), naming the grid's largest
    /// value of the column that could not grow in the run that failed. The runs before
    /// it are stored (and the layouts changed): the caller rolls back.
    ///
    /// # Performance
    /// In proportion to the cells given plus rows times the list's fields (each
    /// column's buffers take every row, absent or not).
    fn push_rows(&mut self, grid: &Grid<'_>, big: bool) -> Result<()> {
        let by_col = grid.columns();
        self.make_text_room(grid, &by_col);
        let mut cursors: Vec<ColumnRun<'_>> = (0..self.cols.len())
            .map(|j| ColumnRun::new(by_col.of(j)))
            .collect();
        let n = grid.num_rows();
        let mut done = 0;
        while done < n {
            let (k, run) = self.next_run(done, n, grid.var_bytes(), |r| grid.var_len(r));
            let runs: Vec<ColumnCells<'_, '_>> = cursors
                .iter_mut()
                .map(|c| c.take(grid, done, done + run))
                .collect();
            if big {
                // Before any string of the run is interned (the key widths below).
                self.try_run_room(k, done, run, &runs)?;
            }
            // The layouts were chosen before this run's strings are interned: make each
            // key width hold the dictionary as the run leaves it.
            for (j, cells) in runs.iter().enumerate() {
                if let Layout::StrDict(w) = self.cols[j].layout {
                    if self.cols[j].dict().len() + run <= crate::column::dict_capacity(w) {
                        continue; // fits even if every row of the run brings a new string
                    }
                    // Past 16-bit keys the next width (32 bits) holds any dictionary.
                    let most = crate::column::dict_capacity(Width::W16);
                    let need = self.cols[j].intern_run(cells.clone(), most);
                    let wide = key_width(need).max(w);
                    if wide != w {
                        self.convert_column(j, Layout::StrDict(wide));
                    }
                }
            }
            let chunk = &mut self.chunks[k];
            for ((cc, meta), cells) in chunk.cols.iter_mut().zip(&mut self.cols).zip(runs) {
                let cc = crate::cow::make_mut(cc);
                let bytes = match cc.data {
                    Data::Var(_) => cells.present().map(Cell::var_len).sum(),
                    _ => 0,
                };
                // Room for the run; a buffer that must grow grows for the rest of an
                // announced append, in this chunk (after `try_run_room`: grows nothing).
                let want = self.incoming.min(self.chunk_rows - cc.len);
                cc.room(run, want, bytes);
                if cells.is_blank() {
                    // A field none of the run's records has (most fields, when records
                    // each have a few of many).
                    cc.push_absent(run);
                } else if let Layout::StrDict(_) = meta.layout {
                    cc.push_dict_run(meta, cells);
                } else {
                    cc.push_run(meta, cells);
                }
            }
            self.rows_pushed(k, run, |list, i| {
                grid.order_of(done + i).map_or(0, |o| list.patterns.id(o))
            });
            done += run;
        }
        Ok(())
    }

    /// Makes room in chunk `k` for the variable-length values of `runs` (rows
    /// `done..done + run` of `grid`), and in the dictionaries for their strings, with
    /// fallible allocations, every column's before any value of the run is stored (see
    /// [`RecordList::push_rows`]).
    ///
    /// # Errors
    /// [`RecordsError::ValueOutOfMemory`] naming the column that could not grow and the
    /// run's largest value in it; nothing of the run is stored.
    #[cold]
    fn try_run_room(
        &mut self,
        k: usize,
        done: usize,
        run: usize,
        runs: &[ColumnCells<'_, '_>],
    ) -> Result<()> {
        self.try_room_for_run(
            k,
            done,
            run,
            |j| {
                let cells = runs.get(j)?;
                Some((
                    cells.present().count(),
                    cells.present().map(Cell::var_len).sum(),
                ))
            },
            |j| {
                runs[j]
                    .rows()
                    .map(|(r, c)| (r, c.var_len()))
                    .max_by_key(|&(_, len)| len)
                    .unwrap_or((done, 0))
            },
        )
    }

    /// Makes room in chunk `k` for a run of `run` rows (from row `done` of an append)
    /// with fallible allocations, every column's before any value of the run is stored:
    /// for column `j`, `values(j)` gives how many values the run has there and their
    /// bytes (`None`: none), `largest(j)` the row (counted as `done` is) and bytes of the
    /// run's largest value there. A column whose values come to [`BIG_VALUE`] or more
    /// (an object column's with each value's encoding header) grows its data buffer,
    /// or its dictionary's text for strings it interns (all of them new, at most).
    ///
    /// # Errors
    /// [`RecordsError::ValueOutOfMemory`] naming the column that could not grow and the
    /// run's largest value in it; nothing of the run is stored.
    #[cold]
    pub(crate) fn try_room_for_run(
        &mut self,
        k: usize,
        done: usize,
        run: usize,
        values: impl Fn(usize) -> Option<(usize, usize)>,
        largest: impl Fn(usize) -> (usize, usize),
    ) -> Result<()> {
        let chunk = &mut self.chunks[k];
        for (j, cc) in chunk.cols.iter_mut().enumerate() {
            let Some((count, bytes)) = values(j) else {
                continue;
            };
            // An object column writes each string or bytes value with its encoding's
            // header (see `ColChunk::push_seen`).
            let header = match self.cols[j].layout {
                Layout::Object => crate::column::ENCODED_HEADER_MAX,
                _ => 0,
            };
            let bytes = bytes + header * count;
            if bytes < BIG_VALUE {
                continue;
            }
            let grown = match (&cc.data, self.cols[j].layout) {
                (Data::Var(_), _) => {
                    let cc = crate::cow::make_mut(cc);
                    let want = self.incoming.min(self.chunk_rows - cc.len);
                    cc.try_room(run, want, bytes)
                }
                (_, Layout::StrDict(_)) => {
                    let d = self.cols[j].dict.get_or_insert_with(Default::default);
                    crate::cow::make_mut(d).try_room(bytes)
                }
                _ => Ok(()),
            };
            if grown.is_err() {
                let (r, len) = largest(j);
                return Err(RecordsError::ValueOutOfMemory {
                    row: self.len + (r - done),
                    field: self.cols[j].name.to_string(),
                    len,
                    bytes,
                });
            }
        }
        Ok(())
    }

    /// The chunk that takes the rows of an append from row `done` of `n` on, and how
    /// many of them it takes (rows and bytes; at least one: a single row always fits).
    /// `var_len(r)` is row `r`'s bytes of variable-length data, `var_bytes` all rows'.
    fn next_run(
        &mut self,
        done: usize,
        n: usize,
        var_bytes: usize,
        var_len: impl Fn(usize) -> usize,
    ) -> (usize, usize) {
        let k = self.tail_for(var_len(done));
        let room = self.chunk_rows - self.chunks[k].len;
        let mut run = 1;
        if n - done > 1 {
            let mut budget = CHUNK_VAR_BYTES.saturating_sub(
                self.chunks[k]
                    .cols
                    .iter()
                    .map(|c| c.var_bytes())
                    .max()
                    .unwrap_or(0),
            );
            // Usually everything left fits: no need to count row by row.
            let everything = n - done <= room && var_bytes <= budget;
            budget = if everything { 0 } else { budget };
            run = if everything { n - done } else { 0 };
            while done + run < n && run < room {
                let var = var_len(done + run);
                if run > 0 && var > budget {
                    break;
                }
                budget = budget.saturating_sub(var);
                run += 1;
            }
        }
        (k, run)
    }

    /// Lays out plainly each dictionary column whose text the strings of `grid` (all
    /// new, at most) could take past [`crate::column::DICT_TEXT_MAX`]: the layouts were
    /// chosen string by string, against the dictionary as it was.
    fn make_text_room(&mut self, grid: &Grid<'_>, by_col: &Columns) {
        for j in 0..grid.num_cols().min(self.cols.len()) {
            let Layout::StrDict(_) = self.cols[j].layout else {
                continue;
            };
            let text = self.cols[j].dict().data().len();
            if text + grid.var_bytes() <= crate::column::DICT_TEXT_MAX {
                continue; // the common case: no need to count
            }
            let strings: usize = by_col.of(j).iter().map(|&i| grid.slot(i).1.var_len()).sum();
            if text + strings > crate::column::DICT_TEXT_MAX {
                self.convert_column(j, Layout::StrPlain);
            }
        }
    }

    /// Counts `run` rows whose values every column of chunk `k` now holds: their key
    /// orders (`pattern(list, i)` for the run's `i`th row, 0 for the columns' order),
    /// the lengths, and at each power of two a second look at the string encodings.
    fn rows_pushed(
        &mut self,
        k: usize,
        run: usize,
        mut pattern: impl FnMut(&mut Self, usize) -> u32,
    ) {
        for i in 0..run {
            let p = pattern(self, i);
            let chunk = &mut self.chunks[k];
            if p != 0 || chunk.order.is_some() {
                let len = chunk.len;
                let order =
                    crate::cow::make_mut(chunk.order.get_or_insert_with(|| Arc::new(vec![0; len])));
                crate::store::room(order, 1);
                order.push(p);
            }
            chunk.len += 1;
        }
        let before = self.len;
        self.len += run;
        self.incoming = self.incoming.saturating_sub(run);
        // Re-check string encodings whenever the length reaches a power of two (from
        // 65,536 on): some power of two lies in (before, len].
        if self.len >= 1 << 16 && self.len.leading_zeros() != before.leading_zeros() {
            for j in 0..self.cols.len() {
                self.maybe_plain(j, false);
                self.maybe_dict(j);
            }
        }
    }

    fn pattern_id(&mut self, cols: &[usize]) -> u32 {
        if cols.windows(2).all(|w| w[0] < w[1]) {
            0
        } else {
            let order: Vec<u32> = cols.iter().map(|&j| j as u32).collect();
            self.patterns.id(&order)
        }
    }

    /// Index of a chunk that can take one more row with `var` more bytes.
    fn tail_for(&mut self, var: usize) -> usize {
        let full = match self.chunks.last() {
            None => true,
            Some(c) => {
                c.len >= self.chunk_rows
                    || (var > 0
                        && c.len > 0
                        && c.cols
                            .iter()
                            .any(|cc| cc.var_bytes() + var > CHUNK_VAR_BYTES))
            }
        };
        if full {
            if let Some(last) = self.chunks.last_mut() {
                for cc in &mut last.cols {
                    if let Some(cc) = crate::cow::get_mut(cc) {
                        cc.tidy();
                        cc.shrink_to_fit();
                    }
                }
            }
            let cols = self
                .cols
                .iter()
                .map(|m| Arc::new(ColChunk::empty(m.layout)))
                .collect();
            self.starts.push(self.len);
            self.chunks.push(Chunk {
                off: 0,
                len: 0,
                cols,
                order: None,
            });
        }
        let k = self.chunks.len() - 1;
        self.materialize(k);
        k
    }

    /// Switches a dictionary-encoded string column to plain when that is smaller.
    /// Early on (`final_check == false`) only for nearly-unique values, because a
    /// small sample makes every column look unique.
    fn maybe_plain(&mut self, j: usize, final_check: bool) {
        let meta = &self.cols[j];
        let Layout::StrDict(w) = meta.layout else {
            return;
        };
        let n = meta.str_count;
        if n < 4096 {
            return;
        }
        let distinct = meta.dict().len() as u64;
        let plain = n * 4 + meta.str_bytes;
        let dict = n * w.bytes() as u64 + meta.dict().heap_bytes() as u64;
        let switch = if final_check {
            dict > plain
        } else {
            distinct * 10 > n * 9
        };
        if switch && meta.declared.is_none_or(|d| d == DType::Str) {
            self.convert_column(j, Layout::StrPlain);
        }
    }

    /// Switches a plain string column back to a dictionary once that would be clearly
    /// smaller. A column judged on its first values (a small first load, see
    /// [`RecordList::maybe_plain`]) can look unique before its values start to repeat.
    /// Reads the whole column: called only when the list's length passes a power of
    /// two, so each record is read a bounded number of times.
    fn maybe_dict(&mut self, j: usize) {
        let meta = &self.cols[j];
        if meta.layout != Layout::StrPlain || meta.declared.is_some_and(|d| d != DType::Str) {
            return;
        }
        let n = meta.str_count;
        // A dictionary's text must stay under its limit, with room to grow.
        if n < 4096 || meta.str_bytes >= (crate::column::DICT_TEXT_MAX / 2) as u64 {
            return;
        }
        let mut sketch = crate::distinct::Sketch::new();
        for c in &self.chunks {
            if let Data::Var(v) = &c.cols[j].data {
                for i in c.off..c.off + c.len {
                    sketch.add(v.get(i));
                }
            }
        }
        let distinct = sketch.estimate();
        let width = if distinct < 100.0 {
            Width::W8
        } else if distinct < 30_000.0 {
            Width::W16
        } else {
            Width::W32
        };
        let (n, text) = (n as f64, meta.str_bytes as f64);
        let plain = n * 4.0 + text;
        // Per entry: its text, an offset, and up to 9 bytes of hash index (5 per slot,
        // tables from 7/16 to 7/8 full). The margin keeps the final check of
        // `maybe_plain` (exact) from switching straight back.
        let dict = n * width.bytes() as f64 + distinct * (text / n + 4.0 + 9.0);
        if dict < 0.9 * plain {
            // Wide enough for any count; narrowed to the count found.
            self.convert_column(j, Layout::StrDict(Width::W32));
            let w = key_width(self.cols[j].dict().len());
            if w != Width::W32 {
                self.convert_column(j, Layout::StrDict(w));
            }
        }
    }

    /// Re-chooses string encodings and trims spare capacity; call after a bulk load.
    pub fn optimize(&mut self) {
        self.optimize_tail(usize::MAX);
    }

    /// [`RecordList::optimize`] after a load that began at `cp`, at a cost in proportion
    /// to the load. Encodings are re-chosen (per field, not per record); the tail chunk
    /// is trimmed only when the load filled at least an eighth of it. Trimming reads and
    /// may copy the whole chunk, which made a loop of small loads quadratic, and what a
    /// smaller load leaves spare is bounded: buffers grow by an eighth.
    pub fn optimize_since(&mut self, cp: &Checkpoint) {
        self.optimize_tail(self.len.saturating_sub(cp.len));
    }

    fn optimize_tail(&mut self, added: usize) {
        for j in 0..self.cols.len() {
            self.maybe_plain(j, true);
            // A dictionary spans the list: trimmed when the load could have added an
            // eighth of its entries.
            if let Some(d) = self.cols[j].dict.as_mut().filter(|d| d.len() / 8 <= added) {
                if let Some(d) = crate::cow::get_mut(d) {
                    d.shrink_to_fit();
                }
            }
        }
        self.incoming = 0;
        if self.chunks.last().is_some_and(|c| c.len / 8 <= added) {
            self.trim_tail();
        }
        // A bulk append adds strings as records; with records removed between loads
        // (a queue), their dictionaries hold strings no record holds any more.
        self.compact_dicts_if_due();
    }

    /// Drops the tail chunk's unneeded bitmaps and spare capacity (reads and may copy
    /// the whole chunk).
    fn trim_tail(&mut self) {
        if let Some(k) = self.chunks.len().checked_sub(1) {
            self.trim_chunk(k);
        }
    }

    /// Drops chunk `k`'s unneeded bitmaps and the spare capacity of the buffers it owns
    /// alone (one shared copy-on-write is left as it is).
    fn trim_chunk(&mut self, k: usize) {
        let c = &mut self.chunks[k];
        for cc in &mut c.cols {
            if let Some(cc) = crate::cow::get_mut(cc) {
                cc.tidy();
                cc.shrink_to_fit();
            }
        }
        if let Some(o) = c.order.as_mut().and_then(crate::cow::get_mut) {
            o.shrink_to_fit();
        }
    }

    /// Inserts a record before row `pos` (`pos == len()` appends).
    ///
    /// # Errors
    /// As [`RecordList::push_record`]; also [`RecordsError::IndexOutOfRange`] for `pos > len()`.
    pub fn insert_record(&mut self, pos: usize, record: &[(&str, Cell<'_>)]) -> Result<()> {
        if pos >= self.len {
            if pos > self.len {
                return Err(RecordsError::IndexOutOfRange {
                    index: pos,
                    len: self.len,
                });
            }
            return self.push_record(record);
        }
        let cp = is_big(record).then(|| self.checkpoint());
        let (k, i, cells, p) = self.prepare_at(pos, record)?;
        let encoded = match cp {
            Some(cp) => self.try_room_at(k, pos, record, &cells, cp)?,
            None => Vec::new(),
        };
        let chunk = &mut self.chunks[k];
        for (j, cc) in chunk.cols.iter_mut().enumerate() {
            let enc = encoded.get(j).and_then(Option::as_deref).map(Cell::Encoded);
            let cell = enc.as_ref().or(cells[j].map(|e| &record[e].1));
            crate::cow::make_mut(cc).insert(i, &mut self.cols[j], cell);
        }
        if p != 0 || chunk.order.is_some() {
            let len = chunk.len;
            let order =
                crate::cow::make_mut(chunk.order.get_or_insert_with(|| Arc::new(vec![0; len])));
            crate::store::room(order, 1);
            order.insert(i, p);
        }
        chunk.len += 1;
        let too_big = chunk.len > self.chunk_rows;
        self.restart();
        if too_big {
            self.split(k);
        }
        self.compact_dicts_if_due();
        Ok(())
    }

    /// For a record holding a value whose size the input sets ([`BIG_VALUE`]) about to be
    /// written to or inserted at row `pos` (row `i` of chunk `k`, prepared by
    /// [`RecordList::prepare_at`], `cells` its entries): each such value in the form its
    /// column stores it (the variant encoding, in a buffer of its own, where the column
    /// encodes it; `None` for the others), and room for it in chunk `k`, every column's
    /// made with fallible allocations before anything of the record is written.
    ///
    /// # Errors
    /// [`RecordsError::ValueOutOfMemory`] naming row `pos` and the field; the layout
    /// changes made since `cp` are rolled back, so the list is as it was.
    #[cold]
    fn try_room_at(
        &mut self,
        k: usize,
        pos: usize,
        record: &[(&str, Cell<'_>)],
        cells: &[Option<usize>],
        cp: Checkpoint,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let mut encoded = vec![None; self.cols.len()];
        let mut failed = None;
        for (j, cc) in self.chunks[k].cols.iter_mut().enumerate() {
            let Some(cell) = cells[j].map(|e| &record[e].1) else {
                continue;
            };
            if cell.var_len() < BIG_VALUE {
                continue;
            }
            let cc = crate::cow::make_mut(cc);
            let meta = &mut self.cols[j];
            let stored = cc.try_encoded(meta, cell).and_then(|enc| {
                let len = enc.as_ref().map_or(cell.var_len(), Vec::len);
                encoded[j] = enc;
                cc.try_room_for_value(meta, len)
            });
            if stored.is_err() {
                failed = Some((j, cell.var_len()));
                break;
            }
        }
        let Some((j, len)) = failed else {
            return Ok(encoded);
        };
        let field = self.cols[j].name.to_string();
        drop(encoded);
        self.rollback(cp);
        Err(RecordsError::ValueOutOfMemory {
            row: pos,
            field,
            len,
            bytes: len.saturating_add(crate::column::ENCODED_HEADER_MAX),
        })
    }

    /// Plans `record` for row `pos` (an existing row), applies any layout change and
    /// makes the chunk holding it writable. Returns the chunk, the row within it, the
    /// record entry of each field (`None`: absent) and the record's key-order pattern.
    fn prepare_at(
        &mut self,
        pos: usize,
        record: &[(&str, Cell<'_>)],
    ) -> Result<(usize, usize, Vec<Option<usize>>, u32)> {
        let plan = self.plan(pos, record)?;
        self.apply(&plan);
        let (k, i) = self.locate(pos);
        self.materialize(k);
        let mut cells = vec![None; self.cols.len()];
        for (e, &j) in plan.cols.iter().enumerate() {
            cells[j] = Some(e);
        }
        let p = self.pattern_id(&plan.cols);
        Ok((k, i, cells, p))
    }

    /// Before dictionary column `j` (laid out as `meta`) is converted to a layout that
    /// holds each chunk's strings itself: splits every chunk whose strings would pass
    /// [`SPLIT_FOR_TEXT_BYTES`] there (a dictionary holds a repeated string once, and its
    /// chunks are not cut by text), until each fits or is one record, so that no chunk's
    /// 32-bit offsets overflow.
    fn split_for_plain_text(&mut self, j: usize, meta: &ColMeta) {
        let mut k = 0;
        while k < self.chunks.len() {
            let c = &self.chunks[k];
            let cc = &c.cols[j];
            // Room for the variant encoding's header of each value too.
            let bytes: usize = (c.off..c.off + c.len)
                .map(|i| match cc.get(i, meta) {
                    CellRef::DictStr(_, s) => 16 + s.len(),
                    _ => 16,
                })
                .sum();
            if bytes > SPLIT_FOR_TEXT_BYTES && c.len > 1 {
                self.split(k);
            } else {
                k += 1;
            }
        }
    }

    fn split(&mut self, k: usize) {
        let c = self.chunks[k].clone();
        let half = c.len / 2;
        let part = |off: usize, len: usize| Chunk {
            off: 0,
            len,
            cols: c
                .cols
                .iter()
                .map(|cc| Arc::new(cc.slice(off, len)))
                .collect(),
            order: c
                .order
                .as_ref()
                .map(|o| Arc::new(o[off..off + len].to_vec())),
        };
        let (a, b) = (part(0, half), part(half, c.len - half));
        self.chunks.splice(k..=k, [a, b]);
        self.restart();
    }

    /// Replaces record `pos` entirely.
    ///
    /// # Errors
    /// As [`RecordList::insert_record`]; on error the list is unchanged.
    pub fn set_record(&mut self, pos: usize, record: &[(&str, Cell<'_>)]) -> Result<()> {
        self.check_row(pos)?;
        let cp = is_big(record).then(|| self.checkpoint());
        let (k, i, cells, p) = self.prepare_at(pos, record)?;
        let encoded = match cp {
            Some(cp) => self.try_room_at(k, pos, record, &cells, cp)?,
            None => Vec::new(),
        };
        let chunk = &mut self.chunks[k];
        for (j, cc) in chunk.cols.iter_mut().enumerate() {
            let enc = encoded.get(j).and_then(Option::as_deref).map(Cell::Encoded);
            let cell = enc.as_ref().or(cells[j].map(|e| &record[e].1));
            crate::cow::make_mut(cc).write(i, &mut self.cols[j], cell);
        }
        Self::set_pattern(chunk, i, p);
        self.compact_dicts_if_due();
        Ok(())
    }

    fn set_pattern(chunk: &mut Chunk, i: usize, p: u32) {
        if p != 0 || chunk.order.is_some() {
            let len = chunk.len;
            crate::cow::make_mut(chunk.order.get_or_insert_with(|| Arc::new(vec![0; len])))[i] = p;
        }
    }

    /// Sets one field of record `row` (a new key goes last in the record's key order).
    ///
    /// # Errors
    /// As [`RecordList::push_record`]; on error the list is unchanged.
    pub fn set_field(&mut self, row: usize, key: &str, cell: Cell<'_>) -> Result<()> {
        if let Some(&j) = self.by_name.get(key) {
            return self.set_field_at(row, j, cell);
        }
        self.check_row(row)?;
        let plan = self.plan(row, &[(key, cell)])?;
        self.apply(&plan);
        self.write_field(row, plan.cols[0], cell);
        Ok(())
    }

    /// [`RecordList::set_field`] for field `j`, which the caller has found (no lookup by
    /// name).
    ///
    /// # Errors
    /// As [`RecordList::set_field`]; [`RecordsError::NoSuchField`] if there is no field
    /// `j`. On error the list is unchanged.
    pub fn set_field_at(&mut self, row: usize, j: usize, cell: Cell<'_>) -> Result<()> {
        self.check_row(row)?;
        let Some(meta) = self.cols.get(j) else {
            return Err(RecordsError::NoSuchField(format!("#{j}")));
        };
        // A value that fits its column as laid out (the common write) needs no plan:
        // nothing to add or widen.
        if !fits_as_laid_out(meta, &cell) {
            let name = Arc::clone(&meta.name);
            let plan = self.plan(row, &[(&name, cell)])?;
            self.apply(&plan);
        }
        self.write_field(row, j, cell);
        Ok(())
    }

    /// Sets several fields of record `row` at once, as `dict.update` does: in the order
    /// given, a new key going last in the record's key order; a key given twice takes its
    /// last value, in the place of its first.
    ///
    /// # Errors
    /// As [`RecordList::set_field`], for any of the fields: every one is checked before
    /// the first is written, so on error the list is unchanged.
    ///
    /// # Memory
    /// Allocates the deduplicated fields and the plan; columns widened or added are
    /// converted as one [`RecordList::set_field`] would convert them.
    pub fn set_fields(&mut self, row: usize, fields: &[(&str, Cell<'_>)]) -> Result<()> {
        self.check_row(row)?;
        let mut merged: Vec<(&str, Cell<'_>)> = Vec::with_capacity(fields.len());
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(fields.len());
        for &(key, cell) in fields {
            match first.entry(key) {
                hashbrown::hash_map::Entry::Occupied(e) => merged[*e.get()].1 = cell,
                hashbrown::hash_map::Entry::Vacant(e) => {
                    e.insert(merged.len());
                    merged.push((key, cell));
                }
            }
        }
        let plan = self.plan(row, &merged)?;
        self.apply(&plan);
        for (&j, &(_, cell)) in plan.cols.iter().zip(&merged) {
            self.write_field(row, j, cell);
        }
        Ok(())
    }

    /// Writes `cell` as field `j` of record `row`, both valid, the column laid out to
    /// hold it.
    fn write_field(&mut self, row: usize, j: usize, cell: Cell<'_>) {
        let (k, i) = self.locate(row);
        self.materialize(k);
        let c = &self.chunks[k];
        // A new key goes last. A record whose keys are in field order (pattern 0) keeps
        // that order when it has no key of a later field (a field added to every record,
        // `r["total"] = ...`): then there is no pattern to look up.
        let stays = !c.cols[j].is_absent(i)
            || (in_field_order(c, i) && c.cols[j + 1..].iter().all(|cc| cc.is_absent(i)));
        let new_order = (!stays).then(|| {
            let mut keys = self.row_keys(row);
            keys.push(j);
            keys
        });
        let chunk = &mut self.chunks[k];
        crate::cow::make_mut(&mut chunk.cols[j]).write(i, &mut self.cols[j], Some(&cell));
        if let Some(keys) = new_order {
            let p = self.pattern_id(&keys);
            Self::set_pattern(&mut self.chunks[k], i, p);
        }
        self.compact_dict_if_due(j);
    }

    /// Removes `field` from record `row`; returns whether it was there.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`].
    pub fn remove_field(&mut self, row: usize, field: usize) -> Result<bool> {
        self.check_row(row)?;
        if field >= self.cols.len() {
            return Ok(false);
        }
        let (k, i) = self.locate(row);
        let c = &self.chunks[k];
        if c.cols[field].is_absent(c.off + i) {
            return Ok(false);
        }
        // Keys in field order stay so without one of them: no pattern to look up.
        let keys = (!in_field_order(c, c.off + i)).then(|| {
            let mut keys = self.row_keys(row);
            keys.retain(|&j| j != field);
            keys
        });
        self.materialize(k);
        let chunk = &mut self.chunks[k];
        crate::cow::make_mut(&mut chunk.cols[field]).write(i, &mut self.cols[field], None);
        if let Some(keys) = keys {
            let p = self.pattern_id(&keys);
            Self::set_pattern(&mut self.chunks[k], i, p);
        }
        Ok(true)
    }

    /// Removes record `pos`.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`].
    pub fn remove(&mut self, pos: usize) -> Result<()> {
        self.check_row(pos)?;
        let (k, i) = self.locate(pos);
        if i + 1 == self.chunks[k].len && self.chunks[k].off == 0 {
            // Dropping the last row of a chunk is a length change, no data moves.
            self.chunks[k].len -= 1;
            self.give_back(k);
        } else {
            self.materialize(k);
            let chunk = &mut self.chunks[k];
            for cc in &mut chunk.cols {
                crate::cow::make_mut(cc).remove(i);
            }
            if let Some(o) = &mut chunk.order {
                crate::cow::make_mut(o).remove(i);
            }
            chunk.len -= 1;
        }
        self.restart();
        Ok(())
    }

    /// Keeps the first `n` records.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        let mut left = n;
        for c in &mut self.chunks {
            let keep = c.len.min(left);
            c.len = keep;
            left -= keep;
        }
        self.restart();
        if let Some(k) = self.chunks.len().checked_sub(1) {
            self.give_back(k);
        }
    }

    /// [`RecordList::truncate`], handing back the memory of the rows dropped at once
    /// when they are 4,096 or more (`truncate` waits until they are most of what the
    /// buffers hold, so that a run of `pop`s stays O(1) a record): for a shared store
    /// whose end a dropped list alone read ([`crate::Reclaim`]).
    ///
    /// # Memory
    /// Shrinks the last chunk's buffers to its rows (a reallocation, in place as a rule)
    /// unless another list shares them.
    pub fn truncate_releasing(&mut self, n: usize) {
        let cut = self.len.saturating_sub(n);
        self.truncate(n);
        if cut < 4096 {
            return;
        }
        if let Some(k) = self.chunks.len().checked_sub(1) {
            let c = &self.chunks[k];
            // Shared (a copy, a column view): trimming would copy the rows kept.
            if c.off == 0 && c.cols.iter().all(|col| Arc::strong_count(col) == 1) {
                self.materialize(k);
                self.trim_chunk(k);
            }
        }
    }

    /// Hands back the memory of the rows chunk `k` dropped from its end (a `truncate`,
    /// a run of `pop`s) once they are most of what its buffers hold: its columns are
    /// cut to its rows and shrunk to fit, as a list gives back what it no longer holds.
    /// Each time costs a copy of the rows kept at most, and comes after at least three
    /// times as many were dropped, so a run of `pop`s stays O(1) a record.
    fn give_back(&mut self, k: usize) {
        /// Rows dropped below which nothing is handed back (not worth a reallocation).
        const SLACK: usize = 4096;
        let c = &self.chunks[k];
        let held = c.cols.iter().map(|cc| cc.len).max().unwrap_or(0);
        if c.off != 0 || held < 4 * c.len + SLACK {
            return;
        }
        // A column shared with another list (copy-on-write) is copied to its rows by
        // `materialize`: right-sized already.
        self.materialize(k);
        self.trim_chunk(k);
    }

    /// Removes every record (fields and their types stay).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.restart();
        for m in &mut self.cols {
            if let Layout::StrDict(_) = m.layout {
                m.dict = Some(Arc::default());
                m.layout = Layout::StrDict(Width::W8);
            }
            m.str_bytes = 0;
            m.str_count = 0;
        }
    }

    /// Records `[start, end)` as a new list sharing this one's storage (copy-on-write).
    ///
    /// # Memory
    /// O(chunks); no data is copied until either list is written.
    pub fn slice(&self, start: usize, end: usize) -> RecordList {
        let end = end.min(self.len);
        let start = start.min(end);
        let mut out = self.empty_like();
        for (k, c) in self.chunks.iter().enumerate() {
            let (s, e) = (self.starts[k], self.starts[k] + c.len);
            let (a, b) = (start.max(s), end.min(e));
            if a < b {
                let mut c = c.clone();
                c.off += a - s;
                c.len = b - a;
                out.chunks.push(c);
            }
        }
        out.restart();
        out
    }

    /// An empty list with this one's fields, types and settings.
    pub fn empty_like(&self) -> RecordList {
        let mut out = Self::with_chunk_rows(self.chunk_rows);
        out.cols = self.cols.clone();
        out.by_name = self.by_name.clone();
        out.closed = self.closed;
        out.patterns = self.patterns.clone();
        out
    }

    /// A new list holding records `indices` (in that order; repeats allowed).
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn take(&self, indices: &[usize]) -> RecordList {
        self.take_in_chunks(indices, CHUNK_VAR_BYTES)
    }

    /// [`RecordList::take`], a new chunk starting where one would pass `chunk_rows` rows
    /// or `var_bytes` bytes of variable-length values (as appends cut them).
    fn take_in_chunks(&self, indices: &[usize], var_bytes: usize) -> RecordList {
        let mut out = self.empty_like();
        let mut metas = self.cols.clone();
        let any_order = self.chunks.iter().any(|c| c.order.is_some());
        // Where each record is stored: its chunk and position there.
        let at: Vec<(usize, usize)> = indices
            .iter()
            .map(|&r| {
                let (c, k) = self.locate(r);
                (c, self.chunks[c].off + k)
            })
            .collect();
        let mut from = 0;
        while from < at.len() {
            let (mut to, mut bytes) = (from, 0);
            while to < at.len() && to - from < self.chunk_rows {
                let (c, i) = at[to];
                let b: usize = self.chunks[c]
                    .cols
                    .iter()
                    .map(|cc| cc.stored_bytes(i))
                    .sum();
                if to > from && bytes + b > var_bytes {
                    break;
                }
                bytes += b;
                to += 1;
            }
            let part = &indices[from..to];
            let mut cols = Vec::with_capacity(self.cols.len());
            for (j, meta) in metas.iter_mut().enumerate() {
                let mut cc = ColChunk::empty(meta.layout);
                if !cc.gather(meta, |c| &*self.chunks[c].cols[j], &at[from..to]) {
                    for (&r, &(c, i)) in part.iter().zip(&at[from..to]) {
                        if !cc.push_stored(meta, &self.chunks[c].cols[j], i) {
                            cc.push(meta, self.get(r, j).to_cell().as_ref());
                        }
                    }
                }
                cc.tidy();
                cols.push(Arc::new(cc));
            }
            from = to;
            let order =
                any_order.then(|| Arc::new(part.iter().map(|&r| self.pattern(r)).collect()));
            out.chunks.push(Chunk {
                off: 0,
                len: part.len(),
                cols,
                order,
            });
        }
        out.cols = metas;
        out.restart();
        out
    }

    /// Reorders records: record `i` becomes old record `perm[i]`.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] if `perm` is not a permutation of `0..len()`.
    pub fn permute(&mut self, perm: &[usize]) -> Result<()> {
        let mut seen = Bitmap::filled(self.len, false);
        if perm.len() != self.len {
            return Err(RecordsError::IndexOutOfRange {
                index: perm.len(),
                len: self.len,
            });
        }
        for &p in perm {
            if p >= self.len || seen.get(p) {
                return Err(RecordsError::IndexOutOfRange {
                    index: p,
                    len: self.len,
                });
            }
            seen.set(p, true);
        }
        *self = self.take(perm);
        Ok(())
    }

    /// Reverses the records in place.
    pub fn reverse(&mut self) {
        // Chunk by chunk and column by column, each copied reversed in its stored form:
        // no cell conversion, and one column chunk at a time beside the list.
        for c in &mut self.chunks {
            let (off, len) = (c.off, c.len);
            for cc in &mut c.cols {
                *cc = Arc::new(cc.reversed(off, len));
            }
            if let Some(o) = &mut c.order {
                *o = Arc::new(o[off..off + len].iter().rev().copied().collect());
            }
            c.off = 0;
        }
        self.chunks.reverse();
        self.restart();
    }

    /// Appends every record of `other`.
    ///
    /// # Errors
    /// As [`RecordList::push_record`] (only with a declared schema); on error nothing is appended.
    ///
    /// # Memory
    /// A list with no fields yet (and the same chunk size, neither schema declared)
    /// shares `other`'s chunks, copy-on-write, as a clone does. Else the records are
    /// copied column by column, a grid of cell references for 4,096 records at a time.
    pub fn extend_from(&mut self, other: &RecordList) -> Result<()> {
        if self.len == 0
            && self.cols.is_empty()
            && !self.closed
            && !other.closed
            && self.chunk_rows == other.chunk_rows
        {
            // Nothing of its own to keep: the other list's records, shared until either
            // list writes to them (as a copy is).
            *self = other.clone();
            return Ok(());
        }
        // Records per grid: its cells are borrowed, one slot per field and record.
        const RUN: usize = 4096;
        let cp = self.checkpoint();
        // The tail grows once for every record, not once per run.
        self.expect_rows(other.len());
        let mut rows = Vec::with_capacity(RUN.min(other.len()));
        for start in (0..other.len()).step_by(RUN) {
            rows.clear();
            rows.extend(start..(start + RUN).min(other.len()));
            let pushed = match self.push_rows_of(other, &rows) {
                Ok(true) => Ok(()),
                // A field the declared schema lacks: the record-by-record copy names it.
                Ok(false) => crate::read::append_records(self, &mut other.clone(), &rows),
                Err(e) => Err(e),
            };
            if let Err(e) = pushed {
                self.rollback(cp);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Replaces records `[start, end)` with every record of `other` (slice assignment).
    ///
    /// # Errors
    /// As [`RecordList::push_record`]; on error the list is unchanged.
    pub fn splice(&mut self, start: usize, end: usize, other: &RecordList) -> Result<()> {
        let end = end.min(self.len);
        let start = start.min(end);
        let backup = self.clone();
        let tail = self.slice(end, self.len);
        self.truncate(start);
        let res = self
            .extend_from(other)
            .and_then(|()| self.extend_from(&tail));
        if let Err(e) = res {
            *self = backup;
            return Err(e);
        }
        Ok(())
    }

    /// Removes records `[start, end)`.
    pub fn remove_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        if end == self.len {
            self.truncate(start);
            return;
        }
        let empty = self.empty_like();
        // Cannot fail: nothing is added.
        let _ = self.splice(start, end, &empty);
    }

    /// Replaces record `pos` with record `orow` of `other`.
    ///
    /// # Errors
    /// As [`RecordList::set_record`].
    pub fn set_record_from(&mut self, pos: usize, other: &RecordList, orow: usize) -> Result<()> {
        other.check_row(orow)?;
        self.set_record(pos, &other.record_cells(orow))
    }

    /// Moves the last `to.len()` records over rows `to` (each below them, in that
    /// order), then drops them from the end: how a shared store puts new records in
    /// rows no list reads any more ([`crate::Reclaim`]) instead of growing.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] if a row of `to` is not below the records
    /// moved; any error of [`RecordList::set_record`] (none for records of this list).
    /// On error the records are still at the end (rows of `to` may hold copies).
    ///
    /// # Memory
    /// Copies each moved record's values once (owned, so the store can be written while
    /// they are read); writing a row copies its chunk's columns if another list shares
    /// them (copy-on-write); the dropped rows are handed back as `truncate` does.
    pub fn move_tail_into(&mut self, to: &[usize]) -> Result<()> {
        let from = self
            .len
            .checked_sub(to.len())
            .ok_or(RecordsError::IndexOutOfRange {
                index: to.len(),
                len: self.len,
            })?;
        if let Some(&r) = to.iter().find(|&&r| r >= from) {
            return Err(RecordsError::IndexOutOfRange {
                index: r,
                len: from,
            });
        }
        for (k, &r) in to.iter().enumerate() {
            let held: Vec<(String, HeldCell)> = self
                .record_cells(from + k)
                .into_iter()
                .map(|(name, c)| (name.to_owned(), HeldCell::of(&c)))
                .collect();
            let cells: Vec<(&str, Cell<'_>)> =
                held.iter().map(|(n, c)| (n.as_str(), c.cell())).collect();
            self.set_record(r, &cells)?;
        }
        self.truncate(from);
        Ok(())
    }

    /// Record `row` (a valid row) as the cells [`RecordList::push_record`] takes, its
    /// absent fields left out.
    pub(crate) fn record_cells(&self, row: usize) -> Vec<(&str, Cell<'_>)> {
        let mut rec = Vec::new();
        self.visit_row(row, |j, v| {
            if let Some(c) = v.to_cell() {
                rec.push((self.field_name(j), c));
            }
        });
        rec
    }

    // ----- rollback ------------------------------------------------------------------

    /// Remembers the current state so that [`RecordList::rollback`] can restore it after
    /// a failed multi-record operation (only appends may happen in between).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.len,
            // Without the dictionaries: holding them would make every dictionary shared,
            // and the next new string would copy it (copy-on-write). Rolling back needs
            // only their lengths.
            metas: self
                .cols
                .iter()
                .map(|m| ColMeta {
                    dict: None,
                    ..m.clone()
                })
                .collect(),
            dicts: self
                .cols
                .iter()
                .map(|m| (m.dict().lineage(), m.dict().len()))
                .collect(),
            patterns: self.patterns.list.len(),
        }
    }

    /// Announces at least `rows` more records about to be appended in runs: the tail's
    /// buffers then grow once for all of them instead of run by run. A bulk append of a
    /// known length announces its length; one fed from an iterator can announce as
    /// many records as it gave so far (what that leaves spare is at most the load's
    /// size, which [`RecordList::optimize_since`] trims when it is an eighth of the
    /// tail). Forgotten as they land, at the end of each bulk append, on
    /// [`RecordList::rollback`] and after [`RecordList::optimize_since`].
    pub fn expect_rows(&mut self, rows: usize) {
        self.incoming = self.incoming.max(rows);
    }

    /// Drops records, fields and type changes made since `cp`.
    pub fn rollback(&mut self, cp: Checkpoint) {
        // Rows the failed append made room for: those it pushed and those still to come.
        let spare = std::mem::take(&mut self.incoming) + self.len.saturating_sub(cp.len);
        self.truncate(cp.len);
        if let Some(k) = self.chunks.len().checked_sub(1) {
            // Drop the rolled-back rows from the (unique) tail for real, and the room
            // made for them when that is an eighth of the tail or more (as a load that
            // large is trimmed after it lands).
            self.materialize(k);
            if self.chunks[k].len / 8 <= spare {
                self.trim_tail();
            }
        }
        let n = cp.metas.len();
        for m in self.cols.drain(n..) {
            self.by_name.remove(&m.name);
        }
        for c in &mut self.chunks {
            c.cols.truncate(n);
        }
        for (j, old) in cp.metas.iter().enumerate() {
            let (lineage, dict_len) = cp.dicts[j];
            // A dictionary rebuilt since (compacted, or re-made by a change of layout)
            // has other positions than `dict_len` counts: rebuilt again from the records
            // kept, it holds their strings in the order they had, so their keys fit the
            // key width they had.
            let rebuilt = matches!(
                (self.cols[j].layout, old.layout),
                (Layout::StrDict(_), Layout::StrDict(_))
            ) && self.cols[j].dict().lineage() != lineage;
            if rebuilt {
                self.compact_dict(j);
            }
            if self.cols[j].layout != old.layout {
                self.convert_column(j, old.layout);
            }
            if let (Some(d), Layout::StrDict(_), false) =
                (&mut self.cols[j].dict, old.layout, rebuilt)
            {
                if d.len() > dict_len {
                    crate::cow::make_mut(d).truncate(dict_len);
                }
            }
            self.cols[j].str_bytes = old.str_bytes;
            self.cols[j].str_count = old.str_count;
        }
        if self.patterns.list.len() > cp.patterns {
            self.patterns.list.truncate(cp.patterns);
            let list = &self.patterns.list;
            self.patterns
                .index
                .retain(|_, id| (*id as usize) <= list.len());
        }
    }

    // ----- memory --------------------------------------------------------------------

    /// Bytes of heap memory this list owns or keeps alive (shared chunks included): its
    /// [`RecordList::buffers`] plus the bytes of its own bookkeeping.
    pub fn nbytes(&self) -> usize {
        let mut n = std::mem::size_of::<Self>();
        for c in &self.chunks {
            n += std::mem::size_of::<Chunk>() + c.cols.capacity() * 8;
        }
        for m in &self.cols {
            n += std::mem::size_of::<ColMeta>() + m.name.len() * 2 + 16;
        }
        self.buffers(|b| n += b.bytes);
        n += self
            .patterns
            .list
            .iter()
            .map(|p| p.len() * 8 + 32)
            .sum::<usize>();
        n + self.starts.capacity() * 8 + self.by_name.capacity() * 24
    }

    /// Calls `f` with each allocation of this list that slices, copies and column
    /// views of it can share copy-on-write: each column's part of each chunk, each
    /// chunk's key orders and each string dictionary. One allocation held by several
    /// lists or views has one [`Buffer::id`] in each, so a caller adding sizes can count
    /// it once.
    pub fn buffers(&self, mut f: impl FnMut(Buffer)) {
        for c in &self.chunks {
            for cc in &c.cols {
                crate::column::ColChunk::buffers(cc, &mut f);
            }
            if let Some(o) = &c.order {
                f(Buffer::of(o, o.capacity() * 4));
            }
        }
        for m in &self.cols {
            if let Some(d) = &m.dict {
                f(Buffer::of(d, d.heap_bytes()));
            }
        }
    }

    // ----- columns -------------------------------------------------------------------

    /// A read-only snapshot of field `j` (shares storage; copies nothing).
    pub fn column(&self, j: usize) -> crate::ColumnView {
        crate::ColumnView::new(
            self.cols[j].clone(),
            self.chunks
                .iter()
                .map(|c| (c.cols[j].clone(), c.off, c.len))
                .collect(),
        )
    }

    /// The first record (row, field) holding a host-serialized value
    /// ([`crate::variant::Value::Opaque`]), at any depth; `None` if there is none.
    ///
    /// A host checks this before handing out data that came from elsewhere (an Arrow
    /// import, a file), since rebuilding such a value may run host code.
    ///
    /// # Memory
    /// Decodes `object` values one at a time; allocates nothing that outlives a value.
    pub fn first_opaque(&self) -> Option<(usize, usize)> {
        let mut found: Option<(usize, usize)> = None;
        for j in 0..self.num_fields() {
            if self.field_dtype(j) != DType::Object {
                continue;
            }
            let col = self.column(j);
            for row in 0..col.len() {
                if found.is_some_and(|(r, _)| r <= row) {
                    break;
                }
                if let CellRef::Encoded(b) = col.get(row) {
                    if variant::contains_opaque(b) {
                        found = Some((row, j));
                        break;
                    }
                }
            }
        }
        found
    }

    // ----- comparisons ---------------------------------------------------------------

    /// Python `==` between record `row` and a record given as cells; `None` when an
    /// opaque host value makes it undecidable here.
    pub fn row_eq(&self, row: usize, record: &[(&str, Cell<'_>)]) -> Option<bool> {
        if self.row_len(row) != record.len() {
            return Some(false);
        }
        let mut unknown = false;
        for (key, cell) in record {
            let Some(j) = self.field_index(key) else {
                return Some(false);
            };
            let Some(mine) = self.get(row, j).to_cell() else {
                return Some(false);
            };
            match cell_eq(&mine, cell) {
                Some(true) => {}
                Some(false) => return Some(false),
                None => unknown = true,
            }
        }
        if unknown { None } else { Some(true) }
    }

    /// Python `==` between record `row` of `self` and record `orow` of `other`.
    pub fn row_eq_other(&self, row: usize, other: &RecordList, orow: usize) -> Option<bool> {
        let mut rec: Vec<(&str, Cell<'_>)> = Vec::new();
        other.visit_row(orow, |j, v| {
            if let Some(c) = v.to_cell() {
                rec.push((other.field_name(j), c));
            }
        });
        self.row_eq(row, &rec)
    }

    /// Whether record `row` of `self` and record `orow` of `other` are one stored
    /// record, what a list of dicts tells by identity: lists that share storage (a copy
    /// or slice sharing its chunks, copy-on-write) read every field of it from the same
    /// place of the same chunk. Conservative: a record a write has since moved to a
    /// chunk of its own counts as another record.
    pub fn same_record(&self, row: usize, other: &RecordList, orow: usize) -> bool {
        SameRecord::new(self, other).test(row, orow)
    }

    // ----- internals for sibling modules ---------------------------------------------

    pub(crate) fn metas(&self) -> &[ColMeta] {
        &self.cols
    }

    /// For export: every chunk's columns (compacted) with offsets.
    pub(crate) fn chunk_parts(&mut self) -> Vec<(usize, usize, Vec<Arc<ColChunk>>)> {
        for c in &mut self.chunks {
            for cc in &mut c.cols {
                if let Data::Var(v) = &cc.data {
                    if !v.is_compact() {
                        crate::cow::make_mut(cc).compact();
                    }
                }
            }
        }
        self.chunks
            .iter()
            .map(|c| (c.off, c.len, c.cols.clone()))
            .collect()
    }
}

/// `cell` goes into a column of this layout as it is, and the layout (which always
/// agrees with a declared type) accepts it. Strings into a dictionary column count as
/// fitting: key widths are settled per run in `push_rows`.
#[inline]
fn fits(layout: Layout, cell: &Cell<'_>) -> bool {
    match (layout, cell) {
        (_, Cell::Null) | (Layout::Float, Cell::Float(_)) | (Layout::Bool, Cell::Bool(_)) => true,
        (Layout::Int(w), Cell::Int(v)) => Width::for_value(*v) <= w,
        (Layout::StrDict(_) | Layout::StrPlain, Cell::Str(s)) => s.len() <= MAX_VALUE_BYTES,
        (Layout::Bytes, Cell::Bytes(b)) => b.len() <= MAX_VALUE_BYTES,
        _ => false,
    }
}

/// Whether the record at position `i` of chunk `c`'s columns keeps its keys in field
/// order (key-order pattern 0).
#[inline]
fn in_field_order(c: &Chunk, i: usize) -> bool {
    c.order.as_ref().is_none_or(|o| o[i] == 0)
}

/// `cell` goes into its column with no change to the column ([`layout_for`] keeps the
/// layout it has: no widening, no new dictionary string past a full key width) and is
/// within [`MAX_VALUE_BYTES`]: the test of the unplanned paths (`push_fitting`,
/// `set_field`).
#[inline]
fn fits_as_laid_out(meta: &ColMeta, cell: &Cell<'_>) -> bool {
    layout_for(meta, cell) == Some(meta.layout) && cell.var_len() <= MAX_VALUE_BYTES
}

fn mismatch(row: usize, meta: &ColMeta, cell: &Cell<'_>) -> RecordsError {
    RecordsError::SchemaMismatch {
        row,
        field: meta.name.to_string(),
        expected: meta.declared.unwrap_or(meta.layout.dtype()),
        found: cell.type_name(),
    }
}

/// The narrowest key width for a dictionary of `entries` strings.
fn key_width(entries: usize) -> Width {
    let mut w = Width::W8;
    while entries > crate::column::dict_capacity(w) {
        w = crate::column::next_width(w);
    }
    w
}

/// Pushes a value read from another layout; variant-encoded scalars are decoded when
/// the target layout is typed (used when rolling a column back to a narrower type).
fn push_converted(out: &mut ColChunk, meta: &mut ColMeta, v: CellRef<'_>) {
    if let (CellRef::Encoded(b), l) = (v, meta.layout) {
        if l != Layout::Object {
            if let Ok(val) = variant::decode(b) {
                out.push(meta, Some(&Cell::from_decoded(&val, b)));
                return;
            }
        }
    }
    out.push(meta, v.to_cell().as_ref());
}

/// Python `==` between two cells (`None`: undecidable without the host).
pub fn cell_eq(a: &Cell<'_>, b: &Cell<'_>) -> Option<bool> {
    use Cell::*;
    match (a, b) {
        (Null, Null) => Some(true),
        (Str(x), Str(y)) => Some(crate::strdict::same_bytes(x.as_bytes(), y.as_bytes())),
        (Bytes(x), Bytes(y)) => Some(x == y),
        (Int(x), Int(y)) => Some(x == y),
        (Float(x), Float(y)) => Some(x == y),
        // Mixed kinds (True == 1 == 1.0, containers, big ints): Python's rules on values.
        _ => variant::python_eq(&a.to_value().ok()?, &b.to_value().ok()?),
    }
}

/// One chunk of a list as readers inside this crate walk it (see
/// [`RecordList::raw_chunks`]).
pub(crate) struct RawChunk<'a> {
    /// List index of the chunk's first record.
    pub(crate) first_row: usize,
    /// Record `first_row + i` is row `off + i` of the column chunks.
    pub(crate) off: usize,
    pub(crate) len: usize,
    pub(crate) cols: &'a [Arc<ColChunk>],
    /// Key-order pattern per column-chunk row (0: field order).
    pub(crate) order: Option<&'a [u32]>,
}

impl RecordList {
    /// The chunks in order, for readers that walk columns directly instead of calling
    /// [`RecordList::get`] per value (the JSON writer).
    pub(crate) fn raw_chunks(&self) -> impl Iterator<Item = RawChunk<'_>> {
        self.chunks
            .iter()
            .zip(&self.starts)
            .map(|(c, &first_row)| RawChunk {
                first_row,
                off: c.off,
                len: c.len,
                cols: &c.cols,
                order: c.order.as_deref().map(Vec::as_slice),
            })
    }

    /// Column-wide state of field `j`.
    pub(crate) fn col_meta(&self, j: usize) -> &ColMeta {
        &self.cols[j]
    }

    /// The fields, in record order, of key-order pattern `p` (not 0).
    pub(crate) fn pattern_fields(&self, p: u32) -> &[u32] {
        self.patterns.get(p)
    }
}

/// Tells whether a record of one list and a record of another are one stored record,
/// what a list of dicts or tuples tells by identity (`x is y`): both read every field
/// from the same place of the same column chunk, which copies and slices share until
/// one of them writes it (copy-on-write). Only then are the two bit for bit the same
/// value, a NaN included; records that merely hold equal values are not one record.
///
/// Conservative: records a write has since moved to a chunk of their own (a write to
/// another record of the chunk copies it) count as other records, and are compared by
/// value.
pub(crate) struct SameRecord<'a> {
    a: &'a RecordList,
    b: &'a RecordList,
    /// Whether the two lists read a shared chunk alike (worked out on first use).
    alike: Option<bool>,
    /// The last pair of chunks looked at, and whether they share every column.
    last: Option<(usize, usize, bool)>,
}

impl<'a> SameRecord<'a> {
    pub(crate) fn new(a: &'a RecordList, b: &'a RecordList) -> Self {
        SameRecord {
            a,
            b,
            alike: None,
            last: None,
        }
    }

    /// Whether record `x` of the first list and record `y` of the second are one.
    pub(crate) fn test(&mut self, x: usize, y: usize) -> bool {
        if std::ptr::eq(self.a, self.b) {
            return x == y;
        }
        if x >= self.a.len || y >= self.b.len {
            return false;
        }
        let (a, b) = (self.a, self.b);
        if !*self.alike.get_or_insert_with(|| columns_alike(a, b)) {
            return false;
        }
        let ((ka, ia), (kb, ib)) = (a.locate(x), b.locate(y));
        let (ca, cb) = (&a.chunks[ka], &b.chunks[kb]);
        if ca.off + ia != cb.off + ib {
            return false;
        }
        match self.last {
            Some((la, lb, shared)) if (la, lb) == (ka, kb) => shared,
            _ => {
                let shared = ca.cols.len() == cb.cols.len()
                    && ca.cols.iter().zip(&cb.cols).all(|(p, q)| Arc::ptr_eq(p, q));
                self.last = Some((ka, kb, shared));
                shared
            }
        }
    }
}

/// Whether a column chunk reads the same in `a` as in `b`: the same fields (names, in
/// order), layouts, and, for dictionary-encoded strings, dictionaries that agree on
/// every key both have (a chunk's keys are keys of both lists' dictionaries).
fn columns_alike(a: &RecordList, b: &RecordList) -> bool {
    a.cols.len() == b.cols.len()
        && a.cols.iter().zip(&b.cols).all(|(p, q)| {
            p.name == q.name
                && p.layout == q.layout
                && match (&p.dict, &q.dict) {
                    (None, None) => true,
                    (Some(x), Some(y)) => Arc::ptr_eq(x, y) || x.agrees_with(y),
                    _ => false,
                }
        })
}

#[cfg(test)]
mod take_tests {
    use super::*;

    #[test]
    fn take_cuts_chunks_by_variable_length_bytes_as_appends_do() {
        let mut l = RecordList::with_chunk_rows(64);
        let blobs: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
        for (i, b) in blobs.iter().enumerate() {
            let b = if i == 7 { vec![9; 5000] } else { b.clone() };
            l.push_record(&[("id", Cell::Int(i as i64)), ("blob", Cell::Bytes(&b))])
                .unwrap();
        }
        let picks: Vec<usize> = (0..50).rev().chain([7, 7, 3]).collect();
        let out = l.take_in_chunks(&picks, 1000);
        assert_eq!(out.len(), picks.len());
        for (k, &p) in picks.iter().enumerate() {
            for j in 0..2 {
                assert_eq!(format!("{:?}", out.get(k, j)), format!("{:?}", l.get(p, j)));
            }
        }
        assert!(out.chunks.len() > 1);
        for c in &out.chunks {
            let bytes = c.cols[1].var_bytes();
            assert!(bytes <= 1000 || c.len == 1, "{} rows, {bytes} bytes", c.len);
        }
    }

    #[test]
    fn take_counts_the_strings_it_copies_as_appending_them_would() {
        // The counts (of strings pushed, which decide between dictionary and plain
        // strings) start from the source's, as a taken list's column state does, and
        // grow by each string copied (nulls and absent values are not strings), as
        // appending the same records counts them, across chunks.
        let mut l = RecordList::with_chunk_rows(7);
        let words = ["DE", "FR", "naïve", ""];
        let records: Vec<Vec<(&str, Cell<'_>)>> = (0..40usize)
            .map(|i| {
                let mut rec = vec![("id", Cell::Int(i as i64))];
                if i % 5 != 1 {
                    let w = if i % 7 == 3 {
                        Cell::Null
                    } else {
                        Cell::Str(words[i % 4])
                    };
                    rec.push(("country", w));
                }
                rec
            })
            .collect();
        for rec in &records {
            l.push_record(rec).unwrap();
        }
        let unique: Vec<String> = (0..40).map(|i| format!("note {i}")).collect();
        let mut plain = RecordList::with_chunk_rows(7);
        for (i, u) in unique.iter().enumerate() {
            let cell = if i % 6 == 0 { Cell::Null } else { Cell::Str(u) };
            plain.push_record(&[("note", cell)]).unwrap();
        }
        plain.convert_column(0, Layout::StrPlain);
        let picks: Vec<usize> = (0..40).rev().step_by(3).chain([2, 2, 9]).collect();
        for src in [&l, &plain] {
            let out = src.take(&picks);
            let mut again = RecordList::with_chunk_rows(7);
            for &p in &picks {
                let mut rec = Vec::new();
                src.visit_row(p, |j, c| {
                    rec.push((src.field_name(j), c.to_cell().unwrap()))
                });
                again.push_record(&rec).unwrap();
            }
            if src.cols[0].layout == Layout::StrPlain {
                again.convert_column(0, Layout::StrPlain);
            }
            for j in 0..src.num_fields() {
                let (a, b, c) = (out.col_meta(j), again.col_meta(j), src.col_meta(j));
                assert_eq!(
                    (a.str_bytes, a.str_count),
                    (b.str_bytes + c.str_bytes, b.str_count + c.str_count),
                    "field {j}"
                );
            }
        }
    }
}

#[cfg(test)]
mod out_of_memory_tests {
    use super::*;
    use crate::store::FAIL_GROWTH_FROM;

    /// Every record of `l`, as text (each value with its field).
    fn contents(l: &RecordList) -> Vec<String> {
        (0..l.len())
            .map(|r| {
                let mut rec = Vec::new();
                l.visit_row(r, |j, c| rec.push(format!("{}={:?}", l.field_name(j), c)));
                rec.join(" ")
            })
            .collect()
    }

    /// A list of a few records of strings, ints and bytes, in chunks of 4 rows.
    fn small() -> RecordList {
        let mut l = RecordList::with_chunk_rows(4);
        for i in 0..6 {
            let s = format!("s{i}");
            let b = vec![i as u8; 3];
            l.push_record(&[
                ("id", Cell::Int(i)),
                ("s", Cell::Str(&s)),
                ("b", Cell::Bytes(&b)),
            ])
            .unwrap();
        }
        l
    }

    /// Runs `f` with fallible growth failing from `bytes` on.
    fn short_of_memory<T>(bytes: usize, f: impl FnOnce() -> T) -> T {
        FAIL_GROWTH_FROM.with(|c| c.set(bytes));
        let r = f();
        FAIL_GROWTH_FROM.with(|c| c.set(usize::MAX));
        r
    }

    fn assert_names(e: &RecordsError, row: usize, field: &str, len: usize) {
        match e {
            RecordsError::ValueOutOfMemory {
                row: r,
                field: f,
                len: n,
                ..
            } => assert_eq!((*r, f.as_str(), *n), (row, field, len), "{e}"),
            other => panic!("not ValueOutOfMemory: {other}"),
        }
    }

    #[test]
    fn a_large_value_without_memory_is_an_error_and_the_list_stays_as_it_was() {
        let big = "x".repeat(BIG_VALUE + 5);
        let blob = vec![7u8; BIG_VALUE];
        let nested = {
            let mut enc = Vec::new();
            variant::Writer::new(&mut enc).str(&big);
            enc
        };
        // Into a string, a bytes, an object column (a str among ints), a new field.
        let cases: Vec<(&str, Cell<'_>)> = vec![
            ("s", Cell::Str(&big)),
            ("b", Cell::Bytes(&blob)),
            ("id", Cell::Str(&big)),
            ("id", Cell::Bytes(&blob)),
            ("new", Cell::Str(&big)),
            ("new", Cell::Encoded(&nested)),
        ];
        // Appended (row 6), set or inserted (in mid-chunk, and at a chunk's last row).
        let ways = [(false, 6), (false, 2), (false, 5), (true, 2), (true, 5)];
        for (insert, at) in ways {
            for &(field, cell) in &cases {
                let mut l = small();
                let before = contents(&l);
                let fields = l.num_fields();
                let record = if field == "id" {
                    vec![(field, cell)]
                } else {
                    vec![("id", Cell::Int(9)), (field, cell)]
                };
                let put = |l: &mut RecordList| match insert {
                    true => l.insert_record(at, &record),
                    false if at == 6 => l.push_record(&record),
                    false => l.set_record(at, &record),
                };
                let insert = insert || at == 6;
                let e = short_of_memory(BIG_VALUE / 2, || put(&mut l)).unwrap_err();
                assert_names(&e, at, field, cell.var_len());
                assert_eq!(contents(&l), before, "{field} {insert}");
                assert_eq!(l.num_fields(), fields, "{field} {insert}");
                // With the memory there, the same record is stored (and reads back).
                put(&mut l).unwrap();
                assert_eq!(l.len(), 6 + usize::from(insert));
                assert_eq!(l.row_eq(at, &record), Some(true), "{field} {insert}");
                // The other records as they were (by value: a column may have
                // become an object one).
                let values = |l: &RecordList, rows: Vec<usize>| -> Vec<_> {
                    let mut out = Vec::new();
                    for r in rows {
                        l.visit_row(r, |j, c| {
                            let v = c.to_cell().map(|c| c.to_value().unwrap());
                            out.push((r, l.field_name(j).to_owned(), v));
                        });
                    }
                    out
                };
                let old = small();
                let kept: Vec<usize> = (0..6).filter(|&r| insert || r != at).collect();
                let moved = kept.iter().map(|&r| r + usize::from(insert && r >= at));
                let got = values(&l, moved.clone().collect());
                let want = values(&old, kept.clone());
                let renumbered: Vec<_> = want
                    .into_iter()
                    .map(|(r, f, v)| (r + usize::from(insert && r >= at), f, v))
                    .collect();
                assert_eq!(got, renumbered, "the other records, {field} {insert}");
            }
        }
    }

    #[test]
    fn columns_with_a_large_value_without_memory_leave_the_list_as_it_was() {
        use crate::columns::{Columns, Mark, Values};
        let big = "x".repeat(BIG_VALUE + 5);
        let blob = vec![7u8; BIG_VALUE];
        // Into a string column (its dictionary or its plain text), an object column (a
        // str among ints), a bytes column and a new field.
        for (field, strs) in [("s", true), ("id", true), ("b", false), ("new", true)] {
            let mut l = small();
            let before = contents(&l);
            let j = l.add_field(field).unwrap();
            let fields = l.num_fields();
            let mut cols = Columns::new(3);
            let values = match strs {
                true => Values::Strs(vec!["a", &big, "c"]),
                false => Values::Cells(vec![
                    Some(Cell::Bytes(b"a")),
                    Some(Cell::Bytes(&blob)),
                    None,
                ]),
            };
            let marks = match strs {
                true => vec![Mark::Value; 3],
                false => Vec::new(),
            };
            assert!(cols.push(j, values, marks));
            let e = short_of_memory(BIG_VALUE / 2, || l.push_columns(&cols)).unwrap_err();
            let len = if strs { big.len() } else { blob.len() };
            assert_names(&e, 7, field, len);
            assert_eq!(contents(&l), before, "{field}");
            assert_eq!(l.num_fields(), fields, "{field}");
            l.push_columns(&cols).unwrap();
            assert_eq!(l.len(), 9, "{field}");
            let back = l.get(7, j).to_cell().unwrap().to_value().unwrap();
            let want = match strs {
                true => Cell::Str(&big),
                false => Cell::Bytes(&blob),
            };
            assert_eq!(back, want.to_value().unwrap(), "{field}");
        }
    }

    #[test]
    fn a_batch_keeps_the_records_before_the_one_without_memory() {
        let big = "y".repeat(2 * BIG_VALUE);
        for fast in [true, false] {
            let mut l = small();
            let before = contents(&l);
            // The fast path takes records whose keys repeat; a new key midway does not.
            let k = if fast { "s" } else { "other" };
            let recs: Vec<Vec<(&str, Cell<'_>)>> = vec![
                vec![("id", Cell::Int(10)), ("s", Cell::Str("a"))],
                vec![("id", Cell::Int(11)), (k, Cell::Str("b"))],
                vec![("id", Cell::Int(12)), ("s", Cell::Str(&big))],
                vec![("id", Cell::Int(13)), ("s", Cell::Str("c"))],
            ];
            let refs: Vec<&[(&str, Cell<'_>)]> = recs.iter().map(Vec::as_slice).collect();
            let e = short_of_memory(BIG_VALUE, || l.push_batch(&refs)).unwrap_err();
            assert_names(&e, 8, "s", big.len());
            assert_eq!(l.len(), 8, "fast={fast}");
            assert_eq!(contents(&l)[..6], before[..], "fast={fast}");
        }
    }

    #[test]
    fn a_grid_without_memory_for_its_values_changes_nothing() {
        let big = vec![1u8; 3 * BIG_VALUE];
        let mut l = small();
        let before = contents(&l);
        let mut grid = Grid::new(l.num_fields());
        for i in 0..5 {
            grid.push_row();
            grid.set(0, Cell::Int(20 + i));
            // An int field gets a float (widened), and row 3 a large bytes value.
            grid.set(1, Cell::Float(0.5));
            if i == 3 {
                grid.set(2, Cell::Bytes(&big));
            }
        }
        let e = short_of_memory(2 * BIG_VALUE, || l.push_grid(&grid)).unwrap_err();
        assert_names(&e, 9, "b", big.len());
        assert_eq!(contents(&l), before);
        assert_eq!(l.col_meta(1).layout, small().col_meta(1).layout);
        l.push_grid(&grid).unwrap();
        assert_eq!(l.len(), 11);
    }
}

#[cfg(test)]
mod fields_without_values_tests {
    use super::*;

    #[test]
    fn a_declared_field_stays_though_no_record_has_it() {
        let mut l =
            RecordList::with_schema(&[("a", DType::Int64), ("b", DType::Int64)], 4).unwrap();
        l.push_record(&[("a", Cell::Int(1))]).unwrap();
        assert_eq!(l.fields_without_values(0..1), Vec::<usize>::new());
        // Undeclared, the same list reports `b`.
        let mut open = RecordList::with_chunk_rows(4);
        open.push_record(&[("a", Cell::Int(1)), ("b", Cell::Int(2))])
            .unwrap();
        open.remove_field(0, 1).unwrap();
        assert_eq!(open.fields_without_values(0..1), vec![1]);
        assert_eq!(
            open.fields_without_values(std::iter::empty()),
            Vec::<usize>::new()
        );
    }
}

#[cfg(test)]
mod dictionary_text_limit_tests {
    use super::*;
    use crate::column::DICT_TEXT_MAX;

    /// Distinct strings of 1,000 bytes, more of them than a dictionary's text holds.
    fn words() -> Vec<String> {
        (0..2 * DICT_TEXT_MAX / 1_000)
            .map(|k| format!("{k:06}").repeat(1_000 / 6 + 1)[..1_000].to_owned())
            .collect()
    }

    fn text(l: &RecordList, row: usize) -> String {
        match l.get(row, 0) {
            CellRef::DictStr(_, s) | CellRef::Str(s) => s.to_owned(),
            other => panic!("row {row}: {other:?}"),
        }
    }

    /// A column whose dictionary would pass its text limit goes plain, and every
    /// string reads back (before the fix, the strings past the limit read back as the
    /// dictionary's first entry): appended one by one, in grids, through a plan (a
    /// record with its keys in another order), and written over in place.
    #[test]
    fn a_dictionary_past_its_text_limit_goes_plain_and_loses_no_string() {
        let words = words();
        let repeats = ["DE", "FR"];
        for path in ["one by one", "grid", "planned", "set"] {
            let mut l = RecordList::with_chunk_rows(64);
            // Repeats first, so the column is judged a dictionary.
            for k in 0..5_000 {
                l.push_record(&[("s", Cell::Str(repeats[k % 2]))]).unwrap();
            }
            assert!(matches!(l.cols[0].layout, Layout::StrDict(_)), "{path}");
            let base = l.len();
            match path {
                "one by one" => {
                    for w in &words {
                        l.push_record(&[("s", Cell::Str(w))]).unwrap();
                    }
                }
                "grid" => {
                    for block in words.chunks(50) {
                        let mut g = Grid::new(1);
                        for (r, w) in block.iter().enumerate() {
                            g.push_row();
                            g.set_at(r, 0, Cell::Str(w));
                        }
                        l.push_grid(&g).unwrap();
                    }
                }
                "planned" => {
                    for w in &words {
                        l.push_record(&[("t", Cell::Int(1)), ("s", Cell::Str(w))])
                            .unwrap();
                    }
                }
                _ => {
                    for _ in &words {
                        l.push_record(&[("s", Cell::Str("DE"))]).unwrap();
                    }
                    for (k, w) in words.iter().enumerate() {
                        l.set_field(base + k, "s", Cell::Str(w)).unwrap();
                    }
                }
            }
            assert_eq!(l.cols[0].layout, Layout::StrPlain, "{path}");
            for (k, w) in words.iter().enumerate() {
                assert_eq!(text(&l, base + k), *w, "{path}: row {}", base + k);
            }
            assert_eq!(text(&l, 0), "DE", "{path}");
            assert_eq!(text(&l, 1), "FR", "{path}");
        }
    }

    /// A dictionary holds a repeated string once, so a chunk's records can hold more
    /// text than a chunk laid out plainly may: converting the column (here to the
    /// variant encoding, by an int among the strings) splits such chunks first, and
    /// every value reads back.
    #[test]
    fn converting_a_dictionary_column_splits_chunks_that_would_hold_too_much_text() {
        let big = ["x".repeat(10_000), "y".repeat(10_000)];
        let mut l = RecordList::with_chunk_rows(4_096);
        for k in 0..1_000 {
            l.push_record(&[("s", Cell::Str(&big[k % 2]))]).unwrap();
        }
        assert!(matches!(l.cols[0].layout, Layout::StrDict(_)));
        assert_eq!(l.chunks.len(), 1);
        l.push_record(&[("s", Cell::Int(7))]).unwrap();
        assert_eq!(l.cols[0].layout, Layout::Object);
        assert!(l.chunks.len() >= 10, "{} chunks", l.chunks.len());
        for c in &l.chunks {
            assert!(c.cols[0].var_bytes() <= SPLIT_FOR_TEXT_BYTES, "{}", c.len);
        }
        for k in 0..1_000 {
            let got = match l.get(k, 0) {
                CellRef::Encoded(b) => crate::variant::decode(b).ok(),
                _ => None,
            };
            let same = matches!(&got, Some(crate::variant::Value::Str(s)) if *s == big[k % 2]);
            assert!(same, "row {k}");
        }
        let last = match l.get(1_000, 0) {
            CellRef::Encoded(b) => crate::variant::decode(b).ok(),
            _ => None,
        };
        assert!(matches!(last, Some(crate::variant::Value::Int(7))));
    }
}

#[cfg(test)]
mod add_field_tests {
    use super::*;

    #[test]
    fn a_field_added_with_a_type_keeps_it_through_nulls_and_widens_as_any_field() {
        let mut l = RecordList::with_chunk_rows(2);
        assert_eq!(l.add_field_of("z", DType::Int64).unwrap(), 0);
        for _ in 0..3 {
            l.push_record(&[("z", Cell::Null)]).unwrap();
        }
        assert_eq!(l.field_dtype(0), DType::Int64);
        assert!(matches!(l.get(2, 0), CellRef::Null));
        l.push_record(&[("z", Cell::Int(300))]).unwrap();
        assert!(matches!(l.get(3, 0), CellRef::Int(300)));
        // Not declared: another type widens it.
        l.push_record(&[("z", Cell::Float(0.5))]).unwrap();
        assert_eq!(l.field_dtype(0), DType::Float64);
        // An existing field is left as it is.
        assert_eq!(l.add_field_of("z", DType::Str).unwrap(), 0);
        assert_eq!(l.field_dtype(0), DType::Float64);
        let mut closed = RecordList::with_schema(&[("a", DType::Str)], 4).unwrap();
        assert!(closed.add_field_of("b", DType::Int64).is_err());
    }
}

#[cfg(test)]
mod give_back_tests {
    use super::*;

    /// Record `i`: ints with nulls, a float, a string of many values, a key some lack.
    fn record(i: usize) -> Vec<(String, Cell<'static>)> {
        let mut r = vec![
            ("id".to_string(), Cell::Int(i as i64 * 1_000_003)),
            (
                "x".to_string(),
                if i.is_multiple_of(7) {
                    Cell::Null
                } else {
                    Cell::Float(i as f64 / 3.0)
                },
            ),
            (
                "s".to_string(),
                Cell::Str(Box::leak(format!("text {}", i % 500).into_boxed_str())),
            ),
        ];
        if i.is_multiple_of(3) {
            r.push(("opt".to_string(), Cell::Bool(i.is_multiple_of(2))));
        }
        r
    }

    fn list(n: usize) -> RecordList {
        let mut l = RecordList::new();
        for i in 0..n {
            let r = record(i);
            let r: Vec<(&str, Cell<'_>)> = r.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            l.push_record(&r).unwrap();
        }
        l
    }

    fn rows(l: &RecordList) -> Vec<String> {
        (0..l.len())
            .map(|i| {
                let mut s = String::new();
                l.visit_row(i, |j, v| s.push_str(&format!("{}={v:?};", l.field_name(j))));
                s
            })
            .collect()
    }

    #[test]
    fn cutting_most_of_a_list_gives_its_memory_back_and_keeps_the_rest() {
        let n = 50_000;
        let whole = rows(&list(n));
        for cut in ["truncate", "pops", "remove_range"] {
            let mut l = list(n);
            let shared = l.slice(0, n);
            let full = l.nbytes();
            match cut {
                "truncate" => l.truncate(10),
                "pops" => {
                    while l.len() > 10 {
                        l.remove(l.len() - 1).unwrap();
                    }
                }
                _ => l.remove_range(10, n),
            }
            assert_eq!(rows(&l), whole[..10], "{cut}");
            assert!(l.nbytes() < full / 20, "{cut}: {} of {full}", l.nbytes());
            // A list sharing the buffers (copy-on-write) keeps every record.
            assert_eq!(rows(&shared), whole, "{cut}");
            // And the list goes on: appends land after the rows kept.
            let r = record(n);
            let r: Vec<(&str, Cell<'_>)> = r.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            l.push_record(&r).unwrap();
            assert_eq!(rows(&l)[..10], whole[..10], "{cut}");
            assert_eq!(l.len(), 11);
        }
    }

    #[test]
    fn a_small_cut_moves_no_data() {
        let mut l = list(20_000);
        let before = l.nbytes();
        l.truncate(19_000);
        l.remove(l.len() - 1).unwrap();
        // Within the slack: the buffers are left as they are (only lengths change).
        assert_eq!(l.nbytes(), before);
    }
}

/// A [`Cell`] with its bytes owned ([`RecordList::move_tail_into`]).
enum HeldCell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Encoded(Vec<u8>),
}

impl HeldCell {
    fn of(c: &Cell<'_>) -> HeldCell {
        match *c {
            Cell::Null => HeldCell::Null,
            Cell::Bool(b) => HeldCell::Bool(b),
            Cell::Int(i) => HeldCell::Int(i),
            Cell::Float(f) => HeldCell::Float(f),
            Cell::Str(s) => HeldCell::Str(s.to_owned()),
            Cell::Bytes(b) => HeldCell::Bytes(b.to_vec()),
            Cell::Encoded(b) => HeldCell::Encoded(b.to_vec()),
        }
    }

    fn cell(&self) -> Cell<'_> {
        match self {
            HeldCell::Null => Cell::Null,
            HeldCell::Bool(b) => Cell::Bool(*b),
            HeldCell::Int(i) => Cell::Int(*i),
            HeldCell::Float(f) => Cell::Float(*f),
            HeldCell::Str(s) => Cell::Str(s),
            HeldCell::Bytes(b) => Cell::Bytes(b),
            HeldCell::Encoded(b) => Cell::Encoded(b),
        }
    }
}
