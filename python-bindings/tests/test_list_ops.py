"""The operators and methods of ``list`` and ``dict`` on DictList, TupleList and Row,
with plain lists of dicts and tuples as the oracle."""

from __future__ import annotations

import collections
import collections.abc
import copy
import math
import operator
import types

import memslim
import pytest
from conftest import record_lists, same
from hypothesis import assume, given
from hypothesis import strategies as st
from memslim import DictList, DocList, Row, TupleList

# Methods a list of records has that these types deliberately lack (docs/porting.md).
LEFT_OUT: set[str] = set()


def test_every_list_and_dict_name_is_there():
    for cls in (DictList, TupleList):
        assert sorted(set(dir(list)) - set(dir(cls)) - LEFT_OUT) == []
    assert sorted(set(dir(dict)) - set(dir(Row)) - LEFT_OUT) == []
    for cls in (DictList, TupleList, Row):
        assert cls.__hash__ is None  # unhashable, as list and dict


def outcome(f, *args):
    try:
        return ("ok", f(*args))
    except TypeError as e:
        return ("raise", TypeError, str(e).replace("Row", "dict"))


counts = st.integers(-2, 3)


@given(data=record_lists, n=counts)
def test_repeat(data, n):
    rows = DictList(data)
    assert same((rows * n).to_list(), data * n)
    assert same((n * rows).to_list(), n * data)
    assert type(rows * n) is DictList
    before = rows
    rows *= n
    assert rows is before
    assert same(rows.to_list(), data * n)


def test_repeat_shares_records_as_a_list_does():
    rows, plain = DictList([{"a": 1}]), [{"a": 1}]
    twice, ptwice = rows * 2, plain * 2
    twice[0]["a"] = 5
    ptwice[0]["a"] = 5
    assert rows.to_list() == plain == [{"a": 5}]
    assert twice.to_list() == ptwice == [{"a": 5}, {"a": 5}]


def test_repeat_rejects_non_ints():
    rows = DictList([{"a": 1}])
    with pytest.raises(TypeError):
        rows * 1.5
    with pytest.raises(TypeError):
        rows *= "2"
    assert rows.to_list() == [{"a": 1}]


def test_a_repeat_count_past_the_index_size_overflows_as_a_lists_does():
    for rows in (DictList([{"a": 1}]), TupleList([(1,)], ("a",)), DocList([{"a": 1}]), [1]):
        for f in (lambda r: r * 2**63, lambda r: 2**63 * r, lambda r: r * -(2**63 + 1)):
            with pytest.raises(OverflowError):
                f(rows)
        with pytest.raises(OverflowError):
            rows *= 2**63
        assert len(rows) == 1


@given(a=record_lists, b=record_lists)
def test_concatenation_both_ways(a, b):
    rows = DictList(b)
    left = a + rows
    assert type(left) is DictList
    assert same(left.to_list(), a + b)
    right = rows + a
    assert same(right.to_list(), b + a)
    rows += a
    assert same(rows.to_list(), b + a)


def test_list_plus_tuplelist_and_errors():
    t = TupleList([(1, "a")], fields=("n", "s"))
    out = [(0, "z")] + t
    assert type(out) is TupleList
    assert [tuple(x) for x in out] == [(0, "z"), (1, "a")]
    with pytest.raises(TypeError):
        (1,) + DictList([])
    with pytest.raises(TypeError):
        [1] + DictList([{"a": 1}])


ops = st.sampled_from([operator.lt, operator.le, operator.gt, operator.ge])


