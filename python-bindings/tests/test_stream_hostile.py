"""The streaming readers on hostile or damaged input: line bombs stay bounded, checksums
are verified, bytes that are not UTF-8 never change silently, integers and nesting have
json.loads's limits. Oracles: json, csv, bytes.decode."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import memslim
import pytest
from conftest import expect_error, same
from hypothesis import given
from hypothesis import strategies as st

GIB = 1 << 30

# --------------------------------------------------------------------------------------
# Compressed inputs made by hand: a zstd frame of raw and RLE blocks (the stdlib has no
# zstd), with its XXH64 content checksum.
# --------------------------------------------------------------------------------------

_P1, _P2, _P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
_P4, _P5, _M = 9650029242287828579, 2870177450012600261, (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def xxh64(data: bytes) -> int:
    """XXH64 with seed 0 (the zstd content checksum is its low 32 bits)."""
    n, i = len(data), 0
    if n >= 32:
        v = [(_P1 + _P2) & _M, _P2, 0, (-_P1) & _M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], int.from_bytes(data[i + 8 * k : i + 8 * k + 8], "little"))
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M
        for k in range(4):
            h = ((h ^ _round(0, v[k])) * _P1 + _P4) & _M
    else:
        h = _P5
    h = (h + n) & _M
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i : i + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i : i + 4], "little") * _P1) & _M
        h = (_rotl(h, 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M
        h = (_rotl(h, 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    return h ^ (h >> 32)


def _block(kind: int, size: int, last: bool) -> bytes:
    return ((size << 3) | (kind << 1) | int(last)).to_bytes(3, "little")


def zstd_frame(content: bytes, *, checksum: bool = True) -> bytes:
    """``content`` in raw blocks (a flipped bit in it still decodes, to other bytes)."""
    out = bytearray(b"\x28\xb5\x2f\xfd")
    # Descriptor (content checksum or not), window descriptor: 2**17 bytes.
    out += bytes([0x04 if checksum else 0x00, 7 << 3])
    chunks = [content[i : i + 65536] for i in range(0, len(content), 65536)] or [b""]
    for k, chunk in enumerate(chunks):
        out += _block(0, len(chunk), k == len(chunks) - 1) + chunk
    if checksum:
        out += (xxh64(content) & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(out)


def zstd_bomb(prefix: bytes, fill: int, blocks: int, suffix: bytes) -> bytes:
    """A frame whose content is ``prefix``, ``blocks`` RLE blocks of 128 KiB of ``fill``
    (four bytes each), then ``suffix``: 16384 blocks are a 64 KB file holding 2 GiB."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x00" + bytes([7 << 3]))
    out += _block(0, len(prefix), False) + prefix
    rle = _block(1, 128 << 10, False) + bytes([fill])
    out += rle * blocks
    out += _block(0, len(suffix), True) + suffix
    return bytes(out)


def test_the_hand_made_zstd_frames_are_real_zstd(tmp_path):
    text = "".join(json.dumps({"id": i, "s": "v" * (i % 7)}) + "\n" for i in range(5000))
    path = tmp_path / "ok.jsonl.zst"
    path.write_bytes(zstd_frame(text.encode()))
    expected = [json.loads(line) for line in text.splitlines()]
    assert memslim.read_jsonl(path).to_list() == expected
    path.write_bytes(zstd_bomb(b'{"a": "', ord("b"), 3, b'"}\n'))
    assert memslim.read_jsonl(path).to_list() == [{"a": "b" * (3 << 17)}]


# --------------------------------------------------------------------------------------
# Bounded memory: a line bomb raises before it is buffered, without aborting.
# --------------------------------------------------------------------------------------

BOMB_SCRIPT = textwrap.dedent(
    """
    import resource, sys, warnings, memslim
    limit = int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    kwargs = {} if sys.argv[2] == "default" else {"max_line_bytes": int(sys.argv[2])}
    try:
        for batch in memslim.iter_jsonl(sys.argv[1], batch_size=10, **kwargs):
            pass
    except memslim.ParseError as e:
        print("ParseError", e.path == sys.argv[1], e.line, e.column)
        print(e)
    except MemoryError as e:
        print("MemoryError")
        print(e)
    # VmHWM, not ru_maxrss: on Linux the latter keeps the high-water mark of the process
    # image before exec (here, the forked test runner).
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(hwm * 1024)
    """
)


