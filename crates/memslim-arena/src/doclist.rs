//! [`DocList`]: a list of nested documents in arena memory with interned strings.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use crate::arena::{Arena, ArenaSlice};
use crate::doc::{DocBuilder, Node, read_node, validate_collecting};
use crate::error::{DocError, Result};
use crate::interner::Interner;
use crate::text::{TextBlocks, TextRef};
use crate::variant::{DecodeError, Reader, put_varint, varint_into, varint_len};
use arrow_buffer::Buffer;

/// String values up to this many UTF-8 bytes are interned by default.
pub const DEFAULT_INTERN_MAX: usize = 24;

/// String values of at least this many UTF-8 bytes go to the compressed text blocks by
/// default (shorter ones that are not interned are stored in place).
pub const DEFAULT_TEXT_MIN: usize = 48;

/// Inflated text blocks a store keeps for reading (most recent first).
const INFLATED_KEEP: usize = 2;

/// Magic and version at the start of [`DocList::to_bytes`] output. Version 3 is version
/// 2's layout followed by a CRC-32 (little-endian) of everything before it; version 2
/// (which added the text blocks) and version 1 images are still read.
const MAGIC: &[u8; 6] = b"MSDOC\x03";
const MAGIC_V2: &[u8; 6] = b"MSDOC\x02";
const MAGIC_V1: &[u8; 6] = b"MSDOC\x01";

/// The home of documents: an arena for their bytes and the symbol table they use.
///
/// Shared (`Arc`) between a [`DocList`] and any readers (views) of its documents; it only
/// ever grows, and a document's bytes never change or move, so a reader holding the
/// store and a document handle can read it at any later time, even after the list
/// deleted it or compacted into a new store.
///
/// # Memory
/// The arena's chunks, the interner and the text blocks; see [`DocList::nbytes`]. Reading
/// long strings also keeps up to two inflated text blocks (64 KiB) for later reads.
#[derive(Debug)]
pub struct DocStore {
    arena: Arena,
    symbols: RwLock<Interner>,
    text: RwLock<TextBlocks>,
    /// Recently inflated text blocks, most recent first.
    inflated: Mutex<Vec<(u64, Arc<[u8]>)>>,
}

/// A stored document: a handle into its store's arena.
pub type DocHandle = ArenaSlice<u8>;

impl DocStore {
    fn new(symbols: Interner, text: TextBlocks, capacity: usize) -> Self {
        DocStore {
            arena: Arena::with_capacity(capacity),
            symbols: RwLock::new(symbols),
            text: RwLock::new(text),
            inflated: Mutex::new(Vec::new()),
        }
    }

    /// Calls `f` with the long string `t` refers to. A string in a sealed block
    /// inflates that block, unless it is one of the last two inflated; `f` runs with
    /// the text blocks locked for reading only for strings of the open tail block.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] for a reference outside the text or text that is not
    /// UTF-8 (never for documents this store's list wrote).
    pub fn with_text<R>(&self, t: TextRef, f: impl FnOnce(&str) -> R) -> Result<R> {
        let text = self.text();
        if !text.contains(t) {
            return Err(text_error("text reference outside the text blocks"));
        }
        // `contains` checked offset + len against a block length, so both fit usize.
        let (o, n) = (t.offset as usize, t.len as usize);
        if let Some(tail) = text.tail_of(t) {
            return Ok(f(utf8(tail.get(o..o + n))?));
        }
        let block = self.inflated(t.block, &text)?;
        drop(text);
        Ok(f(utf8(block.get(o..o + n))?))
    }

    fn inflated(&self, block: u64, text: &TextBlocks) -> Result<Arc<[u8]>> {
        {
            let mut cache = self.inflated.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(k) = cache.iter().position(|(b, _)| *b == block) {
                let hit = cache.remove(k);
                let data = Arc::clone(&hit.1);
                cache.insert(0, hit);
                return Ok(data);
            }
        }
        let data = text.inflate_block(block)?;
        let mut cache = self.inflated.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(0, (block, Arc::clone(&data)));
        cache.truncate(INFLATED_KEEP);
        Ok(data)
    }

    /// Drops inflated copies of blocks numbered `from` and up (after a rollback).
    fn forget_inflated_from(&self, from: usize) {
        let mut cache = self.inflated.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(b, _)| *b < from as u64);
    }

    /// The text blocks, for reading.
    pub fn text(&self) -> RwLockReadGuard<'_, TextBlocks> {
        self.text.read().unwrap_or_else(|p| p.into_inner())
    }

    fn text_mut(&self) -> RwLockWriteGuard<'_, TextBlocks> {
        self.text.write().unwrap_or_else(|p| p.into_inner())
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

    /// The symbol table and text blocks for writing: waited for, or with `fail_when_busy`
    /// [`DocError::Busy`] at once if a reader holds either.
    fn tables_mut(
        &self,
        fail_when_busy: bool,
    ) -> Result<(
        RwLockWriteGuard<'_, Interner>,
        RwLockWriteGuard<'_, TextBlocks>,
    )> {
        if !fail_when_busy {
            return Ok((self.symbols_mut(), self.text_mut()));
        }
        Ok((now(self.symbols.try_write())?, now(self.text.try_write())?))
    }

    /// Bytes of arena capacity held.
    pub fn arena_bytes(&self) -> usize {
        self.arena.allocated_bytes()
    }

    /// Bytes of heap memory the store holds (arena, symbol table, text blocks): what a
    /// view of one of its documents keeps alive, with or without its list.
    pub fn nbytes(&self) -> usize {
        self.arena_bytes() + self.symbols().nbytes() + self.text().nbytes()
    }
}

