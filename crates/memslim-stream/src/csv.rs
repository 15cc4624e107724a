//! The CSV reader: header, quoting (RFC 4180, with line breaks inside quotes), any
//! one-byte delimiter, and column types inferred over the whole input.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use memslim_records::{DType, RecordList};

use crate::block::{Batcher, BlockSource, ParsedBlock, Raw, Text};
use crate::error::{Result, StreamError};
use crate::options::{OnError, ReadOptions, Skipped, block_buffer, column_of};
use crate::progress::Progress;
use crate::source::{BlockError, Input, LineBlocks, MAX_LINE_BYTES, line_len, too_long};

/// Opens the input again (type inference reads it twice).
pub type Reopen = Box<dyn FnMut() -> Result<Input> + Send>;

/// CSV dialect and typing.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// Field separator (one byte, e.g. `b','`, `b'\t'`, `b';'`).
    pub delimiter: u8,
    /// Quote character.
    pub quote: u8,
    /// The first record names the fields (otherwise `column_1`, `column_2`, ...).
    pub header: bool,
    /// Infer `int64`/`float64`/`bool` columns over the whole input (a first pass);
    /// otherwise every value is a `str`, as `csv.DictReader` gives them.
    pub infer: bool,
    /// What bytes that are not UTF-8 do.
    pub encoding_errors: EncodingErrors,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            header: true,
            infer: true,
            encoding_errors: EncodingErrors::Strict,
        }
    }
}

/// What a reader does with bytes that are not UTF-8 (the names of Python's `errors=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EncodingErrors {
    /// The record is malformed: a [`StreamError::Syntax`] naming its line, the column
    /// and the byte offset in the input (or it is skipped with [`OnError::Skip`]).
    #[default]
    Strict,
    /// Each invalid sequence reads as U+FFFD, as `bytes.decode(errors="replace")` does.
    Replace,
}

impl CsvOptions {
    /// A one-character dialect option (`delimiter`, `quotechar`) as its byte.
    ///
    /// # Errors
    /// [`StreamError::Invalid`] naming `what` unless `s` is one ASCII character.
    pub fn dialect_byte(what: &str, s: &str) -> Result<u8> {
        match s.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(StreamError::Invalid(format!(
                "{what} must be a single ASCII character, not {s:?}"
            ))),
        }
    }
}

impl EncodingErrors {
    /// `"strict"` or `"replace"`.
    ///
    /// # Errors
    /// [`StreamError::Invalid`] for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "strict" => Ok(EncodingErrors::Strict),
            "replace" => Ok(EncodingErrors::Replace),
            other => Err(StreamError::Invalid(format!(
                "encoding_errors must be 'strict' or 'replace', not {other:?}"
            ))),
        }
    }
}

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColType {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

impl ColType {
    /// The type a list reports for a column of this type.
    fn dtype(self) -> DType {
        match self {
            ColType::Null => DType::Null,
            ColType::Bool => DType::Bool,
            ColType::Int => DType::Int64,
            ColType::Float => DType::Float64,
            ColType::Str => DType::Str,
        }
    }
}

/// What the values of a column seen so far allow.
///
/// A type is inferred only if it keeps every value: an integer literal beyond 64 bits,
/// one with a `+` or leading zeros (`007`, a code rather than a number), or one a
/// `float64` cannot hold exactly (beyond 2**53) in a column that turns out to be
/// `float64`, keeps the column `str`.
#[derive(Clone, Copy, Debug)]
struct Seen {
    any: bool,
    int: bool,
    float: bool,
    bool: bool,
    /// Some integer seen is not exactly a `float64`.
    int_inexact: bool,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            any: false,
            int: true,
            float: true,
            bool: true,
            int_inexact: false,
        }
    }
}

