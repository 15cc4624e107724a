//! JSON text exactly as Python's `json.dumps` writes it, from records, columns, cells and
//! variant values.
//!
//! One writer serves both `memslim.dumps` (through the Python bindings, which feed it the
//! plain Python parts of a structure) and the JSON Lines sink of `memslim-stream`, so the
//! two can never disagree about a float, an escape or a separator.
//!
//! ```
//! use memslim_records::json::{JsonFormat, JsonWriter, RecordShape};
//! use memslim_records::{Cell, RecordList};
//!
//! let mut rows = RecordList::new();
//! rows.push_record(&[("id", Cell::Int(1)), ("price", Cell::Float(1e16))])?;
//! rows.push_record(&[("id", Cell::Int(2)), ("name", Cell::Str("é"))])?;
//! let fmt = JsonFormat::default();
//! let mut w = JsonWriter::new(&fmt);
//! w.records(&rows, 0..rows.len(), RecordShape::Object).unwrap();
//! assert_eq!(
//!     w.as_bytes(),
//!     br#"[{"id": 1, "price": 1e+16}, {"id": 2, "name": "\u00e9"}]"#
//! );
//! # Ok::<(), memslim_records::RecordsError>(())
//! ```

use std::ops::Range;

use crate::column::{ColChunk, ColMeta, Data, Layout};
use crate::intvec::IntVec;
use crate::variant::{self, Value};
use crate::{CellRef, ColumnView, RecordList};

/// The `json.dumps` keyword arguments that change the text.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonFormat {
    /// Escape every character outside printable ASCII as `\uXXXX` (`json.dumps`'s default).
    pub ensure_ascii: bool,
    /// Write `NaN`, `Infinity`, `-Infinity`; when false they are an error.
    pub allow_nan: bool,
    /// Write the keys of every object in sorted order.
    pub sort_keys: bool,
    /// Leave out dict entries whose key is not a str, int, float, bool or None.
    pub skipkeys: bool,
    /// One level of indentation; `None` writes everything on one line.
    pub indent: Option<String>,
    /// Between items of arrays and objects.
    pub item_separator: String,
    /// Between a key and its value.
    pub key_separator: String,
    /// Ints with more decimal digits are an error (Python's `sys.get_int_max_str_digits()`;
    /// 0 means no limit).
    pub int_max_str_digits: usize,
}

impl Default for JsonFormat {
    /// `json.dumps`'s defaults.
    fn default() -> Self {
        JsonFormat {
            ensure_ascii: true,
            allow_nan: true,
            sort_keys: false,
            skipkeys: false,
            indent: None,
            item_separator: ", ".into(),
            key_separator: ": ".into(),
            int_max_str_digits: 0,
        }
    }
}

impl JsonFormat {
    /// The format of the JSON Lines sink: `json.dumps(record, ensure_ascii=False)`.
    pub fn jsonl() -> Self {
        JsonFormat {
            ensure_ascii: false,
            ..JsonFormat::default()
        }
    }

    /// Separators as `json.dumps` chooses them: the given pair, else `(", ", ": ")`
    /// without indentation and `(",", ": ")` with it.
    pub fn with_separators(mut self, separators: Option<(String, String)>) -> Self {
        match separators {
            Some((item, key)) => {
                self.item_separator = item;
                self.key_separator = key;
            }
            None => {
                self.item_separator = if self.indent.is_some() { "," } else { ", " }.into();
                self.key_separator = ": ".into();
            }
        }
        self
    }
}

/// A value the format cannot write. The Python bindings answer each of these by handing
/// the whole object to Python's own `json`, which raises its exact error (or, for an
/// unsortable mix of keys, sorts them as Python does).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JsonError {
    /// NaN or an infinity with `allow_nan` false.
    #[error("Out of range float values are not JSON compliant")]
    OutOfRange,
    /// A value JSON has no form for (`bytes`, a date, a `Decimal`...), named by its
    /// Python type, in `json.dumps`'s words.
    #[error("Object of type {0} is not JSON serializable")]
    NoJsonForm(&'static str),
    /// A dict key that is not a str, int, float, bool or None (and `skipkeys` is false).
    #[error("keys must be str, int, float, bool or None, not {0}")]
    BadKey(&'static str),
    /// A value the host serialized itself (a pickled Python object, opaque here), as a
    /// value or (`key`) as a dict key. Only the host can say what it is: a `set`, an
    /// object of its own class, a `str` holding a lone surrogate (which has no UTF-8
    /// form)...
    #[error("{}", if *key {
        "keys must be str, int, float, bool or None, not a pickled object"
    } else {
        "a pickled object has no JSON form"
    })]
    Pickled {
        /// The object is a dict key.
        key: bool,
    },
    /// `sort_keys` over keys that are not all strings (Python compares them itself).
    #[error("sort_keys over keys that are not all str")]
    Unsortable,
    /// An int longer than `int_max_str_digits`.
    #[error("an int of {0} digits exceeds the limit for integer string conversion")]
    IntTooLong(usize),
    /// A stored value that does not decode.
    #[error("malformed stored value: {0}")]
    Decode(String),
    /// Where in a record list the error happened.
    #[error("row {row}, field {field:?}: {source}")]
    InField {
        /// Record index.
        row: usize,
        /// Field name.
        field: String,
        /// What went wrong.
        source: Box<JsonError>,
    },
}

/// How records are written: `DictList` records as objects, `TupleList` records as arrays
/// of their fields in field order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordShape {
    /// `{"key": value, ...}` with the record's own keys, in its key order.
    Object,
    /// `[value, ...]` with every field in field order (absent as `null`).
    Array,
}

/// The escaped key text of each field of a list, and the fields' sorted order.
#[derive(Clone, Debug)]
pub struct RecordKeys {
    names: Vec<Vec<u8>>,
    /// Rank of field `j` among the fields sorted by name (only with `sort_keys`).
    rank: Option<Vec<usize>>,
}

impl RecordKeys {
    /// Prepares the keys of `list`'s fields for `fmt`.
    ///
    /// # Memory
    /// One escaped copy of every field name.
    pub fn new(list: &RecordList, fmt: &JsonFormat) -> Self {
        let n = list.num_fields();
        let names = (0..n)
            .map(|j| {
                let mut b = Vec::new();
                push_str(&mut b, list.field_name(j), fmt.ensure_ascii);
                b
            })
            .collect();
        let rank = fmt.sort_keys.then(|| {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| list.field_name(a).cmp(list.field_name(b)));
            let mut rank = vec![0; n];
            for (r, j) in order.into_iter().enumerate() {
                rank[j] = r;
            }
            rank
        });
        RecordKeys { names, rank }
    }
}

/// Writes JSON text into a growing buffer, tracking nesting for indentation.
///
/// Arrays: [`JsonWriter::begin_array`], then [`JsonWriter::item`] before each element,
/// then [`JsonWriter::end_array`]. Objects: [`JsonWriter::begin_object`], then
/// [`JsonWriter::key`] before each value, then [`JsonWriter::end_object`].
///
/// # Memory
/// The text written so far; [`JsonWriter::take`] hands it out in pieces.
pub struct JsonWriter<'f> {
    fmt: &'f JsonFormat,
    out: Vec<u8>,
    /// Per open container: whether it is still empty.
    open: Vec<bool>,
    scratch: Vec<(usize, usize)>,
}

impl<'f> JsonWriter<'f> {
    /// A writer with an empty buffer.
    pub fn new(fmt: &'f JsonFormat) -> Self {
        Self::with_buffer(fmt, Vec::new())
    }

    /// A writer that appends to `out` (cleared first), to reuse its allocation.
    pub fn with_buffer(fmt: &'f JsonFormat, mut out: Vec<u8>) -> Self {
        out.clear();
        JsonWriter {
            fmt,
            out,
            open: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The format in use.
    pub fn format(&self) -> &'f JsonFormat {
        self.fmt
    }

    /// The text written so far (and not yet taken).
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }

    /// Removes and returns the text written so far; nesting state is kept, so writing
    /// continues where it left off.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Drops text written after byte `len` (to undo a partly written value).
    pub fn truncate(&mut self, len: usize) {
        self.out.truncate(len);
    }

    /// Appends raw bytes (already valid JSON text, or a line break between documents).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The text, consuming the writer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// `null`.
    pub fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    /// `true` / `false`.
    pub fn bool(&mut self, b: bool) {
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
    }

    /// An integer.
    pub fn int(&mut self, i: i64) {
        push_int(&mut self.out, i);
    }

    /// An integer beyond 64 bits, from its two's-complement little-endian bytes.
    ///
    /// # Errors
    /// [`JsonError::IntTooLong`] past the format's digit limit.
    pub fn big_int(&mut self, le: &[u8]) -> Result<(), JsonError> {
        let s = le_to_decimal(le);
        self.check_digits(s.trim_start_matches('-').len())?;
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// Checks an int of `digits` decimal digits against the format's limit.
    ///
    /// # Errors
    /// [`JsonError::IntTooLong`].
    pub fn check_digits(&self, digits: usize) -> Result<(), JsonError> {
        let max = self.fmt.int_max_str_digits;
        if max != 0 && digits > max {
            return Err(JsonError::IntTooLong(digits));
        }
        Ok(())
    }

    /// A float as Python's `repr`; `NaN`, `Infinity`, `-Infinity` for the rest.
    ///
    /// # Errors
    /// [`JsonError::OutOfRange`] for those three when `allow_nan` is false.
    pub fn float(&mut self, f: f64) -> Result<(), JsonError> {
        if !f.is_finite() && !self.fmt.allow_nan {
            return Err(JsonError::OutOfRange);
        }
        push_float(&mut self.out, f);
        Ok(())
    }

    /// A string.
    pub fn str(&mut self, s: &str) {
        push_str(&mut self.out, s, self.fmt.ensure_ascii);
    }

    /// Opens an array.
    pub fn begin_array(&mut self) {
        self.out.push(b'[');
        self.open.push(true);
    }

    /// Opens an object.
    pub fn begin_object(&mut self) {
        self.out.push(b'{');
        self.open.push(true);
    }

    /// Closes the innermost array.
    pub fn end_array(&mut self) {
        self.end(b']');
    }

    /// Closes the innermost object.
    pub fn end_object(&mut self) {
        self.end(b'}');
    }

    fn end(&mut self, close: u8) {
        let empty = self.open.pop().unwrap_or(true);
        if !empty && self.fmt.indent.is_some() {
            self.newline();
        }
        self.out.push(close);
    }

    fn newline(&mut self) {
        self.out.push(b'\n');
        if let Some(ind) = &self.fmt.indent {
            for _ in 0..self.open.len() {
                self.out.extend_from_slice(ind.as_bytes());
            }
        }
    }

    /// Starts the next element of the innermost array (or entry of an object).
    #[inline]
    pub fn item(&mut self) {
        if let Some(empty) = self.open.last_mut() {
            if *empty {
                *empty = false;
            } else {
                self.out
                    .extend_from_slice(self.fmt.item_separator.as_bytes());
            }
        }
        if self.fmt.indent.is_some() {
            self.newline();
        }
    }

    /// Starts the next entry of the innermost object with key `k`.
    pub fn key(&mut self, k: &str) {
        self.item();
        self.str(k);
        self.out
            .extend_from_slice(self.fmt.key_separator.as_bytes());
    }

    /// Like [`JsonWriter::key`] with the key's escaped text (quotes included).
    #[inline]
    pub fn escaped_key(&mut self, k: &[u8]) {
        self.item();
        self.out.extend_from_slice(k);
        self.out
            .extend_from_slice(self.fmt.key_separator.as_bytes());
    }

    /// One stored cell; [`CellRef::Absent`] as `null` (as a column reads it).
    #[inline]
    ///
    /// # Errors
    /// Bytes and pickled objects have no JSON form; the format's own limits.
    pub fn cell(&mut self, c: CellRef<'_>) -> Result<(), JsonError> {
        match c {
            CellRef::Absent | CellRef::Null => self.null(),
            CellRef::Bool(b) => self.bool(b),
            CellRef::Int(i) => self.int(i),
            CellRef::Float(f) => self.float(f)?,
            CellRef::Str(s) | CellRef::DictStr(_, s) => self.str(s),
            CellRef::Bytes(_) => return Err(JsonError::NoJsonForm("bytes")),
            CellRef::Encoded(b) => {
                let v = variant::decode(b).map_err(|e| JsonError::Decode(e.to_string()))?;
                self.value(&v)?;
            }
        }
        Ok(())
    }

    /// A variant value: lists and tuples as arrays, dicts as objects with their keys
    /// converted as `json.dumps` converts them.
    ///
    /// # Errors
    /// Bytes and pickled objects; keys of other types unless `skipkeys`; `sort_keys`
    /// over keys that are not all strings; the format's own limits.
    pub fn value(&mut self, v: &Value) -> Result<(), JsonError> {
        match v {
            Value::None => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i),
            Value::BigInt(le) => self.big_int(le)?,
            Value::Float(f) => self.float(*f)?,
            Value::Str(s) => self.str(s),
            Value::List(items) | Value::Tuple(items) => {
                self.begin_array();
                for it in items {
                    self.item();
                    self.value(it)?;
                }
                self.end_array();
            }
            Value::Dict(items) => self.dict(items)?,
            Value::Bytes(_) => return Err(JsonError::NoJsonForm("bytes")),
            // A datetime, Decimal, UUID or complex: json.dumps has no form for them either.
            Value::Ext(e) => return Err(JsonError::NoJsonForm(e.type_name())),
            Value::Opaque(_) => return Err(JsonError::Pickled { key: false }),
            // Whatever kinds the encoding gains later.
            #[allow(unreachable_patterns)]
            _ => return Err(JsonError::NoJsonForm("object")),
        }
        Ok(())
    }

    fn dict(&mut self, items: &[(Value, Value)]) -> Result<(), JsonError> {
        let mut order: Vec<&(Value, Value)> = items.iter().collect();
        if self.fmt.sort_keys {
            if !items.iter().all(|(k, _)| matches!(k, Value::Str(_))) {
                return Err(JsonError::Unsortable);
            }
            order.sort_by(|(a, _), (b, _)| match (a, b) {
                (Value::Str(a), Value::Str(b)) => a.cmp(b),
                _ => std::cmp::Ordering::Equal,
            });
        }
        self.begin_object();
        for (k, v) in order {
            let key = match k {
                Value::Str(s) => {
                    self.key(s);
                    self.value(v)?;
                    continue;
                }
                Value::None => "null".to_owned(),
                Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
                Value::Int(i) => i.to_string(),
                Value::BigInt(le) => {
                    let s = le_to_decimal(le);
                    self.check_digits(s.trim_start_matches('-').len())?;
                    s
                }
                Value::Float(f) => {
                    if !f.is_finite() && !self.fmt.allow_nan {
                        return Err(JsonError::OutOfRange);
                    }
                    let mut b = Vec::new();
                    push_float(&mut b, *f);
                    String::from_utf8(b).unwrap_or_default()
                }
                _ if self.fmt.skipkeys => continue,
                Value::Tuple(_) => return Err(JsonError::BadKey("tuple")),
                Value::Bytes(_) => return Err(JsonError::BadKey("bytes")),
                Value::Ext(e) => return Err(JsonError::BadKey(e.type_name())),
                Value::Opaque(_) => return Err(JsonError::Pickled { key: true }),
                _ => return Err(JsonError::BadKey("object")),
            };
            self.key(&key);
            self.value(v)?;
        }
        self.end_object();
        Ok(())
    }

