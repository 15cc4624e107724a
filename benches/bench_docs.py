"""Peer comparison for nested documents: memslim.DocList against Python dicts and lists.

    python benches/bench_docs.py              # 200,000 generated events + the real data set
    python benches/bench_docs.py --events 50000
    python benches/bench_docs.py --quick      # a tiny smoke run (the test suite uses it)

Two data sets:

* ``events``: generated nested event documents (20 top-level fields, two levels of nesting:
  ``user``, ``geo``, ``device`` dicts, a ``tags`` list inside ``user``, a list of ``items``
  dicts), deterministic for a seed;
* ``aws-models``: real nested JSON, the AWS service models that the ``botocore`` package
  ships (``botocore/data/*/*/service-2.json.gz``): one document per shape of every service,
  ``{"service", "shape", "spec"}`` where ``spec`` is the shape's JSON as published.

Memory: for every representation a fresh Python process first holds the data set as JSON
Lines bytes (the input), takes a baseline RSS, then builds the representation from the
bytes and reports RSS growth (and DocList's own ``nbytes``): plain dicts and lists via
``orjson.loads`` per line, msgspec ``Struct``s via a typed ``msgspec.json.Decoder`` per
line (events only: the AWS shapes have no fixed schema), and ``DocList.from_jsonl``.

Time, in one more fresh process per data set, medians of ``--repeat`` runs: building a
DocList from the Python objects beside ``copy.deepcopy`` of them; building from the JSONL
bytes beside ``orjson.loads`` per line; and a nested read loop ``d[a][b]`` over the DocList
beside the same loop over the plain list.

Results are printed as markdown tables with PASS/MISS lines per target, and written as JSON
to ``benches/results/docs.json`` (``--quick``: a temporary directory; ``--output`` wins).
"""

from __future__ import annotations

import argparse
import copy
import gc
import gzip
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (
    load_report,
    markdown_header,
    markdown_targets,
    median_seconds,
    run_child,
    settled_rss,
    write_markdown,
    write_report,
)
from workload import machine_info as workload_machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "docs.json"
DEFAULT_EVENTS = 200_000
QUICK_EVENTS = 2_000
QUICK_REAL = 2_000
SEED = 20_241_124
DATASETS = ("events", "aws-models")
PEERS = ("dicts and lists", "msgspec Structs", "memslim.DocList")
# The nested field each data set's read loop touches: d[OUTER][INNER].
READ_PATH = {"events": ("geo", "country"), "aws-models": ("spec", "type")}


# -- data sets ----------------------------------------------------------------------------


def make_events(n: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = ["click", "view", "purchase", "scroll", "signup", "logout"]
    langs = ["en", "de", "fr", "es", "ja", "pt"]
    countries = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "ES", "IT"]
    tags = ["new", "returning", "mobile", "promo", "beta", "vip", "bot", "trial"]
    for i in range(n):
        yield {
            "id": i,
            "ts": 1_700_000_000_000 + i * 37,
            "type": rng.choice(kinds),
            "session": f"{rng.getrandbits(64):016x}",
            "ok": rng.random() < 0.9,
            "score": rng.random(),
            "amount": rng.randrange(100_000) / 100,
            "currency": rng.choice(["USD", "EUR", "JPY"]),
            "user": {
                "id": rng.randrange(1_000_000),
                "name": f"user{rng.randrange(20_000)}",
                "lang": rng.choice(langs),
                "premium": rng.random() < 0.1,
                "tags": rng.sample(tags, rng.randrange(4)),
            },
            "geo": {
                "country": rng.choice(countries),
                "city": f"city{rng.randrange(500)}",
                "lat": round(rng.uniform(-90, 90), 5),
                "lon": round(rng.uniform(-180, 180), 5),
            },
            "device": {
                "os": rng.choice(["ios", "android", "web"]),
                "version": f"{rng.randrange(12)}.{rng.randrange(10)}",
                "model": rng.choice([None, "pixel", "iphone"]),
            },
            "items": [
                {"sku": f"sku{rng.randrange(5_000)}", "qty": rng.randrange(1, 5)}
                for _ in range(rng.randrange(3))
            ],
            "referrer": rng.choice([None, "https://example.com/landing", "https://search.test/"]),
            "campaign": rng.choice([None, "spring", "summer", "black-friday"]),
            "page": f"/products/{rng.randrange(2_000)}",
            "duration_ms": rng.randrange(60_000),
            "experiment": rng.choice(["A", "B"]),
            "v": 3,
        }


