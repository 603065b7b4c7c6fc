//! The event thread: one per process, started on first use, sleeping in `epoll_wait`.
//!
//! It watches two timerfds — one on the uptime clock (`dispatch_time`), one on the wall
//! clock (`dispatch_walltime`, armed with `TFD_TIMER_CANCEL_ON_SET` so a clock jump wakes
//! it to re-evaluate) — an eventfd for wake-ups from other threads and from signal
//! handlers (coalescing: any number of wake requests make one readable state), and the
//! descriptors of registered sources, each under a token of the [`registry`].
//!
//! Each timerfd is armed for the earliest deadline of its heap, so the thread sleeps
//! exactly until the next timer is due: no polling, no periodic tick. Adding a timer arms
//! the timerfd directly from the adding thread when the new timer is the earliest, so no
//! cross-thread wake-up is needed for timers.

pub mod registry;
pub mod timer;

use crate::sys::{Clock, Epoll, EventFd, TimerFd};
use std::sync::OnceLock;

pub(crate) struct EventThread {
    pub epoll: Epoll,
    pub mono: TimerFd,
    pub wall: TimerFd,
    /// Wakes the thread to look at signal counters (written by signal handlers too).
    pub wake: EventFd,
}

const TOKEN_MONO: u64 = 1;
const TOKEN_WALL: u64 = 2;
const TOKEN_WAKE: u64 = 3;
/// Tokens below this are the thread's own descriptors; the registry hands out the rest.
pub const FIRST_SOURCE_TOKEN: u64 = 16;

static EVENT_THREAD: OnceLock<EventThread> = OnceLock::new();

/// The event thread, started on first call.
pub(crate) fn event_thread() -> &'static EventThread {
    EVENT_THREAD.get_or_init(|| {
        let fatal = |e: std::io::Error| -> ! {
            crate::sys::abort_with_message(&format!("dispatch: cannot start the event thread: {e}"))
        };
        let et = EventThread {
            epoll: Epoll::new().unwrap_or_else(|e| fatal(e)),
            mono: TimerFd::new(Clock::Monotonic).unwrap_or_else(|e| fatal(e)),
            wall: TimerFd::new(Clock::Realtime).unwrap_or_else(|e| fatal(e)),
            wake: EventFd::new().unwrap_or_else(|e| fatal(e)),
        };
        et.epoll.add_readable(et.mono.fd(), TOKEN_MONO).unwrap_or_else(|e| fatal(e));
        et.epoll.add_readable(et.wall.fd(), TOKEN_WALL).unwrap_or_else(|e| fatal(e));
        et.epoll.add_readable(et.wake.fd(), TOKEN_WAKE).unwrap_or_else(|e| fatal(e));
        crate::threads::will_start_thread();
        std::thread::Builder::new().name("dispatch-event".into()).spawn(run).unwrap_or_else(|e| fatal(e));
        et
    })
}

fn run() {
    let et = event_thread();
    let mut ready = Vec::new();
    loop {
        et.epoll.wait(&mut ready);
        for &token in &ready {
            match token {
                TOKEN_MONO => et.mono.drain(),
                TOKEN_WALL => et.wall.drain(),
                TOKEN_WAKE => {
                    et.wake.drain();
                    registry::deliver_signals();
                }
                token => registry::deliver_ready(token),
            }
        }
        timer::fire_due(et);
    }
}
