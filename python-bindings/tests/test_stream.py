"""Streaming readers (JSONL, CSV), pipelines and sinks, against json/csv as the oracle."""

from __future__ import annotations

import collections
import csv
import datetime
import decimal
import io
import itertools
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import memslim
import pytest
from conftest import expect_error, same
from hypothesis import given
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------
# JSONL: values come back as json.loads makes them
# --------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=True),
    st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.one_of(
        st.lists(c, max_size=4), st.dictionaries(st.text(max_size=5), c, max_size=4)
    ),
    max_leaves=10,
)
json_records = st.dictionaries(
    st.sampled_from(["id", "name", "price", "tags", "", "ключ🙂", "x"]), json_values, max_size=6
)


@given(st.lists(json_records, max_size=20), st.booleans())
def test_jsonl_round_trips_like_json_loads(records, ascii_only):
    lines = [json.dumps(r, ensure_ascii=ascii_only) for r in records]
    expected = [json.loads(line) for line in lines]
    rows = memslim.read_jsonl("\n".join(lines).encode())
    got = rows.to_list()
    assert same(got, expected), (got, expected)


def test_special_values_and_escapes():
    lines = [
        '{"a": NaN, "b": Infinity, "c": -Infinity, "d": -0.0, "e": -0, "f": 1E400}',
        r'{"s": "tab\there \"q\" \\ \u00e9 \ud83d\ude42 \u0000 \/", "n": null}',
        '{"big": 123456789012345678901234567890, "neg": -98765432109876543210987654321}',
        '{"nested": {"a": [1, {"b": [true, false, null]}], "c": {}}, "empty": []}',
        '{"k": 1, "k": 2, "z": 3}',
    ]
    got = memslim.read_jsonl(lines).to_list()
    expected = [json.loads(line) for line in lines]
    assert same(got, expected), got
    assert math.copysign(1.0, got[0]["d"]) == -1.0


def test_long_arrays_and_deep_nesting():
    arr = list(range(1000))
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    lines = [json.dumps({"arr": arr, "deep": deep, "obj": {str(i): i for i in range(300)}})]
    assert same(memslim.read_jsonl(lines).to_list(), [json.loads(lines[0])])


def test_order_records_schema():
    lines = [
        json.dumps({"id": i, "user": f"u{i % 7}", "price": i / 4, "paid": i % 2 == 0, "note": None})
        for i in range(5000)
    ]
    rows = memslim.read_jsonl(lines)
    assert rows.schema == {
        "id": "int64",
        "user": "str",
        "price": "float64",
        "paid": "bool",
        "note": "null",
    }
    assert rows.to_list() == [json.loads(line) for line in lines]


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------

LINES = [json.dumps({"id": i, "v": [i] * (i % 3), "s": "é" * (i % 4)}) for i in range(1000)]
EXPECTED = [json.loads(line) for line in LINES]
TEXT = "\n".join(LINES) + "\n"


def _gen():
    yield from LINES


@pytest.mark.parametrize(
    "make",
    [
        lambda p: str(p),
        lambda p: p,
        lambda p: TEXT.encode(),
        lambda p: bytearray(TEXT.encode()),
        lambda p: memoryview(TEXT.encode()),
        lambda p: io.BytesIO(TEXT.encode()),
        lambda p: io.StringIO(TEXT),
        lambda p: list(LINES),
        lambda p: [line.encode() + b"\n" for line in LINES],
        lambda p: _gen(),
        lambda p: open(p, "rb"),  # noqa: SIM115 - closed by the test
    ],
    ids=[
        "str",
        "Path",
        "bytes",
        "bytearray",
        "memoryview",
        "BytesIO",
        "StringIO",
        "list-str",
        "list-bytes",
        "gen",
        "file",
    ],
)
def test_every_input_kind(tmp_path, make):
    path = tmp_path / "in.jsonl"
    path.write_text(TEXT, encoding="utf-8")
    source = make(path)
    try:
        assert memslim.read_jsonl(source).to_list() == EXPECTED
    finally:
        if hasattr(source, "close"):
            source.close()


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_csv_from_bytes_like_objects(kind):
    text = "a,b\r\n1,x\r\n2,y\r\n"
    want = list(csv.DictReader(io.StringIO(text, newline="")))
    assert memslim.read_csv(kind(text.encode()), infer=False).to_list() == want
    batches = memslim.iter_csv(kind(text.encode()), infer=False, batch_size=1)
    assert [r for b in batches for r in b.to_list()] == want


@pytest.mark.parametrize("batch_size", [1, 7, 999, 1000, 1001, 100_000])
def test_iter_jsonl_batches(tmp_path, batch_size):
    path = tmp_path / "in.jsonl"
    path.write_text(TEXT, encoding="utf-8")
    reader = memslim.iter_jsonl(path, batch_size=batch_size)
    sizes = []
    got = []
    for batch in reader:
        assert isinstance(batch, memslim.DictList)
        sizes.append(len(batch))
        got.extend(batch.to_list())
    assert got == EXPECTED
    assert all(s == batch_size for s in sizes[:-1]) and 0 < sizes[-1] <= batch_size
    assert reader.rows == len(EXPECTED)
    assert list(reader) == []


