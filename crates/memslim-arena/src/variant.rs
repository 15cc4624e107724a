//! Compact, tagged binary encoding of Python-like values ("variants").
//!
//! Variants hold the values that fit no typed Arrow column: nested
//! dicts/lists/tuples, integers beyond 64 bits, fields with mixed types, and
//! arbitrary objects the host serialized itself. The encoding round-trips
//! exactly: `bool` stays `bool` (never `int`), `tuple` stays `tuple` (never
//! `list`), `-0.0` keeps its sign, every NaN keeps its bit pattern, dict
//! insertion order is kept, and strings may contain NUL and characters from
//! any Unicode plane.
//!
//! # Format
//!
//! A value is one tag byte followed by a tag-specific payload. Containers are
//! a header (tag + element count) followed by their elements, each a complete
//! value; dict elements are key/value pairs, key first.
//!
//! | Tag    | Kind   | Payload                                                        |
//! |--------|--------|----------------------------------------------------------------|
//! | `0x00` | None   | —                                                              |
//! | `0x01` | False  | —                                                              |
//! | `0x02` | True   | —                                                              |
//! | `0x03` | Int    | zigzag-encoded `i64` as an unsigned LEB128 varint              |
//! | `0x04` | BigInt | byte length (varint) + two's-complement little-endian bytes    |
//! | `0x05` | Float  | 8 bytes: `f64::to_bits` little-endian                          |
//! | `0x06` | Str    | byte length (varint) + UTF-8 bytes                             |
//! | `0x07` | Bytes  | byte length (varint) + raw bytes                               |
//! | `0x08` | List   | element count (varint) + that many values                      |
//! | `0x09` | Tuple  | element count (varint) + that many values                      |
//! | `0x0A` | Dict   | pair count (varint) + that many key/value pairs, key first     |
//! | `0x0B` | Opaque | byte length (varint) + host-serialized bytes (pickle in Python) |
//! | `0x11` | Ext    | kind byte + byte length (varint) + payload: a date, time, duration, decimal, UUID or complex number (see [`crate::ext`]) |
//!
//! Tags `0x0C..=0x10` form the *document profile*, written only by
//! [`crate::DocList`]'s builder, never by DictList; [`decode`] rejects them:
//!
//! | Tag    | Kind       | Payload                                                           |
//! |--------|------------|-------------------------------------------------------------------|
//! | `0x0C` | Sym        | symbol number (varint) of an interned string in the owner's table |
//! | `0x0D` | SizedList  | element count (varint) + body byte length (varint) + the elements |
//! | `0x0E` | SizedTuple | element count (varint) + body byte length (varint) + the elements |
//! | `0x0F` | SymDict    | pair count + body byte length + pairs of (key symbol varint, value) |
//! | `0x10` | Text       | block, offset, byte length (varints) of a long string in the owner's compressed text blocks |
//!
//! The body length lets a reader skip a container in O(1), which makes a key
//! lookup one pass over the keys of one dict. Tag `0x11` is the extension value above; tags `0x12..=0xFF` are reserved
//! and rejected by every decoder.
//!
//! Varints are unsigned LEB128: 7 bits per byte, least significant group
//! first, high bit set on every byte but the last; at most 10 bytes.
//! A small integer (`-64..=63`) therefore costs 2 bytes and a short string
//! (under 128 bytes) costs 2 bytes plus its UTF-8 length.
//!
//! # Canonical form
//!
//! Every value has exactly one encoding and the decoder accepts only that
//! encoding, so `encode(&decode(b)?) == b` for every accepted `b`:
//!
//! * varints are minimal (no trailing `0x80 0x00`-style padding);
//! * an integer that fits in `i64` always uses the `Int` form; a `BigInt`
//!   payload is longer than 8 bytes and has no redundant sign byte;
//! * `False` and `True` have their own tags and no payload;
//! * nothing may follow the top-level value.
//!
//! # Decoder guarantees
//!
//! [`decode`] never panics and never recurses: it walks the input with an
//! explicit stack bounded by [`MAX_DEPTH`] nested containers. Declared lengths
//! and counts are checked against the remaining input before anything is
//! allocated, and the total preallocated container capacity is bounded by the
//! input length.
//!
//! # Versioning
//!
//! The layout above is version [`FORMAT_VERSION`]. Containers that persist
//! encoded values store that byte next to them; any incompatible change to
//! this format bumps the version.

