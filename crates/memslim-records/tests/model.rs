//! Property tests: random operation sequences on a `RecordList` agree with a plain
//! `Vec` of ordered `(key, value)` records, across chunk boundaries, copies, slices,
//! rollbacks, serialization and Arrow export/import.

use memslim_records::variant::{self, Value};
use memslim_records::{
    Buffer, Cell, CellRef, DType, Grid, RecordList, RecordsError, append_records,
};
use proptest::prelude::*;

type Rec = Vec<(String, Value)>;

fn to_cell<'a>(v: &'a Value, buf: &'a mut Vec<u8>) -> Cell<'a> {
    match v {
        Value::None => Cell::Null,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Int(i) => Cell::Int(*i),
        Value::Float(f) => Cell::Float(*f),
        Value::Str(s) => Cell::Str(s),
        Value::Bytes(b) => Cell::Bytes(b),
        other => {
            variant::encode(other, buf);
            Cell::Encoded(buf)
        }
    }
}

fn from_cell(c: CellRef<'_>) -> Value {
    match c {
        CellRef::Absent => panic!("visit_row never yields absent keys"),
        CellRef::Null => Value::None,
        CellRef::Bool(b) => Value::Bool(b),
        CellRef::Int(i) => Value::Int(i),
        CellRef::Float(f) => Value::Float(f),
        CellRef::Str(s) | CellRef::DictStr(_, s) => Value::Str(s.to_owned()),
        CellRef::Bytes(b) => Value::Bytes(b.to_vec()),
        CellRef::Encoded(b) => variant::decode(b).expect("stored encodings decode"),
    }
}

fn with_cells<R>(rec: &Rec, f: impl FnOnce(&[(&str, Cell<'_>)]) -> R) -> R {
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); rec.len()];
    let cells: Vec<(&str, Cell<'_>)> = rec
        .iter()
        .zip(bufs.iter_mut())
        .map(|((k, v), b)| (k.as_str(), to_cell(v, b)))
        .collect();
    f(&cells)
}

/// Record `r` as the model holds it; also checks that `row_keys` (which reads no value)
/// names the fields `visit_row` gives, in its order.
fn read_row(l: &RecordList, r: usize) -> Rec {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    l.visit_row(r, |j, c| {
        fields.push(j);
        out.push((l.field_name(j).to_owned(), from_cell(c)))
    });
    assert_eq!(l.row_keys(r), fields, "keys of row {r}");
    let every: Vec<usize> = (0..l.num_fields()).collect();
    assert_eq!(
        l.has_every_field(r),
        fields == every,
        "every field, row {r}"
    );
    out
}

/// `visit_block` gives, for rows in any order (runs within and across chunks, repeats),
/// exactly the values `get` gives.
fn assert_block_matches_get(l: &RecordList) {
    let n = l.len();
    let orders: [Vec<usize>; 3] = [
        (0..n).collect(),
        (0..n).rev().collect(),
        (0..n).flat_map(|r| [r, r, n - 1 - r]).collect(),
    ];
    // One row at a time: a block of one row takes its own path.
    for r in 0..n {
        let mut got = vec![None; l.num_fields()];
        l.visit_block(&[r], |j, k, c| {
            assert_eq!(k, 0);
            got[j] = Some(format!("{c:?}"));
        });
        for (j, g) in got.iter().enumerate() {
            assert_eq!(
                g,
                &Some(format!("{:?}", l.get(r, j))),
                "row {r} alone, field {j}"
            );
        }
    }
    for rows in orders {
        let mut got = vec![vec![None; rows.len()]; l.num_fields()];
        l.visit_block(&rows, |j, k, c| got[j][k] = Some(format!("{c:?}")));
        for (k, &r) in rows.iter().enumerate() {
            for (j, col) in got.iter().enumerate() {
                assert_eq!(
                    col[k],
                    Some(format!("{:?}", l.get(r, j))),
                    "row {r} field {j}"
                );
            }
        }
    }
}

fn assert_same(l: &RecordList, m: &[Rec]) {
    assert_block_matches_get(l);
    assert_eq!(l.len(), m.len());
    for (r, rec) in m.iter().enumerate() {
        assert_eq!(&read_row(l, r), rec, "row {r}");
        assert_eq!(l.row_len(r), rec.len());
    }
    // The fields no record has: those no model record holds a key of (the list's
    // fields are every key ever stored, deleted or not); none for an empty list.
    let unused: Vec<usize> = (0..l.num_fields())
        .filter(|&j| {
            m.iter()
                .all(|rec| rec.iter().all(|(k, _)| k != l.field_name(j)))
        })
        .collect();
    let want = if m.is_empty() {
        Vec::new()
    } else {
        unused.clone()
    };
    assert_eq!(
        l.fields_without_values(0..l.len()),
        want,
        "fields without values"
    );
    // A run of rows, read a byte of bitmap at a time, agrees with row by row.
    for (a, b) in [
        (0, l.len()),
        (1, l.len().saturating_sub(1)),
        (l.len() / 3, l.len()),
    ] {
        assert_eq!(
            l.fields_without_values_in(a, b),
            l.fields_without_values(a..b),
            "rows {a}..{b}"
        );
    }
    // Without them (or asked to drop every field: only those go), the same records.
    let every: Vec<usize> = (0..l.num_fields()).collect();
    for (skip, goes) in [(&want, want.len()), (&every, unused.len())] {
        let slim = l.without_fields(skip);
        assert_eq!(slim.num_fields(), l.num_fields() - goes);
        assert_block_matches_get(&slim);
        let back = RecordList::from_bytes(&slim.to_bytes()).unwrap();
        for (r, rec) in m.iter().enumerate() {
            assert_eq!(&read_row(&slim, r), rec, "row {r} without fields {skip:?}");
            assert_eq!(&read_row(&back, r), rec, "row {r} without fields, reloaded");
        }
    }
    // Over some of the rows (the first, repeated; every other one backwards).
    if let Some(first) = m.first() {
        let want: Vec<usize> = (0..l.num_fields())
            .filter(|&j| first.iter().all(|(k, _)| k != l.field_name(j)))
            .collect();
        assert_eq!(l.fields_without_values([0, 0].into_iter()), want);
        let some: Vec<usize> = (0..m.len()).rev().step_by(2).collect();
        let want: Vec<usize> = (0..l.num_fields())
            .filter(|&j| {
                some.iter()
                    .all(|&r| m[r].iter().all(|(k, _)| k != l.field_name(j)))
            })
            .collect();
        assert_eq!(l.fields_without_values(some.iter().copied()), want);
    }
}

fn value_for(key: &str) -> BoxedStrategy<Value> {
    let words = prop::sample::select(vec!["DE", "FR", "", "naïve", "🦀\0x", "US"]);
    let scalar = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        (-300i64..300).prop_map(Value::Int),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        words.clone().prop_map(|s| Value::Str(s.to_owned())),
        "[a-z]{0,12}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
    ];
    match key {
        "id" => prop_oneof![9 => any::<i32>().prop_map(|i| Value::Int(i.into())), 1 => Just(Value::None)].boxed(),
        "price" => prop_oneof![
            4 => (-1e6f64..1e6).prop_map(Value::Float),
            1 => (-1000i64..1000).prop_map(Value::Int),
            1 => Just(Value::None)
        ]
        .boxed(),
        "country" => prop_oneof![8 => words.prop_map(|s| Value::Str(s.to_owned())), 1 => Just(Value::None)].boxed(),
        "paid" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => prop_oneof![
            6 => scalar.clone(),
            1 => prop::collection::vec(scalar.clone(), 0..3).prop_map(Value::List),
            1 => prop::collection::vec(scalar.clone(), 0..3).prop_map(Value::Tuple),
            1 => prop::collection::vec(("[a-c]", scalar), 0..3).prop_map(|kv| {
                let mut seen = std::collections::HashSet::new();
                Value::Dict(
                    kv.into_iter()
                        .filter(|(k, _)| seen.insert(k.clone()))
                        .map(|(k, v)| (Value::Str(k), v))
                        .collect(),
                )
            }),
            1 => Just(Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 0x40])),
        ]
        .boxed(),
    }
}

