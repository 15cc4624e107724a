"""Persistent lists: ``DictList.open`` / ``DictList.save`` (``DictListFile``) and ``MmapList``.

Kept apart from ``__init__`` so the package's entry point only re-exports these names.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import DictListFile, FileColumn, FileRow, FileSlice, MmapList
from memslim.exceptions import (
    CorruptFileError,
    DamagedFileWarning,
    FileFormatError,
    FileLockedError,
)

__all__ = [
    "CorruptFileError",
    "DamagedFileWarning",
    "DictListFile",
    "FileColumn",
    "FileFormatError",
    "FileLockedError",
    "FileRow",
    "FileSlice",
    "MmapList",
]

_abc.Sequence.register(DictListFile)
_abc.Mapping.register(FileRow)
_abc.Sequence.register(FileColumn)
_abc.Sequence.register(FileSlice)
_abc.MutableSequence.register(MmapList)
