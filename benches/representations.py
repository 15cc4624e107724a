"""Every way of holding records the comparison suite measures, one ``Representation`` each.

To measure another representation (``memslim.read_jsonl``, a persistent ``DictList.open``,
``DocList``), append one ``Representation`` to :func:`representations`: a name, the modules
it needs, how to build it from a list of dicts, how a user reads its rows, and how it loads
a JSONL file. Everything else (fresh processes, figures, ratios, tables, charts) follows.

The row loop, random access, aggregate and filter of the plain-Python peers are generated
from one template per figure (``compile_figures``), with the field access each peer's users
write (``r["price"]``, ``r.price`` or ``r[2]``), so every peer runs the same loop body.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from datasets import Dataset
from workload import chunked

CHUNK = 10_000


@dataclass(frozen=True)
class Representation:
    """How one representation is built, read, queried and loaded."""

    name: str
    requires: tuple[str, ...]  # modules that must import, else the peer is skipped
    from_dicts: Callable[[list[dict[str, Any]], Dataset], Any]
    access: str  # how a record's field is read: "key", "attr" or "index"
    # Expressions over ``obj`` (the structure) and ``i`` (a position), for the generated loops.
    iterate: str = "obj"
    get: str = "obj[i]"
    # Whole-structure figures; None: the generated Python loop over records.
    column_sum: Callable[[Any, str], Any] | None = None
    filter_eq: Callable[[Any, str, Any], Any] | None = None
    # Built without ever holding the list of dicts; None: from chunks of CHUNK dicts, concatenated.
    stream: Callable[[Iterator[dict[str, Any]], Dataset], Any] | None = None
    concat: Callable[[list[Any]], Any] | None = None
    nbytes: Callable[[Any], int] | None = None
    nbytes_label: str | None = None
    read_jsonl: Callable[[Path, Dataset], Any] | None = None
    length: Callable[[Any], int] = len
    note: str = ""
    # Which child processes measure it: "save" (build = save a record file), "memory",
    # "ingest", "timing".
    parts: tuple[str, ...] = ("memory", "ingest", "timing")
    # Opens the record file the "save" part wrote, instead of building from records.
    open_file: Callable[[Path], Any] | None = None
    save: Callable[[Iterable[dict[str, Any]], Path], Any] | None = None
    # Figure key (tables.FIGURES) -> why the figure does not apply; shown as n/a.
    not_applicable: dict[str, str] = field(default_factory=dict)
    # Why it cannot hold a field whose type changes from record to record (None: it can);
    # such data sets show it as n/a with this reason rather than silently coerced.
    cannot_mix: str | None = None
    holds_records: bool = True  # False: a stream that keeps no records
    # Figure keys where its value is no rival to the others' (left out of "best peer").
    not_a_peer_for: tuple[str, ...] = ()

    def build_streaming(self, records: Iterator[dict[str, Any]], ds: Dataset) -> Any:
        if self.stream is not None:
            return self.stream(records, ds)
        assert self.concat is not None, f"{self.name}: needs stream or concat"
        return self.concat([self.from_dicts(chunk, ds) for chunk in chunked(records, CHUNK)])


def _accessor(access: str, name: str, ds: Dataset) -> str:
    if access == "key":
        return f"[{name!r}]"
    if access == "attr":
        return f".{name}"
    return f"[{ds.fields.index(name)}]"


def compile_figures(rep: Representation, ds: Dataset) -> dict[str, Callable[..., Any]]:
    """The row loop, random access, aggregate and filter of ``rep`` for ``ds``, as functions."""
    a, b = (_accessor(rep.access, f, ds) for f in ds.loop_fields)
    s = _accessor(rep.access, ds.sum_field, ds)
    f = _accessor(rep.access, ds.filter_field, ds)
    # Ints among the mixed-type fields at the given positions: a representation that turned
    # them into floats is caught by the cross-check against the list of dicts.
    census = " + ".join(f"(type(r{_accessor(rep.access, m, ds)}) is int)" for m in ds.mixed) or "0"
    source = f"""
