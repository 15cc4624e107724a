//! Reading Parquet files and datasets into record batches, one batch at a time.

use memslim_records::panic_guard;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use memslim_records::{
    ArrowColumn, ArrowPushError, ArrowSource, DType, RecordList, check_arrow_type, dtype_of_arrow,
    is_variant_field,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{ParquetError, Result, from_arrow, from_parquet, io};
use crate::notes::{ABSENT_KEY, AbsentRows, Notes, ORDER_KEY};
use crate::pages::check_pages;
use crate::partition::{Part, PartValue, canonical_int, dataset_files, decode};
use crate::seal::{SEAL_KEY, notes_hold};
use crate::write::{PARTITION_KEY, ROWS_KEY, ROWS_PER_ENTRY};

/// What to read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Only these keys (partition keys included); `None` reads every key.
    pub columns: Option<Vec<String>>,
    /// Rows per batch at most.
    pub batch_rows: usize,
    /// Refuse a record holding an opaque value (a host object stored as such: the
    /// Python bindings refuse pickled objects unless the user trusts the files) with
    /// [`ParquetError::Opaque`] naming the file, its row and the field.
    pub refuse_opaque: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            columns: None,
            batch_rows: 65_536,
            refuse_opaque: false,
        }
    }
}

/// Runs `f`, turning a panic inside the Parquet decoder (malformed input it did not
/// check) into [`ParquetError::Corrupt`] naming `path`.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    panic_guard::catch_quietly(f).unwrap_or_else(|p| {
        Err(ParquetError::Corrupt {
            path: path.to_owned(),
            reason: panic_guard::message(&*p).unwrap_or_else(|| "the decoder failed".into()),
        })
    })
}

/// Where a field of a file's full schema (partition columns included) comes from.
enum Slot {
    /// Column `usize` of the decoded (projected) batch; whether it is variant-encoded.
    Column(usize, bool),
    /// A partition value.
    Const(PartValue),
    /// Not selected.
    Skip,
}

/// The value of a partition column of a file.
#[derive(Clone)]
enum Const {
    /// Named by a directory.
    Value(PartValue),
    /// Named by the file's notes, but by no directory: left out of the records.
    Unknown,
}

/// One open file: its decoder and how its rows become records.
struct FileReader {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    names: Vec<String>,
    slots: Vec<Slot>,
    /// Slots the key order notes know; those past it (keys of directories) follow
    /// every record's noted keys.
    noted: usize,
    /// The notes, read as the rows go by.
    notes: Notes,
    /// Rows of the file read so far.
    row: usize,
    /// Records left to give of a file with no columns.
    columnless: Option<usize>,
    /// The file's columns that are read, with their types: the fields of a read that
    /// gives no record (see [`read_all`]).
    typed: Vec<(String, DType)>,
    batch_rows: usize,
    refuse_opaque: bool,
}

