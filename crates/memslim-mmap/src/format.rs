//! The commit index next to a record file: fixed-size, checksummed entries, one per
//! Arrow IPC message that is part of the committed data.
//!
//! ```text
//! header  16 bytes: magic "MSLMIDX\0" | version u32 | crc32 of the 12 bytes before
//! entry   40 bytes: offset u64 | len u64 | rows u64 | kind u32 | crc32 of the message
//!                   bytes u32 | flags u32 | crc32 of the 36 bytes before
//! ```
//! All integers little-endian. Entries are contiguous: each message starts where the
//! previous one ended, the first (a schema) at offset 0 of the data file.
//!
//! A file whose schema grew holds several Arrow IPC streams back to back (segments): an
//! [`MessageKind::End`] entry (the 8-byte end-of-stream marker) is always followed by the
//! [`MessageKind::Schema`] entry of the next segment, in the same commit.
//!
//! One flush appends several entries at once; flag bit 0 ([`LAST_OF_COMMIT`]) marks the
//! last of them. Entries after the last marked one are an append that did not finish
//! (its pages may reach the disk in any order, so some may check out and some not) and
//! are dropped as a torn tail; a damaged entry before it is corruption. Version 1 indexes
//! (one segment, flags 0) count every entry as a commit of its own.

/// Magic bytes at the start of an index file.
pub const INDEX_MAGIC: &[u8; 8] = b"MSLMIDX\0";
/// The index format version this build writes and reads.
pub const INDEX_VERSION: u32 = 2;
/// Header size in bytes.
pub const HEADER_LEN: usize = 16;
/// Entry size in bytes.
pub const ENTRY_LEN: usize = 40;
/// Entry flag: the last entry of one commit (one flush).
pub const LAST_OF_COMMIT: u32 = 1;

/// What an indexed Arrow IPC message holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A segment's schema (the first message, and the one after each [`MessageKind::End`]).
    Schema = 1,
    /// A record batch.
    Batch = 2,
    /// A dictionary batch (only in foreign files; memslim writes plain strings).
    Dictionary = 3,
    /// An end-of-stream marker closing a segment whose successor has a wider schema.
    End = 4,
}

/// The old name of [`MessageKind`].
#[deprecated(
    since = "0.1.0",
    note = "renamed to MessageKind; this alias goes in the next release"
)]
pub type Kind = MessageKind;

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
    pub kind: MessageKind,
    /// crc32 of the message bytes, `None` for foreign files indexed in memory.
    pub crc: Option<u32>,
}

