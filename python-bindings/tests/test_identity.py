"""Records have identity, as the dicts of a list do.

A state machine runs random list operations (slicing, copying, shuffling, swapping,
removing) on a list of dicts and on a DictList side by side, takes row views along the
way, writes through views taken earlier, and checks after every step that every list
and every view reads the same as its plain counterpart. The plain list is the oracle.
"""

from __future__ import annotations

import copy
import gc
import math
import operator
import pickle
import random
import sys

import memslim
import pyarrow as pa
import pytest
from conftest import same
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

KEYS = ("ka", "kb", "kc")  # not one character: those strings are all shared
values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from(["x", "y"]),
    st.booleans(),
    # Kinds a write may change a column to (wider ints, floats), or keep out of it.
    st.sampled_from([2**40, -(2**63), 2**64, 0.5, -0.0, float("inf")]),
)
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)
# Also a new NaN object each time: a dict holding one equals only itself (a list compares
# its items by identity first), as a record holding one equals only itself.
values_or_nan = st.one_of(values, st.builds(float, st.just("nan")))
records_or_nan = st.dictionaries(st.sampled_from(KEYS), values_or_nan, max_size=3)
# Key objects that are not the interned names but are the same objects in every record,
# as `csv.DictReader` gives them.
SHARED_KEYS = {k: "".join(["k", k[1:]]) for k in KEYS}
assert all(SHARED_KEYS[k] is not k for k in KEYS)


def items(row):
    return list(row.items())


def is_nan(v):
    return isinstance(v, float) and math.isnan(v)


def renew_nans(d):
    """A copy of `d` holding new NaN objects: what a record copied into another list
    holds (a stored value is read back as a new object)."""
    return {k: float("nan") if is_nan(v) else v for k, v in d.items()}


def has_nan(dicts):
    return any(is_nan(v) for d in dicts for v in d.values())


def outcome(f, *args):
    """What `f(*args)` gives, or the class of what it raises."""
    try:
        return f(*args)
    except Exception as e:  # noqa: BLE001 - the oracle raises what the list must raise
        return type(e)


