"""Shared fixtures, hypothesis profiles, strategies and the exact-equality oracle."""

from __future__ import annotations

import copy
import math
import os
import pickle

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------
# Hypothesis profiles: "ci" (default, bounded) and "dev" (HYPOTHESIS_PROFILE=dev).
# --------------------------------------------------------------------------------------

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    print_blob=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --------------------------------------------------------------------------------------
# The oracle: type-exact, recursive equality.
# --------------------------------------------------------------------------------------


def first_difference(a, b, path="value"):
    """Describe the first place where ``a`` and ``b`` differ, or return None.

    Stricter than ``==``: types must match exactly (``True`` is not ``1``, a tuple is
    not a list, a dict is not a Row), floats match bit-for-bit in sign (``-0.0`` is not
    ``0.0``) and NaN matches NaN, and dict key order matters.
    """
    if type(a) is not type(b):
        return f"{path}: type {type(a).__name__} != {type(b).__name__} ({a!r} vs {b!r})"
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            if math.isnan(a) and math.isnan(b):
                return None
            return f"{path}: {a!r} != {b!r}"
        if a != b or math.copysign(1.0, a) != math.copysign(1.0, b):
            return f"{path}: {a!r} != {b!r}"
        return None
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)!r} != {list(b)!r}"
        for key in a:
            diff = first_difference(a[key], b[key], f"{path}[{key!r}]")
            if diff is not None:
                return diff
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    if a != b:
        return f"{path}: {a!r} != {b!r}"
    return None


def same(a, b) -> bool:
    """True when ``a`` and ``b`` are equal type-exactly and recursively (see above)."""
    return first_difference(a, b) is None


def snapshot(rows):
    """Everything observable about a list, for 'unchanged after a failed call' checks."""
    return {
        "len": len(rows),
        "data": rows.to_list(),
        "schema": dict(rows.schema),
        "columns": list(getattr(rows, "columns", rows.schema)),
    }


class HostValue:
    """An object memslim has no encoding for: a record file stores it pickled."""

    def __init__(self, v):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, HostValue) and other.v == self.v

    __hash__ = None


class BadSizeof:
    """An object whose ``__sizeof__`` raises (the memory tools must still size it)."""

    def __sizeof__(self):
        raise RuntimeError("broken __sizeof__")


class NegativeSizeof:
    """An object whose ``__sizeof__`` returns a negative number."""

    def __sizeof__(self):
        return -1


def expect_error(exc_type, func, *args, **kwargs):
    """Call ``func`` and return the exception it raises, which must be ``exc_type``.

    Catches BaseException so that a Rust panic surfacing as ``PanicException`` (which
    derives from BaseException) is reported as a failure instead of escaping.
    """
    try:
        func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - deliberately catching panics
        assert isinstance(exc, Exception), f"not an Exception (panic?): {exc!r}"
        assert type(exc).__name__ != "PanicException", f"Rust panic: {exc!r}"
        assert isinstance(exc, exc_type), f"expected {exc_type}, got {type(exc)}: {exc}"
        return exc
    raise AssertionError(f"{func!r} did not raise {exc_type}")


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(params=[None, 3], ids=["chunk-default", "chunk-3"])
def chunk_rows(request):
    """Run a test with the default chunk size and with tiny chunks (boundary logic)."""
    return request.param


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

big_ints = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=2**63, max_value=2**200),
    st.integers(min_value=-(2**200), max_value=-(2**63) - 1),
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64]),
)

special_floats = st.sampled_from(
    [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
)
any_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), special_floats)

# Text including NUL and astral characters (surrogates are excluded: not valid UTF-8).
any_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "\x00", "a\x00b", "🙂", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "naïve café", "\U0010ffff"]),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    big_ints,
    any_floats,
    any_text,
    st.binary(max_size=12),
)

# Values that must round-trip exactly, including nested containers with str keys.
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), children, max_size=3),
    ),
    max_leaves=8,
)

KEY_POOL = ("id", "name", "price", "flag", "blob", "tags", "x", "", "ключ🙂")

# Per-key value strategies: mostly type-stable columns (so typed storage is exercised,
# including int->float widening and nulls), plus a few wild columns.
_KEY_VALUES = {
    "id": st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.none()),
    "name": st.one_of(any_text, st.none()),
    "price": st.one_of(any_floats, st.integers(min_value=-(10**6), max_value=10**6), st.none()),
    "flag": st.one_of(st.booleans(), st.none()),
    "blob": st.one_of(st.binary(max_size=8), st.none()),
    "tags": values,
    "x": values,
    "": scalars,
    "ключ🙂": st.one_of(big_ints, any_text),
}


@st.composite
def records(draw, keys=KEY_POOL):
    """A dict with str keys from a small pool (schemas overlap), in varying order and with
    missing keys."""
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
    return {key: draw(_KEY_VALUES.get(key, values)) for key in chosen}


record_lists = st.lists(records(), max_size=12)
chunk_sizes = st.one_of(st.none(), st.integers(min_value=1, max_value=5))


# Hand-picked values that must round-trip exactly (name -> value).
VALUE_ZOO = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "int": -42,
    "i64_max": 2**63 - 1,
    "i64_min": -(2**63),
    "big_int": 2**100 + 7,
    "neg_big_int": -(2**70),
    "float": 1.5,
    "neg_zero": -0.0,
    "nan": math.nan,
    "inf": math.inf,
    "neg_inf": -math.inf,
    "text": "hello",
    "empty_text": "",
    "nul_text": "a\x00b",
    "astral_text": "🙂𝔘",
    "bytes": b"\x00\xffbytes",
    "empty_bytes": b"",
    "list": [1, "two", 3.0, None],
    "empty_list": [],
    "tuple": (1, (2, 3), [4]),
    "empty_tuple": (),
    "dict": {"b": 1, "a": [True, False], "nested": {"z": None}},
    "empty_dict": {},
}


#: Every way to copy a list: both copy-module functions, the method, each pickle protocol.
COPIERS = {
    "copy.copy": copy.copy,
    "copy.deepcopy": copy.deepcopy,
    "method": lambda rows: rows.copy(),
    **{
        f"pickle-{p}": (lambda rows, p=p: pickle.loads(pickle.dumps(rows, protocol=p)))
        for p in range(pickle.HIGHEST_PROTOCOL + 1)
    },
}
