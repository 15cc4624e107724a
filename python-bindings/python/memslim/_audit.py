"""``memslim.audit()``: find the containers of records in a running program, say where they
live and what they would cost as memslim structures.

The walk is bounded and mostly runs in C:

1. one ``gc.get_objects()`` (truncated to ``max_objects``), filtered by type and length with
   ``itertools.compress`` over ``map`` (no Python-level loop per object);
2. for each candidate container (largest first, while the time budget lasts), a sample of
   its items decides whether it holds records and of which shape;
3. names come from the stacks of every thread (frame locals) and from a few
   ``gc.get_referrers`` passes, one per level upwards for all candidates at once (each pass
   is one C walk of the heap), never one per object;
4. sizes: :func:`memslim.deep_sizeof` of each container (shared objects once), and the
   ``nbytes`` of the memslim structure really built from the records, or from an evenly
   spaced sample of them and scaled by record count (the finding says which).
"""

from __future__ import annotations

import dataclasses
import dis
import gc
import inspect
import json
import linecache
import os
import re
import sys
import threading
import time
import types
import weakref
from collections import Counter, deque
from itertools import compress, islice
from pathlib import Path
from typing import Any, Self

from memslim._memslim import DictList, DocList, TupleList
from memslim._report import _size, pyplot
from memslim._sizeof import _NOT_DATA, _allocated, _deep_sizeof, _slot_names
from memslim.exceptions import InvalidValueError

# Containers that can hold records; for dicts the records are the values.
_CONTAINERS: frozenset[type] = frozenset({list, tuple, deque, set, frozenset, dict})
_ABSENT = object()
# Item types that are never records (scalars, program structure, containers of other things).
_NOT_RECORDS: tuple[type, ...] = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    bool,
    type(None),
    list,
    set,
    frozenset,
    deque,
    *_NOT_DATA,  # program structure (classes, modules, functions, code, frames)
    types.CellType,
    types.MappingProxyType,
    DictList,
    TupleList,
    DocList,
)
_CO_GENERATOR = 0x20
_COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})
# Items sampled from each candidate to decide whether, and which, records it holds.
_PROBE = 64
# Share of the probed items that must have the dominant record shape.
_DOMINANT = 0.9
_OWN_MODULES = frozenset({"memslim._audit", "memslim._watch", "memslim._sizeof", "memslim._cli"})


