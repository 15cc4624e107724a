//! Python objects into the [`DocBuilder`], one event at a time, with the path to a
//! bad value for the error message.
//!
//! The builder writes with the list's symbol table and text blocks locked, so nothing
//! here runs Python code: that code, or another thread given the GIL meanwhile, could
//! read a view of the list and wait for the tables forever, holding the GIL the writer
//! needs to go on. What only Python code can read (a dict subclass's `items()`) sends
//! the input back to be made plain first ([`Fail::NotPlain`]), and what an error
//! message says about a value (its `repr()`) is worked out once the tables are
//! unlocked ([`Fail::Unfit`]).

use super::*;

/// One step of the path to a bad value inside a document.
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// The Python class of a [`Fail::Bad`].
#[derive(Clone, Copy)]
pub(super) enum BadClass {
    Value,
    /// Past a document limit (nesting depth, symbol table): `memslim.LimitError`.
    Limit,
    /// The tables are held by a read in progress (`memslim.ConcurrentUseError`).
    Busy,
    /// The memory to hold a long value cannot be had (`MemoryError`).
    Memory,
}

/// What a [`Fail::Unfit`] value was meant to be.
#[derive(Clone, Copy)]
pub(super) enum Unfit {
    /// A dict key (which must be a `str`).
    Key,
    /// A value (which must be JSON-like).
    Value,
}

/// Why a value could not be written.
pub(super) enum Fail {
    /// A Python exception (type and message), with the path collected while unwinding.
    Bad {
        class: BadClass,
        msg: String,
        path: Vec<Seg>,
    },
    /// A key or value of a type documents cannot hold (a `TypeError`), kept to be
    /// described once the tables are unlocked.
    Unfit {
        what: Unfit,
        obj: Py<PyAny>,
        path: Vec<Seg>,
    },
    /// A value only Python code can read (a dict subclass, through its `items()`), or
    /// a view or a DictList row (whose reading locks the tables): convert the input to
    /// plain objects, with the tables unlocked, and retry.
    NotPlain,
    /// Any other error (raised as is).
    Py(PyErr),
}

impl From<DocError> for Fail {
    fn from(e: DocError) -> Self {
        let class = match e {
            DocError::TooDeep { .. } | DocError::InternerFull(_) => BadClass::Limit,
            DocError::Busy => BadClass::Busy,
            DocError::OutOfMemory { .. } => BadClass::Memory,
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
    move |mut f| {
        if let Fail::Bad { path, .. } | Fail::Unfit { path, .. } = &mut f {
            path.push(seg());
        }
        f
    }
}

fn unfit(what: Unfit, obj: &Bound<'_, PyAny>) -> Fail {
    Fail::Unfit {
        what,
        obj: obj.clone().unbind(),
        path: Vec::new(),
    }
}

/// The message of a [`Fail::Unfit`] (Python code: run it with the tables unlocked).
/// The type by its qualified name: a `numpy.bool` is no `bool`, though both are named so.
pub(super) fn unfit_message(what: Unfit, obj: &Bound<'_, PyAny>) -> String {
    let kind = qualified_type_name(obj);
    match what {
        Unfit::Key => {
            let shown = obj.repr().map(|r| r.to_string()).unwrap_or_default();
            format!("key {shown} is of type {kind}; document keys must be str")
        }
        Unfit::Value => format!(
            "value of type {kind} is not JSON-like (documents hold dict, list, tuple, str, \
             int, float, bool, None and bytes)"
        ),
    }
}

/// Writes `v` as the next value; `open` holds the containers being written (cycles).
/// Runs no Python code (module docs).
///
/// Subclasses of `list`, `tuple`, `str`, `int`, `float` and `bytes` (namedtuples,
/// `IntEnum`, `str` enums) are written as their plain base value, as `json.dumps`
/// writes them: they come back as the base type. So are dict subclasses
/// (`defaultdict`, `OrderedDict`, `Counter`), read through their `items()` as `json`
/// reads them, once [`materialize`] has made them plain dicts ([`Fail::NotPlain`]).
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
        put_map(b, d, open)?;
    } else if let Ok(l) = v.cast_exact::<PyList>() {
        put_seq(b, v, l.iter(), false, open)?;
    } else if let Ok(t) = v.cast_exact::<PyTuple>() {
        put_seq(b, v, t.iter(), true, open)?;
    } else if v.is_instance_of::<PyDocView>()
        || v.is_instance_of::<PyListView>()
        || v.is_instance_of::<crate::records::PyRow>()
        || v.is_instance_of::<PyDict>()
    {
        return Err(Fail::NotPlain);
    } else {
        put_base(b, v, open)?;
    }
    Ok(())
}

/// Writes a `str` or `int` that is not a plain scalar (lone surrogates, past 64 bits), or
/// the plain base value of a subclass of a JSON-like type other than `dict`; anything
/// else is not JSON-like.
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
            None => {
                let le = without_gc(v.py(), || crate::convert::big_int_to_le(v))?;
                b.big_int(le.as_bytes())?;
            }
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        b.float(f.value())?;
    } else if let Ok(x) = v.cast::<PyBytes>() {
        b.bytes(x.as_bytes())?;
    } else if let Ok(l) = v.cast::<PyList>() {
        put_seq(b, v, l.iter(), false, open)?;
    } else if let Ok(t) = v.cast::<PyTuple>() {
        put_seq(b, v, t.iter(), true, open)?;
    } else {
        return Err(unfit(Unfit::Value, v));
    }
    Ok(())
}

/// `f` with the cyclic garbage collector held off: the int methods `put` calls for ints
/// past 64 bits allocate, and on Python 3.11 an allocation can start a collection,
/// whose finalizers are Python code (module docs).
fn without_gc<R>(_py: Python<'_>, f: impl FnOnce() -> R) -> R {
    struct Resume(bool);
    impl Drop for Resume {
        fn drop(&mut self) {
            if self.0 {
                // SAFETY: the GIL is held (the `Python` token of `without_gc`, whose
                // call this guard does not outlive); the call only sets a flag.
                unsafe { pyo3::ffi::PyGC_Enable() };
            }
        }
    }
    // SAFETY: the GIL is held (`_py`); the call only clears a flag, returning it.
    let _resume = Resume(unsafe { pyo3::ffi::PyGC_Disable() } != 0);
    f()
}

/// Writes the (plain) dict `d`.
///
/// Distinct keys can have one text: `str` subclasses with an `__eq__` or `__hash__` of
/// their own. Such a key is written once, at its first position with its last value, as
/// `json.loads` reads the JSON text `json.dumps` writes for the dict (and as `from_jsonl`
/// stores a repeated key), rather than twice, which a dict cannot hold.
fn put_map(
    b: &mut DocBuilder<'_>,
    d: &Bound<'_, PyDict>,
    open: &mut Vec<usize>,
) -> Result<(), Fail> {
    enter(d.as_any(), open)?;
    b.begin_map()?;
    // Two plain `str` keys of a dict never have one text.
    let mut may_repeat = false;
    for (k, val) in d.iter() {
        let Ok(ks) = k.cast::<PyString>() else {
            return Err(unfit(Unfit::Key, &k));
        };
        may_repeat |= !ks.is_exact_instance_of::<PyString>();
        let key = ks.to_str().map_err(|_| {
            bad(
                BadClass::Value,
                "key is not valid unicode (it contains a lone surrogate)".into(),
            )
        })?;
        b.key(key)?;
        put(b, &val, open).map_err(within(|| Seg::Key(key.to_owned())))?;
    }
    if may_repeat {
        b.end_dedup()?;
    } else {
        b.end()?;
    }
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
