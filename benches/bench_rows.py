"""Everyday operations on memslim.TupleList / DictList against the list they replace and polars.

    python benches/bench_rows.py                     # 1,000,000 generated orders
    python benches/bench_rows.py --rows 200000
    python benches/bench_rows.py --dataset flights   # the 336,776 NYC flights of 2013
    python benches/bench_rows.py --quick             # a tiny smoke run (the test suite uses it)

One fresh process per representation builds the records of a data set of :mod:`datasets`
(the generated orders by default), as tuples in field order or as dicts, and times, as
medians of ``--repeat`` runs (``a``, ``b``: the positions of the data set's loop fields,
``price`` and ``qty`` for the orders; ``f == v``: its filter, ``country == "DE"``):

* ``row loop``: ``for t in rows: t[a] * t[b]`` over the list of tuples and the
  TupleList (namedtuple rows made natively, in batches), and over a TupleList made with
  ``row_type=tuple`` (plain tuple rows) for the row loop, random access and filter;
* ``zip loop``: the row loop over ``zip(*lists)``, one Python list per field holding the
  values that already exist: zip makes the tuples and nothing else, the least any maker
  of rows costs (in the list of tuples' process);
* ``column loop``: the same products over ``zip(rows.column(a), rows.column(b))`` on the
  TupleList, which makes only those two values per record (against the list's row loop);
* ``random access``: ``rows[i][b]`` for 200,000 pseudo-random ``i`` (fixed seed);
* ``filter``: ``[t for t in rows if t[f] == v]``;
* ``where``: the same selection the way each does it best: the comprehension over the
  list of tuples, ``rows.where(f, "==", v)`` (native, a new TupleList) on the TupleList;
* ``count`` / ``filter``: counting and selecting ``f == v``: a loop over the list of
  dicts, ``rows.column(f).count(v)`` and ``rows.where(f, "==", v)`` on a DictList, and
  polars (``(df[f] == v).sum()``, ``df.filter(pl.col(f) == v)``); both also over the
  DictList saved to a record file and opened (``DictList.open``, in the page cache);
* ``load``: that record file read into a new DictList (``DictList(DictList.open(path))``),
  against ``pickle.loads`` of the list of dicts' pickle and ``pl.read_ipc_stream`` of
  polars' own Arrow IPC stream of the same records (each in the page cache or memory);
* records as dicts, on the DictList against the list of dicts: ``r.get(a)`` and
  ``r.get("missing")``, a field overwritten (``r[b] = r[b]``), a field added to every
  record and removed again (``r["total"] = r[a] * r[b]``, ``del r["total"]``),
  ``[dict(r) for r in rows]``, ``for k, v in r.items()`` over every record, ``list(rows)``,
  a copy (``DictList(rows)``, against ``list(rows)``), ``sorted(rows, key=itemgetter(a))``
  and ``rows == rows[:]``;
* edits, in place, each on the list the one before left: ``rows.reverse()``, 10,000
  ``rows[i:i+1] = [r]``, 10,000 ``rows.append(r)``, 10,000 ``rows.extend([r])`` and 5,000
  ``rows.extend([r, s])``,
  then ``random.shuffle(rows)``, on both lists against the list they replace;
* polars also runs the row loop, random access and filter over its rows as tuples
  (``df.iter_rows()``, ``df.row(i)``): what rows cost from a columnar peer.

Ratios are against the list of tuples (tuple rows) and against polars.
Written as JSON to ``benches/results/rows.json`` (``rows-flights.json`` for the flights)
and markdown beside it (``--quick``: a temporary directory; ``--output`` wins);
``--from-json FILE`` renders the markdown of an earlier report again.
"""

from __future__ import annotations

import pickle
import random
import sys
import tempfile
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import Dataset
from workload import median_seconds, ms, peer_bench_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "rows.json"
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
PLAIN = "memslim.TupleList (row_type=tuple)"
PEERS = (
    "list of tuples",
    "memslim.TupleList",
    PLAIN,
    "list of dicts",
    "memslim.DictList",
    "polars",
)


