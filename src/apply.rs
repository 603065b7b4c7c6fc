//! `dispatch_apply`: run `work(i)` for every `i < n`, in parallel, and return when all ran.
//!
//! The caller always participates, so an apply completes even when no worker is free
//! (which is also why nested applies cannot deadlock). Helpers — at most one per CPU
//! beyond the caller — are submitted to the queue and claim chunks of indices from a
//! shared counter; a helper that starts after all indices are claimed finds nothing to do
//! and simply returns. The caller waits until the count of *finished* indices reaches `n`;
//! the shared state is reference-counted, so late helpers never touch freed memory.
//!
//! Chunks are *guided* (OpenMP's `schedule(guided)`): each claim takes a share of what is
//! left, `remaining / (2 × participants)`, so the first claims are large (few atomic
//! operations on the shared counter for a million trivial iterations) and the last ones
//! are single indices (participants finish within about one iteration of each other,
//! whatever the iterations cost and however late a helper woke up). The caller, done
//! with its part, spins briefly for the helpers' last indices before it parks: their
//! share is then small, and a futex sleep and wake-up costs more than it.
//!
//! A helper that runs out of indices stays *hot* for a moment (`hot.rs`): it offers itself
//! on a mailbox before it reports its last chunk, and spins there for at most
//! [`HOT_SPIN_NS`] (and no longer than the region it leaves lasted, so short applies do
//! not pay a long spin). The next apply on the same root queue hands its region to the
//! hot helpers first and submits helpers only for the rest, so back-to-back applies are
//! joined at once, as OpenMP's spinning threads join the next `parallel for`, instead of
//! a parked worker's wake-up later. Offering before the last report means the caller,
//! which returns after that report, finds the helper offered when it starts the next
//! apply.
//!
//! A serial queue runs every iteration on the caller's thread under a `dispatch_sync`.
mod hot;

use crate::callback::ClientApplyFn;
use crate::park::Event;
use crate::primitive::spin_hint;
use crate::queue::continuation::Continuation;
use crate::queue::{self, frames, root, sync, Queue};
use crate::sys::{self, Clock};
use core::sync::atomic::{AtomicUsize, Ordering};
use hot::Mailboxes;
use std::sync::{Arc, LazyLock};

struct Shared {
    next: AtomicUsize,
    finished: AtomicUsize,
    n: usize,
    /// Threads that may claim chunks (helpers and the caller).
    participants: usize,
    work: ClientApplyFn,
    done: Event,
    /// When the caller began (monotonic ns): how long a helper leaving it may stay hot.
    began: u64,
}

/// The mailboxes of hot helpers (`hot.rs`).
static HOT: LazyLock<Mailboxes> = LazyLock::new(Mailboxes::new);

/// The longest a helper stays hot after a region: a few parked-worker wake-ups.
const HOT_SPIN_NS: u64 = 100_000;

/// The size of the next guided chunk when `remaining` indices are left to claim.
fn guided_chunk(remaining: usize, participants: usize) -> usize {
    (remaining / (2 * participants)).max(1)
}

/// How often the caller checks for the helpers' last indices before it parks.
const SPINS_BEFORE_PARKING: u32 = 1 << 12;

impl Shared {
    /// Claims the next chunk: `start..end`, or `None` when every index is claimed.
    fn claim(&self) -> Option<(usize, usize)> {
        // Relaxed: the counter only hands out disjoint ranges; what an iteration wrote is
        // published by `finished`.
        let mut start = self.next.load(Ordering::Relaxed);
        loop {
            if start >= self.n {
                return None;
            }
            let end = start + guided_chunk(self.n - start, self.participants);
            // Relaxed: as above.
            match self.next.compare_exchange_weak(start, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some((start, end)),
                Err(now) => start = now,
            }
        }
    }

    /// Claims and runs chunks until none is left; `before_last_report` runs once no chunk
    /// is left, before this thread reports its last one (so before the caller can return).
    fn run(&self, mut before_last_report: impl FnMut()) {
        // A copy in registers: the loop below calls through it without reloading it from
        // the shared state (whose cache line the counters' updates keep taking away).
        let work = self.work;
        let mut chunk = self.claim();
        while let Some((start, end)) = chunk {
            for i in start..end {
                // Each index below `n` is handed out once, by the counter.
                work.call(i);
            }
            chunk = self.claim();
            if chunk.is_none() {
                before_last_report();
            }
            // AcqRel: the caller's Acquire load of the total sees every iteration's effects.
            if self.finished.fetch_add(end - start, Ordering::AcqRel) + (end - start) == self.n {
                self.done.set();
            }
        }
    }

    /// A helper's part: its chunks, then hot on a mailbox for `key`'s next regions.
    fn help(self: Arc<Shared>, key: usize) {
        let mut slot = None;
        self.run(|| slot = HOT.offer(key));
        let mut region = self;
        loop {
            let Some(offered) = slot.or_else(|| HOT.offer(key)) else {
                return;
            };
            let now = sys::now_ns(Clock::Monotonic);
            let deadline = now + HOT_SPIN_NS.min(now.saturating_sub(region.began));
            drop(region);
            let Some(next) = stay_hot(offered, key, deadline) else {
                return;
            };
            region = next;
            slot = None;
            region.run(|| slot = HOT.offer(key));
        }
    }

