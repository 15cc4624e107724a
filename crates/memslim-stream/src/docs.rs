//! JSON Lines into a [`DocList`]: this crate's JSON parser drives the arena crate's
//! [`DocBuilder`] event by event, so documents are encoded without an intermediate tree
//! and read with the same number, string and error rules as [`crate::JsonlReader`].

use memslim_arena::{DocBuilder, DocError, DocList};

use crate::error::{Result, StreamError};
use crate::json::{Parser, Reason, Scalar, Visitor};
use crate::nested::decimal_to_le;
use crate::options::{ReadOptions, column_of};
use crate::source::{BLOCK_BYTES, Input, LineBlocks, MAX_LINE_BYTES, line_len, without_bom};

/// Adds one document per non-blank line of the JSON text read from `input`, all or
/// none; returns the number added. Any JSON value may stand on a line (not only
/// objects). Numbers are read as `json.loads` reads them: integers of any size exactly
/// (up to [`crate::MAX_INT_DIGITS`] digits, as Python limits them by default), floats to
/// the nearest double, `NaN` and `Infinity`; a key given twice keeps its first position
/// and last value. Lines are limited to [`crate::MAX_LINE_BYTES`] bytes and values to
/// [`crate::json::MAX_NESTING`] levels; [`extend_docs_with`] sets other limits.
///
/// ```
/// use memslim_arena::DocList;
/// use memslim_stream::{Input, docs::extend_docs};
///
/// let text = b"{\"a\": [1, 2.5, 123456789012345678901234567890]}\n\n\"x\"\n".to_vec();
/// let mut docs = DocList::new();
/// let input = Input::from_reader("<bytes>", Box::new(std::io::Cursor::new(text)));
/// assert_eq!(extend_docs(&mut docs, input)?, 2);
/// # Ok::<(), memslim_stream::StreamError>(())
/// ```
///
/// # Errors
/// [`StreamError::Syntax`] naming the input, line and column of the first bad line,
/// [`StreamError::Io`] if reading fails, [`StreamError::Doc`] if the symbol table is
/// full, [`StreamError::OutOfMemory`] naming the line when the memory to store a long
/// string cannot be had (asked for with fallible reservations, so this is an error, not
/// an abort). The list is then unchanged.
///
/// # Memory
/// One block of input (256 KiB, or the longest line, never past the line limit) besides
/// the documents, which are encoded into one buffer and copied into the list's arena at
/// the end.
pub fn extend_docs(docs: &mut DocList, input: Input) -> Result<usize> {
    extend_docs_with(docs, input, &ReadOptions::default())
}

/// [`extend_docs`] with the limits of `opts` (`max_line_bytes`, `max_int_digits`; the
/// other options do not apply to documents).
///
/// # Errors
/// As [`extend_docs`].
pub fn extend_docs_with(docs: &mut DocList, input: Input, opts: &ReadOptions) -> Result<usize> {
    let name = input.name;
    let mut blocks = LineBlocks::new(input.reader, BLOCK_BYTES).with_max_line(opts.max_line_bytes);
    let mut lines = Lines::new(&name, opts);
    docs.build(|b| {
        while blocks
            .next_block()
            .map_err(|e| e.into_stream(&name, lines.line + 1))?
        {
            lines.feed(b, blocks.block())?;
        }
        Ok(())
    })
}

/// [`extend_docs`] over text already in memory (no copy of it is made).
///
/// # Errors
/// As [`extend_docs`] (`name` stands for the input in messages).
pub fn extend_docs_from_slice(docs: &mut DocList, name: &str, text: &[u8]) -> Result<usize> {
    extend_docs_from_slice_with(docs, name, text, &ReadOptions::default())
}

/// [`extend_docs_from_slice`] with the limits of `opts` (see [`extend_docs_with`]).
///
/// # Errors
/// As [`extend_docs`].
pub fn extend_docs_from_slice_with(
    docs: &mut DocList,
    name: &str,
    text: &[u8],
    opts: &ReadOptions,
) -> Result<usize> {
    let mut lines = Lines::new(name, opts);
    // As `LineBlocks` does for every other input.
    let text = without_bom(text);
    docs.build(|b| lines.feed(b, text))
}

/// Feeds whole lines to a builder, counting lines across blocks.
struct Lines<'n> {
    name: &'n str,
    line: u64,
    tmp: String,
    max_line: usize,
    max_digits: usize,
}

impl<'n> Lines<'n> {
    fn new(name: &'n str, opts: &ReadOptions) -> Self {
        Lines {
            name,
            line: 0,
            tmp: String::new(),
            max_line: opts.max_line_bytes.clamp(1, MAX_LINE_BYTES),
            max_digits: opts.max_int_digits,
        }
    }

