//! The `Source` object: its fields, its handlers, its place among the objects
//! (`Object`, `ObjectKind`) and the accessors that only read or set its state. What drives
//! its kind and its timer (creation, activation, events, cancellation) is in `lifecycle.rs`,
//! above `kinds.rs` and `timer.rs`, which name this file and `parts.rs` only.

use super::coalesce::Coalescer;
use super::parts::{Descriptors, Registration, SourceKind, TimerConfig, Watch};
use crate::blocks::dispatch_block::call_void_block;
use crate::blocks::owned::OwnedBlock;
use crate::object::{Header, Kind, ObjectKind, Ref};
use crate::queue::continuation::WorkFn;
use crate::queue::Queue;
use crate::sys;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

pub(super) const CANCELLED: u32 = 1;
pub(super) const ACTIVATED: u32 = 2;
/// The registration item is queued: deliveries may be queued behind it.
pub(super) const DELIVERABLE: u32 = 4;

/// A handler as the client set it: a function called with the source's context, or a
/// block (our copy) called with no argument. Cloning one to call it outside the lock
/// costs nothing for a function and one count for a block.
#[derive(Clone)]
pub(super) enum Handler {
    None,
    Function(WorkFn),
    /// Our heap copy, released when the last `Arc` on it goes (a handler being replaced
    /// while a delivery calls it stays alive until that call returned).
    Block(Arc<OwnedBlock>),
}

impl Handler {
    /// The one place a handler is called.
    pub(super) fn call(&self, context: *mut c_void) {
        // SAFETY: a function handler was set (`set_handler`'s contract) by a client that
        // promised it may be called with the source's context; a block handler is our
        // own copy of a `void (^)(void)` block, kept alive by the `Arc` `self` holds.
        unsafe {
            match self {
                Handler::None => {}
                Handler::Function(f) => f(context),
                Handler::Block(b) => call_void_block(b.as_ptr()),
            }
        }
    }
}

pub(super) struct Handlers {
    pub(super) event: Handler,
    pub(super) cancel: Handler,
    pub(super) registration: Handler,
    pub(super) cancel_is_mandatory: bool,
}

/// Which handler a setter sets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HandlerSlot {
    Event,
    Cancel,
    MandatoryCancel,
    Registration,
}

