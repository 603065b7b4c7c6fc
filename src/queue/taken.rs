//! The typed views of a list item that the consumer of a list works with.
//!
//! An item goes on a list as a bare pointer, by one of three typed pushes (`queue::submit`
//! for a `ContinuationBox`, `queue::enqueue_on_target` for a queue carrying the
//! enqueue's internal reference, `queue::sync`'s park for a waiter on its caller's stack).
//! The consumer turns it back into what it was in one place, [`Taken::from_item`]; the
//! rest of the queue layer only sees [`Taken`] (an item it now owns) and [`Peeked`] (the
//! head, still on the list).
//!
//! Being a list's consumer is a fact of the drain protocol (holding the drain lock, or
//! being the thread a thread-bound queue belongs to), not of the types; a [`Drain`] is the
//! witness of it, created where the protocol establishes it, and the only way to pop.

use super::continuation::{Continuation, ContinuationBox, SyncWaiter};
use super::frames;
use super::item::{Item, ItemKind};
use super::object::{queue_of_item, Queue};
use super::state::DrainStart;
use crate::object::Ref;
use crate::sys::slab::SlabBox;
use core::ptr::NonNull;

/// An item taken off a list, owned by whoever took it.
pub enum Taken {
    /// A submitted function (from `Continuation::boxed`).
    Continuation(ContinuationBox),
    /// A parked `dispatch_sync` caller.
    Waiter(Waiter),
    /// A child queue, with the internal reference its enqueue took.
    Queue(Ref<Queue>),
}

impl Taken {
    /// What a popped item is.
    ///
    /// # Safety
    /// `item` was an [`OwnedItem`] (built by one of the typed pushes) and is now the caller's:
    /// popped from the list it was pushed on, by that list's consumer, and not yet turned
    /// into a `Taken`.
    pub unsafe fn from_item(item: NonNull<Item>) -> Taken {
        let p = item.as_ptr();
        // SAFETY: per the contract the item is live and its `kind` names the structure it
        // heads (every item type is `repr(C)` with its `Item` first). A continuation was
        // given up by `OwnedItem::continuation` (`SlabBox::into_raw`), so it is ours again; a
        // queue item is a queue's `item` field and carries the reference its enqueue gave
        // up with `Ref::into_raw`, taken back once here; a waiter stays parked until we
        // wake it, which `Waiter` makes the last use.
        unsafe {
            match (*p).kind {
                ItemKind::Continuation => Taken::Continuation(SlabBox::from_raw(item.cast())),
                ItemKind::Queue => Taken::Queue(Ref::from_raw(queue_of_item(p))),
                ItemKind::SyncWaiter => Taken::Waiter(Waiter(item.cast())),
            }
        }
    }
}

/// An item on its way onto a list: it heads the structure its `kind` names, is on no list,
/// and stays valid until the consumer that pops it turns it back with [`Taken::from_item`].
/// Only the typed pushes (module doc) build one; `queue::push_item` pushes it.
pub struct OwnedItem(NonNull<Item>);

impl OwnedItem {
    /// A continuation: the box is ours, so it is on no list; the item owns it until popped.
    pub fn continuation(c: ContinuationBox) -> OwnedItem {
        OwnedItem(SlabBox::into_raw(c).cast())
    }

    /// A queue's own item, carrying the reference `q` (given up here, taken back by
    /// [`Taken::from_item`]).
    ///
    /// # Safety
    /// The queue is on no list: the caller made the transition that sets `ENQUEUED`, the
    /// one that puts a queue on its target, which only its drainer clears after popping it.
    pub unsafe fn queue(q: Ref<Queue>) -> OwnedItem {
        let item = NonNull::from(&q.item);
        let _ = Ref::into_raw(q);
        OwnedItem(item)
    }

    /// A parked sync caller's waiter.
    ///
    /// # Safety
    /// The waiter is on no list, and its thread keeps it alive (parked) until the consumer
    /// that pops it sets its event.
    pub unsafe fn waiter(w: &SyncWaiter<'_>) -> OwnedItem {
        OwnedItem(NonNull::from(&w.item))
    }

