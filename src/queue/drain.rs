//! Draining: running a queue's items on the thread that took it off its target.
//!
//! A worker pops an item from a root list and runs it with [`run_root_item`]. When the
//! item is a queue, the worker claims the queue's drain lock ([`QueueState::start_drain`])
//! and drains it:
//!
//! * **Exclusively** (serial queues, and concurrent queues that target another custom
//!   queue): items run one after another on this thread. A child queue found on the list
//!   is drained inline, still under this queue's lock — which is what makes queues that
//!   share a serial target mutually exclusive. A sync waiter is *handed* the lock: the
//!   drainer rewrites the owner to the waiter's thread, wakes it, and leaves; the waiter
//!   runs its function on its own thread and unlocks (the workloop wait/wake idea).
//! * **In parallel** (concurrent queues whose every target down to the root is concurrent
//!   too): non-barrier items get a width unit each and are sent down to the target's
//!   list, so other workers run them at once; a barrier waits until the width drains to
//!   zero (`PENDING_BARRIER`), then runs here. An item sent down from a concurrent queue
//!   to a concurrent target is drained there like any item of the target, taking a width
//!   unit of that level too; so when it reaches the root it holds one unit of every level
//!   from its queue down, and returns them all when it finishes
//!   ([`release_width_chain`]). A barrier of any level therefore excludes the items of
//!   every queue above it, and items of queues above a concurrent level run in parallel.
//!
//! Suspension takes effect between items: before each item the drainer checks the queue
//! and every level it is drained under (a source's handler that suspends its target queue
//! stops the next handler, although the handler runs on the source's own queue).
//!
//! A drain runs at most [`DRAIN_BATCH`] items before putting the queue back on its target,
//! so one busy queue cannot starve the others sharing its target.
//!
//! [`QueueState::start_drain`]: super::state::QueueState::start_drain

use super::continuation::{Continuation, SyncWaiter};
use super::frames;
use super::item::{Item, ItemKind};
use super::state::{BarrierStart, DrainStart, Wake};
use super::{enqueue_on_target, push, queue_of_item, Flavor, Queue};
use crate::sys;

/// Items one drain runs before yielding the target to others.
const DRAIN_BATCH: usize = 128;

/// Runs an item a worker took from root queue `root`.
///
/// # Safety
/// `item` must be an item just popped from `root`'s run list.
pub unsafe fn run_root_item(root: &Queue, item: *mut Item) {
    // SAFETY: every item starts with an `Item` header.
    match unsafe { (*item).kind } {
        ItemKind::Continuation => {
            // SAFETY: continuations are created by `Continuation::boxed`.
            let width_of = unsafe { (*(item as *mut Continuation)).width_of };
            // SAFETY: a redirected item holds an internal reference on `width_of`.
            match unsafe { width_of.as_ref() } {
                Some(q) => {
                    // SAFETY: the item is ours and runs once.
                    frames::with_frame(q, || unsafe { run_continuation(item) });
                    release_width_chain(q);
                    // SAFETY: the reference taken when the item was redirected.
                    unsafe { q.header.release_internal() };
                }
                // SAFETY: as above.
                None => frames::with_frame(root, || unsafe { run_continuation(item) }),
            }
        }
        // SAFETY: queue items are the `item` field of a queue that was enqueued.
        ItemKind::Queue => drain_queue(unsafe { queue_of_item(item) }),
        ItemKind::SyncWaiter => {
            sys::abort_with_message("dispatch internal error: sync waiter on a root queue")
        }
    }
}

/// Runs a continuation's function, leaves its group, and frees it.
///
/// # Safety
/// `item` must be a `Continuation` created by `Continuation::boxed` and owned by the caller.
pub unsafe fn run_continuation(item: *mut Item) {
    // SAFETY: per the contract, we own this allocation.
    let c = unsafe { Box::from_raw(item as *mut Continuation) };
    // Autorelease pool per item for WORK_ITEM queues (no hook set: two relaxed loads).
    let pool = super::autorelease::begin();
    // SAFETY: the client promised `func` may be called with `ctxt`.
    crate::qos::with_raised(c.qos, || unsafe { (c.func)(c.ctxt) });
    super::autorelease::end(pool);
    // SAFETY: a continuation with a group entered it and holds a reference on it.
    if !c.group.is_null() {
        // SAFETY: as above; the reference was taken at submission.
        unsafe { super::continuation::leave_group(c.group) };
    }
}

