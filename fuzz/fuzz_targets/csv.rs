//! CSV bytes under every dialect and reader option: no panic, no abort, and reading in
//! batches agrees with reading everything at once.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use memslim_stream::{CsvOptions, CsvReader, EncodingErrors, Input, OnError, ReadOptions};

fn read(text: &[u8], opts: ReadOptions, csv: CsvOptions) -> Result<Vec<usize>, String> {
    let data = text.to_vec();
    let reopen = Box::new(move || {
        Ok(Input::from_reader(
            "<fuzz>",
            Box::new(Cursor::new(data.clone())),
        ))
    });
    let reader = CsvReader::new(reopen, opts, csv).map_err(|e| e.to_string())?;
    reader
        .map(|batch| batch.map(|l| l.len()).map_err(|e| e.to_string()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let [a, b, text @ ..] = data else { return };
    let csv = CsvOptions {
        delimiter: [b',', b';', b'\t', b'|'][usize::from(*b) & 3],
        quote: [b'"', b'\''][usize::from(*b >> 2) & 1],
        header: b & 8 == 0,
        infer: b & 16 == 0,
        encoding_errors: if b & 32 == 0 {
            EncodingErrors::Strict
        } else {
            EncodingErrors::Replace
        },
    };
    let opts = ReadOptions {
        on_error: if a & 1 == 0 { OnError::Raise } else { OnError::Skip },
        threaded: a & 2 != 0,
        block_bytes: [64, 200, 4096, 1 << 18][usize::from(a >> 2) & 3],
        max_line_bytes: [16, 100, 1 << 20, 1 << 30][usize::from(a >> 4) & 3],
        batch_size: [1, 3, 1000, usize::MAX][usize::from(a >> 6)],
        ..ReadOptions::default()
    };
    let batches = read(text, opts.clone(), csv.clone());
    let whole = read(
        text,
        ReadOptions {
            batch_size: usize::MAX,
            ..opts
        },
        csv,
    );
    match (&batches, &whole) {
        (Ok(b), Ok(w)) => assert_eq!(b.iter().sum::<usize>(), w.iter().sum::<usize>()),
        (Err(_), Err(_)) => {}
        _ => panic!("batches {batches:?} but one list {whole:?}"),
    }
});
