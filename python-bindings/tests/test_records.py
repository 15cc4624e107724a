"""DictList, Row and Column behave like list[dict], dict and a read-only sequence."""

from __future__ import annotations

import collections
import collections.abc
import copy
import datetime
import decimal
import fractions
import json
import math
import pickle
import re
import types

import memslim
import numpy as np
import pytest
from conftest import COPIERS, VALUE_ZOO, expect_error, first_difference, same, snapshot
from memslim import DictList


def people(n=12):
    return [
        {"id": i, "name": f"user{i}", "price": i * 1.5, "qty": i % 4, "paid": i % 2 == 0}
        for i in range(n)
    ]


def make(data, chunk_rows=None, **kwargs):
    return DictList(data, chunk_rows=chunk_rows, **kwargs)


def assert_same(actual, expected):
    assert same(actual, expected), first_difference(actual, expected)


# ======================================================================================
# Construction
# ======================================================================================


def test_construct_from_list(chunk_rows):
    data = people()
    rows = make(data, chunk_rows)
    assert len(rows) == len(data)
    assert_same(rows.to_list(), data)


def test_construct_from_generator(chunk_rows):
    rows = make(({"i": i, "sq": i * i} for i in range(10)), chunk_rows)
    assert_same(rows.to_list(), [{"i": i, "sq": i * i} for i in range(10)])


@pytest.mark.parametrize("factory", [DictList, lambda: DictList([]), lambda: DictList(None)])
def test_construct_empty(factory):
    rows = factory()
    assert len(rows) == 0
    assert rows.to_list() == []
    assert rows == []
    assert list(rows) == []


def test_construct_accepts_any_mapping_and_stores_plain_dicts():
    ordered = collections.OrderedDict([("b", 1), ("a", 2)])
    proxy = types.MappingProxyType({"c": 3})
    user = collections.UserDict({"d": 4})
    rows = DictList([ordered, proxy, user])
    assert_same(rows.to_list(), [{"b": 1, "a": 2}, {"c": 3}, {"d": 4}])


def test_construct_from_another_dictlist(chunk_rows):
    source = make(people(), chunk_rows)
    rows = DictList(source)
    assert_same(rows.to_list(), people())


def test_to_list_returns_plain_dicts():
    out = DictList(people(2)).to_list()
    assert type(out) is list
    assert all(type(d) is dict for d in out)


# ======================================================================================
# Indexing and iteration
# ======================================================================================


def test_getitem_returns_row_equal_to_record(chunk_rows):
    rows = make(people(), chunk_rows)
    assert isinstance(rows[5], memslim.Row)
    assert rows[5] == people()[5]


def test_negative_index(chunk_rows):
    rows = make(people(), chunk_rows)
    assert rows[-1] == people()[-1]
    assert rows[-12] == people()[0]


@pytest.mark.parametrize("index", [12, 13, -13, 10**6, -(10**6)])
def test_index_out_of_range_raises_index_error(index, chunk_rows):
    rows = make(people(), chunk_rows)
    expect_error(IndexError, rows.__getitem__, index)
    expect_error(IndexError, rows.__setitem__, index, {"id": 0})
    expect_error(IndexError, rows.__delitem__, index)
    expect_error(IndexError, rows.pop, index)
    assert len(rows) == 12


def test_index_accepts_objects_with_dunder_index():
    rows = DictList(people())
    assert rows[np.int64(3)] == people()[3]


def test_iter_yields_rows_in_order(chunk_rows):
    rows = make(people(), chunk_rows)
    assert [dict(r) for r in rows] == people()


def test_reversed_iterates_backwards(chunk_rows):
    rows = make(people(), chunk_rows)
    assert [dict(r) for r in reversed(rows)] == people()[::-1]


# ======================================================================================
# Mutating list methods
# ======================================================================================


def test_append(chunk_rows):
    rows = make(people(3), chunk_rows)
    rows.append({"id": 99, "extra": "x"})
    assert len(rows) == 4
    assert_same(rows.to_list(), [*people(3), {"id": 99, "extra": "x"}])


def test_append_many_crossing_chunks(chunk_rows):
    rows = make([], chunk_rows)
    for rec in people(20):
        rows.append(rec)
    assert_same(rows.to_list(), people(20))


def test_extend_with_list(chunk_rows):
    rows = make(people(2), chunk_rows)
    rows.extend(people(7)[2:])
    assert_same(rows.to_list(), people(7))


def test_extend_with_generator(chunk_rows):
    rows = make(people(2), chunk_rows)
    rows.extend(r for r in people(7)[2:])
    assert_same(rows.to_list(), people(7))


def test_extend_with_itself_doubles(chunk_rows):
    rows = make(people(4), chunk_rows)
    rows.extend(rows)
    assert_same(rows.to_list(), people(4) * 2)


@pytest.mark.parametrize("index", [0, 1, 5, -1, -3, 100, -100])
def test_insert_matches_list(index, chunk_rows):
    expected = people(7)
    rows = make(expected, chunk_rows)
    new = {"id": -1, "inserted": True}
    rows.insert(index, new)
    expected.insert(index, new)
    assert_same(rows.to_list(), expected)


def test_pop_default_removes_last_and_returns_plain_dict(chunk_rows):
    rows = make(people(5), chunk_rows)
    popped = rows.pop()
    assert type(popped) is dict
    assert_same(popped, people(5)[-1])
    assert_same(rows.to_list(), people(4))


@pytest.mark.parametrize("index", [0, 2, -2])
def test_pop_index(index, chunk_rows):
    expected = people(7)
    rows = make(expected, chunk_rows)
    assert_same(rows.pop(index), expected.pop(index))
    assert_same(rows.to_list(), expected)


def test_remove_removes_first_equal_record(chunk_rows):
    data = [{"a": 1}, {"a": 2}, {"a": 1}, {"a": 3}]
    rows = make(data, chunk_rows)
    rows.remove({"a": 1})
    assert_same(rows.to_list(), [{"a": 2}, {"a": 1}, {"a": 3}])


def test_clear(chunk_rows):
    rows = make(people(), chunk_rows)
    rows.clear()
    assert len(rows) == 0
    assert rows.to_list() == []
    rows.append({"after": 1})
    assert_same(rows.to_list(), [{"after": 1}])


def _put_back(rows):
    rows[0] = rows[1]


def _swap(rows):
    rows[0], rows[1] = rows[1], rows[0]


def _clear(rows):
    rows.clear()


def _imul_0(rows):
    rows *= 0


def _imul_neg(rows):
    rows *= -3


def _make(cls, data):
    if cls is memslim.DictList:
        return cls(data)
    return cls([tuple(d.values()) for d in data], tuple(data[0]))


