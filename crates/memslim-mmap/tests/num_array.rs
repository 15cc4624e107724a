//! On-disk number arrays: round trips, growth, crash semantics, range checks, locking.

use std::fs;
use std::path::PathBuf;

use memslim_mmap::{MmapError, Num, NumArray, NumType};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memslim-arr-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    let _ = fs::remove_file(&p);
    p
}

#[test]
fn grows_and_reopens() {
    let p = tmp("grow.bin");
    let mut a = NumArray::open(&p, Some(NumType::I64), true).unwrap();
    for i in 0..100_000 {
        a.push(Num::Int(i * 3)).unwrap();
    }
    assert!(a.capacity() >= 100_000);
    a.set(5, Num::Int(-7)).unwrap();
    a.close().unwrap();
    let r = NumArray::open(&p, None, false).unwrap();
    assert_eq!(r.dtype(), NumType::I64);
    assert_eq!(r.len(), 100_000);
    assert_eq!(r.get(5).unwrap(), Num::Int(-7));
    assert_eq!(r.get(99_999).unwrap(), Num::Int(299_997));
    assert!(matches!(r.get(100_000), Err(MmapError::Records(_))));
    assert_eq!(r.as_bytes().unwrap().len(), 800_000);
}

#[test]
fn unflushed_appends_are_dropped_at_reopen() {
    let p = tmp("crash.bin");
    let mut a = NumArray::open(&p, Some(NumType::F32), true).unwrap();
    a.extend(&[Num::Float(1.5), Num::Int(2)]).unwrap();
    a.flush().unwrap();
    a.push(Num::Float(3.0)).unwrap();
    // "crash": drop without flush or close
    drop(a);
    let r = NumArray::open(&p, None, false).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r.get(1).unwrap(), Num::Float(2.0));
}

#[test]
fn values_are_range_checked() {
    let p = tmp("range.bin");
    let mut a = NumArray::open(&p, Some(NumType::U8), true).unwrap();
    a.push(Num::Int(255)).unwrap();
    for bad in [Num::Int(256), Num::Int(-1), Num::Float(1.0)] {
        let e = a.push(bad).unwrap_err();
        assert!(matches!(e, MmapError::Value(_)), "{e}");
    }
    assert!(a.extend(&[Num::Int(1), Num::Int(300)]).is_err());
    assert_eq!(a.len(), 1, "all or nothing");
    let p = tmp("u64.bin");
    let mut b = NumArray::open(&p, Some(NumType::U64), true).unwrap();
    b.push(Num::UInt(u64::MAX)).unwrap();
    assert_eq!(b.get(0).unwrap(), Num::UInt(u64::MAX));
    let p = tmp("bool.bin");
    let mut c = NumArray::open(&p, Some(NumType::Bool), true).unwrap();
    c.extend(&[Num::Bool(true), Num::Int(0)]).unwrap();
    assert!(c.push(Num::Int(2)).is_err());
    assert_eq!(c.get(0).unwrap(), Num::Bool(true));
    assert_eq!(c.get(1).unwrap(), Num::Bool(false));
}

#[test]
fn lock_dtype_and_damage() {
    let p = tmp("lock.bin");
    let mut a = NumArray::open(&p, Some(NumType::I32), true).unwrap();
    assert!(matches!(
        NumArray::open(&p, Some(NumType::I32), true),
        Err(MmapError::Locked { .. })
    ));
    a.push(Num::Int(1)).unwrap();
    a.close().unwrap();
    assert!(matches!(
        NumArray::open(&p, Some(NumType::I64), false),
        Err(MmapError::Value(_))
    ));
    let mut bytes = fs::read(&p).unwrap();
    bytes[17] ^= 4;
    fs::write(&p, &bytes).unwrap();
    assert!(matches!(
        NumArray::open(&p, None, false),
        Err(MmapError::Corrupt { offset: 0, .. })
    ));
    let q = tmp("text.bin");
    fs::write(&q, vec![b'x'; 100]).unwrap();
    assert!(matches!(
        NumArray::open(&q, None, false),
        Err(MmapError::NotOurs { .. })
    ));
    assert!(NumType::parse("int128").is_err());
}

