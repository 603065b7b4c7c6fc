//! How a Rust closure crosses the C boundary: as a context pointer and a monomorphic
//! `extern "C"` trampoline, the `_f` variant of each dispatch function.
//!
//! An asynchronous closure is boxed once ([`boxed`]): the `Box<F>`'s pointer is the
//! context, and [`call_boxed::<F>`] takes the box back and calls it, exactly once, as the
//! `_f` contract promises. A synchronous call (`exec_sync`, `apply`, `Once::call_once`)
//! needs no box at all: the closure and its result slot live on the caller's stack, which
//! outlives the call because the C function returns only after the work ran.
//!
//! A panic must not unwind into the runtime (the C frames below have no unwind tables
//! and hold locks and counts): [`run_or_abort`] catches it at the trampoline, prints which
//! closure panicked and aborts. Under `panic = "abort"` (the release and dev profiles)
//! the panic aborts before that; `cargo test` builds with unwinding, which is when the
//! catch matters.

use crate::ffi::dispatch_function_t;
use core::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic aborts the process with a message naming the closure type `C`.
pub(super) fn run_or_abort<C, R>(f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a non-string payload)".to_string());
            // The payload is leaked, not dropped: its destructor could panic again.
            core::mem::forget(payload);
            crate::sys::abort_with_message(&format!(
                "BUG IN CLIENT OF LIBDISPATCH: a closure run by dispatch panicked ({}): {msg}; \
                 a panic cannot unwind through the dispatch runtime, so the process aborts",
                core::any::type_name::<C>()
            ))
        }
    }
}

/// Boxes `f` once: the context and function to hand to a `dispatch_*_f` call that calls
/// the function exactly once.
pub(super) fn boxed<F: FnOnce() + Send + 'static>(f: F) -> (*mut c_void, dispatch_function_t) {
    (Box::into_raw(Box::new(f)) as *mut c_void, Some(call_boxed::<F>))
}

/// # Safety
/// `ctx` comes from [`boxed::<F>`] and this is its only call.
unsafe extern "C" fn call_boxed<F: FnOnce() + Send + 'static>(ctx: *mut c_void) {
    // SAFETY: the caller's contract: `ctx` is `Box::<F>::into_raw`, taken back once.
    let f = unsafe { Box::from_raw(ctx as *mut F) };
    run_or_abort::<F, ()>(f)
}

/// A closure and the slot for its result, on the stack of a caller that waits for it.
pub(super) struct InPlace<F, T> {
    f: Option<F>,
    out: Option<T>,
}

impl<F: FnOnce() -> T, T> InPlace<F, T> {
    pub(super) fn new(f: F) -> Self {
        InPlace { f: Some(f), out: None }
    }

    /// The context and function for a `dispatch_*_f` call that runs the closure before it
    /// returns (`dispatch_sync_f`, `dispatch_once_f`). The pointer borrows `self` mutably
    /// for as long as the C call runs.
    pub(super) fn as_callout(&mut self) -> (*mut c_void, dispatch_function_t) {
        (self as *mut Self as *mut c_void, Some(call_in_place::<F, T>))
    }

    /// The closure's result, if it ran.
    pub(super) fn into_result(self) -> Option<T> {
        self.out
    }
}

/// # Safety
/// `ctx` is an `InPlace<F, T>` from [`InPlace::as_callout`] no one else touches during
/// the call.
unsafe extern "C" fn call_in_place<F: FnOnce() -> T, T>(ctx: *mut c_void) {
    // SAFETY: the caller's contract: the `InPlace` is alive and exclusively ours.
    let slot = unsafe { &mut *(ctx as *mut InPlace<F, T>) };
    if let Some(f) = slot.f.take() {
        slot.out = Some(run_or_abort::<F, T>(f));
    }
}