@pytest.mark.parametrize("cls", [memslim.DictList, memslim.TupleList])
@pytest.mark.parametrize("empty", [_clear, _imul_0, _imul_neg])
@pytest.mark.parametrize("edit", [None, _put_back, _swap])
def test_emptying_releases_the_records_whatever_the_order(cls, empty, edit):
    # A record put back (`rows[i] = rows[j]`, as random.shuffle does) leaves the order
    # aliased; emptying the list must still release every record nothing else reads,
    # as list.clear releases its items.
    data = [{"id": i, "s": f"text {i}"} for i in range(5000)]
    rows = _make(cls, data)
    full = rows.nbytes
    if edit:
        edit(rows)
    empty(rows)
    assert len(rows) == 0 and list(rows) == []
    assert rows.nbytes < full / 10, (rows.nbytes, full)
    rows.append(data[0] if cls is memslim.DictList else (0, "text 0"))
    assert len(rows) == 1 and rows[0][0 if cls is memslim.TupleList else "id"] == 0
    # A view still held keeps its record readable (and the store), as a dict taken
    # from a list outlives the list's clear().
    again = _make(cls, data)
    held = again[7]
    if edit:
        edit(again)
    empty(again)
    assert len(again) == 0
    assert (held["id"] if cls is memslim.DictList else held[0]) == 7


def _del_tail(rows):
    del rows[10:]


def _assign_tail(rows):
    rows[10:] = []


def _pops(rows):
    while len(rows) > 10:
        rows.pop()


@pytest.mark.parametrize("cls", [memslim.DictList, memslim.TupleList])
@pytest.mark.parametrize("cut", [_del_tail, _assign_tail, _pops])
def test_cutting_most_of_a_list_gives_its_memory_back(cls, cut):
    data = [{"a": i, "b": f"text {i % 300}", "c": i / 3} for i in range(50_000)]
    rows = _make(cls, data)
    full = rows.nbytes
    cut(rows)
    # The string dictionary keeps the 290 strings no record holds any more (it is
    # rebuilt past 4,096 of them), and the `str` objects made for those `pop` read
    # (~60 bytes each, and a 16-byte slot).
    assert rows.nbytes < full / 20 + 300 * 80, (rows.nbytes, full)
    want = data[:10] if cls is memslim.DictList else [tuple(d.values()) for d in data[:10]]
    assert rows == want


def test_reverse(chunk_rows):
    rows = make(people(), chunk_rows)
    rows.reverse()
    assert_same(rows.to_list(), people()[::-1])


def test_sort_with_key(chunk_rows):
    data = [{"k": v, "i": i} for i, v in enumerate([5, 3, 9, 1, 7, 2, 8])]
    rows = make(data, chunk_rows)
    rows.sort(key=lambda r: r["k"])
    assert_same(rows.to_list(), sorted(data, key=lambda d: d["k"]))


def test_sort_key_receives_rows():
    seen = []
    rows = DictList(people(3))
    rows.sort(key=lambda r: seen.append(type(r)) or r["id"])
    assert seen and all(t is memslim.Row for t in seen)


def test_sort_reverse(chunk_rows):
    data = [{"k": v} for v in [5, 3, 9, 1, 7, 2, 8]]
    rows = make(data, chunk_rows)
    rows.sort(key=lambda r: r["k"], reverse=True)
    assert_same(rows.to_list(), sorted(data, key=lambda d: d["k"], reverse=True))


def test_sort_is_stable(chunk_rows):
    data = [{"k": k, "i": i} for i, k in enumerate([1, 0, 1, 0, 1, 0, 2])]
    rows = make(data, chunk_rows)
    rows.sort(key=lambda r: r["k"])
    assert [r["i"] for r in rows] == [1, 3, 5, 0, 2, 4, 6]


def test_sort_reverse_is_stable(chunk_rows):
    data = [{"k": k, "i": i} for i, k in enumerate([1, 0, 1, 0, 1, 0, 2])]
    rows = make(data, chunk_rows)
    rows.sort(key=lambda r: r["k"], reverse=True)
    assert [r["i"] for r in rows] == [6, 0, 2, 4, 1, 3, 5]


def test_index_finds_first_equal_record(chunk_rows):
    rows = make([{"a": 1}, {"a": 2}, {"a": 1}, {"a": 2}], chunk_rows)
    assert rows.index({"a": 2}) == 1
    assert rows.index({"a": 2}, 2) == 3
    assert rows.index({"a": 1}, -2) == 2
    expect_error(ValueError, rows.index, {"a": 2}, 0, 1)


def test_count(chunk_rows):
    rows = make([{"a": 1}, {"a": 2}, {"a": 1}, {"a": 1, "b": None}], chunk_rows)
    assert rows.count({"a": 1}) == 2
    assert rows.count({"a": 1, "b": None}) == 1
    assert rows.count({"zzz": 0}) == 0


def test_contains(chunk_rows):
    rows = make(people(), chunk_rows)
    assert people()[7] in rows
    assert {"id": 7} not in rows
    assert 5 not in rows
    assert "id" not in rows


def test_setitem_index_replaces_record(chunk_rows):
    expected = people()
    rows = make(expected, chunk_rows)
    rows[4] = {"totally": "different"}
    rows[-1] = {"id": 1000}
    expected[4] = {"totally": "different"}
    expected[-1] = {"id": 1000}
    assert_same(rows.to_list(), expected)


def test_setitem_with_a_row_of_the_same_list(chunk_rows):
    expected = people()
    rows = make(expected, chunk_rows)
    rows[0] = rows[5]
    expected[0] = expected[5]
    assert_same(rows.to_list(), expected)


# ======================================================================================
# Slices
# ======================================================================================

SLICES = [
    slice(None),
    slice(2, 5),
    slice(-3, None),
    slice(None, -3),
    slice(10, 100),
    slice(5, 2),
    slice(None, None, 2),
    slice(1, None, 3),
    slice(None, None, -1),
    slice(8, 1, -2),
    slice(-1, -10, -3),
]


@pytest.mark.parametrize("s", SLICES, ids=str)
def test_slice_read_matches_list(s, chunk_rows):
    rows = make(people(), chunk_rows)
    part = rows[s]
    assert isinstance(part, DictList)
    assert_same(part.to_list(), people()[s])


def test_slice_shares_records_but_not_structure(chunk_rows):
    rows, plain = make(people(), chunk_rows), people()
    for lst in (rows, plain):
        part = lst[2:6]
        part[0]["name"] = "changed"
        part.append({"id": -1})
        lst[3]["name"] = "also changed"
        del part[2]
    assert_same(rows.to_list(), plain)
    assert rows[2]["name"] == "changed" and len(rows) == 12


@pytest.mark.parametrize(
    "s, new_len", [(slice(1, 3), 0), (slice(1, 3), 5), (slice(0, 0), 2), (slice(-2, None), 1)]
)
def test_slice_assign_any_length(s, new_len, chunk_rows):
    expected = people(8)
    rows = make(expected, chunk_rows)
    new = [{"new": i} for i in range(new_len)]
    rows[s] = new
    expected[s] = new
    assert_same(rows.to_list(), expected)


