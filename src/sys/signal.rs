//! Signals: counting deliveries for signal sources, and the mask library threads run with.
//!
//! Contract:
//! - `signal_can_be_watched(signo)`: whether `signo` exists (on Linux, 1 to 64) and can be
//!   caught (not `SIGKILL`/`SIGSTOP`).
//! - `watch_signal(signo, wake) -> bool`: from now on every delivery of `signo` to the
//!   process is counted and signals `wake`, and then runs the handler the client had
//!   installed before (a plain or `SA_SIGINFO` handler; `SIG_IGN`/`SIG_DFL` end there,
//!   so a watched signal is not fatal). Idempotent; reinstalls the counting handler if the
//!   client replaced it, keeping the client's as the one to chain to. `false` if the
//!   signal cannot be caught.
//! - `take_signal_deliveries(signo)`: deliveries since the last call (0 for a bad number).
//! - The mask of library threads (set by `thread::spawn`, so private to the backend):
//!   every signal blocked except those a thread raises on itself by executing something
//!   (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGTRAP`, `SIGSYS`, `SIGPIPE`).

#[cfg(target_os = "linux")]
pub use super::imp::signal::{signal_can_be_watched, take_signal_deliveries, watch_signal};
