"""One ``Row`` and one ``Column`` type for a list in memory and a record file on disk
(issue 14: one read interface in the core that both storages implement).

The same records go into a list of dicts (the oracle), a DictList and a record file
(part committed, part pending); every read of a row or a column must give the oracle's
answer on both storages, and both storages must answer alike where the oracle has no
answer of its own (``sum``, ``min``, ``null_count``).
"""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path

import memslim
import numpy as np
import pyarrow as pa
import pytest
from conftest import expect_error, same
from hypothesis import given, settings
from hypothesis import strategies as st

KEYS = ["a", "b", "c"]

# Per key one family of values, so the in-memory column keeps one layout; plus None and
# an absent key.
FAMILIES = [
    st.integers(-(2**40), 2**40),
    # bounded, so that sums in another order stay close (plus the special values)
    st.floats(-1e6, 1e6) | st.sampled_from([-0.0, math.nan, math.inf, -math.inf]),
    st.sampled_from(["x", "y", "", "ünï"]),
    st.booleans(),
    st.integers(-5, 5) | st.sampled_from(["s", "t"]),  # mixed: an object column
    # ints past 53, 64 and 128 bits, whose sum and mean Python's ints decide
    st.integers(-(2**130), 2**130) | st.sampled_from([2**53 + 1, 2**126, -(2**127)]),
]


@st.composite
def records(draw):
    families = [draw(st.integers(0, len(FAMILIES) - 1)) for _ in KEYS]
    n = draw(st.integers(0, 30))
    out = []
    for _ in range(n):
        rec = {}
        for key, fam in zip(KEYS, families, strict=True):
            kind = draw(st.integers(0, 7))
            if kind == 0:
                continue  # absent
            rec[key] = None if kind == 1 else draw(FAMILIES[fam])
        out.append(rec)
    return out


def is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def outcome(f, *args):
    """``("ok", value)`` or ``("error", exception class family)``."""
    try:
        return ("ok", f(*args))
    except (TypeError, ValueError) as e:
        return ("error", TypeError if isinstance(e, TypeError) else ValueError)


def subscript(mapping, key):
    """``("ok", mapping[key])`` or ``("KeyError", its arguments)``."""
    try:
        return ("ok", mapping[key])
    except KeyError as e:
        return ("KeyError", e.args)