    /// Record `row` of `list` as an object (its keys in its own order, or sorted) or an
    /// array.
    ///
    /// # Errors
    /// [`JsonError::InField`] naming the record and field of a value [`JsonWriter::cell`]
    /// cannot write. Text written before the error stays in the buffer.
    ///
    /// # Panics
    /// If `row >= list.len()`.
    pub fn record(
        &mut self,
        list: &RecordList,
        row: usize,
        keys: &RecordKeys,
        shape: RecordShape,
    ) -> Result<(), JsonError> {
        let in_field = |j: usize, e: JsonError| JsonError::InField {
            row,
            field: list.field_name(j).to_owned(),
            source: Box::new(e),
        };
        if shape == RecordShape::Array {
            self.begin_array();
            for j in 0..list.num_fields() {
                self.item();
                self.cell(list.get(row, j)).map_err(|e| in_field(j, e))?;
            }
            self.end_array();
            return Ok(());
        }
        self.begin_object();
        let mut err = None;
        match &keys.rank {
            None => list.visit_row(row, |j, c| {
                if err.is_none() {
                    self.escaped_key(&keys.names[j]);
                    if let Err(e) = self.cell(c) {
                        err = Some(in_field(j, e));
                    }
                }
            }),
            Some(rank) => {
                let mut present = std::mem::take(&mut self.scratch);
                present.clear();
                list.visit_row(row, |j, _| present.push((rank[j], j)));
                present.sort_unstable();
                for &(_, j) in &present {
                    self.escaped_key(&keys.names[j]);
                    if let Err(e) = self.cell(list.get(row, j)) {
                        err = Some(in_field(j, e));
                        break;
                    }
                }
                self.scratch = present;
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        self.end_object();
        Ok(())
    }

    /// Records `rows` of `list` as one array.
    ///
    /// # Errors
    /// As [`JsonWriter::record`].
    ///
    /// # Panics
    /// If `rows.end > list.len()`.
    pub fn records(
        &mut self,
        list: &RecordList,
        rows: Range<usize>,
        shape: RecordShape,
    ) -> Result<(), JsonError> {
        self.begin_array();
        let fast = shape == RecordShape::Object && self.fmt.indent.is_none() && !self.fmt.sort_keys;
        if fast {
            self.fast_records_split(list, rows)?;
        } else {
            let keys = RecordKeys::new(list, self.fmt);
            for r in rows {
                self.item();
                self.record(list, r, &keys, shape)?;
            }
        }
        self.end_array();
        Ok(())
    }

    /// [`JsonWriter::fast_records`], for long lists on two threads. The list is cut into
    /// blocks of [`BLOCK_ROWS`] records; this thread writes blocks from the front straight
    /// into its buffer, the helper thread takes blocks from the back into buffers of their
    /// own, appended at the end. When the helper gets less of the CPU (a busy machine),
    /// this thread simply takes more blocks, instead of waiting for a fixed half.
    fn fast_records_split(
        &mut self,
        list: &RecordList,
        rows: Range<usize>,
    ) -> Result<(), JsonError> {
        if rows.len() < PARALLEL_ROWS || !two_cores() {
            let mut state = FastState::new(list, self.fmt, rows.len());
            let n = rows.len();
            return self.fast_records(list, rows, &mut state, n);
        }
        let blocks = rows.len().div_ceil(BLOCK_ROWS);
        let block = |b: usize| {
            let lo = rows.start + b * BLOCK_ROWS;
            lo..rows.end.min(lo + BLOCK_ROWS)
        };
        // Blocks not taken yet: `front..back`. Block 0 is this thread's from the start:
        // the helper writes its blocks as following earlier records (`, ` first), so
        // had it taken them all while this thread waited for the CPU, the array would
        // open with a separator.
        let todo = std::sync::Mutex::new((1usize, blocks));
        let take_front = || {
            let mut t = todo
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (t.0 < t.1).then(|| {
                t.0 += 1;
                t.0 - 1
            })
        };
        let take_back = || {
            let mut t = todo
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (t.0 < t.1).then(|| {
                t.1 -= 1;
                t.1
            })
        };
        let fmt = self.fmt;
        let shared = shared_dicts(list, fmt, rows.len());
        let (mine, theirs) = std::thread::scope(|s| {
            let helper = s.spawn(|| {
                let mut state = FastState::with_shared(list, fmt, &shared);
                let mut done: Vec<Vec<u8>> = Vec::new();
                while let Some(b) = take_back() {
                    let mut w = JsonWriter::new(fmt);
                    // Inside the array, after earlier records.
                    w.open.push(false);
                    let r = block(b);
                    let n = r.len();
                    w.fast_records(list, r, &mut state, n)?;
                    done.push(w.out);
                }
                Ok::<_, JsonError>(done)
            });
            #[cfg(test)]
            if FRONT_WAITS.load(std::sync::atomic::Ordering::Relaxed) {
                // Let the helper take every block it can.
                while take_back_left(&todo) {
                    std::thread::yield_now();
                }
            }
            let mut state = FastState::with_shared(list, fmt, &shared);
            let mut mine = Ok(());
            let mut b = 0;
            loop {
                // This buffer is sized for the whole list (block 0 comes first): the
                // helper's blocks are appended to it without moving it.
                let size_rows = if b == 0 { rows.len() } else { 0 };
                if let Err(e) = self.fast_records(list, block(b), &mut state, size_rows) {
                    // Nothing more for the helper to do either.
                    let mut t = todo
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    t.1 = t.0;
                    mine = Err(e);
                    break;
                }
                match take_front() {
                    Some(next) => b = next,
                    None => break,
                }
            }
            (mine, helper.join())
        });
        mine?;
        match theirs {
            Ok(Ok(done)) => {
                // Taken from the back: the last block first.
                for text in done.iter().rev() {
                    self.out.extend_from_slice(text);
                }
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            // The writer does not panic; if it ever did, write the helper's blocks here
            // instead (all those this thread did not take).
            Err(_) => {
                let (front, _) = *todo
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut state = FastState::lazy(list, fmt);
                self.open.push(false);
                let r = self.fast_records(
                    list,
                    rows.start + front * BLOCK_ROWS..rows.end,
                    &mut state,
                    0,
                );
                self.open.pop();
                r
            }
        }
    }

    /// The common case of [`JsonWriter::records`] (objects, one line, keys in record
    /// order), read column chunk by column chunk: each key is written with its
    /// separators in one copy, and dictionary strings are escaped once per `state`. The
    /// buffer is sized for `size_rows` records from the length of the first ones (0:
    /// not sized here).
    fn fast_records(
        &mut self,
        list: &RecordList,
        rows: Range<usize>,
        state: &mut FastState,
        size_rows: usize,
    ) -> Result<(), JsonError> {
        let FastState {
            first_keys,
            rest_keys,
            dicts,
        } = state;
        let start = rows.start;
        let at_start = self.out.len();
        for ch in list.raw_chunks() {
            let lo = rows.start.max(ch.first_row);
            let hi = rows.end.min(ch.first_row + ch.len);
            if lo >= hi {
                continue;
            }
            let cols: Vec<(&ColChunk, &ColMeta)> = ch
                .cols
                .iter()
                .enumerate()
                .map(|(j, c)| (c.as_ref(), list.col_meta(j)))
                .collect();
            // Dictionary columns too large for the cache, whose slots are read in random
            // order: their slot for a record a few rows ahead is fetched early.
            let ahead: Vec<(usize, &IntVec)> = cols
                .iter()
                .enumerate()
                .filter_map(|(j, (cc, meta))| match &cc.data {
                    Data::Keys(k) if meta.dict().len() >= PREFETCH_DICT_LEN => Some((j, k)),
                    _ => None,
                })
                .collect();
            for &(j, _) in &ahead {
                dicts.presize(j, list.col_meta(j).dict().len());
            }
            let end = ch.off + ch.len;
            for row in lo..hi {
                let at = ch.off + (row - ch.first_row);
                if at + PREFETCH_ROWS < end {
                    for &(j, k) in &ahead {
                        dicts.prefetch(j, k.get(at + PREFETCH_ROWS));
                    }
                }
                self.item();
                let mut first = true;
                let mut put = |w: &mut Self, j: usize| -> Result<(), JsonError> {
                    let (cc, meta) = cols[j];
                    if cc.absent.as_ref().is_some_and(|a| a.get(at)) {
                        return Ok(());
                    }
                    let key = if first { &first_keys[j] } else { &rest_keys[j] };
                    first = false;
                    key.put(&mut w.out);
                    w.column_cell(cc, meta, at, j, dicts)
                        .map_err(|e| JsonError::InField {
                            row,
                            field: list.field_name(j).to_owned(),
                            source: Box::new(e),
                        })
                };
                match ch.order.map_or(0, |o| o[at]) {
                    0 => {
                        for j in 0..cols.len() {
                            put(self, j)?;
                        }
                    }
                    p => {
                        for &j in list.pattern_fields(p) {
                            put(self, j as usize)?;
                        }
                    }
                }
                if first {
                    self.out.push(b'{');
                }
                self.out.push(b'}');
                // Size the buffer once from the first records instead of doubling it
                // (each doubling copies all the text so far).
                if row == start + SAMPLE_ROWS - 1 && size_rows > 2 * SAMPLE_ROWS {
                    let per_row = (self.out.len() - at_start) / SAMPLE_ROWS + 1;
                    let more = (size_rows - SAMPLE_ROWS) * per_row;
                    self.out.reserve(more + more / 8);
                }
            }
        }
        Ok(())
    }

    /// Value `at` of a column chunk (present), read from its buffers directly.
    #[inline]
    fn column_cell(
        &mut self,
        cc: &ColChunk,
        meta: &ColMeta,
        at: usize,
        j: usize,
        dicts: &mut DictTexts,
    ) -> Result<(), JsonError> {
        if cc.valid.as_ref().is_some_and(|v| !v.get(at)) {
            self.null();
            return Ok(());
        }
        match &cc.data {
            Data::Null => self.null(),
            Data::Bool(b) => self.bool(b.get(at)),
            Data::Int(v) => self.int(v.get(at)),
            Data::Float(v, marks) => {
                if marks.as_ref().is_some_and(|m| m.get(at)) {
                    self.int(v[at] as i64);
                } else {
                    self.float(v[at])?;
                }
            }
            Data::Keys(k) => {
                let idx = k.get(at) as u32;
                dicts.write(&mut self.out, j, idx, meta, self.fmt.ensure_ascii);
            }
            Data::Var(v) => match meta.layout {
                Layout::StrPlain => push_str_bytes(&mut self.out, v.get(at), self.fmt.ensure_ascii),
                _ => self.cell(cc.get(at, meta))?,
            },
        }
        Ok(())
    }

    /// A column's values as one array (absent as `null`).
    ///
    /// # Errors
    /// As [`JsonWriter::cell`].
    pub fn column(&mut self, view: &ColumnView) -> Result<(), JsonError> {
        self.begin_array();
        for i in 0..view.len() {
            self.item();
            self.cell(view.get(i)).map_err(|e| JsonError::InField {
                row: i,
                field: view.name().to_owned(),
                source: Box::new(e),
            })?;
        }
        self.end_array();
        Ok(())
    }
}

/// Lists with at least this many records are written by two threads when the machine
/// has two cores.
const PARALLEL_ROWS: usize = 100_000;

/// Tests: this thread of [`JsonWriter::fast_records_split`] starts only once the helper
/// has taken every block it may.
#[cfg(test)]
static FRONT_WAITS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(test)]
fn take_back_left(todo: &std::sync::Mutex<(usize, usize)>) -> bool {
    let t = todo
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    t.0 < t.1
}

/// Whether a second thread can run beside this one. Asking the system costs a few
/// system calls: callers ask only for a list long enough to share.
fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// Records per block shared out between the two threads (about 2 MB of text for the
/// orders).
const BLOCK_ROWS: usize = 16_384;

/// What [`JsonWriter::fast_records`] prepares once per thread: per field, `{"key": `
/// (first key of a record) and `, "key": ` (the others), and the escaped dictionary
/// strings seen so far.
struct FastState {
    first_keys: Vec<Piece>,
    rest_keys: Vec<Piece>,
    dicts: DictTexts,
}

impl FastState {
    /// The state for writing `rows` records of `list`. A dictionary column of at least
    /// [`PREFETCH_DICT_LEN`] strings, but no more strings than there are records to
    /// write, has all its strings escaped here, in dictionary order: the records read
    /// them in random order, and filling the slots as they come cost a cache miss or
    /// three per distinct string (the 200,000 user names of the orders).
    fn new(list: &RecordList, fmt: &JsonFormat, rows: usize) -> Self {
        Self::with_shared(list, fmt, &shared_dicts(list, fmt, rows))
    }

    /// The state of one of several threads, sharing the dictionaries escaped once by
    /// [`shared_dicts`] (one copy in the caches instead of one per thread).
    fn with_shared(list: &RecordList, fmt: &JsonFormat, shared: &[SharedSlots]) -> Self {
        let mut state = Self::lazy(list, fmt);
        state.dicts.shared = shared.to_vec();
        state
    }

    fn lazy(list: &RecordList, fmt: &JsonFormat) -> Self {
        let n = list.num_fields();
        let mut first_keys = Vec::with_capacity(n);
        let mut rest_keys = Vec::with_capacity(n);
        for j in 0..n {
            let mut k = Vec::new();
            push_str(&mut k, list.field_name(j), fmt.ensure_ascii);
            k.extend_from_slice(fmt.key_separator.as_bytes());
            let mut r = fmt.item_separator.as_bytes().to_vec();
            r.extend_from_slice(&k);
            k.insert(0, b'{');
            first_keys.push(Piece::new(&k));
            rest_keys.push(Piece::new(&r));
        }
        FastState {
            first_keys,
            rest_keys,
            dicts: DictTexts {
                slots: vec![Vec::new(); n],
                shared: vec![None; n],
            },
        }
    }
}

/// Where [`records_into`] put the text: the first `len` bytes of the destination, then
/// `overflow`, the text that did not fit in it (empty when the destination was large
/// enough).
#[derive(Debug, Default)]
pub struct Placed {
    /// Bytes written at the start of the destination.
    pub len: usize,
    /// The rest of the text, in order, when the destination was too small.
    pub overflow: Vec<u8>,
    /// Whether all the text is ASCII (always, with `ensure_ascii` and ASCII separators).
    pub ascii: bool,
}

/// Records per block handed to a thread by [`records_into`]: about 250 KB of text for
/// the orders, so a block's buffer stays in the core's cache until it is copied out.
const INTO_BLOCK_ROWS: usize = 2_048;

/// Written blocks that may wait for an earlier one before a thread stops to let the
/// other catch up (bounds the memory a descheduled thread can make the other one use).
const MAX_PENDING: usize = 8;

/// An estimate of the length of the text [`records_into`] writes, from three samples of
/// records (the start, the middle and the end of `rows`), with a margin of an eighth.
/// Use it to size the destination: a larger one costs only address space (pages that
/// are never written are never backed), a smaller one costs a copy of what overflows.
///
/// # Errors
/// As [`JsonWriter::records`], for a value among the samples.
///
/// # Panics
/// If `rows.end > list.len()`.
pub fn estimate_records_len(
    list: &RecordList,
    rows: Range<usize>,
    shape: RecordShape,
    fmt: &JsonFormat,
) -> Result<usize, JsonError> {
    let n = rows.len();
    if n <= 3 * SAMPLE_ROWS {
        let mut w = JsonWriter::new(fmt);
        w.records(list, rows, shape)?;
        return Ok(w.out.len());
    }
    let mut w = JsonWriter::new(fmt);
    let mid = rows.start + n / 2 - SAMPLE_ROWS / 2;
    let mut sampled = 0;
    for lo in [rows.start, mid, rows.end - SAMPLE_ROWS] {
        w.out.clear();
        w.records(list, lo..lo + SAMPLE_ROWS, shape)?;
        sampled += w.out.len();
    }
    let per_row = sampled.div_ceil(3 * SAMPLE_ROWS);
    let est = n.saturating_mul(per_row);
    Ok(est.saturating_add(est / 8).saturating_add(64))
}

/// The text of [`JsonWriter::records`] (one array of records, with `fmt`), written into
/// `dest` from its start, on two threads for long lists when the machine has two cores.
///
/// Both threads write blocks of records into small buffers of their own, taken in order,
/// and copy each block to its place in `dest` as soon as the blocks before it are placed:
/// the text is written once and copied once, with no buffer the size of the whole text
/// besides `dest`. What does not fit in `dest` comes back in [`Placed::overflow`].
///
/// # Errors
/// As [`JsonWriter::records`]; `dest` then holds a partial text.
///
/// # Memory
/// A few buffers of one block each (about 250 KB for the orders), plus the overflow.
///
/// # Panics
/// If `rows.end > list.len()`.
pub fn records_into(
    list: &RecordList,
    rows: Range<usize>,
    shape: RecordShape,
    fmt: &JsonFormat,
    dest: &mut [u8],
) -> Result<Placed, JsonError> {
    let fast = shape == RecordShape::Object && fmt.indent.is_none() && !fmt.sort_keys;
    if !fast {
        let mut w = JsonWriter::new(fmt);
        w.records(list, rows, shape)?;
        return Ok(place_all(&w.out, dest));
    }
    let blocks = rows.len().div_ceil(INTO_BLOCK_ROWS).max(1);
    let shared = shared_dicts(list, fmt, rows.len());
    let placer = Placer {
        list,
        rows,
        fmt,
        blocks,
        shared: &shared,
        state: std::sync::Mutex::new(PlaceState {
            next_claim: 0,
            next_place: 0,
            rest: dest,
            placed: 0,
            pending: std::collections::BTreeMap::new(),
            overflow: Vec::new(),
            spare: Vec::new(),
            failed: false,
            ascii: true,
        }),
        turn: std::sync::Condvar::new(),
    };
    let result = if placer.rows.len() >= PARALLEL_ROWS && two_cores() {
        std::thread::scope(|s| {
            let helper = s.spawn(|| placer.work());
            let mine = placer.work();
            match helper.join() {
                Ok(theirs) => mine.and(theirs),
                // The writer does not panic; if it ever did, the text is written again
                // on this thread below.
                Err(_) => Err(None),
            }
        })
    } else {
        placer.work()
    };
    let state = placer
        .state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match result {
        Ok(()) => Ok(Placed {
            len: state.placed,
            overflow: state.overflow,
            ascii: state.ascii,
        }),
        Err(Some(e)) => Err(e),
        Err(None) => {
            let mut w = JsonWriter::new(fmt);
            w.records(list, placer.rows, shape)?;
            let ascii = w.out.is_ascii();
            Ok(Placed {
                len: 0,
                overflow: w.out,
                ascii,
            })
        }
    }
}

/// `text` copied into `dest`, the rest as overflow.
fn place_all(text: &[u8], dest: &mut [u8]) -> Placed {
    let n = text.len().min(dest.len());
    dest[..n].copy_from_slice(&text[..n]);
    Placed {
        len: n,
        overflow: text[n..].to_vec(),
        ascii: text.is_ascii(),
    }
}

/// The blocks of one [`records_into`] call, shared by its threads.
struct Placer<'a, 'd> {
    list: &'a RecordList,
    rows: Range<usize>,
    fmt: &'a JsonFormat,
    blocks: usize,
    shared: &'a [SharedSlots],
    state: std::sync::Mutex<PlaceState<'d>>,
    /// Signalled when a block is placed or the work fails.
    turn: std::sync::Condvar,
}

struct PlaceState<'d> {
    /// The next block to write.
    next_claim: usize,
    /// The next block to copy to the destination.
    next_place: usize,
    /// The destination after the text placed so far.
    rest: &'d mut [u8],
    placed: usize,
    /// Written blocks waiting for an earlier one.
    pending: std::collections::BTreeMap<usize, Vec<u8>>,
    overflow: Vec<u8>,
    /// Block buffers to reuse.
    spare: Vec<Vec<u8>>,
    failed: bool,
    ascii: bool,
}

/// Sets `failed` if a thread leaves [`Placer::work`] by unwinding, so that the other
/// thread does not wait for a block that never comes.
struct FailOnUnwind<'p, 'a, 'd>(&'p Placer<'a, 'd>);

