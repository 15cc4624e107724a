"""TupleList rows made in batches, and sorts that the list changes under: the list of
tuples is the oracle."""

from __future__ import annotations

import threading
from collections import namedtuple

import pytest
from conftest import chunk_sizes, same
from hypothesis import given
from hypothesis import strategies as st
from memslim import TupleList

FIELDS = ("id", "name", "price", "flag", "extra")

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2),
)
tuples = st.lists(st.tuples(*[cells] * len(FIELDS)), max_size=150)


row_types = st.sampled_from([None, tuple])


def made(data, chunk_rows, row_type):
    """The TupleList of ``data``: namedtuple rows, or plain tuples if ``row_type``."""
    if row_type is None:
        return TupleList(data, FIELDS, chunk_rows=chunk_rows)
    return TupleList(data, FIELDS, chunk_rows=chunk_rows, row_type=row_type)


@given(tuples, chunk_sizes, row_types)
def test_iteration_matches_the_list_of_tuples(data, chunk_rows, row_type):
    tl = made(data, chunk_rows, row_type)
    got = list(tl)
    assert same([tuple(t) for t in got], data)
    assert all(type(t) is tl.row_type for t in got)
    assert same([tuple(tl[i]) for i in range(len(data))], data)
    assert same([tuple(t) for t in reversed(tl)], data[::-1])
    assert [t for t in tl if t[3]] == [t for t in data if t[3]]
    if row_type is tuple:
        assert tl.row_type is tuple
        assert same(got, data)


def test_plain_tuple_rows_are_tuples_everywhere():
    import copy
    import pickle

    data = [(i, f"n{i}", i / 4, i % 2 == 0, None) for i in range(300)]
    tl = TupleList(data, FIELDS, row_type=tuple)
    assert type(tl[5]) is tuple and tl[5] == data[5]
    for other in (
        tl[10:20],
        copy.copy(tl),
        pickle.loads(pickle.dumps(tl)),
        pickle.loads(pickle.dumps(tl, protocol=5)),
        tl.where("flag", "==", True),
    ):
        assert other.row_type is tuple
        assert all(type(t) is tuple for t in other)
    assert list(pickle.loads(pickle.dumps(tl))) == data
    assert list(tl.where("flag", "==", True)) == [t for t in data if t[3]]
    tl.sort(key=lambda t: -t[0])
    assert list(tl) == sorted(data, key=lambda t: -t[0])


def test_row_type_takes_tuple_or_a_namedtuple_with_the_lists_fields():
    Point = namedtuple("Point", "x y")
    tl = TupleList([(1, 2)], row_type=Point)  # fields from the namedtuple
    assert tl.fields == ("x", "y") and type(tl[0]) is Point and tl[0] == Point(1, 2)
    for bad in (list, dict, int, "tuple", namedtuple("Other", "a b c")):
        with pytest.raises(TypeError, match="row_type"):
            TupleList([(1, 2)], ("x", "y"), row_type=bad)


def test_from_arrow_takes_a_row_type_too():
    pa = pytest.importorskip("pyarrow")
    Point = namedtuple("Point", "x y")
    table = pa.table({"x": [1, 2], "y": ["a", None]})
    plain = TupleList.from_arrow(table, row_type=tuple)
    assert plain.row_type is tuple and list(plain) == [(1, "a"), (2, None)]
    assert all(type(t) is tuple for t in plain)
    named = TupleList.from_arrow(table, row_type=Point)
    assert list(named) == [Point(1, "a"), Point(2, None)] and type(named[0]) is Point
    for bad in (list, namedtuple("Other", "a b")):
        with pytest.raises(TypeError, match="row_type"):
            TupleList.from_arrow(table, row_type=bad)


def test_user_namedtuples_come_back_as_themselves():
    Point = namedtuple("Point", "x y")
    tl = TupleList([Point(i, -i) for i in range(200)])
    rows = list(tl)
    assert rows == [Point(i, -i) for i in range(200)]
    assert all(type(p) is Point for p in rows)


def test_iteration_sees_changes_made_while_iterating():
    data = [(i, i * 2) for i in range(300)]
    tl = TupleList(data, ("a", "b"))
    plain = list(data)
    seen_tl, seen_plain = [], []
    for seq, seen in ((tl, seen_tl), (plain, seen_plain)):
        for i, t in enumerate(seq):
            seen.append(tuple(t))
            if i == 3:
                seq[10] = (-10, -20)  # replaced ahead of the iterator
            if i == 20:
                del seq[30]
            if i == 40:
                seq.insert(50, (-1, -1))
            if i == 100:
                seq.append((999, 999))
            if i == 200:
                seq.sort(key=lambda t: -t[0])
    assert seen_tl == seen_plain


def test_sort_key_that_clears_the_list_raises_value_error():
    # A list hides its items during sort, so clearing it there changes nothing; a
    # TupleList cannot hide them, so the change makes the sort fail as a list's does
    # when a key appends (below).
    tl = TupleList([(i,) for i in range(5)], ("a",))
    with pytest.raises(ValueError, match="list modified during sort"):
        tl.sort(key=lambda t: tl.clear() or t[0])
    assert len(tl) == 0 and list(tl) == []


def test_sort_key_that_appends_raises_like_a_list():
    for make in (
        lambda: [(i,) for i in range(5)],
        lambda: TupleList([(i,) for i in range(5)], ("a",)),
    ):
        seq = make()
        with pytest.raises(ValueError, match="list modified during sort"):
            seq.sort(key=lambda t, seq=seq: seq.append((9,)) or t[0])


def test_a_sort_racing_an_append_raises_value_error_not_index_error():
    tl = TupleList([(i,) for i in range(2000)], ("a",))
    started = threading.Event()
    done = threading.Event()

    def appender():
        started.wait()
        while not done.is_set():
            tl.append((0,))

    t = threading.Thread(target=appender)
    t.start()
    outcomes = set()
    try:
        for _ in range(20):
            started.set()
            try:
                tl.sort(key=lambda r: -r[0])
                outcomes.add("sorted")
            except ValueError as e:
                assert str(e) == "list modified during sort"
                outcomes.add("modified")
    finally:
        done.set()
        t.join()
    assert outcomes <= {"sorted", "modified"}


@pytest.mark.parametrize("row_type", [None, tuple])
def test_rows_kept_by_the_caller_never_change(row_type):
    data = [(i, f"s{i % 7}", i / 3, [i] if i % 5 == 0 else None) for i in range(500)]
    tl = TupleList(data, ("a", "b", "c", "d"), row_type=row_type)
    kept = []
    for i, t in enumerate(tl):
        if i % 3 == 0:
            kept.append(t)
    assert [tuple(t) for t in kept] == data[::3]
    it = iter(tl)
    first, second, third = next(it), next(it), next(it)
    for _ in it:
        pass
    assert (tuple(first), tuple(second), tuple(third)) == (data[0], data[1], data[2])


@given(
    tuples,
    chunk_sizes,
    row_types,
    st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(["keep", "drop", "hash"]))),
)
def test_indexing_matches_the_list_whatever_the_caller_keeps(data, chunk_rows, row_type, picks):
    # `rows[i]` refills the row it made last once nothing else holds it: whatever the
    # caller keeps, hashes or lets go, every row reads as the list's tuple.
    if not data:
        return
    tl = made(data, chunk_rows, row_type)
    kept, want = [], []
    for k, what in picks:
        i = k % len(data)
        row = tl[i]
        assert type(row) is tl.row_type
        assert same(tuple(row), data[i])
        if what == "keep":
            kept.append(row)
            want.append(data[i])
        elif what == "hash":
            try:
                assert hash(row) == hash(tuple(row))
            except TypeError:  # a list among the values
                pass
    assert same([tuple(r) for r in kept], want)


@pytest.mark.parametrize("row_type", [None, tuple])
def test_refilled_rows_release_the_values_they_held(row_type):
    # Rows are refilled in place once the loop (or `rows[k]`) lets go of them: each
    # value a slot held is released exactly once, whatever path wrote the slot. The ints
    # below 8,192 and the strings of a small dictionary are objects the list shares, so
    # their reference counts show a release missed (growing) or made twice (shrinking).
    import sys

    data = [(i % 7 + 4000, "DE" if i % 2 else "FR", i + 0.5) for i in range(3000)]
    tl = TupleList(data, ("n", "country", "price"), row_type=row_type)
    first = tl[0]
    shared = [first[0], first[1]]
    del first
    before = [sys.getrefcount(v) for v in shared]
    for _ in range(3):
        for t in tl:
            pass
        for k in range(0, len(tl), 7):
            assert tl[k][0] == data[k][0]
        assert [tuple(t) for t in tl.iter_tuples()][-1] == data[-1]
    for t in tl:
        pass
    assert [sys.getrefcount(v) for v in shared] == before
    assert [tuple(t) for t in tl] == data


