//! The per-thread slots on Linux: a C `__thread` variable in the initial-exec TLS model
//! (`tls.c`, compiled by `build.rs`), whose address is the thread pointer plus a constant
//! offset the dynamic linker wrote into the GOT.

use crate::sys::types::ThreadSlots;

/// cbindgen:ignore
/// (an import from `tls.c`, not an export of the library)
#[cfg(not(target_arch = "x86_64"))]
mod c {
    extern "C" {
        pub fn _dispatch_thread_slots_get() -> *mut super::ThreadSlots;
    }
}

/// The calling thread's slots. On x86_64 the two instructions of the initial-exec sequence
/// (`%fs:0` is the thread pointer, the GOT entry the variable's offset from it) inline into
/// the caller; elsewhere one call to the C accessor, which compiles to the same.
#[inline(always)]
pub fn thread_slots() -> &'static ThreadSlots {
    let p: *mut ThreadSlots;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the x86_64 initial-exec TLS access sequence for a variable defined in this
    // library (`tls.c`): it reads the thread pointer and a GOT entry, writes only `p`.
    unsafe {
        core::arch::asm!(
            "mov {p}, qword ptr fs:[0]",
            "add {p}, qword ptr [rip + _dispatch_thread_slots@GOTTPOFF]",
            p = out(reg) p,
            options(pure, readonly, nostack),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: a C function without preconditions returning the variable's address.
    unsafe {
        p = c::_dispatch_thread_slots_get();
    }
    // SAFETY: `p` is this thread's instance of the variable, zero-initialised by the C
    // library (a valid `ThreadSlots`: null pointer, id 0), and it lives as long as the
    // thread. `ThreadSlots` is not `Sync`, so the reference (and anything borrowed from
    // it) can never reach another thread, and no code runs on this thread after its TLS
    // is freed.
    unsafe { &*p }
}
