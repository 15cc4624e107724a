"""Persistent record files (DictList.open / save, DictListFile); NumberFile is in
test_number_file.py."""

from __future__ import annotations

import errno
import math
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import memslim
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from conftest import HostValue, expect_error, records, same
from hypothesis import given, settings
from hypothesis import strategies as st
from pyarrow import ipc

# Values a list of dicts holds that must come back type-exact from disk.
EXACT = [
    {
        "id": 1,
        "flag": True,
        "x": -0.0,
        "name": "ünïcödé ✓",
        "blob": b"\x00\xff",
        "obj": [1, (2, "3"), {"k": None}],
    },
    {
        "id": 2,
        "flag": False,
        "x": math.nan,
        "name": "",
        "blob": None,
        "obj": 2**70,
    },
    {
        "id": -(2**63),
        "flag": None,
        "x": math.inf,
        "name": None,
        "blob": b"",
        "obj": -(2**100),
    },
]


def child(code: str, *args: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


# --------------------------------------------------------------------------------------
# Round trips and the read API
# --------------------------------------------------------------------------------------


def test_append_flush_reopen_is_type_exact(tmp_path: Path) -> None:
    path = tmp_path / "ev.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend(EXACT)
        assert len(rows) == 3 and rows.pending == 3
        assert same(rows[0].to_dict(), EXACT[0])  # pending records read back too
    with memslim.DictList.open(path, mode="r") as rows:
        assert len(rows) == 3 and rows.pending == 0
        for i, want in enumerate(EXACT):
            assert same(rows[i].to_dict(), want), i
        assert same(rows.to_list(), EXACT)
        # == compares like the list of dicts it stands for (NaN != NaN included)
        assert (rows == EXACT) == (list(rows) == EXACT) and rows != EXACT[:2]
        assert same(rows[-1].to_dict(), EXACT[-1])
        assert same([dict(r) for r in rows[1:]], EXACT[1:])
        assert isinstance(rows[::2], memslim.FileSlice)
        assert rows.columns == ["id", "flag", "x", "name", "blob", "obj"]
        expect_error(IndexError, rows.__getitem__, 3)
        expect_error(TypeError, rows.__getitem__, "id")
        # As a list: an int past the machine's index size is an IndexError, and so is
        # one out of range in a slice view.
        expect_error(IndexError, rows.__getitem__, 2**100)
        expect_error(IndexError, rows[1:].__getitem__, -3)
        expect_error(TypeError, rows[1:].__getitem__, 1.0)


def test_save_is_a_snapshot_of_an_in_memory_list(tmp_path: Path) -> None:
    data = [
        {"id": i, "user": f"u{i % 5}", "price": i / 4, "tags": [i] * (i % 3)} for i in range(2000)
    ]
    rows = memslim.DictList(data)
    path = tmp_path / "snap.msl"
    assert rows.save(path) == 2000
    with memslim.DictList.open(path, "r") as back:
        assert same(back.to_list(), data)
    rows.append({"id": -1})
    assert rows.save(path) == 2001  # replaces the old file
    assert len(memslim.DictList.open(path, "r")) == 2001


def test_absent_keys_stay_absent(tmp_path: Path) -> None:
    # a key a record lacks is not the key holding None, on disk as in memory
    data = [{"a": 1, "b": "x"}, {"a": 2}, {"b": None, "a": 3}, {}]
    with memslim.DictList.open(tmp_path / "a.msl") as rows:
        rows.extend(data)
    back = memslim.DictList.open(tmp_path / "a.msl", "r")
    assert same(back.to_list(), data)
    assert "b" not in back[1] and back[2]["b"] is None
    # other Arrow readers see the absent key as null
    assert pa.table(back).column("b").to_pylist() == ["x", None, None, None]
    assert memslim.DictList(data).save(tmp_path / "s.msl") == 4
    assert same(memslim.DictList.open(tmp_path / "s.msl", "r").to_list(), data)


def test_rows_are_read_only_mapping_views(tmp_path: Path) -> None:
    import collections.abc
    import copy
    import pickle

    path = tmp_path / "v.msl"
    data = [{"b": 2, "a": 1.5}, {"a": None}, {"a": 7, "c": [1, {"k": b"x"}]}]
    with memslim.DictList.open(path) as rows:
        rows.extend(data)
    rows = memslim.DictList.open(path, "r")
    row = rows[0]
    assert isinstance(row, memslim.Row) and isinstance(row, collections.abc.Mapping)
    assert row == data[0] and data[0] == row and row != data[1] and row == rows[0]
    assert list(row) == ["b", "a"] and list(row.keys()) == ["b", "a"] and len(row) == 2
    assert list(row.items()) == [("b", 2), ("a", 1.5)] and list(row.values()) == [2, 1.5]
    assert "a" in row and "c" not in row and 3 not in row
    assert row.get("c") is None and row.get("c", 0) == 0
    expect_error(KeyError, row.__getitem__, "c")
    assert rows[1]["a"] is None and "c" not in rows[1]  # null is not absent
    assert same(dict(rows[2]), data[2]) and same(rows[2].to_dict(), data[2])
    assert same(pickle.loads(pickle.dumps(rows[2])), data[2])
    assert same(copy.copy(rows[2]), data[2]) and row.index == 0
    assert [r.index for r in rows] == [0, 1, 2] and list(rows) == data
    assert repr(row) == repr(data[0])
    expect_error(TypeError, hash, row)

    def assign() -> None:
        row["a"] = 1  # type: ignore[index]

    expect_error(TypeError, assign)
    # a view keeps its file object alive; after close() it refuses to read
    del rows
    assert row["b"] == 2
    last = memslim.DictList.open(path, "r")[2]
    with memslim.DictList.open(path, "r") as f:
        mine = f[0]
    expect_error(ValueError, mine.__getitem__, "a")
    assert last["a"] == 7


def test_pending_records_are_counted_and_traced(tmp_path: Path) -> None:
    import tracemalloc

    rows = memslim.DictList.open(tmp_path / "t.msl")
    empty = rows.nbytes
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rows.extend({"id": i, "s": f"value {i}"} for i in range(50_000))
        grown = rows.nbytes - empty
        traced = tracemalloc.get_traced_memory()[0] - base
        assert grown > 50_000 * 8  # ids and string bytes, at least
        assert sys.getsizeof(rows) >= rows.nbytes
        assert traced >= 0.9 * grown, (traced, grown)
        rows.flush()  # written out: the memory goes, and tracemalloc sees it go
        assert rows.nbytes < empty + grown // 10
        assert tracemalloc.get_traced_memory()[0] - base <= traced - 0.9 * grown
    finally:
        tracemalloc.stop()
        rows.close()


def test_column_and_arrow_export(tmp_path: Path) -> None:
    path = tmp_path / "c.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend({"i": i, "f": i * 0.5, "s": f"s{i % 3}"} for i in range(100_000))
    rows = memslim.DictList.open(path, "r")
    col = rows.column("f")
    assert isinstance(col, memslim.Column)
    assert col.sum() == sum(i * 0.5 for i in range(100_000))
    assert col.mean() == col.sum() / 100_000 and col.null_count == 0
    expect_error(TypeError, rows.column("s").sum)
    expect_error(KeyError, rows.column, "nope")
    table = pa.table(rows)
    assert table.num_rows == 100_000
    assert table.column("s")[4].as_py() == "s1"
    assert pl.DataFrame(rows)["i"].sum() == sum(range(100_000))
    back = memslim.DictList.from_arrow(rows)
    assert back[99_999] == rows[99_999]
    rows.close()
    # the exported batches keep the map alive after close and del
    del rows
    assert table.column("i")[99_999].as_py() == 99_999


@pytest.mark.parametrize("flush_floats", [False, True])
def test_ints_past_2_pow_53_then_floats_export_as_the_list_does(tmp_path, flush_floats):
    # The segments' types alone (int64, then float64) would unify to a float column that
    # rounds 2**53 + 1: the export widens the field to the exact encoding instead, as an
    # in-memory DictList exports the same records.
    records = [{"amount": 2**53 + 1, "n": 1}, {"amount": 0.5, "n": 2.5}]
    path = tmp_path / "e.msl"
    with memslim.DictList.open(path) as f:
        f.append(records[0])
        f.flush()
        f.append(records[1])
        if flush_floats:
            f.flush()
        want = pa.table(memslim.DictList(records))
        assert pa.table(f).equals(want)
        assert pa.table(f.column("amount")).column(0).equals(want.column("amount"))
        assert memslim.DictList.from_arrow(f).to_list() == records
        assert np.asarray(f.column("amount")).tolist() == [2**53 + 1, 0.5]
        # n's int is exactly a double: it stays a float column.
        assert pa.table(f).schema.field("n").type == pa.float64()


@pytest.mark.parametrize("big", [-(2**63), 2**60, 2**53 + 2, -(2**53) - 2])
def test_an_exact_int_past_2_pow_53_appended_to_a_float_field_reads_back(tmp_path, big):
    # Such an int is exactly a double, but a float column marks ints only within
    # ±2**53 (the rule the reader checks): the append used to write it as a marked float
    # and the file then failed to open (CorruptFileError). It joins as the list of dicts
    # holds it, as an in-memory DictList stores it (an object field).
    path = tmp_path / "f.msl"
    memslim.DictList([{"kb": 0.5}]).save(path)
    with memslim.DictList.open(path, "a") as f:
        f.append({"kb": big})
    back = memslim.DictList.open(path, "r")
    assert same(back.to_list(), [{"kb": 0.5}, {"kb": big}])
    assert same(memslim.DictList(back).to_list(), [{"kb": 0.5}, {"kb": big}])
    back.close()


def _old_writer_file(path: Path, kb: float) -> Path:
    """A record file as memslim wrote it before d28760d for ``[{"kb": 0.5}, {"kb": n}]``
    with an int ``n`` past 2**53 appended to the float field: the float ``kb`` with
    ``n``'s mark among ints (``memslim.ints``), then a record appended by today's
    writer (which also gives the file its index)."""
    batch = pa.record_batch({"kb": pa.array([0.5, kb], pa.float64())})
    with ipc.new_stream(path, batch.schema) as w:
        w.write_batch(batch, custom_metadata={"memslim.ints": "0:02"})
    with memslim.DictList.open(path, "a") as f:
        f.append({"kb": 1.5})
    return path


@pytest.mark.parametrize("big", [-(2**63), 2**60, 2**53 + 2, -(2**53) - 2, 2**63 - 1024, 2**63])
def test_a_file_an_older_writer_marked_ints_past_2_pow_53_in_reads_them_back(tmp_path, big):
    # Before d28760d, an int exactly a double appended to a float field was written as
    # a marked float whatever its size, and the reader (which takes marks within ±2**53
    # only) refused the file. The mark is taken back as the int it was: every such
    # double is whole, and 2**63 (no i64) comes back as the big int it is.
    path = _old_writer_file(tmp_path / "old.msl", float(big))
    want = [{"kb": 0.5}, {"kb": big}, {"kb": 1.5}]
    for mode in ("r", "a"):
        with memslim.DictList.open(path, mode) as back:
            assert same(back.to_list(), want)
            assert same([dict(r) for r in back], want)
            assert same(dict(back[1]), want[1])
            assert same(back.column("kb").to_list(), [0.5, big, 1.5])
            assert same(memslim.DictList(back).to_list(), want)
            # Exported as the list holds such an int (an object field), not as a float.
            assert pa.table(back).equals(pa.table(memslim.DictList(want)))
            assert memslim.DictList.from_arrow(back).to_list() == want
    # Still a file today's writer appends to and reads back.
    with memslim.DictList.open(path, "a") as f:
        f.append({"kb": 2**53 + 1})
    with memslim.DictList.open(path, "r") as back:
        assert same(back.to_list(), [*want, {"kb": 2**53 + 1}])


@pytest.mark.parametrize("kb", [0.5, -0.0, 2.0**64, 1e300, math.inf, math.nan])
def test_a_mark_on_a_float_no_writer_marked_is_still_refused(tmp_path, kb):
    # Fractions, -0.0, non-finite doubles and doubles past 2**63 were never ints a
    # writer marked: the file is damaged (reading one as int(x) would change it).
    path = tmp_path / "bad.arrows"
    batch = pa.record_batch({"kb": pa.array([0.5, kb], pa.float64())})
    with ipc.new_stream(path, batch.schema) as w:
        w.write_batch(batch, custom_metadata={"memslim.ints": "0:02"})
    with memslim.DictList.open(path, "r") as rows:
        for read in (rows.to_list, lambda: rows[1], lambda: memslim.DictList(rows)):
            err = expect_error(memslim.CorruptFileError, read)
            assert str(path) in str(err) and "marked as an int" in str(err)


def test_schema_grows_after_a_flush(tmp_path: Path) -> None:
    path = tmp_path / "s.msl"
    rows = memslim.DictList.open(path)
    rows.append({"id": 1, "name": "a", "v": None})
    rows.flush()
    later = [
        {"id": "one", "name": "b"},  # str into an int field: object
        {"id": 2, "new": 1.5, "v": 3},  # a new key; a first value where only None was
        {"v": 2.5, "id": 3},  # int -> float, another key order
        {"id": 2**70, "name": None},
    ]
    rows.extend(later[:2])
    assert rows.flush() == 2
    rows.extend(later[2:])
    rows.close()
    want = [{"id": 1, "name": "a", "v": None}, *later]
    back = memslim.DictList.open(path, "r")
    assert same(back.to_list(), want)
    assert back.columns == ["id", "name", "v", "new"]
    # one call gives every segment in one unified schema
    table = pa.table(back)
    assert table.column("v").to_pylist() == [None, None, 3.0, 2.5, None]
    assert same(memslim.DictList.from_arrow(back)[2]["v"], 3.0)
    # plain Arrow readers: one stream per segment, back to back in the file
    segments = []
    with open(path, "rb") as f:
        while f.tell() < path.stat().st_size:
            segments.append(ipc.open_stream(f).read_all())
    assert [t.num_rows for t in segments] == [1, 2, 2]
    assert segments[0].column_names == ["id", "name", "v"]
    assert pl.read_ipc_stream(path).height == 1  # polars reads the first segment
    # bad records still raise, naming the row, and leave the list unchanged
    rows = memslim.DictList.open(path)
    expect_error(memslim.SchemaError, rows.append, ["not", "a", "mapping"])
    err = expect_error(memslim.SchemaError, rows.extend, [{"id": 3}, "bad"])
    assert "row 6" in str(err)
    assert len(rows) == 5 and rows.pending == 0
    rows.close()


@given(
    batches=st.lists(st.lists(records(), max_size=6), min_size=1, max_size=4),
    reopen=st.booleans(),
)
@settings(max_examples=25)
def test_open_round_trips_like_a_list_of_dicts(
    tmp_path_factory: pytest.TempPathFactory, batches: list, reopen: bool
) -> None:
    path = tmp_path_factory.mktemp("prop") / "p.msl"
    oracle: list = []
    rows = memslim.DictList.open(path)
    for batch in batches:
        rows.extend(batch)
        oracle.extend(batch)
        rows.flush()
        if reopen:
            rows.close()
            rows = memslim.DictList.open(path)
        assert same(rows.to_list(), oracle)
    rows.close()
    back = memslim.DictList.open(path, "r")
    assert same([back[i].to_dict() for i in range(len(back))], oracle)
    assert (back == oracle) == (list(back) == oracle)  # NaN != NaN, as in lists
    assert len(pa.table(back)) == len(oracle)
    assert memslim.DictList(oracle).save(path) == len(oracle)
    assert same(memslim.DictList.open(path, "r").to_list(), oracle)


@st.composite
def file_and_oracle(draw):
    """Committed batches (one Arrow batch per flush, so several batches and, as types
    widen, several segments) and pending records on top."""
    flushed = draw(st.lists(st.lists(records(), max_size=6), max_size=4))
    pending = draw(st.lists(records(), max_size=4))
    return flushed, pending


def _open_with(path: Path, flushed: list, pending: list):
    rows = memslim.DictList.open(path)
    oracle: list = []
    for batch in flushed:
        rows.extend(batch)
        rows.flush()
        oracle.extend(batch)
    rows.extend(pending)
    oracle.extend(pending)
    return rows, oracle


def _plain(v) -> bool:
    """Whether a copy of ``v`` equals ``v`` (not so for NaN, which lists match by
    identity: a value read back from the file is a new object)."""
    return pickle.loads(pickle.dumps(v)) == v


@given(data=file_and_oracle(), pick=st.data())
@settings(max_examples=40, deadline=None)
def test_column_views_read_like_the_list_of_dicts(
    tmp_path_factory: pytest.TempPathFactory, data: tuple, pick: st.DataObject
) -> None:
    rows, oracle = _open_with(tmp_path_factory.mktemp("col") / "c.msl", *data)
    n = len(oracle)
    memory = memslim.DictList(oracle)
    table = pa.table(rows) if rows.columns else None
    for name in rows.columns:
        col = rows.column(name)
        want = [r.get(name) for r in oracle]  # absent reads None, as DictList.column
        assert isinstance(col, Sequence) and len(col) == n
        assert same(col.to_list(), want) and same(list(col), want)
        assert same(col.to_list(), memory.column(name).to_list())
        assert (col == want) == (col.to_list() == want) and col != [*want, 1]
        if n:
            i = pick.draw(st.integers(-n, n - 1))
            assert same(col[i], want[i])
            v = want[i]
            if _plain(v):
                assert (v in col) and col.count(v) == want.count(v)
                assert col.index(v) == want.index(v)
        a, b = pick.draw(st.integers(-n - 2, n + 2)), pick.draw(st.integers(-n - 2, n + 2))
        c = pick.draw(st.integers(-3, 3).filter(bool))
        assert same(col[a:b:c], want[a:b:c])
        expect_error(IndexError, col.__getitem__, n)
        mem = memory.column(name)
        for op in ("min", "max"):  # the in-memory column's answer, or its error
            try:
                extreme = getattr(mem, op)()
            except (TypeError, ValueError) as e:
                expect_error(type(e), getattr(col, op))
            else:
                assert same(getattr(col, op)(), extreme), op
        if mem.dtype in ("int64", "bool"):
            assert col.sum() == mem.sum() and type(col.sum()) is type(mem.sum())
        if mem.dtype in ("int64", "float64", "bool"):
            assert col.null_count == mem.null_count
            got, exp = np.asarray(col), np.asarray(mem)
            assert got.dtype == exp.dtype
            np.testing.assert_array_equal(got, exp)
        exported = pa.table(col)
        assert exported.column_names == [name]
        assert same(exported.column(0).to_pylist(), table.column(name).to_pylist())
    rows.close()


def test_column_min_max_keep_exact_types_across_batches_and_pending(tmp_path: Path) -> None:
    with memslim.DictList.open(tmp_path / "m.msl") as rows:
        rows.extend({"x": i / 2, "s": f"k{i:05}", "b": b"raw"} for i in range(1, 20_000))
        rows.append({"x": -7, "s": "a"})  # an int among floats; lacks "b"
        rows.flush()
        rows.append({"x": 10**6, "s": "zz", "n": None})  # pending
        x, s = rows.column("x"), rows.column("s")
        assert same((x.min(), x.max()), (-7, 10**6))
        assert same((s.min(), s.max()), ("a", "zz"))
        expect_error(ValueError, rows.column("n").min)
        assert same((rows.column("b").min(), rows.column("b").max()), (b"raw", b"raw"))


@given(data=file_and_oracle(), pick=st.data())
@settings(max_examples=40, deadline=None)
def test_slices_are_lazy_views_like_list_slices(
    tmp_path_factory: pytest.TempPathFactory, data: tuple, pick: st.DataObject
) -> None:
    rows, oracle = _open_with(tmp_path_factory.mktemp("slice") / "s.msl", *data)
    n = len(oracle)
    bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
    a, b = pick.draw(bound), pick.draw(bound)
    c = pick.draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
    view, want = rows[a:b:c], oracle[a:b:c]
    assert isinstance(view, memslim.FileSlice) and isinstance(view, Sequence)
    assert len(view) == len(want)
    assert same(view.to_list(), want) and same([r.to_dict() for r in view], want)
    assert (view == want) == (view.to_list() == want)
    if want:
        i = pick.draw(st.integers(-len(want), len(want) - 1))
        assert isinstance(view[i], memslim.Row) and same(view[i].to_dict(), want[i])
        if _plain(want[i]):
            assert want[i] in view and view.count(want[i]) == want.count(want[i])
            assert view.index(want[i]) == want.index(want[i])
    expect_error(IndexError, view.__getitem__, len(want))
    a2, b2 = pick.draw(bound), pick.draw(bound)
    c2 = pick.draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
    again = view[a2:b2:c2]
    assert isinstance(again, memslim.FileSlice)
    assert same(again.to_list(), want[a2:b2:c2])
    rows.close()


@given(data=file_and_oracle(), pick=st.data())
@settings(max_examples=40, deadline=None)
def test_the_file_finds_and_counts_records_as_the_list_does(
    tmp_path_factory: pytest.TempPathFactory, data: tuple, pick: st.DataObject
) -> None:
    """A record file is a whole Sequence: ``index`` (with bounds) and ``count`` answer
    as the list of dicts does, for a dict, a row of the file, and a record not there."""
    rows, oracle = _open_with(tmp_path_factory.mktemp("find") / "f.msl", *data)
    n = len(oracle)
    probes: list = [{"not": "there"}]
    if oracle:
        k = pick.draw(st.integers(0, n - 1))
        if _plain(oracle[k]):
            probes += [oracle[k], rows[k]]
    bound = st.integers(-n - 2, n + 2)
    a, b = pick.draw(bound), pick.draw(bound)
    for value in probes:
        want = value.to_dict() if isinstance(value, memslim.Row) else value
        assert rows.count(value) == oracle.count(want)
        for args in ((), (a,), (a, b)):
            try:
                expected = oracle.index(want, *args)
            except ValueError:
                expect_error(ValueError, rows.index, value, *args)
            else:
                assert rows.index(value, *args) == expected
    rows.close()
    expect_error(ValueError, rows.count, {})


@given(data=file_and_oracle(), pick=st.data())
@settings(max_examples=40, deadline=None)
def test_a_file_loads_into_a_dictlist_as_the_list_of_dicts_holds_it(
    tmp_path_factory: pytest.TempPathFactory, data: tuple, pick: st.DataObject
) -> None:
    """``DictList(f)``, ``DictList(f[a:b:c])`` and ``rows.extend(f)`` copy the file's
    records (committed and pending, over several batches and segments) natively:
    exactly the records the list of dicts holds, key order, absent keys and types."""
    rows, oracle = _open_with(tmp_path_factory.mktemp("load") / "f.msl", *data)
    n = len(oracle)
    chunk_rows = pick.draw(st.one_of(st.none(), st.integers(1, 5)))
    loaded = memslim.DictList(rows, chunk_rows=chunk_rows)
    assert same(loaded.to_list(), oracle)
    bound = st.integers(-n - 2, n + 2)
    a, b = pick.draw(bound), pick.draw(bound)
    c = pick.draw(st.sampled_from([1, 2, 3, -1, -2]))
    assert same(memslim.DictList(rows[a:b:c]).to_list(), oracle[a:b:c])
    head = [{"id": 1, "other": "x"}, {}]
    more = memslim.DictList(head)
    more.extend(rows)
    more.extend(rows[::-1])
    assert same(more.to_list(), head + oracle + oracle[::-1])
    # The copies are the list's own: writing to one leaves the file and the others.
    loaded.append({"new": True})
    if n:
        loaded[0]["id"] = "changed"
    assert same(rows.to_list(), oracle)
    assert same(more.to_list(), head + oracle + oracle[::-1])
    rows.close()
    expect_error(memslim.ClosedFileError, memslim.DictList, rows)


def test_loading_a_file_keeps_to_the_schema_and_to_trust(tmp_path: Path) -> None:
    path = tmp_path / "s.msl"
    with memslim.DictList.open(path) as f:
        f.extend([{"id": 1, "name": "a"}, {"id": 2, "name": None}, {"id": 3, "extra": 1.5}])
    with memslim.DictList.open(path, "r") as f:
        typed = memslim.DictList(f[:2], schema={"id": "int64", "name": "str"})
        assert typed.to_list() == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]
        err = expect_error(memslim.SchemaError, memslim.DictList, f, schema={"id": "int64"})
        assert "name" in str(err)
        # A failed extend leaves the list as it was.
        rows = memslim.DictList([{"id": 0}], schema={"id": "int64", "name": "str"})
        expect_error(memslim.SchemaError, rows.extend, f)
        assert rows.to_list() == [{"id": 0}] and len(rows) == 1
    # Pickled values come out of a file only if it was opened as trusted, as when its
    # records are read one by one.
    path = tmp_path / "p.msl"
    with memslim.DictList.open(path) as f:
        f.extend([{"x": 1}, {"x": HostValue(2)}, {"x": Decimal("2.5")}])
    with memslim.DictList.open(path, "r") as f:
        assert memslim.DictList(f[::2]).to_list() == [{"x": 1}, {"x": Decimal("2.5")}]
        err = expect_error(memslim.UntrustedDataError, memslim.DictList, f)
        assert "p.msl" in str(err)
        expect_error(memslim.UntrustedDataError, memslim.DictList().extend, f[1:])
    with memslim.DictList.open(path, "r", trusted=True) as f:
        want = [{"x": 1}, {"x": HostValue(2)}, {"x": Decimal("2.5")}]
        assert memslim.DictList(f).to_list() == want


