//! Signals on Linux: a process-wide counting handler installed with `sigaction` (chaining
//! to the client's previous disposition) that wakes the event thread through an eventfd,
//! and the signal mask library threads are created under.

use super::fd::{signal_eventfd, EventFd};
use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};

/// Whether sources may count deliveries of `signo` (it exists and can be caught).
pub fn signal_can_be_watched(signo: i32) -> bool {
    (1..SIGNAL_LIMIT).contains(&signo) && signo != libc::SIGKILL && signo != libc::SIGSTOP
}

/// Highest signal number sources can watch (exclusive).
const SIGNAL_LIMIT: i32 = 65;

/// Deliveries per signal since the event thread last took them.
static SIGNAL_COUNTS: [AtomicU32; SIGNAL_LIMIT as usize] =
    [const { AtomicU32::new(0) }; SIGNAL_LIMIT as usize];
/// The handler that was installed before ours, per signal (0: SIG_DFL, 1: SIG_IGN).
static PREVIOUS_HANDLER: [AtomicUsize; SIGNAL_LIMIT as usize] =
    [const { AtomicUsize::new(0) }; SIGNAL_LIMIT as usize];
static PREVIOUS_SIGINFO: [AtomicU32; SIGNAL_LIMIT as usize] =
    [const { AtomicU32::new(0) }; SIGNAL_LIMIT as usize];
static SIGNAL_WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signo: i32, info: *mut libc::siginfo_t, ucontext: *mut c_void) {
    let Some(slot) = usize::try_from(signo).ok().filter(|&s| s < SIGNAL_LIMIT as usize) else { return };
    // Relaxed: the eventfd write below is the publication the event thread waits for.
    SIGNAL_COUNTS[slot].fetch_add(1, Ordering::Relaxed);
    let fd = SIGNAL_WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        signal_eventfd(fd);
    }
    // Chain to the client's own handler, if it had one; SIG_IGN and SIG_DFL end here
    // (a watched signal is not fatal, as a kqueue signal filter's is not either).
    let previous = PREVIOUS_HANDLER[slot].load(Ordering::Relaxed);
    if previous > 1 {
        if PREVIOUS_SIGINFO[slot].load(Ordering::Relaxed) != 0 {
            // SAFETY: recorded from the sigaction the client installed with SA_SIGINFO.
            let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut c_void) =
                unsafe { core::mem::transmute(previous) };
            f(signo, info, ucontext);
        } else {
            // SAFETY: recorded from the client's plain handler.
            let f: extern "C" fn(i32) = unsafe { core::mem::transmute(previous) };
            f(signo);
        }
    }
}

/// Starts counting deliveries of `signo`, waking `wake` on each. Installs the counting
/// handler unless it is the current one: a client that set `SIG_IGN` (as Apple's docs ask)
/// after an earlier source registered gets it reinstalled by the next source, with its
/// own disposition kept as the one to chain to. `false` if the signal cannot be caught.
pub fn watch_signal(signo: i32, wake: &EventFd) -> bool {
    if !signal_can_be_watched(signo) {
        return false;
    }
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    // Relaxed: the handler only needs some valid fd; the event thread's fd never changes.
    SIGNAL_WAKE_FD.store(wake.fd(), Ordering::Relaxed);
    let slot = signo as usize;
    // SAFETY: an all-zero sigaction is a valid starting value.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: reads the current action into `old`.
    unsafe { libc::sigaction(signo, core::ptr::null(), &mut old) };
    let ours = on_signal as *const () as usize;
    if old.sa_sigaction == ours {
        return true;
    }
    PREVIOUS_SIGINFO[slot].store((old.sa_flags & libc::SA_SIGINFO != 0) as u32, Ordering::Relaxed);
    PREVIOUS_HANDLER[slot].store(old.sa_sigaction, Ordering::Relaxed);
    // SAFETY: an all-zero sigaction is a valid starting value.
    let mut new: libc::sigaction = unsafe { core::mem::zeroed() };
    new.sa_sigaction = ours;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
    // SAFETY: `new` is a complete sigaction with an async-signal-safe handler.
    unsafe {
        libc::sigemptyset(&mut new.sa_mask);
        libc::sigaction(signo, &new, core::ptr::null_mut()) == 0
    }
}

/// Deliveries of `signo` since the last call.
pub fn take_signal_deliveries(signo: i32) -> u32 {
    usize::try_from(signo)
        .ok()
        .filter(|&s| s < SIGNAL_LIMIT as usize)
        // Relaxed: paired with the eventfd read that made the event thread look.
        .map_or(0, |s| SIGNAL_COUNTS[s].swap(0, Ordering::Relaxed))
}

/// Signals a thread raises on itself by executing something (a fault, a trap, a bad
/// system call, a write to a closed pipe); they stay unblocked on library threads.
const SYNCHRONOUS_SIGNALS: [i32; 7] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, libc::SIGSYS, libc::SIGPIPE];

/// Blocks every signal except [`SYNCHRONOUS_SIGNALS`] in the calling thread and returns
/// the previous mask.
pub(super) fn block_async_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain storage, filled in by sigfillset/pthread_sigmask below.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: sigset_t is plain storage, filled in by pthread_sigmask below.
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

/// Restores the mask [`block_async_signals`] returned.
pub(super) fn restore_signal_mask(old: &libc::sigset_t) {
    // SAFETY: `old` is the mask `block_async_signals` saved on this thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, core::ptr::null_mut()) };
}
