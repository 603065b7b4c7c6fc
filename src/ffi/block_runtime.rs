//! The Blocks runtime ABI (`Block.h` and the compiler's helper entry points), the same set
//! of symbols libBlocksRuntime exports. Declared in `include/Block.h`, not in `dispatch.h`.

use crate::blocks::layout::{
    BlockLayout, HAS_EXTENDED_LAYOUT, HAS_SIGNATURE, NEEDS_FREE, REFCOUNT_MASK, USE_STRET,
};
use crate::blocks::runtime;
use core::ffi::{c_char, c_int, c_void};
use core::ptr;

pub use crate::blocks::runtime::{
    _NSConcreteAutoBlock, _NSConcreteFinalizingBlock, _NSConcreteGlobalBlock, _NSConcreteMallocBlock,
    _NSConcreteStackBlock, _NSConcreteWeakBlockVariable, BlockClass,
};

#[no_mangle]
pub unsafe extern "C" fn _Block_copy(block: *const c_void) -> *mut c_void {
    // SAFETY: the caller passes a block or NULL.
    unsafe { runtime::copy(block) }
}

/// The garbage-collected variant; there is no collector, so it is `_Block_copy`.
#[no_mangle]
pub unsafe extern "C" fn _Block_copy_collectable(block: *const c_void) -> *mut c_void {
    // SAFETY: as above.
    unsafe { runtime::copy(block) }
}

#[no_mangle]
pub unsafe extern "C" fn _Block_release(block: *const c_void) {
    // SAFETY: the caller passes a block it holds, or NULL.
    unsafe { runtime::release(block) }
}

#[no_mangle]
pub unsafe extern "C" fn _Block_object_assign(dest: *mut c_void, object: *const c_void, flags: c_int) {
    // SAFETY: called by compiler-generated copy helpers with their own arguments.
    unsafe { runtime::object_assign(dest as *mut *const c_void, object, flags) }
}

#[no_mangle]
pub unsafe extern "C" fn _Block_object_dispose(object: *const c_void, flags: c_int) {
    // SAFETY: called by compiler-generated dispose helpers with their own arguments.
    unsafe { runtime::object_dispose(object, flags) }
}

/// Resolves a block argument of the introspection functions.
///
/// # Safety
/// `block` must be a block literal.
unsafe fn block_ref<'a>(block: *const c_void) -> &'a BlockLayout {
    // SAFETY: forwarded contract.
    unsafe { &*(block as *const BlockLayout) }
}

#[no_mangle]
pub unsafe extern "C" fn Block_size(block: *const c_void) -> usize {
    // SAFETY: the caller passes a block.
    unsafe { block_ref(block).size() }
}

#[no_mangle]
pub unsafe extern "C" fn _Block_has_signature(block: *const c_void) -> bool {
    // SAFETY: the caller passes a block.
    unsafe { block_ref(block) }.flags() & HAS_SIGNATURE != 0
}

#[no_mangle]
pub unsafe extern "C" fn _Block_signature(block: *const c_void) -> *const c_char {
    // SAFETY: the caller passes a block.
    unsafe { block_ref(block).signature_info() }.map_or(ptr::null(), |s| s.signature)
}

/// The classic GC layout string; NULL when the block carries an extended layout instead.
#[no_mangle]
pub unsafe extern "C" fn _Block_layout(block: *const c_void) -> *const c_char {
    // SAFETY: the caller passes a block.
    let b = unsafe { block_ref(block) };
    if b.flags() & HAS_EXTENDED_LAYOUT != 0 {
        return ptr::null();
    }
    // SAFETY: as above.
    unsafe { b.signature_info() }.map_or(ptr::null(), |s| s.layout)
}

/// The extended layout string; "" when the block has one but it is empty (encoded inline).
#[no_mangle]
pub unsafe extern "C" fn _Block_extended_layout(block: *const c_void) -> *const c_char {
    // SAFETY: the caller passes a block.
    let b = unsafe { block_ref(block) };
    if b.flags() & HAS_EXTENDED_LAYOUT == 0 {
        return ptr::null();
    }
    // SAFETY: as above.
    match unsafe { b.signature_info() } {
        Some(s) if !s.layout.is_null() => s.layout,
        Some(_) => c"".as_ptr(),
        None => ptr::null(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn _Block_use_stret(block: *const c_void) -> bool {
    // SAFETY: the caller passes a block.
    let flags = unsafe { block_ref(block) }.flags();
    flags & (HAS_SIGNATURE | USE_STRET) == HAS_SIGNATURE | USE_STRET
}

#[no_mangle]
pub unsafe extern "C" fn _Block_tryRetain(block: *const c_void) -> bool {
    // SAFETY: the caller passes a block whose memory is valid.
    unsafe { runtime::try_retain(block) }
}

/// Whether the last reference of a heap block is gone (it is being disposed).
#[no_mangle]
pub unsafe extern "C" fn _Block_isDeallocating(block: *const c_void) -> bool {
    // SAFETY: the caller passes a block whose memory is valid.
    let flags = unsafe { block_ref(block) }.flags();
    flags & NEEDS_FREE != 0 && flags & REFCOUNT_MASK == 0
}

/// `Block_callbacks_RR`: how an Objective-C runtime hands over object retain/release.
#[repr(C)]
pub struct BlockCallbacksRR {
    pub size: usize,
    pub retain: Option<unsafe extern "C" fn(*const c_void)>,
    pub release: Option<unsafe extern "C" fn(*const c_void)>,
    pub destruct_instance: Option<unsafe extern "C" fn(*const c_void)>,
}

#[no_mangle]
pub unsafe extern "C" fn _Block_use_RR2(callbacks: *const BlockCallbacksRR) {
    // SAFETY: NULL checked; otherwise the caller passes a callbacks struct.
    if let Some(cb) = unsafe { callbacks.as_ref() } {
        runtime::set_object_callbacks(cb.retain, cb.release);
    }
}
