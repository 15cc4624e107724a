"""DocList, DocView and ListView against plain Python values as the oracle."""

from __future__ import annotations

import copy
import enum
import gc
import io
import json
import math
import operator
import pickle
import subprocess
import sys
import textwrap
import zlib
from collections import Counter, OrderedDict, abc, defaultdict, deque, namedtuple

import memslim
import pytest
from conftest import VALUE_ZOO, expect_error, first_difference, same, values
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from memslim import DictList, DocList, DocView, ListView, to_builtins

# Strings long enough (most of them) for the compressed text blocks (48+ UTF-8 bytes).
long_text = st.text(min_size=30, max_size=300)

# Documents: any JSON-like value, with dicts (str keys) more likely at the top.
documents = st.one_of(
    st.dictionaries(
        st.text(max_size=6),
        st.one_of(values, long_text, st.lists(long_text, max_size=3)),
        max_size=5,
    ),
    values,
    long_text,
)


def assert_same(actual, expected):
    assert same(actual, expected), first_difference(actual, expected)


def snapshot(docs):
    # Contents and byte accounting; capacity (nbytes) may keep growth from a failed call.
    return (len(docs), docs.to_python(), docs.live_bytes, docs.garbage_bytes)


def event(i):
    return {
        "id": i,
        "type": ["click", "view", "buy"][i % 3],
        "user": {"name": f"user{i % 50}", "tags": ["a", "b"][: i % 3], "score": i / 7},
        "ok": i % 2 == 0,
        "meta": {"lang": "en" if i % 4 else "de", "geo": (1.5, -2.25)},
        "blob": bytes([i % 256]),
        "big": 2**70 + i,
        "none": None,
    }


# -- round trips ------------------------------------------------------------------------


@given(st.lists(documents, max_size=8))
def test_round_trip_is_exact(docs):
    dl = DocList(docs)
    assert len(dl) == len(docs)
    assert_same(dl.to_python(), docs)
    for i, d in enumerate(docs):
        item = dl[i]
        plain = item.to_python() if isinstance(item, (DocView, ListView)) else item
        assert_same(plain, d)


@given(documents)
def test_views_behave_like_the_plain_value(doc):
    dl = DocList([doc])
    v = dl[0]
    if isinstance(doc, dict):
        assert isinstance(v, DocView) and isinstance(v, abc.Mapping)
        assert list(v) == list(doc)
        assert len(v) == len(doc)
        for k in doc:
            assert k in v
            got = v[k]
            assert_same(got.to_python() if isinstance(got, (DocView, ListView)) else got, doc[k])
        assert "\x00missing" not in v or "\x00missing" in doc
        assert v.get("\x00missing", 5) == doc.get("\x00missing", 5)
    elif isinstance(doc, (list, tuple)):
        assert isinstance(v, ListView) and isinstance(v, abc.Sequence)
        assert v.is_tuple == isinstance(doc, tuple)
        assert len(v) == len(doc)
        assert_same(v.to_python(), doc)
    if not _has_nan(doc):
        assert (v == doc) is True
        assert (v != doc) is False


