//! Reading committed batches: decoding and caching them, and single cells and rows.

use super::*;

impl RecordFile {
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
            return Ok(self.slots[k].cells.as_deref());
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
            None => {
                let x = self.extras_of(&e, &pairs, cells.rows(), schema.fields().len())?;
                self.check_extras(&e, &x, &cells, &schema)?;
                Some(x)
            }
        };
        self.slots[k].cells = Some(Arc::new(cells));
        if let Some(extras) = extras {
            self.cached(k, extras);
        }
        Ok(self.slots[k].cells.as_deref())
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
            slot.held = None;
            self.cache_bytes -= self.entries[slot.entry].len;
        }
    }

    /// What message `e` (its `custom_metadata` `pairs`, a batch of `rows` rows and
    /// `cols` columns) says beyond Arrow.
    pub(super) fn extras_of(
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

    /// Checks the extras of message `e` against its batch's `values` (of a batch of
    /// `schema`): what they mark must be what the batch holds.
    pub(super) fn check_extras(
        &self,
        e: &Entry,
        extras: &Extras,
        values: &impl exact::BatchValues,
        schema: &arrow_schema::Schema,
    ) -> Result<()> {
        let name = |c: usize| schema.fields().get(c).map_or("", |f| f.name().as_str());
        extras
            .check_values(values, name)
            .map_err(|why| self.corrupt(e.offset, why))
    }

    /// Decodes committed batch `k`, and reads its extras if the slot has none yet.
    fn decode(&mut self, k: usize) -> Result<(RecordBatch, Option<Extras>)> {
        let seg = self.slots[k].segment;
        let (schema, first_dict) = self
            .segments
            .get(seg)
            .map(|s| (Arc::clone(&s.schema), s.first_dict))
            .ok_or(MmapError::Closed)?;
        // Dictionaries are per stream: this segment's batches see only the dictionaries
        // (and the replacements and deltas of them) sent in this segment before them.
        let need = self.slots[k].dicts_before;
        let entry = self.entries[self.slots[k].entry];
        let restart = match &self.decoder {
            Some((s, _, fed)) => *s != seg || *fed > need,
            None => true,
        };
        if restart {
            let version = MetadataVersion::V5;
            let d = FileDecoder::new(Arc::clone(&schema), version).with_require_alignment(false);
            self.decoder = Some((seg, d, first_dict));
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
        self.check_extras(&entry, &extras, &batch, &batch.schema())?;
        Ok((batch, Some(extras)))
    }

    /// The IPC block and bytes of committed entry `idx`, checksummed the first time only.
    fn block_at(&mut self, idx: usize) -> Result<(Block, arrow_buffer::Buffer)> {
        let map = self.map_at(idx)?;
        self.block_of(&self.entries[idx], &map)
    }

    /// A map of committed entry `idx`, checksummed the first time only.
    pub(super) fn map_at(&mut self, idx: usize) -> Result<ReadMap> {
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

    /// Loads committed batch `k` for reading rows: its cells if its segment's types
    /// allow (`true`), else the decoded batch.
    fn load(&mut self, k: usize) -> Result<bool> {
        let by_cells = self.cells(k)?.is_some();
        if !by_cells {
            self.batch(k)?;
        }
        Ok(by_cells)
    }

    /// The rows of committed batch `k`, read from its cells if its segment's types
    /// allow, else from the decoded batch.
    pub(super) fn committed(&mut self, k: usize) -> Result<Committed<'_>> {
        let by_cells = self.load(k)?;
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
            schema: &seg.schema,
            variant: &seg.variant,
            path: &self.path,
            offset: self.entries[slot.entry].offset,
        })
    }

    /// The committed batch that holds record `row`, for reading its records apart from
    /// the file (`None` for a pending record). Checks the batch as
    /// [`RecordFile::check_row`] does.
    ///
    /// # Errors
    /// As [`RecordFile::visit_row`].
    ///
    /// # Memory
    /// The batch keeps its message mapped (about [`BATCH_ROWS`] records' bytes) while a
    /// caller holds it, even after the file's cache let it go or the file closed.
    pub fn hold(&mut self, row: usize) -> Result<Option<Arc<HeldBatch>>> {
        self.check_open()?;
        let Some((k, _)) = self.locate(row) else {
            return Ok(None);
        };
        if let Some(h) = &self.slots[k].held {
            return Ok(Some(Arc::clone(h)));
        }
        let by_cells = self.load(k)?;
        let slot = &self.slots[k];
        let src = match (&slot.cells, &slot.batch) {
            (Some(c), _) if by_cells => held::Source::Cells(Arc::clone(c)),
            (_, Some(b)) => held::Source::Batch(b.clone()),
            _ => return Err(MmapError::Closed),
        };
        let seg = self.segments.get(slot.segment).ok_or(MmapError::Closed)?;
        let h = Arc::new(HeldBatch {
            src,
            extras: slot.extras.clone().ok_or(MmapError::Closed)?,
            schema: Arc::clone(&seg.schema),
            variant: Arc::clone(&seg.variant),
            path: self.path.clone(),
            offset: self.entries[slot.entry].offset,
            rows: slot.first_row..slot.first_row + slot.rows,
        });
        self.slots[k].held = Some(Arc::clone(&h));
        Ok(Some(h))
    }

    pub(super) fn tail_row(&self, row: usize) -> Result<usize> {
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
            return self.committed(k)?.visit(j, f);
        }
        let r = self.tail_row(row)?;
        let tail = &self.tail;
        tail.visit_row(r, |c, cell| f(tail.field_name(c), cell));
        Ok(())
    }

    /// [`RecordFile::visit_row`] of each record of `rows` in turn, `f(k, field, value)`
    /// told the position `k` in `rows`: a run of rows in one batch finds the batch and
    /// its columns once.
    ///
    /// # Errors
    /// As [`RecordFile::visit_row`], for the first row that fails (`f` has had the rows
    /// before it).
    pub fn visit_rows(
        &mut self,
        rows: &[usize],
        mut f: impl FnMut(usize, &str, CellRef<'_>),
    ) -> Result<()> {
        self.check_open()?;
        let mut at = 0;
        let mut run = Vec::new();
        while at < rows.len() {
            let Some((k, _)) = self.locate(rows[at]) else {
                let r = self.tail_row(rows[at])?;
                let tail = &self.tail;
                tail.visit_row(r, |c, cell| f(at, tail.field_name(c), cell));
                at += 1;
                continue;
            };
            let slot = &self.slots[k];
            let (first, end) = (slot.first_row, slot.first_row + slot.rows);
            run.clear();
            run.extend(
                rows[at..]
                    .iter()
                    .take_while(|&&r| (first..end).contains(&r))
                    .map(|&r| r - first),
            );
            let from = at;
            self.committed(k)?
                .visit_each(&run, |i, name, v| f(from + i, name, v))?;
            at += run.len();
        }
        Ok(())
    }

    /// [`ReadRecords::append_to`](memslim_records::ReadRecords::append_to) of a file:
    /// appends the records at `rows` to `out` a run of one batch at a time, a committed
    /// batch's values borrowed from its map ([`Committed::append_each`]), pending
    /// records copied from the tail as a list's are. A batch read only by decoding it
    /// (compressed, or of a type the cells reader does not read) is staged record by
    /// record. `Ok(false)`, with `out` untouched, when the rows are scattered over
    /// batches.
    ///
    /// # Errors
    /// As [`RecordFile::visit_rows`], or what `out` refuses; `out` may then hold part of
    /// the records.
    pub(crate) fn append_rows_to(&mut self, out: &mut RecordList, rows: &[usize]) -> Result<bool> {
        /// Fewest records per run, on average, worth a grid of their own, when there
        /// are more than a few runs.
        const MIN_RUN: usize = 64;
        const FEW_RUNS: usize = 4;
        self.check_open()?;
        // The runs first (no batch read yet). `None`: pending records.
        let mut runs = Vec::new();
        let mut at = 0;
        while at < rows.len() {
            let from = at;
            let batch = match self.locate(rows[at]) {
                Some((k, _)) => {
                    let slot = &self.slots[k];
                    let held = slot.first_row..slot.first_row + slot.rows;
                    at += rows[at..].iter().take_while(|r| held.contains(r)).count();
                    Some(k)
                }
                None => {
                    let pending = |&&r: &&usize| r >= self.committed_rows;
                    at += 1 + rows[at + 1..].iter().take_while(pending).count();
                    // A row past the end, named as the file counts it.
                    rows[from..at]
                        .iter()
                        .try_for_each(|&r| self.tail_row(r).map(drop))?;
                    None
                }
            };
            runs.push((batch, from..at));
        }
        // Rows scattered over batches: a grid per few records would cost more than the
        // staging copy, which pushes big blocks whatever the order. (A few runs cost
        // little whatever their length.)
        if runs.len() > FEW_RUNS && runs.len() * MIN_RUN > rows.len() {
            return Ok(false);
        }
        let mut run = Vec::new();
        for (batch, span) in runs {
            run.clear();
            match batch {
                Some(k) => {
                    let first = self.slots[k].first_row;
                    run.extend(rows[span.clone()].iter().map(|&r| r - first));
                    if !self.committed(k)?.append_each(&run, out)? {
                        memslim_records::append_records_staged(out, self, &rows[span])?;
                    }
                }
                None => {
                    run.extend(rows[span].iter().map(|&r| r - self.committed_rows));
                    memslim_records::append_records(out, &mut self.tail, &run)?;
                }
            }
        }
        Ok(true)
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
}
