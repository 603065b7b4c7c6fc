//! Descriptors on Linux: an owned descriptor closed on drop, private duplicates, flags, an
//! eventfd used as a coalescing wake-up, pidfd (process exit as readability) and inotify
//! (file changes as readability).

use super::check;
use core::ffi::c_void;
use std::io;

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
    // SAFETY: F_DUPFD_CLOEXEC has no memory preconditions; a bad fd only returns EBADF.
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

/// Adds one to eventfd `fd`; async-signal-safe (the signal handler calls it).
pub(super) fn signal_eventfd(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from `one`; write(2) is async-signal-safe.
    unsafe { libc::write(fd, &one as *const u64 as *const c_void, 8) };
}

/// A descriptor that becomes readable when process `pid` exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check(fd as i32).map(OwnedFd)
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

pub fn close_fd(fd: i32) {
    // SAFETY: the caller owns `fd`.
    unsafe { libc::close(fd) };
}
