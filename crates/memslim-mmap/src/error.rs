//! Errors of the mapped files: I/O (with the path), corruption (with the offset), locking.

use std::path::PathBuf;

use memslim_records::RecordsError;

/// Everything that can go wrong opening, reading or appending to a mapped file.
#[derive(Debug, thiserror::Error)]
pub enum MmapError {
    /// The operating system refused an operation on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file the operation was about.
        path: PathBuf,
        /// What the operating system said (its kind decides the Python class).
        source: std::io::Error,
    },
    /// The file's bytes are damaged: a checksum, a length or a message does not check out.
    #[error("{path}: corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What did not check out.
        reason: String,
    },
    /// The file is not a memslim or Arrow IPC file at all.
    #[error("{path}: not a memslim file: {reason}")]
    NotOurs {
        /// The file.
        path: PathBuf,
        /// Why it was not recognised.
        reason: String,
    },
    /// The file was written by a newer memslim.
    #[error("{path}: format version {found} is newer than this memslim supports ({supported})")]
    FutureVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Another writer (this process or another) holds the file.
    #[error("{path}: locked by another writer")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The list was opened read-only.
    #[error("{0}: opened read-only")]
    ReadOnly(PathBuf),
    /// The file was closed.
    #[error("the file is closed")]
    Closed,
    /// A record or value does not fit, or an index is out of range.
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// The file's Arrow schema or data cannot be used here.
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        reason: String,
    },
    /// Pending records hold values of a field that its committed Arrow type cannot store.
    #[error("field {field:?}: values do not fit the file's type {expected}")]
    FieldType {
        /// The field.
        field: String,
        /// The committed Arrow type (or "no such field").
        expected: String,
    },
    /// The memory to write a pending record holding a large value could not be had:
    /// nothing was written, the records stay pending.
    #[error(
        "{path}: row {row}, field {field:?}: cannot allocate {bytes} bytes to write a value of {len} bytes"
    )]
    OutOfMemory {
        /// The file.
        path: PathBuf,
        /// The record's row in the file.
        row: usize,
        /// The field of its largest value.
        field: String,
        /// That value's bytes.
        len: usize,
        /// The memory the write of its batch takes (saturated).
        bytes: usize,
    },
    /// A number does not fit the array's dtype, or a dtype name is unknown.
    #[error("{0}")]
    Value(String),
}

/// Result type of this crate.
pub type Result<T, E = MmapError> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> MmapError + '_ {
    move |source| MmapError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Opens `path` to read. A directory is refused here with
/// [`std::io::ErrorKind::IsADirectory`], as opening it to write is refused, rather than
/// opened and then failing to map (`ENODEV`, "No such device").
pub(crate) fn open_to_read(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use crate::{Mode, NumArray, RecordFile};

    #[test]
    fn a_directory_is_refused_as_one_in_every_mode() {
        let dir = std::env::temp_dir();
        let kind = |e: crate::MmapError| match e {
            crate::MmapError::Io { source, .. } => source.kind(),
            other => panic!("{other}"),
        };
        for mode in [Mode::Read, Mode::Append] {
            let e = RecordFile::open(&dir, mode).err().unwrap();
            assert_eq!(kind(e), std::io::ErrorKind::IsADirectory, "{mode:?}");
        }
        for writable in [false, true] {
            let e = NumArray::open(&dir, None, writable).err().unwrap();
            assert_eq!(kind(e), std::io::ErrorKind::IsADirectory, "{writable}");
        }
    }
}
