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

mod arena;
mod doc;
mod doclist;
mod error;
pub mod ext;
mod interner;
mod scratch;
mod text;
pub mod variant;

pub use arena::{Adopted, Arena, ArenaSlice, ArenaStr};
pub use doc::{DocBuilder, Map, MapIter, Node, Seq, SeqIter, read_node, to_value, validate};
pub use doclist::{DEFAULT_INTERN_MAX, DEFAULT_TEXT_MIN, DocHandle, DocList, DocStore, NBytes};
pub use error::{DocError, Result};
pub use interner::{Interner, InternerFull, Sym};
pub use scratch::Scratch;
pub use text::{TEXT_BLOCK_BYTES, TextBlocks, TextMark, TextRef};
