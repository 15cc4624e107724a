//! [`TextBlocks`]: long string values of documents, kept in deflate-compressed blocks.
//!
//! Long strings (documentation, descriptions, HTML) are mostly unique, so interning does
//! not help them, and one string alone compresses poorly. Appended one after another into
//! an open *tail* block, they are compressed together once the tail holds
//! [`TEXT_BLOCK_BYTES`]; a document refers to each by a [`TextRef`] (block, offset,
//! length). Reading one inflates its whole block; [`DocStore`](crate::DocStore) keeps the
//! last few inflated blocks so consecutive reads are cheap.

use std::sync::Arc;

use crate::error::{DocError, Result};
use crate::variant::DecodeError;

/// The tail block is compressed and sealed once it holds this many bytes of text.
pub const TEXT_BLOCK_BYTES: usize = 32 * 1024;

/// Deflate level for sealing blocks: 1 is the fastest, and on HTML documentation it
/// keeps most of the gain of the default level 6 (see the README's DocList section).
const LEVEL: u8 = 1;

/// Where a long string is: a block, a byte offset in its inflated text, a byte length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRef {
    /// Block number (the tail block has number `sealed blocks`).
    pub block: u64,
    /// Byte offset in the block's text.
    pub offset: u64,
    /// Byte length of the string.
    pub len: u64,
}

/// One compressed block.
#[derive(Debug, Clone)]
struct Sealed {
    deflated: Box<[u8]>,
    raw_len: usize,
}

/// A position in [`TextBlocks`] to roll back to (see [`TextBlocks::rollback`]).
#[derive(Debug, Clone, Copy)]
pub struct TextMark {
    pub(crate) blocks: usize,
    tail: usize,
    raw: usize,
}

/// Long strings in deflate-compressed blocks plus one open, uncompressed tail block.
///
/// # Memory
/// The compressed blocks and the tail's capacity (about [`TEXT_BLOCK_BYTES`] once used).
#[derive(Debug, Clone)]
pub struct TextBlocks {
    sealed: Vec<Sealed>,
    /// The tail is sealed once it holds this many bytes.
    block_bytes: usize,
    tail: Vec<u8>,
    /// Bytes of all strings ever pushed (sealed and tail).
    raw: usize,
    /// Compressed bytes of the sealed blocks.
    deflated: usize,
}

impl Default for TextBlocks {
    fn default() -> Self {
        Self::with_block_bytes(TEXT_BLOCK_BYTES)
    }
}

impl TextBlocks {
    /// No text, with blocks of [`TEXT_BLOCK_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// No text, sealing blocks once they hold `block_bytes` bytes (at least 1).
    pub fn with_block_bytes(block_bytes: usize) -> Self {
        TextBlocks {
            sealed: Vec::new(),
            block_bytes: block_bytes.max(1),
            tail: Vec::new(),
            raw: 0,
            deflated: 0,
        }
    }

    /// The size at which blocks are sealed.
    pub fn block_bytes(&self) -> usize {
        self.block_bytes
    }

    /// Appends `s` to the tail (sealing the tail when it is full) and says where it is.
    ///
    /// # Errors
    /// [`DocError::OutOfMemory`] when the tail cannot grow to hold `s`, or sealing it
    /// cannot get room for its compressed form: the memory is asked for with a fallible
    /// reservation, so a string too long for the memory there is is an error, not an
    /// abort. Nothing is changed then.
    pub fn push(&mut self, s: &str) -> Result<TextRef> {
        let r = TextRef {
            block: self.sealed.len() as u64,
            offset: self.tail.len() as u64,
            len: s.len() as u64,
        };
        let oom = |bytes: usize| DocError::OutOfMemory {
            what: "a long string",
            bytes,
        };
        if self.tail.capacity() == 0 {
            let first = self.block_bytes.min(TEXT_BLOCK_BYTES);
            self.tail.try_reserve_exact(first).map_err(|_| oom(first))?;
        }
        // Exact growth: the string that fills the tail would otherwise double it.
        self.tail
            .try_reserve_exact(s.len())
            .map_err(|_| oom(self.tail.len().saturating_add(s.len())))?;
        if self.tail.len() + s.len() >= self.block_bytes {
            // Sealed with the string: compressed before anything changes, so that a
            // failure leaves the tail as it was.
            let at = self.tail.len();
            self.tail.extend_from_slice(s.as_bytes());
            let deflated = match deflate(&self.tail) {
                Ok(d) => d,
                Err(bytes) => {
                    self.tail.truncate(at);
                    return Err(oom(bytes));
                }
            };
            self.raw += s.len();
            self.deflated += deflated.len();
            self.sealed.push(Sealed {
                deflated,
                raw_len: self.tail.len(),
            });
            self.tail.clear();
            if self.tail.capacity() > TEXT_BLOCK_BYTES.max(self.block_bytes) {
                // A long string's room is not kept for the strings after it.
                self.tail = Vec::new();
            }
        } else {
            self.tail.extend_from_slice(s.as_bytes());
            self.raw += s.len();
        }
        Ok(r)
    }

