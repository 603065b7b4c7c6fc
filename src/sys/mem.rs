//! Memory: the C heap and mappings.
//!
//! Contract:
//! - `c_malloc(size)` / `c_calloc(size)` (zeroed) / `c_free(p)`: the C library's heap, the
//!   one another Blocks runtime in the process allocates from and frees into (block copies
//!   cross between runtimes); NULL when exhausted. `c_free` takes NULL or a live C-heap
//!   allocation.
//! - `unmap(addr, size)`: releases a mapping the client handed over with
//!   `DISPATCH_DATA_DESTRUCTOR_MUNMAP`.
//! - `page_size()`: the memory page size.
//! - `c_new_with_bytes(bytes, build)` / `c_drop_free(p)`: a value followed by a copy of
//!   some bytes in one C heap block (a queue and its label), built in place; dropped in
//!   place and freed.

#[cfg(target_os = "linux")]
pub use super::imp::mem::{c_calloc, c_free, c_malloc, page_size, unmap};

/// A C heap block holding the value `build` makes, followed by a copy of `bytes`; `build`
/// is given the copy's address (so the value may point at it). Null when the heap is
/// exhausted. Freed by [`c_drop_free`].
#[inline]
pub fn c_new_with_bytes<T>(bytes: &[u8], build: impl FnOnce(*const u8) -> T) -> *mut T {
    // The C heap's blocks are aligned for any fundamental type.
    const { assert!(core::mem::align_of::<T>() <= 16) };
    let size = core::mem::size_of::<T>() + bytes.len();
    let p = c_malloc(size).cast::<T>();
    if p.is_null() {
        return p;
    }
    let after = p.wrapping_add(1).cast::<u8>();
    // SAFETY: `p` is a fresh block of `size` bytes, aligned for `T` (above): a `T`, then
    // `bytes.len()` bytes at `after`, written once each here.
    unsafe {
        copy_short(bytes, core::slice::from_raw_parts_mut(after, bytes.len()));
        p.write(build(after));
    }
    p
}

/// Drops the value at `p` in place and frees its block.
///
/// # Safety
/// `p` came from [`c_new_with_bytes`] and is not used again.
pub unsafe fn c_drop_free<T>(p: *mut T) {
    // SAFETY: the caller's: a live value in a block of ours, dropped once, then freed.
    unsafe {
        core::ptr::drop_in_place(p);
        c_free(p.cast());
    }
}

/// `dst.copy_from_slice(src)` for the short strings it is used for (labels), without a call
/// to `memcpy`, which costs more than the copy: two overlapping words of the size at hand.
#[inline(always)]
fn copy_short(src: &[u8], dst: &mut [u8]) {
    let n = src.len();
    match n {
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..n].copy_from_slice(&src[n - 8..]);
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..n].copy_from_slice(&src[n - 4..]);
        }
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        _ => dst[..n].copy_from_slice(src),
    }
}
