"""Lazy pipelines over record batches: ``memslim.stream(source).filter(...).to_jsonl(path)``.

A pipeline is a source of :class:`~memslim.DictList` batches plus a list of steps; nothing
runs until a sink (``collect``, ``to_jsonl``, ``to_sink``, ``count``) pulls batches
through. Native steps (``select``, ``rename``, ``where``) run in Rust on whole batches
without the interpreter; ``filter`` and ``map`` call a Python function per record.
Sinks write each batch as it arrives, so memory stays bounded by the batch size, and a
failure later in the stream leaves what was already written intact.

``memslim.stream([path, path, ...])`` reads a list of sources (JSON Lines, CSV, Parquet,
compressed or not) as one stream; its sinks then take ``executor=``, any
:class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor``, Dask's
``client.get_executor()`` or the Dask ``Client`` itself): one task per source runs the pipeline where the executor
puts it, and the results are combined (see ``docs/parquet.md``).
"""

from __future__ import annotations

import concurrent.futures as _cf
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from memslim import _memslim
from memslim._memslim import DictList
from memslim._parquet import iter_parquet
from memslim.exceptions import InvalidValueError

__all__ = ["Stream", "stream"]

#: Records grouped per batch when a source yields plain records.
DEFAULT_BATCH = 65_536


def _batches(source: Iterable[Any], batch_size: int) -> Iterator[DictList]:
    """Yield ``DictList`` batches from batches or from plain records."""
    pending: list[Any] = []
    for item in source:
        if isinstance(item, DictList):
            if pending:
                yield DictList(pending)
                pending = []
            yield item
        else:
            pending.append(item)
            if len(pending) >= batch_size:
                yield DictList(pending)
                pending = []
    if pending:
        yield DictList(pending)


#: The suffixes the native readers decompress by (``.gz``, ``.gzip``, ``.zst``, ``.zstd``):
#: their own list, so a suffix taken off here is one they decompress.
_COMPRESSED = _memslim._COMPRESSED_SUFFIXES


