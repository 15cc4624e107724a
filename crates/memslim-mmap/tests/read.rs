//! The one read interface (`ReadRecords`, `ReadField`) gives the same answers for the
//! same records held in memory (`RecordList`, `ColumnView`) and in a record file
//! (`RecordFile`, `FileField`), committed in batches or pending, against the records
//! themselves as the model.

use std::fs;
use std::path::PathBuf;

use memslim_mmap::{FileField, Mode, RecordFile};
use memslim_records::variant::Value;
use memslim_records::{
    Cell, CellRef, CmpOp, ReadField, ReadRecords, RecordList, Sum, collect_records, where_positions,
};
use proptest::prelude::*;

/// A value as the model holds it.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl V {
    fn cell_ref(&self) -> CellRef<'_> {
        match self {
            V::Null => CellRef::Null,
            V::Bool(b) => CellRef::Bool(*b),
            V::Int(i) => CellRef::Int(*i),
            V::Float(x) => CellRef::Float(*x),
            V::Str(s) => CellRef::Str(s),
        }
    }

    fn cell(&self) -> Cell<'_> {
        match self {
            V::Null => Cell::Null,
            V::Bool(b) => Cell::Bool(*b),
            V::Int(i) => Cell::Int(*i),
            V::Float(x) => Cell::Float(*x),
            V::Str(s) => Cell::Str(s),
        }
    }
}

/// What a read gives, as text the two storages must agree on.
fn shown(c: CellRef<'_>) -> String {
    match c {
        CellRef::DictStr(_, s) => format!("{:?}", CellRef::Str(s)),
        CellRef::Encoded(b) => format!("{:?}", memslim_records::variant::decode(b).unwrap()),
        c => format!("{c:?}"),
    }
}

const KEYS: [&str; 3] = ["a", "b", "c"];

/// Per key a family of values, so that its column has one layout in memory: ints,
/// floats, strings or bools, each possibly null or absent.
fn value(family: u8) -> BoxedStrategy<Option<V>> {
    let v: BoxedStrategy<V> = match family {
        0 => (-5i64..5).prop_map(V::Int).boxed(),
        1 => prop_oneof![Just(-0.0), Just(f64::NAN), -4.0f64..4.0]
            .prop_map(V::Float)
            .boxed(),
        2 => prop::sample::select(vec!["x", "y", "zz", ""])
            .prop_map(|s| V::Str(s.to_owned()))
            .boxed(),
        _ => any::<bool>().prop_map(V::Bool).boxed(),
    };
    prop_oneof![6 => v.prop_map(Some), 1 => Just(Some(V::Null)), 1 => Just(None)].boxed()
}

fn records() -> impl Strategy<Value = Vec<Vec<(usize, V)>>> {
    prop::collection::vec(0u8..4, 3).prop_flat_map(|families| {
        let rec = families
            .iter()
            .map(|&f| value(f))
            .collect::<Vec<_>>()
            .prop_map(|vals| {
                vals.into_iter()
                    .enumerate()
                    .filter_map(|(j, v)| v.map(|v| (j, v)))
                    .collect::<Vec<_>>()
            });
        prop::collection::vec(rec, 0..40)
    })
}

fn tmp(case: usize) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memslim-read-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d.join(format!("f{case}.msl"))
}

fn model_sum(col: &[Option<V>]) -> Option<(i128, f64, bool)> {
    let (mut i, mut x, mut floats) = (0i128, 0.0, false);
    for v in col.iter().flatten() {
        match v {
            V::Null => {}
            V::Bool(b) => i += i128::from(*b),
            V::Int(n) => i += i128::from(*n),
            V::Float(f) => {
                x += f;
                floats = true;
            }
            V::Str(_) => return None,
        }
    }
    Some((i, x, floats))
}

fn same_sum(got: Sum, want: (i128, f64, bool)) -> bool {
    match got {
        Sum::Int(i) => !want.2 && i == want.0,
        Sum::Float(f) => {
            let w = want.1 + want.0 as f64;
            (f.is_nan() && w.is_nan()) || f == w || (f - w).abs() <= 1e-9 * w.abs().max(1.0)
        }
    }
}

