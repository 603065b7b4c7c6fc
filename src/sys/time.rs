//! Clocks and timers.
//!
//! Contract:
//! - `now_ns(clock)`: nanoseconds on `clock`; `Monotonic` never goes back (and does not
//!   count suspend, as `CLOCK_MONOTONIC`), `Realtime` is the wall clock since the epoch.
//! - `TimerFd::new(clock)`: a non-blocking, close-on-exec descriptor that becomes readable
//!   when its absolute deadline on `clock` passes; `fd()` gives it to the poller.
//!   `arm(Some(ns), cancel_on_set)` sets the deadline (one already past fires at once),
//!   `arm(None, _)` disarms; with `cancel_on_set` a wall-clock timer also fires when the
//!   clock is set. `drain()` consumes the expirations so it stops being readable. Dropping
//!   it closes the descriptor.

#[cfg(target_os = "linux")]
pub use super::imp::time::{now_ns, TimerFd};
pub use super::types::Clock;
