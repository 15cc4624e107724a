//! `DocList`, `DocView`, `ListView`: the Python face of `memslim-arena`'s documents.
//!
//! Python objects go into a [`DocBuilder`] one event at a time (no intermediate tree);
//! views read documents in place through [`read_node`]. A view holds an `Arc` of the
//! store its document lives in, so it stays valid whatever happens to the list later
//! (appends, deletes, `compact()` into a new store).

use hashbrown::HashMap;
use std::sync::Arc;

use memslim_arena::{
    DocBuilder, DocError, DocHandle, DocList, DocStore, Interner, Map, Node, Seq, Sym, read_node,
};
use memslim_records::clamp_index;
use pyo3::basic::CompareOp;
use pyo3::exceptions::{
    PyAttributeError, PyIndexError, PyKeyError, PyMemoryError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PySlice, PyString, PyTuple, PyType,
};
use pyo3::{IntoPyObjectExt, intern};

use crate::errors::{Class, doc_to_py};
use crate::gilcell::GilCell;
use crate::os_memory::{TRIM_AFTER_BYTES, release_free_memory};
use crate::scalar::{Scalar, scalar_of};
use crate::sequence::SliceIndex;
use crate::sequence::{
    abridged_repr, count_arg, mul_count, position as norm_index, qualified_type_name, slice_of,
};
use crate::tracemalloc::Tracked;

mod build;
mod doc_view;
mod list_view;

use build::*;
pub(crate) use doc_view::PyDocView;
use list_view::*;

/// Foreign key strings remembered per list lineage before the cache is cleared.
const KEY_CACHE_MAX: usize = 4096;

/// Python strings for a list's symbols, shared by the list and its views.
///
/// Symbol numbers are stable for the list's whole life: `compact()` clones the symbol
/// table, and a failed build only forgets symbols no view has seen. So an entry made
/// through any view stays right for the list and for every view.
#[derive(Default)]
struct SymStrings {
    /// The `str` object of each symbol, made on first use and reused after.
    strs: Vec<Option<Py<PyString>>>,
    /// Address of each string in `strs` -> its symbol (they are held by `strs`).
    own: HashMap<usize, Sym>,
    /// Other key objects seen in lookups (held, so their address cannot be reused).
    foreign: HashMap<usize, (Py<PyString>, Sym)>,
}

type Shared = Arc<GilCell<SymStrings>>;

impl SymStrings {
    fn get<'py>(&mut self, py: Python<'py>, sym: Sym, table: &Interner) -> PyResult<Py<PyString>> {
        let i = sym.index();
        if let Some(Some(s)) = self.strs.get(i) {
            return Ok(s.clone_ref(py));
        }
        let text = table.resolve(sym).ok_or_else(|| {
            crate::errors::corrupt(py, format!("document names unknown symbol {}", sym.0))
        })?;
        let s = PyString::new(py, text).unbind();
        if self.strs.len() <= i {
            self.strs.resize_with(i + 1, || None);
        }
        self.strs[i] = Some(s.clone_ref(py));
        self.own.insert(s.as_ptr() as usize, sym);
        Ok(s)
    }
}

/// What the views of one store share: the store and the list lineage's Python strings
/// (one `Arc` per view to clone, not two).
struct Ctx {
    store: Arc<DocStore>,
    strs: Shared,
}

/// Where a view points: a value inside one document of one store.
struct At {
    ctx: Arc<Ctx>,
    doc: DocHandle,
    pos: usize,
}

impl At {
    fn bytes(&self, py: Python<'_>) -> PyResult<&[u8]> {
        self.ctx
            .store
            .doc(self.doc)
            .ok_or_else(|| crate::errors::corrupt(py, "view of a foreign document".into()))
    }

