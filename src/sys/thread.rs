//! Starting the library's own threads: workers, the pool monitor, the event thread.
//!
//! Every library thread is started here, so that all of them share two properties:
//!
//! * **Asynchronous signals are blocked.** A program that blocks `SIGTERM` in `main` and
//!   waits for it with `sigwait` must get it there, and a program's handlers must run on
//!   the program's threads: the kernel delivers a process-directed signal to any thread
//!   that does not block it, so a library thread with an open mask would steal it (and a
//!   default action such as `SIGTERM`'s would kill the process). The mask is set in the
//!   *creating* thread around `pthread_create` (saved and restored) so the new thread
//!   inherits it and there is no first instruction at which a signal could land on it.
//!   Signals raised by the thread's own faults stay unblocked ([`SYNCHRONOUS_SIGNALS`]):
//!   blocking them is undefined behaviour, and a crash must stay a crash. `SIGPIPE` is
//!   kept too, as swift-corelibs-libdispatch does: it is raised by the thread's own write
//!   to a closed pipe, and a program that relies on dying of it must still do so when the
//!   write happened on a queue.
//! * **A small, explicit stack.** Each thread reserves exactly the stack we ask for (see
//!   [`WORKER_STACK_SIZE`]), so a pool of a hundred blocked workers fits in a few tens of
//!   MiB of address space instead of the 8 MiB per thread a default pthread reserves.
//!
//! The child starts in a plain `extern "C"` function that allocates nothing: glibc gives a
//! thread its own malloc arena (64 MiB of reserved address space each) at its first
//! `malloc`, so the runtime keeps its worker threads allocation-free and leaves that choice
//! to the program's own code (see `README.md`, "Footprint").

use core::ffi::{c_void, CStr};
use std::io;

/// Stack of a worker thread: 512 KiB, what Apple's libdispatch gives its workqueue
/// threads, so code written for GCD already fits in it. A hundred blocked workers then
/// reserve about 50 MiB of address space (the glibc default, `ulimit -s`, is 8 MiB each:
/// 800 MiB).
pub const WORKER_STACK_SIZE: usize = 512 * 1024;

/// Stack of the pool monitor and the event thread: 128 KiB. They run only runtime code
/// (reading `/proc`, epoll, timer heaps, pushing items), never a client's function, and
/// their deepest call chains use a few KiB.
pub const SERVICE_STACK_SIZE: usize = 128 * 1024;

/// Signals a thread raises on itself by executing something (a fault, a trap, a bad
/// system call, a write to a closed pipe); they stay unblocked on library threads.
pub const SYNCHRONOUS_SIGNALS: [i32; 7] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, libc::SIGSYS, libc::SIGPIPE];

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
        super::global_symbol_address(c"__pthread_get_minstack")
            // SAFETY: glibc's private but stable symbol has exactly this signature.
            .map(|p| unsafe { core::mem::transmute::<*const c_void, GetMinStack>(p) })
    });
    match get {
        // SAFETY: `attr` is an initialised attribute object.
        Some(get) => unsafe { get(attr) },
        None => libc::PTHREAD_STACK_MIN,
    }
}

/// Blocks every signal except [`SYNCHRONOUS_SIGNALS`] in the calling thread and returns
/// the previous mask.
fn block_async_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain storage, filled in by sigfillset/pthread_sigmask below.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` and `old` are valid sigsets; the calls only read/write them.
    unsafe {
        libc::sigfillset(&mut set);
        for sig in SYNCHRONOUS_SIGNALS {
            libc::sigdelset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    old
}

fn restore_signal_mask(old: &libc::sigset_t) {
    // SAFETY: `old` is the mask `block_async_signals` saved on this thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, core::ptr::null_mut()) };
}
