//! A byte-level JSON parser that reports what it reads to a [`Visitor`].
//!
//! The parser works on one in-memory text (one JSONL line, already checked to be UTF-8)
//! and never builds a value tree: strings without escapes are handed out as slices of
//! the input, escaped ones are decoded into a buffer the caller reuses. It accepts what
//! Python's `json.loads` accepts, including `NaN`, `Infinity` and `-Infinity`, and
//! integers of any size up to a digit limit ([`MAX_INT_DIGITS`] by default, as Python's
//! `sys.get_int_max_str_digits()`), with containers nested up to [`MAX_NESTING`] deep.

use std::fmt;

/// Containers nested deeper than this are refused: the variant encoding's limit
/// ([`memslim_arena::variant::MAX_DEPTH`], 512), so whatever parses can be stored. A
/// value with exactly this many nested containers is accepted.
pub const MAX_NESTING: usize = memslim_arena::variant::MAX_DEPTH;

/// The default longest integer literal, in digits: Python's default
/// `sys.get_int_max_str_digits()`, which `json.loads` applies too. `0` means no limit.
pub const MAX_INT_DIGITS: usize = 4300;

/// A JSON scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer beyond 64 bits, as its ASCII decimal text (with an optional `-`).
    BigInt(&'a str),
    /// A number with a fraction or exponent, or `NaN` / `Infinity` / `-Infinity`.
    Float(f64),
    /// A string.
    Str(&'a str),
}

/// Receives the events of one JSON value, in document order. Strings are borrowed for
/// the call only (copy what you keep).
pub trait Visitor {
    /// `{` was read.
    fn begin_object(&mut self);
    /// An object key was read; its value follows.
    fn key(&mut self, key: &str);
    /// `}` was read; the object had `len` members.
    fn end_object(&mut self, len: usize);
    /// `[` was read.
    fn begin_array(&mut self);
    /// `]` was read; the array had `len` elements.
    fn end_array(&mut self, len: usize);
    /// A scalar value was read.
    fn scalar(&mut self, value: Scalar<'_>);
    /// A string of `bytes` bytes (a key or a value, at least [`LONG_STRING`] long) comes
    /// next: `false` if the memory to keep it cannot be had (the parser then stops with
    /// [`Reason::OutOfMemory`] rather than have the visitor abort the process).
    fn reserve(&mut self, bytes: usize) -> bool {
        let _ = bytes;
        true
    }
}

/// Strings at least this long are announced to a [`Visitor`] before it is given them
/// ([`Visitor::reserve`]).
pub const LONG_STRING: usize = 1 << 20;

/// Where a string's text is: a byte range of the input, or the parser's decode buffer
/// (when it had escapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrAt {
    /// `input[start..end]`.
    Input(usize, usize),
    /// The decoded text is in [`Parser::decoded`].
    Decoded,
}

/// What is wrong at a [`SyntaxError`]'s offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// Something else was found where the given thing was expected.
    Expected(&'static str),
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A raw control character inside a string.
    ControlChar,
    /// A malformed backslash escape.
    BadEscape,
    /// A `\uXXXX` escape of a surrogate that no other one completes: valid JSON, and
    /// `json.loads` keeps it in a `str`, but it has no UTF-8 form to be stored in.
    LoneSurrogate(u16),
    /// A malformed number.
    BadNumber,
    /// Nesting deeper than [`MAX_NESTING`].
    TooDeep,
    /// More input after a complete value.
    TrailingData,
    /// A line longer than the reader's limit (`max_line_bytes`).
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// An integer literal with more digits than the limit ([`Parser::with_max_int_digits`]).
    TooManyDigits {
        /// The limit.
        limit: usize,
        /// Digits in the literal.
        digits: usize,
    },
    /// The buffer an escaped string is decoded into could not grow to this many bytes.
    OutOfMemory {
        /// The size asked for.
        bytes: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UnexpectedEnd => f.write_str("unexpected end of input"),
            Reason::Expected(what) => write!(f, "expected {what}"),
            Reason::InvalidUtf8 => f.write_str("invalid UTF-8 in string"),
            Reason::ControlChar => f.write_str("unescaped control character in string"),
            Reason::BadEscape => f.write_str("invalid escape sequence"),
            Reason::LoneSurrogate(u) => write!(
                f,
                "the escape \\u{u:04x} is a lone surrogate, which has no UTF-8 form \
                 (strings are stored as UTF-8)"
            ),
            Reason::BadNumber => f.write_str("invalid number"),
            Reason::TooDeep => write!(f, "nested deeper than {MAX_NESTING} levels"),
            Reason::TrailingData => f.write_str("extra data after the value"),
            Reason::LineTooLong { limit } => f.write_str(&crate::source::too_long(*limit)),
            // Python's own words (`int(s)` and `json.loads` say the same).
            Reason::TooManyDigits { limit, digits } => write!(
                f,
                "Exceeds the limit ({limit} digits) for integer string conversion: value has \
                 {digits} digits"
            ),
            Reason::OutOfMemory { bytes } => {
                write!(f, "cannot allocate {bytes} bytes to decode a string")
            }
        }
    }
}

