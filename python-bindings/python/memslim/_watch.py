"""``memslim.watch()``: sample a process's memory from a background thread into a JSON Lines
log, and ``assess()`` the log: steady, growing (how fast, since when, which types) or sawtooth.

Each sample costs a few system calls and counters (RSS from ``/proc/self/statm``, Python's
allocated blocks, ``memslim.stats()``, garbage-collector counts). Counting objects per type
walks every gc-tracked object, so it is done only when the time spent counting stays under
``max_overhead`` of the time elapsed (its cost is measured each time). The watcher's own
CPU time is logged with every sample, so the overhead is a number in the log, not a guess.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import itertools
import json
import os
import statistics
import sys
import textwrap
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Self

from memslim._audit import AuditReport, audit, rss_bytes
from memslim._memslim import __version__, stats
from memslim._report import _size, pyplot
from memslim.exceptions import ConcurrentUseError, InvalidValueError, ParseError

_MIB = 1 << 20


def _type_counts(top: int, chunk: int = 50_000) -> dict[str, int]:
    """Objects per type: every gc-tracked object, plus the untracked objects they refer
    to directly (CPython stops tracking dicts and tuples that hold only atoms, so a list of
    flat records would otherwise show no growth), each counted once per container holding
    it. The ``top`` most numerous, by ``module.qualname``."""
    objs = gc.get_objects()
    counts = Counter(map(type, objs))
    for i in range(0, len(objs), chunk):
        refs = gc.get_referents(*objs[i : i + chunk])
        counts.update(map(type, itertools.filterfalse(gc.is_tracked, refs)))
        del refs
    del objs
    return {f"{t.__module__}.{t.__qualname__}": n for t, n in counts.most_common(top)}


class Watch:
    """A background thread writing one JSON line per ``interval`` seconds to ``out``.

    Lines: ``{"event": "start", ...}``, then ``{"event": "sample", "t", "rss", "py_blocks",
    "memslim_bytes", "memslim_structures", "gc_count", "gc_collections", "watch_cpu",
    ["traced"], ["types"]}``, ``{"event": "audit", "t", "reason", "report"}`` when growth is
    first detected and again each time the RSS has grown ``audit_step`` times since,
    ``max_audits`` at most
    (``audit_on_growth``), and ``{"event": "stop", ...}``. ``types`` (the
    ``top_types`` most numerous types and their counts, see ``_type_counts``) is logged at the first and the last
    sample and in between whenever counting keeps the watcher's cost under
    ``max_overhead``.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        interval: float = 5.0,
        *,
        max_overhead: float = 0.02,
        top_types: int = 30,
        audit_on_growth: bool = True,
        max_audits: int = 4,
        audit_step: float = 1.25,
        warmup: float = 3.0,
        audit_options: dict[str, Any] | None = None,
    ) -> None:
        if not interval > 0:
            raise InvalidValueError("interval must be a positive number of seconds")
        if not max_overhead > 0:
            raise InvalidValueError("max_overhead must be a positive share of the time")
        if not audit_step >= 1:
            raise InvalidValueError("audit_step must be 1 or more (an RSS growth factor)")
        if not warmup >= 0:
            raise InvalidValueError("warmup must be 0 or more seconds")
        self.path = Path(out)
        self.interval = interval
        self.max_overhead = max_overhead
        self.top_types = top_types
        self.audit_on_growth = audit_on_growth
        self.max_audits = max_audits
        self.audit_step = audit_step
        self.warmup = warmup
        self.audits = 0
        self._audited_rss = 0
        # Audits while the program runs: deep sizes from a sample bound their time and
        # memory (the program's peak RSS would otherwise include a full audit's).
        self.audit_options = {"size_sample": 20_000, "sample": 20_000, **(audit_options or {})}
        self.audit_report: AuditReport | None = None
        self.cpu = 0.0  # watcher thread CPU seconds, sampling and type counts
        self.audit_cpu = 0.0
        self.samples = 0
        self._times: list[float] = []
        self._rss: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._start = 0.0
        self._next_types = 0.0
        self._lock = threading.Lock()

    def start(self) -> Self:
        if self._thread is not None:
            raise ConcurrentUseError("this watch is already running")
        self._file = self.path.open("w", encoding="utf-8")
        self._start = time.monotonic()
        self._write(
            {
                "event": "start",
                "pid": os.getpid(),
                "argv": sys.argv,
                "interval": self.interval,
                "python": sys.version.split()[0],
                "memslim": __version__,
                "time": time.time(),
            }
        )
        self._sample()  # the baseline, before the first interval
        self._thread = threading.Thread(target=self._run, name="memslim-watch", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Take a last sample, write the stop line and close the log (idempotent)."""
        with self._lock:
            if self._file is None:
                return
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            if self._file is None:
                return
            self._sample(count_types=True)  # the last count, for growth per type
            wall = time.monotonic() - self._start
            self._write(
                {
                    "event": "stop",
                    "t": round(wall, 3),
                    "samples": self.samples,
                    "watch_cpu": round(self.cpu, 4),
                    "audit_cpu": round(self.audit_cpu, 4),
                    "overhead": round(self.cpu / wall, 5) if wall else 0.0,
                }
            )
            self._file.close()
            self._file = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._file is None:
                    return
                self._sample()
                self._maybe_audit()

    def _sample(self, count_types: bool = False) -> None:
        cpu0 = time.thread_time()
        now = time.monotonic() - self._start
        st = stats()
        record: dict[str, Any] = {
            "event": "sample",
            "t": round(now, 3),
            "rss": rss_bytes(),
            "py_blocks": sys.getallocatedblocks(),
            "memslim_bytes": st["structure_bytes"],
            "memslim_structures": st["structures"],
            "gc_count": list(gc.get_count()),
            "gc_collections": [g["collections"] for g in gc.get_stats()],
        }
        if tracemalloc.is_tracing():
            record["traced"] = tracemalloc.get_traced_memory()[0]
        if now >= self._next_types or count_types:
            start = time.perf_counter()
            record["types"] = _type_counts(self.top_types)
            cost = time.perf_counter() - start
            # Next count when counting will have cost at most max_overhead of the time.
            self._next_types = now + max(self.interval, cost / self.max_overhead)
        self.cpu += time.thread_time() - cpu0
        record["watch_cpu"] = round(self.cpu, 4)
        self.samples += 1
        if record["rss"] is not None:
            self._times.append(now)
            self._rss.append(record["rss"])
        self._write(record)

    def _maybe_audit(self) -> None:
        if not self.audit_on_growth or self.audits >= self.max_audits:
            return
        if self.audits and self._rss[-1] < self.audit_step * self._audited_rss:
            return  # audit again only once the RSS has grown audit_step times since
        # Growth during the first seconds is a program starting up (imports, pools,
        # first batches), not a leak: judge only what came after.
        first = next((i for i, t in enumerate(self._times) if t >= self.warmup), len(self._times))
        if len(self._times) - first < 8:
            return
        # Twice the usual noise: an audit allocates, and a false alarm would feed itself.
        rss = self._rss[first:]
        noise = 2 * max(4 * _MIB, round(0.03 * statistics.median(rss)))
        verdict = assess(self._times[first:], rss, noise=noise)
        if verdict.kind != "growing" or verdict.released:
            return  # not growing, or the data is already gone
        self._sample(count_types=True)  # the types at the moment growth was seen
        cpu0, began = time.thread_time(), time.monotonic() - self._start
        report = audit(**self.audit_options)
        self.audit_cpu += time.thread_time() - cpu0
        self.audit_report = report
        self.audits += 1
        self._audited_rss = report.rss_bytes or self._rss[-1]
        self._write(
            {
                "event": "audit",
                "t": round(began, 3),  # when the audit began (its snapshot of objects)
                "seconds": round(report.seconds, 3),
                "reason": verdict.text(),
                "report": report.to_dict(),
            }
        )


def watch(
    out: str | os.PathLike[str] = "memslim-watch.jsonl",
    interval: float = 5.0,
    **options: Any,
) -> Watch:
    """Start sampling this process's memory every ``interval`` seconds into ``out`` (JSON
    Lines) from a background thread; returns the running :class:`Watch` (``.stop()`` it, or
    use it as a context manager; it also stops at interpreter exit). Options:
    ``max_overhead`` (share of time the per-type object counts may cost, default 0.02),
    ``top_types``, ``audit_on_growth`` (run :func:`memslim.audit` when the RSS is first seen
    growing and log it, and again each time it grows ``audit_step`` (1.25) times; default
    True; growth in the first ``warmup`` seconds, default 3, is start-up and ignored),
    ``max_audits`` (default 4), ``audit_options`` (passed to audit; ``sample`` and ``size_sample`` default to 20,000
    there).
    ``python -m memslim watch-report out`` reads the log."""
    return Watch(out, interval, **options).start()


# -- reading a log --------------------------------------------------------------------------


@dataclasses.dataclass
class Verdict:
    """What an RSS series did: ``kind`` is ``steady``, ``growing``, ``sawtooth`` or
    ``too short``."""

    kind: str
    rate: float = 0.0  # bytes per second while growing
    since: float = 0.0  # when the growth began, on the series' clock (seconds)
    start: int = 0
    peak: int = 0
    end: int = 0
    drops: int = 0  # falls larger than the noise
    released: int = 0  # bytes given back after the peak at the end of the run
    duration: float = 0.0

    def text(self) -> str:
        if self.kind == "too short":
            return "too short to judge (fewer than 6 samples)"
        if self.kind == "growing":
            out = (
                f"growing: {self.rate / _MIB:.2f} MiB/s since t={self.since:.1f}s "
                f"(RSS {_size(self.start)} -> {_size(self.peak)})"
            )
        elif self.kind == "sawtooth":
            out = (
                f"sawtooth: {self.drops} drops, RSS between the troughs and "
                f"{_size(self.peak)}, no upward trend"
            )
        else:
            out = f"steady: RSS {_size(self.start)} -> {_size(self.end)} (peak {_size(self.peak)})"
        if self.released:
            out += f"; {_size(self.released)} released at the end of the run"
        return out


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    if len(xs) < 2 or xs[-1] == xs[0]:
        return 0.0
    return statistics.linear_regression(xs, ys).slope


def assess(times: Sequence[float], rss: Sequence[int], *, noise: int | None = None) -> Verdict:
    """Judge an RSS series. ``noise`` (bytes) is the change that counts as movement: by
    default the larger of 4 MiB and 3% of the median RSS.

    The troughs of the series (the minimum of each of up to 8 equal segments) decide: a
    series whose troughs rise by more than the noise, overall and over its second half, is
    *growing*; one that falls sharply at least twice without rising troughs is *sawtooth*;
    anything else is *steady*. A fall below the peak level that lasts to the end and takes
    at most the last 30% of the time (a run freeing its data as it ends) is reported as
    released and left out of the judgement.
    """
    n = len(rss)
    if n < 6:
        return Verdict("too short", duration=times[-1] - times[0] if n else 0.0)
    if noise is None:
        noise = max(4 * _MIB, round(0.03 * statistics.median(rss)))
    peak_at = max(range(n), key=rss.__getitem__)
    verdict = Verdict(
        "steady",
        start=rss[0],
        peak=rss[peak_at],
        end=rss[-1],
        duration=times[-1] - times[0],
    )
    rs, ts = list(rss), list(times)
    # The run's end: the last sample at the peak level, then only lower ones (data freed
    # as the program finishes) in the last 30% of the time.
    last_high = max(i for i in range(n) if rss[i] >= rss[peak_at] - noise / 2)
    tail = times[-1] - times[last_high]
    freed = all(r < rss[peak_at] - noise for r in rss[last_high + 1 :])
    if last_high < n - 1 and tail <= 0.3 * (times[-1] - times[0]) and freed:
        verdict.released = rss[peak_at] - rss[-1]
        rs, ts = rs[: last_high + 1], ts[: last_high + 1]
    m = len(rs)
    span = max(rs) - min(rs)
    drop = max(noise, span // 4)
    verdict.drops = sum(1 for a, b in itertools.pairwise(rs) if a - b > drop)
    if span <= noise:
        return verdict
    k = max(2, min(8, m // 3))
    bounds = [round(i * m / k) for i in range(k + 1)]
    lows = [min(rs[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    rising = sum(1 for a, b in itertools.pairwise(lows) if b >= a - noise / 2) / max(
        1, len(lows) - 1
    )
    half = lows[len(lows) // 2 - 1] if len(lows) > 2 else lows[0]
    if lows[-1] - lows[0] > noise and rising >= 0.75 and lows[-1] - half > noise / 2:
        verdict.kind = "growing"
        base = lows[0] + noise / 2
        since = 0
        for i, value in enumerate(rs):
            if value <= base:
                since = i
        since = min(since, m - 2)
        verdict.since = ts[since]
        verdict.rate = _slope(ts[since:], rs[since:])
        return verdict
    if verdict.drops >= 2:
        verdict.kind = "sawtooth"
    return verdict


_SAMPLE_NUMBERS = ("py_blocks", "memslim_bytes", "memslim_structures", "traced", "watch_cpu")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _record_problem(record: Any) -> str | None:
    """Why a JSON value read from a watch log is not a record the report can use, or None.

    Lines with another or no ``event`` are ignored (a later version may add events); the
    fields the report reads must have their types."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    event = record.get("event")
    if event == "sample":
        if not _is_number(record.get("t")):
            return 'a sample needs a number "t"'
        if record.get("rss") is not None and not _is_number(record["rss"]):
            return f'a sample\'s "rss" must be a number or null, got {record["rss"]!r}'
        for key in _SAMPLE_NUMBERS:
            if key in record and not _is_number(record[key]):
                return f'a sample\'s "{key}" must be a number, got {record[key]!r}'
        types = record.get("types")
        if types is not None and not (
            isinstance(types, dict) and all(_is_number(n) for n in types.values())
        ):
            return 'a sample\'s "types" must map type names to counts'
    elif event == "audit":
        if not _is_number(record.get("t")):
            return 'an audit needs a number "t"'
        if not isinstance(record.get("reason", ""), str):
            return 'an audit\'s "reason" must be a string'
        try:
            str(AuditReport.from_dict(record["report"]))  # what summary() and plot() show
        except Exception as exc:  # noqa: BLE001 -- any malformed report is the log's fault
            what = f"{type(exc).__name__}: {exc}" if "report" in record else "it is missing"
            return f'an audit\'s "report" is not an audit report ({what})'
    elif event == "stop" and not _is_number(record.get("audit_cpu", 0)):
        return 'the stop line\'s "audit_cpu" must be a number'
    return None


