"""``deep_sizeof``: the memory an object graph really occupies, shared objects once.

The walk is breadth-first over whole levels of the graph so that the per-object work runs
in C (``map``, ``set`` operations, ``gc.get_referents`` over a batch); the Python-level
loop runs once per level, not once per object. That keeps a list of a million dicts to a
few seconds where a per-object walk (``pympler.asizeof``) takes minutes.
"""

from __future__ import annotations

import gc
import sys
import types
from collections import Counter
from itertools import chain, repeat
from typing import Any

from memslim._memslim import Column, DictList, DocList, DocView, ListView, Row, TupleList

# Program structure, not data: shared by every instance and alive without it. Objects of
# these types are neither counted nor walked into (an instance refers to its class).
_NOT_DATA: tuple[type, ...] = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
)

# memslim structures and views: each counts its own fixed size plus the native memory it
# keeps alive, as ``_buffers()`` lists it, ``(identity, bytes)`` pairs in which memory
# shared by several of them (a store of records, a column's chunks, a store of documents)
# has one identity, counted once. Their referents (type, cached names) are not data of the
# caller's.
_NATIVE: frozenset[type] = frozenset({DictList, TupleList, Column, Row, DocList, DocView, ListView})
_LEAF_TYPES: frozenset[type] = (
    frozenset({int, float, complex, bool, str, bytes, bytearray, type(None)}) | _NATIVE
)

# CPython's small-object allocator (pymalloc) hands out blocks in 16-byte steps up to
# 512 bytes; larger requests go to malloc, whose chunks carry an 8-byte header and are
# 16-byte aligned. Counting what the allocator hands out, not what the object asked for,
# is what makes the figure agree with RSS.
_ALIGN = 16
_SMALL_REQUEST = 512
_MALLOC_HEADER = 8


def _allocated(size: int) -> int:
    if size <= _SMALL_REQUEST:
        return (size + _ALIGN - 1) & -_ALIGN
    return (size + _MALLOC_HEADER + _ALIGN - 1) & -_ALIGN


# Type flags (Include/object.h). A managed dict (3.11, 3.12) keeps an instance's
# attributes in a values array allocated apart from the object, which sys.getsizeof does
# not count; from 3.13 the values live inside the object and are counted.
_HAVE_GC = 1 << 14
_MANAGED_DICT = 1 << 4
_HEAPTYPE = 1 << 9
_SEPARATE_VALUES = (3, 11) <= sys.version_info[:2] < (3, 13)
# SHARED_KEYS_MAX_SIZE: at most this many attributes share a class's keys (and values).
_SHARED_KEYS_MAX = 30
_POINTER = 8 if sys.maxsize > 2**32 else 4


def _values_bytes(attributes: int) -> int:
    """What CPython 3.11/3.12 allocates for the values array of an instance with
    ``attributes`` attributes set: ``new_values(size)`` with room for one more attribute
    than the class's keys hold (the keys' spare entries shrink to one as instances are
    made, so all but a class's first few instances get that size), after a prefix of
    ``size + 2`` bytes rounded to a pointer."""
    size = min(attributes + 1, _SHARED_KEYS_MAX)
    prefix = (size + 2 + _POINTER - 1) // _POINTER * _POINTER
    return _allocated(prefix + size * _POINTER)


_COMBINED_DICT_BYTES: dict[int, int] = {}


def _combined_dict_bytes(n: int) -> int:
    """sys.getsizeof of an ordinary dict of ``n`` str keys (a split dict, an instance's
    ``__dict__`` sharing its class's keys, reports less: its values only)."""
    size = _COMBINED_DICT_BYTES.get(n)
    if size is None:
        size = _COMBINED_DICT_BYTES[n] = sys.getsizeof(dict.fromkeys(map(str, range(n))))
    return size


def _values_at_creation(kind: type) -> bool:
    """Whether instances of ``kind`` get a values array when made: classes with a managed
    dict over ``object`` (a subclass of dict, list, Exception... gets one only when an
    attribute is set, as a dict that the walk finds and counts)."""
    if not kind.__flags__ & _MANAGED_DICT:
        return False
    return next(b for b in kind.__mro__ if not b.__flags__ & _HEAPTYPE) is object


