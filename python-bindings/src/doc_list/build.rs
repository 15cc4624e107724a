//! Python objects into the [`DocBuilder`], one event at a time, with the path to a
//! bad value for the error message.

use super::*;

/// One step of the path to a bad value inside a document.
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// The Python class of a [`Fail::Bad`].
#[derive(Clone, Copy)]
pub(super) enum BadClass {
    Type,
    Value,
    /// Past a document limit (nesting depth, symbol table): `memslim.LimitError`.
    Limit,
}

/// Why a value could not be written.
pub(super) enum Fail {
    /// A Python exception (type and message), with the path collected while unwinding.
    Bad {
        class: BadClass,
        msg: String,
        path: Vec<Seg>,
    },
    /// A DocView/ListView was met: convert the input to plain objects and retry.
    View,
    /// Any other error (raised as is).
    Py(PyErr),
}

impl From<DocError> for Fail {
    fn from(e: DocError) -> Self {
        let class = match e {
            DocError::TooDeep { .. } | DocError::InternerFull(_) => BadClass::Limit,
            _ => BadClass::Value,
        };
        Fail::Bad {
            class,
            msg: e.to_string(),
            path: Vec::new(),
        }
    }
}

impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Fail::Py(e)
    }
}

/// A failure while adding documents: the batch position of the document, and why.
pub(super) struct Failed(pub(super) usize, pub(super) Fail);

impl From<DocError> for Failed {
    fn from(e: DocError) -> Self {
        Failed(0, e.into())
    }
}

/// `memslim.LimitError` (also a `ValueError`).
pub(super) fn limit_error(msg: String) -> PyErr {
    Python::attach(|py| Class::Limit.err(py, msg))
}

pub(super) fn bad(class: BadClass, msg: String) -> Fail {
    Fail::Bad {
        class,
        msg,
        path: Vec::new(),
    }
}

pub(super) fn within(seg: impl FnOnce() -> Seg) -> impl FnOnce(Fail) -> Fail {
    move |f| match f {
        Fail::Bad {
            class,
            msg,
            mut path,
        } => {
            path.push(seg());
            Fail::Bad { class, msg, path }
        }
        other => other,
    }
}

/// Writes `v` as the next value; `open` holds the containers being written (cycles).
///
/// Subclasses of `dict`, `list`, `tuple`, `str`, `int`, `float` and `bytes`
/// (`defaultdict`, `OrderedDict`, `Counter`, namedtuples, `IntEnum`, `str` enums) are
/// written as their plain base value, as `json.dumps` writes them (a dict subclass
/// through its `items()`, as `json` reads it): they come back as the base type.
pub(super) fn put(
    b: &mut DocBuilder<'_>,
    v: &Bound<'_, PyAny>,
    open: &mut Vec<usize>,
) -> Result<(), Fail> {
    if let Some(x) = scalar_of(v) {
        match x {
            Scalar::None => b.none()?,
            Scalar::Bool(x) => b.bool(x)?,
            Scalar::Int(i) => b.int(i)?,
            Scalar::Float(f) => b.float(f)?,
            Scalar::Str(text) => b.str(text)?,
            Scalar::Bytes(x) => b.bytes(x)?,
        }
    } else if let Ok(d) = v.cast_exact::<PyDict>() {
        put_map(b, v, d.iter().map(Ok), open)?;
    } else if let Ok(l) = v.cast_exact::<PyList>() {
        put_seq(b, v, l.iter(), false, open)?;
    } else if let Ok(t) = v.cast_exact::<PyTuple>() {
        put_seq(b, v, t.iter(), true, open)?;
    } else if v.is_instance_of::<PyDocView>()
        || v.is_instance_of::<PyListView>()
        || v.is_instance_of::<crate::records::PyRow>()
    {
        return Err(Fail::View);
    } else {
        put_base(b, v, open)?;
    }
    Ok(())
}

