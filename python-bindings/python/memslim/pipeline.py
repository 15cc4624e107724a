"""Lazy pipelines over record batches: ``memslim.stream(source).filter(...).to_jsonl(path)``.

A pipeline is a source of :class:`~memslim.DictList` batches plus a list of steps; nothing
runs until a sink (``collect``, ``to_jsonl``, ``to_sink``, ``count``) pulls batches
through. Native steps (``select``, ``rename``, ``where``) run in Rust on whole batches
without the interpreter; ``filter`` and ``map`` call a Python function per record.
Sinks write each batch as it arrives, so memory stays bounded by the batch size, and a
failure later in the stream leaves what was already written intact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from memslim import _memslim
from memslim._memslim import DictList

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


class Stream:
    """A lazy pipeline of batch steps; see :func:`stream`."""

    __slots__ = ("_batch_size", "_source", "_steps")

    def __init__(
        self,
        source: Iterable[Any],
        *,
        batch_size: int = DEFAULT_BATCH,
        _steps: tuple[Callable[[DictList], DictList], ...] = (),
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._source = source
        self._batch_size = batch_size
        self._steps = _steps

    def _then(self, step: Callable[[DictList], DictList]) -> Stream:
        return Stream(self._source, batch_size=self._batch_size, _steps=(*self._steps, step))

    # -- steps ------------------------------------------------------------------------

    def filter(self, predicate: Callable[[Any], object]) -> Stream:
        """Keep the records for which ``predicate(row)`` is true (``row`` is a
        :class:`~memslim.Row` view)."""
        if not callable(predicate):
            raise TypeError("filter() takes a function")

        def step(batch: DictList) -> DictList:
            keep = [i for i, row in enumerate(batch) if predicate(row)]
            if len(keep) == len(batch):
                return batch
            return _memslim._take(batch, keep)

        return self._then(step)

    def map(self, func: Callable[[Any], Mapping[str, Any]]) -> Stream:
        """Replace each record by ``func(row)``, which must return a mapping."""
        if not callable(func):
            raise TypeError("map() takes a function")
        return self._then(lambda batch: DictList([func(row) for row in batch]))

    def select(self, fields: Sequence[str]) -> Stream:
        """Keep only ``fields``, in that order (native)."""
        if isinstance(fields, str):
            raise TypeError("select() takes a list of field names, not a str")
        names = list(fields)
        return self._then(lambda batch: _memslim._select(batch, names))

    def rename(self, mapping: Mapping[str, str]) -> Stream:
        """Rename fields, ``{"old": "new"}`` (native)."""
        pairs = list(dict(mapping).items())
        return self._then(lambda batch: _memslim._rename(batch, pairs))

    def where(self, field: str, op: str, value: None | bool | float | str) -> Stream:
        """Keep records whose ``field`` compares to ``value`` with ``op`` (``==``,
        ``!=``, ``<``, ``<=``, ``>``, ``>=``), natively. A record without the field
        matches only ``!=``."""
        if op not in ("==", "!=", "<", "<=", ">", ">="):
            raise ValueError(f"unknown comparison {op!r} (use ==, !=, <, <=, >, >=)")
        return self._then(lambda batch: _memslim._where(batch, field, op, value))

    # -- running ----------------------------------------------------------------------

    def batches(self) -> Iterator[DictList]:
        """Run the pipeline, yielding each non-empty output batch."""
        for batch in _batches(self._source, self._batch_size):
            for step in self._steps:
                batch = step(batch)
                if not len(batch):
                    break
            if len(batch):
                yield batch

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches():
            yield from batch

    # -- sinks ------------------------------------------------------------------------

    def collect(self) -> DictList:
        """Run the pipeline into one :class:`~memslim.DictList`."""
        out = DictList()
        for batch in self.batches():
            out.extend(batch)
        return out

    def count(self) -> int:
        """Run the pipeline and count the records that come out."""
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

    def to_jsonl(self, path: Any) -> int:
        """Run the pipeline into a JSON Lines file, written batch by batch (each record
        whole, flushed). On an error the file keeps every record written before it.
        Returns the number of records written."""
        with _memslim.JsonlWriter(path) as writer:
            for batch in self.batches():
                writer.write(batch)
            return writer.rows


def stream(source: Iterable[Any], *, batch_size: int = DEFAULT_BATCH) -> Stream:
    """Start a lazy pipeline over ``source``: a reader such as
    :func:`memslim.iter_jsonl`, any iterable of :class:`~memslim.DictList` batches, or
    an iterable of plain records (grouped into batches of ``batch_size``)."""
    return Stream(source, batch_size=batch_size)
