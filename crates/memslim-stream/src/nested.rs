//! Nested JSON values (objects, arrays, big integers) in memslim's variant encoding.
//!
//! Objects become dicts, arrays lists, as `json.loads` makes them, so a value read from
//! a JSONL file compares equal, type for type, to the one Python's `json` module gives.

use memslim_records::variant::Writer;

use crate::json::{Scalar, Visitor};

/// A [`Visitor`] that writes the value it sees in the variant encoding.
///
/// Container headers carry their element count, which JSON does not announce: the
/// encoder writes a one-byte count and patches it at the end of the container, moving
/// the body only for containers of 128 elements or more (whose count needs more bytes).
///
/// # Memory
/// Appends to the caller's buffer; keeps a stack of open containers (reused).
#[derive(Debug, Default)]
pub struct VariantEncoder {
    /// Output bytes.
    pub out: Vec<u8>,
    open: Vec<usize>,
}

impl VariantEncoder {
    /// An encoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Clears the output for the next value.
    pub fn clear(&mut self) {
        self.out.clear();
        self.open.clear();
    }

    fn begin(&mut self, list: bool) {
        let mut w = Writer::new(&mut self.out);
        if list {
            w.begin_list(0);
        } else {
            w.begin_dict(0);
        }
        // The count is the varint right after the tag byte; `0` took one byte.
        self.open.push(self.out.len() - 1);
    }

    fn end(&mut self, len: usize) {
        let Some(at) = self.open.pop() else { return };
        let mut tmp = [0u8; 10];
        let n = varint(len as u64, &mut tmp);
        self.out[at] = tmp[0];
        if n > 1 {
            self.out.splice(at + 1..at + 1, tmp[1..n].iter().copied());
        }
    }
}

/// Unsigned LEB128 (the variant encoding's varint) into `out`; returns the length.
fn varint(mut v: u64, out: &mut [u8; 10]) -> usize {
    let mut n = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[n] = b;
            return n + 1;
        }
        out[n] = b | 0x80;
        n += 1;
    }
}

impl Visitor for VariantEncoder {
    fn begin_object(&mut self) {
        self.begin(false);
    }
    fn key(&mut self, key: &str) {
        Writer::new(&mut self.out).str(key);
    }
    fn end_object(&mut self, len: usize) {
        self.end(len);
    }
    fn begin_array(&mut self) {
        self.begin(true);
    }
    fn end_array(&mut self, len: usize) {
        self.end(len);
    }
    fn scalar(&mut self, value: Scalar<'_>) {
        let mut w = Writer::new(&mut self.out);
        match value {
            Scalar::Null => w.none(),
            Scalar::Bool(b) => w.bool(b),
            Scalar::Int(i) => w.int(i),
            Scalar::BigInt(text) => w.big_int(&decimal_to_le(text)),
            Scalar::Float(f) => w.float(f),
            Scalar::Str(s) => w.str(s),
        }
    }
    fn reserve(&mut self, bytes: usize) -> bool {
        // A tag and a length varint before the text; `exact`: the buffer holds this
        // value's encoding, it need not double past it.
        self.out.try_reserve_exact(bytes + 11).is_ok()
    }
}

