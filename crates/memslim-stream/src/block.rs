//! Parsed blocks: the per-batch scratch memory the readers reuse, and the unit a parsing
//! thread hands to the appending one.
//!
//! A parsed value does not borrow: it names a byte range of the block's text, or a handle
//! of the block's scratch arena (a [`Scratch`]) for decoded strings and encoded nested
//! values. That lets a block move between threads with its scratch and be reused once
//! appended: recycling resets the scratch (keeping its memory), so steady-state reading
//! allocates nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use memslim_arena::{ArenaSlice, ArenaStr, Scratch};
use memslim_records::{Cell, DType, RecordList, RecordsError};

use crate::error::{Result, StreamError};
use crate::options::{OnError, ReadOptions, Skipped};

/// Where a string is: `bytes[a..b]` of the block, the `i`th string kept in the block's
/// scratch arena, or a field name. Offsets are 32-bit (blocks are limited to
/// [`MAX_BLOCK`] bytes) to keep a parsed value at 32 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Text {
    Block(u32, u32),
    /// `strs[i]` of the block (a decoded string in its scratch arena).
    Scratch(u32),
    /// `names[i]` (CSV header names, shared by every record).
    Name(u32),
    /// A CSV field with doubled quotes, decoded into the CSV parser's per-record buffer
    /// (`[a..b]`); copied to the scratch arena before the record enters a block.
    Unquoted(u32, u32),
}

/// The largest block (one line can be this long); offsets into a block, its arena and
/// its encoded values all fit `u32`.
pub(crate) const MAX_BLOCK: usize = 1 << 30;

impl Text {
    pub(crate) fn block(a: usize, b: usize) -> Text {
        Text::Block(a as u32, b as u32)
    }

    pub(crate) fn name(i: usize) -> Text {
        Text::Name(i as u32)
    }
}

/// A parsed value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    /// `encs[i]` of the block: a value in the variant encoding, in its scratch arena.
    Enc(u32),
}

/// One block of input and the records parsed from it.
///
/// # Memory
/// The block's bytes, 32 bytes per value, and a scratch arena for decoded strings and
/// encoded nested values (a handle each); the scratch is reset and the buffers cleared
/// when the block is reused, all keeping their capacity.
#[derive(Debug, Default)]
pub struct ParsedBlock {
    /// The block's text (checked to be UTF-8 once, by the parsing thread).
    pub(crate) text: String,
    /// Decoded strings and encoded values of this block; reset, not freed, on reuse.
    pub(crate) scratch: Scratch,
    pub(crate) strs: Vec<ArenaStr>,
    pub(crate) encs: Vec<ArenaSlice<u8>>,
    pub(crate) fields: Vec<(Text, Raw)>,
    /// Per record: end of its fields in `fields`, and its line number.
    pub(crate) records: Vec<(usize, u64)>,
    /// The error that ended the input after these records.
    pub(crate) error: Option<StreamError>,
    pub(crate) skipped: Skipped,
    /// Field names that keys may refer to ([`Text::Name`]).
    pub(crate) names: Arc<Vec<String>>,
    /// The fields every record of the input has, with the type the reader gave each for
    /// the whole input (CSV): a batch gets them before its first record, so that one
    /// whose values of a field are all null still has the field's type, as the other
    /// batches do. Empty where types follow the values (JSONL).
    pub(crate) typed: Arc<Vec<(String, DType)>>,
}

impl ParsedBlock {
    /// Empties the block, keeping its buffers (unless a long line made them far larger
    /// than a usual block needs: then they are given back).
    pub fn clear(&mut self) {
        /// Far above what a usual block (256 KiB of input) needs.
        const KEEP: usize = 32 << 20;
        if self.scratch.allocated_bytes() > KEEP {
            self.scratch = Scratch::default();
        }
        if self.fields.capacity() * size_of::<(Text, Raw)>() > KEEP {
            self.fields = Vec::new();
        }
        self.text.clear();
        self.scratch.reset();
        self.strs.clear();
        self.encs.clear();
        self.fields.clear();
        self.records.clear();
        self.error = None;
        self.skipped = Skipped::default();
    }

    /// Records parsed into this block.
    pub fn num_records(&self) -> usize {
        self.records.len()
    }

    /// Values parsed into this block (over all its records).
    pub fn num_values(&self) -> usize {
        self.fields.len()
    }

    /// The scratch arena's chunk capacity (kept across [`clear`](ParsedBlock::clear)).
    pub fn scratch_bytes(&self) -> usize {
        self.scratch.allocated_bytes()
    }