    /// The current end, for [`rollback`](TextBlocks::rollback).
    pub fn mark(&self) -> TextMark {
        TextMark {
            blocks: self.sealed.len(),
            tail: self.tail.len(),
            raw: self.raw,
        }
    }

    /// Forgets every string pushed since `mark` (blocks sealed since then included).
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if the block that was the tail at `mark` cannot be inflated
    /// (never for blocks this value sealed itself).
    pub fn rollback(&mut self, mark: TextMark) -> Result<()> {
        if self.sealed.len() > mark.blocks {
            let tail = inflate(&self.sealed[mark.blocks])?;
            for s in self.sealed.drain(mark.blocks..) {
                self.deflated -= s.deflated.len();
            }
            self.tail = tail;
        }
        self.tail.truncate(mark.tail);
        self.raw = mark.raw;
        Ok(())
    }

    /// Number of sealed blocks (the tail's block number).
    pub fn sealed_blocks(&self) -> usize {
        self.sealed.len()
    }

    /// Total bytes of the strings held (before compression).
    pub fn raw_bytes(&self) -> usize {
        self.raw
    }

    /// Bytes of memory held: compressed blocks, the tail's capacity, the block table.
    pub fn nbytes(&self) -> usize {
        self.deflated
            + self.tail.capacity()
            + self.sealed.capacity() * std::mem::size_of::<Sealed>()
    }

    /// Bytes of memory in use: compressed blocks and the tail's text (without spare
    /// capacity).
    pub fn used_bytes(&self) -> usize {
        self.deflated + self.tail.len()
    }

    /// Whether `r` lies inside the text held (its bytes may still not be UTF-8).
    pub fn contains(&self, r: TextRef) -> bool {
        let len = match usize::try_from(r.block) {
            Ok(b) if b < self.sealed.len() => self.sealed[b].raw_len,
            Ok(b) if b == self.sealed.len() => self.tail.len(),
            _ => return false,
        };
        r.offset
            .checked_add(r.len)
            .is_some_and(|end| end <= len as u64)
    }

    /// The tail's text, when `r` is in the tail.
    pub(crate) fn tail_of(&self, r: TextRef) -> Option<&[u8]> {
        (r.block == self.sealed.len() as u64).then_some(self.tail.as_slice())
    }

    /// Block `block` inflated.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] for a block number past the sealed blocks or a damaged block.
    pub(crate) fn inflate_block(&self, block: u64) -> Result<Arc<[u8]>> {
        let s = usize::try_from(block)
            .ok()
            .and_then(|b| self.sealed.get(b))
            .ok_or_else(|| bad("text reference names a block that does not exist"))?;
        Ok(inflate(s)?.into())
    }

    /// At most the bytes [`write_to`](TextBlocks::write_to) writes.
    pub(crate) fn image_len(&self) -> usize {
        10 + self.sealed.len() * 20 + self.deflated + 10 + self.tail.len()
    }

    /// Appends this value's image to `out`: the sealed blocks as they are, then the tail.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        use crate::variant::put_varint;
        put_varint(out, self.sealed.len() as u64);
        for s in &self.sealed {
            put_varint(out, s.raw_len as u64);
            put_varint(out, s.deflated.len() as u64);
            out.extend_from_slice(&s.deflated);
        }
        put_varint(out, self.tail.len() as u64);
        out.extend_from_slice(&self.tail);
    }

    /// Reads an image written by `write_to`, checking that every block inflates to its
    /// stated length.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] for damaged input.
    pub(crate) fn read_from(r: &mut crate::variant::Reader<'_>) -> Result<TextBlocks> {
        let n = r.length()?;
        if n > r.remaining() {
            return Err(DecodeError::Truncated { offset: r.pos }.into());
        }
        let mut out = TextBlocks::new();
        out.sealed.reserve_exact(n);
        for _ in 0..n {
            let raw_len = r.length()?;
            let m = r.length()?;
            let s = Sealed {
                deflated: r.take(m)?.into(),
                raw_len,
            };
            inflate(&s)?;
            out.raw += raw_len;
            out.deflated += m;
            out.sealed.push(s);
        }
        let m = r.length()?;
        out.tail = r.take(m)?.to_vec();
        out.raw += m;
        Ok(out)
    }
}

fn bad(reason: &'static str) -> DocError {
    DocError::Corrupt(DecodeError::Malformed { offset: 0, reason })
}