def test_views_read_only_their_records_and_keep_the_file_alive(tmp_path: Path) -> None:
    path = tmp_path / "v.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend({"i": i, "f": i / 2} for i in range(1000))
        rows.flush()
        rows.extend({"i": i, "f": i / 2} for i in range(1000, 2000))
    # damage the second batch: views of the first never read it
    data = bytearray(path.read_bytes())
    data[len(data) - 100] ^= 0x10
    path.write_bytes(bytes(data))
    rows = memslim.DictList.open(path, "r")
    head = rows[:1000]
    assert head.to_list() == [{"i": i, "f": i / 2} for i in range(1000)]
    assert rows.column("i")[:1000] == list(range(1000))
    expect_error(memslim.CorruptFileError, rows[995:1005].to_list)
    expect_error(memslim.CorruptFileError, list, rows.column("i"))
    # Loading reads only the records asked for; one damaged batch fails the whole load
    # and leaves the list it extends as it was.
    assert memslim.DictList(rows[:1000]).to_list() == head.to_list()
    err = expect_error(memslim.CorruptFileError, memslim.DictList, rows[990:])
    assert str(path) in str(err)
    partial = memslim.DictList([{"i": -1}])
    expect_error(memslim.CorruptFileError, partial.extend, rows)
    assert partial.to_list() == [{"i": -1}]
    rows.close()
    # one committed batch of numbers: numpy views the map, read-only; it and the
    # column keep it alive after close
    with memslim.DictList.open(tmp_path / "one.msl") as rows:
        rows.extend({"i": i, "f": i / 2, "n": None if i == 3 else i} for i in range(1000))
    rows = memslim.DictList.open(tmp_path / "one.msl", "r")
    col = rows.column("f")
    arr = np.asarray(col)
    assert arr.dtype == np.float64 and not arr.flags.writeable and not arr.flags.owndata
    again = np.asarray(col)
    assert np.shares_memory(arr, again)  # the same mapped buffer, no copy per call
    with_nulls = np.asarray(rows.column("n"))
    assert with_nulls.dtype == np.float64 and np.isnan(with_nulls[3])
    expect_error(ValueError, np.asarray, rows.column("n"), copy=False)
    head = rows[:10]
    rows.close()
    del rows
    assert arr.sum() == sum(i / 2 for i in range(1000))
    expect_error(ValueError, col.__getitem__, 0)
    expect_error(ValueError, head.to_list)
    # several batches: one copy, the same values
    with memslim.DictList.open(tmp_path / "two.msl") as rows:
        rows.extend({"i": i} for i in range(10))
        rows.flush()
        rows.extend({"i": i} for i in range(10, 20))
        col = rows.column("i")
        rows.append({"i": 99})  # a view covers the records there were when taken
        assert len(col) == 20 and len(rows.column("i")) == 21
        arr = np.asarray(col)
        assert arr.dtype == np.int64 and list(arr) == list(range(20))
        assert pl.Series(col).to_list() == list(range(20))
        assert pa.table(col).column("i").to_pylist() == list(range(20))


