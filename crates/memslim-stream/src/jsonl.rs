//! The JSONL reader: one JSON object per line, parsed straight into record batches.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use memslim_arena::{ArenaSlice, ArenaStr, Scratch};
use memslim_records::RecordList;

use crate::block::{Batcher, BlockSource, ParsedBlock, Raw, Text};
use crate::error::{Result, StreamError};
use crate::json::{Parser, Reason, Scalar, StrAt, SyntaxError};
use crate::nested::{VariantEncoder, decimal_to_le};
use crate::options::{OnError, ReadOptions, Skipped, block_buffer, column_of};
use crate::progress::Progress;
use crate::source::{BlockError, Input, LineBlocks, MAX_LINE_BYTES, line_len};

/// Reads JSON Lines into [`RecordList`] batches.
///
/// An `Iterator` of `Result<RecordList>`: each batch holds `batch_size` records (the
/// last one fewer). Blank lines are ignored; every other line must be one JSON object.
/// Values keep their JSON types as Python's `json` module gives them: objects and arrays
/// (stored in the variant encoding) come back as dicts and lists, integers of any size
/// (up to [`ReadOptions::max_int_digits`] digits) as ints, `NaN`/`Infinity` as floats. A
/// key given twice keeps its first position and last value, as in `json.loads`. Lines
/// are limited to [`ReadOptions::max_line_bytes`] and values to
/// [`crate::json::MAX_NESTING`] levels.
///
/// ```
/// use memslim_stream::{Input, JsonlReader, ReadOptions};
///
/// let data = b"{\"id\": 1, \"tags\": [\"a\"]}\n{\"id\": 2, \"note\": null}\n".to_vec();
/// let input = Input::from_reader("<bytes>", Box::new(std::io::Cursor::new(data)));
/// let rows = JsonlReader::new(input, ReadOptions::default()).read_all()?;
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows.num_fields(), 3);
/// # Ok::<(), memslim_stream::StreamError>(())
/// ```
///
/// # Errors
/// A malformed line is a [`StreamError::Syntax`] naming input, line and column; an input
/// that ends inside its last record is [`StreamError::Truncated`]; a record that does not
/// fit a declared schema is [`StreamError::Record`]. With [`OnError::Skip`] such lines
/// are counted ([`JsonlReader::skipped`]) and left out. After an error the reader ends.
///
/// # Memory
/// One block of input (256 KiB, or the longest line, never past the line limit) and its
/// parsed values (three such blocks when `threaded`), reused for every block, plus the
/// batch being filled.
/// Steady-state parsing allocates nothing per record.
pub struct JsonlReader {
    batcher: Batcher,
    opts: ReadOptions,
    total: Option<u64>,
}

impl JsonlReader {
    /// A reader over `input`.
    pub fn new(input: Input, opts: ReadOptions) -> Self {
        let name = input.name.clone();
        let total = input.total;
        let parser = JsonlParser::new(input, &opts);
        JsonlReader {
            batcher: Batcher::new(name, Box::new(parser), opts.threaded, opts.on_error),
            total,
            opts,
        }
    }

    /// Draws a progress bar on stderr while reading.
    pub fn with_progress(mut self) -> Self {
        self.batcher.progress = Some(Progress::stderr(&self.batcher.name, self.total));
        self
    }

    /// Lines skipped so far (with [`OnError::Skip`]).
    pub fn skipped(&self) -> &Skipped {
        &self.batcher.skipped
    }

    /// Records read so far.
    pub fn rows(&self) -> u64 {
        self.batcher.rows
    }

    /// The input's name (path or description).
    pub fn name(&self) -> &str {
        &self.batcher.name
    }

    /// Reads everything into one list.
    ///
    /// # Errors
    /// As the iterator.
    pub fn read_all(mut self) -> Result<RecordList> {
        let mut list = self.read_rest()?;
        list.optimize();
        Ok(list)
    }

    /// Reads everything left into one list, keeping the reader (for its counts).
    ///
    /// # Errors
    /// As the iterator.
    pub fn read_rest(&mut self) -> Result<RecordList> {
        self.opts.batch_size = usize::MAX;
        let mut list = self.opts.new_list()?;
        self.batcher.fill(&mut list, usize::MAX)?;
        Ok(list)
    }
}

