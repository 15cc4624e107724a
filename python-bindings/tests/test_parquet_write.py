"""Writing Parquet: writers of one path, the names of part files and partition
directories, empty lists with fields, one-shot writes that fail, and the arguments of
the readers; checked against plain lists and pyarrow."""

from __future__ import annotations

import collections
import os
import threading

import memslim
import pytest
from memslim import DictList

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def plain(rows):
    return [dict(r) for r in rows]


def test_a_writer_of_the_same_path_never_mixes_into_another(tmp_path):
    p = tmp_path / "out.parquet"

    def source():
        yield DictList([{"a": i, "tag": "A"} for i in range(5_000)])
        # Another writer of the same path, from start to end, while this one is open.
        DictList([{"a": i, "tag": "B"} for i in range(3_000)]).to_parquet(p, row_group_size=100)
        assert collections.Counter(memslim.read_parquet(p).column("tag")) == {"B": 3_000}
        yield DictList([{"a": i, "tag": "A"} for i in range(5_000, 6_000)])

    assert memslim.stream(source()).to_parquet(p, row_group_size=100) == 6_000
    # The last complete writer wins, whole.
    assert plain(memslim.read_parquet(p)) == [{"a": i, "tag": "A"} for i in range(6_000)]
    assert os.listdir(tmp_path) == ["out.parquet"]

    # Threads writing one path at once: the file is one writer's, complete.
    lists = {t: DictList([{"a": i, "tag": t} for i in range(50_000)]) for t in "XY"}
    for trial in range(3):
        q = tmp_path / f"t{trial}.parquet"
        barrier = threading.Barrier(2)
        errors = []

        def write(rows, q=q, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                rows.to_parquet(q, row_group_size=1_000)
            except Exception as e:  # noqa: BLE001 - collected for the assert below
                errors.append(e)

        threads = [threading.Thread(target=write, args=(rows,)) for rows in lists.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        tags = collections.Counter(memslim.read_parquet(q).column("tag"))
        assert len(tags) == 1 and sum(tags.values()) == 50_000, tags
    assert sorted(os.listdir(tmp_path)) == ["out.parquet", "t0.parquet", "t1.parquet", "t2.parquet"]


def test_columns_given_as_a_str_is_refused(tmp_path):
    p = tmp_path / "x.parquet"
    DictList([{"id": 1, "i": 5}, {"id": 2}]).to_parquet(p)
    with pytest.raises(TypeError, match=r"columns.*\['id'\]"):
        memslim.read_parquet(p, columns="id")
    with pytest.raises(TypeError, match=r"columns.*\['id'\]"):
        memslim.iter_parquet(p, columns="id")
    assert plain(memslim.read_parquet(p, columns=["id"])) == [{"id": 1}, {"id": 2}]
    assert plain(memslim.read_parquet(p, columns=("id",))) == [{"id": 1}, {"id": 2}]


def test_parts_past_100000_keep_the_written_order(tmp_path):
    # An old dataset whose writer numbered 5 digits wide: part 100000 sorts between
    # 10000 and 10001 by name; the reader orders by the number.
    root = tmp_path / "ds"
    files = DictList([{"i": i} for i in range(4)]).to_parquet(root, max_rows_per_file=1)
    assert [os.path.basename(f)[-14:] for f in files] == [f"-{k:05}.parquet" for k in range(4)]
    for f, seq in zip(files, [9_999, 10_000, 10_001, 100_000], strict=True):
        os.rename(f, f[: -len("00000.parquet")] + f"{seq:05}.parquet")
    # Name order is not the written one ...
    assert [n.rsplit("-", 1)[1] for n in sorted(os.listdir(root))] == [
        "09999.parquet",
        "10000.parquet",
        "100000.parquet",
        "10001.parquet",
    ]
    # ... the reader's is.
    assert plain(memslim.read_parquet(root)) == [{"i": i} for i in range(4)]
    reader = memslim.iter_parquet(root)
    assert [f.rsplit("-", 1)[1] for f in reader.files()] == [
        "09999.parquet",
        "10000.parquet",
        "10001.parquet",
        "100000.parquet",
    ]


@pytest.mark.parametrize("field", ["_src", ".src", "__HIVE_DEFAULT_PARTITION__"])
def test_a_partition_field_starting_with_underscore_or_dot_round_trips(tmp_path, field):
    root = tmp_path / "ds"
    recs = [{"id": 1, field: "x"}, {"id": 2, field: None}, {"id": 3}]
    files = DictList(recs).to_parquet(root, partition_by=[field])
    assert len(files) == 2
    # Its directories are not hidden: the first byte is escaped, as '/' or '%' are.
    assert all(not d.startswith(("_", ".")) for d in os.listdir(root))
    back = plain(memslim.read_parquet(root))
    assert sorted(back, key=lambda r: r["id"]) == recs
    assert plain(memslim.read_parquet(root, columns=[field])) in (
        [{field: "x"}, {field: None}, {}],
        [{field: None}, {}, {field: "x"}],
    )


def test_an_empty_list_with_fields_keeps_its_columns(tmp_path):
    dl = DictList(schema={"a": "int64", "s": "str"})
    p, q = tmp_path / "memslim.parquet", tmp_path / "pyarrow.parquet"
    dl.to_parquet(p)
    pq.write_table(pa.table(dl), q)
    assert pq.read_schema(p).names == pq.read_schema(q).names == ["a", "s"]
    assert pq.read_schema(p).types == [pa.int64(), pa.string()]
    assert len(memslim.read_parquet(p)) == 0
    # Records all deleted: the fields they had stay, as dl.schema reports them.
    dl = DictList([{"a": 1, "b": "x"}, {"a": 2}])
    del dl[:]
    dl.to_parquet(p)
    assert pq.read_schema(p).names == pa.table(dl).schema.names
    # A list with no fields at all: a file with no columns, as before.
    DictList().to_parquet(p)
    assert pq.read_schema(p).names == []


def test_parquet_reader_files_outlive_the_iteration(tmp_path):
    p = tmp_path / "x.parquet"
    DictList([{"a": 1}]).to_parquet(p)
    r = memslim.iter_parquet(p)
    before = r.files()
    assert before == [str(p)]
    assert [plain(b) for b in r] == [[{"a": 1}]]
    assert r.files() == before
    # ... and after a failure.
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    r = memslim.iter_parquet([p, bad])
    with pytest.raises(memslim.CorruptFileError):
        list(r)
    assert r.files() == [str(p), str(bad)]


def test_a_failed_one_shot_write_leaves_no_part_of_the_list(tmp_path):
    long = "v" * 300  # a directory name no filesystem takes
    recs = [{"id": 1, "p": "a"}, {"id": 2, "p": "a"}, {"id": 3, "p": "b"}, {"id": 4, "p": long}]
    root = tmp_path / "new"
    with pytest.raises(OSError):
        DictList(recs).to_parquet(root, partition_by=["p"], max_rows_per_file=1)
    assert not root.exists()
    # Into a dataset already there: what was there stays, nothing else.
    root = tmp_path / "old"
    DictList(recs[:1]).to_parquet(root, partition_by=["p"])
    with pytest.raises(OSError):
        DictList(recs).to_parquet(root, partition_by=["p"], max_rows_per_file=1)
    assert plain(memslim.read_parquet(root)) == recs[:1]
    assert os.listdir(root) == ["p=a"]


def test_partition_by_takes_one_field_name_as_a_str(tmp_path):
    # As polars takes it: partition_by="k" is partition_by=["k"], in every writer.
    recs = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}]

    def with_writer(root):
        with memslim._memslim.ParquetWriter(root, dataset=True, partition_by="k") as w:
            w.write(DictList(recs))

    writers = (
        lambda root: DictList(recs).to_parquet(root, partition_by="k"),
        lambda root: memslim.stream(iter(recs)).to_parquet(root, partition_by="k"),
        with_writer,
    )
    for i, write in enumerate(writers):
        root = tmp_path / f"ds{i}"
        write(root)
        assert sorted(os.listdir(root)) == ["k=a", "k=b"]
        back = plain(memslim.read_parquet(root))
        assert sorted(back, key=lambda r: r["v"]) == recs
    for bad in (1, [1], ["k", None]):
        with pytest.raises(TypeError):
            DictList(recs).to_parquet(tmp_path / "bad", partition_by=bad)
