//! `dispatch/once.h`. The header's inline wrapper only calls in while the predicate is not
//! yet `~0l`.

use super::{dispatch_function_t, dispatch_once_t, function_arg};
use crate::sync::once::call_once;
use core::ffi::c_void;

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
    // SAFETY: a live, aligned predicate (checked above); the function is the client's.
    unsafe { call_once(predicate as *mut i64, || function(context)) };
}
