//! The main queue: a serial queue bound to the main thread.
//!
//! Its state word is permanently owned (`IN_BARRIER` with a placeholder owner), so no
//! other thread ever takes its drain lock: `dispatch_sync` onto it parks a waiter whose
//! function the main thread runs. Producers that make its list non-empty advance the
//! `park::Epoch` the main thread sleeps on in `dispatch_main`; the main thread drains it
//! there or in `callback_4cf` (`thread_bound.rs`, above the drain; this file is the part
//! below it: the queue, its wake and its handle).
//!
//! The wake protocol is the usual epoch one: the main thread reads the epoch, checks the
//! list, and sleeps only if the epoch is unchanged; a producer pushes, then bumps the
//! epoch and wakes. Either the main thread sees the item, or its sleep sees the new epoch.
//!
//! A program with its own event loop (CoreFoundation's run loop on Apple platforms; here
//! epoll, libuv, GLib...) asks for [`handle_4cf`], an eventfd that every wake also
//! signals, and calls `callback_4cf` on the main thread when it is readable. The
//! callback clears the eventfd before draining and again after, then re-signals it if
//! work is left: the loop never misses the main queue's work, and is not woken for work
//! that already ran.

use super::object::{Flavor, Queue};
use crate::object::Forwarder;
use crate::park::Epoch;
use crate::sys::{self, EventFd};
use std::sync::OnceLock;

/// `dispatch_get_main_queue()` is `&_dispatch_main_q`: a forwarder to the real main queue,
/// so a copy of it in an executable still works (see `object.rs`).
#[no_mangle]
pub static _dispatch_main_q: Forwarder = Forwarder::new(&MAIN_QUEUE.header);

pub static MAIN_QUEUE: Queue = Queue::new_static(
    c"com.apple.main-thread",
    Flavor::Main,
    super::state::QueueState::thread_bound(),
    super::root::QOS_USER_INTERACTIVE,
);

pub(super) static WAKE_EPOCH: Epoch = Epoch::new();
pub(super) static LOOP_HANDLE: OnceLock<EventFd> = OnceLock::new();

/// Signals the main thread that the main queue has (or may have) work.
pub fn wake() {
    WAKE_EPOCH.notify_one();
    if let Some(handle) = LOOP_HANDLE.get() {
        handle.signal();
    }
}

/// `_dispatch_get_main_queue_handle_4CF`: an eventfd readable while the main queue has
/// work for a foreign event loop to drain with `callback_4cf`.
pub fn handle_4cf() -> i32 {
    let handle = LOOP_HANDLE.get_or_init(|| {
        EventFd::new().unwrap_or_else(|e| {
            sys::abort_with_message(&format!("dispatch: cannot create the main queue's eventfd: {e}"))
        })
    });
    if !MAIN_QUEUE.list.is_empty() {
        handle.signal(); // work queued before anyone asked for the handle
    }
    handle.fd()
}

/// `fork` child: the loop handle is an eventfd shared with the parent; the child gets a
/// fresh one under the same number (so a loop that polls it keeps working), signalled if
/// the copied main queue holds work.
pub(crate) fn renew_handle_after_fork() {
    if let Some(handle) = LOOP_HANDLE.get() {
        if let Err(e) = handle.renew() {
            sys::abort_with_message(&format!(
                "dispatch: cannot renew the main queue's eventfd after fork: {e}"
            ));
        }
        if !MAIN_QUEUE.list.is_empty() {
            handle.signal();
        }
    }
}

/// The pointer clients know the main queue by: `&_dispatch_main_q` as the executable sees
/// it. A non-PIE executable holds a copy of the exported forwarder, and
/// `dispatch_get_main_queue()` there yields the copy's address; the runtime's pointers to
/// [`MAIN_QUEUE`] must be handed out as that same address so clients can compare them.
pub fn client_handle() -> *const core::ffi::c_void {
    static HANDLE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *HANDLE.get_or_init(|| {
        let own = &_dispatch_main_q as *const _ as *const core::ffi::c_void;
        sys::global_symbol_address(c"_dispatch_main_q").unwrap_or(own) as usize
    }) as *const core::ffi::c_void
}

/// Whether the calling thread is the process's main thread.
pub fn on_main_thread() -> bool {
    super::frames::thread_id() == sys::getpid()
}
