//! The notes of a file memslim writes: which rows lack a key, which floats were ints,
//! which rows keep their keys in an order of their own, encoded so that they cost bytes
//! per run of rows, not per row.
//!
//! ```text
//! memslim.absent  "c:SET;c:SET"      column c: rows whose record lacks the key
//! memslim.ints    "c:SET;..."        float column c: rows whose value was an int
//! memslim.order   "ORDERS|ROWS"      the key orders, and which row has which
//! ```
//!
//! A `SET` of rows is the shortest of:
//!
//! - `*`: every row;
//! - `r` and decimal run lengths `gap,len,gap,len,...`: `gap` rows not in the set (from
//!   row 0, then from the end of the previous run), then `len` rows in it (`r` alone is
//!   no row). A few bytes per run, however many rows it holds;
//! - `b` and a bitmap (one bit per row, least significant bit first) in base64 without
//!   padding: 4 characters per 24 rows, for sets with too many runs.
//!
//! An absent-key `SET` of a stored column may also be `n` and a `SET`: the rows whose
//! value is null in the column, except those of the `SET` (the rows holding `None`). A
//! JSON-like column, null only where its key is missing, costs two bytes: `c:nr`.
//!
//! `ORDERS` lists each distinct key order once (`;` between orders, column indexes
//! joined by `,`); `ROWS` gives each row the index of its order, 0 for column order and
//! `i` for the `i`-th order listed: either `r` and runs `index:len,index:len,...` from
//! row 0, or `d` and one character per row (`0-9a-zA-Z`, when at most 61 orders are
//! listed). Rows past the end are in column order.
//!
//! The reader keeps the text and walks it with a cursor as it decodes the file's rows
//! in order: what it holds besides the text is the list of distinct orders and a bitmap
//! per column and an index per row of the batch being read.
//!
//! Files sealed with version 1 ([`crate::seal`]) carry the older per-row hex bitmaps
//! (`memslim_mmap::exact`); [`Notes::from_v1`] reads them.

use arrow_array::{Array, RecordBatch};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use memslim_mmap::exact::Extras;

/// Key of the rows lacking each key.
pub(crate) const ABSENT_KEY: &str = "memslim.absent";
/// Key of the ints among each float column's values.
pub(crate) const INTS_KEY: &str = "memslim.ints";
/// Key of the key orders.
pub(crate) const ORDER_KEY: &str = "memslim.order";

/// The longest note memslim writes: pyarrow (and so pandas and Dask) refuse a footer
/// with a string over 100 MB (its `thrift_string_size_limit`).
pub(crate) const NOTE_LIMIT: usize = 64 << 20;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGITS: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn b64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

fn digit_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 10),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 36),
        _ => None,
    }
}

/// Characters of `bytes` bytes in base64 without padding.
fn b64_len(bytes: u64) -> u64 {
    (bytes * 4).div_ceil(3)
}

