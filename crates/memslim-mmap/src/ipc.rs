//! Arrow IPC messages: walking a stream someone else wrote, encoding our batches, and
//! bringing batches to the file's schema.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow_ipc::writer::{
    DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions, write_message,
};
use arrow_ipc::{MessageHeader, root_as_message};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::format::{Entry, Kind};

/// Marker before each message's metadata length (format 0.15 and later).
const CONTINUATION: [u8; 4] = [0xff; 4];
/// Magic at the start (padded to 8) and end of the Arrow IPC *file* format.
pub(crate) const FILE_MAGIC: &[u8; 6] = b"ARROW1";

/// Where a message's metadata ends and its body starts, from its prefix.
/// `Ok(None)` is the end-of-stream marker; `Err` a prefix that cannot be right.
pub(crate) fn message_prefix(b: &[u8]) -> Result<Option<(usize, usize)>, String> {
    if b.len() < 4 {
        return Err("message prefix cut short".into());
    }
    let (prefix, meta_len) = if b[..4] == CONTINUATION {
        if b.len() < 8 {
            return Err("message prefix cut short".into());
        }
        (8, i32::from_le_bytes([b[4], b[5], b[6], b[7]]))
    } else {
        (4, i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if meta_len == 0 {
        return Ok(None);
    }
    let meta_len = usize::try_from(meta_len).map_err(|_| "negative metadata length".to_string())?;
    Ok(Some((prefix, meta_len)))
}

/// The one message at `pos` of `b` (`Ok(None)`: an end-of-stream marker or a message
/// cut short).
pub(crate) fn walk_one(b: &[u8], pos: usize) -> Result<Option<Entry>, (u64, String)> {
    let mut w = walk_from(b, pos, false)?;
    Ok(if w.entries.is_empty() {
        None
    } else {
        Some(w.entries.swap_remove(0))
    })
}

/// What walking a stream found: its messages, whether it ended cleanly (EOS marker or
/// end of data at a message boundary), and where the last complete message ends.
pub(crate) struct Walk {
    pub(crate) entries: Vec<Entry>,
    pub(crate) end: u64,
    /// A message was cut short (a writer is still at it, or crashed).
    pub(crate) torn: bool,
}

/// Walks the IPC messages of `b` from `start`, stopping at the end-of-stream marker, at
/// the end of the data, or at a message cut short (`torn`). A message whose metadata
/// does not parse is an error `(offset, reason)`.
pub(crate) fn walk(b: &[u8], start: usize) -> Result<Walk, (u64, String)> {
    walk_from(b, start, true)
}

/// As [`walk`]; `start_with_schema` is false when walking from the middle of a stream.
pub(crate) fn walk_from(
    b: &[u8],
    start: usize,
    start_with_schema: bool,
) -> Result<Walk, (u64, String)> {
    let mut pos = start;
    let mut entries = Vec::new();
    let mut torn = false;
    while pos < b.len() {
        let prefix = match message_prefix(&b[pos..]) {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(_) => {
                torn = true;
                break;
            }
        };
        let (prefix, meta_len) = prefix;
        let meta_end = pos + prefix + meta_len;
        if meta_end > b.len() {
            torn = true;
            break;
        }
        let msg = root_as_message(&b[pos + prefix..meta_end])
            .map_err(|e| (pos as u64, format!("unreadable IPC message: {e}")))?;
        let body = usize::try_from(msg.bodyLength())
            .map_err(|_| (pos as u64, "negative body length".to_string()))?;
        let end = meta_end
            .checked_add(body)
            .ok_or((pos as u64, "body length overflows".to_string()))?;
        if end > b.len() {
            torn = true;
            break;
        }
        let (kind, rows) = match msg.header_type() {
            MessageHeader::Schema => (Kind::Schema, 0),
            MessageHeader::RecordBatch => {
                let rows = msg.header_as_record_batch().map_or(0, |r| r.length());
                let rows = u64::try_from(rows)
                    .map_err(|_| (pos as u64, "negative row count".to_string()))?;
                (Kind::Batch, rows)
            }
            MessageHeader::DictionaryBatch => (Kind::Dictionary, 0),
            other => return Err((pos as u64, format!("unexpected IPC message {other:?}"))),
        };
        if start_with_schema && (entries.is_empty()) != (kind == Kind::Schema) {
            return Err((pos as u64, "the stream must start with one schema".into()));
        }
        entries.push(Entry {
            offset: pos as u64,
            len: (end - pos) as u64,
            rows,
            kind,
            crc: None,
        });
        pos = end;
    }
    let end = entries.last().map_or(start as u64, Entry::end);
    Ok(Walk { entries, end, torn })
}

/// The schema memslim stores: dictionary-encoded strings become plain strings (so every
/// record batch message stands alone, without dictionary messages before it), and a
/// field that held only `None` so far becomes an `object` field (variant-encoded binary),
/// so that later records can put any value there.
pub(crate) fn storage_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, v) => f.as_ref().clone().with_data_type(v.as_ref().clone()),
            DataType::Null => Field::new(f.name(), DataType::Binary, true).with_metadata(
                std::collections::HashMap::from([(
                    memslim_records::ENCODING_KEY.to_owned(),
                    memslim_records::VARIANT_ENCODING.to_owned(),
                )]),
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn plain_strings(col: &ArrayRef) -> Option<ArrayRef> {
    let d = col.as_any_dictionary_opt()?;
    let values = d.values().as_string_opt::<i32>()?;
    let keys = d.normalized_keys();
    let out: StringArray = (0..col.len())
        .map(|i| (!col.is_null(i)).then(|| values.value(keys[i])))
        .collect();
    Some(Arc::new(out))
}

/// Brings `batch` to `schema`: columns found by name, dictionary strings made plain,
/// all-null columns given the file's type, missing columns filled with nulls.
/// `Err(field)` names a column whose type cannot be made to fit.
pub(crate) fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    let rows = batch.num_rows();
    for f in batch.schema().fields() {
        if schema.field_with_name(f.name()).is_err() {
            return Err(f.name().clone());
        }
    }
    let mut cols = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let col = match batch.column_by_name(f.name()) {
            None => new_null_array(f.data_type(), rows),
            Some(c) if c.data_type() == f.data_type() => Arc::clone(c),
            Some(c) if c.null_count() == c.len() || c.data_type() == &DataType::Null => {
                new_null_array(f.data_type(), rows)
            }
            Some(c) if f.data_type() == &DataType::Utf8 => {
                plain_strings(c).ok_or_else(|| f.name().clone())?
            }
            Some(_) => return Err(f.name().clone()),
        };
        cols.push(col);
    }
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), cols, &opts)
        .map_err(|e| format!("<batch>: {e}"))
}

