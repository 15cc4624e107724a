"""Peer comparison for record storage: memslim against the ways Python users hold records.

    python benches/bench_records.py                 # 1,000,000 records, the issue's figures
    python benches/bench_records.py --rows 200000   # a smaller run
    python benches/bench_records.py --quick         # a tiny smoke run (the test suite uses it)

For every peer a fresh Python process first builds the records straight from a generator
and reports its RSS growth (and the peer's own size count where it keeps one), so no peer
pays for another's leftovers.  The same process then builds a list of dicts and times, as
the median of ``--repeat`` runs: building the peer from that list, a Python row loop
``total += price * qty`` written the way a user of that peer would write it, and the sum of
the ``price`` column.

Columnar peers (pyarrow, polars, pandas) are built for the memory figure from chunks of
10,000 records, so the full list of dicts is never resident in their processes either.
Before the baseline each process builds its peer once from 1,000 records, so one-time costs
(allocator pools, lazy imports) are not charged per record.

Results are printed as a markdown table with the issue's targets, and written as JSON to
``benches/results/records.json`` (``--quick``: a temporary directory; ``--output`` wins).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections import namedtuple
from collections.abc import Callable, Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (
    DEFAULT_ROWS,
    DTYPES,
    FIELDS,
    arrow_schema,
    chunked,
    load_report,
    make_records,
    markdown_header,
    markdown_targets,
    median_seconds,
    median_wall_and_cpu,
    rss_is_current,
    run_child,
    settled_rss,
    write_markdown,
    write_report,
)
from workload import machine_info as workload_machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "records.json"
QUICK_ROWS = 2_000
CHUNK = 10_000
WARMUP_ROWS = 1_000

as_tuple = itemgetter(*FIELDS)
PRICE, QTY = FIELDS.index("price"), FIELDS.index("qty")

RecordTuple = namedtuple("RecordTuple", FIELDS)


@dataclasses.dataclass(slots=True)
class Record:
    id: int
    user: str
    price: float
    qty: int
    paid: bool
    country: str
    note: str | None


# -- peers ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Peer:
    """How one representation is built, looped over and summed."""

    name: str
    module: str | None  # import needed, None for plain Python
    build_streaming: Callable[[int], Any]  # n -> structure, never holding n dicts
    build: Callable[[list[dict[str, Any]]], Any] | None  # from a list of dicts; None: it is one
    row_loop: Callable[[Any], float]
    column_sum: Callable[[Any], float]
    nbytes: Callable[[Any], int] | None = None  # the structure's own size count
    nbytes_label: str = ""


def _loop_keys(rows: Iterable[Any]) -> float:
    total = 0.0
    for r in rows:
        total += r["price"] * r["qty"]
    return total


def _loop_positions(rows: Iterable[Any]) -> float:
    total = 0.0
    for r in rows:
        total += r[PRICE] * r[QTY]
    return total


def _loop_attributes(rows: Iterable[Any]) -> float:
    total = 0.0
    for r in rows:
        total += r.price * r.qty
    return total


def _loop_arrow(table: Any) -> float:
    # Row access to an Arrow table goes through Python dicts, a batch at a time.
    total = 0.0
    for batch in table.to_batches():
        for r in batch.to_pylist():
            total += r["price"] * r["qty"]
    return total


def _loop_polars(df: Any) -> float:
    total = 0.0
    for r in df.iter_rows(named=True):
        total += r["price"] * r["qty"]
    return total


def _loop_pandas(df: Any) -> float:
    total = 0.0
    for r in df.itertuples(index=False):
        total += r.price * r.qty
    return total


def _arrow_streaming(n: int) -> Any:
    import pyarrow as pa

    schema = arrow_schema()
    batches = [
        pa.RecordBatch.from_pylist(chunk, schema=schema)
        for chunk in chunked(make_records(n), CHUNK)
    ]
    return pa.Table.from_batches(batches, schema=schema)


def _polars_schema() -> dict[str, Any]:
    import polars as pl

    types = {"int64": pl.Int64, "str": pl.String, "float64": pl.Float64, "bool": pl.Boolean}
    return {name: types[DTYPES[name]] for name in FIELDS}


def _polars_streaming(n: int) -> Any:
    import polars as pl

    schema = _polars_schema()
    frames = [pl.from_dicts(chunk, schema=schema) for chunk in chunked(make_records(n), CHUNK)]
    return pl.concat(frames, rechunk=False)


def _pandas_streaming(n: int) -> Any:
    import pandas as pd

    frames = [
        pd.DataFrame(chunk, columns=list(FIELDS)) for chunk in chunked(make_records(n), CHUNK)
    ]
    return pd.concat(frames, ignore_index=True)


def _peers() -> list[Peer]:
    # Imports stay inside the lambdas: the parent process never imports the peers.
    return [
        Peer(
            "list of dicts",
            None,
            lambda n: list(make_records(n)),
            None,
            _loop_keys,
            lambda rows: sum(r["price"] for r in rows),
        ),
        Peer(
            "list of tuples",
            None,
            lambda n: [as_tuple(r) for r in make_records(n)],
            lambda records: [as_tuple(r) for r in records],
            _loop_positions,
            lambda rows: sum(r[PRICE] for r in rows),
        ),
        Peer(
            "namedtuple",
            None,
            lambda n: [RecordTuple(**r) for r in make_records(n)],
            lambda records: [RecordTuple(**r) for r in records],
            _loop_attributes,
            lambda rows: sum(r.price for r in rows),
        ),
        Peer(
            "dataclass(slots=True)",
            None,
            lambda n: [Record(**r) for r in make_records(n)],
            lambda records: [Record(**r) for r in records],
            _loop_attributes,
            lambda rows: sum(r.price for r in rows),
        ),
        Peer(
            "pyarrow.Table",
            "pyarrow",
            _arrow_streaming,
            lambda records: sys.modules["pyarrow"].Table.from_pylist(records),
            _loop_arrow,
            lambda t: sys.modules["pyarrow.compute"].sum(t.column("price")).as_py(),
            lambda t: t.nbytes,
            "table.nbytes",
        ),
        Peer(
            "polars.DataFrame",
            "polars",
            _polars_streaming,
            lambda records: sys.modules["polars"].from_dicts(records),
            _loop_polars,
            lambda df: df["price"].sum(),
            lambda df: df.estimated_size(),
            "df.estimated_size()",
        ),
        Peer(
            "pandas.DataFrame",
            "pandas",
            _pandas_streaming,
            lambda records: sys.modules["pandas"].DataFrame(records),
            _loop_pandas,
            lambda df: float(df["price"].sum()),
            lambda df: int(df.memory_usage(deep=True).sum()),
            "df.memory_usage(deep=True).sum()",
        ),
        Peer(
            "memslim.DictList",
            "memslim",
            lambda n: sys.modules["memslim"].DictList(make_records(n)),
            lambda records: sys.modules["memslim"].DictList(records),
            _loop_keys,
            lambda rows: rows.column("price").sum(),
            lambda rows: rows.nbytes,
            "rows.nbytes",
        ),
        Peer(
            "memslim.TupleList",
            "memslim",
            lambda n: sys.modules["memslim"].TupleList(map(as_tuple, make_records(n)), FIELDS),
            lambda records: sys.modules["memslim"].TupleList(map(as_tuple, records), FIELDS),
            _loop_attributes,
            lambda rows: rows.column("price").sum(),
            lambda rows: rows.nbytes,
            "rows.nbytes",
        ),
    ]


PEERS = {peer.name: peer for peer in _peers()}
DICTLIST, TUPLELIST, LIST, ARROW = (
    "memslim.DictList",
    "memslim.TupleList",
    "list of dicts",
    "pyarrow.Table",
)


# -- child process: one peer ------------------------------------------------------------------


def run_peer(name: str, rows: int, repeat: int) -> dict[str, Any]:
    peer = PEERS[name]
    if peer.module is not None:
        try:
            __import__(peer.module)
            if peer.module == "pyarrow":
                __import__("pyarrow.compute")
        except ImportError as exc:
            if peer.module == "memslim":
                raise  # the subject of the benchmark is never optional
            return {"skipped": f"{peer.module} is not importable: {exc}"}

    # One-time costs (allocator pools, lazily imported submodules, caches) are not per-record
    # costs: pay them with a small warm-up build before taking the baseline.
    peer.build_streaming(WARMUP_ROWS)
    before = settled_rss()
    structure = peer.build_streaming(rows)
    rss = settled_rss() - before
    nbytes = peer.nbytes(structure) if peer.nbytes is not None else None
    del structure

    records = list(make_records(rows))
    if peer.build is None:
        build_s = build_cpu_s = None
        structure = records
    else:
        build_s, build_cpu_s, structure = median_wall_and_cpu(lambda: peer.build(records), repeat)
    loop_s, loop_total = median_seconds(lambda: peer.row_loop(structure), repeat)
    sum_s, column_sum = median_seconds(lambda: peer.column_sum(structure), repeat)
    return {
        "rss_bytes": rss,
        "nbytes": nbytes,
        "nbytes_label": peer.nbytes_label or None,
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "row_loop_s": loop_s,
        "column_sum_s": sum_s,
        "row_loop_result": float(loop_total),
        "column_sum_result": float(column_sum),
    }


# -- parent process ---------------------------------------------------------------------------


def measure(name: str, rows: int, repeat: int, timeout: float | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", name, "--rows", str(rows), "--repeat", str(repeat)]
    return run_child(cmd, timeout)


def check_results(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every peer must compute what the list of dicts computes."""
    problems = []
    base = results.get(LIST, {})
    for name, res in results.items():
        if "error" in res or "skipped" in res or "error" in base:
            continue
        for key in ("row_loop_result", "column_sum_result"):
            if not math.isclose(res[key], base[key], rel_tol=1e-9, abs_tol=1e-6):
                problems.append(f"{name}: {key} is {res[key]!r}, list of dicts gives {base[key]!r}")
    return problems


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    ms = seconds * 1e3
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.3f}"