impl crate::BatchReader for JsonlReader {
    fn name(&self) -> &str {
        JsonlReader::name(self)
    }
    fn rows(&self) -> u64 {
        JsonlReader::rows(self)
    }
    fn skipped(&self) -> &Skipped {
        JsonlReader::skipped(self)
    }
    fn start_rest(&mut self) -> Result<RecordList> {
        self.opts.rest_list()
    }
    fn fill_more(&mut self, list: &mut RecordList, add: usize) -> Result<bool> {
        self.batcher.fill_more(list, add)
    }
}

impl Iterator for JsonlReader {
    type Item = Result<RecordList>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batcher.next_batch(&self.opts)
    }
}

/// The parsing half of [`JsonlReader`] on its own: fills [`ParsedBlock`]s, which the
/// caller reuses, without building record lists (for other builders, and to show that
/// steady-state parsing allocates nothing).
pub struct JsonlBlocks {
    parser: JsonlParser,
}

impl JsonlBlocks {
    /// Blocks of `input` (`opts.columns`, `opts.on_error`, `opts.block_bytes` and the
    /// limits apply).
    pub fn new(input: Input, opts: &ReadOptions) -> Self {
        JsonlBlocks {
            parser: JsonlParser::new(input, opts),
        }
    }

    /// Parses the next block into `pb` (cleared first); `Ok(false)` at the end.
    ///
    /// # Errors
    /// The first malformed line (with [`OnError::Raise`]); `pb` holds the records
    /// before it.
    pub fn next_into(&mut self, pb: &mut ParsedBlock) -> Result<bool> {
        pb.clear();
        if !self.parser.parse_next(pb) {
            return Ok(false);
        }
        match pb.error.take() {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }
}

/// Parses JSONL blocks.
struct JsonlParser {
    name: String,
    blocks: LineBlocks,
    consumed: Arc<AtomicU64>,
    line: u64,
    tmp: String,
    enc: VariantEncoder,
    selection: Option<Vec<String>>,
    on_error: OnError,
    done: bool,
    /// The previous record's keys (raw bytes, concatenated) and where each ends.
    known: Vec<u8>,
    known_ends: Vec<(usize, usize)>,
    /// Byte ranges of the current record's keys in its line.
    line_keys: Vec<(usize, usize)>,
    max_line: usize,
    max_digits: usize,
}

impl JsonlParser {
    fn new(input: Input, opts: &ReadOptions) -> Self {
        let max_line = opts.max_line_bytes.clamp(1, MAX_LINE_BYTES);
        JsonlParser {
            name: input.name,
            blocks: LineBlocks::new(input.reader, opts.block_bytes).with_max_line(max_line),
            consumed: input.consumed,
            line: 0,
            tmp: String::new(),
            enc: VariantEncoder::new(),
            selection: opts.selection(),
            on_error: opts.on_error,
            done: false,
            known: Vec::new(),
            known_ends: Vec::new(),
            line_keys: Vec::new(),
            max_line,
            max_digits: opts.max_int_digits,
        }
    }
}

impl BlockSource for JsonlParser {
    fn consumed(&self) -> Arc<AtomicU64> {
        self.consumed.clone()
    }

