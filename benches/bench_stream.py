"""Peer comparison for reading JSON Lines: memslim.read_jsonl against the usual ways.

    python benches/bench_stream.py                 # 1,000,000 order records, the issue's figures
    python benches/bench_stream.py --rows 200000   # a smaller run
    python benches/bench_stream.py --quick         # a tiny smoke run (the test suite uses it)

The records are ``benches/workload.py``'s order records, written once as JSON Lines with
``json.dumps``.  Every reader runs in a fresh Python process that first reads a small
warm-up file (imports, allocator pools), then reads the whole file once to measure its
peak RSS growth (``ru_maxrss``) and its settled RSS growth, then ``--repeat`` more times
for the median wall time.  ``memslim.iter_jsonl`` is measured the same way, keeping only
the running row count, to show memory bounded by the batch.  Each reader's row count and
``price`` sum are cross-checked against ``json.loads``.

Results are printed as a markdown table with the issue's targets (PASS/MISS), and written
as JSON to ``benches/results/stream.json`` (``--quick``: a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_records import machine_info
from workload import (
    DEFAULT_ROWS,
    load_report,
    make_records,
    markdown_header,
    markdown_targets,
    median_seconds,
    rss_bytes,
    run_child,
    settled_rss,
    write_markdown,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "stream.json"
QUICK_ROWS = 2_000
WARMUP_ROWS = 1_000
ITER_BATCH = 65_536

MEMSLIM = "memslim.read_jsonl"
ITER = "memslim.iter_jsonl"
LOADS = "json.loads per line"
POLARS = "polars.read_ndjson"
ARROW = "pyarrow.json.read_json"


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _memslim(path: str) -> tuple[Any, int, float, int | None]:
    import memslim

    rows = memslim.read_jsonl(path)
    return rows, len(rows), rows.column("price").sum(), rows.nbytes


def _iter(path: str) -> tuple[Any, int, float, int | None]:
    import memslim

    n, total = 0, 0.0
    for batch in memslim.iter_jsonl(path, batch_size=ITER_BATCH):
        n += len(batch)
        total += batch.column("price").sum()
    return None, n, total, None


def _loads(path: str) -> tuple[Any, int, float, int | None]:
    loads = json.loads
    with open(path, encoding="utf-8") as f:
        rows = [loads(line) for line in f]
    return rows, len(rows), math.fsum(r["price"] for r in rows), None


def _polars(path: str) -> tuple[Any, int, float, int | None]:
    import polars as pl

    df = pl.read_ndjson(path)
    return df, df.height, float(df["price"].sum()), int(df.estimated_size())


def _arrow(path: str) -> tuple[Any, int, float, int | None]:
    import pyarrow.compute as pc
    import pyarrow.json as pj

    table = pj.read_json(path)
    return table, table.num_rows, float(pc.sum(table["price"]).as_py()), int(table.nbytes)


READERS: dict[str, tuple[str | None, Callable[[str], tuple[Any, int, float, int | None]]]] = {
    LOADS: (None, _loads),
    MEMSLIM: ("memslim", _memslim),
    ITER: ("memslim", _iter),
    POLARS: ("polars", _polars),
    ARROW: ("pyarrow", _arrow),
}


def run_reader(name: str, path: str, warmup: str, repeat: int) -> dict[str, Any]:
    module, read = READERS[name]
    if module is not None:
        try:
            __import__(module)
        except ImportError as exc:
            if module == "memslim":
                raise
            return {"skipped": f"{module} is not importable: {exc}"}
    read(warmup)
    before = settled_rss()
    peak_before = _peak_rss()
    structure, n, price_sum, nbytes = read(path)
    peak = max(_peak_rss() - max(peak_before, before), 0)
    settled = settled_rss() - before
    del structure
    seconds, _ = median_seconds(lambda: read(path)[1:], repeat)
    return {
        "rows": n,
        "price_sum": price_sum,
        "seconds": seconds,
        "peak_rss_bytes": peak,
        "rss_bytes": settled,
        "nbytes": nbytes,
        "rss_now": rss_bytes(),
    }


def measure(name: str, path: Path, warmup: Path, repeat: int, timeout: float | None) -> dict:
    cmd = [sys.executable, __file__, "--child", name, str(path), str(warmup), str(repeat)]
    return run_child(cmd, timeout)


def write_jsonl(path: Path, rows: int) -> int:
    dumps = json.dumps
    with path.open("w", encoding="utf-8") as f:
        for record in make_records(rows):
            f.write(dumps(record))
            f.write("\n")
    return path.stat().st_size


def _ok(res: dict[str, Any] | None) -> bool:
    return res is not None and "error" not in res and "skipped" not in res


def check_results(results: dict[str, dict[str, Any]], rows: int) -> list[str]:
    problems = []
    base = results.get(LOADS, {})
    for name, res in results.items():
        if not _ok(res):
            continue
        if res["rows"] != rows:
            problems.append(f"{name}: read {res['rows']} rows, expected {rows}")
        if _ok(base) and not math.isclose(res["price_sum"], base["price_sum"], rel_tol=1e-9):
            problems.append(f"{name}: price sum {res['price_sum']!r} vs {base['price_sum']!r}")
    return problems


def _mb(b: int | None) -> str:
    return "—" if b is None else f"{b / 1e6:.1f}"


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    cols = (
        "reader",
        "time (ms)",
        "vs json.loads",
        "peak RSS growth (MB)",
        "RSS growth after (MB)",
        "own count (MB)",
    )
    lines = ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 1)]
    base = results.get(LOADS)
    for name, res in results.items():
        if not _ok(res):
            why = res.get("skipped") or "failed, see above"
            lines.append(f"| {name} | {why} |" + " |" * (len(cols) - 2))
            continue
        ratio = "—"
        if _ok(base) and res["seconds"] > 0:
            ratio = f"{base['seconds'] / res['seconds']:.1f}x faster"
        lines.append(
            f"| {name} | {res['seconds'] * 1e3:.1f} | {ratio} | {_mb(res['peak_rss_bytes'])} "
            f"| {_mb(res['rss_bytes'])} | {_mb(res['nbytes'])} |"
        )
    return "\n".join(lines)


def target_lines(
    results: dict[str, dict[str, Any]], file_bytes: int
) -> list[tuple[str, bool | None]]:
    ours = results.get(MEMSLIM)
    if not _ok(ours):
        return [("targets: not judged, memslim.read_jsonl did not run", None)]
    out: list[tuple[str, bool | None]] = []
    for peer in (POLARS, ARROW):
        res = results.get(peer)
        if not _ok(res):
            out.append((f"speed: not judged against {peer}, it did not run", None))
            continue
        ratio = res["seconds"] / ours["seconds"]
        word = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
        out.append((f"speed: read_jsonl is {word} than {peer} (target: faster)", ratio > 1))
    base = results.get(LOADS)
    if _ok(base):
        ratio = base["seconds"] / ours["seconds"]
        out.append(
            (
                f"speed: read_jsonl is {ratio:.1f}x faster than json.loads per line (target >= 5x)",
                ratio >= 5,
            )
        )
    if ours["nbytes"]:
        ratio = ours["peak_rss_bytes"] / ours["nbytes"]
        out.append(
            (
                (
                    f"memory: read_jsonl peak RSS growth {_mb(ours['peak_rss_bytes'])} MB is {ratio:.2f}x "
                    f"the DictList's {_mb(ours['nbytes'])} MB (target <= 1.5x)"
                ),
                ratio <= 1.5,
            )
        )
    it = results.get(ITER)
    if _ok(it):
        out.append(
            (
                (
                    f"memory: iter_jsonl(batch_size={ITER_BATCH:,}) peak RSS growth {_mb(it['peak_rss_bytes'])} MB "
                    f"for a {_mb(file_bytes)} MB file (not a target: shown for bounded memory)"
                ),
                None,
            )
        )
    return out


def render(report: dict[str, Any]) -> str:
    """The markdown for a JSON report: the table and the target lines the run printed."""
    lines = markdown_header(report, "bench_stream.py", "memslim streaming readers: JSON Lines")
    lines += [
        "",
        (
            f"{report['rows']:,} order records as JSON Lines ({report['file_bytes'] / 1e6:.1f} MB), "
            "read by each reader in a fresh process; peak RSS growth is the high-water mark "
            "during the read, RSS growth after is what the result keeps."
        ),
        "",
        markdown_table(report["results"]),
    ]
    lines += markdown_targets(report.get("targets", []))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        name, path, warmup, repeat = argv[1], argv[2], argv[3], int(argv[4])
        print(json.dumps(run_reader(name, path, warmup, repeat)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help=f"default {DEFAULT_ROWS:,}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, a smoke run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument("--reader", action="append", choices=list(READERS), help="only these")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="measure nothing: re-render the markdown beside a JSON report",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        print(f"wrote {write_markdown(args.from_json, render(load_report(args.from_json)))}")
        return 0
    rows = args.rows if args.rows is not None else (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    if rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")

    with tempfile.TemporaryDirectory(prefix="memslim-bench-stream-") as tmp:
        path, warmup = Path(tmp) / "orders.jsonl", Path(tmp) / "warmup.jsonl"
        print(f"Writing {rows:,} order records as JSON Lines ...", flush=True)
        file_bytes = write_jsonl(path, rows)
        write_jsonl(warmup, WARMUP_ROWS)
        names = args.reader or list(READERS)
        if LOADS not in names:
            names.insert(0, LOADS)
        timeout = 300.0 if args.quick else None
        print(
            f"Reading {file_bytes / 1e6:.1f} MB with {len(names)} readers, median of {args.repeat} runs"
        )
        results: dict[str, dict[str, Any]] = {}
        for name in names:
            print(f"  {name} ...", flush=True)
            results[name] = measure(name, path, warmup, args.repeat, timeout)
            if "error" in results[name]:
                print(f"    FAILED: {results[name]['error']}", file=sys.stderr)
            elif "skipped" in results[name]:
                print(f"    skipped: {results[name]['skipped']}")

    print()
    print(markdown_table(results))
    print()
    targets = target_lines(results, file_bytes)
    for line, passed in targets:
        print(line if passed is None else f"{line} {'PASS' if passed else 'MISS'}")
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
    problems = check_results(results, rows)
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)

    report = {
        "benchmark": "stream",
        "rows": rows,
        "file_bytes": file_bytes,
        "repeat": args.repeat,
        "quick": args.quick,
        "machine": machine_info(),
        "results": results,
        "targets": [{"line": line, "passed": passed} for line, passed in targets],
        "mismatches": problems,
    }
    output = write_report(report, args.output, args.quick, RESULTS)
    markdown = write_markdown(output, render(load_report(output)))
    print(f"\nwrote {output} and {markdown}")
    failed = [name for name, res in results.items() if "error" in res]
    if failed or problems:
        print(f"errors in: {', '.join(failed) or 'cross-checks'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
