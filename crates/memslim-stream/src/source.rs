//! Inputs: files (by path, decompressed by extension) and any [`Read`], cut into blocks
//! of whole lines.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::block::MAX_BLOCK;
use crate::error::{Result, StreamError};

/// Bytes read per block: large enough that per-block work is noise (a few thousand
/// records), small enough that the blocks in flight stay a small constant next to the
/// batches.
pub const BLOCK_BYTES: usize = 1 << 18;

/// The default longest line (JSONL) or record (CSV) a reader accepts, in bytes: 1 GiB.
/// A longer one is an error raised before the line buffer grows past the limit, so a
/// small compressed file that inflates to one huge line cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 1 << 30;

/// Why [`LineBlocks::next_block`] could not hand out a block.
#[derive(Debug)]
pub enum BlockError {
    /// Reading (or decompressing) failed.
    Io(io::Error),
    /// A line (or a CSV record spanning lines) is longer than the limit.
    TooLong {
        /// The limit, in bytes (line break excluded).
        limit: usize,
    },
    /// The line buffer could not grow.
    NoMemory {
        /// The size asked for, in bytes.
        bytes: usize,
    },
}

impl BlockError {
    /// The reader's error for this, at 1-based line `line` of `input`.
    pub fn into_stream(self, input: &str, line: u64) -> StreamError {
        match self {
            BlockError::Io(error) => StreamError::from_io(input, error),
            BlockError::TooLong { limit } => StreamError::Syntax {
                input: input.to_owned(),
                line,
                column: 1,
                reason: too_long(limit),
            },
            BlockError::NoMemory { bytes } => StreamError::OutOfMemory {
                input: input.to_owned(),
                line,
                bytes,
            },
        }
    }
}

/// A line's length in bytes without its line break: a `\n`, `\r\n` or bare `\r` at
/// its end. Every line limit counts this, so a CRLF file and an LF file obey one limit.
pub(crate) fn line_len(line: &[u8]) -> usize {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line).len()
}

/// The UTF-8 byte order mark: Windows tools (Notepad, PowerShell's `Out-File`, Excel's
/// "CSV UTF-8") write it at the start of text files.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `text` without one leading UTF-8 byte order mark, which is no part of the first line:
/// `json.loads` of bytes, pandas and polars read past it too.
pub(crate) fn without_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(UTF8_BOM).unwrap_or(text)
}

/// The message for a line longer than `limit` bytes.
pub(crate) fn too_long(limit: usize) -> String {
    format!("line longer than {limit} bytes (the max_line_bytes limit)")
}