class Thing:
    pass


@pytest.mark.parametrize("row_type", [None, tuple])
def test_indexing_lets_go_of_a_row_holding_objects_when_the_caller_does(row_type):
    import weakref

    tl = TupleList([(1, Thing()), (2, 2.5)], ("n", "v"), row_type=row_type)
    row = tl[0]
    alive = weakref.ref(row[1])
    del row
    # No collection needed: nothing but the row held the object.
    assert alive() is None
    assert tl[1][1] == 2.5
    assert type(tl[0][1]) is Thing


@pytest.mark.parametrize("row_type", [None, tuple])
def test_a_row_hashes_as_its_values_after_the_loop_hashed_earlier_rows(row_type):
    # A loop body that hashes its row (`t in seen`) and lets it go. From CPython 3.14 a
    # tuple caches its hash, so a row refilled in place would keep the old row's hash
    # and set and dict lookups would silently go wrong: rows are then always new.
    data = [(i, f"s{i % 7}") for i in range(300)]
    tl = TupleList(data, ("a", "b"), row_type=row_type)
    wanted = set(data[::7])
    found = [t for t in tl if t in wanted]  # hashes every row, keeps some
    assert [tuple(t) for t in found] == data[::7]
    assert all(hash(t) == hash(tuple(t)) for t in tl)


@pytest.mark.parametrize("row_type", [None, tuple])
def test_rows_holding_containers_stay_visible_to_the_cycle_collector(row_type):
    import gc

    tl = TupleList(
        [(1, [1]), (2, "x"), (3, {"k": 1}), (4, None)] * 3, ("n", "v"), row_type=row_type
    )
    for t in tl:
        # A row that holds a container can take part in a cycle: it must be tracked.
        assert gc.is_tracked(t) == isinstance(t[1], (list, dict))
    rows = list(tl)
    assert [gc.is_tracked(t) for t in rows] == [isinstance(t[1], (list, dict)) for t in rows]
    # A cycle through a row is collected.
    import weakref

    class Marker:
        pass

    tl2 = TupleList([(0, [])], ("n", "v"))
    row, marker = tl2[0], Marker()
    alive = weakref.ref(marker)
    row[1].extend([row, marker])
    del row, marker
    gc.collect()
    assert alive() is None


# ----- rows read ahead in batches: writes made while iterating ---------------------------

# What a loop body may do to the list it iterates, as (name, position, value) steps.
edits = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 400), st.tuples(*[cells] * len(FIELDS))),
    st.tuples(st.just("del"), st.integers(0, 400), st.none()),
    st.tuples(st.just("insert"), st.integers(0, 400), st.tuples(*[cells] * len(FIELDS))),
    st.tuples(st.just("append"), st.just(0), st.tuples(*[cells] * len(FIELDS))),
    st.tuples(st.just("slice"), st.integers(0, 400), st.tuples(*[cells] * len(FIELDS))),
    st.tuples(st.just("reverse"), st.just(0), st.none()),
    st.tuples(st.just("sort"), st.just(0), st.none()),
    st.tuples(st.just("clear"), st.just(0), st.none()),
)


def apply_edit(seq, edit) -> None:
    name, at, row = edit
    n = len(seq)
    if name == "set" and n:
        seq[at % n] = row
    elif name == "del" and n:
        del seq[at % n]
    elif name == "insert":
        seq.insert(at % (n + 1), row)
    elif name == "append":
        seq.append(row)
    elif name == "slice":
        seq[at % (n + 1) : at % (n + 1) + 2] = [row, row, row]
    elif name == "reverse":
        seq.reverse()
    elif name == "sort":
        seq.sort(key=lambda t: repr(t[0]))
    elif name == "clear" and at == 0:
        seq.clear()


@given(
    st.lists(st.tuples(*[cells] * len(FIELDS)), max_size=300),
    chunk_sizes,
    st.lists(st.tuples(st.integers(0, 320), edits), max_size=6),
    row_types,
)
def test_writes_while_iterating_show_as_they_do_in_a_list(data, chunk_rows, plan, row_type):
    tl = made(data, chunk_rows, row_type)
    plain = list(data)
    at = {}
    for step, edit in plan:
        at.setdefault(step, []).append(edit)
    seen = []
    for seq in (tl, plain):
        out = []
        for i, t in enumerate(seq):
            out.append(tuple(t))
            for edit in at.get(i, ()):
                apply_edit(seq, edit)
        seen.append(out)
    assert same(seen[0], seen[1])
    assert same([tuple(t) for t in tl], plain)