def row_loop(obj):
    total = 0
    for r in {rep.iterate}:
        total += r{a} * r{b}
    return total

def random_access(obj, positions):
    total = 0
    for i in positions:
        r = {rep.get}
        total += r{a}
    return total

def column_sum(obj, name):
    return sum(v for r in {rep.iterate} if (v := r{s}) is not None)

def filter_eq(obj, name, value):
    return [r for r in {rep.iterate} if r{f} == value]

def int_census(obj, positions):
    n = 0
    for i in positions:
        r = {rep.get}
        n += {census}
    return n
"""
    namespace: dict[str, Any] = {"chain": __import__("itertools").chain}
    # The source is the template above with field accessors we made: no outside input.
    exec(compile(source, f"<figures of {rep.name}>", "exec"), namespace)  # noqa: S102
    names = ("row_loop", "random_access", "column_sum", "filter_eq", "int_census")
    figures = {k: namespace[k] for k in names}
    if rep.column_sum is not None:
        figures["column_sum"] = rep.column_sum
    if rep.filter_eq is not None:
        figures["filter_eq"] = rep.filter_eq
    return figures


# -- record classes, made per data set and importable so that pickle finds them -----------


def record_class(kind: str, ds: Dataset) -> Any:
    """The namedtuple, slotted dataclass or msgspec.Struct class for ``ds``'s records."""
    name = f"{ds.name.capitalize()}{kind}"
    existing = globals().get(name)
    if existing is not None:
        return existing
    cls: Any
    if kind == "Tuple":
        cls = collections.namedtuple(name, ds.fields)  # type: ignore[misc,no-redef]
    elif kind == "Dataclass":
        cls = dataclasses.make_dataclass(name, ds.fields, slots=True)
    else:
        import msgspec

        py_types: dict[str, Any] = {"int64": int, "float64": float, "bool": bool, "str": str}
        annotations = []
        for f in ds.fields:
            kind = int | float if f in ds.mixed else py_types[ds.dtypes[f]]
            annotations.append((f, kind | None if f in ds.nullable else kind))
        cls = msgspec.defstruct(name, annotations)
    cls.__module__ = __name__
    globals()[name] = cls
    return cls


def _jsonl_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        yield from lines


def _jsonl_dicts(path: Path) -> Iterator[dict[str, Any]]:
    return map(json.loads, _jsonl_lines(path))


# -- plain Python --------------------------------------------------------------------------


def _list_of_dicts() -> Representation:
    return Representation(
        name="list of dicts",
        requires=(),
        from_dicts=lambda records, ds: records,
        stream=lambda records, ds: list(records),
        access="key",
        read_jsonl=lambda path, ds: list(_jsonl_dicts(path)),
        note="the baseline",
    )


def _list_of_tuples() -> Representation:
    def convert(records: Iterable[dict[str, Any]], ds: Dataset) -> list[tuple[Any, ...]]:
        return list(map(itemgetter(*ds.fields), records))

    return Representation(
        name="list of tuples",
        requires=(),
        from_dicts=convert,
        stream=convert,
        access="index",
        read_jsonl=lambda path, ds: convert(_jsonl_dicts(path), ds),
    )


def _record_objects(label: str, kind: str) -> Representation:
    def convert(records: Iterable[dict[str, Any]], ds: Dataset) -> list[Any]:
        cls = record_class(kind, ds)
        return [cls(**r) for r in records]

    return Representation(
        name=label,
        requires=(),
        from_dicts=convert,
        stream=convert,
        access="attr",
        read_jsonl=lambda path, ds: convert(_jsonl_dicts(path), ds),
    )