/// `data` deflated at [`LEVEL`] (as `miniz_oxide::deflate::compress_to_vec` makes it),
/// its output grown with fallible reservations: `Err(bytes)` when that room cannot be had.
fn deflate(data: &[u8]) -> std::result::Result<Box<[u8]>, usize> {
    use miniz_oxide::deflate::core::{
        CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
    };
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(LEVEL.into(), 0, 0));
    let mut out: Vec<u8> = Vec::new();
    let grow = |out: &mut Vec<u8>, len: usize| -> std::result::Result<(), usize> {
        out.try_reserve_exact(len - out.len()).map_err(|_| len)?;
        out.resize(len, 0);
        Ok(())
    };
    // Text compresses: a quarter of it (or 4 KiB) first, doubled as needed.
    grow(&mut out, (data.len() / 4).clamp(4096, 1 << 20))?;
    let (mut input, mut pos) = (data, 0);
    loop {
        let (status, used, wrote) = compress(&mut c, input, &mut out[pos..], TDEFLFlush::Finish);
        pos += wrote;
        input = input.get(used..).unwrap_or(&[]);
        match status {
            TDEFLStatus::Done => {
                out.truncate(pos);
                return Ok(out.into_boxed_slice());
            }
            TDEFLStatus::Okay => {
                if out.len() - pos < 64 {
                    let len = out.len().saturating_mul(2);
                    grow(&mut out, len)?;
                }
            }
            // Only for a bad argument (none is given here): as a failed allocation.
            _ => return Err(data.len()),
        }
    }
}

fn inflate(s: &Sealed) -> Result<Vec<u8>> {
    let v = miniz_oxide::inflate::decompress_to_vec_with_limit(&s.deflated, s.raw_len)
        .map_err(|_| bad("a text block does not inflate"))?;
    if v.len() != s.raw_len {
        return Err(bad("a text block inflates to the wrong length"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(t: &TextBlocks, r: TextRef) -> Vec<u8> {
        let (o, n) = (r.offset as usize, r.len as usize);
        match t.tail_of(r) {
            Some(tail) => tail[o..o + n].to_vec(),
            None => t.inflate_block(r.block).unwrap()[o..o + n].to_vec(),
        }
    }

    /// The fallible deflate inflates back to its input, for text that compresses and
    /// bytes that do not (its output then grows past its first guess), and compresses
    /// text as well as miniz's own `compress_to_vec`.
    #[test]
    fn deflate_matches_compress_to_vec() {
        let mut x: u64 = 1;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let text = "<p>some documentation text</p>".repeat(10_000);
        for data in [&b""[..], b"a", text.as_bytes(), &noise] {
            let got = deflate(data).unwrap();
            let theirs = miniz_oxide::deflate::compress_to_vec(data, LEVEL);
            assert!(
                got.len() <= theirs.len() + 64,
                "{} vs {}",
                got.len(),
                theirs.len()
            );
            let back = miniz_oxide::inflate::decompress_to_vec(&got).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn push_seal_read_and_roll_back() {
        let mut t = TextBlocks::new();
        let strings: Vec<String> = (0..3000)
            .map(|i| format!("<p>string number {i} with some repeated documentation text</p>"))
            .collect();
        let refs: Vec<TextRef> = strings.iter().map(|s| t.push(s).unwrap()).collect();
        assert!(t.sealed_blocks() > 2);
        assert!(
            t.nbytes() < t.raw_bytes() / 3,
            "{} vs {}",
            t.nbytes(),
            t.raw_bytes()
        );
        for (s, r) in strings.iter().zip(&refs) {
            assert!(t.contains(*r));
            assert_eq!(text_of(&t, *r), s.as_bytes());
        }
        let mark = t.mark();
        let before = t.clone();
        for s in &strings {
            t.push(s).unwrap();
        }
        t.rollback(mark).unwrap();
        assert_eq!(t.sealed_blocks(), before.sealed_blocks());
        assert_eq!(t.tail, before.tail);
        assert_eq!(t.deflated, before.deflated);
        assert_eq!(t.raw_bytes(), before.raw_bytes());
        let mut image = Vec::new();
        t.write_to(&mut image);
        let mut r = crate::variant::Reader {
            bytes: &image,
            pos: 0,
        };
        let back = TextBlocks::read_from(&mut r).unwrap();
        assert_eq!(r.pos, image.len());
        for (s, r) in strings.iter().zip(&refs) {
            assert_eq!(text_of(&back, *r), s.as_bytes());
        }
        let bad_ref = TextRef {
            block: refs[0].block,
            offset: u64::MAX,
            len: 2,
        };
        assert!(!t.contains(bad_ref));
        assert!(t.inflate_block(u64::MAX).is_err());
        image[5] ^= 0xff;
        let mut r = crate::variant::Reader {
            bytes: &image,
            pos: 0,
        };
        assert!(TextBlocks::read_from(&mut r).is_err());
    }
}
