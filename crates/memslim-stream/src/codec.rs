//! Decompression by file extension: `.gz`/`.gzip` (every member of a multi-member file;
//! NUL bytes after a member, the padding tape and block devices add, are skipped as
//! Python's `gzip` module skips them) and `.zst`/`.zstd` (every frame; skippable frames,
//! as pzstd and the seekable format write, are skipped), both decoded in pure Rust, with
//! their checksums verified: gzip's CRC-32 and length by flate2, each zstd frame's content
//! checksum (XXH64) here.
//!
//! Damaged data is reported as an [`io::Error`] carrying a [`CorruptData`], which the
//! readers turn into [`crate::StreamError::Corrupt`]; an error of the underlying file is
//! passed through unchanged.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// Damaged compressed data (the payload of an [`io::Error`] of kind `InvalidData`).
#[derive(Debug)]
pub(crate) struct CorruptData(String);

impl fmt::Display for CorruptData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CorruptData {}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, CorruptData(msg))
}

/// Compressed input memslim does not decode though it is not damaged (the payload of an
/// [`io::Error`] of kind `Unsupported`): a zstd frame asking for a window past the limit.
#[derive(Debug)]
pub(crate) struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The reason, if `e` reports compressed input that is refused rather than damaged.
pub(crate) fn refused_reason(e: &io::Error) -> Option<String> {
    e.get_ref()?.downcast_ref::<Refused>().map(|r| r.0.clone())
}

/// The largest window a zstd frame may ask for: ruzstd's limit, which it checks but does
/// not export (its error message quotes the format's maximum instead).
pub(crate) const ZSTD_MAX_WINDOW: u64 = 100 << 20;

/// The error for zstd frame `frame` (from 1) asking for a `requested`-byte window.
fn window_too_big(frame: u64, requested: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        Refused(format!(
            "zstd frame {frame} asks for a window of {requested} bytes, past the limit of \
             {ZSTD_MAX_WINDOW} bytes (100 MiB) that memslim decodes (frames made with \
             `zstd --long` or `--ultra -22` on large inputs need more)"
        )),
    )
}

/// The reason, if `e` reports damaged compressed data.
pub(crate) fn corrupt_reason(e: &io::Error) -> Option<String> {
    e.get_ref()?
        .downcast_ref::<CorruptData>()
        .map(|c| c.0.clone())
}

/// Remembers whether the underlying source failed, so that a decoder's error can be told
/// apart: the file's own I/O error, or damaged data.
struct Watched {
    inner: Box<dyn Read + Send>,
    failed: Arc<AtomicBool>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if r.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        r
    }
}

/// A decoder's error: the source's I/O error as it is, anything else as damaged data.
fn classify(e: io::Error, failed: &AtomicBool, codec: &str) -> io::Error {
    if failed.load(Ordering::Relaxed)
        || e.kind() == io::ErrorKind::Interrupted
        || corrupt_reason(&e).is_some()
        || refused_reason(&e).is_some()
    {
        e
    } else {
        corrupt(format!("{codec}: {e}"))
    }
}

/// A compression format the readers decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    Gzip,
    Zstd,
}

/// The file extensions (lower case, without the dot) read as compressed, and how.
///
/// The one list: opening a path, [`crate::Input::from_compressed`] and, through
/// [`compressed_extensions`], the Python pipeline's choice of reader all go by it, so a
/// suffix is never taken for compressed in one place and read as text in another.
const EXTENSIONS: [(&str, Codec); 4] = [
    ("gz", Codec::Gzip),
    ("gzip", Codec::Gzip),
    ("zst", Codec::Zstd),
    ("zstd", Codec::Zstd),
];

/// The codec of a file extension (without the dot, any case), if it names one.
fn codec_of(ext: &str) -> Option<Codec> {
    EXTENSIONS
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|&(_, codec)| codec)
}

/// Whether a file with extension `ext` (without the dot, any case) is decompressed.
pub(crate) fn is_compressed(ext: &str) -> bool {
    codec_of(ext).is_some()
}

/// The file extensions (lower case, without the dot) a path is decompressed by:
/// `gz`, `gzip`, `zst`, `zstd`.
pub fn compressed_extensions() -> impl Iterator<Item = &'static str> {
    EXTENSIONS.iter().map(|&(ext, _)| ext)
}

/// A zstd frame header that asks for the smallest window: decoding it first makes
/// ruzstd check every real frame's window against its limit (it skips the check for the
/// first frame a decoder sees), so a hostile header cannot make it keep gigabytes.
const TINY_FRAME_HEADER: [u8; 6] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00];