def test_slice_assign_from_generator(chunk_rows):
    expected = people(8)
    rows = make(expected, chunk_rows)
    rows[2:4] = ({"g": i} for i in range(3))
    expected[2:4] = [{"g": i} for i in range(3)]
    assert_same(rows.to_list(), expected)


def test_slice_assign_from_itself(chunk_rows):
    expected = people(5)
    rows = make(expected, chunk_rows)
    rows[1:] = rows
    expected[1:] = expected
    assert_same(rows.to_list(), expected)


@pytest.mark.parametrize("s", [slice(None, None, 2), slice(1, None, 3), slice(None, None, -1)])
def test_extended_slice_assign(s, chunk_rows):
    expected = people(9)
    rows = make(expected, chunk_rows)
    new = [{"ext": i} for i in range(len(expected[s]))]
    rows[s] = new
    expected[s] = new
    assert_same(rows.to_list(), expected)


def test_extended_slice_assign_wrong_length_raises_value_error(chunk_rows):
    rows = make(people(9), chunk_rows)
    with pytest.raises(ValueError):
        people(9)[::2] = [{"x": 1}]  # what list does
    expect_error(ValueError, rows.__setitem__, slice(None, None, 2), [{"x": 1}])
    assert_same(rows.to_list(), people(9))


@pytest.mark.parametrize("s", SLICES, ids=str)
def test_delete_slice_matches_list(s, chunk_rows):
    expected = people()
    rows = make(expected, chunk_rows)
    del rows[s]
    del expected[s]
    assert_same(rows.to_list(), expected)


def test_delete_index(chunk_rows):
    expected = people()
    rows = make(expected, chunk_rows)
    del rows[3]
    del rows[-1]
    del expected[3]
    del expected[-1]
    assert_same(rows.to_list(), expected)


# ======================================================================================
# Operators and protocols
# ======================================================================================


def test_add_plain_list_returns_new_dictlist(chunk_rows):
    rows = make(people(3), chunk_rows)
    combined = rows + [{"z": 1}]
    assert isinstance(combined, DictList)
    assert_same(combined.to_list(), [*people(3), {"z": 1}])
    assert_same(rows.to_list(), people(3))


def test_add_dictlist(chunk_rows):
    a = make(people(3), chunk_rows)
    b = make([{"z": 1}], chunk_rows)
    combined = a + b
    assert_same(combined.to_list(), [*people(3), {"z": 1}])
    assert len(a) == 3 and len(b) == 1


def test_iadd_extends_in_place(chunk_rows):
    rows = make(people(3), chunk_rows)
    same_object = rows
    rows += [{"z": 1}]
    rows += DictList([{"z": 2}])
    assert rows is same_object
    assert_same(rows.to_list(), [*people(3), {"z": 1}, {"z": 2}])


def test_equal_to_plain_list_and_dictlist(chunk_rows):
    rows = make(people(), chunk_rows)
    assert rows == people()
    assert rows == DictList(people())
    assert (rows != people()) is False
    assert (rows != DictList(people())) is False


def test_not_equal_when_content_differs(chunk_rows):
    rows = make(people(), chunk_rows)
    changed = people()
    changed[7]["qty"] = 1000
    assert rows != changed
    assert rows != changed[:-1]
    assert rows != DictList(changed)
    assert (rows == changed) is False


def test_equality_follows_dict_semantics():
    # dict equality ignores key order and compares values with ==, like list[dict] does.
    rows = DictList([{"a": 1, "b": 2.0}])
    assert rows == [{"b": 2, "a": 1}]


def test_not_equal_to_non_sequences():
    rows = DictList(people(2))
    assert rows != 5
    assert rows != "abc"
    assert rows != [1, 2]
    assert (rows == None) is False


def test_is_a_mutable_sequence():
    rows = DictList(people(2))
    assert isinstance(rows, collections.abc.MutableSequence)
    assert isinstance(rows[0], collections.abc.MutableMapping)
    assert isinstance(rows.column("id"), collections.abc.Sequence)


def test_dictlist_is_unhashable_like_list():
    expect_error(TypeError, hash, DictList(people(2)))


def test_row_is_unhashable_like_dict():
    expect_error(TypeError, hash, DictList(people(2))[0])


def test_repr_of_a_million_rows_is_short():
    rows = DictList({"i": i} for i in range(1_000_000))
    text = repr(rows)
    assert isinstance(text, str)
    assert 0 < len(text) < 1000


def test_row_repr_is_dict_like():
    row = DictList([{"b": 1, "a": "x"}])[0]
    assert repr({"b": 1, "a": "x"}) in repr(row)


# ======================================================================================
# Copies and pickling
# ======================================================================================


def zoo_records():
    return [{"name": name, "value": value} for name, value in VALUE_ZOO.items()] + people(5)


@pytest.mark.parametrize("copier", list(COPIERS.values()), ids=list(COPIERS))
def test_copy_round_trips(copier, chunk_rows):
    rows = make(zoo_records(), chunk_rows)
    clone = copier(rows)
    assert type(clone) is DictList
    assert clone is not rows
    assert_same(clone.to_list(), zoo_records())
    assert clone.schema == rows.schema
    assert clone.columns == rows.columns


@pytest.mark.parametrize("copier", list(COPIERS.values()), ids=list(COPIERS))
def test_mutating_a_copy_acts_as_on_a_list_of_dicts(copier, chunk_rows):
    # Shallow copies share the records (writes show in both), deep copies and pickles
    # do not; the structure (append, del, sort) is each list's own. The plain list,
    # copied the same way, is the oracle.
    rows, plain = make(people(), chunk_rows), people()
    clone, pclone = copier(rows), copier(plain)
    for c in (clone, pclone):
        c[0]["name"] = "changed"
        c[1]["brand_new"] = 1
        c.append({"id": -1})
        del c[5]
        c.sort(key=lambda r: -r["id"])
    assert_same(rows.to_list(), plain)
    assert_same(clone.to_list(), pclone)


@pytest.mark.parametrize("copier", list(COPIERS.values()), ids=list(COPIERS))
def test_mutating_the_original_acts_as_on_a_list_of_dicts(copier, chunk_rows):
    rows, plain = make(people(), chunk_rows), people()
    clone, pclone = copier(rows), copier(plain)
    for lst in (rows, plain):
        lst[0]["name"] = "changed"
        lst[2]["price"] = "now a string"
        lst.insert(0, {"id": -1})
        lst.reverse()
    assert_same(clone.to_list(), pclone)
    assert_same(rows.to_list(), plain)