/// `-?[0-9]+` or `+[0-9]+`: an integer literal.
fn int_syntax(s: &str) -> bool {
    let d = s.strip_prefix(['-', '+']).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

/// The literal is exactly how Python prints the integer (no `+`, no leading zeros, no
/// `-0`), so reading it as a number loses nothing.
fn canonical_int(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.starts_with('+') && (d == "0" && d.len() == s.len() || !d.starts_with('0'))
}

impl Seen {
    fn add(&mut self, s: &str) {
        self.any = true;
        if self.int || self.float {
            if int_syntax(s) {
                match s.parse::<i64>() {
                    Ok(i) if canonical_int(s) => {
                        let f = i as f64;
                        if f as i128 != i128::from(i) {
                            self.int_inexact = true;
                        }
                    }
                    // Beyond 64 bits, or not written as a number would be.
                    _ => {
                        self.int = false;
                        self.float = false;
                    }
                }
            } else {
                self.int = false;
                if self.float && !is_float(s) {
                    self.float = false;
                }
            }
        }
        if self.bool && parse_bool(s).is_none() {
            self.bool = false;
        }
    }

    fn col_type(self) -> ColType {
        if !self.any {
            ColType::Null
        } else if self.int {
            ColType::Int
        } else if self.float && !self.int_inexact {
            ColType::Float
        } else if self.bool {
            ColType::Bool
        } else {
            ColType::Str
        }
    }
}

fn is_float(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit()) && s.parse::<f64>().is_ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// One field of a record: where its text is, whether it was quoted, and its raw bytes
/// in the block (between the quotes).
#[derive(Clone, Copy, Debug)]
struct Field {
    text: Text,
    quoted: bool,
    span: (u32, u32),
}

/// Why a record could not be split.
enum Split {
    /// The block ends inside the record: more input is needed.
    More,
    /// Malformed at this byte offset (from the record start).
    Bad(usize, &'static str),
    /// The memory to decode a quoted field (this many bytes) cannot be had.
    NoMemory(usize),
}

/// Splits the record starting at `start` of `text` into `fields`; returns where the
/// next record starts. Decoded (doubled-quote) fields go to `arena` ([`Text::Unquoted`]).
fn split_record(
    text: &str,
    start: usize,
    delim: u8,
    quote: u8,
    fields: &mut Vec<Field>,
    arena: &mut String,
) -> std::result::Result<usize, Split> {
    let b = text.as_bytes();
    let len = b.len();
    fields.clear();
    let mut i = start;
    loop {
        if b.get(i) == Some(&quote) {
            let fs = i + 1;
            let mut j = fs;
            let mut doubled = false;
            let fe = loop {
                match memchr::memchr(quote, &b[j..]) {
                    None => return Err(Split::More),
                    Some(q) => {
                        let q = j + q;
                        if b.get(q + 1) == Some(&quote) {
                            doubled = true;
                            j = q + 2;
                        } else {
                            break q;
                        }
                    }
                }
            };
            let t = if doubled {
                let a = arena.len();
                let raw = text.get(fs..fe).unwrap_or("");
                // Decoded straight into `arena`, grown once with a fallible allocation:
                // the field's length is the input's.
                if arena.try_reserve(raw.len()).is_err() {
                    return Err(Split::NoMemory(raw.len()));
                }
                let q = char::from(quote);
                let pair = String::from_iter([q, q]);
                for (k, piece) in raw.split(pair.as_str()).enumerate() {
                    if k > 0 {
                        arena.push(q);
                    }
                    arena.push_str(piece);
                }
                Text::Unquoted(a as u32, arena.len() as u32)
            } else {
                Text::block(fs, fe)
            };
            fields.push(Field {
                text: t,
                quoted: true,
                span: (fs as u32, fe as u32),
            });
            i = fe + 1;
            match b.get(i) {
                Some(&c) if c == delim => i += 1,
                Some(b'\n') => return Ok(i + 1),
                Some(b'\r') if b.get(i + 1) == Some(&b'\n') => return Ok(i + 2),
                Some(b'\r') => return Ok(i + 1),
                None => return Ok(len),
                Some(_) => {
                    return Err(Split::Bad(
                        i - start,
                        "expected a delimiter after a closing quote",
                    ));
                }
            }
        } else {
            // Outside quotes a line ends at \n, \r\n or a bare \r, as Python's csv
            // module ends it (with newline="").
            match memchr::memchr3(delim, b'\n', b'\r', &b[i..]) {
                Some(p) if b[i + p] == delim => {
                    fields.push(Field {
                        text: Text::block(i, i + p),
                        quoted: false,
                        span: (i as u32, (i + p) as u32),
                    });
                    i += p + 1;
                }
                found => {
                    let end = found.map_or(len, |p| i + p);
                    fields.push(Field {
                        text: Text::block(i, end),
                        quoted: false,
                        span: (i as u32, end as u32),
                    });
                    return Ok(found.map_or(len, |_| line_end(b, end)));
                }
            }
        }
    }
}

/// Reads CSV into [`RecordList`] batches.
///
/// Column types are inferred over the whole input: a first pass reads it all and a
/// column is `int64` if every value is an integer, `float64` if every value is a
/// number, `bool` if every value is `true`/`false` (any case), else `str`; so no value
/// late in the file can contradict a guess made early. An empty unquoted value is
/// `None` (a quoted `""` is the empty string). With `infer` off every value is a `str`
/// (empty ones too), as `csv.DictReader` gives them.
///
/// ```
/// use memslim_stream::{CsvOptions, CsvReader, Input, ReadOptions};
///
/// let data: &'static [u8] = b"id,name,score\n1,ada,9.5\n2,\"bob, jr\",\n";
/// let reopen = Box::new(move || Ok(Input::from_reader("<bytes>", Box::new(data))));
/// let rows = CsvReader::new(reopen, ReadOptions::default(), CsvOptions::default())?.read_all()?;
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows.field_dtype(0).name(), "int64");
/// assert_eq!(rows.field_dtype(2).name(), "float64");
/// # Ok::<(), memslim_stream::StreamError>(())
/// ```
///
/// # Errors
/// [`StreamError::Syntax`] for a record with the wrong number of fields or a stray
/// character after a closing quote, [`StreamError::Truncated`] for a quote still open
/// at the end; with [`OnError::Skip`] such records are counted and left out.
///
/// # Memory
/// As [`crate::JsonlReader`]; the inference pass keeps only per-column flags.
pub struct CsvReader {
    batcher: Batcher,
    opts: ReadOptions,
    total: Option<u64>,
}

impl CsvReader {
    /// A reader over the input `reopen` opens (twice when types are inferred).
    ///
    /// # Errors
    /// Opening the input, or an invalid delimiter/quote.
    pub fn new(mut reopen: Reopen, opts: ReadOptions, csv: CsvOptions) -> Result<Self> {
        if csv.delimiter == csv.quote
            || matches!(csv.delimiter, b'\n' | b'\r')
            || matches!(csv.quote, b'\n' | b'\r')
            || !csv.delimiter.is_ascii()
            || !csv.quote.is_ascii()
        {
            return Err(StreamError::Invalid(
                "delimiter and quote must be two different ASCII characters, not line breaks"
                    .into(),
            ));
        }
        let quote = csv.quote;
        let input = reopen()?;
        let name = input.name.clone();
        let total = input.total;
        let consumed = Arc::new(AtomicU64::new(0));
        let parser = CsvParser {
            name: name.clone(),
            reopen,
            first: Some(input),
            blocks: None,
            consumed,
            line: 0,
            csv,
            selection: opts.selection(),
            columns_asked: opts.columns.is_some(),
            declared: opts.schema.clone(),
            on_error: opts.on_error,
            block_bytes: opts.block_bytes,
            names: Arc::new(Vec::new()),
            typed: Arc::new(Vec::new()),
            types: Vec::new(),
            keep: Vec::new(),
            started: false,
            done: false,
            fields: Vec::new(),
            unquoted: String::new(),
            header_skipped: false,
            max_line: opts.max_line_bytes.clamp(1, MAX_LINE_BYTES),
            damage: Damage {
                quote,
                ..Damage::default()
            },
        };
        Ok(CsvReader {
            batcher: Batcher::new(name, Box::new(parser), opts.threaded, opts.on_error),
            total,
            opts,
        })
    }

    /// Draws a progress bar on stderr while reading (the inference pass is not shown).
    pub fn with_progress(mut self) -> Self {
        self.batcher.progress = Some(Progress::stderr(&self.batcher.name, self.total));
        self
    }

    /// Reads everything into one list.
    ///
    /// # Errors
    /// As the iterator.
    pub fn read_all(mut self) -> Result<RecordList> {
        let mut list = crate::BatchReader::read_rest(&mut self)?;
        list.optimize();
        Ok(list)
    }
}

impl crate::BatchReader for CsvReader {
    fn name(&self) -> &str {
        &self.batcher.name
    }
    fn rows(&self) -> u64 {
        self.batcher.rows
    }
    fn skipped(&self) -> &Skipped {
        &self.batcher.skipped
    }
    fn start_rest(&mut self) -> Result<RecordList> {
        self.opts.rest_list()
    }
    fn fill_more(&mut self, list: &mut RecordList, add: usize) -> Result<bool> {
        self.batcher.fill_more(list, add)
    }
}

impl Iterator for CsvReader {
    type Item = Result<RecordList>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batcher.next_batch(&self.opts)
    }
}

