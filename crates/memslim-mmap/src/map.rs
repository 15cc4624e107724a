//! The only module with `unsafe` code: mapping files, and handing out Arrow buffers
//! that point into a map.
//!
//! A map is only ever made over bytes the file is known to hold (the committed length),
//! and memslim never shrinks a file below what it has mapped, so reading a map cannot run
//! past the end of the file (which would be a SIGBUS). Another program truncating the file
//! while it is mapped breaks that promise; see the crate docs.

use std::fs::File;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_buffer::Buffer;
use memmap2::{Mmap, MmapMut, MmapOptions};

use crate::error::{Result, io};

/// A read-only map of the first `len` bytes of a file, shared by every buffer cut from it.
#[derive(Clone)]
pub(crate) struct ReadMap {
    map: Option<Arc<Mmap>>,
}

impl ReadMap {
    /// An empty map (nothing committed yet).
    pub(crate) fn empty() -> Self {
        ReadMap { map: None }
    }

    /// Maps the first `len` bytes of `file`. The caller has checked that the file holds
    /// at least `len` bytes.
    pub(crate) fn new(file: &File, len: u64, path: &Path) -> Result<Self> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let len = usize::try_from(len).map_err(|_| crate::MmapError::Unsupported {
            path: path.to_owned(),
            reason: "file larger than the address space".into(),
        })?;
        // SAFETY: the map is read-only and covers only bytes the file holds (checked by
        // the caller against its length). memslim writers only append past the committed
        // length and only truncate bytes beyond it, so these bytes never change or vanish
        // while mapped by memslim; a foreign program truncating the file is documented as
        // unsupported.
        let map = unsafe { MmapOptions::new().len(len).map(file) }.map_err(io(path))?;
        Ok(ReadMap {
            map: Some(Arc::new(map)),
        })
    }

    /// Maps `len` bytes of `file` from `offset` (any offset: the map starts at the page
    /// boundary below it). The caller has checked that the file holds those bytes.
    pub(crate) fn range(file: &File, offset: u64, len: u64, path: &Path) -> Result<Self> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let len = usize::try_from(len).map_err(|_| crate::MmapError::Unsupported {
            path: path.to_owned(),
            reason: "message larger than the address space".into(),
        })?;
        // SAFETY: as in `ReadMap::new`: read-only, within the committed bytes, which
        // memslim never changes or removes while they are committed.
        let map =
            unsafe { MmapOptions::new().offset(offset).len(len).map(file) }.map_err(io(path))?;
        Ok(ReadMap {
            map: Some(Arc::new(map)),
        })
    }

    /// Tells the kernel that reads of this map jump about: a page fault then maps only
    /// its own page, not the pages around it, so a read of a few values maps (and later
    /// unmaps) a few pages. Only a hint; failing to give it changes nothing.
    pub(crate) fn advise_random(&self) {
        if let Some(m) = &self.map {
            let _ = m.advise(memmap2::Advice::Random);
        }
    }

    /// Length of the map in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_ref().map_or(&[], |m| &m[..])
    }

    /// An Arrow buffer over `start..end` of the map that keeps the map alive.
    ///
    /// # Panics
    /// If the range is outside the map (callers check against the index first).
    pub(crate) fn buffer(&self, start: usize, end: usize) -> Buffer {
        let Some(map) = &self.map else {
            return Buffer::from_vec(Vec::<u8>::new());
        };
        let bytes = &map[start..end];
        let ptr = NonNull::new(bytes.as_ptr() as *mut u8).unwrap_or(NonNull::dangling());
        let owner: Arc<dyn arrow_buffer::alloc::Allocation> = Arc::new(Arc::clone(map));
        // SAFETY: `bytes` is a live, initialized range of a read-only map; the buffer
        // holds an `Arc` of the map, so the map (and the range) outlives the buffer. The
        // mapped bytes are never written while mapped (see `ReadMap::new`).
        unsafe { Buffer::from_custom_allocation(ptr, bytes.len(), owner) }
    }
}

/// A writable shared map of a whole file (used by on-disk number arrays).
pub(crate) struct WriteMap {
    map: Option<MmapMut>,
}

impl WriteMap {
    /// Maps all of `file`, which holds `len` bytes.
    pub(crate) fn new(file: &File, len: u64, path: &Path) -> Result<Self> {
        if len == 0 {
            return Ok(WriteMap { map: None });
        }
        let len = usize::try_from(len).map_err(|_| crate::MmapError::Unsupported {
            path: path.to_owned(),
            reason: "file larger than the address space".into(),
        })?;
        // SAFETY: the file is `len` bytes long (the caller just sized it) and the caller
        // holds the exclusive writer lock, so no memslim process shrinks it while mapped;
        // all access goes through this map's slices.
        let map = unsafe { MmapOptions::new().len(len).map_mut(file) }.map_err(io(path))?;
        Ok(WriteMap { map: Some(map) })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_ref().map_or(&[], |m| &m[..])
    }

    /// The mapped bytes, writable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        self.map.as_mut().map_or(&mut [], |m| &mut m[..])
    }

    /// Writes dirty pages of `start..end` back to the file and waits for the disk.
    pub(crate) fn flush_range(&self, start: usize, end: usize, path: &Path) -> Result<()> {
        if let Some(m) = &self.map {
            if end > start {
                m.flush_range(start, end - start).map_err(io(path))?;
            }
        }
        Ok(())
    }
}
