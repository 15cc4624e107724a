"""Markdown tables of the suite's results: figures, ratios to the list of dicts, best peers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BASELINE = "list of dicts"
SUBJECT = "memslim.DictList"


def _per_record(key: str) -> Callable[[dict[str, Any], int], float | None]:
    def get(res: dict[str, Any], rows: int) -> float | None:
        value = res.get(key)
        return None if value is None else value / rows

    return get


def _plain(key: str, scale: float = 1.0) -> Callable[[dict[str, Any], int], float | None]:
    def get(res: dict[str, Any], rows: int) -> float | None:
        value = res.get(key)
        return None if value is None else value * scale

    return get


#: (key, column label, how to read it from a result). Lower is better for every figure.
FIGURES: list[tuple[str, str, Callable[[dict[str, Any], int], float | None]]] = [
    ("rss", "RSS growth (B/record)", _per_record("rss_bytes")),
    ("nbytes", "own count (B/record)", _per_record("nbytes")),
    ("build", "build from dicts (ms)", _plain("build_s", 1e3)),
    ("row_loop", "row loop (ms)", _plain("row_loop_s", 1e3)),
    ("random_access", "random access (ns)", _plain("random_access_ns")),
    ("column_sum", "column sum (ms)", _plain("column_sum_s", 1e3)),
    ("filter", "filter (ms)", _plain("filter_s", 1e3)),
    ("pickle_size", "pickle (B/record)", _per_record("pickle_bytes")),
    ("pickle_dump", "pickle dump (ms)", _plain("pickle_dump_s", 1e3)),
    ("pickle_load", "pickle load (ms)", _plain("pickle_load_s", 1e3)),
    ("ingest", "JSONL ingest (ms)", _plain("ingest_s", 1e3)),
    ("ingest_peak", "JSONL ingest peak RSS (B/record)", _per_record("ingest_peak_bytes")),
    ("disk", "on disk (B/record)", _per_record("disk_bytes")),
]
LABELS = {key: label for key, label, _ in FIGURES}


def figure_values(results: dict[str, dict[str, Any]], rows: int) -> dict[str, dict[str, float]]:
    """figure key -> representation -> value, for the representations that ran."""
    out: dict[str, dict[str, float]] = {key: {} for key, _, _ in FIGURES}
    for name, res in results.items():
        if "error" in res or "skipped" in res:
            continue
        for key, _, get in FIGURES:
            value = get(res, rows)
            if value is not None:
                out[key][name] = value
    return out


def best_of(
    values: dict[str, float], exclude: frozenset[str] = frozenset()
) -> tuple[str, float] | None:
    ran = [(v, name) for name, v in values.items() if v > 0 and name not in exclude]
    if not ran:
        return None
    value, name = min(ran)
    return name, value


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base or base <= 0 or value <= 0:
        return "n/a"
    r = value / base
    if r < 0.1:
        return f"{r:.2g}x"
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def _reasons(results: dict[str, dict[str, Any]]) -> tuple[dict[tuple[str, str], int], list[str]]:
    """Footnote numbers of the n/a reasons, by (representation, figure), and the notes."""
    numbers: dict[str, int] = {}
    marks: dict[tuple[str, str], int] = {}
    for name, res in results.items():
        for key, why in (res.get("not_applicable") or {}).items():
            marks[(name, key)] = numbers.setdefault(why, len(numbers) + 1)
    return marks, [f"[{n}] {why}" for why, n in numbers.items()]


def size_tables(results: dict[str, dict[str, Any]], rows: int, payload: int) -> str:
    """The figures, then their ratios to the list of dicts and to the best peer.

    A figure a representation does not have reads n/a, with a numbered reason where the
    representation gave one; a representation not measured at all gives its reason instead.
    """
    values = figure_values(results, rows)
    names = list(results)
    marks, notes = _reasons(results)

    def na(name: str, key: str) -> str:
        mark = marks.get((name, key))
        return f"n/a [{mark}]" if mark else "n/a"

    head = ["representation", *(label for _, label, _ in FIGURES), "RSS / raw payload"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name in names:
        res = results[name]
        if "error" in res or "skipped" in res:
            why = res.get("skipped") or "failed (see the log)"
            lines.append(f"| {name} | {why.splitlines()[0]} |" + " |" * (len(head) - 2))
            continue
        cells = []
        for key, _, _ in FIGURES:
            value = values[key].get(name)
            cells.append(na(name, key) if value is None else _number(value))
        rss = res.get("rss_bytes")
        cells.append(_ratio(rss, payload) if rss else na(name, "rss"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", "n/a: " + "; ".join(notes) + "."]

    lines += ["", "Ratio to the list of dicts (below 1x: less memory or time):", ""]
    head = ["representation", *(label for _, label, _ in FIGURES)]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name in names:
        if not any(name in values[key] for key, _, _ in FIGURES):
            continue
        cells = []
        for key, _, _ in FIGURES:
            base = values[key].get(BASELINE)
            if key == "build" and name == BASELINE:
                cells.append("—")
            else:
                cells.append(_ratio(values[key].get(name), base))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    best_cells, subject_cells = [], []
    for key, _, _ in FIGURES:
        # A stream keeps nothing, a file opened keeps its records on disk: no rivals there.
        rivals_not = frozenset(n for n, r in results.items() if key in r.get("not_a_peer_for", ()))
        best = best_of(values[key], rivals_not)
        best_cells.append(f"{best[0]}" if best else "n/a")
        subject = values[key].get(SUBJECT)
        subject_cells.append(_ratio(subject, best[1]) if best else "n/a")
    lines.append("| **best peer** | " + " | ".join(best_cells) + " |")
    lines.append(f"| **{SUBJECT} / best** | " + " | ".join(subject_cells) + " |")
    return "\n".join(lines)


def markdown_report(report: dict[str, Any]) -> str:
    machine = report["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    out = [
        "# memslim comparison suite",
        "",
        (
            f"Generated by `benches/suite.py` on {report['created']} (commit "
            f"{machine.get('git_commit')}): {machine.get('cpu')}, {machine.get('cpu_count')} cores, "
            f"{machine['platform']}, CPython {machine['python']}; {packages}. Memory is RSS growth "
            "around building each structure in a fresh process, beside the structure's own byte "
            f"count; times are medians of {report['repeat']} runs; random access is per access, "
            f"over {report['random_accesses']:,} random positions."
        ),
    ]
    if report.get("quick"):
        out += ["", "**Quick run: sizes too small for the figures to mean anything.**"]
    for name, entry in report["datasets"].items():
        out += ["", f"## {name}", "", f"{entry['description']}. Source: {entry['source']}.", ""]
        figures = entry["figures"]
        out.append(
            f"Row loop: `{figures['row_loop']}`; random access: {figures['random_access']}; "
            f"column sum: {figures['column_sum']}; filter: {figures['filter']}."
        )
        if entry.get("mixed"):
            mixed = ", ".join(f"`{k}` ({v})" for k, v in entry["mixed"].items())
            out += [
                "",
                (
                    f"Fields whose type changes from record to record: {mixed}. Every "
                    "representation that runs is checked to give back as many ints among "
                    "them as the list of dicts."
                ),
            ]
        if entry["notes"]:
            out += ["", "Notes: " + "; ".join(f"{k}: {v}" for k, v in entry["notes"].items()) + "."]
        for rows, measured in entry["sizes"].items():
            payload = measured["payload_bytes"]
            out += [
                "",
                f"### {name}, {int(rows):,} records",
                "",
                (
                    f"Raw payload {payload / int(rows):.1f} B/record; JSONL file "
                    f"{measured['jsonl_bytes'] / int(rows):.1f} B/record."
                ),
                "",
            ]
            if measured.get("measured_separately"):
                out += [f"Measured in separate runs: {measured['measured_separately']}.", ""]
            out += [
                size_tables(measured["results"], int(rows), payload),
            ]
            for problem in measured["mismatches"]:
                out += ["", f"MISMATCH: {problem}"]
    return "\n".join(out)
