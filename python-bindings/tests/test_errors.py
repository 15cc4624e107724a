"""Every error path: the right exception class, a useful message, the list unchanged, and
never a Rust panic (PanicException derives from BaseException) or a crash."""

from __future__ import annotations

import collections.abc
import pickle
import re
import subprocess
import sys
import textwrap
import threading

import memslim
import pytest
from conftest import expect_error, same, snapshot
from memslim import DictList, TupleList


def records():
    return [{"id": i, "name": f"n{i}", "price": i + 0.5} for i in range(6)]


def fresh(chunk_rows=None):
    return DictList(records(), chunk_rows=chunk_rows)


def fixed():
    return DictList([{"id": 1, "label": "a"}], schema={"id": "int64", "label": "str"}, chunk_rows=2)


def assert_unchanged(rows, before):
    after = snapshot(rows)
    assert same(after, before), f"list changed by a failed call:\n{before}\n{after}"


def no_panic(func):
    """Run ``func``; it may succeed or raise an ordinary Exception, but never panic."""
    try:
        return func()
    except BaseException as exc:  # noqa: BLE001 - deliberately catching panics
        assert isinstance(exc, Exception), f"not an Exception (panic?): {exc!r}"
        assert type(exc).__name__ != "PanicException", f"Rust panic: {exc!r}"
        return exc