impl FileReader {
    fn open(
        part: &Part,
        opts: &ReadOptions,
        ints: &hashbrown::HashMap<String, bool>,
    ) -> Result<FileReader> {
        let path = part.path.clone();
        let file = File::open(&path).map_err(io(&path))?;
        let builder = guarded(&path, || {
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| from_parquet(&path, e))
        })?;
        let schema = builder.schema().clone();
        let meta = builder.metadata().file_metadata();
        // The footer says the row count twice (file, row groups): a damaged count must
        // not size the bitmaps below.
        let in_groups: i64 = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .sum();
        let mut rows = usize::try_from(meta.num_rows())
            .ok()
            .filter(|_| in_groups == meta.num_rows())
            .ok_or_else(|| ParquetError::Corrupt {
                path: path.clone(),
                reason: format!(
                    "the footer says {} rows, its row groups {in_groups}",
                    meta.num_rows()
                ),
            })?;
        let kv: Vec<(String, String)> = meta
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .filter(|k| k.key.starts_with("memslim."))
                    .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let (kv, version) = honoured_notes(&path, builder.metadata(), kv)?;
        // A file with no column holds no row: its footer's count is only a claim, and
        // one its bytes do not back (more than 8 rows per byte) is refused. (memslim's
        // own count of such records, memslim.rows below, is backed by its footer.)
        let most_rows = usize::try_from(meta_len(&path)?)
            .unwrap_or(usize::MAX)
            .saturating_mul(8);
        if builder.parquet_schema().num_columns() == 0 && rows > most_rows {
            return Err(ParquetError::Corrupt {
                path: path.clone(),
                reason: format!(
                    "the footer claims {rows} rows, and the file has no column to hold them"
                ),
            });
        }
        // Records with no stored field: only memslim.rows counts them.
        let mut columnless = None;
        if schema.fields().is_empty() && rows == 0 {
            if let Some((_, v)) = kv.iter().find(|(k, _)| k == ROWS_KEY) {
                let n = columnless_rows(v, most_rows).ok_or_else(|| ParquetError::Corrupt {
                    path: path.clone(),
                    reason: format!("{ROWS_KEY} {:?} is not a count of records", short(v)),
                })?;
                rows = n;
                columnless = Some(n);
            }
        }
        // Partition columns: where memslim put them among the fields, with their types;
        // others (files written by others) after the file's fields, typed by inference.
        let mut placed: Vec<(usize, char, String)> = Vec::new();
        if let Some((_, v)) = kv.iter().find(|(k, _)| k == PARTITION_KEY) {
            for entry in v.split(';').filter(|e| !e.is_empty()) {
                let mut it = entry.splitn(3, ':');
                let (Some(pos), Some(tag), Some(name)) = (it.next(), it.next(), it.next()) else {
                    return Err(corrupt_meta(&path, entry));
                };
                let pos = pos
                    .parse::<usize>()
                    .map_err(|_| corrupt_meta(&path, entry))?;
                let tag = tag
                    .chars()
                    .next()
                    .ok_or_else(|| corrupt_meta(&path, entry))?;
                placed.push((pos, tag, decode(name)));
            }
            placed.sort_by_key(|p| p.0);
        }
        let file_fields: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        // A record holds a key once: two columns of one name (pyarrow writes such
        // files) cannot both be read.
        let mut seen = hashbrown::HashSet::with_capacity(file_fields.len());
        for name in &file_fields {
            let wanted = opts
                .columns
                .as_ref()
                .is_none_or(|c| c.iter().any(|x| x == name));
            if !seen.insert(name.as_str()) && wanted {
                return Err(ParquetError::Schema {
                    path: path.clone(),
                    field: name.clone(),
                    reason: "the file has two columns of this name, and a record holds a key \
                             once (leave it out with columns=)"
                        .to_owned(),
                });
            }
        }
        let mut names: Vec<String> = file_fields.clone();
        let mut consts: Vec<Option<Const>> = vec![None; names.len()];
        for (pos, tag, name) in &placed {
            // Below the input root, or (a part file or partition directory given
            // itself) in a directory the file sits in.
            let raw = part
                .keys
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| ancestor_value(&path, name));
            // No directory names the key (a part file copied out of its dataset): its
            // value is unknown, so the records leave it out, as other readers do.
            let value = raw.map_or(Const::Unknown, |raw| {
                Const::Value(PartValue::parse(&raw, Some(*tag), false))
            });
            if *pos > names.len() || names.contains(name) {
                return Err(corrupt_meta(&path, name));
            }
            names.insert(*pos, name.clone());
            consts.insert(*pos, Some(value));
        }
        // Fields the notes know (the file's and its placed partition columns); keys of
        // directories follow them, in no row's key order note.
        let noted = names.len();
        for (k, raw) in &part.keys {
            if names.contains(k) {
                continue;
            }
            let is_int = ints.get(k).copied().unwrap_or(false);
            names.push(k.clone());
            consts.push(Some(Const::Value(PartValue::parse(raw, None, is_int))));
        }
        let wanted = |n: &str| {
            opts.columns
                .as_ref()
                .is_none_or(|c| c.iter().any(|x| x == n))
        };
        let mut projected: Vec<usize> = Vec::new();
        let mut typed = Vec::new();
        let mut slots = Vec::with_capacity(names.len());
        let mut file_col = 0;
        for (name, c) in names.iter().zip(&consts) {
            match c {
                Some(Const::Value(v)) if wanted(name) => slots.push(Slot::Const(v.clone())),
                Some(_) => slots.push(Slot::Skip),
                None => {
                    let f = schema.field(file_col);
                    if wanted(name) {
                        check_arrow_type(f.name(), f.data_type()).map_err(|e| {
                            ParquetError::Schema {
                                path: path.clone(),
                                field: f.name().clone(),
                                reason: format!("memslim cannot hold this column ({e})"),
                            }
                        })?;
                        slots.push(Slot::Column(projected.len(), is_variant_field(f)));
                        typed.push((name.clone(), dtype_of_arrow(f)));
                        projected.push(file_col);
                    } else {
                        slots.push(Slot::Skip);
                    }
                    file_col += 1;
                }
            }
        }
        // The decoder reserves what page headers claim, and the notes below are sized
        // by the rows the footer claims: check the claims against the pages first (one
        // column at least, which a projection of no column still counts rows by).
        let descr = builder.parquet_schema();
        let mut leaves: Vec<usize> = (0..descr.num_columns())
            .filter(|&l| projected.contains(&descr.get_column_root_idx(l)))
            .collect();
        if leaves.is_empty() && descr.num_columns() > 0 {
            leaves.push(0);
        }
        let file = File::open(&path).map_err(io(&path))?;
        check_pages(&path, file, builder.metadata(), &leaves)?;
        // Per noted field: whether the file stores it (else a partition column).
        let stored: Vec<bool> = consts[..noted].iter().map(Option::is_none).collect();
        let notes = match version {
            Some(1) => Notes::from_v1(&kv, rows, &stored),
            _ => Notes::parse(&kv, rows, &stored),
        }
        .map_err(|reason| ParquetError::Corrupt {
            path: path.clone(),
            reason,
        })?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), projected);
        let reader = guarded(&path, || {
            builder
                .with_projection(mask)
                .with_batch_size(opts.batch_rows.max(1))
                .build()
                .map_err(|e| from_parquet(&path, e))
        })?;
        Ok(FileReader {
            path,
            reader,
            columnless,
            typed,
            names,
            slots,
            noted,
            notes,
            row: 0,
            batch_rows: opts.batch_rows.max(1),
            refuse_opaque: opts.refuse_opaque,
        })
    }

    /// The next batch of the file as records, `None` at its end.
    fn next_list(&mut self) -> Result<Option<RecordList>> {
        if let Some(left) = self.columnless {
            if left == 0 {
                return Ok(None);
            }
            let n = left.min(self.batch_rows);
            self.columnless = Some(left - n);
            let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(n));
            let schema = std::sync::Arc::new(arrow_schema::Schema::empty());
            let batch = RecordBatch::try_new_with_options(schema, Vec::new(), &opts)
                .map_err(|e| ParquetError::Invalid(e.to_string()))?;
            let list = self.records(&batch)?;
            self.row += n;
            return Ok(Some(list));
        }
        let path = self.path.clone();
        let batch = guarded(&path, || match self.reader.next() {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(from_arrow(&path, e)),
        })?;
        let Some(batch) = batch else { return Ok(None) };
        let list = self.records(&batch)?;
        self.row += batch.num_rows();
        Ok(Some(list))
    }

    /// The records of `batch` (the file's next rows), read a column at a time: each
    /// column read with what the notes say of it (absent keys, ints stored as floats),
    /// each partition value repeated, and the rows with a key order of their own given
    /// it.
    fn records(&mut self, batch: &RecordBatch) -> Result<RecordList> {
        let n = batch.num_rows();
        let notes = self
            .notes
            .batch(n)
            .map_err(|reason| ParquetError::Corrupt {
                path: self.path.clone(),
                reason,
            })?;
        let row_error = |reason: String| ParquetError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        // Per slot: the rows lacking its key (not known for a column not decoded whose
        // absent rows are its nulls); keys a key order lists.
        let mut absent = Vec::with_capacity(self.slots.len());
        for (k, slot) in self.slots.iter().enumerate() {
            let Slot::Column(c, _) = slot else {
                absent.push(notes.absent_rows(k, n, None));
                continue;
            };
            let nulls = batch.column(*c).logical_nulls();
            let rows = notes.absent_rows(k, n, Some(nulls.as_ref()));
            if let AbsentRows::Rows(rows) = &rows {
                let valued = match &nulls {
                    Some(nb) => rows & nb.inner(),
                    None => rows.clone(),
                };
                if let Some(i) = valued.set_indices().next() {
                    return Err(row_error(format!(
                        "field {:?}, row {}: marked absent ({ABSENT_KEY}) but holds a value",
                        self.names[k],
                        self.row + i
                    )));
                }
            }
            absent.push(rows);
        }
        let idx = notes.order_indexes();
        // A key order lists exactly the record's keys, each once (as far as the columns
        // read tell). Per order used: its index among those given to the list.
        let mut used: hashbrown::HashMap<u32, u32> = hashbrown::HashMap::new();
        let mut listed = vec![false; self.noted];
        for (i, &o) in idx.iter().enumerate().filter(|(_, o)| **o != 0) {
            let r = self.row + i;
            let order = self
                .notes
                .order(o)
                .ok_or_else(|| row_error(format!("row {r}: no key order {o} in {ORDER_KEY}")))?;
            let mut fits = true;
            for &k in order {
                listed[k as usize] = true;
                fits &= absent[k as usize].at(i) != Some(true);
            }
            fits &= (0..self.noted).all(|k| listed[k] || absent[k].at(i) != Some(false));
            for &k in order {
                listed[k as usize] = false;
            }
            if !fits {
                return Err(row_error(format!(
                    "row {r}: its key order ({ORDER_KEY}) does not list exactly the \
                     record's keys"
                )));
            }
            let next = used.len() as u32 + 1;
            used.entry(o).or_insert(next);
        }
        // The fields: the keys read that some record has, in the file's column order.
        let mut out = RecordList::new();
        let read: Vec<(usize, ArrowSource<'_>)> = (self.slots.iter().enumerate())
            .filter_map(|(k, slot)| match slot {
                Slot::Column(c, variant) => Some((
                    k,
                    ArrowSource::Array {
                        array: batch.column(*c).as_ref(),
                        variant: *variant,
                    },
                )),
                Slot::Const(v) => Some((k, ArrowSource::Repeat(v.cell()))),
                Slot::Skip => None,
            })
            .filter(|(k, _)| match &absent[*k] {
                AbsentRows::Rows(rows) => rows.count_set_bits() < n,
                _ => n > 0,
            })
            .collect();
        let names: Vec<&str> = read.iter().map(|(k, _)| self.names[*k].as_str()).collect();
        let fields = out.add_fields(&names).map_err(|e| ParquetError::Record {
            path: self.path.clone(),
            source: e,
        })?;
        let mut field_of: Vec<Option<u32>> = vec![None; self.slots.len()];
        for ((k, _), &j) in read.iter().zip(&fields) {
            field_of[*k] = Some(j as u32);
        }
        // Each order used, as fields: the keys read that it lists, then the keys of
        // directories (which follow every record's noted keys).
        let mut table: Vec<Vec<u32>> = vec![Vec::new(); used.len()];
        for (&o, &at) in &used {
            let order = self.notes.order(o).unwrap_or_default();
            table[at as usize - 1] = order
                .iter()
                .map(|&k| k as usize)
                .chain(self.noted..self.slots.len())
                .filter_map(|k| field_of[k])
                .collect();
        }
        let per_row: Vec<u32> = match used.is_empty() {
            true => Vec::new(),
            false => idx
                .iter()
                .map(|o| used.get(o).copied().unwrap_or(0))
                .collect(),
        };
        let ints: Vec<Option<arrow_buffer::BooleanBuffer>> = read
            .iter()
            .map(|(k, source)| match source {
                ArrowSource::Array { .. } => notes.int_rows(*k, n),
                ArrowSource::Repeat(_) => None,
            })
            .collect();
        let cols: Vec<ArrowColumn<'_>> = read
            .iter()
            .zip(&fields)
            .zip(&ints)
            .map(|((&(k, source), &field), ints)| ArrowColumn {
                field,
                source,
                absent: match &absent[k] {
                    AbsentRows::Rows(rows) => Some(rows),
                    _ => None,
                },
                ints: ints.as_ref(),
            })
            .collect();
        out.push_arrow(n, &cols, (&table, &per_row))
            .map_err(|e| match e {
                ArrowPushError::Read { column, row, error } => row_error(format!(
                    "field {:?}, row {}: {error}",
                    self.names[read[column].0],
                    self.row + row
                )),
                ArrowPushError::Push(e) => ParquetError::Record {
                    path: self.path.clone(),
                    source: e.map_row(|row| self.row + row),
                },
            })?;
        if self.refuse_opaque {
            if let Some((row, j)) = out.first_opaque() {
                return Err(ParquetError::Opaque {
                    path: self.path.clone(),
                    row: self.row + row,
                    field: out.field_name(j).to_owned(),
                });
            }
        }
        out.optimize();
        Ok(out)
    }
}