impl Drop for FailOnUnwind<'_, '_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().failed = true;
            self.0.turn.notify_all();
        }
    }
}

impl<'d> Placer<'_, 'd> {
    fn lock(&self) -> std::sync::MutexGuard<'_, PlaceState<'d>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes blocks in order, writes each into a buffer of this thread's, and places every
    /// block whose turn has come. `Err(None)`: the other thread failed without an error
    /// (it panicked).
    fn work(&self) -> Result<(), Option<JsonError>> {
        let _guard = FailOnUnwind(self);
        let mut state = FastState::with_shared(self.list, self.fmt, self.shared);
        let mut buf = Vec::new();
        let last = self.blocks - 1;
        loop {
            let k = {
                let mut s = self.lock();
                if s.failed {
                    return Err(None);
                }
                if s.next_claim == self.blocks {
                    return Ok(());
                }
                s.next_claim += 1;
                s.next_claim - 1
            };
            let lo = self.rows.start + k * INTO_BLOCK_ROWS;
            let hi = self.rows.end.min(lo + INTO_BLOCK_ROWS);
            let mut w = JsonWriter::with_buffer(self.fmt, std::mem::take(&mut buf));
            if k == 0 {
                w.out.push(b'[');
            }
            // Inside the array: a separator before the first record of every block but
            // the first.
            w.open.push(k == 0);
            let written = w.fast_records(self.list, lo..hi, &mut state, 0);
            if let Err(e) = written {
                self.lock().failed = true;
                self.turn.notify_all();
                return Err(Some(e));
            }
            if k == last {
                w.out.push(b']');
            }
            let text = w.out;
            let ascii = text.is_ascii();
            // Place what can be placed; copy outside the lock.
            let mut copies: Vec<(&'d mut [u8], Vec<u8>)> = Vec::new();
            {
                let mut s = self.lock();
                s.ascii &= ascii;
                s.pending.insert(k, text);
                loop {
                    let next = s.next_place;
                    let Some(t) = s.pending.remove(&next) else {
                        break;
                    };
                    s.next_place += 1;
                    if s.overflow.is_empty() && t.len() <= s.rest.len() {
                        let rest = std::mem::take(&mut s.rest);
                        let (head, tail) = rest.split_at_mut(t.len());
                        s.rest = tail;
                        s.placed += t.len();
                        copies.push((head, t));
                    } else {
                        s.overflow.extend_from_slice(&t);
                        s.spare.push(t);
                    }
                }
                self.turn.notify_all();
                // An earlier block is late (its thread got little CPU): wait rather than
                // pile up written blocks.
                while s.pending.len() >= MAX_PENDING && !s.failed {
                    s = self
                        .turn
                        .wait(s)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
            for (head, t) in &mut copies {
                head.copy_from_slice(t);
            }
            let mut s = self.lock();
            for (_, mut t) in copies {
                t.clear();
                s.spare.push(t);
            }
            buf = s.spare.pop().unwrap_or_default();
        }
    }
}

/// Records written before the output buffer is sized from their average length.
const SAMPLE_ROWS: usize = 1024;

/// Dictionary positions above this are escaped each time instead of cached.
const DICT_CACHE_MAX: u32 = 1 << 20;

/// Escaped dictionary strings, per field and dictionary position, each in a slot of its
/// own: a high-cardinality column (200,000 user names) is read in random dictionary
/// order, so the cost is cache misses, and a slot holds the text and its length in one
/// aligned 32-byte block (one miss per value, where an offset table beside a text
/// buffer took two).
struct DictTexts {
    slots: Vec<Vec<Slot>>,
    /// Per field, every string escaped ahead (see [`shared_dicts`]); read only.
    shared: Vec<SharedSlots>,
}

/// A dictionary's slots, all filled, shared by the threads writing one list.
type SharedSlots = Option<std::sync::Arc<[Slot]>>;

/// Per field of `list`: the slots of a dictionary of at least [`PREFETCH_DICT_LEN`]
/// strings but no more strings than the `rows` records to write, every string escaped
/// here in dictionary order. The records read them in random order, and filling the
/// slots as they came cost a cache miss or three per distinct string (the 200,000 user
/// names of the orders).
fn shared_dicts(list: &RecordList, fmt: &JsonFormat, rows: usize) -> Vec<SharedSlots> {
    (0..list.num_fields())
        .map(|j| {
            let meta = list.col_meta(j);
            let len = meta.dict().len();
            (len >= PREFETCH_DICT_LEN && len <= rows)
                .then(|| filled_slots(meta, fmt.ensure_ascii).into())
        })
        .collect()
}

/// Every string of `meta`'s dictionary (up to [`DICT_CACHE_MAX`]) escaped into its slot.
fn filled_slots(meta: &ColMeta, ascii: bool) -> Vec<Slot> {
    let dict = meta.dict();
    let len = dict.len().min(DICT_CACHE_MAX as usize);
    let mut slots = Vec::with_capacity(len);
    let mut text = Vec::with_capacity(2 * PIECE);
    for i in 0..len {
        text.clear();
        push_str_bytes(&mut text, dict.bytes_at(i as u32), ascii);
        let mut slot = Slot::EMPTY;
        if text.len() < PIECE {
            slot.0[..text.len()].copy_from_slice(&text);
            slot.0[PIECE - 1] = text.len() as u8;
        } else {
            slot.0[PIECE - 1] = Slot::LONG;
        }
        slots.push(slot);
    }
    slots
}

/// The escaped text (with its quotes) in the first `len` bytes, `len` in the last byte:
/// 0 not escaped yet, [`Slot::LONG`] too long to keep (escaped each time).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot([u8; PIECE]);

impl Slot {
    const LONG: u8 = u8::MAX;
    const EMPTY: Slot = Slot([0; PIECE]);
}

/// Dictionaries with at least this many strings have their slots fetched ahead (smaller
/// ones stay in the CPU caches).
const PREFETCH_DICT_LEN: usize = 4096;

/// How many records ahead a slot is fetched: enough to cover a memory access.
const PREFETCH_ROWS: usize = 8;

impl DictTexts {
    /// Slots for a dictionary of `len` strings, made at once rather than as positions
    /// appear.
    fn presize(&mut self, j: usize, len: usize) {
        let len = len.min(DICT_CACHE_MAX as usize);
        if self.shared[j].is_none() && self.slots[j].len() < len {
            self.slots[j].resize(len, Slot::EMPTY);
        }
    }

    /// Asks the CPU to load the slot of dictionary position `idx` of field `j`: a hint
    /// (no effect on results; nothing happens on other architectures).
    #[inline(always)]
    fn prefetch(&self, j: usize, idx: i64) {
        let slots = self.shared[j].as_deref().unwrap_or(&self.slots[j]);
        if let Some(slot) = usize::try_from(idx).ok().and_then(|i| slots.get(i)) {
            crate::hint::prefetch(slot);
        }
    }

    #[inline]
    fn write(&mut self, out: &mut Vec<u8>, j: usize, idx: u32, meta: &ColMeta, ascii: bool) {
        if idx >= DICT_CACHE_MAX {
            push_str_bytes(out, meta.dict().bytes_at(idx), ascii);
            return;
        }
        let i = idx as usize;
        if let Some(slot) = self.shared[j].as_deref().and_then(|s| s.get(i)) {
            let len = slot.0[PIECE - 1];
            if len == Slot::LONG || len == 0 {
                push_str_bytes(out, meta.dict().bytes_at(idx), ascii);
            } else {
                put_padded(out, &slot.0, usize::from(len));
            }
            return;
        }
        let slots = &mut self.slots[j];
        if slots.len() <= i {
            slots.resize(i + 1, Slot::EMPTY);
        }
        let slot = &mut slots[i];
        let len = slot.0[PIECE - 1];
        if len == Slot::LONG {
            push_str_bytes(out, meta.dict().bytes_at(idx), ascii);
            return;
        }
        if len != 0 {
            put_padded(out, &slot.0, usize::from(len));
            return;
        }
        let start = out.len();
        push_str_bytes(out, meta.dict().bytes_at(idx), ascii);
        let text = &out[start..];
        // An escaped string has at least its two quotes, so a kept length is never 0.
        if text.len() < PIECE {
            slot.0[..text.len()].copy_from_slice(text);
            slot.0[PIECE - 1] = text.len() as u8;
        } else {
            slot.0[PIECE - 1] = Slot::LONG;
        }
    }
}

/// Short pieces of text are copied as one fixed-size block and the excess cut off:
/// a few vector stores instead of a call to `memcpy` per key or value.
const PIECE: usize = 32;

/// Appends the first `len` bytes of `block` (`len <= PIECE <= block.len()`).
#[inline(always)]
fn put_padded(out: &mut Vec<u8>, block: &[u8], len: usize) {
    let fixed: &[u8; PIECE] = match block.first_chunk() {
        Some(b) => b,
        None => {
            out.extend_from_slice(&block[..len]);
            return;
        }
    };
    let end = out.len() + len;
    out.extend_from_slice(fixed);
    out.truncate(end);
}

/// A piece of text kept padded for [`put_padded`].
struct Piece {
    bytes: Vec<u8>,
    len: usize,
}

impl Piece {
    fn new(text: &[u8]) -> Self {
        let mut bytes = text.to_vec();
        bytes.resize(text.len().max(PIECE), 0);
        Piece {
            bytes,
            len: text.len(),
        }
    }

    #[inline(always)]
    fn put(&self, out: &mut Vec<u8>) {
        if self.len <= PIECE {
            put_padded(out, &self.bytes, self.len);
        } else {
            out.extend_from_slice(&self.bytes[..self.len]);
        }
    }
}

/// Needs an escape with `ensure_ascii` (outside `' '..='~'`, or `"` or `\`).
const fn needs_escape_ascii(b: u8) -> bool {
    b < 0x20 || b >= 0x7f || b == b'"' || b == b'\\'
}

/// Needs an escape without `ensure_ascii`.
const fn needs_escape_utf8(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

static ESCAPE_ASCII: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = needs_escape_ascii(i as u8);
        i += 1;
    }
    t
};

static ESCAPE_UTF8: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = needs_escape_utf8(i as u8);
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut Vec<u8>, u: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(u >> 12) as usize & 15],
        HEX[(u >> 8) as usize & 15],
        HEX[(u >> 4) as usize & 15],
        HEX[u as usize & 15],
    ]);
}

