"""Nested JSON-like documents in a DocList: memory, lazy views, deletes and compaction.

Run it inside the project venv: ``python examples/python/docs_tour.py``.
``MEMSLIM_EXAMPLE_SMALL=1`` shrinks the run to 5,000 documents (default 100,000).

Memory is measured as the process's RSS growth while the documents are built, once as
plain dicts and lists (parsed with the standard ``json`` module) and once as a DocList
read from the same JSON Lines bytes.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import sys
from pathlib import Path

import memslim

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))

from bench_docs import make_events  # the benchmark's generated events
from workload import settled_rss

SMALL = os.environ.get("MEMSLIM_EXAMPLE_SMALL", "") not in ("", "0")
N = 5_000 if SMALL else 100_000


def main() -> None:
    text = "\n".join(json.dumps(e) for e in make_events(N)).encode()

    before = settled_rss()
    plain = [json.loads(line) for line in text.splitlines()]
    plain_rss = settled_rss() - before

    before = settled_rss()
    docs = memslim.DocList.from_jsonl(text)
    docs_rss = settled_rss() - before
    assert docs == plain  # exact: same values, same types, same key order

    print(f"{N:,} nested events")
    print(f"  dicts and lists: {plain_rss / N:8.1f} B/doc of RSS")
    print(
        f"  DocList:         {docs_rss / N:8.1f} B/doc of RSS, nbytes {docs.nbytes / N:.1f} B/doc"
    )

    # Lazy, read-only views: dict-like and list-like, equal to the plain values.
    d = docs[42]
    print("  docs[42]['user']['tags'] =", d["user"]["tags"], "->", d["user"]["tags"].to_python())
    print("  docs[42].get('missing', 'default') =", d.get("missing", "default"))
    english = sum(1 for e in docs if e["user"]["lang"] == "en")
    print(f"  {english:,} events from English-speaking users")
    assert english == sum(1 for e in plain if e["user"]["lang"] == "en")

    # Bad input names the place inside the document and changes nothing.
    try:
        docs.append({"user": {"tags": ["ok", {1: "not a str key"}]}})
    except TypeError as exc:
        print("  rejected:", exc)
    assert len(docs) == N

    # Deleting leaves garbage; compact() reclaims it, and old views keep working.
    kept = docs[0]["user"]
    del docs[: N // 2]
    print(f"  after deleting half: live {docs.live_bytes:,} B, garbage {docs.garbage_bytes:,} B")
    reclaimed = docs.compact()
    print(f"  compact() reclaimed {reclaimed:,} B; the old view still reads {kept['name']!r}")

    # Pickle round trip, exact.
    assert pickle.loads(pickle.dumps(docs)) == plain[N // 2 :]
    del plain, docs
    gc.collect()
    print("ok")


if __name__ == "__main__":
    main()
