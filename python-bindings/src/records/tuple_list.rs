//! `TupleList`: records in as sequences, out as namedtuples.

use super::*;

impl PyTupleList {
    /// The list's fields and row type.
    pub(super) fn parts(slf: &Bound<'_, Self>) -> PyResult<(Py<PyTuple>, Py<PyAny>)> {
        let py = slf.py();
        let sup: &Bound<'_, PyRecords> = slf.as_super();
        match &sup.get().state.borrow(py)?.kind {
            RecordForm::Tuple {
                fields, row_type, ..
            } => Ok((fields.clone_ref(py), row_type.clone_ref(py))),
            RecordForm::Dict => Err(PyTypeError::new_err("not a TupleList")),
        }
    }
}

pub(super) fn namedtuple_for(py: Python<'_>, fields: &[String]) -> PyResult<Py<PyAny>> {
    // memslim/_rows.py: one class per field tuple, with rows that pickle.
    let make = ROW_TYPE.import(py, "memslim._rows", "row_type")?;
    Ok(make.call1((PyTuple::new(py, fields)?,))?.unbind())
}

/// A `row_type=` the user passed, with its `_fields` (`None` for `tuple` itself: plain
/// tuples).
fn asked_row_type<'py>(
    py: Python<'py>,
    t: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Option<Vec<String>>)> {
    if t.is(py.get_type::<PyTuple>()) {
        return Ok((t.clone(), None));
    }
    let named = t
        .cast::<PyType>()
        .is_ok_and(|c| c.is_subclass_of::<PyTuple>().unwrap_or(false));
    match t
        .getattr(intern!(py, "_fields"))
        .and_then(|f| f.extract::<Vec<String>>())
    {
        Ok(f) if named => Ok((t.clone(), Some(f))),
        _ => Err(PyTypeError::new_err(
            "row_type must be tuple (plain tuples) or a namedtuple class",
        )),
    }
}

/// `row_type` (with its `_fields`, `None` for `tuple`) if it fits a list of `fields`.
fn check_row_type_fields<'py>(
    py: Python<'py>,
    t: Bound<'py, PyAny>,
    tf: Option<Vec<String>>,
    fields: &[String],
) -> PyResult<Bound<'py, PyAny>> {
    if tf.is_some_and(|tf| tf != fields) {
        return Err(PyTypeError::new_err(format!(
            "row_type {} has other fields than the list's {}",
            t.getattr("__name__")?,
            PyTuple::new(py, fields)?.repr()?
        )));
    }
    Ok(t)
}

pub(super) fn tuple_kind(
    py: Python<'_>,
    fields: &[String],
    row_type: Option<Bound<'_, PyAny>>,
) -> PyResult<RecordForm> {
    // A row's fields are its record's keys: one name twice could not come back as a
    // dict (the class memslim makes renames such a field, so refuse it here).
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].contains(f) {
            return Err(Class::InvalidValue.err(py, format!("fields name {f:?} twice")));
        }
    }
    let (row_type, user_type) = match row_type {
        Some(t) => (t.unbind(), true),
        None => (namedtuple_for(py, fields)?, false),
    };
    let maker = TupleMaker::new(row_type.bind(py))?;
    Ok(RecordForm::Tuple {
        // Interned, as the store's names are: the same objects, which `append` checks.
        fields: PyTuple::new(py, fields.iter().map(|f| PyString::intern(py, f)))?.unbind(),
        row_type,
        user_type,
        maker,
    })
}

