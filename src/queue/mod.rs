//! Queues: the object, its creation and target hierarchy, and how work reaches it.
//!
//! Three flavours share one structure: custom queues (serial or concurrent, created by the
//! client), root queues (the global queues, one per QoS class and overcommit flag, served
//! directly by the worker pool), and the main queue (drained only by the main thread).
//!
//! Work reaches a custom queue by [`push`]: the item goes on the queue's MPSC list and, if
//! the list was empty, the state word decides (see `state.rs`) whether the queue itself
//! must now be put on its target — as an item on the target's list, so a queue with
//! pending work sits on its target exactly once. Draining happens at the bottom of the
//! chain, on a pool worker (see `drain.rs`).

pub mod attr;
pub mod autorelease;
pub mod continuation;
pub mod drain;
mod event_target;
pub mod forked;
pub mod frames;
pub mod item;
pub mod list;
pub mod main_queue;
pub mod root;
pub mod runloop;
pub mod state;
pub mod sync;
pub mod taken;
pub mod workloop;

use crate::callback::ClientFn;
use crate::object::{ClientRef, Header, Kind, ObjectKind, ObjectVTable, Ref};
use crate::sys;
use continuation::Continuation;
use core::ffi::{c_char, c_void, CStr};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU8, Ordering};
use item::{Item, ItemKind};
use list::ItemList;
use state::{QueueState, Wake};
use std::sync::Mutex;
use taken::OwnedItem;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Custom,
    /// A global queue; the index of its run list in the pool.
    Root(u8),
    /// Bound to the main thread.
    Main,
    /// Drained by a foreign run loop (`_dispatch_runloop_root_queue_create_4CF`); its
    /// `port` is signalled when it gets work.
    RunLoop,
}

struct Specific {
    key: *const c_void,
    ctxt: *mut c_void,
    /// Called with `ctxt` when the value is replaced or the queue goes.
    destructor: Option<ClientFn>,
}

#[repr(C)]
pub struct Queue {
    pub header: Header,
    /// Link used while this queue sits on its target's list.
    pub item: Item,
    pub state: QueueState,
    pub list: ItemList,
    target: TargetSlot,
    /// NUL-terminated: `owned_label`'s buffer for custom queues, static otherwise, or the
    /// client's string after `dispatch_queue_set_label_nocopy`.
    label: AtomicPtr<c_char>,
    owned_label: Option<std::ffi::CString>,
    pub flavor: Flavor,
    /// QoS class from the creation attribute (0 = unspecified) and relative priority;
    /// `dispatch_set_qos_class*` may change them while the queue is inactive.
    qos: AtomicU32,
    relative_priority: AtomicI32,
    /// What the SPI setters changed after creation (label, QoS floor/fallback, hooks).
    pub(crate) spi: QueueSpi,
    specifics: Mutex<Vec<Specific>>,
    /// What only a few queues have, out of line so that every other queue stays small:
    /// a run-loop queue's eventfd, a workloop's per-class FIFOs.
    special: Option<Box<Special>>,
}

