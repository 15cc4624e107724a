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