/// Writes `s` as a JSON string the way `json.dumps` does: `\"`, `\\`, `\n`, `\r`, `\t`,
/// `\b`, `\f`, other control characters as `\u00XX`, and with `ensure_ascii` every
/// character outside printable ASCII as `\uXXXX` (a surrogate pair beyond U+FFFF).
pub fn push_str(out: &mut Vec<u8>, s: &str, ensure_ascii: bool) {
    push_str_bytes(out, s.as_bytes(), ensure_ascii);
}

/// [`push_str`] for stored UTF-8 text (not validated again: a malformed sequence is
/// written as U+FFFD with `ensure_ascii`, and copied as it is without).
fn push_str_bytes(out: &mut Vec<u8>, b: &[u8], ensure_ascii: bool) {
    let table = if ensure_ascii {
        &ESCAPE_ASCII
    } else {
        &ESCAPE_UTF8
    };
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !table[c as usize] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        if c >= 0x80 {
            // Only with ensure_ascii: decode one UTF-8 sequence.
            let (len, init) = match c {
                0xf0..=0xf7 => (4, u32::from(c & 0x07)),
                0xe0..=0xef => (3, u32::from(c & 0x0f)),
                0xc0..=0xdf => (2, u32::from(c & 0x1f)),
                _ => (1, 0xfffd),
            };
            let mut u = init;
            for k in 1..len {
                match b.get(i + k) {
                    Some(&x) if x & 0xc0 == 0x80 => u = (u << 6) | u32::from(x & 0x3f),
                    _ => u = 0xfffd,
                }
            }
            if u > 0x10ffff {
                u = 0xfffd;
            }
            if u > 0xffff {
                let v = u - 0x10000;
                push_u_escape(out, 0xd800 | (v >> 10));
                push_u_escape(out, 0xdc00 | (v & 0x3ff));
            } else {
                push_u_escape(out, u);
            }
            i += len;
        } else {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => push_u_escape(out, u32::from(c)),
            }
            i += 1;
        }
        start = i.min(b.len());
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes `i` in decimal.
#[inline]
pub fn push_int(out: &mut Vec<u8>, i: i64) {
    let mut n = i.unsigned_abs();
    if i < 0 {
        out.push(b'-');
    }
    let len = n.checked_ilog10().map_or(1, |l| l as usize + 1);
    // Room for the longest int in one fixed-size store, the digits written in place, the
    // excess cut off: no call to `memcpy` for a few bytes.
    let at = out.len();
    out.extend_from_slice(&[b'0'; 20]);
    let digits = &mut out[at..at + len];
    let mut p = len;
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        p -= 2;
        digits[p] = DIGIT_PAIRS[d];
        digits[p + 1] = DIGIT_PAIRS[d + 1];
    }
    if n >= 10 {
        let d = n as usize * 2;
        digits[0] = DIGIT_PAIRS[d];
        digits[1] = DIGIT_PAIRS[d + 1];
    } else {
        digits[0] = b'0' + n as u8;
    }
    out.truncate(at + len);
}

