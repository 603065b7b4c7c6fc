//! `dispatch/semaphore.h`.

use super::{dispatch_semaphore_t, dispatch_time_t, intptr_t};
use crate::object::{resolve, Kind};
use crate::sync::semaphore::SemaphoreObject;
use crate::time;

unsafe fn semaphore_arg<'a>(s: dispatch_semaphore_t, what: &str) -> &'a SemaphoreObject {
    // SAFETY: forwarded contract; a semaphore's header is its first field.
    unsafe { &*(resolve(s, Some(Kind::Semaphore), what) as *const _ as *const SemaphoreObject) }
}

#[no_mangle]
pub extern "C" fn dispatch_semaphore_create(value: intptr_t) -> dispatch_semaphore_t {
    if value < 0 {
        return core::ptr::null_mut(); // documented: a negative value gives NULL
    }
    SemaphoreObject::create(value as i64) as dispatch_semaphore_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_semaphore_wait(
    dsema: dispatch_semaphore_t,
    timeout: dispatch_time_t,
) -> intptr_t {
    // SAFETY: the client passes a semaphore.
    let s = unsafe { semaphore_arg(dsema, "dispatch_semaphore_wait") };
    if s.sema.wait(time::deadline(timeout)) {
        0
    } else {
        -1 // non-zero: timed out
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_semaphore_signal(dsema: dispatch_semaphore_t) -> intptr_t {
    // SAFETY: the client passes a semaphore.
    let s = unsafe { semaphore_arg(dsema, "dispatch_semaphore_signal") };
    s.sema.signal() as isize
}