/// A decoder for `ext` (one of [`compressed_extensions`], any case) over `raw`.
///
/// # Errors
/// [`io::ErrorKind::Unsupported`] if `ext` names no codec, or the first zstd frame asks
/// for a window past the limit. For zstd, whose first frame header is read here: an
/// empty input, or a header that is cut off or not zstd, as damaged data
/// ([`corrupt_reason`] gives it), as gzip reports them on its first read; the source's
/// own I/O error as it is.
pub fn decoder(ext: &str, raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let failed = Arc::new(AtomicBool::new(false));
    let src = BufReader::new(Watched {
        inner: raw,
        failed: failed.clone(),
    });
    match codec_of(ext) {
        Some(Codec::Gzip) => Ok(Box::new(Gzip {
            dec: flate2::bufread::GzDecoder::new(src),
            failed,
            done: false,
        })),
        Some(Codec::Zstd) => {
            let mut frame = FrameDecoder::new();
            frame
                .init(&TINY_FRAME_HEADER[..])
                .map_err(|e| io::Error::other(format!("zstd: {e}")))?;
            let mut src = Peek {
                head: Vec::new(),
                inner: src,
            };
            let classified = |e: io::Error| classify(e, &failed, "zstd");
            // As gzip: an empty file is no stream (a compressor writes a frame even for
            // no data), so it is damaged, most likely cut short.
            if src.peek(1).map_err(classified)?.is_empty() {
                return Err(corrupt("zstd: the input is empty, not a zstd frame".into()));
            }
            if !skip_skippable(&mut src).map_err(classified)? {
                // Nothing but skippable frames.
                return Ok(Box::new(io::empty()));
            }
            let dec =
                StreamingDecoder::new_with_decoder(src, frame).map_err(|e| {
                    match header_error(e) {
                        refused if refused.kind() == io::ErrorKind::Unsupported => refused,
                        damaged => classified(damaged),
                    }
                })?;
            Ok(Box::new(ZstdFrames {
                dec: Some(dec),
                frames: 1,
                failed,
            }))
        }
        None => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(".{ext} input is not supported"),
        )),
    }
}

/// The error for a first zstd frame header that cannot be read: damaged data (cut off,
/// not zstd, invalid), except a window past [`ZSTD_MAX_WINDOW`], which is a frame
/// memslim refuses ([`io::ErrorKind::Unsupported`], a [`Refused`]) rather than a damaged
/// one.
fn header_error(e: FrameDecoderError) -> io::Error {
    use ruzstd::decoding::errors::ReadFrameHeaderError as H;
    match e {
        FrameDecoderError::WindowSizeTooBig { requested } => window_too_big(1, requested),
        FrameDecoderError::ReadFrameHeaderError(H::BadMagicNumber(m)) => {
            io::Error::other(format!("not a zstd stream (magic number 0x{m:08X})"))
        }
        FrameDecoderError::ReadFrameHeaderError(h) => {
            io::Error::other(format!("the first frame header is cut off or invalid: {h}"))
        }
        other => io::Error::other(format!("the first frame header is invalid: {other}")),
    }
}

/// gzip members one after the other, NUL padding after each skipped, with their errors
/// classified.
///
/// flate2's `MultiGzDecoder` would take the padding for a damaged header; the members are
/// walked here instead, on one decoder whose buffers every member reuses.
struct Gzip {
    dec: flate2::bufread::GzDecoder<BufReader<Watched>>,
    failed: Arc<AtomicBool>,
    /// The last member has been read.
    done: bool,
}

impl Gzip {
    /// Moves past the NUL padding after a member; `false` if the input ends there, else
    /// the decoder is ready for the member that follows (whose header, if it is not one,
    /// is damaged data, as in Python's `gzip`).
    fn next_member(&mut self) -> io::Result<bool> {
        if !skip_nul_padding(self.dec.get_mut())? {
            return Ok(false);
        }
        // `reset` starts the decoder afresh on a source it is handed: hand it a
        // placeholder to get the source back, then the source again.
        let idle = BufReader::with_capacity(
            0,
            Watched {
                inner: Box::new(io::empty()),
                failed: self.failed.clone(),
            },
        );
        let src = self.dec.reset(idle);
        self.dec.reset(src);
        Ok(true)
    }
}

impl Read for Gzip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.done {
            let n = self
                .dec
                .read(buf)
                .map_err(|e| classify(e, &self.failed, "gzip"))?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member ended, its CRC-32 and length checked.
            self.done = !self
                .next_member()
                .map_err(|e| classify(e, &self.failed, "gzip"))?;
        }
        Ok(0)
    }
}

/// Consumes the NUL bytes at the front of `src`; `false` if nothing follows them.
fn skip_nul_padding(src: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let head = match src.fill_buf() {
            Ok(head) => head,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if head.is_empty() {
            return Ok(false);
        }
        let nuls = head.iter().take_while(|&&b| b == 0).count();
        let more = nuls < head.len();
        src.consume(nuls);
        if more {
            return Ok(true);
        }
    }
}

