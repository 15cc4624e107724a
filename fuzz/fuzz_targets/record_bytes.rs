//! Pickled DictList/TupleList state (`RecordList::from_bytes`, both format versions):
//! bytes from the input, or a known-good image with edits whose checksum is then fixed
//! up, so only the structural checks stand between the bytes and a list.
//!
//! Whatever the bytes: no panic, no abort, no unbounded memory; a list that loads reads
//! back row by row and survives its own round trip unchanged.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use memslim_fuzz::{crc32, edited};
use memslim_records::{Cell, RecordList};

/// A list with every column kind: ints, floats among ints, repeated strings, bools,
/// bytes, nulls, absent keys, a column of mixed types, and rows in another key order.
fn good() -> &'static [u8] {
    static GOOD: OnceLock<Vec<u8>> = OnceLock::new();
    GOOD.get_or_init(|| {
        let mut l = RecordList::with_chunk_rows(4);
        for i in 0..11i64 {
            let s = format!("s{}", i % 3);
            let long = "x".repeat(i as usize);
            let price = if i % 4 == 0 {
                Cell::Int(i)
            } else {
                Cell::Float(i as f64 / 3.0)
            };
            let mut rec: Vec<(&str, Cell<'_>)> = vec![
                ("id", Cell::Int(i * 1000)),
                ("price", price),
                ("country", Cell::Str(&s)),
                ("ok", Cell::Bool(i % 2 == 0)),
                ("blob", Cell::Bytes(long.as_bytes())),
            ];
            if i % 3 == 0 {
                rec.push(("note", Cell::Null));
            }
            if i % 5 == 1 {
                rec.reverse();
            }
            if i == 7 {
                rec.push(("mixed", Cell::Str("seven")));
            } else if i == 8 {
                rec.push(("mixed", Cell::Int(8)));
            }
            l.push_record(&rec)
                .expect("a fresh list takes these records");
        }
        l.to_bytes()
    })
}

/// Rewrites the snapshot checksum (the last 4 header bytes, over the rest of the header
/// and every buffer after it) when the header length field is in range.
fn reseal(b: &mut [u8]) {
    let Some(len) = b.get(6..10) else { return };
    let hlen = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if hlen < 14 || hlen > b.len() {
        return;
    }
    let sum = crc32(&[&b[..hlen - 4], &b[hlen..]]);
    b[hlen - 4..hlen].copy_from_slice(&sum.to_le_bytes());
}

fn rows(l: &RecordList) -> Vec<String> {
    let mut out = Vec::new();
    for r in 0..l.len() {
        let mut row = String::new();
        l.visit_row(r, |j, c| {
            row.push_str(&format!("{}={c:?};", l.field_name(j)))
        });
        out.push(row);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        // With bit 1 of the mode the last edit also cuts the image.
        let mut b = edited(good(), rest, mode & 2 != 0);
        if mode & 4 == 0 {
            reseal(&mut b);
        }
        b
    };
    if let Ok(list) = RecordList::from_bytes(&bytes) {
        let before = rows(&list);
        let again = RecordList::from_bytes(&list.to_bytes()).expect("a loaded list re-serializes");
        assert_eq!(before, rows(&again), "round trip changed a loaded list");
    }
});
