//! The C surface: one file per public header. Each function checks its arguments, turns
//! C pointers into typed objects (aborting with a `BUG IN CLIENT OF LIBDISPATCH:` message
//! on misuse), and calls the core. This is the only module that exports symbols.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

pub mod block;
pub mod block_runtime;
pub mod data;
pub mod group;
pub mod io;
pub mod object;
pub mod once;
pub mod queue;
pub mod semaphore;
pub mod source;
/// cbindgen:ignore
pub mod spi;
pub mod time;
pub mod work;
pub mod workloop;

use crate::object::{resolve, Kind};
use crate::queue::Queue;
use crate::sys;
use core::ffi::c_void;

// The C types. Their C definitions are hand-written in the topic headers
// (include/dispatch/*.h): these aliases only give cbindgen the right names to print.
/// C's `intptr_t` and `uintptr_t` (the reference headers' spelling).
pub type intptr_t = isize;
pub type uintptr_t = usize;
pub type size_t = usize;
pub type dispatch_object_t = *mut c_void;
pub type dispatch_queue_t = *mut c_void;
pub type dispatch_queue_global_t = *mut c_void;
pub type dispatch_queue_attr_t = *mut c_void;
pub type dispatch_group_t = *mut c_void;
pub type dispatch_semaphore_t = *mut c_void;
pub type dispatch_function_t = Option<unsafe extern "C" fn(*mut c_void)>;
pub type dispatch_time_t = u64;
pub type dispatch_once_t = isize;
pub type dispatch_qos_class_t = u32;
pub type dispatch_autorelease_frequency_t = u64;

/// Resolves an object argument of kind `kind` to its typed object: [`try_object_arg`]'s
/// one compare inline, anything else through `resolve` out of line (which follows a
/// forwarder or aborts naming the misuse).
///
/// # Safety
/// `p` must be NULL or a dispatch object; `T` must be the object type of `kind` (every
/// object type starts with its `Header`).
#[inline(always)]
pub(crate) unsafe fn object_arg<'a, T>(p: *const c_void, kind: Kind, what: &str) -> &'a T {
    // SAFETY: forwarded contract.
    match unsafe { try_object_arg(p, kind) } {
        Some(t) => t,
        // SAFETY: forwarded contract.
        None => unsafe { object_arg_cold(p, kind, what) },
    }
}

/// The rare branch of [`object_arg`], out of line so that the fast path stays small.
///
/// # Safety
/// As for [`object_arg`].
#[cold]
#[inline(never)]
unsafe fn object_arg_cold<'a, T>(p: *const c_void, kind: Kind, what: &str) -> &'a T {
    // SAFETY: forwarded contract; `resolve` checked the kind, whose type starts with it.
    unsafe { &*(resolve(p, Some(kind), what) as *const _ as *const T) }
}

/// [`object_arg`]'s fast case alone: `Some` for a live object of `kind`, recognised by its
/// tag alone (a null test and one 32-bit compare with an immediate: the tag is the high
/// half of the header's first word, `object.rs`); `None` for anything else (NULL, a forwarder, a freed object, another
/// kind), which the caller hands to a cold function that calls [`object_arg`] and aborts
/// there on misuse. For the entry points whose fast path must make no call.
///
/// # Safety
/// As for [`object_arg`].
#[inline(always)]
pub(crate) unsafe fn try_object_arg<'a, T>(p: *const c_void, kind: Kind) -> Option<&'a T> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller passes a dispatch object, whose first word's high half is its
    // immutable tag (`object.rs`: little-endian, so at byte 4; the low half is flags another
    // thread may change, so it is not read); one tagged `kind` is a `T`, which starts with
    // its header.
    unsafe { (*(p as *const u32).add(1) == kind.tag()).then(|| &*(p as *const T)) }
}

/// Resolves a queue argument.
///
/// # Safety
/// `q` must be NULL or a dispatch object.
#[inline(always)]
pub(crate) unsafe fn queue_arg<'a>(q: dispatch_queue_t, what: &str) -> &'a Queue {
    // SAFETY: forwarded contract.
    unsafe { object_arg(q, Kind::Queue, what) }
}

/// Unwraps a function argument.
#[inline(always)]
pub(crate) fn function_arg(f: dispatch_function_t, what: &str) -> unsafe extern "C" fn(*mut c_void) {
    #[cold]
    #[inline(never)]
    fn null_function(what: &str) -> ! {
        sys::abort_with_message(&format!("BUG IN CLIENT OF LIBDISPATCH: {what} called with a NULL function"))
    }
    match f {
        Some(f) => f,
        None => null_function(what),
    }
}
