"""memslim.watch(): a background thread logs memory samples; assess() tells a planted leak
from a steady loop; ``python -m memslim watch`` / ``watch-report`` write the log and chart."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import memslim
import pytest
from memslim._watch import WatchLog, assess

MIB = 1 << 20


def series(values_mib: list[float], step: float = 1.0) -> tuple[list[float], list[int]]:
    return [i * step for i in range(len(values_mib))], [round(v * MIB) for v in values_mib]


def test_assess_steady_growing_sawtooth_and_release():
    flat = [100 + (i % 3) * 0.5 for i in range(40)]
    assert assess(*series(flat)).kind == "steady"

    leak = [100 + max(0, i - 10) * 2.0 for i in range(40)]  # 2 MiB/s from t=10
    v = assess(*series(leak))
    assert v.kind == "growing"
    assert v.rate == pytest.approx(2 * MIB, rel=0.1)
    assert 8 <= v.since <= 11

    saw = [100 + (i % 10) * 5.0 for i in range(60)]  # fills to 145, drops to 100, again
    v = assess(*series(saw))
    assert v.kind == "sawtooth" and v.drops == 5

    rising_saw = [100 + (i % 10) * 5.0 + i * 1.0 for i in range(60)]  # troughs rise too
    assert assess(*series(rising_saw)).kind == "growing"

    # Loaded once, then serving: a step, not a leak.
    step = [100.0] * 5 + [300.0] * 45
    assert assess(*series(step)).kind == "steady"

    # A run that builds its data and frees it as it ends: growing, then released.
    build = [100 + i * 5.0 for i in range(30)] + [120.0] * 3
    v = assess(*series(build))
    assert v.kind == "growing" and v.released == round((245 - 120) * MIB)

    assert assess(*series([100.0] * 3)).kind == "too short"


def read_events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# The watch tests run in a fresh process: RSS is what they judge, and a test process that
# has already freed hundreds of MB would absorb a planted leak without growing.
LEAK = """
import sys, time
import memslim

def main():
    leak = []
    options = {"audit_options": {"min_records": 500}, "warmup": 0.0}
    with memslim.watch(sys.argv[1], interval=0.02, **options) as w:
        for i in range(60):
            leak.extend({"id": i * 4000 + j, "name": f"n{j}", "v": float(j)} for j in range(4000))
            time.sleep(0.01)
        deadline = time.monotonic() + 5
        while w.audit_report is None and time.monotonic() < deadline:
            time.sleep(0.02)

main()
"""

# Each work() call allocates and frees about 0.5 MB, well under the verdict's 4 MiB noise floor:
# with a batch near that floor, samples that happen to catch the batch alive (more likely
# on a loaded host, where fewer samples are taken) made the troughs look like they rose.
STEADY = """
import sys, time
import memslim

def work():
    batch = [{"id": j, "name": f"n{j}"} for j in range(2_000)]
    return len(batch)

