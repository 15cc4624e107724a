"""Everyday operations on memslim.TupleList / DictList against the list they replace and polars.

    python benches/bench_rows.py              # 1,000,000 generated orders
    python benches/bench_rows.py --rows 200000
    python benches/bench_rows.py --quick      # a tiny smoke run (the test suite uses it)

One fresh process per representation builds the orders of :mod:`workload` and times,
as medians of ``--repeat`` runs:

* ``row loop``: ``for t in rows: t[2] * t[3]`` (tuples) over the list of tuples and the
  TupleList (namedtuple rows made natively, in batches);
* ``random access``: ``rows[i]`` for 200,000 pseudo-random ``i`` (fixed seed);
* ``filter``: ``[t for t in rows if t[5] == "DE"]``;
* ``where``: the same selection the way each does it best: the comprehension over the
  list of tuples, ``rows.where("country", "==", "DE")`` (native, a new TupleList) on
  the TupleList;
* ``count DE`` / ``filter DE``: counting and selecting ``country == "DE"``: a loop over
  the list of dicts, ``rows.column("country").count("DE")`` and
  ``rows.where("country", "==", "DE")`` on a DictList, and polars
  (``(df["country"] == "DE").sum()``, ``df.filter(pl.col("country") == "DE")``).

Ratios are against the list of tuples (tuple rows) and against polars (count / filter).
Written as JSON to ``benches/results/rows.json`` and markdown to ``rows.md``
(``--quick``: a temporary directory; ``--output`` wins).
"""

from __future__ import annotations

import random
import sys
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import make_records, median_seconds, ms, peer_bench_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "rows.json"
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
FIELDS = ("id", "user", "price", "qty", "paid", "country", "note")
PEERS = ("list of tuples", "memslim.TupleList", "list of dicts", "memslim.DictList", "polars")


def row_loop(rows: Any) -> float:
    total = 0.0
    for t in rows:
        total += t[2] * t[3]
    return total


def random_access(rows: Any, picks: list[int]) -> int:
    n = 0
    for i in picks:
        n += rows[i][3]
    return n


def tuple_filter(rows: Any) -> int:
    return len([t for t in rows if t[5] == "DE"])


def measure(peer: str, n: int, repeat: int) -> dict[str, Any]:
    as_tuple = itemgetter(*FIELDS)
    rng = random.Random(7)
    picks = [rng.randrange(n) for _ in range(min(n, 200_000))]
    out: dict[str, Any] = {"peer": peer, "rows": n}
    if peer in ("list of tuples", "memslim.TupleList"):
        data = [as_tuple(r) for r in make_records(n)]
        if peer == "memslim.TupleList":
            import memslim

            data = memslim.TupleList(data, FIELDS)
        out["row loop"] = median_seconds(lambda: row_loop(data), repeat)[0]
        out["random access"] = median_seconds(lambda: random_access(data, picks), repeat)[0]
        out["filter"] = median_seconds(lambda: tuple_filter(data), repeat)[0]
        if peer == "memslim.TupleList":
            out["where"] = median_seconds(lambda: data.where("country", "==", "DE"), repeat)[0]
        else:
            out["where"] = out["filter"]
        return out
    if peer in ("list of dicts", "memslim.DictList"):
        dicts = list(make_records(n))
        if peer == "list of dicts":
            out["count DE"] = median_seconds(
                lambda: sum(1 for r in dicts if r["country"] == "DE"), repeat
            )[0]
            out["filter DE"] = median_seconds(
                lambda: [r for r in dicts if r["country"] == "DE"], repeat
            )[0]
            return out
        import memslim

        rows = memslim.DictList(dicts)
        del dicts
        out["count DE"] = median_seconds(lambda: rows.column("country").count("DE"), repeat)[0]
        out["filter DE"] = median_seconds(lambda: rows.where("country", "==", "DE"), repeat)[0]
        return out
    import polars as pl

    df = pl.DataFrame(list(make_records(n)))
    out["count DE"] = median_seconds(lambda: (df["country"] == "DE").sum(), repeat)[0]
    out["filter DE"] = median_seconds(lambda: df.filter(pl.col("country") == "DE"), repeat)[0]
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def report_md(results: dict[str, dict[str, Any]], n: int) -> str:
    lt, tl = results.get("list of tuples", {}), results.get("memslim.TupleList", {})
    ld, dl, pl = (results.get(k, {}) for k in ("list of dicts", "memslim.DictList", "polars"))
    lines = [
        f"# Everyday operations, {n:,} orders",
        "",
        "| operation | list it replaces | memslim | polars | memslim / list | memslim / polars |",
        "|---|---|---|---|---|---|",
    ]
    for op in ("row loop", "random access", "filter", "where"):
        lines.append(
            f"| TupleList {op} | {ms(lt.get(op))} | {ms(tl.get(op))} | | "
            f"{_ratio(tl.get(op), lt.get(op))} | |"
        )
    for op in ("count DE", "filter DE"):
        lines.append(
            f"| DictList {op} | {ms(ld.get(op))} | {ms(dl.get(op))} | {ms(pl.get(op))} | "
            f"{_ratio(dl.get(op), ld.get(op))} | {_ratio(dl.get(op), pl.get(op))} |"
        )
    errors = [f"- {k}: {v['error'].splitlines()[0]}" for k, v in results.items() if "error" in v]
    lines += [
        "",
        "Medians of repeated runs, one fresh process per representation. Goals (issue 15):",
        "TupleList row loop <= 1.3x and random access / filter <= 1.5x the list of tuples;",
        'count / filter `country == "DE"` <= 2x polars.',
        *errors,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return peer_bench_main(
        argv,
        script=__file__,
        doc=__doc__ or "",
        peers=PEERS,
        rows=(QUICK_ROWS, DEFAULT_ROWS),
        measure=measure,
        report_md=report_md,
        results=RESULTS,
        packages=["memslim", "polars"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