/// Returns a width unit of `q` and wakes it if items (a barrier, or width-blocked items)
/// are waiting.
pub fn release_width(q: &Queue) {
    if q.state.release_width() == Wake::Enqueue || (q.has_items() && q.state.wakeup() == Wake::Enqueue) {
        enqueue_on_target(q);
    }
}

/// Gives up `q`'s drain lock; re-enqueues it if items slipped in meanwhile.
pub fn unlock(q: &Queue) {
    if q.state.unlock(|| !q.has_items()) == Wake::Enqueue {
        enqueue_on_target(q);
    }
}

/// Returns the width units an item sent down from concurrent queue `top` held: one of
/// `top` and one of every level below it down to the root (see the module doc).
fn release_width_chain(top: &Queue) {
    let mut level = top;
    loop {
        release_width(level);
        match level.target() {
            Some(below) if !below.is_root() => level = below,
            _ => return,
        }
    }
}

/// Whether `q` drains in parallel: it and every level below it down to the root are
/// concurrent, so its non-barrier items can run at once on several workers (and
/// `dispatch_sync` onto it takes a width unit of each level instead of exclusivity).
pub fn drains_in_parallel(q: &Queue) -> bool {
    let mut level = q;
    loop {
        if level.is_root() {
            return true;
        }
        if level.flavor != Flavor::Custom || level.is_serial() {
            return false;
        }
        match level.target() {
            Some(below) => level = below,
            None => return false,
        }
    }
}

/// Whether `q`, or a level it is drained under, is suspended or inactive: the drain must
/// stop before the next item (whoever resumes re-wakes the queue).
fn stopped_by_suspension(q: &Queue) -> bool {
    let mut level = q;
    loop {
        if level.is_root() {
            return false;
        }
        if level.state.snapshot().is_suspended_or_inactive() {
            return true;
        }
        match level.target() {
            Some(below) => level = below,
            None => return false,
        }
    }
}

/// Drains `q`, which this thread just took off its target (consuming the internal
/// reference the enqueue took).
pub fn drain_queue(q: &Queue) {
    let tid = frames::thread_id();
    let parallel = drains_in_parallel(q);
    if q.state.start_drain(tid, !parallel) == DrainStart::Acquired {
        frames::with_frame(q, || if parallel { drain_parallel(q, tid) } else { drain_exclusive(q) });
    }
    // SAFETY: the reference `enqueue_on_target` took for this drain.
    unsafe { q.header.release_internal() };
}

fn drain_exclusive(q: &Queue) {
    for _ in 0..DRAIN_BATCH {
        if stopped_by_suspension(q) {
            break;
        }
        // SAFETY: we hold the drain lock, so we are the list's only consumer.
        let item = unsafe { q.take_next() };
        if item.is_null() {
            break;
        }
        // SAFETY: the item is ours now; its kind says what it is.
        match unsafe { (*item).kind } {
            // SAFETY: as above.
            ItemKind::Continuation => unsafe { run_continuation(item) },
            // SAFETY: a queue item is the `item` field of an enqueued queue.
            ItemKind::Queue => drain_queue(unsafe { queue_of_item(item) }),
            ItemKind::SyncWaiter => {
                // SAFETY: the waiter is parked until we set its event.
                let w = unsafe { &*(item as *const SyncWaiter) };
                if w.run_by_drainer {
                    run_waiter_here(w);
                } else {
                    w.hand_over(&q.state);
                    return; // the lock is the waiter's now
                }
            }
        }
    }
    unlock(q);
}

