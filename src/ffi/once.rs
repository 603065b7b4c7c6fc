//! `dispatch/once.h`. The header's inline wrapper only calls in while the predicate is not
//! yet `~0l`.

use super::{dispatch_function_t, dispatch_once_t, function_arg};
use crate::callback::ClientFn;
use crate::sync::once::call_once;
use core::ffi::c_void;
use core::sync::atomic::AtomicI64;

#[no_mangle]
pub unsafe extern "C" fn dispatch_once_f(
    predicate: *mut dispatch_once_t,
    context: *mut c_void,
    function: dispatch_function_t,
) {
    let function = function_arg(function, "dispatch_once_f");
    if predicate.is_null() || !(predicate as usize).is_multiple_of(core::mem::align_of::<i64>()) {
        crate::sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch_once_f called with a NULL or misaligned predicate",
        );
    }
    // SAFETY: once.h's contract: `predicate` points at a `dispatch_once_t` (a `long`) that
    // lives as long as the program uses it and is touched only by dispatch_once, so only
    // atomically; non-null and aligned (checked above).
    let state = unsafe { AtomicI64::from_ptr(predicate as *mut i64) };
    // SAFETY: dispatch_once_f's contract: the function is called (at most) once with the
    // context, on this thread.
    let init = unsafe { ClientFn::new(function, context) };
    call_once(state, || init.call());
}
