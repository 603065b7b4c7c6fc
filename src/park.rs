//! A one-waiter, auto-reset event on a futex word: the parking spot of a thread that waits
//! for exactly one other thread to hand it something (a sync waiter waiting for the drain
//! lock, a worker waiting for work).
//!
//! Protocol (after std's `thread_parking/futex.rs`): `EMPTY` → `NOTIFIED` by [`Event::set`]
//! with Release, consumed by [`Event::wait`] with an Acquire swap back to `EMPTY`, so
//! everything the setter wrote before `set` is visible to the waiter after `wait`. A `set`
//! that races with the waiter's futex sleep is never lost: the kernel compares the word
//! with `EMPTY` atomically with going to sleep.

use crate::sys::{self, Clock, WaitResult};
use core::sync::atomic::{AtomicU32, Ordering};

const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;

pub struct Event {
    state: AtomicU32,
}

impl Event {
    pub const fn new() -> Event {
        Event { state: AtomicU32::new(EMPTY) }
    }

    /// Marks the event and wakes the waiter, if any.
    ///
    /// The waiter may return and free the event as soon as the store lands; the wake that
    /// follows only uses the address as a key, so at worst it is a spurious wake-up of an
    /// unrelated futex user at a reused address, which every futex user tolerates.
    pub fn set(&self) {
        // Release: publishes the setter's writes to the waiter's Acquire swap.
        self.state.store(NOTIFIED, Ordering::Release);
        sys::futex_wake(&self.state, 1);
    }

    /// Waits until [`Event::set`] was called, consuming the notification.
    pub fn wait(&self) {
        let _ = self.wait_until(None);
    }

    /// Waits until set or until the deadline. Returns `true` when the event was set.
    pub fn wait_until(&self, deadline: Option<(Clock, u64)>) -> bool {
        loop {
            // Acquire: pairs with the Release store in `set`.
            if self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED {
                return true;
            }
            if sys::futex_wait(&self.state, EMPTY, deadline) == WaitResult::TimedOut {
                return self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED;
            }
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}
