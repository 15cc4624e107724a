"""JSON out: ``memslim.dumps`` of a DictList against ``json.dumps`` and ``orjson.dumps`` of
the same records as a plain list of dicts.

    python benches/bench_json.py              # 1,000,000 generated orders
    python benches/bench_json.py --rows 200000
    python benches/bench_json.py --quick      # a tiny smoke run (the test suite uses it)

The records are the orders of :mod:`workload` (ints, a float, a bool, a high-cardinality
string, a 40-value category, an 80%-null string). Each figure is the median wall time of
``--repeat`` runs, one process, inputs built before timing:

* ``json.dumps(list_of_dicts)`` and ``orjson.dumps(list_of_dicts)``: what a user has today;
* ``memslim.dumps(rows)``: the same text as ``json.dumps`` (checked), written from the
  columns;
* ``memslim.dumps(rows, indent=2, sort_keys=True)`` beside ``json.dumps`` with the same
  arguments;
* ``json.dumps(rows, default=memslim.to_builtins)`` and ``orjson.dumps(rows,
  default=memslim.to_builtins)``: the one-line ports for code that keeps its encoder;
* ``list(rows.iter_dicts())`` beside ``[dict(r) for r in rows]``.

Ratios are memslim's time over the peer's (below 1: memslim is faster). ``memslim.dumps``
returns a ``str`` (what ``json.dumps`` returns) and ``orjson.dumps`` returns ``bytes``: each
is timed as a user calls it. Results go to ``benches/results/json.json`` and ``json.md``
(``--quick``: a temporary directory; ``--output`` names the JSON file, the markdown goes
beside it). ``--from-json FILE`` renders the markdown of an earlier report again.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import (
    load_report,
    machine_info,
    make_records,
    markdown_header,
    median_seconds,
    write_markdown,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "json.json"
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 5_000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="tiny smoke run")
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--from-json", type=Path, help="re-render the markdown of a report")
    args = p.parse_args()
    if args.from_json:
        write_markdown(args.from_json, render(load_report(args.from_json)))
        return
    rows_n = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    repeat = args.repeat or (3 if args.quick else 5)

    import memslim
    import orjson

    data = list(make_records(rows_n))
    rows = memslim.DictList(data)
    gc.collect()

    text = memslim.dumps(rows)
    if text != json.dumps(data):
        raise SystemExit("memslim.dumps differs from json.dumps: not timing a wrong answer")
    pretty = {"indent": 2, "sort_keys": True}
    if memslim.dumps(rows, **pretty) != json.dumps(data, **pretty):
        raise SystemExit("memslim.dumps(indent=2, sort_keys=True) differs from json.dumps")
    del text

    cases: dict[str, Any] = {
        "json.dumps(list of dicts)": lambda: json.dumps(data),
        "orjson.dumps(list of dicts)": lambda: orjson.dumps(data),
        "memslim.dumps(DictList)": lambda: memslim.dumps(rows),
        "json.dumps(list of dicts, indent=2, sort_keys=True)": lambda: json.dumps(data, **pretty),
        "memslim.dumps(DictList, indent=2, sort_keys=True)": lambda: memslim.dumps(rows, **pretty),
        "json.dumps(DictList, default=to_builtins)": lambda: json.dumps(
            rows, default=memslim.to_builtins
        ),
        "orjson.dumps(DictList, default=to_builtins)": lambda: orjson.dumps(
            rows, default=memslim.to_builtins
        ),
        "[dict(r) for r in DictList]": lambda: [dict(r) for r in rows],
        "list(DictList.iter_dicts())": lambda: list(rows.iter_dicts()),
    }
    seconds = {}
    for name, fn in cases.items():
        seconds[name], _ = median_seconds(fn, repeat)
        print(f"{name:55s} {seconds[name] * 1000:10.1f} ms", flush=True)

    def ratio(a: str, b: str) -> float:
        return seconds[a] / seconds[b]

    ratios = {
        "memslim.dumps / json.dumps": ratio("memslim.dumps(DictList)", "json.dumps(list of dicts)"),
        "memslim.dumps / orjson.dumps": ratio(
            "memslim.dumps(DictList)", "orjson.dumps(list of dicts)"
        ),
        "memslim.dumps / json.dumps (indent=2, sort_keys)": ratio(
            "memslim.dumps(DictList, indent=2, sort_keys=True)",
            "json.dumps(list of dicts, indent=2, sort_keys=True)",
        ),
        "json.dumps(default=to_builtins) / json.dumps": ratio(
            "json.dumps(DictList, default=to_builtins)", "json.dumps(list of dicts)"
        ),
        "orjson.dumps(default=to_builtins) / orjson.dumps": ratio(
            "orjson.dumps(DictList, default=to_builtins)", "orjson.dumps(list of dicts)"
        ),
        "iter_dicts / [dict(r) for r in rows]": ratio(
            "list(DictList.iter_dicts())", "[dict(r) for r in DictList]"
        ),
    }
    target = ratios["memslim.dumps / orjson.dumps"] < 1.0
    print()
    for k, v in ratios.items():
        print(f"{k:55s} {v:6.2f}x")
    print(f"\nTARGET memslim.dumps faster than orjson.dumps: {'PASS' if target else 'MISS'}")

    report = {
        "rows": rows_n,
        "repeat": repeat,
        "quick": args.quick,
        "seconds": seconds,
        "ratios": ratios,
        "target_faster_than_orjson": target,
        "machine": machine_info(["orjson", "msgspec"]),
    }
    out = write_report(report, args.output, args.quick, RESULTS)
    # Rendered from what was written, so the markdown carries the JSON's time stamp.
    write_markdown(out, render(json.loads(out.read_text(encoding="utf-8"))))
    print(f"wrote {out} and {out.with_suffix('.md')}")


def render(report: dict[str, Any]) -> str:
    """The markdown of a report: provenance, the timings, the ratios."""
    seconds, ratios = report["seconds"], report["ratios"]
    what = f"JSON out: {report['rows']:,} orders"
    md = [
        *markdown_header(report, "bench_json.py", what),
        "",
        "| case | ms |",
        "|---|---:|",
        *(f"| `{k}` | {v * 1000:.1f} |" for k, v in seconds.items()),
        "",
        "| ratio (below 1: memslim faster) | x |",
        "|---|---:|",
        *(f"| {k} | {v:.2f} |" for k, v in ratios.items()),
        "",
        "`memslim.dumps` returns a `str`, byte-identical to `json.dumps` (checked before timing);",
        "`orjson.dumps` returns `bytes`. Each is timed as a user calls it. Goal (issues 14 and",
        "15): `memslim.dumps(DictList)` faster than `orjson.dumps(list of dicts)` at 1,000,000",
        "orders.",
    ]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