def rss_bytes() -> int | None:
    """Resident set size of this process now (Linux ``/proc/self/statm``), or None."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


# -- record shapes -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Shape:
    kind: str  # dict, namedtuple, tuple, dataclass, attrs, slots, object
    cls: type | None = None
    width: int = 0  # plain tuples: length

    @property
    def label(self) -> str:
        if self.kind in ("dict", "tuple"):
            return self.kind
        assert self.cls is not None
        return f"{self.kind} {self.cls.__qualname__}"


def _shape(item: Any) -> _Shape | None:
    # From the type only: an object's own __getattribute__, __getattr__, __len__ or
    # __class__ is program code that may raise (or change what it reports).
    cls = type(item)
    if issubclass(cls, dict):
        return _Shape("dict")
    if issubclass(cls, tuple):
        if hasattr(cls, "_fields"):
            return _Shape("namedtuple", cls)
        return _Shape("tuple", width=tuple.__len__(item))
    if issubclass(cls, _NOT_RECORDS) or cls.__module__ == "builtins":
        return None
    if dataclasses.is_dataclass(cls):
        return _Shape("dataclass", cls)
    if hasattr(cls, "__attrs_attrs__"):
        return _Shape("attrs", cls)
    if not cls.__dictoffset__:
        return _Shape("slots", cls) if _slot_names(cls) else None
    return _Shape("object", cls)


def _has_dict(cls: type) -> bool:
    return bool(cls.__dictoffset__)


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    out = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out.extend(_code_objects(const))
    return out


# Per class, for the classes' lifetime (a watch audits again and again).
_NAMES: weakref.WeakKeyDictionary[type, list[str]] = weakref.WeakKeyDictionary()


def _attribute_names(cls: type) -> list[str]:
    """The attribute names instances of ``cls`` may have, read from the class, never from
    an instance's ``__dict__`` (on CPython 3.11 and 3.12 reading it gives the instance a
    dict of its own, for good): dataclass and attrs fields, ``__slots__``, annotations, and
    every ``self.NAME = ...`` (``STORE_ATTR``) in the functions the class and its bases
    define."""
    cached = _NAMES.get(cls)
    if cached is not None:
        return cached
    names: dict[str, None] = {}
    if dataclasses.is_dataclass(cls):
        names.update(dict.fromkeys(f.name for f in dataclasses.fields(cls)))
    names.update(dict.fromkeys(a.name for a in getattr(cls, "__attrs_attrs__", ())))
    names.update(dict.fromkeys(_slot_names(cls)))
    for klass in reversed(cls.__mro__):
        if klass.__module__ == "builtins":
            continue
        try:
            annotations = inspect.get_annotations(klass)
        except Exception:  # noqa: BLE001 -- a class's own annotations object may be odd
            annotations = {}
        names.update(dict.fromkeys(k for k in annotations if isinstance(k, str)))
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            continue
        for member in list(klass.__dict__.values()):
            functions = [member, getattr(member, "__func__", None)]
            if isinstance(member, property):
                functions += [member.fget, member.fset, member.fdel]
            for fn in functions:
                code = getattr(fn, "__code__", None) if isinstance(fn, types.FunctionType) else None
                if code is None:
                    continue
                for inner in _code_objects(code):
                    for ins in dis.get_instructions(inner):
                        if ins.opname == "STORE_ATTR" and isinstance(ins.argval, str):
                            names[ins.argval] = None
    out = [n for n in names if not _is_computed(cls, n)]
    _NAMES[cls] = out
    return out


def _class_attribute(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return _ABSENT


def _is_computed(cls: type, name: str) -> bool:
    """Whether reading ``name`` would run code of the class (a property, a descriptor
    other than a slot) rather than read a stored value."""
    attr = _class_attribute(cls, name)
    if attr is _ABSENT or isinstance(attr, types.MemberDescriptorType):
        return False
    kind = type(attr)
    return hasattr(kind, "__set__") or hasattr(kind, "__delete__")


def _attributes(obj: Any, names: list[str]) -> dict[str, Any]:
    """The attributes ``obj`` has set among ``names`` (an unset slot is absent, not None),
    read as ``object.__getattribute__`` stores them: neither the object's own
    ``__getattribute__``/``__getattr__`` nor its ``__dict__`` is touched. A name that
    reads back the class's own attribute is not the instance's."""
    out = {}
    cls = type(obj)
    for name in names:
        try:
            value = object.__getattribute__(obj, name)
        except AttributeError:
            continue
        if value is not _class_attribute(cls, name):
            out[name] = value
    return out


def _unread(obj: Any, found: dict[str, Any]) -> bool:
    """Whether ``obj`` holds attributes ``found`` does not have: it refers (besides its
    class) to more objects than those read."""
    refs = gc.get_referents(obj)
    return len(refs) - (type(obj) in refs) > len(found)


def _probe(items: list[Any]) -> tuple[_Shape, float] | None:
    """The dominant record shape among ``items`` and its share, or None."""
    if not items:
        return None
    counts = Counter(map(_shape, items))
    shape, n = counts.most_common(1)[0]
    if shape is None or n < _DOMINANT * len(items):
        return None
    return shape, n / len(items)


def _spread(seq: Any, n: int, limit: int) -> list[Any]:
    """``limit`` items of ``seq`` (length ``n``) evenly spaced, or all of them."""
    if n <= limit:
        return list(seq)
    if isinstance(seq, (list, tuple)):
        return list(seq[:: max(1, n // limit)][:limit])
    step = max(1, n // limit)
    return list(islice(seq, 0, None, step))[:limit]


# -- predicting the memslim structure -----------------------------------------------------


@dataclasses.dataclass
class _Prediction:
    structure: str
    nbytes: int
    built_from: int
    call: str
    # What made a DocList the pick for dicts ("nested dict", "sparse dict"), else "".
    kind: str = ""


def _doc_shape(records: list[dict[Any, Any]]) -> str:
    """Why the dicts ``records`` may fit a ``DocList`` better than a ``DictList``:
    "nested dict" when values are dicts or lists, "sparse dict" when each record holds
    fewer than half of the keys the records hold between them (a ``DictList`` stores
    every field for every record, a ``DocList`` only the keys each record has), else
    ""."""
    probe = records[: _PROBE * 4]
    if any(type(v) in (dict, list) for r in probe for v in r.values()):
        return "nested dict"
    keys: set[Any] = set()
    held = 0
    for r in probe:
        keys.update(r)
        held += len(r)
    return "sparse dict" if 2 * held < len(keys) * len(probe) else ""


def _build(
    records: list[Any], shape: _Shape, problems: list[str]
) -> list[tuple[str, int, str, str]]:
    """The structures ``records`` fit, built for real: (name, nbytes, how to call it,
    the record kind it was picked for, or ""). When none could be built, or only from
    part of what the records hold, ``problems`` says why."""
    out: list[tuple[str, int, str, str]] = []
    failures: list[str] = []

    def attempt(name: str, build: Any, call: str, kind: str = "") -> None:
        try:
            out.append((name, build().nbytes, call, kind))
        except Exception as exc:  # noqa: BLE001 -- the records are the program's objects
            failures.append(f"{name}: {type(exc).__name__}: {exc}")

    if shape.kind == "dict":
        attempt("DictList", lambda: DictList(records), "memslim.DictList({})")
        why = ""
        try:
            why = _doc_shape(records)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{type(exc).__name__}: {exc}")
        if why or not out:
            attempt("DocList", lambda: DocList(records), "memslim.DocList({})", why)
    elif shape.kind == "namedtuple":
        attempt("TupleList", lambda: TupleList(records), "memslim.TupleList({})")
    elif shape.kind == "tuple":
        fields = [f"f{i}" for i in range(shape.width)]
        call = "memslim.TupleList({}, fields=" + repr(tuple(fields)) + ")  # name the fields"
        attempt("TupleList", lambda: TupleList(records, fields=fields), call)
    else:
        # Only the records of the dominant class: a container may mix in None or others.
        cls = shape.cls
        assert cls is not None
        records = [o for o in records if type(o) is cls]
        if not records:
            return out
        names = _attribute_names(cls)
        dicts = [_attributes(o, names) for o in records]
        unread = sum(map(_unread, records, dicts))
        if unread and any(dicts):
            problems.append(
                f"{unread:,} of {len(records):,} sampled {cls.__qualname__} records hold"
                " attributes not set in their class's own code (names unknown without"
                " reading __dict__): their memslim size leaves them out"
            )
        if not any(dicts):
            failures.append(f"no attributes of {cls.__qualname__} could be read")
        else:
            if _has_dict(cls):
                call = "memslim.DictList(vars(o) for o in {})"
            else:
                call = (
                    "memslim.DictList({f: getattr(o, f) for f in "
                    + repr(_slot_names(cls))
                    + "} for o in {})"
                )
            attempt(
                "DictList",
                lambda: DictList(dicts),
                call + f"  # rows back: {cls.__qualname__}(**row)",
            )
    if not out and failures:
        problems.append("no memslim structure could be built: " + "; ".join(failures[:2]))
    return out


def _predict(
    items: Any, n: int, shape: _Shape, sample: int, problems: list[str]
) -> _Prediction | None:
    records = _spread(items, n, sample)
    if not records:
        return None
    built = _build(records, shape, problems)
    if not built:
        return None
    name, nbytes, call, kind = min(built, key=lambda b: b[1])
    if len(records) < n:
        # Extrapolate from the marginal cost between half the sample and all of it, so
        # fixed costs (string dictionaries, schema, chunk headers) are not scaled up.
        half = records[::2]
        smaller = [b for b in _build(half, shape, []) if b[0] == name]
        per_record = nbytes / len(records)
        if smaller and len(records) > len(half):
            per_record = max(0.0, (nbytes - smaller[0][1]) / (len(records) - len(half)))
        nbytes = round(nbytes + per_record * (n - len(records)))
    return _Prediction(name, nbytes, len(records), call, kind)


# -- naming: where each container lives ----------------------------------------------------


def _frame_label(frame: types.FrameType) -> str:
    code = frame.f_code
    return f"{code.co_qualname}() in {Path(code.co_filename).name}:{frame.f_lineno}"


class _Namer:
    """Names for objects, from thread stacks and a few upward ``gc.get_referrers`` passes.

    Everything it holds lives in containers whose ids are in ``self.ours``, so the passes
    do not report the audit's own bookkeeping as referrers.
    """

    def __init__(self, ours: set[int], max_depth: int, deadline: float) -> None:
        self.ours = ours
        self.max_depth = max_depth
        self.deadline = deadline
        self.module_dicts: dict[int, str] = {}
        for name, module in list(sys.modules.items()):
            d = getattr(module, "__dict__", None)
            if isinstance(module, types.ModuleType) and isinstance(d, dict):
                self.module_dicts.setdefault(id(d), name)
        self.frame_dicts: set[int] = set()
        self.frame_locals: dict[int, list[str]] = {}
        self.nodes: dict[int, Any] = {}  # id -> object, for everything met going up
        self.parents: dict[int, list[int]] = {}  # id(child) -> ids of referrers
        self.passes = 0
        for container in (self.module_dicts, self.frame_dicts, self.frame_locals):
            ours.add(id(container))
        ours.update((id(self.nodes), id(self.parents)))
        self._read_stacks()

    def _read_stacks(self) -> None:
        for ident, top in sys._current_frames().items():
            frame: types.FrameType | None = top
            thread = "" if ident == threading.main_thread().ident else f" [thread {ident}]"
            while frame is not None:
                if frame.f_globals.get("__name__") in _OWN_MODULES:
                    frame = frame.f_back
                    continue
                local = frame.f_locals
                if local is not frame.f_globals:
                    self.frame_dicts.add(id(local))
                    label = _frame_label(frame)
                    for key, value in local.items():
                        self.frame_locals.setdefault(id(value), []).append(
                            f"{label} local {key!r}{thread}"
                        )
                frame = frame.f_back
            del frame, top
        for names in self.frame_locals.values():
            self.ours.add(id(names))

    def walk_up(self, targets: list[Any]) -> None:
        """Record the referrers of ``targets`` and of theirs, ``max_depth`` levels up."""
        level = list(targets)
        self.ours.add(id(level))
        for obj in level:
            self.nodes[id(obj)] = obj
        for _ in range(self.max_depth):
            need = [o for o in level if not self._terminal(o)]
            self.ours.add(id(need))
            if not need or time.perf_counter() > self.deadline:
                break
            self.passes += 1
            refs = gc.get_referrers(*need)
            self.ours.add(id(refs))
            need_ids = set(map(id, need))
            nxt: list[Any] = []
            self.ours.add(id(nxt))
            for ref in refs:
                rid = id(ref)
                if rid in self.ours or isinstance(ref, types.FrameType) and rid in self.ours:
                    continue
                kids = [k for k in gc.get_referents(ref) if id(k) in need_ids]
                if isinstance(ref, dict):
                    kids.extend(k for k in ref if id(k) in need_ids)
                for kid in kids:
                    lst = self.parents.setdefault(id(kid), [])
                    if not lst:
                        self.ours.add(id(lst))
                    if rid not in lst:
                        lst.append(rid)
                if kids and rid not in self.nodes:
                    self.nodes[rid] = ref
                    nxt.append(ref)
                del kids
            self.ours.discard(id(level))
            level = nxt
            del refs, need

    def _terminal(self, obj: Any) -> bool:
        oid = id(obj)
        return (
            oid in self.module_dicts
            or oid in self.frame_dicts
            or isinstance(obj, (type, types.ModuleType, types.FunctionType, types.FrameType))
        )

    def names(self, obj: Any, stop: set[int], depth: int = 0) -> list[tuple[int, str]]:
        """(rank, name) for each path from ``obj`` to a root; lower rank reads better.

        A path that meets an id in ``stop`` (another record container) gives the rank -1
        and that container's id as its name: ``obj`` is reported under its owner."""
        oid = id(obj)
        out: list[tuple[int, str]] = [(1, n) for n in self.frame_locals.get(oid, [])]
        if depth > self.max_depth:
            return out or [(9, "<...>")]
        for pid in self.parents.get(oid, []):
            parent = self.nodes.get(pid)
            if parent is None or pid in self.frame_dicts:
                continue
            if pid in stop and pid != oid:
                return [(-1, str(pid))]
            out.extend(self._via(obj, parent, stop, depth))
        return out

    def _via(self, obj: Any, parent: Any, stop: set[int], depth: int) -> list[tuple[int, str]]:
        pid = id(parent)
        if pid in self.module_dicts:
            return [(0, f"{self.module_dicts[pid]}.{k}") for k in _keys_of(parent, obj)]
        if isinstance(parent, types.CellType):
            return self._closure(parent, depth)
        if isinstance(parent, types.FrameType):
            return [
                (1, f"{_frame_label(parent)} local {k!r}") for k in _keys_of(parent.f_locals, obj)
            ]
        if isinstance(parent, type):
            return [(2, f"{parent.__qualname__}.{k}") for k in _keys_of(vars(parent), obj)]
        if isinstance(parent, dict):
            keys = _keys_of(parent, obj)
            owners = [self.nodes.get(g) for g in self.parents.get(pid, [])]
            for owner in owners:
                if owner is not None and _is_instance_dict(owner, parent):
                    return [(2, f"{type(owner).__qualname__}.{k}") for k in keys]
            inner = self.names(parent, stop, depth + 1)
            if inner and inner[0][0] == -1:
                return inner
            return [(r + 1, f"{n}[{k!r}]") for r, n in inner[:3] for k in keys[:3]]
        if isinstance(parent, (list, tuple, deque)):
            inner = self.names(parent, stop, depth + 1)
            if inner and inner[0][0] == -1:
                return inner
            where = [i for i, x in enumerate(parent) if x is obj][:1]
            return [(r + 1, f"{n}[{i}]") for r, n in inner[:3] for i in where]
        cls = type(parent)
        if _has_dict(cls) or _slot_names(cls):
            # An instance holding ``obj`` in a slot or (3.11+) its inline attribute values:
            # the name is found among those its class's code sets, without reading
            # ``__dict__`` (which would give the instance a dict of its own).
            found = _attributes(parent, _attribute_names(cls))
            attrs = [k for k, v in found.items() if v is obj]
            if not attrs:
                return [(3, f"{cls.__qualname__}.<attribute>")]
            return [(2, f"{cls.__qualname__}.{k}") for k in attrs]
        return [(8, f"<{type(parent).__qualname__}>")]

    def _closure(self, cell: types.CellType, depth: int) -> list[tuple[int, str]]:
        out = []
        for tid in self.parents.get(id(cell), []):
            closure = self.nodes.get(tid)
            for fid in self.parents.get(tid, []):
                fn = self.nodes.get(fid)
                if not isinstance(fn, types.FunctionType):
                    continue
                cells = fn.__closure__
                if cells is None or cells is not closure:
                    continue
                i = next(j for j, c in enumerate(cells) if c is cell)
                out.append((1, f"{fn.__qualname__}() closure {fn.__code__.co_freevars[i]!r}"))
        return out or [(8, "<closure cell>")]


