"""PNG charts of the suite's results (matplotlib, no display needed).

    python benches/charts.py benches/results/suite.json   # redraw from a saved run

Per data set: ``memory_<name>.png`` (bytes per record at the largest size the list of dicts
ran at, RSS growth beside the structure's own count, the raw payload marked),
``ratios_<name>.png`` (every figure as a ratio to the list of dicts, a heat map; n/a figures
blank) and, when several sizes ran, ``scaling_<name>.png`` (memory, row loop and JSONL
ingest peak per record against the number of records, each representation over the sizes
it ran at).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tables import BASELINE, FIGURES, SUBJECT, figure_values

MEMSLIM_COLOR = "#d95f02"
OTHER_COLOR = "#7570b3"


def _ran(results: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name, res in results.items() if "error" not in res and "skipped" not in res]


def memory_chart(name: str, rows: int, measured: dict[str, Any], path: Path) -> None:
    results = measured["results"]
    names = [n for n in _ran(results) if results[n].get("rss_bytes") is not None]
    rss = [results[n]["rss_bytes"] / rows for n in names]
    own = [(results[n].get("nbytes") or 0) / rows for n in names]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.6))
    y = list(range(len(names)))
    colors = [MEMSLIM_COLOR if n.startswith("memslim") else OTHER_COLOR for n in names]
    ax.barh([i - 0.2 for i in y], rss, height=0.4, color=colors, label="RSS growth")
    ax.barh([i + 0.2 for i in y], own, height=0.4, color=colors, alpha=0.45, label="own count")
    for i, (r, o) in enumerate(zip(rss, own)):
        ax.text(r, i - 0.2, f" {r:,.0f}", va="center", fontsize=8)
        if o:
            ax.text(o, i + 0.2, f" {o:,.0f}", va="center", fontsize=8, color="#555555")
    payload = measured["payload_bytes"] / rows
    ax.axvline(payload, color="black", linestyle="--", linewidth=1)
    ax.text(payload, len(names) - 0.4, f" raw payload {payload:.0f} B", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("bytes per record (lower is better)")
    ax.set_title(
        f"{name}: memory per record, {rows:,} records (dark: RSS growth, light: own count)"
    )
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ratios_chart(name: str, rows: int, measured: dict[str, Any], path: Path) -> None:
    values = figure_values(measured["results"], rows)
    names = [n for n in _ran(measured["results"])]
    # Own counts are not comparable across peers, a list of dicts is not built and has no
    # file on disk.
    keys = [key for key, _, _ in FIGURES if key not in ("nbytes", "build", "disk")]
    labels = {key: label for key, label, _ in FIGURES}
    grid: list[list[float]] = []
    for n in names:
        row = []
        for key in keys:
            base, value = values[key].get(BASELINE), values[key].get(n)
            ok = base and value and base > 0 and value > 0
            row.append(value / base if ok else math.nan)  # type: ignore[operator]
        grid.append(row)
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(names) + 2.8))
    finite = [v for row in grid for v in row if not math.isnan(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.1, 10.0)
    bound = max(1 / lo, hi, 2.0)
    image = ax.imshow(grid, cmap="RdYlGn_r", norm=LogNorm(1 / bound, bound), aspect="auto")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            text = (
                "—"
                if math.isnan(v)
                else (f"{v:.2g}" if v < 0.1 else f"{v:.2f}" if v < 10 else f"{v:.0f}")
            )
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(keys)), [labels[k] for k in keys], rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(
        f"{name}, {rows:,} records: each figure divided by the list of dicts' (lower is better)"
    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="ratio to list of dicts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling_chart(name: str, sizes: dict[str, Any], path: Path) -> None:
    panels = [
        ("rss_bytes", "RSS growth (bytes/record)", 1.0),
        ("row_loop_s", "row loop (ns/record)", 1e9),
        ("ingest_peak_bytes", "JSONL ingest peak RSS (bytes/record)", 1.0),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 5))
    names: list[str] = []
    for measured in sizes.values():
        names += [n for n in _ran(measured["results"]) if n not in names]
    palette = plt.get_cmap("tab20")
    # Dark shades first, then the light ones: neighbours in the legend never look alike.
    colors = {n: palette(2 * i if i < 10 else 2 * (i - 10) + 1) for i, n in enumerate(names)}
    for ax, (key, label, scale) in zip(axes, panels):
        for n in names:
            xs, ys = [], []
            for rows, measured in sizes.items():
                res = measured["results"].get(n, {})
                if res.get(key) is not None and res[key] > 0:
                    xs.append(int(rows))
                    ys.append(res[key] * scale / int(rows))
            if xs:
                style = "-o" if n.startswith("memslim") else "--."
                width = 2.2 if n == SUBJECT else 1.0
                ax.plot(xs, ys, style, label=n, linewidth=width, color=colors[n])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("records")
        ax.set_title(label, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    # One legend for every panel: some representations have only some of the figures.
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(), handles.keys(), loc="lower center", ncol=5, fontsize=8, frameon=False
    )
    fig.suptitle(f"{name}: cost per record as the data grows (log-log, lower is better)")
    fig.tight_layout(rect=(0, 0.05 + 0.03 * math.ceil(len(handles) / 5), 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_charts(report: dict[str, Any], output: Path) -> list[Path]:
    written = []
    for name, entry in report["datasets"].items():
        sizes = entry["sizes"]
        if not sizes:
            continue
        # The largest size the baseline ran at (at 10M it may not fit): ratios need it.
        with_base = [s for s in sizes if BASELINE in _ran(sizes[s]["results"])] or list(sizes)
        largest = max(with_base, key=int)
        measured, rows = sizes[largest], int(largest)
        if _ran(measured["results"]):
            for kind, draw in (("memory", memory_chart), ("ratios", ratios_chart)):
                path = output / f"{kind}_{name}.png"
                draw(name, rows, measured, path)
                written.append(path)
        if len(sizes) > 1:
            path = output / f"scaling_{name}.png"
            scaling_chart(name, sizes, path)
            written.append(path)
    return written


if __name__ == "__main__":
    source = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results" / "suite.json"
    )
    report = json.loads(source.read_text(encoding="utf-8"))
    for written in write_charts(report, source.parent):
        print(f"wrote {written}")
