//! Arrow export (zero-copy) and import.
//!
//! Export hands out Arrow arrays whose buffers point straight into the list's chunks;
//! each array keeps its chunk alive through an `Arc`, and the list copies a chunk before
//! writing to it while such an array exists (copy-on-write), so exported data never
//! changes under a consumer.
//!
//! What Arrow cannot say exactly:
//! - an absent key and a `None` value both export as null;
//! - ints stored in a float column (because the field also holds floats) export as `float64`;
//! - int columns export as `int64`: zero-copy when stored at 64 bits, widened (a copy of
//!   that column) when the values let memslim store them in 8, 16 or 32 bits;
//! - `object` columns export as `binary` holding memslim's variant encoding, with field
//!   metadata `memslim.encoding = variant-1`; [`RecordList::from_arrow`] decodes it back.

use std::collections::HashMap as StdHashMap;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, DictionaryArray, NullArray, PrimitiveArray,
    RecordBatch, RecordBatchOptions, StringArray,
};
use arrow_buffer::{
    ArrowNativeType, BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer,
    alloc::Allocation,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::arrow_run::{ArrowColumn, ArrowPushError, ArrowSource};
use crate::bitmap::Bitmap;
use crate::column::{ColChunk, ColMeta, Data, Layout};
use crate::intvec::{IntVec, Width};
use crate::strdict::StrDict;
use crate::variant::{self, Value, Writer};
use crate::{Cell, ColumnView, RecordList, RecordsError, Result};

/// Field metadata key naming the encoding of `object` columns.
pub const ENCODING_KEY: &str = "memslim.encoding";
/// Its value for the current variant encoding.
pub const VARIANT_ENCODING: &str = "variant-1";

/// Rows [`RecordList::from_arrow`] reads into columns at a time: the typed copies of a
/// run's ints and strings (8 and 16 bytes a row per column) stay small beside a batch.
pub(crate) const IMPORT_ROWS: usize = 16_384;

/// An Arrow buffer over `values`, which `owner` keeps alive.
pub(crate) fn share<T: ArrowNativeType, O: Allocation + Clone + 'static>(
    owner: &O,
    values: &[T],
) -> Buffer {
    let ptr = NonNull::new(values.as_ptr() as *mut u8).unwrap_or(NonNull::dangling());
    let owner: Arc<dyn Allocation> = Arc::new(owner.clone());
    // SAFETY: `values` is a live, initialized, properly aligned slice inside an allocation
    // owned by `owner` (an `Arc` of a chunk or dictionary). The buffer holds a clone of
    // that `Arc`, so the allocation outlives the buffer. The list never writes through a
    // shared `Arc` (all writes go through `cow::make_mut` / `cow::get_mut`, which copy or
    // refuse while another reference exists), so the bytes do not change while exported.
    unsafe { Buffer::from_custom_allocation(ptr, std::mem::size_of_val(values), owner) }
}

fn key_type(w: Width) -> DataType {
    match w {
        Width::W8 => DataType::Int8,
        Width::W16 => DataType::Int16,
        Width::W32 => DataType::Int32,
        Width::W64 => DataType::Int64,
    }
}

fn arrow_type(layout: Layout) -> DataType {
    match layout {
        Layout::Null => DataType::Null,
        Layout::Bool => DataType::Boolean,
        // Ints are int64 to consumers whatever width stores them (see `chunk_array`).
        Layout::Int(_) => DataType::Int64,
        Layout::Float => DataType::Float64,
        Layout::StrDict(w) => DataType::Dictionary(Box::new(key_type(w)), Box::new(DataType::Utf8)),
        Layout::StrPlain => DataType::Utf8,
        Layout::Bytes | Layout::Object => DataType::Binary,
    }
}

fn bool_buffer<O: Allocation + Clone + 'static>(
    owner: &O,
    b: &Bitmap,
    len: usize,
) -> BooleanBuffer {
    BooleanBuffer::new(share(owner, b.as_bytes()), 0, len)
}

fn prim<T, O>(owner: &O, v: &[T::Native], nulls: Option<NullBuffer>) -> Result<ArrayRef>
where
    T: arrow_array::ArrowPrimitiveType,
    O: Allocation + Clone + 'static,
{
    let values = ScalarBuffer::<T::Native>::new(share(owner, v), 0, v.len());
    Ok(Arc::new(PrimitiveArray::<T>::try_new(values, nulls)?))
}

