"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import Column, DictList, Row, TupleList, __version__
from memslim._persistent import (
    CorruptFileError,
    DictListFile,
    FileFormatError,
    FileLockedError,
    MmapList,
)
from memslim.exceptions import CorruptDataError, MemslimError, SchemaError, StaleRowError

_abc.MutableSequence.register(DictList)
_abc.MutableSequence.register(TupleList)
_abc.MutableMapping.register(Row)
_abc.Sequence.register(Column)

__all__ = [
    "Column",
    "CorruptDataError",
    "CorruptFileError",
    "DictList",
    "DictListFile",
    "FileFormatError",
    "FileLockedError",
    "MemslimError",
    "MmapList",
    "Row",
    "SchemaError",
    "StaleRowError",
    "TupleList",
    "__version__",
]
