//! The header every dispatch object starts with, reference counting, and the checks that
//! turn a C pointer back into a typed object.
//!
//! Two counts, as in libdispatch's `object.c`: `xref` counts the client's references
//! (`dispatch_retain`/`dispatch_release`), `iref` the runtime's own (an enqueued queue, a
//! pending notify). All client references together hold one internal reference. When
//! `xref` reaches zero the object's kind may object (releasing a suspended or inactive
//! queue is a client bug) and the internal reference is dropped; when `iref` reaches zero
//! the object is disposed and its finalizer is submitted to its target queue.
//!
//! The first word of every object is a tag: `OBJECT_MAGIC | kind`. The data objects the
//! header refers to by address (`_dispatch_main_q`) may be *copied* into an executable by a
//! copy relocation, so such an object is a [`Forwarder`] instead: its tag says "forward"
//! and its second word points at the real object. [`resolve`] follows it.

use crate::sys;
use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};

pub type DispatchFunction = Option<unsafe extern "C" fn(*mut c_void)>;

/// High bits shared by every object tag ("dspt").
const OBJECT_MAGIC: usize = 0x6473_7074_0000_0000;
const MAGIC_MASK: usize = 0xffff_ffff_0000_0000;
/// Tag of a [`Forwarder`].
pub const FORWARD_TAG: usize = OBJECT_MAGIC | 0xf0f0;

/// Whether `word`, the first word of some object, is a dispatch object's tag (or a
/// forwarder's): never a user-space pointer, whose high half is zero.
pub fn is_object_tag(word: usize) -> bool {
    word & MAGIC_MASK == OBJECT_MAGIC
}

/// What an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Kind {
    Queue = 1,
    Group = 2,
    Semaphore = 3,
    Source = 4,
    Data = 5,
    Io = 6,
}

impl Kind {
    pub const fn tag(self) -> usize {
        OBJECT_MAGIC | self as usize
    }
    pub const ALL: [Kind; 6] =
        [Kind::Queue, Kind::Group, Kind::Semaphore, Kind::Source, Kind::Data, Kind::Io];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Group => "group",
            Kind::Semaphore => "semaphore",
            Kind::Source => "source",
            Kind::Data => "data",
            Kind::Io => "I/O channel",
        }
    }
}

/// Reference count of objects that live forever (global and main queues).
const IMMORTAL: i32 = i32::MAX / 2;

/// Per-kind behaviour at the two release points.
pub struct ObjectVTable {
    /// Called when the client's last reference goes; may abort on a client bug.
    pub xref_dispose: unsafe fn(*const Header),
    /// Frees the object; returns the header of the queue its finalizer must run on
    /// (retained), or null.
    pub dispose: unsafe fn(*const Header) -> *const Header,
    /// Queues only: submits `f(ctxt)` to the queue with this header. Objects name the queue
    /// their finalizer runs on by header alone, so this layer never names queues.
    pub async_f: Option<AsyncFn>,
}

/// Submits a function to the queue whose header is given (`queue::async_f`, type-erased).
pub type AsyncFn = unsafe fn(*const Header, *mut c_void, unsafe extern "C" fn(*mut c_void));

#[repr(C)]
pub struct Header {
    tag: usize,
    xref: AtomicI32,
    iref: AtomicI32,
    pub vtable: &'static ObjectVTable,
    pub context: AtomicPtr<c_void>,
    finalizer: AtomicUsize,
}

// SAFETY: every field is atomic or immutable after construction.
unsafe impl Sync for Header {}

impl Header {
    pub const fn new(kind: Kind, vtable: &'static ObjectVTable) -> Header {
        Header {
            tag: kind.tag(),
            xref: AtomicI32::new(1),
            iref: AtomicI32::new(1),
            vtable,
            context: AtomicPtr::new(core::ptr::null_mut()),
            finalizer: AtomicUsize::new(0),
        }
    }

    pub const fn new_immortal(kind: Kind, vtable: &'static ObjectVTable) -> Header {
        let mut h = Header::new(kind, vtable);
        h.xref = AtomicI32::new(IMMORTAL);
        h.iref = AtomicI32::new(IMMORTAL);
        h
    }

    pub fn kind_is(&self, kind: Kind) -> bool {
        self.tag == kind.tag()
    }

