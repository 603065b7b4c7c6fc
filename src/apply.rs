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
//! A serial queue runs every iteration on the caller's thread under a `dispatch_sync`.
use crate::callback::ClientApplyFn;
use crate::park::Event;
use crate::primitive::spin_hint;
use crate::queue::continuation::Continuation;
use crate::queue::{self, frames, root, sync, Queue};
use crate::sys;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Shared {
    next: AtomicUsize,
    finished: AtomicUsize,
    n: usize,
    /// Threads that may claim chunks (helpers and the caller).
    participants: usize,
    work: ClientApplyFn,
    done: Event,
}

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

    /// Claims and runs chunks until none is left.
    fn run(&self) {
        // A copy in registers: the loop below calls through it without reloading it from
        // the shared state (whose cache line the counters' updates keep taking away).
        let work = self.work;
        while let Some((start, end)) = self.claim() {
            for i in start..end {
                // Each index below `n` is handed out once, by the counter.
                work.call(i);
            }
            // AcqRel: the caller's Acquire load of the total sees every iteration's effects.
            if self.finished.fetch_add(end - start, Ordering::AcqRel) + (end - start) == self.n {
                self.done.set();
            }
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

/// `dispatch_apply_f`. `q` is `None` for `DISPATCH_APPLY_AUTO`.
pub fn apply_f(n: usize, q: Option<&Queue>, work: ClientApplyFn) {
    if n == 0 {
        return;
    }
    let q = q.unwrap_or_else(|| frames::current().and_then(|c| c.root()).unwrap_or(root::default_queue()));
    // A serial queue runs every index on this thread, as one chunk, under one sync.
    let helpers = if q.is_serial() { 0 } else { sys::cpu_count().min(n) - 1 };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        n,
        participants: if q.is_serial() { 1 } else { helpers + 1 },
        work,
        done: Event::new(),
    });
    for _ in 0..helpers {
        let s = shared.clone();
        queue::submit(q, Continuation::from_closure(Box::new(move || s.run())));
    }
    if q.is_serial() {
        // One chunk: every index, in order, on this thread.
        sync::sync_run(q, &|| shared.run_all(), false, false);
    } else if q.is_root() {
        frames::with_frame(q, || shared.run());
    } else {
        sync::sync_run(q, &|| shared.run(), false, false);
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
