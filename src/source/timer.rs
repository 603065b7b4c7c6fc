//! Timer sources: the settings of `dispatch_source_set_timer` and their heap entry.
//!
//! A source has at most one live entry in the event thread's timer heaps. Every change of
//! the settings (a new `set_timer`, cancellation) bumps `generation` and removes the old
//! entry; an entry that fires with an older generation (it was already popped when the
//! settings changed) is ignored. A repeating timer that fell behind (its queue was busy or
//! suspended, the machine slept) reports the number of intervals that passed as its data
//! and is re-armed for the next interval boundary after now, without drift.
//!
//! *Parking.* A repeating timer that fires while its previous fire is still undelivered
//! (the delivery is queued behind a long handler or on a suspended queue) is not re-armed:
//! another fire could only coalesce into the same delivery, and a short interval would
//! keep the event thread firing it for nothing. It stays parked, with `next` the boundary
//! it would have been armed for, until that delivery runs: the delivery, before it takes
//! the data, counts the boundaries passed since `next` into it and re-arms the entry. The
//! fire's check of the delivery and its park, and the delivery's un-park and take, each
//! happen under the settings lock, so a park is always followed by a delivery that sees it.
//! The fire merges its count after releasing the lock: a delivery that runs in between
//! (un-parking, taking the data) only means the count comes in the next delivery, and the
//! worker running a delivery never blocks on a lock the event thread holds while it wakes
//! that worker.
//!
//! *Leeway.* The entry is armed with the window `[next, next + leeway]`; the event thread
//! batches fires within their windows (`event/heaps.rs`). The leeway is capped at half the
//! interval, as the reference does, so a fire that comes late by its whole leeway still
//! precedes the next boundary and each fire counts one interval.
use super::object::Source;
use super::parts::{TimerConfig, INTERVAL_UI_ANIMATION};
use crate::event::timer::{arm_source, disarm_source};
use crate::sys::{self, Clock};
use crate::time;

fn lock(s: &Source) -> std::sync::MutexGuard<'_, TimerConfig> {
    s.timer.lock().unwrap_or_else(|e| e.into_inner())
}

/// Arms the heap entry for `cfg.next` if the source is registered (removing any entry still
/// armed). Called under the lock.
fn arm(s: &Source, cfg: &mut TimerConfig) {
    disarm(cfg);
    if let (true, Some((clock, deadline))) = (cfg.registered, cfg.next) {
        cfg.armed = Some(arm_source(clock, deadline, cfg.leeway, s, cfg.generation));
    }
}

/// Removes the live heap entry, if any. Called under the lock.
fn disarm(cfg: &mut TimerConfig) {
    if let Some(key) = cfg.armed.take() {
        disarm_source(key);
    }
}

pub fn set(s: &Source, start: u64, interval: u64, leeway: u64) {
    if !s.kind.is_timer() || s.is_cancelled() {
        return;
    }
    configure(s, start, interval, leeway);
}

/// Nanoseconds in one animation frame (`DISPATCH_INTERVAL_UI_ANIMATION`: 1/60 s).
const FRAME_NS: u64 = 1_000_000_000 / 60;

/// An INTERVAL source, at creation: fires every `handle` milliseconds (or animation frames
/// with `DISPATCH_INTERVAL_UI_ANIMATION` in `mask`), phase-aligned: its deadlines are the
/// multiples of the interval on the uptime clock, so every interval source of the same
/// interval fires at the same instants (the reference's `_dispatch_source_set_interval`).
pub fn set_interval(s: &Source, handle: usize, mask: usize) {
    let unit = if mask & INTERVAL_UI_ANIMATION != 0 { FRAME_NS } else { 1_000_000 };
    let interval = (handle as u64).saturating_mul(unit);
    let now = sys::now_ns(Clock::Monotonic);
    let first = (now / interval).saturating_add(1).saturating_mul(interval);
    configure(s, first, interval, 0);
}

fn configure(s: &Source, start: u64, interval: u64, leeway: u64) {
    let mut cfg = lock(s);
    cfg.generation += 1;
    cfg.parked = false;
    disarm(&mut cfg);
    cfg.next =
        time::deadline(start).map(|(clock, ns)| (clock, if ns == 0 { sys::now_ns(clock) } else { ns }));
    // An interval of 0 would fire continuously; the reference clamps it to a minimum too.
    cfg.interval = (interval != u64::MAX).then_some(interval.max(1_000));
    cfg.leeway = match cfg.interval {
        Some(interval) => leeway.min(interval / 2),
        None => leeway,
    };
    arm(s, &mut cfg);
}

/// The source's registration completed: start the heap entry if the timer is set.
pub fn registered(s: &Source) {
    if !s.kind.is_timer() {
        return;
    }
    let mut cfg = lock(s);
    cfg.registered = true;
    arm(s, &mut cfg);
}

pub fn cancelled(s: &Source) {
    if !s.kind.is_timer() {
        return;
    }
    let mut cfg = lock(s);
    cfg.generation += 1;
    cfg.registered = false;
    cfg.parked = false;
    disarm(&mut cfg);
}

pub fn fired(s: &Source, generation: u64, deadline: u64) {
    let mut cfg = lock(s);
    if generation != cfg.generation || !cfg.registered {
        return;
    }
    // The entry that fired was the live one (same generation): it is gone from the heap.
    cfg.armed = None;
    let Some((clock, _)) = cfg.next else { return };
    let fires = match cfg.interval {
        None => {
            cfg.next = None;
            1
        }
        Some(interval) => {
            let undelivered = s.events.delivery_scheduled();
            let now = sys::now_ns(clock);
            let passed = now.saturating_sub(deadline) / interval;
            cfg.next = Some((clock, deadline + (passed + 1) * interval));
            if undelivered {
                cfg.parked = true;
            } else {
                arm(s, &mut cfg);
            }
            passed + 1
        }
    };
    drop(cfg);
    // After the lock (see the module doc): a delivery that un-parked in between took the
    // data without these fires, which then make a delivery of their own.
    s.merge(fires);
}

/// Run by a timer source's delivery instead of taking the data directly: un-parks the
/// timer (counting the boundaries that passed while it was parked, and re-arming it),
/// then takes the data.
pub fn take_delivery(s: &Source) -> Option<u64> {
    let mut cfg = lock(s);
    if cfg.parked {
        cfg.parked = false;
        if let (Some((clock, next)), Some(interval)) = (cfg.next, cfg.interval) {
            let now = sys::now_ns(clock);
            let missed = if now >= next { (now - next) / interval + 1 } else { 0 };
            cfg.next = Some((clock, next + missed * interval));
            arm(s, &mut cfg);
            // A delivery is scheduled (this one), so this coalesces into it.
            s.merge(missed);
        }
    }
    s.events.take(false)
}
