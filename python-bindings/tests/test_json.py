"""JSON out and type-strict consumers: ``memslim.dumps``/``dump``, ``to_builtins``,
``iter_dicts``/``iter_tuples``, with ``json.dumps`` of the plain structure as the oracle."""

from __future__ import annotations

import collections
import datetime
import io
import json
import math
import random
import sqlite3
import struct

import memslim
import msgspec
import orjson
import pandas as pd
import pytest
from conftest import record_lists, same
from hypothesis import given
from hypothesis import strategies as st
from memslim import DictList, DocList, TupleList


def outcome(f, *args, **kwargs):
    """What a call gives: ("ok", result) or ("raise", exception type, message)."""
    try:
        return ("ok", f(*args, **kwargs))
    except (TypeError, ValueError, RecursionError) as e:
        return ("raise", type(e), str(e))


def assert_like_json(obj, plain, **kw):
    got = outcome(memslim.dumps, obj, **kw)
    want = outcome(json.dumps, plain, **kw)
    assert got == want, (kw, got, want)
    return got


# Keyword arguments of json.dumps that change the text, every combination reachable.
json_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "ensure_ascii": st.booleans(),
        "sort_keys": st.booleans(),
        "allow_nan": st.booleans(),
        "skipkeys": st.booleans(),
        "indent": st.sampled_from([None, 0, 2, -1, "\t", ""]),
        "separators": st.sampled_from([None, (",", ":"), (" , ", " : "), [";", "="]]),
        "check_circular": st.booleans(),
    },
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**300),
    st.floats(),
    st.sampled_from([-0.0, 1e16, 1e-05, 1e15, 0.0001, 5e-324, math.inf, -math.inf, math.nan]),
    st.text(max_size=8),
    st.sampled_from(["é", "😀", "\x7f", '\x00\n\t"\\', "\u2028"]),
)
dict_keys = st.one_of(
    st.text(max_size=4),
    st.integers(-5, 5),
    st.sampled_from([None, True, False, 1.5, -0.0, 2**70]),
)
nested = st.recursive(
    json_scalars,
    lambda c: st.one_of(
        st.lists(c, max_size=3),
        st.lists(c, max_size=3).map(tuple),
        st.dictionaries(dict_keys, c, max_size=3),
    ),
    max_leaves=6,
)


@st.composite
def json_records(draw):
    keys = draw(st.lists(st.sampled_from(["id", "name", "price", "ok", "tags", "ü"]), unique=True))
    return {k: draw(nested) for k in keys}


json_lists = st.lists(json_records(), max_size=8)


@given(data=json_lists, kw=json_kwargs)
def test_dumps_of_a_dictlist_is_json_dumps_of_the_list(data, kw):
    assert_like_json(DictList(data), data, **kw)


@given(data=record_lists, kw=json_kwargs)
def test_dumps_with_the_shared_record_strategy(data, kw):
    # Includes bytes values: both raise the same TypeError.
    assert_like_json(DictList(data), data, **kw)


@given(data=json_lists, kw=json_kwargs)
def test_memslim_objects_anywhere_in_a_structure(data, kw):
    rows = DictList(data)
    obj = {"rows": rows, "first": rows[:1], "pair": [rows[0] if data else None, 3]}
    plain = {"rows": data, "first": data[:1], "pair": [data[0] if data else None, 3]}
    if data and "price" in rows.columns:
        obj["col"] = rows.column("price")
        plain["col"] = [d.get("price") for d in data]
    assert_like_json(obj, plain, **kw)


@given(
    data=st.lists(st.tuples(json_scalars, nested, st.text(max_size=3)), max_size=6),
    kw=json_kwargs,
)
def test_dumps_of_a_tuplelist(data, kw):
    rows = TupleList(data, fields=("a", "b", "c"))
    assert_like_json(rows, data, **kw)
    assert_like_json({"t": rows}, {"t": data}, **kw)


def test_floats_ints_and_strings_exactly():
    data = [
        {"f": x}
        for x in [0.1, -0.0, 1e16, 1e-05, 1e15, 123456789.125, 1.7976931348623157e308, 5e-324]
    ]
    data += [{"i": 2**100}, {"i": -(2**63)}, {"s": 'é😀\x7f\u2028"\\\n'}, {"n": None, "b": True}]
    rows = DictList(data)
    for kw in ({}, {"ensure_ascii": False}, {"indent": 2, "sort_keys": True}):
        assert memslim.dumps(rows, **kw) == json.dumps(data, **kw)


