"""Type stubs and user documentation for the compiled core of memslim."""

import os
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from os import PathLike
from typing import (
    Any,
    Generic,
    Literal,
    NamedTuple,
    NoReturn,
    Self,
    SupportsIndex,
    TypeAlias,
    TypedDict,
    TypeVar,
    final,
    overload,
)

from typing_extensions import disjoint_base

_T = TypeVar("_T")

__version__: str
__all__ = [
    "_COMPRESSED_SUFFIXES",
    "BatchReader",
    "Column",
    "DictList",
    "DictListFile",
    "DocList",
    "DocView",
    "FileColumn",
    "FileRow",
    "FileSlice",
    "JsonlWriter",
    "ListView",
    "NumberFile",
    "ParquetReader",
    "ParquetWriter",
    "Row",
    "TupleList",
    "_Buffer",
    "_ColumnIter",
    "_DictListFileIter",
    "_DocListIter",
    "_ItemsView",
    "_KeysView",
    "_NumberFileIter",
    "_PairIter",
    "_PlainIter",
    "_Records",
    "_RecordsIter",
    "_TupleIter",
    "_ValuesView",
    "__version__",
    "_dumps_native",
    "_read_parquet",
    "_rename",
    "_restore_dictlist",
    "_restore_doclist",
    "_restore_tuplelist",
    "_save_records",
    "_select",
    "_take",
    "_where",
    "iter_csv",
    "iter_jsonl",
    "read_csv",
    "read_jsonl",
    "stats",
]

@disjoint_base
class _Records:
    """The list protocol shared by :class:`DictList` and :class:`TupleList`."""
    # -- sequence protocol --
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, index: slice, /) -> Self: ...
    @overload
    def __setitem__(self, index: SupportsIndex, value: Any, /) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[Any], /) -> None: ...
    def __delitem__(self, index: SupportsIndex | slice, /) -> None: ...
    def __iter__(self) -> Iterator[Any]:
        """Rows: live :class:`Row` views (DictList) or namedtuples (TupleList)."""
    def __reversed__(self) -> Iterator[Any]: ...
    def __contains__(self, value: object, /) -> bool: ...
    def index(self, value: object, start: SupportsIndex = 0, stop: SupportsIndex = ...) -> int: ...
    def count(self, value: object) -> int: ...
    def append(self, value: Any) -> None: ...
    def extend(self, values: Iterable[Any]) -> None:
        """Append every record; atomic: on a bad record (or an iterator that raises)
        nothing is appended, unless the iterator itself changed the list meanwhile: then,
        as with ``list.extend``, the records it gave before the error stay."""
    def insert(self, index: SupportsIndex, value: Any) -> None: ...
    def pop(self, index: SupportsIndex = ...) -> Any:
        """Remove and return the record at ``index`` (default: the last) as a plain
        dict (DictList) or tuple (TupleList)."""
    def remove(self, value: object) -> None: ...
    def clear(self) -> None: ...
    def reverse(self) -> None: ...
    def sort(self, *, key: Any = None, reverse: int | None = None) -> None:
        """Stable sort; ``key`` receives each :class:`Row`."""
    def __add__(self, other: Self | list[Any], /) -> Self: ...
    def __radd__(self, other: Any, /) -> Any: ...
    def __iadd__(self, other: Self | list[Any], /) -> Self: ...
    def __mul__(self, n: SupportsIndex, /) -> Self:
        """A new list of the same class holding the records ``n`` times (a DictList's
        shared: one record at ``n`` positions, as ``[d] * n`` holds one dict)."""
    def __rmul__(self, n: SupportsIndex, /) -> Self: ...
    def __imul__(self, n: SupportsIndex, /) -> Self: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: Self | list[Any], /) -> bool:
        """List order: item by item (as plain dicts or tuples), then by length."""
    def __le__(self, other: Self | list[Any], /) -> bool: ...
    def __gt__(self, other: Self | list[Any], /) -> bool: ...
    def __ge__(self, other: Self | list[Any], /) -> bool: ...
    def __class_getitem__(cls, item: Any) -> Any: ...
    def __copy__(self) -> Self: ...
    def __deepcopy__(self, memo: dict[int, Any]) -> Self: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __reduce_ex__(self, protocol: SupportsIndex, /) -> tuple[Any, ...]:
        """Pickle: a checksummed snapshot of the column buffers.  From protocol 5 on the
        buffers travel as ``pickle.PickleBuffer`` s (out of band with a
        ``buffer_callback``); a damaged payload raises ``CorruptDataError``."""
    def where(self, field: str, op: str, value: object) -> Self:
        """A new list of the same class holding the records (a DictList's shared, as a
        comprehension over a list of dicts would share them) whose ``field``
        compares to ``value`` with ``op`` (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``),
        natively for built-in values.  A record without the field matches only ``!=``;
        values with no order against ``value`` (``None``, a str against a number) match
        no ordering."""
    def __sizeof__(self) -> int: ...
    def copy(self) -> Self:
        """A shallow copy: a new list holding the same records, as ``list.copy`` holds
        the same dicts or tuples (it shares the store; a TupleList's rows are immutable,
        so a write to either list never shows in the other)."""
    # -- memslim extras --
    @property
    def nbytes(self) -> int:
        """Bytes of memory this list owns (buffers, dictionaries, indexes)."""
    @property
    def schema(self) -> dict[str, str]:
        """Field name -> dtype name, for the fields some record has (a key deleted from
        every record is left out, as the Arrow export leaves it; an empty list keeps
        its fields)."""
    def storage_info(self) -> dict[str, str]:
        """Field name -> physical layout, e.g. ``"int64"``, ``"float64+ints"``,
        ``"str:dict"``, ``"str:plain"``, ``"object"``."""
    def column(self, name: str) -> Column: ...
    def to_list(self) -> list[dict[str, Any]]:
        """Copy out as a plain list of dicts."""
    def __arrow_c_schema__(self) -> object: ...
    def __arrow_c_stream__(self, requested_schema: object | None = ...) -> object: ...