def test_iter_jsonl_small_blocks_cross_lines():
    # An iterable hands over one line at a time: batches still split exactly.
    got = [b.to_list() for b in memslim.iter_jsonl(iter(LINES), batch_size=333)]
    assert [len(b) for b in got] == [333, 333, 333, 1]
    assert [r for b in got for r in b] == EXPECTED


def test_blank_lines_and_crlf():
    data = b'\n{"a": 1}\r\n\r\n  \n{"a": 2}'
    assert memslim.read_jsonl(data).to_list() == [{"a": 1}, {"a": 2}]


def test_an_empty_item_of_an_iterable_is_a_blank_line():
    # str.splitlines() gives a blank line as an empty item: it is a line all the same,
    # for the line numbers of errors and inside a quoted CSV value.
    text = '{"a": 1}\n\n{"a": oops}\n'
    for lines in (text.splitlines(), text.encode().splitlines()):
        exc = expect_error(memslim.ParseError, memslim.read_jsonl, lines)
        assert exc.line == 3, str(exc)
    csv_text = 'a,b\n1,"para1\n\npara2"\n'
    want = list(csv.DictReader(io.StringIO(csv_text, newline="")))
    for lines in (csv_text.splitlines(), csv_text.encode().splitlines()):
        assert memslim.read_csv(lines, infer=False).to_list() == want
    exc = expect_error(memslim.ParseError, memslim.read_csv, ["a,b", "", "1,2,3"])
    assert exc.line == 3, str(exc)


def test_a_leading_utf8_bom_is_skipped_by_every_reader_and_input_kind(tmp_path):
    # Windows tools start text files with a UTF-8 byte order mark; json.loads of bytes,
    # pandas and polars read past it, and so does every reader, whatever the input.
    import gzip

    def kinds(data, path):
        text = data.decode()  # "\ufeff" first: encoded back, it is the mark again
        lines = [text.splitlines(), data.splitlines(keepends=True)]
        return [path, str(path), data, io.BytesIO(data), io.StringIO(text), *lines]

    jsonl = b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n'
    want = [json.loads(line) for line in jsonl.splitlines()]
    path = tmp_path / "bom.jsonl"
    path.write_bytes(jsonl)
    gz_path = tmp_path / "bom.jsonl.gz"
    gz_path.write_bytes(gzip.compress(jsonl))
    for source in [*kinds(jsonl, path), gz_path]:
        assert memslim.read_jsonl(source).to_list() == want, repr(source)
    for source in (path, jsonl):
        assert memslim.read_jsonl(source, nested="docs").to_python() == want
        assert memslim.DocList.from_jsonl(source).to_python() == want
    table = b"\xef\xbb\xbfa,b\r\n1,x\r\n"
    want_csv = list(csv.DictReader(io.StringIO(table.decode("utf-8-sig"), newline="")))
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes(table)
    for source in kinds(table, csv_path):
        assert memslim.read_csv(source, infer=False).to_list() == want_csv, repr(source)
    assert memslim.read_csv(table, header=False).to_list()[0] == {"column_1": "a", "column_2": "b"}
    # Columns of the first line do not count it; byte offsets into the input do.
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, b'\xef\xbb\xbf{"a": x}\n')
    assert (exc.line, exc.column) == (1, 7), str(exc)
    exc = expect_error(memslim.ParseError, memslim.read_csv, b"\xef\xbb\xbfa,b\n1,b\xff\n")
    assert (exc.line, exc.column) == (2, 4) and "byte offset 10" in str(exc), str(exc)
    # Only one, at the start: a second is data.
    rows = memslim.read_csv(b"\xef\xbb\xbf\xef\xbb\xbfa\n1\n").to_list()
    assert rows == [{"\ufeffa": 1}]


def test_empty_inputs():
    assert len(memslim.read_jsonl(b"")) == 0
    assert list(memslim.iter_jsonl([])) == []
    assert len(memslim.read_csv(b"")) == 0


def test_bad_source_type():
    expect_error(TypeError, memslim.read_jsonl, 42)
    expect_error(FileNotFoundError, memslim.read_jsonl, "/nonexistent/x.jsonl")
    expect_error(ValueError, memslim.iter_jsonl, b"", batch_size=0)
    expect_error(ValueError, memslim.read_jsonl, b"", on_error="ignore")


def test_python_errors_from_sources_propagate():
    def gen():
        yield '{"a": 1}'
        raise KeyError("from the generator")

    exc = expect_error(KeyError, memslim.read_jsonl, gen())
    assert "from the generator" in str(exc)

    class Bad:
        def read(self, n):
            return 42

    expect_error(TypeError, memslim.read_jsonl, Bad())


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_syntax_error_names_path_line_column(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"é": 3,, "b": 4}\n{"a": 5}\n', encoding="utf-8")
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, path)
    assert isinstance(exc, ValueError)
    assert (exc.path, exc.line, exc.column) == (str(path), 3, 9)
    assert f"{path}: line 3, column 9" in str(exc)


@pytest.mark.parametrize(
    ("line", "column", "words"),
    [
        ("[1, 2]", 1, "JSON object"),
        ('{"a": 01}', 8, "expected"),
        ('{"a": tru}', 7, "expected a value"),
        ('{"a": "\\x"}', 8, "escape"),
        ('{"a": 1} {}', 10, "extra data"),
        ('{"a": "\x01"}', 8, "control character"),
        ('{"a": "\\ud800"}', 8, "\\ud800 is a lone surrogate"),
        ('{"a": "x\\udfff"}', 9, "\\udfff is a lone surrogate"),
    ],
)
def test_malformed_lines(line, column, words):
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, ['{"ok": 1}', line])
    assert exc.line == 2
    assert exc.column == column, str(exc)
    assert words in str(exc)