    fn syntax(&self, line: &[u8], offset: usize, reason: Reason) -> StreamError {
        if let Reason::OutOfMemory { bytes } = reason {
            return StreamError::OutOfMemory {
                input: self.name.to_owned(),
                line: self.line,
                bytes,
            };
        }
        StreamError::Syntax {
            input: self.name.to_owned(),
            line: self.line,
            column: column_of(line, offset),
            reason: reason.to_string(),
        }
    }

    /// The error for a builder's error on the current line: memory that cannot be had
    /// names the input and line, as the record readers report it.
    fn doc_error(&self, e: DocError) -> StreamError {
        match e {
            DocError::OutOfMemory { bytes, .. } => StreamError::OutOfMemory {
                input: self.name.to_owned(),
                line: self.line,
                bytes,
            },
            e => e.into(),
        }
    }

    /// Parses each line of `text` (whole lines) as one document.
    fn feed(&mut self, b: &mut DocBuilder<'_>, text: &[u8]) -> Result<()> {
        // One UTF-8 check for the whole block; lines are checked one by one only to
        // name the bad one.
        let whole = std::str::from_utf8(text).ok();
        let mut pos = 0;
        while pos < text.len() {
            let end = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |i| pos + i);
            self.line += 1;
            let bytes = &text[pos..end];
            let line = match whole {
                Some(t) => t.get(pos..end).unwrap_or(""),
                None => std::str::from_utf8(bytes)
                    .map_err(|e| self.syntax(bytes, e.valid_up_to(), Reason::InvalidUtf8))?,
            };
            pos = end + 1;
            if line_len(bytes) > self.max_line {
                let limit = self.max_line;
                return Err(self.syntax(bytes, 0, Reason::LineTooLong { limit }));
            }
            let mut p = Parser::new(line, &mut self.tmp).with_max_int_digits(self.max_digits);
            if p.peek().is_none() {
                continue;
            }
            let mut feed = BuildVisitor { b, err: None };
            let parsed = p.value(&mut feed).and_then(|()| p.finish());
            let err = feed.err;
            match (parsed, err) {
                (Ok(()), None) => b.end_doc()?,
                (Err(e), _) => {
                    b.abandon_doc();
                    return Err(self.syntax(bytes, e.offset, e.reason));
                }
                (Ok(()), Some(e)) => {
                    b.abandon_doc();
                    return Err(self.doc_error(e));
                }
            }
        }
        Ok(())
    }
}

/// Parse events to builder calls; the first builder error is kept and reported after
/// the line (the parser's visitor cannot fail).
struct BuildVisitor<'b, 'a> {
    b: &'b mut DocBuilder<'a>,
    err: Option<DocError>,
}

impl BuildVisitor<'_, '_> {
    #[inline]
    fn keep(&mut self, r: std::result::Result<(), DocError>) {
        if let Err(e) = r {
            self.err.get_or_insert(e);
        }
    }
}

impl Visitor for BuildVisitor<'_, '_> {
    fn begin_object(&mut self) {
        let r = self.b.begin_map();
        self.keep(r);
    }
    fn key(&mut self, key: &str) {
        let r = self.b.key(key);
        self.keep(r);
    }
    fn end_object(&mut self, _len: usize) {
        let r = self.b.end_dedup();
        self.keep(r);
    }
    fn begin_array(&mut self) {
        let r = self.b.begin_list();
        self.keep(r);
    }
    fn end_array(&mut self, _len: usize) {
        let r = self.b.end();
        self.keep(r);
    }
    fn scalar(&mut self, value: Scalar<'_>) {
        let r = match value {
            Scalar::Null => self.b.none(),
            Scalar::Bool(v) => self.b.bool(v),
            Scalar::Int(v) => self.b.int(v),
            Scalar::BigInt(text) => self.b.big_int(&decimal_to_le(text)),
            Scalar::Float(v) => self.b.float(v),
            Scalar::Str(s) => self.b.str(s),
        };
        self.keep(r);
    }
}

