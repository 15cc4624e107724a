//! [`NumArray`]: a growable on-disk array of fixed-width numbers, mapped read-write.
//!
//! ```text
//! header  64 bytes: magic "MSLMARR\0" | version u32 | dtype code u32 | length u64
//!                   | reserved (zeros) | crc32 of bytes 0..60 at 60
//! values  little-endian, `width` bytes each, from byte 64; the file may be longer than
//!         the length (capacity for growth)
//! ```
//!
//! Growth enlarges the file (by half its size, at least a page) and maps it again; the
//! file never shrinks. [`NumArray::flush`] writes the values back (`msync`), then the
//! header with the new length: appends up to a completed flush survive a crash, later
//! ones are dropped. An element overwritten in place between flushes may or may not
//! reach the disk if the process dies (the page cache decides).

use std::cmp::Ordering;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memslim_records::number::int_vs_float;

use crate::error::{MmapError, Result, io, open_to_read};
use crate::map::{ReadMap, WriteMap};
use crate::view::Positions;

const MAGIC: &[u8; 8] = b"MSLMARR\0";
const VERSION: u32 = 1;
/// Header bytes before the values.
pub const HEADER: usize = 64;

/// The element type of a [`NumArray`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumType {
    /// `int8`
    I8,
    /// `int16`
    I16,
    /// `int32`
    I32,
    /// `int64`
    I64,
    /// `uint8`
    U8,
    /// `uint16`
    U16,
    /// `uint32`
    U32,
    /// `uint64`
    U64,
    /// `float32`
    F32,
    /// `float64`
    F64,
    /// `bool`, one byte, 0 or 1
    Bool,
}

const ALL: [NumType; 11] = [
    NumType::I8,
    NumType::I16,
    NumType::I32,
    NumType::I64,
    NumType::U8,
    NumType::U16,
    NumType::U32,
    NumType::U64,
    NumType::F32,
    NumType::F64,
    NumType::Bool,
];

impl NumType {
    /// The dtype's name (`"int64"`, ..., `"bool"`), as numpy spells it.
    pub fn name(self) -> &'static str {
        match self {
            NumType::I8 => "int8",
            NumType::I16 => "int16",
            NumType::I32 => "int32",
            NumType::I64 => "int64",
            NumType::U8 => "uint8",
            NumType::U16 => "uint16",
            NumType::U32 => "uint32",
            NumType::U64 => "uint64",
            NumType::F32 => "float32",
            NumType::F64 => "float64",
            NumType::Bool => "bool",
        }
    }

    /// The dtype named `name`.
    ///
    /// # Errors
    /// [`MmapError::Value`] listing the names.
    pub fn parse(name: &str) -> Result<NumType> {
        ALL.iter()
            .copied()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|t| t.name()).collect();
                MmapError::Value(format!(
                    "unknown dtype {name:?} (expected one of {})",
                    names.join(", ")
                ))
            })
    }

    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            NumType::I8 | NumType::U8 | NumType::Bool => 1,
            NumType::I16 | NumType::U16 => 2,
            NumType::I32 | NumType::U32 | NumType::F32 => 4,
            NumType::I64 | NumType::U64 | NumType::F64 => 8,
        }
    }

    /// The `struct` module format character (buffer protocol, little-endian build).
    pub fn format(self) -> &'static str {
        match self {
            NumType::I8 => "b",
            NumType::I16 => "h",
            NumType::I32 => "i",
            NumType::I64 => "q",
            NumType::U8 => "B",
            NumType::U16 => "H",
            NumType::U32 => "I",
            NumType::U64 => "Q",
            NumType::F32 => "f",
            NumType::F64 => "d",
            NumType::Bool => "?",
        }
    }

    fn code(self) -> u32 {
        ALL.iter().position(|t| *t == self).unwrap_or(0) as u32 + 1
    }

    fn from_code(c: u32) -> Option<NumType> {
        ALL.get((c as usize).checked_sub(1)?).copied()
    }
}

/// One element value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// A signed integer (or an unsigned one that fits `i64`).
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Num {
    fn describe(self) -> String {
        match self {
            Num::Int(v) => v.to_string(),
            Num::UInt(v) => v.to_string(),
            Num::Float(v) => format!("{v:?}"),
            Num::Bool(v) => if v { "True" } else { "False" }.into(),
        }
    }
}

