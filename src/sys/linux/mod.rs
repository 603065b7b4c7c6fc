//! The Linux backend of the platform layer: one file per facility of `sys/` (see
//! `sys/mod.rs` for the interface each must provide), plus the small conversions they
//! share. Only `sys/`'s facility modules import from here, by the names they re-export.
//!
//! Everything here calls glibc or the kernel directly (`libc`); nothing above `sys/` does.

pub(super) mod abort;
pub(super) mod fd;
pub(super) mod file;
pub(super) mod fork;
pub(super) mod futex;
pub(super) mod mem;
pub(super) mod poll;
pub(super) mod process;
pub(super) mod signal;
pub(super) mod thread;
pub(super) mod time;
pub(super) mod tls;

use super::types::Clock;
use std::io;

/// The calling thread's `errno`.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A libc return value as a result: negative means failure, reported by `errno`.
fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A byte count from `read`/`write`, or the `errno` of their failure.
fn io_result(n: isize) -> Result<usize, i32> {
    if n < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    } else {
        Ok(n as usize)
    }
}

fn clock_id(clock: Clock) -> libc::clockid_t {
    match clock {
        Clock::Monotonic => libc::CLOCK_MONOTONIC,
        Clock::Realtime => libc::CLOCK_REALTIME,
    }
}

fn timespec_from_ns(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}
