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
	bench-quick clean distclean FORCE dist test-wheel lint-release stubtest fuzz

help:
	@echo "make demo         build memslim into ./.venv (release) and run examples/python/demo.py"
	@echo "make test         cargo fmt --check, clippy, cargo test, Rust examples, bounded fuzzing,"
	@echo "                  ruff, stubtest, the workflow lint, pytest against the built wheel, valgrind"
	@echo "make test-python  stubtest and pytest against the in-tree build (a quicker loop)"
	@echo "make bench        criterion benches, benches/bench_records.py (1M records), the"
	@echo "                  comparison suite (benches/suite.py), deep_sizeof and soak benches,"
	@echo "                  the streaming readers (bench_stream.py), DocList (bench_docs.py)"
	@echo "                  and JSON out (bench_json.py)"
	@echo "make bench-quick  every Python benchmark on a tiny input (a smoke run)"
	@echo "make setup        ./.venv with pinned dev tools and a release build of memslim"
	@echo "make develop      rebuild and reinstall memslim into ./.venv unconditionally"
	@echo "make valgrind     unsafe code paths (Rust and Python) under valgrind memcheck"
	@echo "make lint         cargo fmt --check, clippy (whole workspace), rustdoc links, ruff check"
	@echo "make fmt          cargo fmt and ruff format"
	@echo "make fuzz         the fuzz targets (JSONL, CSV, gzip/zstd, the record-file opener, pickled"
	@echo "                  DictList/DocList state, Parquet files), bounded"
	@echo "make dist         dist/: an abi3 manylinux_2_28 wheel (via zig) and an sdist; prints"
	@echo "                  auditwheel's verdict, the wheel's size and import time"
	@echo "make test-wheel   the Python tests against a wheel of the release build, installed into"
	@echo "                  a fresh venv without Rust (make dist builds the manylinux_2_28 one)"
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

# The Python suite runs once, against the installed wheel (test-wheel), not the in-tree build;
# `make test-python` runs it in-tree.
test: setup lint test-rust examples-rust fuzz stubtest test-wheel valgrind

test-rust:
	cargo test

