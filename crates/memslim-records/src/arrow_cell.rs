//! Reading single values out of Arrow arrays without building a [`crate::RecordList`]:
//! what a reader of Arrow data that lives elsewhere (a memory-mapped file) needs.

use arrow_array::Array;
use arrow_schema::{DataType, Field};

use crate::arrow::{check_type, scalar_at};
use crate::{Cell, CellRef, DType, ENCODING_KEY, Result, VARIANT_ENCODING};

/// Whether `field` holds memslim's variant encoding (an exported `object` column).
pub fn is_variant_field(field: &Field) -> bool {
    field.metadata().get(ENCODING_KEY).map(String::as_str) == Some(VARIANT_ENCODING)
}

/// Checks that values of Arrow type `t` can be read back as cells (the types
/// [`crate::RecordList::from_arrow`] accepts).
///
/// # Errors
/// [`crate::RecordsError::UnsupportedArrowType`] naming `field`.
pub fn check_arrow_type(field: &str, t: &DataType) -> Result<()> {
    check_type(field, t)
}

/// The type a field of Arrow type `field` has in a list before any value arrives: what
/// [`crate::RecordList::from_arrow`] gives an imported field (so an empty table's
/// fields keep their types), as its values would make it. `u64` is `int64` (its values
/// past `i64` make the field `object` as they arrive); lists, structs and variant
/// columns are `object`; a dictionary has its values' type.
pub fn dtype_of_arrow(field: &Field) -> DType {
    fn of(t: &DataType, variant: bool) -> DType {
        use DataType::*;
        match t {
            Boolean => DType::Bool,
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => DType::Int64,
            Float16 | Float32 | Float64 => DType::Float64,
            Utf8 | LargeUtf8 | Utf8View => DType::Str,
            Binary | LargeBinary | BinaryView if variant => DType::Object,
            Binary | LargeBinary | BinaryView => DType::Bytes,
            Dictionary(_, v) => of(v, variant),
            List(_) | LargeList(_) | FixedSizeList(_, _) | Struct(_) => DType::Object,
            _ => DType::Null,
        }
    }
    of(field.data_type(), is_variant_field(field))
}

/// Value `i` of `array` as a cell, as [`crate::RecordList::from_arrow`] would store it:
/// null is [`CellRef::Null`] (Arrow has no "absent"), nested values and `u64` beyond
/// `i64` come back encoded in `buf`, `is_variant` columns are checked and passed on
/// encoded.
///
/// # Errors
/// [`crate::RecordsError::Corrupt`] for an undecodable variant value.
///
/// # Panics
/// If `i` is out of bounds for `array`.
///
/// # Memory
/// Borrows strings and bytes from the array; copies only encoded values, into `buf`.
pub fn arrow_cell<'a>(
    array: &'a dyn Array,
    i: usize,
    is_variant: bool,
    buf: &'a mut Vec<u8>,
) -> Result<CellRef<'a>> {
    let s = scalar_at(array, i, is_variant, buf)?;
    Ok(match s.cell(buf) {
        Cell::Null => CellRef::Null,
        Cell::Bool(b) => CellRef::Bool(b),
        Cell::Int(v) => CellRef::Int(v),
        Cell::Float(v) => CellRef::Float(v),
        Cell::Str(v) => CellRef::Str(v),
        Cell::Bytes(v) => CellRef::Bytes(v),
        Cell::Encoded(v) => CellRef::Encoded(v),
    })
}
