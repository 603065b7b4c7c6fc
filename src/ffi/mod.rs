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

use crate::object::{resolve, Header, Kind};
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

/// Resolves an object argument of kind `kind` to its typed object.
///
/// # Safety
/// `p` must be NULL or a dispatch object; `T` must be the object type of `kind` (every
/// object type starts with its `Header`).
///
/// The common case is inline: a pointer straight to an object of `kind` (not a forwarder:
/// its first word, the tag, is the kind's) is accepted with one load and one compare, which
/// the hot entry points (`dispatch_sync_f`) pay instead of a call; anything else, NULL and
/// every misuse included, goes through `object::resolve`, out of line.
#[inline(always)]
pub(crate) unsafe fn object_arg<'a, T>(p: *const c_void, kind: Kind, what: &str) -> &'a T {
    // SAFETY: the caller passes NULL (not read) or a dispatch object, whose first word is
    // its tag (`Header` is `repr(C)` with the tag first; a forwarder's tag is its own); a
    // tag equal to `kind`'s means `p` is an object of that kind, whose type starts with it.
    if !p.is_null() && unsafe { *(p as *const usize) } == kind.tag() {
        // SAFETY: as just said.
        return unsafe { &*(p as *const T) };
    }
    #[cold]
    #[inline(never)]
    unsafe fn slow<'a>(p: *const c_void, kind: Kind, what: &str) -> &'a Header {
        // SAFETY: forwarded contract.
        unsafe { resolve(p, Some(kind), what) }
    }
    // SAFETY: forwarded contract; `resolve` checked the kind, whose type starts with it.
    unsafe { &*(slow(p, kind, what) as *const Header as *const T) }
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
