//! Copying and releasing blocks and `__block` variables.
//!
//! * A *stack* block (neither `NEEDS_FREE` nor `IS_GLOBAL`) is copied bit for bit into a
//!   `malloc`ed literal with count 1, then its copy helper (if any) copies the captures
//!   that need it: captured blocks are copied, `__block` variables are moved to the heap.
//! * A *heap* block (`NEEDS_FREE`) is retained by adding one to the count in its flags;
//!   the release that brings the count to zero runs the dispose helper and frees it.
//! * A *global* block is never counted.
//! * A `__block` variable is moved to the heap the first time a block holding it is
//!   copied, with count 2 (the stack frame's scope-end dispose and the copying block each
//!   hold one); every `forwarding` pointer then leads to the heap copy.
//!
//! Counts latch at `REFCOUNT_MASK`: an object that reached it is immortal rather than
//! freed early. All of it follows compiler-rt's BlocksRuntime bit for bit (see `mod.rs`).

use super::layout::*;
use crate::sys;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

// The class objects are defined here, where the runtime that reads them lives, and
// re-exported by the C surface (`ffi/block_runtime.rs`), so this layer never names it.

/// A class object: clang's code takes the address of these as a block's `isa`. 256 bytes,
/// the size the reference exports (a copy relocation in a non-PIE program has that size).
#[repr(C, align(8))]
pub struct BlockClass([u8; 256]);

#[no_mangle]
pub static _NSConcreteStackBlock: BlockClass = BlockClass([0; 256]);
#[no_mangle]
pub static _NSConcreteMallocBlock: BlockClass = BlockClass([0; 256]);
#[no_mangle]
pub static _NSConcreteGlobalBlock: BlockClass = BlockClass([0; 256]);
#[no_mangle]
pub static _NSConcreteAutoBlock: BlockClass = BlockClass([0; 256]);
#[no_mangle]
pub static _NSConcreteFinalizingBlock: BlockClass = BlockClass([0; 256]);
#[no_mangle]
pub static _NSConcreteWeakBlockVariable: BlockClass = BlockClass([0; 256]);

/// Adds one reference unless the count is latched. Returns the new count field.
fn latching_increment(flags: &AtomicI32) -> i32 {
    // Relaxed load: the CAS below validates it. AcqRel-free increments are fine for
    // retains (as in `Arc::clone`): the caller already holds a reference.
    let mut old = flags.load(Ordering::Relaxed);
    loop {
        if old & REFCOUNT_MASK == REFCOUNT_MASK {
            return REFCOUNT_MASK;
        }
        match flags.compare_exchange_weak(old, old + 1, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return (old + 1) & REFCOUNT_MASK,
            Err(now) => old = now,
        }
    }
}

/// Drops one reference unless the count is latched or already zero. Returns the new count.
fn latching_decrement(flags: &AtomicI32) -> i32 {
    let mut old = flags.load(Ordering::Relaxed);
    loop {
        let count = old & REFCOUNT_MASK;
        if count == REFCOUNT_MASK || count == 0 {
            return count;
        }
        // AcqRel: the release that reaches zero must see every other holder's writes
        // before it disposes (the `Arc::drop` pattern).
        match flags.compare_exchange_weak(old, old - 1, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return count - 1,
            Err(now) => old = now,
        }
    }
}

