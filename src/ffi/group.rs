//! `dispatch/group.h`.

use super::{
    dispatch_function_t, dispatch_group_t, dispatch_queue_t, dispatch_time_t, function_arg, intptr_t,
    queue_arg, try_object_arg,
};
use crate::callback::ClientFn;
use crate::object::Kind;
use crate::queue;
use crate::queue::continuation::Continuation;
use crate::sync::group::Group;
use crate::time;
use core::ffi::c_void;

#[inline(always)]
pub(super) unsafe fn group_arg<'a>(g: dispatch_group_t, what: &str) -> &'a Group {
    // SAFETY: forwarded contract.
    unsafe { super::object_arg(g, Kind::Group, what) }
}

#[no_mangle]
pub extern "C" fn dispatch_group_create() -> dispatch_group_t {
    Group::create() as dispatch_group_t
}

// `dispatch_group_enter`/`_leave` are one atomic instruction behind the type check: the
// fast path makes no call (a misused argument goes to a cold function that aborts, and
// the group's own rare paths are tail calls), so it needs no stack frame either.

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_enter(group: dispatch_group_t) {
    // SAFETY: the client passes a group.
    match unsafe { super::try_object_arg::<Group>(group, Kind::Group) } {
        Some(g) => g.enter(),
        // SAFETY: as above.
        None => unsafe { enter_misused(group) },
    }
}

#[cold]
#[inline(never)]
unsafe fn enter_misused(group: dispatch_group_t) {
    // SAFETY: forwarded contract; aborts naming the misuse.
    unsafe { group_arg(group, "dispatch_group_enter") }.enter();
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_leave(group: dispatch_group_t) {
    // SAFETY: the client passes a group.
    match unsafe { super::try_object_arg::<Group>(group, Kind::Group) } {
        Some(g) => g.leave(),
        // SAFETY: as above.
        None => unsafe { leave_misused(group) },
    }
}

#[cold]
#[inline(never)]
unsafe fn leave_misused(group: dispatch_group_t) {
    // SAFETY: forwarded contract; aborts naming the misuse.
    unsafe { group_arg(group, "dispatch_group_leave") }.leave();
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_async_f(
    group: dispatch_group_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // The common case makes no call but the push (a tail call), as in `dispatch_async_f`.
    // SAFETY: the client passes a group and a queue.
    let (g, q) = unsafe {
        (try_object_arg::<Group>(group, Kind::Group), try_object_arg::<queue::Queue>(queue, Kind::Queue))
    };
    if let (Some(g), Some(q), Some(f)) = (g, q, work) {
        // SAFETY: dispatch_group_async_f's contract: the function is called once with the
        // context, on a thread of the queue's choosing.
        if let Some(mut c) = Continuation::boxed_cached(unsafe { ClientFn::new(f, context) }) {
            g.attach(&mut c);
            return queue::submit(q, c);
        }
    }
    // SAFETY: forwarded contract.
    unsafe { group_async_f_slow(group, queue, context, work) }
}

/// `dispatch_group_async_f` in full: a forwarder, an empty block cache, or a misuse to
/// report.
#[cold]
#[inline(never)]
unsafe fn group_async_f_slow(
    group: dispatch_group_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a group and a queue.
    let (g, q) =
        unsafe { (group_arg(group, "dispatch_group_async_f"), queue_arg(queue, "dispatch_group_async_f")) };
    // SAFETY: dispatch_group_async_f's contract: the function is called once with the
    // context, on a thread of the queue's choosing.
    let work = unsafe { ClientFn::new(function_arg(work, "dispatch_group_async_f"), context) };
    let mut c = Continuation::boxed(work, false);
    g.attach(&mut c);
    queue::submit(q, c);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_notify_f(
    group: dispatch_group_t,
    queue: dispatch_queue_t,
    context: *mut c_void,
    work: dispatch_function_t,
) {
    // SAFETY: the client passes a group and a queue.
    let (g, q) =
        unsafe { (group_arg(group, "dispatch_group_notify_f"), queue_arg(queue, "dispatch_group_notify_f")) };
    // SAFETY: dispatch_group_notify_f's contract: the function is called once with the
    // context, on the queue, when the group is empty.
    g.notify(q, unsafe { ClientFn::new(function_arg(work, "dispatch_group_notify_f"), context) });
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_wait(group: dispatch_group_t, timeout: dispatch_time_t) -> intptr_t {
    // SAFETY: the client passes a group.
    let g = unsafe { group_arg(group, "dispatch_group_wait") };
    if g.wait(time::deadline(timeout)) {
        0
    } else {
        -1 // non-zero: timed out
    }
}
