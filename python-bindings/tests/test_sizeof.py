"""memslim.deep_sizeof: exact on small graphs, shared objects once, and agrees with RSS."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from collections import namedtuple
from pathlib import Path

import memslim
import pytest
from memslim._sizeof import _allocated


def size(*objs: object) -> int:
    return sum(_allocated(sys.getsizeof(o)) for o in objs)


def test_allocated_rounds_like_cpython():
    assert _allocated(24) == 32
    assert _allocated(32) == 32
    assert _allocated(512) == 512
    assert _allocated(513) == 528  # malloc header, 16-byte aligned


def test_flat_containers_count_each_item():
    a, b = "x" * 100, 10**30
    assert memslim.deep_sizeof([a, b]) == size([a, b], a, b)
    assert memslim.deep_sizeof((a, b)) == size((a, b), a, b)
    assert memslim.deep_sizeof({a, b}) == size({a, b}, a, b)


def test_dict_keys_and_values_are_counted():
    key, value = "k" * 50, "v" * 70
    d = {key: value}
    assert memslim.deep_sizeof(d) == size(d, key, value)
    big_key = (10**20, "t" * 30)
    d2 = {big_key: value}
    assert memslim.deep_sizeof(d2) == size(d2, big_key, *big_key, value)


def test_shared_objects_count_once():
    shared = "s" * 1000
    pair = [shared, shared]
    assert memslim.deep_sizeof(pair) == size(pair, shared)
    rows = [{"note": shared} for _ in range(3)]
    # Three dicts, one key string and one value string.
    assert memslim.deep_sizeof(rows) == size(rows, *rows, "note", shared)


def test_cycles_terminate():
    a: list[object] = []
    a.append(a)
    assert memslim.deep_sizeof(a) == size(a)


def test_classes_and_functions_are_not_data():
    Point = namedtuple("Point", "x y")

    @dataclasses.dataclass(slots=True)
    class Slotted:
        x: object

    p = Point(1.5, 2.5)
    assert memslim.deep_sizeof(p) == size(p, 1.5, 2.5)
    s = Slotted("q" * 40)
    assert memslim.deep_sizeof(s) == size(s, s.x)
    assert memslim.deep_sizeof(Slotted) == 0
    assert memslim.deep_sizeof([len, sys]) == size([len, sys])


def test_memslim_structures_count_as_their_getsizeof():
    rows = memslim.DictList({"id": i, "name": f"n{i}"} for i in range(10_000))
    assert memslim.deep_sizeof(rows) == _allocated(sys.getsizeof(rows))
    assert sys.getsizeof(rows) >= rows.nbytes
    holder = {"rows": rows}
    assert memslim.deep_sizeof(holder) == size(holder, "rows", rows)


def test_much_smaller_than_the_list_of_dicts_it_replaces():
    records = [{"id": i, "name": f"n{i}", "price": i / 3} for i in range(20_000)]
    rows = memslim.DictList(records)
    assert memslim.deep_sizeof(records) > 5 * memslim.deep_sizeof(rows)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc/self/status")
@pytest.mark.parametrize("shape", ["dicts", "tuples_and_floats", "dictlist_in_dict"])
def test_reconciles_with_rss_growth(shape):
    """Built in a fresh process, the graph's RSS growth matches its deep size within 10%."""
    code = textwrap.dedent(
        f"""
        import gc, json, sys
        import memslim

        def rss():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024

        def build(n):
            if {shape!r} == "dicts":
                return [{{"id": i, "user": f"user{{i % 50_000:06d}}", "price": i * 0.5,
                          "tags": [i, "t"], "note": None}} for i in range(n)]
            if {shape!r} == "tuples_and_floats":
                return [(i * 1.5, str(i) * 3, (i, i + 1)) for i in range(n)]
            return {{"rows": memslim.DictList({{"id": i, "s": f"v{{i % 999}}"}}
                                               for i in range(n)), "meta": list(range(1000))}}

        # A DictList is compact: give it more rows, so that the few hundred KB glibc reuses
        # from memory freed before the baseline stay well under the 10% tolerance.
        n = 3_000_000 if {shape!r} == "dictlist_in_dict" else 300_000
        build(2_000)
        gc.collect()
        before = rss()
        graph = build(n)
        gc.collect()
        growth = rss() - before
        print(json.dumps({{"growth": growth, "deep": memslim.deep_sizeof(graph)}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    growth, deep = result["growth"], result["deep"]
    assert abs(growth - deep) <= 0.10 * deep, f"RSS grew {growth:,} B, deep_sizeof says {deep:,} B"