/// Writes `f` if it is a whole number of hundredths (a price: `12.5`, `210.12`) between
/// 0.01 and 1e13, in the shortest text that reads back as `f`, as Python's `repr` and
/// zmij would; `false` (nothing written) for any other float.
///
/// `n / 100.0 == |f|` with `n` whole means `|f|` is the double nearest to the decimal
/// `n/100`, so that decimal reads back as `f`. Below 1e13 doubles are closer together than
/// 0.01, so no other decimal of two places or fewer reads back as `f`: the shortest text
/// is `n/100` with a trailing zero of the hundredths dropped.
#[inline]
fn push_cents(out: &mut Vec<u8>, f: f64) -> bool {
    let a = f.abs();
    if !(0.01..1e13).contains(&a) {
        return false;
    }
    let x = a * 100.0;
    let n = x as u64;
    if n as f64 != x || n as f64 / 100.0 != a {
        return false;
    }
    if f < 0.0 {
        out.push(b'-');
    }
    push_int(out, (n / 100) as i64);
    let c = (n % 100) as usize;
    if c.is_multiple_of(10) {
        out.extend_from_slice(&[b'.', b'0' + (c / 10) as u8]);
    } else {
        out.extend_from_slice(&[b'.', DIGIT_PAIRS[2 * c], DIGIT_PAIRS[2 * c + 1]]);
    }
    true
}

/// Writes a float as Python's `repr` does (the shortest text that reads back as the same
/// float; positional from 1e-4 up to 1e16, else `1e+16`, `1e-05` style), and NaN and the
/// infinities as `json.dumps` does (`NaN`, `Infinity`, `-Infinity`).
pub fn push_float(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    if (1e-4..1e16).contains(&f.abs()) {
        if push_cents(out, f) {
            return;
        }
        // zmij writes this range positionally with a ".0" on whole numbers, as Python
        // does (it switches to exponents outside 1e-5..1e16, Python outside 1e-4..1e16).
        let mut buf = zmij::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
        return;
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    if f == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    // The shortest digits, in whatever layout zmij prints them; then Python's layout.
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(f.abs()).as_bytes();
    let (mant, exp) = match text.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => (&text[..e], parse_exp(&text[e + 1..])),
        None => (text, 0),
    };
    let mut digits = [0u8; 24];
    let mut n = 0;
    // Decimal point position: the value is 0.d1d2... * 10^decpt.
    let mut decpt = exp;
    let mut seen_point = false;
    for &c in mant {
        if c == b'.' {
            seen_point = true;
        } else if c.is_ascii_digit() {
            if n == 0 && c == b'0' {
                if seen_point {
                    decpt -= 1;
                }
                continue;
            }
            if n < digits.len() {
                digits[n] = c;
                n += 1;
            }
            if !seen_point {
                decpt += 1;
            }
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
            out.extend_from_slice(digits);
        } else if decpt as usize >= n {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', decpt as usize - n));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..decpt as usize]);
            out.push(b'.');
            out.extend_from_slice(&digits[decpt as usize..]);
        }
    } else {
        out.push(digits[0]);
        if n > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        out.extend_from_slice(if e < 0 { b"e-" } else { b"e+" });
        if e.abs() < 10 {
            out.push(b'0');
        }
        push_int(out, i64::from(e.abs()));
    }
}

fn parse_exp(b: &[u8]) -> i32 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let v = digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d.wrapping_sub(b'0')));
    if neg { -v } else { v }
}

/// A float as Python's `repr` writes it (see [`push_float`]).
pub fn py_float(f: f64) -> String {
    let mut b = Vec::new();
    push_float(&mut b, f);
    String::from_utf8(b).unwrap_or_default()
}