def _has_nan(v):
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, dict):
        return any(_has_nan(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(_has_nan(x) for x in v)
    return False


@pytest.mark.parametrize("name", sorted(VALUE_ZOO))
def test_value_zoo_round_trips(name):
    doc = {"v": VALUE_ZOO[name], "nested": [VALUE_ZOO[name], (VALUE_ZOO[name],)]}
    dl = DocList([doc, VALUE_ZOO[name]])
    assert_same(dl.to_python(), [doc, VALUE_ZOO[name]])
    assert_same(pickle.loads(pickle.dumps(dl)).to_python(), [doc, VALUE_ZOO[name]])


def test_nested_reads_and_mapping_api():
    dl = DocList(event(i) for i in range(10))
    d = dl[4]
    assert d["user"]["name"] == "user4"
    assert d["user"]["tags"][0] == "a"
    assert d.get("geo", {}).get("lat") is None
    assert d["meta"]["geo"] == (1.5, -2.25)
    assert d["meta"]["geo"].is_tuple
    assert d["meta"]["geo"].to_python() == (1.5, -2.25)
    assert type(d["meta"]["geo"].to_python()) is tuple
    assert d["big"] == 2**70 + 4
    assert d["ok"] is True
    assert d["none"] is None
    assert d["blob"] == b"\x04"
    assert list(d.keys()) == list(event(4))
    assert dict(d.items())["id"] == 4
    assert 4 in list(d.values())
    assert json.dumps(dl[0].to_python()["meta"]) == json.dumps(event(0)["meta"])
    assert sum(1 for x in dl if x["meta"]["lang"] == "en") == 7
    tags = dl[5]["user"]["tags"]
    assert tags[-1] == "b"
    assert tags[:1] == ["a"]
    assert tags.index("b") == 1
    assert tags.count("a") == 1
    assert "a" in tags and "c" not in tags
    expect_error(KeyError, lambda: d["nope"])
    expect_error(KeyError, lambda: d[5])
    assert 5 not in d
    expect_error(IndexError, lambda: tags[5])
    expect_error(IndexError, lambda: dl[2**100])
    expect_error(IndexError, lambda: tags[-(2**70)])
    expect_error(TypeError, lambda: dl["x"])
    expect_error(TypeError, lambda: tags[1.0])
    expect_error(TypeError, hash, d)
    expect_error(TypeError, hash, d["user"]["tags"])
    assert repr(dl[1]) == repr(event(1))


def test_scalars_at_top_level_come_back_plain():
    dl = DocList([1, "x", None, 2.5, True, b"b", 2**80])
    assert_same(list(dl), [1, "x", None, 2.5, True, b"b", 2**80])


def test_interned_strings_are_reused():
    dl = DocList([{"country": "de", "n": i} for i in range(5)])
    keys0 = list(dl[0])
    keys3 = list(dl[3])
    assert keys0[0] is keys3[0]
    assert dl[1]["country"] is dl[4]["country"]
    # A long value is stored in place, not interned, but still reads back equal.
    long = "x" * 100
    dl.append({"country": long})
    assert dl[5]["country"] == long


def test_equality_with_lists_and_doclists():
    docs = [event(i) for i in range(5)]
    dl = DocList(docs)
    assert dl == docs
    assert dl != docs[:4]
    assert dl == DocList(docs)
    assert (dl == 5) is False
    assert dl[0] != {"id": 0}
    assert dl[0] == dl[0]
    assert dl[0]["user"] == DocList([event(0)])[0]["user"]
    assert docs[2] in dl
    assert dl.index(docs[3]) == 3
    assert dl.count(docs[1]) == 1
    assert list(reversed(dl)) == docs[::-1]
    expect_error(ValueError, dl.index, {"absent": True})


def test_keys_are_found_or_refused_as_a_dict_does():
    plain = {"a": 1, "b": {"c": 2}}
    for view in (DocList([plain])[0], DocList([{"x": plain}])[0]["x"]):
        keys = (["a"], {}, {"a"}, ("a", ["b"]), "zz", 5, ("a",), None, Name("a"), Name("zz"))
        for key in keys:
            for f in (
                lambda m, k=key: k in m,
                lambda m, k=key: m.get(k),
                lambda m, k=key: m.get(k, 5),
                lambda m, k=key: m[k],
            ):
                assert outcome(f, view) == outcome(f, plain), key


# -- the operators and methods of list, tuple and dict ----------------------------------


def outcome(f, *args):
    """What ``f(*args)`` gives as plain values, or the class of what it raises."""
    try:
        return ("ok", to_builtins(f(*args)))
    except Exception as e:  # noqa: BLE001 - the class is the outcome
        return ("raise", type(e))


def same_outcome(got, want):
    if got[0] == want[0] == "ok":
        assert_same(got[1], want[1])
    else:
        assert got == want


# Lists and tuples whose items have an order (or, mixed, raise as they would).
orderable = st.recursive(
    st.one_of(st.integers(-2, 2), st.sampled_from(["a", "b"]), st.none()),
    lambda c: st.one_of(st.lists(c, max_size=3), st.lists(c, max_size=3).map(tuple)),
    max_leaves=6,
)
sequences = st.one_of(st.lists(orderable, max_size=3), st.lists(orderable, max_size=3).map(tuple))
comparisons = (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne)


@given(a=sequences, b=sequences)
def test_list_views_order_as_the_plain_values(a, b):
    va, vb = DocList([a, b])
    for op in comparisons:
        want = outcome(op, a, b)
        for x, y in ((va, b), (a, vb), (va, vb)):
            assert outcome(op, x, y) == want, (op, x, y)


def test_documents_sort_by_a_list_field():
    plain = [{"v": [1, 10]}, {"v": [1, 2]}, {"v": [0, 99]}, {"v": [1, 2, 0]}]
    docs = DocList(plain)
    by_v = sorted(docs, key=lambda d: d["v"])
    assert [d.to_python() for d in by_v] == sorted(plain, key=lambda d: d["v"])
    assert max(docs, key=lambda d: d["v"]) == max(plain, key=lambda d: d["v"])
    err = expect_error(TypeError, operator.lt, DocList([[1]])[0], (1,))
    assert "'list' and 'tuple'" in str(err), str(err)


@given(v=st.one_of(st.lists(values, max_size=4), st.lists(values, max_size=4).map(tuple)))
def test_a_stored_tuple_hashes_as_the_tuple_and_a_list_not(v):
    view = DocList([v])[0]
    if isinstance(v, list):
        assert outcome(hash, view) == ("raise", TypeError)
    elif not _has_nan(v):  # a NaN hashes by identity, and a view reads a new one
        assert outcome(hash, view) == outcome(hash, v)


def test_stored_tuples_work_as_set_members_and_dict_keys():
    plain = [{"pos": (1, 2)}, {"pos": (3, 4)}, {"pos": (1, 2)}, {"pos": (1, [2])}]
    docs = DocList(plain)
    assert {d["pos"] for d in docs[:3]} == {(1, 2), (3, 4)}
    counts = Counter(d["pos"] for d in docs[:3])
    assert counts == Counter(d["pos"] for d in plain[:3])
    assert counts[(1, 2)] == 2
    assert docs[0]["pos"] in {(1, 2)}
    err = expect_error(TypeError, hash, docs[3]["pos"])
    assert "list" in str(err)


orderable_docs = st.lists(
    st.one_of(sequences, st.dictionaries(st.sampled_from("ab"), st.integers(0, 2), max_size=2)),
    max_size=4,
)


@given(a=orderable_docs, b=orderable_docs)
def test_doclists_order_as_lists(a, b):
    da, db = DocList(a), DocList(b)
    for op in comparisons:
        want = outcome(op, a, b)
        for x, y in ((da, b), (a, db), (da, db)):
            assert outcome(op, x, y) == want, (op, x, y)
        assert outcome(op, da, da) == outcome(op, a, a)
    assert outcome(operator.lt, da, tuple(b)) == ("raise", TypeError)


def test_a_doclist_compares_with_itself_as_a_list_does_despite_nans():
    plain = [{"x": math.nan}]
    docs = DocList(plain)
    for op in comparisons:
        # A list compares its items by identity first: itself equal despite the NaN.
        assert op(docs, docs) is op(plain, plain), op


def test_a_view_is_its_document_despite_nans_as_a_dict_in_a_list_is():
    # A list compares its items by identity first (`x is y or x == y`): the dict it
    # handed out is found, equal to itself, whatever NaN it holds.
    plain = [{"id": 1, "score": math.nan}, {"id": 2, "pos": (0.5, math.nan)}, [math.nan]]
    docs = DocList(plain)
    for i, p in enumerate(plain):
        d = docs[i]
        assert operator.eq(d, d) and not operator.ne(d, d) and d == docs[i], i
        assert d in docs and docs.index(d) == i and docs.count(d) == 1, i
        assert (p in plain, plain.index(p), plain.count(p)) == (True, i, 1)
        assert d not in docs[:] and d.to_python() not in docs, i  # other objects
        assert docs.index(d, -3 + i, i + 1) == i
        expect_error(ValueError, docs.index, d, i + 1)
        expect_error(ValueError, docs.index, d, 0, i)
    t, pos = docs[1]["pos"], plain[1]["pos"]
    for op in comparisons:
        assert op(t, t) is op(pos, pos) and op(t, docs[1]["pos"]) is op(pos, pos), op
        assert op(docs, list(docs)) is op(plain, list(plain)), op
    assert docs[0]["score"] != docs[0]["score"]  # a float read twice: two NaNs
    # The document itself only: an equal copy of it elsewhere compares by value.
    docs.append(docs[0])
    assert (docs.count(docs[0]), docs.index(docs[3]), docs[0] != docs[3]) == (1, 3, True)
    assert docs != [docs[3], *docs[1:]]
    # Not a document: a nested view, a view of another list's, or of a compacted store.
    assert docs[1]["pos"] not in docs and DocList([[math.nan]])[0] not in docs
    before = docs[2]
    docs.compact()
    assert before not in docs and operator.eq(before, before) and docs[2] in docs


@given(a=st.lists(documents, max_size=4), b=st.lists(documents, max_size=4), n=st.integers(-1, 3))
def test_doclists_add_and_repeat_as_lists(a, b, n):
    da, db = DocList(a), DocList(b)
    for got, want in (
        (da + b, a + b),
        (da + db, a + b),
        (a + db, a + b),
        (da + da, a + a),
        (da * n, a * n),
        (n * da, n * a),
    ):
        assert type(got) is DocList
        assert_same(got.to_python(), want)
    assert_same(da.to_python(), a)
    assert_same(db.to_python(), b)
    for f in (lambda x: x + tuple(b), lambda x: x * "2", lambda x: "2" * x, lambda x: x + None):
        assert outcome(f, da)[0] == outcome(f, a)[0] == "raise"
    grown, plain = DocList(a), list(a)
    view = grown[0] if a else None
    grown += db
    plain += b
    grown += tuple(b)
    plain += tuple(b)
    grown += grown
    plain += plain
    grown *= n
    plain *= n
    assert_same(grown.to_python(), plain)
    if view is not None:
        # The first document as it was (a view's own copy, or the value itself).
        assert_same(view.to_python() if hasattr(view, "to_python") else view, a[0])


def test_a_repeat_that_cannot_exist_raises_as_a_lists_does():
    docs = DocList([1])
    for n in (2**60, 2**62):
        assert (
            outcome(operator.mul, docs, n)
            == outcome(operator.mul, [1], n)
            == ("raise", MemoryError)
        )
        with pytest.raises(MemoryError):
            docs *= n
    assert outcome(operator.mul, docs, 2**63) == outcome(operator.mul, [1], 2**63)
    assert docs == [1]


@given(
    doc=st.dictionaries(st.text(max_size=3), values, max_size=4),
    other=st.dictionaries(st.text(max_size=3), values, max_size=4),
)
def test_doc_views_copy_join_and_reverse_as_a_dict(doc, other):
    view, view2 = DocList([doc, other])
    copied = view.copy()
    assert type(copied) is dict
    assert_same(to_builtins(copied), doc)
    for k, v in copied.items():
        # A shallow copy, as dict.copy: nested containers are the (read-only) views.
        assert isinstance(v, (DocView, ListView)) == isinstance(doc[k], (dict, list, tuple))
    for f, want in (
        (lambda: view | other, doc | other),
        (lambda: other | view, other | doc),
        (lambda: view | view2, doc | other),
        (lambda: view | DictList([{"k": 1}])[0], doc | {"k": 1}),
        (lambda: list(reversed(view)), list(reversed(doc))),
    ):
        got = f()
        assert type(got) is type(want)
        assert_same(to_builtins(got), want)
    for f in (lambda m: m | [("a", 1)], lambda m: [("a", 1)] | m, lambda m: m | None):
        assert outcome(f, view) == outcome(f, doc)
    assert_same(view.to_python(), doc)


@given(
    a=st.one_of(st.lists(values, max_size=3), st.lists(values, max_size=3).map(tuple)),
    b=st.one_of(st.lists(values, max_size=3), st.lists(values, max_size=3).map(tuple)),
    n=st.integers(-1, 3),
)
def test_list_views_copy_add_and_repeat_as_the_plain_value(a, b, n):
    va, vb = DocList([a, b])
    for f, x, y in (
        (lambda x, y: x.copy(), va, a),
        (operator.add, (va, b), (a, b)),
        (operator.add, (b, va), (b, a)),
        (operator.add, (va, vb), (a, b)),
        (operator.add, (va, va), (a, a)),
        (operator.mul, (va, n), (a, n)),
        (operator.mul, (n, va), (n, a)),
        (operator.mul, (va, "2"), (a, "2")),
        (operator.add, (va, 1), (a, 1)),
    ):
        args_v, args_p = (x, y) if isinstance(x, tuple) else ((x, None), (y, None))
        got, want = outcome(f, *args_v), outcome(f, *args_p)
        same_outcome(got, want)
        if got[0] == "ok" and isinstance(got[1], (list, tuple)):
            assert type(f(*args_v)) is type(want[1])
    assert_same(va.to_python(), a)


def test_a_copy_of_a_list_view_is_shallow():
    docs = DocList([{"xs": [{"a": 1}, [2], 3]}])
    copied = docs[0]["xs"].copy()
    assert type(copied) is list
    assert isinstance(copied[0], DocView) and isinstance(copied[1], ListView)
    assert copied == [{"a": 1}, [2], 3]
    copied.append(4)
    assert docs[0]["xs"] == [{"a": 1}, [2], 3]


# -- subclasses of the JSON-like types --------------------------------------------------


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Big(int):
    pass


class Ratio(float):
    pass


class Items(list):
    pass


class Name(str):
    """A str subclass: a dict finds a key by it (same hash, equal)."""


class Blob(bytes):
    pass


Point = namedtuple("Point", "x y")


def test_subclasses_of_json_like_types_are_stored_as_their_plain_base():
    moved = OrderedDict(a=1, b=2)
    moved.move_to_end("a")  # a dict subclass is read through items(), as json reads it
    doc = {
        "dd": defaultdict(list, a=[1]),
        "od": moved,
        "counts": Counter("aab"),
        "color": Color.RED,
        "level": Level.HIGH,
        "big": Big(2**70),
        "ratio": Ratio(1.5),
        "items": Items([1, Items([2])]),
        Name("name"): Name("v"),
        Color.RED: "key",
        "point": Point(1, (2,)),
        "blob": Blob(b"b"),
        "row": DictList([{"a": 1}])[0],
    }
    want = {
        "dd": {"a": [1]},
        "od": {"b": 2, "a": 1},
        "counts": {"a": 2, "b": 1},
        "color": "red",
        "level": 3,
        "big": 2**70,
        "ratio": 1.5,
        "items": [1, [2]],
        "name": "v",
        "red": "key",
        "point": (1, (2,)),
        "blob": b"b",
        "row": {"a": 1},
    }
    docs = DocList([doc, moved, Point(1, 2), Color.RED])
    assert_same(docs.to_python(), [want, {"b": 2, "a": 1}, (1, 2), "red"])
    assert docs[0]["od"] == moved and list(docs[0]["od"]) == list(moved)

    # What json writes of them, where json can write them (no bytes, no Row).
    def jsonable(d):
        return json.loads(json.dumps({k: v for k, v in d.items() if k not in ("blob", "row")}))

    assert jsonable(docs[0].to_python()) == jsonable(doc)
    # Views inside a subclass are stored as their values too.
    docs.append(defaultdict(list, v=docs[0]["items"], w=Items([docs[0]["od"]])))
    assert_same(docs[-1].to_python(), {"v": [1, [2]], "w": [{"b": 2, "a": 1}]})
    # A subclass of anything else is still refused, naming where it is.
    err = expect_error(TypeError, docs.append, {"a": [frozenset()]})
    assert 'doc[5]["a"][0]' in str(err) and "frozenset" in str(err), str(err)
    err = expect_error(TypeError, docs.append, defaultdict(int, {1: 2}))
    assert "key 1 is of type int" in str(err), str(err)
    assert len(docs) == 5


class Alias(str):
    """A str subclass a dict tells apart from the str of its text."""

    def __hash__(self):
        return 42

    def __eq__(self, other):
        return self is other


class Twice(dict):
    """A dict subclass whose items() gives its first key twice."""

    def items(self):
        first = next(iter(self))
        return [(first, "again"), *super().items()]


def test_keys_of_one_text_are_stored_once_with_the_last_value():
    # As json.loads reads what json.dumps writes of these dicts, and from_jsonl stores a
    # repeated key: the first place, the last value. One dict, whatever reads it.
    doc = {"a": 1, "b": {"x": 0, Alias("x"): [1]}, Alias("a"): 2, Alias("c"): 3}
    twice = Twice(k=1, m=2)
    docs = DocList([doc, {"t": twice}])
    for got, plain in ((docs[0], doc), (docs[1]["t"], twice)):
        want = json.loads(json.dumps(plain))
        assert_same(got.to_python(), want)
        assert len(got) == len(want) and list(got) == list(want)
        assert dict(got) == want and all(got[k] == v for k, v in want.items())
        assert memslim.dumps(got) == json.dumps(want)
        assert to_builtins(got) == want
    assert docs[0].to_python() == {"a": 2, "b": {"x": [1]}, "c": 3}
    assert docs[1]["t"] == {"k": 1, "m": 2}


# -- building: errors leave the list unchanged -----------------------------------------


def test_errors_name_the_path_and_leave_the_list_unchanged():
    dl = DocList([event(0), event(1), event(2)])
    before = snapshot(dl)
    bad = {"a": [0, 1, {5: "x"}]}
    err = expect_error(TypeError, dl.extend, [event(3), bad])
    assert 'doc[4]["a"][2]' in str(err), str(err)
    assert "int" in str(err)
    assert snapshot(dl) == before

    err = expect_error(TypeError, dl.append, {"a": {"b": object()}})
    assert 'doc[3]["a"]["b"]' in str(err), str(err)
    assert snapshot(dl) == before

    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    err = expect_error(ValueError, dl.append, cyclic)
    assert 'doc[3]["a"][0]' in str(err) and "cycl" in str(err), str(err)
    assert snapshot(dl) == before

    err = expect_error(ValueError, dl.append, {"s": "bad \ud800 surrogate"})
    assert 'doc[3]["s"]' in str(err)
    assert snapshot(dl) == before

    deep = []
    for _ in range(600):
        deep = [deep]
    err = expect_error(ValueError, dl.append, deep)
    assert isinstance(err, memslim.LimitError), type(err)
    assert snapshot(dl) == before

    expect_error(TypeError, dl.append, {"a": {1, 2}})
    expect_error(TypeError, DocList, [{"a": 1}, {(1, 2): 1}])
    assert snapshot(dl) == before
    # The list still works afterwards, and new keys get fresh symbols.
    dl.append({"fresh": "value"})
    assert dl[3] == {"fresh": "value"}


def test_a_value_that_is_not_json_like_is_named_by_its_qualified_type():
    # numpy's bool is no bool though both are named "bool": the message tells which.
    docs = DocList([{"a": 1}])

    def refused(value, name, key=False):
        doc = {value: 1} if key else {"a": [value]}
        err = expect_error(TypeError, docs.append, doc)
        want = (
            f"doc[1]: key {value!r} is of type {name}; document keys must be str"
            if key
            else f'doc[1]["a"][0]: value of type {name} is not JSON-like'
        )
        assert str(err).startswith(want), str(err)

    refused(deque(), "collections.deque")
    refused(frozenset(), "frozenset")
    refused(1, "int", key=True)
    np = pytest.importorskip("numpy")
    refused(np.True_, f"numpy.{type(np.True_).__name__}")
    refused(np.int64(3), "numpy.int64")
    refused(np.int64(3), "numpy.int64", key=True)
    assert docs.to_python() == [{"a": 1}]


def test_a_generator_that_fails_leaves_the_list_unchanged():
    dl = DocList([event(0)])
    before = snapshot(dl)

    def gen():
        yield event(1)
        raise RuntimeError("boom")

    expect_error(RuntimeError, dl.extend, gen())
    assert snapshot(dl) == before


def test_views_can_be_stored_again():
    dl = DocList([event(0)])
    dl.append(dl[0])
    dl.append({"copy": dl[0]["user"], "list": [dl[0]["meta"]["geo"]]})
    dl.extend(dl)
    assert dl[1] == event(0)
    assert_same(dl[2].to_python(), {"copy": event(0)["user"], "list": [(1.5, -2.25)]})
    assert len(dl) == 6


# -- reading views while the list is written ------------------------------------------


def run_unhung(code, timeout=60):
    """Run ``code`` in a fresh interpreter and return what it printed; an interpreter
    that hangs (a deadlock) is killed and fails the test instead of hanging it."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the interpreter hung (killed after {timeout} s)")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_python_code_run_by_an_append_can_read_the_lists_views():
    # A dict subclass is read through its items(), and a bad key named by its repr():
    # Python code, which here reads a view of the very list being appended to.
    out = run_unhung(
        """
        import memslim
        docs = memslim.DocList([{"a": 1, "t": (1, 2)}])
        v = docs[0]
        seen = []

        def read():
            key = "".join(["a"])  # a key object the view has not seen
            seen.append((v.to_python(), list(v), repr(v), v[key], list(v["t"])))

        class D(dict):
            def items(self):
                read()
                return super().items()

        class Key:
            def __repr__(self):
                read()
                return "Key()"

        docs.append(D(b=2, c=D(d=3)))
        try:
            docs.extend([{"ok": 1}, {Key(): 1}])
        except TypeError as e:
            print(e)
        print(docs.to_python(), len(seen), seen[0])
        """
    )
    lines = out.splitlines()
    assert lines[0] == "doc[3]: key Key() is of type Key; document keys must be str"
    plain = "{'a': 1, 't': (1, 2)}"
    assert lines[1] == (
        f"[{plain}, {{'b': 2, 'c': {{'d': 3}}}}] 3 ({plain}, ['a', 't'], \"{plain}\", 1, [1, 2])"
    )


def test_a_thread_reading_views_while_another_appends_neither_waits_nor_fails():
    out = run_unhung(
        """
        import memslim, threading, time
        docs = memslim.DocList([{"a": 1}])
        v = docs[0]
        stop, errors, reads = False, [], [0]

        def reader():
            while not stop:
                try:
                    assert v.to_python() == {"a": 1} and v["a"] == 1 and list(v) == ["a"]
                    reads[0] += 1
                except Exception as e:
                    errors.append(repr(e))
                    return

        class Key:
            def __repr__(self):
                time.sleep(0.01)  # the GIL goes to the reader
                return "Key()"

        class D(dict):
            def items(self):
                time.sleep(0.01)
                return super().items()

        t = threading.Thread(target=reader)
        t.start()
        for _ in range(5):
            try:
                docs.append({Key(): 1})
            except TypeError:
                pass
            docs.append(D(b=2))
        stop = True
        t.join()
        print(len(docs), errors, reads[0] > 0)
        """
    )
    assert out.split() == ["6", "[]", "True"]


def test_code_the_collector_runs_in_the_middle_of_a_read_or_write_never_hangs():
    # On Python 3.11 an allocation can start the garbage collector, which runs
    # gc.callbacks and finalizers: Python code, here in the middle of a view's read
    # (the list's tables held) and of an append converting ints past 64 bits (held for
    # writing). An append from such code mid-read raises ConcurrentUseError (waiting
    # could never end), a read of the same view mid-read may raise as re-entrant use;
    # mid-write, none runs.
    out = run_unhung(
        """
        import gc, memslim
        docs = memslim.DocList([{"a": [{"b": i} for i in range(50)]}])
        v = docs[0]
        seen, keep = set(), []

        def attempt(name, f):
            try:
                f()
                seen.add(name)
            except RuntimeError as e:  # ConcurrentUseError is one
                seen.add(f"{name}: {type(e).__name__}")

        def appends(phase, info):
            attempt("append", lambda: docs.append({"x": 1}))

        def reads(phase, info):
            attempt("read", lambda: v.to_python()["a"][0] == {"b": 0} or 1 / 0)

        gc.collect()
        gc.set_threshold(1)
        for callback in (appends, reads):
            gc.callbacks.append(callback)
            for _ in range(20):
                keep.append(v.to_python())
                docs.append({"big": 2**100, "neg": -(2**70), "c": [{"d": 1}]})
            gc.callbacks.remove(callback)
        gc.set_threshold(700)
        big = {"big": 2**100, "neg": -(2**70), "c": [{"d": 1}]}
        assert docs[-1] == big and docs.to_python().count(big) == 40
        print(sorted(seen))
        """
    )
    assert set(eval(out)) <= {
        "append",
        "append: ConcurrentUseError",
        "read",
        "read: RuntimeError",
        "read: ConcurrentUseError",
    }, out
    assert "append: ConcurrentUseError" in out and "'read'" in out, out


# -- deletion, garbage, compaction, views that outlive them -----------------------------


def test_delete_leaves_garbage_that_compact_reclaims():
    docs = [event(i) for i in range(200)]
    dl = DocList(docs)
    live = dl.live_bytes
    assert dl.garbage_bytes == 0
    kept_view = dl[10]
    kept_inner = dl[11]["user"]["tags"]
    del dl[10]
    del dl[0:50:2]
    del docs[10]
    del docs[0:50:2]
    assert dl == docs
    assert dl.garbage_bytes > 0
    assert dl.live_bytes + dl.garbage_bytes == live
    info = dl.memory_info()
    assert info["total"] == dl.nbytes
    assert info["live"] == dl.live_bytes and info["garbage"] == dl.garbage_bytes
    reclaimed = dl.compact()
    assert reclaimed > 0
    assert dl.garbage_bytes == 0
    assert dl.live_bytes == live - reclaimed
    assert dl == docs
    # Views made before the delete and the compaction still read their documents.
    assert kept_view == event(10)
    assert kept_inner.to_python() == event(11)["user"]["tags"]
    gc.collect()
    assert kept_view["user"]["name"] == "user10"
    dl.append(event(999))
    assert dl[-1]["id"] == 999
    with pytest.raises(IndexError):
        del dl[10_000]


def doc_with_text(i):
    # Unique text of a few hundred bytes, like the documentation in the AWS models.
    return {
        "name": f"Shape{i}",
        "documentation": f"<p>Shape {i} holds the request for operation {i * 7}. "
        + "It is used by the service to describe the resource. " * (1 + i % 4)
        + f"See <a href='https://example.com/{i}'>the guide</a>.</p>",
        "members": [
            {"doc": f"<p>member {j} of shape {i}, a long enough string.</p>"} for j in range(i % 3)
        ],
        "tuple": (f"{'é' * 30} {i}", i),
    }


def test_long_strings_live_in_compressed_blocks():
    docs = [doc_with_text(i) for i in range(3000)]
    dl = DocList(docs)
    info = dl.memory_info()
    # Hundreds of KB of similar text: compressed several times over.
    assert info["text_raw"] > 500_000
    assert info["text"] < info["text_raw"] / 3
    assert info["total"] == dl.nbytes
    assert (
        info["live"] + info["garbage"] + info["arena_free"] + info["symbols"] + info["index"]
        == info["total"]
    )
    assert_same(dl.to_python(), docs)
    # Random access across blocks, and reads through views.
    for i in [2999, 0, 1500, 1, 2998, 77]:
        assert dl[i]["documentation"] == docs[i]["documentation"]
        assert_same(dl[i]["tuple"][0], docs[i]["tuple"][0])
        assert dl[i] == docs[i]
    view = dl[5]
    del dl[0:2000]
    del docs[0:2000]
    assert dl.garbage_bytes > dl.memory_info()["text"] / 2
    reclaimed = dl.compact()
    assert reclaimed > 0 and dl.garbage_bytes == 0
    assert dl.memory_info()["text_raw"] < info["text_raw"] / 2
    assert_same(dl.to_python(), docs)
    assert view["documentation"] == doc_with_text(5)["documentation"]
    # Pickles carry the blocks; appends after loading go on filling them.
    back = pickle.loads(pickle.dumps(dl))
    assert_same(back.to_python(), docs)
    back.extend(doc_with_text(i) for i in range(5000, 5100))
    docs.extend(doc_with_text(i) for i in range(5000, 5100))
    assert_same(back.to_python(), docs)
    assert back[-1]["documentation"] == docs[-1]["documentation"]
    # A failed extend leaves text and documents as they were.
    before = snapshot(back)
    with pytest.raises(TypeError):
        back.extend([doc_with_text(i) for i in range(200)] + [{1: "bad"}])
    assert snapshot(back) == before


def test_views_outlive_their_list():
    dl = DocList([event(i) for i in range(50)])
    v = dl[7]["user"]
    del dl
    gc.collect()
    assert v["name"] == "user7"
    assert v.to_python() == event(7)["user"]


def test_sizes_are_reported():
    dl = DocList([event(i) for i in range(1000)])
    assert dl.nbytes >= dl.live_bytes > 0
    assert sys.getsizeof(dl) >= dl.nbytes
    empty = DocList()
    assert empty.nbytes < dl.nbytes


# -- copies and pickling ----------------------------------------------------------------


@pytest.mark.parametrize(
    "copier",
    [copy.copy, copy.deepcopy, lambda d: d.copy()]
    + [lambda d, p=p: pickle.loads(pickle.dumps(d, protocol=p)) for p in range(6)],
)
def test_copies_are_equal_and_independent(copier):
    dl = DocList([event(i) for i in range(20)])
    c = copier(dl)
    assert type(c) is DocList
    assert_same(c.to_python(), dl.to_python())
    del c[0]
    assert len(dl) == 20 and len(c) == 19


def test_slices_are_doclists():
    docs = [event(i) for i in range(10)]
    dl = DocList(docs)
    assert dl[2:8:3] == docs[2:8:3]
    assert type(dl[::-1]) is DocList
    assert dl[::-1] == docs[::-1]


def test_views_pickle_and_copy_as_plain_values():
    dl = DocList([event(3)])
    v = dl[0]
    assert_same(pickle.loads(pickle.dumps(v)), event(3))
    assert_same(copy.copy(v["meta"]["geo"]), (1.5, -2.25))
    assert_same(copy.deepcopy(v["user"]["tags"]), ["a", "b"][:0])


def test_corrupt_pickles_raise_instead_of_crashing():
    data = pickle.dumps(DocList([event(i) for i in range(3)]))
    restored = pickle.loads(data)
    payload = restored.__reduce__()[1][0]
    from memslim._memslim import _restore_doclist

    for cut in range(0, len(payload), 7):
        with pytest.raises(memslim.CorruptDataError):
            _restore_doclist(payload[:cut])
    for pos in range(len(payload)):
        damaged = bytearray(payload)
        damaged[pos] ^= 0x5A
        try:
            got = _restore_doclist(bytes(damaged))
        except memslim.CorruptDataError:
            continue
        got.to_python()  # whatever was accepted must be readable


# -- JSON Lines -------------------------------------------------------------------------


def test_from_jsonl_reads_every_source_read_jsonl_takes(tmp_path):
    docs = [
        {"a": 1, "b": [1.5, None, True, "x"], "c": {"d": "é🙂", "e": -0.0}},
        [1, 2],
        "s",
        {"big": 2**63 + 5, "neg": -(2**63)},
    ]
    text = "\n".join(json.dumps(d) for d in docs) + "\n\n"
    dl = DocList.from_jsonl(text.encode())
    assert_same(dl.to_python(), docs)
    path = tmp_path / "docs.jsonl"
    path.write_text(text, encoding="utf-8")
    assert_same(DocList.from_jsonl(path).to_python(), docs)
    assert_same(DocList.from_jsonl(str(path)).to_python(), docs)
    # Every source read_jsonl takes: file objects (binary and text), bytearray, lines.
    with open(path, "rb") as f:
        assert_same(DocList.from_jsonl(f).to_python(), docs)
    with open(path, encoding="utf-8") as f:
        assert_same(DocList.from_jsonl(f).to_python(), docs)
    sources = (
        lambda: bytearray(text.encode()),
        lambda: memoryview(text.encode()),
        lambda: io.BytesIO(text.encode()),
        lambda: text.splitlines(keepends=True),
        lambda: iter(text.splitlines()),
    )
    for source in sources:
        assert_same(DocList.from_jsonl(source()).to_python(), docs)
        assert_same(memslim.read_jsonl(source(), nested="docs").to_python(), docs)


def test_from_jsonl_reads_like_json_loads():
    text = (
        '{"a": 1, "b": [2], "a": {"x": 3, "x": 4}, "c": 5, "b": null}\n'
        "[123456789012345678901234567890, -0.0, 0.1, 1e400, NaN]\n"
        '"\\ud83d\\ude00"\n'
    )
    got = DocList.from_jsonl(text.encode()).to_python()
    want = [json.loads(line) for line in text.splitlines()]
    assert repr(got) == repr(want)
    assert list(got[0]) == ["a", "b", "c"]


def test_from_jsonl_errors(tmp_path):
    err = expect_error(ValueError, DocList.from_jsonl, b'{"a": 1}\n{"a": }\n')
    assert "line 2" in str(err)
    assert isinstance(err, memslim.ParseError)
    assert (err.line, err.column) == (2, 7)
    expect_error(FileNotFoundError, DocList.from_jsonl, tmp_path / "missing.jsonl")
    expect_error(TypeError, DocList.from_jsonl, 5)
    # An error a file object raises while read reaches the caller as itself.

    class Failing(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise OSError("disk gone")

    assert "disk gone" in str(expect_error(OSError, DocList.from_jsonl, Failing()))
    err = expect_error(memslim.ParseError, DocList.from_jsonl, ['{"a": 1}', '{"a": }'])
    assert (err.line, err.column) == (2, 7)


# -- a state machine against a plain list -----------------------------------------------


class DocListMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dl = DocList()
        self.model = []
        self.views = []

    @rule(docs=st.lists(documents, max_size=3))
    def extend(self, docs):
        self.dl.extend(docs)
        self.model.extend(docs)

    @rule(doc=documents)
    def append(self, doc):
        self.dl.append(doc)
        self.model.append(doc)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        i = data.draw(st.integers(0, len(self.model) - 1))
        del self.dl[i]
        del self.model[i]

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def keep_view(self, data):
        i = data.draw(st.integers(0, len(self.model) - 1))
        item = self.dl[i]
        if isinstance(item, (DocView, ListView)):
            self.views.append((item, self.model[i]))

    @rule(docs=st.lists(documents, max_size=3), as_doclist=st.booleans())
    def add_in_place(self, docs, as_doclist):
        self.dl += DocList(docs) if as_doclist else docs
        self.model += docs

    @rule(n=st.integers(0, 2))
    def repeat_in_place(self, n):
        self.dl *= n
        self.model *= n

    @rule()
    def compact(self):
        self.dl.compact()
        assert self.dl.garbage_bytes == 0

    @rule()
    def bad_append(self):
        with pytest.raises(TypeError):
            self.dl.append({"k": [1, {1: 2}]})

    @invariant()
    def agrees(self):
        assert len(self.dl) == len(self.model)
        assert_same(self.dl.to_python(), self.model)
        for view, plain in self.views:
            assert_same(view.to_python(), plain)


TestDocListMachine = DocListMachine.TestCase


# -- pickle protocol 5 out of band ------------------------------------------------------


def dumps_oob(obj):
    buffers = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    return data, buffers


@given(st.lists(documents, max_size=8), st.sampled_from([bytes, bytearray, memoryview]))
def test_out_of_band_pickles_round_trip(docs, wrap):
    dl = DocList(docs)
    stream, buffers = dumps_oob(dl)
    # The image travels beside the pickle, not inside it.
    assert len(buffers) == 1
    image = bytes(buffers[0].raw())
    assert image not in stream
    back = pickle.loads(stream, buffers=[wrap(image)])
    assert type(back) is DocList
    assert_same(back.to_python(), docs)
    # Without a buffer_callback, protocol 5 keeps the image in band.
    assert_same(pickle.loads(pickle.dumps(dl, protocol=5)).to_python(), docs)


def test_a_long_list_pickles_on_helper_threads():
    """From 131,072 documents the image is written, and from 32,769 loaded, by the
    calling thread and a helper per spare core: the same image and documents as one
    thread gives, and a damaged image still raises."""
    docs = [{"i": 1_000_000 + i, "tag": "even" if i % 2 == 0 else None} for i in range(140_000)]
    dl = DocList(docs)
    stream, buffers = dumps_oob(dl)
    image = bytes(buffers[0].raw())
    # The image ends in the CRC-32 of everything before it (zlib's polynomial).
    assert zlib.crc32(image[:-4]).to_bytes(4, "little") == image[-4:]
    assert pickle.loads(stream, buffers=[image]).to_python() == docs
    for protocol in (4, 5):
        assert pickle.loads(pickle.dumps(dl, protocol=protocol)).to_python() == docs
    from memslim._memslim import _restore_doclist

    for at in (len(image) // 2, len(image) - 10):
        damaged = bytearray(image[:-4])
        damaged[at] ^= 0xFF
        damaged += zlib.crc32(damaged).to_bytes(4, "little")
        with pytest.raises(memslim.CorruptDataError):
            _restore_doclist(bytes(damaged))


@pytest.mark.parametrize("keys", [2, 40], ids=["few keys", "many keys"])
@pytest.mark.parametrize("version", [3, 2])
def test_an_image_whose_document_holds_a_key_twice_is_refused(keys, version):
    # A crafted image (checksum recomputed, or an old version-2 image, which has none)
    # whose dict names one key twice: loaded, its document would contradict itself
    # (list(doc) != list(doc.to_python())), so loading refuses it, as a DictList
    # snapshot refuses a field listed twice.
    from memslim._memslim import _restore_doclist

    doc = {f"k{i}": i for i in range(keys)}
    image = DocList([doc]).__reduce_ex__(4)[1][0]
    assert image[:6] == b"MSDOC\x03" and _restore_doclist(image)[0] == doc
    last = bytes([keys - 1, 0x03, 2 * (keys - 1)])  # the last pair: key k<n-1>, its int
    assert image.count(last) == 1
    body = bytearray(image[:-4])
    body[body.index(last)] = 0  # now key k0 again
    if version == 3:
        damaged = bytes(body) + zlib.crc32(body).to_bytes(4, "little")
    else:
        damaged = b"MSDOC\x02" + bytes(body[6:])
    err = expect_error(memslim.CorruptDataError, _restore_doclist, damaged)
    assert "key twice" in str(err)


def test_loads_read_an_immutable_image_in_place_and_copy_a_writable_one():
    import sys

    docs = [{"id": i, "price": i / 4, "tags": [i, -i], "ok": i % 3 == 0} for i in range(3000)]
    dl = DocList(docs)
    stream, buffers = dumps_oob(dl)
    frame = bytes(buffers[0].raw())
    # A bytes frame (as a transport delivers it) is held by the list, read in place,
    # and let go with it.
    before = sys.getrefcount(frame)
    back = pickle.loads(stream, buffers=[frame])
    assert sys.getrefcount(frame) == before + 1
    assert_same(back.to_python(), docs)
    back.append({"new": True})
    del back[0]
    assert_same(back.to_python(), [*docs[1:], {"new": True}])
    back.compact()  # copies the live documents out: the frame is let go
    assert sys.getrefcount(frame) == before
    assert_same(back.to_python(), [*docs[1:], {"new": True}])
    # The same process's PickleBuffer, and protocols 4 and 5 in band (bytes), too.
    part = buffers[0].raw().obj
    before = sys.getrefcount(part)
    back = pickle.loads(stream, buffers=buffers)
    assert sys.getrefcount(part) == before + 1
    del back
    for protocol in (4, 5):
        assert_same(pickle.loads(pickle.dumps(dl, protocol=protocol)).to_python(), docs)
    # A writable buffer can change after the load: copied, not held.
    array = bytearray(frame)
    before = sys.getrefcount(array)
    back = pickle.loads(stream, buffers=[array])
    assert sys.getrefcount(array) == before
    array[:] = bytes(len(array))
    assert_same(back.to_python(), docs)


def test_out_of_band_image_is_read_only_and_checked():
    dl = DocList([event(i) for i in range(3)] + ["é" * 60])
    stream, buffers = dumps_oob(dl)
    view = memoryview(buffers[0].raw().obj)
    assert view.readonly
    with pytest.raises(TypeError, match="read-only"):
        view[0:1] = b"x"
    image = bytes(buffers[0].raw())
    # Every single-byte change, a cut and an extra byte raise; nothing crashes.
    for pos in range(len(image)):
        damaged = bytearray(image)
        damaged[pos] ^= 0x01
        with pytest.raises(memslim.CorruptDataError):
            pickle.loads(stream, buffers=[damaged])
    for bad in (image[:-1], image + b"\x00", b""):
        with pytest.raises(memslim.CorruptDataError):
            pickle.loads(stream, buffers=[bad])
    # A buffer that is not contiguous is refused before it is read.
    with pytest.raises(BufferError):
        pickle.loads(stream, buffers=[memoryview(image * 2)[::2]])
    assert_same(pickle.loads(stream, buffers=[image]).to_python(), dl.to_python())


def test_in_place_operators_on_views_raise_instead_of_leaving_the_document_behind():
    # On plain data `x += [3]` changes the document's own list; a view cannot, and a new
    # list bound to `x` would leave the document as it was without a word.
    plain = [{"t": [1, 2], "p": (1, 2), "m": {"a": 1}}]
    docs = DocList(plain)
    d = docs[0]
    for key, step in (
        ("t", lambda x: operator.iadd(x, [3])),
        ("t", lambda x: operator.imul(x, 2)),
        ("p", lambda x: operator.iadd(x, (3,))),
        ("m", lambda x: operator.ior(x, {"b": 2})),
    ):
        with pytest.raises(TypeError, match="read-only"):
            step(d[key])
    assert_same(docs.to_python(), plain)
    # The spellings that make a new object still work, as on plain data.
    x = d["t"]
    x = x + [3]
    assert x == [1, 2, 3] and type(x) is list
    assert d["p"] + (3,) == (1, 2, 3)
