//! Column types, cells and one chunk of one column.

use std::fmt;
use std::sync::Arc;

use crate::bitmap::Bitmap;
use crate::columns::Mark;
use crate::intvec::{IntVec, Width};
use crate::list::CellSink;
use crate::store::Store;
use crate::strdict::{GROUP, StrDict, same_bytes};
use crate::variant::{Value, Writer};
use crate::varlen::VarLen;

/// Dictionary strings [`Column::visit_at`] looks up before handing any of them out.
const GATHER: usize = 32;

/// Logical type of a field, as users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// Every value so far is `None` (or absent).
    Null,
    /// `bool`.
    Bool,
    /// Integers that fit in 64 bits (stored at the narrowest width that holds them).
    Int64,
    /// `float` (ints that arrived among floats are remembered and come back as ints).
    Float64,
    /// `str`.
    Str,
    /// `bytes`.
    Bytes,
    /// Anything: nested containers, big ints, mixed types, host objects.
    Object,
}

impl DType {
    /// The name used in schemas: `null`, `bool`, `int64`, `float64`, `str`, `bytes`, `object`.
    pub fn name(self) -> &'static str {
        match self {
            DType::Null => "null",
            DType::Bool => "bool",
            DType::Int64 => "int64",
            DType::Float64 => "float64",
            DType::Str => "str",
            DType::Bytes => "bytes",
            DType::Object => "object",
        }
    }

    /// Parses a schema type name.
    ///
    /// # Errors
    /// [`crate::RecordsError::UnknownDType`] for anything but the names of [`DType::name`]
    /// (plus the aliases `int`, `float`, `string`, `any`).
    pub fn parse(s: &str) -> crate::Result<DType> {
        Ok(match s {
            "null" => DType::Null,
            "bool" => DType::Bool,
            "int64" | "int" => DType::Int64,
            "float64" | "float" => DType::Float64,
            "str" | "string" => DType::Str,
            "bytes" => DType::Bytes,
            "object" | "any" => DType::Object,
            other => return Err(crate::RecordsError::UnknownDType(other.to_owned())),
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Physical layout of a column (all chunks of a column share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// No values stored, only null/absent bitmaps.
    Null,
    /// Bit-packed booleans.
    Bool,
    /// Integers at the given width.
    Int(Width),
    /// `f64`, with an optional bitmap marking values that were ints.
    Float,
    /// Dictionary-encoded strings: keys of the given width into the column dictionary.
    StrDict(Width),
    /// Plain strings: offsets + UTF-8 data.
    StrPlain,
    /// Plain bytes: offsets + data.
    Bytes,
    /// Values in the tagged variant encoding: offsets + data.
    Object,
}

impl Layout {
    /// The layout an empty column of type `dtype` starts with (the narrowest; values
    /// widen it as they arrive).
    pub(crate) fn first_for(dtype: DType) -> Layout {
        match dtype {
            DType::Null => Layout::Null,
            DType::Bool => Layout::Bool,
            DType::Int64 => Layout::Int(Width::W8),
            DType::Float64 => Layout::Float,
            DType::Str => Layout::StrDict(Width::W8),
            DType::Bytes => Layout::Bytes,
            DType::Object => Layout::Object,
        }
    }

    /// The logical type this layout stores.
    pub fn dtype(self) -> DType {
        match self {
            Layout::Null => DType::Null,
            Layout::Bool => DType::Bool,
            Layout::Int(_) => DType::Int64,
            Layout::Float => DType::Float64,
            Layout::StrDict(_) | Layout::StrPlain => DType::Str,
            Layout::Bytes => DType::Bytes,
            Layout::Object => DType::Object,
        }
    }

    /// A short description such as `int64/8`, `str:dict/16`, `float64`.
    pub fn describe(self) -> String {
        match self {
            Layout::Int(w) => format!("int64/{}", w.bytes() * 8),
            Layout::StrDict(w) => format!("str:dict/{}", w.bytes() * 8),
            Layout::StrPlain => "str:plain".to_owned(),
            other => other.dtype().name().to_owned(),
        }
    }
}

/// A value going into the store, borrowed from the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// `None` / null.
    Null,
    /// A boolean (kept apart from ints).
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
    /// Any value already in the variant encoding ([`crate::variant`]); stored in an
    /// `object` column.
    Encoded(&'a [u8]),
}

impl Cell<'_> {
    /// The Python-ish type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Cell::Null => "NoneType",
            Cell::Bool(_) => "bool",
            Cell::Int(_) => "int",
            Cell::Float(_) => "float",
            Cell::Str(_) => "str",
            Cell::Bytes(_) => "bytes",
            Cell::Encoded(b) => match crate::variant::peek_kind(b) {
                Some(crate::variant::ValueKind::BigInt) => "int (beyond 64 bits)",
                Some(crate::variant::ValueKind::List) => "list",
                Some(crate::variant::ValueKind::Tuple) => "tuple",
                Some(crate::variant::ValueKind::Dict) => "dict",
                _ => "object",
            },
        }
    }

    pub(crate) fn var_len(&self) -> usize {
        match self {
            Cell::Str(s) => s.len(),
            Cell::Bytes(b) | Cell::Encoded(b) => b.len(),
            _ => 0,
        }
    }
}

impl<'a> Cell<'a> {
    /// The cell for a decoded variant value: typed for the scalars that have typed
    /// columns, otherwise `encoded` (the bytes `value` was decoded from).
    pub fn from_decoded(value: &'a Value, encoded: &'a [u8]) -> Cell<'a> {
        match value {
            Value::None => Cell::Null,
            Value::Bool(x) => Cell::Bool(*x),
            Value::Int(x) => Cell::Int(*x),
            Value::Float(x) => Cell::Float(*x),
            Value::Str(s) => Cell::Str(s),
            Value::Bytes(x) => Cell::Bytes(x),
            _ => Cell::Encoded(encoded),
        }
    }

    /// The value as an owned variant [`Value`] (decoding an encoded cell).
    ///
    /// # Errors
    /// [`crate::variant::DecodeError`] if an encoded cell is malformed.
    pub fn to_value(&self) -> Result<Value, crate::variant::DecodeError> {
        Ok(match *self {
            Cell::Null => Value::None,
            Cell::Bool(x) => Value::Bool(x),
            Cell::Int(x) => Value::Int(x),
            Cell::Float(x) => Value::Float(x),
            Cell::Str(s) => Value::Str(s.to_owned()),
            Cell::Bytes(b) => Value::Bytes(b.to_vec()),
            Cell::Encoded(b) => crate::variant::decode(b)?,
        })
    }
}

