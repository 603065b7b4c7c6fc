//! `dispatch/queue.h`, the part that submits work: async, sync, barriers, after, apply.

use super::{
    dispatch_function_t, dispatch_queue_t, dispatch_time_t, function_arg, queue_arg, size_t, try_object_arg,
};
use crate::callback::{ClientApplyFn, ClientFn};
use crate::object::Kind;
use crate::queue::continuation::Continuation;
use crate::queue::{self, sync, Queue};
use crate::sys::Clock;
use crate::{apply, event, time};
use core::ffi::c_void;

#[no_mangle]
pub unsafe extern "C" fn dispatch_async_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // The common case makes no call but the push (a tail call), so it needs no stack
    // frame: a queue recognised by its tag, a function, a block from this thread's cache.
    // SAFETY: the client passes a queue.
    if let (Some(q), Some(f)) = (unsafe { try_object_arg::<Queue>(queue, Kind::Queue) }, work) {
        // SAFETY: dispatch_async_f's contract: the function is called once with the
        // context, on a thread of the queue's choosing.
        if let Some(c) = Continuation::boxed_cached(unsafe { ClientFn::new(f, context) }) {
            return queue::submit(q, c);
        }
    }
    // SAFETY: forwarded contract.
    unsafe { async_f_slow(queue, context, work) }
}

/// `dispatch_async_f` in full: a forwarder (`_dispatch_main_q` copied into an executable),
/// an empty block cache, or a misuse to report.
#[cold]
#[inline(never)]
unsafe fn async_f_slow(queue: dispatch_queue_t, context: *mut c_void, work: dispatch_function_t) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_async_f") };
    // SAFETY: dispatch_async_f's contract: the function is called once with the context, on
    // a thread of the queue's choosing.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_async_f"), context) };
    queue::submit(q, Continuation::boxed(work, false));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_async_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_barrier_async_f") };
    // SAFETY: dispatch_barrier_async_f's contract: the function is called once with the context, on
    // a thread of the queue's choosing.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_barrier_async_f"), context) };
    queue::submit(q, Continuation::boxed(work, true));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_sync_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_sync_f") };
    // SAFETY: dispatch_sync_f's contract: the function is called once with the context, on
    // this thread or (for a thread-bound queue or an and_wait onto a busy one) another.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_sync_f"), context) };
    sync::sync_f(q, work, false, false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_sync_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_barrier_sync_f") };
    // SAFETY: dispatch_barrier_sync_f's contract: the function is called once with the context, on
    // this thread or (for a thread-bound queue or an and_wait onto a busy one) another.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_barrier_sync_f"), context) };
    sync::sync_f(q, work, true, false);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_async_and_wait_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_async_and_wait_f") };
    // SAFETY: dispatch_async_and_wait_f's contract: the function is called once with the context, on
    // this thread or (for a thread-bound queue or an and_wait onto a busy one) another.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_async_and_wait_f"), context) };
    sync::sync_f(q, work, false, true);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_async_and_wait_f(
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_barrier_async_and_wait_f") };
    // SAFETY: dispatch_barrier_async_and_wait_f's contract: the function is called once with the context, on
    // this thread or (for a thread-bound queue or an and_wait onto a busy one) another.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_barrier_async_and_wait_f"), context) };
    sync::sync_f(q, work, true, true);
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
    // SAFETY: dispatch_after_f's contract: the function is called once with the context,
    // on a thread of the queue's choosing, at or after the deadline.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_after_f"), context) };
    match time::deadline(when) {
        None => {} // DISPATCH_TIME_FOREVER: never fires, as in the reference
        Some((Clock::Monotonic, 0)) => queue::submit(q, Continuation::boxed(work, false)),
        Some((clock, ns)) => event::timer::after(clock, ns, q, work),
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
    // SAFETY: dispatch_apply_f's contract: the function is called with the context and
    // each index below `iterations`, once per index, concurrently on any threads.
    apply::apply_f(iterations, q, unsafe { ClientApplyFn::new(work, context) });
}
