"""Workload run under valgrind memcheck: every path through memslim's unsafe code.

Zero-copy Arrow export (buffers shared with pyarrow, then the list written and dropped
while the consumer still reads), Arrow stream import (PyCapsule hand-over, a producer's
Null arrays mended), the GIL cell behind every list operation, bulk appends that read
dict items in place, recycled row views, and tracemalloc registration.
"""

import gc
import json
import os
import pickle
import tempfile
import tracemalloc

import memslim
import numpy as np
import polars as pl
import pyarrow as pa

tracemalloc.start()
rows = memslim.DictList(
    {"id": i * 10_000_000_000, "s": f"s{i % 7}", "f": i / 3, "n": None if i % 3 else i}
    for i in range(3000)
)
# Bulk path over a list: items read in place (plain_dicts.rs), mixed with records that
# need the general path, new keys mid-batch, bytes, big ints and lone surrogates.
# More than two grids (2,048 records each), so a worker thread stores grids while the
# caller reads the next one from the same borrowed objects.
plain = [
    {"id": i, "s": f"s{i % 5}", "b": b"x" * (i % 3), "f": i / 7, "t": i % 2 == 0}
    for i in range(7000)
]
plain[100] = {"id": 2**70, "nested": [1, {"k": "v"}]}
plain[300] = {"s": "\ud800", "new": None}
plain[5000] = {"late": "key", "id": 5000}
bulk = memslim.DictList(plain)
assert len(bulk) == 7000 and bulk[100]["id"] == 2**70 and bulk[6999]["s"] == "s4"
assert bulk[5000] == {"late": "key", "id": 5000}
tuples = [(i, f"s{i % 5}", i / 3) for i in range(7000)]
tuples[7] = (7, ["general"], None)
tl_bulk = memslim.TupleList(tuples, fields=("a", "b", "c"))
assert tl_bulk[7].b == ["general"] and tl_bulk[6999].c == 6999 / 3
del bulk, plain, tuples, tl_bulk
table = pa.table(rows)  # shares the list's buffers
rows[0]["id"] = -1  # copy-on-write: the exported table must keep its values
rows.extend(rows[:100])
del rows[5:50]
kept = [r for r in rows]  # recycled views must not leak into kept rows
assert [r["f"] for r in kept[:3]] == [r["f"] for r in list(rows)[:3]]
assert table.column("id")[0].as_py() == 0
del rows, kept
gc.collect()
# Fast slots (fast_slots.rs): views made as PyO3's class and given the `Row` type,
# `row[key]` and `next()` answered in C or handed to PyO3's own slots (missing keys,
# nested values, record files), views freed on the spot.
fast = memslim.DictList({"a": i, "n": [i] if i % 2 else None} for i in range(500))
misses = 0
for r in fast:
    try:
        r["zz"]
    except KeyError:
        misses += 1
total = sum(r["a"] + (r["n"] or [0])[0] for r in fast)
assert misses == 500 and total == sum(range(500)) + sum(range(1, 500, 2))
views = [*fast, *reversed(fast), fast[3]]
assert views[3]["n"] == [3] and views[-1]["a"] == 3 and type(views[0]) is memslim.Row
# `row[key] = value` and `del row[key]`: scalars in C, the rest (a new field, a string,
# a nested value, a missing key) through PyO3's slot.
for r in fast:
    r["a"] = r["a"] * 2
    r["t"] = 0.5
    del r["t"]
fast[1]["a"], fast[2]["n"] = "two", {"k": [1]}
try:
    del fast[3]["zz"]
except KeyError:
    misses += 1
assert fast[4]["a"] == 8 and fast[1]["a"] == "two" and "t" not in fast[0] and misses == 501
# `row.get` and `in`: a value or a missing key in C, a nested value and bad calls
# through PyO3.
got = [(r.get("a"), r.get("zz", 0), r.get("n")) for r in fast]
assert got[4] == (8, 0, None) and got[3] == (6, 0, [3]) and got[2][2] == {"k": [1]}
assert ["a" in r and "zz" not in r and 1 not in r for r in fast] == [True] * 500
try:
    fast[0].get()
except TypeError:
    misses += 1
