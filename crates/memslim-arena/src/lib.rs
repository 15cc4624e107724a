//! Bump arenas, string interning and compact nested documents.
//!
//! * [`Arena`]: a bumpalo arena that hands out checked `Copy` handles to strings, slices
//!   and values, so arena data can be owned next to its arena by long-lived structures.
//!   All of this crate's `unsafe` code is in its module.
//! * [`Scratch`]: a reusable arena for per-batch work (reset, not freed), with handles
//!   that move between threads with it.
//! * [`Interner`]: each distinct string stored once, named by a small [`Sym`].
//! * [`DocList`]: nested JSON-like documents in arena memory, in the [`variant`]
//!   encoding's document profile, with interned keys; lazy reading via [`read_node`],
//!   push-style building via [`DocBuilder`], garbage accounting and compaction.
//! * [`TextBlocks`]: the long string values of documents, deflate-compressed in blocks.
//! * [`variant`]: the compact tagged encoding shared with memslim-records' `DictList`.
//! * [`ext`]: dates, times, durations, decimals, UUIDs and complex numbers in that
//!   encoding, stored field by field so that reading them runs no host code.

mod arena;
mod doc;
mod doclist;
mod error;
pub mod ext;
mod interner;
mod scratch;
mod text;
pub mod variant;

pub use arena::{Arena, ArenaSlice, ArenaStr};
pub use doc::{DocBuilder, Map, MapIter, Node, Seq, SeqIter, read_node, to_value, validate};
pub use doclist::{DEFAULT_INTERN_MAX, DEFAULT_TEXT_MIN, DocHandle, DocList, DocStore, NBytes};
pub use error::{DocError, Result};
pub use interner::{Interner, InternerFull, Sym};
pub use scratch::Scratch;
pub use text::{TEXT_BLOCK_BYTES, TextBlocks, TextMark, TextRef};
