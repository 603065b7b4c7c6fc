//! What drives a source (see the module doc of `source/`): creation, activation, merging
//! events and scheduling deliveries, the callouts on the source's queue, cancellation, and
//! the event thread's entry points (`event::Target`). The top file of `source/`: it names
//! `object.rs`, `parts.rs`, `kinds.rs` and `timer.rs`, and none of them names it.

use super::coalesce::Coalescer;
use super::kinds;
use super::object::{Handler, HandlerSlot, Handlers, Source, ACTIVATED, CANCELLED, DELIVERABLE};
use super::parts::{Descriptors, SourceKind, TimerConfig, Watch};
use super::timer;
use crate::object::{Header, Kind, ObjectVTable, Ref};
use crate::queue::attr::QueueAttr;
use crate::queue::continuation::Continuation;
use crate::queue::{self, Queue};
use crate::sys;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

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
            watch: Mutex::new(Watch::default()),
            timer: Mutex::new(TimerConfig::default()),
            fork_epoch: crate::queue::forked::epoch(),
        });
        if kind == SourceKind::Interval {
            timer::set_interval(&source, handle, mask);
        }
        Some(Box::into_raw(source))
    }

    /// Runs `callout` on the source as an item of the source's queue; the item owns a
    /// reference on the source until it ran.
    fn submit<const CALLOUT: u8>(&self) {
        let held = Ref::erase(Ref::retain(self));
        queue::submit(self.queue(), Continuation::for_object(run_callout::<CALLOUT>, held));
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
            let registration = kinds::register(self, descriptors.unwrap_or(Descriptors::None));
            *self.registration.lock().unwrap_or_else(|e| e.into_inner()) = Some(registration);
            timer::registered(self);
        }
        self.queue().activate();
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
        self.header.retain_for_event_thread();
    }

    fn release_for_event_thread(&self, proof: crate::event::Release) {
        self.header.release_for_event_thread(proof);
    }
}
