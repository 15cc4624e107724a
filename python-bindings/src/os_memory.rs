//! Handing freed heap memory back to the operating system and the allocator's figures:
//! the logic lives in [`memslim_records::process`]; the bindings use it from here.

pub(crate) use memslim_records::process::{TRIM_AFTER_BYTES, allocator_stats, release_free_memory};
