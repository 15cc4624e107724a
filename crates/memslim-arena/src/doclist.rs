//! [`DocList`]: a list of nested documents in arena memory with interned strings.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::arena::{Arena, ArenaSlice};
use crate::doc::{DocBuilder, Node, read_node, validate};
use crate::error::{DocError, Result};
use crate::interner::Interner;
use crate::variant::{DecodeError, Reader, put_varint};

/// String values up to this many UTF-8 bytes are interned by default.
pub const DEFAULT_INTERN_MAX: usize = 24;

/// Magic and version at the start of [`DocList::to_bytes`] output.
const MAGIC: &[u8; 6] = b"MSDOC\x01";

/// The home of documents: an arena for their bytes and the symbol table they use.
///
/// Shared (`Arc`) between a [`DocList`] and any readers (views) of its documents; it only
/// ever grows, and a document's bytes never change or move, so a reader holding the
/// store and a document handle can read it at any later time, even after the list
/// deleted it or compacted into a new store.
///
/// # Memory
/// The arena's chunks plus the interner; see [`DocList::nbytes`].
#[derive(Debug)]
pub struct DocStore {
    arena: Arena,
    symbols: RwLock<Interner>,
}

/// A stored document: a handle into its store's arena.
pub type DocHandle = ArenaSlice<u8>;

impl DocStore {
    fn new(symbols: Interner, capacity: usize) -> Self {
        DocStore {
            arena: Arena::with_capacity(capacity),
            symbols: RwLock::new(symbols),
        }
    }

    /// The bytes of a document of this store (`None` for a handle of another store).
    #[inline]
    pub fn doc(&self, handle: DocHandle) -> Option<&[u8]> {
        self.arena.get(handle)
    }

    /// The symbol table, for reading.
    pub fn symbols(&self) -> RwLockReadGuard<'_, Interner> {
        self.symbols.read().unwrap_or_else(|p| p.into_inner())
    }

    fn symbols_mut(&self) -> RwLockWriteGuard<'_, Interner> {
        self.symbols.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of arena capacity held.
    pub fn arena_bytes(&self) -> usize {
        self.arena.allocated_bytes()
    }
}

/// Where a [`DocList`]'s bytes go, as reported by [`DocList::nbytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NBytes {
    /// Encoded bytes of the documents in the list.
    pub live: usize,
    /// Encoded bytes of deleted documents still in the arena (reclaimed by `compact`).
    pub garbage: usize,
    /// Arena capacity not yet used by any document.
    pub arena_free: usize,
    /// The symbol table (text, offsets, hash table).
    pub symbols: usize,
    /// The per-document index.
    pub index: usize,
    /// Everything owned: the sum of the above.
    pub total: usize,
}

/// A list of nested, JSON-like documents (dicts, lists, tuples, strings, ints of any
/// size, floats, bools, None, bytes) stored compactly in arena memory.
///
/// Documents are immutable once added. Removing one leaves its bytes in the arena as
/// garbage until [`compact`](DocList::compact) copies the live documents into a fresh
/// store; readers of the old store keep it alive (it is reference counted).
///
/// ```
/// use memslim_arena::{DocList, Node};
///
/// let mut docs = DocList::new();
/// docs.build(|b| {
///     for name in ["ada", "bob"] {
///         b.begin_map()?;
///         b.key("user")?;
///         b.begin_map()?;
///         b.key("name")?;
///         b.str(name)?;
///         b.end()?;
///         b.end()?;
///         b.end_doc()?;
///     }
///     Ok::<(), memslim_arena::DocError>(())
/// })?;
/// assert_eq!(docs.len(), 2);
/// let store = docs.store().clone();
/// let bytes = store.doc(docs.handle(1).unwrap()).unwrap();
/// let Node::Dict(root) = memslim_arena::read_node(bytes, 0)?.0 else { unreachable!() };
/// let user = store.symbols().lookup("user").unwrap();
/// assert!(matches!(root.get(user)?, Some((Node::Dict(_), _))));
/// docs.remove(0)?;
/// assert!(docs.nbytes().garbage > 0);
/// docs.compact();
/// assert_eq!(docs.nbytes().garbage, 0);
/// # Ok::<(), memslim_arena::DocError>(())
/// ```
#[derive(Debug)]
pub struct DocList {
    store: Arc<DocStore>,
    docs: Vec<DocHandle>,
    live: usize,
    stored: usize,
    intern_max: usize,
}

impl Default for DocList {
    fn default() -> Self {
        Self::new()
    }
}

