"""What record identity costs: the DictList row loop before and after, and a view's bytes.

    python benches/bench_identity.py                  # 1,000,000 generated orders
    python benches/bench_identity.py --rows 200000
    python benches/bench_identity.py --quick          # a tiny smoke run (the test suite uses it)
    python benches/bench_identity.py --baseline PYTHON  # add an interpreter with another build
    python benches/bench_identity.py --dataset flights  # the 336,776 NYC flights of 2013
    python benches/bench_identity.py --instructions     # instructions per record (callgrind)

One fresh process per representation builds the records of a data set of :mod:`datasets`
(the generated orders by default) and times, as medians of ``--repeat`` runs,
``for r in rows: total += r[a] * r[b]`` (the data set's loop fields: ``price`` and ``qty``
for the orders):

* ``row loop``: over the list as built (a DictList that is its whole store);
* ``row loop, reordered under a view``: after ``rows.sort(key=...)`` (by the first loop
  field) while a row view is
  alive, so the DictList keeps its records in place and reorders positions (4 bytes each);
* ``row loop over a slice``: over ``rows[1:]`` (a slice shares the records);
* ``random access``: ``rows[i][a]`` for 200,000 pseudo-random ``i``.

and reports the DictList's ``nbytes`` in each state. ``--rounds`` (3) runs every
representation's process that many times, interleaved, and reports the median over rounds
with each round's row-loop ratio beside it. ``--baseline PYTHON`` runs the same
measurements with another interpreter (a venv holding an earlier memslim build), labelled
``memslim.DictList (baseline)``. Written as JSON to ``benches/results/identity.json``
(``identity-flights.json`` for the flights) and markdown beside it (``--quick``: a temporary directory; ``--output`` wins);
``--from-json FILE`` renders the markdown of an earlier report again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DATASETS, Dataset
from workload import (
    dataset_results,
    machine_info,
    median_seconds,
    run_child,
    write_report_and_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "identity.json"
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
# Callgrind runs about 50 times slower: the instruction count uses fewer records.
INSTRUCTION_ROWS = 20_000
FILE = "memslim.DictList.open"
PEERS = ("list of dicts", "memslim.DictList", FILE)
BASELINE = "memslim.DictList (baseline)"


def row_loop(rows: Any, a: str, b: str) -> float:
    total = 0.0
    for r in rows:
        total += r[a] * r[b]
    return total


def random_access(rows: Any, picks: list[int], a: str) -> float:
    total = 0.0
    for i in picks:
        total += rows[i][a]
    return total


@contextlib.contextmanager
def built(peer: str, ds: Dataset, n: int) -> Iterator[Any]:
    """The first ``n`` records of ``ds`` as ``peer`` holds them: the list of dicts itself,
    a DictList (the list it copied is freed before any timing), or a record file written
    and reopened read-only (deleted on exit)."""
    if peer == "list of dicts":
        yield list(ds.records(n))
        return
    import memslim

    if peer != FILE:
        yield memslim.DictList(list(ds.records(n)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-identity-"))
    try:
        with memslim.DictList.open(tmp / f"{ds.name}.msl") as f:
            f.extend(list(ds.records(n)))
        with memslim.DictList.open(tmp / f"{ds.name}.msl", "r") as rows:
            yield rows
    finally:
        shutil.rmtree(tmp)


def measure(peer: str, ds: Dataset, n: int, repeat: int) -> dict[str, Any]:
    with built(peer, ds, n) as rows:
        if peer == FILE:
            return measure_file(rows, ds, n, repeat)
        return measure_list(rows, peer, ds, n, repeat)


def measure_list(rows: Any, peer: str, ds: Dataset, n: int, repeat: int) -> dict[str, Any]:
    a, b = ds.loop_fields
    first = dict(rows[0])
    rng = random.Random(7)
    picks = [rng.randrange(n) for _ in range(200_000)]
    out: dict[str, Any] = {"peer": peer, "rows": n}
    out["row_loop_s"], _ = median_seconds(lambda: row_loop(rows, a, b), repeat)
    out["random_access_s"], _ = median_seconds(lambda: random_access(rows, picks, a), repeat)
    out["nbytes"] = getattr(rows, "nbytes", None)
    part = rows[1:]
    out["slice_loop_s"], _ = median_seconds(lambda p=part: row_loop(p, a, b), repeat)
    del part
    view = rows[0]
    rows.sort(key=lambda r: r[a] % 1000)
    out["reordered_loop_s"], _ = median_seconds(lambda: row_loop(rows, a, b), repeat)
    out["reordered_nbytes"] = getattr(rows, "nbytes", None)
    out["view_reads_its_record"] = dict(view) == first if peer != BASELINE else None
    out["view_object_bytes"] = sys.getsizeof(view)
    return out


def measure_file(rows: Any, ds: Dataset, n: int, repeat: int) -> dict[str, Any]:
    """The same reads over a record file (in the page cache); records of a file never
    move, so there is no reordering to measure."""
    a, b = ds.loop_fields
    rng = random.Random(7)
    picks = [rng.randrange(n) for _ in range(200_000)]
    out: dict[str, Any] = {"peer": FILE, "rows": n}
    out["row_loop_s"], _ = median_seconds(lambda: row_loop(rows, a, b), repeat)
    out["random_access_s"], _ = median_seconds(lambda: random_access(rows, picks, a), repeat)
    part = rows[1:]
    out["slice_loop_s"], _ = median_seconds(lambda p=part: row_loop(p, a, b), repeat)
    out["view_object_bytes"] = sys.getsizeof(rows[0])
    return out


def loops_only(peer: str, ds: Dataset, n: int, loops: int, what: str) -> dict[str, Any]:
    """Builds ``peer`` as :func:`measure` does (with :func:`built`), runs ``what`` (the
    row loop, or ``n`` random ``rows[i][a]``) once to warm it, then ``loops`` more times,
    untimed: what ``--instructions`` counts under callgrind."""
    a, b = ds.loop_fields
    rng = random.Random(7)
    picks = [rng.randrange(n) for _ in range(n)]
    with built(peer, ds, n) as rows:
        for _ in range(loops + 1):
            if what == "random":
                random_access(rows, picks, a)
            else:
                row_loop(rows, a, b)
    return {"peer": peer, "loops": loops}


INSTRUCTION_LOOPS = 3


def count_instructions(peer: str, dataset: str, n: int) -> dict[str, Any]:
    """Instructions per record of the row loop and per random access over ``peer``, by
    callgrind: the count of a process that runs it INSTRUCTION_LOOPS more times, less that
    of one that does not, over the records read. Independent of the machine's load,
    unlike the times."""
    totals = {}
    for what, loops in (("loop", 0), ("loop", INSTRUCTION_LOOPS), ("random", INSTRUCTION_LOOPS)):
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        cmd += [sys.executable, __file__, "--child", peer, "--rows", str(n)]
        cmd += ["--dataset", dataset, "--loops-only", str(loops), "--what", what]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        except FileNotFoundError:
            return {"error": "valgrind is not installed"}
        found = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
        if proc.returncode != 0 or not found:
            return {"error": f"{peer}: exit {proc.returncode}\n{proc.stderr.strip()[-2000:]}"}
        totals[what, loops] = int(found.group(1))
    base, per = totals["loop", 0], INSTRUCTION_LOOPS * n
    return {
        "instructions_per_record": (totals["loop", INSTRUCTION_LOOPS] - base) / per,
        "instructions_per_access": (totals["random", INSTRUCTION_LOOPS] - base) / per,
    }


def instructions_md(results: dict[str, dict[str, Any]], n: int, dataset: str) -> str:
    a, b = DATASETS[dataset]().loop_fields
    keys = ("instructions_per_record", "instructions_per_access")
    base = results["list of dicts"]
    lines = [
        f"# Row loop instructions, {n:,} {dataset}",
        "",
        (
            f'`for r in rows: total += r["{a}"] * r["{b}"]` (per record) and `rows[i]["{a}"]` '
            "at random `i` (per access): instructions counted by callgrind, the interpreter's "
            "and memslim's alike."
        ),
        "",
        "| representation | row loop | random access | row loop / list | random access / list |",
        "|---|---|---|---|---|",
    ]
    for peer, r in results.items():
        if "error" in r:
            lines.append(f"| {peer} | {r['error'].splitlines()[0]} | | | |")
            continue
        counts = [f"{r[k]:,.0f}" for k in keys]
        ratios = [_ratio(r[k], base.get(k)) for k in keys]
        lines.append(f"| {peer} | " + " | ".join(counts + ratios) + " |")
    note = (
        "A count, not a time: it does not move with the machine's load, so it tells a "
        "change's effect on the loop apart from noise. It weighs every instruction alike; "
        "the list of dicts' scattered objects cost it cache misses that the count does not "
        "show, so on large lists the time ratios (the identity tables) are lower than these."
    )
    return "\n".join([*lines, "", note]) + "\n"


def combine(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each representation's timings as the median over rounds (the rounds interleave
    the representations, so a slow spell of the machine falls on all of them), with each
    round's timings kept under ``"rounds"``."""
    out = {}
    for peer in rounds[0]:
        runs = [r[peer] for r in rounds]
        merged = dict(runs[0])
        for key, value in runs[0].items():
            if key.endswith("_s") and value is not None:
                merged[key] = statistics.median(r[key] for r in runs)
        merged["rounds"] = [{k: v for k, v in r.items() if k.endswith("_s")} for r in runs]
        out[peer] = merged
    return out


