"""Persistent record files: memslim's DictList.open/MmapList against json, pickle, pyarrow, numpy.

    python benches/bench_mmap.py              # 1,000,000 records, the issue's figures
    python benches/bench_mmap.py --quick      # a tiny smoke run (the test suite uses it)

The parent writes the same records once in every format into a temporary directory:
a memslim record file (``DictList.save``), JSON, pickle, an Arrow IPC file (pyarrow), and
the ``price`` column as an ``MmapList`` of float64.  Every figure is then taken in a fresh
Python process (so no peer profits from another's imports or heap), as the median of
``--repeat`` runs; all peers read files the page cache already holds, so the figures are
about parsing and mapping, not the disk.

1. **open + one row**: open the file and read record ``rows // 2`` (RSS growth after the
   first open, with the handle or loaded data still held, is reported beside the file
   size).  memslim ``DictList.open(path, "r")[k]``;
   ``json.load``; ``pickle.load``; pyarrow ``ipc.open_file(pa.memory_map(path))``, then
   the batch holding row ``k``.
2. **column scan**: the sum of ``price`` over all records (``40 x --repeat`` samples: a
   scan takes well under a millisecond).  memslim hands its mapped
   batches to ``pyarrow.compute.sum`` (``pa.table(rows)``, zero-copy); numpy sums the
   same values mapped from the ``MmapList`` file (``np.asarray(MmapList)``, and a plain
   ``np.memmap`` of that file) — memory-bandwidth speed.
3. **append**: the records arrive as dicts in chunks of 10,000; memslim ``extend`` +
   ``flush()`` (durable: two fsyncs) per chunk; pyarrow ``RecordBatch.from_pylist`` +
   ``RecordBatchStreamWriter.write_batch`` + ``os.fsync`` per chunk (the same durability),
   and, for reference, pyarrow without the fsync.
4. **random access** (for reference; the issue sets no target): reads at the same random
   positions of an open file, of one field (``rows[i]["price"]``) and of the
   whole record as a dict.  The first pass after opening is reported apart (memslim
   checksums each batch the first time it reads from it); later passes give the median.
   memslim ``DictList.open(path, "r")``; pyarrow ``ipc.open_file(pa.memory_map(path))
   .read_all()`` with ``table["price"][i].as_py()`` and ``table.slice(i, 1).to_pylist()``;
   and, as the in-memory baseline, the list of dicts ``pickle.load`` gives.  A file larger
   than memslim's 64 MB cache of mapped batches (``--rows 3000000`` and up) also shows
   what a batch costs to map again.

Results are printed as a markdown table with the issue's targets (PASS/MISS), and written
as JSON to ``benches/results/mmap.json`` (``--quick``: a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (
    DEFAULT_ROWS,
    arrow_schema,
    chunked,
    load_report,
    make_records,
    markdown_header,
    markdown_targets,
    run_child,
    settled_rss,
    write_markdown,
    write_report,
)
from workload import machine_info as workload_machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "mmap.json"
QUICK_ROWS = 3_000
CHUNK = 10_000
SCAN_SAMPLES = 40  # scan timings per --repeat

OPEN_PEERS = ("memslim", "json", "pickle", "pyarrow")
SCAN_PEERS = ("memslim+pyarrow", "MmapList+numpy", "np.memmap")
APPEND_PEERS = ("memslim", "pyarrow+fsync", "pyarrow")
RANDOM_PEERS = ("memslim", "pyarrow", "list of dicts")
RANDOM_READS = 20_000


def _files(d: Path) -> dict[str, Path]:
    return {
        "memslim": d / "records.msl",
        "json": d / "records.json",
        "pickle": d / "records.pickle",
        "pyarrow": d / "records.arrow",
        "prices": d / "prices.f64",
    }


def write_inputs(d: Path, rows: int) -> None:
    import memslim
    import pyarrow as pa
    from pyarrow import ipc

    records = list(make_records(rows))
    f = _files(d)
    memslim.DictList(records).save(f["memslim"])
    f["json"].write_text(json.dumps(records), encoding="utf-8")
    with open(f["pickle"], "wb") as out:
        pickle.dump(records, out, protocol=pickle.HIGHEST_PROTOCOL)
    schema = arrow_schema()
    with ipc.new_file(f["pyarrow"], schema) as w:
        for chunk in chunked(records, 65_536):
            w.write_batch(pa.RecordBatch.from_pylist(chunk, schema=schema))
    with memslim.NumberFile(f["prices"], dtype="float64") as prices:
        prices.extend(r["price"] for r in records)


# -- children -----------------------------------------------------------------------------


def _median(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def child_open(peer: str, d: Path, rows: int, repeat: int) -> dict[str, Any]:
    f = _files(d)
    k = rows // 2
    # Each opener returns what a user holds afterwards (the open handle, the loaded list)
    # and the record read.
    if peer == "memslim":
        import memslim

        def opener() -> tuple[Any, Any]:
            handle = memslim.DictList.open(f["memslim"], "r")
            # a row is a lazy view: read the record, as the other peers do
            return handle, handle[k].to_dict()

    elif peer == "json":

        def opener() -> tuple[Any, Any]:
            with open(f["json"], encoding="utf-8") as src:
                data = json.load(src)
            return data, data[k]

    elif peer == "pickle":

        def opener() -> tuple[Any, Any]:
            with open(f["pickle"], "rb") as src:
                data = pickle.load(src)
            return data, data[k]

    else:
        import pyarrow as pa
        from pyarrow import ipc

        def opener() -> tuple[Any, Any]:
            reader = ipc.open_file(pa.memory_map(str(f["pyarrow"])))
            start = 0
            for b in range(reader.num_record_batches):
                batch = reader.get_batch(b)
                if k < start + batch.num_rows:
                    return reader, batch.slice(k - start, 1).to_pylist()[0]
                start += batch.num_rows
            raise IndexError(k)

    before = settled_rss()
    held, first = opener()
    rss = settled_rss() - before  # with the handle (or loaded data) still held
    del held
    seconds, (_, row) = _median(opener, repeat)
    size = f[peer].stat().st_size
    return {
        "open_row_s": seconds,
        "rss_bytes": rss,
        "file_bytes": size,
        "row": first == row and row,
    }


def child_scan(peer: str, d: Path, rows: int, repeat: int) -> dict[str, Any]:
    import numpy as np

    f = _files(d)
    if peer == "memslim+pyarrow":
        import memslim
        import pyarrow as pa
        import pyarrow.compute as pc

        handle = memslim.DictList.open(f["memslim"], "r")
        column = pa.table(handle).column("price")  # zero-copy: batches point into the map

        def run() -> float:
            return pc.sum(column).as_py()

    elif peer == "MmapList+numpy":
        import memslim

        handle = memslim.NumberFile(f["prices"], mode="r")
        values = np.asarray(handle)

        def run() -> float:
            return float(values.sum())

    else:
        values = np.memmap(f["prices"], dtype=np.float64, mode="r", offset=64, shape=(rows,))

        def run() -> float:
            return float(values.sum())

    run()  # pages in (all peers read the same page-cached bytes)
    # A scan takes well under a millisecond: take many more samples than --repeat so the
    # median is not one scheduler hiccup on a busy machine.
    seconds, total = _median(run, repeat * SCAN_SAMPLES)
    return {"scan_s": seconds, "sum": total, "bytes": rows * 8}


def child_append(peer: str, d: Path, rows: int, repeat: int) -> dict[str, Any]:
    chunks = list(chunked(make_records(rows), CHUNK))
    times = []
    for r in range(repeat):
        path = d / f"append-{peer}-{r}"
        if peer == "memslim":
            import memslim

            start = time.perf_counter()
            with memslim.DictList.open(path) as out:
                for chunk in chunks:
                    out.extend(chunk)
                    out.flush()
            times.append(time.perf_counter() - start)
        else:
            import pyarrow as pa
            from pyarrow import ipc

            schema = arrow_schema()
            sync = peer == "pyarrow+fsync"
            start = time.perf_counter()
            with open(path, "wb") as sink, ipc.new_stream(sink, schema) as w:
                for chunk in chunks:
                    w.write_batch(pa.RecordBatch.from_pylist(chunk, schema=schema))
                    if sync:
                        sink.flush()
                        os.fsync(sink.fileno())
            times.append(time.perf_counter() - start)
        size = path.stat().st_size
        path.unlink()
        Path(f"{path}.idx").unlink(missing_ok=True)
    return {"append_s": statistics.median(times), "file_bytes": size}


def child_random(peer: str, d: Path, rows: int, repeat: int) -> dict[str, Any]:
    import random

    f = _files(d)
    rng = random.Random(7)
    at = [rng.randrange(rows) for _ in range(min(RANDOM_READS, rows))]
    if peer == "memslim":
        import memslim

        held = memslim.DictList.open(f["memslim"], "r")

        def field(i: int) -> Any:
            return held[i]["price"]

        def record(i: int) -> Any:
            return held[i].to_dict()

    elif peer == "pyarrow":
        import pyarrow as pa
        from pyarrow import ipc

        held = ipc.open_file(pa.memory_map(str(f["pyarrow"]))).read_all()
        prices = held["price"]

        def field(i: int) -> Any:
            return prices[i].as_py()

        def record(i: int) -> Any:
            return held.slice(i, 1).to_pylist()[0]

    else:
        with open(f["pickle"], "rb") as src:
            held = pickle.load(src)

        def field(i: int) -> Any:
            return held[i]["price"]

        def record(i: int) -> Any:
            return held[i]

    out: dict[str, Any] = {"reads": len(at)}
    for name, fn in (("field", field), ("record", record)):

        def one_pass(fn: Any = fn) -> list[Any]:
            return [fn(i) for i in at]

        start = time.perf_counter()
        first = one_pass()
        out[f"{name}_first_s"] = time.perf_counter() - start
        seconds, again = _median(one_pass, repeat)
        out[f"{name}_s"] = seconds
        out[f"{name}_check"] = first == again and repr(first[:3])
    return out


CHILDREN = {
    "open": child_open,
    "scan": child_scan,
    "append": child_append,
    "random": child_random,
}


# -- parent -------------------------------------------------------------------------------


def measure(kind: str, peer: str, d: Path, rows: int, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, peer, str(d), "--rows", str(rows)]
    cmd += ["--repeat", str(repeat)]
    return run_child(cmd, timeout=3600)


def _ms(s: float | None) -> str:
    return "—" if s is None else f"{s * 1000:,.2f} ms"


def _mb(b: float) -> str:
    return f"{b / 1e6:,.1f} MB"


def tables(res: dict[str, dict[str, dict[str, Any]]], rows: int) -> str:
    out = [f"Open a {rows:,}-record file and read record {rows // 2:,}:", ""]
    out += ["| peer | open + row | RSS after open | file size |", "|---|---:|---:|---:|"]
    for p, r in res["open"].items():
        if "error" not in r:
            out.append(
                f"| {p} | {_ms(r['open_row_s'])} | {_mb(r['rss_bytes'])} | {_mb(r['file_bytes'])} |"
            )
    out += ["", "Sum of the float64 `price` column:", ""]
    out += ["| peer | scan | GB/s |", "|---|---:|---:|"]
    for p, r in res["scan"].items():
        if "error" not in r:
            gbs = r["bytes"] / r["scan_s"] / 1e9 if r["scan_s"] > 0 else math.inf
            out.append(f"| {p} | {_ms(r['scan_s'])} | {gbs:,.2f} |")
    out += ["", f"Append {rows:,} records as dicts, durable every {CHUNK:,}:", ""]
    out += ["| peer | total | records/s |", "|---|---:|---:|"]
    for p, r in res["append"].items():
        if "error" not in r:
            out.append(f"| {p} | {_ms(r['append_s'])} | {rows / r['append_s']:,.0f} |")
    if res.get("random"):
        n = next(iter(res["random"].values())).get("reads", 0)
        out += ["", f"Random access, {n:,} reads at random positions of an open file:", ""]
        out += [
            "| peer | one field: first pass | later passes | whole record: first pass | later passes |",
            "|---|---:|---:|---:|---:|",
        ]
        for p, r in res["random"].items():
            if "error" not in r:
                cells = [
                    _ns(r[f"{k}_s"] / r["reads"])
                    for k in ("field_first", "field", "record_first", "record")
                ]
                out.append(f"| {p} | {' | '.join(cells)} |")
    return "\n".join(out)


def _ns(s: float) -> str:
    return f"{s * 1e9:,.0f} ns"


def targets(res: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, bool]]:
    lines: list[tuple[str, bool]] = []
    o, s, a = res["open"], res["scan"], res["append"]
    ok = all("error" not in r for r in o.values())
    if ok:
        ours = o["memslim"]["open_row_s"]
        for peer in ("json", "pickle"):
            x = o[peer]["open_row_s"] / ours
            lines.append(
                (
                    f"open + one row: memslim is {x:,.0f}x faster than {peer} (target >= 50x)",
                    x >= 50,
                )
            )
        x = ours / o["pyarrow"]["open_row_s"]
        lines.append(
            (
                f"open + one row: memslim takes {x:.2f}x pyarrow memory_map + IPC (target <= 1x)",
                x <= 1,
            )
        )
        share = o["memslim"]["rss_bytes"] / o["memslim"]["file_bytes"]
        lines.append(
            (f"RSS after open + one row: {share:.1%} of the file size (target < 10%)", share < 0.10)
        )
    if all("error" not in r for r in s.values()):
        x = s["memslim+pyarrow"]["scan_s"] / s["np.memmap"]["scan_s"]
        lines.append(
            (
                f"column scan: memslim (via pyarrow) takes {x:.2f}x numpy on np.memmap (target <= 2x)",
                x <= 2,
            )
        )
    if all("error" not in r for r in a.values()):
        x = a["memslim"]["append_s"] / a["pyarrow+fsync"]["append_s"]
        lines.append(
            (
                f"append + flush every 10k: memslim takes {x:.2f}x pyarrow IPC writer + fsync (target <= 2x)",
                x <= 2,
            )
        )
        y = a["memslim"]["append_s"] / a["pyarrow"]["append_s"]
        lines.append((f"  (for reference: {y:.2f}x pyarrow IPC writer without fsync)", y <= 2))
    return lines


def notes(res: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Ratios the issue sets no target for."""
    r = res.get("random", {})
    if not r or any("error" in v for v in r.values()):
        return []
    out = []
    for k, what in (("field", "one field"), ("record", "whole record")):
        x = r["memslim"][f"{k}_s"] / r["pyarrow"][f"{k}_s"]
        y = r["memslim"][f"{k}_s"] / r["list of dicts"][f"{k}_s"]
        out.append(
            f"random access, {what}: memslim takes {x:.2f}x the time of pyarrow on a memory "
            f"map and {y:.1f}x that of a list of dicts in memory"
        )
    return out