work()  # the allocator's pools are filled once, before the watch starts
w = memslim.watch(sys.argv[1], interval=0.02, warmup=0.0)
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    work()
w.stop()
w.stop()  # idempotent
"""


def run_watched(tmp_path, script: str, name: str) -> WatchLog:
    out = tmp_path / f"{name}.jsonl"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, timeout=120)
    return WatchLog.read(out)


def test_watch_flags_a_planted_leak_and_audits_it(tmp_path):
    log = run_watched(tmp_path, LEAK, "leak")
    verdict = log.verdict()
    assert verdict.kind == "growing", verdict
    assert verdict.rate > 0
    assert log.stop is not None and log.stop["samples"] == len(log.samples)
    assert "types" in log.samples[0]
    assert any(name == "builtins.dict" for name, _, _ in log.type_growth())
    assert 1 <= len(log.audits) <= 4
    finding = log.audits[0]["report"]["findings"][0]
    assert finding["location"].endswith("local 'leak'")
    assert finding["structure"] == "DictList"
    summary = log.summary()
    assert "verdict: growing" in summary and "local 'leak'" in summary
    assert all(s["watch_cpu"] >= 0 for s in log.samples)


def test_watch_leaves_a_steady_loop_alone(tmp_path):
    log = run_watched(tmp_path, STEADY, "steady")
    assert len(log.samples) >= 10
    assert log.verdict().kind == "steady"
    assert log.audits == []


def test_watch_rejects_a_bad_interval(tmp_path):
    with pytest.raises(ValueError, match="interval"):
        memslim.watch(tmp_path / "x.jsonl", interval=0)


def test_a_log_cut_short_by_a_killed_process_is_read(tmp_path):
    path = tmp_path / "cut.jsonl"
    good = [{"event": "sample", "t": float(i), "rss": 100 * MIB} for i in range(8)]
    path.write_text("".join(json.dumps(r) + "\n" for r in good) + '{"event": "sam')
    log = WatchLog.read(path)
    assert len(log.samples) == 8 and log.verdict().kind == "steady"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1"):
        WatchLog.read(bad)


def test_plot_needs_matplotlib_and_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"event": "sample", "t": 0.0, "rss": MIB}) + "\n")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'memslim\[plot\]'"):
        WatchLog.read(path).plot(tmp_path / "x.png")


def test_cli_watch_then_watch_report_writes_the_chart(tmp_path):
    pytest.importorskip("matplotlib")
    script = tmp_path / "grow.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            KEEP = []
            for i in range(40):
                KEEP.extend({"id": j, "s": "x%d" % j} for j in range(5000))
                time.sleep(0.01)
            print("kept", len(KEEP))
            """
        )
    )
    out, png = tmp_path / "mem.jsonl", tmp_path / "mem.png"
    run = [sys.executable, "-m", "memslim"]
    proc = subprocess.run(
        [
            *run,
            "watch",
            "--interval",
            "0.02",
            "--warmup",
            "0",
            "--out",
            str(out),
            "--",
            str(script),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kept 200000" in proc.stdout
    assert "verdict: growing" in proc.stderr
    events = read_events(out)
    assert events[0]["event"] == "start" and events[-1]["event"] == "stop"
    proc = subprocess.run(
        [*run, "watch-report", str(out), "--plot", str(png)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "verdict: growing" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "options",
    [{"interval": float("nan")}, {"max_overhead": 0}, {"audit_step": 0.5}, {"warmup": -1}],
)
def test_watch_rejects_other_bad_options(tmp_path, options):
    (name,) = options
    with pytest.raises(memslim.InvalidValueError, match=name):
        memslim.watch(tmp_path / "x.jsonl", **options)
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "0"], "--interval must be a positive number"),
        (["--max-overhead", "0"], "--max-overhead must be"),
        (["--out", "{tmp}/no/such/dir/w.jsonl"], "--out: cannot write the log"),
    ],
)
def test_cli_watch_bad_options_are_usage_errors_before_the_script_runs(
    tmp_path, capsys, args, message
):
    from memslim._cli import main

    script = tmp_path / "job.py"
    script.write_text("raise SystemExit('the script must not run')\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "w.jsonl")]
    with pytest.raises(SystemExit) as exc:
        main(["watch", *args, "--", str(script)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "must not run" not in err


GOOD_SAMPLE = '{"event": "sample", "t": 0, "rss": 1000}\n'


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("3\n", 1, "a JSON int, not an object"),
        ('["sample"]\n', 1, "a JSON list"),
        ('{"event": "sample", "rss": 1000}\n', 1, 'needs a number "t"'),
        (GOOD_SAMPLE + '{"event": "sample", "t": 1, "rss": "abc"}\n', 2, '"rss" must be'),
        (GOOD_SAMPLE + '{"event": "sample", "t": 1, "rss": 1, "types": [1]}\n', 2, '"types"'),
        (GOOD_SAMPLE + '{"event": "audit", "t": 1.0}\n', 2, '"report" is not an audit report'),
        (GOOD_SAMPLE + '{"event": "audit", "t": 1.0, "report": {"findings": 5}}\n', 2, "report"),
        (
            GOOD_SAMPLE
            + '{"event": "audit", "t": 1, "report": {"findings": [{"location": "x"}]}}\n',
            2,
            "report",
        ),
    ],
)
def test_json_lines_that_are_not_watch_records_name_the_line(tmp_path, capsys, text, line, why):
    from memslim._cli import main

    path = tmp_path / "log.jsonl"
    path.write_text(text)
    with pytest.raises(memslim.ParseError, match=f"line {line} is not a watch record") as exc:
        WatchLog.read(path)
    assert why in str(exc.value) and exc.value.line == line
    assert main(["watch-report", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"line {line} is not a watch record" in err and "Traceback" not in err