fn int_array<O: Allocation + Clone + 'static>(
    owner: &O,
    v: &IntVec,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    match v {
        IntVec::W8(x) => prim::<Int8Type, _>(owner, x, nulls),
        IntVec::W16(x) => prim::<Int16Type, _>(owner, x, nulls),
        IntVec::W32(x) => prim::<Int32Type, _>(owner, x, nulls),
        IntVec::W64(x) => prim::<Int64Type, _>(owner, x, nulls),
    }
}

fn dict_values(dict: &Arc<StrDict>) -> Result<ArrayRef> {
    let offsets = ScalarBuffer::<i32>::new(share(dict, dict.offsets()), 0, dict.offsets().len());
    let values = share(dict, dict.data());
    Ok(Arc::new(StringArray::try_new(
        OffsetBuffer::new(offsets),
        values,
        None,
    )?))
}

fn dict_array<K: ArrowDictionaryKeyType>(keys: ArrayRef, values: ArrayRef) -> Result<ArrayRef> {
    let keys = keys.as_primitive::<K>().clone();
    Ok(Arc::new(DictionaryArray::<K>::try_new(keys, values)?))
}

/// Rows `[off, off + rows)` of one column chunk as an Arrow array.
fn chunk_array(
    cc: &Arc<ColChunk>,
    layout: Layout,
    dict: Option<&Arc<StrDict>>,
    off: usize,
    rows: usize,
) -> Result<ArrayRef> {
    let len = cc.len;
    let nulls = cc
        .valid
        .as_ref()
        .map(|v| NullBuffer::new(bool_buffer(cc, v, len)));
    let array: ArrayRef = match (&cc.data, layout) {
        (Data::Null, _) => Arc::new(NullArray::new(len)),
        (Data::Bool(b), _) => Arc::new(BooleanArray::new(bool_buffer(cc, b, len), nulls)),
        (Data::Int(IntVec::W64(v)), _) => prim::<Int64Type, _>(cc, v, nulls)?,
        (Data::Int(v), _) => {
            // Stored narrower than it is typed: hand consumers int64 (a copy of this
            // column only), so their arithmetic cannot silently wrap at 8/16/32 bits.
            let wide: Vec<i64> = (0..v.len()).map(|i| v.get(i)).collect();
            let values = ScalarBuffer::<i64>::new(Buffer::from_vec(wide), 0, v.len());
            Arc::new(PrimitiveArray::<Int64Type>::try_new(values, nulls)?)
        }
        (Data::Float(v, _), _) => prim::<Float64Type, _>(cc, v, nulls)?,
        (Data::Keys(k), _) => {
            let values = match dict {
                Some(d) => dict_values(d)?,
                None => Arc::new(StringArray::from(Vec::<&str>::new())),
            };
            // Slice the keys first: rows outside this list's view may have been rolled back.
            let keys = int_array(cc, k, nulls)?.slice(off, rows);
            return Ok(match k.width() {
                Width::W8 => dict_array::<Int8Type>(keys, values)?,
                Width::W16 => dict_array::<Int16Type>(keys, values)?,
                Width::W32 => dict_array::<Int32Type>(keys, values)?,
                Width::W64 => dict_array::<Int64Type>(keys, values)?,
            });
        }
        (Data::Var(v), l) => {
            let offsets = ScalarBuffer::<i32>::new(share(cc, v.offsets()), 0, v.offsets().len());
            let offsets = OffsetBuffer::new(offsets);
            let values = share(cc, v.data());
            if l == Layout::StrPlain {
                Arc::new(StringArray::try_new(offsets, values, nulls)?)
            } else {
                Arc::new(BinaryArray::try_new(offsets, values, nulls)?)
            }
        }
    };
    Ok(if off == 0 && rows == array.len() {
        array
    } else {
        array.slice(off, rows)
    })
}

