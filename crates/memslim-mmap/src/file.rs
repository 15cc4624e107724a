//! [`RecordFile`]: a persistent, append-only list of records in an Arrow IPC stream,
//! read through a memory map, with a checksummed commit index beside it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::FileDecoder;
use arrow_ipc::{Block, MetadataVersion};
use arrow_schema::{DataType, SchemaRef};
use memslim_records::{
    Cell, CellRef, Columns, Grid, Mark, RecordList, RecordsError, Values, arrow_cell,
    check_arrow_type, is_variant_field,
};

use crate::cells::{self, BatchCells, ColumnCells};
use crate::error::{MmapError, Result, io, open_to_read};
use crate::exact::{self, ColumnExtras, Extras};
use crate::format::{self, ENTRY_LEN, Entry, HEADER_LEN, HeaderError, MessageKind};
use crate::ipc::{self, Encoder, FILE_MAGIC};
use crate::map::ReadMap;

mod batches;
mod commit;
mod fields;
mod foreign;
mod held;
mod open;
mod recovery;

pub use commit::{save_arrow, save_records};
pub use held::HeldBatch;

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
    /// Dictionary messages of the file before this batch (an index into
    /// `RecordFile::dicts`; foreign files only). Those of its own segment are the ones
    /// from its segment's `first_dict` on.
    dicts_before: usize,
    batch: Option<RecordBatch>,
    /// The batch's message with the place of each column's buffers, for reading rows
    /// without decoding the batch.
    cells: Option<Arc<BatchCells>>,
    /// What the batch's message says beyond Arrow (read with the batch or its cells;
    /// `Some` exactly while the slot is in the cache).
    extras: Option<Arc<Extras>>,
    /// The batch's records as handed to readers that keep them ([`RecordFile::hold`]);
    /// `Some` only while the slot is in the cache.
    held: Option<Arc<HeldBatch>>,
}

/// One Arrow IPC stream of the file: a schema and the batches after it, up to the next
/// end-of-stream marker.
struct Segment {
    schema: SchemaRef,
    variant: Arc<[bool]>,
    /// Rows of this segment are read value by value from the message ([`mod@cells`]).
    cells: bool,
    /// Dictionary messages of the file before this segment's schema (an index into
    /// `RecordFile::dicts`): dictionaries belong to one stream, so this segment's
    /// batches are decoded with the dictionaries from here on only.
    first_dict: usize,
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
    /// The decoder of one segment, and how many of the file's dictionaries (an index
    /// into `dicts`, from the segment's `first_dict` on) it has been fed.
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
    schema: &'a SchemaRef,
    variant: &'a [bool],
    path: &'a Path,
    /// The batch message's offset, for errors.
    offset: u64,
}

impl<'a> Committed<'a> {
    /// Value `j` of column `c` as it was appended: absent when the record lacked the
    /// key, an int when it was one among floats.
    #[inline]
    fn cell(&self, c: usize, j: usize, buf: &'a mut Vec<u8>) -> Result<CellRef<'a>> {
        let extras = self.extras.column(c);
        if extras.is_absent(j) {
            return Ok(CellRef::Absent);
        }
        // A number without nulls needs no check that can fail: small enough to inline.
        let cell = match self.src {
            Source::Cells(cells) => match cells.fixed_cell(c, j) {
                Some(cell) => cell,
                None => self.read(c, j, buf)?,
            },
            Source::Batch(_) => self.read(c, j, buf)?,
        };
        Ok(extras.as_appended(j, cell))
    }

    /// Value `j` of column `c` as stored, every position checked.
    #[inline(never)]
    fn read(&self, c: usize, j: usize, buf: &'a mut Vec<u8>) -> Result<CellRef<'a>> {
        let variant = self.is_variant(c);
        Ok(match self.src {
            Source::Cells(cells) => cells.cell(c, j, variant).map_err(|r| self.corrupt(r))?,
            Source::Batch(batch) => arrow_cell(batch.column(c).as_ref(), j, variant, buf)?,
        })
    }

    /// Calls `f(j, value)` for each row `j` of `rows` in order, with column `c`'s value
    /// as [`Committed::cell`] reads it, until `f` returns false; whether it never did.
    /// The column's buffers and exceptions are found once, not per value. With `text`,
    /// a string value of other bytes, or a null, may be passed over (see
    /// [`RecordFile::visit_field_candidates`]).
    fn visit_column(
        &self,
        c: usize,
        rows: std::ops::Range<usize>,
        text: Option<&str>,
        f: &mut impl FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<bool> {
        let extras = self.extras.column(c);
        match self.src {
            Source::Cells(cells) => {
                let col = self.column_cells(cells, c)?;
                // A value that is the text is the text: given as it, not read again.
                let found = text.and_then(|t| {
                    col.visit_text(rows.clone(), t, |j| match extras.is_absent(j) {
                        true => f(j, CellRef::Absent),
                        false => f(j, CellRef::Str(t)),
                    })
                });
                // An absent key's slot holds a placeholder, read and passed over.
                let done = match found {
                    Some(done) => done,
                    None => col.visit(rows, |j, cell| match extras.is_absent(j) {
                        true => f(j, CellRef::Absent),
                        false => f(j, extras.as_appended(j, cell)),
                    }),
                };
                return done.map_err(|r| self.corrupt(r));
            }
            Source::Batch(_) => {
                let mut buf = Vec::new();
                for j in rows {
                    if !f(j, self.cell(c, j, &mut buf)?) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// [`Committed::visit`] of each row of `rows` in turn, `f(i, field, value)` told the
    /// position `i` in `rows`: each column's buffers and exceptions found once for them
    /// all.
    fn visit_each(
        &self,
        rows: &[usize],
        mut f: impl FnMut(usize, &str, CellRef<'_>),
    ) -> Result<()> {
        let Source::Cells(cells) = self.src else {
            let mut each = |(i, &j): (usize, &usize)| self.visit(j, |name, v| f(i, name, v));
            return rows.iter().enumerate().try_for_each(&mut each);
        };
        let fields = self.schema.fields();
        let cols = (0..fields.len())
            .map(|c| Ok((self.column_cells(cells, c)?, self.extras.column(c))))
            .collect::<Result<Vec<_>>>()?;
        for (i, &j) in rows.iter().enumerate() {
            // Rows a few ahead: scattered rows miss the cache in every column at once.
            if let Some(&ahead) = rows.get(i + 8) {
                cols.iter().for_each(|(col, _)| col.prefetch(ahead));
            }
            let mut one = |c: usize| -> Result<()> {
                let Some((col, extras)) = cols.get(c) else {
                    return Ok(());
                };
                if !extras.is_absent(j) {
                    let v = col.get(j).map_err(|r| self.corrupt(r))?;
                    f(i, fields[c].name(), extras.as_appended(j, v));
                }
                Ok(())
            };
            self.each_key(j, &mut one)?;
        }
        Ok(())
    }

    /// Appends the records at `rows` of the batch to `out`, each as
    /// [`Committed::visit_each`] reads it, its values borrowed from the batch: 4,096
    /// records at a time as typed columns if they keep their keys in field order, else
    /// a grid of at most 256 KB of values at a time, each column's field in `out` found once
    /// (new fields added in the order a record-by-record copy adds them). `Ok(false)`,
    /// with `out` untouched, for a batch that is not read value by value.
    ///
    /// # Errors
    /// A damaged value; what `out` refuses (a key or a value its declared schema does
    /// not allow, a key twice in one record). `out` may then hold part of the records.
    fn append_each(&self, rows: &[usize], out: &mut RecordList) -> Result<bool> {
        /// Bytes of cells per grid pushed. The grid is filled column by column, each
        /// column's cells a row's width apart: a grid that outgrows the core's cache
        /// misses on every cell (4,096 flights, 1.8 MB, took a quarter longer to copy
        /// than 512 of them); 256 KB stays inside a small L2.
        const GRID_BYTES: usize = 256 << 10;
        /// Records per push of typed columns: read and stored a column at a time, a
        /// block this long keeps each column's values inside the cache while its
        /// repeated strings are looked up once (not once per grid's worth of records).
        const COLUMN_ROWS: usize = 4_096;
        let Source::Cells(cells) = self.src else {
            return Ok(false);
        };
        let fields = self.schema.fields();
        let row_bytes = fields.len().max(1) * std::mem::size_of::<memslim_records::Cell>();
        let grid_rows = (GRID_BYTES / row_bytes).clamp(64, 4_096);
        let cols = (0..fields.len())
            .map(|c| Ok((self.column_cells(cells, c)?, self.extras.column(c))))
            .collect::<Result<Vec<_>>>()?;
        // Each column's field in `out`, once a record has the key.
        let mut to: Vec<Option<usize>> = vec![None; fields.len()];
        let mut unseen = fields.len();
        // A record's fields in its key order.
        let mut order = Vec::new();
        for outer in rows.chunks(COLUMN_ROWS) {
            // The fields first (a grid's width is fixed), record by record, key by key.
            for (k, &j) in outer.iter().enumerate() {
                if unseen == 0 {
                    break;
                }
                self.each_key(j, |c| {
                    if let (Some(t @ None), Some((_, extras))) = (to.get_mut(c), cols.get(c)) {
                        if !extras.is_absent(j) {
                            *t = Some(out.key_field(fields[c].name(), out.len() + k)?);
                            unseen -= 1;
                        }
                    }
                    Ok(())
                })?;
            }
            // Records in field order (the common case): typed columns, no grid.
            let in_field_order = to.iter().flatten().is_sorted_by(|a, b| a < b)
                && outer.iter().all(|&j| self.extras.order_of(j).is_none());
            if in_field_order {
                out.push_columns(&self.columns_of(outer, &cols, &to)?)?;
                continue;
            }
            for block in outer.chunks(grid_rows) {
                self.push_grid_of(block, &cols, &to, &mut order, out)?;
            }
        }
        Ok(true)
    }

    /// Appends the records at `rows` to `out` as one grid, each column `c` of `cols`
    /// going to field `to[c]` of the list (none: every record lacks it), each record in
    /// its key order (`order`: scratch space).
    ///
    /// # Errors
    /// As [`Committed::append_each`].
    fn push_grid_of(
        &self,
        block: &[usize],
        cols: &[(ColumnCells<'a>, ColumnExtras<'a>)],
        to: &[Option<usize>],
        order: &mut Vec<usize>,
        out: &mut RecordList,
    ) -> Result<()> {
        // Then column by column (each column's buffers read in order), the key
        // orders last.
        let mut grid = Grid::with_capacity(out.num_fields(), block.len());
        block.iter().for_each(|_| grid.push_row());
        for (c, (col, extras)) in cols.iter().enumerate() {
            let Some(&Some(f)) = to.get(c) else {
                continue;
            };
            for (k, &j) in block.iter().enumerate() {
                if extras.is_absent(j) {
                    continue;
                }
                let v = col.get(j).map_err(|r| self.corrupt(r))?;
                let Some(cell) = extras.as_appended(j, v).to_cell() else {
                    continue;
                };
                if !grid.set_at(k, f, cell) {
                    return Err(RecordsError::DuplicateKey {
                        row: out.len() + k,
                        field: out.field_name(f).to_owned(),
                    }
                    .into());
                }
            }
        }
        // Fields in column order hold every record in column order but those with an
        // order of their own.
        let in_order = to.iter().flatten().is_sorted();
        for (k, &j) in block.iter().enumerate() {
            let own = self.extras.order_of(j);
            if in_order && own.is_none() {
                continue;
            }
            order.clear();
            self.each_key(j, |c| {
                if let (Some(&Some(f)), Some((_, extras))) = (to.get(c), cols.get(c)) {
                    if !extras.is_absent(j) {
                        order.push(f);
                    }
                }
                Ok(())
            })?;
            grid.set_order_at(k, order);
        }
        out.push_grid(&grid)?;
        Ok(())
    }

    /// The records at `rows` as columns for [`RecordList::push_columns`], each column
    /// `c` of `cols` going to field `to[c]` of the list (none: every record lacks it): an
    /// int or string column typed, any other as cells read as [`Committed::visit_each`]
    /// reads them.
    ///
    /// # Errors
    /// A damaged value, the first in column order.
    fn columns_of(
        &self,
        rows: &[usize],
        cols: &[(ColumnCells<'a>, ColumnExtras<'a>)],
        to: &[Option<usize>],
    ) -> Result<Columns<'a>> {
        let mut out = Columns::new(rows.len());
        for (c, (col, extras)) in cols.iter().enumerate() {
            let Some(&Some(f)) = to.get(c) else {
                continue;
            };
            let mut marks: Vec<Mark> = match extras.any_absent() {
                true => rows
                    .iter()
                    .map(|&j| match extras.is_absent(j) {
                        true => Mark::Absent,
                        false => Mark::Value,
                    })
                    .collect(),
                false => vec![Mark::Value; rows.len()],
            };
            let (mut ints, mut strs) = (Vec::new(), Vec::new());
            let corrupt = |r| self.corrupt(r);
            let values = if col.ints_at(rows, &mut marks, &mut ints).map_err(corrupt)? {
                Values::Ints(ints)
            } else if col.strs_at(rows, &mut marks, &mut strs).map_err(corrupt)? {
                Values::Strs(strs)
            } else {
                let mut cells = Vec::with_capacity(rows.len());
                for (&j, m) in rows.iter().zip(&marks) {
                    let cell = match m {
                        Mark::Value => {
                            let v = col.get(j).map_err(corrupt)?;
                            extras.as_appended(j, v).to_cell()
                        }
                        _ => None,
                    };
                    cells.push(cell);
                }
                marks.clear();
                Values::Cells(cells)
            };
            if marks.iter().all(|&m| m == Mark::Value) {
                marks.clear();
            }
            // One entry per row, marks with ints or strings only: always taken.
            out.push(f, values, marks);
        }
        Ok(out)
    }

    /// Whether column `c` holds values in the variant encoding.
    fn is_variant(&self, c: usize) -> bool {
        self.variant.get(c).copied().unwrap_or(false)
    }

    /// Column `c`'s buffers in `cells`, found once for reading many of its values (see
    /// [`BatchCells::column`]).
    fn column_cells(&self, cells: &'a BatchCells, c: usize) -> Result<ColumnCells<'a>> {
        cells
            .column(c, self.is_variant(c))
            .map_err(|r| self.corrupt(r))
    }

    #[cold]
    fn corrupt(&self, reason: String) -> MmapError {
        MmapError::Corrupt {
            path: self.path.to_owned(),
            offset: self.offset,
            reason,
        }
    }

    /// Calls `f` with field `name` of row `j`, [`CellRef::Absent`] if the row lacks it.
    fn field<R>(&self, j: usize, name: &str, f: impl FnOnce(CellRef<'_>) -> R) -> Result<R> {
        let Ok(c) = self.schema.index_of(name) else {
            return Ok(f(CellRef::Absent));
        };
        let mut buf = Vec::new();
        Ok(f(self.cell(c, j, &mut buf)?))
    }

    /// Calls `f(field, value)` for each key of row `j` in the record's key order,
    /// skipping the keys it lacked (see [`RecordFile::visit_row`]).
    fn visit(&self, j: usize, mut f: impl FnMut(&str, CellRef<'_>)) -> Result<()> {
        let mut buf = Vec::new();
        let one = |c: usize| -> Result<()> {
            match self.cell(c, j, &mut buf)? {
                CellRef::Absent => {}
                cell => f(self.schema.field(c).name(), cell),
            }
            Ok(())
        };
        self.each_key(j, one)
    }

    /// Calls `f(c)` for each column `c` of row `j` in the row's key order, until it
    /// fails. The columns of keys the row lacks are among them (`f` skips those).
    #[inline]
    fn each_key(&self, j: usize, mut f: impl FnMut(usize) -> Result<()>) -> Result<()> {
        match self.extras.order_of(j) {
            Some(order) => order.iter().try_for_each(|&c| f(c as usize)),
            None => (0..self.schema.fields().len()).try_for_each(f),
        }
    }
}

impl RecordFile {
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

    /// The committed schema: every segment's fields, each with the type its segments'
    /// types unify to (`None` before the first flush). It is worked out from the
    /// segments' schemas alone, without reading a value: a float field an older segment
    /// stored as ints past 2**53 is `Float64` here, where [`RecordFile::to_arrow`], which
    /// reads the values, exports it variant-encoded (exactly). The schema an export uses
    /// is the one it returns.
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
    match memslim_records::panic_guard::catch_quietly(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("undecodable record batch".into()),
    }
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
