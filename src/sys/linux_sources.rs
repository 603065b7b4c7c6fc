//! The Linux calls behind dispatch sources: owned descriptors, eventfd, epoll interest
//! changes, readiness estimates, pidfd, inotify, and a process-wide signal counter.

use super::Epoll;
use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::io;

fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A descriptor this library opened and closes on drop.
#[derive(Debug)]
pub struct OwnedFd(i32);

impl OwnedFd {
    pub fn fd(&self) -> i32 {
        self.0
    }
}

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// Whether `fd` is an open descriptor of this process.
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD has no memory preconditions; a bad fd only returns EBADF.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0
}

/// A private duplicate of a client descriptor: epoll registrations are per descriptor, so
/// a READ and a WRITE source on one fd each watch their own duplicate, and the client may
/// close its fd in the cancel handler while ours goes away with the registration.
pub fn dup_cloexec(fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) }).map(OwnedFd)
}

/// An eventfd used as a coalescing wake-up: many `signal`s, one readable state, cleared by
/// one `drain`. Its `signal` is async-signal-safe.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd has no memory preconditions.
        check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })
            .map(|fd| EventFd(OwnedFd(fd)))
    }
    pub fn fd(&self) -> i32 {
        self.0.fd()
    }
    pub fn signal(&self) {
        signal_eventfd(self.fd());
    }
    /// Clears the readable state; returns how many signals it absorbed.
    pub fn drain(&self) -> u64 {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into `v` from our own non-blocking eventfd.
        unsafe { libc::read(self.fd(), &mut v as *mut u64 as *mut c_void, 8) };
        v
    }
}

fn signal_eventfd(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from `one`; write(2) is async-signal-safe.
    unsafe { libc::write(fd, &one as *const u64 as *const c_void, 8) };
}

/// What readiness a registration waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

fn epoll_events(interest: Interest) -> u32 {
    let base = match interest {
        Interest::Read => libc::EPOLLIN | libc::EPOLLRDHUP,
        Interest::Write => libc::EPOLLOUT,
    };
    // One-shot: the descriptor is re-armed after its handler ran, which makes level-
    // triggered readiness deliver once per handler call instead of spinning.
    (base | libc::EPOLLONESHOT) as u32
}

impl Epoll {
    /// Registers `fd` once for `interest`. `EPERM` means the descriptor cannot be polled
    /// (a regular file), which callers treat as always ready.
    pub fn add_oneshot(&self, fd: i32, token: u64, interest: Interest) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: epoll_events(interest), u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        check(unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
    }
    /// Re-arms a one-shot registration after its event was handled.
    pub fn rearm(&self, fd: i32, token: u64, interest: Interest) {
        let mut ev = libc::epoll_event { events: epoll_events(interest), u64: token };
        // SAFETY: as above; a stale fd only fails with EBADF/ENOENT.
        unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_MOD, fd, &mut ev) };
    }
    pub fn delete(&self, fd: i32) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as above.
        unsafe { libc::epoll_ctl(self.raw(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }
}

/// Bytes that can be read from `fd` without blocking (FIONREAD), if it can say.
pub fn bytes_readable(fd: i32) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    (unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } == 0).then_some(n.max(0) as usize)
}

/// An estimate of the bytes `fd` can take without blocking: free pipe buffer, free socket
/// send buffer, else 1 ("writable").
pub fn write_space(fd: i32) -> usize {
    // SAFETY: F_GETPIPE_SZ has no memory preconditions.
    let pipe_size = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    if pipe_size > 0 {
        let queued = bytes_readable(fd).unwrap_or(0);
        return (pipe_size as usize).saturating_sub(queued).max(1);
    }
    let mut sndbuf: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_SNDBUF writes one int of the length we pass.
    let is_socket = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &mut sndbuf as *mut _ as *mut c_void,
            &mut len,
        )
    } == 0;
    if is_socket {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int.
        unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
        return (sndbuf.max(0) as usize).saturating_sub(queued.max(0) as usize).max(1);
    }
    1
}

/// A descriptor that becomes readable when process `pid` exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check(fd as i32).map(OwnedFd)
}

/// Size and link count of an open file.
pub fn file_size_and_links(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes one stat.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_size as u64, st.st_nlink))
}

/// Changes seen by an inotify watch, as `IN_*` bits.
pub const IN_MODIFY: u32 = libc::IN_MODIFY;
pub const IN_ATTRIB: u32 = libc::IN_ATTRIB;
pub const IN_DELETE_SELF: u32 = libc::IN_DELETE_SELF;
pub const IN_MOVE_SELF: u32 = libc::IN_MOVE_SELF;
/// A directory's entries changed (created, deleted, moved in or out).
pub const IN_DIRECTORY_CHANGED: u32 =
    libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;

/// An inotify instance watching the file behind one descriptor.
#[derive(Debug)]
pub struct Inotify(OwnedFd);

