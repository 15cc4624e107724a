//! Size and count arguments (`batch_size=`, `chunk_rows=`, `max_line_bytes=`,
//! `row_group_size=`, `max_rows_per_file=`), read with `#[pyo3(from_py_with = ...)]` so
//! that every value below 1, negative or zero, raises `memslim.InvalidValueError` naming
//! the argument.
//!
//! A plain `usize` argument raises `OverflowError` for a negative int, which neither
//! `except ValueError` nor `except memslim.MemslimError` catches, while `0` raised
//! `InvalidValueError`. The argument keeps its `usize` type and literal default (which
//! `__text_signature__` and the stub show); only its extraction is ours.

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

use crate::errors::Class;

/// `ob` as a size of at least 1, `name` naming the argument in the error.
///
/// # Errors
/// `memslim.InvalidValueError` below 1; `OverflowError` past `usize`, and `TypeError`
/// for what is not an int, as for any `usize` argument.
fn at_least_one(ob: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let n: i128 = ob.extract()?;
    if n < 1 {
        return Err(Class::InvalidValue.err(ob.py(), format!("{name} must be at least 1, not {n}")));
    }
    usize::try_from(n).map_err(|_| PyOverflowError::new_err(format!("{name} {n} is too large")))
}

/// One extractor per argument name, for `#[pyo3(from_py_with = size::<name>)]`: `usize`,
/// or `Option<usize>` (`None` allowed) for the ones marked `optional`.
macro_rules! size_arguments {
    ($($name:ident),* ; optional $($opt:ident),*) => {
        $(
            #[doc = concat!("The `", stringify!($name), "=` argument, at least 1.")]
            pub(crate) fn $name(ob: &Bound<'_, PyAny>) -> PyResult<usize> {
                at_least_one(ob, stringify!($name))
            }
        )*
        $(
            #[doc = concat!("The `", stringify!($opt), "=` argument: `None`, or at least 1.")]
            pub(crate) fn $opt(ob: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
                if ob.is_none() {
                    return Ok(None);
                }
                at_least_one(ob, stringify!($opt)).map(Some)
            }
        )*
    };
}

size_arguments!(batch_size, max_line_bytes, row_group_size; optional chunk_rows, max_rows_per_file);
