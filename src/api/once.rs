//! [`Once`]: `dispatch_once` on a predicate a `static` can hold.
//!
//! The predicate is a `dispatch_once_t` (a C `long`) in an `AtomicIsize`, so a `Once` is
//! `const`-constructible and `Sync`. The fast path is the one `<dispatch/once.h>` inlines:
//! once the predicate reads `~0` (stored with Release by the runtime after the initializer
//! returned) the call returns without calling in.

use super::callout::InPlace;
use crate::ffi::once::dispatch_once_f;
use core::sync::atomic::{AtomicIsize, Ordering};

/// Runs an initializer once per `Once`, however many threads call
/// [`call_once`](Once::call_once) at the same time; the others wait for it to finish.
///
/// ```
/// use dispatch::Once;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static INIT: Once = Once::new();
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// for _ in 0..3 {
///     INIT.call_once(|| {
///         CALLS.fetch_add(1, Ordering::SeqCst);
///     });
/// }
/// assert_eq!(CALLS.load(Ordering::SeqCst), 1);
/// assert!(INIT.is_completed());
/// ```
#[derive(Debug)]
pub struct Once {
    predicate: AtomicIsize,
}

/// The predicate's value once the initializer returned (`~0l`).
const DONE: isize = !0;

impl Once {
    /// A `Once` whose initializer has not run.
    ///
    /// ```
    /// static ONCE: dispatch::Once = dispatch::Once::new();
    /// assert!(!ONCE.is_completed());
    /// ```
    pub const fn new() -> Once {
        Once { predicate: AtomicIsize::new(0) }
    }

    /// Runs `work` if no call on this `Once` has run one yet; otherwise waits until the
    /// one that runs has returned. Calling it again from inside `work` is a deadlock,
    /// which the runtime reports and aborts.
    ///
    /// ```
    /// use dispatch::Once;
    ///
    /// let once = Once::new();
    /// let mut value = 0;
    /// once.call_once(|| value = 42);
    /// once.call_once(|| value = 7);
    /// assert_eq!(value, 42);
    /// ```
    pub fn call_once<F: FnOnce()>(&self, work: F) {
        // Acquire: pairs with the runtime's Release store of DONE, so what the initializer
        // wrote is visible to a caller that skips it.
        if self.predicate.load(Ordering::Acquire) == DONE {
            return;
        }
        let mut call = InPlace::new(work);
        let (ctx, f) = call.as_callout();
        // SAFETY: the predicate is an aligned `long` touched only atomically (here and by
        // the runtime) for as long as `&self` lives, which covers the call; `ctx` is `call`,
        // alive until dispatch_once_f returns, which it does after running `f` (on this
        // thread) or after another caller's initializer finished.
        unsafe { dispatch_once_f(self.predicate.as_ptr(), ctx, f) }
    }

    /// Whether an initializer has run to completion.
    ///
    /// ```
    /// let once = dispatch::Once::new();
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        // Acquire: as in `call_once`.
        self.predicate.load(Ordering::Acquire) == DONE
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Barrier};

    #[test]
    fn racing_threads_run_the_initializer_once_and_all_see_its_writes() {
        static ONCE: Once = Once::new();
        static VALUE: AtomicUsize = AtomicUsize::new(0);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    ONCE.call_once(|| {
                        CALLS.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        VALUE.store(100 + i, Ordering::Relaxed);
                    });
                    // Every caller returns after the initializer finished.
                    VALUE.load(Ordering::Relaxed)
                })
            })
            .collect();
        let seen: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        assert!(seen.iter().all(|&v| v == seen[0] && v >= 100), "{seen:?}");
        assert!(ONCE.is_completed());
    }
}
