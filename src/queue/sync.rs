//! `dispatch_sync` and `dispatch_async_and_wait`: running a function on a queue from the
//! calling thread.
//!
//! The caller acquires every level of the target hierarchy from the queue down to the
//! root — exclusively for serial levels (one CAS from idle to `IN_BARRIER | tid`) and by a
//! width unit for concurrent ones — runs the function on its own thread, and releases the
//! levels in reverse (one CAS each, or the slow unlock when items arrived meanwhile).
//!
//! The common case, a queue directly on a root queue and idle, is [`try_sync_idle`]:
//! inlined into the C entry points, one CAS each way, the frame pushed through the
//! initial-exec thread-local of `sys::tls`, no deadlock walk (see there why none is
//! needed), about 45 instructions from the C call to its return.
//!
//! When a level is busy, the caller first polls it for a while ([`spin_for_exclusive`]:
//! queued waiters under steady contention form a convoy that pays a wake-up per call),
//! then pushes a [`SyncWaiter`] onto it and parks on the waiter's futex event. The drainer that reaches the waiter hands the level to the
//! caller's thread and wakes it, so the function still runs on the caller's thread and no
//! thread is created. Two exceptions run the function on the draining thread instead: a
//! thread-bound level (the main queue; its functions run on the main thread) and
//! `dispatch_async_and_wait` onto a queue that already has a drainer.
//!
//! Syncing onto a level this thread already holds exclusively can never complete; it is
//! reported as a client bug instead of hanging.

use super::continuation::SyncWaiter;
use super::drain::{drains_in_parallel, push_item, release_width, unlock};
use super::object::{Flavor, Queue};
use super::taken::OwnedItem;
use super::taken::{Drain, Peeked, Taken};
use super::{frames, main_queue};
use crate::callback::ClientFn;
use crate::sys;

/// Whether work on `q` (reached from above) must hold it exclusively.
fn level_needs_exclusive(q: &Queue) -> bool {
    !drains_in_parallel(q)
}

/// Runs `work` on `q` and returns when it has run.
///
/// `barrier`: `dispatch_barrier_sync`. `and_wait`: `dispatch_async_and_wait` semantics
/// (run by the queue's drainer when it has one).
#[inline(always)]
pub fn sync_f(q: &Queue, work: ClientFn, barrier: bool, and_wait: bool) {
    // The fast path calls the pair straight from registers; only the slow path needs the
    // function as a `&dyn` (on the stack, reachable by a drainer through a waiter).
    if !try_sync_idle(q, barrier, move || work.call()) {
        sync_slow(q, &move || work.call(), barrier, and_wait);
    }
}

/// [`sync_f`] for any function: `f` is called once, on this thread or (thread-bound
/// levels, `and_wait` onto a busy queue) by the drainer, which reaches it through the
/// waiter on this stack; hence `Sync`, and borrowed for the call.
///
/// The fast path inlines into the caller; everything else is [`sync_slow`].
#[inline(always)]
pub fn sync_run<F: Fn() + Sync>(q: &Queue, f: &F, barrier: bool, and_wait: bool) {
    if !try_sync_idle(q, barrier, f) {
        sync_slow(q, f, barrier, and_wait);
    }
}

/// The fast path: a custom queue right above a root queue, idle (serial: no owner;
/// concurrent: nothing queued, draining or pending, a width unit to spare), on a thread
/// whose id is cached. One CAS, a frame push, the call, a frame pop, one CAS back (or the
/// full release if items arrived meanwhile). Returns `false`, having done nothing, when any
/// of that does not hold.
///
/// No deadlock check is needed: if the acquiring CAS succeeds, this thread cannot already
/// hold `q` in a way that conflicts (holding it exclusively means owning its state word,
/// which makes the CAS fail; holding its only width unit leaves none to reserve).
///
/// No flavor check either: only custom queues have a target (root, main and run-loop
/// queues have none), and a thread-bound queue's word is permanently owned, which fails
/// both CASs anyway.
#[inline(always)]
fn try_sync_idle(q: &Queue, barrier: bool, f: impl FnOnce()) -> bool {
    if !q.target().is_some_and(Queue::is_root) {
        return false;
    }
    let me = frames::this_thread();
    let tid = me.cached_tid();
    if tid == 0 {
        return false; // first sync of this thread: the slow path caches the id
    }
    // One level above a root: exclusive exactly when serial (see `drains_in_parallel`).
    if barrier || q.is_serial() {
        if !q.state.try_lock_exclusive(tid) {
            return false;
        }
        let q = me.run_in_frame(q, f);
        if !q.state.try_unlock_exclusive(tid) {
            // Items arrived meanwhile. The id is read back from the word (its owner while
            // this thread holds the queue) so that only the CAS value is kept across the
            // call in a callee-saved register.
            release_exclusive(q, q.state.snapshot().owner());
        }
    } else {
        if !q.state.try_reserve_width() {
            return false;
        }
        let q = me.run_in_frame(q, f);
        if !q.state.try_release_width() {
            release_width(q); // at the limit, or a barrier is pending: the full release
        }
    }
    true
}