impl DocList {
    /// An empty list.
    pub fn new() -> Self {
        Self::with_store(Interner::new(), 0)
    }

    fn with_store(symbols: Interner, capacity: usize) -> Self {
        DocList {
            store: Arc::new(DocStore::new(symbols, capacity)),
            docs: Vec::new(),
            live: 0,
            stored: 0,
            intern_max: DEFAULT_INTERN_MAX,
        }
    }

    /// Sets the longest string value (in UTF-8 bytes) that is interned; longer ones are
    /// stored in place. Keys are always interned. Default [`DEFAULT_INTERN_MAX`].
    pub fn set_intern_max(&mut self, bytes: usize) {
        self.intern_max = bytes;
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The store holding the documents (share it to read documents later).
    pub fn store(&self) -> &Arc<DocStore> {
        &self.store
    }

    /// The handle of document `i`.
    pub fn handle(&self, i: usize) -> Option<DocHandle> {
        self.docs.get(i).copied()
    }

    /// The encoded bytes of document `i`.
    pub fn doc_bytes(&self, i: usize) -> Option<&[u8]> {
        self.store.doc(*self.docs.get(i)?)
    }

    /// Adds the documents written by `f` to a [`DocBuilder`] (each closed by
    /// `end_doc`), all or none: if `f` fails, or leaves a document unfinished, the list
    /// and its symbol table are as before. Returns the number of documents added.
    ///
    /// # Errors
    /// Whatever `f` returns, or [`DocError::Build`] for an unfinished document.
    pub fn build<E: From<DocError>>(
        &mut self,
        f: impl FnOnce(&mut DocBuilder<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<usize, E> {
        // Fresh buffers per call: a failed call leaves nothing behind, not even capacity.
        let mut buf = Vec::with_capacity(256);
        let mut ends = Vec::new();
        let store = Arc::clone(&self.store);
        let mut symbols = store.symbols_mut();
        let mark = symbols.len();
        let mut b = DocBuilder::new(&mut symbols, &mut buf, &mut ends, self.intern_max);
        let outcome = f(&mut b).and_then(|()| {
            if b.is_idle() {
                Ok(())
            } else {
                Err(DocError::Build("a document was left unfinished").into())
            }
        });
        if let Err(e) = outcome {
            symbols.truncate(mark);
            return Err(e);
        }
        drop(symbols);
        let added = ends.len();
        self.docs.reserve(added);
        let mut start = 0;
        for &end in &ends {
            let h = self.store.arena.alloc_slice(&buf[start..end]);
            self.docs.push(h);
            start = end;
        }
        self.live += start;
        self.stored += start;
        Ok(added)
    }

    /// Removes document `i`; its bytes become garbage until [`compact`](DocList::compact).
    ///
    /// # Errors
    /// [`DocError::IndexOutOfRange`].
    pub fn remove(&mut self, i: usize) -> Result<()> {
        if i >= self.docs.len() {
            return Err(DocError::IndexOutOfRange {
                index: i,
                len: self.docs.len(),
            });
        }
        let h = self.docs.remove(i);
        self.live -= h.len();
        Ok(())
    }

    /// Removes every document whose position `keep` rejects.
    pub fn retain_positions(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut i = 0;
        let mut dropped = 0;
        self.docs.retain(|h| {
            let k = keep(i);
            i += 1;
            if !k {
                dropped += h.len();
            }
            k
        });
        self.live -= dropped;
    }

    /// Moves the list's documents to a fresh store holding only them, returning the
    /// garbage bytes reclaimed. Readers of the old store keep it (and their documents)
    /// alive until they are gone.
    pub fn compact(&mut self) -> usize {
        let reclaimed = self.stored - self.live;
        let fresh = self.select(0..self.docs.len());
        self.store = fresh.store;
        self.docs = fresh.docs;
        self.stored = self.live;
        reclaimed
    }

    /// A new list with copies of the documents at `positions` (which must be in range;
    /// others are skipped), sharing nothing with this one.
    pub fn select(&self, positions: impl IntoIterator<Item = usize>) -> DocList {
        let handles: Vec<DocHandle> = positions
            .into_iter()
            .filter_map(|i| self.docs.get(i).copied())
            .collect();
        let bytes: usize = handles.iter().map(|h| h.len()).sum();
        let symbols = self.store.symbols().clone();
        let mut out = DocList::with_store(symbols, bytes);
        out.intern_max = self.intern_max;
        out.docs.reserve_exact(handles.len());
        for h in handles {
            let data = self.store.doc(h).unwrap_or_default();
            out.docs.push(out.store.arena.alloc_slice(data));
        }
        out.live = bytes;
        out.stored = bytes;
        out
    }

    /// Where the list's memory goes.
    pub fn nbytes(&self) -> NBytes {
        let arena = self.store.arena_bytes();
        let symbols = self.store.symbols().nbytes();
        let index = self.docs.capacity() * std::mem::size_of::<DocHandle>();
        let arena = arena.max(self.stored);
        NBytes {
            live: self.live,
            garbage: self.stored - self.live,
            arena_free: arena - self.stored,
            symbols,
            index,
            total: arena + symbols + index,
        }
    }

    /// A self-contained byte image of the list (symbol table and documents; garbage is
    /// left out), readable by [`from_bytes`](DocList::from_bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let symbols = self.store.symbols();
        let mut out = Vec::with_capacity(self.live + 16 + symbols.nbytes());
        out.extend_from_slice(MAGIC);
        put_varint(&mut out, symbols.len() as u64);
        for s in symbols.iter() {
            put_varint(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        put_varint(&mut out, self.docs.len() as u64);
        for &h in &self.docs {
            let d = self.store.doc(h).unwrap_or_default();
            put_varint(&mut out, d.len() as u64);
            out.extend_from_slice(d);
        }
        out
    }

    /// Reads a byte image written by [`to_bytes`](DocList::to_bytes), validating every
    /// document.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] / [`DocError::UnknownSymbol`] for damaged input.
    pub fn from_bytes(bytes: &[u8]) -> Result<DocList> {
        let bad = |offset, reason| DocError::Corrupt(DecodeError::Malformed { offset, reason });
        if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(bad(0, "not a memslim DocList image (bad magic or version)"));
        }
        let mut r = Reader {
            bytes,
            pos: MAGIC.len(),
        };
        let nsyms = r.length()?;
        let mut symbols = Interner::new();
        for i in 0..nsyms {
            let at = r.pos;
            let n = r.length()?;
            let s = std::str::from_utf8(r.take(n)?)
                .map_err(|_| bad(at, "symbol is not valid UTF-8"))?;
            if symbols.intern(s)?.index() != i {
                return Err(bad(at, "duplicate symbol"));
            }
        }
        let ndocs = r.length()?;
        if ndocs > r.remaining() {
            return Err(DecodeError::Truncated { offset: r.pos }.into());
        }
        let mut spans = Vec::with_capacity(ndocs);
        for _ in 0..ndocs {
            let n = r.length()?;
            let at = r.pos;
            let d = r.take(n)?;
            validate(d, symbols.len()).map_err(|e| shift(e, at))?;
            spans.push(at..at + n);
        }
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                extra: r.remaining(),
            }
            .into());
        }
        let total = spans.iter().map(|s| s.len()).sum();
        let mut out = DocList::with_store(symbols, total);
        for s in spans {
            out.docs.push(out.store.arena.alloc_slice(&bytes[s]));
        }
        out.live = total;
        out.stored = total;
        Ok(out)
    }

