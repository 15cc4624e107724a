"""Workload run under valgrind memcheck: every path through memslim's unsafe code.

Zero-copy Arrow export (buffers shared with pyarrow, then the list written and dropped
while the consumer still reads), Arrow stream import (PyCapsule hand-over), the GIL cell
behind every list operation, recycled row views, and tracemalloc registration.
"""

import gc
import os
import pickle
import tempfile
import tracemalloc

import memslim
import numpy as np
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

# Persistent files (mmap_ffi.rs, memslim-mmap's map.rs): a saved list read back through
# the map, its batches exported to pyarrow and used after the file is closed, and an
# MmapList viewed by numpy (buffer protocol), grown after the view is gone.
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
    nums = memslim.MmapList(os.path.join(tmp, "n.bin"), dtype="int32")
    nums.extend(range(1000))
    view = np.asarray(nums)
    view[3] = -3
    assert nums[3] == -3 and int(view.sum()) == sum(range(1000)) - 6
    del view
    nums.extend(range(5000))  # grows and remaps
    assert np.asarray(nums)[-1] == 4999
    nums.close()

print("valgrind workload ok", tracemalloc.get_traced_memory()[0] > 0)
