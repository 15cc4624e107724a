//! memslim: memory-efficient data structures for record data.
//!
//! This umbrella crate re-exports the workspace's core crates behind features, so a
//! Rust user depends on one crate and picks the parts they need.
//!
//! ```
//! use memslim::records::{Cell, RecordList};
//!
//! let mut rows = RecordList::new();
//! rows.push_record(&[("id", Cell::Int(1)), ("name", Cell::Str("ada"))]).unwrap();
//! assert_eq!(rows.len(), 1);
//! ```

#[cfg(feature = "records")]
pub use memslim_records as records;

#[cfg(feature = "arena")]
pub use memslim_arena as arena;
#[cfg(feature = "mmap")]
pub use memslim_mmap as mmap;
#[cfg(feature = "stream")]
pub use memslim_stream as stream;
