//! `Duration` to `dispatch_time_t`, and the error a timed wait returns.

use crate::ffi::dispatch_time_t;
use crate::ffi::time::dispatch_time;
use core::time::Duration;

/// `DISPATCH_TIME_NOW`.
pub(super) const NOW: dispatch_time_t = 0;
/// `DISPATCH_TIME_FOREVER`.
pub(super) const FOREVER: dispatch_time_t = !0;

/// The uptime deadline `delay` from now; a delay too long to represent (about 292 years)
/// is forever.
pub(super) fn deadline_after(delay: Duration) -> dispatch_time_t {
    match i64::try_from(delay.as_nanos()) {
        Ok(ns) => dispatch_time(NOW, ns),
        Err(_) => FOREVER,
    }
}

/// A duration in nanoseconds as `dispatch_source_set_timer` takes it, saturated.
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A timed wait ([`Group::wait_timeout`](crate::Group::wait_timeout),
/// [`Semaphore::wait_timeout`](crate::Semaphore::wait_timeout)) gave up.
///
/// ```
/// use dispatch::Semaphore;
/// use std::time::Duration;
///
/// let err = Semaphore::new(0).wait_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.duration(), Duration::from_millis(1));
/// assert_eq!(err.to_string(), "timed out after 1ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeout {
    pub(super) duration: Duration,
}

impl WaitTimeout {
    /// How long the wait waited.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl core::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "timed out after {:?}", self.duration)
    }
}

impl std::error::Error for WaitTimeout {}