def run_isolated(code):
    """Run ``code`` in a fresh interpreter; a crash (signal) shows as a failed test."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class ExplodingMapping(collections.abc.Mapping):
    """A mapping whose value lookup fails for key "b"."""

    def __init__(self):
        self._data = {"a": 1, "b": 2, "c": 3}

    def __getitem__(self, key):
        if key == "b":
            raise ZeroDivisionError("boom")
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


# ======================================================================================
# Exception classes
# ======================================================================================


def test_exception_hierarchy():
    assert issubclass(memslim.MemslimError, Exception)
    assert issubclass(memslim.SchemaError, memslim.MemslimError)
    assert issubclass(memslim.SchemaError, TypeError)
    assert issubclass(memslim.StaleRowError, memslim.MemslimError)
    assert issubclass(memslim.StaleRowError, RuntimeError)
    assert issubclass(memslim.CorruptDataError, memslim.MemslimError)
    assert issubclass(memslim.CorruptDataError, ValueError)


# ======================================================================================
# SchemaError (also TypeError): records that do not fit
# ======================================================================================

BAD_RECORD_CALLS = {
    "append-int": lambda rows: rows.append(42),
    "append-str": lambda rows: rows.append("id"),
    "append-pairs": lambda rows: rows.append([("id", 1)]),
    "append-none": lambda rows: rows.append(None),
    "append-int-key": lambda rows: rows.append({"id": 1, 2: "x"}),
    "append-bytes-key": lambda rows: rows.append({b"id": 1}),
    "append-none-key": lambda rows: rows.append({None: 1}),
    "insert": lambda rows: rows.insert(2, 42),
    "insert-int-key": lambda rows: rows.insert(0, {0: 0}),
    "setitem": lambda rows: rows.__setitem__(1, 42),
    "setitem-int-key": lambda rows: rows.__setitem__(1, {"ok": 1, 1: 2}),
    "slice-assign": lambda rows: rows.__setitem__(slice(1, 3), [{"ok": 1}, 42, {"ok": 2}]),
    "ext-slice-assign": lambda rows: rows.__setitem__(slice(None, None, 2), [{}, {}, 42]),
    "extend": lambda rows: rows.extend([{"new": 1}, {"id": "widen"}, 42]),
    "iadd": lambda rows: rows.__iadd__([{"new": 1}, 42]),
    "add": lambda rows: rows + [{"new": 1}, 42],
    "row-int-key": lambda rows: rows[0].__setitem__(1, "x"),
    "row-update-int-key": lambda rows: rows[0].update({1: "x"}),
}


@pytest.mark.parametrize("call", list(BAD_RECORD_CALLS.values()), ids=list(BAD_RECORD_CALLS))
def test_bad_record_raises_schema_error_and_leaves_list_unchanged(call, chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)
    expect_error(memslim.SchemaError, call, rows)
    assert_unchanged(rows, before)


def test_construction_from_non_mappings_raises_schema_error():
    err = expect_error(memslim.SchemaError, DictList, [{"a": 1}, {"a": 2}, 3])
    assert isinstance(err, TypeError)


def test_construction_from_non_iterable_raises_type_error():
    expect_error(TypeError, DictList, 5)


FIXED_SCHEMA_CALLS = {
    "append": lambda rows: rows.append({"id": "one", "label": "b"}),
    "append-float-label": lambda rows: rows.append({"id": 2, "label": 2.5}),
    "insert": lambda rows: rows.insert(0, {"id": 2, "label": b"bytes"}),
    "setitem": lambda rows: rows.__setitem__(0, {"id": [1], "label": "b"}),
    "extend": lambda rows: rows.extend([{"id": 2, "label": "ok"}, {"id": 3, "label": 3}]),
    "row-write": lambda rows: rows[0].__setitem__("label", 3),
    "row-update": lambda rows: rows[0].update(id="x"),
}


@pytest.mark.parametrize("call", list(FIXED_SCHEMA_CALLS.values()), ids=list(FIXED_SCHEMA_CALLS))
def test_explicit_schema_wrong_type_raises_schema_error(call):
    rows = fixed()
    before = snapshot(rows)
    expect_error(memslim.SchemaError, call, rows)
    assert_unchanged(rows, before)


def test_schema_error_message_names_the_field():
    rows = fixed()
    err = expect_error(memslim.SchemaError, rows.append, {"id": 2, "label": 99})
    assert "label" in str(err)


def test_schema_error_message_names_the_row_and_field_at_construction():
    data = [{"amount": float(i)} for i in range(5)] + [{"amount": "ten"}]
    err = expect_error(memslim.SchemaError, DictList, data, schema={"amount": "float64"})
    assert "amount" in str(err)
    assert re.search(r"\b5\b", str(err)), f"row index 5 not named in: {err}"


def _eight():
    return DictList([{"a": i} for i in range(8)], schema={"a": "int64"})


def _held(rows):
    """``rows`` with a Row of it kept alive: the list then changes by order, its records
    landing at the end of the store it shares."""
    _held.views.append(rows[0])
    return rows


_held.views = []
_BAD = {"a": "not an int"}
_TUPLES = [(i, i) for i in range(4)]

# (call, the row the error must name): the position the bad record was going to in the
# list the user sees (in the result for `+`), not its place among the records given or
# the store row it would have taken.
ROW_NAMED = {
    "slice-assign": (lambda: _eight().__setitem__(slice(3, 5), [{"a": 1}, _BAD]), 4),
    "slice-assign-longer": (
        lambda: _eight().__setitem__(slice(3, 4), [{"a": 1}, {"a": 2}, _BAD]),
        5,
    ),
    "ext-slice-assign": (lambda: _eight().__setitem__(slice(6, 2, -2), [{"a": 1}, _BAD]), 4),
    "setitem-held": (lambda: _held(_eight()).__setitem__(2, _BAD), 2),
    "insert-held": (lambda: _held(_eight()).insert(3, _BAD), 3),
    "append-held": (lambda: _held(_eight()).append(_BAD), 8),
    "extend-held": (lambda: _held(_eight()).extend([{"a": 1}] * 9 + [_BAD]), 17),
    "slice-assign-held": (lambda: _held(_eight()).__setitem__(slice(3, 5), [{"a": 1}, _BAD]), 4),
    "slice-insert": (lambda: _held(_eight())[2:5].insert(0, _BAD), 0),
    "slice-append": (lambda: _held(_eight())[2:5].append(_BAD), 3),
    "slice-extend": (lambda: _held(_eight())[2:5].extend(iter([{"a": 1}, _BAD])), 4),
    "list-plus-rows": (lambda: [{"a": 1}, _BAD] + _eight(), 1),
    "slice-plus-list": (lambda: _held(_eight())[2:5] + [{"a": 1}, _BAD], 4),
    "tuple-ext-slice-assign": (
        lambda: TupleList(_TUPLES, fields=("a", "b")).__setitem__(
            slice(None, None, 2), [(1, 2), (1,)]
        ),
        2,
    ),
    "tuple-slice-assign": (
        lambda: TupleList(_TUPLES, fields=("a", "b")).__setitem__(slice(1, 2), [(1, 2), (1,)]),
        2,
    ),
    "tuple-list-plus-rows": (lambda: [(1, 2), (1,)] + TupleList(_TUPLES, fields=("a", "b")), 1),
}


@pytest.mark.parametrize(("call", "row"), list(ROW_NAMED.values()), ids=list(ROW_NAMED))
def test_an_error_about_a_record_names_its_position_in_the_list(call, row):
    err = expect_error((memslim.SchemaError, memslim.InvalidValueError), call)
    named = re.search(r"row (\d+)", str(err))
    assert named and int(named.group(1)) == row, f"row {row} not named in: {err}"
    _held.views.clear()


@pytest.mark.parametrize(
    "call",
    [
        lambda rows: rows.append({"id": 2, "label": "b", "surprise": 1}),
        lambda rows: rows[0].__setitem__("surprise", 1),
        lambda rows: rows[0].setdefault("surprise", 1),
    ],
    ids=["append", "row-write", "row-setdefault"],
)
def test_explicit_schema_rejects_unknown_field(call):
    rows = fixed()
    before = snapshot(rows)
    err = expect_error(memslim.SchemaError, call, rows)
    assert "surprise" in str(err)
    assert_unchanged(rows, before)


def test_unknown_dtype_name_raises_value_error():
    err = expect_error(ValueError, DictList, [], schema={"price": "decimal"})
    assert "decimal" in str(err)


def test_zero_chunk_rows_raises_value_error():
    expect_error(ValueError, DictList, [], chunk_rows=0)


def test_huge_chunk_rows_does_not_crash_the_process():
    out = run_isolated(
        """
        import memslim
        try:
            rows = memslim.DictList([{"a": 1}], chunk_rows=2**40)
            assert rows.to_list() == [{"a": 1}]
        except Exception as exc:  # refusing is fine; a panic (BaseException) is not
            assert type(exc).__name__ != "PanicException", exc
        print("survived")
        """
    )
    assert "survived" in out


# ======================================================================================
# Values that cannot be stored
# ======================================================================================


def _cycle_list():
    v = [1]
    v.append(v)
    return v


def _cycle_dict():
    d = {"k": 1}
    d["self"] = d
    return d


def _cycle_through_tuple():
    inner = []
    outer = (inner,)
    inner.append(outer)
    return outer


@pytest.mark.parametrize("make_value", [_cycle_list, _cycle_dict, _cycle_through_tuple])
def test_cyclic_value_raises_value_error(make_value, chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)
    expect_error(ValueError, rows.append, {"id": 9, "loop": make_value()})
    expect_error(ValueError, rows[0].__setitem__, "loop", make_value())
    assert_unchanged(rows, before)


@pytest.mark.parametrize(
    "make_value",
    [lambda: lambda: 0, threading.Lock, lambda: (x for x in ()), lambda: [1, {"f": sys}]],
    ids=["lambda", "lock", "generator", "module-nested"],
)
def test_unpicklable_value_raises_type_error_naming_the_field(make_value, chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)
    err = expect_error(TypeError, rows.append, {"id": 9, "callback": make_value()})
    assert "callback" in str(err)
    err = expect_error(TypeError, rows[2].__setitem__, "handler", make_value())
    assert "handler" in str(err)
    assert_unchanged(rows, before)


def test_deeply_nested_value_does_not_crash_the_process():
    out = run_isolated(
        """
        import memslim
        value = []
        for _ in range(200_000):
            value = [value]
        rows = memslim.DictList([{"a": 1}])
        try:
            rows.append({"deep": value})
        except Exception as exc:
            assert type(exc).__name__ != "PanicException", exc
            assert rows.to_list() == [{"a": 1}]
        else:
            try:
                back = rows[1]["deep"]
            except Exception as exc:
                assert type(exc).__name__ != "PanicException", exc
            else:
                depth = 0
                while back:
                    (back,) = back
                    depth += 1
                assert depth == 200_000, depth
        print("survived")
        """
    )
    assert "survived" in out


@pytest.mark.parametrize(
    "record",
    [{"s": "\ud800"}, {"s": "ok\udfffok"}, {"\ud800": 1}, {"n": ["\udc80"]}],
    ids=["value", "value-mid", "key", "nested"],
)
def test_lone_surrogate_round_trips_or_raises_cleanly(record):
    rows = fresh()
    before = snapshot(rows)
    outcome = no_panic(lambda: rows.append(record))
    if isinstance(outcome, Exception):
        assert isinstance(outcome, (TypeError, ValueError))
        assert_unchanged(rows, before)
    else:
        assert same(rows.to_list()[-1], record)


# ======================================================================================
# IndexError / ValueError: list-like failures
# ======================================================================================


def test_pop_from_empty_raises_index_error():
    rows = DictList()
    expect_error(IndexError, rows.pop)
    expect_error(IndexError, rows.pop, 0)


def test_index_beyond_machine_size_raises_index_error():
    rows = fresh()
    expect_error(IndexError, rows.__getitem__, 2**100)
    expect_error(IndexError, rows.__getitem__, -(2**100))


@pytest.mark.parametrize("index", ["0", 1.0, None, (1,)])
def test_non_integer_index_raises_type_error(index):
    expect_error(TypeError, fresh().__getitem__, index)


def test_remove_missing_raises_value_error(chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)
    expect_error(ValueError, rows.remove, {"id": 100})
    expect_error(ValueError, rows.remove, 5)
    assert_unchanged(rows, before)


def test_index_missing_raises_value_error():
    expect_error(ValueError, fresh().index, {"id": 100})


def test_extended_slice_assignment_of_wrong_length_raises_value_error(chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)
    err = expect_error(ValueError, rows.__setitem__, slice(None, None, 2), [{"x": 1}] * 2)
    assert "3" in str(err) and "2" in str(err)
    assert_unchanged(rows, before)


def test_slice_assignment_of_non_iterable_raises_type_error():
    rows = fresh()
    before = snapshot(rows)
    expect_error(TypeError, rows.__setitem__, slice(0, 2), 5)
    assert_unchanged(rows, before)


def test_column_index_out_of_range_raises_index_error():
    col = fresh().column("id")
    expect_error(IndexError, col.__getitem__, 6)


# ======================================================================================
# KeyError: row and column lookups
# ======================================================================================


def test_row_missing_key_errors():
    rows = DictList([{"a": 1}, {"b": 2}])
    row = rows[0]
    for call in (
        lambda: row["b"],
        lambda: row["zzz"],
        lambda: row.__delitem__("b"),
        lambda: row.pop("b"),
    ):
        err = expect_error(KeyError, call)
        assert err.args and err.args[0] in ("b", "zzz")
    assert same(rows.to_list(), [{"a": 1}, {"b": 2}])


def test_row_non_string_lookup_is_a_missing_key():
    row = DictList([{"a": 1}])[0]
    expect_error(KeyError, row.__getitem__, 1)
    assert row.get(1) is None
    assert 1 not in row


def test_popitem_on_empty_row_raises_key_error():
    rows = DictList([{}])
    expect_error(KeyError, rows[0].popitem)


def test_unknown_column_raises_key_error():
    err = expect_error(KeyError, fresh().column, "nope")
    assert "nope" in str(err)


# ======================================================================================
# Row views of moved or removed records (no StaleRowError: they follow their records)
# ======================================================================================

ROW_USES = {
    "getitem": lambda r: r["id"],
    "get": lambda r: r.get("id"),
    "setitem": lambda r: r.__setitem__("id", 1),
    "delitem": lambda r: r.__delitem__("id"),
    "contains": lambda r: "id" in r,
    "len": len,
    "iter": list,
    "keys": lambda r: list(r.keys()),
    "values": lambda r: list(r.values()),
    "items": lambda r: list(r.items()),
    "pop": lambda r: r.pop("id"),
    "popitem": lambda r: r.popitem(),
    "setdefault": lambda r: r.setdefault("new", 1),
    "update": lambda r: r.update(id=1),
    "clear": lambda r: r.clear(),
    "copy": lambda r: r.copy(),
    "dict": dict,
}


@pytest.mark.parametrize("use", list(ROW_USES.values()), ids=list(ROW_USES))
def test_every_use_of_a_moved_row_acts_on_its_record(use, chunk_rows):
    rows, twin = fresh(chunk_rows), [dict(r) for r in fresh(chunk_rows)]
    view, twin_view = rows[3], twin[3]
    rows.insert(1, {"id": -1})
    twin.insert(1, {"id": -1})
    assert outcome(use, view) == outcome(use, twin_view)
    assert rows.to_list() == twin


def outcome(use, row):
    try:
        out = use(row)
    except Exception as e:  # noqa: BLE001 - the exception is the answer
        return type(e)
    return dict(out) if hasattr(out, "keys") else out


def test_view_outlives_its_cleared_and_deleted_list():
    rows = fresh()
    view = rows[0]
    expected = dict(view)
    rows.clear()
    del rows
    assert dict(view) == expected


# ======================================================================================
# CorruptDataError: bad pickle state
# ======================================================================================


def _map_bytes(obj, fn):
    if isinstance(obj, (bytes, bytearray)):
        return fn(bytes(obj))
    if isinstance(obj, tuple):
        return tuple(_map_bytes(x, fn) for x in obj)
    if isinstance(obj, list):
        return [_map_bytes(x, fn) for x in obj]
    if isinstance(obj, dict):
        return {k: _map_bytes(v, fn) for k, v in obj.items()}
    return obj


def _has_bytes(obj):
    found = []
    _map_bytes(obj, lambda b: found.append(b) or b)
    return bool(found)


def _rebuild(reduced):
    func, args = reduced[0], reduced[1]
    obj = func(*args)
    state = reduced[2] if len(reduced) > 2 else None
    if state is not None:
        obj.__setstate__(state)
    return obj


CORRUPTIONS = {
    "truncated-half": lambda b: b[: len(b) // 2],
    "truncated-to-1": lambda b: b[:1],
    "garbage": lambda b: b"\xde\xad\xbe\xef garbage \xff",
    "empty": lambda b: b"",
}


@pytest.mark.parametrize("cls", [DictList, TupleList])
@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_corrupt_pickle_state_raises_corrupt_data_error(corrupt, cls):
    if cls is DictList:
        rows = DictList(records(), chunk_rows=4)
    else:
        rows = TupleList([(r["id"], r["name"]) for r in records()], ("id", "name"), chunk_rows=4)
    reduced = rows.__reduce__()
    assert _rebuild(reduced) == rows  # the untouched state rebuilds the list
    if not _has_bytes(reduced):
        pytest.skip("pickle state carries no byte payload to corrupt")
    broken = _map_bytes(reduced, corrupt)

    def rebuild_and_read():
        obj = _rebuild(broken)
        obj.to_list()

    expect_error(memslim.CorruptDataError, rebuild_and_read)


def test_corrupt_pickle_stream_never_panics():
    data = pickle.dumps(DictList(records()))
    for cut in range(len(data) - 1, 0, -max(1, len(data) // 50)):
        no_panic(lambda cut=cut: pickle.loads(data[:cut]))


# ======================================================================================
# User code raising inside memslim calls
# ======================================================================================


def test_exception_from_a_user_mapping_propagates_and_list_is_unchanged(chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)
    expect_error(ZeroDivisionError, rows.append, ExplodingMapping())
    expect_error(ZeroDivisionError, rows.extend, [{"ok": 1}, ExplodingMapping()])
    assert_unchanged(rows, before)


def test_exception_from_a_generator_propagates_and_list_is_unchanged(chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)

    def gen():
        yield {"id": 100, "extra": True}
        raise LookupError("source failed")

    err = expect_error(LookupError, rows.extend, gen())
    assert str(err) == "source failed"
    assert_unchanged(rows, before)


def test_exception_from_sort_key_propagates_and_list_is_unchanged(chunk_rows):
    rows = fresh(chunk_rows)
    before = snapshot(rows)

    def key(row):
        if row["id"] == 4:
            raise ZeroDivisionError("bad key")
        return -row["id"]

    expect_error(ZeroDivisionError, rows.sort, key=key)
    assert_unchanged(rows, before)


def test_sort_without_key_on_dict_rows_raises_type_error():
    rows = fresh()
    before = snapshot(rows)
    expect_error(TypeError, rows.sort)
    assert_unchanged(rows, before)


def test_sort_key_that_mutates_the_list_does_not_panic():
    rows = fresh()
    no_panic(lambda: rows.sort(key=lambda r: rows.append({"id": 0}) or r["id"]))
    assert len(rows) == len(rows.to_list())


def test_sort_key_that_reads_the_list_does_not_panic():
    rows = fresh()
    no_panic(lambda: rows.sort(key=lambda r: (len(rows), rows.to_list() and r["id"])))
    assert len(rows) == len(rows.to_list())


def test_appending_while_iterating_does_not_panic():
    rows = fresh(chunk_rows=2)

    def loop():
        for i, row in enumerate(rows):
            if i < 5:
                rows.append({"id": 100 + i})
            row.get("id")

    no_panic(loop)
    assert len(rows) == len(rows.to_list())


def test_clearing_while_iterating_does_not_panic():
    rows = fresh(chunk_rows=2)

    def loop():
        for row in rows:
            rows.clear()
            row.get("id")

    no_panic(loop)
    assert rows.to_list() == []


class AppendsWhileRead(collections.abc.Mapping):
    """A record whose value lookup appends to ``target``, the list it is going into."""

    target = None

    def __getitem__(self, key):
        self.target.append({"a": 2})
        return 1

    def __iter__(self):
        return iter(["a"])

    def __len__(self):
        return 1


class AppendsWhileIterated(collections.abc.Sequence):
    """A TupleList record whose item lookup appends to ``target``."""

    target = None

    def __getitem__(self, i):
        if i >= 2:
            raise IndexError(i)
        self.target.append((3, 4))
        return i

    def __len__(self):
        return 2


def test_reentrant_use_of_a_list_is_a_concurrent_use_error():
    # errors.md promises ConcurrentUseError for "re-entrant use from Python code run
    # while it is busy": `except memslim.MemslimError` must catch it, as it does the same
    # refusal from a record file.
    rows = DictList([{"a": 1}])
    AppendsWhileRead.target = rows
    tuples = TupleList([(1, 2)], fields=("a", "b"))
    AppendsWhileIterated.target = tuples
    for call in (
        lambda: rows.append(AppendsWhileRead()),
        lambda: rows[0] == AppendsWhileRead(),
        lambda: tuples.append(AppendsWhileIterated()),
    ):
        e = no_panic(call)
        assert isinstance(e, memslim.ConcurrentUseError), (type(e), e)
        assert isinstance(e, RuntimeError)
    assert rows == [{"a": 1}]
    assert list(tuples) == [(1, 2)]


def test_from_arrow_of_a_non_arrow_object_raises_type_error():
    expect_error(TypeError, DictList.from_arrow, [{"a": 1}])
    expect_error(TypeError, DictList.from_arrow, 5)