/// A syntax error at a byte offset of the parsed slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the slice given to [`Parser::new`].
    pub offset: usize,
    /// What is wrong there.
    pub reason: Reason,
}

type PResult<T> = Result<T, SyntaxError>;

/// Bytes that end the fast scan of a string: `"`, `\` and control characters.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Powers of ten that are exact doubles.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A cursor over one JSON text.
///
/// # Memory
/// Borrows the input; decodes escaped strings into `tmp` (a buffer the caller reuses).
/// Allocates nothing else.
pub struct Parser<'a, 't> {
    text: &'a str,
    buf: &'a [u8],
    pos: usize,
    tmp: &'t mut String,
    max_digits: usize,
}

impl<'a, 't> Parser<'a, 't> {
    /// A parser at the start of `text` (integers of up to [`MAX_INT_DIGITS`] digits).
    pub fn new(text: &'a str, tmp: &'t mut String) -> Self {
        Parser {
            text,
            buf: text.as_bytes(),
            pos: 0,
            tmp,
            max_digits: MAX_INT_DIGITS,
        }
    }

    /// Refuses integer literals of more than `digits` digits (`0`: no limit), as Python
    /// refuses them under `sys.set_int_max_str_digits(digits)`: converting a decimal
    /// integer costs time quadratic in its length.
    pub fn with_max_int_digits(mut self, digits: usize) -> Self {
        self.max_digits = digits;
        self
    }

    /// The text of the last string decoded with escapes ([`StrAt::Decoded`]).
    pub fn decoded(&self) -> &str {
        self.tmp
    }

    /// The text of a string located by [`Parser::string_at`].
    pub fn str_of(&self, at: StrAt) -> &str {
        match at {
            // Both ends sit next to an ASCII quote, so they are char boundaries.
            StrAt::Input(a, b) => self.text.get(a..b).unwrap_or(""),
            StrAt::Decoded => self.tmp,
        }
    }

