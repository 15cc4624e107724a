"""Honest memory: what memslim reports matches what the process really uses.

Every measurement runs in a fresh interpreter so earlier tests cannot pollute RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs /proc/self/status (Linux)"
)

N_RECORDS = 200_000

# Shared prelude: an RSS reader and a generator of realistic records, so that the
# list of dicts is never resident while the DictList is being measured.
PRELUDE = """
import gc, json, random, sys

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found")

COUNTRIES = [chr(65 + i // 26) + chr(65 + i % 26) for i in range(0, 80, 2)]  # 40 codes

def records(n):
    rng = random.Random(12345)
    for i in range(n):
        yield {
            "id": i,
            "user": f"user_{rng.randrange(20_000):05d}",
            "price": round(rng.uniform(1, 500), 2),
            "qty": rng.randrange(1, 10),
            "paid": rng.random() < 0.7,
            "country": COUNTRIES[rng.randrange(40)],
            "note": None if rng.random() < 0.8 else f"note {i}: handle with care",
        }
"""


def probe(body, n=N_RECORDS):
    """Run PRELUDE + body in a fresh interpreter; body prints one JSON object."""
    code = PRELUDE + f"\nN = {n}\n" + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"probe failed ({proc.returncode}):\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def build_and_free():
    return probe(
        """
        import memslim
        # Warm up: page in the extension's code paths and the allocator.
        warm = memslim.DictList(records(5_000))
        warm.column("price").sum()
        del warm
        gc.collect()

        before = rss()
        rows = memslim.DictList(records(N))
        gc.collect()
        after = rss()
        result = {
            "before": before,
            "after": after,
            "nbytes": rows.nbytes,
            "sizeof": sys.getsizeof(rows),
            "len": len(rows),
        }
        del rows
        gc.collect()
        result["freed"] = rss()
        print(json.dumps(result))
        """
    )


def mib(n):
    return f"{n / 2**20:.2f} MiB"


def test_probe_built_every_record(build_and_free):
    assert build_and_free["len"] == N_RECORDS
    assert build_and_free["nbytes"] > 0


def test_nbytes_matches_rss_growth(build_and_free):
    growth = build_and_free["after"] - build_and_free["before"]
    nbytes = build_and_free["nbytes"]
    assert abs(growth - nbytes) <= 0.10 * nbytes, (
        f"RSS grew {mib(growth)} but nbytes says {mib(nbytes)}"
    )


def test_getsizeof_matches_rss_growth(build_and_free):
    growth = build_and_free["after"] - build_and_free["before"]
    size = build_and_free["sizeof"]
    assert size >= build_and_free["nbytes"]
    assert abs(growth - size) <= 0.10 * size, (
        f"RSS grew {mib(growth)} but sys.getsizeof says {mib(size)}"
    )


def test_memory_returns_to_the_os_after_del(build_and_free):
    leftover = build_and_free["freed"] - build_and_free["before"]
    margin = max(2**20, build_and_free["nbytes"] // 10)
    assert leftover <= margin, (
        f"{mib(leftover)} still resident after del (nbytes was {mib(build_and_free['nbytes'])})"
    )


def test_tracemalloc_sees_the_buffers():
    result = probe(
        """
        import tracemalloc
        import memslim
        warm = memslim.DictList(records(1_000))
        del warm
        gc.collect()

        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        rows = memslim.DictList(records(N))
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - baseline
        nbytes = rows.nbytes
        del rows
        gc.collect()
        traced_after_del = tracemalloc.get_traced_memory()[0] - baseline
        print(json.dumps({"traced": traced, "nbytes": nbytes, "after_del": traced_after_del}))
        """
    )
    assert result["traced"] >= 0.9 * result["nbytes"], (
        f"tracemalloc sees {mib(result['traced'])} of {mib(result['nbytes'])}"
    )
    assert result["after_del"] <= 0.1 * result["nbytes"], (
        f"tracemalloc still counts {mib(result['after_del'])} after del"
    )


def test_dictlist_is_much_smaller_than_list_of_dicts(build_and_free):
    baseline = probe(
        """
        gc.collect()
        before = rss()
        data = list(records(N))
        gc.collect()
        print(json.dumps({"growth": rss() - before, "len": len(data)}))
        """
    )
    assert baseline["len"] == N_RECORDS
    ratio = baseline["growth"] / build_and_free["nbytes"]
    assert ratio >= 8, (
        f"list of dicts {mib(baseline['growth'])} vs DictList "
        f"{mib(build_and_free['nbytes'])}: only {ratio:.1f}x smaller"
    )


@pytest.mark.parametrize("per_load", [2, 10_000])
def test_a_list_built_in_small_loads_is_as_small_as_one_built_at_once(per_load):
    """Loads of a few records settle without trimming the whole tail (that was
    quadratic), so what they leave spare must stay bounded; and the first load, which
    sees 10,000 names nearly all new, must not keep the name column plain for good."""
    import random

    import memslim

    rng = random.Random(5)
    data = [
        {
            "id": i,
            "user": f"user_{rng.randrange(20_000):05d}",
            "price": rng.randrange(100, 50_000) / 100,
            "country": f"C{rng.randrange(40)}",
            "note": None if rng.random() < 0.8 else f"note {i % 7}",
        }
        for i in range(80_000)
    ]

    whole = memslim.DictList(data)
    built = memslim.DictList()
    for start in range(0, len(data), per_load):
        built.extend(data[start : start + per_load])
    assert built == data
    assert built.storage_info() == whole.storage_info()
    assert built.nbytes <= whole.nbytes * 9 // 8 + (64 << 10), (built.nbytes, whole.nbytes)


def test_a_failed_extend_leaves_the_list_its_size():
    """The rows of a refused load are rolled back, and so is the room made for them."""
    import memslim

    data = [{"id": i, "name": f"n{i % 50}", "x": i * 0.5} for i in range(100_000)]
    rows = memslim.DictList(data, schema={"id": "int64", "name": "str", "x": "float64"})
    before = rows.nbytes
    bad = data[:50_000] + [{"id": "oops", "name": "a", "x": 1.0}]
    with pytest.raises(memslim.SchemaError, match="row 150000"):
        rows.extend(bad)
    assert rows == data
    assert rows.nbytes == before
