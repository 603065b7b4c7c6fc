//! The `dispatch_once` predicate protocol.
//!
//! The header's inline fast path skips the call when `*predicate == ~0l`, so completion
//! must store exactly `!0` with Release ordering (the ABI contract). While the initializer
//! runs, the predicate holds `RUNNING` or `RUNNING_WITH_WAITERS`; waiters sleep on the
//! futex formed by the predicate's low 32 bits (little-endian: the word's first four
//! bytes), as std's futex `Once` does with its state word.

use crate::sys;
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};

const INCOMPLETE: i64 = 0;
const RUNNING: i64 = 1;
const RUNNING_WITH_WAITERS: i64 = 2;
const DONE: i64 = !0;

#[cfg(not(target_endian = "little"))]
compile_error!("the once futex uses the predicate's low half at its address");

/// Runs `init` exactly once for `predicate`; every caller returns after it finished.
///
/// # Safety
/// `predicate` must point at a live, 8-byte-aligned `long` used only as a once predicate.
pub unsafe fn call_once(predicate: *mut i64, init: impl FnOnce()) {
    // SAFETY: the caller guarantees a live, aligned predicate; all access is atomic.
    let state = unsafe { AtomicI64::from_ptr(predicate) };
    // SAFETY: the low half of the same live word, viewed as the futex word.
    let futex = unsafe { AtomicU32::from_ptr(predicate as *mut u32) };
    loop {
        // Acquire on every path that returns: the initializer's writes become visible.
        match state.compare_exchange(INCOMPLETE, RUNNING, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                init();
                // Release: publishes the initializer's writes with the DONE value.
                if state.swap(DONE, Ordering::Release) == RUNNING_WITH_WAITERS {
                    sys::futex_wake(futex, i32::MAX);
                }
                return;
            }
            Err(DONE) => return,
            Err(RUNNING) => {
                // Announce a waiter; a failure means the state moved on: re-examine it.
                let _ = state.compare_exchange(
                    RUNNING,
                    RUNNING_WITH_WAITERS,
                    Ordering::Acquire,
                    Ordering::Acquire,
                );
            }
            Err(RUNNING_WITH_WAITERS) => {
                sys::futex_wait(futex, RUNNING_WITH_WAITERS as u32, None);
            }
            Err(_) => sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: dispatch_once predicate is corrupted (not 0, ~0l, or in progress)",
            ),
        }
    }
}
