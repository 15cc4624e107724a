//! Decompression by file extension: `.gz` (every member of a multi-member file) and
//! `.zst` (every frame), both decoded in pure Rust.

use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// A decoder for `ext` (`gz` or `zst`) over `raw`.
///
/// # Errors
/// A message if `ext` names no codec, or the zstd frame header is unreadable.
pub fn decoder(ext: &str, raw: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, String> {
    match ext {
        "gz" => Ok(Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(
            raw,
        )))),
        "zst" => {
            let src = BufReader::new(raw);
            let dec = StreamingDecoder::new(src).map_err(|e| format!("not a zstd stream: {e}"))?;
            Ok(Box::new(ZstdFrames { dec: Some(dec) }))
        }
        other => Err(format!(".{other} input is not supported")),
    }
}

/// Reads every frame of a zstd stream (the decoder itself stops after one).
struct ZstdFrames<R: BufRead> {
    dec: Option<StreamingDecoder<R, FrameDecoder>>,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // End of a frame: go on if another one follows.
            let Some(done) = self.dec.take() else {
                return Ok(0);
            };
            let (mut src, frame) = done.into_parts();
            if src.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.dec = Some(
                StreamingDecoder::new_with_decoder(src, frame)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
            );
        }
    }
}
