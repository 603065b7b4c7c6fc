//! An owned heap copy of a client's block: made by `_Block_copy` once, released by
//! `_Block_release` when dropped, so a holder (a source's handler) can neither forget the
//! release nor do it twice, and needs no `unsafe` of its own to keep, call through or drop
//! the copy.

use super::runtime;
use core::ffi::c_void;
use core::ptr::NonNull;

/// One reference on a heap block (our copy of a block the client passed).
pub struct OwnedBlock(NonNull<c_void>);

// SAFETY: a block handed to dispatch may be called and released on any thread
// (`OwnedBlock::copy`'s contract), and a heap block's reference count is atomic.
unsafe impl Send for OwnedBlock {}
// SAFETY: as for `Send`; the copy is never mutated through `&OwnedBlock`.
unsafe impl Sync for OwnedBlock {}

impl OwnedBlock {
    /// Copies `block` to the heap (or takes one more reference on a heap or global block):
    /// `None` for NULL.
    ///
    /// # Safety
    /// `block` must be NULL or a block literal (stack, heap or global) that the client
    /// hands to dispatch: it may be called, and released, on any thread.
    pub unsafe fn copy(block: *const c_void) -> Option<OwnedBlock> {
        // SAFETY: NULL or a block literal, per the contract.
        NonNull::new(unsafe { runtime::copy(block) }).map(OwnedBlock)
    }

    /// The copy, for calling it (valid while `self` is).
    pub fn as_ptr(&self) -> *mut c_void {
        self.0.as_ptr()
    }
}

impl Drop for OwnedBlock {
    fn drop(&mut self) {
        // SAFETY: `copy` made this reference on a block, and this value alone owns it.
        unsafe { runtime::release(self.0.as_ptr()) };
    }
}
