//! Errors of the arena crate.

use crate::variant::DecodeError;

/// Why a document operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// Stored or supplied document bytes are malformed.
    #[error("corrupt document data: {0}")]
    Corrupt(#[from] DecodeError),
    /// A document names a symbol its table does not have.
    #[error("corrupt document data: unknown symbol {sym} at byte {offset}")]
    UnknownSymbol {
        /// The symbol number.
        sym: u64,
        /// Where it was read.
        offset: usize,
    },
    /// A builder call that does not fit the document being built.
    #[error("document builder misuse: {0}")]
    Build(&'static str),
    /// Containers nested deeper than [`crate::variant::MAX_DEPTH`].
    #[error("document nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The symbol table is full.
    #[error(transparent)]
    InternerFull(#[from] crate::interner::InternerFull),
    /// An index past the end of the list.
    #[error("document index {index} out of range for a list of {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The list length.
        len: usize,
    },
    /// A result too large to allocate, refused before any of it is made (as a list
    /// refuses `[x] * 2**60`).
    #[error("{what} would take {bytes} bytes: more memory than can be had")]
    OutOfMemory {
        /// What was asked.
        what: &'static str,
        /// Bytes it would take (saturated).
        bytes: usize,
    },
    /// A write to a list set to fail rather than wait
    /// ([`DocList::set_fail_when_busy`](crate::DocList::set_fail_when_busy)) while a reader
    /// holds its symbol table or text blocks.
    #[error("the documents are being read: a write now would have to wait for that read to end")]
    Busy,
}

/// Result alias for this crate.
pub type Result<T, E = DocError> = std::result::Result<T, E>;
