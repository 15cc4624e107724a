//! Vectorized selection: the rows of a column whose value compares to a probe value as
//! Python would, with typed loops over the column buffers.
//!
//! One scan decides each row in one of three ways: it matches, it does not, or the
//! core cannot tell (a value of a host type, a big int, a container against an order):
//! then the caller (the Python binding) compares that row itself. Rows that are null
//! or absent have one verdict for the whole scan, worked out once.

use std::cmp::Ordering;
use std::ops::Range;

use crate::column::{ColChunk, Data, Layout};
use crate::intvec::IntVec;
use crate::number::int_vs_float;
use crate::{Cell, CellRef, ColumnView, cell_eq};

/// A comparison operator, as `rows.where` and the stream pipeline's `where` take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Parses `==`, `!=`, `<`, `<=`, `>`, `>=` (`None` for anything else).
    pub fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }

    /// Whether an ordering satisfies this operator.
    pub fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o.is_eq(),
            CmpOp::Ne => o.is_ne(),
            CmpOp::Lt => o.is_lt(),
            CmpOp::Le => o.is_le(),
            CmpOp::Gt => o.is_gt(),
            CmpOp::Ge => o.is_ge(),
        }
    }
}

/// What a record that lacks the field counts as in a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbsentAs {
    /// As `None` (a `Column` reads an absent key as `None`).
    Null,
    /// As no value: it matches `!=` and nothing else (`rows.where`).
    NoValue,
}

/// How a stored value orders against the probe.
enum Order {
    Known(Ordering),
    /// No common order (`None < 1`, `"a" < 1`, NaN): the row does not match.
    Incomparable,
    /// Only the host can tell (encoded values: big ints, containers, host objects).
    Undecidable,
}

fn number(c: &Cell<'_>) -> Option<Result<i64, f64>> {
    match c {
        Cell::Bool(b) => Some(Ok(i64::from(*b))),
        Cell::Int(i) => Some(Ok(*i)),
        Cell::Float(f) => Some(Err(*f)),
        _ => None,
    }
}

fn cmp_numbers(a: Result<i64, f64>, b: Result<i64, f64>) -> Option<Ordering> {
    match (a, b) {
        (Ok(x), Ok(y)) => Some(x.cmp(&y)),
        (Err(x), Err(y)) => x.partial_cmp(&y),
        (Ok(x), Err(y)) => int_vs_float(x.into(), y),
        (Err(x), Ok(y)) => int_vs_float(y.into(), x).map(Ordering::reverse),
    }
}

fn order(a: &Cell<'_>, b: &Cell<'_>) -> Order {
    if matches!(a, Cell::Encoded(_)) || matches!(b, Cell::Encoded(_)) {
        return Order::Undecidable;
    }
    let o = match (a, b) {
        (Cell::Str(x), Cell::Str(y)) => Some(x.cmp(y)),
        (Cell::Bytes(x), Cell::Bytes(y)) => Some(x.cmp(y)),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => cmp_numbers(x, y),
            _ => None,
        },
    };
    o.map_or(Order::Incomparable, Order::Known)
}

/// The string a scan for `op probe` may pass over other bytes than (nulls and strings
/// of other bytes cannot match it): the probe's, for `==` a string; `None` otherwise.
pub fn search_text<'p>(op: CmpOp, probe: &Cell<'p>) -> Option<&'p str> {
    match (op, probe) {
        (CmpOp::Eq, Cell::Str(s)) => Some(s),
        _ => None,
    }
}

/// The verdict on one stored value `v <op> probe` (a missing key compares as `absent`
/// says): `Some(matches)`, or `None` when only the host can decide. What every scan
/// decides a value by, for a storage that scans its own way.
#[inline]
pub fn verdict(v: CellRef<'_>, op: CmpOp, probe: &Cell<'_>, absent: AbsentAs) -> Option<bool> {
    let c = match v.to_cell() {
        Some(c) => c,
        None => match absent {
            AbsentAs::NoValue => return Some(op == CmpOp::Ne),
            AbsentAs::Null => Cell::Null,
        },
    };
    // A scalar in an `object` column compares as the scalar it encodes.
    let decoded;
    let c = match c {
        Cell::Encoded(b) => match crate::variant::decode(b) {
            Ok(v) => {
                decoded = v;
                Cell::from_decoded(&decoded, b)
            }
            Err(_) => return None,
        },
        c => c,
    };
    match op {
        CmpOp::Eq => cell_eq(&c, probe),
        CmpOp::Ne => cell_eq(&c, probe).map(|e| !e),
        _ => match order(&c, probe) {
            Order::Known(o) => Some(op.holds(o)),
            Order::Incomparable => Some(false),
            Order::Undecidable => None,
        },
    }
}