struct CsvParser {
    name: String,
    reopen: Reopen,
    first: Option<Input>,
    blocks: Option<LineBlocks>,
    consumed: Arc<AtomicU64>,
    line: u64,
    csv: CsvOptions,
    selection: Option<Vec<String>>,
    /// The selection is `columns` (each must be a field), not a schema's names.
    columns_asked: bool,
    declared: Option<Vec<(String, DType)>>,
    on_error: OnError,
    block_bytes: usize,
    names: Arc<Vec<String>>,
    /// The kept fields and their types, for every batch ([`ParsedBlock::typed`]).
    typed: Arc<Vec<(String, DType)>>,
    types: Vec<ColType>,
    keep: Vec<bool>,
    started: bool,
    done: bool,
    fields: Vec<Field>,
    /// Decoded fields of the record being split ([`Text::Unquoted`]).
    unquoted: String,
    header_skipped: bool,
    max_line: usize,
    /// The current block's bytes that are not UTF-8.
    damage: Damage,
}

impl CsvParser {
    fn syntax(
        &self,
        line: u64,
        text: &str,
        rec_start: usize,
        off: usize,
        reason: &str,
    ) -> StreamError {
        // A record may span lines (a quoted field holding line breaks): the position is
        // the line and column of the offending byte itself.
        let rest = text.as_bytes().get(rec_start..).unwrap_or(&[]);
        let before = &rest[..off.min(rest.len())];
        let line_start = memchr::memrchr2(b'\n', b'\r', before).map_or(0, |p| p + 1);
        StreamError::Syntax {
            input: self.name.clone(),
            line: line + count_lines(before),
            column: column_of(&rest[line_start..], off - line_start.min(off)),
            reason: reason.to_owned(),
        }
    }