def run_bomb(path: Path, max_line: str, limit: int) -> tuple[list[str], str, int]:
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(path), max_line, str(limit)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # An abort (SIGABRT on a failed allocation) shows as a negative return code.
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    first, message, peak = proc.stdout.strip().splitlines()
    return first.split(), message, int(peak)


def test_a_zstd_line_bomb_raises_parse_error_under_a_memory_limit(tmp_path):
    # 66 KB on disk, one 2 GiB line: the file.
    path = tmp_path / "bomb.jsonl.zst"
    path.write_bytes(zstd_bomb(b'{"ok": 1}\n{"a": "', ord("a"), 16384, b'"}\n'))
    assert path.stat().st_size < 70_000
    # The default limit (1 GiB), under a 3 GiB address space: the buffer may reach the
    # limit, never past it, and a failed allocation would be an error, not an abort.
    first, message, peak = run_bomb(path, "default", 3 * GIB)
    assert first == ["ParseError", "True", "2", "1"], message
    assert "longer than 1073741824 bytes" in message and "max_line_bytes" in message
    assert peak < 1.8 * GIB, peak
    # Less memory than the limit needs: the buffer's growth fails cleanly.
    first, message, _ = run_bomb(path, "default", GIB)
    assert first[0] in ("MemoryError", "ParseError"), (first, message)
    assert message.startswith(f"{path}: line 2"), message
    # A small limit keeps it small.
    first, message, peak = run_bomb(path, str(1 << 20), 3 * GIB)
    assert first == ["ParseError", "True", "2", "1"], message
    assert peak < 400 << 20, peak


def test_a_gzip_line_bomb_raises_parse_error(tmp_path):
    # gzip members of 8 MiB of "a" each, concatenated: one 2 GiB line from 2 MB.
    member = gzip.compress(b"a" * (8 << 20), compresslevel=9)
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": "') + member * 256)
    first, message, peak = run_bomb(path, str(16 << 20), 3 * GIB)
    assert first == ["ParseError", "True", "1", "1"], message
    assert peak < 600 << 20, peak


def test_a_long_line_can_be_skipped_and_reading_goes_on(tmp_path):
    path = tmp_path / "long.jsonl.zst"
    # 64 MiB in one line between two good ones.
    path.write_bytes(zstd_bomb(b'{"i": 1}\n{"a": "', ord("a"), 512, b'"}\n{"i": 2}\n'))
    with pytest.warns(memslim.SkippedLinesWarning, match="line 2"):
        rows = memslim.read_jsonl(path, on_error="skip", max_line_bytes=1 << 20)
    assert rows.to_list() == [{"i": 1}, {"i": 2}]
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, path, max_line_bytes=1 << 20)
    assert (exc.line, exc.column) == (2, 1)


def test_max_line_bytes_applies_to_every_reader_and_is_checked():
    line = json.dumps({"s": "x" * 92})  # 101 bytes
    # The limit counts no line break: \r\n lines obey the same limit as \n lines.
    for end in ("\n", "\r\n"):
        data = f'{{"a": 1}}{end}{line}{end}'.encode()
        assert len(memslim.read_jsonl(data, max_line_bytes=101)) == 2
        assert len(memslim.read_jsonl(data, max_line_bytes=101, on_error="skip")) == 2
        exc = expect_error(memslim.ParseError, memslim.read_jsonl, data, max_line_bytes=100)
        assert exc.line == 2 and "longer than 100 bytes" in str(exc)
        expect_error(
            memslim.ParseError, lambda data=data: list(memslim.iter_jsonl(data, max_line_bytes=100))
        )
        expect_error(
            memslim.ParseError, memslim.read_jsonl, data, nested="docs", max_line_bytes=100
        )
        assert len(memslim.read_jsonl(data, nested="docs", max_line_bytes=101)) == 2
    table = b'a,b\n1,"' + b"y" * 50 + b"\n" + b"z" * 50 + b'"\n'
    assert len(memslim.read_csv(table, max_line_bytes=105)) == 1
    exc = expect_error(memslim.ParseError, memslim.read_csv, table, max_line_bytes=104)
    assert exc.line == 2
    expect_error(memslim.ParseError, lambda: list(memslim.iter_csv(table, max_line_bytes=104)))
    for bad in (0, GIB + 1):
        expect_error(ValueError, memslim.read_jsonl, data, max_line_bytes=bad)
        expect_error(ValueError, memslim.iter_csv, table, max_line_bytes=bad)


