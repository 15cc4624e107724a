//! Reading single values of a committed batch straight from its message bytes, without
//! decoding the batch.
//!
//! Decoding a batch with arrow-rs validates all of it (every offset, every string as
//! UTF-8), so reading one row that way touches every page of its batch. Here the batch's
//! header says where each column's buffers lie in the message body, and reading a value
//! touches only what that value needs: its validity bit, its one or two offsets and its
//! bytes. Every position is checked against the buffer it lies in and every string is
//! checked as UTF-8 when it is read, so a damaged or hostile file gives an error, never
//! a wrong value and never a read out of bounds. There is no `unsafe` here.
//!
//! Only flat types are read this way (the ones memslim writes, and the other fixed-width
//! and string types a foreign file may hold); a segment with any other type is decoded
//! with arrow-rs as before.

use std::ops::Range;

use arrow_schema::{DataType, Schema};
use memslim_records::{CellRef, Mark, variant};

use crate::ipc;
use crate::map::ReadMap;

/// How a column's values are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellLayout {
    Null,
    Bool,
    /// Little-endian integers of `width` bytes.
    Int {
        width: usize,
        signed: bool,
    },
    /// Little-endian IEEE floats of `width` bytes (4 or 8).
    Float {
        width: usize,
    },
    /// Variable-length values: `wide` offsets are 64-bit.
    Bytes {
        utf8: bool,
        wide: bool,
    },
}

fn kind_of(t: &DataType) -> Option<CellLayout> {
    use DataType as T;
    Some(match t {
        T::Null => CellLayout::Null,
        T::Boolean => CellLayout::Bool,
        T::Int8 => CellLayout::Int {
            width: 1,
            signed: true,
        },
        T::Int16 => CellLayout::Int {
            width: 2,
            signed: true,
        },
        T::Int32 => CellLayout::Int {
            width: 4,
            signed: true,
        },
        T::Int64 => CellLayout::Int {
            width: 8,
            signed: true,
        },
        T::UInt8 => CellLayout::Int {
            width: 1,
            signed: false,
        },
        T::UInt16 => CellLayout::Int {
            width: 2,
            signed: false,
        },
        T::UInt32 => CellLayout::Int {
            width: 4,
            signed: false,
        },
        T::Float32 => CellLayout::Float { width: 4 },
        T::Float64 => CellLayout::Float { width: 8 },
        T::Utf8 => CellLayout::Bytes {
            utf8: true,
            wide: false,
        },
        T::LargeUtf8 => CellLayout::Bytes {
            utf8: true,
            wide: true,
        },
        T::Binary => CellLayout::Bytes {
            utf8: false,
            wide: false,
        },
        T::LargeBinary => CellLayout::Bytes {
            utf8: false,
            wide: true,
        },
        // u64 beyond i64 needs the big-int encoding; dictionaries, views and nested
        // types need their decoder.
        _ => return None,
    })
}

/// Whether every field of `schema` can be read value by value from the message.
pub(crate) fn readable(schema: &Schema) -> bool {
    schema
        .fields()
        .iter()
        .all(|f| kind_of(f.data_type()).is_some())
}

/// Whether a value's `bytes` are the text searched for, `want`: the first byte first,
/// where most values differ (the rest is compared in place, see
/// [`memslim_records::same_bytes`]).
#[inline(always)]
fn is_text(bytes: &[u8], want: &[u8]) -> bool {
    bytes.first() == want.first() && memslim_records::same_bytes(bytes, want)
}

/// Item `i` of `buf` read as items of `width` bytes, if `buf` holds it (positions that
/// overflow are not held).
fn item(buf: &[u8], i: usize, width: usize) -> Option<&[u8]> {
    let start = i.checked_mul(width)?;
    buf.get(start..start.checked_add(width)?)
}

/// Where one column's buffers lie in the message bytes.
#[derive(Debug)]
struct Column {
    kind: CellLayout,
    /// The validity bitmap, if the column has nulls.
    validity: Option<Range<usize>>,
    offsets: Range<usize>,
    values: Range<usize>,
    /// Set for a number column without nulls whose values buffer holds all its rows
    /// (checked once, when the batch is parsed).
    fixed: Option<Fixed>,
}

/// Where a number column's values lie, for reads that need no check that can fail
/// (the common column of memslim's own files: no nulls, fixed width).
#[derive(Clone, Copy, Debug)]
struct Fixed {
    start: usize,
    width: usize,
    kind: CellLayout,
}

impl Fixed {
    /// The reader of a number column, if `values` holds `rows` of them.
    fn of(kind: CellLayout, values: &Range<usize>, rows: usize) -> Option<Fixed> {
        let (CellLayout::Int { width, .. } | CellLayout::Float { width }) = kind else {
            return None;
        };
        (rows.checked_mul(width)? <= values.len()).then_some(Fixed {
            start: values.start,
            width,
            kind,
        })
    }

    /// Value `row`, for `row` below the batch's rows (`None` only if `b` is not the
    /// buffer this was made for).
    #[inline]
    fn read(self, b: &[u8], row: usize) -> Option<CellRef<'static>> {
        // No overflow: rows * width was checked in `Fixed::of`.
        let at = self.start + row * self.width;
        number(self.kind, b.get(at..at + self.width)?)
    }
}