    /// How many times the block's scratch arena was reset (once per reuse).
    pub fn scratch_resets(&self) -> u64 {
        self.scratch.resets()
    }

    /// Copies a decoded string into the scratch arena; `None` (nothing kept) when the
    /// memory cannot be had (its length is the input's: no abort).
    pub(crate) fn try_keep_str(&mut self, s: &str) -> Option<Text> {
        let h = self.scratch.try_alloc_str(s)?;
        let i = self.strs.len();
        self.strs.push(h);
        Some(Text::Scratch(i as u32))
    }

    /// The text of a string of this block.
    #[inline]
    pub(crate) fn str_of(&self, t: Text) -> &str {
        match t {
            Text::Block(a, b) => self.text.get(a as usize..b as usize),
            Text::Scratch(i) => self
                .strs
                .get(i as usize)
                .and_then(|&h| self.scratch.get_str(h)),
            Text::Name(i) => self.names.get(i as usize).map(String::as_str),
            Text::Unquoted(..) => None,
        }
        .unwrap_or("")
    }

    /// The bytes of an encoded value of this block.
    #[inline]
    pub(crate) fn enc_of(&self, i: u32) -> &[u8] {
        self.encs
            .get(i as usize)
            .and_then(|&h| self.scratch.get(h))
            .unwrap_or(&[])
    }

    /// Bytes held (capacity).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.scratch.allocated_bytes()
            + self.strs.capacity() * size_of::<ArenaStr>()
            + self.encs.capacity() * size_of::<ArenaSlice<u8>>()
            + self.fields.capacity() * size_of::<(Text, Raw)>()
            + self.records.capacity() * size_of::<(usize, u64)>()
    }
}

/// Fills blocks: implemented by each format's parser.
pub(crate) trait BlockSource: Send {
    /// Parses the next block into `pb` (cleared); `false` at the end of the input.
    fn parse_next(&mut self, pb: &mut ParsedBlock) -> bool;
    /// Bytes taken from the input so far.
    fn consumed(&self) -> Arc<AtomicU64>;
}

/// Where parsed blocks come from: parsed on demand, or by a thread running ahead.
pub(crate) enum BlockFeed {
    Inline {
        source: Box<dyn BlockSource>,
        spare: Option<Box<ParsedBlock>>,
        done: bool,
    },
    Threaded {
        full: Receiver<ParsedBlock>,
        free: SyncSender<ParsedBlock>,
        handle: Option<JoinHandle<()>>,
    },
}

/// Blocks in flight between the threads: one being parsed, one queued, one appended.
const IN_FLIGHT: usize = 3;

impl BlockFeed {
    pub(crate) fn new(source: Box<dyn BlockSource>, threaded: bool) -> BlockFeed {
        if !threaded {
            return BlockFeed::Inline {
                source,
                spare: None,
                done: false,
            };
        }
        let (full_tx, full) = sync_channel::<ParsedBlock>(IN_FLIGHT);
        let (free, free_rx) = sync_channel::<ParsedBlock>(IN_FLIGHT);
        for _ in 0..IN_FLIGHT {
            let _ = free.send(ParsedBlock::default());
        }
        let mut source = source;
        let handle = std::thread::Builder::new()
            .name("memslim-parse".into())
            .spawn(move || {
                while let Ok(mut pb) = free_rx.recv() {
                    pb.clear();
                    if !source.parse_next(&mut pb) {
                        break;
                    }
                    let stop = pb.error.is_some();
                    if full_tx.send(pb).is_err() || stop {
                        break;
                    }
                }
            });
        match handle {
            Ok(h) => BlockFeed::Threaded {
                full,
                free,
                handle: Some(h),
            },
            // No thread to be had: the caller gets an error on the first block.
            Err(e) => BlockFeed::Threaded {
                full: {
                    let (tx, rx) = sync_channel(1);
                    let pb = ParsedBlock {
                        error: Some(StreamError::Invalid(format!(
                            "cannot start the parsing thread: {e}"
                        ))),
                        ..ParsedBlock::default()
                    };
                    let _ = tx.send(pb);
                    rx
                },
                free,
                handle: None,
            },
        }
    }