/// The Arrow field of a column (nullable; `object` columns carry the encoding).
fn arrow_field(m: &ColMeta) -> Field {
    let f = Field::new(m.name.as_ref(), arrow_type(m.layout), true);
    if m.layout == Layout::Object {
        f.with_metadata(StdHashMap::from([(
            ENCODING_KEY.to_owned(),
            VARIANT_ENCODING.to_owned(),
        )]))
    } else {
        f
    }
}

impl ColumnView {
    /// This field as Arrow record batches of one column each, one batch per chunk, with
    /// the types [`RecordList::to_arrow`] gives the field (absent values as null).
    ///
    /// # Errors
    /// Only if arrow-rs rejects an array (a bug here, reported rather than panicking).
    ///
    /// # Memory
    /// Zero-copy as [`RecordList::to_arrow`], except that a string chunk with pending
    /// overwrites is compacted into a copy (the view cannot change the list's chunk).
    pub fn to_arrow(&self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let meta = self.meta();
        let schema = Arc::new(Schema::new(vec![arrow_field(meta)]));
        let mut batches = Vec::with_capacity(self.parts().len());
        for (cc, off, len) in self.parts() {
            let compacted;
            let cc = match &cc.data {
                Data::Var(v) if !v.is_compact() => {
                    let mut c = ColChunk::clone(cc);
                    c.compact();
                    compacted = Arc::new(c);
                    &compacted
                }
                _ => cc,
            };
            let array = chunk_array(cc, meta.layout, meta.dict.as_ref(), *off, *len)?;
            let opts = RecordBatchOptions::new().with_row_count(Some(*len));
            batches.push(RecordBatch::try_new_with_options(
                schema.clone(),
                vec![array],
                &opts,
            )?);
        }
        Ok((schema, batches))
    }
}

impl RecordList {
    /// The Arrow schema of this list (every field nullable).
    pub fn arrow_schema(&self) -> SchemaRef {
        self.arrow_schema_without(&[])
    }

