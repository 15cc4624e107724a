//! Python face of the core's vectorized selection: `Column.count` / `index` / `in`
//! and `rows.where(field, op, value)`.
//!
//! A probe of an exact built-in type (`None`, `bool`, `int` within 64 bits, `float`,
//! `str`, `bytes`) is compared natively by the core ([`ColumnView::scan`]); the rows the
//! core cannot decide (values of host types, big ints, containers), and every row for a
//! probe of any other type, are compared here with Python's own `==` / `<` ..., so a
//! probe whose `__eq__` raises propagates the exception as a list would.

use memslim_records::{CellRef, CmpOp, RecordList};
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::convert::cell_to_py;

/// The probe as a core cell, when it is of an exact built-in type the core compares
/// (the one classification every caller uses, [`crate::scalar`]).
pub(crate) use crate::scalar::scalar_cell as probe;

fn compare_op(op: CmpOp) -> CompareOp {
    match op {
        CmpOp::Eq => CompareOp::Eq,
        CmpOp::Ne => CompareOp::Ne,
        CmpOp::Lt => CompareOp::Lt,
        CmpOp::Le => CompareOp::Le,
        CmpOp::Gt => CompareOp::Gt,
        CmpOp::Ge => CompareOp::Ge,
    }
}

/// `value <op> probe` in Python, the value one of this process's own.
fn py_verdict(value: CellRef<'_>, probe: &Bound<'_, PyAny>, op: CmpOp) -> PyResult<bool> {
    py_compare(&cell_to_py(probe.py(), value)?, probe, op)
}

/// `v <op> probe` in Python. For orderings, values of no common order (a `TypeError`)
/// do not match, as in the core; equality errors propagate.
pub(crate) fn py_compare(
    v: &Bound<'_, PyAny>,
    probe: &Bound<'_, PyAny>,
    op: CmpOp,
) -> PyResult<bool> {
    let py = probe.py();
    match v
        .rich_compare(probe, compare_op(op))
        .and_then(|r| r.is_truthy())
    {
        Ok(b) => Ok(b),
        Err(e) if !matches!(op, CmpOp::Eq | CmpOp::Ne) && e.is_instance_of::<PyTypeError>(py) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// `Column.count(value)`: values `== value`, absent keys reading as `None`.
pub(crate) fn not_in_column() -> PyErr {
    PyValueError::new_err("value is not in Column")
}

/// Rows of `list` whose `field` compares to `value` with `op` (ascending). A record
/// without the field matches only `!=`.
///
/// # Errors
/// `memslim.InvalidValueError` (a `ValueError`) for an unknown operator; whatever a Python comparison raises (except
/// `TypeError` from an ordering, which counts as no match).
pub(crate) fn where_rows(
    list: &RecordList,
    field: &str,
    op: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<Vec<usize>> {
    let op = parse_op(value.py(), op)?;
    list.where_rows_with(field, op, probe(value).as_ref(), |v| {
        py_verdict(v, value, op)
    })
}

/// The comparison `rows.where` names by `op`.
///
/// # Errors
/// `memslim.InvalidValueError` (a `ValueError`) for an unknown operator.
pub(crate) fn parse_op(py: Python<'_>, op: &str) -> PyResult<CmpOp> {
    CmpOp::parse(op).ok_or_else(|| {
        crate::errors::Class::InvalidValue.err(
            py,
            format!("unknown comparison {op:?} (use ==, !=, <, <=, >, >=)"),
        )
    })
}
