#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

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
