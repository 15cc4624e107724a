"""memslim.deep_sizeof against pympler.asizeof and against measured RSS growth.

    python benches/bench_sizeof.py                 # 1,000,000 order records
    python benches/bench_sizeof.py --quick         # 2,000 records, a smoke run

A fresh process builds the records (a list of dicts, then the same records as a DictList),
measuring RSS growth around each build; then sizes each structure with
``memslim.deep_sizeof`` and with ``pympler.asizeof.asizeof`` (median of ``--repeat`` runs
for deep_sizeof, one run for pympler, which is slow). Prints a table; exit 1 if a figure
is missing or deep_sizeof is more than 10% off the RSS growth of the list of dicts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (
    DEFAULT_ROWS,
    load_report,
    make_records,
    markdown_header,
    median_seconds,
    settled_rss,
    write_markdown,
    write_report,
)
from workload import machine_info as workload_machine_info

QUICK_ROWS = 2_000


def child(rows: int, repeat: int) -> dict[str, Any]:
    import memslim

    out: dict[str, Any] = {}
    warm = list(make_records(1_000))
    memslim.deep_sizeof(memslim.DictList(warm))
    del warm
    before = settled_rss()
    records = list(make_records(rows))
    out["list_rss"] = settled_rss() - before
    before = settled_rss()
    dictlist = memslim.DictList(make_records(rows))
    out["dictlist_rss"] = settled_rss() - before

    asizeof: Callable[[Any], int] | None
    try:
        from pympler.asizeof import asizeof
    except ImportError:
        asizeof = None
    for label, obj in (("list", records), ("dictlist", dictlist)):
        seconds, size = median_seconds(partial(memslim.deep_sizeof, obj), repeat)
        out[f"{label}_deep"], out[f"{label}_deep_s"] = size, seconds
        if asizeof is not None:
            start = time.perf_counter()
            out[f"{label}_pympler"] = asizeof(obj)
            out[f"{label}_pympler_s"] = time.perf_counter() - start
    return out


def _off(res: dict[str, Any]) -> float:
    """How far deep_sizeof of the list of dicts is from its RSS growth, as a fraction."""
    return float(res["list_deep"] / res["list_rss"] - 1) if res["list_rss"] > 0 else 0.0


def table(res: dict[str, Any]) -> str:
    """The table and the two summary lines the benchmark prints."""
    mb = 1e6
    lines = [
        "| structure | RSS growth (MB) | deep_sizeof (MB) | time (s) | pympler.asizeof (MB) | time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, name in (("list", "list of dicts"), ("dictlist", "memslim.DictList")):
        pympler = res.get(f"{label}_pympler")
        pympler_cells = (
            f"{pympler / mb:.1f} | {res[f'{label}_pympler_s']:.2f}"
            if pympler is not None
            else "— | —"
        )
        lines.append(
            f"| {name} | {res[f'{label}_rss'] / mb:.1f} | {res[f'{label}_deep'] / mb:.1f} "
            f"| {res[f'{label}_deep_s']:.2f} | {pympler_cells} |"
        )
    lines.append(f"\ndeep_sizeof of the list of dicts is {_off(res):+.1%} off its RSS growth")
    if res.get("list_pympler_s"):
        speedup = res["list_pympler_s"] / res["list_deep_s"]
        lines.append(
            f"deep_sizeof is {speedup:.1f}x faster than pympler.asizeof on the list of dicts"
        )
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    """The markdown for a JSON report."""
    lines = markdown_header(
        report, "bench_sizeof.py", "memslim.deep_sizeof against RSS and pympler"
    )
    lines += [
        "",
        (
            f"{report['rows']:,} order records, built in a fresh process; deep_sizeof and "
            "pympler.asizeof time the same objects."
        ),
        "",
        table(report),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help=f"default {DEFAULT_ROWS:,}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} records")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="measure nothing: re-render the markdown beside a JSON report",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_json:
        print(f"wrote {write_markdown(args.from_json, render(load_report(args.from_json)))}")
        return 0
    rows = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    if args.child:
        print(json.dumps(child(rows, args.repeat)))
        return 0

    cmd = [sys.executable, __file__, "--child", "--rows", str(rows), "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    report = {
        "benchmark": "sizeof",
        "rows": rows,
        "repeat": args.repeat,
        "quick": args.quick,
        "machine": workload_machine_info(("memslim", "pympler")),
        **res,
    }
    print(f"Sizing {rows:,} order records (deep_sizeof: median of {args.repeat} runs)\n")
    print(table(report))
    off = _off(report)
    if args.output:
        output = write_report(report, args.output, args.quick, args.output)
        print(f"wrote {output} and {write_markdown(output, render(load_report(output)))}")
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
        return 0
    return 0 if abs(off) <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
