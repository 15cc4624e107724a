//! Shared record generator for the criterion benches (the shape the Python benchmark
//! uses: orders with ids, repeated users and countries, prices, mostly-missing notes).

use memslim_records::{Cell, RecordList};

/// Fills a list with `n` order-like records.
pub fn orders(n: usize) -> RecordList {
    let countries = ["DE", "FR", "US", "JP", "BR", "IN", "CN", "GB"];
    let users: Vec<String> = (0..n.div_ceil(5).max(1))
        .map(|i| format!("user{i:06}"))
        .collect();
    let mut rows = RecordList::new();
    for i in 0..n {
        let note = (i % 5 == 0).then_some("leave at the door");
        let rec = [
            ("id", Cell::Int(i as i64)),
            ("user", Cell::Str(&users[(i * 7919) % users.len()])),
            ("price", Cell::Float((i % 1000) as f64 * 0.37)),
            ("qty", Cell::Int((i % 9) as i64 + 1)),
            ("paid", Cell::Bool(i % 3 != 0)),
            ("country", Cell::Str(countries[i % countries.len()])),
            ("note", note.map_or(Cell::Null, Cell::Str)),
        ];
        // The generator only makes valid records.
        rows.push_record(&rec).expect("valid record");
    }
    rows.optimize();
    rows
}
