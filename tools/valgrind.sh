#!/usr/bin/env bash
# Runs the code paths that contain `unsafe` under valgrind memcheck:
#   1. the Rust tests of zero-copy Arrow export (memslim-records, arrow.rs) and of its
#      copy-on-write borrows (cow.rs), of the
#      arenas (memslim-arena, arena.rs) and of memslim-mmap (map.rs: read maps,
#      per-message maps shared with Arrow buffers, writable maps that grow, text
#      checked once per batch),
#   2. a Python workload through the bindings (gilcell.rs, tracemalloc.rs, plain_records.rs,
#      fast_slots.rs, os_memory.rs, the Arrow stream import in arrow_stream.rs, the
#      buffer protocol in mmap_ffi.rs, memslim-records' prefetch hint in hint.rs).
# Any invalid read/write or use of uninitialized memory fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

VG=(valgrind --quiet --error-exitcode=97 --track-origins=no)

# The test binaries of the default members, built once with the features `cargo test`
# resolves for the whole workspace: what `make test-rust` just compiled, so nothing is
# compiled again (`cargo test -p <crate>` would resolve other features and rebuild arrow).
artifacts=$(cargo test --no-run --message-format=json 2>/dev/null)
# test_bin PACKAGE TARGET: the executable of the test target TARGET (`lib` for the unit
# tests) of PACKAGE.
test_bin() {
  python3 -c 'import json, sys
pkg, target = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    # path+file:///…/memslim-records#0.1.0, or …/dir#name@0.1.0 when they differ
    where, _, frag = m["package_id"].rpartition("#")
    name = frag.rsplit("@", 1)[0] if "@" in frag else where.rstrip("/").rsplit("/", 1)[-1]
    if name == pkg and (t["name"] == target if target != "lib" else "lib" in t["kind"]):
        print(m["executable"])
        break
else:
    sys.exit(f"no test binary for {pkg} {target}")' "$1" "$2" <<<"$artifacts"
}

# rust_tests PACKAGE CASES TARGET...: each test binary TARGET of PACKAGE (`lib` for the
# unit tests) under memcheck, definitely lost blocks failing too, on one thread, with
# PROPTEST_CASES=CASES (empty: the tests' own) and the libtest arguments in $SKIP. The
# loop that reads damaged data behind resealed checksums damages every 7th byte
# (MEMSLIM_DAMAGE_STRIDE; every byte took minutes).
rust_tests() {
  local pkg=$1 cases=$2 target bin
  shift 2
  for target in "$@"; do
    bin=$(test_bin "$pkg" "$target")
    # shellcheck disable=SC2086 # $SKIP is a list of arguments
    env ${cases:+PROPTEST_CASES=$cases} MEMSLIM_DAMAGE_STRIDE=7 "${VG[@]}" \
      --leak-check=full --errors-for-leak-kinds=definite "$bin" --test-threads=1 -q ${SKIP:-}
  done
}

# 1. Rust: the model tests of memslim-records (the export-related tests plus a few
# proptest cases).
rust_records() {
  rust_tests memslim-records 3 model
  # cow.rs: borrowing a shared buffer for writing without an atomic operation.
  SKIP=cow:: rust_tests memslim-records "" lib
  echo "valgrind: Rust export tests clean"
}

# 1b. Rust: memslim-arena, whose arena.rs holds its unsafe code (handles into bump chunks):
# the unit tests and the DocList model tests, a few proptest cases each.
rust_arena() {
  rust_tests memslim-arena 4 lib model
  echo "valgrind: Rust arena tests clean"
}

# 1c. memslim-mmap: every test except the byte-by-byte damage loops (thousands of reopens,
# the same code paths as the tests that do run).
rust_mmap() {
  SKIP="--skip bit_flips --skip torn_" rust_tests memslim-mmap "" record_file num_array
  # The one read interface over files, a few cases: bulk reads of text checked once per
  # batch (map.rs `MappedText`) and batches copied with their values borrowed.
  rust_tests memslim-mmap 4 read
  echo "valgrind: Rust mmap tests clean"
}

# 2. Python: CPython's own allocator confuses memcheck, so use malloc and ignore leaks.
# CPython and the dynamic loader raise known false positives at startup (int.from_bytes
# on an uninitialised buffer, ld.so's word-wise strncmp); only reports whose stack goes
# through memslim's code fail the run.
python_workload() {
  local log
  log=$(mktemp)
  PYTHONMALLOC=malloc valgrind --leak-check=no --log-file="$log" \
    .venv/bin/python tools/valgrind_py.py
  python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n==\d+== \n", text)
ours = [b for b in blocks if re.search(r"_memslim|memslim_records|memslim_arena|memslim_stream|memslim_mmap", b)
        and re.search(r"Invalid|uninitialised|Mismatched|overlap", b)]
for b in ours:
    print(b)
print(f"valgrind: {len(ours)} error report(s) in memslim code")
sys.exit(1 if ours else 0)
PY
  rm -f "$log"
  echo "valgrind: Python workload clean"
}

# valgrind runs a process on one core: two lanes of about equal length use both. Each
# lane writes its own log, shown when the lane ends; either lane failing fails the run.
lane() {
  local log=$1
  shift
  (
    set -euo pipefail
    for step in "$@"; do
      "$step"
    done
  ) >"$log" 2>&1
}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
lane "$logs/a" rust_records python_workload &
lane_a=$!
lane "$logs/b" rust_arena rust_mmap &
lane_b=$!
status=0
wait "$lane_a" || status=$?
cat "$logs/a"
wait "$lane_b" || status=$?
cat "$logs/b"
exit "$status"