    /// Reads the whole input once, splitting records, and calls `each` with every
    /// record's fields (the header included). Stops at the first malformed record.
    fn scan(
        &mut self,
        input: Input,
        mut each: impl FnMut(&str, &str, &[Field], &Damage) -> Result<bool>,
    ) -> Result<()> {
        let mut blocks = LineBlocks::new(input.reader, self.block_bytes)
            .with_max_line(self.max_line)
            .with_cr_line_ends();
        let mut fields = Vec::new();
        let mut arena = String::new();
        let mut buf = Vec::new();
        let mut damage = Damage {
            quote: self.csv.quote,
            ..Damage::default()
        };
        // Lines of the blocks done (for the line number of an error).
        let mut lines_done = 0u64;
        loop {
            match blocks.next_block() {
                Ok(true) => {}
                Ok(false) => break,
                // A record too long for the buffer: pass 2 meets it at the same place
                // and raises, after any error before it, so errors come in input order.
                // (The types inferred so far hold for every record before it.)
                Err(BlockError::TooLong { .. }) => break,
                Err(e) => return Err(e.into_stream(&self.name, lines_done + 1)),
            }
            let block = blocks.block();
            buf = block_buffer(buf, block.len(), blocks.buffer_bytes()).ok_or_else(|| {
                StreamError::OutOfMemory {
                    input: self.name.clone(),
                    line: lines_done + 1,
                    bytes: block.len(),
                }
            })?;
            buf.extend_from_slice(block);
            damage.check(&mut buf, blocks.block_offset());
            let text = std::str::from_utf8(&buf).unwrap_or("");
            let mut pos = 0;
            while pos < text.len() {
                arena.clear();
                match split_record(
                    text,
                    pos,
                    self.csv.delimiter,
                    self.csv.quote,
                    &mut fields,
                    &mut arena,
                ) {
                    Ok(next) => {
                        // A record too long or (strictly) not UTF-8 plays no part in
                        // inference: pass 2 reports it, or skips it.
                        let bad = line_len(&text.as_bytes()[pos..next]) > self.max_line
                            || (self.csv.encoding_errors == EncodingErrors::Strict
                                && damage.first_in(pos, next).is_some());
                        if !bad
                            && !is_blank(text, &fields)
                            && !each(text, &arena, &fields, &damage)?
                        {
                            return Ok(());
                        }
                        pos = next;
                    }
                    Err(Split::More) if !blocks.is_last() => {
                        blocks.keep_tail(text.len() - pos);
                        break;
                    }
                    Err(Split::More) => {
                        // An open quote at the end: the record is cut off; pass 2
                        // reports it (or skips it).
                        pos = text.len();
                    }
                    Err(Split::Bad(..)) => {
                        pos = next_line(text.as_bytes(), pos);
                    }
                    Err(Split::NoMemory(bytes)) => {
                        let line = lines_done + count_lines(&text.as_bytes()[..pos]) + 1;
                        return Err(StreamError::OutOfMemory {
                            input: self.name.clone(),
                            line,
                            bytes,
                        });
                    }
                }
            }
            lines_done += count_lines(&text.as_bytes()[..pos.min(text.len())]);
        }
        Ok(())
    }

    /// Reads the header and infers column types (the first pass).
    fn start(&mut self) -> Result<()> {
        let first = match self.first.take() {
            Some(i) => i,
            None => (self.reopen)()?,
        };
        let infer = self.csv.infer;
        let header = self.csv.header;
        let mut names: Option<Vec<String>> = None;
        let mut seen: Vec<Seen> = Vec::new();
        let mut first_input = Some(first);
        if header || infer {
            let input = first_input
                .take()
                .ok_or_else(|| StreamError::Invalid("no input".into()))?;
            self.scan(input, |text, arena, fields, damage| {
                if names.is_none() && header {
                    names = Some(
                        fields
                            .iter()
                            .map(|f| damage.value(field_str(text, arena, f), f).into_owned())
                            .collect(),
                    );
                    seen.resize(fields.len(), Seen::default());
                    // Without inference the header is all this pass is for.
                    return Ok(infer);
                }
                // The header's width, or without one the first record's. A record of
                // another width is refused by pass 2 (or skipped), so it must not
                // decide the type of any field the kept records have.
                if seen.is_empty() {
                    seen.resize(fields.len(), Seen::default());
                } else if fields.len() != seen.len() {
                    return Ok(true);
                }
                for (k, f) in fields.iter().enumerate() {
                    let v = damage.value(field_str(text, arena, f), f);
                    if !v.is_empty() || f.quoted {
                        seen[k].add(&v);
                    }
                }
                Ok(true)
            })?;
            if names.is_none() && !header && !seen.is_empty() {
                names = Some((1..=seen.len()).map(|i| format!("column_{i}")).collect());
            }
        }
        let names = names.unwrap_or_default();
        // A fresh pass for the values.
        let input = match first_input.take() {
            Some(i) => i,
            None => (self.reopen)()?,
        };
        self.consumed = input.consumed.clone();
        self.blocks = Some(
            LineBlocks::new(input.reader, self.block_bytes)
                .with_max_line(self.max_line)
                .with_cr_line_ends(),
        );
        self.set_names(names, &seen)?;
        Ok(())
    }

