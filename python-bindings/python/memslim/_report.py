"""``memslim.report``: what a data set costs as a list of dicts, as a DictList, and on disk."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memslim._memslim import DictList
from memslim._sizeof import deep_sizeof


def _csv_value(text: str) -> Any:
    """A CSV field as a type-inferring reader gives it: int, float, None for empty, or str."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_records(path: Path, limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` records of a JSONL or CSV file (all when None), and how many bytes
    of the file they took.

    The one place that reads files for the report: JSONL with ``json.loads`` per line, CSV
    with ``csv.reader`` and per-field type inference.
    """
    records: list[dict[str, Any]] = []
    consumed = 0
    with path.open("rb") as raw:

        def lines() -> Iterator[bytes]:
            nonlocal consumed
            for line in raw:
                consumed += len(line)
                yield line

        if path.suffix.lower() == ".csv":
            reader = csv.reader(line.decode("utf-8") for line in lines())
            header = next(reader, [])
            for row in reader:
                records.append({k: _csv_value(v) for k, v in zip(header, row)})
                if limit is not None and len(records) >= limit:
                    break
        else:
            for line in lines():
                if line.strip():
                    records.append(json.loads(line))
                    if limit is not None and len(records) >= limit:
                        break
    return records, consumed


@dataclass(frozen=True)
class MemoryReport:
    """Memory of one data set three ways, measured on ``records`` records.

    Sizes are :func:`memslim.deep_sizeof` figures (bytes the allocator hands out). When only
    a sample of a file was read, ``projected(...)`` scales by the file's size in bytes.
    """

    source: str
    records: int
    list_of_dicts_bytes: int
    dictlist_bytes: int
    disk_bytes: int | None  # bytes of the file the records came from (None: not a file)
    file_bytes: int | None  # size of the whole file

    @property
    def is_sample(self) -> bool:
        return (
            self.file_bytes is not None
            and self.disk_bytes is not None
            and (self.disk_bytes < self.file_bytes)
        )

    @property
    def scale(self) -> float:
        """Whole file / sample, by bytes on disk (1.0 when the whole file was read)."""
        if not self.is_sample or not self.disk_bytes:
            return 1.0
        return self.file_bytes / self.disk_bytes  # type: ignore[operator]

    def projected(self, nbytes: int) -> int:
        return round(nbytes * self.scale)

    @property
    def ratio(self) -> float:
        """How many times smaller the DictList is than the list of dicts."""
        return self.list_of_dicts_bytes / self.dictlist_bytes if self.dictlist_bytes else 0.0

    def rows(self) -> list[tuple[str, int | None]]:
        return [
            ("list of dicts", self.list_of_dicts_bytes),
            ("memslim.DictList", self.dictlist_bytes),
            ("on disk", self.disk_bytes),
        ]

    def __str__(self) -> str:
        head = f"{self.source}: {self.records:,} records"
        if self.is_sample:
            head += (
                f" read ({_size(self.disk_bytes)} of {_size(self.file_bytes)}); whole file"
                f" projected from the sample: about {round(self.records * self.scale):,} records"
            )
        lines = [head, ""]
        if self.is_sample:
            lines.append(f"{'':<18}{'sample':>12}  {'whole file (projected)':>12}")
        for label, nbytes in self.rows():
            if nbytes is None:
                continue
            extra = f"  {_size(self.projected(nbytes)):>12}" if self.is_sample else ""
            lines.append(f"{label:<18}{_size(nbytes):>12}{extra}")
        lines.append("")
        per = self.records or 1
        summary = (
            f"DictList: {self.ratio:.1f}x smaller than the list of dicts "
            f"({self.list_of_dicts_bytes / per:.0f} vs {self.dictlist_bytes / per:.0f} bytes/record)"
        )
        if self.disk_bytes:
            summary += f", {self.dictlist_bytes / self.disk_bytes:.2f}x its size on disk"
        lines.append(summary)
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Write a PNG bar chart of the figures (needs matplotlib)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("memslim.report(plot=...) needs matplotlib installed") from exc
        rows = [(label, self.projected(n)) for label, n in self.rows() if n is not None]
        fig, ax = plt.subplots(figsize=(7, 2.6))
        colors = ["#7570b3", "#d95f02", "#999999"][: len(rows)]
        ax.barh([label for label, _ in rows], [n / 1e6 for _, n in rows], color=colors)
        for i, (_, n) in enumerate(rows):
            ax.text(n / 1e6, i, f" {_size(n)}", va="center", fontsize=9)
        ax.invert_yaxis()
        ax.margins(x=0.2)
        whole = "whole file, projected" if self.is_sample else "measured"
        ax.set_title(f"{Path(self.source).name}: memory ({whole})", fontsize=10)
        ax.set_xlabel("MB")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


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
            raise TypeError(f"memslim.report() needs records (mappings), got {type(item).__name__}")
        records.append(dict(item))
    return records


def report(
    obj_or_path: Any,
    *,
    sample: int | None = None,
    plot: str | os.PathLike[str] | None = None,
) -> MemoryReport:
    """Memory of some records as a list of dicts, as a DictList, and on disk.

    ``obj_or_path`` is a path to a ``.jsonl``/``.ndjson``/``.json`` (one object per line)
    or ``.csv`` file, a list (or other iterable) of dicts, or a DictList. For a file,
    ``sample=N`` reads only the first N records and projects the figures to the whole file
    by its size in bytes. ``plot`` writes a PNG bar chart. ``str(report)`` is the table
    ``python -m memslim report`` prints.
    """
    if sample is not None and sample < 1:
        raise ValueError("sample must be a positive number of records")
    if isinstance(obj_or_path, (str, os.PathLike)):
        path = Path(obj_or_path)
        records, disk = read_records(path, sample)
        rows = DictList(records)
        result = MemoryReport(
            source=str(path),
            records=len(records),
            list_of_dicts_bytes=deep_sizeof(records),
            dictlist_bytes=deep_sizeof(rows),
            disk_bytes=disk,
            file_bytes=path.stat().st_size,
        )
    elif isinstance(obj_or_path, DictList):
        result = MemoryReport(
            source="DictList",
            records=len(obj_or_path),
            list_of_dicts_bytes=deep_sizeof(obj_or_path.to_list()),
            dictlist_bytes=deep_sizeof(obj_or_path),
            disk_bytes=None,
            file_bytes=None,
        )
    else:
        is_list = isinstance(obj_or_path, list) and all(type(r) is dict for r in obj_or_path)
        records = obj_or_path if is_list else _as_records(obj_or_path)
        result = MemoryReport(
            source=type(obj_or_path).__name__,
            records=len(records),
            list_of_dicts_bytes=deep_sizeof(records),
            dictlist_bytes=deep_sizeof(DictList(records)),
            disk_bytes=None,
            file_bytes=None,
        )
    if plot is not None:
        result.plot(plot)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m memslim",
        description="memslim command line tools",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser(
        "report",
        help="memory of a JSONL or CSV file as a list of dicts, as a DictList, and on disk",
    )
    cmd.add_argument("path", type=Path, help="a .jsonl (one JSON object per line) or .csv file")
    cmd.add_argument("--sample", type=int, help="read only the first N records and project")
    cmd.add_argument("--plot", type=Path, help="also write a PNG bar chart here")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be positive")
    try:
        result = report(args.path, sample=args.sample, plot=args.plot)
    except (OSError, ValueError, ImportError) as exc:
        print(f"memslim report: {exc}", file=sys.stderr)
        return 1
    print(result)
    if args.plot is not None:
        print(f"\nwrote {args.plot}")
    return 0
