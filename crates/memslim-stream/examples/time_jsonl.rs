//! Times reading a JSONL file: `cargo run --release -p memslim-stream --example time_jsonl -- FILE`.
use std::time::Instant;

use memslim_stream::{Input, JsonlReader, ReadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: time_jsonl FILE")?;
    for _ in 0..3 {
        let t = Instant::now();
        let input = Input::open(std::path::Path::new(&path))?;
        let threaded = std::env::var_os("SINGLE").is_none();
        let opts = ReadOptions {
            threaded,
            ..ReadOptions::default()
        };
        let rows = JsonlReader::new(input, opts).read_all()?;
        println!(
            "{} rows, {} fields, {:.1} MB own, {:.3} s",
            rows.len(),
            rows.num_fields(),
            rows.nbytes() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
