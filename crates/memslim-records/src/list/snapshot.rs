//! A checksummed image of a whole [`RecordList`] made of its column buffers (pickle).
//!
//! [`RecordList::to_snapshot`] describes the list in a small header (fields, layouts,
//! chunk lengths, key-order patterns) and hands its column buffers over as shared Arrow
//! [`Buffer`]s, so pickle protocol 5 can send them out of band without copying them
//! into one byte string. [`Snapshot::to_bytes`] joins header and buffers into one
//! payload for the older protocols.
//!
//! Header layout (integers are LEB128 varints unless said otherwise):
//!
//! | bytes       | content                                                         |
//! |-------------|-----------------------------------------------------------------|
//! | 0..4        | magic `MSLR`                                                    |
//! | 4           | format version, `2` (version `1` is the record-by-record format) |
//! | 5           | `1`: buffers are little-endian                                  |
//! | 6..10       | header length in bytes, `u32` little-endian                     |
//! |             | buffer count, then each buffer's byte length                    |
//! |             | chunk rows, declared flag, fields, patterns, chunks (see code)  |
//! | last 4      | CRC-32 of the header before it and then of every buffer, `u32` LE |
//!
//! [`RecordList::from_snapshot`] checks the checksum first, so accidental damage of any
//! byte is reported as [`RecordsError::Corrupt`], and then checks every structural
//! invariant the list relies on (lengths, offsets, UTF-8, dictionary keys, int widths,
//! null and absent bits, ints kept in float columns, key-order patterns, encoded values),
//! so even a deliberately crafted payload with a valid checksum either loads into a
//! consistent list or is refused; it never panics.

use std::sync::Arc;

use arrow_buffer::{ArrowNativeType, Buffer};
use hashbrown::HashMap;

use super::{Chunk, Patterns, RecordList};
use crate::arrow::share;
use crate::bitmap::Bitmap;
use crate::column::{ColChunk, ColMeta, Data, Layout, dict_capacity, is_stored_int};
use crate::intvec::{IntVec, Width};
use crate::serial::{Input, code_dtype, dtype_code, put_varint};
use crate::store::Store;
use crate::strdict::StrDict;
use crate::varlen::VarLen;
use crate::{RecordsError, Result, variant};

const MAGIC: &[u8; 4] = b"MSLR";
/// Format version of snapshots.
pub(crate) const VERSION: u8 = 2;
/// Magic, version, endianness flag, header length.
const PREFIX: usize = 10;

/// A list's image: a header plus the column buffers it refers to.
///
/// # Memory
/// The buffers share the list's storage (each keeps its chunk alive); only chunks that
/// are slices of a larger chunk, or hold pending string overrides, are copied.
pub struct Snapshot {
    /// Describes the list and the buffers; ends with the checksum.
    pub header: Vec<u8>,
    /// Column buffers, in the order the header lists them.
    pub buffers: Vec<Buffer>,
}

impl Snapshot {
    /// Header and buffers joined in one byte string (what [`RecordList::from_bytes`] and
    /// [`RecordList::from_snapshot_bytes`] read).
    ///
    /// # Memory
    /// One allocation of the total size.
    pub fn to_bytes(&self) -> Vec<u8> {
        let total = self.header.len() + self.buffers.iter().map(|b| b.len()).sum::<usize>();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&self.header);
        for b in &self.buffers {
            out.extend_from_slice(b.as_slice());
        }
        out
    }

    /// Total bytes of header and buffers.
    pub fn len(&self) -> usize {
        self.header.len() + self.buffers.iter().map(|b| b.len()).sum::<usize>()
    }

    /// Never: a header is at least its fixed prefix and checksum.
    pub fn is_empty(&self) -> bool {
        false
    }
}

// Data tags of a chunk column.
const D_NULL: u8 = 0;
const D_BOOL: u8 = 1;
const D_INT: u8 = 2;
const D_FLOAT: u8 = 3;
const D_KEYS: u8 = 4;
const D_VAR: u8 = 5;

fn layout_code(l: Layout) -> (u8, u8) {
    match l {
        Layout::Null => (0, 0),
        Layout::Bool => (1, 0),
        Layout::Int(w) => (2, width_code(w)),
        Layout::Float => (3, 0),
        Layout::StrDict(w) => (4, width_code(w)),
        Layout::StrPlain => (5, 0),
        Layout::Bytes => (6, 0),
        Layout::Object => (7, 0),
    }
}

fn code_layout(c: u8, w: u8) -> Option<Layout> {
    Some(match c {
        0 => Layout::Null,
        1 => Layout::Bool,
        2 => Layout::Int(code_width(w)?),
        3 => Layout::Float,
        4 => Layout::StrDict(code_width(w)?),
        5 => Layout::StrPlain,
        6 => Layout::Bytes,
        7 => Layout::Object,
        _ => return None,
    })
}

fn width_code(w: Width) -> u8 {
    match w {
        Width::W8 => 0,
        Width::W16 => 1,
        Width::W32 => 2,
        Width::W64 => 3,
    }
}

fn code_width(c: u8) -> Option<Width> {
    Some(match c {
        0 => Width::W8,
        1 => Width::W16,
        2 => Width::W32,
        3 => Width::W64,
        _ => return None,
    })
}

/// Collects the body of the header and the buffers it refers to.
struct Writer {
    body: Vec<u8>,
    buffers: Vec<Buffer>,
}

impl Writer {
    fn varint(&mut self, v: usize) {
        put_varint(&mut self.body, v as u64);
    }

    fn byte(&mut self, b: u8) {
        self.body.push(b);
    }

    fn buffer(&mut self, b: Buffer) {
        self.buffers.push(b);
    }

    fn bitmap(&mut self, owner: &Arc<ColChunk>, b: Option<&Bitmap>, len: usize) {
        match b {
            None => self.byte(0),
            Some(b) => {
                self.byte(1);
                self.buffer(share(owner, &b.as_bytes()[..len.div_ceil(8)]));
            }
        }
    }

