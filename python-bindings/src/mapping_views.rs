//! `keys()`, `values()` and `items()` of the read-through mappings (`Row`, `DocView`):
//! views made and read natively that behave as a dict's do.
//!
//! A view reads its mapping as it is when the view is used (it holds the mapping, not a
//! copy). Iterating the keys view iterates the mapping (a `Row` with every field of its
//! list shares one tuple of the names); iterating the others lists the values or pairs
//! in one native call and iterates that list. So `dict(row)`, `{**row}` and
//! `for k, v in row.items()` make no Python-level call per key. The keys and items
//! views are set-like as dict's are (`&`, `|`, `-`, `^` with any iterable, comparisons
//! with sets, `isdisjoint`); their `repr` is a dict's (`dict_keys([...])`), as a
//! `Row`'s is a dict's.

use pyo3::basic::CompareOp;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PySet, PyTuple};
use pyo3::{IntoPyObjectExt, ffi, intern};

use crate::gilcell::GilCell;

/// Which view a mapping's `keys()` / `values()` / `items()` returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Keys,
    Values,
    Items,
}

/// Lists a mapping's keys or values, in its key order; for [`View::Items`], each key
/// followed by its value (`k0, v0, k1, v1, ...`: pairs are made only where a view needs
/// them as tuples).
pub(crate) type Lister = for<'py> fn(&Bound<'py, PyAny>, View) -> PyResult<Vec<Bound<'py, PyAny>>>;

static MAPPING_PROXY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ABC_SET: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// [`Lister`] of any mapping, through its Python protocol: its keys as `iter` gives
/// them, then one lookup per key.
pub(crate) fn list_by_protocol<'py>(
    mapping: &Bound<'py, PyAny>,
    which: View,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let keys = mapping.try_iter()?.collect::<PyResult<Vec<_>>>()?;
    if which == View::Keys {
        return Ok(keys);
    }
    let mut out = Vec::with_capacity(keys.len() * if which == View::Items { 2 } else { 1 });
    for k in keys {
        let v = mapping.get_item(&k)?;
        if which == View::Items {
            out.push(k);
        }
        out.push(v);
    }
    Ok(out)
}

/// The `which` view of `mapping`, listed by `lister`.
pub(crate) fn view<'py>(
    mapping: &Bound<'py, PyAny>,
    which: View,
    lister: Lister,
) -> PyResult<Bound<'py, PyAny>> {
    let py = mapping.py();
    let mapping = mapping.clone().unbind();
    Ok(match which {
        View::Keys => Bound::new(py, PyKeysView { mapping, lister })?.into_any(),
        View::Values => Bound::new(py, PyValuesView { mapping, lister })?.into_any(),
        View::Items => Bound::new(py, PyItemsView { mapping, lister })?.into_any(),
    })
}

/// The parts every view shares.
struct Parts<'py> {
    mapping: Bound<'py, PyAny>,
    lister: Lister,
    which: View,
}

