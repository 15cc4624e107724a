//! DocList against a `Vec<Value>` model: building, reading back, deleting, compacting
//! and serializing must never change what a document reads as.

use memslim_arena::variant::Value;
use memslim_arena::{DocError, DocList, DocStore, Node, read_node};
use proptest::prelude::*;

fn read(node: Node<'_>, store: &DocStore) -> Value {
    memslim_arena::to_value(node, store).unwrap()
}

/// Gives an edited image the checksum of its edited bytes (its last four bytes).
fn reseal(image: &mut [u8]) {
    let body = image.len() - 4;
    let crc = crc32fast::hash(&image[..body]);
    image[body..].copy_from_slice(&crc.to_le_bytes());
}

fn contents(docs: &DocList) -> Vec<Value> {
    (0..docs.len())
        .map(|i| {
            read(
                read_node(docs.doc_bytes(i).unwrap(), 0).unwrap().0,
                docs.store(),
            )
        })
        .collect()
}

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(f64::from_bits).prop_map(Value::Float),
        "[a-d]{0,3}".prop_map(Value::Str),
        "[a\\x00é😀]{20,40}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
        // Nine bytes with a non-sign top byte: a canonical big integer.
        (proptest::collection::vec(any::<u8>(), 8), 1u8..0x7F).prop_map(|(mut b, top)| {
            b.push(top);
            Value::BigInt(b)
        }),
    ]
}

fn arb_doc() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Tuple),
            proptest::collection::btree_map("[a-e]{0,2}", inner, 0..5).prop_map(|m| {
                Value::Dict(m.into_iter().map(|(k, v)| (Value::Str(k), v)).collect())
            }),
        ]
    })
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<Value>),
    Remove(usize),
    Compact,
    /// The list replaced by one read from its image: copied (`false`), or read in place
    /// from a shared buffer (`true`, see `DocList::from_buffer`).
    RoundTrip(bool),
    FailedPush(Vec<Value>),
    /// Copies of another list's documents appended (`extend_from`).
    ExtendFrom(Vec<Value>),
    /// The list replaced by itself repeated (`repeated`).
    Repeat(usize),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => proptest::collection::vec(arb_doc(), 0..4).prop_map(Op::Push),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => Just(Op::Compact),
        1 => any::<bool>().prop_map(Op::RoundTrip),
        1 => proptest::collection::vec(arb_doc(), 0..3).prop_map(Op::FailedPush),
        1 => proptest::collection::vec(arb_doc(), 0..3).prop_map(Op::ExtendFrom),
        1 => (0usize..3).prop_map(Op::Repeat),
    ]
}

