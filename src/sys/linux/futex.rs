//! Futex wait/wake on Linux: `FUTEX_WAIT_BITSET` (private) with an absolute deadline on
//! either clock, and `FUTEX_WAKE`.

use super::{errno, timespec_from_ns};
use crate::sys::types::Clock;
use crate::sys::types::WaitResult;
use core::sync::atomic::AtomicU32;

/// Blocks while `*word == expected`, until woken or until the absolute `deadline`
/// (nanoseconds on `clock`) passes. Spurious returns are possible; callers loop.
///
/// `FUTEX_WAIT_BITSET` takes an absolute time, so a wall-clock deadline follows
/// `settimeofday` jumps (the kernel re-arms realtime waits when the clock is set).
pub fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<(Clock, u64)>) -> WaitResult {
    let ts;
    let (ts_ptr, op) = match deadline {
        None => (core::ptr::null(), libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG),
        Some((clock, ns)) => {
            ts = timespec_from_ns(ns);
            let clock_flag = if clock == Clock::Realtime { libc::FUTEX_CLOCK_REALTIME } else { 0 };
            (&ts as *const libc::timespec, libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG | clock_flag)
        }
    };
    // SAFETY: `word` is a live, aligned u32 for the duration of the call; `ts_ptr` is null
    // or points at `ts`, which outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, expected, ts_ptr, 0usize, u32::MAX) };
    if r < 0 && errno() == libc::ETIMEDOUT {
        WaitResult::TimedOut
    } else {
        WaitResult::Woken
    }
}

/// Wakes up to `count` threads blocked in [`futex_wait`] on `word`.
pub fn futex_wake(word: &AtomicU32, count: i32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, count)
    };
}
