//! Criterion benches for `memslim-records`: appending (by name, and by field as
//! `append` does), random access, a column sum, the typed block read behind TupleList
//! rows (and its one-row form behind `rows[i]`),
//! Arrow export and serialization (the pickle payloads: `to_snapshot` / `from_snapshot`
//! out of band, `to_bytes` / `from_bytes` in band), selection scans, and the JSON writer
//! behind `memslim.dumps`, on order-like records, and copies between lists; and the
//! record file's kernels: the read of a committed batch (what a `Row` of
//! `DictList.open` reads through), a column's count and `where` positions, and the
//! batch copy behind its `where` and `DictList(file)` (beside the staging copy).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use memslim_benches::orders;
use memslim_records::{Cell, CellRef, CellSink};
use std::hint::black_box;

const N: usize = 100_000;

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("push_record x100k", |b| b.iter(|| black_box(orders(N))));
    // The same records by field (what `append` of a dict display or a tuple does): no
    // key names to match.
    let src = orders(N);
    let cells: Vec<Vec<(usize, Cell<'_>)>> = (0..N)
        .map(|r| {
            let mut rec = Vec::new();
            src.visit_row(r, |j, c| rec.push((j, c.to_cell().expect("plain values"))));
            rec
        })
        .collect();
    g.bench_function("push_fields x100k", |b| {
        b.iter(|| {
            let mut rows = src.slice(0, 1);
            for rec in &cells {
                assert!(rows.push_fields(rec), "every order fits");
            }
            black_box(rows)
        })
    });
    g.finish();
}

fn read(c: &mut Criterion) {
    let rows = orders(N);
    let price = rows.field_index("price").expect("field");
    let qty = rows.field_index("qty").expect("field");
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("get price*qty per row", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for r in 0..rows.len() {
                if let (CellRef::Float(p), CellRef::Int(q)) = (rows.get(r, price), rows.get(r, qty))
                {
                    total += p * q as f64;
                }
            }
            black_box(total)
        })
    });
    g.bench_function("column sum", |b| {
        b.iter(|| black_box(rows.column(price).sum().expect("numeric")))
    });
    g.bench_function("visit_row (whole record)", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in 0..rows.len() {
                rows.visit_row(r, |_, _| n += 1);
            }
            black_box(n)
        })
    });
    g.bench_function("fill_block (one row at a time, as rows[i])", |b| {
        b.iter(|| {
            let mut sink = Tally::default();
            for r in 0..rows.len() {
                rows.fill_block(&[r], &mut sink);
            }
            black_box(sink.sum)
        })
    });
    g.bench_function("fill_block (64 rows at a time, typed)", |b| {
        let rows_at: Vec<usize> = (0..rows.len()).collect();
        b.iter(|| {
            let mut sink = Tally::default();
            for block in rows_at.chunks(64) {
                rows.fill_block(block, &mut sink);
            }
            black_box(sink.sum)
        })
    });
    g.finish();
}

/// What a host's sink does with each value, cut down to a sum (the TupleList iterator
/// makes Python objects here).
#[derive(Default)]
struct Tally {
    sum: f64,
}

impl<'a> CellSink<'a> for Tally {
    fn field(&mut self, _j: usize) {}
    fn cell(&mut self, _k: usize, value: CellRef<'a>) {
        self.sum += matches!(value, CellRef::DictStr(..)) as u8 as f64;
    }
    fn int(&mut self, _k: usize, v: i64) {
        self.sum += v as f64;
    }
    fn float(&mut self, _k: usize, v: f64) {
        self.sum += v;
    }
    fn text(&mut self, _k: usize, v: &'a [u8]) {
        self.sum += v.len() as f64;
    }
}

