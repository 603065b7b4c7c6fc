//! Timer sources: the settings of `dispatch_source_set_timer` and their heap entry.
//!
//! A source has at most one live entry in the event thread's timer heaps. Every change of
//! the settings (a new `set_timer`, cancellation) bumps `generation` and removes the old
//! entry; an entry that fires with an older generation (it was already popped when the
//! settings changed) is ignored. A repeating timer that fell behind (its queue was busy or
//! suspended, the machine slept) reports the number of intervals that passed as its data
//! and is re-armed for the next interval boundary after now, without drift.

use super::Source;
use crate::event::timer::{arm_source, disarm_source};
use crate::sys::{self, Clock};
use crate::time;

/// `dispatch_source_set_timer`'s settings.
#[derive(Default)]
pub struct TimerConfig {
    /// The next deadline; `None` before the first `set_timer`, for a start of
    /// `DISPATCH_TIME_FOREVER`, and after a one-shot fired.
    next: Option<(Clock, u64)>,
    /// Nanoseconds between fires; `None` for a one-shot (`DISPATCH_TIME_FOREVER`).
    interval: Option<u64>,
    generation: u64,
    registered: bool,
}

fn lock(s: &Source) -> std::sync::MutexGuard<'_, TimerConfig> {
    s.timer.lock().unwrap_or_else(|e| e.into_inner())
}

/// Arms the heap entry for `cfg.next` if the source is registered. Called under the lock.
fn arm(s: &Source, cfg: &TimerConfig) {
    if let (true, Some((clock, deadline))) = (cfg.registered, cfg.next) {
        arm_source(clock, deadline, s, cfg.generation);
    }
}

pub fn set(s: &Source, start: u64, interval: u64, _leeway: u64) {
    if !s.kind.is_timer() || s.is_cancelled() {
        return;
    }
    let mut cfg = lock(s);
    cfg.generation += 1;
    disarm_source(s);
    cfg.next =
        time::deadline(start).map(|(clock, ns)| (clock, if ns == 0 { sys::now_ns(clock) } else { ns }));
    // An interval of 0 would fire continuously; the reference clamps it to a minimum too.
    cfg.interval = (interval != u64::MAX).then_some(interval.max(1_000));
    arm(s, &cfg);
}

/// The source's registration completed: start the heap entry if the timer is set.
pub fn registered(s: &Source) {
    if !s.kind.is_timer() {
        return;
    }
    let mut cfg = lock(s);
    cfg.registered = true;
    arm(s, &cfg);
}

pub fn cancelled(s: &Source) {
    if !s.kind.is_timer() {
        return;
    }
    let mut cfg = lock(s);
    cfg.generation += 1;
    cfg.registered = false;
    disarm_source(s);
}

pub fn fired(s: &Source, generation: u64, deadline: u64) {
    let fires = {
        let mut cfg = lock(s);
        if generation != cfg.generation || !cfg.registered {
            return;
        }
        let Some((clock, _)) = cfg.next else { return };
        match cfg.interval {
            None => {
                cfg.next = None;
                1
            }
            Some(interval) => {
                let now = sys::now_ns(clock);
                let passed = now.saturating_sub(deadline) / interval;
                cfg.next = Some((clock, deadline + (passed + 1) * interval));
                arm(s, &cfg);
                passed + 1
            }
        }
    };
    s.merge(fires);
}
