//! Dispatch sources: events from the event thread (or `dispatch_source_merge_data`)
//! delivered to handlers on a queue.
//!
//! A source owns a private serial queue that targets the client's queue. Everything a
//! source does to its client runs there, in order, so handlers never overlap themselves,
//! and the cancel handler runs after the last event handler returned:
//!
//! 1. *Registration item*, pushed by `dispatch_activate`: the registration handler. The
//!    kind's registration with the event thread ([`kinds`]) happens right after it is
//!    queued, on the activating thread, so a source suspended before activation still
//!    collects its events.
//! 2. *Delivery items*: an event merges its data by the kind's rule (sum, or, replace)
//!    and, if no delivery is scheduled yet, schedules one (`coalesce.rs`, loom-modelled). So events that
//!    arrive while a delivery waits (the queue is busy or suspended) coalesce into it.
//!    The delivery takes the merged data, publishes it for `dispatch_source_get_data`, calls the
//!    event handler, and re-arms one-shot registrations (level-triggered descriptors).
//! 3. *Cancel item*, pushed by `dispatch_source_cancel`: unregisters (after which the
//!    event thread never touches the source or its descriptor again), runs the cancel
//!    handler once, and drops the handlers. Deliveries still queued skip their handler.
//!
//! Suspending or resuming a source suspends or resumes its queue. The source is created
//! inactive, like the reference: nothing is registered before `dispatch_activate` (or the
//! first `dispatch_resume`).

pub mod coalesce;
pub mod kinds;
mod timer;

use crate::blocks::dispatch_block::call_void_block;
use crate::blocks::owned::OwnedBlock;
use crate::object::{Header, Kind, ObjectKind, ObjectVTable, Ref};
use crate::queue::attr::QueueAttr;
use crate::queue::continuation::{Continuation, WorkFn};
use crate::queue::{self, Queue};
use crate::sys;
use coalesce::Coalescer;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use kinds::SourceKind;
use std::sync::{Arc, Mutex};

const CANCELLED: u32 = 1;
const ACTIVATED: u32 = 2;
/// The registration item is queued: deliveries may be queued behind it.
const DELIVERABLE: u32 = 4;

/// A handler as the client set it: a function called with the source's context, or a
/// block (our copy) called with no argument. Cloning one to call it outside the lock
/// costs nothing for a function and one count for a block.
#[derive(Clone)]
enum Handler {
    None,
    Function(WorkFn),
    /// Our heap copy, released when the last `Arc` on it goes (a handler being replaced
    /// while a delivery calls it stays alive until that call returned).
    Block(Arc<OwnedBlock>),
}

