//! CSV with `OnError::Skip`: a skipped record leaves no trace in what is kept, types
//! included (inference reads the whole input before pass 2 decides what to skip).

use std::io::Cursor;

use memslim_records::{CellRef, RecordList};
use memslim_stream::{BatchReader, CsvOptions, CsvReader, Input, OnError, ReadOptions};
use proptest::prelude::*;

fn read(text: &str, header: bool, on_error: OnError) -> (RecordList, u64) {
    let data = text.as_bytes().to_vec();
    let reopen = Box::new(move || {
        Ok(Input::from_reader(
            "t.csv",
            Box::new(Cursor::new(data.clone())),
        ))
    });
    let opts = ReadOptions {
        on_error,
        block_bytes: 64,
        ..ReadOptions::default()
    };
    let csv = CsvOptions {
        header,
        ..CsvOptions::default()
    };
    let mut r = CsvReader::new(reopen, opts, csv).unwrap();
    let rows = r.read_rest().unwrap();
    (rows, r.skipped().count)
}

/// Field names, types and every value, for comparison.
fn contents(rows: &RecordList) -> (Vec<(String, String)>, Vec<String>) {
    let fields = (0..rows.num_fields())
        .map(|j| {
            let name = rows.field_name(j).to_owned();
            (name, rows.field_dtype(j).name().to_owned())
        })
        .collect();
    let values = (0..rows.len())
        .flat_map(|r| (0..rows.num_fields()).map(move |j| (r, j)))
        .map(|(r, j)| match rows.get(r, j) {
            // (Dictionary indices depend on the storage layout, not the value.)
            CellRef::DictStr(_, s) => format!("{:?}", CellRef::Str(s)),
            c => format!("{c:?}"),
        })
        .collect();
    (fields, values)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1000i64..1000).prop_map(|i| i.to_string()),
        Just("1.5".to_owned()),
        Just("true".to_owned()),
        Just("x".to_owned()),
        Just("007".to_owned()),
        Just(String::new()),
    ]
}

proptest! {
    /// Reading with bad-width records skipped gives exactly what reading the input
    /// without them gives.
    #[test]
    fn skipped_records_do_not_change_what_is_kept(
        good in proptest::collection::vec((value(), value()), 1..12),
        bad in proptest::collection::vec(
            (1usize..12, proptest::collection::vec(value(), 1..5)), 0..4,
        ),
        header in any::<bool>(),
    ) {
        let line = |vals: &[String]| format!("{}\n", vals.join(","));
        let mut lines: Vec<String> =
            good.iter().map(|(a, b)| line(&[a.clone(), b.clone()])).collect();
        let clean: String = lines.concat();
        let mut inserted = 0;
        for (at, vals) in bad.iter().rev() {
            // Two fields is a good record; a single empty field is a blank line.
            if vals.len() == 2 || vals.len() == 1 && vals[0].is_empty() {
                continue;
            }
            // Without a header the first record sets the width: bad ones come after it.
            lines.insert((*at).clamp(1, lines.len()), line(vals));
            inserted += 1;
        }
        let head = if header { "a,b\n" } else { "" };
        let dirty = format!("{head}{}", lines.concat());
        let (want, _) = read(&format!("{head}{clean}"), header, OnError::Raise);
        let (got, skipped) = read(&dirty, header, OnError::Skip);
        prop_assert_eq!(skipped, inserted);
        prop_assert_eq!(contents(&got), contents(&want));
    }
}

#[test]
fn a_record_of_another_width_does_not_take_part_in_inference() {
    for (bad, header) in [
        ("x,y,z", true),
        ("x", true),
        ("1.5,3,3", true),
        ("x,y,z", false),
    ] {
        let head = if header { "id,qty\n" } else { "" };
        let (want, _) = read(&format!("{head}1,2\n3,4\n"), header, OnError::Raise);
        let (got, skipped) = read(&format!("{head}1,2\n{bad}\n3,4\n"), header, OnError::Skip);
        assert_eq!(skipped, 1);
        assert_eq!(contents(&got), contents(&want), "{bad:?}");
        assert_eq!(got.field_dtype(0).name(), "int64", "{bad:?}");
    }
}
