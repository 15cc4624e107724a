"""Arrow PyCapsule interop: pyarrow, polars, pandas, duckdb, numpy, and back."""

from __future__ import annotations

import pickle

import duckdb
import memslim
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import first_difference, same
from memslim import DictList, TupleList


def assert_same(actual, expected):
    assert same(actual, expected), first_difference(actual, expected)


COLUMNS = ["id", "price", "country", "paid", "note"]


def orders():
    return [
        {"id": 1, "price": 9.5, "country": "DE", "paid": True, "note": "fragile"},
        {"id": 2, "price": 3.25, "country": "FR", "paid": False, "note": None},
        {"id": 3, "price": 7.0, "country": "DE", "paid": True},
        {"id": 4, "price": 1.5, "country": "IT", "paid": False, "note": "gift"},
    ]


def is_text(t):
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def is_binary(t):
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


@pytest.fixture(params=[None, 2], ids=["chunk-default", "chunk-2"])
def rows(request):
    return DictList(orders(), chunk_rows=request.param)


# ======================================================================================
# Export through __arrow_c_stream__ / __arrow_c_schema__
# ======================================================================================


def test_pyarrow_table_has_expected_columns_and_types(rows):
    table = pa.table(rows)
    assert table.column_names == COLUMNS
    assert table.num_rows == 4
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("price").type == pa.float64()
    assert is_text(table.schema.field("country").type)
    assert table.schema.field("paid").type == pa.bool_()
    assert is_text(table.schema.field("note").type)


def test_pyarrow_table_values_with_absent_as_null(rows):
    expected = [{k: d.get(k) for k in COLUMNS} for d in orders()]
    assert pa.table(rows).to_pylist() == expected


def test_pyarrow_table_null_counts(rows):
    table = pa.table(rows)
    assert table.column("note").null_count == 2
    assert table.column("id").null_count == 0


def test_pyarrow_schema_via_arrow_c_schema(rows):
    capsule = rows.__arrow_c_schema__()
    assert type(capsule).__name__ == "PyCapsule"
    schema = pa.schema(rows)
    assert schema.names == COLUMNS
    assert schema.field("id").type == pa.int64()
    assert schema == pa.table(rows).schema


def test_arrow_c_stream_returns_a_capsule(rows):
    assert type(rows.__arrow_c_stream__()).__name__ == "PyCapsule"


def test_export_of_more_types():
    data = [
        {"b": b"\x00x", "n": None, "wide": 2**40, "mixed": 1},
        {"b": None, "n": None, "wide": -(2**40), "mixed": 2.5},
    ]
    table = pa.table(DictList(data))
    assert is_binary(table.schema.field("b").type)
    assert table.schema.field("n").type == pa.null()
    assert table.schema.field("wide").type == pa.int64()
    assert table.schema.field("mixed").type == pa.float64()
    assert table.to_pylist() == data


def test_export_of_empty_list_with_explicit_schema():
    table = pa.table(DictList([], schema={"a": "int64", "s": "str", "f": "float64"}))
    assert table.num_rows == 0
    assert table.column_names == ["a", "s", "f"]
    assert table.schema.field("a").type == pa.int64()
    assert table.schema.field("f").type == pa.float64()
    assert is_text(table.schema.field("s").type)


def test_export_reflects_later_writes():
    rows = DictList(orders())
    rows[0]["price"] = 100.0
    rows.append({"id": 5, "price": 2.0, "country": "ES", "paid": True})
    table = pa.table(rows)
    assert table.column("price").to_pylist() == [100.0, 3.25, 7.0, 1.5, 2.0]
    assert table.column("country").to_pylist() == ["DE", "FR", "DE", "IT", "ES"]


def test_export_of_a_slice():
    part = DictList(orders(), chunk_rows=3)[1:3]
    assert pa.table(part).column("id").to_pylist() == [2, 3]


def test_tuplelist_export():
    rows = TupleList([(1, "a", 0.5), (2, None, 1.5)], ("id", "name", "score"))
    table = pa.table(rows)
    assert table.column_names == ["id", "name", "score"]
    assert table.to_pylist() == [
        {"id": 1, "name": "a", "score": 0.5},
        {"id": 2, "name": None, "score": 1.5},
    ]


