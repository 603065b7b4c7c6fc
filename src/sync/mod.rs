//! Blocking primitives built on the futex: a per-waiter event, counting semaphores,
//! groups and once-predicates.

pub mod event;
pub mod group;
pub mod once;
pub mod semaphore;