    fn set_names(&mut self, mut names: Vec<String>, seen: &[Seen]) -> Result<()> {
        for (i, n) in names.iter_mut().enumerate() {
            if n.is_empty() {
                *n = format!("column_{}", i + 1);
            }
        }
        // Sets and maps by name: a header of many fields takes time in proportion to
        // them, not to their square.
        let mut known: HashSet<&str> = HashSet::with_capacity(names.len());
        for n in &names {
            if !known.insert(n) {
                return Err(StreamError::Invalid(format!(
                    "{}: the header names field {n:?} twice",
                    self.name
                )));
            }
        }
        // The first type declared for a name, as a search from the front finds it.
        let mut declared_types: HashMap<&str, DType> = HashMap::new();
        for (n, t) in self.declared.iter().flatten() {
            declared_types.entry(n.as_str()).or_insert(*t);
        }
        let selected: Option<HashSet<&str>> = self
            .selection
            .as_ref()
            .map(|s| s.iter().map(String::as_str).collect());
        let types: Vec<ColType> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let declared = declared_types.get(n.as_str()).copied();
                match declared {
                    Some(DType::Int64) => ColType::Int,
                    Some(DType::Float64) => ColType::Float,
                    Some(DType::Bool) => ColType::Bool,
                    Some(DType::Null) => ColType::Null,
                    Some(_) => ColType::Str,
                    None if !self.csv.infer => ColType::Str,
                    None => seen.get(k).copied().unwrap_or_default().col_type(),
                }
            })
            .collect();
        // The header is known, so a name it lacks is a mistake (a typo, a case
        // difference), not a field some records may have (as in JSONL): say so rather
        // than read nothing. An empty input has no fields to check against.
        let columns = self
            .selection
            .iter()
            .filter(|_| self.columns_asked)
            .flatten();
        let declared = self.declared.iter().flatten().map(|(n, _)| n);
        let asked: [(&str, Vec<&String>); 2] = [
            ("columns", columns.collect()),
            ("schema", declared.collect()),
        ];
        for (option, asked) in asked {
            let missing: Vec<&String> = asked
                .into_iter()
                .filter(|c| !known.contains(c.as_str()))
                .collect();
            if !missing.is_empty() && !names.is_empty() {
                return Err(StreamError::Invalid(format!(
                    "{}: {option}= names {missing:?}, which the input does not have (its \
                     fields: {names:?})",
                    self.name
                )));
            }
        }
        let keep = names
            .iter()
            .map(|n| selected.as_ref().is_none_or(|s| s.contains(n.as_str())))
            .collect();
        drop(known);
        self.types = types;
        self.keep = keep;
        self.typed = Arc::new(
            names
                .iter()
                .zip(&self.types)
                .zip(&self.keep)
                .filter(|(_, keep)| **keep)
                .map(|((n, t), _)| (n.clone(), t.dtype()))
                .collect(),
        );
        self.names = Arc::new(names);
        Ok(())
    }
}

/// Where the line break at `at` (a `\n`, or a `\r` alone or before a `\n`) ends.
fn line_end(b: &[u8], at: usize) -> usize {
    if b[at] == b'\r' && b.get(at + 1) == Some(&b'\n') {
        at + 2
    } else {
        at + 1
    }
}

/// Where the line after the one at `pos` starts (the end of `b` if none does).
fn next_line(b: &[u8], pos: usize) -> usize {
    memchr::memchr2(b'\n', b'\r', &b[pos..]).map_or(b.len(), |p| line_end(b, pos + p))
}

/// Line breaks in `b`: each `\n`, and each `\r` not followed by one.
fn count_lines(b: &[u8]) -> u64 {
    memchr::memchr2_iter(b'\n', b'\r', b)
        .filter(|&p| b[p] == b'\n' || b.get(p + 1) != Some(&b'\n'))
        .count() as u64
}

fn is_blank(text: &str, fields: &[Field]) -> bool {
    fields.len() == 1
        && !fields[0].quoted
        && matches!(fields[0].text, Text::Block(a, b) if text.get(a as usize..b as usize).is_some_and(str::is_empty))
}

fn field_str<'x>(text: &'x str, arena: &'x str, f: &Field) -> &'x str {
    match f.text {
        Text::Block(a, b) => text.get(a as usize..b as usize).unwrap_or(""),
        Text::Unquoted(a, b) => arena.get(a as usize..b as usize).unwrap_or(""),
        Text::Scratch(_) | Text::Name(_) => "",
    }
}

/// The bytes of a block that are not UTF-8.
///
/// The block's text has each invalid sequence overwritten with `?` (the same length, so
/// offsets and kept tails stay those of the input), which is good for finding record
/// and field boundaries (all ASCII) but is not a value: a field that overlaps one is
/// refused ([`EncodingErrors::Strict`]) or decoded from the original bytes with U+FFFD
/// ([`EncodingErrors::Replace`]).
#[derive(Debug, Default)]
struct Damage {
    /// `(offset, length)` of each invalid sequence, in order.
    bad: Vec<(usize, usize)>,
    /// The block's original bytes (kept only when `bad` is not empty).
    orig: Vec<u8>,
    /// Where the block starts in the input.
    block_start: u64,
    quote: u8,
}

