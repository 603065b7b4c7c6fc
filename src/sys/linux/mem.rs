//! Memory on Linux: the C heap (`malloc`/`calloc`/`free`, shared with any other Blocks
//! runtime in the process), `munmap`, and the page size.

use core::ffi::c_void;

/// The memory page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// `calloc`: zeroed memory of the C heap (freed with [`c_free`]); NULL when exhausted.
pub fn c_calloc(size: usize) -> *mut c_void {
    // SAFETY: calloc has no preconditions.
    unsafe { libc::calloc(1, size) }
}

/// `malloc`: block copies must come from the C heap, because another Blocks runtime in the
/// process (libBlocksRuntime) may free them, and we may free theirs.
pub fn c_malloc(size: usize) -> *mut c_void {
    // SAFETY: malloc has no preconditions.
    unsafe { libc::malloc(size) }
}

/// `free` for memory from [`c_malloc`] or from another runtime's `malloc`.
///
/// # Safety
/// `p` must be NULL or a live allocation of the C heap.
pub unsafe fn c_free(p: *mut c_void) {
    // SAFETY: forwarded contract.
    unsafe { libc::free(p) }
}

/// `munmap` for `DISPATCH_DATA_DESTRUCTOR_MUNMAP` buffers.
pub fn unmap(addr: *mut c_void, size: usize) {
    // SAFETY: the client gave us a mapping of `size` bytes with that destructor.
    unsafe { libc::munmap(addr, size) };
}
