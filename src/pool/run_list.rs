//! A root queue's run list: a lock-free multi-producer stack in front of a FIFO that the
//! consumers take turns on.
//!
//! Producers (every `dispatch_async` onto a global queue, every queue put on its root)
//! never wait: a push is one CAS onto `inbox`, a Treiber stack, linking the item to the
//! old top first, so the stack is never in a half-pushed state. Consumers (the workers)
//! hold `consumer`, a try-lock held for a few pointer moves: a pop takes the head of
//! `fifo`; when that is empty it takes the whole inbox with one swap and reverses it into
//! `fifo` (the older items come out first, so each producer's items keep their order).
//! This is the arrangement of Linux's `llist` and of many MPSC inboxes; the stack's pop
//! is a swap of the whole stack, never a CAS on one item, so it has no ABA problem.
//!
//! Why not the intrusive MPSC of the queue lists (`queue/list.rs`): its push swaps the tail
//! and links the predecessor afterwards, and a `fork` between the two steps would leave the
//! child a list whose consumer waits forever for a link the vanished thread never writes.
//! Here the only shared state, `inbox`, changes in one atomic step, and the fork handler
//! holds `consumer` across `fork` (see `crate::fork`), so the child finds both parts whole.
//!
//! ## The non-empty bit
//!
//! The pool keeps one bit per list in a mask (one load finds the highest non-empty list).
//! A push that found `inbox` empty sets the bit (it may already be set: `fifo` had items).
//! A consumer that found both parts empty clears it, then looks at `inbox` again and sets
//! it back if a push got in between. Either the push's set comes after the clear (the bit
//! is set), or it came before, and then the push's CAS precedes the consumer's second look
//! (through the bit's read-modify-write order), which sees the item. The bit may be set
//! with the list empty for a moment (a pop then finds nothing, clears it, and moves on),
//! never clear with an item on the list once the pushes and pops in flight are done.
//!
//! ## Pushes onto a non-empty inbox
//!
//! Only a push that found the inbox empty makes sure a worker looks (`Pool::append`); one
//! that found items there relies on the push below it. That is safe because the inbox
//! leaves whole: the consumer whose swap takes the bottom item takes every item stacked on
//! it, and each pusher counts its item in `pending` *before* its CAS, so when that consumer
//! pops the first of them the count says more are behind, and it wakes the next worker and
//! rings the monitor (`Pool::pop`), as the skipped pushes would have done. The loom model
//! `skipped_look_is_covered` checks it.

use super::job::Item;
use crate::primitive::{spin_hint, AtomicBool, AtomicPtr, AtomicU32, AtomicUsize};
use core::ptr;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

pub struct RunList {
    /// Newest first; producers push here.
    inbox: AtomicPtr<Item>,
    /// Oldest first; touched only under `consumer` (so Relaxed: the lock orders it).
    fifo: AtomicPtr<Item>,
    /// Items on `fifo` (for the fork count).
    fifo_len: AtomicUsize,
    consumer: ConsumerLock,
    /// Items appended and not yet taken, kept by the pool (`Pool::append`, `Pool::pop`) on
    /// the list's own cache line: a push or pop already owns that line for its CAS, so the
    /// count costs no second line transfer, as a pool-wide counter did on every item.
    pub pending: AtomicUsize,
    /// Items taken so far (written under `consumer` only): progress, for the monitor.
    pub pops: AtomicUsize,
}

/// The link of a live item.
fn next_of<'a>(item: *mut Item) -> &'a AtomicPtr<Item> {
    // SAFETY: every pointer this list handles is a live item: pushed by a caller that owns
    // it until a consumer pops it (`push`'s contract), and only the list touches its link
    // meanwhile. The borrow does not outlive the item's stay on the list.
    unsafe { &(*item).next }
}

