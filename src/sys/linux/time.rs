//! Clocks and timers on Linux: `clock_gettime`, and a timerfd armed with absolute
//! deadlines (`TFD_TIMER_ABSTIME`, optionally `TFD_TIMER_CANCEL_ON_SET`).

use super::{clock_id, timespec_from_ns};
use crate::sys::types::Clock;
use core::ffi::c_void;

/// Nanoseconds on `clock`.
pub fn now_ns(clock: Clock) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on every Linux.
    unsafe { libc::clock_gettime(clock_id(clock), &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A timerfd armed with absolute deadlines on one clock.
pub struct TimerFd(i32);

impl TimerFd {
    pub fn new(clock: Clock) -> std::io::Result<TimerFd> {
        // SAFETY: timerfd_create has no memory preconditions.
        let fd = unsafe { libc::timerfd_create(clock_id(clock), libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(TimerFd(fd))
    }
    pub fn fd(&self) -> i32 {
        self.0
    }
    /// Arms the timer for the absolute `deadline_ns`, or disarms it with `None`.
    /// A realtime timer is also cancelled (made readable) when the wall clock is set, so
    /// the event thread re-evaluates wall deadlines after a jump.
    pub fn arm(&self, deadline_ns: Option<u64>, cancel_on_set: bool) {
        let value = match deadline_ns {
            // A zero it_value disarms; an already-passed deadline must still fire.
            Some(ns) => timespec_from_ns(ns.max(1)),
            None => timespec_from_ns(0),
        };
        let spec = libc::itimerspec { it_interval: timespec_from_ns(0), it_value: value };
        let mut flags = libc::TFD_TIMER_ABSTIME;
        if cancel_on_set {
            flags |= libc::TFD_TIMER_CANCEL_ON_SET;
        }
        // SAFETY: `spec` is a valid itimerspec; the old-value pointer may be null.
        unsafe { libc::timerfd_settime(self.0, flags, &spec, core::ptr::null_mut()) };
    }
    /// Consumes the expiration count so the fd stops being readable.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into `v` from our own non-blocking timerfd.
        unsafe { libc::read(self.0, &mut v as *mut u64 as *mut c_void, 8) };
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}