/// Copies `reader` to an unnamed temporary file and returns it, positioned at its start.
///
/// For inputs that must be read twice but can be read only once (CSV type inference
/// over a pipe or a Python iterable): the copy goes to disk, not memory, so reading stays
/// bounded by the batch size. The file is created in the system temporary directory and
/// unlinked at once, so it disappears when the last handle is closed, even after a crash.
///
/// # Errors
/// The I/O error of creating, writing or rewinding the file, or of reading `reader`.
pub fn spool(reader: &mut dyn Read) -> io::Result<File> {
    use std::io::{Seek, SeekFrom, Write};
    let dir = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut attempt = 0u32;
    let file = loop {
        let path = dir.join(format!(
            "memslim-spool-{}-{stamp}-{attempt}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                // Unlinked while open: only our handle keeps it.
                let _ = std::fs::remove_file(&path);
                break f;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 64 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let mut out = io::BufWriter::with_capacity(BLOCK_BYTES, &file);
    io::copy(reader, &mut out)?;
    out.flush()?;
    drop(out);
    (&file).seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// A readable input with a name for messages and, when known, its size in bytes.
pub struct Input {
    /// Path, or a description such as `<file object>`.
    pub name: String,
    /// Total bytes, if known (for progress).
    pub total: Option<u64>,
    /// The bytes (already decompressed).
    pub reader: Box<dyn Read + Send>,
    /// Bytes taken from the underlying source so far (compressed bytes for a compressed
    /// file), comparable with `total`.
    pub consumed: Arc<AtomicU64>,
}

impl Input {
    /// Wraps any reader.
    pub fn from_reader(name: impl Into<String>, reader: Box<dyn Read + Send>) -> Self {
        let consumed = Arc::new(AtomicU64::new(0));
        Input {
            name: name.into(),
            total: None,
            reader: Box::new(Counting {
                inner: reader,
                count: consumed.clone(),
            }),
            consumed,
        }
    }

    /// Opens a file, decompressed if its extension is one of
    /// [`compressed_extensions`](crate::compressed_extensions) (any case).
    ///
    /// # Errors
    /// [`StreamError::Io`] naming the path if it cannot be opened, or
    /// [`StreamError::Corrupt`] for a `.zst` file that is empty or whose first frame
    /// header is cut off or not zstd, [`StreamError::Invalid`] for one whose first frame
    /// asks for a window past the limit.
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let io_err = |error| StreamError::Io {
            input: name.clone(),
            error,
        };
        let file = File::open(path).map_err(io_err)?;
        let total = file.metadata().ok().map(|m| m.len());
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let consumed = Arc::new(AtomicU64::new(0));
        let file = Counting {
            inner: file,
            count: consumed.clone(),
        };
        let reader: Box<dyn Read + Send> = match ext.as_deref() {
            Some(ext) if crate::codec::is_compressed(ext) => {
                decompressed(&name, ext, Box::new(file))?
            }
            _ => Box::new(file),
        };
        Ok(Input {
            name,
            total,
            reader,
            consumed,
        })
    }

    /// Wraps a compressed reader, decompressed as a file with extension `ext` (one of
    /// [`compressed_extensions`](crate::compressed_extensions)) would be, checksums
    /// included.
    ///
    /// # Errors
    /// [`StreamError::Invalid`] for another extension or a zstd window past the limit;
    /// [`StreamError::Corrupt`] for an empty zstd input or a first zstd frame header that
    /// is cut off or not zstd (gzip's are met on reading).
    pub fn from_compressed(
        name: impl Into<String>,
        ext: &str,
        reader: Box<dyn Read + Send>,
    ) -> Result<Self> {
        let name = name.into();
        let consumed = Arc::new(AtomicU64::new(0));
        let counted = Counting {
            inner: reader,
            count: consumed.clone(),
        };
        let reader = decompressed(&name, ext, Box::new(counted))?;
        Ok(Input {
            name,
            total: None,
            reader,
            consumed,
        })
    }
}

/// `reader` decompressed as a file with extension `ext` is: an unknown codec is
/// [`StreamError::Invalid`], damaged data [`StreamError::Corrupt`], both naming `name`.
fn decompressed(
    name: &str,
    ext: &str,
    reader: Box<dyn Read + Send>,
) -> Result<Box<dyn Read + Send>> {
    crate::codec::decoder(ext, reader).map_err(|e| {
        if e.kind() == io::ErrorKind::Unsupported {
            StreamError::Invalid(format!("{name}: {e}"))
        } else {
            StreamError::from_io(name, e)
        }
    })
}

/// Counts the bytes taken from a source (before decompression).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An input cut into blocks that end at a line break.
///
/// One UTF-8 byte order mark at the start of the input is dropped, as `json.loads` of
/// bytes, pandas and polars drop it: the first block starts after it, so columns of the
/// first line do not count it, while [`LineBlocks::block_offset`] and
/// [`LineBlocks::bytes_read`] still do.
///
/// # Memory
/// One buffer of about `block_bytes`, grown (with a fallible allocation) only while a
/// single line does not fit, never past the line limit plus its line break, and shrunk back
/// once the long line has been handed out.
pub struct LineBlocks {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    block_bytes: usize,
    max_line: usize,
    /// `buf[..filled]` holds data.
    filled: usize,
    /// `buf[..complete]` is the current block.
    complete: usize,
    eof: bool,
    /// A bare `\r` ends a line too ([`LineBlocks::with_cr_line_ends`]).
    cr_ends_lines: bool,
    /// Nothing handed out yet: a byte order mark may still have to be dropped.
    at_start: bool,
    unterminated: bool,
    bytes: u64,
    /// Bytes at the end of the current block to hand out again with the next one.
    keep: usize,
}

impl LineBlocks {
    /// Blocks of about `block_bytes` bytes (longer when a single line is longer, up to
    /// [`MAX_LINE_BYTES`]; see [`LineBlocks::with_max_line`]).
    pub fn new(reader: Box<dyn Read + Send>, block_bytes: usize) -> Self {
        let block_bytes = block_bytes.clamp(64, MAX_BLOCK);
        LineBlocks {
            reader,
            buf: vec![0; block_bytes],
            block_bytes,
            max_line: MAX_LINE_BYTES,
            filled: 0,
            complete: 0,
            eof: false,
            cr_ends_lines: false,
            at_start: true,
            unterminated: false,
            bytes: 0,
            keep: 0,
        }
    }

    /// Refuses lines longer than `max_line` bytes (line break excluded; at most
    /// [`MAX_LINE_BYTES`]); see [`LineBlocks::next_block`].
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line.clamp(1, MAX_LINE_BYTES);
        self
    }

    /// Ends lines at a bare `\r` too (CSV, as Python's csv module reads it): a block may
    /// then end after a `\r` that is not followed by `\n`, never between the two.
    pub fn with_cr_line_ends(mut self) -> Self {
        self.cr_ends_lines = true;
        self
    }

    /// The end of the last whole line in `buf[from..filled]` (`None` if it holds none).
    fn last_line_end(&self, from: usize) -> Option<usize> {
        let b = &self.buf[from.min(self.filled)..self.filled];
        let at = if self.cr_ends_lines {
            let mut at = memchr::memrchr2(b'\n', b'\r', b)?;
            // A \r last of what was read may yet be followed by its \n.
            if b[at] == b'\r' && at + 1 == b.len() && !self.eof {
                at = memchr::memrchr2(b'\n', b'\r', &b[..at])?;
            }
            at
        } else {
            memchr::memrchr(b'\n', b)?
        };
        Some(from.min(self.filled) + at + 1)
    }

    /// Where the current block starts in the (decompressed) input, in bytes.
    pub fn block_offset(&self) -> u64 {
        self.bytes - self.filled as u64
    }

    /// Hands the last `n` bytes of the current block out again at the start of the next
    /// one, which then reaches further (for records that span lines, such as quoted CSV
    /// fields with line breaks).
    pub fn keep_tail(&mut self, n: usize) {
        self.keep = n.min(self.complete);
    }

    /// The current block: whole lines, each ending in `\n` except perhaps the input's
    /// last one (see [`LineBlocks::ends_unterminated`]).
    pub fn block(&self) -> &[u8] {
        &self.buf[..self.complete]
    }

    /// The current block's last line is the input's last and has no line break.
    pub fn ends_unterminated(&self) -> bool {
        self.unterminated
    }

    /// The current block reaches the end of the input.
    pub fn is_last(&self) -> bool {
        self.eof && self.complete == self.filled
    }

    /// Bytes read from the input so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Bytes this reader holds.
    pub fn buffer_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops the current block and reads the next; `false` at the end of the input.
    ///
    /// # Errors
    /// [`BlockError::Io`] for the reader's I/O error; [`BlockError::TooLong`] as soon as
    /// the line that starts the block (or the record handed back with
    /// [`LineBlocks::keep_tail`]) is known to be longer than the limit, before the buffer
    /// grows past it; [`BlockError::NoMemory`] if the buffer cannot grow.
    pub fn next_block(&mut self) -> Result<bool, BlockError> {
        // Keep the partial line that followed the block (and any tail handed back).
        let from = self.complete - self.keep;
        self.buf.copy_within(from..self.filled, 0);
        self.filled -= from;
        self.complete = 0;
        self.unterminated = false;
        // The next block must end past what was handed back.
        let mut scanned = self.keep;
        self.keep = 0;
        if self.buf.len() > self.block_bytes && self.filled < self.block_bytes / 2 {
            // The long line is gone: give its memory back.
            self.buf.truncate(self.block_bytes);
            self.buf.shrink_to_fit();
        }
        loop {
            if !self.eof && self.filled < self.buf.len() / 2 {
                self.read_some().map_err(BlockError::Io)?;
                continue;
            }
            if self.at_start {
                // Half a buffer (at least 32 bytes) or the whole input is in: enough to
                // see a byte order mark whole.
                self.at_start = false;
                let bom = self.filled - without_bom(&self.buf[..self.filled]).len();
                self.buf.copy_within(bom..self.filled, 0);
                self.filled -= bom;
            }
            if let Some(end) = self.last_line_end(scanned) {
                self.complete = end;
                return Ok(true);
            }
            // (Less a \r last, which a line break may still follow.)
            scanned = scanned.max(self.filled - usize::from(self.cr_ends_lines && self.filled > 0));
            if self.eof {
                if self.filled == 0 {
                    return Ok(false);
                }
                if line_len(&self.buf[..self.filled]) > self.max_line {
                    return Err(BlockError::TooLong {
                        limit: self.max_line,
                    });
                }
                self.complete = self.filled;
                self.unterminated = self.buf[self.filled - 1] != b'\n';
                return Ok(true);
            }
            // No line break in `buf[..filled]` (but perhaps the `\r` of a `\r\n`): the
            // line (or record) it starts with is at least this long.
            if line_len(&self.buf[..self.filled]) > self.max_line {
                return Err(BlockError::TooLong {
                    limit: self.max_line,
                });
            }
            if self.filled == self.buf.len() {
                // One line longer than the buffer: grow it, never past the limit and its
                // line break (`\r\n`), without aborting if the memory is not there.
                let len = self.buf.len();
                let want = len.saturating_mul(2).min(self.max_line + 2).max(len + 1);
                if self.buf.try_reserve_exact(want - len).is_err() {
                    return Err(BlockError::NoMemory { bytes: want });
                }
                self.buf.resize(want, 0);
            }
            self.read_some().map_err(BlockError::Io)?;
        }
    }

    /// After [`BlockError::TooLong`]: drops the line that starts the buffer, reading on
    /// to its line break without keeping it, so that the next block starts after it.
    ///
    /// # Errors
    /// The reader's I/O error.
    pub fn skip_line(&mut self) -> Result<(), BlockError> {
        self.complete = 0;
        self.keep = 0;
        self.unterminated = false;
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[..self.filled]) {
                self.buf.copy_within(nl + 1..self.filled, 0);
                self.filled -= nl + 1;
                return Ok(());
            }
            self.filled = 0;
            if self.eof {
                return Ok(());
            }
            self.read_some().map_err(BlockError::Io)?;
        }
    }

    fn read_some(&mut self) -> io::Result<()> {
        // At most this much per call: a decoder may buffer as much as it is asked for
        // (ruzstd does), so asking for a long line's worth at once would double it.
        const MAX_READ: usize = 1 << 20;
        loop {
            let end = self.buf.len().min(self.filled + MAX_READ);
            match self.reader.read(&mut self.buf[self.filled..end]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.filled += n;
                    self.bytes += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[cfg(unix)]
    #[test]
    fn spool_copies_to_an_unnamed_file_and_rewinds() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let mut src = std::io::Cursor::new(data.clone());
        let mut f = super::spool(&mut src).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut back).unwrap();
        assert_eq!(back, data);
        // Unlinked at once: the file has no name left.
        assert_eq!(
            std::os::unix::fs::MetadataExt::nlink(&f.metadata().unwrap()),
            0
        );
    }
    use super::*;

    /// A reader that returns at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn blocks(data: &'static [u8], step: usize, size: usize) -> (Vec<Vec<u8>>, bool) {
        let mut b = LineBlocks::new(Box::new(Trickle { data, step }), size);
        let mut out = Vec::new();
        let mut unterminated = false;
        while b.next_block().unwrap() {
            out.push(b.block().to_vec());
            unterminated = b.ends_unterminated();
        }
        (out, unterminated)
    }

    #[test]
    fn blocks_end_at_line_breaks_and_lose_nothing() {
        let data: &[u8] = b"one\ntwo\nthree is longer than the block buffer itself, by far\nfour";
        for step in [1, 3, 7, 100] {
            let (out, unterminated) = blocks(data, step, 8);
            assert_eq!(out.concat(), data);
            for b in &out[..out.len() - 1] {
                assert_eq!(b.last(), Some(&b'\n'));
            }
            assert!(unterminated);
        }
        let (out, unterminated) = blocks(b"a\nb\n", 1, 64);
        assert_eq!(out.concat(), b"a\nb\n");
        assert!(!unterminated);
        assert!(blocks(b"", 1, 64).0.is_empty());
    }

    #[test]
    fn one_leading_byte_order_mark_is_dropped() {
        for step in [1, 2, 3, 100] {
            let mut b = LineBlocks::new(
                Box::new(Trickle {
                    data: b"\xEF\xBB\xBFa\n\xEF\xBB\xBFb\n",
                    step,
                }),
                64,
            );
            assert!(b.next_block().unwrap());
            // Only the one at the start: a later one is data.
            assert_eq!(b.block(), b"a\n\xEF\xBB\xBFb\n");
            // Offsets are the input's, the mark included.
            assert_eq!(b.block_offset(), 3);
            assert_eq!(b.bytes_read(), 10);
            assert!(!b.next_block().unwrap());
        }
        // A second one at the start is data too.
        assert_eq!(
            blocks(b"\xEF\xBB\xBF\xEF\xBB\xBFa", 1, 64).0.concat(),
            b"\xEF\xBB\xBFa"
        );
        assert!(blocks(b"\xEF\xBB\xBF", 1, 64).0.is_empty());
        // Cut short, it is not one.
        assert_eq!(blocks(b"\xEF\xBB", 1, 64).0.concat(), b"\xEF\xBB");
        assert_eq!(blocks(b"\xEF\xBBa\n", 1, 64).0.concat(), b"\xEF\xBBa\n");
    }

    use proptest::prelude::*;

    proptest! {
        /// With bare `\r` as a line end, blocks still lose nothing, end at a line end,
        /// and never between the `\r` and `\n` of one.
        #[test]
        fn blocks_with_cr_line_ends_end_at_whole_line_breaks(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(b"\r".to_vec()),
                    Just(b"\n".to_vec()),
                    Just(b"\r\n".to_vec()),
                    "[a-z]{0,20}".prop_map(String::into_bytes),
                ],
                0..40,
            ),
            step in 1usize..12,
        ) {
            // (Leaked: the reader must be 'static; a few KB per test run.)
            let data: &'static [u8] = Box::leak(parts.concat().into_boxed_slice());
            let mut b = LineBlocks::new(Box::new(Trickle { data, step }), 8)
                .with_cr_line_ends();
            let mut out: Vec<Vec<u8>> = Vec::new();
            while b.next_block().unwrap() {
                out.push(b.block().to_vec());
            }
            prop_assert_eq!(out.concat(), data);
            for (k, block) in out.iter().enumerate().rev().skip(1) {
                let last = *block.last().unwrap();
                prop_assert!(last == b'\n' || last == b'\r', "block {} ends {:?}", k, block);
                if last == b'\r' {
                    prop_assert_ne!(out[k + 1].first(), Some(&b'\n'));
                }
            }
        }
    }
}
