"""memslim.audit(): planted containers of records are found, named where they live, and their
predicted memslim size is within 25% of the real structure built from all their records.

``python -m memslim audit -- script.py`` runs a script unchanged and writes JSON and a PNG.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import subprocess
import sys
import textwrap
import types
from collections import namedtuple
from pathlib import Path

import memslim
import pytest
from conftest import BadSizeof, NegativeSizeof
from memslim._audit import AuditReport, Finding

Point = namedtuple("Point", "x y label")


@dataclasses.dataclass
class Order:
    id: int
    customer: str
    price: float


class Tick:
    __slots__ = ("price", "ts")

    def __init__(self, ts: int, price: float) -> None:
        self.ts, self.price = ts, price


class Shop:
    def __init__(self, n: int) -> None:
        self.history = [(i, f"sku{i % 97}", i * 0.25) for i in range(n)]


def order_dicts(n: int) -> list[dict[str, object]]:
    return [
        {"id": i, "customer": f"customer {i % 300}", "price": i * 1.5, "note": None}
        for i in range(n)
    ]


@pytest.fixture
def planted():
    """A module with a global list of dicts and a dict cache, an instance attribute holding
    tuples, a closure over namedtuples; removed afterwards."""
    mod = types.ModuleType("planted_shop")
    mod.ORDERS = order_dicts(4_000)
    mod.CACHE = {f"user{i}": {"id": i, "name": f"n{i}", "score": i % 7} for i in range(2_500)}
    mod.SHOP = Shop(3_000)

    def make_reader():
        points = [Point(i, i * 2, f"p{i % 10}") for i in range(2_000)]

        def reader():
            return points

        return reader

    mod.READER = make_reader()
    sys.modules["planted_shop"] = mod
    try:
        yield mod
    finally:
        del sys.modules["planted_shop"]


def by_location(report: AuditReport) -> dict[str, Finding]:
    return {f.location: f for f in report.findings}


def close(predicted: int, real: int) -> bool:
    return abs(predicted - real) <= 0.25 * real


@pytest.mark.parametrize("sample", [100_000, 1_000])
def test_finds_planted_containers_where_they_live(planted, sample):
    frame_rows = [Order(i, f"c{i % 40}", i * 0.5) for i in range(1_500)]  # a frame local
    ticks = [Tick(i, i / 3) for i in range(1_200)]
    report = memslim.audit(sample=sample, top=50)
    found = by_location(report)

    orders = found["planted_shop.ORDERS"]
    assert (orders.container, orders.records, orders.record_kind) == ("list", 4_000, "dict")
    assert orders.structure == "DictList"
    assert orders.suggestion.startswith("memslim.DictList(ORDERS)")
    assert close(orders.memslim_bytes, memslim.DictList(planted.ORDERS).nbytes)
    assert orders.bytes == memslim.deep_sizeof(planted.ORDERS)
    assert orders.scaled == (sample < 4_000)

    cache = found["planted_shop.CACHE"]
    assert (cache.container, cache.records) == ("dict values", 2_500)
    assert close(cache.memslim_bytes, memslim.DictList(planted.CACHE.values()).nbytes)

    history = found["Shop.history"]
    assert (history.records, history.record_kind, history.structure) == (
        3_000,
        "tuple",
        "TupleList",
    )
    real = memslim.TupleList(planted.SHOP.history, fields=("a", "b", "c")).nbytes
    assert close(history.memslim_bytes, real)

    closure = found["planted.<locals>.make_reader.<locals>.reader() closure 'points'"]
    assert closure.record_kind == "namedtuple Point"
    assert close(closure.memslim_bytes, memslim.TupleList(planted.READER()).nbytes)

    local = next(f for f in report.findings if f.location.endswith("local 'frame_rows'"))
    assert local.location.startswith(
        "test_finds_planted_containers_where_they_live() in test_audit.py:"
    )
    assert local.record_kind == "dataclass Order"
    assert close(local.memslim_bytes, memslim.DictList(vars(o) for o in frame_rows).nbytes)

    slots = next(f for f in report.findings if f.location.endswith("local 'ticks'"))
    assert slots.record_kind == "slots Tick"
    real = memslim.DictList({"ts": t.ts, "price": t.price} for t in ticks).nbytes
    assert close(slots.memslim_bytes, real)

    assert report.objects_scanned == report.objects_tracked > 0
    assert report.extra_bytes is not None and report.seconds > 0
    assert "planted_shop.ORDERS (list)" in str(report)


def test_containers_inside_others_are_reported_under_their_owner(planted):
    planted.BATCHES = [order_dicts(1_200) for _ in range(3)]  # three lists in one list
    planted.DAYS = [{"day": d, "orders": order_dicts(1_100)} for d in range(2)]
    found = by_location(memslim.audit(top=50))
    batches = found["planted_shop.BATCHES[*]"]
    assert (batches.objects, batches.records) == (3, 3_600)
    days = found["planted_shop.DAYS[*]['orders']"]
    assert (days.objects, days.records) == (2, 2_200)

    # The same attribute of several instances: one row.
    planted.SHOPS = {"eu": Shop(1_100), "us": Shop(1_200)}
    history = by_location(memslim.audit(top=50))["Shop.history"]
    assert (history.objects, history.records) == (3, 3_000 + 1_100 + 1_200)

    # Sixty documents each holding sixty orders: the inner lists are part of the outer
    # list's records (counted in its deep size), not findings of their own.
    planted.ARCHIVE = [{"day": d, "orders": order_dicts(60)} for d in range(60)]
    found = by_location(memslim.audit(min_records=50, top=50))
    assert found["planted_shop.ARCHIVE"].bytes == memslim.deep_sizeof(planted.ARCHIVE)
    assert not any("ARCHIVE[" in loc for loc in found)


def test_deques_and_sets_of_records_are_found(planted):
    from collections import deque

    planted.RECENT = deque(Point(i, -i, "q") for i in range(1_500))
    planted.SEEN = {(i, f"k{i}") for i in range(1_300)}
    found = by_location(memslim.audit(top=50))
    recent, seen = found["planted_shop.RECENT"], found["planted_shop.SEEN"]
    assert (recent.container, recent.records, recent.structure) == ("deque", 1_500, "TupleList")
    assert close(recent.memslim_bytes, memslim.TupleList(list(planted.RECENT)).nbytes)
    assert (seen.container, seen.records, seen.record_kind) == ("set", 1_300, "tuple")
    real = memslim.TupleList(list(planted.SEEN), fields=("a", "b")).nbytes
    assert close(seen.memslim_bytes, real)


def test_nested_documents_are_measured_as_doclist_too(planted):
    planted.PAGES = [
        {"url": f"/p/{i}", "body": " ".join(["lorem ipsum dolor"] * 20), "links": ["/a", "/b"]}
        for i in range(1_500)
    ]
    page = by_location(memslim.audit(top=50))["planted_shop.PAGES"]
    assert page.structure in ("DictList", "DocList")
    real = min(memslim.DictList(planted.PAGES).nbytes, memslim.DocList(planted.PAGES).nbytes)
    assert close(page.memslim_bytes, real)


def test_sparse_flat_records_are_measured_as_doclist(planted):
    # Flattened logs: each record has two of 300 keys. A DictList stores every field for
    # every record (far more than the dicts); a DocList only the keys each one has.
    planted.LOGS = [{"ts": i, f"k{i % 300}": i * 7} for i in range(3_000)]
    planted.ORDERS_AGAIN = order_dicts(3_000)  # dense: stays a DictList
    found = by_location(memslim.audit(top=50))
    logs, dense = found["planted_shop.LOGS"], found["planted_shop.ORDERS_AGAIN"]
    real_doc = memslim.DocList(planted.LOGS).nbytes
    assert real_doc < memslim.DictList(planted.LOGS).nbytes / 10
    assert (logs.structure, logs.record_kind) == ("DocList", "sparse dict")
    assert close(logs.memslim_bytes, real_doc)
    assert logs.memslim_bytes < logs.bytes
    assert (dense.structure, dense.record_kind) == ("DictList", "dict")


def test_small_containers_and_non_records_are_ignored(planted):
    planted.NAMES = [f"name {i}" for i in range(5_000)]  # strings are not records
    planted.FEW = order_dicts(10)
    found = by_location(memslim.audit(top=50))
    assert "planted_shop.NAMES" not in found
    assert "planted_shop.FEW" not in found


def test_bounds_are_honoured_and_reported(planted):
    report = memslim.audit(max_objects=50)
    assert report.objects_scanned == 50 < report.objects_tracked
    assert any("max_objects" in note for note in report.notes)


def test_report_round_trips_through_json(planted, tmp_path):
    report = memslim.audit()
    path = tmp_path / "audit.json"
    text = report.to_json(path)
    assert json.loads(path.read_text()) == json.loads(text)
    again = AuditReport.from_dict(json.loads(text))
    assert again.findings == report.findings


def test_plot_needs_matplotlib_and_names_the_extra(planted, tmp_path, monkeypatch):
    report = memslim.audit()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'memslim\[plot\]'"):
        report.plot(tmp_path / "x.png")


SCRIPT = textwrap.dedent(
    """
    import sys
    ROWS = [{"id": i, "name": "n%d" % (i % 50), "price": i * 0.5} for i in range(3000)]
    total = sum(r["price"] for r in ROWS)
    print("total", total, sys.argv[1:])
    """
)


def test_cli_audits_a_script_at_exit_and_writes_json_and_png(tmp_path):
    pytest.importorskip("matplotlib")
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    out, png = tmp_path / "audit.json", tmp_path / "audit.png"
    cmd = [sys.executable, "-m", "memslim", "audit", "--json", str(out), "--plot", str(png)]
    proc = subprocess.run(
        [*cmd, "--", str(script), "--its", "args"], capture_output=True, text=True, check=True
    )
    # The script ran as itself: its output and arguments unchanged.
    assert "total 2249250.0 ['--its', 'args']" in proc.stdout
    data = json.loads(out.read_text())
    finding = next(f for f in data["findings"] if f["location"] == "__main__.ROWS")
    assert finding["records"] == 3_000 and finding["structure"] == "DictList"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "__main__.ROWS (list)" in proc.stderr


def test_cli_at_peak_sees_what_was_freed_before_exit(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            def work():
                rows = []
                for i in range(50_000):
                    rows.append({"id": i, "name": "n%d" % i, "v": [i]})
                time.sleep(1.5)  # the peak: longer than an audit takes
                return len(rows)
            print("done", work())
            """
        )
    )
    out = tmp_path / "peak.json"
    cmd = [
        sys.executable,
        "-m",
        "memslim",
        "audit",
        "--at",
        "peak",
        "--interval",
        "0.05",
        "--step",
        "10",
    ]
    proc = subprocess.run(
        [*cmd, "--json", str(out), "--", str(script)], capture_output=True, text=True, check=True
    )
    assert "done 50000" in proc.stdout
    data = json.loads(out.read_text())
    rows = [f for f in data["findings"] if f["location"].endswith("local 'rows'")]
    assert rows, data["findings"]
    assert rows[0]["records"] == 50_000