/// Runs `test` over local rows `local` of chunk `c`, giving null and absent rows their
/// fixed verdicts `(null, absent)`, and emits matching / undecided rows (shifted to
/// column positions). Returns whether `emit` wants more.
#[inline(always)]
fn run(
    c: &ColChunk,
    local: Range<usize>,
    shift: usize,
    (null_v, absent_v): (Option<bool>, Option<bool>),
    emit: &mut impl FnMut(usize, bool) -> bool,
    test: impl Fn(usize) -> Option<bool>,
) -> bool {
    for i in local {
        let v = if c.absent.as_ref().is_some_and(|a| a.get(i)) {
            absent_v
        } else if c.valid.as_ref().is_some_and(|m| !m.get(i)) {
            null_v
        } else {
            test(i)
        };
        if !deliver(v, i + shift, emit) {
            return false;
        }
    }
    true
}

/// Emits `row` for a verdict `v` that matches or that only the host can decide; whether
/// `emit` wants more.
#[inline(always)]
fn deliver(v: Option<bool>, row: usize, emit: &mut impl FnMut(usize, bool) -> bool) -> bool {
    match v {
        Some(false) => true,
        Some(true) => emit(row, true),
        None => emit(row, false),
    }
}

/// [`run`] for a chunk with neither nulls nor absent keys and integer `values` (numbers,
/// or dictionary keys): the width is matched once, not per row.
#[inline(always)]
fn run_ints(
    values: &IntVec,
    local: Range<usize>,
    shift: usize,
    emit: &mut impl FnMut(usize, bool) -> bool,
    test: impl Fn(i64) -> Option<bool>,
) -> bool {
    values.for_each_in(local, |i, x| deliver(test(x), i + shift, emit))
}

impl ColumnView {
    /// Calls `emit(row, decided)` for each row in `rows` (clamped to the column) whose
    /// value compares to `probe` with `op` as Python would (`decided = true`), or whose
    /// comparison only the host can decide (`decided = false`), in row order, until
    /// `emit` returns `false`.
    ///
    /// Equality follows Python across numbers (`True == 1 == 1.0`, ints and floats
    /// exactly); orderings compare numbers with numbers, strings with strings and bytes
    /// with bytes, and values of no common order (including `None`) never match.
    ///
    /// # Memory
    /// Allocates nothing for numeric and bool columns; a table of one verdict per
    /// dictionary entry for dictionary-encoded strings.
    pub fn scan(
        &self,
        op: CmpOp,
        probe: &Cell<'_>,
        absent: AbsentAs,
        rows: Range<usize>,
        mut emit: impl FnMut(usize, bool) -> bool,
    ) {
        let null_v = verdict(CellRef::Null, op, probe, absent);
        let absent_v = verdict(CellRef::Absent, op, probe, absent);
        let meta = self.meta();
        // One verdict per dictionary entry, when the dictionary is not much larger
        // than the column.
        let table: Option<Vec<Option<bool>>> = match meta.layout {
            Layout::StrDict(_) if meta.dict().len() <= self.len().max(1 << 16) => {
                let d = meta.dict();
                Some(
                    (0..d.len() as u32)
                        .map(|k| verdict(CellRef::Str(d.get(k)), op, probe, absent))
                        .collect(),
                )
            }
            _ => None,
        };
        let probe_num = number(probe);
        let mut base = 0;
        for (c, off, n) in self.parts() {
            let (lo, hi) = (rows.start.max(base), rows.end.min(base + n));
            if lo < hi {
                let local = (off + lo - base)..(off + hi - base);
                let shift = base - off;
                let v = (null_v, absent_v);
                let dense = c.absent.is_none() && c.valid.is_none();
                let int_verdict = |x: i64, p| {
                    Some(cmp_numbers(Ok(x), p).map_or(op == CmpOp::Ne, |o| op.holds(o)))
                };
                let more = match (&c.data, probe_num, &table) {
                    (Data::Keys(k), _, Some(t)) if dense => {
                        run_ints(k, local, shift, &mut emit, |x| {
                            t.get(x as usize).copied().flatten()
                        })
                    }
                    (Data::Keys(k), _, Some(t)) => run(c, local, shift, v, &mut emit, |i| {
                        t.get(k.get(i) as usize).copied().flatten()
                    }),
                    (Data::Int(x), Some(p), _) if dense => {
                        run_ints(x, local, shift, &mut emit, |x| int_verdict(x, p))
                    }
                    (Data::Int(x), Some(p), _) => {
                        run(c, local, shift, v, &mut emit, |i| int_verdict(x.get(i), p))
                    }
                    (Data::Float(x, _), Some(p), _) => run(c, local, shift, v, &mut emit, |i| {
                        Some(cmp_numbers(Err(x[i]), p).map_or(op == CmpOp::Ne, |o| op.holds(o)))
                    }),
                    (Data::Bool(b), Some(p), _) => run(c, local, shift, v, &mut emit, |i| {
                        Some(
                            cmp_numbers(Ok(i64::from(b.get(i))), p)
                                .map_or(op == CmpOp::Ne, |o| op.holds(o)),
                        )
                    }),
                    _ => run(c, local, shift, v, &mut emit, |i| {
                        verdict(c.get(i, meta), op, probe, absent)
                    }),
                };
                if !more {
                    return;
                }
            }
            base += n;
        }
    }

