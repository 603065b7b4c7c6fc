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
//! The first word of every object holds its tag, `OBJECT_MAGIC | kind`, in its high half
//! (never the high half of a user-space pointer), and atomic flags in its low half. The
//! data objects the header refers to by address (`_dispatch_main_q`) may be *copied* into
//! an executable by a copy relocation, so such an object is a [`Forwarder`] instead: its
//! tag says "forward" and its second word points at the real object. [`resolve`] follows it.
//!
//! The header is four words: every queue, group and semaphore carries it, so what few
//! objects use stays out of it. A finalizer (`dispatch_set_finalizer_f`) is kept in a
//! side table keyed by the object's address ([`finalizers`]); the header's
//! `HAS_FINALIZER` flag says whether to look there, so an object without one never does.

use crate::callback::ClientFn;
use crate::sys;
use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};

pub type DispatchFunction = Option<unsafe extern "C" fn(*mut c_void)>;

#[cfg(not(target_endian = "little"))]
compile_error!("the header's tag is the high half of its first word on little-endian targets only");

/// High bits shared by every object tag ("dsp"): the tag is the high half of the first
/// word, `OBJECT_MAGIC | kind`.
const OBJECT_MAGIC: u32 = 0x6473_7000;
const MAGIC_MASK: u32 = 0xffff_ff00;
/// Tag of a [`Forwarder`].
pub const FORWARD_TAG: u32 = OBJECT_MAGIC | 0xf0;