impl Damage {
    /// Checks `raw` (a whole block starting at byte `block_start` of the input), making it
    /// text as described above.
    fn check(&mut self, raw: &mut [u8], block_start: u64) {
        self.bad.clear();
        self.orig.clear();
        self.block_start = block_start;
        let Err(e) = std::str::from_utf8(raw) else {
            return;
        };
        self.orig.extend_from_slice(raw);
        let mut pos = e.valid_up_to();
        loop {
            let rest = &raw[pos..];
            let (at, n) = match std::str::from_utf8(rest) {
                Ok(_) => break,
                Err(e) => (
                    pos + e.valid_up_to(),
                    e.error_len().unwrap_or(rest.len() - e.valid_up_to()),
                ),
            };
            raw[at..at + n].fill(b'?');
            self.bad.push((at, n));
            pos = at + n;
        }
    }

    /// The first invalid byte in `from..to`.
    fn first_in(&self, from: usize, to: usize) -> Option<usize> {
        let i = self.bad.partition_point(|&(a, n)| a + n <= from);
        self.bad.get(i).map(|&(a, _)| a).filter(|&a| a < to)
    }

    /// A field's value: `text` (as split), or for a field with invalid bytes its original
    /// bytes decoded with U+FFFD for each invalid sequence.
    fn value<'x>(&self, text: &'x str, f: &Field) -> Cow<'x, str> {
        let (a, b) = (f.span.0 as usize, f.span.1 as usize);
        if self.bad.is_empty() || self.first_in(a, b).is_none() {
            return Cow::Borrowed(text);
        }
        let v = String::from_utf8_lossy(self.orig.get(a..b).unwrap_or(&[])).into_owned();
        if matches!(f.text, Text::Unquoted(..)) {
            let q = char::from(self.quote);
            Cow::Owned(v.replace(&format!("{q}{q}"), &q.to_string()))
        } else {
            Cow::Owned(v)
        }
    }

    /// The error for the invalid byte at `bad` in the record at `rec_start` (line
    /// `line`) of `text`.
    fn error(
        &self,
        name: &str,
        text: &str,
        rec_start: usize,
        line: u64,
        bad: usize,
    ) -> StreamError {
        let before = &text.as_bytes()[rec_start..bad];
        let line_start =
            memchr::memrchr2(b'\n', b'\r', before).map_or(rec_start, |p| rec_start + p + 1);
        let byte = self.orig.get(bad).copied().unwrap_or(0);
        StreamError::Syntax {
            input: name.to_owned(),
            line: line + count_lines(before),
            column: column_of(&text.as_bytes()[line_start..], bad - line_start),
            reason: format!(
                "invalid UTF-8: byte 0x{byte:02X} at byte offset {} of the input \
                 (encoding_errors=\"replace\" reads it as U+FFFD)",
                self.block_start + bad as u64
            ),
        }
    }
}

impl BlockSource for CsvParser {
    fn consumed(&self) -> Arc<AtomicU64> {
        self.consumed.clone()
    }

    fn parse_next(&mut self, pb: &mut ParsedBlock) -> bool {
        if self.done {
            return false;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = self.start() {
                pb.error = Some(e);
                self.done = true;
                return true;
            }
        }
        pb.names = self.names.clone();
        pb.typed = self.typed.clone();
        let Some(blocks) = self.blocks.as_mut() else {
            self.done = true;
            return false;
        };
        match blocks.next_block() {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return false;
            }
            Err(e) => {
                pb.error = Some(e.into_stream(&self.name, self.line + 1));
                self.done = true;
                return true;
            }
        }
        let block = blocks.block();
        let Some(mut raw) = block_buffer(
            std::mem::take(&mut pb.text).into_bytes(),
            block.len(),
            blocks.buffer_bytes(),
        ) else {
            pb.error = Some(StreamError::OutOfMemory {
                input: self.name.clone(),
                line: self.line + 1,
                bytes: block.len(),
            });
            self.done = true;
            return true;
        };
        raw.extend_from_slice(block);
        let last = blocks.is_last();
        self.damage.check(&mut raw, blocks.block_offset());
        // `check` left only UTF-8; the lossy path cannot change anything.
        let text = String::from_utf8(raw)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let result = self.parse_records(&text, last, pb);
        pb.text = text;
        if let Some(keep) = result {
            if let Some(b) = self.blocks.as_mut() {
                b.keep_tail(keep);
            }
        }
        true
    }
}

