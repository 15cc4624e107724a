//! Streaming from Rust: read JSON Lines in batches, adapt them, write them to a sink.
//!
//! `cargo run --release -p memslim-examples --example stream_tour`

use std::io::Cursor;

use memslim::records::Cell;
use memslim::stream::ops::{CmpOp, filter_cmp, select};
use memslim::stream::sink::{JsonlWriter, Sink};
use memslim::stream::{Input, JsonlReader, ReadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pages: String = (0..10_000)
        .map(|i| {
            let status = if i % 10 == 0 { 404 } else { 200 };
            format!("{{\"url\": \"https://example.invalid/{i}\", \"status\": {status}, \"words\": {}}}\n", i % 700)
        })
        .collect();
    let input = Input::from_reader("<pages>", Box::new(Cursor::new(pages.into_bytes())));
    let opts = ReadOptions {
        batch_size: 2_048,
        ..ReadOptions::default()
    };
    // Any `Write` will do; a file would be `JsonlWriter::create(path)`.
    let mut sink = JsonlWriter::new("<memory>", Box::new(Vec::<u8>::new()));
    let mut batches = 0;
    // Readers are iterators of batches; adapters are functions of a batch.
    for batch in JsonlReader::new(input, opts) {
        let ok = filter_cmp(&batch?, "status", CmpOp::Eq, &Cell::Int(200))?;
        sink.write_batch(&select(&ok, &["url", "words"])?)?;
        batches += 1;
    }
    sink.flush()?;
    println!("{batches} batches, {} summaries written", sink.rows());
    assert_eq!(sink.rows(), 9_000);
    Ok(())
}
