//! Byte formats for a whole [`RecordList`] (used for pickling).
//!
//! [`RecordList::to_bytes`] writes the checksummed snapshot format (version 2, see
//! [`crate::Snapshot`]). [`RecordList::from_bytes`] reads it and still reads version 1,
//! the record-by-record format that memslim wrote before (no checksum; every value is
//! decoded and checked, so a damaged version-1 payload can load with changed values).
//!
//! Version 1 layout: magic `MSLR`, format version, chunk size, whether the schema is declared,
//! the fields (name and declared type) in order, then each record as its key count and,
//! per key in the record's order, the field index and the length-prefixed value in the
//! [`crate::variant`] encoding. Key order, absent keys and exact types all survive.

use crate::variant::{self, Value, ValueKind};
use crate::{Cell, DType, RecordList, RecordsError, Result};

const MAGIC: &[u8; 4] = b"MSLR";
const VERSION: u8 = 1;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub(crate) struct Input<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Input<'a> {
    pub(crate) fn err(&self, what: &str) -> RecordsError {
        RecordsError::Corrupt(format!("{what} at byte {}", self.pos))
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| self.err("truncated data"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.bytes(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint too long"))
    }

    pub(crate) fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.varint()?).map_err(|_| self.err("length out of range"))
    }
}

pub(crate) fn dtype_code(d: Option<DType>) -> u8 {
    match d {
        None => 0,
        Some(DType::Null) => 1,
        Some(DType::Bool) => 2,
        Some(DType::Int64) => 3,
        Some(DType::Float64) => 4,
        Some(DType::Str) => 5,
        Some(DType::Bytes) => 6,
        Some(DType::Object) => 7,
    }
}

pub(crate) fn code_dtype(c: u8) -> Option<Option<DType>> {
    Some(match c {
        0 => None,
        1 => Some(DType::Null),
        2 => Some(DType::Bool),
        3 => Some(DType::Int64),
        4 => Some(DType::Float64),
        5 => Some(DType::Str),
        6 => Some(DType::Bytes),
        7 => Some(DType::Object),
        _ => return None,
    })
}