def same_number(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return type(a) is type(b) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return same(a, b)


def build(recs, flush_at, tmp: Path):
    mem = memslim.DictList(recs)
    path = tmp / "f.msl"
    path.unlink(missing_ok=True)
    f = memslim.DictList.open(path)
    f.extend(recs[:flush_at])
    f.flush()
    f.extend(recs[flush_at:])
    return mem, f


def check_column(oracle, mem_col, file_col):
    for col in (mem_col, file_col):
        assert type(col) is memslim.Column
        assert len(col) == len(oracle)
        assert same(list(col), oracle) and same(col.to_list(), oracle)
        if not any(map(is_nan, oracle)):  # a NaN read back is another object: never ==
            assert col == oracle
            assert (col != oracle) is False
        assert same(col[1:4], oracle[1:4]) and same(col[::-2], oracle[::-2])
        if oracle:
            assert same(col[-1], oracle[-1]) and same(col[0], oracle[0])
        expect_error(IndexError, col.__getitem__, len(oracle))
        probes = [v for v in oracle if not is_nan(v)][:3]
        for v in [*probes, "absent-value", 10**30]:
            assert col.count(v) == oracle.count(v), v
            assert (v in col) == (v in oracle), v
            want = outcome(oracle.index, v)
            assert outcome(col.index, v) == want, v
            if len(oracle) > 2:
                assert outcome(col.index, v, 1, -1) == outcome(oracle.index, v, 1, -1)
    nulls = sum(v is None for v in oracle)
    assert mem_col.null_count == file_col.null_count == nulls
    # sum, mean, min and max: the same answer (or the same refusal) from both storages
    s_mem, s_file = outcome(mem_col.sum), outcome(file_col.sum)
    assert s_mem[0] == s_file[0], (s_mem, s_file)
    if s_mem[0] == "ok":
        assert same_number(s_mem[1], s_file[1]), (s_mem, s_file)
        plain = [v for v in oracle if v is not None]
        want = sum(plain)
        assert same_number(s_mem[1], want if plain else 0) or math.isnan(want)
        m_mem, m_file = mem_col.mean(), file_col.mean()
        assert (m_mem is None) == (m_file is None) == (not plain)
        if plain:
            assert same_number(m_mem, m_file)
        if plain and all(type(v) in (int, bool) for v in plain):
            # Ints are added exactly and divided once, as Python divides ints.
            assert outcome(mem_col.mean) == outcome(lambda: sum(plain) / len(plain))
    for name in ("min", "max"):
        a, b = outcome(getattr(mem_col, name)), outcome(getattr(file_col, name))
        assert a[0] == b[0], (name, a, b)
        if a[0] == "ok":
            assert same_number(a[1], b[1]), (name, a, b)


@settings(max_examples=60, deadline=None)
@given(recs=records(), flush=st.integers(0, 30))
def test_rows_and_columns_read_alike_in_memory_and_on_disk(recs, flush):
    with tempfile.TemporaryDirectory() as d:
        mem, f = build(recs, min(flush, len(recs)), Path(d))
        try:
            for i, want in enumerate(recs):
                for row in (mem[i], f[i]):
                    assert type(row) is memslim.Row
                    assert same(dict(row), want)
                    if not any(map(is_nan, want.values())):
                        assert row == want
                        assert (row != want) is False
                    assert same(row.to_dict(), want) and same(row.copy(), want)
                    assert list(row) == list(want) and len(row) == len(want)
                    assert list(row.keys()) == list(want.keys())
                    assert same(list(row.values()), list(want.values()))
                    for k in [*KEYS, "zz", 3]:
                        assert (k in row) == (k in want)
                        got, exp = subscript(row, k), subscript(want, k)
                        assert got[0] == exp[0] and same(got[1], exp[1]), (k, got, exp)
                        assert same(row.get(k, "dflt"), want.get(k, "dflt"))
                    assert same(row | {"n": 1}, want | {"n": 1})
                    assert same({"n": 1} | row, {"n": 1} | want)
                    assert repr(row) == repr(want)
                if not any(map(is_nan, want.values())):
                    assert mem[i] == f[i] and f[i] == mem[i]
            for key in KEYS:
                if not any(key in r for r in recs):
                    continue
                oracle = [r.get(key) for r in recs]
                check_column(oracle, mem.column(key), f.column(key))
        finally:
            f.close()


@pytest.fixture
def file_rows(tmp_path):
    f = memslim.DictList.open(tmp_path / "r.msl")
    f.extend([{"id": i, "x": i * 0.5, "s": f"s{i % 3}"} for i in range(40)])
    f.flush()
    f.append({"id": 40, "x": None})
    yield f
    f.close()


def test_a_file_row_is_read_only_and_says_so(file_rows):
    row = file_rows[0]
    for write in (
        lambda: row.__setitem__("id", 1),
        lambda: row.__delitem__("id"),
        lambda: row.update(id=2),
        lambda: row.pop("id"),
        lambda: row.popitem(),
        lambda: row.setdefault("new", 1),
        lambda: row.clear(),
    ):
        e = expect_error(TypeError, write)
        assert isinstance(e, memslim.MemslimError) and "append-only" in str(e)
    assert row == {"id": 0, "x": 0.0, "s": "s0"}  # unchanged
    # reading what exists is fine on a read-only row
    assert row.setdefault("id", 9) == 0
    assert row.index == 0 and file_rows[-1].index == 40
    mem = memslim.DictList([{"id": 0}])
    expect_error(AttributeError, lambda: mem[0].index)


def test_file_columns_hand_out_numbers_like_list_columns(file_rows):
    col = file_rows.column("id")
    mem = memslim.DictList(file_rows.to_list()).column("id")
    assert np.asarray(col).tolist() == np.asarray(mem).tolist() == list(range(41))
    assert bytes(memoryview(col)) == bytes(memoryview(mem))
    assert memoryview(col).format == "q" and memoryview(col).readonly
    assert pa.array(col.to_list()).equals(pa.array(mem.to_list()))
    t = pa.table(col)
    assert t.column(0).to_pylist() == list(range(41))
    assert col.dtype == mem.dtype == "int64"
    x = file_rows.column("x")
    expect_error(AttributeError, lambda: x.__array_interface__)  # a null
    assert file_rows.column("s").count("s1") == 13
    expect_error(TypeError, file_rows.column("s").sum)


def test_a_column_of_a_closed_file_refuses_to_read(tmp_path):
    f = memslim.DictList.open(tmp_path / "c.msl")
    f.extend([{"a": 1}, {"a": 2}])
    col, row = f.column("a"), f[0]
    f.close()
    expect_error(ValueError, col.__getitem__, 0)
    expect_error(ValueError, col.sum)
    expect_error(ValueError, row.__getitem__, "a")


def test_the_old_names_still_work_and_warn():
    for old, new in (("FileRow", memslim.Row), ("FileColumn", memslim.Column)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert getattr(memslim, old) is new
        assert any(issubclass(w.category, DeprecationWarning) for w in caught)


# -- Column iterators ---------------------------------------------------------------

column_values = st.one_of(
    st.none(),
    st.just("<absent>"),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=3),
)


@given(
    st.lists(column_values, max_size=700),
    st.lists(st.tuples(st.integers(0, 2), st.integers(1, 60)), max_size=40),
)
def test_column_iterators_hand_out_the_values_in_order_across_batches(values, steps):
    # A list's column iterator makes values a growing batch ahead (8 up to 256): several
    # iterators, advanced by turns, each give the column's values in order, then stay
    # exhausted; a write to the list after the column was taken is not seen (a snapshot).
    recs = [{} if v == "<absent>" else {"v": v} for v in values]
    rows = memslim.DictList(recs)
    col = rows.column("v") if any("v" in r for r in recs) else None
    if col is None:
        return
    oracle = [r.get("v") for r in recs]
    if rows:
        rows[0]["v"] = "written after"
    its = [iter(col), iter(col), iter(col[::2])]
    wants = [iter(oracle), iter(oracle), iter(oracle[::2])]
    for which, n in steps:
        got = [v for _, v in zip(range(n), its[which])]
        want = [v for _, v in zip(range(n), wants[which])]
        assert same(got, want)
    for it, want in zip(its, wants):
        assert same(list(it), list(want))
        assert list(it) == []


class Fuse:
    def __reduce__(self):
        return (_blow, ())


FUSE = {"lit": False}


def _blow():
    if FUSE["lit"]:
        raise RuntimeError("cannot load this one")
    return Fuse()


def test_a_column_value_that_fails_to_load_raises_when_reached_and_iteration_goes_on():
    rows = memslim.DictList([{"v": Fuse() if i == 70 else i} for i in range(200)])
    col = rows.column("v")
    FUSE["lit"] = True
    try:
        it = iter(col)
        got = [next(it) for _ in range(70)]
        assert got == list(range(70))
        with pytest.raises(RuntimeError, match="cannot load"):
            next(it)
        # As reading value by value did: the next call goes on after the failing value.
        assert list(it) == list(range(71, 200))
    finally:
        FUSE["lit"] = False


class Peek:
    def __reduce__(self):
        return (_peek, ())


PEEK = {"it": None, "took": []}


def _peek():
    it, PEEK["it"] = PEEK["it"], None
    if it is not None:
        PEEK["took"].append(next(it))
    return Peek()


def test_a_value_whose_loading_advances_the_iterator_is_handed_out_once():
    # Loading a pickled value may run code that takes values from the same iterator:
    # between them, the two callers see every value once, in order.
    rows = memslim.DictList([{"v": Peek() if i == 3 else i} for i in range(40)])
    it = iter(rows.column("v"))
    PEEK["it"], PEEK["took"] = it, []
    try:
        seen = list(it)
    finally:
        PEEK["it"] = None
    got = PEEK["took"] + seen
    assert len(got) == 40
    assert [v for v in got if not isinstance(v, Peek)] == [i for i in range(40) if i != 3]


def result_of(f, *args, **kwargs):
    """What a call gives: its value, or the type of what it raised."""
    try:
        return ("value", f(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - the type is the answer
        return ("raised", type(e))


def test_keys_no_field_has_are_answered_as_a_dict_answers_them(file_rows):
    """A key of another type is missing, but one a dict cannot hold raises TypeError."""
    want = {"id": 0, "x": 0.0, "s": "s0"}
    rows = memslim.DictList([want])
    asks = {
        "get": lambda m, k: m.get(k),
        "get with default": lambda m, k: m.get(k, "d"),
        "in": lambda m, k: k in m,
        "subscript": lambda m, k: m[k],
    }
    for key in ([1], {"a": 1}, {1}, 1, 1.5, None, b"id", ("id",), "nope"):
        for name, ask in asks.items():
            expected = result_of(ask, want, key)
            for row in (rows[0], file_rows[0]):
                assert result_of(ask, row, key) == expected, (name, key, row)
    # ... also through the lookups that write, on a writable row
    expect_error(TypeError, rows[0].pop, [1], None)
    expect_error(TypeError, rows[0].setdefault, [1], None)
    for key in ([1], {"a": 1}, {1}):
        expect_error(TypeError, rows[0].__delitem__, key)
    expect_error(KeyError, rows[0].__delitem__, 1)
    assert rows.to_list() == [want]


def test_row_update_takes_what_dict_update_takes():
    rows = memslim.DictList([{"a": 1, "b": 2}])
    row, plain = rows[0], {"a": 1, "b": 2}
    calls = (
        ((None,), {}),
        ((1,), {}),
        (({"a": 3}, {"b": 4}), {}),
        ((), {}),
        (([["a", 8]],), {}),  # pairs as lists, as json.loads gives them
        ((["ab"],), {}),  # a two-character string is a pair
        (("ab",), {}),  # one-character strings are not
        (([("a", 1, 2)],), {}),
        (([5],), {}),
        (((p for p in [("b", 9)]),), {}),
    )
    for args, kwargs in calls:
        want = result_of(plain.update, *args, **kwargs)
        assert result_of(row.update, *args, **kwargs) == want, args
    row.update(a=5)
    row.update([("b", 6)], a=7)
    plain.update(a=5)
    plain.update([("b", 6)], a=7)
    assert row == plain and rows.to_list() == [plain]


NUMBERS = st.lists(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.integers(-5, 5)
    | st.floats(-1e6, 1e6)
    | st.sampled_from([-0.0, math.nan, math.inf, 2**130, -(2**127) - 1, 2**60 + 1, 2.0**60]),
    min_size=1,
    max_size=12,
)


def emptied(values):
    """Columns of `values` whose Nones were numbers first, then set to None or deleted:
    a slot emptied so keeps the number it held until something else is written there."""
    first = [{"v": 7 if v is None else v} for v in values]
    set_none, deleted = memslim.DictList(first), memslim.DictList(first)
    tl = memslim.TupleList([(r["v"],) for r in first], ("v",), row_type=tuple)
    for i, v in enumerate(values):
        if v is None:
            set_none[i]["v"] = None
            del deleted[i]["v"]
            tl[i] = (None,)
    if all(v is None for v in values):
        # Deleted from every record: no record has the field, so there is no column.
        expect_error(KeyError, deleted.column, "v")
        return set_none.column("v"), tl.column("v")
    return set_none.column("v"), deleted.column("v"), tl.column("v")


@settings(max_examples=150, deadline=None)
@given(NUMBERS, st.integers(0, 12))
def test_sum_min_max_of_numbers_answer_as_python_does(values, flush):
    """However the numbers are stored (typed, or `object` for a bool among ints or an int
    past 64 bits), in memory or in a file: Python's answer, or a clear refusal."""
    nn = [v for v in values if v is not None]
    ints = [v for v in nn if not isinstance(v, float)]
    floats = [v for v in nn if isinstance(v, float)]
    recs = [{"v": v} for v in values]
    with tempfile.TemporaryDirectory() as d:
        f = memslim.DictList.open(Path(d) / "n.msl")
        try:
            f.extend(recs[:flush])
            f.flush()
            f.extend(recs[flush:])
            for col in (memslim.DictList(recs).column("v"), f.column("v"), *emptied(values)):
                # sum: exact over ints and bools; past 128 bits Python's own sum answers
                if any(abs(i) >= 2**127 for i in ints):
                    got, want = col.sum(), sum(nn)
                    assert same(got, want) or math.isnan(got) and math.isnan(want)
                elif not floats:
                    assert same(col.sum(), sum(nn))
                else:
                    got, want = col.sum(), sum(nn)
                    assert isinstance(got, float)
                    if math.isnan(want):
                        assert math.isnan(got)
                    else:
                        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), (got, want)
                # min / max: the values themselves, first of equals, as Python picks
                if not nn:
                    expect_error(ValueError, col.min)
                else:
                    assert same(col.min(), min(nn)) and same(col.max(), max(nn))
        finally:
            f.close()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.none()
        | st.binary(max_size=3)
        | st.tuples(st.integers(-2, 2), st.integers(-2, 2))
        | st.lists(st.integers(-2, 2), max_size=2)
        | st.integers(-(2**130), 2**130),
        min_size=1,
        max_size=10,
    )
)
def test_min_max_sum_of_other_values_answer_as_python_does(tmp_path_factory, values):
    """Bytes natively; containers, big ints and mixes by Python itself: Python's answer,
    or the TypeError Python raises, over the values that are not None."""
    nn = [v for v in values if v is not None]
    recs = [{"v": v} for v in values]
    path = tmp_path_factory.mktemp("agg") / "a.msl"
    with memslim.DictList.open(path) as f:
        f.extend(recs)
        f.flush()
        for col in (memslim.DictList(recs).column("v"), f.column("v")):
            for name, ours, theirs in (
                ("min", col.min, min),
                ("max", col.max, max),
                ("sum", col.sum, sum),
            ):
                want = result_of(theirs, nn) if nn or name == "sum" else ("raised", ValueError)
                got = result_of(ours)
                assert got[0] == want[0], (name, got, want)
                if want[0] == "value":
                    assert same(got[1], want[1]), name
                else:
                    assert issubclass(got[1], want[1]), (name, got, want)