fn record() -> impl Strategy<Value = Rec> {
    let keys = vec!["id", "price", "country", "paid", "misc"];
    prop::sample::subsequence(keys, 0..=5)
        .prop_shuffle()
        .prop_flat_map(|ks| {
            let strategies: Vec<_> = ks
                .iter()
                .map(|k| {
                    let k = (*k).to_owned();
                    value_for(&k).prop_map(move |v| (k.clone(), v))
                })
                .collect();
            strategies
        })
}

#[derive(Clone, Debug)]
enum Op {
    Push(Rec),
    /// Push a record holding every field of the list, in the list's order (values from
    /// this record, `None` where it has none): `push_record`'s path without a plan.
    PushAllFields(Rec),
    /// Push by field index (`push_fields`), the record's keys first put in field order
    /// if `true`; `push_record` when `push_fields` declines.
    PushFields(Rec, bool),
    Insert(usize, Rec),
    Remove(usize),
    SetRecord(usize, Rec),
    SetField(usize, String, Value),
    /// `set_fields` with a record's fields, its first field given again last (a key
    /// given twice takes its last value, in the place of its first).
    SetFields(usize, Rec),
    RemoveField(usize, String),
    Truncate(usize),
    Reverse,
    Rotate(usize),
    /// Replace the list by one of records picked from it (any order, repeats allowed).
    Take(Vec<usize>),
    /// Push records, then roll them back; `true`: string dictionaries are rebuilt
    /// halfway (as a push that finds one due does).
    FailedExtend(Vec<Rec>, bool),
    /// Rewrite field `country` with new strings, `n` times, by the way given (0:
    /// `set_field`, 1: `set_record`, 2: `push_fields` then `remove`, 3: `push_record`
    /// then `truncate`), each value read back at once: enough times, the dictionary
    /// holds more strings no record holds than the limit and is rebuilt (never
    /// holding more than twice the records plus 4,096).
    Churn(usize, usize, u8),
    /// `compact_dictionaries`.
    Compact,
    CopyThenWrite(usize, Rec),
    Slice(usize, usize),
    Optimize,
    PushBatch(Vec<Rec>),
    PushGrid(Vec<Rec>),
    /// Replace the list by one loaded from its snapshot, reading the buffers in place
    /// (`true`: each in memory of its own, aligned, so later operations write to a list
    /// that shares memory it must copy first) or from one payload (`false`).
    Reload(bool),
    /// Append the records of another list (`extend_from`): `true` builds that list
    /// from these records; `false` appends this list's own records to a copy made by
    /// `extend_from` into an empty list (which then shares them), and the copy
    /// replaces the list once both are checked apart.
    ExtendFrom(Vec<Rec>, bool),
    /// Append records picked from the list itself through the block copier
    /// (`append_records`), in any order, repeats allowed.
    AppendRecords(Vec<usize>),
    /// `move_tail_into`: the last records written over rows picked below them (each
    /// once), then dropped from the end, as a shared store reuses rows none reads.
    MoveTail(Vec<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop::sample::select(vec!["id", "price", "country", "paid", "misc", "new"]);
    prop_oneof![
        6 => record().prop_map(Op::Push),
        4 => record().prop_map(Op::PushAllFields),
        4 => (record(), any::<bool>()).prop_map(|(r, sort)| Op::PushFields(r, sort)),
        2 => (any::<usize>(), record()).prop_map(|(i, r)| Op::Insert(i, r)),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => (any::<usize>(), record()).prop_map(|(i, r)| Op::SetRecord(i, r)),
        3 => (any::<usize>(), key.clone()).prop_flat_map(|(i, k)| value_for(k).prop_map(move |v| Op::SetField(i, k.to_owned(), v))),
        2 => (any::<usize>(), record()).prop_map(|(i, r)| Op::SetFields(i, r)),
        1 => (any::<usize>(), key).prop_map(|(i, k)| Op::RemoveField(i, k.to_owned())),
        1 => any::<usize>().prop_map(Op::Truncate),
        1 => Just(Op::Reverse),
        1 => any::<usize>().prop_map(Op::Rotate),
        1 => prop::collection::vec(any::<usize>(), 0..20).prop_map(Op::Take),
        1 => (prop::collection::vec(record(), 0..4), any::<bool>()).prop_map(|(r, c)| Op::FailedExtend(r, c)),
        1 => (any::<usize>(), prop_oneof![3 => 0usize..50, 1 => 4_000usize..9_000], 0u8..4).prop_map(|(i, n, how)| Op::Churn(i, n, how)),
        1 => Just(Op::Compact),
        1 => (any::<usize>(), record()).prop_map(|(i, r)| Op::CopyThenWrite(i, r)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Slice(a, b)),
        1 => Just(Op::Optimize),
        2 => prop::collection::vec(record(), 0..12).prop_map(Op::PushBatch),
        2 => prop::collection::vec(record(), 0..12).prop_map(Op::PushGrid),
        1 => any::<bool>().prop_map(Op::Reload),
        2 => (prop::collection::vec(record(), 0..12), any::<bool>()).prop_map(|(r, b)| Op::ExtendFrom(r, b)),
        2 => prop::collection::vec(any::<usize>(), 0..20).prop_map(Op::AppendRecords),
        2 => prop::collection::vec(any::<usize>(), 0..6).prop_map(Op::MoveTail),
    ]
}

fn set_in(rec: &mut Rec, key: &str, v: Value) {
    match rec.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = v,
        None => rec.push((key.to_owned(), v)),
    }
}

