//! The counting semaphore behind `dispatch_semaphore_t`.
//!
//! As in libdispatch's `semaphore.c`: a signed `value` is the fast path (one atomic add
//! each way, no syscall while it stays non-negative). A negative value counts waiters.
//! `signal` that finds waiters hands one *wake token* to the word `wakeups` (and wakes one
//! thread parked on it with `park::wake_one`); a waiter
//! that times out first tries to give its slot back by incrementing `value` while it is
//! still negative; if a signal beat it to that, the token is on its way and it takes it.

use crate::park;
use crate::sys::{self, Clock};
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};

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

    /// Returns `true` when a waiter was woken.
    pub fn signal(&self) -> bool {
        // Release: work before signal happens-before the woken waiter's return.
        let prev = self.value.fetch_add(1, Ordering::Release);
        if prev >= 0 {
            return false;
        }
        if prev == i64::MIN {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Unbalanced call to dispatch_semaphore_signal()",
            );
        }
        self.wakeups.fetch_add(1, Ordering::Release);
        park::wake_one(&self.wakeups);
        true
    }

    /// Waits for the value to be positive and takes one. Returns `false` on timeout.
    pub fn wait(&self, deadline: Option<(Clock, u64)>) -> bool {
        // Acquire: pairs with the Release add of the signal whose unit we take.
        if self.value.fetch_sub(1, Ordering::Acquire) > 0 {
            return true;
        }
        self.wait_slow(deadline)
    }

    fn wait_slow(&self, deadline: Option<(Clock, u64)>) -> bool {
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

/// The dispatch object wrapping a [`Semaphore`].
#[repr(C)]
pub struct SemaphoreObject {
    pub header: crate::object::Header,
    pub sema: Semaphore,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for SemaphoreObject {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: only `SemaphoreObject::create` makes headers of kind `Semaphore`, the first
// field of a boxed `SemaphoreObject`.
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

static SEMAPHORE_VTABLE: crate::object::ObjectVTable =
    crate::object::ObjectVTable::for_type::<SemaphoreObject>();

impl SemaphoreObject {
    pub fn create(value: i64) -> *const SemaphoreObject {
        Box::into_raw(Box::new(SemaphoreObject {
            header: crate::object::Header::new(crate::object::Kind::Semaphore, &SEMAPHORE_VTABLE),
            sema: Semaphore::new(value),
        }))
    }
}