def test_cli_exit_code_is_the_scripts(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import sys\nsys.exit(3)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "memslim", "audit", "--", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert Path(script).exists()


def test_bench_audit_quick(tmp_path):
    """The benchmark runs end to end on a tiny input, so it never rots."""
    root = Path(__file__).resolve().parents[2]
    output = tmp_path / "audit.json"
    proc = subprocess.run(
        [sys.executable, "benches/bench_audit.py", "--quick", "--output", str(output)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert "| exact |" in proc.stdout and "| 0.1 s |" in proc.stdout
    report = json.loads(output.read_text())
    locations = {f["location"] for f in report["audit"]["exact"]["findings"]}
    assert {"__main__.ORDERS", "Desk.trades"} <= locations
    assert output.with_suffix(".md").exists()


@pytest.mark.parametrize(
    "options",
    [
        {"min_records": 0},
        {"sample": 0},
        {"sample": -5},
        {"size_sample": 0},
        {"size_sample": -1},
        {"max_objects": -1},
        {"top": -1},
        {"max_depth": -1},
        {"time_budget": 0},
    ],
)
def test_options_out_of_range_raise_invalid_value_error_naming_the_option(options):
    (name,) = options
    with pytest.raises(memslim.InvalidValueError, match=f"audit\\(\\): {name} must be"):
        memslim.audit(**options)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-records", "0"], "--min-records must be a positive integer"),
        (["--sample", "0"], "--sample must be a positive integer"),
        (["--size-sample", "-1"], "--size-sample must be 0 (all records)"),
        (["--top", "-3"], "--top must be a positive integer"),
        (["--at", "peak", "--interval", "0"], "--interval must be a positive number"),
    ],
)
def test_cli_bad_options_are_usage_errors_before_the_script_runs(tmp_path, capsys, args, message):
    from memslim._cli import main

    script = tmp_path / "job.py"
    script.write_text("raise SystemExit('the script must not run')\n")
    with pytest.raises(SystemExit) as exc:
        main(["audit", *args, "--", str(script)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "must not run" not in err


class SlotsGetattr:
    __slots__ = ("a",)

    def __init__(self, a: int) -> None:
        self.a = a

    def __getattr__(self, name: str) -> object:
        raise KeyError(name)


class Proxy:
    def __init__(self, a: int) -> None:
        object.__setattr__(self, "_a", a)

    def __getattribute__(self, name: str) -> object:
        raise ValueError("proxy has no " + name)


class LazyDict(dict):
    def __iter__(self):
        raise RuntimeError("not loaded")


def plant(data: object):
    mod = types.ModuleType("planted_odd")
    mod.DATA = data
    sys.modules["planted_odd"] = mod
    return mod


@pytest.mark.parametrize(
    ("make", "found", "note"),
    [
        (lambda i: {"id": i, "o": BadSizeof() if i == 0 else None}, True, "BadSizeof (1)"),
        (lambda i: {"id": i, "o": NegativeSizeof() if i == 0 else None}, True, "NegativeSizeof"),
        (SlotsGetattr, True, None),
        (Proxy, False, "no attributes of Proxy could be read"),
        (lambda i: LazyDict(a=i), True, None),
    ],
)
def test_odd_objects_give_a_report_that_says_what_it_could_not_size(make, found, note):
    plant([make(i) for i in range(2_000)])
    try:
        report = memslim.audit(min_records=1_000)
    finally:
        del sys.modules["planted_odd"]
    finding = by_location(report).get("planted_odd.DATA")
    assert (finding is not None) == found, str(report)
    if finding is not None:
        assert finding.records == 2_000 and finding.bytes > 0
    if note is not None:
        assert any(note in line for line in report.notes), report.notes
    str(report)  # the table renders


class Plain:
    def __init__(self, i: int) -> None:
        self.id = i
        self.country = ("DE", "FR")[i % 2]
        self.price = i * 0.25


class Holder:
    def __init__(self, rows: list[object]) -> None:
        self.rows = rows


def no_instance_dict(objs: list[object]) -> bool:
    """No object has a dict of its own among its referents (its attributes are inline)."""
    return not any(type(r) is dict for o in objs for r in gc.get_referents(o))


@pytest.mark.parametrize("kind", ["dataclass", "plain"])
def test_the_audit_leaves_the_instances_it_reads_as_they_were(kind):
    # Only the holder's attribute names the list (a local would name it first).
    if kind == "dataclass":
        holder = Holder([Order(i, f"c{i % 7}", i * 0.5) for i in range(5_000)])
    else:
        holder = Holder([Plain(i) for i in range(5_000)])
    plant(holder)
    try:
        before = memslim.deep_sizeof(holder)
        report = memslim.audit(min_records=1_000, sample=2_000)
        after = memslim.deep_sizeof(holder)
    finally:
        del sys.modules["planted_odd"]
    assert after == before
    rows = holder.rows
    if (3, 11) <= sys.version_info[:2] < (3, 13):
        assert no_instance_dict([*rows, holder])
    finding = by_location(report)["Holder.rows"]
    assert finding.records == 5_000 and finding.structure == "DictList"
    fields = ["id", "customer", "price"] if kind == "dataclass" else ["id", "country", "price"]
    real = memslim.DictList({f: getattr(o, f) for f in fields} for o in rows).nbytes
    assert close(finding.memslim_bytes, real)


def test_attributes_set_outside_the_class_are_reported_as_unread():
    rows = [Plain(i) for i in range(2_000)]
    for r in rows:
        r.extra = "x"  # set here, not in Plain's code: its name is unknown to the audit
    plant(rows)
    try:
        report = memslim.audit(min_records=1_000)
    finally:
        del sys.modules["planted_odd"]
    assert "planted_odd.DATA" in by_location(report)
    assert any("not set in their class's own code" in line for line in report.notes)
