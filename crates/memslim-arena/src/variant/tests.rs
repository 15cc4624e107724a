//! Round trips, canonical-form checks, hostile inputs and Python equality.

use super::*;
use proptest::prelude::*;

fn enc(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out);
    out
}

/// Asserts the exact round trip and returns the encoding.
fn round_trip(v: &Value) -> Vec<u8> {
    let bytes = enc(v);
    let back = decode(&bytes).unwrap_or_else(|e| panic!("{v:?} failed to decode: {e}"));
    assert_eq!(&back, v);
    assert_eq!(enc(&back), bytes);
    assert_eq!(peek_kind(&bytes), Some(v.kind()));
    bytes
}

/// Minimal two's-complement little-endian bytes of `x`.
fn le_bytes(x: i128) -> Vec<u8> {
    let b = x.to_le_bytes();
    b[..minimal_len(&b)].to_vec()
}

/// `x` as the canonical Value (Int when it fits, BigInt otherwise).
fn int_value(x: i128) -> Value {
    match i64::try_from(x) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::BigInt(le_bytes(x)),
    }
}

/// ±2**k as minimal two's-complement little-endian bytes.
fn pow2(k: usize, negative: bool) -> Vec<u8> {
    let mut b = vec![0u8; k / 8 + 1];
    b[k / 8] = 1 << (k % 8);
    if !negative {
        b.push(0);
    } else {
        // -(2**k): 2**k's bit and everything above it set.
        b[k / 8] = 0xFFu8 << (k % 8);
    }
    let n = minimal_len(&b);
    b.truncate(n);
    b
}