fn run(chunk_rows: usize, ops: Vec<Op>) {
    let mut l = RecordList::with_chunk_rows(chunk_rows);
    let mut m: Vec<Rec> = Vec::new();
    for op in ops {
        match op {
            Op::Push(r) => {
                with_cells(&r, |c| l.push_record(c)).unwrap();
                m.push(r);
            }
            Op::PushAllFields(r) => {
                let r: Rec = (0..l.num_fields())
                    .map(|j| {
                        let k = l.field_name(j).to_owned();
                        let v = r
                            .iter()
                            .find(|(x, _)| *x == k)
                            .map_or(Value::None, |(_, v)| v.clone());
                        (k, v)
                    })
                    .collect();
                with_cells(&r, |c| l.push_record(c)).unwrap();
                m.push(r);
            }
            Op::PushFields(mut r, sort) => {
                let field = |k: &str| l.field_index(k).unwrap_or(usize::MAX);
                if sort {
                    r.sort_by_key(|(k, _)| field(k));
                }
                let fields: Vec<usize> = r.iter().map(|(k, _)| field(k)).collect();
                let taken = with_cells(&r, |c| {
                    let by_field: Vec<(usize, Cell<'_>)> = fields
                        .iter()
                        .zip(c)
                        .map(|(&j, (_, cell))| (j, *cell))
                        .collect();
                    l.push_fields(&by_field)
                });
                if taken {
                    assert!(
                        fields.windows(2).all(|w| w[0] < w[1]),
                        "taken out of order: {fields:?}"
                    );
                    assert!(fields.iter().all(|&j| j < l.num_fields()));
                } else {
                    with_cells(&r, |c| l.push_record(c)).unwrap();
                }
                m.push(r);
            }
            Op::Insert(i, r) => {
                let i = i % (m.len() + 1);
                with_cells(&r, |c| l.insert_record(i, c)).unwrap();
                m.insert(i, r);
            }
            Op::Remove(i) if !m.is_empty() => {
                let i = i % m.len();
                l.remove(i).unwrap();
                m.remove(i);
            }
            Op::MoveTail(picks) => {
                // Distinct rows below the moved tail, in the order picked.
                let mut to: Vec<usize> = Vec::new();
                for p in picks {
                    let below = m.len().saturating_sub(to.len() + 1);
                    if below == 0 {
                        break;
                    }
                    let r = p % below;
                    if !to.contains(&r) && to.iter().all(|&t| t < below) {
                        to.push(r);
                    }
                }
                let from = m.len() - to.len();
                // A row at or past the records moved is refused, with nothing changed.
                assert!(l.move_tail_into(&[m.len()]).is_err());
                l.move_tail_into(&to).unwrap();
                for (k, &r) in to.iter().enumerate() {
                    m[r] = m[from + k].clone();
                }
                m.truncate(from);
            }
            Op::SetRecord(i, r) if !m.is_empty() => {
                let i = i % m.len();
                with_cells(&r, |c| l.set_record(i, c)).unwrap();
                m[i] = r;
            }
            Op::SetField(i, k, v) if !m.is_empty() => {
                let i = i % m.len();
                let mut b = Vec::new();
                l.set_field(i, &k, to_cell(&v, &mut b)).unwrap();
                set_in(&mut m[i], &k, v);
            }
            Op::SetFields(i, mut r) if !m.is_empty() => {
                let i = i % m.len();
                if let Some((k, _)) = r.first() {
                    r.push((k.clone(), Value::Int(-7)));
                }
                with_cells(&r, |c| l.set_fields(i, c)).unwrap();
                for (k, v) in r {
                    set_in(&mut m[i], &k, v);
                }
            }
            Op::RemoveField(i, k) if !m.is_empty() => {
                let i = i % m.len();
                let had = m[i].iter().any(|(x, _)| *x == k);
                let j = l.field_index(&k);
                let removed = j.map(|j| l.remove_field(i, j).unwrap()).unwrap_or(false);
                assert_eq!(removed, had);
                m[i].retain(|(x, _)| *x != k);
            }
            Op::Truncate(n) => {
                let n = n % (m.len() + 1);
                l.truncate(n);
                m.truncate(n);
            }
            Op::Reverse => {
                l.reverse();
                m.reverse();
            }
            Op::Rotate(k) if !m.is_empty() => {
                let k = k % m.len();
                let perm: Vec<usize> = (0..m.len()).map(|i| (i + k) % m.len()).collect();
                l.permute(&perm).unwrap();
                m.rotate_left(k);
            }
            Op::Take(picks) => {
                let picks: Vec<usize> = if m.is_empty() {
                    Vec::new()
                } else {
                    picks.iter().map(|p| p % m.len()).collect()
                };
                l = l.take(&picks);
                m = picks.iter().map(|&p| m[p].clone()).collect();
            }
            Op::FailedExtend(recs, compact) => {
                let before_fields = l.num_fields();
                let cp = l.checkpoint();
                for (k, r) in recs.iter().enumerate() {
                    with_cells(r, |c| l.push_record(c)).unwrap();
                    if compact && k == recs.len() / 2 {
                        l.compact_dictionaries();
                    }
                }
                l.rollback(cp);
                assert_eq!(l.num_fields(), before_fields);
            }
            Op::Churn(i, n, how) if !m.is_empty() => {
                let i = i % m.len();
                let mut ids = std::collections::HashSet::new();
                for step in 0..n {
                    let v = format!("churn {step} {i}");
                    let cell = Cell::Str(&v);
                    let r = match how {
                        0 => {
                            l.set_field(i, "country", cell).unwrap();
                            set_in(&mut m[i], "country", Value::Str(v.clone()));
                            i
                        }
                        1 => {
                            let rec: Rec = vec![("country".into(), Value::Str(v.clone()))];
                            with_cells(&rec, |c| l.set_record(i, c)).unwrap();
                            m[i] = rec;
                            i
                        }
                        2 => {
                            let taken = l
                                .field_index("country")
                                .is_some_and(|j| l.push_fields(&[(j, cell)]));
                            if !taken {
                                l.push_record(&[("country", cell)]).unwrap();
                            }
                            m.len()
                        }
                        _ => {
                            l.push_record(&[("country", cell)]).unwrap();
                            m.len()
                        }
                    };
                    let j = l.field_index("country").unwrap();
                    assert_eq!(from_cell(l.get(r, j)), Value::Str(v.clone()), "row {r}");
                    if let Some((id, len)) = l.dictionary_state(j) {
                        assert!(
                            len <= 2 * l.len() + 4097,
                            "{len} entries for {} rows",
                            l.len()
                        );
                        ids.insert(id);
                    }
                    match how {
                        2 => l.remove(m.len()).unwrap(),
                        3 => l.truncate(m.len()),
                        _ => {}
                    }
                }
                // No churn step (`n == 0`) on a list without the field adds none.
                match l.field_index("country") {
                    None => assert_eq!(n, 0, "churned strings but no field"),
                    Some(j) => {
                        let dict = matches!(l.field_layout(j), memslim_records::Layout::StrDict(_));
                        assert!(
                            !dict || n <= 2 * m.len() + 4098 || ids.len() > 1,
                            "{n} new strings and no rebuild"
                        );
                    }
                }
            }
            Op::Compact => l.compact_dictionaries(),
            Op::CopyThenWrite(i, r) => {
                let mut copy = l.clone();
                let mut cm = m.clone();
                if !cm.is_empty() {
                    let i = i % cm.len();
                    with_cells(&r, |c| copy.set_record(i, c)).unwrap();
                    cm[i] = r.clone();
                }
                with_cells(&r, |c| copy.push_record(c)).unwrap();
                cm.push(r);
                assert_same(&copy, &cm);
            }
            Op::Slice(a, b) => {
                let a = a % (m.len() + 1);
                let b = a + b % (m.len() - a + 1);
                let mut s = l.slice(a, b);
                assert_same(&s, &m[a..b]);
                let r: Rec = vec![("id".into(), Value::Int(7))];
                with_cells(&r, |c| s.push_record(c)).unwrap();
                let mut sm = m[a..b].to_vec();
                sm.push(r);
                assert_same(&s, &sm);
            }
            Op::Optimize => l.optimize(),
            Op::Reload(separate) => {
                let snap = l.to_snapshot();
                l = if separate {
                    let bufs: Vec<Buffer> = snap
                        .buffers
                        .iter()
                        .map(|b| Buffer::from_slice_ref(b.as_slice()))
                        .collect();
                    RecordList::from_snapshot(&snap.header, &bufs).unwrap()
                } else {
                    RecordList::from_snapshot_bytes(&snap.to_bytes()).unwrap()
                };
            }
            Op::PushBatch(recs) => {
                let mut bufs: Vec<Vec<Vec<u8>>> =
                    recs.iter().map(|r| vec![Vec::new(); r.len()]).collect();
                let cells: Vec<Vec<(&str, Cell<'_>)>> = recs
                    .iter()
                    .zip(bufs.iter_mut())
                    .map(|(r, bs)| {
                        r.iter()
                            .zip(bs.iter_mut())
                            .map(|((k, v), b)| (k.as_str(), to_cell(v, b)))
                            .collect()
                    })
                    .collect();
                let slices: Vec<&[(&str, Cell<'_>)]> = cells.iter().map(|c| c.as_slice()).collect();
                l.push_batch(&slices).unwrap();
                m.extend(recs.iter().cloned());
            }
            Op::PushGrid(recs) => {
                // As a parser or binding would: columns added first, cells by index.
                let mut bufs: Vec<Vec<Vec<u8>>> =
                    recs.iter().map(|r| vec![Vec::new(); r.len()]).collect();
                let mut cols: Vec<Vec<usize>> = Vec::new();
                for r in &recs {
                    cols.push(r.iter().map(|(k, _)| l.add_field(k).unwrap()).collect());
                }
                let mut grid = Grid::new(l.num_fields());
                for ((r, bs), js) in recs.iter().zip(bufs.iter_mut()).zip(&cols) {
                    grid.push_row();
                    for (((_, v), b), &j) in r.iter().zip(bs.iter_mut()).zip(js) {
                        assert!(grid.set(j, to_cell(v, b)));
                    }
                    grid.set_order(js);
                }
                l.push_grid(&grid).unwrap();
                m.extend(recs.iter().cloned());
            }
            Op::ExtendFrom(recs, true) => {
                let mut other = RecordList::with_chunk_rows(3);
                for r in &recs {
                    with_cells(r, |c| other.push_record(c)).unwrap();
                }
                l.extend_from(&other).unwrap();
                m.extend(recs.iter().cloned());
            }
            Op::ExtendFrom(recs, false) => {
                let mut copy = RecordList::with_chunk_rows(l.chunk_rows());
                copy.extend_from(&l).unwrap();
                assert_same(&copy, &m);
                let mut cm = m.clone();
                for r in &recs {
                    with_cells(r, |c| copy.push_record(c)).unwrap();
                    cm.push(r.clone());
                }
                // Writing to the copy leaves the list alone.
                assert_same(&l, &m);
                copy.extend_from(&l).unwrap();
                cm.extend(m.iter().cloned());
                l = copy;
                m = cm;
            }
            Op::AppendRecords(picks) => {
                let picks: Vec<usize> = if m.is_empty() {
                    Vec::new()
                } else {
                    picks.iter().map(|p| p % m.len()).collect()
                };
                let mut src = l.clone();
                append_records(&mut l, &mut src, &picks).unwrap();
                let picked: Vec<Rec> = picks.iter().map(|&p| m[p].clone()).collect();
                m.extend(picked);
            }
            _ => {}
        }
        assert_same(&l, &m);
    }
    // Whole-list round trips.
    let back = RecordList::from_bytes(&l.to_bytes()).unwrap();
    assert_same(&back, &m);
    let (schema, batches) = l.to_arrow().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), m.len());
    let imported =
        RecordList::from_arrow(&schema, batches.into_iter().map(Ok), chunk_rows).unwrap();
    assert_eq!(imported.len(), m.len());
    for (r, rec) in m.iter().enumerate() {
        // Arrow has no "absent" and turns ints stored among floats into floats: compare
        // present keys by value only where the model value is a float-free scalar.
        for (k, v) in rec {
            let j = imported.field_index(k).unwrap();
            let got = from_cell(imported.get(r, j));
            if let (Value::Str(_) | Value::Bool(_) | Value::Bytes(_), _) = (v, ()) {
                assert_eq!(&got, v, "row {r} key {k} after Arrow round trip");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn operations_agree_with_a_vec_of_records(
        chunk_rows in 1usize..6,
        ops in prop::collection::vec(op(), 0..40),
    ) {
        run(chunk_rows, ops);
    }

    #[test]
    fn big_chunks_agree_too(ops in prop::collection::vec(op(), 0..40)) {
        run(1 << 20, ops);
    }

    #[test]
    fn records_of_every_field_in_order_are_stored_as_planned_ones_are(
        chunk_rows in 1usize..6,
        recs in prop::collection::vec(full_record(), 0..60),
    ) {
        let recs = recs.into_iter().map(|r| (r, u8::MAX)).collect();
        one_by_one_matches_planned(chunk_rows, recs);
    }

    /// Records that leave some fields out (absent), keys in field order otherwise.
    #[test]
    fn records_missing_fields_are_stored_as_planned_ones_are(
        chunk_rows in 1usize..6,
        recs in prop::collection::vec((full_record(), any::<u8>()), 0..60),
    ) {
        one_by_one_matches_planned(chunk_rows, recs);
    }
}

/// Pushes `recs` one by one into two lists, through `push_record` (which takes a record
/// whose keys are the fields in order, some perhaps missing, without planning it) and
/// through one-record batches (always planned): the lists agree in values, layouts and
/// bytes after every push. Each record holds the fields whose bit is set in its mask.
fn one_by_one_matches_planned(chunk_rows: usize, recs: Vec<(Vec<Value>, u8)>) {
    const KEYS: [&str; 5] = ["id", "price", "country", "paid", "misc"];
    let mut fast = RecordList::with_chunk_rows(chunk_rows);
    let mut planned = RecordList::with_chunk_rows(chunk_rows);
    for (vals, mask) in recs {
        let rec: Rec = KEYS
            .iter()
            .map(|k| (*k).to_owned())
            .zip(vals)
            .enumerate()
            .filter(|(e, _)| mask & (1 << e) != 0)
            .map(|(_, kv)| kv)
            .collect();
        let a = with_cells(&rec, |c| fast.push_record(c));
        let b = with_cells(&rec, |c| planned.push_batch(&[c]));
        assert_eq!(a.is_ok(), b.is_ok());
        assert_eq!(fast.len(), planned.len());
        for j in 0..planned.num_fields() {
            assert_eq!(fast.field_layout(j), planned.field_layout(j), "field {j}");
        }
        let r = fast.len() - 1;
        assert_eq!(read_row(&fast, r), read_row(&planned, r));
        assert_eq!(fast.nbytes(), planned.nbytes());
    }
    for r in 0..fast.len() {
        assert_eq!(read_row(&fast, r), read_row(&planned, r), "row {r}");
    }
}

fn full_record() -> impl Strategy<Value = Vec<Value>> {
    ["id", "price", "country", "paid", "misc"]
        .map(value_for)
        .to_vec()
}

#[test]
fn an_append_past_a_dictionarys_key_width_or_an_int_width_takes_the_planned_path() {
    // 300 distinct strings overflow one-byte keys at the 257th; ints grow from 8 to 64
    // bits; a float among ints widens the column: each is planned, and agrees.
    let recs: Vec<(Vec<Value>, u8)> = (0..300i64)
        .map(|i| {
            let vals = vec![
                Value::Int(if i < 200 { i % 100 } else { i << 40 }),
                if i == 250 {
                    Value::Float(0.5)
                } else {
                    Value::Int(i)
                },
                Value::Str(format!("c{i}")),
                Value::Bool(i % 2 == 0),
                Value::None,
            ];
            // Every seventh record leaves `paid` out.
            (vals, if i % 7 == 3 { 0b10111 } else { u8::MAX })
        })
        .collect();
    one_by_one_matches_planned(1 << 20, recs.clone());
    one_by_one_matches_planned(64, recs);
}

#[test]
fn declared_schema_rejects_and_leaves_the_list_unchanged() {
    use memslim_records::{DType, RecordsError};
    let mut l = RecordList::with_schema(&[("id", DType::Int64), ("name", DType::Str)], 4).unwrap();
    l.push_record(&[("id", Cell::Int(1)), ("name", Cell::Str("a"))])
        .unwrap();
    let before = l.to_bytes();
    let e = l.push_record(&[("id", Cell::Str("x"))]).unwrap_err();
    assert!(
        matches!(&e, RecordsError::SchemaMismatch { row: 1, field, .. } if field == "id"),
        "{e}"
    );
    let e = l
        .push_record(&[("id", Cell::Int(2)), ("zzz", Cell::Int(3))])
        .unwrap_err();
    assert!(matches!(e, RecordsError::UnknownField { row: 1, .. }));
    assert_eq!(l.to_bytes(), before);
}

#[test]
fn a_long_record_repeating_a_key_is_refused_whichever_field_it_repeats() {
    // Records of more than 16 keys mark the fields they took in a bit set: fields on
    // either side of a 64-bit word, known to the list or new in the record.
    let names: Vec<String> = (0..150).map(|k| format!("f{k}")).collect();
    let key = |k: usize| names[k].as_str();
    let mut l = RecordList::new();
    let known: Vec<(&str, Cell<'_>)> = (0..100).map(|k| (key(k), Cell::Int(1))).collect();
    l.push_record(&known).unwrap();
    let before = l.to_bytes();
    // The record: the new fields f100..f149 (columns 100..149), then f0..f19, then these.
    let cases: [(&[usize], bool); 8] = [
        (&[0], true),
        (&[19], true),
        (&[63, 63], true),
        (&[64, 64], true),
        (&[127], true),
        (&[128], true),
        (&[149], true),
        (&[63, 64], false),
    ];
    for (extra, repeated) in cases {
        let rec: Vec<(&str, Cell<'_>)> = (100..150)
            .chain(0..20)
            .chain(extra.iter().copied())
            .map(|k| (key(k), Cell::Int(2)))
            .collect();
        let mut m = l.clone();
        let pushed = m.push_record(&rec);
        let mut m2 = l.clone();
        let set = m2.set_record(0, &rec);
        if repeated {
            assert!(
                matches!(pushed, Err(RecordsError::DuplicateKey { row: 1, .. })),
                "{extra:?}"
            );
            assert!(
                matches!(set, Err(RecordsError::DuplicateKey { .. })),
                "{extra:?}"
            );
            assert_eq!(
                (m.to_bytes(), m2.to_bytes()),
                (before.clone(), before.clone())
            );
        } else {
            pushed.unwrap();
            set.unwrap();
            assert_eq!((m.len(), m2.len()), (2, 1));
        }
    }
}

#[test]
fn ints_among_floats_come_back_as_ints_and_absent_is_not_null() {
    let mut l = RecordList::new();
    l.push_record(&[("x", Cell::Int(3))]).unwrap();
    l.push_record(&[("x", Cell::Float(-0.0)), ("y", Cell::Null)])
        .unwrap();
    let x = l.field_index("x").unwrap();
    let y = l.field_index("y").unwrap();
    assert_eq!(l.get(0, x), CellRef::Int(3));
    assert!(matches!(l.get(1, x), CellRef::Float(f) if f == 0.0 && f.is_sign_negative()));
    assert_eq!(l.get(0, y), CellRef::Absent);
    assert_eq!(l.get(1, y), CellRef::Null);
}

#[test]
fn repeated_strings_are_dictionary_encoded_and_unique_ones_are_not() {
    use memslim_records::Layout;
    let mut l = RecordList::new();
    for i in 0..200_000u32 {
        let country = ["DE", "FR", "US"][(i % 3) as usize];
        let uid = format!("{i:08x}-unique");
        l.push_record(&[("country", Cell::Str(country)), ("uid", Cell::Str(&uid))])
            .unwrap();
    }
    l.optimize();
    assert!(matches!(l.field_layout(0), Layout::StrDict(_)));
    assert_eq!(l.field_layout(1), Layout::StrPlain);
}

/// Loads `names` as one-field records, `per_load` at a time, each load settled as the
/// bindings settle one (`optimize_since`).
fn load_in_batches(l: &mut RecordList, names: &[String], per_load: usize) {
    for batch in names.chunks(per_load) {
        let cp = l.checkpoint();
        let recs: Vec<[(&str, Cell<'_>); 2]> = batch
            .iter()
            .enumerate()
            .map(|(i, s)| [("user", Cell::Str(s)), ("n", Cell::Int(i as i64))])
            .collect();
        let refs: Vec<&[(&str, Cell<'_>)]> = recs.iter().map(|r| r.as_slice()).collect();
        l.push_batch(&refs).unwrap();
        l.optimize_since(&cp);
    }
}

#[test]
fn a_column_that_looked_unique_in_a_small_first_load_returns_to_a_dictionary() {
    use memslim_records::Layout;
    // 5,000 new names first (plain looks smaller), then 20,000 names again and again.
    let names: Vec<String> = (0..140_000u32)
        .map(|i| match i {
            0..5_000 => format!("first-{i}"),
            _ => format!("user-{}", i.wrapping_mul(2_654_435_761) % 20_000),
        })
        .collect();
    let mut l = RecordList::new();
    load_in_batches(&mut l, &names[..5_000], 5_000);
    assert_eq!(l.field_layout(0), Layout::StrPlain);
    load_in_batches(&mut l, &names[5_000..], 5_000);
    assert!(matches!(l.field_layout(0), Layout::StrDict(_)));
    for (i, s) in names.iter().enumerate() {
        assert!(
            matches!(l.get(i, 0), CellRef::DictStr(_, t) if t == s),
            "row {i}"
        );
    }
}

#[test]
fn a_big_load_of_few_distinct_strings_keeps_one_byte_keys() {
    use memslim_records::{Layout, Width};
    let names: Vec<String> = (0..50_000u32).map(|i| format!("c{}", i % 40)).collect();
    let mut l = RecordList::new();
    load_in_batches(&mut l, &names, 20_000);
    assert_eq!(l.field_layout(0), Layout::StrDict(Width::W8));
    // Past 128 distinct, the keys widen (and still read back).
    let more: Vec<String> = (0..20_000u32).map(|i| format!("d{}", i % 500)).collect();
    load_in_batches(&mut l, &more, 20_000);
    assert_eq!(l.field_layout(0), Layout::StrDict(Width::W16));
    for (i, s) in names.iter().chain(&more).enumerate() {
        assert!(
            matches!(l.get(i, 0), CellRef::DictStr(_, t) if t == s),
            "row {i}"
        );
    }
}

#[test]
fn small_loads_leave_at_most_an_eighth_spare() {
    let names: Vec<String> = (0..200_000u32).map(|i| format!("{i:08x}-unique")).collect();
    let mut whole = RecordList::new();
    load_in_batches(&mut whole, &names, names.len());
    let mut small = RecordList::new();
    load_in_batches(&mut small, &names, 3);
    assert_eq!(small.len(), whole.len());
    let (a, b) = (whole.nbytes(), small.nbytes());
    assert!(
        b <= a + a / 8 + (64 << 10),
        "{b} bytes after small loads, {a} at once"
    );
}

#[test]
fn growth_starts_new_chunks_instead_of_doubling_a_huge_buffer() {
    let mut l = RecordList::with_chunk_rows(1000);
    for i in 0..10_500 {
        l.push_record(&[("i", Cell::Int(i))]).unwrap();
    }
    assert_eq!(l.num_chunks(), 11);
    assert_eq!(l.get(10_499, 0), CellRef::Int(10_499));
}

#[test]
fn arrow_export_shares_buffers() {
    let mut l = RecordList::new();
    for i in 0..1000 {
        // Values beyond 32 bits: stored as int64, so export shares the buffer.
        l.push_record(&[("i", Cell::Int(i * 10_000_000_000))])
            .unwrap();
    }
    let (_, a) = l.to_arrow().unwrap();
    let (_, b) = l.to_arrow().unwrap();
    let pa = a[0].column(0).to_data().buffers()[0].as_ptr();
    let pb = b[0].column(0).to_data().buffers()[0].as_ptr();
    assert_eq!(pa, pb, "two exports point at the same memory");
    // A write after export copies the chunk; the exported batch keeps the old value.
    l.set_field(0, "i", Cell::Int(-1)).unwrap();
    let col = a[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .unwrap();
    assert_eq!(col.value(0), 0);
    assert_eq!(l.get(0, 0), CellRef::Int(-1));
}

#[test]
fn set_field_at_writes_by_position_and_refuses_what_is_not_there() {
    let mut l = RecordList::new();
    l.push_record(&[("a", Cell::Int(1)), ("b", Cell::Str("x"))])
        .unwrap();
    l.push_record(&[("b", Cell::Str("y"))]).unwrap();
    let (a, b) = (l.field_index("a").unwrap(), l.field_index("b").unwrap());
    // A float into an int column, and a key the record lacked (it goes last).
    l.set_field_at(0, a, Cell::Float(2.5)).unwrap();
    l.set_field_at(1, a, Cell::Int(7)).unwrap();
    l.set_field_at(1, b, Cell::Null).unwrap();
    assert_eq!(l.get(0, a), CellRef::Float(2.5));
    assert_eq!(l.get(1, a), CellRef::Int(7), "an int stays an int");
    assert_eq!(l.get(1, b), CellRef::Null);
    assert_eq!(l.row_keys(1), [b, a]);
    let before = l.to_bytes();
    assert!(l.set_field_at(0, 2, Cell::Int(1)).is_err(), "no field 2");
    assert!(l.set_field_at(2, a, Cell::Int(1)).is_err(), "no record 2");
    assert_eq!(l.to_bytes(), before, "a refused write changes nothing");
}

#[test]
fn set_fields_writes_all_or_nothing() {
    let schema = [
        ("a", DType::Int64),
        ("b", DType::Str),
        ("c", DType::Float64),
    ];
    let mut l = RecordList::with_schema(&schema, 4).unwrap();
    l.push_record(&[("a", Cell::Int(1)), ("b", Cell::Str("x"))])
        .unwrap();
    let before = l.to_bytes();
    // The bad field after a good one, a field the schema lacks, a record that is not there.
    let refused: [(usize, &[(&str, Cell<'_>)]); 3] = [
        (0, &[("b", Cell::Str("y")), ("a", Cell::Str("bad"))]),
        (0, &[("c", Cell::Float(1.5)), ("z", Cell::Int(1))]),
        (1, &[("a", Cell::Int(2))]),
    ];
    for (row, fields) in refused {
        assert!(l.set_fields(row, fields).is_err(), "{fields:?}");
        assert_eq!(l.to_bytes(), before, "a refused update changes nothing");
    }
    assert!(matches!(
        l.set_fields(0, &[("b", Cell::Str("y")), ("a", Cell::Str("bad"))]),
        Err(RecordsError::SchemaMismatch { row: 0, ref field, .. }) if field == "a"
    ));
    // As dict.update: the last value of a repeated key, in the place of its first; a new
    // key goes last.
    let (a, b, c) = (0, 1, 2);
    l.set_fields(
        0,
        &[
            ("c", Cell::Float(1.5)),
            ("a", Cell::Int(2)),
            ("c", Cell::Float(3.0)),
        ],
    )
    .unwrap();
    assert_eq!(l.row_keys(0), [a, b, c]);
    assert_eq!(l.get(0, c), CellRef::Float(3.0));
    assert_eq!(l.get(0, a), CellRef::Int(2));
    // Open fields: one value widens its column and another adds one, together.
    let mut open = RecordList::with_chunk_rows(4);
    open.push_record(&[("n", Cell::Int(1))]).unwrap();
    open.push_record(&[("n", Cell::Int(2))]).unwrap();
    open.set_fields(1, &[("new", Cell::Str("s")), ("n", Cell::Float(2.5))])
        .unwrap();
    assert_eq!(open.get(0, 0), CellRef::Int(1));
    assert_eq!(open.get(1, 0), CellRef::Float(2.5));
    assert_eq!(open.row_keys(1), [0, 1]);
    assert_eq!(open.row_keys(0), [0]);
}

#[test]
fn corrupt_serialized_data_is_an_error_not_a_panic() {
    let mut l = RecordList::new();
    l.push_record(&[("a", Cell::Int(1)), ("b", Cell::Str("x"))])
        .unwrap();
    let bytes = l.to_bytes();
    for cut in 0..bytes.len() {
        assert!(
            RecordList::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = RecordList::from_bytes(&b);
    }
}

#[test]
fn narrow_int_storage_exports_as_int64() {
    let mut l = RecordList::new();
    for i in 0..100 {
        l.push_record(&[("small", Cell::Int(i % 7))]).unwrap();
    }
    assert_eq!(
        l.field_layout(0),
        memslim_records::Layout::Int(memslim_records::Width::W8)
    );
    let (schema, batches) = l.to_arrow().unwrap();
    assert_eq!(schema.field(0).data_type(), &arrow_schema::DataType::Int64);
    let col = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .unwrap();
    assert_eq!(col.value(99), 99 % 7);
}

#[test]
fn a_failing_batch_appends_only_the_records_before_the_bad_one() {
    use memslim_records::DType;
    let mut l = RecordList::with_schema(&[("n", DType::Int64)], 3).unwrap();
    let good: &[(&str, Cell<'_>)] = &[("n", Cell::Int(1))];
    let bad: &[(&str, Cell<'_>)] = &[("n", Cell::Str("x"))];
    let err = l.push_batch(&[good, good, bad, good]).unwrap_err();
    assert!(err.to_string().contains("row 2"), "{err}");
    assert_eq!(l.len(), 2);
}

#[test]
fn a_batch_of_many_new_strings_widens_dictionary_keys_first() {
    let words: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
    let recs: Vec<Vec<(&str, Cell<'_>)>> =
        words.iter().map(|w| vec![("s", Cell::Str(w))]).collect();
    let slices: Vec<&[(&str, Cell<'_>)]> = recs.iter().map(|r| r.as_slice()).collect();
    let mut l = RecordList::new();
    l.push_batch(&slices[..1000]).unwrap();
    l.push_batch(&slices[1000..]).unwrap();
    for (i, w) in words.iter().enumerate() {
        assert!(matches!(l.get(i, 0), CellRef::DictStr(_, s) | CellRef::Str(s) if s == w));
    }
}

#[test]
fn cell_equality_follows_python_across_kinds() {
    use memslim_records::cell_eq;
    let big = {
        let mut b = Vec::new();
        variant::encode(&Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]), &mut b);
        b
    };
    let cases: &[(Cell<'_>, Cell<'_>, Option<bool>)] = &[
        (Cell::Bool(true), Cell::Int(1), Some(true)),
        (Cell::Int(1), Cell::Float(1.0), Some(true)),
        (Cell::Float(f64::NAN), Cell::Float(f64::NAN), Some(false)),
        (Cell::Null, Cell::Int(0), Some(false)),
        (Cell::Null, Cell::Null, Some(true)),
        (Cell::Str("1"), Cell::Int(1), Some(false)),
        (Cell::Str("a"), Cell::Bytes(b"a"), Some(false)),
        (Cell::Encoded(&big), Cell::Int(1), Some(false)),
        (Cell::Encoded(&big), Cell::Float(2f64.powi(64)), Some(true)),
    ];
    for (a, b, want) in cases {
        assert_eq!(cell_eq(a, b), *want, "{a:?} == {b:?}");
        assert_eq!(cell_eq(b, a), *want, "{b:?} == {a:?}");
    }
}

#[test]
fn grid_errors_leave_the_list_unchanged_and_name_the_first_bad_row() {
    let mut l = RecordList::with_schema(
        &[
            ("id", memslim_records::DType::Int64),
            ("name", memslim_records::DType::Str),
        ],
        4,
    )
    .unwrap();
    l.push_record(&[("id", Cell::Int(1))]).unwrap();
    let before = l.nbytes();
    let mut g = Grid::new(2);
    for (id, name) in [
        (Cell::Int(2), Cell::Str("a")),
        (Cell::Int(3), Cell::Int(9)),
        (Cell::Str("x"), Cell::Null),
    ] {
        g.push_row();
        g.set(0, id);
        g.set(1, name);
    }
    match l.push_grid(&g) {
        Err(RecordsError::SchemaMismatch { row, field, .. }) => {
            assert_eq!(
                (row, field.as_str()),
                (2, "name"),
                "row 1 of the grid is list row 2"
            );
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
    assert_eq!(l.len(), 1);
    assert_eq!(l.nbytes(), before);
    let mut too_wide = Grid::new(3);
    too_wide.push_row();
    assert!(matches!(
        l.push_grid(&too_wide),
        Err(RecordsError::UnknownField { .. })
    ));
}

#[test]
fn grid_widening_matches_one_by_one_appends() {
    // Ints beyond 2**53 met by a float in the same grid cannot become floats.
    let big = (1i64 << 60) + 1;
    for cells in [
        [Cell::Int(big), Cell::Float(1.5)],
        [Cell::Float(1.5), Cell::Int(big)],
    ] {
        let mut one = RecordList::new();
        let mut grid = RecordList::new();
        let j = grid.add_field("x").unwrap();
        let mut g = Grid::new(1);
        for c in cells {
            one.push_record(&[("x", c)]).unwrap();
            g.push_row();
            g.set(j, c);
        }
        grid.push_grid(&g).unwrap();
        assert_eq!(one.field_layout(0), grid.field_layout(0));
        for r in 0..2 {
            assert_eq!(one.get(r, 0), grid.get(r, 0));
        }
    }
    // The same when the column already holds ints: big ints first, then a float.
    for first in [Cell::Int(7), Cell::Int(big)] {
        let mut one = RecordList::new();
        let mut grid = RecordList::new();
        one.push_record(&[("x", first)]).unwrap();
        grid.push_record(&[("x", first)]).unwrap();
        let mut g = Grid::new(1);
        for c in [Cell::Int(big), Cell::Int(1), Cell::Float(0.25)] {
            one.push_record(&[("x", c)]).unwrap();
            g.push_row();
            g.set(0, c);
        }
        grid.push_grid(&g).unwrap();
        assert_eq!(one.field_layout(0), memslim_records::Layout::Object);
        assert_eq!(grid.field_layout(0), memslim_records::Layout::Object);
        for r in 0..4 {
            assert_eq!(one.get(r, 0), grid.get(r, 0));
        }
    }
    // Exact ints and floats share a float column.
    let mut l = RecordList::new();
    let j = l.add_field("x").unwrap();
    let mut g = Grid::new(1);
    for c in [Cell::Int(3), Cell::Float(0.5), Cell::Null] {
        g.push_row();
        g.set(j, c);
    }
    l.push_grid(&g).unwrap();
    assert_eq!(l.field_layout(0), memslim_records::Layout::Float);
    assert_eq!(l.get(0, 0), CellRef::Int(3));
    assert_eq!(l.get(2, 0), CellRef::Null);
}

/// `first_opaque` finds the earliest record holding a host-serialized value at any
/// depth, across fields, and nothing in a list without one.
#[test]
fn first_opaque_finds_the_earliest_host_value() {
    fn enc(v: &Value) -> Vec<u8> {
        let mut b = Vec::new();
        variant::encode(v, &mut b);
        b
    }
    let nested = enc(&Value::List(vec![
        Value::Int(1),
        Value::Dict(vec![(Value::Str("k".into()), Value::Opaque(vec![0x80, 5]))]),
    ]));
    let plain = enc(&Value::List(vec![Value::Bytes(vec![0x0B, 0x0B])]));
    let top = enc(&Value::Opaque(vec![1]));
    let mut list = RecordList::new();
    list.push_record(&[("a", Cell::Encoded(&plain)), ("b", Cell::Int(1))])
        .unwrap();
    assert_eq!(list.first_opaque(), None);
    list.push_record(&[("a", Cell::Int(2)), ("b", Cell::Encoded(&nested))])
        .unwrap();
    list.push_record(&[("a", Cell::Encoded(&top))]).unwrap();
    assert_eq!(list.first_opaque(), Some((1, 1)));
    list.remove(1).unwrap();
    assert_eq!(list.first_opaque(), Some((1, 0)));
}
