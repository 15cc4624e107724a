"""Pipelines over a list of sources on an executor: a ProcessPoolExecutor and a real
Dask LocalCluster with worker processes, checked against the single-process run and
against records computed with the standard library."""

from __future__ import annotations

import concurrent.futures as cf
import gzip
import json
import multiprocessing
import os
import sys

import memslim
import pytest

COUNTRIES = ["DE", "FR", "US", "JP"]


def summarize(row):
    """A pipeline step (module level, so that plain pickle can send it)."""
    return {"url": row["url"], "country": row["country"], "words": len(row["text"].split())}


def _records(k):
    for i in range(300):
        rec = {
            "url": f"https://example.org/{k}/{i}",
            "status": 200 if i % 5 else 404,
            "country": COUNTRIES[(i * 7 + k) % 4],
            "text": " ".join(["w"] * (i % 11)),
        }
        if i % 13 == 0:
            rec["extra"] = None
        yield rec


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("raw")
    paths = []
    for k in range(4):
        p = d / f"part{k}.jsonl.gz"
        with gzip.open(p, "wt") as f:
            for rec in _records(k):
                f.write(json.dumps(rec) + "\n")
        paths.append(str(p))
    return paths


def expected(paths):
    """The pipeline's result, computed with the standard library."""
    out = []
    for p in paths:
        with gzip.open(p, "rt") as f:
            for line in f:
                rec = json.loads(line)
                if rec["status"] == 200:
                    out.append(summarize(rec))
    return out


def pipeline(paths):
    return memslim.stream(paths, batch_size=64).where("status", "==", 200).map(summarize)


def key(r):
    return r["url"]


def check_dataset(root, want):
    got = [dict(r) for r in memslim.read_parquet(root)]
    assert sorted(got, key=key) == sorted(want, key=key)


@pytest.fixture(scope="module")
def process_pool():
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        yield ex


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_single_process_matches_the_standard_library(sources, tmp_path):
    want = expected(sources)
    assert [dict(r) for r in pipeline(sources).collect()] == want
    assert pipeline(sources).count() == len(want)
    out = tmp_path / "one.jsonl"
    assert pipeline(sources).to_jsonl(out) == len(want)
    assert [json.loads(line) for line in out.read_text().splitlines()] == want


def run_all_sinks(sources, executor, tmp_path):
    want = expected(sources)
    got = pipeline(sources).collect(executor=executor)
    assert [dict(r) for r in got] == want  # joined in source order
    assert pipeline(sources).count(executor=executor) == len(want)

    single = tmp_path / "single.jsonl"
    pipeline(sources).to_jsonl(single)
    multi = tmp_path / "multi.jsonl"
    assert pipeline(sources).to_jsonl(multi, executor=executor) == len(want)
    assert multi.read_bytes() == single.read_bytes()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]

    root = tmp_path / "summaries"
    n = pipeline(sources).to_parquet(root, partition_by=["country"], executor=executor)
    assert n == len(want)
    check_dataset(root, want)
    local = tmp_path / "local"
    pipeline(sources).to_parquet(local, partition_by=["country"])
    assert sorted(map(repr, memslim.read_parquet(local))) == sorted(
        map(repr, memslim.read_parquet(root))
    )
    return root, want


def test_process_pool_executor(sources, tmp_path, process_pool):
    run_all_sinks(sources, process_pool, tmp_path)


def test_dask_cluster_executor(sources, tmp_path, dask_client):
    root, want = run_all_sinks(sources, dask_client.get_executor(), tmp_path)
    # One task per source, each on a worker process: part files from several writers.
    assert len({f.split("part-")[1][:29] for f in _files(root)}) == len(sources)

    import pyarrow as pa
    import pyarrow.dataset as ds

    dset = ds.dataset(root, format="parquet", partitioning="hive")
    assert dset.schema.field("words").type == pa.int64()
    assert dset.schema.field("url").type == pa.string()
    assert sorted(dset.to_table().to_pylist(), key=key) == sorted(want, key=key)

    duckdb = pytest.importorskip("duckdb")
    rel = duckdb.connect().sql(
        f"SELECT url, country, words FROM read_parquet('{root}/**/*.parquet', "
        "hive_partitioning=true)"
    )
    assert [str(t) for t in rel.types] == ["VARCHAR", "VARCHAR", "BIGINT"]
    assert sorted((dict(zip(rel.columns, t, strict=True)) for t in rel.fetchall()), key=key) == (
        sorted(want, key=key)
    )

    pl = pytest.importorskip("polars")
    df = pl.scan_parquet(root, hive_partitioning=True).collect()
    assert df.schema["words"] == pl.Int64 and df.schema["country"] == pl.String
    assert sorted(df.select("url", "country", "words").to_dicts(), key=key) == sorted(want, key=key)


def test_dask_executor_sends_lambdas_with_cloudpickle(sources, dask_client):
    got = (
        memslim.stream(sources)
        .filter(lambda r: r["status"] == 404)
        .count(executor=dask_client.get_executor())
    )
    assert got == sum(1 for p in sources for r in _read(p) if r["status"] == 404)


