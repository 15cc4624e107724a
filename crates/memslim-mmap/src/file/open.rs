//! Opening a record file: the commit index, the schema, and the slots that locate
//! every batch.

use super::*;

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
        let mut cut_torn_tail = false;
        // The files this open creates, removed if it then fails (see `Created`).
        let mut created = Created(Vec::new());
        let data = match mode {
            Mode::Read => open_to_read(&path),
            Mode::Append => create_or_open(&path, &mut created.0),
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
                let i = create_or_open(&f.index_path, &mut created.0).map_err(io(&f.index_path))?;
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
        // Bound again after the index file, so dropped before it: see `Created`.
        let mut created = created;
        let index_bytes = match &index {
            Some(i) => {
                let mut b = Vec::new();
                (&*i).read_to_end(&mut b).map_err(io(&f.index_path))?;
                b
            }
            None => Vec::new(),
        };
        let mut adoption = None;
        if index_bytes.is_empty() && data_len > 0 {
            f.open_foreign(&data, data_len)?;
            if mode == Mode::Append {
                adoption = Some(f.adopt(&data, index.as_ref(), data_len, recover)?);
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
                    // The torn tail is cut once the file is known to open for appending
                    // (its segments read, its last schema appendable): an open that
                    // raises changes nothing, as its error says.
                    cut_torn_tail = f.recovery != Recovery::default();
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
            // A stream being adopted is written to only once it has checked out.
            if let Some(a) = adoption {
                // (A repair adopts the messages that verify as they are.)
                if !recover {
                    f.check_all_values()?;
                }
                f.finish_adoption(a)?;
            }
            if cut_torn_tail {
                f.cut_torn_tail()?;
            }
            f.tail = f.seeded_tail();
        }
        created.0.clear();
        Ok(f)
    }

    /// Cuts what an append-mode open found past the last commit (a torn index entry,
    /// data no commit covers): bytes past the commit, which no reader maps.
    fn cut_torn_tail(&mut self) -> Result<()> {
        let (Some(i), Some(data)) = (self.index.as_ref(), self.data.as_ref()) else {
            return Err(MmapError::Closed);
        };
        if self.recovery.dropped_index_bytes > 0 {
            i.set_len(self.index_len).map_err(io(&self.index_path))?;
        }
        if self.recovery.dropped_data_bytes > 0 {
            data.set_len(self.committed_end()).map_err(io(&self.path))?;
        }
        i.sync_all().map_err(io(&self.index_path))?;
        data.sync_all().map_err(io(&self.path))
    }

    /// The batch at `offset` makes the records more than a length can count (Python's
    /// and Rust's lengths are `isize`).
    pub(super) fn too_many_rows(&self, offset: u64) -> MmapError {
        self.corrupt(
            offset,
            format!(
                "batch row counts add up past the largest index ({} records)",
                isize::MAX
            ),
        )
    }

    pub(super) fn corrupt(&self, offset: u64, reason: impl Into<String>) -> MmapError {
        MmapError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    pub(super) fn committed_end(&self) -> u64 {
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
    pub(super) fn check_writable_schema(&self, schema: &arrow_schema::Schema) -> Result<()> {
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
    pub(super) fn seeded_tail(&self) -> RecordList {
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
    pub(super) fn message_checked(&self, e: &Entry, check: bool) -> Result<ReadMap> {
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
    pub(super) fn rebuild_slots(&mut self, from_entry: usize) -> Result<()> {
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
                        rows: usize::try_from(e.rows).unwrap_or(usize::MAX),
                        dicts_before: dicts,
                        batch: None,
                        cells: None,
                        extras: None,
                        held: None,
                    });
                    // A crafted index entry (or a foreign batch) may state any row count:
                    // the records must stay countable, as a Python length (`isize`) is.
                    first_row = usize::try_from(e.rows)
                        .ok()
                        .and_then(|n| first_row.checked_add(n))
                        .filter(|&n| isize::try_from(n).is_ok())
                        .ok_or_else(|| self.too_many_rows(e.offset))?;
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
                        first_dict: dicts,
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
}

/// Opens `path` for reading and writing, creating it if missing (then noted in
/// `created`).
fn create_or_open(path: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true);
    match opts.clone().create_new(true).open(path) {
        Ok(f) => {
            created.push(path.to_owned());
            Ok(f)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => opts.open(path),
        Err(e) => Err(e),
    }
}

/// The files an append-mode open created (the data file, its index), removed if the
/// open then fails: an open that raises leaves the directory as it was, as its error
/// says.
///
/// Dropped before the index `File`, so removed while this open still holds its lock:
/// a process that opened the path meanwhile finds it locked and refuses, as it would
/// have anyway; one that comes later creates its own.
struct Created(Vec<PathBuf>);

impl Drop for Created {
    fn drop(&mut self) {
        for p in self.0.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}