    /// Number of values equal to `probe` (absent keys read as `None`), and the rows only
    /// the host can decide.
    pub fn count_eq(&self, probe: &Cell<'_>) -> (usize, Vec<usize>) {
        self.count_eq_in(probe, 0..self.len())
    }

    /// [`ColumnView::count_eq`] over the rows `rows` (clamped to the column).
    pub fn count_eq_in(&self, probe: &Cell<'_>, rows: Range<usize>) -> (usize, Vec<usize>) {
        let mut tally = Tally::default();
        self.scan(CmpOp::Eq, probe, AbsentAs::Null, rows, |i, decided| {
            tally.add(i, decided)
        });
        tally.into_parts()
    }
}

/// What a scan for equal values emitted: the number of rows it decided match, and the
/// rows only the host can decide (ascending).
#[derive(Default)]
pub struct Tally {
    matches: usize,
    undecided: Vec<usize>,
}

impl Tally {
    /// Takes one emitted row; always wants more.
    #[inline]
    pub fn add(&mut self, row: usize, decided: bool) -> bool {
        if decided {
            self.matches += 1;
        } else {
            self.undecided.push(row);
        }
        true
    }

    /// `(matches, undecided rows)`.
    pub fn into_parts(self) -> (usize, Vec<usize>) {
        (self.matches, self.undecided)
    }
}

impl crate::RecordList {
    /// The rows whose `field` compares to `probe` with `op` (see [`ColumnView::scan`];
    /// a record without the field matches only `!=`), and, separately, the rows only
    /// the host can decide. Both ascending.
    pub fn where_rows(&self, field: &str, op: CmpOp, probe: &Cell<'_>) -> (Vec<usize>, Vec<usize>) {
        let Some(j) = self.field_index(field) else {
            return (
                if op == CmpOp::Ne {
                    (0..self.len()).collect()
                } else {
                    Vec::new()
                },
                Vec::new(),
            );
        };
        // Reading a column in memory cannot fail.
        crate::read::where_positions(&mut &self.column(j), op, Some(probe)).unwrap_or_default()
    }

