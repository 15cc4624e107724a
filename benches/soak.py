"""Soak test: build and drop memslim structures many times; RSS must come back to baseline.

    python benches/soak.py                      # 10,000 cycles (the benchmark command)
    python benches/soak.py --iterations 1000    # the reduced size the test suite runs

Each cycle builds a DictList and a TupleList from the same 1,000 records (typed columns,
nulls, absent keys, nested values in the variant column), uses them the ways a program
does (row views, writes through a view, a column sum, a slice, a copy, a pickle round
trip, a sort, an Arrow export when pyarrow is installed), and drops everything.

After ``--warmup`` cycles (allocator pools and caches filled) the settled RSS is the
baseline. The run fails (exit 1) if, after all cycles, RSS exceeds the baseline by more
than ``--tolerance-mib``, if the second half of the run grew RSS by more than half that
(a slow leak shows as steady growth), or if ``memslim.stats()`` still counts live
structures. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import memslim
from workload import rss_bytes, rss_is_current

FIELDS = ("id", "name", "price", "tags", "flag")


def make_inputs(n: int) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    dicts: list[dict[str, Any]] = []
    for i in range(n):
        record: dict[str, Any] = {
            "id": i,
            "name": f"name{i % 97}",
            "price": i * 0.25 if i % 7 else None,
            "tags": [i, str(i)] if i % 3 == 0 else {"k": i},
        }
        if i % 5:
            record["flag"] = i % 2 == 0  # absent in every fifth record
        dicts.append(record)
    tuples = [tuple(d.get(f) for f in FIELDS) for d in dicts]
    return dicts, tuples


def cycle(dicts: list[dict[str, Any]], tuples: list[tuple[Any, ...]], arrow: Any) -> float:
    rows = memslim.DictList(dicts)
    row = rows[3]
    row["price"] = 1.5
    total = sum(r["id"] for r in rows)
    total += rows.column("price").sum()
    part = rows[10:500]
    clone = rows.copy()
    clone.append({"id": -1, "extra": b"bytes"})
    back = pickle.loads(pickle.dumps(rows))
    back.sort(key=lambda r: -r["id"])
    pairs = memslim.TupleList(tuples, fields=FIELDS)
    total += sum(len(t) for t in pairs[:100])  # namedtuples made on access
    if arrow is not None:
        total += arrow.table(pairs).num_rows + arrow.table(part).num_rows
    del rows, row, part, clone, back, pairs
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000, help="records per structure")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--tolerance-mib", type=float, default=2.0)
    parser.add_argument("--output", type=Path, help="also write the JSON summary here")
    # Keeps every cycle's DictList alive: proves that the check catches a leak.
    parser.add_argument("--simulate-leak", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations < 2 or args.records < 10:
        parser.error("--iterations must be >= 2 and --records >= 10")
    try:
        import pyarrow as arrow
    except ImportError:
        arrow = None

    dicts, tuples = make_inputs(args.records)
    for _ in range(args.warmup):
        cycle(dicts, tuples, arrow)
    gc.collect()
    baseline = rss_bytes()
    samples = []
    kept: list[memslim.DictList] = []
    start = time.perf_counter()
    half = args.iterations // 2
    for i in range(1, args.iterations + 1):
        cycle(dicts, tuples, arrow)
        if args.simulate_leak:
            kept.append(memslim.DictList(dicts))
        if i == half or i % max(1, args.iterations // 10) == 0 or i == args.iterations:
            gc.collect()
            samples.append((i, rss_bytes()))
    elapsed = time.perf_counter() - start
    gc.collect()
    final = rss_bytes()
    at_half = next(rss for i, rss in samples if i == half)
    live = memslim.stats()
    tolerance = int(args.tolerance_mib * 2**20)

    mib = 2**20
    print(f"{args.iterations:,} cycles of {args.records:,} records in {elapsed:.1f} s")
    for i, rss in samples:
        print(f"  after {i:>6,} cycles: RSS {rss / mib:8.2f} MiB ({(rss - baseline) / mib:+.2f})")
    problems = []
    if final - baseline > tolerance:
        problems.append(f"RSS grew {(final - baseline) / mib:.2f} MiB over the baseline")
    if final - at_half > tolerance // 2:
        problems.append(f"RSS grew {(final - at_half) / mib:.2f} MiB in the second half")
    if live["structures"] or live["structure_bytes"]:
        problems.append(f"memslim.stats() still counts live structures: {live}")
    if not rss_is_current():
        print("(no /proc on this system: RSS figures are peak RSS)")
    for problem in problems:
        print(f"LEAK? {problem}")
    print("PASS: RSS back to baseline" if not problems else "FAIL")
    summary = {
        "iterations": args.iterations,
        "records": args.records,
        "seconds": elapsed,
        "baseline_rss": baseline,
        "final_rss": final,
        "growth_bytes": final - baseline,
        "second_half_growth_bytes": final - at_half,
        "samples": samples,
        "stats": live,
        "problems": problems,
    }
    print(json.dumps(summary))
    if args.output is not None:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
