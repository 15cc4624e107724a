//! Sinks: where batches go as they arrive.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use memslim_records::variant::{self, Value};
use memslim_records::{CellRef, RecordList};

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

/// Writes records as JSON Lines, formatted as Python's `json.dumps` formats them
/// (`", "` and `": "` separators, floats as `repr` writes them, `NaN`/`Infinity`),
/// except that non-ASCII characters are written as UTF-8 rather than `\u` escapes.
///
/// # Errors
/// `bytes` values and pickled objects have no JSON form: the batch is written up to the
/// record before, and [`StreamError::Unwritable`] names the record and field.
///
/// # Memory
/// One batch's text at a time (reused between batches).
pub struct JsonlWriter {
    name: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    rows: u64,
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

impl Sink for JsonlWriter {
    fn write_batch(&mut self, batch: &RecordList) -> Result<()> {
        self.buf.clear();
        let mut failed = None;
        for r in 0..batch.len() {
            let mark = self.buf.len();
            self.buf.push(b'{');
            let mut first = true;
            let mut err = None;
            batch.visit_row(r, |j, v| {
                if err.is_some() {
                    return;
                }
                if !first {
                    self.buf.extend_from_slice(b", ");
                }
                first = false;
                json_str(&mut self.buf, batch.field_name(j));
                self.buf.extend_from_slice(b": ");
                if let Err(reason) = json_cell(&mut self.buf, v) {
                    err = Some(StreamError::Unwritable {
                        row: r,
                        field: batch.field_name(j).to_owned(),
                        reason,
                    });
                }
            });
            if let Some(e) = err {
                self.buf.truncate(mark);
                failed = Some(e);
                break;
            }
            self.buf.extend_from_slice(b"}\n");
            self.rows += 1;
        }
        let buf = std::mem::take(&mut self.buf);
        let w = self.out.write_all(&buf).and_then(|()| self.out.flush());
        self.buf = buf;
        w.map_err(|e| self.io(e))?;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| self.io(e))
    }
}

/// Writes `s` as a JSON string.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: Option<&[u8]> = match c {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            c if c < 0x20 => None,
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// A float as Python's `repr` writes it (`json.dumps` uses the same, plus `NaN`,
/// `Infinity`, `-Infinity`).
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    let mut s = String::new();
    if f.is_sign_negative() {
        s.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = (exp + 1) as usize;
            if n <= exp + 1 {
                s.push_str(&digits);
                s.push_str(&"0".repeat(int_len - digits.len()));
                s.push_str(".0");
            } else {
                s.push_str(&digits[..int_len]);
                s.push('.');
                s.push_str(&digits[int_len..]);
            }
        } else {
            s.push_str("0.");
            s.push_str(&"0".repeat((-exp - 1) as usize));
            s.push_str(&digits);
        }
    } else {
        s.push_str(&digits[..1]);
        if n > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", exp.abs()));
    }
    s
}

fn json_cell(out: &mut Vec<u8>, v: CellRef<'_>) -> std::result::Result<(), String> {
    match v {
        CellRef::Absent | CellRef::Null => out.extend_from_slice(b"null"),
        CellRef::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        CellRef::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        CellRef::Float(f) => out.extend_from_slice(py_float(f).as_bytes()),
        CellRef::Str(s) | CellRef::DictStr(_, s) => json_str(out, s),
        CellRef::Bytes(_) => return Err("bytes have no JSON form".into()),
        CellRef::Encoded(b) => {
            let v = variant::decode(b).map_err(|e| e.to_string())?;
            json_value(out, &v)?;
        }
    }
    Ok(())
}

fn json_value(out: &mut Vec<u8>, v: &Value) -> std::result::Result<(), String> {
    match v {
        Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::BigInt(le) => out.extend_from_slice(le_to_decimal(le).as_bytes()),
        Value::Float(f) => out.extend_from_slice(py_float(*f).as_bytes()),
        Value::Str(s) => json_str(out, s),
        Value::List(items) | Value::Tuple(items) => {
            out.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                json_value(out, it)?;
            }
            out.push(b']');
        }
        Value::Dict(items) => {
            out.push(b'{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                // As json.dumps: str keys as they are, scalar keys as their JSON text.
                match k {
                    Value::Str(s) => json_str(out, s),
                    Value::None => json_str(out, "null"),
                    Value::Bool(b) => json_str(out, if *b { "true" } else { "false" }),
                    Value::Int(i) => json_str(out, &i.to_string()),
                    Value::BigInt(le) => json_str(out, &le_to_decimal(le)),
                    Value::Float(f) => json_str(out, &py_float(*f)),
                    _ => return Err("dict keys must be str, int, float, bool or None".into()),
                }
                out.extend_from_slice(b": ");
                json_value(out, val)?;
            }
            out.push(b'}');
        }
        Value::Bytes(_) => return Err("bytes have no JSON form".into()),
        Value::Opaque(_) => return Err("a pickled object has no JSON form".into()),
        // As json.dumps, which raises for a datetime or a Decimal.
        Value::Ext(e) => return Err(format!("a {} has no JSON form", e.type_name())),
    }
    Ok(())
}

/// Decimal text of a two's-complement little-endian integer.
pub fn le_to_decimal(le: &[u8]) -> String {
    let neg = le.last().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = le.to_vec();
    if neg {
        let mut carry = true;
        for b in &mut mag {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    // Big-endian base-256 digits, divided by 10 repeatedly.
    mag.reverse();
    let mut digits = Vec::new();
    while mag.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in &mut mag {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if neg {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::decimal_to_le;

    #[test]
    fn floats_as_python_repr() {
        for (f, s) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (210.12, "210.12"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456789.125, "123456789.125"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(py_float(f), s, "{f:e}");
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
    fn strings_are_escaped() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é\""
        );
    }
}