proptest! {
    #[test]
    fn doclist_matches_a_vec(ops in proptest::collection::vec(arb_op(), 0..20), block in 1usize..400) {
        // Small text blocks, so that long strings are sealed (compressed) and rolled back.
        let mut docs = DocList::new();
        docs.set_text_block_bytes(block);
        let mut model: Vec<Value> = Vec::new();
        for op in ops {
            match op {
                Op::Push(vs) => {
                    let n = docs.build(|b| {
                        for v in &vs {
                            b.value(v)?;
                            b.end_doc()?;
                        }
                        Ok::<(), DocError>(())
                    }).unwrap();
                    prop_assert_eq!(n, vs.len());
                    model.extend(vs);
                }
                Op::FailedPush(vs) => {
                    let symbols = docs.store().symbols().len();
                    let live = docs.nbytes().live;
                    let text = docs.store().text().raw_bytes();
                    let r = docs.build(|b| {
                        for v in &vs {
                            b.value(v)?;
                            b.end_doc()?;
                        }
                        b.begin_map()?;
                        b.key("never stored")?;
                        Err(DocError::Build("caller gave up"))
                    });
                    prop_assert!(r.is_err());
                    prop_assert_eq!(docs.store().symbols().len(), symbols);
                    prop_assert_eq!(docs.nbytes().live, live);
                    prop_assert_eq!(docs.store().text().raw_bytes(), text);
                }
                Op::ExtendFrom(vs) => {
                    // Its own symbol table and text blocks, to be re-interned and
                    // recompressed into this list's.
                    let mut other = DocList::new();
                    other.set_text_block_bytes(block / 2 + 1);
                    other.build(|b| {
                        b.value(&Value::Str("only the other's symbol".into()))?;
                        b.end_doc()?;
                        for v in &vs {
                            b.value(v)?;
                            b.end_doc()?;
                        }
                        Ok::<(), DocError>(())
                    }).unwrap();
                    other.remove(0).unwrap();
                    prop_assert_eq!(docs.extend_from(&other).unwrap(), vs.len());
                    prop_assert_eq!(contents(&other), vs.clone());
                    model.extend(vs);
                }
                Op::Repeat(n) => {
                    docs = docs.repeated(n).unwrap();
                    model = (0..n).flat_map(|_| model.iter().cloned()).collect();
                }
                Op::Remove(i) => {
                    if model.is_empty() {
                        prop_assert!(docs.remove(i).is_err());
                    } else {
                        let i = i % model.len();
                        docs.remove(i).unwrap();
                        model.remove(i);
                    }
                }
                Op::Compact => {
                    let before = docs.nbytes();
                    let reclaimed = docs.compact().unwrap();
                    prop_assert_eq!(reclaimed, before.garbage);
                    prop_assert_eq!(docs.nbytes().garbage, 0);
                    if before.text_raw == 0 {
                        prop_assert_eq!(docs.nbytes().live, before.live);
                    }
                }
                Op::RoundTrip(shared) => {
                    let image = docs.to_bytes().unwrap();
                    docs = if shared {
                        let buffer = arrow_buffer::Buffer::from_vec(image);
                        DocList::from_buffer(&buffer).unwrap()
                    } else {
                        DocList::from_bytes(&image).unwrap()
                    };
                }
            }
            prop_assert_eq!(docs.len(), model.len());
            prop_assert_eq!(contents(&docs), model.clone());
        }
    }

    #[test]
    fn damaged_images_are_errors_not_panics(vs in proptest::collection::vec(arb_doc(), 1..4), pos in any::<usize>(), x in 1u8..=255) {
        let mut docs = DocList::new();
        docs.set_text_block_bytes(64);
        docs.build(|b| {
            for v in &vs {
                b.value(v)?;
                b.end_doc()?;
            }
            Ok::<(), DocError>(())
        }).unwrap();
        let mut image = docs.to_bytes().unwrap();
        let pos = pos % image.len();
        image[pos] ^= x;
        if let Ok(back) = DocList::from_bytes(&image) {
            // Whatever is accepted reads back without error.
            contents(&back);
        }
        for cut in 0..image.len() {
            let _ = DocList::from_bytes(&image[..cut]);
        }
    }
}

#[test]
fn readers_keep_an_old_store_alive_across_compact() {
    let mut docs = DocList::new();
    docs.build(|b| {
        b.begin_map()?;
        b.key("a")?;
        b.begin_list()?;
        b.int(1)?;
        b.int(2)?;
        b.begin_map()?;
        b.key("b")?;
        b.str("x")?;
        b.end()?;
        b.end()?;
        b.end()?;
        b.end_doc()?;
        b.begin_map()?;
        b.key("a")?;
        b.none()?;
        b.end()?;
        b.end_doc()
    })
    .unwrap();
    let old_store = docs.store().clone();
    let handle = docs.handle(0).unwrap();
    docs.remove(0).unwrap();
    docs.compact().unwrap();
    assert!(
        docs.store().doc(handle).is_none(),
        "a handle of the old store"
    );
    let bytes = old_store.doc(handle).unwrap();
    let doc = read(read_node(bytes, 0).unwrap().0, &old_store);
    assert_eq!(
        doc,
        Value::Dict(vec![(
            Value::Str("a".into()),
            Value::List(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Dict(vec![(Value::Str("b".into()), Value::Str("x".into()))]),
            ])
        )])
    );
}

#[test]
fn long_strings_are_compressed_and_compaction_drops_deleted_ones() {
    let text = |i: usize| format!("<p>documentation of shape {i}, mostly the same words.</p>");
    let mut docs = DocList::new();
    docs.build(|b| {
        for i in 0..4000 {
            b.begin_list()?;
            b.str(&text(i))?;
            b.str("short")?;
            b.end()?;
            b.end_doc()?;
        }
        Ok::<(), DocError>(())
    })
    .unwrap();
    let n = docs.nbytes();
    assert!(docs.store().text().sealed_blocks() > 3);
    assert!(n.text * 4 < n.text_raw, "{n:?}");
    let model = |range: std::ops::Range<usize>| -> Vec<Value> {
        range
            .map(|i| Value::List(vec![Value::Str(text(i)), Value::Str("short".into())]))
            .collect()
    };
    assert_eq!(contents(&docs), model(0..4000));
    docs.retain_positions(|i| i >= 3000);
    let image = docs.to_bytes().unwrap();
    let back = DocList::from_bytes(&image).unwrap();
    assert_eq!(contents(&back), model(3000..4000));
    assert!(
        back.nbytes().text_raw * 3 < n.text_raw,
        "the image leaves deleted text out"
    );
    assert!(docs.nbytes().garbage > docs.nbytes().live);
    docs.compact().unwrap();
    assert_eq!(docs.nbytes().garbage, 0);
    assert_eq!(docs.nbytes().text_raw, back.nbytes().text_raw);
    assert_eq!(contents(&docs), model(3000..4000));
}

