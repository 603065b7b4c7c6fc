//! The event poller: the event thread's one blocking call, waiting for any of many
//! descriptors with a nanosecond timeout.
//!
//! Contract of `Epoll`:
//! - `new()`: an empty, close-on-exec poller; dropping it closes it.
//! - `add_readable(fd, token)`: level-triggered readability (the runtime's own wake-up and
//!   timer descriptors); reports `token` while readable.
//! - `add_oneshot(fd, token, interest)`: reports `token` once when `fd` is ready for
//!   `interest` (a read interest also fires on peer hang-up), then stays silent until
//!   `rearm`. An `EPERM` error means `fd` cannot be polled (a regular file): callers treat
//!   it as always ready.
//! - `rearm(fd, token, interest)`: re-enables a one-shot registration; `delete(fd)` drops a
//!   registration. Both ignore a stale `fd`.
//! - `wait(out, timeout_ns)`: blocks until a registration is ready or `timeout_ns` passed
//!   (`None`: no timeout), never returning early for the timeout (rounded up where the
//!   system counts in coarser units); fills `out` with the ready tokens (empty on timeout
//!   or interruption).
//! - `renew()`: in a forked child, replaces the inherited poller (shared with the parent)
//!   by a fresh, empty one under the same descriptor number (see `linux/fork.rs`).

#[cfg(target_os = "linux")]
pub use super::imp::poll::Epoll;
pub use super::types::Interest;
