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
//!
//! The whole park/wake protocol of the pool sits behind two small types here, so that the
//! shipped code is the code the loom models check:
//!
//! - [`Idle`] (the workers): a worker takes an epoch ticket, enters the parked count
//!   ([`Idle::prepare`]), re-checks the lists, then either [`Idle::cancel`]s or
//!   [`Idle::park`]s on the ticket. A pusher appends, then [`Idle::wake_claimed`]: claims a
//!   parked worker, advances the epoch and wakes one. All SeqCst, so either the pusher
//!   sees the parked worker (and its advance fails the worker's sleep or wakes it) or the
//!   worker's re-check sees the item.
//! - Searching workers ([`Idle::start_search`], [`Idle::stop_search`]): a worker that
//!   found the lists empty spins for a while before it parks, counted in `searching`. A
//!   pusher that sees `searching > 0` after its append wakes nobody: the searcher stops
//!   searching, then looks at the lists, and the Dekker pair (append, then read
//!   `searching`; decrement, then read the lists; all SeqCst) makes that look see the
//!   append. A searcher that finds work with more pending wakes the next worker itself.
//! - [`MonitorBell`] (the monitor): the monitor takes a ticket, raises `sleeping`
//!   ([`MonitorBell::prepare`]), re-checks `pending` and sleeps on the ticket; a pusher
//!   that could not start a worker bumps `pending` first, then [`MonitorBell::ring`]s,
//!   which wakes it only if `sleeping` is up. The same Dekker pair.

use crate::park::{Deadline, Epoch, WaitResult};
use crate::primitive::{AtomicBool, AtomicU32, AtomicU64};
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

/// The parked workers, their wake-up epoch and the searching workers (see the module doc).
pub struct Idle {
    sleepers: Sleepers,
    epoch: Epoch,
    /// Workers spinning for work (between [`Idle::start_search`] and [`Idle::stop_search`]).
    searching: AtomicU32,
}

impl Idle {
    #[cfg(not(loom))]
    pub const fn new() -> Idle {
        Idle { sleepers: Sleepers::new(), epoch: Epoch::new(), searching: AtomicU32::new(0) }
    }

    #[cfg(loom)]
    pub fn new() -> Idle {
        Idle { sleepers: Sleepers::new(), epoch: Epoch::new(), searching: AtomicU32::new(0) }
    }

    /// A worker found no work and is about to park: returns the ticket to park on. The
    /// caller re-checks for work, then calls [`Idle::cancel`] or [`Idle::park`].
    pub fn prepare(&self) -> u32 {
        // The ticket first: an advance after it, even one before `enter`, fails the sleep.
        let ticket = self.epoch.ticket();
        self.sleepers.enter();
        ticket
    }

    /// The re-check after [`Idle::prepare`] found work: not parking after all.
    pub fn cancel(&self) {
        self.sleepers.leave();
    }

    /// Sleeps on `ticket` until a pusher wakes the worker (or until `deadline`), then
    /// leaves the parked count.
    pub fn park(&self, ticket: u32, deadline: Option<Deadline>) -> WaitResult {
        let r = self.epoch.sleep(ticket, deadline);
        self.sleepers.leave();
        r
    }

    /// After an append: claims a parked worker nobody claimed and wakes one. `false` when
    /// there is none; the caller then starts a worker (or tells the monitor).
    pub fn wake_claimed(&self) -> bool {
        if !self.sleepers.try_claim() {
            return false;
        }
        self.epoch.notify_one();
        true
    }

    /// Whether some parked worker is not yet promised to anyone.
    pub fn any_unclaimed(&self) -> bool {
        self.sleepers.any_unclaimed()
    }

    /// A worker found the lists empty and spins for work: pushes meanwhile rely on it.
    pub fn start_search(&self) {
        self.searching.fetch_add(1, SeqCst);
    }

    /// The searching worker stops; it looks at the lists once more *after* this.
    pub fn stop_search(&self) {
        // SeqCst: the Dekker pair with the pusher's append then `anyone_searching`.
        self.searching.fetch_sub(1, SeqCst);
    }

    /// After an append: whether a searching worker will see it (so no wake is needed).
    pub fn anyone_searching(&self) -> bool {
        // SeqCst: see `stop_search`.
        self.searching.load(SeqCst) > 0
    }

    /// In a forked child: no worker exists.
    pub fn reset(&self) {
        self.sleepers.reset();
        self.searching.store(0, SeqCst);
    }
}

/// The monitor's sleep while nothing is pending (see the module doc).
pub struct MonitorBell {
    sleeping: AtomicBool,
    epoch: Epoch,
}

impl MonitorBell {
    #[cfg(not(loom))]
    pub const fn new() -> MonitorBell {
        MonitorBell { sleeping: AtomicBool::new(false), epoch: Epoch::new() }
    }