@final
class DictList(_Records):
    """A list of dicts stored in compact columnar (Arrow) layout.

    A drop-in for ``list[dict]``: a registered ``collections.abc.MutableSequence``
    whose items are :class:`Row` views.  Schema is inferred and widened as data
    arrives (new keys add columns, int widens to float, null to anything, values
    that fit no typed column go to a compact variant column); pass ``schema`` to
    fix and enforce column types instead.

    Dtype names: ``"null"``, ``"bool"``, ``"int64"``, ``"float64"``, ``"str"``,
    ``"bytes"``, ``"object"`` (any value, stored in a compact tagged encoding).

    Row views: ``rows[i]`` is a live, writable view of a record that follows it
    through sorts, inserts, deletes and swaps, and outlives its removal, as a dict
    taken from a list would.  Slices, copies, ``rows * n`` and ``where`` share the
    records; ``copy.deepcopy`` and pickle copy them.  ``dict(row)`` detaches a plain
    copy.
    """

    def __iter__(self) -> Iterator[Row]: ...
    def __reversed__(self) -> Iterator[Row]: ...
    def __new__(
        cls,
        data: Iterable[Mapping[str, Any]] | None = None,
        *,
        schema: Mapping[str, str] | None = None,
        chunk_rows: int | None = None,
    ) -> Self: ...
    @property
    def columns(self) -> list[str]:
        """Field names, in first-seen order (those of :attr:`schema`)."""
    @classmethod
    def from_arrow(
        cls, data: object, *, chunk_rows: int | None = None, trusted: bool = False
    ) -> DictList:
        """Build from any object exporting ``__arrow_c_stream__`` (pyarrow, polars, ...).

        A pickled Python object in the data raises :class:`memslim.UntrustedDataError`
        unless ``trusted=True``: loading it could run code chosen by whoever made the
        table.  Dates, times, decimals and UUIDs are stored without pickle and need no
        opt-in."""
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        mode: Literal["a", "r"] = "a",
        *,
        recover: bool = False,
        trusted: bool = False,
    ) -> DictListFile:
        """Open a persistent record file (mode ``"a"``: read and append, created if
        missing; ``"r"``: read-only).  See :class:`DictListFile`.

        What a crash during a flush leaves is dropped (and reported in ``.recovered``).
        Any other damage is never dropped silently: mode ``"a"`` raises
        :class:`memslim.CorruptFileError` (naming the file and byte offset, changing
        nothing); mode ``"r"`` opens the records before the damage and warns
        :class:`memslim.DamagedFileWarning`; ``recover=True`` (mode ``"a"``) repairs the
        file, keeping every record that verifies and writing every byte it cuts off to a
        side file ``<path>.dropped-<unix time>`` (``.recovered`` lists them).

        Reading a pickled Python object back from the file raises
        :class:`memslim.UntrustedDataError` unless ``trusted=True`` (see SECURITY.md)."""
    def save(self, path: str | os.PathLike[str]) -> int:
        """Write the records to a record file at ``path``, replacing it atomically;
        returns the number of records."""
    def to_parquet(
        self,
        path: str | os.PathLike[str],
        *,
        partition_by: str | Sequence[str] = ...,
        max_rows_per_file: int | None = None,
        compression: str = "snappy",
        row_group_size: int = 131072,
        dataset: bool | None = None,
    ) -> list[str]:
        """Write the records to Parquet: one file at ``path`` (replaced once the new one
        is complete), or, with ``partition_by`` or ``max_rows_per_file`` (or
        ``dataset=True``), uniquely named part files under the directory ``path`` in the
        Hive layout (``country=DE/part-<unique>-00000.parquet``).  What Parquet cannot
        say (absent keys, ints among floats, key order) travels in the file's metadata,
        so :func:`memslim.read_parquet` gives back exactly these records; other readers
        see plain typed columns.  Compression: ``"snappy"`` (default), ``"gzip"``,
        ``"lz4"`` or ``"none"``.  Returns the paths written.  All or nothing: on an
        error, the part files already finished are removed again (files already in
        the directory stay), and a single file keeps its old content."""
    def iter_dicts(self) -> _PlainIter[dict[str, Any]]:
        """Plain ``dict`` copies of the records (``type(d) is dict``), made in native
        code a batch at a time, from a snapshot of the list taken at the call (later
        changes to the list are not seen). For consumers that accept only real dicts:
        ``sqlite3`` named parameters, ``pandas.json_normalize``, ``orjson``."""