    fn parse_next(&mut self, pb: &mut ParsedBlock) -> bool {
        if self.done {
            return false;
        }
        loop {
            match self.blocks.next_block() {
                Ok(true) => break,
                Ok(false) => {
                    self.done = true;
                    return false;
                }
                Err(e @ BlockError::TooLong { .. }) if self.on_error == OnError::Skip => {
                    // Count it and read past it (without keeping it).
                    self.line += 1;
                    pb.skipped.add(&e.into_stream(&self.name, self.line));
                    if let Err(error) = self.blocks.skip_line() {
                        self.done = true;
                        pb.error = Some(error.into_stream(&self.name, self.line + 1));
                        return true;
                    }
                }
                Err(error) => {
                    self.done = true;
                    pb.error = Some(error.into_stream(&self.name, self.line + 1));
                    return true;
                }
            }
        }
        let block = self.blocks.block();
        let Some(mut raw) = block_buffer(
            std::mem::take(&mut pb.text).into_bytes(),
            block.len(),
            self.blocks.buffer_bytes(),
        ) else {
            self.done = true;
            pb.error = Some(StreamError::OutOfMemory {
                input: self.name.clone(),
                line: self.line + 1,
                bytes: block.len(),
            });
            return true;
        };
        raw.extend_from_slice(block);
        let unterminated = self.blocks.ends_unterminated();
        let mut stop_error = None;
        // The one UTF-8 check of the block (the buffer moves, nothing is copied).
        pb.text = match String::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                // Rare: blank the lines that are not UTF-8 (skip) or cut the block before
                // the first (raise), so the rest can be handled as text.
                let mut raw = e.into_bytes();
                stop_error = self.blank_bad_lines(&mut raw, &mut pb.skipped);
                match String::from_utf8(raw) {
                    Ok(t) => t,
                    Err(e) => {
                        pb.error = Some(StreamError::Invalid(format!("internal error: {e}")));
                        self.done = true;
                        return true;
                    }
                }
            }
        };
        let ParsedBlock {
            text,
            scratch,
            strs,
            encs,
            fields,
            records,
            error,
            skipped,
            ..
        } = pb;
        let text: &str = text;
        let mut out = Out {
            scratch,
            strs,
            encs,
            fields,
        };
        let len = text.len();
        let mut pos = 0;
        while pos < len {
            let (end, next) = match memchr::memchr(b'\n', &text.as_bytes()[pos..]) {
                Some(i) => (pos + i, pos + i + 1),
                None => (len, len),
            };
            self.line += 1;
            let line = text.get(pos..end).unwrap_or("");
            let mark = out.mark();
            // Lines that share a block with others are checked here (a line that fills a
            // block was checked before it was read whole).
            let parsed = if line_len(&text.as_bytes()[pos..next]) > self.max_line {
                Err(SyntaxError {
                    offset: 0,
                    reason: Reason::LineTooLong {
                        limit: self.max_line,
                    },
                })
            } else {
                self.record(line, pos, &mut out)
            };
            match parsed {
                Ok(true) => records.push((out.fields.len(), self.line)),
                Ok(false) => {}
                Err(e) => {
                    out.reset(mark);
                    // Memory that is not there is no bad line to skip.
                    if let Reason::OutOfMemory { bytes } = e.reason {
                        *error = Some(StreamError::OutOfMemory {
                            input: self.name.clone(),
                            line: self.line,
                            bytes,
                        });
                        self.done = true;
                        return true;
                    }
                    let err = if next >= len
                        && unterminated
                        && stop_error.is_none()
                        && e.reason == Reason::UnexpectedEnd
                    {
                        StreamError::Truncated {
                            input: self.name.clone(),
                            line: self.line,
                            reason: e.reason.to_string(),
                        }
                    } else {
                        StreamError::Syntax {
                            input: self.name.clone(),
                            line: self.line,
                            column: column_of(line.as_bytes(), e.offset),
                            reason: e.reason.to_string(),
                        }
                    };
                    match self.on_error {
                        OnError::Raise => {
                            *error = Some(err);
                            self.done = true;
                            return true;
                        }
                        OnError::Skip => skipped.add(&err),
                    }
                }
            }
            pos = next;
        }
        if let Some(e) = stop_error {
            *error = Some(e);
            self.done = true;
        }
        true
    }
}

/// Where a record's parsed values go.
/// Decoded strings and encoded values go to the block's scratch arena (a bad line's
/// stay there, unreferenced, until the block is reused).
struct Out<'p> {
    scratch: &'p mut Scratch,
    strs: &'p mut Vec<ArenaStr>,
    encs: &'p mut Vec<ArenaSlice<u8>>,
    fields: &'p mut Vec<(Text, Raw)>,
}

