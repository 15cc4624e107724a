"""Parquet files and datasets: exact round trips through memslim, plain typed columns
for pyarrow, polars and DuckDB, and clear errors for damaged or foreign files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import memslim
import pytest
from conftest import expect_error, first_difference, record_lists, same
from hypothesis import given, settings
from hypothesis import strategies as st
from memslim import DictList

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")


def plain(rows):
    return [dict(r) for r in rows]


@settings(max_examples=40)
@given(recs=record_lists, chunk=st.sampled_from([None, 2]), batch=st.integers(1, 5))
def test_one_file_round_trips_exactly(tmp_path_factory, recs, chunk, batch):
    path = tmp_path_factory.mktemp("rt") / "x.parquet"
    DictList(recs, chunk_rows=chunk).to_parquet(path, row_group_size=3)
    diff = first_difference(plain(memslim.read_parquet(path)), recs)
    assert diff is None, diff
    got = [dict(r) for b in memslim.iter_parquet(path, batch_size=batch) for r in b]
    assert same(got, recs)


@settings(max_examples=25)
@given(recs=record_lists)
def test_dataset_round_trips_exactly_per_partition(tmp_path_factory, recs):
    root = tmp_path_factory.mktemp("ds")
    recs = [dict(r, **({"k": r["id"] % 3} if isinstance(r.get("id"), int) else {})) for r in recs]
    DictList(recs).to_parquet(root, partition_by=["k"], max_rows_per_file=4)
    back = plain(memslim.read_parquet(root))
    # Part files hold one partition each: compare as multisets, each record exactly.
    assert sorted(map(repr, back)) == sorted(map(repr, recs))
    for r in back:
        assert any(same(r, want) for want in recs), r


def test_what_others_see_is_plain_typed_columns(tmp_path):
    recs = [
        {"id": 1, "price": 1.5, "name": "a", "ok": True, "nested": {"x": [1, 2]}},
        {"price": 2, "id": 2, "name": None, "ok": False},
        {"id": 3, "price": -0.0, "name": "c"},
    ]
    path = tmp_path / "t.parquet"
    DictList(recs).to_parquet(path)
    t = pq.read_table(path)
    assert t.schema.field("id").type == pa.int64()
    assert t.schema.field("price").type == pa.float64()
    assert t.schema.field("name").type == pa.string()
    assert t.schema.field("ok").type == pa.bool_()
    assert t.column("price").to_pylist() == [1.5, 2.0, -0.0]
    assert t.column("name").to_pylist() == ["a", None, "c"]  # absent reads as null
    assert t.column("ok").to_pylist() == [True, False, None]
    # memslim itself gives back what went in: the int among floats, the absent keys,
    # the second record's key order, the nested value.
    assert same(plain(memslim.read_parquet(path)), recs)


def test_projection_and_batches(tmp_path):
    recs = [{"a": i, "b": str(i), "c": i * 0.5} for i in range(1000)]
    path = tmp_path / "p.parquet"
    DictList(recs).to_parquet(path, row_group_size=100)
    assert pq.ParquetFile(path).metadata.num_row_groups == 10
    batches = list(memslim.iter_parquet(path, columns=["c", "a"], batch_size=64))
    assert max(len(b) for b in batches) == 64
    assert [dict(r) for b in batches for r in b] == [{"a": i, "c": i * 0.5} for i in range(1000)]
    assert memslim.read_parquet([path, path], columns=["b"]).to_list() == [
        {"b": r["b"]} for r in recs + recs
    ]


def test_foreign_files_read_as_their_columns_say(tmp_path):
    t = pa.table(
        {
            "i32": pa.array([1, None, 3], pa.int32()),
            "s": pa.array(["x", "y", None], pa.large_string()),
            "d": pa.array(["u", "u", "v"]).dictionary_encode(),
            "l": pa.array([[1, 2], None, []]),
            "st": pa.array([{"a": 1}, {"a": None}, None]),
        }
    )
    path = tmp_path / "f.parquet"
    pq.write_table(t, path)  # snappy, as pyarrow writes by default
    assert same(memslim.read_parquet(path).to_list(), t.to_pylist())


def test_datasets_read_by_pyarrow_polars_and_duckdb(tmp_path):
    recs = [
        {"country": c, "year": y, "amount": a, "note": n}
        for c, y, a, n in [
            ("DE", 2024, 1.5, "x"),
            ("FR", 2024, 2.0, None),
            ("DE", 2025, 3.25, "z"),
            ("US", 2025, 4.0, "w"),
        ]
        * 5
    ]
    root = tmp_path / "sales"
    files = DictList(recs).to_parquet(root, partition_by=["country", "year"])
    assert all(
        os.path.basename(os.path.dirname(os.path.dirname(f))).startswith("country=") for f in files
    )
    assert sorted(map(repr, plain(memslim.read_parquet(root)))) == sorted(map(repr, recs))
    key = lambda r: (r["country"], r["year"], r["amount"])

    dset = ds.dataset(root, format="parquet", partitioning="hive")
    got = dset.to_table().to_pylist()
    assert dset.schema.field("amount").type == pa.float64()
    assert sorted(got, key=key) == sorted(recs, key=key)

    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    rel = con.sql(
        f"SELECT country, year, amount, note FROM read_parquet('{root}/**/*.parquet', "
        "hive_partitioning=true)"
    )
    assert [str(t) for t in rel.types] == ["VARCHAR", "BIGINT", "DOUBLE", "VARCHAR"]
    rows = [dict(zip(rel.columns, t, strict=True)) for t in rel.fetchall()]
    assert sorted(rows, key=key) == sorted(recs, key=key)

    pl = pytest.importorskip("polars")
    df = pl.scan_parquet(root, hive_partitioning=True).collect()
    assert df.schema["amount"] == pl.Float64
    assert df.schema["country"] == pl.String
    assert sorted(df.select("country", "year", "amount", "note").to_dicts(), key=key) == sorted(
        recs, key=key
    )


def test_foreign_hive_dataset_partition_types(tmp_path):
    t = pa.table({"v": [1, 2, 3], "year": [2024, 2025, 2025], "c": ["a", "007", "b"]})
    root = tmp_path / "foreign"
    pq.write_to_dataset(t, root, partition_cols=["year", "c"])
    got = sorted(plain(memslim.read_parquet(root)), key=lambda r: r["v"])
    # year: every value an integer -> int; c: "007" and letters -> str (as pyarrow infers).
    assert got == [
        {"v": 1, "year": 2024, "c": "a"},
        {"v": 2, "year": 2025, "c": "007"},
        {"v": 3, "year": 2025, "c": "b"},
    ]


def test_partition_values_keep_their_type_through_memslim(tmp_path):
    recs = [
        {"k": "1", "v": 1},
        {"k": 1, "v": 2},
        {"v": 3},
        {"k": None, "v": 4},
        {"v": 5, "k": True},
    ]
    root = tmp_path / "typed"
    DictList(recs).to_parquet(root, partition_by=["k"])
    got = sorted(plain(memslim.read_parquet(root)), key=lambda r: r["v"])
    assert same(got, recs)
    err = expect_error(
        ValueError, DictList([{"k": 1.5}]).to_parquet, tmp_path / "f", partition_by=["k"]
    )
    assert '"k"' in str(err)


def test_many_writers_fill_one_directory(tmp_path):
    root = tmp_path / "shared"
    a = DictList([{"g": "x", "v": i} for i in range(5)]).to_parquet(root, partition_by=["g"])
    b = DictList([{"g": "x", "v": i} for i in range(5, 9)]).to_parquet(root, partition_by=["g"])
    assert set(a).isdisjoint(b)
    assert sorted(r["v"] for r in memslim.read_parquet(root)) == list(range(9))
    assert not [n for n in os.listdir(root / "g=x") if n.startswith(".")]  # no temp files


def test_stream_sink_to_one_file_and_to_a_directory(tmp_path):
    batches = [DictList([{"a": 1}]), DictList([{"a": 2, "b": "new"}])]
    one = tmp_path / "one.parquet"
    err = expect_error(memslim.SchemaError, memslim.stream(batches).to_parquet, one)
    assert "one.parquet" in str(err) and "directory" in str(err)
    assert not one.exists()  # the unfinished file was dropped
    n = memslim.stream(batches).to_parquet(f"{tmp_path / 'dir'}{os.sep}")
    assert n == 2
    assert len(os.listdir(tmp_path / "dir")) == 2  # the new field started a new part file
    assert sorted(map(repr, plain(memslim.read_parquet(tmp_path / "dir")))) == sorted(
        map(repr, [{"a": 1}, {"a": 2, "b": "new"}])
    )


def test_corrupt_files_raise_corrupt_file_error_naming_the_file(tmp_path):
    path = tmp_path / "good.parquet"
    DictList([{"a": i, "s": f"v{i}", "f": i / 3} for i in range(40)]).to_parquet(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.parquet"
    for cut in (0, 4, 9, len(data) // 2, len(data) - 1):
        bad.write_bytes(data[:cut])
        err = expect_error(memslim.CorruptFileError, memslim.read_parquet, bad)
        assert "bad.parquet" in str(err)
        assert isinstance(err, ValueError)
    bad.write_bytes(b"not parquet at all" * 4)
    expect_error(memslim.CorruptFileError, memslim.read_parquet, bad)
    # Bit flips: a clear error naming the file, or records (data pages carry no
    # checksum); never a crash or a panic.
    for i in range(0, len(data), 7):
        flipped = bytearray(data)
        flipped[i] ^= 0x20
        bad.write_bytes(bytes(flipped))
        try:
            memslim.read_parquet(bad)
        except BaseException as e:  # noqa: BLE001 - a panic would be a BaseException
            assert isinstance(e, memslim.MemslimError), repr(e)
            assert "bad.parquet" in str(e)


def test_a_decoder_panic_on_a_corrupt_footer_is_reported_once_and_quietly(tmp_path, capfd):
    """The parquet crate asserts on some malformed footers (negative chunk offsets); memslim
    checks chunk offsets before decoding (and would catch the panic) and raises
    CorruptFileError. Nothing reaches stderr: a service reading uploads must not log what
    looks like a crash."""
    path = tmp_path / "ok.parquet"
    DictList([{"a": i, "s": f"v{i % 3}"} for i in range(12)]).to_parquet(
        path, compression="gzip", row_group_size=5
    )
    good = path.read_bytes()
    bad = tmp_path / "bad.parquet"
    capfd.readouterr()
    caught = []
    for i in range(len(good) - 8, max(0, len(good) - 1200), -1):
        for v in (0xFF, 0x80, 0x7F, 0x3D):
            b = bytearray(good)
            b[i] = v
            bad.write_bytes(bytes(b))
            try:
                memslim.read_parquet(bad)
            except memslim.CorruptFileError as e:
                # The decoder's assert, or memslim's check of the same offsets.
                if "should not be negative" in str(e) or "negative offset" in str(e):
                    caught.append(i)
        if len(caught) >= 3:
            break
    assert caught, "no footer change reached the decoder's assert"
    assert capfd.readouterr().err == ""


def test_foreign_schema_memslim_cannot_hold(tmp_path):
    t = pa.table({"ok": [1, 2], "when": pa.array([1, 2], pa.timestamp("us"))})
    path = tmp_path / "ts.parquet"
    pq.write_table(t, path)
    err = expect_error(memslim.SchemaError, memslim.read_parquet, path)
    assert "ts.parquet" in str(err) and "when" in str(err)
    assert memslim.read_parquet(path, columns=["ok"]).to_list() == [{"ok": 1}, {"ok": 2}]


def test_zstd_files_name_the_missing_codec(tmp_path):
    path = tmp_path / "z.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), path, compression="zstd")
    err = expect_error(memslim.FileFormatError, memslim.read_parquet, path)
    assert "z.parquet" in str(err) and "zstd" in str(err).lower()


@pytest.mark.parametrize("codec", ["snappy", "gzip", "lz4", "none"])
def test_codecs_are_read_by_pyarrow(tmp_path, codec):
    recs = [{"a": i, "s": "x" * (i % 7)} for i in range(300)]
    path = tmp_path / f"{codec}.parquet"
    DictList(recs).to_parquet(path, compression=codec)
    assert pq.read_table(path).to_pylist() == recs
    assert memslim.read_parquet(path).to_list() == recs
    expect_error(ValueError, DictList(recs).to_parquet, path, compression="zstd")


def test_missing_inputs_and_bad_arguments(tmp_path):
    expect_error(FileNotFoundError, memslim.read_parquet, tmp_path / "nope.parquet")
    expect_error(TypeError, memslim.read_parquet, 42)
    expect_error(ValueError, memslim.iter_parquet, tmp_path, batch_size=0)
    assert memslim.read_parquet(tmp_path).to_list() == []  # an empty directory
    empty = tmp_path / "empty.parquet"
    DictList().to_parquet(empty)
    assert memslim.read_parquet(empty).to_list() == []
    assert pq.read_table(empty).num_rows == 0


def test_nan_and_big_ints_survive(tmp_path):
    recs = [{"f": math.nan, "big": 2**70, "t": (1, [2])}, {"f": -0.0, "big": -(2**64)}]
    path = tmp_path / "n.parquet"
    DictList(recs).to_parquet(path)
    assert same(plain(memslim.read_parquet(path)), recs)


def test_part_files_and_partition_directories_read_alone_keep_their_keys(tmp_path):
    recs = [{"c": "DE", "v": 1}, {"c": "FR", "v": 2}, {"v": 3, "c": 7}]
    root = tmp_path / "d"
    files = DictList(recs).to_parquet(root, partition_by=["c"])
    got = sorted((dict(r) for f in files for r in memslim.read_parquet(f)), key=lambda r: r["v"])
    assert same(got, recs)
    assert same(plain(memslim.read_parquet(root / "c=DE")), [recs[0]])


def test_record_file_to_parquet_through_a_stream(tmp_path):
    recs = [{"id": i, "x": i if i % 3 else i + 0.5} for i in range(50)] + [{"x": None, "id": -1}]
    log = tmp_path / "events.msl"
    DictList(recs).save(log)
    with memslim.DictList.open(log, "r") as f:
        n = memslim.stream(f, batch_size=16).to_parquet(tmp_path / "events.parquet")
    assert n == len(recs)
    assert same(plain(memslim.read_parquet(tmp_path / "events.parquet")), recs)


def test_big_ints_after_floats_stay_exact_in_one_part_file(tmp_path):
    batches = [DictList([{"a": 1.5}]), DictList([{"a": 2**62 + 1}]), DictList([{"a": 7}])]
    out = f"{tmp_path / 'd'}{os.sep}"
    memslim.stream(batches).to_parquet(out)
    got = sorted((r["a"] for r in memslim.read_parquet(out)), key=repr)
    assert same(got, sorted([1.5, 2**62 + 1, 7], key=repr))


@settings(max_examples=30)
@given(
    recs=st.lists(
        st.dictionaries(st.sampled_from("abcd"), st.integers(-3, 3) | st.none(), max_size=4),
        min_size=1,
        max_size=8,
    ),
    drop=st.lists(st.tuples(st.integers(0, 7), st.sampled_from("abcd")), max_size=12),
)
def test_files_written_hold_only_the_keys_some_record_still_has(tmp_path_factory, recs, drop):
    # Keys deleted from records (from every one, for some) are what a list of dicts no
    # longer has: Parquet files and record files hold the keys the dicts hold.
    rows = DictList(recs)
    dicts = [dict(d) for d in recs]
    for i, k in drop:
        i %= len(dicts)
        dicts[i].pop(k, None)
        rows[i].pop(k, None)
    keys = {k for d in dicts for k in d}
    root = tmp_path_factory.mktemp("keys")
    rows.to_parquet(root / "x.parquet")
    assert set(pq.read_table(root / "x.parquet").column_names) == keys
    assert same(plain(memslim.read_parquet(root / "x.parquet")), dicts)
    rows.save(root / "x.msl")
    with DictList.open(root / "x.msl") as f:
        assert set(f.columns) == keys
        assert same(plain(f), dicts)


def test_the_string_that_names_the_null_partition_round_trips(tmp_path) -> None:
    """A string whose text is the null directory's name gets a directory of its own
    (escaped) and reads back as the string, beside a real None."""
    data = [{"a": "__HIVE_DEFAULT_PARTITION__", "v": 1}, {"a": None, "v": 2}]
    path = str(tmp_path / "ds")
    written = memslim.DictList(data).to_parquet(path, partition_by=["a"])
    assert len({os.path.dirname(p) for p in written}) == 2
    back = sorted(memslim.read_parquet(path).to_list(), key=lambda r: r["v"])
    assert back == data


def test_an_empty_list_written_as_a_dataset_reads_back_empty(tmp_path):
    """A nightly export of zero rows must not break its reader."""
    for i, kwargs in enumerate(
        ({"partition_by": ["a"]}, {"max_rows_per_file": 10}, {"dataset": True})
    ):
        ds = tmp_path / f"ds{i}" / "nested"
        written = DictList([]).to_parquet(ds, **kwargs)
        assert written == [] and ds.is_dir()
        assert memslim.read_parquet(ds).to_list() == []


def test_notes_carried_through_a_rewrite_by_another_tool_are_not_applied(tmp_path):
    """pyarrow carries memslim's key-value metadata (row bitmaps, key order, partition
    columns) through read, sort_by, filter and write_table; memslim must read such a
    file as pyarrow does, not apply notes about other rows to it."""
    recs = [
        {"id": 0, "x": 2, "ok": True},
        {"id": 1, "ok": False},
        {"id": 2, "x": 7.25, "ok": None},
        {"x": 5.5, "ok": True, "id": 3},
    ]
    src = tmp_path / "orig.parquet"
    DictList(recs).to_parquet(src)
    assert same(plain(memslim.read_parquet(src)), recs)  # memslim's own file: exact
    table = pq.ParquetFile(src).read()
    assert any(k.startswith(b"memslim.") for k in table.schema.metadata)
    rewrites = {
        "sorted": table.sort_by([("id", "descending")]),  # same row count
        "filtered": table.filter(pa.compute.greater(table["id"], 1)),
        "copied": table,
    }
    for name, t in rewrites.items():
        dst = tmp_path / f"{name}.parquet"
        pq.write_table(t, dst)
        want = pq.read_table(dst).to_pylist()
        diff = first_difference(plain(memslim.read_parquet(dst)), want)
        assert diff is None, (name, diff)
        got = [dict(r) for b in memslim.iter_parquet(dst, batch_size=1) for r in b]
        assert same(got, want), name

    # A memslim part file copied out of its dataset by pyarrow: no partition key appears.
    files = DictList([{"id": 1, "country": "DE"}]).to_parquet(
        tmp_path / "ds", partition_by=["country"]
    )
    copy = tmp_path / "copy.parquet"
    pq.write_table(pq.ParquetFile(files[0]).read(), copy)
    assert same(plain(memslim.read_parquet(copy)), [{"id": 1}])
    # ... while the part file itself keeps its key, read alone or in its dataset.
    assert same(plain(memslim.read_parquet(files[0])), [{"id": 1, "country": "DE"}])
    assert same(plain(memslim.read_parquet(tmp_path / "ds")), [{"id": 1, "country": "DE"}])


def test_a_file_in_a_hive_directory_gives_its_key_to_every_record(tmp_path):
    """A memslim file moved into `date=.../` gets the directory's key on every record,
    those whose keys were not in column order included (pyarrow.dataset: every record)."""
    recs = [{"id": 1, "v": "a"}, {"v": "b", "id": 2}, {"id": 3}]
    part = tmp_path / "ds" / "date=2025-01-01"
    part.mkdir(parents=True)
    DictList(recs).to_parquet(part / "part.parquet")
    want = [dict(r, date="2025-01-01") for r in recs]
    oracle = ds.dataset(tmp_path / "ds", partitioning="hive").to_table().to_pylist()
    assert [r["date"] for r in oracle] == ["2025-01-01"] * 3
    assert same(plain(memslim.read_parquet(tmp_path / "ds")), want)
    got = [dict(r) for b in memslim.iter_parquet(tmp_path / "ds", batch_size=1) for r in b]
    assert same(got, want)
    got = plain(memslim.read_parquet(tmp_path / "ds", columns=["date", "id"]))
    assert same(
        got,
        [
            {"id": 1, "date": "2025-01-01"},
            {"id": 2, "date": "2025-01-01"},
            {"id": 3, "date": "2025-01-01"},
        ],
    )


def test_a_part_file_copied_out_of_its_directories_leaves_their_keys_out(tmp_path):
    """No directory names the key any more: the value is unknown, not None (pyarrow
    reads the copy without the key)."""
    files = DictList([{"id": 1, "country": "DE", "year": 2025}]).to_parquet(
        tmp_path / "ds", partition_by=["country", "year"]
    )
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(Path(files[0]).read_bytes())
    assert pq.read_table(copy).to_pylist() == [{"id": 1}]
    assert same(plain(memslim.read_parquet(copy)), [{"id": 1}])
    # Moved under one of its two levels, or into another dataset's directory.
    for sub in ["year=2025", "region=EU"]:
        (tmp_path / "other" / sub).mkdir(parents=True)
        (tmp_path / "other" / sub / "p.parquet").write_bytes(copy.read_bytes())
    got = sorted(map(repr, plain(memslim.read_parquet(tmp_path / "other"))))
    assert got == sorted(map(repr, [{"id": 1, "year": 2025}, {"id": 1, "region": "EU"}]))


def test_foreign_partition_values_are_ints_only_in_their_canonical_text(tmp_path):
    """`+1`, `007`, `-0` are not the text of an int: reading them as ints would merge
    directories (`+1` and `1`) and lose the value; they stay str, as DuckDB reads `+1`
    and `007` (pyarrow keeps `+1`, but reads `007` and `-0` as ints)."""
    for values, want in [
        (["+1", "+44", "1"], ["+1", "+44", "1"]),
        (["007", "7"], ["007", "7"]),
        (["-0", "3"], ["-0", "3"]),
        (["-12", "0", "12"], [-12, 0, 12]),
    ]:
        root = tmp_path / "_".join(values).replace("+", "p")
        for i, v in enumerate(values):
            (root / f"code={v}").mkdir(parents=True)
            pq.write_table(pa.table({"n": [i]}), root / f"code={v}" / "f.parquet")
        got = sorted(plain(memslim.read_parquet(root)), key=lambda r: r["n"])
        assert [r["code"] for r in got] == want, values
    oracle = ds.dataset(tmp_path / "p1_p44_1", partitioning="hive").to_table()
    assert sorted(oracle.column("code").to_pylist()) == ["+1", "+44", "1"]


def test_every_read_error_names_the_file_and_the_row_in_it(tmp_path):
    good = tmp_path / "a.parquet"
    DictList([{"a": 1}] * 3).to_parquet(good)
    # Two columns of one name (pyarrow writes such files).
    dup = tmp_path / "dup.parquet"
    pq.write_table(
        pa.table([pa.array([1, 2]), pa.array([3, 4]), pa.array([5, 6])], names=["a", "a", "b"]), dup
    )
    for call in (
        lambda: memslim.read_parquet([good, dup]),
        lambda: list(memslim.iter_parquet([good, dup], batch_size=2)),
    ):
        err = expect_error(memslim.SchemaError, call)
        assert str(err).startswith(f"{dup}: ") and '"a"' in str(err)
    assert plain(memslim.read_parquet(dup, columns=["b"])) == [{"b": 5}, {"b": 6}]
    # A pickled value: its row counted in its file, not across files or in the batch.
    bad = tmp_path / "b.parquet"
    DictList([{"a": 1}, {"a": 2}, {"a": {1, 2}}]).to_parquet(bad)
    for call in (
        lambda: memslim.read_parquet(tmp_path, columns=["a"]),
        lambda: list(memslim.iter_parquet([good, bad], batch_size=1)),
        lambda: list(memslim.iter_parquet([good, bad], batch_size=2)),
    ):
        err = expect_error(memslim.UntrustedDataError, call)
        assert str(err).startswith(f'{bad}: row 2, field "a"'), str(err)


def test_crafted_claims_are_refused_before_anything_is_reserved(tmp_path):
    """Counts and sizes a footer or a page header claims are checked against what the
    file holds before the reader allocates by them: a clean CorruptFileError naming the
    file, never an abort or an hour of empty records (read in a child process under an
    address-space limit)."""
    from crafted_parquet import field, first_chunk, join, read_in_child, split, with_page_header

    def row_groups(meta):
        return field(meta, 4)[2][2]

    # A memslim file whose footer claims 10**12 rows (seal updated, so the notes are
    # honoured) and whose absent-key note says "every row": a bitmap of 125 GB.
    src = tmp_path / "x.parquet"
    DictList([{"a": 1}, {"b": 2}]).to_parquet(src)
    body, meta = split(src.read_bytes())
    n = 10**12
    field(meta, 3)[2] = n
    for g in row_groups(meta):
        field(g, 3)[2] = n
    for kv in field(meta, 5)[2][2]:
        key, val = field(kv, 1)[2], field(kv, 2)
        if key == b"memslim.seal":
            ver, ln, crc, _ = val[2].decode().split(":")
            val[2] = f"{ver}:{ln}:{crc}:{n}".encode()
        elif key == b"memslim.absent":
            val[2] = b"0:*"
    rows_claim = tmp_path / "rows.parquet"
    rows_claim.write_bytes(join(body, meta))

    # A file with no column claiming 10**12 rows.
    src = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}).drop_columns(["a"]), src)
    body, meta = split(src.read_bytes())
    field(meta, 3)[2] = n
    for g in row_groups(meta):
        field(g, 3)[2] = n
    columnless = tmp_path / "columnless.parquet"
    columnless.write_bytes(join(body, meta))

    # A snappy data page claiming 2 GB uncompressed; a dictionary page claiming 2**31-1
    # values.
    src = tmp_path / "ints.parquet"
    pq.write_table(
        pa.table({"a": list(range(100))}),
        src,
        use_dictionary=False,
        write_statistics=False,
        write_page_index=False,
    )
    big_page = tmp_path / "big_page.parquet"
    big_page.write_bytes(
        with_page_header(src.read_bytes(), 9, lambda h: field(h, 2).__setitem__(2, 2**31 - 1))
    )
    src = tmp_path / "strs.parquet"
    pq.write_table(
        pa.table({"a": [f"x{i % 10}" for i in range(100)]}),
        src,
        use_dictionary=True,
        compression="none",
        write_statistics=False,
        write_page_index=False,
    )
    big_dict = tmp_path / "big_dict.parquet"
    big_dict.write_bytes(
        with_page_header(
            src.read_bytes(), 11, lambda h: field(field(h, 7)[2], 1).__setitem__(2, 2**31 - 1)
        )
    )
    assert first_chunk(split(big_dict.read_bytes())[1])  # still a well-formed footer

    for path in (rows_claim, columnless, big_page, big_dict):
        got = read_in_child(path, timeout=60)
        assert got.startswith(f"raised CorruptFileError {path}: "), got


@pytest.mark.parametrize("n", [10**6, 10**7])
def test_our_own_files_of_many_empty_records_read_back(tmp_path, n):
    # Records with no stored field leave a file with no columns: memslim's own count
    # of them is backed by its footer, so however many there are, they read back.
    p = tmp_path / "empty.parquet"
    DictList([{}] * n).to_parquet(p)
    back = memslim.read_parquet(p)
    assert len(back) == n and back.columns == []
    assert back[0] == back[n // 2] == back[-1] == {}
    assert sum(len(b) for b in memslim.iter_parquet(p)) == n
    ds = tmp_path / "parts"
    DictList([{}] * n).to_parquet(ds, max_rows_per_file=n // 3)
    assert len(memslim.read_parquet(ds)) == n
    # Records of only a partition key: its value on each record.
    pk = tmp_path / "keyed"
    DictList([{"k": 1}] * n).to_parquet(pk, partition_by=["k"])
    back = memslim.read_parquet(pk)
    assert len(back) == n and back[0] == back[-1] == {"k": 1}
    if n <= 10**6:
        s = tmp_path / "stream.parquet"
        memslim.stream(iter([{}] * n)).to_parquet(s)
        assert memslim.read_parquet(s).to_list() == [{}] * n


def test_a_count_of_empty_records_the_footer_does_not_back_is_refused(tmp_path):
    """memslim's count of records with no stored field is written in entries of at most
    65,536 records, so a count is backed by the footer's bytes: one forged larger (the
    seal does not cover the footer's notes) is refused, in a child process under an
    address-space limit, before the reader makes a record."""
    from crafted_parquet import field, join, read_in_child, split

    src = tmp_path / "ten.parquet"
    DictList([{}] * 10).to_parquet(src)
    for i, forged in enumerate((b"1000000000000", b"65536,1000000000000", b"65537,1")):
        body, meta = split(src.read_bytes())
        for kv in field(meta, 5)[2][2]:
            if field(kv, 1)[2] == b"memslim.rows":
                field(kv, 2)[2] = forged
        path = tmp_path / f"forged{i}.parquet"
        path.write_bytes(join(body, meta))
        got = read_in_child(path, timeout=60)
        assert got.startswith(f"raised CorruptFileError {path}: "), got
        assert "memslim.rows" in got, got


def test_a_file_of_no_rows_keeps_its_columns_and_their_types(tmp_path):
    # As DictList.from_arrow keeps an empty table's fields: a file with columns and no
    # rows reads as an empty list with those fields, which a round trip keeps.
    t = pa.table(
        {
            "i": pa.array([], pa.int32()),
            "s": pa.array([], pa.string()),
            "f": pa.array([], pa.float64()),
            "b": pa.array([], pa.bool_()),
            "y": pa.array([], pa.binary()),
        }
    )
    p = tmp_path / "theirs.parquet"
    pq.write_table(t, p)
    back = memslim.read_parquet(p)
    imported = DictList.from_arrow(t)
    assert len(back) == 0 and back.columns == imported.columns == t.schema.names
    assert pa.table(back).schema == pa.table(imported).schema
    types = [pa.int64(), pa.string(), pa.float64(), pa.bool_(), pa.binary()]
    got = [x.value_type if pa.types.is_dictionary(x) else x for x in pa.table(back).schema.types]
    assert got == types
    q = tmp_path / "again.parquet"
    back.to_parquet(q)
    assert pq.read_schema(q).names == t.schema.names
    assert pq.read_schema(q).types == types
    assert memslim.read_parquet(p, columns=["s", "i"]).columns == ["i", "s"]
    # memslim's own empty file with fields, and one among files with rows.
    mine = tmp_path / "mine.parquet"
    DictList(schema={"a": "int64", "s": "str"}).to_parquet(mine)
    assert memslim.read_parquet(mine).columns == ["a", "s"]
    rows = tmp_path / "rows.parquet"
    DictList([{"a": 1}]).to_parquet(rows)
    both = memslim.read_parquet([mine, rows])
    assert both.to_list() == [{"a": 1}]
    # With records, the records decide the fields, as in any DictList (a field no
    # record has is not listed).
    assert both.columns == ["a"] and pa.table(both).schema.names == ["a"]
    # iter_parquet gives no batch for a file of no rows, as pyarrow's iter_batches.
    assert list(memslim.iter_parquet(p)) == []


def _notes(path):
    md = pq.ParquetFile(path).metadata.metadata or {}
    return {k.decode(): v.decode() for k, v in md.items() if k.startswith(b"memslim.")}


def test_sparse_records_cost_bytes_per_run_not_per_row(tmp_path):
    """Records that each hold a few of many optional keys (flattened JSON logs): the
    absent-key note says "the column's nulls" per column, not a bit per row, so the file
    stays small and pyarrow opens it; rows holding None among absent ones, ints among
    floats and a dense pattern round-trip exactly too."""
    rows, cols = 60_000, 120
    recs = [{f"k{i % cols}": True} for i in range(rows)]
    p = tmp_path / "sparse.parquet"
    DictList(recs).to_parquet(p)
    notes = _notes(p)
    assert len(notes["memslim.absent"]) < 10 * cols, len(notes["memslim.absent"])
    assert os.path.getsize(p) < 1_000_000
    assert pq.read_table(p).num_rows == rows
    assert plain(memslim.read_parquet(p)) == recs
    # A None now and then among the absent rows; a float column with ints; every
    # third row lacking a key (a pattern with a run per row).
    mixed = [
        {"a": None if i % 1000 == 7 else i, "f": float(i) if i % 5 else i} if i % 3 else {"f": 0.5}
        for i in range(rows)
    ]
    p = tmp_path / "mixed.parquet"
    DictList(mixed).to_parquet(p, row_group_size=7_000)
    notes = _notes(p)
    # Key orders alternate (one character per row); the sets take a few bits per row.
    assert len(notes["memslim.absent"]) + len(notes["memslim.ints"]) < rows // 4, notes
    got = memslim.read_parquet(p)
    assert same(plain(got), mixed)
    for batch in (1, 999, 65_536):
        it = [dict(r) for b in memslim.iter_parquet(p, batch_size=batch) for r in b]
        assert same(it, mixed)
    assert pq.read_table(p).num_rows == rows


def test_varying_key_order_costs_bytes_per_change(tmp_path):
    """Each distinct key order is listed once, and rows name theirs by index: runs of
    one order cost a few bytes, alternating orders one byte per row."""
    n = 50_000
    runs = [{"a": i, "b": i} if (i // 1000) % 2 else {"b": i, "a": i} for i in range(n)]
    p = tmp_path / "runs.parquet"
    DictList(runs).to_parquet(p)
    assert len(_notes(p)["memslim.order"]) < 500
    assert [list(r) for r in memslim.read_parquet(p)] == [list(r) for r in runs]
    alt = [{"a": i, "b": i} if i % 2 else {"b": i, "a": i} for i in range(n)]
    p = tmp_path / "alt.parquet"
    DictList(alt).to_parquet(p)
    assert len(_notes(p)["memslim.order"]) <= n + 20
    got = [list(r) for b in memslim.iter_parquet(p, batch_size=777) for r in b]
    assert got == [list(r) for r in alt]


def test_iter_parquet_holds_the_key_orders_of_one_batch(tmp_path):
    """The key order note is read as the rows go by: iterating a file whose records
    alternate their key order takes no more memory than one whose records do not (each
    measured in a fresh process)."""
    import subprocess
    import sys

    n = 1_000_000
    files = {}
    for name, flip in (("plain", False), ("alt", True)):
        p = tmp_path / f"{name}.parquet"
        memslim.DictList(
            ({"b": i, "a": i} if flip and i % 2 else {"a": i, "b": i}) for i in range(n)
        ).to_parquet(p)
        files[name] = p
    code = f"""
