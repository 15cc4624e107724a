//! The unsafe edge of the mmap bindings: filling a `Py_buffer` for `NumberFile`.

use std::ffi::{CStr, c_int, c_void};

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// What a buffer export describes: `len` bytes at `ptr`, elements of `itemsize` bytes
/// in `struct` format `format`.
pub(crate) struct Export {
    pub(crate) ptr: *const u8,
    pub(crate) len: usize,
    pub(crate) itemsize: usize,
    pub(crate) format: &'static CStr,
    pub(crate) readonly: bool,
}

/// Fills `view` for a one-dimensional, contiguous export of `ex` owned by `owner`.
///
/// # Safety
/// `view` must be the `Py_buffer` CPython passed to `bf_getbuffer`; `ex.ptr` must stay
/// valid for `ex.len` bytes until the matching [`release`] (the caller refuses to move
/// or unmap its data while exports exist).
pub(crate) unsafe fn fill(
    owner: &Bound<'_, PyAny>,
    view: *mut ffi::Py_buffer,
    flags: c_int,
    ex: &Export,
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("no buffer view"));
    }
    if ex.readonly && (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
        return Err(PyBufferError::new_err(
            "the NumberFile was opened read-only",
        ));
    }
    let n = ex.len / ex.itemsize.max(1);
    // shape and strides live as long as the export: freed in `release`.
    let dims: Box<[ffi::Py_ssize_t; 2]> = Box::new([n as ffi::Py_ssize_t, ex.itemsize as _]);
    let dims = Box::into_raw(dims);
    // SAFETY: `view` is non-null and points to the Py_buffer CPython handed us to fill;
    // every field is written before returning. `owner` gets a new reference that the
    // view holds (CPython drops it in PyBuffer_Release). `dims` is a live allocation
    // until `release` frees it.
    unsafe {
        (*view).obj = owner.clone().into_ptr();
        (*view).buf = ex.ptr as *mut c_void;
        (*view).len = ex.len as ffi::Py_ssize_t;
        (*view).readonly = c_int::from(ex.readonly);
        (*view).itemsize = ex.itemsize as ffi::Py_ssize_t;
        (*view).format = if (flags & ffi::PyBUF_FORMAT) == ffi::PyBUF_FORMAT {
            ex.format.as_ptr() as *mut _
        } else {
            std::ptr::null_mut()
        };
        (*view).ndim = 1;
        (*view).shape = if (flags & ffi::PyBUF_ND) == ffi::PyBUF_ND {
            &mut (*dims)[0]
        } else {
            std::ptr::null_mut()
        };
        (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES {
            &mut (*dims)[1]
        } else {
            std::ptr::null_mut()
        };
        (*view).suboffsets = std::ptr::null_mut();
        (*view).internal = dims.cast();
    }
    Ok(())
}

/// Frees what [`fill`] allocated for `view`.
///
/// # Safety
/// `view` must be a view filled by [`fill`], released once.
pub(crate) unsafe fn release(view: *mut ffi::Py_buffer) {
    if view.is_null() {
        return;
    }
    // SAFETY: `internal` is the `Box<[Py_ssize_t; 2]>` that `fill` leaked for this view
    // (or null); CPython calls release exactly once per successful getbuffer.
    unsafe {
        let dims = (*view).internal.cast::<[ffi::Py_ssize_t; 2]>();
        if !dims.is_null() {
            drop(Box::from_raw(dims));
            (*view).internal = std::ptr::null_mut();
        }
    }
}