    /// The kind this header's tag names (for descriptions: `dispatch_debug`).
    pub fn kind(&self) -> Option<Kind> {
        Kind::ALL.into_iter().find(|&k| self.kind_is(k))
    }

    /// The client and internal reference counts, as a snapshot (`dispatch_debug`).
    pub fn ref_counts(&self) -> (i32, i32) {
        // Relaxed: a diagnostic snapshot; nothing is decided on it.
        (self.xref.load(Ordering::Relaxed), self.iref.load(Ordering::Relaxed))
    }

    pub fn is_immortal(&self) -> bool {
        self.xref.load(Ordering::Relaxed) >= IMMORTAL / 2
    }

    pub fn retain(&self) {
        if self.is_immortal() {
            return;
        }
        // Relaxed: taking a reference needs no ordering; the caller already has one.
        let prev = self.xref.fetch_add(1, Ordering::Relaxed);
        if prev <= 0 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Resurrection of an object");
        }
    }

    /// `_os_object_retain_with_resurrect`: a client reference even after the client's count
    /// reached zero, for a runtime that still holds an internal reference (the client
    /// references together hold an internal one again, as they did before).
    pub fn retain_with_resurrect(&self) {
        if self.is_immortal() {
            return;
        }
        // Relaxed: as for `retain`; the caller's internal reference keeps the object alive.
        let prev = self.xref.fetch_add(1, Ordering::Relaxed);
        if prev < 0 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Resurrection of an overreleased object");
        }
        if prev == 0 {
            self.retain_internal();
        }
    }

    pub fn retain_internal(&self) {
        if self.is_immortal() {
            return;
        }
        // Relaxed: as for `retain`.
        self.iref.fetch_add(1, Ordering::Relaxed);
    }

    /// # Safety
    /// `self` must be the header of a live object created by this crate.
    pub unsafe fn release(&self) {
        if self.is_immortal() {
            return;
        }
        // AcqRel: the last release must see every other holder's writes before disposing.
        let prev = self.xref.fetch_sub(1, Ordering::AcqRel);
        if prev > 1 {
            return;
        }
        if prev < 1 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-release of an object");
        }
        // SAFETY: the object is live: the internal reference all client references held
        // keeps it until `release_internal`, which drops that reference last.
        unsafe {
            (self.vtable.xref_dispose)(self);
            self.release_internal()
        };
    }

    /// # Safety
    /// `self` must be the header of a live object holding an internal reference.
    pub unsafe fn release_internal(&self) {
        if self.is_immortal() {
            return;
        }
        // AcqRel: as for `release`.
        let prev = self.iref.fetch_sub(1, Ordering::AcqRel);
        if prev > 1 {
            return;
        }
        if prev < 1 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-release of an object");
        }
        let finalizer = self.finalizer.load(Ordering::Relaxed);
        let context = self.context.load(Ordering::Relaxed);
        // SAFETY: no reference remains, so the kind may free its own allocation; what it
        // returns is null or its target queue's header with the reference it held on it,
        // which the `Ref` now owns (and drops after submitting the finalizer).
        let target = unsafe {
            core::ptr::NonNull::new((self.vtable.dispose)(self).cast_mut()).map(|t| Ref::from_raw(t.as_ptr()))
        };
        if let Some(target) = target.filter(|_| finalizer != 0 && !context.is_null()) {
            let submit = target.vtable.async_f.expect("a finalizer target is a queue");
            // SAFETY: `finalizer` was stored from a non-null `dispatch_function_t` by
            // `set_finalizer`, so it is that function pointer; `target` is a live queue (we
            // hold a reference), which `async_f` requires.
            unsafe {
                let f: unsafe extern "C" fn(*mut c_void) = core::mem::transmute(finalizer);
                submit(Ref::as_ptr(&target), context, f)
            };
        }
    }

    pub fn set_finalizer(&self, f: DispatchFunction) {
        self.finalizer.store(f.map_or(0, |f| f as usize), Ordering::Relaxed);
    }
}

/// The stand-in for a data object that a binary may hold a copy of (see module doc).
#[repr(C)]
pub struct Forwarder {
    tag: usize,
    target: *const Header,
}

// SAFETY: immutable after construction; the target is a `'static` object.
unsafe impl Sync for Forwarder {}

impl Forwarder {
    pub const fn new(target: *const Header) -> Forwarder {
        Forwarder { tag: FORWARD_TAG, target }
    }
}