def _instance_values(objs: list[Any], kind: type) -> int:
    """Bytes of the attribute values arrays of ``objs`` (instances of ``kind``, a class
    with a managed dict on 3.11/3.12), found without touching their ``__dict__`` (reading
    it would give each one a dict of its own, for good): ``gc.get_referents`` of such an
    instance is its attribute values and its class, or its materialized ``__dict__`` and
    its class (that dict's sys.getsizeof already counts the values)."""
    slots = len(_slot_names(kind))
    # The class is a referent of a heap type's instance; set slots are referents too.
    counts = list(map(len, map(gc.get_referents, objs)))
    total = sum(
        _values_bytes(max(0, n - 1 - slots)) * times for n, times in Counter(counts).items()
    )
    for o, n in zip(objs, counts, strict=True):
        if n == 2 + slots:
            d = next((r for r in gc.get_referents(o) if type(r) is dict), None)
            # A split dict shares its class's keys: it holds at most SHARED_KEYS_MAX.
            if (
                d is not None
                and len(d) <= _SHARED_KEYS_MAX
                and sys.getsizeof(d) != _combined_dict_bytes(len(d))
            ):
                # Its own (split) __dict__, whose sys.getsizeof counts the values.
                total -= _values_bytes(1)
    return total


def _slot_names(cls: type) -> list[str]:
    """The ``__slots__`` of ``cls`` and its bases, without ``__dict__`` and ``__weakref__``."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names.extend(s for s in slots if s not in ("__dict__", "__weakref__") and s not in names)
    return names


def _shallow_size(obj: Any) -> int:
    """sys.getsizeof as it would be without a ``__sizeof__`` of the class's own: the object's
    fixed and variable parts, the garbage collector's header and (3.11, 3.12) the managed
    dict's pre-header."""
    flags = type(obj).__flags__
    size = object.__sizeof__(obj)
    if flags & _HAVE_GC:
        size += 2 * _POINTER
    if flags & _MANAGED_DICT and sys.version_info[:2] >= (3, 11):
        size += 2 * _POINTER
    return size


def _deep_sizers() -> frozenset[Any]:
    """``__sizeof__`` implementations that already include what the object refers to.
    pandas' (DataFrame, Series, Index) adds ``memory_usage(deep=True)``; the walk reaches
    the same arrays, so such an object counts shallow and its data where the walk finds it."""
    base = sys.modules.get("pandas.core.base")
    sizer = getattr(getattr(base, "PandasObject", None), "__sizeof__", None)
    return frozenset({sizer} - {None})


def _sizes(objs: list[Any], approximated: Counter[str]) -> int:
    """Allocated bytes of ``objs``; an object whose ``__sizeof__`` raises or returns a
    negative number counts as its shallow size, and its type is added to
    ``approximated``."""
    total = 0
    try:
        sizes = Counter(map(sys.getsizeof, objs, repeat(0)))
    except Exception:  # noqa: BLE001 -- a program's own __sizeof__ may raise anything
        sizes = Counter()
        for o in objs:
            try:
                size = sys.getsizeof(o, 0)
            except Exception:  # noqa: BLE001
                size = _shallow_size(o)
                approximated[type(o).__qualname__] += 1
            sizes[size] += 1
    # Few distinct sizes occur: round each distinct size once (Counter counts in C).
    for size, count in sizes.items():
        total += _allocated(size) * count
    return total


def _native_sizes(objs: list[Any], buffers: set[int], approximated: Counter[str]) -> int:
    """Allocated bytes of memslim objects ``objs`` (types in ``_NATIVE``): each one's fixed
    size, and each native buffer it keeps alive whose identity is not in ``buffers`` yet
    (added to it). One whose ``_buffers()`` raises (a list busy with a change) counts as its
    ``sys.getsizeof``."""
    total = 0
    for o in objs:
        try:
            held = o._buffers()
        except Exception:  # noqa: BLE001 -- counted another way, and listed as approximate
            total += _sizes([o], approximated)
            approximated[type(o).__qualname__] += 1
            continue
        total += _allocated(_shallow_size(o))
        for key, size in held:
            if key not in buffers:
                buffers.add(key)
                total += size
    return total


