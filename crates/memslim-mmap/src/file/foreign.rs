//! Files memslim did not write: Arrow IPC streams and files, indexed by walking
//! their messages or reading their footer.

use super::*;

impl RecordFile {
    pub(super) fn open_foreign(&mut self, data: &File, data_len: u64) -> Result<()> {
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
        // Row counts are summed before anything is written (an append-mode open writes
        // an index before it reads the batches): they must stay countable.
        let mut total = 0u64;
        for e in &w.entries {
            total = total.saturating_add(e.rows);
            if isize::try_from(total).is_err() {
                return Err(self.too_many_rows(e.offset));
            }
        }
        let first = w.entries[0];
        self.sealed = matches!(
            ipc::Seal::of(&b[first.offset as usize..first.end() as usize]),
            Ok(Some(_))
        );
        // A message is checked against its own checksum when a row of it is first read;
        // memslim writes no dictionary messages and no empty batches, so in its files
        // such a message is a damaged header that would hide a batch from every read.
        // And a batch's rows sit after the rows every earlier batch states: a damaged
        // row count would move later records to other positions (or, in the last
        // batch, make up records), so in memslim's own files (index lost) every batch
        // is checked now, in one pass.
        let hidden = w.entries.iter().position(|e| {
            e.kind == MessageKind::Dictionary
                || e.kind == MessageKind::Batch
                    && (e.rows == 0
                        || self.sealed
                            && !matches!(
                                ipc::check_seal(&b[e.offset as usize..e.end() as usize]),
                                Ok(Some(_))
                            ))
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
        // Without an index nothing tells a crash's trace from damage: a message cut
        // short (another program's download or copy cut off, or a writer that died)
        // and bytes after the stream's end are damage, reported by a reader and never
        // cut off by a writer without a side file. memslim ends no file with an
        // end-of-stream marker; other programs end a stream with one.
        let clean_end = |at: u64| {
            let rest = &b[at as usize..];
            !self.sealed && (rest == ipc::END_OF_STREAM || rest == &ipc::END_OF_STREAM[4..])
        };
        if let Some((off, why)) = &stop {
            self.damage = Some(self.corrupt(*off, why.clone()));
        } else if w.torn {
            self.damage = Some(self.corrupt(w.end, "the last message is cut short"));
        } else if data_len > w.end && !clean_end(w.end) {
            self.damage = Some(self.corrupt(w.end, "bytes after the end of the stream"));
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
        let schema = memslim_records::panic_guard::catch_quietly(|| {
            arrow_ipc::convert::try_fb_to_schema(fb_schema)
        })
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

    /// Prepares a stream without index to be appended to: checksums its messages once
    /// for the commit index it will get, and returns that index, which
    /// [`finish_adoption`](RecordFile::finish_adoption) writes (dropping the
    /// end-of-stream marker of another program's stream) once the open has checked
    /// everything else: nothing is written here, so an open that fails leaves the file
    /// as it was. Damage [`open_foreign`](RecordFile::open_foreign) found (a message
    /// cut short, bytes after the end) refuses the open, or with `recover` is cut off
    /// into a side file. Messages with their own checksum are checked
    /// against it first; a damaged one (or, after one with a checksum, one without)
    /// refuses the open, or with `recover` ends what is kept.
    pub(super) fn adopt(
        &mut self,
        data: &File,
        index: Option<&File>,
        data_len: u64,
        recover: bool,
    ) -> Result<Adoption> {
        index.ok_or(MmapError::Closed)?;
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
        let save_dropped = recover && data_len > self.committed_end();
        if save_dropped {
            self.recovery.dropped_data_bytes = data_len - self.committed_end();
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
        Ok(Adoption {
            index: buf,
            data_len,
            save_dropped,
        })
    }

    /// Checks every value of every committed batch of a stream being adopted: once the
    /// stream has its index, its messages verify against checksums taken of them as
    /// they are, so a damaged value must be found before, while the open can still
    /// refuse the file unchanged.
    ///
    /// # Errors
    /// [`MmapError::Corrupt`] naming the batch's byte offset and what is wrong.
    pub(super) fn check_all_values(&mut self) -> Result<()> {
        let mut rows = Vec::new();
        for k in 0..self.slots.len() {
            rows.clear();
            rows.extend(0..self.slots[k].rows);
            self.committed(k)?.visit_each(&rows, |_, _, _| {})?;
        }
        Ok(())
    }

    /// Writes what [`adopt`](RecordFile::adopt) prepared, once the open has checked
    /// the file: the bytes a repair cuts off into their side file, the data cut at its
    /// last message (dropping the end-of-stream marker), the commit index.
    pub(super) fn finish_adoption(&mut self, a: Adoption) -> Result<()> {
        let end = self.committed_end();
        if a.save_dropped {
            let data = self.data.as_ref().ok_or(MmapError::Closed)?;
            let map = ReadMap::new(data, a.data_len, &self.path)?;
            self.save_dropped(&self.path.clone(), &map.bytes()[end as usize..])?;
        }
        let (Some(data), Some(i)) = (self.data.as_ref(), self.index.as_ref()) else {
            return Err(MmapError::Closed);
        };
        data.set_len(end).map_err(io(&self.path))?;
        data.sync_all().map_err(io(&self.path))?;
        i.write_all_at(&a.index, 0)
            .and_then(|()| i.sync_all())
            .map_err(io(&self.index_path))?;
        sync_dir(&self.path)?;
        self.index_len = a.index.len() as u64;
        self.layout = FileLayout::Memslim;
        Ok(())
    }
}

/// What adopting a stream will write, once its open has checked it
/// ([`RecordFile::finish_adoption`]).
pub(super) struct Adoption {
    /// The commit index of the stream's messages.
    index: Vec<u8>,
    /// The data file's length at opening.
    data_len: u64,
    /// Bytes past the last message kept go to a side file first (`recover`).
    save_dropped: bool,
}