/// Whether `high`, the high half of the first word of some object, is a dispatch object's
/// tag (or a forwarder's): never the high half of a user-space pointer, which is zero.
/// Callers read only that half: the low half of a dispatch object's is atomic flags,
/// which another thread may be changing.
pub fn is_object_tag(high: u32) -> bool {
    high & MAGIC_MASK == OBJECT_MAGIC
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
    pub const fn tag(self) -> u32 {
        OBJECT_MAGIC | self as u32
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

/// Per-kind behaviour at the two release points, built from the kind's [`ObjectKind`]
/// impl by [`ObjectVTable::for_type`] (the only constructor: the fields are private, so a
/// vtable's functions and its `kind` always belong to one type).
pub struct ObjectVTable {
    kind: Kind,
    /// Called when the client's last reference goes; may abort on a client bug.
    xref_dispose: fn(&Header),
    /// Frees the object; returns the queue its finalizer must run on (by header), or `None`.
    dispose: unsafe fn(*const Header) -> Option<Ref<Header>>,
    /// Queues only: submits `f(ctxt)` to the queue with this header. Objects name the queue
    /// their finalizer runs on by header alone, so this layer never names queues.
    async_f: Option<fn(&Header, ClientFn)>,
}

impl ObjectVTable {
    /// The vtable of `T`'s objects: its kind and its [`ObjectKind`] methods, reached from a
    /// bare header through [`Header::downcast`] (the one checked cast).
    pub const fn for_type<T: ObjectKind>() -> ObjectVTable {
        ObjectVTable {
            kind: T::KIND,
            xref_dispose: xref_dispose_of::<T>,
            dispose: dispose_of::<T>,
            async_f: match T::SUBMIT {
                Some(_) => Some(submit_of::<T>),
                None => None,
            },
        }
    }
}

fn xref_dispose_of<T: ObjectKind>(h: &Header) {
    h.downcast::<T>().expect("a vtable is installed only on its own kind").xref_dispose();
}

/// # Safety
/// `h` heads a live object of this vtable's kind to which no reference remains.
unsafe fn dispose_of<T: ObjectKind>(h: *const Header) -> Option<Ref<Header>> {
    let p = h as *mut T;
    // SAFETY: the vtable is `T`'s, so `h` is the `header` field, first in a `repr(C)` `T`,
    // allocated as the kind says (`ObjectKind`'s contract: a leaked box, or a C heap block
    // from `new_in_c_heap` for kinds `IN_C_HEAP`; immortal objects are never
    // disposed); no reference remains, so the object and its memory are ours to free.
    unsafe {
        if T::IN_C_HEAP {
            let target = (*p).release_in_place();
            sys::c_drop_free(p);
            target
        } else {
            Box::from_raw(p).dispose()
        }
    }
}

fn submit_of<T: ObjectKind>(h: &Header, f: ClientFn) {
    let q = h.downcast::<T>().expect("a vtable is installed only on its own kind");
    if let Some(submit) = T::SUBMIT {
        submit(q, f);
    }
}

/// A kind of dispatch object: its tag, and what it does when the client's last reference
/// goes and when the last reference of all goes. The vtable ([`ObjectVTable::for_type`])
/// does the one cast from a bare header to `Self`, so implementations are safe code.
///
/// # Safety
/// `KIND` is `Self`'s alone; every header whose tag is `KIND` is the header (first field,
/// [`Object`]) of a `Self`, and every such object that can be disposed (not immortal) was
/// allocated in a `Box` and leaked, or, for a kind `IN_C_HEAP`, made by
/// [`new_in_c_heap`]; the vtable's `dispose` frees it accordingly.
pub unsafe trait ObjectKind: Object + Sized + 'static {
    const KIND: Kind;
    /// Queues only: submits `f(ctxt)` to this queue (a finalizer of an object targeting it).
    const SUBMIT: Option<fn(&Self, ClientFn)> = None;

    /// The client's last reference went: may abort on a client bug (releasing a
    /// suspended queue), or start the object's shutdown (a source cancels itself).
    fn xref_dispose(&self) {}

    /// The last reference went: `self` is dropped here (its fields release what it held).
    /// Returns the queue the finalizer runs on, with a reference on it, or `None`.
    fn dispose(self: Box<Self>) -> Option<Ref<Header>>;

    /// Whether objects are C heap blocks with bytes after the object ([`new_in_c_heap`]:
    /// a queue and its label) rather than boxes; such a kind implements `release_in_place`.
    const IN_C_HEAP: bool = false;

    /// Kinds `IN_C_HEAP` only: `dispose`'s work, done in place, before the object is
    /// dropped and its block freed.
    fn release_in_place(&mut self) -> Option<Ref<Header>> {
        unreachable!("only a kind in the C heap releases in place")
    }
}

/// A new object, alone in a C heap block with `bytes` copied after it (`build` is given
/// their address), with its creation references: one client reference, which the
/// returned handle carries, and the internal one all client references hold together.
/// Aborts when the heap is exhausted.
///
/// Always inlined: `build` then writes the object straight into the new block; called, the
/// fields went through the stack (queue create + release: 371 -> 393 instructions).
#[inline(always)]
pub fn new_in_c_heap<T: ObjectKind>(bytes: &[u8], build: impl FnOnce(*const u8) -> T) -> NewObject<T> {
    const { assert!(T::IN_C_HEAP, "the kind frees its objects as C heap blocks") };
    let size = core::mem::size_of::<T>() + bytes.len();
    match core::ptr::NonNull::new(sys::c_new_with_bytes(bytes, build)) {
        Some(p) => NewObject(p),
        None => sys::abort_out_of_memory(size, T::KIND.name()),
    }
}

/// The creation client reference of an object [`new_in_c_heap`] made (built only there).
pub struct NewObject<T: ObjectKind>(core::ptr::NonNull<T>);

impl<T: ObjectKind> NewObject<T> {
    /// The client reference, as a bare pointer (a C API's return value).
    pub fn into_raw(self) -> *const T {
        self.0.as_ptr()
    }

    /// The client reference, as a handle.
    pub fn into_client_ref(self) -> ClientRef<T> {
        let client = ClientCount { live: Live(self.0) };
        let keep = Ref::retain(client.live.get());
        ClientRef { client, keep }
    }
}

/// Header flag: the object has a finalizer in the side table ([`finalizers`]).
const HAS_FINALIZER: u32 = 1;

#[repr(C)]
pub struct Header {
    /// The low half of the first word (see the module doc): `HAS_FINALIZER`.
    flags: AtomicU32,
    /// The high half: `OBJECT_MAGIC | kind`, immutable.
    tag: u32,
    xref: AtomicI32,
    iref: AtomicI32,
    pub vtable: &'static ObjectVTable,
    pub context: AtomicPtr<c_void>,
}

const _: () = assert!(core::mem::size_of::<Header>() == 32, "the header is four words");

// SAFETY: every field is atomic or immutable after construction.
unsafe impl Sync for Header {}

impl Header {
    pub const fn new(kind: Kind, vtable: &'static ObjectVTable) -> Header {
        // The tag and the vtable name the same type, so a header's tag says what it heads.
        assert!(kind as usize == vtable.kind as usize, "a header's vtable is its kind's");
        Header {
            flags: AtomicU32::new(0),
            tag: kind.tag(),
            xref: AtomicI32::new(1),
            iref: AtomicI32::new(1),
            vtable,
            context: AtomicPtr::new(core::ptr::null_mut()),
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

    /// The object this header heads, as a `T`, if its tag says it is one: the one cast
    /// from a header to its object.
    pub fn downcast<T: ObjectKind>(&self) -> Option<&T> {
        // SAFETY: a header tagged `T::KIND` is the first field of a `repr(C)` `T`
        // (`ObjectKind`'s contract), so its address is the object's, alive while the
        // header is borrowed.
        self.kind_is(T::KIND).then(|| unsafe { &*(self as *const Header as *const T) })
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

    /// Drops one client reference (`dispatch_release`).
    ///
    /// # Safety
    /// The caller owns one client reference on the live object `self` heads (an object of
    /// this crate) and gives it up here.
    pub unsafe fn release(&self) {
        // The caller's client reference becomes the handle, whose drop releases it.
        drop(ClientCount::<Header> { live: Live(core::ptr::NonNull::from(self)) });
    }

    /// Drops one internal reference, disposing of the object if it was the last.
    ///
    /// # Safety
    /// The caller owns one internal reference on the live object `self` heads (an object of
    /// this crate) and gives it up here.
    pub unsafe fn release_internal(&self) {
        // The caller's internal reference becomes the handle, whose drop releases it.
        drop(Ref::<Header> { live: Live(core::ptr::NonNull::from(self)) });
    }

    /// The event thread's hold on a dispatch object that is one of its targets (a source, a
    /// queue with `dispatch_after` entries): an internal reference, taken here and given back
    /// by [`Header::release_for_event_thread`]. Objects implement `event::Target`'s pair of
    /// methods with these two, so the pairing lives in one place.
    pub fn retain_for_event_thread(&self) {
        self.retain_internal();
    }

    /// Gives back a reference [`Header::retain_for_event_thread`] took; `_proof` says the
    /// caller (a dropped `event::TargetRef`) holds one.
    pub fn release_for_event_thread(&self, _proof: crate::event::Release) {
        // SAFETY: an event-thread target's `Release` proof comes from the drop of the
        // `TargetRef` that took, through `retain_for_event_thread`, the internal reference
        // given back here.
        unsafe { self.release_internal() };
    }

    pub fn set_finalizer(&self, f: DispatchFunction) {
        finalizers::set(self, f);
    }
}

/// The finalizers of live objects, by object address, in a few locked shards (setting a
/// finalizer is rare and never on a hot path; disposing of an object looks here only when
/// its `HAS_FINALIZER` flag is set).
mod finalizers {
    use super::{DispatchFunction, Header, HAS_FINALIZER};
    use core::sync::atomic::Ordering;
    use std::collections::BTreeMap;
    use std::sync::{Mutex, MutexGuard};

    type Shard = Mutex<BTreeMap<usize, unsafe extern "C" fn(*mut core::ffi::c_void)>>;
    const SHARDS: usize = 16;
    static TABLE: [Shard; SHARDS] = [const { Mutex::new(BTreeMap::new()) }; SHARDS];

    fn shard(
        h: &Header,
    ) -> MutexGuard<'static, BTreeMap<usize, unsafe extern "C" fn(*mut core::ffi::c_void)>> {
        let addr = h as *const Header as usize;
        // Objects are at least 32-byte apart: the bits above that spread them.
        TABLE[(addr >> 5) % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `dispatch_set_finalizer_f`: the entry and the flag change together, under the lock.
    pub(super) fn set(h: &Header, f: DispatchFunction) {
        let addr = h as *const Header as usize;
        let mut table = shard(h);
        // Relaxed: the flag is read by the disposer, which holds the last reference and so
        // is ordered after this call by the reference count's AcqRel decrement.
        match f {
            Some(f) => {
                table.insert(addr, f);
                h.flags.fetch_or(HAS_FINALIZER, Ordering::Relaxed);
            }
            None => {
                table.remove(&addr);
                h.flags.fetch_and(!HAS_FINALIZER, Ordering::Relaxed);
            }
        }
    }

    /// The finalizer of the object `h`, which is being disposed of: its entry goes, so a
    /// later object at the same address starts without one.
    #[inline]
    pub(super) fn take(h: &Header) -> DispatchFunction {
        // Relaxed: see `set`.
        if h.flags.load(Ordering::Relaxed) & HAS_FINALIZER == 0 {
            return None;
        }
        take_entry(h)
    }

    #[cold]
    fn take_entry(h: &Header) -> DispatchFunction {
        shard(h).remove(&(h as *const Header as usize))
    }
}

/// The stand-in for a data object that a binary may hold a copy of (see module doc).
#[repr(C)]
pub struct Forwarder {
    /// Zero: a header's flags.
    low: u32,
    tag: u32,
    target: *const Header,
}

// SAFETY: immutable after construction; the target is a `'static` object.
unsafe impl Sync for Forwarder {}

impl Forwarder {
    pub const fn new(target: *const Header) -> Forwarder {
        Forwarder { low: 0, tag: FORWARD_TAG, target }
    }
}

/// Turns a client pointer into an object header of the expected kind, or aborts with the
/// GCD message naming the misuse.
///
/// Inline, with the misuse reports out of line: every `dispatch_async_f` resolves its
/// queue, and the common case is a null check, one load and one compare.
///
/// # Safety
/// `ptr` must be null or point at memory at least two words long (any dispatch object).
#[inline]
pub unsafe fn resolve<'a>(ptr: *const c_void, kind: Option<Kind>, what: &str) -> &'a Header {
    // SAFETY: the caller passes null or a dispatch object, whose first word holds its tag
    // in its high half (a forwarder's too); a forwarder's second word is the real object
    // (a `'static` one).
    let header = unsafe {
        match ptr.cast::<Forwarder>().as_ref() {
            None => misuse(what, "called with a NULL object"),
            Some(f) if f.tag == FORWARD_TAG => &*f.target,
            Some(_) => &*(ptr as *const Header),
        }
    };
    let expected = match kind {
        Some(kind) => header.tag == kind.tag(),
        None => is_object_tag(header.tag),
    };
    if !expected {
        wrong_object(header, kind, what);
    }
    header
}

/// Aborts: `what` was called with something that is no dispatch object of `kind`.
#[cold]
#[inline(never)]
fn wrong_object(header: &Header, kind: Option<Kind>, what: &str) -> ! {
    match kind {
        Some(kind) if is_object_tag(header.tag) => {
            misuse(what, &format!("called with an object that is not a dispatch {}", kind.name()))
        }
        _ => misuse(what, "called with a freed or invalid object (over-release of an object?)"),
    }
}

#[cold]
#[inline(never)]
fn misuse(what: &str, problem: &str) -> ! {
    sys::abort_with_message(&format!("BUG IN CLIENT OF LIBDISPATCH: {what} {problem}"))
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

/// The address of an object kept alive by a reference count that the handle holding it
/// owns: the one place a handle ([`Ref`], [`ClientCount`], [`Kept`]) turns its pointer back
/// into a reference. Built only in this module, by a handle, around a count it owns (one it
/// just took, or one the caller of an `unsafe fn` handed over), or, for [`Kept`], around an
/// object whose own protocol keeps it alive, as the caller of `Kept::new` vouched.
struct Live<T: Object>(core::ptr::NonNull<T>);

// SAFETY: the object's shared state is atomic or locked (dispatch objects are used from
// every thread); the reference counts are atomic.
unsafe impl<T: Object + Sync> Send for Live<T> {}
// SAFETY: as for `Send`: sharing a handle shares only `&T`, and `T` is `Sync`.
unsafe impl<T: Object + Sync> Sync for Live<T> {}

impl<T: Object> Live<T> {
    fn get(&self) -> &T {
        // SAFETY: the handle holding this `Live` owns a reference count on the object: an
        // internal one, or a client one (client references together hold an internal one,
        // module doc); an object is freed only when its last internal reference goes. A
        // `Kept` owns none, but its constructor's caller vouched that the object outlives it.
        unsafe { self.0.as_ref() }
    }
}

/// The address of an object that holds no count on it: the object's own protocol keeps it
/// alive as long as the handle exists. The one user is a `dispatch_group_async` work item's
/// group, which the group's unfinished count keeps alive (`sync::group`, as libdispatch's
/// group retains itself while it has members), so the item pays no retain and no release.
pub struct Kept<T: Object>(Live<T>);

impl<T: Object> Kept<T> {
    /// # Safety
    /// `obj` stays alive (is not disposed) until this handle is dropped.
    pub unsafe fn new(obj: &T) -> Kept<T> {
        Kept(Live(core::ptr::NonNull::from(obj)))
    }

    pub fn get(&self) -> &T {
        self.0.get()
    }
}

/// An internal reference on a dispatch object, owned: cloning retains (`iref`), dropping
/// releases (and disposes the object with its last reference). The runtime's own holds on
/// objects (an enqueued queue, a pending notification, a timer's source) are these, so a
/// release can neither be forgotten nor done twice; `into_raw`/`from_raw` exist only for
/// the intrusive hand-offs that must store a bare pointer (list items, C contexts).
pub struct Ref<T: Object> {
    live: Live<T>,
}

impl<T: Object> Ref<T> {
    /// Takes a new internal reference on `obj`.
    pub fn retain(obj: &T) -> Ref<T> {
        obj.header().retain_internal();
        Ref { live: Live(core::ptr::NonNull::from(obj)) }
    }

    /// Gives up ownership without releasing: the reference now travels as a bare pointer
    /// (an intrusive list item, a C context) until [`Ref::from_raw`] takes it back.
    pub fn into_raw(this: Ref<T>) -> *const T {
        let p = Ref::as_ptr(&this);
        core::mem::forget(this);
        p
    }

    /// Takes back a reference given up by [`Ref::into_raw`] (or one the object's creation
    /// or an explicit `retain_internal` handed over).
    ///
    /// # Safety
    /// `p` must be non-null and carry one internal reference that nothing else will drop.
    pub unsafe fn from_raw(p: *const T) -> Ref<T> {
        Ref { live: Live(core::ptr::NonNull::new(p as *mut T).expect("Ref::from_raw of a null pointer")) }
    }

    /// The same reference, on the object's header: for a holder that does not name the
    /// kind (a finalizer's target, a continuation's group).
    pub fn erase(this: Ref<T>) -> Ref<Header> {
        let header = core::ptr::NonNull::from(this.header());
        core::mem::forget(this);
        Ref { live: Live(header) }
    }

    pub fn as_ptr(this: &Ref<T>) -> *const T {
        this.live.0.as_ptr()
    }
}

impl<T: Object> core::ops::Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.live.get()
    }
}

impl<T: Object> Clone for Ref<T> {
    fn clone(&self) -> Ref<T> {
        Ref::retain(self)
    }
}

impl<T: Object> Drop for Ref<T> {
    /// Releases the internal reference; with the last one, disposes of the object and
    /// submits its finalizer to the queue the kind names.
    #[inline]
    fn drop(&mut self) {
        let h = self.live.get().header();
        if h.is_immortal() {
            return;
        }
        // AcqRel: the last release must see every other holder's writes before disposing.
        let prev = h.iref.fetch_sub(1, Ordering::AcqRel);
        if prev > 1 {
            return;
        }
        last_release(h, prev, LastReference(()));
    }
}

/// Proof that the caller's decrement took an internal count to `prev <= 1`: built only by
/// `Ref::drop`, right after that decrement.
struct LastReference(());

/// The last internal reference on `h` went (`prev` is the count before): disposes of the
/// object and submits its finalizer. Out of line: every other release is two instructions.
#[cold]
#[inline(never)]
fn last_release(h: &Header, prev: i32, _last: LastReference) {
    if prev < 1 {
        sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-release of an object");
    }
    let (dispose, header) = (h.vtable.dispose, h as *const Header);
    let finalizer = finalizers::take(h);
    // SAFETY: this was the last internal reference (`LastReference`), so no reference to
    // the object remains (`h` is not used again), and a header's vtable is its kind's
    // (`Header::new`), whose `dispose` frees the allocation it heads. The finalizer and
    // context are the ones the client set by `dispatch_set_finalizer_f` and
    // `dispatch_set_context`, read once as the object goes: the C API's promise is that
    // the finalizer is called with the object's context once then, on its target queue,
    // which is what the `ClientFn` is submitted for (and is called only there).
    let (target, work) = unsafe {
        let Some(finalizer) = finalizer else {
            // No finalizer: the target reference the kind hands back just goes.
            drop(dispose(header));
            return;
        };
        // Relaxed: the AcqRel decrement ordered every holder's writes before this.
        let context = h.context.load(Ordering::Relaxed);
        (dispose(header), (!context.is_null()).then(|| ClientFn::new(finalizer, context)))
    };
    if let (Some(target), Some(work)) = (target, work) {
        let submit = target.vtable.async_f.expect("a finalizer target is a queue");
        submit(&target, work);
    }
}

/// One client reference (`xref`), owned: dropping it releases it. The last one runs the
/// kind's `xref_dispose`, then drops the internal reference all client references held
/// together (module doc).
struct ClientCount<T: Object> {
    live: Live<T>,
}

impl<T: Object> Drop for ClientCount<T> {
    fn drop(&mut self) {
        let h = self.live.get().header();
        if h.is_immortal() {
            return;
        }
        // AcqRel: the last release must see every other holder's writes before disposing.
        let prev = h.xref.fetch_sub(1, Ordering::AcqRel);
        if prev > 1 {
            return;
        }
        if prev < 1 {
            sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-release of an object");
        }
        (h.vtable.xref_dispose)(h);
        // The last client reference owned the client references' internal one; it goes last.
        drop(Ref::<T> { live: Live(self.live.0) });
    }
}

/// [`Ref`] is the runtime's own reference (`iref`). Some references the runtime holds must
/// be *client* references (`xref`) instead: an object handed to a client callback, which
/// the client may retain (retaining an object whose client count reached zero aborts), a
/// source that must stay alive and uncancelled (a source whose last client reference goes
/// away cancels itself), or a new object a C function returns. [`ClientRef`] owns one such
/// reference: dropping it releases it. It also holds an internal reference, through which
/// it reaches the object safely (even if a client over-releases it); that costs one
/// uncontended increment and decrement per handle, and these handles are made per object
/// or per wait, never per queue item.
///
/// One client reference on a dispatch object, owned.
pub struct ClientRef<T: Object> {
    /// Declared (so dropped) first: the client reference goes while `keep` holds the object.
    client: ClientCount<T>,
    keep: Ref<T>,
}

impl<T: Object> ClientRef<T> {
    /// Takes a new client reference on `obj`, which the caller holds one on.
    pub fn retain(obj: &T) -> ClientRef<T> {
        obj.header().retain();
        ClientRef {
            client: ClientCount { live: Live(core::ptr::NonNull::from(obj)) },
            keep: Ref::retain(obj),
        }
    }

    /// Takes over the reference a freshly created object starts with (client count 1).
    pub fn new(obj: Box<T>) -> ClientRef<T> {
        // Leaked here, freed by the kind's `dispose` (`Box::from_raw`) with its last reference.
        let obj: &T = Box::leak(obj);
        ClientRef {
            client: ClientCount { live: Live(core::ptr::NonNull::from(obj)) },
            keep: Ref::retain(obj),
        }
    }

    /// Takes over a client reference on `obj` that the caller owns.
    ///
    /// # Safety
    /// The caller owns one client reference on `obj` and hands it over (nothing else
    /// will release it).
    pub unsafe fn adopt(obj: &T) -> ClientRef<T> {
        ClientRef {
            client: ClientCount { live: Live(core::ptr::NonNull::from(obj)) },
            keep: Ref::retain(obj),
        }
    }

    /// Keeps the object by one internal reference, and never releases the client reference:
    /// for the sole holder of an object that makes the client's release checks itself (a
    /// source's queue: see `Source::create`). The client count stays where it is, so the
    /// object's `xref_dispose` never runs; dropping the `Ref` disposes it.
    pub fn into_sole_holder(self) -> Ref<T> {
        let ClientRef { client, keep } = self;
        let client = core::mem::ManuallyDrop::new(client);
        // With this client reference kept forever the client count never reaches zero, so
        // the internal reference the client references hold together (module doc) is never
        // dropped by them: it is ours, and goes here, while `keep` holds the object.
        drop(Ref::<T> { live: Live(client.live.0) });
        keep
    }

    /// The object, alive while this handle is.
    pub fn get(&self) -> &T {
        &self.keep
    }

    /// The object's address, for a C callback that borrows it.
    pub fn as_ptr(&self) -> *const T {
        Ref::as_ptr(&self.keep)
    }

    /// Gives the client reference away as a bare pointer (a C API's return value).
    pub fn into_raw(self) -> *const T {
        let ClientRef { client, keep } = self;
        // The client reference travels on with the pointer; our internal one goes.
        core::mem::forget(client);
        Ref::as_ptr(&keep)
    }
}
