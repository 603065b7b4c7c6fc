//! A queue's life: creation, retargeting, QoS, specifics, suspension and activation,
//! and what happens when the last reference goes (the `ObjectKind` impl).
//!
//! These are the queue operations that submit or wake (a replaced specific's destructor
//! and a dispose's run on the default queue; a resume re-wakes), so they sit above
//! `drain.rs`, while the object they act on (`object.rs`) sits below everything.

use super::attr::QueueAttr;
use super::drain::{async_f, enqueue_on_target};
use super::item::{Item, ItemKind};
use super::list::ItemList;
use super::object::{Extension, Flavor, Queue, QueueSpi, Specific, TargetSlot, QUEUE_VTABLE};
use super::runloop::RunLoopPort;
use super::state::{self, QueueState, Wake};
use super::workloop::Workloop;
use super::{main_queue, root, runloop};
use crate::callback::ClientFn;
use crate::object::{ClientRef, Header, Kind, ObjectKind, Ref};
use crate::sys::{self, EventFd};
use core::ffi::{c_void, CStr};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};
use std::sync::Mutex;

// SAFETY: only `Queue::create_with` (boxed), the run-loop queues (boxed) and the immortal
// static queues make headers of kind `Queue`, each the first field of a `Queue`.
unsafe impl ObjectKind for Queue {
    const KIND: Kind = Kind::Queue;
    /// Finalizers of objects targeting a queue run on it.
    const SUBMIT: Option<fn(&Queue, ClientFn)> = Some(async_f);

    /// The client let go: releasing a queue it left suspended or inactive is its bug.
    fn xref_dispose(&self) {
        let s = self.state.snapshot();
        if s.is_inactive() {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Release of an inactive object");
        }
        if s.suspend_count() > 0 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Release of a suspended object");
        }
    }

    /// Submits the queue-specific destructors to the default queue; the finalizer runs on
    /// the target, with the reference this queue held on it.
    fn dispose(self: Box<Queue>) -> Option<Ref<Header>> {
        let specs = core::mem::take(&mut *self.specifics.lock().unwrap_or_else(|e| e.into_inner()));
        for s in specs {
            if let Some(d) = s.destructor {
                async_f(root::default_queue(), d);
            }
        }
        self.target.swap(None).map(Ref::erase)
    }
}

impl Queue {
    /// `dispatch_queue_create_with_target`. Returns a queue with one client reference.
    pub fn create(label: Option<&CStr>, attr: &QueueAttr, target: Option<&Queue>) -> ClientRef<Queue> {
        ClientRef::new(Queue::create_with(label, attr, target, None))
    }

    fn create_with(
        label: Option<&CStr>,
        attr: &QueueAttr,
        target: Option<&Queue>,
        special: Option<Box<dyn Extension>>,
    ) -> Box<Queue> {
        let owned_label = label.map(CStr::to_owned);
        let label = owned_label.as_deref().unwrap_or(c"").as_ptr();
        let width = if attr.concurrent { state::WIDTH_MAX } else { 1 };
        let target = match target {
            Some(t) => Ref::retain(t),
            None => root::default_target(attr.qos, attr.overcommit()),
        };
        // INHERIT (0) takes a custom target's frequency; the roots' is NEVER on Linux.
        let autorelease_frequency = match attr.autorelease_frequency {
            0 => target.spi.autorelease_frequency.load(Ordering::Relaxed),
            f => f,
        };
        Box::new(Queue {
            header: Header::new(Kind::Queue, &QUEUE_VTABLE),
            item: Item::new(ItemKind::Queue, 0),
            state: if attr.inactive { QueueState::inactive(width) } else { QueueState::idle(width) },
            list: ItemList::new(),
            // The queue's reference on its target (see `target`).
            target: TargetSlot::new(target),
            label: AtomicPtr::new(label.cast_mut()),
            owned_label,
            flavor: Flavor::Custom,
            qos: AtomicU32::new(attr.qos),
            relative_priority: AtomicI32::new(attr.relative_priority),
            spi: QueueSpi::new(autorelease_frequency),
            specifics: Mutex::new(Vec::new()),
            special,
        })
    }

    /// `dispatch_workloop_create[_inactive]`: a serial queue on the overcommit root of
    /// the default class whose items run in QoS order (`workloop.rs`).
    pub fn create_workloop(label: Option<&CStr>, inactive: bool) -> *const Queue {
        let attr = QueueAttr { inactive, ..QueueAttr::SERIAL };
        Box::into_raw(Queue::create_with(label, &attr, None, Some(Box::new(Workloop::default()))))
    }

