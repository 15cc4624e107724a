//! `_buffers()`: what `memslim.deep_sizeof` asks of memslim's lists, views and columns
//! so that memory several of them share is counted once.

/// The native memory an object keeps alive beyond its own fixed size, as `(identity,
/// bytes)` pairs, for `memslim.deep_sizeof` (`_buffers()` of lists, views and columns):
/// memory that several objects share (a store, a column chunk, a document store) has
/// one identity, its address, in each of them, so that the walk counts it once.
#[derive(Default)]
pub(crate) struct Buffers(Vec<(usize, usize)>);

impl Buffers {
    /// Adds `bytes` under `id` (nothing for 0 bytes).
    pub(crate) fn push(&mut self, id: usize, bytes: usize) {
        if bytes > 0 {
            self.0.push((id, bytes));
        }
    }

    /// The pairs, as `_buffers()` returns them.
    pub(crate) fn into_vec(self) -> Vec<(usize, usize)> {
        self.0
    }
}
