//! Pickled DocList state (`DocList::from_bytes`, all three image versions): bytes from
//! the input, or a known-good image with edits whose checksum is then fixed up, so only
//! the structural checks stand between the bytes and a list.
//!
//! Whatever the bytes: no panic, no abort, no unbounded memory; a list that loads reads
//! every document back and survives its own round trip unchanged.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use memslim_arena::{DocError, DocList, read_node, to_value};
use memslim_fuzz::{crc32, edited};

/// Documents with maps, lists, tuples, every scalar, big ints, short (inline) and long
/// (text block) strings, and keys shared between documents.
fn good() -> &'static [u8] {
    static GOOD: OnceLock<Vec<u8>> = OnceLock::new();
    GOOD.get_or_init(|| {
        let mut docs = DocList::new();
        docs.set_text_min(8);
        for i in 0..6i64 {
            let long = format!("a long string number {i} that goes to a text block");
            docs.build(|b| -> Result<(), DocError> {
                b.begin_map()?;
                b.key("id")?;
                b.int(i)?;
                b.key("name")?;
                b.str(if i % 2 == 0 { "ab" } else { &long })?;
                b.key("tags")?;
                b.begin_list()?;
                b.bool(i % 3 == 0)?;
                b.none()?;
                b.float(i as f64 / 7.0)?;
                b.bytes(&[0, 1, 2, i as u8])?;
                b.begin_tuple()?;
                b.big_int(&[1, 2, 3, 4, 5, 6, 7, 8, 9])?;
                b.str(&long)?;
                b.end()?;
                b.end()?;
                b.key("nested")?;
                b.begin_map()?;
                b.key("k")?;
                b.int(-i)?;
                b.end()?;
                b.end()?;
                b.end_doc()
            })
            .expect("a fresh DocList takes these documents");
        }
        docs.to_bytes().expect("a fresh DocList serializes")
    })
}

fn contents(docs: &DocList) -> Vec<String> {
    (0..docs.len())
        .map(|i| {
            let bytes = docs.doc_bytes(i).expect("index in range");
            match read_node(bytes, 0).and_then(|(n, _)| to_value(n, docs.store())) {
                Ok(v) => format!("{v:?}"),
                Err(e) => panic!("document {i} loaded but does not read: {e}"),
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut b = edited(good(), rest, mode & 2 != 0);
        // The version-3 image ends in the CRC-32 of everything before it.
        if mode & 4 == 0 && b.len() >= 10 {
            let n = b.len() - 4;
            let sum = crc32(&[&b[..n]]);
            b[n..].copy_from_slice(&sum.to_le_bytes());
        }
        b
    };
    if let Ok(docs) = DocList::from_bytes(&bytes) {
        let before = contents(&docs);
        let image = docs.to_bytes().expect("a loaded DocList serializes");
        let again = DocList::from_bytes(&image).expect("a loaded DocList reloads");
        assert_eq!(
            before,
            contents(&again),
            "round trip changed a loaded DocList"
        );
    }
});
