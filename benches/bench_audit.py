"""memslim.audit() on a process holding 10 million objects; memslim.watch()'s overhead.

    python benches/bench_audit.py            # 10M objects; a busy loop of a few seconds
    python benches/bench_audit.py --quick    # 100k objects, short loop: a smoke run

Audit: a fresh process builds 1M order dicts (a global list), 1M trade tuples (an
attribute of an object) and 500k ``__slots__`` ticks (a closure), about 10 million
objects (``sys.getallocatedblocks()`` is printed), then runs ``memslim.audit()`` twice:
three ways: exact (``size_sample=None``: every record deep-sized), the defaults (at most
100,000 records per container deep-sized and built into the memslim structure, scaled)
and bounded (``sample=20_000, size_sample=20_000``, what a watch uses). For each: wall
time, the RSS the audit added (its own figure) and the growth of the peak RSS. Then it
drops the order list and measures the RSS given back, against the audit's deep size.

Watch: a busy loop (build and drop small dicts, with 1M objects kept alive so type counts
cost something) of fixed work, timed without a watch and with ``memslim.watch`` at 1 s and
0.1 s intervals, each in a fresh process, median of ``--repeat`` runs: wall time, process
CPU time (all threads; less disturbed by other load on the machine than wall time) and the
watcher thread's own CPU time from its log.

Writes benches/results/audit.json and audit.md (quick runs: a temporary directory).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import machine_info, rss_bytes, run_child, write_report

RESULTS = Path(__file__).resolve().parent / "results"


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Tick:
    __slots__ = ("price", "ts")

    def __init__(self, ts: int, price: float) -> None:
        self.ts, self.price = ts, price


class Desk:
    def __init__(self, trades: list[tuple[int, float, str]]) -> None:
        self.trades = trades


ORDERS: list[dict[str, Any]] = []
DESK: Desk | None = None
TICKS: Any = None


def build(scale: int) -> None:
    global DESK, TICKS
    countries = ("US", "FR", "DE", "JP", "BR")
    ORDERS.extend(
        {
            "id": 10_000_000 + i,
            "customer": f"customer {i % 50_000}",
            "price": i * 0.25,
            "qty": i % 10,
            "country": countries[i % 5],
        }
        for i in range(scale)
    )
    DESK = Desk([(10_000_000 + i, i * 0.5, f"sym{i % 3_000}") for i in range(scale)])
    ticks = [Tick(10_000_000 + i, i / 7) for i in range(scale // 2)]

    def reader() -> list[Tick]:
        return ticks

    TICKS = reader


def child_audit(scale: int) -> dict[str, Any]:
    import memslim

    build(scale)
    gc.collect()
    out: dict[str, Any] = {
        "scale": scale,
        "allocated_blocks": sys.getallocatedblocks(),
        "gc_tracked": len(gc.get_objects()),
        "rss_before": rss_bytes(),
    }
    for label, options in (
        ("exact", {"size_sample": None}),
        ("default", {}),
        ("bounded", {"sample": 20_000, "size_sample": 20_000}),
    ):
        gc.collect()
        peak0 = peak_rss()
        start = time.perf_counter()
        report = memslim.audit(**options)
        seconds = time.perf_counter() - start
        out[label] = {
            "seconds": seconds,
            "extra_bytes": report.extra_bytes,
            "peak_growth": peak_rss() - peak0,
            "findings": [
                {
                    k: f.to_dict()[k]
                    for k in ("location", "records", "bytes", "structure", "memslim_bytes")
                }
                for f in report.findings
            ],
            "objects_scanned": report.objects_scanned,
            "referrer_passes": report.referrer_passes,
        }
        del report
    # The RSS given back when the biggest container goes, against its deep size.
    orders_bytes = next(
        f["bytes"] for f in out["exact"]["findings"] if f["location"].endswith(".ORDERS")
    )
    gc.collect()
    before = rss_bytes()
    ORDERS.clear()
    gc.collect()
    out["orders_deep_bytes"] = orders_bytes
    out["orders_rss_given_back"] = before - rss_bytes()
    return out


def busy(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        batch = [{"i": j, "s": "x", "f": j * 0.5} for j in range(100)]
        total += len(batch) + i
    return total


def child_watch(rounds: int, interval: float | None, keep: int) -> dict[str, Any]:
    import memslim

    kept = [(i, float(i)) for i in range(keep)]  # objects for the type counts to walk
    busy(rounds // 20)  # warm up
    gc.collect()
    log = Path(tempfile.mkdtemp(prefix="memslim-bench-")) / "watch.jsonl"
    w = memslim.watch(log, interval=interval, audit_on_growth=False) if interval else None
    start, cpu0 = time.perf_counter(), time.process_time()
    busy(rounds)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
    out: dict[str, Any] = {"seconds": seconds, "cpu": cpu, "kept": len(kept)}
    if w is not None:
        out["watch_cpu"] = w.cpu  # during the loop (the last sample, at stop, comes after)
        w.stop()
        samples = [json.loads(line) for line in log.read_text().splitlines()]
        samples = [s for s in samples if s["event"] == "sample"][:-1]
        out["samples"] = len(samples)
        out["type_counts"] = sum(1 for s in samples if "types" in s)
        # Each sample's cost: the growth of the cumulative watcher CPU since the last one.
        costs = [(b["watch_cpu"] - a["watch_cpu"], "types" in b) for a, b in pairwise(samples)]
        plain = [c for c, typed in costs if not typed]
        out["sample_cpu"] = statistics.median(plain) if plain else None
        out["type_count_cpu"] = samples[0]["watch_cpu"] if samples else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k objects, a short loop")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, help="JSON report (markdown next to it)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "audit":
            result = child_audit(int(rest[0]))
        else:
            interval = float(rest[1]) or None
            result = child_watch(int(rest[0]), interval, int(rest[2]))
        print(json.dumps(result))
        return 0

    scale = 10_000 if args.quick else 1_000_000
    rounds = 20_000 if args.quick else 150_000
    keep = 10_000 if args.quick else 1_000_000
    repeat = 1 if args.quick else args.repeat
    me = [sys.executable, __file__, "--child"]

    audit = run_child([*me, "audit", str(scale)], what="audit")
    if "error" in audit:
        print(audit["error"], file=sys.stderr)
        return 1
    watch: dict[str, Any] = {}
    for label, interval in (("none", 0.0), ("1 s", 1.0), ("0.1 s", 0.1)):
        runs = [
            run_child([*me, "watch", str(rounds), str(interval), str(keep)], what="watch")
            for _ in range(repeat)
        ]
        if any("error" in r for r in runs):
            print(next(r["error"] for r in runs if "error" in r), file=sys.stderr)
            return 1
        watch[label] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "watch_cpu": statistics.median(r.get("watch_cpu", 0.0) for r in runs),
            "samples": statistics.median(r.get("samples", 0) for r in runs),
            "type_counts": statistics.median(r.get("type_counts", 0) for r in runs),
            "sample_cpu": statistics.median(r.get("sample_cpu") or 0.0 for r in runs),
            "type_count_cpu": statistics.median(r.get("type_count_cpu") or 0.0 for r in runs),
        }
    base, base_cpu = watch["none"]["seconds"], watch["none"]["cpu"]
    for label in ("1 s", "0.1 s"):
        w = watch[label]
        w["slowdown"] = w["seconds"] / base - 1
        w["cpu_slowdown"] = w["cpu"] / base_cpu - 1
        w["cpu_share"] = w["watch_cpu"] / w["seconds"]

    mb = 1e6
    lines = [
        (
            f"## memslim.audit() on {audit['allocated_blocks'] / 1e6:.1f} million objects "
            f"({audit['gc_tracked']:,} tracked by the gc), RSS {audit['rss_before'] / mb:.0f} MB"
        ),
        "",
        (
            "| audit | time (s) | extra RSS, audit's own figure (MB) | peak RSS growth (MB) "
            "| findings: records (deep size -> predicted memslim size) |"
        ),
        "|---|---:|---:|---:|---|",
    ]
    for label in ("exact", "default", "bounded"):
        a = audit[label]
        names = ", ".join(
            f"{f['location']} {f['records']:,} ({f['bytes'] / mb:.1f} MB -> "
            f"{f['structure']} {f['memslim_bytes'] / mb:.1f} MB)"
            for f in a["findings"][:3]
        )
        lines.append(
            f"| {label} | {a['seconds']:.1f} | {(a['extra_bytes'] or 0) / mb:.1f} "
            f"| {a['peak_growth'] / mb:.1f} | {names} |"
        )
    lines += [
        "",
        (
            f"Dropping the order list gave back {audit['orders_rss_given_back'] / mb:.1f} MB"
            f" of RSS; the audit's deep size for it was {audit['orders_deep_bytes'] / mb:.1f} MB."
        ),
        "",
        f"## memslim.watch() overhead on a busy loop ({keep:,} objects kept alive)",
        "",
        (
            "| interval | loop wall (s) | wall change | process CPU (s) | CPU change "
            "| watcher thread CPU / wall | samples | type counts | CPU per sample "
            "| CPU per type count |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| no watch | {base:.2f} | — | {base_cpu:.2f} | — | — | — | — | — | — |",
    ]
    for label in ("1 s", "0.1 s"):
        w = watch[label]
        lines.append(
            f"| {label} | {w['seconds']:.2f} | {w['slowdown']:+.1%} | {w['cpu']:.2f} "
            f"| {w['cpu_slowdown']:+.1%} | {w['cpu_share']:.2%} "
            f"| {w['samples']:.0f} | {w['type_counts']:.0f} | {w['sample_cpu'] * 1e6:.0f} µs "
            f"| {w['type_count_cpu'] * 1e3:.0f} ms |"
        )
    lines.append(
        f"\nmedian of {repeat} runs each; machine load average {machine_info([])['load_average']}"
    )
    text = "\n".join(lines)
    print(text)
    report = {
        "quick": args.quick,
        "machine": machine_info(["memslim"]),
        "audit": audit,
        "watch": watch,
    }
    path = write_report(report, args.output, args.quick, RESULTS / "audit.json")
    path.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(f"\nwrote {path} and {path.with_suffix('.md')}")
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
