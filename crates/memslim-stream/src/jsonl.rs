//! The JSONL reader: one JSON object per line, parsed straight into record batches.

use memslim_records::{Cell, DType, RecordList};

use crate::error::{Result, StreamError};
use crate::json::{Parser, Reason, Scalar, SyntaxError};
use crate::nested::{VariantEncoder, decimal_to_le};
use crate::progress::Progress;
use crate::scratch::{Scratch, ScratchVec};
use crate::source::{BLOCK_BYTES, Input, LineBlocks};

/// What to do with a malformed line or a record that does not fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Stop with the error.
    #[default]
    Raise,
    /// Count the line, remember the first error, and go on.
    Skip,
}

/// Options shared by the readers.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Records per batch (`usize::MAX`: one batch with everything).
    pub batch_size: usize,
    /// Only these fields are kept; the others are skipped without being decoded.
    pub columns: Option<Vec<String>>,
    /// Declared field types (fields not listed are skipped, like an unselected column).
    pub schema: Option<Vec<(String, DType)>>,
    /// Malformed lines: raise or skip.
    pub on_error: OnError,
    /// Rows per storage chunk of each batch.
    pub chunk_rows: usize,
    /// Bytes read per block.
    pub block_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_size: usize::MAX,
            columns: None,
            schema: None,
            on_error: OnError::Raise,
            chunk_rows: memslim_records::DEFAULT_CHUNK_ROWS,
            block_bytes: BLOCK_BYTES,
        }
    }
}

impl ReadOptions {
    /// The fields a record keeps, if restricted.
    pub(crate) fn selection(&self) -> Option<Vec<String>> {
        match (&self.columns, &self.schema) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(s)) => Some(s.iter().map(|(n, _)| n.clone()).collect()),
            (None, None) => None,
        }
    }

    /// An empty batch list for these options.
    ///
    /// # Errors
    /// [`StreamError::Records`] if the schema names a field twice.
    pub(crate) fn new_list(&self) -> Result<RecordList> {
        let chunk_rows = self.chunk_rows.min(self.batch_size).max(1);
        match &self.schema {
            Some(s) => {
                let refs: Vec<(&str, DType)> = s.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                Ok(RecordList::with_schema(&refs, chunk_rows)?)
            }
            None => Ok(RecordList::with_chunk_rows(chunk_rows)),
        }
    }
}

/// Skipped lines and the first reason, for `on_error = Skip`.
#[derive(Clone, Debug, Default)]
pub struct Skipped {
    /// Lines skipped.
    pub count: u64,
    /// The first skipped line's error message.
    pub first: Option<String>,
}

impl Skipped {
    pub(crate) fn add(&mut self, e: &StreamError) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(e.to_string());
        }
    }
}

/// Reads JSON Lines into [`RecordList`] batches.
///
/// An `Iterator` of `Result<RecordList>`: each batch holds `batch_size` records (the
/// last one fewer). Blank lines are ignored; every other line must be one JSON object.
/// Values keep their JSON types as Python's `json` module gives them: objects and arrays
/// (stored in the variant encoding) come back as dicts and lists, integers of any size
/// as ints, `NaN`/`Infinity` as floats. A key given twice keeps its first position and
/// last value, as in `json.loads`.
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
/// One block of input (about 1 MiB, or the longest line), one scratch arena reused for
/// every block, and the batch being filled. Steady-state parsing allocates nothing
/// per record.
pub struct JsonlReader {
    name: String,
    total: Option<u64>,
    consumed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    blocks: LineBlocks,
    /// Cursor in the current block.
    pos: usize,
    /// Lines consumed so far (the line number of the last line read).
    line: u64,
    lp: LineParser,
    scratch: Scratch,
    opts: ReadOptions,
    skipped: Skipped,
    rows: u64,
    done: bool,
    started: bool,
    progress: Option<Progress>,
}

/// Per-line parsing state, kept apart from the block so both can be borrowed at once.
struct LineParser {
    tmp: Vec<u8>,
    enc: VariantEncoder,
    selection: Option<Vec<String>>,
    /// Cells per block seen last time (capacity hint).
    cells_hint: usize,
    records_hint: usize,
}

impl JsonlReader {
    /// A reader over `input`.
    pub fn new(input: Input, opts: ReadOptions) -> Self {
        let blocks = LineBlocks::new(input.reader, opts.block_bytes);
        JsonlReader {
            name: input.name,
            total: input.total,
            consumed: input.consumed,
            blocks,
            pos: 0,
            line: 0,
            lp: LineParser {
                tmp: Vec::new(),
                enc: VariantEncoder::new(),
                selection: opts.selection(),
                cells_hint: 0,
                records_hint: 0,
            },
            scratch: Scratch::new(),
            opts,
            skipped: Skipped::default(),
            rows: 0,
            done: false,
            started: false,
            progress: None,
        }
    }

