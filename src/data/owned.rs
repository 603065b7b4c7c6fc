//! Owned client references, and the disposal of boxed objects, for the objects of this
//! layer (data objects, I/O channels, and the sources a channel waits on).
//!
//! [`Ref`] is the runtime's own reference (`iref`). Some references the runtime holds must
//! be *client* references (`xref`) instead: an object handed to a client callback, which
//! the client may retain (retaining an object whose client count reached zero aborts), or
//! a source that must stay alive and uncancelled (a source whose last client reference
//! goes away cancels itself). [`ClientRef`] owns one such reference: dropping it releases
//! it. It also holds an internal reference, through which it reaches the object safely;
//! that costs one uncontended increment and decrement per handle, and these handles are
//! made per data object or per wait, never per queue item.
//!
//! These are generic object-layer helpers, kept here because this change may not edit
//! `object.rs`; they would move there unchanged.

use crate::object::{Header, Object, Ref};
use crate::queue::root;

/// One client reference on a dispatch object, owned (see the module doc).
pub struct ClientRef<T: Object>(
    /// `None` only after [`ClientRef::into_raw`] gave the client reference away.
    Option<Ref<T>>,
);

impl<T: Object> ClientRef<T> {
    /// Takes a new client reference on `obj`, which the caller holds one on.
    pub fn retain(obj: &T) -> ClientRef<T> {
        obj.header().retain();
        ClientRef(Some(Ref::retain(obj)))
    }

    /// Takes over the reference a freshly created object starts with (client count 1).
    pub fn new(obj: Box<T>) -> ClientRef<T> {
        // Leaked here, freed by the kind's `dispose` (`Box::from_raw`) with its last reference.
        ClientRef(Some(Ref::retain(Box::leak(obj))))
    }

    /// Takes over a client reference on `obj` that the caller owns.
    ///
    /// # Safety
    /// The caller owns one client reference on `obj` and hands it over (nothing else
    /// will release it).
    pub unsafe fn adopt(obj: &T) -> ClientRef<T> {
        ClientRef(Some(Ref::retain(obj)))
    }

    /// The object, alive while this handle is.
    pub fn get(&self) -> &T {
        self.0.as_ref().expect("a ClientRef holds its object until into_raw consumes it")
    }

    /// The object's address, for a C callback that borrows it.
    pub fn as_ptr(&self) -> *const T {
        self.get()
    }

    /// Gives the client reference away as a bare pointer (a C API's return value).
    pub fn into_raw(mut self) -> *const T {
        let r = self.0.take().expect("a ClientRef is consumed once");
        Ref::as_ptr(&r)
        // `r` drops here: our internal reference goes; the client reference travels on.
    }
}

impl<T: Object> Drop for ClientRef<T> {
    fn drop(&mut self) {
        if let Some(r) = &self.0 {
            // SAFETY: this handle owns one client reference on the object, which `r` keeps
            // alive (an object of this crate: `Object` is implemented only for those).
            unsafe { r.header().release() };
        }
    }
}

/// The `dispose` of an object kind allocated in a `Box` (by [`ClientRef::new`] or
/// `Box::into_raw`) whose finalizer runs on the default queue: frees the object, whose
/// fields' `Drop` release what it held.
///
/// # Safety
/// Install only in the vtable of `T`'s objects; called once, with no reference left.
pub unsafe fn dispose_boxed<T: Object>(h: *const Header) -> *const Header {
    // SAFETY: the header is the first field of a boxed `T` (`Object`'s contract; this
    // vtable is `T`'s), and no reference remains, so the allocation is ours to free.
    drop(unsafe { Box::from_raw(h as *mut T) });
    &root::default_queue().header // immortal: the finalizer target needs no reference
}

/// The `xref_dispose` of a kind with nothing to do when the client's last reference goes.
///
/// # Safety
/// None needed; the signature is the vtable's.
pub unsafe fn no_client_dispose(_h: *const Header) {}
