"""Exceptions raised by memslim.

Every error is a :class:`MemslimError` and also the built-in exception a user would
expect, so both ``except TypeError`` and ``except memslim.MemslimError`` catch it.
"""

from __future__ import annotations

__all__ = [
    "CorruptDataError",
    "CorruptFileError",
    "DamagedFileWarning",
    "FileFormatError",
    "FileLockedError",
    "MemslimError",
    "ParseError",
    "SchemaError",
    "SkippedLinesWarning",
    "StaleRowError",
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
