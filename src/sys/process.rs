//! The process: its id, other processes, `fork`, and the dynamic linker's global scope.
//!
//! Contract:
//! - `getpid()`: the process id (also the main thread's `gettid()`).
//! - `process_exists(pid)`: whether process `pid` exists, even if it belongs to another
//!   user. `exit_status_of_pidfd(pidfd)`: the exit status of the child behind a
//!   `fd::pidfd_open` descriptor, without reaping it (`None`: not our child, or running).
//! - `at_fork(prepare, parent, child)`: handlers run around every `fork` of the process
//!   (`child` on the forking thread, the child's only thread); `on_fork_child(f)`: a child
//!   handler only. The inherited poller and eventfds are replaced with `renew()` (see
//!   `poll` and `fd`).
//! - `global_symbol_address(name)`: the address every module of the process binds `name`
//!   to (the executable's copy after a copy relocation), `None` outside the global scope.

#[cfg(target_os = "linux")]
pub use super::imp::fork::{at_fork, on_fork_child};
#[cfg(target_os = "linux")]
pub use super::imp::process::{exit_status_of_pidfd, getpid, global_symbol_address, process_exists};