def test_invalid_utf8_line():
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, b'{"a": 1}\n{"a": "\xff"}\n')
    assert exc.line == 2 and "UTF-8" in str(exc)


def test_truncated_last_line_is_recognised():
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, b'{"a": 1}\n{"a": [1, 2')
    assert "truncated" in str(exc) and exc.line == 2 and exc.column is None
    # With a line break after it, it is an ordinary malformed line.
    exc = expect_error(memslim.ParseError, memslim.read_jsonl, b'{"a": 1}\n{"a": [1, 2\n')
    assert "truncated" not in str(exc)


def test_skip_counts_and_warns():
    data = b'{"a": 1}\nnot json\n{"a": 2}\n{"a": \xff}\n{"a": 3}\n{"a": '
    with pytest.warns(memslim.SkippedLinesWarning, match="skipped 3 malformed"):
        rows = memslim.read_jsonl(data, on_error="skip")
    assert rows.to_list() == [{"a": 1}, {"a": 2}, {"a": 3}]
    reader = memslim.iter_jsonl(data, on_error="skip", batch_size=2)
    with pytest.warns(memslim.SkippedLinesWarning):
        batches = [b.to_list() for b in reader]
    assert batches == [[{"a": 1}, {"a": 2}], [{"a": 3}]]
    assert reader.skipped == 3
    assert "line 2" in reader.first_error


def test_error_ends_iteration_but_keeps_earlier_batches():
    lines = [json.dumps({"i": i}) for i in range(10)] + ["oops"]
    reader = memslim.iter_jsonl(lines, batch_size=4)
    got = [next(reader).to_list(), next(reader).to_list()]
    assert got == [[{"i": i} for i in range(4)], [{"i": i} for i in range(4, 8)]]
    exc = expect_error(memslim.ParseError, next, reader)
    assert exc.line == 11
    assert list(reader) == []


def test_columns_and_schema():
    lines = ['{"a": 1, "skip": {"deep": [1, 2, {"x": "y"}]}, "b": "x"}', '{"b": "y", "c": 2.5}']
    rows = memslim.read_jsonl(lines, columns=["b", "a"])
    assert rows.to_list() == [{"a": 1, "b": "x"}, {"b": "y"}]
    rows = memslim.read_jsonl(lines, schema={"a": "float64", "b": "str"})
    assert rows.schema == {"a": "float64", "b": "str"}
    assert rows.to_list() == [{"a": 1, "b": "x"}, {"b": "y"}]
    exc = expect_error(memslim.SchemaError, memslim.read_jsonl, lines, schema={"b": "int64"})
    assert "line 1" in str(exc)
    with pytest.warns(memslim.SkippedLinesWarning):
        rows = memslim.read_jsonl(
            ['{"b": 1}', '{"b": "no"}', '{"b": 3}'], schema={"b": "int64"}, on_error="skip"
        )
    assert rows.to_list() == [{"b": 1}, {"b": 3}]


