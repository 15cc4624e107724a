//! Writing records to Parquet files and Hive-partitioned datasets, batch by batch.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memslim_mmap::exact::{grow, tail_batch};
use memslim_records::{CellRef, RecordList};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{ParquetError, Result, from_parquet, io};
use crate::notes::NotesWriter;
use crate::partition::{PartValue, encode, encode_key};
use crate::seal::{SEAL_KEY, SEAL_VERSION, Seal, SealingWriter, created_by};

/// Key of the partition columns' positions and value types in a part file.
pub(crate) const PARTITION_KEY: &str = "memslim.partition";
/// Key of the row count of a file with no columns: counts of at most
/// [`ROWS_PER_ENTRY`], comma-separated, that add up to it.
pub(crate) const ROWS_KEY: &str = "memslim.rows";
/// The most rows one entry of [`ROWS_KEY`] counts. A file with no columns holds nothing
/// that bounds the count it states, so the count is written in entries of at most this
/// many rows: its footer grows with it (a few bytes per 65,536 records), and a reader
/// refuses a count its footer's bytes do not back, without trusting any claim.
pub(crate) const ROWS_PER_ENTRY: usize = 1 << 16;

/// The value of [`ROWS_KEY`] for `rows` records: `65536,65536,...,<rest>`.
pub(crate) fn rows_value(rows: usize) -> String {
    let full = rows / ROWS_PER_ENTRY;
    let rest = rows % ROWS_PER_ENTRY;
    let mut v = vec![ROWS_PER_ENTRY.to_string(); full];
    if rest > 0 {
        v.push(rest.to_string());
    }
    v.join(",")
}

/// The compression of the pages written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    /// Snappy: fast, the default of pyarrow, Spark and DuckDB.
    #[default]
    Snappy,
    /// Gzip: smaller, slower.
    Gzip,
    /// LZ4 (raw).
    Lz4,
    /// No compression.
    Uncompressed,
}

impl Codec {
    /// The codec named `name` (`snappy`, `gzip`, `lz4`, `none`/`uncompressed`).
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] for other names (zstd is not built in).
    pub fn from_name(name: &str) -> Result<Codec> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "snappy" => Codec::Snappy,
            "gzip" => Codec::Gzip,
            "lz4" => Codec::Lz4,
            "none" | "uncompressed" => Codec::Uncompressed,
            other => {
                return Err(ParquetError::Invalid(format!(
                    "compression {other:?}: memslim writes snappy, gzip, lz4 or none"
                )));
            }
        })
    }

    fn parquet(self) -> Compression {
        match self {
            Codec::Snappy => Compression::SNAPPY,
            Codec::Gzip => Compression::GZIP(GzipLevel::default()),
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::Uncompressed => Compression::UNCOMPRESSED,
        }
    }
}

/// How files are written.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Page compression.
    pub codec: Codec,
    /// Rows per row group (the unit readers decode at a time).
    pub row_group_rows: usize,
    /// A part file is closed once it holds this many rows (datasets only).
    pub max_rows_per_file: Option<usize>,
    /// Part files open at once (one per partition being written); past it the least
    /// recently written one is closed.
    pub max_open_files: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            codec: Codec::default(),
            row_group_rows: 131_072,
            max_rows_per_file: None,
            max_open_files: 64,
        }
    }
}

impl WriteOptions {
    /// Checks that every count is at least 1, and that a single file (`dataset` false)
    /// sets no file size (only a dataset is split into files).
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] saying which option is out of range.
    pub fn check(&self, dataset: bool) -> Result<()> {
        let problem = if self.row_group_rows == 0 {
            "a row group must hold at least 1 row"
        } else if self.max_rows_per_file == Some(0) {
            "a part file must hold at least 1 row (max_rows_per_file)"
        } else if self.max_open_files == 0 {
            "at least 1 part file must be open at a time (max_open_files)"
        } else if !dataset && self.max_rows_per_file.is_some() {
            "max_rows_per_file splits a dataset directory into files; a single file has no limit"
        } else {
            return Ok(());
        };
        Err(ParquetError::Invalid(problem.to_owned()))
    }
}