def test_export_shares_buffers_of_64_bit_and_float_columns():
    # Both tables stay alive, so an equal address means one shared buffer, not a reused
    # allocation. Ids beyond 32 bits are stored as int64 and shared as they are.
    rows = DictList({"id": i << 40, "price": i * 0.5} for i in range(1000))
    first, second = pa.table(rows), pa.table(rows)
    for name in ("id", "price"):
        a = first.column(name).chunks[0].buffers()[1].address
        b = second.column(name).chunks[0].buffers()[1].address
        assert a == b, name


def test_ints_stored_narrow_export_as_int64():
    rows = DictList({"small": i % 100} for i in range(1000))
    assert rows.storage_info()["small"] == "int64/8"
    table = pa.table(rows)
    assert table.schema.field("small").type == pa.int64()
    assert table.column("small").to_pylist() == [i % 100 for i in range(1000)]


def test_exported_table_outlives_the_list():
    rows = DictList({"id": i} for i in range(100))
    table = pa.table(rows)
    del rows
    assert table.column("id").to_pylist() == list(range(100))


def test_exported_table_does_not_change_when_the_list_does():
    rows = DictList({"id": i} for i in range(10))
    table = pa.table(rows)
    rows[0]["id"] = 1000
    rows.sort(key=lambda r: -r["id"])
    assert table.column("id").to_pylist() == list(range(10))


# ======================================================================================
# Other libraries
# ======================================================================================


def test_polars_dataframe(rows):
    df = pl.DataFrame(rows)
    assert df.columns == COLUMNS
    assert df["id"].to_list() == [1, 2, 3, 4]
    assert df["price"].dtype == pl.Float64
    assert df["note"].to_list() == ["fragile", None, None, "gift"]


def test_polars_from_arrow(rows):
    df = pl.from_arrow(pa.table(rows))
    assert df["country"].to_list() == ["DE", "FR", "DE", "IT"]
    assert df["paid"].dtype == pl.Boolean


def test_pandas_via_pyarrow(rows):
    df = pa.table(rows).to_pandas()
    assert list(df.columns) == COLUMNS
    assert df["id"].tolist() == [1, 2, 3, 4]
    assert df["price"].tolist() == [9.5, 3.25, 7.0, 1.5]
    assert list(df["country"].astype(str)) == ["DE", "FR", "DE", "IT"]
    assert pd.isna(df["note"][1]) and pd.isna(df["note"][2])


def test_duckdb_over_pyarrow_table(rows):
    con = duckdb.connect()
    try:
        con.register("orders", pa.table(rows))
        result = con.sql(
            "select country, sum(price) as total from orders group by country order by country"
        ).fetchall()
    finally:
        con.close()
    assert result == [("DE", 16.5), ("FR", 3.25), ("IT", 1.5)]


class _CapsuleOnly:
    """Exposes nothing but the Arrow stream protocol of a pyarrow table."""

    def __init__(self, table):
        self._table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._table.__arrow_c_stream__(requested_schema)


def test_duckdb_directly_over_the_list(rows):
    con = duckdb.connect()
    try:
        try:
            con.register("probe", _CapsuleOnly(pa.table({"x": [1]})))
            con.sql("select * from probe").fetchall()
        except Exception as exc:  # noqa: BLE001 - capability probe of the duckdb build
            pytest.skip(f"this duckdb does not read PyCapsule stream objects: {exc}")
        con.register("orders", rows)
        total = con.sql("select sum(id), count(note) from orders").fetchall()
    finally:
        con.close()
    assert total == [(10, 2)]


def test_numpy_from_columns(rows):
    ids = np.asarray(rows.column("id"))
    prices = np.asarray(rows.column("price"))
    assert ids.dtype == np.int64 and ids.tolist() == [1, 2, 3, 4]
    assert prices.dtype == np.float64 and prices.tolist() == [9.5, 3.25, 7.0, 1.5]
    assert float((ids * prices).sum()) == 9.5 + 6.5 + 21.0 + 6.0


# ======================================================================================
# Import with from_arrow
# ======================================================================================


def complete_orders():
    return [{k: d.get(k) for k in COLUMNS} for d in orders()]


def test_from_pyarrow_table_round_trip():
    source = DictList(complete_orders())
    back = DictList.from_arrow(pa.table(source))
    assert isinstance(back, DictList)
    assert_same(back.to_list(), source.to_list())
    assert back.schema["id"] == "int64"
    assert back.schema["price"] == "float64"
    assert back.schema["paid"] == "bool"
    assert back.schema["country"] == "str"


def test_from_arrow_turns_nulls_into_present_none():
    back = DictList.from_arrow(pa.table(DictList(orders())))
    assert "note" in back[2]
    assert back[2]["note"] is None