    /// Waits until every index ran.
    fn wait(&self) {
        // Acquire (both loads): pairs with the helpers' AcqRel increments.
        for _ in 0..SPINS_BEFORE_PARKING {
            if self.finished.load(Ordering::Acquire) >= self.n {
                return;
            }
            spin_hint();
        }
        while self.finished.load(Ordering::Acquire) < self.n {
            self.done.wait();
        }
    }
}

/// Spins on mailbox `slot` (offered for `key`) until a region is handed to it or
/// `deadline` (monotonic ns) passes.
fn stay_hot(slot: usize, key: usize, deadline: u64) -> Option<Arc<Shared>> {
    loop {
        for _ in 0..64 {
            if let Some(word) = HOT.take(slot) {
                // The word a `hand` stored, which `take` gives back once.
                return Some(Payload(word).into_region());
            }
            spin_hint();
        }
        if sys::now_ns(Clock::Monotonic) >= deadline && HOT.withdraw(slot, key) {
            return None;
        }
    }
}

/// Hands the region to up to `helpers` hot helpers of root queue `key`; how many took it.
fn hand_to_hot(shared: &Arc<Shared>, key: usize, helpers: usize) -> usize {
    let mut handed = 0;
    while handed < helpers {
        let payload = Payload::new(shared);
        if !HOT.hand(key, payload.0) {
            // Nobody took it: the reference is still ours.
            drop(payload.into_region());
            break;
        }
        handed += 1;
    }
    handed
}

/// One reference on a region as a mailbox word (`Arc::into_raw`: aligned, so even, and
/// non-zero): what `hand` gives away and `take` gives back.
struct Payload(usize);

impl Payload {
    fn new(region: &Arc<Shared>) -> Payload {
        Payload(Arc::into_raw(region.clone()) as usize)
    }

    fn into_region(self) -> Arc<Shared> {
        // SAFETY: the word is one `Payload::new` made (given back by the mailbox, which
        // returns a handed word once, or kept by a failed hand), and owns the reference
        // `into_raw` made; consuming `self` uses it once.
        unsafe { Arc::from_raw(self.0 as *const Shared) }
    }
}

/// `dispatch_apply_f`. `q` is `None` for `DISPATCH_APPLY_AUTO`.
pub fn apply_f(n: usize, q: Option<&Queue>, work: ClientApplyFn) {
    if n == 0 {
        return;
    }
    let q = q.unwrap_or_else(|| frames::current().and_then(|c| c.root()).unwrap_or(root::default_queue()));
    // A serial queue runs every index on this thread, as one chunk, under one sync.
    let helpers = if q.is_serial() { 0 } else { crate::pool::cpus().min(n) - 1 };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        n,
        participants: if q.is_serial() { 1 } else { helpers + 1 },
        work,
        done: Event::new(),
        began: if helpers > 0 { sys::now_ns(Clock::Monotonic) } else { 0 },
    });
    // Hot helpers run on a root queue's worker, so they only join that root queue's
    // regions (the frame and QoS they run under are the ones a submitted helper gets);
    // a custom concurrent queue's helpers are its own items.
    let hot_key = if q.is_root() && helpers > 0 { Some(q as *const Queue as usize) } else { None };
    let handed = hot_key.map_or(0, |key| hand_to_hot(&shared, key, helpers));
    for _ in handed..helpers {
        let s = shared.clone();
        let help: Box<dyn FnOnce() + Send> = match hot_key {
            Some(key) => Box::new(move || s.help(key)),
            None => Box::new(move || s.run(|| {})),
        };
        queue::submit(q, Continuation::from_closure(help));
    }
    if q.is_serial() {
        // One chunk: every index, in order, on this thread.
        sync::sync_run(q, &|| shared.run_all(), false, false);
    } else if q.is_root() {
        frames::with_frame(q, || shared.run(|| {}));
    } else {
        sync::sync_run(q, &|| shared.run(|| {}), false, false);
    }
    shared.wait();
}

impl Shared {
    /// A serial queue's apply: every index in one go.
    fn run_all(&self) {
        let work = self.work;
        // Relaxed: this thread alone claims (no helpers); `wait` is on this thread too.
        self.next.store(self.n, Ordering::Relaxed);
        for i in 0..self.n {
            work.call(i);
        }
        self.finished.store(self.n, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::guided_chunk;

    /// The guided schedule covers every index exactly once, in non-increasing chunks that
    /// start at a share of the whole and end with single indices.
    #[test]
    fn guided_chunks_shrink_to_single_indices() {
        for (n, participants) in [(1_000_000, 2), (2000, 2), (7, 2), (1, 1), (100, 8), (10, 1)] {
            let (mut next, mut sizes) = (0, Vec::new());
            while next < n {
                let size = guided_chunk(n - next, participants);
                sizes.push(size);
                next += size;
            }
            assert_eq!(next, n, "chunks cover exactly n = {n}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "chunks never grow");
            assert_eq!(sizes[0], (n / (2 * participants)).max(1));
            assert_eq!(*sizes.last().unwrap(), 1, "the last chunk is one index");
            if n == 1_000_000 {
                assert!(sizes.len() < 100, "{} claims for a million indices", sizes.len());
            }
        }
    }
}