/// `_Block_copy`.
///
/// # Safety
/// `block` must be NULL or a block literal (stack, heap or global).
pub unsafe fn copy(block: *const c_void) -> *mut c_void {
    let src = block as *const BlockLayout;
    // SAFETY: NULL checked; otherwise a block per the contract.
    let Some(b) = (unsafe { src.as_ref() }) else { return ptr::null_mut() };
    let flags = b.flags();
    if flags & NEEDS_FREE != 0 {
        latching_increment(&b.flags);
        return block as *mut c_void;
    }
    if flags & IS_GLOBAL != 0 {
        return block as *mut c_void;
    }
    // SAFETY: a block's descriptor gives its size.
    let size = unsafe { b.size() };
    let dst = sys::c_malloc(size) as *mut BlockLayout;
    if dst.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `dst` has `size` bytes; the source literal is `size` bytes long.
    unsafe { ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, size) };
    // SAFETY: `dst` is ours and initialised by the copy above.
    unsafe {
        (*dst).flags = AtomicI32::new((flags & !REFCOUNT_MASK) | NEEDS_FREE | 1);
        (*dst).isa = malloc_block_isa();
        if let Some(helpers) = (*dst).copy_dispose() {
            (helpers.copy)(dst as *mut c_void, block);
        }
    }
    dst as *mut c_void
}

/// `_Block_release`.
///
/// # Safety
/// `block` must be NULL or a block literal; a heap block must hold a reference the
/// caller owns.
pub unsafe fn release(block: *const c_void) {
    let b = block as *const BlockLayout;
    // SAFETY: NULL checked; otherwise a block per the contract.
    let Some(b) = (unsafe { b.as_ref() }) else { return };
    let flags = b.flags();
    if flags & NEEDS_FREE == 0 {
        return; // global or stack: not counted
    }
    if latching_decrement(&b.flags) != 0 {
        return;
    }
    // SAFETY: the last reference: nobody else can reach the block now.
    unsafe {
        if let Some(helpers) = b.copy_dispose() {
            (helpers.dispose)(block);
        }
        sys::c_free(block as *mut c_void);
    }
}

/// Whether a heap block can still be retained (its count has not reached zero), retaining
/// it if so. Global blocks always can. `_Block_tryRetain`.
///
/// # Safety
/// `block` must be a block literal whose memory is still valid.
pub unsafe fn try_retain(block: *const c_void) -> bool {
    // SAFETY: forwarded contract.
    let b = unsafe { &*(block as *const BlockLayout) };
    if b.flags() & NEEDS_FREE == 0 {
        return true;
    }
    let mut old = b.flags.load(Ordering::Relaxed);
    loop {
        let count = old & REFCOUNT_MASK;
        if count == 0 {
            return false;
        }
        if count == REFCOUNT_MASK {
            return true;
        }
        match b.flags.compare_exchange_weak(old, old + 1, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => old = now,
        }
    }
}

/// Moves a `__block` variable to the heap (first copy) or retains its heap copy, and
/// returns the heap copy.
///
/// # Safety
/// `src` must be a `__block` variable header emitted by a compiler.
unsafe fn byref_copy(src: *mut Byref) -> *mut Byref {
    // SAFETY: a live byref per the contract; `forwarding` is always valid.
    let fwd = unsafe { (*src).forwarding };
    // SAFETY: as above.
    let fwd_flags = unsafe { (*fwd).flags.load(Ordering::Acquire) };
    if fwd_flags & REFCOUNT_MASK == 0 {
        // Still on the stack: move it. Only the owning thread's block copies get here
        // (a stack variable is not shared with other threads until a copy is made).
        // SAFETY: `src` is the stack header; the helpers and variable follow it.
        let size = unsafe { (*src).size } as usize;
        let copy = sys::c_malloc(size) as *mut Byref;
        if copy.is_null() {
            sys::abort_with_message("dispatch: out of memory copying a __block variable");
        }
        // SAFETY: `copy` has `size` bytes; we initialise the header, then the rest.
        unsafe {
            ptr::write(
                copy,
                Byref {
                    isa: ptr::null(),
                    forwarding: copy,
                    flags: AtomicI32::new((fwd_flags & !REFCOUNT_MASK) | NEEDS_FREE | 2),
                    size: size as u32,
                },
            );
            (*src).forwarding = copy;
            match (*src).helpers() {
                Some(h) => {
                    let dst_helpers = copy.add(1) as *mut ByrefHelpers;
                    ptr::write(dst_helpers, ByrefHelpers { keep: h.keep, destroy: h.destroy });
                    (h.keep)(copy, src);
                }
                None => {
                    let header = core::mem::size_of::<Byref>();
                    ptr::copy_nonoverlapping(
                        (src as *const u8).add(header),
                        (copy as *mut u8).add(header),
                        size.saturating_sub(header),
                    );
                }
            }
        }
        return copy;
    }
    if fwd_flags & NEEDS_FREE != 0 {
        // SAFETY: a heap copy, alive while the caller's block holds it.
        latching_increment(unsafe { &(*fwd).flags });
    }
    fwd
}