/// Decimal text of a two's-complement little-endian integer.
pub fn le_to_decimal(le: &[u8]) -> String {
    let neg = le.last().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = le.to_vec();
    if neg {
        let mut carry = true;
        for b in &mut mag {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    // Big-endian base-256 digits, divided by 10 repeatedly.
    mag.reverse();
    let mut digits = Vec::new();
    while mag.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in &mut mag {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if neg {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cell;

    /// The plain, allocation-heavy statement of Python's float repr rule, as the model
    /// for [`push_float`].
    fn model_float(f: f64) -> String {
        if f.is_nan() {
            return "NaN".into();
        }
        if f.is_infinite() {
            return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
        }
        let sci = format!("{:e}", f.abs());
        let (mant, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
        let n = digits.len() as i32;
        let mut s = String::new();
        if f.is_sign_negative() {
            s.push('-');
        }
        if (-4..16).contains(&exp) {
            if exp >= 0 {
                let int_len = (exp + 1) as usize;
                if n <= exp + 1 {
                    s.push_str(&digits);
                    s.push_str(&"0".repeat(int_len - digits.len()));
                    s.push_str(".0");
                } else {
                    s.push_str(&digits[..int_len]);
                    s.push('.');
                    s.push_str(&digits[int_len..]);
                }
            } else {
                s.push_str("0.");
                s.push_str(&"0".repeat((-exp - 1) as usize));
                s.push_str(&digits);
            }
        } else {
            s.push_str(&digits[..1]);
            if n > 1 {
                s.push('.');
                s.push_str(&digits[1..]);
            }
            s.push('e');
            s.push(if exp < 0 { '-' } else { '+' });
            s.push_str(&format!("{:02}", exp.abs()));
        }
        s
    }

    #[test]
    fn floats_as_python_repr() {
        for (f, s) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (210.12, "210.12"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456789.125, "123456789.125"),
            (1125900000000000.2, "1125900000000000.2"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-2.5e-100, "-2.5e-100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(py_float(f), s, "{f:e}");
        }
    }

    /// `push_float`'s text against the model: it reads back as the same float, in the
    /// same notation, with as many significant digits. (Python's repr breaks ties between
    /// two shortest candidates to the even digit, std's formatting may not, so the model's
    /// last digit is not an oracle; the Python tests compare with `repr` itself.)
    fn check_float(f: f64) -> Result<(), proptest::test_runner::TestCaseError> {
        let got = py_float(f);
        let want = model_float(f);
        if f.is_nan() {
            proptest::prop_assert_eq!(got, "NaN");
            return Ok(());
        }
        let back: f64 = got.replace("Infinity", "inf").parse().unwrap();
        proptest::prop_assert_eq!(back.to_bits(), f.to_bits(), "{} for {:e}", got, f);
        proptest::prop_assert_eq!(got.contains('e'), want.contains('e'), "{} vs {}", got, want);
        let sig = |s: &str| {
            let m = s.split('e').next().unwrap_or("");
            m.chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .trim_start_matches('0')
                .trim_end_matches('0')
                .len()
        };
        proptest::prop_assert_eq!(sig(&got), sig(&want), "{} vs {}", got, want);
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn cents_are_written_as_zmij_writes_them(n in 0u64..2_000_000_000_000_000, neg: bool) {
            // Whole hundredths (and their neighbours) on both sides of the 1e13 bound.
            for f in [n as f64 / 100.0, (n as f64 / 100.0).next_up(), n as f64 / 1000.0] {
                let f = if neg { -f } else { f };
                if !(1e-4..1e16).contains(&f.abs()) {
                    continue;
                }
                let mut got = Vec::new();
                push_float(&mut got, f);
                let mut buf = zmij::Buffer::new();
                proptest::prop_assert_eq!(
                    std::str::from_utf8(&got).unwrap(),
                    buf.format_finite(f),
                    "{:e}",
                    f
                );
            }
        }

        #[test]
        fn fast_float_matches_the_model(bits: u64) {
            check_float(f64::from_bits(bits))?;
        }

        #[test]
        fn fast_float_matches_the_model_near_the_switch(m in 1u64..10_000_000, e in -8i32..20) {
            let f = m as f64 * 10f64.powi(e - 7);
            check_float(f)?;
            check_float(f64::from_bits(f.to_bits() + 1))?;
            check_float(f64::from_bits(f.to_bits() - 1))?;
        }

        #[test]
        fn ints_as_decimal(i: i64) {
            let mut out = Vec::new();
            push_int(&mut out, i);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), i.to_string());
        }

        #[test]
        fn ascii_escapes_round_trip(s: String) {
            let mut out = Vec::new();
            push_str(&mut out, &s, true);
            proptest::prop_assert!(out.iter().all(|&b| (0x20..0x7f).contains(&b)));
            proptest::prop_assert_eq!(unescape(&out), s.clone());
            let mut out = Vec::new();
            push_str(&mut out, &s, false);
            proptest::prop_assert_eq!(unescape(&out), s);
        }
    }

    /// A minimal JSON string reader for the round-trip property.
    fn unescape(b: &[u8]) -> String {
        let s = std::str::from_utf8(&b[1..b.len() - 1]).unwrap();
        let mut units: Vec<u16> = Vec::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
                continue;
            }
            let e = it.next().unwrap();
            let u = match e {
                'n' => 10,
                'r' => 13,
                't' => 9,
                'b' => 8,
                'f' => 12,
                '"' => 34,
                '\\' => 92,
                'u' => {
                    let h: String = it.by_ref().take(4).collect();
                    u16::from_str_radix(&h, 16).unwrap()
                }
                _ => panic!("bad escape"),
            };
            units.push(u);
        }
        String::from_utf16(&units).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_python_does() {
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\\c\n\u{1}é\u{7f}😀", true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\n\u0001\u00e9\u007f\ud83d\ude00""#
        );
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\\c\n\u{1}é\u{7f}😀", false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é\u{7f}😀\""
        );
    }

    fn list() -> RecordList {
        let mut rows = RecordList::new();
        rows.push_record(&[("b", Cell::Int(1)), ("a", Cell::Float(0.5))])
            .unwrap();
        rows.push_record(&[("a", Cell::Null), ("c", Cell::Str("x"))])
            .unwrap();
        rows
    }

    #[test]
    fn records_with_indent_and_sorted_keys() {
        let rows = list();
        let fmt = JsonFormat {
            indent: Some("  ".into()),
            sort_keys: true,
            ..JsonFormat::default()
        }
        .with_separators(None);
        let mut w = JsonWriter::new(&fmt);
        w.records(&rows, 0..2, RecordShape::Object).unwrap();
        assert_eq!(
            std::str::from_utf8(w.as_bytes()).unwrap(),
            "[\n  {\n    \"a\": 0.5,\n    \"b\": 1\n  },\n  {\n    \"a\": null,\n    \"c\": \"x\"\n  }\n]"
        );
    }

    #[test]
    fn records_as_arrays_and_empty_containers() {
        let rows = list();
        let fmt = JsonFormat {
            indent: Some(String::new()),
            ..JsonFormat::default()
        }
        .with_separators(None);
        let mut w = JsonWriter::new(&fmt);
        w.begin_array();
        w.item();
        w.records(&rows, 0..1, RecordShape::Array).unwrap();
        w.item();
        w.records(&rows, 0..0, RecordShape::Array).unwrap();
        w.end_array();
        assert_eq!(
            std::str::from_utf8(w.as_bytes()).unwrap(),
            "[\n[\n[\n1,\n0.5,\nnull\n]\n],\n[]\n]"
        );
    }

    #[test]
    fn nested_values_keys_and_errors() {
        let fmt = JsonFormat::default();
        let v = Value::Dict(vec![
            (Value::Int(1), Value::Tuple(vec![Value::Bool(true)])),
            (Value::None, Value::Float(f64::NAN)),
            (Value::Float(2.5), Value::List(vec![])),
        ]);
        let mut w = JsonWriter::new(&fmt);
        w.value(&v).unwrap();
        assert_eq!(
            std::str::from_utf8(w.as_bytes()).unwrap(),
            r#"{"1": [true], "null": NaN, "2.5": []}"#
        );
        let strict = JsonFormat {
            allow_nan: false,
            ..JsonFormat::default()
        };
        assert_eq!(
            JsonWriter::new(&strict).value(&v),
            Err(JsonError::OutOfRange)
        );
        let bad = Value::Dict(vec![(Value::Tuple(vec![]), Value::None)]);
        assert_eq!(
            JsonWriter::new(&fmt).value(&bad),
            Err(JsonError::BadKey("tuple"))
        );
        let skip = JsonFormat {
            skipkeys: true,
            ..JsonFormat::default()
        };
        let mut w = JsonWriter::new(&skip);
        w.value(&bad).unwrap();
        assert_eq!(w.as_bytes(), b"{}");
        let sorted = JsonFormat {
            sort_keys: true,
            ..JsonFormat::default()
        };
        assert_eq!(
            JsonWriter::new(&sorted).value(&v),
            Err(JsonError::Unsortable)
        );
    }

    #[test]
    fn big_ints_and_the_digit_limit() {
        let fmt = JsonFormat {
            int_max_str_digits: 5,
            ..JsonFormat::default()
        };
        let mut w = JsonWriter::new(&fmt);
        assert_eq!(w.big_int(&[0x39, 0x30]), Ok(()));
        assert_eq!(w.as_bytes(), b"12345");
        assert_eq!(
            w.big_int(&[0xa0, 0x86, 0x01]),
            Err(JsonError::IntTooLong(6))
        );
        assert_eq!(le_to_decimal(&[0xff]), "-1");
    }

    fn arb_record() -> impl proptest::strategy::Strategy<Value = Vec<(String, i64, u8)>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            (
                proptest::sample::select(vec!["a", "b", "ç", "d\n"]).prop_map(str::to_owned),
                any::<i64>(),
                0u8..6,
            ),
            0..4,
        )
    }

    /// The records as a JSON array of objects, written record by record (the general
    /// path that the fast paths must match).
    fn general_path(rows: &RecordList, fmt: &JsonFormat) -> Vec<u8> {
        let keys = RecordKeys::new(rows, fmt);
        let mut w = JsonWriter::new(fmt);
        w.begin_array();
        for r in 0..rows.len() {
            w.item();
            w.record(rows, r, &keys, RecordShape::Object).unwrap();
        }
        w.end_array();
        w.as_bytes().to_vec()
    }

    proptest::proptest! {
        /// The one-line fast path writes what the general record-by-record path writes,
        /// with key orders that differ between records, absent keys and every cell kind.
        #[test]
        fn fast_path_matches_the_general_path(
            recs in proptest::collection::vec(arb_record(), 0..40),
            chunk in 1usize..8,
            ascii: bool,
        ) {
            let mut rows = RecordList::with_chunk_rows(chunk);
            // Escaped lengths on both sides of what a dictionary slot keeps (31 bytes):
            // 12 + x with ensure_ascii (`é` is `\u00e9`), 8 + x without.
            let strs: Vec<String> = [0, 18, 19, 20, 22, 23, 24, 40]
                .iter()
                .enumerate()
                .map(|(i, &x)| format!("s{i}é\"{}", "x".repeat(x)))
                .collect();
            for rec in &recs {
                let mut seen = std::collections::HashSet::new();
                let cells: Vec<(&str, Cell<'_>)> = rec
                    .iter()
                    .filter(|(k, _, _)| seen.insert(k.clone()))
                    .map(|(k, v, kind)| {
                        let c = match kind {
                            0 => Cell::Int(*v),
                            1 => Cell::Float(*v as f64 / 7.0),
                            2 => Cell::Str(&strs[(*v).unsigned_abs() as usize % 8]),
                            5 => Cell::Str(k),
                            3 => Cell::Null,
                            _ => Cell::Bool(*v > 0),
                        };
                        (k.as_str(), c)
                    })
                    .collect();
                rows.push_record(&cells).unwrap();
            }
            if chunk % 2 == 0 {
                rows.optimize();
            }
            let fmt = JsonFormat { ensure_ascii: ascii, ..JsonFormat::default() };
            let mut fast = JsonWriter::new(&fmt);
            fast.records(&rows, 0..rows.len(), RecordShape::Object).unwrap();
            proptest::prop_assert_eq!(fast.as_bytes(), &general_path(&rows, &fmt)[..]);
        }
    }

    #[test]
    fn long_lists_written_on_two_threads_match_the_general_path() {
        let mut rows = RecordList::new();
        let names = ["a", "bé", "c"];
        for i in 0..(PARALLEL_ROWS as i64 + 1234) {
            let k = names[(i % 3) as usize];
            rows.push_record(&[("id", Cell::Int(i)), (k, Cell::Float(i as f64 / 8.0))])
                .unwrap();
        }
        let fmt = JsonFormat::default();
        let mut fast = JsonWriter::new(&fmt);
        fast.records(&rows, 0..rows.len(), RecordShape::Object)
            .unwrap();
        assert!(fast.as_bytes() == general_path(&rows, &fmt));
        // An error in the second half names its record.
        rows.push_record(&[("id", Cell::Bytes(b"x"))]).unwrap();
        let err = JsonWriter::new(&fmt)
            .records(&rows, 0..rows.len(), RecordShape::Object)
            .unwrap_err();
        assert!(
            matches!(err, JsonError::InField { row, .. } if row == rows.len() - 1),
            "{err:?}"
        );
    }

    /// Records across chunks, with absent keys, nulls, keys out of field order, escapes
    /// and a high-cardinality dictionary column.
    fn mixed_rows(n: usize) -> RecordList {
        let mut rows = RecordList::with_chunk_rows(7_000);
        let users: Vec<String> = (0..5_000).map(|i| format!("u{i}é\"")).collect();
        for i in 0..n {
            let user = Cell::Str(&users[(i * 7919) % users.len()]);
            let rec: Vec<(&str, Cell<'_>)> = match i % 4 {
                0 => vec![("id", Cell::Int(i as i64)), ("user", user)],
                1 => vec![
                    ("user", user),
                    ("id", Cell::Int(i as i64)),
                    ("x", Cell::Null),
                ],
                2 => vec![("x", Cell::Float(i as f64 / 3.0))],
                _ => vec![],
            };
            rows.push_record(&rec).unwrap();
        }
        rows.optimize();
        rows
    }

    /// `records_into` with a destination of `cap` bytes, put back together.
    fn into_text(rows: &RecordList, shape: RecordShape, fmt: &JsonFormat, cap: usize) -> Vec<u8> {
        let mut dest = vec![0u8; cap];
        let placed = records_into(rows, 0..rows.len(), shape, fmt, &mut dest).unwrap();
        assert!(placed.len <= cap);
        let mut text = dest[..placed.len].to_vec();
        text.extend_from_slice(&placed.overflow);
        assert_eq!(placed.ascii, text.is_ascii());
        text
    }

    #[test]
    fn records_into_matches_the_writer_whatever_the_destination_size() {
        for n in [0, 1, 5, INTO_BLOCK_ROWS, 3 * INTO_BLOCK_ROWS + 11] {
            let rows = mixed_rows(n);
            for fmt in [
                JsonFormat::default(),
                JsonFormat::jsonl(),
                JsonFormat {
                    indent: Some("  ".into()),
                    sort_keys: true,
                    ..JsonFormat::default()
                }
                .with_separators(None),
            ] {
                for shape in [RecordShape::Object, RecordShape::Array] {
                    let mut w = JsonWriter::new(&fmt);
                    w.records(&rows, 0..rows.len(), shape).unwrap();
                    let want = w.into_bytes();
                    let est = estimate_records_len(&rows, 0..rows.len(), shape, &fmt).unwrap();
                    assert!(
                        est >= want.len() || n > 3 * SAMPLE_ROWS,
                        "small lists are exact"
                    );
                    for cap in [est, want.len(), want.len() / 2, 1, 0, want.len() + 100] {
                        assert!(
                            into_text(&rows, shape, &fmt, cap) == want,
                            "n={n} cap={cap} shape={shape:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn records_into_on_two_threads_matches_the_writer() {
        let rows = mixed_rows(PARALLEL_ROWS + 5 * INTO_BLOCK_ROWS + 77);
        for fmt in [JsonFormat::default(), JsonFormat::jsonl()] {
            let mut w = JsonWriter::new(&fmt);
            w.records(&rows, 0..rows.len(), RecordShape::Object)
                .unwrap();
            let want = w.into_bytes();
            let est =
                estimate_records_len(&rows, 0..rows.len(), RecordShape::Object, &fmt).unwrap();
            // Room for all, for a third (the rest overflows while both threads write).
            for cap in [est, want.len(), want.len() / 3] {
                assert!(into_text(&rows, RecordShape::Object, &fmt, cap) == want);
            }
        }
    }

    #[test]
    fn the_writer_opens_the_array_right_when_its_helper_takes_every_other_block() {
        let rows = mixed_rows(PARALLEL_ROWS + 3 * BLOCK_ROWS + 5);
        let fmt = JsonFormat::default();
        // What one thread writes (the path of a short list).
        let mut alone = JsonWriter::new(&fmt);
        alone.begin_array();
        let mut state = FastState::new(&rows, &fmt, rows.len());
        alone
            .fast_records(&rows, 0..rows.len(), &mut state, rows.len())
            .unwrap();
        alone.end_array();
        FRONT_WAITS.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut w = JsonWriter::new(&fmt);
        let res = w.records(&rows, 0..rows.len(), RecordShape::Object);
        FRONT_WAITS.store(false, std::sync::atomic::Ordering::Relaxed);
        res.unwrap();
        let text = w.into_bytes();
        assert!(
            text.starts_with(b"[{"),
            "{:?}",
            String::from_utf8_lossy(&text[..20])
        );
        assert!(text == alone.into_bytes());
    }

    #[test]
    fn records_into_stops_at_a_value_without_a_json_form() {
        let mut rows = RecordList::new();
        for i in 0..(PARALLEL_ROWS + 10) {
            rows.push_record(&[("k", Cell::Int(i as i64))]).unwrap();
        }
        rows.push_record(&[("k", Cell::Bytes(b"x"))]).unwrap();
        let fmt = JsonFormat::default();
        let mut dest = vec![0u8; 16];
        let err = records_into(&rows, 0..rows.len(), RecordShape::Object, &fmt, &mut dest);
        assert!(matches!(err, Err(JsonError::InField { row, .. }) if row == PARALLEL_ROWS + 10));
    }

    #[test]
    fn blocks_across_chunks_on_two_threads_match_the_general_path() {
        // Chunks of 7,000 records against blocks of BLOCK_ROWS: blocks start and end
        // inside chunks, and each thread's dictionary cache meets strings the other one
        // escaped too; absent keys and nulls in every block.
        let mut rows = RecordList::with_chunk_rows(7_000);
        let users: Vec<String> = (0..5_000).map(|i| format!("u{i}é\"")).collect();
        for i in 0..(PARALLEL_ROWS + 3 * BLOCK_ROWS + 77) {
            let user = Cell::Str(&users[(i * 7919) % users.len()]);
            let rec: Vec<(&str, Cell<'_>)> = match i % 4 {
                0 => vec![("id", Cell::Int(i as i64)), ("user", user)],
                1 => vec![
                    ("user", user),
                    ("id", Cell::Int(i as i64)),
                    ("x", Cell::Null),
                ],
                2 => vec![("x", Cell::Float(i as f64 / 3.0))],
                _ => vec![],
            };
            rows.push_record(&rec).unwrap();
        }
        rows.optimize();
        for ascii in [true, false] {
            let fmt = JsonFormat {
                ensure_ascii: ascii,
                ..JsonFormat::default()
            };
            let mut fast = JsonWriter::new(&fmt);
            fast.records(&rows, 0..rows.len(), RecordShape::Object)
                .unwrap();
            let keys = RecordKeys::new(&rows, &fmt);
            let mut slow = JsonWriter::new(&fmt);
            slow.begin_array();
            for r in 0..rows.len() {
                slow.item();
                slow.record(&rows, r, &keys, RecordShape::Object).unwrap();
            }
            slow.end_array();
            assert!(fast.as_bytes() == slow.as_bytes());
        }
    }

    #[test]
    fn large_dictionaries_read_ahead_match_the_general_path() {
        // More distinct strings than PREFETCH_DICT_LEN, in scrambled order, some of them
        // too long for a slot once escaped.
        let distinct = PREFETCH_DICT_LEN + 1500;
        let strs: Vec<String> = (0..distinct)
            .map(|i| format!("u{i}é{}", "\"".repeat(i % 13)))
            .collect();
        let mut rows = RecordList::with_chunk_rows(4096);
        for i in 0..distinct * 4 {
            let s = &strs[(i * 7919) % distinct];
            rows.push_record(&[("id", Cell::Int(i as i64)), ("user", Cell::Str(s))])
                .unwrap();
        }
        rows.optimize();
        assert!(
            matches!(rows.field_layout(1), Layout::StrDict(_)),
            "{:?}",
            rows.field_layout(1)
        );
        for ascii in [true, false] {
            let fmt = JsonFormat {
                ensure_ascii: ascii,
                ..JsonFormat::default()
            };
            let mut fast = JsonWriter::new(&fmt);
            fast.records(&rows, 0..rows.len(), RecordShape::Object)
                .unwrap();
            let keys = RecordKeys::new(&rows, &fmt);
            let mut slow = JsonWriter::new(&fmt);
            slow.begin_array();
            for r in 0..rows.len() {
                slow.item();
                slow.record(&rows, r, &keys, RecordShape::Object).unwrap();
            }
            slow.end_array();
            assert!(fast.as_bytes() == slow.as_bytes());
        }
    }

    #[test]
    fn the_fast_path_names_the_record_of_an_error() {
        let mut rows = RecordList::with_chunk_rows(2);
        for i in 0..5 {
            rows.push_record(&[("k", Cell::Int(i))]).unwrap();
        }
        rows.push_record(&[("k", Cell::Bytes(b"x"))]).unwrap();
        let fmt = JsonFormat::default();
        let err = JsonWriter::new(&fmt)
            .records(&rows, 0..6, RecordShape::Object)
            .unwrap_err();
        assert!(matches!(err, JsonError::InField { row: 5, .. }), "{err:?}");
    }

    #[test]
    fn bytes_name_their_record_and_field() {
        let mut rows = RecordList::new();
        rows.push_record(&[("k", Cell::Bytes(b"x"))]).unwrap();
        let fmt = JsonFormat::default();
        let err = JsonWriter::new(&fmt)
            .records(&rows, 0..1, RecordShape::Object)
            .unwrap_err();
        assert_eq!(
            err,
            JsonError::InField {
                row: 0,
                field: "k".into(),
                source: Box::new(JsonError::NoJsonForm("bytes")),
            }
        );
    }
}
