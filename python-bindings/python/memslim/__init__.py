"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import Column, DictList, Row, TupleList, __version__
from memslim.exceptions import CorruptDataError, MemslimError, SchemaError, StaleRowError
from memslim._memslim import BatchReader, JsonlWriter, iter_csv, iter_jsonl, read_csv, read_jsonl
from memslim.exceptions import ParseError, SkippedLinesWarning
from memslim.pipeline import Stream, stream

_abc.MutableSequence.register(DictList)
_abc.MutableSequence.register(TupleList)
_abc.MutableMapping.register(Row)
_abc.Sequence.register(Column)

__all__ = [
    "Column",
    "CorruptDataError",
    "DictList",
    "MemslimError",
    "Row",
    "SchemaError",
    "StaleRowError",
    "TupleList",
    "__version__",
    "BatchReader",
    "ParseError",
    "SkippedLinesWarning",
    "iter_jsonl",
    "read_jsonl",
    "iter_csv",
    "read_csv",
    "JsonlWriter",
    "Stream",
    "stream",
]