    fn node(&self, py: Python<'_>) -> PyResult<Node<'_>> {
        Ok(read_node(self.bytes(py)?, self.pos)
            .map_err(|e| doc_to_py(py, e))?
            .0)
    }

    /// Whether `other` reads the very value this reads (the same place of the same
    /// document of the same store): what `is` tells of two Python objects, so that a
    /// view equals itself, NaNs inside and all, as a dict or list does.
    fn same_as(&self, other: &At) -> bool {
        Arc::ptr_eq(&self.ctx.store, &other.ctx.store)
            && self.doc == other.doc
            && self.pos == other.pos
    }

    /// What a view keeps alive beyond its fixed size: its documents' store, if nothing
    /// else holds it (with `alone`), or always (for `memslim.deep_sizeof`, under the
    /// store's address: see `buffers.rs`).
    fn held(&self, alone: bool) -> crate::buffers::Buffers {
        let mut out = crate::buffers::Buffers::default();
        let sole = Arc::strong_count(&self.ctx) == 1 && Arc::strong_count(&self.ctx.store) == 1;
        if sole || !alone {
            out.push(
                Arc::as_ptr(&self.ctx.store) as usize,
                self.ctx.store.nbytes(),
            );
        }
        out
    }

    /// `__sizeof__` of a view at this place: its own size, plus its list's documents
    /// when nothing else holds them any more (what dropping it would free).
    fn sizeof<T>(&self) -> usize {
        let held: usize = self.held(true).into_vec().iter().map(|(_, n)| n).sum();
        std::mem::size_of::<T>() + held
    }

    fn at(&self, pos: usize) -> At {
        At {
            ctx: Arc::clone(&self.ctx),
            doc: self.doc,
            pos,
        }
    }

    /// The symbol of `key`, or `None` when no document of this store can have it.
    #[inline]
    fn sym_of(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<Sym>> {
        let py = key.py();
        // A `str` subclass finds what its text finds, as in a dict (by hash and `==`).
        let Ok(ks) = key.cast::<PyString>() else {
            return Ok(None);
        };
        let ptr = key.as_ptr() as usize;
        {
            let cache = self.ctx.strs.borrow(py)?;
            if let Some((_, sym)) = cache.foreign.get(&ptr) {
                return Ok(Some(*sym));
            }
            if let Some(sym) = cache.own.get(&ptr) {
                return Ok(Some(*sym));
            }
        }
        let Ok(text) = ks.to_str() else {
            return Ok(None);
        };
        let Some(sym) = self.ctx.store.symbols().lookup(text) else {
            return Ok(None);
        };
        let mut cache = self.ctx.strs.borrow_mut(py)?;
        if cache.foreign.len() >= KEY_CACHE_MAX {
            // Many distinct key objects (keys built at run time): start over.
            cache.foreign.clear();
        }
        cache.foreign.insert(ptr, (ks.clone().unbind(), sym));
        Ok(Some(sym))
    }

    /// A child value as Python: a view for containers, a plain object otherwise.
    #[inline]
    fn child<'py>(
        &self,
        py: Python<'py>,
        node: Node<'_>,
        pos: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match node {
            Node::Dict(_) => Bound::new(py, PyDocView { at: self.at(pos) })?.into_any(),
            Node::List(_) | Node::Tuple(_) => {
                Bound::new(py, PyListView { at: self.at(pos) })?.into_any()
            }
            Node::Sym(sym) => {
                if let Some(Some(s)) = self.ctx.strs.borrow(py)?.strs.get(sym.index()) {
                    return Ok(s.bind(py).clone().into_any());
                }
                let table = self.ctx.store.symbols();
                self.ctx
                    .strs
                    .borrow_mut(py)?
                    .get(py, sym, &table)?
                    .into_bound(py)
                    .into_any()
            }
            Node::Text(t) => text_to_py(py, &self.ctx.store, t)?,
            scalar => scalar_to_py(py, scalar)?,
        })
    }