impl RunList {
    #[cfg(not(loom))]
    pub const fn new() -> RunList {
        RunList {
            inbox: AtomicPtr::new(ptr::null_mut()),
            fifo: AtomicPtr::new(ptr::null_mut()),
            fifo_len: AtomicUsize::new(0),
            consumer: ConsumerLock::new(),
            pending: AtomicUsize::new(0),
            pops: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    pub fn new() -> RunList {
        RunList {
            inbox: AtomicPtr::new(ptr::null_mut()),
            fifo: AtomicPtr::new(ptr::null_mut()),
            fifo_len: AtomicUsize::new(0),
            consumer: ConsumerLock::new(),
            pending: AtomicUsize::new(0),
            pops: AtomicUsize::new(0),
        }
    }

    /// Appends `item` (which the caller owns and which is on no list; it stays valid until
    /// a consumer pops it) and sets `bit` in `mask` if the inbox was empty. Returns whether
    /// it was: an item pushed onto a non-empty inbox leaves with the items below it, all
    /// taken by one consumer's swap.
    pub fn push(&self, item: *mut Item, mask: &AtomicU32, bit: u32) -> bool {
        let link = next_of(item);
        // Relaxed: the CAS below publishes it (Release on success).
        let mut top = self.inbox.load(Relaxed);
        loop {
            link.store(top, Relaxed);
            // SeqCst: the append is one side of the pool's push-then-wake / park-then-recheck
            // pairs (`sleepers.rs`). Failure: Relaxed, we only retry with the value.
            match self.inbox.compare_exchange(top, item, SeqCst, Relaxed) {
                Ok(_) => break,
                Err(now) => top = now,
            }
        }
        if top.is_null() {
            // SeqCst: the other half of the pool's wake protocol (a parking worker's
            // re-check reads the mask); see the module doc for the clear/re-check race.
            mask.fetch_or(bit, SeqCst);
        }
        top.is_null()
    }

    /// Removes the oldest item; clears `bit` in `mask` when it finds the list empty.
    pub fn pop(&self, mask: &AtomicU32, bit: u32) -> Option<*mut Item> {
        let _held = self.lock();
        let mut head = self.fifo.load(Relaxed);
        if head.is_null() {
            // Acquire: the pushers' Release CAS, so the items and their links are visible.
            let mut s = self.inbox.swap(ptr::null_mut(), Acquire);
            if s.is_null() {
                // SeqCst on both: see the module doc (clear, then look again).
                mask.fetch_and(!bit, SeqCst);
                if !self.inbox.load(SeqCst).is_null() {
                    mask.fetch_or(bit, SeqCst);
                }
                return None;
            }
            // Reverse the stack (newest first) into the FIFO (oldest first).
            let mut n = 0;
            while !s.is_null() {
                let next = next_of(s).load(Relaxed);
                next_of(s).store(head, Relaxed);
                head = s;
                s = next;
                n += 1;
            }
            self.fifo_len.store(n, Relaxed);
        }
        // Relaxed: `fifo` and its links are only touched under the consumer lock.
        self.fifo.store(next_of(head).load(Relaxed), Relaxed);
        // Relaxed, and neither is a read-modify-write (a locked instruction): only the lock
        // holder writes them; the fork count and the monitor only read.
        self.fifo_len.store(self.fifo_len.load(Relaxed) - 1, Relaxed);
        self.pops.store(self.pops.load(Relaxed).wrapping_add(1), Relaxed);
        Some(head)
    }

    fn lock(&self) -> Held<'_> {
        self.consumer.lock()
    }
}

/// The consumers' turn-taking: a spin lock held for a few pointer moves (a reversal of the
/// inbox at most, amortised over the items it moves). Loom cannot explore a spin lock under
/// a preemption bound (the spinner may be scheduled forever), so the models use loom's
/// mutex in its place; the lock-free parts (`inbox`, the non-empty bit) are the same code.
#[cfg(not(loom))]
struct ConsumerLock(AtomicBool);

#[cfg(not(loom))]
impl ConsumerLock {
    const fn new() -> ConsumerLock {
        ConsumerLock(AtomicBool::new(false))
    }