fn big(bytes: Vec<u8>) -> Value {
    assert!(bytes.len() > 8 && minimal_len(&bytes) == bytes.len());
    Value::BigInt(bytes)
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn tuple(items: Vec<Value>) -> Value {
    Value::Tuple(items)
}

fn dict(pairs: Vec<(Value, Value)>) -> Value {
    Value::Dict(pairs)
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

#[test]
fn exact_layout() {
    assert_eq!(enc(&Value::None), [0x00]);
    assert_eq!(enc(&Value::Bool(false)), [0x01]);
    assert_eq!(enc(&Value::Bool(true)), [0x02]);
    assert_eq!(enc(&Value::Int(0)), [0x03, 0x00]);
    assert_eq!(enc(&Value::Int(-1)), [0x03, 0x01]);
    assert_eq!(enc(&Value::Int(1)), [0x03, 0x02]);
    assert_eq!(enc(&Value::Int(63)), [0x03, 0x7E]);
    assert_eq!(enc(&Value::Int(-64)), [0x03, 0x7F]);
    assert_eq!(enc(&Value::Int(64)), [0x03, 0x80, 0x01]);
    let mut max = vec![0x03];
    max.extend([0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    assert_eq!(enc(&Value::Int(i64::MAX)), max);
    let mut min = vec![0x03];
    min.extend([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    assert_eq!(enc(&Value::Int(i64::MIN)), min);
    let mut one = vec![0x05];
    one.extend(1.0f64.to_bits().to_le_bytes());
    assert_eq!(enc(&Value::Float(1.0)), one);
    assert_eq!(enc(&s("hi")), [0x06, 0x02, b'h', b'i']);
    assert_eq!(enc(&Value::Bytes(vec![9])), [0x07, 0x01, 0x09]);
    assert_eq!(enc(&Value::Opaque(vec![9])), [0x0B, 0x01, 0x09]);
    assert_eq!(
        enc(&list(vec![Value::Int(1), Value::None])),
        [0x08, 0x02, 0x03, 0x02, 0x00]
    );
    assert_eq!(enc(&tuple(vec![Value::Bool(true)])), [0x09, 0x01, 0x02]);
    assert_eq!(
        enc(&dict(vec![(s("a"), Value::Int(-1))])),
        [0x0A, 0x01, 0x06, 0x01, b'a', 0x03, 0x01]
    );
    let mut b = vec![0x04, 0x09];
    b.extend(pow2(70, false));
    assert_eq!(enc(&big(pow2(70, false))), b);
}

#[test]
fn compact_sizes() {
    for i in -64..=63 {
        assert_eq!(enc(&Value::Int(i)).len(), 2);
    }
    for len in 0..128 {
        assert_eq!(enc(&s(&"x".repeat(len))).len(), 2 + len);
    }
    assert_eq!(enc(&s(&"x".repeat(128))).len(), 3 + 128);
}

#[test]
fn scalars_round_trip() {
    for v in [
        Value::None,
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(0),
        Value::Int(1),
        Value::Int(-1),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX - 1),
        Value::Int(i64::MIN + 1),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(f64::NAN),
        Value::Float(-f64::NAN),
        Value::Float(f64::from_bits(0x7FF0_0000_0000_0001)), // signalling NaN
        Value::Float(f64::from_bits(0xFFF8_DEAD_BEEF_0001)), // NaN with payload
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(f64::MAX),
        Value::Float(f64::MIN_POSITIVE),
        Value::Float(f64::from_bits(1)), // smallest subnormal
        s(""),
        s("a\0b\0"),
        s("\0"),
        s("𝄞 😀 \u{10FFFF} \u{FEFF} é"),
        Value::Bytes(vec![]),
        Value::Bytes(vec![0, 255, 0]),
        Value::Opaque(vec![]),
        Value::Opaque(b"\x80\x04\x95pickle".to_vec()),
    ] {
        round_trip(&v);
    }
}

#[test]
fn float_bits_are_exact() {
    let back = decode(&enc(&Value::Float(-0.0))).unwrap();
    let Value::Float(f) = back else {
        panic!("not a float: {back:?}")
    };
    assert_eq!(f.to_bits(), (-0.0f64).to_bits());
    assert!(f.is_sign_negative());
    for bits in [
        0x7FF8_0000_0000_0000u64,
        0x7FF0_0000_0000_0001,
        0xFFFF_FFFF_FFFF_FFFF,
        0x7FF4_0000_0000_0000,
    ] {
        let back = decode(&enc(&Value::Float(f64::from_bits(bits)))).unwrap();
        let Value::Float(f) = back else {
            panic!("not a float: {back:?}")
        };
        assert_eq!(f.to_bits(), bits);
    }
    // Structural equality is bit-exact.
    assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
    assert_ne!(Value::Float(0.0), Value::Float(-0.0));
    assert_ne!(Value::Float(f64::NAN), Value::Float(-f64::NAN));
}

#[test]
fn kinds_are_never_conflated() {
    assert_eq!(decode(&enc(&Value::Bool(true))).unwrap(), Value::Bool(true));
    assert_ne!(enc(&Value::Bool(true)), enc(&Value::Int(1)));
    assert_ne!(enc(&Value::Bool(false)), enc(&Value::Int(0)));
    assert_ne!(Value::Bool(true), Value::Int(1));
    let t = tuple(vec![Value::Int(1)]);
    let l = list(vec![Value::Int(1)]);
    assert_eq!(decode(&enc(&t)).unwrap(), t);
    assert_ne!(enc(&t), enc(&l));
    assert_ne!(t, l);
    assert_ne!(enc(&s("a")), enc(&Value::Bytes(b"a".to_vec())));
    assert_ne!(enc(&Value::Opaque(vec![])), enc(&Value::Bytes(vec![])));
    assert_ne!(enc(&Value::Float(1.0)), enc(&Value::Int(1)));
}

#[test]
fn big_int_boundaries() {
    let two_63 = pow2(63, false);
    assert_eq!(two_63, [0, 0, 0, 0, 0, 0, 0, 0x80, 0]);
    let minus_two_63_minus_1 = le_bytes(-(1i128 << 63) - 1);
    assert_eq!(
        minus_two_63_minus_1,
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF]
    );
    let two_70 = pow2(70, false);
    let minus_two_70 = pow2(70, true);
    assert_eq!(two_70, le_bytes(1i128 << 70));
    assert_eq!(minus_two_70, le_bytes(-(1i128 << 70)));
    assert_eq!(pow2(63, true), (i64::MIN).to_le_bytes());
    for b in [
        two_63,
        minus_two_63_minus_1,
        two_70,
        minus_two_70,
        pow2(1000, false),
        pow2(1000, true),
        le_bytes(i128::MAX),
        le_bytes(i128::MIN),
    ] {
        let bytes = round_trip(&big(b.clone()));
        assert_eq!(bytes[0], 0x04);
        assert_eq!(bytes.len(), 1 + 2 + b.len() - usize::from(b.len() < 128));
        assert_eq!(peek_kind(&bytes), Some(ValueKind::BigInt));
    }
    // Just inside i64: the Int form.
    for i in [i64::MAX, i64::MIN] {
        assert_eq!(round_trip(&int_value(i128::from(i)))[0], 0x03);
    }
}

#[test]
fn big_int_that_fits_writes_int_form() {
    let cases: Vec<(Vec<u8>, i64)> = vec![
        (vec![], 0),
        (vec![0x05], 5),
        (vec![0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 5),
        (vec![0xFF; 20], -1),
        (vec![0x80], -128),
        (vec![0x80, 0x00], 128),
        (i64::MAX.to_le_bytes().to_vec(), i64::MAX),
        (i64::MIN.to_le_bytes().to_vec(), i64::MIN),
        (
            [i64::MAX.to_le_bytes().as_slice(), &[0, 0, 0]].concat(),
            i64::MAX,
        ),
        (
            [i64::MIN.to_le_bytes().as_slice(), &[0xFF, 0xFF]].concat(),
            i64::MIN,
        ),
    ];
    for (bytes, i) in cases {
        let mut a = Vec::new();
        Writer::new(&mut a).big_int(&bytes);
        let mut b = Vec::new();
        Writer::new(&mut b).int(i);
        assert_eq!(a, b, "{bytes:?}");
        assert_eq!(decode(&a).unwrap(), Value::Int(i));
        assert_eq!(enc(&Value::BigInt(bytes)), b);
    }
    // Redundant sign bytes are dropped from true big ints.
    let mut padded = pow2(63, false);
    padded.extend([0, 0, 0]);
    assert_eq!(enc(&Value::BigInt(padded)), enc(&big(pow2(63, false))));
    let mut padded = pow2(70, true);
    padded.extend([0xFF; 4]);
    assert_eq!(enc(&Value::BigInt(padded)), enc(&big(pow2(70, true))));
}

#[test]
fn empty_containers() {
    for v in [
        list(vec![]),
        tuple(vec![]),
        dict(vec![]),
        list(vec![list(vec![]), tuple(vec![]), dict(vec![])]),
        dict(vec![(tuple(vec![]), list(vec![]))]),
    ] {
        round_trip(&v);
    }
    assert_eq!(enc(&list(vec![])), [0x08, 0x00]);
    assert_eq!(enc(&tuple(vec![])), [0x09, 0x00]);
    assert_eq!(enc(&dict(vec![])), [0x0A, 0x00]);
}

#[test]
fn mixed_tree_and_dict_order() {
    let v = dict(vec![
        (s("z"), Value::Int(1)),
        (s("a"), Value::Int(2)),
        (Value::Int(3), list(vec![Value::None, Value::Float(-0.0)])),
        (
            tuple(vec![Value::Bool(true), s("\0")]),
            dict(vec![(Value::None, Value::Opaque(vec![1, 2, 3]))]),
        ),
        (Value::Float(f64::NAN), big(pow2(70, true))),
        (s("a"), s("duplicate keys are kept as given")),
    ]);
    round_trip(&v);
    let Value::Dict(pairs) = decode(&enc(&v)).unwrap() else {
        panic!("not a dict")
    };
    let keys: Vec<_> = pairs.iter().map(|(k, _)| k.kind()).collect();
    assert_eq!(
        keys,
        [
            ValueKind::Str,
            ValueKind::Str,
            ValueKind::Int,
            ValueKind::Tuple,
            ValueKind::Float,
            ValueKind::Str
        ]
    );
    assert_eq!(pairs[0].0, s("z"));
    assert_eq!(pairs[1].0, s("a"));
}

fn nested(depth: usize) -> Value {
    let mut v = Value::Int(7);
    for level in 0..depth {
        v = match level % 3 {
            0 => list(vec![v, Value::None]),
            1 => tuple(vec![v]),
            _ => dict(vec![(s("k"), v)]),
        };
    }
    v
}

#[test]
fn nested_100_levels() {
    round_trip(&nested(100));
}

#[test]
fn depth_limit() {
    round_trip(&nested(MAX_DEPTH));
    let too_deep = enc(&nested(MAX_DEPTH + 1));
    assert!(matches!(
        decode(&too_deep),
        Err(DecodeError::TooDeep {
            limit: MAX_DEPTH,
            ..
        })
    ));

    // [[[...[]...]]] with exactly MAX_DEPTH lists is fine, one more is not.
    let chain = |n: usize| {
        let mut b = Vec::new();
        for _ in 0..n - 1 {
            b.extend([0x08, 0x01]);
        }
        b.extend([0x08, 0x00]);
        b
    };
    assert!(decode(&chain(MAX_DEPTH)).is_ok());
    assert_eq!(
        decode(&chain(MAX_DEPTH + 1)),
        Err(DecodeError::TooDeep {
            limit: MAX_DEPTH,
            offset: 2 * MAX_DEPTH
        })
    );
    // A huge hostile nesting neither recurses nor overflows.
    assert!(matches!(
        decode(&chain(1_000_000)),
        Err(DecodeError::TooDeep { .. })
    ));
}

#[test]
fn decode_errors() {
    use DecodeError::*;
    assert_eq!(decode(&[]), Err(Truncated { offset: 0 }));
    assert_eq!(
        decode(&[0xFF]),
        Err(UnknownTag {
            tag: 0xFF,
            offset: 0
        })
    );
    assert_eq!(
        decode(&[0x08, 0x01, 0x0C]),
        Err(UnknownTag {
            tag: 0x0C,
            offset: 2
        })
    );
    assert_eq!(decode(&[0x00, 0x00]), Err(TrailingBytes { extra: 1 }));
    assert_eq!(
        decode(&[0x08, 0x00, 1, 2, 3]),
        Err(TrailingBytes { extra: 3 })
    );
    assert_eq!(decode(&[0x03]), Err(Truncated { offset: 1 }));
    assert_eq!(decode(&[0x03, 0x80]), Err(Truncated { offset: 1 }));
    assert_eq!(decode(&[0x05, 0, 0, 0]), Err(Truncated { offset: 1 }));
    assert_eq!(decode(&[0x06, 0x03, b'a']), Err(Truncated { offset: 2 }));
    assert_eq!(
        decode(&[0x06, 0x03, b'a', 0xC3, 0x28]),
        Err(InvalidUtf8 { offset: 3 })
    );
    assert_eq!(
        decode(&[0x06, 0x02, 0xED, 0xA0]), // surrogate half
        Err(InvalidUtf8 { offset: 2 })
    );
    assert_eq!(decode(&[0x08, 0x02, 0x00]), Err(Truncated { offset: 0 }));
    assert_eq!(decode(&[0x0A, 0x01, 0x00]), Err(Truncated { offset: 0 }));
    // Non-minimal varints.
    assert!(matches!(
        decode(&[0x03, 0x80, 0x00]),
        Err(Malformed { offset: 1, .. })
    ));
    assert!(matches!(
        decode(&[0x06, 0x81, 0x00, b'a']),
        Err(Malformed { offset: 1, .. })
    ));
    // Eleven-byte and overflowing varints.
    let mut long = vec![0x03];
    long.extend([0x80; 10]);
    long.push(0x00);
    assert!(matches!(decode(&long), Err(Malformed { offset: 1, .. })));
    let mut overflow = vec![0x03];
    overflow.extend([0xFF; 9]);
    overflow.push(0x02);
    assert!(matches!(
        decode(&overflow),
        Err(Malformed { offset: 1, .. })
    ));
    // Non-canonical big ints.
    let mut small_big = vec![0x04, 0x08];
    small_big.extend([1, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        decode(&small_big),
        Err(Malformed { offset: 0, .. })
    ));
    assert!(matches!(
        decode(&[0x04, 0x00]),
        Err(Malformed { offset: 0, .. })
    ));
    let mut padded_big = vec![0x04, 0x0A];
    padded_big.extend(pow2(63, false));
    padded_big.push(0);
    assert!(matches!(
        decode(&padded_big),
        Err(Malformed { offset: 0, .. })
    ));
    let mut padded_neg = vec![0x04, 0x0A];
    padded_neg.extend(pow2(70, true));
    padded_neg.push(0xFF);
    assert!(matches!(
        decode(&padded_neg),
        Err(Malformed { offset: 0, .. })
    ));
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    let mut max_varint = Vec::new();
    put_varint(&mut max_varint, u64::MAX);
    for tag in [0x04, 0x06, 0x07, 0x0B, 0x08, 0x09, 0x0A] {
        let mut b = vec![tag];
        b.extend(&max_varint);
        b.extend([0u8; 16]);
        assert!(
            matches!(decode(&b), Err(DecodeError::Truncated { .. })),
            "{tag}"
        );
    }
    // Many nested containers each claiming as many elements as there are
    // bytes left: reservations stay bounded by the input length.
    let mut b = Vec::new();
    let n = 400;
    for i in 0..n {
        b.push(0x08);
        put_varint(&mut b, 100_000 - 3 * i);
    }
    b.resize(b.len() + 100_000, 0x0C);
    assert!(matches!(
        decode(&b),
        Err(DecodeError::UnknownTag { tag: 0x0C, .. })
    ));
}

#[test]
fn error_messages() {
    assert_eq!(
        DecodeError::UnknownTag {
            tag: 0xAB,
            offset: 3
        }
        .to_string(),
        "unknown variant tag 0xab at byte 3"
    );
    assert_eq!(
        DecodeError::UnknownTag {
            tag: 0x0C,
            offset: 0
        }
        .to_string(),
        "unknown variant tag 0x0c at byte 0"
    );
    assert_eq!(
        DecodeError::Truncated { offset: 9 }.to_string(),
        "variant value truncated at byte 9"
    );
    assert_eq!(
        DecodeError::TooDeep {
            limit: MAX_DEPTH,
            offset: 1
        }
        .to_string(),
        "variant value nested deeper than 512 levels at byte 1"
    );
    assert_eq!(
        DecodeError::TrailingBytes { extra: 2 }.to_string(),
        "2 trailing bytes after variant value"
    );
    assert_eq!(
        DecodeError::InvalidUtf8 { offset: 4 }.to_string(),
        "invalid UTF-8 in variant string at byte 4"
    );
    assert_eq!(
        DecodeError::Malformed {
            offset: 1,
            reason: "varint is not minimal"
        }
        .to_string(),
        "malformed variant value at byte 1: varint is not minimal"
    );
}

/// Encodes `v` through the public Writer API, recursively, the way a host
/// walking its own object graph would.
fn write_tree(w: &mut Writer<'_>, v: &Value) {
    match v {
        Value::None => w.none(),
        Value::Bool(b) => w.bool(*b),
        Value::Int(i) => w.int(*i),
        Value::BigInt(b) => w.big_int(b),
        Value::Float(f) => w.float(*f),
        Value::Str(x) => w.str(x),
        Value::Bytes(b) => w.bytes(b),
        Value::Opaque(b) => w.opaque(b),
        Value::Ext(e) => w.ext(e),
        Value::List(items) => {
            w.begin_list(items.len());
            items.iter().for_each(|x| write_tree(w, x));
        }
        Value::Tuple(items) => {
            w.begin_tuple(items.len());
            items.iter().for_each(|x| write_tree(w, x));
        }
        Value::Dict(pairs) => {
            w.begin_dict(pairs.len());
            for (k, x) in pairs {
                write_tree(w, k);
                write_tree(w, x);
            }
        }
    }
}

#[test]
fn writer_matches_encode() {
    let tree = dict(vec![
        (s("name"), s("ada")),
        (
            s("tags"),
            list(vec![s("x"), Value::Bytes(vec![0]), Value::None]),
        ),
        (
            tuple(vec![Value::Int(1), Value::Bool(false)]),
            Value::Float(-0.0),
        ),
        (s("big"), big(pow2(70, false))),
        (s("obj"), Value::Opaque(vec![0x80, 0x04])),
    ]);
    let mut by_hand = Vec::new();
    let mut w = Writer::new(&mut by_hand);
    w.begin_dict(5);
    w.str("name");
    w.str("ada");
    w.str("tags");
    w.begin_list(3);
    w.str("x");
    w.bytes(&[0]);
    w.none();
    w.begin_tuple(2);
    w.int(1);
    w.bool(false);
    w.float(-0.0);
    w.str("big");
    w.big_int(&pow2(70, false));
    w.str("obj");
    w.opaque(&[0x80, 0x04]);
    assert_eq!(by_hand, enc(&tree));

    let mut walked = Vec::new();
    write_tree(&mut Writer::new(&mut walked), &tree);
    assert_eq!(walked, by_hand);

    // encode appends; it does not clear.
    let mut out = vec![0xAA];
    encode(&Value::None, &mut out);
    assert_eq!(out, [0xAA, 0x00]);
}

#[test]
fn peek_kinds() {
    for v in [
        Value::None,
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(5),
        big(pow2(64, false)),
        Value::Float(1.5),
        s("x"),
        Value::Bytes(vec![]),
        list(vec![]),
        tuple(vec![]),
        dict(vec![]),
        Value::Opaque(vec![]),
    ] {
        assert_eq!(peek_kind(&enc(&v)), Some(v.kind()));
    }
    assert_eq!(peek_kind(&[]), None);
    assert_eq!(peek_kind(&[0x0C]), None);
    assert_eq!(peek_kind(&[0xFF]), None);
}

#[test]
fn every_single_byte_corruption_of_a_mixed_tree() {
    let tree = dict(vec![
        (s("name"), s("ada\0😀")),
        (
            tuple(vec![i(1), Value::Bool(true)]),
            list(vec![f(-0.0), Value::None, big(pow2(70, true))]),
        ),
        (i(-300), Value::Bytes(vec![0, 1, 2])),
        (s("o"), Value::Opaque(vec![0x80; 3])),
    ]);
    let bytes = round_trip(&tree);
    let mut corrupted = bytes.clone();
    for pos in 0..bytes.len() {
        for new in 0..=u8::MAX {
            corrupted[pos] = new;
            check_decode(&corrupted);
        }
        corrupted[pos] = bytes[pos];
    }
}

// -- python_eq ----------------------------------------------------------

fn f(x: f64) -> Value {
    Value::Float(x)
}

fn i(x: i64) -> Value {
    Value::Int(x)
}

fn assert_py(a: &Value, b: &Value, expected: Option<bool>) {
    assert_eq!(python_eq(a, b), expected, "{a:?} == {b:?}");
    assert_eq!(python_eq(b, a), expected, "{b:?} == {a:?}");
}

#[test]
fn python_eq_numbers() {
    let t = Value::Bool(true);
    let fa = Value::Bool(false);
    for (a, b, eq) in [
        (&t, &i(1), true),
        (&t, &f(1.0), true),
        (&i(1), &f(1.0), true),
        (&fa, &i(0), true),
        (&fa, &f(0.0), true),
        (&fa, &f(-0.0), true),
        (&t, &i(2), false),
        (&t, &fa, false),
        (&t, &t, true),
        (&i(0), &f(0.5), false),
        (&i(1), &f(1.0000000000000002), false),
        (&i(-3), &f(-3.0), true),
        (&f(0.0), &f(-0.0), true),
        (&f(f64::NAN), &f(f64::NAN), false),
        (&f(f64::INFINITY), &f(f64::INFINITY), true),
        (&f(f64::INFINITY), &f(f64::NEG_INFINITY), false),
        (&i(i64::MAX), &f(9_223_372_036_854_775_808.0), false),
        (&i(i64::MIN), &f(-9_223_372_036_854_775_808.0), true),
        // 2**53 + 1 is not representable; the cast would round it to 2**53.
        (&i((1 << 53) + 1), &f(9_007_199_254_740_992.0), false),
        (&i(1 << 53), &f(9_007_199_254_740_992.0), true),
    ] {
        assert_py(a, b, Some(eq));
    }
    let nan = f(f64::NAN);
    assert_eq!(python_eq(&nan, &nan), Some(false));
    assert_eq!(python_eq(&f(1.0), &f(1.0)), Some(true));
}

#[test]
fn python_eq_big_ints() {
    let two_70 = big(pow2(70, false));
    let minus_two_70 = big(pow2(70, true));
    let two_70_f = 2f64.powi(70);
    assert_py(&two_70, &f(two_70_f), Some(true));
    assert_py(&minus_two_70, &f(-two_70_f), Some(true));
    assert_py(&two_70, &f(-two_70_f), Some(false));
    assert_py(
        &two_70,
        &f(f64::from_bits(two_70_f.to_bits() + 1)),
        Some(false),
    );
    assert_py(
        &two_70,
        &f(f64::from_bits(two_70_f.to_bits() - 1)),
        Some(false),
    );
    assert_py(&int_value((1 << 70) + 1), &f(two_70_f), Some(false));
    assert_py(&int_value((1 << 70) - 1), &f(two_70_f), Some(false));
    assert_py(&two_70, &minus_two_70, Some(false));
    assert_py(&two_70, &two_70, Some(true));
    assert_py(&two_70, &i(0), Some(false));
    assert_py(&two_70, &Value::Bool(true), Some(false));
    // 2**63 just beyond i64.
    let two_63 = big(pow2(63, false));
    assert_py(&two_63, &f(9_223_372_036_854_775_808.0), Some(true));
    assert_py(&two_63, &i(i64::MAX), Some(false));
    assert_py(&two_63, &i(i64::MIN), Some(false));
    let minus_two_63_minus_1 = int_value(-(1i128 << 63) - 1);
    assert_py(&minus_two_63_minus_1, &i(i64::MIN), Some(false));
    assert_py(
        &minus_two_63_minus_1,
        &f(-9_223_372_036_854_775_808.0),
        Some(false),
    );
    // Non-canonical BigInt bytes still compare by value.
    assert_py(&Value::BigInt(vec![5, 0, 0]), &i(5), Some(true));
    assert_py(&Value::BigInt(vec![]), &i(0), Some(true));
    assert_py(&Value::BigInt(vec![0xFF, 0xFF]), &f(-1.0), Some(true));
    // f64::MAX = (2**53 - 1) * 2**971, exactly.
    let mut max = vec![0u8; 971 / 8];
    let top = ((1u64 << 53) - 1) << (971 % 8);
    max.extend(top.to_le_bytes());
    max.push(0);
    let n = minimal_len(&max);
    max.truncate(n);
    let f_max = big(max.clone());
    assert_py(&f_max, &f(f64::MAX), Some(true));
    assert_py(&f_max, &f(f64::MIN), Some(false));
    // -x = !x + 1, computed bytewise with carry.
    let mut neg_max = Vec::with_capacity(max.len());
    let mut carry = 1u16;
    for b in &max {
        let sum = u16::from(!b) + carry;
        neg_max.push(sum as u8);
        carry = sum >> 8;
    }
    assert_py(&Value::BigInt(neg_max), &f(f64::MIN), Some(true));
    // Beyond the f64 range: never equal to any float, not even infinity.
    let two_1024 = big(pow2(1024, false));
    let minus_two_1024 = big(pow2(1024, true));
    for x in [
        f64::MAX,
        f64::INFINITY,
        f64::NAN,
        f64::MIN,
        f64::NEG_INFINITY,
    ] {
        assert_py(&two_1024, &f(x), Some(false));
        assert_py(&minus_two_1024, &f(x), Some(false));
    }
    assert_py(&big(pow2(1023, false)), &f(2f64.powi(1023)), Some(true));
    assert_py(&big(pow2(1023, true)), &f(-(2f64.powi(1023))), Some(true));
}

#[test]
fn python_eq_other_kinds() {
    let nan = f(f64::NAN);
    assert_py(&Value::None, &Value::None, Some(true));
    assert_py(&Value::None, &i(0), Some(false));
    assert_py(&Value::None, &Value::Bool(false), Some(false));
    assert_py(&Value::None, &list(vec![]), Some(false));
    assert_py(&s("a"), &s("a"), Some(true));
    assert_py(&s("a"), &s("b"), Some(false));
    assert_py(&s("a"), &Value::Bytes(b"a".to_vec()), Some(false));
    assert_py(&Value::Bytes(vec![1]), &Value::Bytes(vec![1]), Some(true));
    assert_py(&s("1"), &i(1), Some(false));
    assert_py(&s(""), &Value::Bool(false), Some(false));
    // Sequences.
    assert_py(&list(vec![]), &tuple(vec![]), Some(false));
    assert_py(&list(vec![i(1)]), &tuple(vec![i(1)]), Some(false));
    assert_py(
        &list(vec![i(1), f(2.0), Value::Bool(true)]),
        &list(vec![Value::Bool(true), i(2), f(1.0)]),
        Some(true),
    );
    assert_py(
        &tuple(vec![i(1), tuple(vec![s("x")])]),
        &tuple(vec![f(1.0), tuple(vec![s("x")])]),
        Some(true),
    );
    assert_py(&list(vec![i(1)]), &list(vec![i(1), i(2)]), Some(false));
    assert_py(
        &list(vec![nan.clone()]),
        &list(vec![nan.clone()]),
        Some(false),
    );
    // Dicts: order ignored, keys by value.
    let d1 = dict(vec![(s("a"), i(1)), (s("b"), i(2)), (i(3), s("c"))]);
    let d2 = dict(vec![
        (f(3.0), s("c")),
        (s("b"), f(2.0)),
        (s("a"), Value::Bool(true)),
    ]);
    assert_py(&d1, &d2, Some(true));
    assert_py(
        &d1,
        &dict(vec![(s("a"), i(1)), (s("b"), i(2))]),
        Some(false),
    );
    assert_py(
        &d1,
        &dict(vec![(s("a"), i(1)), (s("b"), i(2)), (i(3), s("d"))]),
        Some(false),
    );
    assert_py(
        &d1,
        &dict(vec![(s("a"), i(1)), (s("b"), i(2)), (i(4), s("c"))]),
        Some(false),
    );
    assert_py(&dict(vec![]), &dict(vec![]), Some(true));
    assert_py(&dict(vec![]), &list(vec![]), Some(false));
    assert_py(
        &dict(vec![(tuple(vec![i(1), i(2)]), Value::None)]),
        &dict(vec![(tuple(vec![f(1.0), Value::Bool(false)]), Value::None)]),
        Some(false),
    );
    assert_py(
        &dict(vec![(tuple(vec![i(1), i(2)]), Value::None)]),
        &dict(vec![(tuple(vec![f(1.0), f(2.0)]), Value::None)]),
        Some(true),
    );
    // A NaN key is never found.
    assert_py(
        &dict(vec![(nan.clone(), i(1))]),
        &dict(vec![(nan.clone(), i(1))]),
        Some(false),
    );
}

#[test]
fn python_eq_opaque_is_undecidable() {
    let o = Value::Opaque(vec![1, 2]);
    assert_py(&o, &o.clone(), None);
    assert_py(&o, &Value::None, None);
    assert_py(&o, &i(1), None);
    assert_py(&o, &list(vec![]), None);
    assert_py(&list(vec![o.clone()]), &list(vec![o.clone()]), None);
    assert_py(&list(vec![o.clone(), i(1)]), &list(vec![i(5), i(1)]), None);
    // A definite difference decides regardless of the opaque elements.
    assert_py(
        &list(vec![o.clone(), i(1)]),
        &list(vec![i(5), i(2)]),
        Some(false),
    );
    assert_py(
        &list(vec![o.clone()]),
        &list(vec![o.clone(), i(1)]),
        Some(false),
    );
    assert_py(&list(vec![o.clone()]), &tuple(vec![o.clone()]), Some(false));
    // Dicts: an opaque key or value leaves the answer open ...
    assert_py(
        &dict(vec![(o.clone(), i(1))]),
        &dict(vec![(o.clone(), i(1))]),
        None,
    );
    assert_py(
        &dict(vec![(s("k"), o.clone())]),
        &dict(vec![(s("k"), o.clone())]),
        None,
    );
    // ... unless another key or value settles it.
    assert_py(
        &dict(vec![(s("k"), o.clone()), (s("j"), i(1))]),
        &dict(vec![(s("k"), o.clone()), (s("j"), i(2))]),
        Some(false),
    );
    assert_py(
        &dict(vec![(s("k"), o.clone())]),
        &dict(vec![(s("k"), o.clone()), (s("j"), i(2))]),
        Some(false),
    );
    // A key that definitely matches is used even next to an opaque key.
    assert_py(
        &dict(vec![(s("k"), i(1)), (o.clone(), i(2))]),
        &dict(vec![(o.clone(), i(2)), (s("k"), i(3))]),
        Some(false),
    );
    assert_py(
        &dict(vec![(s("k"), i(1)), (o.clone(), i(2))]),
        &dict(vec![(o.clone(), i(2)), (s("k"), i(1))]),
        None,
    );
    assert_eq!(
        python_eq(&dict(vec![(s("k"), i(1))]), &dict(vec![(o.clone(), i(1))])),
        None
    );
}

// -- property tests -----------------------------------------------------

fn arb_big_int() -> impl Strategy<Value = Value> {
    proptest::collection::vec(any::<u8>(), 9..40).prop_map(|mut b| {
        let n = minimal_len(&b);
        b.truncate(n);
        if b.len() <= 8 {
            b.resize(9, 0);
            b[8] = 0x01;
        }
        Value::BigInt(b)
    })
}

fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        any::<f64>(),
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-1000i32..1000).prop_map(f64::from),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-100i64..100).prop_map(Value::Int),
        arb_big_int(),
        arb_float().prop_map(Value::Float),
        proptest::collection::vec(any::<char>(), 0..12)
            .prop_map(|c| Value::Str(c.into_iter().collect())),
        "[a\\x00é😀]{0,6}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::Opaque),
        arb_ext().prop_map(Value::Ext),
    ]
}

fn arb_ext() -> impl Strategy<Value = Ext> {
    let date =
        (1u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(year, month, day)| Date { year, month, day });
    let zone = prop_oneof![
        Just(Zone::Naive),
        (
            -86_399_999_999i64..86_400_000_000,
            proptest::option::of("[A-Za-z+ ]{0,5}")
        )
            .prop_map(|(offset_us, name)| Zone::Fixed { offset_us, name }),
        "[A-Z][a-z]{1,6}(/[A-Z][a-z_]{1,8}){0,2}".prop_map(Zone::Key),
    ];
    let clock = (0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000, 0u8..2, zone).prop_map(
        |(hour, minute, second, microsecond, fold, zone)| Clock {
            hour,
            minute,
            second,
            microsecond,
            fold,
            zone,
        },
    );
    prop_oneof![
        date.clone().prop_map(Ext::Date),
        clock.clone().prop_map(Ext::Time),
        (date, clock).prop_map(|(d, c)| Ext::DateTime(d, c)),
        (-999_999_999i32..=999_999_999, 0u32..86_400, 0u32..1_000_000).prop_map(
            |(days, seconds, microseconds)| Ext::Duration {
                days,
                seconds,
                microseconds
            }
        ),
        "-?[0-9]{1,8}(\\.[0-9]{1,4})?(E[+-][0-9]{1,3})?".prop_map(Ext::Decimal),
        any::<[u8; 16]>().prop_map(Ext::Uuid),
        (arb_float(), arb_float()).prop_map(|(a, b)| Ext::Complex(a, b)),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            // Keys a dict can hold (the decoder refuses others): an unhashable one is
            // replaced by `()`.
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(|pairs| {
                Value::Dict(
                    pairs
                        .into_iter()
                        .map(|(k, x)| match super::decode::is_key(&k) {
                            true => (k, x),
                            false => (Value::Tuple(Vec::new()), x),
                        })
                        .collect(),
                )
            }),
        ]
    })
}

