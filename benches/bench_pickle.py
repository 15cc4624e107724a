"""Pickle round trips: memslim.DictList, TupleList and DocList against the list they
replace (of dicts, of tuples) and pyarrow.Table.

    python benches/bench_pickle.py              # 1,000,000 generated orders
    python benches/bench_pickle.py --rows 200000
    python benches/bench_pickle.py --dataset flights  # the 336,776 NYC flights of 2013
    python benches/bench_pickle.py --quick      # a tiny smoke run (the test suite uses it)

For each representation, in a fresh process, the records of a data set of :mod:`datasets`
(the generated orders by default) are built once
and then ``pickle.dumps`` and ``pickle.loads`` are timed separately (medians of
``--repeat`` runs):

* ``in-band``: ``pickle.dumps(obj, protocol=5)``, one byte string holding everything;
* ``out-of-band``: ``pickle.dumps(obj, protocol=5, buffer_callback=...)`` and
  ``pickle.loads(data, buffers=...)``, as Dask and Ray do (the list of
  dicts has no buffers: its row is the in-band one);
* ``protocol 4`` for DictList (the default protocol of Python 3.11-3.13).

The TupleList holds the records as tuples in field order (its peer: the list of those
tuples), the DocList the same records as documents.

The report gives each time, the pickle size, and ratios of ``dumps + loads`` against the
list it replaces and against pyarrow measured in the same run. Written as JSON to
``benches/results/pickle.json`` (``pickle-flights.json`` for the flights) and as markdown
beside it (``--quick``: a temporary directory; ``--output`` wins); ``--from-json FILE``
renders the markdown of an earlier report again.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import Dataset
from workload import median_wall_and_cpu, ms, peer_bench_main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results" / "pickle.json"
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
PEERS = (
    "list of dicts",
    "memslim.DictList",
    "memslim.DocList",
    "list of tuples",
    "memslim.TupleList",
    "pyarrow.Table",
)
# The list each memslim structure replaces: its ratio is against that list.
REPLACES = {"memslim.TupleList": "list of tuples"}


def build(peer: str, ds: Dataset, rows: int) -> Any:
    data = list(ds.records(rows))
    if peer == "list of dicts":
        return data
    if peer in ("list of tuples", "memslim.TupleList"):
        tuples = [tuple(r[f] for f in ds.fields) for r in data]
        if peer == "list of tuples":
            return tuples
        import memslim

        return memslim.TupleList(tuples, ds.fields)
    if peer in ("memslim.DictList", "memslim.DocList"):
        import memslim

        return getattr(memslim, peer.split(".")[1])(data)
    import pyarrow as pa

    return pa.Table.from_pylist(data)


def measure(peer: str, ds: Dataset, rows: int, repeat: int) -> dict[str, Any]:
    obj = build(peer, ds, rows)
    out: dict[str, Any] = {"peer": peer, "rows": rows}
    modes: list[tuple[str, int, bool]] = [("in-band", 5, False)]
    if not peer.startswith("list of"):
        modes.append(("out-of-band", 5, True))
    if peer == "memslim.DictList":
        modes.append(("protocol 4", 4, False))
    for mode, protocol, oob in modes:
        buffers: list[Any] = []

        def dumps(protocol: int = protocol, oob: bool = oob, buffers: list[Any] = buffers) -> bytes:
            buffers.clear()
            if oob:
                return pickle.dumps(obj, protocol=protocol, buffer_callback=buffers.append)
            return pickle.dumps(obj, protocol=protocol)

        dump_s, dump_cpu, data = median_wall_and_cpu(dumps, repeat)
        kept = list(buffers)
        load_s, load_cpu, back = median_wall_and_cpu(
            lambda data=data, kept=kept, oob=oob: (
                pickle.loads(data, buffers=kept) if oob else pickle.loads(data)
            ),
            repeat,
        )
        if len(back) != rows:
            raise AssertionError(f"{peer} {mode}: {len(back)} rows came back")
        size = len(data) + sum(memoryview(b).nbytes for b in kept)
        out[mode] = {
            "dumps_s": dump_s,
            "loads_s": load_s,
            "total_s": dump_s + load_s,
            "cpu_s": dump_cpu + load_cpu,
            "bytes": size,
            "in_band_bytes": len(data),
        }
        del back, data, kept
    return out


def report_md(results: dict[str, dict[str, Any]], rows: int, ds: Dataset) -> str:
    def base_of(peer: str) -> float | None:
        replaced = REPLACES.get(peer, "list of dicts")
        total: float | None = results.get(replaced, {}).get("in-band", {}).get("total_s")
        return total

    arrow = results.get("pyarrow.Table", {})
    lines = [
        f"# Pickle round trip, {rows:,} {ds.name}",
        "",
        (
            "| representation | mode | dumps | loads | dumps+loads | CPU, all threads | size"
            " | vs the list it replaces | vs pyarrow (same mode) |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for peer in PEERS:
        r = results.get(peer, {})
        if "error" in r:
            lines.append(f"| {peer} | error | {r['error'].splitlines()[0]} | | | | | | |")
            continue
        for mode in ("in-band", "out-of-band", "protocol 4"):
            m = r.get(mode)
            if not m:
                continue
            base = base_of(peer)
            vs_list = f"{m['total_s'] / base:.3f}x" if base else "n/a"
            peer_mode = arrow.get(mode if mode != "protocol 4" else "in-band")
            vs_arrow = f"{m['total_s'] / peer_mode['total_s']:.2f}x" if peer_mode else "n/a"
            cpu = ms(m["cpu_s"]) if "cpu_s" in m else "n/a"
            lines.append(
                f"| {peer} | {mode} | {ms(m['dumps_s'])} | {ms(m['loads_s'])} "
                f"| {ms(m['total_s'])} | {cpu} | {m['bytes'] / 1e6:.1f} MB | {vs_list} | {vs_arrow} |"
            )
    lines += [
        "",
        "Medians of repeated runs in one fresh process per representation. The TupleList is",
        "against the list of tuples, the rest against the list of dicts. Goal (issue 15):",
        "dumps+loads <= 0.1x the list it replaces. Ratios are of wall time; CPU time counts",
        "every thread (a long DocList is written and validated on a helper thread per",
        "spare core).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return peer_bench_main(
        argv,
        script=__file__,
        doc=__doc__ or "",
        peers=PEERS,
        rows=(QUICK_ROWS, DEFAULT_ROWS),
        measure=measure,
        report_md=report_md,
        results=RESULTS,
        packages=["memslim", "pyarrow"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
