//! `dispatch_benchmark`: the average cost of one call of a function, in nanoseconds.
//!
//! As in the reference (`benchmark.c`) and Apple's `private/benchmark.h`: the function is
//! called `count` times in a tight loop on the caller's thread, the elapsed uptime is
//! divided by `count`, and the cost of the loop itself is subtracted. That cost is
//! measured once per process, by the same loop around an empty function (the reference
//! calls it ten million times; one million is enough for a per-call figure and keeps the
//! first call short). A result below the loop cost is 0, not a wrapped-around value. A
//! `count` of 0 calls nothing and returns 0.

use crate::callback::ClientFn;
use crate::sys::{self, Clock};
use core::ffi::c_void;
use std::sync::OnceLock;

const CALIBRATION_CALLS: usize = 1_000_000;

/// Total nanoseconds of `count` calls of `f`.
fn measure(count: usize, f: ClientFn) -> u64 {
    // Through `black_box`, so the compiler cannot see (and inline or drop) the empty
    // function of the calibration: both loops make the same indirect call.
    let f = core::hint::black_box(f);
    let start = sys::now_ns(Clock::Monotonic);
    for _ in 0..count {
        core::hint::black_box(f).call();
    }
    sys::now_ns(Clock::Monotonic) - start
}

extern "C" fn empty(_ctxt: *mut c_void) {}

/// Nanoseconds the loop adds to each call, measured once.
fn loop_cost() -> u64 {
    static COST: OnceLock<u64> = OnceLock::new();
    *COST.get_or_init(|| {
        measure(CALIBRATION_CALLS, ClientFn::from_safe(empty, core::ptr::null_mut()))
            / CALIBRATION_CALLS as u64
    })
}

/// Average nanoseconds per call of `f` over `count` calls, loop cost subtracted.
pub fn benchmark(count: usize, f: ClientFn) -> u64 {
    let cost = loop_cost();
    if count == 0 {
        return 0;
    }
    (measure(count, f) / count as u64).saturating_sub(cost)
}
