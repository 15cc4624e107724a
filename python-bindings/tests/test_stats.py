"""memslim.stats(): live structures and their bytes, the allocator's figures; the soak test."""

from __future__ import annotations

import gc
import json
import pickle
import subprocess
import sys
from pathlib import Path

import memslim
import pytest

ROOT = Path(__file__).resolve().parents[2]


def live() -> tuple[int, int]:
    gc.collect()
    s = memslim.stats()
    return s["structures"], s["structure_bytes"]


def close_to(tracked: int, *structures: object) -> bool:
    """``structure_bytes`` counts buffers; ``nbytes`` adds each object's small fixed part."""
    owned = sum(s.nbytes for s in structures)  # type: ignore[attr-defined]
    return owned - 1024 * len(structures) <= tracked <= owned


def test_counts_follow_structures_as_they_live_and_die():
    base_count, base_bytes = live()
    rows = memslim.DictList({"id": i, "s": f"v{i}"} for i in range(5_000))
    pairs = memslim.TupleList([(1, "a")], fields=("x", "y"))
    count, nbytes = live()
    assert count == base_count + 2
    assert close_to(nbytes - base_bytes, rows, pairs)

    part = rows[:10]  # a slice is a list of its own, sharing the records' storage
    assert live()[0] == base_count + 3
    rows.extend({"id": i, "s": "more"} for i in range(5_000))
    assert close_to(live()[1] - base_bytes, rows, pairs)
    assert part.nbytes >= rows.nbytes - 1024, "a slice reports the store it keeps alive"

    del rows, pairs, part
    assert live() == (base_count, base_bytes)


def test_copies_and_unpickled_lists_are_counted():
    base_count, _ = live()
    rows = memslim.DictList([{"a": 1}, {"a": 2}])
    # A shallow copy shares the records (as a list's copy shares dicts) and is a list
    # of its own; so is an unpickled list.
    copies = [rows.copy(), pickle.loads(pickle.dumps(rows))]
    assert live()[0] == base_count + 3
    del rows, copies
    assert live()[0] == base_count


@pytest.mark.parametrize("kind", ["dict", "tuple"])
def test_every_list_counts_once_whatever_it_shares(kind):
    """Oracle: the number of list objects alive. A DictList's slices, copies, `* n`,
    `+` and `where` results share its store; a TupleList's share its buffers; each is
    a list, counted once, the storage's bytes once."""
    base_count, base_bytes = live()
    if kind == "dict":
        rows = memslim.DictList([{"a": 1}, {"a": 2}])
    else:
        rows = memslim.TupleList([(1,), (2,)], ("a",))
    views = [rows[:], rows.copy(), rows * 2, rows + rows, rows.where("a", "==", 1), rows[1:]]
    assert live()[0] == base_count + 1 + len(views)
    it = iter(rows)  # an iterator is no list
    next(it)
    assert live()[0] == base_count + 1 + len(views)
    del it, rows  # the views keep the records: still counted, as lists, each once
    assert live()[0] == base_count + len(views)
    del views
    assert live() == (base_count, base_bytes)


@pytest.mark.parametrize("kind", ["dict", "tuple"])
def test_slices_and_copies_report_no_bytes_until_written(kind):
    """Oracle: the records' storage exists once. Slices and copies share a list's store,
    so they add nothing to ``structure_bytes`` or tracemalloc; what a write gives a list
    of its own (an order of 4 bytes per record, the records it adds) is reported."""
    import copy
    import tracemalloc

    n = 20_000
    if kind == "dict":
        rows = memslim.DictList({"id": i, "s": f"uniq{i}"} for i in range(n))
    else:
        rows = memslim.TupleList(((i, f"uniq{i}") for i in range(n)), ("id", "s"))
    tracemalloc.start()
    try:
        _, bytes0 = live()
        traced0 = tracemalloc.get_traced_memory()[0]
        views = [rows[:], rows.copy(), rows[1:], rows[:-1], copy.copy(rows)]
        _, bytes1 = live()
        assert bytes1 - bytes0 < 1024, (bytes1 - bytes0, rows.nbytes)
        traced = tracemalloc.get_traced_memory()[0] - traced0
        assert traced < rows.nbytes / 10, (traced, rows.nbytes)

        # Written on both sides: each list now reads through an order of its own.
        views[0].sort(key=lambda r: -r["id"] if kind == "dict" else -r[0])
        rows.reverse()
        _, bytes2 = live()
        assert bytes2 - bytes1 >= 2 * 4 * n, (bytes2 - bytes1, n)
        assert views[0][0] == rows[0] and len(views[0]) == len(rows) == n
    finally:
        tracemalloc.stop()
    del rows, views
    gc.collect()


def test_allocator_figures_are_plausible():
    alloc = memslim.stats()["allocator"]
    if alloc is None:
        pytest.skip("allocator figures need glibc >= 2.33")
    assert set(alloc) == {
        "heap_bytes",
        "mmap_bytes",
        "in_use_bytes",
        "free_bytes",
        "releasable_bytes",
    }
    assert all(isinstance(v, int) and v >= 0 for v in alloc.values())
    assert alloc["in_use_bytes"] + alloc["free_bytes"] <= alloc["heap_bytes"] + 2**20
    big = bytearray(64 * 2**20)  # far above glibc's mmap threshold
    grown = memslim.stats()["allocator"]
    assert grown is not None
    assert grown["mmap_bytes"] >= alloc["mmap_bytes"] + len(big)
    del big


def run_soak(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "benches/soak.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs current RSS")
def test_soak_rss_returns_to_baseline():
    # The benchmark command runs the full 10,000 cycles; the test suite a reduced size.
    proc = run_soak("--iterations", "2000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["problems"] == []
    assert summary["stats"]["structures"] == 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs current RSS")
def test_soak_catches_a_leak():
    proc = run_soak("--iterations", "400", "--simulate-leak")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "LEAK? RSS grew" in proc.stdout
    assert "still counts live structures" in proc.stdout
