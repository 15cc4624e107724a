//! Writing: pending records, commits (flush, appends), refresh, close and
//! whole-file saves.

use super::*;

impl RecordFile {
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
    /// field that held only `None`, a `None` or a missing key in a field another
    /// program declared non-nullable), the flush starts a new segment: an end-of-stream
    /// marker and a schema message with the grown schema, committed together with the
    /// batches. Keys a record lacks, ints among floats and each record's key order are
    /// kept in the batch messages' metadata (see [`mod@crate::exact`]).
    ///
    /// Durable when it returns `Ok`. On an error (a full disk, say) nothing is
    /// committed, the bytes written are cut off again, and the pending records stay
    /// pending, so the file is exactly as it was after the last flush.
    ///
    /// # Errors
    /// [`MmapError::Io`]; [`MmapError::FieldType`], naming the field, for values the
    /// schema grown for them still cannot store (which would be a bug);
    /// [`MmapError::OutOfMemory`] when a batch of large values cannot be written for want
    /// of memory (asked for before the batch is encoded: see `room_to_write`).
    ///
    /// # Memory
    /// Encodes one batch of at most [`BATCH_ROWS`] rows at a time: a few copies of its
    /// values at once (the Arrow form the file's schema wants, the message).
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
        let (path, first_row) = (self.path.clone(), self.committed_rows);
        let result = (|| {
            let (_, batches) = tail.to_arrow()?;
            let mut start = 0;
            let items = batches.iter().map(|b| {
                room_to_write(&path, first_row, &tail, b, start)?;
                let r = exact::tail_batch(&tail, b, start, &schema).map_err(|field| {
                    let expected = match schema.field_with_name(&field) {
                        Ok(f) if f.is_nullable() => f.data_type().to_string(),
                        Ok(f) => format!("{} (not null)", f.data_type()),
                        Err(_) => "no such field".into(),
                    };
                    MmapError::FieldType { field, expected }
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

/// Copies of a batch's values a flush holds at its peak, beside the pending records
/// themselves (measured: a 32 MiB value took 3 to 4 times its size more, as an object
/// value through the variant encoding, the Arrow array of the encodings and the IPC
/// message with its body; a string or bytes value 3 times), with room to spare.
const WRITE_COPIES: usize = 5;

/// Checks, before pending batch `b` (rows from `start` of `tail`, the file's rows from
/// `first_row + start`) is converted and encoded, that the memory that takes can be
/// had, if `b`'s values come to [`memslim_records::BIG_VALUE`] or more: those copies
/// are made by Arrow's IPC encoder and the Arrow builders, whose allocations cannot
/// fail softly (a failed one aborts the process), so the memory is asked for first,
/// with a fallible allocation given back at once. Under an address-space limit
/// (`RLIMIT_AS`), where allocations fail rather than the kernel's OOM killer acting,
/// what was had is had again by the copies (another thread allocating meanwhile
/// aside).
///
/// # Errors
/// [`MmapError::OutOfMemory`] naming the batch's largest value's row and field.
fn room_to_write(
    path: &Path,
    first_row: usize,
    tail: &RecordList,
    b: &RecordBatch,
    start: usize,
) -> Result<()> {
    let bytes = b.get_array_memory_size();
    if bytes < memslim_records::BIG_VALUE {
        return Ok(());
    }
    let need = bytes.saturating_mul(WRITE_COPIES);
    let mut probe = Vec::<u8>::new();
    let had = probe.try_reserve_exact(need).is_ok();
    // Kept from being optimized away: the allocation is the question asked.
    std::hint::black_box(&mut probe);
    drop(probe);
    if had {
        return Ok(());
    }
    let (mut row, mut field, mut len) = (start, String::new(), 0);
    for r in start..start + b.num_rows() {
        for j in 0..tail.num_fields() {
            let n = match tail.get(r, j) {
                CellRef::Str(s) | CellRef::DictStr(_, s) => s.len(),
                CellRef::Bytes(v) | CellRef::Encoded(v) => v.len(),
                _ => 0,
            };
            if n > len {
                (row, field, len) = (r, tail.field_name(j).to_owned(), n);
            }
        }
    }
    Err(MmapError::OutOfMemory {
        path: path.to_path_buf(),
        row: first_row + row,
        field,
        len,
        bytes: need,
    })
}
