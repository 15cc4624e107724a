//! Batch adapters that run without an interpreter: select, rename, field comparison.
//!
//! Each takes a batch and returns a new one; they compose like iterator adapters over a
//! reader (`reader.map(|b| b.and_then(|b| select(&b, &["url"])))`).

use std::collections::HashMap;

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
/// Each record keeps its own values and key order, and a field it lacks stays absent, so
/// two fields may take one name as long as no record has both (old and new names of a
/// field renamed over time, each in its own records). `first_row` is the position of
/// the list's first record in its stream, for the error.
///
/// # Errors
/// [`StreamError::Invalid`] naming the record (counted from `first_row`) and its two
/// fields when one record would have two fields of the same name. Which records a batch
/// holds never matters: a field of the list that no record has clashes with nothing.
///
/// # Memory
/// Copies the list (as [`select`]); the check reads only which keys each record has,
/// and only when two fields of the list would share a name.
pub fn rename(list: &RecordList, mapping: &[(&str, &str)], first_row: u64) -> Result<RecordList> {
    let names: Vec<&str> = (0..list.num_fields())
        .map(|j| {
            let n = list.field_name(j);
            mapping
                .iter()
                .find(|(old, _)| *old == n)
                .map_or(n, |(_, new)| *new)
        })
        .collect();
    // For each field whose new name another field also gets: the first such field.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    let shared: Vec<Option<usize>> = names
        .iter()
        .enumerate()
        .map(|(j, n)| {
            let first = *first_of.entry(n).or_insert(j);
            (first != j).then_some(first)
        })
        .collect();
    if shared.iter().any(Option::is_some) {
        check_no_record_has_both(list, &names, &shared, first_row)?;
    }
    rebuild(list, |j| names.get(j).copied(), None)
}

/// The first record holding two fields that `names` gives one name, as an error.
fn check_no_record_has_both(
    list: &RecordList,
    names: &[&str],
    shared: &[Option<usize>],
    first_row: u64,
) -> Result<()> {
    // Per group of fields sharing a name (keyed by its first field): the field of the
    // group the record being read has, stamped with that record (+1, 0 is none).
    let mut held: Vec<(usize, usize)> = vec![(0, 0); names.len()];
    for r in 0..list.len() {
        let mut clash = None;
        list.visit_keys(r, |j| {
            let group = shared[j].unwrap_or(j);
            match held[group] {
                (stamp, other) if stamp == r + 1 => {
                    clash.get_or_insert((other, j));
                }
                _ => held[group] = (r + 1, j),
            }
        });
        if let Some((a, b)) = clash {
            return Err(StreamError::Invalid(format!(
                "rename: record {} (counted from 0) has both {:?} and {:?}: two fields \
                 would be named {:?}",
                first_row + r as u64,
                list.field_name(a),
                list.field_name(b),
                names[a]
            )));
        }
    }
    Ok(())
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
        let r = rename(&list(), &[("url", "link")], 0).unwrap();
        assert_eq!(r.field_index("link"), Some(0));
        assert_eq!(r.field_index("url"), None);
        let e = rename(&list(), &[("url", "status")], 40).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rename: record 40 (counted from 0) has both \"url\" and \"status\": two fields \
             would be named \"status\""
        );
    }

    #[test]
    fn rename_merges_fields_no_record_has_together() {
        // An old and a new name for one field, in different records of one batch.
        let mut l = RecordList::new();
        l.push_record(&[("x", Cell::Int(0)), ("a", Cell::Int(1))])
            .unwrap();
        l.push_record(&[("b", Cell::Int(2))]).unwrap();
        l.push_record(&[("x", Cell::Null)]).unwrap();
        let r = rename(&l, &[("a", "b")], 0).unwrap();
        let rows: Vec<Vec<(&str, Option<Cell<'_>>)>> = (0..r.len())
            .map(|row| {
                let mut rec = Vec::new();
                r.visit_row(row, |j, v| rec.push((r.field_name(j), v.to_cell())));
                rec
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                vec![("x", Some(Cell::Int(0))), ("b", Some(Cell::Int(1)))],
                vec![("b", Some(Cell::Int(2)))],
                vec![("x", Some(Cell::Null))],
            ]
        );
        // A field of the list that no record has any more clashes with nothing.
        let mut gone = l.clone();
        gone.remove(0).unwrap();
        assert_eq!(rename(&gone, &[("a", "b")], 0).unwrap().len(), 2);
        // Both in one record: named by its place in the stream.
        l.push_record(&[("b", Cell::Int(3)), ("a", Cell::Int(4))])
            .unwrap();
        let e = rename(&l, &[("a", "b")], 10).unwrap_err().to_string();
        assert!(
            e.starts_with("rename: record 13 (counted from 0) has both \"b\" and \"a\""),
            "{e}"
        );
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
