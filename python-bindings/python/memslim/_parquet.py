"""Parquet files and datasets: ``memslim.read_parquet``, ``memslim.iter_parquet``.

Writing is ``DictList.to_parquet`` and ``Stream.to_parquet``; see ``docs/parquet.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from memslim import _memslim
from memslim._memslim import DictList, ParquetReader

__all__ = ["ParquetReader", "iter_parquet", "read_parquet"]


def _as_inputs(source: Any) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        return [os.fspath(source)]
    if isinstance(source, (list, tuple)):
        return [os.fspath(s) for s in source]
    raise TypeError(
        "a Parquet source is a path (file or dataset directory) or a list of paths, "
        f"not {type(source).__name__}"
    )


def _columns(columns: Sequence[str] | None) -> list[str] | None:
    # A str is a sequence of its letters: read as one, "id" would read the keys "i"
    # and "d". Refused as Stream.select refuses it.
    if isinstance(columns, str):
        raise TypeError(f"columns takes a list of field names, not a str: use [{columns!r}]")
    return None if columns is None else list(columns)


def read_parquet(
    source: Any, *, columns: Sequence[str] | None = None, trusted: bool = False
) -> DictList:
    """Read Parquet files into one :class:`~memslim.DictList`.

    ``source``: a file, a dataset directory (searched recursively; names starting with
    ``.`` or ``_`` are skipped; ``key=value`` directories become fields), or a list of
    both. ``columns`` reads only those keys (the other columns are not decoded); a
    ``str`` there raises ``TypeError`` (a list of names is meant). Files
    memslim wrote come back exactly as written (absent keys, ints among floats, key
    order, nested values); other files as their columns say, nulls as ``None``.

    Raises :class:`memslim.CorruptFileError` for a damaged file,
    :class:`memslim.SchemaError` for a column memslim cannot hold, both naming the file,
    and :class:`memslim.UntrustedDataError` for a pickled Python object in the data
    unless ``trusted=True`` (loading it could run code chosen by whoever wrote the file).
    """
    cols = _columns(columns)
    return _memslim._read_parquet(  # type: ignore[no-any-return]
        _as_inputs(source), columns=cols, trusted=trusted
    )


def iter_parquet(
    source: Any,
    *,
    columns: Sequence[str] | None = None,
    batch_size: int = 65_536,
    trusted: bool = False,
) -> ParquetReader:
    """Read Parquet files as :class:`~memslim.DictList` batches of at most
    ``batch_size`` records (memory bounded by one row group being decoded); arguments
    as :func:`read_parquet`."""
    cols = _columns(columns)
    return ParquetReader(_as_inputs(source), columns=cols, batch_size=batch_size, trusted=trusted)