@final
class Row:
    """A live, dict-like view of one record, of a :class:`DictList` or of a record file
    (:class:`DictListFile`): one type over the core's one read interface.

    A registered ``collections.abc.MutableMapping``; compares equal to the plain dict.
    A DictList's row follows its record through sorts, inserts and deletes and writes
    through to it. A record file's row reads its record (records never change once
    appended): writes raise :class:`memslim.UnsupportedTypeError` (a ``TypeError``); it
    keeps the file object alive, and reading after ``close()`` raises ``ValueError``.
    """

    def __sizeof__(self) -> int:
        """The view's own size, plus the memory of its list it keeps alive once nothing
        else holds that memory (what dropping the view would free); see
        ``docs/memory-tools.md``."""

    def __getitem__(self, key: str, /) -> Any: ...
    def __setitem__(self, key: str, value: Any, /) -> None: ...
    def __delitem__(self, key: str, /) -> None: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def get(self, key: str, default: Any = None, /) -> Any: ...
    def keys(self) -> KeysView[str]:
        """The record's keys: a live, set-like view, as ``dict.keys()``."""
    def values(self) -> ValuesView[Any]:
        """The record's values: a live view, as ``dict.values()``."""
    def items(self) -> ItemsView[str, Any]:
        """The record's ``(key, value)`` pairs: a live, set-like view, as ``dict.items()``."""
    def pop(self, key: str, default: Any = ...) -> Any: ...
    def popitem(self) -> tuple[str, Any]: ...
    def setdefault(self, key: str, default: Any = None) -> Any: ...
    def update(self, other: Any = (), /, **kwargs: Any) -> None: ...
    def clear(self) -> None: ...
    def copy(self) -> dict[str, Any]: ...
    def to_dict(self) -> dict[str, Any]: ...
    @property
    def index(self) -> int:
        """Position of the record in its record file. A DictList's row has none
        (``AttributeError``): its record may sit in several lists; use
        ``rows.index(row)``."""
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __or__(self, other: Mapping[str, Any], /) -> dict[str, Any]:
        """``row | d``: a new plain dict, as ``dict | dict`` gives."""
    def __ror__(self, other: Mapping[str, Any], /) -> dict[str, Any]: ...
    def __ior__(self, other: Any, /) -> Self:  # type: ignore[misc]
        """``row |= d``: ``row.update(d)``, writing through to the record."""
    def __reversed__(self) -> Iterator[str]: ...
    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> dict[Any, Any]:
        """``dict.fromkeys``: a new plain dict."""
    def __class_getitem__(cls, item: Any) -> Any: ...

@final
class TupleList(_Records):
    """A list of tuples stored in compact columnar (Arrow) layout.

    Items come back as instances of ``row_type``, a ``collections.namedtuple`` class
    with the list's ``fields``, so they are real tuples: index, slice, unpack, hash,
    ``==`` with plain tuples, attribute access, ``_asdict()``, ``_replace()``.
    ``fields`` defaults to ``_fields`` of the first namedtuple in ``data`` (or of
    ``row_type``). ``row_type=tuple`` gives plain tuples instead (faster to index).
    A registered ``collections.abc.MutableSequence``.
    """

    def __new__(
        cls,
        data: Iterable[Sequence[Any]] | None = None,
        fields: Sequence[str] | None = None,
        *,
        schema: Mapping[str, str] | None = None,
        chunk_rows: int | None = None,
        row_type: type[tuple[Any, ...]] | None = None,
    ) -> Self: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def row_type(self) -> type[tuple[Any, ...]]: ...
    @classmethod
    def from_arrow(
        cls,
        data: object,
        *,
        chunk_rows: int | None = None,
        trusted: bool = False,
        row_type: type[tuple[Any, ...]] | None = None,
    ) -> TupleList: ...
    def iter_tuples(self) -> _PlainIter[tuple[Any, ...]]:
        """Plain ``tuple`` copies of the records (``type(t) is tuple``, fields in field
        order), made in native code a batch at a time, from a snapshot of the list
        taken at the call."""

@final
class Column:
    """A read-only view of one field, of a :class:`DictList` (a snapshot, copy-on-write:
    taking it copies nothing) or of a record file (``DictListFile.column``: the records
    there were when it was taken, read from the file when asked): one type over the
    core's one read interface.

    A ``collections.abc.Sequence`` of the field's values (absent and null both read as
    ``None``); ``==`` compares it with a list of the same values.  Numeric columns
    without nulls support the buffer protocol, so ``numpy.asarray(col)`` is zero-copy
    when the column is stored in one chunk (or one committed batch of a file);
    ``__array__`` covers the rest: an int column with nulls becomes float64 with NaN,
    as pandas makes it, so ints past 2**53 lose precision there (use
    ``pyarrow.array(col)`` to keep them).  ``__arrow_c_stream__`` hands a file's mapped batches
    to pyarrow and polars without a copy.
    """

    def __sizeof__(self) -> int:
        """The view's own size, plus the memory of its list it keeps alive once nothing
        else holds that memory (what dropping the view would free); see
        ``docs/memory-tools.md``."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def null_count(self) -> int: ...
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def sum(self) -> Any:
        """Sum of the non-null values (bools count as ints, ints exact); 0 for an empty
        column or one of nulls only. Floats are summed in lanes, as numpy sums them: the
        last bits may differ from ``sum()``'s left-to-right result, and ints beside floats
        are summed exactly first. Values the core cannot add (an ``object`` column's
        ints past 128 bits, ``Decimal``...) are summed by Python's ``sum``."""
    def mean(self) -> Any:
        """Mean of the non-null values (``None`` if there are none): their sum, as
        :meth:`sum` gives it, over their count. A sum of ints is divided exactly and
        rounded once, as Python's ``int / int``; values only Python can add are
        Python's ``sum(values) / len(values)`` (a ``Decimal`` for ``Decimal`` values)."""
    def min(self) -> Any:
        """Smallest non-null value, as Python's ``min`` picks it (bools among numbers,
        ints against floats exactly, bytes natively; containers and other values by
        Python's ``min`` itself); ``ValueError`` if there is none."""
    def max(self) -> Any:
        """Largest non-null value, as Python's ``max`` picks it."""
    def to_list(self) -> list[Any]: ...
    def count(self, value: object) -> int:
        """Values equal to ``value`` (native for built-in values)."""
    def index(self, value: object, start: SupportsIndex = 0, stop: SupportsIndex = ...) -> int: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]
    @property
    def __array_interface__(self) -> dict[str, Any]:
        """NumPy's array interface (zero-copy); only for numeric columns without nulls."""
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The column as an Arrow stream of one-column record batches (the field's types
        in ``DictList.__arrow_c_stream__``; absent as null), sharing its buffers."""

class _View(Generic[_T]):
    """What the three mapping views share (stub only)."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[_T]: ...
    def __reversed__(self) -> Iterator[_T]: ...
    def __contains__(self, x: object, /) -> bool: ...
    @property
    def mapping(self) -> Mapping[str, Any]:
        """A read-only proxy of the mapping the view reads, as a dict view's."""