def test_a_failing_task_names_its_source_and_cancels_the_rest(sources, tmp_path, dask_client):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"url": "x", "status": 200}\n{not json\n')
    srcs = [*sources, str(bad)]
    with pytest.raises(memslim.ParseError) as info:
        memslim.stream(srcs).count(executor=dask_client.get_executor())
    assert any("broken.jsonl" in n for n in getattr(info.value, "__notes__", []))
    with cf.ThreadPoolExecutor(2) as ex, pytest.raises(memslim.ParseError) as info:
        memslim.stream(srcs).count(executor=ex)
    assert any("broken.jsonl" in n for n in info.value.__notes__)


def test_dask_runs_every_task_even_with_the_same_arguments(tmp_path, dask_client):
    # Dask names a pure task by its arguments and reuses an earlier task's result
    # instead of running one with the same name: every task must run.
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(3)))
    out = tmp_path / "dup"
    ex = dask_client.get_executor()
    assert memslim.stream([str(src), str(src)]).to_parquet(out, executor=ex) == 6
    assert len(memslim.read_parquet(out)) == 6
    # The same run again, after the source changed: written and counted again.
    src.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(4)))
    assert memslim.stream([str(src)]).to_parquet(out, executor=ex) == 4
    assert len(memslim.read_parquet(out)) == 10
    for n in (5, 6):
        with open(src, "a") as f:
            f.write(json.dumps({"id": n - 1}) + "\n")
        assert memslim.stream([str(src)]).count(executor=ex) == n
        assert list(memslim.stream([str(src)]).collect(executor=ex).column("id")) == list(range(n))


def test_a_dask_client_runs_through_its_executor(sources, dask_client):
    want = len(expected(sources))
    assert pipeline(sources).count(executor=dask_client) == want
    # ... and leaves nothing behind that a later run meets.
    assert pipeline(sources).count(executor=dask_client.get_executor()) == want
    assert pipeline(sources).count(executor=dask_client) == want


def _to_jsonl_both_ways(srcs, out, workers, batch_size=2):
    """Runs ``to_jsonl`` over ``srcs`` in one process and on a thread pool, each into a
    file holding an earlier run's output; returns both files' text and both errors."""
    got = {}
    for mode in ("single", "executor"):
        path = out.with_name(f"{out.name}.{mode}")
        path.write_text('{"stale": "an earlier run"}\n')
        pipe = memslim.stream(srcs, batch_size=batch_size)
        with pytest.raises(Exception) as info:
            if mode == "single":
                pipe.to_jsonl(path)
            else:
                with cf.ThreadPoolExecutor(workers) as ex:
                    pipe.to_jsonl(path, executor=ex)
        got[mode] = (path.read_text(), type(info.value), str(info.value))
    assert not [n for n in os.listdir(out.parent) if n.startswith(".")]
    return got["single"], got["executor"]


def test_to_jsonl_on_an_executor_leaves_what_one_process_leaves_on_failure(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"a": i}) + "\n" for i in range(5)))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"b": 1}\n{"b": 2}\n{"b": 3}\n{oops\n')
    missing = str(tmp_path / "missing.jsonl")
    out = tmp_path / "out.jsonl"
    for srcs in ([str(good), missing], [str(good), str(broken), str(good)], [missing]):
        for workers in (1, 3):
            single, multi = _to_jsonl_both_ways(srcs, out, workers)
            assert multi == single, (srcs, workers)
            assert "stale" not in multi[0]
    single, _ = _to_jsonl_both_ways([str(good), str(broken)], out, 1)
    # Every record before the error: the first source's and the broken one's first two.
    assert single[0].count("\n") == 7


def test_to_jsonl_on_an_executor_raises_the_first_failing_source_in_order(tmp_path):
    import threading
    import time

    later_failed = threading.Event()

    def slow_then_broken():
        later_failed.wait(10)
        time.sleep(0.2)  # the later source has failed by now
        yield {"a": 1}
        raise RuntimeError("source 0 broke")

    def broken_at_once():
        later_failed.set()
        raise OSError("source 1 broke")

    out = tmp_path / "out.jsonl"
    with cf.ThreadPoolExecutor(2) as ex, pytest.raises(RuntimeError, match="source 0") as info:
        memslim.stream([slow_then_broken, broken_at_once], batch_size=1).to_jsonl(out, executor=ex)
    # As one process: the first source's records before its error, and its error.
    assert any("slow_then_broken" in n for n in info.value.__notes__)
    assert out.read_text() == '{"a": 1}\n'
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_executor_errors(sources, monkeypatch):
    with cf.ThreadPoolExecutor(1) as ex, pytest.raises(TypeError, match="list of sources"):
        memslim.stream(iter([{"a": 1}])).count(executor=ex)
    with pytest.raises(TypeError, match="Executor"):
        memslim.stream(sources).count(executor=object())
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"memslim\[dask\]"):
        memslim.stream(sources).count(executor="dask")


def _read(p):
    with gzip.open(p, "rt") as f:
        return [json.loads(line) for line in f]


def _files(root):
    return [os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns]


def test_progress_counts_tasks(sources, capsys):
    with cf.ThreadPoolExecutor(2) as ex:
        n = pipeline(sources).count(executor=ex, progress=True)
    assert n == len(expected(sources))
    err = capsys.readouterr().err
    assert f"{len(sources)}/{len(sources)} tasks" in err and "1/" in err