def _ms(s: float | None) -> str:
    return "" if s is None else f"{s * 1e3:.1f} ms"


def _ratio(a: float | None, b: float | None) -> str:
    return "" if not a or not b else f"{a / b:.2f}x"


def report_md(results: dict[str, dict[str, Any]], n: int, dataset: str = "orders") -> str:
    base = results["list of dicts"]
    names = [p for p in (*PEERS, BASELINE) if p in results]
    a, b = DATASETS[dataset]().loop_fields
    lines = [
        f"# Record identity, {n:,} {dataset}",
        "",
        f'`for r in rows: total += r["{a}"] * r["{b}"]`, and `rows[i]["{a}"]`.',
        "",
        "| operation | "
        + " | ".join(names)
        + " | "
        + " | ".join(f"{p} / list" for p in names[1:])
        + " |",
        "|---|" + "---|" * (2 * len(names) - 1),
    ]
    for key, label in (
        ("row_loop_s", "row loop"),
        ("reordered_loop_s", "row loop, reordered under a view"),
        ("slice_loop_s", "row loop over a slice"),
        ("random_access_s", "random access"),
    ):
        cells = [_ms(results[p].get(key)) for p in names]
        ratios = [_ratio(results[p].get(key), base.get(key)) for p in names[1:]]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    dl = results["memslim.DictList"]
    extra = (dl["reordered_nbytes"] - dl["nbytes"]) / n
    sizes = (
        f"DictList nbytes: {dl['nbytes']:,} as built, {dl['reordered_nbytes']:,} after a sort "
        f"with a view alive ({extra:.2f} bytes per record for the order); a slice or an "
        "unsorted list adds nothing per record. A `Row` object is "
        f"{dl['view_object_bytes']} bytes (a dict of these {dataset}: "
        f"{base['view_object_bytes']} bytes)."
    )
    goal = (
        "Medians of repeated runs in fresh processes, over rounds that interleave the "
        "representations. Goal (issues 14 "
        "and 15): the DictList row loop <= 1.2x the list of dicts, and no slower than before "
        "record identity (the baseline column, when given); the same loop over a record "
        "file (`DictList.open`, in the page cache) <= 2x. A file's records never move, so "
        "the reordered line does not apply to it."
    )
    spread = []
    for p in names[1:]:
        per_round = [
            f"{r['row_loop_s'] / b['row_loop_s']:.2f}x"
            for r, b in zip(results[p].get("rounds", []), base.get("rounds", []))
        ]
        if len(per_round) > 1:
            spread.append(f"{p} {', '.join(per_round)}")
    if spread:
        goal += " Row loop / list of dicts in each round: " + "; ".join(spread) + "."
    lines += ["", sizes, "", goal]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("orders", "flights"), default="orders")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument(
        "--rounds", type=int, default=None, help="fresh processes per representation (3)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--baseline", help="another interpreter with an earlier memslim")
    parser.add_argument("--child", choices=(*PEERS, BASELINE), help=argparse.SUPPRESS)
    parser.add_argument("--from-json", type=Path, help="re-render the markdown of a report")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the row loop's instructions per record under callgrind instead",
    )
    parser.add_argument("--loops-only", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--what", choices=("loop", "random"), default="loop", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.from_json:
        report = json.loads(args.from_json.read_text(encoding="utf-8"))
        render = instructions_md if report.get("instructions") else report_md
        md = render(report["results"], report["rows"], report.get("dataset", "orders"))
        args.from_json.with_suffix(".md").write_text(md, encoding="utf-8")
        print(md)
        return 0
    ds = DATASETS[args.dataset]()
    n = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    n = min(n, ds.max_rows or n)
    repeat = args.repeat or (3 if args.quick else 5)
    if args.child and args.loops_only is not None:
        print(json.dumps(loops_only(args.child, ds, n, args.loops_only, args.what)))
        return 0
    if args.child:
        print(json.dumps(measure(args.child, ds, n, repeat)))
        return 0
    if args.instructions:
        n = args.rows or (QUICK_ROWS // 10 if args.quick else INSTRUCTION_ROWS)
        counts = {peer: count_instructions(peer, args.dataset, n) for peer in PEERS}
        md = instructions_md(counts, n, args.dataset)
        print(md)
        report = {
            "quick": args.quick,
            "instructions": True,
            "dataset": args.dataset,
            "rows": n,
            "results": counts,
            "machine": machine_info(["memslim"]),
        }
        default = dataset_results(RESULTS.with_name("identity-instructions.json"), ds.name)
        write_report_and_markdown(report, md, args.output, args.quick, default)
        return 0
    runs = [(peer, sys.executable) for peer in PEERS]
    if args.baseline:
        runs.append((BASELINE, args.baseline))
    rounds = []
    for _ in range(args.rounds or (1 if args.quick else 3)):
        one = {}
        for peer, python in runs:
            cmd = [python, __file__, "--child", peer, "--rows", str(n), "--repeat", str(repeat)]
            cmd += ["--dataset", args.dataset]
            one[peer] = run_child(cmd, timeout=3600, what=peer)
        rounds.append(one)
    results = combine(rounds)
    md = report_md(results, n, args.dataset)
    print(md)
    report = {
        "quick": args.quick,
        "dataset": args.dataset,
        "rows": n,
        "repeat": repeat,
        "results": results,
        "machine": machine_info(["memslim"]),
    }
    default = dataset_results(RESULTS, ds.name)
    write_report_and_markdown(report, md, args.output, args.quick, default)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
