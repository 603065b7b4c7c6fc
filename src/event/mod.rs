//! The event thread: one per process, started on first use, sleeping in `epoll_pwait2`.
//!
//! It owns two descriptors, the fewest that work: the epoll instance, and an eventfd for
//! wake-ups from other threads and from signal handlers (coalescing: any number of wake
//! requests make one readable state). Registered sources add theirs, each under a token of
//! the [`registry`]; the first wall-clock timer adds a timerfd (below).
//!
//! Timers cost no descriptor. After each round the thread computes how long until the
//! earliest uptime deadline (`dispatch_time`) and waits exactly that long: no polling, no
//! periodic tick. A thread that adds a timer earlier than every other wakes it through the
//! eventfd, so it waits again with the shorter timeout; timers added by the thread itself
//! (a repeating timer re-armed as it fires) need no wake. Its timer slack is 1 ns, so the
//! kernel adds no 50 us of batching to a deadline.
//!
//! Wall-clock deadlines (`dispatch_walltime`) follow the wall clock, which can be set: the
//! first wall timer creates a timerfd on it, armed with `TFD_TIMER_CANCEL_ON_SET` so a jump
//! wakes the thread to re-evaluate. When that timerfd cannot be had (the descriptor table
//! is full), wall timers fall back to a relative timeout taken from the wall clock, capped
//! at one second, so a jump is noticed within a second.
//!
//! The event thread knows what it delivers to only as a [`Target`]: sources (and, for
//! `dispatch_after`, queues) implement it in their own layers, above this one. Every
//! registration and timer heap entry holds its target as a [`TargetRef`], an owned
//! reference (retained when made, released when dropped), so a target outlives every
//! entry that can reach it; the `fork` child forgets its entries without dropping them.

pub mod registry;
pub mod timer;

/// A function submitted at a deadline (`dispatch_function_t`).
pub type WorkFn = unsafe extern "C" fn(*mut core::ffi::c_void);

/// Something the event thread delivers to: a registered descriptor or signal, or a timer
/// heap entry. Implemented by sources (`source/mod.rs`) and queues (`queue/event_target.rs`)
/// so this layer names neither; every call is one indirect call through the vtable.
///
/// The event thread holds its targets as [`TargetRef`]s, each of which took a reference
/// with [`Target::retain_for_event_thread`] and gives it back on drop.
///
/// # Safety
/// `retain_for_event_thread` must keep `self` alive (at the same address) until the
/// matching `release_for_event_thread`: [`TargetRef`] dereferences the target until then.
pub unsafe trait Target: Sync {
    /// The descriptor registered under this target's token is ready.
    fn on_ready(&self) {}
    /// `n` deliveries of a signal this target registered for were counted.
    fn on_signal(&self, _n: u32) {}
    /// A timer heap entry armed with `generation` fired at `deadline`.
    fn timer_fired(&self, _generation: u64, _deadline: u64) {}
    /// A `dispatch_after` entry fired: submit `func(ctxt)` (queues).
    fn submit(&self, _ctxt: *mut core::ffi::c_void, _func: WorkFn) {}
    /// Takes the internal reference a registration or a timer heap entry holds.
    fn retain_for_event_thread(&self);
    /// Drops one reference [`Target::retain_for_event_thread`] took; `Release` proves it
    /// (only a dropped [`TargetRef`] makes one).
    fn release_for_event_thread(&self, proof: Release);
}

/// Proof, handed to [`Target::release_for_event_thread`], that the caller gives back one
/// reference it took: only [`TargetRef`]'s `Drop` can make one.
pub struct Release(());

/// The event thread's owned reference on a [`Target`] (a registration, a timer heap
/// entry): taking one retains the target, dropping it releases it, so the registry and
/// the heaps can neither leak nor over-release what they point at.
pub struct TargetRef(core::ptr::NonNull<dyn Target>);

// SAFETY: a `Target` is `Sync`, and the reference this handle owns keeps it alive whichever
// thread drops it.
unsafe impl Send for TargetRef {}

impl TargetRef {
    pub fn retain(target: &(dyn Target + 'static)) -> TargetRef {
        target.retain_for_event_thread();
        TargetRef(core::ptr::NonNull::from(target))
    }

    /// Whether this is a reference on `target` (compared by address).
    pub fn is(&self, target: &dyn Target) -> bool {
        core::ptr::addr_eq(self.0.as_ptr(), target)
    }
}

impl core::ops::Deref for TargetRef {
    type Target = dyn Target + 'static;
    fn deref(&self) -> &(dyn Target + 'static) {
        // SAFETY: `retain` took a reference that, per `Target`'s contract, keeps the target
        // alive until `drop` gives it back.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for TargetRef {
    fn drop(&mut self) {
        self.release_for_event_thread(Release(()));
    }
}

use crate::sys::{Epoll, EventFd};
use core::cell::Cell;
use std::sync::{Mutex, OnceLock};

pub(crate) struct EventThread {
    pub epoll: Epoll,
    /// Wakes the thread to look at signal counters (written by signal handlers too) and
    /// at a timer heap whose earliest deadline moved closer.
    pub wake: EventFd,
}

const TOKEN_WALL: u64 = 2;
const TOKEN_WAKE: u64 = 3;
/// Tokens below this are the thread's own descriptors; the registry hands out the rest.
pub const FIRST_SOURCE_TOKEN: u64 = 16;

static EVENT_THREAD: OnceLock<EventThread> = OnceLock::new();

thread_local! {
    static ON_EVENT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the caller is the event thread (which needs no wake-up to see a new timer).
fn on_event_thread() -> bool {
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
    let mut timeout = None;
    loop {
        et.epoll.wait(&mut ready, timeout);
        for &token in &ready {
            match token {
                TOKEN_WALL => timer::drain_wall_timerfd(),
                TOKEN_WAKE => {
                    et.wake.drain();
                    registry::deliver_signals();
                }
                token => registry::deliver_ready(token),
            }
        }
        timeout = timer::fire_due();
    }
}

/// The event layer's locks, held across `fork` (see `crate::fork`): the registry, then
/// the timer heaps (the order of every path that takes both).
pub(crate) struct ForkHeld {
    registry: registry::ForkHeld,
    timers: timer::ForkHeld,
}

pub(crate) fn lock_for_fork() -> ForkHeld {
    let registry = registry::lock_for_fork();
    let timers = timer::lock_for_fork();
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
