//! The counting semaphore behind `dispatch_semaphore_t`.
//!
//! As in libdispatch's `semaphore.c`: a signed `value` is the fast path (one atomic add
//! each way, no syscall while it stays non-negative). A negative value counts waiters.
//! `signal` that finds waiters hands one *wake token* to the word `wakeups` (and wakes one
//! thread parked on it with `park::wake_one`); a waiter
//! that times out first tries to give its slot back by incrementing `value` while it is
//! still negative; if a signal beat it to that, the token is on its way and it takes it.
//!
//! The fast paths are what `dispatch_semaphore_signal`/`_wait` inline: one `lock add`
//! each whose flags decide (x86: `lock inc; jle` and `lock dec; jl`), no conversion of the
//! wait's timeout unless it must block, no futex.
//!
//! Orderings, each checked by the loom models at the end of this file:
//! - `value`: Release on `signal` and Acquire on `wait`, so that what the signaller wrote
//!   before signalling is visible to the waiter that took its unit (directly through
//!   `value`, or through the token, below). A timed-out waiter's give-back is Relaxed: it
//!   takes and publishes nothing.
//! - `wakeups`: the signaller's Release increment pairs with the waiter's Acquire CAS
//!   that takes the token; the futex only parks and wakes, it orders nothing.

use crate::park;
use crate::primitive::{AtomicI64, AtomicU32};
use crate::sys::{self, Clock};
use core::sync::atomic::Ordering;

pub struct Semaphore {
    value: AtomicI64,
    wakeups: AtomicU32,
    /// The value at creation; releasing with a smaller value is a client bug.
    pub original: i64,
}

impl Semaphore {
    pub fn new(value: i64) -> Semaphore {
        Semaphore { value: AtomicI64::new(value), wakeups: AtomicU32::new(0), original: value }
    }

    pub fn current(&self) -> i64 {
        self.value.load(Ordering::SeqCst)
    }

    /// Adds a unit. Returns how many waiters it woke (0 or 1): `dispatch_semaphore_signal`'s
    /// result, so that its slow path is a tail call.
    #[inline]
    pub fn signal(&self) -> isize {
        // Release: work before signal happens-before the return of the waiter that takes
        // this unit (its Acquire on `value`, or on `wakeups` via `signal_slow`).
        // The old value is compared with minus the amount added and used for nothing
        // else: x86 then branches on the flags of `lock inc` itself.
        if self.value.fetch_add(1, Ordering::Release) > -1 {
            return 0;
        }
        self.signal_slow()
    }

    /// Someone waits: hand a token to one waiter.
    #[cold]
    #[inline(never)]
    fn signal_slow(&self) -> isize {
        // `value` wrapped around (2^63 signals, or a signal after a wrap): read back,
        // since the fast path keeps no old value.
        if self.value.load(Ordering::Relaxed) == i64::MIN.wrapping_add(1) {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Unbalanced call to dispatch_semaphore_signal()",
            );
        }
        // Release: pairs with the waiter's Acquire CAS in `try_take_token`.
        self.wakeups.fetch_add(1, Ordering::Release);
        park::wake_one(&self.wakeups);
        1
    }

    /// Waits for the value to be positive and takes one unit. Returns
    /// `dispatch_semaphore_wait`'s result: 0 when a unit was taken, -1 on timeout (so that
    /// the slow path is a tail call). `deadline` is called only if the wait must block.
    #[inline]
    pub fn wait(&self, deadline: impl FnOnce() -> Option<(Clock, u64)>) -> isize {
        // Acquire: pairs with the Release add of the signal whose unit we take.
        if self.value.fetch_sub(1, Ordering::Acquire) > 0 {
            return 0;
        }
        self.wait_slow(deadline())
    }

    /// `wait` found no unit: it is counted as a waiter; blocks (or times out).
    #[cold]
    #[inline(never)]
    fn wait_slow(&self, deadline: Option<(Clock, u64)>) -> isize {
        if self.block(deadline) {
            0
        } else {
            -1
        }
    }

    fn block(&self, deadline: Option<(Clock, u64)>) -> bool {
        loop {
            if self.try_take_token() {
                return true;
            }
            if deadline.is_some_and(|(clock, ns)| sys::now_ns(clock) >= ns) {
                break;
            }
            park::wait(&self.wakeups, 0, deadline);
        }
        // Timed out: undo our decrement unless a signal already counted us.
        let mut v = self.value.load(Ordering::Relaxed);
        while v < 0 {
            // Relaxed: on success we take nothing and publish nothing.
            match self.value.compare_exchange(v, v + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return false,
                Err(now) => v = now,
            }
        }
        // A signal consumed our slot; its token is (or will shortly be) in `wakeups`.
        loop {
            if self.try_take_token() {
                return true;
            }
            park::wait(&self.wakeups, 0, None);
        }
    }

    fn try_take_token(&self) -> bool {
        let mut w = self.wakeups.load(Ordering::Relaxed);
        while w > 0 {
            // Acquire: pairs with the signaller's Release increment.
            match self.wakeups.compare_exchange(w, w - 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => w = now,
            }
        }
        false
    }
}