impl Entry {
    /// Byte offset just past the message.
    pub fn end(&self) -> u64 {
        // Saturating: an index entry is checked to fit (`parse_entries`), but a crafted
        // one must not wrap around to an offset that does.
        self.offset.saturating_add(self.len)
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

/// Checks an index header; returns its version.
pub fn check_header(b: &[u8]) -> Result<u32, HeaderError> {
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
    Ok(version)
}

/// The 40 bytes of an entry; `last_of_commit` sets [`LAST_OF_COMMIT`].
pub fn encode_entry(e: &Entry, last_of_commit: bool) -> [u8; ENTRY_LEN] {
    let mut b = [0u8; ENTRY_LEN];
    b[0..8].copy_from_slice(&e.offset.to_le_bytes());
    b[8..16].copy_from_slice(&e.len.to_le_bytes());
    b[16..24].copy_from_slice(&e.rows.to_le_bytes());
    b[24..28].copy_from_slice(&(e.kind as u32).to_le_bytes());
    b[28..32].copy_from_slice(&e.crc.unwrap_or(0).to_le_bytes());
    if last_of_commit {
        b[32..36].copy_from_slice(&LAST_OF_COMMIT.to_le_bytes());
    }
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

/// Decodes an entry and whether it ends a commit; `None` if its checksum or kind does
/// not check out.
pub fn decode_entry(b: &[u8]) -> Option<(Entry, bool)> {
    if b.len() < ENTRY_LEN || crc32fast::hash(&b[..36]) != u32_at(b, 36) {
        return None;
    }
    let kind = match u32_at(b, 24) {
        1 => MessageKind::Schema,
        2 => MessageKind::Batch,
        3 => MessageKind::Dictionary,
        4 => MessageKind::End,
        _ => return None,
    };
    let e = Entry {
        offset: u64_at(b, 0),
        len: u64_at(b, 8),
        rows: u64_at(b, 16),
        kind,
        crc: Some(u32_at(b, 28)),
    };
    Some((e, u32_at(b, 32) & LAST_OF_COMMIT != 0))
}

/// How an index's entries ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The committed entries that check out, in order, up to the first damage if any.
    pub entries: Vec<Entry>,
    /// Where the last commit among `entries` starts (an index into `entries`).
    pub last_commit: usize,
    /// Bytes of the index past the last good commit, to be dropped.
    pub torn_bytes: usize,
    /// Damage that is no torn append, `(byte offset in the index, why)`: the index holds
    /// more than `entries`, and only an explicit repair may drop it.
    pub damage: Option<(u64, String)>,
}

/// Sector size: a write that a crash interrupts reaches the disk in whole sectors,
/// and a file extended by it reads zeros where its sectors never came.
const SECTOR: usize = 512;

/// Whether `raw`, the entry at byte `at` of the index, looks like an append that never
/// fully reached the disk: all zeros, or zeros from its start up to a sector boundary or
/// from a sector boundary to its end. A bit flip in a written entry does not look like
/// this (an entry's checksum ends it and its offset starts it, neither all zero).
fn unwritten(raw: &[u8], at: usize) -> bool {
    let zero = |b: &[u8]| b.iter().all(|&x| x == 0);
    zero(raw)
        || (1..raw.len())
            .filter(|k| (at + k).is_multiple_of(SECTOR))
            .any(|k| zero(&raw[..k]) || zero(&raw[k..]))
}

/// Parses the entries after the header, up to the last one that ends a commit.
///
/// What follows the last commit is a **torn append** (dropped and reported in
/// `torn_bytes`) when it looks like what a crash during an append leaves: entries
/// that check out and fit, entries not (or not wholly) written (zeros up to or from a
/// sector boundary),
/// and a last entry cut short. Anything else is **damage** (`damage`): a full-length
/// entry that fails its checksum, an entry that checks out but does not follow the
/// one before it, a damaged entry before a commit. `entries` then holds the commits
/// before the damage.
///
/// Parsing starts at byte `pos` of `b`; `prev` is the last entry already known (`None`:
/// none known, so the first must be the schema); `version` is the header's.
pub fn parse_entries(b: &[u8], mut pos: usize, prev: Option<Entry>, version: u32) -> Parsed {
    let mut entries: Vec<Entry> = Vec::new();
    let (mut committed, mut last_commit) = (0usize, 0usize);
    let mut committed_end = pos;
    // The first problem after the last commit seen so far, and whether every problem
    // since then looks like an unfinished write.
    let mut problem: Option<(u64, String)> = None;
    let mut unfinished = true;
    let done = |entries: Vec<Entry>, last_commit, committed_end, damage| Parsed {
        entries,
        last_commit,
        torn_bytes: b.len() - committed_end,
        damage,
    };
    while pos + ENTRY_LEN <= b.len() {
        let raw = &b[pos..pos + ENTRY_LEN];
        let at = pos;
        pos += ENTRY_LEN;
        let Some((e, last)) = decode_entry(raw) else {
            problem.get_or_insert((at as u64, "index entry checksum mismatch".into()));
            unfinished &= unwritten(raw, at);
            continue;
        };
        // Version 1 has no commit marks: every entry but a segment's end marker (which
        // never ends a commit) stands for one.
        let commits = last || version < 2 && e.kind != MessageKind::End;
        if let Some(p) = &problem {
            if commits {
                entries.truncate(committed);
                return done(entries, last_commit, committed_end, Some(p.clone()));
            }
            continue;
        }
        let prior = entries.last().copied().or(prev);
        let expected = prior.map_or(0, |l| l.end());
        let schema_due = prior.is_none_or(|l| l.kind == MessageKind::End);
        let why = if e.offset != expected {
            Some(format!(
                "entry at data offset {} where {expected} was expected",
                e.offset
            ))
        } else if schema_due != (e.kind == MessageKind::Schema) {
            Some("schema entry out of place".to_owned())
        } else if e.offset.checked_add(e.len).is_none() {
            Some(format!(
                "entry length {} runs past the largest offset",
                e.len
            ))
        } else {
            None
        };
        if let Some(why) = why {
            // An entry that checks out but does not fit is no torn write.
            if commits {
                entries.truncate(committed);
                return done(entries, last_commit, committed_end, Some((at as u64, why)));
            }
            problem = Some((at as u64, why));
            unfinished = false;
            continue;
        }
        entries.push(e);
        if commits {
            last_commit = committed;
            committed = entries.len();
            committed_end = pos;
        }
    }
    entries.truncate(committed);
    let damage = if unfinished { None } else { problem };
    done(entries, last_commit, committed_end, damage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u64, len: u64, kind: MessageKind) -> Entry {
        Entry {
            offset,
            len,
            rows: u64::from(kind == MessageKind::Batch),
            kind,
            crc: Some(0),
        }
    }

    /// Header, then (entry, last of its commit) pairs.
    fn index(version: u32, es: &[(Entry, bool)]) -> Vec<u8> {
        let mut b = header().to_vec();
        b[8..12].copy_from_slice(&version.to_le_bytes());
        for (e, last) in es {
            b.extend_from_slice(&encode_entry(e, *last));
        }
        b
    }

    fn ok(p: Parsed) -> Parsed {
        assert_eq!(p.damage, None);
        p
    }

    #[test]
    fn an_unfinished_commit_is_torn_and_damage_is_damage() {
        let s = entry(0, 10, MessageKind::Schema);
        let b1 = entry(10, 10, MessageKind::Batch);
        let end = entry(20, 8, MessageKind::End);
        let s2 = entry(28, 10, MessageKind::Schema);
        let b2 = entry(38, 10, MessageKind::Batch);
        let full = index(
            2,
            &[
                (s, false),
                (b1, true),
                (end, false),
                (s2, false),
                (b2, true),
            ],
        );
        let p = ok(parse_entries(&full, HEADER_LEN, None, 2));
        assert_eq!(p.entries, [s, b1, end, s2, b2]);
        assert_eq!((p.torn_bytes, p.last_commit), (0, 2));
        // the last commit lost its final entry, or part of it: all of it goes
        for cut in [full.len() - ENTRY_LEN, full.len() - 1] {
            let p = ok(parse_entries(&full[..cut], HEADER_LEN, None, 2));
            assert_eq!(p.entries, [s, b1], "cut {cut}");
            assert_eq!(p.torn_bytes, cut - HEADER_LEN - 2 * ENTRY_LEN);
        }
        // a full-length last entry that fails its checksum is damage, not a torn write
        let n = full.len();
        for i in 0..ENTRY_LEN {
            let mut garbled = full.clone();
            garbled[n - ENTRY_LEN + i] ^= 1;
            let p = parse_entries(&garbled, HEADER_LEN, None, 2);
            assert_eq!(p.entries, [s, b1]);
            assert_eq!(
                p.damage.map(|d| d.0),
                Some((n - ENTRY_LEN) as u64),
                "byte {i}"
            );
        }
        // ...unless it was never (wholly) written: zeros, or zeros past a sector boundary
        let mut zeros = full.clone();
        zeros[n - ENTRY_LEN..].fill(0);
        assert_eq!(
            ok(parse_entries(&zeros, HEADER_LEN, None, 2)).entries,
            [s, b1]
        );
        let mut long = index(2, &[(s, false), (b1, true)]);
        for k in 0..12 {
            long.extend_from_slice(&encode_entry(
                &entry(20 + 10 * k, 10, MessageKind::Batch),
                k == 11,
            ));
        }
        // entry 12 spans bytes 496..536: the sector boundary is 16 bytes into it
        let e12 = HEADER_LEN + 12 * ENTRY_LEN;
        assert!(e12 < 512 && e12 + ENTRY_LEN > 512);
        let cut = &long[..e12 + ENTRY_LEN];
        let mut half = cut.to_vec();
        half[512..].fill(0);
        assert_eq!(
            ok(parse_entries(&half, HEADER_LEN, None, 2)).entries.len(),
            2
        );
        let mut half = cut.to_vec();
        half[e12..512].fill(0);
        assert_eq!(
            ok(parse_entries(&half, HEADER_LEN, None, 2)).entries.len(),
            2
        );
        // pages of an unfinished append reach the disk in any order
        let mut holes = full.clone();
        holes[HEADER_LEN + 3 * ENTRY_LEN..HEADER_LEN + 4 * ENTRY_LEN].fill(0);
        let mut holes_unfinished = holes.clone();
        holes_unfinished.truncate(n - ENTRY_LEN);
        assert_eq!(
            ok(parse_entries(&holes_unfinished, HEADER_LEN, None, 2)).entries,
            [s, b1]
        );
        // ...but a damaged entry inside a finished commit is damage
        let p = parse_entries(&holes, HEADER_LEN, None, 2);
        assert_eq!(p.entries, [s, b1]);
        assert!(p.damage.is_some());
        // version 1: every entry commits, except a segment's end marker
        let v1 = index(1, &[(s, false), (b1, false), (end, false)]);
        let p = ok(parse_entries(&v1, HEADER_LEN, None, 1));
        assert_eq!(
            (p.entries.as_slice(), p.torn_bytes),
            (&[s, b1][..], ENTRY_LEN)
        );
        // a batch where a schema is due
        let bad = index(
            2,
            &[
                (s, false),
                (b1, true),
                (end, false),
                (entry(28, 10, MessageKind::Batch), true),
            ],
        );
        assert!(parse_entries(&bad, HEADER_LEN, None, 2).damage.is_some());
    }
}
