"""Copies the README's benchmark tables from the result files the benchmarks write.

Each table the README quotes sits between ``<!-- bench: PATH -->`` and ``<!-- /bench -->``,
where PATH is a markdown file a benchmark regenerates (``benches/results/records.md``,
``rows.md``, ``pickle.md``, ``identity.md``, ``json.md``...). The block gets the file's
title (its ``# `` line, in bold: it names the data set and its size) and every markdown
table in the file, so no number on the front page is pasted by hand. ``--check`` (run by
``make lint``) exits 1 if any block differs from its file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- bench: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /bench -->)", re.DOTALL)


def tables_of(markdown: str) -> list[str]:
    """Every markdown table in ``markdown``: runs of consecutive lines starting with '|'."""
    tables: list[list[str]] = []
    current: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return ["\n".join(t) + "\n" for t in tables]


def quote_of(markdown: str) -> str:
    """The README's copy of a result file: its title in bold, then each of its tables."""
    tables = tables_of(markdown)
    if not tables:
        raise ValueError("no markdown table found")
    parts = [
        f"**{line[2:].strip()}**\n" for line in markdown.splitlines()[:1] if line.startswith("# ")
    ]
    return "\n".join(parts + tables)


def synced(readme: str, root: Path = ROOT) -> str:
    """``readme`` with every ``bench`` block replaced by the quote of its file."""
    if BLOCK.search(readme) is None:
        raise ValueError("README.md has no <!-- bench: PATH --> ... <!-- /bench --> block")

    def body(match: re.Match[str]) -> str:
        quote = quote_of((root / match["path"]).read_text(encoding="utf-8"))
        return match.group(1) + quote + match.group(4)

    return BLOCK.sub(body, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = synced(current)
    if current == wanted:
        return 0
    if args.check:
        print(
            "README.md's benchmark tables differ from their sources: run python tools/sync_readme.py"
        )
        return 1
    README.write_text(wanted, encoding="utf-8")
    print("updated README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
