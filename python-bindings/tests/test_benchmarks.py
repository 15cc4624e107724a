"""The Python benchmark and the main demo run end to end on tiny inputs, so they never rot.

Both run as subprocesses with this interpreter: each one spawns its own fresh processes to
measure memory, exactly as it does for a full run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 900  # generous: a loaded 2-core CI machine imports pandas/polars/pyarrow slowly


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_bench_records_quick(tmp_path: Path) -> None:
    output = tmp_path / "records.json"
    proc = run(["benches/bench_records.py", "--quick", "--output", str(output)])
    assert "| memslim.DictList |" in proc.stdout
    assert "| memslim.TupleList |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert report["mismatches"] == []
    for name in ("list of dicts", "memslim.DictList", "memslim.TupleList"):
        result = report["results"][name]
        assert "error" not in result and "skipped" not in result, result
        assert result["row_loop_s"] > 0
    assert report["results"]["memslim.DictList"]["nbytes"] > 0


def test_demo_small() -> None:
    proc = run(["examples/python/demo.py"], MEMSLIM_EXAMPLE_SMALL="1")
    assert "memslim.DictList" in proc.stdout


def test_suite_quick(tmp_path: Path) -> None:
    proc = run(["benches/suite.py", "--quick", "--repeat", "1", "--output", str(tmp_path)])
    report = json.loads((tmp_path / "suite.json").read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert set(report["datasets"]) == {"orders", "flights", "cars"}
    for dataset in report["datasets"].values():
        for measured in dataset["sizes"].values():
            assert measured["mismatches"] == []
            results = measured["results"]
            for name in ("list of dicts", "memslim.DictList", "memslim.TupleList"):
                result = results[name]
                assert "error" not in result and "skipped" not in result, result
                assert result["ingest_s"] > 0 and result["pickle_bytes"] > 0
            # The stream has the ingest figures and nothing else, each other one with a reason.
            stream = results["memslim.iter_jsonl"]
            assert stream["ingest_s"] > 0 and stream["check"]["column_sum"] > 0
            assert "rss_bytes" not in stream and "row_loop" in stream["not_applicable"]
            assert all(r.get("check") for r in results.values() if "skipped" not in r)
    orders = report["datasets"]["orders"]["sizes"]["2000"]["results"]
    saved = orders["memslim.DictList.open"]
    assert saved["disk_bytes"] > 0 and saved["row_loop_s"] > 0 and saved["build_s"] > 0
    assert "pickle_bytes" not in saved and "pickle_size" in saved["not_applicable"]
    # Mixed ints and floats: the peers that would coerce them are n/a with a reason, the
    # ones that ran kept the ints (the cross-check counts them against the list of dicts).
    cars = report["datasets"]["cars"]["sizes"]["300"]["results"]
    for name in ("numpy structured array", "pyarrow.Table", "memslim.DictList.open"):
        assert cars[name]["skipped"].startswith("n/a: "), cars[name]
    assert cars["memslim.DictList"]["check"]["ints_among_mixed"] > 0
    markdown = (tmp_path / "suite.md").read_text(encoding="utf-8")
    assert "| **best peer** |" in markdown
    assert "n/a [1]" in markdown and "n/a: [1] " in markdown
    for chart in ("memory_orders.png", "ratios_orders.png", "memory_flights.png"):
        assert (tmp_path / chart).read_bytes()[:4] == b"\x89PNG", chart
    assert "wrote" in proc.stdout


def test_bench_sizeof_quick(tmp_path: Path) -> None:
    output = tmp_path / "sizeof.json"
    proc = run(["benches/bench_sizeof.py", "--quick", "--output", str(output)])
    assert "| memslim.DictList |" in proc.stdout
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["list_deep"] > result["dictlist_deep"] > 0


def test_suite_skips_sizes_that_would_not_fit() -> None:
    sys.path.insert(0, str(ROOT / "benches"))
    try:
        from suite import parse_size, would_not_fit
    finally:
        sys.path.remove(str(ROOT / "benches"))
    assert [parse_size(s) for s in ("10k", "1M", "10M", "2_000")] == [
        10_000,
        1_000_000,
        10_000_000,
        2_000,
    ]
    earlier = {
        1_000_000: {
            "list of dicts": {"rss_bytes": 400_000_000, "pickle_bytes": 100_000_000},
            "pandas.DataFrame": {"rss_bytes": 100_000_000, "pickle_bytes": 60_000_000},
        }
    }
    gib = 2**30
    assert would_not_fit("pandas.DataFrame", 10_000_000, earlier, 64 * gib) is None
    why = would_not_fit("pandas.DataFrame", 10_000_000, earlier, 8 * gib)
    assert why is not None and "GiB" in why
    assert would_not_fit("polars.DataFrame", 10_000_000, earlier, 1) is None  # nothing known


def test_bench_docs_quick(tmp_path: Path) -> None:
    output = tmp_path / "docs.json"
    proc = run(["benches/bench_docs.py", "--quick", "--output", str(output)])
    assert "| memslim.DocList |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert report["problems"] == []
    for dataset in ("events", "aws-models"):
        result = report["results"][dataset]
        assert result["timing"]["exact"] is True
        assert result["memory"]["memslim.DocList"]["nbytes"] > 0


def test_bench_stream_quick(tmp_path: Path) -> None:
    output = tmp_path / "stream.json"
    proc = run(["benches/bench_stream.py", "--quick", "--output", str(output)])
    assert "| memslim.read_jsonl |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert report["mismatches"] == []
    for name in ("json.loads per line", "memslim.read_jsonl", "memslim.iter_jsonl"):
        result = report["results"][name]
        assert "error" not in result and "skipped" not in result, result
        assert result["rows"] == report["rows"] and result["seconds"] > 0


def test_bench_mmap_quick(tmp_path: Path) -> None:
    output = tmp_path / "mmap.json"
    proc = run(["benches/bench_mmap.py", "--quick", "--repeat", "2", "--output", str(output)])
    assert "| memslim |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert report["mismatches"] == []
    for kind in ("open", "scan", "append", "random"):
        for name, result in report["results"][kind].items():
            assert "error" not in result, (kind, name, result)
    assert report["results"]["open"]["memslim"]["row"]["id"] == 1500
    assert set(report["results"]["random"]) == {"memslim", "pyarrow", "list of dicts"}
    assert len(report["targets"]) >= 6
    assert len(report["notes"]) == 2


# Each committed benches/results/*.md is what its script renders from the JSON beside it,
# so the docs that quote them cannot drift from the measurements.
RENDERED = {
    "records.json": "bench_records.py",
    "stream.json": "bench_stream.py",
    "docs.json": "bench_docs.py",
    "mmap.json": "bench_mmap.py",
    "mmap-3m.json": "bench_mmap.py",
    "sizeof.json": "bench_sizeof.py",
    "suite.json": "suite.py",
    "identity.json": "bench_identity.py",
    "identity-flights.json": "bench_identity.py",
    "identity-instructions.json": "bench_identity.py",
    "identity-instructions-flights.json": "bench_identity.py",
    "json.json": "bench_json.py",
    "json-200k.json": "bench_json.py",
    "rows.json": "bench_rows.py",
    "rows-flights.json": "bench_rows.py",
    "pickle.json": "bench_pickle.py",
    "pickle-flights.json": "bench_pickle.py",
}


def test_results_markdown_is_rendered_from_its_json(tmp_path: Path) -> None:
    results = ROOT / "benches" / "results"
    for name, script in RENDERED.items():
        committed = results / name
        if not committed.exists():
            continue
        copy = tmp_path / name
        copy.write_bytes(committed.read_bytes())
        run([f"benches/{script}", "--from-json", str(copy)])
        rendered = copy.with_suffix(".md").read_text(encoding="utf-8")
        expected = committed.with_suffix(".md").read_text(encoding="utf-8")
        assert rendered == expected, (
            f"{name}: run `python benches/{script} --from-json {committed}`"
        )


def test_bench_pickle_quick(tmp_path: Path) -> None:
    output = tmp_path / "pickle.json"
    cmd = ["benches/bench_pickle.py", "--quick", "--rows", "2000", "--repeat", "1"]
    proc = run([*cmd, "--output", str(output)])
    assert "| memslim.DictList | out-of-band |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    for peer, result in report["results"].items():
        assert "error" not in result, (peer, result)
    assert output.with_suffix(".md").exists()


def test_bench_rows_quick(tmp_path: Path) -> None:
    output = tmp_path / "rows.json"
    cmd = ["benches/bench_rows.py", "--quick", "--rows", "2000", "--repeat", "1"]
    proc = run([*cmd, "--output", str(output)])
    assert "| DictList count `country == 'DE'` |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    for peer, result in report["results"].items():
        assert "error" not in result, (peer, result)
    # The floor of native row makers: the orders' fixed-width fields, each maker timed.
    results = report["results"]
    lt, plain = results["list of tuples"], results["memslim.TupleList (row_type=tuple)"]
    assert lt["fixed fields"] == ["id", "price", "qty", "paid"]
    for got in (lt["struct loop"], lt["struct random access"], plain["fixed row loop"]):
        assert got > 0
    assert "`struct.iter_unpack`" in proc.stdout


@pytest.mark.parametrize("script", ["bench_rows.py", "bench_pickle.py"])
def test_peer_benches_run_on_the_flights(tmp_path: Path, script: str) -> None:
    output = tmp_path / "flights.json"
    cmd = [f"benches/{script}", "--quick", "--dataset", "flights", "--rows", "1500"]
    proc = run([*cmd, "--repeat", "1", "--output", str(output)])
    assert "1,500 flights" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert (report["dataset"], report["rows"]) == ("flights", 1500)
    for peer, result in report["results"].items():
        assert "error" not in result, (peer, result)
    # The markdown renders again from the JSON alone.
    rendered = output.with_suffix(".md").read_text(encoding="utf-8")
    run([f"benches/{script}", "--from-json", str(output)])
    assert output.with_suffix(".md").read_text(encoding="utf-8") == rendered


def test_bench_parquet_quick(tmp_path: Path) -> None:
    output = tmp_path / "parquet.json"
    proc = run(["benches/bench_parquet.py", "--quick", "--output", str(output)])
    assert "| memslim |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True and report["mismatches"] == []
    for kind in ("memslim", "pyarrow", "polars"):
        result = report["write"][kind]
        assert "error" not in result, (kind, result)
        assert result["rows"] == report["corpus"]["rows"] and result["bytes"] > 0
    for kind in ("single", "process-pool", "dask"):
        assert "error" not in report["pipeline"][kind], report["pipeline"][kind]


def test_bench_json_quick(tmp_path: Path) -> None:
    output = tmp_path / "json.json"
    proc = run(["benches/bench_json.py", "--quick", "--repeat", "1", "--output", str(output)])
    assert "memslim.dumps / orjson.dumps" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert set(report["ratios"]) >= {"memslim.dumps / json.dumps", "memslim.dumps / orjson.dumps"}
    assert output.with_suffix(".md").exists()


def test_bench_identity_quick(tmp_path: Path) -> None:
    output = tmp_path / "identity.json"
    cmd = ["benches/bench_identity.py", "--quick", "--rows", "2000", "--repeat", "1"]
    proc = run([*cmd, "--output", str(output)])
    assert "| row loop, reordered under a view |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    for peer, result in report["results"].items():
        assert "error" not in result, (peer, result)
    dl = report["results"]["memslim.DictList"]
    assert dl["view_reads_its_record"] is True
    assert dl["reordered_nbytes"] - dl["nbytes"] <= 4 * 2000 + 64


def test_bench_identity_instruction_children_run_their_loops() -> None:
    # The counting itself runs under callgrind (about a minute even when quick): the
    # benchmark command's job. Here: each peer's child builds its rows and loops.
    for peer in ("list of dicts", "memslim.DictList", "memslim.DictList.open"):
        for what in ("loop", "random"):
            cmd = ["benches/bench_identity.py", "--child", peer, "--rows", "300"]
            proc = run([*cmd, "--loops-only", "2", "--what", what])
            assert json.loads(proc.stdout.splitlines()[-1]) == {"peer": peer, "loops": 2}


def test_bench_identity_quick_on_the_flights(tmp_path: Path) -> None:
    output = tmp_path / "identity-flights.json"
    cmd = ["benches/bench_identity.py", "--quick", "--dataset", "flights", "--rows", "2000"]
    proc = run([*cmd, "--repeat", "1", "--output", str(output)])
    assert '`for r in rows: total += r["distance"] * r["hour"]`' in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert (report["dataset"], report["rows"]) == ("flights", 2000)
    for peer, result in report["results"].items():
        assert "error" not in result, (peer, result)
    assert report["results"]["memslim.DictList"]["view_reads_its_record"] is True
