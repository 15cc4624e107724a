//! Sinks: where batches go as they arrive.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use memslim_records::RecordList;
use memslim_records::json::{JsonError, JsonFormat, JsonWriter, RecordKeys, RecordShape};

use crate::error::{Result, StreamError};

/// Consumes batches. A sink writes each batch completely before taking the next, so
/// a failure later in a stream leaves everything already written intact.
pub trait Sink {
    /// Writes one batch.
    ///
    /// # Errors
    /// The sink's own (I/O, a value its format cannot hold).
    fn write_batch(&mut self, batch: &RecordList) -> Result<()>;
    /// Makes what was written durable (flushes buffers).
    ///
    /// # Errors
    /// I/O errors.
    fn flush(&mut self) -> Result<()>;
}

/// Writes records as JSON Lines, each line exactly `json.dumps(record, ensure_ascii=False)`
/// (`", "` and `": "` separators, floats as `repr` writes them, `NaN`/`Infinity`): the
/// same writer as `memslim.dumps` ([`memslim_records::json`]), with non-ASCII characters
/// written as UTF-8 rather than `\u` escapes.
///
/// # Errors
/// `bytes` values, dates, decimals... and pickled objects have no JSON form here: the
/// batch is written up to the record before, and [`StreamError::Unwritable`] names the
/// record (by its position in everything this writer was given) and the field. A
/// pickled object is [`JsonError::Pickled`]: only the host can say what it is (a `str`
/// with a lone surrogate, which no UTF-8 line can hold, or an object of another type)
/// and may write the record itself ([`JsonlWriter::write_line`]) and go on after it
/// ([`JsonlWriter::write_rows`]).
///
/// # Memory
/// One batch's text at a time (reused between batches).
pub struct JsonlWriter {
    name: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    rows: u64,
    format: JsonFormat,
}

impl JsonlWriter {
    /// Creates (or truncates) the file at `path`.
    ///
    /// # Errors
    /// [`StreamError::Io`] naming the path.
    pub fn create(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let f = File::create(path).map_err(|error| StreamError::Io {
            input: name.clone(),
            error,
        })?;
        Ok(Self::new(name, Box::new(f)))
    }

    /// Writes to any writer.
    pub fn new(name: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        JsonlWriter {
            name: name.into(),
            out,
            buf: Vec::new(),
            rows: 0,
            format: JsonFormat::jsonl(),
        }
    }

    /// Records written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn io(&self, error: std::io::Error) -> StreamError {
        StreamError::Io {
            input: self.name.clone(),
            error,
        }
    }
}

impl JsonlWriter {
    /// Writes records `rows` of `batch`, as [`Sink::write_batch`] writes a whole batch:
    /// the records before one that cannot be written are written, and the error names
    /// it. A host that can write that record itself (a pickled object, see
    /// [`JsonError::Pickled`]) writes its line with [`JsonlWriter::write_line`] and goes on
    /// from the record after it.
    ///
    /// # Errors
    /// As [`Sink::write_batch`].
    ///
    /// # Panics
    /// If `rows` reaches past the end of `batch` (the caller's bug).
    pub fn write_rows(&mut self, batch: &RecordList, rows: std::ops::Range<usize>) -> Result<()> {
        assert!(rows.end <= batch.len(), "write_rows: rows past the batch");
        let keys = RecordKeys::new(batch, &self.format);
        let mut w = JsonWriter::with_buffer(&self.format, std::mem::take(&mut self.buf));
        let mut failed = None;
        for r in rows {
            let mark = w.as_bytes().len();
            if let Err(e) = w.record(batch, r, &keys, RecordShape::Object) {
                w.truncate(mark);
                let (field, error) = match e {
                    JsonError::InField { field, source, .. } => (field, *source),
                    other => (String::new(), other),
                };
                // Every record before this one was written: `rows` is its position.
                failed = Some(StreamError::Unwritable {
                    output: self.name.clone(),
                    row: self.rows,
                    field,
                    error,
                });
                break;
            }
            w.raw(b"\n");
            self.rows += 1;
        }
        let buf = w.into_bytes();
        let res = self.out.write_all(&buf).and_then(|()| self.out.flush());
        self.buf = buf;
        res.map_err(|e| self.io(e))?;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Writes one record the host formatted itself: `line` (one JSON text, no line
    /// break) and a line break, counted as a record.
    ///
    /// # Errors
    /// [`StreamError::Io`]; an `InvalidInput` I/O error, nothing written, if `line` holds
    /// a line break (it would be read back as two records).
    pub fn write_line(&mut self, line: &str) -> Result<()> {
        if line.contains(['\n', '\r']) {
            return Err(self.io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a JSON Lines record cannot hold a line break",
            )));
        }
        let res = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        res.map_err(|e| self.io(e))?;
        self.rows += 1;
        Ok(())
    }
}