    /// `op` as the plain value compares (views inside `other` compared as plain copies),
    /// for an `other` of a kind `accepts` admits; else `NotImplemented`. Both views'
    /// comparisons. A view of the very same value is equal without a look (see
    /// [`At::same_as`]).
    fn compare_plain(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        accepts: fn(&Bound<'_, PyAny>) -> bool,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        if view_at(other).is_some_and(|o| self.same_as(o)) {
            return op.matches(std::cmp::Ordering::Equal).into_py_any(py);
        }
        let other = materialize(other, 0)?;
        if !accepts(&other) {
            return Ok(py.NotImplemented());
        }
        Ok(self.to_python(py)?.rich_compare(other, op)?.unbind())
    }

    /// The whole value as plain Python objects (a deep copy).
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let node = self.node(py)?;
        let store = &self.ctx.store;
        let table = store.symbols();
        let mut strs = self.ctx.strs.borrow_mut(py)?;
        to_py(py, node, &table, &mut strs, store)
    }
}

/// Where a view (`DocView` or `ListView`) reads; `None` for any other value.
fn view_at<'a>(v: &'a Bound<'_, PyAny>) -> Option<&'a At> {
    if let Ok(d) = v.cast::<PyDocView>() {
        return Some(&d.get().at);
    }
    v.cast::<PyListView>().ok().map(|l| &l.get().at)
}

/// A long string (from the store's compressed text blocks) as a new `str`.
fn text_to_py<'py>(
    py: Python<'py>,
    store: &DocStore,
    t: memslim_arena::TextRef,
) -> PyResult<Bound<'py, PyAny>> {
    store
        .with_text(t, |s| PyString::new(py, s).into_any())
        .map_err(|e| doc_to_py(py, e))
}

fn scalar_to_py<'py>(py: Python<'py>, node: Node<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match node {
        Node::None => py.None().into_bound(py),
        Node::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Node::Int(i) => crate::convert::int_to_py_outlined(py, i),
        Node::Float(f) => PyFloat::new(py, f).into_any(),
        Node::Str(s) => PyString::new(py, s).into_any(),
        Node::Bytes(b) => PyBytes::new(py, b).into_any(),
        Node::BigInt(le) => crate::convert::big_int_from_le(py, le)?,
        Node::Sym(_) | Node::Text(_) | Node::List(_) | Node::Tuple(_) | Node::Dict(_) => {
            return Err(PyTypeError::new_err("internal: not a scalar"));
        }
    })
}

fn to_py<'py>(
    py: Python<'py>,
    node: Node<'_>,
    table: &Interner,
    strs: &mut SymStrings,
    store: &DocStore,
) -> PyResult<Bound<'py, PyAny>> {
    let err = |e: DocError| doc_to_py(py, e);
    Ok(match node {
        Node::Sym(sym) => strs.get(py, sym, table)?.into_bound(py).into_any(),
        Node::Text(t) => text_to_py(py, store, t)?,
        Node::Dict(m) => {
            let d = PyDict::new(py);
            for item in m.iter() {
                let (k, v, _) = item.map_err(err)?;
                d.set_item(strs.get(py, k, table)?, to_py(py, v, table, strs, store)?)?;
            }
            d.into_any()
        }
        Node::List(s) => {
            let l = PyList::empty(py);
            for item in s.iter() {
                l.append(to_py(py, item.map_err(err)?.0, table, strs, store)?)?;
            }
            l.into_any()
        }
        Node::Tuple(s) => {
            let mut v = Vec::with_capacity(s.len());
            for item in s.iter() {
                v.push(to_py(py, item.map_err(err)?.0, table, strs, store)?);
            }
            PyTuple::new(py, v)?.into_any()
        }
        scalar => scalar_to_py(py, scalar)?,
    })
}

// -------------------------------------------------------------------------------------
// DocList
// -------------------------------------------------------------------------------------

struct State {
    inner: DocList,
    strs: Shared,
    /// The current store with `strs`, handed to new views (refreshed by `retrack`).
    ctx: Arc<Ctx>,
    trace: Tracked,
}