impl Out<'_> {
    fn mark(&self) -> (usize, usize, usize) {
        (self.strs.len(), self.encs.len(), self.fields.len())
    }

    fn reset(&mut self, (a, e, f): (usize, usize, usize)) {
        self.strs.truncate(a);
        self.encs.truncate(e);
        self.fields.truncate(f);
    }

    /// Keeps a decoded string; its length is the input's, so the copy is a fallible
    /// allocation (`OutOfMemory` at `at`, the input offset the error names).
    fn decoded(&mut self, s: &str, at: usize) -> Result<Text, SyntaxError> {
        let h = self.scratch.try_alloc_str(s).ok_or(SyntaxError {
            offset: at,
            reason: Reason::OutOfMemory { bytes: s.len() },
        })?;
        let i = self.strs.len();
        self.strs.push(h);
        Ok(Text::Scratch(i as u32))
    }

    /// Keeps an encoded value, as [`Out::decoded`] keeps a string.
    fn encoded(&mut self, b: &[u8], at: usize) -> Result<Raw, SyntaxError> {
        let h = self.scratch.try_alloc_slice(b).ok_or(SyntaxError {
            offset: at,
            reason: Reason::OutOfMemory { bytes: b.len() },
        })?;
        let i = self.encs.len();
        self.encs.push(h);
        Ok(Raw::Enc(i as u32))
    }
}

impl JsonlParser {
    /// Makes this line's keys the ones the next record is compared with (if they are
    /// plain and distinct).
    fn remember_keys(&mut self, line: &str) {
        self.known.clear();
        self.known_ends.clear();
        let b = line.as_bytes();
        // Keys seen, for a long record (see `SHORT_RECORD`).
        let long = self.line_keys.len() > SHORT_RECORD;
        let mut seen: HashSet<Option<&[u8]>> = HashSet::new();
        for (i, &(a, e)) in self.line_keys.iter().enumerate() {
            let k = b.get(a..e);
            let dup = if long {
                !seen.insert(k)
            } else {
                self.line_keys[..i].iter().any(|&(x, y)| b.get(x..y) == k)
            };
            let Some(k) = k.filter(|_| !dup) else {
                self.known.clear();
                self.known_ends.clear();
                return;
            };
            let at = self.known.len();
            self.known.extend_from_slice(k);
            self.known_ends.push((at, self.known.len()));
        }
    }

    /// Blanks the lines of `bytes` that are not UTF-8 (counting them as skipped), or cuts
    /// the block before the first one and returns its error.
    fn blank_bad_lines(
        &mut self,
        bytes: &mut Vec<u8>,
        skipped: &mut Skipped,
    ) -> Option<StreamError> {
        let mut pos = 0;
        let mut line = self.line;
        let len = bytes.len();
        while pos < len {
            let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(len, |i| pos + i);
            line += 1;
            if let Err(e) = std::str::from_utf8(&bytes[pos..end]) {
                let err = StreamError::Syntax {
                    input: self.name.clone(),
                    line,
                    column: column_of(&bytes[pos..end], e.valid_up_to()),
                    reason: Reason::InvalidUtf8.to_string(),
                };
                match self.on_error {
                    OnError::Raise => {
                        bytes.truncate(pos);
                        return Some(err);
                    }
                    OnError::Skip => {
                        skipped.add(&err);
                        bytes[pos..end].fill(b' ');
                    }
                }
            }
            pos = end + 1;
        }
        None
    }

    /// Parses one line (at byte `start` of the block) into `out`; `Ok(false)` if blank.
    fn record(&mut self, line: &str, start: usize, out: &mut Out<'_>) -> Result<bool, SyntaxError> {
        let mut p = Parser::new(line, &mut self.tmp).with_max_int_digits(self.max_digits);
        match p.peek() {
            None => return Ok(false),
            Some(b'{') => {}
            Some(_) => {
                return Err(SyntaxError {
                    offset: p.offset(),
                    reason: Reason::Expected("'{' (each line must be a JSON object)"),
                });
            }
        }
        p.expect(b'{', "'{'")?;
        let first = out.fields.len();
        // Keys usually repeat the previous record's, in the same order: compare the
        // bytes instead of scanning them, and skip the duplicate check if all match.
        let mut nkeys = 0;
        let mut all_known = true;
        self.line_keys.clear();
        if p.peek() == Some(b'}') {
            p.expect(b'}', "'}'")?;
        } else {
            loop {
                p.expect(b'"', "'\"' (an object key)")?;
                let known = self.known_ends.get(nkeys).map(|&(a, b)| &self.known[a..b]);
                let fast = known.and_then(|k| p.take_exact(k));
                all_known &= fast.is_some();
                let key_at = match fast {
                    Some(at) => at,
                    None => p.string_at()?,
                };
                nkeys += 1;
                match key_at {
                    StrAt::Input(a, b) => self.line_keys.push((a, b)),
                    // An escaped key: no fast path for records like this one.
                    StrAt::Decoded => self.line_keys.push((usize::MAX, 0)),
                }
                let key = match key_at {
                    StrAt::Input(a, b) => Text::block(start + a, start + b),
                    StrAt::Decoded => out.decoded(p.decoded(), p.offset())?,
                };
                p.expect(b':', "':'")?;
                let keep = match &self.selection {
                    None => true,
                    Some(sel) => {
                        let k = p.str_of(key_at);
                        sel.iter().any(|s| s == k)
                    }
                };
                if keep {
                    let raw = match p.peek() {
                        Some(b'{' | b'[') => {
                            self.enc.clear();
                            p.value(&mut self.enc)?;
                            out.encoded(&self.enc.out, p.offset())?
                        }
                        Some(b'"') => {
                            p.expect(b'"', "'\"'")?;
                            match p.string_at()? {
                                StrAt::Input(a, b) => Raw::Str(Text::block(start + a, start + b)),
                                StrAt::Decoded => Raw::Str(out.decoded(p.decoded(), p.offset())?),
                            }
                        }
                        _ => match p.scalar()? {
                            Scalar::Null => Raw::Null,
                            Scalar::Bool(b) => Raw::Bool(b),
                            Scalar::Int(i) => Raw::Int(i),
                            Scalar::Float(f) => Raw::Float(f),
                            // `scalar` reads no strings.
                            Scalar::Str(_) => Raw::Null,
                            Scalar::BigInt(t) => {
                                self.enc.clear();
                                memslim_records::variant::Writer::new(&mut self.enc.out)
                                    .big_int(&decimal_to_le(t));
                                out.encoded(&self.enc.out, p.offset())?
                            }
                        },
                    };
                    out.fields.push((key, raw));
                } else {
                    p.skip_value()?;
                }
                if p.closed_after_item(b'}', "',' or '}'")? {
                    break;
                }
            }
        }
        p.finish()?;
        if !(all_known && nkeys == self.known_ends.len()) {
            dedup_keys(line, start, out, first);
            self.remember_keys(line);
        }
        Ok(true)
    }
}

/// Records with at most this many keys are checked for repeated keys pair by pair
/// (faster than hashing for the usual record); longer ones through a map.
const SHORT_RECORD: usize = 16;

/// A key given twice keeps its first position and its last value (as `json.loads`).
fn dedup_keys(line: &str, start: usize, out: &mut Out<'_>, first: usize) {
    let (strs, scratch) = (&*out.strs, &*out.scratch);
    let key = |t: Text| -> &[u8] {
        match t {
            Text::Block(a, b) => &line.as_bytes()[a as usize - start..b as usize - start],
            Text::Scratch(i) => strs
                .get(i as usize)
                .and_then(|&h| scratch.get_str(h))
                .map_or(&[], str::as_bytes),
            Text::Name(_) | Text::Unquoted(..) => &[],
        }
    };
    if out.fields.len() - first > SHORT_RECORD {
        // A long record: one pass with a map from key to its (first) place, where
        // comparing every pair would take time in the square of its keys.
        let mut place: HashMap<&[u8], usize> = HashMap::new();
        let mut kept = first;
        for i in first..out.fields.len() {
            match place.entry(key(out.fields[i].0)) {
                Entry::Occupied(at) => out.fields[*at.get()].1 = out.fields[i].1,
                Entry::Vacant(at) => {
                    at.insert(kept);
                    out.fields[kept] = out.fields[i];
                    kept += 1;
                }
            }
        }
        out.fields.truncate(kept);
        return;
    }
    let mut i = first;
    while i < out.fields.len() {
        let ki = key(out.fields[i].0);
        let mut j = i + 1;
        while j < out.fields.len() {
            let kj = key(out.fields[j].0);
            // Lengths and first bytes settle almost every pair without a memcmp call.
            let same = ki.len() == kj.len() && ki.first() == kj.first() && ki == kj;
            if same {
                out.fields[i].1 = out.fields[j].1;
                out.fields.remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
}