    fn ints(&mut self, owner: &Arc<ColChunk>, v: &IntVec, len: usize) {
        self.byte(width_code(v.width()));
        self.buffer(match v {
            IntVec::W8(x) => share(owner, &x[..len]),
            IntVec::W16(x) => share(owner, &x[..len]),
            IntVec::W32(x) => share(owner, &x[..len]),
            IntVec::W64(x) => share(owner, &x[..len]),
        });
    }

    /// One column chunk holding exactly `len` rows at offset 0, compacted.
    fn column(&mut self, cc: &Arc<ColChunk>, len: usize) {
        self.bitmap(cc, cc.valid.as_ref(), len);
        self.bitmap(cc, cc.absent.as_ref(), len);
        match &cc.data {
            Data::Null => self.byte(D_NULL),
            Data::Bool(b) => {
                self.byte(D_BOOL);
                self.buffer(share(cc, &b.as_bytes()[..len.div_ceil(8)]));
            }
            Data::Int(v) => {
                self.byte(D_INT);
                self.ints(cc, v, len);
            }
            Data::Float(v, marks) => {
                self.byte(D_FLOAT);
                self.buffer(share(cc, &v[..len]));
                self.bitmap(cc, marks.as_ref(), len);
            }
            Data::Keys(k) => {
                self.byte(D_KEYS);
                self.ints(cc, k, len);
            }
            Data::Var(v) => {
                self.byte(D_VAR);
                self.buffer(share(cc, &v.offsets()[..=len]));
                self.buffer(share(cc, v.data()));
            }
        }
    }
}

/// Reads the buffers a header refers to, in order.
struct Buffers<'a> {
    list: &'a [Buffer],
    next: usize,
}

impl<'a> Buffers<'a> {
    fn take(&mut self) -> Result<&'a Buffer> {
        let b = self
            .list
            .get(self.next)
            .ok_or_else(|| corrupt("the header refers to more buffers than it lists"))?;
        self.next += 1;
        Ok(b)
    }

    /// The next buffer as values of `T`: read in place when it is aligned for `T`.
    fn values<T: ArrowNativeType>(&mut self) -> Result<Store<T>> {
        let b = self.take()?;
        if !b.len().is_multiple_of(size_of::<T>()) {
            return Err(corrupt(format!(
                "a buffer of {} bytes does not hold whole {}-byte values",
                b.len(),
                size_of::<T>()
            )));
        }
        Ok(Store::from_buffer(b.clone()))
    }
}

fn corrupt(what: impl Into<String>) -> RecordsError {
    RecordsError::Corrupt(format!("memslim pickle: {}", what.into()))
}

fn expect_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(corrupt(format!("{what}: {got} values where {want} belong")));
    }
    Ok(())
}

/// Whether every value `data` holds between consecutive `offsets` (checked by
/// [`check_offsets`]) is UTF-8: the whole buffer is, and each offset falls on a
/// character boundary. One pass over the bytes, where checking each value alone costs a
/// call per value (most of a pickle's load time for a column of short strings).
fn all_utf8(offsets: &[i32], data: &[u8]) -> bool {
    // An offset is a boundary when it is the end or falls on a byte that does not
    // continue a character (0b10xx_xxxx). Folded without an early exit, so the compiler
    // vectorizes it; the offsets were checked to lie in `0..=data.len()`.
    let not_boundary = |o: i32| {
        let o = o as usize;
        data.get(o).is_some_and(|&b| (b as i8) < -0x40)
    };
    std::str::from_utf8(data).is_ok()
        && !offsets.iter().fold(false, |bad, &o| bad | not_boundary(o))
}

/// Offsets of `len` values into `data_len` bytes: start at 0, never decrease, end at
/// `data_len`.
fn check_offsets(what: &str, offsets: &[i32], len: usize, data_len: usize) -> Result<()> {
    expect_len(what, offsets.len(), len + 1)?;
    // A fold without an early exit: the compiler vectorizes it.
    let descending = offsets.windows(2).fold(false, |bad, w| bad | (w[1] < w[0]));
    if offsets[0] != 0 || descending {
        return Err(corrupt(format!("{what}: offsets out of order")));
    }
    if usize::try_from(offsets[len]).ok() != Some(data_len) {
        return Err(corrupt(format!(
            "{what}: offsets do not end at the data's end"
        )));
    }
    Ok(())
}

/// The first row `marks` marks as an int whose float in `v` is not [`is_stored_int`].
fn first_bad_mark(v: &[f64], marks: &Bitmap) -> Option<usize> {
    // Marks are ints among floats, usually few: only the set bits are visited.
    for (k, &byte) in marks.as_bytes().iter().enumerate() {
        let mut bits = byte;
        while bits != 0 {
            let i = k * 8 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            // `marks` has no bits past `v.len()` (`Bitmap::from_bytes` checks it).
            if !v.get(i).is_some_and(|&x| is_stored_int(x)) {
                return Some(i);
            }
        }
    }
    None
}

fn read_bitmap(inp: &mut Input<'_>, bufs: &mut Buffers<'_>, len: usize) -> Result<Option<Bitmap>> {
    match inp.bytes(1)?[0] {
        0 => Ok(None),
        1 => {
            let b = bufs.take()?;
            Bitmap::from_bytes(b.to_vec(), len)
                .map(Some)
                .ok_or_else(|| corrupt("a bitmap has the wrong length or stray bits"))
        }
        _ => Err(inp.err("bad bitmap flag")),
    }
}

fn read_ints(inp: &mut Input<'_>, bufs: &mut Buffers<'_>, len: usize) -> Result<IntVec> {
    let w = code_width(inp.bytes(1)?[0]).ok_or_else(|| inp.err("bad int width"))?;
    let v = match w {
        Width::W8 => IntVec::W8(bufs.values()?),
        Width::W16 => IntVec::W16(bufs.values()?),
        Width::W32 => IntVec::W32(bufs.values()?),
        Width::W64 => IntVec::W64(bufs.values()?),
    };
    expect_len("integers", v.len(), len)?;
    Ok(v)
}

