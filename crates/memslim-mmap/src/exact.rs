//! What Arrow cannot say about a record, and how a file says it anyway; and how the
//! schemas of a file's segments grow and are unified.
//!
//! A list of dicts tells apart a key a record lacks from a key holding `None`, an int
//! stored among floats from a float, and keeps each record's own key order. Arrow has
//! one null, one type per column and one field order. A record batch message written by
//! memslim therefore carries, in the Arrow IPC message's `custom_metadata` (which Arrow
//! readers ignore), only what differs from the plain reading:
//!
//! ```text
//! memslim.absent  "c:HEX;c:HEX"       column c: rows whose record lacks the key
//! memslim.ints    "c:HEX;..."         float column c: rows whose value was an int
//! memslim.order   "r:c,c,c;r:c,c"     row r: its keys (column indexes) in its own order
//! ```
//!
//! `HEX` is a bitmap, one bit per row of the batch, least significant bit first (Arrow's
//! bit order), two lowercase hex digits per byte; `*` stands for every row (a field no
//! record of the batch has). An absent key is also null in the
//! column itself, so other Arrow readers see null; rows not listed in `memslim.order`
//! have their keys in column order. These bitmaps are the same ones a
//! [`RecordList`] keeps in memory (`absent`, and the int marks of a float column).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BinaryArray, Float64Array, RecordBatch, new_null_array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memslim_records::{
    CellRef, DType, ENCODING_KEY, RecordList, VARIANT_ENCODING, arrow_cell, int_fits_f64,
    is_stored_int, is_variant_field, variant,
};

use crate::ipc::plain_strings;

const ABSENT_KEY: &str = "memslim.absent";
const INTS_KEY: &str = "memslim.ints";
const ORDER_KEY: &str = "memslim.order";

/// One bit per row, least significant first.
type Bits = Vec<u8>;

/// 2**63, the one double a mark may hold that no `i64` is.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// 2**63 in the variant encoding: a `BigInt` of 9 bytes, two's complement, least
/// significant first.
const TWO_POW_63_ENCODED: &[u8] = &[0x04, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0];

/// Whether a float a file marks as an int reads back as one. What memslim writes
/// ([`is_stored_int`]: within ±2**53), and what writers before the one rule marked too:
/// they marked every `i64` that is exactly a double, so a mark on a double past 2**53
/// (every one of which is whole) up to 2**63 reads back exactly (the same int, 2**63
/// as a big int). Refused: a mark on a fraction, an infinity, NaN, -0.0, or a double
/// past 2**63 (no `i64`; no writer marked one).
fn is_marked_int(x: f64) -> bool {
    is_stored_int(x) || (x.abs() > (1u64 << 53) as f64 && x.abs() <= TWO_POW_63)
}

fn bit(b: &[u8], i: usize) -> bool {
    b.get(i >> 3).is_some_and(|x| x >> (i & 7) & 1 == 1)
}

fn set_bit(b: &mut Bits, i: usize) {
    b[i >> 3] |= 1 << (i & 7);
}

/// A bitmap of `rows` bits, all set.
fn full(rows: usize) -> Bits {
    let mut all = vec![0xffu8; rows.div_ceil(8)];
    if !rows.is_multiple_of(8) {
        if let Some(last) = all.last_mut() {
            *last = (1u8 << (rows % 8)) - 1;
        }
    }
    all
}

/// One column's part of [`Extras`].
#[derive(Clone, Copy)]
pub(crate) struct ColumnExtras<'a> {
    absent: Option<&'a [u8]>,
    ints: Option<&'a [u8]>,
}

impl ColumnExtras<'_> {
    /// Whether row `row` lacks the column's key.
    #[inline]
    pub(crate) fn is_absent(&self, row: usize) -> bool {
        self.absent.is_some_and(|b| bit(b, row))
    }

    /// Whether some row of the batch may lack the column's key (`false`: none does).
    #[inline]
    pub(crate) fn any_absent(&self) -> bool {
        self.absent.is_some()
    }

    /// Whether the column's float in row `row` was an int.
    #[inline]
    pub(crate) fn is_int(&self, row: usize) -> bool {
        self.ints.is_some_and(|b| bit(b, row))
    }

    /// Row `row`'s stored value `cell` as it was appended: an int if it was one among
    /// floats (2**63, which only a file written before the writer kept to ±2**53 may
    /// mark, as the big int it is: `v as i64` would saturate).
    #[inline]
    pub(crate) fn as_appended<'v>(&self, row: usize, cell: CellRef<'v>) -> CellRef<'v> {
        match cell {
            CellRef::Float(v) if self.is_int(row) => match v < TWO_POW_63 {
                true => CellRef::Int(v as i64),
                false => CellRef::Encoded(TWO_POW_63_ENCODED),
            },
            cell => cell,
        }
    }
}

