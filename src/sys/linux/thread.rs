//! Threads on Linux: `pthread_create` with an explicit stack and the creating thread's
//! signal mask, kernel thread ids, per-thread nice values and timer slack, and thread state
//! from `/proc`.
//!
//! The child starts in a plain `extern "C"` function that allocates nothing: glibc gives a
//! thread its own malloc arena (64 MiB of reserved address space each) at its first
//! `malloc`, so the runtime keeps its worker threads allocation-free and leaves that choice
//! to the program's own code (see `README.md`, "Footprint").

use super::process::global_symbol_address;
use super::signal::{block_async_signals, restore_signal_mask};
use core::ffi::{c_void, CStr};
use std::io;

/// Starts a detached thread named `name` (at most 15 bytes) with `stack_size` bytes of
/// usable stack, running `f` with every asynchronous signal blocked. Pass a closure that
/// captures nothing (a function item, or a closure over statics) to keep the new thread
/// free of allocator calls.
///
/// A panic escaping `f` aborts the process (it cannot unwind into `pthread_create`'s
/// caller), as a panic in the runtime's own threads is a bug.
pub fn spawn<F: FnOnce() + Send + 'static>(name: &'static CStr, stack_size: usize, f: F) -> io::Result<()> {
    extern "C" fn start<F: FnOnce()>(arg: *mut c_void) -> *mut c_void {
        // SAFETY: `arg` is the `Box<F>` leaked by `spawn` for this thread only.
        let f = unsafe { Box::from_raw(arg as *mut F) };
        f();
        core::ptr::null_mut()
    }

    // A closure that captures nothing is zero-sized: its box is no allocation, and the child
    // frees nothing (glibc's `free` would attach an arena to the child as `malloc` does).
    let arg = Box::into_raw(Box::new(f)) as *mut c_void;
    // SAFETY: an all-zero pthread_attr_t is only storage; pthread_attr_init initialises it.
    let mut attr: libc::pthread_attr_t = unsafe { core::mem::zeroed() };
    // SAFETY: `attr` is valid storage; init/setters/destroy are paired on it.
    let r = unsafe {
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstacksize(&mut attr, stack_size + min_stack(&attr))
    };
    let r = if r != 0 {
        r
    } else {
        let old = block_async_signals();
        let mut thread: libc::pthread_t = 0;
        // SAFETY: `attr` is initialised; `start::<F>` takes ownership of `arg` exactly once
        // when the thread starts, and `arg` stays ours if creation fails.
        let r = unsafe { libc::pthread_create(&mut thread, &attr, start::<F>, arg) };
        restore_signal_mask(&old);
        if r == 0 {
            // Named from here, not by the child (no work on the child's side), while the
            // thread is still joinable so its handle cannot dangle; then let it go.
            let mut short = [0u8; 16];
            let bytes = name.to_bytes();
            let n = bytes.len().min(15);
            short[..n].copy_from_slice(&bytes[..n]);
            // SAFETY: `thread` is a live joinable thread we created, detached exactly once;
            // `short` is NUL-terminated (the kernel keeps 15 bytes of a name).
            unsafe {
                libc::pthread_setname_np(thread, short.as_ptr() as *const libc::c_char);
                libc::pthread_detach(thread);
            }
        }
        r
    };
    // SAFETY: `attr` was initialised above and is no longer needed.
    unsafe { libc::pthread_attr_destroy(&mut attr) };
    if r != 0 {
        // SAFETY: the thread was not created, so `arg` was never handed over.
        drop(unsafe { Box::from_raw(arg as *mut F) });
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// What glibc takes out of a thread's stack allocation before the thread sees it: the
/// static TLS of every loaded module and the guard page. A program with large `__thread`
/// arrays would otherwise eat a small stack (std's `thread::Builder` adds it the same way).
fn min_stack(attr: &libc::pthread_attr_t) -> usize {
    type GetMinStack = unsafe extern "C" fn(*const libc::pthread_attr_t) -> libc::size_t;
    static GET: std::sync::OnceLock<Option<GetMinStack>> = std::sync::OnceLock::new();
    let get = GET.get_or_init(|| {
        global_symbol_address(c"__pthread_get_minstack")
            // SAFETY: glibc's private but stable symbol has exactly this signature.
            .map(|p| unsafe { core::mem::transmute::<*const c_void, GetMinStack>(p) })
    });
    match get {
        // SAFETY: `attr` is an initialised attribute object.
        Some(get) => unsafe { get(attr) },
        None => libc::PTHREAD_STACK_MIN,
    }
}

/// The calling thread's kernel thread id: one syscall. The runtime asks
/// `queue::frames::thread_id()`, which caches it per thread (and forgets it after `fork`).
pub fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Number of CPUs this process may run on.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// CPUs configured in the system (`_SC_NPROCESSORS_CONF`): what the reference reports as
/// both the logical and the physical CPU count on Linux.
pub fn cpu_count_configured() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    if n > 0 {
        n as usize
    } else {
        cpu_count()
    }
}

/// Gives up the CPU for a moment (a spin-wait that lasted too long).
pub fn yield_now() {
    std::thread::yield_now();
}

/// Sets the calling thread's nice value (Linux applies `setpriority` per thread).
/// Returns `false` when refused (lowering nice needs privilege).
pub fn set_thread_nice(nice: i32) -> bool {
    // SAFETY: setpriority on our own tid has no memory-safety preconditions; failure
    // only leaves the old value in place.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, gettid(), nice) == 0 }
}

/// The calling thread's nice value.
pub fn thread_nice() -> i32 {
    // SAFETY: getpriority on our own tid has no preconditions.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, gettid()) }
}

/// Whether thread `tid` of this process is blocked in the kernel (state `S` or `D` in
/// `/proc/self/task/<tid>/stat`), as opposed to running or runnable.
pub fn thread_is_blocked(tid: u32) -> bool {
    let path = format!("/proc/self/task/{tid}/stat");
    let Ok(stat) = std::fs::read_to_string(path) else { return false };
    // The state follows the parenthesised command name, which may itself contain spaces.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
        .is_some_and(|state| state == 'S' || state == 'D')
}

/// Whether `tid` is a thread of this process. In a forked child the parent's threads are
/// not: `tgkill` with signal 0 checks existence within our thread group without sending.
pub fn thread_alive(tid: u32) -> bool {
    // SAFETY: signal 0 sends nothing; the call only checks that the thread exists.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid as libc::pid_t, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Sets the calling thread's timer slack (the lateness the kernel may add to its timed
/// sleeps to batch wake-ups; 50 us by default) to `ns` nanoseconds (at least 1).
pub fn set_thread_timer_slack(ns: u64) {
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns.max(1) as libc::c_ulong, 0, 0, 0) };
}
