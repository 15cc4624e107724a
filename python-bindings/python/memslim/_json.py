"""JSON out: ``memslim.dumps`` / ``memslim.dump`` and ``memslim.to_builtins``.

``dumps`` gives exactly the text ``json.dumps`` gives for the same structure with every
memslim object replaced by its plain form (a ``DictList`` by a list of dicts, a
``TupleList`` by a list of tuples...). The records are written natively from their
columns; whatever the native writer cannot write exactly as ``json`` would (a ``cls=`` or
``default=``, an object of another type, a cycle, ``allow_nan=False`` meeting a NaN...)
is handed to ``json.dumps`` itself with :func:`to_builtins` as its ``default``, so the
answer (or the exception) is always ``json``'s own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, Any

from memslim import _memslim
from memslim.exceptions import InvalidValueError

__all__ = ["dump", "dumps", "to_builtins"]


def _records(o: Any) -> Any:
    return o.to_list()


def _tuples(o: Any) -> Any:
    return list(o.iter_tuples())


def _row(o: Any) -> Any:
    return o.to_dict()


def _python(o: Any) -> Any:
    return o.to_python()


def _mmap(o: Any) -> Any:
    return o.tolist()


#: Each memslim type -> its plain form (built in native code by the method called).
_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    _memslim.DictList: _records,
    _memslim.TupleList: _tuples,
    _memslim.Row: _row,
    _memslim.Column: _records,
    _memslim.DocList: _python,
    _memslim.DocView: _python,
    _memslim.ListView: _python,
    _memslim.DictListFile: _records,
    _memslim.FileSlice: _records,
    _memslim.NumberFile: _mmap,
}

_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _plain(o: Any) -> Any:
    conv = _CONVERTERS.get(type(o))
    if conv is not None:
        return conv(o)
    t = type(o)
    if t is dict:
        return {k: _plain(v) for k, v in o.items()}
    if t is list:
        return [_plain(v) for v in o]
    if t is tuple:
        return tuple(_plain(v) for v in o)
    return o


def to_builtins(obj: Any) -> Any:
    """``obj`` with every memslim object in it replaced by plain ``dict``, ``list`` and
    ``tuple`` objects: a ``DictList`` (or record file, or slice of one) by a list of
    dicts, a ``TupleList`` by a list of tuples, a ``Row`` by a dict, a ``Column`` by a
    list, a ``DocList`` by its documents.

    Plain ``dict``, ``list`` and ``tuple`` containers are copied with their memslim
    contents converted; other objects inside them are left as they are. Usable as the
    hook of type-strict encoders::

        json.dumps(x, default=memslim.to_builtins)
        orjson.dumps(x, default=memslim.to_builtins)
        msgspec.json.encode(x, enc_hook=memslim.to_builtins)

    Raises:
        TypeError: ``obj`` itself is neither a memslim object nor a plain value or
            container (``"Object of type X is not JSON serializable"``, as ``json``
            says), so encoders report their usual error for it.
    """
    conv = _CONVERTERS.get(type(obj))
    if conv is not None:
        return conv(obj)
    if type(obj) in (dict, list, tuple) or isinstance(obj, _PLAIN_SCALARS):
        return _plain(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _sink_line(record: Any) -> tuple[bool, str]:
    """The line the JSON Lines sink writes for ``record`` (a ``Row``), one of whose values
    is stored pickled (a namedtuple, an ``OrderedDict``, a ``str`` subclass...), which
    only ``json`` can write: ``(True, json.dumps(record, ensure_ascii=False))``, as the
    sink writes every other record. ``(False, field)`` if ``json`` cannot write it, or
    its text has no UTF-8 form, ``field`` being the first whose value is why
    (:func:`_sink_error` says why)."""
    values = record.to_dict()
    try:
        text = json.dumps(values, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError):
        for field, value in values.items():
            try:
                json.dumps(value, ensure_ascii=False).encode("utf-8")
            except (TypeError, ValueError):
                return False, field
        raise
    return True, text


def _sink_error(value: Any, place: str, reason: str) -> Exception:
    """The error of the JSON Lines sink for ``value``, the field at ``place`` its native
    writer cannot write (``reason``): what writing ``json.dumps(value,
    ensure_ascii=False)`` to a UTF-8 file raises, in ``json``'s words. A ``str`` with a
    lone surrogate is stored ``pickled`` (it has no UTF-8 form), and writing it raises
    ``UnicodeEncodeError``: here an ``InvalidValueError`` (a ``ValueError``) saying so."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except TypeError as e:
        return TypeError(f"{place}: {e}")
    except ValueError as e:
        return ValueError(f"{place}: {e}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return InvalidValueError(
            f"{place}: a str holds the lone surrogate {e.object[e.start]!r}, which has no "
            "UTF-8 form (a JSON Lines file is UTF-8)"
        )
    return TypeError(f"{place}: {reason}")