impl RecordList {
    /// The list as a header plus shared column buffers (for pickle protocol 5).
    ///
    /// # Memory
    /// Copies only the header (a few bytes per field and chunk), chunks that are
    /// slices of larger ones, and chunks with pending string overrides; every other
    /// buffer is shared with the list (copy-on-write keeps it unchanged).
    pub fn to_snapshot(&self) -> Snapshot {
        let mut w = Writer {
            body: Vec::new(),
            buffers: Vec::new(),
        };
        w.varint(self.chunk_rows);
        w.byte(u8::from(self.closed));
        w.varint(self.cols.len());
        for m in &self.cols {
            w.varint(m.name.len());
            w.body.extend_from_slice(m.name.as_bytes());
            w.byte(dtype_code(m.declared));
            let (l, lw) = layout_code(m.layout);
            w.byte(l);
            w.byte(lw);
            w.varint(m.str_bytes as usize);
            w.varint(m.str_count as usize);
            if let Layout::StrDict(_) = m.layout {
                let d = m.dict.clone().unwrap_or_default();
                w.buffer(share(&d, d.offsets()));
                w.buffer(share(&d, d.data()));
            }
        }
        w.varint(self.patterns.list.len());
        for p in &self.patterns.list {
            w.varint(p.len());
            for &j in p.iter() {
                w.varint(j as usize);
            }
        }
        w.varint(self.chunks.len());
        for c in &self.chunks {
            w.varint(c.len);
            match &c.order {
                None => w.byte(0),
                Some(o) => {
                    w.byte(1);
                    w.buffer(share(o, &o[c.off..c.off + c.len]));
                }
            }
            for cc in &c.cols {
                let compact = match &cc.data {
                    Data::Var(v) => v.is_compact(),
                    _ => true,
                };
                if c.off == 0 && cc.len == c.len && compact {
                    w.column(cc, c.len);
                } else {
                    w.column(&Arc::new(cc.slice(c.off, c.len)), c.len);
                }
            }
        }
        let mut head = Vec::with_capacity(PREFIX + 16 + w.body.len());
        head.extend_from_slice(MAGIC);
        head.push(VERSION);
        head.push(u8::from(cfg!(target_endian = "little")));
        head.extend_from_slice(&[0; 4]);
        put_varint(&mut head, w.buffers.len() as u64);
        for b in &w.buffers {
            put_varint(&mut head, b.len() as u64);
        }
        head.extend_from_slice(&w.body);
        let total = (head.len() + 4) as u32;
        head[6..10].copy_from_slice(&total.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        for b in &w.buffers {
            crc.update(b.as_slice());
        }
        head.extend_from_slice(&crc.finalize().to_le_bytes());
        Snapshot {
            header: head,
            buffers: w.buffers,
        }
    }

    /// Rebuilds a list from [`Snapshot::to_bytes`] output.
    ///
    /// # Errors
    /// [`RecordsError::Corrupt`] as [`RecordList::from_snapshot`].
    ///
    /// # Memory
    /// Copies each buffer on its own: the list keeps exactly its buffers, not the
    /// payload. (Reading the payload in place would keep all of it alive while its
    /// misaligned integer and float buffers, the usual case inside one byte string,
    /// were copied anyway.)
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<RecordList> {
        let hlen = header_len(bytes)?;
        let (header, mut rest) = bytes.split_at(hlen);
        let lens = buffer_lens(header)?;
        let mut bufs = Vec::with_capacity(lens.len());
        for n in lens {
            if n > rest.len() {
                return Err(corrupt("payload shorter than its buffers"));
            }
            let (b, r) = rest.split_at(n);
            bufs.push(Buffer::from_slice_ref(b));
            rest = r;
        }
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes after the last buffer"));
        }
        RecordList::from_snapshot(header, &bufs)
    }

    /// Rebuilds a list from a snapshot's header and buffers, verifying the checksum and
    /// every structural invariant.
    ///
    /// # Errors
    /// [`RecordsError::Corrupt`] naming what is wrong: bad magic or version, checksum
    /// mismatch, a length, offset, key, width or pattern that does not fit.
    ///
    /// # Memory
    /// Zero-copy: the list reads the integer, float and variable-length value buffers in
    /// place (each column keeps its `Buffer` alive) and copies one only when it is not
    /// aligned for its values, or on the first write to its chunk. Bitmaps, key orders
    /// and string dictionaries (whose hash index is rebuilt) are copied. The caller must
    /// hand over buffers whose bytes do not change while the list lives.
    pub fn from_snapshot(header: &[u8], buffers: &[Buffer]) -> Result<RecordList> {
        let hlen = header_len(header)?;
        if hlen != header.len() {
            return Err(corrupt("header length does not match"));
        }
        let lens = buffer_lens(header)?;
        if lens.len() != buffers.len() || lens.iter().zip(buffers).any(|(n, b)| *n != b.len()) {
            return Err(corrupt(
                "the buffers given are not the ones the header lists",
            ));
        }
        let (head, sum) = header.split_at(hlen - 4);
        let mut crc = crc32fast::Hasher::new();
        crc.update(head);
        for b in buffers {
            crc.update(b.as_slice());
        }
        let mut want = [0u8; 4];
        want.copy_from_slice(sum);
        if crc.finalize() != u32::from_le_bytes(want) {
            return Err(corrupt(
                "checksum mismatch (the pickled data was damaged or changed)",
            ));
        }
        let mut inp = Input {
            b: head,
            pos: PREFIX,
        };
        let nbufs = inp.usize()?;
        for _ in 0..nbufs {
            inp.usize()?;
        }
        let mut bufs = Buffers {
            list: buffers,
            next: 0,
        };
        let list = read_body(&mut inp, &mut bufs)?;
        if inp.pos != head.len() {
            return Err(inp.err("trailing header bytes"));
        }
        if bufs.next != buffers.len() {
            return Err(corrupt("unused buffers"));
        }
        Ok(list)
    }
}