def test_from_arrow_of_a_multi_batch_table():
    batch = pa.record_batch({"id": [1, 2], "s": ["a", None]})
    table = pa.Table.from_batches([batch, batch, batch])
    back = DictList.from_arrow(table)
    assert_same(back.to_list(), [{"id": 1, "s": "a"}, {"id": 2, "s": None}] * 3)


def test_from_arrow_of_a_record_batch_reader():
    batch = pa.record_batch({"id": [1, 2]})
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch, batch])
    assert_same(DictList.from_arrow(reader).to_list(), [{"id": 1}, {"id": 2}] * 2)


def test_from_arrow_of_common_arrow_types():
    table = pa.table(
        {
            "i32": pa.array([1, None], pa.int32()),
            "f32": pa.array([0.5, 1.5], pa.float32()),
            "large": pa.array(["x", "y"], pa.large_string()),
            "view": pa.array(["p", None], pa.string_view()),
            "dict": pa.array(["a", "b"]).dictionary_encode(),
            "bin": pa.array([b"\x00", None], pa.binary()),
        }
    )
    back = DictList.from_arrow(table)
    assert_same(
        back.to_list(),
        [
            {"i32": 1, "f32": 0.5, "large": "x", "view": "p", "dict": "a", "bin": b"\x00"},
            {"i32": None, "f32": 1.5, "large": "y", "view": None, "dict": "b", "bin": None},
        ],
    )


def test_from_polars_dataframe_round_trip():
    df = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["a", None, "c"],
            "score": [0.5, 1.5, None],
            "ok": [True, False, None],
        }
    )
    back = DictList.from_arrow(df)
    assert_same(back.to_list(), df.to_dicts())


def test_from_polars_null_typed_columns():
    # Polars gives a Null array one buffer where the Arrow specification gives none
    # (pola-rs/polars#22934); arrow-rs alone refuses the stream. At the top level, in a
    # struct, in a list, and in a second batch.
    df = pl.DataFrame(
        {
            "x": [None, None],
            "y": [1, 2],
            "s": [{"a": 1, "b": None}, {"a": 2, "b": None}],
            "l": [[None], []],
        }
    )
    assert df.schema["x"] == pl.Null
    want = pa.table(df).to_pylist()
    assert_same(DictList.from_arrow(df).to_list(), want)
    assert TupleList.from_arrow(df) == [tuple(r.values()) for r in want]
    both = pl.concat([df, df], rechunk=False)
    assert_same(DictList.from_arrow(both).to_list(), want + want)


def test_tuplelist_from_arrow():
    table = pa.table({"id": [1, 2], "name": ["a", "b"]})
    back = TupleList.from_arrow(table)
    assert back.fields == ("id", "name")
    assert back == [(1, "a"), (2, "b")]


def test_from_arrow_then_export_again_is_lossless():
    table = pa.table({"id": pa.array(range(50), pa.int64()), "v": [float(i) for i in range(50)]})
    assert pa.table(DictList.from_arrow(table)).equals(table)


# ======================================================================================
# Pickle keeps everything export needs
# ======================================================================================


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_every_protocol_then_export(protocol, rows):
    clone = pickle.loads(pickle.dumps(rows, protocol=protocol))
    assert isinstance(clone, memslim.DictList)
    assert_same(clone.to_list(), orders())
    assert pa.table(clone).equals(pa.table(rows))


def test_from_arrow_with_small_chunks():
    table = pa.table({"id": list(range(7)), "s": [str(i) for i in range(7)]})
    rows = DictList.from_arrow(table, chunk_rows=2)
    assert_same(rows.to_list(), table.to_pylist())
    rows.insert(3, {"id": -1, "s": "x"})
    assert rows[3]["id"] == -1
    tuples = TupleList.from_arrow(table, chunk_rows=2)
    assert tuples == [(i, str(i)) for i in range(7)]


def test_a_struct_with_two_children_of_one_name_is_refused_naming_its_field(tmp_path):
    """Arrow allows it; a dict holds each key once, so no import is exact (pyarrow's own
    to_pylist refuses it too). Distinct names import."""
    dup = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    table = pa.table({"s": dup})
    path = tmp_path / "dup.arrows"
    with pa.ipc.new_stream(path, table.schema) as w:
        w.write_table(table)
    for load in (lambda: DictList.from_arrow(table), lambda: DictList.open(path, "r")):
        with pytest.raises(memslim.MemslimError, match='"s"'):
            load()
    fine = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["x", "y"])
    assert DictList.from_arrow(pa.table({"s": fine})).to_list() == [{"s": {"x": 1, "y": 2}}]


