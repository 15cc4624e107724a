"""TupleList behaves like list[tuple] and hands out namedtuple rows."""

from __future__ import annotations

import collections
import collections.abc
import pickle
import re

import memslim
import numpy as np
import pytest
from conftest import COPIERS, VALUE_ZOO, expect_error, first_difference, same, values
from hypothesis import given
from hypothesis import strategies as st
from memslim import TupleList

FIELDS = ("id", "name", "price")


def tuples(n=10):
    return [(i, f"item{i}", i * 0.5) for i in range(n)]


def make(data=None, chunk_rows=None, fields=FIELDS, **kwargs):
    return TupleList(tuples() if data is None else data, fields, chunk_rows=chunk_rows, **kwargs)


def plain(rows):
    """The list's contents as plain tuples (row_type instances converted)."""
    return [tuple(r) for r in rows.to_list()]


def assert_same(actual, expected):
    assert same(actual, expected), first_difference(actual, expected)


Point = collections.namedtuple("Point", ["x", "y"])


# ======================================================================================
# Construction and fields
# ======================================================================================


def test_construct_with_fields(chunk_rows):
    rows = make(chunk_rows=chunk_rows)
    assert len(rows) == 10
    assert rows.fields == FIELDS
    assert type(rows.fields) is tuple
    assert_same(plain(rows), tuples())


def test_fields_accepts_any_sequence_of_str():
    assert TupleList([(1, 2)], ["a", "b"]).fields == ("a", "b")


def test_construct_from_generator(chunk_rows):
    rows = TupleList(((i, str(i)) for i in range(7)), ("n", "s"), chunk_rows=chunk_rows)
    assert_same(plain(rows), [(i, str(i)) for i in range(7)])


def test_construct_empty_with_fields():
    rows = TupleList([], FIELDS)
    assert len(rows) == 0
    assert rows.fields == FIELDS
    assert rows.to_list() == []


def test_fields_default_to_those_of_namedtuple_data():
    rows = TupleList([Point(1, 2), Point(3, 4)])
    assert rows.fields == ("x", "y")
    assert rows[1].x == 3


def test_fields_that_cannot_be_attributes_get_positional_names():
    # An Arrow table or a CSV header may have any column names; namedtuple refuses
    # keywords, spaces, leading underscores and repeats. The rows still hold every value.
    import pyarrow as pa

    table = pa.table({"class": [1, 2], "first name": ["a", "b"], "_id": [5, 6], "x": [3, 4]})
    for rows in (
        TupleList.from_arrow(table),
        TupleList([(1, "a", 5, 3), (2, "b", 6, 4)], fields=table.column_names),
    ):
        assert rows.fields == ("class", "first name", "_id", "x")
        assert type(rows[0])._fields == ("_0", "_1", "_2", "x")
        assert rows[1] == (2, "b", 6, 4) and rows[1].x == 4 and rows[1]._1 == "b"
        assert pickle.loads(pickle.dumps(rows)) == rows
        assert pickle.loads(pickle.dumps(rows[0])) == rows[0]
        assert pa.table(rows).column_names == table.column_names
        assert memslim.DictList(rows)[0] == {"class": 1, "first name": "a", "_id": 5, "x": 3}


def test_rows_may_be_given_as_lists():
    rows = TupleList([[1, "a"], (2, "b")], ("n", "s"))
    rows.append([3, "c"])
    assert_same(plain(rows), [(1, "a"), (2, "b"), (3, "c")])


def test_missing_fields_with_empty_data_raises_type_error():
    expect_error(TypeError, TupleList, [])
    expect_error(TypeError, TupleList)


def test_schema_is_inferred_per_field():
    rows = TupleList([(1, "a", 1.5, True, None)], ("i", "s", "f", "b", "n"))
    assert rows.schema == {"i": "int64", "s": "str", "f": "float64", "b": "bool", "n": "null"}
    assert list(rows.storage_info()) == ["i", "s", "f", "b", "n"]


def test_explicit_schema_is_enforced():
    rows = TupleList([(1, "a")], ("num", "label"), schema={"num": "int64", "label": "str"})
    err = expect_error(memslim.SchemaError, rows.append, (2, 3))
    assert "label" in str(err)
    assert_same(plain(rows), [(1, "a")])


# ======================================================================================
# Rows are namedtuples
# ======================================================================================


def test_rows_are_instances_of_row_type():
    rows = make()
    assert issubclass(rows.row_type, tuple)
    assert rows.row_type._fields == FIELDS
    assert isinstance(rows[0], rows.row_type)
    assert all(type(r) is rows.row_type for r in rows)