def _per_record(nbytes: int | None, rows: int) -> str:
    return "—" if nbytes is None else f"{nbytes / rows:.1f}"


COLUMNS = (
    "peer",
    "RSS growth (B/record)",
    "own count (B/record)",
    "vs list of dicts",
    "build from list of dicts (ms)",
    "row loop (ms)",
    "column sum (ms)",
)


def markdown_table(results: dict[str, dict[str, Any]], rows: int) -> str:
    base_rss = results.get(LIST, {}).get("rss_bytes")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for name, res in results.items():
        if "skipped" in res or "error" in res:
            why = res.get("skipped") or "failed, see above"
            lines.append(f"| {name} | {why} |" + " |" * (len(COLUMNS) - 2))
            continue
        rss = res["rss_bytes"]
        if name == LIST:
            ratio = "1.0x"
        elif not base_rss or base_rss <= 0 or rss <= 0:
            ratio = "—"
        elif rss <= base_rss:
            ratio = f"{base_rss / rss:.1f}x smaller"
        else:
            ratio = f"{rss / base_rss:.1f}x larger"
        lines.append(
            f"| {name} | {_per_record(rss, rows)} | {_per_record(res['nbytes'], rows)} "
            f"| {ratio} | {_ms(res['build_s'])} | {_ms(res['row_loop_s'])} "
            f"| {_ms(res['column_sum_s'])} |"
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.inf


def _faster(speedup: float) -> str:
    """A speedup (their time / our time) in words: '2.31x faster' or '1.52x slower'."""
    if speedup >= 1:
        return f"{speedup:.2f}x faster" if speedup < 10 else f"{speedup:.0f}x faster"
    return f"{1 / speedup:.2f}x slower" if speedup > 0 else "infinitely slower"


def target_lines(results: dict[str, dict[str, Any]]) -> list[tuple[str, bool | None]]:
    """The issue's targets as ``(line, passed)``; ``passed`` is None when it cannot be judged."""

    def ran(name: str) -> dict[str, Any] | None:
        res = results.get(name)
        return res if res and "error" not in res and "skipped" not in res else None

    ours, lod, arrow = ran(DICTLIST), ran(LIST), ran(ARROW)
    if ours is None or lod is None:
        return [("targets: not judged, memslim.DictList or list of dicts did not run", None)]
    out: list[tuple[str, bool | None]] = []

    if ours["rss_bytes"] > 0:
        ratio = _ratio(lod["rss_bytes"], ours["rss_bytes"])
        line = f"memory: DictList is {ratio:.1f}x smaller than list of dicts (target >= 12x)"
        out.append((line, ratio >= 12))
    else:
        out.append(("memory: DictList RSS growth too small to measure at this size", None))

    if arrow is None:
        out.append(("memory and build vs pyarrow.Table: not judged, pyarrow did not run", None))
    else:
        line = (
            f"memory: DictList RSS growth {ours['rss_bytes'] / 1e6:.1f} MB vs pyarrow.Table "
            f"{arrow['rss_bytes'] / 1e6:.1f} MB"
        )
        if ours["nbytes"] is not None and arrow["nbytes"] is not None:
            line += f", own counts {ours['nbytes'] / 1e6:.1f} vs {arrow['nbytes'] / 1e6:.1f} MB"
        out.append((line + " (target <= pyarrow.Table)", ours["rss_bytes"] <= arrow["rss_bytes"]))

        ratio = _ratio(arrow["build_s"], ours["build_s"])
        line = f"build: DictList is {_faster(ratio)} than pyarrow.Table.from_pylist"
        out.append((line + " (target >= 2x faster)", ratio >= 2))
        if ours.get("build_cpu_s") and arrow.get("build_cpu_s"):
            # DictList stores each grid of records on a second thread while it reads the
            # next: say how much of the wall-time lead comes from that core.
            line = (
                f"build CPU time (all threads): DictList {_ms(ours['build_cpu_s'])} ms for "
                f"{_ms(ours['build_s'])} ms of wall time, pyarrow {_ms(arrow['build_cpu_s'])} ms "
                f"for {_ms(arrow['build_s'])} ms; by CPU time DictList is "
                f"{_faster(_ratio(arrow['build_cpu_s'], ours['build_cpu_s']))}"
            )
            out.append((line, None))

    ratio = _ratio(ours["row_loop_s"], lod["row_loop_s"])
    line = f"row loop: DictList takes {ratio:.2f}x the time of list of dicts (target <= 2x)"
    out.append((line, ratio <= 2))

    ratio = _ratio(lod["column_sum_s"], ours["column_sum_s"])
    line = f"column sum: DictList is {_faster(ratio)} than the Python loop over list of dicts"
    out.append((line + " (target >= 50x faster)", ratio >= 50))
    return out


def machine_info() -> dict[str, Any]:
    return workload_machine_info(("memslim", "pyarrow", "polars", "pandas", "numpy"))


def render(report: dict[str, Any]) -> str:
    """The markdown for a JSON report: the table and the target lines the run printed."""
    lines = markdown_header(report, "bench_records.py", "memslim peer benchmark: flat records")
    lines += [
        "",
        (
            f"{report['rows']:,} order records (`id` int, `user` str with many distinct values, "
            "`price` float, `qty` int, `paid` bool, `country` one of 40 codes, `note` str or "
            "None). Memory is RSS growth around building each structure in a fresh process, "
            "beside the structure's own byte count; the row loop is "
            "`total += r['price'] * r['qty']`; the column sum sums `price`."
        ),
        "",
        markdown_table(report["results"], report["rows"]),
    ]
    lines += markdown_targets(report.get("targets", []))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help=f"default {DEFAULT_ROWS:,}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, a smoke run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument("--peer", action="append", choices=list(PEERS), help="only these peers")
    parser.add_argument(
        "--check-targets", action="store_true", help="exit 1 if any target is missed"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="measure nothing: re-render the markdown beside a JSON report",
    )
    parser.add_argument("--child", choices=list(PEERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_json:
        print(f"wrote {write_markdown(args.from_json, render(load_report(args.from_json)))}")
        return 0
    rows = args.rows if args.rows is not None else (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    if rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")

    if args.child:
        print(json.dumps(run_peer(args.child, rows, args.repeat)))
        return 0

    names = args.peer or list(PEERS)
    if LIST not in names:
        names.insert(0, LIST)  # the baseline every ratio and cross-check refers to
    timeout = 300.0 if args.quick else None
    print(
        f"Measuring {len(names)} peers on {rows:,} records, median of {args.repeat} runs",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"  {name} ...", flush=True)
        results[name] = measure(name, rows, args.repeat, timeout)
        if "error" in results[name]:
            print(f"    FAILED: {results[name]['error']}", file=sys.stderr)
        elif "skipped" in results[name]:
            print(f"    skipped: {results[name]['skipped']}")

    print()
    print(markdown_table(results, rows))
    print()
    targets = target_lines(results)
    for line, passed in targets:
        print(line if passed is None else f"{line} {_verdict(passed)}")
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
    if not rss_is_current():
        print("(no /proc on this system: RSS figures are peak RSS)")

    problems = check_results(results)
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)

    report = {
        "benchmark": "records",
        "rows": rows,
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
    if args.check_targets and any(passed is False for _, passed in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
