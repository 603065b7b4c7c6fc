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
use super::object::{Extension, Flavor, Queue, QueueExt, QueueSpi, Specific, TargetSlot, QUEUE_VTABLE};
use super::runloop::RunLoopPort;
use super::state::{self, QueueState, Wake};
use super::workloop::Workloop;
use super::{main_queue, root, runloop};
use crate::callback::ClientFn;
use crate::object::{new_in_c_heap, ClientRef, Header, Kind, NewObject, ObjectKind, Ref};
use crate::sys::{self, EventFd};
use core::ffi::c_char;
use core::ffi::{c_void, CStr};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};
use once_cell::race::OnceBox;

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
    /// the target, with the reference this queue held on it. (Queues are C heap blocks,
    /// released in place; a boxed one would go the same way.)
    fn dispose(mut self: Box<Queue>) -> Option<Ref<Header>> {
        self.release_parts()
    }

    /// A queue is one C heap block with its label after it (`Queue::allocate`).
    const IN_C_HEAP: bool = true;

    fn release_in_place(&mut self) -> Option<Ref<Header>> {
        self.release_parts()
    }
}

/// A going queue's specifics: their destructors run on the default queue.
#[cold]
fn release_specifics(ext: &QueueExt) {
    let specs = core::mem::take(&mut *ext.specifics.lock().unwrap_or_else(|e| e.into_inner()));
    for s in specs {
        if let Some(d) = s.destructor {
            async_f(root::default_queue(), d);
        }
    }
}

impl QueueExt {
    /// The extension a queue is created with when its attribute or kind needs one (out of
    /// line: most queues need none).
    #[cold]
    #[inline(never)]
    fn new(
        relative_priority: i32,
        autorelease_frequency: u8,
        special: Option<Box<dyn Extension>>,
    ) -> Box<QueueExt> {
        Box::new(QueueExt {
            relative_priority: AtomicI32::new(relative_priority),
            spi: QueueSpi::new(autorelease_frequency),
            special,
            ..QueueExt::default()
        })
    }
}

/// Where a new queue's label lives, chosen before the queue is built (`Queue::allocate`).
pub(super) struct Tail {
    /// The label's first byte (a static empty string for a queue without one).
    label: *const c_char,
    /// The queue's extension, if it has one.
    ext: OnceBox<QueueExt>,
}

impl Queue {
    /// `dispatch_queue_create_with_target`. Returns a queue with one client reference.
    pub fn create(label: Option<&CStr>, attr: &QueueAttr, target: Option<&Queue>) -> ClientRef<Queue> {
        Queue::create_with(label, attr, target, None).into_client_ref()
    }

    /// [`Queue::create`] for the C surface: the new queue's client reference travels with
    /// the pointer (no handle to make and unmake).
    pub fn create_for_client(label: Option<&CStr>, attr: &QueueAttr, target: Option<&Queue>) -> *const Queue {
        Queue::create_with(label, attr, target, None).into_raw()
    }

    /// Puts the queue `build` makes in memory, with `label` copied, and returns it with its
    /// creation references. The label's bytes follow the queue in the same C heap block,
    /// so a queue costs one allocation (`new_in_c_heap`). `build` fills in the [`Tail`]
    /// fields; the queue is built in place.
    fn allocate(
        label: Option<&CStr>,
        ext: Option<Box<QueueExt>>,
        build: impl FnOnce(Tail) -> Queue,
    ) -> NewObject<Queue> {
        let bytes = label.map_or(&[][..], CStr::to_bytes_with_nul);
        let ext = ext.map_or_else(OnceBox::new, OnceBox::with_value);
        new_in_c_heap(bytes, |after| {
            let label = if bytes.is_empty() { c"".as_ptr() } else { after.cast() };
            build(Tail { label, ext })
        })
    }

