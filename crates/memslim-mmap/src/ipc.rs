//! Arrow IPC messages: walking a stream someone else wrote, encoding our batches, and
//! bringing batches to the file's schema.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow_ipc::writer::{
    DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteContext, IpcWriteOptions,
    write_message,
};
use arrow_ipc::{Message, MessageHeader, root_as_message};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::format::{Entry, MessageKind};

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
/// does not parse is an error `(offset, reason)`; `start_with_schema` is false when
/// walking from the middle of a stream.
pub(crate) fn walk_from(
    b: &[u8],
    start: usize,
    start_with_schema: bool,
) -> Result<Walk, (u64, String)> {
    match walk_prefix(b, start, start_with_schema) {
        (w, None) => Ok(w),
        (_, Some(stop)) => Err(stop),
    }
}

/// As [`walk_from`], but a message that does not parse (or breaks the stream's shape)
/// ends the walk instead of failing it: the messages before it, and why it stopped
/// `(offset, reason)`.
pub(crate) fn walk_prefix(
    b: &[u8],
    start: usize,
    start_with_schema: bool,
) -> (Walk, Option<(u64, String)>) {
    let mut entries = Vec::new();
    let mut torn = false;
    let stop = walk_into(b, start, start_with_schema, &mut entries, &mut torn).err();
    let end = entries.last().map_or(start as u64, Entry::end);
    (Walk { entries, end, torn }, stop)
}

fn walk_into(
    b: &[u8],
    start: usize,
    start_with_schema: bool,
    entries: &mut Vec<Entry>,
    torn: &mut bool,
) -> Result<(), (u64, String)> {
    let mut pos = start;
    while pos < b.len() {
        let prefix = match message_prefix(&b[pos..]) {
            Ok(Some(p)) => p,
            Ok(None) => {
                // An end-of-stream marker; streams written back to back (a file whose
                // schema grew) go on with the next segment's schema.
                let eos = if b[pos..].starts_with(&CONTINUATION) {
                    8
                } else {
                    4
                };
                let next = pos + eos;
                if !is_schema_at(b, next) {
                    break;
                }
                entries.push(Entry {
                    offset: pos as u64,
                    len: eos as u64,
                    rows: 0,
                    kind: MessageKind::End,
                    crc: None,
                });
                pos = next;
                continue;
            }
            Err(_) => {
                *torn = true;
                break;
            }
        };
        let (prefix, meta_len) = prefix;
        let meta_end = pos + prefix + meta_len;
        if meta_end > b.len() {
            *torn = true;
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
            *torn = true;
            break;
        }
        let (kind, rows) = match msg.header_type() {
            MessageHeader::Schema => (MessageKind::Schema, 0),
            MessageHeader::RecordBatch => {
                let rows = msg.header_as_record_batch().map_or(0, |r| r.length());
                let rows = u64::try_from(rows)
                    .map_err(|_| (pos as u64, "negative row count".to_string()))?;
                (MessageKind::Batch, rows)
            }
            MessageHeader::DictionaryBatch => (MessageKind::Dictionary, 0),
            other => return Err((pos as u64, format!("unexpected IPC message {other:?}"))),
        };
        let schema_due = match entries.last() {
            Some(l) => l.kind == MessageKind::End,
            None => start_with_schema,
        };
        if schema_due != (kind == MessageKind::Schema) {
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
    Ok(())
}

/// Whether a complete schema message starts at `pos` of `b`.
fn is_schema_at(b: &[u8], pos: usize) -> bool {
    let Some(rest) = b.get(pos..) else {
        return false;
    };
    let Ok(Some((prefix, meta))) = message_prefix(rest) else {
        return false;
    };
    rest.get(prefix..prefix + meta)
        .and_then(|m| root_as_message(m).ok())
        .is_some_and(|m| m.header_type() == MessageHeader::Schema)
}

/// The end-of-stream marker closing a segment.
pub(crate) const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

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

pub(crate) fn plain_strings(col: &ArrayRef) -> Option<ArrayRef> {
    let d = col.as_any_dictionary_opt()?;
    let values = d.values().as_string_opt::<i32>()?;
    // `normalized_keys` asserts a non-empty dictionary: an all-null column may have none
    // (a foreign writer's, in a file's later segment); with a key set, it is damaged.
    if values.is_empty() {
        return (col.null_count() == col.len()).then(|| new_null_array(&DataType::Utf8, col.len()));
    }
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

/// `custom_metadata` key of a message's own checksum (see [`seal`]).
pub(crate) const CRC_KEY: &str = "memslim.crc32";
/// `custom_metadata` key of the number of index entries committed before the commit the
/// message was written in (its first entry's position in the index).
pub(crate) const BASE_KEY: &str = "memslim.base";
/// What the checksum's 8 hex digits read as while the checksum is computed.
const CRC_PLACEHOLDER: &[u8; 8] = b"00000000";

/// A message's own checksum, as its `custom_metadata` states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seal {
    /// Where the 8 hex digits lie in the message bytes.
    at: usize,
    /// The crc32 they state.
    crc: u32,
    /// [`BASE_KEY`], if the message has it.
    pub(crate) base: Option<u64>,
}

impl Seal {
    /// The seal of the message `b` (prefix, metadata and body, nothing more):
    /// `Ok(None)` if it has none (another program's message, or memslim's before
    /// messages were sealed); `Err` if its metadata or its seal does not parse.
    pub(crate) fn of(b: &[u8]) -> Result<Option<Seal>, String> {
        let (msg, _) = message_at(b)?;
        let Some(kvs) = msg.custom_metadata() else {
            return Ok(None);
        };
        let (mut crc, mut base) = (None, None);
        for kv in kvs.iter() {
            match kv.key() {
                Some(CRC_KEY) => crc = kv.value(),
                Some(BASE_KEY) => base = kv.value(),
                _ => {}
            }
        }
        let Some(hex) = crc else {
            return Ok(None);
        };
        let lower_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if hex.len() != 8 || !hex.bytes().all(lower_hex) {
            return Err(format!("{CRC_KEY} is not 8 hex digits"));
        }
        // The string lies inside `b` (the flatbuffer was read from it in place).
        let at = (hex.as_ptr() as usize)
            .checked_sub(b.as_ptr() as usize)
            .filter(|at| at + 8 <= b.len())
            .ok_or("message checksum outside the message")?;
        let crc = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        let base = match base {
            Some(v) => Some(v.parse::<u64>().map_err(|_| format!("{BASE_KEY} {v:?}"))?),
            None => None,
        };
        Ok(Some(Seal { at, crc, base }))
    }

    /// Whether the message `b` (the one this seal was read from) matches its checksum.
    pub(crate) fn verifies(&self, b: &[u8]) -> bool {
        let mut h = crc32fast::Hasher::new();
        h.update(&b[..self.at]);
        h.update(CRC_PLACEHOLDER);
        h.update(&b[self.at + 8..]);
        h.finalize() == self.crc
    }
}

/// Checks message `b` against its own checksum: `Ok(Some(seal))` if it has one and
/// matches, `Ok(None)` if it has none, `Err(reason)` otherwise.
pub(crate) fn check_seal(b: &[u8]) -> Result<Option<Seal>, String> {
    match Seal::of(b)? {
        Some(s) if !s.verifies(b) => Err("message checksum mismatch".into()),
        seal => Ok(seal),
    }
}

/// Writes the checksum of the framed message `out` (whose metadata holds
/// [`CRC_PLACEHOLDER`] as [`CRC_KEY`]) into it.
fn seal(out: &mut [u8]) -> Result<(), String> {
    let at = Seal::of(out)?.ok_or("message without a checksum field")?.at;
    let crc = crc32fast::hash(out);
    out[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    Ok(())
}

/// The seal's `custom_metadata` pairs of a message of a commit made after `base`
/// index entries.
fn seal_pairs(base: u64) -> [(String, String); 2] {
    [
        (
            CRC_KEY.to_owned(),
            String::from_utf8_lossy(CRC_PLACEHOLDER).into_owned(),
        ),
        (BASE_KEY.to_owned(), base.to_string()),
    ]
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

    /// The schema message (of a schema without dictionary fields), sealed with its
    /// own checksum, in a commit made after `base` index entries.
    pub(crate) fn schema(&mut self, schema: &Schema, base: u64) -> Result<Vec<u8>, String> {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let header = arrow_ipc::convert::schema_to_fb_offset(&mut fbb, schema);
        let kvs = metadata_pairs(&mut fbb, &seal_pairs(base));
        let root = {
            let mut m = arrow_ipc::MessageBuilder::new(&mut fbb);
            m.add_version(arrow_ipc::MetadataVersion::V5);
            m.add_header_type(MessageHeader::Schema);
            m.add_bodyLength(0);
            m.add_header(header.as_union_value());
            m.add_custom_metadata(kvs);
            m.finish()
        };
        fbb.finish(root, None);
        let enc = EncodedData {
            ipc_message: fbb.finished_data().to_vec(),
            arrow_data: Vec::new(),
        };
        let mut out = Vec::new();
        write_message(&mut out, enc, &self.options).map_err(|e| e.to_string())?;
        seal(&mut out)?;
        Ok(out)
    }

    /// The record batch message of a batch without dictionary columns, with
    /// `custom_metadata` pairs on the message, sealed with its own checksum, in a
    /// commit made after `base` index entries.
    pub(crate) fn batch(
        &mut self,
        batch: &RecordBatch,
        custom_metadata: &[(String, String)],
        base: u64,
    ) -> Result<Vec<u8>, String> {
        let (dicts, mut enc) = self
            .generator
            .encode(batch, &mut self.tracker, &self.options, &mut self.context)
            .map_err(|e| e.to_string())?;
        if !dicts.is_empty() {
            return Err("dictionary columns must be made plain before encoding".into());
        }
        let mut pairs = custom_metadata.to_vec();
        pairs.extend(seal_pairs(base));
        enc.ipc_message = with_custom_metadata(&enc.ipc_message, &pairs)?;
        let mut out = Vec::new();
        write_message(&mut out, enc, &self.options).map_err(|e| e.to_string())?;
        seal(&mut out)?;
        Ok(out)
    }
}

/// `pairs` as a flatbuffer `custom_metadata` vector.
fn metadata_pairs<'a>(
    fbb: &mut flatbuffers::FlatBufferBuilder<'a>,
    pairs: &[(String, String)],
) -> flatbuffers::WIPOffset<
    flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<arrow_ipc::KeyValue<'a>>>,
> {
    let kvs: Vec<_> = pairs
        .iter()
        .map(|(k, v)| {
            let k = fbb.create_string(k);
            let v = fbb.create_string(v);
            let mut kv = arrow_ipc::KeyValueBuilder::new(fbb);
            kv.add_key(k);
            kv.add_value(v);
            kv.finish()
        })
        .collect();
    fbb.create_vector(&kvs)
}

/// A record batch message header (flatbuffer) rebuilt with `pairs` as its
/// `custom_metadata`; arrow-rs writes no per-message metadata itself.
fn with_custom_metadata(message: &[u8], pairs: &[(String, String)]) -> Result<Vec<u8>, String> {
    let msg = root_as_message(message).map_err(|e| e.to_string())?;
    let rb = msg
        .header_as_record_batch()
        .ok_or("not a record batch message")?;
    if rb.compression().is_some() {
        return Err("compressed record batches are not written".into());
    }
    let nodes: Vec<arrow_ipc::FieldNode> = rb
        .nodes()
        .map(|v| v.iter().copied().collect())
        .unwrap_or_default();
    let buffers: Vec<arrow_ipc::Buffer> = rb
        .buffers()
        .map(|v| v.iter().copied().collect())
        .unwrap_or_default();
    let variadic: Option<Vec<i64>> = rb.variadicBufferCounts().map(|v| v.iter().collect());
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(&buffers);
    let variadic = variadic.map(|v| fbb.create_vector(&v));
    let kvs = metadata_pairs(&mut fbb, pairs);
    let header = {
        let mut b = arrow_ipc::RecordBatchBuilder::new(&mut fbb);
        b.add_length(rb.length());
        b.add_nodes(nodes);
        b.add_buffers(buffers);
        if let Some(v) = variadic {
            b.add_variadicBufferCounts(v);
        }
        b.finish()
    };
    let root = {
        let mut m = arrow_ipc::MessageBuilder::new(&mut fbb);
        m.add_version(msg.version());
        m.add_header_type(MessageHeader::RecordBatch);
        m.add_bodyLength(msg.bodyLength());
        m.add_header(header.as_union_value());
        m.add_custom_metadata(kvs);
        m.finish()
    };
    fbb.finish(root, None);
    Ok(fbb.finished_data().to_vec())
}

/// The metadata of the message at the start of `b` (checked as a flatbuffer) and where
/// its body starts in `b`.
///
/// # Errors
/// A reason for an end-of-stream marker, metadata longer than `b`, or metadata that is
/// not a message.
pub(crate) fn message_at(b: &[u8]) -> Result<(Message<'_>, usize), String> {
    let (prefix, meta_len) = message_prefix(b)?.ok_or("an end-of-stream marker, not a message")?;
    let body = prefix
        .checked_add(meta_len)
        .filter(|&end| end <= b.len())
        .ok_or("metadata longer than the message")?;
    let msg =
        root_as_message(&b[prefix..body]).map_err(|e| format!("unreadable message header: {e}"))?;
    Ok((msg, body))
}

/// The `custom_metadata` pairs of `msg`.
pub(crate) fn custom_metadata(msg: &Message<'_>) -> Vec<(String, String)> {
    msg.custom_metadata()
        .map(|v| {
            v.iter()
                .filter_map(|kv| Some((kv.key()?.to_owned(), kv.value()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}
