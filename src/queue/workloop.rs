//! Workloops: serial queues whose items run in QoS order.
//!
//! A workloop is a custom serial queue (same state word, same MPSC list, same drain,
//! same sync hand-off) with one addition: its drainer does not run the list's head but
//! the oldest item of the highest QoS class waiting. Producers keep pushing onto the
//! lock-free list, which serves as the workloop's inbox; the drain-lock owner moves what
//! arrived into per-class FIFOs ([`Pending`]) and takes the front of the highest non-empty
//! one. Only the drain-lock owner touches the FIFOs, so their mutex is never contended; an
//! atomic count of what they hold lets anyone ask whether the workloop still has work (a
//! resume after a suspension that left items in the FIFOs must re-wake it).
//!
//! This is the design of Apple's `dispatch_workloop` (a root-level serial queue whose
//! items are ordered by priority, `workloop_private.h`), built from the runtime's own
//! machinery rather than a second scheduler: an item's class is its own (`qos` of the
//! continuation: block QoS, `dispatch_async_enforce_qos_class_f`), a child queue's class is
//! the child's, and anything unspecified runs at the workloop's class (its floor, or
//! default).
//!
//! Items of a workloop, and items of queues that target it, run with the workloop in the
//! thread's frame chain, which is what `dispatch_workloop_is_current` asks.

use super::frames;
use super::object::{Extension, Queue};
use super::root::{rank_of_qos, QOS_DEFAULT};
use super::taken::{Drain, Taken};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// QoS classes a workloop orders by (the six of `root.rs`).
const CLASSES: usize = 6;

/// What the drain-lock owner took off the inbox and has not run yet: one FIFO per class.
struct Pending([VecDeque<Taken>; CLASSES]);

// SAFETY: the items are owned by the workloop while they sit here and are only touched by
// the thread holding its drain lock (the mutex makes the hand-over between owners sound);
// what they point at (a client context, a parked waiter) is meant to be used from the
// thread that runs the item, whichever it is.
unsafe impl Send for Pending {}

/// The parts of a queue that make it a workloop.
pub struct Workloop {
    pending: Mutex<Pending>,
    /// Items in `pending` (SeqCst: read by `has_pending` against the state word's CAS).
    count: AtomicUsize,
    /// Class rank of the item the drain-lock owner took last (the one running).
    running_rank: AtomicUsize,
    /// `dispatch_workloop_set_qos_class_floor`: class of items that name none (0: default).
    pub floor_qos: AtomicU32,
    /// `dispatch_workloop_set_cpupercent`: recorded; Linux has no per-workloop CPU budget.
    pub cpu_percent: AtomicU8,
    /// `dispatch_workloop_set_autorelease_frequency`.
    pub autorelease_frequency: AtomicU8,
}

impl Default for Workloop {
    fn default() -> Self {
        Workloop {
            pending: Mutex::new(Pending(Default::default())),
            count: AtomicUsize::new(0),
            running_rank: AtomicUsize::new(0),
            floor_qos: AtomicU32::new(0),
            cpu_percent: AtomicU8::new(100),
            autorelease_frequency: AtomicU8::new(0),
        }
    }
}

impl Extension for Workloop {
    /// Whether items wait in the per-class FIFOs.
    fn has_pending(&self) -> bool {
        self.count.load(SeqCst) != 0
    }
}

impl Queue {
    /// The workloop part, if this queue is a workloop.
    pub fn workloop(&self) -> Option<&Workloop> {
        self.extension()
    }
}

impl Workloop {
    /// The class rank an item runs at on this workloop.
    fn rank_of(&self, item: &Taken) -> usize {
        let qos = match item {
            Taken::Continuation(c) => c.qos,
            Taken::Queue(q) => q.qos(),
            Taken::Waiter(_) => 0,
        };
        let qos = match qos {
            0 => match self.floor_qos.load(SeqCst) {
                0 => QOS_DEFAULT,
                floor => floor,
            },
            q => q,
        };
        rank_of_qos(qos)
    }

    /// Moves everything in the inbox (`d`'s list) into the per-class FIFOs, in arrival
    /// order, and returns the locked FIFOs.
    fn file_inbox(&self, d: &Drain<'_>) -> std::sync::MutexGuard<'_, Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(item) = d.pop() {
            let rank = self.rank_of(&item);
            pending.0[rank].push_back(item);
            self.count.fetch_add(1, SeqCst);
        }
        pending
    }

    /// Takes the next item to run: everything in the inbox is filed by class first, then
    /// the oldest item of the highest class is returned. `d` is the witness of holding
    /// this workloop's drain lock.
    pub fn take_next(&self, d: &Drain<'_>) -> Option<Taken> {
        let mut pending = self.file_inbox(d);
        for (rank, fifo) in pending.0.iter_mut().enumerate().rev() {
            if let Some(item) = fifo.pop_front() {
                self.count.fetch_sub(1, SeqCst);
                self.running_rank.store(rank, SeqCst);
                return Some(item);
            }
        }
        None
    }
}

impl Workloop {
    /// Whether an item of a higher class than the running one waits (the drain-lock owner
    /// asks, from inside an item: `_dispatch_workloop_should_yield_4NW`).
    pub fn has_higher_waiting(&self, d: &Drain<'_>) -> bool {
        let pending = self.file_inbox(d);
        pending.0[self.running_rank.load(SeqCst) + 1..].iter().any(|fifo| !fifo.is_empty())
    }
}

/// The workloop the calling thread runs on behalf of (directly or through a queue that
/// targets it), if any.
pub fn current() -> Option<&'static Queue> {
    frames::find_held(|q| q.workloop().is_some())
}

/// `_dispatch_workloop_should_yield_4NW`: whether the current workloop has work of a
/// higher class than the item running now.
pub fn should_yield() -> bool {
    let Some(q) = current() else { return false };
    let Some(w) = q.workloop() else { return false };
    // A workloop is serial, so holding it (a frame of this thread or below one) means
    // holding its drain lock, which makes this thread its list's consumer.
    let Some(d) = Drain::held(q, frames::thread_id()) else { return false };
    w.has_higher_waiting(&d)
}

/// The next item `d`'s consumer runs: the list's head, or on a workloop the oldest item
/// of the highest class.
#[inline]
pub fn take_next(d: &Drain<'_>) -> Option<Taken> {
    match d.queue().workloop() {
        Some(w) => w.take_next(d),
        None => d.pop(),
    }
}