use std::borrow::Cow;

pub use crate::ext::{Clock, Date, Ext, MAX_TEXT as EXT_MAX_TEXT, Zone, valid_zone_key};

/// Current encoding version (stored by containers that persist encoded values).
pub const FORMAT_VERSION: u8 = 1;

/// Maximum nesting depth accepted by the decoder (the encoder's callers enforce the same limit).
///
/// A container at the top level is at depth 1; the decoder rejects a
/// container nested inside `MAX_DEPTH` enclosing containers.
pub const MAX_DEPTH: usize = 512;

/// Tag bytes; see the table in the module documentation.
pub(crate) mod tag {
    pub const NONE: u8 = 0x00;
    pub const FALSE: u8 = 0x01;
    pub const TRUE: u8 = 0x02;
    pub const INT: u8 = 0x03;
    pub const BIG_INT: u8 = 0x04;
    pub const FLOAT: u8 = 0x05;
    pub const STR: u8 = 0x06;
    pub const BYTES: u8 = 0x07;
    pub const LIST: u8 = 0x08;
    pub const TUPLE: u8 = 0x09;
    pub const DICT: u8 = 0x0A;
    pub const OPAQUE: u8 = 0x0B;
    // Document profile (see the module documentation).
    pub const SYM: u8 = 0x0C;
    pub const SIZED_LIST: u8 = 0x0D;
    pub const SIZED_TUPLE: u8 = 0x0E;
    pub const SYM_DICT: u8 = 0x0F;
    pub const TEXT: u8 = 0x10;
    pub const EXT: u8 = crate::ext::TAG;
}

/// A Python-like value tree.
#[derive(Debug, Clone)]
pub enum Value {
    /// Python `None`.
    None,
    /// Python `bool`; never conflated with `Int`.
    Bool(bool),
    /// A Python `int` that fits in `i64`.
    Int(i64),
    /// An integer outside i64: two's-complement little-endian bytes, minimal length (no redundant sign bytes).
    ///
    /// [`encode`] normalizes non-minimal bytes (and writes the `Int` form when
    /// the value fits in `i64`), so only canonical `BigInt`s round-trip to
    /// themselves; [`decode`] only ever produces canonical ones.
    BigInt(Vec<u8>),
    /// Python `float`; the exact bit pattern (NaN payloads, the sign of zero) is kept.
    Float(f64),
    /// Python `str`.
    Str(String),
    /// Python `bytes`.
    Bytes(Vec<u8>),
    /// Python `list`.
    List(Vec<Value>),
    /// Python `tuple`; never conflated with `List`.
    Tuple(Vec<Value>),
    /// Insertion-ordered key/value pairs; keys may be any Value (hashability is the host's concern).
    Dict(Vec<(Value, Value)>),
    /// An object the host serialized itself (pickle in Python); opaque bytes here.
    ///
    /// Rebuilding it may run host code chosen by whoever wrote the bytes: hosts must
    /// only load it from bytes they trust.
    Opaque(Vec<u8>),
    /// A date, time, duration, decimal, UUID or complex number, stored field by field
    /// so that no host code has to run to read it back.
    Ext(Ext),
}

