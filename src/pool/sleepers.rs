//! Parked workers and the wake-ups already promised to them.
//!
//! A pusher that finds an idle worker must know the worker is not already on its way to
//! someone else's item: eight pushes in a row that all see "one worker idle" would
//! otherwise all rely on that one worker, and seven overcommit items would wait for
//! threads that are never started. So a pusher *claims* a sleeper, and only when one is
//! unclaimed; otherwise it starts a thread (or tells the monitor).
//!
//! One word holds both counts so that the claim is a single CAS against a consistent pair
//! (the arrangement of rayon-core's `sleep/counters.rs`, which packs sleeping and
//! inactive thread counts in one atomic):
//!
//! | bits   | field     | meaning                                                   |
//! |--------|-----------|-----------------------------------------------------------|
//! | 0–31   | `PARKED`  | workers between [`Sleepers::enter`] and [`Sleepers::leave`] |
//! | 32–63  | `CLAIMED` | wake-ups promised to parked workers and not yet taken       |
//!
//! A worker that leaves the parked state, for whatever reason (woken, timed out, found
//! work on its last look), becomes an active worker that looks for items, so it takes one
//! outstanding claim with it. `CLAIMED <= PARKED` always holds.

use crate::primitive::AtomicU64;
use core::sync::atomic::Ordering::SeqCst;

const PARKED_ONE: u64 = 1;
const PARKED_MASK: u64 = 0xffff_ffff;
const CLAIMED_ONE: u64 = 1 << 32;

const fn parked(w: u64) -> u64 {
    w & PARKED_MASK
}
const fn claimed(w: u64) -> u64 {
    w >> 32
}

pub struct Sleepers {
    word: AtomicU64,
}

impl Sleepers {
    #[cfg(not(loom))]
    pub const fn new() -> Sleepers {
        Sleepers { word: AtomicU64::new(0) }
    }

    #[cfg(loom)]
    pub fn new() -> Sleepers {
        Sleepers { word: AtomicU64::new(0) }
    }

    /// A worker is about to park (it re-checks for work after this, before sleeping).
    pub fn enter(&self) {
        self.word.fetch_add(PARKED_ONE, SeqCst);
    }

    /// A worker stopped being parked; it takes one outstanding claim, if any.
    pub fn leave(&self) {
        let mut w = self.word.load(SeqCst);
        loop {
            debug_assert!(parked(w) > 0);
            let take = if claimed(w) > 0 { CLAIMED_ONE } else { 0 };
            match self.word.compare_exchange_weak(w, w - PARKED_ONE - take, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(now) => w = now,
            }
        }
    }

    /// Claims a parked worker nobody else has claimed. On `true` the caller must wake one.
    pub fn try_claim(&self) -> bool {
        let mut w = self.word.load(SeqCst);
        loop {
            if claimed(w) >= parked(w) {
                return false;
            }
            match self.word.compare_exchange_weak(w, w + CLAIMED_ONE, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(now) => w = now,
            }
        }
    }

    /// In a forked child: no worker exists, so none is parked or promised.
    pub fn reset(&self) {
        self.word.store(0, SeqCst);
    }

    /// Whether some parked worker is not yet promised to anyone.
    pub fn any_unclaimed(&self) -> bool {
        let w = self.word.load(SeqCst);
        claimed(w) < parked(w)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_parked_worker_is_claimed_once() {
        let s = Sleepers::new();
        assert!(!s.try_claim());
        s.enter();
        assert!(s.any_unclaimed());
        assert!(s.try_claim());
        assert!(!s.try_claim(), "a second pusher must not rely on the same worker");
        assert!(!s.any_unclaimed());
        s.leave();
        assert_eq!(s.word.load(SeqCst), 0);
    }

    #[test]
    fn leaving_without_a_claim_keeps_other_claims_consistent() {
        let s = Sleepers::new();
        s.enter();
        s.enter();
        assert!(s.try_claim());
        s.leave(); // whichever worker left, it covers the one claim
        assert!(s.any_unclaimed());
        s.leave();
        assert_eq!(s.word.load(SeqCst), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two pushers race for one parked worker while it may leave on its own: at most one
    /// claim succeeds, and the counts return to zero with no claim left dangling.
    #[test]
    fn racing_claims_never_share_a_worker() {
        loom::model(|| {
            let s = Arc::new(Sleepers::new());
            s.enter();
            let pushers: Vec<_> = (0..2)
                .map(|_| {
                    let s = s.clone();
                    loom::thread::spawn(move || s.try_claim())
                })
                .collect();
            s.leave();
            let wins = pushers.into_iter().map(|p| p.join().unwrap()).filter(|&w| w).count();
            assert!(wins <= 1);
            assert_eq!(s.word.load(SeqCst), 0);
        });
    }
}
