//! A record file's field as numbers (sum, mean, null count, the buffer for numpy) and
//! the pending-records mark a bulk append rolls back to, against plain `Vec` models.

use std::fs;
use std::path::PathBuf;

use memslim_mmap::{FieldNumbers, Mode, RecordFile};
use memslim_records::{Cell, DType, OwnedNumbers, Sum};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memslim-field-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// Record `i`: `n` an int (absent every fifth, null every seventh), `x` a float, `s` a
/// string.
fn push(f: &mut RecordFile, from: i64, to: i64) {
    for i in from..to {
        let s = format!("s{i}");
        let mut rec: Vec<(&str, Cell<'_>)> = vec![("x", Cell::Float(i as f64 * 0.5))];
        if i % 5 != 0 {
            rec.push(("n", if i % 7 == 0 { Cell::Null } else { Cell::Int(i) }));
        }
        rec.push(("s", Cell::Str(&s)));
        f.push_record(&rec).unwrap();
    }
}

fn model_n(to: i64) -> Vec<Option<i64>> {
    (0..to)
        .map(|i| (i % 5 != 0 && i % 7 != 0).then_some(i))
        .collect()
}

#[test]
fn sum_mean_and_nulls_match_the_model_across_committed_and_pending_records() {
    let d = tmpdir("sum");
    let mut f = RecordFile::open(d.join("f.arrow"), Mode::Append).unwrap();
    push(&mut f, 0, 40);
    f.flush().unwrap();
    push(&mut f, 40, 75);
    let model = model_n(75);
    let s = f.field_sum("n", 75).unwrap();
    let values: Vec<i64> = model.iter().flatten().copied().collect();
    assert_eq!(
        s.sum,
        Some(Sum::Int(values.iter().map(|&v| i128::from(v)).sum()))
    );
    assert_eq!(s.nulls, model.iter().filter(|v| v.is_none()).count());
    assert_eq!(s.len, 75);
    let mean = values.iter().sum::<i64>() as f64 / values.len() as f64;
    assert!((s.mean().unwrap() - mean).abs() < 1e-9);
    // A prefix of the records, as a column made before later appends sees them.
    assert_eq!(f.field_sum("n", 10).unwrap().len, 10);
    let x = f.field_sum("x", 75).unwrap();
    assert_eq!(
        x.sum,
        Some(Sum::Float((0..75).map(|i| i as f64 * 0.5).sum()))
    );
    assert_eq!(x.nulls, 0);
    // Strings have no sum and no mean, but do have a null count.
    let st = f.field_sum("s", 75).unwrap();
    assert_eq!((st.sum, st.mean(), st.nulls), (None, None, 0));
    assert!(f.field_sum("nope", 75).is_err());
}

#[test]
fn mean_of_nothing_is_none() {
    let d = tmpdir("mean");
    let mut f = RecordFile::open(d.join("f.arrow"), Mode::Append).unwrap();
    f.push_record(&[("n", Cell::Null)]).unwrap();
    f.push_record(&[("m", Cell::Int(1))]).unwrap();
    let s = f.field_sum("n", 2).unwrap();
    assert_eq!(s.nulls, 2);
    assert_eq!(s.mean(), None);
}

#[test]
fn numbers_are_mapped_for_one_batch_and_copied_for_several() {
    let d = tmpdir("numbers");
    let mut f = RecordFile::open(d.join("f.arrow"), Mode::Append).unwrap();
    push(&mut f, 0, 30);
    f.flush().unwrap();
    let (kind, numbers) = f.field_numbers("x", 30).unwrap();
    assert_eq!(kind, DType::Float64);
    assert!(matches!(numbers, Some(FieldNumbers::Mapped(ref a)) if a.len() == 30));
    push(&mut f, 30, 45);
    let (_, numbers) = f.field_numbers("x", 45).unwrap();
    let want: Vec<f64> = (0..45).map(|i| i as f64 * 0.5).collect();
    match numbers {
        Some(FieldNumbers::Owned(OwnedNumbers::F64(v))) => assert_eq!(v, want),
        other => panic!("expected owned floats, got {other:?}"),
    }
    // Nulls (or absent keys) and strings have no buffer.
    let (kind, numbers) = f.field_numbers("n", 45).unwrap();
    assert_eq!(kind, DType::Int64);
    assert!(numbers.is_none());
    let (kind, numbers) = f.field_numbers("s", 45).unwrap();
    assert_eq!(kind, DType::Object);
    assert!(numbers.is_none());
}

#[test]
fn undo_pending_drops_what_came_after_the_mark_unless_it_was_committed() {
    let d = tmpdir("undo");
    let mut f = RecordFile::open(d.join("f.arrow"), Mode::Append).unwrap();
    push(&mut f, 0, 5);
    let mark = f.mark_pending().unwrap();
    push(&mut f, 5, 12);
    assert_eq!(f.len(), 12);
    assert!(f.undo_pending(mark));
    assert_eq!(f.len(), 5);
    assert_eq!(f.field_names(), ["x", "s", "n"]);
    // A flush between the mark and the undo: the records are on disk and stay.
    let mark = f.mark_pending().unwrap();
    push(&mut f, 5, 8);
    assert_eq!(f.flush().unwrap(), 8);
    push(&mut f, 8, 9);
    assert!(!f.undo_pending(mark));
    assert_eq!(f.len(), 9);
    f.close().unwrap();
    // A read-only file has no pending records to mark.
    let mut r = RecordFile::open(d.join("f.arrow"), Mode::Read).unwrap();
    assert!(r.mark_pending().is_err());
}