assert misses == 502
# `iter(row)` and `len(row)`: a record with every field in field order shares its list's
# names (one tuple); one without lists its own keys through PyO3's slot.
del fast[5]["n"]
keys = [list(r) for r in fast]
assert keys[4] == ["a", "n"] and keys[5] == ["a"] and [len(r) for r in fast][4:6] == [2, 1]
assert dict(fast[4]) == {"a": 8, "n": None} and {**fast[5]} == {"a": 10}
# `append` of the usual record: its keys matched by identity or by text, its cells read
# in place; anything else (a new field, a nested value) the general way.
grown = memslim.DictList()
for i in range(300):
    grown.append({"a": i, "s": f"v{i % 7}", "f": i / 2})
    # No parsed 0: CPython 3.11 makes it from an uninitialised digit (the pointer to
    # the shared 0 then counts as undefined for memcheck, wherever it is read).
    grown.append(json.loads(json.dumps({"a": i + 1, "s": "j", "f": 0.5})))
shared = ["".join("a"), "".join("s"), "".join("f")]  # one set of key objects, as csv's
for i in range(100):
    grown.append(dict(zip(shared, (i + 1, "c", 1.5), strict=True)))
grown.append({"a": 1, "new": [1]})
assert len(grown) == 701 and grown[1]["s"] == "j" and grown[-1]["new"] == [1]
tgrown = memslim.TupleList(fields=("a", "s"))
for i in range(300):
    tgrown.append((i, f"t{i % 5}"))
tgrown.append((1, [2]))
assert len(tgrown) == 301 and tgrown[7] == (7, "t2") and tgrown[-1] == (1, [2])
del fast, views, r, grown, tgrown
gc.collect()
assert table.column("s")[10].as_py() == "s3"  # the table outlives the list

