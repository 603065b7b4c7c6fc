//! The os_object runtime (`os/object_private.h`): reference counting that works on dispatch
//! objects and on bare objects allocated with `_os_object_alloc`.
//!
//! A bare object is the reference's `struct _os_object_s`: `{ const vtable *isa; int
//! ref_cnt; int xref_cnt; }`, zeroed at allocation (counts biased by one: 0 means one
//! reference). Its vtable is `{ void (*xref_dispose)(obj); void (*dispose)(obj); }`: when
//! the client count drops below zero `xref_dispose` runs (default: drop the internal
//! reference), when the internal count does `dispose` runs (default: `_os_object_dealloc`).
//! Counts at `INT_MAX` are global objects and never change.
//!
//! A dispatch object is recognised by its first word, the object tag (`object.rs`): its high
//! half is not a canonical user-space address, so no vtable pointer can equal it. For those
//! the functions are `dispatch_retain`/`dispatch_release` and the internal count.

use crate::object::{is_object_tag, resolve, Header};
use crate::sys;
use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

pub type _os_object_t = *mut c_void;

#[repr(C)]
struct OsObject {
    isa: AtomicPtr<OsVtable>,
    ref_cnt: AtomicI32,
    xref_cnt: AtomicI32,
}

#[repr(C)]
struct OsVtable {
    xref_dispose: Option<unsafe extern "C" fn(_os_object_t)>,
    dispose: Option<unsafe extern "C" fn(_os_object_t)>,
}

/// The vtable of objects allocated without a class: default disposal.
static DEFAULT_VTABLE: OsVtable = OsVtable { xref_dispose: None, dispose: None };

const GLOBAL_REFCNT: i32 = i32::MAX;

