//! Run-loop queues: serial queues a foreign event loop drains on its own thread
//! (`_dispatch_runloop_root_queue_create_4CF` and friends, which CoreFoundation uses for
//! run loops other than the main one).
//!
//! Same design as the main queue's handle for foreign loops: the queue's state word is
//! permanently owned, so no worker ever drains it; a producer that makes its list
//! non-empty signals the queue's eventfd (its "port"); the loop polls the port and calls
//! [`perform`], which runs one item and says whether more are waiting.

use super::{drain, frames, state, Flavor, Queue, Special, QUEUE_VTABLE};
use crate::object::{Header, Kind};
use crate::queue::item::{Item, ItemKind};
use crate::queue::list::ItemList;
use crate::sys::EventFd;
use core::ffi::CStr;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32};
use std::sync::Mutex;

/// `_dispatch_runloop_root_queue_create_4CF`: `None` if the eventfd cannot be created.
pub fn create(label: Option<&CStr>) -> Option<*const Queue> {
    let port = EventFd::new().ok()?;
    let owned_label = label.map(CStr::to_owned);
    let label = owned_label.as_deref().unwrap_or(c"").as_ptr();
    let q = Box::new(Queue {
        header: Header::new(Kind::Queue, &QUEUE_VTABLE),
        item: Item::new(ItemKind::Queue, 0),
        state: state::QueueState::thread_bound(),
        list: ItemList::new(),
        target: super::TargetSlot::empty(),
        label: AtomicPtr::new(label.cast_mut()),
        owned_label,
        flavor: Flavor::RunLoop,
        qos: AtomicU32::new(0),
        relative_priority: AtomicI32::new(0),
        spi: super::QueueSpi::new(0),
        specifics: Mutex::new(Vec::new()),
        special: Some(Box::new(Special::RunLoopPort(port))),
    });
    Some(Box::into_raw(q))
}

/// Signals the loop that `q` has (or may have) work.
pub fn wake(q: &Queue) {
    if let Some(port) = q.port() {
        port.signal();
    }
}

/// The eventfd the loop polls for `q`.
pub fn port(q: &Queue) -> i32 {
    q.port().map_or(-1, EventFd::fd)
}

/// `_dispatch_runloop_root_queue_perform_4CF`: runs one item of `q` on this thread.
/// Returns whether more items are waiting (the port then stays readable).
pub fn perform(q: &Queue) -> bool {
    if let Some(port) = q.port() {
        port.drain();
    }
    frames::with_frame(q, || drain::run_one_thread_bound(q));
    let more = !q.state.snapshot().is_suspended_or_inactive() && !q.list.is_empty();
    if more {
        wake(q);
    }
    more
}
