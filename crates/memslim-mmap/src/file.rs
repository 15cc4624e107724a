//! [`RecordFile`]: a persistent, append-only list of records in an Arrow IPC stream,
//! read through a memory map, with a checksummed commit index beside it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::FileDecoder;
use arrow_ipc::{Block, MetadataVersion};
use arrow_schema::{DataType, SchemaRef};
use memslim_records::{
    Cell, CellRef, RecordList, RecordsError, arrow_cell, check_arrow_type, is_variant_field,
};

use crate::cells::{self, BatchCells};
use crate::error::{MmapError, Result, io};
use crate::exact::{self, Extras};
use crate::format::{self, ENTRY_LEN, Entry, HEADER_LEN, HeaderError, MessageKind};
use crate::ipc::{self, Encoder, FILE_MAGIC};
use crate::map::ReadMap;

/// Rows per record batch written to the file: small enough that the first read from a
/// batch (which checks its crc32) reads little, large enough that per-batch overhead
/// (about 200 bytes of IPC metadata and a 40-byte index entry) stays below a percent.
pub const BATCH_ROWS: usize = 16_384;

/// Mapped batches (decoded, or read as cells) kept for reuse, by message bytes. Each
/// batch maps only its own message, so this (plus whatever batches callers hold) bounds
/// the address space a scan needs, whatever the file's size.
const CACHE_BYTES: u64 = 64 << 20;

/// How to open a record file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read only; the file must exist. Takes no lock: any number of readers, beside at
    /// most one writer.
    Read,
    /// Read and append; created if missing. Takes the exclusive writer lock.
    Append,
}

/// What opening found and repaired.
///
/// Without `damage`, the dropped bytes are what a crash during a flush leaves (an
/// append that was never committed, so never acknowledged). With `damage`, a reader
/// left out committed data it could not verify, or [`RecordFile::recover`] repaired the
/// file and kept every byte it dropped in the files `saved`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes of the data file past what the file gives: dropped by a writer (and by
    /// [`RecordFile::recover`], into a side file), left out by a reader.
    pub dropped_data_bytes: u64,
    /// Bytes of the index past what the file gives (a torn entry, or the damaged part),
    /// dropped by a writer, left out by a reader.
    pub dropped_index_bytes: u64,
    /// The damage found (as [`MmapError::Corrupt`] says it), if it was more than the
    /// trace of a crash: a reader opened what verifies before it, a repair cut it off.
    pub damage: Option<String>,
    /// The side files [`RecordFile::recover`] wrote the dropped bytes to
    /// (`<file>.dropped-<unix time>`; the old index whole, the data from the cut on).
    pub saved: Vec<PathBuf>,
}

/// What the data file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLayout {
    /// An Arrow IPC stream with a memslim commit index (`<path>.idx`).
    Memslim,
    /// An Arrow IPC stream without index (someone else's, or memslim's whose index was
    /// lost), indexed in memory; only messages that carry their own checksum (memslim
    /// wrote them) are verified.
    ForeignStream,
    /// An Arrow IPC file (with footer) someone else wrote; read-only.
    ForeignFile,
}

struct Slot {
    entry: usize,
    segment: usize,
    first_row: usize,
    rows: usize,
    /// Dictionary messages before this batch (foreign files only).
    dicts_before: usize,
    batch: Option<RecordBatch>,
    /// The batch's message with the place of each column's buffers, for reading rows
    /// without decoding the batch.
    cells: Option<BatchCells>,
    /// What the batch's message says beyond Arrow (read with the batch or its cells;
    /// `Some` exactly while the slot is in the cache).
    extras: Option<Arc<Extras>>,
}

/// One Arrow IPC stream of the file: a schema and the batches after it, up to the next
/// end-of-stream marker.
struct Segment {
    schema: SchemaRef,
    variant: Vec<bool>,
    /// Rows of this segment are read value by value from the message ([`mod@cells`]).
    cells: bool,
}

/// Where the values of a committed row are read from.
enum Source<'a> {
    /// Straight from the message: only the row's own bytes are touched.
    Cells(&'a BatchCells),
    /// From the batch decoded by arrow-rs (types [`mod@cells`] does not read).
    Batch(&'a RecordBatch),
}

/// A persistent list of records: an Arrow IPC stream on disk (readable by any Arrow
/// library), memory-mapped for reading, with appends collected in memory until
/// [`RecordFile::flush`] writes, syncs and commits them.
///
/// # Memory
/// Opening reads the index (40 bytes per batch) and maps the committed data; nothing
/// of the data is read until a row or batch is asked for. Decoded batches point into the
/// map. Unflushed appends live in an in-memory [`RecordList`].
pub struct RecordFile {
    path: PathBuf,
    index_path: PathBuf,
    data: Option<File>,
    index: Option<File>,
    mode: Mode,
    layout: FileLayout,
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    dicts: Vec<usize>,
    segments: Vec<Segment>,
    /// All segments' schemas read as one (`None` before the first commit).
    unified: Option<SchemaRef>,
    cache: std::collections::VecDeque<usize>,
    cache_bytes: u64,
    committed_rows: usize,
    /// The slot [`RecordFile::locate`] found last: reads go mostly in order, so it
    /// usually holds the next record too, without a binary search.
    last_slot: std::cell::Cell<usize>,
    index_len: u64,
    /// The version in the index header (what marks a commit's end depends on it).
    index_version: u32,
    /// The decoder of one segment, and how many dictionaries it has been fed.
    decoder: Option<(usize, FileDecoder, usize)>,
    /// Per entry: its checksum has been verified since the file was opened, so a
    /// batch evicted from the cache and read again is not checksummed again.
    verified: Vec<bool>,
    /// The schema of a foreign IPC file, from its footer.
    footer_schema: Option<arrow_schema::Schema>,
    tail: RecordList,
    recovery: Recovery,
    /// Damage found while opening, before the mode decides what it means.
    damage: Option<MmapError>,
    /// The file's first schema message carries its own checksum (memslim wrote it), so
    /// every message after it must too. Only consulted for files opened without index.
    sealed: bool,
    /// Where the last commit starts among `entries` (for a writer's check at opening).
    last_commit: usize,
}

/// The index file that belongs to a data file: `<path>.idx`.
pub fn index_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".idx");
    PathBuf::from(p)
}

fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Whether memslim writes Arrow type `t` (so it can append to a field of that type).
fn writable_type(t: &DataType, variant: bool) -> bool {
    variant
        || matches!(
            t,
            DataType::Null
                | DataType::Boolean
                | DataType::Int64
                | DataType::Float64
                | DataType::Utf8
                | DataType::Binary
        )
}

/// The rows of one committed batch, ready to read.
struct Committed<'a> {
    src: Source<'a>,
    extras: &'a Extras,
    seg: &'a Segment,
    path: &'a Path,
    /// The batch message's offset, for errors.
    offset: u64,
}

impl<'a> Committed<'a> {
    /// Value `j` of column `c` as it was appended: absent when the record lacked the
    /// key, an int when it was one among floats.
    fn cell(&self, c: usize, j: usize, buf: &'a mut Vec<u8>) -> Result<CellRef<'a>> {
        if self.extras.is_absent(c, j) {
            return Ok(CellRef::Absent);
        }
        let variant = self.seg.variant.get(c).copied().unwrap_or(false);
        let cell = match self.src {
            Source::Cells(cells) => {
                cells
                    .cell(c, j, variant)
                    .map_err(|reason| MmapError::Corrupt {
                        path: self.path.to_owned(),
                        offset: self.offset,
                        reason,
                    })?
            }
            Source::Batch(batch) => arrow_cell(batch.column(c).as_ref(), j, variant, buf)?,
        };
        Ok(match cell {
            CellRef::Float(v) if self.extras.is_int(c, j) => CellRef::Int(v as i64),
            cell => cell,
        })
    }
}

impl RecordFile {
    /// Opens (or, in [`Mode::Append`], creates) the record file at `path`.
    ///
    /// What a crash during a flush leaves (data past the last commit, a torn index
    /// entry) is not part of the file: a writer cuts it off, a reader ignores it; both
    /// report it in [`RecordFile::recovery`]. Any other damage (an index entry that
    /// fails its checksum, an index that lost commits the data shows it made, a data
    /// file shorter than its index, a last commit whose data does not verify) is never
    /// dropped silently: a writer refuses to open ([`MmapError::Corrupt`]), a reader
    /// opens the records before it and reports the rest in
    /// [`Recovery::damage`], and [`RecordFile::recover`] repairs it.
    ///
    /// A data file without index (an Arrow IPC stream, or a memslim file whose index
    /// was lost) is indexed by walking its messages; messages memslim wrote carry their
    /// own checksum and are checked against it (a writer checks them all before it
    /// writes the new index).
    ///
    /// # Errors
    /// [`MmapError::Io`] (missing directory or file, permissions),
    /// [`MmapError::Locked`] if another writer holds it, [`MmapError::NotOurs`],
    /// [`MmapError::FutureVersion`], [`MmapError::Corrupt`] naming the file and offset,
    /// [`MmapError::Unsupported`] for Arrow types memslim cannot read (or, appending,
    /// write).
    ///
    /// # Memory
    /// Reads the index only; maps the committed data without touching it (a writer
    /// reads the last commit's messages, and any bytes past it).
    pub fn open(path: impl AsRef<Path>, mode: Mode) -> Result<RecordFile> {
        Self::open_with(path.as_ref(), mode, false)
    }