import resource, sys, memslim
n = sum(len(b) for b in memslim.iter_parquet(sys.argv[1], batch_size=1000))
assert n == {n}
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    peak = {
        name: int(
            subprocess.run(
                [sys.executable, "-c", code, str(p)], check=True, capture_output=True, text=True
            ).stdout
        )
        for name, p in files.items()
    }
    # ru_maxrss is in KiB. Before the order note was read as the rows go by, the
    # alternating file took some 55 MB more.
    assert peak["alt"] - peak["plain"] < 12 * 1024, peak


def test_crafted_notes_raise_corrupt_file_error(tmp_path):
    """Notes that do not check out in a sealed memslim file (the footer's notes are not
    part of the sealed bytes) raise CorruptFileError naming the file: no panic, no
    abort, no huge allocation."""
    import copy

    from crafted_parquet import field, join, read_in_child, split

    src = tmp_path / "x.parquet"
    DictList([{"a": 1, "b": "x"}, {"b": "y", "a": 2}, {"a": 3}, {"b": None}]).to_parquet(src)
    assert set(_notes(src)) >= {"memslim.absent", "memslim.order"}
    body, meta = split(src.read_bytes())
    hostile = {
        "memslim.absent": [
            "0:r2,1,0,1",  # adjacent runs
            "0:r1,4",  # past the rows
            "0:r18446744073709551615,1",
            "0:bAAAA",  # a bitmap of another length
            "5:r0,1",  # no such column
            "1:r0,1",  # row 0 holds "b"
            "0:nr;0:r",
            "0:x",
        ],
        "memslim.order": [
            "1,0|r2:1",  # no such order
            "1,1|r0:1,1:1",  # a column twice
            "1,0|r0:1,1:9",  # past the rows
            "1|r0:1,1:1",  # lists "b" without "a"
            "1,0,1|d01",
            "1,0|d0133",
            "1,0",
            "9,0|r0:1,1:1",
        ],
    }
    for key, values in hostile.items():
        for value in values:
            m = copy.deepcopy(meta)
            for kv in field(m, 5)[2][2]:
                if field(kv, 1)[2] == key.encode():
                    field(kv, 2)[2] = value.encode()
            bad = tmp_path / "bad.parquet"
            bad.write_bytes(join(body, m))
            got = read_in_child(bad, limit=1 << 30, timeout=60)
            assert got.startswith(f"raised CorruptFileError {bad}: "), (key, value, got)


