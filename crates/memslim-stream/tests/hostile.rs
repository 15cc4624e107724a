//! Hostile and damaged input: bounded line buffers, verified checksums, no silent
//! replacement of bytes that are not UTF-8, no lossy type inference, integer and nesting
//! limits.

use std::io::{Cursor, Write};
use std::sync::atomic::Ordering;

use memslim_records::variant::Value;
use memslim_stream::{
    CsvOptions, CsvReader, EncodingErrors, Input, JsonlReader, OnError, ReadOptions, StreamError,
};

/// A field's value as a plain value (`None` if absent).
fn value(list: &memslim_records::RecordList, row: usize, field: &str) -> Value {
    use memslim_records::CellRef;
    let Some(j) = list.field_index(field) else {
        return Value::None;
    };
    match list.get(row, j) {
        CellRef::Absent | CellRef::Null => Value::None,
        CellRef::Bool(b) => Value::Bool(b),
        CellRef::Int(i) => Value::Int(i),
        CellRef::Float(f) => Value::Float(f),
        CellRef::Str(s) | CellRef::DictStr(_, s) => Value::Str(s.into()),
        CellRef::Bytes(b) => Value::Bytes(b.into()),
        CellRef::Encoded(e) => memslim_records::variant::decode(e).unwrap(),
    }
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("memslim-hostile-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A zstd frame (no checksum) whose content is `prefix`, then `n` RLE blocks of 128 KiB
/// of `fill`, then `suffix`: a few bytes per 128 KiB, like the 66 KB file that inflates
/// to one 2 GiB line.
fn zstd_bomb(prefix: &[u8], fill: u8, n: usize, suffix: &[u8]) -> Vec<u8> {
    const BLOCK: u32 = 128 << 10;
    // Magic; descriptor: no checksum, no content size; window 128 KiB (log 17).
    let mut out = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, 7 << 3];
    let header = |size: u32, kind: u32, last: bool| {
        let v = (size << 3) | (kind << 1) | u32::from(last);
        [v as u8, (v >> 8) as u8, (v >> 16) as u8]
    };
    out.extend(header(prefix.len() as u32, 0, false));
    out.extend_from_slice(prefix);
    for _ in 0..n {
        out.extend(header(BLOCK, 1, false));
        out.push(fill);
    }
    out.extend(header(suffix.len() as u32, 0, true));
    out.extend_from_slice(suffix);
    out
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn jsonl_opts(max_line_bytes: usize) -> ReadOptions {
    ReadOptions {
        max_line_bytes,
        ..ReadOptions::default()
    }
}

fn read_path(path: &std::path::Path, opts: ReadOptions) -> (Result<usize, StreamError>, u64) {
    let input = Input::open(path).unwrap();
    let consumed = input.consumed.clone();
    let r = JsonlReader::new(input, opts).read_all().map(|l| l.len());
    (r, consumed.load(Ordering::Relaxed))
}

#[test]
fn a_compressed_bomb_stops_at_the_line_limit_without_reading_on() {
    let dir = temp_dir("bomb");
    // One normal line, then 2 GiB of 'a' in one string.
    let zst = zstd_bomb(b"{\"a\": 1}\n{\"a\": \"", b'a', 16 << 10, b"\"}\n");
    assert!(zst.len() < 70_000, "{}", zst.len());
    let p = dir.join("bomb.jsonl.zst");
    std::fs::write(&p, &zst).unwrap();
    for threaded in [false, true] {
        let (r, consumed) = read_path(
            &p,
            ReadOptions {
                threaded,
                ..jsonl_opts(1 << 20)
            },
        );
        let e = r.unwrap_err();
        assert!(
            matches!(&e, StreamError::Syntax { line: 2, column: 1, reason, .. }
                if reason.contains("longer than 1048576 bytes") && reason.contains("max_line_bytes")),
            "{e}"
        );
        assert!(e.to_string().contains("bomb.jsonl.zst"), "{e}");
        // It stopped after about a megabyte of output: a few dozen compressed bytes per
        // megabyte, nowhere near the whole file.
        assert!(consumed <= 16_384, "read {consumed} compressed bytes");
    }
    // gzip: members of 8 MiB of 'a' each, concatenated, make one 2 GiB line.
    let member = gz(&vec![b'a'; 8 << 20]);
    let mut data = gz(b"{\"a\": \"");
    for _ in 0..256 {
        data.extend_from_slice(&member);
    }
    let p = dir.join("bomb.jsonl.gz");
    std::fs::write(&p, &data).unwrap();
    let (r, consumed) = read_path(&p, jsonl_opts(1 << 20));
    let e = r.unwrap_err();
    assert!(matches!(&e, StreamError::Syntax { line: 1, .. }), "{e}");
    assert!(consumed < 100_000, "read {consumed} compressed bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn read_bytes(data: &[u8], opts: ReadOptions) -> Result<memslim_records::RecordList, StreamError> {
    let input = Input::from_reader("<bytes>", Box::new(Cursor::new(data.to_vec())));
    JsonlReader::new(input, opts).read_all()
}

#[test]
fn the_line_limit_holds_for_every_line_and_counts_bytes_without_the_break() {
    let line = |n: usize| format!("{{\"s\": \"{}\"}}", "x".repeat(n - 9));
    assert_eq!(line(100).len(), 100);
    // Exactly at the limit (with \n or \r\n, or last without a break): accepted, in
    // a block shared with short lines or filling a block of its own.
    for text in [
        format!("{{}}\n{}\n{{}}\n", line(100)),
        format!("{{}}\r\n{}\r\n{{}}\r\n", line(100)),
        format!("{{}}\r\n{}\r\n", line(100)),
        format!("{{}}\n{}", line(100)),
    ] {
        for block_bytes in [64, 1 << 16] {
            let opts = ReadOptions {
                block_bytes,
                ..jsonl_opts(100)
            };
            let want = text.matches('{').count();
            let got = read_bytes(text.as_bytes(), opts).unwrap().len();
            assert_eq!(got, want, "{text:?}");
            let mut docs = memslim_arena::DocList::new();
            memslim_stream::docs::extend_docs_from_slice_with(
                &mut docs,
                "<bytes>",
                text.as_bytes(),
                &jsonl_opts(100),
            )
            .unwrap();
        }
    }
    // One byte more, in a block shared with short lines or filling a block of its own.
    for block_bytes in [64, 1 << 16] {
        let text = format!("{{}}\n{{}}\n{}\n{{}}\n", line(101));
        let opts = ReadOptions {
            block_bytes,
            ..jsonl_opts(100)
        };
        let e = read_bytes(text.as_bytes(), opts.clone()).unwrap_err();
        assert!(matches!(e, StreamError::Syntax { line: 3, .. }), "{e}");
        // Skipping: the long line is left out, the rest kept.
        let input = Input::from_reader("<bytes>", Box::new(Cursor::new(text.into_bytes())));
        let mut r = JsonlReader::new(
            input,
            ReadOptions {
                on_error: OnError::Skip,
                ..opts
            },
        );
        let rows = r.read_rest().unwrap();
        assert_eq!((rows.len(), r.skipped().count), (3, 1));
    }
}

proptest::proptest! {
    /// A line is refused exactly when its bytes, line break excluded, pass the limit:
    /// whatever its line break (`\n`, `\r\n`, none at the end), wherever blocks end.
    #[test]
    fn the_line_limit_counts_no_line_break(
        lens in proptest::collection::vec(9usize..140, 1..6),
        crlf in proptest::bool::ANY,
        last_ended in proptest::bool::ANY,
        limit in 60usize..130,
        block_bytes in 64usize..200,
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let lines: Vec<String> = lens
            .iter()
            .map(|&n| format!("{{\"s\": \"{}\"}}", "x".repeat(n - 9)))
            .collect();
        let mut text = lines.join(end);
        if last_ended {
            text.push_str(end);
        }
        let opts = ReadOptions { block_bytes, ..jsonl_opts(limit) };
        let first_long = lens.iter().position(|&n| n > limit);
        match read_bytes(text.as_bytes(), opts) {
            Ok(rows) => proptest::prop_assert!(
                first_long.is_none() && rows.len() == lens.len(),
                "{} rows", rows.len()
            ),
            Err(e) => proptest::prop_assert!(
                matches!(e, StreamError::Syntax { line, .. }
                    if Some(line as usize - 1) == first_long),
                "{e}"
            ),
        }
        let csv_text = format!("a{end}{text}");
        let r = csv(
            csv_text.as_bytes(),
            ReadOptions { block_bytes, ..jsonl_opts(limit) },
            CsvOptions { quote: b'\'', ..CsvOptions::default() },
        );
        match r {
            Ok(rows) => proptest::prop_assert!(
                first_long.is_none() && rows.len() == lens.len(),
                "{} rows", rows.len()
            ),
            Err(e) => proptest::prop_assert!(
                matches!(e, StreamError::Syntax { line, .. }
                    if Some(line as usize - 2) == first_long),
                "{e}"
            ),
        }
    }
}

#[test]
fn csv_records_obey_the_line_limit_too() {
    // A quoted field with line breaks: the record counts, not its lines.
    let text = format!("a,b\n1,\"{}\n{}\"\n2,y\n", "x".repeat(60), "y".repeat(60));
    let read = |max: usize, block_bytes: usize| {
        let data = text.clone().into_bytes();
        let reopen = Box::new(move || {
            Ok(Input::from_reader(
                "t.csv",
                Box::new(Cursor::new(data.clone())),
            ))
        });
        let opts = ReadOptions {
            max_line_bytes: max,
            block_bytes,
            ..ReadOptions::default()
        };
        CsvReader::new(reopen, opts, CsvOptions::default())?.read_all()
    };
    for block_bytes in [64, 1 << 16] {
        assert_eq!(read(125, block_bytes).unwrap().len(), 2);
        let e = read(124, block_bytes).unwrap_err();
        assert!(
            matches!(&e, StreamError::Syntax { line: 2, reason, .. } if reason.contains("124")),
            "{e}"
        );
    }
}

/// Reads `data` as `name` (a file in a temporary directory, so the codec applies).
fn read_file(name: &str, data: &[u8]) -> Result<Vec<Value>, StreamError> {
    let dir = temp_dir(&format!("f{}", name.len()));
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    let r = Input::open(&p).and_then(|i| JsonlReader::new(i, ReadOptions::default()).read_all());
    std::fs::remove_file(&p).unwrap();
    let list = r?;
    Ok((0..list.len()).map(|i| value(&list, i, "id")).collect())
}

fn records(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{{\"id\": {}}}\n", 1000 + i * 7))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn a_flipped_bit_in_compressed_input_never_passes_silently() {
    let plain = records(40);
    let expect = read_file("x.jsonl", &plain).unwrap();
    assert_eq!(expect.len(), 40);
    // Uncompressed zstd blocks: a flipped bit in the content still decodes, to other
    // digits; only the frame checksum can tell.
    let raw_zst = ruzstd::encoding::compress_to_vec(
        &plain[..],
        ruzstd::encoding::CompressionLevel::Uncompressed,
    );
    let at = raw_zst.len() / 2;
    assert!(raw_zst[at].is_ascii_digit() || raw_zst[at].is_ascii_punctuation());
    let mut flipped = raw_zst.clone();
    flipped[at] ^= 0x01;
    let e = read_file("x.jsonl.zst", &flipped).unwrap_err();
    assert!(
        matches!(&e, StreamError::Corrupt { reason, .. } if reason.contains("checksum")),
        "{e}"
    );
    assert!(e.to_string().contains("x.jsonl.zst"), "{e}");
    // Every byte of a compressed file, one bit at a time: the same records or an error.
    let zst =
        ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    let gzipped = gz(&plain);
    for (name, data) in [("x.jsonl.zst", zst), ("x.jsonl.gz", gzipped)] {
        assert_eq!(read_file(name, &data).unwrap(), expect);
        let mut errors = 0;
        for i in 0..data.len() {
            for bit in [0x01, 0x10, 0x80] {
                let mut d = data.clone();
                d[i] ^= bit;
                match read_file(name, &d) {
                    Ok(got) => assert_eq!(got, expect, "{name}: byte {i} ^ {bit:#x}"),
                    Err(_) => errors += 1,
                }
            }
        }
        assert!(errors > data.len(), "{name}: only {errors} errors");
    }
}

#[test]
fn corrupt_and_truncated_compressed_input_are_corrupt_errors() {
    let plain = records(2000);
    let gzipped = gz(&plain);
    // Flip a bit of the stored CRC-32: the content is intact, the check is not.
    let mut bad_crc = gzipped.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0x04;
    let e = read_file("c.jsonl.gz", &bad_crc).unwrap_err();
    assert!(matches!(e, StreamError::Corrupt { .. }), "{e}");
    let e = read_file("c.jsonl.gz", &gzipped[..n / 2]).unwrap_err();
    assert!(matches!(e, StreamError::Corrupt { .. }), "{e}");
    let zst =
        ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    let m = zst.len();
    let mut bad_sum = zst.clone();
    bad_sum[m - 1] ^= 0x40;
    let e = read_file("c.jsonl.zst", &bad_sum).unwrap_err();
    assert!(
        matches!(&e, StreamError::Corrupt { reason, .. } if reason.contains("checksum mismatch")),
        "{e}"
    );
    // Cut anywhere, the frame header (4-byte magic, then descriptor) included, or empty.
    for cut in [m - 2, m - 4, m / 2, 20, 8, 5, 2, 0] {
        let e = read_file("c.jsonl.zst", &zst[..cut]).unwrap_err();
        assert!(
            matches!(e, StreamError::Corrupt { .. }),
            "cut at {cut}: {e}"
        );
        assert!(e.to_string().contains("c.jsonl.zst"), "{e}");
    }
    for cut in [5, 2, 0] {
        let e = read_file("c.jsonl.gz", &gzipped[..cut]).unwrap_err();
        assert!(
            matches!(e, StreamError::Corrupt { .. }),
            "cut at {cut}: {e}"
        );
    }
    // Not zstd at all.
    let e = read_file("c.jsonl.zst", b"{\"id\": 1}\n").unwrap_err();
    assert!(matches!(e, StreamError::Corrupt { .. }), "{e}");
}

#[test]
fn a_zstd_frame_asking_for_a_huge_window_is_refused_up_front() {
    // Window descriptor 0xF8: 2^41 bytes (2 TiB); ruzstd would keep that much history.
    let mut data = zstd_bomb(b"{\"a\": \"", b'a', 4, b"\"}\n");
    data[5] = 0xF8;
    let e = read_file("w.jsonl.zst", &data).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("window"), "{e}");
    assert!(matches!(e, StreamError::Invalid(_)), "{e:?}");
}

fn csv(
    text: &[u8],
    opts: ReadOptions,
    csv: CsvOptions,
) -> Result<memslim_records::RecordList, StreamError> {
    let data = text.to_vec();
    let reopen = Box::new(move || {
        Ok(Input::from_reader(
            "t.csv",
            Box::new(Cursor::new(data.clone())),
        ))
    });
    CsvReader::new(reopen, opts, csv)?.read_all()
}

fn strs(list: &memslim_records::RecordList, field: &str) -> Vec<Value> {
    (0..list.len()).map(|i| value(list, i, field)).collect()
}

#[test]
fn csv_bytes_that_are_not_utf8_raise_unless_replacement_is_asked_for() {
    let text = b"id,name\n1,ok\n2,\"caf\xe9\nau lait\"\n3,x\xff\xfey\n4,fine\n";
    for infer in [true, false] {
        let o = CsvOptions {
            infer,
            ..CsvOptions::default()
        };
        let e = csv(text, ReadOptions::default(), o.clone()).unwrap_err();
        let StreamError::Syntax {
            line,
            column,
            reason,
            ..
        } = &e
        else {
            panic!("{e}")
        };
        assert_eq!((*line, *column), (3, 7), "{e}");
        assert!(
            reason.contains("0xE9") && reason.contains("byte offset 19"),
            "{e}"
        );
        // Skipped, each bad record counted.
        let opts = ReadOptions {
            on_error: OnError::Skip,
            ..ReadOptions::default()
        };
        let rows = csv(text, opts, o.clone()).unwrap();
        assert_eq!(rows.len(), 2);
        // Replaced as Python's errors="replace" does.
        let o = CsvOptions {
            encoding_errors: EncodingErrors::Replace,
            ..o
        };
        let rows = csv(text, ReadOptions::default(), o).unwrap();
        let want: Vec<String> = ["ok", "caf\u{fffd}\nau lait", "x\u{fffd}\u{fffd}y", "fine"]
            .map(String::from)
            .into();
        assert_eq!(
            strs(&rows, "name"),
            want.into_iter().map(Value::Str).collect::<Vec<_>>()
        );
    }
    // A bad header raises even when records are skipped; replaced, it names the field.
    let text = b"id,n\xe4me\n1,a\n";
    let opts = ReadOptions {
        on_error: OnError::Skip,
        ..ReadOptions::default()
    };
    let e = csv(text, opts, CsvOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            StreamError::Syntax {
                line: 1,
                column: 5,
                ..
            }
        ),
        "{e}"
    );
    let o = CsvOptions {
        encoding_errors: EncodingErrors::Replace,
        ..CsvOptions::default()
    };
    let rows = csv(text, ReadOptions::default(), o).unwrap();
    assert_eq!(
        (0..rows.num_fields())
            .map(|j| rows.field_name(j))
            .collect::<Vec<_>>(),
        ["id", "n\u{fffd}me"]
    );
    // Doubled quotes in a damaged quoted field are still undone.
    let o = CsvOptions {
        encoding_errors: EncodingErrors::Replace,
        ..CsvOptions::default()
    };
    let rows = csv(b"a\n\"say \"\"\xff\"\"\"\n", ReadOptions::default(), o).unwrap();
    assert_eq!(strs(&rows, "a"), [Value::Str("say \"\u{fffd}\"".into())]);
}

#[test]
fn csv_inference_never_picks_a_type_that_changes_values() {
    let rows = |text: &str| {
        csv(
            text.as_bytes(),
            ReadOptions::default(),
            CsvOptions::default(),
        )
        .unwrap()
    };
    // Codes with leading zeros or a plus sign stay text.
    let r = rows("zip,n\n02134,+5\n10001,7\n");
    assert_eq!(r.field_dtype(0).name(), "str");
    assert_eq!(r.field_dtype(1).name(), "str");
    assert_eq!(
        strs(&r, "zip"),
        [Value::Str("02134".into()), Value::Str("10001".into())]
    );
    // Integers beyond 64 bits: not a float64 that drops digits.
    let r = rows("big\n123456789012345678901234567890\n1\n");
    assert_eq!(r.field_dtype(0).name(), "str");
    // An integer past 2**53 among floats would round: text.
    let r = rows("x\n9007199254740993\n1.5\n");
    assert_eq!(r.field_dtype(0).name(), "str");
    // Exact ones mix with floats as before; plain ints stay int64.
    let r = rows("x,y,z\n9007199254740992,1,0\n1.5,-2,-3\n");
    assert_eq!(r.field_dtype(0).name(), "float64");
    assert_eq!(r.field_dtype(1).name(), "int64");
    assert_eq!(r.field_dtype(2).name(), "int64");
}

#[test]
fn jsonl_nesting_up_to_the_variant_limit_and_not_past_it() {
    let nest = |n: usize| format!("{{\"v\": {}{}}}\n", "[".repeat(n), "]".repeat(n));
    let rows = read_bytes(nest(512).as_bytes(), ReadOptions::default()).unwrap();
    let mut v = value(&rows, 0, "v");
    let mut depth = 0;
    while let Value::List(mut items) = v {
        depth += 1;
        v = items.pop().unwrap_or(Value::None);
    }
    assert_eq!(depth, 512);
    let e = read_bytes(nest(513).as_bytes(), ReadOptions::default()).unwrap_err();
    assert!(
        matches!(&e, StreamError::Syntax { line: 1, column: 519, reason, .. }
            if reason == "nested deeper than 512 levels"),
        "{e}"
    );
}

#[test]
fn jsonl_integers_follow_the_digit_limit() {
    let line = |d: usize| format!("{{\"n\": -{}}}\n", "9".repeat(d));
    assert!(read_bytes(line(4300).as_bytes(), ReadOptions::default()).is_ok());
    let e = read_bytes(line(4301).as_bytes(), ReadOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("line 1, column 7: Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits"),
        "{e}"
    );
    let opts = ReadOptions {
        max_int_digits: 0,
        ..ReadOptions::default()
    };
    let rows = read_bytes(line(20_000).as_bytes(), opts).unwrap();
    assert!(matches!(value(&rows, 0, "n"), Value::BigInt(b) if b.len() > 8_000));
}

#[test]
fn skippable_zstd_frames_are_skipped() {
    let skippable = |n: u8, len: u32| {
        let mut f = vec![0x50 + n, 0x2A, 0x4D, 0x18];
        f.extend(len.to_le_bytes());
        f.extend(std::iter::repeat_n(0xAB, len as usize));
        f
    };
    let frame = |from: usize, to: usize| {
        ruzstd::encoding::compress_to_vec(
            &records(to)[records(from).len()..],
            ruzstd::encoding::CompressionLevel::Fastest,
        )
    };
    let data = [
        skippable(0, 5),
        frame(0, 10),
        skippable(15, 0),
        skippable(3, 20),
        frame(10, 25),
        skippable(1, 8),
    ]
    .concat();
    let want: Vec<Value> = (0..25).map(|i| Value::Int(1000 + 7 * i)).collect();
    assert_eq!(read_file("s.jsonl.zst", &data).unwrap(), want);
    assert_eq!(read_file("s.jsonl.zst", &skippable(2, 9)).unwrap(), []);
    let cut = &data[..data.len() - 3];
    let e = read_file("s.jsonl.zst", cut).unwrap_err();
    assert!(matches!(e, StreamError::Corrupt { .. }), "{e}");
}