    /// Reads a whole document into a [`Node`] for inspection (convenience for tests and
    /// Rust users; views read lazily instead).
    ///
    /// # Errors
    /// [`DocError::IndexOutOfRange`], or [`DocError::Corrupt`] (never for documents
    /// this list wrote).
    pub fn root(&self, i: usize) -> Result<Node<'_>> {
        let bytes = self.doc_bytes(i).ok_or(DocError::IndexOutOfRange {
            index: i,
            len: self.docs.len(),
        })?;
        Ok(read_node(bytes, 0)?.0)
    }
}

/// Makes an offset inside one document an offset in the whole image.
fn shift(e: DocError, base: usize) -> DocError {
    match e {
        DocError::Corrupt(d) => DocError::Corrupt(match d {
            DecodeError::Truncated { offset } => DecodeError::Truncated {
                offset: offset + base,
            },
            DecodeError::UnknownTag { tag, offset } => DecodeError::UnknownTag {
                tag,
                offset: offset + base,
            },
            DecodeError::InvalidUtf8 { offset } => DecodeError::InvalidUtf8 {
                offset: offset + base,
            },
            DecodeError::Malformed { offset, reason } => DecodeError::Malformed {
                offset: offset + base,
                reason,
            },
            other => other,
        }),
        DocError::UnknownSymbol { sym, offset } => DocError::UnknownSymbol {
            sym,
            offset: offset + base,
        },
        other => other,
    }
}
