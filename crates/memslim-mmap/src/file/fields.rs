//! Whole-file and per-field reads: Arrow export and field visits.

use super::*;

impl RecordFile {
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
        self.exact_batches(schema, self.len())
    }

    /// The first `rows` records in `schema`, each field of which a committed batch's
    /// ints do not fit exactly (a float field an older segment stored as ints past
    /// 2**53) variant-encoded instead: the schema used, and the batches.
    fn exact_batches(
        &mut self,
        mut schema: SchemaRef,
        rows: usize,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        loop {
            match self.arrow_batches(&schema, rows)? {
                Ok(batches) => return Ok((schema, batches)),
                // Once per field at most: a variant field takes any value.
                Err(field) => schema = Arc::new(exact::with_variant(&schema, &field)),
            }
        }
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
        self.exact_batches(schema, rows)
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
    /// fields or some of them); decodes only the batches that hold them. `Ok(Err(field))`
    /// if `field` is a float field a committed batch holds ints of that are not exactly
    /// doubles.
    fn arrow_batches(
        &mut self,
        schema: &SchemaRef,
        rows: usize,
    ) -> Result<std::result::Result<Vec<RecordBatch>, String>> {
        let rows = rows.min(self.len());
        let mut out = Vec::with_capacity(self.slots.len() + 1);
        let field_type = |field: String| MmapError::FieldType {
            field,
            expected: "the unified schema".into(),
        };
        for k in 0..self.slots.len() {
            let (first, n) = (self.slots[k].first_row, self.slots[k].rows);
            if first >= rows {
                return Ok(Ok(out));
            }
            let (b, extras) = match self.projected(k, schema)? {
                Some(part) => part,
                None => {
                    let b = self.batch(k)?.clone();
                    let extras = self.slots[k].extras.as_deref().cloned();
                    (b, extras.unwrap_or_default())
                }
            };
            let b = match exact::unified_batch(&b, &extras, schema) {
                Ok(b) => b,
                Err(exact::Unfit::Inexact(field)) => return Ok(Err(field)),
                Err(exact::Unfit::Type(field)) => return Err(field_type(field)),
            };
            out.push(if first + n > rows {
                b.slice(0, rows - first)
            } else {
                b
            });
        }
        let want = rows.saturating_sub(self.committed_rows);
        if want == 0 {
            return Ok(Ok(out));
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
        Ok(Ok(out))
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
            return self.committed(k)?.field(j, name, f);
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
        let Some((full, first_dict)) = self
            .segments
            .get(seg)
            .map(|s| (Arc::clone(&s.schema), s.first_dict))
        else {
            return Ok(None);
        };
        let cols: Vec<usize> = (0..full.fields().len())
            .filter(|&c| schema.field_with_name(full.field(c).name()).is_ok())
            .collect();
        let dictionaries = self.slots[k].dicts_before > first_dict
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
            None => {
                let x = self
                    .extras_of(
                        &e,
                        &ipc::custom_metadata(&msg),
                        batch.num_rows(),
                        full.fields().len(),
                    )?
                    .project(&cols);
                self.check_extras(&e, &x, &batch, &batch.schema())?;
                x
            }
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
        f: impl FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<()> {
        self.visit_field_candidates(name, rows, None, f)
    }

    /// [`RecordFile::visit_field`] for a caller that wants only the values equal to the
    /// string `text` (when given): a committed string value whose bytes differ from
    /// `text`'s, or a null, may be passed over unread (its position is still checked;
    /// its bytes are not checked as UTF-8, as no such bytes are `text`).
    ///
    /// # Errors
    /// As [`RecordFile::visit_row`].
    pub fn visit_field_candidates(
        &mut self,
        name: &str,
        rows: std::ops::Range<usize>,
        text: Option<&str>,
        mut f: impl FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<()> {
        self.check_open()?;
        let rows = rows.start..rows.end.min(self.len());
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
            let more = match batch.schema.index_of(name) {
                Ok(c) => {
                    let rows = lo - first..hi - first;
                    batch.visit_column(c, rows, text, &mut |j, v| f(first + j, v))?
                }
                Err(_) => (lo..hi).all(|r| f(r, CellRef::Absent)),
            };
            if !more {
                return Ok(());
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
}
