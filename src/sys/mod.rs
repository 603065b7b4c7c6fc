//! The platform layer: every raw syscall the runtime makes lives below this module.
//!
//! The rest of the crate sees a tiny interface (futex wait/wake, thread ids, clocks, thread
//! priority, epoll/eventfd/timerfd for the event thread, process abort). Linux is the only
//! backend today; an Apple backend (ulock, kqueue, mach ports) would sit beside `linux.rs`
//! behind the same functions, in the manner of `parking_lot_core::thread_parker`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;
#[cfg(target_os = "linux")]
mod linux_fork;
#[cfg(target_os = "linux")]
pub use linux_fork::*;
#[cfg(target_os = "linux")]
mod linux_sources;
#[cfg(target_os = "linux")]
pub mod thread;
#[cfg(target_os = "linux")]
pub use linux_sources::*;

/// Which clock an absolute deadline is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`: the uptime clock behind `dispatch_time`.
    Monotonic,
    /// `CLOCK_REALTIME`: the wall clock behind `dispatch_walltime`.
    Realtime,
}
