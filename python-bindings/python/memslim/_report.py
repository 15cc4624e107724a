"""``memslim.report``: what a data set costs as a list of dicts, as a DictList, and on disk."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memslim._memslim import (
    _COMPRESSED_SUFFIXES,
    DictList,
    iter_csv,
    iter_jsonl,
    read_csv,
    read_jsonl,
)
from memslim._sizeof import deep_sizeof
from memslim.exceptions import InvalidValueError, SchemaError

# The largest batch the native readers take (a Rust isize).
_MAX_SAMPLE = 2**63 - 1


def _is_csv(path: Path) -> bool:
    """Whether ``path`` names CSV (``.csv``, or ``.csv.gz`` and the other suffixes the
    readers decompress by); else JSON Lines."""
    name = path.name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
            break
    return name.endswith(".csv")


def count_records(path: Path) -> int:
    """Records in the whole file, counted by a streaming pass of the native reader that
    parses one field at most (memory bounded by a batch, whatever the file's size)."""
    batches: Any
    if _is_csv(path):
        batches = iter_csv(path, infer=False, columns=[])
    else:
        batches = iter_jsonl(path, columns=[])
    with batches:
        return sum(map(len, batches))


def read_sample(path: Path, limit: int | None) -> tuple[DictList, int]:
    """The first ``limit`` records of a JSONL or CSV file (all when None), read by the
    native readers (``.gz`` and ``.zst`` decompressed as they do), and the number of
    records in the whole file.

    When the sample stops short of the end, a second streaming pass counts the rest.
    """
    csv = _is_csv(path)
    if limit is None:
        rows = read_csv(path) if csv else read_jsonl(path)
        return rows, len(rows)
    iterate: Callable[..., Any] = iter_csv if csv else iter_jsonl
    with iterate(path, batch_size=limit) as batches:
        sample = next(batches, None)
    if sample is None:
        return DictList(), 0
    if len(sample) < limit:
        return sample, len(sample)
    return sample, count_records(path)


def csv_as_parsed(path: Path, limit: int | None) -> list[dict[str, Any]]:
    """The first ``limit`` records of a CSV file (all when None) as ``csv.DictReader``
    gives them: every value the field's text as a str (no types inferred, an empty field
    ``""``), the header's strings shared as every record's keys."""
    if limit is None:
        return read_csv(path, infer=False).to_list()
    with iter_csv(path, batch_size=limit, infer=False) as batches:
        first = next(batches, None)
    return [] if first is None else first.to_list()


def as_parsed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` as ``json.loads`` gives them line by line: every record's keys are str
    objects of its own (the parser makes them from the line's bytes), not shared as the
    keys of a DictList's rows are. The values are already fresh objects per record, except
    ``Infinity``, ``-Infinity`` and ``NaN``: ``json.loads`` hands out one shared float
    object for each, so they are counted once."""
    return [
        {key.encode().decode(): _json_constant(value) for key, value in r.items()} for r in records
    ]


def _json_constant(value: Any) -> Any:
    """The object ``json.loads`` gives for a non-finite float (its shared constants)."""
    if type(value) is float and not math.isfinite(value):
        if math.isnan(value):
            return json.decoder.NaN
        return json.decoder.PosInf if value > 0 else json.decoder.NegInf
    return value


def saved_size(rows: DictList) -> int:
    """Bytes of ``rows`` saved as a record file (``DictList.save``, what ``open`` maps)."""
    with tempfile.TemporaryDirectory(prefix="memslim-report-") as tmp:
        path = Path(tmp) / "records.msl"
        rows.save(path)
        return path.stat().st_size


@dataclass(frozen=True)
class MemoryReport:
    """Memory of one data set three ways, measured on ``records`` records.

    Sizes are :func:`memslim.deep_sizeof` figures (bytes the allocator hands out) and
    file sizes. When only a sample of a file was read, ``projected(...)`` scales a figure by
    ``total_records / records`` (the whole file's records are counted, not guessed).
    """

    source: str
    records: int  # records measured (the sample, or everything)
    total_records: int  # records in the whole source
    list_of_dicts_bytes: int
    dictlist_bytes: int
    saved_bytes: int  # the measured records saved as a record file (DictList.save)
    file_bytes: int | None  # size of the source file as it is on disk (None: not a file)

    @property
    def is_sample(self) -> bool:
        return self.records < self.total_records

    @property
    def scale(self) -> float:
        """Whole source / sample, by record count (1.0 when everything was read)."""
        if not self.is_sample or not self.records:
            return 1.0
        return self.total_records / self.records

    def projected(self, nbytes: int) -> int:
        return round(nbytes * self.scale)

    @property
    def ratio(self) -> float:
        """How many times smaller the DictList is than the list of dicts."""
        return self.list_of_dicts_bytes / self.dictlist_bytes if self.dictlist_bytes else 0.0

    def rows(self) -> list[tuple[str, int | None, int | None]]:
        """(label, bytes measured, bytes for the whole source) for each figure."""
        measured = [
            ("list of dicts", self.list_of_dicts_bytes),
            ("memslim.DictList", self.dictlist_bytes),
            ("saved (.msl)", self.saved_bytes),
        ]
        out: list[tuple[str, int | None, int | None]] = [
            (label, n, self.projected(n)) for label, n in measured
        ]
        if self.file_bytes is not None:
            # The file is not sampled: only its whole size is known.
            out.append(
                ("file on disk", None if self.is_sample else self.file_bytes, self.file_bytes)
            )
        return out

    def __str__(self) -> str:
        head = f"{self.source}: {self.records:,} records read"
        if self.is_sample:
            head += (
                f" of {self.total_records:,} (counted); whole-file figures projected from"
                " the sample by record count"
            )
        lines = [head, ""]
        if self.is_sample:
            lines.append(f"{'':<18}{'sample':>12}  {'whole file (projected)':>24}")
        for label, sample, whole in self.rows():
            if self.is_sample:
                lines.append(f"{label:<18}{_size(sample):>12}  {_size(whole):>24}")
            else:
                lines.append(f"{label:<18}{_size(sample):>12}")
        lines.append("")
        per = self.records or 1
        summary = (
            f"DictList: {self.ratio:.1f}x smaller than the list of dicts "
            f"({self.list_of_dicts_bytes / per:.0f} vs {self.dictlist_bytes / per:.0f} bytes/record)"
        )
        if self.file_bytes:
            whole = self.projected(self.dictlist_bytes)
            summary += f", {whole / self.file_bytes:.2f}x the file's size on disk"
        lines.append(summary)
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Write a PNG bar chart of the whole-source figures (needs matplotlib)."""
        plt = pyplot()
        rows = [(label, n) for label, _, n in self.rows() if n is not None]
        fig, ax = plt.subplots(figsize=(7, 2.8))
        colors = ["#7570b3", "#d95f02", "#e6ab02", "#999999"][: len(rows)]
        ax.barh([label for label, _ in rows], [n / 1e6 for _, n in rows], color=colors)
        for i, (_, n) in enumerate(rows):
            ax.text(n / 1e6, i, f" {_size(n)}", va="center", fontsize=9)
        ax.invert_yaxis()
        ax.margins(x=0.2)
        whole = "whole file, projected from a sample" if self.is_sample else "measured"
        ax.set_title(f"{Path(self.source).name}: memory ({whole})", fontsize=10)
        ax.set_xlabel("MB")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend, or an ImportError naming the
    extra that installs it (every memslim chart goes through here)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("memslim charts need matplotlib: pip install 'memslim[plot]'") from exc
    return plt


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _as_records(obj: Iterable[Any]) -> list[dict[str, Any]]:
    records = []
    for item in obj:
        if not isinstance(item, Mapping):
            raise SchemaError(
                f"memslim.report() needs records (mappings), got {type(item).__name__}"
            )
        records.append(dict(item))
    return records


def report(
    obj_or_path: Any,
    *,
    sample: int | None = None,
    plot: str | os.PathLike[str] | None = None,
) -> MemoryReport:
    """Memory of some records as a list of dicts, as a DictList, and on disk.

    ``obj_or_path`` is a path to a JSON Lines (``.jsonl``, ``.ndjson``, one object per
    line) or ``.csv`` file, optionally ``.gz`` or ``.zst`` compressed, a list (or other
    iterable) of dicts, or a DictList. Files are read by :func:`memslim.read_jsonl` /
    :func:`memslim.read_csv`; ``sample=N`` reads only the first N records (through
    :func:`memslim.iter_jsonl` / :func:`memslim.iter_csv`), counts the rest in a streaming
    pass, and projects the figures to the whole file by record count. The list-of-dicts
    figure is the :func:`memslim.deep_sizeof` of the same records as plain dicts, as the
    stdlib parsers give them: ``json.loads`` per line, ``csv.DictReader`` (every value a
    string) for CSV; the DictList figure is of memslim's typed columns.
    ``plot`` writes a PNG bar chart. ``str(report)`` is the table ``python -m memslim
    report`` prints.
    """
    if sample is not None and not 1 <= sample <= _MAX_SAMPLE:
        raise InvalidValueError(
            f"sample must be a positive number of records, at most {_MAX_SAMPLE:,}"
        )
    file_bytes: int | None = None
    if isinstance(obj_or_path, (str, os.PathLike)):
        path = Path(obj_or_path)
        rows, total = read_sample(path, sample)
        source, file_bytes = str(path), path.stat().st_size
        # The records as the stdlib parsers give them: csv.DictReader's are all strings
        # under the header's shared key strings; json.loads makes key strings per record.
        records: list[Any] = (
            csv_as_parsed(path, sample) if _is_csv(path) else as_parsed(rows.to_list())
        )
    elif isinstance(obj_or_path, DictList):
        rows, source = obj_or_path, "DictList"
        records = rows.to_list()
        total = len(rows)
    else:
        is_list = isinstance(obj_or_path, list) and all(type(r) is dict for r in obj_or_path)
        records = obj_or_path if is_list else _as_records(obj_or_path)
        rows, source = DictList(records), type(obj_or_path).__name__
        total = len(records)
    result = MemoryReport(
        source=source,
        records=len(rows),
        total_records=total,
        list_of_dicts_bytes=deep_sizeof(records),
        dictlist_bytes=deep_sizeof(rows),
        saved_bytes=saved_size(rows),
        file_bytes=file_bytes,
    )
    if plot is not None:
        result.plot(plot)
    return result


def add_command(commands: Any) -> None:
    """The ``report`` subcommand of ``python -m memslim``."""
    cmd = commands.add_parser(
        "report",
        help="memory of a JSONL or CSV file as a list of dicts, as a DictList, and on disk",
    )
    cmd.add_argument(
        "path",
        type=Path,
        help="a .jsonl (one JSON object per line) or .csv file, optionally .gz or .zst",
    )
    cmd.add_argument(
        "--sample", type=int, help="read only the first N records and project to the whole file"
    )
    cmd.add_argument("--plot", type=Path, help="also write a PNG bar chart here")
    cmd.set_defaults(run=_run)


def _run(args: Any, parser: Any) -> int:
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be positive")
    if args.sample is not None and args.sample > _MAX_SAMPLE:
        parser.error(f"--sample must be at most {_MAX_SAMPLE:,}")
    try:
        result = report(args.path, sample=args.sample, plot=args.plot)
    except (OSError, ValueError, ImportError) as exc:
        print(f"memslim report: {exc}", file=sys.stderr)
        return 1
    print(result)
    if args.plot is not None:
        print(f"\nwrote {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m memslim``: every subcommand (see :mod:`memslim._cli`)."""
    from memslim._cli import main as cli_main

    return cli_main(argv)
