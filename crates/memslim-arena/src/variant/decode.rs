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
            frame.accept(value);
            if !frame.is_complete() {
                break;
            }
            let Some(done) = stack.pop() else { break };
            value = done.into_value();
        }
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

/// Bounds-checked cursor over the input.
pub(crate) struct Reader<'b> {
    pub(crate) bytes: &'b [u8],
    pub(crate) pos: usize,
}

impl<'b> Reader<'b> {
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(DecodeError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'b [u8], DecodeError> {
        let start = self.pos;
        let slice = start
            .checked_add(n)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(DecodeError::Truncated { offset: start })?;
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
        // Most varints (tags' lengths, counts, symbols, small ints) are one byte.
        if let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.long_varint()
    }

    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let b = *self
                .bytes
                .get(self.pos)
                .ok_or(DecodeError::Truncated { offset: start })?;
            self.pos += 1;
            if i == 9 {
                if b & 0x80 != 0 {
                    return Err(DecodeError::Malformed {
                        offset: start,
                        reason: "varint longer than 10 bytes",
                    });
                }
                if b > 1 {
                    return Err(DecodeError::Malformed {
                        offset: start,
                        reason: "varint overflows 64 bits",
                    });
                }
            }
            value |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(DecodeError::Malformed {
                        offset: start,
                        reason: "varint is not minimal",
                    });
                }
                return Ok(value);
            }
        }
        // Unreachable: the tenth byte either ends the varint or errors above.
        Err(DecodeError::Malformed {
            offset: start,
            reason: "varint longer than 10 bytes",
        })
    }

    /// A varint length or count. Values too large for `usize` cannot fit in
    /// the input either, so they are reported as truncation.
    pub(crate) fn length(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let n = self.varint()?;
        usize::try_from(n).map_err(|_| DecodeError::Truncated { offset: start })
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
