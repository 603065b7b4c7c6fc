//! `dispatch/workloop.h`: workloops, serial queues whose items run in QoS order
//! (`queue/workloop.rs`).

use super::{dispatch_autorelease_frequency_t, queue_arg};
use crate::queue::Queue;
use crate::sys;
use core::ffi::{c_char, c_void, CStr};

pub type dispatch_workloop_t = *mut c_void;

/// Resolves a workloop argument: a queue created by `dispatch_workloop_create*`.
///
/// # Safety
/// `wl` must be NULL or a dispatch object.
pub(crate) unsafe fn workloop_arg<'a>(wl: dispatch_workloop_t, what: &str) -> &'a Queue {
    // SAFETY: forwarded contract.
    let q = unsafe { queue_arg(wl, what) };
    if q.workloop().is_none() {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: {what} called on a queue that is not a workloop"
        ));
    }
    q
}

/// # Safety
/// `label` is NULL or a NUL-terminated string.
unsafe fn create(label: *const c_char, inactive: bool) -> dispatch_workloop_t {
    // SAFETY: the client passes NULL or a NUL-terminated string.
    let label = (!label.is_null()).then(|| unsafe { CStr::from_ptr(label) });
    Queue::create_workloop(label, inactive) as dispatch_workloop_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_create(label: *const c_char) -> dispatch_workloop_t {
    // SAFETY: forwarded contract.
    unsafe { create(label, false) }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_create_inactive(label: *const c_char) -> dispatch_workloop_t {
    // SAFETY: forwarded contract.
    unsafe { create(label, true) }
}

/// Recorded for the workloop's items (see `_dispatch_begin_NSAutoReleasePool`).
#[no_mangle]
pub unsafe extern "C" fn dispatch_workloop_set_autorelease_frequency(
    workloop: dispatch_workloop_t,
    frequency: dispatch_autorelease_frequency_t,
) {
    // SAFETY: the client passes a workloop.
    let q = unsafe { workloop_arg(workloop, "dispatch_workloop_set_autorelease_frequency") };
    if let Some(w) = q.workloop() {
        w.autorelease_frequency.store(frequency as u8, core::sync::atomic::Ordering::SeqCst);
    }
}
