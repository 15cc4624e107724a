"""Prints what a user downloads and waits for: the wheel's size and `import memslim` time.

Usage: python tools/dist_info.py dist/

The wheel is unpacked into a temporary directory and imported from there by fresh
interpreters (``-S``: no site-packages, so nothing but the wheel can answer
``import memslim``); the import time is the median of 7 runs, each in a new process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

RUNS = 7
PROBE = (
    "import time; t = time.perf_counter(); import memslim; "
    "print(time.perf_counter() - t, memslim.__file__)"
)


def import_seconds(site: Path) -> tuple[float, str]:
    times, where = [], ""
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {PROBE}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
        where = out[1]
    return statistics.median(times), where


def main(argv: list[str] | None = None) -> int:
    dist = Path((argv or sys.argv[1:] or ["dist"])[0])
    wheels = sorted(dist.glob("memslim-*.whl"))
    if not wheels:
        print(f"no memslim wheel in {dist}", file=sys.stderr)
        return 1
    for path in sorted(dist.glob("memslim-*")):
        print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")
    wheel = wheels[-1]
    with tempfile.TemporaryDirectory(prefix="memslim-wheel-") as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
            unpacked = sum(info.file_size for info in zf.infolist())
        seconds, where = import_seconds(Path(tmp))
    if not where.startswith(tmp):
        print(f"import memslim found {where}, not the wheel", file=sys.stderr)
        return 1
    print(f"{wheel.name}: {unpacked / 1e6:.2f} MB installed")
    print(f"import memslim: {seconds * 1e3:.1f} ms (median of {RUNS} fresh interpreters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
