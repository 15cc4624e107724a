//! Decoding: [`decode`] (canonical form only, no recursion, no panic) and the
//! bounds-checked [`Reader`] the document readers share.

use super::*;

/// Decode exactly one value that must span all of `bytes`.
///
/// Accepts only the canonical encoding (see the module documentation) and
/// never panics, whatever the input.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    // Total element capacity all containers may reserve up front: every
    // element takes at least one input byte, so this never over-reserves by
    // more than the input length, however the counts are forged.
    let mut budget = bytes.len();
    loop {
        let tag_offset = r.pos;
        let tag = r.byte()?;
        let mut value = match tag {
            tag::NONE => Value::None,
            tag::FALSE => Value::Bool(false),
            tag::TRUE => Value::Bool(true),
            tag::INT => Value::Int(unzigzag(r.varint()?)),
            tag::BIG_INT => {
                let len = r.length()?;
                if len <= 8 {
                    return Err(DecodeError::Malformed {
                        offset: tag_offset,
                        reason: "big integer fits in i64 and must use the int form",
                    });
                }
                let payload = r.take(len)?;
                if minimal_len(payload) != len {
                    return Err(DecodeError::Malformed {
                        offset: tag_offset,
                        reason: "big integer has a redundant sign byte",
                    });
                }
                Value::BigInt(payload.to_vec())
            }
            tag::FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(r.take_array()?))),
            tag::STR => {
                let len = r.length()?;
                let start = r.pos;
                let payload = r.take(len)?;
                let s = std::str::from_utf8(payload).map_err(|e| DecodeError::InvalidUtf8 {
                    offset: start + e.valid_up_to(),
                })?;
                Value::Str(s.to_owned())
            }
            tag::BYTES => {
                let len = r.length()?;
                Value::Bytes(r.take(len)?.to_vec())
            }
            tag::OPAQUE => {
                let len = r.length()?;
                Value::Opaque(r.take(len)?.to_vec())
            }
            tag::EXT => Value::Ext(Ext::read(&mut r, tag_offset)?),
            tag::LIST | tag::TUPLE | tag::DICT => {
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep {
                        limit: MAX_DEPTH,
                        offset: tag_offset,
                    });
                }
                let count = r.length()?;
                let min_element_size = if tag == tag::DICT { 2 } else { 1 };
                if count > r.remaining() / min_element_size {
                    return Err(DecodeError::Truncated { offset: tag_offset });
                }
                if count == 0 {
                    match tag {
                        tag::LIST => Value::List(Vec::new()),
                        tag::TUPLE => Value::Tuple(Vec::new()),
                        _ => Value::Dict(Vec::new()),
                    }
                } else {
                    let capacity = count.min(budget);
                    budget -= capacity;
                    stack.push(if tag == tag::DICT {
                        Frame::Dict {
                            remaining: count,
                            items: Vec::with_capacity(capacity),
                            key: None,
                        }
                    } else {
                        Frame::Seq {
                            tuple: tag == tag::TUPLE,
                            remaining: count,
                            items: Vec::with_capacity(capacity),
                        }
                    });
                    continue;
                }
            }
            _ => {
                return Err(DecodeError::UnknownTag {
                    tag,
                    offset: tag_offset,
                });
            }
        };
        // Hand the finished value to the innermost open container, closing
        // every container it completes.
        loop {
            let Some(frame) = stack.last_mut() else {
                let extra = r.remaining();
                return if extra == 0 {
                    Ok(value)
                } else {
                    Err(DecodeError::TrailingBytes { extra })
                };
            };
            if matches!(frame, Frame::Dict { key: None, .. }) && !is_key(&value) {
                return Err(DecodeError::Malformed {
                    offset: tag_offset,
                    reason: "a dict key that no dict can hold (a list or a dict, or a \
                             tuple or signaling-NaN decimal that holds one)",
                });
            }
            frame.accept(value);
            if !frame.is_complete() {
                break;
            }
            let Some(done) = stack.pop() else { break };
            value = done.into_value();
        }
    }
}

/// Whether `v` can be a dict key: an immutable value (a host hashes keys), so no list
/// or dict, at any depth of a tuple, and no signaling-NaN decimal (which Python refuses
/// to hash).
pub(super) fn is_key(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Dict(_) => false,
        Value::Tuple(items) => items.iter().all(is_key),
        Value::Ext(Ext::Decimal(d)) => {
            let d = d.trim_start_matches(['+', '-']);
            !d.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("snan"))
        }
        _ => true,
    }
}

/// An open container during decoding.
enum Frame {
    Seq {
        tuple: bool,
        remaining: usize,
        items: Vec<Value>,
    },
    Dict {
        remaining: usize,
        items: Vec<(Value, Value)>,
        key: Option<Value>,
    },
}

impl Frame {
    fn accept(&mut self, v: Value) {
        match self {
            Frame::Seq {
                remaining, items, ..
            } => {
                items.push(v);
                *remaining = remaining.saturating_sub(1);
            }
            Frame::Dict {
                remaining,
                items,
                key,
            } => match key.take() {
                None => *key = Some(v),
                Some(k) => {
                    items.push((k, v));
                    *remaining = remaining.saturating_sub(1);
                }
            },
        }
    }

    fn is_complete(&self) -> bool {
        match self {
            Frame::Seq { remaining, .. } | Frame::Dict { remaining, .. } => *remaining == 0,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Frame::Seq {
                tuple: true, items, ..
            } => Value::Tuple(items),
            Frame::Seq { items, .. } => Value::List(items),
            Frame::Dict { items, .. } => Value::Dict(items),
        }
    }
}

