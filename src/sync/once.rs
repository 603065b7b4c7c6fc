//! The `dispatch_once` predicate protocol.
//!
//! The predicate is the client's `long`. The header's inline fast path skips the call when
//! `*predicate == ~0l`, so completion must store exactly `!0` with Release ordering (the
//! ABI contract). The other values:
//!
//! | value                          | meaning                                             |
//! |--------------------------------|-----------------------------------------------------|
//! | `0`                            | not started                                         |
//! | `tid << 1 \| WAITERS` (< 2^32) | the initializer runs on kernel thread `tid`; the    |
//! |                                | `WAITERS` bit says a caller sleeps on it            |
//! | `!0`                           | done                                                |
//!
//! Recording the running thread (the reference stores a pointer to its waiter list there;
//! any value other than 0 and `!0` means "running") is what lets a second caller tell a
//! concurrent first call, which it must wait for, from a recursive call out of the
//! initializer itself, which would wait forever: when the owner is the caller's own
//! thread it aborts with a `BUG IN CLIENT OF LIBDISPATCH:` message instead.
//!
//! Kernel thread ids are below `PID_MAX_LIMIT` (2^22), so a running value fits in the low
//! 32 bits and the high half stays 0. Waiters sleep on the futex formed by those low 32
//! bits (little-endian: the word's first four bytes), as std's futex `Once` does with its
//! state word; the initializer's thread wakes them all after storing `!0`.

use crate::park;
use crate::sys;
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};

const INCOMPLETE: i64 = 0;
const DONE: i64 = !0;
/// Set in a running value once some caller sleeps (or is about to) on the futex.
const WAITERS: i64 = 1;
/// Shift of the owner's thread id in a running value.
const OWNER_SHIFT: u32 = 1;

/// The value meaning "the initializer runs on thread `tid`, nobody waits".
const fn running(tid: u32) -> i64 {
    (tid as i64) << OWNER_SHIFT
}

/// The owner of a running value, or `None` if `state` is not a valid running value.
const fn owner(state: i64) -> Option<u32> {
    let tid = state >> OWNER_SHIFT;
    if state > 0 && tid > 0 && state <= u32::MAX as i64 {
        Some(tid as u32)
    } else {
        None
    }
}

const fn has_waiters(state: i64) -> bool {
    state & WAITERS != 0
}

#[cfg(not(target_endian = "little"))]
compile_error!("the once futex uses the predicate's low half at its address");

/// Runs `init` exactly once for `predicate`; every caller returns after it finished.
/// Aborts if `init` (on the same thread) calls in again for the same predicate.
///
/// The boundary (`src/ffi`) turns the client's `dispatch_once_t *` into the reference.
pub fn call_once(state: &AtomicI64, init: impl FnOnce()) {
    // The common case, first and alone: done long ago. Acquire: the initializer's writes
    // become visible (pairs with the Release swap below).
    if state.load(Ordering::Acquire) == DONE {
        return;
    }
    call_once_slow(state, init)
}

#[cold]
fn call_once_slow(state: &AtomicI64, init: impl FnOnce()) {
    // SAFETY: the low half of the word `state` borrows (little-endian, checked above): in
    // bounds, 4-aligned as the word is 8-aligned, alive as long as the borrow, and only
    // ever accessed atomically (here, by the futex, and through `state`).
    let futex = unsafe { AtomicU32::from_ptr(state.as_ptr() as *mut u32) };
    let me = crate::queue::frames::thread_id();
    let mine = running(me);
    loop {
        // Acquire on every path that returns: the initializer's writes become visible.
        match state.compare_exchange(INCOMPLETE, mine, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                init();
                // Release: publishes the initializer's writes with the DONE value.
                if has_waiters(state.swap(DONE, Ordering::Release)) {
                    park::wake_all(futex);
                }
                return;
            }
            Err(DONE) => return,
            Err(current) => match owner(current) {
                Some(tid) if tid == me => sys::abort_with_message(
                    "BUG IN CLIENT OF LIBDISPATCH: dispatch_once called recursively from its own initializer \
                     (the same predicate, on the thread running it)",
                ),
                Some(_) if !has_waiters(current) => {
                    // Announce a waiter; a failure means the state moved on: re-examine it.
                    // Relaxed: nothing is published by the flag; the loop re-reads with Acquire.
                    let _ = state.compare_exchange(
                        current,
                        current | WAITERS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                // The kernel re-checks the value, so a DONE stored meanwhile returns at once.
                Some(_) => {
                    park::wait(futex, current as u32, None);
                }
                None => sys::abort_with_message(
                    "BUG IN CLIENT OF LIBDISPATCH: dispatch_once predicate is corrupted (not 0, ~0l, or in progress)",
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_values_are_neither_incomplete_nor_done() {
        for tid in [1u32, 2, 12345, (1 << 22) - 1, u32::MAX >> OWNER_SHIFT] {
            for s in [running(tid), running(tid) | WAITERS] {
                assert_ne!(s, INCOMPLETE);
                assert_ne!(s, DONE);
                assert_eq!(owner(s), Some(tid));
            }
            assert!(!has_waiters(running(tid)));
            assert!(has_waiters(running(tid) | WAITERS));
        }
        assert_eq!(owner(INCOMPLETE), None);
        assert_eq!(owner(DONE), None);
        assert_eq!(owner(WAITERS), None);
        assert_eq!(owner(1 << 40), None);
    }

    #[test]
    fn concurrent_callers_wait_and_see_the_result() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Barrier;
        let predicate = AtomicI64::new(0);
        let runs = AtomicUsize::new(0);
        let value = AtomicUsize::new(0);
        let barrier = Barrier::new(8);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    barrier.wait();
                    call_once(&predicate, || {
                        runs.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        value.store(7, Ordering::Relaxed);
                    });
                    assert_eq!(value.load(Ordering::Relaxed), 7);
                });
            }
        });
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(predicate.load(Ordering::Relaxed), DONE);
    }
}
