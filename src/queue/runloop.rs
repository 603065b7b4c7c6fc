//! Run-loop queues: serial queues a foreign event loop drains on its own thread
//! (`_dispatch_runloop_root_queue_create_4CF` and friends, which CoreFoundation uses for
//! run loops other than the main one).
//!
//! Same design as the main queue's handle for foreign loops: the queue's state word is
//! permanently owned, so no worker ever drains it; a producer that makes its list
//! non-empty signals the queue's eventfd (its "port"); the loop polls the port and calls
//! `thread_bound::runloop_perform`, which runs one item and says whether more are waiting.
//! This file is the part below the drain: the port and the wake a push makes.

use super::object::{Extension, Queue};
use crate::sys::EventFd;

/// A run-loop queue's out-of-line part: the eventfd its loop polls.
pub(crate) struct RunLoopPort(pub(crate) EventFd);

impl Extension for RunLoopPort {}

/// Signals the loop that `q` has (or may have) work.
pub fn wake(q: &Queue) {
    if let Some(RunLoopPort(port)) = q.extension() {
        port.signal();
    }
}

/// The eventfd the loop polls for `q` (-1 if `q` is not a run-loop queue).
pub fn port(q: &Queue) -> i32 {
    q.extension().map_or(-1, |RunLoopPort(port)| port.fd())
}