impl CsvParser {
    /// Parses the records of a block into `pb`; returns how many bytes at the end hold
    /// an incomplete record (to be read again with the next block).
    fn parse_records(&mut self, text: &str, last: bool, pb: &mut ParsedBlock) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut fields = std::mem::take(&mut self.fields);
        let mut pos = 0;
        let mut keep = None;
        while pos < text.len() {
            let line = self.line + 1;
            self.unquoted.clear();
            match split_record(
                text,
                pos,
                self.csv.delimiter,
                self.csv.quote,
                &mut fields,
                &mut self.unquoted,
            ) {
                Ok(next) => {
                    let rec_start = pos;
                    self.line += count_lines(&bytes[pos..next]).max(1);
                    pos = next;
                    if is_blank(text, &fields) {
                        continue;
                    }
                    let header = self.csv.header && !self.header_skipped;
                    let problem = if line_len(&text.as_bytes()[rec_start..next]) > self.max_line {
                        Some(StreamError::Syntax {
                            input: self.name.clone(),
                            line,
                            column: 1,
                            reason: too_long(self.max_line),
                        })
                    } else if self.csv.encoding_errors == EncodingErrors::Strict {
                        self.damage
                            .first_in(rec_start, next)
                            .map(|bad| self.damage.error(&self.name, text, rec_start, line, bad))
                    } else {
                        None
                    };
                    if let Some(e) = problem {
                        // A bad header is never skipped: the field names depend on it.
                        if header || self.on_error == OnError::Raise {
                            pb.error = Some(e);
                            self.done = true;
                            break;
                        }
                        pb.skipped.add(&e);
                        continue;
                    }
                    if header {
                        self.header_skipped = true;
                        continue;
                    }
                    if self.names.is_empty() {
                        // No header and no inference pass: number the fields.
                        let names = (1..=fields.len()).map(|i| format!("column_{i}")).collect();
                        if let Err(e) = self.set_names(names, &[]) {
                            pb.error = Some(e);
                            self.done = true;
                            break;
                        }
                        pb.names = self.names.clone();
                        pb.typed = self.typed.clone();
                    }
                    if let Err(e) = self.push_record(text, rec_start, line, &fields, pb) {
                        // Memory that is not there is no bad record to skip.
                        let no_memory = matches!(e, StreamError::OutOfMemory { .. });
                        match self.on_error {
                            OnError::Skip if !no_memory => pb.skipped.add(&e),
                            _ => {
                                pb.error = Some(e);
                                self.done = true;
                                break;
                            }
                        }
                    }
                }
                Err(Split::More) if !last => {
                    keep = Some(text.len() - pos);
                    break;
                }
                Err(Split::More) => {
                    let e = StreamError::Truncated {
                        input: self.name.clone(),
                        line,
                        reason: "a quoted field is not closed".into(),
                    };
                    self.line += count_lines(&bytes[pos..]);
                    pos = text.len();
                    match self.on_error {
                        OnError::Raise => {
                            pb.error = Some(e);
                            self.done = true;
                        }
                        OnError::Skip => pb.skipped.add(&e),
                    }
                }
                Err(Split::NoMemory(bytes)) => {
                    pb.error = Some(StreamError::OutOfMemory {
                        input: self.name.clone(),
                        line,
                        bytes,
                    });
                    self.done = true;
                    break;
                }
                Err(Split::Bad(off, reason)) => {
                    let e = self.syntax(line, text, pos, off, reason);
                    self.line += 1;
                    pos = next_line(bytes, pos);
                    match self.on_error {
                        OnError::Raise => {
                            pb.error = Some(e);
                            self.done = true;
                            break;
                        }
                        OnError::Skip => pb.skipped.add(&e),
                    }
                }
            }
        }
        self.fields = fields;
        keep
    }

    fn push_record(
        &mut self,
        text: &str,
        rec_start: usize,
        line: u64,
        fields: &[Field],
        pb: &mut ParsedBlock,
    ) -> Result<()> {
        if fields.len() != self.names.len() {
            return Err(StreamError::Syntax {
                input: self.name.clone(),
                line,
                column: 1,
                reason: format!(
                    "expected {} fields, found {}",
                    self.names.len(),
                    fields.len()
                ),
            });
        }
        let mark = pb.fields.len();
        for (k, f) in fields.iter().enumerate() {
            if !self.keep[k] {
                continue;
            }
            let s = match f.text {
                Text::Block(a, b) => text.get(a as usize..b as usize).unwrap_or(""),
                Text::Unquoted(a, b) => self.unquoted.get(a as usize..b as usize).unwrap_or(""),
                Text::Scratch(_) | Text::Name(_) => "",
            };
            // With encoding_errors=Replace, a field with bytes that are not UTF-8.
            let replaced = match self.damage.value(s, f) {
                Cow::Owned(v) => Some(v),
                Cow::Borrowed(_) => None,
            };
            let s = replaced.as_deref().unwrap_or(s);
            let empty = s.is_empty() && !f.quoted;
            let bad = |what: &str| {
                let off = match f.text {
                    Text::Block(a, _) => (a as usize).saturating_sub(rec_start),
                    _ => 0,
                };
                self.syntax(
                    line,
                    text,
                    rec_start,
                    off,
                    &format!("field {:?}: cannot read {s:?} as {what}", self.names[k]),
                )
            };
            let raw = match self.types[k] {
                _ if empty && self.csv.infer => Raw::Null,
                ColType::Null if empty => Raw::Null,
                ColType::Int => match s.parse::<i64>() {
                    Ok(i) => Raw::Int(i),
                    Err(_) => {
                        pb.fields.truncate(mark);
                        return Err(bad("int64"));
                    }
                },
                ColType::Float => match s.parse::<f64>() {
                    Ok(x) => Raw::Float(x),
                    Err(_) => {
                        pb.fields.truncate(mark);
                        return Err(bad("float64"));
                    }
                },
                ColType::Bool => match parse_bool(s) {
                    Some(x) => Raw::Bool(x),
                    None => {
                        pb.fields.truncate(mark);
                        return Err(bad("bool"));
                    }
                },
                ColType::Str | ColType::Null => {
                    if replaced.is_none() && !matches!(f.text, Text::Unquoted(..)) {
                        Raw::Str(f.text)
                    } else if let Some(t) = pb.try_keep_str(s) {
                        Raw::Str(t)
                    } else {
                        pb.fields.truncate(mark);
                        return Err(StreamError::OutOfMemory {
                            input: self.name.clone(),
                            line,
                            bytes: s.len(),
                        });
                    }
                }
            };
            pb.fields.push((Text::name(k), raw));
        }
        pb.records.push((pb.fields.len(), line));
        Ok(())
    }
}