fn has_ext(v: &Value) -> bool {
    match v {
        Value::Ext(_) => true,
        Value::List(items) | Value::Tuple(items) => items.iter().any(has_ext),
        Value::Dict(pairs) => pairs.iter().any(|(k, x)| has_ext(k) || has_ext(x)),
        _ => false,
    }
}

fn contains_nan_or_opaque(v: &Value) -> bool {
    match v {
        Value::Float(x) => x.is_nan(),
        Value::Opaque(_) => true,
        Value::List(items) | Value::Tuple(items) => items.iter().any(contains_nan_or_opaque),
        Value::Dict(pairs) => pairs
            .iter()
            .any(|(k, x)| contains_nan_or_opaque(k) || contains_nan_or_opaque(x)),
        _ => false,
    }
}

/// Whether some dict in `v` has two keys that may be equal (no Python
/// dict can; `python_eq` assumes distinct keys).
fn has_duplicate_keys(v: &Value) -> bool {
    match v {
        Value::List(items) | Value::Tuple(items) => items.iter().any(has_duplicate_keys),
        Value::Dict(pairs) => {
            pairs.iter().enumerate().any(|(n, (k, _))| {
                pairs[n + 1..]
                    .iter()
                    .any(|(other, _)| python_eq(k, other) != Some(false))
            }) || pairs
                .iter()
                .any(|(k, x)| has_duplicate_keys(k) || has_duplicate_keys(x))
        }
        _ => false,
    }
}