    /// The bare item, for the list that links it.
    pub fn into_raw(self) -> NonNull<Item> {
        self.0
    }
}

/// A parked sync caller taken off a list. Its waiter lives on the caller's stack until its
/// event is set, so the methods that wake it consume the handle.
pub struct Waiter(NonNull<SyncWaiter<'static>>);

impl Waiter {
    pub fn get(&self) -> &SyncWaiter<'_> {
        // SAFETY: the waiter's thread is parked on its event and keeps the waiter alive
        // until it is set, which only the consuming methods below (and the `SyncWaiter`
        // methods they call last) do.
        unsafe { self.0.as_ref() }
    }

    /// The workloop hand-off (see `SyncWaiter::hand_over`).
    pub fn hand_over(self, state: &super::state::QueueState) {
        self.get().hand_over(state);
    }

    /// Runs a `run_by_drainer` waiter's function on this thread, then wakes its caller.
    pub fn run_here(self) {
        let w = self.get();
        let cur = w.current;
        if frames::current().is_none_or(|top| !core::ptr::eq(top, cur)) {
            frames::with_frame(cur, || w.call())
        } else {
            w.call()
        }
        w.event.set();
    }

    /// Wakes the waiter (it holds the width unit it was given and returns it itself).
    pub fn wake(self) {
        self.get().event.set();
    }
}

/// The head of a list, seen by its consumer without taking it.
pub enum Peeked<'a> {
    Continuation { barrier: bool },
    Waiter(&'a SyncWaiter<'a>),
    Queue,
}

/// The witness that this thread is `queue`'s list consumer (see the module doc).
pub struct Drain<'q> {
    queue: &'q Queue,
}

impl<'q> Drain<'q> {
    /// Starts draining `queue` ([`QueueState::start_drain`]): the witness if this thread
    /// now holds its drain lock (until the drain unlocks it or hands it over).
    ///
    /// [`QueueState::start_drain`]: super::state::QueueState::start_drain
    pub fn start(queue: &'q Queue, tid: u32, exclusive: bool) -> Option<Drain<'q>> {
        (queue.state.start_drain(tid, exclusive) == DrainStart::Acquired).then_some(Drain { queue })
    }

    /// The witness for a queue thread `tid` (the caller's) holds exclusively: it took the
    /// lock, or a drainer or a releasing sync caller handed it over.
    pub fn held(queue: &'q Queue, tid: u32) -> Option<Drain<'q>> {
        queue.state.snapshot().held_exclusively_by(tid).then_some(Drain { queue })
    }

    /// The witness for a thread-bound queue (the main queue, a run-loop queue), whose
    /// state word never lets another thread drain it.
    ///
    /// # Safety
    /// The caller is the thread the queue belongs to (the main thread; the thread of the
    /// run loop that drains it).
    pub unsafe fn thread_bound(queue: &'q Queue) -> Drain<'q> {
        Drain { queue }
    }

    pub fn queue(&self) -> &'q Queue {
        self.queue
    }

    /// Pops the list's head (the inbox of a workloop).
    pub fn pop(&self) -> Option<Taken> {
        let list = &self.queue.list;
        let item = NonNull::new(list.peek())?;
        // SAFETY: we are the consumer (the witness), `item` is the head we just peeked,
        // and every item on a queue's list was pushed by a typed push.
        Some(unsafe {
            list.pop(item.as_ptr());
            Taken::from_item(item)
        })
    }

    /// The list's head, still on the list.
    pub fn peek(&self) -> Option<Peeked<'_>> {
        let item = NonNull::new(self.queue.list.peek())?.as_ptr();
        // SAFETY: only we could pop the head, so it stays live while borrowed from `self`
        // (a waiter's thread is parked until its item is popped and woken); its `kind`
        // names the `repr(C)` structure it heads, and the fields read are immutable.
        Some(unsafe {
            match (*item).kind {
                ItemKind::Continuation => {
                    Peeked::Continuation { barrier: (*item.cast::<Continuation>()).barrier }
                }
                ItemKind::SyncWaiter => Peeked::Waiter(&*item.cast::<SyncWaiter<'_>>()),
                ItemKind::Queue => Peeked::Queue,
            }
        })
    }
}