    fn create_with(
        label: Option<&CStr>,
        attr: &QueueAttr,
        target: Option<&Queue>,
        special: Option<Box<dyn Extension>>,
    ) -> NewObject<Queue> {
        let width = if attr.concurrent { state::WIDTH_MAX } else { 1 };
        let target = match target {
            Some(t) => Ref::retain(t),
            None => root::default_target(attr.qos, attr.overcommit()),
        };
        // INHERIT (0) takes a custom target's frequency; the roots' is NEVER on Linux.
        let autorelease_frequency = match attr.autorelease_frequency {
            0 => target.spi().autorelease_frequency.load(Ordering::Relaxed),
            f => f,
        };
        let ext = (special.is_some() || autorelease_frequency != 0 || attr.relative_priority != 0)
            .then(|| QueueExt::new(attr.relative_priority, autorelease_frequency, special));
        Queue::allocate(label, ext, |tail| Queue {
            header: Header::new(Kind::Queue, &QUEUE_VTABLE),
            item: Item::new(ItemKind::Queue, 0),
            state: if attr.inactive { QueueState::inactive(width) } else { QueueState::idle(width) },
            list: ItemList::new(),
            // The queue's reference on its target (see `target`).
            target: TargetSlot::new(target),
            label: AtomicPtr::new(tail.label.cast_mut()),
            ext: tail.ext,
            qos: AtomicU32::new(attr.qos),
            flavor: Flavor::Custom,
        })
    }

    /// `dispatch_workloop_create[_inactive]`: a serial queue on the overcommit root of
    /// the default class whose items run in QoS order (`workloop.rs`).
    pub fn create_workloop(label: Option<&CStr>, inactive: bool) -> *const Queue {
        let attr = QueueAttr { inactive, ..QueueAttr::SERIAL };
        Queue::create_with(label, &attr, None, Some(Box::new(Workloop::default()))).into_raw()
    }

    /// `_dispatch_runloop_root_queue_create_4CF`: a queue a foreign loop drains through
    /// `port` (see `runloop.rs`).
    /// `None` if the eventfd cannot be created.
    pub fn create_run_loop(label: Option<&CStr>) -> Option<*const Queue> {
        let port = EventFd::new().ok()?;
        let ext = QueueExt { special: Some(Box::new(RunLoopPort(port))), ..QueueExt::default() };
        let q = Queue::allocate(label, Some(Box::new(ext)), |tail| Queue {
            header: Header::new(Kind::Queue, &QUEUE_VTABLE),
            item: Item::new(ItemKind::Queue, 0),
            state: QueueState::thread_bound(),
            list: ItemList::new(),
            target: TargetSlot::empty(),
            label: AtomicPtr::new(tail.label.cast_mut()),
            ext: tail.ext,
            qos: AtomicU32::new(0),
            flavor: Flavor::RunLoop,
        });
        Some(q.into_raw())
    }

    /// What a going queue releases: its specifics (their destructors are submitted) and
    /// its reference on its target, handed back for the finalizer. (Its extension goes
    /// with the queue.)
    #[inline(always)]
    fn release_parts(&mut self) -> Option<Ref<Header>> {
        if let Some(ext) = self.ext() {
            release_specifics(ext);
        }
        self.target.swap(None).map(Ref::erase)
    }

    /// `dispatch_set_qos_class*` on an inactive custom queue: records the class and, when
    /// the queue sits directly on a root queue (its default target), moves it to the root
    /// of the class it now runs at (its class, else the fallback), keeping overcommit.
    pub fn set_qos(&self, qos: u32, relative_priority: i32, floor: bool, fallback: Option<u32>) {
        // Relaxed: see `QueueSpi`.
        let ext = self.ext_or_init();
        if let Some(f) = fallback {
            ext.spi.qos_fallback.store(f, Ordering::Relaxed);
        } else {
            self.qos.store(qos, Ordering::Relaxed);
            ext.relative_priority.store(relative_priority, Ordering::Relaxed);
            ext.spi.qos_floor.store(floor && qos != 0, Ordering::Relaxed);
        }
        let Some(Flavor::Root(index)) = self.target().map(|t| t.flavor) else { return };
        let runs_at = match self.qos() {
            0 => self.spi().qos_fallback.load(Ordering::Relaxed),
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
            if ctxt.is_null() && self.ext().is_none() {
                return; // Nothing to remove, and no need for an extension to say so.
            }
            let mut specs = self.ext_or_init().specifics.lock().unwrap_or_else(|e| e.into_inner());
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
