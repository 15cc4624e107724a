"""The record workload shared by ``examples/python/demo.py`` and ``benches/bench_records.py``.

One place defines the records both scripts measure and how they measure them, so the demo
and the peer benchmark can never drift apart:

* :func:`make_records` yields deterministic order-like records;
* :func:`rss_bytes` reads the resident set size of the current process;
* :func:`median_seconds` times a callable.

Strings with many distinct values (``user``) are a fresh object per record, as they would
be after parsing JSON or CSV; strings from small vocabularies (``country``, ``note``) are
shared objects, which flatters the plain-Python baselines rather than memslim.
"""

from __future__ import annotations

import datetime
import gc
import importlib.metadata
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Field names in record order; also the tuple layout used by the tuple-based peers.
FIELDS: tuple[str, ...] = ("id", "user", "price", "qty", "paid", "country", "note")

#: Field name -> memslim dtype name.
DTYPES: dict[str, str] = {
    "id": "int64",
    "user": "str",
    "price": "float64",
    "qty": "int64",
    "paid": "bool",
    "country": "str",
    "note": "str",
}

DISTINCT_USERS = 200_000
NOTE_SHARE = 0.2  # 80% of records have ``note: None``
DEFAULT_SEED = 20_240_601
DEFAULT_ROWS = 1_000_000

COUNTRIES: tuple[str, ...] = (
    "AR", "AT", "AU", "BE", "BR", "CA", "CH", "CL", "CN", "CO",
    "CZ", "DE", "DK", "EG", "ES", "FI", "FR", "GB", "GR", "HU",
    "ID", "IE", "IL", "IN", "IT", "JP", "KR", "MX", "NG", "NL",
    "NO", "NZ", "PL", "PT", "SE", "SG", "TR", "US", "VN", "ZA",
)  # fmt: skip

NOTES: tuple[str, ...] = (
    "gift wrap",
    "leave at the door",
    "call before delivery",
    "fragile",
    "express shipping",
    "invoice required",
    "second attempt",
    "customer pickup",
)


