//! gzip and zstd input: damaged or hostile streams end in an error, never a panic, an
//! abort or unbounded memory (libFuzzer's `-rss_limit_mb` watches that).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use memslim_stream::{Input, JsonlReader, OnError, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let [a, bytes @ ..] = data else { return };
    let ext = if a & 1 == 0 { "gz" } else { "zst" };
    let Ok(input) =
        Input::from_compressed("<fuzz>", ext, Box::new(Cursor::new(bytes.to_vec())))
    else {
        return;
    };
    let opts = ReadOptions {
        on_error: if a & 2 == 0 { OnError::Raise } else { OnError::Skip },
        threaded: a & 4 != 0,
        max_line_bytes: 1 << 20,
        batch_size: 1000,
        ..ReadOptions::default()
    };
    for batch in JsonlReader::new(input, opts) {
        if batch.is_err() {
            break;
        }
    }
});
