//! Encoding: the streaming [`Writer`], [`encode`] of a [`Value`] tree, and the
//! varint and integer-byte helpers the document builder shares.

use super::*;

/// Streaming writer so a host can encode its own object graph without building a Value tree first.
/// Containers are written as a header with the element count followed by the elements.
///
/// The writer does not check that a container header is followed by exactly
/// the announced number of elements, nor the nesting depth; that is the
/// caller's job (a mismatch yields bytes that [`decode`] rejects or reads
/// differently). Nest no deeper than [`MAX_DEPTH`] containers.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer that appends to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    /// Write `None`.
    pub fn none(&mut self) {
        self.out.push(tag::NONE);
    }

    /// Write a `bool`.
    pub fn bool(&mut self, v: bool) {
        self.out.push(if v { tag::TRUE } else { tag::FALSE });
    }

    /// Write an integer that fits in `i64`.
    pub fn int(&mut self, v: i64) {
        self.out.push(tag::INT);
        put_varint(self.out, zigzag(v));
    }

    /// two's-complement little-endian bytes; if they fit in i64 the writer must emit the Int form instead, so every integer has exactly one encoding.
    ///
    /// Redundant sign bytes are dropped; an empty slice is zero.
    pub fn big_int(&mut self, le_twos_complement: &[u8]) {
        let bytes = &le_twos_complement[..minimal_len(le_twos_complement)];
        if bytes.len() <= 8 {
            self.int(sign_extend_i64(bytes));
        } else {
            self.out.push(tag::BIG_INT);
            self.put_blob(bytes);
        }
    }

    /// Write a `float`, bit-exact.
    pub fn float(&mut self, v: f64) {
        self.out.push(tag::FLOAT);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// Write a `str`.
    pub fn str(&mut self, v: &str) {
        self.out.push(tag::STR);
        self.put_blob(v.as_bytes());
    }

    /// Write `bytes`.
    pub fn bytes(&mut self, v: &[u8]) {
        self.out.push(tag::BYTES);
        self.put_blob(v);
    }

    /// Write an object the host serialized itself.
    pub fn opaque(&mut self, v: &[u8]) {
        self.out.push(tag::OPAQUE);
        self.put_blob(v);
    }

    /// Write a date, time, duration, decimal, UUID or complex number.
    pub fn ext(&mut self, v: &Ext) {
        v.write(self.out);
    }

    /// Start a list; write its `len` elements next.
    pub fn begin_list(&mut self, len: usize) {
        self.out.push(tag::LIST);
        put_varint(self.out, len as u64);
    }

    /// Start a tuple; write its `len` elements next.
    pub fn begin_tuple(&mut self, len: usize) {
        self.out.push(tag::TUPLE);
        put_varint(self.out, len as u64);
    }

    /// Start a dict: followed by `len` key/value pairs, key first.
    pub fn begin_dict(&mut self, len: usize) {
        self.out.push(tag::DICT);
        put_varint(self.out, len as u64);
    }

    fn put_blob(&mut self, bytes: &[u8]) {
        put_varint(self.out, bytes.len() as u64);
        self.out.extend_from_slice(bytes);
    }
}

/// Append the encoding of `value` to `out`.
///
/// Iterative, so deep trees cannot overflow the stack here; but [`decode`]
/// rejects trees nested deeper than [`MAX_DEPTH`] containers, so callers must
/// not build them. `BigInt` payloads are normalized (see [`Writer::big_int`]).
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    let mut pending: Vec<&Value> = vec![value];
    while let Some(v) = pending.pop() {
        match v {
            Value::None => w.none(),
            Value::Bool(b) => w.bool(*b),
            Value::Int(i) => w.int(*i),
            Value::BigInt(b) => w.big_int(b),
            Value::Float(f) => w.float(*f),
            Value::Str(s) => w.str(s),
            Value::Bytes(b) => w.bytes(b),
            Value::Opaque(b) => w.opaque(b),
            Value::Ext(e) => w.ext(e),
            Value::List(items) => {
                w.begin_list(items.len());
                pending.extend(items.iter().rev());
            }
            Value::Tuple(items) => {
                w.begin_tuple(items.len());
                pending.extend(items.iter().rev());
            }
            Value::Dict(pairs) => {
                w.begin_dict(pairs.len());
                for (k, v) in pairs.iter().rev() {
                    pending.push(v);
                    pending.push(k);
                }
            }
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    put_varint_with(v, |b| out.push(b));
}

/// Writes `v`'s varint at the start of `out` (long enough for it: at most 10 bytes);
/// returns the bytes written.
#[inline]
pub(crate) fn varint_into(v: u64, out: &mut [u8]) -> usize {
    let mut n = 0;
    put_varint_with(v, |b| {
        out[n] = b;
        n += 1;
    });
    n
}

/// Hands the bytes of `v`'s varint to `put`, in order.
#[inline]
fn put_varint_with(mut v: u64, mut put: impl FnMut(u8)) {
    while v >= 0x80 {
        put((v as u8) | 0x80);
        v >>= 7;
    }
    put(v as u8);
}

/// How many bytes `v`'s varint takes.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Length of `bytes` (two's-complement little-endian) without redundant sign
/// bytes. An empty slice stays empty (zero).
pub(crate) fn minimal_len(bytes: &[u8]) -> usize {
    let mut n = bytes.len();
    while n > 1 {
        let last = bytes[n - 1];
        let below_negative = bytes[n - 2] & 0x80 != 0;
        if (last == 0x00 && !below_negative) || (last == 0xFF && below_negative) {
            n -= 1;
        } else {
            break;
        }
    }
    n
}

/// Sign-extend at most 8 two's-complement little-endian bytes to `i64`.
pub(crate) fn sign_extend_i64(bytes: &[u8]) -> i64 {
    let mut buf = [sign_fill(bytes); 8];
    for (dst, src) in buf.iter_mut().zip(bytes) {
        *dst = *src;
    }
    i64::from_le_bytes(buf)
}

/// The byte that sign-extends `bytes` (two's-complement little-endian).
pub(super) fn sign_fill(bytes: &[u8]) -> u8 {
    match bytes.last() {
        Some(&b) if b & 0x80 != 0 => 0xFF,
        _ => 0x00,
    }
}