#[test]
fn version_1_images_still_load() {
    let mut docs = DocList::new();
    docs.build(|b| {
        b.begin_list()?;
        b.int(7)?;
        b.end()?;
        b.end_doc()
    })
    .unwrap();
    let image = docs.to_bytes().unwrap();
    // Version 3: magic, no symbols, no sealed blocks, an empty tail, the documents,
    // then the checksum.
    assert_eq!(&image[..9], b"MSDOC\x03\x00\x00\x00");
    let body = &image[9..image.len() - 4];
    let mut v1 = b"MSDOC\x01\x00".to_vec();
    v1.extend_from_slice(body);
    let back = DocList::from_bytes(&v1).unwrap();
    assert_eq!(contents(&back), vec![Value::List(vec![Value::Int(7)])]);
    let mut v2 = b"MSDOC\x02\x00\x00\x00".to_vec();
    v2.extend_from_slice(body);
    let back = DocList::from_bytes(&v2).unwrap();
    assert_eq!(contents(&back), vec![Value::List(vec![Value::Int(7)])]);
}

#[test]
fn every_single_byte_change_to_an_image_is_refused() {
    let mut docs = DocList::new();
    for i in 0..4 {
        docs.build(|b| {
            b.begin_map()?;
            b.key("id")?;
            b.int(i)?;
            b.key("name")?;
            b.str(&"x".repeat(i as usize * 30))?;
            b.end()?;
            b.end_doc()
        })
        .unwrap();
    }
    let image = docs.to_bytes().unwrap();
    for i in 0..image.len() {
        for flip in [0x01u8, 0x80] {
            let mut b = image.clone();
            b[i] ^= flip;
            assert!(DocList::from_bytes(&b).is_err(), "byte {i} ^ {flip} loaded");
        }
    }
}

#[test]
fn remove_positions_drops_each_named_document_once() {
    let mut docs = DocList::new();
    docs.build(|b| {
        for i in 0..6 {
            b.int(i)?;
            b.end_doc()?;
        }
        Ok::<(), DocError>(())
    })
    .unwrap();
    // Any order, a repeat and a position past the end, as slices and callers give them.
    docs.remove_positions([4, 0, 4, 99, 2]);
    assert_eq!(
        contents(&docs),
        vec![Value::Int(1), Value::Int(3), Value::Int(5)]
    );
}

/// A long string lives in the text blocks, outside its document; an image whose text
/// is not UTF-8 (checksum recomputed, as a crafted image would have) must be refused
/// when it is read, not when the string is.
#[test]
fn an_image_whose_long_string_is_not_utf8_is_refused() {
    let mut docs = DocList::new();
    docs.set_text_min(8);
    let long = format!("{}MARK", "y".repeat(60));
    for _ in 0..3 {
        docs.build(|b| {
            b.begin_list()?;
            b.str("short")?;
            b.str(&long)?;
            b.end()?;
            b.end_doc()
        })
        .unwrap();
    }
    let good = docs.to_bytes().unwrap();
    assert_eq!(contents(&DocList::from_bytes(&good).unwrap()).len(), 3);
    let at = good
        .windows(4)
        .position(|w| w == b"MARK")
        .expect("the long string is stored as is");
    let mut bad = good.clone();
    bad[at] = 0xFF;
    reseal(&mut bad);
    assert!(DocList::from_bytes(&bad).is_err());
}