/// Checks magic, version and endianness; returns the header length.
fn header_len(bytes: &[u8]) -> Result<usize> {
    if bytes.len() < PREFIX + 4 || &bytes[..4] != MAGIC {
        return Err(corrupt("not a memslim snapshot (bad magic or too short)"));
    }
    if bytes[4] != VERSION {
        return Err(corrupt(format!(
            "snapshot format version {} is not supported (expected {VERSION})",
            bytes[4]
        )));
    }
    if bytes[5] != u8::from(cfg!(target_endian = "little")) {
        return Err(corrupt("snapshot written on a machine of other byte order"));
    }
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[6..10]);
    let n = u32::from_le_bytes(n) as usize;
    if n < PREFIX + 4 || n > bytes.len() {
        return Err(corrupt("header length out of range"));
    }
    Ok(n)
}

/// The buffer lengths a header lists (the header is at least [`header_len`] long).
fn buffer_lens(header: &[u8]) -> Result<Vec<usize>> {
    let end = header.len() - 4;
    let mut inp = Input {
        b: &header[..end],
        pos: PREFIX,
    };
    let n = inp.usize()?;
    // Each length takes at least one header byte: bounds the allocation.
    if n > end {
        return Err(inp.err("buffer count out of range"));
    }
    (0..n).map(|_| inp.usize()).collect()
}

/// The largest string count or byte total a header may give a field (2**56: 64 PiB of
/// text, and room for any sum the list makes of them).
const MAX_STR_COUNTER: u64 = 1 << 56;

fn read_body(inp: &mut Input<'_>, bufs: &mut Buffers<'_>) -> Result<RecordList> {
    let chunk_rows = inp.usize()?;
    if chunk_rows == 0 {
        return Err(inp.err("chunk size 0"));
    }
    let closed = match inp.bytes(1)?[0] {
        0 => false,
        1 => true,
        _ => return Err(inp.err("bad declared-schema flag")),
    };
    let nfields = inp.usize()?;
    if nfields > inp.b.len() {
        return Err(inp.err("field count out of range"));
    }
    let mut cols: Vec<ColMeta> = Vec::with_capacity(nfields);
    let mut by_name: HashMap<Arc<str>, usize> = HashMap::with_capacity(nfields);
    for j in 0..nfields {
        let n = inp.usize()?;
        let name =
            std::str::from_utf8(inp.bytes(n)?).map_err(|_| inp.err("field name is not UTF-8"))?;
        let name: Arc<str> = name.into();
        let declared = code_dtype(inp.bytes(1)?[0]).ok_or_else(|| inp.err("unknown dtype code"))?;
        let (l, lw) = (inp.bytes(1)?[0], inp.bytes(1)?[0]);
        let layout = code_layout(l, lw).ok_or_else(|| inp.err("unknown layout code"))?;
        if closed != declared.is_some() {
            return Err(inp.err("declared type and schema flag disagree"));
        }
        if let Some(d) = declared {
            if d != layout.dtype() {
                return Err(inp.err("layout does not match the declared type"));
            }
        }
        // Counters of the strings written so far (they steer the choice between a
        // dictionary and plain strings): far past any real list's is a crafted header,
        // whose sums would overflow on the next write.
        let str_bytes = inp.varint()?;
        let str_count = inp.varint()?;
        if str_bytes > MAX_STR_COUNTER || str_count > MAX_STR_COUNTER {
            return Err(corrupt(format!(
                "field {name:?}: string counters out of range"
            )));
        }
        let dict = match layout {
            Layout::StrDict(w) => {
                let offsets = bufs.values::<i32>()?;
                let data = bufs.take()?;
                let d = StrDict::from_parts(&offsets, data.as_slice())
                    .ok_or_else(|| corrupt(format!("field {name:?}: bad string dictionary")))?;
                if d.len() > dict_capacity(w) {
                    return Err(corrupt(format!(
                        "field {name:?}: dictionary too large for its key width"
                    )));
                }
                Some(Arc::new(d))
            }
            _ => None,
        };
        if by_name.insert(name.clone(), j).is_some() {
            return Err(corrupt(format!("field {name:?} listed twice")));
        }
        let mut m = ColMeta::new(name, declared);
        m.layout = layout;
        m.dict = dict;
        m.str_bytes = str_bytes;
        m.str_count = str_count;
        cols.push(m);
    }
    let npat = inp.usize()?;
    if npat > inp.b.len() {
        return Err(inp.err("pattern count out of range"));
    }
    let mut patterns = Patterns::default();
    // One scratch set for all patterns (cleared per pattern): a fresh one each would
    // cost patterns x fields, quadratic in a crafted header's length.
    let mut seen = vec![false; nfields];
    for _ in 0..npat {
        let n = inp.usize()?;
        if n > nfields {
            return Err(inp.err("key-order pattern longer than the fields"));
        }
        let mut p = Vec::with_capacity(n);
        for _ in 0..n {
            let j = inp.usize()?;
            if j >= nfields || seen[j] {
                return Err(inp.err("bad field in a key-order pattern"));
            }
            seen[j] = true;
            p.push(j as u32);
        }
        for &j in &p {
            seen[j as usize] = false;
        }
        let before = patterns.list.len();
        patterns.id(&p);
        if patterns.list.len() == before {
            return Err(inp.err("key-order pattern listed twice"));
        }
    }
    let nchunks = inp.usize()?;
    if nchunks > inp.b.len() {
        return Err(inp.err("chunk count out of range"));
    }
    let mut chunks = Vec::with_capacity(nchunks);
    let mut total = 0usize;
    for _ in 0..nchunks {
        let len = inp.usize()?;
        if len == 0 || len > chunk_rows {
            return Err(inp.err("chunk length out of range"));
        }
        total = total
            .checked_add(len)
            .ok_or_else(|| inp.err("too many rows"))?;
        let order = match inp.bytes(1)?[0] {
            0 => None,
            1 => {
                let o = bufs.values::<u32>()?.to_vec();
                expect_len("key order", o.len(), len)?;
                if o.iter().any(|&p| p as usize > patterns.list.len()) {
                    return Err(corrupt("key order names an unknown pattern"));
                }
                Some(Arc::new(o))
            }
            _ => return Err(inp.err("bad key-order flag")),
        };
        let mut ccs = Vec::with_capacity(nfields);
        for m in &cols {
            ccs.push(Arc::new(read_column(inp, bufs, m, len)?));
        }
        if let Some(o) = &order {
            for (i, &p) in o.iter().enumerate() {
                if p == 0 {
                    continue;
                }
                // A pattern lists exactly the record's keys.
                let pat = patterns.get(p);
                let present = ccs.iter().filter(|cc| !cc.is_absent(i)).count();
                if present != pat.len() || pat.iter().any(|&j| ccs[j as usize].is_absent(i)) {
                    return Err(corrupt("key order does not match the record's keys"));
                }
            }
        }
        chunks.push(Chunk {
            off: 0,
            len,
            cols: ccs,
            order,
        });
    }
    let mut list = RecordList::with_chunk_rows(chunk_rows);
    list.cols = cols;
    list.by_name = by_name;
    list.chunks = chunks;
    list.closed = closed;
    list.patterns = patterns;
    list.restart();
    Ok(list)
}