def test_pickle_keeps_explicit_schema_of_empty_list():
    rows = DictList([], schema={"a": "int64", "b": "str"})
    clone = pickle.loads(pickle.dumps(rows))
    assert clone.schema == {"a": "int64", "b": "str"}
    assert clone.columns == ["a", "b"]


def test_deepcopy_respects_memo():
    rows = DictList(people(2))
    first, second = copy.deepcopy([rows, rows])
    assert first is second


# ======================================================================================
# Row: the MutableMapping interface
# ======================================================================================


def one_row(record=None):
    record = {"a": 1, "b": "two", "c": None} if record is None else record
    rows = DictList([{"other": 0}, record, {"other": 2}])
    return rows, rows[1]


def test_row_getitem_and_get():
    _, row = one_row()
    assert row["a"] == 1
    assert row["c"] is None
    assert row.get("b") == "two"
    assert row.get("missing") is None
    assert row.get("missing", "dflt") == "dflt"
    assert row.get("c", "dflt") is None


def test_row_missing_key_raises_key_error():
    _, row = one_row()
    expect_error(KeyError, row.__getitem__, "missing")
    expect_error(KeyError, row.__getitem__, "other")  # a column, but absent in this row


def test_row_len_contains_iter():
    _, row = one_row()
    assert len(row) == 3
    assert "a" in row and "c" in row
    assert "other" not in row
    assert 1 not in row
    assert list(row) == ["a", "b", "c"]


def test_row_keys_values_items_in_order():
    _, row = one_row()
    assert list(row.keys()) == ["a", "b", "c"]
    assert list(row.values()) == [1, "two", None]
    assert list(row.items()) == [("a", 1), ("b", "two"), ("c", None)]
    assert len(row.keys()) == len(row.values()) == len(row.items()) == 3


def test_row_keys_are_set_like():
    _, row = one_row()
    keys = row.keys()
    assert keys == {"a", "b", "c"}
    assert keys & {"a", "zz"} == {"a"}
    assert keys | {"zz"} == {"a", "b", "c", "zz"}
    assert keys - {"a"} == {"b", "c"}
    assert "b" in keys and "zz" not in keys


def test_row_items_are_set_like():
    _, row = one_row()
    items = row.items()
    assert items == {("a", 1), ("b", "two"), ("c", None)}
    assert items & {("a", 1), ("a", 2)} == {("a", 1)}
    assert ("b", "two") in items
    assert ("b", "three") not in items


def test_row_setitem_existing_key_keeps_position():
    rows, row = one_row()
    row["a"] = 100
    assert list(row.items()) == [("a", 100), ("b", "two"), ("c", None)]
    assert_same(rows.to_list()[1], {"a": 100, "b": "two", "c": None})


def test_row_delitem_then_readd_moves_key_to_end():
    rows, row = one_row()
    del row["a"]
    assert list(row) == ["b", "c"]
    row["a"] = 5
    assert list(row) == ["b", "c", "a"]
    assert_same(rows.to_list()[1], {"b": "two", "c": None, "a": 5})


def test_row_writes_each_kind_of_value_as_a_dict_would():
    # `row[key] = value` and `del row[key]` have a fast path for scalars written to a
    # field the list has; every other case goes the full way. Both must act as a dict.
    data = [{"i": 1, "f": 0.5, "s": "x", "b": True, "n": None} for _ in range(3)]
    rows = DictList(data)
    plain = [dict(r) for r in data]
    writes = [
        ("i", 2),
        ("i", True),
        ("i", 2**70),
        ("i", -0.0),
        ("f", 7),
        ("f", math.nan),
        ("s", 3),
        ("s", "y"),
        ("b", None),
        ("n", False),
        ("new", 1),
        ("new", "z"),
        ("i", [1, {"k": 2}]),
    ]
    for k, (key, value) in enumerate(writes):
        rows[k % 3][key] = value
        plain[k % 3][key] = value
        assert_same(rows.to_list(), plain)
    for key in ("i", "new", "s"):
        del rows[1][key]
        del plain[1][key]
        assert_same(rows.to_list(), plain)
        assert list(rows[1]) == list(plain[1])
    with pytest.raises(KeyError):
        del rows[1]["i"]
    with pytest.raises(KeyError):
        del rows[1]["never"]
    with pytest.raises(memslim.SchemaError):
        rows[0][1] = 2
    assert_same(rows.to_list(), plain)


def test_row_get_and_in_answer_as_a_dict_does(tmp_path):
    data = [{"a": 1, "n": [1, {"k": None}], "s": "x"}, {"s": "y"}]
    rows = DictList(data)
    marker = object()
    for row, plain in zip(rows, data):
        for key in ("a", "n", "s", "zz", 3, ("t",)):
            assert_same(row.get(key), plain.get(key))
            assert (key in row) == (key in plain)
            if key in plain:
                assert_same(row.get(key, marker), plain[key])
            else:
                assert row.get(key, marker) is marker
    for bad in ((), ("a", 1, 2)):
        with pytest.raises(TypeError):
            rows[0].get(*bad)
        with pytest.raises(TypeError):
            {}.get(*bad)
    with pytest.raises(TypeError):
        rows[0].get("a", default=0)  # positional only, as dict.get
    assert rows[1].get("a", marker) is marker
    path = tmp_path / "rows.msl"
    with DictList.open(path) as f:
        f.extend(data)
        assert f[0].get("n") == [1, {"k": None}] and f[1].get("a", 5) == 5  # pending
    with DictList.open(path, mode="r") as f:
        got = [(r.get("a"), r.get("s"), r.get("n", "-")) for r in f]
        assert got == [(1, "x", [1, {"k": None}]), (None, "y", "-")]
        assert [("a" in r, "n" in r, "zz" in r, 3 in r) for r in f] == [
            (True, True, False, False),
            (False, False, False, False),
        ]
        assert f[1].get("a", marker) is marker


def test_row_write_refused_by_a_declared_schema_changes_nothing():
    rows = DictList([{"id": 1, "label": "a"}], schema={"id": "int64", "label": "str"})
    row = rows[0]
    for key, value in (("id", 1.5), ("id", "x"), ("other", 1)):
        with pytest.raises(memslim.SchemaError):
            row[key] = value
    row["id"] = 2
    assert_same(rows.to_list(), [{"id": 2, "label": "a"}])


def test_row_of_a_record_file_refuses_writes(tmp_path):
    path = tmp_path / "rows.msl"
    with DictList.open(path) as f:
        f.append({"a": 1})
    with DictList.open(path, mode="r") as f:
        row = f[0]
        with pytest.raises(TypeError):
            row["a"] = 2
        with pytest.raises(TypeError):
            del row["a"]
        assert row["a"] == 1