/// The dispatch object wrapping a [`Semaphore`] (not under loom, which models only the
/// protocol).
#[cfg(not(loom))]
#[repr(C)]
pub struct SemaphoreObject {
    pub header: crate::object::Header,
    pub sema: Semaphore,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
#[cfg(not(loom))]
unsafe impl crate::object::Object for SemaphoreObject {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: only `SemaphoreObject::create` makes headers of kind `Semaphore`, the first
// field of a boxed `SemaphoreObject`.
#[cfg(not(loom))]
unsafe impl crate::object::ObjectKind for SemaphoreObject {
    const KIND: crate::object::Kind = crate::object::Kind::Semaphore;

    /// Releasing a semaphore with fewer units than it was created with means a waiter
    /// may still be blocked on it (or a `signal` is still owed): the client's bug.
    fn xref_dispose(&self) {
        if self.sema.current() < self.sema.original {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Semaphore object deallocated while in use",
            );
        }
    }

    fn dispose(self: Box<Self>) -> Option<crate::object::Ref<crate::object::Header>> {
        Some(crate::object::Ref::retain(&crate::queue::root::default_queue().header))
    }
}

#[cfg(not(loom))]
static SEMAPHORE_VTABLE: crate::object::ObjectVTable =
    crate::object::ObjectVTable::for_type::<SemaphoreObject>();

#[cfg(not(loom))]
impl SemaphoreObject {
    pub fn create(value: i64) -> *const SemaphoreObject {
        Box::into_raw(Box::new(SemaphoreObject {
            header: crate::object::Header::new(crate::object::Kind::Semaphore, &SEMAPHORE_VTABLE),
            sema: Semaphore::new(value),
        }))
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the semaphore's protocol. A lost wake-up leaves the waiter blocked in the
    //! modelled futex forever, which loom reports as a deadlock. Under loom a deadline is
    //! "passed at any moment" (see `park`), so a timed wait races every signal.
    use super::*;
    use crate::primitive::AtomicUsize;
    use core::sync::atomic::Ordering::Relaxed;
    use loom::sync::Arc;

    const NOW: Option<(Clock, u64)> = Some((Clock::Monotonic, 0));

    /// A signal racing a blocking wait: the waiter always returns, and sees what the
    /// signaller wrote before signalling (Release/Acquire through `value` or the token).
    #[test]
    fn signal_racing_wait_is_never_lost_and_publishes() {
        loom::model(|| {
            let s = Arc::new(Semaphore::new(0));
            let data = Arc::new(AtomicUsize::new(0));
            let (s2, d2) = (s.clone(), data.clone());
            let signaller = loom::thread::spawn(move || {
                d2.store(7, Relaxed);
                s2.signal();
            });
            assert_eq!(s.wait(|| None), 0);
            assert_eq!(data.load(Relaxed), 7);
            signaller.join().unwrap();
            assert_eq!(s.current(), 0);
        });
    }

    /// A signal racing a timed-out wait never loses the token: either the wait took it,
    /// or it is still there for the next non-blocking wait, and never both.
    #[test]
    fn signal_racing_timed_out_wait_never_loses_a_token() {
        loom::model(|| {
            let s = Arc::new(Semaphore::new(0));
            let s2 = s.clone();
            let signaller = loom::thread::spawn(move || s2.signal());
            let took = s.wait(|| NOW) == 0;
            let woke = signaller.join().unwrap() == 1;
            let left = s.wait(|| NOW) == 0;
            assert!(took != left, "exactly one of the two waits gets the one unit");
            assert!(!woke || took, "a signal that woke a waiter gave it the unit");
            assert_eq!(s.current(), 0);
        });
    }

    /// Two blocking waiters, two signals: both waiters return (each wake token reaches a
    /// waiter, whichever order the four operations take).
    #[test]
    fn two_waiters_two_signals_all_return() {
        loom::model(|| {
            let s = Arc::new(Semaphore::new(0));
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let s = s.clone();
                    loom::thread::spawn(move || assert_eq!(s.wait(|| None), 0))
                })
                .collect();
            s.signal();
            s.signal();
            for w in waiters {
                w.join().unwrap();
            }
            assert_eq!(s.current(), 0);
        });
    }
}
