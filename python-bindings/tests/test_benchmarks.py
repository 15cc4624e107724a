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


def test_bench_mmap_quick(tmp_path: Path) -> None:
    output = tmp_path / "mmap.json"
    proc = run(["benches/bench_mmap.py", "--quick", "--repeat", "2", "--output", str(output)])
    assert "| memslim |" in proc.stdout
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert report["mismatches"] == []
    for kind in ("open", "scan", "append"):
        for name, result in report["results"][kind].items():
            assert "error" not in result, (kind, name, result)
    assert report["results"]["open"]["memslim"]["row"]["id"] == 1500
    assert len(report["targets"]) >= 6
