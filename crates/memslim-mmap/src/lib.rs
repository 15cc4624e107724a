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
//!
//! # Record files ([`RecordFile`])
//!
//! Two files: the data file `<path>` is a plain **Arrow IPC stream** (a schema message,
//! then one record batch message per at most [`BATCH_ROWS`] records, no end-of-stream
//! marker), so `pyarrow.ipc.open_stream(path)` and `polars.read_ipc_stream(path)` read it
//! as it is. Beside it, `<path>.idx` is the commit index ([`mod@format`]): a header and one
//! checksummed 40-byte entry per committed message (offset, length, rows, crc32 of the
//! message bytes).
//!
//! - **Appends** collect in memory; [`RecordFile::flush`] writes them after the last
//!   committed byte, `fdatasync`s the data, then appends their index entries and
//!   `fdatasync`s the index. The entries are the commit: whatever a crash leaves past the
//!   last entry (bytes in the data file, a torn entry in the index) is not part of the
//!   file; the next writer cuts it off and reports it ([`Recovery`]).
//! - **Damage is never dropped silently**: anything a crash cannot leave (an index entry
//!   that fails its checksum, an index that lost commits, a data file shorter than its
//!   index, a last commit whose data does not verify) makes a writer refuse to open
//!   ([`MmapError::Corrupt`], nothing changed), a reader open the records before it and
//!   report the rest ([`Recovery::damage`]), and [`RecordFile::recover`] repair it,
//!   keeping every byte it cuts off in a side file.
//! - **Every message memslim writes is sealed**: its `custom_metadata` carries
//!   `memslim.crc32` (crc32 of the whole message, read with those 8 hex digits as
//!   `00000000`) and `memslim.base` (the index entries committed before its commit), so
//!   a file whose index is lost is still checked message by message, a writer rebuilds
//!   the index only from messages that verify, and data past the index shows whether
//!   it is a crash's unfinished commit or commits the index lost.
//! - **Reads** map one message at a time (only committed bytes), so the address space a
//!   scan needs is what it holds, not the file size: at most 64 MB of mapped batches are
//!   cached, plus any batch a caller keeps (an exported Arrow array keeps its map alive).
//!   A batch is checked against its crc32 the first time an open file reads from it; a
//!   mismatch is [`MmapError::Corrupt`] naming its offset. Opening reads the index and the
//!   schema message only.
//! - **Rows are read value by value** from the mapped message (`cells`): the batch's
//!   header says where each column's buffers lie, and reading a record touches only its
//!   own validity bits, offsets and bytes, each checked against its buffer (and strings as
//!   UTF-8) when read. Bulk reads decode with arrow-rs, which validates what it decodes:
//!   [`RecordFile::to_arrow`] whole batches, [`RecordFile::field_arrow`] only that
//!   field's column of each batch. Row reads of segments with types `cells` does not
//!   read (dictionaries, nested types, `uint64`) decode whole batches too.
//!   Index entries carry their own crc32: a last entry cut short or never wholly
//!   written (zeros) is a torn append (dropped, reported); any other damaged entry is
//!   damage (see above).
//! - **One writer, many readers**: a writer holds an exclusive `flock` on the index
//!   (released when it closes or its process dies); a second writer gets
//!   [`MmapError::Locked`]. Readers take no lock, see the prefix committed when they
//!   opened, and [`RecordFile::refresh`] to see more.
//! - memslim never shrinks a file below its committed length, so a map never reaches
//!   past the end of its file. **Another program truncating a mapped file** breaks this:
//!   reading the lost pages raises SIGBUS in the reader; memslim cannot prevent it (the
//!   same holds for every mmap-based reader). At the next open such a file is reported as
//!   [`MmapError::Corrupt`] ("the data file ends at ...").
//! - **Exact records**: what Arrow cannot say (a key a record lacks, an int stored among
//!   floats, a record's own key order) travels in each batch message's
//!   `custom_metadata` ([`mod@exact`]), which other Arrow readers ignore: to them an
//!   absent key is null. memslim writes `null`, `bool`, `int64`, `float64`, `utf8`
//!   (dictionary strings are written plain), `binary`, and `object` values as `binary`
//!   with field metadata `memslim.encoding = variant-1`.
//! - **Schema growth**: a flush whose records need new fields or wider types starts a new
//!   segment (an end-of-stream marker and a schema message, committed with the batches),
//!   so the data file is then several Arrow IPC streams back to back. Arrow readers read
//!   the first; [`RecordFile::to_arrow`] gives all of them in one unified schema.
//! - **Foreign files**: an Arrow IPC stream or file written by pyarrow (or anyone)
//!   opens read-only without an index (indexed in memory by walking the message
//!   headers, or an IPC file's footer; no checksums: its bytes are not verified, only
//!   bounds-checked as they are read). Opening a foreign *stream* for appending writes
//!   an index for it (checksumming it as it is, once); an IPC *file* (with footer) is
//!   read-only. Compressed record batches (lz4/zstd) are
//!   [`MmapError::Unsupported`].
//!
//! # Number arrays ([`NumArray`])
//!
//! A 64-byte header (magic, version, dtype, committed length, crc32) and the values,
//! little-endian, mapped read-write. See [`mod@array`].

pub mod array;
mod cells;
mod error;
pub mod exact;
mod field;
mod file;
pub mod format;
mod ipc;
mod map;
mod read;
pub mod view;

pub use array::{Num, NumArray, NumType};
pub use error::{MmapError, Result};
pub use field::{FieldNumbers, FieldSum, PendingMark};
pub use file::{
    BATCH_ROWS, FileLayout, HeldBatch, Mode, RecordFile, Recovery, index_path, save_arrow,
    save_records,
};
pub use read::FileField;

/// The old name of [`FileLayout`] (there is also `memslim_records::Layout`, a column's).
#[deprecated(
    since = "0.1.0",
    note = "renamed to FileLayout; this alias goes in the next release"
)]
pub type Layout = FileLayout;
