//! Criterion benches for `memslim-arena`'s DocList image, the payload of a pickled
//! DocList: `to_bytes` (dumps) and `from_buffer` (loads: every document validated, then
//! read in place), on the order-like documents the Python benchmark pickles.

use arrow_buffer::Buffer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memslim_arena::{DocError, DocList};
use std::hint::black_box;

const N: usize = 100_000;

/// `n` order-like documents: the fields of `memslim_benches::orders`, as nested values.
fn order_docs(n: usize) -> DocList {
    let countries = ["DE", "FR", "US", "JP", "BR", "IN", "CN", "GB"];
    let mut docs = DocList::new();
    for i in 0..n {
        docs.build::<DocError>(|b| {
            b.begin_map()?;
            b.key("id")?;
            b.int(i as i64)?;
            b.key("user")?;
            b.str(&format!("user{:06}", (i * 7919) % n.div_ceil(5)))?;
            b.key("price")?;
            b.float((i % 1000) as f64 * 0.37)?;
            b.key("qty")?;
            b.int((i % 9) as i64 + 1)?;
            b.key("paid")?;
            b.bool(i % 3 != 0)?;
            b.key("country")?;
            b.str(countries[i % countries.len()])?;
            b.key("note")?;
            if i % 5 == 0 {
                b.str("leave at the door")?;
            } else {
                b.none()?;
            }
            b.end()?;
            b.end_doc()
        })
        .expect("valid document");
    }
    docs
}

fn image(c: &mut Criterion) {
    let docs = order_docs(N);
    let bytes = docs.to_bytes().expect("image");
    let buffer = Buffer::from_vec(bytes.clone());
    let mut g = c.benchmark_group("doclist image");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("to_bytes x100k", |b| {
        b.iter(|| black_box(docs.to_bytes().expect("image")))
    });
    g.bench_function("from_buffer x100k (validate, read in place)", |b| {
        b.iter(|| black_box(DocList::from_buffer(&buffer).expect("valid image")))
    });
    g.bench_function("from_bytes x100k (validate, copy)", |b| {
        b.iter(|| black_box(DocList::from_bytes(&bytes).expect("valid image")))
    });
    g.finish();
}

criterion_group!(benches, image);
criterion_main!(benches);
