//! Turning a block into work the core runs: the block variants of the dispatch API are
//! the function variants with a block as context and one of these trampolines.
//!
//! A block the library keeps (async, after, group, notify) is copied once at submission
//! and released once after it ran ([`call_and_release`]); a block run before the call
//! returns (sync, apply, once, perform) is called in place ([`call`]) and never copied.
//! A `dispatch_block_create` block adds its attributes: `BARRIER` makes the submission a
//! barrier, and its QoS picks the QoS the item runs at (see [`async_work`]).

use super::dispatch_block::{self, is_dispatch_block, RunKind, BARRIER, ENFORCE_QOS_CLASS, HAS_PRIORITY};
use super::runtime;
use crate::qos;
use crate::queue::continuation::{Continuation, ContinuationBox};
use crate::queue::root::{rank_of_qos, root_queue};
use crate::queue::{Flavor, Queue};
use crate::sys;
use core::ffi::c_void;

/// Runs a copied `void (^)(void)` block and releases the copy.
///
/// # Safety
/// `block` must be a heap block whose reference the caller hands over.
pub unsafe extern "C" fn call_and_release(block: *mut c_void) {
    // SAFETY: per the contract.
    unsafe {
        if is_dispatch_block(block) {
            dispatch_block::run(block, RunKind::Submitted);
        } else {
            dispatch_block::call_void_block(block);
        }
        runtime::release(block);
    }
}

/// Runs a `void (^)(void)` block the caller keeps alive (a direct invocation).
///
/// # Safety
/// `block` must be a live block.
pub unsafe extern "C" fn call(block: *mut c_void) {
    // SAFETY: per the contract; a dispatch block's invoke is its direct run.
    unsafe { dispatch_block::call_void_block(block) }
}

/// Aborts on a NULL block argument.
pub fn block_arg(block: *const c_void, what: &str) -> *const c_void {
    if block.is_null() {
        sys::abort_with_message(&format!("BUG IN CLIENT OF LIBDISPATCH: {what} called with a NULL block"));
    }
    block
}

/// Whether `block` is a dispatch block created with `DISPATCH_BLOCK_BARRIER`.
///
/// # Safety
/// `block` must be a block literal.
pub unsafe fn is_barrier_block(block: *const c_void) -> bool {
    // SAFETY: per the contract.
    unsafe { is_dispatch_block(block) && dispatch_block::data(block, "").flags & BARRIER != 0 }
}

/// A continuation running a copy of `block` on `q`, and the queue to push it to.
///
/// For a dispatch block, the QoS it runs at is its own (its creation QoS, else the
/// submitter's) when it enforces it or when `q` has no QoS of its own; otherwise the
/// queue's. A global queue's item that asks for more than the queue's QoS goes to the
/// global queue of that QoS, so a worker of the right priority runs it.
///
/// # Safety
/// `block` must be a block literal.
pub unsafe fn async_work(q: &Queue, block: *const c_void, barrier: bool) -> (ContinuationBox, &Queue) {
    // SAFETY: per the contract; released by `call_and_release`.
    let copy = unsafe { runtime::copy(block) };
    let mut barrier = barrier;
    let mut run_qos = 0;
    // SAFETY: `copy` is a live block.
    if unsafe { is_dispatch_block(copy) } {
        // SAFETY: as above.
        let d = unsafe { dispatch_block::data(copy, "dispatch_async") };
        barrier |= d.flags & BARRIER != 0;
        let block_qos = if d.flags & HAS_PRIORITY != 0 {
            dispatch_block::decode_priority(d.priority)
        } else {
            qos::current()
        };
        if d.flags & ENFORCE_QOS_CLASS != 0 || q.honours_item_qos() {
            run_qos = block_qos;
        }
    }
    // SAFETY: `copy` is our copy of a block literal, which `call_and_release` calls once and
    // releases; a continuation runs once.
    let mut c =
        Continuation::boxed(unsafe { crate::callback::ClientFn::new(call_and_release, copy) }, barrier);
    c.qos = run_qos;
    let target = match q.flavor {
        Flavor::Root(index) if run_qos != 0 && rank_of_qos(run_qos) > rank_of_qos(q.qos()) => {
            root_queue(rank_of_qos(run_qos), index % 2 == 1)
        }
        _ => q,
    };
    (c, target)
}