def _open_source(source: Any, batch_size: int) -> Iterable[Any]:
    """The batches of one source of a multi-source stream: a path read by its suffix
    (``.jsonl``/``.ndjson``/``.json``, ``.csv``, each optionally compressed, see
    ``_COMPRESSED``;
    ``.parquet`` or a directory of Parquet files), or a callable returning an iterable."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return iter_parquet(path, batch_size=batch_size)
        name = path.lower()
        for suffix in _COMPRESSED:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        if name.endswith((".jsonl", ".ndjson", ".json")):
            return _memslim.iter_jsonl(path, batch_size=batch_size)
        if name.endswith(".csv"):
            return _memslim.iter_csv(path, batch_size=batch_size)
        if name.endswith(".parquet"):
            return iter_parquet(path, batch_size=batch_size)
        raise InvalidValueError(
            f"{path}: unknown source type (use .jsonl, .csv or .parquet, optionally "
            f"{', '.join(_COMPRESSED)}, a Parquet directory, or a callable returning an "
            "iterable)"
        )
    if callable(source):
        return source()  # type: ignore[no-any-return]
    raise TypeError(f"a stream source is a path or a callable, not {type(source).__name__}")


class _Sources:
    """Several sources read one after the other as one stream; kept apart so that an
    executor can run one task per source."""

    __slots__ = ("batch_size", "sources")

    def __init__(self, sources: Sequence[Any], batch_size: int) -> None:
        self.sources = list(sources)
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[Any]:
        for src in self.sources:
            yield from _open_source(src, self.batch_size)


# Steps are small classes rather than closures so that a pipeline pickles (the user's
# functions pickle with pickle, or with cloudpickle where the executor provides it).
# Each is called with a batch and the number of records the step was given before it in
# this run (so that an error can count records in the stream, not in the batch).


class _Filter:
    __slots__ = ("predicate",)

    def __init__(self, predicate: Callable[[Any], object]) -> None:
        self.predicate = predicate

    def __call__(self, batch: DictList, start: int) -> DictList:
        predicate = self.predicate
        keep = [i for i, row in enumerate(batch) if predicate(row)]
        if len(keep) == len(batch):
            return batch
        return _memslim._take(batch, keep)


class _Map:
    __slots__ = ("func",)

    def __init__(self, func: Callable[[Any], Mapping[str, Any]]) -> None:
        self.func = func

    def __call__(self, batch: DictList, start: int) -> DictList:
        func = self.func
        return DictList([func(row) for row in batch])


class _Select:
    __slots__ = ("names",)

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def __call__(self, batch: DictList, start: int) -> DictList:
        return _memslim._select(batch, self.names)


class _Rename:
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __call__(self, batch: DictList, start: int) -> DictList:
        return _memslim._rename(batch, self.pairs, start)


class _Where:
    __slots__ = ("field", "op", "value")

    def __init__(self, field: str, op: str, value: Any) -> None:
        self.field = field
        self.op = op
        self.value = value

    def __call__(self, batch: DictList, start: int) -> DictList:
        return _memslim._where(batch, self.field, self.op, self.value)


def _resolve_executor(executor: Any) -> _cf.Executor:
    if executor == "dask":
        try:
            from distributed import get_client
        except ImportError as e:
            raise ImportError(
                "executor='dask' needs dask.distributed: pip install 'memslim[dask]'"
            ) from e
        return get_client().get_executor()  # type: ignore[no-any-return]
    # A Dask Client has a submit() too, but its futures are not concurrent.futures ones:
    # it runs the pipeline through its own executor. (Looked up only when distributed
    # is imported already: a Client cannot exist otherwise.)
    distributed = sys.modules.get("distributed")
    client = getattr(distributed, "Client", None)
    if isinstance(client, type) and isinstance(executor, client):
        return executor.get_executor()  # type: ignore[no-any-return]
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "executor must be a concurrent.futures.Executor, a Dask Client, or 'dask' for "
            f"the current Dask client, not {type(executor).__name__}"
        )
    return executor  # type: ignore[no-any-return]


def _task(
    source: Any,
    batch_size: int,
    steps: tuple[Callable[[DictList, int], DictList], ...],
    sink: str,
    arg: Any,
    run: str,
) -> Any:
    """Runs the pipeline over one source where an executor puts it. ``run`` (unique to
    this run and source, unused here) makes every task's arguments unique: Dask names a
    task by its arguments and hands back an earlier task's result (or error) instead of
    running one with the same name."""
    pipe = Stream(_Sources([source], batch_size), batch_size=batch_size, _steps=steps)
    try:
        if sink == "collect":
            return pipe.collect()
        if sink == "count":
            return pipe.count()
        if sink == "jsonl":
            return pipe.to_jsonl(arg)
        if sink == "parquet":
            return pipe._write_parquet(*arg)
    except Exception as e:
        e.add_note(f"memslim: in the pipeline task for source {source!r}")
        raise
    raise InvalidValueError(f"unknown sink {sink!r}")


def _first_failure(
    futures: dict[_cf.Future[Any], int], k: int, error: BaseException
) -> tuple[int, BaseException]:
    """The failure a single process would meet, given that the task for source ``k``
    failed with ``error``: the tasks after it are cancelled (those not started), those
    before it are waited for, and the earliest that failed is the answer."""
    for fut, i in futures.items():
        if i > k:
            fut.cancel()
    earlier = {fut: i for fut, i in futures.items() if i < k}
    _cf.wait(earlier)
    for fut, i in sorted(earlier.items(), key=lambda item: item[1]):
        e = None if fut.cancelled() else fut.exception()
        if e is not None:
            return i, e
    return k, error


class Stream:
    """A lazy pipeline of batch steps; see :func:`stream`."""

    __slots__ = ("_batch_size", "_source", "_steps")

    def __init__(
        self,
        source: Iterable[Any],
        *,
        batch_size: int = DEFAULT_BATCH,
        _steps: tuple[Callable[[DictList, int], DictList], ...] = (),
    ) -> None:
        if batch_size < 1:
            raise InvalidValueError("batch_size must be at least 1")
        self._source = source
        self._batch_size = batch_size
        self._steps = _steps

    def _then(self, step: Callable[[DictList, int], DictList]) -> Stream:
        return Stream(self._source, batch_size=self._batch_size, _steps=(*self._steps, step))

    # -- steps ------------------------------------------------------------------------

    def filter(self, predicate: Callable[[Any], object]) -> Stream:
        """Keep the records for which ``predicate(row)`` is true (``row`` is a
        :class:`~memslim.Row` view)."""
        if not callable(predicate):
            raise TypeError("filter() takes a function")
        return self._then(_Filter(predicate))

    def map(self, func: Callable[[Any], Mapping[str, Any]]) -> Stream:
        """Replace each record by ``func(row)``, which must return a mapping."""
        if not callable(func):
            raise TypeError("map() takes a function")
        return self._then(_Map(func))

    def select(self, fields: Sequence[str]) -> Stream:
        """Keep only ``fields``, in that order (native)."""
        if isinstance(fields, str):
            raise TypeError("select() takes a list of field names, not a str")
        names = list(fields)
        return self._then(_Select(names))

    def rename(self, mapping: Mapping[str, str]) -> Stream:
        """Rename fields, ``{"old": "new"}`` (native). Each record keeps its own values
        and key order, so two fields may take one name as long as no record has both
        (an old and a new name of one field); a record that would have a name twice
        raises :class:`~memslim.InvalidValueError` naming it."""
        pairs = list(dict(mapping).items())
        return self._then(_Rename(pairs))

    def where(self, field: str, op: str, value: Any) -> Stream:
        """Keep records whose ``field`` compares to ``value`` with ``op`` (``==``,
        ``!=``, ``<``, ``<=``, ``>``, ``>=``), as :meth:`memslim.DictList.where` does:
        natively for built-in scalars, by Python for the values the core cannot compare
        (big ints, ``Decimal``...). A record without the field matches only ``!=``."""
        if op not in ("==", "!=", "<", "<=", ">", ">="):
            raise InvalidValueError(f"unknown comparison {op!r} (use ==, !=, <, <=, >, >=)")
        return self._then(_Where(field, op, value))

    # -- running ----------------------------------------------------------------------

    def batches(self) -> Iterator[DictList]:
        """Run the pipeline, yielding each non-empty output batch."""
        given = [0] * len(self._steps)
        for batch in _batches(self._source, self._batch_size):
            for k, step in enumerate(self._steps):
                n = len(batch)
                batch = step(batch, given[k])
                given[k] += n
                if not len(batch):
                    break
            if len(batch):
                yield batch

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches():
            yield from batch

    # -- sinks ------------------------------------------------------------------------

    def _sources(self) -> list[Any]:
        if not isinstance(self._source, _Sources):
            raise TypeError(
                "executor= needs a stream over a list of sources: memslim.stream([path, path, ...])"
            )
        return self._source.sources

    def _run(
        self,
        executor: Any,
        sink: str,
        args: Sequence[Any],
        progress: bool = False,
        settle: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """Runs one task per source on ``executor``; the results in source order. The
        first failure cancels the tasks not yet started and propagates, with a note
        naming its source. ``progress`` counts finished tasks on stderr.

        With ``settle``, a failure is the one a single process meets: the tasks before
        the failing source are waited for, the earliest source that failed is the one
        raised, and ``settle(k)`` runs first with its index ``k`` (every task before it
        succeeded), so that a sink can leave what a single process leaves."""
        sources = self._sources()
        ex = _resolve_executor(executor)
        # Workers may run in another directory: paths travel absolute.
        sent = [os.path.abspath(s) if isinstance(s, (str, os.PathLike)) else s for s in sources]
        run = uuid.uuid4().hex
        futures = {
            ex.submit(_task, src, self._batch_size, self._steps, sink, arg, f"{run}-{k}"): k
            for k, (src, arg) in enumerate(zip(sent, args, strict=True))
        }
        results: list[Any] = [None] * len(sources)
        done = 0
        failure: tuple[int, BaseException] | None = None
        try:
            for fut in _cf.as_completed(futures):
                k = futures[fut]
                try:
                    results[k] = fut.result()
                except BaseException as e:  # noqa: BLE001 - re-raised below, whatever it is
                    failure = (k, e)
                    break
                done += 1
                if progress:
                    end = "\n" if done == len(sources) else ""
                    print(f"\rmemslim: {done}/{len(sources)} tasks", end=end, file=sys.stderr)
            if failure is not None:
                # Raised outside the handler, so that the task's own exception chain
                # is left as it is.
                k, error = failure
                if settle is not None:
                    k, error = _first_failure(futures, k, error)
                note = f"memslim: pipeline task for source {sources[k]!r} failed"
                if note not in getattr(error, "__notes__", ()):
                    error.add_note(note)
                if settle is not None:
                    settle(k)
                raise error
        finally:
            for fut in futures:
                fut.cancel()
        return results

    def collect(self, *, executor: Any = None, progress: bool = False) -> DictList:
        """Run the pipeline into one :class:`~memslim.DictList`. With ``executor``,
        one task per source; their lists are joined in source order (``progress``
        counts finished tasks on stderr)."""
        out = DictList()
        if executor is not None:
            nones = [None] * len(self._sources())
            for part in self._run(executor, "collect", nones, progress):
                out.extend(part)
            return out
        for batch in self.batches():
            out.extend(batch)
        return out

    def count(self, *, executor: Any = None, progress: bool = False) -> int:
        """Run the pipeline and count the records that come out (with ``executor``,
        one task per source, counts summed)."""
        if executor is not None:
            return sum(self._run(executor, "count", [None] * len(self._sources()), progress))
        return sum(len(batch) for batch in self.batches())

    def to_sink(self, sink: Any) -> int:
        """Run the pipeline into ``sink``: anything with ``extend(batch)`` and optionally
        ``flush()``, called after every batch and before an error propagates. Returns the
        number of records written."""
        extend = sink.extend
        flush = getattr(sink, "flush", None)
        written = 0
        try:
            for batch in self.batches():
                extend(batch)
                written += len(batch)
                if flush is not None:
                    flush()
        except BaseException:
            if flush is not None:
                flush()
            raise
        return written

    def to_file(self, path: Any) -> int:
        """Run the pipeline into the persistent record file at ``path`` (created if
        missing, appended to otherwise: see :meth:`memslim.DictList.open`), flushed to
        disk after every batch, so a failure later in the stream leaves every earlier
        batch committed. Records with new keys or wider types than the file holds
        start a new segment of it (see :class:`memslim.DictListFile`). Returns the
        number of records written."""
        with _memslim.DictListFile(path, "a") as out:
            return self.to_sink(out)

    def to_jsonl(self, path: Any, *, executor: Any = None, progress: bool = False) -> int:
        """Run the pipeline into a JSON Lines file, written batch by batch (each record
        whole, flushed). On an error the file keeps every record written before it; a
        value JSON cannot hold raises the ``TypeError`` ``json.dumps`` raises, and a
        ``str`` with a lone surrogate (which a UTF-8 file cannot hold)
        :class:`~memslim.InvalidValueError`, naming the record's position in the stream.
        Returns the number of records written.

        With ``executor``, each task writes a hidden part file beside ``path`` (the
        directory must be shared by the workers), and the parts are joined into
        ``path`` in source order: the same file a single process writes, after an
        error too (the parts of the sources before the first that failed, then what
        that one wrote before its error; that error is raised)."""
        if executor is not None:
            path = os.fspath(path)
            head, name = os.path.split(os.path.abspath(path))
            tag = uuid.uuid4().hex
            parts = [
                os.path.join(head, f".{name}.part-{k:05}-{tag}")
                for k in range(len(self._sources()))
            ]

            def join(upto: int) -> None:
                with open(path, "wb") as out:
                    for part in parts[:upto]:
                        # A task that failed before it opened its part wrote nothing.
                        if os.path.exists(part):
                            with open(part, "rb") as f:
                                while chunk := f.read(1 << 20):
                                    out.write(chunk)

            try:
                rows = sum(
                    self._run(executor, "jsonl", parts, progress, settle=lambda k: join(k + 1))
                )
                join(len(parts))
                return rows
            finally:
                for part in parts:
                    if os.path.exists(part):
                        os.remove(part)
        with _memslim.JsonlWriter(path) as writer:
            for batch in self.batches():
                writer.write(batch)
            return writer.rows

    def _write_parquet(
        self,
        path: str,
        dataset: bool,
        partition_by: list[str],
        max_rows_per_file: int | None,
        compression: str,
        row_group_size: int,
    ) -> int:
        writer = _memslim.ParquetWriter(
            path,
            dataset=dataset,
            partition_by=partition_by,
            max_rows_per_file=max_rows_per_file,
            compression=compression,
            row_group_size=row_group_size,
        )
        with writer:
            for batch in self.batches():
                writer.write(batch)
            rows: int = writer.rows
        return rows

    def to_parquet(
        self,
        path: Any,
        *,
        partition_by: str | Sequence[str] | None = None,
        max_rows_per_file: int | None = None,
        compression: str = "snappy",
        row_group_size: int = 131_072,
        executor: Any = None,
        progress: bool = False,
    ) -> int:
        """Run the pipeline into Parquet, written batch by batch; returns the number of
        records written.

        ``path`` is one file, or a dataset directory when ``partition_by`` or
        ``max_rows_per_file`` is given, ``path`` ends with a separator or is an existing
        directory: part files (``country=DE/part-<unique>-00000.parquet``, uniquely
        named so that many writers can fill one directory), each complete before it
        appears. With ``executor`` (always a directory), one task per source writes
        its own part files there. See ``docs/parquet.md``."""
        path = os.fspath(path)
        # One field name, or several (a str is one name, as polars takes it).
        parts = [partition_by] if isinstance(partition_by, str) else list(partition_by or ())
        dataset = (
            bool(parts)
            or max_rows_per_file is not None
            or path.endswith(("/", os.sep))
            or os.path.isdir(path)
            or executor is not None
        )
        if executor is not None:
            path = os.path.abspath(path)
        arg = (path, dataset, parts, max_rows_per_file, compression, row_group_size)
        if executor is not None:
            tasks = [arg] * len(self._sources())
            return sum(self._run(executor, "parquet", tasks, progress))
        return self._write_parquet(*arg)


def stream(source: Iterable[Any], *, batch_size: int = DEFAULT_BATCH) -> Stream:
    """Start a lazy pipeline over ``source``: a reader such as
    :func:`memslim.iter_jsonl`, any iterable of :class:`~memslim.DictList` batches, an
    iterable of plain records (grouped into batches of ``batch_size``), or a list of
    sources (paths of JSON Lines, CSV or Parquet files, or callables returning
    iterables) read one after the other; only the last kind runs on an ``executor=``."""
    many = isinstance(source, (list, tuple)) and bool(source)
    if many and all(isinstance(s, (str, os.PathLike)) or callable(s) for s in source):
        return Stream(_Sources(source, batch_size), batch_size=batch_size)
    return Stream(source, batch_size=batch_size)