    #[cfg(loom)]
    pub fn new() -> MonitorBell {
        MonitorBell { sleeping: AtomicBool::new(false), epoch: Epoch::new() }
    }

    /// The monitor is about to look at `pending` and maybe sleep: returns the ticket.
    pub fn prepare(&self) -> u32 {
        let ticket = self.epoch.ticket();
        self.sleeping.store(true, SeqCst);
        ticket
    }

    /// Sleeps on `ticket` (nothing was pending) until a pusher rings.
    pub fn sleep(&self, ticket: u32) {
        let _ = self.epoch.sleep(ticket, None);
    }

    /// The monitor is awake (it slept, or found work pending).
    pub fn awake(&self) {
        self.sleeping.store(false, SeqCst);
    }

    /// After a push made work pending that no worker will take: wakes the monitor if it
    /// sleeps (or is about to).
    pub fn ring(&self) {
        if self.sleeping.load(SeqCst) {
            self.epoch.notify_one();
        }
    }

    /// In a forked child: the monitor, if any, is gone.
    pub fn reset(&self) {
        self.sleeping.store(false, SeqCst);
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
    use crate::primitive::AtomicBool;
    use loom::sync::atomic::fence;
    use loom::sync::Arc;

    // Loom treats SeqCst loads and stores as AcqRel (its README, "Limitations"), which
    // admits the store-buffering outcome (each side misses the other's write) that the
    // single total order of the real code's SeqCst accesses forbids. The models below put
    // a `fence(SeqCst)`, which loom does model, between each side's publish and its check:
    // the ordering the SeqCst accesses give the shipped code, stated so loom sees it.

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

    /// What a worker's last look before sleeping ended in.
    enum Park {
        /// It saw the item on its re-check and went back to work.
        Saw,
        /// Its futex wait found the epoch it read before entering (`epoch`), so it slept.
        Slept { epoch: u64 },
        /// Its futex wait found the epoch moved: the wait returns at once.
        Bounced,
    }

    /// The park side of `Pool::worker_main` (read the epoch, enter, re-check the lists,
    /// futex wait on the epoch read first; the wait's compare-and-sleep is atomic, modelled
    /// as one load) against the push side of `pool::push` (append, then claim a sleeper
    /// and bump the epoch, or else rely on a new thread). Whatever the interleaving, the
    /// item is not stranded: the worker saw it, or the pusher claimed the worker and bumped
    /// the epoch after the worker's check (so the wake that follows the bump finds the
    /// worker asleep and wakes it), or the pusher saw no parked worker and starts one.
    #[test]
    fn push_racing_a_parking_worker_never_strands_the_item() {
        loom::model(|| {
            let s = Arc::new(Sleepers::new());
            let nonempty = Arc::new(AtomicBool::new(false));
            let epoch = Arc::new(AtomicU64::new(0));

            let (s2, n2, e2) = (s.clone(), nonempty.clone(), epoch.clone());
            let pusher = loom::thread::spawn(move || {
                n2.store(true, SeqCst);
                fence(SeqCst);
                if s2.try_claim() {
                    e2.fetch_add(1, SeqCst);
                    true
                } else {
                    false
                }
            });

            let seen = epoch.load(SeqCst);
            s.enter();
            fence(SeqCst);
            let park = if nonempty.load(SeqCst) {
                s.leave();
                Park::Saw
            } else if epoch.load(SeqCst) == seen {
                Park::Slept { epoch: seen }
            } else {
                Park::Bounced
            };
            let claimed = pusher.join().unwrap();
            match park {
                Park::Saw => {}
                Park::Slept { epoch: seen } => {
                    // Asleep: only a claim (whose bump comes after our check) wakes us;
                    // a pusher that saw us parked must not have gone for a new thread.
                    assert!(claimed, "the item's pusher saw no sleeper, yet the worker slept");
                    assert_ne!(epoch.load(SeqCst), seen, "claimed but the epoch never moved");
                    s.leave();
                }
                Park::Bounced => s.leave(),
            }
            assert_eq!(s.word.load(SeqCst), 0, "a claim outlived the worker it promised");
        });
    }

    /// `Pool::retire` (leave the thread count, then look at the lists once more) against a
    /// push that finds the pool at its limit of one thread and so starts none: either the
    /// retiring worker sees the item and stays, or the pusher sees the freed slot.
    #[test]
    fn retiring_worker_and_push_at_limit_never_strand_the_item() {
        loom::model(|| {
            let threads = Arc::new(AtomicU64::new(1));
            let nonempty = Arc::new(AtomicBool::new(false));

            let (t2, n2) = (threads.clone(), nonempty.clone());
            let pusher = loom::thread::spawn(move || {
                n2.store(true, SeqCst);
                fence(SeqCst);
                // try_spawn(limit = 1): take a slot if one is free.
                let mut n = t2.load(SeqCst);
                loop {
                    if n >= 1 {
                        return false;
                    }
                    match t2.compare_exchange(n, n + 1, SeqCst, SeqCst) {
                        Ok(_) => return true,
                        Err(now) => n = now,
                    }
                }
            });

            threads.fetch_sub(1, SeqCst);
            fence(SeqCst);
            let stayed = nonempty.load(SeqCst);
            if stayed {
                threads.fetch_add(1, SeqCst);
            }
            let spawned = pusher.join().unwrap();
            assert!(stayed || spawned, "the worker retired and the pusher started nobody");
            assert!(threads.load(SeqCst) <= 2);
        });
    }

    /// `Idle`, with the real parker (a lost wake-up is a loom deadlock): a worker runs
    /// `Pool::worker_main`'s park loop (take an item, or prepare, re-check, cancel or
    /// park) while a pusher appends one item and calls `wake_claimed`, as `pool::push`
    /// does. When the claim fails the pusher stands for the thread `push` would start and
    /// runs the item itself; only then does the model stop the worker with a final wake,
    /// so a claimed worker must be woken by the pusher's own wake. The item runs once.
    #[test]
    fn claimed_worker_is_woken_by_the_push() {
        loom::model(|| {
            let idle = Arc::new(Idle::new());
            let items = Arc::new(AtomicU64::new(0));
            let ran = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let take = |items: &AtomicU64, ran: &AtomicU64| -> bool {
                let got = items.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
                if got {
                    ran.fetch_add(1, SeqCst);
                }
                got
            };

            let (i2, it2, r2, st2) = (idle.clone(), items.clone(), ran.clone(), stop.clone());
            let worker = loom::thread::spawn(move || loop {
                if take(&it2, &r2) || st2.load(SeqCst) {
                    return;
                }
                let ticket = i2.prepare();
                fence(SeqCst);
                if it2.load(SeqCst) > 0 || st2.load(SeqCst) {
                    i2.cancel();
                    continue;
                }
                i2.park(ticket, None);
            });

            items.fetch_add(1, SeqCst);
            fence(SeqCst);
            if !idle.wake_claimed() {
                take(&items, &ran); // the new worker `push` starts (the item may be gone)
                stop.store(true, SeqCst);
                idle.epoch.notify_one();
            }
            worker.join().unwrap();
            assert_eq!(ran.load(SeqCst), 1, "the item ran once");
            assert_eq!(idle.sleepers.word.load(SeqCst), 0, "a claim outlived the worker");
        });
    }

    /// `Pool::spin_for_work` (stop searching, then look at the lists) against a push that
    /// appends and then skips the wake-up because it sees a searcher
    /// (`Pool::make_sure_someone_looks`): whenever the pusher relied on the searcher, the
    /// searcher's last look sees the item. Two pushes race with the searcher, and every
    /// push either woke (or would start) a worker or is seen by the searcher.
    #[test]
    fn push_relying_on_a_searcher_is_seen_by_it() {
        loom::model(|| {
            let idle = Arc::new(Idle::new());
            let items = Arc::new(AtomicU64::new(0));
            idle.start_search();
            let pushers: Vec<_> = (0..2)
                .map(|_| {
                    let (i2, it2) = (idle.clone(), items.clone());
                    loom::thread::spawn(move || {
                        it2.fetch_add(1, SeqCst);
                        fence(SeqCst);
                        i2.anyone_searching() // true: relied on the searcher
                    })
                })
                .collect();
            idle.stop_search();
            fence(SeqCst);
            let seen = items.load(SeqCst);
            let relied = pushers.into_iter().map(|p| p.join().unwrap()).filter(|&r| r).count() as u64;
            assert!(seen >= relied, "a push relied on the searcher, which did not see it");
            assert!(!idle.anyone_searching());
        });
    }

    /// `MonitorBell`: the monitor (`Pool::monitor_main`: prepare, look at `pending`,
    /// sleep while nothing is pending) against a pusher that makes an item pending and
    /// rings (`pool::push` when no worker could be started): the monitor always gets to
    /// see the pending item; it is never left asleep with work pending.
    #[test]
    fn monitor_bell_never_sleeps_through_pending_work() {
        loom::model(|| {
            let bell = Arc::new(MonitorBell::new());
            let pending = Arc::new(AtomicU64::new(0));
            let (b2, p2) = (bell.clone(), pending.clone());
            let pusher = loom::thread::spawn(move || {
                p2.fetch_add(1, SeqCst);
                fence(SeqCst);
                b2.ring();
            });
            loop {
                let ticket = bell.prepare();
                fence(SeqCst);
                if pending.load(SeqCst) > 0 {
                    bell.awake();
                    break;
                }
                bell.sleep(ticket);
                bell.awake();
            }
            pusher.join().unwrap();
        });
    }
}