#[cfg(test)]
mod dialect_tests {
    use super::*;

    #[test]
    fn a_dialect_option_is_one_ascii_character() {
        assert_eq!(CsvOptions::dialect_byte("delimiter", ";").unwrap(), b';');
        assert_eq!(CsvOptions::dialect_byte("quotechar", "'").unwrap(), b'\'');
        for bad in ["", ";;", "é"] {
            let e = CsvOptions::dialect_byte("delimiter", bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("delimiter must be a single ASCII character, not {bad:?}")
            );
        }
    }
}

#[cfg(test)]
mod selection_tests {
    use super::*;

    fn read(
        text: &'static [u8],
        header: bool,
        infer: bool,
        columns: &[&str],
    ) -> Result<RecordList> {
        let reopen = Box::new(move || Ok(Input::from_reader("t.csv", Box::new(text))));
        let opts = ReadOptions {
            columns: Some(columns.iter().map(|c| (*c).to_owned()).collect()),
            ..ReadOptions::default()
        };
        let csv = CsvOptions {
            header,
            infer,
            ..CsvOptions::default()
        };
        CsvReader::new(reopen, opts, csv)?.read_all()
    }

    #[test]
    fn columns_must_name_fields_the_input_has() {
        for (header, infer) in [(true, true), (true, false), (false, true), (false, false)] {
            let (text, name): (&'static [u8], _) = if header {
                (b"a,b\n1,2\n", "b")
            } else {
                (b"1,2\n", "column_2")
            };
            let rows = read(text, header, infer, &[name]).unwrap();
            assert_eq!((rows.len(), rows.num_fields()), (1, 1));
            let e = read(text, header, infer, &[name, "nope"]).unwrap_err();
            assert!(
                matches!(&e, StreamError::Invalid(m) if m.contains("[\"nope\"]") && m.contains("t.csv")),
                "{e}"
            );
        }
        // An empty input has no fields to check against.
        assert_eq!(read(b"", true, true, &["nope"]).unwrap().len(), 0);
    }

    #[test]
    fn a_leading_byte_order_mark_is_no_part_of_the_first_name() {
        for infer in [true, false] {
            let rows = read(b"\xEF\xBB\xBFa,b\n1,2\n", true, infer, &["a"]).unwrap();
            assert_eq!((rows.len(), rows.num_fields()), (1, 1));
        }
    }

    #[test]
    fn schema_must_name_fields_the_input_has() {
        let read = |text: &'static [u8], schema: &[&str]| {
            let reopen = Box::new(move || Ok(Input::from_reader("t.csv", Box::new(text))));
            let opts = ReadOptions {
                schema: Some(
                    schema
                        .iter()
                        .map(|n| ((*n).to_owned(), DType::Int64))
                        .collect(),
                ),
                ..ReadOptions::default()
            };
            CsvReader::new(reopen, opts, CsvOptions::default())?.read_all()
        };
        let rows = read(b"id,price\n1,2\n", &["id"]).unwrap();
        assert_eq!((rows.len(), rows.num_fields()), (1, 1));
        // A schema that only differs from the header in case read every value away.
        let e = read(b"id,price\n1,2\n", &["ID", "price"]).unwrap_err();
        assert!(
            matches!(&e, StreamError::Invalid(m)
                if m.contains("schema= names [\"ID\"]") && m.contains("t.csv")),
            "{e}"
        );
        assert_eq!(read(b"", &["nope"]).unwrap().len(), 0);
    }
}

#[cfg(test)]
mod batch_type_tests {
    use super::*;

    #[test]
    fn every_batch_has_the_types_inferred_over_the_whole_input() {
        // Column z is empty in the first batch and an integer in the second.
        let mut text = b"id,z,s\n".to_vec();
        for i in 0..10 {
            let z = if i < 5 { String::new() } else { i.to_string() };
            text.extend_from_slice(format!("{i},{z},\n").as_bytes());
        }
        let text: &'static [u8] = text.leak();
        for (columns, want) in [
            (None, vec![("id", "int64"), ("z", "int64"), ("s", "null")]),
            (Some(vec!["z".to_owned()]), vec![("z", "int64")]),
        ] {
            let reopen = Box::new(move || Ok(Input::from_reader("t.csv", Box::new(text))));
            let opts = ReadOptions {
                batch_size: 5,
                columns,
                ..ReadOptions::default()
            };
            let batches: Vec<RecordList> = CsvReader::new(reopen, opts, CsvOptions::default())
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            assert_eq!(batches.len(), 2);
            for b in &batches {
                let got: Vec<(&str, &str)> = (0..b.num_fields())
                    .map(|j| (b.field_name(j), b.field_dtype(j).name()))
                    .collect();
                assert_eq!(got, want);
            }
        }
    }
}
