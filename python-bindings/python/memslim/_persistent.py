"""Persistent lists: ``DictList.open`` / ``DictList.save`` (``DictListFile``) and ``MmapList``.

Kept apart from ``__init__`` so the package's entry point only re-exports these names.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import DictListFile, FileRow, MmapList
from memslim.exceptions import CorruptFileError, FileFormatError, FileLockedError

__all__ = [
    "CorruptFileError",
    "DictListFile",
    "FileFormatError",
    "FileLockedError",
    "FileRow",
    "MmapList",
]

_abc.Sequence.register(DictListFile)
_abc.Mapping.register(FileRow)
_abc.MutableSequence.register(MmapList)