def cross_check(res: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    problems = []
    rows = [r.get("row") for r in res["open"].values() if "error" not in r]
    if any(r != rows[0] for r in rows):
        problems.append(f"open peers read different records: {rows}")
    for k in ("field", "record"):
        got = {p: r[f"{k}_check"] for p, r in res.get("random", {}).items() if "error" not in r}
        if len(set(got.values())) > 1 or False in got.values():
            problems.append(f"random-access peers read different {k}s: {got}")
    sums = [r["sum"] for r in res["scan"].values() if "error" not in r]
    if any(not math.isclose(x, sums[0], rel_tol=1e-9) for x in sums):
        problems.append(f"scan peers disagree: {sums}")
    return problems


def render(report: dict[str, Any]) -> str:
    """The markdown for a JSON report: the tables and the target lines the run printed."""
    lines = markdown_header(
        report, "bench_mmap.py", "memslim record files against json, pickle, pyarrow, numpy"
    )
    lines += [
        "",
        (
            f"{report['rows']:,} order records; each figure in a fresh process, files in the "
            "page cache."
        ),
        "",
        tables(report["results"], report["rows"]),
    ]
    lines += markdown_targets(report.get("targets", []), report.get("notes", []))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help=f"default {DEFAULT_ROWS:,}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, a smoke run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="measure nothing: re-render the markdown beside a JSON report",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_json:
        print(f"wrote {write_markdown(args.from_json, render(load_report(args.from_json)))}")
        return 0
    rows = args.rows if args.rows is not None else (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    if args.child:
        kind, peer, d = args.child
        print(json.dumps(CHILDREN[kind](peer, Path(d), rows, args.repeat)))
        return 0

    with tempfile.TemporaryDirectory(prefix="memslim-bench-mmap-") as tmp:
        d = Path(tmp)
        print(f"Writing {rows:,} records in every format ...", flush=True)
        write_inputs(d, rows)
        res: dict[str, dict[str, dict[str, Any]]] = {
            "open": {},
            "scan": {},
            "append": {},
            "random": {},
        }
        kinds = (
            ("open", OPEN_PEERS),
            ("scan", SCAN_PEERS),
            ("append", APPEND_PEERS),
            ("random", RANDOM_PEERS),
        )
        for kind, peers in kinds:
            for peer in peers:
                print(f"  {kind}: {peer} ...", flush=True)
                res[kind][peer] = measure(kind, peer, d, rows, args.repeat)
                if "error" in res[kind][peer]:
                    print(f"    FAILED: {res[kind][peer]['error']}", file=sys.stderr)
    print()
    print(tables(res, rows))
    print()
    lines = targets(res)
    for line, passed in lines:
        print(f"{line} {'PASS' if passed else 'MISS'}")
    for line in notes(res):
        print(line)
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
    problems = cross_check(res)
    for p in problems:
        print(f"MISMATCH {p}", file=sys.stderr)
    report = {
        "benchmark": "mmap",
        "rows": rows,
        "repeat": args.repeat,
        "quick": args.quick,
        "results": res,
        "targets": [{"line": line, "passed": passed} for line, passed in lines],
        "notes": notes(res),
        "mismatches": problems,
        "machine": workload_machine_info(("memslim", "pyarrow", "numpy")),
    }
    output = write_report(report, args.output, args.quick, RESULTS)
    markdown = write_markdown(output, render(load_report(output)))
    print(f"\nwrote {output} and {markdown}")
    failed = [f"{k}/{p}" for k, v in res.items() for p, r in v.items() if "error" in r]
    if failed or problems:
        print(f"errors in: {', '.join(failed) or 'cross-checks'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