/// The value of partition key `name` in the nearest `name=value` directory holding
/// `path`.
fn ancestor_value(path: &Path, name: &str) -> Option<String> {
    path.ancestors().skip(1).find_map(|dir| {
        let seg = dir.file_name()?.to_string_lossy().into_owned();
        let (k, v) = seg.split_once('=')?;
        (decode(k) == name).then(|| decode(v))
    })
}

/// The notes of the file at `path` (its `memslim.*` key-value metadata, `kv`) that
/// describe its rows: all of them if their seal checks out ([`notes_hold`]), else none,
/// and the file reads as one written by others; with the version of their encoding. A
/// file with no notes is not checked (its data region is read only to check a seal).
fn honoured_notes(
    path: &Path,
    meta: &parquet::file::metadata::ParquetMetaData,
    mut kv: Vec<(String, String)>,
) -> Result<(KeyValues, Option<u8>)> {
    if kv.iter().all(|(k, _)| k == SEAL_KEY) {
        return Ok((Vec::new(), None));
    }
    let seal = kv
        .iter()
        .find(|(k, _)| k == SEAL_KEY)
        .map(|(_, v)| v.as_str());
    let mut file = File::open(path).map_err(io(path))?;
    let version = notes_hold(meta, seal, &mut file).map_err(io(path))?;
    if version.is_none() {
        kv.clear();
    }
    Ok((kv, version))
}

