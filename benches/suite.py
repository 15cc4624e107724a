"""The comparison suite: memslim beside the other ways Python holds records, at several sizes.

    python benches/suite.py                      # orders at 10k, 100k, 1M, 10M (10M where
                                                 # memory allows); flights at 10k, 100k,
                                                 # full; cars (406 records) in full
    python benches/suite.py --sizes 10k,100k,1M  # without the long 10M run
    python benches/suite.py --quick                  # tiny sizes, a smoke run (the tests use it)

Every figure of every representation is taken in fresh processes, three per
(representation, data set, size), so none pays for another's leftovers:

* memory: RSS growth around building the structure straight from a record generator
  (columnar peers from chunks of 10,000 records), beside the structure's own byte count;
* ingest: loading a JSONL file of the same records, wall time and peak RSS growth
  (``VmHWM`` reset just before the load);
* timing: medians of ``--repeat`` runs of building from a list of dicts, a row loop with
  field access, random access, a column aggregate, a filter, and pickle (size, dump, load).

The persistent list (``memslim.DictList.open``) is first saved by ``DictList(records).save``
(its build figure) in a process of its own, then opened by the memory and timing processes;
its file size is the on-disk figure. The streaming reader (``memslim.iter_jsonl``) has only
the ingest figures. A figure that does not apply to a representation is n/a, with the
reason in the tables; so is a whole representation on a data set whose fields mix types
it cannot keep apart (a float column would turn the ints among floats into floats).

Each size is projected from the largest size already measured; a representation whose
projected memory would not fit in 80% of the available memory is skipped with the reason
printed (so 10M runs where the machine allows and is skipped elsewhere).

Results go to ``benches/results/``: ``suite.json`` (machine, package versions, every
figure), ``suite.md`` (tables with ratios against the list of dicts and the best peer) and
PNG charts (``benches/charts.py``). ``--quick`` writes to a temporary directory instead.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.metadata
import json
import math
import pickle
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DATASETS, Dataset, payload_bytes
from representations import BASELINE, Representation, compile_figures, representations
from workload import machine_info as workload_machine_info
from workload import median_seconds, settled_rss
from workload import run_child as spawn_child

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results"
WARMUP_ROWS = 1_000
RANDOM_ACCESSES = 10_000
QUICK_SIZES = {"orders": [2_000], "flights": [2_000], "cars": [300]}
DEFAULT_SIZES = [10_000, 100_000, 1_000_000, 10_000_000]
PACKAGES = ("memslim", "numpy", "pyarrow", "polars", "pandas", "msgspec", "matplotlib", "pympler")

REPS: dict[str, Representation] = {rep.name: rep for rep in representations()}


# -- child processes -------------------------------------------------------------------------


def _peak_reset() -> bool:
    """Reset the peak RSS (VmHWM) of this process; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _import_requirements(rep: Representation) -> str | None:
    for module in rep.requires:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            if module == "memslim":
                raise  # the subject of the benchmark is never optional
            return f"{module} is not importable: {exc}"
    return None


def child_save(rep: Representation, ds: Dataset, rows: int, repeat: int, path: Path) -> dict:
    """Build of a persistent representation: save the records to ``path`` (kept for the
    memory and timing processes)."""
    assert rep.save is not None
    records = list(ds.records(rows))
    build_s, _ = median_seconds(lambda: rep.save(records, path), repeat)
    return {"build_s": build_s, "disk_bytes": path.stat().st_size}


def child_memory(rep: Representation, ds: Dataset, rows: int, saved: Path) -> dict[str, Any]:
    if rep.open_file is not None:
        before = settled_rss()
        structure = rep.open_file(saved)
    else:
        rep.build_streaming(ds.records(min(WARMUP_ROWS, rows)), ds)  # pools, lazy imports
        before = settled_rss()
        structure = rep.build_streaming(ds.records(rows), ds)
    rss = settled_rss() - before
    assert rep.length(structure) == rows, f"built {rep.length(structure)} of {rows} records"
    nbytes = rep.nbytes(structure) if rep.nbytes is not None else None
    return {"rss_bytes": rss, "nbytes": nbytes, "nbytes_label": rep.nbytes_label}


