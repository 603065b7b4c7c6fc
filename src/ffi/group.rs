//! `dispatch/group.h`.

use super::{
    dispatch_function_t, dispatch_group_t, dispatch_queue_t, dispatch_time_t, function_arg, intptr_t,
    queue_arg,
};
use crate::callback::ClientFn;
use crate::object::Kind;
use crate::queue;
use crate::queue::continuation::Continuation;
use crate::sync::group::Group;
use crate::time;
use core::ffi::c_void;

pub(super) unsafe fn group_arg<'a>(g: dispatch_group_t, what: &str) -> &'a Group {
    // SAFETY: forwarded contract.
    unsafe { super::object_arg(g, Kind::Group, what) }
}

#[no_mangle]
pub extern "C" fn dispatch_group_create() -> dispatch_group_t {
    Group::create() as dispatch_group_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_enter(group: dispatch_group_t) {
    // SAFETY: the client passes a group.
    unsafe { group_arg(group, "dispatch_group_enter") }.enter();
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_leave(group: dispatch_group_t) {
    // SAFETY: the client passes a group.
    unsafe { group_arg(group, "dispatch_group_leave") }.leave();
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_group_async_f(
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