def _is_instance_dict(owner: Any, d: dict[Any, Any]) -> bool:
    """Whether ``d`` is the ``__dict__`` of ``owner`` (an instance), found without reading
    ``owner.__dict__``: ``owner`` refers to ``d`` and reads its keys back as attributes."""
    cls = type(owner)
    if isinstance(owner, type) or not _has_dict(cls):
        return False
    if not any(r is d for r in gc.get_referents(owner)):
        return False
    checked = 0
    for key, value in list(dict.items(d))[:3]:
        if not isinstance(key, str) or _is_computed(cls, key):
            continue
        try:
            if object.__getattribute__(owner, key) is not value:
                return False
        except AttributeError:
            return False
        checked += 1
    return checked > 0


def _keys_of(mapping: Any, obj: Any) -> list[Any]:
    """Up to three keys under which ``mapping`` holds ``obj``."""
    try:
        return [k for k, v in mapping.items() if v is obj][:3]
    except (RuntimeError, AttributeError):
        return []


def _temporary_label() -> str:
    """Where a container nothing names is most likely being built (``pages =
    list(fetch(n))`` while it runs): in the main thread, the frame that called the
    outermost running generator or comprehension, else the innermost frame."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    innermost = builder = None
    while frame is not None:
        code = frame.f_code
        if frame.f_globals.get("__name__") in _OWN_MODULES:
            frame = frame.f_back
            continue
        if code.co_flags & _CO_GENERATOR or code.co_name in _COMPREHENSIONS:
            builder = None
        elif builder is None:
            builder = frame
        innermost = innermost or frame
        frame = frame.f_back
    frame = builder or innermost
    if frame is None:
        return "<no referrer found>"
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).split("#")[0].strip()
    if len(line) > 60:
        line = line[:57] + "..."
    return f"<being built in {_frame_label(frame)}: {line}>"


# -- the report -----------------------------------------------------------------------------


@dataclasses.dataclass
class Finding:
    """One container of records (or several under one name), what it costs now, and as
    memslim."""

    location: str  # where it lives: module.NAME, Class.attr, func() local 'x', ...
    container: str  # list, tuple, deque, set, dict values
    objects: int  # containers reported under this location
    records: int
    record_kind: str  # dict, tuple, namedtuple Point, dataclass Order, slots Tick, ...
    bytes: int  # deep size now (records and what they hold, shared objects once; for a
    # dict, its values only: the keys would stay as the index)
    structure: str  # DictList, TupleList or DocList
    memslim_bytes: int  # the structure's nbytes (scaled from a sample when built_from < records)
    built_from: int  # records the structure was built from
    suggestion: str
    sized_from: int = 0  # records deep-sized for ``bytes`` (fewer: a sample, scaled)
    also: list[str] = dataclasses.field(default_factory=list)  # other names of it

    @property
    def scaled(self) -> bool:
        return self.built_from < self.records

    @property
    def saves(self) -> float:
        return 1 - self.memslim_bytes / self.bytes if self.bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scaled"], d["saves"] = self.scaled, round(self.saves, 4)
        return d


@dataclasses.dataclass
class AuditReport:
    """What :func:`memslim.audit` found. ``str()`` is a ranked table; ``findings[0]`` the
    biggest container of records."""

    findings: list[Finding]
    objects_scanned: int  # gc-tracked objects examined
    objects_tracked: int  # gc-tracked objects in the process
    candidates: int  # containers long enough to hold records
    examined: int  # candidates probed before the time budget ran out
    seconds: float
    extra_bytes: int | None  # RSS the audit itself added at its largest (None: unknown)
    rss_bytes: int | None  # RSS when the audit started
    referrer_passes: int
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.findings)

    @property
    def memslim_bytes(self) -> int:
        return sum(f.memslim_bytes for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "findings"}
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The report as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditReport:
        fields = {f.name for f in dataclasses.fields(Finding)}
        findings = [Finding(**{k: v for k, v in f.items() if k in fields}) for f in d["findings"]]
        own = {f.name for f in dataclasses.fields(cls)} - {"findings"}
        return cls(findings=findings, **{k: v for k, v in d.items() if k in own})

    def table(self, limit: int | None = None) -> str:
        head = f"{'location':<44}{'records':>11}  {'now':>9}  {'as memslim':<20}{'saves':>6}  how"
        lines = [head]
        for f in self.findings[:limit]:
            loc = f.location
            if f.objects > 1:
                loc += f" ({f.container}, {f.objects} objects)"
            else:
                loc += f" ({f.container})"
            memslim = f"{f.structure} {'~' if f.scaled else ''}{_size(f.memslim_bytes)}"
            call = f.suggestion
            lines.append(
                f"{loc:<44}{f.records:>11,}  {_size(f.bytes):>9}  {memslim:<20}"
                f"{f.saves:>6.0%}  {call}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        if self.findings:
            out = [self.table()]
        else:
            out = ["no containers of records found"]
        out.append("")
        rss = f"RSS {_size(self.rss_bytes)}" if self.rss_bytes is not None else "RSS unknown"
        if self.findings:
            share = f" ({self.bytes / self.rss_bytes:.0%} of it)" if self.rss_bytes else ""
            out.append(
                f"{rss}; the containers above hold {_size(self.bytes)}{share}, "
                f"{_size(self.memslim_bytes)} as memslim structures"
            )
        else:
            out.append(rss)
        extra = _size(self.extra_bytes) if self.extra_bytes is not None else "unknown"
        out.append(
            f"audit: {self.seconds:.2f} s, extra memory {extra} (RSS growth), "
            f"{self.objects_scanned:,} of {self.objects_tracked:,} tracked objects scanned, "
            f"{self.examined} of {self.candidates} candidate containers probed, "
            f"{self.referrer_passes} referrer passes"
        )
        if any(f.scaled for f in self.findings):
            out.append("~: memslim size built from an evenly spaced sample, scaled by records")
        out.extend(self.notes)
        return "\n".join(out)

    def plot(self, path: str | os.PathLike[str], limit: int = 10) -> None:
        """Write a PNG bar chart: each finding now and as memslim (needs matplotlib)."""
        plt = pyplot()
        rows = self.findings[:limit]
        fig, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * max(1, len(rows))))
        labels = [f"{f.location}\n{f.records:,} {f.record_kind}" for f in rows]
        y = range(len(rows))
        ax.barh([i - 0.2 for i in y], [f.bytes / 1e6 for f in rows], 0.4, label="now")
        ax.barh(
            [i + 0.2 for i in y],
            [f.memslim_bytes / 1e6 for f in rows],
            0.4,
            label="as memslim",
        )
        for i, f in enumerate(rows):
            ax.text(f.bytes / 1e6, i - 0.2, f" {_size(f.bytes)}", va="center", fontsize=8)
            ax.text(
                f.memslim_bytes / 1e6,
                i + 0.2,
                f" {f.structure} {_size(f.memslim_bytes)}",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.margins(x=0.25)
        ax.set_xlabel("MB")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title("memslim.audit(): containers of records", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


# -- the walk -------------------------------------------------------------------------------


def _items(container: Any) -> Any:
    return container.values() if isinstance(container, dict) else container


def _records_bytes(
    box: Any, n: int, size_sample: int | None, approximated: Counter[str]
) -> tuple[int, int]:
    """Deep size of ``box`` (a dict: of its values) and the records it was measured on:
    all of them, or ``size_sample`` evenly spaced and scaled by record count. Objects
    sized approximately (their ``__sizeof__`` failed) are counted into ``approximated``."""
    if not isinstance(box, dict) and (size_sample is None or n <= size_sample):
        nbytes, odd = _deep_sizeof(box)
        approximated.update(odd)
        return nbytes, n
    records = _spread(_items(box), n, size_sample or n)
    nbytes, odd = _deep_sizeof(records)
    approximated.update(odd)
    nbytes -= _allocated(sys.getsizeof(records))
    if len(records) < n:
        nbytes = round(nbytes * n / len(records))
    if not isinstance(box, dict):
        nbytes += _allocated(sys.getsizeof(box))
    return nbytes, len(records)


def _container_name(container: Any) -> str:
    return "dict values" if isinstance(container, dict) else type(container).__name__


def _suggest(call: str, location: str, container: Any) -> str:
    name = re.sub(r"\[.*$", "", location).rsplit(".", 1)[-1]
    match = re.search(r"(?:local|closure) '([^']+)'", location)
    if match:
        name = match.group(1)
    if not name.isidentifier():
        name = "..."
    if isinstance(container, dict):
        return (
            call.replace("{}", f"{name}.values()") + "  # keys: {k: i for i, k in enumerate(...)}"
        )
    return call.replace("{}", name)


def audit(
    *,
    min_records: int = 1_000,
    sample: int = 100_000,
    max_objects: int | None = None,
    time_budget: float | None = 60.0,
    max_depth: int = 6,
    top: int = 20,
    size_sample: int | None = 100_000,
) -> AuditReport:
    """Find the containers of records in this process and what they would cost as memslim.

    Walks the objects the garbage collector tracks for lists, tuples, deques, sets and
    dicts (their values) holding ``min_records`` or more records of one shape: dicts,
    tuples, namedtuples, dataclass and attrs instances, ``__slots__`` objects, other
    instances, nested JSON-like documents. For each: the number of records, their deep
    size now (:func:`memslim.deep_sizeof`: shared objects counted once), the memslim
    structure that fits them best and its ``nbytes`` measured by building it from the
    records (at most ``sample`` of them, evenly spaced, then scaled by record count: the
    finding's ``built_from`` says how many), the call that converts it, and where it lives:
    ``module.NAME``, ``Class.attr``, ``func() local 'x'``, ``func() closure 'x'``,
    ``owner['key']``. Containers reachable only through another reported container are
    counted in that one; findings with the same location (one attribute of several
    instances) are merged.

    ``size_sample``: deep-size at most that many records per container (evenly spaced,
    scaled by record count; the finding's ``sized_from`` says how many). Sizing keeps a
    set of the ids seen, about 60 bytes per object walked, so sizing a container of a
    million records exactly (``size_sample=None``) can briefly need hundreds of MB.

    Bounds: ``max_objects`` (gc-tracked objects scanned; None: all), ``time_budget``
    (seconds; candidates are probed largest first until it runs out), ``max_depth``
    (referrer levels followed upwards to name a container). The report says what it
    scanned, the time taken and the RSS the audit itself added.

    Raises :class:`memslim.InvalidValueError` for a ``min_records``, ``sample``, ``top``,
    ``size_sample`` or ``max_objects`` below 1, a negative ``max_depth`` or a
    ``time_budget`` that is not positive.
    """
    error = option_error(
        min_records=min_records,
        sample=sample,
        max_objects=max_objects,
        time_budget=time_budget,
        max_depth=max_depth,
        top=top,
        size_sample=size_sample,
    )
    if error is not None:
        raise InvalidValueError(f"audit(): {error}")
    if threading.current_thread() is threading.main_thread():
        return _audit(min_records, sample, max_objects, time_budget, max_depth, top, size_sample)
    # From a background thread (a watch, ``--at peak``): the audit and the program take
    # turns on the GIL; longer turns mean far fewer hand-overs (each costs a wake-up) than
    # the default 5 ms. The program's own switch interval comes back afterwards.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(max(interval, 0.1))
    try:
        return _audit(min_records, sample, max_objects, time_budget, max_depth, top, size_sample)
    finally:
        sys.setswitchinterval(interval)


def option_error(**options: Any) -> str | None:
    """What is wrong with the :func:`audit` options given ("NAME must be ..."), or None.
    Options left out are not looked at (their defaults are :func:`audit`'s)."""
    counts = ("min_records", "sample", "top")
    optional = ("max_objects", "size_sample")
    for name in (*counts, *optional):
        if name not in options or (options[name] is None and name in optional):
            continue
        value = options[name]
        if not isinstance(value, int) or value < 1:
            more = " (or None)" if name in optional else ""
            return f"{name} must be a positive integer{more}, got {value!r}"
    max_depth = options.get("max_depth", 0)
    if not isinstance(max_depth, int) or max_depth < 0:
        return f"max_depth must be 0 or more, got {max_depth!r}"
    time_budget = options.get("time_budget")
    if time_budget is not None and not time_budget > 0:
        return f"time_budget must be a positive number of seconds (or None), got {time_budget!r}"
    return None


def _audit(
    min_records: int,
    sample: int,
    max_objects: int | None,
    time_budget: float | None,
    max_depth: int,
    top: int,
    size_sample: int | None,
) -> AuditReport:
    start = time.perf_counter()
    rss0 = rss_bytes()
    notes: list[str] = []
    with _RssPeak() as watcher:
        report = _walk(
            min_records, sample, max_objects, time_budget, max_depth, top, size_sample, notes
        )
    report.seconds = time.perf_counter() - start
    report.rss_bytes = rss0
    report.extra_bytes = watcher.growth
    if threading.current_thread() is not threading.main_thread():
        notes.append(
            "audited from a background thread while the program ran: the extra memory"
            " includes whatever the program itself allocated meanwhile"
        )
    return report


class _RssPeak:
    """The highest RSS while the block runs, over its RSS at entry: a thread reads
    ``/proc/self/statm`` every 10 ms (it runs whenever the audit lets go of the GIL, which
    its Python-level loops do every switch interval), and the process's peak RSS
    (``ru_maxrss``) catches what that misses when it sets a new high."""

    def __init__(self) -> None:
        self.start = rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memslim-audit-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            now = rss_bytes()
            if now is not None and self.peak is not None:
                self.peak = max(self.peak, now)

    def __enter__(self) -> Self:
        self._max0 = _max_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        now = rss_bytes()
        if self.peak is not None and now is not None:
            self.peak = max(self.peak, now)
        grew = _max_rss() - self._max0
        if grew > 0 and self.peak is not None and self.start is not None:
            self.peak = max(self.peak, self.start + grew)

    @property
    def growth(self) -> int | None:
        if self.peak is None or self.start is None:
            return None
        return max(0, self.peak - self.start)


def _max_rss() -> int:
    try:
        import resource
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _measure(
    box: Any,
    shape: _Shape,
    n: int,
    names: list[tuple[int, str]],
    merged: dict[str, Finding],
    approximated: Counter[str],
    sample: int,
    size_sample: int | None,
    notes: list[str],
) -> None:
    """Size one container of records and what it would cost as memslim, into ``merged``
    (under its location, merged with others of the same name)."""
    location = names[0][1]
    key = re.sub(r"\[\d+\]", "[*]", location)
    nbytes, sized_from = _records_bytes(box, n, size_sample, approximated)
    problems: list[str] = []
    prediction = _predict(_items(box), n, shape, sample, problems)
    notes.extend(f"{location}: {p}" for p in problems if f"{location}: {p}" not in notes)
    if key in merged:
        f = merged[key]
        f.objects += 1
        f.records += n
        f.bytes += nbytes
        f.sized_from += sized_from
        if prediction is not None:
            f.memslim_bytes += prediction.nbytes
            f.built_from += prediction.built_from
        return
    if prediction is None:
        return
    kind = prediction.kind or shape.label
    merged[key] = Finding(
        location=key,
        container=_container_name(box),
        objects=1,
        records=n,
        record_kind=kind,
        bytes=nbytes,
        sized_from=sized_from,
        structure=prediction.structure,
        memslim_bytes=prediction.nbytes,
        built_from=prediction.built_from,
        suggestion=_suggest(prediction.call, location, box),
        also=[name for _, name in names[1:4] if name != location],
    )


def _walk(
    min_records: int,
    sample: int,
    max_objects: int | None,
    time_budget: float | None,
    max_depth: int,
    top: int,
    size_sample: int | None,
    notes: list[str],
) -> AuditReport:
    start = time.perf_counter()
    deadline = start + time_budget if time_budget is not None else float("inf")

    objs = gc.get_objects()
    # Taken with the snapshot: the program may have moved on by the time names are made.
    building = _temporary_label()
    # The stacks are read now too: by the time names are made a function may have returned.
    ours: set[int] = set()
    namer = _Namer(ours, max_depth, deadline)
    tracked = len(objs)
    if max_objects is not None and tracked > max_objects:
        del objs[max_objects:]
        notes.append(f"scanned only the first {max_objects:,} objects (max_objects)")
    scanned = len(objs)
    is_container = _CONTAINERS.__contains__
    boxes = list(compress(objs, map(is_container, map(type, objs))))
    del objs
    long_enough = min_records.__le__
    candidates = list(compress(boxes, map(long_enough, map(len, boxes))))
    del boxes
    candidates.sort(key=len, reverse=True)
    n_candidates = len(candidates)
    ours.add(id(candidates))

    found: list[tuple[Any, _Shape, int]] = []  # container, shape, records
    ours.add(id(found))
    examined = 0
    for box in candidates:
        if time.perf_counter() > deadline:
            notes.append(
                f"time budget ran out: {len(candidates) - examined} smaller candidate"
                " containers not probed"
            )
            break
        examined += 1
        try:
            n = len(box)
            probe = _spread(_items(box), n, _PROBE)
            got = _probe(probe)
        except Exception:  # noqa: BLE001, S112 -- changed size during iteration, odd objects
            continue
        if got is not None:
            found.append((box, got[0], n))
    ours.discard(id(candidates))
    del candidates

    targets = [box for box, _, _ in found]
    ours.add(id(targets))
    namer.walk_up(targets)
    stop = set(map(id, targets))

    merged: dict[str, Finding] = {}
    approximated: Counter[str] = Counter()
    for box, shape, n in found:
        location = building
        try:
            names = sorted(set(namer.names(box, stop)))
            if names and names[0][0] == -1:
                continue  # held by another reported container: counted there
            if not names:
                names = [(9, building)]
            location = names[0][1]
            _measure(box, shape, n, names, merged, approximated, sample, size_sample, notes)
        except Exception as exc:  # noqa: BLE001 -- the containers hold the program's objects
            notes.append(
                f"skipped {location} ({_container_name(box)}, {n:,} {shape.label} records):"
                f" {type(exc).__name__}: {exc}"
            )
    if approximated:
        odd = ", ".join(f"{k} ({v:,})" for k, v in approximated.most_common(5))
        notes.append(
            "sized approximately: objects whose __sizeof__ raised or was negative count"
            f" their fixed size only: {odd}"
        )
    passes = namer.passes
    del found, targets, namer
    findings = sorted(merged.values(), key=lambda f: f.bytes - f.memslim_bytes, reverse=True)
    return AuditReport(
        findings=findings[:top],
        objects_scanned=scanned,
        objects_tracked=tracked,
        candidates=n_candidates,
        examined=examined,
        seconds=0.0,
        extra_bytes=None,
        rss_bytes=None,
        referrer_passes=passes,
        notes=notes,
    )