    /// [`crate::RecordList::where_rows`] with the host's verdict on the rows the core cannot
    /// decide: `verdict(value)` for each of them (ascending), or for every present
    /// value when there is no `probe` the core can compare (a host object). Ascending.
    ///
    /// # Errors
    /// The first error `verdict` returns.
    pub fn where_rows_with<E>(
        &self,
        field: &str,
        op: CmpOp,
        probe: Option<&Cell<'_>>,
        mut verdict: impl FnMut(CellRef<'_>) -> Result<bool, E>,
    ) -> Result<Vec<usize>, E> {
        let Some(j) = self.field_index(field) else {
            return Ok(self.where_rows(field, op, &Cell::Null).0);
        };
        // Reading a column in memory cannot fail.
        let (mut hits, undecided) =
            crate::read::where_positions(&mut &self.column(j), op, probe).unwrap_or_default();
        if undecided.is_empty() {
            return Ok(hits);
        }
        for i in undecided {
            if verdict(self.get(i, j))? {
                hits.push(i);
            }
        }
        hits.sort_unstable();
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordList;
    use proptest::prelude::*;

    fn py_eq(a: &Cell<'_>, b: &Cell<'_>) -> bool {
        cell_eq(a, b).unwrap_or(false)
    }

    #[derive(Clone, Debug)]
    enum V {
        Absent,
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
    }

    fn cell(v: &V) -> Option<Cell<'_>> {
        Some(match v {
            V::Absent => return None,
            V::Null => Cell::Null,
            V::Bool(b) => Cell::Bool(*b),
            V::Int(i) => Cell::Int(*i),
            V::Float(f) => Cell::Float(*f),
            V::Str(s) => Cell::Str(s),
        })
    }

    fn value() -> impl Strategy<Value = V> {
        prop_oneof![
            Just(V::Absent),
            Just(V::Null),
            any::<bool>().prop_map(V::Bool),
            (-3i64..3).prop_map(V::Int),
            prop_oneof![
                Just(i64::MAX),
                Just(i64::MIN),
                Just(1 << 53),
                Just((1 << 53) + 1)
            ]
            .prop_map(V::Int),
            prop_oneof![
                Just(0.5),
                Just(-1.0),
                Just(2.0),
                Just(f64::NAN),
                Just(9_007_199_254_740_992.0)
            ]
            .prop_map(V::Float),
            prop_oneof![Just("DE"), Just("FR"), Just(""), Just("é")].prop_map(|s| V::Str(s.into())),
        ]
    }

    /// Columns of one type family, so typed layouts (not only `object`) are exercised.
    fn column() -> impl Strategy<Value = Vec<V>> {
        prop_oneof![
            prop::collection::vec(value(), 0..40),
            // Dense columns (no nulls, no absent keys) take the per-width scans; wide
            // integers widen the storage past 8 bits.
            prop::collection::vec(
                prop_oneof![-3i64..3, any::<i64>(), -40_000i64..40_000].prop_map(V::Int),
                0..40
            ),
            prop::collection::vec(
                prop_oneof![Just("DE"), Just("FR"), Just("é")].prop_map(|s| V::Str(s.into())),
                0..40
            ),
            prop::collection::vec(
                prop_oneof![Just(V::Null), Just(V::Absent), (-3i64..3).prop_map(V::Int)],
                0..40
            ),
            prop::collection::vec(
                prop_oneof![
                    Just(V::Null),
                    (-3i64..3).prop_map(|i| V::Float(i as f64 / 2.0))
                ],
                0..40
            ),
            prop::collection::vec(
                prop_oneof![
                    Just(V::Absent),
                    prop_oneof![Just("DE"), Just("FR")].prop_map(|s| V::Str(s.into()))
                ],
                0..40
            ),
            prop::collection::vec(
                prop_oneof![
                    Just(V::Null),
                    prop_oneof![Just("DE"), Just("FR"), Just("US")].prop_map(|s| V::Str(s.into()))
                ],
                0..40
            ),
            prop::collection::vec(
                prop_oneof![Just(V::Absent), any::<bool>().prop_map(V::Bool)],
                0..40
            ),
        ]
    }

    /// The model: Python's semantics on the plain values.
    fn model(v: &V, op: CmpOp, probe: &Cell<'_>, absent: AbsentAs) -> bool {
        let c = match cell(v) {
            Some(c) => c,
            None if absent == AbsentAs::NoValue => return op == CmpOp::Ne,
            None => Cell::Null,
        };
        match op {
            CmpOp::Eq => py_eq(&c, probe),
            CmpOp::Ne => !py_eq(&c, probe),
            _ => match order(&c, probe) {
                Order::Known(o) => op.holds(o),
                _ => false,
            },
        }
    }

    proptest! {
        #[test]
        fn scans_match_the_model(
            col in column(),
            probe in value().prop_filter("a probe is a value", |v| !matches!(v, V::Absent)),
            op in prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne), Just(CmpOp::Lt), Just(CmpOp::Le), Just(CmpOp::Gt), Just(CmpOp::Ge)],
            chunk in 1usize..7,
            start in 0usize..45,
        ) {
            let mut l = RecordList::with_chunk_rows(chunk);
            for v in &col {
                let rec: Vec<(&str, Cell<'_>)> = cell(v).map(|c| ("f", c)).into_iter().collect();
                l.push_record(&rec).unwrap();
            }
            l.add_field("f").unwrap();
            let p = cell(&probe).unwrap();
            let (hits, undecided) = l.where_rows("f", op, &p);
            prop_assert!(undecided.is_empty());
            let want: Vec<usize> = (0..col.len()).filter(|&i| model(&col[i], op, &p, AbsentAs::NoValue)).collect();
            prop_assert_eq!(hits, want);
            let view = l.column(0);
            let mut got = Vec::new();
            view.scan(op, &p, AbsentAs::Null, start..usize::MAX, |i, _| { got.push(i); true });
            let want: Vec<usize> = (start.min(col.len())..col.len()).filter(|&i| model(&col[i], op, &p, AbsentAs::Null)).collect();
            prop_assert_eq!(got, want);
            let (n, _) = view.count_eq(&p);
            prop_assert_eq!(n, col.iter().filter(|v| model(v, CmpOp::Eq, &p, AbsentAs::Null)).count());
        }
    }

