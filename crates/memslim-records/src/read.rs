//! One read interface for records, whichever storage holds them: [`ReadRecords`] for
//! whole records and [`ReadField`] for one field of many. A [`RecordList`] in memory
//! and a record file on disk (`memslim-mmap`) both implement them, so a binding writes
//! its record and column views once, over these traits.
//!
//! The provided methods define what each operation answers, from the values alone; a
//! storage may override one with a faster kernel that gives the same answer (the tests
//! of each storage check that it does).

use std::cmp::Ordering;
use std::ops::Range;

use crate::number::int_vs_float;
use crate::variant::Value;
use crate::{
    AbsentAs, Cell, CellRef, CmpOp, ColumnView, DType, Grid, Layout, RecordList, RecordsError, Sum,
};

/// Whole records, read by position.
pub trait ReadRecords {
    /// What a read can fail with (a damaged file, a closed file).
    type Error: From<RecordsError>;

    /// Number of records.
    fn record_count(&self) -> usize;

    /// Calls `f(key, value)` for each key of record `row`, in the record's key order (a
    /// key the record lacks is skipped, not null).
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] for a bad `row`; what the storage fails with.
    fn visit_record(
        &mut self,
        row: usize,
        f: &mut dyn FnMut(&str, CellRef<'_>),
    ) -> Result<(), Self::Error>;

    /// [`ReadRecords::visit_record`] of each record of `rows` in turn, `f(k, field,
    /// value)` told the position `k` in `rows`. A storage may find once what a run of
    /// them shares; the default visits them one by one.
    ///
    /// # Errors
    /// As [`ReadRecords::visit_record`], for the first record that fails.
    fn visit_records(
        &mut self,
        rows: &[usize],
        f: &mut dyn FnMut(usize, &str, CellRef<'_>),
    ) -> Result<(), Self::Error> {
        for (k, &row) in rows.iter().enumerate() {
            self.visit_record(row, &mut |name, v| f(k, name, v))?;
        }
        Ok(())
    }

    /// Calls `f` with field `name` of record `row`, or with [`CellRef::Absent`] if the
    /// record lacks it.
    ///
    /// # Errors
    /// As [`ReadRecords::visit_record`].
    fn read_field<R>(
        &mut self,
        row: usize,
        name: &str,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R, Self::Error>
    where
        Self: Sized;

    /// Number of keys of record `row`.
    ///
    /// # Errors
    /// As [`ReadRecords::visit_record`].
    fn record_len(&mut self, row: usize) -> Result<usize, Self::Error> {
        let mut n = 0;
        self.visit_record(row, &mut |_, _| n += 1)?;
        Ok(n)
    }

    /// The keys of record `row`, in its key order.
    ///
    /// # Errors
    /// As [`ReadRecords::visit_record`].
    fn record_keys(&mut self, row: usize) -> Result<Vec<String>, Self::Error> {
        let mut keys = Vec::new();
        self.visit_record(row, &mut |k, _| keys.push(k.to_owned()))?;
        Ok(keys)
    }

    /// [`append_records`]'s copy by a path of the storage's own (cells borrowed from
    /// where it keeps them, rather than staged): `Ok(true)` once the records at `rows`
    /// are appended to `out` exactly as the record-by-record copy appends them;
    /// `Ok(false)`, with `out` untouched, for rows it has no such path for. The default
    /// has none.
    ///
    /// Called by [`append_records`], which puts `out` back as it was on error.
    ///
    /// # Errors
    /// As [`append_records`]; `out` may then hold part of the records.
    fn append_to(&mut self, out: &mut RecordList, rows: &[usize]) -> Result<bool, Self::Error> {
        let _ = (out, rows);
        Ok(false)
    }
}

/// One field of a run of records: the values `record.get(name)` gives, with
/// [`CellRef::Absent`] where a record lacks the key.
pub trait ReadField {
    /// What a read can fail with.
    type Error: From<RecordsError>;

    /// The field's name.
    fn field_name(&self) -> &str;

    /// Number of values (one per record).
    fn value_count(&self) -> usize;

    /// Calls `f(i, value)` for each position `i` in `rows` (clamped to the field), in
    /// order, until `f` returns `false`.
    ///
    /// # Errors
    /// What the storage fails with.
    fn visit_values(
        &mut self,
        rows: Range<usize>,
        f: &mut dyn FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<(), Self::Error>;

    /// [`ReadField::visit_values`], for a caller that wants only the values equal to
    /// the string `text` (when given): the storage may pass over, without reading them,
    /// values it can tell from their bytes are not that string, and nulls. The default
    /// passes over nothing.
    ///
    /// # Errors
    /// What the storage fails with.
    fn visit_candidates(
        &mut self,
        rows: Range<usize>,
        text: Option<&str>,
        f: &mut dyn FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<(), Self::Error> {
        let _ = text;
        self.visit_values(rows, f)
    }

    /// Calls `f` with value `i`.
    ///
    /// # Errors
    /// [`RecordsError::IndexOutOfRange`] for a bad `i`; what the storage fails with.
    fn read_value<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R, Self::Error>
    where
        Self: Sized;

    /// Values that are null or absent.
    ///
    /// # Errors
    /// What the storage fails with.
    fn null_count(&mut self) -> Result<usize, Self::Error> {
        let mut n = 0;
        self.visit_values(0..usize::MAX, &mut |_, v| {
            n += usize::from(matches!(v, CellRef::Null | CellRef::Absent));
            true
        })?;
        Ok(n)
    }

    /// The sum of the non-null values: exact for ints and bools (which count as 0 and
    /// 1), a float as soon as one value is a float. The numbers of an `object` column
    /// (a bool among ints, an int past 64 bits) count as the same numbers typed.
    ///
    /// # Errors
    /// [`RecordsError::Unsupported`] when a value is not a number or a bool, or the
    /// ints' sum (or one of them) is past 128 bits.
    fn sum(&mut self) -> Result<Sum, Self::Error> {
        sum_values(self)
    }

    /// The mean of the non-null values; `None` when there are none.
    ///
    /// # Errors
    /// As [`ReadField::sum`] (checked first, also when every value is null).
    fn mean(&mut self) -> Result<Option<f64>, Self::Error> {
        mean_values(self)
    }

    /// The smallest and largest non-null values, as Python's `min` and `max` order them
    /// (bools among the numbers; the first of equal values), each the value itself: a
    /// bool stays a bool, an int an int, also among floats. The scalars of an `object`
    /// column count as the same values typed. `None` when every value is null or absent.
    ///
    /// # Errors
    /// [`RecordsError::Unsupported`] for bytes and containers, for strings beside
    /// numbers (which Python cannot order either) and for an int past 128 bits.
    fn min_max(&mut self) -> Result<Option<(Value, Value)>, Self::Error> {
        let mut acc = MinMax::default();
        self.visit_values(0..usize::MAX, &mut |_, v| acc.add(v))?;
        acc.finish()
            .map_err(|dtype| unsupported(self.field_name(), dtype, "min/max").into())
    }

    /// Calls `emit(i, decided)` for each position in `rows` whose value equals `probe`
    /// (absent reads as null), until it returns `false`: `decided` is `false` where only
    /// the host can tell (an encoded value), and the host then compares itself.
    ///
    /// # Errors
    /// What the storage fails with.
    fn find_equal(
        &mut self,
        probe: &Cell<'_>,
        rows: Range<usize>,
        emit: &mut dyn FnMut(usize, bool) -> bool,
    ) -> Result<(), Self::Error> {
        self.find_matching(CmpOp::Eq, probe, AbsentAs::Null, rows, emit)
    }

    /// Calls `emit(i, decided)` for each position in `rows` whose value compares to
    /// `probe` with `op` (a missing key compares as `absent` says), until it returns
    /// `false`: `decided` is `false` where only the host can tell (an encoded value),
    /// and the host then compares itself.
    ///
    /// # Errors
    /// What the storage fails with.
    fn find_matching(
        &mut self,
        op: CmpOp,
        probe: &Cell<'_>,
        absent: AbsentAs,
        rows: Range<usize>,
        emit: &mut dyn FnMut(usize, bool) -> bool,
    ) -> Result<(), Self::Error> {
        let text = crate::select::search_text(op, probe);
        self.visit_candidates(rows, text, &mut |i, v| match crate::select::verdict(
            v, op, probe, absent,
        ) {
            Some(true) => emit(i, true),
            Some(false) => true,
            None => emit(i, false),
        })
    }

    /// How many positions in `rows` hold a value equal to `probe`, as
    /// [`ReadField::find_equal`] decides them, and the positions only the host can
    /// decide (ascending).
    ///
    /// # Errors
    /// What the storage fails with.
    fn count_equal(
        &mut self,
        probe: &Cell<'_>,
        rows: Range<usize>,
    ) -> Result<(usize, Vec<usize>), Self::Error> {
        let mut tally = crate::select::Tally::default();
        self.find_equal(probe, rows, &mut |i, decided| tally.add(i, decided))?;
        Ok(tally.into_parts())
    }
}

/// The positions of `field`'s values that compare to `probe` with `op` as `rows.where`
/// selects (a record without the field matches only `!=`), and apart from them the
/// positions only the host can decide: every present value when there is no `probe`
/// the core can compare (a host object). Both ascending.
///
/// # Errors
/// What the storage fails with.
pub fn where_positions<F: ReadField + ?Sized>(
    field: &mut F,
    op: CmpOp,
    probe: Option<&Cell<'_>>,
) -> Result<(Vec<usize>, Vec<usize>), F::Error> {
    let (mut hits, mut undecided) = (Vec::new(), Vec::new());
    match probe {
        Some(p) => field.find_matching(op, p, AbsentAs::NoValue, 0..usize::MAX, &mut |i, d| {
            if d {
                hits.push(i)
            } else {
                undecided.push(i)
            }
            true
        })?,
        None => field.visit_values(0..usize::MAX, &mut |i, v| {
            match v {
                CellRef::Absent if op == CmpOp::Ne => hits.push(i),
                CellRef::Absent => {}
                _ => undecided.push(i),
            }
            true
        })?,
    }
    Ok((hits, undecided))
}

/// A value read from a record, copied so that the record's reader can move on.
enum Staged {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A range of the staging text.
    Str(Range<usize>),
    /// A range of the staging bytes.
    Bytes(Range<usize>),
    /// A range of the staging bytes, in the variant encoding.
    Encoded(Range<usize>),
}

/// The range `s` takes once appended to a buffer of `len` bytes.
fn stage<T: ?Sized + AsRef<[u8]>>(len: usize, s: &T) -> Range<usize> {
    len..len + s.as_ref().len()
}

/// The records at `rows` of `src`, in that order, as a new list of `chunk_rows`-record
/// chunks, each exactly as `src` reads it: its keys in its order, a key it lacks
/// absent, an encoded value as it is (so a host that refuses some encoded values from
/// `src` checks the new list as it would `src`).
///
/// # Errors
/// What `src` fails with (a row out of range, a damaged file).
pub fn collect_records<R: ReadRecords + ?Sized>(
    src: &mut R,
    rows: &[usize],
    chunk_rows: usize,
) -> Result<RecordList, R::Error> {
    let mut out = RecordList::with_chunk_rows(chunk_rows);
    append_records(&mut out, src, rows)?;
    Ok(out)
}

/// Appends the records at `rows` of `src` to `out`, in that order, each exactly as
/// [`collect_records`] copies it. All or nothing: on error `out` is as it was.
///
/// A storage with a copy of its own ([`ReadRecords::append_to`]) copies them;
/// otherwise they are staged a block at a time (so that `src` can move on) and each
/// block is pushed column by column, as a bulk load pushes ([`RecordList::push_grid`]):
/// a key's field is found once per block position, not once per record.
///
/// # Errors
/// What `src` fails with (a row out of range, a damaged file), or what `out` refuses
/// (a key or a value its declared schema does not allow).
pub fn append_records<R: ReadRecords + ?Sized>(
    out: &mut RecordList,
    src: &mut R,
    rows: &[usize],
) -> Result<(), R::Error> {
    copy_into(out, src, rows, true)
}

/// [`append_records`] by the staging copy, whatever copy `src` has of its own: the
/// reference a storage's own copy is tested and measured against.
///
/// # Errors
/// As [`append_records`].
pub fn append_records_staged<R: ReadRecords + ?Sized>(
    out: &mut RecordList,
    src: &mut R,
    rows: &[usize],
) -> Result<(), R::Error> {
    copy_into(out, src, rows, false)
}

/// [`append_records`], by `src`'s own copy if `own` and it has one for `rows`.
fn copy_into<R: ReadRecords + ?Sized>(
    out: &mut RecordList,
    src: &mut R,
    rows: &[usize],
    own: bool,
) -> Result<(), R::Error> {
    let cp = out.checkpoint();
    out.expect_rows(rows.len());
    let took = if own {
        src.append_to(out, rows)
    } else {
        Ok(false)
    };
    let done = match took {
        Ok(true) => Ok(()),
        Ok(false) => stage_records(out, src, rows),
        Err(e) => Err(e),
    };
    if done.is_err() {
        out.rollback(cp);
    }
    done
}

/// [`append_records`]'s copy through [`ReadRecords::visit_records`]: the records staged
/// a block at a time, each block pushed as a grid.
fn stage_records<R: ReadRecords + ?Sized>(
    out: &mut RecordList,
    src: &mut R,
    rows: &[usize],
) -> Result<(), R::Error> {
    let mut block = Block::default();
    let mut failed = None;
    let read = src.visit_records(rows, &mut |k, name, v| {
        if failed.is_none() {
            failed = block.add(out, k, name, v).err();
        }
    });
    match (read, failed) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(e)) => Err(e.into()),
        (Ok(()), None) => block.finish(out, rows.len()).map_err(R::Error::from),
    }
}

/// Staged values a block holds before it is pushed.
const BLOCK_CELLS: usize = 1 << 16;
/// Staged bytes (strings and byte values) a block holds before it is pushed, unless
/// one record alone holds more.
const BLOCK_BYTES: usize = 8 << 20;

/// Records read from a source and copied, waiting to be pushed together.
#[derive(Default)]
struct Block {
    text: String,
    bytes: Vec<u8>,
    /// Each staged value's field (in the destination) and value, record after record.
    cells: Vec<(usize, Staged)>,
    /// Where each finished record's values end in `cells`.
    ends: Vec<usize>,
    /// Position (among the rows asked for) of the first staged record.
    first: usize,
    /// Position of the record being read, and of its next key among those visited.
    at: (usize, usize),
    /// The name and field of the key seen last at each key position: records of one
    /// source mostly repeat their keys, so a name is compared once, not looked up.
    names: Vec<(String, usize)>,
    /// Fields in key order of the row being pushed (reused).
    order: Vec<usize>,
}

impl Block {
    /// Stages value `v` of key `name` of the record at position `k`.
    fn add(
        &mut self,
        out: &mut RecordList,
        k: usize,
        name: &str,
        v: CellRef<'_>,
    ) -> Result<(), RecordsError> {
        if k != self.at.0 {
            self.finish_until(out, k)?;
            self.at = (k, 0);
        }
        let pos = self.at.1;
        self.at.1 += 1;
        if matches!(v, CellRef::Absent) {
            return Ok(());
        }
        let j = self.field(out, pos, name)?;
        let value = match v {
            CellRef::Absent | CellRef::Null => Staged::Null,
            CellRef::Bool(b) => Staged::Bool(b),
            CellRef::Int(i) => Staged::Int(i),
            CellRef::Float(x) => Staged::Float(x),
            CellRef::Str(s) | CellRef::DictStr(_, s) => {
                let r = stage(self.text.len(), s);
                self.text.push_str(s);
                Staged::Str(r)
            }
            CellRef::Bytes(b) | CellRef::Encoded(b) => {
                let r = stage(self.bytes.len(), b);
                self.bytes.extend_from_slice(b);
                match v {
                    CellRef::Bytes(_) => Staged::Bytes(r),
                    _ => Staged::Encoded(r),
                }
            }
        };
        self.cells.push((j, value));
        Ok(())
    }

    /// The field of `out` named `name`, added if new; `pos` is the key's position in
    /// its record.
    fn field(
        &mut self,
        out: &mut RecordList,
        pos: usize,
        name: &str,
    ) -> Result<usize, RecordsError> {
        if let Some((seen, j)) = self.names.get(pos) {
            if crate::strdict::same_bytes(seen.as_bytes(), name.as_bytes()) {
                return Ok(*j);
            }
        }
        let j = out.key_field(name, out.len() + self.ends.len())?;
        if self.names.len() <= pos {
            self.names
                .resize_with(pos + 1, || (String::new(), usize::MAX));
        }
        self.names[pos] = (name.to_owned(), j);
        Ok(j)
    }

    /// Ends every record before position `k` (a record without keys had no value
    /// staged), pushing the block first if it is full.
    fn finish_until(&mut self, out: &mut RecordList, k: usize) -> Result<(), RecordsError> {
        while self.first + self.ends.len() < k {
            self.ends.push(self.cells.len());
        }
        if self.cells.len() >= BLOCK_CELLS || self.text.len() + self.bytes.len() >= BLOCK_BYTES {
            self.push(out)?;
        }
        Ok(())
    }

    /// Ends the records up to position `n` and pushes what is staged.
    fn finish(&mut self, out: &mut RecordList, n: usize) -> Result<(), RecordsError> {
        while self.first + self.ends.len() < n {
            self.ends.push(self.cells.len());
        }
        self.push(out)
    }

    /// Pushes the finished records, column by column, and empties the block.
    fn push(&mut self, out: &mut RecordList) -> Result<(), RecordsError> {
        let (text, bytes) = (&self.text, &self.bytes);
        let mut grid = Grid::with_capacity(out.num_fields(), self.ends.len());
        let mut start = 0;
        for (r, &end) in self.ends.iter().enumerate() {
            grid.push_row();
            self.order.clear();
            for (j, v) in &self.cells[start..end] {
                if !grid.set(*j, v.cell(text, bytes)) {
                    return Err(RecordsError::DuplicateKey {
                        row: out.len() + r,
                        field: out.field_name(*j).to_owned(),
                    });
                }
                self.order.push(*j);
            }
            grid.set_order(&self.order);
            start = end;
        }
        out.push_grid(&grid)?;
        self.first += self.ends.len();
        self.ends.clear();
        self.cells.clear();
        self.text.clear();
        self.bytes.clear();
        Ok(())
    }
}

impl Staged {
    /// The value as a cell, its text or bytes in the block's buffers.
    fn cell<'a>(&self, text: &'a str, bytes: &'a [u8]) -> Cell<'a> {
        match self {
            Staged::Null => Cell::Null,
            Staged::Bool(b) => Cell::Bool(*b),
            Staged::Int(i) => Cell::Int(*i),
            Staged::Float(x) => Cell::Float(*x),
            Staged::Str(r) => Cell::Str(&text[r.clone()]),
            Staged::Bytes(r) => Cell::Bytes(&bytes[r.clone()]),
            Staged::Encoded(r) => Cell::Encoded(&bytes[r.clone()]),
        }
    }
}

/// What [`ReadField::sum`] answers, from the values one by one: for a storage whose
/// faster kernel cannot tell why it refused.
///
/// # Errors
/// As [`ReadField::sum`].
pub fn sum_values<F: ReadField + ?Sized>(field: &mut F) -> Result<Sum, F::Error> {
    let (mut int, mut float, mut floats) = (0i128, 0.0f64, false);
    let mut refused = None;
    field.visit_values(0..usize::MAX, &mut |_, v| {
        let decoded;
        let n = match v {
            CellRef::Null | CellRef::Absent => return true,
            CellRef::Encoded(b) => {
                decoded = decode_scalar(b);
                decoded.as_ref().and_then(Ordinal::of_value)
            }
            v => Ordinal::of_cell(v),
        };
        match n {
            Some(Ordinal::Int(i)) => match int.checked_add(i) {
                Some(t) => int = t,
                None => {
                    refused = Some((DType::Object, "sum of ints past 128 bits"));
                    return false;
                }
            },
            Some(Ordinal::Float(x)) => {
                floats = true;
                float += x;
            }
            Some(Ordinal::Str(_) | Ordinal::Bytes(_)) | None => {
                refused = Some((cell_dtype(v), "sum"));
                return false;
            }
        }
        true
    })?;
    if let Some((dtype, op)) = refused {
        return Err(unsupported(field.field_name(), dtype, op).into());
    }
    Ok(if floats {
        Sum::Float(float + int as f64)
    } else {
        Sum::Int(int)
    })
}

/// What [`ReadField::mean`] answers, from the storage's own `sum` and `null_count`.
///
/// # Errors
/// As [`ReadField::sum`].
pub fn mean_values<F: ReadField + ?Sized>(field: &mut F) -> Result<Option<f64>, F::Error> {
    let sum = field.sum()?;
    let n = field.value_count() - field.null_count()?;
    Ok(sum.mean(n))
}

fn unsupported(field: &str, dtype: DType, op: &'static str) -> RecordsError {
    RecordsError::Unsupported {
        field: field.to_owned(),
        dtype,
        op,
    }
}

fn cell_dtype(c: CellRef<'_>) -> DType {
    match c {
        CellRef::Bytes(_) => DType::Bytes,
        CellRef::Str(_) | CellRef::DictStr(..) => DType::Str,
        _ => DType::Object,
    }
}

/// A scalar an `object` column holds in the variant encoding, decoded: `None` for a
/// container or any value that is not a bool, a number or a string (those are not
/// decoded at all).
fn decode_scalar(b: &[u8]) -> Option<Value> {
    use crate::variant::{ValueKind, decode, peek_kind};
    match peek_kind(b)? {
        ValueKind::Bool
        | ValueKind::Int
        | ValueKind::BigInt
        | ValueKind::Float
        | ValueKind::Str
        | ValueKind::Bytes => decode(b).ok(),
        _ => None,
    }
}

/// A value as `sum`, `min` and `max` read it: bools count as ints (as Python's `sum` and
/// comparisons count them), ints of any size up to 128 bits.
#[derive(Clone, Copy)]
enum Ordinal<'a> {
    Int(i128),
    Float(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Ordinal<'a> {
    fn of_cell(c: CellRef<'a>) -> Option<Self> {
        Some(match c {
            CellRef::Bool(b) => Ordinal::Int(i128::from(b)),
            CellRef::Int(i) => Ordinal::Int(i128::from(i)),
            CellRef::Float(x) => Ordinal::Float(x),
            CellRef::Str(s) | CellRef::DictStr(_, s) => Ordinal::Str(s),
            CellRef::Bytes(b) => Ordinal::Bytes(b),
            _ => return None,
        })
    }

    /// `None` for other values, and for an int past 128 bits.
    fn of_value(v: &'a Value) -> Option<Self> {
        Some(match v {
            Value::Bool(b) => Ordinal::Int(i128::from(*b)),
            Value::Int(i) => Ordinal::Int(i128::from(*i)),
            Value::BigInt(bytes) => Ordinal::Int(big_int(bytes)?),
            Value::Float(x) => Ordinal::Float(*x),
            Value::Str(s) => Ordinal::Str(s),
            Value::Bytes(b) => Ordinal::Bytes(b),
            _ => return None,
        })
    }

    /// 1 numbers (bools among them), 2 strings, 3 bytes: values of two families have no
    /// order.
    fn family(self) -> u8 {
        match self {
            Ordinal::Str(_) => 2,
            Ordinal::Bytes(_) => 3,
            _ => 1,
        }
    }

    /// `self < other` as Python orders them: an int and a float exactly (not through a
    /// rounded conversion), a NaN less than nothing and nothing less than a NaN.
    fn less(self, other: Self) -> bool {
        match (self, other) {
            (Ordinal::Int(x), Ordinal::Int(y)) => x < y,
            (Ordinal::Float(x), Ordinal::Float(y)) => x < y,
            (Ordinal::Int(x), Ordinal::Float(y)) => int_vs_float(x, y) == Some(Ordering::Less),
            (Ordinal::Float(x), Ordinal::Int(y)) => int_vs_float(y, x) == Some(Ordering::Greater),
            (Ordinal::Str(x), Ordinal::Str(y)) => x < y,
            (Ordinal::Bytes(x), Ordinal::Bytes(y)) => x < y,
            _ => false,
        }
    }
}

/// A two's-complement little-endian int of at most 16 bytes (the variant encoding's
/// `BigInt`), `None` past that.
fn big_int(bytes: &[u8]) -> Option<i128> {
    if bytes.len() > 16 {
        return None;
    }
    let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
        0xFF
    } else {
        0
    };
    let mut buf = [fill; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    Some(i128::from_le_bytes(buf))
}

/// The running minimum and maximum of [`ReadField::min_max`]: the values themselves
/// (a bool stays a bool, a big int a big int), compared as [`Ordinal`]s.
#[derive(Default)]
struct MinMax {
    best: Option<(Value, Value)>,
    family: Option<u8>,
    refused: Option<DType>,
}

impl MinMax {
    /// Takes in one value; `false` once the answer is a refusal.
    fn add(&mut self, v: CellRef<'_>) -> bool {
        fn owned(c: CellRef<'_>) -> Value {
            match c {
                CellRef::Bool(b) => Value::Bool(b),
                CellRef::Int(i) => Value::Int(i),
                CellRef::Float(x) => Value::Float(x),
                CellRef::Str(s) | CellRef::DictStr(_, s) => Value::Str(s.to_owned()),
                CellRef::Bytes(b) => Value::Bytes(b.to_vec()),
                _ => Value::None,
            }
        }
        let decoded = match v {
            CellRef::Encoded(b) => decode_scalar(b),
            _ => None,
        };
        let o = match v {
            CellRef::Null | CellRef::Absent => return true,
            CellRef::Encoded(_) => decoded.as_ref().and_then(Ordinal::of_value),
            v => Ordinal::of_cell(v),
        };
        let Some(o) = o else {
            self.refused = Some(cell_dtype(v));
            return false;
        };
        if *self.family.get_or_insert(o.family()) != o.family() {
            self.refused = Some(DType::Object);
            return false;
        }
        // Only values with an ordinal are kept, so `key` always has one to compare.
        fn key(x: &Value) -> Option<Ordinal<'_>> {
            Ordinal::of_value(x)
        }
        let (lower, higher) = match &self.best {
            None => (true, true),
            Some((lo, hi)) => (
                key(lo).is_some_and(|lo| o.less(lo)),
                key(hi).is_some_and(|hi| hi.less(o)),
            ),
        };
        if !(lower || higher) {
            return true;
        }
        let x = decoded.unwrap_or_else(|| owned(v));
        match &mut self.best {
            None => self.best = Some((x.clone(), x)),
            Some((lo, hi)) => match (lower, higher) {
                (true, true) => (*lo, *hi) = (x.clone(), x),
                (true, false) => *lo = x,
                _ => *hi = x,
            },
        }
        true
    }

    fn finish(self) -> std::result::Result<Option<(Value, Value)>, DType> {
        match self.refused {
            Some(dtype) => Err(dtype),
            None => Ok(self.best),
        }
    }
}

impl ReadRecords for RecordList {
    type Error = RecordsError;

    fn record_count(&self) -> usize {
        self.len()
    }

    fn visit_record(
        &mut self,
        row: usize,
        f: &mut dyn FnMut(&str, CellRef<'_>),
    ) -> Result<(), RecordsError> {
        self.check_row(row)?;
        let this: &RecordList = self;
        this.visit_row(row, |j, v| f(this.field_name(j), v));
        Ok(())
    }

    fn read_field<R>(
        &mut self,
        row: usize,
        name: &str,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R, RecordsError> {
        self.check_row(row)?;
        Ok(f(match self.field_index(name) {
            Some(j) => self.get(row, j),
            None => CellRef::Absent,
        }))
    }

    fn record_len(&mut self, row: usize) -> Result<usize, RecordsError> {
        self.check_row(row)?;
        Ok(self.row_len(row))
    }
}

impl ReadField for &ColumnView {
    type Error = RecordsError;

    fn field_name(&self) -> &str {
        self.name()
    }

    fn value_count(&self) -> usize {
        self.len()
    }

    fn visit_values(
        &mut self,
        rows: Range<usize>,
        f: &mut dyn FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<(), RecordsError> {
        self.visit_while(rows, f);
        Ok(())
    }

    fn read_value<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R, RecordsError> {
        if i >= self.len() {
            return Err(RecordsError::IndexOutOfRange {
                index: i,
                len: self.len(),
            });
        }
        Ok(f(self.get(i)))
    }

    fn null_count(&mut self) -> Result<usize, RecordsError> {
        Ok(ColumnView::null_count(self))
    }

    fn sum(&mut self) -> Result<Sum, RecordsError> {
        // An `object` column's numbers are encoded one by one: read value by value.
        if self.layout() == Layout::Object {
            return sum_values(self);
        }
        ColumnView::sum(self)
    }

    fn find_matching(
        &mut self,
        op: CmpOp,
        probe: &Cell<'_>,
        absent: AbsentAs,
        rows: Range<usize>,
        emit: &mut dyn FnMut(usize, bool) -> bool,
    ) -> Result<(), RecordsError> {
        self.scan(op, probe, absent, rows, emit);
        Ok(())
    }

    fn count_equal(
        &mut self,
        probe: &Cell<'_>,
        rows: Range<usize>,
    ) -> Result<(usize, Vec<usize>), RecordsError> {
        Ok(self.count_eq_in(probe, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's `a / n` for each pair (printed by CPython), where rounding `a` to a double
    /// first gives another answer, at exact ties, and past 2**64 and 2**126.
    #[test]
    fn an_int_sum_is_divided_once_as_python_divides_ints() {
        let cases: [(i128, usize, f64); 12] = [
            (-871718107515740126277, 816, -1.0682819945045836e+18),
            (1121127560698246925275, 666, 1.6833747157631334e+18),
            (201095128838182420792, 382, 5.264270388434095e+17),
            (296208393984869282996, 974, 3.0411539423497875e+17),
            ((1 << 55) + 4, 4, 9007199254740992.0),
            ((1 << 55) + 12, 4, 9007199254740996.0),
            ((1 << 53) + 1, 1, 9007199254740992.0),
            (i128::MAX, 7, 2.4305883351495603e+37),
            (i128::MIN, 3, -5.671372782015641e+37),
            (1 << 126, 1, 8.507059173023462e+37),
            (12345678901234567890123, 1000003, 1.2345641864308974e+16),
            (0, 5, 0.0),
        ];
        for (a, n, want) in cases {
            assert_eq!(Sum::Int(a).mean(n), Some(want), "{a} / {n}");
        }
        assert_eq!(Sum::Int(5).mean(0), None);
        assert_eq!(Sum::Float(1.5).mean(2), Some(0.75));
    }
}