/// The number a column of layout `kind` holds in the little-endian bytes `v` (as many
/// as the layout's width; `None` otherwise, or for a layout that is not a number).
#[inline]
fn number(kind: CellLayout, v: &[u8]) -> Option<CellRef<'static>> {
    Some(match kind {
        CellLayout::Float { width: 4 } => {
            CellRef::Float(f32::from_le_bytes(v.try_into().ok()?).into())
        }
        CellLayout::Float { .. } => CellRef::Float(f64::from_le_bytes(v.try_into().ok()?)),
        CellLayout::Int { width: 8, .. } => CellRef::Int(i64::from_le_bytes(v.try_into().ok()?)),
        CellLayout::Int {
            width: 4,
            signed: true,
        } => CellRef::Int(i32::from_le_bytes(v.try_into().ok()?).into()),
        CellLayout::Int {
            width: 4,
            signed: false,
        } => CellRef::Int(u32::from_le_bytes(v.try_into().ok()?).into()),
        CellLayout::Int {
            width: 2,
            signed: true,
        } => CellRef::Int(i16::from_le_bytes(v.try_into().ok()?).into()),
        CellLayout::Int {
            width: 2,
            signed: false,
        } => CellRef::Int(u16::from_le_bytes(v.try_into().ok()?).into()),
        CellLayout::Int {
            width: 1,
            signed: true,
        } => CellRef::Int(i8::from_le_bytes(v.try_into().ok()?).into()),
        CellLayout::Int {
            width: 1,
            signed: false,
        } => CellRef::Int(u8::from_le_bytes(v.try_into().ok()?).into()),
        _ => return None,
    })
}

/// What [`BatchCells::parse`] gives: the cells and the message's `custom_metadata`.
pub(crate) type Parsed = (BatchCells, Vec<(String, String)>);

/// One batch message, mapped, with the position of each column's buffers: reads single
/// values without decoding the batch.
pub(crate) struct BatchCells {
    map: ReadMap,
    rows: usize,
    columns: Vec<Column>,
}

impl BatchCells {
    /// Reads the header of the batch message `map` holds (which the caller has
    /// checksummed, if the file has checksums), for a segment whose schema is `schema`;
    /// gives the cells and the message's `custom_metadata` pairs (read from the same
    /// header, which is parsed once).
    ///
    /// `Ok(None)`: a schema with a type this module does not read, or a compressed body;
    /// decode the batch instead.
    ///
    /// # Errors
    /// A reason, if the header does not describe a batch of `schema` that fits in the
    /// message.
    pub(crate) fn parse(map: ReadMap, schema: &Schema) -> Result<Option<Parsed>, String> {
        let Some(kinds) = schema
            .fields()
            .iter()
            .map(|f| kind_of(f.data_type()))
            .collect::<Option<Vec<CellLayout>>>()
        else {
            return Ok(None);
        };
        let b = map.bytes();
        let (msg, body) = ipc::message_at(b)?;
        let batch = msg
            .header_as_record_batch()
            .ok_or("the message is not a record batch")?;
        if batch.compression().is_some() {
            return Ok(None);
        }
        let rows = usize::try_from(batch.length()).map_err(|_| "negative row count")?;
        let nodes = batch.nodes().ok_or("the batch has no field nodes")?;
        let buffers = batch.buffers().ok_or("the batch has no buffers")?;
        if nodes.len() != kinds.len() {
            return Err(format!(
                "the batch has {} columns, its schema {}",
                nodes.len(),
                kinds.len()
            ));
        }
        let mut next = 0;
        let mut buffer = || -> Result<Range<usize>, String> {
            if next >= buffers.len() {
                return Err("fewer buffers than its columns need".into());
            }
            let d = buffers.get(next);
            next += 1;
            let start = usize::try_from(d.offset())
                .ok()
                .and_then(|o| o.checked_add(body));
            let end = usize::try_from(d.length())
                .ok()
                .zip(start)
                .and_then(|(n, s)| s.checked_add(n));
            match (start, end) {
                (Some(s), Some(e)) if e <= b.len() => Ok(s..e),
                _ => Err("a buffer lies outside the message".into()),
            }
        };
        let mut columns = Vec::with_capacity(kinds.len());
        for (c, &kind) in kinds.iter().enumerate() {
            let node = nodes.get(c);
            if usize::try_from(node.length()).ok() != Some(rows) {
                return Err(format!("column {c} has a length other than the batch's"));
            }
            let has_nulls = node.null_count() != 0;
            let (validity, offsets, values) = match kind {
                CellLayout::Null => {
                    if node.null_count() != node.length() {
                        return Err(format!("null column {c} has non-null values"));
                    }
                    (None, 0..0, 0..0)
                }
                CellLayout::Bytes { .. } => (Some(buffer()?), buffer()?, buffer()?),
                _ => (Some(buffer()?), 0..0, buffer()?),
            };
            let validity = validity.filter(|_| has_nulls);
            let fixed = match validity {
                None => Fixed::of(kind, &values, rows),
                Some(_) => None,
            };
            columns.push(Column {
                kind,
                validity,
                offsets,
                values,
                fixed,
            });
        }
        let metadata = ipc::custom_metadata(&msg);
        Ok(Some((BatchCells { map, rows, columns }, metadata)))
    }

    /// The number of rows of the batch.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Value `row` of column `c`, as [`memslim_records::arrow_cell`] reads it from the
    /// decoded column: null as [`CellRef::Null`], a `variant` column's bytes checked and
    /// passed on encoded.
    ///
    /// # Errors
    /// A reason, if the value's bytes are not where the header says, or are not valid
    /// (UTF-8, variant encoding).
    #[inline]
    pub(crate) fn cell(&self, c: usize, row: usize, variant: bool) -> Result<CellRef<'_>, String> {
        match self.fixed_cell(c, row) {
            Some(v) => Ok(v),
            None => self.cell_checked(c, row, variant),
        }
    }

    /// [`BatchCells::cell`] of a number column without nulls (read with no check that
    /// can fail); `None` for any other column, or a row past the batch.
    #[inline]
    pub(crate) fn fixed_cell(&self, c: usize, row: usize) -> Option<CellRef<'static>> {
        match self.columns.get(c) {
            Some(Column { fixed: Some(f), .. }) if row < self.rows => f.read(self.map.bytes(), row),
            _ => None,
        }
    }

    /// [`BatchCells::cell`] for any column, every position checked as it is read.
    #[inline(never)]
    fn cell_checked(&self, c: usize, row: usize, variant: bool) -> Result<CellRef<'_>, String> {
        self.column(c, variant)?.get(row)
    }

    /// Column `c`'s buffers, found once for reading many of its values
    /// ([`ColumnCells::get`]); `variant`: its bytes are the variant encoding.
    ///
    /// # Errors
    /// A reason, if the batch has no column `c`.
    pub(crate) fn column(&self, c: usize, variant: bool) -> Result<ColumnCells<'_>, String> {
        let col = self
            .columns
            .get(c)
            .ok_or_else(|| format!("no column {c}"))?;
        // The ranges were checked against the message when the batch was parsed.
        let b = self.map.bytes();
        Ok(ColumnCells {
            c,
            rows: self.rows,
            kind: col.kind,
            variant,
            validity: col.validity.clone().map(|v| &b[v]),
            offsets: &b[col.offsets.clone()],
            values: &b[col.values.clone()],
        })
    }
}