def _only(rec, keys):
    """``rec`` with only ``keys``, in its own key order."""
    return {k: v for k, v in rec.items() if k in keys}


@settings(max_examples=40)
@given(
    recs=record_lists,
    keys=st.sets(st.sampled_from(["id", "name", "price", "flag", "tags", "x", "k"])),
    batch=st.integers(1, 7),
)
def test_chosen_columns_keep_absent_keys_ints_and_key_orders(tmp_path_factory, recs, keys, batch):
    """The reader reads a column at a time: with columns= (partition keys among them),
    each record keeps exactly its chosen keys, in its own order, None vs absent, ints
    stored in a float column as ints, nested values; in one file and in a dataset."""
    root = tmp_path_factory.mktemp("cols")
    recs = [dict(r, **({"k": len(r) % 2} if i % 3 else {})) for i, r in enumerate(recs)]
    chosen = sorted(keys)
    want = [_only(r, keys) for r in recs]
    one = root / "one.parquet"
    DictList(recs).to_parquet(one, row_group_size=4)
    got = plain(memslim.read_parquet(one, columns=chosen))
    assert first_difference(got, want) is None, first_difference(got, want)
    got = [dict(r) for b in memslim.iter_parquet(one, columns=chosen, batch_size=batch) for r in b]
    assert same(got, want)
    with_k = [r for r in recs if "k" in r]
    DictList(with_k).to_parquet(root / "ds", partition_by=["k"], max_rows_per_file=3)
    back = plain(memslim.read_parquet(root / "ds", columns=chosen))
    expected = [_only(r, keys) for r in with_k]
    assert sorted(map(repr, back)) == sorted(map(repr, expected))
    for r in back:
        assert any(same(r, e) for e in expected), r


