//! `dispatch_time_t`: one 64-bit value naming an instant on one of two clocks.
//!
//! The encoding is the reference implementation's, so values round-trip between
//! libraries and compare sensibly with the header's constants:
//!
//! | value                       | meaning                                            |
//! |-----------------------------|----------------------------------------------------|
//! | `0` (`DISPATCH_TIME_NOW`)   | now, on the uptime clock                           |
//! | `1 ..= 2^62-1`              | nanoseconds on the uptime clock (`CLOCK_MONOTONIC`)|
//! | `-(ns)` as u64, ns ≥ 2      | wall clock (`CLOCK_REALTIME`), ns since the epoch  |
//! | `~1` (`DISPATCH_WALLTIME_NOW`) | now, on the wall clock (it is `-(2)`)           |
//! | `~0` (`DISPATCH_TIME_FOREVER`) | never                                           |
//!
//! Wall values are the two's-complement negation of their nanoseconds, so they sit just
//! below `FOREVER` and above every uptime value, and `FOREVER` is never produced by
//! arithmetic: anything at or past `2^62` ns saturates to `FOREVER`.

use crate::sys::{self, Clock};

pub type DispatchTime = u64;

pub const TIME_NOW: DispatchTime = 0;
pub const TIME_FOREVER: DispatchTime = !0;
pub const WALLTIME_NOW: DispatchTime = !1;
/// Values at or above this many nanoseconds saturate to `FOREVER`.
const MAX_NS: u64 = 1 << 62;

/// An absolute instant with its clock, or `None` for "never".
pub type Deadline = Option<(Clock, u64)>;

fn is_wall(t: DispatchTime) -> bool {
    (t as i64) < 0 && t != TIME_FOREVER
}

fn encode_wall(ns: i128) -> DispatchTime {
    if ns >= MAX_NS as i128 {
        TIME_FOREVER
    } else {
        (ns.max(2) as u64).wrapping_neg()
    }
}

fn encode_uptime(ns: i128) -> DispatchTime {
    if ns >= MAX_NS as i128 {
        TIME_FOREVER
    } else {
        // 0 would read as NOW, which is what a time in the past means anyway; keep it
        // distinct so the value still orders after a real "now" taken earlier.
        ns.max(1) as u64
    }
}

/// `dispatch_time(when, delta)`.
pub fn time(when: DispatchTime, delta: i64) -> DispatchTime {
    match when {
        TIME_FOREVER => TIME_FOREVER,
        TIME_NOW => encode_uptime(sys::now_ns(Clock::Monotonic) as i128 + delta as i128),
        t if is_wall(t) => {
            let base = if t == WALLTIME_NOW { sys::now_ns(Clock::Realtime) } else { t.wrapping_neg() };
            encode_wall(base as i128 + delta as i128)
        }
        t => encode_uptime(t as i128 + delta as i128),
    }
}

/// `dispatch_walltime(when, delta)`; `base_ns` is the timespec in nanoseconds, or `None`
/// for the current wall-clock time.
pub fn walltime(base_ns: Option<i128>, delta: i64) -> DispatchTime {
    let base = base_ns.unwrap_or_else(|| sys::now_ns(Clock::Realtime) as i128);
    encode_wall(base + delta as i128)
}

/// The absolute instant a `dispatch_time_t` names.
pub fn deadline(t: DispatchTime) -> Deadline {
    match t {
        TIME_FOREVER => None,
        TIME_NOW => Some((Clock::Monotonic, 0)),
        WALLTIME_NOW => Some((Clock::Realtime, 0)),
        t if is_wall(t) => Some((Clock::Realtime, t.wrapping_neg())),
        t => Some((Clock::Monotonic, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forever_is_absorbing() {
        assert_eq!(time(TIME_FOREVER, -5), TIME_FOREVER);
        assert_eq!(time(TIME_NOW, i64::MAX), TIME_FOREVER);
        assert_eq!(walltime(None, i64::MAX), TIME_FOREVER);
    }

    #[test]
    fn uptime_arithmetic_adds_delta() {
        let t = time(TIME_NOW, 0);
        assert_eq!(time(t, 1000), t + 1000);
        assert_eq!(time(t, -(t as i64) - 10), 1);
        assert_eq!(deadline(t), Some((Clock::Monotonic, t)));
    }

    #[test]
    fn wall_values_round_trip_and_order_below_forever() {
        let w = walltime(Some(5_000_000_000), 0);
        assert!(w < TIME_FOREVER && w > MAX_NS);
        assert_eq!(deadline(w), Some((Clock::Realtime, 5_000_000_000)));
        assert_eq!(deadline(time(w, 7)), Some((Clock::Realtime, 5_000_000_007)));
        let now = sys::now_ns(Clock::Realtime);
        let (clock, ns) = deadline(time(WALLTIME_NOW, 0)).unwrap();
        assert_eq!(clock, Clock::Realtime);
        assert!(ns >= now);
    }
}