def test_aggregates_of_a_column_whose_values_all_went_away_skip_the_nulls(tmp_path):
    deleted = memslim.DictList([{"f": "a"}, {"f": None}])
    del deleted[0]
    overwritten = memslim.DictList([{"f": b"a"}, {}])
    overwritten[0]["f"] = None
    with memslim.DictList.open(tmp_path / "n.msl") as f:
        f.extend([{"f": None}, {}])
        f.flush()
        for col in (deleted.column("f"), overwritten.column("f"), f.column("f")):
            assert same((col.sum(), col.mean()), (0, None))
            expect_error(ValueError, col.min)
    expect_error(memslim.UnsupportedTypeError, memslim.DictList([{"f": "a"}]).column("f").sum)


def test_a_sum_is_a_float_only_when_a_float_is_among_the_values(tmp_path):
    """A float column's slice, selection or remains may hold only its ints (or nulls):
    Python's sum of those is an int."""
    rows = memslim.DictList([{"x": 1.5}, {"x": 1}, {"x": 2}, {"x": None}])
    popped = memslim.DictList([{"x": 1}, {"x": 2}, {"x": 0.5}])
    popped.pop()
    overwritten = memslim.DictList([{"x": 0.5}, {"x": 2}])
    overwritten[0]["x"] = 3
    tl = memslim.TupleList([(1.5,), (1,), (2,)], ("x",), row_type=tuple)
    f = memslim.DictList.open(tmp_path / "f.msl")
    f.extend([{"x": 1}, {"x": 2}])
    f.flush()
    f.extend([{"x": None}, {"x": None}])  # a batch of nulls only
    f.flush()
    cases = [
        rows[1:],
        rows[3:],
        rows.where("x", "<", 1.5),
        memslim.DictList(rows[1:]),
        popped,
        overwritten,
        tl[1:],
        f,
        rows,
        tl,
    ]
    try:
        for lst in cases:
            col = lst.column("x")
            want = sum(v for v in col.to_list() if v is not None)
            assert same(col.sum(), want), (col.to_list(), col.sum())
    finally:
        f.close()
