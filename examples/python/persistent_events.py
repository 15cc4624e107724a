"""A persistent event log: append with durable flushes, read it back from the map, hand it
to pyarrow and polars, and keep a growable on-disk array of ids next to it.

    python examples/python/persistent_events.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import memslim
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import ipc

SMALL = bool(os.environ.get("MEMSLIM_EXAMPLE_SMALL"))
N = 20_000 if SMALL else 1_000_000

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "events.msl"

    # Append; every flush() is durable (written, fsynced, committed).
    with memslim.DictList.open(path) as events:
        for start in range(0, N, 10_000):
            events.extend(
                {"seq": i, "user": f"user{i % 1000}", "amount": i * 0.5, "tags": ["a", i % 3]}
                for i in range(start, min(start + 10_000, N))
            )
            events.flush()

    # Reopening reads the index only; a row comes straight from the mapped file.
    with memslim.DictList.open(path, mode="r") as events:
        print(
            f"{len(events):,} events, {events.mapped_bytes:,} bytes on disk, "
            f"{events.nbytes:,} bytes in memory"
        )
        print("event 12,345:", events[12_345])
        table = pa.table(events)  # zero-copy: Arrow batches pointing into the map
        print("total amount (pyarrow):", pc.sum(table["amount"]).as_py())

    # The file is a plain Arrow IPC stream.
    print("polars sees:", pl.read_ipc_stream(path).shape)
    print("pyarrow sees:", ipc.open_stream(path).read_all().num_rows, "rows")

    # A growable on-disk array; numpy views it without copying.
    with memslim.NumberFile(Path(tmp) / "ids.bin", dtype="int64") as ids:
        ids.extend(range(N))
        view = np.asarray(ids)
        print("ids:", len(ids), "sum", int(view.sum()), "zero-copy:", not view.flags.owndata)
        try:
            ids.append(N)  # would move the map under the view
        except BufferError as exc:
            print("growing while viewed:", exc)
        del view
        ids.append(N)
