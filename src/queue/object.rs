//! The queue object: its fields, its target slot, and the reads everyone above makes.
//!
//! Nothing here submits, drains or wakes: those call each other (a drain re-enqueues its
//! queue, a push onto a root names the drain as the pool's runner) and live above, in
//! `drain.rs`; creation, retargeting, suspension and the object's dispose, which submit
//! work, are in `lifecycle.rs` (including the `ObjectKind` impl whose vtable
//! [`QUEUE_VTABLE`] is built here: a trait impl is not an import). What only some queues
//! have (a workloop's FIFOs, which hold items, which hold queues) is known here only as
//! an [`Extension`], so the type graph has no cycle through this file either.

use super::item::{Item, ItemKind};
use super::list::ItemList;
use super::state::QueueState;
use crate::callback::ClientFn;
use crate::object::{Header, Kind, ObjectVTable, Ref};
use core::ffi::{c_char, c_void, CStr};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU8, Ordering};
use once_cell::race::OnceBox;
use std::sync::Mutex;

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

pub(super) struct Specific {
    pub(super) key: *const c_void,
    pub(super) ctxt: *mut c_void,
    /// Called with `ctxt` when the value is replaced or the queue goes.
    pub(super) destructor: Option<ClientFn>,
}

/// A queue. Every field here is one every queue uses: 112 bytes (the size test below
/// keeps it so). What few queues have (specifics, SPI settings, a relative priority, a
/// workloop's or run loop's part) is in [`QueueExt`], allocated the first time it is
/// needed; a created queue's label is copied into the same allocation, after the queue
/// (`lifecycle.rs`), so a serial queue labelled with up to 8 bytes is one 128-byte block
/// of the C heap.
#[repr(C)]
pub struct Queue {
    pub header: Header,
    /// Link used while this queue sits on its target's list.
    pub item: Item,
    pub state: QueueState,
    pub list: ItemList,
    pub(super) target: TargetSlot,
    /// NUL-terminated: the bytes after the queue for a created queue with a label, static
    /// otherwise, or the client's string after `dispatch_queue_set_label_nocopy`.
    pub(super) label: AtomicPtr<c_char>,
    /// Empty until something only some queues have is set (see [`QueueExt`]); one
    /// pointer, made once (a race between two first users leaves one of their boxes).
    pub(super) ext: OnceBox<QueueExt>,
    /// QoS class from the creation attribute (0 = unspecified); `dispatch_set_qos_class*`
    /// may change it while the queue is inactive.
    pub(super) qos: AtomicU32,
    pub flavor: Flavor,
}

/// What only some queues have, out of line so that every other queue stays small.
#[derive(Default)]
pub(crate) struct QueueExt {
    /// `dispatch_queue_attr_make_with_qos_class`'s and `dispatch_set_qos_class`'s relative
    /// priority (Relaxed: see `QueueSpi`).
    pub(super) relative_priority: AtomicI32,
    /// What the SPI setters changed after creation (QoS floor/fallback, autorelease).
    pub(crate) spi: QueueSpi,
    pub(super) specifics: Mutex<Vec<Specific>>,
    /// A run-loop queue's eventfd, a workloop's per-class FIFOs (see [`Extension`]).
    pub(super) special: Option<Box<dyn Extension>>,
}

/// The out-of-line part of a queue of a special kind: a workloop's per-class FIFOs, a
/// run-loop queue's port. Boxed once, reached through [`Queue::extension`].
pub(crate) trait Extension: core::any::Any + Send + Sync {
    /// Whether items wait here, taken off the list but not yet run (a workloop's FIFOs).
    fn has_pending(&self) -> bool {
        false
    }
}

// SAFETY: `#[repr(C)]` with its `Header` first; created with the vtable that frees it.
unsafe impl crate::object::Object for Queue {
    fn header(&self) -> &crate::object::Header {
        &self.header
    }
}

// SAFETY: shared state is atomic or behind the mutex; the label is published atomically,
// the extension by `OnceBox`.
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

impl Default for QueueSpi {
    fn default() -> QueueSpi {
        QueueSpi::new(0)
    }
}

