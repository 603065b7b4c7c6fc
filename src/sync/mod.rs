//! Blocking objects built on `park` (the futex parker): counting semaphores, groups and
//! once-predicates.
//! (The one-waiter event they and the queues park on is a primitive: `park.rs`.)

pub mod group;
pub mod group_state;
pub mod once;
pub mod semaphore;
