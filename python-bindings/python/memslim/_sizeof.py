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

from memslim._memslim import Column, DictList, TupleList

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

# memslim structures report every native buffer they own in their own ``__sizeof__``;
# their referents (type, cached names) are not data of the caller's.
_LEAF_TYPES: frozenset[type] = frozenset(
    {int, float, complex, bool, str, bytes, bytearray, type(None), DictList, TupleList, Column}
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


def deep_sizeof(obj: Any) -> int:
    """Bytes held by ``obj`` and everything it refers to, each object counted once.

    Counts every object reachable from ``obj`` through containers, instance attributes and
    slots: dict keys and values, list and tuple items, set members. Objects reached more
    than once (a string shared by many records, ``None``) count once. Classes, modules,
    functions and code are program structure, neither counted nor walked into. memslim
    structures count as their own ``sys.getsizeof``, which includes their native buffers.

    Sizes are those the allocator hands out (``sys.getsizeof`` rounded up to CPython's
    allocation step), so the result can be compared with the RSS growth of building the
    object. Objects that keep memory outside the Python heap without reporting it in
    ``__sizeof__`` (some extension types) are undercounted.
    """
    getsizeof = sys.getsizeof
    seen: set[int] = set()
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
        # Few distinct sizes occur: round each distinct size once (Counter counts in C).
        for size, count in Counter(map(getsizeof, fresh, repeat(0))).items():
            total += _allocated(size) * count

        if kinds <= _LEAF_TYPES:
            break
        if kinds & _LEAF_TYPES:
            fresh = [o for o in fresh if type(o) not in _LEAF_TYPES]
        level = gc.get_referents(*fresh)
        # ``gc.get_referents`` skips the keys of str-keyed dicts (they cannot form cycles),
        # so dict keys are added explicitly.
        if any(issubclass(kind, dict) for kind in kinds):
            level.extend(chain.from_iterable(o for o in fresh if isinstance(o, dict)))
    return total
