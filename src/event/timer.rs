//! Arming the timer heaps (`heaps.rs`): `dispatch_after` and timer sources insert an
//! entry, and the event thread is started if needed and woken when the new entry is the
//! earliest of the uptime heap, or the wall timerfd re-armed when it is the earliest of the
//! wall heap.

use super::heaps::{lock, Action, Heaps, Timer};
use super::registry::TOKEN_WALL;
use super::target::{Target, TargetRef};
use super::thread::{event_thread, on_event_thread};
use crate::callback::ClientFn;
use crate::sys::{Clock, TimerFd};
use core::cmp::Reverse;
use std::collections::BinaryHeap;

/// Submits `work` to `q` at the absolute `deadline` on `clock`.
pub fn after(clock: Clock, deadline: u64, q: &(dyn Target + 'static), work: ClientFn) {
    insert(clock, deadline, Action::Submit { queue: TargetRef::retain(q), work });
}

/// Schedules the next fire of timer source `source` (generation `generation` of its
/// settings). Holds an internal reference on the source until it fires or is disarmed.
pub fn arm_source(clock: Clock, deadline: u64, source: &(dyn Target + 'static), generation: u64) {
    insert(clock, deadline, Action::Source { source: TargetRef::retain(source), generation });
}

/// Removes every scheduled fire of `source` (re-set or cancelled).
pub fn disarm_source(source: &(dyn Target + 'static)) {
    let mut removed = Vec::new();
    {
        let mut heaps = lock();
        let heaps = &mut *heaps;
        for heap in [&mut heaps.mono, &mut heaps.wall] {
            let (gone, kept): (Vec<_>, Vec<_>) = core::mem::take(heap).into_vec().into_iter().partition(
                |Reverse(t)| matches!(&t.action, Action::Source { source: s, .. } if s.is(source)),
            );
            *heap = BinaryHeap::from(kept);
            removed.extend(gone);
        }
        // The wait (or the wall timerfd) may now end early; an early wake-up finds
        // nothing due and waits again for the real minimum.
    }
    // The removed entries' references are dropped here, outside the lock.
    drop(removed);
}

/// The wall clock's timerfd, created on first use; `None` if no descriptor is free (the
/// next wall timer tries again).
fn wall_timerfd(heaps: &mut Heaps) -> Option<&TimerFd> {
    if heaps.wall_fd.is_none() {
        let fd = TimerFd::new(Clock::Realtime).ok()?;
        event_thread().epoll.add_readable(fd.fd(), TOKEN_WALL).ok()?;
        heaps.wall_fd = Some(fd);
    }
    heaps.wall_fd.as_ref()
}

fn insert(clock: Clock, deadline: u64, action: Action) {
    let et = event_thread();
    let mut heaps = lock();
    let heaps = &mut *heaps;
    heaps.seq += 1;
    let timer = Timer { deadline, seq: heaps.seq, action };
    let heap = match clock {
        Clock::Monotonic => &mut heaps.mono,
        Clock::Realtime => &mut heaps.wall,
    };
    let earliest = heap.peek().is_none_or(|Reverse(t)| deadline < t.deadline);
    heap.push(Reverse(timer));
    if !earliest {
        return;
    }
    if clock == Clock::Realtime {
        if let Some(fd) = wall_timerfd(heaps) {
            fd.arm(Some(deadline), true);
            return;
        }
    }
    // The event thread may be waiting with a longer timeout; it computes the next one
    // itself after each round.
    if !on_event_thread() {
        et.wake.signal();
    }
}
