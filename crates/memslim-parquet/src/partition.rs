//! Hive partitions: `key=value` directory names, and the files of a dataset.

use std::path::{Path, PathBuf};

use memslim_records::variant::{self, Value};
use memslim_records::{Cell, CellRef};

use crate::error::{ParquetError, Result, io};

/// The directory value Hive, Spark and pyarrow use for a null partition value.
pub(crate) const NULL_DIR: &str = "__HIVE_DEFAULT_PARTITION__";

/// The value of a partition column, shared by every record of one part file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PartValue {
    /// `None` or a record lacking the key (the file's absent bitmap tells which).
    Null,
    /// A bool (`true` / `false` in the directory name).
    Bool(bool),
    /// An int.
    Int(i64),
    /// A string.
    Str(String),
}

impl PartValue {
    /// The partition value of `cell` of field `field`.
    ///
    /// # Errors
    /// [`ParquetError::Invalid`] for values that cannot name a directory exactly
    /// (floats, bytes, nested values).
    pub(crate) fn of(field: &str, cell: CellRef<'_>) -> Result<PartValue> {
        Ok(match cell {
            CellRef::Absent | CellRef::Null => PartValue::Null,
            CellRef::Bool(b) => PartValue::Bool(b),
            CellRef::Int(v) => PartValue::Int(v),
            CellRef::Str(s) | CellRef::DictStr(_, s) => PartValue::Str(s.to_owned()),
            // A column mixing types keeps them variant-encoded.
            CellRef::Encoded(b) => match variant::decode(b) {
                Ok(Value::None) => PartValue::Null,
                Ok(Value::Bool(b)) => PartValue::Bool(b),
                Ok(Value::Int(v)) => PartValue::Int(v),
                Ok(Value::Str(s)) => PartValue::Str(s),
                _ => {
                    return Err(ParquetError::Invalid(format!(
                        "partition_by field {field:?}: a value that is not a str, int, bool \
                         or None cannot name a directory"
                    )));
                }
            },
            other => {
                let name = other.to_cell().map_or("value", |c| c.type_name());
                return Err(ParquetError::Invalid(format!(
                    "partition_by field {field:?}: a {name} cannot name a directory \
                     (partition by str, int, bool or None values)"
                )));
            }
        })
    }

    /// Whether `cell` is this value (`cell` never absent: callers check first).
    pub(crate) fn matches(&self, cell: CellRef<'_>) -> bool {
        match (self, cell) {
            (PartValue::Null, CellRef::Absent | CellRef::Null) => true,
            (PartValue::Bool(a), CellRef::Bool(b)) => *a == b,
            (PartValue::Int(a), CellRef::Int(b)) => *a == b,
            (PartValue::Str(a), CellRef::Str(b) | CellRef::DictStr(_, b)) => a == b,
            _ => false,
        }
    }

    /// The one-letter type tag in `memslim.partition`.
    pub(crate) fn tag(&self) -> char {
        match self {
            PartValue::Null => 'n',
            PartValue::Bool(_) => 'b',
            PartValue::Int(_) => 'i',
            PartValue::Str(_) => 's',
        }
    }

    /// The directory value (percent-encoded, as pyarrow's `segment_encoding="uri"`).
    pub(crate) fn dir_value(&self) -> String {
        match self {
            PartValue::Null => NULL_DIR.to_owned(),
            PartValue::Bool(b) => b.to_string(),
            PartValue::Int(v) => v.to_string(),
            // The string that names the null directory gets a directory of its own
            // (its first byte escaped, which decoding undoes).
            PartValue::Str(s) if s == NULL_DIR => format!("%5F{}", &NULL_DIR[1..]),
            PartValue::Str(s) => encode(s),
        }
    }

    /// Reads a decoded directory value with the type `tag` (`None`: infer, with `ints`
    /// saying whether every value of this key in the input is an integer).
    pub(crate) fn parse(raw: &str, tag: Option<char>, ints: bool) -> PartValue {
        // The null directory, unless the file's own metadata says its value is another
        // type (a string of that text, written under its escaped name).
        if raw == NULL_DIR && matches!(tag, None | Some('n')) {
            return PartValue::Null;
        }
        match tag {
            Some('n') => PartValue::Null,
            Some('b') if raw == "true" || raw == "false" => PartValue::Bool(raw == "true"),
            Some('i') => {
                canonical_int(raw).map_or_else(|| PartValue::Str(raw.to_owned()), PartValue::Int)
            }
            Some(_) => PartValue::Str(raw.to_owned()),
            None if ints => {
                canonical_int(raw).map_or_else(|| PartValue::Str(raw.to_owned()), PartValue::Int)
            }
            None => PartValue::Str(raw.to_owned()),
        }
    }

    /// The value as a cell.
    pub(crate) fn cell(&self) -> Cell<'_> {
        match self {
            PartValue::Null => Cell::Null,
            PartValue::Bool(b) => Cell::Bool(*b),
            PartValue::Int(v) => Cell::Int(*v),
            PartValue::Str(s) => Cell::Str(s),
        }
    }
}

/// The int a directory value is the canonical decimal text of (`-12`, `0`; not `+12`,
/// `012`, `-0` or ` 12`): only these are read as ints, so that two directories never
/// read as one value and each value names its directory again.
pub(crate) fn canonical_int(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|v| v.to_string() == raw)
}

/// Percent-encodes every byte but ASCII letters, digits and `-_.~`.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The directory name of partition field `name`: [`encode`]d, with a leading `_` or
/// `.` escaped too (`%5F`, `%2E`), since readers (memslim's, Hive's, pyarrow's) skip
/// names starting with them as hidden. [`decode`] gives `name` back.
pub(crate) fn encode_key(name: &str) -> String {
    let out = encode(name);
    match out.as_bytes().first() {
        Some(b'_') => format!("%5F{}", &out[1..]),
        Some(b'.') => format!("%2E{}", &out[1..]),
        _ => out,
    }
}