def test_row_update_with_mapping_iterable_and_kwargs():
    rows, row = one_row()
    row.update({"a": 10, "d": 4})
    row.update([("b", "bee"), ("e", 5)])
    row.update(f=6, a=11)
    row.update({"g": 7}, h=8)
    expected = {"a": 11, "b": "bee", "c": None, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}
    assert_same(dict(row), expected)
    assert_same(rows.to_list()[1], expected)


def test_row_update_with_another_row():
    rows = DictList([{"a": 1}, {"b": 2, "a": 3}])
    rows[0].update(rows[1])
    assert_same(rows.to_list()[0], {"a": 3, "b": 2})


def test_row_pop():
    rows, row = one_row()
    assert row.pop("b") == "two"
    assert row.pop("b", "gone") == "gone"
    expect_error(KeyError, row.pop, "b")
    assert_same(rows.to_list()[1], {"a": 1, "c": None})


def test_row_popitem_is_lifo():
    rows, row = one_row()
    assert row.popitem() == ("c", None)
    assert row.popitem() == ("b", "two")
    assert_same(rows.to_list()[1], {"a": 1})
    assert row.popitem() == ("a", 1)
    expect_error(KeyError, row.popitem)


def test_row_popitem_follows_the_rows_own_key_order():
    rows = DictList([{"a": 1, "b": 2}, {"b": 3, "a": 4}])
    assert rows[1].popitem() == ("a", 4)


def test_row_setdefault():
    rows, row = one_row()
    assert row.setdefault("a", 99) == 1
    assert row.setdefault("new", 99) == 99
    assert row.setdefault("newer") is None
    assert_same(rows.to_list()[1], {"a": 1, "b": "two", "c": None, "new": 99, "newer": None})


def test_row_clear_leaves_an_empty_record():
    rows, row = one_row()
    row.clear()
    assert len(row) == 0
    assert_same(rows.to_list(), [{"other": 0}, {}, {"other": 2}])


def test_row_copy_and_to_dict_are_plain_detached_dicts():
    _, row = one_row()
    for detached in (row.copy(), row.to_dict(), dict(row)):
        assert type(detached) is dict
        assert_same(detached, {"a": 1, "b": "two", "c": None})
        detached["a"] = "changed"
        assert row["a"] == 1


def test_row_unpacks_with_double_star():
    _, row = one_row()
    assert_same({**row}, {"a": 1, "b": "two", "c": None})


def test_json_dumps_keeps_key_order():
    rows = DictList([{"a": 1, "b": 2}, {"b": 3, "a": 4, "z": [1, None]}])
    assert json.dumps(dict(rows[0])) == '{"a": 1, "b": 2}'
    assert json.dumps(dict(rows[1])) == '{"b": 3, "a": 4, "z": [1, null]}'


def test_row_equals_dict():
    _, row = one_row()
    assert row == {"a": 1, "b": "two", "c": None}
    assert row == {"c": None, "b": "two", "a": 1}
    assert row != {"a": 1, "b": "two"}
    assert row != {"a": 1, "b": "two", "c": None, "d": 1}
    assert (row != {"a": 1, "b": "two", "c": None}) is False


def test_row_equals_row():
    rows = DictList([{"a": 1}, {"a": 1}, {"a": 2}])
    assert rows[0] == rows[1]
    assert rows[0] != rows[2]


def test_rows_index_finds_a_row():
    rows = DictList(people())
    assert rows.index(rows[5]) == 5
    assert [rows.index(r) for r in rows] == list(range(12))


# ======================================================================================
# Writes through rows
# ======================================================================================


def test_writes_go_through(chunk_rows):
    rows = make(people(), chunk_rows)
    before = rows[10]["price"]
    rows[10]["price"] *= 1.1
    assert rows[10]["price"] == before * 1.1
    assert rows.to_list()[10]["price"] == before * 1.1


def test_write_through_iteration_variable(chunk_rows):
    rows = make(people(), chunk_rows)
    for row in rows:
        row["qty"] = row["qty"] + 1
    assert [r["qty"] for r in rows] == [p["qty"] + 1 for p in people()]


def test_new_key_through_a_row_adds_a_column(chunk_rows):
    rows = make(people(), chunk_rows)
    rows[4]["coupon"] = "SAVE10"
    assert "coupon" in rows.columns
    assert rows.columns[-1] == "coupon"
    assert "coupon" not in rows[3]
    assert rows[4]["coupon"] == "SAVE10"
    expected = people()
    expected[4]["coupon"] = "SAVE10"
    assert_same(rows.to_list(), expected)


def test_write_of_another_type_widens_the_column(chunk_rows):
    rows = make(people(), chunk_rows)
    rows[2]["qty"] = "a dozen"
    expected = people()
    expected[2]["qty"] = "a dozen"
    assert_same(rows.to_list(), expected)


# ======================================================================================
# Absent vs None, and key order
# ======================================================================================


def test_absent_and_none_are_different(chunk_rows):
    rows = make([{"a": 1}, {"a": 1, "b": None}], chunk_rows)
    assert "b" not in rows[0]
    assert "b" in rows[1]
    assert len(rows[0]) == 1
    assert len(rows[1]) == 2
    assert rows[0].get("b", "absent") == "absent"
    assert rows[1].get("b", "absent") is None
    assert_same(rows.to_list(), [{"a": 1}, {"a": 1, "b": None}])


def test_absent_survives_in_every_column_type(chunk_rows):
    data = [
        {"i": 1, "f": 1.5, "s": "x", "b": True, "y": b"y", "o": [1]},
        {},
        {"i": None, "f": None, "s": None, "b": None, "y": None, "o": None},
        {"o": [2], "y": b"", "b": False, "s": "", "f": 0.0, "i": 0},
    ]
    rows = make(data, chunk_rows)
    assert_same(rows.to_list(), data)


def test_key_order_preserved_when_it_differs_from_the_first_row(chunk_rows):
    data = [
        {"a": 1, "b": 2, "c": 3},
        {"c": 4, "a": 5, "b": 6},
        {"b": 7, "c": 8},
        {"d": 9, "a": 10},
        {"a": 11, "b": 12, "c": 13, "d": 14},
    ]
    rows = make(data, chunk_rows)
    assert [list(r) for r in rows] == [list(d) for d in data]
    assert_same(rows.to_list(), data)


def test_columns_are_in_first_seen_order():
    rows = DictList([{"b": 1}, {"a": 2, "b": 3}, {"c": 0, "b": 1}])
    assert rows.columns == ["b", "a", "c"]


# ======================================================================================
# Schema inference and widening
# ======================================================================================


def test_schema_dtype_names():
    rows = DictList([{"i": 1, "f": 1.5, "s": "x", "b": True, "y": b"y", "n": None, "o": [1, 2]}])
    assert rows.schema == {
        "i": "int64",
        "f": "float64",
        "s": "str",
        "b": "bool",
        "y": "bytes",
        "n": "null",
        "o": "object",
    }