def test_progress_bar_goes_to_stderr(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(TEXT, encoding="utf-8")
    code = f"import memslim; print(len(memslim.read_jsonl({str(path)!r}, progress=True)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip() == "1000"
    assert "100.0%" in proc.stderr and "rows/s" in proc.stderr


# --------------------------------------------------------------------------------------
# CSV: against the csv module
# --------------------------------------------------------------------------------------

CSV_TEXT = (
    'id,name,score,ok,empty\n1,ada,9.5,true,\n2,"bob, ""jr""\nline2",,False,\n3,c,1e3,TRUE,\n'
)


def test_csv_types_quoting_and_empty_values():
    rows = memslim.read_csv(io.StringIO(CSV_TEXT))
    assert rows.schema == {
        "id": "int64",
        "name": "str",
        "score": "float64",
        "ok": "bool",
        "empty": "null",
    }
    assert rows.to_list() == [
        {"id": 1, "name": "ada", "score": 9.5, "ok": True, "empty": None},
        {"id": 2, "name": 'bob, "jr"\nline2', "score": None, "ok": False, "empty": None},
        {"id": 3, "name": "c", "score": 1000.0, "ok": True, "empty": None},
    ]


@given(
    st.lists(
        st.lists(st.text(alphabet='ab,"\n\r;é 1\t', max_size=6), min_size=3, max_size=3),
        max_size=15,
    ),
    st.sampled_from([",", ";", "\t"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_csv_infer_off_matches_dictreader(table, delimiter, line_end):
    # Rows written with \r\n, so that the writer quotes every field holding a \r or
    # a \n (with "\n" alone, Python 3.11's writer leaves a \r bare, which its own
    # reader then takes for a line end), then ended with `line_end`.
    def row_text(row):
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerow(row)
        return buf.getvalue()[:-2]

    text = "".join(row_text(r) + line_end for r in [["x", "y", "z"], *table])
    expected = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    # csv.DictReader drops rows that are blank; memslim skips blank lines the same way.
    got = memslim.read_csv(text.encode(), delimiter=delimiter, infer=False).to_list()
    assert got == expected


def test_csv_inference_sees_the_whole_stream(tmp_path):
    path = tmp_path / "late.csv"
    lines = ["code,amount"] + [f"{i:05d},{i}" for i in range(20_000)] + ["A7,1.5"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = memslim.read_csv(path)
    # One late value decides the type of the whole column: nothing guessed early breaks.
    assert rows.schema == {"code": "str", "amount": "float64"}
    assert rows[0]["code"] == "00000" and rows[-1]["code"] == "A7"
    batches = list(memslim.iter_csv(path, batch_size=5000))
    assert [len(b) for b in batches] == [5000, 5000, 5000, 5000, 1]
    assert all(b.schema == rows.schema for b in batches)


def test_csv_batches_keep_the_whole_input_types_when_a_column_is_all_empty(tmp_path):
    # z is empty in the first batch: the batch still says int64, so the batches of one
    # file make one Parquet file whatever the batch size.
    data = b"id,z\n" + b"".join(b"%d,%s\n" % (i, b"" if i < 5 else b"%d" % i) for i in range(10))
    whole = memslim.read_csv(data).schema
    assert whole == {"id": "int64", "z": "int64"}
    for batch_size in (1, 5, 100):
        batches = list(memslim.iter_csv(data, batch_size=batch_size))
        assert all(b.schema == whole for b in batches), batch_size
        assert batches[0].to_list()[0] == {"id": 0, "z": None}
        out = tmp_path / f"out{batch_size}.parquet"
        assert memslim.stream(memslim.iter_csv(data, batch_size=batch_size)).to_parquet(out) == 10
    assert [b.schema for b in memslim.iter_csv(data, batch_size=5, columns=["z"])] == [
        {"z": "int64"}
    ] * 2


def test_csv_quoted_newlines_across_blocks(tmp_path):
    long = "x" * 3_000_000
    path = tmp_path / "long.csv"
    path.write_text(f'a,b\n1,"{long}\nmore"\n2,"y"\n', encoding="utf-8")
    rows = memslim.read_csv(path)
    assert rows.to_list() == [{"a": 1, "b": long + "\nmore"}, {"a": 2, "b": "y"}]


def test_csv_options_and_errors():
    assert memslim.read_csv([b"1,2", b"3,4"], header=False).to_list() == [
        {"column_1": 1, "column_2": 2},
        {"column_1": 3, "column_2": 4},
    ]
    assert memslim.read_csv(
        io.StringIO("a|b\n'x|y'|2\n"), delimiter="|", quotechar="'"
    ).to_list() == [{"a": "x|y", "b": 2}]
    exc = expect_error(memslim.ParseError, memslim.read_csv, io.StringIO("a,b\n1,2\n3\n"))
    assert exc.line == 3 and "expected 2 fields" in str(exc)
    exc = expect_error(memslim.ParseError, memslim.read_csv, io.StringIO('a,b\n1,"2\n'))
    assert "truncated" in str(exc)
    exc = expect_error(memslim.ParseError, memslim.read_csv, io.StringIO('a,b\n1,"2"x\n'))
    assert exc.line == 2 and exc.column == 6
    expect_error(ValueError, memslim.read_csv, b"a,b", delimiter=",,")
    expect_error(ValueError, memslim.read_csv, b"a,a\n1,2\n")
    with pytest.warns(memslim.SkippedLinesWarning):
        rows = memslim.read_csv(b"a,b\n1,2\n3\n4,5\n", on_error="skip")
    assert rows.to_list() == [{"a": 1, "b": 2}, {"a": 4, "b": 5}]
    rows = memslim.read_csv(b"a,b,c\n1,2,3\n", columns=["c", "a"])
    assert rows.to_list() == [{"a": 1, "c": 3}]
    # A name the header does not have is a mistake, not a column to leave out.
    for infer in (True, False):
        exc = expect_error(
            memslim.InvalidValueError,
            memslim.read_csv,
            b"a,b\n1,2\n",
            columns=["a", "zz"],
            infer=infer,
        )
        assert '["zz"]' in str(exc) and "<bytes>" in str(exc)
    rows = memslim.read_csv(b"a,b\n1,2\n", schema={"a": "str", "b": "float64"})
    assert same(rows.to_list(), [{"a": "1", "b": 2.0}])


def test_csv_schema_names_must_be_in_the_header():
    # The same mistake as a columns= typo, which dropped every value without a word.
    for read in (memslim.read_csv, lambda *a, **k: list(memslim.iter_csv(*a, **k))):
        exc = expect_error(
            memslim.InvalidValueError,
            read,
            b"id,price\n1,9.5\n",
            schema={"ID": "int64", "price": "float64"},
        )
        assert '["ID"]' in str(exc) and "<bytes>" in str(exc)
    assert memslim.read_csv(b"id,price\n1,9.5\n", schema={"id": "int64"}).to_list() == [{"id": 1}]


csv_cells = st.one_of(st.integers(-99, 99).map(str), st.sampled_from(["1.5", "x", "true", ""]))


@given(
    st.lists(st.tuples(csv_cells, csv_cells), min_size=1, max_size=10),
    st.lists(
        st.tuples(st.integers(1, 10), st.lists(csv_cells, min_size=3, max_size=4) | csv_cells),
        max_size=3,
    ),
)
def test_csv_skipped_records_take_no_part_in_inference(good, bad):
    lines = [f"{a},{b}\n" for a, b in good]
    for at, cells in bad:
        if cells != "":  # (one empty cell is a blank line, not a bad record)
            lines.insert(at, ",".join(cells) + "\n" if isinstance(cells, list) else cells + "\n")
    clean = "id,qty\n" + "".join(f"{a},{b}\n" for a, b in good)
    dirty = "id,qty\n" + "".join(lines)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", memslim.SkippedLinesWarning)
        got = memslim.read_csv(dirty.encode(), on_error="skip")
        as_text = memslim.read_csv(dirty.encode(), on_error="skip", infer=False)
    # What is kept reads as the file without the bad lines does: types included.
    want = memslim.read_csv(clean.encode())
    assert got.schema == want.schema
    assert same(got.to_list(), want.to_list())
    assert as_text.to_list() == list(csv.DictReader(io.StringIO(clean)))


# --------------------------------------------------------------------------------------
# pipelines and sinks
# --------------------------------------------------------------------------------------

PAGES = [
    {"url": f"https://x/{i}", "status": 200 if i % 3 else 404, "body": "w " * (i % 5)}
    for i in range(500)
]


def test_pipeline_steps_match_plain_python():
    got = (
        memslim.stream(PAGES, batch_size=64)
        .where("status", "==", 200)
        .filter(lambda r: len(r["body"]) > 2)
        .map(lambda r: {"url": r["url"], "words": len(r["body"].split()), "x": 1})
        .select(["words", "url"])
        .rename({"words": "n"})
        .collect()
    )
    expected = [
        {"n": len(p["body"].split()), "url": p["url"]}
        for p in PAGES
        if p["status"] == 200 and len(p["body"]) > 2
    ]
    assert got.to_list() == expected
    assert memslim.stream(PAGES).where("status", "!=", 200).count() == sum(
        p["status"] != 200 for p in PAGES
    )
    assert memslim.stream(PAGES).where("status", ">=", 300).count() == 167
    assert memslim.stream(PAGES).where("missing", "!=", 1).count() == 500
    assert [r["url"] for r in memslim.stream(PAGES[:3])] == [p["url"] for p in PAGES[:3]]


def test_pipeline_over_reader_and_errors():
    reader = memslim.iter_jsonl([json.dumps(p) for p in PAGES], batch_size=100)
    assert memslim.stream(reader).where("status", "==", 404).count() == 167
    expect_error(ValueError, memslim.stream(PAGES).where, "status", "=~", 1)
    # A probe of any type compares as DictList.where compares it (test_select.py).
    assert memslim.stream(PAGES).where("status", "==", [1]).count() == 0
    expect_error(TypeError, memslim.stream(PAGES).select, "url")
    expect_error(ValueError, memslim.stream(PAGES).rename({"url": "status"}).count)


@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "x"]), st.integers(-5, 5), max_size=3),
        max_size=12,
    ),
    st.integers(1, 5),
)
def test_rename_is_per_record_whatever_the_batches(records, batch_size):
    # The oracle: {mapping.get(k, k): v for k, v in r.items()} for each record, which
    # merges an old and a new name of one field; a record with both has no answer.
    mapping = {"a": "b"}
    pipe = memslim.stream(records, batch_size=batch_size).rename(mapping)
    both = [i for i, r in enumerate(records) if "a" in r and "b" in r]
    if both:
        exc = expect_error(memslim.InvalidValueError, pipe.collect)
        assert f"record {both[0]} (counted from 0)" in str(exc)
        assert '"a"' in str(exc) and '"b"' in str(exc)
    else:
        want = [{mapping.get(k, k): v for k, v in r.items()} for r in records]
        got = pipe.collect().to_list()
        assert got == want
        assert [list(r) for r in got] == [list(r) for r in want]


