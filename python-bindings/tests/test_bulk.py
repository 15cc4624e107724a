"""Bulk construction and ``extend`` from lists of dicts.

Lists and tuples of plain dicts take a fast path (items read in place, columns checked
once per batch); anything else in the same input takes the general path. These tests mix
the two inside one batch and check that the result is exactly the list of dicts, that
errors name the right row and leave the list unchanged, and that key order survives.
"""

from __future__ import annotations

import csv
import io
import pickle
import sys

import pytest
from conftest import expect_error, records, same, snapshot
from hypothesis import given
from hypothesis import strategies as st
from memslim import DictList, SchemaError


class Sub(str):
    """A str subclass: must keep its type (general path)."""


class Weird:
    """An arbitrary picklable object."""

    def __eq__(self, other):
        return isinstance(other, Weird)

    __hash__ = object.__hash__


def fresh_key(s: str) -> str:
    """An equal but distinct string object (not the interned literal)."""
    return "".join(list(s))


def test_fast_and_general_records_interleave_in_one_batch():
    data = []
    for i in range(700):
        if i % 97 == 5:
            data.append({"id": i, "tags": [i, "x"], "note": None})  # nested: general path
        elif i % 89 == 7:
            data.append({"id": i, "name": Sub("sub"), "big": 2**70})  # subclass, big int
        elif i % 83 == 3:
            data.append({fresh_key("id"): i, fresh_key("name"): f"n{i}"})  # fresh key objects
        elif i % 79 == 1:
            data.append({"name": "swapped", "id": i})  # other key order
        else:
            data.append({"id": i, "name": f"n{i % 13}", "price": i / 4, "paid": i % 2 == 0})
    rows = DictList(data)
    assert same(rows.to_list(), data)
    assert [list(r) for r in rows] == [list(d) for d in data]
    assert isinstance(rows[7]["name"], Sub)
    assert same(pickle.loads(pickle.dumps(rows)).to_list(), data)


def test_new_keys_mid_batch_add_columns_with_earlier_rows_absent():
    data = [{"a": i} for i in range(300)]
    data[10]["b"] = "x"
    data[200]["c"] = 1.5
    data[299] = {"c": None}
    rows = DictList(data)
    assert same(rows.to_list(), data)
    assert "b" not in rows[9] and rows[10]["b"] == "x" and "b" not in rows[11]
    assert rows[299] == {"c": None}


def test_types_stay_exact_on_the_fast_path():
    values = [
        True,
        False,
        0,
        1,
        -(2**63),
        2**63 - 1,
        2**63,
        -0.0,
        float("inf"),
        "",
        "é🦀\0",
        b"",
        b"\0x",
        None,
    ]
    rows = DictList([{"v": v} for v in values])
    for r, v in zip(rows, values):
        assert same(r["v"], v)


def test_nan_survives():
    rows = DictList([{"v": float("nan")}, {"v": 1.0}])
    assert rows[0]["v"] != rows[0]["v"]


@pytest.mark.parametrize("bad_at", [0, 1, 255, 256, 300])
def test_bad_key_names_the_row_and_leaves_the_list_unchanged(bad_at):
    rows = DictList([{"id": -1}])
    before = snapshot(rows)
    data = [{"id": i} for i in range(400)]
    data[bad_at] = {"id": 0, 5: "x"}
    err = expect_error(SchemaError, rows.extend, data)
    assert f"row {bad_at + 1}" in str(err)
    assert snapshot(rows) == before


@pytest.mark.parametrize("bad_at", [0, 3, 256, 399])
def test_schema_violation_names_row_and_field(bad_at):
    rows = DictList(schema={"id": "int64", "name": "str"})
    rows.append({"id": 1, "name": "a"})
    before = snapshot(rows)
    data = [{"id": i, "name": str(i)} for i in range(400)]
    data[bad_at] = {"id": bad_at, "name": 7}
    err = expect_error(TypeError, rows.extend, data)
    assert f"row {bad_at + 1}" in str(err) and "name" in str(err)
    assert snapshot(rows) == before
    unknown = [{"id": 1, "name": "a"}, {"id": 2, "extra": 1}]
    err = expect_error(SchemaError, rows.extend, unknown)
    assert "extra" in str(err)
    assert snapshot(rows) == before


# Inputs of more than one grid (2,048 records) are stored by a worker thread while the
# next grid is read: errors, new keys and general records must behave the same there.
BIG = 10_000


