//! JSONL bytes under every reader option: no panic, no abort, and reading in batches
//! agrees with reading everything at once.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use memslim_stream::{Input, JsonlReader, OnError, ReadOptions, docs};

/// Reader options from two selector bytes.
fn options(a: u8, b: u8) -> ReadOptions {
    ReadOptions {
        on_error: if a & 1 == 0 { OnError::Raise } else { OnError::Skip },
        threaded: a & 2 != 0,
        block_bytes: [64, 200, 4096, 1 << 18][usize::from(a >> 2) & 3],
        max_line_bytes: [16, 100, 1 << 20, 1 << 30][usize::from(a >> 4) & 3],
        batch_size: [1, 3, 1000, usize::MAX][usize::from(a >> 6)],
        max_int_digits: [0, 19, 30, 4300][usize::from(b) & 3],
        ..ReadOptions::default()
    }
}

fn input(text: &[u8]) -> Input {
    Input::from_reader("<fuzz>", Box::new(Cursor::new(text.to_vec())))
}

fuzz_target!(|data: &[u8]| {
    let [a, b, text @ ..] = data else { return };
    let opts = options(*a, *b);
    let batches: Result<Vec<usize>, _> = JsonlReader::new(input(text), opts.clone())
        .map(|batch| batch.map(|l| l.len()))
        .collect();
    let whole = JsonlReader::new(input(text), opts.clone()).read_all();
    match (&batches, &whole) {
        (Ok(b), Ok(w)) => assert_eq!(b.iter().sum::<usize>(), w.len()),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "batches {:?} but one list {:?}",
            batches.as_ref().map(|b| b.len()),
            whole.as_ref().map(|w| w.len())
        ),
    }
    let mut list = memslim_arena::DocList::new();
    let before = list.len();
    if docs::extend_docs_from_slice_with(&mut list, "<fuzz>", text, &opts).is_err() {
        // All or nothing.
        assert_eq!(list.len(), before);
    }
});