class _SetView(_View[_T]):
    """The set operations of the keys and items views (stub only)."""

    def __and__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __rand__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __or__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __ror__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __xor__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __rxor__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __sub__(self, other: Iterable[Any], /) -> set[Any]: ...
    def __rsub__(self, other: Iterable[Any], /) -> set[Any]: ...
    def isdisjoint(self, other: Iterable[Any], /) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: object, /) -> bool: ...
    def __le__(self, other: object, /) -> bool: ...
    def __gt__(self, other: object, /) -> bool: ...
    def __ge__(self, other: object, /) -> bool: ...

@final
class _KeysView(_SetView[str]):
    """A mapping's keys, live and set-like (as ``dict.keys()``)."""

@final
class _ItemsView(_SetView[tuple[str, Any]]):
    """A mapping's ``(key, value)`` pairs, live and set-like (as ``dict.items()``)."""

@final
class _ValuesView(_View[Any]):
    """A mapping's values, live (as ``dict.values()``)."""

@final
class _ColumnIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def __length_hint__(self) -> int: ...

@final
class _PairIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[str, Any]: ...
    def __length_hint__(self) -> int: ...

@final
class _RecordsIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def __length_hint__(self) -> int: ...

@final
class _TupleIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def __length_hint__(self) -> int: ...

def _restore_dictlist(data: Any, *buffers: Any) -> DictList: ...
def _restore_tuplelist(
    data: Any,
    fields: Sequence[str],
    row_type: type[NamedTuple] | None = None,
    *buffers: Any,
) -> TupleList: ...

@final
class _Buffer:
    """One read-only column buffer of a pickled list (buffer protocol)."""

    def __len__(self) -> int: ...

class _AllocatorStats(TypedDict):
    heap_bytes: int
    mmap_bytes: int
    in_use_bytes: int
    free_bytes: int
    releasable_bytes: int

class _Stats(TypedDict):
    structures: int
    structure_bytes: int
    allocator: _AllocatorStats | None

def stats() -> _Stats:
    """What memslim holds right now, cheap enough to log from a long-running service.

    - ``structures``: live DictList and TupleList objects (copies, slices, ``* n``,
      ``+`` and ``where`` results included: each is a list); DocList and record-file
      objects count too;
    - ``structure_bytes``: the bytes of the buffers they own, as last reported to
      ``tracemalloc`` (after every bulk operation and every few thousand appends; each
      ``nbytes`` adds the object's small fixed part);
    - ``allocator``: glibc's ``mallinfo2()`` for the whole process, Python's and other
      libraries' allocations included: ``heap_bytes`` (heap obtained from the OS),
      ``mmap_bytes`` (large blocks mapped directly), ``in_use_bytes`` (heap in use),
      ``free_bytes`` (free but still held), ``releasable_bytes`` (free at the top of the
      heap); ``None`` where the allocator is not glibc 2.33 or newer.
    """

# -- documents (memslim-arena) ---------------------------------------------------------