fn int_bytes(t: NumType, v: i128, out: &mut [u8; 8]) -> Option<()> {
    match t {
        NumType::I8 => out[..1].copy_from_slice(&i8::try_from(v).ok()?.to_le_bytes()),
        NumType::I16 => out[..2].copy_from_slice(&i16::try_from(v).ok()?.to_le_bytes()),
        NumType::I32 => out[..4].copy_from_slice(&i32::try_from(v).ok()?.to_le_bytes()),
        NumType::I64 => out[..8].copy_from_slice(&i64::try_from(v).ok()?.to_le_bytes()),
        NumType::U8 => out[..1].copy_from_slice(&u8::try_from(v).ok()?.to_le_bytes()),
        NumType::U16 => out[..2].copy_from_slice(&u16::try_from(v).ok()?.to_le_bytes()),
        NumType::U32 => out[..4].copy_from_slice(&u32::try_from(v).ok()?.to_le_bytes()),
        NumType::U64 => out[..8].copy_from_slice(&u64::try_from(v).ok()?.to_le_bytes()),
        NumType::F32 => out[..4].copy_from_slice(&(v as f32).to_le_bytes()),
        NumType::F64 => out[..8].copy_from_slice(&(v as f64).to_le_bytes()),
        NumType::Bool => out[0] = u8::try_from(v).ok().filter(|b| *b <= 1)?,
    }
    Some(())
}

/// `value` as the bytes of one `t` element (the first `t.width()` bytes of the result).
///
/// # Errors
/// [`MmapError::Value`] naming the value if it does not fit: out of range for an int
/// type, a float into an int type, anything but a bool or 0/1 into `bool`.
pub fn encode(t: NumType, value: Num) -> Result<[u8; 8]> {
    let mut out = [0u8; 8];
    let ok = match (t, value) {
        (NumType::F32, Num::Float(f)) => {
            out[..4].copy_from_slice(&(f as f32).to_le_bytes());
            Some(())
        }
        (NumType::F64, Num::Float(f)) => {
            out.copy_from_slice(&f.to_le_bytes());
            Some(())
        }
        (_, Num::Float(_)) => None,
        (NumType::Bool, Num::Bool(b)) => {
            out[0] = u8::from(b);
            Some(())
        }
        (_, Num::Bool(b)) => int_bytes(t, i128::from(b), &mut out),
        (_, Num::Int(v)) => int_bytes(t, i128::from(v), &mut out),
        (_, Num::UInt(v)) => int_bytes(t, i128::from(v), &mut out),
    };
    ok.map(|()| out).ok_or_else(|| {
        MmapError::Value(format!(
            "{} does not fit an array of {}",
            value.describe(),
            t.name()
        ))
    })
}

/// The element of type `t` in `b` (at least `t.width()` bytes).
pub fn decode(t: NumType, b: &[u8]) -> Num {
    let mut a = [0u8; 8];
    a[..t.width()].copy_from_slice(&b[..t.width()]);
    match t {
        NumType::I8 => Num::Int(i8::from_le_bytes([a[0]]).into()),
        NumType::I16 => Num::Int(i16::from_le_bytes([a[0], a[1]]).into()),
        NumType::I32 => Num::Int(i32::from_le_bytes([a[0], a[1], a[2], a[3]]).into()),
        NumType::I64 => Num::Int(i64::from_le_bytes(a)),
        NumType::U8 => Num::Int(a[0].into()),
        NumType::U16 => Num::Int(u16::from_le_bytes([a[0], a[1]]).into()),
        NumType::U32 => Num::Int(u32::from_le_bytes([a[0], a[1], a[2], a[3]]).into()),
        NumType::U64 => {
            let v = u64::from_le_bytes(a);
            i64::try_from(v).map_or(Num::UInt(v), Num::Int)
        }
        NumType::F32 => Num::Float(f32::from_le_bytes([a[0], a[1], a[2], a[3]]).into()),
        NumType::F64 => Num::Float(f64::from_le_bytes(a)),
        NumType::Bool => Num::Bool(a[0] != 0),
    }
}

