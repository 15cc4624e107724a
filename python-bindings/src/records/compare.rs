//! Records compared with Python values as a list compares its items, `x is y or x == y`:
//! the same stored record first, then by value, through Python where only it can tell.

use super::*;

impl Records {
    /// Calls `on_match(p)` for each position `p` in `positions` (of a list holding
    /// store rows `order`) whose record equals `value` as a list compares its items,
    /// `x is y or x == y`, until it returns false. `same` is the store row `value` is
    /// (see [`record_of`]): found without a look. The others compare by value: `value`
    /// is converted once, a value that is not a record of this kind equals none, and
    /// when the core cannot decide (host objects, a value or row class with an `__eq__`
    /// of its own) Python compares the record with `value`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        positions: std::ops::Range<usize>,
        order: &Order,
        self_ptr: usize,
        same: Option<usize>,
        on_match: impl FnMut(usize) -> bool,
    ) -> PyResult<()> {
        // A value with its own `__eq__`, or rows of a class with one: as a list does,
        // `record == value`, where Python falls back to the value's reflected `__eq__`,
        // whose answer (or exception) is the user's. Otherwise a value that is not a
        // record of this kind equals none.
        let mut buf = Vec::new();
        let items;
        let cells = if has_own_eq(value)? || self.rows_have_own_eq(py)? {
            None
        } else if matches!(self.kind, RecordForm::Tuple { .. })
            && !value.is_instance_of::<PyTuple>()
        {
            // A tuple equals no list or other sequence, though a TupleList takes any
            // sequence as a record when one is stored.
            return self.find_itself(order, positions, same, on_match);
        } else {
            match self.probe_items(value, positions.start, self_ptr) {
                Ok(got) => {
                    items = got;
                    record_cells(&items, &mut buf, positions.start).ok()
                }
                Err(_) => return self.find_itself(order, positions, same, on_match),
            }
        };
        let undecided = |row| self.row_value(py, row)?.eq(value);
        self.inner.find_equal(
            order,
            positions,
            same,
            cells.as_deref(),
            undecided,
            on_match,
        )
    }

    /// The `(key, value)` pairs of `value` as a list's `x == value` sees them: a dict,
    /// subclasses included, by what it stores, as `dict.__eq__` reads it (a subclass
    /// that overrides `items()`, `keys()` or `__getitem__` but not `__eq__` compares as
    /// the dict it holds, in a list as against a dict); any other value as it would
    /// go into the list ([`Records::record_items`], which takes a dict subclass through
    /// its `items()`, as `dict(value)` may).
    fn probe_items<'py>(
        &self,
        value: &Bound<'py, PyAny>,
        row: usize,
        self_ptr: usize,
    ) -> PyResult<Items<'py>> {
        match (&self.kind, value.cast::<PyDict>()) {
            // Reading the entries runs no Python code: the dict cannot change under it.
            (RecordForm::Dict, Ok(d)) => Ok(d.iter().collect()),
            _ => self.record_items(value, row, self_ptr),
        }
    }

    /// [`Records::scan`] for a value equal to no record: only the record it is (if any)
    /// matches.
    fn find_itself(
        &self,
        order: &Order,
        positions: std::ops::Range<usize>,
        same: Option<usize>,
        on_match: impl FnMut(usize) -> bool,
    ) -> PyResult<()> {
        if same.is_none() {
            return Ok(());
        }
        let never = |_| PyResult::Ok(false);
        self.inner
            .find_equal(order, positions, same, None, never, on_match)
    }

    /// Whether store row `i` equals `value` as a list compares items (`same`: the store
    /// row `value` is, see [`Records::scan`]).
    pub(super) fn row_equals(
        &self,
        py: Python<'_>,
        i: usize,
        value: &Bound<'_, PyAny>,
        self_ptr: usize,
        same: Option<usize>,
    ) -> PyResult<bool> {
        let mut equal = false;
        self.scan(py, value, i..i + 1, &Order::Whole, self_ptr, same, |_| {
            equal = true;
            false
        })?;
        Ok(equal)
    }

    /// The first position in `[start, stop)` whose record equals `value` (see
    /// [`Records::scan`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn find(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: usize,
        stop: usize,
        order: &Order,
        self_ptr: usize,
        same: Option<usize>,
    ) -> PyResult<Option<usize>> {
        let mut found = None;
        self.scan(py, value, start..stop, order, self_ptr, same, |p| {
            found = Some(p);
            false
        })?;
        Ok(found)
    }

    /// Whether this list's rows are of a class with an `__eq__` of its own (a
    /// namedtuple subclass that defines one): then only Python can compare them, as a
    /// list of such rows compares with that `__eq__`.
    pub(super) fn rows_have_own_eq(&self, py: Python<'_>) -> PyResult<bool> {
        match &self.kind {
            RecordForm::Dict => Ok(false),
            RecordForm::Tuple { row_type, .. } => type_has_own_eq(row_type.bind(py)),
        }
    }
}

/// The store row `v` is, for a list on `store`: a `Row` view of one of its records, or
/// a TupleList row `rows[i]` handed out (remembered, see docs/tuple-rows.md) whose
/// record nothing has written since. What a list of dicts or tuples tells by `x is y`.
pub(super) fn record_of(store: &Store, v: &Bound<'_, PyAny>) -> Option<usize> {
    if let Ok(r) = v.cast::<PyRow>() {
        return r
            .get()
            .store()
            .filter(|s| Arc::ptr_eq(s, store))
            .map(|_| r.get().row());
    }
    // Only a tuple can be a TupleList row (a dict goes no further).
    if !v.is_instance_of::<PyTuple>() {
        return None;
    }
    let py = v.py();
    store.borrow(py).ok()?.lent_slot(v, store.writes(py))
}

pub(super) static OBJECT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
pub(super) static DICT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
pub(super) static TUPLE_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether comparing a record with `value` may run `value`'s own `__eq__` (a class of
/// the user's, a dict or tuple subclass that overrides it), so that only Python can
/// give the answer a list would. Built-in values and this module's rows never do.
pub(super) fn has_own_eq(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_exact_instance_of::<PyDict>()
        || value.is_exact_instance_of::<PyTuple>()
        || value.is_exact_instance_of::<PyList>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyBytes>()
        || value.is_none()
        || value.cast::<PyRow>().is_ok()
    {
        return Ok(false);
    }
    type_has_own_eq(value.get_type().as_any())
}

/// Whether instances of `cls` compare with an `__eq__` other than `object`'s, `dict`'s
/// or `tuple`'s.
pub(super) fn type_has_own_eq(cls: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = cls.py();
    let slot = |cell: &'static PyOnceLock<Py<PyAny>>, name: &str| {
        cell.get_or_try_init(py, || {
            py.import("builtins")?
                .getattr(name)?
                .getattr("__eq__")
                .map(Bound::unbind)
        })
        .map(|f| f.bind(py).clone())
    };
    let eq = cls.getattr(intern!(py, "__eq__"))?;
    Ok(!(eq.is(slot(&OBJECT_EQ, "object")?)
        || eq.is(slot(&DICT_EQ, "dict")?)
        || eq.is(slot(&TUPLE_EQ, "tuple")?)))
}
