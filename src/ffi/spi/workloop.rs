//! `private/workloop_private.h`: workloop scheduling parameters and the current-workloop
//! queries.

use crate::ffi::workloop::{dispatch_workloop_t, workloop_arg};
use crate::ffi::{dispatch_qos_class_t, queue_arg};
use crate::queue::{root, workloop};
use core::ffi::c_int;
use core::sync::atomic::Ordering::SeqCst;

pub type dispatch_workloop_param_flags_t = u64;

/// The class that items naming none run at (the workloop's floor). `relative_priority`
/// and the flags (`DISPATCH_WORKLOOP_FIXED_PRIORITY`) have no meaning for Linux threads.
#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_set_qos_class_floor(
    workloop: dispatch_workloop_t,
    qos: dispatch_qos_class_t,
    relative_priority: c_int,
    flags: dispatch_workloop_param_flags_t,
) {
    let _ = (relative_priority, flags);
    // SAFETY: the client passes a workloop.
    let q = unsafe { workloop_arg(workloop, "dispatch_workloop_set_qos_class_floor") };
    let qos = if root::is_qos_class(qos) { qos } else { 0 };
    if let Some(w) = q.workloop() {
        w.floor_qos.store(qos, SeqCst);
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_set_qos_class(
    workloop: dispatch_workloop_t,
    qos: dispatch_qos_class_t,
    flags: dispatch_workloop_param_flags_t,
) {
    // SAFETY: forwarded contract.
    unsafe { dispatch_workloop_set_qos_class_floor(workloop, qos, 0, flags) }
}

/// Recorded only: Linux has no per-workloop CPU budget (README).
#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_set_cpupercent(
    workloop: dispatch_workloop_t,
    percent: u8,
    refillms: u32,
) {
    let _ = refillms;
    // SAFETY: the client passes a workloop.
    let q = unsafe { workloop_arg(workloop, "dispatch_workloop_set_cpupercent") };
    if let Some(w) = q.workloop() {
        w.cpu_percent.store(percent, SeqCst);
    }
}

/// The workloop the caller runs on (directly or through a queue targeting it), retained;
/// NULL elsewhere.
#[no_mangle]
pub extern "C" fn dispatch_workloop_copy_current() -> dispatch_workloop_t {
    match workloop::current() {
        Some(q) => {
            q.header.retain();
            q as *const _ as dispatch_workloop_t
        }
        None => core::ptr::null_mut(),
    }
}

/// Whether the caller runs an item of `workloop` or of a queue that targets it.
#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_is_current(workloop: dispatch_workloop_t) -> bool {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(workloop, "dispatch_workloop_is_current") };
    q.workloop().is_some() && crate::queue::frames::holds(q)
}

/// Whether the current workloop has work of a higher class than the running item.
#[no_mangle]
pub extern "C" fn _dispatch_workloop_should_yield_4NW() -> bool {
    workloop::should_yield()
}