/// `a == b` as Python compares numbers: ints (bools among them) and floats each among
/// themselves, an int and a float exactly (`2**53 + 1 != 2.0**53`, not through a
/// rounded conversion), a NaN equal to nothing.
fn num_eq(a: Num, b: Num) -> bool {
    /// An int's exact value, or the float.
    fn exact(n: Num) -> Result<i128, f64> {
        match n {
            Num::Int(v) => Ok(v.into()),
            Num::UInt(v) => Ok(v.into()),
            Num::Bool(v) => Ok(v.into()),
            Num::Float(v) => Err(v),
        }
    }
    match (exact(a), exact(b)) {
        (Ok(x), Ok(y)) => x == y,
        (Err(x), Err(y)) => x == y,
        (Ok(i), Err(f)) | (Err(f), Ok(i)) => int_vs_float(i, f) == Some(Ordering::Equal),
    }
}

enum Map {
    Read(ReadMap),
    Write(WriteMap, File),
}

/// A growable array of numbers in a file, mapped into memory.
///
/// # Memory
/// Owns only this struct; the values live in the map (page cache), which grows by half
/// its size when full.
pub struct NumArray {
    path: PathBuf,
    dtype: NumType,
    len: usize,
    /// Length recorded in the header at the last flush.
    durable_len: usize,
    capacity: usize,
    map: Option<Map>,
}