def test_rename_ignores_a_field_no_record_has_any_more():
    rows = memslim.DictList([{"a": 1, "x": 0}, {"b": 2}])
    del rows[0]
    assert memslim.stream(iter([rows])).rename({"a": "b"}).collect().to_list() == [{"b": 2}]
    # A filter before rename: records are counted as rename is given them.
    pipe = memslim.stream([{"a": 1}, {"a": 1, "b": 2}, {"a": 3, "b": 4}], batch_size=2)
    exc = expect_error(
        memslim.InvalidValueError, pipe.filter(lambda r: r["a"] == 3).rename({"a": "b"}).count
    )
    assert "record 0 (counted from 0)" in str(exc)


def test_to_jsonl_writes_like_json_dumps(tmp_path):
    out = tmp_path / "out.jsonl"
    records = [
        {"a": 1.5, "b": None, "c": [1, {"d": "é\n"}], "e": 10**30, "f": -0.0, "g": 1e16},
        {"a": 2, "h": True},
    ]
    assert memslim.stream(records).to_jsonl(out) == 2
    assert out.read_text(encoding="utf-8").splitlines() == [
        json.dumps(r, ensure_ascii=False) for r in records
    ]
    assert memslim.read_jsonl(out).to_list() == records


def test_failure_later_keeps_what_sinks_wrote(tmp_path):
    out = tmp_path / "out.jsonl"

    def pages():
        yield from PAGES
        raise RuntimeError("network down")

    with pytest.raises(RuntimeError, match="network down"):
        memslim.stream(pages(), batch_size=100).to_jsonl(out)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert written == PAGES[:500]

    class Sink:
        def __init__(self):
            self.rows = []
            self.flushed = 0

        def extend(self, batch):
            self.rows.extend(batch.to_list())

        def flush(self):
            self.flushed = len(self.rows)

    sink = Sink()

    def boom(r):
        if r["url"].endswith("/250"):
            raise ValueError("bad page")
        return True

    with pytest.raises(ValueError, match="bad page"):
        memslim.stream(PAGES, batch_size=100).filter(boom).to_sink(sink)
    assert sink.rows == PAGES[:200] and sink.flushed == 200

    # A value JSON cannot hold: the records before it are written, whole.
    out2 = tmp_path / "bytes.jsonl"
    with pytest.raises(TypeError, match="bytes"):
        memslim.stream([{"a": 1}, {"a": b"x"}, {"a": 3}]).to_jsonl(out2)
    assert out2.read_text(encoding="utf-8") == '{"a": 1}\n'