@given(st.lists(st.tuples(*[cells] * len(FIELDS)), max_size=200), chunk_sizes, st.data())
def test_interleaved_iterators_and_partial_reads_match_the_list(data, chunk_rows, draw):
    tl = TupleList(data, FIELDS, chunk_rows=chunk_rows)
    its = [(iter(tl), iter(data)) for _ in range(3)]
    for _ in range(draw.draw(st.integers(0, 500))):
        a, b = its[draw.draw(st.integers(0, 2))]
        assert same(tuple(x) if (x := next(a, None)) is not None else None, next(b, None))
        if draw.draw(st.integers(0, 9)) == 0:
            row = draw.draw(st.tuples(*[cells] * len(FIELDS)))
            n = len(data)
            if n:
                k = draw.draw(st.integers(0, n - 1))
                tl[k] = row
                data[k] = row
    for a, b in its:
        assert same([tuple(t) for t in a], list(b))


def test_an_exhausted_iterator_stays_exhausted_like_a_list_iterator():
    for seq in ([(1, 2)], TupleList([(1, 2)], ("a", "b"))):
        it = iter(seq)
        assert [tuple(t) for t in it] == [(1, 2)]
        seq.append((3, 4))
        assert list(it) == []


def test_a_view_or_copy_written_while_iterating_is_seen_only_where_it_should_be():
    data = [(i, str(i)) for i in range(200)]
    tl = TupleList(data, ("a", "b"))
    view = tl[:]  # shares the store until written
    seen = []
    for i, t in enumerate(tl):
        seen.append(tuple(t))
        if i == 5:
            view[10] = (-1, "x")  # another list: not seen by this iteration
            tl[11] = (-2, "y")  # this list, ahead of the iterator: seen
    expected = list(data)
    expected[11] = (-2, "y")
    assert seen == expected
    assert tuple(view[10]) == (-1, "x")


ARMED = {"on": False}


def _explode():
    if ARMED["on"]:
        raise RuntimeError("cannot load this one")
    return Bomb()


class Bomb:
    def __reduce__(self):
        return (_explode, ())


def test_a_row_that_fails_to_load_fails_when_reached_after_the_rows_before_it():
    data = [(i, None) for i in range(100)]
    data[70] = (70, Bomb())
    tl = TupleList(data, ("a", "b"))
    ARMED["on"] = True
    try:
        got = []
        with pytest.raises(RuntimeError, match="cannot load"):
            for t in tl:
                got.append(tuple(t))
        assert got == data[:70]
    finally:
        ARMED["on"] = False


@pytest.mark.parametrize("how", ["iter_tuples", "iter_dicts", "index"])
def test_plain_copies_fail_at_the_record_that_fails_after_the_ones_before_it(how):
    from memslim import DictList

    data = [(i, None) for i in range(100)]
    data[70] = (70, Bomb())
    if how == "iter_dicts":
        rows = DictList([{"a": a, "b": b} for a, b in data])
        it, want = rows.iter_dicts(), [{"a": i, "b": None} for i in range(70)]
    else:
        tl = TupleList(data, ("a", "b"))
        want = data[:70]
        it = tl.iter_tuples() if how == "iter_tuples" else (tl[i] for i in range(100))
    ARMED["on"] = True
    try:
        got = []
        with pytest.raises(RuntimeError, match="cannot load"):
            for t in it:
                got.append(t if how == "iter_dicts" else tuple(t))
        assert got == want
        if how != "index":
            # The failing record raises again: nothing before it comes out twice.
            with pytest.raises(RuntimeError, match="cannot load"):
                next(it)
    finally:
        ARMED["on"] = False


class Peeker:
    """Unpickled while rows are made ahead: looks at every tuple the collector can
    reach, as any Python code run then could."""

    def __reduce__(self):
        return (_peek, ())


def _peek():
    import gc

    if ARMED["on"]:
        for o in gc.get_objects():
            if isinstance(o, tuple) and len(o) == 3:
                for _ in o:  # a row with an empty slot would crash here
                    pass
    return "peeked"