#[pymethods]
impl PyTupleList {
    /// Rows read ahead in batches (see [`PyTupleIter`]).
    pub(super) fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::fast_slots::new_iter(slf.py(), PyTupleIter::new(slf.as_super())?)
    }

    /// Plain `tuple` copies of the records, made in batches from a snapshot of the list.
    pub(super) fn iter_tuples(slf: &Bound<'_, Self>) -> PyResult<PyPlainIter> {
        plain_iter(slf.py(), slf.as_super(), true)
    }

    #[new]
    #[pyo3(signature = (data = None, fields = None, *, schema = None, chunk_rows = None, row_type = None))]
    pub(super) fn new(
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        fields: Option<Vec<String>>,
        schema: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = crate::size::chunk_rows)] chunk_rows: Option<usize>,
        row_type: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let asked = row_type.map(|t| asked_row_type(py, t)).transpose()?;
        let fields = match (fields, &asked) {
            (None, Some((_, Some(f)))) => Some(f.clone()),
            (f, _) => f,
        };
        let mut first: Option<Bound<'_, PyAny>> = None;
        let mut rest: Option<Bound<'_, PyAny>> = None;
        if let Some(d) = data {
            let it = d.try_iter()?;
            rest = Some(it.clone().into_any());
            let mut it = it;
            first = it.next().transpose()?;
        }
        let mut row_type = None;
        let fields = match fields {
            Some(f) => f,
            None => {
                let from_first = first
                    .as_ref()
                    .and_then(|f| f.getattr(intern!(py, "_fields")).ok())
                    .and_then(|f| f.extract::<Vec<String>>().ok());
                if from_first.is_some() {
                    row_type = first.as_ref().map(|f| f.get_type().into_any());
                }
                match (from_first, schema) {
                    (Some(f), _) => f,
                    (None, Some(s)) => parse_schema(s)?.into_iter().map(|(n, _)| n).collect(),
                    (None, None) => {
                        return Err(schema_error(
                            py,
                            "TupleList needs fields=(...) unless its data are namedtuples or a schema is given".into(),
                        ));
                    }
                }
            }
        };
        if let Some(t) = &row_type {
            let tf: Vec<String> = t.getattr("_fields")?.extract()?;
            if tf != fields {
                row_type = None;
            }
        }
        if let Some((t, tf)) = asked {
            row_type = Some(check_row_type_fields(py, t, tf, &fields)?);
        }
        let kind = tuple_kind(py, &fields, row_type)?;
        let mut base = Records::build(py, kind, schema, chunk_rows, Some(&fields))?;
        match (first, rest, data) {
            // An exact list or tuple is read in place, in one run (the first item was
            // only looked at).
            (Some(_), _, Some(d)) if is_exact_sequence(d) => {
                base.extend_from_iter(d, 0, Slice::before(0))?
            }
            (Some(f), Some(rest), _) => {
                // The first item was taken to find the fields; put it back in front.
                let chain = CHAIN.import(py, "itertools", "chain")?;
                let all = chain.call1((PyTuple::new(py, [f])?, rest))?;
                base.extend_from_iter(&all, 0, Slice::before(0))?;
            }
            _ => {}
        }
        base.retrack();
        Ok(PyClassInitializer::from(PyRecords::from_records(base)).add_subclass(PyTupleList))
    }

    /// Field names.
    #[getter]
    pub(super) fn fields(slf: &Bound<'_, Self>) -> PyResult<Py<PyTuple>> {
        Ok(Self::parts(slf)?.0)
    }

    /// The class rows come back as: a namedtuple class, or `tuple`.
    #[getter]
    pub(super) fn row_type(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(Self::parts(slf)?.1)
    }

    #[classmethod]
    #[pyo3(signature = (data, *, chunk_rows = None, trusted = false, row_type = None))]
    pub(super) fn from_arrow(
        _cls: &Bound<'_, PyType>,
        data: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = crate::size::chunk_rows)] chunk_rows: Option<usize>,
        trusted: bool,
        row_type: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = data.py();
        let asked = row_type.map(|t| asked_row_type(py, t)).transpose()?;
        let inner = import_arrow(data, chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS), trusted)?;
        let fields: Vec<String> = (0..inner.num_fields())
            .map(|j| inner.field_name(j).to_owned())
            .collect();
        let row_type = asked
            .map(|(t, tf)| check_row_type_fields(py, t, tf, &fields))
            .transpose()?;
        let kind = tuple_kind(py, &fields, row_type)?;
        Records::wrap(py, kind, inner)
    }
}
