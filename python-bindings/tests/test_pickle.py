"""Pickling DictList and TupleList: protocol 5 out of band, checksummed payloads, old
pickles. The plain list of dicts / tuples is the oracle."""

from __future__ import annotations

import pickle
import sys
import zlib

import memslim
import pytest
from conftest import chunk_sizes, record_lists, same
from hypothesis import given
from memslim import DictList, TupleList

# Pickles written by memslim before the snapshot format (payload format version 1),
# captured from the build at commit e1ab034.
OLD_DICTLIST = (
    b"\x80\x04\x95\x86\x00\x00\x00\x00\x00\x00\x00\x8c\x10memslim._memslim\x94\x8c\x11"
    b"_restore_dictlist\x94\x93\x94CUMSLR\x01\x80\x80@\x00\x04\x02id\x00\x04name\x00\x05"
    b"price\x00\x04tags\x00\x03\x03\x00\x02\x03\x02\x01\x03\x06\x01a\x02\t\x05\x00\x00\x00"
    b"\x00\x00\x00#@\x03\x00\x02\x03\x04\x01\x05\x06\x03b\xc3\xa9\x03\x08\x08\x02\x03\x02"
    b"\t\x01\x03\x04\x02\x01\x01\x00\x00\x02\x03\x06\x94\x85\x94R\x94."
)
OLD_DICTLIST_VALUE = [
    {"id": 1, "name": "a", "price": 9.5},
    {"id": 2, "name": "bé", "tags": [1, (2,)]},
    {"name": None, "id": 3},
]
OLD_TUPLELIST = (
    b"\x80\x02cmemslim._memslim\n_restore_tuplelist\nq\x00c_codecs\nencode\nq\x01X%\x00"
    b"\x00\x00MSLR\x01\xc2\x80\xc2\x80@\x00\x02\x01a\x00\x01b\x00\x02\x02\x00\x02\x03\x02"
    b"\x01\x03\x06\x01x\x02\x00\x02\x03\x04\x01\x01\x00q\x02X\x06\x00\x00\x00latin1q\x03"
    b"\x86q\x04Rq\x05X\x01\x00\x00\x00aq\x06X\x01\x00\x00\x00bq\x07\x86q\x08N\x87q\tRq\n."
)


def sample_dicts(n=6):
    out = []
    for i in range(n):
        r = {"id": i * 1000, "country": ["DE", "FR", "US"][i % 3], "price": i / 4}
        if i % 2:
            r["note"] = None
        if i % 3 == 1:
            r = dict(reversed(list(r.items())))
        if i == 4:
            r["mixed"] = [1, "x", (2, b"y")]
        out.append(r)
    return out


def sample_tuples(n=6):
    return [(i, ["DE", "FR"][i % 2], i / 3, None if i % 2 else b"b") for i in range(n)]


def dumps_oob(obj):
    buffers = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    return data, buffers


def raises_or_equal(load, want, only=Exception):
    """``load()`` either raises ``only`` (never a panic) or returns ``want``."""
    try:
        got = load()
    except BaseException as exc:  # noqa: BLE001 - deliberately catching panics
        assert isinstance(exc, Exception), f"not an Exception (panic?): {exc!r}"
        assert type(exc).__name__ != "PanicException", f"Rust panic: {exc!r}"
        assert isinstance(exc, only), f"expected {only}, got {type(exc)}: {exc}"
        return False
    assert same(got.to_list(), want), "a damaged pickle loaded with changed values"
    return True


# ----------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------


@given(record_lists, chunk_sizes)
def test_out_of_band_round_trip_matches_the_list(data, chunk_rows):
    rows = DictList(data, chunk_rows=chunk_rows)
    stream, buffers = dumps_oob(rows)
    back = pickle.loads(stream, buffers=buffers)
    assert same(back.to_list(), rows.to_list())
    assert same(pickle.loads(pickle.dumps(rows, protocol=5)).to_list(), rows.to_list())


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_round_trips_dict_and_tuple_lists(protocol):
    rows = DictList(sample_dicts(), chunk_rows=4)
    assert same(pickle.loads(pickle.dumps(rows, protocol=protocol)).to_list(), sample_dicts())
    tl = TupleList(sample_tuples(), ("id", "country", "price", "blob"), chunk_rows=4)
    back = pickle.loads(pickle.dumps(tl, protocol=protocol))
    assert list(back) == sample_tuples() and back.fields == tl.fields
    assert type(back[0]) is type(tl[0])


