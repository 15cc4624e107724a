"""`Column.__arrow_c_stream__`: one field of a DictList for Arrow consumers."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from memslim import DictList

KEYS = ["a", "b", "c"]

# Per field one kind of value (so the column has one Arrow type), plus None and absence.
KINDS = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "small": st.integers(-100, 100),
    "float": st.floats(allow_nan=False),
    "str": st.text(max_size=40),
    "cat": st.sampled_from(["DE", "FR", "IT", 'é"x']),
    "bool": st.booleans(),
}


def read(obj) -> pa.Table:
    return pa.RecordBatchReader.from_stream(obj).read_all()


@st.composite
def records(draw):
    kinds = {k: draw(st.sampled_from(sorted(KINDS))) for k in KEYS}
    n = draw(st.integers(0, 40))
    out = []
    for _ in range(n):
        rec = {}
        for k in KEYS:
            what = draw(st.sampled_from(["value", "value", "value", "none", "absent"]))
            if what == "value":
                rec[k] = draw(KINDS[kinds[k]])
            elif what == "none":
                rec[k] = None
        out.append(rec)
    return out


@settings(max_examples=60, deadline=None)
@given(records(), st.sampled_from([1, 3, 1024]))
def test_a_column_streams_its_values(data, chunk_rows):
    rows = DictList(data, chunk_rows=chunk_rows)
    whole = read(rows)
    for name in whole.column_names:
        table = read(rows.column(name))
        assert table.column_names == [name]
        assert table.schema.field(name) == whole.schema.field(name)
        assert table.num_rows == len(data)
        # The list as the oracle: absent and None both arrive as null.
        assert table.column(0).to_pylist() == [r.get(name) for r in data]
        assert table.column(0).to_pylist() == whole.column(name).to_pylist()


def test_the_column_is_a_snapshot_and_consumers_take_it():
    data = [{"id": i, "price": i / 4, "country": "DE" if i % 3 else "FR"} for i in range(10)]
    del data[4]["price"]
    rows = DictList(data, chunk_rows=4)
    col = rows.column("price")
    rows[0] = {"id": 0, "price": 99.0, "country": "IT"}
    rows.append({"id": 10, "price": 1.0})
    expected = [r.get("price") for r in data]
    assert read(col).column(0).to_pylist() == expected
    # A consumer other than pyarrow: duckdb, through the stream (not the Sequence).
    rel = duckdb.from_arrow(rows.column("country"))
    assert rel.columns == ["country"]
    assert [c for (c,) in rel.fetchall()] == [r.get("country") for r in rows]
    # requested_schema is a hint producers may ignore.
    assert (
        read(col).schema
        == pa.RecordBatchReader.from_stream(col, schema=pa.schema([("price", pa.float64())])).schema
    )


def test_strings_written_after_the_list_was_made():
    rows = DictList([{"s": "x" * 30} for _ in range(5)])
    rows[2]["s"] = "short"
    col = rows.column("s")
    assert read(col).column(0).to_pylist() == [r["s"] for r in rows]
