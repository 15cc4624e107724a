//! Catching a panic of a decoder given malformed input, without the panic's message.
//!
//! The Arrow and Parquet decoders assert on some malformed input instead of returning
//! an error. Callers catch those panics and report the input as corrupt; Rust's default
//! hook would still print "thread panicked at ..." on stderr, which in a service that
//! reads uploaded files looks like a crash. [`catch_quietly`] installs, once, a hook that
//! stays silent for panics raised inside it on the same thread and passes every other
//! panic to the hook that was there before.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// How many [`catch_quietly`] calls this thread is inside.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic inside it is caught (its payload returned as `Err`) and not
/// printed. Panics on other threads, and outside such calls, are reported as before.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    HOOK.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                before(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    r
}

/// A caught panic's message, if it has one.
pub fn message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static REPORTED: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_caught_panic_is_silent_and_others_still_reach_the_hook() {
        // A counting hook stands in for the default one (installed before ours wraps it).
        // It counts only this test's panics: other tests of the binary may panic too.
        std::panic::set_hook(Box::new(|info| {
            if message(info.payload()).is_some_and(|m| m.starts_with("guard test")) {
                REPORTED.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let r = catch_quietly(|| -> u8 { panic!("guard test: malformed input") });
        let payload = r.unwrap_err();
        assert_eq!(
            message(&*payload).as_deref(),
            Some("guard test: malformed input")
        );
        assert_eq!(REPORTED.load(Ordering::SeqCst), 0);
        assert_eq!(catch_quietly(|| 7).unwrap(), 7);
        // A panic outside (here on another thread, while this one is not inside either)
        // still reaches the hook that was there before.
        let other = std::thread::spawn(|| panic!("guard test: a real bug")).join();
        assert!(other.is_err());
        assert_eq!(REPORTED.load(Ordering::SeqCst), 1);
    }
}