def test_protocol_5_sends_column_buffers_out_of_band_without_copying():
    n = 100_000
    rows = DictList({"id": i, "price": i * 0.5} for i in range(n))
    stream, buffers = dumps_oob(rows)
    # The values travel in the buffers; the stream holds only the small header.
    assert len(stream) < 1_000
    assert sum(memoryview(b).nbytes for b in buffers) >= n * (4 + 8)
    views = [memoryview(b) for b in buffers]
    assert all(v.readonly for v in views)
    back = pickle.loads(stream, buffers=buffers)
    assert back == rows
    # The list can change afterwards: the exported buffers keep the old values.
    before = bytes(views[-1])
    rows[n - 1] = {"id": -1, "price": -1.0}
    rows.append({"id": 5, "price": 5.0})
    assert bytes(views[-1]) == before
    assert pickle.loads(stream, buffers=buffers)[n - 1] == {"id": n - 1, "price": (n - 1) * 0.5}


def test_out_of_band_buffers_may_come_back_as_any_buffer():
    rows = DictList(sample_dicts(), chunk_rows=4)
    stream, buffers = dumps_oob(rows)
    for convert in (bytes, bytearray, lambda b: memoryview(bytes(b))):
        back = pickle.loads(stream, buffers=[convert(b.raw()) for b in buffers])
        assert same(back.to_list(), sample_dicts())


def test_loads_read_immutable_buffers_in_place_and_copy_writable_ones():
    n = 20_000
    rows = DictList({"id": i, "name": f"user-{i}", "price": i * 0.5} for i in range(n))
    want = rows.to_list()
    stream, buffers = dumps_oob(rows)
    # bytes frames, as a transport delivers them: the loaded list holds the large ones
    # (it reads them in place) and lets them go with itself.
    frames = [bytes(b.raw()) for b in buffers]
    held = [f for f in frames if len(f) >= 4 * n]
    assert len(held) >= 3
    before = [sys.getrefcount(f) for f in held]
    back = pickle.loads(stream, buffers=frames)
    assert [sys.getrefcount(f) for f in held] == [c + 1 for c in before]
    assert same(back.to_list(), want)
    # Writes copy what they touch; the frames are not written to.
    changed, new = (
        {"id": -5, "name": "changed", "price": -0.5},
        {"id": n, "name": "new", "price": 1.0},
    )
    back[5] = changed
    back.append(new)
    assert same(back.to_list(), [*want[:5], changed, *want[6:], new])
    assert same(pickle.loads(stream, buffers=frames).to_list(), want)
    del back
    assert [sys.getrefcount(f) for f in held] == before
    # The same process's PickleBuffers are read in place too.
    parts = [b.raw().obj for b in buffers if b.raw().nbytes >= 4 * n]
    before = [sys.getrefcount(p) for p in parts]
    back = pickle.loads(stream, buffers=buffers)
    assert [sys.getrefcount(p) for p in parts] == [c + 1 for c in before]
    del back
    # Writable buffers, and read-only views of them, can change after the load: copied.
    for wrap in (bytearray, lambda f: memoryview(bytearray(f)).toreadonly()):
        arrays = [wrap(f) for f in frames]
        counts = [sys.getrefcount(a) for a in arrays]
        back = pickle.loads(stream, buffers=arrays)
        assert [sys.getrefcount(a) for a in arrays] == counts
        for a in arrays:
            base = a.obj if isinstance(a, memoryview) else a
            base[:] = bytes(len(base))
        assert same(back.to_list(), want)


def test_old_version_1_pickles_still_load():
    assert same(pickle.loads(OLD_DICTLIST).to_list(), OLD_DICTLIST_VALUE)
    tl = pickle.loads(OLD_TUPLELIST)
    assert tl.fields == ("a", "b") and list(tl) == [(1, "x"), (2, None)]


def test_pickle_buffers_refuse_writable_views():
    _, buffers = dumps_oob(DictList(sample_dicts()))
    view = memoryview(buffers[0].raw().obj)
    assert view.readonly
    with pytest.raises(TypeError, match="read-only"):
        view[0:1] = b"x"


# ----------------------------------------------------------------------------------------
# Damage never loads silently
# ----------------------------------------------------------------------------------------


def _payload_span(stream):
    start = stream.index(b"MSLR\x02")
    header_len = int.from_bytes(stream[start + 6 : start + 10], "little")
    return start, header_len


