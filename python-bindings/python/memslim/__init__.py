"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import (
    Column,
    DictList,
    DictListFile,
    MmapList,
    Row,
    TupleList,
    __version__,
    _save_records,
)
from memslim.exceptions import (
    CorruptDataError,
    CorruptFileError,
    FileFormatError,
    FileLockedError,
    MemslimError,
    SchemaError,
    StaleRowError,
)

_abc.MutableSequence.register(DictList)
_abc.MutableSequence.register(TupleList)
_abc.MutableMapping.register(Row)
_abc.Sequence.register(Column)
_abc.Sequence.register(DictListFile)
_abc.MutableSequence.register(MmapList)


def _open(cls, path, mode="a"):
    """Opens (mode "a", the default: creating it if missing) or reads (mode "r") a
    persistent record file; see DictListFile."""
    return DictListFile(path, mode)


def _save(self, path):
    """Writes the records to a new record file at ``path`` (replaced atomically);
    returns the number of records."""
    return _save_records(self, path)


DictList.open = classmethod(_open)
DictList.save = _save

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