# Every example target the examples crate declares. Built in the dev profile with the
# default members' features, exactly as `cargo test` (test-rust) already compiled them, so
# this target compiles nothing after test-rust; a release build here recompiled arrow and
# the crates (their features differ from the bindings') for about 4 minutes on 2 cores,
# to save about 15 seconds of running time.
examples-rust: $(DEPS_STAMP)
	examples=$$(cargo metadata --no-deps --format-version 1 | $(VENV_PY) -c \
		'import json, sys; print(*(t["name"] for p in json.load(sys.stdin)["packages"] if p["name"] == "memslim-examples" for t in p["targets"] if "example" in t["kind"]))'); \
	test -n "$$examples" || { echo "no examples found in memslim-examples" >&2; exit 1; }; \
	cargo build --examples; \
	bin=$$(cargo metadata --no-deps --format-version 1 | $(VENV_PY) -c \
		'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples; \
	for example in $$examples; do \
		echo "==> $$bin/$$example"; \
		"$$bin/$$example"; \
	done

# The hand-written stub against the compiled module.
stubtest: setup
	cd python-bindings && $(CURDIR)/$(VENV_PY) -m mypy.stubtest memslim._memslim

test-python: stubtest
	cd python-bindings && $(CURDIR)/$(VENV)/bin/pytest -q

# Code paths with `unsafe` (zero-copy Arrow export/import, the GIL cell, tracemalloc)
# under valgrind memcheck.
valgrind: setup
	bash tools/valgrind.sh

lint: $(DEPS_STAMP) lint-release
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The crates' API docs as docs.rs builds them: no broken or private links.
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
	$(VENV)/bin/ruff check $(PY_DIRS)

# The release workflow (zizmor, offline: schema validation and security audits) and the README's
# headline table against the benchmark result file it quotes.
lint-release: $(DEPS_STAMP)
	$(VENV)/bin/zizmor --offline --no-progress --strict-collection .github/workflows
	$(VENV_PY) tools/sync_readme.py --check

fmt: $(DEPS_STAMP)
	cargo fmt --all
	$(VENV)/bin/ruff format $(PY_DIRS)

# -- fuzzing ---------------------------------------------------------------------------

# The libFuzzer targets of the readers and the record-file opener (fuzz/), built on the
# stable toolchain with coverage
# instrumentation (cargo-fuzz would need nightly for its sanitizer flag), then run a fixed
# number of inputs from a fixed seed: bounded and repeatable. FUZZ_RUNS=-1 with
# FUZZ_SECONDS=N runs each target for N seconds instead. New corpus entries go to
# fuzz/corpus/ (ignored); a crash leaves its input in fuzz/artifacts/.
# Inputs per target: the opener writes and reopens a file per input, so it gets fewer.
# Every run first replays the committed seeds (fuzz/seeds/) and any corpus kept from
# earlier runs, then mutates from the fixed seed: 20,000 inputs take at most 8 seconds per
# reader target (measured: 60,000 took 24, 21 and 6 s), a bounded budget for make test;
# the build of the instrumented targets (about 5 minutes on 2 cores) is the real cost.
# Longer campaigns: FUZZ_RUNS=-1 FUZZ_SECONDS=600 make fuzz.
FUZZ_TARGETS = jsonl:$(FUZZ_RUNS) csv:$(FUZZ_RUNS) compressed:$(FUZZ_RUNS) \
	record_file_open:$(FUZZ_FILE_RUNS) record_bytes:$(FUZZ_RUNS) doc_bytes:$(FUZZ_RUNS) \
	parquet_read:$(FUZZ_FILE_RUNS)
FUZZ_RUNS ?= 20000
FUZZ_FILE_RUNS ?= 1000
FUZZ_SECONDS ?= 0
FUZZ_HOST := $(shell rustc -vV | sed -n 's/^host: //p')
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
	-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
	--cfg fuzzing -Cdebug-assertions -Coverflow-checks

fuzz:
	cd fuzz && RUSTFLAGS="$(FUZZ_RUSTFLAGS)" nice -n 10 cargo build --release --locked \
		--target $(FUZZ_HOST) --bins
	for tr in $(FUZZ_TARGETS); do \
		t=$${tr%%:*}; runs=$${tr##*:}; \
		mkdir -p fuzz/corpus/$$t fuzz/artifacts/$$t; \
		echo "==> fuzz $$t ($$runs inputs)"; \
		fuzz/target/$(FUZZ_HOST)/release/$$t -seed=1 -runs=$$runs \
			-max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=2048 -timeout=20 \
			-artifact_prefix=fuzz/artifacts/$$t/ -print_final_stats=1 \
			fuzz/corpus/$$t fuzz/seeds/$$t; \
	done

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
	$(VENV_PY) benches/bench_audit.py
	$(VENV_PY) benches/bench_pickle.py
	$(VENV_PY) benches/bench_pickle.py --dataset flights
	$(VENV_PY) benches/bench_rows.py
	$(VENV_PY) benches/bench_rows.py --dataset flights
	$(VENV_PY) benches/bench_parquet.py
	$(VENV_PY) benches/bench_json.py
	$(VENV_PY) benches/bench_identity.py
	$(VENV_PY) benches/bench_identity.py --dataset flights
	$(VENV_PY) benches/bench_identity.py --instructions
	$(VENV_PY) benches/bench_identity.py --instructions --dataset flights

bench-quick: setup
	$(VENV_PY) benches/bench_records.py --quick
	$(VENV_PY) benches/suite.py --quick
	$(VENV_PY) benches/bench_stream.py --quick
	$(VENV_PY) benches/bench_docs.py --quick
	$(VENV_PY) benches/bench_mmap.py --quick
	$(VENV_PY) benches/bench_audit.py --quick
	$(VENV_PY) benches/bench_pickle.py --quick
	$(VENV_PY) benches/bench_rows.py --quick
	$(VENV_PY) benches/bench_parquet.py --quick
	$(VENV_PY) benches/bench_json.py --quick
	$(VENV_PY) benches/bench_identity.py --quick

# -- release artefacts ------------------------------------------------------------------

# An abi3 wheel for CPython >= 3.11 linked by zig against glibc 2.28 (manylinux_2_28, no
# container needed) and an sdist, both into dist/. zig comes from the `ziglang` wheel in
# the venv, which maturin finds through the venv's python on PATH.
dist: $(DEPS_STAMP)
	rm -rf dist
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/maturin build --release --zig \
		--compatibility manylinux_2_28 -m python-bindings/Cargo.toml -o dist
	$(VENV)/bin/maturin sdist -m python-bindings/Cargo.toml -o dist
	$(VENV)/bin/auditwheel show dist/memslim-*.whl
	$(VENV_PY) tools/dist_info.py dist

# Builds a wheel from the release build `make setup` compiled (same target directory,
# profile and features, so nothing is compiled again; `make dist`'s zig build would compile
# every dependency a second time), shows auditwheel's verdict on it, installs it into a
# fresh venv whose PATH has no cargo or rustc and runs the Python test suite against it
# (tools/test_wheel.sh). The manylinux_2_28 wheel itself is `make dist`'s job and the
# release workflow's, which runs the same test_wheel.sh on it.
TEST_WHEEL_DIR := target/test-wheel
test-wheel: setup
	rm -rf $(TEST_WHEEL_DIR)
	$(VENV)/bin/maturin build --release -m python-bindings/Cargo.toml -o $(TEST_WHEEL_DIR)
	$(VENV)/bin/auditwheel show $(TEST_WHEEL_DIR)/memslim-*.whl
	bash tools/test_wheel.sh $(TEST_WHEEL_DIR)/memslim-*.whl

# -- cleaning ---------------------------------------------------------------------------

clean:
	cargo clean
	rm -rf dist
	rm -f $(BUILD_STAMP) python-bindings/python/memslim/_memslim*.so
	rm -rf .pytest_cache .ruff_cache python-bindings/.pytest_cache python-bindings/.hypothesis \
		.hypothesis benches/results/tmp
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

FORCE:
