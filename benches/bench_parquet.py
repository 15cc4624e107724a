"""Parquet: memslim against pyarrow and polars, and pipelines on executors.

    python benches/bench_parquet.py                  # 3,000,000 order records (~330 MB JSONL)
    python benches/bench_parquet.py --rows 500000    # a smaller run
    python benches/bench_parquet.py --quick          # a tiny smoke run

The corpus is ``benches/workload.py``'s order records written with ``json.dumps`` into
``--files`` JSON Lines files.  Every measurement runs in a fresh Python process and
reports its wall time and peak RSS (``ru_maxrss``):

1. *JSONL to Parquet, in memory*: the records are read first (``memslim.read_jsonl``,
   ``pyarrow.json.read_json``), then written: ``DictList.to_parquet`` against
   ``pyarrow.parquet.write_table``; polars ``scan_ndjson(...).sink_parquet`` streams
   both steps. Snappy everywhere (polars' default is zstd). File sizes are compared.
2. *A pipeline* ``stream(files).where("paid", "==", True).select(...)
   .to_parquet(dir, partition_by=["country"])``: one process, a ``ProcessPoolExecutor``
   with 2 workers, and a Dask ``LocalCluster`` with 2 worker processes (peak RSS per
   worker from the workers themselves).  Each output is checked to hold the same rows.

Results are printed as markdown tables and written as JSON to
``benches/results/parquet.json`` (``--quick``: a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import machine_info, make_records, run_child, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "parquet.json"
FIELDS = ["id", "user", "price", "country"]


def _peak() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(path) for n in ns)


# -- children ------------------------------------------------------------------------------


def child_write(kind: str, files: list[str], out: str) -> dict[str, Any]:
    """Reads ``files`` and writes them as one Parquet file with ``kind``."""
    t0 = time.perf_counter()
    if kind == "memslim":
        import memslim

        rows = memslim.DictList()
        for f in files:
            rows.extend(memslim.read_jsonl(f))
        t1 = time.perf_counter()
        rows.to_parquet(out)
        n = len(rows)
    elif kind == "pyarrow":
        import pyarrow as pa
        import pyarrow.json as pj
        import pyarrow.parquet as pq

        table = pa.concat_tables([pj.read_json(f) for f in files])
        t1 = time.perf_counter()
        pq.write_table(table, out, compression="snappy")
        n = table.num_rows
    elif kind == "polars":
        import polars as pl

        t1 = t0
        pl.scan_ndjson(files).sink_parquet(out, compression="snappy")
        n = pl.scan_parquet(out).select(pl.len()).collect().item()
    else:
        raise ValueError(kind)
    t2 = time.perf_counter()
    return {
        "rows": n,
        "read_s": t1 - t0,
        "write_s": t2 - t1,
        "total_s": t2 - t0,
        "peak_rss": _peak(),
        "bytes": _size(out),
    }


def _pipeline(files: list[str]) -> Any:
    import memslim

    return memslim.stream(files).where("paid", "==", True).select(FIELDS)


def child_pipeline(kind: str, files: list[str], out: str) -> dict[str, Any]:
    """Runs the pipeline into the dataset ``out`` on ``kind``."""
    t0 = time.perf_counter()
    workers: list[int] = []
    if kind == "single":
        n = _pipeline(files).to_parquet(out, partition_by=["country"])
    elif kind == "process-pool":
        import concurrent.futures as cf
        import multiprocessing

        with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            n = _pipeline(files).to_parquet(out, partition_by=["country"], executor=ex)
            workers = list(ex.map(_worker_peak, range(8)))
    elif kind == "dask":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            t0 = time.perf_counter()  # the cluster's start is not the pipeline's time
            n = _pipeline(files).to_parquet(
                out, partition_by=["country"], executor=client.get_executor()
            )
            workers = list(client.run(_peak).values())
    else:
        raise ValueError(kind)
    wall = time.perf_counter() - t0
    return {
        "rows": n,
        "total_s": wall,
        "peak_rss": _peak(),
        "worker_peak_rss": sorted(set(workers)),
        "bytes": _size(out),
    }


def _worker_peak(_: int) -> int:
    time.sleep(0.05)  # spread the probes over the pool's workers
    return _peak()


# -- driver --------------------------------------------------------------------------------


def make_corpus(d: Path, rows: int, files: int) -> list[str]:
    paths = [str(d / f"orders-{k:02}.jsonl") for k in range(files)]
    outs = [open(p, "w", encoding="utf-8") for p in paths]  # noqa: SIM115
    try:
        for i, rec in enumerate(make_records(rows)):
            outs[i % files].write(json.dumps(rec) + "\n")
    finally:
        for o in outs:
            o.close()
    return paths


def run(what: str, kind: str, files: list[str], out: str, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", what, kind, out, *files]
    return run_child(cmd, timeout=timeout, what=f"{what} {kind}")


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=3_000_000)
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output", type=Path)
    p.add_argument("--child", nargs="+")
    args = p.parse_args(argv)
    if args.child:
        what, kind, out, *files = args.child
        fn = child_write if what == "write" else child_pipeline
        print(json.dumps(fn(kind, files, out)))
        return 0
    rows, nfiles = (4_000, 4) if args.quick else (args.rows, args.files)
    timeout = 120 if args.quick else 3600
    tmp = Path(tempfile.mkdtemp(prefix="memslim-bench-parquet-"))
    report: dict[str, Any] = {
        "quick": args.quick,
        "machine": machine_info(("memslim", "pyarrow", "polars", "dask")),
    }
    try:
        files = make_corpus(tmp, rows, nfiles)
        corpus = sum(os.path.getsize(f) for f in files)
        report["corpus"] = {"rows": rows, "files": nfiles, "bytes": corpus}
        print(f"corpus: {rows:,} records in {nfiles} JSONL files, {mb(corpus)}\n")

        print("| JSONL -> Parquet (snappy) | read | write | total | peak RSS | file |")
        print("|---|---:|---:|---:|---:|---:|")
        writes = {}
        for kind in ("memslim", "pyarrow", "polars"):
            r = run("write", kind, files, str(tmp / f"{kind}.parquet"), timeout)
            writes[kind] = r
            if "error" in r:
                print(f"| {kind} | error: {r['error'][:80]} |")
                continue
            assert r["rows"] == rows, (kind, r["rows"])
            print(
                f"| {kind} | {r['read_s']:.2f} s | {r['write_s']:.2f} s | {r['total_s']:.2f} s"
                f" | {mb(r['peak_rss'])} | {mb(r['bytes'])} |"
            )
        report["write"] = writes

        print(
            "\n| pipeline to a partitioned dataset | wall | peak RSS (driver) | peak RSS per worker |"
        )
        print("|---|---:|---:|---:|")
        pipes = {}
        counts = set()
        for kind in ("single", "process-pool", "dask"):
            out = tmp / f"ds-{kind}"
            r = run("pipeline", kind, files, str(out), timeout)
            pipes[kind] = r
            if "error" in r:
                print(f"| {kind} | error: {r['error'][:80]} |")
                continue
            counts.add(r["rows"])
            per = ", ".join(mb(w) for w in r["worker_peak_rss"]) or "-"
            print(f"| {kind} | {r['total_s']:.2f} s | {mb(r['peak_rss'])} | {per} |")
            shutil.rmtree(out, ignore_errors=True)
        report["pipeline"] = pipes
        report["mismatches"] = [] if len(counts) <= 1 else sorted(counts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    path = write_report(report, args.output, args.quick, RESULTS)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
