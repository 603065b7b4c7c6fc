//! A queue as a `dispatch_after` target of the event thread's timer heaps, which sit
//! below the queues and know them only through [`Target`].

use super::object::Queue;
use crate::callback::ClientFn;
use crate::event::{Release, Target};

// SAFETY: `retain_for_event_thread` takes an internal reference, which keeps the queue
// alive until `release_for_event_thread` drops it.
unsafe impl Target for Queue {
    fn submit(&self, work: ClientFn) {
        super::drain::async_f(self, work);
    }

    fn retain_for_event_thread(&self) {
        self.header.retain_for_event_thread();
    }

    fn release_for_event_thread(&self, proof: Release) {
        self.header.release_for_event_thread(proof);
    }
}