/// Symbols are checked as UTF-8 whichever way they are read: all at once when every one
/// is shorter than 128 bytes, alone otherwise. Non-ASCII symbols round-trip either way; a
/// damaged one, or two that split one character between them, is refused at its offset.
#[test]
fn an_image_whose_symbol_is_not_utf8_is_refused() {
    for long_key in [false, true] {
        let mut docs = DocList::new();
        let key = if long_key {
            "k".repeat(200)
        } else {
            "k".to_owned()
        };
        docs.build(|b| {
            b.begin_map()?;
            b.key("é")?;
            b.int(1)?;
            b.key("ÉM")?;
            b.int(2)?;
            b.key(&key)?;
            b.int(3)?;
            b.end()?;
            b.end_doc()
        })
        .unwrap();
        let good = docs.to_bytes().unwrap();
        assert_eq!(
            contents(&DocList::from_bytes(&good).unwrap()),
            contents(&docs)
        );
        // "é" is 0xC3 0xA9 and "ÉM" 0xC3 0x89 'M': damage the second symbol's first byte.
        let at = good
            .windows(3)
            .position(|w| w == "ÉM".as_bytes())
            .expect("the symbol is stored as is");
        let mut bad = good.clone();
        bad[at] = 0xFF;
        reseal(&mut bad);
        let err = DocList::from_bytes(&bad).unwrap_err().to_string();
        assert!(err.contains("symbol is not valid UTF-8"), "{err}");
        assert!(
            err.contains(&format!("byte {}", at - 1)),
            "{err}: names the symbol"
        );
        // Cut "é" into two symbols of one byte each (one more symbol in the table): the
        // bytes of the symbols are the same, but neither symbol is UTF-8.
        let first = good.windows(2).position(|w| w == "é".as_bytes()).unwrap();
        assert_eq!(good[first - 1], 2, "the length of \"é\"");
        let mut split = good[..first - 1].to_vec();
        split.extend_from_slice(&[1, 0xC3, 1, 0xA9]);
        split.extend_from_slice(&good[first + 2..]);
        split[6] += 1;
        reseal(&mut split);
        let err = DocList::from_bytes(&split).unwrap_err().to_string();
        assert!(err.contains("symbol is not valid UTF-8"), "{err}");
        assert!(err.contains(&format!("byte {}", first - 1)), "{err}");
    }
}

/// A DocList read from a shared buffer reads its documents in place (most of the image
/// is documents), keeps working after the buffer's other owners let go, and takes new
/// documents beside them.
#[test]
fn documents_are_read_in_place_from_a_shared_image() {
    let mut docs = DocList::new();
    for i in 0..500i64 {
        docs.build(|b| {
            b.begin_map()?;
            b.key("id")?;
            b.int(i)?;
            b.key("price")?;
            b.float(i as f64 / 3.0)?;
            b.end()?;
            b.end_doc()
        })
        .unwrap();
    }
    let want = contents(&docs);
    let buffer = arrow_buffer::Buffer::from_vec(docs.to_bytes().unwrap());
    let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
    let mut back = DocList::from_buffer(&buffer).unwrap();
    drop(buffer);
    let first = back.store().doc(back.handle(0).unwrap()).unwrap();
    assert!(range.contains(&(first.as_ptr() as usize)), "read in place");
    assert!(back.nbytes().total >= range.len(), "the image is counted");
    assert_eq!(contents(&back), want);
    back.build(|b| {
        b.begin_list()?;
        b.end()?;
        b.end_doc()
    })
    .unwrap();
    assert_eq!(back.len(), 501);
    back.compact().unwrap();
    assert_eq!(contents(&back)[..500], want[..]);
}

/// A list long enough to be written and validated on several threads round-trips, and
/// reports the first damaged document, from bytes or read in place, wherever a later
/// one is damaged too.
#[test]
fn a_long_damaged_image_reports_its_first_bad_document() {
    let mut docs = DocList::new();
    for i in 0..140_000i64 {
        docs.build(|b| {
            b.begin_map()?;
            b.key("i")?;
            b.int(1_000_000 + i)?;
            b.end()?;
            b.end_doc()
        })
        .unwrap();
    }
    let good = docs.to_bytes().unwrap();
    let at = |i: usize| {
        let doc = docs.doc_bytes(i).unwrap();
        good.windows(doc.len())
            .position(|w| w == doc)
            .expect("each document is stored as is, and once")
    };
    let damaged = |which: &[usize]| {
        let mut bad = good.clone();
        for &i in which {
            // An unknown tag where the document's map begins.
            bad[at(i)] = 0xFE;
        }
        reseal(&mut bad);
        bad
    };
    let load = |image: &[u8]| {
        let copied = DocList::from_bytes(image).unwrap_err().to_string();
        let buffer = arrow_buffer::Buffer::from_vec(image.to_vec());
        let in_place = DocList::from_buffer(&buffer).unwrap_err().to_string();
        assert_eq!(copied, in_place);
        copied
    };
    let early = load(&damaged(&[40_000]));
    assert!(early.contains(&format!("byte {}", at(40_000))), "{early}");
    assert_eq!(load(&damaged(&[40_000, 90_000])), early);
    assert_eq!(load(&damaged(&[90_000, 40_000, 139_999])), early);
    assert_ne!(load(&damaged(&[90_000])), early);
    assert_eq!(
        contents(&DocList::from_bytes(&good).unwrap()),
        contents(&docs)
    );
}