def holds_nan(v) -> bool:
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, dict):
        return any(holds_nan(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(holds_nan(x) for x in v)
    return False


@given(a=record_lists, b=record_lists, op=ops)
def test_ordering_as_lists_of_dicts(a, b, op):
    # A NaN read back from storage is a new object: the oracle's identity shortcut
    # (`x is y` before `x == y`) cannot hold for it (docs/porting.md says so).
    assume(not holds_nan(a) and not holds_nan(b))
    assert outcome(op, DictList(a), b) == outcome(op, a, b)
    assert outcome(op, DictList(a), DictList(b)) == outcome(op, a, b)


tuple_rows = st.lists(st.tuples(st.integers(-3, 3), st.text(max_size=2)), max_size=5)


@given(a=tuple_rows, b=tuple_rows, op=ops)
def test_ordering_as_lists_of_tuples(a, b, op):
    ta = TupleList(a, fields=("n", "s"))
    tb = TupleList(b, fields=("n", "s"))
    assert op(ta, tb) == op(a, b)
    assert op(ta, b) == op(a, b)


# Values of records that may hold NaN: a new NaN object each time, so that two records
# holding NaN are two dicts (or tuples) that are not equal.
nan_or_int = st.one_of(st.integers(-2, 2), st.builds(float, st.just("nan")))
nan_dicts = st.lists(st.dictionaries(st.sampled_from("ab"), nan_or_int, max_size=2), max_size=5)
nan_tuples = st.lists(st.tuples(nan_or_int, st.integers(0, 1)), max_size=5)
all_ops = st.sampled_from(
    [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
)


def verdict(op, x, y):
    """`op(x, y)`, or the class of what it raises."""
    try:
        return op(x, y)
    except TypeError as e:
        return type(e)


@given(a=nan_dicts, i=st.integers(-6, 6), j=st.integers(-6, 6), op=all_ops)
def test_a_dictlist_compares_with_its_slices_copies_and_rows_as_a_list(a, i, j, op):
    """The same record is compared by identity first, as a list compares the same dict:
    a record holding NaN equals itself, in ==, != and the orderings' search for the
    first pair that differs."""
    rows = DictList(a)
    for mine, theirs in [
        (rows, a),
        (rows[i:j], a[i:j]),
        (rows[j:i:-1], a[j:i:-1]),
        (rows[::2], a[::2]),
        (rows.copy(), a.copy()),
        (list(rows), list(a)),
        (sorted(rows, key=lambda r: len(r)), sorted(a, key=lambda d: len(d))),
    ]:
        assert verdict(op, rows, mine) == verdict(op, a, theirs)
        assert verdict(op, mine, rows) == verdict(op, theirs, a)


@given(a=nan_tuples, i=st.integers(-6, 6), j=st.integers(-6, 6), op=all_ops)
def test_a_tuplelist_compares_with_its_slices_and_copies_as_a_list(a, i, j, op):
    """A slice or copy of a TupleList shares its stored records (copy-on-write): they
    are the same records, as a list's slice holds the same tuples."""
    tl = TupleList(a, fields=("x", "n"))
    for mine, theirs in [
        (tl, a),
        (tl[i:j], a[i:j]),
        (tl.copy(), a.copy()),
        (copy.copy(tl), copy.copy(a)),
        (copy.deepcopy(tl), copy.deepcopy(a)),  # a float's deepcopy is the float itself
    ]:
        assert op(tl, mine) == op(a, theirs)
        assert op(mine, tl) == op(theirs, a)


def test_a_record_holding_nan_is_found_by_its_own_row():
    nan = float("nan")
    rows, plain = (
        DictList([{"a": 1.0, "x": nan}, {"a": 2.0, "x": 0.0}]),
        [
            {"a": 1.0, "x": nan},
            {"a": 2.0, "x": 0.0},
        ],
    )
    row, d = rows[0], plain[0]
    assert (row in rows, rows.count(row), rows.index(row)) == (True, 1, 0)
    assert row == rows[0]
    assert not row != rows[0]  # noqa: SIM202 - __ne__ is what is tested
    assert rows == list(rows) == sorted(rows, key=lambda r: r["a"])
    # Another record with the same values is another record: a NaN equals only itself.
    assert {"a": 1.0, "x": nan} not in rows and rows[:1] != DictList(plain[:1])
    for r in list(rows):
        rows.remove(r)
    for d in list(plain):
        plain.remove(d)
    assert len(rows) == len(plain) == 0
    # A TupleList's rows `tl[i]` are known as its records while nothing writes the list.
    tl = TupleList([(nan, 1), (2.0, 2)], fields=("x", "n"))
    t = tl[0]
    assert (t in tl, tl.count(t), tl.index(t)) == (True, 1, 0)
    assert tl == [t, tl[1]] and tl <= [t, tl[1]]
    tl.remove(t)
    assert len(tl) == 1
    assert (nan, 1) not in tl


def test_a_row_class_with_its_own_eq_decides_equality():
    """As a list of namedtuples whose class defines `__eq__`: that `__eq__` compares
    them, with plain tuples too."""

    class Key(collections.namedtuple("Key", "id name")):
        __slots__ = ()

        def __eq__(self, other):
            return isinstance(other, tuple) and len(other) == 2 and self.id == other[0]

        def __ne__(self, other):
            return not self == other

        __hash__ = tuple.__hash__

    plain = [Key(1, "ada"), Key(2, "bob")]
    tl = TupleList(plain)
    probe = (1, "ADA")
    assert (probe in tl, tl.count(probe), tl.index(probe)) == (True, 1, 0)
    assert tl == [(1, "ADA"), (2, "BOB")] == plain
    assert tl == TupleList([(1, "x"), (2, "y")], fields=("id", "name"))
    assert tl != TupleList([(1, "x"), (3, "y")], fields=("id", "name"))
    assert [1, "ada"] not in tl  # Key's __eq__: a list is no tuple
    tl.remove((2, "anything"))
    assert len(tl) == 1


def test_an_empty_tuplelist_equals_an_empty_dictlist_as_empty_lists_do():
    empty_t, empty_d = TupleList([], fields=("a",)), DictList([])
    assert empty_t == empty_d and empty_d == empty_t
    assert not empty_t != empty_d  # noqa: SIM202 - __ne__ is what is tested
    one_t, one_d = TupleList([(1,)], fields=("a",)), DictList([{"a": 1}])
    assert one_t != one_d and one_d != one_t and one_t != empty_d and empty_t != one_d
    # Ordered as lists: by length when one is empty; a tuple and a dict do not order.
    assert empty_t < one_d and one_d > empty_t and empty_t <= empty_d
    with pytest.raises(TypeError):
        one_t < one_d  # noqa: B015


def test_ordering_with_other_types_raises():
    with pytest.raises(TypeError):
        DictList([]) < 3  # noqa: B015


def test_class_getitem():
    assert isinstance(DictList[dict], types.GenericAlias)
    assert DictList[dict].__origin__ is DictList
    assert TupleList[tuple].__origin__ is TupleList
    assert Row[str, int].__args__ == (str, int)


@given(
    rec=st.dictionaries(st.sampled_from("abcd"), st.integers(), max_size=4),
    other=st.dictionaries(st.sampled_from("cdef"), st.integers(), max_size=4),
)
def test_row_or_operators(rec, other):
    rows = DictList([rec])
    row = rows[0]
    got = row | other
    assert type(got) is dict
    assert same(got, rec | other)
    got = other | row
    assert type(got) is dict
    assert same(got, other | rec)
    assert same(row | rows[0], rec | rec)
    expected = dict(rec)
    expected |= other
    row |= other
    assert same(rows[0].to_dict(), expected)
    assert list(reversed(row)) == list(reversed(expected))


def test_row_ior_takes_what_update_takes_and_or_rejects_non_mappings():
    rows = DictList([{"a": 1}])
    r = rows[0]
    r |= [("b", 2)]
    assert rows[0] == {"a": 1, "b": 2}
    with pytest.raises(TypeError):
        r | [("c", 3)]
    with pytest.raises(TypeError):
        [("c", 3)] | r


def test_row_fromkeys_is_dict_fromkeys():
    assert Row.fromkeys("ab") == {"a": None, "b": None}
    assert type(Row.fromkeys("ab", 1)) is dict
    assert Row.fromkeys(["x"], 1) == {"x": 1}


@pytest.mark.parametrize("n", [2, 3, 8, 9, 20])
def test_extend_with_a_bad_record_changes_nothing_short_or_long(n):
    """``extend`` is all or none whether it appends a few records one by one or many in
    bulk: a bad record at any position takes back the ones before it, new fields
    included, and the list and its views read as before."""
    from conftest import snapshot

    for bad_at in range(n):
        rows = DictList([{"a": 1, "b": "x"}, {"a": 2}])
        view, before = rows[1], snapshot(rows)
        batch = [{"a": i, "new": f"v{i}"} for i in range(n)]
        batch[bad_at] = {"a": 1, 3: "a key that is not a str"}
        with pytest.raises(TypeError):
            rows.extend(batch)
        assert snapshot(rows) == before and dict(view) == {"a": 2}, (n, bad_at)
        rows.extend(batch[:bad_at])
        assert [r.get("new") for r in rows[2:]] == [f"v{i}" for i in range(bad_at)]
    tuples = TupleList([(1, "x")], ("a", "b"))
    before = snapshot(tuples)
    for bad_at in range(n):
        batch = [(i, "y") for i in range(n)]
        batch[bad_at] = (1, 2, 3)
        with pytest.raises((TypeError, ValueError)):
            tuples.extend(batch)
        assert snapshot(tuples) == before, (n, bad_at)


# ----- found by a long adversarial run (stop 42) -----------------------------------------


@pytest.mark.parametrize("shared", [False, True])
def test_a_repeat_too_large_to_exist_fails_at_once_and_changes_nothing(shared: bool) -> None:
    """`rows *= n` for an `n` no list could hold raises (a list: MemoryError) and leaves
    the records as they were; `rows * n` raises at once instead of copying until memory
    runs out (which aborted the interpreter)."""
    for rows, want in (
        (DictList([{"a": i} for i in range(4)]), [{"a": i} for i in range(4)]),
        (TupleList([(i,) for i in range(4)], ["a"]), [(i,) for i in range(4)]),
    ):
        if shared:
            rows[0] = rows[1]
            want[0] = want[1]
        for n in (2**31, 2**40):
            with pytest.raises((MemoryError, IndexError)):
                rows *= n
            assert [tuple(r) if isinstance(r, tuple) else dict(r) for r in rows] == want
            with pytest.raises((MemoryError, IndexError)):
                rows * n
        assert len(rows * 3) == 12
    # Few enough records to be counted, too many bytes to be had: copying would run
    # out of memory part way. (`big * n` copies nothing: it holds the same records `n`
    # times, as `[t] * n` does.)
    big = TupleList([(str(i) * 2**20,) for i in range(4)], ["s"])
    with pytest.raises(MemoryError):
        big *= 2**22
    assert [r[0][:1] for r in big] == ["0", "1", "2", "3"]


def test_sort_takes_an_int_for_reverse() -> None:
    for rows in (
        DictList([{"a": i} for i in range(3)]),
        TupleList([(i,) for i in range(3)], ["a"]),
    ):
        rows.sort(key=lambda r: r[0] if isinstance(r, tuple) else r["a"], reverse=1)
        assert [r[0] if isinstance(r, tuple) else r["a"] for r in rows] == [2, 1, 0]
        with pytest.raises(TypeError):
            rows.sort(reverse="yes")


def test_iterators_stay_ended() -> None:
    """A list's iterator that has ended stays ended when the list grows, and its
    reverse iterator ends when the list shrinks below its position."""
    plain = [{"a": i} for i in range(8)]
    rows = DictList(plain)
    for seq in (plain, rows):
        it = iter(seq)
        assert len(list(it)) == 8
        seq.append({"a": 8})
        assert list(it) == []
        del seq[8:]
    tuples = TupleList([(i,) for i in range(8)], ["a"])
    for seq in (plain, rows, tuples):
        back = reversed(seq)
        next(back)
        next(back)
        del seq[5:]
        assert list(back) == [], type(seq)
        seq.extend(list(seq)[:3])
        assert list(back) == []


def test_a_tuple_record_equals_no_list() -> None:
    for row_type in (None, tuple):
        rows = TupleList([(1, "a"), (2, "b")], ["n", "s"], row_type=row_type)
        assert rows != [[1, "a"], [2, "b"]]
        assert rows == [(1, "a"), (2, "b")]
        assert rows.count([2, "b"]) == 0
        assert [2, "b"] not in rows
        assert (2, "b") in rows
        with pytest.raises(ValueError):
            rows.index([2, "b"])
        with pytest.raises(ValueError):
            rows.remove([2, "b"])
        assert len(rows) == 2


def test_the_other_sequences_iterators_stay_ended(tmp_path) -> None:
    from memslim import DocList, NumberFile

    records = DictList.open(str(tmp_path / "f.msl"))
    records.extend([{"a": 1}])
    numbers = NumberFile(str(tmp_path / "n.bin"), "int64")
    numbers.extend([1])
    for seq, item in ((DocList([1]), 2), (records, {"a": 2}), (numbers, 2)):
        it = iter(seq)
        assert len(list(it)) == 1
        seq.append(item)
        assert list(it) == [], type(seq)
        assert len(list(iter(seq))) == 2


class _Unstorable:
    def __reduce__(self):
        raise TypeError("cannot pickle")


def test_a_row_update_that_raises_writes_nothing() -> None:
    """Each key and value is checked before the first is written, against the declared
    schema too: the record and the list's fields stay as they were, as an append that
    raises leaves the list."""
    updates = (
        lambda r: r.update({"z": 1, "a": _Unstorable()}),
        lambda r: r.update(z=1, a=_Unstorable()),
        lambda r: r.__ior__({"z": 1, "a": _Unstorable()}),
        lambda r: r.update({"z": 1, 5: 2}),
    )
    for update in updates:
        rows = DictList([{"a": 1}])
        with pytest.raises(TypeError):
            update(rows[0])
        assert rows.to_list() == [{"a": 1}]
        assert rows.columns == ["a"]
    rows = DictList([{"a": 1}])
    rows[0].update({"z": 2}, a=3)
    assert rows.to_list() == [{"a": 3, "z": 2}]
    schema = {"a": "int64", "b": "str"}
    refused = (
        lambda r: r.update({"b": "y", "a": "bad"}),
        lambda r: r.update([("b", "y")], a=2.5),
        lambda r: r.__ior__({"b": "y", "a": "bad"}),
        lambda r: r.update({"b": "y", "z": 1}),
    )
    for update in refused:
        rows = DictList([{"a": 1, "b": "x"}], schema=schema)
        with pytest.raises(TypeError):
            update(rows[0])
        assert rows.to_list() == [{"a": 1, "b": "x"}]


def test_a_row_update_gives_a_repeated_key_its_last_value_in_its_first_place() -> None:
    for rows in (DictList([{"a": 1}]), [{"a": 1}]):
        rows[0].update([("z", 1), ("a", 2), ("z", 3)], y=4)
        assert list(rows[0].items()) == [("a", 2), ("z", 3), ("y", 4)]
    rows = DictList([{"a": 1, "b": "x"}], schema={"a": "int64", "b": "str"})
    rows[0].update([("b", 5), ("b", "y")], a=2)
    assert rows.to_list() == [{"a": 2, "b": "y"}]


def test_index_bounds_beyond_the_platform_clamp_as_a_lists_do(tmp_path) -> None:
    from memslim import NumberFile

    plain = [{"a": 1}, {"a": 2}]
    numbers = NumberFile(str(tmp_path / "n.bin"), "int64")
    numbers.extend([1, 2])
    file = DictList.open(str(tmp_path / "f.msl"))
    file.extend(plain)
    rows = DictList(plain)
    cases = [(plain, {"a": 2}), (rows, {"a": 2}), (rows.column("a"), 2), (numbers, 2)]
    cases += [(file, {"a": 2}), (file[0:2], {"a": 2})]
    for seq, value in cases:
        assert seq.index(value, 0, 2**80) == 1, type(seq)
        assert seq.index(value, -(2**80)) == 1, type(seq)
        with pytest.raises(ValueError):
            seq.index(value, 2**80)
        with pytest.raises(TypeError):
            seq.index(value, 1.0)


def test_an_index_too_large_for_the_platform_is_an_index_error_as_a_lists_is() -> None:
    """`rows[2**70]` read, written or deleted raises what a list raises for each."""
    cases = [([{"a": 1}], {"a": 2}), (DictList([{"a": 1}]), {"a": 2})]
    cases.append((TupleList([(1,)], fields=("a",)), (2,)))
    for seq, value in cases:
        for i in (2**70, -(2**70)):
            with pytest.raises(IndexError):
                seq[i]
            with pytest.raises(IndexError):
                seq[i] = value
            with pytest.raises(IndexError):
                del seq[i]
        assert len(seq) == 1, type(seq)


def test_a_dictlist_and_a_doclist_of_the_same_records_are_equal():
    """Both stand in for lists: equal when the lists they stand for are, both ways."""
    data = [{"a": 1, "b": [1, 2]}, {"a": None}]
    d, doc = DictList(data), DocList(data)
    assert d == doc and doc == d
    assert (d != doc) is False and (doc != d) is False
    other = DocList([{"a": 1, "b": [1, 2]}, {"a": 2}])
    assert d != other and other != d
    assert (d == other) is False
    assert d != DocList(data[:1])
    t = TupleList([(1, 2)], ["a", "b"])
    assert t == DocList([(1, 2)]) and t != DocList([(2, 1)])


def test_doclist_and_its_list_views_take_index_bounds_as_list_does():
    data = [{"a": 1}, {"a": 2}, {"a": 1}, {"a": 3}]
    doc = DocList(data)
    nested = DocList([{"xs": [5, 6, 5, 7]}])[0]["xs"]
    for ours, plain in ((doc, data), (nested, [5, 6, 5, 7])):
        probe = plain[0]
        for bounds in ((), (1,), (1, 3), (-2,), (0, -2), (10,), (-(2**70), 2**70), (3, 1)):
            try:
                want = plain.index(probe, *bounds)
            except ValueError:
                with pytest.raises(ValueError):
                    ours.index(probe, *bounds)
            else:
                assert ours.index(probe, *bounds) == want, bounds
        with pytest.raises(TypeError):
            ours.index(probe, "x")
        with pytest.raises(TypeError):
            ours.index(probe, 0, 1, 2)


@given(
    n=st.integers(0, 40),
    steps=st.lists(st.sampled_from(["next", "append", "pop", "clear"]), max_size=60),
    kind=st.sampled_from(["dicts", "tuples", "reversed dicts", "reversed tuples", "docs"]),
)
def test_iterators_hint_the_items_left_as_a_lists_do(n, steps, kind):
    make = {
        "dicts": lambda i: {"a": i},
        "tuples": lambda i: (i,),
        "docs": lambda i: {"a": [i]},
    }[kind.removeprefix("reversed ")]
    plain = [make(i) for i in range(n)]
    if kind.endswith("dicts"):
        ours = DictList(plain)
    elif kind.endswith("tuples"):
        ours = TupleList(plain, ("a",))
    else:
        ours = DocList(plain)
    if kind.startswith("reversed"):
        it, lit = reversed(ours), reversed(plain)
    else:
        it, lit = iter(ours), iter(plain)
    for step in steps:
        if step == "next":
            assert next(it, "end") == next(lit, "end")
        elif step == "append":
            ours.append(make(len(plain)))
            plain.append(make(len(plain)))
        elif step == "pop" and plain:
            del ours[-1]  # DocList has del, not pop()
            del plain[-1]
        elif step == "clear":
            del ours[:]
            del plain[:]
        assert operator.length_hint(it) == operator.length_hint(lit), step


def test_column_and_record_file_iterators_hint_what_is_left(tmp_path):
    rows = DictList({"a": i} for i in range(30))
    rows.save(tmp_path / "f.msl")
    with DictList.open(tmp_path / "f.msl") as f:
        made = [
            (lambda: iter(rows.column("a")), 30),
            (lambda: iter(f), 30),
            (lambda: reversed(f), 30),
            (lambda: iter(f.column("a")), 30),
            (lambda: iter(f[3:9]), 6),
        ]
        for make, n in made:
            it = make()
            assert operator.length_hint(it, -1) == n
            next(it)
            assert operator.length_hint(it, -1) == n - 1
            assert sum(1 for _ in it) == n - 1
            assert operator.length_hint(it, -1) == 0


# ----- user code run in the middle of a list operation -----------------------------------


def plain_of(seq):
    """The list of dicts or tuples `seq` stands for."""
    return [r if isinstance(r, tuple) else dict(r) for r in seq]


def recs(kind, values):
    """Records of `kind` holding `values` (a string field too: it has a dictionary)."""
    if kind == "tuples":
        return [(v, f"s{v}") for v in values]
    return [{"a": v, "s": f"s{v}"} for v in values]


def new_list(kind, values):
    if kind == "tuples":
        return TupleList(recs(kind, values), fields=("a", "s"))
    return DictList(recs(kind, values))


# What a generator does to the list it is extending, after yielding two records.
GENERATOR_CHANGES = {
    "del": lambda s, kind: s.__delitem__(0),
    "insert": lambda s, kind: s.insert(0, recs(kind, [-1])[0]),
    "setitem": lambda s, kind: s.__setitem__(0, recs(kind, [-2])[0]),
    "sort": lambda s, kind: s.sort(key=lambda r: -r[0] if isinstance(r, tuple) else -r["a"]),
    "reverse": lambda s, kind: s.reverse(),
    "swap": lambda s, kind: s.__setitem__(slice(0, 2), [s[1], s[0]]),
    "append": lambda s, kind: s.append(recs(kind, [-3])[0]),
    "extend": lambda s, kind: s.extend(recs(kind, [-4, -5])),
    "iadd": lambda s, kind: s.__iadd__(recs(kind, [-6])),
    "clear": lambda s, kind: s.clear(),
}


@pytest.mark.parametrize("change", sorted(GENERATOR_CHANGES))
@pytest.mark.parametrize("kind", ["dicts", "tuples"])
@pytest.mark.parametrize("failure", ["raises", "bad record"])
def test_a_generator_that_changes_the_list_it_extends_then_fails_as_with_a_list(
    change, kind, failure
):
    """The generator's changes stay; the list cannot tell which of its records the
    failed call appended, so they stay too, as `list.extend` keeps the items it took
    before the error. A rollback to the state before the call once undid the
    generator's changes or, for `del`, left string dictionaries that records still
    used truncated: every later read panicked."""

    def run(seq, bad):
        def gen():
            yield from recs(kind, [100, 101])
            GENERATOR_CHANGES[change](seq, kind)
            yield recs(kind, [102])[0]
            if bad is None:
                raise KeyError("the source failed")
            yield bad

        with pytest.raises((KeyError, TypeError, ValueError)):
            seq.extend(gen())

    plain, ours = recs(kind, range(5)), new_list(kind, range(5))
    run(plain, None)
    run(ours, None if failure == "raises" else (1, 2, 3) if kind == "tuples" else 7)
    assert plain_of(ours) == plain and ours == plain
    # Sound underneath: its records read, and it takes more.
    more = recs(kind, [200, 201])
    ours.extend(more)
    plain.extend(more)
    ours.insert(1, recs(kind, [300])[0])
    plain.insert(1, recs(kind, [300])[0])
    assert plain_of(ours) == plain and ours[-1] == plain[-1]


@pytest.mark.parametrize("kind", ["dicts", "tuples"])
def test_a_failing_generator_that_reads_the_list_or_writes_elsewhere_changes_nothing(kind):
    """All or none holds whenever the list itself was left alone: the records of the
    call are taken back out even if the generator wrote to the records themselves (a
    new field, a new string) or to another list sharing them, and those writes stay."""
    ours = new_list(kind, range(4))
    shared = ours[:2]  # a DictList slice shares the store; a TupleList's is a copy
    before = plain_of(ours)

    def gen():
        yield recs(kind, [100])[0]
        assert len(ours) == 5  # it sees the list grow, as with list.extend
        if kind == "dicts":
            ours[0]["s"] = "a string no record had"
            ours[1]["new"] = 1
        shared.append(recs(kind, [-1])[0])
        yield recs(kind, [101])[0]
        raise KeyError("the source failed")

    with pytest.raises(KeyError):
        ours.extend(gen())
    if kind == "dicts":
        before[0]["s"] = "a string no record had"
        before[1]["new"] = 1
    assert plain_of(ours) == before
    assert plain_of(shared) == before[:2] + recs(kind, [-1])
    ours.extend(recs(kind, [7]))
    assert plain_of(ours) == before + recs(kind, [7])


def test_a_record_file_extended_by_a_failing_generator_keeps_what_the_generator_appended(
    tmp_path,
):
    """As a list keeps what the generator appended: those records are not the call's to
    drop, and the file cannot tell them from the call's own."""
    with DictList.open(tmp_path / "f.msl") as f:
        f.append({"a": 0})

        def gen():
            yield {"a": 1}
            f.append({"a": -1})
            yield {"a": 2}
            raise KeyError("the source failed")

        with pytest.raises(KeyError):
            f.extend(gen())
        assert [r["a"] for r in f] == [0, 1, -1, 2]

        def alone():
            yield {"a": 3}
            raise KeyError("the source failed")

        with pytest.raises(KeyError):
            f.extend(alone())
        assert [r["a"] for r in f] == [0, 1, -1, 2]


class SharesARecordWhenRead(collections.abc.Mapping):
    """A record whose `__getitem__` makes `target` hold its first record again (a change
    of the list's order alone, with no new record) the first time it is read."""

    def __init__(self, target):
        self.target = target

    def __getitem__(self, key):
        target, self.target = self.target, None
        if target is not None:
            target.append(target[0])
        return 9

    def __iter__(self):
        return iter(["a"])

    def __len__(self):
        return 1


@pytest.mark.parametrize(
    "write",
    [
        lambda s, v: s.insert(1, v),
        lambda s, v: s.__setitem__(1, v),
        lambda s, v: s.__setitem__(slice(0, 1), [v, {"a": 8}]),
        lambda s, v: s.append(v),
        lambda s, v: s.extend([{"a": 7}, v]),
    ],
)
def test_a_record_that_changes_the_list_while_it_is_converted_is_refused(write):
    """The list can be read but not changed while a record going into it runs its own
    methods: the write was planned for the list as it was. An order changed meanwhile
    made `insert` and slice assignment, which then changed the store in place, lose
    records and put others at the wrong positions."""
    rows = DictList([{"a": 1}, {"a": 2}, {"a": 3}])
    before = rows.to_list()
    with pytest.raises(memslim.ConcurrentUseError):
        write(rows, SharesARecordWhenRead(rows))
    assert rows.to_list() == before
    rows.insert(1, {"a": 9})
    assert rows.to_list() == [{"a": 1}, {"a": 9}, {"a": 2}, {"a": 3}]


class ChangingIndex:
    """A slice bound whose `__index__` first runs `action` (once), then gives `value`."""

    def __init__(self, value, action):
        self.value, self.action = value, action

    def __index__(self):
        action, self.action = self.action, None
        if action:
            action()
        return self.value


INDEX_CHANGES = {
    "clear": lambda s, kind: s.clear(),
    "pop 4": lambda s, kind: [s.pop() for _ in range(4)],
    "append 3": lambda s, kind: s.extend(recs(kind, [7, 8, 9])),
}


def outcome_of(f):
    try:
        return ("ok", f())
    except (IndexError, ValueError) as e:
        return ("raised", type(e))


@pytest.mark.parametrize("change", sorted(INDEX_CHANGES))
@pytest.mark.parametrize("kind", ["dicts", "tuples"])
@pytest.mark.parametrize("step", [1, 2])
def test_a_slice_is_resolved_after_its_bounds_index_ran_as_a_lists_is(change, kind, step):
    """`rows[i:j]` with an `i` whose `__index__` changes the list takes the length
    after it ran. Taken before, a slice named records a `clear()` had removed (reading
    it panicked), or ones appended later, and `del` raised IndexError."""

    def on_both(op):
        plain, ours = recs(kind, range(6)), new_list(kind, range(6))
        act = INDEX_CHANGES[change]
        got = outcome_of(
            lambda: op(ours, slice(ChangingIndex(1, lambda: act(ours, kind)), 5, step))
        )
        want = outcome_of(
            lambda: op(plain, slice(ChangingIndex(1, lambda: act(plain, kind)), 5, step))
        )
        if got[0] == "ok" and got[1] is not None:
            got = ("ok", plain_of(got[1]))
        assert got == want, op
        assert plain_of(ours) == plain, op

    on_both(lambda s, sl: s[sl])
    on_both(lambda s, sl: s.__delitem__(sl))
    on_both(lambda s, sl: s.__setitem__(sl, recs(kind, [50, 51])))
    on_both(lambda s, sl: s.__setitem__(sl, recs(kind, [50, 51, 52, 53])))


def test_a_slice_of_a_record_file_or_number_file_takes_the_length_after_its_bounds(tmp_path):
    from memslim import NumberFile

    numbers = NumberFile(str(tmp_path / "n.bin"), "int64")
    numbers.extend([1, 2])
    assert numbers[ChangingIndex(0, lambda: numbers.append(3)) :] == [1, 2, 3]
    with DictList.open(tmp_path / "f.msl") as f:
        f.extend([{"a": 1}, {"a": 2}])
        got = f[ChangingIndex(0, lambda: f.append({"a": 3})) :]
        assert [r["a"] for r in got] == [1, 2, 3]
    doc = DocList([{"a": 1}, {"a": 2}, {"a": 3}])
    assert doc[ChangingIndex(0, lambda: doc.__delitem__(0)) : 5] == [{"a": 2}, {"a": 3}]
    del doc[ChangingIndex(0, lambda: doc.__delitem__(0)) : 5 : 2]
    assert doc == []


class StoredView(dict):
    """A dict that shows other contents through its methods than it stores, and keeps
    dict's `__eq__`: a list (through `dict.__eq__`) compares what it stores."""

    def keys(self):
        return ["a"]

    def items(self):
        return [("a", 1)]

    def values(self):
        return [1]

    def __iter__(self):
        return iter(["a"])

    def __getitem__(self, key):
        return 1

    def get(self, key, default=None):
        return 1

    def __len__(self):
        return 1


def test_a_dict_subclass_compares_by_what_it_stores_as_in_a_list():
    probe = StoredView(a=2, b=3)
    plain = [{"a": 2, "b": 3}, {"a": 1}]
    rows = DictList(plain)
    assert rows.index(probe) == plain.index(probe) == 0
    assert rows.count(probe) == plain.count(probe) == 1
    assert (probe in rows) is (probe in plain) is True
    assert (rows[0] == probe) is (plain[0] == probe) is True
    assert (rows[1] == probe) is (plain[1] == probe) is False
    assert (rows == [probe, {"a": 1}]) is (plain == [probe, {"a": 1}]) is True
    rows.remove(probe)
    plain.remove(probe)
    assert rows == plain == [{"a": 1}]


# ----- one-record edits on a list that is its whole store (the append fast path) ----------


def _orders(n, start=0):
    return [
        {"id": i, "user": f"u{i}", "price": i / 4, "qty": i % 7, "paid": i % 3 == 0, "note": None}
        for i in range(start, start + n)
    ]


def test_appends_after_many_of_one_layout_keep_every_edit_of_a_list():
    rows, plain = DictList(_orders(50)), _orders(50)

    def both(r):
        rows.append(r)
        plain.append(r)

    for r in _orders(10_000, 50):  # one key layout, one value type per field
        both(r)
    reordered = {"note": "n", "qty": 3, "id": -1, "paid": True, "price": 0.5, "user": "x"}
    both(reordered)  # same keys, another order
    both({"id": 7, "user": "y", "price": 1.0, "paid": False, "note": None})  # qty missing
    both({**_orders(1)[0], "extra": [1, 2]})  # a key more (a nested value)
    both({**_orders(1)[0], "qty": 2.5})  # int field takes a float: widened
    both({**_orders(1)[0], "qty": "three"})  # then a string: the variant encoding
    both({**_orders(1)[0], "paid": 10**30})  # an int past 64 bits
    for r in _orders(3, 20_000):  # and the one layout again
        both(r)
    assert len(rows) == len(plain)
    assert [dict(r) for r in rows] == plain
    assert [list(r) for r in rows] == [list(r) for r in plain]  # key order too


@pytest.mark.parametrize("how", ["append", "extend one", "extend two"])
def test_a_record_whose_late_value_fails_leaves_the_list_as_it_was(how):
    rows = DictList(_orders(20))
    for r in _orders(10_000, 20):
        rows.append(r)
    before = [dict(r) for r in rows]
    bad = {"id": 1, "user": "u", "price": 2.0, "qty": 3, "paid": True, "note": _Unstorable()}
    with pytest.raises(TypeError):
        if how == "append":
            rows.append(bad)
        elif how == "extend one":
            rows.extend([bad])
        else:
            rows.extend([_orders(1)[0], bad])
    assert [dict(r) for r in rows] == before
    rows.append(_orders(1)[0])  # and the list still takes records
    assert rows[-1] == _orders(1)[0] and len(rows) == len(before) + 1


@pytest.mark.parametrize("chunk_rows", [64, 1000])
def test_reverse_and_one_record_assignments_of_strings_as_a_list(chunk_rows):
    recs = _orders(700)
    rows, plain = DictList(recs, chunk_rows=chunk_rows), [dict(r) for r in recs]
    # Overwritten strings wait beside a chunk's buffers until it is compacted: reverse,
    # slices and copies must read them, as must the compaction itself.
    for k, i in enumerate(range(0, 700, 3)):
        new = {**recs[i], "user": "w" * (k % 9)}
        rows[i : i + 1] = [new]
        plain[i : i + 1] = [new]
        if k % 40 == 0:
            rows.reverse()
            plain.reverse()
            assert [dict(r) for r in rows[5:300]] == plain[5:300]
    rows.reverse()
    plain.reverse()
    assert [dict(r) for r in rows] == plain
    assert [dict(r) for r in DictList(rows)] == plain


def test_tuplelist_appends_after_many_of_one_layout_as_a_list():
    fields = ("id", "user", "price")
    recs = [(i, f"u{i}", i / 2) for i in range(10_050)]
    rows, plain = TupleList(recs[:50], fields), recs[:50]
    for r in recs[50:]:
        rows.append(r)
        plain.append(r)
    for r in [(1, None, 2), (2, 3, "x"), (10**30, b"b", None), (4, "u", 1.5)]:
        rows.append(r)
        plain.append(r)
    with pytest.raises(TypeError):
        rows.append((5, "u", _Unstorable()))
    with pytest.raises(TypeError):
        rows.extend([(6, "v", 1.0), (5, "u", _Unstorable())])
    assert [tuple(r) for r in rows] == plain
    rows.reverse()
    plain.reverse()
    assert [tuple(r) for r in rows] == plain
