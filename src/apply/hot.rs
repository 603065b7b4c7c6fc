//! Hot helpers: the mailboxes through which an apply hands its region to helpers of an
//! earlier region that are still spinning.
//!
//! A parked worker takes long to wake (on the 2-vCPU VM of the bench, a helper joined a
//! 20 ms region ~200 µs after it began: half of that is lost wall time), while OpenMP's
//! threads spin for a while after a parallel region and join the next one at once. So a
//! helper that ran out of indices *offers* itself on a free mailbox, keyed by the root
//! queue it runs on, and spins on it for a moment; an apply on that root queue *hands* its
//! region to offered helpers before it submits helpers to the queue for the rest.
//!
//! A mailbox is one word:
//!
//! | value | meaning | who moves it on |
//! |---|---|---|
//! | `FREE` (0) | nobody | a helper: CAS to `key \| 1` (offer) |
//! | `key \| 1` (odd) | a helper spins, waiting for a region on queue `key` | an apply: CAS to its payload (hand); the helper: CAS back to `FREE` (withdraw) |
//! | payload (even, non-zero) | a region handed to that helper | the helper: store `FREE` (take) |
//!
//! Keys (queue addresses) and payloads (`Arc` pointers) are aligned, so the low bit tells
//! an offer from a payload. Only the two CASes from `key | 1` race, and exactly one of
//! them wins: the hand's payload then belongs to the helper, which runs it; a withdrawn
//! offer is never handed anything. A helper that could not offer (every mailbox taken)
//! simply leaves, and the apply submits a helper for each one it could not hand to.
//!
//! After `fork`, an offer made by a helper of the parent stays in the child with no thread
//! behind it: the child's first apply on that root queue hands its region to it and runs
//! every index itself (an apply never depends on its helpers), and that mailbox stays
//! taken (one region's reference leaks); the others serve as before.
use crate::primitive::AtomicUsize;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crossbeam_utils::CachePadded;

const FREE: usize = 0;
/// How many helpers may be hot at once (an apply wants one per CPU beyond its caller, and
/// submits a helper for each one it could not hand its region to).
const SLOTS: usize = 8;

pub(crate) struct Mailboxes {
    slots: [CachePadded<AtomicUsize>; SLOTS],
}

impl Mailboxes {
    pub(crate) fn new() -> Mailboxes {
        Mailboxes { slots: core::array::from_fn(|_| CachePadded::new(AtomicUsize::new(FREE))) }
    }

    /// A helper offers itself for the next region on queue `key` (even): the mailbox it
    /// took, or `None` when every one is taken.
    pub(crate) fn offer(&self, key: usize) -> Option<usize> {
        debug_assert!(key & 1 == 0 && key != FREE);
        self.slots.iter().position(|s| {
            // Relaxed: the offer publishes nothing; what a hand publishes is carried by
            // its own Release store.
            s.load(Relaxed) == FREE && s.compare_exchange(FREE, key | 1, Relaxed, Relaxed).is_ok()
        })
    }

    /// Hands `payload` (even, non-zero) to a helper offered for queue `key`; whether one
    /// took it (otherwise the payload is still the caller's).
    pub(crate) fn hand(&self, key: usize, payload: usize) -> bool {
        debug_assert!(payload & 1 == 0 && payload != FREE);
        let offer = key | 1;
        self.slots.iter().any(|s| {
            // Release: the helper's Acquire load in `take` sees the region's fields.
            s.load(Relaxed) == offer && s.compare_exchange(offer, payload, Release, Relaxed).is_ok()
        })
    }

    /// The payload handed to mailbox `slot`, if one was (the mailbox is then free again).
    pub(crate) fn take(&self, slot: usize) -> Option<usize> {
        let s = &self.slots[slot];
        // Acquire: pairs with the Release of `hand`.
        let v = s.load(Acquire);
        if v & 1 == 1 {
            return None;
        }
        debug_assert!(v != FREE, "an offered mailbox is freed only by its helper");
        // Relaxed: the next offer publishes nothing either.
        s.store(FREE, Relaxed);
        Some(v)
    }

    /// Withdraws the offer on mailbox `slot`: false when a payload was handed first
    /// (`take` gets it).
    pub(crate) fn withdraw(&self, slot: usize, key: usize) -> bool {
        // Relaxed: on success nothing is published; on failure `take`'s Acquire load reads
        // the payload.
        self.slots[slot].compare_exchange(key | 1, FREE, Relaxed, Relaxed).is_ok()
    }
}

#[cfg(all(test, loom))]
mod loom_hot {
    use super::Mailboxes;
    use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use loom::sync::Arc;
    use loom::thread;

    /// An apply hands a payload while the offered helper gives up: the payload is either
    /// handed (and the helper takes it, seeing what was written before the hand) or kept
    /// by the apply, never both and never lost; the mailbox ends free.
    #[test]
    fn hand_races_withdraw() {
        loom::model(|| {
            const KEY: usize = 0x1000;
            let boxes = Arc::new(Mailboxes::new());
            let data = Arc::new(AtomicUsize::new(0));
            let slot = boxes.offer(KEY).expect("a free mailbox");
            let (b, d) = (boxes.clone(), data.clone());
            let apply = thread::spawn(move || {
                d.store(42, Relaxed);
                b.hand(KEY, 0x2000)
            });
            let taken = if boxes.withdraw(slot, KEY) { None } else { boxes.take(slot) };
            let handed = apply.join().unwrap();
            assert_eq!(handed, taken.is_some());
            if let Some(p) = taken {
                assert_eq!(p, 0x2000);
                assert_eq!(data.load(Relaxed), 42, "the hand publishes the region");
            }
            assert!(!boxes.hand(KEY, 0x2000), "no offer remains");
            assert_eq!(boxes.offer(KEY), Some(slot), "the mailbox is free again");
        });
    }

    /// A helper polling its mailbox while an apply hands to it takes the payload once.
    #[test]
    fn hand_then_take() {
        loom::model(|| {
            const KEY: usize = 0x1000;
            let boxes = Arc::new(Mailboxes::new());
            let slot = boxes.offer(KEY).expect("a free mailbox");
            assert!(!boxes.hand(KEY + 8, 0x2000), "a helper offered for another queue is not handed to");
            let b = boxes.clone();
            let apply = thread::spawn(move || b.hand(KEY, 0x2000));
            let mut got = None;
            while got.is_none() {
                got = boxes.take(slot);
                if got.is_none() {
                    loom::thread::yield_now();
                }
            }
            assert!(apply.join().unwrap());
            assert_eq!(got, Some(0x2000));
        });
    }
}
