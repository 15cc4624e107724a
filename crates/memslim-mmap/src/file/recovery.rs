//! What a crash or damage leaves behind: finding it, refusing it, repairing it
//! (`recover=True`) and keeping the bytes cut off in a side file.

use super::*;

impl RecordFile {
    /// Drops a segment's end marker left last (it is always committed together with the
    /// next segment's schema).
    pub(super) fn trim_end_marker(&mut self) {
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
    pub(super) fn lost_commits(&self, data: &File, data_len: u64) -> Result<Option<MmapError>> {
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
    pub(super) fn check_last_commit(&mut self, data: &File) -> Result<()> {
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
    pub(super) fn repair(
        &mut self,
        data: &File,
        index: &File,
        old_index: &[u8],
        data_len: u64,
    ) -> Result<()> {
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
    pub(super) fn save_dropped(&mut self, from: &Path, bytes: &[u8]) -> Result<()> {
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
}