    #[test]
    fn scans_stop_when_asked_and_encoded_values_are_left_to_the_host() {
        let mut l = RecordList::new();
        for i in 0..10i64 {
            l.push_record(&[("x", Cell::Int(i % 2))]).unwrap();
        }
        l.push_record(&[("x", Cell::Str("s"))]).unwrap();
        let view = l.column(0);
        let mut seen = Vec::new();
        view.scan(
            CmpOp::Eq,
            &Cell::Int(1),
            AbsentAs::Null,
            0..usize::MAX,
            |i, _| {
                seen.push(i);
                seen.len() < 2
            },
        );
        assert_eq!(seen, vec![1, 3]);
        // The column is `object` now; strings against ints order as incomparable.
        let (hits, undecided) = l.where_rows("x", CmpOp::Lt, &Cell::Int(1));
        assert_eq!(hits, vec![0, 2, 4, 6, 8]);
        assert!(undecided.is_empty());
        let mut big = Vec::new();
        crate::variant::Writer::new(&mut big).big_int(&[0, 0, 0, 0, 0, 0, 0, 0, 1]);
        l.push_record(&[("x", Cell::Encoded(&big))]).unwrap();
        let (_, undecided) = l.where_rows("x", CmpOp::Gt, &Cell::Int(1));
        assert_eq!(undecided, vec![11]);
        assert!(CmpOp::parse("=~").is_none());
    }

    #[test]
    fn where_rows_with_asks_the_host_only_what_the_core_cannot_decide() {
        let mut l = RecordList::new();
        l.push_record(&[("v", Cell::Int(1))]).unwrap();
        l.push_record(&[("w", Cell::Int(1))]).unwrap();
        l.push_record(&[("v", Cell::Int(2))]).unwrap();
        l.push_record(&[("v", Cell::Int(1))]).unwrap();
        let never = |_: CellRef<'_>| -> Result<bool, ()> { panic!("decided by the core") };
        let probe = Some(&Cell::Int(1));
        assert_eq!(
            l.where_rows_with("v", CmpOp::Eq, probe, never),
            Ok(vec![0, 3])
        );
        assert_eq!(
            l.where_rows_with("v", CmpOp::Ne, probe, never),
            Ok(vec![1, 2])
        );
        assert_eq!(
            l.where_rows_with("x", CmpOp::Ne, None, never),
            Ok(vec![0, 1, 2, 3])
        );
        assert_eq!(l.where_rows_with("x", CmpOp::Eq, None, never), Ok(vec![]));
        // No probe: every present value goes to the host, in order; absent matches `!=`.
        let mut seen = Vec::new();
        let r = l.where_rows_with("v", CmpOp::Ne, None, |c| -> Result<bool, ()> {
            seen.push(c.to_cell().map(|c| format!("{c:?}")));
            Ok(matches!(c, CellRef::Int(2)))
        });
        assert_eq!(r, Ok(vec![1, 2]));
        assert_eq!(seen.len(), 3);
        let stop = l.where_rows_with("v", CmpOp::Eq, None, |_| Err("boom"));
        assert_eq!(stop, Err("boom"));
    }
}
