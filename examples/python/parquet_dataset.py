"""From raw JSON Lines to a Hive-partitioned Parquet dataset, on a process pool, read back
exactly by memslim and as typed columns by DuckDB and polars.

    python examples/python/parquet_dataset.py
"""

from __future__ import annotations

import concurrent.futures as cf
import gzip
import json
import os
import tempfile
from pathlib import Path

import duckdb
import memslim
import polars as pl

SMALL = bool(os.environ.get("MEMSLIM_EXAMPLE_SMALL"))
FILES, PER_FILE = (3, 2_000) if SMALL else (8, 250_000)
COUNTRIES = ["DE", "FR", "US", "JP", "BR"]


def summarize(row):
    """Runs in the worker processes: importable, so plain pickle can send it."""
    return {"url": row["url"], "country": row["country"], "words": len(row["text"].split())}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = []
        for k in range(FILES):
            path = Path(tmp) / f"crawl-{k}.jsonl.gz"
            with gzip.open(path, "wt") as f:
                for i in range(PER_FILE):
                    rec = {
                        "url": f"https://example.org/{k}/{i}",
                        "status": 200 if i % 10 else 404,
                        "country": COUNTRIES[(i + k) % len(COUNTRIES)],
                        "text": "lorem ipsum " * (i % 7),
                    }
                    f.write(json.dumps(rec) + "\n")
            raw.append(str(path))

        pipeline = memslim.stream(raw).where("status", "==", 200).map(summarize)
        out = Path(tmp) / "summaries"
        with cf.ProcessPoolExecutor(2) as pool:  # or a Dask client.get_executor()
            n = pipeline.to_parquet(out, partition_by=["country"], executor=pool)
        print(f"{n:,} summaries from {len(raw)} files into {out.name}/country=.../")

        back = memslim.read_parquet(out)
        assert len(back) == n and set(back[0]) == {"url", "country", "words"}

        by_country = duckdb.sql(
            f"SELECT country, count(*) AS n, sum(words) AS words "
            f"FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true) "
            "GROUP BY country ORDER BY country"
        ).fetchall()
        print("DuckDB:", by_country)
        df = pl.scan_parquet(out, hive_partitioning=True).collect()
        assert df.height == n and df.schema["words"] == pl.Int64
        print("polars:", df.shape, dict(df.schema))


if __name__ == "__main__":
    main()