def test_row_index_slice_len_iter():
    row = make()[3]
    assert row[0] == 3
    assert row[-1] == 1.5
    assert row[1:] == ("item3", 1.5)
    assert len(row) == 3
    assert list(row) == [3, "item3", 1.5]


def test_row_unpacks():
    ident, name, price = make()[4]
    assert (ident, name, price) == (4, "item4", 2.0)


def test_row_equals_and_hashes_like_plain_tuple():
    row = make()[2]
    assert row == (2, "item2", 1.0)
    assert row != (2, "item2", 1.5)
    assert hash(row) == hash((2, "item2", 1.0))
    assert {(2, "item2", 1.0): "found"}[row] == "found"


def test_row_attribute_access():
    row = make()[5]
    assert row.id == 5
    assert row.name == "item5"
    assert row.price == 2.5
    assert row._fields == FIELDS


def test_row_asdict():
    assert_same(make()[1]._asdict(), {"id": 1, "name": "item1", "price": 0.5})


def test_row_replace_returns_new_tuple_and_leaves_list_alone():
    rows = make()
    replaced = rows[1]._replace(name="renamed")
    assert replaced == (1, "renamed", 0.5)
    assert rows[1] == (1, "item1", 0.5)


@pytest.mark.parametrize("name", VALUE_ZOO)
def test_every_value_round_trips(name):
    value = VALUE_ZOO[name]
    rows = TupleList([(value, 0)], ("v", "k"))
    assert_same(rows[0][0], value)
    assert_same(rows[0].v, value)


def test_mixed_type_field_round_trips(chunk_rows):
    data = [(v,) for v in VALUE_ZOO.values()]
    rows = TupleList(data, ("v",), chunk_rows=chunk_rows)
    assert_same(plain(rows), data)


# ======================================================================================
# MutableSequence behaviour
# ======================================================================================


def test_is_a_mutable_sequence():
    assert isinstance(make(), collections.abc.MutableSequence)


def test_index_out_of_range(chunk_rows):
    rows = make(chunk_rows=chunk_rows)
    expect_error(IndexError, rows.__getitem__, 10)
    expect_error(IndexError, rows.__getitem__, -11)
    expect_error(IndexError, rows.__setitem__, 10, (0, "x", 0.0))
    expect_error(IndexError, rows.__delitem__, 10)


def test_negative_index(chunk_rows):
    assert make(chunk_rows=chunk_rows)[-1] == tuples()[-1]


def test_append_extend_insert(chunk_rows):
    expected = tuples(4)
    rows = make(expected, chunk_rows)
    for target in (rows, expected):
        target.append((100, "a", 1.0))
        target.extend([(101, "b", 2.0), (102, "c", 3.0)])
        target.insert(1, (103, "d", 4.0))
        target.insert(-1, (104, "e", 5.0))
        target.insert(1000, (105, "f", 6.0))
    assert_same(plain(rows), expected)


class Triple(tuple):
    """A tuple subclass: its items are what a TupleList stores."""


@given(
    st.lists(
        st.tuples(st.tuples(values, values, values), st.sampled_from([tuple, Triple, list])),
        max_size=30,
    )
)
def test_appending_one_by_one_equals_the_list_and_a_bulk_build(recs):
    """``append`` reads a tuple of plain scalars straight into the columns and anything
    else (containers, big ints, lists) the general way; the list holds what the list of
    tuples holds, with the schema a bulk build gives."""
    data = [kind(r) for r, kind in recs]
    one = TupleList(fields=FIELDS)
    for r in data:
        one.append(r)
    want = [tuple(r) for r in data]
    assert_same(plain(one), want)
    assert dict(one.schema) == dict(TupleList(data, FIELDS).schema)


def test_pop_returns_tuple(chunk_rows):
    expected = tuples()
    rows = make(expected, chunk_rows)
    popped = rows.pop()
    assert isinstance(popped, tuple)
    assert_same(tuple(popped), expected.pop())
    assert_same(tuple(rows.pop(2)), expected.pop(2))
    assert_same(plain(rows), expected)


def test_remove_index_count_contains(chunk_rows):
    data = [(1, "a"), (2, "b"), (1, "a"), (3, "c")]
    rows = TupleList(data, ("n", "s"), chunk_rows=chunk_rows)
    assert (2, "b") in rows
    assert (9, "z") not in rows
    assert rows.index((1, "a")) == 0
    assert rows.index((1, "a"), 1) == 2
    assert rows.count((1, "a")) == 2
    rows.remove((1, "a"))
    assert_same(plain(rows), [(2, "b"), (1, "a"), (3, "c")])
    expect_error(ValueError, rows.remove, (9, "z"))
    expect_error(ValueError, rows.index, (9, "z"))


