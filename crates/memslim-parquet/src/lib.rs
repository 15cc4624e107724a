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
//! Parquet files and Hive-partitioned Parquet datasets for memslim records.
//!
//! # Writing ([`DatasetWriter`])
//!
//! Records arrive as [`RecordList`] batches and are written as they come: into one file,
//! or into a directory of part files (`root/country=DE/part-<unique>-00000.parquet`, the
//! Hive layout Spark, DuckDB, polars, pyarrow and Ray Data read). Part names are unique
//! per writer, so many writers (processes, machines) can fill one directory; a file is
//! written under a hidden temporary name of its writer's own and renamed into place
//! when complete, so readers never see half a file, and two writers of one file path
//! never mix their data (the last to finish wins). A file's schema is fixed by its first batch; a later
//! batch that needs a new field or a wider type starts a new part file (a single-file
//! target refuses it with [`ParquetError::Schema`]).
//!
//! # Exact round trip
//!
//! Parquet, like Arrow, has one null, one type per column and one field order. What it
//! cannot say travels in the file's key-value metadata (`memslim.absent`,
//! `memslim.ints`, `memslim.order`), in runs of rows so that it costs bytes per run,
//! not per row (see the `notes` module); other readers ignore it and see an
//! absent key as null, ints among floats as floats, `object` values (nested dicts and
//! lists, big ints, tuples) as binary in memslim's variant encoding. Partition columns
//! are not stored in the files (as in every Hive dataset); `memslim.partition` records
//! where each sat among the fields and the type of its value, so that memslim reads
//! back exactly what went in.
//!
//! The notes describe rows by position, and other tools carry key-value metadata
//! through a rewrite (pyarrow through `sort_by`, `filter` and `write_table`). So
//! `memslim.seal` binds them to the rows they describe (rows per row group, length and
//! CRC-32 of the bytes up to the end of the last row group), and the reader honours
//! them only in a file whose `created_by` is memslim's and whose row groups and bytes
//! match the seal; any other file reads as one written by others, as do files written
//! before memslim sealed its notes.
//!
//! Record files ([`memslim_mmap::RecordFile`]) convert with [`write_record_file`], one
//! batch at a time.
//!
//! # Reading ([`ParquetReader`])
//!
//! Files, directories (searched recursively; names starting with `.` or `_` skipped)
//! or lists of both, one batch of at most `batch_rows` rows at a time (the decoder holds
//! one row group's pages), with column projection: unselected columns are not decoded.
//! Partition columns come back from the directory names: typed as memslim wrote them,
//! or, for datasets written by others, `int` when every value of that key across the
//! input is the canonical text of an int (no `+`, no leading zero, not `-0`), else
//! `str`, and `__HIVE_DEFAULT_PARTITION__` as `None` (pyarrow.dataset and DuckDB infer
//! ints from plain decimal values too). A partition key no directory names (a part
//! file copied out of its dataset) is left out of the records.
//!
//! The sizes and counts a file claims (rows of its row groups, page sizes, dictionary
//! sizes) are checked against what its bytes hold before the decoder allocates by them.
//!
//! # Codecs
//!
//! Snappy by default (what pyarrow, Spark and DuckDB write), gzip, lz4 or none; all
//! pure Rust. Zstd (polars' default) is not built in: its crate compiles C libzstd.
//! A zstd file raises [`ParquetError::Unsupported`] naming the file.

mod error;
mod notes;
mod pages;
mod partition;
mod read;
mod recfile;
mod seal;
mod write;

pub use error::{ParquetError, Result};
pub use partition::{Part, PartValue, dataset_files};
pub use read::{ParquetReader, ReadOptions, read_all};
pub use recfile::write_record_file;
pub use write::{Codec, DatasetWriter, WriteOptions};

pub use memslim_records::RecordList;
