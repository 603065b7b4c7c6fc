//! `dispatch/object.h`.

use super::{dispatch_function_t, dispatch_object_t, dispatch_queue_t, queue_arg};
use crate::object::{resolve, Kind};
use crate::queue::Queue;
use crate::source::Source;
use crate::sys;
use core::ffi::{c_char, c_void};
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

/// C's `va_list` as a parameter (see `sys::VaListArg` for why one pointer-sized value is
/// exactly what a callee receives); the header gets the type from `<stdarg.h>`.
pub type va_list = sys::VaListArg;

extern "C" {
    /// `shims/debug.c` (variadic, so C). Exported by `shims/exports.map`.
    fn dispatch_debug(object: dispatch_object_t, message: *const c_char, ...);
}

/// Makes the linker keep `shims/debug.c`: nothing in the library calls `dispatch_debug`,
/// and an archive member no one references is not linked in.
#[used]
static KEEP_DISPATCH_DEBUG: unsafe extern "C" fn(dispatch_object_t, *const c_char, ...) = dispatch_debug;

/// `dispatch_debugv`: writes `dispatch_debug: <message>: <object description>` and a
/// newline to standard error in one write (`crate::debug` describes the object).
/// `dispatch_debug` (variadic, so defined in C: `shims/debug.c`) forwards here.
#[no_mangle]
pub unsafe extern "C" fn dispatch_debugv(object: dispatch_object_t, message: *const c_char, ap: va_list) {
    // SAFETY: the client passes a dispatch object; `resolve` checks its tag.
    let h = unsafe { resolve(object, None, "dispatch_debugv") };
    let mut line = b"dispatch_debug: ".to_vec();
    if !message.is_null() {
        // SAFETY: the client passes a printf format and the va_list of its arguments.
        match unsafe { sys::format_va(message, ap) } {
            Some(m) => line.extend_from_slice(&m),
            None => line.extend_from_slice(b"(message could not be formatted)"),
        }
        line.extend_from_slice(b": ");
    }
    line.extend_from_slice(crate::debug::describe(h).as_bytes());
    line.push(b'\n');
    sys::write_stderr(&line);
}
