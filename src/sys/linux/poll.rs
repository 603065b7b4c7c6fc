//! The event poller on Linux: an epoll instance. Level-triggered registrations for the
//! runtime's own wake-up and timer descriptors, one-shot ones (re-armed after each
//! handler) for sources; `epoll_pwait2` for a nanosecond timeout, `epoll_wait` in whole
//! milliseconds, rounded up, on kernels before 5.11.

use super::{check, errno, timespec_from_ns};
use crate::sys::types::Interest;
use std::io;

/// An epoll instance watching file descriptors for readability.
pub struct Epoll(i32);

fn epoll_events(interest: Interest) -> u32 {
    let base = match interest {
        Interest::Read => libc::EPOLLIN | libc::EPOLLRDHUP,
        Interest::Write => libc::EPOLLOUT,
    };
    // One-shot: the descriptor is re-armed after its handler ran, which makes level-
    // triggered readiness deliver once per handler call instead of spinning.
    (base | libc::EPOLLONESHOT) as u32
}

impl Epoll {
    pub fn new() -> std::io::Result<Epoll> {
        // SAFETY: epoll_create1 has no memory preconditions.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }
    pub(super) fn raw(&self) -> i32 {
        self.0
    }
    /// Watches `fd` for readability, reporting `token` when it fires.
    pub fn add_readable(&self, fd: i32, token: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        if unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    /// Registers `fd` once for `interest`. `EPERM` means the descriptor cannot be polled
    /// (a regular file), which callers treat as always ready.
    pub fn add_oneshot(&self, fd: i32, token: u64, interest: Interest) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: epoll_events(interest), u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        check(unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
    }
    /// Re-arms a one-shot registration after its event was handled.
    pub fn rearm(&self, fd: i32, token: u64, interest: Interest) {
        let mut ev = libc::epoll_event { events: epoll_events(interest), u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; a stale fd only
        // fails with EBADF/ENOENT.
        unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_MOD, fd, &mut ev) };
    }
    pub fn delete(&self, fd: i32) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call (kernels before
        // 2.6.9 required one even for EPOLL_CTL_DEL); a stale fd only fails.
        unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }
    /// Waits until a descriptor is ready or `timeout_ns` nanoseconds passed (`None`: no
    /// timeout); returns the tokens of the ready descriptors (none on timeout).
    ///
    /// `epoll_pwait2` takes a nanosecond timeout; on kernels without it (before 5.11,
    /// `ENOSYS`) `epoll_wait` waits the timeout rounded up to whole milliseconds, so a
    /// timer is never seen early. Either way the kernel adds the thread's timer slack.
    pub fn wait(&self, out: &mut Vec<u64>, timeout_ns: Option<u64>) {
        use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
        // Relaxed: a cache of a kernel property; racing readers at worst try pwait2 once more.
        static NO_PWAIT2: AtomicBool = AtomicBool::new(false);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let mut n = -1;
        if !NO_PWAIT2.load(Relaxed) {
            let ts = timeout_ns.map(timespec_from_ns);
            let ts_ptr = ts.as_ref().map_or(core::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `events` is a writable array of the length we pass; `ts_ptr` is null
            // or points at `ts`, which outlives the call; a null sigmask leaves it as is.
            n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.0,
                    events.as_mut_ptr(),
                    events.len() as i32,
                    ts_ptr,
                    core::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            } as i32;
            if n < 0 && errno() == libc::ENOSYS {
                NO_PWAIT2.store(true, Relaxed);
            }
        }
        if NO_PWAIT2.load(Relaxed) {
            let ms = timeout_ns.map_or(-1, |ns| ns.div_ceil(1_000_000).min(i32::MAX as u64) as i32);
            // SAFETY: `events` is a writable array of the length we pass.
            n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, ms) };
        }
        out.clear();
        for ev in events.iter().take(n.max(0) as usize) {
            out.push(ev.u64);
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}
