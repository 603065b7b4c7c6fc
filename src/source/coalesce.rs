//! Coalescing a source's events into deliveries: many merges, one delivery in flight.
//!
//! Three words: `pending` (data merged since the last delivery), `event` (an event was
//! merged since the last delivery) and `scheduled` (a delivery item is queued). The
//! protocol, each step SeqCst:
//!
//! * merge: combine the value into `pending`, *then* raise `event`, then claim `scheduled`;
//!   the merger that turns `scheduled` from false to true queues the delivery.
//! * deliver: lower `scheduled` first (so a merge from now on queues another delivery),
//!   lower `event`, and only if it was raised take `pending`.
//!
//! Data always precedes its flag, so data found without a flag belongs to a merger whose
//! flag, and delivery, are still to come: taking it anyway would deliver it early and
//! leave that later delivery empty, and taking it then dropping it loses it (the bug the
//! loom model below pins down). A delivery that finds its flag but no data (an earlier
//! delivery took it) is skipped unless a zero is itself an event (readiness at EOF).

use crate::primitive::{AtomicBool, AtomicU64};
use core::sync::atomic::Ordering::SeqCst;

/// How a new value combines with data not yet delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Add,
    Or,
    Replace,
}

#[derive(Debug)]
pub struct Coalescer {
    pending: AtomicU64,
    event: AtomicBool,
    scheduled: AtomicBool,
}

impl Coalescer {
    #[cfg(not(loom))]
    pub const fn new() -> Coalescer {
        Coalescer {
            pending: AtomicU64::new(0),
            event: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
        }
    }

    #[cfg(loom)]
    pub fn new() -> Coalescer {
        Coalescer {
            pending: AtomicU64::new(0),
            event: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
        }
    }

    /// Merges `value`. Returns whether an event was raised (a delivery is needed).
    pub fn merge(&self, rule: Merge, value: u64, zero_is_event: bool) -> bool {
        match rule {
            Merge::Add => self.pending.fetch_add(value, SeqCst),
            Merge::Or => self.pending.fetch_or(value, SeqCst),
            Merge::Replace => self.pending.swap(value, SeqCst),
        };
        if value == 0 && !zero_is_event {
            return false; // merging nothing delivers nothing
        }
        self.event.store(true, SeqCst);
        true
    }

    /// Whether an event is waiting (merged before deliveries were allowed).
    pub fn has_event(&self) -> bool {
        self.event.load(SeqCst)
    }

    /// Whether a delivery is queued and has not started taking the data yet.
    pub fn delivery_scheduled(&self) -> bool {
        self.scheduled.load(SeqCst)
    }

    /// Claims the right to queue the delivery; `false` if one is queued already.
    pub fn claim_delivery(&self) -> bool {
        !self.scheduled.swap(true, SeqCst)
    }

    /// Run by the queued delivery: the data to deliver, or `None` to skip.
    pub fn take(&self, zero_is_event: bool) -> Option<u64> {
        self.scheduled.store(false, SeqCst);
        if !self.event.swap(false, SeqCst) {
            return None;
        }
        let value = self.pending.swap(0, SeqCst);
        (value != 0 || zero_is_event).then_some(value)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;

    /// Two threads merge (1 and 2) while deliveries run; the deliveries the merges queue,
    /// run in order, deliver exactly 3 in total and never an empty event.
    #[test]
    fn merges_racing_a_delivery_are_delivered_once() {
        loom::model(|| {
            let c = Arc::new(Coalescer::new());
            let queued = Arc::new(AtomicUsize::new(0));
            let mergers: Vec<_> = [1u64, 2]
                .into_iter()
                .map(|v| {
                    let (c, queued) = (c.clone(), queued.clone());
                    loom::thread::spawn(move || {
                        if c.merge(Merge::Add, v, false) && c.claim_delivery() {
                            queued.fetch_add(1, SeqCst);
                        }
                    })
                })
                .collect();
            let mut delivered = 0;
            let mut run_one = || {
                if queued.load(SeqCst) > 0 {
                    queued.fetch_sub(1, SeqCst);
                    if let Some(v) = c.take(false) {
                        assert_ne!(v, 0, "an empty delivery");
                        delivered += v;
                    }
                }
            };
            run_one(); // a delivery racing the merges
            for m in mergers {
                m.join().unwrap();
            }
            while queued.load(SeqCst) > 0 {
                run_one();
            }
            assert_eq!(delivered, 3, "every merged value is delivered exactly once");
        });
    }
}