/// The record count `v` (the value of `memslim.rows`) states: a sum of entries of at
/// most [`ROWS_PER_ENTRY`] rows each, so that the count is backed by the footer's
/// bytes (the reader's work and its bitmaps grow with the count). One entry larger
/// than that (files written before counts were split) is taken up to `legacy_most`.
/// `None` for anything else.
fn columnless_rows(v: &str, legacy_most: usize) -> Option<usize> {
    if !v.contains(',') {
        let n = v.parse::<usize>().ok()?;
        return (n <= ROWS_PER_ENTRY.max(legacy_most)).then_some(n);
    }
    let mut total: usize = 0;
    for e in v.split(',') {
        let n = e
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=ROWS_PER_ENTRY).contains(n))?;
        total = total
            .checked_add(n)
            .filter(|t| isize::try_from(*t).is_ok())?;
    }
    Some(total)
}

/// At most the first 40 characters of `v`, for an error message.
fn short(v: &str) -> &str {
    v.char_indices().nth(40).map_or(v, |(i, _)| &v[..i])
}

/// A file's key-value metadata.
type KeyValues = Vec<(String, String)>;

fn meta_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path).map_err(io(path))?.len())
}

fn corrupt_meta(path: &Path, entry: &str) -> ParquetError {
    ParquetError::Corrupt {
        path: path.to_owned(),
        reason: format!("{PARTITION_KEY} entry {entry:?}"),
    }
}