def row_loop(rows: Any, a: int, b: int) -> float:
    total = 0.0
    for t in rows:
        total += t[a] * t[b]
    return total


def column_loop(rows: Any, a: str, b: str) -> float:
    total = 0.0
    for x, y in zip(rows.column(a), rows.column(b)):
        total += x * y
    return total


def random_access(rows: Any, picks: list[int], b: int) -> int:
    n = 0
    for i in picks:
        n += rows[i][b]
    return n


class PolarsRows:
    """``rows[i]`` of a polars DataFrame: ``df.row(i)``, a tuple."""

    def __init__(self, df: Any) -> None:
        self.row = df.row

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        return self.row(i)


EDITS = 10_000


def edits(out: dict[str, Any], rows: Any, extra: list[Any], repeat: int) -> None:
    """Everyday edits, in place, each figure on the list the one before left: reverse,
    ``EDITS`` one-record slice assignments, appends, one-record extends and as many
    records again in two-record extends, then a shuffle."""
    n = len(rows)
    step = max(1, n // EDITS)

    def assign() -> None:
        for k, i in enumerate(range(0, n, step)):
            rows[i : i + 1] = [extra[k % len(extra)]]

    def append() -> None:
        for r in extra:
            rows.append(r)

    def extend() -> None:
        for r in extra:
            rows.extend([r])

    def extend_pairs() -> None:
        for k in range(0, len(extra) - 1, 2):
            rows.extend(extra[k : k + 2])

    out["reverse"] = median_seconds(rows.reverse, repeat)[0]
    out["slice assign"] = median_seconds(assign, repeat)[0]
    out["append"] = median_seconds(append, repeat)[0]
    out["extend one"] = median_seconds(extend, repeat)[0]
    out["extend pairs"] = median_seconds(extend_pairs, repeat)[0]
    out["shuffle"] = median_seconds(lambda: random.Random(3).shuffle(rows), repeat)[0]


def items_loop(rows: Any) -> int:
    n = 0
    for r in rows:
        for _k, _v in r.items():
            n += 1
    return n


def get_loop(rows: Any, a: str) -> int:
    n = 0
    for r in rows:
        if r.get(a) is not None and r.get("missing") is None:
            n += 1
    return n


def set_loop(rows: Any, b: str) -> None:
    for r in rows:
        r[b] = r[b]


def add_and_drop(rows: Any, a: str, b: str) -> None:
    for r in rows:
        r["total"] = r[a] * r[b]
    for r in rows:
        del r["total"]


def dict_ops(out: dict[str, Any], rows: Any, fields: tuple[str, str], repeat: int) -> None:
    """What code written for a list of dicts does with its records as dicts."""
    field = fields[0]
    by = itemgetter(field)
    out["get"] = median_seconds(lambda: get_loop(rows, field), repeat)[0]
    out["set field"] = median_seconds(lambda: set_loop(rows, fields[1]), repeat)[0]
    out["add field"] = median_seconds(lambda: add_and_drop(rows, *fields), repeat)[0]
    out["dict copies"] = median_seconds(lambda: [dict(r) for r in rows], repeat)[0]
    out["items loop"] = median_seconds(lambda: items_loop(rows), repeat)[0]
    out["list"] = median_seconds(lambda: list(rows), repeat)[0]
    out["copy"] = median_seconds(lambda: type(rows)(rows), repeat)[0]
    out["sorted"] = median_seconds(lambda: sorted(rows, key=by), repeat)[0]
    out["equal copy"] = median_seconds(lambda: rows == rows[:], repeat)[0]


def tuple_filter(rows: Any, f: int, v: Any) -> int:
    return len([t for t in rows if t[f] == v])


STRUCT_CODES = {"int64": "q", "float64": "d", "bool": "?"}
EXACT_TYPES = {"int64": int, "float64": float, "bool": bool}


def fixed_width(ds: Dataset, n: int) -> tuple[tuple[str, ...], list[tuple[Any, ...]], str] | None:
    """The data set's fields of one fixed-width type and no nulls (ints, floats, bools),
    its records as tuples of those fields, and their ``struct`` format; ``None`` if the
    loop fields are not among them or a value is not exactly of its field's type."""
    fields = tuple(
        f for f in ds.fields if ds.dtypes.get(f) in STRUCT_CODES and f not in ds.nullable
    )
    if not all(f in fields for f in ds.loop_fields):
        return None
    as_tuple = itemgetter(*fields)
    rows = [as_tuple(r) for r in ds.records(n)]
    types = [EXACT_TYPES[ds.dtypes[f]] for f in fields]
    if any(type(v) is not t for row in rows for v, t in zip(row, types, strict=True)):
        return None
    return fields, rows, "<" + "".join(STRUCT_CODES[ds.dtypes[f]] for f in fields)


def fixed_width_loops(
    out: dict[str, Any], ds: Dataset, n: int, peer: str, picks: list[int], repeat: int
) -> None:
    """The row loop and random access over the fixed-width fields alone (see
    [`fixed_width`]): for the list of tuples, also through ``struct`` (``iter_unpack``,
    ``unpack_from``), CPython's own native maker of tuples of new numbers, the floor of
    any maker of such rows; for the TupleList with plain tuple rows, over a TupleList of
    those fields."""
    got = fixed_width(ds, n)
    if got is None:
        return
    fields, rows, fmt = got
    a, b = (fields.index(k) for k in ds.loop_fields)
    if peer == PLAIN:
        import memslim

        tl = memslim.TupleList(rows, fields, row_type=tuple)
        rows.clear()
        out["fixed row loop"] = median_seconds(lambda: row_loop(tl, a, b), repeat)[0]
        out["fixed random access"] = median_seconds(lambda: random_access(tl, picks, b), repeat)[0]
        return
    import struct

    out["fixed fields"] = list(fields)
    out["fixed row loop"] = median_seconds(lambda: row_loop(rows, a, b), repeat)[0]
    out["fixed random access"] = median_seconds(lambda: random_access(rows, picks, b), repeat)[0]
    buf = b"".join(struct.pack(fmt, *r) for r in rows)
    rows.clear()
    out["struct loop"] = median_seconds(
        lambda: row_loop(struct.iter_unpack(fmt, buf), a, b), repeat
    )[0]
    out["struct random access"] = median_seconds(
        lambda: random_access(StructRows(fmt, buf), picks, b), repeat
    )[0]


class StructRows:
    """``rows[i]`` of records packed by ``struct``: ``unpack_from`` at record ``i``."""

    def __init__(self, fmt: str, buf: bytes) -> None:
        import struct

        layout = struct.Struct(fmt)
        self.unpack_from, self.size, self.buf = layout.unpack_from, layout.size, buf

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        return self.unpack_from(self.buf, i * self.size)


def arrow_loads(out: dict[str, Any], dicts: list[dict[str, Any]], peer: str, repeat: int) -> None:
    """Loading the records from a pyarrow Table and from the Parquet file pyarrow writes
    of it (in the page cache), with the peer's own readers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if peer == "list of dicts":
        from_table, from_file = pa.Table.to_pylist, lambda p: pq.read_table(p).to_pylist()
    elif peer == "memslim.DictList":
        import memslim

        from_table, from_file = memslim.DictList.from_arrow, memslim.read_parquet
    else:
        import polars as pl

        from_table, from_file = pl.from_arrow, pl.read_parquet
    table = pa.Table.from_pylist(dicts)
    out["from arrow"] = median_seconds(lambda: from_table(table), repeat)[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.parquet"
        pq.write_table(table, path)
        out["from parquet"] = median_seconds(lambda: from_file(path), repeat)[0]


def measure(peer: str, ds: Dataset, n: int, repeat: int) -> dict[str, Any]:
    a, b = (ds.fields.index(k) for k in ds.loop_fields)
    key, value = ds.filter_field, ds.filter_value
    rng = random.Random(7)
    picks = [rng.randrange(n) for _ in range(min(n, 200_000))]
    out: dict[str, Any] = {"peer": peer, "rows": n}
    if peer in ("list of tuples", "memslim.TupleList", PLAIN):
        as_tuple = itemgetter(*ds.fields)
        data = [as_tuple(r) for r in ds.records(n)]
        if peer != "list of tuples":
            import memslim

            row_type = tuple if peer == PLAIN else None
            data = memslim.TupleList(data, ds.fields, row_type=row_type)
        f = ds.fields.index(key)
        out["row loop"] = median_seconds(lambda: row_loop(data, a, b), repeat)[0]
        if peer == "memslim.TupleList":
            out["column loop"] = median_seconds(lambda: column_loop(data, *ds.loop_fields), repeat)[
                0
            ]
        out["random access"] = median_seconds(lambda: random_access(data, picks, b), repeat)[0]
        out["filter"] = median_seconds(lambda: tuple_filter(data, f, value), repeat)[0]
        if peer != "list of tuples":
            out["where"] = median_seconds(lambda: data.where(key, "==", value), repeat)[0]
        else:
            out["where"] = out["filter"]
            # Rows made from values that already exist, one list per field: zip makes
            # (and reuses) the tuples and nothing else, the least any maker of rows costs.
            cols = [list(c) for c in zip(*data)]
            out["zip loop"] = median_seconds(lambda: row_loop(zip(*cols), a, b), repeat)[0]
            del cols
        if peer != "memslim.TupleList":
            fixed_width_loops(out, ds, n, peer, picks, repeat)
        edits(out, data, [as_tuple(r) for r in ds.records(EDITS)], repeat)
        return out
    if peer in ("list of dicts", "memslim.DictList"):
        dicts = list(ds.records(n))
        if peer == "list of dicts":
            out["count"] = median_seconds(lambda: sum(1 for r in dicts if r[key] == value), repeat)[
                0
            ]
            # What a list of dicts loads from: its pickle (in memory, as a file in the
            # page cache would be).
            payload = pickle.dumps(dicts, protocol=5)
            out["load"] = median_seconds(lambda: pickle.loads(payload), repeat)[0]
            del payload
            out["select"] = median_seconds(lambda: [r for r in dicts if r[key] == value], repeat)[0]
            arrow_loads(out, dicts, peer, repeat)
            dict_ops(out, dicts, ds.loop_fields, repeat)
            edits(out, dicts, list(ds.records(EDITS)), repeat)
            return out
        import memslim

        arrow_loads(out, dicts, peer, repeat)
        rows = memslim.DictList(dicts)
        del dicts
        out["count"] = median_seconds(lambda: rows.column(key).count(value), repeat)[0]
        out["select"] = median_seconds(lambda: rows.where(key, "==", value), repeat)[0]
        # The same records in a record file, in the page cache (just written).
        with tempfile.TemporaryDirectory() as tmp:
            rows.save(Path(tmp) / "rows.msl")
            with memslim.DictList.open(Path(tmp) / "rows.msl", "r") as on_disk:
                out["file count"] = median_seconds(
                    lambda: on_disk.column(key).count(value), repeat
                )[0]
                out["file select"] = median_seconds(
                    lambda: on_disk.where(key, "==", value), repeat
                )[0]
                out["load"] = median_seconds(lambda: memslim.DictList(on_disk), repeat)[0]
        dict_ops(out, rows, ds.loop_fields, repeat)
        edits(out, rows, list(ds.records(EDITS)), repeat)
        return out
    import polars as pl

    arrow_loads(out, list(ds.records(n)), peer, repeat)
    df = pl.DataFrame(list(ds.records(n)), infer_schema_length=None).select(ds.fields)
    # Its rows as tuples, for the TupleList's operations: what a columnar peer costs.
    f = ds.fields.index(key)
    out["row loop"] = median_seconds(lambda: row_loop(df.iter_rows(), a, b), repeat)[0]
    out["random access"] = median_seconds(lambda: random_access(PolarsRows(df), picks, b), repeat)[
        0
    ]
    out["filter"] = median_seconds(lambda: tuple_filter(df.iter_rows(), f, value), repeat)[0]
    out["count"] = median_seconds(lambda: (df[key] == value).sum(), repeat)[0]
    out["select"] = median_seconds(lambda: df.filter(pl.col(key) == value), repeat)[0]
    with tempfile.TemporaryDirectory() as tmp:
        df.write_ipc_stream(Path(tmp) / "rows.arrows")
        out["load"] = median_seconds(lambda: pl.read_ipc_stream(Path(tmp) / "rows.arrows"), repeat)[
            0
        ]
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def report_md(results: dict[str, dict[str, Any]], n: int, ds: Dataset) -> str:
    lt, tl = results.get("list of tuples", {}), results.get("memslim.TupleList", {})
    ld, dl, pl = (results.get(k, {}) for k in ("list of dicts", "memslim.DictList", "polars"))
    cond = f"`{ds.filter_field} == {ds.filter_value!r}`"
    lines = [
        f"# Everyday operations, {n:,} {ds.name}",
        "",
        "| operation | list it replaces | memslim | polars | memslim / list | memslim / polars |",
        "|---|---|---|---|---|---|",
    ]
    for op in ("row loop", "random access", "filter", "where"):
        peer = pl.get("select" if op == "where" else op)
        lines.append(
            f"| TupleList {op} | {ms(lt.get(op))} | {ms(tl.get(op))} | {ms(peer)} | "
            f"{_ratio(tl.get(op), lt.get(op))} | {_ratio(tl.get(op), peer)} |"
        )
    a, b = ds.loop_fields
    lines.append(
        f"| TupleList two fields, `zip(rows.column({a!r}), rows.column({b!r}))` "
        f"| {ms(lt.get('row loop'))} | {ms(tl.get('column loop'))} | | "
        f"{_ratio(tl.get('column loop'), lt.get('row loop'))} | |"
    )
    plain = results.get(PLAIN, {})
    for op in ("row loop", "random access", "filter"):
        lines.append(
            f"| TupleList {op}, `row_type=tuple` | {ms(lt.get(op))} | {ms(plain.get(op))} | | "
            f"{_ratio(plain.get(op), lt.get(op))} | |"
        )
    for op, label in (("count", "count"), ("select", "filter")):
        lines.append(
            f"| DictList {label} {cond} | {ms(ld.get(op))} | {ms(dl.get(op))} | "
            f"{ms(pl.get(op))} | {_ratio(dl.get(op), ld.get(op))} | "
            f"{_ratio(dl.get(op), pl.get(op))} |"
        )
    for op, label in (("count", "count"), ("select", "filter (`where`, into a new DictList)")):
        got = dl.get(f"file {op}")
        lines.append(
            f"| `DictList.open` {label} {cond}, the file in the page cache | "
            f"{ms(ld.get(op))} | {ms(got)} | {ms(pl.get(op))} | {_ratio(got, ld.get(op))} | "
            f"{_ratio(got, pl.get(op))} |"
        )
    got = dl.get("load")
    lines.append(
        "| `DictList(DictList.open(path))`: the records of a record file read into memory, "
        "the file in the page cache (list: `pickle.loads` of its pickle; polars: "
        f"`pl.read_ipc_stream`) | {ms(ld.get('load'))} | {ms(got)} | {ms(pl.get('load'))} | "
        f"{_ratio(got, ld.get('load'))} | {_ratio(got, pl.get('load'))} |"
    )
    for op, label in (
        ("from arrow", "a pyarrow Table (list: `table.to_pylist()`; polars: `pl.from_arrow`)"),
        (
            "from parquet",
            (
                "a Parquet file pyarrow wrote, in the page cache (list: "
                "`pq.read_table(p).to_pylist()`; polars: `pl.read_parquet`)"
            ),
        ),
    ):
        got = dl.get(op)
        theirs = (
            "`DictList.from_arrow(table)`" if op == "from arrow" else "`memslim.read_parquet(p)`"
        )
        lines.append(
            f"| {theirs}: the records of {label} | {ms(ld.get(op))} | {ms(got)} | "
            f"{ms(pl.get(op))} | {_ratio(got, ld.get(op))} | {_ratio(got, pl.get(op))} |"
        )
    dict_rows = (
        ("get", f"`r.get({a!r})` and `r.get('missing')`, every record"),
        ("set field", f"`r[{b!r}] = r[{b!r}]`, every record"),
        ("add field", f"`r['total'] = r[{a!r}] * r[{b!r}]`, then `del r['total']`, every record"),
        ("dict copies", "`[dict(r) for r in rows]`"),
        ("items loop", "`for k, v in r.items()`, every record"),
        ("list", "`list(rows)`"),
        ("copy", "`DictList(rows)` (the list: `list(rows)`)"),
        ("sorted", f"`sorted(rows, key=itemgetter({a!r}))`"),
        ("equal copy", "`rows == rows[:]`"),
    )
    for op, label in dict_rows:
        lines.append(
            f"| DictList {label} | {ms(ld.get(op))} | {ms(dl.get(op))} | | "
            f"{_ratio(dl.get(op), ld.get(op))} | |"
        )
    edit_ops = (
        ("reverse", "`rows.reverse()`"),
        ("slice assign", f"`rows[i:i+1] = [r]` x{EDITS:,}"),
        ("append", f"`rows.append(r)` x{EDITS:,}"),
        ("extend one", f"`rows.extend([r])` x{EDITS:,}"),
        ("extend pairs", f"`rows.extend([r, s])` x{EDITS // 2:,}"),
        ("shuffle", "`random.shuffle(rows)`"),
    )
    for kind, mine, theirs in (("TupleList", tl, lt), ("DictList", dl, ld)):
        for op, label in edit_ops:
            lines.append(
                f"| {kind} {label} | {ms(theirs.get(op))} | {ms(mine.get(op))} | | "
                f"{_ratio(mine.get(op), theirs.get(op))} | |"
            )
    errors = [f"- {k}: {v['error'].splitlines()[0]}" for k, v in results.items() if "error" in v]
    lines += [
        "",
        (
            f"Row loop: `t[i] * t[j]`, `i` and `j` the positions of `{a}` and `{b}`; "
            f"random access: `rows[k][j]`; filter and where select {cond}. The two-field loop "
            "multiplies the same two values, read from two columns instead of from rows (its "
            "list figure is the list's row loop). polars: the same loops over its rows as "
            "tuples (`df.iter_rows()`, `df.row(k)`), `df.filter` for where."
        ),
        (
            "The least that making rows on demand costs: the row loop over tuples made "
            "from values that already exist (`zip(*lists)`, one Python list per field; zip "
            f"makes the tuples and nothing else) takes {ms(lt.get('zip loop'))}, "
            f"{_ratio(lt.get('zip loop'), lt.get('row loop'))} the list of tuples' row loop."
        ),
        *fixed_width_md(lt, plain),
        "Medians of repeated runs, one fresh process per representation. Goals (issue 15):",
        "TupleList row loop <= 1.3x and random access / filter <= 1.5x the list of tuples;",
        "DictList count / filter <= 2x polars.",
        *errors,
    ]
    return "\n".join(lines) + "\n"


def fixed_width_md(lt: dict[str, Any], plain: dict[str, Any]) -> list[str]:
    """The sentence on the fixed-width fields' row loop, if it was measured."""
    if "struct loop" not in lt:
        return []
    names = ", ".join(f"`{f}`" for f in lt["fixed fields"])
    loop, pick = lt.get("fixed row loop"), lt.get("fixed random access")
    return [
        (
            "The floor of a native maker of rows, over the fixed-width fields alone "
            f"({names}), against the list of tuples of those fields: row loop "
            f"{ms(loop)}, random access {ms(pick)}. The same records packed by `struct` "
            "(CPython's own C code makes each tuple and its numbers): "
            f"`struct.iter_unpack` {ms(lt.get('struct loop'))}, "
            f"{_ratio(lt.get('struct loop'), loop)}; `unpack_from` per record "
            f"{ms(lt.get('struct random access'))}, "
            f"{_ratio(lt.get('struct random access'), pick)}. A TupleList of those fields "
            f"(`row_type=tuple`): {ms(plain.get('fixed row loop'))}, "
            f"{_ratio(plain.get('fixed row loop'), loop)}; random access "
            f"{ms(plain.get('fixed random access'))}, "
            f"{_ratio(plain.get('fixed random access'), pick)}."
        )
    ]


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