fn check_field<F: ReadField>(field: &mut F, col: &[Option<V>]) -> Result<(), TestCaseError>
where
    F::Error: std::fmt::Debug,
{
    prop_assert_eq!(field.value_count(), col.len());
    let mut seen = Vec::new();
    field
        .visit_values(0..usize::MAX, &mut |i, v| {
            seen.push((i, shown(v)));
            true
        })
        .unwrap();
    let want: Vec<(usize, String)> = col
        .iter()
        .enumerate()
        .map(|(i, v)| (i, shown(v.as_ref().map_or(CellRef::Absent, V::cell_ref))))
        .collect();
    prop_assert_eq!(&seen, &want);
    for (i, w) in want.iter().enumerate() {
        prop_assert_eq!(&field.read_value(i, shown).unwrap(), &w.1);
    }
    prop_assert!(field.read_value(col.len(), shown).is_err());
    let nulls = col
        .iter()
        .filter(|v| matches!(v, None | Some(V::Null)))
        .count();
    prop_assert_eq!(field.null_count().unwrap(), nulls);
    match (field.sum(), model_sum(col)) {
        (Ok(s), Some(w)) => prop_assert!(same_sum(s, w), "sum {:?} against {:?}", s, w),
        (Err(_), None) => {}
        (got, want) => prop_assert!(false, "sum {:?} against {:?}", got, want),
    }
    let present: Vec<&V> = col.iter().flatten().filter(|v| **v != V::Null).collect();
    match (field.mean(), model_sum(col)) {
        (Ok(None), Some(_)) => prop_assert!(present.is_empty()),
        (Ok(Some(m)), Some((i, x, floats))) => {
            let n = present.len() as f64;
            let w = if floats {
                (x + i as f64) / n
            } else {
                i as f64 / n
            };
            prop_assert!(
                (m.is_nan() && w.is_nan()) || m == w || (m - w).abs() <= 1e-9 * w.abs().max(1.0),
                "mean {} against {}",
                m,
                w
            );
        }
        (Err(_), None) => {}
        (got, want) => prop_assert!(false, "mean {:?} against {:?}", got, want),
    }
    let mm = field.min_max().unwrap();
    prop_assert_eq!(mm.is_none(), present.is_empty());
    if let Some((lo, hi)) = mm {
        let lo = V::from_value(lo);
        let hi = V::from_value(hi);
        prop_assert!(present.contains(&&lo) || matches!(lo, V::Float(f) if f.is_nan()));
        prop_assert!(present.contains(&&hi) || matches!(hi, V::Float(f) if f.is_nan()));
    }
    // Values present, and strings that may or may not be (a file passes over the
    // strings of other bytes unread): the empty string beside nulls, one never stored.
    let texts = [V::Str(String::new()), V::Str("nowhere".into())];
    let probes = present.iter().take(2).copied().chain(&texts);
    let n = col.len();
    for (probe, rows) in
        probes.flat_map(|p| [(p, 0..usize::MAX), (p, n.min(1)..n.saturating_sub(1))])
    {
        let mut hits = Vec::new();
        field
            .find_equal(&probe.cell(), rows.clone(), &mut |i, decided| {
                hits.push((i, decided));
                true
            })
            .unwrap();
        let want: Vec<(usize, bool)> = (0..n)
            .filter(|i| rows.contains(i))
            .filter(|&i| match (&col[i], probe) {
                (Some(V::Float(a)), V::Float(b)) => a == b,
                (Some(a), b) => a == b,
                (None, _) => false,
            })
            .map(|i| (i, true))
            .collect();
        // Stopped at the first hit, the search gives that one alone.
        let mut first = Vec::new();
        field
            .find_equal(&probe.cell(), rows.clone(), &mut |i, _| {
                first.push(i);
                false
            })
            .unwrap();
        prop_assert_eq!(
            first,
            want.first().map(|w| w.0).into_iter().collect::<Vec<_>>()
        );
        let (count, undecided) = field.count_equal(&probe.cell(), rows).unwrap();
        prop_assert_eq!((count, undecided), (want.len(), Vec::new()));
        prop_assert_eq!(hits, want);
    }
    Ok(())
}

