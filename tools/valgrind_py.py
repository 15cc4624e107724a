"""Workload run under valgrind memcheck: every path through memslim's unsafe code.

Zero-copy Arrow export (buffers shared with pyarrow, then the list written and dropped
while the consumer still reads), Arrow stream import (PyCapsule hand-over), the GIL cell
behind every list operation, recycled row views, and tracemalloc registration.
"""

import gc
import pickle
import tracemalloc

import memslim
import pyarrow as pa

tracemalloc.start()
rows = memslim.DictList(
    {"id": i * 10_000_000_000, "s": f"s{i % 7}", "f": i / 3, "n": None if i % 3 else i}
    for i in range(3000)
)
table = pa.table(rows)  # shares the list's buffers
rows[0]["id"] = -1  # copy-on-write: the exported table must keep its values
rows.extend(rows[:100])
del rows[5:50]
kept = [r for r in rows]  # recycled views must not leak into kept rows
assert [r["f"] for r in kept[:3]] == [r["f"] for r in list(rows)[:3]]
assert table.column("id")[0].as_py() == 0
del rows, kept
gc.collect()
assert table.column("s")[10].as_py() == "s3"  # the table outlives the list

back = memslim.DictList.from_arrow(table)
assert len(back) == 3000
assert pickle.loads(pickle.dumps(back)) == back
tl = memslim.TupleList([(1, "a"), (2, "b")], fields=("x", "y"))
assert pa.table(tl).num_rows == 2
assert memslim.DictList.from_arrow(pa.table(tl))[1]["y"] == "b"
print("valgrind workload ok", tracemalloc.get_traced_memory()[0] > 0)

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