    /// [`RecordList::arrow_schema`] without the fields at positions `skip` (such as
    /// [`RecordList::fields_without_values`] gives).
    pub fn arrow_schema_without(&self, skip: &[usize]) -> SchemaRef {
        let fields: Vec<Field> = self
            .metas()
            .iter()
            .enumerate()
            .filter(|(j, _)| !skip.contains(j))
            .map(|(_, m)| arrow_field(m))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The records as Arrow record batches, one per chunk, sharing this list's buffers.
    ///
    /// # Errors
    /// Only if arrow-rs rejects an array (a bug here, reported rather than panicking).
    ///
    /// # Memory
    /// Zero-copy: batches point into the chunks (pending string overrides are folded
    /// in first). A later write to the list copies the chunk it touches.
    pub fn to_arrow(&mut self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.to_arrow_without(&[])
    }

    /// [`RecordList::to_arrow`] without the fields at positions `skip` (such as
    /// [`RecordList::fields_without_values`] gives): the records as a list of dicts
    /// holding them would export.
    ///
    /// # Errors
    /// As [`RecordList::to_arrow`].
    pub fn to_arrow_without(&mut self, skip: &[usize]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let schema = self.arrow_schema_without(skip);
        let metas = self.metas().to_vec();
        let parts = self.chunk_parts();
        let mut batches = Vec::with_capacity(parts.len());
        for (off, len, cols) in parts {
            let mut arrays = Vec::with_capacity(cols.len());
            for (j, cc) in cols.iter().enumerate() {
                if skip.contains(&j) {
                    continue;
                }
                arrays.push(chunk_array(
                    cc,
                    metas[j].layout,
                    metas[j].dict.as_ref(),
                    off,
                    len,
                )?);
            }
            let opts = RecordBatchOptions::new().with_row_count(Some(len));
            batches.push(RecordBatch::try_new_with_options(
                schema.clone(),
                arrays,
                &opts,
            )?);
        }
        Ok((schema, batches))
    }

    /// Builds a list from Arrow record batches (copies the values).
    ///
    /// Supported: null, bool, all ints, float16/32/64, utf8 (all three layouts), binary
    /// (all three; memslim `object` columns are decoded), dictionaries of those, and
    /// lists, large lists, fixed-size lists and structs of supported types (as Python
    /// lists and dicts). Nulls come back as `None` (present keys). Every field keeps the
    /// type its Arrow type maps to ([`crate::dtype_of_arrow`]) even while it holds only
    /// nulls, or no record at all (an empty table).
    ///
    /// # Errors
    /// [`RecordsError::UnsupportedArrowType`] naming the field; [`RecordsError::Corrupt`]
    /// for an undecodable `object` value.
    pub fn from_arrow(
        schema: &Schema,
        batches: impl IntoIterator<Item = Result<RecordBatch>>,
        chunk_rows: usize,
    ) -> Result<RecordList> {
        let mut out = RecordList::with_chunk_rows(chunk_rows);
        // Each field with its type, known before its values (an empty table keeps them).
        for f in schema.fields() {
            out.add_field_of(f.name(), crate::arrow_cell::dtype_of_arrow(f))?;
        }
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let variant_cols: Vec<bool> = schema
            .fields()
            .iter()
            .map(|f| f.metadata().get(ENCODING_KEY).map(String::as_str) == Some(VARIANT_ENCODING))
            .collect();
        for f in schema.fields() {
            check_type(f.name(), f.data_type())?;
        }
        // Fields by position; a name given twice is one field, which `push_columns`
        // refuses as a duplicate key, as a record holding the key twice is.
        let fields: Vec<usize> = names
            .iter()
            .map(|n| out.field_index(n).unwrap_or(usize::MAX))
            .collect();
        // Rows of the batches before this one: an error names the record by its row in
        // the list (and, past the first batch, by its batch and row in it).
        let mut before = 0usize;
        for (b, batch) in batches.into_iter().enumerate() {
            let batch = batch?;
            let cols: Vec<ArrowColumn<'_>> = batch
                .columns()
                .iter()
                .enumerate()
                .map(|(j, col)| ArrowColumn {
                    field: fields[j],
                    source: ArrowSource::Array {
                        array: col.as_ref(),
                        variant: variant_cols[j],
                    },
                    absent: None,
                    ints: None,
                })
                .collect();
            out.push_arrow(batch.num_rows(), &cols, (&[], &[]))
                .map_err(|e| match e {
                    ArrowPushError::Read {
                        column,
                        row,
                        error: RecordsError::Corrupt(why),
                    } => {
                        let at = if b == 0 {
                            String::new()
                        } else {
                            format!(" (batch {b}, row {row})")
                        };
                        RecordsError::Corrupt(format!(
                            "row {}, field {:?}{at}: {why}",
                            before + row,
                            names[column]
                        ))
                    }
                    ArrowPushError::Read { error, .. } | ArrowPushError::Push(error) => error,
                })?;
            before += batch.num_rows();
        }
        out.optimize();
        Ok(out)
    }
}

/// A value of one row of one array: a cell borrowing the array, or a value encoded into
/// the column's buffer (which the caller turns into a cell once the buffer is done).
pub(crate) enum Scalar<'a> {
    Cell(Cell<'a>),
    Encoded,
}

impl<'a> Scalar<'a> {
    pub(crate) fn cell(&self, buf: &'a [u8]) -> Cell<'a> {
        match self {
            Scalar::Cell(c) => *c,
            Scalar::Encoded => Cell::Encoded(buf),
        }
    }
}

pub(crate) fn check_type(name: &str, t: &DataType) -> Result<()> {
    use DataType::*;
    let ok = match t {
        Null | Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
        | Float16 | Float32 | Float64 | Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary
        | BinaryView => true,
        Dictionary(_, v) => return check_type(name, v),
        List(f) | LargeList(f) | FixedSizeList(f, _) => return check_type(name, f.data_type()),
        // A dict holds each key once: children sharing a name have no exact import.
        Struct(fs) if has_duplicate_name(fs) => false,
        Struct(fs) => return fs.iter().try_for_each(|f| check_type(name, f.data_type())),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(RecordsError::UnsupportedArrowType {
            field: name.to_owned(),
            arrow_type: t.to_string(),
        })
    }
}

/// Whether two of `fields` have one name (Arrow allows it in a struct).
fn has_duplicate_name(fields: &arrow_schema::Fields) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    !fields.iter().all(|f| seen.insert(f.name().as_str()))
}

pub(crate) fn scalar_at<'a>(
    a: &'a dyn Array,
    i: usize,
    is_variant: bool,
    buf: &mut Vec<u8>,
) -> Result<Scalar<'a>> {
    use DataType::*;
    if a.is_null(i) {
        return Ok(Scalar::Cell(Cell::Null));
    }
    Ok(match a.data_type() {
        Null => Scalar::Cell(Cell::Null),
        Boolean => Scalar::Cell(Cell::Bool(a.as_boolean().value(i))),
        Int8 => Scalar::Cell(Cell::Int(a.as_primitive::<Int8Type>().value(i).into())),
        Int16 => Scalar::Cell(Cell::Int(a.as_primitive::<Int16Type>().value(i).into())),
        Int32 => Scalar::Cell(Cell::Int(a.as_primitive::<Int32Type>().value(i).into())),
        Int64 => Scalar::Cell(Cell::Int(a.as_primitive::<Int64Type>().value(i))),
        UInt8 => Scalar::Cell(Cell::Int(a.as_primitive::<UInt8Type>().value(i).into())),
        UInt16 => Scalar::Cell(Cell::Int(a.as_primitive::<UInt16Type>().value(i).into())),
        UInt32 => Scalar::Cell(Cell::Int(a.as_primitive::<UInt32Type>().value(i).into())),
        UInt64 => {
            let v = a.as_primitive::<UInt64Type>().value(i);
            match i64::try_from(v) {
                Ok(v) => Scalar::Cell(Cell::Int(v)),
                Err(_) => {
                    buf.clear();
                    let mut le = v.to_le_bytes().to_vec();
                    le.push(0);
                    Writer::new(buf).big_int(&le);
                    Scalar::Encoded
                }
            }
        }
        Float16 => Scalar::Cell(Cell::Float(
            a.as_primitive::<Float16Type>().value(i).to_f64(),
        )),
        Float32 => Scalar::Cell(Cell::Float(a.as_primitive::<Float32Type>().value(i).into())),
        Float64 => Scalar::Cell(Cell::Float(a.as_primitive::<Float64Type>().value(i))),
        Utf8 => Scalar::Cell(Cell::Str(a.as_string::<i32>().value(i))),
        LargeUtf8 => Scalar::Cell(Cell::Str(a.as_string::<i64>().value(i))),
        Utf8View => Scalar::Cell(Cell::Str(a.as_string_view().value(i))),
        Binary | LargeBinary | BinaryView => {
            let b: &[u8] = match a.data_type() {
                Binary => a.as_binary::<i32>().value(i),
                LargeBinary => a.as_binary::<i64>().value(i),
                _ => a.as_binary_view().value(i),
            };
            if is_variant {
                variant::decode(b)?;
                buf.clear();
                buf.extend_from_slice(b);
                Scalar::Encoded
            } else {
                Scalar::Cell(Cell::Bytes(b))
            }
        }
        Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            // Only key `i`: `normalized_keys` would copy every key per value (quadratic
            // over a batch) and panic on an empty dictionary.
            let k = dict_key(d.keys(), i)
                .filter(|&k| k < d.values().len())
                .ok_or_else(|| {
                    RecordsError::Corrupt("a dictionary key outside its dictionary".to_owned())
                })?;
            return scalar_at(d.values().as_ref(), k, is_variant, buf);
        }
        _ => {
            buf.clear();
            let v = value_at(a, i)?;
            variant::encode(&v, buf);
            Scalar::Encoded
        }
    })
}

