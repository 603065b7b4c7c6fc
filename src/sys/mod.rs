//! The platform layer: every raw syscall the runtime makes lives below this module.
//!
//! The rest of the crate sees one small interface per facility. Each facility is a module
//! here whose doc states the contract its functions keep, which defines the
//! platform-independent types, and which re-exports the backend's items *by name*: that
//! list of names and signatures is what a backend must provide.
//!
//! | facility | module | provides |
//! |---|---|---|
//! | futex | [`futex`] | wait while a word holds a value, until an absolute deadline on either clock; wake n |
//! | clocks and timers | [`time`] | `Clock`, `now_ns`, `TimerFd` (absolute deadlines, cancelled by clock jumps) |
//! | event poller | [`poll`] | `Epoll`: create, add (level or one-shot), re-arm, delete, wait with a ns timeout |
//! | threads | [`thread`] | `spawn` (signal mask, stack size), `gettid`, nice, timer slack, `/proc` state, liveness, CPUs |
//! | signals | [`signal`] | the counting handler (`sigaction`, chained), which signals can be watched, the thread mask |
//! | descriptors | [`fd`] | `OwnedFd`, dup, flags, `EventFd`, pidfd, inotify |
//! | files | [`file`](mod@file) | open, read/write at an offset, stat, seek, readiness estimates |
//! | process | [`process`] | pid, other processes' existence and exit status, fork handlers, symbol lookup |
//! | memory | [`mem`] | the C heap, `munmap`, page size |
//! | work-item memory | [`slab`] | `SlabBox`: a box whose block comes from a per-thread cache |
//! | abort | [`abort`] | `BUG IN CLIENT` aborts, stderr lines, `va_list` formatting |
//! | atomics | [`atomic`] | `AtomicU32At`, `fetch_sub_was_below`: `lock sub [obj + offset]; jl` where the compiler would keep the old value |
//! | per-thread slots | [`tls`] | the hot paths' thread id and frame stack, initial-exec TLS (no `__tls_get_addr`) |
//!
//! Every name is also re-exported flat (`sys::futex_wait`, `sys::Clock`, ...), which is how
//! the crate calls them; `sys::thread::spawn` keeps its module path.
//!
//! The backend is chosen once, below, with `cfg`, as `parking_lot_core::thread_parker`
//! does: Linux lives in `linux/`, one file per facility. A port (an Apple backend would use
//! ulock, kqueue, pthread and mach ports) is one more directory providing the same names
//! with the same contracts, and one more `cfg` line here.

#[cfg(not(target_os = "linux"))]
compile_error!(
    "libdispatch has a platform backend for Linux only. A port adds src/sys/<os>/ providing, \
     with the contracts documented in src/sys/*.rs: futex_wait/futex_wake (absolute deadlines \
     on both clocks); now_ns and TimerFd; Epoll (add_readable, add_oneshot, rearm, delete, \
     wait with a ns timeout, renew); spawn with async signals blocked and an explicit stack, \
     gettid, thread nice, timer slack, thread_is_blocked, thread_alive, cpu counts; \
     watch_signal/take_signal_deliveries; OwnedFd, EventFd, pidfd_open, Inotify, fd flags; \
     file open/read/write/stat; process_exists, exit_status_of_pidfd, at_fork; the C heap; \
     abort_with_message. Then select it with a `cfg` line in src/sys/imp.rs."
);

mod imp;
#[cfg(target_os = "linux")]
mod linux;
mod types;

pub mod abort;
pub mod atomic;
pub mod fd;
pub mod file;
pub mod futex;
pub mod mem;
pub mod poll;
pub mod process;
pub mod signal;
pub mod slab;
pub mod thread;
pub mod time;
pub mod tls;

pub use abort::*;
pub use fd::*;
pub use file::*;
pub use futex::*;
pub use mem::*;
pub use poll::*;
pub use process::*;
pub use signal::*;
pub use thread::*;
pub use time::*;
pub use tls::*;
