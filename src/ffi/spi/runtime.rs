//! Runtime hooks of the reference library (`private/private.h`, `src/internal.h`):
//! initialisation, the multithreaded flag, logging, I/O tuning, the autorelease-pool hooks.
//!
//! Linux notes (also in the README): `libdispatch_init` has nothing to set up that is not
//! already set up lazily, so it is an idempotent no-op; `_dispatch_poll_for_events_4launchd`
//! exists for launchd's kqueue on Apple platforms and does nothing here.

use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicPtr, Ordering::Acquire};

extern "C" {
    /// Defined in `src/ffi/shims/log.c` (variadic: stable Rust cannot define it).
    fn _dispatch_log(msg: *const c_char, ...);
}

// The hook variables live with their reader (`queue/autorelease.rs`), re-exported here.
pub use crate::queue::autorelease::{_dispatch_begin_NSAutoReleasePool, _dispatch_end_NSAutoReleasePool};

/// The reference's explicit initialiser. Everything here initialises itself on first use,
/// so there is nothing to do; calling it any number of times, from any thread, is harmless.
#[no_mangle]
pub extern "C" fn libdispatch_init() {}

/// True once the library has started a thread of its own (a worker, the event thread).
#[no_mangle]
pub extern "C" fn _dispatch_is_multithreaded() -> bool {
    crate::threads::is_multithreaded()
}

/// While set, the library starting its first thread aborts with
/// `BUG IN CLIENT OF LIBDISPATCH: Transition to multithreaded is prohibited`.
#[no_mangle]
pub extern "C" fn _dispatch_prohibit_transition_to_multithreaded(prohibit: bool) {
    crate::threads::prohibit(prohibit)
}

/// launchd's hook to drain the manager's kqueue on Apple platforms; on Linux the event
/// thread polls epoll by itself, so there is nothing to poll here.
#[no_mangle]
pub extern "C" fn _dispatch_poll_for_events_4launchd() {}

/// Logs an internal consistency failure: `BUG in libdispatch: <line> - 0x<val>`.
#[no_mangle]
pub extern "C" fn _dispatch_bug(line: usize, val: usize) {
    // SAFETY: a NUL-terminated format whose conversions match the two arguments.
    unsafe { _dispatch_log(c"BUG in libdispatch: %zu - 0x%zx".as_ptr(), line, val) };
}

// The reference's `_dispatch_iocntl` parameters (src/io.c): CHUNK_PAGES 1,
// LOW_WATER_CHUNKS 2, INITIAL_DELIVERY 3, MAX_PENDING_IO_REQS 4.
const DISPATCH_IOCNTL_CHUNK_PAGES: u32 = 1;
/// Largest chunk accepted, in pages (64 MiB with 4 KiB pages): one read step allocates it.
const MAX_CHUNK_PAGES: u64 = 16 * 1024;

/// I/O tuning. `DISPATCH_IOCNTL_CHUNK_PAGES` sets how many pages one read step of a
/// channel reads (0 is ignored; capped at [`MAX_CHUNK_PAGES`]). The reference's other
/// parameters (low-water chunks, initial delivery, pending request limit) tune machinery
/// this library does not have (its channels run one step at a time and deliver by the
/// channel's own water marks), so they are accepted and ignored, as are unknown ones.
#[no_mangle]
pub extern "C" fn _dispatch_iocntl(param: u32, value: u64) {
    match param {
        DISPATCH_IOCNTL_CHUNK_PAGES if value > 0 => {
            crate::io::set_chunk_size(value.min(MAX_CHUNK_PAGES) as usize * crate::sys::page_size())
        }
        _ => {} // LOW_WATER_CHUNKS, INITIAL_DELIVERY, MAX_PENDING_IO_REQS, unknown: ignored
    }
}

/// Waits for a concurrent enqueuer to publish a pointer: spins (then yields) until `*ptr`
/// is non-NULL and returns it.
#[no_mangle]
pub unsafe extern "C" fn _dispatch_wait_for_enqueuer(ptr: *mut *mut c_void) -> *mut c_void {
    // SAFETY: the caller passes a live, aligned pointer slot that another thread writes;
    // AtomicPtr has the layout of a pointer.
    let slot = unsafe { &*(ptr as *const AtomicPtr<c_void>) };
    let mut spins = 0u32;
    loop {
        // Acquire: what the enqueuer wrote before publishing the pointer is visible.
        let v = slot.load(Acquire);
        if !v.is_null() {
            return v;
        }
        if spins < 1024 {
            spins += 1;
            core::hint::spin_loop();
        } else {
            crate::sys::yield_now();
        }
    }
}