class Identity(RuleBasedStateMachine):
    """`lists[k]` is (plain list, DictList, family); `views[k]` is (dict, Row, family).

    A family is a list and everything sharing its records (slices, copies, `* n`). A
    record of one family put into a list of another is copied (the documented
    difference from a list of dicts), so the oracle copies the dict there too.
    """

    @initialize(data=st.lists(records_or_nan, max_size=6))
    def start(self, data):
        plain = [dict(d) for d in data]
        self.lists = [(plain, memslim.DictList(data), 0)]
        self.views = []
        self.families = 1

    def pick_list(self, k):
        return self.lists[k % len(self.lists)]

    @staticmethod
    def carry(dicts, same_family):
        return dicts if same_family else [renew_nans(d) for d in dicts]

    # -- views ---------------------------------------------------------------------

    @rule(k=st.integers(0, 7), i=st.integers(-8, 8))
    def take_view(self, k, i):
        plain, ms, fam = self.pick_list(k)
        if plain and -len(plain) <= i < len(plain):
            self.views.append((plain[i], ms[i], fam))

    @precondition(lambda self: self.views)
    @rule(k=st.integers(0, 99), key=st.sampled_from(KEYS), value=values_or_nan)
    def write_view(self, k, key, value):
        d, r, _ = self.views[k % len(self.views)]
        d[key] = value
        r[key] = value

    @precondition(lambda self: self.views)
    @rule(k=st.integers(0, 99), key=st.sampled_from(KEYS))
    def delete_key(self, k, key):
        d, r, _ = self.views[k % len(self.views)]
        assert same(d.pop(key, "absent"), r.pop(key, "absent"))

    @precondition(lambda self: self.views)
    @rule(k=st.integers(0, 99), key=st.sampled_from(KEYS))
    def del_key(self, k, key):
        d, r, _ = self.views[k % len(self.views)]
        if key in d:
            del d[key]
            del r[key]
        else:
            with pytest.raises(KeyError):
                del r[key]

    @precondition(lambda self: self.views)
    @rule(k=st.integers(0, 99), other=records_or_nan)
    def update_view(self, k, other):
        d, r, _ = self.views[k % len(self.views)]
        d |= other
        r |= other

    @precondition(lambda self: len(self.views) > 4)
    @rule()
    def forget_views(self):
        # Dropping views lets a list compact its store again.
        del self.views[: len(self.views) // 2]
        gc.collect()

    # -- growing -------------------------------------------------------------------

    @rule(k=st.integers(0, 7), rec=records_or_nan)
    def append(self, k, rec):
        plain, ms, _fam = self.pick_list(k)
        plain.append(dict(rec))
        ms.append(rec)

    @rule(k=st.integers(0, 7), rec=records_or_nan, shared=st.booleans())
    def append_with_other_keys(self, k, rec, shared):
        """The same record with keys that are other objects: shared by every record (as
        a CSV reader's are) or new in each (as JSON's are)."""
        plain, ms, _fam = self.pick_list(k)
        plain.append(dict(rec))
        other = SHARED_KEYS if shared else {k: "".join(["k", k[1:]]) for k in rec}
        ms.append({other[key]: v for key, v in rec.items()})

    @precondition(lambda self: self.views)
    @rule(k=st.integers(0, 7), v=st.integers(0, 99))
    def append_view(self, k, v):
        plain, ms, fam = self.pick_list(k)
        d, r, vfam = self.views[v % len(self.views)]
        plain.extend(self.carry([d], vfam == fam))
        ms.append(r)

    @rule(k=st.integers(0, 7), i=st.integers(-8, 8), rec=records_or_nan)
    def insert(self, k, i, rec):
        plain, ms, _fam = self.pick_list(k)
        plain.insert(i, dict(rec))
        ms.insert(i, rec)

    @rule(k=st.integers(0, 7), src=st.integers(0, 7), a=st.integers(-8, 8), b=st.integers(-8, 8))
    def extend_with_slice(self, k, src, a, b):
        plain, ms, fam = self.pick_list(k)
        splain, sms, sfam = self.pick_list(src)
        plain.extend(self.carry(splain[a:b], sfam == fam))
        ms.extend(sms[a:b])

    @rule(k=st.integers(0, 7), recs=st.lists(records_or_nan, max_size=3))
    def extend_plain(self, k, recs):
        plain, ms, _fam = self.pick_list(k)
        plain.extend(dict(r) for r in recs)
        ms.extend(iter(recs))

    # -- replacing, reordering -----------------------------------------------------

    @rule(k=st.integers(0, 7), i=st.integers(-8, 8), rec=records_or_nan)
    def set_item(self, k, i, rec):
        plain, ms, _fam = self.pick_list(k)
        if plain and -len(plain) <= i < len(plain):
            plain[i] = dict(rec)
            ms[i] = rec

    @rule(k=st.integers(0, 7), i=st.integers(0, 8), j=st.integers(0, 8))
    def swap(self, k, i, j):
        plain, ms, _fam = self.pick_list(k)
        if i < len(plain) and j < len(plain):
            plain[i], plain[j] = plain[j], plain[i]
            ms[i], ms[j] = ms[j], ms[i]

    @rule(k=st.integers(0, 7), seed=st.integers(0, 1000))
    def shuffle(self, k, seed):
        plain, ms, _fam = self.pick_list(k)
        random.Random(seed).shuffle(plain)
        random.Random(seed).shuffle(ms)

    @rule(k=st.integers(0, 7), key=st.sampled_from(KEYS), reverse=st.booleans())
    def sort(self, k, key, reverse):
        plain, ms, _fam = self.pick_list(k)

        def f(r):
            v = r.get(key)
            return (type(v).__name__, v if v is not None else 0)

        plain.sort(key=f, reverse=reverse)
        ms.sort(key=f, reverse=reverse)

    @rule(k=st.integers(0, 7))
    def reverse(self, k):
        plain, ms, _fam = self.pick_list(k)
        plain.reverse()
        ms.reverse()

    @rule(
        k=st.integers(0, 7),
        a=st.integers(-8, 8),
        b=st.integers(-8, 8),
        src=st.integers(0, 7),
        whole=st.booleans(),
    )
    def assign_slice_from_a_list(self, k, a, b, src, whole):
        # `rows[a:b] = rows` (or another list, or a slice of one): a DictList given
        # itself, not its rows one by one.
        plain, ms, fam = self.pick_list(k)
        splain, sms, sfam = self.pick_list(src)
        if whole:
            plain[a:b] = self.carry(list(splain), sfam == fam)
            ms[a:b] = sms
        else:
            plain[a:b] = self.carry(splain[b:a:-1], sfam == fam)
            ms[a:b] = sms[b:a:-1]

    @rule(k=st.integers(0, 7), a=st.integers(-8, 8), b=st.integers(-8, 8), src=st.integers(0, 7))
    def assign_slice_from_rows(self, k, a, b, src):
        # `rows[:] = [r for r in rows if ...]` and friends: the same records again.
        plain, ms, fam = self.pick_list(k)
        splain, sms, sfam = self.pick_list(src)
        keep = [i for i in range(len(splain)) if i % 2 == 0]
        plain[a:b] = self.carry([splain[i] for i in keep], sfam == fam)
        ms[a:b] = [sms[i] for i in keep]

    @rule(
        k=st.integers(0, 7),
        a=st.integers(-8, 8),
        b=st.integers(-8, 8),
        recs=st.lists(records_or_nan, max_size=3),
    )
    def assign_slice(self, k, a, b, recs):
        plain, ms, _fam = self.pick_list(k)
        plain[a:b] = [dict(r) for r in recs]
        ms[a:b] = recs

    # -- removing ------------------------------------------------------------------

    @rule(k=st.integers(0, 7), i=st.integers(-8, 8))
    def delete(self, k, i):
        plain, ms, _fam = self.pick_list(k)
        if plain and -len(plain) <= i < len(plain):
            del plain[i]
            del ms[i]

    @rule(
        k=st.integers(0, 7),
        a=st.integers(-8, 8),
        b=st.integers(-8, 8),
        step=st.sampled_from([1, 2, -1]),
    )
    def delete_slice(self, k, a, b, step):
        plain, ms, _fam = self.pick_list(k)
        del plain[a:b:step]
        del ms[a:b:step]

    @rule(k=st.integers(0, 7), i=st.integers(-8, 8))
    def pop(self, k, i):
        plain, ms, _fam = self.pick_list(k)
        if plain and -len(plain) <= i < len(plain):
            assert same(plain.pop(i), ms.pop(i))

    @precondition(lambda self: self.views)
    @rule(k=st.integers(0, 7), v=st.integers(0, 99))
    def remove_view(self, k, v):
        plain, ms, _fam = self.pick_list(k)
        d, r, _ = self.views[v % len(self.views)]
        if d in plain:
            plain.remove(d)
            ms.remove(r)

    @rule(k=st.integers(0, 7))
    def clear(self, k):
        plain, ms, _fam = self.pick_list(k)
        plain.clear()
        ms.clear()

    # -- new lists sharing records -------------------------------------------------

    @precondition(lambda self: len(self.lists) < 6)
    @rule(
        k=st.integers(0, 7),
        a=st.integers(-8, 8),
        b=st.integers(-8, 8),
        step=st.sampled_from([1, 2, -1]),
    )
    def slice(self, k, a, b, step):
        plain, ms, fam = self.pick_list(k)
        self.lists.append((plain[a:b:step], ms[a:b:step], fam))

    @precondition(lambda self: len(self.lists) < 6)
    @rule(k=st.integers(0, 7), how=st.sampled_from(["copy", "copy.copy", "mul", "add", "radd"]))
    def share(self, k, how):
        plain, ms, fam = self.pick_list(k)
        if how == "copy":
            pair = (plain.copy(), ms.copy())
        elif how == "copy.copy":
            pair = (copy.copy(plain), copy.copy(ms))
        elif how == "mul":
            pair = (plain * 2, ms * 2)
        elif how == "add":
            pair = (plain + plain[:1], ms + ms[:1])
        else:
            pair = (plain[:1] + plain, list(ms[:1]) + ms)
        self.lists.append((*pair, fam))

    @precondition(lambda self: len(self.lists) < 6)
    @rule(k=st.integers(0, 7), recs=st.lists(records_or_nan, max_size=3), radd=st.booleans())
    def add_new_records(self, k, recs, radd):
        """`rows + [dicts]` (or `[dicts] + rows`): the sum shares `rows`' records and adds
        new ones to the store, which go back to it when the sum is dropped (and may be
        reused by the next sum: `drop_list`, `add_and_drop`)."""
        plain, ms, fam = self.pick_list(k)
        new = [dict(r) for r in recs]
        if radd:
            pair = (new + plain, list(recs) + ms)
        else:
            pair = (plain + new, ms + recs)
        self.lists.append((*pair, fam))

    @rule(
        k=st.integers(0, 7),
        recs=st.lists(records_or_nan, max_size=3),
        view=st.integers(-4, 4) | st.none(),
        key=st.sampled_from(KEYS),
        value=values,
    )
    def add_and_drop(self, k, recs, view, key, value):
        """`tmp = rows + [d]; tmp[i][key] = v; del tmp`, a view kept or not: what the sum
        wrote to `rows`' records stays, its own records go (unless a view holds one)."""
        plain, ms, fam = self.pick_list(k)
        tp, tm = plain + [dict(r) for r in recs], ms + recs
        if view is not None and -len(tp) <= view < len(tp):
            tp[view][key] = value
            tm[view][key] = value
            if view % 2:
                self.views.append((tp[view], tm[view], fam))
        del tp, tm
        gc.collect()

    @precondition(lambda self: len(self.lists) < 6)
    @rule(k=st.integers(0, 7), deep=st.booleans())
    def independent_copy(self, k, deep):
        plain, ms, _fam = self.pick_list(k)
        if deep:
            pair = (copy.deepcopy(plain), copy.deepcopy(ms))
        else:
            pair = ([dict(d) for d in plain], pickle.loads(pickle.dumps(ms)))
        # Deep copies share nothing; a record held twice becomes two (see the porting
        # notes), so unshare the oracle the same way.
        self.lists.append(([renew_nans(d) for d in pair[0]], pair[1], self.families))
        self.families += 1

    @rule(k=st.integers(0, 7), n=st.integers(0, 2))
    def imul(self, k, n):
        plain, ms, _fam = self.pick_list(k)
        if len(plain) * n <= 40:
            plain *= n
            ms *= n

    @precondition(lambda self: len(self.lists) > 1)
    @rule(k=st.integers(1, 7))
    def drop_list(self, k):
        del self.lists[k % len(self.lists)]
        gc.collect()

    # -- the oracle ----------------------------------------------------------------

    @invariant()
    def same_everywhere(self):
        for plain, ms, _ in self.lists:
            assert len(ms) == len(plain)
            assert same([items(r) for r in ms], [items(d) for d in plain])
            if not has_nan(plain):
                # Another list's dicts: equal by value, which a NaN never is.
                assert ms == plain
            # Its own records, the same records again, NaN or not, as for a list (its
            # slices and copies are in `lists`: see `one_family_compares_as_its_dicts`).
            views, same_list = list(ms), ms
            assert ms == views and views == ms and ms <= views and ms >= same_list
            assert not (ms != views or ms < same_list)
            del views, same_list
            # The fields it reports and exports are the keys its dicts have: a key
            # deleted from every record is gone (an empty list keeps its fields).
            exported = pa.table(ms).column_names
            assert exported == list(ms.schema) == ms.columns
            if plain:
                assert set(exported) == {k for d in plain for k in d}
        for d, r, _ in self.views:
            assert same(items(r), items(d))
            assert len(r) == len(d)

    @invariant()
    def one_family_compares_as_its_dicts(self):
        """Lists and views of one family hold the same records: they compare, find and
        count them as the list of dicts does its dicts, `x is y or x == y`, NaN or not."""
        for plain_a, ms_a, fa in self.lists:
            for plain_b, ms_b, fb in self.lists:
                if fa != fb:
                    continue
                for op in (operator.eq, operator.ne, operator.lt, operator.le, operator.ge):
                    assert outcome(op, ms_a, ms_b) == outcome(op, plain_a, plain_b), op
            for d, r, fv in self.views:
                if fv != fa:
                    continue
                assert (r in ms_a) == (d in plain_a)
                assert ms_a.count(r) == plain_a.count(d)
                assert outcome(ms_a.index, r) == outcome(plain_a.index, d)
                for i in range(len(plain_a)):
                    assert (ms_a[i] == r) == (plain_a[i] == d)


Identity.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestIdentity = Identity.TestCase


# -- a store that holds rows no position reads ----------------------------------------


def _write_around_shared(rows, plain, n_writes):
    """`rows[p] = {...}` at every position whose dict no other position holds, over and
    over: each write adds a row to the store and leaves the old one unread."""
    counts = {}
    for d in plain:
        counts[id(d)] = counts.get(id(d), 0) + 1
    lone = [p for p, d in enumerate(plain) if counts[id(d)] == 1]
    for k in range(n_writes):
        p = lone[k % len(lone)]
        rows[p] = {"a": -k, "b": f"s{k % 100}"}
        plain[p] = {"a": -k, "b": f"s{k % 100}"}


def test_a_list_sharing_records_compacts_its_store_and_keeps_them_shared():
    n = 3_000
    plain = [{"a": k, "b": f"s{k}"} for k in range(n)]
    rows = memslim.DictList(plain)
    fresh = rows.nbytes
    rows[0] = rows[1]  # two positions, one record
    plain[0] = shared = plain[1]
    random.Random(4).shuffle(rows)
    random.Random(4).shuffle(plain)
    _write_around_shared(rows, plain, 4 * n)
    # Compacted whenever the unread rows outnumbered the records (plus a slack).
    assert rows.nbytes < 2 * fresh, (rows.nbytes, fresh)
    assert rows == plain
    p, q = [k for k, d in enumerate(plain) if d is shared]
    rows[p]["a"] = -1
    plain[p]["a"] = -1
    assert plain[q]["a"] == -1 and rows[q]["a"] == -1
    assert rows == plain


def test_a_view_held_across_many_writes_reads_and_writes_its_record():
    n = 2_000
    plain = [{"a": k, "b": f"s{k}"} for k in range(n)]
    rows = memslim.DictList(plain)
    rows[0] = rows[1]
    plain[0] = plain[1]
    view, d = rows[7], plain[7]
    _write_around_shared(rows, plain, 3 * n)
    assert items(view) == items(d)
    del rows[0]
    del plain[0]
    view["a"] = "seen"
    d["a"] = "seen"
    assert rows == plain


# -- the idioms of the issue, one by one ---------------------------------------------


def orders(n=6):
    return [{"id": i, "x": 0} for i in range(n)]


def test_a_row_follows_its_record():
    rows = memslim.DictList(orders())
    r = rows[2]
    rows.sort(key=lambda o: -o["id"])
    rows.insert(0, {"id": 99})
    random.Random(1).shuffle(rows)
    rows[0], rows[5] = rows[5], rows[0]
    assert r["id"] == 2
    r["x"] = 7
    assert [o["x"] for o in rows if o["id"] == 2] == [7]


def test_remove_while_iterating_a_copy():
    rows = memslim.DictList(orders())
    for r in list(rows):
        if r["id"] % 2:
            rows.remove(r)
    assert [r["id"] for r in rows] == [0, 2, 4]


def test_removed_record_stays_readable_and_writable():
    rows = memslim.DictList(orders(3))
    r0, r1, r2 = rows[0], rows[1], rows[2]
    del rows[0]
    rows.pop(0)
    rows.clear()
    assert (r0["id"], r1["id"], r2["id"]) == (0, 1, 2)
    r1["x"] = 5
    assert r1.to_dict() == {"id": 1, "x": 5}
    assert len(rows) == 0


def test_replaced_record_keeps_its_values():
    rows = memslim.DictList(orders(2))
    r = rows[0]
    rows[0] = {"id": 50}
    assert r["id"] == 0 and rows[0]["id"] == 50


def test_writes_through_a_slice_reach_the_list():
    rows = memslim.DictList(orders())
    for r in rows[1:]:
        r["x"] = 1
    assert [r["x"] for r in rows] == [0, 1, 1, 1, 1, 1]
    part = rows[:2]
    part.append({"id": 7})
    del part[0]
    assert len(rows) == 6 and rows[0]["id"] == 0


def test_copies_share_deep_copies_do_not():
    rows = memslim.DictList(orders(2))
    shallow, deep = rows.copy(), copy.deepcopy(rows)
    shallow[0]["x"] = 3
    deep[1]["x"] = 4
    assert rows[0]["x"] == 3 and rows[1]["x"] == 0


def test_one_record_twice():
    rows = memslim.DictList(orders(2))
    rows.append(rows[0])
    rows[0]["x"] = 9
    assert rows[-1]["x"] == 9
    doubled = rows * 2
    doubled[0]["x"] = 1
    assert rows[0]["x"] == 1 and rows[2]["x"] == 1


def test_where_shares_records():
    rows = memslim.DictList(orders())
    big = rows.where("id", ">=", 3)
    for r in big:
        r["x"] = 2
    assert [r["x"] for r in rows] == [0, 0, 0, 2, 2, 2]


def test_no_stale_row_error_left():
    rows = memslim.DictList(orders())
    views = list(rows)
    rows.sort(key=lambda o: o["id"], reverse=True)
    del rows[1:3]
    rows.reverse()
    assert [v["id"] for v in views] == list(range(6))


def row_refs():
    """References to the `Row` class: one per live view, beside the module's own.
    (Read here, not inside an `assert`, whose rewriting keeps its operands alive.)"""
    return sys.getrefcount(memslim.Row)


def test_every_view_is_a_row_and_is_freed_at_once(tmp_path):
    # Views are made one way (fast_slots.rs gives them their `Row` type) and read by a
    # fast `row[key]` that hands what it does not answer to the full path. Each view
    # holds a reference to its type: counting them shows no view is parked anywhere
    # (a deferred release, a lost reference) once the last user lets go.
    rows = memslim.DictList({"a": i, "n": [i] if i % 2 else None} for i in range(300))
    with memslim.DictList.open(tmp_path / "f.msl") as f:
        f.extend(rows[:5])
    f = memslim.DictList.open(tmp_path / "f.msl", "r")
    # Views that earlier tests left in reference cycles (a raised error's frames) are
    # collected first: a collection during this test would free them and drop the count
    # below a base that included them.
    gc.collect()
    base = row_refs()
    views = [*rows, rows[0], rows[-1], next(reversed(rows)), rows[1:3][1], rows[::-1][0]]
    views += [*rows.where("a", "<", 3), *f, f[0], f[1:3][0]]
    found = []
    rows.sort(key=lambda r, seen=found: seen.append(r) or r["a"])
    views += found
    assert all(type(v) is memslim.Row for v in views)
    assert row_refs() >= base + len(views)
    for i, r in enumerate(rows):  # re-pointed views, read by the fast slot
        assert r["a"] == i and r["n"] == ([i] if i % 2 else None)
        with pytest.raises(KeyError, match="'zz'"):
            r["zz"]
        with pytest.raises(KeyError):
            r[0]
    for r in f:  # a file's records: the same fast slots over the batch that holds them
        with pytest.raises(KeyError, match="'zz'"):
            r["zz"]
    assert [r["a"] for r in f] == [0, 1, 2, 3, 4] and f[1]["n"] == [1]
    assert rows[1:][0]["a"] == 1 and views[0]["a"] == 0
    del views, found, r
    assert row_refs() == base
    kept = [r for r in rows if r["a"] % 100 == 0]  # a kept view is never re-pointed
    assert [r["a"] for r in kept] == [0, 100, 200]
    del kept
    assert row_refs() == base
    f.close()


@pytest.mark.parametrize("n", [1000])
def test_identity_costs_nothing_until_used(n):
    rows = memslim.DictList({"id": i} for i in range(n))
    before = rows.nbytes
    for r in rows:
        pass
    del r  # the loop variable is a view too: while it lives, the list is shared
    rows.sort(key=lambda r: -r["id"])  # no view alive: done in place
    assert rows.nbytes <= before + 64
    r = rows[0]
    rows.reverse()  # a view alive: the list is reordered by positions (4 bytes each)
    assert rows.nbytes - before <= 4 * n + 64
    del r
    rows.reverse()  # nobody refers to the records: compacted, then done in place
    assert rows.nbytes <= before + 64


# -- the record file's views ---------------------------------------------------------


class FileViews(RuleBasedStateMachine):
    """A record file (`DictList.open`) against a list of dicts: records are never moved
    or changed in a record file, so every row and slice taken earlier must keep reading
    what the plain list's did, across appends, flushes and reopening."""

    @initialize(data=st.lists(records, max_size=4))
    def start(self, data):
        import tempfile
        from pathlib import Path

        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "rows.msl"
        self.rows = memslim.DictList.open(self.path)
        self.rows.extend(data)
        self.plain = [dict(d) for d in data]
        self.views = []  # (plain value, view)

    @rule(rec=records)
    def append(self, rec):
        self.rows.append(rec)
        self.plain.append(dict(rec))

    @rule(recs=st.lists(records, max_size=3))
    def extend(self, recs):
        self.rows.extend(iter(recs))
        self.plain.extend(dict(r) for r in recs)

    @rule(i=st.integers(-6, 6))
    def take_row(self, i):
        if self.plain and -len(self.plain) <= i < len(self.plain):
            self.views.append((self.plain[i], self.rows[i]))

    @rule(a=st.integers(-6, 6), b=st.integers(-6, 6), step=st.sampled_from([1, 2, -1]))
    def take_slice(self, a, b, step):
        self.views.append((self.plain[a:b:step], self.rows[a:b:step]))

    @rule()
    def flush(self):
        self.rows.flush()

    @rule()
    def reopen(self):
        self.rows.close()
        self.rows = memslim.DictList.open(self.path)
        self.views = []  # views of a closed file raise ClosedFileError (test_mmap.py)

    @invariant()
    def same(self):
        assert len(self.rows) == len(self.plain)
        assert [items(r) for r in self.rows] == [items(d) for d in self.plain]
        for p, v in self.views:
            if hasattr(v, "keys"):
                assert items(v) == items(p)
            else:
                assert [items(r) for r in v] == [items(d) for d in p]

    def teardown(self):
        if hasattr(self, "rows"):
            self.rows.close()
            self.dir.cleanup()


FileViews.TestCase.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
TestFileViews = FileViews.TestCase


def test_tuplelist_extended_with_itself_holds_copies():
    tl = memslim.TupleList([(1, "a"), (2, "b")], fields=("x", "y"))
    tl.extend(tl)
    tl += tl[:1]
    assert [tuple(t) for t in tl] == [(1, "a"), (2, "b"), (1, "a"), (2, "b"), (1, "a")]
    tl.sort(key=lambda t: -t.x)
    del tl[0]
    assert [t.x for t in tl] == [2, 1, 1, 1]


def test_lists_of_one_store_compare_the_same_record_by_identity():
    base = [{"v": float("nan")}, {"v": 1}, {"v": float("nan")}, {"v": 1}]
    rows = memslim.DictList(base)
    pick = [[0, 1], [1, 0], [0, 2], [1, 3], [2, 2], [0, 1, 2]]
    for a in pick:
        for b in pick:
            la, lb = [base[i] for i in a], [base[i] for i in b]
            ra, rb = rows[:0], rows[:0]
            ra.extend(rows[i] for i in a)
            rb.extend(rows[i] for i in b)
            assert (ra == rb) == (la == lb), (a, b)
            assert (ra != rb) == (la != lb), (a, b)
    assert rows == rows[:] and rows[::-1] != rows
    # Another store: compared by value, and a NaN is never equal to another NaN.
    assert rows != memslim.DictList(base)
    assert rows[1:2] == memslim.DictList([{"v": 1}])


def test_rows_stay_off_the_cycle_collectors_lists(tmp_path):
    rows = memslim.DictList([{"a": i, "b": [i]} for i in range(5)])
    f = memslim.DictList.open(tmp_path / "f.msl")
    f.extend(rows)
    f.flush()
    made = [rows[0], *rows, *list(rows), *rows[1:3], *f, f[0]]
    assert made and not any(gc.is_tracked(r) for r in made)
    # A cycle that holds a row is still collected, and the row with it.
    cycle = [rows[1]]
    cycle.append(cycle)
    del cycle, made
    gc.collect()
    assert dict(rows[1]) == {"a": 1, "b": [1]}
    f.close()


@pytest.mark.parametrize("target", [slice(1, 3), slice(0, 0), slice(5, None), slice(None)])
@pytest.mark.parametrize(
    "source", ["itself", "a slice", "a copy", "a generator", "reversed", "filter", "iter"]
)
def test_a_list_assigned_into_its_own_slice_shares_its_records(target, source):
    """`L[1:3] = L` (or a lazy iterable over L): positions then hold the same dicts, and
    a write shows at each."""
    base = [{"a": i} for i in range(5)]
    plain, rows = copy.deepcopy(base), memslim.DictList(base)
    pick = {
        "itself": lambda L: L,
        "a slice": lambda L: L[1:4],
        "a copy": lambda L: L.copy(),
        "a generator": lambda L: (r for r in L),
        "reversed": reversed,
        "filter": lambda L: filter(lambda r: r["a"] % 2 == 0, L),
        "iter": iter,
    }
    for L in (plain, rows):
        L[target] = pick[source](L)
        for i in range(len(L)):
            L[i]["a"] += 10 * (i + 1)
    assert [d["a"] for d in rows] == [d["a"] for d in plain]


def test_views_release_their_store_one_by_one_and_the_last_frees_it():
    # `Row`s are made and freed by fast_slots.rs without PyO3's wrapper while another
    # holder keeps their store (see `row_dealloc`); the last holder goes through PyO3's.
    # A view reports its store's bytes only once it is the store's last holder, so the
    # sizes show that each freed view let go of its share, and no more.
    rows = memslim.DictList({"a": i, "s": f"v{i}", "n": None if i % 3 else [i]} for i in range(500))
    own = sys.getsizeof(rows[0])
    views = list(rows)
    views += sorted(rows, key=lambda r: -r["a"])
    assert all(v.__sizeof__() < own + 64 for v in views)
    del rows
    last = views[-1]  # the record 0, kept alone
    views = views[:7]
    assert last.__sizeof__() < own + 64  # seven more views still hold the store
    assert [dict(v) for v in views] == [
        {"a": i, "s": f"v{i}", "n": None if i % 3 else [i]} for i in range(7)
    ]
    del views
    assert last.__sizeof__() > own + 500 * 8  # the store's last holder
    assert last == {"a": 0, "s": "v0", "n": [0]} and last["s"] == "v0"
    last["a"] = 9
    assert dict(last) == {"a": 9, "s": "v0", "n": [0]}
    del last  # frees the store (PyO3's dealloc)