def child_ingest(rep: Representation, ds: Dataset, rows: int, jsonl: Path) -> dict[str, Any]:
    assert rep.read_jsonl is not None
    warm = jsonl.with_suffix(".warm.jsonl")
    if warm.exists():
        rep.read_jsonl(warm, ds)
    before = settled_rss()
    reset = _peak_reset()
    start = time.perf_counter()
    structure = rep.read_jsonl(jsonl, ds)
    seconds = time.perf_counter() - start
    peak = _peak_rss()
    after = settled_rss()
    assert rep.length(structure) == rows, f"read {rep.length(structure)} of {rows} records"
    result = {
        "ingest_s": seconds,
        "ingest_peak_bytes": (peak - before) if reset and peak is not None else None,
        "ingest_rss_bytes": after - before,
    }
    if not rep.holds_records:  # a stream: what it computed on the way is all there is to check
        result["check"] = {"column_sum": float(structure.total)}
    return result


def child_timing(
    rep: Representation, ds: Dataset, rows: int, repeat: int, saved: Path
) -> dict[str, Any]:
    figures = compile_figures(rep, ds)
    build_s: float | None
    if rep.open_file is not None:
        build_s, structure = None, rep.open_file(saved)  # the build is the save part's
    else:
        records = list(ds.records(rows))
        build_s, structure = median_seconds(lambda: rep.from_dicts(records, ds), repeat)
        if rep.name != BASELINE:
            del records
    positions = random.Random(7).choices(range(rows), k=min(RANDOM_ACCESSES, rows))

    loop_s, loop = median_seconds(lambda: figures["row_loop"](structure), repeat)
    access_s, access = median_seconds(
        lambda: figures["random_access"](structure, positions), repeat
    )
    sum_s, total = median_seconds(lambda: figures["column_sum"](structure, ds.sum_field), repeat)
    filter_s, kept = median_seconds(
        lambda: figures["filter_eq"](structure, ds.filter_field, ds.filter_value), repeat
    )
    result: dict[str, Any] = {
        "row_loop_s": loop_s,
        "random_access_ns": access_s / len(positions) * 1e9,
        "column_sum_s": sum_s,
        "filter_s": filter_s,
        "check": {
            "row_loop": float(loop),
            "random_access": float(access),
            "column_sum": float(total),
            "filter_count": len(kept),
            "ints_among_mixed": figures["int_census"](structure, positions),
        },
    }
    if build_s is not None and rep.name != BASELINE:
        result["build_s"] = build_s
    if "pickle_size" not in rep.not_applicable:
        dump_s, blob = median_seconds(lambda: pickle.dumps(structure, protocol=5), repeat)
        load_s, back = median_seconds(lambda: pickle.loads(blob), repeat)
        assert rep.length(back) == rows
        result.update(pickle_bytes=len(blob), pickle_dump_s=dump_s, pickle_load_s=load_s)
    return result


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    rep = REPS[args.child]
    ds = DATASETS[args.dataset[0]]()
    skipped = _import_requirements(rep)
    if skipped:
        return {"skipped": skipped}
    saved = saved_path(args.jsonl)
    if args.part == "save":
        return child_save(rep, ds, args.rows, args.repeat, saved)
    if args.part == "memory":
        return child_memory(rep, ds, args.rows, saved)
    if args.part == "ingest":
        return child_ingest(rep, ds, args.rows, args.jsonl)
    return child_timing(rep, ds, args.rows, args.repeat, saved)


def saved_path(jsonl: Path) -> Path:
    """Where a persistent representation's record file of the same records lives."""
    return jsonl.with_suffix(".msl")


# -- parent ----------------------------------------------------------------------------------


