"""No code runs when reading data: typed non-JSON values need no pickle, and pickled
values from files and Arrow imports are refused unless the caller says ``trusted=True``."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
import subprocess
import sys
import uuid
import zoneinfo
from fractions import Fraction
from pathlib import Path

import memslim
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ZONE_KEYS = sorted(zoneinfo.available_timezones())[:40]

fixed_zones = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
) | st.builds(
    dt.timezone,
    st.timedeltas(min_value=dt.timedelta(hours=-12), max_value=dt.timedelta(hours=12)),
    st.text(min_size=1, max_size=5),
)
zones = st.none() | st.just(dt.UTC) | fixed_zones
if ZONE_KEYS:
    zones = zones | st.sampled_from(ZONE_KEYS).map(zoneinfo.ZoneInfo)

typed_values = st.one_of(
    st.datetimes(timezones=zones, allow_imaginary=True),
    st.dates(),
    st.times(timezones=zones),
    st.timedeltas(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=4),
    st.uuids(),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
)


def same(a, b) -> bool:
    """Exact equality, type, zone and fold included (NaN equal to itself)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime | dt.time):
        return (
            repr(a) == repr(b)
            and a.fold == b.fold
            and (a.tzinfo is b.tzinfo or repr(a.tzinfo) == repr(b.tzinfo))
        )
    if isinstance(a, decimal.Decimal | complex):
        return repr(a) == repr(b)
    return a == b


class Boom:
    """Unpickling it creates a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@given(st.lists(typed_values, max_size=8))
@settings(max_examples=150, deadline=None)
def test_typed_values_round_trip_exactly(values):
    records = [{"v": v, "nested": [v, {"k": (v,)}]} for v in values]
    rows = memslim.DictList(records)
    assert all(same(dict(r), rec) for r, rec in zip(rows, records, strict=True))
    # Through pickle and an Arrow export, without trusted=True: nothing is pickled.
    again = pickle.loads(pickle.dumps(rows))
    assert all(same(dict(r), rec) for r, rec in zip(again, records, strict=True))
    if values:
        imported = memslim.DictList.from_arrow(pa.table(rows))
        assert all(same(dict(r), rec) for r, rec in zip(imported, records, strict=True))


def test_typed_values_in_a_record_file_need_no_opt_in(tmp_path):
    values = [
        dt.datetime(2024, 11, 3, 1, 30, fold=1),
        dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")),
        dt.date(9999, 12, 31),
        dt.time(23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.timedelta(days=-999999999),
        decimal.Decimal("-0.000"),
        decimal.Decimal("sNaN7"),
        uuid.UUID(int=2**128 - 1),
        complex(-0.0, 1e308),
    ]
    path = tmp_path / "typed.arrow"
    with memslim.DictList.open(path) as f:
        f.extend({"v": v} for v in values)
    with memslim.DictList.open(path, "r") as f:
        assert all(same(r["v"], v) for r, v in zip(f, values, strict=True))
        assert same(f.to_list(), [{"v": v} for v in values])


def test_other_objects_still_round_trip_in_memory():
    """This process's own writes are trusted: any picklable object still works."""
    rows = memslim.DictList([{"f": Fraction(1, 3), "s": frozenset({1, 2})}])
    assert rows[0]["f"] == Fraction(1, 3)
    assert type(rows[0]["f"]) is Fraction
    assert rows[0]["s"] == frozenset({1, 2})
    assert pickle.loads(pickle.dumps(rows)) == [{"f": Fraction(1, 3), "s": frozenset({1, 2})}]