    /// The next parsed block, `None` at the end.
    pub(crate) fn next(&mut self) -> Option<ParsedBlock> {
        match self {
            BlockFeed::Inline {
                source,
                spare,
                done,
            } => {
                if *done {
                    return None;
                }
                let mut pb = spare.take().map_or_else(ParsedBlock::default, |b| *b);
                pb.clear();
                if source.parse_next(&mut pb) {
                    if pb.error.is_some() {
                        *done = true;
                    }
                    Some(pb)
                } else {
                    *done = true;
                    None
                }
            }
            BlockFeed::Threaded { full, handle, .. } => match full.recv() {
                Ok(pb) => Some(pb),
                Err(_) => {
                    // The thread has ended: normally, or by a panic (a bug) which must
                    // not pass for the end of the input.
                    let panicked = handle.take().is_some_and(|h| h.join().is_err());
                    if panicked {
                        Some(ParsedBlock {
                            error: Some(StreamError::Invalid(
                                "internal error: the parsing thread failed".into(),
                            )),
                            ..ParsedBlock::default()
                        })
                    } else {
                        None
                    }
                }
            },
        }
    }

    /// Returns a block for reuse.
    pub(crate) fn recycle(&mut self, pb: ParsedBlock) {
        match self {
            BlockFeed::Inline { spare, .. } => *spare = Some(Box::new(pb)),
            BlockFeed::Threaded { free, .. } => {
                let _ = free.try_send(pb);
            }
        }
    }
}

/// Appends parsed records to lists, reusing its cell buffers from block to block.
#[derive(Default)]
pub(crate) struct Appender {
    cells: Vec<(&'static str, Cell<'static>)>,
    recs: Vec<&'static [(&'static str, Cell<'static>)]>,
}

/// An empty vector with `v`'s allocation, for values of another lifetime. The in-place
/// `collect` keeps the buffer (same size and alignment), so this costs no allocation.
fn recycle_cells<'a>(mut v: Vec<(&'a str, Cell<'a>)>) -> Vec<(&'static str, Cell<'static>)> {
    v.clear();
    v.into_iter().map(|_| ("", Cell::Null)).collect()
}

fn recycle_recs<'a>(
    mut v: Vec<&'a [(&'a str, Cell<'a>)]>,
) -> Vec<&'static [(&'static str, Cell<'static>)]> {
    v.clear();
    v.into_iter().map(|_| &[][..]).collect()
}

