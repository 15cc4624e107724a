"""A scraper that keeps every page in a list, against one that streams summaries to disk.

    python examples/python/scraper.py            # 10,000 / 100,000 / 1,000,000 pages
    MEMSLIM_EXAMPLE_SMALL=1 python examples/python/scraper.py   # a quick run

Both versions "fetch" the same deterministic pages (url, status, a body of words), keep
the pages that answered 200, and write one summary per page (url, word count, title) to a
JSON Lines file.  The list version does what scrapers usually start out doing: collect
the pages in a list, then summarise.  The streaming version hands the fetcher (a
generator) to ``memslim.stream`` and writes summaries batch by batch, so only one batch of
pages is alive at a time.  Each run happens in a fresh process; the peak RSS (``ru_maxrss``)
is printed for each size: flat for the stream, growing with the input for the list.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

WORDS = ("memory", "stream", "batch", "record", "python", "rust", "arrow", "column", "page",
         "link", "price", "order", "user", "note", "market", "report", "weather", "sport",
         "travel", "music", "science", "health")  # fmt: skip


def fetch_pages(n: int, seed: int = 7) -> Iterator[dict]:
    """Yield ``n`` fake pages, as a crawler would hand them over one by one."""
    rnd = random.Random(seed)
    for i in range(n):
        words = rnd.choices(WORDS, k=40 + i % 40)
        yield {
            "url": f"https://example.invalid/page/{i}",
            "status": 200 if rnd.random() < 0.9 else 404,
            "title": " ".join(words[:4]).title(),
            "body": " ".join(words),
            "links": [f"/page/{(i * 7 + k) % max(n, 1)}" for k in range(5)],
        }


def summary(page) -> dict:
    return {"url": page["url"], "title": page["title"], "words": len(page["body"].split())}


def run_list(n: int, out: Path) -> int:
    pages = list(fetch_pages(n))  # the habit the issue describes: keep everything
    summaries = [summary(p) for p in pages if p["status"] == 200]
    with out.open("w", encoding="utf-8") as f:
        for s in summaries:
            f.write(json.dumps(s) + "\n")
    return len(summaries)


def run_stream(n: int, out: Path) -> int:
    import memslim

    return (
        memslim.stream(fetch_pages(n), batch_size=5_000)
        .where("status", "==", 200)  # native: no Python call per page
        .map(summary)
        .select(["url", "title", "words"])
        .to_jsonl(out)
    )


def child(kind: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "summaries.jsonl"
        written = (run_list if kind == "list" else run_stream)(n, out)
        lines = sum(1 for _ in out.open(encoding="utf-8"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"written": written, "lines": lines, "peak": peak}))


def measure(kind: str, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
        return 0
    small = os.environ.get("MEMSLIM_EXAMPLE_SMALL") == "1"
    sizes = (2_000, 20_000) if small else (10_000, 100_000, 1_000_000)
    print("| pages | list: peak RSS (MB) | memslim.stream: peak RSS (MB) | summaries |")
    print("|---:|---:|---:|---:|")
    rows = []
    for n in sizes:
        lst, st = measure("list", n), measure("stream", n)
        if lst["written"] != st["written"] or st["lines"] != st["written"]:
            print(f"MISMATCH at {n}: {lst} vs {st}", file=sys.stderr)
            return 1
        rows.append((n, lst["peak"], st["peak"]))
        print(f"| {n:,} | {lst['peak'] / 1e6:.1f} | {st['peak'] / 1e6:.1f} | {st['written']:,} |")
    (n0, l0, s0), (n1, l1, s1) = rows[0], rows[-1]
    print(
        f"from {n0:,} to {n1:,} pages the list version's peak grew by {(l1 - l0) / 1e6:.1f} MB, "
        f"the streaming version's by {(s1 - s0) / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