/// The settings of a queue that has no [`QueueExt`]: nothing changed.
static NO_SPI: QueueSpi = QueueSpi::new(0);

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
    pub const WIDTH: usize = offset_of!(Queue, state) + crate::queue::state::WIDTH_LIMIT_OFFSET;
    /// The target queue pointer.
    pub const TARGET: usize = offset_of!(Queue, target);
    /// The QoS class (`uint32_t`, a `dispatch_qos_class_t`).
    pub const QOS: usize = offset_of!(Queue, qos);
}

pub(crate) static QUEUE_VTABLE: ObjectVTable = ObjectVTable::for_type::<Queue>();

/// A queue's target pointer, owning the internal reference the queue holds on its target
/// (null for root queues and the main queue). `repr(transparent)`: introspection reads it
/// at `layout::TARGET` as a plain pointer.
#[repr(transparent)]
pub(crate) struct TargetSlot(AtomicPtr<Queue>);

impl TargetSlot {
    pub(crate) const fn empty() -> TargetSlot {
        TargetSlot(AtomicPtr::new(core::ptr::null_mut()))
    }

    pub(super) fn new(target: Ref<Queue>) -> TargetSlot {
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
    pub(super) fn swap(&self, new: Option<Ref<Queue>>) -> Option<Ref<Queue>> {
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
            ext: OnceBox::new(),
            qos: AtomicU32::new(qos),
            flavor,
        }
    }

    /// The out-of-line part, if anything has made one.
    pub(super) fn ext(&self) -> Option<&QueueExt> {
        self.ext.get()
    }

    /// The out-of-line part, made now if the queue has none yet.
    pub(super) fn ext_or_init(&self) -> &QueueExt {
        self.ext.get_or_init(Box::default)
    }

    /// What the SPI setters changed (all defaults if nothing did).
    pub(crate) fn spi(&self) -> &QueueSpi {
        self.ext().map_or(&NO_SPI, |e| &e.spi)
    }

    /// Whether the queue has items not yet run: on its list, or (workloops) taken off the
    /// list into the per-class FIFOs.
    pub fn has_items(&self) -> bool {
        !self.list.is_empty() || self.special().is_some_and(|e| e.has_pending())
    }

    fn special(&self) -> Option<&dyn Extension> {
        self.ext()?.special.as_deref()
    }

    /// The out-of-line part of kind `E`, if the queue has one (a workloop's FIFOs, a
    /// run-loop queue's port).
    pub(crate) fn extension<E: Extension>(&self) -> Option<&E> {
        let e: &dyn core::any::Any = self.special()?;
        e.downcast_ref()
    }

    pub fn label(&self) -> *const c_char {
        // Acquire: pairs with the Release store of `set_label_nocopy` (the client's string
        // is initialised before it is published).
        self.label.load(Ordering::Acquire)
    }

    /// The label as a C string (see [`Queue::label`]).
    pub fn label_cstr(&self) -> &CStr {
        // SAFETY: both labels are NUL-terminated and outlive the queue's borrow: the
        // creation label is static or owned by the queue (after it, or in its extension),
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
        self.ext().map_or(0, |e| e.relative_priority.load(Ordering::Relaxed))
    }

    /// Whether a submitted block's own QoS class counts instead of the queue's: the queue
    /// has none, or its class is only a floor.
    pub fn honours_item_qos(&self) -> bool {
        // Relaxed: see `QueueSpi`.
        self.qos() == 0 || self.spi().qos_floor.load(Ordering::Relaxed)
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

    pub fn get_specific(&self, key: *const c_void) -> *mut c_void {
        let Some(ext) = self.ext() else { return core::ptr::null_mut() };
        let specs = ext.specifics.lock().unwrap_or_else(|e| e.into_inner());
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
}

/// The queue whose `item` field `item` is, if it is one (a pointer computation only;
/// dereferencing it is the caller's business).
pub fn queue_of_item(item: *mut Item) -> *const Queue {
    item.cast::<u8>().wrapping_sub(core::mem::offset_of!(Queue, item)).cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes per serial queue is a figure of the bench (`queue_bytes`): a labelled queue
    /// is this plus its label rounded up to 8, in one allocation; 112 + 8 bytes is a
    /// 128-byte malloc chunk.
    #[test]
    fn a_queue_is_112_bytes() {
        assert!(core::mem::size_of::<Queue>() <= 112, "Queue is {} bytes", core::mem::size_of::<Queue>());
        assert_eq!(core::mem::align_of::<Queue>(), 8);
    }
}