@pytest.mark.parametrize("kind", ["dict", "tuple"])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_every_single_byte_change_raises_or_loads_equal(kind, protocol):
    if kind == "dict":
        obj = DictList(sample_dicts(), chunk_rows=4)
        want = sample_dicts()
    else:
        obj = TupleList(sample_tuples(), ("id", "country", "price", "blob"), chunk_rows=4)
        want = obj.to_list()
        assert [tuple(r) for r in want] == sample_tuples()
    stream = pickle.dumps(obj, protocol=protocol)
    start, header_len = _payload_span(stream)
    # Protocol 2 stores bytes as UTF-8 text of their latin-1 decoding, which pickle
    # itself decodes (and may refuse) first; 4 and 5 store the bytes raw, so any change
    # inside the header must be ours to refuse.
    inside = range(start, start + header_len) if protocol >= 4 else range(0)
    loaded = 0
    for i in range(len(stream)):
        for flip in (0x01, 0xFF):
            damaged = bytearray(stream)
            damaged[i] ^= flip
            in_payload = i in inside
            ok = raises_or_equal(
                lambda d=bytes(damaged): pickle.loads(d),
                want,
                only=memslim.CorruptDataError if in_payload else Exception,
            )
            loaded += ok
    # Only a handful of changes (e.g. to a memo index) can leave the list intact.
    assert loaded < len(stream) // 4


def test_every_change_to_an_out_of_band_buffer_is_detected():
    rows = DictList(sample_dicts(), chunk_rows=4)
    stream, buffers = dumps_oob(rows)
    raw = [bytes(b.raw()) for b in buffers]
    for k, buf in enumerate(raw):
        for i in range(len(buf)):
            damaged = list(raw)
            b = bytearray(buf)
            b[i] ^= 0x01
            damaged[k] = bytes(b)
            with pytest.raises(memslim.CorruptDataError):
                pickle.loads(stream, buffers=damaged)
    with pytest.raises(memslim.CorruptDataError):
        pickle.loads(stream, buffers=raw[:-1] + [raw[-1] + b"\x00"])
    with pytest.raises(memslim.CorruptDataError):
        pickle.loads(stream, buffers=list(reversed(raw)))


def test_changed_tuplelist_fields_are_refused():
    tl = TupleList([(1, 2)], ("a", "b"))
    func, args = tl.__reduce_ex__(4)
    with pytest.raises(memslim.CorruptDataError, match="fields"):
        func(args[0], ("a", "c"), *args[2:])


# ----------------------------------------------------------------------------------------
# Crafted payloads (checksum fixed up) either load consistently or are refused
# ----------------------------------------------------------------------------------------


def crafted(rows, change):
    """A loader of ``rows``' protocol-5 state after ``change(buffers)`` rewrote its
    column buffers (a list of bytes, in place), the checksum recomputed to match: only
    the structural checks stand between the bytes and a list."""
    func, args = rows.__reduce_ex__(5)
    head, bufs = bytes(args[0]), [bytes(b.raw()) for b in args[1:]]
    change(bufs)
    crc = zlib.crc32(head[:-4] + b"".join(bufs)).to_bytes(4, "little")
    return lambda: func(head[:-4] + crc, *bufs)


def mark_both_as_ints(bufs):
    # A float column holding the int 1 and a float: its floats, then the marks of the
    # values that were ints (row 0).
    assert len(bufs) == 2 and bufs[1] == b"\x01", bufs
    bufs[1] = b"\x03"


@pytest.mark.parametrize("value", [float("nan"), 0.5, float("inf"), -0.0, 2.0**53 + 2])
def test_a_crafted_int_mark_on_a_float_that_is_no_int_is_refused(value):
    # A marked float is read back as an int: NaN came back as 0, 0.5 as 0, inf as
    # 2**63 - 1, and the column's sum disagreed with the values read.
    load = crafted(DictList([{"k": 1}, {"k": value}]), mark_both_as_ints)
    with pytest.raises(memslim.CorruptDataError, match="marked as an int"):
        load()


def test_a_crafted_int_mark_on_a_whole_float_loads_as_that_int():
    load = crafted(DictList([{"k": 1}, {"k": -(2.0**53)}]), mark_both_as_ints)
    back = load()
    assert back.to_list() == [{"k": 1}, {"k": -(2**53)}]
    assert back.column("k").sum() == 1 - 2**53