def run_part(
    rep: str, part: str, ds: str, rows: int, repeat: int, jsonl: Path, timeout: float | None
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        rep,
        "--part",
        part,
        "--dataset",
        ds,
        "--rows",
        str(rows),
        "--repeat",
        str(repeat),
        "--jsonl",
        str(jsonl),
    ]
    return spawn_child(cmd, timeout, what=part)


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def would_not_fit(
    name: str, rows: int, earlier: dict[int, dict[str, Any]], budget: int | None
) -> str | None:
    """Why ``name`` is skipped at ``rows``, from its own and the baseline's bytes per record
    at the largest smaller size (the timing process holds a list of dicts, the structure and
    its pickle at once)."""
    if budget is None or not earlier:
        return None
    size = max(earlier)
    done = earlier[size]
    per_record = 0.0
    for who in {name, BASELINE}:
        res = done.get(who, {})
        if "rss_bytes" not in res:
            return None  # nothing to project from: try it
        per_record += max(res["rss_bytes"], res.get("pickle_bytes") or 0) / size
    need = 2 * per_record * rows  # structure + pickle, or list of dicts + structure, twice over
    if need > budget:
        return f"would need about {need / 2**30:.1f} GiB, {budget / 2**30:.1f} GiB available"
    return None


def cannot_hold(rep: Representation, ds: Dataset) -> str | None:
    """Why ``rep`` is not measured on ``ds``: fields that mix types it would coerce."""
    if not ds.mixed or rep.cannot_mix is None:
        return None
    return f"n/a: {rep.cannot_mix}"


def write_jsonl(ds: Dataset, rows: int, path: Path) -> int:
    """Write the first ``rows`` records as JSONL; return their raw payload in bytes."""
    payload = 0
    with path.open("w", encoding="utf-8") as out:
        for record in ds.records(rows):
            payload += payload_bytes(record)
            out.write(json.dumps(record))
            out.write("\n")
    with path.with_suffix(".warm.jsonl").open("w", encoding="utf-8") as out:
        for record in ds.records(min(WARMUP_ROWS, rows)):
            out.write(json.dumps(record) + "\n")
    return payload


