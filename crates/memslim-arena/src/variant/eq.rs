//! Python's `==` between decoded values, where it can be decided without the host.

use super::*;

/// Python's `==` between two values, where it can be decided without the host:
/// numbers compare by value across Bool/Int/BigInt/Float (True == 1 == 1.0, 2**70 == 2.0**70 exactly, not via lossy casts),
/// NaN != NaN (even itself), 0.0 == -0.0, Str/Bytes by content (str never equals bytes),
/// List == List and Tuple == Tuple elementwise (a list never equals a tuple),
/// Dict == Dict as mappings (same length and each key of one maps to an equal value in the other, order ignored; key lookup uses this same equality),
/// None == None only. Returns None (undecidable) when an Opaque value would have to be compared with anything.
///
/// Containers combine their element results three-valued: a definite
/// mismatch anywhere (including a length mismatch, checked first) gives
/// `Some(false)` even if other elements involve `Opaque` values, because
/// Python's answer is then `False` whatever those comparisons return.
/// Dicts are assumed to have distinct keys, as every Python dict does; a dict
/// key matches the first key of the other dict that it equals. Python's
/// identity shortcut (`x is y` implies equal inside containers) cannot be
/// seen here, so a NaN never equals anything. Dict comparison is quadratic in
/// the dict length and recursion follows the nesting depth of the values.
pub fn python_eq(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Opaque(_), _) | (_, Value::Opaque(_)) => None,
        (Value::Ext(x), Value::Ext(y)) => x.python_eq(y),
        // A Decimal or complex equals numbers of equal value, a datetime may equal a
        // subclass instance: the host decides.
        (Value::Ext(_), _) | (_, Value::Ext(_)) => None,
        (Value::None, Value::None) => Some(true),
        (Value::Str(x), Value::Str(y)) => Some(x == y),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x == y),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => seq_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => dict_eq(x, y),
        _ => match (Num::of(a), Num::of(b)) {
            (Some(x), Some(y)) => Some(num_eq(x, y)),
            _ => Some(false),
        },
    }
}

fn seq_eq(a: &[Value], b: &[Value]) -> Option<bool> {
    if a.len() != b.len() {
        return Some(false);
    }
    let mut undecided = false;
    for (x, y) in a.iter().zip(b) {
        match python_eq(x, y) {
            Some(true) => {}
            Some(false) => return Some(false),
            None => undecided = true,
        }
    }
    if undecided { None } else { Some(true) }
}

fn dict_eq(a: &[(Value, Value)], b: &[(Value, Value)]) -> Option<bool> {
    if a.len() != b.len() {
        return Some(false);
    }
    let mut undecided = false;
    for (key, value) in a {
        let mut found = None;
        let mut maybe_found = false;
        for (other_key, other_value) in b {
            match python_eq(key, other_key) {
                Some(true) => {
                    found = Some(other_value);
                    break;
                }
                Some(false) => {}
                None => maybe_found = true,
            }
        }
        match found {
            Some(other_value) => match python_eq(value, other_value) {
                Some(true) => {}
                Some(false) => return Some(false),
                None => undecided = true,
            },
            None if maybe_found => undecided = true,
            None => return Some(false),
        }
    }
    if undecided { None } else { Some(true) }
}

/// A numeric view of a value.
#[derive(Clone, Copy)]
enum Num<'v> {
    /// `Bool` or `Int`.
    Small(i64),
    /// Two's-complement little-endian bytes (not necessarily minimal).
    Big(&'v [u8]),
    Float(f64),
}

impl<'v> Num<'v> {
    fn of(v: &'v Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(Num::Small(i64::from(*b))),
            Value::Int(i) => Some(Num::Small(*i)),
            Value::BigInt(b) => Some(Num::Big(b)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    /// The exact integer value as two's-complement little-endian bytes, or
    /// `None` for a float that is not an integer (NaN, infinite, fractional).
    fn int_bytes(self) -> Option<Cow<'v, [u8]>> {
        match self {
            Num::Small(i) => Some(Cow::Owned(i.to_le_bytes().to_vec())),
            Num::Big(b) => Some(Cow::Borrowed(b)),
            Num::Float(f) => float_to_int_bytes(f).map(Cow::Owned),
        }
    }
}

fn num_eq(a: Num<'_>, b: Num<'_>) -> bool {
    match (a, b) {
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Small(x), Num::Small(y)) => x == y,
        _ => match (a.int_bytes(), b.int_bytes()) {
            (Some(x), Some(y)) => int_bytes_eq(&x, &y),
            _ => false,
        },
    }
}

/// Equality of two integers given as two's-complement little-endian bytes of
/// any lengths (an empty slice is zero).
fn int_bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let (fill_a, fill_b) = (sign_fill(a), sign_fill(b));
    (0..a.len().max(b.len()))
        .all(|i| a.get(i).copied().unwrap_or(fill_a) == b.get(i).copied().unwrap_or(fill_b))
}

/// The exact value of an integral, finite float as two's-complement
/// little-endian bytes; `None` for NaN, infinities and fractional values.
fn float_to_int_bytes(f: f64) -> Option<Vec<u8>> {
    if !f.is_finite() || f.trunc() != f {
        return None;
    }
    let bits = f.to_bits();
    let negative = bits >> 63 != 0;
    let biased_exponent = ((bits >> 52) & 0x7FF) as i32;
    if biased_exponent == 0 {
        // ±0.0 (subnormals are fractional and were rejected above).
        return Some(vec![0]);
    }
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    // value = mantissa * 2^shift
    let shift = biased_exponent - 1075;
    let mut bytes = if shift <= 0 {
        // Integral, so the bits shifted out are zero.
        mantissa
            .checked_shr(shift.unsigned_abs())
            .unwrap_or(0)
            .to_le_bytes()
            .to_vec()
    } else {
        let byte_shift = (shift / 8) as usize;
        let bit_shift = (shift % 8) as u32;
        // 53 mantissa bits + at most 7 more still fit in a u64.
        let mut v = vec![0u8; byte_shift];
        v.extend_from_slice(&(mantissa << bit_shift).to_le_bytes());
        v
    };
    // A zero sign byte makes the magnitude read as non-negative.
    bytes.push(0);
    if negative {
        let mut carry = true;
        for byte in &mut bytes {
            let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
            *byte = sum;
            carry = overflow;
        }
    }
    Some(bytes)
}