def test_a_string_overwritten_in_place_after_a_bulk_read_is_an_error(tmp_path: Path) -> None:
    # Unsupported (docs/record-files.md), but it must not panic: each read checks the
    # string's bytes, not a UTF-8 check made once per file by the first bulk read.
    path = tmp_path / "s.msl"
    want = [{"i": i, "s": f"value-{i:04d}-\u00e9"} for i in range(100)]
    with memslim.DictList.open(path) as rows:
        rows.extend(want)
    rows = memslim.DictList.open(path, "r")
    assert rows.to_list() == want
    assert list(rows.column("s")) == [r["s"] for r in want]
    at = path.read_bytes().index(b"value-0042")
    with open(path, "r+b") as out:
        out.seek(at)
        out.write(b"\xff")
    err = expect_error(memslim.CorruptFileError, lambda: rows[42]["s"])
    assert str(path) in str(err) and "UTF-8" in str(err)
    expect_error(memslim.CorruptFileError, rows.to_list)
    expect_error(memslim.CorruptFileError, list, rows.column("s"))
    expect_error(memslim.CorruptFileError, lambda: [r["s"] for r in rows])
    # The other values read as before.
    assert rows[41]["s"] == want[41]["s"] and rows[43] == want[43]
    rows.close()


def test_a_decoded_batch_overwritten_in_place_is_an_error(tmp_path: Path) -> None:
    # A dictionary column makes its segment decoded by arrow-rs, which checks the
    # strings once; the value is then decoded by CPython, which raises, not a panic.
    path = tmp_path / "d.arrows"
    table = pa.table(
        {
            "k": pa.array(["a", "b"] * 50).dictionary_encode(),
            "s": [f"value-{i:04d}" for i in range(100)],
        }
    )
    with ipc.new_stream(path, table.schema) as w:
        w.write_table(table)
    rows = memslim.DictList.open(path, "r")
    assert rows[42]["s"] == "value-0042"
    at = path.read_bytes().index(b"value-0042")
    with open(path, "r+b") as out:
        out.seek(at)
        out.write(b"\xff")
    expect_error(UnicodeDecodeError, lambda: rows[42]["s"])
    assert rows[41]["s"] == "value-0041"
    rows.close()