/// Everything the fast path leaves: deep hierarchies, busy queues (park and be handed the
/// queue), thread-bound queues, root queues, the first sync of a thread.
#[inline(never)]
fn sync_slow(q: &Queue, f: &(dyn Fn() + Sync), barrier: bool, and_wait: bool) {
    if q.is_root() {
        frames::with_frame(q, f);
        return;
    }
    let exclusive = barrier || level_needs_exclusive(q);
    let tid = frames::thread_id();
    check_deadlock(q, exclusive, tid);
    run_at_level(q, q, exclusive, and_wait, tid, f, f);
}

fn check_deadlock(q: &Queue, exclusive: bool, tid: u32) {
    if waits_for_itself(q, exclusive, tid) {
        deadlock();
    }
}

/// Whether the calling thread waiting for work on `q` (needing it exclusively when
/// `exclusive`) would wait for itself: it holds, through its current queues, a level of
/// `q`'s target chain that the work needs.
fn waits_for_itself(q: &Queue, exclusive: bool, tid: u32) -> bool {
    // A thread that runs on behalf of no queue holds none (the main queue aside).
    let holds_none = frames::is_empty();
    let mut level = Some(q);
    let mut exclusive = exclusive;
    while let Some(l) = level {
        match l.flavor {
            Flavor::Root(_) => return false,
            Flavor::Main => return main_queue::on_main_thread(),
            // The run loop's own thread would wait for itself.
            Flavor::RunLoop => return frames::holds(l),
            Flavor::Custom => {}
        }
        if !holds_none && frames::holds(l) {
            let held_exclusively = l.state.snapshot().held_exclusively_by(tid);
            // A concurrent level narrowed to width 1 has no unit to spare for us: the one
            // in use is ours (dispatch_queue_set_width).
            let no_spare_width = l.state.width_limit() == 1;
            if exclusive || held_exclusively || no_spare_width {
                return true;
            }
        }
        level = l.target();
        exclusive = level.is_some_and(level_needs_exclusive);
    }
    false
}

/// Whether waiting on this thread for an item of serial queue `q` to run would never end.
pub fn waiting_would_deadlock(q: &Queue) -> bool {
    waits_for_itself(q, true, frames::thread_id())
}

fn deadlock() -> ! {
    sys::abort_with_message(
        "BUG IN CLIENT OF LIBDISPATCH: dispatch_sync called on queue already owned by current thread",
    )
}

/// Acquires `level` (then, recursively, the levels below it), runs the function with
/// `current` as the current queue, and releases.
fn run_at_level(
    current: &Queue,
    level: &Queue,
    exclusive: bool,
    and_wait: bool,
    tid: u32,
    work: &(dyn Fn() + Sync),
    call: impl FnOnce(),
) {
    match level.flavor {
        Flavor::Root(_) => {
            frames::with_frame(current, call);
            return;
        }
        Flavor::Main | Flavor::RunLoop => {
            let w = SyncWaiter::new(true, true, work, current, tid);
            park(level, &w);
            return;
        }
        Flavor::Custom => {}
    }
    let acquired = if exclusive {
        level.state.try_lock_exclusive(tid) || spin_for_exclusive(level, tid)
    } else {
        level.state.try_reserve_width()
    };
    if !acquired {
        let run_by_drainer = and_wait && core::ptr::eq(current, level);
        let w = SyncWaiter::new(exclusive, run_by_drainer, work, current, tid);
        park(level, &w);
        if run_by_drainer {
            return; // the drainer ran the function and released its hold
        }
    }
    let below = level.target().expect("a custom queue always has a target");
    run_at_level(current, below, level_needs_exclusive(below), false, tid, work, call);
    if exclusive {
        release_exclusive(level, tid);
    } else {
        release_width(level);
    }
}