/// A reader that can look a few bytes ahead.
struct Peek<R> {
    /// Bytes read ahead, handed out first.
    head: Vec<u8>,
    inner: R,
}

impl<R: Read> Peek<R> {
    /// Up to `n` next bytes, without consuming them (fewer only at the end).
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let mut chunk = [0u8; 16];
        while self.head.len() < n {
            let want = (n - self.head.len()).min(chunk.len());
            match self.inner.read(&mut chunk[..want]) {
                Ok(0) => break,
                Ok(k) => self.head.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.head)
    }
}

impl<R: Read> Read for Peek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head.is_empty() {
            return self.inner.read(buf);
        }
        let n = buf.len().min(self.head.len());
        buf[..n].copy_from_slice(&self.head[..n]);
        self.head.drain(..n);
        Ok(n)
    }
}

/// Skips any skippable frames (magic `0x184D2A5?`, a 4-byte length, that many bytes);
/// `false` if the stream ends there.
fn skip_skippable<R: Read>(src: &mut Peek<R>) -> io::Result<bool> {
    loop {
        let head = src.peek(8)?;
        if head.is_empty() {
            return Ok(false);
        }
        let magic = head
            .get(..4)
            .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        if magic.is_none_or(|m| m & 0xFFFF_FFF0 != 0x184D_2A50) {
            return Ok(true);
        }
        let Some(len) = head
            .get(4..8)
            .map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]))
        else {
            return Err(corrupt("zstd: a skippable frame is cut off".into()));
        };
        src.head.clear();
        let skipped = io::copy(&mut src.by_ref().take(u64::from(len)), &mut io::sink())?;
        if skipped < u64::from(len) {
            return Err(corrupt("zstd: a skippable frame is cut off".into()));
        }
    }
}

/// Reads every frame of a zstd stream (the decoder itself stops after one), checking
/// each frame's content checksum when it has one.
struct ZstdFrames<R: Read> {
    dec: Option<StreamingDecoder<Peek<R>, FrameDecoder>>,
    /// 1-based number of the current frame (for messages).
    frames: u64,
    failed: Arc<AtomicBool>,
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec
                .read(buf)
                .map_err(|e| classify(e, &self.failed, "zstd"))?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // End of a frame: check it, then go on if another one follows.
            let Some(done) = self.dec.take() else {
                return Ok(0);
            };
            let (mut src, frame) = done.into_parts();
            if let Some(stored) = frame.get_checksum_from_data() {
                let computed = frame.get_calculated_checksum();
                if computed != Some(stored) {
                    return Err(corrupt(format!(
                        "zstd frame {}: content checksum mismatch (stored {stored:08x}, \
                         computed {:08x})",
                        self.frames,
                        computed.unwrap_or(0)
                    )));
                }
            }
            let more = skip_skippable(&mut src).map_err(|e| classify(e, &self.failed, "zstd"))?;
            if !more {
                return Ok(0);
            }
            self.frames += 1;
            self.dec = Some(StreamingDecoder::new_with_decoder(src, frame).map_err(|e| {
                match e {
                    // Refused as the first frame is, not taken for damage.
                    FrameDecoderError::WindowSizeTooBig { requested } => {
                        window_too_big(self.frames, requested)
                    }
                    e => classify(
                        io::Error::other(e.to_string()),
                        &self.failed,
                        &format!("zstd frame {}", self.frames),
                    ),
                }
            })?);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read, Write};

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gunzip(data: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder("gz", Box::new(Cursor::new(data)))?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn nul_padding_after_a_gzip_member_is_skipped() {
        let one = gz(b"a\n");
        let two = gz(b"b\n");
        // After the last member, and between two (as Python's gzip module reads them).
        for padding in [1, 7, 512, 100_000] {
            let nuls = vec![0u8; padding];
            assert_eq!(gunzip([&one[..], &nuls].concat()).unwrap(), b"a\n");
            let both = [&one[..], &nuls, &two, &nuls].concat();
            assert_eq!(gunzip(both).unwrap(), b"a\nb\n");
        }
        assert_eq!(gunzip([one.clone(), two].concat()).unwrap(), b"a\nb\n");
    }

    #[test]
    fn other_bytes_after_a_gzip_member_are_damaged_data() {
        let one = gz(b"a\n");
        for tail in [&b"x"[..], b"\0\0garbage", b"\0\x1f", b"\x1f\x8b"] {
            let e = gunzip([&one[..], tail].concat()).unwrap_err();
            assert!(corrupt_reason(&e).is_some(), "{tail:?}: {e}");
        }
        // Padding is skipped after a member only: NULs alone are no gzip stream.
        let e = gunzip(vec![0; 16]).unwrap_err();
        assert!(corrupt_reason(&e).is_some(), "{e}");
        let e = gunzip(Vec::new()).unwrap_err();
        assert!(corrupt_reason(&e).is_some(), "{e}");
    }
}