class _Opaque:
    """An object of a class of its own (stored pickled)."""


@pytest.mark.parametrize(
    "bad",
    [
        b"raw",
        bytearray(b"raw"),
        decimal.Decimal("1.5"),
        datetime.date(2020, 1, 2),
        1j,
        {1, 2},
        frozenset([1]),
        _Opaque(),
        [1, {2}],
        {"k": {datetime.date(2020, 1, 2): 1}},
    ],
    ids=repr,
)
def test_jsonl_sink_raises_what_json_dumps_raises_naming_the_record(tmp_path, bad):
    out = tmp_path / "out.jsonl"
    recs = [{"i": i} for i in range(5)] + [{"i": bad}, {"i": 6}]
    with pytest.raises(Exception) as want:
        json.dumps(recs[5])
    for batch_size in (3, 100):
        with pytest.raises(Exception) as got:
            memslim.stream(recs, batch_size=batch_size).to_jsonl(out)
        # The class and the words json.dumps (and memslim.dumps) raises ("Object of
        # type set is not JSON serializable"); the record counted in the stream, not in
        # its batch.
        assert type(got.value) is type(want.value), got.value
        assert str(got.value) == f'{out}: record 5 (counted from 0), field "i": {want.value}'
        assert out.read_text(encoding="utf-8") == "".join(json.dumps(r) + "\n" for r in recs[:5])
    with memslim.JsonlWriter(out) as w:
        w.write(memslim.DictList(recs[:3]))
        with pytest.raises(type(want.value), match="record 5 "):
            w.write(memslim.DictList(recs[3:]))
        assert w.rows == 5


class _Text(str):
    """A str subclass (stored pickled, as it keeps its type)."""


_Pair = collections.namedtuple("_Pair", "a b")


@pytest.mark.parametrize("batch_size", [1, 2, 100])
def test_jsonl_sink_writes_subclasses_of_built_in_types_as_json_does(tmp_path, batch_size):
    # Stored pickled (to keep their types), written by json.dumps itself: the same lines
    # as json.dumps(record, ensure_ascii=False) for every record, in order.
    recs = [
        {"i": 0, "v": _Pair(1, "é")},
        {"i": 1, "v": collections.OrderedDict(b=[1.5, None], a=True)},
        {"i": 2, "v": 2},
        {"i": 3, "v": [_Text("t"), {"k": _Pair(-0.0, 2**70)}]},
        {"i": 4, "v": collections.Counter("aab")},
    ]
    want = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    out = tmp_path / "sub.jsonl"
    assert memslim.stream(recs, batch_size=batch_size).to_jsonl(out) == len(recs)
    assert out.read_text(encoding="utf-8") == want
    with memslim.JsonlWriter(out) as w:
        assert w.write(memslim.DictList(recs)) == len(recs)
    assert out.read_text(encoding="utf-8") == want
    # One the native writer meets first in the record, another json cannot write: the
    # error is json's, for that other field; the records before it are written.
    bad = [*recs[:2], {"v": _Pair(1, 2), "w": b"x"}, recs[2]]
    with pytest.raises(TypeError) as got:
        memslim.stream(bad, batch_size=batch_size).to_jsonl(out)
    assert str(got.value) == (
        f'{out}: record 2 (counted from 0), field "w": Object of type bytes is not JSON '
        "serializable"
    )
    assert out.read_text(encoding="utf-8") == "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in bad[:2]
    )
    # A lone surrogate inside the pickled object: as writing it to a UTF-8 file raises.
    with pytest.raises(memslim.InvalidValueError, match="lone surrogate"):
        memslim.stream([{"v": _Pair("\ud800", 1)}]).to_jsonl(out)


