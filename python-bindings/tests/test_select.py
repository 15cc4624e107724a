"""Vectorized selection: Column.count / index / in and rows.where, against plain lists."""

from __future__ import annotations

import math
import operator
from decimal import Decimal
from fractions import Fraction

import memslim
import pytest
from conftest import HostValue, chunk_sizes, record_lists, same
from hypothesis import given, settings
from hypothesis import strategies as st
from memslim import ClosedFileError, DictList, TupleList, UntrustedDataError

OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

probes = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, -(2**63), 2**64]),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, math.nan, math.inf, 9007199254740992.0]),
    st.sampled_from(["", "DE", "a", "é", "ключ🙂"]),
    st.sampled_from([b"", b"\x00"]),
)


def where_oracle(data, field, op, value):
    """What rows.where promises on the plain list of dicts."""
    out = []
    for r in data:
        if field not in r:
            keep = op == "!="
        elif op in ("==", "!="):
            keep = OPS[op](r[field], value)
        else:
            try:
                keep = OPS[op](r[field], value)
            except TypeError:
                keep = False
        if keep:
            out.append(r)
    return out


@given(
    record_lists,
    chunk_sizes,
    st.sampled_from(["id", "name", "price", "flag", "blob", "tags", "x", "missing"]),
    st.sampled_from(list(OPS)),
    probes,
)
def test_where_matches_the_list_of_dicts(data, chunk_rows, field, op, value):
    rows = DictList(data, chunk_rows=chunk_rows)
    got = rows.where(field, op, value)
    assert type(got) is DictList
    want = where_oracle(data, field, op, value)
    assert same(got.to_list(), want)
    # The pipeline's where selects the same records, batch by batch.
    piped = memslim.stream(data, batch_size=chunk_rows or 7).where(field, op, value).collect()
    assert same(piped.to_list(), want)


def test_the_pipelines_where_compares_what_the_core_cannot_in_python():
    data = [{"a": 5}, {"a": 2**64}, {"a": Decimal("1.5")}, {"a": Fraction(7, 2)}, {"b": 1}]
    for op, value in ((">", 3), ("==", 2**64), ("<", Decimal(2)), ("!=", b"x"), ("==", [1])):
        want = where_oracle(data, "a", op, value)
        assert same(memslim.stream(data).where("a", op, value).collect().to_list(), want)
    with pytest.raises(ZeroDivisionError):
        memslim.stream(data).where("a", "==", Exploding()).collect()


@given(record_lists, chunk_sizes, st.sampled_from(["id", "name", "price", "tags"]), probes)
def test_column_count_index_contains_match_a_list(data, chunk_rows, field, value):
    rows = DictList(data, chunk_rows=chunk_rows)
    if field not in rows.columns:
        return
    col = rows.column(field)
    # A list compares by identity first, so `[nan].count(nan)` is 1 for the very object
    # `nan`; a column reads each value back as a new object (porting.md, the NaN row), so
    # the oracle compares by equality alone.
    hits = [k for k, r in enumerate(data) if r.get(field) == value]
    assert col.count(value) == len(hits)
    assert (value in col) == bool(hits)
    if hits:
        assert col.index(value) == hits[0]
        if len(hits) > 1:
            assert col.index(value, hits[0] + 1) == hits[1]
    else:
        with pytest.raises(ValueError):
            col.index(value)


def test_country_counts_and_filters_natively():
    countries = ["DE", "FR", "US", None]
    data = [{"id": i, "country": countries[i % 4], "price": i / 2} for i in range(1000)]
    data[7] = {"id": 7}  # no country key
    rows = DictList(data, chunk_rows=64)
    col = rows.column("country")
    assert col.count("DE") == sum(1 for r in data if r.get("country") == "DE")
    assert col.count(None) == sum(1 for r in data if r.get("country") is None)
    de = rows.where("country", "==", "DE")
    assert de.to_list() == [r for r in data if r.get("country") == "DE"]
    assert len(rows.where("country", "!=", "DE")) == len(data) - len(de)
    assert rows.where("price", ">=", 499).to_list() == [r for r in data if r.get("price", 0) >= 499]
    assert rows.where("id", "<", 3.5).to_list() == data[:4]
    # The result shares the records, as a comprehension over a list of dicts would;
    # its own structure (appends, deletes) is its own.
    de[0]["country"] = "XX"
    assert rows[0]["country"] == "XX"
    del de[0]
    assert len(rows) == 1000


@given(record_lists, st.integers(min_value=0, max_value=12), probes)
@settings(max_examples=40, deadline=None)
def test_where_over_a_record_file_matches_the_list_of_dicts(
    tmp_path_factory, data, flush_at, value
):
    """``DictList.open(path).where``: the same records as the list of dicts (and as a
    DictList) selects, committed or pending, read into a new DictList; every field and
    operator for each file."""
    path = tmp_path_factory.mktemp("where") / "w.msl"
    mem = DictList(data)
    with DictList.open(path) as f:
        f.extend(data[:flush_at])
        f.flush()
        f.extend(data[flush_at:])
        for field in ("id", "name", "price", "flag", "blob", "tags", "x", "missing"):
            for op in OPS:
                got = f.where(field, op, value)
                assert type(got) is DictList
                want = where_oracle(data, field, op, value)
                assert same(got.to_list(), want), (field, op)
                assert same(got.to_list(), mem.where(field, op, value).to_list())


# Arrow types a foreign stream may hold, each read a column at a time by `where`'s copy:
# (type, values hypothesis draws for it).
ARROW_COLUMNS = {
    "i8": ("int8", st.integers(-128, 127)),
    "u8": ("uint8", st.integers(0, 255)),
    "i16": ("int16", st.integers(-(2**15), 2**15 - 1)),
    "u16": ("uint16", st.integers(0, 2**16 - 1)),
    "i32": ("int32", st.integers(-(2**31), 2**31 - 1)),
    "u32": ("uint32", st.integers(0, 2**32 - 1)),
    "i64": ("int64", st.integers(-(2**63), 2**63 - 1)),
    "s": (
        "string",
        st.sampled_from(["", "UA", "JFK", "é", "日本", "2013-01-01 05:00:00", "x" * 30]),
    ),
    "ls": ("large_string", st.text(max_size=6)),
}


