"""Row types for TupleLists whose input rows were not namedtuples.

A TupleList hands out namedtuples. When the data did not bring a namedtuple class of its
own, the class comes from here: one class per field tuple (so rows of two lists with the
same fields have the same type), and rows pickle by their fields and values, since a class
made at run time cannot be found by name when unpickling.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def row_type(fields: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """The namedtuple class ``Record`` with these fields (not ``Row``, which is
    ``memslim.Row``, a DictList's record view).

    A field that cannot be a namedtuple attribute (a keyword such as ``class``, a name
    with a space or a leading underscore, a repeat) gets its position instead (``_2``),
    as ``namedtuple(..., rename=True)`` and pandas' ``itertuples`` do: the rows still hold
    every value in field order, and the list's ``fields`` keep the real names."""
    cls = namedtuple("Record", fields, rename=True, module=__name__)  # type: ignore[misc]

    def __reduce__(self: tuple[Any, ...]) -> tuple[Any, ...]:
        return (make_row, (fields, tuple(self)))

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    return cls  # type: ignore[no-any-return]


def make_row(fields: Iterable[str], values: Iterable[Any]) -> tuple[Any, ...]:
    """A ``Record`` with these fields and values (what unpickling a row calls)."""
    return row_type(tuple(fields))._make(values)  # type: ignore[attr-defined,no-any-return]
