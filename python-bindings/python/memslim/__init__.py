"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._json import dump, dumps, to_builtins
from memslim._memslim import (
    BatchReader,
    Column,
    DictList,
    DocList,
    DocView,
    JsonlWriter,
    ListView,
    Row,
    TupleList,
    __version__,
    iter_csv,
    iter_jsonl,
    read_csv,
    read_jsonl,
    stats,
)
from memslim._persistent import (
    CorruptFileError,
    DictListFile,
    FileColumn,
    FileFormatError,
    FileLockedError,
    FileRow,
    FileSlice,
    MmapList,
)
from memslim._report import report
from memslim._sizeof import deep_sizeof
from memslim.exceptions import (
    CorruptDataError,
    MemslimError,
    ParseError,
    SchemaError,
    SkippedLinesWarning,
    StaleRowError,
)
from memslim.pipeline import Stream, stream

_abc.MutableSequence.register(DictList)
_abc.MutableSequence.register(TupleList)
_abc.MutableMapping.register(Row)
_abc.Sequence.register(Column)
_abc.Sequence.register(DocList)
_abc.Mapping.register(DocView)
_abc.Sequence.register(ListView)

__all__ = [
    "BatchReader",
    "Column",
    "CorruptDataError",
    "CorruptFileError",
    "DictList",
    "DictListFile",
    "DocList",
    "DocView",
    "FileColumn",
    "FileFormatError",
    "FileLockedError",
    "FileRow",
    "FileSlice",
    "JsonlWriter",
    "ListView",
    "MemslimError",
    "MmapList",
    "ParseError",
    "Row",
    "SchemaError",
    "SkippedLinesWarning",
    "StaleRowError",
    "Stream",
    "TupleList",
    "__version__",
    "deep_sizeof",
    "dump",
    "dumps",
    "iter_csv",
    "iter_jsonl",
    "read_csv",
    "read_jsonl",
    "report",
    "stats",
    "stream",
    "to_builtins",
]
