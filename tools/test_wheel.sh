#!/usr/bin/env bash
# The Python test suite against the built wheel, installed into a fresh virtual environment
# whose PATH has no cargo or rustc: what `pip install memslim` gives a user.
#
#   bash tools/test_wheel.sh [dist/memslim-*.whl] [pytest args...]
#
# The venv gets the pinned test dependencies from requirements-dev.txt (without the build
# and lint tools; pip takes them from its cache or PyPI), then the wheel with --no-deps.
# The tests are copied out of the source tree, beside links to benches/ and examples/ (the
# tests run those scripts), so `import memslim` can only find the installed package.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3.11}

wheel=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$wheel" ]; then
	wheel=$(ls -t "$ROOT"/dist/memslim-*.whl 2>/dev/null | head -n 1 || true)
fi
[ -f "$wheel" ] || { echo "no wheel: run make dist first" >&2; exit 1; }
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")

work=$(mktemp -d "${TMPDIR:-/tmp}/memslim-wheel-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
venv=$work/venv
echo "==> fresh venv in $venv for $(basename "$wheel")"
"$PYTHON" -m venv "$venv"
grep -v -E '^(maturin|ruff|mypy|ziglang|auditwheel|zizmor)([=<>~ ]|$)' "$ROOT/requirements-dev.txt" \
	>"$work/requirements-test.txt"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$work/requirements-test.txt"
"$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps "$wheel"

mkdir -p "$work/src/python-bindings"
cp -r "$ROOT/python-bindings/tests" "$work/src/python-bindings/tests"
cp "$ROOT/python-bindings/pyproject.toml" "$work/src/python-bindings/"
ln -s "$ROOT/benches" "$work/src/benches"
ln -s "$ROOT/examples" "$work/src/examples"
ln -s "$ROOT/tools" "$work/src/tools"

cd "$work/src/python-bindings"
# Only the venv and the system's own directories on PATH: no ~/.cargo/bin, no pyenv shims.
clean_path="$venv/bin:/usr/local/bin:/usr/bin:/bin"
for tool in cargo rustc; do
	if PATH=$clean_path command -v "$tool" >/dev/null; then
		echo "$tool is on the clean PATH ($(PATH=$clean_path command -v "$tool")): cannot test without Rust" >&2
		exit 1
	fi
done
export PATH=$clean_path VIRTUAL_ENV=$venv
unset PYTHONPATH PYO3_PYTHON
python - "$venv" <<'PY'
import sys
import memslim

where = memslim.__file__
assert where.startswith(sys.argv[1]), f"memslim imported from {where}, not the fresh venv"
print(f"==> memslim {memslim.__version__} from {where}")
PY
python -m pytest -q -p no:cacheprovider "$@"