impl From<DocError> for StreamError {
    fn from(e: DocError) -> Self {
        StreamError::Doc(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memslim_arena::variant::Value;
    use memslim_arena::{Node, read_node};

    fn contents(docs: &DocList) -> Vec<Value> {
        (0..docs.len())
            .map(|i| memslim_arena::to_value(docs.root(i).unwrap(), docs.store()).unwrap())
            .collect()
    }

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn numbers_and_strings_as_json_loads_reads_them() {
        let mut docs = DocList::new();
        let text = b"18446744073709551615\n-9223372036854775808\n1.5e300\n-0.0\n0.1\n\
                     \"\\ud83d\\ude00\"\n[NaN, -Infinity]\n-123456789012345678901234567890\n";
        assert_eq!(extend_docs_from_slice(&mut docs, "t", text).unwrap(), 8);
        let c = contents(&docs);
        assert_eq!(
            c[0],
            Value::BigInt(vec![0xFF; 8].into_iter().chain([0]).collect())
        );
        assert_eq!(c[1], Value::Int(i64::MIN));
        assert_eq!(c[2], Value::Float(1.5e300));
        assert_eq!(c[3], Value::Float(-0.0));
        assert_eq!(c[4], Value::Float(0.1));
        assert_eq!(c[5], s("😀"));
        let Value::List(l) = &c[6] else { panic!() };
        assert!(matches!(l[0], Value::Float(f) if f.is_nan()));
        assert_eq!(l[1], Value::Float(f64::NEG_INFINITY));
        assert!(matches!(&c[7], Value::BigInt(b) if b.last().is_some_and(|x| x & 0x80 != 0)));
        // Through the symbol table and the arena, a nested document reads back whole.
        let mut docs = DocList::new();
        let line = br#"{"a": [1, {"b": "x"}], "c": "a string too long to be interned here"}"#;
        extend_docs_from_slice(&mut docs, "t", line).unwrap();
        assert_eq!(
            contents(&docs)[0],
            Value::Dict(vec![
                (
                    s("a"),
                    Value::List(vec![Value::Int(1), Value::Dict(vec![(s("b"), s("x"))])])
                ),
                (s("c"), s("a string too long to be interned here")),
            ])
        );
        let bytes = docs.doc_bytes(0).unwrap();
        assert!(matches!(read_node(bytes, 0).unwrap().0, Node::Dict(_)));
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        let mut docs = DocList::new();
        let text = br#"{"a": 1, "b": [2], "a": {"x": 3, "x": 4}, "c": 5, "b": null}"#;
        extend_docs_from_slice(&mut docs, "t", text).unwrap();
        assert_eq!(
            contents(&docs)[0],
            Value::Dict(vec![
                (s("a"), Value::Dict(vec![(s("x"), Value::Int(4))])),
                (s("b"), Value::None),
                (s("c"), Value::Int(5)),
            ])
        );
        let store = docs.store();
        memslim_arena::validate(
            docs.doc_bytes(0).unwrap(),
            store.symbols().len(),
            &store.text(),
        )
        .unwrap();
    }

    #[test]
    fn errors_name_the_line_and_column_and_change_nothing() {
        let mut docs = DocList::new();
        extend_docs_from_slice(&mut docs, "t", b"[1]\n").unwrap();
        let err = extend_docs_from_slice(&mut docs, "in.jsonl", b"{\"ok\": 1}\n\n{\"bad\": tru}\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.jsonl: line 3, column 9: expected a value"
        );
        let err = extend_docs_from_slice(&mut docs, "t", b"{\"ok\": 1}\n[1, \xff]\n").unwrap_err();
        assert!(
            matches!(
                err,
                StreamError::Syntax {
                    line: 2,
                    column: 5,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(docs.store().symbols().lookup("ok"), None);
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped_from_a_slice_and_a_reader() {
        let text = b"\xEF\xBB\xBF{\"a\": 1}\n";
        let mut docs = DocList::new();
        extend_docs_from_slice(&mut docs, "t", text).unwrap();
        let input = Input::from_reader("t", Box::new(std::io::Cursor::new(text.to_vec())));
        extend_docs(&mut docs, input).unwrap();
        let one = Value::Dict(vec![(s("a"), Value::Int(1))]);
        assert_eq!(contents(&docs), [one.clone(), one]);
        // Columns of the first line do not count it.
        let err = extend_docs_from_slice(&mut docs, "t", b"\xEF\xBB\xBF{\"a\": x}\n").unwrap_err();
        assert!(
            matches!(
                err,
                StreamError::Syntax {
                    line: 1,
                    column: 7,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn blocks_count_lines_across_block_boundaries() {
        let mut text = String::new();
        for i in 0..50_000 {
            text.push_str(&format!(
                "{{\"i\": {i}, \"s\": \"{}\"}}\n",
                "x".repeat(i % 40)
            ));
        }
        text.push_str("{\"i\": }\n");
        let input = Input::from_reader("<big>", Box::new(std::io::Cursor::new(text.clone())));
        let mut docs = DocList::new();
        let err = extend_docs(&mut docs, input).unwrap_err();
        assert_eq!(err.line(), Some(50_001));
        assert!(docs.is_empty());
        text.truncate(text.len() - "{\"i\": }\n".len());
        let input = Input::from_reader("<big>", Box::new(std::io::Cursor::new(text)));
        assert_eq!(extend_docs(&mut docs, input).unwrap(), 50_000);
        assert_eq!(
            contents(&docs)[49_999],
            Value::Dict(vec![
                (s("i"), Value::Int(49_999)),
                (s("s"), s(&"x".repeat(39)))
            ])
        );
    }
}