_plain_values = st.one_of(st.none(), st.integers(-(2**40), 2**40))


@settings(max_examples=30)
@given(
    rows=st.lists(
        st.tuples(
            _plain_values,
            st.one_of(st.none(), st.floats(allow_nan=False)),
            st.one_of(st.none(), st.sampled_from(["de", "fr", "", "🙂"])),
            st.one_of(st.none(), st.text(max_size=6)),
            st.one_of(st.none(), st.lists(_plain_values, max_size=3)),
            st.one_of(st.none(), st.booleans()),
        ),
        max_size=40,
    ),
    keys=st.sets(st.sampled_from(["i", "f", "d", "l", "n", "b"]), min_size=1),
    group=st.integers(1, 9),
)
def test_foreign_files_read_as_pyarrow_reads_them(tmp_path_factory, rows, keys, group):
    """A file written by pyarrow (nulls, dictionary and large strings, lists, structs)
    reads as pyarrow's to_pylist() gives it, all columns or some."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    table = pa.table(
        {
            "i": pa.array(cols[0], pa.int64()),
            "f": pa.array(cols[1], pa.float64()),
            "d": pa.array(cols[2], pa.string()).dictionary_encode(),
            "l": pa.array(cols[3], pa.large_string()),
            "n": pa.array(cols[4], pa.list_(pa.int64())),
            "b": pa.array(cols[5], pa.bool_()),
            "s": pa.array(
                [{"x": i, "y": t} for i, t in zip(cols[0], cols[3], strict=True)],
                pa.struct([("x", pa.int64()), ("y", pa.string())]),
            ),
        }
    )
    p = tmp_path_factory.mktemp("foreign") / "f.parquet"
    pq.write_table(table, p, row_group_size=group)
    want = pq.read_table(p).to_pylist()
    assert same(plain(memslim.read_parquet(p)), want)
    chosen = [k for k in table.column_names if k in keys]
    got = plain(memslim.read_parquet(p, columns=chosen))
    assert same(got, [_only(r, keys) for r in want])


def test_fields_come_back_in_the_order_the_list_had_them(tmp_path):
    """The fields are the file's columns in its order, whatever order the first records
    list their keys in (a record-at-a-time reader made them in order of first use:
    ["b", "a"] here); each record keeps its own key order."""
    rows = DictList([{"a": 1, "b": 1}, {"b": 2}, {"a": 3, "b": 4}])
    del rows[0]
    p = tmp_path / "x.parquet"
    rows.to_parquet(p)
    back = memslim.read_parquet(p)
    assert back.columns == rows.columns == ["a", "b"]
    assert [list(r) for r in back] == [["b"], ["a", "b"]]
    assert same(plain(back), plain(rows))