impl Value {
    /// The kind of this value (the same answer [`peek_kind`] gives for its encoding).
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::None => ValueKind::None,
            Value::Bool(_) => ValueKind::Bool,
            Value::Int(_) => ValueKind::Int,
            Value::BigInt(_) => ValueKind::BigInt,
            Value::Float(_) => ValueKind::Float,
            Value::Str(_) => ValueKind::Str,
            Value::Bytes(_) => ValueKind::Bytes,
            Value::List(_) => ValueKind::List,
            Value::Tuple(_) => ValueKind::Tuple,
            Value::Dict(_) => ValueKind::Dict,
            Value::Opaque(_) => ValueKind::Opaque,
            Value::Ext(_) => ValueKind::Ext,
        }
    }
}

/// Structural, bit-exact equality (Float compared by to_bits, so NaN == NaN and 0.0 != -0.0). Used for round-trip tests.
///
/// This is not Python's `==`: `Bool(true) != Int(1)` and `List != Tuple` here.
/// See [`python_eq`] for Python semantics.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::None, Value::None) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::BigInt(a), Value::BigInt(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Dict(a), Value::Dict(b)) => a == b,
            (Value::Opaque(a), Value::Opaque(b)) => a == b,
            (Value::Ext(a), Value::Ext(b)) => a.same(b),
            _ => false,
        }
    }
}

impl Eq for Value {}

/// The kind of an encoded value, as told by its tag byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// [`Value::None`].
    None,
    /// [`Value::Bool`] (either the `False` or the `True` tag).
    Bool,
    /// [`Value::Int`].
    Int,
    /// [`Value::BigInt`].
    BigInt,
    /// [`Value::Float`].
    Float,
    /// [`Value::Str`].
    Str,
    /// [`Value::Bytes`].
    Bytes,
    /// [`Value::List`].
    List,
    /// [`Value::Tuple`].
    Tuple,
    /// [`Value::Dict`].
    Dict,
    /// [`Value::Opaque`].
    Opaque,
    /// [`Value::Ext`].
    Ext,
}

/// The former name of [`ValueKind`].
#[deprecated(
    since = "0.1.0",
    note = "renamed to ValueKind; this alias goes in the next release"
)]
pub type Kind = ValueKind;

/// Why [`decode`] rejected its input.
///
/// Offsets are byte positions in the input given to [`decode`]. For
/// `Truncated` the offset is where the item that runs past the end of the
/// input starts (a tag, a varint, a payload, or a container whose declared
/// count cannot fit in the remaining bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value was complete.
    #[error("variant value truncated at byte {offset}")]
    Truncated {
        /// Start of the item that runs past the end of the input.
        offset: usize,
    },
    /// A tag byte that names no kind of value.
    #[error("unknown variant tag {tag:#04x} at byte {offset}")]
    UnknownTag {
        /// The offending tag byte.
        tag: u8,
        /// Position of the tag byte.
        offset: usize,
    },
    /// A `Str` payload that is not valid UTF-8.
    #[error("invalid UTF-8 in variant string at byte {offset}")]
    InvalidUtf8 {
        /// Position of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// Containers nested deeper than the decoder accepts.
    #[error("variant value nested deeper than {limit} levels at byte {offset}")]
    TooDeep {
        /// The nesting limit ([`MAX_DEPTH`]).
        limit: usize,
        /// Position of the tag of the first container beyond the limit.
        offset: usize,
    },
    /// A complete value was followed by more bytes.
    #[error("{extra} trailing bytes after variant value")]
    TrailingBytes {
        /// How many bytes follow the value.
        extra: usize,
    },
    /// The bytes are not in canonical form or otherwise violate the format.
    #[error("malformed variant value at byte {offset}: {reason}")]
    Malformed {
        /// Start of the offending item.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

mod decode;
mod encode;
mod eq;
#[cfg(test)]
mod tests;

pub(crate) use decode::{Failure, Invalid, Reader};
pub use decode::{contains_opaque, decode, peek_kind};
use encode::sign_fill;
pub use encode::{Writer, encode};
pub(crate) use encode::{minimal_len, put_varint, unzigzag, varint_into, varint_len};
pub use eq::python_eq;