    fn lock(&self) -> Held<'_> {
        // Acquire: the previous holder's Release unlock, and with it its `fifo` writes. A
        // read-modify-write per attempt: it always sees the latest value.
        let mut spins = 0u32;
        while self.0.swap(true, Acquire) {
            // The holder may be reversing a long inbox, or be preempted: after a short
            // spin, give the CPU away (on a busy machine, to the very producer we wait for).
            spins += 1;
            if spins < 64 {
                spin_hint();
            } else {
                std::thread::yield_now();
            }
        }
        Held(self)
    }
}

/// The consumer lock, released on drop.
#[cfg(not(loom))]
struct Held<'a>(&'a ConsumerLock);

#[cfg(not(loom))]
impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Release: the next holder sees our `fifo` writes.
        self.0 .0.store(false, Release);
    }
}

#[cfg(loom)]
struct ConsumerLock(loom::sync::Mutex<()>);

#[cfg(loom)]
impl ConsumerLock {
    fn new() -> ConsumerLock {
        ConsumerLock(loom::sync::Mutex::new(()))
    }

    fn lock(&self) -> Held<'_> {
        Held(self.0.lock().unwrap())
    }
}

#[cfg(loom)]
struct Held<'a>(loom::sync::MutexGuard<'a, ()>);

