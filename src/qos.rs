//! The QoS class the calling thread runs work at, and temporary raises of it.
//!
//! A worker records the QoS of the root list it took an item from; a block that asks for
//! more (`DISPATCH_BLOCK_ENFORCE_QOS_CLASS`, or a block QoS on a queue without one) raises
//! it for the block's duration: the thread-local class, which `qos_class_self()` reports,
//! and the thread's nice value where the OS lets an unprivileged thread lower it (lowering
//! nice needs `CAP_SYS_NICE` or `RLIMIT_NICE`; raising it back always works). Threads that
//! are not workers report `QOS_CLASS_DEFAULT`, like a pthread on Apple platforms.

use crate::queue::root::{nice_of_qos, rank_of_qos, QOS_DEFAULT};
use crate::sys;
use std::cell::Cell;

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