impl Sink for JsonlWriter {
    fn write_batch(&mut self, batch: &RecordList) -> Result<()> {
        self.write_rows(batch, 0..batch.len())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::decimal_to_le;
    use memslim_records::Cell;
    use memslim_records::json::le_to_decimal;

    /// An output the test reads back after the writer has written to it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn big_ints_round_trip_through_decimal() {
        for t in [
            "0",
            "9223372036854775808",
            "-9223372036854775809",
            "-1",
            "123456789012345678901234567890",
        ] {
            assert_eq!(le_to_decimal(&decimal_to_le(t)), t);
        }
    }

    #[test]
    fn lines_are_json_dumps_without_ascii_escapes() {
        let mut batch = RecordList::new();
        batch
            .push_record(&[("a", Cell::Float(1e16)), ("é", Cell::Str("ü\n"))])
            .unwrap();
        batch.push_record(&[("b", Cell::Bytes(b"x"))]).unwrap();
        let out = Shared::default();
        let mut w = JsonlWriter::new("<mem>", Box::new(out.clone()));
        let err = w.write_batch(&batch).unwrap_err();
        assert!(matches!(err, StreamError::Unwritable { row: 1, ref field, .. } if field == "b"));
        assert_eq!(w.rows(), 1);
        // The record is named by its position in the stream, not in its batch.
        let mut w = JsonlWriter::new("<mem>", Box::new(std::io::sink()));
        w.write_batch(&batch.slice(0, 1)).unwrap();
        w.write_batch(&batch.slice(0, 1)).unwrap();
        let err = w.write_batch(&batch).unwrap_err();
        assert!(
            matches!(&err, StreamError::Unwritable { row: 3, field, error, .. }
                if field == "b" && *error == JsonError::NoJsonForm("bytes")),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "<mem>: record 3 (counted from 0), field \"b\": Object of type bytes is not JSON \
             serializable"
        );
        assert_eq!(out.text(), "{\"a\": 1e+16, \"é\": \"ü\\n\"}\n");
    }

    #[test]
    fn a_host_writes_the_line_the_writer_cannot_and_it_goes_on_after_it() {
        use memslim_records::variant::{Value, encode};
        let mut enc = Vec::new();
        encode(&Value::Opaque(b"\x80\x05...".to_vec()), &mut enc);
        let mut batch = RecordList::new();
        for i in 0..4 {
            let cell = if i == 1 {
                Cell::Encoded(&enc)
            } else {
                Cell::Int(i)
            };
            batch.push_record(&[("a", cell)]).unwrap();
        }
        let out = Shared::default();
        let mut w = JsonlWriter::new("<mem>", Box::new(out.clone()));
        let err = w.write_rows(&batch, 0..4).unwrap_err();
        assert!(
            matches!(err, StreamError::Unwritable { row: 1, .. }),
            "{err:?}"
        );
        // A line break would split the record: refused, nothing written or counted.
        assert!(matches!(
            w.write_line("{\"a\": \n1}"),
            Err(StreamError::Io { .. })
        ));
        w.write_line("{\"a\": [1, 2]}").unwrap();
        w.write_rows(&batch, 2..4).unwrap();
        assert_eq!(w.rows(), 4);
        assert_eq!(
            out.text(),
            "{\"a\": 0}\n{\"a\": [1, 2]}\n{\"a\": 2}\n{\"a\": 3}\n"
        );
    }

    #[test]
    fn a_pickled_object_is_left_to_the_host_to_name_as_a_value_or_a_key() {
        use memslim_records::variant::{Value, encode};
        let pickled = Value::Opaque(b"\x80\x05...".to_vec());
        for (value, key) in [
            (Value::List(vec![pickled.clone()]), false),
            (Value::Dict(vec![(pickled, Value::Int(1))]), true),
        ] {
            let mut enc = Vec::new();
            encode(&value, &mut enc);
            let mut batch = RecordList::new();
            batch.push_record(&[("a", Cell::Encoded(&enc))]).unwrap();
            let mut w = JsonlWriter::new("<mem>", Box::new(std::io::sink()));
            let err = w.write_batch(&batch).unwrap_err();
            assert!(
                matches!(&err, StreamError::Unwritable { row: 0, field, error, .. }
                    if field == "a" && *error == JsonError::Pickled { key }),
                "{err:?}"
            );
        }
    }
}