def test_setitem_and_delitem(chunk_rows):
    expected = tuples()
    rows = make(expected, chunk_rows)
    for target in (rows, expected):
        target[3] = (-3, "replaced", -1.5)
        del target[0]
        target[-1] = (-9, "last", 0.0)
    assert_same(plain(rows), expected)


@pytest.mark.parametrize(
    "s", [slice(2, 5), slice(None, None, 2), slice(None, None, -1), slice(7, 1, -3)], ids=str
)
def test_slices(s, chunk_rows):
    expected = tuples()
    rows = make(expected, chunk_rows)
    part = rows[s]
    assert isinstance(part, TupleList)
    assert part.fields == FIELDS
    assert_same(plain(part), expected[s])
    del rows[s]
    del expected[s]
    assert_same(plain(rows), expected)


def test_slice_assignment(chunk_rows):
    expected = tuples()
    rows = make(expected, chunk_rows)
    for target in (rows, expected):
        target[1:3] = [(0, "x", 0.0)] * 4
        target[::3] = [(1, "y", 1.0)] * len(target[::3])
    assert_same(plain(rows), expected)


def test_extended_slice_assignment_of_wrong_length_raises_value_error():
    rows = make()
    expect_error(ValueError, rows.__setitem__, slice(None, None, 2), [(0, "x", 0.0)])
    assert_same(plain(rows), tuples())


def test_clear_and_reverse(chunk_rows):
    rows = make(chunk_rows=chunk_rows)
    rows.reverse()
    assert_same(plain(rows), tuples()[::-1])
    rows.clear()
    assert len(rows) == 0


def test_sort_default_and_with_key(chunk_rows):
    data = [(3, "c"), (1, "z"), (2, "b"), (1, "a")]
    rows = TupleList(data, ("n", "s"), chunk_rows=chunk_rows)
    rows.sort()
    assert_same(plain(rows), sorted(data))
    rows.sort(key=lambda r: r.s, reverse=True)
    assert_same(plain(rows), sorted(data, key=lambda r: r[1], reverse=True))


def test_sort_is_stable():
    data = [(k, i) for i, k in enumerate([1, 0, 1, 0, 2])]
    rows = TupleList(data, ("k", "i"))
    rows.sort(key=lambda r: r.k)
    assert [r.i for r in rows] == [1, 3, 0, 2, 4]


def test_add_iadd_and_equality(chunk_rows):
    rows = make(tuples(3), chunk_rows)
    combined = rows + [(9, "n", 9.0)]
    assert isinstance(combined, TupleList)
    assert combined == [*tuples(3), (9, "n", 9.0)]
    assert rows == tuples(3)
    original = rows
    rows += [(9, "n", 9.0)]
    assert rows is original
    assert rows == combined
    assert rows != tuples(3)
    assert rows == TupleList([*tuples(3), (9, "n", 9.0)], FIELDS)


def test_reversed_iteration():
    assert [tuple(r) for r in reversed(make())] == tuples()[::-1]


def test_unhashable_like_list():
    expect_error(TypeError, hash, make())


# ======================================================================================
# Copy, pickle, columns
# ======================================================================================


@pytest.mark.parametrize("copier", list(COPIERS.values()), ids=list(COPIERS))
def test_copy_round_trips_and_is_independent(copier, chunk_rows):
    data = [(name, value) for name, value in VALUE_ZOO.items()]
    rows = TupleList(data, ("name", "value"), chunk_rows=chunk_rows)
    clone = copier(rows)
    assert type(clone) is TupleList
    assert clone.fields == ("name", "value")
    assert clone.schema == rows.schema
    assert_same(plain(clone), data)
    clone.append(("extra", 1))
    clone[0] = ("changed", 2)
    clone.reverse()
    assert_same(plain(rows), data)


def test_unpickled_rows_are_namedtuples():
    clone = pickle.loads(pickle.dumps(make()))
    assert clone[0].name == "item0"
    assert clone.row_type._fields == FIELDS


def test_column(chunk_rows):
    rows = TupleList([(1, 2.5), (2, None), (3, 4.0)], ("n", "f"), chunk_rows=chunk_rows)
    assert rows.column("n").to_list() == [1, 2, 3]
    assert rows.column("n").sum() == 6
    assert rows.column("f").to_list() == [2.5, None, 4.0]
    assert rows.column("f").null_count == 1
    assert np.asarray(rows.column("n")).tolist() == [1, 2, 3]
    expect_error(KeyError, rows.column, "nope")