/// Undoes [`encode`] (and any `%XX`); invalid escapes and non-UTF-8 results stay as
/// they are.
pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// One file of a dataset and its partition keys (decoded names and raw values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The file.
    pub path: PathBuf,
    /// `key=value` directories between the input root and the file, outermost first.
    pub keys: Vec<(String, String)>,
}

fn hidden(name: &std::ffi::OsStr) -> bool {
    let n = name.to_string_lossy();
    n.starts_with('.') || n.starts_with('_')
}

/// The key a directory is read in the order of: by name, except that the last run of
/// digits in a name counts as a number among names that are the same before it, so
/// that part `…-100000` comes after `…-99999` (a writer numbers its parts from `00000`
/// on; pyarrow's `part-{i}` counts from 0 unpadded). A plain tuple, so a total order.
type NameKey = (Vec<u8>, Option<(usize, Vec<u8>)>, Vec<u8>, Vec<u8>);

fn name_key(name: &std::ffi::OsStr) -> NameKey {
    let n = name.as_encoded_bytes();
    let Some(end) = n.iter().rposition(u8::is_ascii_digit).map(|i| i + 1) else {
        return (n.to_vec(), None, Vec::new(), n.to_vec());
    };
    let start = n[..end]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let digits = &n[start..end];
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    let number = &digits[zeros..];
    (
        n[..start].to_vec(),
        Some((number.len(), number.to_vec())),
        n[end..].to_vec(),
        n.to_vec(),
    )
}

fn walk(dir: &Path, keys: &[(String, String)], out: &mut Vec<Part>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io(dir))?;
    entries.sort_by_cached_key(|e| name_key(&e.file_name()));
    for e in entries {
        let name = e.file_name();
        if hidden(&name) {
            continue;
        }
        let path = e.path();
        let ft = std::fs::metadata(&path).map_err(io(&path))?;
        if ft.is_dir() {
            let mut k = keys.to_vec();
            if let Some((key, value)) = name.to_string_lossy().split_once('=') {
                k.push((decode(key), decode(value)));
            }
            walk(&path, &k, out)?;
        } else if ft.is_file() {
            out.push(Part {
                path,
                keys: keys.to_vec(),
            });
        }
    }
    Ok(())
}

/// The files of `inputs` (files, or directories searched recursively in name order,
/// skipping names that start with `.` or `_` as Hive datasets do), with their
/// partition keys.
///
/// # Errors
/// [`ParquetError::Io`] naming a path that does not exist or cannot be listed.
pub fn dataset_files(inputs: &[PathBuf]) -> Result<Vec<Part>> {
    let mut out = Vec::new();
    for p in inputs {
        let meta = std::fs::metadata(p).map_err(io(p))?;
        if meta.is_dir() {
            walk(p, &[], &mut out)?;
        } else {
            out.push(Part {
                path: p.clone(),
                keys: Vec::new(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_read_in_name_order_with_the_last_number_counted() {
        let mut names: Vec<&str> = vec![
            "part-x-100000.parquet",
            "part-x-00001.parquet",
            "part-x-99999.parquet",
            "part-x-10000.parquet",
            "part-x-10001.parquet",
            "part-10.parquet",
            "part-9.parquet",
            "part-y-00000.parquet",
            "a",
            "p=1",
            "part-x-0100000.parquet",
        ];
        names.sort_by_cached_key(|n| name_key(n.as_ref()));
        assert_eq!(
            names,
            [
                "a",
                "p=1",
                "part-9.parquet",
                "part-10.parquet",
                "part-x-00001.parquet",
                "part-x-10000.parquet",
                "part-x-10001.parquet",
                "part-x-99999.parquet",
                "part-x-0100000.parquet",
                "part-x-100000.parquet",
                "part-y-00000.parquet",
            ]
        );
    }

    #[test]
    fn partition_fields_never_name_a_hidden_directory() {
        for s in ["_src", ".src", "__x", "._", "a_b", "a.b", "src"] {
            let k = encode_key(s);
            assert_eq!(decode(&k), s);
            assert!(!k.starts_with(['_', '.']), "{k}");
        }
        assert_eq!(encode_key("src_"), "src_");
    }

    #[test]
    fn directory_values_round_trip() {
        for s in ["DE", "a b/c=d%", "ü", "", "x.y-z_~"] {
            assert_eq!(decode(&encode(s)), s);
            assert!(!encode(s).contains('/'));
        }
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(PartValue::parse("7", None, true), PartValue::Int(7));
        assert_eq!(
            PartValue::parse("7", Some('s'), true),
            PartValue::Str("7".into())
        );
        assert_eq!(
            PartValue::parse("07", None, false),
            PartValue::Str("07".into())
        );
        assert_eq!(PartValue::parse(NULL_DIR, None, false), PartValue::Null);
        for raw in ["+1", "01", "-0", "-01", " 1", "1 ", "", "-", "0x1", "1_0"] {
            assert_eq!(canonical_int(raw), None, "{raw:?}");
            assert_eq!(
                PartValue::parse(raw, None, true),
                PartValue::Str(raw.into())
            );
            assert_eq!(
                PartValue::parse(raw, Some('i'), false),
                PartValue::Str(raw.into())
            );
        }
        for v in [0, 7, -7, i64::MAX, i64::MIN] {
            assert_eq!(canonical_int(&v.to_string()), Some(v));
        }
        assert_eq!(
            PartValue::parse("true", Some('b'), false),
            PartValue::Bool(true)
        );
    }
}
