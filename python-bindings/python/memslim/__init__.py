"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim._memslim import (
    Column,
    DictList,
    DocList,
    DocView,
    ListView,
    Row,
    TupleList,
    __version__,
    stats,
)
from memslim._report import report
from memslim._sizeof import deep_sizeof
from memslim.exceptions import CorruptDataError, MemslimError, SchemaError, StaleRowError

_abc.MutableSequence.register(DictList)
_abc.MutableSequence.register(TupleList)
_abc.MutableMapping.register(Row)
_abc.Sequence.register(Column)
_abc.Sequence.register(DocList)
_abc.Mapping.register(DocView)
_abc.Sequence.register(ListView)

__all__ = [
    "Column",
    "CorruptDataError",
    "DictList",
    "DocList",
    "DocView",
    "ListView",
    "MemslimError",
    "Row",
    "SchemaError",
    "StaleRowError",
    "TupleList",
    "__version__",
    "deep_sizeof",
    "report",
    "stats",
]