back = memslim.DictList.from_arrow(table)
assert len(back) == 3000
assert pickle.loads(pickle.dumps(back)) == back
tl = memslim.TupleList([(1, "a"), (2, "b")], fields=("x", "y"))
assert pa.table(tl).num_rows == 2
# A producer's stream read by arrow_stream.rs' own reader, Null arrays mended: polars
# exports them with a buffer the specification does not give them.
pdf = pl.DataFrame(
    {"x": [None, None], "y": [1, 2], "s": [{"a": 1, "b": None}] * 2, "l": [[None], []]}
)
assert memslim.DictList.from_arrow(pdf).to_list()[1] == {
    "x": None,
    "y": 2,
    "s": {"a": 1, "b": None},
    "l": [],
}
# TupleList rows built natively (tuple_rows.rs): recycled rows in a loop, rows kept, rows
# holding containers (tracked by the gc) after rows that hold none (untracked).
mixed = memslim.TupleList(
    [(i, [i] if i % 3 == 0 else f"s{i}") for i in range(500)], fields=("n", "v")
)
kept_rows = [t for t in mixed if t.n % 7 == 0]
total = sum(t.n for t in mixed)
assert total == sum(range(500)) and kept_rows[1] == (7, "s7") and kept_rows[3].v == [21]
# Indexing refills the row it made last once nothing else holds it (store.rs `tuple_row`).
held = [mixed[i] for i in range(0, 500, 50)]
assert sum(mixed[i].n for i in range(500)) == total and held[1] == (50, "s50")
# Column iterators hand out values made a batch ahead through their fast next() slot.
pairs = list(zip(mixed.column("n"), mixed.column("v")))
assert len(pairs) == 500 and pairs[3] == (3, [3]) and sum(mixed.column("n")) == total
del mixed
gc.collect()
assert kept_rows[2] == (14, "s14")
# Rows and columns read from a dictionary too large for the cache ask the CPU for its
# entries ahead, and rows read one at a time for every field at once (hint.rs).
names = [f"name-{(i * 7919) % 30011:07d}" if i % 11 else None for i in range(40_000)]
wide = memslim.TupleList(list(enumerate(names)), fields=("i", "name"))
assert [t.name for t in wide] == names and list(wide.column("name")) == names
assert [wide[k].name for k in range(0, 40_000, 997)] == names[::997]
del wide
# Pickle protocol 5 out of band (pickle.rs): the buffers outlive the list they came from.
oob = []
payload = pickle.dumps(back, protocol=5, buffer_callback=oob.append)
again = pickle.loads(payload, buffers=[b.raw() for b in oob])
assert again == back
# Loads read immutable buffers in place (pickle.rs `Arg::into_buffer`): bytes frames as a
# transport delivers them, outliving the frames list, then written to (copy on write).
frames = [bytes(b.raw()) for b in oob]
from_frames = pickle.loads(payload, buffers=frames)
del frames, oob, payload
gc.collect()
assert from_frames == back
from_frames.append(dict(from_frames[0]))
from_frames[1] = dict(from_frames[2])
assert from_frames[-1] == back[0] and from_frames[1] == back[2]
del from_frames
# memoryview over a numeric column (the buffer protocol in pickle.rs / mmap_ffi.rs).
nums = memslim.DictList({"x": float(i)} for i in range(100))
view_x = memoryview(nums.column("x"))
assert view_x[99] == 99.0
del nums
assert view_x.tolist()[:2] == [0.0, 1.0]
view_x.release()
assert memslim.DictList.from_arrow(pa.table(tl))[1]["y"] == "b"
# DocList: documents in arena chunks (memslim-arena's arena.rs), views that outlive
# deletes, compaction and the list itself, JSON Lines, pickling.
docs = memslim.DocList(
    {"id": i, "user": {"name": f"u{i % 9}", "tags": ["a", "b"][: i % 3]}, "geo": (1.5, i)}
    for i in range(2000)
)
view = docs[7]["user"]
tags = docs[8]["user"]["tags"]
del docs[0:1500]
assert docs.garbage_bytes > 0
docs.compact()
docs.extend(docs[:10])
assert view["name"] == "u7" and tags.to_python() == ["a", "b"]
back = pickle.loads(pickle.dumps(docs))
assert back == docs.to_python()
# Read in place from an out-of-band frame (arena.rs `adopt`): the frame is dropped,
# then the documents are read through views, added to and compacted.
oob = []
stream = pickle.dumps(docs, protocol=5, buffer_callback=oob.append)
frame = [bytes(b.raw()) for b in oob]
inplace = pickle.loads(stream, buffers=frame)
del oob, frame
gc.collect()
kept = inplace[3]["user"]
inplace.append({"late": [1, 2]})
del inplace[0:2]
inplace.compact()
assert kept["name"] == docs[3]["user"]["name"]
assert inplace[-1] == {"late": [1, 2]} and len(inplace) == len(docs) - 1
del inplace
jl = memslim.DocList.from_jsonl(b'{"a": [1, 2.5, "x"]}\n{"a": null}\n' * 200)
assert jl[399]["a"] is None
del docs, back, jl
gc.collect()
assert view.to_python() == {"name": "u7", "tags": ["a"]}

# Persistent files (mmap_ffi.rs, memslim-mmap's map.rs): a saved list read back through
# the map, its batches exported to pyarrow and used after the file is closed, and an
# NumberFile viewed by numpy (buffer protocol), grown after the view is gone, refusing to
# grow under a view taken mid-extend, and collected without close(); a column
# view of a file handed to numpy and pyarrow over the map.
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "rows.msl")
    memslim.DictList({"id": i, "s": f"s{i % 7}", "o": [i, {"k": i}]} for i in range(3000)).save(
        path
    )
    with memslim.DictList.open(path) as f:
        f.extend({"id": i, "s": None, "o": None} for i in range(10))
        f.flush()
        exported = pa.table(f)
        assert f[2999]["o"] == [2999, {"k": 2999}]
        assert sum(r["id"] for r in f) == sum(range(3000)) + sum(range(10))
    assert exported.column("id")[3005].as_py() == 5  # the map outlives the file
    # a column view over one mapped batch: numpy views the map, which outlives the file
    one = os.path.join(tmp, "one.msl")
    with memslim.DictList.open(one) as f:
        f.extend({"x": i / 2} for i in range(1000))
    f = memslim.DictList.open(one, "r")
    col = f.column("x")
    arr, head = np.asarray(col), f[:3]
    col_table = pa.table(col)
    f.close()
    del f
    assert arr.sum() == sum(i / 2 for i in range(1000))
    assert col_table.column("x")[999].as_py() == 499.5 and len(head) == 3
    nums = memslim.NumberFile(os.path.join(tmp, "n.bin"), dtype="int32")
    nums.extend(range(1000))
    view = np.asarray(nums)
    view[3] = -3
    assert nums[3] == -3 and int(view.sum()) == sum(range(1000)) - 6
    del view
    nums.extend(range(5000))  # grows and remaps
    assert np.asarray(nums)[-1] == 4999

    def viewing(values):  # a view taken while extend converts: the growth is refused
        taken.append(np.asarray(nums))
        yield from values

    taken: list = []
    try:
        nums.extend(viewing(range(100_000)))
    except BufferError:
        pass
    assert taken.pop()[-1] == 4999 and len(nums) == 6000
    nums.close()
    dropped = memslim.NumberFile(os.path.join(tmp, "d.bin"), dtype="float64")
    dropped.extend([0.5] * 5000)
    del dropped  # flushed and unmapped when collected
    assert len(memslim.NumberFile(os.path.join(tmp, "d.bin"), mode="r")) == 5000

