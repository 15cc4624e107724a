//! `arrow_cell` on dictionary arrays (foreign Arrow and Parquet data, read cell by
//! cell): every key type reads the value its key names; nulls read as null.

use std::sync::Arc;

use arrow_array::types::{
    ArrowDictionaryKeyType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{ArrayRef, DictionaryArray, PrimitiveArray, StringArray};
use memslim_records::{CellRef, arrow_cell};

fn cells(a: &ArrayRef) -> Vec<Option<String>> {
    let mut buf = Vec::new();
    (0..a.len())
        .map(
            |i| match arrow_cell(a.as_ref(), i, false, &mut buf).unwrap() {
                CellRef::Str(s) => Some(s.to_owned()),
                CellRef::Null => None,
                other => panic!("row {i}: {other:?}"),
            },
        )
        .collect()
}

fn check<K: ArrowDictionaryKeyType>(keys: &[Option<u8>])
where
    K::Native: TryFrom<u8>,
{
    let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
    let k: PrimitiveArray<K> = keys
        .iter()
        .map(|k| k.and_then(|k| K::Native::try_from(k).ok()))
        .collect();
    let d: ArrayRef = Arc::new(DictionaryArray::<K>::try_new(k, values).unwrap());
    let want: Vec<Option<String>> = keys
        .iter()
        .map(|k| k.map(|k| ["a", "b", "c"][usize::from(k)].to_owned()))
        .collect();
    assert_eq!(cells(&d), want, "{}", d.data_type());
}

#[test]
fn every_key_type_reads_the_value_its_key_names() {
    let keys = [Some(2), None, Some(0), Some(1), Some(2), None];
    check::<Int8Type>(&keys);
    check::<Int16Type>(&keys);
    check::<Int32Type>(&keys);
    check::<Int64Type>(&keys);
    check::<UInt8Type>(&keys);
    check::<UInt16Type>(&keys);
    check::<UInt32Type>(&keys);
    check::<UInt64Type>(&keys);
}

/// Nulls only, with an empty dictionary (a valid array `normalized_keys` refuses).
#[test]
fn all_null_keys_with_an_empty_dictionary_read_as_null() {
    let values: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
    let k = PrimitiveArray::<Int32Type>::from(vec![None, None, None]);
    let d: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(k, values).unwrap());
    assert_eq!(cells(&d), [None, None, None]);
}

/// A batch-sized column read cell by cell (what the Parquet reader and a foreign record
/// file do): one key per cell, not a copy of every key per cell.
#[test]
fn a_large_dictionary_column_reads_cell_by_cell() {
    let n = 1 << 16;
    let values: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
    let k: PrimitiveArray<Int32Type> = (0..n).map(|i| Some((i % 2) as i32)).collect();
    let d: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(k, values).unwrap());
    let got = cells(&d);
    assert_eq!(got.len(), n);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, v)| v.as_deref() == Some(["x", "y"][i % 2]))
    );
}