@pytest.mark.parametrize("bad_at", [2047, 2048, 4097, 6000, BIG - 1])
def test_schema_violation_in_a_later_grid_is_atomic(bad_at):
    rows = DictList(schema={"id": "int64", "name": "str"})
    rows.append({"id": -1, "name": "first"})
    before = snapshot(rows)
    data = [{"id": i, "name": f"n{i % 300}"} for i in range(BIG)]
    data[bad_at] = {"id": bad_at, "name": 7.5}
    err = expect_error(TypeError, rows.extend, data)
    assert f"row {bad_at + 1}" in str(err) and "name" in str(err)
    assert snapshot(rows) == before
    # The same list takes the good records afterwards, from a tuple as well.
    data[bad_at] = {"id": bad_at, "name": "fixed"}
    rows.extend(tuple(data))
    assert same(rows.to_list()[1:], data)


@pytest.mark.parametrize("bad_at", [2048, 7777])
def test_bad_key_in_a_later_grid_names_the_row(bad_at):
    data = [{"id": i, "x": i / 2} for i in range(BIG)]
    data[bad_at] = {"id": 0, (1, 2): "x"}
    err = expect_error(SchemaError, DictList, data)
    assert f"row {bad_at}" in str(err)


def test_many_grids_with_new_keys_general_records_and_key_orders():
    data = []
    for i in range(3 * BIG):
        if i % 1999 == 11:
            data.append({"id": i, "tags": [i, {"k": None}]})  # nested: general path
        elif i % 4001 == 17:
            data.append({"name": "swapped", "id": i})  # other key order
        elif i in (2048, 9000, 25000):
            data.append({"id": i, f"new{i}": i * 1.5})  # a new field, late
        else:
            data.append({"id": i, "name": f"u{i % 7919}", "price": i * 0.25, "ok": i % 3 == 0})
    rows = DictList(data)
    assert len(rows) == len(data)
    assert same(rows.to_list(), data)
    assert [list(r) for r in rows[::997]] == [list(d) for d in data[::997]]
    ext = DictList(data[:5])
    ext.extend(data[5:])
    assert same(ext.to_list(), data)


def test_many_grids_of_tuples():
    from memslim import TupleList

    data = [(i, f"s{i % 501}", None if i % 5 else i / 3) for i in range(BIG)]
    data[5000] = (5000, ["nested"], 1.0)  # general path mid-run
    rows = TupleList(data, fields=("a", "b", "c"))
    assert same([tuple(r) for r in rows], data)


def test_lone_surrogates_take_the_general_path():
    data = [{"s": "ok"}, {"s": "\ud800"}, {"s": "fine"}]
    try:
        rows = DictList(data)
    except (TypeError, ValueError):
        return
    assert same(rows.to_list(), data)


def test_shared_string_objects_and_many_distinct_strings():
    vocab = [f"w{i}" for i in range(50)]
    data = [{"w": vocab[i % 50], "u": f"user{i * 7919 % 5000}"} for i in range(20_000)]
    rows = DictList(data, chunk_rows=3000)
    assert [r["w"] for r in rows] == [d["w"] for d in data]
    assert [r["u"] for r in rows] == [d["u"] for d in data]


def test_exported_dictionary_is_not_changed_by_later_bulk_appends():
    pa = pytest.importorskip("pyarrow")
    rows = DictList([{"c": c} for c in "abcab"])
    table = pa.table(rows)
    rows.extend([{"c": c} for c in "xyzab" * 100])
    assert table.column("c").to_pylist() == list("abcab")
    assert rows[-1]["c"] == "b" and len(rows) == 505


def test_extend_with_mapping_subclasses_and_rows_of_itself():
    class D(dict):
        pass

    rows = DictList([{"a": 1}, D(a=2)])
    rows.extend([rows[0], {"a": 3}, rows[1]])
    assert rows.to_list() == [{"a": 1}, {"a": 2}, {"a": 1}, {"a": 3}, {"a": 2}]


def test_objects_in_values_are_pickled_not_lost():
    rows = DictList([{"o": Weird(), "i": 1}, {"o": 2, "i": 2}])
    assert isinstance(rows[0]["o"], Weird) and rows[1]["o"] == 2


@given(st.lists(records(), max_size=40))
def test_bulk_build_equals_one_by_one_appends(recs):
    bulk = DictList(recs)
    one = DictList()
    for r in recs:
        one.append(r)
    assert same(bulk.to_list(), recs)
    assert same(one.to_list(), recs)
    assert dict(bulk.schema) == dict(one.schema)


@given(st.lists(st.tuples(records(), st.sampled_from(["same", "fresh", "sub"])), max_size=40))
def test_appends_match_keys_by_identity_by_text_or_not_at_all(recs):
    """``append`` takes a record whose keys are the list's own name objects, or equal
    strings made elsewhere (as JSON parsing makes them), straight to the columns; a key
    of a ``str`` subclass keeps its type through the general path. Either way the list
    holds what the list of dicts holds, with the schema a bulk build gives."""
    want = []
    for r, keys in recs:
        if keys == "fresh":
            r = {fresh_key(k): v for k, v in r.items()}
        elif keys == "sub":
            r = {Sub(k): v for k, v in r.items()}
        want.append(r)
    one = DictList()
    for r in want:
        one.append(r)
    assert same(one.to_list(), want)
    assert dict(one.schema) == dict(DictList(want).schema)
    for got, r in zip(one, want, strict=True):
        assert [type(k) for k in got] == [str] * len(r)  # keys come back as plain str


