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

#[cfg(feature = "records")]
pub use memslim_records as records;

#[cfg(feature = "arena")]
pub use memslim_arena as arena;
#[cfg(feature = "mmap")]
pub use memslim_mmap as mmap;
#[cfg(feature = "parquet")]
pub use memslim_parquet as parquet;
#[cfg(feature = "stream")]
pub use memslim_stream as stream;