/// Writes a `str` or `int` that is not a plain scalar (lone surrogates, past 64 bits), or
/// the plain base value of a subclass of a JSON-like type; anything else is not JSON-like.
#[cold]
fn put_base(
    b: &mut DocBuilder<'_>,
    v: &Bound<'_, PyAny>,
    open: &mut Vec<usize>,
) -> Result<(), Fail> {
    if let Ok(s) = v.cast::<PyString>() {
        let text = s.to_str().map_err(|_| {
            bad(
                BadClass::Value,
                "string is not valid unicode (it contains a lone surrogate)".into(),
            )
        })?;
        b.str(text)?;
    } else if v.is_instance_of::<PyInt>() {
        // An exact int here is beyond 64 bits (one within is a plain scalar).
        let small = (!v.is_exact_instance_of::<PyInt>())
            .then(|| v.extract::<i64>().ok())
            .flatten();
        match small {
            Some(i) => b.int(i)?,
            None => b.big_int(crate::convert::big_int_to_le(v)?.as_bytes())?,
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        b.float(f.value())?;
    } else if let Ok(x) = v.cast::<PyBytes>() {
        b.bytes(x.as_bytes())?;
    } else if v.is_instance_of::<PyDict>() {
        let items = v.call_method0(intern!(v.py(), "items"))?.try_iter()?;
        put_map(b, v, items.map(|kv| kv?.extract()), open)?;
    } else if let Ok(l) = v.cast::<PyList>() {
        put_seq(b, v, l.iter(), false, open)?;
    } else if let Ok(t) = v.cast::<PyTuple>() {
        put_seq(b, v, t.iter(), true, open)?;
    } else {
        return Err(bad(
            BadClass::Type,
            format!(
                "value of type {} is not JSON-like (documents hold dict, list, tuple, str, \
                 int, float, bool, None and bytes)",
                type_name(v)
            ),
        ));
    }
    Ok(())
}

/// Writes the dict `v` from its `(key, value)` pairs.
fn put_map<'py>(
    b: &mut DocBuilder<'_>,
    v: &Bound<'py, PyAny>,
    items: impl Iterator<Item = PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)>>,
    open: &mut Vec<usize>,
) -> Result<(), Fail> {
    enter(v, open)?;
    b.begin_map()?;
    for kv in items {
        let (k, val) = kv?;
        let Ok(ks) = k.cast::<PyString>() else {
            let shown = k.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(bad(
                BadClass::Type,
                format!(
                    "key {shown} is of type {}; document keys must be str",
                    type_name(&k)
                ),
            ));
        };
        let key = ks.to_str().map_err(|_| {
            bad(
                BadClass::Value,
                "key is not valid unicode (it contains a lone surrogate)".into(),
            )
        })?;
        b.key(key)?;
        put(b, &val, open).map_err(within(|| Seg::Key(key.to_owned())))?;
    }
    b.end()?;
    open.pop();
    Ok(())
}

/// Writes the list or tuple `v` from its items.
fn put_seq<'py>(
    b: &mut DocBuilder<'_>,
    v: &Bound<'py, PyAny>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    tuple: bool,
    open: &mut Vec<usize>,
) -> Result<(), Fail> {
    enter(v, open)?;
    if tuple {
        b.begin_tuple()?;
    } else {
        b.begin_list()?;
    }
    for (i, item) in items.enumerate() {
        put(b, &item, open).map_err(within(|| Seg::Index(i)))?;
    }
    b.end()?;
    open.pop();
    Ok(())
}

pub(super) fn enter(v: &Bound<'_, PyAny>, open: &mut Vec<usize>) -> Result<(), Fail> {
    let id = v.as_ptr() as usize;
    if open.contains(&id) {
        return Err(bad(
            BadClass::Value,
            "value contains itself (cyclic structure)".into(),
        ));
    }
    open.push(id);
    Ok(())
}

pub(super) fn path_text(first: usize, path: &[Seg]) -> String {
    let mut s = format!("doc[{first}]");
    for seg in path.iter().rev() {
        match seg {
            Seg::Key(k) => s.push_str(&format!("[{k:?}]")),
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Replaces views (anywhere inside `v`, and a DictList's `Row`s) by plain copies, and
/// subclasses of dict, list and tuple by their plain base.
pub(super) fn materialize<'py>(v: &Bound<'py, PyAny>, depth: usize) -> PyResult<Bound<'py, PyAny>> {
    let py = v.py();
    if depth > memslim_arena::variant::MAX_DEPTH {
        // Deeper than a document may be: leave it for the builder to report.
        return Ok(v.clone());
    }
    if let Ok(d) = v.cast::<PyDocView>() {
        return d.get().at.to_python(py);
    }
    if let Ok(l) = v.cast::<PyListView>() {
        return l.get().at.to_python(py);
    }
    if let Ok(r) = v.cast::<crate::records::PyRow>() {
        return r.get().to_plain_dict(py);
    }
    if let Ok(d) = v.cast_exact::<PyDict>() {
        let out = PyDict::new(py);
        for (k, val) in d.iter() {
            out.set_item(k, materialize(&val, depth + 1)?)?;
        }
        return Ok(out.into_any());
    }
    if v.is_instance_of::<PyDict>() {
        // A subclass, read as `put` reads it: through `items()`.
        let out = PyDict::new(py);
        for kv in v.call_method0(intern!(py, "items"))?.try_iter()? {
            let (k, val): (Bound<'_, PyAny>, Bound<'_, PyAny>) = kv?.extract()?;
            out.set_item(k, materialize(&val, depth + 1)?)?;
        }
        return Ok(out.into_any());
    }
    if let Ok(l) = v.cast::<PyList>() {
        let items: Vec<_> = l
            .iter()
            .map(|x| materialize(&x, depth + 1))
            .collect::<PyResult<_>>()?;
        return Ok(PyList::new(py, items)?.into_any());
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        let items: Vec<_> = t
            .iter()
            .map(|x| materialize(&x, depth + 1))
            .collect::<PyResult<_>>()?;
        return Ok(PyTuple::new(py, items)?.into_any());
    }
    Ok(v.clone())
}
