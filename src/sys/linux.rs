//! Linux backend of the platform layer.

use super::Clock;
use core::ffi::c_void;
use core::sync::atomic::AtomicU32;

/// Outcome of a futex wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken, interrupted, or the word no longer held the expected value.
    Woken,
    /// The absolute deadline passed.
    TimedOut,
}

fn clock_id(clock: Clock) -> libc::clockid_t {
    match clock {
        Clock::Monotonic => libc::CLOCK_MONOTONIC,
        Clock::Realtime => libc::CLOCK_REALTIME,
    }
}

/// Nanoseconds on `clock`.
pub fn now_ns(clock: Clock) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on every Linux.
    unsafe { libc::clock_gettime(clock_id(clock), &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn timespec_from_ns(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// Blocks while `*word == expected`, until woken or until the absolute `deadline`
/// (nanoseconds on `clock`) passes. Spurious returns are possible; callers loop.
///
/// `FUTEX_WAIT_BITSET` takes an absolute time, so a wall-clock deadline follows
/// `settimeofday` jumps (the kernel re-arms realtime waits when the clock is set).
pub fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<(Clock, u64)>) -> WaitResult {
    let ts;
    let (ts_ptr, op) = match deadline {
        None => (core::ptr::null(), libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG),
        Some((clock, ns)) => {
            ts = timespec_from_ns(ns);
            let clock_flag = if clock == Clock::Realtime { libc::FUTEX_CLOCK_REALTIME } else { 0 };
            (&ts as *const libc::timespec, libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG | clock_flag)
        }
    };
    // SAFETY: `word` is a live, aligned u32 for the duration of the call; `ts_ptr` is null
    // or points at `ts`, which outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, expected, ts_ptr, 0usize, u32::MAX) };
    if r < 0 && errno() == libc::ETIMEDOUT {
        WaitResult::TimedOut
    } else {
        WaitResult::Woken
    }
}

/// Wakes up to `count` threads blocked in [`futex_wait`] on `word`.
pub fn futex_wake(word: &AtomicU32, count: i32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, count)
    };
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The calling thread's kernel thread id: one syscall. The runtime asks
/// `queue::frames::thread_id()`, which caches it per thread (and forgets it after `fork`).
pub fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Registers `f` to run in the child after `fork` (to drop per-thread caches).
pub fn on_fork_child(f: extern "C" fn()) {
    // SAFETY: registering a handler has no memory preconditions.
    unsafe { libc::pthread_atfork(None, None, Some(f)) };
}

/// The process id, which is also the main thread's tid.
pub fn getpid() -> u32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() as u32 }
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

/// Sets the calling thread's timer slack (the lateness the kernel may add to its timed
/// sleeps to batch wake-ups; 50 us by default) to `ns` nanoseconds (at least 1).
pub fn set_thread_timer_slack(ns: u64) {
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns.max(1) as libc::c_ulong, 0, 0, 0) };
}

/// Writes `msg` to stderr and aborts the process (the GCD crash convention).
pub fn abort_with_message(msg: &str) -> ! {
    let mut buf = Vec::with_capacity(msg.len() + 1);
    buf.extend_from_slice(msg.as_bytes());
    buf.push(b'\n');
    // SAFETY: writes a valid buffer to fd 2; abort has no preconditions.
    unsafe {
        libc::write(2, buf.as_ptr() as *const c_void, buf.len());
        libc::abort()
    }
}