# ======================================================================================
# Errors
# ======================================================================================


def test_wrong_length_tuple_raises_value_error_naming_the_row():
    data = [(0, "a"), (1, "b"), (2, "c"), (3, "d"), ("x", "y", "z")]
    err = expect_error(ValueError, TupleList, data, ("n", "s"))
    assert re.search(r"\b4\b", str(err)), f"row 4 not named in: {err}"


@pytest.mark.parametrize("bad", [(1,), (1, "a", 2.0, "extra"), ()])
def test_wrong_length_append_raises_value_error_and_leaves_list_alone(bad):
    rows = make(tuples(3))
    expect_error(ValueError, rows.append, bad)
    assert_same(plain(rows), tuples(3))


def test_non_sequence_row_raises_type_error():
    rows = make(tuples(3))
    expect_error(TypeError, rows.append, 42)
    expect_error(TypeError, rows.append, None)
    assert_same(plain(rows), tuples(3))


def test_failed_extend_leaves_list_unchanged():
    rows = make(tuples(3))

    def gen():
        yield (50, "ok", 1.0)
        yield ("now", "object", "column")
        yield (51, "too short")

    expect_error(ValueError, rows.extend, gen())
    assert_same(plain(rows), tuples(3))
    assert rows.schema == {"id": "int64", "name": "str", "price": "float64"}


def test_duplicate_fields_raise_value_error():
    for data in ([(1, 2)], []):
        err = expect_error(memslim.InvalidValueError, TupleList, data, ("a", "a"))
        assert isinstance(err, ValueError) and 'fields name "a" twice' in str(err)
        expect_error(ValueError, TupleList, data, ("a", "a"), row_type=tuple)


def test_records_of_another_tuplelist_go_by_position_as_tuples_do():
    """A TupleList's records are tuples: taken from another TupleList by position,
    whatever its field names, never matched by name."""
    plain_a, plain_b = [(1, 2)], [(20, 10)]
    b = memslim.TupleList(plain_b, ["b", "a"])
    c = memslim.TupleList([(5, 6)], ["x", "y"])
    ops = {
        "extend": lambda t, o: t.extend(o),
        "+=": lambda t, o: t.__iadd__(o),
        "slice": lambda t, o: t.__setitem__(slice(0, 0), o),
    }
    for name, op in ops.items():
        for other, plain_other in ((b, plain_b), (c, [(5, 6)])):
            a = memslim.TupleList(plain_a, ["a", "b"])
            want = list(plain_a)
            op(a, other)
            op(want, plain_other)
            assert [tuple(r) for r in a] == want, name
            assert a.fields == ("a", "b") and a.schema.keys() == {"a", "b"}, name
    a = memslim.TupleList(plain_a, ["a", "b"])
    assert [tuple(r) for r in a + b] == [(1, 2), (20, 10)]
    # another width is refused, as a tuple of another length is, and changes nothing
    wide = memslim.TupleList([(1, 2, 3)], ["a", "b", "c"])
    for op in (*ops.values(), lambda t, o: t + o):
        a = memslim.TupleList(plain_a, ["a", "b"])
        expect_error(memslim.InvalidValueError, op, a, wide)
        assert [tuple(r) for r in a] == plain_a


def test_tuplelists_compare_by_position():
    t = memslim.TupleList([(1, 2)], ["a", "b"])
    assert (t == memslim.TupleList([(2, 1)], ["b", "a"])) is False
    assert (t == memslim.TupleList([(1, 2)], ["x", "y"])) is True
    assert (t != memslim.TupleList([(1, 2)], ["x", "y"])) is False
    assert (t == memslim.TupleList([(1, 2, 3)], ["a", "b", "c"])) is False
    empty = memslim.TupleList([], ["a", "b"])
    assert empty == memslim.TupleList([], ["x"]) and empty == []


def test_a_mapping_is_not_a_tuplelist_record():
    """A Row, a DocView or any other mapping iterates its keys: refused as a dict is."""
    import types

    t = memslim.TupleList([(1, 2)], ["a", "b"])
    d = memslim.DictList([{"a": 5, "b": 6}])
    doc = memslim.DocList([{"a": 5, "b": 6}])
    for record in (d[0], doc[0], types.MappingProxyType({"a": 5, "b": 6}), {"a": 5, "b": 6}):
        expect_error(memslim.SchemaError, t.append, record)
    expect_error(memslim.SchemaError, t.extend, d)
    expect_error(memslim.SchemaError, t.__setitem__, slice(0, 0), d)
    expect_error(memslim.SchemaError, lambda: t + d)
    assert [tuple(r) for r in t] == [(1, 2)]