# --------------------------------------------------------------------------------------
# Interop: our files in pyarrow / polars, theirs in memslim
# --------------------------------------------------------------------------------------


def test_pyarrow_and_polars_read_our_files(tmp_path: Path) -> None:
    path = tmp_path / "ours.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend({"id": i, "user": f"u{i % 7}", "v": i / 3} for i in range(70_000))
        rows.flush()
        rows.extend({"id": i, "user": None, "v": None} for i in range(70_000, 70_010))
    table = ipc.open_stream(path).read_all()
    assert table.num_rows == 70_010
    assert table.column("user")[5].as_py() == "u5"
    with pa.memory_map(str(path)) as source:
        assert ipc.open_stream(source).read_all().equals(table)
    df = pl.read_ipc_stream(path)
    assert df.shape == (70_010, 3)
    assert df["id"].to_list()[-1] == 70_009


@pytest.mark.parametrize("fmt", ["stream", "file"])
def test_files_pyarrow_writes_open_in_memslim(tmp_path: Path, fmt: str) -> None:
    table = pa.table(
        {
            "i32": pa.array([1, None, 3], pa.int32()),
            "s": pa.array(["a", "b", None]).dictionary_encode(),
            "l": pa.array([[1], [], None], pa.list_(pa.int64())),
            "big": pa.array([1, 2**64 - 1, 0], pa.uint64()),
        }
    )
    path = tmp_path / f"theirs.{fmt}"
    new = ipc.new_stream if fmt == "stream" else ipc.new_file
    with new(path, table.schema) as w:
        w.write_table(table.slice(0, 2))
        w.write_table(table.slice(2))
    rows = memslim.DictList.open(path, mode="r")
    assert list(rows) == [
        {"i32": 1, "s": "a", "l": [1], "big": 1},
        {"i32": None, "s": "b", "l": [], "big": 2**64 - 1},
        {"i32": 3, "s": None, "l": None, "big": 0},
    ]
    # memslim appends only the types it writes
    expect_error(memslim.FileFormatError, memslim.DictList.open, path)


def test_appending_to_a_pyarrow_stream(tmp_path: Path) -> None:
    table = pa.table({"id": [1, 2], "name": ["a", "b"]})
    path = tmp_path / "theirs.arrows"
    with ipc.new_stream(path, table.schema) as w:
        w.write_table(table)
    with memslim.DictList.open(path) as rows:  # indexes it, drops the end-of-stream marker
        assert len(rows) == 2
        rows.append({"id": 3, "name": "c"})
    assert ipc.open_stream(path).read_all().column("id").to_pylist() == [1, 2, 3]


def _chunked_stream(table: pa.Table, rows: int) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as w:
        w.write_table(table, max_chunksize=rows)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("how", ["cut in a batch", "cut in its end marker", "bytes after its end"])
def test_a_pyarrow_stream_cut_short_is_damage(tmp_path: Path, how: str) -> None:
    # A partial download or a copy cut off by a full disk: pyarrow refuses the stream, a
    # reader gives the records before the cut with a warning, and a writer changes
    # nothing unless told to repair (which keeps the bytes it cuts off).
    table = pa.table({"i": list(range(10)), "s": [f"v{i}" for i in range(10)]})
    full = _chunked_stream(table, 5)
    data = {
        "cut in a batch": full[:-20],
        "cut in its end marker": full[:-4],
        "bytes after its end": full + b"\x01\x02",
    }[how]
    keep = 10 if how != "cut in a batch" else 5
    path = tmp_path / "cut.arrows"
    path.write_bytes(data)
    if how == "cut in a batch":
        with pytest.raises(OSError, match="Expected to be able to read"):
            ipc.open_stream(path).read_all()
    with pytest.warns(memslim.DamagedFileWarning):
        rows = memslim.DictList.open(path, "r")
    with rows:
        assert rows.to_list() == table.slice(0, keep).to_pylist()
        assert rows.recovered["damage"] and rows.recovered["dropped_data_bytes"] > 0
    err = expect_error(memslim.CorruptFileError, memslim.DictList.open, path)
    assert str(path) in str(err) and "recover=True" in str(err)
    assert path.read_bytes() == data and not os.path.exists(f"{path}.idx")
    with memslim.DictList.open(path, recover=True) as rows:
        assert rows.to_list() == table.slice(0, keep).to_pylist()
        [side] = rows.recovered["saved"]
        assert path.read_bytes() + Path(side).read_bytes() == data
        rows.append({"i": 10, "s": "v10"})
    assert ipc.open_stream(path).read_all().column("i").to_pylist() == [*range(keep), 10]


def test_a_pyarrow_stream_ending_cleanly_opens_quietly(tmp_path: Path) -> None:
    table = pa.table({"i": list(range(10))})
    path = tmp_path / "whole.arrows"
    path.write_bytes(_chunked_stream(table, 5))
    rows = memslim.DictList.open(path, "r")  # warnings are errors here
    assert len(rows) == 10 and rows.recovered["damage"] is None
    assert rows.recovered["dropped_data_bytes"] == 0
    rows.close()


