"""Property tests: DictList agrees with list[dict] on random data and random operations."""

from __future__ import annotations

import copy
import pickle

from conftest import (
    KEY_POOL,
    chunk_sizes,
    first_difference,
    record_lists,
    records,
    same,
    values,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from memslim import DictList, TupleList


def assert_same(actual, expected):
    assert same(actual, expected), first_difference(actual, expected)


# Sort keys that are total over generated records and give the same answer for a Row
# and for the equal plain dict.
SORT_KEYS = {
    "len": len,
    "keys": lambda r: tuple(r.keys()),
    "name-repr": lambda r: repr(r.get("name")),
}

slices = st.builds(
    slice,
    st.none() | st.integers(-15, 15),
    st.none() | st.integers(-15, 15),
    st.none() | st.integers(-4, 4).filter(bool),
)


# ======================================================================================
# Round trips
# ======================================================================================


@given(data=record_lists, chunk_rows=chunk_sizes)
def test_to_list_round_trips(data, chunk_rows):
    assert_same(DictList(data, chunk_rows=chunk_rows).to_list(), data)


@given(data=record_lists, chunk_rows=chunk_sizes)
def test_each_row_round_trips(data, chunk_rows):
    rows = DictList(data, chunk_rows=chunk_rows)
    assert len(rows) == len(data)
    assert_same([dict(row) for row in rows], data)
    assert_same([dict(rows[i]) for i in range(len(data))], data)


@given(data=record_lists, chunk_rows=chunk_sizes)
def test_appending_one_by_one_round_trips(data, chunk_rows):
    rows = DictList(chunk_rows=chunk_rows)
    for record in data:
        rows.append(record)
    assert_same(rows.to_list(), data)


@given(data=record_lists, chunk_rows=chunk_sizes, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_pickle_round_trips(data, chunk_rows, protocol):
    rows = DictList(data, chunk_rows=chunk_rows)
    assert_same(pickle.loads(pickle.dumps(rows, protocol=protocol)).to_list(), data)


@given(data=record_lists, chunk_rows=chunk_sizes, s=slices)
def test_slicing_equals_list_slicing(data, chunk_rows, s):
    assert_same(DictList(data, chunk_rows=chunk_rows)[s].to_list(), data[s])


@given(
    data=record_lists,
    chunk_rows=chunk_sizes,
    key_name=st.sampled_from(sorted(SORT_KEYS)),
    reverse=st.booleans(),
)
def test_sort_equals_sorted(data, chunk_rows, key_name, reverse):
    key = SORT_KEYS[key_name]
    rows = DictList(data, chunk_rows=chunk_rows)
    rows.sort(key=key, reverse=reverse)
    assert_same(rows.to_list(), sorted(data, key=key, reverse=reverse))


@given(data=record_lists, chunk_rows=chunk_sizes)
def test_columns_agree_with_rows(data, chunk_rows):
    rows = DictList(data, chunk_rows=chunk_rows)
    for name in rows.columns:
        assert_same(rows.column(name).to_list(), [d.get(name) for d in data])
    assert set(rows.columns) == {k for d in data for k in d}


@given(
    data=st.lists(st.tuples(values, values, values), max_size=10),
    chunk_rows=chunk_sizes,
)
def test_tuplelist_round_trips(data, chunk_rows):
    rows = TupleList(data, ("a", "b", "c"), chunk_rows=chunk_rows)
    assert_same([tuple(r) for r in rows.to_list()], data)
    assert_same([tuple(r) for r in rows], data)


# ======================================================================================
# Stateful: random operation sequences against a plain list of dicts
# ======================================================================================

record_batches = st.lists(records(), max_size=4)


class DictListMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.rows = None
        self.model = None
        self.snapshots = []  # (DictList copy, expected records)
        self.column_snapshots = []  # (Column, expected values)

    @initialize(data=st.lists(records(), max_size=8), chunk_rows=st.integers(1, 5))
    def start(self, data, chunk_rows):
        self.rows = DictList(data, chunk_rows=chunk_rows)
        self.model = copy.deepcopy(data)

    # -- helpers --------------------------------------------------------------------

    def _index(self, data, *, allow_negative=True):
        n = len(self.model)
        low = -n if allow_negative else 0
        return data.draw(st.integers(low, n - 1), label="index")

    # -- list-level rules -------------------------------------------------------------

    @rule(record=records())
    def append(self, record):
        self.rows.append(record)
        self.model.append(copy.deepcopy(record))

    @rule(batch=record_batches)
    def extend(self, batch):
        self.rows.extend(iter(batch))
        self.model.extend(copy.deepcopy(batch))

    @rule(index=st.integers(-12, 12), record=records())
    def insert(self, index, record):
        self.rows.insert(index, record)
        self.model.insert(index, copy.deepcopy(record))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def pop(self, data):
        index = self._index(data)
        assert_same(self.rows.pop(index), self.model.pop(index))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_index(self, data):
        index = self._index(data)
        del self.rows[index]
        del self.model[index]

    @rule(s=slices)
    def delete_slice(self, s):
        del self.rows[s]
        del self.model[s]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), record=records())
    def set_index(self, data, record):
        index = self._index(data)
        self.rows[index] = record
        self.model[index] = copy.deepcopy(record)

    @rule(start=st.integers(-12, 12), stop=st.integers(-12, 12), batch=record_batches)
    def assign_slice(self, start, stop, batch):
        self.rows[start:stop] = batch
        self.model[start:stop] = copy.deepcopy(batch)

    @rule(s=slices, data=st.data())
    def assign_extended_slice(self, s, data):
        size = len(self.model[s])
        batch = data.draw(st.lists(records(), min_size=size, max_size=size), label="batch")
        self.rows[s] = batch
        self.model[s] = copy.deepcopy(batch)

    @rule()
    def reverse(self):
        self.rows.reverse()
        self.model.reverse()

    @rule(key_name=st.sampled_from(sorted(SORT_KEYS)), reverse=st.booleans())
    def sort(self, key_name, reverse):
        key = SORT_KEYS[key_name]
        self.rows.sort(key=key, reverse=reverse)
        self.model.sort(key=key, reverse=reverse)

    @rule(dice=st.integers(0, 9))
    def clear_rarely(self, dice):
        if dice == 0:
            self.rows.clear()
            self.model.clear()

    # -- row-level rules ------------------------------------------------------------

    @precondition(lambda self: self.model)
    @rule(data=st.data(), key=st.sampled_from(KEY_POOL), value=values)
    def row_set(self, data, key, value):
        index = self._index(data)
        self.rows[index][key] = value
        self.model[index][key] = copy.deepcopy(value)

    @precondition(lambda self: any(self.model))
    @rule(data=st.data())
    def row_delete(self, data):
        index = data.draw(st.sampled_from([i for i, d in enumerate(self.model) if d]))
        key = data.draw(st.sampled_from(list(self.model[index])), label="key")
        del self.rows[index][key]
        del self.model[index][key]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), key=st.sampled_from(KEY_POOL))
    def row_pop(self, data, key):
        index = self._index(data)
        assert_same(self.rows[index].pop(key, "<absent>"), self.model[index].pop(key, "<absent>"))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), other=records())
    def row_update(self, data, other):
        index = self._index(data)
        self.rows[index].update(other)
        self.model[index].update(copy.deepcopy(other))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), key=st.sampled_from(KEY_POOL), value=values)
    def row_setdefault(self, data, key, value):
        index = self._index(data)
        got = self.rows[index].setdefault(key, value)
        assert_same(got, self.model[index].setdefault(key, copy.deepcopy(value)))

    # -- copies and snapshots must not see later changes ----------------------------

    @precondition(lambda self: len(self.snapshots) < 3)
    @rule()
    def take_copy(self):
        self.snapshots.append((copy.deepcopy(self.rows), copy.deepcopy(self.model)))

    @precondition(lambda self: len(self.column_snapshots) < 3 and self.rows.columns)
    @rule(data=st.data())
    def take_column(self, data):
        name = data.draw(st.sampled_from(self.rows.columns), label="column")
        expected = [copy.deepcopy(d.get(name)) for d in self.model]
        self.column_snapshots.append((self.rows.column(name), expected))

    # -- the check --------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self):
        if self.rows is None:
            return
        assert len(self.rows) == len(self.model)
        assert_same(self.rows.to_list(), self.model)
        assert_same([dict(r) for r in self.rows], self.model)
        for snap, expected in self.snapshots:
            assert_same(snap.to_list(), expected)
        for col, expected in self.column_snapshots:
            assert_same(col.to_list(), expected)


DictListMachine.TestCase.settings = settings(settings.default, stateful_step_count=30)
TestDictListMachine = DictListMachine.TestCase
