//! A root queue's run list: an intrusive FIFO of items under a short mutex.
//!
//! Root lists have many consumers (every worker), so the MPSC list of custom queues does
//! not fit; a futex mutex held for a few pointer writes is simple and uncontended in the
//! common case.
//!
//! Only links between items are ever read: the tail's own `next` is not (`pop` knows the
//! last item by `tail`), so a push writes one link (the old tail's) and never its own
//! item's, and the fork check counts items instead of walking them. The pointer writes and
//! reads of those links are the list's two unsafe primitives.

use super::job::Item;
use core::ptr;
use core::sync::atomic::Ordering;
use std::sync::Mutex;

struct Links {
    head: *mut Item,
    tail: *mut Item,
    /// Items linked (for the fork check).
    len: usize,
}

// SAFETY: the raw pointers are only touched under the mutex.
unsafe impl Send for Links {}

pub struct RunList {
    links: Mutex<Links>,
}

impl RunList {
    pub fn new() -> RunList {
        RunList { links: Mutex::new(Links { head: ptr::null_mut(), tail: ptr::null_mut(), len: 0 }) }
    }

    /// Appends `item`; `became_nonempty` runs under the lock when the list was empty.
    pub fn push(&self, item: *mut Item, became_nonempty: impl FnOnce()) {
        let mut l = self.links.lock().unwrap_or_else(|e| e.into_inner());
        if l.tail.is_null() {
            l.head = item;
            became_nonempty();
        } else {
            // SAFETY: `tail` is a live linked item, only touched under the lock we hold.
            // Relaxed: the lock orders every access to the links.
            unsafe { (*l.tail).next.store(item, Ordering::Relaxed) };
        }
        l.tail = item;
        l.len += 1;
    }

    /// Removes the first item; `became_empty` runs under the lock when it was the last.
    pub fn pop(&self, became_empty: impl FnOnce()) -> Option<*mut Item> {
        let mut l = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let head = l.head;
        if head.is_null() {
            return None;
        }
        if head == l.tail {
            l.head = ptr::null_mut();
            l.tail = ptr::null_mut();
            became_empty();
        } else {
            // SAFETY: `head` is a live linked item other than the tail, so a push linked
            // its `next`; linked items are only touched under the lock we hold.
            // Relaxed: the lock orders every access to the links.
            l.head = unsafe { (*head).next.load(Ordering::Relaxed) };
        }
        l.len -= 1;
        Some(head)
    }
}

/// A run list's lock, held from `fork`'s prepare handler until the parent or child handler
/// (see `crate::fork`), so that no other thread of the parent is inside the list when the
/// process is copied.
pub struct ForkHeld(std::sync::MutexGuard<'static, Links>);

impl RunList {
    pub fn lock_for_fork(&'static self) -> ForkHeld {
        ForkHeld(self.links.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ForkHeld {
    /// Items on the list (counted under the held lock).
    pub fn len(&self) -> usize {
        self.0.len
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::pool::job::ItemKind;

    /// FIFO order, the empty/non-empty callbacks at the edges, and the count the fork check
    /// reads, with a stale `next` left in popped items (the tail's link is never read).
    #[test]
    fn fifo_edges_and_count() {
        let list: &'static RunList = Box::leak(Box::new(RunList::new()));
        let items: Vec<*mut Item> =
            (0..3).map(|i| Box::leak(Box::new(Item::new(ItemKind::Continuation, i))) as *mut Item).collect();
        let (mut nonempty, mut empty) = (0, 0);
        for round in 0..2 {
            for &it in &items {
                list.push(it, || nonempty += 1);
            }
            assert_eq!(list.lock_for_fork().len(), 3);
            let popped: Vec<*mut Item> = core::iter::from_fn(|| list.pop(|| empty += 1)).collect();
            assert_eq!(popped, items);
            assert_eq!(list.lock_for_fork().len(), 0);
            assert_eq!((nonempty, empty), (round + 1, round + 1));
        }
        list.push(items[2], || nonempty += 1);
        assert_eq!(list.pop(|| empty += 1), Some(items[2]));
        assert_eq!(list.pop(|| empty += 1), None);
        assert_eq!((nonempty, empty), (3, 3));
    }
}