def _int32_buffer(*values):
    return pa.py_buffer(pa.array(values, pa.int32()).buffers()[1])


# Arrays pyarrow builds from raw buffers checking only their sizes (`from_buffers`,
# `from_arrays(safe=False)`): each breaks what every reader of it relies on.
MALFORMED_ARRAYS = {
    "string offsets that go back": lambda: pa.Array.from_buffers(
        pa.string(), 2, [None, _int32_buffer(0, 3, 1), pa.py_buffer(b"abc")]
    ),
    "a string that is not UTF-8": lambda: pa.Array.from_buffers(
        pa.string(), 2, [None, _int32_buffer(0, 2, 4), pa.py_buffer(b"\xff\xfeab")]
    ),
    "list offsets that go back": lambda: pa.Array.from_buffers(
        pa.list_(pa.int64()), 2, [None, _int32_buffer(0, 3, 1)], children=[pa.array([1, 2, 3])]
    ),
    "a dictionary key past its dictionary": lambda: pa.DictionaryArray.from_arrays(
        pa.array([0, 5], pa.int8()), pa.array(["a"]), safe=False
    ),
}


@pytest.mark.parametrize("what", sorted(MALFORMED_ARRAYS))
def test_a_malformed_foreign_array_is_refused_naming_its_field(tmp_path, what):
    """The C stream interface hands arrays over unchecked: one that breaks its own
    offsets or UTF-8 crashed the interpreter on import (or gave a str that was not one);
    it is refused, naming the field, and a well-formed column beside it changes
    nothing."""
    bad = MALFORMED_ARRAYS[what]()
    with pytest.raises(pa.ArrowInvalid):  # the oracle: pyarrow's full check refuses it
        bad.validate(full=True)
    table = pa.table({"ok": [1, 2], "s": bad})
    for load in (
        lambda: DictList.from_arrow(table),
        lambda: TupleList.from_arrow(table),
        lambda: memslim._memslim._save_records(table, tmp_path / "out.msl"),
    ):
        with pytest.raises(memslim.InvalidValueError, match='field "s"'):
            load()
    assert not (tmp_path / "out.msl").exists()
    assert DictList.from_arrow(table.select(["ok"])).to_list() == [{"ok": 1}, {"ok": 2}]


def test_corrupt_arrow_data_names_the_row_and_field():
    # A variant column (memslim's object encoding) with bad bytes in the second batch:
    # the error names the record's row in the list, the field, and where in the stream.
    field = pa.field("v", pa.binary(), metadata={b"memslim.encoding": b"variant-1"})
    schema = pa.schema([pa.field("id", pa.int64()), field])
    good = DictList([{"id": 0, "v": [1, 2]}])
    cell = pa.table(good).column("v")[0].as_py()
    first = pa.record_batch([pa.array([0, 1]), pa.array([cell, cell])], schema=schema)
    second = pa.record_batch([pa.array([2, 3]), pa.array([cell, b"\xff\xfe"])], schema=schema)
    table = pa.Table.from_batches([first, second])
    for cls in (DictList, TupleList):
        with pytest.raises(memslim.CorruptDataError) as exc:
            cls.from_arrow(table)
        assert 'row 3, field "v" (batch 1, row 1): ' in str(exc.value), str(exc.value)
    single = pa.Table.from_batches([second])
    with pytest.raises(memslim.CorruptDataError) as exc:
        DictList.from_arrow(single)
    assert 'row 1, field "v": ' in str(exc.value), str(exc.value)


def test_an_empty_table_keeps_its_fields_types():
    t = pa.table(
        {
            "i": pa.array([], pa.int16()),
            "s": pa.array([], pa.large_string()),
            "f": pa.array([], pa.float32()),
            "n": pa.array([None, None], pa.int64()).slice(0, 0),
        }
    )
    back = pa.table(DictList.from_arrow(t))
    types = [x.value_type if pa.types.is_dictionary(x) else x for x in back.schema.types]
    assert back.schema.names == ["i", "s", "f", "n"]
    assert types == [pa.int64(), pa.string(), pa.float64(), pa.int64()]
    # A column of nulls keeps its type too.
    nulls = pa.table({"n": pa.array([None, None], pa.int64())})
    assert pa.table(DictList.from_arrow(nulls)).schema.types == [pa.int64()]