/// Key `i` of a dictionary's `keys` as an index into its values (`None`: negative).
fn dict_key(keys: &dyn Array, i: usize) -> Option<usize> {
    use DataType::*;
    match keys.data_type() {
        Int8 => usize::try_from(keys.as_primitive::<Int8Type>().value(i)).ok(),
        Int16 => usize::try_from(keys.as_primitive::<Int16Type>().value(i)).ok(),
        Int32 => usize::try_from(keys.as_primitive::<Int32Type>().value(i)).ok(),
        Int64 => usize::try_from(keys.as_primitive::<Int64Type>().value(i)).ok(),
        UInt8 => Some(usize::from(keys.as_primitive::<UInt8Type>().value(i))),
        UInt16 => Some(usize::from(keys.as_primitive::<UInt16Type>().value(i))),
        UInt32 => usize::try_from(keys.as_primitive::<UInt32Type>().value(i)).ok(),
        UInt64 => usize::try_from(keys.as_primitive::<UInt64Type>().value(i)).ok(),
        _ => None,
    }
}

/// Any supported Arrow value as a [`Value`] (used for nested types).
fn value_at(a: &dyn Array, i: usize) -> Result<Value> {
    use DataType::*;
    if a.is_null(i) {
        return Ok(Value::None);
    }
    let mut buf = Vec::new();
    Ok(match a.data_type() {
        List(_) => list_value(a.as_list::<i32>().value(i).as_ref())?,
        LargeList(_) => list_value(a.as_list::<i64>().value(i).as_ref())?,
        FixedSizeList(_, _) => list_value(a.as_fixed_size_list().value(i).as_ref())?,
        Struct(fields) => {
            let s = a.as_struct();
            let mut items = Vec::with_capacity(fields.len());
            for (f, col) in fields.iter().zip(s.columns()) {
                items.push((Value::Str(f.name().clone()), value_at(col.as_ref(), i)?));
            }
            Value::Dict(items)
        }
        _ => scalar_at(a, i, false, &mut buf)?.cell(&buf).to_value()?,
    })
}

