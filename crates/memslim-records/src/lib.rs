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

mod arrow;
mod arrow_cell;
mod arrow_run;
mod bitmap;
mod column;
mod columns;
mod colview;
mod cow;
mod distinct;
mod error;
mod feed;
mod grid;
pub mod hint;
mod ingest;
mod intvec;
pub mod json;
mod keys;
mod list;
pub mod number;
mod order;
pub mod panic_guard;
pub mod process;
pub mod read;
mod reclaim;
mod select;
mod seq;
mod serial;
mod store;
mod strdict;
mod varlen;

/// The variant encoding lives in `memslim-arena`, shared with its documents (`DocList`).
pub use memslim_arena::variant;

pub use arrow::{ENCODING_KEY, VARIANT_ENCODING};
pub use arrow_cell::{arrow_cell, check_arrow_type, dtype_of_arrow, is_variant_field};
pub use arrow_run::{ArrowColumn, ArrowPushError, ArrowSource};
pub use column::{Cell, CellRef, DType, Layout, int_fits_f64, is_stored_int};
pub use columns::{ColumnRun, Columns, Mark, Values};
pub use colview::{ColumnView, Numbers, OwnedNumbers, sum_arrow};
pub use error::{RecordsError, Result};
pub use feed::Fill;
pub use grid::Grid;
pub use ingest::{GRID_ROWS, PlainRecords};
pub use intvec::Width;
pub use keys::{FieldNames, KeyOrder};
pub use list::{
    BIG_VALUE, CellSink, Checkpoint, DEFAULT_CHUNK_ROWS, MAX_VALUE_BYTES, RecordList, Snapshot,
    Sum, cell_eq,
};
pub use order::{MAX_SLOTS, Order};
pub use read::{
    ReadField, ReadRecords, append_records, append_records_staged, collect_records, where_positions,
};
pub use reclaim::Reclaim;
pub use select::{AbsentAs, CmpOp, Tally, search_text, verdict};
pub use seq::{OrderMark, Slice, clamp_index, index_in};
pub use strdict::same_bytes;

/// Re-exported so users of [`RecordList::to_arrow`] need no direct arrow dependency.
pub use arrow_array::{RecordBatch, RecordBatchReader};
/// The shared buffers of a [`Snapshot`].
pub use arrow_buffer::{Buffer, alloc::Allocation};
/// Arrow schema types used in this crate's API.
pub use arrow_schema::{Schema, SchemaRef};