fn header(t: NumType, len: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&t.code().to_le_bytes());
    h[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    let crc = crc32fast::hash(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    h
}

impl NumArray {
    /// Opens the array at `path`; `writable` creates it if missing (with `dtype`, which
    /// is then required) and takes the exclusive writer lock.
    ///
    /// # Errors
    /// [`MmapError::Io`], [`MmapError::Locked`], [`MmapError::NotOurs`],
    /// [`MmapError::FutureVersion`], [`MmapError::Corrupt`], [`MmapError::Value`] if
    /// `dtype` differs from the file's or is missing for a new file.
    pub fn open(path: impl AsRef<Path>, dtype: Option<NumType>, writable: bool) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let file = if writable {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        } else {
            open_to_read(&path)
        }
        .map_err(io(&path))?;
        if writable {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(MmapError::Locked { path });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
            }
        }
        let mut file_len = file.metadata().map_err(io(&path))?.len();
        if file_len == 0 && writable {
            let t = dtype.ok_or_else(|| MmapError::Value("a new array needs a dtype".into()))?;
            let size = HEADER as u64 + 4096;
            use std::os::unix::fs::FileExt;
            file.set_len(size)
                .and_then(|()| file.write_all_at(&header(t, 0), 0))
                .and_then(|()| file.sync_all())
                .map_err(io(&path))?;
            file_len = size;
        }
        if file_len < HEADER as u64 {
            return Err(MmapError::NotOurs {
                path,
                reason: "too short for a memslim array".into(),
            });
        }
        let map = if writable {
            Map::Write(WriteMap::new(&file, file_len, &path)?, file)
        } else {
            Map::Read(ReadMap::new(&file, file_len, &path)?)
        };
        let bytes = match &map {
            Map::Read(m) => m.bytes(),
            Map::Write(m, _) => m.bytes(),
        };
        let h = &bytes[..HEADER];
        if &h[..8] != MAGIC {
            return Err(MmapError::NotOurs {
                path,
                reason: "not a memslim array".into(),
            });
        }
        if crc32fast::hash(&h[..60]) != u32::from_le_bytes([h[60], h[61], h[62], h[63]]) {
            return Err(MmapError::Corrupt {
                path,
                offset: 0,
                reason: "array header checksum mismatch".into(),
            });
        }
        let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if version > VERSION {
            return Err(MmapError::FutureVersion {
                path,
                found: version,
                supported: VERSION,
            });
        }
        let code = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        let t = NumType::from_code(code).ok_or_else(|| MmapError::Corrupt {
            path: path.clone(),
            offset: 12,
            reason: format!("unknown dtype code {code}"),
        })?;
        if let Some(want) = dtype {
            if want != t {
                return Err(MmapError::Value(format!(
                    "{}: the file holds {}, not {}",
                    path.display(),
                    t.name(),
                    want.name()
                )));
            }
        }
        let mut l = [0u8; 8];
        l.copy_from_slice(&h[16..24]);
        let len = u64::from_le_bytes(l);
        let capacity = (file_len as usize - HEADER) / t.width();
        if len > capacity as u64 {
            return Err(MmapError::Corrupt {
                path,
                offset: 16,
                reason: format!("length {len} beyond the file's {capacity} elements"),
            });
        }
        Ok(NumArray {
            path,
            dtype: t,
            len: len as usize,
            durable_len: len as usize,
            capacity,
            map: Some(map),
        })
    }

    /// The element type.
    pub fn dtype(&self) -> NumType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements that fit before the file must grow.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether it was opened for writing.
    pub fn is_writable(&self) -> bool {
        matches!(self.map, Some(Map::Write(..)))
    }

    /// Whether [`NumArray::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.map.is_none()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The values' bytes (`len * width`), e.g. for a buffer export.
    ///
    /// # Errors
    /// [`MmapError::Closed`].
    pub fn as_bytes(&self) -> Result<&[u8]> {
        let n = self.len * self.dtype.width();
        Ok(match self.map.as_ref().ok_or(MmapError::Closed)? {
            Map::Read(m) => &m.bytes()[HEADER..HEADER + n],
            Map::Write(m, _) => &m.bytes()[HEADER..HEADER + n],
        })
    }

    fn write_map(&mut self) -> Result<(&mut WriteMap, &File)> {
        match self.map.as_mut().ok_or(MmapError::Closed)? {
            Map::Write(m, f) => Ok((m, f)),
            Map::Read(_) => Err(MmapError::ReadOnly(self.path.clone())),
        }
    }

    fn check_index(&self, i: usize) -> Result<()> {
        if i >= self.len {
            return Err(memslim_records::RecordsError::IndexOutOfRange {
                index: i,
                len: self.len,
            }
            .into());
        }
        Ok(())
    }

    /// Element `i`.
    ///
    /// # Errors
    /// [`MmapError::Records`] (index out of range), [`MmapError::Closed`].
    pub fn get(&self, i: usize) -> Result<Num> {
        self.check_index(i)?;
        let w = self.dtype.width();
        Ok(decode(self.dtype, &self.as_bytes()?[i * w..]))
    }

    /// The first position in `start..stop` (clamped) holding a value equal to `v` (as
    /// Python compares numbers: `1 == 1.0 == True`), and how many there are in total.
    ///
    /// # Errors
    /// [`MmapError::Closed`].
    pub fn find(&self, v: Num, start: usize, stop: usize) -> Result<(Option<usize>, usize)> {
        let w = self.dtype.width();
        let bytes = self.as_bytes()?;
        let stop = stop.min(self.len);
        let mut first = None;
        let mut count = 0;
        for i in start.min(stop)..stop {
            if num_eq(decode(self.dtype, &bytes[i * w..]), v) {
                first.get_or_insert(i);
                count += 1;
            }
        }
        Ok((first, count))
    }

    /// Sets element `i`.
    ///
    /// # Errors
    /// As [`NumArray::get`], [`MmapError::ReadOnly`], [`MmapError::Value`].
    pub fn set(&mut self, i: usize, v: Num) -> Result<()> {
        self.check_index(i)?;
        let b = encode(self.dtype, v)?;
        let w = self.dtype.width();
        let (m, _) = self.write_map()?;
        m.bytes_mut()[HEADER + i * w..HEADER + (i + 1) * w].copy_from_slice(&b[..w]);
        Ok(())
    }

    /// The elements at `at` (a slice `a[i:j:k]`, normalized), in order.
    ///
    /// # Errors
    /// As [`NumArray::get`] for a position past the end.
    ///
    /// # Memory
    /// One `Num` (16 bytes) per element.
    pub fn get_at(&self, at: Positions) -> Result<Vec<Num>> {
        if at.len == 0 {
            return Ok(Vec::new());
        }
        // Positions run one way: the first and the last bound them all.
        self.check_index(at.at(0))?;
        self.check_index(at.at(at.len - 1))?;
        let (w, bytes) = (self.dtype.width(), self.as_bytes()?);
        Ok((0..at.len)
            .map(|k| decode(self.dtype, &bytes[at.at(k) * w..]))
            .collect())
    }

    /// Sets the elements at `at` to `values`, one each, in order. Every value is checked
    /// against the dtype first, so a bad one changes nothing.
    ///
    /// # Errors
    /// [`MmapError::Value`] if `values` are not `at.len` values (an array does not change
    /// size through a slice) or one does not fit the dtype; as [`NumArray::set`].
    pub fn set_at(&mut self, at: Positions, values: &[Num]) -> Result<()> {
        if values.len() != at.len {
            return Err(MmapError::Value(format!(
                "a number file cannot change size by slice assignment: {} values for {} \
                 positions",
                values.len(),
                at.len
            )));
        }
        for v in values {
            encode(self.dtype, *v)?;
        }
        for (k, v) in values.iter().enumerate() {
            self.set(at.at(k), *v)?;
        }
        Ok(())
    }

    /// Whether appending `n` more elements needs the file to grow (and the map to move).
    pub fn needs_growth(&self, n: usize) -> bool {
        self.len.saturating_add(n) > self.capacity
    }

    fn reserve(&mut self, n: usize) -> Result<()> {
        if !self.needs_growth(n) {
            return Ok(());
        }
        let w = self.dtype.width();
        let want = self.len + n;
        let grown = (self.capacity + self.capacity / 2).max(want).max(4096 / w);
        let path = self.path.clone();
        let map = self.map.take().ok_or(MmapError::Closed)?;
        let Map::Write(old, file) = map else {
            self.map = Some(map);
            return Err(MmapError::ReadOnly(path));
        };
        drop(old);
        let size = (HEADER + grown * w) as u64;
        let remapped = file
            .set_len(size)
            .map_err(io(&path))
            .and_then(|()| WriteMap::new(&file, size, &path));
        match remapped {
            Ok(m) => {
                self.map = Some(Map::Write(m, file));
                self.capacity = grown;
                Ok(())
            }
            Err(e) => {
                // The file is at least its old size; map that again.
                let old_size = (HEADER + self.capacity * w) as u64;
                let m = WriteMap::new(&file, old_size, &path)?;
                self.map = Some(Map::Write(m, file));
                Err(e)
            }
        }
    }

    /// Appends values (all or none: a value that does not fit appends nothing).
    ///
    /// # Errors
    /// [`MmapError::Value`], [`MmapError::ReadOnly`], [`MmapError::Io`] if the file
    /// cannot grow (a full disk).
    pub fn extend(&mut self, values: &[Num]) -> Result<()> {
        let t = self.dtype;
        let w = t.width();
        let encoded = values
            .iter()
            .map(|v| encode(t, *v))
            .collect::<Result<Vec<_>>>()?;
        self.write_map()?;
        self.reserve(values.len())?;
        let start = self.len;
        let (m, _) = self.write_map()?;
        let bytes = m.bytes_mut();
        for (k, b) in encoded.iter().enumerate() {
            let at = HEADER + (start + k) * w;
            bytes[at..at + w].copy_from_slice(&b[..w]);
        }
        self.len += values.len();
        Ok(())
    }

    /// Appends one value.
    ///
    /// # Errors
    /// As [`NumArray::extend`].
    pub fn push(&mut self, v: Num) -> Result<()> {
        self.extend(&[v])
    }

    /// Removes the last `n` elements (the file keeps its size).
    ///
    /// # Errors
    /// [`MmapError::ReadOnly`], [`MmapError::Closed`].
    pub fn truncate(&mut self, n: usize) -> Result<()> {
        self.write_map()?;
        self.len = self.len.min(n);
        Ok(())
    }

    /// Writes the values back to the file, then the header with the current length.
    /// Appends are durable when it returns.
    ///
    /// # Errors
    /// [`MmapError::Io`]; the header then still holds the previous length.
    pub fn flush(&mut self) -> Result<()> {
        let (t, len, path) = (self.dtype, self.len, self.path.clone());
        let w = t.width();
        let (m, _) = self.write_map()?;
        m.flush_range(HEADER, HEADER + len * w, &path)?;
        m.bytes_mut()[..HEADER].copy_from_slice(&header(t, len));
        m.flush_range(0, HEADER, &path)?;
        self.durable_len = len;
        Ok(())
    }

    /// Flushes (if writable) and unmaps; the lock is released.
    ///
    /// # Errors
    /// As [`NumArray::flush`]; the array is closed even then, holding what the last
    /// successful flush recorded.
    pub fn close(&mut self) -> Result<()> {
        if self.is_closed() {
            return Ok(());
        }
        let flushed = if self.is_writable() {
            self.flush()
        } else {
            Ok(())
        };
        self.map = None;
        flushed
    }
}
