//! [`ColumnView`]: a read-only, copy-on-write snapshot of one field.

use std::sync::Arc;

use crate::column::{ColChunk, ColMeta, Data, Layout};
use crate::intvec::IntVec;
use crate::list::Sum;
use crate::process::Buffer;
use crate::{CellRef, DType, RecordsError, Result};

/// Contiguous numbers of a column stored in one chunk without nulls.
#[derive(Clone, Copy, Debug)]
pub enum Numbers<'a> {
    /// 64-bit ints.
    I64(&'a [i64]),
    /// Floats.
    F64(&'a [f64]),
}

/// One field of a [`crate::RecordList`], frozen at the moment it was taken.
///
/// # Memory
/// Holds references to the list's chunks; taking it copies nothing. Later writes to the
/// list copy the chunk they touch (copy-on-write), so the view never changes.
#[derive(Clone, Debug)]
pub struct ColumnView {
    meta: ColMeta,
    parts: Vec<(Arc<ColChunk>, usize, usize)>,
    starts: Vec<usize>,
    len: usize,
}

impl ColumnView {
    /// Calls `f` with each allocation this view keeps alive, shared with the list it
    /// was taken from while that list holds it (see [`crate::RecordList::buffers`]).
    pub fn buffers(&self, mut f: impl FnMut(Buffer)) {
        for (c, _, _) in &self.parts {
            ColChunk::buffers(c, &mut f);
        }
        if let Some(d) = &self.meta.dict {
            f(Buffer::of(d, d.heap_bytes()));
        }
    }

    /// Heap bytes of this view's own bookkeeping (not its [`ColumnView::buffers`]).
    pub fn own_heap_bytes(&self) -> usize {
        self.parts.capacity() * std::mem::size_of::<(Arc<ColChunk>, usize, usize)>()
            + self.starts.capacity() * std::mem::size_of::<usize>()
    }

    pub(crate) fn new(meta: ColMeta, parts: Vec<(Arc<ColChunk>, usize, usize)>) -> Self {
        let mut starts = Vec::with_capacity(parts.len());
        let mut len = 0;
        for (_, _, n) in &parts {
            starts.push(len);
            len += n;
        }
        ColumnView {
            meta,
            parts,
            starts,
            len,
        }
    }

    pub(crate) fn meta(&self) -> &ColMeta {
        &self.meta
    }

    /// The chunks and the `(offset, length)` of this column's rows in each.
    pub(crate) fn parts(&self) -> &[(Arc<ColChunk>, usize, usize)] {
        &self.parts
    }

    /// Field name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// Logical type.
    pub fn dtype(&self) -> DType {
        self.meta.layout.dtype()
    }

    /// Physical layout.
    pub fn layout(&self) -> Layout {
        self.meta.layout
    }

    /// Number of values (one per record; absent reads as [`CellRef::Absent`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// No values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Value `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn get(&self, i: usize) -> CellRef<'_> {
        let k = if self.parts.len() == 1 {
            0
        } else {
            self.starts.partition_point(|&s| s <= i) - 1
        };
        let (c, off, _) = &self.parts[k];
        c.get(off + i - self.starts[k], &self.meta)
    }

    /// Calls `f(row, value)` for each row in `rows` (clamped to the column), in order:
    /// one chunk lookup per chunk instead of one per value.
    pub fn visit(&self, rows: std::ops::Range<usize>, mut f: impl FnMut(usize, CellRef<'_>)) {
        self.visit_while(rows, &mut |i, v| {
            f(i, v);
            true
        });
    }

    /// Like [`ColumnView::visit`], stopping as soon as `f` returns `false`.
    pub fn visit_while(
        &self,
        rows: std::ops::Range<usize>,
        f: &mut dyn FnMut(usize, CellRef<'_>) -> bool,
    ) {
        let mut base = 0;
        for (c, off, n) in &self.parts {
            let (lo, hi) = (rows.start.max(base), rows.end.min(base + n));
            let ahead = c.scattered_keys(&self.meta);
            for r in lo..hi {
                let i = off + r - base;
                if let Some((keys, dict)) = ahead {
                    // A large dictionary's entries are asked for ahead, their bounds 16
                    // values ahead and their texts 8, so that each is in cache when read.
                    if r + 16 < hi {
                        dict.prefetch_bounds(keys.get(i + 16) as u32);
                    }
                    if r + 8 < hi {
                        dict.prefetch_text(keys.get(i + 8) as u32);
                    }
                }
                if !f(r, c.get(i, &self.meta)) {
                    return;
                }
            }
            base += n;
            if base >= rows.end {
                break;
            }
        }
    }

    /// Values that are null or absent.
    pub fn null_count(&self) -> usize {
        self.parts
            .iter()
            .map(|(c, off, n)| match &c.valid {
                None => 0,
                Some(v) => (*off..off + n).filter(|&i| !v.get(i)).count(),
            })
            .sum()
    }

    fn unsupported(&self, op: &'static str) -> RecordsError {
        RecordsError::Unsupported {
            field: self.meta.name.to_string(),
            dtype: self.dtype(),
            op,
        }
    }

    /// Sum of the non-null values; bools count as 0/1. Ints (also those a float
    /// column holds) are summed exactly, floats in eight lanes (as numpy sums); the sum is a
    /// float only if a float is among the values, as with Python's `sum` (a slice of a
    /// float column may hold only its ints).
    ///
    /// # Errors
    /// [`RecordsError::Unsupported`] for non-numeric columns.
    pub fn sum(&self) -> Result<Sum> {
        let mut int: i128 = 0;
        let mut float = 0.0f64;
        let mut floats = false;
        for (c, off, n) in &self.parts {
            let (off, n) = (*off, *n);
            let valid = |i: usize| c.valid.as_ref().is_none_or(|b| b.get(i));
            // A null or absent slot may still hold the value written before it (setting
            // None or deleting the key only clears its valid bit), so a part with such
            // slots adds its valid values alone.
            let holes = c.valid.as_ref().is_some_and(|b| !b.all_set(off, off + n));
            match &c.data {
                Data::Null => {}
                Data::Bool(b) => {
                    int += (off..off + n).filter(|&i| b.get(i) && valid(i)).count() as i128;
                }
                Data::Int(v) if !holes => int += v.sum_range(off, n),
                Data::Int(v) => {
                    int += (off..off + n)
                        .filter(|&i| valid(i))
                        .map(|i| i128::from(v.get(i)))
                        .sum::<i128>();
                }
                Data::Float(v, None) => {
                    float += if holes {
                        sum_f64_where(&v[off..off + n], |k| valid(off + k))
                    } else {
                        sum_f64(&v[off..off + n])
                    };
                    // A float is among the values unless every one is null.
                    floats |= n > 0 && (!holes || (off..off + n).any(valid));
                }
                Data::Float(v, Some(ints)) => {
                    for (i, x) in (off..off + n).zip(&v[off..off + n]) {
                        if !valid(i) {
                            continue;
                        }
                        if ints.get(i) {
                            // An int kept among floats: exact in an f64.
                            int += *x as i128;
                        } else {
                            float += x;
                            floats = true;
                        }
                    }
                }
                // Strings or bytes: refused, unless every one is gone (deleted, or
                // overwritten with None) and only nulls are left, which add nothing.
                _ => {
                    if (off..off + n)
                        .any(|i| !matches!(c.get(i, &self.meta), CellRef::Null | CellRef::Absent))
                    {
                        return Err(self.unsupported("sum"));
                    }
                }
            }
        }
        Ok(if floats {
            Sum::Float(float + int as f64)
        } else {
            Sum::Int(int)
        })
    }

    /// The numbers as one slice, when stored in one chunk with no nulls, as 64-bit ints
    /// or floats (narrower int storage is not handed out: consumers expect int64).
    pub fn numbers(&self) -> Option<Numbers<'_>> {
        if self.parts.len() != 1 {
            return None;
        }
        let (c, off, n) = &self.parts[0];
        if c.valid.is_some() {
            return None;
        }
        let r = *off..off + n;
        Some(match &c.data {
            Data::Int(IntVec::W64(v)) => Numbers::I64(&v[r]),
            Data::Float(v, _) => Numbers::F64(&v[r]),
            _ => return None,
        })
    }

    /// Whether [`ColumnView::numbers_copied`] applies (numeric, no nulls).
    pub fn is_dense_numeric(&self) -> bool {
        matches!(self.meta.layout, Layout::Int(_) | Layout::Float)
            && self.parts.iter().all(|(c, _, _)| c.valid.is_none())
    }

    /// All numbers concatenated into one buffer (`i64` for ints, `f64` for floats);
    /// `None` unless [`ColumnView::is_dense_numeric`].
    pub fn numbers_copied(&self) -> Option<OwnedNumbers> {
        if !self.is_dense_numeric() {
            return None;
        }
        Some(match self.meta.layout {
            Layout::Float => {
                let mut out = Vec::with_capacity(self.len);
                for (c, off, n) in &self.parts {
                    if let Data::Float(v, _) = &c.data {
                        out.extend_from_slice(&v[*off..off + n]);
                    }
                }
                OwnedNumbers::F64(out)
            }
            _ => {
                let mut out = Vec::with_capacity(self.len);
                for (c, off, n) in &self.parts {
                    if let Data::Int(v) = &c.data {
                        out.extend((*off..off + n).map(|i| v.get(i)));
                    }
                }
                OwnedNumbers::I64(out)
            }
        })
    }
}

/// [`sum_f64`] of the values `keep(k)` holds for (the others counted as 0.0, in the
/// same lanes: the same sum as over a copy holding 0.0 in their place).
fn sum_f64_where(v: &[f64], keep: impl Fn(usize) -> bool) -> f64 {
    let mut lanes = [0.0f64; 8];
    let body = v.len() / 8 * 8;
    for (k, x) in v[..body].iter().enumerate() {
        if keep(k) {
            lanes[k % 8] += x;
        }
    }
    let tail: f64 = (body..v.len()).filter(|&k| keep(k)).map(|k| v[k]).sum();
    lanes.iter().sum::<f64>() + tail
}

/// Float sum in eight independent lanes (vectorizable; pairwise-like accuracy).
fn sum_f64(v: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut it = v.chunks_exact(8);
    for c in &mut it {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    let tail: f64 = it.remainder().iter().sum();
    lanes.iter().sum::<f64>() + tail
}

/// Numbers copied out of a multi-chunk column.
#[derive(Clone, Debug)]
pub enum OwnedNumbers {
    /// Ints, widened to 64 bits.
    I64(Vec<i64>),
    /// Floats.
    F64(Vec<f64>),
}

impl OwnedNumbers {
    /// The values of Arrow `Int64` or `Float64` arrays without nulls, concatenated into
    /// one buffer; `None` for any other type, mixed types or a null.
    ///
    /// # Memory
    /// Copies every value once.
    pub fn from_arrow(arrays: &[&dyn arrow_array::Array]) -> Option<OwnedNumbers> {
        use arrow_array::{Float64Array, Int64Array};
        if arrays.iter().any(|a| a.null_count() > 0) {
            return None;
        }
        let len = arrays.iter().map(|a| a.len()).sum();
        let ints: Option<Vec<&Int64Array>> = arrays
            .iter()
            .map(|a| a.as_any().downcast_ref::<Int64Array>())
            .collect();
        if let Some(ints) = ints {
            let mut out = Vec::with_capacity(len);
            ints.iter().for_each(|a| out.extend_from_slice(a.values()));
            return Some(OwnedNumbers::I64(out));
        }
        let floats: Vec<&Float64Array> = arrays
            .iter()
            .map(|a| a.as_any().downcast_ref::<Float64Array>())
            .collect::<Option<_>>()?;
        let mut out = Vec::with_capacity(len);
        floats
            .iter()
            .for_each(|a| out.extend_from_slice(a.values()));
        Some(OwnedNumbers::F64(out))
    }
}

/// Sum of the non-null values of Arrow arrays of one field, as [`ColumnView::sum`] gives
/// it: `Int64`, `Boolean` (0/1) and `Null` arrays sum as ints, `Float64` as floats;
/// `None` for other types.
pub fn sum_arrow(arrays: &[&dyn arrow_array::Array]) -> Option<Sum> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_schema::DataType;
    let (mut int, mut float, mut is_float) = (0i128, 0.0f64, false);
    for a in arrays {
        match a.data_type() {
            DataType::Null => {}
            DataType::Boolean => int += a.as_boolean().true_count() as i128,
            DataType::Int64 => {
                int += a
                    .as_primitive::<Int64Type>()
                    .iter()
                    .flatten()
                    .map(i128::from)
                    .sum::<i128>();
            }
            DataType::Float64 => {
                let p = a.as_primitive::<Float64Type>();
                // As Python's `sum`: a float only if a float is among the values.
                is_float |= p.null_count() < p.len();
                float += match p.nulls() {
                    // Null slots may hold anything in a foreign file: skip them.
                    Some(_) => p.iter().flatten().sum(),
                    None => sum_f64(p.values()),
                };
            }
            _ => return None,
        }
    }
    Some(if is_float {
        Sum::Float(float + int as f64)
    } else {
        Sum::Int(int)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Float64Array, Int64Array, StringArray};

    #[test]
    fn numbers_from_arrow_concatenates_dense_numbers_only() {
        let a = Int64Array::from(vec![1, 2]);
        let b = Int64Array::from(vec![3]);
        let got = OwnedNumbers::from_arrow(&[&a as &dyn Array, &b]);
        assert!(matches!(got, Some(OwnedNumbers::I64(v)) if v == [1, 2, 3]));
        let f = Float64Array::from(vec![0.5]);
        let got = OwnedNumbers::from_arrow(&[&f as &dyn Array, &f]);
        assert!(matches!(got, Some(OwnedNumbers::F64(v)) if v == [0.5, 0.5]));
        assert!(OwnedNumbers::from_arrow(&[&a as &dyn Array, &f]).is_none());
        let n = Int64Array::from(vec![Some(1), None]);
        assert!(OwnedNumbers::from_arrow(&[&n as &dyn Array]).is_none());
        let s = StringArray::from(vec!["x"]);
        assert!(OwnedNumbers::from_arrow(&[&s as &dyn Array]).is_none());
        assert!(matches!(
            sum_arrow(&[&a as &dyn Array, &n]),
            Some(Sum::Int(4))
        ));
        assert!(matches!(sum_arrow(&[&f as &dyn Array]), Some(Sum::Float(x)) if x == 0.5));
        assert!(sum_arrow(&[&s as &dyn Array]).is_none());
        assert!(matches!(
            OwnedNumbers::from_arrow(&[]),
            Some(OwnedNumbers::I64(v)) if v.is_empty()
        ));
    }

    /// A slot set to null or whose key was removed keeps the number it held: the sum
    /// leaves it out, in every layout and past the float lanes' first eight values.
    #[test]
    fn a_sum_leaves_out_values_set_to_null_or_removed() {
        use crate::{Cell, RecordList};
        let cases: [(Vec<Cell<'_>>, Sum); 4] = [
            ((1..=20).map(Cell::Int).collect(), Sum::Int(14)),
            (
                (1..=20).map(|i| Cell::Float(f64::from(i) / 2.0)).collect(),
                Sum::Float(7.0),
            ),
            (
                (1..=20).map(|i| Cell::Bool(i % 2 == 0)).collect(),
                Sum::Int(2),
            ),
            (
                (1..=20)
                    .map(|i| {
                        if i % 3 == 0 {
                            Cell::Float(0.5)
                        } else {
                            Cell::Int(i)
                        }
                    })
                    .collect(),
                Sum::Float(2.5),
            ),
        ];
        for (cells, want) in cases {
            let mut list = RecordList::new();
            for c in &cells {
                list.push_record(&[("x", *c)]).unwrap();
            }
            // Kept: rows 1 and 11 (values 2 and 12); the others emptied one way or the other.
            for row in (0..20).filter(|r| ![1, 11].contains(r)) {
                if row % 2 == 0 {
                    list.set_field(row, "x", Cell::Null).unwrap();
                } else {
                    list.remove_field(row, 0).unwrap();
                }
            }
            assert_eq!(list.column(0).sum().unwrap(), want, "{cells:?}");
        }
    }
}