@pytest.mark.parametrize(
    "value", ["x\ud800y", ["ok", "\udcff"], {"\ud800": 1}, {"k": ("\udfff",)}], ids=ascii
)
def test_jsonl_sink_refuses_a_lone_surrogate_as_writing_utf8_does(tmp_path, value):
    # The stdlib writes json.dumps(r, ensure_ascii=False) to a UTF-8 file and raises
    # UnicodeEncodeError (a ValueError); the sink says the same, naming the record.
    recs = [{"i": 0}, {"i": 1, "s": value}]
    with pytest.raises(UnicodeEncodeError):
        json.dumps(recs[1], ensure_ascii=False).encode("utf-8")
    out = tmp_path / "out.jsonl"
    exc = expect_error(memslim.InvalidValueError, memslim.stream(recs).to_jsonl, out)
    assert isinstance(exc, ValueError)
    assert f'{out}: record 1 (counted from 0), field "s": ' in str(exc)
    assert "lone surrogate" in str(exc)
    assert out.read_text(encoding="utf-8") == '{"i": 0}\n'
    # memslim.dumps is json.dumps: escaped with ensure_ascii, kept in the str without.
    for ensure_ascii in (True, False):
        rows = memslim.DictList(recs)
        assert memslim.dumps(rows, ensure_ascii=ensure_ascii) == json.dumps(
            recs, ensure_ascii=ensure_ascii
        )


def test_jsonl_writer_direct(tmp_path):
    out = tmp_path / "w.jsonl"
    with memslim.JsonlWriter(out) as w:
        assert w.write(memslim.DictList([{"x": 1}])) == 1
        assert w.write(memslim.DictList([{"x": 2}, {"y": "z"}])) == 3
        expect_error(TypeError, w.write, [{"x": 1}])
    expect_error(ValueError, w.write, memslim.DictList([{"x": 1}]))
    assert w.rows == 3 and w.path == str(out)
    assert out.read_text(encoding="utf-8") == '{"x": 1}\n{"x": 2}\n{"y": "z"}\n'


# --------------------------------------------------------------------------------------
# memory: bounded by the batch, whatever the input size
# --------------------------------------------------------------------------------------

PEAK_SCRIPT = """
import resource, sys, memslim
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = 0
for batch in memslim.iter_jsonl(sys.argv[1], batch_size=10_000):
    n += len(batch)
    del batch
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, (peak - before) * 1024)
"""


def test_iter_jsonl_memory_is_bounded_by_the_batch(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(400_000):
            f.write(
                f'{{"id": {i}, "user": "user{i:07d}", "price": {i / 7:.3f}, "tags": ["a", {i}]}}\n'
            )
    size = path.stat().st_size
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    n, growth = map(int, proc.stdout.split())
    assert n == 400_000
    # The file is ~30 MB; a few 10,000-record batches and the blocks are a few MB.
    assert growth < size / 2, (growth, size)


def test_pipeline_module_is_public():
    assert memslim.Stream is memslim.pipeline.Stream
    assert Path(memslim.pipeline.__file__).name == "pipeline.py"
    assert isinstance(memslim.stream([]), memslim.Stream)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert memslim.stream([]).collect().to_list() == []


def test_gzip_input_by_extension(tmp_path):
    import gzip

    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(TEXT)
    assert memslim.read_jsonl(path).to_list() == EXPECTED
    assert sum(len(b) for b in memslim.iter_jsonl(path, batch_size=100)) == len(EXPECTED)
    csv_path = tmp_path / "t.csv.gz"
    with gzip.open(csv_path, "wt", encoding="utf-8") as f:
        f.write("a,b\n1,x\n2,y\n")
    assert memslim.read_csv(csv_path).to_list() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(TEXT.encode())[:200])
    expect_error(memslim.CorruptFileError, memslim.read_jsonl, bad)


@given(st.binary(max_size=200), st.sampled_from(["jsonl", "csv"]), st.booleans())
def test_arbitrary_bytes_never_crash(data, kind, skip):
    """Any input gives records or a clean exception, never a panic."""
    read = memslim.read_jsonl if kind == "jsonl" else memslim.read_csv
    on_error = "skip" if skip else "raise"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rows = read(data, on_error=on_error)
        except BaseException as exc:  # noqa: BLE001 - a panic must fail the test
            assert isinstance(exc, (ValueError, TypeError, OSError)), repr(exc)
            return
    assert isinstance(rows, memslim.DictList)


@given(st.lists(json_records, max_size=8), st.integers(min_value=1, max_value=50))
def test_json_mutations_never_crash(records, cut):
    text = "\n".join(json.dumps(r) for r in records).encode()
    for mutated in (text[:cut], text[cut:], text.replace(b":", b",", 1), text + b"{"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                memslim.read_jsonl(mutated, on_error="skip")
                memslim.read_jsonl(mutated)
            except memslim.ParseError:
                pass
            except memslim.SchemaError:
                pass


SIGNAL_SCRIPT = """
import signal, sys, time, memslim
ran = []
signal.signal(signal.SIGALRM, lambda *a: ran.append(time.perf_counter()))
signal.setitimer(signal.ITIMER_REAL, 0.001)
rows = memslim.read_jsonl(sys.argv[1])
done = time.perf_counter()
print(len(rows), bool(ran) and ran[0] < done)
"""


def test_signal_handlers_run_during_a_long_read(tmp_path):
    # Python signal handlers (Ctrl-C's KeyboardInterrupt among them) run between steps
    # of a long read, not only after it returns.
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"i": {i}}}\n' for i in range(600_000)), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", SIGNAL_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert proc.stdout.split() == ["600000", "True"]