fn list_value(a: &dyn Array) -> Result<Value> {
    (0..a.len())
        .map(|i| value_at(a, i))
        .collect::<Result<Vec<_>>>()
        .map(Value::List)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each field's column export holds the same values as that field of the list's
    /// export, chunk by chunk: absent and null as null, dictionary and plain strings
    /// (with an overwrite pending compaction), ints, floats, bools and `object` values.
    #[test]
    fn column_export_matches_the_list_export() {
        let mut rows = RecordList::with_chunk_rows(3);
        let long = "x".repeat(40);
        for i in 0..10i64 {
            let mut rec = vec![("id", Cell::Int(i)), ("f", Cell::Float(i as f64 / 2.0))];
            if i % 3 != 0 {
                rec.push(("cat", Cell::Str(["a", "b"][i as usize % 2])));
            }
            rec.push(("s", if i == 4 { Cell::Null } else { Cell::Str(&long) }));
            rec.push(("b", Cell::Bool(i % 2 == 0)));
            rows.push_record(&rec).unwrap();
        }
        rows.optimize();
        rows.set_field(1, "s", Cell::Str("short")).unwrap();
        rows.set_field(2, "cat", Cell::Int(7)).unwrap();
        let views: Vec<ColumnView> = (0..rows.num_fields()).map(|j| rows.column(j)).collect();
        let (schema, batches) = rows.to_arrow().unwrap();
        for (j, view) in views.iter().enumerate() {
            let (cschema, cbatches) = view.to_arrow().unwrap();
            assert_eq!(cschema.fields().len(), 1);
            assert_eq!(cschema.field(0), schema.field(j));
            assert_eq!(cbatches.len(), batches.len());
            for (cb, b) in cbatches.iter().zip(&batches) {
                assert_eq!(cb.num_rows(), b.num_rows());
                assert_eq!(cb.column(0).to_data(), b.column(j).to_data(), "field {j}");
            }
        }
        // Absent is null.
        let cat = rows.field_index("cat").unwrap();
        let (_, b) = rows.column(cat).to_arrow().unwrap();
        assert!(b[0].column(0).is_null(0));
    }

    /// A struct whose children share a name (which Arrow allows) has no dict to become:
    /// refused, naming the field, at any depth; distinct names import.
    #[test]
    fn a_struct_with_two_children_of_one_name_is_refused() {
        use arrow_schema::{Field, Fields};
        let child = |n: &str| Field::new(n, DataType::Int64, true);
        let dup = DataType::Struct(Fields::from(vec![child("x"), child("x")]));
        let nested = DataType::List(Arc::new(Field::new("item", dup.clone(), true)));
        for t in [&dup, &nested] {
            let e = check_type("s", t).unwrap_err();
            assert!(matches!(&e, RecordsError::UnsupportedArrowType { field, .. } if field == "s"));
        }
        let fine = DataType::Struct(Fields::from(vec![child("x"), child("y")]));
        assert!(check_type("s", &fine).is_ok());
    }
}
