"""Persistent lists: ``DictList.open`` / ``DictList.save`` (``DictListFile``) and ``NumberFile``.

Kept apart from ``__init__`` so the package's entry point only re-exports these names.
``MmapList`` is the old name of ``NumberFile``, and ``FileRow`` / ``FileColumn`` those of a
record file's ``Row`` / ``Column`` (one type each for lists and files now): they still
work for one release and warn ``DeprecationWarning`` (see docs/record-files.md).
"""

from __future__ import annotations

import collections.abc as _abc
import warnings

from memslim._memslim import Column, DictListFile, FileSlice, NumberFile, Row  # noqa: F401 (aliases)
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
    "FileFormatError",
    "FileLockedError",
    "FileSlice",
    "NumberFile",
]

_abc.Sequence.register(DictListFile)
_abc.Sequence.register(FileSlice)
_abc.MutableSequence.register(NumberFile)

_DEPRECATED = {"MmapList": "NumberFile", "FileRow": "Row", "FileColumn": "Column"}


def deprecated_alias(name: str) -> object:
    """The class an old name stands for, with a ``DeprecationWarning`` (``None`` if
    ``name`` is not an old name)."""
    new = _DEPRECATED.get(name)
    if new is None:
        return None
    warnings.warn(
        f"memslim.{name} is deprecated and will be removed in the next release; "
        f"use memslim.{new} (the same class)",
        DeprecationWarning,
        stacklevel=3,
    )
    return globals()[new]


def __getattr__(name: str) -> object:
    value = deprecated_alias(name)
    if value is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return value