def test_foreign_row_counts_past_the_largest_index_are_refused_at_opening(
    tmp_path: Path,
) -> None:
    # Two batches whose stated row counts add up past sys.maxsize (not past 2**64):
    # pyarrow refuses the batch; memslim refuses the file when it opens it, naming the
    # file and the batch, rather than a len() that cannot be a Python int.
    import struct

    data = bytearray(_chunked_stream(pa.table({"i": pa.array(range(14), pa.int64())}), 7))
    at = data.index(struct.pack("<q", 7))
    data[at : at + 8] = struct.pack("<q", sys.maxsize)
    path = tmp_path / "huge.arrows"
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="length did not match"):
        ipc.open_stream(path).read_all()
    for mode in ("r", "a"):
        err = expect_error(memslim.CorruptFileError, memslim.DictList.open, path, mode)
        assert str(path) in str(err) and "largest index" in str(err)


def _stream_with_metadata(path: Path, cols: dict, md: dict) -> Path:
    batch = pa.record_batch(cols)
    with ipc.new_stream(path, batch.schema) as w:
        w.write_batch(batch, custom_metadata=md)
    return path


@pytest.mark.parametrize(
    "cols, md, field",
    [
        ({"x": pa.array([0.5, 2.0])}, {"memslim.ints": "0:01"}, "x"),
        ({"x": pa.array([math.nan, 2.0])}, {"memslim.ints": "0:01"}, "x"),
        ({"x": pa.array([1e300, 2.0])}, {"memslim.ints": "0:01"}, "x"),
        ({"x": pa.array([1, 2])}, {"memslim.ints": "0:01"}, "x"),
        ({"a": pa.array([1, 2]), "b": pa.array(["x", "y"])}, {"memslim.absent": "1:01"}, "b"),
        ({"a": pa.array([1, 2]), "b": pa.array(["x", None])}, {"memslim.absent": "1:*"}, "b"),
        ({"a": pa.array([1, 2]), "b": pa.array(["x", "y"])}, {"memslim.order": "0:1,1"}, None),
        ({"a": pa.array([1, 2]), "b": pa.array(["x", "y"])}, {"memslim.order": "0:"}, None),
        ({"a": pa.array([1, 2]), "b": pa.array(["x", "y"])}, {"memslim.order": "1:1"}, None),
        (
            {"a": pa.array([1, 2]), "b": pa.array([None, "y"])},
            {"memslim.absent": "1:01", "memslim.order": "0:1,0"},
            None,
        ),
    ],
    ids=[
        "int mark on 0.5",
        "int mark on NaN",
        "int mark on 1e300",
        "int mark on an int column",
        "absent mark on a value",
        "all absent but a value",
        "a key twice in an order",
        "an order without the keys",
        "an order lacking a key",
        "an order naming an absent key",
    ],
)
def test_batch_metadata_that_contradicts_the_batch_is_refused(
    tmp_path: Path, cols: dict, md: dict, field: str | None
) -> None:
    # memslim's notes beside the Arrow values (memslim.ints, .absent, .order) are checked
    # against the batch when it is read, as a pickle's are: every view of a record then
    # agrees with pyarrow's reading, or the read fails naming file, batch and field.
    path = _stream_with_metadata(tmp_path / "md.arrows", cols, md)
    rows = memslim.DictList.open(path, "r")
    reads = [
        lambda: rows[0],
        lambda: rows.to_list(),
        lambda: list(rows),
        lambda: memslim.DictList(rows),
        lambda: [rows.column(n).to_list() for n in cols],
    ]
    for read in reads:
        err = expect_error(memslim.CorruptFileError, read)
        assert str(path) in str(err) and "offset" in str(err)
        if field is not None:
            assert repr(field) in str(err) or f'"{field}"' in str(err)
    rows.close()


def test_batch_metadata_that_fits_the_batch_reads_as_written(tmp_path: Path) -> None:
    # The same notes, consistent with the values, as memslim writes them.
    cols = {
        "a": pa.array([1, None, 3]),
        "x": pa.array([1.0, 2.5, None]),
        "b": pa.array(["x", "y", None]),
    }
    md = {"memslim.ints": "1:05", "memslim.absent": "0:02;2:04", "memslim.order": "0:2,1,0"}
    path = _stream_with_metadata(tmp_path / "ok.arrows", cols, md)
    with memslim.DictList.open(path, "r") as rows:
        want = [{"b": "x", "x": 1, "a": 1}, {"x": 2.5, "b": "y"}, {"a": 3, "x": None}]
        assert same(rows.to_list(), want)
        assert same(memslim.DictList(rows).to_list(), want)
        assert [list(r) for r in rows] == [list(w) for w in want]


def _stream_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize(
    "later",
    [pa.array([10, 20, 10]), pa.array([10, 20, 10]).dictionary_encode()],
    ids=["plain", "int-dictionary"],
)
def test_pyarrow_streams_back_to_back_keep_their_own_dictionaries(
    tmp_path: Path, later: pa.Array
) -> None:
    # Dictionaries belong to one stream (one segment): the second segment once got the
    # first one's string dictionary and read as corrupt.
    first = pa.table({"c": pa.array(["a", "b"]).dictionary_encode()})
    path = tmp_path / "two.arrows"
    path.write_bytes(_stream_bytes(first) + _stream_bytes(pa.table({"c": later})))
    want = [{"c": "a"}, {"c": "b"}, {"c": 10}, {"c": 20}, {"c": 10}]
    for order in (range(5), reversed(range(5))):
        with memslim.DictList.open(path, "r") as f:
            assert {i: dict(f[i]) for i in order} == dict(enumerate(want))
    with memslim.DictList.open(path, "r") as f:
        assert [dict(r) for r in f] == want
        assert memslim.DictList.from_arrow(pa.table(f)).to_list() == want


def test_none_in_a_pyarrow_non_nullable_field_starts_a_nullable_segment(
    tmp_path: Path,
) -> None:
    schema = pa.schema([pa.field("c", pa.int64(), nullable=False)])
    path = tmp_path / "nn.arrows"
    with ipc.new_stream(path, schema) as w:
        w.write_table(pa.table({"c": [1, 2]}, schema=schema))
    with memslim.DictList.open(path, "a") as f:
        f.append({"c": None})
        f.append({})
        f.flush()
        f.append({"c": 3})
    want = [{"c": 1}, {"c": 2}, {"c": None}, {}, {"c": 3}]
    with memslim.DictList.open(path, "r") as f:
        assert [dict(r) for r in f] == want
        assert pa.table(f).column("c").to_pylist() == [1, 2, None, None, 3]
        assert pa.table(f).schema.field("c").nullable


# --------------------------------------------------------------------------------------
# One writer, many readers
# --------------------------------------------------------------------------------------


def test_second_writer_gets_a_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "l.msl"
    writer = memslim.DictList.open(path)
    err = expect_error(memslim.FileLockedError, memslim.DictList.open, path)
    assert isinstance(err, BlockingIOError) and str(path) in str(err)
    proc = child(
        """
        import sys, memslim
        try:
            memslim.DictList.open(sys.argv[1])
        except memslim.FileLockedError:
            print("locked")
        """,
        str(path),
    )
    out, errs = proc.communicate(timeout=120)
    assert out.strip() == "locked", errs
    memslim.DictList.open(path, "r").close()  # readers need no lock
    writer.close()
    memslim.DictList.open(path).close()  # released on close