/// A lock taken without waiting ([`DocError::Busy`] if held); a poisoned one is taken
/// as it is, as everywhere in this module (a panicking writer leaves the tables whole:
/// only completed appends change them).
fn now<G>(r: std::sync::TryLockResult<G>) -> Result<G> {
    match r {
        Ok(g) => Ok(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => Err(DocError::Busy),
    }
}

fn text_error(reason: &'static str) -> DocError {
    DocError::Corrupt(DecodeError::Malformed { offset: 0, reason })
}

fn utf8(b: Option<&[u8]>) -> Result<&str> {
    let b = b.ok_or_else(|| text_error("text reference outside its block"))?;
    std::str::from_utf8(b).map_err(|_| text_error("text block holds invalid UTF-8"))
}

/// Where a [`DocList`]'s bytes go, as reported by [`DocList::nbytes`].
///
/// The text blocks are shared out between `live` and `garbage` in proportion to the
/// length of the strings that live and deleted documents refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NBytes {
    /// Encoded bytes of the documents in the list, and their share of the text blocks.
    pub live: usize,
    /// Encoded bytes of deleted documents still in the arena, and the share of the
    /// text blocks holding their long strings (all reclaimed by `compact`).
    pub garbage: usize,
    /// Bytes held by the text blocks (compressed blocks and the open tail), counted in
    /// `live` and `garbage` above, and their spare capacity in `arena_free` below.
    pub text: usize,
    /// Length the long strings held in the text blocks have uncompressed.
    pub text_raw: usize,
    /// Arena and text-block capacity not yet used.
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
/// docs.compact()?;
/// assert_eq!(docs.nbytes().garbage, 0);
/// # Ok::<(), memslim_arena::DocError>(())
/// ```
#[derive(Debug)]
pub struct DocList {
    store: Arc<DocStore>,
    docs: Vec<DocHandle>,
    live: usize,
    stored: usize,
    /// Uncompressed length of the long strings the documents in the list refer to.
    text_live: usize,
    intern_max: usize,
    text_min: usize,
    /// Whether writes fail with [`DocError::Busy`] rather than wait for readers.
    fail_when_busy: bool,
}

impl Default for DocList {
    fn default() -> Self {
        Self::new()
    }
}

impl DocList {
    /// An empty list.
    pub fn new() -> Self {
        Self::with_store(Interner::new(), TextBlocks::new(), 0)
    }

    fn with_store(symbols: Interner, text: TextBlocks, capacity: usize) -> Self {
        DocList {
            store: Arc::new(DocStore::new(symbols, text, capacity)),
            docs: Vec::new(),
            live: 0,
            stored: 0,
            text_live: 0,
            intern_max: DEFAULT_INTERN_MAX,
            text_min: DEFAULT_TEXT_MIN,
            fail_when_busy: false,
        }
    }

    /// Sets the longest string value (in UTF-8 bytes) that is interned; longer ones are
    /// stored in place or in the text blocks. Keys are always interned. Default
    /// [`DEFAULT_INTERN_MAX`].
    pub fn set_intern_max(&mut self, bytes: usize) {
        self.intern_max = bytes;
    }

    /// Sets the shortest string value (in UTF-8 bytes) that goes to the compressed text
    /// blocks rather than in place (strings short enough to be interned never do).
    /// Default [`DEFAULT_TEXT_MIN`]; `usize::MAX` turns compression off for new strings.
    pub fn set_text_min(&mut self, bytes: usize) {
        self.text_min = bytes;
    }

    /// Makes appends ([`build`](DocList::build), [`extend_from`](DocList::extend_from))
    /// fail with [`DocError::Busy`], changing nothing, while a reader of the store holds
    /// its symbol table or text blocks, rather than wait for the read to end (the
    /// default). For a host whose readers hold the GIL (or another lock) while they read:
    /// its writer, holding the same lock, would wait for a reader that waits for the
    /// lock, or for itself, when the host runs its own code in the middle of a read (an
    /// interpreter's garbage collector, running finalizers, may). Kept by the lists
    /// [`select`](DocList::select), [`compact`](DocList::compact) and
    /// [`repeated`](DocList::repeated) make.
    pub fn set_fail_when_busy(&mut self, fail: bool) {
        self.fail_when_busy = fail;
    }

    /// Sets the size at which text blocks are compressed (default [`TEXT_BLOCK_BYTES`]);
    /// takes effect for an empty list, and for the lists `select` and `compact` make.
    ///
    /// [`TEXT_BLOCK_BYTES`]: crate::TEXT_BLOCK_BYTES
    pub fn set_text_block_bytes(&mut self, bytes: usize) {
        let mut text = self.store.text_mut();
        if text.raw_bytes() == 0 {
            *text = TextBlocks::with_block_bytes(bytes);
        }
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
    /// `f` runs with the symbol table and text blocks locked for writing: readers of
    /// the store, on any thread, wait until it returns.
    ///
    /// # Errors
    /// Whatever `f` returns, or [`DocError::Build`] for an unfinished document;
    /// [`DocError::Busy`] (before `f` is called) when set to
    /// [fail when busy](DocList::set_fail_when_busy).
    pub fn build<E: From<DocError>>(
        &mut self,
        f: impl FnOnce(&mut DocBuilder<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<usize, E> {
        // Fresh buffers per call: a failed call leaves nothing behind, not even capacity.
        let mut buf = Vec::with_capacity(256);
        let mut ends = Vec::new();
        let store = Arc::clone(&self.store);
        let (mut symbols, mut text) = store.tables_mut(self.fail_when_busy)?;
        let mark = symbols.len();
        let text_mark = text.mark();
        let raw_before = text.raw_bytes();
        let mut b = DocBuilder::new(
            &mut symbols,
            &mut text,
            &mut buf,
            &mut ends,
            self.intern_max,
            self.text_min,
        );
        let outcome = f(&mut b).and_then(|()| {
            if b.is_idle() {
                Ok(())
            } else {
                Err(DocError::Build("a document was left unfinished").into())
            }
        });
        if let Err(e) = outcome {
            symbols.truncate(mark);
            // Fails only if a block this store sealed does not inflate; the strings of
            // the failed call then stay behind, unreferenced, which is harmless.
            let _ = text.rollback(text_mark);
            store.forget_inflated_from(text_mark.blocks);
            return Err(e);
        }
        let added = ends.len();
        self.docs.reserve(added);
        let mut start = 0;
        for (k, &end) in ends.iter().enumerate() {
            // A document holding a long string in place is as long as the input made it.
            let Some(h) = self.store.arena.try_alloc_slice(&buf[start..end]) else {
                // The documents of this call stored so far are left as garbage.
                self.docs.truncate(self.docs.len() - k);
                symbols.truncate(mark);
                let _ = text.rollback(text_mark);
                store.forget_inflated_from(text_mark.blocks);
                return Err(DocError::OutOfMemory {
                    what: "a document",
                    bytes: end - start,
                }
                .into());
            };
            self.docs.push(h);
            start = end;
        }
        self.text_live += text.raw_bytes() - raw_before;
        drop(text);
        drop(symbols);
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
        self.text_live -= self.text_len(h);
        Ok(())
    }

    /// Removes every document whose position `keep` rejects.
    pub fn retain_positions(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut i = 0;
        let mut dropped = 0;
        let mut text_dropped = 0;
        let mut docs = std::mem::take(&mut self.docs);
        docs.retain(|&h| {
            let k = keep(i);
            i += 1;
            if !k {
                dropped += h.len();
                text_dropped += self.text_len(h);
            }
            k
        });
        self.docs = docs;
        self.live -= dropped;
        self.text_live -= text_dropped;
    }

    /// Removes the documents at `positions` (in any order; a repeat or a position past
    /// the end changes nothing).
    pub fn remove_positions(&mut self, positions: impl IntoIterator<Item = usize>) {
        let mut gone = vec![false; self.docs.len()];
        for p in positions {
            if let Some(g) = gone.get_mut(p) {
                *g = true;
            }
        }
        self.retain_positions(|i| !gone[i]);
    }

    /// Uncompressed length of the long strings document `h` refers to.
    fn text_len(&self, h: DocHandle) -> usize {
        if self.store.text().raw_bytes() == 0 {
            return 0;
        }
        let mut n = 0;
        // A document this list wrote always reads; 0 for anything else is harmless.
        let _ = for_each_text(self.store.doc(h).unwrap_or_default(), &mut |t| {
            n += t.len as usize;
            Ok(())
        });
        n
    }

    /// Moves the list's documents to a fresh store holding only them (and only their
    /// long strings, in new text blocks), returning the garbage bytes reclaimed.
    /// Readers of the old store keep it (and their documents) alive until they are gone.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if a stored document does not read back (never for
    /// documents this list wrote); the list is then unchanged.
    pub fn compact(&mut self) -> Result<usize> {
        let reclaimed = self.nbytes().garbage;
        let fresh = self.select(0..self.docs.len())?;
        self.store = fresh.store;
        self.docs = fresh.docs;
        self.live = fresh.live;
        self.stored = fresh.stored;
        self.text_live = fresh.text_live;
        Ok(reclaimed)
    }

    /// A new list with copies of the documents at `positions` (which must be in range;
    /// others are skipped), sharing nothing with this one. Symbol numbers stay the same
    /// (the symbol table is cloned); long strings are recompressed into new blocks.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if a stored document does not read back (never for
    /// documents this list wrote).
    pub fn select(&self, positions: impl IntoIterator<Item = usize>) -> Result<DocList> {
        let handles: Vec<DocHandle> = positions
            .into_iter()
            .filter_map(|i| self.docs.get(i).copied())
            .collect();
        let bytes: usize = handles.iter().map(|h| h.len()).sum();
        let symbols = self.store.symbols().clone();
        let has_text = self.store.text().raw_bytes() > 0;
        let block_bytes = self.store.text().block_bytes();
        let text = TextBlocks::with_block_bytes(block_bytes);
        let mut out = DocList::with_store(symbols, text, bytes);
        out.intern_max = self.intern_max;
        out.text_min = self.text_min;
        out.fail_when_busy = self.fail_when_busy;
        out.docs.reserve_exact(handles.len());
        if !has_text {
            // No text references: the bytes are valid as they are in the new store.
            for h in handles {
                let data = self.store.doc(h).unwrap_or_default();
                out.docs.push(out.store.arena.alloc_slice(data));
            }
            out.live = bytes;
            out.stored = bytes;
            return Ok(out);
        }
        out.copy_docs(&self.store, handles)?;
        Ok(out)
    }

    /// Appends copies of `other`'s documents, all or none; returns the number added.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if a document of `other` does not read back (never for
    /// documents a list wrote), [`DocError::InternerFull`] if this list's symbol table
    /// fills up, [`DocError::Busy`] as [`build`](DocList::build); this list is then
    /// unchanged.
    ///
    /// # Memory
    /// Copies the documents into this list's arena: keys and short strings are
    /// interned in this list's table, long strings recompressed into its text blocks.
    /// Nothing of `other` is kept alive.
    pub fn extend_from(&mut self, other: &DocList) -> Result<usize> {
        self.copy_docs(&other.store, other.docs.iter().copied())
    }

    /// A new list holding this list's documents `n` times over, in order (as
    /// `list * n`).
    ///
    /// # Errors
    /// [`DocError::OutOfMemory`] when the result could not be allocated, found before
    /// anything is copied (a result that cannot exist fails, as `list * n` fails,
    /// rather than aborting once memory has run out); else as [`select`](DocList::select).
    ///
    /// # Memory
    /// Copies: each document is stored `n` times in the new list's arena.
    pub fn repeated(&self, n: usize) -> Result<DocList> {
        let len = self.docs.len();
        let bytes = len
            .checked_mul(n)
            .and_then(|docs| docs.checked_mul(std::mem::size_of::<DocHandle>()))
            .and_then(|index| self.live.checked_mul(n)?.checked_add(index));
        // The room, asked for at once and given back (its pages are never touched).
        let fits = bytes.is_some_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok());
        if !fits {
            return Err(DocError::OutOfMemory {
                what: "repeating the list",
                bytes: bytes.unwrap_or(usize::MAX),
            });
        }
        // An empty list repeated stays empty without counting to `n`.
        let n = if len == 0 { 0 } else { n };
        self.select((0..n).flat_map(|_| 0..len))
    }

    /// Appends copies of the documents `handles` of `src` (another store), all or none.
    fn copy_docs(
        &mut self,
        src: &DocStore,
        handles: impl IntoIterator<Item = DocHandle>,
    ) -> Result<usize> {
        let symbols = src.symbols();
        self.build(|b| {
            for h in handles {
                let data = src.doc(h).unwrap_or_default();
                copy_node(b, read_node(data, 0)?.0, &symbols, src)?;
                b.end_doc()?;
            }
            Ok::<(), DocError>(())
        })
    }

    /// Where the list's memory goes.
    pub fn nbytes(&self) -> NBytes {
        let arena = self.store.arena_bytes();
        let symbols = self.store.symbols().nbytes();
        let index = self.docs.capacity() * std::mem::size_of::<DocHandle>();
        let arena = arena.max(self.stored);
        let (text, used, text_raw) = {
            let t = self.store.text();
            (t.nbytes(), t.used_bytes(), t.raw_bytes())
        };
        let text_live = if text_raw == 0 {
            0
        } else {
            (used as u128 * self.text_live.min(text_raw) as u128 / text_raw as u128) as usize
        };
        NBytes {
            live: self.live + text_live,
            garbage: self.stored - self.live + used - text_live,
            text,
            text_raw,
            arena_free: arena - self.stored + text - used,
            symbols,
            index,
            total: arena + symbols + index + text,
        }
    }

    /// A self-contained byte image of the list (symbol table, text blocks and
    /// documents; garbage is left out), readable by [`from_bytes`](DocList::from_bytes).
    ///
    /// # Errors
    /// [`DocError::Corrupt`] if a stored document does not read back while leaving out
    /// deleted documents' strings (never for documents this list wrote).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let text = self.store.text();
        if self.text_live < text.raw_bytes() {
            drop(text);
            return self.select(0..self.docs.len())?.to_bytes();
        }
        let symbols = self.store.symbols();
        let head_bytes = MAGIC.len()
            + 10
            + symbols.len()
            + symbols.text_len()
            + symbols.text_len() / 128
            + text.image_len()
            + 10;
        let part = docs_per_part(self.docs.len(), self.live, IMAGE_PART, IMAGE_PART_BYTES);
        let helpers = image_helpers(self.docs.len(), part);
        // The symbol table and text blocks, then the number of documents.
        let head = |out: &mut Vec<u8>| {
            out.extend_from_slice(MAGIC);
            put_varint(out, symbols.len() as u64);
            for s in symbols.iter() {
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            text.write_to(out);
            put_varint(out, self.docs.len() as u64);
        };
        if helpers > 0 {
            let mut out = Vec::with_capacity(head_bytes);
            head(&mut out);
            return Ok(image_in_parts(&self.store, &self.docs, &out, part, helpers));
        }
        // Sized once, enough and a little more: the image of a large list is large, and
        // growing it would copy it into a buffer twice its size. A length `n` takes at
        // most `1 + n / 128` bytes (a varint holds 7 bits a byte).
        let lengths = self.docs.len() + self.live / 128;
        let mut out = Vec::with_capacity(head_bytes + lengths + self.live + 4);
        let sized = out.capacity();
        head(&mut out);
        for &h in &self.docs {
            let d = self.store.doc(h).unwrap_or_default();
            put_varint(&mut out, d.len() as u64);
            out.extend_from_slice(d);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        debug_assert_eq!(out.capacity(), sized, "the image outgrew its estimate");
        Ok(out)
    }

    /// Reads a byte image written by [`to_bytes`](DocList::to_bytes) (or by an older
    /// memslim: versions 1 and 2 carry no checksum), verifying the checksum and
    /// validating every document.
    ///
    /// # Errors
    /// [`DocError::Corrupt`] / [`DocError::UnknownSymbol`] for damaged input.
    pub fn from_bytes(bytes: &[u8]) -> Result<DocList> {
        Self::from_image(bytes, None)
    }

    /// [`from_bytes`](DocList::from_bytes) over an image in an Arrow buffer (a pickle's
    /// out-of-band buffer, or the `bytes` it arrived in), checked the same way. The
    /// documents are then read in place, not copied: the list holds the buffer for as
    /// long as it holds them (until a [`compact`](DocList::compact)). An image that is
    /// mostly symbols and text, which are copied anyway, is copied whole instead, so
    /// that the list never holds much more than its documents.
    ///
    /// # Errors
    /// As [`from_bytes`](DocList::from_bytes).
    pub fn from_buffer(image: &Buffer) -> Result<DocList> {
        Self::from_image(image.as_slice(), Some(image))
    }

    fn from_image(bytes: &[u8], shared: Option<&Buffer>) -> Result<DocList> {
        let bad = |offset, reason| DocError::Corrupt(DecodeError::Malformed { offset, reason });
        let head = bytes.get(..MAGIC.len());
        let v1 = head == Some(&MAGIC_V1[..]);
        let bytes = if head == Some(&MAGIC[..]) {
            let body = bytes.len().checked_sub(4).filter(|&n| n >= MAGIC.len());
            let body = body.ok_or_else(|| bad(0, "DocList image too short for its checksum"))?;
            let mut sum = [0u8; 4];
            sum.copy_from_slice(&bytes[body..]);
            if crc32fast::hash(&bytes[..body]) != u32::from_le_bytes(sum) {
                return Err(bad(
                    body,
                    "checksum mismatch (the image was damaged or changed)",
                ));
            }
            &bytes[..body]
        } else if head == Some(&MAGIC_V2[..]) || v1 {
            bytes
        } else {
            return Err(bad(0, "not a memslim DocList image (bad magic or version)"));
        };
        let mut r = Reader {
            bytes,
            pos: MAGIC.len(),
        };
        let nsyms = r.length()?;
        let mut symbols = Interner::new();
        // Each symbol takes at least its length byte: a crafted count cannot reserve
        // more than the image could hold.
        symbols.reserve(nsyms.min(r.remaining()));
        // When every symbol is shorter than 128 bytes (its length one ASCII byte), the
        // whole run of symbols is checked as UTF-8 at once: an ASCII byte can neither
        // continue nor start a multi-byte sequence, so the run is valid exactly when
        // each symbol is. Otherwise, or if the run is not valid, each symbol is checked
        // alone (which also says which one is wrong).
        let run = {
            let mut end = r.pos;
            let mut short = true;
            for _ in 0..nsyms {
                match bytes.get(end) {
                    Some(&n) if n < 0x80 => end += 1 + usize::from(n),
                    _ => {
                        short = false;
                        break;
                    }
                }
            }
            let from = r.pos;
            short
                .then(|| bytes.get(from..end))
                .flatten()
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(|run| (from, run))
        };
        for i in 0..nsyms {
            let at = r.pos;
            let n = r.length()?;
            let piece = r.take(n)?;
            let checked = run.and_then(|(from, run)| run.get(r.pos - n - from..r.pos - from));
            let s = match checked {
                Some(s) => s,
                None => {
                    std::str::from_utf8(piece).map_err(|_| bad(at, "symbol is not valid UTF-8"))?
                }
            };
            if symbols.intern(s)?.index() != i {
                return Err(bad(at, "duplicate symbol"));
            }
        }
        let text = if v1 {
            TextBlocks::new()
        } else {
            TextBlocks::read_from(&mut r)?
        };
        let ndocs = r.length()?;
        if ndocs > r.remaining() {
            return Err(DecodeError::Truncated { offset: r.pos }.into());
        }
        let nsyms = symbols.len();
        let text_raw = text.raw_bytes();
        // Documents are read in place when they are most of a shared image (their
        // offsets in `bytes` are offsets in it: the checksum is only cut off its end),
        // else copied into the arena, which is then sized for them.
        let share = shared.filter(|b| r.remaining() >= b.len() / 4 * 3);
        let capacity = if share.is_some() {
            0
        } else {
            r.remaining() - ndocs
        };
        let mut out = DocList::with_store(symbols, text, capacity);
        // The documents' spans are found in order, and the documents validated (on
        // several threads for a long list), collecting the long strings they refer to.
        let mut total = 0;
        let block = docs_per_part(ndocs, r.remaining(), CHECK_BLOCK, CHECK_BLOCK_BYTES);
        let (texts, end) = {
            let text = out.store.text();
            let limits = (nsyms, &*text);
            if let Some(b) = share {
                let held = out.store.arena.adopt(b.clone());
                let mut docs = Vec::with_capacity(ndocs);
                let read = read_docs(bytes, r.pos, ndocs, limits, block, |s| {
                    total += s.len();
                    let at = s.start;
                    docs.push(
                        held.slice(s)
                            .ok_or_else(|| bad(at, "document outside the image"))?,
                    );
                    Ok(())
                })?;
                out.docs = docs;
                read
            } else {
                let mut spans = Vec::with_capacity(ndocs);
                let read = read_docs(bytes, r.pos, ndocs, limits, block, |s| {
                    total += s.len();
                    spans.push(s);
                    Ok(())
                })?;
                out.docs = out
                    .store
                    .arena
                    .alloc_slices(spans.into_iter().map(|s| &bytes[s]));
                read
            }
        };
        r.pos = end;
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                extra: r.remaining(),
            }
            .into());
        }
        // Every long string must be UTF-8, so that reading never fails later.
        for t in texts {
            out.store.with_text(t, |_| ())?;
        }
        out.live = total;
        out.stored = total;
        out.text_live = text_raw;
        Ok(out)
    }

    /// Calls `on_match(i)`, until it returns false, for each position `i` in `positions`
    /// (clamped to the length) whose document equals a value, as a list's `index`,
    /// `count` and `in` compare, `x is y or x == y`: `same`, the handle of the document
    /// that *is* the value (a reader's view of a whole document of this list), matches
    /// without a look, as a list finds the dict itself even when it holds a NaN; any
    /// other position is decided by `eq(i)` (the host's `==` on the document's value).
    ///
    /// # Errors
    /// The first error `eq` returns.
    pub fn find_equal<E>(
        &self,
        positions: std::ops::Range<usize>,
        same: Option<DocHandle>,
        mut eq: impl FnMut(usize) -> std::result::Result<bool, E>,
        mut on_match: impl FnMut(usize) -> bool,
    ) -> std::result::Result<(), E> {
        let end = positions.end.min(self.docs.len());
        for (i, &h) in self.docs.iter().enumerate().take(end).skip(positions.start) {
            if (same == Some(h) || eq(i)?) && !on_match(i) {
                break;
            }
        }
        Ok(())
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

/// Calls `f` with every text reference of the document `doc`, in order.
fn for_each_text(doc: &[u8], f: &mut impl FnMut(TextRef) -> Result<()>) -> Result<()> {
    fn walk(node: Node<'_>, f: &mut impl FnMut(TextRef) -> Result<()>) -> Result<()> {
        match node {
            Node::Text(t) => f(t),
            Node::List(s) | Node::Tuple(s) => s.iter().try_for_each(|r| walk(r?.0, f)),
            Node::Dict(m) => m.iter().try_for_each(|r| walk(r?.1, f)),
            _ => Ok(()),
        }
    }
    walk(read_node(doc, 0)?.0, f)
}

/// Writes `node` (a value of the store `src`, whose symbols are `symbols`) to `b`.
fn copy_node(
    b: &mut DocBuilder<'_>,
    node: Node<'_>,
    symbols: &Interner,
    src: &DocStore,
) -> Result<()> {
    let resolve = |s: crate::Sym| {
        symbols.resolve(s).ok_or(DocError::UnknownSymbol {
            sym: u64::from(s.0),
            offset: 0,
        })
    };
    match node {
        Node::None => b.none(),
        Node::Bool(v) => b.bool(v),
        Node::Int(v) => b.int(v),
        Node::BigInt(v) => b.big_int(v),
        Node::Float(v) => b.float(v),
        Node::Str(v) => b.str(v),
        Node::Sym(s) => b.str(resolve(s)?),
        Node::Text(t) => src.with_text(t, |v| b.str(v))?,
        Node::Bytes(v) => b.bytes(v),
        Node::List(s) | Node::Tuple(s) => {
            if matches!(node, Node::List(_)) {
                b.begin_list()?;
            } else {
                b.begin_tuple()?;
            }
            for r in s.iter() {
                copy_node(b, r?.0, symbols, src)?;
            }
            b.end()
        }
        Node::Dict(m) => {
            b.begin_map()?;
            for r in m.iter() {
                let (k, v, _) = r?;
                b.key(resolve(k)?)?;
                copy_node(b, v, symbols, src)?;
            }
            b.end()
        }
    }
}

/// Threads that writing or loading an image ([`image_in_parts`], [`read_docs`]) may
/// start besides the calling one.
const MAX_HELPERS: usize = 7;

/// Documents (at most) per part of an image written on several threads
/// ([`image_in_parts`]).
const IMAGE_PART: usize = 1 << 16;

/// Bytes of documents (about) per part of an image written on several threads.
const IMAGE_PART_BYTES: usize = 2 << 20;

/// How many documents make a unit of work over `docs` documents of `bytes` bytes in all:
/// about `unit_bytes` of them (for documents of the average size), at most `max_docs`,
/// at least one. Known without a pass over the documents.
fn docs_per_part(docs: usize, bytes: usize, max_docs: usize, unit_bytes: usize) -> usize {
    let per = (docs as u128 * unit_bytes as u128 / (bytes as u128).max(1)) as usize;
    per.clamp(1, max_docs)
}

/// Threads besides the calling one that write the image of `docs` documents in parts
/// of `part`: one per other core (up to [`MAX_HELPERS`]), none for fewer than
/// two parts.
fn image_helpers(docs: usize, part: usize) -> usize {
    if docs < 2 * part {
        return 0;
    }
    spare_cores()
}

/// Helper threads worth starting: one per core besides the calling thread's, up to
/// [`MAX_HELPERS`].
fn spare_cores() -> usize {
    std::thread::available_parallelism()
        .map_or(0, |n| n.get() - 1)
        .min(MAX_HELPERS)
}

/// Starts up to `n` threads named `name` running `work` in scope `s`: as many as can be
/// started (the caller does the work of any that cannot).
fn start_helpers<'scope, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    n: usize,
    name: &str,
    work: impl FnOnce() -> T + Send + Copy + 'scope,
) -> Vec<std::thread::ScopedJoinHandle<'scope, T>> {
    (0..n)
        .map_while(|_| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn_scoped(s, work)
                .ok()
        })
        .collect()
}