#[test]
fn a_repeat_too_large_to_exist_is_refused_not_attempted() {
    let mut docs = DocList::new();
    docs.build(|b| {
        b.value(&Value::Str("x".into()))?;
        b.end_doc()
    })
    .unwrap();
    for n in [usize::MAX, usize::MAX / 16, 1 << 50] {
        let e = docs.repeated(n).unwrap_err();
        assert!(matches!(e, DocError::OutOfMemory { .. }), "{n}: {e:?}");
    }
    assert_eq!(docs.repeated(0).unwrap().len(), 0);
    assert_eq!(DocList::new().repeated(usize::MAX).unwrap().len(), 0);
}

#[test]
fn a_list_set_to_fail_when_busy_refuses_writes_while_read_and_changes_nothing() {
    let one = |docs: &mut DocList, s: &str| {
        docs.build(|b| {
            b.value(&Value::Dict(vec![(Value::Str(s.into()), Value::Int(1))]))?;
            b.end_doc()
        })
    };
    let mut docs = DocList::new();
    docs.set_fail_when_busy(true);
    one(&mut docs, "a").unwrap();
    let before = contents(&docs);
    let store = docs.store().clone();
    let symbols = store.symbols();
    assert_eq!(one(&mut docs, "b"), Err(DocError::Busy));
    let other = docs.select(0..1).unwrap();
    assert_eq!(docs.extend_from(&other), Err(DocError::Busy));
    drop(symbols);
    let text = store.text();
    assert_eq!(one(&mut docs, "b"), Err(DocError::Busy));
    drop(text);
    assert_eq!(contents(&docs), before);
    assert_eq!(store.symbols().lookup("b"), None);
    // Lists made from it fail alike; once the read is over, writes go through.
    let mut copy = docs.select(0..1).unwrap();
    let copy_store = copy.store().clone();
    let held = copy_store.symbols();
    assert_eq!(one(&mut copy, "c"), Err(DocError::Busy));
    drop(held);
    one(&mut copy, "c").unwrap();
    one(&mut docs, "b").unwrap();
    assert_eq!(docs.len(), 2);
}

#[test]
fn find_equal_matches_the_document_itself_without_a_look_and_the_rest_by_eq() {
    fn docs_value(i: i64) -> Value {
        Value::Dict(vec![(Value::Str("x".into()), Value::Int(i))])
    }
    let mut docs = DocList::new();
    docs.build(|b| {
        for i in [1, 2, 1, 2, 1] {
            b.value(&docs_value(i))?;
            b.end_doc()?;
        }
        Ok::<(), DocError>(())
    })
    .unwrap();
    let find = |range: std::ops::Range<usize>, same, limit: usize| {
        let (mut asked, mut found) = (Vec::new(), Vec::new());
        docs.find_equal(
            range,
            same,
            |i| {
                asked.push(i);
                // Equal by value: the documents holding x: 1.
                Ok::<bool, ()>(read(docs.root(i).unwrap(), docs.store()) == docs_value(1))
            },
            |i| {
                found.push(i);
                found.len() < limit
            },
        )
        .unwrap();
        (asked, found)
    };
    let h3 = docs.handle(3);
    // Document 3 (x: 2) is the value itself: found though unequal by value, not asked.
    assert_eq!(find(0..5, h3, 9), (vec![0, 1, 2, 4], vec![0, 2, 3, 4]));
    assert_eq!(find(1..4, h3, 9), (vec![1, 2], vec![2, 3]));
    assert_eq!(find(0..99, None, 1), (vec![0], vec![0]));
    let (start, stop) = (4, 3); // as `index(d, 4, 3)` asks
    assert_eq!(find(start..stop, h3, 9), (vec![], vec![]));
    assert_eq!(find(7..9, h3, 9), (vec![], vec![]));
    // A handle of another store (a copy's) is no document of this list.
    let copy = docs.select(0..5).unwrap();
    assert_eq!(find(3..4, copy.handle(3), 9), (vec![3], vec![]));
    // An error from `eq` ends the search.
    let mut seen = Vec::new();
    let e = docs.find_equal(
        0..5,
        None,
        |i| if i == 1 { Err("boom") } else { Ok(true) },
        |i| {
            seen.push(i);
            true
        },
    );
    assert_eq!((e, seen), (Err("boom"), vec![0]));
}
