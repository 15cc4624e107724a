"""memslim.report() and `python -m memslim report`: three figures, samples projected."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import memslim
import pytest
from memslim._report import read_records

RECORDS = [
    {"id": i, "user": f"user{i % 37}", "price": i * 0.5, "note": None if i % 4 else "gift"}
    for i in range(2_000)
]


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return path


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(RECORDS[0])
        for r in RECORDS:
            writer.writerow(["" if v is None else v for v in r.values()])
    return path


def test_whole_jsonl_file(jsonl: Path):
    result = memslim.report(jsonl)
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert result.records == len(RECORDS)
    assert not result.is_sample
    assert result.disk_bytes == result.file_bytes == jsonl.stat().st_size
    assert result.list_of_dicts_bytes == memslim.deep_sizeof(records)
    assert result.dictlist_bytes == memslim.deep_sizeof(memslim.DictList(records))
    assert result.ratio > 3
    text = str(result)
    assert "list of dicts" in text and "memslim.DictList" in text and "on disk" in text
    assert "projected" not in text


def test_sample_is_projected_by_bytes(jsonl: Path):
    result = memslim.report(jsonl, sample=500)
    assert result.records == 500
    assert result.is_sample
    first = "".join(jsonl.read_text(encoding="utf-8").splitlines(keepends=True)[:500])
    assert result.disk_bytes == len(first.encode())
    assert result.scale == pytest.approx(jsonl.stat().st_size / len(first.encode()))
    assert result.projected(result.dictlist_bytes) > result.dictlist_bytes
    assert "whole file (projected)" in str(result)
    assert f"about {round(500 * result.scale):,} records" in str(result)


def test_csv_values_are_typed(csv_path: Path):
    records, consumed = read_records(csv_path, limit=3)
    assert records[:2] == [
        {"id": 0, "user": "user0", "price": 0.0, "note": "gift"},
        {"id": 1, "user": "user1", "price": 0.5, "note": None},
    ]
    assert 0 < consumed < csv_path.stat().st_size
    whole = memslim.report(csv_path)
    assert whole.records == len(RECORDS) and not whole.is_sample


def test_objects_and_dictlists(jsonl: Path):
    from_list = memslim.report(RECORDS)
    rows = memslim.DictList(RECORDS)
    from_rows = memslim.report(rows)
    assert from_list.records == from_rows.records == len(RECORDS)
    assert from_list.disk_bytes is None
    assert from_rows.dictlist_bytes == memslim.deep_sizeof(rows)
    assert from_list.list_of_dicts_bytes == memslim.deep_sizeof(RECORDS)
    with pytest.raises(TypeError, match="mappings"):
        memslim.report([1, 2, 3])
    with pytest.raises(ValueError, match="sample"):
        memslim.report(jsonl, sample=0)


def test_plot_writes_a_png(jsonl: Path, tmp_path: Path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "report.png"
    memslim.report(jsonl, sample=100, plot=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memslim", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_command_line(jsonl: Path, tmp_path: Path):
    png = tmp_path / "cli.png"
    proc = cli("report", str(jsonl), "--sample", "200", "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    assert "200 records read" in proc.stdout
    assert "DictList:" in proc.stdout and "smaller than the list of dicts" in proc.stdout
    assert png.exists()
    missing = cli("report", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 1
    assert "missing.jsonl" in missing.stderr
