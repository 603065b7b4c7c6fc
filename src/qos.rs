//! The QoS class the calling thread runs work at, and temporary raises of it.
//!
//! A worker records the QoS of the root list it took an item from; a block that asks for
//! more (`DISPATCH_BLOCK_ENFORCE_QOS_CLASS`, or a block QoS on a queue without one) raises
//! it for the block's duration: the thread-local class, which `qos_class_self()` reports,
//! and the thread's nice value where the OS lets an unprivileged thread lower it (lowering
//! nice needs `CAP_SYS_NICE` or `RLIMIT_NICE`; raising it back always works). Threads that
//! are not workers report `QOS_CLASS_DEFAULT`, like a pthread on Apple platforms.
//!
//! The classes, their order (rank), and the nice value each runs at are defined here, below
//! the pool and the queues, which both index their lists by them.

use crate::sys;
use std::cell::Cell;

pub const QOS_USER_INTERACTIVE: u32 = 0x21;
pub const QOS_USER_INITIATED: u32 = 0x19;
pub const QOS_DEFAULT: u32 = 0x15;
pub const QOS_UTILITY: u32 = 0x11;
pub const QOS_BACKGROUND: u32 = 0x09;
pub const QOS_MAINTENANCE: u32 = 0x05;

/// QoS classes from lowest to highest: the rank is the root list index / 2.
pub const QOS_BY_RANK: [u32; 6] =
    [QOS_MAINTENANCE, QOS_BACKGROUND, QOS_UTILITY, QOS_DEFAULT, QOS_USER_INITIATED, QOS_USER_INTERACTIVE];

/// Run lists (and root queues): one per class, each with an overcommit twin; list
/// `rank * 2 + overcommit`.
pub const ROOT_COUNT: usize = 12;

/// Whether `qos` is one of the QoS classes (not unspecified).
pub fn is_qos_class(qos: u32) -> bool {
    QOS_BY_RANK.contains(&qos)
}

/// Rank of a QoS class, with unspecified mapping to default.
pub fn rank_of_qos(qos: u32) -> usize {
    QOS_BY_RANK.iter().position(|&q| q == qos).unwrap_or(3)
}

/// The OS nice value that work of a root list runs at: background work yields the CPU.
pub fn nice_of_index(index: usize) -> i32 {
    match index / 2 {
        0 => 15,
        1 => 10,
        _ => 0,
    }
}

/// The QoS class of root list `index`.
pub fn qos_of_index(index: usize) -> u32 {
    QOS_BY_RANK[index / 2]
}

/// The nice value work of QoS class `qos` runs at (unspecified counts as default).
pub fn nice_of_qos(qos: u32) -> i32 {
    nice_of_index(rank_of_qos(qos) * 2)
}

thread_local! {
    /// 0: not set (a thread the pool does not own).
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

/// The calling thread's QoS class.
pub fn current() -> u32 {
    match CURRENT.with(Cell::get) {
        0 => QOS_DEFAULT,
        q => q,
    }
}

/// Set by a worker before it runs an item of a root list with this QoS.
pub fn set_current(qos: u32) {
    CURRENT.with(|c| c.set(qos));
}

/// The higher of two QoS classes (0, unspecified, is the lowest).
pub fn max(a: u32, b: u32) -> u32 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (a, b) if rank_of_qos(a) >= rank_of_qos(b) => a,
        (_, b) => b,
    }
}

/// Runs `f` at `qos` if that is higher than the thread's current class, then restores.
pub fn with_raised<R>(qos: u32, f: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(Cell::get);
    if qos == 0 || max(qos, current()) == current() {
        return f();
    }
    let old_nice = sys::thread_nice();
    let lowered = nice_of_qos(qos) < old_nice && sys::set_thread_nice(nice_of_qos(qos));
    set_current(qos);
    let r = f();
    set_current(before);
    if lowered {
        sys::set_thread_nice(old_nice);
    }
    r
}