impl crate::exact::BatchValues for BatchCells {
    fn is_null(&self, c: usize, row: usize) -> Result<bool, String> {
        let col = self.column(c, false)?;
        if row >= self.rows {
            return Err(col.no_value(row));
        }
        Ok(matches!(col.kind, CellLayout::Null) || col.is_null(row)?)
    }

    fn float(&self, c: usize, row: usize) -> Result<crate::exact::FloatAt, String> {
        use crate::exact::FloatAt;
        if self.is_null(c, row)? {
            return Ok(FloatAt::Null);
        }
        let col = self.column(c, false)?;
        Ok(match (col.kind, col.get(row)?) {
            (CellLayout::Float { .. }, CellRef::Float(x)) => FloatAt::Value(x),
            _ => FloatAt::NotFloat,
        })
    }
}

/// One column of a batch, its buffers found once: [`ColumnCells::get`] reads its values
/// as [`BatchCells::cell`] does, every position checked.
pub(crate) struct ColumnCells<'b> {
    c: usize,
    rows: usize,
    kind: CellLayout,
    variant: bool,
    validity: Option<&'b [u8]>,
    offsets: &'b [u8],
    values: &'b [u8],
}

impl<'b> ColumnCells<'b> {
    /// Value `row`: null as [`CellRef::Null`], a variant value's bytes checked and
    /// passed on encoded.
    ///
    /// # Errors
    /// A reason, if `row` is past the batch, or the value's bytes are not where the
    /// header says or are not valid (UTF-8, variant encoding).
    #[inline(always)]
    pub(crate) fn get(&self, row: usize) -> Result<CellRef<'b>, String> {
        if row >= self.rows {
            return Err(self.no_value(row));
        }
        if self.is_null(row)? {
            return Ok(CellRef::Null);
        }
        Ok(match self.kind {
            CellLayout::Null => CellRef::Null,
            CellLayout::Bool => CellRef::Bool(self.bit(self.values, row)?),
            CellLayout::Int { width, .. } | CellLayout::Float { width } => {
                self.number_at(row, width)?
            }
            CellLayout::Bytes { utf8: true, wide } => CellRef::Str(self.str_at(row, wide)?),
            CellLayout::Bytes { wide, .. } => {
                let bytes = self.bytes_at(row, wide)?;
                if self.variant {
                    variant::decode(bytes).map_err(|e| self.not_variant(row, &e))?;
                    CellRef::Encoded(bytes)
                } else {
                    CellRef::Bytes(bytes)
                }
            }
        })
    }

    /// The ints at `rows` of an int column, for a copy a column at a time: for each
    /// row whose mark (`marks[k]` for `rows[k]`) is [`Mark::Value`], its value, or
    /// [`Mark::Null`] in its mark; a row marked otherwise is not read. `values` gets one
    /// entry per row (0 where there is no value). `Ok(false)`, with nothing changed,
    /// for a column of another layout.
    ///
    /// # Errors
    /// As [`ColumnCells::get`], for the first row that fails.
    pub(crate) fn ints_at(
        &self,
        rows: &[usize],
        marks: &mut [Mark],
        values: &mut Vec<i64>,
    ) -> Result<bool, String> {
        let CellLayout::Int { width, signed } = self.kind else {
            return Ok(false);
        };
        values.reserve(rows.len());
        // Every row inside the batch and its buffers (checked once): read without a
        // check per value that could fail.
        if self.holds_rows(width) && rows.iter().all(|&r| r < self.rows) {
            let from = values.len();
            match (width, signed) {
                (8, _) => self.gather_ints(rows, marks, values, i64::from_le_bytes),
                (4, true) => {
                    self.gather_ints(rows, marks, values, |b| i32::from_le_bytes(b).into())
                }
                (4, false) => {
                    self.gather_ints(rows, marks, values, |b| u32::from_le_bytes(b).into())
                }
                (2, true) => {
                    self.gather_ints(rows, marks, values, |b| i16::from_le_bytes(b).into())
                }
                (2, false) => {
                    self.gather_ints(rows, marks, values, |b| u16::from_le_bytes(b).into())
                }
                (1, true) => self.gather_ints(rows, marks, values, |b| i8::from_le_bytes(b).into()),
                (1, false) => {
                    self.gather_ints(rows, marks, values, |b| u8::from_le_bytes(b).into())
                }
                _ => {}
            }
            // No other widths are read (`kind_of`): the checked reading says so.
            if values.len() > from {
                return Ok(true);
            }
        }
        for (&row, mark) in rows.iter().zip(marks.iter_mut()) {
            if *mark != Mark::Value {
                values.push(0);
                continue;
            }
            if row >= self.rows {
                return Err(self.no_value(row));
            }
            if self.is_null(row)? {
                *mark = Mark::Null;
                values.push(0);
                continue;
            }
            let v = match width {
                8 => item(self.values, row, 8)
                    .and_then(|b| b.try_into().ok())
                    .map(i64::from_le_bytes)
                    .ok_or_else(|| self.short())?,
                _ => match self.number_at(row, width)? {
                    CellRef::Int(v) => v,
                    _ => return Err(self.short()),
                },
            };
            values.push(v);
        }
        Ok(true)
    }

    /// [`ColumnCells::ints_at`] for the strings of a string column (a null or unread
    /// row holds `""`). `Ok(false)` for a column of another layout, or of variant
    /// values.
    ///
    /// # Errors
    /// As [`ColumnCells::get`], for the first row that fails.
    pub(crate) fn strs_at(
        &self,
        rows: &[usize],
        marks: &mut [Mark],
        values: &mut Vec<&'b str>,
    ) -> Result<bool, String> {
        let CellLayout::Bytes { utf8: true, wide } = self.kind else {
            return Ok(false);
        };
        if self.variant {
            return Ok(false);
        }
        values.reserve(rows.len());
        let from = values.len();
        if self.gather_strs(rows, marks, values, wide) {
            return Ok(true);
        }
        // A value the quick reading could not take: read again one checked value at a
        // time, for the error of the first bad row (the nulls already marked read the
        // same).
        values.truncate(from);
        for (&row, mark) in rows.iter().zip(marks.iter_mut()) {
            if *mark != Mark::Value {
                values.push("");
                continue;
            }
            if row >= self.rows {
                return Err(self.no_value(row));
            }
            if self.is_null(row)? {
                *mark = Mark::Null;
                values.push("");
                continue;
            }
            values.push(self.str_at(row, wide)?);
        }
        Ok(true)
    }

    /// Whether the values buffer holds a `width`-byte value for every row of the batch,
    /// and the validity bitmap (if any) a bit for each.
    fn holds_rows(&self, width: usize) -> bool {
        let bits = self
            .validity
            .is_none_or(|v| v.len() >= self.rows.div_ceil(8));
        bits && self
            .rows
            .checked_mul(width)
            .is_some_and(|n| n <= self.values.len())
    }

    /// [`ColumnCells::ints_at`] of rows all inside the batch, of a column whose buffers
    /// hold every row ([`ColumnCells::holds_rows`]): each `W`-byte value read by `int`.
    #[inline(always)]
    fn gather_ints<const W: usize>(
        &self,
        rows: &[usize],
        marks: &mut [Mark],
        values: &mut Vec<i64>,
        int: impl Fn([u8; W]) -> i64,
    ) {
        let (ints, _) = self.values.as_chunks::<W>();
        // Out of range only if the checks before were wrong: read as 0, never a panic.
        let at = |row: usize| ints.get(row).map_or(0, |&b| int(b));
        match self.validity {
            None => values.extend(
                rows.iter().zip(marks.iter()).map(
                    |(&row, &m)| {
                        if m == Mark::Value { at(row) } else { 0 }
                    },
                ),
            ),
            Some(bits) => values.extend(rows.iter().zip(marks.iter_mut()).map(|(&row, m)| {
                if *m != Mark::Value {
                    return 0;
                }
                let valid = bits.get(row / 8).is_some_and(|b| b & (1 << (row % 8)) != 0);
                if !valid {
                    *m = Mark::Null;
                    return 0;
                }
                at(row)
            })),
        }
    }

    /// [`ColumnCells::strs_at`] without a reason for a failure: whether every row was
    /// read (`false`: a row past the batch, an offset outside the text, or a value that
    /// is not UTF-8; `values` then holds part of the rows and some nulls are marked).
    fn gather_strs(
        &self,
        rows: &[usize],
        marks: &mut [Mark],
        values: &mut Vec<&'b str>,
        wide: bool,
    ) -> bool {
        if self
            .validity
            .is_some_and(|v| v.len() < self.rows.div_ceil(8))
        {
            return false;
        }
        let span = |row: usize| -> Option<(usize, usize)> {
            let (start, end) = if wide {
                let (o, _) = self.offsets.as_chunks::<8>();
                let (a, b) = (o.get(row)?, o.get(row + 1)?);
                (i64::from_le_bytes(*a), i64::from_le_bytes(*b))
            } else {
                let (o, _) = self.offsets.as_chunks::<4>();
                let (a, b) = (o.get(row)?, o.get(row + 1)?);
                (
                    i64::from(i32::from_le_bytes(*a)),
                    i64::from(i32::from_le_bytes(*b)),
                )
            };
            Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
        };
        // Where each value lies in the text (nulls marked), and the stretch of text
        // from the first to the last.
        let mut spans = Vec::with_capacity(rows.len());
        let (mut lo, mut hi, mut bytes, mut count) = (usize::MAX, 0, 0, 0);
        for (&row, mark) in rows.iter().zip(marks.iter_mut()) {
            if *mark != Mark::Value {
                spans.push((0, 0));
                continue;
            }
            if row >= self.rows {
                return false;
            }
            if let Some(bits) = self.validity {
                if bits.get(row / 8).is_none_or(|b| b & (1 << (row % 8)) == 0) {
                    *mark = Mark::Null;
                    spans.push((0, 0));
                    continue;
                }
            }
            let Some((s, e)) = span(row).filter(|&(s, e)| s <= e && e <= self.values.len()) else {
                return false;
            };
            (lo, hi, bytes, count) = (lo.min(s), hi.max(e), bytes + (e - s), count + 1);
            spans.push((s, e));
        }
        // Checked as UTF-8 now: the bytes are a shared map of the file (see `str_at`).
        // Checking a short value costs a call and a few instructions a byte, checking a
        // stretch of text well under one a byte: the stretch the values lie in is
        // checked at once when they fill enough of it (a copy of every record, or of
        // many), each value then cut from it at its character boundaries. Otherwise (or
        // if the stretch holds other bytes that are not UTF-8) value by value.
        let dense = lo < hi && hi - lo <= 5 * bytes + 25 * count;
        let whole = dense
            .then(|| std::str::from_utf8(&self.values[lo..hi]).ok())
            .flatten();
        for (&(s, e), &mark) in spans.iter().zip(marks.iter()) {
            if mark != Mark::Value {
                values.push("");
                continue;
            }
            let text = match whole {
                Some(w) => w.get(s - lo..e - lo),
                None => std::str::from_utf8(&self.values[s..e]).ok(),
            };
            match text {
                Some(t) => values.push(t),
                None => return false,
            }
        }
        true
    }

    /// Calls `f(row, value)` for each of `rows` in order, each value as
    /// [`ColumnCells::get`] reads it, until `f` returns false; whether it never did. The
    /// column's layout is matched once, not per value.
    ///
    /// # Errors
    /// As [`ColumnCells::get`], for the first row that fails (`f` has had the rows
    /// before it).
    pub(crate) fn visit(
        &self,
        rows: Range<usize>,
        f: impl FnMut(usize, CellRef<'b>) -> bool,
    ) -> Result<bool, String> {
        match self.kind {
            CellLayout::Bytes { utf8: true, wide } => {
                self.each(rows, f, |row| Ok(CellRef::Str(self.str_at(row, wide)?)))
            }
            CellLayout::Int { width, .. } | CellLayout::Float { width } => {
                self.each(rows, f, |row| self.number_at(row, width))
            }
            _ => self.each(rows, f, |row| self.get(row)),
        }
    }

    /// [`ColumnCells::visit`] with the non-null values read by `read` (nulls are
    /// [`CellRef::Null`]): one loop per layout, `read` inlined into it.
    #[inline(always)]
    fn each(
        &self,
        rows: Range<usize>,
        mut f: impl FnMut(usize, CellRef<'b>) -> bool,
        read: impl Fn(usize) -> Result<CellRef<'b>, String>,
    ) -> Result<bool, String> {
        if rows.end > self.rows {
            return Err(self.no_value(rows.end - 1));
        }
        for row in rows {
            let v = if self.is_null(row)? {
                CellRef::Null
            } else {
                read(row)?
            };
            if !f(row, v) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The rows of `rows`, in order, whose value is the string `text`, each given to
    /// `f(row)` until it returns false; whether it never did. A null, or a value of
    /// other bytes, is passed over (its offsets are checked as always; its bytes are not
    /// checked as UTF-8, since no such bytes are `text`'s, and a value that is `text`'s
    /// bytes is UTF-8). `None` for a column of another layout.
    ///
    /// # Errors
    /// As [`ColumnCells::get`], for the first row whose offsets are damaged (`f` has
    /// had the matching rows before it).
    pub(crate) fn visit_text(
        &self,
        rows: Range<usize>,
        text: &str,
        mut f: impl FnMut(usize) -> bool,
    ) -> Option<Result<bool, String>> {
        let CellLayout::Bytes { utf8: true, wide } = self.kind else {
            return None;
        };
        let want = text.as_bytes();
        let mut visit = || -> Result<bool, String> {
            if rows.end > self.rows {
                return Err(self.no_value(rows.end - 1));
            }
            let from = match wide {
                false => match self.text_run(rows.clone(), want, &mut f)? {
                    Ok(more) => return Ok(more),
                    Err(row) => row,
                },
                true => rows.start,
            };
            for row in from..rows.end {
                if self.is_null(row)? {
                    continue;
                }
                if is_text(self.bytes_at(row, wide)?, want) && !f(row) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        Some(visit())
    }

    /// [`ColumnCells::visit_text`] of a column of 4-byte offsets, each value's offsets
    /// read once (as the end of one value and the start of the next) and its bytes
    /// compared only when its length is `want`'s, its validity bit read only then:
    /// `Ok(more)` at the end of `rows`; `Err(row)` at the first value whose offsets are
    /// not a range of the values buffer, from where the checked loop goes on (and says
    /// what is wrong, if the value is not null).
    #[inline]
    fn text_run(
        &self,
        rows: Range<usize>,
        want: &[u8],
        f: &mut impl FnMut(usize) -> bool,
    ) -> Result<Result<bool, usize>, String> {
        let Some(offsets) = self.offsets.get(rows.start * 4..(rows.end + 1) * 4) else {
            return Ok(Err(rows.start));
        };
        // A negative offset reads as a position past any buffer (sign-extended), so
        // one comparison with the buffer's length refuses it.
        let read = |o: &[u8]| i32::from_le_bytes([o[0], o[1], o[2], o[3]]) as isize as usize;
        let (values, n) = (self.values, want.len());
        let mut start = read(offsets);
        for (row, o) in rows.zip(offsets[4..].chunks_exact(4)) {
            let end = read(o);
            let s = std::mem::replace(&mut start, end);
            if s > end || end > values.len() {
                return Ok(Err(row));
            }
            // Lengths first: most values of another text differ in length, and a
            // value's bytes are read only when its length is the text's.
            if end - s != n || !is_text(&values[s..end], want) {
                continue;
            }
            if self.is_null(row)? {
                continue;
            }
            if !f(row) {
                return Ok(Ok(false));
            }
        }
        Ok(Ok(true))
    }

    /// Starts loading the cache lines value `row` reads (its validity byte, its value
    /// or its offsets), for a read of it a little later.
    #[inline(always)]
    pub(crate) fn prefetch(&self, row: usize) {
        use memslim_records::hint::prefetch;
        if let Some(b) = self.validity.and_then(|v| v.get(row / 8)) {
            prefetch(b);
        }
        let at = match self.kind {
            CellLayout::Int { width, .. } | CellLayout::Float { width } => row * width,
            CellLayout::Bytes { wide, .. } => {
                if let Some(b) = self.offsets.get(row * if wide { 8 } else { 4 }) {
                    prefetch(b);
                }
                return;
            }
            _ => row / 8,
        };
        if let Some(b) = self.values.get(at) {
            prefetch(b);
        }
    }

    /// Whether the validity bitmap says row `row` is null.
    #[inline]
    fn is_null(&self, row: usize) -> Result<bool, String> {
        match self.validity {
            Some(v) => Ok(!self.bit(v, row)?),
            None => Ok(false),
        }
    }

    /// The number at `row` of a number column of `width`-byte values.
    #[inline]
    fn number_at(&self, row: usize, width: usize) -> Result<CellRef<'b>, String> {
        let v = item(self.values, row, width).ok_or_else(|| self.short())?;
        number(self.kind, v).ok_or_else(|| self.short())
    }

    /// The bytes at `row` of a variable-length column (`wide`: 64-bit offsets).
    #[inline(always)]
    fn bytes_at(&self, row: usize, wide: bool) -> Result<&'b [u8], String> {
        let (start, end) = self.span(row, wide)?;
        self.values.get(start..end).ok_or_else(|| self.outside(row))
    }

    /// Where the value at `row` of a variable-length column starts and ends, as its
    /// offsets say (not checked against the values buffer).
    #[inline(always)]
    fn span(&self, row: usize, wide: bool) -> Result<(usize, usize), String> {
        let width = if wide { 8 } else { 4 };
        Ok((self.offset(row, width)?, self.offset(row + 1, width)?))
    }

    /// [`ColumnCells::bytes_at`] of a string column, checked as UTF-8 now, on every
    /// read: the bytes are a shared map of the file, so a check made by an earlier read
    /// says nothing of them now (another program may have overwritten them, which is
    /// unsupported but must give an error, not a `&str` that is not UTF-8).
    #[inline(always)]
    fn str_at(&self, row: usize, wide: bool) -> Result<&'b str, String> {
        std::str::from_utf8(self.bytes_at(row, wide)?).map_err(|_| self.not_utf8(row))
    }

    #[inline]
    fn bit(&self, buf: &[u8], i: usize) -> Result<bool, String> {
        let byte = buf.get(i / 8).ok_or_else(|| self.short())?;
        Ok(byte & (1 << (i % 8)) != 0)
    }

    /// Offset `i` (of `width` bytes, little-endian, signed).
    #[inline(always)]
    fn offset(&self, i: usize, width: usize) -> Result<usize, String> {
        let o = item(self.offsets, i, width).ok_or_else(|| self.short())?;
        // Read as the integer it is (a copy through a byte array would store and load
        // overlapping words, which the CPU cannot forward).
        let v = match <[u8; 4]>::try_from(o) {
            Ok(four) => i64::from(i32::from_le_bytes(four)),
            Err(_) => i64::from_le_bytes(o.try_into().map_err(|_| self.short())?),
        };
        usize::try_from(v).map_err(|_| self.negative())
    }

    #[cold]
    fn no_value(&self, row: usize) -> String {
        format!("no value {row} of column {}", self.c)
    }

    #[cold]
    fn short(&self) -> String {
        format!("column {} is shorter than its {} rows", self.c, self.rows)
    }

    #[cold]
    fn negative(&self) -> String {
        format!("column {} has a negative offset", self.c)
    }

    #[cold]
    fn outside(&self, row: usize) -> String {
        format!("value {row} of column {} lies outside its buffer", self.c)
    }

    #[cold]
    fn not_utf8(&self, row: usize) -> String {
        format!("value {row} of column {} is not valid UTF-8", self.c)
    }

    #[cold]
    fn not_variant(&self, row: usize, e: &dyn std::fmt::Display) -> String {
        format!(
            "value {row} of column {} is not a valid object: {e}",
            self.c
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array,
        Int32Array, Int64Array, LargeBinaryArray, LargeStringArray, NullArray, RecordBatch,
        StringArray, UInt8Array, UInt16Array, UInt32Array,
    };
    use arrow_ipc::root_as_message;
    use arrow_ipc::writer::StreamWriter;
    use memslim_records::arrow_cell;

    use super::*;

    /// The bytes of the one batch message of a stream holding `batch`.
    fn message_of(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut out, batch.schema_ref()).unwrap();
            w.write(batch).unwrap();
            w.finish().unwrap();
        }
        // Skip the schema message; the batch message runs to the end-of-stream marker.
        let (p, m) = ipc::message_prefix(&out).unwrap().unwrap();
        let schema_msg = root_as_message(&out[p..p + m]).unwrap();
        let start = p + m + usize::try_from(schema_msg.bodyLength()).unwrap();
        let (p2, m2) = ipc::message_prefix(&out[start..]).unwrap().unwrap();
        let batch_msg = root_as_message(&out[start + p2..start + p2 + m2]).unwrap();
        let end = start + p2 + m2 + usize::try_from(batch_msg.bodyLength()).unwrap();
        out[start..end].to_vec()
    }

    fn map_of(bytes: &[u8]) -> ReadMap {
        let dir = std::env::temp_dir().join(format!(
            "memslim-cells-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&dir, bytes).unwrap();
        let f = std::fs::File::open(&dir).unwrap();
        let m = ReadMap::range(&f, 0, bytes.len() as u64, &dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        m
    }

    fn owned(c: CellRef<'_>) -> String {
        format!("{c:?}")
    }

    fn every_type() -> RecordBatch {
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("null", Arc::new(NullArray::new(5))),
            (
                "bool",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    None,
                    Some(false),
                    Some(true),
                    Some(false),
                ])),
            ),
            ("i8", Arc::new(Int8Array::from(vec![-128, 127, -1, 0, 5]))),
            (
                "i16",
                Arc::new(Int16Array::from(vec![
                    Some(-300),
                    None,
                    Some(1),
                    Some(2),
                    Some(3),
                ])),
            ),
            (
                "i32",
                Arc::new(Int32Array::from(vec![i32::MIN, i32::MAX, -7, 0, 9])),
            ),
            (
                "i64",
                Arc::new(Int64Array::from(vec![
                    Some(i64::MIN),
                    Some(i64::MAX),
                    None,
                    Some(-1),
                    Some(0),
                ])),
            ),
            ("u8", Arc::new(UInt8Array::from(vec![0, 255, 128, 1, 2]))),
            (
                "u16",
                Arc::new(UInt16Array::from(vec![0, 65535, 32768, 1, 2])),
            ),
            (
                "u32",
                Arc::new(UInt32Array::from(vec![0, u32::MAX, 1 << 31, 1, 2])),
            ),
            (
                "f32",
                Arc::new(Float32Array::from(vec![
                    Some(1.5),
                    Some(-0.0),
                    Some(f32::NAN),
                    None,
                    Some(f32::INFINITY),
                ])),
            ),
            (
                "f64",
                Arc::new(Float64Array::from(vec![0.1, -0.0, f64::NAN, 1e300, -5.0])),
            ),
            (
                "utf8",
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    None,
                    Some(""),
                    Some("ünïcödé 🚀"),
                    Some("last"),
                ])),
            ),
            (
                "large_utf8",
                Arc::new(LargeStringArray::from(vec!["x", "", "yy", "zzz", "🚀"])),
            ),
            (
                "binary",
                Arc::new(BinaryArray::from(vec![
                    Some(&b"\x00\xff"[..]),
                    Some(&b""[..]),
                    None,
                    Some(&b"abc"[..]),
                    Some(&b"d"[..]),
                ])),
            ),
            (
                "large_binary",
                Arc::new(LargeBinaryArray::from(vec![
                    &b"1"[..],
                    &b""[..],
                    &b"22"[..],
                    &b"333"[..],
                    &b"\x80"[..],
                ])),
            ),
        ];
        RecordBatch::try_from_iter(cols).unwrap()
    }

    #[test]
    fn every_value_reads_as_the_decoded_batch_does() {
        for batch in [every_type(), every_type().slice(1, 3)] {
            let map = map_of(&message_of(&batch));
            assert!(readable(batch.schema_ref()));
            let (cells, _) = BatchCells::parse(map, batch.schema_ref()).unwrap().unwrap();
            assert_eq!(cells.rows(), batch.num_rows());
            let mut buf = Vec::new();
            for c in 0..batch.num_columns() {
                for j in 0..batch.num_rows() {
                    let want =
                        owned(arrow_cell(batch.column(c).as_ref(), j, false, &mut buf).unwrap());
                    let got = owned(cells.cell(c, j, false).unwrap());
                    assert_eq!(got, want, "column {c} row {j}");
                }
            }
            assert!(cells.cell(0, batch.num_rows(), false).is_err());
            assert!(cells.cell(batch.num_columns(), 0, false).is_err());
        }
    }

    /// What `visit` gives for `rows` of column `c` (stopping never), as text.
    fn visited(
        cells: &BatchCells,
        c: usize,
        rows: Range<usize>,
    ) -> Result<Vec<(usize, String)>, String> {
        let mut got = Vec::new();
        let col = cells.column(c, false)?;
        let done = col.visit(rows, |j, v| {
            got.push((j, owned(v)));
            true
        })?;
        assert!(done);
        Ok(got)
    }

    /// The rows `visit_text` gives for `text` (`None`: not a string column).
    fn text_rows(
        cells: &BatchCells,
        c: usize,
        rows: Range<usize>,
        text: &str,
    ) -> Option<Result<Vec<usize>, String>> {
        let mut got = Vec::new();
        let col = cells.column(c, false).ok()?;
        let done = col.visit_text(rows, text, |j| {
            assert_eq!(owned(col.get(j).unwrap()), owned(CellRef::Str(text)));
            got.push(j);
            true
        })?;
        Some(done.map(|_| got))
    }

    #[test]
    fn a_column_visit_reads_what_cell_reads() {
        for batch in [every_type(), every_type().slice(1, 3)] {
            let map = map_of(&message_of(&batch));
            let (cells, _) = BatchCells::parse(map, batch.schema_ref()).unwrap().unwrap();
            let n = cells.rows();
            for c in 0..batch.num_columns() {
                let cell = |j: usize| owned(cells.cell(c, j, false).unwrap());
                for rows in [0..n, 1..n, n..n, 0..1] {
                    let want: Vec<_> = rows.clone().map(|j| (j, cell(j))).collect();
                    assert_eq!(
                        visited(&cells, c, rows.clone()).unwrap(),
                        want,
                        "column {c}"
                    );
                    // Every string there, and one that is not: the rows holding it.
                    let mut texts: Vec<String> = (0..n)
                        .filter_map(|j| match cells.cell(c, j, false).unwrap() {
                            CellRef::Str(s) => Some(s.to_owned()),
                            _ => None,
                        })
                        .collect();
                    texts.push("nowhere".into());
                    for text in &texts {
                        let want: Vec<usize> = rows
                            .clone()
                            .filter(|&j| cell(j) == owned(CellRef::Str(text)))
                            .collect();
                        match text_rows(&cells, c, rows.clone(), text) {
                            Some(got) => assert_eq!(got.unwrap(), want, "column {c} {text:?}"),
                            // Only string columns have a text visit.
                            None => assert!(want.is_empty() && texts.len() == 1, "column {c}"),
                        }
                    }
                }
                let col = cells.column(c, false).unwrap();
                let mut seen = 0;
                assert_eq!(
                    col.visit(0..n, |_, _| {
                        seen += 1;
                        false
                    }),
                    Ok(false)
                );
                assert_eq!(seen, 1);
                assert!(col.visit(0..n + 1, |_, _| true).is_err());
                assert!(
                    col.visit_text(0..n + 1, "", |_| true)
                        .is_none_or(|r| r.is_err())
                );
            }
            assert!(cells.column(batch.num_columns(), false).is_err());
        }
    }

    #[test]
    fn number_columns_without_nulls_take_the_unchecked_read() {
        let batch = every_type();
        let map = map_of(&message_of(&batch));
        let (cells, _) = BatchCells::parse(map, batch.schema_ref()).unwrap().unwrap();
        let fixed: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .zip(&cells.columns)
            .filter(|(_, c)| c.fixed.is_some())
            .map(|(f, _)| f.name().as_str())
            .collect();
        // i16, i64 and f32 have nulls: their reads check the validity bitmap.
        assert_eq!(fixed, ["i8", "i32", "u8", "u16", "u32", "f64"]);
        // Past the rows, the unchecked read is not taken: an error, as before.
        assert!(cells.cell(2, batch.num_rows(), false).is_err());
    }

    #[test]
    fn a_short_values_buffer_is_read_checked() {
        let int = CellLayout::Int {
            width: 8,
            signed: true,
        };
        assert!(Fixed::of(int, &(0..15), 2).is_none());
        assert!(Fixed::of(int, &(0..16), 2).is_some());
        assert!(Fixed::of(int, &(0..16), usize::MAX).is_none());
        assert!(Fixed::of(CellLayout::Bool, &(0..16), 2).is_none());
    }

    #[test]
    fn variant_values_are_checked() {
        let mut good = Vec::new();
        variant::encode(&variant::Value::Int(7), &mut good);
        let values: Vec<&[u8]> = vec![&good, b"\xff\xff\xff"];
        let batch =
            RecordBatch::try_from_iter([("obj", Arc::new(BinaryArray::from(values)) as ArrayRef)])
                .unwrap();
        let (cells, _) = BatchCells::parse(map_of(&message_of(&batch)), batch.schema_ref())
            .unwrap()
            .unwrap();
        assert!(matches!(cells.cell(0, 0, true), Ok(CellRef::Encoded(b)) if b == good));
        assert!(cells.cell(0, 1, true).is_err());
        assert!(matches!(cells.cell(0, 1, false), Ok(CellRef::Bytes(_))));
    }

    #[test]
    fn other_types_are_left_to_the_decoder() {
        let batch = RecordBatch::try_from_iter([(
            "u64",
            Arc::new(arrow_array::UInt64Array::from(vec![u64::MAX])) as ArrayRef,
        )])
        .unwrap();
        assert!(!readable(batch.schema_ref()));
        let map = map_of(&message_of(&batch));
        assert!(
            BatchCells::parse(map, batch.schema_ref())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let batch = every_type();
        let msg = message_of(&batch);
        let schema = batch.schema();
        // Every single-byte change of the message: the header either fails to parse or
        // describes buffers inside the message; each read is a value or an error.
        for at in 0..msg.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut m = msg.clone();
                m[at] ^= flip;
                let Ok(Some((cells, _))) = BatchCells::parse(map_of(&m), &schema) else {
                    continue;
                };
                let rows = 0..cells.rows().min(8);
                for c in 0..batch.num_columns() {
                    let each: Vec<_> = rows
                        .clone()
                        .map(|j| cells.cell(c, j, false).map(owned))
                        .collect();
                    // A column visit fails where a value fails, and reads the same
                    // values when none does.
                    match visited(&cells, c, rows.clone()) {
                        Ok(got) => {
                            let want: Vec<_> = each
                                .iter()
                                .cloned()
                                .enumerate()
                                .map(|(j, v)| (j, v.unwrap()))
                                .collect();
                            assert_eq!(got, want);
                        }
                        Err(_) => assert!(each.iter().any(Result::is_err)),
                    }
                    // A gather of strings reads what each value reads, or fails where
                    // a gathered value fails (not for damage in the rows between).
                    let n = rows.end;
                    let ends = if n > 0 { vec![0, n - 1] } else { Vec::new() };
                    for picked in [(0..n).collect(), (0..n).rev().collect(), ends] {
                        let picked: Vec<usize> = picked;
                        let (mut marks, mut got) = (vec![Mark::Value; picked.len()], Vec::new());
                        let Ok(col) = cells.column(c, false) else {
                            continue;
                        };
                        match col.strs_at(&picked, &mut marks, &mut got) {
                            Ok(true) => {
                                for ((&j, m), v) in picked.iter().zip(&marks).zip(&got) {
                                    let read = match m {
                                        Mark::Null => CellRef::Null,
                                        _ => CellRef::Str(v),
                                    };
                                    assert_eq!(Ok(owned(read)), each[j], "column {c} row {j}");
                                }
                            }
                            Ok(false) => {}
                            Err(_) => assert!(picked.iter().any(|&j| each[j].is_err())),
                        }
                    }
                    // A text visit gives just the rows that read as the text.
                    for text in ["", "a", "x"] {
                        let want = owned(CellRef::Str(text));
                        if let Some(Ok(got)) = text_rows(&cells, c, rows.clone(), text) {
                            let holds: Vec<usize> = rows
                                .clone()
                                .filter(|&j| each[j].as_ref() == Ok(&want))
                                .collect();
                            assert_eq!(got, holds);
                        }
                    }
                }
            }
        }
        // Cut short anywhere: never a panic.
        for len in 0..msg.len() {
            if let Ok(Some((cells, _))) = BatchCells::parse(map_of(&msg[..len]), &schema) {
                for c in 0..batch.num_columns() {
                    let _ = cells.cell(c, 0, false);
                }
            }
        }
    }
}