/// A value read from the store, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CellRef<'a> {
    /// The record has no such key.
    Absent,
    /// `None`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string from a plain column.
    Str(&'a str),
    /// A string from a dictionary-encoded column, with its dictionary position (lets a
    /// host cache one string object per distinct value).
    DictStr(u32, &'a str),
    /// Bytes.
    Bytes(&'a [u8]),
    /// A value in the variant encoding.
    Encoded(&'a [u8]),
}

impl<'a> CellRef<'a> {
    /// The same value as an input cell (`None` for [`CellRef::Absent`]).
    pub fn to_cell(self) -> Option<Cell<'a>> {
        Some(match self {
            CellRef::Absent => return None,
            CellRef::Null => Cell::Null,
            CellRef::Bool(b) => Cell::Bool(b),
            CellRef::Int(i) => Cell::Int(i),
            CellRef::Float(f) => Cell::Float(f),
            CellRef::Str(s) | CellRef::DictStr(_, s) => Cell::Str(s),
            CellRef::Bytes(b) => Cell::Bytes(b),
            CellRef::Encoded(b) => Cell::Encoded(b),
        })
    }
}

/// Column-wide state: name, layout, declared type and the shared string dictionary.
#[derive(Clone, Debug)]
pub(crate) struct ColMeta {
    pub(crate) name: Arc<str>,
    pub(crate) layout: Layout,
    pub(crate) declared: Option<DType>,
    pub(crate) dict: Option<Arc<StrDict>>,
    /// Bytes of all string values pushed (to decide dictionary vs plain).
    pub(crate) str_bytes: u64,
    pub(crate) str_count: u64,
}

impl ColMeta {
    pub(crate) fn new(name: Arc<str>, declared: Option<DType>) -> Self {
        let layout = declared.map_or(Layout::Null, Layout::first_for);
        let mut m = ColMeta {
            name,
            layout,
            declared,
            dict: None,
            str_bytes: 0,
            str_count: 0,
        };
        if matches!(layout, Layout::StrDict(_)) {
            m.dict = Some(Arc::new(StrDict::new()));
        }
        m
    }

    pub(crate) fn dict(&self) -> &StrDict {
        static EMPTY: std::sync::OnceLock<StrDict> = std::sync::OnceLock::new();
        self.dict
            .as_deref()
            .unwrap_or_else(|| EMPTY.get_or_init(StrDict::new))
    }
}

/// Most bytes of text a dictionary holds: its offsets are Arrow's 32-bit ones. A string
/// that would take it past this goes into the column's plain layout instead (whose
/// offsets are per chunk). The crate's own tests reach a smaller limit.
#[cfg(not(test))]
pub(crate) const DICT_TEXT_MAX: usize = i32::MAX as usize;
#[cfg(test)]
pub(crate) const DICT_TEXT_MAX: usize = 4 << 20;

/// Largest dictionary a key width can address.
pub(crate) fn dict_capacity(w: Width) -> usize {
    match w {
        Width::W8 => 128,
        Width::W16 => 32_768,
        Width::W32 => i32::MAX as usize,
        Width::W64 => i64::MAX as usize,
    }
}

pub(crate) fn next_width(w: Width) -> Width {
    match w {
        Width::W8 => Width::W16,
        Width::W16 => Width::W32,
        _ => Width::W64,
    }
}

/// Whether an int may join a float column (stored as `v as f64`, marked as an int): it is
/// within ±2**53, where every int is exactly a double. The one rule for every writer and
/// reader of such marks (lists, pickles, record files): [`is_stored_int`] refuses a mark
/// past it.
pub fn int_fits_f64(v: i64) -> bool {
    v.unsigned_abs() <= (1u64 << 53)
}

/// Whether `x` is what a float column stores for an int it marks as one: `n as f64` for
/// an `i64` `n` that `f64` holds exactly, which `x as i64` reads back. Readers of stored
/// marks (a pickle, a record file's `memslim.ints`) refuse a mark on any other float: it
/// would read as `x as i64`, which truncates (0.5), saturates (inf) and maps NaN to 0.
pub fn is_stored_int(x: f64) -> bool {
    let n = x as i64;
    int_fits_f64(n) && (n as f64).to_bits() == x.to_bits()
}

/// The layout a column must have to store `cell`, or `None` if the declared type forbids it.
#[inline]
pub(crate) fn layout_for(meta: &ColMeta, cell: &Cell<'_>) -> Option<Layout> {
    layout_after(meta, meta.layout, cell)
}

/// As [`layout_for`], from layout `cur` (what earlier cells of a batch widened the
/// column to) instead of the column's own.
#[inline]
pub(crate) fn layout_after(meta: &ColMeta, cur: Layout, cell: &Cell<'_>) -> Option<Layout> {
    if let Some(d) = meta.declared {
        let ok = matches!(
            (d, cell),
            (_, Cell::Null)
                | (DType::Object, _)
                | (DType::Bool, Cell::Bool(_))
                | (DType::Int64, Cell::Int(_))
                | (DType::Float64, Cell::Float(_) | Cell::Int(_))
                | (DType::Str, Cell::Str(_))
                | (DType::Bytes, Cell::Bytes(_))
        );
        if !ok {
            return None;
        }
        if let (DType::Float64, Cell::Int(v)) = (d, cell) {
            if !int_fits_f64(*v) {
                return None;
            }
        }
    }
    Some(match (cur, cell) {
        (_, Cell::Null) => cur,
        (Layout::Object, _) => Layout::Object,
        (Layout::Null, Cell::Bool(_)) => Layout::Bool,
        (Layout::Null, Cell::Int(v)) => Layout::Int(Width::for_value(*v)),
        (Layout::Null, Cell::Float(_)) => Layout::Float,
        (Layout::Null, Cell::Str(_)) => Layout::StrDict(Width::W8),
        (Layout::Null, Cell::Bytes(_)) => Layout::Bytes,
        (Layout::Bool, Cell::Bool(_)) => Layout::Bool,
        (Layout::Int(w), Cell::Int(v)) => Layout::Int(w.max(Width::for_value(*v))),
        (Layout::Int(_), Cell::Float(_)) => Layout::Float,
        (Layout::Float, Cell::Float(_)) => Layout::Float,
        (Layout::Float, Cell::Int(v)) if int_fits_f64(*v) => Layout::Float,
        (Layout::StrDict(w), Cell::Str(s)) => {
            let d = meta.dict();
            let no_text_room = d.data().len() + s.len() > DICT_TEXT_MAX;
            if !(no_text_room || d.len() >= dict_capacity(w)) || d.find(s).is_some() {
                cur
            } else if no_text_room {
                Layout::StrPlain
            } else {
                Layout::StrDict(next_width(w))
            }
        }
        (Layout::StrPlain, Cell::Str(_)) => Layout::StrPlain,
        (Layout::Bytes, Cell::Bytes(_)) => Layout::Bytes,
        _ => Layout::Object,
    })
}

/// Whether row `i` of a column chunk with these bitmaps holds a value (is present and
/// not null), as [`ColChunk::get`] reads it.
#[inline]
pub(crate) fn has_value(valid: Option<&Bitmap>, absent: Option<&Bitmap>, i: usize) -> bool {
    !absent.is_some_and(|a| a.get(i)) && valid.is_none_or(|v| v.get(i))
}

/// The most bytes the variant encoding of a string or bytes value adds to it (a tag and
/// a length varint).
pub(crate) const ENCODED_HEADER_MAX: usize = 11;

/// Writes any cell in the variant encoding.
pub(crate) fn encode_cell(cell: &Cell<'_>, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    match cell {
        Cell::Null => w.none(),
        Cell::Bool(b) => w.bool(*b),
        Cell::Int(i) => w.int(*i),
        Cell::Float(f) => w.float(*f),
        Cell::Str(s) => w.str(s),
        Cell::Bytes(b) => w.bytes(b),
        Cell::Encoded(b) => out.extend_from_slice(b),
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Data {
    Null,
    Bool(Bitmap),
    Int(IntVec),
    Float(Store<f64>, Option<Bitmap>),
    Keys(IntVec),
    Var(VarLen),
}

/// One chunk of one column: values plus validity and absence bitmaps, each allocated
/// only once a row needs it.
#[derive(Clone, Debug)]
pub(crate) struct ColChunk {
    pub(crate) len: usize,
    pub(crate) data: Data,
    /// Bit set = value present and not null. `None`: every row valid.
    pub(crate) valid: Option<Bitmap>,
    /// Bit set = key absent from the record. `None`: no row absent.
    pub(crate) absent: Option<Bitmap>,
}

impl ColChunk {
    pub(crate) fn empty(layout: Layout) -> Self {
        let data = match layout {
            Layout::Null => Data::Null,
            Layout::Bool => Data::Bool(Bitmap::default()),
            Layout::Int(w) => Data::Int(IntVec::new(w)),
            Layout::Float => Data::Float(Store::default(), None),
            Layout::StrDict(w) => Data::Keys(IntVec::new(w)),
            Layout::StrPlain | Layout::Bytes | Layout::Object => Data::Var(VarLen::default()),
        };
        ColChunk {
            len: 0,
            data,
            valid: None,
            absent: None,
        }
    }

    /// Makes room for a run of `run` rows holding `bytes` of variable-length data, so
    /// that it grows each buffer once instead of step by step; a buffer that must grow
    /// grows for `want` rows (the rest of an announced load, see
    /// [`crate::store::room_for`]).
    pub(crate) fn room(&mut self, run: usize, want: usize, bytes: usize) {
        let want = want.max(run);
        match &mut self.data {
            Data::Null => {}
            Data::Bool(b) => b.room(run, want),
            Data::Int(v) | Data::Keys(v) => v.room(run, want),
            Data::Float(v, marks) => {
                v.grow_for(run, want);
                if let Some(m) = marks {
                    m.room(run, want);
                }
            }
            Data::Var(v) => v.room((run, want), (bytes, bytes / run.max(1) * want)),
        }
        for b in [&mut self.valid, &mut self.absent].into_iter().flatten() {
            b.room(run, want);
        }
    }

    /// [`ColChunk::room`] for a run holding a value whose size the input sets (see
    /// [`crate::list::BIG_VALUE`]): the variable-length data buffer grows with a
    /// fallible allocation.
    ///
    /// # Errors
    /// When the data buffer cannot grow by `bytes`; the chunk is unchanged.
    pub(crate) fn try_room(
        &mut self,
        run: usize,
        want: usize,
        bytes: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        if let Data::Var(v) = &mut self.data {
            let want = want.max(run);
            v.try_room((run, want), (bytes, bytes / run.max(1) * want))?;
        }
        // The data buffer has its room: this grows the other buffers (row counts).
        self.room(run, want, bytes);
        Ok(())
    }

    /// Makes room, with fallible allocations, for `cell` (a value whose size the input
    /// sets: see [`crate::list::BIG_VALUE`]), stored as `stored` bytes, about to be
    /// written or inserted into this chunk of column `meta` in place: the write then
    /// grows nothing.
    ///
    /// # Errors
    /// When the memory cannot be had; the values are unchanged.
    pub(crate) fn try_room_for_value(
        &mut self,
        meta: &mut ColMeta,
        stored: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        match &mut self.data {
            Data::Var(v) => v.try_room_in_place(stored),
            Data::Keys(_) => {
                let d = meta.dict.get_or_insert_with(Default::default);
                crate::cow::make_mut(d).try_room(stored)
            }
            _ => Ok(()),
        }
    }

    /// `cell` in the variant encoding, in a buffer asked for with a fallible allocation,
    /// if this chunk of column `meta` stores it encoded (`None`: as it is).
    ///
    /// # Errors
    /// When the memory for the encoding cannot be had.
    pub(crate) fn try_encoded(
        &self,
        meta: &ColMeta,
        cell: &Cell<'_>,
    ) -> Result<Option<Vec<u8>>, std::collections::TryReserveError> {
        let as_is = match (&self.data, meta.layout, cell) {
            (Data::Var(_), Layout::StrPlain, Cell::Str(_))
            | (Data::Var(_), Layout::Bytes, Cell::Bytes(_))
            | (Data::Var(_), _, Cell::Encoded(_)) => true,
            (Data::Var(_), _, Cell::Null) => true,
            (Data::Var(_), _, _) => false,
            _ => true,
        };
        if as_is {
            return Ok(None);
        }
        let mut buf = crate::store::try_buffer(cell.var_len() + ENCODED_HEADER_MAX)?;
        encode_cell(cell, &mut buf);
        Ok(Some(buf))
    }

    /// `len` rows, all absent, in the `Null` layout.
    pub(crate) fn all_absent(len: usize) -> Self {
        ColChunk {
            len,
            data: Data::Null,
            valid: Some(Bitmap::filled(len, false)),
            absent: Some(Bitmap::filled(len, true)),
        }
    }

    /// Asks the CPU to load what reading row `i` reads first (see
    /// [`crate::hint::prefetch`]): a reader of rows in no order asks this of every field
    /// before reading any, so that the fields' cache misses overlap.
    #[inline]
    pub(crate) fn prefetch(&self, i: usize) {
        if let Some(v) = &self.valid {
            v.prefetch(i);
        }
        match &self.data {
            Data::Null => {}
            Data::Bool(b) => b.prefetch(i),
            Data::Int(v) | Data::Keys(v) => v.prefetch(i),
            Data::Float(v, _) => {
                if let Some(x) = v.get(i) {
                    crate::hint::prefetch(x);
                }
            }
            Data::Var(v) => v.prefetch(i),
        }
    }

    #[inline(always)]
    pub(crate) fn get<'a>(&'a self, i: usize, meta: &'a ColMeta) -> CellRef<'a> {
        if let Some(a) = &self.absent {
            if a.get(i) {
                return CellRef::Absent;
            }
        }
        if let Some(v) = &self.valid {
            if !v.get(i) {
                return CellRef::Null;
            }
        }
        match &self.data {
            Data::Null => CellRef::Null,
            Data::Bool(b) => CellRef::Bool(b.get(i)),
            Data::Int(v) => CellRef::Int(v.get(i)),
            Data::Float(v, marks) => match marks {
                Some(m) if m.get(i) => CellRef::Int(v[i] as i64),
                _ => CellRef::Float(v[i]),
            },
            Data::Keys(k) => {
                let idx = k.get(i) as u32;
                CellRef::DictStr(idx, meta.dict().get(idx))
            }
            Data::Var(v) => {
                let b = v.get(i);
                match meta.layout {
                    Layout::StrPlain => CellRef::Str(std::str::from_utf8(b).unwrap_or_default()),
                    Layout::Bytes => CellRef::Bytes(b),
                    _ => CellRef::Encoded(b),
                }
            }
        }
    }

    /// Gives `sink` the value of row `i` at position `k`, as [`ColChunk::get`] reads it,
    /// through the sink's typed method for it (a plain string as its bytes, unchecked:
    /// the list checked them when they came in).
    ///
    /// # Panics
    /// If `i >= len`.
    #[inline(always)]
    pub(crate) fn give<'a, S: CellSink<'a>>(
        &'a self,
        k: usize,
        i: usize,
        meta: &'a ColMeta,
        sink: &mut S,
    ) {
        if let (Data::Var(v), Layout::StrPlain) = (&self.data, meta.layout) {
            let absent = self.absent.as_ref().is_some_and(|a| a.get(i));
            if !absent && self.valid.as_ref().is_none_or(|ok| ok.get(i)) {
                return sink.text(k, v.get(i));
            }
        }
        match self.get(i, meta) {
            CellRef::Int(v) => sink.int(k, v),
            CellRef::Float(v) => sink.float(k, v),
            CellRef::Bool(v) => sink.bool(k, v),
            CellRef::Null => sink.null(k),
            CellRef::DictStr(idx, s) => sink.dict_str(k, idx, s),
            c => sink.cell(k, c),
        }
    }

    /// Gives `sink` the value of row `i` at position `k`, for each `(k, i)` of `at`:
    /// what [`ColChunk::get`] would give for each `i`, matching the layout (and an
    /// integer column's width) once for all of them, through the sink's typed methods.
    ///
    /// # Panics
    /// If some `i >= len`.
    #[inline]
    pub(crate) fn visit_at<'a, S: CellSink<'a>>(
        &'a self,
        at: impl Iterator<Item = (usize, usize)>,
        meta: &'a ColMeta,
        sink: &mut S,
    ) {
        if self.absent.is_some() {
            for (k, i) in at {
                sink.cell(k, self.get(i, meta));
            }
            return;
        }
        let valid = self.valid.as_ref();
        let ok = |i: usize| valid.is_none_or(|v| v.get(i));
        macro_rules! ints {
            ($v:expr) => {
                for (k, i) in at {
                    if ok(i) {
                        sink.int(k, i64::from($v[i]));
                    } else {
                        sink.null(k);
                    }
                }
            };
        }
        if let Some((keys, dict)) = self.scattered_keys(meta) {
            // A large dictionary's entries are scattered in memory: each read of one
            // between the sink's calls would wait for the cache. A group's entries
            // are asked for first, their bounds then their texts, so that those
            // waits overlap (14% of a TupleList row loop over 200,000 distinct
            // users).
            let mut at = at.peekable();
            while at.peek().is_some() {
                let mut group = [(0, None); GATHER];
                let mut n = 0;
                for (slot, (k, i)) in group.iter_mut().zip(at.by_ref()) {
                    let idx = ok(i).then(|| keys.get(i) as u32);
                    if let Some(idx) = idx {
                        dict.prefetch_bounds(idx);
                    }
                    *slot = (k, idx);
                    n += 1;
                }
                for &(_, idx) in &group[..n] {
                    if let Some(idx) = idx {
                        dict.prefetch_text(idx);
                    }
                }
                for &(k, idx) in &group[..n] {
                    match idx {
                        Some(idx) => sink.dict_str(k, idx, dict.get(idx)),
                        None => sink.null(k),
                    }
                }
            }
            return;
        }
        match &self.data {
            Data::Int(IntVec::W8(v)) => ints!(v),
            Data::Int(IntVec::W16(v)) => ints!(v),
            Data::Int(IntVec::W32(v)) => ints!(v),
            Data::Int(IntVec::W64(v)) => ints!(v),
            Data::Float(v, None) => {
                for (k, i) in at {
                    if ok(i) {
                        sink.float(k, v[i]);
                    } else {
                        sink.null(k);
                    }
                }
            }
            Data::Bool(b) => {
                for (k, i) in at {
                    if ok(i) {
                        sink.bool(k, b.get(i));
                    } else {
                        sink.null(k);
                    }
                }
            }
            Data::Var(v) if meta.layout == Layout::StrPlain => {
                for (k, i) in at {
                    if ok(i) {
                        sink.text(k, v.get(i));
                    } else {
                        sink.null(k);
                    }
                }
            }
            Data::Keys(keys) => {
                let dict = meta.dict();
                for (k, i) in at {
                    if ok(i) {
                        let idx = keys.get(i) as u32;
                        sink.dict_str(k, idx, dict.get(idx));
                    } else {
                        sink.null(k);
                    }
                }
            }
            _ => {
                for (k, i) in at {
                    sink.cell(k, self.get(i, meta));
                }
            }
        }
    }

    /// The keys and dictionary of a dictionary column whose dictionary is too large to
    /// stay in cache ([`StrDict::scattered`]): a reader asks for entries ahead.
    pub(crate) fn scattered_keys<'a>(
        &'a self,
        meta: &'a ColMeta,
    ) -> Option<(&'a IntVec, &'a StrDict)> {
        match &self.data {
            Data::Keys(keys) if meta.dict().scattered() => Some((keys, meta.dict())),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn is_absent(&self, i: usize) -> bool {
        self.absent.as_ref().is_some_and(|a| a.get(i))
    }

    fn set_flags(&mut self, i: usize, valid: bool, absent: bool) {
        if !valid && self.valid.is_none() {
            self.valid = Some(Bitmap::filled(self.len, true));
        }
        if let Some(v) = &mut self.valid {
            v.set(i, valid);
        }
        if absent && self.absent.is_none() {
            self.absent = Some(Bitmap::filled(self.len, false));
        }
        if let Some(a) = &mut self.absent {
            a.set(i, absent);
        }
    }

    /// Grows by one row holding a placeholder, then writes `cell` there.
    pub(crate) fn push(&mut self, meta: &mut ColMeta, cell: Option<&Cell<'_>>) {
        self.push_seen(meta, cell, None);
    }

    /// Position of the value about to be pushed, counted, marked valid and present (a
    /// null or absent value clears its marks after).
    #[inline(always)]
    fn claim_slot(&mut self) -> usize {
        let i = self.len;
        self.len += 1;
        if let Some(v) = &mut self.valid {
            v.push(true);
        }
        if let Some(a) = &mut self.absent {
            a.push(false);
        }
        i
    }

    /// As [`ColChunk::push`]; strings of a dictionary column are looked up in `seen`
    /// first (see [`SeenStrs`]).
    pub(crate) fn push_seen(
        &mut self,
        meta: &mut ColMeta,
        cell: Option<&Cell<'_>>,
        seen: Option<&mut SeenStrs>,
    ) {
        let i = self.claim_slot();
        match (&mut self.data, cell) {
            // The common cases write the value directly (no placeholder, no second pass).
            (Data::Int(v), Some(Cell::Int(x))) => {
                v.push(*x);
                return;
            }
            (Data::Float(v, marks), Some(Cell::Float(x))) => {
                v.push(*x);
                if let Some(m) = marks {
                    m.push(false);
                }
                return;
            }
            (Data::Bool(b), Some(Cell::Bool(x))) => {
                b.push(*x);
                return;
            }
            (Data::Keys(k), Some(Cell::Str(s))) => {
                let idx = match seen {
                    Some(seen) => match seen.get(s) {
                        Some(idx) => {
                            meta.str_bytes += s.len() as u64;
                            meta.str_count += 1;
                            idx
                        }
                        None => {
                            let idx = intern_key(meta, s);
                            seen.put(s, idx);
                            idx
                        }
                    },
                    None => intern_key(meta, s),
                };
                k.push(idx);
                return;
            }
            (Data::Null, _) => {}
            (Data::Bool(b), _) => b.push(false),
            (Data::Int(v) | Data::Keys(v), _) => v.push(0),
            (Data::Float(v, marks), _) => {
                v.grow(1).push(0.0);
                if let Some(m) = marks {
                    m.push(false);
                }
            }
            (Data::Var(v), _) => {
                // Write straight into the buffer instead of via set() (no override).
                match cell {
                    Some(c @ (Cell::Str(_) | Cell::Bytes(_) | Cell::Encoded(_)))
                        if meta.layout != Layout::Object || matches!(c, Cell::Encoded(_)) =>
                    {
                        match c {
                            Cell::Str(s) => {
                                meta.str_bytes += s.len() as u64;
                                meta.str_count += 1;
                                v.push(s.as_bytes())
                            }
                            Cell::Bytes(b) | Cell::Encoded(b) => v.push(b),
                            _ => unreachable_cell(),
                        }
                        return;
                    }
                    Some(Cell::Null) | None => {
                        v.push(&[]);
                        self.set_flags(i, false, cell.is_none());
                        return;
                    }
                    Some(c) if meta.layout == Layout::Object => {
                        if c.var_len() >= crate::list::BIG_VALUE {
                            // Written in place, into the room made for it: a second
                            // copy of a value this large may be memory there is not.
                            v.push_sized(c.var_len() + ENCODED_HEADER_MAX, |buf| {
                                encode_cell(c, buf)
                            });
                        } else {
                            v.push_with(|buf| encode_cell(c, buf));
                        }
                        return;
                    }
                    Some(_) => v.push(&[]),
                }
            }
        }
        self.write(i, meta, cell);
    }

    /// Pushes a run of cells whose every value fits the layout (as `push` does one by
    /// one). A run of a numeric or bool column with no nulls or absent keys, every cell
    /// of the column's own type, is appended in one typed loop.
    pub(crate) fn push_run<'c, 'd: 'c, I>(&mut self, meta: &mut ColMeta, cells: I)
    where
        I: ExactSizeIterator<Item = Option<&'c Cell<'d>>> + Clone,
    {
        let n = cells.len();
        if self.valid.is_none() && self.absent.is_none() {
            let done = match &mut self.data {
                Data::Int(v) if cells.clone().all(|c| matches!(c, Some(Cell::Int(_)))) => {
                    v.extend(cells.clone().map(|c| match c {
                        Some(Cell::Int(x)) => *x,
                        _ => 0,
                    }));
                    true
                }
                Data::Float(v, None)
                    if cells.clone().all(|c| matches!(c, Some(Cell::Float(_)))) =>
                {
                    v.grow(n).extend(cells.clone().map(|c| match c {
                        Some(Cell::Float(x)) => *x,
                        _ => 0.0,
                    }));
                    true
                }
                Data::Bool(b) if cells.clone().all(|c| matches!(c, Some(Cell::Bool(_)))) => {
                    for c in cells.clone() {
                        b.push(matches!(c, Some(Cell::Bool(true))));
                    }
                    true
                }
                _ => false,
            };
            if done {
                self.len += n;
                return;
            }
        }
        // Runs of absent keys (most of a run of a field few records have) in bulk.
        let mut absent = 0;
        for c in cells {
            if c.is_none() {
                absent += 1;
                continue;
            }
            self.push_absent(absent);
            absent = 0;
            self.push(meta, c);
        }
        self.push_absent(absent);
    }

    /// Pushes `n` absent rows, as `n` calls of `push(meta, None)` do.
    pub(crate) fn push_absent(&mut self, n: usize) {
        if n < 64 {
            // Row by row, growing the buffers exactly as `push` does.
            for _ in 0..n {
                let i = self.claim_slot();
                match &mut self.data {
                    Data::Null => {}
                    Data::Bool(b) => b.push(false),
                    Data::Int(v) | Data::Keys(v) => v.push(0),
                    Data::Float(v, marks) => {
                        v.grow(1).push(0.0);
                        if let Some(m) = marks {
                            m.push(false);
                        }
                    }
                    Data::Var(v) => v.push(&[]),
                }
                self.set_flags(i, false, true);
            }
            return;
        }
        match &mut self.data {
            Data::Null => {}
            Data::Bool(b) => b.push_n(false, n),
            Data::Int(v) | Data::Keys(v) => v.extend(std::iter::repeat_n(0, n)),
            Data::Float(v, marks) => {
                v.grow(n).extend(std::iter::repeat_n(0.0, n));
                if let Some(m) = marks {
                    m.push_n(false, n);
                }
            }
            Data::Var(v) => {
                for _ in 0..n {
                    v.push(&[]);
                }
            }
        }
        let len = self.len;
        self.valid
            .get_or_insert_with(|| Bitmap::filled(len, true))
            .push_n(false, n);
        self.absent
            .get_or_insert_with(|| Bitmap::filled(len, false))
            .push_n(true, n);
        self.len += n;
    }

    /// Pushes a run of ints into an int column whose width holds them all, row `r`
    /// marked by `marks[r]` (no marks: every row holds its value).
    pub(crate) fn push_ints(&mut self, values: &[i64], marks: &[Mark]) {
        let Data::Int(v) = &mut self.data else {
            return;
        };
        if marks.is_empty() {
            v.extend(values.iter().copied());
        } else {
            // A null or absent row holds 0, as `push` leaves it.
            v.extend(
                values
                    .iter()
                    .zip(marks)
                    .map(|(&x, &m)| if m == Mark::Value { x } else { 0 }),
            );
        }
        self.push_marks(values.len(), marks);
    }

    /// Pushes a run of dictionary keys into a dictionary column whose key width holds
    /// them all: `keys[r]` is the position of `strs[r]` (already interned), row `r`
    /// marked by `marks[r]` (no marks: every row holds its string).
    pub(crate) fn push_keys(
        &mut self,
        meta: &mut ColMeta,
        keys: &[u32],
        strs: &[&str],
        marks: &[Mark],
    ) {
        let Data::Keys(k) = &mut self.data else {
            return;
        };
        k.extend(keys.iter().map(|&x| i64::from(x)));
        for (r, s) in strs.iter().enumerate() {
            if marks.get(r).is_none_or(|&m| m == Mark::Value) {
                meta.str_bytes += s.len() as u64;
                meta.str_count += 1;
            }
        }
        self.push_marks(keys.len(), marks);
    }

    /// Counts `n` rows whose values are written, row `r` marked by `marks[r]` (no
    /// marks: all valid), in the validity and absence bitmaps, each made once a row
    /// needs it (as [`ColChunk::push`] makes them).
    fn push_marks(&mut self, n: usize, marks: &[Mark]) {
        let start = self.len;
        if self.valid.is_none() && marks.iter().any(|&m| m != Mark::Value) {
            self.valid = Some(Bitmap::filled(start, true));
        }
        if self.absent.is_none() && marks.contains(&Mark::Absent) {
            self.absent = Some(Bitmap::filled(start, false));
        }
        if let Some(v) = &mut self.valid {
            v.room(n, n);
            v.push_each(n, |r| marks.get(r).is_none_or(|&m| m == Mark::Value));
        }
        if let Some(a) = &mut self.absent {
            a.room(n, n);
            a.push_each(n, |r| marks.get(r) == Some(&Mark::Absent));
        }
        self.len += n;
    }

    /// Pushes a run of cells into a dictionary-encoded column (every cell a string, null
    /// or absent). Looks strings up in a [`SeenStrs`] first, and borrows the dictionary
    /// once for the run rather than once per string unless it is shared with an export
    /// or a copy.
    pub(crate) fn push_dict_run<'c, 'd: 'c>(
        &mut self,
        meta: &mut ColMeta,
        cells: impl Iterator<Item = Option<&'c Cell<'d>>>,
    ) {
        let mut seen = SeenStrs::new();
        let ColMeta {
            dict,
            str_bytes,
            str_count,
            ..
        } = meta;
        let (Some(d), Data::Keys(_)) = (dict.as_mut().and_then(crate::cow::get_mut), &self.data)
        else {
            for c in cells {
                self.push_seen(meta, c, Some(&mut seen));
            }
            return;
        };
        // A group of cells at a time: the strings not seen yet are looked up together
        // (`StrDict::intern_group`), then the group is pushed.
        let mut group: Vec<Option<&'c Cell<'d>>> = Vec::with_capacity(GROUP);
        let mut strs: Vec<&str> = Vec::with_capacity(GROUP);
        let mut found = Vec::with_capacity(GROUP);
        let mut cells = cells.peekable();
        while cells.peek().is_some() {
            group.clear();
            group.extend(cells.by_ref().take(GROUP));
            // Each string's position if seen before the group, else its place in `strs`.
            let mut known = [None; GROUP];
            strs.clear();
            for (c, known) in group.iter().zip(&mut known) {
                if let Some(Cell::Str(s)) = c {
                    *known = seen.get(s);
                    if known.is_none() {
                        strs.push(s);
                    }
                }
            }
            found.clear();
            d.intern_group(&strs, &mut found);
            let mut found = found.iter();
            for (&c, known) in group.iter().zip(known) {
                let i = self.claim_slot();
                let Data::Keys(k) = &mut self.data else {
                    return;
                };
                match c {
                    Some(Cell::Str(s)) => {
                        *str_bytes += s.len() as u64;
                        *str_count += 1;
                        let idx = known.unwrap_or_else(|| {
                            // push_rows widened the keys for the run's worst case.
                            let idx = i64::from(found.next().copied().flatten().unwrap_or(0));
                            seen.put(s, idx);
                            idx
                        });
                        k.push(idx);
                    }
                    Some(Cell::Null) | None => {
                        k.push(0);
                        self.set_flags(i, false, c.is_none());
                    }
                    Some(_) => {
                        // layout_for() sends other values to other layouts.
                        k.push(0);
                        unreachable_cell();
                    }
                }
            }
        }
    }

    /// Appends row `i` of `src`, another chunk of this column, in the form `src` stores
    /// it: no conversion and no dictionary lookup (the chunks of a column share its
    /// dictionary and read their bytes by its layout). False, with nothing appended,
    /// when `src` stores its values in another form (its data predates a change of the
    /// column's layout): the caller then pushes the value.
    pub(crate) fn push_stored(&mut self, meta: &mut ColMeta, src: &ColChunk, i: usize) -> bool {
        if let (Data::Int(d), Data::Int(s)) | (Data::Keys(d), Data::Keys(s)) =
            (&mut self.data, &src.data)
        {
            if d.width() < s.width() {
                *d = d.widened(s.width());
            }
        }
        if !self.same_form(src) {
            return false;
        }
        self.gather_run(meta, src, std::iter::once(i));
        true
    }

    /// [`ColChunk::push_stored`] of row `i` of `src(c)` for every `(c, i)` of `at`, one
    /// typed loop per run of rows from one source instead of a match per value.
    /// `false`, with nothing appended, if some source stores its values in another form
    /// than this chunk (or in wider ints): the caller then pushes them one by one.
    pub(crate) fn gather<'s>(
        &mut self,
        meta: &mut ColMeta,
        src: impl Fn(usize) -> &'s ColChunk,
        at: &[(usize, usize)],
    ) -> bool {
        let runs = || at.chunk_by(|a, b| a.0 == b.0);
        if !runs().all(|run| self.same_form(src(run[0].0))) {
            return false;
        }
        for run in runs() {
            self.gather_run(meta, src(run[0].0), run.iter().map(|&(_, i)| i));
        }
        true
    }

    /// Whether [`ColChunk::push_stored`] takes `src`'s values as they are stored.
    fn same_form(&self, src: &ColChunk) -> bool {
        match (&self.data, &src.data) {
            (Data::Null, Data::Null)
            | (Data::Bool(_), Data::Bool(_))
            | (Data::Float(..), Data::Float(..))
            | (Data::Var(_), Data::Var(_)) => true,
            (Data::Int(d), Data::Int(s)) | (Data::Keys(d), Data::Keys(s)) => s.width() <= d.width(),
            _ => false,
        }
    }

    /// Appends rows `rows` of `src`, which [`ColChunk::same_form`] accepted.
    fn gather_run(
        &mut self,
        meta: &mut ColMeta,
        src: &ColChunk,
        rows: impl ExactSizeIterator<Item = usize> + Clone,
    ) {
        let (n, start) = (rows.len(), self.len);
        let valid = |i: usize| src.valid.as_ref().is_none_or(|v| v.get(i));
        match (&mut self.data, &src.data) {
            (Data::Bool(d), Data::Bool(s)) => {
                d.room(n, n);
                rows.clone().for_each(|i| d.push(s.get(i)));
            }
            (Data::Int(d), Data::Int(s)) => d.extend(rows.clone().map(|i| s.get(i))),
            (Data::Keys(d), Data::Keys(s)) => {
                d.extend(rows.clone().map(|i| s.get(i)));
                let ColMeta {
                    dict,
                    str_bytes,
                    str_count,
                    ..
                } = meta;
                if let Some(dict) = dict {
                    for i in rows.clone().filter(|&i| valid(i)) {
                        *str_bytes += dict.bytes_at(s.get(i) as u32).len() as u64;
                        *str_count += 1;
                    }
                }
            }
            (Data::Float(d, dm), Data::Float(s, sm)) => {
                d.grow(n).extend(rows.clone().map(|i| s[i]));
                if let Some(sm) = sm {
                    if dm.is_none() && rows.clone().any(|i| sm.get(i)) {
                        *dm = Some(Bitmap::filled(start, false));
                    }
                }
                if let Some(m) = dm {
                    m.room(n, n);
                    rows.clone()
                        .for_each(|i| m.push(sm.as_ref().is_some_and(|sm| sm.get(i))));
                }
            }
            (Data::Var(d), Data::Var(s)) => {
                let total = rows.clone().map(|i| s.get(i).len()).sum();
                d.room((n, n), (total, total));
                let plain = meta.layout == Layout::StrPlain;
                for i in rows.clone() {
                    let b = s.get(i);
                    d.push(b);
                    if plain && valid(i) {
                        meta.str_bytes += b.len() as u64;
                        meta.str_count += 1;
                    }
                }
            }
            // `Null`, the only other form `same_form` accepts, stores nothing.
            _ => {}
        }
        self.len += n;
        for (mine, theirs, dflt) in [
            (&mut self.valid, &src.valid, true),
            (&mut self.absent, &src.absent, false),
        ] {
            if let Some(t) = theirs {
                if mine.is_none() && rows.clone().any(|i| t.get(i) != dflt) {
                    *mine = Some(Bitmap::filled(start, dflt));
                }
            }
            if let Some(m) = mine {
                m.room(n, n);
                rows.clone()
                    .for_each(|i| m.push(theirs.as_ref().map_or(dflt, |t| t.get(i))));
            }
        }
    }

    /// Bytes of row `i`'s value held in the variable-length buffer (0 for other data).
    pub(crate) fn stored_bytes(&self, i: usize) -> usize {
        match &self.data {
            Data::Var(v) => v.get(i).len(),
            _ => 0,
        }
    }

    /// Writes `cell` (or absence) at row `i`; the layout already fits it.
    pub(crate) fn write(&mut self, i: usize, meta: &mut ColMeta, cell: Option<&Cell<'_>>) {
        let Some(cell) = cell else {
            self.set_flags(i, false, true);
            return;
        };
        if let Cell::Null = cell {
            self.set_flags(i, false, false);
            return;
        }
        if self.valid.is_some() || self.absent.is_some() {
            self.set_flags(i, true, false);
        }
        let layout = meta.layout;
        match (&mut self.data, cell) {
            (Data::Bool(b), Cell::Bool(x)) => b.set(i, *x),
            (Data::Int(v), Cell::Int(x)) => v.set(i, *x),
            (Data::Float(v, marks), Cell::Float(x)) => {
                v.make_mut()[i] = *x;
                if let Some(m) = marks {
                    m.set(i, false);
                }
            }
            (Data::Float(v, marks), Cell::Int(x)) => {
                v.make_mut()[i] = *x as f64;
                let len = v.len();
                marks
                    .get_or_insert_with(|| Bitmap::filled(len, false))
                    .set(i, true);
            }
            (Data::Keys(k), Cell::Str(s)) => k.set(i, intern_key(meta, s)),
            (Data::Var(v), c) => match (layout, c) {
                (Layout::StrPlain, Cell::Str(s)) => {
                    meta.str_bytes += s.len() as u64;
                    meta.str_count += 1;
                    v.set(i, s.as_bytes())
                }
                (Layout::Bytes, Cell::Bytes(b)) => v.set(i, b),
                (_, Cell::Encoded(b)) => v.set(i, b),
                (_, c) => {
                    let mut buf = Vec::new();
                    encode_cell(c, &mut buf);
                    v.set(i, &buf);
                }
            },
            _ => unreachable_cell(),
        }
    }

    /// Inserts a row at `i` holding `cell` (or absence).
    pub(crate) fn insert(&mut self, i: usize, meta: &mut ColMeta, cell: Option<&Cell<'_>>) {
        if let Some(v) = &mut self.valid {
            v.insert(i, true);
        }
        if let Some(a) = &mut self.absent {
            a.insert(i, false);
        }
        match &mut self.data {
            Data::Null => {}
            Data::Bool(b) => b.insert(i, false),
            Data::Int(v) | Data::Keys(v) => v.insert(i, 0),
            Data::Float(v, marks) => {
                v.grow(1).insert(i, 0.0);
                if let Some(m) = marks {
                    m.insert(i, false);
                }
            }
            Data::Var(v) => v.insert(i, &[]),
        }
        self.len += 1;
        self.write(i, meta, cell);
    }

    pub(crate) fn remove(&mut self, i: usize) {
        if let Some(v) = &mut self.valid {
            v.remove(i);
        }
        if let Some(a) = &mut self.absent {
            a.remove(i);
        }
        match &mut self.data {
            Data::Null => {}
            Data::Bool(b) => b.remove(i),
            Data::Int(v) | Data::Keys(v) => v.remove(i),
            Data::Float(v, marks) => {
                v.make_mut().remove(i);
                if let Some(m) = marks {
                    m.remove(i);
                }
            }
            Data::Var(v) => v.remove(i),
        }
        self.len -= 1;
    }

    pub(crate) fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        if let Some(v) = &mut self.valid {
            v.truncate(n);
        }
        if let Some(a) = &mut self.absent {
            a.truncate(n);
        }
        match &mut self.data {
            Data::Null => {}
            Data::Bool(b) => b.truncate(n),
            Data::Int(v) | Data::Keys(v) => v.truncate(n),
            Data::Float(v, marks) => {
                v.truncate(n);
                if let Some(m) = marks {
                    m.truncate(n);
                }
            }
            Data::Var(v) => v.truncate(n),
        }
        self.len = n;
    }

    /// Copy of rows `[off, off + len)`.
    pub(crate) fn slice(&self, off: usize, len: usize) -> ColChunk {
        let data = match &self.data {
            Data::Null => Data::Null,
            Data::Bool(b) => Data::Bool(b.slice(off, len)),
            Data::Int(v) => Data::Int(v.slice(off, len)),
            Data::Keys(v) => Data::Keys(v.slice(off, len)),
            Data::Float(v, marks) => Data::Float(
                v[off..off + len].to_vec().into(),
                marks.as_ref().map(|m| m.slice(off, len)),
            ),
            Data::Var(v) => Data::Var(v.slice(off, len)),
        };
        ColChunk {
            len,
            data,
            valid: self.valid.as_ref().map(|b| b.slice(off, len)),
            absent: self.absent.as_ref().map(|b| b.slice(off, len)),
        }
    }

    /// Copy of rows `[off, off + len)` in reverse order, in the form they are stored.
    pub(crate) fn reversed(&self, off: usize, len: usize) -> ColChunk {
        let bits = |b: &Bitmap| b.reversed(off, len);
        let data = match &self.data {
            Data::Null => Data::Null,
            Data::Bool(b) => Data::Bool(bits(b)),
            Data::Int(v) => Data::Int(v.reversed(off, len)),
            Data::Keys(v) => Data::Keys(v.reversed(off, len)),
            Data::Float(v, marks) => Data::Float(v.reversed(off, len), marks.as_ref().map(bits)),
            Data::Var(v) => Data::Var(v.reversed(off, len)),
        };
        ColChunk {
            len,
            data,
            valid: self.valid.as_ref().map(bits),
            absent: self.absent.as_ref().map(bits),
        }
    }

    /// Re-packs integer keys or values at width `w` (which holds every value stored).
    pub(crate) fn set_int_width(&mut self, w: Width) {
        match &mut self.data {
            Data::Int(v) | Data::Keys(v) if v.width() != w => *v = v.widened(w),
            _ => {}
        }
    }

    /// Calls `f` with the memory the chunk `cc` keeps alive: each buffer of its values
    /// (a string column's text and offsets) under its address, and the rest under the
    /// chunk's. A list restored in this process from another's pickle snapshot
    /// (protocol 5, out of band) reads that list's value buffers in place, in chunks of
    /// its own: keyed by address, they are one allocation in both, as in memory, while
    /// each chunk's own bitmaps still count.
    pub(crate) fn buffers(cc: &Arc<ColChunk>, f: &mut impl FnMut(crate::process::Buffer)) {
        let shared = Arc::strong_count(cc) > 1;
        let mut values = 0;
        cc.value_buffers(|id, bytes| {
            values += bytes;
            f(crate::process::Buffer { id, bytes, shared });
        });
        f(crate::process::Buffer::of(
            cc,
            cc.heap_bytes().saturating_sub(values),
        ));
    }

    /// `f(address, heap bytes)` of each buffer of values that is not empty: the buffers
    /// a pickle snapshot hands over as they are.
    fn value_buffers(&self, mut f: impl FnMut(usize, usize)) {
        match &self.data {
            Data::Int(v) | Data::Keys(v) => {
                if let Some(addr) = v.values_addr() {
                    f(addr, v.heap_bytes());
                }
            }
            Data::Float(v, _) => {
                if !v.is_empty() {
                    f(v.as_ptr() as usize, v.heap_bytes());
                }
            }
            Data::Var(v) => v.value_buffers(f),
            Data::Null | Data::Bool(_) => {}
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let data = match &self.data {
            Data::Null => 0,
            Data::Bool(b) => b.heap_bytes(),
            Data::Int(v) | Data::Keys(v) => v.heap_bytes(),
            Data::Float(v, m) => v.heap_bytes() + m.as_ref().map_or(0, Bitmap::heap_bytes),
            Data::Var(v) => v.heap_bytes(),
        };
        data + self.valid.as_ref().map_or(0, Bitmap::heap_bytes)
            + self.absent.as_ref().map_or(0, Bitmap::heap_bytes)
            + std::mem::size_of::<Self>()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        match &mut self.data {
            Data::Null => {}
            Data::Bool(b) => b.shrink_to_fit(),
            Data::Int(v) | Data::Keys(v) => v.shrink_to_fit(),
            Data::Float(v, m) => {
                v.shrink_to_fit();
                if let Some(m) = m {
                    m.shrink_to_fit();
                }
            }
            Data::Var(v) => v.shrink_to_fit(),
        }
        if let Some(b) = &mut self.valid {
            b.shrink_to_fit();
        }
        if let Some(b) = &mut self.absent {
            b.shrink_to_fit();
        }
    }

    /// Drops bitmaps that say nothing (all valid / none absent).
    pub(crate) fn tidy(&mut self) {
        if self.absent.as_ref().is_some_and(|a| a.all(false)) {
            self.absent = None;
        }
        if self.valid.as_ref().is_some_and(|v| v.all(true)) {
            self.valid = None;
        }
        if let Data::Float(_, marks) = &mut self.data {
            if marks.as_ref().is_some_and(|m| m.all(false)) {
                *marks = None;
            }
        }
    }

    /// Bytes of variable-length data this chunk holds (to bound chunk size).
    pub(crate) fn var_bytes(&self) -> usize {
        match &self.data {
            Data::Var(v) => v.data_len(),
            _ => 0,
        }
    }

    pub(crate) fn compact(&mut self) {
        if let Data::Var(v) = &mut self.data {
            v.compact();
        }
    }
}

/// Dictionary positions of strings met earlier in one append, by address.
///
/// Records built from a small vocabulary of shared string objects hand over the same
/// `&str` (same address, same length) again and again. During one append every cell is
/// borrowed for the whole call, so two cells with the same address and length hold the
/// same text, and the position found for the first is reused for the others without
/// hashing or comparing. A cache lives for one append only: that is what makes an
/// address a safe key.
pub(crate) struct SeenStrs {
    /// `(address, length, position)`; address 0 marks an empty slot (a `&str` never
    /// has address 0).
    slots: [(usize, usize, i64); SeenStrs::SLOTS],
}

impl SeenStrs {
    const SLOTS: usize = 64;

    pub(crate) fn new() -> Self {
        SeenStrs {
            slots: [(0, 0, 0); SeenStrs::SLOTS],
        }
    }

    #[inline]
    fn slot(s: &str) -> usize {
        let p = s.as_ptr() as usize;
        ((p >> 4) ^ (p >> 11)) & (SeenStrs::SLOTS - 1)
    }

    #[inline]
    fn get(&self, s: &str) -> Option<i64> {
        let (p, n, idx) = self.slots[Self::slot(s)];
        (p == s.as_ptr() as usize && n == s.len()).then_some(idx)
    }

    #[inline]
    fn put(&mut self, s: &str, idx: i64) {
        self.slots[Self::slot(s)] = (s.as_ptr() as usize, s.len(), idx);
    }
}

impl ColMeta {
    /// Adds the strings of `cells` to this column's dictionary (their keys are written
    /// later) and returns its length after: the key width a run needs, where counting
    /// every string as new overstates it. Stops early once the length passes `enough`
    /// (the caller's answer is known by then). The byte and string counts are left to
    /// the pushes.
    pub(crate) fn intern_run<'c, 'd: 'c>(
        &mut self,
        cells: impl Iterator<Item = Option<&'c Cell<'d>>>,
        enough: usize,
    ) -> usize {
        let mut seen = SeenStrs::new();
        let dict = self.dict.get_or_insert_with(Default::default);
        for c in cells {
            if let Some(Cell::Str(s)) = c {
                if seen.get(s).is_none() {
                    seen.put(s, i64::from(intern_shared(dict, s)));
                    if dict.len() > enough {
                        break;
                    }
                }
            }
        }
        dict.len()
    }
}

impl ColMeta {
    /// The dictionary positions of `strs` (a run of a dictionary column), appended to
    /// `out`, each string interned if new: row `r` marked by `marks[r]` (no marks:
    /// every row holds its string), a null or absent row's position 0. Each distinct
    /// short string of the run is looked up in the dictionary once ([`ShortStrs`]);
    /// the others a group at a time ([`StrDict::intern_group`]). The byte and string
    /// counts are left to the push.
    pub(crate) fn intern_strs(&mut self, strs: &[&str], marks: &[Mark], out: &mut Vec<u32>) {
        // Placeholders in `out` while a group's new strings are looked up (a dictionary
        // holds fewer entries than its text's `i32` bytes, so no position is either).
        const MISSED: u32 = u32::MAX;
        const AS_MISSED_BEFORE: u32 = u32::MAX - 1;
        let dict = self.dict.get_or_insert_with(Default::default);
        let mut known = ShortStrs::new(strs.len());
        let mut missed: Vec<&str> = Vec::with_capacity(GROUP);
        let mut found = Vec::with_capacity(GROUP);
        out.reserve(strs.len());
        for (g, group) in strs.chunks(GROUP).enumerate() {
            let from = out.len();
            missed.clear();
            for (i, s) in group.iter().enumerate() {
                let valued = marks.get(g * GROUP + i).is_none_or(|&m| m == Mark::Value);
                match valued.then(|| known.get(s)) {
                    Some(Some(idx)) => out.push(idx),
                    // A new string repeated row after row (a sorted column, a
                    // timestamp's hour) is looked up once: the later rows take the
                    // first one's position.
                    Some(None)
                        if missed
                            .last()
                            .is_some_and(|m| same_bytes(m.as_bytes(), s.as_bytes())) =>
                    {
                        out.push(AS_MISSED_BEFORE);
                    }
                    Some(None) => {
                        out.push(MISSED);
                        missed.push(s);
                    }
                    None => out.push(0),
                }
            }
            if missed.is_empty() {
                continue;
            }
            found.clear();
            match crate::cow::get_mut(dict) {
                Some(own) => own.intern_group(&missed, &mut found),
                None => found.extend(missed.iter().map(|s| Some(intern_shared(dict, s)))),
            }
            let mut found = found.iter();
            let mut last = 0;
            for (slot, s) in out[from..].iter_mut().zip(group) {
                match *slot {
                    MISSED => {
                        // Past the dictionary's text limit (which the caller kept the
                        // run within) a string would read as entry 0, as `push` leaves it.
                        *slot = found.next().copied().flatten().unwrap_or(0);
                        last = *slot;
                        known.put(s, *slot);
                    }
                    AS_MISSED_BEFORE => *slot = last,
                    _ => {}
                }
            }
        }
    }
}

/// Dictionary positions of the strings of up to 24 bytes met in one run, by content:
/// a string read from a file is a new `&str` each time (unlike [`SeenStrs`], whose
/// key is the address), and most of a column's repeat. A string is kept as its length
/// and three words that hold all its bytes, so that equal keys are equal strings; a
/// slot holds the last string that fell in it.
struct ShortStrs {
    /// `(words, length, position)`; length `u32::MAX` marks an empty slot.
    slots: Vec<([u64; 3], u32, u32)>,
    shift: u32,
}

impl ShortStrs {
    /// A cache for a run of `rows` strings.
    fn new(rows: usize) -> Self {
        let n = rows.next_power_of_two().clamp(64, 4_096);
        ShortStrs {
            slots: vec![([0; 3], u32::MAX, 0); n],
            shift: 64 - n.trailing_zeros(),
        }
    }

    /// The key of `s`: its bytes in three words (`None` past 24 bytes).
    #[inline]
    fn key(s: &str) -> Option<[u64; 3]> {
        let b = s.as_bytes();
        let n = b.len();
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                b[at..at + 4].try_into().unwrap_or([0; 4]),
            ))
        };
        Some(match n {
            0 => [0; 3],
            // Bytes 0, n/2 and n-1 are every byte of a string this short.
            1..=3 => [
                u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
                0,
                0,
            ],
            4..=7 => [half(0) | half(n - 4) << 32, 0, 0],
            8..=16 => [word(0), word(n - 8), 0],
            17..=24 => [word(0), word(8), word(n - 8)],
            _ => return None,
        })
    }

    #[inline]
    fn slot(&self, w: &[u64; 3], n: usize) -> usize {
        let h = (w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42) ^ n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> self.shift) as usize
    }

    #[inline]
    fn get(&self, s: &str) -> Option<u32> {
        let w = Self::key(s)?;
        let (kw, kn, idx) = self.slots[self.slot(&w, s.len())];
        (kn as usize == s.len() && kw == w).then_some(idx)
    }

    #[inline]
    fn put(&mut self, s: &str, idx: u32) {
        if let Some(w) = Self::key(s) {
            let at = self.slot(&w, s.len());
            self.slots[at] = (w, s.len() as u32, idx);
        }
    }
}

/// Dictionary position of `s` in the column's dictionary, adding it if new.
#[inline]
fn intern_key(meta: &mut ColMeta, s: &str) -> i64 {
    meta.str_bytes += s.len() as u64;
    meta.str_count += 1;
    // layout_for / push_planned widened the keys if the dictionary was full.
    i64::from(intern_shared(
        meta.dict.get_or_insert_with(Default::default),
        s,
    ))
}

/// Position of `s` in `dict`, adding it if new. A dictionary shared with an export or a
/// copy is copied only for a new string.
fn intern_shared(dict: &mut Arc<StrDict>, s: &str) -> u32 {
    match crate::cow::get_mut(dict) {
        Some(own) => own.intern(s).unwrap_or(0),
        None => match dict.find(s) {
            Some(i) => i,
            None => crate::cow::make_mut(dict).intern(s).unwrap_or(0),
        },
    }
}

#[cold]
fn unreachable_cell() {
    // layout_for() guarantees the layout fits the cell; reaching here is a bug in this
    // crate, not caller input. Do nothing rather than panic: the slot keeps its placeholder.
    debug_assert!(false, "cell does not fit the column layout");
}
