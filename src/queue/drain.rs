//! How work reaches a queue and how it runs: pushing items ([`async_f`], [`push_item`],
//! [`enqueue_on_target`]) and draining them ([`run_pool_item`], [`drain_queue`]).
//!
//! The two halves call each other, which is why they share a file: a drain puts its queue
//! back on its target when items remain, and a push onto a root queue hands the pool the
//! drain as the runner of the item ([`run_pool_item`]).
//!
//! Work reaches a custom queue by [`push_item`]: the item goes on the queue's MPSC list
//! and, if the list was empty, the state word decides (see `state.rs`) whether the queue
//! itself must now be put on its target — as an item on the target's list, so a queue with
//! pending work sits on its target exactly once. Draining happens at the bottom of the
//! chain, on a pool worker.
//!
//! A worker pops an item from a root list and runs it with [`run_pool_item`]. When the
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
//! so one busy queue cannot starve the others sharing its target. An exclusive drain of a
//! queue that sits directly on a root queue goes on with another batch when no item waits
//! on any root list (`pool::items_waiting`): handing the queue back would only make
//! another worker take it (a searching one) or start one, so that a queue fed by one
//! producer hopped between two workers every 128 items, and the idle one spun next to
//! the producer and the drainer on two CPUs.
//!
//! [`QueueState::start_drain`]: super::state::QueueState::start_drain

use super::continuation::{Continuation, ContinuationBox};
use super::item::Item;
use super::object::{Flavor, Queue};
use super::root::ROOT_QUEUES;
use super::state::{BarrierStart, Wake};
use super::taken::{Drain, OwnedItem, Peeked, Taken};
use super::{forked, frames, main_queue, runloop, workloop};
use crate::callback::ClientFn;
use crate::object::Ref;
use crate::sys;

/// Items one drain runs before yielding the target to others.
const DRAIN_BATCH: usize = 128;

/// Runs an item a worker took from root queue `root`: the items [`run_pool_item`] does not
/// run itself (a queue, a redirected item holding a width unit). Out of line, so that the
/// common item's path keeps only what it needs in registers.
#[inline(never)]
fn run_root_item(root: &Queue, item: Taken) {
    match item {
        Taken::Continuation(mut c) => match c.width_of.take() {
            Some(q) => {
                frames::with_frame(&q, || Continuation::run_boxed(c));
                release_width_chain(&q);
                // Dropping `q` releases the reference taken when the item was redirected.
            }
            None => run_root_continuation(root, c),
        },
        Taken::Queue(q) => drain_queue(q),
        Taken::Waiter(_) => sys::abort_with_message("dispatch internal error: sync waiter on a root queue"),
    }
}

/// Returns a width unit of `q` and wakes it if items (a barrier, or width-blocked items)
/// are waiting. Out of line: inlined into `dispatch_sync_f`'s slow path, its CAS loop took
/// callee-saved registers that the fast path then saved and restored on every call.
#[inline(never)]
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

/// [`stopped_by_suspension`] for the item loop of one drain of `q`: the levels below `q`
/// are walked only when `q` does not sit directly on a root (the common case then costs
/// one load of `q`'s state word per item). The queue was enqueued on the target it had
/// when the drain started; a retarget during the drain takes effect at the next one.
struct SuspensionCheck<'q> {
    queue: &'q Queue,
    /// The first level below `queue` when it is not a root.
    below: Option<&'q Queue>,
}