def _msgspec() -> Representation:
    def convert(records: Iterable[dict[str, Any]], ds: Dataset) -> list[Any]:
        cls = record_class("Struct", ds)
        return [cls(**r) for r in records]

    def read(path: Path, ds: Dataset) -> list[Any]:
        import msgspec

        decode = msgspec.json.Decoder(record_class("Struct", ds)).decode
        with path.open("rb") as lines:
            return [decode(line) for line in lines]

    return Representation(
        name="msgspec.Struct",
        requires=("msgspec",),
        from_dicts=convert,
        stream=convert,
        access="attr",
        read_jsonl=read,
        note="typed per data set (int | float where a field mixes them); JSONL decoded "
        "straight into structs",
    )


# -- numpy ---------------------------------------------------------------------------------


def numpy_dtype(ds: Dataset) -> Any:
    import numpy as np

    def one(name: str) -> str:
        kind = ds.dtypes[name]
        if kind == "str":
            return f"U{ds.str_widths[name]}"
        if kind == "bool":
            return "?"
        if kind == "int64" and name not in ds.nullable:
            return "i8"
        return "f8"  # floats, and ints with nulls (NaN)

    return np.dtype([(name, one(name)) for name in ds.fields])


def _numpy() -> Representation:
    def convert(records: Iterable[dict[str, Any]], ds: Dataset) -> Any:
        import numpy as np

        dtype = numpy_dtype(ds)
        nan = float("nan")
        fill = tuple("" if ds.dtypes[f] == "str" else nan for f in ds.fields)
        rows = [
            tuple(fill[j] if v is None else v for j, v in enumerate(map(r.__getitem__, ds.fields)))
            for r in records
        ]
        return np.array(rows, dtype=dtype)

    def concat(parts: list[Any]) -> Any:
        import numpy as np

        return np.concatenate(parts)

    def column_sum(arr: Any, name: str) -> float:
        import numpy as np

        return float(np.nansum(arr[name]))

    return Representation(
        name="numpy structured array",
        requires=("numpy",),
        from_dicts=convert,
        concat=concat,
        access="key",
        column_sum=column_sum,
        filter_eq=lambda arr, name, value: arr[arr[name] == value],
        nbytes=lambda arr: arr.nbytes,
        nbytes_label="arr.nbytes",
        read_jsonl=lambda path, ds: concat(
            [convert(chunk, ds) for chunk in chunked(_jsonl_dicts(path), CHUNK)]
        ),
        note="fixed-width strings; None stored as '' or NaN",
        cannot_mix="its float64 fields would turn the ints among floats into floats",
    )


# -- dataframes ----------------------------------------------------------------------------


