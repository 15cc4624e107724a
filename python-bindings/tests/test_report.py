"""memslim.report() and `python -m memslim report`: three figures, samples projected.

The report reads files with memslim's own readers; its figures are checked here against
independent measurements: the same records parsed by ``json`` / ``csv`` and measured with
``deep_sizeof``, the whole file counted by splitting lines, the DictList saved by hand.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import memslim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memslim._report import as_parsed, count_records, read_sample

RECORDS = [
    {"id": i, "user": f"user{i % 37}", "price": i * 0.5, "note": None if i % 4 else "gift"}
    for i in range(2_000)
]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def zstd_frame(data: bytes) -> bytes:
    """``data`` as one zstd frame of raw (stored) blocks: a valid .zst file, no library."""
    frame = bytearray(struct.pack("<IB", 0xFD2FB528, 0xE0))  # single segment, 8-byte size
    frame += struct.pack("<Q", len(data))
    blocks = [data[i : i + 65_536] for i in range(0, len(data), 65_536)] or [b""]
    for n, block in enumerate(blocks):
        last = n == len(blocks) - 1
        frame += (len(block) << 3 | last).to_bytes(3, "little") + block  # type 0: raw
    return bytes(frame)


def json_parsed(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The independent reference: json.loads per line of the plain file."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [json.loads(ln) for ln in lines[:limit]]


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "orders.jsonl", RECORDS)


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(RECORDS[0])
        for r in RECORDS:
            writer.writerow(["" if v is None else v for v in r.values()])
    return path


def test_whole_jsonl_file(jsonl: Path, tmp_path: Path):
    result = memslim.report(jsonl)
    records = json_parsed(jsonl)
    assert result.records == result.total_records == len(RECORDS)
    assert not result.is_sample and result.scale == 1.0
    assert result.file_bytes == jsonl.stat().st_size
    # The list of dicts json.loads gives, measured independently: the same bytes.
    assert result.list_of_dicts_bytes == memslim.deep_sizeof(records)
    assert result.dictlist_bytes == memslim.deep_sizeof(memslim.DictList(records))
    memslim.DictList(records).save(tmp_path / "by-hand.msl")
    assert result.saved_bytes == (tmp_path / "by-hand.msl").stat().st_size
    assert result.ratio > 3
    text = str(result)
    for label in ("list of dicts", "memslim.DictList", "saved (.msl)", "file on disk"):
        assert label in text
    assert "projected" not in text


def test_sample_is_projected_by_counted_records(jsonl: Path):
    result = memslim.report(jsonl, sample=500)
    assert result.records == 500 and result.total_records == len(RECORDS)
    assert result.is_sample and result.scale == pytest.approx(4.0)
    assert result.list_of_dicts_bytes == memslim.deep_sizeof(json_parsed(jsonl, 500))
    whole = memslim.deep_sizeof(json_parsed(jsonl))
    # Records of one shape: the projection lands within 2% of the whole file's figure.
    assert result.projected(result.list_of_dicts_bytes) == pytest.approx(whole, rel=0.02)
    assert "whole file (projected)" in str(result)
    assert f"500 records read of {len(RECORDS):,} (counted)" in str(result)
    # A sample larger than the file is the whole file.
    assert not memslim.report(jsonl, sample=10 * len(RECORDS)).is_sample


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_compressed_files_are_read_like_the_readers_read_them(jsonl: Path, codec: str):
    raw = jsonl.read_bytes()
    packed = jsonl.with_name(f"orders.jsonl.{codec}")
    packed.write_bytes(gzip.compress(raw) if codec == "gz" else zstd_frame(raw))
    plain = memslim.report(jsonl, sample=300)
    result = memslim.report(packed, sample=300)
    assert result.file_bytes == packed.stat().st_size
    assert (result.records, result.total_records) == (300, len(RECORDS))
    assert result.list_of_dicts_bytes == plain.list_of_dicts_bytes
    assert result.dictlist_bytes == plain.dictlist_bytes
    csv_gz = jsonl.with_name("orders.csv.gz")
    csv_gz.write_bytes(gzip.compress(b"a,b\n1,x\n2,\n"))
    rows, total = read_sample(csv_gz, None)
    assert rows.to_list() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}] and total == 2


def test_csv_dictlist_is_typed_and_the_list_of_dicts_is_as_csv_dictreader_gives_it(csv_path: Path):
    rows, total = read_sample(csv_path, limit=3)
    assert rows.to_list()[:2] == [
        {"id": 0, "user": "user0", "price": 0.0, "note": "gift"},
        {"id": 1, "user": "user1", "price": 0.5, "note": None},
    ]
    assert total == len(RECORDS) == count_records(csv_path)
    with csv_path.open(encoding="utf-8", newline="") as lines:
        parsed = list(csv.DictReader(lines))
    whole = memslim.report(csv_path)
    assert whole.records == len(RECORDS) and not whole.is_sample
    # The stdlib parser's records: every value a str, the header's strings shared as keys.
    assert whole.list_of_dicts_bytes == memslim.deep_sizeof(parsed)
    assert whole.dictlist_bytes == memslim.deep_sizeof(memslim.read_csv(csv_path))
    sampled = memslim.report(csv_path, sample=3)
    # The same three records (the outer list's spare capacity may differ).
    assert abs(sampled.list_of_dicts_bytes - memslim.deep_sizeof(parsed[:3])) <= 32


def test_numeric_csv_list_of_dicts_is_sized_on_strings_as_csv_dictreader_gives(tmp_path):
    path = tmp_path / "num.csv"
    lines = [",".join(f"c{j}" for j in range(6))]
    lines += [",".join(str(i * j % 100_000) for j in range(6)) for i in range(3_000)]
    path.write_text("\n".join(lines) + "\n")
    with path.open(newline="") as f:
        stdlib = memslim.deep_sizeof(list(csv.DictReader(f)))
    assert memslim.report(path).list_of_dicts_bytes == stdlib


def test_objects_and_dictlists(jsonl: Path):
    from_list = memslim.report(RECORDS)
    rows = memslim.DictList(RECORDS)
    from_rows = memslim.report(rows)
    assert from_list.records == from_rows.records == len(RECORDS)
    assert from_list.file_bytes is None and "file on disk" not in str(from_list)
    assert from_rows.dictlist_bytes == memslim.deep_sizeof(rows)
    assert from_list.list_of_dicts_bytes == memslim.deep_sizeof(RECORDS)
    assert from_list.saved_bytes == from_rows.saved_bytes > 0
    with pytest.raises(TypeError, match="mappings"):
        memslim.report([1, 2, 3])
    with pytest.raises(ValueError, match="sample"):
        memslim.report(jsonl, sample=0)


def test_a_bad_line_names_the_file_and_line(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(memslim.ParseError, match=r"bad\.jsonl.*line 2|line 2.*bad\.jsonl"):
        memslim.report(bad)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
record_lists = st.lists(
    st.dictionaries(st.sampled_from(["id", "name", "score", "flag", "x"]), values, max_size=5),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(records=record_lists, sample=st.integers(1, 50))
def test_report_matches_json_parsed_oracle(tmp_path_factory, records, sample):
    path = write_jsonl(tmp_path_factory.mktemp("prop") / "data.jsonl", records)
    result = memslim.report(path, sample=sample)
    oracle = json_parsed(path, sample)
    assert result.records == len(oracle)
    assert result.total_records == len(records)
    assert result.is_sample == (sample < len(records))
    assert result.list_of_dicts_bytes == memslim.deep_sizeof(oracle)
    assert as_parsed(oracle) == oracle


def test_repeated_ints_count_once_per_record_as_json_parsed_ones_do(tmp_path: Path):
    # memslim shares the ints from -1024 to 8191 it hands out; json.loads makes a new int
    # for each value outside -5..256, at any depth, and the report counts those.
    records = [{"id": -6, "year": 2013, "l": [2013, 300]} for _ in range(3)]
    path = write_jsonl(tmp_path / "ints.jsonl", records)
    assert memslim.report(path).list_of_dicts_bytes == memslim.deep_sizeof(json_parsed(path))


def test_plot_writes_a_png(jsonl: Path, tmp_path: Path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "report.png"
    memslim.report(jsonl, sample=100, plot=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(
    jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=re.escape("pip install 'memslim[plot]'")):
        memslim.report(jsonl, sample=100, plot=tmp_path / "report.png")


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
    assert "200 records read of 2,000" in proc.stdout
    assert "DictList:" in proc.stdout and "smaller than the list of dicts" in proc.stdout
    assert png.exists()
    missing = cli("report", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 1
    assert "missing.jsonl" in missing.stderr


def test_json_constants_are_counted_once_as_json_loads_shares_them(tmp_path: Path):
    records = [{"id": math.inf, "name": -math.inf, "x": math.nan}, {"id": math.inf}]
    path = write_jsonl(tmp_path / "inf.jsonl", records)
    result = memslim.report(path)
    assert result.list_of_dicts_bytes == memslim.deep_sizeof(json_parsed(path))


def test_a_sample_beyond_what_the_readers_take_is_a_clear_error(jsonl: Path, capsys):
    from memslim._cli import main

    with pytest.raises(memslim.InvalidValueError, match="sample must be"):
        memslim.report(jsonl, sample=2**64)
    assert memslim.report(jsonl, sample=2**63 - 1).records == 2_000
    with pytest.raises(SystemExit) as exc:
        main(["report", str(jsonl), "--sample", "99999999999999999999"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--sample must be at most" in err and "Traceback" not in err