def test_floats_match_repr_over_many_random_doubles():
    # The float writer against Python's own repr, on random bit patterns (every exponent)
    # and on values near the switch between positional and exponent notation.
    rng = random.Random(20_251_203)
    fs = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(50_000)]
    fs += [
        m * 10.0**e for m in (1, 9.999999999999999, 1.5, 1125899906842624.1) for e in range(-8, 20)
    ]
    fs += [math.nextafter(x, math.inf) for x in fs[-200:]] + [
        math.nextafter(x, 0) for x in fs[-200:]
    ]
    # Whole hundredths (prices), which have a path of their own, and their neighbours,
    # on both sides of its 0.01 and 1e13 bounds.
    cents = [rng.randrange(-(10**16), 10**16) / 100 for _ in range(20_000)]
    cents += [rng.randrange(1, 10**6) / 100 for _ in range(20_000)]
    cents += [0.01, -0.01, 0.005, 0.1, 1e13 - 0.01, 1e13, 1e13 + 0.01, 0.1 + 0.2, 1.005]
    fs += cents + [math.nextafter(x, math.inf) for x in cents[-1000:]]
    fs = [x for x in fs if not math.isnan(x)]
    rows = DictList({"f": x} for x in fs)
    assert memslim.dumps(rows) == json.dumps([{"f": x} for x in fs])


def test_plain_and_dictionary_string_columns():
    # Mostly-unique strings are stored plain, repeated ones dictionary-encoded: both
    # paths escape as json does, with and without ensure_ascii.
    specials = ["é", "😀", "\x7f", "\x00", '"', "\\", "\n\t", "\u2028", "ü\x1f"]
    long = "a long repeated value, longer than 32 bytes: é"
    repeated = [*specials[:3], long]
    data = [{"u": f"{i}{specials[i % len(specials)]}x", "d": repeated[i % 4]} for i in range(5000)]
    rows = DictList(data)
    assert rows.storage_info()["u"] == "str:plain"
    assert rows.storage_info()["d"].startswith("str:dict")
    for kw in ({}, {"ensure_ascii": False}):
        assert memslim.dumps(rows, **kw) == json.dumps(data, **kw)
        assert memslim.dumps(rows[10:20], **kw) == json.dumps(data[10:20], **kw)


def test_a_whole_list_written_into_its_str_on_two_threads():
    # A DictList on its own is written straight into the returned str, by two threads
    # past 100,000 records; the text must be json's whatever the size estimate gives.
    specials = ["é", "😀", '"', "\\", "\n", "plain"]
    data = [
        {"id": i, "s": f"{i}{specials[i % len(specials)]}", "f": i / 7, "b": i % 3 == 0}
        if i % 5
        else {"s": None, "id": -i}
        for i in range(130_000)
    ]
    rows = DictList(data)
    for kw in ({}, {"ensure_ascii": False}, {"separators": (",", ":")}):
        assert memslim.dumps(rows, **kw) == json.dumps(data, **kw)
    # Separators outside ASCII: the text is not ASCII, so it takes the general path.
    assert memslim.dumps(rows[:50], separators=("\u3001", "\uff1a")) == json.dumps(
        data[:50], separators=("\u3001", "\uff1a")
    )
    assert memslim.dumps(TupleList([(1, "é"), (2, None)], fields=("a", "b"))) == json.dumps(
        [[1, "é"], [2, None]]
    )
    assert memslim.dumps(DictList([])) == "[]"