#[test]
fn slices_read_and_write_as_list_slices_do() {
    use memslim_mmap::view::Positions;
    let path = tmp("slices.bin");
    let mut a = NumArray::open(&path, Some(NumType::I16), true).unwrap();
    let mut model: Vec<i64> = (0..20).collect();
    a.extend(&model.iter().map(|&v| Num::Int(v)).collect::<Vec<_>>())
        .unwrap();
    let every_third_reversed = Positions {
        start: 19,
        step: -3,
        len: 7,
    };
    let got = a.get_at(every_third_reversed).unwrap();
    let want: Vec<Num> = (0..7).map(|k| Num::Int(model[19 - 3 * k])).collect();
    assert_eq!(got, want);
    let values: Vec<Num> = (0..7).map(|k| Num::Int(-(k as i64))).collect();
    a.set_at(every_third_reversed, &values).unwrap();
    for k in 0..7 {
        model[19 - 3 * k] = -(k as i64);
    }
    let all = a.get_at(Positions::all(20)).unwrap();
    assert_eq!(all, model.iter().map(|&v| Num::Int(v)).collect::<Vec<_>>());
    // A wrong count or a value past the dtype changes nothing.
    assert!(a.set_at(Positions::all(20), &values).is_err());
    let mut bad = values.clone();
    bad[6] = Num::Int(1 << 20);
    assert!(a.set_at(every_third_reversed, &bad).is_err());
    assert_eq!(a.get_at(Positions::all(20)).unwrap(), all);
    assert!(
        a.get_at(Positions {
            start: 19,
            step: 1,
            len: 2
        })
        .is_err()
    );
}

#[test]
fn find_compares_ints_and_floats_exactly_as_python_does() {
    let two53 = 9_007_199_254_740_992.0;
    let p = tmp("find_i64.bin");
    let mut a = NumArray::open(&p, Some(NumType::I64), true).unwrap();
    a.extend(&[Num::Int((1 << 53) + 1), Num::Int(i64::MAX), Num::Int(3)])
        .unwrap();
    let found = |a: &NumArray, v| a.find(v, 0, usize::MAX).unwrap();
    // A rounded conversion would find both: 2**53 + 1 -> 2.0**53, 2**63 - 1 -> 2.0**63.
    assert_eq!(found(&a, Num::Float(two53)), (None, 0));
    assert_eq!(found(&a, Num::Float(2f64.powi(63))), (None, 0));
    assert_eq!(found(&a, Num::Float(3.0)), (Some(2), 1));
    assert_eq!(found(&a, Num::Float(f64::NAN)), (None, 0));
    let p = tmp("find_f64.bin");
    let mut f = NumArray::open(&p, Some(NumType::F64), true).unwrap();
    f.extend(&[Num::Float(two53), Num::Float(f64::NAN), Num::Float(1.0)])
        .unwrap();
    assert_eq!(found(&f, Num::Int((1 << 53) + 1)), (None, 0));
    assert_eq!(found(&f, Num::Int(1 << 53)), (Some(0), 1));
    assert_eq!(found(&f, Num::Bool(true)), (Some(2), 1));
    assert_eq!(
        found(&f, Num::Float(f64::NAN)),
        (None, 0),
        "NaN equals nothing"
    );
    let p = tmp("find_u64.bin");
    let mut u = NumArray::open(&p, Some(NumType::U64), true).unwrap();
    u.push(Num::UInt(u64::MAX)).unwrap();
    assert_eq!(found(&u, Num::Float(2f64.powi(64))), (None, 0));
    assert_eq!(found(&u, Num::UInt(u64::MAX)), (Some(0), 1));
}
