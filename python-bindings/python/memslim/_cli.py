"""python -m memslim: report a data file; audit or watch a script; read a watch log."""

from __future__ import annotations

import argparse
import builtins
import sys
import threading
import traceback
import types
from pathlib import Path
from typing import Any, Self

from memslim import _report
from memslim._audit import AuditReport, audit, option_error, rss_bytes
from memslim._report import _size
from memslim.exceptions import InvalidValueError


def run_script(argv: list[str]) -> int:
    """Run ``argv[0]`` as ``python argv[0] argv[1:]`` would, in this process: as module
    ``__main__`` (kept in ``sys.modules`` afterwards so an audit names its globals
    ``__main__.NAME``), with ``sys.argv`` and ``sys.path[0]`` set as Python sets them.
    Returns the exit code the script would have given."""
    path = Path(argv[0])
    code = compile(path.read_bytes(), str(path), "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": str(path), "__builtins__": builtins, "__cached__": None})
    sys.modules["__main__"] = main
    sys.argv = [str(path), *argv[1:]]
    sys.path[0] = str(path.resolve().parent)
    try:
        exec(code, main.__dict__)  # noqa: S102 -- running the user's script is the point
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except Exception:  # noqa: BLE001 -- as python does: print the script's error, exit 1
        traceback.print_exc()
        return 1
    return 0


class PeakAudit:
    """Audits from a background thread each time the RSS passes ``step`` times the RSS of
    the last audit, or levels off at a new high; keeps the report taken at the highest
    RSS (the memory of a freed container often stays in the process, so the RSS at exit
    says nothing about the data alive then)."""

    def __init__(self, interval: float, step: float, options: dict[str, Any]) -> None:
        self.interval, self.step, self.options = interval, step, options
        self.report: AuditReport | None = None
        self.audited_rss = 0
        self.peak = rss_bytes() or 0
        self.audits = 0
        self._threshold = self.peak * step
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memslim-peak-audit", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = 0
        while not self._stop.wait(self.interval):
            rss = rss_bytes() or 0
            self.peak = max(self.peak, rss)
            # Audit on passing the next threshold, and when the RSS stops rising at a high
            # not audited yet (the data of that moment is most likely still alive).
            levelled = last >= rss > self.audited_rss * 1.05 and rss >= self.peak * 0.98
            if rss >= self._threshold or levelled:
                self.take()
            last = rss

    def take(self) -> None:
        report = audit(**self.options)
        self.audits += 1
        rss = report.rss_bytes or 0
        if rss >= self.audited_rss:
            self.report, self.audited_rss = report, rss
        self._threshold = max(rss, self.peak) * self.step


def _audit_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """audit()'s options from the command line, checked before the script runs (a bad
    value is a usage error, not a traceback after the whole run)."""
    if args.size_sample is not None and args.size_sample < 0:
        parser.error("--size-sample must be 0 (all records) or a positive number")
    options = {
        "min_records": args.min_records,
        "sample": args.sample,
        "size_sample": args.size_sample or None,
        "max_objects": args.max_objects,
        "time_budget": args.time_budget,
        "top": args.top,
    }
    error = option_error(**options)
    if error is not None:
        name, rest = error.split(" ", 1)
        parser.error(f"--{name.replace('_', '-')} {rest}")
    if args.at == "peak" and not args.interval > 0:
        parser.error("--interval must be a positive number of seconds")
    if args.at == "peak" and not args.step >= 1:
        parser.error("--step must be 1 or more")
    return options


def _emit(report: AuditReport, args: argparse.Namespace, head: str) -> int:
    print(f"\n{head}\n{report}", file=sys.stderr)
    try:
        if args.json is not None:
            report.to_json(args.json)
            print(f"wrote {args.json}", file=sys.stderr)
        if args.plot is not None:
            report.plot(args.plot)
            print(f"wrote {args.plot}", file=sys.stderr)
    except (OSError, ImportError) as exc:
        print(f"memslim audit: {exc}", file=sys.stderr)
        return 1
    return 0