/// Writes the concatenation of `parts` and a newline to stderr and aborts, allocating
/// nothing: for the out-of-memory path, where [`abort_with_message`]'s buffer could fail.
pub fn abort_with_parts(parts: &[&[u8]]) -> ! {
    for part in parts.iter().chain([&b"\n"[..]].iter()) {
        // SAFETY: writes a valid buffer to fd 2 (a failed or short write only loses text).
        unsafe { libc::write(2, part.as_ptr() as *const c_void, part.len()) };
    }
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

/// A timerfd armed with absolute deadlines on one clock.
pub struct TimerFd(i32);

impl TimerFd {
    pub fn new(clock: Clock) -> std::io::Result<TimerFd> {
        // SAFETY: timerfd_create has no memory preconditions.
        let fd = unsafe { libc::timerfd_create(clock_id(clock), libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(TimerFd(fd))
    }
    pub fn fd(&self) -> i32 {
        self.0
    }
    /// Arms the timer for the absolute `deadline_ns`, or disarms it with `None`.
    /// A realtime timer is also cancelled (made readable) when the wall clock is set, so
    /// the event thread re-evaluates wall deadlines after a jump.
    pub fn arm(&self, deadline_ns: Option<u64>, cancel_on_set: bool) {
        let value = match deadline_ns {
            // A zero it_value disarms; an already-passed deadline must still fire.
            Some(ns) => timespec_from_ns(ns.max(1)),
            None => timespec_from_ns(0),
        };
        let spec = libc::itimerspec { it_interval: timespec_from_ns(0), it_value: value };
        let mut flags = libc::TFD_TIMER_ABSTIME;
        if cancel_on_set {
            flags |= libc::TFD_TIMER_CANCEL_ON_SET;
        }
        // SAFETY: `spec` is a valid itimerspec; the old-value pointer may be null.
        unsafe { libc::timerfd_settime(self.0, flags, &spec, core::ptr::null_mut()) };
    }
    /// Consumes the expiration count so the fd stops being readable.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into `v` from our own non-blocking timerfd.
        unsafe { libc::read(self.0, &mut v as *mut u64 as *mut c_void, 8) };
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

/// An epoll instance watching file descriptors for readability.
pub struct Epoll(i32);

impl Epoll {
    pub fn new() -> std::io::Result<Epoll> {
        // SAFETY: epoll_create1 has no memory preconditions.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }
    pub(super) fn raw(&self) -> i32 {
        self.0
    }
    /// Watches `fd` for readability, reporting `token` when it fires.
    pub fn add_readable(&self, fd: i32, token: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        if unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    /// Waits until a descriptor is ready or `timeout_ns` nanoseconds passed (`None`: no
    /// timeout); returns the tokens of the ready descriptors (none on timeout).
    ///
    /// `epoll_pwait2` takes a nanosecond timeout; on kernels without it (before 5.11,
    /// `ENOSYS`) `epoll_wait` waits the timeout rounded up to whole milliseconds, so a
    /// timer is never seen early. Either way the kernel adds the thread's timer slack.
    pub fn wait(&self, out: &mut Vec<u64>, timeout_ns: Option<u64>) {
        use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
        // Relaxed: a cache of a kernel property; racing readers at worst try pwait2 once more.
        static NO_PWAIT2: AtomicBool = AtomicBool::new(false);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let mut n = -1;
        if !NO_PWAIT2.load(Relaxed) {
            let ts = timeout_ns.map(timespec_from_ns);
            let ts_ptr = ts.as_ref().map_or(core::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `events` is a writable array of the length we pass; `ts_ptr` is null
            // or points at `ts`, which outlives the call; a null sigmask leaves it as is.
            n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.0,
                    events.as_mut_ptr(),
                    events.len() as i32,
                    ts_ptr,
                    core::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            } as i32;
            if n < 0 && errno() == libc::ENOSYS {
                NO_PWAIT2.store(true, Relaxed);
            }
        }
        if NO_PWAIT2.load(Relaxed) {
            let ms = timeout_ns.map_or(-1, |ns| ns.div_ceil(1_000_000).min(i32::MAX as u64) as i32);
            // SAFETY: `events` is a writable array of the length we pass.
            n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, ms) };
        }
        out.clear();
        for ev in events.iter().take(n.max(0) as usize) {
            out.push(ev.u64);
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

/// The address the dynamic linker binds `name` to for every module of the process: the
/// executable's copy when a copy relocation moved the object there, else our own.
/// `None` if the symbol is not in the global scope (the library was `dlopen`ed locally).
pub fn global_symbol_address(name: &core::ffi::CStr) -> Option<*const c_void> {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the global scope only.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p as *const c_void)
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

/// A C `va_list` received as a function argument, as the callee sees it: one pointer-sized
/// value. On the architectures below `va_list` is a pointer (i386, riscv, powerpc64,
/// loongarch64), an array that decays to a pointer (x86_64, powerpc, s390x), a one-pointer
/// struct passed in a register (arm), or a larger struct the caller passes by reference
/// (aarch64, AAPCS64 §6.8.2: composites over 16 bytes): in every case the callee gets one
/// pointer-sized register it may hand on to a `v*printf` unchanged, once.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "riscv32",
    target_arch = "powerpc64",
    target_arch = "powerpc",
    target_arch = "s390x",
    target_arch = "loongarch64"
))]
pub type VaListArg = *mut c_void;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "riscv32",
    target_arch = "powerpc64",
    target_arch = "powerpc",
    target_arch = "s390x",
    target_arch = "loongarch64"
)))]
compile_error!("check how this architecture passes a va_list argument before building dispatch_debugv");

extern "C" {
    // Declared here rather than taken from `libc`, whose `va_list` type needs the unstable
    // `c_variadic` feature; `VaListArg` is the same register (see its doc).
    fn vasprintf(strp: *mut *mut core::ffi::c_char, fmt: *const core::ffi::c_char, ap: VaListArg) -> i32;
}

/// `vasprintf`: the printf-formatted message, or `None` if formatting failed.
///
/// # Safety
/// `fmt` must be a NUL-terminated printf format and `ap` the `va_list` argument our caller
/// received, holding the arguments `fmt` consumes; `ap` is used up.
pub unsafe fn format_va(fmt: *const core::ffi::c_char, ap: VaListArg) -> Option<Vec<u8>> {
    let mut p: *mut core::ffi::c_char = core::ptr::null_mut();
    // SAFETY: per the contract; `p` is writable.
    let n = unsafe { vasprintf(&mut p, fmt, ap) };
    if n < 0 || p.is_null() {
        return None;
    }
    // SAFETY: vasprintf wrote `n` bytes and a NUL at `p`, a malloc'ed buffer we now own.
    let v = unsafe { core::slice::from_raw_parts(p as *const u8, n as usize) }.to_vec();
    // SAFETY: allocated by vasprintf with malloc.
    unsafe { libc::free(p as *mut c_void) };
    Some(v)
}

/// Writes `buf` to standard error in one `write` (retrying a partial write), so a line is
/// not interleaved with other threads' lines.
pub fn write_stderr(mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid slice; fd 2 may be closed, which only makes write fail.
        let n = unsafe { libc::write(2, buf.as_ptr() as *const c_void, buf.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}