def deep_sizeof(obj: Any) -> int:
    """Bytes held by ``obj`` and everything it refers to, each object counted once.

    Counts every object reachable from ``obj`` through containers, instance attributes and
    slots: dict keys and values, list and tuple items, set members. Objects reached more
    than once (a string shared by many records, ``None``) count once. Classes, modules,
    functions and code are program structure, neither counted nor walked into. memslim
    lists, rows, columns and document views count their own size and the native memory
    they keep alive, memory several of them share (a list's records, shared with its
    slices, copies, rows and columns) once.

    Sizes are those the allocator hands out (``sys.getsizeof`` rounded up to CPython's
    allocation step), so the result can be compared with the RSS growth of building the
    object. On CPython 3.11 and 3.12 an instance's attribute values array, which
    ``sys.getsizeof`` leaves out, is added (without reading ``__dict__``). A numpy array
    counts with the array it views (``.base``) and, of dtype object, its items; a pandas
    DataFrame, Series or Index counts shallow and its data through the arrays it holds
    (pandas' own ``__sizeof__`` is already deep). An object whose ``__sizeof__`` raises or
    returns a negative number counts its shallow size. Objects that keep memory outside
    the Python heap without reporting it in ``__sizeof__`` (some extension types) are
    undercounted.
    """
    return _deep_sizeof(obj)[0]


def _deep_sizeof(obj: Any) -> tuple[int, Counter[str]]:
    """:func:`deep_sizeof`, and the objects counted at an approximate size, by type name."""
    approximated: Counter[str] = Counter()
    deep_sizers = _deep_sizers()
    numpy = sys.modules.get("numpy")
    ndarray = getattr(numpy, "ndarray", None)
    seen: set[int] = set()
    buffers: set[int] = set()
    total = 0
    level: list[Any] = [obj]
    while level:
        # Deduplicate within the level and against everything seen, in C.
        by_id = dict(zip(map(id, level), level))
        for known in seen.intersection(by_id.keys()):
            del by_id[known]
        if not by_id:
            break
        seen.update(by_id.keys())
        fresh = list(by_id.values())
        del by_id
        kinds = set(map(type, fresh))
        if any(issubclass(kind, _NOT_DATA) for kind in kinds):
            fresh = [o for o in fresh if not isinstance(o, _NOT_DATA)]
            kinds = set(map(type, fresh))
        sized = fresh
        if kinds & _NATIVE:
            total += _native_sizes([o for o in fresh if type(o) in _NATIVE], buffers, approximated)
            sized = [o for o in fresh if type(o) not in _NATIVE]
        shallow = {k for k in kinds if getattr(k, "__sizeof__", None) in deep_sizers}
        if shallow:
            total += sum(_allocated(_shallow_size(o)) for o in sized if type(o) in shallow)
            total += _sizes([o for o in sized if type(o) not in shallow], approximated)
        else:
            total += _sizes(sized, approximated)
        if _SEPARATE_VALUES:
            for kind in kinds:
                if _values_at_creation(kind):
                    total += _instance_values([o for o in fresh if type(o) is kind], kind)

        if kinds <= _LEAF_TYPES:
            break
        if kinds & _LEAF_TYPES:
            fresh = [o for o in fresh if type(o) not in _LEAF_TYPES]
        level = gc.get_referents(*fresh)
        # ``gc.get_referents`` skips the keys of str-keyed dicts (they cannot form cycles),
        # so dict keys are added explicitly (through dict.keys: a subclass's own __iter__
        # or keys() is program code, not its storage).
        if any(issubclass(kind, dict) for kind in kinds):
            level.extend(
                chain.from_iterable(map(dict.keys, (o for o in fresh if isinstance(o, dict))))
            )
        # numpy does not report an array's base or an object array's items as referents.
        if ndarray is not None and any(issubclass(kind, ndarray) for kind in kinds):
            for a in fresh:
                if isinstance(a, ndarray):
                    if a.base is not None:
                        level.append(a.base)
                    if a.dtype.hasobject and a.dtype.kind == "O":
                        level.extend(a.ravel(order="K").tolist())
    return total, approximated
