"""Copies the README's headline table from the benchmark result file it quotes.

The README quotes one table, between ``<!-- headline: PATH -->`` and ``<!-- /headline -->``,
from a markdown file that a benchmark regenerates (``benches/results/records.md``), so the
numbers on the front page are never pasted by hand. ``--check`` (run by ``make lint``)
exits 1 if the README's copy differs from the file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(
    r"(<!-- headline: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /headline -->)", re.DOTALL
)


def table_of(markdown: str) -> str:
    """The first markdown table in ``markdown``: its consecutive lines starting with '|'."""
    lines: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    if not lines:
        raise ValueError("no markdown table found")
    return "\n".join(lines) + "\n"


def synced(readme: str) -> str:
    match = BLOCK.search(readme)
    if match is None:
        raise ValueError("README.md has no <!-- headline: PATH --> ... <!-- /headline --> block")
    table = table_of((ROOT / match["path"]).read_text(encoding="utf-8"))
    return readme[: match.start("body")] + table + readme[match.end("body") :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = synced(current)
    if current == wanted:
        return 0
    if args.check:
        print("README.md's headline table differs from its source: run python tools/sync_readme.py")
        return 1
    README.write_text(wanted, encoding="utf-8")
    print("updated README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
