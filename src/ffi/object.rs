//! `dispatch/object.h`.

use super::{dispatch_function_t, dispatch_object_t, dispatch_queue_t, queue_arg};
use crate::object::{resolve, Kind};
use crate::queue::Queue;
use crate::source::Source;
use core::ffi::c_void;
use core::sync::atomic::Ordering;

#[no_mangle]
pub unsafe extern "C" fn dispatch_retain(object: dispatch_object_t) {
    // SAFETY: the client passes a dispatch object; `resolve` checks its tag.
    unsafe { resolve(object, None, "dispatch_retain") }.retain();
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_release(object: dispatch_object_t) {
    // SAFETY: as above; the client gives up one reference.
    unsafe { resolve(object, None, "dispatch_release").release() };
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_set_context(object: dispatch_object_t, context: *mut c_void) {
    // SAFETY: as above.
    let h = unsafe { resolve(object, None, "dispatch_set_context") };
    // Relaxed: the context is client data the client synchronises itself.
    h.context.store(context, Ordering::Relaxed);
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_get_context(object: dispatch_object_t) -> *mut c_void {
    // SAFETY: as above.
    let h = unsafe { resolve(object, None, "dispatch_get_context") };
    // Relaxed: as in `dispatch_set_context`.
    h.context.load(Ordering::Relaxed)
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_set_finalizer_f(object: dispatch_object_t, finalizer: dispatch_function_t) {
    // SAFETY: as above.
    unsafe { resolve(object, None, "dispatch_set_finalizer_f") }.set_finalizer(finalizer);
}

/// What `dispatch_suspend`/`_resume` act on.
///
/// Only queues and sources have a suspend count. Groups, semaphores, data and I/O channels
/// are dispatch objects too, so the reference accepts them and does nothing (its own
/// `dispatch_io_pipe_close` test resumes an I/O channel); aborting there would break such
/// programs, so they are `Inert` here as well.
enum Suspendable<'a> {
    Queue(&'a Queue),
    Source(&'a Source),
    Inert,
}

unsafe fn suspendable<'a>(object: dispatch_object_t, what: &str) -> Suspendable<'a> {
    // SAFETY: forwarded contract; `resolve` aborts on a pointer that is not an object.
    let h = unsafe { resolve(object, None, what) };
    if h.kind_is(Kind::Queue) {
        // SAFETY: a queue's header is its first field.
        return Suspendable::Queue(unsafe { &*(h as *const _ as *const Queue) });
    }
    if h.kind_is(Kind::Source) {
        // SAFETY: a source's header is its first field.
        return Suspendable::Source(unsafe { &*(h as *const _ as *const Source) });
    }
    Suspendable::Inert
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_suspend(object: dispatch_object_t) {
    // SAFETY: as above.
    match unsafe { suspendable(object, "dispatch_suspend") } {
        Suspendable::Queue(q) => q.suspend(),
        Suspendable::Source(s) => s.suspend(),
        Suspendable::Inert => {}
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_resume(object: dispatch_object_t) {
    // SAFETY: as above.
    match unsafe { suspendable(object, "dispatch_resume") } {
        Suspendable::Queue(q) => q.resume(),
        Suspendable::Source(s) => s.resume(),
        Suspendable::Inert => {}
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_activate(object: dispatch_object_t) {
    // SAFETY: as above.
    let h = unsafe { resolve(object, None, "dispatch_activate") };
    if h.kind_is(Kind::Queue) {
        // SAFETY: a queue's header is its first field.
        unsafe { &*(h as *const _ as *const Queue) }.activate();
    } else if h.kind_is(Kind::Source) {
        // SAFETY: a source's header is its first field.
        unsafe { &*(h as *const _ as *const Source) }.activate();
    }
}

#[no_mangle]
pub unsafe extern "C" fn dispatch_set_target_queue(object: dispatch_object_t, queue: dispatch_queue_t) {
    // SAFETY: as above.
    let h = unsafe { resolve(object, None, "dispatch_set_target_queue") };
    let target = if queue.is_null() {
        None
    } else {
        // SAFETY: the client passes a queue.
        Some(unsafe { queue_arg(queue, "dispatch_set_target_queue") })
    };
    if h.kind_is(Kind::Queue) {
        // SAFETY: a queue's header is its first field.
        unsafe { &*(h as *const _ as *const Queue) }.set_target(target);
    } else if h.kind_is(Kind::Source) {
        // SAFETY: a source's header is its first field.
        unsafe { &*(h as *const _ as *const Source) }.set_target(target);
    }
}