PEAK_SCRIPT = textwrap.dedent(
    """
    import sys, memslim

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

    reader = memslim.iter_csv if sys.argv[1].endswith(".csv") else memslim.iter_jsonl
    # Reset the peak to what the process holds now (Linux), then read.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmRSS")
    rows = 0
    for batch in reader(sys.argv[1], batch_size=1000):
        rows += len(batch)
    print(rows, status("VmHWM") - base)
    """
)


def write_table(path: Path, kind: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        if kind == "csv":
            f.write("id,name,score,note\n")
            f.writelines(
                f"{i},user{i:07d},{i * 0.25},some text for row {i} here\n" for i in range(n)
            )
        else:
            f.writelines(
                f'{{"id": {i}, "name": "user{i:07d}", "score": {i * 0.25}, '
                f'"note": "some text for row {i} here", "tags": ["a", {i}]}}\n'
                for i in range(n)
            )


def peak_growth(path: Path) -> tuple[int, int]:
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows, grew = map(int, proc.stdout.split())
    return rows, grew


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_iter_memory_is_bounded_by_the_batch_not_the_input(tmp_path, kind):
    grew = {}
    for n in (100_000, 400_000):
        path = tmp_path / f"t{n}.{kind}"
        write_table(path, kind, n)
        rows, grew[n] = peak_growth(path)
        assert rows == n
    # Blocks in flight (256 KiB each) and one batch of 1000 records: a few MB, the same
    # for four times the input (generous bounds: machines and allocators differ).
    assert grew[400_000] < grew[100_000] + (8 << 20), grew
    assert grew[400_000] < 32 << 20, grew


# --------------------------------------------------------------------------------------
# Checksums: a flipped bit never returns other records.
# --------------------------------------------------------------------------------------

RECORDS_TEXT = "".join(json.dumps({"id": 1000 + 7 * i}) + "\n" for i in range(200))


def test_zstd_content_checksum_is_verified(tmp_path):
    frame = bytearray(zstd_frame(RECORDS_TEXT.encode()))
    path = tmp_path / "r.jsonl.zst"
    path.write_bytes(frame)
    assert memslim.read_jsonl(path).to_list() == [json.loads(x) for x in RECORDS_TEXT.splitlines()]
    # A digit in the raw content, one bit off: still valid JSON, other numbers.
    at = frame.index(b"1007")
    frame[at + 3] ^= 0x01
    path.write_bytes(frame)
    exc = expect_error(memslim.CorruptFileError, memslim.read_jsonl, path)
    assert str(path) in str(exc) and "checksum mismatch" in str(exc)
    expect_error(memslim.CorruptFileError, lambda: list(memslim.iter_jsonl(path)))
    # Without a checksum in the frame there is nothing to check (as with zstd -t).
    unchecked = bytearray(zstd_frame(RECORDS_TEXT.encode(), checksum=False))
    unchecked[unchecked.index(b"1007") + 3] ^= 0x01
    path.write_bytes(unchecked)
    assert memslim.read_jsonl(path)[1] == {"id": 1006}


def test_gzip_crc_is_verified(tmp_path):
    # Level 0: stored blocks, so the flipped bit decodes to other digits.
    data = bytearray(gzip.compress(RECORDS_TEXT.encode(), compresslevel=0))
    at = data.index(b"1007")
    data[at + 3] ^= 0x01
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(data)
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(bytes(data))
    exc = expect_error(memslim.CorruptFileError, memslim.read_jsonl, path)
    assert str(path) in str(exc) and "gzip" in str(exc)
    csv_path = tmp_path / "r.csv.gz"
    csv_path.write_bytes(data)
    expect_error(memslim.CorruptFileError, memslim.read_csv, csv_path, infer=False)


@pytest.mark.parametrize("suffix", [".gz", ".gzip", ".GZIP", ".zst", ".zstd", ".Zstd"])
def test_every_compressed_suffix_is_decompressed_by_every_reader_and_stream(tmp_path, suffix):
    # memslim.stream takes a suffix off to choose the reader only if the readers
    # decompress by it: a suffix taken off but not decompressed read gzip as text.
    compress = gzip.compress if "gz" in suffix.lower() else zstd_frame
    want = [{"a": 1}, {"a": 2}]
    jsonl = tmp_path / f"x.jsonl{suffix}"
    jsonl.write_bytes(compress(b'{"a": 1}\n{"a": 2}\n'))
    table = tmp_path / f"x.csv{suffix}"
    table.write_bytes(compress(b"a\n1\n2\n"))
    for path, read, iterate in (
        (jsonl, memslim.read_jsonl, memslim.iter_jsonl),
        (table, memslim.read_csv, memslim.iter_csv),
    ):
        assert read(path).to_list() == want
        assert [r for b in iterate(path) for r in b.to_list()] == want
        assert memslim.stream([path]).collect().to_list() == want
    assert memslim.DocList.from_jsonl(jsonl).to_python() == want
    assert suffix.lower() in memslim._memslim._COMPRESSED_SUFFIXES


def test_gzip_nul_padding_is_skipped_as_the_gzip_module_skips_it(tmp_path):
    # Tape and block devices pad a file with NULs to a block size; gzip.open reads past
    # them, after the last member and between members. Any other byte there is damage.
    padded = gzip.compress(b'{"a": 1}\n') + b"\0" * 100 + gzip.compress(b'{"a": 2}\n')
    padded += b"\0" * 512
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(padded)
    with gzip.open(path) as f:
        want = [json.loads(line) for line in f]
    assert memslim.read_jsonl(path).to_list() == want == [{"a": 1}, {"a": 2}]
    assert memslim.DocList.from_jsonl(path).to_python() == want
    csv_path = tmp_path / "p.csv.gz"
    csv_path.write_bytes(gzip.compress(b"a\n1\n") + b"\0" * 512)
    assert memslim.read_csv(csv_path).to_list() == [{"a": 1}]
    for tail in (b"garbage", b"\0" * 8 + b"x", b"\x1f"):
        path.write_bytes(padded + tail)
        with pytest.raises(gzip.BadGzipFile):
            gzip.decompress(padded + tail)
        exc = expect_error(memslim.CorruptFileError, memslim.read_jsonl, path)
        assert str(path) in str(exc) and "gzip" in str(exc)


@pytest.mark.parametrize("cut", [0, 2, 5, 8, 20])
@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_a_compressed_file_cut_short_is_corrupt_even_in_its_header(tmp_path, codec, cut):
    # Empty included: a compressor writes a header even for no data, so an empty .gz or
    # .zst is a file cut short (gzip.open reads it as empty; memslim refuses it).
    raw = RECORDS_TEXT.encode()
    data = gzip.compress(raw) if codec == "gz" else zstd_frame(raw)
    for name, read in (("c.jsonl", memslim.read_jsonl), ("c.csv", memslim.read_csv)):
        path = tmp_path / f"{name}.{codec}"
        path.write_bytes(data[:cut])
        exc = expect_error(memslim.CorruptFileError, read, path)
        assert str(path) in str(exc)


@given(st.integers(min_value=0), st.sampled_from([0x01, 0x08, 0x40, 0x80]), st.booleans())
def test_any_flipped_bit_gives_the_same_records_or_an_error(tmp_path_factory, pos, bit, zst):
    text = RECORDS_TEXT[:600].encode()
    data = bytearray(zstd_frame(text) if zst else gzip.compress(text))
    pos %= len(data)
    data[pos] ^= bit
    path = tmp_path_factory.mktemp("flip") / ("f.jsonl.zst" if zst else "f.jsonl.gz")
    path.write_bytes(data)
    try:
        got = memslim.read_jsonl(path).to_list()
    except (memslim.CorruptFileError, memslim.ParseError, ValueError):
        return
    assert got == [json.loads(x) for x in text.decode().split("\n") if x]


# --------------------------------------------------------------------------------------
# CSV bytes that are not UTF-8: raise, or replace when asked (as bytes.decode does).
# --------------------------------------------------------------------------------------


def test_csv_invalid_utf8_raises_with_line_column_and_offset():
    data = b"id,name\n1,ok\n2,caf\xe9\n3,fine\n"
    exc = expect_error(memslim.ParseError, memslim.read_csv, data)
    assert (exc.line, exc.column) == (3, 6)
    assert "0xE9" in str(exc) and "byte offset 18" in str(exc)
    assert 'encoding_errors="replace"' in str(exc)
    exc = expect_error(memslim.ParseError, lambda: list(memslim.iter_csv(data, infer=False)))
    assert exc.line == 3
    with pytest.warns(memslim.SkippedLinesWarning):
        rows = memslim.read_csv(data, on_error="skip")
    assert rows.to_list() == [{"id": 1, "name": "ok"}, {"id": 3, "name": "fine"}]
    rows = memslim.read_csv(data, encoding_errors="replace")
    assert rows[1] == {"id": 2, "name": "caf\ufffd"}
    expect_error(ValueError, memslim.read_csv, data, encoding_errors="ignore")


def test_csv_invalid_utf8_in_the_header_always_raises():
    data = b"id,n\xe4me\n1,a\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exc = expect_error(memslim.ParseError, memslim.read_csv, data, on_error="skip")
    assert (exc.line, exc.column) == (1, 5)
    rows = memslim.read_csv(data, encoding_errors="replace")
    assert rows.to_list() == [{"id": 1, "n\ufffdme": "a"}]


@given(
    st.lists(
        st.lists(
            st.lists(
                st.sampled_from([b"a", b",", b'"', b"\n", b"\xe9", b"\xff", b"\xc3\xa9", b"1"])
            ).map(b"".join),
            min_size=2,
            max_size=2,
        ),
        max_size=8,
    )
)
def test_csv_replace_matches_decoding_with_errors_replace(table):
    # Quote every field so that any bytes can stand in it; the oracle decodes the whole
    # input with errors="replace" and reads it with the csv module.
    def quoted(field: bytes) -> bytes:
        return b'"' + field.replace(b'"', b'""') + b'"'

    data = b"x,y\n" + b"".join(b",".join(quoted(f) for f in row) + b"\n" for row in table)
    text = data.decode("utf-8", errors="replace")
    expected = list(csv.DictReader(io.StringIO(text, newline="")))
    got = memslim.read_csv(data, infer=False, encoding_errors="replace").to_list()
    assert got == expected
    if text.encode() != data:
        expect_error(memslim.ParseError, memslim.read_csv, data, infer=False)


def test_csv_inference_keeps_values_it_cannot_type_exactly():
    rows = memslim.read_csv(
        b"zip,plus,big,mixed,fine\n02134,+5,123456789012345678901234567890,9007199254740993,1\n"
        b"10001,6,1,0.5,2\n"
    )
    assert rows.schema == {
        "zip": "str",
        "plus": "str",
        "big": "str",
        "mixed": "str",
        "fine": "int64",
    }
    assert rows[0] == {
        "zip": "02134",
        "plus": "+5",
        "big": "123456789012345678901234567890",
        "mixed": "9007199254740993",
        "fine": 1,
    }


def test_csv_inference_of_the_smallest_int64_keeps_its_value():
    # -2**63 is an int64 and exactly a float64: among ints it stays the int, among
    # floats it is the float float() gives, equal to it; 2**63 - 1 is not exactly a
    # float64 and keeps a float column str.
    low = "-9223372036854775808"
    for text, want in (
        (f"x\n1\n{low}\n", [1, -(2**63)]),
        (f"x\n{low}\n", [-(2**63)]),
        (f"x\n1.5\n{low}\n", [1.5, float(low)]),
        (f"x\n1.5\n{2**63 - 1}\n", ["1.5", str(2**63 - 1)]),
    ):
        got = [r["x"] for r in memslim.read_csv(text.encode())]
        assert got == want and [type(v) for v in got] == [type(v) for v in want], (text, got)
        assert got[-1] == int(low) or isinstance(got[-1], str)


# --------------------------------------------------------------------------------------
# Integer digits follow sys.get_int_max_str_digits(), as json.loads; nesting stops at 512.
# --------------------------------------------------------------------------------------


@pytest.fixture
def int_digits():
    before = sys.get_int_max_str_digits()
    yield sys.set_int_max_str_digits
    sys.set_int_max_str_digits(before)


def test_integer_digits_follow_the_interpreter_limit(int_digits):
    limit = sys.get_int_max_str_digits()
    ok = f'{{"n": -{"7" * limit}}}\n'.encode()
    assert same(memslim.read_jsonl(ok).to_list(), [json.loads(ok)])
    over = f'{{"a": 1, "n": {"7" * (limit + 1)}}}\n'.encode()
    with pytest.raises(ValueError) as want:
        json.loads(over)
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, over)
    assert str(want.value).split(";")[0] in str(exc)
    assert (exc.line, exc.column) == (1, 15)
    expect_error(memslim.ParseError, memslim.read_jsonl, over, nested="docs")
    expect_error(memslim.ParseError, memslim.DocList.from_jsonl, over)
    # Raised, the limit applies at once; 0 lifts it (also for json.loads).
    int_digits(0)
    big = f'{{"n": {"9" * 30_000}}}\n'.encode()
    assert memslim.read_jsonl(big).to_list() == [json.loads(big)]
    assert memslim.DocList.from_jsonl(big)[0] == json.loads(big)
    int_digits(640)
    expect_error(memslim.ParseError, memslim.read_jsonl, b'{"n": ' + b"1" * 641 + b"}")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_512_levels_reads_513_raises():
    line = f'{{"v": {nested(512)}}}\n'.encode()
    assert memslim.read_jsonl(line).to_list() == [json.loads(line)]
    assert memslim.DocList.from_jsonl(nested(512).encode())[0] == json.loads(nested(512))
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, f'{{"v": {nested(513)}}}'.encode())
    assert "nested deeper than 512 levels" in str(exc) and exc.column == 519
    exc = expect_error(memslim.ParseError, memslim.DocList.from_jsonl, nested(513).encode())
    assert "512" in str(exc)


