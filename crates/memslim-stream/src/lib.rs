//! Streaming readers, batch adapters and sinks for memslim record lists.
//!
//! Readers are `Iterator`s of [`RecordList`] batches over any [`std::io::Read`]: bytes
//! are parsed in place (no intermediate value tree, no per-value allocation) into
//! per-block scratch memory ([`ParsedBlock`]) that is reused from block to block, then
//! appended to the batch column by column; optionally a second thread parses the next
//! block while the current one is appended.
//!
//! ```
//! use memslim_stream::{Input, JsonlReader, ReadOptions};
//!
//! let data = b"{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3}\n".to_vec();
//! let input = Input::from_reader("<bytes>", Box::new(std::io::Cursor::new(data)));
//! let opts = ReadOptions { batch_size: 2, ..ReadOptions::default() };
//! let sizes: Vec<usize> = JsonlReader::new(input, opts)
//!     .map(|batch| batch.map(|b| b.len()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(sizes, [2, 1]);
//! # Ok::<(), memslim_stream::StreamError>(())
//! ```
//!
//! [`RecordList`]: memslim_records::RecordList

mod block;
mod codec;
mod csv;
pub mod docs;
mod error;
pub mod json;
mod jsonl;
pub mod nested;
pub mod ops;
mod progress;
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
}
pub use block::ParsedBlock;
pub use csv::{CsvOptions, CsvReader, EncodingErrors, Reopen};
pub use json::MAX_INT_DIGITS;
pub use jsonl::{JsonlBlocks, JsonlReader, OnError, ReadOptions, Skipped};
pub use progress::Progress;
pub use source::{BLOCK_BYTES, BlockError, Input, LineBlocks, MAX_LINE_BYTES, spool};
