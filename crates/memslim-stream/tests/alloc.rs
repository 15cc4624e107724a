//! Steady-state parsing allocates nothing per record: a counting global allocator
//! watches the JSONL parser once its reused buffers have reached their working size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memslim_stream::{Input, JsonlBlocks, ParsedBlock, ReadOptions};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counter is a side effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same layout the caller gave us, per the `GlobalAlloc` contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (every allocation
        // goes through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `ptr`/`layout` come from `System` as above; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn records(n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        // Order-like records with the shapes that take each path: plain and escaped
        // strings, ints, floats, bools, nulls, nested arrays and objects.
        out.push_str(&format!(
            "{{\"id\": {i}, \"user\": \"user{:06}\", \"price\": {}.{:02}, \"paid\": {}, \
             \"note\": {}, \"tags\": [\"a\", {i}, {{\"k\": \"v\\n\"}}], \"q\": \"say \\\"hi\\\"\"}}\n",
            i % 200_000,
            i % 500,
            i % 100,
            i % 3 == 0,
            if i % 5 == 0 { "\"gift\"" } else { "null" },
        ));
    }
    out.into_bytes()
}

#[test]
fn steady_state_parsing_allocates_nothing_per_record() {
    let data = records(200_000);
    let opts = ReadOptions {
        block_bytes: 64 << 10,
        ..ReadOptions::default()
    };
    let input = Input::from_reader("<test>", Box::new(std::io::Cursor::new(data)));
    let mut blocks = JsonlBlocks::new(input, &opts);
    let mut pb = ParsedBlock::default();
    // Warm-up: the block's buffers grow to their working size.
    for _ in 0..5 {
        assert!(blocks.next_into(&mut pb).unwrap());
    }
    // The block's scratch arena (decoded strings, encoded nested values) is reset, not
    // freed, each time the block is reused: its capacity stays, its reset count grows.
    let held = pb.scratch_bytes();
    let resets = pb.scratch_resets();
    assert!(
        held > 0,
        "the escaped strings and nested values went to the scratch"
    );
    COUNTING.store(true, Ordering::Relaxed);
    let mut rows = 0;
    let mut values = 0;
    let mut blocks_read = 0;
    while blocks.next_into(&mut pb).unwrap() {
        rows += pb.num_records();
        values += pb.num_values();
        blocks_read += 1;
        assert_eq!(pb.scratch_bytes(), held, "scratch capacity changed");
    }
    COUNTING.store(false, Ordering::Relaxed);
    assert_eq!(pb.scratch_resets(), resets + blocks_read + 1);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    assert!(rows > 150_000, "only {rows} records parsed after warm-up");
    assert_eq!(values, rows * 7);
    // Allowed: nothing. (A block longer than any before would grow a buffer once.)
    assert_eq!(
        allocs, 0,
        "{allocs} allocations while parsing {rows} records"
    );
}
