"""The one Python-value-to-cell classification (src/scalar.rs) and every caller of it.

Each way in (a DictList built from dicts in bulk, appended one record at a time, from a
record that is not a dict, a value nested in a container, a TupleList, a DocList, a
``where()`` operand, a ``Column.count`` probe) must keep bool apart from int, big ints
exact, ``-0.0`` and NaN as they are, ``None`` apart from an absent key, subclasses as
their own type (documents: as their plain base, as json writes them), and refuse what it
refused before with the same error class.
"""

from __future__ import annotations

import enum
import math
from collections import UserDict

import memslim
import pytest
from conftest import expect_error, first_difference, same, scalars, values
from hypothesis import given
from hypothesis import strategies as st
from memslim import DictList, DocList, TupleList


class Str(str):
    pass


class Int(int):
    pass


class Color(enum.IntEnum):
    RED = 1


# Values that are not plain scalars although they look like one.
lookalikes = st.sampled_from([Str("s"), Int(5), Color.RED, 2**64, -(2**63) - 1, bytearray(b"x")])

# Strings with a lone surrogate: valid Python str, not valid UTF-8.
surrogate_text = st.sampled_from(["\ud800", "a\udfffb", "\udc80\ud800"])


def _has_nan(v):
    return isinstance(v, float) and math.isnan(v)


def assert_same(actual, expected):
    assert same(actual, expected), first_difference(actual, expected)


@given(v=st.one_of(values, lookalikes))
def test_records_round_trip_every_value_by_every_way_in(v):
    record = {"a": v, "b": None}
    want = [record, {"b": v}, {}]
    assert_same(DictList(want).to_list(), want)  # plain dicts in bulk
    rows = DictList()
    for r in want:
        rows.append(r)  # one record at a time
    assert_same(rows.to_list(), want)
    assert_same(DictList(UserDict(r) for r in want).to_list(), want)  # not a dict
    nested = [{"n": [v, (v,), {"k": v}]}]
    assert_same(DictList(nested).to_list(), nested)  # inside a container
    got = TupleList([(v, None)], fields=("a", "b")).to_list()
    assert_same([tuple(r) for r in got], [(v, None)])


@given(v=st.one_of(scalars, lookalikes))
def test_a_record_equals_its_source_after_the_round_trip(v):
    rows = DictList([{"a": v}])
    if not _has_nan(v):  # a copied NaN equals nothing, the original only by identity
        assert rows.count({"a": v}) == 1
    assert rows.count({"a": v, "b": None}) == 0  # None is not absent


@given(v=st.one_of(values, st.sampled_from([2**64, -(2**63) - 1])))
def test_documents_round_trip_every_value(v):
    docs = DocList([{"a": v, "l": [v]}])
    assert_same(docs.to_python(), [{"a": v, "l": [v]}])


@pytest.mark.parametrize(("v", "base"), [(Str("s"), "s"), (Int(5), 5), (Color.RED, 1)])
def test_documents_store_subclasses_as_their_plain_base(v, base):
    # As json.dumps writes them: documents hold JSON-like values, not Python types.
    docs = DocList([{"a": v}, v])
    assert_same(docs.to_python(), [{"a": base}, base])


def test_documents_refuse_values_that_are_not_json_like():
    expect_error(TypeError, DocList().append, {"a": bytearray(b"x")})


@given(s=surrogate_text)
def test_lone_surrogates_keep_each_callers_answer(s):
    # Records store them (the general path), documents refuse them, where() compares
    # them as Python does (the list's and the pipeline's alike).
    assert_same(DictList([{"a": s}]).to_list(), [{"a": s}])
    err = expect_error(ValueError, DocList().append, {"a": s})
    assert "surrogate" in str(err)
    assert memslim.stream([{"a": "x"}]).where("a", "==", s).count() == 0
    assert memslim.stream([{"a": "x"}]).where("a", "!=", s).count() == 1
    assert len(DictList([{"a": "x"}]).where("a", "==", s)) == 0


@given(v=st.one_of(scalars, lookalikes), data=st.lists(st.one_of(scalars, lookalikes), max_size=8))
def test_column_count_matches_list_count(v, data):
    if any(_has_nan(d) for d in [v, *data]):
        return  # list.count matches NaN by identity, which a copy cannot keep
    rows = DictList([{"x": d} for d in data] + [{"y": 0}])
    if "x" in rows.columns:
        assert rows.column("x").count(v) == [*data, None].count(v)


@given(v=st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats()))
def test_where_operands_compare_natively(v):
    data = [{"a": 1}, {"a": True}, {"a": 1.0}, {"a": None}, {"a": -0.0}, {}]
    got = memslim.stream(data).where("a", "==", v).collect().to_list()
    assert_same(got, [r for r in data if "a" in r and r["a"] == v])


def test_where_compares_in_python_what_it_cannot_compare_natively():
    s = memslim.stream([{"a": 1}, {"a": 2**64}, {"a": b"x"}, {"a": [1]}])
    for probe in (2**64, b"x", [1]):
        assert s.where("a", "==", probe).collect().to_list() == [{"a": probe}]
    assert s.where("a", ">", 2**63).collect().to_list() == [{"a": 2**64}]


def test_special_floats_and_bool_keep_their_identity():
    data = [{"a": -0.0}, {"a": math.nan}, {"a": True}, {"a": 1}, {"a": 2**63 - 1}]
    for rows in (DictList(data), DictList(UserDict(r) for r in data)):
        out = rows.to_list()
        assert math.copysign(1.0, out[0]["a"]) == -1.0
        assert math.isnan(out[1]["a"])
        assert out[2]["a"] is True and type(out[3]["a"]) is int
        assert out[4]["a"] == 2**63 - 1


# Ints from -1024 to 8191 are made once per process and shared (src/convert.rs): the
# values around both edges, CPython's own small ints and the extremes come back exact.
EDGE_INTS = [
    -(2**63),
    -1025,
    -1024,
    -1023,
    -6,
    -5,
    0,
    256,
    257,
    8191,
    8192,
    8193,
    2**63 - 1,
]


def test_ints_at_the_edges_of_the_shared_range_come_back_exact():
    data = [{"a": v, "l": [v]} for v in EDGE_INTS] + [{"a": True, "l": [False]}]
    rows = DictList(data)
    assert_same(rows.to_list(), data)
    assert_same([r["a"] for r in rows], [d["a"] for d in data])
    assert_same(list(rows.column("a")), [d["a"] for d in data])
    assert_same(DocList(data).to_python(), data)
    tl = TupleList([(d["a"], d["l"]) for d in data], fields=("a", "l"))
    assert_same([tuple(t) for t in tl], [(d["a"], d["l"]) for d in data])
    assert_same([tuple(tl[i]) for i in range(len(data))], [(d["a"], d["l"]) for d in data])


def test_ints_in_the_shared_range_are_one_object_each():
    # A year, a flight number: the same value read twice is the same object, as CPython's
    # own ints from -5 to 256 are (no allocation per read). Outside the range each read
    # is a new int, equal to the stored one.
    tl = TupleList([(2013, -700, 10**6), (2013, -700, 10**6)], fields=("y", "d", "big"))
    a, b = list(tl)
    assert a.y is b.y and a.d is b.d and a.big == b.big
    rows = DictList([{"y": 2013}, {"y": 2013}])
    assert rows[0]["y"] is rows[1]["y"]
    assert [type(v) for v in rows.column("y")] == [int, int]
