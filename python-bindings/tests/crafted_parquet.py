"""Crafted Parquet files for the tests: a Thrift compact codec (generic structs) that
edits a file's footer or a page header, and a reader run in a child process under an
address-space limit, so that an abort or a hang there cannot take the test run down."""

from __future__ import annotations

import struct
import subprocess
import sys


def _rvar(b: bytes, i: int) -> tuple[int, int]:
    s = v = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << s
        if not x & 0x80:
            return v, i
        s += 7


def _zdec(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _zenc(n: int) -> int:
    return ((n << 1) ^ (n >> 63)) & ((1 << 64) - 1)


def _wvar(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _rval(b: bytes, i: int, t: int):
    if t in (1, 2):
        return t == 1, i
    if t == 3:
        return b[i], i + 1
    if t in (4, 5, 6):
        v, i = _rvar(b, i)
        return _zdec(v), i
    if t == 7:
        return b[i : i + 8], i + 8
    if t == 8:
        n, i = _rvar(b, i)
        return bytes(b[i : i + n]), i + n
    if t in (9, 10):
        h = b[i]
        i += 1
        n, et = h >> 4, h & 0x0F
        if n == 15:
            n, i = _rvar(b, i)
        items = []
        for _ in range(n):
            if et in (1, 2):
                items.append(b[i] == 1)
                i += 1
            else:
                v, i = _rval(b, i, et)
                items.append(v)
        return ["list", et, items], i
    if t == 12:
        return read_struct(b, i)
    raise ValueError(t)


def read_struct(b: bytes, i: int) -> tuple[list, int]:
    """The struct at ``b[i:]`` as ``["struct", [[id, type, value], ...]]``, and its end."""
    fields, last = [], 0
    while True:
        h = b[i]
        i += 1
        if h == 0:
            return ["struct", fields], i
        t, d = h & 0x0F, h >> 4
        if d == 0:
            fid, i = _rvar(b, i)
            fid = _zdec(fid)
        else:
            fid = last + d
        last = fid
        v, i = _rval(b, i, t)
        fields.append([fid, t, v])


def _wval(t: int, v) -> bytes:
    if t in (1, 2):
        return b""
    if t == 3:
        return bytes([v])
    if t in (4, 5, 6):
        return _wvar(_zenc(v))
    if t == 7:
        return v
    if t == 8:
        return _wvar(len(v)) + v
    if t in (9, 10):
        _, et, items = v
        out = bytearray([(len(items) << 4) | et] if len(items) < 15 else [0xF0 | et])
        if len(items) >= 15:
            out += _wvar(len(items))
        for it in items:
            out += bytes([1 if it else 2]) if et in (1, 2) else _wval(et, it)
        return bytes(out)
    return write_struct(v)


def write_struct(s: list) -> bytes:
    """The bytes of a struct as :func:`read_struct` gives it."""
    out, last = bytearray(), 0
    for fid, t, v in s[1]:
        if t in (1, 2):
            t = 1 if v else 2
        d = fid - last
        out += bytes([(d << 4) | t]) if 0 < d <= 15 else bytes([t]) + _wvar(_zenc(fid))
        last = fid
        out += _wval(t, v)
    return bytes(out + b"\x00")


def field(s: list, fid: int) -> list:
    """Field ``fid`` of a struct: ``[id, type, value]``, its value editable in place."""
    return next(f for f in s[1] if f[0] == fid)


def split(data: bytes) -> tuple[bytes, list]:
    """A Parquet file as its bytes before the footer and its decoded FileMetaData."""
    n = struct.unpack("<I", data[-8:-4])[0]
    body, footer = data[: -8 - n], data[-8 - n : -8]
    meta, _ = read_struct(footer, 0)
    assert write_struct(meta) == footer
    return body, meta


def join(body: bytes, meta: list) -> bytes:
    """The file of :func:`split`'s parts."""
    footer = write_struct(meta)
    return body + footer + struct.pack("<I", len(footer)) + b"PAR1"


def first_chunk(meta: list) -> list:
    """ColumnMetaData of the first column chunk of the first row group."""
    return field(field(field(meta, 4)[2][2][0], 1)[2][2][0], 3)[2]


def with_page_header(data: bytes, offset_field: int, edit) -> bytes:
    """``data`` with the page header at the first chunk's ``offset_field`` (9: data
    page, 11: dictionary page) edited by ``edit(header)``, and the chunk's sizes and
    later offsets moved by the change of the header's length."""
    body, meta = split(data)
    chunk = first_chunk(meta)
    off = field(chunk, offset_field)[2]
    header, end = read_struct(body, off)
    edit(header)
    new = write_struct(header)
    delta = len(new) - (end - off)
    body = body[:off] + new + body[end:]
    field(chunk, 6)[2] += delta
    field(chunk, 7)[2] += delta
    if offset_field == 11:
        field(chunk, 9)[2] += delta
    return join(body, meta)


def read_in_child(path, *, limit: int = 1 << 30, timeout: float = 120) -> str:
    """What ``memslim.read_parquet(path)`` does in a child process limited to ``limit``
    bytes of address space: ``read N`` or ``raised <class> <message>``; ``died <rc>``
    if the child was killed (an abort), ``timeout`` if it did not finish."""
    code = f"""
import resource, memslim
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
try:
    print("read", len(memslim.read_parquet({str(path)!r})))
except BaseException as e:
    print("raised", type(e).__name__, e)
"""
    try:
        r = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if r.returncode != 0:
        return f"died {r.returncode} {r.stderr[-300:]}"
    return r.stdout.strip()