def _is_memslim(o: Any) -> bool:
    return type(o) in _CONVERTERS


_ENCODERS: dict[type, type] = {}


def _encoder_for(cls: type) -> type:
    """A subclass of the user's encoder class whose ``default`` knows memslim objects
    and defers to the class's own ``default`` for everything else."""
    enc = _ENCODERS.get(cls)
    if enc is None:

        class _MemslimEncoder(cls):  # type: ignore[valid-type,misc]
            def default(self, o: Any) -> Any:
                if _is_memslim(o):
                    return to_builtins(o)
                return super().default(o)

        _MemslimEncoder.__name__ = cls.__name__
        _MemslimEncoder.__qualname__ = cls.__qualname__
        enc = _ENCODERS[cls] = _MemslimEncoder
    return enc


def _native_indent(indent: Any) -> str | None | bool:
    """``indent`` as the text of one level (as ``json``'s encoder computes it), or
    ``False`` when only ``json`` can interpret it."""
    if indent is None or isinstance(indent, str):
        return indent
    if isinstance(indent, int) and not isinstance(indent, bool) and indent <= 1000:
        return " " * indent
    return False


def dumps(
    obj: Any,
    *,
    skipkeys: bool = False,
    ensure_ascii: bool = True,
    check_circular: bool = True,
    allow_nan: bool = True,
    cls: type[json.JSONEncoder] | None = None,
    indent: None | int | str = None,
    separators: tuple[str, str] | None = None,
    default: Callable[[Any], Any] | None = None,
    sort_keys: bool = False,
    **kw: Any,
) -> str:
    """``json.dumps(obj, ...)`` for structures holding memslim objects anywhere: the same
    text, character for character, as ``json.dumps`` gives for ``obj`` with each memslim
    object replaced by its plain form (see :func:`to_builtins`), with the same keyword
    arguments and the same exceptions. ``DictList``, ``TupleList``, ``Row`` and
    ``Column`` are written natively from their columns, without making a dict per record.
    """
    if cls is None and default is None and not kw:
        ind = _native_indent(indent)
        seps: Any = separators
        if seps is None:
            item_sep, key_sep = ("," if indent is not None else ", "), ": "
        elif (
            type(seps) in (tuple, list)
            and len(seps) == 2
            and type(seps[0]) is str
            and type(seps[1]) is str
        ):
            item_sep, key_sep = seps
        else:
            ind = False
        if ind is not False:
            out = _memslim._dumps_native(
                obj,
                bool(ensure_ascii),
                bool(allow_nan),
                bool(sort_keys),
                bool(skipkeys),
                ind,
                item_sep,
                key_sep,
                sys.get_int_max_str_digits(),
            )
            if out is not None:
                return out
    if default is not None:
        user_default = default

        def hook(o: Any) -> Any:
            if _is_memslim(o):
                return to_builtins(o)
            return user_default(o)

        default = hook
    elif cls is None:
        default = to_builtins
    else:
        cls = _encoder_for(cls)
    return json.dumps(
        obj,
        skipkeys=skipkeys,
        ensure_ascii=ensure_ascii,
        check_circular=check_circular,
        allow_nan=allow_nan,
        cls=cls,
        indent=indent,
        separators=separators,
        default=default,
        sort_keys=sort_keys,
        **kw,
    )


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """``json.dump(obj, fp, ...)`` for structures holding memslim objects: writes
    ``dumps(obj, **kwargs)`` to ``fp`` (a text file)."""
    fp.write(dumps(obj, **kwargs))
