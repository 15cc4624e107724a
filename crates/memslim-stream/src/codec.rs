//! Decompression by file extension.

use std::io::Read;

/// A decoder for `ext` (`gz` or `zst`) over `raw`.
///
/// # Errors
/// A message if the codec is not built in.
pub fn decoder(ext: &str, raw: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, String> {
    drop(raw);
    Err(format!(".{ext} input is not supported by this build"))
}