impl<'q> SuspensionCheck<'q> {
    fn new(queue: &'q Queue) -> SuspensionCheck<'q> {
        SuspensionCheck { queue, below: queue.target().filter(|t| !t.is_root()) }
    }

    #[inline]
    fn stopped(&self) -> bool {
        self.queue.state.snapshot().is_suspended_or_inactive()
            || self.below.is_some_and(stopped_by_suspension)
    }
}

/// Drains `q`, which this thread just took off its target (with the internal reference
/// the enqueue took, dropped at the end).
pub fn drain_queue(q: Ref<Queue>) {
    let tid = frames::thread_id();
    let parallel = drains_in_parallel(&q);
    if let Some(d) = Drain::start(&q, tid, !parallel) {
        frames::with_frame(&q, || if parallel { drain_parallel(d, tid) } else { drain_exclusive(d) });
    }
}

fn drain_exclusive(d: Drain<'_>) {
    let q = d.queue();
    let suspension = SuspensionCheck::new(q);
    let drained_from = q.target().map(|t| t as *const Queue);
    'drain: loop {
        for _ in 0..DRAIN_BATCH {
            if suspension.stopped() {
                break 'drain;
            }
            let Some(item) = workloop::take_next(&d) else { break 'drain };
            match item {
                Taken::Continuation(c) => Continuation::run_boxed(c),
                Taken::Queue(child) => drain_queue(child),
                Taken::Waiter(w) => {
                    if w.get().run_by_drainer {
                        w.run_here();
                    } else {
                        w.hand_over(&q.state);
                        return; // the lock is the waiter's now
                    }
                }
            }
        }
        if !keeps_worker(&suspension, drained_from) {
            break;
        }
    }
    unlock(q);
}

/// After a whole batch of an exclusive drain: whether to run another batch rather than
/// put the queue back on its target (see the module doc). Only for a queue directly on a
/// root queue (below a custom queue, the items sharing the target wait on that queue's
/// list, not on a root's), and only while it still targets the root it was drained from:
/// a retarget takes effect at the next drain.
fn keeps_worker(suspension: &SuspensionCheck<'_>, drained_from: Option<*const Queue>) -> bool {
    suspension.below.is_none()
        && suspension.queue.target().is_some_and(|t| t.is_root() && drained_from == Some(t as *const Queue))
        && !crate::pool::items_waiting()
}

fn drain_parallel(d: Drain<'_>, tid: u32) {
    let q = d.queue();
    let suspension = SuspensionCheck::new(q);
    for _ in 0..DRAIN_BATCH {
        if suspension.stopped() {
            break;
        }
        let exclusive = match d.peek() {
            None => break,
            Some(Peeked::Continuation { barrier }) => barrier,
            Some(Peeked::Waiter(w)) => w.exclusive,
            Some(Peeked::Queue) => false,
        };
        if exclusive {
            if q.state.start_barrier(tid) == BarrierStart::Pending {
                return; // the last width release re-wakes the queue
            }
        } else if !q.state.reserve_drain_width() {
            break; // width exhausted: a release re-wakes the queue
        }
        let target = || q.target().expect("parallel queues have a target");
        match d.pop().expect("the head we peeked") {
            Taken::Continuation(c) if exclusive => {
                Continuation::run_boxed(c);
                q.state.end_barrier();
            }
            Taken::Continuation(mut c) => {
                // One sent down from a queue above already holds a reference on that
                // queue, which keeps this level alive (a queue holds its target); it now
                // holds this level's width unit too.
                if c.width_of.is_none() {
                    c.width_of = Some(Ref::retain(q));
                }
                submit(target(), c);
            }
            Taken::Queue(child) => {
                let mut c = Continuation::from_closure(Box::new(move || drain_queue(child)));
                c.width_of = Some(Ref::retain(q));
                submit(target(), c);
            }
            Taken::Waiter(w) => {
                if w.get().run_by_drainer {
                    w.run_here();
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
                    w.wake(); // the waiter holds the width unit and returns it
                }
            }
        }
    }
    unlock(q);
}

/// Puts `q`, whose state just gained `ENQUEUED`, on its target.
#[inline(never)]
pub fn enqueue_on_target(q: &Queue) {
    let target = q.target().expect("a custom queue always has a target");
    // SAFETY: a queue is on at most one list at a time: only the transition that sets
    // `ENQUEUED` (which our caller just made) enqueues it, and only its drainer clears it,
    // after popping it. The reference travels with the item (`taken::Taken::from_item`).
    push_item(target, unsafe { OwnedItem::queue(Ref::retain(q)) });
}

/// Appends an item to `q` and makes sure someone will run it.
#[inline]
pub(crate) fn push_item(q: &Queue, item: OwnedItem) {
    let item = item.into_raw();
    let Flavor::Root(index) = q.flavor else {
        // SAFETY: an `OwnedItem` is valid and on no list until the consumer pops it.
        let was_empty = unsafe { q.list.push(item.as_ptr()) };
        return pushed(q, was_empty);
    };
    crate::pool::push(index as usize, item.as_ptr(), run_pool_item);
}

/// After a push onto a non-root queue: whoever made the list non-empty wakes the queue.
#[inline]
fn pushed(q: &Queue, was_empty: bool) {
    if q.flavor != Flavor::Custom {
        return pushed_thread_bound(q, was_empty);
    }
    if was_empty && q.state.wakeup() == Wake::Enqueue {
        enqueue_on_target(q);
    } else {
        // Not the fast path (the queue had items or a drainer): in a forked child, a
        // drainer that stayed in the parent would strand the item.
        forked::check_usable(q);
    }
}

/// [`pushed`] for the main queue and run-loop queues (out of line: custom queues are the
/// hot case, and these wakes make calls).
#[cold]
#[inline(never)]
fn pushed_thread_bound(q: &Queue, was_empty: bool) {
    if !was_empty {
        return;
    }
    match q.flavor {
        Flavor::Main => main_queue::wake(),
        Flavor::RunLoop => runloop::wake(q),
        Flavor::Root(_) | Flavor::Custom => unreachable!("only thread-bound queues get here"),
    }
}

/// `dispatch_async_f` and friends.
///
/// Items hold no reference on their queue: a queue with items is always enqueued (the
/// enqueue holds one), draining (the drainer holds one) or held by a sync caller (who holds
/// the client's), so it cannot go away under them.
#[inline]
pub fn submit(q: &Queue, c: ContinuationBox) {
    push_item(q, OwnedItem::continuation(c))
}

/// `dispatch_async_f`.
pub fn async_f(q: &Queue, work: ClientFn) {
    submit(q, Continuation::boxed(work, false));
}

/// Runs an item popped from the pool's run list `index` (the runner the queue layer hands
/// the pool, see [`push_item`]).
///
/// # Safety
/// `item` was pushed to run list `index` and is owned by the caller.
pub unsafe fn run_pool_item(index: usize, item: *mut Item) {
    let item = core::ptr::NonNull::new(item).expect("the pool runs non-null items");
    // SAFETY: every item on a root's run list was an `OwnedItem` (a typed push) that
    // `queue::push_item` handed to the pool, and is now ours (forwarded contract).
    let taken = unsafe { Taken::from_item(item) };
    match taken {
        // The common item (`dispatch_async` to a global queue) gets a function of its own,
        // which keeps only the frame across the client's call: the rest of
        // `run_root_item`, inlined here, had every callee-saved register pushed and popped
        // around every item.
        Taken::Continuation(c) if c.width_of.is_none() => run_root_continuation(&ROOT_QUEUES[index], c),
        taken => run_root_item(&ROOT_QUEUES[index], taken),
    }
}

/// A continuation of root queue `root` that holds no width unit.
#[inline(always)]
fn run_root_continuation(root: &Queue, c: ContinuationBox) {
    frames::with_frame(root, || Continuation::run_boxed(c))
}