/// Two's-complement little-endian bytes of a decimal integer (`-?[0-9]+`).
///
/// Nineteen digits per step into 64-bit limbs: still quadratic in the length (as
/// CPython's own `int(str)` below its huge-number path), so callers bound the digits
/// ([`crate::json::Parser::with_max_int_digits`]), but about 20 times fewer limb
/// operations than digit by digit: a million digits take about a second, not a minute.
pub fn decimal_to_le(text: &str) -> Vec<u8> {
    const STEP: usize = 19;
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let digits = digits.as_bytes();
    // Magnitude in base 2^64, least significant limb first.
    let mut limbs: Vec<u64> = Vec::with_capacity(digits.len() / STEP + 2);
    limbs.push(0);
    // A short first chunk, so that every later one has exactly STEP digits.
    let first = match digits.len() % STEP {
        0 => STEP.min(digits.len()),
        r => r,
    };
    let mut at = 0;
    let mut take = first;
    while at < digits.len() {
        let chunk = &digits[at..at + take];
        at += take;
        let mut value: u64 = 0;
        for &d in chunk {
            value = value * 10 + u64::from(d.wrapping_sub(b'0') % 10);
        }
        let scale = 10u128.pow(chunk.len() as u32);
        let mut carry = u128::from(value);
        for l in &mut limbs {
            let v = u128::from(*l) * scale + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry > 0 {
            limbs.push(carry as u64);
        }
        take = STEP;
    }
    let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    // Room for the sign bit.
    bytes.push(0);
    if neg {
        let mut carry = true;
        for b in &mut bytes {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Parser;
    use memslim_records::variant::{Value, decode};

    fn enc(s: &str) -> Value {
        let mut tmp = String::new();
        let mut e = VariantEncoder::new();
        Parser::new(s, &mut tmp).value(&mut e).unwrap();
        decode(&e.out).unwrap()
    }

    #[test]
    fn nested_values_decode_as_json_loads_would_build_them() {
        let v = enc(r#"{"a": [1, true, null, "x"], "b": {"c": -0.0}}"#);
        let Value::Dict(items) = v else {
            panic!("not a dict: {v:?}")
        };
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0].1, Value::List(l) if l.len() == 4));
        assert!(matches!(&items[0].1, Value::List(l) if matches!(l[1], Value::Bool(true))));
        let Value::Dict(inner) = &items[1].1 else {
            panic!()
        };
        assert!(matches!(inner[0].1, Value::Float(f) if f == 0.0 && f.is_sign_negative()));
    }

    #[test]
    fn long_containers_get_multi_byte_counts() {
        for n in [0usize, 1, 127, 128, 300, 20_000] {
            let body: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            let v = enc(&format!("[{}]", body.join(",")));
            let Value::List(items) = v else { panic!() };
            assert_eq!(items.len(), n);
            if n > 0 {
                assert!(matches!(items[n - 1], Value::Int(x) if x == n as i64 - 1));
            }
        }
    }

    #[test]
    fn big_ints_keep_every_digit() {
        let v = enc("[123456789012345678901234567890, -98765432109876543210987654321]");
        let Value::List(items) = v else { panic!() };
        // 123456789012345678901234567890 = 0x18EE90FF6C373E0EE4E3F0AD2
        let Value::BigInt(le) = &items[0] else {
            panic!("{:?}", items[0])
        };
        let mut be = le.clone();
        be.reverse();
        let hex: String = be.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex.trim_start_matches('0'), "18ee90ff6c373e0ee4e3f0ad2");
        assert!(matches!(&items[1], Value::BigInt(b) if b.last().is_some_and(|x| x & 0x80 != 0)));
        // Just past i64 on both sides.
        assert!(matches!(enc("9223372036854775808"), Value::BigInt(_)));
        assert!(matches!(enc("-9223372036854775809"), Value::BigInt(_)));
    }

    /// The digit-by-digit conversion this replaced: the model.
    fn decimal_to_le_slow(text: &str) -> Vec<u8> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        let mut limbs: Vec<u32> = vec![0];
        for d in digits.bytes() {
            let mut carry = u64::from(d - b'0');
            for l in &mut limbs {
                let v = u64::from(*l) * 10 + carry;
                *l = v as u32;
                carry = v >> 32;
            }
            if carry > 0 {
                limbs.push(carry as u32);
            }
        }
        let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
        bytes.push(0);
        if neg {
            let mut carry = true;
            for b in &mut bytes {
                let (v, c) = (!*b).overflowing_add(u8::from(carry));
                *b = v;
                carry = c;
            }
        }
        bytes
    }

    fn canonical(le: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        memslim_records::variant::Writer::new(&mut out).big_int(le);
        out
    }

    proptest::proptest! {
        #[test]
        fn chunked_conversion_matches_digit_by_digit(
            neg in proptest::bool::ANY,
            digits in "[0-9]{1,120}",
        ) {
            let text = if neg { format!("-{digits}") } else { digits };
            proptest::prop_assert_eq!(
                canonical(&decimal_to_le(&text)),
                canonical(&decimal_to_le_slow(&text))
            );
        }
    }
}
