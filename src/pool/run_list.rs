//! A root queue's run list: an intrusive FIFO of items under a short mutex.
//!
//! Root lists have many consumers (every worker), so the MPSC list of custom queues does
//! not fit; a futex mutex held for a few pointer writes is simple and uncontended in the
//! common case.

use super::job::Item;
use core::ptr;
use core::sync::atomic::Ordering;
use std::sync::Mutex;

struct Links {
    head: *mut Item,
    tail: *mut Item,
}

// SAFETY: the raw pointers are only touched under the mutex.
unsafe impl Send for Links {}

pub struct RunList {
    links: Mutex<Links>,
}

impl RunList {
    pub fn new() -> RunList {
        RunList { links: Mutex::new(Links { head: ptr::null_mut(), tail: ptr::null_mut() }) }
    }

    /// Appends `item`; `became_nonempty` runs under the lock when the list was empty.
    pub fn push(&self, item: *mut Item, became_nonempty: impl FnOnce()) {
        let mut l = self.links.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the pusher owns `item`; linked items are only touched under the lock.
        unsafe { (*item).next.store(ptr::null_mut(), Ordering::Relaxed) };
        if l.tail.is_null() {
            l.head = item;
            became_nonempty();
        } else {
            // SAFETY: `tail` is a live linked item.
            unsafe { (*l.tail).next.store(item, Ordering::Relaxed) };
        }
        l.tail = item;
    }

    /// Removes the first item; `became_empty` runs under the lock when it was the last.
    pub fn pop(&self, became_empty: impl FnOnce()) -> Option<*mut Item> {
        let mut l = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let head = l.head;
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is a live linked item.
        l.head = unsafe { (*head).next.load(Ordering::Relaxed) };
        if l.head.is_null() {
            l.tail = ptr::null_mut();
            became_empty();
        }
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
    /// Items on the list (walked under the held lock).
    pub fn len(&self) -> usize {
        let mut n = 0;
        let mut p = self.0.head;
        while !p.is_null() {
            n += 1;
            // SAFETY: linked items are live and only touched under the lock we hold.
            p = unsafe { (*p).next.load(Ordering::Relaxed) };
        }
        n
    }
}
