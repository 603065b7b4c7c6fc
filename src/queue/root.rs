//! The root (global) queues: one per QoS class, each with an overcommit twin.
//!
//! Root queue `i` is served by the pool's run list `i`; a higher index is a higher QoS,
//! and the pool always picks work from the highest non-empty list. Overcommit roots get
//! a thread even when every CPU is busy (custom serial queues target them by default, as
//! in the reference implementation, so a serial queue never waits for a CPU-bound item).

use super::object::{Flavor, Queue};
use super::state::{QueueState, WIDTH_MAX};

// The classes, their ranks and nice values belong to the primitives layer (`qos.rs`), which
// the pool and the QoS of the running thread use without knowing queues.
pub use crate::qos::{
    is_qos_class, qos_of_index, rank_of_qos, QOS_BACKGROUND, QOS_BY_RANK, QOS_DEFAULT, QOS_MAINTENANCE,
    QOS_USER_INITIATED, QOS_USER_INTERACTIVE, QOS_UTILITY, ROOT_COUNT,
};

macro_rules! root {
    ($label:literal, $index:expr, $qos:expr) => {
        Queue::new_static($label, Flavor::Root($index), QueueState::idle(WIDTH_MAX), $qos)
    };
}

pub static ROOT_QUEUES: [Queue; ROOT_COUNT] = [
    root!(c"com.apple.root.maintenance-qos", 0, QOS_MAINTENANCE),
    root!(c"com.apple.root.maintenance-qos.overcommit", 1, QOS_MAINTENANCE),
    root!(c"com.apple.root.background-qos", 2, QOS_BACKGROUND),
    root!(c"com.apple.root.background-qos.overcommit", 3, QOS_BACKGROUND),
    root!(c"com.apple.root.utility-qos", 4, QOS_UTILITY),
    root!(c"com.apple.root.utility-qos.overcommit", 5, QOS_UTILITY),
    root!(c"com.apple.root.default-qos", 6, QOS_DEFAULT),
    root!(c"com.apple.root.default-qos.overcommit", 7, QOS_DEFAULT),
    root!(c"com.apple.root.user-initiated-qos", 8, QOS_USER_INITIATED),
    root!(c"com.apple.root.user-initiated-qos.overcommit", 9, QOS_USER_INITIATED),
    root!(c"com.apple.root.user-interactive-qos", 10, QOS_USER_INTERACTIVE),
    root!(c"com.apple.root.user-interactive-qos.overcommit", 11, QOS_USER_INTERACTIVE),
];

/// Rank (0 = maintenance … 5 = user-interactive) of a QoS class or legacy priority, as
/// `dispatch_get_global_queue` accepts them; `None` for anything else.
pub fn rank_of_identifier(identifier: isize) -> Option<usize> {
    match identifier {
        2 => Some(4),                           // DISPATCH_QUEUE_PRIORITY_HIGH
        0 => Some(3),                           // DISPATCH_QUEUE_PRIORITY_DEFAULT
        -2 => Some(2),                          // DISPATCH_QUEUE_PRIORITY_LOW
        x if x == i16::MIN as isize => Some(1), // DISPATCH_QUEUE_PRIORITY_BACKGROUND
        x => QOS_BY_RANK.iter().position(|&q| q as isize == x),
    }
}

pub fn root_queue(rank: usize, overcommit: bool) -> &'static Queue {
    &ROOT_QUEUES[rank * 2 + overcommit as usize]
}

pub fn default_queue() -> &'static Queue {
    root_queue(3, false)
}

/// Where a new queue goes when no target was given.
pub fn default_target(qos: u32, overcommit: bool) -> crate::object::Ref<Queue> {
    crate::object::Ref::retain(root_queue(rank_of_qos(qos), overcommit))
}
