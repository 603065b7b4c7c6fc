//! `fork` support on Linux: the `pthread_atfork` registrations, and replacing an inherited
//! epoll or eventfd with a fresh one under the same descriptor number (`dup3`).

use super::fd::EventFd;
use super::poll::Epoll;
use std::io;

/// Registers the three `fork` handlers: `prepare` runs in the parent before `fork`,
/// `parent` in the parent after it, `child` in the child (on the forking thread, the only
/// thread the child has).
pub fn at_fork(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    // SAFETY: registering handlers has no memory preconditions; they live as long as the
    // library's code (glibc forgets a DSO's handlers when it is unloaded).
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

/// Registers `f` to run in the child after `fork` (to drop per-thread caches).
pub fn on_fork_child(f: extern "C" fn()) {
    // SAFETY: registering a handler has no memory preconditions.
    unsafe { libc::pthread_atfork(None, None, Some(f)) };
}

/// Makes descriptor number `target` refer to `fresh`'s open file instead of the one it
/// held (atomically closing that one). The caller closes `fresh`'s own number afterwards.
fn replace_fd(fresh: i32, target: i32) -> io::Result<()> {
    // SAFETY: dup3 has no memory preconditions; `target` is a descriptor we own, and
    // closing its old file is the point (it is shared with the parent after `fork`).
    if unsafe { libc::dup3(fresh, target, libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Epoll {
    /// In a forked child: gives this epoll descriptor a new, empty epoll instance of its
    /// own (the inherited one is shared with the parent, whose registrations it holds).
    pub fn renew(&self) -> io::Result<()> {
        let fresh = Epoll::new()?;
        replace_fd(fresh.raw(), self.raw())
    }
}

impl EventFd {
    /// In a forked child: a fresh eventfd under this descriptor's number (the inherited
    /// one is shared: the parent would consume the child's wake-ups, and see them).
    pub fn renew(&self) -> io::Result<()> {
        let fresh = EventFd::new()?;
        replace_fd(fresh.fd(), self.fd())
    }
}
