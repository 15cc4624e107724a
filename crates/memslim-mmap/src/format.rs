//! The commit index next to a record file: fixed-size, checksummed entries, one per
//! Arrow IPC message that is part of the committed data.
//!
//! ```text
//! header  16 bytes: magic "MSLMIDX\0" | version u32 | crc32 of the 12 bytes before
//! entry   40 bytes: offset u64 | len u64 | rows u64 | kind u32 | crc32 of the message
//!                   bytes u32 | reserved u32 (0) | crc32 of the 36 bytes before
//! ```
//! All integers little-endian. Entries are contiguous: each message starts where the
//! previous one ended, the first (a schema) at offset 0 of the data file.

/// Magic bytes at the start of an index file.
pub const INDEX_MAGIC: &[u8; 8] = b"MSLMIDX\0";
/// The index format version this build writes and reads.
pub const INDEX_VERSION: u32 = 1;
/// Header size in bytes.
pub const HEADER_LEN: usize = 16;
/// Entry size in bytes.
pub const ENTRY_LEN: usize = 40;

/// What an indexed Arrow IPC message holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The stream's schema (always the first message).
    Schema = 1,
    /// A record batch.
    Batch = 2,
    /// A dictionary batch (only in foreign files; memslim writes plain strings).
    Dictionary = 3,
}

/// One committed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Byte offset of the message in the data file.
    pub offset: u64,
    /// Byte length of the message (prefix, metadata and body).
    pub len: u64,
    /// Rows in a record batch (0 otherwise).
    pub rows: u64,
    /// What the message is.
    pub kind: Kind,
    /// crc32 of the message bytes, `None` for foreign files indexed in memory.
    pub crc: Option<u32>,
}

impl Entry {
    /// Byte offset just past the message.
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// The 16 header bytes.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(INDEX_MAGIC);
    h[8..12].copy_from_slice(&INDEX_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header (a creation that did not finish).
    Short,
    /// Not our magic.
    Magic,
    /// Checksum mismatch.
    Checksum,
    /// A newer format.
    Future(u32),
}

/// Checks an index header.
pub fn check_header(b: &[u8]) -> Result<(), HeaderError> {
    if b.len() < HEADER_LEN {
        return Err(HeaderError::Short);
    }
    if &b[..8] != INDEX_MAGIC {
        return Err(HeaderError::Magic);
    }
    if crc32fast::hash(&b[..12]) != u32::from_le_bytes([b[12], b[13], b[14], b[15]]) {
        return Err(HeaderError::Checksum);
    }
    let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if version > INDEX_VERSION {
        return Err(HeaderError::Future(version));
    }
    Ok(())
}

/// The 40 bytes of an entry.
pub fn encode_entry(e: &Entry) -> [u8; ENTRY_LEN] {
    let mut b = [0u8; ENTRY_LEN];
    b[0..8].copy_from_slice(&e.offset.to_le_bytes());
    b[8..16].copy_from_slice(&e.len.to_le_bytes());
    b[16..24].copy_from_slice(&e.rows.to_le_bytes());
    b[24..28].copy_from_slice(&(e.kind as u32).to_le_bytes());
    b[28..32].copy_from_slice(&e.crc.unwrap_or(0).to_le_bytes());
    let crc = crc32fast::hash(&b[..36]);
    b[36..40].copy_from_slice(&crc.to_le_bytes());
    b
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(a)
}

/// Decodes an entry; `None` if its checksum or kind does not check out.
pub fn decode_entry(b: &[u8]) -> Option<Entry> {
    if b.len() < ENTRY_LEN || crc32fast::hash(&b[..36]) != u32_at(b, 36) {
        return None;
    }
    let kind = match u32_at(b, 24) {
        1 => Kind::Schema,
        2 => Kind::Batch,
        3 => Kind::Dictionary,
        _ => return None,
    };
    Some(Entry {
        offset: u64_at(b, 0),
        len: u64_at(b, 8),
        rows: u64_at(b, 16),
        kind,
        crc: Some(u32_at(b, 28)),
    })
}

/// How an index's entries ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The entries that check out, in order.
    pub entries: Vec<Entry>,
    /// Bytes of the index past the last good entry (a torn append), to be dropped.
    pub torn_bytes: usize,
}

/// Parses the entries after the header. A bad or partial *last* entry is a torn append
/// (dropped and reported); a bad entry followed by more data, or entries that do not
/// follow each other, are corruption, reported as `Err((byte offset in the index, why))`.
///
/// Parsing starts at byte `pos` of `b`; `prev_end` is where the last entry already known
/// ends (`None`: none known, so the first must be the schema).
pub fn parse_entries(
    b: &[u8],
    mut pos: usize,
    prev_end: Option<u64>,
) -> Result<Parsed, (u64, String)> {
    let mut entries: Vec<Entry> = Vec::new();
    while pos < b.len() {
        let rest = &b[pos..];
        let good = if rest.len() >= ENTRY_LEN {
            decode_entry(&rest[..ENTRY_LEN])
        } else {
            None
        };
        let Some(e) = good else {
            if rest.len() <= ENTRY_LEN {
                return Ok(Parsed {
                    entries,
                    torn_bytes: rest.len(),
                });
            }
            return Err((pos as u64, "index entry checksum mismatch".into()));
        };
        let expected = entries.last().map(Entry::end).or(prev_end).unwrap_or(0);
        if e.offset != expected {
            return Err((
                pos as u64,
                format!(
                    "entry at data offset {} where {expected} was expected",
                    e.offset
                ),
            ));
        }
        if (entries.is_empty() && prev_end.is_none()) != (e.kind == Kind::Schema) {
            return Err((pos as u64, "schema entry out of place".into()));
        }
        entries.push(e);
        pos += ENTRY_LEN;
    }
    Ok(Parsed {
        entries,
        torn_bytes: 0,
    })
}