impl Appender {
    /// Appends records `from..to` of `pb` to `list`; `rows` records of the stream came
    /// before them.
    ///
    /// # Errors
    /// [`StreamError::Record`] naming the line of a record the list refuses, and its
    /// position in the stream (or it is counted in `skipped`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(
        &mut self,
        pb: &ParsedBlock,
        from: usize,
        to: usize,
        list: &mut RecordList,
        rows: u64,
        name: &str,
        on_error: OnError,
        skipped: &mut Skipped,
    ) -> Result<()> {
        if list.is_empty() && !list.has_declared_schema() {
            for (field, dtype) in pb.typed.iter() {
                // Cannot fail (the list is open); an error is still an error.
                list.add_field_of(field, *dtype)
                    .map_err(|error| StreamError::Record {
                        input: name.to_owned(),
                        line: pb.records.get(from).map_or(0, |r| r.1),
                        error,
                    })?;
            }
        }
        let mut cells: Vec<(&str, Cell<'_>)> = std::mem::take(&mut self.cells);
        let mut recs: Vec<&[(&str, Cell<'_>)]> = std::mem::take(&mut self.recs);
        let get = |t: Text| pb.str_of(t);
        let first = if from == 0 { 0 } else { pb.records[from - 1].0 };
        let last = if to == 0 { 0 } else { pb.records[to - 1].0 };
        cells.extend(pb.fields[first..last].iter().map(|&(k, v)| {
            let cell = match v {
                Raw::Null => Cell::Null,
                Raw::Bool(b) => Cell::Bool(b),
                Raw::Int(i) => Cell::Int(i),
                Raw::Float(f) => Cell::Float(f),
                Raw::Str(t) => Cell::Str(get(t)),
                Raw::Enc(i) => Cell::Encoded(pb.enc_of(i)),
            };
            (get(k), cell)
        }));
        let mut start = 0;
        for &(end, _) in &pb.records[from..to] {
            let end = end - first;
            recs.push(&cells[start..end]);
            start = end;
        }
        let at = Stream { rows, name };
        let r = push_records(list, &recs, &pb.records[from..to], at, on_error, skipped);
        self.recs = recycle_recs(recs);
        self.cells = recycle_cells(cells);
        r
    }
}

/// Where records being appended are in their stream: its name, and how many of its
/// records came before them.
#[derive(Clone, Copy)]
struct Stream<'a> {
    rows: u64,
    name: &'a str,
}

/// Appends records; a record the list refuses is an error naming its line and its
/// position in the stream, or skipped.
fn push_records(
    list: &mut RecordList,
    records: &[&[(&str, Cell<'_>)]],
    lines: &[(usize, u64)],
    at: Stream<'_>,
    on_error: OnError,
    skipped: &mut Skipped,
) -> Result<()> {
    let start = list.len();
    let mut i = 0;
    while i < records.len() {
        let base = list.len();
        match list.push_batch(&records[i..]) {
            Ok(()) => break,
            Err(error) => {
                let bad = i + (list.len() - base);
                // The list may be one batch of many: count the record in the stream.
                let row = at.rows + (list.len() - start) as u64;
                // Memory that is not there is no bad record to skip.
                let no_memory = matches!(error, RecordsError::ValueOutOfMemory { .. });
                let err = StreamError::Record {
                    input: at.name.to_owned(),
                    line: lines.get(bad).map_or(0, |b| b.1),
                    error: error.at_row(usize::try_from(row).unwrap_or(usize::MAX)),
                };
                match on_error {
                    OnError::Skip if !no_memory => skipped.add(&err),
                    _ => return Err(err),
                }
                i = bad + 1;
            }
        }
    }
    Ok(())
}

/// Reads batches from a feed of parsed blocks (the format-independent half of a reader).
pub(crate) struct Batcher {
    pub(crate) name: String,
    feed: BlockFeed,
    cur: Option<ParsedBlock>,
    next_rec: usize,
    appender: Appender,
    pub(crate) on_error: OnError,
    pub(crate) skipped: Skipped,
    pub(crate) rows: u64,
    pub(crate) done: bool,
    pub(crate) progress: Option<crate::progress::Progress>,
    consumed: Arc<AtomicU64>,
}

impl Batcher {
    /// The next batch of up to `opts.batch_size` records: a reader's `Iterator::next`.
    pub(crate) fn next_batch(&mut self, opts: &ReadOptions) -> Option<Result<RecordList>> {
        if self.done {
            return None;
        }
        let mut list = match opts.new_list() {
            Ok(l) => l,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        match self.fill(&mut list, opts.batch_size) {
            Ok(()) if list.is_empty() => None,
            Ok(()) => Some(Ok(list)),
            Err(e) => Some(Err(e)),
        }
    }

    /// Appends up to `add` more records to `list`; false once the input is used up.
    pub(crate) fn fill_more(&mut self, list: &mut RecordList, add: usize) -> Result<bool> {
        self.fill(list, list.len().saturating_add(add))?;
        Ok(!self.done)
    }

    pub(crate) fn new(
        name: String,
        source: Box<dyn BlockSource>,
        threaded: bool,
        on_error: OnError,
    ) -> Self {
        let consumed = source.consumed();
        Batcher {
            name,
            feed: BlockFeed::new(source, threaded),
            cur: None,
            next_rec: 0,
            appender: Appender::default(),
            on_error,
            skipped: Skipped::default(),
            rows: 0,
            done: false,
            progress: None,
            consumed,
        }
    }

    /// Appends records to `list` until it has `limit` records or the input ends.
    pub(crate) fn fill(&mut self, list: &mut RecordList, limit: usize) -> Result<()> {
        let r = self.fill_inner(list, limit);
        if r.is_err() {
            self.done = true;
            self.progress = None;
        }
        r
    }

    fn fill_inner(&mut self, list: &mut RecordList, limit: usize) -> Result<()> {
        while list.len() < limit && !self.done {
            let exhausted = self
                .cur
                .as_ref()
                .is_none_or(|pb| self.next_rec >= pb.records.len());
            if exhausted {
                if let Some(mut pb) = self.cur.take() {
                    if let Some(e) = pb.error.take() {
                        self.feed.recycle(pb);
                        return Err(e);
                    }
                    self.feed.recycle(pb);
                }
                match self.feed.next() {
                    Some(pb) => {
                        self.skipped.merge(&pb.skipped);
                        self.cur = Some(pb);
                        self.next_rec = 0;
                    }
                    None => {
                        self.done = true;
                        break;
                    }
                }
                continue;
            }
            let Some(pb) = &self.cur else { break };
            let from = self.next_rec;
            let to = pb.records.len().min(from + (limit - list.len()));
            let before = list.len();
            self.next_rec = to;
            self.appender.push(
                pb,
                from,
                to,
                list,
                self.rows,
                &self.name,
                self.on_error,
                &mut self.skipped,
            )?;
            self.rows += (list.len() - before) as u64;
            if let Some(p) = &mut self.progress {
                p.update(self.consumed.load(Ordering::Relaxed), self.rows);
            }
        }
        if self.done {
            if let Some(p) = &mut self.progress {
                p.finish(self.consumed.load(Ordering::Relaxed), self.rows);
            }
            self.progress = None;
        }
        Ok(())
    }
}
