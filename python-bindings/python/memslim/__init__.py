"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import (
    BatchReader,
    Column,
    DictList,
    JsonlWriter,
    Row,
    TupleList,
    __version__,
    iter_csv,
    iter_jsonl,
    read_csv,
    read_jsonl,
)
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

__all__ = [
    "BatchReader",
    "Column",
    "CorruptDataError",
    "DictList",
    "JsonlWriter",
    "MemslimError",
    "ParseError",
    "Row",
    "SchemaError",
    "SkippedLinesWarning",
    "StaleRowError",
    "Stream",
    "TupleList",
    "__version__",
    "iter_csv",
    "iter_jsonl",
    "read_csv",
    "read_jsonl",
    "stream",
]
