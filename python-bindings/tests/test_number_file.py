"""NumberFile (formerly MmapList): a growable on-disk array of numbers."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import memslim
import numpy as np
import pytest
from conftest import expect_error, same


def child(code: str, *args: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_number_file_is_a_growable_sequence_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "ids.bin"
    ids = memslim.NumberFile(path, dtype="int64")
    ids.extend(range(100_000))
    ids.append(-5)
    assert len(ids) == 100_001 and ids[-1] == -5 and ids[3] == 3
    ids[0] = 42
    assert ids[:3] == [42, 1, 2] and ids[-2::-50_000] == [99_999, 49_999]
    ids[1:3] = [7, 8]
    assert ids.pop() == -5 and len(ids) == 100_000
    del ids[-1]
    assert ids.index(7) == 1 and ids.count(8) == 2 and 8 in ids and 10**9 not in ids
    expect_error(ValueError, ids.index, 10**9)
    expect_error(IndexError, ids.pop, 0)
    expect_error(IndexError, ids.__getitem__, 10**6)
    expect_error(IndexError, ids.__getitem__, 2**100)
    expect_error(TypeError, ids.__getitem__, "0")
    expect_error(ValueError, ids.__setitem__, slice(0, 2), [1])
    ids.close()
    again = memslim.NumberFile(path)
    assert again.dtype == "int64" and len(again) == 99_999 and again[:3] == [42, 7, 8]
    assert list(again)[-1] == 99_998
    again.close()
    expect_error(ValueError, again.__getitem__, 0)


@pytest.mark.parametrize(
    ("dtype", "good", "bad"),
    [
        ("int8", [-128, 127], [128]),
        ("uint8", [0, 255], [-1, 256]),
        ("int16", [-(2**15)], [2**15]),
        ("uint32", [2**32 - 1], [2**32]),
        ("uint64", [2**64 - 1], [-1]),
        ("float32", [1.5, -0.0], []),
        ("float64", [math.inf, -0.0, 3], []),
        ("bool", [True, False], [2]),
    ],
)
def test_number_file_dtypes(tmp_path: Path, dtype: str, good: list, bad: list) -> None:
    a = memslim.NumberFile(tmp_path / f"{dtype}.bin", dtype=dtype)
    a.extend(good)
    want = [float(v) for v in good] if dtype.startswith("float") else good
    assert same(a.tolist(), want)
    for v in bad:
        expect_error((ValueError, OverflowError), a.append, v)
    expect_error(TypeError, a.append, "1")
    if not dtype.startswith("float"):
        expect_error(ValueError, a.append, 1.5)
    assert len(a) == len(good)
    view = np.asarray(a)
    assert view.dtype == np.dtype(dtype) and view.tolist() == a.tolist()


def test_number_file_numpy_view_is_zero_copy_and_guards_growth(tmp_path: Path) -> None:
    a = memslim.NumberFile(tmp_path / "v.bin", dtype="float64")
    a.extend([1.0, 2.0, 3.0])
    view = np.asarray(a)
    view[1] = 20.0  # writes through
    assert a[1] == 20.0
    a[2] = 30.0
    assert view[2] == 30.0
    expect_error(BufferError, a.append, 4.0)
    expect_error(BufferError, a.extend, [4.0])
    expect_error(BufferError, a.pop)
    expect_error(BufferError, a.close)
    assert len(a) == 3
    del view
    a.extend(np.arange(10_000, dtype=np.float64))  # may move the map now
    assert len(a) == 10_003 and np.asarray(a)[-1] == 9_999.0
    a.close()
    ro = memslim.NumberFile(tmp_path / "v.bin", mode="r")
    assert not np.asarray(ro).flags.writeable
    import io

    expect_error(io.UnsupportedOperation, ro.append, 1.0)


def test_number_file_bad_input(tmp_path: Path) -> None:
    expect_error(ValueError, memslim.NumberFile, tmp_path / "x.bin")  # new file needs a dtype
    expect_error(ValueError, memslim.NumberFile, tmp_path / "y.bin", dtype="int128")
    memslim.NumberFile(tmp_path / "z.bin", dtype="int32").close()
    expect_error(ValueError, memslim.NumberFile, tmp_path / "z.bin", dtype="int64")
    a = memslim.NumberFile(tmp_path / "z.bin")
    expect_error(memslim.FileLockedError, memslim.NumberFile, tmp_path / "z.bin")
    a.close()
    (tmp_path / "t.bin").write_bytes(b"x" * 100)
    expect_error(memslim.FileFormatError, memslim.NumberFile, tmp_path / "t.bin")
    expect_error(FileNotFoundError, memslim.NumberFile, tmp_path / "no" / "a.bin", dtype="int8")


def test_number_file_unflushed_appends_do_not_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "k.bin"
    proc = child(
        """
        import os, sys, memslim
        a = memslim.NumberFile(sys.argv[1], dtype="int32")
        a.extend(range(1000))
        a.flush()
        a.extend(range(50))
        os._exit(0)
        """,
        str(path),
    )
    proc.communicate(timeout=120)
    a = memslim.NumberFile(path)
    assert len(a) == 1000 and a[-1] == 999


def test_mmaplist_is_a_deprecated_alias_of_number_file(tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match="NumberFile"):
        old = memslim.MmapList
    assert old is memslim.NumberFile
    with pytest.warns(DeprecationWarning):
        from memslim import MmapList  # noqa: F401 - the import is what warns
    with pytest.warns(DeprecationWarning):
        assert memslim._persistent.MmapList is memslim.NumberFile
    assert "MmapList" not in memslim.__all__ and "NumberFile" in memslim.__all__
    with memslim.NumberFile(tmp_path / "a.bin", dtype="int8") as a:
        a.append(1)
        assert repr(a).startswith("NumberFile(")


@pytest.mark.parametrize(
    ("dtype", "stored", "probes"),
    [
        # An int and a float are equal only when the float is that integer exactly: a
        # rounded conversion (2**53 + 1 -> 2.0**53, 2**63 - 1 -> 2.0**63) finds ghosts.
        ("int64", [2**53 + 1, 2**63 - 1, 3], [2.0**53, 2.0**63, 3.0, 3.5, math.nan]),
        ("float64", [2.0**53, math.nan, 1.0], [2**53 + 1, 2**53, True, 1, math.nan]),
        ("uint64", [2**64 - 1], [2.0**64, 2**64 - 1]),
        ("float32", [0.1, 16777216.0], [0.1, 16777217, 16777216]),
    ],
)
def test_number_file_finds_what_a_list_finds(
    tmp_path: Path, dtype: str, stored: list, probes: list
) -> None:
    a = memslim.NumberFile(tmp_path / "a.bin", dtype=dtype)
    a.extend(stored)
    plain = a.tolist()
    for q in probes:
        assert (q in a) == (q in plain), q
        assert a.count(q) == plain.count(q), q
        if q in plain:
            assert a.index(q) == plain.index(q), q
        else:
            expect_error(ValueError, a.index, q)


def test_a_view_taken_while_values_convert_refuses_growth(tmp_path: Path) -> None:
    # Converting the values runs Python code (a generator, __index__, __float__) that
    # can take a numpy view, here or on another thread; growing the file then would move
    # the map under that view. Run in a child: before the fix this crashed the process.
    proc = child(
        """
        import sys, threading
        import memslim, numpy as np

        a = memslim.NumberFile(sys.argv[1], dtype="float64")
        a.extend([7.0] * 512)  # the first map is full: the next append moves it
        views = []

        def viewing(values):
            views.append(np.asarray(a))
            yield from values

        def viewing_thread(values):
            t = threading.Thread(target=lambda: views.append(np.asarray(a)))
            t.start()
            t.join()
            yield from values

        class Viewing:
            def __float__(self):
                views.append(np.asarray(a))
                return 1.0

        for label, grow in [
            ("generator", lambda: a.extend(viewing([1.0] * 100_000))),
            ("thread", lambda: a.extend(viewing_thread([1.0] * 100_000))),
            ("__float__", lambda: a.append(Viewing())),
            ("insert", lambda: a.insert(len(a), Viewing())),
        ]:
            try:
                grow()
            except BufferError:
                pass
            else:
                print(label, "grew the file under a view")
            assert len(a) == 512 and [v.sum() for v in views] == [3584.0], label
            views.clear()
        a.extend([1.0] * 100_000)  # no view: it grows
        print("ok", len(a))
        """,
        str(tmp_path / "a.bin"),
    )
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (0, "ok 100512\n"), err


def test_an_unclosed_number_file_keeps_its_appends(tmp_path: Path) -> None:
    # Like a Python file object: flushed and closed when collected, and when the
    # interpreter exits with it still open (only a crash loses unflushed appends).
    at_exit = tmp_path / "exit.bin"
    proc = child(
        """
        import sys, memslim
        a = memslim.NumberFile(sys.argv[1], dtype="int64")
        a.extend(range(1000))
        a.flush()
        a.extend(range(1000, 1500))
        cycle = [memslim.NumberFile(sys.argv[2], dtype="int8")]
        cycle.append(cycle)  # only the collector at shutdown frees it
        cycle[0].extend([1, 2, 3])
        """,
        str(at_exit),
        str(tmp_path / "cycle.bin"),
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with memslim.NumberFile(at_exit) as a:
        assert len(a) == 1500 and a[-1] == 1499
    with memslim.NumberFile(tmp_path / "cycle.bin") as c:
        assert c.tolist() == [1, 2, 3]
    collected = tmp_path / "gc.bin"
    a = memslim.NumberFile(collected, dtype="float32")
    a.extend([0.5] * 10)
    del a
    with memslim.NumberFile(collected) as b:  # the lock is released too
        assert b.tolist() == [0.5] * 10


def test_numpy_bools_are_bools(tmp_path: Path) -> None:
    # numpy.bool_ has no __index__: it used to convert through __float__ to 1.0, which a
    # bool or int file refused ("1.0 does not fit an array of bool").
    b = memslim.NumberFile(tmp_path / "b.bin", dtype="bool")
    b.extend(np.array([True, False, True]))
    b.append(np.True_)
    b[0] = np.False_
    b[1:3] = np.array([True, False])
    assert same(b.tolist(), [False, True, False, True])
    assert np.True_ in b and b.count(np.False_) == 2 and b.index(np.True_) == 1
    i = memslim.NumberFile(tmp_path / "i.bin", dtype="int8")
    i.extend([np.True_, np.False_, True])
    f = memslim.NumberFile(tmp_path / "f.bin", dtype="float64")
    f.append(np.True_)
    assert same(i.tolist(), [1, 0, 1]) and same(f.tolist(), [1.0])
    expect_error(ValueError, b.append, np.float64(1.0))  # still a float, as 1.0 is


def test_number_file_indexes_past_the_machine_size_as_a_list_does(tmp_path: Path) -> None:
    a = memslim.NumberFile(tmp_path / "a.bin", dtype="int64")
    a.append(1)
    # list: IndexError ("cannot fit 'int' into an index-sized integer"), not OverflowError.
    for big in (2**70, -(2**70)):
        expect_error(IndexError, a.__setitem__, big, 5)
        expect_error(IndexError, a.__getitem__, big)
    assert a.tolist() == [1]


def test_number_file_inserts_wherever_a_list_would_mean_the_end(tmp_path: Path) -> None:
    a = memslim.NumberFile(tmp_path / "a.bin", dtype="int64")
    plain: list[int] = []
    for index, value in [(-5, 1), (0, 2), (10, 3), (-(2**62), 4)]:
        # On an empty file every index is the end; after that only len(a) and beyond.
        if len(plain) == 0 or index >= len(plain):
            a.insert(index, value)
            plain.insert(index, value)
        else:
            expect_error(memslim.AppendOnlyError, a.insert, index, value)
    assert a.tolist() == plain == [1, 3]