def test_to_file_writes_a_persistent_list_and_keeps_it_on_a_later_failure(tmp_path):
    path = tmp_path / "summaries.msl"
    n = (
        memslim.stream(PAGES, batch_size=100)
        .map(lambda r: {"url": r["url"], "words": len(r["body"].split())})
        .to_file(path)
    )
    expected = [{"url": r["url"], "words": len(r["body"].split())} for r in PAGES]
    assert n == len(PAGES)
    with memslim.DictList.open(path, mode="r") as f:
        assert list(f) == expected

    def pages():
        yield from PAGES[:300]
        raise RuntimeError("network down")

    with pytest.raises(RuntimeError, match="network down"):
        memslim.stream(pages(), batch_size=100).select(["url"]).to_file(tmp_path / "part.msl")
    with memslim.DictList.open(tmp_path / "part.msl", mode="r") as f:
        assert [r["url"] for r in f] == [r["url"] for r in PAGES[:300]]
    # Appending to an existing file adds to it.
    memslim.stream(PAGES[:5]).select(["url"]).to_file(tmp_path / "part.msl")
    with memslim.DictList.open(tmp_path / "part.msl", mode="r") as f:
        assert len(f) == 305


def test_read_jsonl_nested_docs_gives_a_doclist(tmp_path):
    docs = [{"id": i, "user": {"name": f"u{i}", "tags": ["a", i]}, "geo": None} for i in range(50)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    for source in (path, str(path), path.read_bytes()):
        got = memslim.read_jsonl(source, nested="docs")
        assert isinstance(got, memslim.DocList)
        assert got.to_python() == docs
        assert got[7]["user"]["tags"][1] == 7
    with pytest.raises(ValueError, match="nested"):
        memslim.read_jsonl(path, nested="rows")
    with pytest.raises(ValueError, match="columns"):
        memslim.read_jsonl(path, nested="docs", columns=["id"])


def test_csv_from_a_one_shot_iterable_is_spooled_to_disk(tmp_path, monkeypatch):
    # Type inference reads the input twice; an iterable is copied to an unnamed
    # temporary file (in TMPDIR), not into memory, and nothing is left behind.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    lines = itertools.chain(["a,b,c\n"], (f"{i},{i * 0.5},name{i % 7}\n" for i in range(20_000)))
    batches = list(memslim.iter_csv(lines, batch_size=5_000))
    assert [len(b) for b in batches] == [5_000] * 4
    assert batches[0][1] == {"a": 1, "b": 0.5, "c": "name1"}
    assert same(batches[3][-1]["b"], 19_999 * 0.5)
    assert list(tmp_path.iterdir()) == []


def test_csv_lines_end_at_a_bare_cr_as_the_csv_module_ends_them(tmp_path) -> None:
    """Lines ended by a bare \\r (classic Mac, Excel's "CSV (Macintosh)"), mixed endings,
    and a stray \\r before \\r\\n are read as csv.DictReader reads them."""
    texts = [
        "a,b\r1,x\r2,y\r",
        "a,b\r1,x\r2,y",
        "a\r\n1\r\r\n2\r\n",
        'a,b\r\n"1",w\r2,x\n',
        'a,b\r1,"x\ry"\r"2\r\n",z\r',
    ]
    for text in texts:
        want = list(csv.DictReader(io.StringIO(text, newline="")))
        assert memslim.read_csv(text.encode(), infer=False).to_list() == want, repr(text)
    # Across blocks, from a file, with types inferred; an error names its line.
    lines = ["n,s"] + [f"{i},v{i % 7}" for i in range(60_000)]
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join(lines).encode() + b"\r")
    rows = memslim.read_csv(path)  # about 600 KB: several of the reader's blocks
    assert len(rows) == 60_000 and rows[-1] == {"n": 59_999, "s": "v2"}
    path.write_bytes(b"n,s\r1,a\r2,b,extra\r")
    exc = expect_error(memslim.ParseError, memslim.read_csv, path)
    assert exc.line == 3, str(exc)


def test_csv_lines_given_as_an_iterable_keep_a_bare_cr_as_their_line_end():
    text = 'x,y\r1,"a\rb"\r2,c\r'
    lines = list(io.StringIO(text, newline=""))  # each item ends with its bare \r
    want = list(csv.DictReader(lines))
    assert memslim.read_csv(lines, infer=False).to_list() == want
    got = [r for b in memslim.iter_csv(iter(lines), infer=False) for r in b.to_list()]
    assert got == want


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_csv_from_a_text_file_read_partly_goes_on_where_it_stands(tmp_path, end):
    # After a preamble line, a text file's tell() is an opaque cookie (past 2**64 once
    # its decoder holds a \r): the reader seeks back to it, as only seek() can read it.
    path = tmp_path / "pre.csv"
    path.write_text(end.join(["exported by tool X", "id,name", "1,ada", "2,bob", ""]), newline="")
    with open(path, newline="") as f:
        f.readline()
        want = list(csv.DictReader(f))
    for infer in (False, True):
        with open(path, newline="") as f:
            f.readline()
            got = memslim.read_csv(f, infer=infer).to_list()
        assert got == ([dict(r, id=int(r["id"])) for r in want] if infer else want)


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_a_csv_error_inside_a_record_spanning_lines_names_its_own_line_and_column(nl):
    text = f'a,b{nl}5,"x{nl}yy{nl}zz"q{nl}6,7{nl}'
    exc = expect_error(memslim.ParseError, memslim.read_csv, text.encode(), infer=False)
    assert (exc.line, exc.column) == (4, 4), str(exc)
