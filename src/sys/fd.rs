//! Descriptors: the ones the runtime owns, and what it asks of a client's.
//!
//! Contract:
//! - `OwnedFd`: a descriptor this library opened; `fd()` borrows the number; dropping it
//!   closes it. `close_fd(fd)` closes a number the caller owns.
//! - `fd_is_open(fd)`; `dup_cloexec(fd)`: a private close-on-exec duplicate (its own
//!   poller registration; survives the client closing `fd`); `fd_flags(fd)` /
//!   `set_fd_flags(fd, flags)`: the open-file status flags (`O_NONBLOCK`, ...).
//! - `EventFd`: a non-blocking, close-on-exec counter descriptor used as a coalescing
//!   wake-up: `signal()` (async-signal-safe) makes it readable, `drain()` clears it and
//!   says how many signals it absorbed; `renew()` in a forked child gives it a fresh
//!   counter under the same number (the inherited one is shared with the parent).
//! - `pidfd_open(pid)`: a descriptor that becomes readable when process `pid` exits.
//! - `Inotify::watching(fd)`: a descriptor that becomes readable when the file behind `fd`
//!   (followed even if renamed or unlinked) changes; `read_inotify_changes(fd)` empties it
//!   and returns the union of the changes as the `IN_*` bits below.

#[cfg(target_os = "linux")]
pub use super::imp::fd::{
    close_fd, dup_cloexec, fd_flags, fd_is_open, pidfd_open, read_inotify_changes, set_fd_flags, EventFd,
    Inotify, OwnedFd, IN_ATTRIB, IN_DELETE_SELF, IN_DIRECTORY_CHANGED, IN_MODIFY, IN_MOVE_SELF,
};