def test_storage_info_covers_every_column():
    rows = DictList(people())
    info = rows.storage_info()
    assert list(info) == rows.columns
    assert all(isinstance(v, str) and v for v in info.values())


def test_a_field_no_record_has_left_is_gone_from_every_listing():
    """Deleted from every record, or its only record deleted: no longer a key of any
    record, as in a list of dicts, so not in columns, schema, storage_info or column()."""
    by_key = DictList([{"a": 1, "x": 2}, {"a": 3, "x": 4}])
    for r in by_key:
        del r["x"]
    by_record = DictList([{"a": 1}, {"a": 2, "x": 5}])
    del by_record[1]
    sliced = DictList([{"a": 1}, {"a": 2, "x": 5}])[:1]
    for rows in (by_key, by_record, sliced):
        assert rows.columns == ["a"] and list(rows.schema) == ["a"]
        assert list(rows.storage_info()) == ["a"]
        expect_error(KeyError, rows.column, "x")
        assert rows.column("a").to_list() == [r["a"] for r in rows]
    # An empty list keeps its fields (nothing tells which ones it lost).
    empty = DictList(schema={"a": "int64"})
    assert list(empty.storage_info()) == ["a"] and empty.column("a").to_list() == []


def test_int_then_float_widens_to_float_and_ints_stay_ints(chunk_rows):
    rows = make([{"x": 1}, {"x": 2}, {"x": 2.5}, {"x": 3}], chunk_rows)
    assert rows.schema["x"] == "float64"
    assert type(rows[0]["x"]) is int
    assert type(rows[2]["x"]) is float
    assert type(rows[3]["x"]) is int
    assert_same(rows.to_list(), [{"x": 1}, {"x": 2}, {"x": 2.5}, {"x": 3}])


def test_float_then_int_keeps_the_int(chunk_rows):
    rows = make([{"x": 0.5}, {"x": 7}], chunk_rows)
    assert rows.schema["x"] == "float64"
    assert type(rows[1]["x"]) is int


def test_ints_too_large_for_a_double_stay_exact_in_a_float_column(chunk_rows):
    data = [{"x": 0.5}, {"x": 2**53 + 1}, {"x": 2**63 - 1}, {"x": -(2**63)}]
    rows = make(data, chunk_rows)
    assert_same(rows.to_list(), data)


def test_null_then_str(chunk_rows):
    rows = make([{"x": None}, {"x": None}, {"x": "text"}], chunk_rows)
    assert rows.schema["x"] == "str"
    assert_same(rows.to_list(), [{"x": None}, {"x": None}, {"x": "text"}])


def test_all_null_column_has_null_dtype():
    assert DictList([{"x": None}, {}]).schema["x"] == "null"


def test_str_then_int_becomes_object(chunk_rows):
    data = [{"x": "a"}, {"x": 1}, {"x": True}, {"x": 1.0}, {"x": None}]
    rows = make(data, chunk_rows)
    assert rows.schema["x"] == "object"
    assert_same(rows.to_list(), data)


def test_bool_and_int_are_kept_apart(chunk_rows):
    data = [{"x": True}, {"x": 1}, {"x": False}, {"x": 0}]
    rows = make(data, chunk_rows)
    assert_same(rows.to_list(), data)


def test_nested_values_round_trip(chunk_rows):
    data = [
        {"o": {"k": [1, (2, 3)], "n": None}},
        {"o": [[], (), {}]},
        {"o": ({"a": (1,)}, [b"x", "y", 1.5, True])},
    ]
    rows = make(data, chunk_rows)
    assert rows.schema["o"] == "object"
    assert_same(rows.to_list(), data)


def test_tuple_and_list_are_kept_apart(chunk_rows):
    data = [{"v": (1, 2)}, {"v": [1, 2]}, {"v": ([1], (2,))}]
    rows = make(data, chunk_rows)
    assert_same(rows.to_list(), data)


def test_int64_bounds_stay_int64():
    rows = DictList([{"x": 2**63 - 1}, {"x": -(2**63)}])
    assert rows.schema["x"] == "int64"
    assert_same(rows.to_list(), [{"x": 2**63 - 1}, {"x": -(2**63)}])


def test_big_ints_round_trip(chunk_rows):
    data = [{"x": 1}, {"x": 2**63}, {"x": -(2**63) - 1}, {"x": 2**300}, {"x": 5}]
    rows = make(data, chunk_rows)
    assert_same(rows.to_list(), data)


def test_bytes_column(chunk_rows):
    data = [{"b": b"\x00\x01"}, {"b": b""}, {"b": None}, {"b": bytes(range(256))}]
    rows = make(data, chunk_rows)
    assert rows.schema["b"] == "bytes"
    assert_same(rows.to_list(), data)


@pytest.mark.parametrize("name", VALUE_ZOO)
def test_every_value_round_trips_alone(name):
    value = VALUE_ZOO[name]
    rows = DictList([{"v": value}])
    assert_same(rows[0]["v"], value)
    assert_same(rows.to_list(), [{"v": value}])


def test_all_values_round_trip_in_one_column(chunk_rows):
    data = [{"v": v} for v in VALUE_ZOO.values()]
    rows = make(data, chunk_rows)
    assert_same(rows.to_list(), data)


def test_float_specials_round_trip_in_a_float_column(chunk_rows):
    data = [{"f": v} for v in (1.0, -0.0, 0.0, float("nan"), float("inf"), -float("inf"))]
    rows = make(data, chunk_rows)
    assert rows.schema["f"] == "float64"
    assert_same(rows.to_list(), data)


def test_text_with_nul_and_astral_chars_round_trips(chunk_rows):
    data = [{"s": s} for s in ("", "\x00", "a\x00b", "🙂", "\U0010ffff", "日本語", "x" * 1000)]
    rows = make(data, chunk_rows)
    assert rows.schema["s"] == "str"
    assert_same(rows.to_list(), data)


def test_other_picklable_values_round_trip():
    values = [
        decimal.Decimal("1.10"),
        datetime.datetime(2024, 2, 29, 12, 30),
        datetime.date(1999, 12, 31),
        fractions.Fraction(1, 3),
        complex(1, -2),
        {1, 2, 3},
        frozenset({"a"}),
    ]
    rows = DictList([{"v": v} for v in values])
    assert_same([r["v"] for r in rows], values)


def test_reads_stay_consistent_after_mutating_a_returned_nested_value():
    rows = DictList([{"tags": ["a"]}])
    rows[0]["tags"].append("b")
    via_row = rows[0]["tags"]
    assert via_row in (["a"], ["a", "b"])
    assert rows.to_list()[0]["tags"] == via_row
    assert pickle.loads(pickle.dumps(rows))[0]["tags"] == via_row


# ======================================================================================
# Explicit schema
# ======================================================================================