@given(
    st.lists(
        st.fixed_dictionaries({k: st.one_of(st.none(), v) for k, (_, v) in ARROW_COLUMNS.items()}),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=3),
    st.sampled_from(list(ARROW_COLUMNS)),
    st.sampled_from(list(OPS)),
    st.one_of(st.none(), st.integers(-200, 200), st.sampled_from(["UA", "", "é"])),
)
@settings(max_examples=60, deadline=None)
def test_where_over_an_arrow_stream_of_narrow_and_large_columns_matches_the_list_of_dicts(
    tmp_path_factory, data, parts, field, op, value
):
    """A stream pyarrow writes (ints of every width, signed or not, strings with 32- and
    64-bit offsets, nulls in any of them, several batches) is selected and copied as
    its list of dicts selects."""
    pa = pytest.importorskip("pyarrow")
    schema = pa.schema([(k, getattr(pa, t)()) for k, (t, _) in ARROW_COLUMNS.items()])
    table = pa.Table.from_pylist(data, schema=schema)
    path = tmp_path_factory.mktemp("arrows") / "t.arrows"
    with pa.ipc.new_stream(path, schema) as w:
        for batch in table.to_batches(max_chunksize=max(1, len(data) // parts)):
            w.write_batch(batch)
    with DictList.open(path, "r") as f:
        got = f.where(field, op, value).to_list()
    assert same(got, where_oracle(table.to_pylist(), field, op, value))


def test_where_over_a_file_copies_many_rows_of_a_batch_as_the_list_of_dicts_selects(tmp_path):
    """More selected records of one batch than one push of typed columns takes, strings
    with more distinct values than one run caches, nulls and absent keys in ints and
    strings: the copy is the list's comprehension."""
    data = []
    for i in range(12_000):
        r = {"id": i, "carrier": ["UA", "AA", "B6"][i % 3], "tail": f"N{i % 2_500:04d}"}
        r["delay"] = None if i % 11 == 0 else i % 97 - 20
        r["hour"] = f"2013-01-{1 + i // 500:02d} {i % 24:02d}:00:00"
        if i % 13 == 0:
            del r["tail"]
        if i % 17 == 0:
            r["hour"] = None
        if i % 19 == 0:
            del r["delay"]
        data.append(r)
    with DictList.open(tmp_path / "many.msl") as f:
        f.extend(data)
    with DictList.open(tmp_path / "many.msl", "r") as f:
        for field, op, value in [
            ("carrier", "!=", "B6"),
            ("id", ">=", 0),
            ("delay", "<", 40),
            ("tail", "!=", "N0001"),
        ]:
            got = f.where(field, op, value).to_list()
            assert same(got, where_oracle(data, field, op, value)), (field, op)
        assert same(DictList(f).to_list(), data)


# Strings a search over a record file's string column tells apart by length, by the
# first byte, by a later byte, or not at all (the probe).
SEARCH_TEXTS = ["", "UA", "AU", "UB", "U", "UAA", "é", "e\u0301", "ключ🙂", "a\x00b", "x" * 30]
_ABSENT = object()
# A batch's values of field "s": strings, ints, or both (an `object` column).
_BATCH_VALUES = {
    "str": st.sampled_from(SEARCH_TEXTS),
    "int": st.integers(-2, 2),
    "mixed": st.one_of(st.sampled_from(SEARCH_TEXTS), st.integers(-2, 2)),
}
search_batches = st.lists(
    st.sampled_from(list(_BATCH_VALUES)).flatmap(
        lambda kind: st.lists(
            st.one_of(st.just(_ABSENT), st.none(), _BATCH_VALUES[kind]), max_size=24
        )
    ),
    min_size=1,
    max_size=4,
)


@given(search_batches, st.one_of(st.sampled_from(SEARCH_TEXTS), st.none(), st.just(1)), st.data())
@settings(max_examples=80, deadline=None)
def test_a_search_for_a_string_over_a_record_file_counts_and_selects_as_the_list(
    tmp_path_factory, batches, probe, pick
):
    """``count``, ``index``, ``in`` and ``where ==`` over a record file whose field is
    searched in place, length first: empty and non-ASCII strings, nulls, absent keys, a
    column that is strings in one batch and ints (or both) in another, several batches
    and records appended after the file was opened again (pending) give what the list
    of dicts gives."""
    *committed, pending = [
        [{"i": i} if v is _ABSENT else {"i": i, "s": v} for i, v in enumerate(b)] for b in batches
    ]
    data = [r for b in [*committed, pending] for r in b]
    path = tmp_path_factory.mktemp("search") / "s.msl"
    with DictList.open(path) as f:
        for batch in committed:
            f.extend(batch)
            f.flush()
    values = [r.get("s") for r in data]
    with DictList.open(path) as f:
        f.extend(pending)
        if any("s" in r for r in data):
            col = f.column("s")
            assert col.count(probe) == values.count(probe)
            assert (probe in col) == (probe in values)
            n = len(values)
            a, b = pick.draw(st.integers(0, n)), pick.draw(st.integers(0, n))
            assert outcome(col.index, probe, a, b) == outcome(values.index, probe, a, b)
        for op in ("==", "!="):
            got = f.where("s", op, probe)
            assert same(got.to_list(), where_oracle(data, "s", op, probe)), op


def outcome(call, *args):
    """What ``call(*args)`` returns, or the type of what it raises."""
    try:
        return call(*args)
    except Exception as e:  # noqa: BLE001 - the oracle's error is the answer
        return type(e)


def test_where_over_a_file_compares_host_values_in_python_and_refuses_their_pickles(tmp_path):
    path = tmp_path / "h.msl"
    with DictList.open(path) as f:
        f.extend(
            [{"x": Decimal("1.5"), "p": 1}, {"x": 1.5, "p": 2}, {"x": 2, "p": HostValue(3)}, {}]
        )
    with DictList.open(path, "r", trusted=True) as f:
        assert [r["x"] for r in f.where("x", ">", Decimal(1))] == [Decimal("1.5"), 1.5, 2]
        assert f.where("p", "==", HostValue(3)).to_list() == [{"x": 2, "p": HostValue(3)}]
        assert len(f.where("x", "!=", Decimal("1.5"))) == 2
        with pytest.raises(ZeroDivisionError):
            f.where("x", "==", Exploding())
        with pytest.raises(ValueError, match="unknown comparison"):
            f.where("x", "=~", 1)
    with pytest.raises(ClosedFileError):
        f.where("x", "==", 1)
    # Not vouched for: a pickled value is refused whether it is compared or only copied
    # with its record, as reading that record would refuse it.
    path = tmp_path / "u.msl"
    with DictList.open(path) as f:
        f.extend([{"x": 1, "p": 1}, {"x": 2, "p": 2}, {"x": 3, "p": HostValue(3)}])
    with DictList.open(path, "r") as f:
        assert f.where("x", "<", 3).to_list() == [{"x": 1, "p": 1}, {"x": 2, "p": 2}]
        with pytest.raises(UntrustedDataError, match="u.msl"):
            f.where("x", ">", 2)
        with pytest.raises(UntrustedDataError, match="u.msl"):
            f.where("p", "==", 1)


def test_tuplelist_where_returns_a_tuplelist():
    tl = TupleList([(i, "DE" if i % 2 else "FR") for i in range(10)], ("id", "country"))
    got = tl.where("country", "==", "DE")
    assert type(got) is TupleList and got.fields == tl.fields
    assert list(got) == [(i, "DE") for i in range(1, 10, 2)]
    # Each row has every field and no other: a name outside them is a mistake, as
    # `t.cuntry` would be, not an absent key matching only `!=`.
    for op in OPS:
        with pytest.raises(KeyError, match="cuntry"):
            tl.where("cuntry", op, "DE")
    with pytest.raises(KeyError):
        TupleList([], ("id",)).where("x", "!=", 1)


class Exploding:
    def __eq__(self, other):
        raise ZeroDivisionError("probe __eq__")

    __hash__ = None


def test_a_probe_whose_eq_raises_propagates_like_a_list():
    rows = DictList([{"x": 1}, {"x": "a"}])
    col = rows.column("x")
    for call in (col.count, col.index, col.__contains__):
        with pytest.raises(ZeroDivisionError):
            call(Exploding())
    with pytest.raises(ZeroDivisionError):
        [1, "a"].count(Exploding())
    with pytest.raises(ZeroDivisionError):
        rows.where("x", "==", Exploding())


def test_probes_of_other_types_use_python_comparison():
    rows = DictList([{"x": Decimal("1.5")}, {"x": 1.5}, {"x": 2}, {}])
    col = rows.column("x")
    assert col.count(Decimal("1.5")) == 2
    assert col.index(Decimal("1.5")) == 0
    assert col.count(1.5) == 2  # the Decimal is compared by Python
    assert [r["x"] for r in rows.where("x", ">", Decimal(1))] == [Decimal("1.5"), 1.5, 2]
    assert len(rows.where("x", "!=", Decimal("1.5"))) == 2
    # big ints beyond 64 bits compare exactly
    big = DictList([{"n": 2**70}, {"n": 2**70 + 1}, {"n": 5}])
    assert big.column("n").count(2**70) == 1
    assert [r["n"] for r in big.where("n", ">", 2**70)] == [2**70 + 1]


def test_where_refuses_unknown_operators():
    with pytest.raises(ValueError, match="unknown comparison"):
        DictList([{"a": 1}]).where("a", "=~", 1)


def test_memoryview_of_numeric_columns_and_a_clear_error_otherwise():
    rows = DictList([{"i": i, "f": i / 2, "s": str(i)} for i in range(10)], chunk_rows=4)
    ints = memoryview(rows.column("i"))
    assert ints.readonly and ints.format == "q" and ints.tolist() == list(range(10))
    floats = memoryview(rows.column("f"))
    assert floats.format == "d" and floats.tolist() == [i / 2 for i in range(10)]
    with pytest.raises(BufferError, match="numeric columns without nulls"):
        memoryview(rows.column("s"))
    rows.append({"i": None})
    with pytest.raises(BufferError):
        memoryview(rows.column("i"))