impl Inotify {
    pub fn watching(fd: i32) -> io::Result<Inotify> {
        // SAFETY: inotify_init1 has no memory preconditions.
        let ino = OwnedFd(check(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?);
        let path = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in a number");
        let mask = IN_MODIFY
            | IN_ATTRIB
            | IN_DELETE_SELF
            | IN_MOVE_SELF
            | IN_DIRECTORY_CHANGED
            | libc::IN_DONT_FOLLOW;
        // SAFETY: `path` is NUL-terminated. /proc/self/fd/N is a magic link the kernel
        // resolves to the open file itself, even if it was renamed or unlinked.
        check(unsafe { libc::inotify_add_watch(ino.fd(), path.as_ptr(), mask & !libc::IN_DONT_FOLLOW) })?;
        Ok(Inotify(ino))
    }
    /// The inotify descriptor, to watch in epoll and read with [`read_inotify_changes`].
    pub fn into_fd(self) -> OwnedFd {
        self.0
    }
}

/// Reads every event queued on inotify descriptor `fd`; returns the union of their masks.
pub fn read_inotify_changes(fd: i32) -> u32 {
    let mut buf = [0u8; 4096];
    let mut mask = 0;
    loop {
        // SAFETY: reads into our buffer of the length we pass.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len()) };
        if n <= 0 {
            return mask;
        }
        let mut off = 0usize;
        let header = core::mem::size_of::<libc::inotify_event>();
        while off + header <= n as usize {
            // SAFETY: the kernel wrote whole events; read_unaligned copes with packing.
            let ev: libc::inotify_event =
                unsafe { core::ptr::read_unaligned(buf.as_ptr().add(off) as *const libc::inotify_event) };
            mask |= ev.mask;
            off += header + ev.len as usize;
        }
    }
}

/// Whether process `pid` exists (it may belong to another user).
pub fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// The exit status of the (child) process behind `pidfd`, without reaping it; `None` for
/// a process that is not our child or has not exited.
pub fn exit_status_of_pidfd(pidfd: i32) -> Option<i32> {
    const P_PIDFD: libc::idtype_t = 3;
    // SAFETY: an all-zero siginfo is a valid out-parameter.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    // SAFETY: waitid writes one siginfo; WNOWAIT leaves the child for the client to reap.
    let r = unsafe {
        libc::waitid(P_PIDFD, pidfd as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
    };
    // SAFETY: filled by a successful waitid.
    (r == 0 && unsafe { info.si_pid() } != 0).then(|| unsafe { info.si_status() })
}

/// Whether sources may count deliveries of `signo` (it exists and can be caught).
pub fn signal_can_be_watched(signo: i32) -> bool {
    (1..SIGNAL_LIMIT).contains(&signo) && signo != libc::SIGKILL && signo != libc::SIGSTOP
}

/// Highest signal number sources can watch (exclusive).
pub const SIGNAL_LIMIT: i32 = 65;

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
    // SAFETY: as above.
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

/// `F_GETFL` of `fd`, or `None` if it is not an open descriptor.
pub fn fd_flags(fd: i32) -> Option<i32> {
    // SAFETY: F_GETFL has no memory preconditions.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    (fd >= 0 && flags >= 0).then_some(flags)
}

pub fn set_fd_flags(fd: i32, flags: i32) -> bool {
    // SAFETY: F_SETFL has no memory preconditions.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) == 0 }
}

pub fn is_regular_file(fd: i32) -> bool {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes one stat.
    unsafe { libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG }
}

/// The file position of `fd` (`None` for pipes and sockets).
pub fn current_offset(fd: i32) -> Option<i64> {
    // SAFETY: lseek has no memory preconditions.
    let off = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    (off >= 0).then_some(off)
}

/// The `st_mode` of `path`, by `stat` (`lstat` if `nofollow`). `Err(errno)` on failure.
pub fn path_mode(path: &std::ffi::CStr, nofollow: bool) -> Result<u32, i32> {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; (l)stat writes one stat.
    let r = unsafe {
        if nofollow {
            libc::lstat(path.as_ptr(), &mut st)
        } else {
            libc::stat(path.as_ptr(), &mut st)
        }
    };
    if r == 0 {
        Ok(st.st_mode)
    } else {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

/// Opens `path` (close-on-exec added). `Err(errno)` on failure.
pub fn open_path(path: &std::ffi::CStr, oflag: i32, mode: u32) -> Result<i32, i32> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), oflag | libc::O_CLOEXEC, mode as libc::c_uint) };
    if fd < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    } else {
        Ok(fd)
    }
}

pub fn close_fd(fd: i32) {
    // SAFETY: the caller owns `fd`.
    unsafe { libc::close(fd) };
}

fn io_result(n: isize) -> Result<usize, i32> {
    if n < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    } else {
        Ok(n as usize)
    }
}

/// `read`, or `pread` at `offset`. `Err(errno)` on failure.
pub fn read_at(fd: i32, buf: &mut [u8], offset: Option<i64>) -> Result<usize, i32> {
    // SAFETY: reads into our buffer of the length we pass.
    io_result(unsafe {
        match offset {
            Some(off) => libc::pread(fd, buf.as_mut_ptr() as *mut c_void, buf.len(), off),
            None => libc::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len()),
        }
    })
}

/// `write`, or `pwrite` at `offset`. `Err(errno)` on failure.
pub fn write_at(fd: i32, buf: &[u8], offset: Option<i64>) -> Result<usize, i32> {
    // SAFETY: writes from our buffer of the length we pass.
    io_result(unsafe {
        match offset {
            Some(off) => libc::pwrite(fd, buf.as_ptr() as *const c_void, buf.len(), off),
            None => libc::write(fd, buf.as_ptr() as *const c_void, buf.len()),
        }
    })
}
