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


def best_of(values: dict[str, float]) -> tuple[str, float] | None:
    ran = [(v, name) for name, v in values.items() if v > 0]
    if not ran:
        return None
    value, name = min(ran)
    return name, value


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base or base <= 0 or value <= 0:
        return "—"
    r = value / base
    if r < 0.1:
        return f"{r:.2g}x"
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def size_tables(results: dict[str, dict[str, Any]], rows: int, payload: int) -> str:
    values = figure_values(results, rows)
    names = list(results)
    head = ["representation", *(label for _, label, _ in FIGURES), "RSS / raw payload"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name in names:
        res = results[name]
        if "error" in res or "skipped" in res:
            why = res.get("skipped") or "failed (see the log)"
            lines.append(f"| {name} | {why.splitlines()[0]} |" + " |" * (len(head) - 2))
            continue
        cells = [_number(values[key].get(name)) for key, _, _ in FIGURES]
        rss = res.get("rss_bytes")
        cells.append(_ratio(rss, payload) if rss else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    lines += ["", "Ratio to the list of dicts (below 1x: less memory or time):", ""]
    head = ["representation", *(label for _, label, _ in FIGURES)]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name in names:
        if name not in values["row_loop"] and name not in values["rss"]:
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
        best = best_of(values[key])
        best_cells.append(f"{best[0]}" if best else "—")
        subject = values[key].get(SUBJECT)
        subject_cells.append(_ratio(subject, best[1]) if best else "—")
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
                size_tables(measured["results"], int(rows), payload),
            ]
            for problem in measured["mismatches"]:
                out += ["", f"MISMATCH: {problem}"]
    return "\n".join(out)
