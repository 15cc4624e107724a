"""memslim: memory-efficient drop-in replacements for Python lists of dicts and tuples.

Compact columnar storage in Apache Arrow layout, built in Rust.
"""

from __future__ import annotations

import collections.abc as _abc

from memslim import _memslim
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
from memslim._parquet import ParquetReader, iter_parquet, read_parquet
from memslim._persistent import (
    CorruptFileError,
    DamagedFileWarning,
    DictListFile,
    FileFormatError,
    FileLockedError,
    FileSlice,
    NumberFile,
    deprecated_alias,
)
from memslim._report import report
from memslim._sizeof import deep_sizeof
from memslim.exceptions import (
    AppendOnlyError,
    ClosedFileError,
    ConcurrentUseError,
    CorruptDataError,
    InvalidValueError,
    LimitError,
    MemslimError,
    ParseError,
    SchemaError,
    SkippedLinesWarning,
    StaleRowError,
    UnsupportedTypeError,
    UntrustedDataError,
)
from memslim.pipeline import Stream, stream

# audit() and watch() load on first use, so `import memslim` stays as light as it was
# (they bring threading, statistics, tracemalloc and friends).
_LAZY = {
    "AuditReport": "memslim._audit",
    "Finding": "memslim._audit",
    "audit": "memslim._audit",
    "Watch": "memslim._watch",
    "watch": "memslim._watch",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        alias = deprecated_alias(name)  # MmapList, FileRow...: warns each time, never cached
        if alias is not None:
            return alias
        raise AttributeError(f"module 'memslim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


_abc.MutableSequence.register(DictList)
_abc.MutableSequence.register(TupleList)
_abc.MutableMapping.register(Row)
_abc.Sequence.register(Column)
_abc.Sequence.register(DocList)
_abc.Mapping.register(DocView)
_abc.Sequence.register(ListView)
# The views of Row.keys() / items() / values() and DocView's (as a dict's are).
_abc.KeysView.register(_memslim._KeysView)
_abc.ItemsView.register(_memslim._ItemsView)
_abc.ValuesView.register(_memslim._ValuesView)

__all__ = [
    "AppendOnlyError",
    "AuditReport",
    "BatchReader",
    "ClosedFileError",
    "Column",
    "ConcurrentUseError",
    "CorruptDataError",
    "CorruptFileError",
    "DamagedFileWarning",
    "DictList",
    "DictListFile",
    "DocList",
    "DocView",
    "FileFormatError",
    "FileLockedError",
    "FileSlice",
    "Finding",
    "InvalidValueError",
    "JsonlWriter",
    "LimitError",
    "ListView",
    "MemslimError",
    "NumberFile",
    "ParquetReader",
    "ParseError",
    "Row",
    "SchemaError",
    "SkippedLinesWarning",
    "StaleRowError",
    "Stream",
    "TupleList",
    "UnsupportedTypeError",
    "UntrustedDataError",
    "Watch",
    "__version__",
    "audit",
    "deep_sizeof",
    "dump",
    "dumps",
    "iter_csv",
    "iter_jsonl",
    "iter_parquet",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "report",
    "stats",
    "stream",
    "to_builtins",
    "watch",
]
