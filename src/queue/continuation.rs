//! Work items: a submitted function (a [`Continuation`]) and a parked sync caller (a
//! [`SyncWaiter`]), both headed by an [`Item`] so they can sit on any queue's list.

use super::item::{Item, ItemKind};
use super::object::Queue;
use crate::callback::ClientFn;
use crate::object::{Header, Ref};
use crate::park::Event;
use crate::sys::slab::{SlabBox, SLOT};
use core::ffi::c_void;

pub type WorkFn = unsafe extern "C" fn(*mut c_void);

/// An asynchronously submitted function and what must happen when it finishes.
#[repr(C)]
pub struct Continuation {
    pub item: Item,
    work: Work,
    /// Submitted with a barrier function (`dispatch_barrier_async*`).
    pub barrier: bool,
    /// The group left (and released) once the function returned (`dispatch_group_async*`,
    /// set by `Group::attach`); see [`Continuation::run`].
    pub group: Option<Ref<Header>>,
    /// QoS class the item asks to run at (0: its queue's); raises, never lowers.
    pub qos: u32,
    /// Set when a concurrent queue's drainer sent this item to run in parallel: the item
    /// holds one width unit of, and an internal reference on, this queue.
    pub width_of: Option<Ref<Queue>>,
}

/// What a continuation calls.
enum Work {
    /// A C function and its context, which the C API promises may be called once.
    C(ClientFn),
    /// A Rust closure (internal redirects, `dispatch_apply` helpers).
    Closure(Box<dyn FnOnce() + Send>),
    /// An object's own callout (a source's handlers): the item owns a reference on the
    /// object, dropped once the function returned.
    Object(fn(&Header), Ref<Header>),
}

/// How a finished continuation leaves its group: the group layer (above this one) installs
/// it the first time it attaches a group to a continuation, so the queue layer never names
/// groups and no continuation carries a group before it is set.
static GROUP_LEAVE: std::sync::OnceLock<fn(&Header)> = std::sync::OnceLock::new();

/// Installs the group layer's leave function (idempotent).
pub fn install_group_leave(leave: fn(&Header)) {
    GROUP_LEAVE.get_or_init(|| leave);
}

/// An owned continuation, in a block of the per-thread work-item cache (`sys::slab`).
pub type ContinuationBox = SlabBox<Continuation>;

impl Continuation {
    /// A continuation calling `work` (once), owned by the caller until submitted.
    #[inline]
    pub fn boxed(work: ClientFn, barrier: bool) -> ContinuationBox {
        Continuation::alloc(Work::C(work), barrier)
    }

    /// The one place work items are allocated (from the per-thread cache). Out of memory
    /// aborts with a message that says so, names the library and the size, instead of the
    /// anonymous "memory allocation of N bytes failed" of `Box::new`.
    #[inline]
    fn alloc(work: Work, barrier: bool) -> ContinuationBox {
        SlabBox::new(Continuation::new(work, barrier))
            .unwrap_or_else(|_| crate::sys::abort_out_of_memory(SLOT.size(), "work item"))
    }

    /// A continuation with nothing attached yet (no group, no QoS, no width unit).
    #[inline(always)]
    fn new(work: Work, barrier: bool) -> Continuation {
        Continuation {
            item: Item::new(ItemKind::Continuation, 0),
            work,
            barrier,
            group: None,
            qos: 0,
            width_of: None,
        }
    }

    /// [`Continuation::boxed`] for a non-barrier item when this thread's block cache has a
    /// block at hand, `None` otherwise (the caller's slow path then calls `boxed`).
    #[inline(always)]
    pub fn boxed_cached(work: ClientFn) -> Option<ContinuationBox> {
        SlabBox::new_cached(|| Continuation::new(Work::C(work), false))
    }

    /// Wraps a Rust closure (used by `dispatch_apply` helpers and internal redirects).
    pub fn from_closure(f: Box<dyn FnOnce() + Send>) -> ContinuationBox {
        Continuation::alloc(Work::Closure(f), false)
    }

    /// A heap continuation calling `f(&obj)`, then dropping `obj`: how an object queues
    /// work on itself without a C trampoline or a closure allocation.
    pub fn for_object(f: fn(&Header), obj: Ref<Header>) -> ContinuationBox {
        Continuation::alloc(Work::Object(f, obj), false)
    }

    /// Runs a submitted continuation ([`Continuation::run`]). Its block goes back to the
    /// cache first, so the next submission on this thread reuses a block still in the CPU
    /// cache.
    ///
    /// The common item (a C function, no width unit, no QoS of its own) owns nothing to
    /// drop but its group: its function and group are taken out, the block freed, and the
    /// function run with only the autorelease bracket around it (then the group left).
    ///
    /// The two cases are separate functions, so that the common one keeps only what it
    /// needs after the client's call (its group and autorelease pool) in saved registers.
    #[inline]
    pub fn run_boxed(mut c: ContinuationBox) {
        if let Some(f) = c.plain_fn() {
            let group = c.group.take();
            SlabBox::free_forgetting(c);
            return run_plain(f, group);
        }
        run_unboxed(c)
    }