@final
class DocList:
    """A list of nested JSON-like documents held in arena memory with interned keys.

    Holds dicts (str keys), lists, tuples, str, int of any size, float, bool, None and
    bytes, exactly: ``to_python()`` gives back what went in, types included.  Items are
    read-only lazy views (:class:`DocView` for dicts, :class:`ListView` for lists and
    tuples; scalars come back as plain values).  Views keep their memory alive and stay
    valid after deletes and ``compact()``.  A registered ``collections.abc.Sequence``.
    String values of 48 bytes or more are kept in deflate-compressed blocks of about
    32 KB and inflated on read (the last two blocks read stay inflated).

    Subclasses of dict, list, tuple, str, int, float and bytes (``defaultdict``,
    ``OrderedDict``, namedtuples, enums) and a DictList's :class:`Row` are stored as
    their plain base value, as ``json.dumps`` writes them, and come back as the base type.
    Bad input raises ``TypeError`` (non-str keys, objects that are not JSON-like) or
    ``ValueError`` (cycles, lone surrogates, nesting past 512 levels) naming the path
    inside the document, e.g. ``doc[3]["a"][2]``, and leaves the list unchanged.
    """

    def __new__(cls, iterable: Iterable[Any] | None = None, /) -> Self: ...
    @classmethod
    def from_jsonl(cls, source: _Source) -> DocList:
        """One document per non-blank line of JSON text: a file path, a file object
        (binary or text), bytes or an iterable of lines, as :func:`read_jsonl` takes.

        Values as ``json.loads`` reads them (integers of any size exactly; a repeated
        key keeps its first place and last value); a bad line raises
        :class:`ParseError` with ``path``, ``line`` and ``column``."""
    def append(self, value: Any) -> None: ...
    def extend(self, iterable: Iterable[Any]) -> None:
        """Append every document; atomic: on a bad document nothing is appended."""
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, index: slice, /) -> DocList: ...
    def __delitem__(self, index: SupportsIndex | slice, /) -> None:
        """Remove documents; their bytes stay as garbage until ``compact()``."""
    def __iter__(self) -> Iterator[Any]: ...
    def __contains__(self, value: object, /) -> bool: ...
    def index(self, value: object, start: SupportsIndex = 0, stop: SupportsIndex = ...) -> int: ...
    def count(self, value: object) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: DocList | list[Any], /) -> bool:
        """List order: document by document (as the plain values), then by length."""
    def __le__(self, other: DocList | list[Any], /) -> bool: ...
    def __gt__(self, other: DocList | list[Any], /) -> bool: ...
    def __ge__(self, other: DocList | list[Any], /) -> bool: ...
    def __add__(self, other: DocList | list[Any], /) -> DocList:
        """A new DocList with copies of the documents of both."""
    def __radd__(self, other: list[Any], /) -> DocList: ...
    def __iadd__(self, other: Iterable[Any], /) -> Self: ...
    def __mul__(self, n: SupportsIndex, /) -> DocList:
        """A new DocList holding copies of the documents ``n`` times over."""
    def __rmul__(self, n: SupportsIndex, /) -> DocList: ...
    def __imul__(self, n: SupportsIndex, /) -> Self: ...
    def to_python(self) -> list[Any]:
        """The documents as plain Python objects (deep copies)."""
    def compact(self) -> int:
        """Copy the live documents (and their long strings, recompressed) into fresh
        memory; returns the garbage bytes reclaimed."""
    @property
    def nbytes(self) -> int:
        """Bytes this list owns: arena (live, garbage, free), text blocks, symbol table,
        index."""
    @property
    def live_bytes(self) -> int:
        """Encoded bytes of the documents in the list, with their share of the text
        blocks (in proportion to the length of their long strings)."""
    @property
    def garbage_bytes(self) -> int:
        """Bytes of deleted documents (with their share of the text blocks) still held
        until ``compact()``."""
    def memory_info(self) -> dict[str, int]:
        """``live``, ``garbage``, ``arena_free``, ``symbols``, ``index``, ``total``; and
        ``text`` (bytes of the compressed long strings, counted in ``live`` and
        ``garbage``) and ``text_raw`` (their uncompressed length)."""
    def __sizeof__(self) -> int: ...
    def copy(self) -> DocList: ...
    def __copy__(self) -> DocList: ...
    def __deepcopy__(self, memo: Any, /) -> DocList: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __reduce_ex__(self, protocol: SupportsIndex, /) -> tuple[Any, ...]:
        """Pickle: the checksummed image of the list.  From protocol 5 on it travels as a
        ``pickle.PickleBuffer`` (out of band with a ``buffer_callback``); loading
        validates it, and a damaged image raises ``CorruptDataError``."""

@final
class DocView:
    """A read-only view of a dict inside a :class:`DocList` document.

    A registered ``collections.abc.Mapping``; compares equal to the plain dict.
    Pickling or copying gives a plain dict.
    """

    def __sizeof__(self) -> int:
        """The view's own size, plus the memory of its list it keeps alive once nothing
        else holds that memory (what dropping the view would free); see
        ``docs/memory-tools.md``."""

    def __getitem__(self, key: str, /) -> Any: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def keys(self) -> KeysView[str]: ...
    def values(self) -> ValuesView[Any]: ...
    def items(self) -> ItemsView[str, Any]: ...
    def to_python(self) -> dict[str, Any]:
        """The dict as plain Python objects (a deep copy)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...  # type: ignore[override]
    def copy(self) -> dict[str, Any]:
        """``dict.copy``: a new plain dict, shallow (nested dicts and lists stay views;
        ``to_python()`` copies all the way down)."""
    def __or__(self, other: Mapping[str, Any], /) -> dict[str, Any]:
        """``view | d``: a new plain dict, as ``dict | dict`` gives."""
    def __ror__(self, other: Mapping[str, Any], /) -> dict[str, Any]: ...
    def __ior__(self, other: Mapping[str, Any], /) -> NoReturn:
        """Raises ``TypeError``: the stored dict cannot change (``x = x | d`` works)."""
    def __reversed__(self) -> Iterator[str]: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class ListView:
    """A read-only view of a list or tuple inside a :class:`DocList` document.

    A registered ``collections.abc.Sequence``; compares (``==``, ``<``...) as the plain
    list or tuple, and a stored tuple hashes as the tuple; ``to_python()`` gives a tuple
    for a stored tuple.
    """

    def __sizeof__(self) -> int:
        """The view's own size, plus the memory of its list it keeps alive once nothing
        else holds that memory (what dropping the view would free); see
        ``docs/memory-tools.md``."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[Any] | tuple[Any, ...]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __contains__(self, value: object, /) -> bool: ...
    def index(self, value: object, start: SupportsIndex = 0, stop: SupportsIndex = ...) -> int: ...
    def count(self, value: object) -> int: ...
    @property
    def is_tuple(self) -> bool:
        """Whether the stored value is a tuple."""
    def to_python(self) -> list[Any] | tuple[Any, ...]:
        """The value as a plain list or tuple (a deep copy)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: ListView | list[Any] | tuple[Any, ...], /) -> bool: ...
    def __le__(self, other: ListView | list[Any] | tuple[Any, ...], /) -> bool: ...
    def __gt__(self, other: ListView | list[Any] | tuple[Any, ...], /) -> bool: ...
    def __ge__(self, other: ListView | list[Any] | tuple[Any, ...], /) -> bool: ...
    def __hash__(self) -> int:  # type: ignore[override]
        """A stored tuple's hash (``TypeError`` for a stored list, as a list has none)."""
    def copy(self) -> list[Any]:
        """``list.copy``: a new plain list, shallow (nested dicts and lists stay views).
        A stored tuple raises ``AttributeError``, as a tuple has no ``copy``."""
    def __add__(self, other: Any, /) -> list[Any] | tuple[Any, ...]:
        """As the stored list or tuple adds: a new plain list or tuple (shallow)."""
    def __radd__(self, other: Any, /) -> Any: ...
    def __mul__(self, n: SupportsIndex, /) -> list[Any] | tuple[Any, ...]: ...
    def __rmul__(self, n: SupportsIndex, /) -> list[Any] | tuple[Any, ...]: ...
    def __iadd__(self, other: Any, /) -> NoReturn:
        """Raises ``TypeError``: the stored list or tuple cannot change (``x = x + y``
        works)."""
    def __imul__(self, n: SupportsIndex, /) -> NoReturn: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class _DocListIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def __length_hint__(self) -> int: ...

