//! `dispatch/queue.h`: queues, attributes, global and main queues, queue-specific data,
//! and the current-queue assertions.

use super::{
    dispatch_autorelease_frequency_t, dispatch_function_t, dispatch_qos_class_t, dispatch_queue_attr_t,
    dispatch_queue_global_t, dispatch_queue_t, intptr_t, queue_arg, uintptr_t,
};
use crate::callback::ClientFn;
use crate::queue::attr::QueueAttr;
use crate::queue::main_queue::{self, MAIN_QUEUE};
use crate::queue::{frames, root, Queue};
use crate::sys;
use core::ffi::{c_char, c_int, c_void, CStr};

/// `dispatch_get_main_queue()` is `&_dispatch_main_q`, defined with the main queue.
pub use crate::queue::main_queue::_dispatch_main_q;

/// `DISPATCH_QUEUE_CONCURRENT` is `&_dispatch_queue_attr_concurrent`.
#[no_mangle]
pub static _dispatch_queue_attr_concurrent: QueueAttr = QueueAttr::CONCURRENT;

const DISPATCH_QUEUE_OVERCOMMIT: usize = 0x2;

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_create(
    label: *const c_char,
    attr: dispatch_queue_attr_t,
) -> dispatch_queue_t {
    // SAFETY: forwarded contract.
    unsafe { dispatch_queue_create_with_target(label, attr, core::ptr::null_mut()) }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_create_with_target(
    label: *const c_char,
    attr: dispatch_queue_attr_t,
    target: dispatch_queue_t,
) -> dispatch_queue_t {
    // SAFETY: the client passes NULL or a NUL-terminated string.
    let label = (!label.is_null()).then(|| unsafe { CStr::from_ptr(label) });
    // SAFETY: the client passes NULL or a queue attribute.
    let attr = QueueAttr::from_client(unsafe { (attr as *const QueueAttr).as_ref() });
    let target = if target.is_null() {
        None
    } else {
        // SAFETY: the client passes a queue.
        Some(unsafe { queue_arg(target, "dispatch_queue_create_with_target") })
    };
    Queue::create_for_client(label, &attr, target) as dispatch_queue_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_attr_make_initially_inactive(
    attr: dispatch_queue_attr_t,
) -> dispatch_queue_attr_t {
    // SAFETY: the client passes NULL or a queue attribute.
    let a = QueueAttr::from_client(unsafe { (attr as *const QueueAttr).as_ref() });
    QueueAttr { inactive: true, ..a }.intern() as *const QueueAttr as dispatch_queue_attr_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_attr_make_with_qos_class(
    attr: dispatch_queue_attr_t,
    qos_class: dispatch_qos_class_t,
    relative_priority: c_int,
) -> dispatch_queue_attr_t {
    // SAFETY: as above.
    let a = QueueAttr::from_client(unsafe { (attr as *const QueueAttr).as_ref() });
    let valid_qos = qos_class == 0 || root::is_qos_class(qos_class);
    if !valid_qos || !(-15..=0).contains(&relative_priority) {
        return core::ptr::null_mut(); // documented: invalid arguments give NULL
    }
    QueueAttr { qos: qos_class, relative_priority, ..a }.intern() as *const QueueAttr as dispatch_queue_attr_t
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_attr_make_with_autorelease_frequency(
    attr: dispatch_queue_attr_t,
    frequency: dispatch_autorelease_frequency_t,
) -> dispatch_queue_attr_t {
    // SAFETY: as above.
    let a = QueueAttr::from_client(unsafe { (attr as *const QueueAttr).as_ref() });
    if frequency > 2 {
        return core::ptr::null_mut();
    }
    // WORK_ITEM brackets each item with the runtime's pool hooks (`queue/autorelease.rs`).
    QueueAttr { autorelease_frequency: frequency as u8, ..a }.intern() as *const QueueAttr
        as dispatch_queue_attr_t
}

#[no_mangle]
pub extern "C" fn dispatch_get_global_queue(
    identifier: intptr_t,
    flags: uintptr_t,
) -> dispatch_queue_global_t {
    if flags & !DISPATCH_QUEUE_OVERCOMMIT != 0 {
        return core::ptr::null_mut();
    }
    match root::rank_of_identifier(identifier) {
        Some(rank) => root::root_queue(rank, flags & DISPATCH_QUEUE_OVERCOMMIT != 0) as *const Queue
            as dispatch_queue_global_t,
        None => core::ptr::null_mut(),
    }
}

#[no_mangle]
pub extern "C" fn dispatch_main() -> ! {
    crate::queue::thread_bound::dispatch_main()
}

/// The queue the caller runs on, as `dispatch_get_current_queue` defines it.
fn current_queue() -> &'static Queue {
    frames::current().unwrap_or_else(|| {
        if main_queue::on_main_thread() {
            &MAIN_QUEUE
        } else {
            root::default_queue()
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_get_label(queue: dispatch_queue_t) -> *const c_char {
    let q = if queue.is_null() {
        current_queue() // DISPATCH_CURRENT_QUEUE_LABEL
    } else {
        // SAFETY: the client passes a queue.
        unsafe { queue_arg(queue, "dispatch_queue_get_label") }
    };
    q.label()
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_get_qos_class(
    queue: dispatch_queue_t,
    relative_priority_ptr: *mut c_int,
) -> dispatch_qos_class_t {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_queue_get_qos_class") };
    if !relative_priority_ptr.is_null() {
        // SAFETY: the client passes NULL or a writable int.
        unsafe { *relative_priority_ptr = q.relative_priority() };
    }
    q.qos()
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_set_specific(
    queue: dispatch_queue_t,
    key: *const c_void,
    context: *mut c_void,
    destructor: dispatch_function_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_queue_set_specific") };
    if key.is_null() {
        return;
    }
    // SAFETY: dispatch_queue_set_specific's contract: the destructor, if any, is called
    // once with the context, when the value is replaced or the queue goes, on any thread.
    q.set_specific(key, context, destructor.map(|d| unsafe { ClientFn::new(d, context) }));
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_queue_get_specific(
    queue: dispatch_queue_t,
    key: *const c_void,
) -> *mut c_void {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_queue_get_specific") };
    if key.is_null() {
        return core::ptr::null_mut();
    }
    q.get_specific(key)
}

#[no_mangle]
pub extern "C" fn dispatch_get_specific(key: *const c_void) -> *mut c_void {
    if key.is_null() {
        return core::ptr::null_mut();
    }
    current_queue().find_specific(key)
}

#[no_mangle]
pub extern "C" fn dispatch_get_current_queue() -> dispatch_queue_t {
    let q = current_queue();
    if q.is_main() {
        return main_queue::client_handle() as dispatch_queue_t;
    }
    q as *const Queue as dispatch_queue_t
}

fn label_of(q: &Queue) -> String {
    q.label_cstr().to_string_lossy().into_owned()
}

/// Whether the calling thread runs on `q` (or on a queue targeting it).
fn on_queue(q: &Queue) -> bool {
    frames::holds(q) || (q.is_main() && frames::depth() == 0 && main_queue::on_main_thread())
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_assert_queue(queue: dispatch_queue_t) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_assert_queue") };
    if !on_queue(q) {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: Block was expected to execute on queue [{}]",
            label_of(q)
        ));
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_assert_queue_barrier(queue: dispatch_queue_t) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_assert_queue_barrier") };
    let s = q.state.snapshot();
    // A concurrent queue narrowed to width 1 (dispatch_queue_set_width) runs one item at a
    // time: each acts as a barrier, as in the reference.
    let exclusive = q.is_serial() || q.state.width_limit() == 1 || s.held_exclusively_by(frames::thread_id());
    if !on_queue(q) || !exclusive {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: Block was expected to act as a barrier on queue [{}]",
            label_of(q)
        ));
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_assert_queue_not(queue: dispatch_queue_t) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_assert_queue_not") };
    if on_queue(q) {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: Block was expected not to execute on queue [{}]",
            label_of(q)
        ));
    }
}

/// The main queue's wake-up descriptor for a foreign event loop (an eventfd: poll it for
/// readability, then call `_dispatch_main_queue_callback_4CF` on the main thread).
#[no_mangle]
pub extern "C" fn _dispatch_get_main_queue_handle_4CF() -> core::ffi::c_int {
    main_queue::handle_4cf()
}

/// The reference's older name for [`_dispatch_get_main_queue_handle_4CF`].
#[no_mangle]
pub extern "C" fn _dispatch_get_main_queue_port_4CF() -> core::ffi::c_int {
    main_queue::handle_4cf()
}

/// Drains the main queue on the calling (main) thread; `msg` is unused on Linux.
#[no_mangle]
pub extern "C" fn _dispatch_main_queue_callback_4CF(_msg: *mut c_void) {
    crate::queue::thread_bound::callback_4cf()
}

/// Resolves a run-loop queue argument of the `_4CF` functions.
unsafe fn runloop_arg<'a>(queue: dispatch_queue_t, what: &str) -> &'a Queue {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, what) };
    if q.flavor != crate::queue::Flavor::RunLoop {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: {what} called on a queue that is not a run-loop queue"
        ));
    }
    q
}

/// A serial queue drained by a foreign run loop: poll `_dispatch_runloop_root_queue_get_port_4CF`
/// for readability and call `_dispatch_runloop_root_queue_perform_4CF`. `flags` must be 0
/// (or the overcommit flag, which changes nothing here); NULL for anything else.
#[no_mangle]
pub unsafe extern "C" fn _dispatch_runloop_root_queue_create_4CF(
    label: *const c_char,
    flags: core::ffi::c_ulong,
) -> dispatch_queue_t {
    if flags & !(DISPATCH_QUEUE_OVERCOMMIT as core::ffi::c_ulong) != 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: NULL or a NUL-terminated label, per the API.
    let label = unsafe { label.as_ref() }.map(|_| unsafe { CStr::from_ptr(label) });
    crate::queue::Queue::create_run_loop(label).map_or(core::ptr::null_mut(), |q| q as dispatch_queue_t)
}

/// Signals the run loop of `queue` (makes its port readable).
#[no_mangle]
pub unsafe extern "C" fn _dispatch_runloop_root_queue_wakeup_4CF(queue: dispatch_queue_t) {
    // SAFETY: the client passes a run-loop queue.
    crate::queue::runloop::wake(unsafe { runloop_arg(queue, "_dispatch_runloop_root_queue_wakeup_4CF") });
}

/// Runs one item of `queue` on the calling thread; returns whether more are waiting.
#[no_mangle]
pub unsafe extern "C" fn _dispatch_runloop_root_queue_perform_4CF(queue: dispatch_queue_t) -> bool {
    // SAFETY: the client passes a run-loop queue.
    crate::queue::thread_bound::runloop_perform(unsafe {
        runloop_arg(queue, "_dispatch_runloop_root_queue_perform_4CF")
    })
}

/// The descriptor (an eventfd) that becomes readable when `queue` has work.
#[no_mangle]
pub unsafe extern "C" fn _dispatch_runloop_root_queue_get_port_4CF(queue: dispatch_queue_t) -> c_int {
    // SAFETY: the client passes a run-loop queue.
    crate::queue::runloop::port(unsafe { runloop_arg(queue, "_dispatch_runloop_root_queue_get_port_4CF") })
}
