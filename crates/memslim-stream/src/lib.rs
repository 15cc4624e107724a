#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// Caller input never panics: a new unwrap, panic!, todo! or unimplemented! outside tests
// fails the lint (an invariant that truly cannot fail says why in an `expect`).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod block;
mod codec;
mod csv;
pub mod docs;
mod error;
pub mod json;
mod jsonl;
pub mod nested;
pub mod ops;
mod options;
mod progress;
mod reopen;
pub mod sink;
mod source;

pub use error::{Result, StreamError};

/// A streaming reader: an iterator of record batches that also reports its progress.
pub trait BatchReader: Iterator<Item = Result<memslim_records::RecordList>> + Send {
    /// The input's path or description.
    fn name(&self) -> &str;
    /// Records read so far.
    fn rows(&self) -> u64;
    /// Lines skipped so far (with [`OnError::Skip`]).
    fn skipped(&self) -> &Skipped;
    /// Reads everything left into one list.
    ///
    /// # Errors
    /// As the iterator.
    fn read_rest(&mut self) -> Result<memslim_records::RecordList> {
        let mut list = self.start_rest()?;
        self.fill_more(&mut list, usize::MAX)?;
        Ok(list)
    }
    /// An empty list for everything left (the reader stops cutting batches).
    ///
    /// # Errors
    /// A declared schema that names a field twice.
    fn start_rest(&mut self) -> Result<memslim_records::RecordList>;
    /// Appends up to `add` more records to `list`; `false` once the input is done (so a
    /// caller can read in steps and check for interruptions between them).
    ///
    /// # Errors
    /// As the iterator; `list` then holds the records before the bad one.
    fn fill_more(&mut self, list: &mut memslim_records::RecordList, add: usize) -> Result<bool>;
    /// Reads everything left into one list, `step` records at a time, asking `go_on`
    /// between steps (a host checks for Ctrl-C there); `None` once `go_on` says stop.
    /// The list is compacted ([`memslim_records::RecordList::optimize`]) at the end.
    ///
    /// # Errors
    /// As the iterator.
    ///
    /// # Memory
    /// The list being filled and the reader's buffers; nothing per step.
    fn read_rest_in_steps(
        &mut self,
        step: usize,
        go_on: &mut dyn FnMut() -> bool,
    ) -> Result<Option<memslim_records::RecordList>> {
        let mut list = self.start_rest()?;
        while self.fill_more(&mut list, step.max(1))? {
            if !go_on() {
                return Ok(None);
            }
        }
        list.optimize();
        Ok(Some(list))
    }
}
pub use block::ParsedBlock;
pub use codec::compressed_extensions;
pub use csv::{CsvOptions, CsvReader, EncodingErrors, Reopen};
pub use json::MAX_INT_DIGITS;
pub use jsonl::{JsonlBlocks, JsonlReader};
pub use options::{OnError, ReadOptions, Skipped};
pub use progress::Progress;
pub use reopen::{reopen_path, reopen_spooled};
pub use source::{BLOCK_BYTES, BlockError, Input, LineBlocks, MAX_LINE_BYTES, spool};