def _script(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    script = args.script[1:] if args.script[:1] == ["--"] else args.script
    if not script:
        parser.error("name the script to run after --, e.g. -- my_job.py --its-args")
    if not Path(script[0]).is_file():
        parser.error(f"no such script: {script[0]}")
    return script


def _run_audit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    options = _audit_options(args, parser)
    script = _script(args, parser)
    if args.at == "peak":
        with PeakAudit(args.interval, args.step, options) as peak:
            code = run_script(script)
        if peak.report is None:
            peak.take()  # the run never grew: audit at exit
        assert peak.report is not None
        head = (
            f"memslim audit of {script[0]} at its peak: audited at RSS "
            f"{_size(peak.audited_rss)} (peak RSS seen {_size(peak.peak)}, "
            f"{peak.audits} audits taken)"
        )
        status = _emit(peak.report, args, head)
    else:
        code = run_script(script)
        status = _emit(audit(**options), args, f"memslim audit of {script[0]} at exit")
    return code or status


def _run_watch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from memslim._watch import Watch, WatchLog

    script = _script(args, parser)
    try:
        w = Watch(
            args.out,
            args.interval,
            max_overhead=args.max_overhead,
            audit_on_growth=not args.no_audit,
            warmup=args.warmup,
            audit_step=args.audit_step,
        )
    except InvalidValueError as exc:
        name, rest = str(exc).split(" ", 1)
        parser.error(f"--{name.replace('_', '-')} {rest}")
    try:
        w.start()  # opens the log before the script runs
    except OSError as exc:
        parser.error(f"--out: cannot write the log: {exc}")
    with w:
        code = run_script(script)
    log = WatchLog.read(args.out)
    print(
        f"\nmemslim watch: {len(log.samples)} samples in {args.out}; "
        f"verdict: {log.verdict().text()}",
        file=sys.stderr,
    )
    return code


def _run_watch_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from memslim._watch import WatchLog

    try:
        log = WatchLog.read(args.log)
        print(log.summary())
        if args.plot is not None:
            log.plot(args.plot, title=args.title)
            print(f"\nwrote {args.plot}")
    except (OSError, ValueError, ImportError) as exc:
        print(f"memslim watch-report: {exc}", file=sys.stderr)
        return 1
    return 0


def _add_audit(commands: Any) -> None:
    cmd = commands.add_parser(
        "audit",
        help="run a script and audit it at exit (or at its peak): containers of records",
        description="Run SCRIPT as `python SCRIPT ARGS` would, then print memslim.audit()'s "
        "table to stderr: the containers of records it holds, where they live, and what they "
        "would cost as memslim structures.",
    )
    cmd.add_argument("--at", choices=("exit", "peak"), default="exit")
    cmd.add_argument("--interval", type=float, default=0.5, help="--at peak: RSS check period")
    cmd.add_argument(
        "--step", type=float, default=1.25, help="--at peak: audit again at this RSS factor"
    )
    cmd.add_argument("--json", type=Path, help="write the report as JSON here")
    cmd.add_argument("--plot", type=Path, help="write a PNG chart of the findings here")
    cmd.add_argument("--min-records", type=int, default=1_000)
    cmd.add_argument("--sample", type=int, default=100_000, help="records built per finding")
    cmd.add_argument(
        "--size-sample",
        type=int,
        default=100_000,
        help="records deep-sized per container (0: all of them)",
    )
    cmd.add_argument("--max-objects", type=int, help="gc-tracked objects scanned at most")
    cmd.add_argument("--time-budget", type=float, default=60.0, help="seconds")
    cmd.add_argument("--top", type=int, default=20)
    cmd.add_argument("script", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS...]")
    cmd.set_defaults(run=_run_audit)


def _add_watch(commands: Any) -> None:
    cmd = commands.add_parser(
        "watch",
        help="run a script, sampling its memory into a JSON Lines log",
    )
    cmd.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    cmd.add_argument("--out", type=Path, default=Path("memslim-watch.jsonl"))
    cmd.add_argument("--max-overhead", type=float, default=0.02, help="for per-type counts")
    cmd.add_argument("--no-audit", action="store_true", help="no audit when growth is seen")
    cmd.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of start-up growth to ignore"
    )
    cmd.add_argument(
        "--audit-step", type=float, default=1.25, help="audit again at this RSS growth factor"
    )
    cmd.add_argument("script", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS...]")
    cmd.set_defaults(run=_run_watch)
    rep = commands.add_parser(
        "watch-report", help="verdict (steady, growing, sawtooth) and chart of a watch log"
    )
    rep.add_argument("log", type=Path)
    rep.add_argument("--plot", type=Path, help="write a PNG chart of RSS over time here")
    rep.add_argument("--title", help="the chart's title (default: file name and verdict)")
    rep.set_defaults(run=_run_watch_report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memslim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _report.add_command(commands)
    _add_audit(commands)
    _add_watch(commands)
    args = parser.parse_args(argv)
    return int(args.run(args, parser))