/// A run list's consumer lock, held from `fork`'s prepare handler until the parent or child
/// handler (see `crate::fork`), so that no worker is in the middle of a pop when the
/// process is copied (pushes are single atomic steps, see the module doc).
pub struct ForkHeld(#[allow(dead_code)] Held<'static>, &'static RunList);

impl RunList {
    pub fn lock_for_fork(&'static self) -> ForkHeld {
        ForkHeld(self.lock(), self)
    }
}

impl ForkHeld {
    /// Items on the list (counted under the held lock; in the child, nothing else runs).
    pub fn len(&self) -> usize {
        self.1.count()
    }
}

impl RunList {
    /// Items on the list, for a caller no consumer or producer runs against.
    fn count(&self) -> usize {
        let mut n = self.fifo_len.load(Relaxed);
        // Acquire: as in `pop`, the pushed items' links.
        let mut s = self.inbox.load(Acquire);
        while !s.is_null() {
            n += 1;
            s = next_of(s).load(Relaxed);
        }
        n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::pool::job::ItemKind;

    /// FIFO order across the inbox/fifo boundary, the non-empty bit at the edges, and the
    /// count the fork check reads.
    #[test]
    fn fifo_edges_and_count() {
        let list: &'static RunList = Box::leak(Box::new(RunList::new()));
        let mask = AtomicU32::new(0);
        let items: Vec<*mut Item> =
            (0..4).map(|i| Box::leak(Box::new(Item::new(ItemKind::Continuation, i))) as *mut Item).collect();
        for _ in 0..2 {
            list.push(items[0], &mask, 1);
            list.push(items[1], &mask, 1);
            assert_eq!(mask.load(SeqCst), 1);
            assert_eq!(list.pop(&mask, 1), Some(items[0]));
            // Pushed while the first two sit in the fifo: they come after item 1.
            list.push(items[2], &mask, 1);
            list.push(items[3], &mask, 1);
            assert_eq!(list.lock_for_fork().len(), 3);
            let rest: Vec<*mut Item> = core::iter::from_fn(|| list.pop(&mask, 1)).collect();
            assert_eq!(rest, items[1..]);
            assert_eq!(mask.load(SeqCst), 0, "an empty list clears its bit");
            assert_eq!(list.lock_for_fork().len(), 0);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::pool::job::ItemKind;
    use loom::sync::Arc;

    struct Shared {
        list: RunList,
        mask: AtomicU32,
    }

    /// See the module doc, "Pushes onto a non-empty inbox": two pushers (count, then
    /// append) race with one consumer's pop (then the count's decrement, as `Pool::pop`).
    /// Once all are done, every item still on the list is covered: it or an item left with
    /// it was pushed onto an empty inbox (its pusher made sure a worker looks), or the
    /// consumer's pop saw more items counted behind the one it took (it wakes the next).
    #[test]
    fn skipped_look_is_covered() {
        loom::model(|| {
            let s = Arc::new(Shared { list: RunList::new(), mask: AtomicU32::new(0) });
            let pushers: Vec<_> = (0..2)
                .map(|tag| {
                    let s = s.clone();
                    loom::thread::spawn(move || {
                        s.list.pending.fetch_add(1, SeqCst);
                        let looked = s.list.push(item(tag), &s.mask, 1);
                        (tag, looked)
                    })
                })
                .collect();
            let mut popped = Vec::new();
            let mut saw_more = false;
            if let Some(i) = s.list.pop(&s.mask, 1) {
                saw_more = s.list.pending.fetch_sub(1, SeqCst) > 1;
                popped.push(i);
            }
            let looked: Vec<(u32, bool)> = pushers.into_iter().map(|p| p.join().unwrap()).collect();
            let mut left = Vec::new();
            while let Some(i) = s.list.pop(&s.mask, 1) {
                left.push(i);
            }
            let left = free_items(left);
            free_items(popped);
            let covered = left.is_empty()
                || saw_more
                || left.iter().any(|t| looked.iter().any(|&(tag, l)| tag == *t && l));
            assert!(covered, "items {left:?} left with nobody to look for them ({looked:?})");
        });
    }

    fn item(tag: u32) -> *mut Item {
        Box::into_raw(Box::new(Item::new(ItemKind::Continuation, tag)))
    }

    /// Frees items made by [`item`], each popped exactly once, and returns their tags.
    fn free_items(items: impl IntoIterator<Item = *mut Item>) -> Vec<u32> {
        // SAFETY: every item was leaked from a box by `item`, and the caller passes each
        // one once, after popping it.
        items.into_iter().map(|i| unsafe { Box::from_raw(i) }.tag).collect()
    }

    /// Two producers (one pushing two items) and two consumers racing on the list: every
    /// item comes out exactly once, a producer's later item never before its earlier one,
    /// and once everyone is done the bit is set if items remain (the consumers stop on a
    /// miss, so some may).
    #[test]
    fn pushes_and_pops_race_without_loss() {
        loom::model(|| {
            let s = Arc::new(Shared { list: RunList::new(), mask: AtomicU32::new(0) });
            let p = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    s.list.push(item(1), &s.mask, 1);
                    s.list.push(item(2), &s.mask, 1);
                })
            };
            let c = {
                let s = s.clone();
                loom::thread::spawn(move || s.list.pop(&s.mask, 1).map(|i| i as usize))
            };
            s.list.push(item(0), &s.mask, 1);
            let mut got: Vec<usize> = s.list.pop(&s.mask, 1).map(|i| i as usize).into_iter().collect();
            p.join().unwrap();
            got.extend(c.join().unwrap());
            let remaining = s.list.count();
            assert!(remaining == 0 || s.mask.load(SeqCst) != 0, "items left, yet the bit is clear");
            let racing = got.len();
            while let Some(i) = s.list.pop(&s.mask, 1) {
                got.push(i as usize);
            }
            assert_eq!(s.mask.load(SeqCst), 0);
            let tags = free_items(got.iter().map(|&i| i as *mut Item));
            let mut sorted = tags.clone();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2], "each item exactly once");
            // The pops after the joins come after every racing pop: if item 1 is among
            // them, item 2 (pushed after it) cannot have come out earlier.
            let later = &tags[racing..];
            if let Some(p1) = later.iter().position(|&t| t == 1) {
                assert!(later[p1..].contains(&2), "a producer's items in order");
            }
        });
    }
}
