"""Copies the benchmark tables of the README and the docs from the result files the
benchmarks write.

Each table a page quotes sits between ``<!-- bench: PATH -->`` and ``<!-- /bench -->``,
where PATH (relative to the repository root, whichever page holds the block) is a
markdown file a benchmark regenerates (``benches/results/records.md``, ``rows.md``,
``pickle.md``, ``identity.md``, ``json.md``...). The block gets the file's title (its
``# `` line, in bold: it names the data set and its size) and every markdown table in the
file, or only the tables named by ``tables=N[,M...]`` (counted from 1), as in
``<!-- bench: benches/results/json.md tables=2 -->``; so no number on a page is pasted
by hand. The pages are ``README.md`` and every ``docs/*.md`` that has a block.
``--check`` (run by ``make lint``) exits 1 if any block differs from its file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(
    r"(<!-- bench: (?P<path>\S+)(?: tables=(?P<tables>\d+(?:,\d+)*))? -->\n)"
    r"(?P<body>.*?)(<!-- /bench -->)",
    re.DOTALL,
)
MARK = "<!-- bench: "


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


def quote_of(markdown: str, which: list[int] | None = None) -> str:
    """A page's copy of a result file: its title in bold, then each of its tables (or the
    tables numbered ``which``, from 1)."""
    tables = tables_of(markdown)
    if not tables:
        raise ValueError("no markdown table found")
    if which is not None:
        if any(not 1 <= i <= len(tables) for i in which):
            raise ValueError(f"tables={which}: the file has {len(tables)} table(s)")
        tables = [tables[i - 1] for i in which]
    parts = [
        f"**{line[2:].strip()}**\n" for line in markdown.splitlines()[:1] if line.startswith("# ")
    ]
    return "\n".join(parts + tables)


def synced(readme: str, root: Path = ROOT) -> str:
    """``readme`` (any page) with every ``bench`` block replaced by the quote of its file."""
    if BLOCK.search(readme) is None:
        raise ValueError("README.md has no <!-- bench: PATH --> ... <!-- /bench --> block")

    def body(match: re.Match[str]) -> str:
        which = [int(i) for i in match["tables"].split(",")] if match["tables"] else None
        quote = quote_of((root / match["path"]).read_text(encoding="utf-8"), which)
        return match.group(1) + quote + match.group(5)

    return BLOCK.sub(body, readme)


def pages(root: Path = ROOT) -> list[Path]:
    """The pages to keep in sync: the README, and every ``docs/*.md`` with a block."""
    docs = sorted(p for p in (root / "docs").glob("*.md") if MARK in p.read_text(encoding="utf-8"))
    return [root / "README.md", *docs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        current = page.read_text(encoding="utf-8")
        wanted = synced(current)
        if current == wanted:
            continue
        name = page.relative_to(ROOT).as_posix()
        if args.check:
            stale.append(name)
            continue
        page.write_text(wanted, encoding="utf-8")
        print(f"updated {name}")
    if stale:
        print(
            f"benchmark tables in {', '.join(stale)} differ from their sources: "
            "run python tools/sync_readme.py"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
