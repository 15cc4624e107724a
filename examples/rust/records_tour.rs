//! A tour of `memslim::records` from Rust: build a record list, read it back exactly,
//! see how it is stored, and hand it to Arrow without copying.

use memslim::records::{Cell, CellRef, RecordList};

fn main() -> Result<(), memslim::records::RecordsError> {
    let small = std::env::var_os("MEMSLIM_EXAMPLE_SMALL").is_some();
    let n: i64 = if small { 10_000 } else { 1_000_000 };
    let countries = ["DE", "FR", "US", "JP"];

    let mut rows = RecordList::new();
    for i in 0..n {
        let country = countries[(i % 4) as usize];
        let user = format!("user{:06}", i % 50_000);
        let mut rec = vec![
            ("id", Cell::Int(i)),
            ("user", Cell::Str(&user)),
            ("price", Cell::Float(i as f64 * 0.25)),
            ("country", Cell::Str(country)),
        ];
        if i % 5 == 0 {
            rec.push(("note", Cell::Str("gift")));
        }
        rows.push_record(&rec)?;
    }
    rows.optimize();

    // Absent is not null: record 1 has no "note" key at all.
    let note = rows.field_index("note").expect("field exists");
    // "gift" repeats, so the column is dictionary-encoded and reads carry its position.
    assert!(matches!(rows.get(0, note), CellRef::DictStr(_, "gift")));
    assert_eq!(rows.get(1, note), CellRef::Absent);

    println!("{} records, {} fields", rows.len(), rows.num_fields());
    for j in 0..rows.num_fields() {
        println!(
            "  {:<8} {}",
            rows.field_name(j),
            rows.field_layout(j).describe()
        );
    }
    let bytes = rows.nbytes();
    println!(
        "{} bytes held, {:.1} bytes per record",
        bytes,
        bytes as f64 / rows.len() as f64
    );

    // Zero-copy export: the batches point into the list's own buffers.
    let (schema, batches) = rows.to_arrow()?;
    let exported: usize = batches.iter().map(|b| b.num_rows()).sum();
    println!(
        "exported {exported} rows to Arrow as {} batch(es)",
        batches.len()
    );
    println!("{schema:#?}");
    assert_eq!(exported, rows.len());
    Ok(())
}