impl Handler {
    /// The one place a handler is called.
    fn call(&self, context: *mut c_void) {
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

struct Handlers {
    event: Handler,
    cancel: Handler,
    registration: Handler,
    cancel_is_mandatory: bool,
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
    queue: Ref<Queue>,
    pub kind: SourceKind,
    pub handle: usize,
    pub mask: usize,
    /// Events merged since the last delivery (`coalesce.rs`).
    events: Coalescer,
    /// What `dispatch_source_get_data` reports inside the handler.
    data: AtomicU64,
    /// Extra status (a process's exit status) for `dispatch_source_get_extended_data`.
    status: AtomicU64,
    flags: AtomicU32,
    /// 1 once the cancel handler returned (the word `cancel_and_wait` parks on).
    cancel_finished: AtomicU32,
    handlers: Mutex<Handlers>,
    /// Opened by `create`, handed to the registration by `activate`.
    descriptors: Mutex<Option<kinds::Descriptors>>,
    registration: Mutex<Option<kinds::Registration>>,
    watch: Mutex<kinds::Watch>,
    timer: Mutex<timer::TimerConfig>,
    /// `queue::forked::epoch()` at creation: a source of an ancestor process counts as
    /// cancelled in a forked child (its handlers never run there on their own).
    fork_epoch: u32,
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

static SOURCE_VTABLE: ObjectVTable = ObjectVTable::for_type::<Source>();

impl Source {
    /// `dispatch_source_create`: NULL (`None`) for a handle or mask the kind rejects, or
    /// when the descriptors it needs cannot be opened (see `kinds.rs`).
    pub fn create(
        kind: SourceKind,
        handle: usize,
        mask: usize,
        target: Option<&Queue>,
    ) -> Option<*const Source> {
        if !kind.accepts(handle, mask) {
            return None;
        }
        let descriptors = kinds::acquire(kind, handle)?;
        let attr = QueueAttr { inactive: true, ..QueueAttr::SERIAL };
        // The source is the only holder of its queue, so it keeps the queue by the internal
        // reference the client count was created with and never drops that count: the
        // checks a queue's last client release makes (not inactive, not suspended) are made
        // on the source's own last release (`xref_dispose`), on the same state word.
        let queue = Queue::create(Some(c"com.apple.dispatch.source"), &attr, target).into_sole_holder();
        let source = Box::new(Source {
            header: Header::new(Kind::Source, &SOURCE_VTABLE),
            queue,
            kind,
            handle,
            mask,
            events: Coalescer::new(),
            data: AtomicU64::new(0),
            status: AtomicU64::new(0),
            flags: AtomicU32::new(0),
            cancel_finished: AtomicU32::new(0),
            handlers: Mutex::new(Handlers {
                event: Handler::None,
                cancel: Handler::None,
                registration: Handler::None,
                cancel_is_mandatory: false,
            }),
            descriptors: Mutex::new(Some(descriptors)),
            registration: Mutex::new(None),
            watch: Mutex::new(kinds::Watch::default()),
            timer: Mutex::new(timer::TimerConfig::default()),
            fork_epoch: crate::queue::forked::epoch(),
        });
        if kind == SourceKind::Interval {
            timer::set_interval(&source, handle, mask);
        }
        Some(Box::into_raw(source))
    }

    pub(crate) fn queue(&self) -> &Queue {
        &self.queue
    }

    fn context(&self) -> *mut c_void {
        self.header.context.load(SeqCst)
    }

    pub fn is_cancelled(&self) -> bool {
        self.flags.load(SeqCst) & CANCELLED != 0 || self.fork_epoch != crate::queue::forked::epoch()
    }

    /// Runs `callout` on the source as an item of the source's queue; the item owns a
    /// reference on the source until it ran.
    fn submit<const CALLOUT: u8>(&self) {
        let held = Ref::erase(Ref::retain(self));
        queue::submit(self.queue(), Continuation::for_object(run_callout::<CALLOUT>, held));
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

    fn install_handler(&self, slot: HandlerSlot, new: Handler) {
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

    fn take_handler(&self, slot: HandlerSlot) -> Handler {
        let h = self.handlers.lock().unwrap_or_else(|e| e.into_inner());
        match slot {
            HandlerSlot::Event => &h.event,
            HandlerSlot::Registration => &h.registration,
            HandlerSlot::Cancel | HandlerSlot::MandatoryCancel => &h.cancel,
        }
        .clone()
    }

    /// `dispatch_activate` (and the `dispatch_resume` that activates).
    ///
    /// The source is registered here, on the activating thread, even if it is suspended:
    /// events that arrive while it is suspended coalesce and are delivered on resume. The
    /// registration handler item is queued first, so it runs before any delivery.
    pub fn activate(&self) {
        if self.flags.fetch_or(ACTIVATED, SeqCst) & ACTIVATED != 0 {
            return;
        }
        self.submit::<REGISTRATION>();
        // Events merged before activation waited for this (see `merge`).
        self.flags.fetch_or(DELIVERABLE, SeqCst);
        if self.events.has_event() {
            self.schedule_delivery();
        }
        if !self.is_cancelled() {
            let descriptors = self.descriptors.lock().unwrap_or_else(|e| e.into_inner()).take();
            let registration = kinds::register(self, descriptors.unwrap_or(kinds::Descriptors::None));
            *self.registration.lock().unwrap_or_else(|e| e.into_inner()) = Some(registration);
            timer::registered(self);
        }
        self.queue().activate();
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

    /// `dispatch_source_cancel`.
    pub fn cancel(&self) {
        if self.flags.fetch_or(CANCELLED, SeqCst) & CANCELLED == 0 {
            self.submit::<CANCEL>();
        }
    }

    /// `dispatch_source_cancel_and_wait`: cancels, then waits until the cancel handler
    /// returned. Waiting from the source's own queue or a serial queue it targets, or on a
    /// source that was never activated (its cancellation cannot run), would never return:
    /// those abort.
    pub fn cancel_and_wait(&self) {
        if crate::queue::sync::waiting_would_deadlock(self.queue()) {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: dispatch_source_cancel_and_wait called from the source's queue (or one it targets)",
            );
        }
        if self.flags.load(SeqCst) & ACTIVATED == 0 {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: dispatch_source_cancel_and_wait called on an inactive source",
            );
        }
        self.cancel();
        while self.cancel_finished.load(SeqCst) == 0 {
            crate::park::wait(&self.cancel_finished, 0, None);
        }
    }

    /// Merges an event's data by the kind's rule and makes sure a delivery will run.
    pub fn merge(&self, value: u64) {
        if !self.events.merge(self.kind.merge_rule(), value, self.kind.delivers_zero()) {
            return;
        }
        // Before activation the delivery must not overtake the registration item; the
        // SeqCst pair (raise the event, read DELIVERABLE here; set DELIVERABLE, read the
        // event in `activate`) makes one of the two queue it.
        if self.flags.load(SeqCst) & DELIVERABLE != 0 {
            self.schedule_delivery();
        }
    }

    fn schedule_delivery(&self) {
        if self.events.claim_delivery() {
            self.submit::<DELIVERY>();
        }
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

    /// The event thread saw the source's descriptor ready.
    pub fn on_ready(&self) {
        kinds::on_ready(self);
    }

    /// The event thread counted `n` deliveries of the source's signal.
    pub fn on_signal(&self, n: u32) {
        self.merge(n as u64);
    }

    /// `dispatch_source_set_timer`.
    pub fn set_timer(&self, start: u64, interval: u64, leeway: u64) {
        timer::set(self, start, interval, leeway);
    }

    /// The event thread fired this timer source's heap entry of `generation`.
    pub fn timer_fired(&self, generation: u64, deadline: u64) {
        timer::fired(self, generation, deadline);
    }

    fn deliver(&self) {
        let taken = if self.kind.is_timer() {
            timer::take_delivery(self)
        } else {
            self.events.take(self.kind.delivers_zero())
        };
        let Some(value) = taken else { return };
        if self.is_cancelled() {
            return;
        }
        self.data.store(value, SeqCst);
        self.take_handler(HandlerSlot::Event).call(self.context());
        if !self.is_cancelled() {
            kinds::after_delivery(self);
        }
    }

    fn run_registration_handler(&self) {
        if self.is_cancelled() {
            return;
        }
        self.take_handler(HandlerSlot::Registration).call(self.context());
    }

    fn finish_cancel(&self) {
        if let Some(r) = self.registration.lock().unwrap_or_else(|e| e.into_inner()).take() {
            kinds::unregister(self, r);
        }
        timer::cancelled(self);
        self.take_handler(HandlerSlot::Cancel).call(self.context());
        let dropped = {
            let mut guard = self.handlers.lock().unwrap_or_else(|e| e.into_inner());
            let h = &mut *guard;
            [&mut h.event, &mut h.cancel, &mut h.registration]
                .map(|slot| core::mem::replace(slot, Handler::None))
        };
        drop(dropped); // outside the lock: a block's release may run client code
        self.cancel_finished.store(1, SeqCst);
        crate::park::wake_all(&self.cancel_finished);
    }
}

/// The source's queue items (see the module doc), as `Source::submit`'s parameter.
const REGISTRATION: u8 = 0;
const DELIVERY: u8 = 1;
const CANCEL: u8 = 2;

/// The item function of every callout `Source::submit` queues, given the source the item
/// holds a reference on (the item drops it after this returns).
fn run_callout<const CALLOUT: u8>(h: &Header) {
    let s = h.downcast::<Source>().expect("a source callout item holds a source");
    match CALLOUT {
        REGISTRATION => s.run_registration_handler(),
        DELIVERY => s.deliver(),
        _ => s.finish_cancel(),
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

/// What the event thread (below this layer) calls: readiness, signal counts, timer fires,
/// and the internal reference each registration and timer heap entry holds.
// SAFETY: `retain_for_event_thread` takes an internal reference, which keeps the source
// alive until `release_for_event_thread` drops it.
unsafe impl crate::event::Target for Source {
    fn on_ready(&self) {
        Source::on_ready(self);
    }

    fn on_signal(&self, n: u32) {
        Source::on_signal(self, n);
    }

    fn timer_fired(&self, generation: u64, deadline: u64) {
        Source::timer_fired(self, generation, deadline);
    }

    fn retain_for_event_thread(&self) {
        self.header.retain_internal();
    }

    fn release_for_event_thread(&self, _proof: crate::event::Release) {
        // SAFETY: `_proof` says the caller gives back a reference `retain_for_event_thread`
        // took.
        unsafe { self.header.release_internal() };
    }
}