@dataclasses.dataclass
class WatchLog:
    """A watch log read back: samples, the audit logged (if any), the start and stop lines."""

    path: Path
    start: dict[str, Any]
    samples: list[dict[str, Any]]
    audits: list[dict[str, Any]]
    stop: dict[str, Any] | None

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> WatchLog:
        start: dict[str, Any] = {}
        samples, audits = [], []
        stop = None
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    if number > 1 and not line.endswith("\n"):
                        break  # a last line cut short by a killed process
                    err = ParseError(f"{path}: line {number} is not JSON: {exc}")
                    err.path, err.line, err.column = os.fspath(path), number, exc.colno
                    raise err from exc
                problem = _record_problem(record)
                if problem is not None:
                    err = ParseError(f"{path}: line {number} is not a watch record: {problem}")
                    err.path, err.line, err.column = os.fspath(path), number, 1
                    raise err
                event = record.get("event")
                if event == "start":
                    start = record
                elif event == "sample":
                    samples.append(record)
                elif event == "audit":
                    audits.append(record)
                elif event == "stop":
                    stop = record
        return cls(Path(path), start, samples, audits, stop)

    def series(self) -> tuple[list[float], list[int]]:
        pairs = [(s["t"], s["rss"]) for s in self.samples if s.get("rss") is not None]
        return [t for t, _ in pairs], [r for _, r in pairs]

    def verdict(self) -> Verdict:
        return assess(*self.series())

    def type_growth(self, top: int = 5) -> list[tuple[str, int, int]]:
        """(type, first count, count at the highest RSS) for the types that grew most
        between the first per-type count and the one taken at the highest RSS (a type
        absent from the first count's top list counts from 0)."""
        counted = [s for s in self.samples if "types" in s]
        if len(counted) < 2:
            return []
        first = counted[0]["types"]
        last = max(counted[1:], key=lambda s: s.get("rss") or 0)["types"]
        grown = [(name, first.get(name, 0), n) for name, n in last.items()]
        grown = [g for g in grown if g[2] > g[1]]
        grown.sort(key=lambda g: g[2] - g[1], reverse=True)
        return grown[:top]

    def overhead(self) -> float | None:
        """Watcher CPU time / wall time (sampling and type counts; audits apart)."""
        if not self.samples:
            return None
        last = self.samples[-1]
        wall = last["t"]
        return last.get("watch_cpu", 0.0) / wall if wall else None

    def summary(self) -> str:
        _times, _rss = self.series()
        verdict = self.verdict()
        lines = [f"{self.path}: {len(self.samples)} samples over {verdict.duration:.1f} s"]
        lines.append(f"verdict: {verdict.text()}")
        grown = self.type_growth()
        if grown and verdict.kind == "growing":
            lines.append("types that grew (object counts, first count -> at the highest RSS):")
            lines.extend(f"  {name:<40}{a:>12,} -> {b:,}" for name, a, b in grown)
        if self.samples:
            most = max(s.get("memslim_structures", 0) for s in self.samples)
            held = max(s.get("memslim_bytes", 0) for s in self.samples)
            lines.append(f"memslim structures: at most {most} at a time, holding {_size(held)}")
        for record in self.audits:
            report = AuditReport.from_dict(record["report"])
            lines.append(f"\naudit at t={record['t']:.1f}s ({record.get('reason', 'no reason')}):")
            lines.append(report.table(limit=5) if report.findings else "  nothing found")
        overhead = self.overhead()
        if overhead is not None:
            stop = self.stop or {}
            lines.append(
                f"\nwatch overhead: {overhead:.2%} of one core (sampling and type counts)"
                + (f", audits {stop['audit_cpu']:.2f} s" if stop.get("audit_cpu") else "")
            )
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str], title: str | None = None) -> None:
        """RSS over time with memslim's bytes, the growth line and the audit marked."""
        plt = pyplot()
        times, rss = self.series()
        verdict = self.verdict()
        fig, ax = plt.subplots(figsize=(8, 3.6))
        # Dots mark the samples: a gap between them is time the watcher spent auditing.
        ax.plot(
            times, [r / 1e6 for r in rss], color="#d95f02", marker=".", markersize=3, label="RSS"
        )
        traced = [(s["t"], s["traced"]) for s in self.samples if "traced" in s]
        if traced:
            ax.plot(*zip(*[(t, b / 1e6) for t, b in traced]), color="#7570b3", label="traced")
        mem = [(s["t"], s.get("memslim_bytes", 0) / 1e6) for s in self.samples]
        if any(b for _, b in mem):
            ax.plot(*zip(*mem), color="#1b9e77", label="memslim structures")
        if verdict.kind == "growing":
            ax.axvline(verdict.since, color="#999999", linestyle=":", linewidth=1)
        for record in self.audits:
            ax.axvline(record["t"], color="#e7298a", linestyle="--", linewidth=1)
        if self.audits:
            record = self.audits[-1]
            findings = AuditReport.from_dict(record["report"]).findings
            if findings:
                f = findings[0]
                where = f.location if len(f.location) <= 72 else f.location[:69] + "..."
                note = (
                    f"audit at t={record['t']:.1f}s (dashed): {where}\n"
                    f"{f.records:,} {f.record_kind} records, {_size(f.bytes)} now -> "
                    f"{f.structure} {'~' if f.scaled else ''}"
                    f"{_size(f.memslim_bytes)} ({f.saves:.0%} less)"
                )
                ax.text(
                    0.01,
                    0.97,
                    note,
                    transform=ax.transAxes,
                    va="top",
                    fontsize=7.5,
                    color="#e7298a",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
                )
        ax.set_xlabel("seconds")
        ax.set_ylabel("MB")
        ax.set_ylim(bottom=0)
        ax.set_ylim(top=max(rss) / 1e6 * 1.3 if rss else None)
        ax.legend(fontsize=8, loc="upper right")
        heading = title or self.path.name
        ax.set_title(f"{heading}\n{textwrap.fill(verdict.text(), 100)}", fontsize=8.5)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
