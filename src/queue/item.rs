//! What sits on a queue's list: an [`Item`] header embedded first in a continuation
//! (a submitted function), a sync waiter (a parked `dispatch_sync` caller), or a queue
//! (a child queue enqueued on its target).

use crate::primitive::AtomicPtr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ItemKind {
    Continuation = 1,
    SyncWaiter = 2,
    Queue = 3,
}

/// The intrusive link. Always the first field of the structure it heads.
#[repr(C)]
pub struct Item {
    pub next: AtomicPtr<Item>,
    pub kind: ItemKind,
    /// Free for the owner's use (tests, debugging).
    pub tag: u32,
}

impl Item {
    #[cfg(not(loom))]
    pub const fn new(kind: ItemKind, tag: u32) -> Item {
        Item { next: AtomicPtr::new(core::ptr::null_mut()), kind, tag }
    }

    #[cfg(loom)]
    pub fn new(kind: ItemKind, tag: u32) -> Item {
        Item { next: AtomicPtr::new(core::ptr::null_mut()), kind, tag }
    }
}
