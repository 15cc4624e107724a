//! `memslim._memslim`: the compiled core of the `memslim` Python package.
//!
//! Thin bindings: argument conversion, error mapping and Python protocols over the
//! pure-Rust crates. One binding file per core crate (`records.rs` wraps
//! `memslim-records`).

mod arrow_stream;
mod buffers;
mod convert;
mod doc_list;
mod errors;
mod ext;
mod fast_slots;
mod gilcell;
mod json;
mod mapping_views;
mod mmap;
mod mmap_ffi;
mod numpy;
mod os_memory;
mod parquet;
mod pickle;
mod plain_records;
mod records;
mod scalar;
mod select;
mod sequence;
mod size;
mod stats;
mod stream;
mod tracemalloc;
mod tuple_rows;
mod writer;

use pyo3::prelude::*;

// `gil_used`: state is serialized by the GIL (see gilcell.rs).
#[pymodule(gil_used = true)]
fn _memslim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    records::register(m)?;
    stats::register(m)?;
    doc_list::register(m)?;
    stream::register(m)?;
    mmap::register(m)?;
    pickle::register(m)?;
    parquet::register(m)?;
    json::register(m)?;
    mapping_views::register(m)?;
    Ok(())
}