/// Waits for `started` and appends what each did to `done`; a helper's panic goes on
/// in the calling thread.
fn join_helpers<'scope, T>(
    started: Vec<std::thread::ScopedJoinHandle<'scope, Vec<T>>>,
    done: &mut Vec<T>,
) {
    for h in started {
        match h.join() {
            Ok(theirs) => done.extend(theirs),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The image of `docs`: `head`, then each document behind its varint length, then a
/// CRC-32 of all that. The documents are cut into parts of `part` documents (about
/// [`IMAGE_PART_BYTES`], see [`docs_per_part`]). Each part is measured, then written
/// and checksummed, by the calling thread and up to `helpers` more (see
/// [`share_out`]), into one buffer allocated zeroed (fresh pages, not written twice)
/// at its exact size.
fn image_in_parts(
    store: &DocStore,
    docs: &[DocHandle],
    head: &[u8],
    part: usize,
    helpers: usize,
) -> Vec<u8> {
    let doc = |h: DocHandle| store.doc(h).unwrap_or_default();
    let parts: Vec<&[DocHandle]> = docs.chunks(part).collect();
    let sizes = share_out(parts.clone(), helpers, |part| {
        part.iter()
            .map(|&h| {
                let n = doc(h).len();
                varint_len(n as u64) + n
            })
            .sum::<usize>()
    });
    let mut image = vec![0u8; head.len() + sizes.iter().sum::<usize>() + 4];
    let (first, mut rest) = image.split_at_mut(head.len());
    first.copy_from_slice(head);
    let mut jobs = Vec::with_capacity(parts.len());
    for (part, &size) in parts.into_iter().zip(&sizes) {
        let (dst, after) = rest.split_at_mut(size);
        jobs.push((part, dst));
        rest = after;
    }
    let sums = share_out(jobs, helpers, |(part, dst)| {
        // `dst` is exactly the part's size, measured above from the same documents.
        let mut at = 0;
        for &h in part {
            let d = doc(h);
            at += varint_into(d.len() as u64, &mut dst[at..]);
            dst[at..at + d.len()].copy_from_slice(d);
            at += d.len();
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(dst);
        crc
    });
    let mut crc = crc32fast::Hasher::new();
    crc.update(head);
    for part in &sums {
        crc.combine(part);
    }
    rest.copy_from_slice(&crc.finalize().to_le_bytes());
    image
}

/// `f` of each item, in the items' order, computed by the calling thread and up to
/// `helpers` more, each taking the next item left until none is (so a busy core simply
/// takes fewer). If no helper can be started, the caller computes them all.
fn share_out<T: Send, R: Send>(items: Vec<T>, helpers: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let helpers = helpers.min(items.len().saturating_sub(1));
    let mut left: Vec<(usize, T)> = items.into_iter().enumerate().collect();
    left.reverse();
    let left = Mutex::new(left);
    let work = || {
        let mut done = Vec::new();
        loop {
            let item = lock(&left).pop();
            let Some((i, t)) = item else { break };
            done.push((i, f(t)));
        }
        done
    };
    let mut done = std::thread::scope(|s| {
        let started = start_helpers(s, helpers, "memslim-image", work);
        let mut done = work();
        join_helpers(started, &mut done);
        done
    });
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Documents (at most) per block of [`read_docs`]'s work.
const CHECK_BLOCK: usize = 1 << 14;

/// Bytes of documents (about) per block of [`read_docs`]'s work: blocks of large
/// documents hold fewer of them, so that a list of a few thousand large documents is
/// validated on several threads too, and a block is still in cache when validated.
const CHECK_BLOCK_BYTES: usize = 1 << 20;

/// Reads the documents of an image: `count` of them follow each other in `bytes` from
/// `docs_at`, each behind its varint length. Hands each document's span to `span` in
/// order, validates every document, and returns the long strings they refer to (in
/// document order) and the position past the last document.
///
/// Work goes by blocks of `block` documents (about [`CHECK_BLOCK_BYTES`], see
/// [`docs_per_part`]). The calling thread finds the documents' spans (only it can,
/// each length leading to the next), block after block, and validates blocks too; a
/// helper thread per other core (up to [`MAX_HELPERS`]; none for a short list, or if
/// none can be started) validates blocks as they are found. Blocks are claimed in
/// order, and the caller finds a block just before it or a helper validates it, so its
/// documents are read while in cache; on a busy machine the caller simply validates
/// more blocks itself.
///
/// # Errors
/// A document that runs past the image, or `span`'s error, before any validation
/// error (the caller finds every span even once a document failed validation); then
/// the first document in the list that fails validation, at its offset in `bytes`.
fn read_docs(
    bytes: &[u8],
    docs_at: usize,
    count: usize,
    limits: (usize, &TextBlocks),
    block: usize,
    mut span: impl FnMut(std::ops::Range<usize>) -> Result<()>,
) -> Result<(Vec<TextRef>, usize)> {
    let (symbols, text) = limits;
    let blocks = count.div_ceil(block);
    let progress = Mutex::new(Progress {
        starts: Vec::with_capacity(blocks),
        aborted: false,
    });
    let found = Condvar::new();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // Validates block `b`, found to start at `start`.
    let check = |b: usize, start: usize| -> Checked {
        let mut r = Reader { bytes, pos: start };
        let mut texts = Vec::new();
        for i in b * block..count.min((b + 1) * block) {
            let n = r.length().map_err(|e| (i, e.into()))?;
            let at = r.pos;
            let doc = r.take(n).map_err(|e| (i, e.into()))?;
            validate_collecting(doc, symbols, text, &mut texts).map_err(|e| (i, shift(e, at)))?;
        }
        Ok(texts)
    };
    let checked = |b: usize, c: Checked| {
        if c.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        (b, c)
    };
    // A helper claims blocks in order, waiting for each to be found.
    let help = || -> Vec<(usize, Checked)> {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let b = next.fetch_add(1, Ordering::Relaxed);
            if b >= blocks {
                break;
            }
            let start = {
                let mut p = lock(&progress);
                loop {
                    // A block found is checked even if the caller gave up since.
                    if let Some(&start) = p.starts.get(b) {
                        break start;
                    }
                    if p.aborted {
                        return done;
                    }
                    p = found.wait(p).unwrap_or_else(PoisonError::into_inner);
                }
            };
            done.push(checked(b, check(b, start)));
        }
        done
    };
    // Asking the system for its cores costs a few system calls: not for a short list.
    let helpers = match blocks.saturating_sub(1) / 2 {
        0 => 0,
        most => spare_cores().min(most),
    };
    let mut r = Reader {
        bytes,
        pos: docs_at,
    };
    let (spans, mut done) = std::thread::scope(|s| {
        let started = start_helpers(s, helpers, "memslim-check", help);
        // Whichever way this thread leaves (an error, a panic), helpers waiting for
        // blocks that will not be found stop waiting.
        let _release = Release {
            progress: &progress,
            found: &found,
        };
        let mut mine = Vec::new();
        // Finds blocks until `scanned` reach `upto` (or all of them).
        let mut find = |scanned: &mut usize, upto: usize| -> Result<()> {
            while *scanned < upto.min(blocks) {
                let start = r.pos;
                for _ in *scanned * block..count.min((*scanned + 1) * block) {
                    let n = r.length()?;
                    let at = r.pos;
                    r.take(n)?;
                    span(at..at + n)?;
                }
                lock(&progress).starts.push(start);
                found.notify_all();
                *scanned += 1;
            }
            Ok(())
        };
        // Finding comes first while helpers have fewer than two blocks each waiting for
        // them; then this thread validates the next block itself (with no helper, each
        // block just after finding it).
        let ahead = 2 * started.len();
        let mut scanned = 0;
        let spans = loop {
            if failed.load(Ordering::Relaxed) {
                break find(&mut scanned, blocks);
            }
            if scanned < blocks && scanned < next.load(Ordering::Relaxed) + ahead {
                let upto = scanned + 1;
                if let Err(e) = find(&mut scanned, upto) {
                    break Err(e);
                }
                continue;
            }
            let b = next.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = find(&mut scanned, b + 1) {
                break Err(e);
            }
            if b >= blocks {
                break Ok(());
            }
            let start = lock(&progress).starts[b];
            mine.push(checked(b, check(b, start)));
        };
        drop(_release);
        join_helpers(started, &mut mine);
        (spans, mine)
    });
    spans?;
    done.sort_unstable_by_key(|&(b, _)| b);
    let mut texts = Vec::new();
    for (_, c) in done {
        texts.extend(c.map_err(|(_, e)| e)?);
    }
    Ok((texts, r.pos))
}

/// A block's validation: the long strings its documents refer to, or the first bad
/// document's index and error.
type Checked = std::result::Result<Vec<TextRef>, (usize, DocError)>;

/// What [`read_docs`]' helpers wait on: where each block found so far starts, and
/// whether no more will be.
struct Progress {
    starts: Vec<usize>,
    aborted: bool,
}

/// Tells [`read_docs`]' helpers, when dropped, that no more blocks will be found.
struct Release<'a> {
    progress: &'a Mutex<Progress>,
    found: &'a Condvar,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        lock(self.progress).aborted = true;
        self.found.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Value;
    use proptest::prelude::*;

    proptest! {
        /// Reading documents block by block, with helper threads, answers what one pass
        /// in order answers: the same spans and long strings, or the same error (one
        /// running past the image first, else the first document that fails
        /// validation, at its offset), wherever and however often the image is damaged.
        #[test]
        fn reading_in_blocks_agrees_with_one_pass(
            words in proptest::collection::vec("[a-zé]{0,9}", 1..300),
            damage in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..3),
            cut in proptest::option::of(any::<prop::sample::Index>()),
            block in 1usize..40,
            symbols_short in 0usize..2,
        ) {
            let mut syms = Interner::new();
            let mut text = TextBlocks::new();
            let mut out = Vec::new();
            let mut ends = Vec::new();
            let mut b = DocBuilder::new(&mut syms, &mut text, &mut out, &mut ends, 3, 6);
            for (i, w) in words.iter().enumerate() {
                let doc = Value::Dict(vec![
                    (Value::Str("w".into()), Value::Str(w.clone())),
                    (Value::Str("i".into()), Value::Int(i as i64 * 1_000)),
                ]);
                b.value(&doc).unwrap();
                b.end_doc().unwrap();
            }
            // A few bytes before the documents, as in an image.
            let mut image = vec![9, 9, 9];
            let mut from = 0;
            for &end in &ends {
                put_varint(&mut image, (end - from) as u64);
                image.extend_from_slice(&out[from..end]);
                from = end;
            }
            for (at, x) in damage {
                let at = 3 + at.index(image.len() - 3);
                image[at] ^= x;
            }
            if let Some(cut) = cut {
                image.truncate(cut.index(image.len()));
            }
            let symbols = syms.len() - symbols_short.min(syms.len());
            let count = ends.len();
            // One pass: every span, then every document in order.
            let one_pass = (|| -> Result<(Vec<std::ops::Range<usize>>, Vec<TextRef>, usize)> {
                let mut r = Reader { bytes: &image, pos: 3 };
                let mut spans = Vec::new();
                for _ in 0..count {
                    let n = r.length()?;
                    spans.push(r.pos..r.pos + n);
                    r.take(n)?;
                }
                let mut texts = Vec::new();
                for s in &spans {
                    validate_collecting(&image[s.clone()], symbols, &text, &mut texts)
                        .map_err(|e| shift(e, s.start))?;
                }
                Ok((spans, texts, r.pos))
            })();
            let mut spans = Vec::new();
            let in_blocks = read_docs(&image, 3, count, (symbols, &text), block, |s| {
                spans.push(s);
                Ok(())
            })
            .map(|(texts, end)| (spans, texts, end));
            prop_assert_eq!(in_blocks, one_pass);
        }
    }

    proptest! {
        /// An image written in parts, on helper threads, is the image written in one
        /// pass: the head, each document behind its length, and the checksum of all.
        #[test]
        fn an_image_written_in_parts_is_the_one_written_in_one_pass(
            words in proptest::collection::vec("[a-zé]{0,60}", 0..200),
            part in 1usize..40,
            helpers in 0usize..3,
        ) {
            let mut list = DocList::new();
            for w in &words {
                list.build(|b| {
                    b.begin_list()?;
                    b.str(w)?;
                    b.end()?;
                    b.end_doc()
                })
                .unwrap();
            }
            let head = b"HEAD".to_vec();
            let mut one_pass = head.clone();
            for &h in &list.docs {
                let d = list.store.doc(h).unwrap();
                put_varint(&mut one_pass, d.len() as u64);
                one_pass.extend_from_slice(d);
            }
            let crc = crc32fast::hash(&one_pass);
            one_pass.extend_from_slice(&crc.to_le_bytes());
            let in_parts = image_in_parts(&list.store, &list.docs, &head, part, helpers);
            prop_assert_eq!(in_parts, one_pass);
        }

        /// `varint_len` counts the bytes `put_varint` writes.
        #[test]
        fn varint_len_counts_what_put_varint_writes(v in any::<u64>(), shift in 0u32..64) {
            for v in [v, v >> shift] {
                let mut out = Vec::new();
                put_varint(&mut out, v);
                prop_assert_eq!(varint_len(v), out.len());
            }
        }
    }

    #[test]
    fn work_is_cut_by_the_average_document_size() {
        // 1M documents of 36 bytes: blocks of 16,384 (the cap), parts of 58,254.
        assert_eq!(
            docs_per_part(1_000_000, 36_000_000, CHECK_BLOCK, CHECK_BLOCK_BYTES),
            16_384
        );
        assert_eq!(
            docs_per_part(1_000_000, 36_000_000, IMAGE_PART, IMAGE_PART_BYTES),
            58_254
        );
        // 80 documents of 60 KB: blocks of 17, parts of 34.
        assert_eq!(
            docs_per_part(80, 4_800_000, CHECK_BLOCK, CHECK_BLOCK_BYTES),
            17
        );
        assert_eq!(
            docs_per_part(80, 4_800_000, IMAGE_PART, IMAGE_PART_BYTES),
            34
        );
        // A document larger than a unit, or no bytes at all.
        assert_eq!(
            docs_per_part(3, 30 << 20, CHECK_BLOCK, CHECK_BLOCK_BYTES),
            1
        );
        assert_eq!(docs_per_part(0, 0, CHECK_BLOCK, CHECK_BLOCK_BYTES), 1);
        assert_eq!(
            docs_per_part(5, 0, CHECK_BLOCK, CHECK_BLOCK_BYTES),
            CHECK_BLOCK
        );
    }

    /// A few dozen large documents are enough for helper threads, writing and loading,
    /// and come back the same.
    #[test]
    fn large_documents_are_written_and_read_in_parts() {
        let mut list = DocList::new();
        for d in 0..80i64 {
            list.build(|b| {
                b.begin_list()?;
                for k in 0..20_000 {
                    b.int(d * 1_000_000 + k)?;
                }
                b.end()?;
                b.end_doc()
            })
            .unwrap();
        }
        let part = docs_per_part(list.len(), list.live, IMAGE_PART, IMAGE_PART_BYTES);
        assert!(
            part < 40,
            "{part} documents a part: fewer than half the list"
        );
        let image = list.to_bytes().unwrap();
        for back in [
            DocList::from_bytes(&image).unwrap(),
            DocList::from_buffer(&Buffer::from_vec(image.clone())).unwrap(),
        ] {
            assert_eq!(back.len(), list.len());
            for i in 0..list.len() {
                assert_eq!(back.doc_bytes(i), list.doc_bytes(i));
            }
        }
    }
}