def test_appends_of_dicts_that_share_their_key_objects():
    """``csv.DictReader`` gives every row the same key objects (its header's strings, not
    the interned names): each value still goes to the field its key names, whatever the
    order of the keys, alongside dicts with keys of their own."""
    text = "alpha,beta,gamma\n1,x,2.5\n3,y,\n"
    want = list(csv.DictReader(io.StringIO(text)))
    head = list(want[0])
    assert head == ["alpha", "beta", "gamma"] and head[0] is not sys.intern("alpha")
    want.append({head[2]: "z", head[0]: "5"})  # the shared objects, in another order
    want.append({fresh_key("beta"): "w", fresh_key("alpha"): "6", fresh_key("delta"): "new"})
    want.append({head[1]: "v", head[0]: "7", head[2]: "8"})
    rows = DictList()
    for r in want:
        rows.append(r)
    assert same(rows.to_list(), want)
    assert [list(r) for r in rows] == [list(r) for r in want]


def test_tuple_list_bulk_mixes_plain_and_general_records():
    from collections import namedtuple

    from memslim import TupleList

    P = namedtuple("P", "x y label")
    data = []
    for i in range(600):
        if i % 101 == 3:
            data.append([i, 2.5, "list record"])  # a list: general path
        elif i % 97 == 1:
            data.append((i, (1, 2), "nested"))  # nested value: general path
        elif i % 2:
            data.append(P(i, i / 2, f"p{i % 7}"))
        else:
            data.append((i, None, b"raw"))
    rows = TupleList(data, fields=("x", "y", "label"))
    assert same([tuple(r) for r in rows], [tuple(d) for d in data])
    assert same(rows[1].y, (1, 2)) and same(rows[3].y, 2.5) and same(rows[5].y, 2.5)


@pytest.mark.parametrize("bad_at", [0, 255, 256, 500])
def test_tuple_list_wrong_length_names_the_row(bad_at):
    from memslim import TupleList

    rows = TupleList([(0, 0)], fields=("a", "b"))
    before = snapshot(rows)
    data = [(i, i) for i in range(600)]
    data[bad_at] = (1, 2, 3)
    err = expect_error(ValueError, rows.extend, data)
    assert f"row {bad_at + 1}" in str(err)
    assert snapshot(rows) == before


def test_generated_row_types_pickle_and_are_shared_by_field_tuple():
    import copy

    from memslim import TupleList

    a = TupleList([(1, "x")], fields=("n", "s"))
    b = TupleList([(2, "y")], fields=("n", "s"))
    assert type(a[0]) is type(b[0])
    for row in (a[0], copy.deepcopy(a[0]), pickle.loads(pickle.dumps(a[0]))):
        assert row == (1, "x") and row.n == 1 and row._fields == ("n", "s")
    back = pickle.loads(pickle.dumps([a[0], b[0]]))
    assert back == [(1, "x"), (2, "y")] and type(back[0]) is type(a[0])


def test_rows_of_another_list_are_copied_cell_to_cell():
    data = [
        {"id": i, "s": f"v{i % 5}", "n": [i, {"k": "x"}] if i % 7 == 0 else None}
        for i in range(1_000)
    ]
    data[3] = {"s": "swapped", "id": 3}  # other key order, absent "n"
    src = DictList(data)
    other = DictList([{"z": True}])
    picked = DictList(r for r in src if r["id"] % 3 == 0)
    assert same(picked.to_list(), [d for d in data if d["id"] % 3 == 0])
    assert list(picked[1]) == ["s", "id"]
    # Interleaved with rows of a second list, plain dicts and a view of itself.
    mixed = DictList([src[0], other[0], {"a": 1}, src[5], src[6]])
    mixed.extend([mixed[1], src[7]])
    assert same(
        mixed.to_list(),
        [data[0], {"z": True}, {"a": 1}, data[5], data[6], {"z": True}, data[7]],
    )


def test_rows_of_another_list_keep_errors_and_removed_records():
    src = DictList([{"id": i, "extra": "x"} for i in range(10)])
    strict = DictList(schema={"id": "int64"})
    err = expect_error(SchemaError, strict.extend, [src[0], src[1]])
    assert "extra" in str(err)
    assert len(strict) == 0 and strict.columns == ["id"]
    view = src[5]
    del src[5]
    target = DictList()
    target.extend([src[0], view])
    assert [r["id"] for r in target] == [0, 5]
