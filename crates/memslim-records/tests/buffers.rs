//! `RecordList::buffers` and `ColumnView::buffers`: what a list, its slices and copies,
//! and its column views share is listed under one identity in each, and a list's
//! `nbytes` is its buffers plus its own bookkeeping.

use std::collections::HashMap;

use memslim_records::process::Buffer;
use memslim_records::{Cell, RecordList};

fn list(n: usize, chunk_rows: usize) -> RecordList {
    let mut l = RecordList::with_chunk_rows(chunk_rows);
    for i in 0..n {
        let s = format!("uniq{i}");
        let tag = ["a", "b", "c"][i % 3];
        l.push_record(&[
            ("id", Cell::Int(i as i64)),
            ("s", Cell::Str(&s)),
            ("tag", Cell::Str(tag)),
        ])
        .unwrap();
    }
    l
}

fn buffers(l: &RecordList) -> HashMap<usize, Buffer> {
    let mut out = HashMap::new();
    l.buffers(|b| {
        out.insert(b.id, b);
    });
    out
}

#[test]
fn nbytes_is_the_buffers_plus_a_little_bookkeeping() {
    let l = list(5_000, 1_000);
    let held: usize = buffers(&l).values().map(|b| b.bytes).sum();
    assert!(
        held <= l.nbytes() && l.nbytes() - held < 4_096,
        "{held} of {}",
        l.nbytes()
    );
    assert!(
        buffers(&l).values().all(|b| !b.shared),
        "nothing else holds them"
    );
}

#[test]
fn slices_copies_and_columns_share_the_lists_buffers_until_written() {
    let l = list(5_000, 1_000);
    let mine = buffers(&l);
    let mut copy = l.clone();
    let slice = l.slice(1_500, 2_500);
    let column = l.column(1);
    // Every buffer of the copy, the slice and the column is one of the list's.
    assert_eq!(
        buffers(&copy)
            .keys()
            .collect::<std::collections::HashSet<_>>(),
        mine.keys().collect()
    );
    assert!(buffers(&slice).keys().all(|k| mine.contains_key(k)));
    let mut col = Vec::new();
    column.buffers(|b| col.push(b));
    assert!(!col.is_empty() && col.iter().all(|b| mine.contains_key(&b.id) && b.shared));
    assert!(buffers(&l).values().all(|b| b.shared));

    // A write gives the copy its own copy of the chunk it writes.
    copy.push_record(&[("id", Cell::Int(-1))]).unwrap();
    let own = buffers(&copy)
        .into_keys()
        .filter(|k| !mine.contains_key(k))
        .count();
    assert!(own > 0);
    drop((copy, slice));
    // The column alone still holds its field's chunks: they are not shared any more.
    drop(l);
    let mut col = Vec::new();
    column.buffers(|b| col.push(b));
    assert!(col.iter().all(|b| !b.shared));
}

#[test]
fn a_list_restored_from_a_snapshot_lists_the_value_buffers_it_reads_in_place_under_their_address() {
    let mut l = RecordList::with_chunk_rows(1_000);
    for i in 0..5_000 {
        let b = format!("bytes {i}");
        l.push_record(&[
            ("id", Cell::Int(i * 1_000_003)),
            ("x", Cell::Float(i as f64 / 3.0)),
            ("b", Cell::Bytes(b.as_bytes())),
            ("tag", Cell::Str(["a", "b", "c"][i as usize % 3])),
        ])
        .unwrap();
    }
    let snap = l.to_snapshot();
    // The buffers as pickle protocol 5 hands them over out of band, in the same process.
    let restored = RecordList::from_snapshot(&snap.header, &snap.buffers).unwrap();
    assert_eq!(restored.len(), l.len());
    let (mine, theirs) = (buffers(&l), buffers(&restored));
    let common: usize = theirs
        .iter()
        .filter(|(id, _)| mine.contains_key(id))
        .map(|(_, b)| b.bytes)
        .sum();
    let all: usize = theirs.values().map(|b| b.bytes).sum();
    // The ints, the floats, the bytes' offsets and text, the dictionary keys: read in
    // place, so the same allocations; what each has of its own (the dictionary it
    // copied, bookkeeping) is the rest.
    let own: usize = theirs
        .iter()
        .filter(|(id, _)| !mine.contains_key(id))
        .map(|(_, b)| b.bytes)
        .sum();
    assert_eq!(common + own, all);
    let values = 5_000 * (4 + 8 + 4 + 1) + 5_000 * 7;
    assert!(
        common >= values,
        "{common} of {all} shared, {values} expected"
    );
    // A copy (not read in place) shares nothing.
    let copied = RecordList::from_snapshot_bytes(&snap.to_bytes()).unwrap();
    assert!(buffers(&copied).keys().all(|id| !mine.contains_key(id)));
}
