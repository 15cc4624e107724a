//! String interning: each distinct string stored once, named by a small [`Sym`].

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A symbol: the number of an interned string, dense from 0 in interning order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(pub u32);

impl Sym {
    /// The symbol as an index (into a per-symbol cache, for example).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Stores each distinct string once and hands out [`Sym`]s for them.
///
/// # Memory
/// One contiguous text buffer, a `u32` end offset per symbol and a hash table of `u32`s
/// (about 5 bytes per symbol at full load): a symbol costs its UTF-8 length plus about
/// 10 bytes, whatever the number of times it is used.
///
/// ```
/// use memslim_arena::Interner;
///
/// let mut names = Interner::new();
/// let a = names.intern("user").unwrap();
/// let b = names.intern("lang").unwrap();
/// assert_eq!(names.intern("user").unwrap(), a);
/// assert_eq!(names.lookup("lang"), Some(b));
/// assert_eq!(names.resolve(a), Some("user"));
/// assert_eq!(names.len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct Interner {
    text: String,
    ends: Vec<u32>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("symbols", &self.ends.len())
            .field("text_bytes", &self.text.len())
            .finish()
    }
}

/// The interner is full: its text would exceed 4 GiB or its symbols `u32::MAX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("string interner is full (4 GiB of text or 2^32 symbols)")]
pub struct InternerFull;

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no string was interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn span(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        (start, self.ends[i] as usize)
    }

    fn text_of(&self, i: usize) -> &str {
        let (a, b) = self.span(i);
        // Ends always fall on char boundaries (each string was pushed whole).
        self.text.get(a..b).unwrap_or_default()
    }

    /// The symbol of `s`, if interned.
    #[inline]
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        let hash = self.hasher.hash_one(s);
        self.table
            .find(hash, |&i| self.text_of(i as usize) == s)
            .map(|&i| Sym(i))
    }

    /// The symbol of `s`, interning it first if new.
    ///
    /// # Errors
    /// [`InternerFull`] past 4 GiB of text or `u32::MAX` symbols.
    pub fn intern(&mut self, s: &str) -> Result<Sym, InternerFull> {
        let hash = self.hasher.hash_one(s);
        if let Some(&i) = self.table.find(hash, |&i| self.text_of(i as usize) == s) {
            return Ok(Sym(i));
        }
        let id = u32::try_from(self.ends.len()).map_err(|_| InternerFull)?;
        let end = u32::try_from(self.text.len() + s.len()).map_err(|_| InternerFull)?;
        self.text.push_str(s);
        self.ends.push(end);
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table.insert_unique(hash, id, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            hasher.hash_one(&text[start..ends[i] as usize])
        });
        Ok(Sym(id))
    }

    /// Makes room for `symbols` more symbols without growing the table on the way (the
    /// text buffer still grows as strings come).
    pub fn reserve(&mut self, symbols: usize) {
        self.ends.reserve(symbols);
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table.reserve(symbols, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            hasher.hash_one(&text[start..ends[i] as usize])
        });
    }

    /// The string of `sym`, or `None` for a symbol this interner never handed out.
    #[inline]
    pub fn resolve(&self, sym: Sym) -> Option<&str> {
        (sym.index() < self.ends.len()).then(|| self.text_of(sym.index()))
    }

    /// Forgets the symbols numbered `len` and above (undoing interning since a
    /// checkpoint taken with [`len`](Interner::len)).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.ends.len() {
            return;
        }
        for i in len..self.ends.len() {
            let hash = self.hasher.hash_one(self.text_of(i));
            let id = i as u32;
            if let Ok(entry) = self.table.find_entry(hash, |&j| j == id) {
                entry.remove();
            }
        }
        let (start, _) = self.span(len);
        self.text.truncate(start);
        self.ends.truncate(len);
    }

    /// Every interned string, in symbol order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| self.text_of(i))
    }

    /// Bytes of all the strings' UTF-8, together.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Bytes owned: text, offsets and the hash table.
    pub fn nbytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * 4
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn truncate_forgets_new_symbols_only() {
        let mut i = Interner::new();
        let a = i.intern("a").unwrap();
        let mark = i.len();
        i.intern("b").unwrap();
        i.intern("ccc").unwrap();
        i.truncate(mark);
        assert_eq!(i.len(), 1);
        assert_eq!(i.lookup("b"), None);
        assert_eq!(i.lookup("a"), Some(a));
        assert_eq!(i.intern("ccc").unwrap(), Sym(1));
        assert_eq!(i.resolve(Sym(1)), Some("ccc"));
        assert_eq!(i.resolve(Sym(2)), None);
    }

    proptest! {
        #[test]
        fn prop_matches_a_hashmap(words in proptest::collection::vec("[a-c🙂]{0,3}", 0..60), cut in 0usize..40) {
            let mut model: HashMap<String, u32> = HashMap::new();
            let mut order: Vec<String> = Vec::new();
            let mut interner = Interner::new();
            for w in &words {
                let next = model.len() as u32;
                let expected = *model.entry(w.clone()).or_insert_with(|| { order.push(w.clone()); next });
                prop_assert_eq!(interner.intern(w).unwrap(), Sym(expected));
            }
            let cut = cut.min(order.len());
            interner.truncate(cut);
            for (n, w) in order.iter().enumerate() {
                let want = (n < cut).then_some(Sym(n as u32));
                prop_assert_eq!(interner.lookup(w), want);
            }
            prop_assert_eq!(interner.iter().collect::<Vec<_>>(), order[..cut].iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