    /// Opens the record file at `path` for appending after repairing it: keeps the
    /// committed messages that verify (every one is checked), then the messages past
    /// them that verify against their own checksums (commits a damaged or lost index no
    /// longer lists), and cuts off the rest. Every byte cut off is first written to a
    /// side file beside it (`<file>.dropped-<unix time>`; the old index is kept whole
    /// the same way whenever it is rewritten); [`RecordFile::recovery`] says what was
    /// found, dropped and saved. An undamaged file opens as with [`Mode::Append`].
    ///
    /// Messages without their own checksum (Arrow streams other programs wrote, files
    /// of memslim before 0.2) past the index are not verified and are cut off.
    ///
    /// # Errors
    /// As [`RecordFile::open`]; [`MmapError::Corrupt`] only for damage it cannot cut
    /// off (the index header).
    ///
    /// # Memory
    /// Reads every committed message once (to verify it).
    pub fn recover(path: impl AsRef<Path>) -> Result<RecordFile> {
        Self::open_with(path.as_ref(), Mode::Append, true)
    }

    fn open_with(path: &Path, mode: Mode, recover: bool) -> Result<RecordFile> {
        let path = path.to_owned();
        let index_path = index_path(&path);
        let data = match mode {
            Mode::Read => File::open(&path),
            Mode::Append => OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path),
        }
        .map_err(io(&path))?;
        let mut f = RecordFile {
            path,
            index_path,
            data: None,
            index: None,
            mode,
            layout: FileLayout::Memslim,
            entries: Vec::new(),
            slots: Vec::new(),
            dicts: Vec::new(),
            verified: Vec::new(),
            segments: Vec::new(),
            unified: None,
            cache: std::collections::VecDeque::new(),
            cache_bytes: 0,
            committed_rows: 0,
            last_slot: std::cell::Cell::new(0),
            index_len: HEADER_LEN as u64,
            index_version: format::INDEX_VERSION,
            decoder: None,
            footer_schema: None,
            tail: RecordList::with_chunk_rows(BATCH_ROWS),
            recovery: Recovery::default(),
            damage: None,
            sealed: false,
            last_commit: 0,
        };
        let data_len = data.metadata().map_err(io(&f.path))?.len();
        let index = match mode {
            Mode::Read => match File::open(&f.index_path) {
                Ok(i) => Some(i),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io(&f.index_path)(e)),
            },
            Mode::Append => {
                let i = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&f.index_path)
                    .map_err(io(&f.index_path))?;
                match i.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(MmapError::Locked {
                            path: f.path.clone(),
                        });
                    }
                    Err(std::fs::TryLockError::Error(e)) => return Err(io(&f.index_path)(e)),
                }
                Some(i)
            }
        };
        let index_bytes = match &index {
            Some(i) => {
                let mut b = Vec::new();
                (&*i).read_to_end(&mut b).map_err(io(&f.index_path))?;
                b
            }
            None => Vec::new(),
        };
        if index_bytes.is_empty() && data_len > 0 {
            f.open_foreign(&data, data_len)?;
            if mode == Mode::Append {
                f.adopt(&data, index.as_ref(), data_len, recover)?;
            }
        } else if index_bytes.is_empty() {
            if mode == Mode::Read {
                return Err(MmapError::NotOurs {
                    path: f.path.clone(),
                    reason: "empty file".into(),
                });
            }
            // A new file: the header first, durable before anything refers to it.
            let i = index.as_ref().ok_or(MmapError::Closed)?;
            i.write_all_at(&format::header(), 0)
                .and_then(|()| i.sync_all())
                .map_err(io(&f.index_path))?;
            data.sync_all().map_err(io(&f.path))?;
            sync_dir(&f.path)?;
        } else {
            f.read_index(&index_bytes, &data, data_len, recover)?;
            if mode == Mode::Append {
                let i = index.as_ref().ok_or(MmapError::Closed)?;
                if f.damage.is_none() {
                    f.check_last_commit(&data)?;
                }
                if recover {
                    f.repair(&data, i, &index_bytes, data_len)?;
                } else if let Some(d) = f.damage.take() {
                    return Err(refusal(d));
                } else {
                    if f.recovery.dropped_index_bytes > 0 {
                        i.set_len(f.index_len).map_err(io(&f.index_path))?;
                    }
                    if f.recovery.dropped_data_bytes > 0 {
                        // Only bytes past the commit, which no reader maps.
                        data.set_len(f.committed_end()).map_err(io(&f.path))?;
                    }
                    if f.recovery != Recovery::default() {
                        i.sync_all().map_err(io(&f.index_path))?;
                        data.sync_all().map_err(io(&f.path))?;
                    }
                }
            }
        }
        f.data = Some(data);
        f.index = index;
        while let Err(e) = f.rebuild_slots(0) {
            // A reader gives the segments before a damaged schema message.
            let at = match &e {
                MmapError::Corrupt { offset, .. } if mode == Mode::Read && *offset > 0 => f
                    .entries
                    .iter()
                    .position(|x| x.offset == *offset && x.kind == MessageKind::Schema),
                _ => None,
            };
            let Some(k) = at else {
                return Err(e);
            };
            f.damage.get_or_insert(e);
            f.entries.truncate(k);
            f.trim_end_marker();
            let data_len = f
                .data
                .as_ref()
                .map_or(Ok(0), |d| d.metadata().map(|m| m.len()));
            f.recovery.dropped_data_bytes = data_len
                .map_err(io(&f.path))?
                .saturating_sub(f.committed_end());
            f.slots.clear();
            f.segments.clear();
            f.dicts.clear();
            f.committed_rows = 0;
        }
        if let Some(d) = f.damage.take() {
            f.recovery.damage = Some(d.to_string());
        }
        if mode == Mode::Append {
            f.check_appendable()?;
            f.tail = f.seeded_tail();
        }
        Ok(f)
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> MmapError {
        MmapError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn committed_end(&self) -> u64 {
        self.entries.iter().map(Entry::end).max().unwrap_or(0)
    }

    /// Reads the index `b` of a data file of `data_len` bytes: the committed entries up
    /// to any damage (noted in `self.damage`), and what lies past them.
    fn read_index(&mut self, b: &[u8], data: &File, data_len: u64, recover: bool) -> Result<()> {
        let version = match format::check_header(b) {
            Ok(v) => v,
            Err(HeaderError::Future(v)) => {
                return Err(MmapError::FutureVersion {
                    path: self.index_path.clone(),
                    found: v,
                    supported: format::INDEX_VERSION,
                });
            }
            Err(HeaderError::Magic) | Err(HeaderError::Short) if !recover => {
                return Err(MmapError::NotOurs {
                    path: self.index_path.clone(),
                    reason: "not a memslim index".into(),
                });
            }
            Err(HeaderError::Checksum) if !recover => {
                return Err(MmapError::Corrupt {
                    path: self.index_path.clone(),
                    offset: 0,
                    reason: "index header checksum mismatch".into(),
                });
            }
            Err(_) => {
                // Repairing: the index is no use; what verifies in the data is kept.
                self.damage = Some(MmapError::Corrupt {
                    path: self.index_path.clone(),
                    offset: 0,
                    reason: "index header damaged".into(),
                });
                self.recovery.dropped_index_bytes = b.len() as u64;
                return Ok(());
            }
        };
        self.index_version = version;
        let parsed = format::parse_entries(b, HEADER_LEN, None, version);
        self.entries = parsed.entries;
        self.last_commit = parsed.last_commit;
        self.index_len = (HEADER_LEN + self.entries.len() * ENTRY_LEN) as u64;
        self.recovery.dropped_index_bytes = parsed.torn_bytes as u64;
        if let Some((offset, reason)) = parsed.damage {
            self.damage = Some(MmapError::Corrupt {
                path: self.index_path.clone(),
                offset,
                reason,
            });
        }
        let end = self.committed_end();
        if data_len < end {
            self.damage.get_or_insert(self.corrupt(
                data_len,
                format!(
                    "the data file ends at {data_len} but {end} bytes are committed \
                     (truncated by another program?)"
                ),
            ));
            let keep = self
                .entries
                .iter()
                .take_while(|e| e.end() <= data_len)
                .count();
            self.entries.truncate(keep);
            self.trim_end_marker();
        } else if data_len > end && self.damage.is_none() {
            self.damage = self.lost_commits(data, data_len)?;
        }
        self.index_len = (HEADER_LEN + self.entries.len() * ENTRY_LEN) as u64;
        self.recovery.dropped_data_bytes = data_len.saturating_sub(self.committed_end());
        Ok(())
    }

    /// Drops a segment's end marker left last (it is always committed together with the
    /// next segment's schema).
    fn trim_end_marker(&mut self) {
        while self
            .entries
            .last()
            .is_some_and(|e| e.kind == MessageKind::End)
        {
            self.entries.pop();
        }
        self.last_commit = self.last_commit.min(self.entries.len());
    }

    /// Whether the data past the committed end holds a message, verified by its own
    /// checksum, of a commit made after more entries than the index holds: then the
    /// index lost commits (a crash leaves only the one commit in flight, made after
    /// exactly the entries the index holds).
    fn lost_commits(&self, data: &File, data_len: u64) -> Result<Option<MmapError>> {
        let map = ReadMap::new(data, data_len, &self.path)?;
        let b = map.bytes();
        let schema_due = self
            .entries
            .last()
            .is_none_or(|l| l.kind == MessageKind::End);
        let (walk, _) = ipc::walk_prefix(b, self.committed_end() as usize, schema_due);
        let count = self.entries.len() as u64;
        for e in walk.entries.iter().filter(|e| e.kind != MessageKind::End) {
            let m = &b[e.offset as usize..e.end() as usize];
            let Ok(Some(seal)) = ipc::Seal::of(m) else {
                continue;
            };
            if let Some(base) = seal.base.filter(|&base| base > count && seal.verifies(m)) {
                return Ok(Some(self.corrupt(
                    e.offset,
                    format!(
                        "the index holds {count} entries, but this message was committed \
                         after {base}: the index lost commits"
                    ),
                )));
            }
        }
        Ok(None)
    }

    /// Whether committed message `e` matches its checksum (the index's, or else its own).
    fn verifies(&self, data: &File, e: &Entry) -> Result<bool> {
        if e.len == 0 || e.crc.is_none() && e.kind == MessageKind::End {
            return Ok(true);
        }
        let map = ReadMap::range(data, e.offset, e.len, &self.path)?;
        Ok(match e.crc {
            Some(crc) => crc32fast::hash(map.bytes()) == crc,
            None => ipc::check_seal(map.bytes()).is_ok(),
        })
    }

    /// A writer checks the last commit's data (what a crash with a disk that lost
    /// synced writes would damage) before appending after it: its messages from the
    /// last one back, up to [`CACHE_BYTES`] of them (a whole file saved at once is one
    /// commit, and is not read at every opening).
    fn check_last_commit(&mut self, data: &File) -> Result<()> {
        let mut budget = CACHE_BYTES;
        for k in (self.last_commit..self.entries.len()).rev() {
            let e = self.entries[k];
            if e.len > budget {
                break;
            }
            budget -= e.len;
            if !self.verifies(data, &e)? {
                self.damage = Some(self.corrupt(e.offset, "checksum mismatch in the last commit"));
                return Ok(());
            }
        }
        Ok(())
    }

    /// [`RecordFile::recover`]'s repair, with the writer lock held: keeps the committed
    /// messages that verify and the verified messages past them, saves everything else
    /// in side files, then rewrites the index and cuts the data.
    fn repair(&mut self, data: &File, index: &File, old_index: &[u8], data_len: u64) -> Result<()> {
        let keep = (0..self.entries.len())
            .find(|&k| !matches!(self.verifies(data, &self.entries[k]), Ok(true)))
            .unwrap_or(self.entries.len());
        if keep < self.entries.len() {
            let e = self.entries[keep];
            self.damage
                .get_or_insert(self.corrupt(e.offset, "checksum mismatch"));
            self.entries.truncate(keep);
            self.trim_end_marker();
        }
        let map = ReadMap::new(data, data_len, &self.path)?;
        let b = map.bytes();
        self.salvage(b);
        let end = self.committed_end();
        let mut new_index = format::header().to_vec();
        for (k, e) in self.entries.iter().enumerate() {
            new_index.extend_from_slice(&format::encode_entry(e, k + 1 == self.entries.len()));
        }
        let index_changed = new_index != old_index;
        if index_changed {
            self.save_dropped(&self.index_path.clone(), old_index)?;
        }
        if data_len > end {
            self.save_dropped(&self.path.clone(), &b[end as usize..])?;
        }
        drop(map);
        if index_changed {
            // The new index lists only bytes the data keeps, so it goes first.
            index
                .write_all_at(&new_index, 0)
                .and_then(|()| index.set_len(new_index.len() as u64))
                .and_then(|()| index.sync_all())
                .map_err(io(&self.index_path))?;
        }
        if data_len > end {
            data.set_len(end).map_err(io(&self.path))?;
            data.sync_all().map_err(io(&self.path))?;
        }
        sync_dir(&self.path)?;
        self.index_len = new_index.len() as u64;
        self.index_version = format::INDEX_VERSION;
        self.last_commit = 0;
        self.recovery.dropped_data_bytes = data_len - end;
        self.recovery.dropped_index_bytes = (old_index.len() as u64).saturating_sub(self.index_len);
        Ok(())
    }

    /// Adds the messages past the committed end of `b` (the data file) that verify
    /// against their own checksums, in stream order, up to the first that does not.
    fn salvage(&mut self, b: &[u8]) {
        let schema_due = self
            .entries
            .last()
            .is_none_or(|l| l.kind == MessageKind::End);
        let (walk, _) = ipc::walk_prefix(b, self.committed_end() as usize, schema_due);
        for mut e in walk.entries {
            let m = &b[e.offset as usize..e.end() as usize];
            if e.kind != MessageKind::End && !matches!(ipc::check_seal(m), Ok(Some(_))) {
                break;
            }
            e.crc = Some(crc32fast::hash(m));
            self.entries.push(e);
        }
        self.trim_end_marker();
    }

    /// Writes `bytes`, cut off from `from`, to a new side file beside it, synced.
    fn save_dropped(&mut self, from: &Path, bytes: &[u8]) -> Result<()> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for n in 0u32.. {
            let mut p = from.as_os_str().to_owned();
            p.push(format!(".dropped-{secs}"));
            if n > 0 {
                p.push(format!("-{n}"));
            }
            let p = PathBuf::from(p);
            let mut f = match OpenOptions::new().write(true).create_new(true).open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(&p)(e)),
            };
            std::io::Write::write_all(&mut f, bytes)
                .and_then(|()| f.sync_all())
                .map_err(io(&p))?;
            sync_dir(&p)?;
            self.recovery.saved.push(p);
            return Ok(());
        }
        Ok(())
    }

    fn open_foreign(&mut self, data: &File, data_len: u64) -> Result<()> {
        let map = ReadMap::new(data, data_len, &self.path)?;
        let b = map.bytes();
        let start = if b.len() >= 6 && &b[..6] == FILE_MAGIC {
            self.layout = FileLayout::ForeignFile;
            if self.mode == Mode::Append {
                return Err(MmapError::Unsupported {
                    path: self.path.clone(),
                    reason: "an Arrow IPC file (with footer) can only be opened read-only \
                             (mode=\"r\"); memslim appends to Arrow IPC streams"
                        .into(),
                });
            }
            return self.read_footer(b);
        } else if b.len() >= 8 && message_starts(b) {
            self.layout = FileLayout::ForeignStream;
            0
        } else {
            return Err(MmapError::NotOurs {
                path: self.path.clone(),
                reason: "neither an Arrow IPC stream nor an Arrow IPC file".into(),
            });
        };
        let (w, stop) = ipc::walk_prefix(b, start, true);
        if w.entries.is_empty() {
            return Err(match stop {
                Some((off, why)) => self.corrupt(off, why),
                None => MmapError::NotOurs {
                    path: self.path.clone(),
                    reason: "no Arrow schema message".into(),
                },
            });
        }
        let first = w.entries[0];
        self.sealed = matches!(
            ipc::Seal::of(&b[first.offset as usize..first.end() as usize]),
            Ok(Some(_))
        );
        // A message is checked against its own checksum when a row of it is first read;
        // memslim writes no dictionary messages and no empty batches, so in its files
        // such a message is a damaged header that would hide a batch from every read.
        let hidden = w.entries.iter().position(|e| {
            e.kind == MessageKind::Dictionary || e.kind == MessageKind::Batch && e.rows == 0
        });
        if let Some(k) = hidden.filter(|_| self.sealed) {
            let e = w.entries[k];
            self.damage = Some(self.corrupt(e.offset, "a damaged message header"));
            self.entries = w.entries;
            self.entries.truncate(k);
            self.trim_end_marker();
            self.recovery.dropped_data_bytes = data_len - self.committed_end();
            return Ok(());
        }
        if let Some((off, why)) = &stop {
            self.damage = Some(self.corrupt(*off, why.clone()));
        } else if self.sealed && data_len > w.end {
            // memslim's own messages: a cut one is damage or a crash, and without the
            // index no one can tell which; and memslim ends no file with an
            // end-of-stream marker.
            let why = if w.torn {
                "the last message is cut short"
            } else {
                "bytes after the end of the stream"
            };
            self.damage = Some(self.corrupt(w.end, why));
        }
        if w.torn || stop.is_some() || self.damage.is_some() {
            self.recovery.dropped_data_bytes = data_len - w.end;
        }
        self.entries = w.entries;
        Ok(())
    }

    /// Indexes an Arrow IPC file from its footer: the schema, every dictionary (all of
    /// them apply to every batch in the file format), then the record batches.
    fn read_footer(&mut self, b: &[u8]) -> Result<()> {
        let n = b.len();
        if n < 18 || &b[n - 6..] != FILE_MAGIC {
            return Err(self.corrupt(n as u64, "Arrow IPC file without its closing magic"));
        }
        let flen = i32::from_le_bytes([b[n - 10], b[n - 9], b[n - 8], b[n - 7]]);
        let start = usize::try_from(flen)
            .ok()
            .and_then(|f| (n - 10).checked_sub(f))
            .filter(|s| *s >= 8)
            .ok_or_else(|| self.corrupt((n - 10) as u64, "bad footer length"))?;
        let footer = arrow_ipc::root_as_footer(&b[start..n - 10])
            .map_err(|e| self.corrupt(start as u64, format!("unreadable footer: {e}")))?;
        let fb_schema = footer
            .schema()
            .ok_or_else(|| self.corrupt(start as u64, "footer without a schema"))?;
        let schema = catch_unwind(AssertUnwindSafe(|| {
            arrow_ipc::convert::try_fb_to_schema(fb_schema)
        }))
        .map_err(|_| "panic".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|why| self.corrupt(start as u64, format!("schema in the footer: {why}")))?;
        let mut entries = vec![Entry {
            offset: 0,
            len: 0,
            rows: 0,
            kind: MessageKind::Schema,
            crc: None,
        }];
        let blocks = footer
            .dictionaries()
            .into_iter()
            .flatten()
            .map(|blk| (blk, MessageKind::Dictionary))
            .chain(
                footer
                    .recordBatches()
                    .into_iter()
                    .flatten()
                    .map(|blk| (blk, MessageKind::Batch)),
            );
        for (blk, kind) in blocks {
            let off = usize::try_from(blk.offset()).ok();
            let len = usize::try_from(blk.metaDataLength())
                .ok()
                .zip(usize::try_from(blk.bodyLength()).ok())
                .and_then(|(m, body)| m.checked_add(body));
            let (off, len) = match (off, len) {
                (Some(o), Some(l)) if o.checked_add(l).is_some_and(|e| e <= start) => (o, l),
                _ => return Err(self.corrupt(start as u64, "footer block outside the file")),
            };
            let w = ipc::walk_one(&b[..off + len], off)
                .map_err(|(o, why)| self.corrupt(o, why))?
                .ok_or_else(|| self.corrupt(off as u64, "footer block is not a message"))?;
            if w.kind != kind || w.len != len as u64 {
                return Err(self.corrupt(off as u64, "footer block does not match its message"));
            }
            entries.push(w);
        }
        self.entries = entries;
        self.footer_schema = Some(schema);
        Ok(())
    }

    /// Gives a stream without index a commit index (checksumming its messages once) so
    /// it can be appended to; drops a cut-off last message of another program's stream
    /// and the end-of-stream marker. Messages with their own checksum are checked
    /// against it first; a damaged one (or, after one with a checksum, one without)
    /// refuses the open, or with `recover` ends what is kept.
    fn adopt(
        &mut self,
        data: &File,
        index: Option<&File>,
        data_len: u64,
        recover: bool,
    ) -> Result<()> {
        let i = index.ok_or(MmapError::Closed)?;
        {
            let map = ReadMap::new(data, self.committed_end(), &self.path)?;
            let mut sealed = false;
            for k in 0..self.entries.len() {
                let e = self.entries[k];
                if e.kind == MessageKind::End {
                    continue;
                }
                let why = match ipc::check_seal(&map.bytes()[e.offset as usize..e.end() as usize]) {
                    Ok(Some(_)) => {
                        sealed = true;
                        continue;
                    }
                    Ok(None) if !sealed => continue,
                    Ok(None) => "a message without its checksum after messages with one".into(),
                    Err(why) => why,
                };
                self.damage.get_or_insert(self.corrupt(e.offset, why));
                self.entries.truncate(k);
                self.trim_end_marker();
                break;
            }
        }
        if let Some(d) = self.damage.take() {
            if !recover {
                return Err(refusal(d));
            }
            self.damage = Some(d);
        }
        if self.entries.is_empty() {
            return Err(self
                .damage
                .take()
                .unwrap_or_else(|| self.corrupt(0, "no schema message")));
        }
        if recover && data_len > self.committed_end() {
            let map = ReadMap::new(data, data_len, &self.path)?;
            let end = self.committed_end() as usize;
            self.save_dropped(&self.path.clone(), &map.bytes()[end..])?;
            self.recovery.dropped_data_bytes = data_len - end as u64;
        }
        if self
            .entries
            .iter()
            .any(|e| e.kind == MessageKind::Dictionary)
        {
            return Err(MmapError::Unsupported {
                path: self.path.clone(),
                reason: "cannot append to a stream with dictionary-encoded columns; \
                         open it with mode=\"r\""
                    .into(),
            });
        }
        let map = ReadMap::new(data, self.committed_end(), &self.path)?;
        // Refuse before writing anything if the schema is not one memslim can append to.
        let last = self
            .entries
            .iter()
            .rev()
            .find(|e| e.kind == MessageKind::Schema)
            .copied()
            .ok_or_else(|| self.corrupt(0, "no schema message"))?;
        let schema = arrow_ipc::convert::try_schema_from_ipc_buffer(
            &map.bytes()[last.offset as usize..last.end() as usize],
        )
        .map_err(|e| self.corrupt(last.offset, format!("schema message: {e}")))?;
        self.check_writable_schema(&schema)?;
        let mut buf = format::header().to_vec();
        let n = self.entries.len();
        for (k, e) in self.entries.iter_mut().enumerate() {
            e.crc = Some(crc32fast::hash(
                &map.bytes()[e.offset as usize..e.end() as usize],
            ));
            buf.extend_from_slice(&format::encode_entry(e, k + 1 == n));
        }
        drop(map);
        data.set_len(self.committed_end()).map_err(io(&self.path))?;
        data.sync_all().map_err(io(&self.path))?;
        i.write_all_at(&buf, 0)
            .and_then(|()| i.sync_all())
            .map_err(io(&self.index_path))?;
        sync_dir(&self.path)?;
        self.index_len = buf.len() as u64;
        self.layout = FileLayout::Memslim;
        Ok(())
    }

    /// Reads the schema message `e` (or a foreign IPC file's footer schema).
    fn read_schema(&mut self, e: &Entry) -> Result<arrow_schema::Schema> {
        let schema = match self.footer_schema.take() {
            Some(s) => s,
            None => {
                let map = self.message(e)?;
                arrow_ipc::convert::try_schema_from_ipc_buffer(map.bytes())
                    .map_err(|err| self.corrupt(e.offset, format!("schema message: {err}")))?
            }
        };
        for f in schema.fields() {
            check_arrow_type(f.name(), f.data_type()).map_err(|e| MmapError::Unsupported {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(schema)
    }

    /// Refuses a schema with Arrow types memslim reads but does not write.
    fn check_writable_schema(&self, schema: &arrow_schema::Schema) -> Result<()> {
        for f in schema.fields() {
            if !writable_type(f.data_type(), is_variant_field(f)) {
                return Err(MmapError::Unsupported {
                    path: self.path.clone(),
                    reason: format!(
                        "cannot append to field {:?} of Arrow type {} (memslim writes \
                         null, bool, int64, float64, utf8, binary); open it with mode=\"r\"",
                        f.name(),
                        f.data_type()
                    ),
                });
            }
        }
        Ok(())
    }

    fn check_appendable(&self) -> Result<()> {
        match self.segments.last() {
            Some(seg) => self.check_writable_schema(&seg.schema),
            None => Ok(()),
        }
    }

    /// An empty pending list that knows the committed fields, in their order (so the
    /// pending records' key order compares with the file's), with no declared types:
    /// pending records take any value, and the next flush grows the schema if needed.
    fn seeded_tail(&self) -> RecordList {
        let mut t = RecordList::with_chunk_rows(BATCH_ROWS);
        if let Some(u) = &self.unified {
            for f in u.fields() {
                // Names are unique in a unified schema, so this cannot fail.
                let _ = t.add_field(f.name());
            }
        }
        t
    }

    /// A map of one committed message, checked against its checksum.
    fn message(&self, e: &Entry) -> Result<ReadMap> {
        self.message_checked(e, true)
    }

    /// [`RecordFile::message`], checksummed only if `check`.
    fn message_checked(&self, e: &Entry, check: bool) -> Result<ReadMap> {
        let data = self.data.as_ref().ok_or(MmapError::Closed)?;
        let map = ReadMap::range(data, e.offset, e.len, &self.path)?;
        if !check {
            return Ok(map);
        }
        match e.crc {
            Some(crc) if crc32fast::hash(map.bytes()) != crc => {
                return Err(self.corrupt(e.offset, "checksum mismatch"));
            }
            Some(_) => {}
            // No index: a message memslim wrote carries its own checksum.
            None if e.kind == MessageKind::End || e.len == 0 => {}
            None => match ipc::check_seal(map.bytes()) {
                Err(why) => return Err(self.corrupt(e.offset, why)),
                Ok(None) if self.sealed => {
                    return Err(self.corrupt(
                        e.offset,
                        "a message without its checksum in a file whose messages carry one",
                    ));
                }
                Ok(_) => {}
            },
        }
        Ok(map)
    }

    /// Takes entries from `from_entry` on into the segments and batch slots.
    fn rebuild_slots(&mut self, from_entry: usize) -> Result<()> {
        let mut first_row = self.committed_rows;
        let mut dicts = self.dicts.len();
        let mut grew = false;
        for k in from_entry..self.entries.len() {
            let e = self.entries[k];
            match e.kind {
                MessageKind::Batch => {
                    self.slots.push(Slot {
                        entry: k,
                        segment: self.segments.len().saturating_sub(1),
                        first_row,
                        rows: e.rows as usize,
                        dicts_before: dicts,
                        batch: None,
                        cells: None,
                        extras: None,
                    });
                    first_row += e.rows as usize;
                }
                MessageKind::Dictionary => {
                    self.dicts.push(k);
                    dicts += 1;
                }
                MessageKind::Schema => {
                    let schema = self.read_schema(&e)?;
                    let variant = schema
                        .fields()
                        .iter()
                        .map(|f| is_variant_field(f))
                        .collect();
                    self.segments.push(Segment {
                        cells: cells::readable(&schema),
                        schema: Arc::new(schema),
                        variant,
                    });
                    grew = true;
                }
                MessageKind::End => {}
            }
        }
        self.committed_rows = first_row;
        if grew {
            self.unified = Some(Arc::new(exact::unify(
                self.segments.iter().map(|s| s.schema.as_ref()),
            )));
        }
        Ok(())
    }

    /// The path of the data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the data file is.
    pub fn layout(&self) -> FileLayout {
        self.layout
    }

    /// What opening found past the last commit.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// Whether the file was opened for appending.
    pub fn is_writable(&self) -> bool {
        self.mode == Mode::Append
    }

    /// Whether [`RecordFile::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.data.is_none()
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(MmapError::Closed)
        } else {
            Ok(())
        }
    }

    /// Records committed to the file.
    pub fn committed_len(&self) -> usize {
        self.committed_rows
    }

    /// Records appended but not yet flushed.
    pub fn pending_len(&self) -> usize {
        self.tail.len()
    }

    /// All records: committed, then pending.
    pub fn len(&self) -> usize {
        self.committed_rows + self.tail.len()
    }

    /// Whether there are no records at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of committed data (what reads may map).
    pub fn mapped_bytes(&self) -> usize {
        self.committed_end() as usize
    }

    /// Bytes this object owns in memory: the index, batch bookkeeping and the pending
    /// records (not the mapped file, which the kernel pages in and out).
    pub fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.tail.nbytes()
    }

    /// The committed schema: every segment's fields, each with a type that holds all its
    /// values (`None` before the first flush).
    pub fn schema(&self) -> Option<&SchemaRef> {
        self.unified.as_ref()
    }

    /// Field names: the committed schema's, then any new ones pending records bring.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .unified
            .iter()
            .flat_map(|s| s.fields().iter().map(|f| f.name().clone()))
            .collect();
        for j in 0..self.tail.num_fields() {
            let n = self.tail.field_name(j);
            if !names.iter().any(|m| m == n) {
                names.push(n.to_owned());
            }
        }
        names
    }

    /// The number of committed record batches.
    pub fn num_batches(&self) -> usize {
        self.slots.len()
    }

    /// The number of segments: Arrow IPC streams back to back in the data file, one more
    /// each time a flush needed new fields or wider types.
    pub fn num_segments(&self) -> usize {
        self.segments.len()
    }

    /// Which batch holds committed row `row`, and the row's position in it.
    pub fn locate(&self, row: usize) -> Option<(usize, usize)> {
        if row >= self.committed_rows {
            return None;
        }
        let hint = self.last_slot.get();
        if let Some(s) = self.slots.get(hint) {
            if s.first_row <= row && row < s.first_row + s.rows {
                return Some((hint, row - s.first_row));
            }
        }
        let k = self.slots.partition_point(|s| s.first_row + s.rows <= row);
        self.last_slot.set(k);
        Some((k, row - self.slots[k].first_row))
    }

    /// Committed batch `k`, decoded (zero-copy: its buffers point into the map) and
    /// checked against its checksum on first use.
    ///
    /// # Errors
    /// [`MmapError::Corrupt`] naming the batch's offset if its bytes do not check out.
    ///
    /// # Panics
    /// If `k >= self.num_batches()`.
    pub fn batch(&mut self, k: usize) -> Result<&RecordBatch> {
        self.check_open()?;
        if self.slots[k].batch.is_none() {
            let (b, extras) = self.decode(k)?;
            self.slots[k].batch = Some(b);
            if let Some(extras) = extras {
                self.cached(k, extras);
            }
        }
        self.slots[k].batch.as_ref().ok_or(MmapError::Closed)
    }

    /// Committed batch `k` as cells: its message mapped, checksummed on first use, and
    /// its header read, but no value touched. `None` if its segment holds a type
    /// [`mod@cells`] does not read, or its body is compressed.
    ///
    /// # Errors
    /// [`MmapError::Corrupt`] naming the batch's offset if its bytes or its header do
    /// not check out.
    fn cells(&mut self, k: usize) -> Result<Option<&BatchCells>> {
        self.check_open()?;
        if self.slots[k].cells.is_some() {
            return Ok(self.slots[k].cells.as_ref());
        }
        let seg = self.slots[k].segment;
        let Some(schema) = self
            .segments
            .get(seg)
            .filter(|s| s.cells)
            .map(|s| Arc::clone(&s.schema))
        else {
            return Ok(None);
        };
        let idx = self.slots[k].entry;
        let e = self.entries[idx];
        let map = self.map_at(idx)?;
        // Values are read one by one from here on; a first use has just read every
        // page for the checksum, and is unaffected.
        map.advise_random();
        let Some((cells, pairs)) =
            BatchCells::parse(map, &schema).map_err(|why| self.corrupt(e.offset, why))?
        else {
            return Ok(None);
        };
        if cells.rows() as u64 != e.rows {
            return Err(self.corrupt(e.offset, "row count differs from the index"));
        }
        let extras = match self.slots[k].extras {
            Some(_) => None,
            None => Some(self.extras_of(&e, &pairs, cells.rows(), schema.fields().len())?),
        };
        self.slots[k].cells = Some(cells);
        if let Some(extras) = extras {
            self.cached(k, extras);
        }
        Ok(self.slots[k].cells.as_ref())
    }

    /// Puts slot `k`, just loaded, in the cache with its extras, evicting the oldest
    /// slots beyond [`CACHE_BYTES`].
    fn cached(&mut self, k: usize, extras: Extras) {
        self.slots[k].extras = Some(Arc::new(extras));
        self.cache.push_back(k);
        self.cache_bytes += self.entries[self.slots[k].entry].len;
        while self.cache_bytes > CACHE_BYTES && self.cache.len() > 1 {
            let Some(old) = self.cache.pop_front() else {
                break;
            };
            let slot = &mut self.slots[old];
            slot.batch = None;
            slot.cells = None;
            slot.extras = None;
            self.cache_bytes -= self.entries[slot.entry].len;
        }
    }

    /// What message `e` (its `custom_metadata` `pairs`, a batch of `rows` rows and
    /// `cols` columns) says beyond Arrow.
    fn extras_of(
        &self,
        e: &Entry,
        pairs: &[(String, String)],
        rows: usize,
        cols: usize,
    ) -> Result<Extras> {
        Extras::from_metadata(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            rows,
            cols,
        )
        .map_err(|why| self.corrupt(e.offset, why))
    }

    /// Decodes committed batch `k`, and reads its extras if the slot has none yet.
    fn decode(&mut self, k: usize) -> Result<(RecordBatch, Option<Extras>)> {
        let seg = self.slots[k].segment;
        let schema = self
            .segments
            .get(seg)
            .map(|s| Arc::clone(&s.schema))
            .ok_or(MmapError::Closed)?;
        let need = self.slots[k].dicts_before;
        let entry = self.entries[self.slots[k].entry];
        let restart = match &self.decoder {
            Some((s, _, fed)) => *s != seg || *fed > need,
            None => true,
        };
        if restart {
            let version = MetadataVersion::V5;
            let d = FileDecoder::new(Arc::clone(&schema), version).with_require_alignment(false);
            self.decoder = Some((seg, d, 0));
        }
        while self.decoder.as_ref().map_or(0, |d| d.2) < need {
            let fed = self.decoder.as_ref().map_or(0, |d| d.2);
            let de = self.entries[self.dicts[fed]];
            let (block, buf) = self.block_at(self.dicts[fed])?;
            let Some((_, dec, n)) = self.decoder.as_mut() else {
                break;
            };
            let r = guarded(|| dec.read_dictionary(&block, &buf));
            *n += 1;
            r.map_err(|why| self.corrupt(de.offset, why))?;
        }
        let (block, buf) = self.block_at(self.slots[k].entry)?;
        let (msg, _) = ipc::message_at(&buf).map_err(|why| self.corrupt(entry.offset, why))?;
        let header = msg
            .header_as_record_batch()
            .ok_or_else(|| self.corrupt(entry.offset, "not a record batch"))?;
        if header.compression().is_some() {
            return Err(MmapError::Unsupported {
                path: self.path.clone(),
                reason: format!(
                    "record batch at byte offset {} is compressed (lz4/zstd); memslim reads \
                     uncompressed Arrow IPC",
                    entry.offset
                ),
            });
        }
        let dec = &self.decoder.as_ref().ok_or(MmapError::Closed)?.1;
        let batch = guarded(|| dec.read_record_batch(&block, &buf))
            .map_err(|why| self.corrupt(entry.offset, why))?
            .ok_or_else(|| self.corrupt(entry.offset, "not a record batch"))?;
        if batch.num_rows() as u64 != entry.rows {
            return Err(self.corrupt(entry.offset, "row count differs from the index"));
        }
        if self.slots[k].extras.is_some() {
            return Ok((batch, None));
        }
        let pairs = ipc::custom_metadata(&msg);
        let extras = self.extras_of(&entry, &pairs, batch.num_rows(), batch.num_columns())?;
        Ok((batch, Some(extras)))
    }

    /// The IPC block and bytes of committed entry `idx`, checksummed the first time only.
    fn block_at(&mut self, idx: usize) -> Result<(Block, arrow_buffer::Buffer)> {
        let map = self.map_at(idx)?;
        self.block_of(&self.entries[idx], &map)
    }

    /// A map of committed entry `idx`, checksummed the first time only.
    fn map_at(&mut self, idx: usize) -> Result<ReadMap> {
        let e = self.entries[idx];
        let checked = self.verified.get(idx).copied().unwrap_or(false);
        let map = self.message_checked(&e, !checked)?;
        if !checked {
            if self.verified.len() <= idx {
                self.verified.resize(idx + 1, false);
            }
            self.verified[idx] = true;
        }
        Ok(map)
    }

    fn block_of(&self, e: &Entry, map: &ReadMap) -> Result<(Block, arrow_buffer::Buffer)> {
        let (prefix, meta) = ipc::message_prefix(map.bytes())
            .map_err(|why| self.corrupt(e.offset, why))?
            .ok_or_else(|| self.corrupt(e.offset, "unexpected end-of-stream marker"))?;
        let meta_len = prefix + meta;
        let body = (e.len as usize)
            .checked_sub(meta_len)
            .ok_or_else(|| self.corrupt(e.offset, "metadata longer than the message"))?;
        let block = Block::new(e.offset as i64, meta_len as i32, body as i64);
        let buf = map.buffer(0, map.len());
        Ok((block, buf))
    }

    /// Every record as Arrow record batches in one schema ([`RecordFile::schema`], grown
    /// by any new fields of pending records): committed batches (zero-copy, pointing into
    /// the map, which they keep alive, unless their segment's schema differs from the
    /// unified one), then the pending records.
    ///
    /// Arrow has no "absent": a key a record lacks exports as null, as from an in-memory
    /// list.
    ///
    /// # Errors
    /// [`MmapError::Corrupt`] for a damaged batch.
    pub fn to_arrow(&mut self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let schema = self.arrow_schema()?;
        let batches = self.arrow_batches(&schema, self.len())?;
        Ok((schema, batches))
    }

    /// Field `name` of the first `rows` records as Arrow record batches of that one
    /// field, typed as in [`RecordFile::to_arrow`] (absent exports as null). Only this
    /// field is touched: a committed batch's column is handed out as it is mapped
    /// (zero-copy) unless an older segment stored it in a narrower type.
    ///
    /// # Errors
    /// [`MmapError::Value`] for a field the file does not have, [`MmapError::Corrupt`]
    /// for a damaged batch.
    ///
    /// # Memory
    /// Keeps the map alive through the returned buffers; copies only what a segment's
    /// schema makes it convert, and the pending records.
    pub fn field_arrow(
        &mut self,
        name: &str,
        rows: usize,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let full = self.arrow_schema()?;
        let j = full
            .index_of(name)
            .map_err(|_| MmapError::Value(format!("no field {name:?}")))?;
        let schema = Arc::new(
            full.project(&[j])
                .map_err(|e| MmapError::Value(e.to_string()))?,
        );
        let batches = self.arrow_batches(&schema, rows)?;
        Ok((schema, batches))
    }

    /// The schema of [`RecordFile::to_arrow`]: the committed one grown by the pending
    /// records' new fields.
    fn arrow_schema(&self) -> Result<SchemaRef> {
        self.check_open()?;
        Ok(match exact::grow(self.unified.as_deref(), &self.tail) {
            Some(s) => Arc::new(exact::unify(
                [self.unified.as_deref(), Some(&s)].into_iter().flatten(),
            )),
            None => self.unified.clone().ok_or(MmapError::Closed)?,
        })
    }

    /// The first `rows` records in `schema` (all of [`RecordFile::arrow_schema`]'s
    /// fields or some of them); decodes only the batches that hold them.
    fn arrow_batches(&mut self, schema: &SchemaRef, rows: usize) -> Result<Vec<RecordBatch>> {
        let rows = rows.min(self.len());
        let mut out = Vec::with_capacity(self.slots.len() + 1);
        let field_type = |field: String| MmapError::FieldType {
            field,
            expected: "the unified schema".into(),
        };
        for k in 0..self.slots.len() {
            let (first, n) = (self.slots[k].first_row, self.slots[k].rows);
            if first >= rows {
                return Ok(out);
            }
            let (b, extras) = match self.projected(k, schema)? {
                Some(part) => part,
                None => {
                    let b = self.batch(k)?.clone();
                    let extras = self.slots[k].extras.as_deref().cloned();
                    (b, extras.unwrap_or_default())
                }
            };
            let b = exact::unified_batch(&b, &extras, schema).map_err(field_type)?;
            out.push(if first + n > rows {
                b.slice(0, rows - first)
            } else {
                b
            });
        }
        let want = rows.saturating_sub(self.committed_rows);
        if want == 0 {
            return Ok(out);
        }
        let (_, tail) = self.tail.to_arrow()?;
        let mut start = 0;
        for b in &tail {
            if start >= want {
                break;
            }
            let (b, _) = exact::tail_batch(&self.tail, b, start, schema).map_err(field_type)?;
            let n = b.num_rows();
            out.push(if start + n > want {
                b.slice(0, want - start)
            } else {
                b
            });
            start += n;
        }
        Ok(out)
    }

    /// Calls `f` with field `name` of record `row`, exactly as
    /// [`RecordFile::visit_row`] gives it, or with [`CellRef::Absent`] if the record lacks
    /// that key (or no record has it). Decodes only the batch that holds the record.
    ///
    /// # Errors
    /// As [`RecordFile::visit_row`].
    pub fn with_field<R>(
        &mut self,
        row: usize,
        name: &str,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R> {
        self.check_open()?;
        if let Some((k, j)) = self.locate(row) {
            let rows = self.committed(k)?;
            let Ok(c) = rows.seg.schema.index_of(name) else {
                return Ok(f(CellRef::Absent));
            };
            let mut buf = Vec::new();
            return Ok(f(rows.cell(c, j, &mut buf)?));
        }
        let r = self.tail_row(row)?;
        Ok(match self.tail.field_index(name) {
            Some(c) => f(self.tail.get(r, c)),
            None => f(CellRef::Absent),
        })
    }

    /// Committed batch `k` with only the columns of its segment that `schema` names,
    /// decoded (and validated) alone, with its extras for those columns; not cached.
    /// `None` when the batch is better decoded whole: `schema` wants every column (the
    /// cached batch serves), or the segment has dictionaries, or the body is compressed.
    ///
    /// # Errors
    /// [`MmapError::Corrupt`] naming the batch's offset.
    fn projected(&mut self, k: usize, schema: &SchemaRef) -> Result<Option<(RecordBatch, Extras)>> {
        let seg = self.slots[k].segment;
        let Some(full) = self.segments.get(seg).map(|s| Arc::clone(&s.schema)) else {
            return Ok(None);
        };
        let cols: Vec<usize> = (0..full.fields().len())
            .filter(|&c| schema.field_with_name(full.field(c).name()).is_ok())
            .collect();
        let dictionaries = self.slots[k].dicts_before > 0
            || full
                .fields()
                .iter()
                .any(|f| matches!(f.data_type(), DataType::Dictionary(..)));
        if cols.len() == full.fields().len() || dictionaries {
            return Ok(None);
        }
        let e = self.entries[self.slots[k].entry];
        let map = self.map_at(self.slots[k].entry)?;
        let (msg, body) =
            ipc::message_at(map.bytes()).map_err(|why| self.corrupt(e.offset, why))?;
        let header = msg
            .header_as_record_batch()
            .ok_or_else(|| self.corrupt(e.offset, "not a record batch"))?;
        if header.compression().is_some() {
            return Ok(None);
        }
        let body = map.buffer(body, map.len());
        let batch = guarded(|| {
            arrow_ipc::reader::read_record_batch(
                &body,
                header,
                Arc::clone(&full),
                &std::collections::HashMap::new(),
                Some(&cols),
                &MetadataVersion::V5,
            )
        })
        .map_err(|why| self.corrupt(e.offset, why))?;
        if batch.num_rows() as u64 != e.rows {
            return Err(self.corrupt(e.offset, "row count differs from the index"));
        }
        let extras = match self.slots[k].extras.as_deref() {
            Some(x) => x.project(&cols),
            None => self
                .extras_of(
                    &e,
                    &ipc::custom_metadata(&msg),
                    batch.num_rows(),
                    full.fields().len(),
                )?
                .project(&cols),
        };
        Ok(Some((batch, extras)))
    }

    /// Calls `f(row, value)` with field `name` of each record in `rows` (clamped to the
    /// file) in order, as [`RecordFile::with_field`] gives it, until `f` returns
    /// `false`; holds each batch for its run of records.
    ///
    /// # Errors
    /// As [`RecordFile::visit_row`].
    pub fn visit_field(
        &mut self,
        name: &str,
        rows: std::ops::Range<usize>,
        mut f: impl FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<()> {
        self.check_open()?;
        let rows = rows.start..rows.end.min(self.len());
        let mut buf = Vec::new();
        for k in 0..self.slots.len() {
            let (first, n) = (self.slots[k].first_row, self.slots[k].rows);
            let (lo, hi) = (rows.start.max(first), rows.end.min(first + n));
            if first >= rows.end {
                return Ok(());
            }
            if lo >= hi {
                continue;
            }
            let batch = self.committed(k)?;
            let col = batch.seg.schema.index_of(name).ok();
            for r in lo..hi {
                let v = match col {
                    Some(c) => batch.cell(c, r - first, &mut buf)?,
                    None => CellRef::Absent,
                };
                if !f(r, v) {
                    return Ok(());
                }
            }
        }
        let col = self.tail.field_index(name);
        for r in rows.start.max(self.committed_rows)..rows.end {
            let v = match col {
                Some(c) => self.tail.get(r - self.committed_rows, c),
                None => CellRef::Absent,
            };
            if !f(r, v) {
                break;
            }
        }
        Ok(())
    }

    /// The rows of committed batch `k`, read from its cells if its segment's types
    /// allow, else from the decoded batch.
    fn committed(&mut self, k: usize) -> Result<Committed<'_>> {
        let by_cells = self.cells(k)?.is_some();
        if !by_cells {
            self.batch(k)?;
        }
        let slot = &self.slots[k];
        let src = match (&slot.cells, &slot.batch) {
            (Some(c), _) if by_cells => Source::Cells(c),
            (_, Some(b)) => Source::Batch(b),
            _ => return Err(MmapError::Closed),
        };
        let extras = slot.extras.as_deref().ok_or(MmapError::Closed)?;
        let seg = self.segments.get(slot.segment).ok_or(MmapError::Closed)?;
        Ok(Committed {
            src,
            extras,
            seg,
            path: &self.path,
            offset: self.entries[slot.entry].offset,
        })
    }

    fn tail_row(&self, row: usize) -> Result<usize> {
        let r = row - self.committed_rows.min(row);
        if row < self.committed_rows || r >= self.tail.len() {
            return Err(RecordsError::IndexOutOfRange {
                index: row,
                len: self.len(),
            }
            .into());
        }
        Ok(r)
    }

    /// Calls `f(field, value)` for each key of record `row`, in the record's key order,
    /// as it was appended: a key the record lacked is skipped (not null), an int stored
    /// in a float column comes back as [`CellRef::Int`]. Records of files written by
    /// other programs have every field of their segment.
    ///
    /// # Errors
    /// [`MmapError::Records`] for an index out of range, [`MmapError::Corrupt`] for a
    /// damaged batch.
    pub fn visit_row(&mut self, row: usize, mut f: impl FnMut(&str, CellRef<'_>)) -> Result<()> {
        self.check_open()?;
        if let Some((k, j)) = self.locate(row) {
            let rows = self.committed(k)?;
            let schema = &rows.seg.schema;
            let mut buf = Vec::new();
            let mut one = |c: usize| -> Result<()> {
                match rows.cell(c, j, &mut buf)? {
                    CellRef::Absent => {}
                    cell => f(schema.field(c).name(), cell),
                }
                Ok(())
            };
            match rows.extras.order_of(j) {
                Some(order) => {
                    for &c in order {
                        one(c as usize)?;
                    }
                }
                None => {
                    for c in 0..schema.fields().len() {
                        one(c)?;
                    }
                }
            }
            return Ok(());
        }
        let r = self.tail_row(row)?;
        let tail = &self.tail;
        tail.visit_row(r, |c, cell| f(tail.field_name(c), cell));
        Ok(())
    }

    /// Checks that record `row` exists and can be read: checksums its batch and reads
    /// the batch's header if it is committed, so a view made after this call finds no
    /// damage this call could have reported (a value whose own bytes are bad is still
    /// an error when it is read).
    ///
    /// # Errors
    /// As [`RecordFile::visit_row`].
    pub fn check_row(&mut self, row: usize) -> Result<()> {
        self.check_open()?;
        match self.locate(row) {
            Some((k, _)) => self.committed(k).map(|_| ()),
            None if row < self.len() => Ok(()),
            None => Err(RecordsError::IndexOutOfRange {
                index: row,
                len: self.len(),
            }
            .into()),
        }
    }

    /// Appends one record to the pending records (durable after [`RecordFile::flush`]).
    ///
    /// # Errors
    /// [`MmapError::ReadOnly`]; [`MmapError::Records`] if the record does not fit the
    /// committed schema (the list is unchanged).
    pub fn push_record(&mut self, record: &[(&str, Cell<'_>)]) -> Result<()> {
        self.check_writable()?;
        self.tail.push_record(record)?;
        Ok(())
    }

    /// The pending records, to append to in bulk (a caller that fails halfway rolls
    /// back with [`RecordList::checkpoint`]).
    ///
    /// # Errors
    /// [`MmapError::ReadOnly`] or [`MmapError::Closed`].
    pub fn pending_mut(&mut self) -> Result<&mut RecordList> {
        self.check_writable()?;
        Ok(&mut self.tail)
    }

    /// The pending records.
    pub fn pending(&self) -> &RecordList {
        &self.tail
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.mode != Mode::Append {
            return Err(MmapError::ReadOnly(self.path.clone()));
        }
        Ok(())
    }

    /// Writes the pending records as record batches, syncs them to disk, then commits
    /// them in the index and syncs that. Returns the number of records written.
    ///
    /// If pending records bring new keys or types the last segment's schema cannot hold
    /// (an int where it stores bools, a float where it stores ints, a first value in a
    /// field that held only `None`), the flush starts a new segment: an end-of-stream
    /// marker and a schema message with the grown schema, committed together with the
    /// batches. Keys a record lacks, ints among floats and each record's key order are
    /// kept in the batch messages' metadata (see [`mod@crate::exact`]).
    ///
    /// Durable when it returns `Ok`. On an error (a full disk, say) nothing is
    /// committed, the bytes written are cut off again, and the pending records stay
    /// pending, so the file is exactly as it was after the last flush.
    ///
    /// # Errors
    /// [`MmapError::Io`].
    ///
    /// # Memory
    /// Encodes one batch of at most [`BATCH_ROWS`] rows at a time.
    pub fn flush(&mut self) -> Result<usize> {
        self.check_writable()?;
        let n = self.tail.len();
        if n == 0 {
            return Ok(0);
        }
        let current = self.segments.last().map(|s| Arc::clone(&s.schema));
        let grown = exact::grow(current.as_deref(), &self.tail).map(Arc::new);
        let schema = grown.clone().or(current).ok_or(MmapError::Closed)?;
        let mut tail = std::mem::take(&mut self.tail);
        let result = (|| {
            let (_, batches) = tail.to_arrow()?;
            let mut start = 0;
            let items = batches.iter().map(|b| {
                let r = exact::tail_batch(&tail, b, start, &schema).map_err(|field| {
                    MmapError::FieldType {
                        field,
                        expected: schema.to_string(),
                    }
                });
                start += b.num_rows();
                r
            });
            self.commit(grown, items)
        })();
        match result {
            Ok(_) => {
                self.tail = self.seeded_tail();
                Ok(n)
            }
            Err(e) => {
                self.tail = tail;
                Err(e)
            }
        }
    }

    /// Appends every record of `list` (after pending records, which are flushed first)
    /// exactly as [`RecordFile::flush`] writes pending records: absent keys, ints among
    /// floats and key order included. Returns the number written.
    ///
    /// # Errors
    /// As [`RecordFile::flush`]; the file is then as it was.
    ///
    /// # Memory
    /// Shares `list`'s chunks (copy-on-write); encodes one batch at a time.
    pub fn append_list(&mut self, list: &RecordList) -> Result<usize> {
        self.flush()?;
        let seeded = std::mem::replace(&mut self.tail, list.clone());
        let r = self.flush();
        if r.is_err() {
            self.tail = seeded;
        }
        r
    }

    /// Appends Arrow record batches as they are (after pending records, which are
    /// flushed first), with the same write-sync-commit steps as [`RecordFile::flush`].
    /// This is how a whole in-memory list is saved without converting it row by row.
    /// Batches whose schema is not the last segment's start a new segment.
    ///
    /// # Errors
    /// As [`RecordFile::flush`]; [`MmapError::Unsupported`] for an Arrow type memslim
    /// cannot read back; an error from `batches` stops the append with nothing committed.
    ///
    /// # Memory
    /// Encodes one batch of at most [`BATCH_ROWS`] rows at a time.
    pub fn append_arrow(
        &mut self,
        schema: &arrow_schema::Schema,
        batches: impl IntoIterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>>,
    ) -> Result<usize> {
        self.flush()?;
        for f in schema.fields() {
            check_arrow_type(f.name(), f.data_type()).map_err(|e| MmapError::Unsupported {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        }
        let stored = ipc::storage_schema(schema);
        let new_segment = match self.segments.last() {
            Some(s) if s.schema.fields() == stored.fields() => None,
            _ => Some(Arc::clone(&stored)),
        };
        let target = new_segment
            .clone()
            .or_else(|| self.segments.last().map(|s| Arc::clone(&s.schema)))
            .ok_or(MmapError::Closed)?;
        let items = batches.into_iter().map(|b| {
            let b = b.map_err(|e| RecordsError::Arrow(e.to_string()))?;
            let b = ipc::conform(&b, &target).map_err(|field| {
                let expected = target
                    .field_with_name(&field)
                    .map(|f| f.data_type().to_string())
                    .unwrap_or_else(|_| "no such field".into());
                MmapError::FieldType { field, expected }
            })?;
            Ok((b, Extras::default()))
        });
        let n = self.commit(new_segment, items)?;
        self.tail = self.seeded_tail();
        Ok(n)
    }

    /// Writes `batches` (already in the segment's schema) after the committed data,
    /// preceded by a new segment's end-of-stream marker and schema if `new_segment`,
    /// syncs, commits; returns the rows.
    fn commit(
        &mut self,
        new_segment: Option<SchemaRef>,
        batches: impl IntoIterator<Item = Result<(RecordBatch, Extras)>>,
    ) -> Result<usize> {
        let mut enc = Encoder::new();
        let start_end = self.committed_end();
        let start_index = self.index_len;
        let first = self.entries.is_empty();
        let base = self.entries.len() as u64;
        let result = (|| -> Result<(Vec<Entry>, usize)> {
            let data = self.data.as_ref().ok_or(MmapError::Closed)?;
            let mut pos = start_end;
            let mut new_entries = Vec::new();
            let mut rows = 0usize;
            let mut write = |kind: MessageKind, rows: u64, m: &[u8]| -> Result<()> {
                data.write_all_at(m, pos).map_err(io(&self.path))?;
                new_entries.push(Entry {
                    offset: pos,
                    len: m.len() as u64,
                    rows,
                    kind,
                    crc: Some(crc32fast::hash(m)),
                });
                pos += m.len() as u64;
                Ok(())
            };
            if let Some(schema) = &new_segment {
                if !first {
                    write(MessageKind::End, 0, &ipc::END_OF_STREAM)?;
                }
                let m = enc.schema(schema, base).map_err(RecordsError::Arrow)?;
                write(MessageKind::Schema, 0, &m)?;
            }
            for item in batches {
                let (b, extras) = item?;
                let mut off = 0;
                while off < b.num_rows() {
                    let len = BATCH_ROWS.min(b.num_rows() - off);
                    let meta = if off == 0 && len == b.num_rows() {
                        extras.to_metadata()
                    } else {
                        extras.slice(off, len).to_metadata()
                    };
                    let m = enc
                        .batch(&b.slice(off, len), &meta, base)
                        .map_err(RecordsError::Arrow)?;
                    write(MessageKind::Batch, len as u64, &m)?;
                    off += len;
                }
                rows += b.num_rows();
            }
            data.sync_data().map_err(io(&self.path))?;
            let index = self.index.as_ref().ok_or(MmapError::Closed)?;
            let mut ib = Vec::with_capacity(new_entries.len() * ENTRY_LEN);
            for (k, e) in new_entries.iter().enumerate() {
                ib.extend_from_slice(&format::encode_entry(e, k + 1 == new_entries.len()));
            }
            index
                .write_all_at(&ib, start_index)
                .and_then(|()| index.sync_data())
                .map_err(io(&self.index_path))?;
            Ok((new_entries, rows))
        })();
        let (new_entries, rows) = match result {
            Ok(e) => e,
            Err(e) => {
                // Best effort: drop what was written past the commit; if this fails too
                // the next open drops it.
                if let Some(d) = &self.data {
                    let _ = d.set_len(start_end);
                }
                if let Some(i) = &self.index {
                    let _ = i.set_len(start_index);
                }
                return Err(e);
            }
        };
        let from = self.entries.len();
        self.index_len += (new_entries.len() * ENTRY_LEN) as u64;
        self.entries.extend(new_entries);
        self.rebuild_slots(from)?;
        Ok(rows)
    }

    /// Picks up records another process committed since opening (or the last refresh)
    /// and returns how many there are now. For writers it changes nothing.
    ///
    /// # Errors
    /// [`MmapError::Io`], [`MmapError::Corrupt`].
    pub fn refresh(&mut self) -> Result<usize> {
        self.check_open()?;
        if self.mode == Mode::Append || self.layout == FileLayout::ForeignFile {
            // A writer knows everything; an IPC file with a footer is complete.
            return Ok(self.len());
        }
        let data = self.data.as_ref().ok_or(MmapError::Closed)?;
        let data_len = data.metadata().map_err(io(&self.path))?.len();
        let from = self.entries.len();
        let new_entries = match self.layout {
            FileLayout::Memslim => {
                let mut b = Vec::new();
                let mut i = File::open(&self.index_path).map_err(io(&self.index_path))?;
                i.read_to_end(&mut b).map_err(io(&self.index_path))?;
                let prev = self.entries.last().copied();
                let parsed =
                    format::parse_entries(&b, self.index_len as usize, prev, self.index_version);
                if let Some((offset, reason)) = parsed.damage {
                    return Err(MmapError::Corrupt {
                        path: self.index_path.clone(),
                        offset,
                        reason,
                    });
                }
                parsed.entries
            }
            _ => {
                let map = ReadMap::new(data, data_len, &self.path)?;
                let w = ipc::walk_from(map.bytes(), self.committed_end() as usize, false)
                    .map_err(|(off, why)| self.corrupt(off, why))?;
                w.entries
            }
        };
        if new_entries.is_empty() {
            return Ok(self.len());
        }
        let end = new_entries.last().map_or(0, Entry::end);
        if data_len < end {
            return Err(self.corrupt(data_len, "data file shorter than its index"));
        }
        self.index_len += (new_entries.len() * ENTRY_LEN) as u64;
        self.entries.extend(new_entries);
        self.rebuild_slots(from)?;
        Ok(self.len())
    }

    /// Flushes (if writable) and closes the files, releasing the writer lock. Batches
    /// handed out earlier stay valid: they keep their maps alive.
    ///
    /// # Errors
    /// As [`RecordFile::flush`]. The file is closed even then (as Python's files do):
    /// the records that could not be flushed are lost, the file holds everything up to
    /// the last successful flush.
    pub fn close(&mut self) -> Result<()> {
        if self.is_closed() {
            return Ok(());
        }
        let flushed = if self.mode == Mode::Append {
            self.flush().map(|_| ())
        } else {
            Ok(())
        };
        self.data = None;
        self.index = None;
        self.slots.clear();
        self.cache.clear();
        self.decoder = None;
        self.tail = RecordList::new();
        flushed
    }
}

/// The error a writer gives for damage it will not cut off by itself.
fn refusal(d: MmapError) -> MmapError {
    match d {
        MmapError::Corrupt {
            path,
            offset,
            reason,
        } => MmapError::Corrupt {
            path,
            offset,
            reason: format!(
                "{reason}; nothing was changed: open it read-only to read the records \
                 before the damage, or with recover=True to repair it (the bytes cut off \
                 are kept in a side file)"
            ),
        },
        other => other,
    }
}

/// Whether `b` starts like an Arrow IPC stream message (continuation marker, or a legacy
/// positive length).
fn message_starts(b: &[u8]) -> bool {
    matches!(ipc::message_prefix(b), Ok(Some((_, m))) if m > 0 && m < (1 << 24))
}

/// Runs an arrow-ipc decode step, turning both its errors and any panic on malformed
/// input into a reason string.
fn guarded<T>(
    f: impl FnOnce() -> std::result::Result<T, arrow_schema::ArrowError>,
) -> std::result::Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("undecodable record batch".into()),
    }
}

/// Writes `batches` to a new record file at `path`, replacing any file there only once
/// the new one is complete and synced (written beside it, then renamed into place).
///
/// # Errors
/// [`MmapError::Locked`] if a writer has `path` open; otherwise as
/// [`RecordFile::append_arrow`]. On an error the old file (if any) is untouched.
pub fn save_arrow(
    path: impl AsRef<Path>,
    schema: &arrow_schema::Schema,
    batches: impl IntoIterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>>,
) -> Result<usize> {
    save_with(path.as_ref(), |f| f.append_arrow(schema, batches))
}

/// Writes the records of `list` to a new record file at `path` exactly (absent keys,
/// ints among floats, key order), replacing any file there as [`save_arrow`] does.
///
/// # Errors
/// As [`save_arrow`].
pub fn save_records(path: impl AsRef<Path>, list: &RecordList) -> Result<usize> {
    save_with(path.as_ref(), |f| f.append_list(list))
}

/// Creates a record file beside `path`, fills it with `write`, and renames it into place.
fn save_with(path: &Path, write: impl FnOnce(&mut RecordFile) -> Result<usize>) -> Result<usize> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let target_index = index_path(path);
    // Hold the target's writer lock while replacing it, so an open writer is not
    // swapped out from under.
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&target_index)
        .map_err(io(&target_index))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(MmapError::Locked {
                path: path.to_owned(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&target_index)(e)),
    }
    let cleanup = |tmp: &Path| {
        let _ = std::fs::remove_file(tmp);
        let _ = std::fs::remove_file(index_path(tmp));
    };
    cleanup(&tmp);
    let written = (|| {
        let mut f = RecordFile::open(&tmp, Mode::Append)?;
        let n = write(&mut f)?;
        f.close()?;
        Ok(n)
    })();
    let n = match written {
        Ok(n) => n,
        Err(e) => {
            cleanup(&tmp);
            return Err(e);
        }
    };
    // The old index goes first, then the data, then the new index: a crash in between
    // leaves the old or the new data without an index, which opens as a plain Arrow
    // stream (every record there, no checksums), never data with a foreign index.
    match std::fs::remove_file(&target_index) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&target_index)(e)),
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::rename(index_path(&tmp), &target_index).map_err(io(&target_index))?;
    sync_dir(path)?;
    drop(lock);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading rows never decodes a batch of a segment [`mod@cells`] reads: the slot
    /// holds the mapped message and its header. Exporting one field decodes that column
    /// alone; only a whole export decodes (and caches) whole batches.
    #[test]
    fn rows_are_read_from_cells_and_exports_decode() {
        let dir = std::env::temp_dir().join(format!("memslim-cells-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let p = dir.join("c.msl");
        let mut f = RecordFile::open(&p, Mode::Append).unwrap();
        for i in 0..(2 * BATCH_ROWS + 5) as i64 {
            let name = format!("n{i}");
            f.push_record(&[("i", Cell::Int(i)), ("name", Cell::Str(&name))])
                .unwrap();
        }
        f.flush().unwrap();
        f.close().unwrap();
        let mut r = RecordFile::open(&p, Mode::Read).unwrap();
        assert_eq!(r.num_batches(), 3);
        let got = r
            .with_field(BATCH_ROWS + 7, "name", |v| format!("{v:?}"))
            .unwrap();
        assert_eq!(got, format!("Str(\"n{}\")", BATCH_ROWS + 7));
        r.check_row(2 * BATCH_ROWS).unwrap();
        for k in [1, 2] {
            assert!(r.slots[k].cells.is_some() && r.slots[k].batch.is_none());
        }
        assert!(r.slots[0].extras.is_none());
        // One field of every batch: each decoded alone, nothing decoded whole.
        let (schema, one) = r.field_arrow("i", r.len()).unwrap();
        assert_eq!(schema.fields().len(), 1);
        let sum: i64 = one
            .iter()
            .map(|b| {
                let ints = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>();
                ints.map_or(0, |a| a.values().iter().sum::<i64>())
            })
            .sum();
        let n = (2 * BATCH_ROWS + 5) as i64;
        assert_eq!(sum, n * (n - 1) / 2);
        assert!(r.slots.iter().all(|s| s.batch.is_none()));
        let (_, batches) = r.to_arrow().unwrap();
        assert_eq!(batches.len(), 3);
        assert!(
            r.slots
                .iter()
                .all(|s| s.batch.is_some() && s.extras.is_some())
        );
        let cached: u64 = r
            .cache
            .iter()
            .map(|&k| r.entries[r.slots[k].entry].len)
            .sum();
        assert_eq!((r.cache.len(), cached), (3, r.cache_bytes));
        std::fs::remove_dir_all(&dir).unwrap_or_default();
    }
}