/// Drops one reference on a `__block` variable's heap copy (no-op on the stack).
///
/// # Safety
/// `byref` must be a `__block` variable header (stack or heap).
unsafe fn byref_release(byref: *mut Byref) {
    // SAFETY: per the contract; `forwarding` leads to the current copy.
    let b = unsafe { &*(*byref).forwarding };
    if b.flags.load(Ordering::Relaxed) & NEEDS_FREE == 0 {
        return;
    }
    if latching_decrement(&b.flags) != 0 {
        return;
    }
    // SAFETY: the last reference to the heap copy.
    unsafe {
        if let Some(h) = b.helpers() {
            (h.destroy)(b as *const Byref as *mut Byref);
        }
        sys::c_free(b as *const Byref as *mut c_void);
    }
}

/// Retain/release for `BLOCK_FIELD_IS_OBJECT` captures, installed by `_Block_use_RR2`
/// (an Objective-C runtime would); none by default, as in libBlocksRuntime.
static RETAIN_OBJECT: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static RELEASE_OBJECT: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

type ObjectFn = unsafe extern "C" fn(*const c_void);

pub fn set_object_callbacks(retain: Option<ObjectFn>, release: Option<ObjectFn>) {
    // Release: a helper that loads the pointer (Acquire) calls a fully published function.
    RETAIN_OBJECT.store(retain.map_or(ptr::null_mut(), |f| f as *mut c_void), Ordering::Release);
    RELEASE_OBJECT.store(release.map_or(ptr::null_mut(), |f| f as *mut c_void), Ordering::Release);
}

fn call_object_callback(slot: &AtomicPtr<c_void>, object: *const c_void) {
    // Acquire: pairs with the Release store in `set_object_callbacks`.
    let f = slot.load(Ordering::Acquire);
    if !f.is_null() && !object.is_null() {
        // SAFETY: only `set_object_callbacks` stores here, and only `ObjectFn`s.
        let f: ObjectFn = unsafe { core::mem::transmute::<*mut c_void, ObjectFn>(f) };
        // SAFETY: the callback's contract is the installer's.
        unsafe { f(object) };
    }
}

/// `_Block_object_assign`: called by copy helpers for each capture that needs work.
///
/// # Safety
/// `dest` must be writable; `object` and `flags` as the compiler passes them.
pub unsafe fn object_assign(dest: *mut *const c_void, object: *const c_void, flags: i32) {
    let value = match flags & ALL_FIELD_FLAGS {
        FIELD_IS_OBJECT => {
            call_object_callback(&RETAIN_OBJECT, object);
            object
        }
        // SAFETY: the capture is a block.
        FIELD_IS_BLOCK => unsafe { copy(object) as *const c_void },
        f if f == FIELD_IS_BYREF || f == FIELD_IS_BYREF | FIELD_IS_WEAK => {
            // SAFETY: the capture is a `__block` variable.
            unsafe { byref_copy(object as *mut Byref) as *const c_void }
        }
        // Inside a `__block` variable's keep helper (BYREF_CALLER): the variable's
        // contents are moved, not retained.
        _ => object,
    };
    // SAFETY: per the contract.
    unsafe { *dest = value };
}

