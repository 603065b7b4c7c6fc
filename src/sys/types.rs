//! The portable types of the platform interface, shared by the facility modules (which
//! re-export them) and the backends (which take and return them). A leaf: it names no other
//! file, so a backend can use them without depending on the interface that re-exports it.

/// Which clock an absolute deadline is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`: the uptime clock behind `dispatch_time`.
    Monotonic,
    /// `CLOCK_REALTIME`: the wall clock behind `dispatch_walltime`.
    Realtime,
}

/// Outcome of a futex wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken, interrupted, or the word no longer held the expected value.
    Woken,
    /// The absolute deadline passed.
    TimedOut,
}

/// What readiness a registration waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

/// The runtime's per-thread slots (`tls::thread_slots`): what the hot paths need per
/// thread, reached without `__tls_get_addr`. Laid out as the C `struct
/// dispatch_thread_slots` that defines the variable (`linux/tls.c`).
#[repr(C)]
pub struct ThreadSlots {
    /// The innermost frame of `queue::frames` (null outside any queue). Opaque here.
    pub top: core::cell::Cell<*const ()>,
    /// The cached kernel thread id: 0 until first use, and again in a forked child.
    pub tid: core::cell::Cell<u32>,
    /// Storage for `sys::slab`'s per-thread block cache (its `Local`, whose layout is
    /// slab's business; zero is its empty state).
    pub slab: SlabStorage,
}

/// Five zero-initialised words of [`ThreadSlots`] that `sys::slab` keeps its cache in.
#[repr(C)]
pub struct SlabStorage(pub [core::cell::Cell<usize>; 5]);

const _: () = assert!(
    core::mem::size_of::<ThreadSlots>() == 56,
    "ThreadSlots must match `struct dispatch_thread_slots` in linux/tls.c"
);