def _restore_doclist(data: Any) -> DocList: ...

# -- streaming readers (memslim-stream) -------------------------------------------------

#: The suffixes a path is decompressed by (any case): ``.gz``, ``.gzip``, ``.zst``, ``.zstd``.
_COMPRESSED_SUFFIXES: tuple[str, ...]

#: What the readers accept: a path (decompressed by its suffix, see ``_COMPRESSED_SUFFIXES``), bytes
#: (or a bytearray or memoryview), a file object (binary or text), or an iterable of
#: lines (bytes or str).
_Source: TypeAlias = str | PathLike[str] | bytes | bytearray | memoryview | Any

@overload
def read_jsonl(
    source: _Source,
    *,
    columns: Sequence[str] | None = None,
    schema: Mapping[str, str] | None = None,
    on_error: str = "raise",
    progress: bool = False,
    nested: Literal["columns"] = "columns",
    max_line_bytes: int = 1073741824,
) -> DictList:
    """Read JSON Lines (one object per line) into a :class:`DictList`, parsed in native
    code straight into columns (a path is parsed on a second thread).

    Values keep the types ``json.loads`` gives. ``columns`` keeps only those fields
    (the rest are skipped unparsed); ``schema`` declares types (and, like ``columns``,
    drops fields it does not name). A malformed line raises :class:`memslim.ParseError`
    naming path, line and column; ``on_error="skip"`` leaves such lines out and warns
    :class:`memslim.SkippedLinesWarning` with the count. ``progress=True`` draws a
    progress bar on stderr.

    Limits for untrusted input: a line longer than ``max_line_bytes`` (1 GiB at most and
    by default) raises :class:`memslim.ParseError` before it is buffered whole; an
    integer with more digits than ``sys.get_int_max_str_digits()`` raises as
    ``json.loads`` does; values may nest 512 containers deep. A ``.gz``/``.zst`` file
    whose checksum fails raises :class:`memslim.CorruptFileError`.

    ``nested="docs"`` reads each line as a whole document into a :class:`DocList`
    instead (from the same sources; as :meth:`DocList.from_jsonl`)."""

@overload
def read_jsonl(
    source: _Source,
    *,
    columns: None = None,
    schema: None = None,
    on_error: Literal["raise"] = "raise",
    progress: Literal[False] = False,
    nested: Literal["docs"],
    max_line_bytes: int = 1073741824,
) -> DocList: ...
def iter_jsonl(
    source: _Source,
    *,
    batch_size: int = 65536,
    columns: Sequence[str] | None = None,
    schema: Mapping[str, str] | None = None,
    on_error: str = "raise",
    progress: bool = False,
    max_line_bytes: int = 1073741824,
) -> BatchReader:
    """Like :func:`read_jsonl`, but yields :class:`DictList` batches of ``batch_size``
    records, so memory stays bounded by the batch size (and ``max_line_bytes``) whatever
    the input size."""