/// Reads Parquet files and datasets as [`RecordList`] batches (see the crate docs).
///
/// # Memory
/// One file open at a time; its decoder holds the pages of the row group being read,
/// plus the file's notes as written (a few bytes per run of rows; `crate::notes`) and,
/// for the batch being read, a bitmap per noted column, an order index per row, and the
/// typed copy of the run of rows being stored (a few MB at most:
/// [`RecordList::push_arrow`]).
pub struct ParquetReader {
    parts: Vec<Part>,
    next: usize,
    current: Option<FileReader>,
    opts: ReadOptions,
    ints: hashbrown::HashMap<String, bool>,
    failed: bool,
    /// The stored columns read so far, each once, in the order files named them.
    fields: Vec<(String, DType)>,
}

impl ParquetReader {
    /// A reader of `inputs`: files, directories (recursively) or both.
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] for a batch of no rows (checked first);
    /// [`ParquetError::Io`] for a missing input. Files are opened (and checked) as the
    /// reader reaches them.
    pub fn open(inputs: &[PathBuf], opts: ReadOptions) -> Result<ParquetReader> {
        if opts.batch_rows == 0 {
            return Err(ParquetError::Invalid(
                "a batch must hold at least 1 row".to_owned(),
            ));
        }
        let parts = dataset_files(inputs)?;
        // Per partition key: whether every value in the input is a decimal integer.
        let mut ints: hashbrown::HashMap<String, bool> = hashbrown::HashMap::new();
        for p in &parts {
            for (k, v) in &p.keys {
                let is_int = v == crate::partition::NULL_DIR || canonical_int(v).is_some();
                *ints.entry(k.clone()).or_insert(true) &= is_int;
            }
        }
        Ok(ParquetReader {
            parts,
            next: 0,
            current: None,
            opts,
            ints,
            failed: false,
            fields: Vec::new(),
        })
    }

    /// The files the reader reads, in order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.parts.iter().map(|p| p.path.as_path())
    }

    fn step(&mut self) -> Result<Option<RecordList>> {
        loop {
            if let Some(f) = self.current.as_mut() {
                match f.next_list()? {
                    Some(l) if l.is_empty() => continue,
                    Some(l) => return Ok(Some(l)),
                    None => self.current = None,
                }
            }
            let Some(part) = self.parts.get(self.next) else {
                return Ok(None);
            };
            self.next += 1;
            let f = FileReader::open(part, &self.opts, &self.ints)?;
            for (name, dtype) in &f.typed {
                if !self.fields.iter().any(|(n, _)| n == name) {
                    self.fields.push((name.clone(), *dtype));
                }
            }
            self.current = Some(f);
        }
    }
}