fn b64_encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let mut v = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            v |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(B64[(v >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
}

// ---------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------

/// Rows as ascending, disjoint, non-adjacent runs `[start, end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Runs(Vec<(u64, u64)>);

impl Runs {
    /// Adds `row`, past every row added so far.
    fn push(&mut self, row: u64) {
        match self.0.last_mut() {
            Some(last) if last.1 == row => last.1 += 1,
            _ => self.0.push((row, row + 1)),
        }
    }

    /// Adds the set bits of `bits` (the first `n`), shifted by `off`.
    fn push_bits(&mut self, off: u64, bits: &BooleanBuffer) {
        for i in bits.set_indices() {
            self.push(off + i as u64);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The shortest `SET` text of these runs over `rows` rows.
    fn encode(&self, rows: u64) -> String {
        if self.0 == [(0, rows)] && rows > 0 {
            return "*".to_owned();
        }
        let mut runs = String::from("r");
        let mut prev = 0;
        for (k, &(s, e)) in self.0.iter().enumerate() {
            if k > 0 {
                runs.push(',');
            }
            runs.push_str(&format!("{},{}", s - prev, e - s));
            prev = e;
        }
        if (runs.len() as u64) <= 1 + b64_len(rows.div_ceil(8)) {
            return runs;
        }
        let mut bits = vec![0u8; rows.div_ceil(8) as usize];
        for &(s, e) in &self.0 {
            for r in s..e {
                bits[(r >> 3) as usize] |= 1 << (r & 7);
            }
        }
        let mut out = String::from("b");
        b64_encode(&bits, &mut out);
        out
    }
}

/// The key orders of a file's rows, as they are written.
#[derive(Debug, Default)]
struct OrderNotes {
    /// The distinct orders, in order of first use (index `i + 1` in the runs).
    table: Vec<Vec<u32>>,
    index: hashbrown::HashMap<Vec<u32>, u32>,
    /// (order index, rows), adjacent runs of one index merged.
    runs: Vec<(u32, u64)>,
    /// Rows covered by `runs`.
    rows: u64,
}

impl OrderNotes {
    fn push(&mut self, idx: u32, n: u64) {
        if n == 0 {
            return;
        }
        match self.runs.last_mut() {
            Some(last) if last.0 == idx => last.1 += n,
            _ => self.runs.push((idx, n)),
        }
        self.rows += n;
    }

    /// Rows `off..` with these exceptions (rows ascending, counted from `off`).
    fn append(&mut self, off: u64, orders: &[(usize, Vec<u32>)]) {
        for (r, keys) in orders {
            let r = off + *r as u64;
            self.push(0, r - self.rows);
            let next = self.table.len() as u32 + 1;
            let idx = *self.index.entry(keys.clone()).or_insert(next);
            if idx == next {
                self.table.push(keys.clone());
            }
            self.push(idx, 1);
        }
    }

    fn encode(&self) -> Option<String> {
        // Trailing rows in column order need not be said.
        let end = self.runs.len() - usize::from(self.runs.last().is_some_and(|l| l.0 == 0));
        let runs = &self.runs[..end];
        if runs.is_empty() {
            return None;
        }
        let mut out = String::new();
        for (k, o) in self.table.iter().enumerate() {
            if k > 0 {
                out.push(';');
            }
            let cols: Vec<String> = o.iter().map(u32::to_string).collect();
            out.push_str(&cols.join(","));
        }
        out.push('|');
        let mut text = String::from("r");
        for (k, (idx, n)) in runs.iter().enumerate() {
            if k > 0 {
                text.push(',');
            }
            text.push_str(&format!("{idx}:{n}"));
        }
        let covered: u64 = runs.iter().map(|r| r.1).sum();
        if self.table.len() < DIGITS.len() && covered < text.len() as u64 {
            text.clear();
            text.push('d');
            for &(idx, n) in runs {
                for _ in 0..n {
                    text.push(DIGITS[idx as usize] as char);
                }
            }
        }
        out.push_str(&text);
        Some(out)
    }
}

/// The notes of a file being written, gathered batch by batch.
///
/// # Memory
/// A few words per run of rows of each note (not per row), and each distinct key order
/// once.
#[derive(Debug, Default)]
pub(crate) struct NotesWriter {
    rows: u64,
    /// Per column of the full schema: rows lacking the key.
    absent: Vec<Runs>,
    /// Per stored column: rows whose value is null but whose key is there (`None`).
    nones: Vec<Runs>,
    /// Per stored column: whether every absent row so far is null in the column (so
    /// the absent rows are its nulls but `nones`).
    by_nulls: Vec<bool>,
    ints: Vec<Runs>,
    order: OrderNotes,
}

impl NotesWriter {
    /// Notes for a file of `cols` columns (full schema, partition columns included).
    pub(crate) fn new(cols: usize) -> NotesWriter {
        NotesWriter {
            absent: vec![Runs::default(); cols],
            nones: vec![Runs::default(); cols],
            by_nulls: vec![true; cols],
            ints: vec![Runs::default(); cols],
            ..NotesWriter::default()
        }
    }

    /// Appends the notes of a batch of `n` rows: `ex` are its exceptions, `full` its
    /// columns in the full schema, of which `stored` are written to the file.
    pub(crate) fn append(&mut self, ex: &Extras, full: &RecordBatch, stored: &[usize], n: usize) {
        let off = self.rows;
        let bits = |b: Option<&[u8]>| {
            b.map(|b| BooleanBuffer::new(Buffer::from(b.to_vec()), 0, n))
                .unwrap_or_else(|| BooleanBuffer::new_unset(n))
        };
        for c in 0..self.absent.len() {
            let absent = bits(ex.absent_bits(c));
            self.absent[c].push_bits(off, &absent);
            if let Some(i) = ex.int_bits(c) {
                self.ints[c].push_bits(off, &bits(Some(i)));
            }
            if !stored.contains(&c) {
                self.by_nulls[c] = false;
                continue;
            }
            if !self.by_nulls[c] {
                continue;
            }
            let col = full.column(c);
            let nulls = match col.logical_nulls() {
                Some(nb) => !nb.inner(),
                None => BooleanBuffer::new_unset(n),
            };
            // Absent rows are null in the column; if one is not, the column's absent
            // rows are said row by row.
            if (&absent & &!&nulls).count_set_bits() > 0 {
                self.by_nulls[c] = false;
                continue;
            }
            let nones = &nulls & &!&absent;
            self.nones[c].push_bits(off, &nones);
        }
        self.order.append(off, ex.orders());
        self.rows += n as u64;
    }

    /// The key-value pairs to write (none if no row is an exception).
    ///
    /// # Errors
    /// A note longer than [`NOTE_LIMIT`]: what it says, to name in the error.
    pub(crate) fn to_metadata(&self) -> Result<Vec<(String, String)>, String> {
        let out = self.encode();
        if let Some((k, v)) = out.iter().find(|(_, v)| v.len() > NOTE_LIMIT) {
            let what = match k.as_str() {
                ABSENT_KEY => "which rows lack which keys",
                INTS_KEY => "which floats were ints",
                _ => "the records' key orders",
            };
            return Err(format!(
                "the note of {what} ({k}) would take {} MB, more than Parquet readers \
                 take (pyarrow: 100 MB); write the records as a dataset of smaller \
                 files (max_rows_per_file)",
                v.len() / 1_000_000
            ));
        }
        Ok(out)
    }

    /// The key-value pairs of the notes, however long.
    fn encode(&self) -> Vec<(String, String)> {
        let rows = self.rows;
        let sets = |v: &[Runs], by_nulls: Option<(&[Runs], &[bool])>| -> String {
            let mut out = String::new();
            for (c, runs) in v.iter().enumerate() {
                if runs.is_empty() {
                    continue;
                }
                let mut set = runs.encode(rows);
                if let Some((nones, ok)) = by_nulls {
                    if ok[c] {
                        let alt = nones[c].encode(rows);
                        if alt.len() + 1 < set.len() {
                            set = format!("n{alt}");
                        }
                    }
                }
                if !out.is_empty() {
                    out.push(';');
                }
                out.push_str(&format!("{c}:{set}"));
            }
            out
        };
        let mut out = Vec::new();
        let absent = sets(&self.absent, Some((&self.nones, &self.by_nulls)));
        if !absent.is_empty() {
            out.push((ABSENT_KEY, absent));
        }
        let ints = sets(&self.ints, None);
        if !ints.is_empty() {
            out.push((INTS_KEY, ints));
        }
        if let Some(o) = self.order.encode() {
            out.push((ORDER_KEY, o));
        }
        out.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

// ---------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------

/// A cursor over `gap,len,...` run text (`text[pos..end]`), run by run.
#[derive(Clone, Debug)]
struct RunCursor {
    pos: usize,
    end: usize,
    /// End of the last run read.
    prev: u64,
    /// Whether a run was read.
    started: bool,
    /// The run the cursor is on (`None` before the first and past the last).
    cur: Option<(u64, u64)>,
}

fn number(text: &str, pos: &mut usize, end: usize, stop: u8) -> Result<u64, String> {
    let bytes = &text.as_bytes()[*pos..end];
    let len = bytes.iter().position(|&b| b == stop).unwrap_or(bytes.len());
    let s = &text[*pos..*pos + len];
    *pos += len + usize::from(len < bytes.len());
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("number {s:?}"));
    }
    s.parse::<u64>().map_err(|_| format!("number {s:?}"))
}

impl RunCursor {
    fn new(pos: usize, end: usize) -> RunCursor {
        RunCursor {
            pos,
            end,
            prev: 0,
            started: false,
            cur: None,
        }
    }

    /// Moves to the next run (`None` past the last), checked against `rows`.
    fn advance(&mut self, text: &str, rows: u64) -> Result<Option<(u64, u64)>, String> {
        if self.pos >= self.end {
            self.cur = None;
            return Ok(None);
        }
        let gap = number(text, &mut self.pos, self.end, b',')?;
        let len = number(text, &mut self.pos, self.end, b',')?;
        let start = self.prev.checked_add(gap);
        let end = start.and_then(|s| s.checked_add(len));
        match (start, end) {
            (Some(s), Some(e)) if len > 0 && e <= rows && (gap > 0 || !self.started) => {
                self.prev = e;
                self.started = true;
                self.cur = Some((s, e));
                Ok(self.cur)
            }
            _ => Err(format!(
                "a run of {len} rows {gap} rows on from row {}",
                self.prev
            )),
        }
    }
}

/// One column's `SET`.
#[derive(Clone, Debug)]
enum Set {
    All,
    Runs(RunCursor),
    /// Base64 bitmap from `text[pos..]` (its length checked).
    Bits(usize),
}

/// One column's note.
#[derive(Clone, Debug)]
struct ColumnNote {
    col: usize,
    /// The set lists the rows holding `None` among the column's nulls, and the others
    /// lack the key.
    by_nulls: bool,
    set: Set,
}

/// A note of sets per column (absent keys or ints), read as the rows go by.
#[derive(Clone, Debug, Default)]
struct SetNotes {
    text: String,
    cols: Vec<ColumnNote>,
}

impl SetNotes {
    /// Parses `text` for a file of `rows` rows, `cols` noted columns of which `stored`
    /// are stored (and may be noted by their nulls if `nulls_allowed`), checking every
    /// run.
    fn parse(
        text: String,
        rows: u64,
        stored: &[bool],
        nulls_allowed: bool,
    ) -> Result<SetNotes, String> {
        let mut cols: Vec<ColumnNote> = Vec::new();
        let mut pos = 0;
        if !text.is_empty() {
            for part in text.split(';') {
                let start = pos;
                pos += part.len() + 1;
                let (c, set) = part
                    .split_once(':')
                    .ok_or_else(|| format!("entry {part:?}"))?;
                let col = c
                    .parse::<usize>()
                    .ok()
                    .filter(|&c| c < stored.len() && cols.last().is_none_or(|l| l.col < c))
                    .ok_or_else(|| format!("column {c:?} of {}", stored.len()))?;
                let mut at = start + c.len() + 1;
                let by_nulls = set.starts_with('n');
                if by_nulls {
                    if !nulls_allowed || !stored[col] {
                        return Err(format!("column {col}: no nulls to say its rows by"));
                    }
                    at += 1;
                }
                let end = start + part.len();
                let set = match text.as_bytes().get(at) {
                    Some(b'*') if at + 1 == end => Set::All,
                    Some(b'r') => {
                        let mut cur = RunCursor::new(at + 1, end);
                        while cur.advance(&text, rows)?.is_some() {}
                        Set::Runs(RunCursor::new(at + 1, end))
                    }
                    Some(b'b') => {
                        let bytes = rows.div_ceil(8);
                        let s = &text.as_bytes()[at + 1..end];
                        if s.len() as u64 != b64_len(bytes)
                            || !s.iter().all(|&b| b64_value(b).is_some())
                        {
                            return Err(format!("column {col}: a bitmap of another length"));
                        }
                        Set::Bits(at + 1)
                    }
                    _ => return Err(format!("column {col}: set {set:?}")),
                };
                cols.push(ColumnNote { col, by_nulls, set });
            }
        }
        Ok(SetNotes { text, cols })
    }

    /// Rows `[start, start + n)` (the rows after those of the last call) of each noted
    /// column: (column, by nulls, set bits of the batch).
    fn batch(&mut self, start: u64, n: usize, rows: u64) -> Result<Vec<BatchSet>, String> {
        let text = &self.text;
        let mut out = Vec::with_capacity(self.cols.len());
        let stop = start + n as u64;
        for note in &mut self.cols {
            let bits = match &mut note.set {
                Set::All => Bits::All,
                Set::Runs(cur) => {
                    let mut bits: Option<Vec<u8>> = None;
                    let mut run = cur.cur;
                    if !cur.started {
                        run = cur.advance(text, rows)?;
                    }
                    while let Some((s, e)) = run {
                        if s >= stop {
                            break;
                        }
                        let b = bits.get_or_insert_with(|| vec![0u8; n.div_ceil(8)]);
                        for r in s.max(start)..e.min(stop) {
                            let i = (r - start) as usize;
                            b[i >> 3] |= 1 << (i & 7);
                        }
                        if e > stop {
                            break;
                        }
                        run = cur.advance(text, rows)?;
                    }
                    bits.map_or(Bits::None, Bits::Some)
                }
                Set::Bits(pos) => {
                    let mut b = vec![0u8; n.div_ceil(8)];
                    let mut any = false;
                    let map = &text.as_bytes()[*pos..];
                    let mut last = (u64::MAX, 0u8);
                    for i in 0..n {
                        let r = start + i as u64;
                        if last.0 != r >> 3 {
                            last = (r >> 3, b64_byte(map, r >> 3));
                        }
                        if last.1 >> (r & 7) & 1 == 1 {
                            b[i >> 3] |= 1 << (i & 7);
                            any = true;
                        }
                    }
                    if any { Bits::Some(b) } else { Bits::None }
                }
            };
            out.push(BatchSet {
                col: note.col,
                by_nulls: note.by_nulls,
                bits,
            });
        }
        Ok(out)
    }
}

/// Byte `byte` of a base64 bitmap (checked for length when parsed).
fn b64_byte(map: &[u8], byte: u64) -> u8 {
    let group = (byte / 3) as usize;
    let v = map
        .iter()
        .skip(4 * group)
        .take(4)
        .enumerate()
        .fold(0u32, |v, (i, &c)| {
            v | b64_value(c).unwrap_or(0) << (18 - 6 * i)
        });
    (v >> (16 - 8 * (byte % 3) as u32)) as u8
}

#[derive(Clone, Debug)]
enum Bits {
    None,
    All,
    Some(Vec<u8>),
}

impl Bits {
    /// The first `n` bits (`None`: none set).
    fn rows(&self, n: usize) -> Option<BooleanBuffer> {
        match self {
            Bits::None => None,
            Bits::All => Some(BooleanBuffer::new_set(n)),
            Bits::Some(b) => Some(BooleanBuffer::new(Buffer::from(b.clone()), 0, n)),
        }
    }

    #[cfg(test)]
    fn get(&self, i: usize) -> bool {
        match self {
            Bits::None => false,
            Bits::All => true,
            Bits::Some(b) => b[i >> 3] >> (i & 7) & 1 == 1,
        }
    }
}

/// One column's set over the rows of a batch.
#[derive(Clone, Debug)]
struct BatchSet {
    col: usize,
    by_nulls: bool,
    bits: Bits,
}

/// The key order note, read as the rows go by.
#[derive(Clone, Debug, Default)]
struct OrderNote {
    text: String,
    /// The distinct key orders.
    table: Vec<Vec<u32>>,
    /// Whether one character per row (else runs).
    dense: bool,
    /// Run cursor (runs mode): byte position, the current run's index and rows left.
    pos: usize,
    run: Option<(u32, u64)>,
}

impl OrderNote {
    fn parse(text: String, rows: u64, cols: usize) -> Result<OrderNote, String> {
        let (orders, idx) = text
            .split_once('|')
            .ok_or_else(|| "no row indexes".to_owned())?;
        let mut table = Vec::new();
        if !orders.is_empty() {
            let mut seen = vec![false; cols];
            for o in orders.split(';') {
                let keys = o
                    .split(',')
                    .map(|c| c.parse::<usize>().ok().filter(|&c| c < cols))
                    .collect::<Option<Vec<usize>>>()
                    .ok_or_else(|| format!("key order {o:?} of {cols} columns"))?;
                // A record holds a key once.
                let twice = keys.iter().any(|&c| std::mem::replace(&mut seen[c], true));
                for &c in &keys {
                    seen[c] = false;
                }
                if twice {
                    return Err(format!("key order {o:?} names a column twice"));
                }
                table.push(keys.into_iter().map(|c| c as u32).collect());
            }
        }
        let rows_at = orders.len() + 2;
        let mut note = OrderNote {
            table,
            dense: idx.starts_with('d'),
            pos: rows_at,
            run: None,
            text: String::new(),
        };
        let n = note.table.len() as u32;
        if note.dense {
            if idx.len() as u64 - 1 > rows {
                return Err("more row indexes than rows".to_owned());
            }
            if !idx[1..]
                .bytes()
                .all(|c| digit_value(c).is_some_and(|v| v <= n))
            {
                return Err("a row index past the orders".to_owned());
            }
        } else if idx.starts_with('r') {
            // Check every run once, keeping none of them.
            let mut covered = 0u64;
            let mut pos = rows_at;
            while pos < text.len() {
                let (i, len) = run_at(&text, &mut pos)?;
                covered = covered
                    .checked_add(len)
                    .filter(|&c| c <= rows && i <= n && len > 0)
                    .ok_or_else(|| format!("run {i}:{len} past the rows or the orders"))?;
            }
        } else {
            return Err(format!("row indexes {:?}", &idx[..idx.len().min(8)]));
        }
        note.text = text;
        Ok(note)
    }

    /// The order indexes of the next `n` rows (0: column order).
    fn batch(&mut self, n: usize) -> Result<Vec<u32>, String> {
        let mut out = Vec::with_capacity(n);
        if self.dense {
            let bytes = self.text.as_bytes();
            while out.len() < n {
                let Some(&c) = bytes.get(self.pos) else { break };
                out.push(digit_value(c).unwrap_or(0));
                self.pos += 1;
            }
        } else {
            while out.len() < n {
                let (i, left) = match self.run {
                    Some(r) if r.1 > 0 => r,
                    _ if self.pos < self.text.len() => {
                        let r = run_at(&self.text, &mut self.pos)?;
                        self.run = Some(r);
                        r
                    }
                    _ => break,
                };
                let take = left.min((n - out.len()) as u64);
                out.extend(std::iter::repeat_n(i, take as usize));
                self.run = Some((i, left - take));
            }
        }
        out.resize(n, 0);
        Ok(out)
    }
}

/// The `index:len` run at `*pos` (moving past it and its comma).
fn run_at(text: &str, pos: &mut usize) -> Result<(u32, u64), String> {
    let end = text.len();
    let i = number(text, pos, end, b':')?;
    let len = number(text, pos, end, b',')?;
    let i = u32::try_from(i).map_err(|_| format!("order index {i}"))?;
    Ok((i, len))
}

/// What a file's notes say, read as its rows go by (in order, batch after batch).
#[derive(Clone, Debug, Default)]
pub(crate) struct Notes {
    rows: u64,
    /// Rows read so far.
    at: u64,
    absent: SetNotes,
    ints: SetNotes,
    order: Option<OrderNote>,
}

impl Notes {
    /// The notes in `pairs` (other keys ignored) of a file of `rows` rows and `stored`
    /// (per noted column: whether the file stores it, else it is a partition column).
    ///
    /// # Errors
    /// What does not check out, for a `CorruptFileError`.
    pub(crate) fn parse(
        pairs: &[(String, String)],
        rows: usize,
        stored: &[bool],
    ) -> Result<Notes, String> {
        let rows = rows as u64;
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let absent = SetNotes::parse(get(ABSENT_KEY).unwrap_or_default(), rows, stored, true)
            .map_err(|e| format!("{ABSENT_KEY}: {e}"))?;
        let ints = SetNotes::parse(get(INTS_KEY).unwrap_or_default(), rows, stored, false)
            .map_err(|e| format!("{INTS_KEY}: {e}"))?;
        let order = get(ORDER_KEY)
            .map(|t| OrderNote::parse(t, rows, stored.len()))
            .transpose()
            .map_err(|e| format!("{ORDER_KEY}: {e}"))?;
        Ok(Notes {
            rows,
            at: 0,
            absent,
            ints,
            order,
        })
    }

    /// The notes of a file sealed with version 1: per-row hex bitmaps and per-row key
    /// orders (`memslim_mmap::exact`), checked as they always were, then held as these.
    ///
    /// # Errors
    /// As [`Notes::parse`].
    pub(crate) fn from_v1(
        pairs: &[(String, String)],
        rows: usize,
        stored: &[bool],
    ) -> Result<Notes, String> {
        let ex = Extras::from_metadata(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            rows,
            stored.len(),
        )?;
        let mut w = NotesWriter::new(stored.len());
        // Explicit sets only: no column is noted by its nulls.
        w.by_nulls = vec![false; stored.len()];
        let bits =
            |b: Option<&[u8]>| b.map(|b| BooleanBuffer::new(Buffer::from(b.to_vec()), 0, rows));
        for c in 0..stored.len() {
            if let Some(a) = bits(ex.absent_bits(c)) {
                w.absent[c].push_bits(0, &a);
            }
            if let Some(i) = bits(ex.int_bits(c)) {
                w.ints[c].push_bits(0, &i);
            }
        }
        w.order.append(0, ex.orders());
        w.rows = rows as u64;
        Notes::parse(&w.encode(), rows, stored)
    }

    /// The notes of the next `n` rows of the file.
    ///
    /// # Errors
    /// A run that does not check out (checked when parsed, so none).
    pub(crate) fn batch(&mut self, n: usize) -> Result<BatchNotes, String> {
        let start = self.at;
        self.at += n as u64;
        let absent = self.absent.batch(start, n, self.rows)?;
        let mut absent_at = vec![usize::MAX; absent.last().map_or(0, |s| s.col + 1)];
        for (k, s) in absent.iter().enumerate() {
            absent_at[s.col] = k;
        }
        Ok(BatchNotes {
            absent,
            absent_at,
            ints: self.ints.batch(start, n, self.rows)?,
            order: match &mut self.order {
                Some(o) => o.batch(n)?,
                None => Vec::new(),
            },
        })
    }

    /// The `i`-th distinct key order (order index `i + 1`).
    pub(crate) fn order(&self, idx: u32) -> Option<&[u32]> {
        let o = self.order.as_ref()?;
        o.table
            .get((idx as usize).checked_sub(1)?)
            .map(Vec::as_slice)
    }
}

/// What a batch's notes say of the rows lacking one column's key.
#[derive(Debug)]
pub(crate) enum AbsentRows {
    /// Every row has the key.
    None,
    /// These rows lack it (and the others have it).
    Rows(BooleanBuffer),
    /// Not known: its absent rows are its nulls (but some), and it is not decoded.
    Unknown,
}

impl AbsentRows {
    /// Whether row `i` lacks the key (`None`: not known).
    pub(crate) fn at(&self, i: usize) -> Option<bool> {
        match self {
            AbsentRows::None => Some(false),
            AbsentRows::Rows(b) => Some(b.value(i)),
            AbsentRows::Unknown => None,
        }
    }
}

/// The notes of the rows of one batch.
#[derive(Debug)]
pub(crate) struct BatchNotes {
    absent: Vec<BatchSet>,
    /// Per column: its index in `absent` (`usize::MAX`: none).
    absent_at: Vec<usize>,
    ints: Vec<BatchSet>,
    order: Vec<u32>,
}

impl BatchNotes {
    /// The rows of the batch (of `n` rows) lacking the key of column `col`, given its
    /// nulls if it is decoded (`Some(None)`: no null).
    pub(crate) fn absent_rows(
        &self,
        col: usize,
        n: usize,
        nulls: Option<Option<&NullBuffer>>,
    ) -> AbsentRows {
        let Some(s) = self.absent_at.get(col).and_then(|&k| self.absent.get(k)) else {
            return AbsentRows::None;
        };
        let rows = if s.by_nulls {
            let Some(nulls) = nulls else {
                return AbsentRows::Unknown;
            };
            // The nulls, but the rows of the set (which hold `None`).
            let nulls = nulls.map(|nb| !nb.inner());
            match (nulls, s.bits.rows(n)) {
                (None, _) => None,
                (Some(nulls), None) => Some(nulls),
                (Some(nulls), Some(nones)) => Some(&nulls & &!&nones),
            }
        } else {
            s.bits.rows(n)
        };
        match rows {
            Some(rows) if rows.count_set_bits() > 0 => AbsentRows::Rows(rows),
            _ => AbsentRows::None,
        }
    }

    /// The rows of the batch (of `n` rows) whose float in column `col` was an int
    /// (`None`: none).
    pub(crate) fn int_rows(&self, col: usize, n: usize) -> Option<BooleanBuffer> {
        let k = self.ints.binary_search_by_key(&col, |s| s.col).ok()?;
        self.ints[k].bits.rows(n)
    }

    /// The order index of each row of the batch (0: column order; empty: all 0).
    pub(crate) fn order_indexes(&self) -> &[u32] {
        &self.order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(rows: &[u64]) -> Runs {
        let mut r = Runs::default();
        for &x in rows {
            r.push(x);
        }
        r
    }

    /// The rows of a set as read back batch by batch of `step` rows.
    fn read_back(text: &str, rows: u64, step: usize) -> Vec<u64> {
        let mut notes = SetNotes::parse(format!("0:{text}"), rows, &[true], false).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while at < rows {
            let n = step.min((rows - at) as usize);
            let b = notes.batch(at, n, rows).unwrap();
            for i in 0..n {
                if b[0].bits.get(i) {
                    out.push(at + i as u64);
                }
            }
            at += n as u64;
        }
        out
    }

    #[test]
    fn sets_take_the_shortest_form_and_read_back() {
        let cases: Vec<(Vec<u64>, u64, char)> = vec![
            ((0..10).collect(), 10, '*'),
            (vec![], 10, 'r'),
            (vec![3, 4, 5, 9], 10, 'b'),
            (vec![3, 4, 5, 9], 1000, 'r'),
            ((0..1000).step_by(420).collect(), 1000, 'r'),
            ((0..1000).step_by(2).collect(), 1000, 'b'),
            ((0..1001).filter(|r| r % 3 != 1).collect(), 1001, 'b'),
            (vec![0, 7, 8, 15, 16], 17, 'b'),
            (vec![0, 7, 8, 15, 16], 1000, 'r'),
        ];
        for (rows, total, form) in cases {
            let text = runs(&rows).encode(total);
            assert_eq!(text.chars().next(), Some(form), "{text}");
            for step in [1, 7, 8, 64, 5000] {
                assert_eq!(read_back(&text, total, step), rows, "{text} by {step}");
            }
        }
        assert_eq!(runs(&[3, 4, 5, 9]).encode(1000), "r3,3,3,1");
    }

    #[test]
    fn bad_sets_are_refused() {
        for (text, stored) in [
            ("0:r3", true),
            ("0:r3,", true),
            ("0:r3,0", true),
            ("0:r3,8", true),
            ("0:r0,1,0,1", true),
            ("0:r18446744073709551615,1", true),
            ("0:r1,x", true),
            ("0:bAA", true),
            ("0:bA", true),
            ("0:b!!", true),
            ("0:**", true),
            ("0:x", true),
            ("0:nr", false),
            ("0:nnr", true),
            ("1:r", true),
            ("0:r;0:r", true),
            ("0", true),
            ("-1:r", true),
        ] {
            assert!(
                SetNotes::parse(text.to_owned(), 10, &[stored], true).is_err(),
                "{text}"
            );
        }
        assert!(SetNotes::parse("0:r1,2,3,4".into(), 10, &[true], true).is_ok());
        assert!(SetNotes::parse("0:nr".into(), 10, &[true], true).is_ok());
        assert!(SetNotes::parse("0:nr".into(), 10, &[true], false).is_err());
    }

    #[test]
    fn key_orders_are_listed_once_and_read_back_row_by_row() {
        let mut o = OrderNotes::default();
        o.append(
            0,
            &[(100, vec![1, 0]), (101, vec![1, 0]), (500, vec![2, 0, 1])],
        );
        o.append(1000, &[(0, vec![2, 0, 1])]);
        let text = o.encode().unwrap();
        assert_eq!(text, "1,0;2,0,1|r0:100,1:2,0:398,2:1,0:499,2:1");
        let mut back = OrderNote::parse(text, 2000, 3).unwrap();
        let mut got = back.batch(300).unwrap();
        got.extend(back.batch(900).unwrap());
        got.extend(back.batch(800).unwrap());
        let mut want = vec![0; 2000];
        want[100] = 1;
        want[101] = 1;
        want[500] = 2;
        want[1000] = 2;
        assert_eq!(got, want);
        // Alternating orders: one character per row.
        let mut o = OrderNotes::default();
        let alt: Vec<(usize, Vec<u32>)> = (0..100).step_by(2).map(|r| (r, vec![1, 0])).collect();
        o.append(0, &alt);
        let text = o.encode().unwrap();
        assert!(text.starts_with("1,0|d1010"), "{text}");
        let mut back = OrderNote::parse(text, 100, 2).unwrap();
        let got: Vec<u32> = (0..10).flat_map(|_| back.batch(10).unwrap()).collect();
        assert_eq!(
            got,
            (0..100).map(|r| u32::from(r % 2 == 0)).collect::<Vec<_>>()
        );
        assert!(OrderNotes::default().encode().is_none());
    }

    #[test]
    fn bad_key_orders_are_refused() {
        for text in [
            "",
            "1,0",
            "1,0|x",
            "1,0|r2:1",
            "1,0|r1:11",
            "1,0|r1:0",
            "1,0|r1",
            "1,0|r1:5,1:6",
            "1,1|r1:1",
            "1,5|r1:1",
            "1,0|d2",
            "1,0|d11111111111",
            "1,0|d!",
            "|r1:1",
        ] {
            assert!(OrderNote::parse(text.to_owned(), 10, 2).is_err(), "{text}");
        }
    }
}
