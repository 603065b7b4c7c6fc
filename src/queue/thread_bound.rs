//! Thread-bound queues drained on their own threads: the main queue (by `dispatch_main`
//! or a foreign loop's `_dispatch_main_queue_callback_4CF`) and run-loop queues (by
//! `_dispatch_runloop_root_queue_perform_4CF`).
//!
//! Their state words are permanently owned (`QueueState::thread_bound`), so no worker
//! ever drains them; only the thread they belong to pops their lists, which is what makes
//! it their consumer. The wake side (what a push signals) is below the drain, in
//! `main_queue.rs` and `runloop.rs`.

use super::continuation::Continuation;
use super::drain::drain_queue;
use super::frames;
use super::main_queue::{on_main_thread, LOOP_HANDLE, MAIN_QUEUE, WAKE_EPOCH};
use super::object::Queue;
use super::runloop;
use super::taken::{Drain, Taken};
use crate::sys;

/// `_dispatch_main_queue_callback_4CF`: drains the main queue on the main thread.
pub fn callback_4cf() {
    if !on_main_thread() {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: _dispatch_main_queue_callback_4CF called off the main thread",
        );
    }
    let handle = LOOP_HANDLE.get();
    if let Some(h) = handle {
        h.drain();
    }
    drain();
    // Items sent while draining ran in this drain but left the handle readable; clear it,
    // then look again, so the loop neither wakes for nothing nor misses a late item.
    if let Some(h) = handle {
        h.drain();
        let runnable = !MAIN_QUEUE.state.snapshot().is_suspended_or_inactive();
        if runnable && !MAIN_QUEUE.list.is_empty() {
            h.signal();
        }
    }
}

/// Runs the items the main queue has now (and those arriving meanwhile) on this thread.
pub fn drain() {
    drain_thread_bound(&MAIN_QUEUE);
}

/// `dispatch_main`: the main thread becomes the main queue's drainer, forever.
pub fn dispatch_main() -> ! {
    if !on_main_thread() {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: dispatch_main() must be called on the main thread",
        );
    }
    loop {
        let ticket = WAKE_EPOCH.ticket();
        drain();
        let runnable = !MAIN_QUEUE.state.snapshot().is_suspended_or_inactive();
        if runnable && !MAIN_QUEUE.list.is_empty() {
            continue;
        }
        WAKE_EPOCH.sleep(ticket, None);
    }
}

/// Drains a thread-bound queue (the main queue) on its thread, until it is empty or
/// suspended.
pub fn drain_thread_bound(q: &Queue) {
    frames::with_frame(q, || while run_one_thread_bound(q) {})
}

/// Runs the first item of a thread-bound queue on this thread (the caller has pushed the
/// queue's frame). Returns whether it ran one.
pub fn run_one_thread_bound(q: &Queue) -> bool {
    if q.state.snapshot().is_suspended_or_inactive() {
        return false;
    }
    // SAFETY: a thread-bound queue's list is consumed only by its own thread (the main
    // thread, or the run loop's), which is the one that calls this.
    let d = unsafe { Drain::thread_bound(q) };
    let Some(item) = d.pop() else { return false };
    match item {
        Taken::Continuation(c) => Continuation::run_boxed(c),
        Taken::Queue(child) => drain_queue(child),
        // Waiters on a thread-bound queue are all `run_by_drainer`.
        Taken::Waiter(w) => w.run_here(),
    }
    true
}

/// `_dispatch_runloop_root_queue_perform_4CF`: runs one item of `q` on this thread.
/// Returns whether more items are waiting (the port then stays readable).
pub fn runloop_perform(q: &Queue) -> bool {
    if let Some(runloop::RunLoopPort(port)) = q.extension() {
        port.drain();
    }
    frames::with_frame(q, || run_one_thread_bound(q));
    let more = !q.state.snapshot().is_suspended_or_inactive() && !q.list.is_empty();
    if more {
        runloop::wake(q);
    }
    more
}