/// How long a contended exclusive sync polls the word before queueing a waiter: first
/// `SYNC_SPINS` polls after exponentially growing runs of `pause` (1, 2, 4 ... 64: the owner
/// runs on another CPU and is about to release), then `SYNC_YIELDS` polls each after giving
/// up the CPU (more threads than CPUs: the owner, or the waiter it handed the level to, may
/// be waiting for ours). The schedule is crossbeam's `Backoff` (spin limit 6).
const SYNC_SPINS: u32 = 7;
const SYNC_YIELDS: u32 = 16;

/// Contended exclusive `dispatch_sync`: before queueing a waiter, poll the word for a while
/// and take the level with the fast CAS when it comes free.
///
/// Why: a queued waiter must be handed the level and woken by whoever releases it, a futex
/// wake and a context switch per operation; and while one waiter is queued, every caller
/// arriving finds the word busy and queues too, so under steady contention the callers
/// form a convoy that pays a wake-up for every call (about 5 µs per call with 8 threads on
/// 2 CPUs, against 8 ns with 2 threads). A poller that gets the level leaves the list
/// empty, so the next release is the fast CAS again, and a convoy drains instead of
/// growing. Polling never overtakes a queued item: the word is idle only when the list is
/// empty (an unlock with items left converts the lock into `ENQUEUED`), so FIFO order with
/// async work is kept. It stops early on a suspended or inactive queue, which no release
/// makes idle.
///
/// Why the growing gaps between polls: every poll pulls the word's cache line away from
/// the owner, whose next CAS then waits for it back. Polling after every `pause` (64 polls
/// in 64 `pause`s) cost the owner a line transfer per call: 8 threads on 2 CPUs
/// ran at 22-34 ns per call; with the gaps growing, 13-15 ns (`bench fig_sync_contended`,
/// A/B through `LD_LIBRARY_PATH`), for a total spin of 127 `pause`s (about 3 µs here).
#[cold]
fn spin_for_exclusive(level: &Queue, tid: u32) -> bool {
    for i in 0..SYNC_SPINS + SYNC_YIELDS {
        if i < SYNC_SPINS {
            for _ in 0..1u32 << i {
                core::hint::spin_loop();
            }
        } else {
            sys::yield_now();
        }
        let s = level.state.snapshot();
        if s.is_idle() {
            if level.state.try_lock_exclusive(tid) {
                return true;
            }
        } else if s.is_suspended_or_inactive() {
            return false;
        }
    }
    false
}

/// Gives up an exclusively held level. If the next item is another caller waiting to hold
/// it exclusively, the lock goes straight to that caller's thread (the workloop hand-off,
/// done by the releasing caller): contended `dispatch_sync` never needs a worker thread.
fn release_exclusive(level: &Queue, tid: u32) {
    if level.workloop().is_some() {
        unlock(level); // its drainer picks the next item by QoS, waiters included
        return;
    }
    // This thread holds `level` exclusively (it took the lock, or a drainer or releasing
    // caller handed it over), which makes it the list's consumer until it unlocks or hands
    // the lock over below.
    let d = Drain::held(level, tid).expect("a sync caller releases a level it holds");
    if let Some(Peeked::Waiter(w)) = d.peek() {
        if w.exclusive && !w.run_by_drainer && !level.state.snapshot().is_suspended_or_inactive() {
            if let Some(Taken::Waiter(w)) = d.pop() {
                w.hand_over(&level.state);
            }
            return;
        }
    }
    unlock(level);
}

/// Pushes the waiter and sleeps until a drainer hands the level over (or ran the function).
fn park(level: &Queue, w: &SyncWaiter<'_>) {
    // SAFETY: a waiter, on no list; it stays on this stack frame until its event is set,
    // which is the consumer's last use of it, and we wait for that below.
    push_item(level, unsafe { OwnedItem::waiter(w) });
    w.event.wait();
}