enum Obj<'a> {
    Dispatch(&'a Header),
    Bare(&'a OsObject),
}

/// # Safety
/// `obj` must be a dispatch object or an object from `_os_object_alloc*`.
unsafe fn classify<'a>(obj: _os_object_t, what: &str) -> Obj<'a> {
    if obj.is_null() {
        sys::abort_with_message(&format!("BUG IN CLIENT OF LIBDISPATCH: {what} called with a NULL object"));
    }
    // SAFETY: either kind of object starts with a pointer-sized word; only its high half
    // is read (a dispatch object's low half is atomic flags: `object.rs`).
    let high = unsafe { *obj.cast::<u32>().add(1) };
    if is_object_tag(high) {
        // SAFETY: a dispatch object (tag checked again by `resolve`).
        Obj::Dispatch(unsafe { resolve(obj, None, what) })
    } else {
        // SAFETY: per the contract, a bare os_object.
        Obj::Bare(unsafe { &*(obj as *const OsObject) })
    }
}

/// Adds `n` to a count unless it is a global object's; returns the old value.
fn add(count: &AtomicI32, n: i32) -> i32 {
    // Relaxed: taking a reference needs no ordering (the caller holds one already).
    let old = count.load(Ordering::Relaxed);
    if old == GLOBAL_REFCNT {
        return old;
    }
    count.fetch_add(n, Ordering::Relaxed)
}

/// Subtracts `n`; returns the new value (`GLOBAL_REFCNT` for global objects).
fn sub(count: &AtomicI32, n: i32) -> i32 {
    if count.load(Ordering::Relaxed) == GLOBAL_REFCNT {
        return GLOBAL_REFCNT;
    }
    // AcqRel: the last release must see every holder's writes before disposing.
    count.fetch_sub(n, Ordering::AcqRel) - n
}

unsafe fn bare_release_internal(o: &OsObject, n: i32) {
    let now = sub(&o.ref_cnt, n);
    if now >= 0 {
        return;
    }
    if now < -1 {
        sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-release of an object");
    }
    let obj = o as *const OsObject as _os_object_t;
    // SAFETY: the isa is the vtable given at allocation (ours by default).
    match unsafe { (*o.isa.load(Ordering::Relaxed)).dispose } {
        // SAFETY: the class's own disposal of its object.
        Some(dispose) => unsafe { dispose(obj) },
        // SAFETY: the last reference is gone; the object came from `_os_object_alloc`.
        None => unsafe { _os_object_dealloc(obj) },
    }
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_retain(obj: _os_object_t) -> _os_object_t {
    // SAFETY: forwarded contract.
    match unsafe { classify(obj, "_os_object_retain") } {
        Obj::Dispatch(h) => h.retain(),
        Obj::Bare(o) => {
            if add(&o.xref_cnt, 1) < 0 {
                sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Resurrection of an object");
            }
        }
    }
    obj
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_retain_with_resurrect(obj: _os_object_t) -> _os_object_t {
    // SAFETY: forwarded contract.
    match unsafe { classify(obj, "_os_object_retain_with_resurrect") } {
        Obj::Dispatch(h) => h.retain_with_resurrect(),
        Obj::Bare(o) => {
            let now = add(&o.xref_cnt, 1).saturating_add(1);
            if now < 0 {
                sys::abort_with_message(
                    "BUG IN CLIENT OF LIBDISPATCH: Resurrection of an overreleased object",
                );
            }
            if now == 0 {
                add(&o.ref_cnt, 1);
            }
        }
    }
    obj
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_release(obj: _os_object_t) {
    // SAFETY: forwarded contract.
    match unsafe { classify(obj, "_os_object_release") } {
        // SAFETY: the caller gives up one client reference.
        Obj::Dispatch(h) => unsafe { h.release() },
        Obj::Bare(o) => {
            let now = sub(&o.xref_cnt, 1);
            if now >= 0 {
                return;
            }
            if now < -1 {
                sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Over-release of an object");
            }
            // SAFETY: the isa is the vtable given at allocation.
            match unsafe { (*o.isa.load(Ordering::Relaxed)).xref_dispose } {
                // SAFETY: the class's handler for the last client reference.
                Some(f) => unsafe { f(obj) },
                // SAFETY: the client references together held one internal reference.
                None => unsafe { bare_release_internal(o, 1) },
            }
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_retain_internal(obj: _os_object_t) -> _os_object_t {
    // SAFETY: forwarded contract.
    unsafe { _os_object_retain_internal_n(obj, 1) }
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_release_internal(obj: _os_object_t) {
    // SAFETY: forwarded contract.
    unsafe { _os_object_release_internal_n(obj, 1) }
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_retain_internal_n(obj: _os_object_t, n: u16) -> _os_object_t {
    // SAFETY: forwarded contract.
    match unsafe { classify(obj, "_os_object_retain_internal") } {
        Obj::Dispatch(h) => (0..n).for_each(|_| h.retain_internal()),
        Obj::Bare(o) => {
            if add(&o.ref_cnt, n as i32) < 0 {
                sys::abort_with_message("BUG IN CLIENT OF LIBDISPATCH: Resurrection of an object");
            }
        }
    }
    obj
}

#[no_mangle]
pub unsafe extern "C" fn _os_object_release_internal_n(obj: _os_object_t, n: u16) {
    // SAFETY: forwarded contract.
    match unsafe { classify(obj, "_os_object_release_internal") } {
        Obj::Dispatch(h) => {
            for _ in 0..n {
                // SAFETY: the caller gives up `n` internal references it holds.
                unsafe { h.release_internal() };
            }
        }
        // SAFETY: as above.
        Obj::Bare(o) => unsafe { bare_release_internal(o, n as i32) },
    }
}

/// Allocates a zeroed object of `size` bytes (at least the 16-byte header) whose class is
/// `cls`, a vtable of two disposal functions (NULL: the defaults), with one client
/// reference.
#[no_mangle]
pub extern "C" fn _os_object_alloc_realized(cls: *const c_void, size: usize) -> _os_object_t {
    if size < core::mem::size_of::<OsObject>() {
        sys::abort_with_message(
            "BUG IN CLIENT OF LIBDISPATCH: _os_object_alloc called with a size smaller than an object header",
        );
    }
    let p = sys::c_calloc(size) as *mut OsObject;
    if p.is_null() {
        sys::abort_with_message("dispatch: out of memory allocating an object");
    }
    let cls = if cls.is_null() { &DEFAULT_VTABLE as *const OsVtable } else { cls as *const OsVtable };
    // SAFETY: a fresh zeroed allocation of at least the header's size.
    unsafe { (*p).isa.store(cls as *mut OsVtable, Ordering::Relaxed) };
    p as _os_object_t
}

/// As [`_os_object_alloc_realized`] (there are no lazily realized classes here).
#[no_mangle]
pub extern "C" fn _os_object_alloc(cls: *const c_void, size: usize) -> _os_object_t {
    _os_object_alloc_realized(cls, size)
}

/// Frees an object from `_os_object_alloc*` (its isa is poisoned first, as the reference
/// does, so a use after free crashes recognisably).
#[no_mangle]
pub unsafe extern "C" fn _os_object_dealloc(obj: _os_object_t) {
    if obj.is_null() {
        return;
    }
    // SAFETY: the caller owns the object and hands it back.
    unsafe {
        (*(obj as *const OsObject)).isa.store(0x200 as *mut OsVtable, Ordering::Relaxed);
        sys::c_free(obj);
    }
}