    /// Draws a progress bar on stderr while reading.
    pub fn with_progress(mut self) -> Self {
        self.progress = Some(Progress::stderr(&self.name, self.total));
        self
    }

    /// Lines skipped so far (with [`OnError::Skip`]).
    pub fn skipped(&self) -> &Skipped {
        &self.skipped
    }

    /// Records read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The input's name (path or description).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes of scratch memory and input buffer this reader holds (not the batches).
    pub fn scratch_bytes(&self) -> usize {
        self.scratch.allocated_bytes() + self.blocks.buffer_bytes()
    }

    /// Reads everything into one list.
    ///
    /// # Errors
    /// As the iterator.
    pub fn read_all(mut self) -> Result<RecordList> {
        self.opts.batch_size = usize::MAX;
        let mut list = self.opts.new_list()?;
        self.fill(&mut list)?;
        list.optimize();
        Ok(list)
    }

    /// Parses records into `list` until it holds `batch_size` records or the input ends.
    ///
    /// # Errors
    /// As the iterator; `list` then holds the records before the bad one.
    pub fn fill(&mut self, list: &mut RecordList) -> Result<()> {
        let r = self.fill_inner(list);
        if r.is_err() {
            self.done = true;
        }
        r
    }

    fn fill_inner(&mut self, list: &mut RecordList) -> Result<()> {
        while list.len() < self.opts.batch_size && !self.done {
            if !self.started || self.pos >= self.blocks.block().len() {
                self.started = true;
                self.scratch.reset();
                let more = self.blocks.next_block().map_err(|error| StreamError::Io {
                    input: self.name.clone(),
                    error,
                })?;
                self.pos = 0;
                if !more {
                    self.done = true;
                    break;
                }
            }
            let want = self.opts.batch_size - list.len();
            let before = list.len();
            parse_block(
                &self.blocks,
                &mut self.pos,
                &mut self.line,
                &mut self.lp,
                &self.scratch,
                &self.name,
                self.opts.on_error,
                &mut self.skipped,
                list,
                want,
            )?;
            self.rows += (list.len() - before) as u64;
            if let Some(p) = &mut self.progress {
                let bytes = self.consumed.load(std::sync::atomic::Ordering::Relaxed);
                p.update(bytes, self.rows);
            }
        }
        if self.done {
            if let Some(p) = &mut self.progress {
                let bytes = self.consumed.load(std::sync::atomic::Ordering::Relaxed);
                p.finish(bytes, self.rows);
            }
            self.progress = None;
        }
        Ok(())
    }
}

impl Iterator for JsonlReader {
    type Item = Result<RecordList>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut list = match self.opts.new_list() {
            Ok(l) => l,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        match self.fill(&mut list) {
            Ok(()) if list.is_empty() => None,
            Ok(()) => Some(Ok(list)),
            Err(e) => Some(Err(e)),
        }
    }
}

/// The 1-based column (in characters) of byte `offset` of `line`.
pub(crate) fn column_of(line: &[u8], offset: usize) -> u64 {
    let upto = &line[..offset.min(line.len())];
    String::from_utf8_lossy(upto).chars().count() as u64 + 1
}

/// Parses lines of the current block from `*pos` into `list`, at most `want` records.
#[allow(clippy::too_many_arguments)]
fn parse_block(
    blocks: &LineBlocks,
    pos: &mut usize,
    line_no: &mut u64,
    lp: &mut LineParser,
    scratch: &Scratch,
    name: &str,
    on_error: OnError,
    skipped: &mut Skipped,
    list: &mut RecordList,
    want: usize,
) -> Result<()> {
    let block = blocks.block();
    let mut cells: ScratchVec<'_, (&str, Cell<'_>)> = scratch.vec(lp.cells_hint);
    let mut bounds: ScratchVec<'_, (usize, usize, u64)> = scratch.vec(lp.records_hint);
    while *pos < block.len() && bounds.len() < want {
        let rest = &block[*pos..];
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], *pos + i + 1),
            None => (rest, block.len()),
        };
        *pos = next;
        *line_no += 1;
        let start = cells.len();
        match lp.record(line, scratch, &mut cells) {
            Ok(true) => bounds.push((start, cells.len(), *line_no)),
            Ok(false) => {} // blank line
            Err(e) => {
                cells.truncate(start);
                let last = *pos >= block.len() && blocks.ends_unterminated();
                let err = if last && e.reason == Reason::UnexpectedEnd {
                    StreamError::Truncated {
                        input: name.to_owned(),
                        line: *line_no,
                        reason: e.reason.to_string(),
                    }
                } else {
                    StreamError::Syntax {
                        input: name.to_owned(),
                        line: *line_no,
                        column: column_of(line, e.offset),
                        reason: e.reason.to_string(),
                    }
                };
                match on_error {
                    OnError::Raise => return Err(err),
                    OnError::Skip => skipped.add(&err),
                }
            }
        }
    }
    lp.cells_hint = lp.cells_hint.max(cells.len());
    lp.records_hint = lp.records_hint.max(bounds.len());
    let cells = cells.into_bump_slice();
    let mut records: ScratchVec<'_, &[(&str, Cell<'_>)]> = scratch.vec(bounds.len());
    records.extend(bounds.iter().map(|&(a, b, _)| &cells[a..b]));
    push_records(list, &records, &bounds, name, on_error, skipped)
}

/// Appends parsed records; a record the list refuses is an error naming its line, or
/// skipped.
pub(crate) fn push_records(
    list: &mut RecordList,
    records: &[&[(&str, Cell<'_>)]],
    bounds: &[(usize, usize, u64)],
    name: &str,
    on_error: OnError,
    skipped: &mut Skipped,
) -> Result<()> {
    let mut i = 0;
    while i < records.len() {
        let base = list.len();
        match list.push_batch(&records[i..]) {
            Ok(()) => break,
            Err(error) => {
                let bad = i + (list.len() - base);
                let err = StreamError::Record {
                    input: name.to_owned(),
                    line: bounds.get(bad).map_or(0, |b| b.2),
                    error,
                };
                match on_error {
                    OnError::Raise => return Err(err),
                    OnError::Skip => skipped.add(&err),
                }
                i = bad + 1;
            }
        }
    }
    Ok(())
}

impl LineParser {
    /// Parses one line into cells; `Ok(false)` for a blank line.
    fn record<'a>(
        &mut self,
        line: &'a [u8],
        scratch: &'a Scratch,
        cells: &mut ScratchVec<'a, (&'a str, Cell<'a>)>,
    ) -> Result<bool, SyntaxError> {
        let mut p = Parser::new(line, scratch, &mut self.tmp);
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
        let start = cells.len();
        if p.peek() == Some(b'}') {
            p.expect(b'}', "'}'")?;
        } else {
            loop {
                p.expect(b'"', "'\"' (an object key)")?;
                let key = p.string_rest()?;
                p.expect(b':', "':'")?;
                let keep = match &self.selection {
                    None => true,
                    Some(sel) => sel.iter().any(|s| s == key),
                };
                if keep {
                    let cell = match p.peek() {
                        Some(b'{' | b'[') => {
                            self.enc.clear();
                            p.value(&mut self.enc)?;
                            Cell::Encoded(scratch.alloc_bytes(&self.enc.out))
                        }
                        _ => match p.scalar()? {
                            Scalar::Null => Cell::Null,
                            Scalar::Bool(b) => Cell::Bool(b),
                            Scalar::Int(i) => Cell::Int(i),
                            Scalar::Float(f) => Cell::Float(f),
                            Scalar::Str(s) => Cell::Str(s),
                            Scalar::BigInt(t) => {
                                self.enc.clear();
                                memslim_records::variant::Writer::new(&mut self.enc.out)
                                    .big_int(&decimal_to_le(t));
                                Cell::Encoded(scratch.alloc_bytes(&self.enc.out))
                            }
                        },
                    };
                    cells.push((key, cell));
                } else {
                    p.skip_value()?;
                }
                match p.peek() {
                    Some(b',') => p.expect(b',', "','")?,
                    Some(b'}') => {
                        p.expect(b'}', "'}'")?;
                        break;
                    }
                    Some(_) => {
                        return Err(SyntaxError {
                            offset: p.offset(),
                            reason: Reason::Expected("',' or '}'"),
                        });
                    }
                    None => {
                        return Err(SyntaxError {
                            offset: p.offset(),
                            reason: Reason::UnexpectedEnd,
                        });
                    }
                }
            }
        }
        p.finish()?;
        dedup_keys(cells, start);
        Ok(true)
    }
}

/// A key given twice keeps its first position and its last value (as `json.loads`).
fn dedup_keys(cells: &mut ScratchVec<'_, (&str, Cell<'_>)>, start: usize) {
    let mut i = start;
    while i < cells.len() {
        let mut j = i + 1;
        while j < cells.len() {
            if cells[j].0.len() == cells[i].0.len() && cells[j].0 == cells[i].0 {
                cells[i].1 = cells[j].1;
                cells.remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
}
