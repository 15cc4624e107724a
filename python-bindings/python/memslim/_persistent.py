"""Persistent lists: ``DictList.open`` / ``DictList.save`` (``DictListFile``) and ``MmapList``.

Kept apart from ``__init__`` so the package's entry point only re-exports these names.
"""

from __future__ import annotations

import collections.abc as _abc
import os

from memslim._memslim import DictList, DictListFile, MmapList, _save_records
from memslim.exceptions import CorruptFileError, FileFormatError, FileLockedError

__all__ = ["CorruptFileError", "DictListFile", "FileFormatError", "FileLockedError", "MmapList"]


def _open(cls: type[DictList], path: str | os.PathLike[str], mode: str = "a") -> DictListFile:
    """Opens (mode "a", the default: creating it if missing) or reads (mode "r") a
    persistent record file; see DictListFile."""
    return DictListFile(path, mode)


def _save(self: DictList, path: str | os.PathLike[str]) -> int:
    """Writes the records to a new record file at ``path`` (replaced atomically);
    returns the number of records."""
    return _save_records(self, path)


DictList.open = classmethod(_open)  # type: ignore[attr-defined]
DictList.save = _save  # type: ignore[attr-defined]
_abc.Sequence.register(DictListFile)
_abc.MutableSequence.register(MmapList)