impl State {
    fn new(mut inner: DocList) -> Self {
        // Readers (views) hold the GIL while they read, so a write that waited for one
        // would wait forever (see `DocList::set_fail_when_busy`).
        inner.set_fail_when_busy(true);
        let strs: Shared = Arc::new(GilCell::new(SymStrings::default()));
        let ctx = Arc::new(Ctx {
            store: Arc::clone(inner.store()),
            strs: Arc::clone(&strs),
        });
        let mut s = State {
            inner,
            strs,
            ctx,
            trace: Tracked::new(),
        };
        s.retrack();
        s
    }

    fn retrack(&mut self) {
        self.trace.set(self.inner.nbytes().total);
        if !Arc::ptr_eq(&self.ctx.store, self.inner.store()) {
            self.ctx = self.new_ctx();
        }
    }

    fn new_ctx(&self) -> Arc<Ctx> {
        Arc::new(Ctx {
            store: Arc::clone(self.inner.store()),
            strs: Arc::clone(&self.strs),
        })
    }

    /// Appends `items`, all or none, naming the first bad one by its future position.
    fn add(&mut self, items: &[Bound<'_, PyAny>]) -> PyResult<()> {
        self.add_once(items, false)
    }

    fn add_once(&mut self, items: &[Bound<'_, PyAny>], plain: bool) -> PyResult<()> {
        let first = self.inner.len();
        let mut open = Vec::new();
        // `put` runs no Python code while the tables are locked (see build.rs).
        let outcome = self.inner.build(|b| {
            for (k, item) in items.iter().enumerate() {
                put(b, item, &mut open).map_err(|f| Failed(k, f))?;
                b.end_doc().map_err(|e| Failed(k, e.into()))?;
            }
            Ok::<(), Failed>(())
        });
        let result = match outcome {
            Ok(_) => Ok(()),
            Err(Failed(k, Fail::Bad { class, msg, path })) => {
                let at = path_text(first + k, &path);
                Err(match class {
                    BadClass::Value => PyValueError::new_err(format!("{at}: {msg}")),
                    BadClass::Limit => limit_error(format!("{at}: {msg}")),
                    // About the list, not about this document.
                    BadClass::Busy => Python::attach(|py| Class::ConcurrentUse.err(py, msg)),
                    BadClass::Memory => PyMemoryError::new_err(format!("{at}: {msg}")),
                })
            }
            Err(Failed(k, Fail::Unfit { what, obj, path })) => {
                let msg = Python::attach(|py| unfit_message(what, obj.bind(py)));
                Err(PyTypeError::new_err(format!(
                    "{}: {msg}",
                    path_text(first + k, &path)
                )))
            }
            Err(Failed(_, Fail::Py(e))) => Err(e),
            Err(Failed(k, Fail::NotPlain)) if plain => Err(limit_error(format!(
                "{}: document nested too deeply",
                path_text(first + k, &[])
            ))),
            Err(Failed(_, Fail::NotPlain)) => {
                let plain: Vec<_> = items
                    .iter()
                    .map(|x| materialize(x, 0))
                    .collect::<PyResult<_>>()?;
                return self.add_once(&plain, true);
            }
        };
        self.retrack();
        result
    }

    fn item<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let handle = self
            .inner
            .handle(i)
            .ok_or_else(|| PyIndexError::new_err("DocList index out of range"))?;
        let ctx = if Arc::ptr_eq(&self.ctx.store, self.inner.store()) {
            Arc::clone(&self.ctx)
        } else {
            self.new_ctx()
        };
        let at = At {
            ctx,
            doc: handle,
            pos: 0,
        };
        let node = at.node(py)?;
        at.child(py, node, 0)
    }

    /// The document `value` is, if it is a view of a whole document of this list (in
    /// the list's current store): the one position it matches without a look.
    fn doc_of(&self, value: &Bound<'_, PyAny>) -> Option<DocHandle> {
        let at = view_at(value)?;
        (at.pos == 0 && Arc::ptr_eq(&at.ctx.store, self.inner.store())).then_some(at.doc)
    }

    /// Calls `on_match(i)`, until it returns false, for each position in `positions`
    /// whose document equals `value`, as a list's `index`, `count` and `in` compare: a
    /// view of document `i` is document `i` (see [`DocList::find_equal`]), any other
    /// document compares as its plain value does, `document == value`.
    fn find(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        positions: std::ops::Range<usize>,
        on_match: impl FnMut(usize) -> bool,
    ) -> PyResult<()> {
        let eq = |i| self.plain(py, i)?.eq(value);
        self.inner
            .find_equal(positions, self.doc_of(value), eq, on_match)
    }

    /// Document `i` as plain Python objects (a deep copy).
    fn plain<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let store = self.inner.store();
        let node = self.inner.root(i).map_err(|e| doc_to_py(py, e))?;
        let table = store.symbols();
        let mut strs = self.strs.borrow_mut(py)?;
        to_py(py, node, &table, &mut strs, store)
    }

    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let store = self.inner.store();
        let table = store.symbols();
        let mut strs = self.strs.borrow_mut(py)?;
        let out = PyList::empty(py);
        for i in 0..self.inner.len() {
            let bytes = self.inner.doc_bytes(i).unwrap_or_default();
            let node = read_node(bytes, 0).map_err(|e| doc_to_py(py, e))?.0;
            out.append(to_py(py, node, &table, &mut strs, store)?)?;
        }
        Ok(out)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // The store is ours alone if no view holds it: the list and, when current, our
        // `ctx` (which no view may hold either).
        let via_ctx = Arc::ptr_eq(&self.ctx.store, self.inner.store());
        let alone = Arc::strong_count(self.inner.store()) == 1 + usize::from(via_ctx)
            && (!via_ctx || Arc::strong_count(&self.ctx) == 1);
        if self.inner.nbytes().total >= TRIM_AFTER_BYTES && alone {
            self.inner = DocList::new();
            self.ctx = self.new_ctx();
            release_free_memory();
        }
    }
}

/// `memslim.DocList`.
#[pyclass(name = "DocList", module = "memslim._memslim", sequence, frozen)]
pub struct PyDocList {
    state: GilCell<State>,
}

fn collect<'py>(iterable: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if let Ok(l) = iterable.cast_exact::<PyList>() {
        return Ok(l.iter().collect());
    }
    iterable.try_iter()?.collect()
}

impl PyDocList {
    /// `op` as the plain lists compare, against another DocList or a list; else
    /// `NotImplemented`. A list compares its items by identity first, so NaNs inside do
    /// not matter where they are one object: a list compared with itself is equal to
    /// itself, and a view of document `i` at position `i` of a list is that document.
    fn compare(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        if let Ok(o) = other.cast::<PyDocList>() {
            if std::ptr::eq(o.get(), self) {
                return op.matches(std::cmp::Ordering::Equal).into_py_any(py);
            }
            let theirs = o.get().state.borrow(py)?.to_python(py)?;
            let mine = self.state.borrow(py)?.to_python(py)?;
            return Ok(mine.rich_compare(theirs, op)?.unbind());
        }
        let Ok(theirs) = other.cast::<PyList>() else {
            return Ok(py.NotImplemented());
        };
        let state = self.state.borrow(py)?;
        let mine = state.to_python(py)?;
        for (i, item) in theirs.iter().enumerate().take(mine.len()) {
            if state
                .doc_of(&item)
                .is_some_and(|h| state.inner.handle(i) == Some(h))
            {
                // The view itself in place of its copy: one object on both sides.
                mine.set_item(i, item)?;
            }
        }
        drop(state); // comparing runs Python code, which may change the list
        Ok(mine.rich_compare(theirs, op)?.unbind())
    }

    /// A Python `DocList` around a core list (for readers that build one, e.g. a
    /// streaming `read_jsonl(..., nested="docs")`).
    pub(crate) fn wrap(py: Python<'_>, inner: DocList) -> PyResult<Py<PyDocList>> {
        Py::new(
            py,
            PyDocList {
                state: GilCell::new(State::new(inner)),
            },
        )
    }
}

#[pymethods]
impl PyDocList {
    #[new]
    #[pyo3(signature = (iterable = None, /))]
    fn new(iterable: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut state = State::new(DocList::new());
        if let Some(it) = iterable {
            let items = collect(it)?;
            state.add(&items)?;
        }
        Ok(PyDocList {
            state: GilCell::new(state),
        })
    }

    /// Reads JSON Lines (one document per non-blank line) from a path, a file object,
    /// bytes or an iterable of lines.
    #[classmethod]
    fn from_jsonl(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyDocList>> {
        let opts = crate::stream::reader_limits(py, memslim_stream::MAX_LINE_BYTES)?;
        doclist_from_jsonl(py, source, &opts)
    }

    fn append(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.state.borrow_mut(py)?.add(std::slice::from_ref(value))
    }

    fn extend(&self, py: Python<'_>, iterable: &Bound<'_, PyAny>) -> PyResult<()> {
        let Ok(other) = iterable.cast::<PyDocList>() else {
            let items = collect(iterable)?;
            return self.state.borrow_mut(py)?.add(&items);
        };
        // Another DocList's documents are copied store to store, not read into Python.
        let mut state = self.state.borrow_mut(py)?;
        let added = if std::ptr::eq(other.get(), self) {
            // `docs.extend(docs)`: the list cannot be read while it grows; a copy can.
            let copy = state.inner.select(0..state.inner.len());
            copy.and_then(|copy| state.inner.extend_from(&copy))
        } else {
            state
                .inner
                .extend_from(&other.get().state.borrow(py)?.inner)
        };
        state.retrack();
        added.map(drop).map_err(|e| doc_to_py(py, e))
    }

    /// `docs + other` (a DocList or a list): a new DocList with copies of the
    /// documents of both.
    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !(other.is_instance_of::<PyDocList>() || other.is_instance_of::<PyList>()) {
            return Ok(py.NotImplemented());
        }
        let out = self.copy(py)?;
        out.get().extend(py, other)?;
        Ok(out.into_any())
    }

    /// `list + docs`: a new DocList (as `list + list` gives a list).
    fn __radd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !other.is_instance_of::<PyList>() {
            return Ok(py.NotImplemented());
        }
        let out = Py::new(py, PyDocList::new(Some(other))?)?;
        out.get().extend(py, slf.as_any())?;
        Ok(out.into_any())
    }

    fn __iadd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.extend(py, other)
    }

    /// `docs * n`: a new DocList holding copies of the documents `n` times over.
    fn __mul__(&self, py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Some(n) = mul_count(n)? else {
            return Ok(py.NotImplemented());
        };
        let inner = self.state.borrow(py)?.inner.repeated(n.max(0) as usize);
        let inner = inner.map_err(|e| doc_to_py(py, e))?;
        Ok(PyDocList::wrap(py, inner)?.into_any())
    }

    fn __rmul__(&self, py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.__mul__(py, n)
    }

    fn __imul__(&self, py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<()> {
        let n = count_arg(n)?.max(0) as usize;
        if n == 1 {
            return Ok(());
        }
        let mut state = self.state.borrow_mut(py)?;
        // A new store, as `compact()` makes; views keep the old one.
        state.inner = state.inner.repeated(n).map_err(|e| doc_to_py(py, e))?;
        state.retrack();
        Ok(())
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.borrow(py)?.inner.len())
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let len = || -> PyResult<usize> { Ok(self.state.borrow(py)?.inner.len()) };
        if let Ok(s) = index.cast::<PySlice>() {
            let positions = slice_of(s, len)?.positions();
            let state = self.state.borrow(py)?;
            let inner = state
                .inner
                .select(positions)
                .map_err(|e| doc_to_py(py, e))?;
            return Ok(PyDocList::wrap(py, inner)?.into_bound(py).into_any());
        }
        let i = norm_index(index, len, "DocList")?;
        self.state.borrow(py)?.item(py, i)
    }

    fn __delitem__(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<()> {
        // The index is read first (its `__index__` may use the list), then the length.
        let len = || -> PyResult<usize> { Ok(self.state.borrow(py)?.inner.len()) };
        if let Ok(s) = index.cast::<PySlice>() {
            let positions = slice_of(s, len)?.positions();
            self.state.borrow_mut(py)?.inner.remove_positions(positions);
        } else {
            let i = norm_index(index, len, "DocList")?;
            let removed = self.state.borrow_mut(py)?.inner.remove(i);
            removed.map_err(|e| doc_to_py(py, e))?;
        }
        self.state.borrow_mut(py)?.retrack();
        Ok(())
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyDocListIter {
        PyDocListIter {
            list: slf.clone().unbind(),
            pos: 0,
        }
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut found = false;
        self.state.borrow(py)?.find(py, value, 0..usize::MAX, |_| {
            found = true;
            false
        })?;
        Ok(found)
    }

    /// Position of the first document equal to `value` (from `start`, before `stop`,
    /// as `list.index` takes them).
    #[pyo3(
        signature = (value, start = SliceIndex(0), stop = SliceIndex(isize::MAX)),
        text_signature = "($self, value, start=0, stop=9223372036854775807)"
    )]
    fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: SliceIndex,
        stop: SliceIndex,
    ) -> PyResult<usize> {
        let state = self.state.borrow(py)?;
        let len = state.inner.len();
        let (start, stop) = (clamp_index(start.0, len), clamp_index(stop.0, len));
        let mut found = None;
        state.find(py, value, start..stop, |i| {
            found = Some(i);
            false
        })?;
        found.ok_or_else(|| PyValueError::new_err("value is not in the DocList"))
    }

    /// Number of documents equal to `value`.
    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut n = 0;
        self.state.borrow(py)?.find(py, value, 0..usize::MAX, |_| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        crate::convert::richcmp_ne_as_eq(py, op, |op| self.compare(py, other, op))
    }

    /// The documents as plain Python objects (a list of deep copies).
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.state.borrow(py)?.to_python(py)
    }

    /// Copies the live documents into fresh arena memory, dropping the garbage left by
    /// deletions; returns the bytes reclaimed. Existing views keep working: they hold
    /// the old memory until they are gone.
    fn compact(&self, py: Python<'_>) -> PyResult<usize> {
        let mut state = self.state.borrow_mut(py)?;
        let reclaimed = state.inner.compact().map_err(|e| doc_to_py(py, e))?;
        state.retrack();
        Ok(reclaimed)
    }

    /// Bytes of memory this list owns: arena, text blocks, symbol table and index.
    #[getter]
    fn nbytes(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.borrow(py)?.inner.nbytes().total)
    }

    /// Encoded bytes of the documents in the list, and their share of the text blocks.
    #[getter]
    fn live_bytes(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.borrow(py)?.inner.nbytes().live)
    }

    /// Bytes of deleted documents still held, with their share of the text blocks
    /// (until ``compact()``).
    #[getter]
    fn garbage_bytes(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.state.borrow(py)?.inner.nbytes().garbage)
    }

    /// Where the memory goes: live, garbage, arena_free, symbols, index, total; and text
    /// (compressed long strings, included in live and garbage) and text_raw (their
    /// uncompressed length).
    fn memory_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let n = self.state.borrow(py)?.inner.nbytes();
        let d = PyDict::new(py);
        d.set_item("live", n.live)?;
        d.set_item("garbage", n.garbage)?;
        d.set_item("arena_free", n.arena_free)?;
        d.set_item("symbols", n.symbols)?;
        d.set_item("index", n.index)?;
        d.set_item("total", n.total)?;
        d.set_item("text", n.text)?;
        d.set_item("text_raw", n.text_raw)?;
        Ok(d)
    }

    fn __sizeof__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.nbytes(py)? + std::mem::size_of::<Self>())
    }

    /// For `memslim.deep_sizeof`: the documents' store, shared with the views of the
    /// list, and the list's own index (see `buffers.rs`).
    fn _buffers(&self, py: Python<'_>) -> PyResult<Vec<(usize, usize)>> {
        let state = self.state.borrow(py)?;
        let store = state.inner.store();
        let mut out = crate::buffers::Buffers::default();
        let shared = store.nbytes();
        out.push(Arc::as_ptr(store) as usize, shared);
        let own = state.inner.nbytes().total.saturating_sub(shared);
        out.push(self as *const Self as usize, own);
        Ok(out.into_vec())
    }

    fn copy(&self, py: Python<'_>) -> PyResult<Py<PyDocList>> {
        let state = self.state.borrow(py)?;
        let inner = state
            .inner
            .select(0..state.inner.len())
            .map_err(|e| doc_to_py(py, e))?;
        PyDocList::wrap(py, inner)
    }

    fn __copy__(&self, py: Python<'_>) -> PyResult<Py<PyDocList>> {
        self.copy(py)
    }

    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<Py<PyDocList>> {
        // Documents are stored, not referenced: a copy is already deep.
        self.copy(py)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.__reduce_ex__(py, 4)
    }

    /// The checksummed image; from protocol 5 on as a `PickleBuffer` (out of band with
    /// a `buffer_callback`: not copied into the pickle).
    fn __reduce_ex__<'py>(&self, py: Python<'py>, protocol: i64) -> PyResult<Bound<'py, PyTuple>> {
        let image = self.state.borrow(py)?.inner.to_bytes();
        let image = image.map_err(|e| doc_to_py(py, e))?;
        let arg = crate::pickle::image_arg(py, image, protocol)?;
        let restore = py.import("memslim._memslim")?.getattr("_restore_doclist")?;
        (restore, (arg,)).into_pyobject(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = self.state.borrow(py)?;
        abridged_repr("DocList", state.inner.len(), (6, 3, 1), |i| {
            Ok(state.item(py, i)?.repr()?.to_string())
        })
    }
}

/// Rebuilds a pickled DocList.
#[pyfunction]
pub(crate) fn _restore_doclist(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<PyDocList>> {
    // `bytes` in band; an out-of-band buffer (`PickleBuffer`, `memoryview`...) from
    // protocol 5. The image is validated either way; its documents are read in place
    // when nothing can change them (see `pickle::arg_buffer`), else copied.
    let image = crate::pickle::arg_buffer(data)?;
    // Detached: a long list takes tens of milliseconds to check, and the image is
    // immutable (or a copy) and held by `image` throughout.
    let inner = py
        .detach(|| DocList::from_buffer(&image))
        .map_err(|e| doc_to_py(py, e))?;
    PyDocList::wrap(py, inner)
}

/// Iterator over a DocList (sees appends made while iterating).
#[pyclass(name = "_DocListIter", module = "memslim._memslim")]
pub struct PyDocListIter {
    list: Py<PyDocList>,
    pos: usize,
}

#[pymethods]
impl PyDocListIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let state = self.list.get().state.borrow(py)?;
        if self.pos >= state.inner.len() {
            // Ended for good, as a list's iterator, whatever is appended after.
            self.pos = usize::MAX;
            return Ok(None);
        }
        self.pos += 1;
        state.item(py, self.pos - 1).map(Some)
    }

    /// Documents left, as a list's iterator counts them (0 once ended).
    fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let len = self.list.get().state.borrow(py)?.inner.len();
        Ok(len.saturating_sub(self.pos))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDocList>()?;
    m.add_class::<PyDocView>()?;
    m.add_class::<PyListView>()?;
    m.add_class::<PyDocListIter>()?;
    m.add_function(wrap_pyfunction!(_restore_doclist, m)?)?;
    Ok(())
}

/// A DocList from JSON Lines: any source `read_jsonl` takes (a path, a file object,
/// bytes, an iterable of lines); also `read_jsonl(..., nested="docs")`. memslim-stream's
/// JSON parser feeds the arena crate's document builder.
pub(crate) fn doclist_from_jsonl(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    opts: &memslim_stream::ReadOptions,
) -> PyResult<Py<PyDocList>> {
    let inner = crate::stream::read_docs(py, source, opts)?;
    PyDocList::wrap(py, inner)
}