/// Turns a client pointer into an object header of the expected kind, or aborts with the
/// GCD message naming the misuse.
///
/// # Safety
/// `ptr` must be null or point at memory at least two words long (any dispatch object).
pub unsafe fn resolve<'a>(ptr: *const c_void, kind: Option<Kind>, what: &str) -> &'a Header {
    if ptr.is_null() {
        sys::abort_with_message(&format!("BUG IN CLIENT OF LIBDISPATCH: {what} called with a NULL object"));
    }
    let h = ptr as *const Header;
    // SAFETY: the caller passes a dispatch object, whose first word is its tag; a
    // forwarder's second word is the real object (a `'static` one).
    let header = unsafe {
        match (*h).tag {
            FORWARD_TAG => &*(*(ptr as *const Forwarder)).target,
            _ => &*h,
        }
    };
    if header.tag & MAGIC_MASK != OBJECT_MAGIC {
        sys::abort_with_message(&format!(
            "BUG IN CLIENT OF LIBDISPATCH: {what} called with a freed or invalid object (over-release of an object?)"
        ));
    }
    if let Some(kind) = kind {
        if header.tag != kind.tag() {
            sys::abort_with_message(&format!(
                "BUG IN CLIENT OF LIBDISPATCH: {what} called with an object that is not a dispatch {}",
                kind.name()
            ));
        }
    }
    header
}

/// A dispatch object type: `#[repr(C)]` with its [`Header`] first, so a pointer to the
/// object is a pointer to its header and back.
///
/// # Safety
/// Implement only for `#[repr(C)]` types whose first field is their `Header`, created by
/// this crate with that header's vtable (whose `dispose` frees the object).
pub unsafe trait Object {
    fn header(&self) -> &Header;
}

// SAFETY: a header is its own header (`repr(C)`, trivially first); an object's header is
// created with the vtable that frees the object it heads. A `Ref<Header>` is an internal
// reference on an object whose kind the holder does not name (a continuation's group).
unsafe impl Object for Header {
    fn header(&self) -> &Header {
        self
    }
}

/// An internal reference on a dispatch object, owned: cloning retains (`iref`), dropping
/// releases (and disposes the object with its last reference). The runtime's own holds on
/// objects (an enqueued queue, a pending notification, a timer's source) are these, so a
/// release can neither be forgotten nor done twice; `into_raw`/`from_raw` exist only for
/// the intrusive hand-offs that must store a bare pointer (list items, C contexts).
pub struct Ref<T: Object> {
    ptr: core::ptr::NonNull<T>,
}

// SAFETY: the object's shared state is atomic or locked (dispatch objects are used from
// every thread); the reference count is atomic.
unsafe impl<T: Object + Sync> Send for Ref<T> {}
// SAFETY: as above.
unsafe impl<T: Object + Sync> Sync for Ref<T> {}

impl<T: Object> Ref<T> {
    /// Takes a new internal reference on `obj`.
    pub fn retain(obj: &T) -> Ref<T> {
        obj.header().retain_internal();
        Ref { ptr: core::ptr::NonNull::from(obj) }
    }

    /// Gives up ownership without releasing: the reference now travels as a bare pointer
    /// (an intrusive list item, a C context) until [`Ref::from_raw`] takes it back.
    pub fn into_raw(this: Ref<T>) -> *const T {
        let p = this.ptr.as_ptr() as *const T;
        core::mem::forget(this);
        p
    }

    /// Takes back a reference given up by [`Ref::into_raw`] (or one the object's creation
    /// or an explicit `retain_internal` handed over).
    ///
    /// # Safety
    /// `p` must be non-null and carry one internal reference that nothing else will drop.
    pub unsafe fn from_raw(p: *const T) -> Ref<T> {
        Ref { ptr: core::ptr::NonNull::new(p as *mut T).expect("Ref::from_raw of a null pointer") }
    }

    pub fn as_ptr(this: &Ref<T>) -> *const T {
        this.ptr.as_ptr()
    }
}

impl<T: Object> core::ops::Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the reference we own keeps the object alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Object> Clone for Ref<T> {
    fn clone(&self) -> Ref<T> {
        Ref::retain(self)
    }
}

impl<T: Object> Drop for Ref<T> {
    fn drop(&mut self) {
        // SAFETY: we own one internal reference on a live object of this crate.
        unsafe { self.header().release_internal() }
    }
}