print("valgrind workload ok", tracemalloc.get_traced_memory()[0] > 0)

# memslim.stats(): the live counters and glibc's mallinfo2 looked up through dlsym
# (valgrind replaces malloc, so its figures may all be zero here).
stats = memslim.stats()
assert stats["allocator"] is None or stats["allocator"]["heap_bytes"] >= 0
print("valgrind stats ok", stats["structures"] >= 0)

# Streaming readers: the parsing thread hands blocks to the appending one (path input),
# a Python iterable is read through callbacks, and a pipeline writes through the sink.
import json
import os
import tempfile

with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "in.jsonl")
    lines = [json.dumps({"i": i, "t": [i, {"k": "é\n"}], "big": 10**20 + i}) for i in range(2000)]
    with open(src, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    assert memslim.read_jsonl(src).to_list() == [json.loads(x) for x in lines]
    assert sum(len(b) for b in memslim.iter_jsonl(iter(lines), batch_size=300)) == 2000
    out = os.path.join(tmp, "out.jsonl")
    n = memslim.stream(memslim.iter_jsonl(src)).where("i", "<", 100).select(["i"]).to_jsonl(out)
    assert n == 100
    assert len(memslim.read_csv(b'a,b\n1,x\n2,"y\nz"\n')) == 2
print("valgrind stream workload ok")

# memslim.dumps writes the text straight into the str it returns (json.rs): on one
# thread, on two (over 100,000 records), and with records longer than the estimate
# sampled from the first ones (the overflow copied in after a resize).
small = memslim.DictList({"i": i, "s": "x" * (i % 5), "n": None} for i in range(3000))
assert memslim.dumps(small) == json.dumps(list(small.iter_dicts()))
# The two-thread list is built from Arrow columns and checked against its two halves,
# each written on one thread (checked against json.dumps above): 120,000 Python dicts
# and json.dumps over them took over two minutes under valgrind.
n_big = 120_000
big = memslim.DictList.from_arrow(
    pa.table(
        {
            "i": pa.array(np.arange(n_big)),
            "f": pa.array(np.arange(n_big) / 4),
            "s": pa.DictionaryArray.from_arrays(
                pa.array(np.arange(n_big) % 50, pa.int32()), [f"s{k}" for k in range(50)]
            ),
        }
    )
)
halves = memslim.dumps(big[:60_000]), memslim.dumps(big[60_000:])
assert memslim.dumps(big) == halves[0][:-1] + ", " + halves[1][1:]
assert halves[1].endswith(json.dumps(dict(big[-1])) + "]")
grow = memslim.DictList({"i": i, "s": "y" * (0 if i < 1500 else 300)} for i in range(4000))
assert memslim.dumps(grow, indent=1) == json.dumps(list(grow.iter_dicts()), indent=1)
assert memslim.dumps(memslim.TupleList([(1, "a")] * 5000, fields=("x", "y")))[:12] == '[[1, "a"], ['
print("valgrind dumps workload ok")