    /// `_dispatch_runloop_root_queue_create_4CF`: a queue a foreign loop drains through
    /// `port` (see `runloop.rs`).
    /// `None` if the eventfd cannot be created.
    pub fn create_run_loop(label: Option<&CStr>) -> Option<*const Queue> {
        let port = EventFd::new().ok()?;
        let owned_label = label.map(CStr::to_owned);
        let label = owned_label.as_deref().unwrap_or(c"").as_ptr();
        Some(Box::into_raw(Box::new(Queue {
            header: Header::new(Kind::Queue, &QUEUE_VTABLE),
            item: Item::new(ItemKind::Queue, 0),
            state: QueueState::thread_bound(),
            list: ItemList::new(),
            target: TargetSlot::empty(),
            label: AtomicPtr::new(label.cast_mut()),
            owned_label,
            flavor: Flavor::RunLoop,
            qos: AtomicU32::new(0),
            relative_priority: AtomicI32::new(0),
            spi: QueueSpi::new(0),
            specifics: Mutex::new(Vec::new()),
            special: Some(Box::new(RunLoopPort(port))),
        })))
    }

    /// `dispatch_set_qos_class*` on an inactive custom queue: records the class and, when
    /// the queue sits directly on a root queue (its default target), moves it to the root
    /// of the class it now runs at (its class, else the fallback), keeping overcommit.
    pub fn set_qos(&self, qos: u32, relative_priority: i32, floor: bool, fallback: Option<u32>) {
        // Relaxed: see `QueueSpi`.
        if let Some(f) = fallback {
            self.spi.qos_fallback.store(f, Ordering::Relaxed);
        } else {
            self.qos.store(qos, Ordering::Relaxed);
            self.relative_priority.store(relative_priority, Ordering::Relaxed);
            self.spi.qos_floor.store(floor && qos != 0, Ordering::Relaxed);
        }
        let Some(Flavor::Root(index)) = self.target().map(|t| t.flavor) else { return };
        let runs_at = match self.qos() {
            0 => self.spi.qos_fallback.load(Ordering::Relaxed),
            q => q,
        };
        let new = root::root_queue(root::rank_of_qos(runs_at), index % 2 == 1);
        self.set_target(Some(new));
    }

    /// `dispatch_set_target_queue`: `None` restores the default target.
    pub fn set_target(&self, new: Option<&Queue>) {
        if self.flavor != Flavor::Custom {
            return; // Global and main queues keep their place, as in the reference.
        }
        if self.workloop().is_some() {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Changing the target of a workloop is not allowed",
            );
        }
        let new = match new {
            Some(t) => {
                let mut level = Some(t);
                while let Some(l) = level {
                    if core::ptr::eq(l, self) {
                        sys::abort_with_message(
                            "BUG IN CLIENT OF LIBDISPATCH: Cycle in target queue hierarchy",
                        );
                    }
                    level = l.target();
                }
                Ref::retain(t)
            }
            None => root::default_target(self.qos(), self.is_serial()),
        };
        drop(self.target.swap(Some(new)));
    }

    /// `destructor`, if any, calls the client's destructor with `ctxt`.
    pub fn set_specific(&self, key: *const c_void, ctxt: *mut c_void, destructor: Option<ClientFn>) {
        let old = {
            let mut specs = self.specifics.lock().unwrap_or_else(|e| e.into_inner());
            let pos = specs.iter().position(|s| s.key == key);
            let old = pos.map(|i| specs.remove(i));
            if !ctxt.is_null() {
                specs.push(Specific { key, ctxt, destructor });
            }
            old
        };
        if let Some(Specific { destructor: Some(d), .. }) = old {
            // Destructors run on the default root queue, as in the reference.
            async_f(root::default_queue(), d);
        }
    }

    pub fn suspend(&self) {
        if self.is_root() {
            return;
        }
        if !self.state.suspend() {
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Too many nested calls to dispatch_suspend()",
            );
        }
    }

    pub fn resume(&self) {
        if self.is_root() {
            return;
        }
        match self.state.resume() {
            Err(()) => sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-resume of an object"),
            Ok(true) => self.rewake(),
            Ok(false) => {}
        }
    }

    pub fn activate(&self) {
        if self.state.activate() {
            self.rewake();
        }
    }

    /// After a transition to runnable: wake the queue if it has items.
    fn rewake(&self) {
        if self.is_main() {
            main_queue::wake();
        } else if self.flavor == Flavor::RunLoop {
            runloop::wake(self);
        } else if self.has_items() && self.state.wakeup() == Wake::Enqueue {
            enqueue_on_target(self);
        }
    }
}