def test_a_crafted_object_value_with_no_bytes_is_refused_at_load():
    # An object column: validity, offsets, encoded values; the null in row 2 holds no
    # bytes. Marked valid it loaded, and reading it raised "variant value truncated".
    def make_the_null_valid(bufs):
        assert len(bufs) == 3 and bufs[0] == b"\x03", bufs
        bufs[0] = b"\x07"

    load = crafted(DictList([{"o": 1}, {"o": "x"}, {"o": None}]), make_the_null_valid)
    with pytest.raises(memslim.CorruptDataError, match="row 2 of a chunk"):
        load()


def test_a_crafted_slot_both_absent_and_valid_is_refused():
    # Row 1 lacks "s", so its key (a placeholder) is not checked against the
    # dictionary. Marked valid too, it loaded: null_count said 0, and sort() read the
    # key through the dictionary and panicked (PanicException, a BaseException).
    def make_the_absent_slot_valid(bufs):
        # Dictionary offsets and text, validity, absence, keys.
        assert bufs[2:] == [b"\x01", b"\x02", b"\x00\x00"], bufs
        bufs[2] = b"\x03"
        bufs[4] = b"\x00\x05"

    load = crafted(DictList([{"s": "a"}, {}]), make_the_absent_slot_valid)
    with pytest.raises(memslim.CorruptDataError, match="absent and valid"):
        load()


def test_a_crafted_valid_slot_in_a_column_of_nulls_is_refused():
    # A column holding only None stores no values, just validity. A slot marked valid
    # loaded and still read as None, but null_count no longer counted it.
    def make_row_0_valid(bufs):
        assert bufs == [b"\x00"], bufs
        bufs[0] = b"\x01"

    load = crafted(DictList([{"n": None}, {"n": None}]), make_row_0_valid)
    with pytest.raises(memslim.CorruptDataError, match="column of nulls"):
        load()


# ----------------------------------------------------------------------------------------
# Text that is not UTF-8 behind a valid checksum: the strings are read without a check
# (`str::from_utf8_unchecked` in the arena, in place from the buffers), so the check at
# load is all that stands between crafted bytes and a `str` that is not one.
# ----------------------------------------------------------------------------------------


def break_utf8_of(marker: bytes):
    """A ``change`` for :func:`crafted`: the first byte of ``marker`` becomes 0xff (never
    UTF-8) in the buffer that holds it."""

    def change(bufs):
        hits = [k for k, b in enumerate(bufs) if marker in b]
        assert hits, bufs
        b = bytearray(bufs[hits[0]])
        b[b.find(marker)] = 0xFF
        bufs[hits[0]] = bytes(b)

    return change


@pytest.mark.parametrize(
    "rows",
    [
        DictList([{"s": "MARKER", "n": 1}, {"s": "x", "n": 2}]),  # a dictionary's text
        DictList([{"o": 1}, {"o": "MARKER"}]),  # an encoded str among ints
        DictList([{"o": [1, "MARKER"]}]),  # a str in a nested value
    ],
    ids=["dictionary", "object", "nested"],
)
def test_a_crafted_string_that_is_not_utf8_is_refused(rows):
    load = crafted(rows, break_utf8_of(b"MARKER"))
    with pytest.raises(memslim.CorruptDataError):
        load().to_list()


@pytest.mark.parametrize(
    "doc",
    [
        {"a": ["MARKER", {"k": "MARKER"}]},  # a string in the documents' bytes
        {"MARKER": 1},  # a key: a symbol of the symbol table
        {"a": "MARKER" + "x" * 100},  # a long string: a compressed text block's
    ],
    ids=["value", "key", "long"],
)
def test_a_crafted_document_string_that_is_not_utf8_is_refused(doc):
    # A DocList image ends with the CRC-32 of the bytes before it.
    docs = memslim.DocList([doc])
    func, args = docs.__reduce_ex__(5)
    image = bytearray(args[0].raw())
    at = image.find(b"MARKER")
    if at < 0:
        pytest.skip("the text is compressed in this image: no byte to break in place")
    image[at] = 0xFF
    body = bytes(image[:-4])
    resealed = body + zlib.crc32(body).to_bytes(4, "little")
    with pytest.raises(memslim.CorruptDataError):
        back = func(resealed)
        # Whatever loads must not hand out a str that is not UTF-8.
        list(back)
