//! What every reader shares: the options ([`ReadOptions`], [`OnError`]), the count of
//! skipped lines ([`Skipped`]) and the small helpers on line bytes. The readers
//! (`jsonl`, `csv`, `docs`) and the block pipeline (`block`) depend on this module; it
//! depends on none of them.

use memslim_records::{DType, RecordList};

use crate::error::{Result, StreamError};
use crate::json::MAX_INT_DIGITS;
use crate::source::{BLOCK_BYTES, MAX_LINE_BYTES};

/// What to do with a malformed line or a record that does not fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Stop with the error.
    #[default]
    Raise,
    /// Count the line, remember the first error, and go on.
    Skip,
}

impl OnError {
    /// `"raise"` or `"skip"`.
    ///
    /// # Errors
    /// [`StreamError::Invalid`] for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "raise" => Ok(OnError::Raise),
            "skip" => Ok(OnError::Skip),
            other => Err(StreamError::Invalid(format!(
                "on_error must be 'raise' or 'skip', not {other:?}"
            ))),
        }
    }
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
    /// Parse on a second thread while this one appends (for inputs that do not need
    /// the caller's thread, such as files).
    pub threaded: bool,
    /// The longest line (JSONL) or record (CSV) accepted, in bytes without the line
    /// break (at most [`MAX_LINE_BYTES`], the default). A longer one is a
    /// [`StreamError::Syntax`] raised before the line buffer grows past the limit.
    pub max_line_bytes: usize,
    /// The most digits an integer literal may have (JSONL; `0`: no limit). The default,
    /// [`MAX_INT_DIGITS`], is Python's default `sys.get_int_max_str_digits()`.
    pub max_int_digits: usize,
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
            threaded: false,
            max_line_bytes: MAX_LINE_BYTES,
            max_int_digits: MAX_INT_DIGITS,
        }
    }
}

impl ReadOptions {
    /// Default options with the input limits a caller gives: `max_line_bytes` (from 1
    /// to [`MAX_LINE_BYTES`]) and `max_int_digits`.
    ///
    /// # Errors
    /// [`StreamError::Invalid`] for a `max_line_bytes` out of range.
    pub fn with_limits(max_line_bytes: usize, max_int_digits: usize) -> Result<Self> {
        if !(1..=MAX_LINE_BYTES).contains(&max_line_bytes) {
            return Err(StreamError::Invalid(format!(
                "max_line_bytes must be between 1 and {MAX_LINE_BYTES}, not {max_line_bytes}"
            )));
        }
        Ok(ReadOptions {
            max_line_bytes,
            max_int_digits,
            ..ReadOptions::default()
        })
    }

    /// The fields a record keeps, if restricted.
    pub(crate) fn selection(&self) -> Option<Vec<String>> {
        match (&self.columns, &self.schema) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(s)) => Some(s.iter().map(|(n, _)| n.clone()).collect()),
            (None, None) => None,
        }
    }

    /// An empty list for everything left of the input (no batch limit from now on).
    ///
    /// # Errors
    /// As [`ReadOptions::new_list`].
    pub(crate) fn rest_list(&mut self) -> Result<RecordList> {
        self.batch_size = usize::MAX;
        self.new_list()
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
    /// The error message of the earliest skipped line.
    pub first: Option<String>,
    first_line: u64,
}

impl Skipped {
    pub(crate) fn add(&mut self, e: &StreamError) {
        self.count += 1;
        let line = e.line().unwrap_or(u64::MAX);
        if self.first.is_none() || line < self.first_line {
            self.first = Some(e.to_string());
            self.first_line = line;
        }
    }

    pub(crate) fn merge(&mut self, other: &Skipped) {
        self.count += other.count;
        if other.first.is_some() && (self.first.is_none() || other.first_line < self.first_line) {
            self.first.clone_from(&other.first);
            self.first_line = other.first_line;
        }
    }
}

/// The 1-based column (in characters) of byte `offset` of `line`.
pub(crate) fn column_of(line: &[u8], offset: usize) -> u64 {
    let upto = &line[..offset.min(line.len())];
    String::from_utf8_lossy(upto).chars().count() as u64 + 1
}

/// `buf` emptied and holding room for `len` bytes (reserving `room` at once, the line
/// buffer's size, so that blocks of varying length do not grow it again and again), or
/// `None` if that memory is not to be had. A buffer far larger than `room` (grown for a
/// long line) is given back.
pub(crate) fn block_buffer(mut buf: Vec<u8>, len: usize, room: usize) -> Option<Vec<u8>> {
    buf.clear();
    let room = room.max(len);
    if buf.capacity() > room.saturating_mul(2) {
        buf = Vec::new();
    }
    if buf.capacity() < len {
        buf.try_reserve_exact(room).ok()?;
    }
    Some(buf)
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn on_error_names() {
        assert_eq!(OnError::parse("raise").unwrap(), OnError::Raise);
        assert_eq!(OnError::parse("skip").unwrap(), OnError::Skip);
        let e = OnError::parse("ignore").unwrap_err();
        assert_eq!(
            e.to_string(),
            "on_error must be 'raise' or 'skip', not \"ignore\""
        );
    }

    #[test]
    fn line_limits_are_checked() {
        let o = ReadOptions::with_limits(10, 7).unwrap();
        assert_eq!((o.max_line_bytes, o.max_int_digits), (10, 7));
        assert_eq!(o.batch_size, ReadOptions::default().batch_size);
        assert!(ReadOptions::with_limits(MAX_LINE_BYTES, 0).is_ok());
        for bad in [0, MAX_LINE_BYTES + 1] {
            let e = ReadOptions::with_limits(bad, 0).unwrap_err();
            assert!(matches!(e, StreamError::Invalid(_)), "{e}");
            assert!(e.to_string().contains(&format!("not {bad}")), "{e}");
        }
    }
}