def test_lock_is_released_when_the_writer_dies(tmp_path: Path) -> None:
    path = tmp_path / "d.msl"
    proc = child(
        """
        import sys, time, memslim
        rows = memslim.DictList.open(sys.argv[1])
        print("open", flush=True)
        time.sleep(600)
        """,
        str(path),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "open"
    expect_error(memslim.FileLockedError, memslim.DictList.open, path)
    proc.kill()
    proc.communicate(timeout=60)
    memslim.DictList.open(path).close()


def test_reader_in_another_process_sees_a_consistent_prefix(tmp_path: Path) -> None:
    path = tmp_path / "rw.msl"
    proc = child(
        """
        import sys, memslim
        with memslim.DictList.open(sys.argv[1]) as rows:
            for k in range(40):
                rows.extend({"batch": k, "i": i} for i in range(500))
                rows.flush()
                print(k, flush=True)
            rows.extend({"batch": -1, "i": i} for i in range(10))  # never flushed
            print("done", flush=True)
            sys.stdin.readline()
            import os
            os._exit(0)  # die without flushing the last records
        """,
        str(path),
        stdin=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "0"
    reader = memslim.DictList.open(path, mode="r")
    seen = len(reader)
    assert seen % 500 == 0 and seen >= 500
    while True:
        line = proc.stdout.readline().strip()
        n = reader.refresh()
        assert n % 500 == 0 and n >= seen  # whole flushes only, never shrinking
        seen = n
        if line == "done":
            break
    proc.communicate("\n", timeout=60)
    assert reader.refresh() == 40 * 500
    assert reader[-1] == {"batch": 39, "i": 499}
    batches = [r["batch"] for r in reader[::500]]
    assert batches == list(range(40))


# --------------------------------------------------------------------------------------
# Crash safety: kill -9 at random moments
# --------------------------------------------------------------------------------------

TORTURE_CHILD = """
import sys, memslim
path, start = sys.argv[1], int(sys.argv[2])
rows = memslim.DictList.open(path)
n = len(rows)
assert n == start, (n, start)
k = 0
while True:
    size = 1 + (k * 7919) % 3000
    rows.extend({"i": n + j, "s": "x" * ((n + j) % 50), "f": (n + j) / 7} for j in range(size))
    n += size
    rows.flush()
    print(n, flush=True)
    k += 1
"""


def test_kill_9_never_loses_a_flushed_record(tmp_path: Path) -> None:
    path = tmp_path / "t.msl"
    rng = random.Random(1234)
    flushed = 0
    rounds = int(os.environ.get("MEMSLIM_TORTURE_ROUNDS", "12"))
    for _ in range(rounds):
        proc = child(TORTURE_CHILD, str(path), str(flushed))
        assert proc.stdout is not None
        reported = flushed
        # let it get going (the first report), then kill it at a random moment
        first = proc.stdout.readline().strip()
        assert first, proc.stderr.read() if proc.stderr else ""
        reported = int(first)
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        for line in out.split():
            reported = max(reported, int(line))
        with memslim.DictList.open(path) as rows:
            n = len(rows)
            assert n >= reported, (n, reported)  # every reported flush is there
            # no torn or garbled records: check the tail records exactly
            for i in range(max(0, n - 200), n):
                assert rows[i] == {"i": i, "s": "x" * (i % 50), "f": i / 7}
            flushed = n
    with memslim.DictList.open(path, "r") as rows:
        assert [r["i"] for r in rows] == list(range(flushed))


# --------------------------------------------------------------------------------------
# Damage and bad input
# --------------------------------------------------------------------------------------


def test_damaged_files_raise_corrupt_file_error_with_offset(tmp_path: Path) -> None:
    path = tmp_path / "b.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend({"i": i, "s": str(i)} for i in range(1000))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    rows = memslim.DictList.open(path, "r")  # opening reads the index only
    err = expect_error(memslim.CorruptFileError, rows.__getitem__, 500)
    assert isinstance(err, ValueError)
    assert "offset" in str(err) and str(path) in str(err)
    expect_error(memslim.CorruptFileError, list, rows)  # iteration checks each batch too


def test_truncated_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "t.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend({"i": i} for i in range(1000))
    with memslim.DictList.open(path) as rows:
        rows.extend({"i": i} for i in range(1000, 1010))
    os.truncate(path, path.stat().st_size - 100)
    # a writer refuses, changing nothing; a reader gives what is whole, and warns
    before = path.read_bytes(), Path(f"{path}.idx").read_bytes()
    err = expect_error(memslim.CorruptFileError, memslim.DictList.open, path)
    assert "truncated" in str(err) and str(path) in str(err)
    assert (path.read_bytes(), Path(f"{path}.idx").read_bytes()) == before
    with pytest.warns(memslim.DamagedFileWarning, match="truncated"):
        rows = memslim.DictList.open(path, "r")
    assert [r["i"] for r in rows] == list(range(1000))
    assert rows.recovered["damage"] and rows.recovered["dropped_data_bytes"] > 0


def test_torn_tail_is_dropped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "torn.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend({"i": i} for i in range(10))
    with open(path, "ab") as f:  # what a crash mid-flush leaves
        f.write(b"\xff\xff\xff\xff\x10\x00\x00\x00garbage")
    reader = memslim.DictList.open(path, "r")
    assert len(reader) == 10 and reader.recovered["dropped_data_bytes"] == 15
    with memslim.DictList.open(path) as rows:
        assert rows.recovered["dropped_data_bytes"] == 15
        rows.append({"i": 10})
    assert [r["i"] for r in memslim.DictList.open(path, "r")] == list(range(11))


def three_flushes(path: Path) -> list[dict]:
    want = []
    for n in (50, 30, 20):
        recs = [{"i": len(want) + j, "s": "x" * j} for j in range(n)]
        with memslim.DictList.open(path) as rows:
            rows.extend(recs)
        want += recs
    return want


def saved_and_cut(path: Path, before: bytes, rows: memslim.DictListFile) -> None:
    """Every byte a repair cut off the data file is in one of its side files."""
    saved = [Path(p).read_bytes() for p in rows.recovered["saved"]]
    after = path.read_bytes()
    assert before.startswith(after)
    if len(after) < len(before):
        assert before[len(after) :] in saved


def test_damaged_last_index_entry_is_refused_read_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "d.msl"
    idx = Path(f"{path}.idx")
    want = three_flushes(path)
    good = bytearray(idx.read_bytes())
    for pos in range(len(good) - 40, len(good), 7):
        bad = bytearray(good)
        bad[pos] ^= 0x04
        idx.write_bytes(bytes(bad))
        data = path.read_bytes()
        # opening for append used to cut the last commit off silently
        err = expect_error(memslim.CorruptFileError, memslim.DictList.open, path)
        assert f"{path}.idx" in str(err) and "offset" in str(err) and "recover" in str(err)
        assert (path.read_bytes(), idx.read_bytes()) == (data, bytes(bad))
        with pytest.warns(memslim.DamagedFileWarning):
            reader = memslim.DictList.open(path, "r")
        assert reader == want[:80]
        assert reader.recovered["damage"] and reader.recovered["dropped_data_bytes"] > 0
        reader.close()
        # the last commit's data verifies by itself: the repair loses nothing
        with memslim.DictList.open(path, recover=True) as rows:
            assert rows == want
            assert rows.recovered["damage"] and rows.recovered["saved"]
            assert Path(rows.recovered["saved"][0]).read_bytes() == bytes(bad)
        with memslim.DictList.open(path) as rows:
            assert rows == want and rows.recovered["damage"] is None
        for p in tmp_path.glob("*.dropped-*"):
            p.unlink()
        idx.write_bytes(bytes(good))


def test_an_index_cut_short_never_cuts_acknowledged_records(tmp_path: Path) -> None:
    path = tmp_path / "c.msl"
    idx = Path(f"{path}.idx")
    want = three_flushes(path)
    good = idx.read_bytes()
    idx.write_bytes(good[:16])  # the header alone: used to truncate the whole file
    expect_error(memslim.CorruptFileError, memslim.DictList.open, path)
    with pytest.warns(memslim.DamagedFileWarning):
        assert len(memslim.DictList.open(path, "r")) == 0
    before = path.read_bytes()
    with memslim.DictList.open(path, recover=True) as rows:
        assert rows == want
        (saved,) = rows.recovered["saved"]  # the old index; the data is all kept
        assert saved.startswith(f"{idx}.dropped-") and Path(saved).read_bytes() == good[:16]
    assert path.read_bytes() == before
    # the index without its last commit looks exactly like a crash during that flush
    # (data written, index not yet): dropped as one, and reported
    idx.write_bytes(good[: len(good) - 40])
    with memslim.DictList.open(path) as rows:
        assert rows == want[:80]
        assert rows.recovered["dropped_data_bytes"] > 0 and rows.recovered["damage"] is None


def test_a_lost_index_is_rebuilt_only_from_records_that_verify(tmp_path: Path) -> None:
    path = tmp_path / "l.msl"
    idx = Path(f"{path}.idx")
    want = three_flushes(path)
    idx.unlink()
    assert memslim.DictList.open(path, "r") == want
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # the last batch's bytes
    path.write_bytes(bytes(data))
    idx.unlink(missing_ok=True)
    # Without an index every batch of memslim's own file is checked at open (a damaged
    # row count would otherwise move or make up records): a reader gets the records
    # before the damage, with a warning.
    with pytest.warns(memslim.DamagedFileWarning):
        reader = memslim.DictList.open(path, "r")
    assert reader.to_list() == want[:80]
    reader.close()
    # a writer never writes an index that blesses the damage
    expect_error(memslim.CorruptFileError, memslim.DictList.open, path)
    assert not idx.exists() or idx.read_bytes() == b""
    before = path.read_bytes()
    with memslim.DictList.open(path, recover=True) as rows:
        assert rows == want[:80]
        saved_and_cut(path, before, rows)
        rows.append({"i": 80})
    assert memslim.DictList.open(path, "r")[-1] == {"i": 80}
    expect_error(ValueError, memslim.DictList.open, path, "r", recover=True)


def test_bad_input(tmp_path: Path) -> None:
    err = expect_error(FileNotFoundError, memslim.DictList.open, tmp_path / "no" / "x.msl")
    assert err.filename == str(tmp_path / "no" / "x.msl")
    expect_error(FileNotFoundError, memslim.DictList.open, tmp_path / "missing.msl", "r")
    expect_error(ValueError, memslim.DictList.open, tmp_path / "x.msl", "w")
    text = tmp_path / "notes.txt"
    text.write_text("not a memslim file at all\n")
    expect_error(memslim.FileFormatError, memslim.DictList.open, text, "r")
    expect_error(memslim.FileFormatError, memslim.DictList.open, text)
    # a future format version
    path = tmp_path / "future.msl"
    with memslim.DictList.open(path) as rows:
        rows.append({"a": 1})
    idx = bytearray((tmp_path / "future.msl.idx").read_bytes())
    idx[8] = 9
    import zlib

    idx[12:16] = zlib.crc32(bytes(idx[:12])).to_bytes(4, "little")
    (tmp_path / "future.msl.idx").write_bytes(bytes(idx))
    err = expect_error(memslim.FileFormatError, memslim.DictList.open, path, "r")
    assert "version 9" in str(err)


def test_no_permission(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        path = tmp_path / "p.msl"
        memslim.DictList.open(path).close()
        path.chmod(0o400)
        err = expect_error(PermissionError, memslim.DictList.open, path)
        assert str(path) in str(err)
        return
    # root ignores file modes: try it as an unprivileged user, in a child process, on a
    # file in a directory that user may enter (pytest's base directory is private)
    d = Path(tempfile.mkdtemp(prefix="memslim-perm-"))
    try:
        d.chmod(0o755)
        path = d / "p.msl"
        memslim.DictList.open(path).close()
        path.chmod(0o400)
        proc = child(
            """
            import os, sys
            import memslim
            os.setgid(65534)
            os.setuid(65534)
            try:
                memslim.DictList.open(sys.argv[1])
            except PermissionError as e:
                print("PermissionError", e)
            """,
            str(path),
        )
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.startswith("PermissionError") and str(path) in out, out
    finally:
        shutil.rmtree(d)


def test_closed_and_read_only_lists_refuse_use(tmp_path: Path) -> None:
    path = tmp_path / "c.msl"
    rows = memslim.DictList.open(path)
    rows.append({"a": 1})
    rows.close()
    assert rows.closed
    rows.close()  # twice is fine
    expect_error(ValueError, rows.__getitem__, 0)
    expect_error(ValueError, rows.append, {"a": 2})
    reader = memslim.DictList.open(path, "r")
    import io

    expect_error(io.UnsupportedOperation, reader.append, {"a": 2})
    assert reader.refresh() == 1


def _write_until_full(path: Path) -> tuple[int, OSError]:
    rows = memslim.DictList.open(path)
    flushed = 0
    for k in range(10_000):
        rows.extend({"k": k, "pad": "y" * 200} for _ in range(100))
        try:
            rows.flush()
        except OSError as exc:
            assert rows.pending == 100  # kept, not lost
            assert len(rows) == flushed + 100
            # close() tries once more, fails the same way, and closes anyway
            err = expect_error(OSError, rows.close)
            assert err.errno == exc.errno and rows.closed
            return flushed, exc
        flushed += 100
    raise AssertionError("the disk never filled")


def test_full_disk_leaves_the_file_usable(tmp_path: Path) -> None:
    """ENOSPC on a real 2 MB tmpfs when this process may mount one; otherwise the same
    write failure injected with RLIMIT_FSIZE (EFBIG) in a child process."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        if mounted:
            path = mnt / "full.msl"
            flushed, exc = _write_until_full(path)
            assert exc.errno == errno.ENOSPC
        else:
            path = mnt / "full.msl"
            proc = child(
                """
                import resource, signal, sys
                sys.path.insert(0, sys.argv[2])
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
                from test_mmap import _write_until_full
                from pathlib import Path
                flushed, exc = _write_until_full(Path(sys.argv[1]))
                print(flushed, exc.errno)
                """,
                str(path),
                str(Path(__file__).parent),
            )
            out, errs = proc.communicate(timeout=300)
            assert proc.returncode == 0, errs
            flushed, code = map(int, out.split())
            assert code == errno.EFBIG
        with memslim.DictList.open(path, "r") as rows:
            assert len(rows) == flushed > 0
            assert rows[-1] == {"k": flushed // 100 - 1, "pad": "y" * 200}
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(mnt)], check=False)


# --------------------------------------------------------------------------------------
# Larger than memory
# --------------------------------------------------------------------------------------


def test_scan_of_a_file_larger_than_the_memory_limit(tmp_path: Path) -> None:
    """A child whose address space is capped (RLIMIT_AS, which counts mappings too) at
    128 MB above what it uses after import reads every batch of a 400 MB file: each
    batch maps only its own bytes and at most 64 MB of decoded batches stay cached."""
    path = tmp_path / "big.msl"
    per = 1 << 20
    schema = pa.schema([("v", pa.int64())])

    class Batches:  # 400 MB of Arrow data, made one batch at a time
        def __arrow_c_stream__(self, requested_schema=None):
            gen = (
                pa.record_batch([pa.array(np.full(per, k, dtype=np.int64))], schema=schema)
                for k in range(50)
            )
            return pa.RecordBatchReader.from_batches(schema, gen).__arrow_c_stream__()

    assert memslim._memslim._save_records(Batches(), path) == 50 * per
    assert path.stat().st_size > 400_000_000
    proc = child(
        """
        import resource, sys
        import memslim
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        limit = used + (128 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            bytearray(400 << 20)
            raise SystemExit("the limit does not bite")
        except MemoryError:
            pass
        rows = memslim.DictList.open(sys.argv[1], "r")
        total = sum(rows[k]["v"] for k in range(0, len(rows), 1000))
        print(len(rows), total, rows.nbytes)
        """,
        str(path),
    )
    out, errs = proc.communicate(timeout=600)
    assert proc.returncode == 0, errs
    n, total, nbytes = map(int, out.split())
    assert n == 50 * per
    assert total == sum(k // per for k in range(0, 50 * per, 1000))
    assert nbytes < 1_000_000


def test_reentrant_calls_neither_hang_nor_loop(tmp_path: Path) -> None:
    rows = memslim.DictList.open(tmp_path / "r.msl")
    rows.extend([{"a": 1}, {"a": 2}])
    rows.extend(rows)  # as list.extend(self): the records there were
    assert [r["a"] for r in rows] == [1, 2, 1, 2]
    assert rows.__eq__(rows) is True and rows == list(rows)  # compares with itself
    assert rows.flush() == 4
    rows.close()
    nums = memslim.NumberFile(tmp_path / "n.bin", dtype="int16")
    nums.extend([1, 2])
    nums.insert(len(nums), 2)  # at the end only
    expect_error(IndexError, nums.insert, 0, 5)
    nums.pop()
    nums.extend(nums)
    nums[0:4] = nums
    assert nums.tolist() == [1, 2, 1, 2] and nums.index(2) == 1
    nums.close()


def test_a_collected_writer_flushes_and_unlocks(tmp_path: Path) -> None:
    path = tmp_path / "gc.msl"
    rows = memslim.DictList.open(path)
    rows.append({"a": 1})
    del rows  # like a Python file object: flushed and closed when collected
    with memslim.DictList.open(path) as again:
        assert list(again) == [{"a": 1}]


def test_files_polars_writes_open_in_memslim(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "zz"], "f": [1.5, None, 2.0]})
    want = [
        {"a": 1, "s": "x", "f": 1.5},
        {"a": 2, "s": None, "f": None},
        {"a": None, "s": "zz", "f": 2.0},
    ]
    df.write_ipc(tmp_path / "p.arrow")  # IPC file format, read through its footer
    df.write_ipc_stream(tmp_path / "p.arrows")
    assert list(memslim.DictList.open(tmp_path / "p.arrow", "r")) == want
    assert list(memslim.DictList.open(tmp_path / "p.arrows", "r")) == want
    df.write_ipc(tmp_path / "z.arrow", compression="zstd")
    rows = memslim.DictList.open(tmp_path / "z.arrow", "r")
    err = expect_error(memslim.FileFormatError, rows.__getitem__, 0)
    assert "compressed" in str(err)


def test_a_field_that_was_only_none_takes_values_later(tmp_path: Path) -> None:
    path = tmp_path / "n.msl"
    with memslim.DictList.open(path) as rows:
        rows.append({"id": 1, "note": None})
        rows.flush()
        rows.extend([{"id": 2, "note": "gift"}, {"id": 3, "note": [1, (2,)]}])
    assert list(memslim.DictList.open(path, "r")) == [
        {"id": 1, "note": None},
        {"id": 2, "note": "gift"},
        {"id": 3, "note": [1, (2,)]},
    ]


def test_extend_from_a_large_list_mixes_in_place_and_general_records(tmp_path):
    # Exact lists take the in-place path in runs (several grids here); records it cannot
    # take (nested values, other mappings, new keys) go one by one, in order.
    data = []
    for i in range(9000):
        if i % 1733 == 5:
            data.append({"id": i, "tags": [i, {"k": None}]})
        elif i % 2999 == 7:
            data.append({"name": "swapped", "id": i})
        elif i == 6000:
            data.append({"id": i, "late": 1})
        else:
            data.append({"id": i, "name": f"u{i % 997}", "price": i if i % 11 == 0 else i / 4})
    path = tmp_path / "big.msl"
    with memslim.DictList.open(path) as rows:
        rows.extend(data[:10])
        rows.flush()
        rows.extend(data[10:])
        assert len(rows) == len(data)
        bad = [{"id": 1}, {"id": 2, 3: "non-str key"}]
        expect_error(memslim.SchemaError, rows.extend, bad)
        assert len(rows) == len(data)
    with memslim.DictList.open(path, mode="r") as rows:
        assert same([r.to_dict() for r in rows], data)
        assert [list(r) for r in rows][2999 + 7] == ["name", "id"]


def test_file_column_null_count_works_for_any_field(tmp_path: Path) -> None:
    # As Column.null_count: strings have nulls too; only sum/mean need numbers.
    with memslim.DictList.open(tmp_path / "s.msl") as rows:
        rows.extend([{"s": "a"}, {"s": None}, {"t": 1}])
        col = rows.column("s")
        mem = memslim.DictList(list(rows)).column("s")
        assert col.null_count == mem.null_count == 2
        expect_error(memslim.UnsupportedTypeError, col.sum)
        expect_error(TypeError, col.mean)


# ----- rows that hold their committed batch ---------------------------------------------

BATCH = 16_384  # memslim_mmap::BATCH_ROWS: records per committed batch


def test_rows_read_across_batches_segments_and_pending_records(tmp_path):
    path = tmp_path / "rows.arrow"
    n = 2 * BATCH + 100
    f = memslim.DictList.open(path)
    f.extend({"i": i, "price": i / 4} for i in range(n))
    f.flush()
    # A second segment: a new key after the first flush, then pending records.
    f.extend({"i": n + k, "tag": f"t{k}"} for k in range(50))
    f.flush()
    f.extend({"i": n + 50 + k, "price": -0.0} for k in range(30))
    want = [dict(r) for r in f.to_list()]
    assert len(want) == n + 80
    # The loop's rows (re-pointed while nobody holds them), rows kept past their
    # batch, and [i] from anywhere, all against the plain dicts.
    assert [dict(r) for r in f] == want
    kept = list(f)
    assert [r["i"] for r in kept] == [w["i"] for w in want]
    assert [r.get("price") for r in kept] == [w.get("price") for w in want]
    assert [r.get("tag") for r in kept] == [w.get("tag") for w in want]
    assert [r.index for r in kept[BATCH - 2 : BATCH + 2]] == list(range(BATCH - 2, BATCH + 2))
    # Slices iterate with the same iterator: steps across batches and into the pending
    # records, backwards too, and a slice of a slice.
    for sl in (slice(BATCH - 3, n + 60, 7), slice(None, None, -5000), slice(5, -5, 1)):
        assert [dict(r) for r in f[sl]] == want[sl]
        assert [r.index for r in f[sl]] == list(range(len(want)))[sl]
    assert [dict(r) for r in f[10:][::3000]] == want[10:][::3000]
    for i in (0, BATCH - 1, BATCH, 2 * BATCH, n, n + 49, n + 50, n + 79, -1):
        row = f[i]
        assert dict(row) == want[i]
        assert len(row) == len(want[i]) and list(row) == list(want[i])
        assert row.get("tag") == want[i].get("tag")
        # A key made at run time (not the interned name) and a key no record has.
        assert row.get("pr" + "ice", "-") == want[i].get("price", "-")
        assert row.get("nope") is None and row.get(1) is None
        with pytest.raises(KeyError):
            row["nope"]
    f.close()


def test_rows_that_hold_a_batch_refuse_reads_once_the_file_is_closed(tmp_path):
    path = tmp_path / "closed.arrow"
    with memslim.DictList.open(path) as f:
        f.extend({"i": i} for i in range(10))
    f = memslim.DictList.open(path, mode="r")
    it = iter(f)
    first, row = next(it), f[5]
    assert (first["i"], row["i"]) == (0, 5)
    f.close()
    for call in (lambda: first["i"], lambda: row.get("i"), lambda: dict(row), lambda: len(row)):
        with pytest.raises(memslim.ClosedFileError):
            call()
    with pytest.raises(memslim.ClosedFileError):
        next(it)


def test_a_committed_rows_view_outlives_its_file_object(tmp_path):
    # The view holds the record's batch, not the file object: once nobody holds the
    # file, it is collected (and closed), and the view still reads what was committed.
    import gc

    path = tmp_path / "outlive.arrow"
    with memslim.DictList.open(path) as f:
        f.extend({"i": i, "s": f"v{i}"} for i in range(3))
    row = memslim.DictList.open(path, mode="r")[2]
    gc.collect()
    assert dict(row) == {"i": 2, "s": "v2"}
    with memslim.DictList.open(path) as f:  # the writer lock was released
        f.append({"i": 3})


def test_an_append_open_that_raises_leaves_the_files_as_they_were(tmp_path) -> None:
    """A file whose last index entry was cut short (a crash mid-write) and whose first
    message has a flipped bit: opening it to append raises, and cuts nothing (the torn
    tail is cut only once the file opens), so `recover=True` can still keep every byte
    it drops in a side file."""
    p = str(tmp_path / "x.msl")
    f = memslim.DictList.open(p)
    f.extend({"a": i} for i in range(5))
    f.flush()
    f.extend({"a": i, "b": "s"} for i in range(5))
    f.flush()
    f.extend({"a": i, "b": "t"} for i in range(5))
    f.flush()
    f.close()
    idx = (tmp_path / "x.msl.idx").read_bytes()
    (tmp_path / "x.msl.idx").write_bytes(idx[:-10])
    data = bytearray((tmp_path / "x.msl").read_bytes())
    data[100] ^= 0x01
    (tmp_path / "x.msl").write_bytes(bytes(data))
    before = {q.name: q.read_bytes() for q in tmp_path.iterdir()}
    with pytest.raises(memslim.CorruptFileError):
        memslim.DictList.open(p)
    assert {q.name: q.read_bytes() for q in tmp_path.iterdir()} == before


def test_an_append_open_that_raises_leaves_no_index_behind(tmp_path):
    """The error says nothing was changed: no new '.idx' beside a file it refused."""
    import pyarrow as pa
    from pyarrow import ipc

    path = tmp_path / "table.arrow"
    t = pa.table({"a": [1, 2, 3]})
    with ipc.new_file(path, t.schema) as w:  # an Arrow IPC *file*: read-only to memslim
        w.write_table(t)
    before = sorted(os.listdir(tmp_path))
    expect_error(memslim.MemslimError, memslim.DictList.open, path)
    assert sorted(os.listdir(tmp_path)) == before
    # Reading it still works; an index that was there before a failed open stays.
    assert memslim.DictList.open(path, mode="r").to_list() == t.to_pylist()
    good = tmp_path / "good.msl"
    f = memslim.DictList.open(good)
    f.append({"a": 1})
    f.flush()
    expect_error(memslim.MemslimError, memslim.DictList.open, good)  # locked by f
    f.append({"a": 2})
    f.close()
    assert memslim.DictList.open(good, mode="r").to_list() == [{"a": 1}, {"a": 2}]
    # A data file the failed open created goes too: a stale index beside a missing file,
    # and an index path that is a directory.
    (tmp_path / "stale.msl.idx").write_bytes(b"not an index at all")
    (tmp_path / "dir.msl.idx").mkdir()
    for name in ("stale.msl", "dir.msl"):
        before = sorted(os.listdir(tmp_path))
        with pytest.raises((memslim.MemslimError, OSError)):
            memslim.DictList.open(tmp_path / name)
        assert sorted(os.listdir(tmp_path)) == before, name


def test_appending_to_a_pyarrow_stream_with_a_damaged_batch_changes_nothing(
    tmp_path: Path,
) -> None:
    # Adopting a stream gives it an index whose checksums are taken of its messages as
    # they are, and cuts its end-of-stream marker: a damaged value must be found first,
    # and the open that refuses the stream leaves it byte for byte as it was.
    table = pa.table({"i": [1, 2, 3], "s": ["x", "y", "z"]})
    path = tmp_path / "theirs.arrows"
    with ipc.new_stream(path, table.schema) as w:
        w.write_table(table)
        w.write_table(table)
    raw = bytearray(path.read_bytes())
    # The last batch's string data ("xyz", padded to 8 bytes) sits just before the
    # 8-byte end-of-stream marker: make its first value invalid UTF-8.
    at = raw.rfind(b"xyz")
    assert at > len(raw) // 2
    raw[at] = 0xFF
    path.write_bytes(bytes(raw))
    err = expect_error(memslim.CorruptFileError, memslim.DictList.open, path)
    assert str(err).startswith(f"{path}: "), str(err)
    assert "UTF-8" in str(err), str(err)
    assert path.read_bytes() == bytes(raw)
    assert not Path(f"{path}.idx").exists()
    # Read-only, the records before the damage read as before.
    rows = memslim.DictList.open(path, mode="r")
    assert [dict(r) for r in rows[:3]] == table.to_pylist()
    rows.close()
    assert path.read_bytes() == bytes(raw)
