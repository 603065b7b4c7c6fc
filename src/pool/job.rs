//! The header of every job: an [`Item`] embedded first in a continuation (a submitted
//! function), a sync waiter (a parked `dispatch_sync` caller), or a queue (a child queue
//! enqueued on its target). The pool links items through `next` and hands each popped one
//! to the runner the queue layer installed (`pool::push`), as rayon-core's registry runs a
//! `JobRef` (a data pointer and an execute function) without knowing the job's type; only
//! that runner reads `kind`. Queue lists (`queue/list.rs`) link the same header.

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