/// What a failed read gives back: the error with its detail ([`DecodeError`]), or
/// [`Invalid`], a bare "no" that costs nothing to build or to return, for a first pass
/// whose rare failures a second, detailed pass explains (see `doc::validate_collecting`).
pub(crate) trait Failure: Sized {
    /// The failure whose detail `detail` would give (called only by failures that keep
    /// it).
    fn of(detail: impl FnOnce() -> DecodeError) -> Self;
}

impl Failure for DecodeError {
    #[inline]
    fn of(detail: impl FnOnce() -> DecodeError) -> Self {
        detail()
    }
}

/// A failure without detail (see [`Failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

impl Failure for Invalid {
    #[inline(always)]
    fn of(_: impl FnOnce() -> DecodeError) -> Self {
        Invalid
    }
}

/// Bounds-checked cursor over the input. Each read has a form generic over its
/// [`Failure`] (`*_or`) and a [`DecodeError`] one.
pub(crate) struct Reader<'b> {
    pub(crate) bytes: &'b [u8],
    pub(crate) pos: usize,
}

impl<'b> Reader<'b> {
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        self.byte_or()
    }

    /// [`Reader::byte`], failing with `E`.
    #[inline(always)]
    pub(crate) fn byte_or<E: Failure>(&mut self) -> Result<u8, E> {
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(E::of(|| DecodeError::Truncated { offset: self.pos }));
        };
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'b [u8], DecodeError> {
        self.take_or(n)
    }

    /// [`Reader::take`], failing with `E`.
    #[inline(always)]
    pub(crate) fn take_or<E: Failure>(&mut self, n: usize) -> Result<&'b [u8], E> {
        let start = self.pos;
        let Some(slice) = start
            .checked_add(n)
            .and_then(|end| self.bytes.get(start..end))
        else {
            return Err(E::of(|| DecodeError::Truncated { offset: start }));
        };
        self.pos += n;
        Ok(slice)
    }

    pub(crate) fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let start = self.pos;
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| DecodeError::Truncated { offset: start })
    }

    /// A minimal unsigned LEB128 varint of at most 10 bytes.
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        self.varint_or()
    }

    /// [`Reader::varint`], failing with `E`.
    #[inline(always)]
    pub(crate) fn varint_or<E: Failure>(&mut self) -> Result<u64, E> {
        // Most varints (tags' lengths, counts, symbols, small ints) are one byte.
        if let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        let (v, end) = long_varint(self.bytes, self.pos)?;
        self.pos = end;
        Ok(v)
    }

    /// A varint length or count. Values too large for `usize` cannot fit in
    /// the input either, so they are reported as truncation.
    pub(crate) fn length(&mut self) -> Result<usize, DecodeError> {
        self.length_or()
    }

    /// [`Reader::length`], failing with `E`.
    #[inline(always)]
    pub(crate) fn length_or<E: Failure>(&mut self) -> Result<usize, E> {
        let start = self.pos;
        let n = self.varint_or()?;
        usize::try_from(n).map_err(|_| E::of(|| DecodeError::Truncated { offset: start }))
    }
}

/// The varint at `start` of `bytes` when it is not one byte (see [`Reader::varint`]),
/// and the position past it. A function apart from the reader, so that the reader's
/// fields can stay in registers in the loops that use it.
#[inline(never)]
fn long_varint<E: Failure>(bytes: &[u8], start: usize) -> Result<(u64, usize), E> {
    let bad = |reason| {
        E::of(|| DecodeError::Malformed {
            offset: start,
            reason,
        })
    };
    let bytes = bytes.get(start..).unwrap_or_default();
    let mut value = 0u64;
    let mut i = 0;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err(E::of(|| DecodeError::Truncated { offset: start }));
        };
        value |= u64::from(b & 0x7F) << (7 * i);
        if b < 0x80 {
            if i == 9 && b > 1 {
                return Err(bad("varint overflows 64 bits"));
            }
            if b == 0 && i > 0 {
                return Err(bad("varint is not minimal"));
            }
            return Ok((value, start + i + 1));
        }
        i += 1;
        if i == 10 {
            return Err(bad("varint longer than 10 bytes"));
        }
    }
}

/// Whether the encoded value is, or holds at any depth, an [`Value::Opaque`] host
/// object. Bytes that do not decode count as holding one: the caller cannot tell.
pub fn contains_opaque(bytes: &[u8]) -> bool {
    if !bytes.contains(&tag::OPAQUE) {
        // Every Opaque value starts with its tag byte.
        return false;
    }
    let Ok(v) = decode(bytes) else {
        return true;
    };
    let mut pending = vec![&v];
    while let Some(v) = pending.pop() {
        match v {
            Value::Opaque(_) => return true,
            Value::List(items) | Value::Tuple(items) => pending.extend(items),
            Value::Dict(pairs) => {
                for (k, x) in pairs {
                    pending.push(k);
                    pending.push(x);
                }
            }
            _ => {}
        }
    }
    false
}

/// Decode-free peek: the tag of the encoded value (for the host to pick a fast path).
///
/// Looks at the first byte only; `None` for empty input or an unknown tag.
/// A `Some` answer does not mean the rest of the encoding is valid.
pub fn peek_kind(bytes: &[u8]) -> Option<ValueKind> {
    Some(match *bytes.first()? {
        tag::NONE => ValueKind::None,
        tag::FALSE | tag::TRUE => ValueKind::Bool,
        tag::INT => ValueKind::Int,
        tag::BIG_INT => ValueKind::BigInt,
        tag::FLOAT => ValueKind::Float,
        tag::STR => ValueKind::Str,
        tag::BYTES => ValueKind::Bytes,
        tag::LIST => ValueKind::List,
        tag::TUPLE => ValueKind::Tuple,
        tag::DICT => ValueKind::Dict,
        tag::OPAQUE => ValueKind::Opaque,
        tag::EXT => ValueKind::Ext,
        _ => return None,
    })
}
