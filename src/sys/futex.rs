//! Futex: the one blocking primitive every parker in the runtime is built on (the sync
//! event, semaphores, groups, once, the pool's idle workers, the main thread).
//!
//! Contract:
//! - `futex_wait(word, expected, deadline) -> WaitResult` blocks the calling thread while
//!   `*word == expected` (checked atomically with going to sleep, so a change followed by a
//!   wake between the caller's load and the wait is never lost), until a `futex_wake` on
//!   the same word or until the absolute `deadline` (`(clock, ns)`, `None`: no deadline)
//!   passes. It may also return spuriously (signals, a value already changed); callers
//!   re-check their condition in a loop. `TimedOut` only when the deadline passed. A
//!   wall-clock deadline follows clock jumps.
//! - `futex_wake(word, n)` wakes up to `n` threads blocked on `word` (`i32::MAX`: all).
//!   Wake-ups are process-private; a word is identified by its address.

#[cfg(target_os = "linux")]
pub use super::imp::futex::{futex_wait, futex_wake};
pub use super::types::WaitResult;
