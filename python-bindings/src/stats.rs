//! `memslim.stats()`: what memslim holds right now, for services that log their memory.
//!
//! The structure totals come from the one place every list reports its size
//! (`tracemalloc::Tracked`, counted by `memslim_records::process`); the allocator figures
//! from glibc (`memslim_records::process::allocator_stats`).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::os_memory::allocator_stats;
use memslim_records::process::live_totals;

/// Live memslim structures and the bytes they own, plus glibc's allocator figures.
#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let (structures, bytes) = live_totals();
    let out = PyDict::new(py);
    out.set_item("structures", structures)?;
    out.set_item("structure_bytes", bytes)?;
    match allocator_stats() {
        Some(a) => {
            let alloc = PyDict::new(py);
            alloc.set_item("heap_bytes", a.heap_bytes)?;
            alloc.set_item("mmap_bytes", a.mmap_bytes)?;
            alloc.set_item("in_use_bytes", a.in_use_bytes)?;
            alloc.set_item("free_bytes", a.free_bytes)?;
            alloc.set_item("releasable_bytes", a.releasable_bytes)?;
            out.set_item("allocator", alloc)?;
        }
        None => out.set_item("allocator", py.None())?,
    }
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stats, m)?)
}
