//! Batch adapters that run without an interpreter: select, rename, field comparison.
//!
//! Each takes a batch and returns a new one; they compose like iterator adapters over a
//! reader (`reader.map(|b| b.and_then(|b| select(&b, &["url"])))`).

use memslim_records::{Cell, RecordList};

use crate::error::{Result, StreamError};

/// Records appended per `push_batch` call when rebuilding a batch.
const STEP: usize = 1024;

/// Rebuilds `list` row by row through `f`, which maps a field index to the output key
/// (or `None` to drop the field).
fn rebuild<'n>(
    list: &RecordList,
    key_of: impl Fn(usize) -> Option<&'n str>,
    order: Option<&[usize]>,
) -> Result<RecordList> {
    let mut out = RecordList::with_chunk_rows(list.chunk_rows());
    let mut cells: Vec<(&str, Cell<'_>)> = Vec::new();
    let mut bounds: Vec<usize> = Vec::new();
    let mut row = 0;
    while row < list.len() {
        let end = (row + STEP).min(list.len());
        cells.clear();
        bounds.clear();
        for r in row..end {
            match order {
                Some(order) => {
                    for &j in order {
                        if let Some(c) = list.get(r, j).to_cell() {
                            if let Some(k) = key_of(j) {
                                cells.push((k, c));
                            }
                        }
                    }
                }
                None => list.visit_row(r, |j, v| {
                    if let (Some(k), Some(c)) = (key_of(j), v.to_cell()) {
                        cells.push((k, c));
                    }
                }),
            }
            bounds.push(cells.len());
        }
        let mut recs: Vec<&[(&str, Cell<'_>)]> = Vec::with_capacity(bounds.len());
        let mut a = 0;
        for &b in &bounds {
            recs.push(&cells[a..b]);
            a = b;
        }
        out.push_batch(&recs)?;
        row = end;
    }
    Ok(out)
}

/// The records with only `fields`, in that order (a field a record lacks stays absent).
///
/// # Errors
/// [`StreamError::Invalid`] if a name is given twice.
pub fn select(list: &RecordList, fields: &[&str]) -> Result<RecordList> {
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].contains(f) {
            return Err(StreamError::Invalid(format!(
                "select: field {f:?} given twice"
            )));
        }
    }
    let order: Vec<usize> = fields.iter().filter_map(|f| list.field_index(f)).collect();
    let names: Vec<Option<&str>> = (0..list.num_fields())
        .map(|j| fields.iter().find(|f| **f == list.field_name(j)).copied())
        .collect();
    rebuild(list, |j| names[j], Some(&order))
}

/// The records with fields renamed (`(old, new)` pairs; other fields keep their names).
///
/// # Errors
/// [`StreamError::Invalid`] if two fields would get the same name.
pub fn rename(list: &RecordList, mapping: &[(&str, &str)]) -> Result<RecordList> {
    let names: Vec<String> = (0..list.num_fields())
        .map(|j| {
            let n = list.field_name(j);
            mapping
                .iter()
                .find(|(old, _)| *old == n)
                .map_or(n, |(_, new)| *new)
                .to_owned()
        })
        .collect();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(StreamError::Invalid(format!(
                "rename: two fields would be named {n:?}"
            )));
        }
    }
    rebuild(list, |j| names.get(j).map(String::as_str), None)
}

/// The comparison operator [`filter_cmp`] takes: the record store's own.
pub use memslim_records::CmpOp;

/// Parses `==`, `!=`, `<`, `<=`, `>`, `>=`.
///
/// # Errors
/// [`StreamError::Invalid`] for anything else.
pub fn parse_cmp(s: &str) -> Result<CmpOp> {
    CmpOp::parse(s).ok_or_else(|| {
        StreamError::Invalid(format!(
            "unknown comparison {s:?} (use ==, !=, <, <=, >, >=)"
        ))
    })
}

/// The records whose `field` compares to `value` as Python would (`==` across int,
/// float and bool as in Python; strings by code point). A record without the field, or
/// with a value that cannot be ordered against `value`, matches only `!=`. Runs the
/// record store's typed scan ([`memslim_records::RecordList::where_rows`]); values it
/// leaves to a host (host objects, big ints, containers) count as unequal and unordered.
///
/// # Errors
/// None today; the signature leaves room for typed comparisons.
pub fn filter_cmp(
    list: &RecordList,
    field: &str,
    op: CmpOp,
    value: &Cell<'_>,
) -> Result<RecordList> {
    let (mut keep, undecided) = list.where_rows(field, op, value);
    if op == CmpOp::Ne && !undecided.is_empty() {
        keep.extend(undecided);
        keep.sort_unstable();
    }
    Ok(list.take(&keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> RecordList {
        let mut l = RecordList::new();
        l.push_record(&[
            ("url", Cell::Str("a")),
            ("status", Cell::Int(200)),
            ("n", Cell::Float(1.5)),
        ])
        .unwrap();
        l.push_record(&[("url", Cell::Str("b")), ("status", Cell::Int(404))])
            .unwrap();
        l.push_record(&[("status", Cell::Null), ("url", Cell::Str("c"))])
            .unwrap();
        l
    }

    #[test]
    fn select_keeps_order_and_absence() {
        let s = select(&list(), &["status", "url", "missing"]).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.field_name(0), "status");
        assert_eq!(s.get(0, 1).to_cell(), Some(Cell::Str("a")));
        assert!(select(&list(), &["url", "url"]).is_err());
    }

    #[test]
    fn rename_renames_and_refuses_clashes() {
        let r = rename(&list(), &[("url", "link")]).unwrap();
        assert_eq!(r.field_index("link"), Some(0));
        assert_eq!(r.field_index("url"), None);
        assert!(rename(&list(), &[("url", "status")]).is_err());
    }

    #[test]
    fn comparisons_follow_python() {
        let l = list();
        let eq = filter_cmp(&l, "status", CmpOp::Eq, &Cell::Int(200)).unwrap();
        assert_eq!(eq.len(), 1);
        let eqf = filter_cmp(&l, "status", CmpOp::Eq, &Cell::Float(200.0)).unwrap();
        assert_eq!(eqf.len(), 1);
        let ne = filter_cmp(&l, "status", CmpOp::Ne, &Cell::Int(200)).unwrap();
        assert_eq!(ne.len(), 2);
        let gt = filter_cmp(&l, "status", CmpOp::Gt, &Cell::Int(250)).unwrap();
        assert_eq!(gt.len(), 1);
        let none = filter_cmp(&l, "status", CmpOp::Eq, &Cell::Null).unwrap();
        assert_eq!(none.len(), 1);
        let s = filter_cmp(&l, "url", CmpOp::Ge, &Cell::Str("b")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            filter_cmp(&l, "nope", CmpOp::Ne, &Cell::Int(1))
                .unwrap()
                .len(),
            3
        );
        assert!(parse_cmp("=~").is_err());
        assert_eq!(parse_cmp(">=").unwrap(), CmpOp::Ge);
    }
}
