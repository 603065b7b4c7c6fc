//! The calling thread's stack of queues it is currently running on behalf of.
//!
//! A frame is pushed while a thread drains a queue, runs a redirected item of a
//! concurrent queue, or runs a `dispatch_sync` function. The top frame is
//! `dispatch_get_current_queue()`; a queue is *held* by the thread when it is a frame or in
//! the target chain of a frame, which is what deadlock detection and
//! `dispatch_assert_queue` ask.

use super::Queue;
use std::cell::RefCell;

thread_local! {
    static FRAMES: RefCell<Vec<*const Queue>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `q` as the current queue.
pub fn with_frame<R>(q: &Queue, f: impl FnOnce() -> R) -> R {
    push(q);
    let r = f();
    pop();
    r
}

pub fn push(q: &Queue) {
    FRAMES.with(|fr| fr.borrow_mut().push(q));
}

pub fn pop() {
    FRAMES.with(|fr| fr.borrow_mut().pop());
}

/// The innermost queue this thread runs on behalf of.
pub fn current() -> Option<&'static Queue> {
    // SAFETY: a frame's queue is kept alive by whoever pushed the frame until it pops it.
    FRAMES.with(|fr| fr.borrow().last().map(|q| unsafe { &**q }))
}

/// Whether `q` is a frame of this thread or in the target chain of one.
pub fn holds(q: &Queue) -> bool {
    FRAMES.with(|fr| {
        fr.borrow().iter().any(|&f| {
            // SAFETY: as in `current`.
            let mut level = Some(unsafe { &*f });
            while let Some(l) = level {
                if core::ptr::eq(l, q) {
                    return true;
                }
                level = l.target();
            }
            false
        })
    })
}

/// How many frames this thread has (0 outside any queue).
pub fn depth() -> usize {
    FRAMES.with(|fr| fr.borrow().len())
}
