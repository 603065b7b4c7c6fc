//! `dispatch_apply`: run `work(i)` for every `i < n`, in parallel, and return when all ran.
//!
//! The caller always participates, so an apply completes even when no worker is free
//! (which is also why nested applies cannot deadlock). Helpers — at most one per CPU
//! beyond the caller — are submitted to the queue and claim chunks of indices from a
//! shared counter; a helper that starts after all indices are claimed finds nothing to do
//! and simply returns. The caller waits until the count of *finished* indices reaches `n`;
//! the shared state is reference-counted, so late helpers never touch freed memory.
//!
//! A serial queue runs every iteration on the caller's thread under a `dispatch_sync`.

use crate::callback::ClientApplyFn;
use crate::park::Event;
use crate::queue::continuation::Continuation;
use crate::queue::{self, frames, root, sync, Queue};
use crate::sys;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Shared {
    next: AtomicUsize,
    finished: AtomicUsize,
    n: usize,
    chunk: usize,
    work: ClientApplyFn,
    done: Event,
}

impl Shared {
    /// Claims and runs chunks until none is left.
    fn run(&self) {
        loop {
            // Relaxed: the counter only hands out disjoint ranges.
            let start = self.next.fetch_add(self.chunk, Ordering::Relaxed);
            if start >= self.n {
                return;
            }
            let end = (start + self.chunk).min(self.n);
            for i in start..end {
                // Each index below `n` is handed out once, by the counter.
                self.work.call(i);
            }
            // AcqRel: the caller's Acquire load of the total sees every iteration's effects.
            if self.finished.fetch_add(end - start, Ordering::AcqRel) + (end - start) == self.n {
                self.done.set();
            }
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
    let chunk = if q.is_serial() { n } else { (n / ((helpers + 1) * 16)).max(1) };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        n,
        chunk,
        work,
        done: Event::new(),
    });
    for _ in 0..helpers {
        let s = shared.clone();
        queue::submit(q, Continuation::from_closure(Box::new(move || s.run())));
    }
    if q.is_root() {
        frames::with_frame(q, || shared.run());
    } else {
        sync::sync_run(q, &|| shared.run(), false, false);
    }
    // Acquire: pairs with the helpers' AcqRel increments.
    while shared.finished.load(Ordering::Acquire) < n {
        shared.done.wait();
    }
}
