//! `dispatch/queue.h`, the part that submits work: async, sync, barriers, after, apply.

use super::{dispatch_function_t, dispatch_queue_t, dispatch_time_t, function_arg, queue_arg, size_t};
use crate::queue::continuation::Continuation;
use crate::queue::{self, sync};
use crate::sys::Clock;
use crate::{apply, event, time};
use core::ffi::c_void;

#[no_mangle]
pub unsafe extern "C" fn dispatch_async_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_async_f") };
    queue::submit(q, Continuation::boxed(function_arg(work, "dispatch_async_f"), context, false));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_async_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_barrier_async_f") };
    queue::submit(q, Continuation::boxed(function_arg(work, "dispatch_barrier_async_f"), context, true));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_sync_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_sync_f") };
    sync::sync_f(q, context, function_arg(work, "dispatch_sync_f"), false, false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_sync_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_barrier_sync_f") };
    sync::sync_f(q, context, function_arg(work, "dispatch_barrier_sync_f"), true, false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_async_and_wait_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_async_and_wait_f") };
    sync::sync_f(q, context, function_arg(work, "dispatch_async_and_wait_f"), false, true);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_async_and_wait_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_barrier_async_and_wait_f") };
    sync::sync_f(q, context, function_arg(work, "dispatch_barrier_async_and_wait_f"), true, true);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_after_f(
    when: dispatch_time_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_after_f") };
    let work = function_arg(work, "dispatch_after_f");
    match time::deadline(when) {
        None => {} // DISPATCH_TIME_FOREVER: never fires, as in the reference
        Some((Clock::Monotonic, 0)) => queue::submit(q, Continuation::boxed(work, context, false)),
        Some((clock, ns)) => event::timer::after(clock, ns, q, context, work),
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_apply_f(
    iterations: size_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: Option<unsafe extern "C" fn(*mut c_void, size_t)>,
) {
    let q = if queue.is_null() {
        None // DISPATCH_APPLY_AUTO
    } else {
        // SAFETY: the client passes a queue.
        Some(unsafe { queue_arg(queue, "dispatch_apply_f") })
    };
    let Some(work) = work else {
        crate::sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch_apply_f called with a NULL function",
        )
    };
    apply::apply_f(iterations, q, context, work);
}
