//! The event thread itself: its descriptors, starting it, its loop, and its part in
//! `fork` (see the module doc of `event` for how it waits). Below it are the [`registry`]
//! of descriptor tokens and signals and the timer [`heaps`] its loop services; the
//! arming side of timers (`timer.rs`) sits above it, since arming starts and wakes it.

use super::heaps;
use super::registry::{self, TOKEN_WAKE, TOKEN_WALL};
use crate::sys::{Epoll, EventFd};
use core::cell::Cell;
use std::sync::{Mutex, OnceLock};

pub(crate) struct EventThread {
    pub epoll: Epoll,
    /// Wakes the thread to look at signal counters (written by signal handlers too) and
    /// at a timer heap whose earliest deadline moved closer.
    pub wake: EventFd,
}

static EVENT_THREAD: OnceLock<EventThread> = OnceLock::new();

thread_local! {
    static ON_EVENT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the caller is the event thread (which needs no wake-up to see a new timer).
pub(super) fn on_event_thread() -> bool {
    ON_EVENT_THREAD.with(Cell::get)
}

/// The event thread, started on first call; aborts if it cannot start (no descriptor
/// free for its epoll instance and eventfd).
pub(crate) fn event_thread() -> &'static EventThread {
    try_event_thread().unwrap_or_else(|e| {
        crate::sys::abort_with_message(&format!("dispatch: cannot start the event thread: {e}"))
    })
}

/// The event thread, started on first call; an error if its descriptors cannot be had, so
/// `dispatch_source_create` can fail instead of aborting.
pub(crate) fn try_event_thread() -> std::io::Result<&'static EventThread> {
    if let Some(et) = EVENT_THREAD.get() {
        return Ok(et);
    }
    // Serialises starters; the started thread waits here too until the thread is published.
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(et) = EVENT_THREAD.get() {
        return Ok(et);
    }
    let et = EventThread { epoll: Epoll::new()?, wake: EventFd::new()? };
    et.epoll.add_readable(et.wake.fd(), TOKEN_WAKE)?;
    crate::threads::will_start_thread();
    crate::sys::thread::spawn(c"dispatch-event", crate::sys::thread::SERVICE_STACK_SIZE, run)?;
    Ok(EVENT_THREAD.get_or_init(|| et))
}

fn run() {
    ON_EVENT_THREAD.with(|c| c.set(true));
    crate::sys::set_thread_timer_slack(1);
    let et = event_thread();
    let mut ready = Vec::new();
    let mut due = Vec::new();
    let mut timeout = None;
    loop {
        et.epoll.wait(&mut ready, timeout);
        for &token in &ready {
            match token {
                TOKEN_WALL => heaps::drain_wall_timerfd(),
                TOKEN_WAKE => {
                    et.wake.drain();
                    registry::deliver_signals();
                }
                token => registry::deliver_ready(token),
            }
        }
        timeout = heaps::fire_due(&mut due);
    }
}

/// The event layer's locks, held across `fork` (see `crate::fork`): the registry, then
/// the timer heaps (the order of every path that takes both).
pub(crate) struct ForkHeld {
    registry: registry::ForkHeld,
    timers: heaps::ForkHeld,
}

pub(crate) fn lock_for_fork() -> ForkHeld {
    let registry = registry::lock_for_fork();
    let timers = heaps::lock_for_fork();
    ForkHeld { registry, timers }
}

/// Whether the event thread was started.
pub(crate) fn has_thread() -> bool {
    EVENT_THREAD.get().is_some()
}

/// `fork` child: forgets the parent's registrations and timers, and, if the parent had an
/// event thread, gives the child its own: the epoll instance and the eventfd are open
/// files shared with the parent after `fork` (both processes would consume each other's
/// wake-ups and registrations), so each is replaced under the same descriptor number by a
/// fresh one, and a new thread serves them. (The wall-clock timerfd, if any, is dropped
/// with the timers.)
pub(crate) fn reset_in_child(held: ForkHeld) {
    let ForkHeld { mut registry, mut timers } = held;
    registry.forget_all();
    timers.forget_all();
    drop(timers);
    drop(registry);
    let Some(et) = EVENT_THREAD.get() else { return };
    let fatal = |e: std::io::Error| -> ! {
        crate::sys::abort_with_message(&format!("dispatch: cannot restart the event thread after fork: {e}"))
    };
    et.epoll.renew().unwrap_or_else(|e| fatal(e));
    et.wake.renew().unwrap_or_else(|e| fatal(e));
    et.epoll.add_readable(et.wake.fd(), TOKEN_WAKE).unwrap_or_else(|e| fatal(e));
    crate::sys::thread::spawn(c"dispatch-event", crate::sys::thread::SERVICE_STACK_SIZE, run)
        .unwrap_or_else(|e| fatal(e));
}
