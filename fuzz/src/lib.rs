//! What the fuzz targets of serialized images share: edits of a known-good image, and the
//! checksum to seal an edited image again so that only the structural checks stand
//! between the bytes and a loaded value.

/// `good` with `edits` applied: each three bytes are a little-endian position (modulo
/// the image's length) and the byte to put there. With `cut`, the image is then cut at
/// four times the last edit's byte.
pub fn edited(good: &[u8], edits: &[u8], cut: bool) -> Vec<u8> {
    let mut b = good.to_vec();
    if b.is_empty() {
        return b;
    }
    for e in edits.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([e[0], e[1]])) % b.len();
        b[at] = e[2];
    }
    if cut {
        if let Some(e) = edits.chunks_exact(3).last() {
            b.truncate(usize::from(e[2]) * 4);
        }
    }
    b
}

/// CRC-32 (IEEE) of `parts` one after another, bit by bit: the fuzz crate needs no
/// checksum dependency.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for b in parts.iter().flat_map(|p| p.iter()) {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