def cross_check(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every representation must compute what the list of dicts computes."""
    base = results.get(BASELINE, {}).get("check")
    problems: list[str] = []
    if base is None:
        return problems
    for name, res in results.items():
        check = res.get("check")
        if check is None:
            continue
        for key, expected in base.items():
            got = check.get(key)
            if got is None:
                continue  # a figure this representation does not compute
            if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-6):
                problems.append(f"{name}: {key} is {got!r}, list of dicts gives {expected!r}")
    return problems


def measure_size(
    ds: Dataset,
    rows: int,
    names: list[str],
    repeat: int,
    workdir: Path,
    timeout: float | None,
    earlier: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    jsonl = workdir / f"{ds.name}-{rows}.jsonl"
    payload = write_jsonl(ds, rows, jsonl)
    jsonl_bytes = jsonl.stat().st_size
    budget = available_memory()
    budget = int(budget * 0.8) if budget is not None else None
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        rep = REPS[name]
        why = cannot_hold(rep, ds) or would_not_fit(name, rows, earlier, budget)
        if why:
            print(f"    {name}: skipped, {why}", flush=True)
            results[name] = {"skipped": why}
            continue
        print(f"    {name} ...", flush=True)
        res: dict[str, Any] = {}
        for part in rep.parts:
            got = run_part(name, part, ds.name, rows, repeat, jsonl, timeout)
            if "skipped" in got or "error" in got:
                res = got
                break
            # A later part's cross-check figures join the earlier ones'.
            check = {**res.get("check", {}), **got.pop("check", {})}
            res.update(got)
            if check:
                res["check"] = check
        if "error" in res:
            print(f"      FAILED: {res['error']}", file=sys.stderr, flush=True)
        elif "skipped" in res:
            print(f"      skipped: {res['skipped']}", flush=True)
        else:
            res["not_applicable"] = dict(rep.not_applicable)
            res["not_a_peer_for"] = list(rep.not_a_peer_for)
        results[name] = res
        saved = saved_path(jsonl)
        for leftover in saved.parent.glob(saved.name + "*"):  # the file and its sidecars
            leftover.unlink()
    jsonl.unlink()
    jsonl.with_suffix(".warm.jsonl").unlink()
    return {
        "rows": rows,
        "payload_bytes": payload,
        "jsonl_bytes": jsonl_bytes,
        "results": results,
        "mismatches": cross_check(results),
    }


def machine_info() -> dict[str, Any]:
    return workload_machine_info(PACKAGES)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated, e.g. 10k,100k,1M (orders)")
    parser.add_argument("--dataset", action="append", choices=list(DATASETS), help="only these")
    parser.add_argument("--rep", action="append", choices=list(REPS), help="only these")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--output", type=Path, help="results directory")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="JSON",
        help="measure nothing: re-render suite.md beside a suite.json (no charts)",
    )
    parser.add_argument("--child", choices=list(REPS), help=argparse.SUPPRESS)
    parser.add_argument(
        "--part", choices=("save", "memory", "ingest", "timing"), help=argparse.SUPPRESS
    )
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--jsonl", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be positive")
    if args.from_json:
        from tables import markdown_report

        report = json.loads(args.from_json.read_text(encoding="utf-8"))
        markdown = args.from_json.with_suffix(".md")
        markdown.write_text(markdown_report(report) + "\n", encoding="utf-8")
        print(f"wrote {markdown}")
        return 0

    if args.child:
        print(json.dumps(run_child(args)))
        return 0

    datasets = [DATASETS[name]() for name in (args.dataset or list(DATASETS))]
    sizes_for: dict[str, list[int]] = {}
    for ds in datasets:
        if args.quick:
            sizes = QUICK_SIZES[ds.name]
        elif args.sizes:
            sizes = [parse_size(s) for s in args.sizes.split(",")]
        else:
            sizes = DEFAULT_SIZES
        if ds.max_rows is not None:
            # A real data set is measured at the sizes it has, and in full.
            full = [ds.max_rows] if not args.quick else []
            sizes = sorted({s for s in sizes if s < ds.max_rows} | set(full))
        sizes_for[ds.name] = sizes
    names = args.rep or list(REPS)
    if BASELINE not in names:
        names.insert(0, BASELINE)
    output = args.output
    if output is None:
        output = Path(tempfile.mkdtemp(prefix="memslim-suite-")) if args.quick else RESULTS
    output.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="memslim-suite-data-"))
    timeout = 600.0 if args.quick else None

    report: dict[str, Any] = {
        "benchmark": "suite",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeat": args.repeat,
        "random_accesses": RANDOM_ACCESSES,
        "machine": machine_info(),
        "datasets": {},
    }
    failed = False
    for ds in datasets:
        entry: dict[str, Any] = {
            "description": ds.description,
            "source": ds.source,
            "figures": {
                "row_loop": f"total += r[{ds.loop_fields[0]!r}] * r[{ds.loop_fields[1]!r}]",
                "random_access": f"rows[i][{ds.loop_fields[0]!r}] at random positions",
                "column_sum": f"sum of {ds.sum_field!r}, nulls skipped",
                "filter": f"records where {ds.filter_field!r} == {ds.filter_value!r}",
            },
            "notes": {rep.name: rep.note for rep in REPS.values() if rep.note},
            "mixed": ds.mixed,
            "sizes": {},
        }
        earlier: dict[int, dict[str, Any]] = {}
        for rows in sizes_for[ds.name]:
            print(f"{ds.name}: {rows:,} records, median of {args.repeat} runs", flush=True)
            measured = measure_size(ds, rows, names, args.repeat, workdir, timeout, earlier)
            earlier[rows] = measured["results"]
            entry["sizes"][str(rows)] = measured
            for problem in measured["mismatches"]:
                print(f"MISMATCH {ds.name} {rows}: {problem}", file=sys.stderr)
            failed |= bool(measured["mismatches"])
            failed |= any("error" in r for r in measured["results"].values())
        report["datasets"][ds.name] = entry
    workdir.rmdir()

    from tables import markdown_report

    markdown = markdown_report(report)
    print()
    print(markdown)
    (output / "suite.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (output / "suite.md").write_text(markdown + "\n", encoding="utf-8")
    if not args.no_charts:
        from charts import write_charts

        for path in write_charts(report, output):
            print(f"wrote {path}")
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
    print(f"wrote {output / 'suite.json'} and {output / 'suite.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
