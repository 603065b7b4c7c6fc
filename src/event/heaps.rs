//! Timer heaps, one per clock, serviced by the event thread (`dispatch_after` and timer
//! sources): the entries, and what the event thread does with them. Arming an entry
//! (`timer.rs`) starts and wakes the event thread, so it sits above it.
//!
//! *Soft and hard deadlines.* Every entry has a window: its deadline (the earliest it may
//! fire) and its hard deadline, the deadline plus the timer's leeway (the latest it should
//! fire; `dispatch_after` has no leeway). Each clock keeps its entries in two binary heaps,
//! ordered by deadline and by hard deadline (the two heaps of the reference's timer code;
//! `timer_heap.rs`), with an insertion sequence number breaking ties, so timers with equal
//! deadlines fire in the order they were set, and an entry can be removed by its key in
//! O(log n). The event thread wakes at the earliest *hard* deadline, the latest instant
//! that still lies in the window of every entry due by then, and fires every entry whose
//! deadline has passed: timers with leeway are batched into shared wake-ups, no entry fires
//! before its deadline, and none after its hard deadline but for the wake-up's own latency.
//! An entry without leeway has a one-instant window, so it alone decides the wake-up. After
//! firing, the thread looks again before it sleeps: entries that fell due meanwhile fire in
//! the same wake-up.
//!
//! The uptime clock's earliest hard deadline is the event thread's wait timeout
//! ([`fire_due`] returns it); a new earliest one inserted by another thread wakes the event
//! thread to shorten its wait. The wall clock's arms a timerfd created on the first wall
//! timer (re-armed under the heap lock, so the armed value always matches the heap), or, if
//! no descriptor was free for it, joins the timeout too (capped at a second, see the module
//! doc of `event`).

use super::target::TargetRef;
use super::timer_heap::{Handle, TimerHeap};
use crate::callback::ClientFn;
use crate::sys::{self, Clock, TimerFd};
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
    pub(super) action: Action,
}

/// Names one armed entry, for [`Heaps::remove`] (a timer source keeps the key of its live
/// entry so re-setting or cancelling it removes that entry without a scan).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerKey {
    pub(super) clock: Clock,
    pub(super) handle: Handle,
}

/// One clock's entries, ordered by deadline and by hard deadline (see the module doc).
pub(super) struct ClockTimers {
    heap: TimerHeap<Timer>,
}

impl ClockTimers {
    const fn new() -> ClockTimers {
        ClockTimers { heap: TimerHeap::new() }
    }

    /// When the event thread must next be awake for this clock: the earliest hard deadline.
    pub(super) fn wake_at(&self) -> Option<u64> {
        self.heap.min_hard()
    }

    /// Adds an entry due at `deadline`, for which the event thread must be awake by `hard`
    /// (the deadline plus the leeway).
    pub(super) fn insert(&mut self, deadline: u64, hard: u64, seq: u64, timer: Timer) -> Handle {
        self.heap.insert(deadline, hard, seq, timer)
    }

    fn remove(&mut self, handle: Handle) -> Option<Timer> {
        self.heap.remove(handle)
    }

    /// Moves every entry whose deadline is at or before `now` to `due`, earliest first.
    fn pop_due(&mut self, now: u64, due: &mut Vec<(u64, Timer)>) {
        while let Some(entry) = self.heap.pop_due(now) {
            due.push(entry);
        }
    }

    fn forget(&mut self) {
        self.heap.forget();
    }
}

pub(super) struct Heaps {
    pub(super) mono: ClockTimers,
    pub(super) wall: ClockTimers,
    pub(super) seq: u64,
    /// The wall clock's timerfd, created (and put in epoll) by the first wall timer.
    pub(super) wall_fd: Option<TimerFd>,
    /// What `wall_fd` is armed for, so it is re-armed only when that changes.
    pub(super) wall_armed: Option<u64>,
}

impl Heaps {
    pub(super) fn clock(&mut self, clock: Clock) -> &mut ClockTimers {
        match clock {
            Clock::Monotonic => &mut self.mono,
            Clock::Realtime => &mut self.wall,
        }
    }

    /// Removes the entry `key` names, if it has not been popped yet.
    pub(super) fn remove(&mut self, key: TimerKey) -> Option<Timer> {
        self.clock(key.clock).remove(key.handle)
    }

    /// Arms the wall timerfd (if there is one) for the wall clock's earliest hard deadline.
    pub(super) fn rearm_wall_fd(&mut self) {
        let want = self.wall.wake_at();
        if let (Some(fd), true) = (&self.wall_fd, want != self.wall_armed) {
            fd.arm(want, true);
            self.wall_armed = want;
        }
    }
}

static HEAPS: Mutex<Heaps> = Mutex::new(Heaps {
    mono: ClockTimers::new(),
    wall: ClockTimers::new(),
    seq: 0,
    wall_fd: None,
    wall_armed: None,
});

/// How long the event thread waits at most while wall timers are due and no timerfd
/// watches the wall clock: the delay before it notices that the clock was set.
const WALL_POLL_NS: u64 = 1_000_000_000;

pub(super) fn lock() -> std::sync::MutexGuard<'static, Heaps> {
    HEAPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Consumes the wall timerfd's expiration (or clock-set cancellation). The timerfd is
/// disarmed now, so it is re-armed by the next [`fire_due`].
pub(super) fn drain_wall_timerfd() {
    let mut heaps = lock();
    if let Some(fd) = &heaps.wall_fd {
        fd.drain();
        heaps.wall_armed = None;
    }
}

/// Fires every due timer, looking again until none is due; returns how long the event
/// thread may wait for the next wake-up (`None`: no uptime timer, and wall timers, if any,
/// have their timerfd). `due` is the caller's scratch list (empty on entry and return).
pub(super) fn fire_due(due: &mut Vec<(u64, Timer)>) -> Option<u64> {
    loop {
        {
            let mut heaps = lock();
            let heaps = &mut *heaps;
            let mono_now = sys::now_ns(Clock::Monotonic);
            heaps.mono.pop_due(mono_now, due);
            if heaps.wall.wake_at().is_some() {
                heaps.wall.pop_due(sys::now_ns(Clock::Realtime), due);
            }
            heaps.rearm_wall_fd();
            if due.is_empty() {
                // Nothing due: every hard deadline lies ahead (a passed one would have
                // made its entry due), so the wait below is never zero for nothing.
                let mono = heaps.mono.wake_at().map(|at| at.saturating_sub(mono_now));
                let wall = match heaps.wall_fd {
                    Some(_) => None,
                    None => heaps
                        .wall
                        .wake_at()
                        .map(|at| at.saturating_sub(sys::now_ns(Clock::Realtime)).min(WALL_POLL_NS)),
                };
                return match (mono, wall) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        for (deadline, t) in due.drain(..) {
            // Each arm's reference is dropped after its call.
            match t.action {
                Action::Submit { queue, work } => queue.submit(work),
                Action::Source { source, generation } => source.timer_fired(generation, deadline),
            }
        }
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
        self.0.mono.forget();
        self.0.wall.forget();
        // The wall timerfd is an open file shared with the parent; the child's first wall
        // timer creates its own (closing this copy leaves the parent's untouched).
        self.0.wall_fd = None;
        self.0.wall_armed = None;
    }
}
