//! Documents in the variant encoding's *document profile*: reading them without
//! decoding, validating them, and building them event by event.
//!
//! A document is one encoded value (see [`crate::variant`] for the tags). Scalars use
//! the plain variant tags; containers use the sized forms, whose body length lets a
//! reader skip them in O(1); dict keys, and short string values, are [`Sym`]s of an
//! [`Interner`] owned next to the documents.

use crate::error::{DocError, Result};
use crate::interner::{Interner, Sym};
use crate::text::{TextBlocks, TextRef};
use crate::variant::{
    DecodeError, Failure, Invalid, MAX_DEPTH, Reader, Writer, minimal_len, tag, unzigzag,
    varint_into,
};

/// One value of a document, read in place. Containers are lazy: they hold their
/// encoded body and are read on demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'a> {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A larger integer: minimal two's-complement little-endian bytes.
    BigInt(&'a [u8]),
    /// `float`, bit-exact.
    Float(f64),
    /// A string stored in place.
    Str(&'a str),
    /// An interned string: resolve it with the document's [`Interner`].
    Sym(Sym),
    /// A long string in the document's compressed text blocks: read it with
    /// [`DocStore::with_text`](crate::DocStore::with_text).
    Text(TextRef),
    /// `bytes`.
    Bytes(&'a [u8]),
    /// `list`.
    List(Seq<'a>),
    /// `tuple`.
    Tuple(Seq<'a>),
    /// `dict` with string keys, in insertion order.
    Dict(Map<'a>),
}

/// The elements of a list or tuple, read lazily.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seq<'a> {
    body: &'a [u8],
    start: usize,
    count: usize,
}

/// The pairs of a dict, read lazily.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Map<'a> {
    body: &'a [u8],
    start: usize,
    count: usize,
}

fn corrupt(offset: usize, reason: &'static str) -> DocError {
    DocError::Corrupt(DecodeError::Malformed { offset, reason })
}

/// Reads the value starting at byte `pos` of `doc`; returns it and the position just
/// past it. Positions are absolute within `doc`, so a child position can be stored and
/// read again later with this same function.
///
/// # Errors
/// [`DocError::Corrupt`] if the bytes there are not a value of the document profile.
#[inline]
pub fn read_node(doc: &[u8], pos: usize) -> Result<(Node<'_>, usize)> {
    let mut r = Reader { bytes: doc, pos };
    let t = r.byte()?;
    let node = match t {
        tag::NONE => Node::None,
        tag::FALSE => Node::Bool(false),
        tag::TRUE => Node::Bool(true),
        tag::INT => Node::Int(unzigzag(r.varint()?)),
        tag::BIG_INT => {
            let n = r.length()?;
            Node::BigInt(r.take(n)?)
        }
        tag::FLOAT => Node::Float(f64::from_bits(u64::from_le_bytes(r.take_array()?))),
        tag::STR => {
            let n = r.length()?;
            let start = r.pos;
            let b = r.take(n)?;
            Node::Str(
                std::str::from_utf8(b).map_err(|e| DecodeError::InvalidUtf8 {
                    offset: start + e.valid_up_to(),
                })?,
            )
        }
        tag::SYM => {
            let at = r.pos;
            let v = r.varint()?;
            Node::Sym(Sym(
                u32::try_from(v).map_err(|_| DocError::UnknownSymbol { sym: v, offset: at })?
            ))
        }
        tag::BYTES => {
            let n = r.length()?;
            Node::Bytes(r.take(n)?)
        }
        tag::TEXT => Node::Text(TextRef {
            block: r.varint()?,
            offset: r.varint()?,
            len: r.varint()?,
        }),
        tag::SIZED_LIST | tag::SIZED_TUPLE | tag::SYM_DICT => {
            let count = r.length()?;
            let len = r.length()?;
            let start = r.pos;
            r.take(len)?;
            let body = &doc[..start + len];
            match t {
                tag::SIZED_LIST => Node::List(Seq { body, start, count }),
                tag::SIZED_TUPLE => Node::Tuple(Seq { body, start, count }),
                _ => Node::Dict(Map { body, start, count }),
            }
        }
        other => {
            return Err(DecodeError::UnknownTag {
                tag: other,
                offset: pos,
            }
            .into());
        }
    };
    Ok((node, r.pos))
}

/// A whole value as a [`Value`](crate::variant::Value) tree, symbols and long strings
/// resolved with `store` (a deep copy: for tests, and for Rust users who want plain
/// values).
///
/// # Errors
/// [`DocError::Corrupt`] for malformed bytes or text references,
/// [`DocError::UnknownSymbol`] for a symbol the store does not have.
pub fn to_value(node: Node<'_>, store: &crate::DocStore) -> Result<crate::variant::Value> {
    value_of(node, &store.symbols(), store)
}

fn value_of(
    node: Node<'_>,
    symbols: &Interner,
    store: &crate::DocStore,
) -> Result<crate::variant::Value> {
    use crate::variant::Value;
    let text = |s: Sym| {
        symbols
            .resolve(s)
            .map(str::to_owned)
            .ok_or(DocError::UnknownSymbol {
                sym: u64::from(s.0),
                offset: 0,
            })
    };
    let items = |s: Seq<'_>| {
        s.iter()
            .map(|r| value_of(r?.0, symbols, store))
            .collect::<Result<Vec<_>>>()
    };
    Ok(match node {
        Node::None => Value::None,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Int(i),
        Node::BigInt(b) => Value::BigInt(b.to_vec()),
        Node::Float(f) => Value::Float(f),
        Node::Str(s) => Value::Str(s.to_owned()),
        Node::Sym(s) => Value::Str(text(s)?),
        Node::Text(t) => Value::Str(store.with_text(t, str::to_owned)?),
        Node::Bytes(b) => Value::Bytes(b.to_vec()),
        Node::List(s) => Value::List(items(s)?),
        Node::Tuple(s) => Value::Tuple(items(s)?),
        Node::Dict(m) => Value::Dict(
            m.iter()
                .map(|r| {
                    let (k, v, _) = r?;
                    Ok((Value::Str(text(k)?), value_of(v, symbols, store)?))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    })
}

/// The position just past the value at `pos`, without reading strings or containers.
#[inline]
fn skip(doc: &[u8], pos: usize) -> Result<usize> {
    let mut r = Reader { bytes: doc, pos };
    match r.byte()? {
        tag::NONE | tag::FALSE | tag::TRUE => {}
        tag::INT | tag::SYM => {
            r.varint()?;
        }
        tag::FLOAT => {
            r.take(8)?;
        }
        tag::BIG_INT | tag::STR | tag::BYTES => {
            let n = r.length()?;
            r.take(n)?;
        }
        tag::TEXT => {
            r.varint()?;
            r.varint()?;
            r.varint()?;
        }
        tag::SIZED_LIST | tag::SIZED_TUPLE | tag::SYM_DICT => {
            r.length()?;
            let n = r.length()?;
            r.take(n)?;
        }
        other => {
            return Err(DecodeError::UnknownTag {
                tag: other,
                offset: pos,
            }
            .into());
        }
    }
    Ok(r.pos)
}

impl<'a> Seq<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements with their positions, in order.
    pub fn iter(&self) -> SeqIter<'a> {
        SeqIter {
            body: self.body,
            pos: self.start,
            left: self.count,
        }
    }

    /// Element `i` and its position (skips the `i` elements before it).
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if the body is malformed.
    pub fn get(&self, i: usize) -> Result<Option<(Node<'a>, usize)>> {
        if i >= self.count {
            return Ok(None);
        }
        let mut pos = self.start;
        for _ in 0..i {
            pos = skip(self.body, pos)?;
        }
        Ok(Some((read_node(self.body, pos)?.0, pos)))
    }
}

/// Iterator over a [`Seq`]: `(element, position)`.
#[derive(Debug, Clone)]
pub struct SeqIter<'a> {
    body: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for SeqIter<'a> {
    type Item = Result<(Node<'a>, usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let at = self.pos;
        Some(read_node(self.body, at).map(|(n, end)| {
            self.pos = end;
            (n, at)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl<'a> Map<'a> {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The value under `key` and its position: one pass over the keys, each value
    /// skipped in O(1).
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if the body is malformed.
    #[inline]
    pub fn get(&self, key: Sym) -> Result<Option<(Node<'a>, usize)>> {
        let mut pos = self.start;
        let want = u64::from(key.0);
        for _ in 0..self.count {
            let mut r = Reader {
                bytes: self.body,
                pos,
            };
            let k = r.varint()?;
            if k == want {
                return Ok(Some((read_node(self.body, r.pos)?.0, r.pos)));
            }
            pos = skip(self.body, r.pos)?;
        }
        Ok(None)
    }

    /// The pairs in insertion order: `(key, value, value position)`.
    pub fn iter(&self) -> MapIter<'a> {
        MapIter {
            body: self.body,
            pos: self.start,
            left: self.count,
        }
    }
}

/// Iterator over a [`Map`]: `(key, value, value position)`.
#[derive(Debug, Clone)]
pub struct MapIter<'a> {
    body: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for MapIter<'a> {
    type Item = Result<(Sym, Node<'a>, usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut r = Reader {
            bytes: self.body,
            pos: self.pos,
        };
        let step = (|| {
            let at = r.pos;
            let k = r.varint()?;
            let k = u32::try_from(k).map_err(|_| DocError::UnknownSymbol { sym: k, offset: at })?;
            let (n, end) = read_node(self.body, r.pos)?;
            Ok((Sym(k), n, r.pos, end))
        })();
        Some(step.map(|(k, n, at, end)| {
            self.pos = end;
            (k, n, at)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Checks that `doc` is exactly one canonical value of the document profile whose
/// symbols are all below `symbols` and whose long strings lie inside `text`.
///
/// # Errors
/// [`DocError::Corrupt`], [`DocError::UnknownSymbol`] or [`DocError::TooDeep`].
pub fn validate(doc: &[u8], symbols: usize, text: &TextBlocks) -> Result<()> {
    validate_collecting(doc, symbols, text, &mut Vec::new())
}

/// [`validate`], appending the document's text references to `texts` (in document
/// order): what a reader that must also check the referenced text needs, without a
/// second walk over the document.
///
/// A first pass only answers yes or no ([`Invalid`] keeps every result in registers:
/// loading a pickled list is mostly this pass); a document it rejects is walked again to
/// say what is wrong and where. Both passes are the one [`validate_at`].
pub(crate) fn validate_collecting(
    doc: &[u8],
    symbols: usize,
    text: &TextBlocks,
    texts: &mut Vec<TextRef>,
) -> Result<()> {
    let limits = Limits { symbols, text };
    let had = texts.len();
    if validate_whole::<Invalid>(doc, &limits, texts).is_ok() {
        return Ok(());
    }
    texts.truncate(had);
    validate_whole::<DocError>(doc, &limits, texts)
}

fn validate_whole<E: Verdict>(
    doc: &[u8],
    limits: &Limits<'_>,
    texts: &mut Vec<TextRef>,
) -> std::result::Result<(), E> {
    let mut r = Reader { bytes: doc, pos: 0 };
    validate_at::<E>(&mut r, limits, 0, texts)?;
    if r.pos != doc.len() {
        return Err(E::doc(|| {
            DecodeError::TrailingBytes {
                extra: doc.len() - r.pos,
            }
            .into()
        }));
    }
    Ok(())
}

/// How [`validate_at`] fails: with a [`DocError`], or as a bare [`Invalid`].
trait Verdict: Failure {
    fn doc(detail: impl FnOnce() -> DocError) -> Self;
}

impl Failure for DocError {
    #[inline]
    fn of(detail: impl FnOnce() -> DecodeError) -> Self {
        DocError::Corrupt(detail())
    }
}

impl Verdict for DocError {
    #[inline]
    fn doc(detail: impl FnOnce() -> DocError) -> Self {
        detail()
    }
}

impl Verdict for Invalid {
    #[inline(always)]
    fn doc(_: impl FnOnce() -> DocError) -> Self {
        Invalid
    }
}

/// Checks the symbol at `r` (below `symbols`) and returns it.
#[inline(always)]
fn check_sym<E: Verdict>(r: &mut Reader<'_>, symbols: usize) -> std::result::Result<u64, E> {
    let at = r.pos;
    let v = r.varint_or::<E>()?;
    if v >= symbols as u64 {
        return Err(E::doc(|| DocError::UnknownSymbol { sym: v, offset: at }));
    }
    Ok(v)
}

/// The keys of the dict whose pairs (valid) run from `start` to the end of `body`.
#[cold]
#[inline(never)]
fn dict_keys(body: &[u8], start: usize, count: usize) -> Vec<u64> {
    let mut keys = Vec::with_capacity(count);
    let mut pos = start;
    while pos < body.len() {
        let mut r = Reader { bytes: body, pos };
        let (Ok(k), Ok(end)) = (r.varint(), skip(body, r.pos)) else {
            break;
        };
        keys.push(k);
        pos = end;
    }
    keys
}

/// Whether `keys` (reordered) holds a key twice. Keys within 4,096 of each other (the
/// usual case: symbols are numbered as first seen) are marked in a bitmap, others
/// sorted.
#[inline(never)]
fn repeats_a_key(keys: &mut [u64]) -> bool {
    let (lo, hi) = keys
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    if hi.saturating_sub(lo) < 64 * 64 {
        let mut bits = [0u64; 64];
        for &k in keys.iter() {
            let d = k - lo;
            let (w, b) = (d as usize >> 6 & 63, 1u64 << (d & 63));
            if bits[w] & b != 0 {
                return true;
            }
            bits[w] |= b;
        }
        return false;
    }
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// What a document's references must stay within.
struct Limits<'t> {
    symbols: usize,
    text: &'t TextBlocks,
}

/// Checks the value at `r`'s position (`r` reads up to the end of the innermost
/// container around it) and moves `r` past it.
#[inline(always)]
fn validate_at<E: Verdict>(
    r: &mut Reader<'_>,
    limits: &Limits<'_>,
    depth: usize,
    texts: &mut Vec<TextRef>,
) -> std::result::Result<(), E> {
    let pos = r.pos;
    let bad = |reason| E::doc(|| corrupt(pos, reason));
    match r.byte_or::<E>()? {
        tag::NONE | tag::FALSE | tag::TRUE => {}
        tag::INT => {
            r.varint_or::<E>()?;
        }
        tag::FLOAT => {
            r.take_or::<E>(8)?;
        }
        tag::SYM => {
            check_sym::<E>(r, limits.symbols)?;
        }
        tag::STR => {
            let n = r.length_or::<E>()?;
            let start = r.pos;
            if let Err(e) = std::str::from_utf8(r.take_or::<E>(n)?) {
                return Err(E::of(|| DecodeError::InvalidUtf8 {
                    offset: start + e.valid_up_to(),
                }));
            }
        }
        tag::BIG_INT => {
            let n = r.length_or::<E>()?;
            let b = r.take_or::<E>(n)?;
            if n <= 8 || minimal_len(b) != n {
                return Err(bad("big integer not in canonical form"));
            }
        }
        tag::BYTES => {
            let n = r.length_or::<E>()?;
            r.take_or::<E>(n)?;
        }
        tag::TEXT => {
            let t = TextRef {
                block: r.varint_or::<E>()?,
                offset: r.varint_or::<E>()?,
                len: r.varint_or::<E>()?,
            };
            if !limits.text.contains(t) {
                return Err(bad("text reference outside the text blocks"));
            }
            texts.push(t);
        }
        t @ (tag::SIZED_LIST | tag::SIZED_TUPLE | tag::SYM_DICT) => {
            r.pos = validate_container::<E>(r.bytes, pos, t, r.pos, limits, depth, texts)?;
        }
        other => {
            return Err(E::of(|| DecodeError::UnknownTag {
                tag: other,
                offset: pos,
            }));
        }
    }
    Ok(())
}

/// [`validate_at`] for a container whose tag `t` is at `pos` of `doc` (its header from
/// `from`): its elements are checked in one loop, a scalar without a call. The position
/// just past it.
#[inline(never)]
fn validate_container<E: Verdict>(
    doc: &[u8],
    pos: usize,
    t: u8,
    from: usize,
    limits: &Limits<'_>,
    depth: usize,
    texts: &mut Vec<TextRef>,
) -> std::result::Result<usize, E> {
    let bad = |reason| E::doc(|| corrupt(pos, reason));
    if depth >= MAX_DEPTH {
        return Err(E::doc(|| DocError::TooDeep { limit: MAX_DEPTH }));
    }
    let mut r = Reader {
        bytes: doc,
        pos: from,
    };
    let count = r.length_or::<E>()?;
    let len = r.length_or::<E>()?;
    let start = r.pos;
    r.take_or::<E>(len)?;
    let end = r.pos;
    let mut body = Reader {
        bytes: &doc[..end],
        pos: start,
    };
    // A dict's keys must be distinct (a reader finds the first, a dict view the last).
    // Keys that differ in their last 6 bits are (the symbols of one dict, numbered as
    // first seen, are mostly near each other); the keys of any other dict are read
    // again and compared, once the dict is known valid. A dict of more than 64 keys
    // keeps its keys as it reads them instead.
    if t == tag::SYM_DICT && count > 64 {
        return validate_wide_dict::<E>(body, count, limits, depth, texts, pos);
    }
    let mut seen = 0u64;
    for _ in 0..count {
        if body.pos >= end {
            return Err(bad("container count exceeds its body"));
        }
        if t == tag::SYM_DICT {
            seen |= 1u64 << (check_sym::<E>(&mut body, limits.symbols)? & 63);
        }
        validate_at::<E>(&mut body, limits, depth + 1, texts)?;
    }
    if body.pos != end {
        return Err(bad("container body longer than its elements"));
    }
    let clash = t == tag::SYM_DICT && (seen.count_ones() as usize) < count;
    if clash && repeats_a_key(&mut dict_keys(&doc[..end], start, count)) {
        return Err(bad("a dict holds the same key twice"));
    }
    Ok(end)
}

/// [`validate_container`] for a dict of `count` (more than 64) pairs, its body read by
/// `body`, its tag at `pos`.
#[cold]
#[inline(never)]
fn validate_wide_dict<E: Verdict>(
    mut body: Reader<'_>,
    count: usize,
    limits: &Limits<'_>,
    depth: usize,
    texts: &mut Vec<TextRef>,
    pos: usize,
) -> std::result::Result<usize, E> {
    let bad = |reason| E::doc(|| corrupt(pos, reason));
    let end = body.bytes.len();
    let mut keys = Vec::with_capacity(count.min(end - body.pos));
    for _ in 0..count {
        if body.pos >= end {
            return Err(bad("container count exceeds its body"));
        }
        keys.push(check_sym::<E>(&mut body, limits.symbols)?);
        validate_at::<E>(&mut body, limits, depth + 1, texts)?;
    }
    if body.pos != end {
        return Err(bad("container body longer than its elements"));
    }
    if repeats_a_key(&mut keys) {
        return Err(bad("a dict holds the same key twice"));
    }
    Ok(end)
}

/// What kind of container is open in a [`DocBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    List,
    Tuple,
    /// A dict; `true` while the next item must be a key.
    Dict(bool),
}

#[derive(Debug)]
struct Frame {
    kind: Open,
    /// Position of the container's tag byte.
    at: usize,
    count: usize,
    /// Where this dict's keys start in the builder's key stack.
    keys_from: usize,
}

/// Builds documents event by event (push style): `begin_map`, `key`, scalar values,
/// `begin_list`, `end`, ... then `end_doc`. Used by the Python bindings to encode
/// Python objects and by JSON readers to encode parse events, without building a tree.
///
/// Keys are interned; string values up to the builder's interning limit are interned
/// too. Misuse (a value where a key belongs, `end` with nothing open, ...) is an error,
/// never a panic.
///
/// ```
/// use memslim_arena::{DocList, Node};
///
/// let mut docs = DocList::new();
/// docs.build(|b| {
///     b.begin_map()?;
///     b.key("user")?;
///     b.str("ada")?;
///     b.key("tags")?;
///     b.begin_list()?;
///     b.int(1)?;
///     b.end()?;
///     b.end()?;
///     b.end_doc()
/// })?;
/// assert_eq!(docs.len(), 1);
/// # Ok::<(), memslim_arena::DocError>(())
/// ```
#[derive(Debug)]
pub struct DocBuilder<'a> {
    symbols: &'a mut Interner,
    text: &'a mut TextBlocks,
    out: &'a mut Vec<u8>,
    ends: &'a mut Vec<usize>,
    stack: Vec<Frame>,
    /// The symbols of the keys of the open dicts, innermost last (for `end_dedup`).
    keys: Vec<u32>,
    doc_start: usize,
    root_done: bool,
    intern_max: usize,
    text_min: usize,
}

impl<'a> DocBuilder<'a> {
    /// A builder appending documents to `out` (recording where each ends in `ends`),
    /// interning with `symbols`; strings of up to `intern_max` bytes are interned,
    /// strings of at least `text_min` bytes (and longer than `intern_max`) go to `text`,
    /// the rest are stored in place.
    pub fn new(
        symbols: &'a mut Interner,
        text: &'a mut TextBlocks,
        out: &'a mut Vec<u8>,
        ends: &'a mut Vec<usize>,
        intern_max: usize,
        text_min: usize,
    ) -> Self {
        let doc_start = out.len();
        DocBuilder {
            symbols,
            text,
            out,
            ends,
            stack: Vec::new(),
            keys: Vec::new(),
            doc_start,
            root_done: false,
            intern_max,
            text_min,
        }
    }

    /// Current nesting depth (open containers).
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    #[inline]
    fn before_value(&mut self) -> Result<()> {
        match self.stack.last() {
            Some(Frame {
                kind: Open::Dict(true),
                ..
            }) => Err(DocError::Build("a value where a dict key was expected")),
            Some(_) => Ok(()),
            None if self.root_done => Err(DocError::Build(
                "a second value in one document (call end_doc first)",
            )),
            None => Ok(()),
        }
    }

    #[inline]
    fn after_value(&mut self) {
        match self.stack.last_mut() {
            Some(f) => {
                f.count += 1;
                if let Open::Dict(want_key) = &mut f.kind {
                    *want_key = true;
                }
            }
            None => self.root_done = true,
        }
    }

    /// Writes `None`.
    ///
    /// # Errors
    /// [`DocError::Build`] if a key is expected or the document is complete.
    pub fn none(&mut self) -> Result<()> {
        self.before_value()?;
        Writer::new(self.out).none();
        self.after_value();
        Ok(())
    }

    /// Writes a `bool`. Errors as [`none`](DocBuilder::none).
    pub fn bool(&mut self, v: bool) -> Result<()> {
        self.before_value()?;
        Writer::new(self.out).bool(v);
        self.after_value();
        Ok(())
    }

    /// Writes an integer. Errors as [`none`](DocBuilder::none).
    pub fn int(&mut self, v: i64) -> Result<()> {
        self.before_value()?;
        Writer::new(self.out).int(v);
        self.after_value();
        Ok(())
    }

    /// Writes an integer of any size given as two's-complement little-endian bytes.
    /// Errors as [`none`](DocBuilder::none).
    pub fn big_int(&mut self, le_twos_complement: &[u8]) -> Result<()> {
        self.before_value()?;
        Writer::new(self.out).big_int(le_twos_complement);
        self.after_value();
        Ok(())
    }

    /// Writes a `float`, bit-exact. Errors as [`none`](DocBuilder::none).
    pub fn float(&mut self, v: f64) -> Result<()> {
        self.before_value()?;
        Writer::new(self.out).float(v);
        self.after_value();
        Ok(())
    }

    /// Writes a string (interned if short). Errors as [`none`](DocBuilder::none),
    /// [`DocError::InternerFull`], or [`DocError::OutOfMemory`] when the memory to hold a
    /// long string cannot be had (asked for with a fallible reservation: no abort).
    pub fn str(&mut self, v: &str) -> Result<()> {
        self.before_value()?;
        if v.len() <= self.intern_max {
            let sym = self.symbols.intern(v)?;
            self.out.push(tag::SYM);
            crate::variant::put_varint(self.out, u64::from(sym.0));
        } else if v.len() >= self.text_min {
            let t = self.text.push(v)?;
            self.out.push(tag::TEXT);
            crate::variant::put_varint(self.out, t.block);
            crate::variant::put_varint(self.out, t.offset);
            crate::variant::put_varint(self.out, t.len);
        } else {
            self.room_for(v.len())?;
            Writer::new(self.out).str(v);
        }
        self.after_value();
        Ok(())
    }

    /// Room in the document buffer for a value of `len` bytes, asked for with a
    /// fallible reservation (the length comes from the input).
    fn room_for(&mut self, len: usize) -> Result<()> {
        // The tag and the length's varint.
        let need = len.saturating_add(16);
        self.out
            .try_reserve(need)
            .map_err(|_| DocError::OutOfMemory {
                what: "a document's value",
                bytes: self.out.len().saturating_add(need),
            })
    }

    /// Writes `bytes`. Errors as [`none`](DocBuilder::none).
    pub fn bytes(&mut self, v: &[u8]) -> Result<()> {
        self.before_value()?;
        self.room_for(v.len())?;
        Writer::new(self.out).bytes(v);
        self.after_value();
        Ok(())
    }

    fn begin(&mut self, kind: Open, t: u8) -> Result<()> {
        self.before_value()?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(DocError::TooDeep { limit: MAX_DEPTH });
        }
        self.stack.push(Frame {
            kind,
            at: self.out.len(),
            count: 0,
            keys_from: self.keys.len(),
        });
        self.out.push(t);
        Ok(())
    }

    /// Opens a list; its elements follow, then [`end`](DocBuilder::end).
    ///
    /// # Errors
    /// As [`none`](DocBuilder::none), or [`DocError::TooDeep`].
    pub fn begin_list(&mut self) -> Result<()> {
        self.begin(Open::List, tag::SIZED_LIST)
    }

    /// Opens a tuple. Errors as [`begin_list`](DocBuilder::begin_list).
    pub fn begin_tuple(&mut self) -> Result<()> {
        self.begin(Open::Tuple, tag::SIZED_TUPLE)
    }

    /// Opens a dict: `key`, value, `key`, value, ..., then [`end`](DocBuilder::end).
    /// Errors as [`begin_list`](DocBuilder::begin_list).
    pub fn begin_map(&mut self) -> Result<()> {
        self.begin(Open::Dict(true), tag::SYM_DICT)
    }

    /// Writes the next key of the open dict.
    ///
    /// # Errors
    /// [`DocError::Build`] unless a dict is open and expects a key;
    /// [`DocError::InternerFull`].
    pub fn key(&mut self, k: &str) -> Result<()> {
        match self.stack.last_mut() {
            Some(Frame {
                kind: Open::Dict(want_key @ true),
                ..
            }) => *want_key = false,
            _ => {
                return Err(DocError::Build(
                    "a key outside a dict or in place of a value",
                ));
            }
        }
        let sym = self.symbols.intern(k)?;
        crate::variant::put_varint(self.out, u64::from(sym.0));
        self.keys.push(sym.0);
        Ok(())
    }

    /// Closes the innermost open container.
    ///
    /// # Errors
    /// [`DocError::Build`] if nothing is open or a dict key has no value.
    pub fn end(&mut self) -> Result<()> {
        self.close(false)
    }

    /// Closes the innermost open container; a dict that got a key twice keeps the key
    /// at its first position with its last value, as `json.loads` and `dict` do (a
    /// parser of JSON text cannot rule repeats out, a Python dict can).
    ///
    /// # Errors
    /// As [`end`](DocBuilder::end).
    pub fn end_dedup(&mut self) -> Result<()> {
        self.close(true)
    }

    fn close(&mut self, dedup: bool) -> Result<()> {
        match self.stack.last() {
            None => return Err(DocError::Build("end with no open container")),
            Some(Frame {
                kind: Open::Dict(false),
                ..
            }) => return Err(DocError::Build("a dict key without a value")),
            Some(_) => {}
        }
        let Some(mut f) = self.stack.pop() else {
            return Err(DocError::Build("end with no open container"));
        };
        if dedup && f.count > 1 && has_repeats(&self.keys[f.keys_from..]) {
            f.count = self.merge_repeats(f.at + 1)?;
        }
        self.keys.truncate(f.keys_from);
        let body = self.out.len() - (f.at + 1);
        // count and body length, two varints of at most 10 bytes each
        let mut header = [0u8; 20];
        let n = varint_into(f.count as u64, &mut header);
        let n = n + varint_into(body as u64, &mut header[n..]);
        self.out
            .splice(f.at + 1..f.at + 1, header[..n].iter().copied());
        self.after_value();
        Ok(())
    }

    /// Rewrites the dict body starting at `from` (to the end of the output) with each
    /// key once, at its first position, holding its last value; returns the pair count.
    fn merge_repeats(&mut self, from: usize) -> Result<usize> {
        let mut pairs: Vec<(u64, usize, usize, usize)> = Vec::new();
        let mut pos = from;
        while pos < self.out.len() {
            let mut r = Reader {
                bytes: self.out,
                pos,
            };
            let k = r.varint()?;
            let end = skip(self.out, r.pos)?;
            pairs.push((k, pos, r.pos, end));
            pos = end;
        }
        let mut body = Vec::with_capacity(self.out.len() - from);
        let mut count = 0;
        for (i, &(k, key_at, _, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|p| p.0 == k) {
                continue;
            }
            let Some(&(_, _, a, b)) = pairs.iter().rev().find(|p| p.0 == k) else {
                continue;
            };
            body.extend_from_slice(&self.out[key_at..pairs[i].2]);
            body.extend_from_slice(&self.out[a..b]);
            count += 1;
        }
        self.out.truncate(from);
        self.out.extend_from_slice(&body);
        Ok(count)
    }

    /// Writes the whole value `v` (each scalar and container through the calls above).
    ///
    /// # Errors
    /// [`DocError::Build`] for a dict key that is not a string or for a value documents
    /// do not hold (an opaque host object, an extension value); else as the calls
    /// above. The document is then unfinished: end it with
    /// [`abandon_doc`](DocBuilder::abandon_doc).
    pub fn value(&mut self, v: &crate::variant::Value) -> Result<()> {
        use crate::variant::Value;
        match v {
            Value::None => self.none(),
            Value::Bool(x) => self.bool(*x),
            Value::Int(i) => self.int(*i),
            Value::BigInt(le) => self.big_int(le),
            Value::Float(f) => self.float(*f),
            Value::Str(s) => self.str(s),
            Value::Bytes(x) => self.bytes(x),
            Value::List(items) | Value::Tuple(items) => {
                if matches!(v, Value::List(_)) {
                    self.begin_list()?;
                } else {
                    self.begin_tuple()?;
                }
                items.iter().try_for_each(|it| self.value(it))?;
                self.end()
            }
            Value::Dict(pairs) => {
                self.begin_map()?;
                for (k, x) in pairs {
                    let Value::Str(k) = k else {
                        return Err(DocError::Build("a document's dict keys are strings"));
                    };
                    self.key(k)?;
                    self.value(x)?;
                }
                self.end()
            }
            Value::Opaque(_) | Value::Ext(_) => Err(DocError::Build(
                "documents hold no opaque or extension values",
            )),
        }
    }

    /// Completes the current document.
    ///
    /// # Errors
    /// [`DocError::Build`] if a container is still open or no value was written.
    pub fn end_doc(&mut self) -> Result<()> {
        if !self.stack.is_empty() {
            return Err(DocError::Build("end_doc with a container still open"));
        }
        if !self.root_done {
            return Err(DocError::Build("end_doc before any value"));
        }
        self.ends.push(self.out.len());
        self.doc_start = self.out.len();
        self.root_done = false;
        Ok(())
    }

    /// Discards the document in progress (after a caller's error part-way through it).
    pub fn abandon_doc(&mut self) {
        self.out.truncate(self.doc_start);
        self.stack.clear();
        self.keys.clear();
        self.root_done = false;
    }

    /// Whether no document is in progress.
    pub fn is_idle(&self) -> bool {
        self.stack.is_empty() && !self.root_done
    }
}

/// Whether a key symbol occurs twice (dicts are usually small: compare pairwise, and
/// sort a copy only for large ones).
fn has_repeats(keys: &[u32]) -> bool {
    if keys.len() <= 32 {
        return keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k));
    }
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Value;

    fn build(f: impl FnOnce(&mut DocBuilder<'_>) -> Result<()>) -> (Interner, Vec<u8>) {
        let mut syms = Interner::new();
        let mut out = Vec::new();
        let mut ends = Vec::new();
        let mut text = TextBlocks::new();
        let mut b = DocBuilder::new(&mut syms, &mut text, &mut out, &mut ends, 8, usize::MAX);
        f(&mut b).unwrap();
        b.end_doc().unwrap();
        assert_eq!(ends, vec![out.len()]);
        (syms, out)
    }

    #[test]
    fn lookup_skips_nested_values() {
        let (syms, doc) = build(|b| {
            b.begin_map()?;
            b.key("a")?;
            b.begin_map()?;
            b.key("x")?;
            b.begin_list()?;
            for i in 0..300 {
                b.int(i)?;
            }
            b.end()?;
            b.end()?;
            b.key("b")?;
            b.str("a long string, not interned")?;
            b.key("c")?;
            b.str("short")?;
            b.key("d")?;
            b.begin_tuple()?;
            b.end()?;
            b.end()
        });
        validate(&doc, syms.len(), &TextBlocks::new()).unwrap();
        let (Node::Dict(m), end) = read_node(&doc, 0).unwrap() else {
            panic!("not a dict")
        };
        assert_eq!(end, doc.len());
        assert_eq!(m.len(), 4);
        let sym = |s| syms.lookup(s).unwrap();
        assert_eq!(
            m.get(sym("b")).unwrap().unwrap().0,
            Node::Str("a long string, not interned")
        );
        assert_eq!(m.get(sym("c")).unwrap().unwrap().0, Node::Sym(sym("short")));
        let Node::Tuple(t) = m.get(sym("d")).unwrap().unwrap().0 else {
            panic!()
        };
        assert!(t.is_empty());
        let Some((Node::Dict(inner), pos)) = m.get(sym("a")).unwrap() else {
            panic!()
        };
        assert_eq!(read_node(&doc, pos).unwrap().0, Node::Dict(inner));
        let Node::List(l) = inner.get(sym("x")).unwrap().unwrap().0 else {
            panic!()
        };
        assert_eq!(l.len(), 300);
        assert_eq!(l.get(299).unwrap().unwrap().0, Node::Int(299));
        assert_eq!(l.get(300).unwrap(), None);
        let all: Vec<_> = l.iter().map(|r| r.unwrap().0).collect();
        assert_eq!(all[150], Node::Int(150));
        let keys: Vec<_> = m
            .iter()
            .map(|r| syms.resolve(r.unwrap().0).unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        assert_eq!(m.get(sym("x")).unwrap(), None);
    }

    #[test]
    fn builder_misuse_is_an_error() {
        let mut syms = Interner::new();
        let mut out = Vec::new();
        let mut ends = Vec::new();
        let mut text = TextBlocks::new();
        let mut b = DocBuilder::new(&mut syms, &mut text, &mut out, &mut ends, 8, usize::MAX);
        assert!(b.key("k").is_err());
        assert!(b.end().is_err());
        assert!(b.end_doc().is_err());
        b.begin_map().unwrap();
        assert!(b.int(1).is_err(), "value without a key");
        b.key("k").unwrap();
        assert!(b.key("j").is_err(), "two keys in a row");
        assert!(b.end().is_err(), "key without value");
        assert!(b.end_doc().is_err());
        b.int(1).unwrap();
        b.end().unwrap();
        assert!(b.int(2).is_err(), "second root value");
        b.end_doc().unwrap();
        b.begin_list().unwrap();
        b.abandon_doc();
        assert!(b.is_idle());
        assert_eq!(ends.len(), 1);
        assert_eq!(out.len(), ends[0]);
    }

    #[test]
    fn validate_rejects_damage() {
        let (syms, doc) = build(|b| {
            b.begin_map()?;
            b.key("k")?;
            b.begin_list()?;
            b.str("v")?;
            b.big_int(&[0, 0, 0, 0, 0, 0, 0, 0, 1])?;
            b.end()?;
            b.end()
        });
        validate(&doc, syms.len(), &TextBlocks::new()).unwrap();
        assert!(
            validate(&doc, 1, &TextBlocks::new()).is_err(),
            "symbol beyond the table"
        );
        for cut in 0..doc.len() {
            assert!(validate(&doc[..cut], syms.len(), &TextBlocks::new()).is_err());
        }
        for pos in 0..doc.len() {
            for x in [0x01, 0x80, 0xFF] {
                let mut bad = doc.clone();
                bad[pos] ^= x;
                let _ = validate(&bad, syms.len(), &TextBlocks::new());
                if let Ok((Node::Dict(m), _)) = read_node(&bad, 0) {
                    let _ = m.iter().count();
                }
            }
        }
        let mut extra = doc.clone();
        extra.push(0);
        assert!(validate(&extra, syms.len(), &TextBlocks::new()).is_err());
        // The plain (unsized) variant containers are not part of the document profile.
        assert!(validate(&[tag::LIST, 0], 0, &TextBlocks::new()).is_err());
    }

    /// Documents of every kind of value the profile holds, long strings (text
    /// references) among them.
    fn document() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::None),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (1u8..=0x7F, 8usize..12).prop_map(|(top, n)| {
                let mut le = vec![0xAB; n];
                le.push(top);
                Value::BigInt(le)
            }),
            any::<f64>().prop_map(Value::Float),
            "[a-zé]{0,12}".prop_map(Value::Str),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 24, 5, |inner| {
            let key = "[a-d]{1,2}".prop_map(Value::Str);
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Tuple),
                proptest::collection::vec((key, inner), 0..5).prop_map(Value::Dict),
            ]
        })
    }

    proptest::proptest! {
        /// The yes-or-no pass and the detailed pass of the validator agree on every
        /// document, whole or damaged (flipped, cut, inserted bytes): what
        /// `validate_collecting` answers, after its yes-or-no pass, is the detailed
        /// pass's verdict, with the same text references appended to what the caller
        /// had collected before.
        #[test]
        fn both_validation_passes_agree(
            doc_value in document(),
            edits in proptest::collection::vec((0usize..256, 0u8..=255, 0u8..3), 0..4),
            symbols_short in 0usize..3,
        ) {
            let mut syms = Interner::new();
            let mut doc = Vec::new();
            let mut ends = Vec::new();
            let mut text = TextBlocks::new();
            let mut b = DocBuilder::new(&mut syms, &mut text, &mut doc, &mut ends, 2, 6);
            b.value(&doc_value).unwrap();
            b.end_doc().unwrap();
            for (at, byte, how) in edits {
                if doc.is_empty() {
                    break;
                }
                let at = at % doc.len();
                match how {
                    0 => doc[at] ^= byte.max(1),
                    1 => doc.truncate(at),
                    _ => doc.insert(at, byte),
                }
            }
            let symbols = syms.len().saturating_sub(symbols_short);
            let limits = Limits { symbols, text: &text };
            let earlier = TextRef { block: 7, offset: 7, len: 7 };
            let mut detailed = vec![earlier];
            let explained = validate_whole::<DocError>(&doc, &limits, &mut detailed);
            let mut got = vec![earlier];
            let verdict = validate_collecting(&doc, symbols, &text, &mut got);
            proptest::prop_assert_eq!(&verdict, &explained);
            let quick = validate_whole::<Invalid>(&doc, &limits, &mut Vec::new());
            proptest::prop_assert_eq!(quick.is_ok(), explained.is_ok());
            if verdict.is_ok() {
                proptest::prop_assert_eq!(got, detailed);
            }
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut syms = Interner::new();
        let mut out = Vec::new();
        let mut ends = Vec::new();
        let mut text = TextBlocks::new();
        let mut b = DocBuilder::new(&mut syms, &mut text, &mut out, &mut ends, 8, usize::MAX);
        let mut err = None;
        for _ in 0..=MAX_DEPTH {
            if let Err(e) = b.begin_list() {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(DocError::TooDeep { limit: MAX_DEPTH }));
    }
}
