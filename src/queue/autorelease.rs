//! The autorelease-pool hooks: `_dispatch_begin_NSAutoReleasePool` and
//! `_dispatch_end_NSAutoReleasePool`, function pointers an Objective-C or Swift runtime
//! stores into the library's exported variables. Items of a queue whose autorelease
//! frequency is `DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM` run between `begin()` and
//! `end(pool)`, as in the reference.
//!
//! The variables are plain C globals the program assigns. An executable that assigns one
//! may hold it by copy relocation (gcc's PIE code does so for extern data), and then its
//! copy, not the library's definition, is the live variable: so the address is looked up
//! once in the global scope (`sys::global_symbol_address`) and cached. Per item the cost is
//! two relaxed loads (the cached address, then the hook) while no hook is set.

use super::frames;
use crate::sys;
use core::ffi::{c_void, CStr};
use core::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// `void *(*_dispatch_begin_NSAutoReleasePool)(void)`: set by an Objective-C/Swift runtime;
/// called before each item of a queue whose autorelease frequency is WORK_ITEM
/// (below). NULL by default.
#[no_mangle]
pub static _dispatch_begin_NSAutoReleasePool: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// `void (*_dispatch_end_NSAutoReleasePool)(void *)`: called after such an item with what
/// the begin hook returned.
#[no_mangle]
pub static _dispatch_end_NSAutoReleasePool: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// `DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM`.
pub const WORK_ITEM: u8 = 1;

/// The live variables' addresses (null: not looked up yet). Relaxed: every lookup finds the
/// same address, so a racing or repeated lookup stores the same value.
static BEGIN: AtomicPtr<AtomicPtr<c_void>> = AtomicPtr::new(core::ptr::null_mut());
static END: AtomicPtr<AtomicPtr<c_void>> = AtomicPtr::new(core::ptr::null_mut());

/// The live variable's address: `own`, or the executable's copy of it (module doc).
fn hook_address(
    slot: &AtomicPtr<AtomicPtr<c_void>>,
    name: &CStr,
    own: &'static AtomicPtr<c_void>,
) -> *const AtomicPtr<c_void> {
    let mut addr = slot.load(Relaxed);
    if addr.is_null() {
        let own = own as *const AtomicPtr<c_void>;
        addr = sys::global_symbol_address(name).unwrap_or(own as *const c_void) as *mut AtomicPtr<c_void>;
        slot.store(addr, Relaxed);
    }
    addr
}

/// Whether the queue the calling thread runs on asks for a pool per item (the hooks are
/// looked at only then).
#[inline]
pub fn per_item() -> bool {
    frames::current().is_some_and(|q| q.spi().autorelease_frequency.load(Relaxed) == WORK_ITEM)
}

/// Before an item: pushes a pool if a begin hook is set and the current queue asks for a
/// pool per item. Returns what `end` must be given.
#[inline]
pub fn begin() -> Option<*mut c_void> {
    let addr = hook_address(&BEGIN, c"_dispatch_begin_NSAutoReleasePool", &_dispatch_begin_NSAutoReleasePool);
    // SAFETY: `addr` is the exported pointer-sized variable (ours or the executable's copy
    // of it), alive for the whole process. Relaxed: the program assigns the hook before it
    // submits the work that should use it; the submission orders the two. A non-null value
    // is the `void *(*)(void)` the runtime stored there (the variable's C type), whose
    // contract is to be called with no arguments.
    unsafe {
        let f = (*addr).load(Relaxed);
        if f.is_null() || !per_item() {
            return None;
        }
        Some(core::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *mut c_void>(f)())
    }
}

/// After the item: pops the pool `begin` pushed.
#[inline]
pub fn end(pool: Option<*mut c_void>) {
    let Some(pool) = pool else { return };
    let addr = hook_address(&END, c"_dispatch_end_NSAutoReleasePool", &_dispatch_end_NSAutoReleasePool);
    // SAFETY: `addr` is the exported variable, alive for the whole process (as in `begin`,
    // whose Relaxed reason holds here too). A non-null value is the `void (*)(void *)` the
    // runtime stored there (the variable's C type), to be called with what its begin hook
    // returned, which `pool` is.
    unsafe {
        let f = (*addr).load(Relaxed);
        if !f.is_null() {
            core::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(f)(pool);
        }
    }
}