fn drain_parallel(q: &Queue, tid: u32) {
    for _ in 0..DRAIN_BATCH {
        if stopped_by_suspension(q) {
            break;
        }
        let item = q.list.peek();
        if item.is_null() {
            break;
        }
        // SAFETY: we are the only consumer; the kind field is immutable.
        let kind = unsafe { (*item).kind };
        let exclusive = match kind {
            // SAFETY: the kind says what the item is.
            ItemKind::Continuation => unsafe { (*(item as *const Continuation)).barrier },
            // SAFETY: as above.
            ItemKind::SyncWaiter => unsafe { (*(item as *const SyncWaiter)).exclusive },
            ItemKind::Queue => false,
        };
        if exclusive {
            if q.state.start_barrier(tid) == BarrierStart::Pending {
                return; // the last width release re-wakes the queue
            }
        } else if !q.state.reserve_drain_width() {
            break; // width exhausted: a release re-wakes the queue
        }
        // SAFETY: we hold the drain lock.
        unsafe { q.list.pop(item) };
        match kind {
            ItemKind::Continuation if exclusive => {
                // SAFETY: the item is ours.
                unsafe { run_continuation(item) };
                q.state.end_barrier();
            }
            ItemKind::Continuation => {
                let c = item as *mut Continuation;
                // SAFETY: the item is ours. One sent down from a queue above already holds
                // a reference on that queue, which keeps this level alive (a queue holds
                // its target); it now holds this level's width unit too.
                if unsafe { (*c).width_of.is_null() } {
                    q.header.retain_internal();
                    // SAFETY: as above; it now holds the width unit and the reference.
                    unsafe { (*c).width_of = q };
                }
                push(q.target().expect("parallel queues have a target"), item);
            }
            ItemKind::Queue => {
                // SAFETY: as in `drain_exclusive`.
                let child = unsafe { queue_of_item(item) } as *const Queue as usize;
                q.header.retain_internal();
                let c = Continuation::from_closure(Box::new(move || {
                    // SAFETY: the child holds the internal reference of its enqueue.
                    drain_queue(unsafe { &*(child as *const Queue) })
                }));
                // SAFETY: freshly allocated and ours.
                unsafe { (*c).width_of = q };
                push(q.target().expect("parallel queues have a target"), c as *mut Item);
            }
            ItemKind::SyncWaiter => {
                // SAFETY: the waiter is parked until we set its event.
                let w = unsafe { &*(item as *const SyncWaiter) };
                if w.run_by_drainer {
                    run_waiter_here(w);
                    if exclusive {
                        q.state.end_barrier();
                    } else {
                        // We hold the drain lock, so no pending barrier to enqueue.
                        let _ = q.state.release_width();
                    }
                } else if exclusive {
                    w.hand_over(&q.state);
                    return; // the lock is the waiter's now
                } else {
                    w.event.set(); // the waiter holds the width unit and returns it
                }
            }
        }
    }
    unlock(q);
}

/// Runs a `run_by_drainer` waiter's function on this thread, then releases the waiter.
fn run_waiter_here(w: &SyncWaiter) {
    // SAFETY: the waiter's caller keeps its queue alive while it waits.
    let current = unsafe { w.current.as_ref() };
    let call = || {
        // SAFETY: the client promised `func` may be called with `ctxt`.
        unsafe { (w.func)(w.ctxt) }
    };
    match current {
        Some(cur) if frames::current().is_none_or(|top| !core::ptr::eq(top, cur)) => {
            frames::with_frame(cur, call)
        }
        _ => call(),
    }
    w.event.set();
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
    let item = q.list.peek();
    if item.is_null() {
        return false;
    }
    // SAFETY: only the bound thread consumes this list.
    unsafe { q.list.pop(item) };
    // SAFETY: as in `drain_exclusive`.
    match unsafe { (*item).kind } {
        // SAFETY: the item is ours.
        ItemKind::Continuation => unsafe { run_continuation(item) },
        // SAFETY: a queue item is the `item` field of an enqueued queue.
        ItemKind::Queue => drain_queue(unsafe { queue_of_item(item) }),
        // SAFETY: waiters on a thread-bound queue are all `run_by_drainer`.
        ItemKind::SyncWaiter => run_waiter_here(unsafe { &*(item as *const SyncWaiter) }),
    }
    true
}
