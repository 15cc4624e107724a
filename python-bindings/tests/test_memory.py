"""Honest memory: what memslim reports matches what the process really uses.

Every measurement runs in a fresh interpreter so earlier tests cannot pollute RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs /proc/self/status (Linux)"
)

N_RECORDS = 200_000

# Shared prelude: an RSS reader and a generator of realistic records, so that the
# list of dicts is never resident while the DictList is being measured.
PRELUDE = """
import ctypes, gc, json, random, sys

def settle():
    \"\"\"Collects garbage and hands glibc's free heap back, so that a baseline taken next
    counts no free memory the structure measured then reuses (startup and a warm-up
    leave several hundred KB free, which would read as a structure smaller than its
    buffers).\"\"\"
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found")

COUNTRIES = [chr(65 + i // 26) + chr(65 + i % 26) for i in range(0, 80, 2)]  # 40 codes

def records(n):
    rng = random.Random(12345)
    for i in range(n):
        yield {
            "id": i,
            "user": f"user_{rng.randrange(20_000):05d}",
            "price": round(rng.uniform(1, 500), 2),
            "qty": rng.randrange(1, 10),
            "paid": rng.random() < 0.7,
            "country": COUNTRIES[rng.randrange(40)],
            "note": None if rng.random() < 0.8 else f"note {i}: handle with care",
        }
"""


def probe(body, n=N_RECORDS):
    """Run PRELUDE + body in a fresh interpreter; body prints one JSON object."""
    code = PRELUDE + f"\nN = {n}\n" + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"probe failed ({proc.returncode}):\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def build_and_free():
    return probe(
        """
        import memslim
        # Warm up: page in the extension's code paths and the allocator.
        warm = memslim.DictList(records(5_000))
        warm.column("price").sum()
        del warm
        settle()

        before = rss()
        rows = memslim.DictList(records(N))
        gc.collect()
        after = rss()
        result = {
            "before": before,
            "after": after,
            "nbytes": rows.nbytes,
            "sizeof": sys.getsizeof(rows),
            "len": len(rows),
        }
        del rows
        gc.collect()
        result["freed"] = rss()
        print(json.dumps(result))
        """
    )


def mib(n):
    return f"{n / 2**20:.2f} MiB"


def test_probe_built_every_record(build_and_free):
    assert build_and_free["len"] == N_RECORDS
    assert build_and_free["nbytes"] > 0


def test_nbytes_matches_rss_growth(build_and_free):
    growth = build_and_free["after"] - build_and_free["before"]
    nbytes = build_and_free["nbytes"]
    assert abs(growth - nbytes) <= 0.10 * nbytes, (
        f"RSS grew {mib(growth)} but nbytes says {mib(nbytes)}"
    )


def test_getsizeof_matches_rss_growth(build_and_free):
    growth = build_and_free["after"] - build_and_free["before"]
    size = build_and_free["sizeof"]
    assert size >= build_and_free["nbytes"]
    assert abs(growth - size) <= 0.10 * size, (
        f"RSS grew {mib(growth)} but sys.getsizeof says {mib(size)}"
    )


def test_memory_returns_to_the_os_after_del(build_and_free):
    leftover = build_and_free["freed"] - build_and_free["before"]
    margin = max(2**20, build_and_free["nbytes"] // 10)
    assert leftover <= margin, (
        f"{mib(leftover)} still resident after del (nbytes was {mib(build_and_free['nbytes'])})"
    )


def test_tracemalloc_sees_the_buffers():
    result = probe(
        """
        import tracemalloc
        import memslim
        warm = memslim.DictList(records(1_000))
        del warm
        gc.collect()

        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        rows = memslim.DictList(records(N))
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - baseline
        nbytes = rows.nbytes
        del rows
        gc.collect()
        traced_after_del = tracemalloc.get_traced_memory()[0] - baseline
        print(json.dumps({"traced": traced, "nbytes": nbytes, "after_del": traced_after_del}))
        """
    )
    assert result["traced"] >= 0.9 * result["nbytes"], (
        f"tracemalloc sees {mib(result['traced'])} of {mib(result['nbytes'])}"
    )
    assert result["after_del"] <= 0.1 * result["nbytes"], (
        f"tracemalloc still counts {mib(result['after_del'])} after del"
    )


def test_dictlist_is_much_smaller_than_list_of_dicts(build_and_free):
    baseline = probe(
        """
        gc.collect()
        before = rss()
        data = list(records(N))
        gc.collect()
        print(json.dumps({"growth": rss() - before, "len": len(data)}))
        """
    )
    assert baseline["len"] == N_RECORDS
    ratio = baseline["growth"] / build_and_free["nbytes"]
    assert ratio >= 8, (
        f"list of dicts {mib(baseline['growth'])} vs DictList "
        f"{mib(build_and_free['nbytes'])}: only {ratio:.1f}x smaller"
    )


@pytest.mark.parametrize("per_load", [2, 10_000])
def test_a_list_built_in_small_loads_is_as_small_as_one_built_at_once(per_load):
    """Loads of a few records settle without trimming the whole tail (that was
    quadratic), so what they leave spare must stay bounded; and the first load, which
    sees 10,000 names nearly all new, must not keep the name column plain for good."""
    import random

    import memslim

    rng = random.Random(5)
    data = [
        {
            "id": i,
            "user": f"user_{rng.randrange(20_000):05d}",
            "price": rng.randrange(100, 50_000) / 100,
            "country": f"C{rng.randrange(40)}",
            "note": None if rng.random() < 0.8 else f"note {i % 7}",
        }
        for i in range(80_000)
    ]

    whole = memslim.DictList(data)
    built = memslim.DictList()
    for start in range(0, len(data), per_load):
        built.extend(data[start : start + per_load])
    assert built == data
    assert built.storage_info() == whole.storage_info()
    assert built.nbytes <= whole.nbytes * 9 // 8 + (64 << 10), (built.nbytes, whole.nbytes)


def test_a_failed_extend_leaves_the_list_its_size():
    """The rows of a refused load are rolled back, and so is the room made for them."""
    import memslim

    data = [{"id": i, "name": f"n{i % 50}", "x": i * 0.5} for i in range(100_000)]
    rows = memslim.DictList(data, schema={"id": "int64", "name": "str", "x": "float64"})
    before = rows.nbytes
    bad = data[:50_000] + [{"id": "oops", "name": "a", "x": 1.0}]
    with pytest.raises(memslim.SchemaError, match="row 150000"):
        rows.extend(bad)
    assert rows == data
    assert rows.nbytes == before


def _churn(kind: str, steps: int):
    """A 300-record list whose string field is rewritten `steps` times, by every write
    path (row write, update, replace, append + pop, extend + del), next to a plain
    list of dicts/tuples doing the same; every value written is read back at once (a
    rebuilt dictionary must not leave stale cached strings)."""
    import memslim

    n = 300
    if kind == "dict":
        model = [{"id": i, "status": f"s{i}"} for i in range(n)]
        rows = memslim.DictList(dict(r) for r in model)
    else:
        model = [(i, f"s{i}") for i in range(n)]
        rows = memslim.TupleList(model, ("id", "status"))
    sizes = []
    for step in range(steps):
        v = f"value written at step {step}"
        i = (step * 7) % n
        op = step % 5
        if op == 0 and kind == "dict":
            rows[i]["status"] = v
            model[i]["status"] = v
        elif op == 1 and kind == "dict":
            rows[i].update(status=v, id=i)
            model[i].update(status=v, id=i)
        elif op in (0, 1, 2):
            rec = {"id": i, "status": v} if kind == "dict" else (i, v)
            rows[i] = rec
            model[i] = rec
        elif op == 3:
            rec = {"id": -1, "status": v} if kind == "dict" else (-1, v)
            rows.append(rec)
            assert rows.pop() == rec
            continue
        else:
            more = [
                {"id": -1, "status": f"{v} {k}"} if kind == "dict" else (-1, f"{v} {k}")
                for k in range(3)
            ]
            rows.extend(more)
            assert rows[n:] == more
            del rows[n:]
            continue
        got = rows[i]["status"] if kind == "dict" else rows[i][1]
        assert got == v, (step, got, v)
        if step % 500 == 0:
            sizes.append(rows.nbytes)
    return rows, model, sizes


@pytest.mark.parametrize("kind", ["dict", "tuple"])
def test_rewriting_strings_keeps_a_list_of_fixed_length_bounded(kind):
    """Oracle: a plain list of dicts/tuples keeps its size however often its strings
    change; the list's string dictionary is rebuilt from the strings it still holds."""
    import pickle

    import memslim

    rows, model, sizes = _churn(kind, 40_000)
    assert list(rows) == model
    assert rows.storage_info()["status"].startswith("str:dict"), rows.storage_info()
    fresh = (
        memslim.DictList(model) if kind == "dict" else memslim.TupleList(model, ("id", "status"))
    )
    # At most twice the records plus 4,096 strings no record holds: ~150 KB here, where
    # keeping all 60,000 strings written took ~2.5 MB. Each of those strings was read
    # back, so the list also keeps its `str` object (~80 bytes, and a 16-byte slot)
    # until the dictionary is rebuilt.
    bound = fresh.nbytes + 400_000 + 4_096 * 100
    assert max(sizes) < bound, (sizes, fresh.nbytes)
    assert rows.nbytes < bound
    assert len(pickle.dumps(rows)) < len(pickle.dumps(fresh)) + 300_000
    assert pickle.loads(pickle.dumps(rows)) == model


def test_a_rebuilt_dictionary_leaves_copies_slices_and_views_as_they_were():
    import memslim

    rows = memslim.TupleList(((i, f"s{i}") for i in range(100)), ("id", "status"))
    copy, part = rows.copy(), rows[10:20]
    column = rows.column("status")
    before = list(column)
    for step in range(10_000):
        rows[step % 100] = (step % 100, f"new {step}")
    assert list(copy) == [(i, f"s{i}") for i in range(100)]
    assert list(part) == [(i, f"s{i}") for i in range(10, 20)]
    assert list(column) == before
    assert list(rows) == [(i, f"new {9_900 + i}") for i in range(100)]


def test_a_failed_append_after_a_dictionary_was_rebuilt_takes_back_only_its_records():
    """`extend` of a few records appends them one by one, each of which may rebuild the
    dictionary; a later bad record rolls the call back to what the list held."""
    import memslim

    rows = memslim.DictList(({"status": f"s{i}"} for i in range(50)), schema={"status": "str"})
    model = [{"status": f"s{i}"} for i in range(50)]
    for k in range(6_000):
        rows[k % 50]["status"] = f"w{k}"
        model[k % 50]["status"] = f"w{k}"
        with pytest.raises(memslim.SchemaError):
            rows.extend([{"status": f"n{k}"}, {"status": f"m{k}"}, {"status": k}])
        assert len(rows) == 50
        assert rows[k % 50]["status"] == f"w{k}"
    assert rows == model
    rows.append({"status": "last"})
    assert rows[-1]["status"] == "last" and rows[:50] == model


# -- `rows + x`: a dropped sum gives its records back ---------------------------------

SUM_LOOP = """
import memslim
rows = memslim.DictList(records(N))

def new(k):
    # 200-odd bytes a record, unique, in a field stored plain ("user"): a record kept per
    # sum would show. (A dictionary-encoded field keeps the strings it was given up to
    # its bound, twice the records plus 4,096, however records come and go.)
    return {"id": N + k, "user": "u" * 200 + str(k), "price": 1.5, "qty": 1,
            "paid": True, "country": "AA", "note": None}

radd = RADD
for k in range(2_000):  # warm up: the allocator and the store's reused rows
    tmp = [new(k)] + rows if radd else rows + [new(k)]
del tmp
gc.collect()
before, nbytes_before, len_before = rss(), rows.nbytes, len(rows)
for k in range(20_000):
    d = new(k)
    tmp = [d] + rows if radd else rows + [d]
    assert tmp[0 if radd else -1]["user"] == d["user"]
    assert len(tmp) == len_before + 1
del tmp
gc.collect()
print(json.dumps({"before": before, "after": rss(), "nbytes_before": nbytes_before,
                  "nbytes_after": rows.nbytes, "len": len(rows), "first": dict(rows[0]),
                  "last": dict(rows[-1]), "storage": rows.storage_info()}))
"""


@pytest.mark.parametrize("radd", [False, True])
def test_a_loop_of_dropped_sums_leaves_the_list_its_size(radd):
    """`for d in ds: tmp = rows + [d]` kept every `d` in `rows`' store (shared with its
    sums), growing RSS and `rows.nbytes` by a record a step until `rows` was next
    edited, where a list of dicts grows nothing. A dropped sum's records go back now."""
    n = 10_000
    r = probe(SUM_LOOP.replace("RADD", str(radd)), n=n)
    assert r["len"] == n
    assert r["first"]["id"] == 0 and r["last"]["id"] == n - 1
    assert r["storage"]["user"] == "str:plain"
    grew = r["nbytes_after"] - r["nbytes_before"]
    # 20,000 kept records would be about 5 MiB; one or two in flight are not.
    assert grew <= 64 * 1024, f"rows.nbytes grew {mib(grew)} over 20,000 dropped sums"
    rss_grew = r["after"] - r["before"]
    assert rss_grew <= 2**20, f"RSS grew {mib(rss_grew)} over 20,000 dropped sums"


def test_a_dropped_big_sum_gives_its_memory_back_at_once():
    r = probe(
        """
        import memslim
        rows = memslim.DictList(records(N))
        more = list(records(N))
        tmp = rows + more
        gc.collect()
        base = rows.nbytes
        with_sum = rss()
        del tmp
        gc.collect()
        print(json.dumps({"with_sum": with_sum, "after": rss(), "base": base,
                          "nbytes": rows.nbytes, "len": len(rows)}))
        """,
        n=100_000,
    )
    assert r["len"] == 100_000
    assert r["nbytes"] < r["base"] * 0.6, "the sum's records left rows' store"
    assert r["with_sum"] - r["after"] >= r["nbytes"] * 0.5, "and its memory the process"


# -- copies that share their buffers are counted once ---------------------------------

COPIES = """
import copy, tracemalloc
import memslim
tracemalloc.start()
FIELDS = ("id", "user", "price", "qty", "paid", "country", "note")
if KIND == "tuple":
    rows = memslim.TupleList((tuple(r.values()) for r in records(N)), fields=FIELDS)
else:
    rows = memslim.DictList(records(N))

def figures():
    gc.collect()
    return [rss(), tracemalloc.get_traced_memory()[0], memslim.stats()["structure_bytes"]]

steps = [figures()]
summed = rows + []
steps.append(figures())
deep = copy.deepcopy(rows)
steps.append(figures())
assert len(summed) == len(deep) == N
print(json.dumps({"nbytes": rows.nbytes, "steps": steps,
                  "deep_sizeof": memslim.deep_sizeof([rows, summed, deep])}))
"""


@pytest.mark.parametrize("kind", ["dict", "tuple"])
def test_copies_sharing_buffers_are_counted_once(kind):
    """`t + []` of a TupleList and `copy.deepcopy` of either list share the source's
    column chunks (copy-on-write) and cost the process next to nothing, but each new
    store reported every byte again to tracemalloc and `memslim.stats()` (twice the
    memory for two copies). They count what they add, as RSS and `deep_sizeof` do."""
    r = probe(COPIES.replace("KIND", repr(kind)), n=600_000)
    nbytes = r["nbytes"]
    assert nbytes > 12 * 2**20
    tolerance = 0.05 * nbytes + 2**20
    for (rss0, tm0, st0), (rss1, tm1, st1) in zip(r["steps"], r["steps"][1:]):
        grew = rss1 - rss0
        assert abs((tm1 - tm0) - grew) <= tolerance, (
            f"tracemalloc grew {mib(tm1 - tm0)}, RSS {mib(grew)}"
        )
        assert abs((st1 - st0) - grew) <= tolerance, (
            f"stats() grew {mib(st1 - st0)}, RSS {mib(grew)}"
        )
    # The three lists hold one set of records.
    assert r["deep_sizeof"] < 1.2 * nbytes


@pytest.mark.parametrize("kind", ["DictList", "TupleList"])
def test_strings_made_for_reads_are_counted(kind):
    """The `str` objects a list keeps for the values of a small dictionary (made on the
    first read of each, shared by later reads) are memory the list holds: `nbytes`
    grows by what `sys.getsizeof` says each one takes, once per distinct value."""
    import memslim

    words = ["DE", "", "é" * 3, "€uro", "😀 x", "DE", "é" * 3]
    recs = [{"id": i, "w": w} for i, w in enumerate(words)]
    rows = (
        memslim.DictList(recs)
        if kind == "DictList"
        else memslim.TupleList([(r["id"], r["w"]) for r in recs], ["id", "w"])
    )
    assert rows.storage_info()["w"].startswith("str:dict")
    before = rows.nbytes
    seen = [r["w"] if kind == "DictList" else r[1] for r in rows]
    assert seen == words
    # The strings read (not the literals above: a literal also keeps its UTF-8 bytes).
    made = {id(w): w for w in seen}
    assert len(made) == len(set(words))
    assert rows.nbytes - before == sum(sys.getsizeof(w) for w in made.values())
    # Read again: the same strings, nothing more.
    again = [r["w"] if kind == "DictList" else r[1] for r in rows]
    assert all(a is b for a, b in zip(again, seen))
    assert rows.nbytes - before == sum(sys.getsizeof(w) for w in made.values())


def test_rss_growth_of_reads_matches_nbytes_growth():
    """Reading every record of a list whose string fields have tens of thousands of
    distinct values makes the strings the list then keeps; RSS grows by what `nbytes`
    says it grew (in a fresh process, within 10%)."""
    result = probe(
        """
        import memslim
        rows = memslim.DictList(
            {"id": i, "user": f"user-{i % 60_000:06d}", "city": f"cité-{i % 30_000}"}
            for i in range(N)
        )
        settle()
        before, size = rss(), rows.nbytes
        for r in rows:
            r["user"], r["city"]
        gc.collect()
        print(json.dumps({"growth": rss() - before, "more": rows.nbytes - size,
                          "layout": rows.storage_info()}))
        """,
        n=1_000_000,
    )
    assert result["layout"]["user"].startswith("str:dict"), result["layout"]
    growth, more = result["growth"], result["more"]
    assert more > 4 * 2**20
    assert abs(growth - more) <= 0.10 * more, f"RSS grew {mib(growth)}, nbytes {mib(more)}"


@pytest.mark.parametrize("how", ["in band", "out of band"])
def test_a_pickled_list_read_in_place_is_counted_once(how):
    """A DictList loaded from a protocol-5 pickle reads the pickle's buffers in place:
    Python's `bytes` objects (in band), or in this process the original list's own
    buffers (out of band). tracemalloc then grows by what RSS grows by, not by that
    memory once more, and `deep_sizeof` of both lists counts the memory they share once."""
    result = probe(
        f"""
        import pickle, tracemalloc
        import memslim
        rows = memslim.DictList(records(N))
        oob = {how == "out of band"!r}
        bufs = []
        payload = pickle.dumps(rows, protocol=5, buffer_callback=bufs.append if oob else None)
        if not oob:
            del rows
        settle()
        tracemalloc.start()
        before, traced = rss(), tracemalloc.get_traced_memory()[0]
        back = pickle.loads(payload, buffers=bufs)
        settle()
        out = {{"growth": rss() - before, "traced": tracemalloc.get_traced_memory()[0] - traced,
               "nbytes": back.nbytes}}
        if oob:
            out["both"] = memslim.deep_sizeof([rows, back])
            out["one"] = memslim.deep_sizeof(rows)
        print(json.dumps(out))
        """,
        n=1_000_000,
    )
    growth, traced = result["growth"], result["traced"]
    assert abs(traced - growth) <= 0.15 * growth + 2**20, (
        f"RSS grew {mib(growth)}, tracemalloc {mib(traced)}"
    )
    if how == "out of band":
        # What the loaded list has of its own (bitmaps, dictionaries, bookkeeping) is
        # a small part; before, the shared values counted twice.
        assert growth < result["nbytes"] / 3, result
        assert result["both"] < 1.5 * result["one"], result
    else:
        # The list keeps the `bytes` objects alive: all of it is new memory.
        assert abs(result["nbytes"] - growth) <= 0.15 * growth, result
