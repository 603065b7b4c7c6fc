//! The item list of a queue: an intrusive multi-producer, single-consumer FIFO.
//!
//! The algorithm is libdispatch's (`os_mpsc_push_update_tail` / `_dispatch_wait_for_enqueuer`),
//! itself a variant of Dmitry Vyukov's intrusive MPSC queue. A producer swaps itself into
//! `tail` (the linearisation point of `push`), then links the predecessor's `next` (or
//! `head`, when the list was empty). The consumer — whoever holds the queue's drain lock —
//! may observe the short window between those two stores; it then spins until the link
//! appears ("waiting for the enqueuer"), which costs at most a preempted producer's
//! remaining two instructions.
//!
//! `push` reports whether the list was empty, so the producer that made it non-empty is
//! the one that must wake the queue (see `state.rs`).

use super::item::Item;
use crate::primitive::{spin_hint, AtomicPtr};
use core::ptr;
use core::sync::atomic::Ordering;

pub struct ItemList {
    head: AtomicPtr<Item>,
    tail: AtomicPtr<Item>,
}

impl ItemList {
    #[cfg(not(loom))]
    pub const fn new() -> ItemList {
        ItemList { head: AtomicPtr::new(ptr::null_mut()), tail: AtomicPtr::new(ptr::null_mut()) }
    }

    #[cfg(loom)]
    pub fn new() -> ItemList {
        ItemList { head: AtomicPtr::new(ptr::null_mut()), tail: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Appends `item`. Returns `true` when the list was empty before.
    ///
    /// # Safety
    /// `item` must be valid and not on any list until the consumer pops it.
    pub unsafe fn push(&self, item: *mut Item) -> bool {
        // SAFETY: the two links this writes are live: `item` is the caller's until it is
        // linked (contract), and `prev`, the tail we displaced, cannot be freed before its
        // `next` is set, because the consumer waits for that store before popping past it
        // (`pop`).
        unsafe {
            (*item).next.store(ptr::null_mut(), Ordering::Relaxed);
            // SeqCst: the swap is the push's linearisation point and takes part in the
            // push-then-wake / unlock-then-recheck protocol with the queue state word.
            let prev = self.tail.swap(item, Ordering::SeqCst);
            if prev.is_null() {
                // Release: the consumer's Acquire load of `head` sees the item's contents.
                self.head.store(item, Ordering::Release);
                true
            } else {
                // Release: the consumer's Acquire load of `next` sees the item's contents.
                (*prev).next.store(item, Ordering::Release);
                false
            }
        }
    }

    /// Whether some item was pushed and not yet popped.
    pub fn is_empty(&self) -> bool {
        self.tail.load(Ordering::SeqCst).is_null()
    }

    /// The first item, without removing it. Consumer only.
    pub fn peek(&self) -> *mut Item {
        // Acquire: pairs with the producer's Release store of `head`.
        let h = self.head.load(Ordering::Acquire);
        if !h.is_null() || self.is_empty() {
            return h;
        }
        // A producer swapped `tail` but has not stored `head` yet.
        loop {
            let h = self.head.load(Ordering::Acquire);
            if !h.is_null() {
                return h;
            }
            spin_hint();
        }
    }

    /// Removes `first`, which must be the item [`ItemList::peek`] returned. Consumer only.
    ///
    /// # Safety
    /// `first` must be the current head, obtained by this consumer.
    pub unsafe fn pop(&self, first: *mut Item) {
        // SAFETY: `first` is a live item on this list (caller's contract).
        let next_of_first = unsafe { &(*first).next };
        // Acquire: pairs with the producer's Release store of `next`.
        let next = next_of_first.load(Ordering::Acquire);
        if !next.is_null() {
            self.head.store(next, Ordering::Relaxed);
            return;
        }
        // `first` looks like the last item: try to empty the list.
        self.head.store(ptr::null_mut(), Ordering::Relaxed);
        // SeqCst: pairs with the producers' swap (see `push`).
        if self.tail.compare_exchange(first, ptr::null_mut(), Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return;
        }
        // A producer got in after `first`; wait for it to link `first.next`.
        loop {
            let next = next_of_first.load(Ordering::Acquire);
            if !next.is_null() {
                self.head.store(next, Ordering::Relaxed);
                return;
            }
            spin_hint();
        }
    }
}

impl Default for ItemList {
    fn default() -> Self {
        ItemList::new()
    }
}

/// For the models: a list that owns its (boxed) items, so that any thread may push safely,
/// and whose one [`model::Consumer`] pops them back.
#[cfg(all(test, loom))]
pub mod model {
    use super::ItemList;
    use crate::queue::item::Item;
    use loom::sync::Arc;

    pub struct BoxList(ItemList);

    impl BoxList {
        /// A list and its only consumer.
        pub fn new() -> (Arc<BoxList>, Consumer) {
            let list = Arc::new(BoxList(ItemList::new()));
            (list.clone(), Consumer(list))
        }

        /// [`ItemList::push`] of an item the list owns from now on.
        pub fn push(&self, item: Box<Item>) -> bool {
            // SAFETY: the box was ours, so the item is valid and on no list; leaked here,
            // it stays valid until the consumer takes the box back (or forever).
            unsafe { self.0.push(Box::into_raw(item)) }
        }

        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    /// The consumer of a [`BoxList`]: one per list (not `Clone`), so it is the only thread
    /// that pops. Dropped, it frees what is still on the list.
    pub struct Consumer(Arc<BoxList>);

    impl Consumer {
        pub fn pop(&mut self) -> Option<Box<Item>> {
            let list = &self.0 .0;
            let head = list.peek();
            if head.is_null() {
                return None;
            }
            // SAFETY: this is the list's only consumer and `head` the head it just peeked;
            // every item on the list is a box `BoxList::push` leaked, so it is ours again.
            unsafe {
                list.pop(head);
                Some(Box::from_raw(head))
            }
        }
    }

    impl Drop for Consumer {
        fn drop(&mut self) {
            while self.pop().is_some() {}
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::model::BoxList;
    use crate::queue::item::{Item, ItemKind};

    /// Two producers and the consumer: every item comes out exactly once, each producer's
    /// items in its own order, and `push` reports "was empty" exactly when it was.
    #[test]
    fn mpsc_delivers_everything_in_order() {
        loom::model(|| {
            let (list, mut consumer) = BoxList::new();
            let producer = {
                let list = list.clone();
                loom::thread::spawn(move || {
                    list.push(Box::new(Item::new(ItemKind::Continuation, 1)));
                    list.push(Box::new(Item::new(ItemKind::Continuation, 2)));
                })
            };
            list.push(Box::new(Item::new(ItemKind::Continuation, 0)));
            let mut seen = Vec::new();
            while seen.len() < 3 {
                match consumer.pop() {
                    Some(item) => seen.push(item.tag),
                    None => loom::thread::yield_now(),
                }
            }
            producer.join().unwrap();
            assert!(list.is_empty());
            let p1 = seen.iter().position(|&t| t == 1).unwrap();
            let p2 = seen.iter().position(|&t| t == 2).unwrap();
            assert!(p1 < p2);
        });
    }
}
