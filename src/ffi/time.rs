//! `dispatch/time.h`.

use super::dispatch_time_t;
use crate::time;

#[no_mangle]
pub extern "C" fn dispatch_time(when: dispatch_time_t, delta: i64) -> dispatch_time_t {
    time::time(when, delta)
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_walltime(when: *const libc::timespec, delta: i64) -> dispatch_time_t {
    // SAFETY: the client passes NULL or a valid timespec.
    let base = unsafe { when.as_ref() }.map(|ts| ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128);
    time::walltime(base, delta)
}