impl RecordList {
    /// Serializes every record, field and declared type: the snapshot (version 2)
    /// joined into one byte string, with its checksum.
    ///
    /// # Memory
    /// Builds one `Vec<u8>` of the size of the list's buffers.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_snapshot().to_bytes()
    }

    /// The version-1 format (tests of the legacy reader).
    #[cfg(test)]
    pub(crate) fn to_bytes_v1(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        put_varint(&mut out, self.chunk_rows() as u64);
        out.push(u8::from(self.has_declared_schema()));
        put_varint(&mut out, self.num_fields() as u64);
        for j in 0..self.num_fields() {
            let name = self.field_name(j).as_bytes();
            put_varint(&mut out, name.len() as u64);
            out.extend_from_slice(name);
            out.push(dtype_code(self.field_declared(j)));
        }
        put_varint(&mut out, self.len() as u64);
        let mut val = Vec::new();
        for r in 0..self.len() {
            let keys = self.row_keys(r);
            put_varint(&mut out, keys.len() as u64);
            for j in keys {
                put_varint(&mut out, j as u64);
                val.clear();
                if let Some(c) = self.get(r, j).to_cell() {
                    crate::column::encode_cell(&c, &mut val);
                }
                put_varint(&mut out, val.len() as u64);
                out.extend_from_slice(&val);
            }
        }
        out
    }

    /// Rebuilds a list written by [`RecordList::to_bytes`] (version 2) or by an older
    /// memslim (version 1).
    ///
    /// # Errors
    /// [`RecordsError::Corrupt`] naming what is wrong (the byte offset for version 1,
    /// the checksum or the invariant for version 2).
    pub fn from_bytes(bytes: &[u8]) -> Result<RecordList> {
        let mut inp = Input { b: bytes, pos: 0 };
        if inp.bytes(4)? != MAGIC {
            return Err(RecordsError::Corrupt(
                "not memslim record data (bad magic)".into(),
            ));
        }
        let version = inp.bytes(1)?[0];
        if version == crate::list::SNAPSHOT_VERSION {
            return RecordList::from_snapshot_bytes(bytes);
        }
        if version != VERSION {
            return Err(RecordsError::Corrupt(format!(
                "record data format version {version} is not supported (this memslim reads 1 and 2)"
            )));
        }
        let chunk_rows = inp.usize()?;
        let closed = inp.bytes(1)?[0] != 0;
        let nfields = inp.usize()?;
        let mut fields: Vec<(String, Option<DType>)> = Vec::new();
        for _ in 0..nfields {
            let n = inp.usize()?;
            let name = std::str::from_utf8(inp.bytes(n)?)
                .map_err(|_| inp.err("field name is not UTF-8"))?
                .to_owned();
            let code = inp.bytes(1)?[0];
            let d = code_dtype(code).ok_or_else(|| inp.err("unknown dtype code"))?;
            fields.push((name, d));
        }
        let mut list = if closed {
            let decl: Vec<(&str, DType)> = fields
                .iter()
                .map(|(n, d)| (n.as_str(), d.unwrap_or(DType::Object)))
                .collect();
            RecordList::with_schema(&decl, chunk_rows)?
        } else {
            let mut l = RecordList::with_chunk_rows(chunk_rows);
            for (n, _) in &fields {
                l.add_field(n)?;
            }
            l
        };
        let nrows = inp.usize()?;
        let mut raw: Vec<(usize, &[u8])> = Vec::new();
        let mut vals: Vec<Option<Value>> = Vec::new();
        for _ in 0..nrows {
            let nkeys = inp.usize()?;
            if nkeys > fields.len() {
                return Err(inp.err("record has more keys than fields"));
            }
            raw.clear();
            for _ in 0..nkeys {
                let j = inp.usize()?;
                if j >= fields.len() {
                    return Err(inp.err("field index out of range"));
                }
                let n = inp.usize()?;
                raw.push((j, inp.bytes(n)?));
            }
            vals.clear();
            for (_, b) in &raw {
                vals.push(match variant::peek_kind(b) {
                    Some(
                        ValueKind::List
                        | ValueKind::Tuple
                        | ValueKind::Dict
                        | ValueKind::BigInt
                        | ValueKind::Opaque,
                    ) => {
                        variant::decode(b)?;
                        None
                    }
                    _ => Some(variant::decode(b)?),
                });
            }
            let rec: Vec<(&str, Cell<'_>)> = raw
                .iter()
                .zip(&vals)
                .map(|((j, b), v)| {
                    let cell = v
                        .as_ref()
                        .map_or(Cell::Encoded(b), |v| Cell::from_decoded(v, b));
                    (fields[*j].0.as_str(), cell)
                })
                .collect();
            list.push_record(&rec)?;
        }
        if inp.pos != bytes.len() {
            return Err(inp.err("trailing bytes"));
        }
        list.optimize();
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cell, RecordList};

    #[test]
    fn version_one_payloads_still_load() {
        let mut l = RecordList::with_chunk_rows(3);
        for i in 0..7i64 {
            l.push_record(&[("a", Cell::Int(i)), ("b", Cell::Str("x"))])
                .expect("push");
        }
        l.push_record(&[("b", Cell::Null), ("a", Cell::Float(0.5))])
            .expect("push");
        let old = l.to_bytes_v1();
        assert_eq!(old[4], 1);
        let back = RecordList::from_bytes(&old).expect("v1");
        let new = RecordList::from_bytes(&l.to_bytes()).expect("v2");
        for r in 0..l.len() {
            assert_eq!(back.row_keys(r), l.row_keys(r));
            assert_eq!(new.row_keys(r), l.row_keys(r));
            for j in 0..l.num_fields() {
                assert_eq!(back.get(r, j), l.get(r, j));
                assert_eq!(new.get(r, j), l.get(r, j));
            }
        }
    }
}