    /// The current byte offset.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn err<T>(&self, reason: Reason) -> PResult<T> {
        Err(SyntaxError {
            offset: self.pos,
            reason,
        })
    }

    fn err_at<T>(&self, offset: usize, reason: Reason) -> PResult<T> {
        Err(SyntaxError { offset, reason })
    }

    /// Skips JSON whitespace and returns the next byte without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.buf.get(self.pos) {
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                self.pos += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    /// Consumes `c` (after whitespace) or fails with "expected `what`".
    #[inline]
    pub fn expect(&mut self, c: u8, what: &'static str) -> PResult<()> {
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => self.err(Reason::Expected(what)),
            None => self.err(Reason::UnexpectedEnd),
        }
    }

    /// After an item of an object or array: consumes a `,` (more items follow: `false`)
    /// or the closing `close` (`true`), or fails with "expected `what`".
    #[inline]
    pub fn closed_after_item(&mut self, close: u8, what: &'static str) -> PResult<bool> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(x) if x == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => self.err(Reason::Expected(what)),
            None => self.err(Reason::UnexpectedEnd),
        }
    }

    /// Fails unless only whitespace is left.
    pub fn finish(&mut self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.err(Reason::TrailingData),
        }
    }

    /// Parses one value and reports it to `v`.
    ///
    /// # Errors
    /// A [`SyntaxError`] at the first offending byte.
    pub fn value<V: Visitor>(&mut self, v: &mut V) -> PResult<()> {
        self.value_at(v, 0)
    }

    fn value_at<V: Visitor>(&mut self, v: &mut V, depth: usize) -> PResult<()> {
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_NESTING {
                    return self.err(Reason::TooDeep);
                }
                self.pos += 1;
                v.begin_object();
                let mut n = 0;
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.expect(b'"', "'\"' (an object key)")?;
                        let at = self.pos;
                        let k = self.string_at()?;
                        let key = self.str_of(k);
                        if key.len() >= LONG_STRING && !v.reserve(key.len()) {
                            let bytes = key.len();
                            return self.err_at(at, Reason::OutOfMemory { bytes });
                        }
                        v.key(key);
                        self.expect(b':', "':'")?;
                        self.value_at(v, depth + 1)?;
                        n += 1;
                        if self.closed_after_item(b'}', "',' or '}'")? {
                            break;
                        }
                    }
                }
                v.end_object(n);
                Ok(())
            }
            Some(b'[') => {
                if depth >= MAX_NESTING {
                    return self.err(Reason::TooDeep);
                }
                self.pos += 1;
                v.begin_array();
                let mut n = 0;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.value_at(v, depth + 1)?;
                        n += 1;
                        if self.closed_after_item(b']', "',' or ']'")? {
                            break;
                        }
                    }
                }
                v.end_array(n);
                Ok(())
            }
            Some(b'"') => {
                self.pos += 1;
                let start = self.pos;
                let at = self.string_at()?;
                let text = self.str_of(at);
                if text.len() >= LONG_STRING && !v.reserve(text.len()) {
                    let bytes = text.len();
                    return self.err_at(start, Reason::OutOfMemory { bytes });
                }
                v.scalar(Scalar::Str(text));
                Ok(())
            }
            Some(_) => {
                let s = self.scalar()?;
                v.scalar(s);
                Ok(())
            }
            None => self.err(Reason::UnexpectedEnd),
        }
    }

    /// Parses a number or a literal (`true`, `null`, `NaN`, ...). Strings are read with
    /// [`Parser::string_at`], containers with [`Parser::value`].
    ///
    /// # Errors
    /// A [`SyntaxError`] if no number or literal starts here.
    pub fn scalar(&mut self) -> PResult<Scalar<'a>> {
        match self.peek() {
            Some(b't') => self.literal(b"true", Scalar::Bool(true)),
            Some(b'f') => self.literal(b"false", Scalar::Bool(false)),
            Some(b'n') => self.literal(b"null", Scalar::Null),
            Some(b'N') => self.literal(b"NaN", Scalar::Float(f64::NAN)),
            Some(b'I') => self.literal(b"Infinity", Scalar::Float(f64::INFINITY)),
            Some(b'-') if self.buf.get(self.pos + 1) == Some(&b'I') => {
                self.pos += 1;
                let r = self.literal(b"Infinity", Scalar::Float(f64::NEG_INFINITY));
                if r.is_err() {
                    self.pos -= 1;
                }
                r
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => self.err(Reason::Expected("a value")),
            None => self.err(Reason::UnexpectedEnd),
        }
    }

    fn literal(&mut self, word: &[u8], s: Scalar<'a>) -> PResult<Scalar<'a>> {
        let end = self.pos + word.len();
        match self.buf.get(self.pos..end) {
            Some(w) if w == word => {
                self.pos = end;
                Ok(s)
            }
            Some(_) => self.err(Reason::Expected("a value")),
            None => {
                // A prefix of the word at the very end is a cut-off value.
                let rest = &self.buf[self.pos..];
                if word.starts_with(rest) {
                    self.err_at(self.buf.len(), Reason::UnexpectedEnd)
                } else {
                    self.err(Reason::Expected("a value"))
                }
            }
        }
    }

    fn number(&mut self) -> PResult<Scalar<'a>> {
        let b = self.buf;
        let start = self.pos;
        let mut i = start;
        let neg = b[i] == b'-';
        if neg {
            i += 1;
        }
        let int_start = i;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(c) if c.is_ascii_digit() => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            Some(_) => return self.err_at(i, Reason::BadNumber),
            None => return self.err_at(i, Reason::UnexpectedEnd),
        }
        let int_end = i;
        let mut is_float = false;
        let mut frac = (0, 0);
        if b.get(i) == Some(&b'.') {
            i += 1;
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return self.err_at(i, end_or(b, i, Reason::BadNumber));
            }
            is_float = true;
            frac = (d, i);
        }
        let mut has_exp = false;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            has_exp = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return self.err_at(i, end_or(b, i, Reason::BadNumber));
            }
            is_float = true;
        }
        self.pos = i;
        // ASCII by construction.
        let text = std::str::from_utf8(&b[start..i]).map_err(|_| SyntaxError {
            offset: start,
            reason: Reason::BadNumber,
        })?;
        if is_float {
            // Clinger's fast path: at most 15 significant digits and no exponent, so the
            // digits and the power of ten are exact doubles and one division rounds
            // correctly. (Everything else goes to the general parser.)
            let (fs, fe) = frac;
            let ndigits = (int_end - int_start) + (fe - fs);
            if !has_exp && ndigits <= 15 {
                let mut m: u64 = 0;
                for &d in b[int_start..int_end].iter().chain(&b[fs..fe]) {
                    m = m * 10 + u64::from(d - b'0');
                }
                let v = m as f64 / POW10[fe - fs];
                return Ok(Scalar::Float(if neg { -v } else { v }));
            }
            return match text.parse::<f64>() {
                Ok(f) => Ok(Scalar::Float(f)),
                Err(_) => self.err_at(start, Reason::BadNumber),
            };
        }
        let digits = &b[int_start..int_end];
        if self.max_digits != 0 && digits.len() > self.max_digits {
            return self.err_at(
                start,
                Reason::TooManyDigits {
                    limit: self.max_digits,
                    digits: digits.len(),
                },
            );
        }
        if digits.len() <= 18 {
            let mut v: i64 = 0;
            for &d in digits {
                v = v * 10 + i64::from(d - b'0');
            }
            return Ok(Scalar::Int(if neg { -v } else { v }));
        }
        match text.parse::<i64>() {
            Ok(v) => Ok(Scalar::Int(v)),
            Err(_) => Ok(Scalar::BigInt(text)),
        }
    }

    /// If the input continues with exactly `raw` and a closing quote (a string whose
    /// opening quote was consumed), takes it; `raw` must hold no `"`, `\\` or control
    /// characters. The fast path for keys that repeat from record to record.
    pub fn take_exact(&mut self, raw: &[u8]) -> Option<StrAt> {
        let start = self.pos;
        let end = start + raw.len();
        // A plain loop: keys are short, and a `memcmp` call costs more than comparing them.
        let same = self
            .buf
            .get(start..end)
            .is_some_and(|got| got.iter().zip(raw).all(|(x, y)| x == y));
        if same && self.buf.get(end) == Some(&b'"') {
            self.pos = end + 1;
            Some(StrAt::Input(start, end))
        } else {
            None
        }
    }

    /// Reads a string whose opening quote was consumed, through the closing quote.
    ///
    /// # Errors
    /// A [`SyntaxError`] for a malformed or unterminated string.
    pub fn string_at(&mut self) -> PResult<StrAt> {
        let b = self.buf;
        let start = self.pos;
        let mut i = start;
        loop {
            // Fast scan: eight bytes per step while none of them needs a look.
            while let Some(w) = b.get(i..i + 8) {
                if w.iter().any(|&c| STRING_STOP[c as usize]) {
                    break;
                }
                i += 8;
            }
            match b.get(i) {
                None => return self.err_at(b.len(), Reason::UnexpectedEnd),
                Some(b'"') => break,
                Some(b'\\') => return self.string_escaped(start, i),
                Some(&c) if c < 0x20 => return self.err_at(i, Reason::ControlChar),
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok(StrAt::Input(start, i))
    }

    /// The slow path: decodes escapes into `tmp`. `esc` is the first backslash.
    fn string_escaped(&mut self, start: usize, esc: usize) -> PResult<StrAt> {
        let b = self.buf;
        self.tmp.clear();
        self.push_decoded(self.text.get(start..esc).unwrap_or(""), start)?;
        let mut i = esc;
        loop {
            match b.get(i) {
                None => return self.err_at(b.len(), Reason::UnexpectedEnd),
                Some(b'"') => break,
                Some(&c) if c < 0x20 => return self.err_at(i, Reason::ControlChar),
                Some(b'\\') => {
                    let Some(&e) = b.get(i + 1) else {
                        return self.err_at(b.len(), Reason::UnexpectedEnd);
                    };
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return self.err_at(i, Reason::BadEscape),
                    };
                    if let Some(c) = simple {
                        self.push_decoded(char::from(c).encode_utf8(&mut [0; 4]), i)?;
                        i += 2;
                        continue;
                    }
                    let hi = hex4(b, i + 2).map_err(|r| SyntaxError {
                        offset: i,
                        reason: r,
                    })?;
                    i += 6;
                    let mut cp = u32::from(hi);
                    if (0xD800..0xDC00).contains(&hi) {
                        // A high surrogate pairs with a following low one.
                        if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u') {
                            let lo = hex4(b, i + 2).map_err(|r| SyntaxError {
                                offset: i,
                                reason: r,
                            })?;
                            if (0xDC00..0xE000).contains(&lo) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                                i += 6;
                            }
                        }
                    }
                    // A lone surrogate cannot be stored as UTF-8 (Python would keep it in
                    // a str, but such a str cannot be encoded either).
                    let Some(ch) = char::from_u32(cp) else {
                        return self.err_at(i - 6, Reason::LoneSurrogate(hi));
                    };
                    self.push_decoded(ch.encode_utf8(&mut [0; 4]), i - 6)?;
                }
                Some(_) => {
                    // Copy the run up to the next quote or backslash (whole characters:
                    // both stops are ASCII).
                    let mut j = i + 1;
                    while j < b.len() && !STRING_STOP[b[j] as usize] {
                        j += 1;
                    }
                    self.push_decoded(self.text.get(i..j).unwrap_or(""), i)?;
                    i = j;
                }
            }
        }
        self.pos = i + 1;
        Ok(StrAt::Decoded)
    }

    /// Appends `s` to the decode buffer, growing it with a fallible allocation: the
    /// string's length comes from the input, and memory that is not there must be an
    /// error naming the input (the caller's `MemoryError`), not an abort. `at` is the
    /// input offset the error names.
    fn push_decoded(&mut self, s: &str, at: usize) -> PResult<()> {
        if self.tmp.try_reserve(s.len()).is_err() {
            let bytes = self.tmp.len().saturating_add(s.len());
            return self.err_at(at, Reason::OutOfMemory { bytes });
        }
        self.tmp.push_str(s);
        Ok(())
    }

    /// Skips one value without decoding it (only checking that it is well formed).
    ///
    /// # Errors
    /// A [`SyntaxError`] if the value is malformed.
    pub fn skip_value(&mut self) -> PResult<()> {
        self.value(&mut Skip)
    }
}

