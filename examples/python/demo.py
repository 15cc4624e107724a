"""memslim in one run: how much memory a million records take, and what it costs in speed.

Run it with ``make demo`` (or ``python examples/python/demo.py`` inside the project venv).
``MEMSLIM_EXAMPLE_SMALL=1`` shrinks the run to 20,000 records.

Each representation's memory is measured in a fresh Python process, as the growth of the
process's resident set size (RSS) while the records are built, so every byte the operating
system hands out counts, whoever allocated it.  DictList and pyarrow are fed from a generator
(pyarrow in chunks of 10,000), so no list of dicts is resident while they are measured.  The speed figures are the median of 5 runs
in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import memslim

# The record generator is shared with the peer benchmark, so both measure the same data.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))

from workload import (
    arrow_schema,
    chunked,
    make_records,
    median_seconds,
    rss_is_current,
    settled_rss,
)

try:
    import pyarrow as pa
except ImportError:  # pyarrow is optional: the demo then compares with plain Python only
    pa = None

SMALL = os.environ.get("MEMSLIM_EXAMPLE_SMALL", "") not in ("", "0")
N = 20_000 if SMALL else 1_000_000
REPEAT = 5

LIST = "list of dicts"
DICTLIST = "memslim.DictList"
ARROW = "pyarrow.Table"


# -- memory: one fresh process per representation ------------------------------------------


def build_for_memory(name: str, n: int) -> Any:
    """Build ``n`` records as ``name`` without ever holding them all as dicts (except LIST)."""
    if name == LIST:
        return list(make_records(n))
    if name == DICTLIST:
        return memslim.DictList(make_records(n))
    if name == ARROW:
        schema = arrow_schema()
        batches = [
            pa.RecordBatch.from_pylist(chunk, schema=schema)
            for chunk in chunked(make_records(n), 10_000)
        ]
        return pa.Table.from_batches(batches, schema=schema)
    raise ValueError(f"unknown representation {name!r}")


def self_reported_bytes(obj: Any) -> int | None:
    """The structure's own account of its size, where it keeps one."""
    return getattr(obj, "nbytes", None)


def measure_child(name: str) -> None:
    """Child process: print ``{"rss": growth, "nbytes": ...}`` as JSON on stdout."""
    # A small warm-up build first, so one-time costs (allocator pools, lazy imports) are not
    # counted as if they were per record.
    build_for_memory(name, 1_000)
    before = settled_rss()
    rows = build_for_memory(name, N)
    after = settled_rss()
    print(json.dumps({"rss": after - before, "nbytes": self_reported_bytes(rows)}))


def measure_in_fresh_process(name: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"measuring {name} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- speed: in this process -----------------------------------------------------------------


def row_loop(rows: Any) -> float:
    total = 0.0
    for r in rows:
        total += r["price"] * r["qty"]
    return total


def python_column_sum(records: list[dict[str, Any]]) -> float:
    return sum(r["price"] for r in records)


def compare(ours: float, theirs: float) -> str:
    """Our time against theirs, phrased for a reader: '3.1x faster' or '1.4x slower'."""
    if ours <= 0 or theirs <= 0:
        return "too fast to time"
    if 0.95 <= ours / theirs <= 1.05:
        return "about as fast"
    if ours <= theirs:
        return f"{theirs / ours:.1f}x faster"
    return f"{ours / theirs:.1f}x slower"


def main() -> None:
    reps = [LIST, DICTLIST] + ([ARROW] if pa is not None else [])
    print(f"memslim {memslim.__version__}: {N:,} records like")
    print(f"  {next(make_records(1))}\n")

    print("Memory: each representation built in a fresh process; RSS growth while building.")
    mem = {}
    for name in reps:
        print(f"  measuring {name} ...", flush=True)
        mem[name] = measure_in_fresh_process(name)

    base = mem[LIST]["rss"]
    header = (
        f"  {'representation':<18} {'bytes/record':>12} {'total MB':>9}  {'vs list of dicts':<16}"
    )
    print()
    print(header.rstrip())
    print("  " + "-" * (len(header.rstrip()) - 2))
    for name in reps:
        rss = mem[name]["rss"]
        if name == LIST:
            ratio = "1.0x"
        else:
            ratio = f"{base / rss:.1f}x smaller" if rss > 0 else "n/a"
        line = f"  {name:<18} {rss / N:>12.1f} {rss / 1e6:>9.1f}  {ratio:<16}"
        if mem[name]["nbytes"] is not None:
            line += f"  (own count, .nbytes: {mem[name]['nbytes'] / 1e6:.1f} MB)"
        print(line.rstrip())
    print("  (MB = 10^6 bytes)")
    if not rss_is_current():
        print("  (no /proc on this system: figures are peak RSS, transient peaks included)")
    if SMALL:
        print("  (small run: RSS moves in pages and allocator arenas, so these are rough)")

    print(f"\nSpeed: median of {REPEAT} runs in this process.")
    print("  building a list of dicts to work from ...", flush=True)
    records = list(make_records(N))

    t_build, rows = median_seconds(lambda: memslim.DictList(records), REPEAT)
    t_loop, total_rows = median_seconds(lambda: row_loop(rows), REPEAT)
    t_loop_list, total_list = median_seconds(lambda: row_loop(records), REPEAT)
    t_sum, sum_col = median_seconds(rows.column("price").sum, REPEAT)
    t_sum_list, sum_list = median_seconds(lambda: python_column_sum(records), REPEAT)

    for what, got, want in (
        ("row loop", total_rows, total_list),
        ("column sum", sum_col, sum_list),
    ):
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):
            raise SystemExit(f"{what}: DictList gave {got!r}, list of dicts {want!r}")

    tasks = []
    if pa is not None:
        t_arrow, _ = median_seconds(lambda: pa.Table.from_pylist(records), REPEAT)
        tasks.append(
            (
                "build from list of dicts",
                "DictList(records)",
                t_build,
                "pa.Table.from_pylist(records)",
                t_arrow,
            )
        )
    else:
        print(f"  (pyarrow not installed: DictList(records) took {t_build * 1e3:.1f} ms)")
    tasks += [
        (
            'row loop: total += r["price"] * r["qty"]',
            "over DictList",
            t_loop,
            "over list of dicts",
            t_loop_list,
        ),
        (
            "sum of price",
            'rows.column("price").sum()',
            t_sum,
            'sum(r["price"] for r in records)',
            t_sum_list,
        ),
    ]
    print()
    for task, ours, t_ours, theirs, t_theirs in tasks:
        print(f"  {task}")
        print(f"    {ours:<34} {t_ours * 1e3:>9.1f} ms")
        print(f"    {theirs:<34} {t_theirs * 1e3:>9.1f} ms")
        print(f"    -> memslim is {compare(t_ours, t_theirs)}")

    print("\nEach item of a DictList is a live, dict-like Row view:")
    row = rows[0]
    print(f"  rows[0]          -> {row!r}")
    print(f'  rows[0]["user"]  -> {row["user"]!r}')
    print(f"  rows.schema      -> {rows.schema}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure_child(sys.argv[2])
    elif len(sys.argv) == 1:
        main()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} [--measure REPRESENTATION]")