impl Iterator for ParquetReader {
    type Item = Result<RecordList>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.failed = true;
        }
        r.transpose()
    }
}

/// Every record of `inputs` in one list (see [`ParquetReader`]), with every column read
/// as a field, also those of files of no rows.
///
/// # Errors
/// As [`ParquetReader`].
///
/// # Memory
/// The result, plus one decoded batch at a time.
pub fn read_all(inputs: &[PathBuf], opts: ReadOptions) -> Result<RecordList> {
    let mut out = RecordList::new();
    let mut reader = ParquetReader::open(inputs, opts)?;
    for list in &mut reader {
        let list = list?;
        if out.is_empty() {
            out = list;
        } else {
            out.extend_from(&list)?;
        }
    }
    // A file of no rows still says its columns: they are fields of the result (with
    // their types, as from_arrow of an empty table gives them), so they survive a
    // round trip. Fields records gave are already there.
    for (name, dtype) in &reader.fields {
        if out.field_index(name).is_none() {
            out.add_field_of(name, *dtype)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::rows_value;

    #[test]
    fn a_count_of_records_without_fields_reads_back_and_is_backed_by_its_bytes() {
        for n in [1, 65_535, 65_536, 65_537, 1_000_000, 10_000_000] {
            let v = rows_value(n);
            assert_eq!(columnless_rows(&v, 0), Some(n), "{n}");
            // A few bytes per 65,536 records.
            assert!(
                v.len() <= 6 * n.div_ceil(ROWS_PER_ENTRY),
                "{n}: {}",
                v.len()
            );
        }
        // One large entry: a claim the footer does not back, unless the file is large
        // enough for the old guard (8 rows per byte).
        assert_eq!(columnless_rows("10000000", 1000), None);
        assert_eq!(columnless_rows("10000000", 80_000_000), Some(10_000_000));
        assert_eq!(columnless_rows("65537,1", 0), None);
        assert_eq!(columnless_rows("0,1", 0), None);
        assert_eq!(columnless_rows("1,,1", 0), None);
        assert_eq!(columnless_rows("x", 0), None);
    }
}
