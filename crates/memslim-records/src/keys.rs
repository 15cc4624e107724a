//! Matching the keys of incoming records to a list's fields.
//!
//! Records of one batch usually share a shape (the same keys in the same order), so
//! key `e` of a record is most likely the field that key `e` of the previous record
//! was. [`KeyOrder`] keeps that guess; [`FieldNames`] checks it and falls back to a
//! lookup by name. Both the core's own batch append and a host's bulk reader (which
//! reads keys while the list is busy storing, so it needs the names detached) use them.

use std::sync::Arc;

use hashbrown::HashMap;

use crate::RecordList;

/// The fields of the previous record's keys, in key order, as the guess for the next
/// record, and the fields of the record being read.
///
/// # Memory
/// Two vectors of field indexes, as long as the longest record met.
#[derive(Debug, Default, Clone)]
pub struct KeyOrder {
    guess: Vec<usize>,
    order: Vec<usize>,
}

impl KeyOrder {
    /// No guess yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts reading a record: forgets the keys read so far (the guess stays).
    #[inline]
    pub fn start_record(&mut self) {
        self.order.clear();
    }

    /// The likely field of the next key: the field that the key at the same position
    /// of the previous finished record was.
    #[inline]
    pub fn guess(&self) -> Option<usize> {
        self.guess.get(self.order.len()).copied()
    }

    /// Records that the next key is field `j`.
    #[inline]
    pub fn push(&mut self, j: usize) {
        self.order.push(j);
    }

    /// The fields of the record being read, in key order.
    #[inline]
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Ends the record: its key order becomes the guess for the next one.
    #[inline]
    pub fn finish_record(&mut self) {
        std::mem::swap(&mut self.guess, &mut self.order);
    }
}

/// A list's field names with an index by name, detached from the list (so keys can be
/// matched while the list is borrowed for storing).
///
/// # Memory
/// One shared name (an `Arc` clone, no copy of the text) and one map entry per field.
#[derive(Debug, Clone)]
pub struct FieldNames {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, usize>,
}

impl FieldNames {
    /// The current fields of `list`.
    pub fn of(list: &RecordList) -> Self {
        let names: Vec<Arc<str>> = (0..list.num_fields())
            .map(|j| list.field_name_arc(j).clone())
            .collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(j, n)| (n.clone(), j))
            .collect();
        FieldNames { names, index }
    }

    /// Number of fields known.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No field known.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Notes that the list added field `j` named `name` (ignored unless `j` is the next
    /// index, as [`RecordList::add_field`] gives for a new field).
    pub fn push(&mut self, name: &str, j: usize) {
        if j == self.names.len() {
            let name: Arc<str> = name.into();
            self.index.insert(name.clone(), j);
            self.names.push(name);
        }
    }

    /// The field named `name`: `guess` if its name matches, else a lookup.
    #[inline]
    pub fn resolve(&self, guess: Option<usize>, name: &str) -> Option<usize> {
        if let Some(g) = guess {
            if self.names.get(g).is_some_and(|n| **n == *name) {
                return Some(g);
            }
        }
        self.index.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn guess_follows_the_previous_record() {
        let mut k = KeyOrder::new();
        k.start_record();
        assert_eq!(k.guess(), None);
        k.push(2);
        k.push(0);
        assert_eq!(k.order(), &[2, 0]);
        k.finish_record();
        k.start_record();
        assert_eq!(k.guess(), Some(2));
        k.push(2);
        assert_eq!(k.guess(), Some(0));
        k.push(0);
        assert_eq!(k.guess(), None);
    }

    #[test]
    fn resolve_checks_the_guess_by_name() {
        let mut list = RecordList::new();
        list.add_field("a").unwrap();
        list.add_field("b").unwrap();
        let mut names = FieldNames::of(&list);
        assert_eq!(names.len(), 2);
        assert_eq!(names.resolve(Some(1), "b"), Some(1));
        assert_eq!(names.resolve(Some(1), "a"), Some(0)); // wrong guess: looked up
        assert_eq!(names.resolve(Some(9), "a"), Some(0)); // out of range
        assert_eq!(names.resolve(None, "c"), None);
        names.push("c", 2);
        names.push("c", 2); // already there
        names.push("x", 7); // not the next index: ignored
        assert_eq!(names.resolve(None, "c"), Some(2));
        assert_eq!(names.resolve(None, "x"), None);
        assert_eq!(names.len(), 3);
    }

    proptest! {
        /// Whatever the guess, `resolve` answers what a plain name lookup answers.
        #[test]
        fn resolve_is_a_lookup(
            fields in proptest::collection::vec("[a-e]", 0..6),
            key in "[a-f]",
            guess in proptest::option::of(0usize..8),
        ) {
            let mut list = RecordList::new();
            for f in &fields {
                list.add_field(f).unwrap();
            }
            let names = FieldNames::of(&list);
            prop_assert_eq!(names.resolve(guess, &key), list.field_index(&key));
        }
    }
}
