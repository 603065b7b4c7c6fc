//! The event thread: one per process, started on first use, sleeping in `epoll_pwait2`.
//!
//! It owns two descriptors, the fewest that work: the epoll instance, and an eventfd for
//! wake-ups from other threads and from signal handlers (coalescing: any number of wake
//! requests make one readable state). Registered sources add theirs, each under a token of
//! the [`registry`]; the first wall-clock timer adds a timerfd (below).
//!
//! Timers cost no descriptor. After each round the thread computes how long until the
//! earliest uptime hard deadline (`dispatch_time` deadline plus leeway, see `heaps.rs`)
//! and waits exactly that long: no polling, no periodic tick. A thread that adds a timer
//! whose hard deadline is earlier than every other wakes it through the eventfd, so it waits again with the shorter timeout; timers added by the thread itself
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

mod heaps;
pub mod registry;
mod target;
mod thread;
pub mod timer;
mod timer_heap;

pub use target::{Release, Target};
pub(crate) use thread::{
    event_thread, has_thread, lock_for_fork, reset_in_child, try_event_thread, ForkHeld,
};