def arrow_schema(ds: Dataset) -> Any:
    import pyarrow as pa

    types = {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    return pa.schema([(name, types[ds.dtypes[name]]) for name in ds.fields])


def _pyarrow() -> Representation:
    def convert(records: list[dict[str, Any]], ds: Dataset) -> Any:
        import pyarrow as pa

        return pa.Table.from_pylist(records, schema=arrow_schema(ds))

    def concat(parts: list[Any]) -> Any:
        import pyarrow as pa

        return pa.concat_tables(parts)

    def column_sum(table: Any, name: str) -> Any:
        import pyarrow.compute as pc

        return pc.sum(table.column(name)).as_py()

    def filter_eq(table: Any, name: str, value: Any) -> Any:
        import pyarrow.compute as pc

        return table.filter(pc.equal(table.column(name), value))

    def read(path: Path, ds: Dataset) -> Any:
        import pyarrow.json as pj

        options = pj.ParseOptions(explicit_schema=arrow_schema(ds))
        return pj.read_json(path, parse_options=options)

    return Representation(
        name="pyarrow.Table",
        requires=("pyarrow", "pyarrow.compute", "pyarrow.json"),
        from_dicts=convert,
        concat=concat,
        access="key",
        iterate="chain.from_iterable(b.to_pylist() for b in obj.to_batches())",
        get="obj.slice(i, 1).to_pylist()[0]",
        column_sum=column_sum,
        filter_eq=filter_eq,
        nbytes=lambda table: table.nbytes,
        nbytes_label="table.nbytes",
        read_jsonl=read,
        length=lambda table: table.num_rows,
        cannot_mix="a float64 column would turn the ints among floats into floats",
    )


def polars_schema(ds: Dataset) -> dict[str, Any]:
    import polars as pl

    types = {"int64": pl.Int64, "float64": pl.Float64, "bool": pl.Boolean, "str": pl.String}
    return {name: types[ds.dtypes[name]] for name in ds.fields}


def _polars() -> Representation:
    def convert(records: list[dict[str, Any]], ds: Dataset) -> Any:
        import polars as pl

        return pl.from_dicts(records, schema=polars_schema(ds))

    def concat(parts: list[Any]) -> Any:
        import polars as pl

        return pl.concat(parts, rechunk=False)

    def filter_eq(df: Any, name: str, value: Any) -> Any:
        import polars as pl

        return df.filter(pl.col(name) == value)

    def read(path: Path, ds: Dataset) -> Any:
        import polars as pl

        return pl.read_ndjson(path, schema=polars_schema(ds))

    return Representation(
        name="polars.DataFrame",
        requires=("polars",),
        from_dicts=convert,
        concat=concat,
        access="key",
        iterate="obj.iter_rows(named=True)",
        get="obj.row(i, named=True)",
        column_sum=lambda df, name: df[name].sum(),
        filter_eq=filter_eq,
        nbytes=lambda df: df.estimated_size(),
        nbytes_label="df.estimated_size()",
        read_jsonl=read,
        cannot_mix="a Float64 column would turn the ints among floats into floats",
    )


def _pandas() -> Representation:
    def convert(records: list[dict[str, Any]], ds: Dataset) -> Any:
        import pandas as pd

        return pd.DataFrame(records, columns=list(ds.fields))

    def concat(parts: list[Any]) -> Any:
        import pandas as pd

        return pd.concat(parts, ignore_index=True)

    def read(path: Path, ds: Dataset) -> Any:
        import pandas as pd

        return pd.read_json(path, lines=True, dtype=False, convert_dates=False)

    return Representation(
        name="pandas.DataFrame",
        requires=("pandas",),
        from_dicts=convert,
        concat=concat,
        access="attr",
        iterate="obj.itertuples(index=False)",
        get="obj.iloc[i]",
        column_sum=lambda df, name: float(df[name].sum()),
        filter_eq=lambda df, name, value: df[df[name] == value],
        nbytes=lambda df: int(df.memory_usage(deep=True).sum()),
        nbytes_label="df.memory_usage(deep=True).sum()",
        read_jsonl=read,
        cannot_mix="a float64 column would turn the ints among floats into floats",
    )


# -- memslim -------------------------------------------------------------------------------


def _memslim() -> list[Representation]:
    def dictlist(records: Iterable[dict[str, Any]], ds: Dataset) -> Any:
        return sys.modules["memslim"].DictList(records)

    def tuplelist(records: Iterable[dict[str, Any]], ds: Dataset) -> Any:
        return sys.modules["memslim"].TupleList(map(itemgetter(*ds.fields), records), ds.fields)

    def column_sum(rows: Any, name: str) -> Any:
        return rows.column(name).sum()

    def filter_dicts(rows: Any, name: str, value: Any) -> Any:
        return sys.modules["memslim"].DictList(r for r in rows if r[name] == value)

    def filter_tuples(rows: Any, name: str, value: Any) -> Any:
        position = rows.fields.index(name)
        return sys.modules["memslim"].TupleList(
            (r for r in rows if r[position] == value), rows.fields
        )

    return [
        Representation(
            name="memslim.DictList",
            requires=("memslim",),
            from_dicts=dictlist,
            stream=dictlist,
            access="key",
            column_sum=column_sum,
            filter_eq=filter_dicts,
            nbytes=lambda rows: rows.nbytes,
            nbytes_label="rows.nbytes",
            # The native reader: bytes parsed straight into columns.
            read_jsonl=lambda path, ds: sys.modules["memslim"].read_jsonl(path),
            note="JSONL: memslim.read_jsonl",
        ),
        Representation(
            name="memslim.TupleList",
            requires=("memslim",),
            from_dicts=tuplelist,
            stream=tuplelist,
            access="attr",
            column_sum=column_sum,
            filter_eq=filter_tuples,
            nbytes=lambda rows: rows.nbytes,
            nbytes_label="rows.nbytes",
            read_jsonl=lambda path, ds: tuplelist(_jsonl_dicts(path), ds),
            note="JSONL: json.loads per line into TupleList",
        ),
        _dictlist_file(),
        _iter_jsonl(),
    ]


def _dictlist_file() -> Representation:
    def save(records: Iterable[dict[str, Any]], path: Path) -> Any:
        return sys.modules["memslim"].DictList(records).save(path)

    return Representation(
        name="memslim.DictList.open",
        requires=("memslim",),
        # Never built from dicts in the timing process: "save" is its build (save, below).
        from_dicts=lambda records, ds: records,
        access="key",
        column_sum=lambda rows, name: rows.column(name).sum(),
        nbytes=lambda rows: rows.nbytes,
        nbytes_label="rows.nbytes (the map excluded)",
        parts=("save", "memory", "timing"),
        # Right after open the records are on disk, not in memory: no rival for memory.
        not_a_peer_for=("rss", "nbytes"),
        cannot_mix="the record file keeps a float64 column as Arrow does, so the ints among "
        "floats read back as floats (in memory, a DictList keeps them apart)",
        open_file=lambda path: sys.modules["memslim"].DictList.open(path, "r"),
        save=save,
        not_applicable={
            **dict.fromkeys(
                ("pickle_size", "pickle_dump", "pickle_load"),
                "an open record file is not pickled: the file is its serialized form",
            ),
            **dict.fromkeys(
                ("ingest", "ingest_peak"),
                "JSONL goes in through memslim.read_jsonl (see memslim.DictList), then save",
            ),
        },
        note="a record file saved by DictList(records).save(path) and reopened read-only: "
        "memory is RSS growth and own bytes right after DictList.open (pages are mapped, "
        "not read); build is the save; times are with the file in the page cache",
    )


class StreamTotal:
    """What a streaming pass keeps: a record count and one column's sum."""

    def __init__(self) -> None:
        self.records = 0
        self.total: float = 0

    def add(self, batch: Any, name: str) -> None:
        self.records += len(batch)
        self.total += batch.column(name).sum() or 0


def _iter_jsonl() -> Representation:
    def consume(path: Path, ds: Dataset) -> StreamTotal:
        seen = StreamTotal()
        with sys.modules["memslim"].iter_jsonl(path) as batches:
            for batch in batches:
                seen.add(batch, ds.sum_field)
        return seen

    return Representation(
        name="memslim.iter_jsonl",
        requires=("memslim",),
        from_dicts=lambda records, ds: records,  # never called: only the ingest part runs
        access="key",
        read_jsonl=consume,
        length=lambda seen: seen.records,
        parts=("ingest",),
        holds_records=False,
        not_a_peer_for=("ingest", "ingest_peak"),  # the others keep what they read
        not_applicable=dict.fromkeys(
            (
                "rss",
                "nbytes",
                "build",
                "row_loop",
                "random_access",
                "column_sum",
                "filter",
                "pickle_size",
                "pickle_dump",
                "pickle_load",
            ),
            "a stream keeps no records: only JSONL ingest applies",
        ),
        note="JSONL ingest is one pass in batches of 65,536 records summing the column, "
        "keeping nothing: its peak RSS is bounded by a batch, not by the file",
    )


def representations() -> list[Representation]:
    """Every representation, the baseline (list of dicts) first."""
    return [
        _list_of_dicts(),
        _list_of_tuples(),
        _record_objects("namedtuple", "Tuple"),
        _record_objects("dataclass(slots=True)", "Dataclass"),
        _msgspec(),
        _numpy(),
        _pyarrow(),
        _polars(),
        _pandas(),
        *_memslim(),
    ]


BASELINE = "list of dicts"
