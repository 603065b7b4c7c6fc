//! Threads: starting the library's own threads (workers, the pool monitor, the event
//! thread), and what the runtime asks about threads.
//!
//! Every library thread is started by [`spawn`], so that all of them share two properties:
//!
//! * **Asynchronous signals are blocked.** A program that blocks `SIGTERM` in `main` and
//!   waits for it with `sigwait` must get it there, and a program's handlers must run on
//!   the program's threads: the kernel delivers a process-directed signal to any thread
//!   that does not block it, so a library thread with an open mask would steal it (and a
//!   default action such as `SIGTERM`'s would kill the process). The mask is set in the
//!   *creating* thread around thread creation (saved and restored) so the new thread
//!   inherits it and there is no first instruction at which a signal could land on it.
//!   Signals raised by the thread's own faults stay unblocked (see [`super::signal`]):
//!   blocking them is undefined behaviour, and a crash must stay a crash. `SIGPIPE` is
//!   kept too, as swift-corelibs-libdispatch does: it is raised by the thread's own write
//!   to a closed pipe, and a program that relies on dying of it must still do so when the
//!   write happened on a queue.
//! * **A small, explicit stack.** Each thread reserves exactly the stack we ask for (see
//!   [`WORKER_STACK_SIZE`]) plus what the C library takes out of it (static TLS, guard),
//!   so a pool of a hundred blocked workers fits in a few tens of MiB of address space
//!   instead of the 8 MiB per thread a default pthread reserves.
//!
//! Contract of the rest:
//! - `spawn(name, stack_size, f)`: a detached thread named `name` (15 bytes kept) running
//!   `f`; the new thread itself allocates nothing before `f`; `Err` leaves nothing behind.
//! - `gettid()`: the calling thread's kernel id, unique among live threads of the process
//!   (the main thread's equals `getpid()`). One syscall: callers cache it.
//! - `set_thread_nice(n) -> bool` / `thread_nice()`: the calling thread's priority only
//!   (`false` when refused). `set_thread_timer_slack(ns)`: how late the calling thread's
//!   timed sleeps may end (at least 1 ns).
//! - `thread_is_blocked(tid)`: whether a thread of this process sleeps in the kernel (not
//!   running or runnable); `false` if it cannot tell. `thread_alive(tid)`: whether `tid`
//!   is a thread of this process (after `fork`, the parent's are not).
//! - `cpu_count()`: CPUs this process may run on (at least 1); `cpu_count_configured()`:
//!   CPUs configured in the system. `yield_now()`: gives up the CPU for a moment.

#[cfg(target_os = "linux")]
pub use super::imp::thread::{
    cpu_count, cpu_count_configured, gettid, set_thread_nice, set_thread_timer_slack, spawn, thread_alive,
    thread_is_blocked, thread_nice, yield_now,
};

/// Stack of a worker thread: 512 KiB, what Apple's libdispatch gives its workqueue
/// threads, so code written for GCD already fits in it. A hundred blocked workers then
/// reserve about 50 MiB of address space (the glibc default, `ulimit -s`, is 8 MiB each:
/// 800 MiB).
pub const WORKER_STACK_SIZE: usize = 512 * 1024;

/// Stack of the pool monitor and the event thread: 128 KiB. They run only runtime code
/// (reading `/proc`, epoll, timer heaps, pushing items), never a client's function, and
/// their deepest call chains use a few KiB.
pub const SERVICE_STACK_SIZE: usize = 128 * 1024;