@final
class BatchReader:
    """An iterator of :class:`DictList` batches from a streaming reader (also a context
    manager that closes the input)."""
    def __iter__(self) -> Self: ...
    def __next__(self) -> DictList: ...
    def close(self) -> None:
        """Stop reading and release the input."""
    @property
    def path(self) -> str:
        """The input's path, or a description such as ``<iterable>``."""
    @property
    def rows(self) -> int:
        """Records read so far."""
    @property
    def skipped(self) -> int:
        """Lines skipped so far (``on_error="skip"``)."""
    @property
    def first_error(self) -> str | None:
        """The first skipped line's error message."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> bool: ...

def read_csv(
    source: _Source,
    *,
    delimiter: str = ",",
    quotechar: str = '"',
    header: bool = True,
    infer: bool = True,
    columns: Sequence[str] | None = None,
    schema: Mapping[str, str] | None = None,
    on_error: str = "raise",
    progress: bool = False,
    encoding_errors: Literal["strict", "replace"] = "strict",
    max_line_bytes: int = 1073741824,
) -> DictList:
    """Read CSV into a :class:`DictList`. Quoted fields may hold delimiters, doubled
    quotes and line breaks. With ``infer`` (the default) a first pass over the whole
    input types each column: ``int64`` if every value is an integer, ``float64`` if
    every value is a number, ``bool`` for true/false, else ``str``; an empty unquoted
    value is None. A type that would change a value is not inferred: integers with
    leading zeros or a ``+`` (``"007"``), beyond 64 bits, or beyond 2**53 among floats
    keep their column ``str``. ``infer=False`` gives every value as a ``str``, as
    ``csv.DictReader`` does. Records skipped with ``on_error="skip"`` take no part in
    inference. ``columns`` keeps only those fields, each of which the input must have
    (else :class:`memslim.InvalidValueError`). Paths are read twice, seekable files are
    sought back, other inputs are first copied to an unnamed temporary file (memory
    stays bounded by the batch size).

    Bytes that are not UTF-8 raise :class:`memslim.ParseError` naming line, column and
    byte offset (``on_error="skip"`` skips the record; a bad header always raises);
    ``encoding_errors="replace"`` reads each invalid sequence as U+FFFD instead, as
    ``bytes.decode(errors="replace")`` does. ``max_line_bytes`` bounds a record (line
    breaks inside quotes included). Other errors as :func:`read_jsonl`."""

def iter_csv(
    source: _Source,
    *,
    batch_size: int = 65536,
    delimiter: str = ",",
    quotechar: str = '"',
    header: bool = True,
    infer: bool = True,
    columns: Sequence[str] | None = None,
    schema: Mapping[str, str] | None = None,
    on_error: str = "raise",
    progress: bool = False,
    encoding_errors: Literal["strict", "replace"] = "strict",
    max_line_bytes: int = 1073741824,
) -> BatchReader:
    """Like :func:`read_csv`, but yields :class:`DictList` batches of ``batch_size``."""

@final
class JsonlWriter:
    """Writes :class:`DictList` batches to a JSON Lines file, formatted as
    ``json.dumps`` formats records; every batch is written as whole lines and flushed."""
    def __new__(cls, path: str | PathLike[str]) -> JsonlWriter: ...
    def write(self, batch: DictList) -> int:
        """Append a batch; returns the records written so far. A value JSON cannot hold
        (``bytes``, ``Decimal``, a ``set``...) raises the ``TypeError`` ``json.dumps``
        raises, and a ``str`` with a lone surrogate (a UTF-8 file cannot hold it)
        :class:`InvalidValueError`, naming the record by its position among all records
        written (from 0); the records before it are written."""
    def close(self) -> None: ...
    @property
    def rows(self) -> int: ...
    @property
    def path(self) -> str: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> bool: ...

def _select(batch: DictList, fields: Sequence[str]) -> DictList: ...
def _rename(batch: DictList, mapping: Sequence[tuple[str, str]], first_row: int) -> DictList: ...
def _where(batch: DictList, field: str, op: str, value: Any) -> DictList: ...
def _take(batch: DictList, indices: Sequence[int]) -> DictList: ...

@final
class ParquetWriter:
    """Writes :class:`DictList` batches to one Parquet file (``dataset=False``) or to a
    dataset directory of part files, as they arrive.  Leaving a ``with`` block on an
    error drops the files not yet finished."""
    def __new__(
        cls,
        path: str | os.PathLike[str],
        *,
        dataset: bool,
        partition_by: str | Sequence[str] = ...,
        max_rows_per_file: int | None = None,
        compression: str = "snappy",
        row_group_size: int = 131072,
    ) -> Self: ...
    def write(self, batch: DictList) -> int:
        """Write a batch; returns the records written so far."""
    def close(self) -> list[str]:
        """Finish every file; returns the paths written."""
    def abort(self) -> None:
        """Drop the files not yet finished."""
    @property
    def rows(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, exc_type: object, *args: object) -> bool: ...

@final
class ParquetReader:
    """An iterator of :class:`DictList` batches read from Parquet files; see
    :func:`memslim.iter_parquet`."""
    def __new__(
        cls,
        inputs: Sequence[str | os.PathLike[str]],
        *,
        columns: Sequence[str] | None = None,
        batch_size: int = 65536,
        trusted: bool = False,
    ) -> Self: ...
    def files(self) -> list[str]:
        """The files read, in order (also once the reader has run to the end or
        failed)."""
    def __iter__(self) -> Self: ...
    def __next__(self) -> DictList: ...

def _read_parquet(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    columns: Sequence[str] | None = None,
    trusted: bool = False,
) -> DictList: ...

@final
class DictListFile:
    """A persistent list of records: an Arrow IPC stream on disk, read through a memory
    map, with crash-safe appends.  Returned by :meth:`DictList.open`.

    Reading a record touches only the pages of its batch; ``rows[i]`` and iteration give
    :class:`Row` views that read back exactly what was appended (a key a record
    lacked stays absent).  ``append``/``extend``
    collect records in memory; ``flush()`` (or ``close()``, or leaving a ``with`` block)
    writes, syncs and commits them; records with new keys or wider types than the file
    holds start a new segment (several Arrow IPC streams back to back).  One writer at a time (a second gets
    :class:`memslim.FileLockedError`); readers (``mode="r"``) see what was committed
    when they opened and call ``refresh()`` to see more.
    """

    def __new__(
        cls,
        path: str | os.PathLike[str],
        mode: Literal["a", "r"] = "a",
        *,
        recover: bool = False,
        trusted: bool = False,
    ) -> Self: ...
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Row: ...
    @overload
    def __getitem__(self, index: slice, /) -> FileSlice: ...
    def __iter__(self) -> Iterator[Row]: ...
    def to_list(self) -> list[dict[str, Any]]:
        """Every record as a plain dict, in a list."""
    def __eq__(self, other: object, /) -> bool: ...
    def index(self, value: object, start: int = 0, stop: int = ...) -> int:
        """Position of the first record in ``[start, stop)`` equal to ``value``."""
    def count(self, value: object) -> int:
        """Number of records equal to ``value``."""
    def where(self, field: str, op: str, value: object) -> DictList:
        """The records whose ``field`` compares to ``value`` with ``op`` (as
        ``DictList.where`` selects them), read into a new ``DictList``; the file is not
        changed and later appends are not in it.  Pickled values are refused unless the
        file was opened with ``trusted=True``."""
    __hash__: None  # type: ignore[assignment]
    @property
    def columns(self) -> list[str]: ...
    @property
    def path(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def pending(self) -> int:
        """Records appended but not yet flushed."""
    @property
    def recovered(self) -> dict[str, Any]:
        """What opening found and did: ``dropped_data_bytes`` and
        ``dropped_index_bytes`` (past what the file gives: dropped by a writer, left out
        by a reader), ``damage`` (``None``, or the damage found beyond a crash's trace)
        and ``saved`` (the side files ``recover=True`` wrote the dropped bytes to)."""
    @property
    def nbytes(self) -> int:
        """Bytes held in memory (index, bookkeeping, unflushed records), not the map."""
    @property
    def mapped_bytes(self) -> int:
        """Bytes of committed data in the map."""
    def __sizeof__(self) -> int: ...
    def append(self, record: Mapping[str, Any]) -> None: ...
    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append every record, or none if one does not fit (or the iterator raises),
        unless the iterator appended to the file meanwhile: then, as with ``list.extend``,
        the records it gave before the error stay."""
    def flush(self) -> int:
        """Write, sync and commit the pending records; returns how many."""
    def refresh(self) -> int:
        """Pick up records another process committed; returns the new length."""
    def close(self) -> None:
        """Flush (when writable) and close; the writer lock is released."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        *_exc: object,
    ) -> bool: ...
    def column(self, name: str) -> Column:
        """A lazy, read-only view of one field of the records there are now (pending
        ones included); ``None`` where a record lacks the key.  ``KeyError`` for a field
        no record has."""
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Every record as an Arrow stream; committed batches point into the map."""

FileColumn = Column
"""The old name of a record file's :class:`Column` (one type now); goes in the next
release."""

@final
class FileSlice:
    """A lazy, read-only slice ``rows[a:b:c]`` of a :class:`DictListFile`: a
    ``collections.abc.Sequence`` of :class:`Row` views of the records it covers,
    read only when asked (slicing reads nothing).  Slicing it again gives another
    ``FileSlice``; ``to_list()`` copies its records as plain dicts.  Keeps the file
    object alive; reading after ``close()`` raises ``ValueError``.
    """

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Row: ...
    @overload
    def __getitem__(self, index: slice, /) -> FileSlice: ...
    def __iter__(self) -> Iterator[Row]: ...
    def to_list(self) -> list[dict[str, Any]]:
        """The records as plain dicts, in a list."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]
    def __contains__(self, value: object, /) -> bool: ...
    def index(self, value: object, start: int = 0, stop: int = ...) -> int: ...
    def count(self, value: object) -> int: ...

FileRow = Row
"""The old name of a record file's :class:`Row` (one type now); goes in the next
release."""

@final
class _DictListFileIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Row: ...
    def __length_hint__(self) -> int: ...

@final
class NumberFile:
    """A growable on-disk array of fixed-width numbers (``int8`` ... ``int64``,
    ``uint8`` ... ``uint64``, ``float32``, ``float64``, ``bool``).

    A ``MutableSequence`` that grows at the end; ``numpy.asarray(a)`` is a zero-copy,
    writable view through the buffer protocol.  While such a view is alive, resizing
    (append, extend, pop, del) and ``close()`` raise ``BufferError``, as with
    ``bytearray``.  ``flush()`` makes appends durable; like a Python file, a NumberFile
    collected while open (or open at interpreter exit) flushes and closes.  Growth
    happens only at the end: ``insert``, ``del`` and ``pop`` elsewhere raise
    :class:`memslim.AppendOnlyError` (an ``IndexError``).

    Called ``MmapList`` until memslim 0.1; ``memslim.MmapList`` still works for one
    release and warns ``DeprecationWarning``.
    """

    def __new__(
        cls,
        path: str | os.PathLike[str],
        dtype: str | None = None,
        *,
        mode: Literal["a", "r"] = "a",
    ) -> Self: ...
    @property
    def dtype(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def itemsize(self) -> int: ...
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[Any]: ...
    def __setitem__(self, index: SupportsIndex | slice, value: Any, /) -> None: ...
    def __delitem__(self, index: int, /) -> None: ...
    def __contains__(self, value: object, /) -> bool: ...
    def __iter__(self) -> Iterator[Any]: ...
    def append(self, value: Any) -> None: ...
    def extend(self, values: Iterable[Any]) -> None: ...
    def insert(self, index: int, value: Any) -> None:
        """Append ``value`` if ``index`` is the end; elsewhere an IndexError."""
    def pop(self, index: int = ...) -> Any: ...
    def index(self, value: Any, start: int = 0, stop: int = ...) -> int: ...
    def count(self, value: Any) -> int: ...
    def tolist(self) -> list[Any]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        *_exc: object,
    ) -> bool: ...

@final
class _NumberFileIter:
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...

def _save_records(data: object, path: str | os.PathLike[str]) -> int: ...

@final
class _PlainIter(Generic[_T]):
    def __iter__(self) -> Self: ...
    def __next__(self) -> _T: ...
    def __length_hint__(self) -> int: ...

def _dumps_native(
    obj: object,
    ensure_ascii: bool,
    allow_nan: bool,
    sort_keys: bool,
    skipkeys: bool,
    indent: str | None,
    item_separator: str,
    key_separator: str,
    int_max_str_digits: int,
) -> str | None: ...