    /// The function of a continuation that owns nothing that needs dropping or running
    /// after it but its group (see [`Continuation::run_boxed`]).
    #[inline]
    fn plain_fn(&self) -> Option<ClientFn> {
        match self.work {
            Work::C(f) if self.width_of.is_none() && self.qos == 0 => Some(f),
            _ => None,
        }
    }

    /// Runs the function (with the item's QoS and, on WORK_ITEM queues, an autorelease
    /// pool), then its `width_of` reference goes, then it leaves its group.
    #[inline]
    pub fn run(self) {
        // Autorelease pool per item for WORK_ITEM queues (no hook set: two relaxed loads).
        let pool = super::autorelease::begin();
        let Continuation { work, group, qos, width_of, .. } = self;
        // Consumed here: a continuation's function runs once.
        let call = || match work {
            Work::C(f) => f.call(),
            Work::Closure(f) => f(),
            Work::Object(f, obj) => f(&obj),
        };
        // Most items ask for no QoS of their own: no thread-local lookup for them.
        if qos == 0 {
            call()
        } else {
            crate::qos::with_raised(qos, call)
        }
        super::autorelease::end(pool);
        drop(width_of); // after the function, as before the box was split
        if let Some(group) = group {
            leave_group(group);
        }
    }
}

/// A plain item's function, bracketed by the autorelease hooks, then its group left.
#[inline(never)]
fn run_plain(f: ClientFn, group: Option<Ref<Header>>) {
    if !super::autorelease::per_item() {
        return match group {
            // The common item: nothing runs after its function, which is then a tail call.
            None => f.call(),
            Some(group) => run_then_leave(f, group),
        };
    }
    run_bracketed(f, group)
}

/// A plain grouped item on a queue without autorelease pools: the function, then the
/// group left.
#[inline(never)]
fn run_then_leave(f: ClientFn, group: Ref<Header>) {
    f.call();
    leave_group(group);
}

/// [`run_plain`] with an autorelease pool around the function or a group to leave after.
#[inline(never)]
fn run_bracketed(f: ClientFn, group: Option<Ref<Header>>) {
    let pool = super::autorelease::begin();
    f.call();
    super::autorelease::end(pool);
    if let Some(group) = group {
        leave_group(group);
    }
}

/// Any other item: moved out of its block (which goes back to the cache), then run.
#[inline(never)]
fn run_unboxed(c: ContinuationBox) {
    SlabBox::into_inner(c).run()
}

/// Leaves (and releases) the group `Group::attach` entered for a continuation that ran.
fn leave_group(group: Ref<Header>) {
    let leave = GROUP_LEAVE.get().expect("a group was attached, so its leave function is installed");
    leave(&group);
}

/// A `dispatch_sync`-family caller parked on its own stack until the queue is handed to it
/// (or, for `run_by_drainer`, until the draining thread has run its function).
#[repr(C)]
pub struct SyncWaiter<'a> {
    pub item: Item,
    /// Needs the queue exclusively (serial queue, barrier sync).
    pub exclusive: bool,
    /// The drainer runs `func` itself and then wakes the waiter (`dispatch_async_and_wait`
    /// on a busy queue, and any sync onto a thread-bound queue such as the main queue).
    pub run_by_drainer: bool,
    /// Borrowed from the caller's frame, which outlives the waiter.
    pub work: &'a (dyn Fn() + Sync),
    /// For `run_by_drainer`: the queue the function logically runs on (it may be a queue
    /// below the one this waiter sits on; the drainer shows it as the current queue).
    pub current: &'a Queue,
    pub tid: u32,
    pub event: Event,
}

impl<'a> SyncWaiter<'a> {
    /// The workloop hand-off, used by both sides (a drainer that reaches this waiter, and
    /// a sync caller releasing a level whose next item it is): the drain lock, with
    /// `IN_BARRIER`, becomes the waiter's thread's, then the waiter wakes and runs its
    /// function on its own thread. The waiter lives on its caller's stack and may be gone
    /// as soon as its event is set: the caller must not touch it afterwards.
    pub fn hand_over(&self, state: &super::state::QueueState) {
        state.hand_off_to(self.tid);
        self.event.set();
    }

    pub fn new(
        exclusive: bool,
        run_by_drainer: bool,
        work: &'a (dyn Fn() + Sync),
        current: &'a Queue,
        tid: u32,
    ) -> SyncWaiter<'a> {
        SyncWaiter {
            item: Item::new(ItemKind::SyncWaiter, 0),
            exclusive,
            run_by_drainer,
            work,
            current,
            tid,
            event: Event::new(),
        }
    }

    /// Calls the waiter's function (on whichever thread runs it): once, by its caller
    /// after a hand-off or by the drainer for `run_by_drainer`, never both.
    pub fn call(&self) {
        (self.work)()
    }
}