fn end_or(b: &[u8], i: usize, r: Reason) -> Reason {
    if i >= b.len() {
        Reason::UnexpectedEnd
    } else {
        r
    }
}

fn hex4(b: &[u8], at: usize) -> Result<u16, Reason> {
    let Some(h) = b.get(at..at + 4) else {
        return Err(Reason::UnexpectedEnd);
    };
    let mut v: u16 = 0;
    for &c in h {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(Reason::BadEscape),
        };
        v = (v << 4) | u16::from(d);
    }
    Ok(v)
}

/// A visitor that ignores everything (used to skip unselected fields).
struct Skip;

impl Visitor for Skip {
    fn begin_object(&mut self) {}
    fn key(&mut self, _: &str) {}
    fn end_object(&mut self, _: usize) {}
    fn begin_array(&mut self) {}
    fn end_array(&mut self, _: usize) {}
    fn scalar(&mut self, _: Scalar<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Trace(Vec<String>);

    impl Visitor for Trace {
        fn begin_object(&mut self) {
            self.0.push("{".into());
        }
        fn key(&mut self, key: &str) {
            self.0.push(format!("k:{key}"));
        }
        fn end_object(&mut self, len: usize) {
            self.0.push(format!("}}{len}"));
        }
        fn begin_array(&mut self) {
            self.0.push("[".into());
        }
        fn end_array(&mut self, len: usize) {
            self.0.push(format!("]{len}"));
        }
        fn scalar(&mut self, value: Scalar<'_>) {
            self.0.push(format!("{value:?}"));
        }
    }

    fn trace(s: &str) -> Result<Vec<String>, SyntaxError> {
        let mut tmp = String::new();
        let mut p = Parser::new(s, &mut tmp);
        let mut t = Trace::default();
        p.value(&mut t)?;
        p.finish()?;
        Ok(t.0)
    }

    #[test]
    fn events_in_document_order() {
        let t =
            trace(r#" {"a": [1, -2.5e1, "x\u00e9\ud83d\ude42"], "b": {}, "c": null} "#).unwrap();
        assert_eq!(
            t,
            [
                "{",
                "k:a",
                "[",
                "Int(1)",
                "Float(-25.0)",
                "Str(\"xé🙂\")",
                "]3",
                "k:b",
                "{",
                "}0",
                "k:c",
                "Null",
                "}3"
            ]
        );
    }

    #[test]
    fn numbers_like_python() {
        assert_eq!(trace("-0").unwrap(), ["Int(0)"]);
        assert_eq!(trace("-0.0").unwrap(), ["Float(-0.0)"]);
        // The fast path agrees with the general parser.
        for t in [
            "0.1",
            "210.12",
            "-3.14159",
            "123456789.012345",
            "0.000000000000001",
            "9.99",
        ] {
            let want: f64 = t.parse().unwrap();
            assert_eq!(trace(t).unwrap(), [format!("Float({want:?})")], "{t}");
        }
        assert_eq!(
            trace("9223372036854775807").unwrap(),
            ["Int(9223372036854775807)"]
        );
        assert_eq!(
            trace("-9223372036854775808").unwrap(),
            ["Int(-9223372036854775808)"]
        );
        assert_eq!(
            trace("9223372036854775808").unwrap(),
            ["BigInt(\"9223372036854775808\")"]
        );
        assert_eq!(trace("1E400").unwrap(), ["Float(inf)"]);
        assert_eq!(trace("-Infinity").unwrap(), ["Float(-inf)"]);
        assert_eq!(trace("NaN").unwrap(), ["Float(NaN)"]);
    }

    #[test]
    fn errors_name_the_offset() {
        let e = trace(r#"{"a": 01}"#).unwrap_err();
        assert_eq!(e.reason, Reason::Expected("',' or '}'"));
        assert_eq!(e.offset, 7);
        let e = trace(r#"{"a": [1, 2"#).unwrap_err();
        assert_eq!(e.reason, Reason::UnexpectedEnd);
        let e = trace(r#"{"a": tru"#).unwrap_err();
        assert_eq!(e.reason, Reason::UnexpectedEnd);
        let e = trace(r#"{"a": "\x"}"#).unwrap_err();
        assert_eq!(e.reason, Reason::BadEscape);
        let e = trace("\"a\u{1}\"").unwrap_err();
        assert_eq!(e.reason, Reason::ControlChar);
        let e = trace(r#""\ud800""#).unwrap_err();
        assert_eq!(e.reason, Reason::LoneSurrogate(0xd800));
        let e = trace(r#""x\udc00\ud800""#).unwrap_err();
        assert_eq!((e.reason, e.offset), (Reason::LoneSurrogate(0xdc00), 2));
        let e = trace(r#""\ud800\u0041""#).unwrap_err();
        assert_eq!(e.reason, Reason::LoneSurrogate(0xd800));
        let text = e.reason.to_string();
        assert!(text.contains("\\ud800 is a lone surrogate"), "{text}");
        let e = trace("1 2").unwrap_err();
        assert_eq!(e.reason, Reason::TrailingData);
        let e = trace("1.").unwrap_err();
        assert_eq!(e.reason, Reason::UnexpectedEnd);
        let e = trace("1.e5").unwrap_err();
        assert_eq!(e.reason, Reason::BadNumber);
        let deep = "[".repeat(MAX_NESTING + 1);
        assert_eq!(trace(&deep).unwrap_err().reason, Reason::TooDeep);
    }

    #[test]
    fn nesting_stops_at_the_variant_encodings_limit() {
        assert_eq!(MAX_NESTING, 512);
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(trace(&nest(512)).is_ok());
        let e = trace(&nest(513)).unwrap_err();
        assert_eq!(e.reason, Reason::TooDeep);
        assert_eq!(e.offset, 512);
        assert_eq!(e.reason.to_string(), "nested deeper than 512 levels");
    }

    #[test]
    fn integer_digits_follow_the_limit_like_python() {
        let mut tmp = String::new();
        let at_limit = "7".repeat(MAX_INT_DIGITS);
        let mut p = Parser::new(&at_limit, &mut tmp);
        assert!(matches!(p.scalar(), Ok(Scalar::BigInt(_))));
        let over = format!("[1, -{}]", "7".repeat(MAX_INT_DIGITS + 1));
        let e = trace(&over).unwrap_err();
        assert_eq!(e.offset, 4);
        assert_eq!(
            e.reason.to_string(),
            "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 \
             digits"
        );
        // A custom limit, and none at all.
        let mut p = Parser::new("123456", &mut tmp).with_max_int_digits(5);
        assert!(matches!(
            p.scalar(),
            Err(SyntaxError {
                reason: Reason::TooManyDigits {
                    limit: 5,
                    digits: 6
                },
                ..
            })
        ));
        let mut p = Parser::new(&over[4..over.len() - 1], &mut tmp).with_max_int_digits(0);
        assert!(matches!(p.scalar(), Ok(Scalar::BigInt(_))));
        // Floats have no digit limit (as in Python).
        let f = format!("{}.5", "1".repeat(5000));
        assert!(matches!(trace(&f).unwrap()[0].as_str(), s if s.starts_with("Float(")));
    }
}