/// Decoding must not panic; whatever it accepts must be canonical.
fn check_decode(bytes: &[u8]) {
    if let Ok(v) = decode(bytes) {
        assert_eq!(enc(&v), bytes, "accepted a non-canonical encoding");
    }
}

proptest! {
    #[test]
    fn prop_round_trip(v in arb_value()) {
        let bytes = enc(&v);
        prop_assert_eq!(decode(&bytes), Ok(v.clone()));
        prop_assert_eq!(peek_kind(&bytes), Some(v.kind()));
        let mut walked = Vec::new();
        write_tree(&mut Writer::new(&mut walked), &v);
        prop_assert_eq!(walked, bytes);
    }

    #[test]
    fn prop_random_bytes_never_panic(
        bytes in proptest::collection::vec(prop_oneof![0u8..=0x0C, any::<u8>()], 0..300)
    ) {
        check_decode(&bytes);
    }

    #[test]
    fn prop_truncations_fail(v in arb_value()) {
        let bytes = enc(&v);
        for cut in 0..bytes.len() {
            prop_assert!(decode(&bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
    }

    #[test]
    fn prop_single_byte_corruption(v in arb_value(), replacement in any::<u8>()) {
        let bytes = enc(&v);
        let mut corrupted = bytes.clone();
        for pos in 0..bytes.len() {
            for new in [replacement, bytes[pos] ^ 0x01, bytes[pos] ^ 0x80] {
                corrupted[pos] = new;
                check_decode(&corrupted);
            }
            corrupted[pos] = bytes[pos];
        }
    }

    #[test]
    fn prop_python_eq_reflexive(v in arb_value()) {
        prop_assume!(!has_duplicate_keys(&v));
        if contains_nan_or_opaque(&v) {
            prop_assert_ne!(python_eq(&v, &v), Some(true));
        } else if has_ext(&v) {
            // Decided only where the stored fields tell; never a wrong "unequal".
            prop_assert_ne!(python_eq(&v, &v), Some(false));
        } else {
            prop_assert_eq!(python_eq(&v, &v), Some(true));
        }
    }

    #[test]
    fn prop_python_eq_int_float_exact(x in any::<i128>(), shift in 0u32..127, delta in -2i128..=2) {
        // Integers near floats of every magnitude, compared against an
        // exact i128 reference.
        let x = (x >> shift).saturating_add(delta);
        for fl in [x as f64, (x >> 1) as f64, f64::from_bits((x as f64).to_bits() + 1)] {
            let exact = fl.is_finite()
                && fl.trunc() == fl
                && fl.abs() < 2f64.powi(127)
                && fl as i128 == x;
            prop_assert_eq!(python_eq(&int_value(x), &f(fl)), Some(exact), "{} vs {}", x, fl);
            prop_assert_eq!(python_eq(&f(fl), &int_value(x)), Some(exact));
        }
    }

    #[test]
    fn prop_python_eq_ints_by_value(a in any::<i128>(), b in any::<i128>(), pad in 0usize..4) {
        let b = if pad == 0 { a } else { b };
        let mut padded = a.to_le_bytes().to_vec();
        padded.extend(std::iter::repeat_n(sign_fill(&padded), pad));
        let expected = Some(a == b);
        prop_assert_eq!(python_eq(&int_value(a), &int_value(b)), expected);
        prop_assert_eq!(python_eq(&Value::BigInt(padded), &int_value(b)), expected);
    }
}

#[test]
#[allow(deprecated)]
fn the_old_kind_name_still_names_value_kind() {
    let k: Kind = Value::Int(1).kind();
    assert_eq!(k, ValueKind::Int);
}