/// One Parquet file being written: its full schema (partition columns included, which
/// the file leaves out) and the notes of the rows written so far.
struct FileWriter {
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<SealingWriter<File>>,
    full: SchemaRef,
    keep: Vec<usize>,
    file_schema: SchemaRef,
    notes: NotesWriter,
    rows: usize,
    partition_meta: Option<String>,
}

impl FileWriter {
    /// Starts `path` (written as a hidden temporary beside it until finished) for
    /// records in `full`; `partition` lists the partition columns and their values.
    fn create(
        path: PathBuf,
        full: Schema,
        partition: &[(String, PartValue)],
        opts: &WriteOptions,
        exclusive: bool,
    ) -> Result<FileWriter> {
        let full = Arc::new(full);
        let mut keep = Vec::new();
        let mut meta = Vec::new();
        for (c, f) in full.fields().iter().enumerate() {
            match partition.iter().find(|(n, _)| n == f.name()) {
                Some((n, v)) => meta.push(format!("{c}:{}:{}", v.tag(), encode(n))),
                None => keep.push(c),
            }
        }
        let file_schema = Arc::new(
            full.project(&keep)
                .map_err(|e| ParquetError::Invalid(e.to_string()))?,
        );
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Every writer gets a temporary file of its own, created exclusively: two writers
        // of one single-file path (threads, processes, a stream whose source writes the
        // same path) must never write into one inode. Each renames its own complete file
        // into place; the last rename wins.
        // (The name is cut short so that the temporary name stays within the 255 bytes
        // a file name may have wherever the target's name itself fits.)
        let mut cut = name.len().min(200);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let tmp = path.with_file_name(format!(".{}.{}.tmp", &name[..cut], unique_prefix()));
        let make_dir = || match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => {
                std::fs::create_dir_all(dir).map_err(io(dir))
            }
            _ => Ok(()),
        };
        make_dir()?;
        if exclusive && path.exists() {
            return Err(ParquetError::Io {
                path: path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        let open = || OpenOptions::new().write(true).create_new(true).open(&tmp);
        let file = match open() {
            // Another writer of the dataset that failed may have removed the partition
            // directory it had made, now empty (DatasetWriter::write_all): make it again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                make_dir()?;
                open()
            }
            other => other,
        }
        .map_err(io(&tmp))?;
        let props = WriterProperties::builder()
            .set_compression(opts.codec.parquet())
            .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
            .set_created_by(created_by())
            .build();
        let writer = ArrowWriter::try_new(
            SealingWriter::new(file),
            Arc::clone(&file_schema),
            Some(props),
        )
        .map_err(|e| from_parquet(&path, e))?;
        Ok(FileWriter {
            notes: NotesWriter::new(full.fields().len()),
            path,
            tmp,
            writer,
            full,
            keep,
            file_schema,
            rows: 0,
            partition_meta: (!meta.is_empty()).then(|| meta.join(";")),
        })
    }

    /// Appends `list` (whose records fit `self.full`: callers check with [`grow`]).
    fn write(&mut self, list: &RecordList) -> Result<()> {
        let mut list = list.clone();
        let (_, batches) = list.to_arrow()?;
        let mut start = 0;
        for b in &batches {
            let n = b.num_rows();
            let (full, ex) =
                tail_batch(&list, b, start, &self.full).map_err(|field| ParquetError::Schema {
                    path: self.path.clone(),
                    field,
                    reason: "values do not fit the file's type".into(),
                })?;
            start += n;
            let cols: Vec<ArrayRef> = self
                .keep
                .iter()
                .map(|&c| Arc::clone(full.column(c)))
                .collect();
            let opts = RecordBatchOptions::new().with_row_count(Some(n));
            let batch =
                RecordBatch::try_new_with_options(Arc::clone(&self.file_schema), cols, &opts)
                    .map_err(|e| ParquetError::Invalid(e.to_string()))?;
            // A file of records with no stored field (`{}`, or only partition keys)
            // has no column to count its rows: `memslim.rows` does.
            if !self.keep.is_empty() {
                self.writer
                    .write(&batch)
                    .map_err(|e| from_parquet(&self.path, e))?;
            }
            self.notes.append(&ex, &full, &self.keep, n);
            self.rows += n;
        }
        Ok(())
    }

    /// Writes the metadata and footer, syncs, and renames the file into place.
    fn finish(mut self) -> Result<PathBuf> {
        let result = (|| {
            // Notes a Parquet reader would refuse to read are not written.
            let notes = self
                .notes
                .to_metadata()
                .map_err(|e| ParquetError::Invalid(format!("{}: {e}", self.path.display())))?;
            for (k, v) in notes {
                self.writer.append_key_value_metadata(KeyValue::new(k, v));
            }
            if self.keep.is_empty() && self.rows > 0 {
                self.writer.append_key_value_metadata(KeyValue::new(
                    ROWS_KEY.to_owned(),
                    rows_value(self.rows),
                ));
            }
            if let Some(p) = self.partition_meta.take() {
                self.writer
                    .append_key_value_metadata(KeyValue::new(PARTITION_KEY.to_owned(), p));
            }
            // The notes above describe rows by position: seal them to the bytes and
            // row groups they describe, so that a reader can tell them from notes a
            // rewrite by another tool carried over (crate::seal). Every row group is
            // flushed through the sealing writer first; what follows it (page
            // indexes, footer) is derived from it.
            self.writer
                .flush()
                .map_err(|e| from_parquet(&self.path, e))?;
            self.writer.sync().map_err(io(&self.tmp))?;
            let (len, crc) = self.writer.inner().sum();
            let rows = self
                .writer
                .flushed_row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            let seal = Seal {
                version: SEAL_VERSION,
                len,
                crc,
                rows,
            };
            self.writer
                .append_key_value_metadata(KeyValue::new(SEAL_KEY.to_owned(), seal.to_value()));
            let file = self
                .writer
                .into_inner()
                .map_err(|e| from_parquet(&self.path, e))?
                .into_inner();
            file.sync_all().map_err(io(&self.tmp))?;
            std::fs::rename(&self.tmp, &self.path).map_err(io(&self.path))?;
            Ok(self.path.clone())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }

    /// Drops the unfinished file.
    fn abort(self) {
        let tmp = self.tmp.clone();
        drop(self.writer);
        let _ = std::fs::remove_file(tmp);
    }
}

/// The schema a file for `list` starts with: its fields' storage types, plus a null
/// field for each partition column no record has.
fn start_schema(list: &RecordList, partition_by: &[String]) -> Schema {
    let base = grow(None, list).unwrap_or_else(|| Schema::new(Vec::<Field>::new()));
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    for p in partition_by {
        if !fields.iter().any(|f| f.name() == p) {
            fields.push(Field::new(p, DataType::Null, true));
        }
    }
    Schema::new(fields)
}

/// A name no other writer (process, machine, or writer in this process) picks.
fn unique_prefix() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // RandomState is seeded from the OS once per thread: a random 64-bit salt.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    h.write_u32(std::process::id());
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    format!("{:012x}-{:016x}", nanos >> 16, h.finish())
}

/// Writes record batches to one Parquet file or to a (Hive-partitioned) directory of
/// part files, as they arrive.
///
/// # Memory
/// Each open file holds its current row group's encoded pages and its notes so far (a
/// few words per run of rows with absent keys, ints among floats or keys in an order of
/// their own, and each distinct key order once); at most
/// [`WriteOptions::max_open_files`] files are open.
pub struct DatasetWriter {
    root: PathBuf,
    single: bool,
    partition_by: Vec<String>,
    opts: WriteOptions,
    open: Vec<(Vec<PartValue>, FileWriter)>,
    done: Vec<PathBuf>,
    prefix: String,
    seq: usize,
    rows: usize,
    /// The fields of the empty batches a single-file writer received before any record:
    /// the columns of the file written if no record comes.
    empty_schema: Option<Schema>,
}

impl DatasetWriter {
    /// A writer of `path`: a dataset directory partitioned by `partition_by` when
    /// `dataset`, else a single file (which cannot be partitioned).
    ///
    /// # Errors
    /// As [`DatasetWriter::dataset`] and [`DatasetWriter::file`]; [`ParquetError::Invalid`]
    /// for partition fields given for a single file.
    pub fn create(
        path: impl AsRef<Path>,
        dataset: bool,
        partition_by: &[String],
        opts: WriteOptions,
    ) -> Result<DatasetWriter> {
        if dataset {
            return DatasetWriter::dataset(path, partition_by, opts);
        }
        if !partition_by.is_empty() {
            return Err(ParquetError::Invalid(
                "partition_by writes a dataset directory, not a single file".to_owned(),
            ));
        }
        DatasetWriter::file(path, opts)
    }

    /// A writer of the single file `path` (replaced once the new one is complete).
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] for options out of range ([`WriteOptions::check`]).
    pub fn file(path: impl AsRef<Path>, opts: WriteOptions) -> Result<DatasetWriter> {
        opts.check(false)?;
        Ok(DatasetWriter {
            root: path.as_ref().to_owned(),
            single: true,
            partition_by: Vec::new(),
            opts,
            open: Vec::new(),
            done: Vec::new(),
            prefix: String::new(),
            seq: 0,
            rows: 0,
            empty_schema: None,
        })
    }

    /// A writer of part files under the directory `root` (created if missing; files
    /// already there are left alone), partitioned by the fields `partition_by`.
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] for a repeated or empty partition field, or options out
    /// of range ([`WriteOptions::check`]).
    pub fn dataset(
        root: impl AsRef<Path>,
        partition_by: &[String],
        opts: WriteOptions,
    ) -> Result<DatasetWriter> {
        opts.check(true)?;
        for (i, p) in partition_by.iter().enumerate() {
            if p.is_empty() || partition_by[..i].contains(p) {
                return Err(ParquetError::Invalid(format!(
                    "partition_by: field {p:?} is empty or repeated"
                )));
            }
        }
        Ok(DatasetWriter {
            root: root.as_ref().to_owned(),
            single: false,
            partition_by: partition_by.to_vec(),
            opts,
            open: Vec::new(),
            done: Vec::new(),
            prefix: unique_prefix(),
            seq: 0,
            rows: 0,
            empty_schema: None,
        })
    }