def test_records_longer_than_the_sampled_ones_overflow_the_estimate():
    # The size estimate samples the start, the middle and the end of the list; records
    # elsewhere ten times longer make the text overflow it, and the rest is appended.
    n = 20_000
    sampled = {*range(1024), *range(n // 2 - 512, n // 2 + 512), *range(n - 1024, n)}
    data = [{"k": "x" if i in sampled else "y" * 200 + str(i)} for i in range(n)]
    assert memslim.dumps(DictList(data)) == json.dumps(data)


def test_nan_and_allow_nan():
    data = [{"x": math.nan}, {"x": math.inf}, {"x": -math.inf}]
    rows = DictList(data)
    assert memslim.dumps(rows) == '[{"x": NaN}, {"x": Infinity}, {"x": -Infinity}]'
    with pytest.raises(ValueError, match="Out of range float values"):
        memslim.dumps(rows, allow_nan=False)


def test_errors_are_jsons_errors():
    rows = DictList([{"a": b"x"}])
    with pytest.raises(TypeError, match="Object of type bytes is not JSON serializable"):
        memslim.dumps(rows)
    with pytest.raises(TypeError, match="keys must be str"):
        memslim.dumps(DictList([{"a": {(1, 2): 3}}]))
    assert memslim.dumps(DictList([{"a": {(1, 2): 3}}]), skipkeys=True) == '[{"a": {}}]'
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular reference detected"):
        memslim.dumps([rows[:0], cyclic])


def test_a_row_writes_its_own_record_after_the_list_moved_it():
    rows = DictList([{"a": 1}, {"a": 2}])
    r = rows[1]
    rows.insert(0, {"a": 0})
    assert memslim.dumps([r]) == '[{"a": 2}]'
    del rows[2]
    assert memslim.dumps(r) == '{"a": 2}'


def test_default_and_cls_still_work_with_memslim_objects_inside():
    rows = DictList([{"a": 1}])
    when = datetime.date(2024, 1, 2)
    obj = {"rows": rows, "when": when}
    plain = {"rows": [{"a": 1}], "when": when}
    assert memslim.dumps(obj, default=str) == json.dumps(plain, default=str)

    class DateEncoder(json.JSONEncoder):
        def default(self, o):
            if isinstance(o, datetime.date):
                return o.isoformat()
            return super().default(o)

    assert memslim.dumps(obj, cls=DateEncoder) == json.dumps(plain, cls=DateEncoder)
    assert memslim.dumps(obj, cls=DateEncoder, indent=1) == json.dumps(
        plain, cls=DateEncoder, indent=1
    )
    with pytest.raises(TypeError, match="Object of type date is not JSON serializable"):
        memslim.dumps(obj)


def test_subclasses_of_containers_and_scalars_follow_json():
    Point = collections.namedtuple("Point", "x y")

    class Str(str):
        pass

    class Int(int):
        def __repr__(self):
            return "nope"

    obj = [
        Point(1, 2),
        collections.OrderedDict(b=1, a=2),
        Str("s"),
        Int(5),
        {Int(3): 1, 2.5: 0, None: 1, True: 2},
    ]
    for kw in ({}, {"sort_keys": True}, {"indent": 1}):
        if kw.get("sort_keys"):
            obj_ = obj[:4]
        else:
            obj_ = obj
        assert memslim.dumps(obj_, **kw) == json.dumps(obj_, **kw)


def test_big_ints_past_the_str_digit_limit_raise_like_json():
    big = 10**5000
    rows = DictList([{"a": [big]}])
    with pytest.raises(ValueError, match="Exceeds the limit"):
        memslim.dumps(rows)
    with pytest.raises(ValueError, match="Exceeds the limit"):
        json.dumps([{"a": [big]}])


def test_lone_surrogates_are_escaped_as_json_does():
    s = "a\udc80b"
    assert memslim.dumps([s, {"k": s}]) == json.dumps([s, {"k": s}])


def test_dump_writes_the_same_text():
    rows = DictList([{"a": 1, "b": "é"}])
    f = io.StringIO()
    memslim.dump({"r": rows}, f, indent=2, ensure_ascii=False)
    assert f.getvalue() == json.dumps({"r": rows.to_list()}, indent=2, ensure_ascii=False)


def test_other_memslim_objects(tmp_path):
    data = [{"a": 1, "b": [1, {"c": None}]}, {"a": 2.5}]
    docs = DocList(data)
    with DictList.open(tmp_path / "r.msl") as f:
        f.extend(data)
        f.flush()
        obj = [docs, docs[0], docs[0]["b"], f, f[0], f[0:1], f.column("a")]
        plain = [data, data[0], data[0]["b"], data, data[0], data[0:1], [1, 2.5]]
        assert memslim.dumps(obj) == json.dumps(plain)
        assert memslim.to_builtins(obj) == plain


# --------------------------------------------------------------------------------------
# to_builtins as the hook of type-strict encoders
# --------------------------------------------------------------------------------------


@given(data=json_lists)
def test_to_builtins_with_json_orjson_and_msgspec(data):
    rows = DictList(data)
    obj = {"rows": rows, "row": rows[0] if data else None}
    plain = {"rows": data, "row": data[0] if data else None}
    assert json.dumps(obj, default=memslim.to_builtins) == json.dumps(plain)
    try:
        want = orjson.dumps(plain)
    except TypeError:
        want = None  # ints beyond 64 bits, non-str keys: orjson refuses them
    if want is not None:
        assert orjson.dumps(obj, default=memslim.to_builtins) == want
    try:
        want = msgspec.json.encode(plain)
    except (TypeError, OverflowError, ValueError):
        want = None
    if want is not None:
        assert msgspec.json.encode(obj, enc_hook=memslim.to_builtins) == want


def test_to_builtins_types():
    rows = DictList([{"a": 1, "b": [1, (2,)]}])
    tl = TupleList([(1, "x")], fields=("n", "s"))
    assert same(memslim.to_builtins(rows), [{"a": 1, "b": [1, (2,)]}])
    assert same(memslim.to_builtins(rows[0]), {"a": 1, "b": [1, (2,)]})
    assert same(memslim.to_builtins(tl), [(1, "x")])
    assert same(memslim.to_builtins(rows.column("a")), [1])
    assert same(
        memslim.to_builtins({"x": [rows, tl]}), {"x": [[{"a": 1, "b": [1, (2,)]}], [(1, "x")]]}
    )
    assert memslim.to_builtins(5) == 5
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        memslim.to_builtins(object())
    assert orjson.dumps(tl, default=memslim.to_builtins) == b'[[1,"x"]]'
    assert msgspec.json.encode(tl, enc_hook=memslim.to_builtins) == b'[[1,"x"]]'


# --------------------------------------------------------------------------------------
# The JSON Lines sink writes what dumps writes
# --------------------------------------------------------------------------------------


@given(data=json_lists.filter(lambda d: all(isinstance(k, str) for r in d for k in r)))
def test_jsonl_sink_lines_equal_dumps(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("sink") / "out.jsonl"
    rows = DictList(data)
    w = memslim.JsonlWriter(path)
    try:
        w.write(rows)
    finally:
        w.close()
    # Not splitlines(): U+2028 and friends stay unescaped inside a line, as in json.
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    assert lines == [memslim.dumps(r, ensure_ascii=False) for r in rows]
    assert lines == [json.dumps(d, ensure_ascii=False) for d in data]


# --------------------------------------------------------------------------------------
# iter_dicts / iter_tuples
# --------------------------------------------------------------------------------------


@given(data=record_lists)
def test_iter_dicts_gives_real_dicts(data):
    rows = DictList(data)
    out = list(rows.iter_dicts())
    assert all(type(d) is dict for d in out)
    assert same(out, data)


def test_iter_dicts_is_a_snapshot_in_batches():
    rows = DictList({"i": i} for i in range(1000))
    it = rows.iter_dicts()
    first = next(it)
    rows.append({"i": 1000})
    rows[500]["i"] = -1
    rest = list(it)
    assert [first, *rest] == [{"i": i} for i in range(1000)]
    assert it.__length_hint__() == 0


def test_iter_tuples_gives_plain_tuples():
    data = [(1, "a", None), (2, "b", [1])]
    rows = TupleList(data, fields=("n", "s", "x"))
    out = list(rows.iter_tuples())
    assert all(type(t) is tuple for t in out)
    assert same(out, data)


def test_sqlite_executemany_named_parameters():
    rows = DictList({"id": i, "name": f"n{i}", "price": i * 1.5} for i in range(600))
    con = sqlite3.connect(":memory:")
    con.execute("create table t (id int, name text, price real)")
    con.executemany("insert into t values (:id, :name, :price)", rows.iter_dicts())
    assert con.execute("select count(*), sum(price) from t").fetchone() == (
        600,
        sum(i * 1.5 for i in range(600)),
    )
    tl = TupleList(((i, f"n{i}") for i in range(10)), fields=("id", "name"))
    con.executemany("insert into t (id, name) values (?, ?)", tl.iter_tuples())
    assert con.execute("select count(*) from t").fetchone() == (610,)


def test_pandas_json_normalize():
    data = [{"id": 1, "user": {"name": "a", "tags": [1]}}, {"id": 2, "user": {"name": "b"}}]
    rows = DictList(data)
    got = pd.json_normalize(list(rows.iter_dicts()))
    want = pd.json_normalize(data)
    pd.testing.assert_frame_equal(got, want)
