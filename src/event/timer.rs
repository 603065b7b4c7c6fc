//! Arming the timer heaps (`heaps.rs`): `dispatch_after` and timer sources insert an
//! entry, and the event thread is started if needed and woken when the new entry's hard
//! deadline is the earliest of the uptime heap, or the wall timerfd re-armed when it is the
//! earliest of the wall heap. A timer source keeps the [`TimerKey`] of its entry, so
//! re-setting or cancelling it removes that entry in O(log n).

use super::heaps::{lock, Action, Heaps, Timer};
use super::registry::TOKEN_WALL;
use super::target::{Target, TargetRef};
use super::thread::{event_thread, on_event_thread};
use crate::callback::ClientFn;
use crate::sys::{Clock, TimerFd};

pub use super::heaps::TimerKey;

/// Submits `work` to `q` at the absolute `deadline` on `clock` (no leeway: `dispatch_after`
/// fires as close to its deadline as the event thread can).
pub fn after(clock: Clock, deadline: u64, q: &(dyn Target + 'static), work: ClientFn) {
    insert(clock, deadline, deadline, Action::Submit { queue: TargetRef::retain(q), work });
}

/// Schedules the next fire of timer source `source` (generation `generation` of its
/// settings) at `deadline`, or up to `leeway` ns later if that lets the event thread batch
/// it with other timers. Holds an internal reference on the source until it fires or is
/// disarmed; the key names the entry for [`disarm_source`].
pub fn arm_source(
    clock: Clock,
    deadline: u64,
    leeway: u64,
    source: &(dyn Target + 'static),
    generation: u64,
) -> TimerKey {
    let hard = deadline.saturating_add(leeway);
    insert(clock, deadline, hard, Action::Source { source: TargetRef::retain(source), generation })
}

/// Removes the scheduled fire `key` names (its source was re-set or cancelled), unless the
/// event thread popped it already (it then finds the source's generation moved on).
pub fn disarm_source(key: TimerKey) {
    // The wait (or the wall timerfd) may now end early; an early wake-up finds nothing due
    // and waits again for the real minimum.
    let removed = lock().remove(key);
    // The entry's reference is dropped here, outside the lock.
    drop(removed);
}

/// The wall clock's timerfd, created on first use; `None` if no descriptor is free (the
/// next wall timer tries again).
fn wall_timerfd(heaps: &mut Heaps) -> Option<&TimerFd> {
    if heaps.wall_fd.is_none() {
        let fd = TimerFd::new(Clock::Realtime).ok()?;
        event_thread().epoll.add_readable(fd.fd(), TOKEN_WALL).ok()?;
        heaps.wall_fd = Some(fd);
        heaps.wall_armed = None;
    }
    heaps.wall_fd.as_ref()
}

fn insert(clock: Clock, deadline: u64, hard: u64, action: Action) -> TimerKey {
    let et = event_thread();
    let mut heaps = lock();
    let heaps = &mut *heaps;
    heaps.seq += 1;
    let seq = heaps.seq;
    let timers = heaps.clock(clock);
    let earliest = timers.wake_at().is_none_or(|at| hard < at);
    let key = TimerKey { clock, handle: timers.insert(deadline, hard, seq, Timer { action }) };
    if !earliest {
        return key;
    }
    if clock == Clock::Realtime && wall_timerfd(heaps).is_some() {
        heaps.rearm_wall_fd();
        return key;
    }
    // The event thread may be waiting with a longer timeout; it computes the next one
    // itself after each round.
    if !on_event_thread() {
        et.wake.signal();
    }
    key
}