def make_records(n: int, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    """Yield ``n`` records, the same ones for the same ``seed`` on every platform.

    Shape: ``{"id": int, "user": str, "price": float, "qty": int, "paid": bool,
    "country": str, "note": str | None}``.
    """
    rand = random.Random(seed).random
    countries = COUNTRIES
    notes = NOTES
    for i in range(n):
        yield {
            "id": i,
            "user": f"user{int(rand() * DISTINCT_USERS):06d}",
            "price": round(rand() * 500.0, 2),
            "qty": 1 + int(rand() * 20),
            "paid": rand() < 0.7,
            "country": countries[int(rand() * len(countries))],
            "note": notes[int(rand() * len(notes))] if rand() < NOTE_SHARE else None,
        }


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Split ``items`` into lists of at most ``size`` items (``itertools.batched`` is 3.12+)."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def arrow_schema() -> Any:
    """The pyarrow schema of the records (imports pyarrow)."""
    import pyarrow as pa

    types = {
        "int64": pa.int64(),
        "str": pa.string(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
    }
    return pa.schema([(name, types[DTYPES[name]]) for name in FIELDS])


def rss_bytes() -> int:
    """Current resident set size of this process, in bytes (``VmRSS`` on Linux).

    Elsewhere falls back to the peak RSS from ``getrusage``, which over-reports transient
    peaks; the figures are then labelled accordingly by the callers' output.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def rss_is_current() -> bool:
    """Whether :func:`rss_bytes` reads the current RSS (Linux) rather than the peak."""
    return os.path.exists("/proc/self/status")


def settled_rss() -> int:
    """RSS after a full garbage collection, so collectable garbage is not counted."""
    gc.collect()
    return rss_bytes()


def median_seconds(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Run ``fn`` ``repeat`` times; return the median wall time and the last result.

    Each run's result is dropped and garbage collected before the next run starts, outside
    the timed region.
    """
    wall, _cpu, result = median_wall_and_cpu(fn, repeat)
    return wall, result


def median_wall_and_cpu(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, float, Any]:
    """As :func:`median_seconds`, plus the median CPU time of the process (all threads),
    which tells a build that uses a second core apart from one that does less work."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_start)
    return statistics.median(walls), statistics.median(cpus), result


# -- what every benchmark script shares ----------------------------------------------------


def run_child(cmd: list[str], timeout: float | None = None, what: str = "") -> dict[str, Any]:
    """Runs one measurement in a fresh process; its last line of output is its JSON result.

    A timeout, a failed exit or no output come back as ``{"error": ...}`` (prefixed with
    ``what``), so one failing peer never stops a benchmark.
    """
    prefix = f"{what}: " if what else ""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{prefix}timed out after {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": f"{prefix}exit {proc.returncode}\n{proc.stderr.strip()[-2000:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def machine_info(packages: Iterable[str]) -> dict[str, Any]:
    """The machine, interpreter, versions of ``packages`` and commit a benchmark ran on."""
    versions: dict[str, str | None] = {}
    for dist in packages:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        commit: str | None = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _proc_value("/proc/cpuinfo", "model name") or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "memory_bytes": _total_memory(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "git_commit": commit,
        "rss_source": "VmRSS" if rss_is_current() else "peak ru_maxrss",
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _proc_value(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as info:
            return next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith(key)), None)
    except OSError:
        return None


def _total_memory() -> int | None:
    value = _proc_value("/proc/meminfo", "MemTotal")
    try:
        return int(value.split()[0]) * 1024 if value else None
    except ValueError:
        return None


def write_report(report: dict[str, Any], output: Path | None, quick: bool, default: Path) -> Path:
    """Writes a benchmark's JSON report, stamped with when it was made.

    To ``output`` if given; else a quick (smoke) run goes to a temporary directory, so it
    never overwrites real results or dirties the tree, and a real run to ``default``.
    """
    if output is None:
        output = (
            Path(tempfile.mkdtemp(prefix="memslim-bench-")) / default.name if quick else default
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    stamped = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **report,
    }
    output.write_text(json.dumps(stamped, indent=2, default=str) + "\n", encoding="utf-8")
    return output


def dataset_results(default: Path, dataset: str) -> Path:
    """Where the report of ``dataset`` goes: ``default`` for the orders, else the data
    set's name added to its stem (``rows.json`` -> ``rows-flights.json``)."""
    return default if dataset == "orders" else default.with_name(f"{default.stem}-{dataset}.json")


def write_report_and_markdown(
    report: dict[str, Any], md: str, output: Path | None, quick: bool, default: Path
) -> Path:
    """:func:`write_report`, and ``md`` beside the JSON (``.md``); says where both went."""
    path = write_report(report, output, quick, default)
    path.with_suffix(".md").write_text(md, encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return path


def markdown_header(report: dict[str, Any], script: str, what: str) -> list[str]:
    """The first lines of a benchmark's markdown: what ran, where, when, at which commit.

    Every figure in ``benches/results/*.md`` comes from the JSON beside it, so the docs
    quote files that one command regenerates (``python benches/<script> --from-json``
    re-renders the markdown without measuring again).
    """
    machine = report.get("machine")
    if not machine:
        lines = [
            f"# {what}",
            "",
            (
                f"Generated by `python benches/{script}`. This JSON predates provenance stamps: "
                "its date, commit and machine were not recorded."
            ),
        ]
    else:
        packages = ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items() if v)
        load = machine.get("load_average")
        load_text = f"; load average {load[0]:.2f} at the end" if load else ""
        lines = [
            f"# {what}",
            "",
            (
                f"Generated by `python benches/{script}` on {report.get('created')} "
                f"(commit {machine.get('git_commit') or 'unknown'}): {machine.get('cpu')}, "
                f"{machine.get('cpu_count')} cores, {machine.get('platform')}, "
                f"CPython {machine.get('python')}; {packages}{load_text}. "
                f"Times are medians of {report.get('repeat')} runs."
            ),
        ]
    if report.get("quick"):
        lines += ["", "**Quick run: sizes too small for the figures to mean anything.**"]
    return lines


def markdown_targets(targets: list[dict[str, Any]], notes: Iterable[str] = ()) -> list[str]:
    """The PASS/MISS lines a benchmark printed, as a code block."""
    if not targets and not notes:
        return []
    out = ["", "```"]
    for t in targets:
        passed = t["passed"]
        out.append(t["line"] if passed is None else f"{t['line']} {'PASS' if passed else 'MISS'}")
    out += list(notes)
    out.append("```")
    return out


def write_markdown(json_path: Path, text: str) -> Path:
    """Writes a benchmark's markdown beside its JSON (``records.json`` -> ``records.md``)."""
    md = json_path.with_suffix(".md")
    md.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return md


def load_report(path: Path) -> dict[str, Any]:
    """A benchmark's JSON report, for ``--from-json``."""
    result: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return result


def ms(s: float | None) -> str:
    """Seconds as milliseconds for a report table (``n/a`` for a figure not taken)."""
    return "n/a" if s is None else f"{s * 1000:.1f} ms"


def peer_bench_main(
    argv: list[str] | None,
    *,
    script: str,
    doc: str,
    peers: tuple[str, ...],
    rows: tuple[int, int],
    measure: Callable[[str, Any, int, int], dict[str, Any]],
    report_md: Callable[[dict[str, dict[str, Any]], int, Any], str],
    results: Path,
    packages: Iterable[str],
) -> int:
    """The command line of a benchmark that measures each peer in a fresh process
    (``bench_pickle.py``, ``bench_rows.py``): ``--rows``, ``--repeat``, ``--quick``,
    ``--output``, ``--dataset`` (a data set of :mod:`datasets`; ``orders`` by default,
    whose report is ``results``, another one's gets its name as a suffix) and
    ``--from-json`` (renders the markdown of an earlier report again). As a child
    (``--child PEER``) it prints ``measure(peer, dataset, rows, repeat)`` as JSON; as the
    parent it runs one child per peer, prints ``report_md(results, rows, dataset)`` and
    writes the JSON and markdown reports. ``rows`` is (quick, default); a data set of
    real records has at most its own number of rows."""
    import argparse

    from datasets import DATASETS

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--dataset", choices=("orders", "flights"), default="orders")
    parser.add_argument("--from-json", type=Path, help="re-render the markdown of a report")
    parser.add_argument("--child", choices=peers, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_json:
        report = json.loads(args.from_json.read_text(encoding="utf-8"))
        ds = DATASETS[report.get("dataset", "orders")]()
        md = report_md(report["results"], report["rows"], ds)
        args.from_json.with_suffix(".md").write_text(md, encoding="utf-8")
        return 0
    ds = DATASETS[args.dataset]()
    n = args.rows or (rows[0] if args.quick else rows[1])
    n = min(n, ds.max_rows or n)
    repeat = args.repeat or (3 if args.quick else 5)
    if args.child:
        print(json.dumps(measure(args.child, ds, n, repeat)))
        return 0
    measured: dict[str, dict[str, Any]] = {}
    for peer in peers:
        cmd = [sys.executable, script, "--child", peer, "--rows", str(n), "--repeat", str(repeat)]
        cmd += ["--dataset", ds.name]
        measured[peer] = run_child(cmd, timeout=3600, what=peer)
    md = report_md(measured, n, ds)
    print(md)
    report = {
        "quick": args.quick,
        "dataset": ds.name,
        "rows": n,
        "repeat": repeat,
        "results": measured,
        "machine": machine_info(packages),
    }
    write_report_and_markdown(
        report, md, args.output, args.quick, dataset_results(results, ds.name)
    )
    return 0
