"""A value larger than the memory left, on every ingest path: a reader of JSON Lines or
CSV, ``DictList.append``/``extend``/``DictList(...)``, a record file's ``append``. Each
runs in a child process under an address-space cap (RLIMIT_AS) swept from where the
input barely fits to where the whole load does: at every cap it loads, or raises
``MemoryError`` naming the file and line (readers) or the row and field (appends); the
interpreter never aborts ("memory allocation of N bytes failed", SIGABRT), as it did
where the parser's copy fit and a later one (the scratch copy of a decoded string, a
nested value's encoding, the column or dictionary it is stored in) did not."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux's /proc"
)

# The long value: large enough that its copies dwarf the interpreter's own allocations
# under the cap, small enough that a child takes well under a second.
MIB = 32

CHILD = textwrap.dedent(
    """
    import resource, sys
    import memslim
    how, path, cap_mib, mib = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    n = mib << 20
    value = {
        "str": lambda: "a" * n,
        "text": lambda: "\\u00e9" * (n // 2),
        "bytes": lambda: b"a" * n,
        "nested": lambda: [1, "a" * n],
    }.get(how.split("-")[-1], lambda: None)()
    if how.startswith("file"):
        rows = memslim.DictList.open(path, "a")
        rows.append({"a": 1})
    elif how.startswith("flush"):
        # The large value pending, the cap set before the flush writes it.
        rows = memslim.DictList.open(path, "a")
        rows.append({"a": 1})
        rows.flush()
        rows.append({"a": value})
    elif how.startswith(("append", "extend", "set", "insert")):
        rows = memslim.DictList([{"a": 1}])
    elif how.startswith("doc"):
        rows = memslim.DocList([{"a": 1}])
    elif how.startswith("arrow"):
        import pyarrow as pa
        table = pa.table({"a": ["x", value] if how.endswith("str") else [b"x", value]})
    vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize"))
    cap = (vm << 10) + (cap_mib << 20)
    # The soft limit only: lifted again before the record file is flushed at exit
    # (a flush of a value past the memory left is not covered here).
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.RLIM_INFINITY))
    try:
        if how == "jsonl":
            rows = memslim.read_jsonl(path)
        elif how == "csv":
            rows = memslim.read_csv(path)
        elif how.startswith(("append", "file", "doc")):
            rows.append({"a": value})
        elif how.startswith("set"):
            rows[0] = {"a": value}
        elif how.startswith("insert"):
            rows.insert(0, {"a": value})
        elif how.startswith("flush"):
            rows.flush()
        elif how.startswith("arrow"):
            rows = memslim.DictList.from_arrow(table)
        elif how == "parquet":
            rows = memslim.read_parquet(path)
        elif how.startswith("extend"):
            rows.extend([{"a": "x"}, {"a": value}])
        elif how.startswith("new"):
            rows = memslim.DictList([{"a": 2}, {"b": value}])
        print("loaded", len(rows))
    except MemoryError as e:
        # The structure is as it was: appends left the record out, and it still reads.
        if how.startswith(("append", "extend", "file", "set", "insert", "doc")):
            print("MemoryError", len(rows), rows[-1]["a"], e)
        elif how.startswith("flush"):
            # The record stays pending; the file holds what it held (a reader sees it).
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)
            with memslim.DictList.open(path, "r") as reader:
                print("MemoryError", len(rows), len(reader), reader[-1]["a"], e)
        else:
            print("MemoryError", e)
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    if how.startswith("flush"):
        # With the memory there, the same flush writes it, and the file opens with both.
        rows.close()
        with memslim.DictList.open(path, "r") as back:
            assert len(back) == 2 and back[0]["a"] == 1 and back[1]["a"] == value
    """
)


def sweep(how: str, path: Path, caps: range) -> list[str]:
    """Runs the child for each cap (MiB above its use before the call), three at a time;
    returns each one's last line of output, after checking that none aborted."""
    outs = []
    caps = list(caps)
    for i in range(0, len(caps), 3):
        procs = [
            subprocess.Popen(
                # A record file of its own for each child (one writer at a time).
                [sys.executable, "-c", CHILD, how, f"{path}.{cap}", str(cap), str(MIB)]
                if how.startswith(("file", "flush"))
                else [sys.executable, "-c", CHILD, how, str(path), str(cap), str(MIB)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for cap in caps[i : i + 3]
        ]
        for cap, proc in zip(caps[i : i + 3], procs):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (how, cap, proc.returncode, err[-2000:])
            outs.append(out.strip().splitlines()[-1])
    return outs


def write_gz(path: Path, head: bytes, tail: bytes) -> Path:
    """A .gz of ``head``, ``MIB`` MiB of ``a``, ``tail``: 75 KB on disk."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        chunk = b"a" * (1 << 20)
        for _ in range(MIB):
            f.write(chunk)
        f.write(tail)
    return path


@pytest.mark.parametrize(
    ("how", "name", "head", "tail", "line", "top"),
    [
        ("jsonl", "plain.jsonl.gz", b'{"a": "', b'"}\n', 1, 9),
        # Decoded into the parser's buffer, then copied into the block's scratch.
        ("jsonl", "escaped.jsonl.gz", b'{"a": "\\n', b'"}\n', 1, 12),
        # Encoded (a nested value), then copied into the block's scratch.
        ("jsonl", "nested.jsonl.gz", b'{"a": ["', b'"]}\n', 1, 12),
        ("csv", "plain.csv.gz", b"a\n", b"\n", 2, 9),
        # Doubled quotes: the field is decoded, then copied into the block's scratch.
        ("csv", "quoted.csv.gz", b'a\n"""', b'"\n', 2, 12),
    ],
    ids=["jsonl", "jsonl-escaped", "jsonl-nested", "csv", "csv-quoted"],
)
def test_a_reader_meets_a_value_past_the_memory_left(tmp_path, how, name, head, tail, line, top):
    path = write_gz(tmp_path / name, head, tail)
    # Up to `top` times the value: where the whole load fits, with room to spare (how
    # much a load takes at its peak varies a little with the reading thread's timing).
    outs = sweep(how, path, range(2 * MIB, top * MIB + 1, MIB // 2))
    for out in outs:
        assert out == "loaded 1" or out.startswith(f"MemoryError {path}: line {line}: "), out
    # The sweep spans the window: from the line that does not fit to the load that does.
    assert outs[0].startswith("MemoryError") and outs[-1] == "loaded 1", outs


@pytest.mark.parametrize(
    "how",
    [
        "append-str",
        "append-text",  # not ASCII: its UTF-8 form is made (by CPython) first
        "append-bytes",
        "append-nested",  # encoded first
        "extend-str",
        "new-str",
        "file-str",
    ],
)
def test_an_append_of_a_value_past_the_memory_left(tmp_path, how):
    path = tmp_path / "rows.msl"
    outs = sweep(how, path, range(MIB // 4, 3 * MIB + 1, MIB // 4))
    row = {"extend": 2, "new": 1}.get(how.split("-")[0], 1)
    field = "b" if how.startswith("new") else "a"
    for out in outs:
        if out.startswith("loaded"):
            continue
        assert out.startswith("MemoryError"), out
        if how.startswith(("append", "file")):
            # One record, as before the call.
            assert out.startswith("MemoryError 1 1 "), out
        elif how.startswith("extend"):
            assert out.startswith("MemoryError 1 1 "), out  # extend is all or nothing
        assert f'row {row}, field "{field}"' in out, out
    assert outs[0].startswith("MemoryError") and outs[-1].startswith("loaded"), outs


@pytest.mark.parametrize(
    ("how", "row", "top"),
    [
        ("set-str", 0, 3),
        ("set-bytes", 0, 3),
        ("set-nested", 0, 3),
        ("insert-str", 0, 4),
        ("insert-text", 0, 4),
        ("doc-str", 1, 3),
        ("doc-bytes", 1, 3),
        ("flush-str", 1, 7),
        ("flush-bytes", 1, 7),
        ("flush-nested", 1, 7),
        ("arrow-str", 1, 4),
        ("arrow-bytes", 1, 4),
    ],
)
def test_a_write_of_a_value_past_the_memory_left(tmp_path, how, row, top):
    # rows[i] = {...}, rows.insert(i, {...}), DocList.append, a record file's flush of a
    # pending record, DictList.from_arrow: each raises MemoryError naming the row and
    # field (and the file), the list, the document list and the file as they were, where
    # they aborted the interpreter (the value fit, the copy into the column, the
    # dictionary, the encoding or the file's message did not).
    path = tmp_path / "rows.msl"
    # Coarser steps where a child takes longer (a flush; pyarrow imported).
    step = MIB if how.startswith(("flush", "arrow")) else MIB // 2
    outs = sweep(how, path, range(MIB // 4, top * MIB + 1, step))
    for out in outs:
        if out.startswith("loaded"):
            continue
        assert out.startswith("MemoryError"), out
        if how.startswith("doc"):
            # The value's path, or the document when its whole copy is what fails.
            assert out.startswith("MemoryError 1 1 doc[1]"), out
            continue
        if how.startswith(("set", "insert")):
            assert out.startswith("MemoryError 1 1 "), out
        elif how.startswith("flush"):
            # Still pending (2 records), the file with its one record.
            assert out.startswith(f"MemoryError 2 1 1 {path}"), out
        assert f'row {row}, field "a"' in out, out
    assert outs[0].startswith("MemoryError") and outs[-1].startswith("loaded"), outs
