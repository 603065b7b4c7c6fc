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
