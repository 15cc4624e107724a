//! Compact record arrays: lists of string-keyed records stored column by column in
//! Apache Arrow's memory layout.
//!
//! [`RecordList`] is the pure-Rust core of memslim's `DictList` and `TupleList`: schema
//! inferred and widened as records arrive, nulls as bitmaps, absent keys kept apart from
//! nulls, repeated strings dictionary-encoded, values that fit no typed column in a
//! compact tagged encoding ([`variant`]), chunked storage that never reallocates more
//! than one chunk, copy-on-write slices, and zero-copy export to Arrow.
//!
//! ```
//! use memslim_records::{Cell, CellRef, RecordList};
//!
//! let mut rows = RecordList::new();
//! rows.push_record(&[("id", Cell::Int(1)), ("price", Cell::Float(9.5))])?;
//! rows.push_record(&[("id", Cell::Int(2)), ("note", Cell::Str("gift"))])?;
//! let price = rows.field_index("price").unwrap();
//! assert_eq!(rows.get(0, price), CellRef::Float(9.5));
//! assert_eq!(rows.get(1, price), CellRef::Absent); // absent, not null
//! # Ok::<(), memslim_records::RecordsError>(())
//! ```

mod arrow;
mod arrow_cell;
mod bitmap;
mod column;
mod colview;
mod error;
mod feed;
mod grid;
mod intvec;
pub mod json;
mod list;
mod serial;
mod strdict;
mod varlen;
mod views;

/// The variant encoding lives in `memslim-arena`, shared with its documents (`DocList`).
pub use memslim_arena::variant;

pub use arrow::{ENCODING_KEY, VARIANT_ENCODING};
pub use arrow_cell::{arrow_cell, check_arrow_type, is_variant_field};
pub use column::{Cell, CellRef, DType, Layout};
pub use colview::{ColumnView, Numbers, OwnedNumbers, cell_less, sum_arrow};
pub use error::{RecordsError, Result};
pub use feed::Fill;
pub use grid::Grid;
pub use intvec::Width;
pub use list::{Checkpoint, DEFAULT_CHUNK_ROWS, MAX_VALUE_BYTES, RecordList, Sum, cell_eq};

/// Re-exported so users of [`RecordList::to_arrow`] need no direct arrow dependency.
pub use arrow_array::{RecordBatch, RecordBatchReader};
/// Arrow schema types used in this crate's API.
pub use arrow_schema::{Schema, SchemaRef};