/// `_Block_object_dispose`: called by dispose helpers for each capture.
///
/// # Safety
/// `object` and `flags` as the compiler passes them.
pub unsafe fn object_dispose(object: *const c_void, flags: i32) {
    match flags & ALL_FIELD_FLAGS {
        // SAFETY: the capture is a `__block` variable.
        f if f == FIELD_IS_BYREF || f == FIELD_IS_BYREF | FIELD_IS_WEAK => unsafe {
            byref_release(object as *mut Byref)
        },
        // SAFETY: the capture is a block the copy helper copied.
        FIELD_IS_BLOCK => unsafe { release(object) },
        FIELD_IS_OBJECT => call_object_callback(&RELEASE_OBJECT, object),
        _ => {}
    }
}

fn malloc_block_isa() -> *const c_void {
    // The exported class object (the C ABI names it); compared by nobody, kept for
    // debuggers and for code that prints `isa`.
    core::ptr::addr_of!(_NSConcreteMallocBlock) as *const c_void
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    /// A hand-built block literal with one capture and counting helpers.
    #[repr(C)]
    struct TestBlock {
        layout: BlockLayout,
        captured: usize,
    }

    #[repr(C)]
    struct TestDescriptor {
        basic: Descriptor,
        helpers: CopyDispose,
    }

    static COPIES: AtomicUsize = AtomicUsize::new(0);
    static DISPOSES: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count_copy(_dst: *mut c_void, _src: *const c_void) {
        COPIES.fetch_add(1, Ordering::SeqCst);
    }
    unsafe extern "C" fn count_dispose(_b: *const c_void) {
        DISPOSES.fetch_add(1, Ordering::SeqCst);
    }

    static DESCRIPTOR: TestDescriptor = TestDescriptor {
        basic: Descriptor { reserved: 0, size: core::mem::size_of::<TestBlock>() },
        helpers: CopyDispose { copy: count_copy, dispose: count_dispose },
    };

    fn literal(flags: i32) -> TestBlock {
        TestBlock {
            layout: BlockLayout {
                isa: ptr::null(),
                flags: AtomicI32::new(flags),
                reserved: 0,
                invoke: ptr::null(),
                descriptor: &DESCRIPTOR.basic,
            },
            captured: 42,
        }
    }

    #[test]
    fn stack_block_is_copied_once_then_counted_and_disposed_at_zero() {
        let stack = literal(HAS_COPY_DISPOSE);
        let (copies, disposes) = (COPIES.load(Ordering::SeqCst), DISPOSES.load(Ordering::SeqCst));
        // SAFETY: `stack` is a well-formed literal; every copy is released below.
        unsafe {
            let heap = copy(&stack as *const TestBlock as *const c_void);
            assert_ne!(heap as *const TestBlock, &stack as *const TestBlock);
            let hb = &*(heap as *const TestBlock);
            assert_eq!(hb.captured, 42);
            assert_eq!(hb.layout.flags(), HAS_COPY_DISPOSE | NEEDS_FREE | 1);
            assert_eq!(COPIES.load(Ordering::SeqCst), copies + 1, "the copy helper ran once");
            assert_eq!(copy(heap), heap, "copying a heap block retains it");
            assert_eq!(hb.layout.flags() & REFCOUNT_MASK, 2);
            release(heap);
            assert_eq!(DISPOSES.load(Ordering::SeqCst), disposes, "one reference remains");
            release(heap);
            assert_eq!(DISPOSES.load(Ordering::SeqCst), disposes + 1, "the last release disposes");
        }
    }

    #[test]
    fn global_blocks_and_latched_counts_are_never_freed() {
        let global = literal(IS_GLOBAL);
        let g = &global as *const TestBlock as *const c_void;
        // SAFETY: well-formed literals; nothing here is freed.
        unsafe {
            assert_eq!(copy(g) as *const c_void, g);
            release(g);
            assert_eq!(global.layout.flags(), IS_GLOBAL);
            let latched = literal(NEEDS_FREE | REFCOUNT_MASK);
            let l = &latched as *const TestBlock as *const c_void;
            copy(l);
            release(l);
            assert_eq!(latched.layout.flags() & REFCOUNT_MASK, REFCOUNT_MASK, "latched for good");
        }
    }
}
