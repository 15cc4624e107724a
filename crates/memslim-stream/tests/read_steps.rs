//! `BatchReader::read_rest_in_steps`: the same records as one read, whatever the step,
//! with the host asked between steps and able to stop the read.

use memslim_stream::{BatchReader, Input, JsonlReader, ReadOptions};

fn reader(n: usize) -> JsonlReader {
    let data: String = (0..n)
        .map(|i| format!("{{\"id\": {i}, \"s\": \"v{}\"}}\n", i % 3))
        .collect();
    let input = Input::from_reader("<bytes>", Box::new(std::io::Cursor::new(data.into_bytes())));
    JsonlReader::new(input, ReadOptions::default())
}

#[test]
fn steps_read_the_same_records_as_one_read() {
    let whole = reader(1000).read_all().unwrap();
    for step in [1, 7, 999, 1000, usize::MAX] {
        let mut asked = 0;
        let list = reader(1000)
            .read_rest_in_steps(step, &mut || {
                asked += 1;
                true
            })
            .unwrap()
            .unwrap();
        assert_eq!(list.len(), whole.len(), "step {step}");
        for name in ["id", "s"] {
            let (a, b) = (
                list.field_index(name).unwrap(),
                whole.field_index(name).unwrap(),
            );
            for i in [0, 1, 500, 999] {
                assert_eq!(list.get(i, a), whole.get(i, b), "step {step}");
            }
        }
        if step < 1000 {
            assert!(
                asked >= 1000 / step.max(1) - 1,
                "step {step}: asked {asked} times"
            );
        }
    }
}

#[test]
fn the_host_can_stop_the_read() {
    let mut asked = 0;
    let out = reader(100)
        .read_rest_in_steps(10, &mut || {
            asked += 1;
            asked < 3
        })
        .unwrap();
    assert!(out.is_none());
    assert_eq!(asked, 3);
}

#[test]
fn a_malformed_line_is_an_error() {
    let input = Input::from_reader(
        "<bytes>",
        Box::new(std::io::Cursor::new(b"{\"a\": 1}\n{oops\n".to_vec())),
    );
    let mut r = JsonlReader::new(input, ReadOptions::default());
    assert!(r.read_rest_in_steps(1, &mut || true).is_err());
}

#[test]
fn a_record_the_schema_refuses_is_counted_in_the_stream_whatever_the_batch() {
    use memslim_records::{DType, RecordsError};
    use memslim_stream::StreamError;
    let data = b"{\"a\": 1}\n\n{\"a\": 2}\n{\"a\": 3}\n{\"a\": \"x\"}\n".to_vec();
    for batch_size in [1, 2, 3, usize::MAX] {
        let input = Input::from_reader("<bytes>", Box::new(std::io::Cursor::new(data.clone())));
        let opts = ReadOptions {
            batch_size,
            schema: Some(vec![("a".into(), DType::Int64)]),
            ..ReadOptions::default()
        };
        let err = JsonlReader::new(input, opts).find_map(Result::err).unwrap();
        // Line 5 (a blank line before it), the stream's record 3 (from 0).
        assert!(
            matches!(
                &err,
                StreamError::Record {
                    line: 5,
                    error: RecordsError::SchemaMismatch { row: 3, .. },
                    ..
                }
            ),
            "batch_size {batch_size}: {err}"
        );
    }
}
