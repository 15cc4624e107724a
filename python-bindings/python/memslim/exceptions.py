"""Exceptions raised by memslim.

Every error is a :class:`MemslimError` and also the built-in exception a user would
expect, so both ``except TypeError`` and ``except memslim.MemslimError`` catch it.

A few errors stay plain built-ins because they are exactly what the list, dict, file or
buffer a memslim object stands in for raises: ``IndexError`` for an index out of range,
``KeyError`` for a missing key, ``ValueError`` from ``index()`` of an absent value or
``min()``/``max()`` of nothing, ``TypeError`` for an argument of the wrong type (as the
interpreter raises for any call), the ``OSError`` family by errno, ``MemoryError``,
``BufferError`` while a buffer export is alive, ``io.UnsupportedOperation`` for a write to
a read-only file, and ``OverflowError`` for an int past 64 bits in a number file.
"""

from __future__ import annotations

__all__ = [
    "AppendOnlyError",
    "ClosedFileError",
    "ConcurrentUseError",
    "CorruptDataError",
    "CorruptFileError",
    "DamagedFileWarning",
    "FileFormatError",
    "FileLockedError",
    "InvalidValueError",
    "LimitError",
    "MemslimError",
    "ParseError",
    "SchemaError",
    "SkippedLinesWarning",
    "StaleRowError",
    "UnsupportedTypeError",
    "UntrustedDataError",
]


class MemslimError(Exception):
    """Base class of every error memslim raises."""


class SchemaError(MemslimError, TypeError):
    """A record or value does not fit: non-mapping record, non-string key, wrong type
    for an explicit schema, or a field the explicit schema does not name."""


class StaleRowError(MemslimError, RuntimeError):
    """Deprecated; never raised since 0.2. A ``Row`` now follows its record through
    inserts, deletes, sorts and replacements, as a dict taken from a list would. Kept
    one release so that ``except memslim.StaleRowError`` in old code still imports."""


class CorruptDataError(MemslimError, ValueError):
    """Serialized or imported data is malformed (bad pickle state, undecodable value)."""


class ParseError(MemslimError, ValueError):
    """Malformed input to a streaming reader. ``path``, ``line`` and ``column`` (1-based;
    ``column`` is None for a truncated last line) say where."""

    path: str | None = None
    line: int | None = None
    column: int | None = None


class SkippedLinesWarning(UserWarning):
    """A reader with ``on_error="skip"`` left out malformed lines; the message gives the
    count and the first error."""


class CorruptFileError(MemslimError, ValueError):
    """A memslim file's bytes are damaged: a checksum, a length or an Arrow message does
    not check out. The message names the file and the byte offset."""


class FileFormatError(MemslimError, ValueError):
    """A file is not a memslim or Arrow IPC file, was written by a newer memslim, or holds
    Arrow types memslim cannot read (or, when appending, write)."""


class FileLockedError(MemslimError, BlockingIOError):
    """Another writer, in this process or another, has the file open for appending."""


class UntrustedDataError(MemslimError, ValueError):
    """Data from a file or an Arrow import holds a pickled Python object, and loading it
    could run code chosen by whoever wrote the data. Pass ``trusted=True`` to the call that
    opened or imported it if you trust the source (see SECURITY.md)."""


class DamagedFileWarning(UserWarning):
    """A record file opened read-only is damaged beyond a crash's trace: it gives the
    records before the damage, and ``.recovered`` says what it left out
    (``DictList.open(path, recover=True)`` repairs it, keeping the dropped bytes)."""


class InvalidValueError(MemslimError, ValueError):
    """An argument or a value memslim cannot use: an unknown mode, dtype, option or
    comparison, a batch size below 1, a number that does not fit a number file's dtype, a
    value the output format cannot represent."""


class UnsupportedTypeError(MemslimError, TypeError):
    """An operation the data's type does not support (the sum of a column of strings), an
    Arrow type memslim cannot import, a value of a type the structure cannot hold, or a
    write to a record of a record file (its ``Row`` is read-only)."""


class LimitError(MemslimError, ValueError):
    """A value or a document is past one of memslim's limits (a string larger than a chunk
    holds, nesting deeper than the document format allows, a full symbol table)."""


class ConcurrentUseError(MemslimError, RuntimeError):
    """An object is in use by another thread, or by the current call (re-entrant use from
    Python code run while it is busy), or a previous operation on it failed midway."""


class ClosedFileError(MemslimError, ValueError):
    """An operation on a file, reader or writer after ``close()`` (a ``ValueError``, as a
    closed Python file object raises)."""


class AppendOnlyError(MemslimError, IndexError):
    """A number file (``NumberFile``, formerly ``MmapList``) changes size only at its end:
    ``insert``, ``del`` and ``pop`` anywhere else."""