#[repr(C)]
pub struct Source {
    pub header: Header,
    /// The private serial queue every callout runs on; targets the client's queue. The
    /// reference is the one its creation made for its client count (see `create`).
    pub(super) queue: Ref<Queue>,
    pub kind: SourceKind,
    pub handle: usize,
    pub mask: usize,
    /// Events merged since the last delivery (`coalesce.rs`).
    pub(super) events: Coalescer,
    /// What `dispatch_source_get_data` reports inside the handler.
    pub(super) data: AtomicU64,
    /// Extra status (a process's exit status) for `dispatch_source_get_extended_data`.
    pub(super) status: AtomicU64,
    pub(super) flags: AtomicU32,
    /// 1 once the cancel handler returned (the word `cancel_and_wait` parks on).
    pub(super) cancel_finished: AtomicU32,
    pub(super) handlers: Mutex<Handlers>,
    /// Opened by `create`, handed to the registration by `activate`.
    pub(super) descriptors: Mutex<Option<Descriptors>>,
    pub(super) registration: Mutex<Option<Registration>>,
    pub(super) watch: Mutex<Watch>,
    pub(super) timer: Mutex<TimerConfig>,
    /// `queue::forked::epoch()` at creation: a source of an ancestor process counts as
    /// cancelled in a forked child (its handlers never run there on their own).
    pub(super) fork_epoch: u32,
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Source {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: every field is atomic, behind a mutex, or immutable after creation.
unsafe impl Sync for Source {}
// SAFETY: as above.
unsafe impl Send for Source {}

impl Source {
    pub(crate) fn queue(&self) -> &Queue {
        &self.queue
    }

    pub(super) fn context(&self) -> *mut c_void {
        self.header.context.load(SeqCst)
    }

    pub fn is_cancelled(&self) -> bool {
        self.flags.load(SeqCst) & CANCELLED != 0 || self.fork_epoch != crate::queue::forked::epoch()
    }

    /// Sets a function handler (`None` clears the slot).
    ///
    /// # Safety
    /// `function` may be called with the source's context, on any thread.
    pub unsafe fn set_handler(&self, slot: HandlerSlot, function: Option<WorkFn>) {
        self.install_handler(slot, function.map_or(Handler::None, Handler::Function));
    }

    /// Sets a block handler, our copy of the client's block (`None` clears the slot).
    pub fn set_block_handler(&self, slot: HandlerSlot, block: Option<OwnedBlock>) {
        self.install_handler(slot, block.map_or(Handler::None, |b| Handler::Block(Arc::new(b))));
    }

    pub(super) fn install_handler(&self, slot: HandlerSlot, new: Handler) {
        let old = {
            let mut h = self.handlers.lock().unwrap_or_else(|e| e.into_inner());
            let place = match slot {
                HandlerSlot::Event => &mut h.event,
                HandlerSlot::Registration => &mut h.registration,
                HandlerSlot::Cancel | HandlerSlot::MandatoryCancel => {
                    h.cancel_is_mandatory =
                        slot == HandlerSlot::MandatoryCancel && !matches!(new, Handler::None);
                    &mut h.cancel
                }
            };
            core::mem::replace(place, new)
        };
        drop(old); // outside the lock: a block's release may run client code
    }

    pub(super) fn take_handler(&self, slot: HandlerSlot) -> Handler {
        let h = self.handlers.lock().unwrap_or_else(|e| e.into_inner());
        match slot {
            HandlerSlot::Event => &h.event,
            HandlerSlot::Registration => &h.registration,
            HandlerSlot::Cancel | HandlerSlot::MandatoryCancel => &h.cancel,
        }
        .clone()
    }

    pub fn suspend(&self) {
        self.queue().suspend();
    }

    /// `dispatch_resume`: activates a source that was never activated, else resumes it.
    pub fn resume(&self) {
        let s = self.queue().state.snapshot();
        if s.is_inactive() && s.suspend_count() == 0 {
            self.activate();
        } else {
            self.queue().resume();
        }
    }

    pub fn set_target(&self, target: Option<&Queue>) {
        self.queue().set_target(target);
    }

    /// `dispatch_source_merge_data` (DATA_* kinds only; checked by the caller).
    pub fn merge_data(&self, value: u64) {
        if !self.is_cancelled() {
            self.merge(value);
        }
    }

    pub fn data(&self) -> u64 {
        self.data.load(SeqCst)
    }

    pub fn status(&self) -> u64 {
        self.status.load(SeqCst)
    }
}

// SAFETY: only `Source::create` makes headers of kind `Source`, the first field of a
// boxed `Source`.
unsafe impl ObjectKind for Source {
    const KIND: Kind = Kind::Source;

    /// The client let go: the queue's release checks, the mandatory cancel handler's, then
    /// the source cancels itself.
    fn xref_dispose(&self) {
        let st = self.queue().state.snapshot();
        if st.is_inactive() {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Release of an inactive object");
        }
        if st.suspend_count() > 0 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Release of a suspended object");
        }
        let mandatory = self.handlers.lock().unwrap_or_else(|e| e.into_inner()).cancel_is_mandatory;
        if mandatory && !self.is_cancelled() {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Release of a source that has not been cancelled, but has a mandatory cancel handler",
            );
        }
        // The client let go of a live source: nobody can cancel it any more, so do it now,
        // which releases its registration (and with it the event thread's reference).
        self.cancel();
    }

    /// The finalizer runs on the source's target queue.
    fn dispose(self: Box<Source>) -> Option<Ref<Header>> {
        let target = self.queue().target().map(|t| Ref::erase(Ref::retain(t)));
        drop(self); // and with it the source's reference on its queue
        target
    }
}