def aws_model_docs(limit: int | None) -> Iterator[dict[str, Any]]:
    import botocore

    data = Path(botocore.__file__).resolve().parent / "data"
    n = 0
    for path in sorted(data.glob("*/*/service-2.json*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            model = json.loads(f.read())
        for name, spec in model.get("shapes", {}).items():
            if limit is not None and n >= limit:
                return
            yield {"service": path.parts[-3], "shape": name, "spec": spec}
            n += 1


def jsonl_lines(dataset: str, size: int | None) -> list[bytes]:
    import orjson

    if dataset == "events":
        docs = make_events(size or DEFAULT_EVENTS)
    else:
        docs = aws_model_docs(size)
    return [orjson.dumps(d) for d in docs]


# -- msgspec schema for the events --------------------------------------------------------


def event_decoder() -> Any:
    import msgspec

    user = msgspec.defstruct(
        "User",
        [("id", int), ("name", str), ("lang", str), ("premium", bool), ("tags", list[str])],
    )
    geo = msgspec.defstruct(
        "Geo", [("country", str), ("city", str), ("lat", float), ("lon", float)]
    )
    device = msgspec.defstruct("Device", [("os", str), ("version", str), ("model", str | None)])
    item = msgspec.defstruct("Item", [("sku", str), ("qty", int)])
    event = msgspec.defstruct(
        "Event",
        [
            ("id", int),
            ("ts", int),
            ("type", str),
            ("session", str),
            ("ok", bool),
            ("score", float),
            ("amount", float),
            ("currency", str),
            ("user", user),
            ("geo", geo),
            ("device", device),
            ("items", list[item]),
            ("referrer", str | None),
            ("campaign", str | None),
            ("page", str),
            ("duration_ms", int),
            ("experiment", str),
            ("v", int),
        ],
    )
    return msgspec.json.Decoder(event)


# -- child processes ----------------------------------------------------------------------


def run_memory(peer: str, dataset: str, size: int | None) -> dict[str, Any]:
    import orjson

    if peer == "msgspec Structs" and dataset != "events":
        return {"skipped": "no fixed schema: the AWS shapes are heterogeneous"}
    lines = jsonl_lines(dataset, size)
    blob = b"\n".join(lines)
    if peer == "dicts and lists":

        def build(ls: list[bytes], _: bytes) -> Any:
            return [orjson.loads(line) for line in ls]

    elif peer == "msgspec Structs":
        decode = event_decoder().decode

        def build(ls: list[bytes], _: bytes) -> Any:
            return [decode(line) for line in ls]

    else:
        import memslim

        def build(_: list[bytes], b: bytes) -> Any:
            return memslim.DocList.from_jsonl(b)

    # Warm-up: allocator pools and lazy imports are not per-document costs.
    build(lines[:500], b"\n".join(lines[:500]))
    before = settled_rss()
    structure = build(lines, blob)
    rss = settled_rss() - before
    return {
        "docs": len(lines),
        "rss_bytes": rss,
        "nbytes": getattr(structure, "nbytes", None),
        "json_bytes": len(blob),
    }


def nested_read(docs: Any, outer: str, inner: str) -> int:
    hits = 0
    for d in docs:
        if d[outer][inner] is not None:
            hits += 1
    return hits


def run_timing(dataset: str, size: int | None, repeat: int) -> dict[str, Any]:
    import memslim
    import orjson

    lines = jsonl_lines(dataset, size)
    blob = b"\n".join(lines)
    objects = [orjson.loads(line) for line in lines]
    outer, inner = READ_PATH[dataset]
    out: dict[str, Any] = {"docs": len(lines)}
    out["build_doclist_s"], built = median_seconds(lambda: memslim.DocList(objects), repeat)
    out["deepcopy_s"], _ = median_seconds(lambda: copy.deepcopy(objects), repeat)
    out["from_jsonl_s"], parsed = median_seconds(lambda: memslim.DocList.from_jsonl(blob), repeat)
    out["orjson_loads_s"], _ = median_seconds(
        lambda: [orjson.loads(line) for line in lines], repeat
    )
    out["exact"] = built == objects and parsed == objects
    out["read_doclist_s"], hits = median_seconds(lambda: nested_read(built, outer, inner), repeat)
    out["read_plain_s"], plain_hits = median_seconds(
        lambda: nested_read(objects, outer, inner), repeat
    )
    out["read_agrees"] = hits == plain_hits
    return out


# -- parent ---------------------------------------------------------------------------------


def child(args: list[str], timeout: float | None) -> dict[str, Any]:
    return run_child([sys.executable, __file__, *args], timeout)


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.3f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report_dataset(
    name: str, memory: dict[str, dict[str, Any]], timing: dict[str, Any]
) -> tuple[list[str], list[tuple[str, bool | None]]]:
    lines = [
        f"### {name}",
        "",
        "| peer | RSS growth (B/doc) | own count (B/doc) | vs dicts and lists |",
        "|---|---:|---:|---:|",
    ]
    base = memory.get("dicts and lists", {})
    for peer, res in memory.items():
        if "skipped" in res or "error" in res:
            lines.append(f"| {peer} | {res.get('skipped') or 'failed'} | | |")
            continue
        n = res["docs"]
        own = "—" if res["nbytes"] is None else f"{res['nbytes'] / n:.1f}"
        if peer == "dicts and lists":
            ratio = "1.0x"
        elif res["rss_bytes"] > 0 and base.get("rss_bytes"):
            ratio = f"{base['rss_bytes'] / res['rss_bytes']:.1f}x smaller"
        else:
            ratio = "—"
        lines.append(f"| {peer} | {res['rss_bytes'] / n:.1f} | {own} | {ratio} |")
    targets: list[tuple[str, bool | None]] = []
    ours = memory.get("memslim.DocList", {})
    ok = "error" not in ours and "error" not in base
    if ok and ours.get("rss_bytes", 0) > 0:
        ratio = base["rss_bytes"] / ours["rss_bytes"]
        text = f"{name} memory: DocList is {ratio:.1f}x smaller than dicts and lists"
        targets.append((f"{text} (target >= 5x)", ratio >= 5))
        structs = memory.get("msgspec Structs", {})
        if "rss_bytes" in structs:
            mine, theirs = ours["rss_bytes"] / 1e6, structs["rss_bytes"] / 1e6
            text = f"{name} memory: DocList RSS growth {mine:.1f} MB vs msgspec Structs"
            targets.append((f"{text} {theirs:.1f} MB (target: smaller)", mine < theirs))
    else:
        targets.append((f"{name} memory: not judged (a peer failed or RSS too small)", None))
    if "error" in timing:
        targets.append((f"{name} timing: not judged, the timing run failed", None))
        return lines, targets
    rows = [
        ("build from Python objects", "build_doclist_s", "copy.deepcopy", "deepcopy_s"),
        ("build from JSONL bytes", "from_jsonl_s", "orjson.loads per line", "orjson_loads_s"),
        ("nested read loop", "read_doclist_s", "same loop on dicts", "read_plain_s"),
    ]
    lines += ["", "| operation | DocList (ms) | peer | peer (ms) |", "|---|---:|---|---:|"]
    for op, ours_key, peer, peer_key in rows:
        lines.append(f"| {op} | {_ms(timing[ours_key])} | {peer} | {_ms(timing[peer_key])} |")
    speed = timing["deepcopy_s"] / timing["build_doclist_s"]
    text = f"{name} build: DocList(objects) is {speed:.2f}x the speed of copy.deepcopy"
    targets.append((f"{text} (target >= 1x)", speed >= 1))
    speed = timing["orjson_loads_s"] / timing["from_jsonl_s"]
    text = f"{name} JSONL: DocList.from_jsonl is {speed:.2f}x the speed of orjson.loads per line"
    targets.append((f"{text} (target >= 1x)", speed >= 1))
    outer, inner = READ_PATH[name]
    ratio = timing["read_doclist_s"] / timing["read_plain_s"]
    text = f'{name} read: d["{outer}"]["{inner}"] over a DocList takes {ratio:.2f}x the time'
    targets.append((f"{text} of plain dicts (target <= 3x)", ratio <= 3))
    return lines, targets


def machine_info() -> dict[str, Any]:
    return workload_machine_info(("memslim", "orjson", "msgspec", "botocore"))


def render(report: dict[str, Any]) -> str:
    """The markdown for a JSON report: the tables and the target lines the run printed."""
    lines = markdown_header(report, "bench_docs.py", "memslim DocList: nested documents")
    sizes = ", ".join(
        f"{name}: {'all' if size is None else f'{size:,}'} documents"
        for name, size in report["sizes"].items()
        if name in report["results"]
    )
    lines += [
        "",
        (
            f"{sizes}. Memory is RSS growth in a fresh process per peer, from the same JSON "
            "Lines input; the peers parse with orjson (dicts and lists) and a typed msgspec "
            "decoder (Structs, events only)."
        ),
        "",
    ]
    for name, result in report["results"].items():
        table, _ = report_dataset(name, result["memory"], result["timing"])
        lines += [*table, ""]
    lines.pop()
    lines += markdown_targets(report.get("targets", []))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None, help=f"default {DEFAULT_EVENTS:,}")
    parser.add_argument(
        "--real", type=int, default=None, help="limit the AWS documents (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument("--dataset", action="append", choices=DATASETS, help="only these")
    parser.add_argument(
        "--check-targets", action="store_true", help="exit 1 if any target is missed"
    )
    parser.add_argument(
        "--child-memory", nargs=2, metavar=("PEER", "DATASET"), help=argparse.SUPPRESS
    )
    parser.add_argument("--child-timing", choices=DATASETS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=None, help=argparse.SUPPRESS)
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
    if args.repeat < 1:
        parser.error("--repeat must be positive")

    if args.child_memory:
        peer, dataset = args.child_memory
        print(json.dumps(run_memory(peer, dataset, args.size)))
        return 0
    if args.child_timing:
        print(json.dumps(run_timing(args.child_timing, args.size, args.repeat)))
        return 0

    sizes = {
        "events": args.events or (QUICK_EVENTS if args.quick else DEFAULT_EVENTS),
        "aws-models": args.real or (QUICK_REAL if args.quick else None),
    }
    timeout = 300.0 if args.quick else None
    results: dict[str, Any] = {}
    all_targets: list[tuple[str, bool | None]] = []
    problems: list[str] = []
    tables: list[str] = []
    for dataset in args.dataset or DATASETS:
        size = sizes[dataset]
        size_args = [] if size is None else ["--size", str(size)]
        print(f"{dataset}: {'all' if size is None else f'{size:,}'} documents", flush=True)
        memory = {}
        for peer in PEERS:
            print(f"  memory: {peer} ...", flush=True)
            memory[peer] = child(["--child-memory", peer, dataset, *size_args], timeout)
            if "error" in memory[peer]:
                print(f"    FAILED: {memory[peer]['error']}", file=sys.stderr)
                problems.append(f"{dataset}/{peer}: {memory[peer]['error']}")
        print(f"  timing (median of {args.repeat}) ...", flush=True)
        timing = child(
            ["--child-timing", dataset, "--repeat", str(args.repeat), *size_args], timeout
        )
        if "error" in timing:
            print(f"    FAILED: {timing['error']}", file=sys.stderr)
            problems.append(f"{dataset}/timing: {timing['error']}")
        else:
            if not timing["exact"]:
                problems.append(f"{dataset}: DocList content differs from the plain documents")
            if not timing["read_agrees"]:
                problems.append(f"{dataset}: the nested read loops disagree")
        results[dataset] = {"memory": memory, "timing": timing}
        lines, targets = report_dataset(dataset, memory, timing)
        tables += [*lines, ""]
        all_targets += targets

    print()
    print("\n".join(tables))
    for line, passed in all_targets:
        print(line if passed is None else f"{line} {_verdict(passed)}")
    if args.quick:
        print("(quick run: too small for the figures to mean anything)")
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)

    report = {
        "benchmark": "docs",
        "sizes": sizes,
        "repeat": args.repeat,
        "quick": args.quick,
        "machine": machine_info(),
        "results": results,
        "targets": [{"line": line, "passed": passed} for line, passed in all_targets],
        "problems": problems,
    }
    output = write_report(report, args.output, args.quick, RESULTS)
    markdown = write_markdown(output, render(load_report(output)))
    print(f"\nwrote {output} and {markdown}")
    if problems:
        return 1
    if args.check_targets and any(passed is False for _, passed in all_targets):
        return 1
    return 0


if __name__ == "__main__":
    gc.collect()
    sys.exit(main())