fn read_column(
    inp: &mut Input<'_>,
    bufs: &mut Buffers<'_>,
    meta: &ColMeta,
    len: usize,
) -> Result<ColChunk> {
    let field = &meta.name;
    let valid = read_bitmap(inp, bufs, len)?;
    let absent = read_bitmap(inp, bufs, len)?;
    // The writer clears a slot's valid bit when it marks it absent; readers that tell
    // values from nulls by the valid bits alone (null counts, Arrow export, `take`,
    // which reads a valid string key through the dictionary) rely on it.
    if let Some(a) = &absent {
        let disjoint = valid.as_ref().is_some_and(|v| {
            let overlap = v.as_bytes().iter().zip(a.as_bytes());
            overlap.fold(0, |any, (x, y)| any | (x & y)) == 0
        });
        if !disjoint {
            return Err(corrupt(format!(
                "field {field:?}: a slot is both absent and valid"
            )));
        }
    }
    // Only live slots hold values; null and absent ones hold placeholders. (An absent
    // slot is not valid, checked above.)
    let live = |i: usize| valid.as_ref().is_none_or(|v| v.get(i));
    let tag = inp.bytes(1)?[0];
    let data = match (tag, meta.layout) {
        (D_NULL, Layout::Null) => {
            // A column of nulls stores no values: each slot says null or absent in its
            // valid bits.
            if valid.as_ref().is_none_or(|v| v.count_ones() != 0) {
                return Err(corrupt(format!(
                    "field {field:?}: a value in a column of nulls"
                )));
            }
            Data::Null
        }
        (D_BOOL, Layout::Bool) => {
            let b = bufs.take()?.to_vec();
            Data::Bool(
                Bitmap::from_bytes(b, len)
                    .ok_or_else(|| corrupt(format!("field {field:?}: bad bool values")))?,
            )
        }
        (D_INT, Layout::Int(w)) => {
            let v = read_ints(inp, bufs, len)?;
            if v.width() != w {
                return Err(corrupt(format!("field {field:?}: int width mismatch")));
            }
            Data::Int(v)
        }
        (D_FLOAT, Layout::Float) => {
            let v = bufs.values::<f64>()?;
            expect_len("floats", v.len(), len)?;
            let marks = read_bitmap(inp, bufs, len)?;
            // A marked float is read as `x as i64`, which saturates (inf), truncates
            // (0.5) and maps NaN to 0: only what the writer stores for an int may be
            // marked, null slots included (a null written over an int keeps both).
            if let Some(i) = marks.as_ref().and_then(|m| first_bad_mark(&v, m)) {
                return Err(corrupt(format!(
                    "field {field:?}, row {i} of a chunk: a float marked as an int is not \
                     an int (a whole number within ±2**53)"
                )));
            }
            Data::Float(v, marks)
        }
        (D_KEYS, Layout::StrDict(w)) => {
            let k = read_ints(inp, bufs, len)?;
            if k.width() != w {
                return Err(corrupt(format!("field {field:?}: key width mismatch")));
            }
            let n = meta.dict().len() as i64;
            // Only live slots are read through the dictionary; a null or absent slot
            // holds a placeholder (0), even when the dictionary is empty.
            let in_dict = |x: i64| (0..n).contains(&x);
            // Placeholders are in range too unless the dictionary is empty, so the
            // bounds of all the keys usually settle it without looking at the bitmaps.
            let all_in = k
                .min_max()
                .is_none_or(|(lo, hi)| in_dict(lo) && in_dict(hi));
            if !all_in && !k.for_each_in(0..len, |i, x| in_dict(x) || !live(i)) {
                return Err(corrupt(format!(
                    "field {field:?}: a string key is outside its dictionary"
                )));
            }
            Data::Keys(k)
        }
        (D_VAR, Layout::StrPlain | Layout::Bytes | Layout::Object) => {
            let offsets = bufs.values::<i32>()?;
            let data = bufs.values::<u8>()?;
            check_offsets(&format!("field {field:?}"), &offsets, len, data.len())?;
            // Strings are checked in one pass over the buffer; only a buffer that fails
            // it is checked value by value, to name the row.
            let plain_ok = meta.layout == Layout::StrPlain && all_utf8(&offsets, &data);
            let v = VarLen::from_parts(offsets, data);
            let bad = match meta.layout {
                Layout::StrPlain if !plain_ok => {
                    (0..len).find(|&i| std::str::from_utf8(v.get(i)).is_err())
                }
                // A value is never empty (an encoding starts with its tag). A null or
                // absent slot holds no bytes, or the value a null was written over.
                Layout::Object => (0..len).find(|&i| {
                    let b = v.get(i);
                    (!b.is_empty() || live(i)) && variant::decode(b).is_err()
                }),
                _ => None,
            };
            if let Some(i) = bad {
                return Err(corrupt(format!(
                    "field {field:?}, row {i} of a chunk: malformed value"
                )));
            }
            Data::Var(v)
        }
        _ => {
            return Err(corrupt(format!(
                "field {field:?}: column data does not match its layout"
            )));
        }
    };
    Ok(ColChunk {
        len,
        data,
        valid,
        absent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cell, CellRef, DType};

    fn sample() -> RecordList {
        let mut l = RecordList::with_chunk_rows(4);
        for i in 0..11i64 {
            let s = format!("s{}", i % 3);
            let long = "x".repeat(i as usize);
            let mut rec: Vec<(&str, Cell<'_>)> = vec![
                ("id", Cell::Int(i * 1000)),
                (
                    "price",
                    if i % 4 == 0 {
                        Cell::Int(i)
                    } else {
                        Cell::Float(i as f64 / 3.0)
                    },
                ),
                ("country", Cell::Str(&s)),
                ("ok", Cell::Bool(i % 2 == 0)),
                ("blob", Cell::Bytes(long.as_bytes())),
            ];
            if i % 3 == 0 {
                rec.push(("note", Cell::Null));
            }
            if i % 5 == 1 {
                rec.reverse();
            }
            if i == 7 {
                rec.push(("mixed", Cell::Str("seven")));
            } else if i == 8 {
                rec.push(("mixed", Cell::Int(8)));
            }
            l.push_record(&rec).expect("push");
        }
        l.set_field(2, "blob", Cell::Bytes(b"changed"))
            .expect("set");
        l
    }

    fn rows(l: &RecordList) -> Vec<Vec<(String, String)>> {
        (0..l.len())
            .map(|r| {
                let mut v = Vec::new();
                l.visit_row(r, |j, c| {
                    v.push((l.field_name(j).to_owned(), format!("{c:?}")));
                });
                v
            })
            .collect()
    }

    #[test]
    fn round_trip_keeps_every_record_exactly() {
        let l = sample();
        let snap = l.to_snapshot();
        let back = RecordList::from_snapshot_bytes(&snap.to_bytes()).expect("valid");
        assert_eq!(rows(&back), rows(&l));
        assert_eq!(back.len(), l.len());
        for j in 0..l.num_fields() {
            assert_eq!(back.field_layout(j), l.field_layout(j));
        }
        let slice = l.slice(3, 9);
        let back = RecordList::from_snapshot_bytes(&slice.to_snapshot().to_bytes()).expect("ok");
        assert_eq!(rows(&back), rows(&slice));
    }

    #[test]
    fn a_cleared_string_column_with_absent_slots_round_trips() {
        // clear() empties the dictionary; the next record lacks the field, so its slot
        // holds the placeholder key 0 with no dictionary entry behind it.
        let mut l = RecordList::new();
        l.push_record(&[("a", Cell::Str("x"))]).expect("push");
        l.clear();
        l.push_record(&[("b", Cell::Int(1))]).expect("push");
        let back = RecordList::from_snapshot_bytes(&l.to_snapshot().to_bytes()).expect("valid");
        assert_eq!(rows(&back), rows(&l));
    }

    use arrow_buffer::ToByteSlice;

    /// Whether any byte of `inner` lies inside `outer`.
    fn inside(outer: &Buffer, inner: &[u8]) -> bool {
        outer.as_ptr_range().contains(&inner.as_ptr())
    }

    #[test]
    fn aligned_buffers_are_read_in_place_and_copied_on_write() {
        let l = sample();
        let snap = l.to_snapshot();
        // Each buffer copied once into memory of its own (aligned), as a receiver's
        // frames would be.
        let bufs: Vec<Buffer> = snap.buffers.iter().map(Buffer::from_slice_ref).collect();
        let mut back = RecordList::from_snapshot(&snap.header, &bufs).expect("valid");
        assert_eq!(rows(&back), rows(&l));
        let in_place = |back: &RecordList| {
            back.chunks
                .iter()
                .flat_map(|c| &c.cols)
                .filter(|cc| {
                    let held: &[u8] = match &cc.data {
                        Data::Int(IntVec::W8(v)) => v.to_byte_slice(),
                        Data::Int(IntVec::W16(v)) => v.to_byte_slice(),
                        Data::Int(IntVec::W32(v)) => v.to_byte_slice(),
                        Data::Int(IntVec::W64(v)) => v.to_byte_slice(),
                        Data::Float(v, _) => v.to_byte_slice(),
                        Data::Var(v) => v.data(),
                        _ => return false,
                    };
                    !held.is_empty() && bufs.iter().any(|b| inside(b, held))
                })
                .count()
        };
        let shared = in_place(&back);
        assert!(shared >= 3, "{shared} column chunks read in place");
        // A write copies the chunk it touches; the received buffers stay as they were.
        let before: Vec<Vec<u8>> = bufs.iter().map(|b| b.to_vec()).collect();
        back.set_field(0, "id", Cell::Int(1 << 40)).expect("set");
        back.push_record(&[("id", Cell::Int(5)), ("country", Cell::Str("new"))])
            .expect("push");
        assert_eq!(bufs.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), before);
        assert!(in_place(&back) < shared);
        let mut want = l.clone();
        want.set_field(0, "id", Cell::Int(1 << 40)).expect("set");
        want.push_record(&[("id", Cell::Int(5)), ("country", Cell::Str("new"))])
            .expect("push");
        assert_eq!(rows(&back), rows(&want));
    }

    #[test]
    fn misaligned_buffers_are_copied() {
        let l = sample();
        let snap = l.to_snapshot();
        // Each buffer one byte into memory of its own: every typed buffer is misaligned.
        let bufs: Vec<Buffer> = snap
            .buffers
            .iter()
            .map(|b| {
                let mut shifted = vec![0u8];
                shifted.extend_from_slice(b);
                Buffer::from_vec(shifted).slice(1)
            })
            .collect();
        let back = RecordList::from_snapshot(&snap.header, &bufs).expect("valid");
        assert_eq!(rows(&back), rows(&l));
    }

    #[test]
    fn loaded_list_accepts_more_records() {
        let l = sample();
        let mut back = RecordList::from_snapshot_bytes(&l.to_snapshot().to_bytes()).expect("ok");
        back.push_record(&[("country", Cell::Str("s1")), ("id", Cell::Int(1 << 40))])
            .expect("push");
        let j = back.field_index("id").expect("id");
        assert_eq!(back.get(back.len() - 1, j), CellRef::Int(1 << 40));
        assert_eq!(back.len(), l.len() + 1);
    }

    #[test]
    fn declared_schema_and_empty_lists_round_trip() {
        let mut l =
            RecordList::with_schema(&[("a", DType::Int64), ("b", DType::Str)], 8).expect("schema");
        let back = RecordList::from_snapshot_bytes(&l.to_snapshot().to_bytes()).expect("ok");
        assert!(back.has_declared_schema());
        assert_eq!(back.len(), 0);
        l.push_record(&[("a", Cell::Int(1)), ("b", Cell::Str("x"))])
            .expect("push");
        let mut back = RecordList::from_snapshot_bytes(&l.to_snapshot().to_bytes()).expect("ok");
        assert!(back.push_record(&[("a", Cell::Str("no"))]).is_err());
        assert_eq!(rows(&back), rows(&l));
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let l = sample();
        let bytes = l.to_snapshot().to_bytes();
        let want = rows(&l);
        for i in 0..bytes.len() {
            for delta in [1u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= delta;
                if let Ok(back) = RecordList::from_snapshot_bytes(&b) {
                    assert_eq!(
                        rows(&back),
                        want,
                        "byte {i} ^ {delta} loaded changed values"
                    );
                }
            }
        }
        for n in 0..bytes.len() {
            assert!(RecordList::from_snapshot_bytes(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn a_string_key_outside_its_dictionary_is_refused() {
        let mut l = RecordList::new();
        for s in ["DE", "FR", "US", "DE"] {
            l.push_record(&[("c", Cell::Str(s))]).unwrap();
        }
        let snap = l.to_snapshot();
        let bufs: Vec<Vec<u8>> = snap.buffers.iter().map(|b| b.as_slice().to_vec()).collect();
        assert!(resealed(&snap.header, &bufs).is_ok());
        let keys = bufs
            .iter()
            .position(|b| b.as_slice() == [0, 1, 2, 0])
            .unwrap();
        for bad in [3u8, 0xff] {
            let mut b2 = bufs.clone();
            b2[keys][1] = bad;
            match resealed(&snap.header, &b2) {
                Err(e) => assert!(e.to_string().contains("outside its dictionary"), "{e}"),
                Ok(_) => panic!("key {bad} loaded"),
            }
        }
    }

    /// Loads `header` and `bufs` with the header's checksum recomputed over them.
    fn resealed(header: &[u8], bufs: &[Vec<u8>]) -> Result<RecordList> {
        let mut head = header.to_vec();
        let n = head.len() - 4;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head[..n]);
        for b in bufs {
            crc.update(b);
        }
        head[n..].copy_from_slice(&crc.finalize().to_le_bytes());
        let bufs: Vec<Buffer> = bufs.iter().map(Buffer::from_slice_ref).collect();
        RecordList::from_snapshot(&head, &bufs)
    }

    /// `l`'s snapshot as a header and buffers to change and then load with [`resealed`].
    fn parts(l: &RecordList) -> (Vec<u8>, Vec<Vec<u8>>) {
        let snap = l.to_snapshot();
        let bufs = snap.buffers.iter().map(|b| b.as_slice().to_vec()).collect();
        (snap.header, bufs)
    }

    /// Asserts that `r` was refused with a message containing `why`.
    fn refused(r: Result<RecordList>, why: &str) {
        match r {
            Err(e) => assert!(e.to_string().contains(why), "{e}"),
            Ok(back) => panic!("loaded: {:?}", rows(&back)),
        }
    }

    #[test]
    fn a_float_marked_as_an_int_must_be_an_int_the_writer_could_store() {
        // Row 0 was the int 1, marked in the float column; row 1 is the float `x`, marked
        // too by the crafted payload.
        let load = |x: f64| {
            let mut l = RecordList::new();
            l.push_record(&[("k", Cell::Int(1))]).unwrap();
            l.push_record(&[("k", Cell::Float(x))]).unwrap();
            let (head, mut bufs) = parts(&l);
            // Buffers: the floats, the marks.
            assert_eq!(bufs[1], [0b01]);
            bufs[1] = vec![0b11];
            resealed(&head, &bufs)
        };
        let big = 2f64.powi(53);
        // Each would read back as another int: NaN as 0, 0.5 as 0, inf as i64::MAX;
        // -0.0 as 0, but an int 0 is written as +0.0; past 2^53 an f64 stands for more
        // than one int.
        for x in [
            f64::NAN,
            0.5,
            -2.5,
            f64::INFINITY,
            -0.0,
            big + 2.0,
            -big - 2.0,
            1e300,
        ] {
            refused(load(x), "not an int");
        }
        for x in [0.0, -7.0, big, -big] {
            let back = load(x).expect("an int as the writer stores it");
            assert_eq!(back.get(1, 0), CellRef::Int(x as i64));
        }
    }

    #[test]
    fn an_int_overwritten_with_null_in_a_float_column_round_trips() {
        // The write of a null keeps the slot's value and mark: a marked null slot is
        // the writer's own.
        let mut l = RecordList::new();
        l.push_record(&[("k", Cell::Int(5))]).unwrap();
        l.push_record(&[("k", Cell::Float(0.5))]).unwrap();
        l.set_field(0, "k", Cell::Null).unwrap();
        let back = RecordList::from_snapshot_bytes(&l.to_snapshot().to_bytes()).expect("valid");
        assert_eq!(rows(&back), rows(&l));
    }

    #[test]
    fn an_object_value_with_no_bytes_is_refused() {
        let mut l = RecordList::new();
        l.push_record(&[("o", Cell::Int(1))]).unwrap();
        l.push_record(&[("o", Cell::Str("x"))]).unwrap();
        l.push_record(&[("o", Cell::Null)]).unwrap();
        assert_eq!(l.field_layout(0), Layout::Object);
        let (head, mut bufs) = parts(&l);
        // Buffers: validity, offsets, encoded values. The null row holds no bytes;
        // marked valid, it would load and fail only when read.
        assert_eq!(bufs[0], [0b011]);
        bufs[0] = vec![0b111];
        refused(resealed(&head, &bufs), "row 2 of a chunk");
    }

    #[test]
    fn a_slot_both_absent_and_valid_is_refused() {
        // Row 1 lacks "s": absent, so its key (0, a placeholder) is not checked against
        // the dictionary. Marked valid as well, it was read as a string by `take`
        // (which panicked on a key past the dictionary) and was no null to `null_count`.
        let mut l = RecordList::new();
        l.push_record(&[("s", Cell::Str("a"))]).unwrap();
        l.push_record(&[]).unwrap();
        let (head, mut bufs) = parts(&l);
        // Buffers: dictionary offsets and text, validity, absence, keys.
        assert_eq!(bufs[2..], [vec![0b01], vec![0b10], vec![0, 0]]);
        bufs[2] = vec![0b11];
        bufs[4] = vec![0, 5];
        refused(resealed(&head, &bufs), "absent");
    }

    #[test]
    fn a_valid_slot_in_a_column_of_nulls_is_refused() {
        // A column of only nulls stores no values; a slot marked valid read as null but
        // was not counted as one by `null_count`.
        let mut l = RecordList::new();
        l.push_record(&[("n", Cell::Null)]).unwrap();
        l.push_record(&[("n", Cell::Null)]).unwrap();
        assert_eq!(l.field_layout(0), Layout::Null);
        let (head, mut bufs) = parts(&l);
        assert_eq!(bufs, [vec![0b00]]);
        bufs[0] = vec![0b01];
        refused(resealed(&head, &bufs), "null");
    }

    #[test]
    fn plain_strings_split_inside_a_character_are_refused_naming_the_row() {
        // 5,000 distinct strings, optimized: the column is stored plain (offsets and
        // UTF-8 bytes).
        let mut l = RecordList::new();
        for i in 0..5000 {
            let s = format!("é{i}");
            l.push_record(&[("s", Cell::Str(&s))]).unwrap();
        }
        l.optimize();
        let snap = l.to_snapshot();
        let bufs: Vec<Vec<u8>> = snap.buffers.iter().map(|b| b.as_slice().to_vec()).collect();
        let data = bufs
            .iter()
            .position(|b| b.starts_with("é0é1".as_bytes()))
            .unwrap();
        let load = |bufs: &[Vec<u8>]| resealed(&snap.header, bufs);
        let back = load(&bufs).expect("the list as written loads");
        assert_eq!(back.get(4321, 0), CellRef::Str("é4321"));
        let refused = |r: Result<RecordList>, row: &str| match r {
            Err(e) => assert!(e.to_string().contains(row), "{e}"),
            Ok(_) => panic!("a malformed string loaded"),
        };
        // A byte that breaks the UTF-8 of value 2 ("é2" starts at byte 6).
        let mut broken = bufs.clone();
        broken[data][7] = b'A';
        refused(load(&broken), "row 2 of a chunk");
        // Valid UTF-8 as a whole, but the first offset after 0 now splits the "é".
        let mut split = bufs.clone();
        let offsets = data - 1;
        assert_eq!(split[offsets][4..8], 3i32.to_le_bytes());
        split[offsets][4..8].copy_from_slice(&1i32.to_le_bytes());
        refused(load(&split), "row 0 of a chunk");
    }

    #[test]
    fn string_counters_past_any_real_list_are_refused() {
        // They are summed on every write and multiplied to choose a layout: a crafted
        // u64::MAX would overflow (a panic in a debug build).
        for (bytes, count) in [(u64::MAX, 1), (1, u64::MAX), (MAX_STR_COUNTER + 1, 0)] {
            let mut l = RecordList::new();
            l.push_record(&[("s", Cell::Str("a"))]).unwrap();
            l.cols[0].str_bytes = bytes;
            l.cols[0].str_count = count;
            let snap = l.to_snapshot();
            match RecordList::from_snapshot(&snap.header, &snap.buffers) {
                Err(e) => assert!(e.to_string().contains("string counters"), "{e}"),
                Ok(_) => panic!("counters {bytes}, {count} loaded"),
            }
        }
    }

    #[test]
    fn crafted_payloads_with_valid_checksums_are_refused_not_panics() {
        // Rewrite one header byte or buffer byte at a time and fix the checksum up, so
        // only the structural checks stand between the bytes and the list.
        let l = sample();
        let snap = l.to_snapshot();
        let bufs: Vec<Vec<u8>> = snap.buffers.iter().map(|b| b.as_slice().to_vec()).collect();
        for i in PREFIX..snap.header.len() - 4 {
            for v in [0u8, 1, 2, 3, 5, 0x7f, 0xff] {
                let mut head = snap.header.clone();
                head[i] = v;
                if let Ok(back) = resealed(&head, &bufs) {
                    // Whatever loads must be readable end to end.
                    let _ = rows(&back);
                }
            }
        }
        for k in 0..bufs.len() {
            for i in 0..bufs[k].len() {
                let mut b2 = bufs.clone();
                b2[k][i] ^= 0xff;
                if let Ok(back) = resealed(&snap.header, &b2) {
                    let _ = rows(&back);
                }
            }
        }
    }
}
