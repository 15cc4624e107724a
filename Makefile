# memslim developer commands.  A fresh clone needs only Rust and Python 3.11:
#
#   make demo     build memslim into ./.venv and run the main demo
#   make test     everything CI runs: format, lints, Rust tests, examples, Python tests
#   make bench    criterion benches, then the Python peer comparison at full size
#
# `make help` lists every target.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3.11
VENV := .venv
VENV_PY := $(VENV)/bin/python
PY_DIRS := python-bindings examples benches tools

# Every cargo invocation sees the same interpreter, so pyo3's build script is not re-run
# because the environment changed between `maturin develop` and `cargo clippy`.
export PYO3_PYTHON := $(CURDIR)/$(VENV_PY)

# Stamps live inside the venv: deleting the venv forgets them too.
DEPS_STAMP := $(VENV)/.deps.stamp
BUILD_STAMP := $(VENV)/.memslim-build.stamp
BUILD_INPUTS := Cargo.toml Cargo.lock python-bindings/pyproject.toml \
	$(shell find crates python-bindings/src python-bindings/Cargo.toml \
		-type f \( -name '*.rs' -o -name Cargo.toml \) 2>/dev/null)

# `maturin develop` installs the extension next to the Python sources (an editable install);
# if it is gone, rebuild whatever the stamp says.
ifeq ($(wildcard python-bindings/python/memslim/_memslim*.so),)
$(BUILD_STAMP): FORCE
endif

.PHONY: help setup develop demo test test-rust examples-rust test-python valgrind lint fmt bench \
	bench-quick clean distclean FORCE

help:
	@echo "make demo         build memslim into ./.venv (release) and run examples/python/demo.py"
	@echo "make test         cargo fmt --check, clippy, cargo test, Rust examples, ruff, pytest"
	@echo "make bench        criterion benches, benches/bench_records.py (1M records), the"
	@echo "                  comparison suite (benches/suite.py), deep_sizeof and soak benches,"
	@echo "                  the streaming readers (bench_stream.py), DocList (bench_docs.py)"
	@echo "                  and JSON out (bench_json.py)"
	@echo "make bench-quick  every Python benchmark on a tiny input (a smoke run)"
	@echo "make setup        ./.venv with pinned dev tools and a release build of memslim"
	@echo "make develop      rebuild and reinstall memslim into ./.venv unconditionally"
	@echo "make valgrind     unsafe code paths (Rust and Python) under valgrind memcheck"
	@echo "make lint         cargo fmt --check, clippy (whole workspace), ruff check"
	@echo "make fmt          cargo fmt and ruff format"
	@echo "make clean        remove build outputs and caches (keeps ./.venv)"
	@echo "make distclean    clean, and remove ./.venv"

# -- environment ------------------------------------------------------------------------

$(VENV_PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS_STAMP): requirements-dev.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(BUILD_STAMP): $(DEPS_STAMP) $(BUILD_INPUTS)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --release \
		-m python-bindings/Cargo.toml
	touch $@

setup: $(BUILD_STAMP)

develop: $(DEPS_STAMP)
	rm -f $(BUILD_STAMP)
	$(MAKE) --no-print-directory $(BUILD_STAMP)

# -- what a newcomer runs ---------------------------------------------------------------

demo: setup
	$(VENV_PY) examples/python/demo.py

test: setup lint test-rust examples-rust test-python valgrind

test-rust:
	cargo test

# Every example target the examples crate declares, in release mode.
examples-rust: $(DEPS_STAMP)
	examples=$$(cargo metadata --no-deps --format-version 1 | $(VENV_PY) -c \
		'import json, sys; print(*(t["name"] for p in json.load(sys.stdin)["packages"] if p["name"] == "memslim-examples" for t in p["targets"] if "example" in t["kind"]))'); \
	test -n "$$examples" || { echo "no examples found in memslim-examples" >&2; exit 1; }; \
	for example in $$examples; do \
		echo "==> cargo run --release -p memslim-examples --example $$example"; \
		cargo run --release -p memslim-examples --example "$$example"; \
	done

test-python: setup
	cd python-bindings && $(CURDIR)/$(VENV_PY) -m mypy.stubtest memslim._memslim
	cd python-bindings && $(CURDIR)/$(VENV)/bin/pytest -q

# Code paths with `unsafe` (zero-copy Arrow export/import, the GIL cell, tracemalloc)
# under valgrind memcheck.
valgrind: setup
	bash tools/valgrind.sh

lint: $(DEPS_STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check $(PY_DIRS)

fmt: $(DEPS_STAMP)
	cargo fmt --all
	$(VENV)/bin/ruff format $(PY_DIRS)

# -- benchmarks -------------------------------------------------------------------------

bench: setup
	cargo bench -p memslim-benches
	$(VENV_PY) benches/bench_records.py
	$(VENV_PY) benches/suite.py
	$(VENV_PY) benches/bench_sizeof.py --output benches/results/sizeof.json
	$(VENV_PY) benches/soak.py --output benches/results/soak.json
	$(VENV_PY) benches/bench_stream.py
	$(VENV_PY) benches/bench_docs.py
	$(VENV_PY) benches/bench_mmap.py
	$(VENV_PY) benches/bench_json.py

bench-quick: setup
	$(VENV_PY) benches/bench_records.py --quick
	$(VENV_PY) benches/suite.py --quick
	$(VENV_PY) benches/bench_stream.py --quick
	$(VENV_PY) benches/bench_docs.py --quick
	$(VENV_PY) benches/bench_mmap.py --quick
	$(VENV_PY) benches/bench_json.py --quick

# -- cleaning ---------------------------------------------------------------------------

clean:
	cargo clean
	rm -f $(BUILD_STAMP) python-bindings/python/memslim/_memslim*.so
	rm -rf .pytest_cache .ruff_cache python-bindings/.pytest_cache python-bindings/.hypothesis \
		.hypothesis benches/results/tmp
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

FORCE:
