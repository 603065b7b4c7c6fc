//! The block variants of the dispatch API and `dispatch/block.h`. Every function here is
//! declared in the header only under `__BLOCKS__` (the `blocks` feature maps to it in
//! cbindgen.toml); `dispatch_apply` and `dispatch_once` are hand-declared in queue.h and
//! once.h because their block types have no typedef (and `dispatch_once` has an inline
//! fast path).

use super::group::group_arg;
use super::{
    dispatch_group_t, dispatch_qos_class_t, dispatch_queue_t, dispatch_time_t, intptr_t, queue_arg, size_t,
};
use crate::blocks::dispatch_block::{self, SPECIAL_INVOKE};
use crate::blocks::layout::BlockLayout;
use crate::blocks::runtime;
use crate::blocks::submit::{async_work, block_arg, call, call_and_release, is_barrier_block};
use crate::callback::{ClientApplyFn, ClientFn};
use crate::queue::root::is_qos_class;
use crate::queue::{self, sync};
use crate::sync::once::call_once;
use crate::sys::{self, Clock};
use crate::{apply, event, time};
use core::ffi::c_void;

/// C's `dispatch_block_t` (`void (^)(void)`), typedef'd by hand in the header.
pub type dispatch_block_t = *mut c_void;
/// C's `dispatch_block_flags_t`.
pub type dispatch_block_flags_t = u64;

/// Exported so code that inspects blocks can recognise dispatch blocks, as with the
/// reference (`block->invoke == _dispatch_block_special_invoke`).
#[no_mangle]
pub static _dispatch_block_special_invoke: unsafe extern "C" fn(*mut c_void) = SPECIAL_INVOKE;

/// Submits a copy of `block` to `queue` (`dispatch_async` and `dispatch_barrier_async`).
unsafe fn submit_block(queue: dispatch_queue_t, block: dispatch_block_t, barrier: bool, what: &str) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, what) };
    // SAFETY: a block literal (NULL checked).
    let (c, target) = unsafe { async_work(q, block_arg(block, what), barrier) };
    queue::submit(target, c);
}

/// Runs `block` on `queue` before returning (the sync family); never copies it.
unsafe fn run_block_sync(
    queue: dispatch_queue_t,
    block: dispatch_block_t,
    barrier: bool,
    and_wait: bool,
    what: &str,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, what) };
    let block = block_arg(block, what);
    // SAFETY: a block literal.
    let barrier = barrier || unsafe { is_barrier_block(block) };
    // SAFETY: `call` invokes a `void (^)(void)` block literal, which the caller holds
    // until the sync returns; the sync family calls it once.
    sync::sync_f(q, unsafe { ClientFn::new(call, block as *mut c_void) }, barrier, and_wait);
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_async(queue: dispatch_queue_t, block: dispatch_block_t) {
    // SAFETY: forwarded.
    unsafe { submit_block(queue, block, false, "dispatch_async") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_async(queue: dispatch_queue_t, block: dispatch_block_t) {
    // SAFETY: forwarded.
    unsafe { submit_block(queue, block, true, "dispatch_barrier_async") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_sync(queue: dispatch_queue_t, block: dispatch_block_t) {
    // SAFETY: forwarded.
    unsafe { run_block_sync(queue, block, false, false, "dispatch_sync") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_sync(queue: dispatch_queue_t, block: dispatch_block_t) {
    // SAFETY: forwarded.
    unsafe { run_block_sync(queue, block, true, false, "dispatch_barrier_sync") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_async_and_wait(queue: dispatch_queue_t, block: dispatch_block_t) {
    // SAFETY: forwarded.
    unsafe { run_block_sync(queue, block, false, true, "dispatch_async_and_wait") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_barrier_async_and_wait(queue: dispatch_queue_t, block: dispatch_block_t) {
    // SAFETY: forwarded.
    unsafe { run_block_sync(queue, block, true, true, "dispatch_barrier_async_and_wait") }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_after(
    when: dispatch_time_t,
    queue: dispatch_queue_t,
    block: dispatch_block_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_after") };
    let block = block_arg(block, "dispatch_after");
    match time::deadline(when) {
        None => {} // DISPATCH_TIME_FOREVER: never fires, so nothing is kept
        Some((Clock::Monotonic, 0)) => {
            // SAFETY: a block literal.
            let (c, target) = unsafe { async_work(q, block, false) };
            queue::submit(target, c);
        }
        Some((clock, ns)) => {
            // SAFETY: a block literal, copied; `call_and_release` calls the copy once and
            // releases it, and a timer entry fires once.
            let work = unsafe { ClientFn::new(call_and_release, runtime::copy(block)) };
            event::timer::after(clock, ns, q, work);
        }
    }
}

/// Calls a `void (^)(size_t)` block for one index.
unsafe extern "C" fn call_apply_block(block: *mut c_void, index: usize) {
    // SAFETY: `block` is the client's apply block, alive for the whole apply.
    let invoke: unsafe extern "C" fn(*mut c_void, usize) =
        unsafe { core::mem::transmute((*(block as *const BlockLayout)).invoke) };
    // SAFETY: as above.
    unsafe { invoke(block, index) }
}

/// Declared by hand in the header (`void (^block)(size_t)` has no typedef).
#[no_mangle]
pub unsafe extern "C" fn dispatch_apply(iterations: size_t, queue: dispatch_queue_t, block: *mut c_void) {
    let q = if queue.is_null() {
        None // DISPATCH_APPLY_AUTO
    } else {
        // SAFETY: the client passes a queue.
        Some(unsafe { queue_arg(queue, "dispatch_apply") })
    };
    let block = block_arg(block, "dispatch_apply");
    // SAFETY: `call_apply_block` invokes a `void (^)(size_t)` block literal, which the
    // caller holds until the apply returns; dispatch_apply's contract allows a call per
    // index, concurrently on any threads.
    apply::apply_f(iterations, q, unsafe { ClientApplyFn::new(call_apply_block, block as *mut c_void) });
}

/// Declared by hand in the header, behind the inline fast path of MACROS.md.
#[no_mangle]
pub unsafe extern "C" fn dispatch_once(predicate: *mut super::dispatch_once_t, block: dispatch_block_t) {
    let block = block_arg(block, "dispatch_once");
    if predicate.is_null() || !(predicate as usize).is_multiple_of(core::mem::align_of::<i64>()) {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch_once called with a NULL or misaligned predicate",
        );
    }
    // SAFETY: as in `dispatch_once_f`: once.h's contract makes `predicate` a live
    // `dispatch_once_t` touched only by dispatch_once (so only atomically); non-null and
    // aligned (checked above).
    let state = unsafe { core::sync::atomic::AtomicI64::from_ptr(predicate as *mut i64) };
    // SAFETY: `call` invokes a `void (^)(void)` block literal, which the caller holds until
    // dispatch_once returns; it is called at most once.
    let init = unsafe { ClientFn::new(call, block as *mut c_void) };
    call_once(state, || init.call());
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_group_async(
    group: dispatch_group_t,
    queue: dispatch_queue_t,
    block: dispatch_block_t,
) {
    // SAFETY: the client passes a group and a queue.
    let (g, q) =
        unsafe { (group_arg(group, "dispatch_group_async"), queue_arg(queue, "dispatch_group_async")) };
    // SAFETY: a block literal.
    let (mut c, target) = unsafe { async_work(q, block_arg(block, "dispatch_group_async"), false) };
    g.attach(&mut c);
    queue::submit(target, c);
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_group_notify(
    group: dispatch_group_t,
    queue: dispatch_queue_t,
    block: dispatch_block_t,
) {
    // SAFETY: the client passes a group and a queue.
    let (g, q) =
        unsafe { (group_arg(group, "dispatch_group_notify"), queue_arg(queue, "dispatch_group_notify")) };
    // SAFETY: a block literal, copied; `call_and_release` calls the copy once and releases
    // it, and a notification is submitted once.
    let work =
        unsafe { ClientFn::new(call_and_release, runtime::copy(block_arg(block, "dispatch_group_notify"))) };
    g.notify(q, work);
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_create(
    flags: dispatch_block_flags_t,
    block: dispatch_block_t,
) -> dispatch_block_t {
    // SAFETY: the client passes a block (NULL aborts).
    unsafe { dispatch_block::create(flags, None, block) }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_create_with_qos_class(
    flags: dispatch_block_flags_t,
    qos_class: dispatch_qos_class_t,
    relative_priority: i32,
    block: dispatch_block_t,
) -> dispatch_block_t {
    let valid = (qos_class == 0 || is_qos_class(qos_class)) && (-15..=0).contains(&relative_priority);
    if !valid {
        return core::ptr::null_mut(); // the reference returns NULL for bad input
    }
    // SAFETY: the client passes a block (NULL aborts).
    unsafe { dispatch_block::create(flags, Some((qos_class, relative_priority)), block) }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_perform(flags: dispatch_block_flags_t, block: dispatch_block_t) {
    if !dispatch_block::flags_are_valid(flags) {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: Invalid flags passed to dispatch_block_perform()",
        );
    }
    // SAFETY: a block literal (NULL checked), called in place.
    unsafe { call(block_arg(block, "dispatch_block_perform") as *mut c_void) }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_wait(block: dispatch_block_t, timeout: dispatch_time_t) -> intptr_t {
    // SAFETY: the client passes a dispatch block (anything else aborts).
    unsafe { dispatch_block::wait(block, time::deadline(timeout)) }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_notify(
    block: dispatch_block_t,
    queue: dispatch_queue_t,
    notification_block: dispatch_block_t,
) {
    // SAFETY: the client passes a queue.
    let q = unsafe { queue_arg(queue, "dispatch_block_notify") };
    let notification = block_arg(notification_block, "dispatch_block_notify");
    // SAFETY: `notify` checks `block`; the notification is a block literal, copied, which
    // `call_and_release` calls once and releases (a notification is submitted once).
    unsafe { dispatch_block::notify(block, q, ClientFn::new(call_and_release, runtime::copy(notification))) };
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_cancel(block: dispatch_block_t) {
    // SAFETY: the client passes a dispatch block (anything else aborts).
    unsafe { dispatch_block::cancel(block) }
}

#[cfg(feature = "blocks")]
#[no_mangle]
pub unsafe extern "C" fn dispatch_block_testcancel(block: dispatch_block_t) -> intptr_t {
    // SAFETY: the client passes a dispatch block (anything else aborts).
    unsafe { dispatch_block::is_cancelled(block) as intptr_t }
}

/// The QoS class the calling thread runs work at (an extension: Apple platforms have it in
/// `<pthread/qos.h>`; Linux has no such function, so the library provides it).
#[no_mangle]
pub extern "C" fn qos_class_self() -> dispatch_qos_class_t {
    crate::qos::current()
}