fn convert(c: &mut Criterion) {
    let rows = orders(N);
    let mut g = c.benchmark_group("convert");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("to_arrow", |b| {
        b.iter_batched(
            || rows.clone(),
            |mut r| black_box(r.to_arrow().expect("export")),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("to_bytes", |b| b.iter(|| black_box(rows.to_bytes())));
    let bytes = rows.to_bytes();
    g.bench_function("from_bytes", |b| {
        b.iter(|| black_box(memslim_records::RecordList::from_bytes(&bytes).expect("valid")))
    });
    g.finish();
}

fn select(c: &mut Criterion) {
    use memslim_records::{Cell, CmpOp};
    let rows = orders(N);
    let country = rows.field_index("country").expect("field");
    let mut g = c.benchmark_group("select");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("column count == str", |b| {
        let col = rows.column(country);
        b.iter(|| black_box(col.count_eq(&Cell::Str("DE"))))
    });
    g.bench_function("where_rows price >= float", |b| {
        b.iter(|| black_box(rows.where_rows("price", CmpOp::Ge, &Cell::Float(250.0))))
    });
    // What where(), reordered copies and non-contiguous slices copy records with.
    let every_third: Vec<usize> = (0..N).step_by(3).collect();
    g.bench_function("take every third record", |b| {
        b.iter(|| black_box(rows.take(&every_third)))
    });
    // `rows.extend(other)` between lists of two stores: a grid of borrowed cells per
    // 4,096 records.
    g.bench_function("extend_from into a list with records", |b| {
        b.iter_batched(
            || rows.slice(0, 1),
            |mut dst| {
                dst.extend_from(&rows).expect("same fields");
                black_box(dst)
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("to_snapshot", |b| b.iter(|| black_box(rows.to_snapshot())));
    let snap = rows.to_snapshot();
    // The buffers as a receiver holds them (each in memory of its own): read in place,
    // so this is the load's checks (checksum, offsets, UTF-8, keys) and nothing else.
    let parts: Vec<memslim_records::Buffer> = snap
        .buffers
        .iter()
        .map(|b| memslim_records::Buffer::from_slice_ref(b.as_slice()))
        .collect();
    g.bench_function("from_snapshot (zero-copy)", |b| {
        b.iter(|| {
            black_box(
                memslim_records::RecordList::from_snapshot(&snap.header, &parts).expect("valid"),
            )
        })
    });
    g.finish();
}

/// `memslim.dumps(rows)` minus the Python str: the one-line fast path (two threads from
/// 100,000 records), a chunk below that size on one thread, the blocks placed into one
/// destination (what `memslim.dumps` of a whole list does), and the general path
/// (`indent=2, sort_keys=True`).
fn json(c: &mut Criterion) {
    use memslim_records::json::{self, JsonFormat, JsonWriter, RecordShape};
    let rows = orders(N);
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(N as u64));
    let plain = JsonFormat::default();
    g.bench_function("records (json.dumps defaults)", |b| {
        b.iter(|| {
            let mut w = JsonWriter::new(&plain);
            w.records(&rows, 0..rows.len(), RecordShape::Object)
                .expect("writable");
            black_box(w.into_bytes())
        })
    });
    let half = rows.len() / 2;
    g.throughput(Throughput::Elements(half as u64));
    g.bench_function("records, one thread (half the list)", |b| {
        b.iter(|| {
            let mut w = JsonWriter::new(&plain);
            w.records(&rows, 0..half, RecordShape::Object)
                .expect("writable");
            black_box(w.into_bytes())
        })
    });
    // What `memslim.dumps(rows)` does now: blocks written on two threads and copied into
    // one destination sized from the estimate (a fresh allocation each time, as the
    // returned str is).
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("records_into a destination (the str path)", |b| {
        b.iter(|| {
            let all = 0..rows.len();
            let est = json::estimate_records_len(&rows, all.clone(), RecordShape::Object, &plain)
                .expect("writable");
            let mut dest = vec![0u8; est];
            let placed = json::records_into(&rows, all, RecordShape::Object, &plain, &mut dest)
                .expect("writable");
            black_box((dest, placed))
        })
    });
    let pretty = JsonFormat {
        indent: Some("  ".into()),
        sort_keys: true,
        ..JsonFormat::default()
    }
    .with_separators(None);
    g.bench_function("records (indent=2, sort_keys)", |b| {
        b.iter(|| {
            let mut w = JsonWriter::new(&pretty);
            w.records(&rows, 0..rows.len(), RecordShape::Object)
                .expect("writable");
            black_box(w.into_bytes())
        })
    });
    g.finish();
}

/// The row loop's kernel over a record file: `price * qty` of every record, each read
/// from the committed batch that holds it (as a file's `Row` does), beside the same
/// reads of the in-memory list in `read`.
fn file_read(c: &mut Criterion) {
    use memslim_mmap::{FileField, Mode, RecordFile};
    use memslim_records::{CmpOp, ReadField, collect_records, where_positions};
    let dir = std::env::temp_dir().join(format!("memslim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("orders.msl");
    let mut f = RecordFile::open(&path, Mode::Append).expect("new record file");
    f.append_list(&orders(N)).expect("append");
    f.flush().expect("commit");
    let batches: Vec<_> = (0..N)
        .step_by(memslim_mmap::BATCH_ROWS)
        .map(|r| f.hold(r).expect("readable").expect("committed"))
        .collect();
    let col = |b: &memslim_mmap::HeldBatch, name: &str| {
        b.field_names().position(|n| n == name).expect("field")
    };
    let mut g = c.benchmark_group("file read");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("held batch: price*qty per row", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for h in &batches {
                let (price, qty) = (col(h, "price"), col(h, "qty"));
                for r in h.rows() {
                    let p = h.with_column(r, price, |c| match c {
                        CellRef::Float(p) => p,
                        _ => 0.0,
                    });
                    let q = h.with_column(r, qty, |c| match c {
                        CellRef::Int(q) => q as f64,
                        _ => 0.0,
                    });
                    total += p.expect("readable") * q.expect("readable");
                }
            }
            black_box(total)
        })
    });
    // The native kernels behind a file's `column(f).count(v)` and `where`: a column
    // read a batch column at a time, skipping strings of other bytes.
    g.bench_function("count == str (file column)", |b| {
        b.iter(|| {
            let mut field = FileField::new(&mut f, "country", N);
            black_box(field.count_equal(&Cell::Str("DE"), 0..N).expect("readable"))
        })
    });
    g.bench_function("where_positions == str (file column)", |b| {
        b.iter(|| {
            let mut field = FileField::new(&mut f, "country", N);
            let found = where_positions(&mut field, CmpOp::Eq, Some(&Cell::Str("DE")));
            black_box(found.expect("readable"))
        })
    });
    // What `where` and `DictList(file)` copy records with: a committed batch's values
    // borrowed into a grid filled column by column; beside it the copy any other
    // storage gets, each record staged through `visit_records`.
    let every_third: Vec<usize> = (0..N).step_by(3).collect();
    g.bench_function("collect_records every third record (file)", |b| {
        b.iter(|| black_box(collect_records(&mut f, &every_third, 65_536).expect("readable")))
    });
    g.bench_function("collect_records every third record (file, staged)", |b| {
        b.iter(|| {
            let mut copy = memslim_records::RecordList::with_chunk_rows(65_536);
            let staged = memslim_records::append_records_staged(&mut copy, &mut f, &every_third);
            staged.expect("readable");
            black_box(copy)
        })
    });
    g.finish();
    drop(batches);
    drop(f);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, build, read, file_read, convert, select, json);
criterion_main!(benches);
