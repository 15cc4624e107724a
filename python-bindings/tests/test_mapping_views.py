"""``keys()``, ``values()`` and ``items()`` of ``Row`` (in memory and in a record file) and
of ``DocView`` behave as a dict's views do, with the dict as the oracle: contents and
order, ``repr``, membership, the set operations with any iterable, comparisons with
sets, liveness, and the copies CPython makes through them (``dict(row)``, ``{**row}``).
"""

from __future__ import annotations

import math
import types
from collections import abc

import memslim
import pytest
from conftest import same
from hypothesis import given, settings
from hypothesis import strategies as st

KEYS = ["a", "b", "c", "d"]
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.sampled_from(["x", "y", "", "ünï"])
    | st.lists(st.integers(-3, 3), max_size=2)  # unhashable: items() cannot make a set
)


@st.composite
def records(draw):
    """Records over a few keys, each key absent from some, in varying key order."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        keys = draw(st.permutations(KEYS))
        n = draw(st.integers(0, len(KEYS)))
        out.append({k: draw(VALUES) for k in keys[:n]})
    return out


def has_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def outcome(f, *args):
    """What ``f(*args)`` gives, comparable across NaN objects: ``("ok", sorted reprs)``
    for a set, ``("ok", value)`` otherwise, or ``("error", exception class)``."""
    try:
        r = f(*args)
    except (TypeError, ValueError) as e:
        return ("error", type(e))
    if isinstance(r, (set, frozenset)):
        return ("ok", sorted(map(repr, r)))
    return ("ok", r)


BINARY = [
    lambda v, o: v & o,
    lambda v, o: o & v,
    lambda v, o: v | o,
    lambda v, o: o | v,
    lambda v, o: v - o,
    lambda v, o: o - v,
    lambda v, o: v ^ o,
    lambda v, o: o ^ v,
    lambda v, o: v.isdisjoint(o),
]
COMPARE = [
    lambda v, o: v == o,
    lambda v, o: v != o,
    lambda v, o: v <= o,
    lambda v, o: v < o,
    lambda v, o: v >= o,
    lambda v, o: v > o,
]


def check_views(row, want: dict, plain=lambda v: v):
    """Every view of ``row`` against the same view of ``want``; ``plain`` makes what a
    view gives comparable (a ``DocView``'s nested values are views too)."""
    clean = not any(map(has_nan, want.values()))
    assert list(row) == list(want) and len(row) == len(want)
    for name, abc_type in (
        ("keys", abc.KeysView),
        ("values", abc.ValuesView),
        ("items", abc.ItemsView),
    ):
        got, exp = getattr(row, name)(), getattr(want, name)()
        assert isinstance(got, abc_type)
        assert len(got) == len(exp)
        assert same(plain(list(got)), list(exp)), name
        assert same(plain(list(reversed(got))), list(reversed(exp))), name
        assert repr(got) == repr(exp)
        assert type(got.mapping) is types.MappingProxyType
        assert same(plain(dict(got.mapping)), want)
    keys, items, values = row.keys(), row.items(), row.values()
    for k in [*KEYS, "zz", 3]:
        assert (k in keys) == (k in want.keys())  # noqa: SIM118 - the views are what is tested
    for k, v in want.items():
        if not has_nan(v):
            assert (k, v) in items and v in values
        assert (k, "other") not in items
    for probe in [(), ("a",), ("a", 1, 2), "ab", None]:
        assert (probe in items) == (probe in want.items())
    # The set operations and comparisons, with sets, lists and the other views.
    probes = [
        set(KEYS[:2]) | {"zz"},
        ["a", "zz"],
        set(),
        want.keys(),
        {(k, v) for k, v in want.items() if not isinstance(v, list)} | {("a", "no")},
        [("a", 1), ("zz", None)],
    ]
    for got, exp in ((keys, want.keys()), (items, want.items())):
        for o in probes:
            for op in BINARY:
                if clean or got is keys:
                    assert outcome(op, got, o) == outcome(op, exp, o)
            for op in COMPARE:
                if clean or got is keys:
                    assert outcome(op, got, o) == outcome(op, exp, o)
        for bad in (5, None):
            for op in BINARY[:-1]:
                with pytest.raises(TypeError):
                    op(got, bad)
    with pytest.raises(TypeError):
        hash(keys)
    with pytest.raises(TypeError):
        values & {1}
    # What CPython copies through keys() and the lookups.
    assert same(plain(dict(row)), want) and same(plain({**row}), want)
    assert same(plain(dict(row.items())), want)


@settings(max_examples=60, deadline=None)
@given(recs=records())
def test_views_of_rows_and_docs_are_a_dicts(recs, tmp_path_factory):
    mem = memslim.DictList(recs)
    docs = memslim.DocList(recs)
    path = tmp_path_factory.mktemp("views") / "f.msl"
    f = memslim.DictList.open(path)
    f.extend(recs[:2])
    f.flush()
    f.extend(recs[2:])  # some committed, some pending
    try:
        for i, want in enumerate(recs):
            for row in (mem[i], f[i]):
                check_views(row, want)
            check_views(docs[i], want, memslim.to_builtins)
    finally:
        f.close()


def test_views_are_live_as_a_dicts_are():
    rows = memslim.DictList([{"a": 1, "b": 2}])
    row, want = rows[0], {"a": 1, "b": 2}
    views = [row.keys(), row.values(), row.items()]
    oracle = [want.keys(), want.values(), want.items()]
    for r in (row, want):
        r["c"] = 3
        del r["a"]
    for got, exp in zip(views, oracle, strict=True):
        assert list(got) == list(exp) and len(got) == len(exp)
    # A record put in its place in the list is another record, as another dict would
    # be: the views still read the one they were taken from.
    rows[0] = {"z": 0}
    assert list(views[2]) == [("b", 2), ("c", 3)] and views[0] == {"b", "c"}
    assert list(rows[0].items()) == [("z", 0)]
    row = rows[0]
    # Changing the record while iterating a view: the iteration goes over the keys the
    # record had when it began (a dict raises instead; neither skips or repeats a key).
    seen = []
    for k in row.keys():  # noqa: SIM118 - iterating the view
        seen.append(k)
        row["n" + k] = 1
    assert seen == ["z"]


def test_iterating_records_follows_the_fields_the_list_and_each_record_have():
    """``iter(row)``, ``len(row)`` and the copies made through them, as the list's fields
    and each record's keys change: records with every field in field order share their
    keys, the others list their own."""
    rows = memslim.DictList([{"a": 1, "b": 2}, {"b": 3, "a": 4}, {"a": 5}])
    want = [{"a": 1, "b": 2}, {"b": 3, "a": 4}, {"a": 5}]

    def check():
        for row, exp in zip(rows, want, strict=True):
            assert list(row) == list(exp) and len(row) == len(exp)
            assert list(row.keys()) == list(exp) and dict(row) == exp and {**row} == exp
            assert list(iter(row)) == list(exp) and sorted(row) == sorted(exp)

    check()
    # A new field for the list: the records without it list their own keys.
    for r in (rows[2], want[2]):
        r["c"] = 6
    check()
    for r in (rows[0], want[0]):
        r["c"] = 7  # now every field, in field order
    check()
    for r in (rows[0], want[0]):
        del r["a"]
        r["a"] = 8  # last now: no longer in field order
    check()
    rows.append({"a": 9, "b": 10, "c": 11, "d": 12})
    want.append({"a": 9, "b": 10, "c": 11, "d": 12})
    check()
    for r in (rows[3], want[3]):
        del r["d"]
    check()


def test_items_iteration_reuses_only_pairs_nobody_holds(tmp_path):
    """``items()`` iterates with one pair refilled while only the iterator holds it (as a
    dict's items iterator does): a pair kept by the caller keeps its key and value, a
    refilled pair holding a container is seen by the cycle collector again, and the
    iteration goes over the items the record had when it began."""
    import gc
    import sys

    want = {"a": 1, "b": [2], "c": "x", "d": None}
    f = memslim.DictList.open(tmp_path / "f.msl")
    f.append(want)
    f.flush()
    try:
        for row in (memslim.DictList([want])[0], f[0]):
            kept = list(row.items())
            assert kept == list(want.items())
            assert len({id(p) for p in kept}) == len(kept)  # every kept pair is its own
            it = iter(row.items())
            assert it.__length_hint__() == 4
            first = next(it)
            first_id = id(first)
            assert first == ("a", 1)
            # Dropped, the pair holds only atomic values: a collection untracks it.
            del first
            gc.collect()
            second = next(it)
            # Refilled, where a tuple keeps no hash (up to 3.13).
            assert (id(second) == first_id) == (sys.version_info < (3, 14))
            assert second == ("b", [2]) and gc.is_tracked(second)  # it holds a list
            third = next(it)
            assert id(third) != first_id and second == ("b", [2])  # kept: not refilled
            assert it.__length_hint__() == 1
            assert third == ("c", "x") and list(it) == [("d", None)]
            assert it.__length_hint__() == 0 and next(it, "end") == "end"
        row = memslim.DictList([want])[0]
        got = []
        for k, v in row.items():
            got.append((k, v))
            row["n" + k] = 0  # after the snapshot: not iterated
        assert got == list(want.items())
    finally:
        f.close()