def test_explicit_schema_is_reported_and_fixes_columns():
    rows = DictList([], schema={"id": "int64", "name": "str", "price": "float64"})
    assert rows.schema == {"id": "int64", "name": "str", "price": "float64"}
    assert rows.columns == ["id", "name", "price"]
    assert len(rows) == 0


def test_explicit_schema_accepts_matching_records():
    rows = DictList([{"id": 1, "name": "a"}], schema={"id": "int64", "name": "str"})
    rows.append({"name": "b", "id": 2})
    assert_same(rows.to_list(), [{"id": 1, "name": "a"}, {"name": "b", "id": 2}])
    assert rows.schema == {"id": "int64", "name": "str"}


def test_explicit_schema_rejects_wrong_type_with_schema_error():
    data = [{"id": i, "price": float(i)} for i in range(7)] + [{"id": 700, "price": "oops"}]
    err = expect_error(
        memslim.SchemaError, DictList, data, schema={"id": "int64", "price": "float64"}
    )
    assert isinstance(err, TypeError)
    assert "price" in str(err)
    assert re.search(r"\b7\b", str(err)), f"row index 7 not named in: {err}"


def test_explicit_schema_does_not_widen_on_append():
    rows = DictList([{"id": 1}], schema={"id": "int64"})
    before = snapshot(rows)
    err = expect_error(memslim.SchemaError, rows.append, {"id": "one"})
    assert "id" in str(err)
    assert same(snapshot(rows), before)


def test_unknown_dtype_name_raises_value_error():
    expect_error(ValueError, DictList, [], schema={"x": "int65"})


# ======================================================================================
# Bad records are rejected and leave the list untouched
# ======================================================================================


@pytest.mark.parametrize("bad_key", [1, None, b"k", ("t",)])
def test_non_string_key_raises_type_error(bad_key):
    rows = DictList(people(3))
    before = snapshot(rows)
    expect_error(TypeError, rows.append, {"id": 1, bad_key: 2})
    assert same(snapshot(rows), before)


@pytest.mark.parametrize("bad", [42, "abc", [("a", 1)], None, ("a", 1)])
def test_non_mapping_append_raises_type_error(bad):
    rows = DictList(people(3))
    before = snapshot(rows)
    expect_error(TypeError, rows.append, bad)
    assert same(snapshot(rows), before)


def test_failed_extend_from_generator_leaves_list_unchanged(chunk_rows):
    rows = make([{"a": 1}, {"a": 2}], chunk_rows)
    before = snapshot(rows)

    def gen():
        yield {"a": 2.5, "new": "column"}
        yield {"a": "now object"}
        yield {"b": b"bytes"}
        yield "not a mapping"
        yield {"a": 3}

    expect_error(TypeError, rows.extend, gen())
    assert same(snapshot(rows), before)
    assert rows.schema == {"a": "int64"}


def test_failed_append_of_half_good_record_leaves_list_unchanged():
    rows = DictList([{"a": 1}])
    before = snapshot(rows)
    expect_error(TypeError, rows.append, {"a": 2.5, "newcol": 1, 3: "bad key"})
    assert same(snapshot(rows), before)
    assert rows.columns == ["a"]


# ======================================================================================
# Row views follow their records (as the dicts of a list would)
# ======================================================================================


def test_stale_row_error_remains_importable_for_old_code():
    assert issubclass(memslim.StaleRowError, RuntimeError)
    assert issubclass(memslim.StaleRowError, memslim.MemslimError)


def test_views_survive_append(chunk_rows):
    rows = make(people(), chunk_rows)
    views = [rows[i] for i in range(12)]
    rows.append({"id": 100})
    assert [v["id"] for v in views] == list(range(12))


def test_views_survive_extend(chunk_rows):
    rows = make(people(), chunk_rows)
    view = rows[11]
    rows.extend(people(30))
    assert view["id"] == 11
    view["id"] = -11
    assert rows[11]["id"] == -11


def test_views_survive_writes_through_other_rows(chunk_rows):
    rows = make(people(), chunk_rows)
    view = rows[6]
    rows[2]["name"] = "renamed"
    rows[3]["new_column"] = 1
    rows[4]["price"] = "widened to object"
    del rows[5]["qty"]
    assert view["id"] == 6
    assert_same(dict(view), people()[6])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda rows: rows.insert(5, {"id": -1}), id="insert"),
        pytest.param(lambda rows: rows.__delitem__(5), id="del"),
        pytest.param(lambda rows: rows.pop(5), id="pop"),
        pytest.param(lambda rows: rows.remove(people()[5]), id="remove"),
        pytest.param(lambda rows: rows.__setitem__(slice(5, 7), [{"id": -1}]), id="slice-set"),
        pytest.param(lambda rows: rows.__delitem__(slice(5, 6)), id="slice-del"),
        pytest.param(lambda rows: rows.sort(key=lambda r: -r["id"]), id="sort"),
        pytest.param(lambda rows: rows.reverse(), id="reverse"),
        pytest.param(lambda rows: rows.clear(), id="clear"),
        pytest.param(lambda rows: rows.__setitem__(5, {"id": 500}), id="replace"),
    ],
)
def test_views_follow_their_records_through_structural_changes(change, chunk_rows):
    rows = make(people(), chunk_rows)
    views = [rows[i] for i in (4, 5, 6, 9, 11)]
    change(rows)
    assert [v["id"] for v in views] == [4, 5, 6, 9, 11]
    for v in views:
        v["qty"] = -1
    ids = {v["id"] for v in views}
    for r in rows:
        assert (r.get("qty") == -1) == (r["id"] in ids)


def test_a_removed_records_view_stays_writable_and_the_list_is_unchanged(chunk_rows):
    rows = make(people(), chunk_rows)
    view = rows[7]
    del rows[7]
    expected = rows.to_list()
    view["id"] = 99
    del view["name"]
    assert view["id"] == 99 and "name" not in view
    assert_same(rows.to_list(), expected)


def test_fresh_views_work_after_a_structural_change(chunk_rows):
    rows = make(people(), chunk_rows)
    rows.sort(key=lambda r: -r["id"])
    assert rows[0]["id"] == 11
    rows[0]["id"] = 1100
    assert rows.to_list()[0]["id"] == 1100


def test_structural_change_of_original_leaves_a_copys_views_alone(chunk_rows):
    rows = make(people(), chunk_rows)
    clone = rows.copy()
    view = clone[3]
    rows.sort(key=lambda r: -r["id"])
    del rows[0]
    assert view["id"] == 3 and clone[3]["id"] == 3


# ======================================================================================
# Columns
# ======================================================================================


def priced(chunk_rows=None):
    data = [{"price": 1.5}, {"price": 2.0}, {}, {"price": None}, {"price": 4.5}, {"price": 0.5}]
    return make(data, chunk_rows)