/// Encodes Arrow IPC messages for a file's data.
pub(crate) struct Encoder {
    generator: IpcDataGenerator,
    tracker: DictionaryTracker,
    options: IpcWriteOptions,
    context: IpcWriteContext,
}

impl Encoder {
    pub(crate) fn new() -> Self {
        Encoder {
            generator: IpcDataGenerator::default(),
            tracker: DictionaryTracker::new(false),
            options: IpcWriteOptions::default(),
            context: IpcWriteContext::default(),
        }
    }

    /// The schema message.
    pub(crate) fn schema(&mut self, schema: &Schema) -> Result<Vec<u8>, String> {
        let enc = self.generator.schema_to_bytes_with_dictionary_tracker(
            schema,
            &mut self.tracker,
            &self.options,
        );
        let mut out = Vec::new();
        write_message(&mut out, enc, &self.options).map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// The record batch message of a batch without dictionary columns.
    pub(crate) fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, String> {
        let (dicts, enc) = self
            .generator
            .encode(batch, &mut self.tracker, &self.options, &mut self.context)
            .map_err(|e| e.to_string())?;
        if !dicts.is_empty() {
            return Err("dictionary columns must be made plain before encoding".into());
        }
        let mut out = Vec::new();
        write_message(&mut out, enc, &self.options).map_err(|e| e.to_string())?;
        Ok(out)
    }
}
