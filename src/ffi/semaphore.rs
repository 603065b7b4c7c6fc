//! `dispatch/semaphore.h`.

use super::{dispatch_semaphore_t, dispatch_time_t, intptr_t};
use crate::object::Kind;
use crate::sync::semaphore::SemaphoreObject;
use crate::time;

#[inline(always)]
unsafe fn semaphore_arg<'a>(s: dispatch_semaphore_t, what: &str) -> &'a SemaphoreObject {
    // SAFETY: forwarded contract; a semaphore's header is its first field.
    unsafe { super::object_arg(s, Kind::Semaphore, what) }
}

#[no_mangle]
pub extern "C" fn dispatch_semaphore_create(value: intptr_t) -> dispatch_semaphore_t {
    if value < 0 {
        return core::ptr::null_mut(); // documented: a negative value gives NULL
    }
    SemaphoreObject::create(value as i64) as dispatch_semaphore_t
}

// `dispatch_semaphore_signal`/`_wait` are one atomic instruction behind the type check:
// the fast path makes no call (a misused argument goes to a cold function that aborts,
// and the semaphore's slow paths are tail calls that return the C result themselves).

#[no_mangle]
pub unsafe extern "C" fn dispatch_semaphore_wait(
    dsema: dispatch_semaphore_t,
    timeout: dispatch_time_t,
) -> intptr_t {
    // SAFETY: the client passes a semaphore.
    match unsafe { super::try_object_arg::<SemaphoreObject>(dsema, Kind::Semaphore) } {
        // The deadline is converted only when the wait must block.
        Some(s) => s.sema.wait(|| time::deadline(timeout)),
        // SAFETY: as above.
        None => unsafe { wait_misused(dsema, timeout) },
    }
}

#[cold]
#[inline(never)]
unsafe fn wait_misused(dsema: dispatch_semaphore_t, timeout: dispatch_time_t) -> intptr_t {
    // SAFETY: forwarded contract; aborts naming the misuse.
    unsafe { semaphore_arg(dsema, "dispatch_semaphore_wait") }.sema.wait(|| time::deadline(timeout))
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_semaphore_signal(dsema: dispatch_semaphore_t) -> intptr_t {
    // SAFETY: the client passes a semaphore.
    match unsafe { super::try_object_arg::<SemaphoreObject>(dsema, Kind::Semaphore) } {
        Some(s) => s.sema.signal(),
        // SAFETY: as above.
        None => unsafe { signal_misused(dsema) },
    }
}

#[cold]
#[inline(never)]
unsafe fn signal_misused(dsema: dispatch_semaphore_t) -> intptr_t {
    // SAFETY: forwarded contract; aborts naming the misuse.
    unsafe { semaphore_arg(dsema, "dispatch_semaphore_signal") }.sema.signal()
}