@pytest.mark.parametrize("row_type", [None, tuple])
def test_code_run_while_rows_are_made_never_reaches_a_half_made_row(row_type):
    data = [(i, f"s{i}", Peeker() if i % 9 == 4 else None) for i in range(200)]
    tl = TupleList(data, ("a", "b", "c"), row_type=row_type)
    ARMED["on"] = True
    try:
        got = [tuple(t) for t in tl]
    finally:
        ARMED["on"] = False
    assert got == [(i, f"s{i}", "peeked" if i % 9 == 4 else None) for i in range(200)]


def test_length_hint_counts_the_rows_left_like_a_list_iterator():
    data = [(i, -i) for i in range(150)]
    tl = TupleList(data, ("a", "b"))
    it, lit = iter(tl), iter(data)
    for _ in range(70):
        next(it), next(lit)
    assert it.__length_hint__() == lit.__length_hint__() == 80
    tl.append((1, 1))
    data.append((1, 1))
    assert it.__length_hint__() == lit.__length_hint__() == 81
    assert len(list(it)) == 81
    assert it.__length_hint__() == 0


@given(
    st.lists(st.tuples(*[cells] * len(FIELDS)), max_size=150),
    chunk_sizes,
    st.integers(0, len(FIELDS) - 1),
    cells,
)
def test_where_equal_selects_what_a_comprehension_selects(data, chunk_rows, j, value):
    tl = TupleList(data, FIELDS, chunk_rows=chunk_rows)
    got = tl.where(FIELDS[j], "==", value)
    assert type(got) is TupleList and got.fields == FIELDS
    assert same([tuple(t) for t in got], [t for t in data if t[j] == value])


# A dictionary-encoded field with more distinct strings than the list keeps `str`
# objects for (65,536; the dictionary is also too large to stay in cache, so rows read
# in a batch ask for its entries ahead), beside a small one, a field mixing types,
# nulls, big ints, -0.0 and NaN: every value goes into its row slot by the typed paths
# of the row maker.
BIG_FIELDS = ("user", "country", "n", "price", "note", "mixed")
BIG_ROWS = 280_000


def _big_row(i):
    user = None if i % 97 == 0 else f"user{(i * 7_919) % 70_001:06d}"
    price = -0.0 if i % 13 == 0 else float("nan") if i % 17 == 0 else i / 3
    n = 2**70 + i if i % 11 == 0 else i * 3 - 2**40 if i % 2 else i % 300
    mixed = (i, "x", 2.5, None, b"\0", True, [i])[i % 7]
    return (user, ("DE", "FR", "naïve", "")[i % 4], n, price, "note" if i % 5 == 0 else None, mixed)


@pytest.fixture(scope="module")
def big():
    data = [_big_row(i) for i in range(BIG_ROWS)]
    lists = {rt: TupleList(data, BIG_FIELDS, row_type=rt) for rt in (None, tuple)}
    assert len({r[0] for r in data}) > 65_536
    assert lists[None].storage_info()["user"].startswith("str:dict")
    return data, lists


@given(
    st.sampled_from([None, tuple]),
    st.lists(st.integers(min_value=0, max_value=BIG_ROWS - 1), max_size=40),
    st.integers(min_value=0, max_value=BIG_ROWS - 1),
    st.booleans(),
)
def test_rows_of_a_large_dictionary_match_the_list_of_tuples(big, row_type, picks, start, keep):
    data, lists = big
    tl = lists[row_type]
    kept = []
    for i in picks:
        row = tl[i]
        assert same(tuple(row), data[i])
        if keep:
            kept.append((row, i))
    it = iter(tl[start : start + 300])
    for k, row in enumerate(it):
        assert same(tuple(row), data[start + k])
        if keep and k % 3 == 0:
            kept.append((row, start + k))
    for row, i in kept:
        assert type(row) is tl.row_type
        assert same(tuple(row), data[i])


def test_rows_of_a_large_dictionary_share_no_str_with_later_rows(big):
    # Rows kept across batches keep their own values while later batches refill the rows
    # the loop let go of.
    data, lists = big
    kept = []
    for k, row in enumerate(lists[None]):
        if k % 1_000 == 0:
            kept.append(row)
        if k == 20_000:
            break
    assert same([tuple(r) for r in kept], data[0:20_001:1_000])