def test_column_len_getitem_iter(chunk_rows):
    col = priced(chunk_rows).column("price")
    assert col.name == "price"
    assert len(col) == 6
    assert col[0] == 1.5
    assert col[-1] == 0.5
    assert col[1:3] == [2.0, None]
    assert list(col) == [1.5, 2.0, None, None, 4.5, 0.5]
    assert col.to_list() == [1.5, 2.0, None, None, 4.5, 0.5]


def test_column_absent_and_null_read_as_none(chunk_rows):
    col = priced(chunk_rows).column("price")
    assert col[2] is None
    assert col[3] is None
    assert col.null_count == 2


def test_column_index_out_of_range():
    col = priced().column("price")
    expect_error(IndexError, col.__getitem__, 6)
    expect_error(IndexError, col.__getitem__, -7)


def test_column_aggregates_skip_nulls(chunk_rows):
    col = priced(chunk_rows).column("price")
    assert col.sum() == 8.5
    assert col.mean() == 8.5 / 4
    assert col.min() == 0.5
    assert col.max() == 4.5


def test_column_int_sum_is_an_exact_int(chunk_rows):
    rows = make([{"n": 2**62}, {"n": 2**62}, {"n": None}, {"n": 2**62}, {"n": 2**62}], chunk_rows)
    total = rows.column("n").sum()
    assert type(total) is int
    assert total == 2**64


def test_column_bool_sum_counts_trues():
    total = DictList([{"b": True}, {"b": False}, {"b": True}, {}]).column("b").sum()
    assert total == 2
    assert type(total) is int


def test_column_of_empty_list():
    col = DictList([], schema={"x": "int64"}).column("x")
    assert len(col) == 0
    assert col.sum() == 0
    assert col.mean() is None


def test_column_of_all_nulls_has_no_mean():
    assert DictList([{"x": None}, {"x": None}]).column("x").mean() is None


def test_column_keeps_ints_in_a_float_column():
    col = DictList([{"x": 1.5}, {"x": 2}]).column("x")
    assert col.dtype == "float64"
    assert type(col[1]) is int


def test_column_dtype_matches_schema():
    rows = DictList(people())
    for name, dtype in rows.schema.items():
        assert rows.column(name).dtype == dtype


def test_column_is_a_snapshot(chunk_rows):
    rows = make(people(), chunk_rows)
    col = rows.column("qty")
    rows[0]["qty"] = 1000
    rows.append({"qty": 5})
    del rows[1]
    assert col.to_list() == [p["qty"] for p in people()]


def test_unknown_column_raises_key_error():
    expect_error(KeyError, DictList(people()).column, "nope")


def test_numpy_asarray_int_and_float_columns(chunk_rows):
    rows = make(people(), chunk_rows)
    ids = np.asarray(rows.column("id"))
    prices = np.asarray(rows.column("price"))
    assert ids.dtype == np.int64
    assert prices.dtype == np.float64
    assert ids.tolist() == list(range(12))
    assert prices.tolist() == [i * 1.5 for i in range(12)]


def test_numpy_asarray_of_one_chunk_column_is_zero_copy():
    rows = DictList({"id": i, "price": i / 4} for i in range(100))
    for name in ("id", "price"):
        col = rows.column(name)
        first, second = np.asarray(col), np.asarray(col)
        assert np.shares_memory(first, second), name


def test_numpy_view_of_a_column_is_read_only():
    col = DictList({"id": i} for i in range(100)).column("id")
    arr = np.asarray(col)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 5


def test_numpy_asarray_of_multi_chunk_column():
    rows = DictList(({"id": i, "price": i + 0.25} for i in range(10)), chunk_rows=4)
    ids = np.asarray(rows.column("id"))
    prices = np.asarray(rows.column("price"))
    assert ids.dtype == np.int64 and ids.tolist() == list(range(10))
    assert prices.dtype == np.float64 and prices.tolist() == [i + 0.25 for i in range(10)]


def test_numpy_array_with_dtype_argument():
    col = DictList({"id": i} for i in range(5)).column("id")
    arr = np.asarray(col, dtype=np.float64)
    assert arr.dtype == np.float64
    assert arr.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_rows_kept_from_iteration_keep_their_records():
    # The iterator recycles Row objects nobody else references; any row the caller
    # keeps must stay its own object, pointing at its own record.
    rows = memslim.DictList({"i": i} for i in range(50))
    kept = [r for r in rows]
    assert [r["i"] for r in kept] == list(range(50))
    assert len({id(r) for r in kept}) == 50
    pairs = list(zip(rows, rows))
    assert all(a["i"] == b["i"] for a, b in pairs)
    it = iter(rows)
    first = next(it)
    second = next(it)
    third = next(it)
    assert (first["i"], second["i"], third["i"]) == (0, 1, 2)
    del first
    fourth = next(it)
    assert (second["i"], third["i"], fourth["i"]) == (1, 2, 3)


def test_reversed_rows_kept_are_correct():
    rows = memslim.DictList({"i": i} for i in range(20))
    kept = list(reversed(rows))
    assert [r["i"] for r in kept] == list(range(19, -1, -1))


def test_extend_with_a_generator_sees_the_list_grow_like_list_extend():
    rows = memslim.DictList([{"n": 0}])
    plain = [{"n": 0}]
    rows.extend({"n": len(rows)} for _ in range(3))
    plain.extend({"n": len(plain)} for _ in range(3))
    assert rows == plain


def test_cached_dictionary_strings_never_go_stale():
    # Strings of small dictionaries are cached as Python objects by position; clearing,
    # a failed extend (rollback) and re-filling must never serve an old string.
    rows = memslim.DictList([{"c": "DE"}, {"c": "FR"}])
    assert [r["c"] for r in rows] == ["DE", "FR"]
    rows.clear()
    rows.extend([{"c": "JP"}, {"c": "US"}])
    assert [r["c"] for r in rows] == ["JP", "US"]
    try:
        rows.extend([{"c": "BR"}, {"c": "IN"}, {1: "bad key"}])
    except TypeError:
        pass
    rows.extend([{"c": "CN"}, {"c": "GB"}])
    assert [r["c"] for r in rows] == ["JP", "US", "CN", "GB"]
    copy = rows.copy()
    copy.append({"c": "ZA"})
    rows.append({"c": "MX"})
    assert [r["c"] for r in rows] == ["JP", "US", "CN", "GB", "MX"]
    assert [r["c"] for r in copy] == ["JP", "US", "CN", "GB", "ZA"]
    assert rows[0]["c"] is rows[0]["c"]


def test_row_update_keyword_named_other_is_a_key_like_dict_update():
    rows = memslim.DictList([{"a": 1}])
    plain = {"a": 1}
    rows[0].update(other=5)
    plain.update(other=5)
    assert dict(rows[0]) == plain == {"a": 1, "other": 5}
