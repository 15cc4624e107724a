//! Copy-on-write access to the buffers a list shares with its copies and exports.

use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

/// `Arc::make_mut` without its atomic read-modify-write when `a` is not shared.
///
/// `Arc::make_mut` (through `Arc::get_mut`) takes a lock on the weak count with a
/// compare-and-swap even when nothing else refers to the value. On x86 that is a full
/// memory barrier: a push that calls it for each column of a record waits, column by
/// column, for every load before it, so the cache misses of reading the next values
/// (a Python dict's, for example) can no longer overlap. Here the common case is two
/// plain loads; anything shared goes to `Arc::make_mut` (which copies it).
#[inline]
pub(crate) fn make_mut<T: Clone>(a: &mut Arc<T>) -> &mut T {
    if Arc::strong_count(a) == 1 && Arc::weak_count(a) == 0 {
        // Pairs with the release decrement of any other `Arc` that was dropped (on any
        // thread) before the count read 1, so what it did to the value happened before
        // what the caller does now.
        fence(Ordering::Acquire);
        // SAFETY: the strong count is 1 and the caller holds `&mut` to that one `Arc`,
        // so no other `Arc` to the value exists and none can be made (a clone needs
        // this `Arc`). The weak count is 0, so no `Weak` exists that could be upgraded,
        // and none can be made (`Arc::downgrade` needs this `Arc` too). Nothing else can
        // reach the value while the returned borrow, tied to `a`'s, lives.
        return unsafe { &mut *Arc::as_ptr(a).cast_mut() };
    }
    Arc::make_mut(a)
}

/// `Arc::get_mut` without its atomic read-modify-write when `a` is not shared (see
/// [`make_mut`]).
#[inline]
pub(crate) fn get_mut<T>(a: &mut Arc<T>) -> Option<&mut T> {
    if Arc::strong_count(a) == 1 && Arc::weak_count(a) == 0 {
        // As in `make_mut`.
        fence(Ordering::Acquire);
        // SAFETY: as in `make_mut`: this `Arc` is the only reference to the value.
        return Some(unsafe { &mut *Arc::as_ptr(a).cast_mut() });
    }
    Arc::get_mut(a)
}

#[cfg(test)]
mod tests {
    use super::{get_mut, make_mut};
    use std::sync::Arc;

    #[test]
    fn writes_in_place_when_alone_and_copies_when_shared() {
        let mut a = Arc::new(vec![1, 2]);
        let before = Arc::as_ptr(&a);
        make_mut(&mut a).push(3);
        assert_eq!(Arc::as_ptr(&a), before, "alone: written in place");
        let b = Arc::clone(&a);
        make_mut(&mut a).push(4);
        assert_eq!(*b, [1, 2, 3], "the other holder sees no change");
        assert_eq!(*a, [1, 2, 3, 4]);
        assert_ne!(Arc::as_ptr(&a), Arc::as_ptr(&b));
        let w = Arc::downgrade(&b);
        let mut b = b;
        make_mut(&mut b).push(5);
        assert!(
            w.upgrade().is_none(),
            "a weak reference is not written through"
        );
        assert_eq!(*b, [1, 2, 3, 5]);
        let c = Arc::clone(&b);
        assert!(get_mut(&mut b).is_none(), "shared: no borrow");
        drop(c);
        get_mut(&mut b).unwrap().push(6);
        assert_eq!(*b, [1, 2, 3, 5, 6]);
    }

    #[test]
    fn another_thread_dropping_its_copy_leaves_the_value_unique() {
        let mut a = Arc::new(vec![0u64; 1024]);
        let b = Arc::clone(&a);
        std::thread::spawn(move || assert_eq!(b.iter().sum::<u64>(), 0))
            .join()
            .unwrap();
        let before = Arc::as_ptr(&a);
        make_mut(&mut a)[0] = 7;
        assert_eq!(Arc::as_ptr(&a), before);
        assert_eq!(a[0], 7);
    }
}