# --------------------------------------------------------------------------------------
# Records with many distinct keys: memory and time in proportion to the values present,
# not to rows times fields (a batch once asked for rows x fields x 24 bytes at once) or
# fields squared.
# --------------------------------------------------------------------------------------

SPARSE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, memslim
    n, cap = int(sys.argv[2]), int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    for rows in (memslim.read_jsonl(sys.argv[1]), next(memslim.iter_jsonl(sys.argv[1]))):
        assert len(rows) == n and rows[123].to_dict() == {"u123": 1}, len(rows)
        assert rows.to_list() == [json.loads(l) for l in open(sys.argv[1])]
    print("ok")
    """
)


def vm_size() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_lines_each_with_a_key_of_their_own_read_in_bounded_memory(tmp_path):
    # 5,000 lines {"u<i>": 1} (70 KB): one batch used to be 5,000 x 5,000 cells of 24
    # bytes (600 MB) at once; the columns themselves take about 30 MB.
    n = 5000
    path = tmp_path / "keys.jsonl"
    path.write_bytes(b"".join(b'{"u%d": 1}\n' % i for i in range(n)))
    proc = subprocess.run(
        [sys.executable, "-c", SPARSE_SCRIPT, str(path), str(n), str(vm_size() + (400 << 20))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # An abort (SIGABRT on a failed allocation) shows as a negative return code.
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        proc.returncode,
        proc.stderr[-2000:],
    )


def timed(f, *args, **kwargs):
    start = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - start


def test_a_record_with_many_keys_takes_time_in_proportion_to_them():
    # 80,000 keys used to take read_jsonl 22 s (fields squared); json.loads takes 0.02 s.
    # Generous bounds: the point is the growth, not the machine.
    k = 80_000
    record = {f"k{i}": i for i in range(k)}
    line = json.dumps(record).encode() + b"\n"
    rows, took = timed(memslim.read_jsonl, line)
    assert took < 4, took
    assert rows.to_list() == [record]
    # A repeated key at the end: its first place, its last value (as json.loads).
    again = line[:-2] + b', "k0": -1}\n'
    rows, took = timed(memslim.read_jsonl, again)
    assert took < 4, took
    assert rows.to_list() == [json.loads(again)]
    # CSV with as many columns, and a DictList of one such dict (67 s for 40,000 keys).
    header = ",".join(f"c{i}" for i in range(k))
    table = (header + "\n" + ",".join(str(i) for i in range(k)) + "\n").encode()
    rows, took = timed(memslim.read_csv, table, infer=False)
    assert took < 4, took
    assert rows.to_list() == list(csv.DictReader(io.StringIO(table.decode())))
    rows, took = timed(memslim.DictList, [record])
    assert took < 4, took
    assert rows.to_list() == [record]


def test_many_records_each_adding_keys_append_in_near_linear_time():
    # Each dict brings fields of its own: they are added with the record, not one by one
    # with the record read again for each.
    dicts = [{f"r{i}k{j}": j for j in range(500)} for i in range(100)]
    rows, took = timed(memslim.DictList, dicts)
    assert took < 4, took
    assert rows.to_list() == dicts
    rows, took = timed(memslim.read_jsonl, "".join(json.dumps(d) + "\n" for d in dicts).encode())
    assert took < 4, took
    assert rows.to_list() == dicts


LONG_LINE_OOM_SCRIPT = textwrap.dedent(
    """
    import resource, sys, memslim
    vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
    cap = vm + (int(sys.argv[3]) << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        if sys.argv[2] == "docs":
            r = memslim.DocList.from_jsonl(sys.argv[1])
        elif sys.argv[2] == "nested":
            r = memslim.read_jsonl(sys.argv[1], nested="docs")
        else:
            r = memslim.read_jsonl(sys.argv[1])
        print("loaded", len(r))
    except MemoryError as e:
        print("MemoryError", e)
    """
)


def loads_or_names_the_line(path, head: bytes, how: str, cap_mib: int) -> None:
    """Writes ``path``, a 1.4 MB .gz of one line: ``head``, a 300 MiB string's tail, and
    the line's end; reads it (``how``) in a child under an address-space cap of
    ``cap_mib`` MiB above its start: it loads, or raises a MemoryError naming the file
    and line, never aborts."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        chunk = b"a" * (1 << 20)
        for _ in range(300):
            f.write(chunk)
        f.write(b'"}\n')
    proc = subprocess.run(
        [sys.executable, "-c", LONG_LINE_OOM_SCRIPT, str(path), how, str(cap_mib)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    out = proc.stdout.strip()
    # (With room to spare, the line loads.)
    assert out == "loaded 1" or out.startswith(f"MemoryError {path}: line 1: "), out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("how", ["docs", "nested"])
def test_a_documents_long_string_past_the_memory_there_is_a_memory_error(tmp_path, how):
    # One 300 MiB string: the line buffer fits under the cap, the string's copy into the
    # text blocks does not. It used to abort the interpreter.
    loads_or_names_the_line(tmp_path / "long.jsonl.gz", b'{"a": "', how, 650)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(("how", "cap_mib"), [("records", 1150), ("docs", 650)])
def test_a_long_escaped_string_past_the_memory_there_is_a_memory_error(tmp_path, how, cap_mib):
    # One 300 MiB string with an escape: the line fits under the cap (the record reader
    # holds it twice while reading it), the buffer the parser decodes the string into
    # does not. Its growth used to abort the interpreter.
    loads_or_names_the_line(tmp_path / "escaped.jsonl.gz", b'{"a": "\\n', how, cap_mib)


def zstd_frame_with_window(content: bytes, window: int) -> bytes:
    """One raw block of ``content`` in a frame whose header's window descriptor is
    ``window`` (exponent << 3 | mantissa: 2**(10 + exponent) * (1 + mantissa / 8))."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x04" + bytes([window]))
    out += _block(0, len(content), True) + content
    out += (xxh64(content) & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(out)


def test_a_zstd_window_past_the_limit_is_refused_alike_in_any_frame(tmp_path):
    # A frame of `zstd --long=31` asks for 2 GiB; 100 MiB is the limit.
    small = zstd_frame(b'{"a": 1}\n')
    long_ = zstd_frame_with_window(b'{"a": 2}\n', 21 << 3)
    for name, data in (("first", long_), ("second", small + long_)):
        path = tmp_path / f"{name}.jsonl.zst"
        path.write_bytes(data)
        for read in (memslim.read_jsonl, memslim.read_csv, lambda p: list(memslim.iter_jsonl(p))):
            exc = expect_error(memslim.InvalidValueError, read, path)
            assert not isinstance(exc, memslim.CorruptFileError), exc
            assert "window of 2147483648 bytes" in str(exc), exc
            assert "104857600 bytes (100 MiB)" in str(exc) and str(path) in str(exc), exc
    # 96 MiB is within the limit (the frame declares it; it holds little).
    path = tmp_path / "within.jsonl.zst"
    path.write_bytes(small + zstd_frame_with_window(b'{"a": 2}\n', 16 << 3 | 4))
    assert memslim.read_jsonl(path).to_list() == [{"a": 1}, {"a": 2}]
    path.write_bytes(small + zstd_frame_with_window(b'{"a": 2}\n', 16 << 3 | 5))
    expect_error(memslim.InvalidValueError, memslim.read_jsonl, path)
