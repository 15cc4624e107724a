"""A TupleList under list operations, with rows taken out and put back: the list of
tuples is the oracle.

Rows `rows[i]` handed out are remembered by their store, refilled once nobody holds
them, and shared when assigned back while their record is unchanged (`random.shuffle`,
swaps). The state machine holds rows across every kind of edit and puts them back
anywhere, and checks after every step that the list reads as the list of tuples and
that every row still held is exactly what it was when it was taken.
"""

from __future__ import annotations

import random
from collections import namedtuple
from copy import copy as shallow_copy

from conftest import first_difference
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from memslim import TupleList

FIELDS = ("a", "b", "c")
Rec = namedtuple("Rec", FIELDS)

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, width=32),
    st.sampled_from(["x", "y", ""]),
    # A container: such a row is never kept by the store (it converts instead).
    st.lists(st.integers(0, 2), max_size=2),
)
tuples = st.tuples(cells, cells, cells)
indices = st.integers(-8, 8)


def _key(t):
    return repr(t)


class TupleRows(RuleBasedStateMachine):
    """`plain` is the oracle (a list of `Rec`); `held` pairs each row taken from the
    TupleList with a copy of it made when it was taken."""

    @initialize(data=st.lists(tuples, max_size=6), chunk_rows=st.sampled_from([None, 1, 2]))
    def start(self, data, chunk_rows):
        self.plain = [Rec(*t) for t in data]
        self.rows = TupleList(data, FIELDS, chunk_rows=chunk_rows)
        self.held = []
        # Lists taken from `rows` (slices, copies, `* n`, `+`), each with its list of
        # tuples: they share its store, yet a write to either side shows in that side only.
        self.others = []

    def _pos(self, i):
        """A valid index (negative ones too) for any `i`, the list being non-empty."""
        n = len(self.plain)
        return i % n if i >= 0 else -(1 + (-i - 1) % n)

    def _held(self, h):
        row, copy = self.held[h % len(self.held)]
        return row, copy

    # -- taking rows ------------------------------------------------------------------

    @rule(i=indices)
    def take(self, i):
        if self.plain:
            row = self.rows[self._pos(i)]
            self.held.append((row, Rec(*row)))

    @rule(i=indices)
    def take_and_drop(self, i):
        # Read and let go at once: the store refills this row on the next read.
        if self.plain:
            i = self._pos(i)
            assert first_difference(tuple(self.rows[i]), tuple(self.plain[i])) is None

    @rule()
    def take_by_iteration(self):
        for row in self.rows:
            self.held.append((row, Rec(*row)))
            break

    @rule(keep=st.integers(0, 3))
    def let_go(self, keep):
        del self.held[keep:]

    # -- putting rows back ------------------------------------------------------------

    @precondition(lambda self: self.held)
    @rule(i=indices, h=st.integers(0, 9))
    def assign_held(self, i, h):
        if self.plain:
            i = self._pos(i)
            row, copy = self._held(h)
            self.rows[i] = row
            self.plain[i] = copy

    @precondition(lambda self: self.held)
    @rule(h=st.integers(0, 9))
    def append_held(self, h):
        row, copy = self._held(h)
        self.rows.append(row)
        self.plain.append(copy)

    @precondition(lambda self: self.held and len(self.plain) <= 40)
    @rule(hs=st.lists(st.integers(0, 9), min_size=1, max_size=3))
    def extend_held(self, hs):
        picked = [self._held(h) for h in hs]
        self.rows.extend([r for r, _ in picked])
        self.plain.extend([c for _, c in picked])

    @precondition(lambda self: self.held)
    @rule(i=indices, h=st.integers(0, 9))
    def insert_held(self, i, h):
        row, copy = self._held(h)
        self.rows.insert(i, row)
        self.plain.insert(i, copy)

    @precondition(lambda self: self.held)
    @rule(a=indices, b=indices, hs=st.lists(st.integers(0, 9), max_size=3))
    def assign_slice_held(self, a, b, hs):
        picked = [self._held(h) for h in hs]
        self.rows[a:b] = [r for r, _ in picked]
        self.plain[a:b] = [c for _, c in picked]

    @rule(i=indices, j=indices)
    def swap(self, i, j):
        if self.plain:
            i, j = self._pos(i), self._pos(j)
            self.rows[i], self.rows[j] = self.rows[j], self.rows[i]
            self.plain[i], self.plain[j] = self.plain[j], self.plain[i]

    @rule(i=indices, j=indices)
    def copy_over(self, i, j):
        if self.plain:
            i, j = self._pos(i), self._pos(j)
            self.rows[i] = self.rows[j]
            self.plain[i] = self.plain[j]

    @rule(seed=st.integers(0, 1000))
    def shuffle(self, seed):
        random.Random(seed).shuffle(self.rows)
        random.Random(seed).shuffle(self.plain)

    # -- other edits (each may renumber or rewrite the store) -------------------------

    @rule(i=indices, t=tuples)
    def set_new(self, i, t):
        if self.plain:
            i = self._pos(i)
            self.rows[i] = t
            self.plain[i] = Rec(*t)

    @rule(t=tuples)
    def append_new(self, t):
        self.rows.append(t)
        self.plain.append(Rec(*t))

    @rule(i=indices)
    def delete(self, i):
        if self.plain:
            i = self._pos(i)
            del self.rows[i]
            del self.plain[i]

    @rule(i=indices)
    def pop(self, i):
        if self.plain:
            i = self._pos(i)
            got = self.rows.pop(i)
            want = self.plain.pop(i)
            assert first_difference(tuple(got), tuple(want)) is None
            self.held.append((got, Rec(*got)))

    @rule(reverse=st.booleans())
    def sort(self, reverse):
        self.rows.sort(key=_key, reverse=reverse)
        self.plain.sort(key=_key, reverse=reverse)

    @rule()
    def reverse(self):
        self.rows.reverse()
        self.plain.reverse()

    @precondition(lambda self: len(self.plain) <= 12)
    @rule(n=st.integers(0, 2))
    def imul(self, n):
        self.rows *= n
        self.plain *= n

    @rule(dice=st.integers(0, 9))
    def clear_rarely(self, dice):
        if dice == 0:
            self.rows.clear()
            self.plain.clear()

    # -- lists sharing the records (slices, copies), then written on both sides -------

    @precondition(lambda self: len(self.others) < 4 and len(self.plain) <= 20)
    @rule(
        how=st.sampled_from(["slice", "copy", "copy.copy", "mul", "add", "radd", "where"]),
        a=indices,
        b=indices,
        step=st.sampled_from([None, 1, 2, -1]),
    )
    def derive(self, how, a, b, step):
        rows, plain = self.rows, self.plain
        if how == "slice":
            pair = (rows[a:b:step], plain[a:b:step])
        elif how == "copy":
            pair = (rows.copy(), plain.copy())
        elif how == "copy.copy":
            pair = (shallow_copy(rows), shallow_copy(plain))
        elif how == "mul":
            pair = (rows * 2, plain * 2)
        elif how == "add":
            pair = (rows + [(a, "x", None)], plain + [Rec(a, "x", None)])
        elif how == "radd":
            pair = ([(b, "y", None)] + rows, [Rec(b, "y", None)] + plain)
        else:
            pair = (rows.where("a", "==", "x"), [t for t in plain if t.a == "x"])
        self.others.append(pair)

    @precondition(lambda self: self.others)
    @rule(
        k=st.integers(0, 3),
        op=st.sampled_from(["set", "append", "insert", "delete", "sort", "reverse", "clear"]),
        i=indices,
        t=tuples,
    )
    def write_other(self, k, op, i, t):
        ms, plain = self.others[k % len(self.others)]
        if op in ("set", "delete") and not plain:
            return
        if op == "set":
            ms[self._pos_in(plain, i)] = t
            plain[self._pos_in(plain, i)] = Rec(*t)
        elif op == "append":
            ms.append(t)
            plain.append(Rec(*t))
        elif op == "insert":
            ms.insert(i, t)
            plain.insert(i, Rec(*t))
        elif op == "delete":
            del ms[self._pos_in(plain, i)]
            del plain[self._pos_in(plain, i)]
        elif op == "sort":
            ms.sort(key=_key)
            plain.sort(key=_key)
        elif op == "reverse":
            ms.reverse()
            plain.reverse()
        else:
            ms.clear()
            plain.clear()

    @rule(keep=st.integers(0, 3))
    def drop_others(self, keep):
        del self.others[keep:]

    @staticmethod
    def _pos_in(plain, i):
        n = len(plain)
        return i % n if i >= 0 else -(1 + (-i - 1) % n)

    # -- checks -----------------------------------------------------------------------

    @invariant()
    def same_as_the_list_of_tuples(self):
        got = [tuple(r) for r in self.rows]
        want = [tuple(r) for r in self.plain]
        assert first_difference(got, want) is None, first_difference(got, want)

    @invariant()
    def lists_taken_from_it_unchanged_by_its_writes(self):
        for ms, plain in self.others:
            got = [tuple(r) for r in ms]
            want = [tuple(r) for r in plain]
            assert first_difference(got, want) is None, first_difference(got, want)

    @invariant()
    def held_rows_unchanged(self):
        for row, copy in self.held:
            assert first_difference(tuple(row), tuple(copy)) is None


TupleRows.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_tuple_rows_machine = TupleRows.TestCase


def test_a_row_assigned_back_after_its_record_was_replaced_keeps_its_values():
    rows = TupleList([(1, "x", 1.5), (2, "y", 2.5)], FIELDS)
    a = rows[0]
    rows[0] = (9, "z", 9.5)  # written in place: `a`'s store row now holds another record
    rows[1] = a
    assert [tuple(r) for r in rows] == [(9, "z", 9.5), (1, "x", 1.5)]


def test_a_list_sharing_rows_keeps_its_store_within_twice_its_records():
    n = 5_000
    rows = TupleList([(k, f"s{k}", k / 2) for k in range(n)], FIELDS)
    fresh = rows.nbytes
    rows[0] = rows[1]  # positions share a store row: edits go by order from here
    for k in range(4 * n):
        rows[k % n] = (k, f"t{k % 7}", 0.5)
    assert len(rows) == n
    # The store compacts once it holds more unread rows than records (plus a slack).
    assert rows.nbytes < 3 * fresh, (rows.nbytes, fresh)
    want = [None] * n
    for k in range(4 * n):
        want[k % n] = (k, f"t{k % 7}", 0.5)
    assert [tuple(r) for r in rows] == want