impl<'py> Parts<'py> {
    /// The view's elements: keys, values, or `(key, value)` tuples.
    fn list(&self) -> PyResult<Bound<'py, PyList>> {
        let listed = (self.lister)(&self.mapping, self.which)?;
        let py = self.mapping.py();
        if self.which != View::Items {
            return PyList::new(py, listed);
        }
        let mut pairs = Vec::with_capacity(listed.len() / 2);
        let mut it = listed.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push(PyTuple::new(py, [k, v])?);
        }
        PyList::new(py, pairs)
    }

    fn iter(&self) -> PyResult<Bound<'py, PyAny>> {
        let py = self.mapping.py();
        match self.which {
            // A mapping's keys, as iterating it gives them (a `Row` shares one tuple of
            // its list's names across records).
            View::Keys => Ok(self.mapping.try_iter()?.into_any()),
            View::Values => Ok(self.list()?.try_iter()?.into_any()),
            View::Items => {
                let listed = (self.lister)(&self.mapping, View::Items)?;
                let it = PyPairIter {
                    listed: listed.into_iter().map(Bound::unbind).collect(),
                    state: GilCell::new(PairState { pos: 0, pair: None }),
                };
                crate::fast_slots::new_iter(py, it).map(|it| it.into_bound(py))
            }
        }
    }

    fn reversed(&self) -> PyResult<Bound<'py, PyAny>> {
        let l = self.list()?;
        l.reverse()?;
        Ok(l.try_iter()?.into_any())
    }

    fn contains(&self, x: &Bound<'py, PyAny>) -> PyResult<bool> {
        match self.which {
            View::Keys => self.mapping.contains(x),
            View::Values => self.list()?.contains(x),
            View::Items => {
                // As a dict's: only a pair can be an item; its value is compared by
                // identity first.
                let Ok(pair) = x.cast::<PyTuple>() else {
                    return Ok(false);
                };
                if pair.len() != 2 {
                    return Ok(false);
                }
                let value = match self.mapping.get_item(pair.get_item(0)?) {
                    Ok(v) => v,
                    Err(e) if e.is_instance_of::<PyKeyError>(x.py()) => return Ok(false),
                    Err(e) => return Err(e),
                };
                let want = pair.get_item(1)?;
                Ok(value.is(&want) || value.eq(want)?)
            }
        }
    }

    fn repr(&self) -> PyResult<String> {
        let name = match self.which {
            View::Keys => "dict_keys",
            View::Values => "dict_values",
            View::Items => "dict_items",
        };
        Ok(format!("{name}({})", self.list()?.repr()?))
    }

    fn mapping_proxy(&self) -> PyResult<Bound<'py, PyAny>> {
        let py = self.mapping.py();
        MAPPING_PROXY
            .import(py, "types", "MappingProxyType")?
            .call1((&self.mapping,))
    }

    /// The view's items as a new `set` (keys and items views).
    fn set(&self) -> PyResult<Bound<'py, PySet>> {
        PySet::new(self.mapping.py(), self.list()?)
    }

    /// `set(self).method(other)`, or `NotImplemented` when `other` is not iterable (as
    /// a dict's views answer).
    fn set_op(&self, other: &Bound<'py, PyAny>, method: &str) -> PyResult<Py<PyAny>> {
        let py = other.py();
        if other.try_iter().is_err() {
            return Ok(py.NotImplemented());
        }
        Ok(self.set()?.call_method1(method, (other,))?.unbind())
    }

    /// The items of `other` the view holds, as a new `set`: as a dict's view computes
    /// `&`, so an item of the view need not be hashable.
    fn intersection(&self, other: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        if other.is_exact_instance_of::<PySet>() && self.mapping.len()? <= other.len()? {
            // A dict's view asks the larger set instead, which keeps the view's items.
            return Ok(other
                .call_method1(intern!(py, "intersection"), (self.list()?,))?
                .unbind());
        }
        let Ok(it) = other.try_iter() else {
            return Ok(py.NotImplemented());
        };
        let out = PySet::empty(py)?;
        for x in it {
            let x = x?;
            if self.contains(&x)? {
                out.add(x)?;
            }
        }
        Ok(out.into_any().unbind())
    }

    /// Whether no item of `other` is in the view, as a dict's view answers: it goes
    /// through `other`, or through the view when `other` is a larger set.
    fn isdisjoint(&self, other: &Bound<'py, PyAny>) -> PyResult<bool> {
        let py = other.py();
        let abc_set = ABC_SET.import(py, "collections.abc", "Set")?;
        if other.is_instance(abc_set)? && other.len()? > self.mapping.len()? {
            for x in self.list()?.iter() {
                if other.contains(x)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        for x in other.try_iter()? {
            if self.contains(&x?)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `set(other).method(self)`: `other` on the left of `|`, `-` or `^` (its items
    /// first, as a dict's view makes the set from the left operand).
    fn set_rop(&self, other: &Bound<'py, PyAny>, method: &str) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(it) = other.try_iter() else {
            return Ok(py.NotImplemented());
        };
        let o = PySet::empty(py)?;
        for v in it {
            o.add(v?)?;
        }
        Ok(o.call_method1(method, (self.list()?,))?.unbind())
    }

    /// A comparison with a set (any `collections.abc.Set`) as a dict's view makes it:
    /// the sizes first, then whether every item of the smaller side is in the other
    /// (so no item is hashed when the sizes decide).
    fn compare(&self, other: &Bound<'py, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let abc_set = ABC_SET.import(py, "collections.abc", "Set")?;
        if !other.is_instance(abc_set)? {
            return Ok(py.NotImplemented());
        }
        let (mine, theirs) = (self.mapping.len()?, other.len()?);
        let all_in = |items: Bound<'py, PyAny>, of: &Bound<'py, PyAny>| -> PyResult<bool> {
            for x in items.try_iter()? {
                if !of.contains(x?)? {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let me = || Ok::<_, PyErr>(self.list()?.into_any());
        let answer = match op {
            CompareOp::Eq => mine == theirs && all_in(me()?, other)?,
            CompareOp::Ne => !(mine == theirs && all_in(me()?, other)?),
            CompareOp::Lt => mine < theirs && all_in(me()?, other)?,
            CompareOp::Le => mine <= theirs && all_in(me()?, other)?,
            CompareOp::Gt => mine > theirs && all_in(other.clone(), &me()?)?,
            CompareOp::Ge => mine >= theirs && all_in(other.clone(), &me()?)?,
        };
        answer.into_py_any(py)
    }
}

/// Iterator of an items view: the `(key, value)` pairs of a listing of the mapping made
/// when iteration began (a snapshot, as the other views iterate). As a dict's items
/// iterator, it hands out one pair again once nobody else refers to it (a
/// `for k, v in ...` loop unpacks and drops each), instead of making a tuple per key;
/// not from CPython 3.14 on, where a tuple keeps its hash once asked for it.
#[pyclass(name = "_PairIterBase", module = "memslim._memslim", frozen, subclass)]
pub struct PyPairIter {
    /// `k0, v0, k1, v1, ...`, never handed out as a whole: a pair's items stay
    /// referenced here, so refilling a pair never frees what it held.
    listed: Vec<Py<PyAny>>,
    state: GilCell<PairState>,
}

struct PairState {
    /// Index in `listed` of the next pair's key.
    pos: usize,
    /// The pair handed out last.
    pair: Option<Py<PyTuple>>,
}

impl PyPairIter {
    /// The next pair (`None` at the end), refilling the last one if only this
    /// iterator refers to it. Runs no code: see `quick_next`.
    fn step(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut s = self.state.borrow_mut(py)?;
        let (Some(k), Some(v)) = (self.listed.get(s.pos), self.listed.get(s.pos + 1)) else {
            return Ok(None);
        };
        let (k, v) = (k.clone_ref(py), v.clone_ref(py));
        let pair = match s.pair.take() {
            // A pair is refilled only where tuples keep nothing computed from their
            // items (up to 3.13: see `tuples_cache_nothing`).
            Some(p)
                if crate::tuple_rows::tuples_cache_nothing(py)
                    // SAFETY: reads the reference count of a live tuple this iterator
                    // holds.
                    && unsafe { ffi::Py_REFCNT(p.as_ptr()) } == 1 =>
            {
                let t = p.as_ptr();
                // SAFETY: `t` is a 2-tuple referenced by this iterator alone, so
                // `PyTuple_SetItem` may replace its items: it takes over the new
                // references to `k` and `v` and releases the old items, which
                // `listed` still refers to (so none is freed and no code runs). A tuple
                // the collector untracked while it held only atomic values is tracked
                // again, as a dict's items iterator does, since `v` may be a container.
                unsafe {
                    ffi::PyTuple_SetItem(t, 0, k.into_ptr());
                    ffi::PyTuple_SetItem(t, 1, v.into_ptr());
                    if ffi::PyObject_GC_IsTracked(t) == 0 {
                        ffi::PyObject_GC_Track(t.cast());
                    }
                }
                p
            }
            old => {
                let fresh = PyTuple::new(py, [k, v]);
                if let Some(o) = old {
                    // SAFETY: `o` is a live pair this iterator owns a reference to.
                    // Releasing it frees at most the tuple itself (when nobody else
                    // refers to it, from 3.14): its items stay referenced by `listed`,
                    // so no code runs. Released now, under the attached thread, not
                    // deferred.
                    unsafe { ffi::Py_DecRef(o.into_ptr()) };
                }
                fresh?.unbind()
            }
        };
        s.pos += 2;
        let out = pair.clone_ref(py).into_any();
        s.pair = Some(pair);
        Ok(Some(out))
    }

    /// [`PyPairIter::step`] for the fast slot (see `fast_slots.rs`): it frees no value,
    /// so it runs no code; `None` at the end, or if the pair cannot be made (the full
    /// `__next__` then tries again and raises).
    #[inline]
    pub(crate) fn quick_next(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.step(py).ok().flatten()
    }
}

#[pymethods]
impl PyPairIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.step(py)
    }

    fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.listed.len().saturating_sub(self.state.borrow(py)?.pos) / 2)
    }
}

/// Defines a view class over a mapping; with `set`, the set operations of the keys and
/// items views.
macro_rules! view_class {
    ($class:ident, $name:literal, $which:expr, $doc:literal $(, $set:ident)?) => {
        #[doc = $doc]
        #[pyclass(name = $name, module = "memslim._memslim", frozen)]
        pub struct $class {
            mapping: Py<PyAny>,
            lister: Lister,
        }

        impl $class {
            fn parts<'py>(&self, py: Python<'py>) -> Parts<'py> {
                Parts {
                    mapping: self.mapping.bind(py).clone(),
                    lister: self.lister,
                    which: $which,
                }
            }
        }

        #[pymethods]
        impl $class {
            fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
                self.mapping.bind(py).len()
            }

            fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.parts(py).iter()
            }

            fn __reversed__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.parts(py).reversed()
            }

            fn __contains__(&self, x: &Bound<'_, PyAny>) -> PyResult<bool> {
                self.parts(x.py()).contains(x)
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                self.parts(py).repr()
            }

            /// A read-only proxy of the mapping the view reads, as a dict view's.
            #[getter]
            fn mapping<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.parts(py).mapping_proxy()
            }
            $(
            #[doc = concat!("`", stringify!($set), "(self) & other`.")]
            fn __and__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).intersection(other)
            }
            fn __rand__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).intersection(other)
            }
            fn __or__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).set_op(other, "union")
            }
            fn __ror__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).set_rop(other, "union")
            }
            fn __xor__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).set_op(other, "symmetric_difference")
            }
            fn __rxor__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).set_rop(other, "symmetric_difference")
            }
            fn __sub__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).set_op(other, "difference")
            }
            fn __rsub__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).set_rop(other, "difference")
            }
            #[pyo3(signature = (other, /))]
            fn isdisjoint(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
                self.parts(other.py()).isdisjoint(other)
            }
            fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
                self.parts(other.py()).compare(other, op)
            }
            )?
        }
    };
}

view_class!(
    PyKeysView,
    "_KeysView",
    View::Keys,
    "A mapping's keys, live and set-like (as `dict.keys()`).",
    set
);
view_class!(
    PyItemsView,
    "_ItemsView",
    View::Items,
    "A mapping's `(key, value)` pairs, live and set-like (as `dict.items()`).",
    set
);
view_class!(
    PyValuesView,
    "_ValuesView",
    View::Values,
    "A mapping's values, live (as `dict.values()`)."
);

/// Registers the view classes (the package registers them with `collections.abc`).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKeysView>()?;
    m.add_class::<PyValuesView>()?;
    m.add_class::<PyItemsView>()?;
    m.add(
        "_PairIter",
        crate::fast_slots::iter_class::<PyPairIter>(m.py())?,
    )?;
    Ok(())
}
