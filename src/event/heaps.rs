//! Timer heaps, one per clock, serviced by the event thread (`dispatch_after` and timer
//! sources): the entries, and what the event thread does with them. Arming an entry
//! (`timer.rs`) starts and wakes the event thread, so it sits above it.
//!
//! Each heap is a binary min-heap on the deadline (ties broken by insertion order, so
//! timers with equal deadlines fire in the order they were set). The uptime heap's minimum
//! is the event thread's wait timeout ([`fire_due`] returns it); a new minimum inserted by
//! another thread wakes the event thread to shorten its wait. The wall-clock heap's minimum
//! arms a timerfd created on the first wall timer (re-armed under the heap lock, so the
//! armed value always matches the heap), or, if no descriptor was free for it, joins the
//! timeout too (capped at a second, see the module doc of `event`).

use super::target::TargetRef;
use crate::callback::ClientFn;
use crate::sys::{self, Clock, TimerFd};
use core::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

/// What a timer does when it is due. Each holds a reference on its queue or source until
/// it fires or is disarmed.
pub(super) enum Action {
    /// `dispatch_after`: submit `work` to the queue.
    Submit { queue: TargetRef, work: ClientFn },
    /// A timer source's next fire; stale when the source's generation moved on.
    Source { source: TargetRef, generation: u64 },
}

pub(super) struct Timer {
    pub(super) deadline: u64,
    pub(super) seq: u64,
    pub(super) action: Action,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

pub(super) struct Heaps {
    pub(super) mono: BinaryHeap<Reverse<Timer>>,
    pub(super) wall: BinaryHeap<Reverse<Timer>>,
    pub(super) seq: u64,
    /// The wall clock's timerfd, created (and put in epoll) by the first wall timer.
    pub(super) wall_fd: Option<TimerFd>,
}

static HEAPS: Mutex<Heaps> =
    Mutex::new(Heaps { mono: BinaryHeap::new(), wall: BinaryHeap::new(), seq: 0, wall_fd: None });

/// How long the event thread waits at most while wall timers are due and no timerfd
/// watches the wall clock: the delay before it notices that the clock was set.
const WALL_POLL_NS: u64 = 1_000_000_000;

pub(super) fn lock() -> std::sync::MutexGuard<'static, Heaps> {
    HEAPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Consumes the wall timerfd's expiration (or clock-set cancellation).
pub(super) fn drain_wall_timerfd() {
    if let Some(fd) = &lock().wall_fd {
        fd.drain();
    }
}

/// Fires every due timer; returns how long the event thread may wait for the next one
/// (`None`: no uptime timer, and wall timers, if any, have their timerfd).
pub(super) fn fire_due() -> Option<u64> {
    let mut due = Vec::new();
    {
        let mut heaps = lock();
        let heaps = &mut *heaps;
        for (heap, clock) in [(&mut heaps.mono, Clock::Monotonic), (&mut heaps.wall, Clock::Realtime)] {
            let now = sys::now_ns(clock);
            while heap.peek().is_some_and(|Reverse(t)| t.deadline <= now) {
                due.push(heap.pop().expect("peeked").0);
            }
        }
        if let Some(fd) = &heaps.wall_fd {
            fd.arm(heaps.wall.peek().map(|Reverse(t)| t.deadline), true);
        }
    }
    for t in due {
        // Each arm's reference is dropped after its call.
        match t.action {
            Action::Submit { queue, work } => queue.submit(work),
            Action::Source { source, generation } => source.timer_fired(generation, t.deadline),
        }
    }
    // Computed after the actions ran: a repeating timer re-armed above is in the heap.
    let heaps = lock();
    let until = |heap: &BinaryHeap<Reverse<Timer>>, clock| {
        heap.peek().map(|Reverse(t)| t.deadline.saturating_sub(sys::now_ns(clock)))
    };
    let mono = until(&heaps.mono, Clock::Monotonic);
    let wall = match heaps.wall_fd {
        Some(_) => None,
        None => until(&heaps.wall, Clock::Realtime).map(|ns| ns.min(WALL_POLL_NS)),
    };
    match (mono, wall) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The heaps' lock, held across `fork` (see `crate::fork`).
pub(crate) struct ForkHeld(std::sync::MutexGuard<'static, Heaps>);

pub(crate) fn lock_for_fork() -> ForkHeld {
    ForkHeld(lock())
}

impl ForkHeld {
    /// `fork` child: the parent's timers (`dispatch_after` and timer sources) never fire
    /// in the child. Their entries are dropped without running anything; the references
    /// and contexts they held are leaked rather than released, so no client code (a
    /// finalizer, a block's destructor) runs because of them.
    pub(crate) fn forget_all(&mut self) {
        // Forgotten, not dropped: dropping would release the references.
        core::mem::forget(core::mem::take(&mut self.0.mono));
        core::mem::forget(core::mem::take(&mut self.0.wall));
        // The wall timerfd is an open file shared with the parent; the child's first wall
        // timer creates its own (closing this copy leaves the parent's untouched).
        self.0.wall_fd = None;
    }
}