impl V {
    fn from_value(v: Value) -> V {
        match v {
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Float(f) => V::Float(f),
            Value::Str(s) => V::Str(s),
            _ => V::Null,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn memory_and_file_read_alike(recs in records(), flush_at in 0usize..40, case in 0usize..1_000_000) {
        let mut list = RecordList::with_chunk_rows(7);
        let path = tmp(case);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(memslim_mmap::index_path(&path));
        let mut file = RecordFile::open(&path, Mode::Append).unwrap();
        for (n, r) in recs.iter().enumerate() {
            let cells: Vec<(&str, Cell<'_>)> = r.iter().map(|(j, v)| (KEYS[*j], v.cell())).collect();
            list.push_record(&cells).unwrap();
            file.push_record(&cells).unwrap();
            // Up to two committed batches, then pending records.
            if n + 1 == flush_at || n + 1 == flush_at / 2 {
                file.flush().unwrap();
            }
        }
        for key in KEYS {
            list.add_field(key).unwrap();
        }
        prop_assert_eq!(list.record_count(), recs.len());
        prop_assert_eq!(file.record_count(), recs.len());
        for (row, r) in recs.iter().enumerate() {
            let want: Vec<(String, String)> = r.iter().map(|(j, v)| (KEYS[*j].to_owned(), shown(v.cell_ref()))).collect();
            for storage in [&mut list as &mut dyn Visit, &mut file] {
                prop_assert_eq!(storage.pairs(row), want.clone());
            }
            prop_assert_eq!(list.record_len(row).unwrap(), r.len());
            prop_assert_eq!(file.record_len(row).unwrap(), r.len());
            for key in KEYS {
                let m = list.read_field(row, key, shown).unwrap();
                prop_assert_eq!(&file.read_field(row, key, shown).unwrap(), &m);
            }
        }
        prop_assert!(list.visit_record(recs.len(), &mut |_, _| ()).is_err());
        prop_assert!(file.visit_record(recs.len(), &mut |_, _| ()).is_err());
        for (j, key) in KEYS.iter().enumerate() {
            let col: Vec<Option<V>> = recs.iter().map(|r| r.iter().find(|(k, _)| *k == j).map(|(_, v)| v.clone())).collect();
            let view = list.column(list.field_index(key).unwrap());
            check_field(&mut &view, &col)?;
            check_field(&mut FileField::new(&mut file, key, usize::MAX), &col)?;
            // `rows.where`: the same selection from both storages, and the list's own.
            let texts = [V::Str(String::new()), V::Str("nowhere".into()), V::Int(0)];
            let present = col.iter().flatten().take(2);
            for probe in present.chain(&texts).map(|v| Some(v.cell())).chain([None]) {
                for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
                    let mem = where_positions(&mut &view, op, probe.as_ref()).unwrap();
                    let on_disk = where_positions(&mut FileField::new(&mut file, key, usize::MAX), op, probe.as_ref()).unwrap();
                    prop_assert_eq!(&on_disk, &mem, "{:?} {:?}", op, probe);
                    if let Some(p) = &probe {
                        prop_assert_eq!(&mem, &list.where_rows(key, op, p));
                    }
                }
            }
        }
        // Records copied out of either storage, in any order, are the records.
        let picks: Vec<usize> = (0..recs.len()).rev().chain((0..recs.len()).step_by(3)).collect();
        for copied in [
            collect_records(&mut list, &picks, 5).unwrap(),
            collect_records(&mut file, &picks, 5).unwrap(),
        ] {
            let mut copied = copied;
            prop_assert_eq!(copied.record_count(), picks.len());
            for (k, &row) in picks.iter().enumerate() {
                let want: Vec<(String, String)> = recs[row].iter().map(|(j, v)| (KEYS[*j].to_owned(), shown(v.cell_ref()))).collect();
                prop_assert_eq!(copied.pairs(k), want);
            }
        }
        prop_assert!(collect_records(&mut file, &[recs.len()], 5).is_err());
        // A held batch reads its committed records as the file does, after the file
        // closed too; pending records have no batch.
        let held: Vec<_> = (0..recs.len()).map(|row| file.hold(row).unwrap()).collect();
        prop_assert_eq!(held.iter().filter(|h| h.is_some()).count(), file.committed_len());
        file.close().unwrap();
        for (row, h) in held.iter().enumerate() {
            let Some(h) = h else { continue };
            let r = &recs[row];
            let want: Vec<(String, String)> = r.iter().map(|(j, v)| (KEYS[*j].to_owned(), shown(v.cell_ref()))).collect();
            prop_assert!(h.contains(row));
            prop_assert_eq!((&**h).pairs(row), want);
            for key in KEYS {
                let m = list.read_field(row, key, shown).unwrap();
                prop_assert_eq!(h.with_field(row, key, shown).unwrap(), m);
            }
            prop_assert!(h.with_field(h.rows().end, KEYS[0], shown).is_err());
        }
        drop(file);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(memslim_mmap::index_path(&path));
    }
}

/// A record's `(key, value)` pairs through [`ReadRecords::visit_record`].
trait Visit {
    fn pairs(&mut self, row: usize) -> Vec<(String, String)>;
}

impl<T: ReadRecords> Visit for T
where
    T::Error: std::fmt::Debug,
{
    fn pairs(&mut self, row: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.visit_record(row, &mut |k, v| out.push((k.to_owned(), shown(v))))
            .unwrap();
        out
    }
}

/// Everything a copy holds, as text: its fields in order, then each record's pairs in
/// its key order.
fn dump(list: &mut RecordList) -> (Vec<String>, Vec<Vec<(String, String)>>) {
    let fields = (0..list.num_fields())
        .map(|j| list.field_name(j).to_owned())
        .collect();
    let recs = (0..list.record_count()).map(|r| list.pairs(r)).collect();
    (fields, recs)
}

/// The rows of `rows`, ascending, each kept with odds 1 in `keep` (a xorshift from
/// `seed`).
fn picked(rows: std::ops::Range<usize>, keep: u32, seed: u64) -> Vec<usize> {
    let mut x = seed | 1;
    rows.filter(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x.is_multiple_of(u64::from(keep))
    })
    .collect()
}

/// `fast`, which the file's own copy of `picks` went into if it `took` them, against
/// `slow`, from the same start: both end with the records the record-by-record copy
/// gives (the model's `recs` at `picks`, keys named by `names`), laid out alike.
fn copied_alike(
    file: &mut RecordFile,
    picks: &[usize],
    took: bool,
    mut fast: RecordList,
    mut slow: RecordList,
    recs: &[Vec<(usize, V)>],
    names: &[&str],
) -> Result<(), TestCaseError> {
    if !took {
        memslim_records::append_records(&mut fast, file, picks).unwrap();
    }
    memslim_records::append_records_staged(&mut slow, file, picks).unwrap();
    prop_assert_eq!(dump(&mut fast), dump(&mut slow));
    // The same records laid out alike (the capacity spare after several pushes may
    // differ from that after one).
    fast.optimize();
    slow.optimize();
    prop_assert_eq!(fast.nbytes(), slow.nbytes());
    let want: Vec<Vec<(String, String)>> = picks
        .iter()
        .map(|&r| {
            recs[r]
                .iter()
                .map(|(j, v)| (names[*j].to_owned(), shown(v.cell_ref())))
                .collect()
        })
        .collect();
    let got = dump(&mut fast).1;
    prop_assert_eq!(&got[got.len() - picks.len()..], &want[..]);
    Ok(())
}

/// Copies of `picks` into lists with a schema `declared` that refuses some: the file's
/// copy and the staged one fail alike, the list left empty.
fn refused_alike(
    file: &mut RecordFile,
    picks: &[usize],
    declared: impl Fn() -> RecordList,
) -> Result<(), TestCaseError> {
    let (mut fast, mut slow) = (declared(), declared());
    let a = memslim_records::append_records(&mut fast, file, picks);
    let b = memslim_records::append_records_staged(&mut slow, file, picks);
    prop_assert_eq!(a.is_ok(), b.is_ok());
    if let (Err(a), Err(b)) = (&a, &b) {
        prop_assert_eq!(a.to_string(), b.to_string());
        prop_assert_eq!(fast.record_count(), 0);
    }
    Ok(())
}

/// Records whose keys come in any order and whose columns mix ints with floats and
/// hold text that is not ASCII: what a file keeps beside its Arrow columns.
fn mixed_records() -> impl Strategy<Value = Vec<Vec<(usize, V)>>> {
    let v = prop_oneof![
        (-3i64..300).prop_map(V::Int),
        prop_oneof![Just(-0.0), Just(f64::NAN), Just(2.0), -4.0f64..4.0].prop_map(V::Float),
        prop::sample::select(vec!["x", "", "naïve", "日本", "zz"])
            .prop_map(|s| V::Str(s.to_owned())),
        any::<bool>().prop_map(V::Bool),
        Just(V::Null),
    ];
    // Key `k`'s values: of one family mostly (so that its column keeps one layout), now
    // and then an int among floats.
    let rec = (
        prop::collection::vec(prop::option::weighted(0.8, v), KEYS4.len()),
        Just((0..KEYS4.len()).collect::<Vec<_>>()).prop_shuffle(),
        0u8..8,
    )
        .prop_map(|(vals, keys, shuffled)| {
            let keys = if shuffled == 0 {
                keys
            } else {
                (0..KEYS4.len()).collect()
            };
            keys.into_iter()
                .filter_map(|j| vals[j].clone().map(|v| (j, v)))
                .map(|(j, v)| match (j, v) {
                    (0, V::Float(x)) => (j, V::Float(x)),
                    (0, V::Int(i)) => (j, V::Int(i)),
                    (0, _) => (j, V::Float(1.5)),
                    (1, v @ (V::Str(_) | V::Null)) => (j, v),
                    (1, _) => (j, V::Str("s".into())),
                    (j, v) => (j, v),
                })
                .collect::<Vec<_>>()
        });
    prop::collection::vec(rec, 0..400)
}

const KEYS4: [&str; 4] = ["f", "s", "any", "more"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A file's own copy (`append_to`, values borrowed from its batches) appends what
    /// the record-by-record copy appends, to an empty list and to one whose fields are
    /// in another order, and refuses what a declared schema refuses, leaving it as it
    /// was.
    #[test]
    fn a_file_copies_batches_as_records_are_copied(
        recs in mixed_records(),
        flushes in prop::collection::vec(0usize..400, 0..3),
        keep in 1u32..5,
        seed in any::<u64>(),
        case in 0usize..1_000_000,
    ) {
        let path = tmp(case);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(memslim_mmap::index_path(&path));
        let mut file = RecordFile::open(&path, Mode::Append).unwrap();
        for (n, r) in recs.iter().enumerate() {
            let cells: Vec<(&str, Cell<'_>)> = r.iter().map(|(j, v)| (KEYS4[*j], v.cell())).collect();
            file.push_record(&cells).unwrap();
            if flushes.contains(&n) {
                file.flush().unwrap();
            }
        }
        let picks = picked(0..recs.len(), keep, seed);
        let starts: [fn() -> RecordList; 2] = [
            || RecordList::with_chunk_rows(50),
            || {
                let mut l = RecordList::with_chunk_rows(50);
                l.push_record(&[("more", Cell::Int(1)), ("s", Cell::Null), ("f", Cell::Int(7))]).unwrap();
                l
            },
        ];
        for start in starts {
            let (mut fast, slow) = (start(), start());
            let took = file.append_to(&mut fast, &picks).unwrap();
            // Up to 4 runs (of one batch, or of pending records), or runs of 64 records
            // on average, take the file's own path; a batch starts after each flush.
            let segment = |r: usize| flushes.iter().filter(|&&f| f < r).count();
            let mut segments: Vec<usize> = picks.iter().map(|&r| segment(r)).collect();
            segments.dedup();
            prop_assert_eq!(took, segments.len() <= 4 || segments.len() * 64 <= picks.len());
            copied_alike(&mut file, &picks, took, fast, slow, &recs, &KEYS4)?;
        }
        // A declared schema without `more`: refused alike, the list as it was.
        let declared = || {
            RecordList::with_schema(
                &[("f", memslim_records::DType::Float64), ("s", memslim_records::DType::Str), ("any", memslim_records::DType::Object)],
                50,
            )
            .unwrap()
        };
        refused_alike(&mut file, &picks, declared)?;
        drop(file);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(memslim_mmap::index_path(&path));
    }
}

/// Records too wide for one grid of a batch's copy (`append_to` pushes at most 256 KB of
/// values at a time: here 64 records), whose later records bring fields (and key orders)
/// the earlier ones lack, and lack some the earlier ones had: copied across grids as the
/// record-by-record copy copies them.
#[test]
fn a_file_copies_records_wider_than_a_grid_as_records_are_copied() {
    const WIDE: usize = 300;
    let names: Vec<String> = (0..WIDE).map(|k| format!("k{k:03}")).collect();
    let path = tmp(2_000_001);
    let _ = fs::remove_file(&path);
    let _ = fs::remove_file(memslim_mmap::index_path(&path));
    let mut file = RecordFile::open(&path, Mode::Append).unwrap();
    let words = ["a", "bb", "ccc"];
    for r in 0..200usize {
        // Record `r` has the fields from `r / 2` to `WIDE / 2 + r / 2`; every 7th lists
        // them backwards.
        let mut cells: Vec<(&str, Cell<'_>)> = (r / 2..WIDE / 2 + r / 2)
            .map(|k| {
                let v = match k % 3 {
                    0 => Cell::Int((r * k) as i64),
                    1 => Cell::Str(words[(r + k) % 3]),
                    _ if (r + k) % 5 == 0 => Cell::Null,
                    _ => Cell::Float(r as f64 + 0.5),
                };
                (names[k].as_str(), v)
            })
            .collect();
        if r % 7 == 0 {
            cells.reverse();
        }
        file.push_record(&cells).unwrap();
        if r == 150 {
            file.flush().unwrap();
        }
    }
    file.flush().unwrap();
    let picks: Vec<usize> = (0..200).filter(|r| r % 3 != 1).collect();
    let (mut fast, mut slow) = (
        RecordList::with_chunk_rows(50),
        RecordList::with_chunk_rows(50),
    );
    assert!(
        file.append_to(&mut fast, &picks).unwrap(),
        "the file's own copy"
    );
    memslim_records::append_records_staged(&mut slow, &mut file, &picks).unwrap();
    assert_eq!(dump(&mut fast), dump(&mut slow));
    assert_eq!(fast.record_count(), picks.len());
    drop(file);
    let _ = fs::remove_file(&path);
    let _ = fs::remove_file(memslim_mmap::index_path(&path));
}

const TABLE: [&str; 5] = ["i", "j", "s", "t", "m"];

/// Records whose keys come in one order, as a table's do (so a batch is copied a typed
/// column at a time): ints with nulls and absent keys, ints that are never null, short
/// strings (some not ASCII, some past 24 bytes) with nulls and absent keys, a string
/// with enough distinct values to widen a dictionary's keys, and a column of floats
/// with ints among them or of bools.
fn table_records() -> impl Strategy<Value = Vec<Vec<(usize, V)>>> {
    let some = |v: BoxedStrategy<V>| {
        prop_oneof![12 => v.prop_map(Some), 1 => Just(Some(V::Null)), 1 => Just(None)].boxed()
    };
    let int = prop_oneof![-3i64..300, Just(1 << 40), Just(i64::MIN)].prop_map(V::Int);
    let word = prop::sample::select(vec![
        "UA",
        "JFK",
        "",
        "naïve",
        "日本",
        "N14228",
        "2013-01-01 05:00:00",
        "a string longer than twenty-four bytes",
    ])
    .prop_map(|s| V::Str(s.to_owned()));
    let many = (0u32..600).prop_map(|k| V::Str(format!("t{k}")));
    let mixed = prop_oneof![
        (-4.0f64..4.0).prop_map(V::Float),
        (-3i64..3).prop_map(V::Int),
        any::<bool>().prop_map(V::Bool),
    ];
    let rec = (
        some(int.boxed()),
        prop_oneof![20 => (0i64..1000).prop_map(|i| Some(V::Int(i))), 1 => Just(None)],
        some(word.boxed()),
        some(many.boxed()),
        some(mixed.boxed()),
    )
        .prop_map(|(i, j, s, t, m)| {
            [i, j, s, t, m]
                .into_iter()
                .enumerate()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Vec<_>>()
        });
    prop::collection::vec(rec, 0..700)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A file's own copy of records in one key order (typed columns, not a grid)
    /// appends what the record-by-record copy appends: a run that starts inside a
    /// batch and ends inside a later one, or rows picked here and there, with pending
    /// records after; to an empty list, one with the same fields, one with them in
    /// another order, and one with a declared schema that refuses a value (left as it
    /// was).
    #[test]
    fn a_file_copies_column_runs_as_records_are_copied(
        recs in table_records(),
        flushes in prop::collection::vec(0usize..700, 0..4),
        pending in 0usize..30,
        from in 0usize..700,
        keep in 1u32..4,
        seed in any::<u64>(),
        case in 0usize..1_000_000,
    ) {
        let path = tmp(3_000_000 + case);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(memslim_mmap::index_path(&path));
        let mut file = RecordFile::open(&path, Mode::Append).unwrap();
        for (n, r) in recs.iter().enumerate() {
            let cells: Vec<(&str, Cell<'_>)> = r.iter().map(|(j, v)| (TABLE[*j], v.cell())).collect();
            file.push_record(&cells).unwrap();
            if flushes.contains(&n) || n + pending == recs.len() {
                file.flush().unwrap();
            }
        }
        let picks = picked(from.min(recs.len())..recs.len(), keep, seed);
        let starts: [fn() -> RecordList; 3] = [
            || RecordList::with_chunk_rows(100),
            || {
                let mut l = RecordList::with_chunk_rows(100);
                let rec = [("i", Cell::Int(1)), ("j", Cell::Int(2)), ("s", Cell::Str("UA")), ("t", Cell::Null), ("m", Cell::Float(0.5))];
                l.push_record(&rec).unwrap();
                l
            },
            || {
                let mut l = RecordList::with_chunk_rows(100);
                l.push_record(&[("t", Cell::Str("x")), ("i", Cell::Null)]).unwrap();
                l
            },
        ];
        for start in starts {
            let (mut fast, slow) = (start(), start());
            let took = file.append_to(&mut fast, &picks).unwrap();
            copied_alike(&mut file, &picks, took, fast, slow, &recs, &TABLE)?;
        }
        // A declared schema that takes no strings in `s`: refused alike, the list as it was.
        let declared = || {
            RecordList::with_schema(
                &[
                    ("i", memslim_records::DType::Int64),
                    ("j", memslim_records::DType::Int64),
                    ("s", memslim_records::DType::Int64),
                    ("t", memslim_records::DType::Str),
                    ("m", memslim_records::DType::Object),
                ],
                100,
            )
            .unwrap()
        };
        refused_alike(&mut file, &picks, declared)?;
        drop(file);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(memslim_mmap::index_path(&path));
    }
}

/// More records of one batch than one push of typed columns takes (4,096): ints with
/// nulls and absent keys, strings with more distinct values than a run caches, and in
/// one block a record whose keys come in another order (that block goes by grids):
/// copied, all of them or every other one, as the record-by-record copy copies them.
#[test]
fn a_file_copies_blocks_of_many_records_as_records_are_copied() {
    let path = tmp(4_000_001);
    let _ = fs::remove_file(&path);
    let _ = fs::remove_file(memslim_mmap::index_path(&path));
    let mut file = RecordFile::open(&path, Mode::Append).unwrap();
    let texts: Vec<String> = (0..3_000).map(|k| format!("2013-01-01 {k:05}")).collect();
    let mut recs: Vec<Vec<(usize, V)>> = Vec::new();
    for r in 0..11_000usize {
        let mut rec = vec![(
            0,
            if r % 11 == 0 {
                V::Null
            } else {
                V::Int(r as i64 - 5)
            },
        )];
        rec.push((1, V::Int((r % 300) as i64)));
        if r % 13 != 0 {
            let s = if r % 17 == 0 {
                V::Null
            } else {
                V::Str(["UA", "JFK", "naïve"][r % 3].into())
            };
            rec.push((2, s));
        }
        rec.push((3, V::Str(texts[(r * 7) % texts.len()].clone())));
        if r % 19 != 0 {
            rec.push((4, V::Float(r as f64 / 4.0)));
        }
        if r == 9_000 {
            rec.reverse();
        }
        recs.push(rec);
    }
    for r in &recs {
        let cells: Vec<(&str, Cell<'_>)> = r.iter().map(|(j, v)| (TABLE[*j], v.cell())).collect();
        file.push_record(&cells).unwrap();
    }
    file.flush().unwrap();
    for picks in [
        (0..recs.len()).collect::<Vec<_>>(),
        (0..recs.len()).filter(|r| r % 2 == 1).collect(),
    ] {
        let (mut fast, slow) = (
            RecordList::with_chunk_rows(2_000),
            RecordList::with_chunk_rows(2_000),
        );
        assert!(
            file.append_to(&mut fast, &picks).unwrap(),
            "the file's own copy"
        );
        copied_alike(&mut file, &picks, true, fast, slow, &recs, &TABLE).unwrap();
    }
    drop(file);
    let _ = fs::remove_file(&path);
    let _ = fs::remove_file(memslim_mmap::index_path(&path));
}