def test_a_pickled_value_in_a_record_file_is_refused_unless_trusted(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.arrow"
    with memslim.DictList.open(path) as f:
        f.append({"id": 1, "payload": Boom(str(marker))})
        f.append({"id": 2, "payload": None})
    assert not marker.exists()
    with memslim.DictList.open(path, "r") as f:
        attempts = [
            lambda: f[0]["payload"],
            lambda: f[0].get("payload"),
            lambda: dict(f[0]),
            lambda: list(f[0].values()),
            lambda: f.to_list(),
            lambda: [dict(r) for r in f],
            lambda: dict(f[0:1][0]),
            lambda: list(f.column("payload")),
            lambda: f == [{"id": 1, "payload": None}, {"id": 2, "payload": None}],
            lambda: memslim.DictList(f),
            lambda: memslim.DictList(f[:1]),
            lambda: memslim.DictList([{"id": 0}]).extend(f),
        ]
        for attempt in attempts:
            with pytest.raises(memslim.UntrustedDataError) as info:
                attempt()
            assert isinstance(info.value, ValueError)
            assert isinstance(info.value, memslim.MemslimError)
            message = str(info.value)
            assert "payload" in message and str(path) in message and "trusted=True" in message
        # What holds no pickled value reads as usual.
        assert f[0]["id"] == 1
        assert f[1]["payload"] is None
        # A load that holds no pickled value is not refused.
        assert memslim.DictList(f[1:]).to_list() == [{"id": 2, "payload": None}]
    assert not marker.exists()
    with memslim.DictList.open(path, "r", trusted=True) as f:
        f[0]["payload"]
    assert marker.exists()


def test_loading_an_old_file_stores_its_pickled_values_natively(tmp_path):
    """``DictList(f).save(new)`` is how a file whose dates or decimals were pickled is
    rewritten natively (SECURITY.md): loading it unpickles each value and stores it as
    a new value is, so the new file opens without ``trusted=True``."""
    old = tmp_path / "old.msl"
    # A file as memslim wrote it before dates were stored natively: the value pickled.
    memslim.DictList([{"id": 1, "at": Pickles(dt.date(2024, 5, 1))}]).save(old)
    with memslim.DictList.open(old, "r") as f, pytest.raises(memslim.UntrustedDataError):
        memslim.DictList(f)
    with memslim.DictList.open(old, "r", trusted=True) as f:
        loaded = memslim.DictList(f)
    assert loaded.to_list() == [{"id": 1, "at": dt.date(2024, 5, 1)}]
    new = tmp_path / "new.msl"
    loaded.save(new)
    with memslim.DictList.open(new, "r") as f:
        assert f.to_list() == [{"id": 1, "at": dt.date(2024, 5, 1)}]


class Pickles:
    """Pickles as the value it wraps: unpickling gives that value itself (so a record
    file holds it pickled, and reading it back gives a date)."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return (_identity, (self.value,))


def _identity(value):
    return value


def test_a_pickled_value_in_an_arrow_import_is_refused_unless_trusted(tmp_path):
    marker = tmp_path / "ran"
    rows = memslim.DictList([{"id": 1, "x": [1, {"deep": Boom(str(marker))}]}, {"id": 2}])
    table = pa.table(rows)
    for cls in (memslim.DictList, memslim.TupleList):
        with pytest.raises(memslim.UntrustedDataError, match=r"row 0, field \"x\""):
            cls.from_arrow(table)
    assert not marker.exists()
    trusted = memslim.DictList.from_arrow(table, trusted=True)
    assert trusted[1]["id"] == 2
    trusted[0]["x"]
    assert marker.exists()


def test_record_file_written_with_a_pickled_value_by_someone_else(tmp_path):
    """The file's bytes decide, not who opened it first: a second process reading a
    file someone else wrote is refused the same way."""
    marker = tmp_path / "ran"
    path = tmp_path / "shared.arrow"
    memslim.DictList([{"a": Boom(str(marker))}]).save(path)
    code = (
        "import memslim, sys\n"
        "f = memslim.DictList.open(sys.argv[1], 'r')\n"
        "try:\n    f[0]['a']\nexcept memslim.UntrustedDataError:\n    print('refused')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "refused"
    assert not marker.exists()


def test_nesting_limit_is_the_decoders():
    deep: object = 0
    for _ in range(512):
        deep = [deep]
    rows = memslim.DictList([{"v": deep}])
    assert rows[0]["v"] == deep
    with pytest.raises(ValueError, match="512"):
        rows.append({"v": [deep]})
    assert len(rows) == 1


@pytest.mark.skipif(not ZONE_KEYS, reason="no time zone database on this machine")
def test_zoneinfo_keys_and_folds_survive_a_file(tmp_path):
    tz = zoneinfo.ZoneInfo(ZONE_KEYS[0])
    values = [dt.datetime(2024, 11, 3, 1, 30, fold=f, tzinfo=tz) for f in (0, 1)]
    path = tmp_path / "zones.arrow"
    memslim.DictList([{"t": v} for v in values]).save(path)
    with memslim.DictList.open(path, "r") as f:
        back = [r["t"] for r in f]
    assert [b.tzinfo for b in back] == [tz, tz]
    assert [b.fold for b in back] == [0, 1]


def test_a_pickled_value_in_a_parquet_file_is_refused_unless_trusted(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.parquet"
    memslim.DictList([{"id": 1}, {"id": 2, "x": {"deep": Boom(str(marker))}}]).to_parquet(path)
    with pytest.raises(memslim.UntrustedDataError, match=r"row 1, field \"x\""):
        memslim.read_parquet(path)
    with pytest.raises(memslim.UntrustedDataError):
        list(memslim.iter_parquet(path))
    assert not marker.exists()
    rows = memslim.read_parquet(path, trusted=True)
    rows[1]["x"]
    assert marker.exists()


def _variant_column(*values: bytes) -> pa.Table:
    field = pa.field("o", pa.binary(), metadata={"memslim.encoding": "variant-1"})
    return pa.table({"o": pa.array(list(values), pa.binary())}, schema=pa.schema([field]))


def _decimal_bytes(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x11, 5, len(raw)]) + raw


def _decimal_or_none(text: str) -> decimal.Decimal | None:
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None


DECIMAL_TEXTS = [
    "NaL", "1.5", "-0", ".5", "5.", ".", "e5", "1e", "1e+", "+1", "--1", "1.2.3", "1e5e5",
    "Inf", "-infinity", "Infinit", "NaN", "nan12", "sNaN", "-sNaN7", "snan1x", "NaN-1",
    "1E+999999999999999999", "1E+1000000000000000000", "10E+999999999999999998",
    "0E+999999999999999999", "0E+1000000000000000000", "1E-999999999999999999",
    "1E-1999999999999999997", "1E-1999999999999999998", "0E-1999999999999999997",
    "0E-1999999999999999998", "0.1E-1999999999999999996", "0.1E-1999999999999999997",
    "1E+9223372036854775807", "1E+9223372036854775808", "1E-9223372036854775808",
    "1E+00000000000000000000000005",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(DECIMAL_TEXTS) | st.text("0123456789eE+-.nNaAsSiIfLy", max_size=10),
        min_size=1,
        max_size=8,
    )
)
def test_a_decimal_text_loads_exactly_when_python_reads_it(texts):
    # A foreign (or damaged) decimal whose text Python cannot read is a
    # CorruptDataError naming row and field, as any malformed variant value is.
    for text in [*texts, *DECIMAL_TEXTS]:
        if not text:
            continue
        want = _decimal_or_none(text)
        table = _variant_column(_decimal_bytes(text))
        if want is None:
            with pytest.raises(memslim.CorruptDataError):
                memslim.DictList.from_arrow(table)
        else:
            got = memslim.DictList.from_arrow(table)[0]["o"]
            assert type(got) is decimal.Decimal and str(got) == str(want), text


# A dict whose key is a list, a dict, a tuple holding a list, or a signaling NaN
# decimal: no dict holds such a key.
UNHASHABLE_KEYS = {
    "list key": "0a01" + "0801" + "0301" + "0300",
    "dict key": "0a01" + "0a00" + "0300",
    "tuple holding a list": "0a01" + "0902" + "0302" + "0800" + "0300",
    "sNaN decimal key": "0a01" + "1105" + "04" + b"sNaN".hex() + "0300",
}


@pytest.mark.parametrize("hexed", UNHASHABLE_KEYS.values(), ids=UNHASHABLE_KEYS.keys())
def test_a_dict_key_no_dict_can_hold_is_corrupt_data(tmp_path, hexed):
    table = _variant_column(bytes.fromhex("0a00"), bytes.fromhex(hexed))
    with pytest.raises(memslim.CorruptDataError):
        memslim.DictList.from_arrow(table)
    path = tmp_path / "keys.arrows"
    with pa.ipc.new_stream(path, table.schema) as w:
        w.write_table(table)
    f = memslim.DictList.open(path, "r")
    assert f[0]["o"] == {}
    for read in (lambda: f[1]["o"], f.to_list, lambda: memslim.DictList(f), f.column("o").to_list):
        with pytest.raises(memslim.CorruptFileError, match="keys.arrows"):
            read()
    f.close()


def test_hashable_dict_keys_still_load():
    # (1, (2, "x")) -> 1, Decimal("NaN") -> 2, None -> 3
    key = "0902" + "0302" + "0902" + "0304" + "060178"
    hexed = "0a03" + key + "0302" + "1105" + "03" + b"NaN".hex() + "0304" + "00" + "0306"
    got = memslim.DictList.from_arrow(_variant_column(bytes.fromhex(hexed)))[0]["o"]
    assert next(iter(got.items())) == ((1, (2, "x")), 1) and got[None] == 3
