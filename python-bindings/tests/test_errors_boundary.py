"""The one error boundary: every error memslim raises on purpose is a ``MemslimError``
that is also the built-in it means, and the few plain built-ins that mirror list, dict
and file semantics stay exactly those built-ins."""

from __future__ import annotations

import io
import json

import memslim
import pytest
from memslim import DictList

NEW_CLASSES = {
    "InvalidValueError": ValueError,
    "UnsupportedTypeError": TypeError,
    "LimitError": ValueError,
    "ConcurrentUseError": RuntimeError,
    "ClosedFileError": ValueError,
    "AppendOnlyError": IndexError,
}


@pytest.mark.parametrize("name", sorted(NEW_CLASSES))
def test_new_classes_derive_from_memslim_error_and_their_builtin(name):
    cls = getattr(memslim, name)
    assert cls is getattr(memslim.exceptions, name)
    assert issubclass(cls, memslim.MemslimError)
    assert issubclass(cls, NEW_CLASSES[name])
    assert name in memslim.__all__
    assert name in memslim.exceptions.__all__


def raised(call):
    """The exception `call()` raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as info:  # the class is what the callers check
        call()
    return info.value


def rows_file(tmp_path, name="rows.arrow", records=({"a": 1}, {"a": 2.5}, {"a": "x"})):
    path = tmp_path / name
    with DictList.open(path) as f:
        f.extend(list(records))
    return path


def number_file(tmp_path, dtype="int64", values=(1, 2, 3)):
    a = memslim.NumberFile(tmp_path / "n.bin", dtype)
    a.extend(list(values))
    return a


# (what, the call given tmp_path, the class it must raise)
CONVERTED = {
    "chunk_rows 0": (lambda t: DictList([], chunk_rows=0), memslim.InvalidValueError),
    "tuple of the wrong length": (
        lambda t: memslim.TupleList([(1, 2)], fields=("a",)),
        memslim.InvalidValueError,
    ),
    "schema not str to str": (lambda t: DictList(schema={"a": 1}), memslim.SchemaError),
    "TupleList without fields": (lambda t: memslim.TupleList([[1]]), memslim.SchemaError),
    "file mode": (
        lambda t: DictList.open(t / "x.arrow", mode="w"),
        memslim.InvalidValueError,
    ),
    "recover read-only": (
        lambda t: DictList.open(t / "x.arrow", mode="r", recover=True),
        memslim.InvalidValueError,
    ),
    "number file mode": (
        lambda t: memslim.NumberFile(t / "n.bin", "int64", mode="x"),
        memslim.InvalidValueError,
    ),
    "number file dtype": (
        lambda t: memslim.NumberFile(t / "n.bin", "int3"),
        memslim.InvalidValueError,
    ),
    "number file value type": (
        lambda t: number_file(t).append("one"),
        memslim.UnsupportedTypeError,
    ),
    "number file value range": (
        lambda t: number_file(t, "int8").append(300),
        memslim.InvalidValueError,
    ),
    "number file insert": (
        lambda t: number_file(t).insert(0, 5),
        memslim.AppendOnlyError,
    ),
    "number file del": (
        lambda t: number_file(t).__delitem__(0),
        memslim.AppendOnlyError,
    ),
    "number file pop": (
        lambda t: number_file(t).pop(0),
        memslim.AppendOnlyError,
    ),
    "file closed": (
        lambda t: _closed_file(t).append({"a": 1}),
        memslim.ClosedFileError,
    ),
    "file column sum of strings": (
        lambda t: _open(rows_file(t, records=({"s": "x"},))).column("s").sum(),
        memslim.UnsupportedTypeError,
    ),
    "jsonl batch size": (
        lambda t: memslim.iter_jsonl(io.BytesIO(b""), batch_size=0),
        memslim.InvalidValueError,
    ),
    "jsonl on_error": (
        lambda t: memslim.read_jsonl(io.BytesIO(b""), on_error="ignore"),
        memslim.InvalidValueError,
    ),
    "jsonl nested": (
        lambda t: memslim.read_jsonl(io.BytesIO(b""), nested="rows"),
        memslim.InvalidValueError,
    ),
    "jsonl max_line_bytes": (
        lambda t: memslim.read_jsonl(io.BytesIO(b""), max_line_bytes=0),
        memslim.InvalidValueError,
    ),
    "jsonl schema dtype": (
        lambda t: memslim.read_jsonl(io.BytesIO(b"{}\n"), schema={"a": "int3"}),
        memslim.InvalidValueError,
    ),
    "csv delimiter": (
        lambda t: memslim.read_csv(io.BytesIO(b"a\n1\n"), delimiter=";;"),
        memslim.InvalidValueError,
    ),
    "jsonl writer closed": (
        lambda t: _closed_jsonl_writer(t).write(DictList([{"a": 1}])),
        memslim.ClosedFileError,
    ),
    "parquet writer sizes": (
        lambda t: memslim._memslim.ParquetWriter(t / "p.parquet", dataset=False, row_group_size=0),
        memslim.InvalidValueError,
    ),
    "parquet writer closed": (
        lambda t: _closed_parquet_writer(t).write(DictList([{"a": 1}])),
        memslim.ClosedFileError,
    ),
    "parquet reader batch size": (
        lambda t: memslim.iter_parquet(t / "none.parquet", batch_size=0),
        memslim.InvalidValueError,
    ),
    "rows.where comparison": (
        lambda t: DictList([{"a": 1}]).where("a", "=~", 1),
        memslim.InvalidValueError,
    ),
    "stream where comparison": (
        lambda t: memslim.stream([{"a": 1}]).where("a", "=~", 1),
        memslim.InvalidValueError,
    ),
    "stream batch size": (
        lambda t: memslim.stream([{"a": 1}], batch_size=0),
        memslim.InvalidValueError,
    ),
    "stream source type": (
        lambda t: memslim.pipeline._open_source(str(t / "data.xml"), 10),
        memslim.InvalidValueError,
    ),
    "report sample": (
        lambda t: memslim.report([{"a": 1}], sample=0),
        memslim.InvalidValueError,
    ),
    "report non-record": (
        lambda t: memslim.report([1, 2]),
        memslim.SchemaError,
    ),
    "arrow import of a bad type": (
        lambda t: _save_bad_arrow(t),
        memslim.MemslimError,
    ),
    "document nested too deeply": (
        lambda t: memslim.DocList().append(_nested(600)),
        memslim.LimitError,
    ),
    "document with a view nested too deeply": (
        lambda t: memslim.DocList().append(_nested(600, memslim.DocList([[1]])[0])),
        memslim.LimitError,
    ),
}


def _nested(depth, inner=None):
    """A list nested `depth` levels deep around `inner`."""
    value = [] if inner is None else [inner]
    for _ in range(depth):
        value = [value]
    return value


def _open(path):
    return DictList.open(path, mode="r")


def _closed_file(t):
    f = DictList.open(t / "closed.arrow")
    f.close()
    return f


def _closed_jsonl_writer(t):
    w = memslim.JsonlWriter(t / "out.jsonl")
    w.close()
    return w


def _closed_parquet_writer(t):
    w = memslim._memslim.ParquetWriter(t / "out.parquet", dataset=False)
    w.close()
    return w


def _save_bad_arrow(t):
    # Not an Arrow stream exporter at all: the plain TypeError of a wrong argument type
    # (kept a built-in); a real exporter with an unsupported type is a MemslimError.
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"d": pa.array([1], type=pa.decimal128(5, 2))})
    return DictList.from_arrow(table)


@pytest.mark.parametrize("what", sorted(CONVERTED))
def test_converted_errors_are_memslim_errors(tmp_path, what):
    call, cls = CONVERTED[what]
    e = raised(lambda: call(tmp_path))
    assert isinstance(e, memslim.MemslimError), (what, type(e), e)
    assert isinstance(e, cls), (what, type(e), e)


SIZE_ARGUMENTS = {
    "batch_size": [
        lambda t, n: memslim.iter_jsonl(b'{"a": 1}\n', batch_size=n),
        lambda t, n: memslim.iter_csv(b"a\n1\n", batch_size=n),
        lambda t, n: memslim.iter_parquet(_parquet(t), batch_size=n),
    ],
    "max_line_bytes": [
        lambda t, n: memslim.read_jsonl(b'{"a": 1}\n', max_line_bytes=n),
        lambda t, n: memslim.read_jsonl(b'{"a": 1}\n', max_line_bytes=n, nested="docs"),
        lambda t, n: memslim.iter_jsonl(b'{"a": 1}\n', max_line_bytes=n),
        lambda t, n: memslim.read_csv(b"a\n1\n", max_line_bytes=n),
        lambda t, n: memslim.iter_csv(b"a\n1\n", max_line_bytes=n),
    ],
    "row_group_size": [
        lambda t, n: DictList([{"a": 1}]).to_parquet(t / "r.parquet", row_group_size=n),
        lambda t, n: memslim.stream([{"a": 1}]).to_parquet(t / "s.parquet", row_group_size=n),
    ],
    "max_rows_per_file": [
        lambda t, n: DictList([{"a": 1}]).to_parquet(t / "d", max_rows_per_file=n),
    ],
    "chunk_rows": [
        lambda t, n: DictList([{"a": 1}], chunk_rows=n),
        lambda t, n: memslim.TupleList([(1,)], ["a"], chunk_rows=n),
        lambda t, n: DictList.from_arrow(DictList([{"a": 1}]), chunk_rows=n),
    ],
}


def _parquet(t):
    path = t / "in.parquet"
    if not path.exists():
        DictList([{"a": 1}]).to_parquet(path)
    return path


@pytest.mark.parametrize("name", sorted(SIZE_ARGUMENTS))
def test_a_size_below_one_is_an_invalid_value_naming_the_argument(tmp_path, name):
    # Negative included: not the OverflowError a plain usize argument raises, which
    # `except ValueError` misses.
    for call in SIZE_ARGUMENTS[name]:
        call(tmp_path, 100)
        for n in (0, -1, -(2**70)):
            e = raised(lambda call=call, n=n: call(tmp_path, n))
            assert isinstance(e, memslim.InvalidValueError), (name, n, type(e), e)
            assert f"{name} must be at least 1, not {n}" in str(e), (name, n, e)


class ReadsTheFile:
    """A stored object whose unpickling reads the file it is being read from."""

    target = None

    def __init__(self):
        self.state = 1  # so that unpickling calls __setstate__

    def __setstate__(self, state):
        len(ReadsTheFile.target)


def test_reentrant_use_of_a_record_file_is_a_concurrent_use_error(tmp_path):
    # A pending record is read under the file's lock: a value whose loading uses the
    # file again is refused, not a deadlock.
    path = tmp_path / "re.arrow"
    f = DictList.open(path, trusted=True)
    f.append({"o": ReadsTheFile()})
    ReadsTheFile.target = f
    try:
        e = raised(lambda: f[0]["o"])
    finally:
        ReadsTheFile.target = None
    assert isinstance(e, memslim.ConcurrentUseError), (type(e), e)
    assert isinstance(e, RuntimeError)
    assert len(f) == 1  # the file is usable again
    f.close()


def test_a_committed_record_is_read_without_the_file_lock(tmp_path):
    # Committed records never change, so a row reads them from the batch it holds: the
    # same loading that is refused for a pending record works.
    path = tmp_path / "re.arrow"
    with DictList.open(path) as f:
        f.append({"o": ReadsTheFile()})
    f = DictList.open(path, mode="r", trusted=True)
    ReadsTheFile.target = f
    try:
        assert isinstance(f[0]["o"], ReadsTheFile)
        assert isinstance(next(iter(f))["o"], ReadsTheFile)
    finally:
        ReadsTheFile.target = None
    f.close()


def test_watch_log_line_that_is_not_json_is_a_parse_error(tmp_path):
    from memslim._watch import WatchLog

    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps({"event": "start"}) + "\n" + "{not json\n" + "{}\n")
    e = raised(lambda: WatchLog.read(path))
    assert isinstance(e, memslim.ParseError)
    assert isinstance(e, ValueError)
    assert e.line == 2
    assert e.path == str(path)


def test_watch_interval_is_an_invalid_value_error(tmp_path):
    e = raised(lambda: memslim.watch(tmp_path / "w.jsonl", interval=0))
    assert isinstance(e, memslim.InvalidValueError)


# The built-ins kept on purpose: exactly what a list, dict or file raises.
KEPT = {
    "file index": (lambda t: _open(rows_file(t))[10], IndexError),
    "file column key": (lambda t: _open(rows_file(t)).column("nope"), KeyError),
    "file row key": (lambda t: _open(rows_file(t))[0]["nope"], KeyError),
    "file column index of absent": (
        lambda t: _open(rows_file(t)).column("a").index(99),
        ValueError,
    ),
    "file column min of nothing": (
        lambda t: _open(rows_file(t, records=({"b": None},))).column("b").min(),
        ValueError,
    ),
    "number file index": (lambda t: number_file(t)[10], IndexError),
    "number file pop empty": (lambda t: number_file(t, values=()).pop(), IndexError),
    "number file index of absent": (lambda t: number_file(t).index(99), ValueError),
    "number file int past 64 bits": (lambda t: number_file(t).append(2**70), OverflowError),
    "file not found": (lambda t: DictList.open(t / "no" / "such.arrow"), FileNotFoundError),
    # A directory: the errno of opening one as a file, in every mode (not ENODEV).
    "file is a directory, read": (lambda t: DictList.open(t, mode="r"), IsADirectoryError),
    "file is a directory, append": (lambda t: DictList.open(t, mode="a"), IsADirectoryError),
    "number file is a directory": (
        lambda t: memslim.NumberFile(t, mode="r"),
        IsADirectoryError,
    ),
    "dict list index": (lambda t: DictList([{"a": 1}])[5], IndexError),
    "wrong argument type": (lambda t: memslim.read_jsonl(42), TypeError),
}


@pytest.mark.parametrize("what", sorted(KEPT))
def test_kept_builtins_are_exactly_the_builtin(tmp_path, what):
    call, cls = KEPT[what]
    e = raised(lambda: call(tmp_path))
    assert isinstance(e, cls), (what, type(e), e)
    assert not isinstance(e, memslim.MemslimError), (what, type(e), e)