    /// Records written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes the records of `list`.
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] for a partition value that names no directory,
    /// [`ParquetError::Schema`] when a single file's first batch fixed a schema a later
    /// batch does not fit, [`ParquetError::Io`]. Rows of `list` before the failing group
    /// may have been written.
    pub fn write(&mut self, list: &RecordList) -> Result<usize> {
        let n = list.len();
        if n == 0 {
            // An empty list can still have fields (declared, or left by deleted records):
            // a single file written from it alone keeps them as columns, as pyarrow does.
            if self.single && self.open.is_empty() && self.done.is_empty() {
                if let Some(wider) = grow(self.empty_schema.as_ref(), list) {
                    self.empty_schema = Some(wider);
                }
            }
            return Ok(0);
        }
        if self.partition_by.is_empty() {
            self.write_group(Vec::new(), list)?;
            self.rows += n;
            return Ok(n);
        }
        let cols: Vec<Option<usize>> = self
            .partition_by
            .iter()
            .map(|p| list.field_index(p))
            .collect();
        let cell = |r: usize, k: usize| cols[k].map_or(CellRef::Absent, |c| list.get(r, c));
        // Group rows by key, in first-seen order; most batches hold few keys, and runs
        // of one key are common, so the last group is tried first.
        let mut groups: Vec<(Vec<PartValue>, Vec<usize>)> = Vec::new();
        let mut index: hashbrown::HashMap<Vec<PartValue>, usize> = hashbrown::HashMap::new();
        let mut last: Option<usize> = None;
        for r in 0..n {
            if let Some(g) = last {
                if groups[g]
                    .0
                    .iter()
                    .enumerate()
                    .all(|(k, v)| v.matches(cell(r, k)))
                {
                    groups[g].1.push(r);
                    continue;
                }
            }
            let key = (0..cols.len())
                .map(|k| PartValue::of(&self.partition_by[k], cell(r, k)))
                .collect::<Result<Vec<_>>>()?;
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(r);
            last = Some(g);
        }
        for (key, rows) in groups {
            if rows.len() == n {
                self.write_group(key, list)?;
            } else {
                self.write_group(key, &list.take(&rows))?;
            }
        }
        self.rows += n;
        Ok(n)
    }

    fn new_path(&mut self, key: &[PartValue]) -> PathBuf {
        if self.single {
            return self.root.clone();
        }
        let mut dir = self.root.clone();
        for (name, v) in self.partition_by.iter().zip(key) {
            dir.push(format!("{}={}", encode_key(name), v.dir_value()));
        }
        let seq = self.seq;
        self.seq += 1;
        dir.join(format!("part-{}-{seq:05}.parquet", self.prefix))
    }

    /// The open writer of `key` (moved to the back, most recently used), opening one
    /// (or a new one, if `list` needs a wider schema) as needed.
    fn writer_for(&mut self, key: &[PartValue], list: &RecordList) -> Result<&mut FileWriter> {
        let pos = self.open.iter().position(|(k, _)| k == key);
        let mut schema = None;
        if let Some(p) = pos {
            let (k, w) = self.open.remove(p);
            match grow(Some(&w.full), list) {
                None => {
                    self.open.push((k, w));
                    let last = self.open.len() - 1;
                    return Ok(&mut self.open[last].1);
                }
                Some(wider) if self.single => {
                    let field = wider
                        .fields()
                        .iter()
                        .find(|f| {
                            w.full.field_with_name(f.name()).ok().map(|g| g.data_type())
                                != Some(f.data_type())
                        })
                        .map_or_else(String::new, |f| f.name().clone());
                    let path = w.path.clone();
                    self.open.push((k, w));
                    return Err(ParquetError::Schema {
                        path,
                        field,
                        reason: "a later batch needs a field or type the file's first batch \
                                 did not have (write to a directory: each schema change then \
                                 starts a new part file)"
                            .into(),
                    });
                }
                Some(wider) => {
                    self.done.push(w.finish()?);
                    schema = Some(wider);
                }
            }
        }
        if self.open.len() >= self.opts.max_open_files.max(1) {
            let (_, w) = self.open.remove(0);
            self.done.push(w.finish()?);
        }
        let schema = match schema {
            Some(s) => {
                let mut fields: Vec<Field> =
                    s.fields().iter().map(|f| f.as_ref().clone()).collect();
                for p in &self.partition_by {
                    if !fields.iter().any(|f| f.name() == p) {
                        fields.push(Field::new(p, DataType::Null, true));
                    }
                }
                Schema::new(fields)
            }
            None => start_schema(list, &self.partition_by),
        };
        let partition: Vec<(String, PartValue)> = self
            .partition_by
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect();
        let path = self.new_path(key);
        let w = FileWriter::create(path, schema, &partition, &self.opts, !self.single)?;
        self.open.push((key.to_vec(), w));
        let last = self.open.len() - 1;
        Ok(&mut self.open[last].1)
    }

    fn write_group(&mut self, key: Vec<PartValue>, list: &RecordList) -> Result<()> {
        let max = if self.single {
            None
        } else {
            self.opts.max_rows_per_file
        };
        let mut start = 0;
        while start < list.len() {
            let w = self.writer_for(&key, list)?;
            let room = max.map_or(usize::MAX, |m| m.max(1).saturating_sub(w.rows).max(1));
            let end = list.len().min(start.saturating_add(room));
            if start == 0 && end == list.len() {
                w.write(list)?;
            } else {
                w.write(&list.slice(start, end))?;
            }
            if max.is_some_and(|m| w.rows >= m) {
                if let Some(p) = self.open.iter().position(|(k, _)| *k == key) {
                    let (_, w) = self.open.remove(p);
                    self.done.push(w.finish()?);
                }
            }
            start = end;
        }
        Ok(())
    }

    /// Finishes every open file; returns every file written, in the order finished.
    /// A single-file writer that received no records writes an empty file with the
    /// fields of the empty batches it received, if any (else no columns); a dataset
    /// writer that received none leaves its directory, empty (which reads back as no
    /// records).
    ///
    /// # Errors
    /// [`ParquetError::Io`]; files not yet finished are then removed.
    pub fn close(mut self) -> Result<Vec<PathBuf>> {
        self.finish_open()?;
        Ok(std::mem::take(&mut self.done))
    }

    /// Writes `list` and closes: all of `list` or nothing of it. Where a writer fed
    /// batch by batch keeps the part files it finished before an error (they hold
    /// whole records, and more may follow), this one removes them again, so that a
    /// dataset never holds part of `list`.
    ///
    /// # Errors
    /// As [`DatasetWriter::write`] and [`DatasetWriter::close`]; every file this writer
    /// wrote is then removed, with the directories it left empty (`root` too if this
    /// writer created it). Files already there stay; a single file keeps its old
    /// content.
    pub fn write_all(mut self, list: &RecordList) -> Result<Vec<PathBuf>> {
        let root_existed = self.root.exists();
        match self.write(list).and_then(|_| self.finish_open()) {
            Ok(()) => Ok(std::mem::take(&mut self.done)),
            Err(e) => {
                for (_, w) in std::mem::take(&mut self.open) {
                    w.abort();
                }
                if !self.single {
                    for p in std::mem::take(&mut self.done) {
                        let _ = std::fs::remove_file(&p);
                        // Empty partition directories go too (remove_dir leaves any
                        // directory that holds something).
                        let mut dir = p.parent();
                        while let Some(d) = dir {
                            if d == self.root || !d.starts_with(&self.root) {
                                break;
                            }
                            if std::fs::remove_dir(d).is_err() {
                                break;
                            }
                            dir = d.parent();
                        }
                    }
                    if !root_existed {
                        let _ = std::fs::remove_dir(&self.root);
                    }
                }
                Err(e)
            }
        }
    }

    /// Finishes every open file (see [`DatasetWriter::close`]), adding them to
    /// `self.done`.
    fn finish_open(&mut self) -> Result<()> {
        if !self.single && self.open.is_empty() && self.done.is_empty() {
            std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        }
        if self.single && self.open.is_empty() && self.done.is_empty() {
            let schema = self
                .empty_schema
                .take()
                .unwrap_or_else(|| Schema::new(Vec::<Field>::new()));
            let w = FileWriter::create(self.root.clone(), schema, &[], &self.opts, false)?;
            self.open.push((Vec::new(), w));
        }
        let open = std::mem::take(&mut self.open);
        let mut err = None;
        for (_, w) in open {
            if err.is_some() {
                w.abort();
                continue;
            }
            match w.finish() {
                Ok(p) => self.done.push(p),
                Err(e) => err = Some(e),
            }
        }
        err.map_or(Ok(()), Err)
    }

    /// Removes the files not yet finished (finished ones stay).
    pub fn abort(mut self) {
        for (_, w) in std::mem::take(&mut self.open) {
            w.abort();
        }
    }
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        for (_, w) in std::mem::take(&mut self.open) {
            w.abort();
        }
    }
}
