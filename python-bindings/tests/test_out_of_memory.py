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
    elif how.startswith(("append", "extend")):
        rows = memslim.DictList([{"a": 1}])
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
        elif how.startswith(("append", "file")):
            rows.append({"a": value})
        elif how.startswith("extend"):
            rows.extend([{"a": "x"}, {"a": value}])
        elif how.startswith("new"):
            rows = memslim.DictList([{"a": 2}, {"b": value}])
        print("loaded", len(rows))
    except MemoryError as e:
        # The structure is as it was: appends left the record out, and it still reads.
        if how.startswith(("append", "extend", "file")):
            print("MemoryError", len(rows), rows[-1]["a"], e)
        else:
            print("MemoryError", e)
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
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
                if how.startswith("file")
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
