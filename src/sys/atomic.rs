//! Atomic read-modify-writes whose useful x86 form the compiler does not emit.
//!
//! `dispatch_group_leave` subtracts one `enter` from the group's word and takes its cold
//! path when the old value was below the subtrahend (flags set, or unbalanced). Written as
//! `fetch_sub(n) < n`, LLVM keeps the old value: `mov; lock xadd; cmp; jcc`, and the
//! word's address, one field into the object, costs an `lea`. The flags of a `lock sub`
//! already hold the answer (`jl` after `old - n` is `old < n`, signed), and the object's
//! address with a constant displacement names the word, so here it is
//! `lock sub [object + offset]; jl`: two instructions, through `asm!` with a label operand.
//! Other architectures get the portable form.
//!
//! Contract: [`fetch_sub_was_below`]`::<T, N>(obj)` is
//! `(word.fetch_sub(N, Release) as i32) < N as i32` on the `AtomicU32` that `T` declares
//! at [`AtomicU32At::OFFSET`], with Release ordering or stronger (x86's `lock` prefix is a
//! full barrier, and the `asm!` block, which may touch memory, is a compiler barrier).

/// A type with an `AtomicU32` at a fixed offset.
///
/// # Safety
/// `OFFSET` is the offset of a field of type `core::sync::atomic::AtomicU32` in `Self`.
pub unsafe trait AtomicU32At {
    const OFFSET: usize;
}

/// Subtracts `N` from `obj`'s word and tells whether its old value, read as an `i32`, was
/// below `N` (see the module doc).
#[inline(always)]
pub fn fetch_sub_was_below<T: AtomicU32At, const N: u32>(obj: &T) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: by `AtomicU32At`'s contract the 4 aligned bytes at `obj + OFFSET` are an
        // `AtomicU32`, live as long as the borrow, and a locked `sub` on them is an atomic
        // RMW like any other on that word (the instruction `fetch_sub` makes, without the
        // result). The block pushes nothing (nostack) and leaves by falling through or by
        // the label.
        unsafe {
            core::arch::asm!(
                "lock sub dword ptr [{obj} + {offset}], {n}",
                "jl {below}",
                obj = in(reg) obj as *const T,
                offset = const T::OFFSET,
                n = const N,
                below = label { return true; },
                options(nostack),
            );
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use core::sync::atomic::{AtomicU32, Ordering::Release};
        // SAFETY: by `AtomicU32At`'s contract the bytes at `obj + OFFSET` are an
        // `AtomicU32`, live as long as the borrow.
        let word = unsafe { &*((obj as *const T).cast::<u8>().add(T::OFFSET).cast::<AtomicU32>()) };
        // Release: as the x86 form (the caller's ordering).
        (word.fetch_sub(N, Release) as i32) < N as i32
    }
}