/// The out-of-line part of a run-loop queue or a workloop.
// Boxed as a whole in `Queue::special`: a run-loop queue's box is larger than its eventfd
// needs, but run-loop queues are few, and a second box would cost workloops an indirection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Special {
    /// `Flavor::RunLoop`: the eventfd its run loop polls.
    RunLoopPort(crate::sys::EventFd),
    /// The per-class FIFOs that order a workloop's items by QoS.
    Workloop(workloop::Workloop),
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Queue {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: shared state is atomic or behind the mutex; the label is published atomically.
unsafe impl Sync for Queue {}
// SAFETY: as above.
unsafe impl Send for Queue {}

/// Settings the private interfaces (`src/ffi/spi/queue.rs`) change after creation.
///
/// Relaxed everywhere: the QoS settings are written only while the queue is inactive and
/// published by the activation (a SeqCst CAS of the state word); a concurrent reader sees
/// either value, both of which are valid. The label is a pointer the client keeps alive.
pub struct QueueSpi {
    /// `dispatch_set_qos_class_floor`: the QoS class is a minimum, so a block's own
    /// higher class is honoured (as when the queue has no class).
    pub qos_floor: AtomicBool,
    /// `dispatch_set_qos_class_fallback`: the class work runs at when the queue has none.
    pub qos_fallback: AtomicU32,
    /// `DISPATCH_AUTORELEASE_FREQUENCY_*` of the creation attribute, inherited from a
    /// custom target when INHERIT: WORK_ITEM (1) brackets each item with the runtime's
    /// autorelease-pool hooks (`_dispatch_begin_NSAutoReleasePool`).
    pub autorelease_frequency: AtomicU8,
}

impl QueueSpi {
    pub const fn new(autorelease_frequency: u8) -> QueueSpi {
        QueueSpi {
            qos_floor: AtomicBool::new(false),
            qos_fallback: AtomicU32::new(0),
            autorelease_frequency: AtomicU8::new(autorelease_frequency),
        }
    }
}

/// Byte offsets inside a queue, for `dispatch_queue_offsets` (debuggers read them).
pub mod layout {
    use super::Queue;
    use core::mem::offset_of;
    /// The creation label pointer (`const char *`).
    pub const LABEL: usize = offset_of!(Queue, label);
    /// The width limit (`uint32_t`).
    pub const WIDTH: usize = offset_of!(Queue, state) + super::state::WIDTH_LIMIT_OFFSET;
    /// The target queue pointer.
    pub const TARGET: usize = offset_of!(Queue, target);
    /// The QoS class (`uint32_t`, a `dispatch_qos_class_t`).
    pub const QOS: usize = offset_of!(Queue, qos);
}

pub(crate) static QUEUE_VTABLE: ObjectVTable = ObjectVTable::for_type::<Queue>();

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

/// A queue's target pointer, owning the internal reference the queue holds on its target
/// (null for root queues and the main queue). `repr(transparent)`: introspection reads it
/// at `layout::TARGET` as a plain pointer.
#[repr(transparent)]
pub(crate) struct TargetSlot(AtomicPtr<Queue>);

impl TargetSlot {
    pub(crate) const fn empty() -> TargetSlot {
        TargetSlot(AtomicPtr::new(core::ptr::null_mut()))
    }

    fn new(target: Ref<Queue>) -> TargetSlot {
        TargetSlot(AtomicPtr::new(Ref::into_raw(target).cast_mut()))
    }

    /// The current target, borrowed.
    fn get(&self) -> Option<&Queue> {
        // SAFETY: the pointer is null or holds the reference this slot owns (`new`,
        // `swap`), dropped only when swapped out; a replaced target may still be borrowed
        // here, but `set_target` is called on an inactive queue or by a client that keeps
        // the old target alive meanwhile, as in the reference (which reads `do_targetq`
        // the same way). Acquire: pairs with `swap`'s release of the new target's state.
        unsafe { self.0.load(Ordering::Acquire).as_ref() }
    }

    /// Installs `new` and hands back the reference on the previous target.
    fn swap(&self, new: Option<Ref<Queue>>) -> Option<Ref<Queue>> {
        let new = new.map_or(core::ptr::null_mut(), |t| Ref::into_raw(t).cast_mut());
        // AcqRel: readers of the target see the new queue's initialised state, and we see
        // the previous one's.
        let old = self.0.swap(new, Ordering::AcqRel);
        // SAFETY: a non-null pointer in the slot carries the reference it owns (`new`,
        // `swap`); swapped out, it is ours and nothing else drops it.
        core::ptr::NonNull::new(old).map(|t| unsafe { Ref::from_raw(t.as_ptr()) })
    }
}

impl Queue {
    pub(crate) const fn new_static(
        label: &'static CStr,
        flavor: Flavor,
        state: QueueState,
        qos: u32,
    ) -> Queue {
        Queue {
            header: Header::new_immortal(Kind::Queue, &QUEUE_VTABLE),
            item: Item::new(ItemKind::Queue, 0),
            state,
            list: ItemList::new(),
            target: TargetSlot::empty(),
            label: AtomicPtr::new(label.as_ptr().cast_mut()),
            owned_label: None,
            flavor,
            qos: AtomicU32::new(qos),
            relative_priority: AtomicI32::new(0),
            spi: QueueSpi::new(0),
            specifics: Mutex::new(Vec::new()),
            special: None,
        }
    }

    /// `dispatch_queue_create_with_target`. Returns a queue with one client reference.
    pub fn create(label: Option<&CStr>, attr: &attr::QueueAttr, target: Option<&Queue>) -> ClientRef<Queue> {
        ClientRef::new(Queue::create_with(label, attr, target, None))
    }

    fn create_with(
        label: Option<&CStr>,
        attr: &attr::QueueAttr,
        target: Option<&Queue>,
        special: Option<Box<Special>>,
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
        let attr = attr::QueueAttr { inactive, ..attr::QueueAttr::SERIAL };
        Box::into_raw(Queue::create_with(
            label,
            &attr,
            None,
            Some(Box::new(Special::Workloop(workloop::Workloop::default()))),
        ))
    }

    /// Whether the queue has items not yet run: on its list, or (workloops) taken off the
    /// list into the per-class FIFOs.
    pub fn has_items(&self) -> bool {
        !self.list.is_empty() || self.workloop().is_some_and(|w| w.has_pending())
    }

    /// The workloop part, if this queue is a workloop.
    pub fn workloop(&self) -> Option<&workloop::Workloop> {
        match self.special.as_deref() {
            Some(Special::Workloop(w)) => Some(w),
            _ => None,
        }
    }

    /// A run-loop queue's eventfd.
    pub(crate) fn port(&self) -> Option<&crate::sys::EventFd> {
        match self.special.as_deref() {
            Some(Special::RunLoopPort(p)) => Some(p),
            _ => None,
        }
    }

    pub fn label(&self) -> *const c_char {
        // Acquire: pairs with the Release store of `set_label_nocopy` (the client's string
        // is initialised before it is published).
        self.label.load(Ordering::Acquire)
    }

    /// The label as a C string (see [`Queue::label`]).
    pub fn label_cstr(&self) -> &CStr {
        // SAFETY: both labels are NUL-terminated and outlive the queue's borrow: the
        // creation label is static or owned by the queue (`owned_label`, freed at dispose),
        // and `set_label_nocopy`'s contract keeps a client label alive for the queue's life.
        unsafe { CStr::from_ptr(self.label()) }
    }

    /// `dispatch_queue_set_label_nocopy`. The creation label (if owned) stays allocated
    /// until dispose, since a caller of `dispatch_queue_get_label` may still be reading it.
    ///
    /// # Safety
    /// `label` is a NUL-terminated string the client keeps alive for the queue's life.
    pub unsafe fn set_label_nocopy(&self, label: *const c_char) {
        // Release: see `label`.
        self.label.store(label as *mut c_char, Ordering::Release);
    }

    /// QoS class (0: unspecified) and relative priority.
    pub fn qos(&self) -> u32 {
        // Relaxed: see `QueueSpi`.
        self.qos.load(Ordering::Relaxed)
    }

    pub fn relative_priority(&self) -> i32 {
        // Relaxed: see `QueueSpi`.
        self.relative_priority.load(Ordering::Relaxed)
    }

    /// Whether a submitted block's own QoS class counts instead of the queue's: the queue
    /// has none, or its class is only a floor.
    pub fn honours_item_qos(&self) -> bool {
        // Relaxed: see `QueueSpi`.
        self.qos() == 0 || self.spi.qos_floor.load(Ordering::Relaxed)
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

    pub fn is_root(&self) -> bool {
        matches!(self.flavor, Flavor::Root(_))
    }

    pub fn is_main(&self) -> bool {
        self.flavor == Flavor::Main
    }

    /// Queues created serial run one item at a time, exclusively (a concurrent queue whose
    /// width was set to 1 still drains by width units: see `state.rs`).
    pub fn is_serial(&self) -> bool {
        self.state.is_serial()
    }

    /// The next queue down the hierarchy; `None` for root queues and the main queue.
    pub fn target(&self) -> Option<&Queue> {
        self.target.get()
    }

    /// The root queue at the bottom of this queue's hierarchy, if it is not the main queue.
    pub fn root(&self) -> Option<&Queue> {
        let mut q = self;
        loop {
            match q.flavor {
                Flavor::Root(_) => return Some(q),
                Flavor::Main | Flavor::RunLoop => return None,
                Flavor::Custom => q = q.target()?,
            }
        }
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

    pub fn get_specific(&self, key: *const c_void) -> *mut c_void {
        let specs = self.specifics.lock().unwrap_or_else(|e| e.into_inner());
        specs.iter().find(|s| s.key == key).map_or(core::ptr::null_mut(), |s| s.ctxt)
    }

    /// `dispatch_get_specific`: the value on this queue or the nearest queue below it.
    pub fn find_specific(&self, key: *const c_void) -> *mut c_void {
        let mut level = Some(self);
        while let Some(q) = level {
            let v = q.get_specific(key);
            if !v.is_null() {
                return v;
            }
            level = q.target();
        }
        core::ptr::null_mut()
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

/// Puts `q`, whose state just gained `ENQUEUED`, on its target.
pub fn enqueue_on_target(q: &Queue) {
    let target = q.target().expect("a custom queue always has a target");
    // SAFETY: a queue is on at most one list at a time: only the transition that sets
    // `ENQUEUED` (which our caller just made) enqueues it, and only its drainer clears it,
    // after popping it. The reference travels with the item (`taken::Taken::from_item`).
    push_item(target, unsafe { OwnedItem::queue(Ref::retain(q)) });
}

/// Appends an item to `q` and makes sure someone will run it.
pub(crate) fn push_item(q: &Queue, item: OwnedItem) {
    let item = item.into_raw();
    let Flavor::Root(index) = q.flavor else {
        // SAFETY: an `OwnedItem` is valid and on no list until the consumer pops it.
        let was_empty = unsafe { q.list.push(item.as_ptr()) };
        return pushed(q, was_empty);
    };
    crate::pool::push(index as usize, item.as_ptr(), root::run_pool_item);
}

/// After a push onto a non-root queue: whoever made the list non-empty wakes the queue.
fn pushed(q: &Queue, was_empty: bool) {
    match q.flavor {
        Flavor::Root(_) => unreachable!("root queues use the pool's run lists"),
        Flavor::Main => {
            if was_empty {
                main_queue::wake();
            }
        }
        Flavor::RunLoop => {
            if was_empty {
                runloop::wake(q);
            }
        }
        Flavor::Custom => {
            if was_empty && q.state.wakeup() == Wake::Enqueue {
                enqueue_on_target(q);
            } else {
                // Not the fast path (the queue had items or a drainer): in a forked
                // child, a drainer that stayed in the parent would strand the item.
                forked::check_usable(q);
            }
        }
    }
}

/// `dispatch_async_f` and friends.
///
/// Items hold no reference on their queue: a queue with items is always enqueued (the
/// enqueue holds one), draining (the drainer holds one) or held by a sync caller (who holds
/// the client's), so it cannot go away under them.
pub fn submit(q: &Queue, c: Box<Continuation>) {
    push_item(q, OwnedItem::continuation(c))
}

/// `dispatch_async_f`.
pub fn async_f(q: &Queue, work: ClientFn) {
    submit(q, Continuation::boxed(work, false));
}

/// The queue whose `item` field `item` is, if it is one (a pointer computation only;
/// dereferencing it is the caller's business).
pub fn queue_of_item(item: *mut Item) -> *const Queue {
    item.cast::<u8>().wrapping_sub(core::mem::offset_of!(Queue, item)).cast()
}
