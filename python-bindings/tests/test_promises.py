"""The promises of the list a DictList replaces, under hostile callers: a probe's own
``__eq__`` runs (and its exception propagates) as a list's would, and no call sequence,
however reentrant, lets a Rust panic (``PanicException``, a ``BaseException``) reach
Python."""

from __future__ import annotations

import operator

import memslim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule


class Probe:
    """A value whose ``__eq__`` says what it was told to, or raises."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = 0

    def __eq__(self, other):
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    __hash__ = None


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the exception is the answer
        return ("raised", type(e), str(e) if not isinstance(e, ValueError) else "")


@pytest.mark.parametrize("answer", [True, False, RuntimeError("probe"), NotImplemented])
@pytest.mark.parametrize(
    "op",
    [
        lambda s, p: s.count(p),
        lambda s, p: p in s,
        lambda s, p: s.index(p),
        lambda s, p: s == [p, p],
        lambda s, p: s != [p, p],
    ],
)
def test_a_probe_eq_runs_as_on_a_list(answer, op):
    records = [{"a": 1}, {"a": 2}]
    plain_probe, probe = Probe(answer), Probe(answer)
    expected = outcome(lambda: op(records, plain_probe))
    got = outcome(lambda: op(memslim.DictList(records), probe))
    assert got == expected
    assert probe.calls == plain_probe.calls
    tuples = [(1, 2), (3, 4)]
    plain_probe, probe = Probe(answer), Probe(answer)
    expected = outcome(lambda: op(tuples, plain_probe))
    got = outcome(lambda: op(memslim.TupleList(tuples, fields=("a", "b")), probe))
    assert got == expected


def test_remove_with_a_raising_probe_leaves_the_list_as_it_was():
    rows = memslim.DictList([{"a": 1}, {"a": 2}])
    with pytest.raises(RuntimeError, match="probe"):
        rows.remove(Probe(RuntimeError("probe")))
    assert rows == [{"a": 1}, {"a": 2}]
    rows.remove(Probe(True))
    assert rows == [{"a": 2}]


# -- no panic reaches Python ---------------------------------------------------------


class Hostile:
    """Hooks that run in the middle of memslim calls and change the list under them."""

    def __init__(self, target, action):
        self.target = target
        self.action = action

    def fire(self):
        try:
            self.action(self.target)
        except Exception:  # noqa: BLE001, S110 - the hook's own failure is not the test
            pass

    def __eq__(self, other):
        self.fire()
        return False

    def __lt__(self, other):
        self.fire()
        return False

    def __hash__(self):
        self.fire()
        return 0

    def __index__(self):
        self.fire()
        return 0

    def __iter__(self):
        self.fire()
        yield {"a": 1}
        self.fire()

    def keys(self):
        self.fire()
        return ["a"]

    def __getitem__(self, key):
        self.fire()
        return 1

    def __len__(self):
        self.fire()
        return 1


MUTATIONS = [
    lambda s: s.clear(),
    lambda s: s.append({"a": 9, "b": "x"}),
    lambda s: s.extend([{"z": [1, 2]}] * 3),
    lambda s: s.insert(0, {"a": None}),
    lambda s: s.pop(),
    lambda s: s.reverse(),
    lambda s: s.sort(key=lambda r: str(r)),
    lambda s: s.__delitem__(slice(None, None, 2)),
    lambda s: s.__setitem__(slice(0, 1), [{"q": 1}, {"q": 2}]),
]


class NoPanics(RuleBasedStateMachine):
    """Random calls of the public API with reentrant arguments. Any ``Exception`` is a
    fair answer; anything else (a ``PanicException``) fails the test."""

    def __init__(self):
        super().__init__()
        self.rows = memslim.DictList()
        self.tuples = memslim.TupleList(fields=("a", "b"))

    @initialize(n=st.integers(0, 6))
    def fill(self, n):
        self.rows.extend({"a": i, "b": str(i), "c": [i] if i % 2 else None} for i in range(n))
        self.tuples.extend((i, str(i)) for i in range(n))

    def call(self, fn):
        try:
            fn()
        except Exception:  # noqa: BLE001, S110 - errors are allowed, panics are not
            pass

    @rule(m=st.sampled_from(MUTATIONS), which=st.booleans())
    def mutate(self, m, which):
        self.call(lambda: m(self.rows if which else self.tuples))

    @rule(m=st.sampled_from(MUTATIONS), which=st.booleans())
    def sort_with_reentrant_key(self, m, which):
        target = self.rows if which else self.tuples
        self.call(lambda: target.sort(key=lambda r: (m(target), 0)[1]))

    @rule(m=st.sampled_from(MUTATIONS), which=st.booleans())
    def sort_with_reentrant_comparisons(self, m, which):
        target = self.rows if which else self.tuples
        self.call(lambda: target.sort(key=lambda r: Hostile(target, m)))

    @rule(
        m=st.sampled_from(MUTATIONS),
        method=st.sampled_from(["count", "index", "remove", "__contains__", "__eq__"]),
        which=st.booleans(),
    )
    def search_with_reentrant_probe(self, m, method, which):
        target = self.rows if which else self.tuples
        probe = Hostile(target, m)
        arg = [probe, probe] if method == "__eq__" else probe
        self.call(lambda: getattr(target, method)(arg))

    @rule(m=st.sampled_from(MUTATIONS), which=st.booleans())
    def index_with_reentrant_index(self, m, which):
        target = self.rows if which else self.tuples
        h = Hostile(target, m)
        self.call(lambda: target[h])
        self.call(lambda: target.pop(h))
        self.call(lambda: target.insert(h, {"a": 1}))
        self.call(lambda: target.__delitem__(h))

    @rule(m=st.sampled_from(MUTATIONS), which=st.booleans())
    def extend_with_reentrant_iterable(self, m, which):
        target = self.rows if which else self.tuples
        self.call(lambda: target.extend(Hostile(target, m)))
        self.call(lambda: target.append(Hostile(target, m)))
        self.call(lambda: target.__setitem__(slice(0, 2), Hostile(target, m)))

    @rule(m=st.sampled_from(MUTATIONS))
    def row_views_while_mutating(self, m):
        if not self.rows:
            return
        row = self.rows[len(self.rows) - 1]
        self.call(lambda: m(self.rows))
        for op in (
            lambda: row["a"],
            lambda: row.get("b"),
            lambda: dict(row),
            lambda: row.update(Hostile(self.rows, m)),
            lambda: row.__setitem__("a", Hostile(self.rows, m)),
            lambda: row.pop("c", None),
            lambda: list(row.items()),
            lambda: row == {"a": Hostile(self.rows, m)},
        ):
            self.call(op)

    @rule(m=st.sampled_from(MUTATIONS))
    def iterate_while_mutating(self, m):
        for target in (self.rows, self.tuples):

            def walk(target=target):
                for k, r in enumerate(target):
                    if k == 1:
                        m(target)
                    _ = r[0] if isinstance(r, tuple) else r.get("a")

            self.call(walk)

    @precondition(lambda self: len(self.rows) > 0)
    @rule(field=st.sampled_from(["a", "b", "c", "nope"]))
    def column_ops(self, field):
        for op in (
            lambda: self.rows.column(field),
            lambda: self.rows.column(field).sum(),
            lambda: list(self.rows.column(field)),
            lambda: self.rows.column(field)[-1],
            lambda: sorted(self.rows.column(field), key=str),
        ):
            self.call(op)

    @invariant()
    def still_usable(self):
        assert len(self.rows) == len(list(self.rows))
        assert len(self.tuples) == len(list(self.tuples))


NoPanics.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_no_panic_reaches_python = NoPanics.TestCase


@given(st.lists(st.integers(0, 3), max_size=4))
@settings(max_examples=30, deadline=None)
def test_operators_against_a_list_never_panic(ns):
    rows = memslim.DictList([{"a": n} for n in ns])
    plain = [{"a": n} for n in ns]
    for op in (operator.lt, operator.le, operator.gt, operator.ge):
        assert outcome(lambda op=op: op(rows, plain))[0] in ("ok", "raised")


@pytest.mark.parametrize(
    "change",
    [lambda s: s.clear(), lambda s: s.append(s[0]), lambda s: s.pop(0), lambda s: s.reverse()],
)
def test_a_sort_whose_key_changes_the_list_raises(change):
    def make_key(target):
        calls = []

        def key(item):
            calls.append(1)
            k = str(item)
            if len(calls) == 2:
                change(target)
            return k

        return key

    # A list hides its items during a sort (the key sees it empty); a DictList's rows
    # are views that the key must be able to read, so it cannot: it raises instead.
    for rows in (
        memslim.DictList([{"a": 3}, {"a": 1}, {"a": 2}]),
        memslim.TupleList([(3,), (1,), (2,)], fields=("a",)),
    ):
        with pytest.raises(ValueError, match="list modified during sort"):
            rows.sort(key=make_key(rows))


def test_a_sort_racing_an_append_in_another_thread_raises_value_error():
    import threading

    rows = memslim.DictList({"a": i % 7} for i in range(2000))
    started = threading.Event()

    def key(r):
        started.set()
        return r["a"]

    def appender():
        started.wait(5)
        rows.append({"a": -1})

    t = threading.Thread(target=appender)
    t.start()
    try:
        rows.sort(key=key)
    except ValueError as e:
        assert "list modified during sort" in str(e)
    t.join()
    assert len(rows) == 2001


def test_an_index_whose_index_method_empties_the_list_is_an_index_error():
    # The position is checked against the length after `__index__` ran (found by the
    # state machine above: it was read before, and the row then did not exist).
    for rows in (
        memslim.DictList([{"a": 1}, {"a": 2}]),
        memslim.TupleList([(1,), (2,)], fields=("a",)),
    ):

        class Empties:
            def __index__(self, rows=rows):
                rows.clear()
                return 1

        with pytest.raises(IndexError):
            rows[Empties()]
        assert len(rows) == 0