/// A record batch's exceptions to the plain Arrow reading (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// Rows of the batch.
    rows: usize,
    /// Per column (possibly shorter than the schema): rows lacking the key.
    absent: Vec<Option<Bits>>,
    /// Per float column: rows whose value was an int.
    ints: Vec<Option<Bits>>,
    /// Rows (ascending) whose keys are not in column order, with their key order.
    order: Vec<(usize, Vec<u32>)>,
}

fn put(v: &mut Vec<Option<Bits>>, c: usize, bits: Bits) {
    if v.len() <= c {
        v.resize(c + 1, None);
    }
    v[c] = Some(bits);
}

impl Extras {
    /// Whether row `row` lacks the key of column `col`.
    pub fn is_absent(&self, col: usize, row: usize) -> bool {
        self.column(col).is_absent(row)
    }

    /// Whether the float in column `col`, row `row` was an int.
    pub fn is_int(&self, col: usize, row: usize) -> bool {
        self.column(col).is_int(row)
    }

    /// Column `col`'s exceptions, found once for reading many of its rows.
    pub(crate) fn column(&self, col: usize) -> ColumnExtras<'_> {
        ColumnExtras {
            absent: self.absent.get(col).and_then(Option::as_deref),
            ints: self.ints.get(col).and_then(Option::as_deref),
        }
    }

    /// The key order of `row` if it is not column order.
    pub fn order_of(&self, row: usize) -> Option<&[u32]> {
        self.order
            .binary_search_by_key(&row, |(r, _)| *r)
            .ok()
            .map(|k| self.order[k].1.as_slice())
    }

    /// Column `col`'s bitmap of the rows lacking its key (one bit per row, least
    /// significant first), if a row does.
    pub fn absent_bits(&self, col: usize) -> Option<&[u8]> {
        self.absent.get(col).and_then(Option::as_deref)
    }

    /// Float column `col`'s bitmap of the rows whose value was an int, if one was.
    pub fn int_bits(&self, col: usize) -> Option<&[u8]> {
        self.ints.get(col).and_then(Option::as_deref)
    }

    /// The rows (ascending) whose keys are not in column order, with their key order.
    pub fn orders(&self) -> &[(usize, Vec<u32>)] {
        &self.order
    }

    /// Rows of the batch (or file) these exceptions are about.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends the exceptions of `other`, whose rows follow these (column indexes must
    /// mean the same columns): how a Parquet file's extras grow batch by batch.
    pub fn append(&mut self, other: &Extras) {
        let off = self.rows;
        let total = off + other.rows;
        let join = |v: &mut Vec<Option<Bits>>, o: &[Option<Bits>]| {
            for b in v.iter_mut().flatten() {
                b.resize(total.div_ceil(8), 0);
            }
            for (c, ob) in o.iter().enumerate() {
                let Some(ob) = ob else { continue };
                if v.len() <= c {
                    v.resize(c + 1, None);
                }
                let b = v[c].get_or_insert_with(|| vec![0u8; total.div_ceil(8)]);
                for i in 0..other.rows {
                    if bit(ob, i) {
                        set_bit(b, off + i);
                    }
                }
            }
        };
        join(&mut self.absent, &other.absent);
        join(&mut self.ints, &other.ints);
        self.order
            .extend(other.order.iter().map(|(r, o)| (r + off, o.clone())));
        self.rows = total;
    }

    fn is_empty(&self) -> bool {
        self.absent.iter().all(Option::is_none)
            && self.ints.iter().all(Option::is_none)
            && self.order.is_empty()
    }

    /// The columns `cols` (in that order), as for a batch decoded with that projection;
    /// key orders, which name every column, are left out.
    pub(crate) fn project(&self, cols: &[usize]) -> Extras {
        let pick = |v: &Vec<Option<Bits>>| -> Vec<Option<Bits>> {
            cols.iter().map(|&c| v.get(c).cloned().flatten()).collect()
        };
        Extras {
            rows: self.rows,
            absent: pick(&self.absent),
            ints: pick(&self.ints),
            order: Vec::new(),
        }
    }

    /// Rows `[off, off + len)`.
    pub(crate) fn slice(&self, off: usize, len: usize) -> Extras {
        let cut = |v: &Vec<Option<Bits>>| -> Vec<Option<Bits>> {
            v.iter()
                .map(|b| {
                    let b = b.as_ref()?;
                    let mut out = vec![0u8; len.div_ceil(8)];
                    let mut any = false;
                    for i in 0..len {
                        if bit(b, off + i) {
                            set_bit(&mut out, i);
                            any = true;
                        }
                    }
                    any.then_some(out)
                })
                .collect()
        };
        Extras {
            rows: len,
            absent: cut(&self.absent),
            ints: cut(&self.ints),
            order: self
                .order
                .iter()
                .filter(|(r, _)| (off..off + len).contains(r))
                .map(|(r, o)| (r - off, o.clone()))
                .collect(),
        }
    }

    /// The `custom_metadata` pairs of a record batch message (none if nothing differs).
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        if self.is_empty() {
            return Vec::new();
        }
        let all = full(self.rows);
        let bitmaps = |v: &[Option<Bits>]| -> String {
            let mut s = String::new();
            for (c, b) in v.iter().enumerate() {
                let Some(b) = b else { continue };
                if !s.is_empty() {
                    s.push(';');
                }
                s.push_str(&c.to_string());
                s.push(':');
                if *b == all {
                    s.push('*');
                    continue;
                }
                for byte in b {
                    s.push_str(&format!("{byte:02x}"));
                }
            }
            s
        };
        let mut out = Vec::new();
        let absent = bitmaps(&self.absent);
        if !absent.is_empty() {
            out.push((ABSENT_KEY.to_owned(), absent));
        }
        let ints = bitmaps(&self.ints);
        if !ints.is_empty() {
            out.push((INTS_KEY.to_owned(), ints));
        }
        if !self.order.is_empty() {
            let rows: Vec<String> = self
                .order
                .iter()
                .map(|(r, o)| {
                    let cols: Vec<String> = o.iter().map(u32::to_string).collect();
                    format!("{r}:{}", cols.join(","))
                })
                .collect();
            out.push((ORDER_KEY.to_owned(), rows.join(";")));
        }
        out
    }

    /// Reads the pairs written by [`Extras::to_metadata`] for a batch of `rows` rows and
    /// `cols` columns; other keys are ignored. `Err` says what does not check out.
    pub fn from_metadata<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        rows: usize,
        cols: usize,
    ) -> Result<Extras, String> {
        let mut out = Extras {
            rows,
            ..Extras::default()
        };
        let parse_col = |c: &str| -> Result<usize, String> {
            c.parse::<usize>()
                .ok()
                .filter(|c| *c < cols)
                .ok_or_else(|| format!("memslim metadata names column {c:?} of {cols}"))
        };
        let bitmaps = |v: &str, into: &mut Vec<Option<Bits>>| -> Result<(), String> {
            for part in v.split(';') {
                let (c, hex) = part
                    .split_once(':')
                    .ok_or_else(|| format!("memslim metadata entry {part:?}"))?;
                let c = parse_col(c)?;
                if hex == "*" {
                    put(into, c, full(rows));
                    continue;
                }
                if hex.len() != 2 * rows.div_ceil(8) || !hex.is_ascii() {
                    return Err(format!("memslim bitmap of column {c}: wrong length"));
                }
                let bits = (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                    .collect::<Result<Bits, _>>()
                    .map_err(|_| format!("memslim bitmap of column {c}: not hex"))?;
                put(into, c, bits);
            }
            Ok(())
        };
        for (k, v) in pairs {
            match k {
                ABSENT_KEY => bitmaps(v, &mut out.absent)?,
                INTS_KEY => bitmaps(v, &mut out.ints)?,
                ORDER_KEY => {
                    for part in v.split(';') {
                        let (r, keys) = part
                            .split_once(':')
                            .ok_or_else(|| format!("memslim key order entry {part:?}"))?;
                        let r = r
                            .parse::<usize>()
                            .ok()
                            .filter(|r| *r < rows && out.order.last().is_none_or(|l| l.0 < *r))
                            .ok_or_else(|| format!("memslim key order names row {r:?}"))?;
                        let keys = keys
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(|c| parse_col(c).map(|c| c as u32))
                            .collect::<Result<Vec<u32>, _>>()?;
                        // A record holds a key once.
                        let mut sorted = keys.clone();
                        sorted.sort_unstable();
                        if sorted.windows(2).any(|w| w[0] == w[1]) {
                            return Err(format!(
                                "memslim key order of row {r} names a column twice"
                            ));
                        }
                        out.order.push((r, keys));
                    }
                }
                _ => {}
            }
        }
        out.check_orders(cols)?;
        Ok(out)
    }

    /// Checks that each key order lists exactly its record's keys (the columns its row
    /// is not absent from), each once, as a pickle's key orders are checked.
    fn check_orders(&self, cols: usize) -> Result<(), String> {
        let mut seen = vec![false; if self.order.is_empty() { 0 } else { cols }];
        for (r, keys) in &self.order {
            let present = (0..cols).filter(|&c| !self.is_absent(c, *r)).count();
            let mut fits = keys.len() == present;
            for &c in keys {
                let c = c as usize;
                fits &= !seen[c] && !self.is_absent(c, *r);
                seen[c] = true;
            }
            for &c in keys {
                seen[c as usize] = false;
            }
            if !fits {
                return Err(format!(
                    "row {r} of the batch: its key order ({ORDER_KEY}) does not list \
                     exactly the record's keys"
                ));
            }
        }
        Ok(())
    }

    /// Checks the marks against the batch's values, as a pickle's are checked: a row
    /// marked absent from a column is null there (other Arrow readers see the key's
    /// absence as a null), and a float marked as an int is one (else it would read as
    /// `x as i64`: 0.5 as 0, NaN as 0). Column `c` of the marks is column `c` of
    /// `values`; `name(c)` names it.
    ///
    /// # Errors
    /// A reason naming the field and the row of the batch.
    pub(crate) fn check_values<'n>(
        &self,
        values: &impl BatchValues,
        name: impl Fn(usize) -> &'n str,
    ) -> Result<(), String> {
        for (c, bits) in self.absent.iter().enumerate() {
            let Some(bits) = bits else { continue };
            for row in set_bits(bits, self.rows) {
                if !values.is_null(c, row)? {
                    return Err(format!(
                        "field {:?}, row {row} of the batch: marked absent ({ABSENT_KEY}) \
                         but holds a value",
                        name(c)
                    ));
                }
            }
        }
        for (c, bits) in self.ints.iter().enumerate() {
            let Some(bits) = bits else { continue };
            for row in set_bits(bits, self.rows) {
                match values.float(c, row)? {
                    FloatAt::Null => {}
                    FloatAt::Value(x) if is_marked_int(x) => {}
                    FloatAt::Value(x) => {
                        return Err(format!(
                            "field {:?}, row {row} of the batch: the float {x:?} is marked \
                             as an int ({INTS_KEY}) but is not one (a whole number within \
                             ±2**63)",
                            name(c)
                        ));
                    }
                    FloatAt::NotFloat => {
                        return Err(format!(
                            "field {:?}: {INTS_KEY} marks ints in a column that holds no \
                             floats",
                            name(c)
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The rows below `rows` whose bit is set in `bits`.
fn set_bits(bits: &[u8], rows: usize) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(move |(k, &byte)| {
        let mut b = byte;
        std::iter::from_fn(move || {
            (b != 0).then(|| {
                let i = k * 8 + b.trailing_zeros() as usize;
                b &= b - 1;
                i
            })
        })
        .filter(move |&i| i < rows)
    })
}

/// A batch's value as [`Extras::check_values`] needs it.
pub(crate) enum FloatAt {
    Null,
    Value(f64),
    /// The column does not hold floats.
    NotFloat,
}

/// What [`Extras::check_values`] reads of a batch: a decoded [`RecordBatch`], or the
/// cells of a mapped one.
pub(crate) trait BatchValues {
    /// Whether row `row` of column `c` is null.
    fn is_null(&self, c: usize, row: usize) -> Result<bool, String>;
    /// Row `row` of column `c`, a float column.
    fn float(&self, c: usize, row: usize) -> Result<FloatAt, String>;
}

impl BatchValues for RecordBatch {
    fn is_null(&self, c: usize, row: usize) -> Result<bool, String> {
        let col = self
            .columns()
            .get(c)
            .ok_or_else(|| format!("no column {c}"))?;
        Ok(col.data_type() == &DataType::Null || col.is_null(row))
    }

    fn float(&self, c: usize, row: usize) -> Result<FloatAt, String> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float32Type, Float64Type};
        if self.is_null(c, row)? {
            return Ok(FloatAt::Null);
        }
        let col = self.column(c);
        Ok(match col.data_type() {
            DataType::Float64 => FloatAt::Value(col.as_primitive::<Float64Type>().value(row)),
            DataType::Float32 => {
                FloatAt::Value(col.as_primitive::<Float32Type>().value(row).into())
            }
            _ => FloatAt::NotFloat,
        })
    }
}

/// The field a column of `dtype` is stored as.
fn storage_field(name: &str, dtype: DType) -> Field {
    let t = match dtype {
        DType::Null => DataType::Null,
        DType::Bool => DataType::Boolean,
        DType::Int64 => DataType::Int64,
        DType::Float64 => DataType::Float64,
        DType::Str => DataType::Utf8,
        DType::Bytes => DataType::Binary,
        DType::Object => return variant_field(name),
    };
    Field::new(name, t, true)
}

fn variant_field(name: &str) -> Field {
    Field::new(name, DataType::Binary, true).with_metadata(std::collections::HashMap::from([(
        ENCODING_KEY.to_owned(),
        VARIANT_ENCODING.to_owned(),
    )]))
}

/// How a field of the file takes values of another type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fit {
    /// As they are (the same Arrow type, or only nulls).
    Same,
    /// Ints into a float64 field, marked as ints.
    IntsAsFloats,
    /// Into an `object` field, variant-encoded.
    Encode,
}

/// How `field` takes a column of `found`, or `None` if it cannot.
fn fit(field: &Field, found: &DataType, found_variant: bool) -> Option<Fit> {
    let t = field.data_type();
    if is_variant_field(field) {
        return Some(if found_variant {
            Fit::Same
        } else {
            Fit::Encode
        });
    }
    if found_variant {
        return None;
    }
    match (t, found) {
        (_, DataType::Null) => Some(Fit::Same),
        (DataType::Float64, DataType::Int64) => Some(Fit::IntsAsFloats),
        (DataType::Utf8, DataType::Dictionary(_, v)) if v.as_ref() == &DataType::Utf8 => {
            Some(Fit::Same)
        }
        (a, b) if a == b => Some(Fit::Same),
        _ => None,
    }
}

/// The narrowest field that holds both `a` and a column of `b`.
fn widen(a: &Field, b: &Field) -> Field {
    let (ta, tb) = (a.data_type(), b.data_type());
    if fit(a, tb, is_variant_field(b)).is_some() {
        return a.clone();
    }
    if !is_variant_field(a) && fit(b, ta, false).is_some() {
        return b.clone().with_name(a.name());
    }
    if matches!(
        (ta, tb),
        (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64)
    ) {
        return Field::new(a.name(), DataType::Float64, true);
    }
    variant_field(a.name())
}

/// The schema of segments `schemas` read as one: fields in first-seen order, each with
/// the narrowest type that holds all its segments' values.
pub(crate) fn unify<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> Schema {
    let mut fields: Vec<Field> = Vec::new();
    for s in schemas {
        for f in s.fields() {
            match fields.iter_mut().find(|g| g.name() == f.name()) {
                Some(g) => *g = widen(g, f),
                None => fields.push(f.as_ref().clone().with_nullable(true)),
            }
        }
    }
    Schema::new(fields)
}

/// The schema pending records need: `current` (the last segment's, if any) grown by
/// new fields and wider types; `None` if `current` already takes every pending record.
pub fn grow(current: Option<&Schema>, tail: &RecordList) -> Option<Schema> {
    let mut fields: Vec<Field> = current
        .map(|s| s.fields().iter().map(|f| f.as_ref().clone()).collect())
        .unwrap_or_default();
    let mut changed = current.is_none();
    for j in 0..tail.num_fields() {
        let want = storage_field(tail.field_name(j), tail.field_dtype(j));
        match fields.iter_mut().find(|f| f.name() == want.name()) {
            Some(f) => {
                let mut w = widen(f, &want);
                // Ints join a float column (marked as ints) only if each is exactly a
                // double: past 2**53 they would come back changed.
                if w.data_type() == &DataType::Float64
                    && tail.field_dtype(j) == DType::Int64
                    && !ints_fit_f64(tail, j)
                {
                    w = variant_field(f.name());
                }
                if w != *f {
                    *f = w;
                    changed = true;
                }
            }
            None => {
                fields.push(want);
                changed = true;
            }
        }
    }
    // A field declared non-nullable (a foreign file's) takes no record that lacks it or
    // holds `None` there: those need a segment where it is nullable, as a wider type does.
    for f in &mut fields {
        if !f.is_nullable() && lacks_a_value(tail, f.name()) {
            *f = f.clone().with_nullable(true);
            changed = true;
        }
    }
    changed.then(|| Schema::new(fields))
}

/// Whether some record of `tail` lacks field `name` or holds `None` in it.
fn lacks_a_value(tail: &RecordList, name: &str) -> bool {
    match tail.field_index(name) {
        None => !tail.is_empty(),
        Some(j) => {
            (0..tail.len()).any(|r| matches!(tail.get(r, j), CellRef::Null | CellRef::Absent))
        }
    }
}

/// Whether every int of column `j` of `tail` is exactly a double.
fn ints_fit_f64(tail: &RecordList, j: usize) -> bool {
    (0..tail.len()).all(|r| match tail.get(r, j) {
        CellRef::Int(v) => int_fits_f64(v),
        _ => true,
    })
}

fn encode_cells(tail: &RecordList, j: usize, start: usize, n: usize) -> ArrayRef {
    let mut buf = Vec::new();
    let mut vals: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
    for r in start..start + n {
        let v = match tail.get(r, j).to_cell().map(|c| c.to_value()) {
            None | Some(Ok(variant::Value::None)) => None,
            Some(Ok(v)) => {
                buf.clear();
                variant::encode(&v, &mut buf);
                Some(buf.clone())
            }
            // The list holds only values it could encode; an undecodable one cannot be.
            Some(Err(_)) => None,
        };
        vals.push(v);
    }
    Arc::new(BinaryArray::from_iter(vals))
}

/// Rows `[start, start + n)` of `tail` (exported as `batch`) in `schema`, with what
/// Arrow cannot say. `Err(field)` names a field `schema` cannot take (a bug in [`grow`]).
pub fn tail_batch(
    tail: &RecordList,
    batch: &RecordBatch,
    start: usize,
    schema: &SchemaRef,
) -> Result<(RecordBatch, Extras), String> {
    let n = batch.num_rows();
    let mut extras = Extras {
        rows: n,
        ..Extras::default()
    };
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let mut to_file: Vec<u32> = vec![0; tail.num_fields()];
    for (c, f) in schema.fields().iter().enumerate() {
        let Some(j) = tail.field_index(f.name()) else {
            cols.push(new_null_array(f.data_type(), n));
            put(&mut extras.absent, c, full(n));
            continue;
        };
        to_file[j] = c as u32;
        let col = batch.column(j);
        let found_variant = tail.field_dtype(j) == DType::Object;
        let how = fit(f, col.data_type(), found_variant).ok_or_else(|| f.name().clone())?;
        let mut ints: Option<Bits> = None;
        let array: ArrayRef = match how {
            Fit::Encode => encode_cells(tail, j, start, n),
            Fit::IntsAsFloats => {
                let mut bits = vec![0u8; n.div_ceil(8)];
                let vals: Float64Array = (0..n)
                    .map(|i| match tail.get(start + i, j) {
                        CellRef::Int(v) => {
                            set_bit(&mut bits, i);
                            Some(v as f64)
                        }
                        CellRef::Float(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                ints = Some(bits);
                Arc::new(vals)
            }
            Fit::Same if col.data_type() == &DataType::Null => new_null_array(f.data_type(), n),
            Fit::Same if col.data_type() != f.data_type() => {
                plain_strings(col).ok_or_else(|| f.name().clone())?
            }
            Fit::Same => Arc::clone(col),
        };
        if ints.is_none() && f.data_type() == &DataType::Float64 && tail.field_may_hold_ints(j) {
            let mut bits = vec![0u8; n.div_ceil(8)];
            let mut any = false;
            for i in 0..n {
                if matches!(tail.get(start + i, j), CellRef::Int(_)) {
                    set_bit(&mut bits, i);
                    any = true;
                }
            }
            ints = any.then_some(bits);
        }
        if let Some(b) = ints {
            if b.iter().any(|x| *x != 0) {
                put(&mut extras.ints, c, b);
            }
        }
        if tail.field_may_be_absent(j) {
            let mut bits = vec![0u8; n.div_ceil(8)];
            let mut any = false;
            for i in 0..n {
                if tail.get(start + i, j) == CellRef::Absent {
                    set_bit(&mut bits, i);
                    any = true;
                }
            }
            if any {
                put(&mut extras.absent, c, bits);
            }
        }
        cols.push(array);
    }
    let monotone = to_file.windows(2).all(|w| w[0] < w[1]);
    if !monotone || tail.may_have_key_order_exceptions() {
        for i in 0..n {
            let keys: Vec<u32> = tail
                .row_keys(start + i)
                .into_iter()
                .map(|j| to_file[j])
                .collect();
            if keys.windows(2).any(|w| w[0] > w[1]) {
                extras.order.push((i, keys));
            }
        }
    }
    // What `RecordBatch::try_new` checks of each column, named by its field (its own
    // error names none): a schema grown for the records makes these hold.
    for (f, col) in schema.fields().iter().zip(&cols) {
        if col.data_type() != f.data_type() || (!f.is_nullable() && col.null_count() > 0) {
            return Err(f.name().clone());
        }
    }
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(n));
    let out = RecordBatch::try_new_with_options(Arc::clone(schema), cols, &opts)
        .map_err(|e| format!("<batch>: {e}"))?;
    Ok((out, extras))
}

/// Why a committed batch does not go into a unified schema; each names the field.
#[derive(Debug)]
pub(crate) enum Unfit {
    /// The field's type cannot take the batch's column.
    Type(String),
    /// The field is a float column, and the batch's ints include one past 2**53 (the
    /// unified schema is made from the segments' types alone): an int column's, or a
    /// float column's marked int that a writer before the one rule wrote.
    Inexact(String),
}

/// `schema` with field `name` variant-encoded (it holds every value exactly).
pub(crate) fn with_variant(schema: &Schema, name: &str) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == name {
                variant_field(name)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Schema::new(fields).with_metadata(schema.metadata().clone())
}

/// A committed batch of one segment (`extras` its message's) in the unified `schema`.
pub(crate) fn unified_batch(
    batch: &RecordBatch,
    extras: &Extras,
    schema: &SchemaRef,
) -> Result<RecordBatch, Unfit> {
    let from = batch.schema();
    // A float field holding a mark past 2**53 (a file written before the one rule) is
    // exported as the list holds such an int: in a variant field.
    for (c, bits) in extras.ints.iter().enumerate() {
        let (Some(bits), Some(field)) = (bits, from.fields().get(c)) else {
            continue;
        };
        let Ok(f) = schema.field_with_name(field.name()) else {
            continue;
        };
        if is_variant_field(f) {
            continue;
        }
        let past = |row| match batch.float(c, row) {
            Ok(FloatAt::Value(x)) => !is_stored_int(x),
            _ => false,
        };
        if set_bits(bits, extras.rows).any(past) {
            return Err(Unfit::Inexact(f.name().clone()));
        }
    }
    if batch.schema_ref() == schema {
        return Ok(batch.clone());
    }
    let n = batch.num_rows();
    let mut cols = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let Ok(c) = from.index_of(f.name()) else {
            cols.push(new_null_array(f.data_type(), n));
            continue;
        };
        let col = batch.column(c);
        let variant_col = is_variant_field(from.field(c));
        let array: ArrayRef = match fit(f, col.data_type(), variant_col) {
            Some(Fit::Same) if col.data_type() == f.data_type() => Arc::clone(col),
            Some(Fit::Same) if col.data_type() == &DataType::Null => {
                new_null_array(f.data_type(), n)
            }
            Some(Fit::Same) => plain_strings(col).ok_or_else(|| Unfit::Type(f.name().clone()))?,
            Some(Fit::IntsAsFloats) => {
                let ints = col
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>()
                    .ok_or_else(|| Unfit::Type(f.name().clone()))?;
                // Past 2**53 an int would come back changed: the caller widens the
                // field instead.
                if ints.iter().flatten().any(|v| !int_fits_f64(v)) {
                    return Err(Unfit::Inexact(f.name().clone()));
                }
                Arc::new(
                    ints.iter()
                        .map(|v| v.map(|v| v as f64))
                        .collect::<Float64Array>(),
                )
            }
            Some(Fit::Encode) => {
                let mut buf = Vec::new();
                let mut out = Vec::new();
                let vals: Vec<Option<Vec<u8>>> = (0..n)
                    .map(|i| {
                        let cell = arrow_cell(col.as_ref(), i, false, &mut buf).ok()?;
                        let cell = extras.column(c).as_appended(i, cell);
                        let v = cell.to_cell()?.to_value().ok()?;
                        if v == variant::Value::None {
                            return None;
                        }
                        out.clear();
                        variant::encode(&v, &mut out);
                        Some(out.clone())
                    })
                    .collect();
                Arc::new(BinaryArray::from_iter(vals))
            }
            None => return Err(Unfit::Type(f.name().clone())),
        };
        cols.push(array);
    }
    // What `RecordBatch::try_new` checks of each column, named by its field (its own
    // error names none): the unified schema makes these hold.
    for (f, col) in schema.fields().iter().zip(&cols) {
        if col.data_type() != f.data_type() || (!f.is_nullable() && col.null_count() > 0) {
            return Err(Unfit::Type(f.name().clone()));
        }
    }
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(n));
    RecordBatch::try_new_with_options(Arc::clone(schema), cols, &opts)
        .map_err(|e| Unfit::Type(format!("<batch>: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_slices() {
        let mut e = Extras {
            rows: 9,
            ..Extras::default()
        };
        put(&mut e.absent, 2, vec![0b1010_0001, 0b1]);
        put(&mut e.absent, 1, full(9));
        put(&mut e.ints, 0, vec![0b10, 0]);
        // Key orders list exactly each record's present keys (column 1 is absent from
        // every row, column 2 from rows 0, 5, 7 and 8).
        e.order = vec![(1, vec![2, 0]), (6, vec![2, 0])];
        let pairs = e.to_metadata();
        assert!(
            pairs.iter().any(|(_, v)| v.contains("1:*;2:a101")),
            "{pairs:?}"
        );
        let back = Extras::from_metadata(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), 9, 3)
            .unwrap();
        assert_eq!(back, e);
        assert!(back.is_absent(2, 0) && !back.is_absent(2, 1) && back.is_absent(2, 8));
        assert!(back.is_int(0, 1) && !back.is_int(1, 1));
        assert_eq!(back.order_of(6), Some(&[2, 0][..]));
        let s = back.slice(5, 4);
        assert!(s.is_absent(2, 0) && s.is_absent(2, 2) && s.is_absent(2, 3));
        assert!(!s.is_absent(2, 1));
        assert_eq!(s.order, vec![(1, vec![2, 0])]);
        assert!(Extras::default().to_metadata().is_empty());
    }

    #[test]
    fn appended_extras_shift_the_second_part() {
        let mut a = Extras {
            rows: 3,
            ..Extras::default()
        };
        put(&mut a.absent, 0, vec![0b001]);
        a.order = vec![(2, vec![1, 0])];
        let mut b = Extras {
            rows: 7,
            ..Extras::default()
        };
        // Column 1 absent from every row but the first, whose key order names it.
        put(&mut b.absent, 1, vec![0b111_1110]);
        put(&mut b.ints, 0, vec![0b100_0000]);
        b.order = vec![(0, vec![1, 0])];
        a.append(&b);
        assert_eq!(a.rows(), 10);
        assert!(a.is_absent(0, 0) && !a.is_absent(0, 3));
        assert!((4..10).all(|r| a.is_absent(1, r)) && !a.is_absent(1, 3) && !a.is_absent(1, 2));
        assert!(a.is_int(0, 9) && !a.is_int(0, 8));
        assert_eq!(a.order_of(3), Some(&[1, 0][..]));
        assert_eq!(a.order_of(2), Some(&[1, 0][..]));
        let pairs = a.to_metadata();
        let back =
            Extras::from_metadata(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), 10, 2)
                .unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn ints_past_two_to_the_53_do_not_join_a_float_field() {
        let floats = Schema::new(vec![Field::new("a", DataType::Float64, true)]);
        let mut tail = RecordList::new();
        tail.push_record(&[("a", memslim_records::Cell::Int(1 << 40))])
            .unwrap();
        assert_eq!(grow(Some(&floats), &tail), None);
        tail.push_record(&[("a", memslim_records::Cell::Int((1 << 62) + 1))])
            .unwrap();
        let grown = grow(Some(&floats), &tail).unwrap();
        assert!(is_variant_field(grown.field(0)));
    }

    #[test]
    fn marks_an_older_writer_put_past_two_to_the_53_read_back_exactly() {
        // Before the one rule, a record file's writer marked every i64 that is exactly
        // a double; the reader takes those marks back as the ints they were.
        let (p53, p63) = ((1u64 << 53) as f64, TWO_POW_63);
        let xs = [
            0.5,
            3.0,
            p53 + 2.0,
            -p53 - 2.0,
            2f64.powi(60),
            -p63,
            p63,
            2.0 * p63,
            1e300,
            -0.0,
            f64::NAN,
            f64::INFINITY,
        ];
        let ok = [
            false, true, true, true, true, true, true, false, false, false, false, false,
        ];
        let batch = RecordBatch::try_from_iter([(
            "x",
            Arc::new(Float64Array::from(xs.to_vec())) as ArrayRef,
        )])
        .unwrap();
        for (i, (&x, &ok)) in xs.iter().zip(&ok).enumerate() {
            let mut e = Extras {
                rows: xs.len(),
                ..Extras::default()
            };
            let mut bits = vec![0u8; xs.len().div_ceil(8)];
            set_bit(&mut bits, i);
            put(&mut e.ints, 0, bits);
            let checked = e.check_values(&batch, |_| "x");
            assert_eq!(checked.is_ok(), ok, "{x:?}: {checked:?}");
            if !ok {
                continue;
            }
            let back = e.column(0).as_appended(i, CellRef::Float(x));
            match back {
                CellRef::Int(v) => assert_eq!(i128::from(v) as f64, x),
                CellRef::Encoded(b) => {
                    assert_eq!(x, p63);
                    let v = variant::decode(b).unwrap();
                    assert_eq!(
                        v,
                        variant::Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0])
                    );
                    let mut again = Vec::new();
                    variant::encode(&v, &mut again);
                    assert_eq!(again, b, "the canonical encoding");
                }
                other => panic!("{x:?} read as {other:?}"),
            }
            // Exported as the list holds such an int: in a variant field.
            let schema = batch.schema();
            let unified = unified_batch(&batch, &e, &schema);
            assert_eq!(
                matches!(unified, Err(Unfit::Inexact(_))),
                x.abs() > p53,
                "{x:?}"
            );
            let wide = Arc::new(with_variant(&schema, "x"));
            let b = unified_batch(&batch, &e, &wide).ok().unwrap();
            let mut buf = Vec::new();
            let cell = arrow_cell(b.column(0).as_ref(), i, true, &mut buf).unwrap();
            assert_eq!(
                cell.to_cell().unwrap().to_value().unwrap(),
                back.to_cell().unwrap().to_value().unwrap()
            );
        }
    }

    #[test]
    fn bad_metadata_is_refused() {
        for (k, v) in [
            (ABSENT_KEY, "7:ff"),
            (ABSENT_KEY, "0:fff"),
            (ABSENT_KEY, "0:zz"),
            (ABSENT_KEY, "nonsense"),
            (ORDER_KEY, "9:0,1"),
            (ORDER_KEY, "1:0,5"),
            (ORDER_KEY, "2:0;1:0"),
            (ORDER_KEY, "1:1,0,1"),
        ] {
            assert!(Extras::from_metadata([(k, v)], 8, 2).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn fields_widen_to_the_narrowest_common_type() {
        let f = |t: DataType| Field::new("x", t, true);
        assert_eq!(
            widen(&f(DataType::Int64), &f(DataType::Float64)).data_type(),
            &DataType::Float64
        );
        assert_eq!(
            widen(&f(DataType::Null), &f(DataType::Utf8)).data_type(),
            &DataType::Utf8
        );
        assert!(is_variant_field(&widen(
            &f(DataType::Utf8),
            &f(DataType::Int64)
        )));
        assert!(is_variant_field(&widen(
            &variant_field("x"),
            &f(DataType::Int64)
        )));
        assert_eq!(
            widen(&f(DataType::Boolean), &f(DataType::Null)).data_type(),
            &DataType::Boolean
        );
    }
}
