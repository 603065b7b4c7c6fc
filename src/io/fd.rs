//! The descriptor behind one or more channels: opened lazily for path channels, switched
//! to non-blocking mode for pipes and sockets (so waits go through the event thread), and
//! restored (or closed, if a channel opened it) when the last channel using it is gone, or
//! earlier when a one-shot operation relinquishes it.
//!
//! Errors are split as the reference splits them. A *creation* error (a descriptor that is
//! not open; a path that `stat(2)` rejects, or names a directory, or a pipe or socket for a
//! RANDOM channel) means the channel never had a descriptor: every operation gets it and so
//! does the cleanup handler. An error from the deferred `open(2)` of a path that passed
//! those checks (`EACCES`, `EEXIST` with `O_EXCL`, ...) belongs to the operations only; the
//! cleanup handler then reports 0, as in swift-corelibs-libdispatch, where that handler is
//! enqueued with error 0 once the path checks pass.

use crate::sys;
use std::ffi::{CStr, CString};
use std::sync::Mutex;

enum State {
    Path {
        path: CString,
        oflag: i32,
        mode: u32,
    },
    Open {
        fd: i32,
        owned: bool,
        restore_flags: Option<i32>,
    },
    /// Unusable from the start: operations and the cleanup handler get the error.
    Failed(i32),
    /// The deferred `open(2)` failed: operations get the error, the cleanup handler 0.
    OpenFailed(i32),
    /// Handed back to the client by a one-shot operation.
    Relinquished,
}

pub struct FdEntry {
    state: Mutex<State>,
    /// The file position when the channel was created (RANDOM offsets are relative to it).
    initial_offset: Mutex<i64>,
}

impl FdEntry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client descriptor (not ours to close). A bad one becomes an `EBADF` for every
    /// operation, as a value, not a crash.
    pub fn with_fd(fd: i32) -> FdEntry {
        let state = match sys::fd_flags(fd) {
            None => State::Failed(libc::EBADF),
            Some(flags) => State::Open { fd, owned: false, restore_flags: make_nonblocking(fd, flags) },
        };
        FdEntry { initial_offset: Mutex::new(sys::current_offset(fd).unwrap_or(0)), state: Mutex::new(state) }
    }

    /// A path opened on first use, checked now as the reference checks it when the channel
    /// is created: a path `stat(2)` (`lstat` with `O_NOFOLLOW`) rejects fails the channel,
    /// unless `O_CREAT` will create it in an existing directory; so does a directory, or a
    /// pipe or socket for a RANDOM channel.
    pub fn with_path(path: CString, oflag: i32, mode: u32, random: bool) -> FdEntry {
        let state = match path_check(&path, oflag, random) {
            Ok(()) => State::Path { path, oflag, mode },
            Err(errno) => State::Failed(errno),
        };
        FdEntry { state: Mutex::new(state), initial_offset: Mutex::new(0) }
    }

    /// The descriptor, opening the path first if needed; `Err(errno)` if unusable.
    pub fn fd(&self) -> Result<i32, i32> {
        let mut st = self.lock();
        if let State::Path { path, oflag, mode } = &*st {
            *st = match sys::open_path(path, *oflag, *mode) {
                Ok(fd) => {
                    let flags = sys::fd_flags(fd).unwrap_or(0);
                    *self.initial_offset.lock().unwrap_or_else(|e| e.into_inner()) =
                        sys::current_offset(fd).unwrap_or(0);
                    State::Open { fd, owned: true, restore_flags: make_nonblocking(fd, flags) }
                }
                Err(errno) => State::OpenFailed(errno),
            };
        }
        match &*st {
            State::Open { fd, .. } => Ok(*fd),
            State::Failed(errno) | State::OpenFailed(errno) => Err(*errno),
            State::Relinquished => Err(libc::EBADF),
            State::Path { .. } => unreachable!("opened above"),
        }
    }

    /// Gives the descriptor back now: flags restored (closed, if ours). The one-shot
    /// `dispatch_read`/`dispatch_write` call this before their handler is enqueued, since
    /// io.h says "The system takes control of the file descriptor until the handler is
    /// enqueued": the handler may close the descriptor (and its number be reused), or start
    /// the next one-shot read, which must find the client's flags, not ours.
    pub fn relinquish(&self) {
        let mut st = self.lock();
        release(&st);
        *st = State::Relinquished;
    }

    pub fn initial_offset(&self) -> i64 {
        *self.initial_offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `dispatch_io_get_descriptor`: the descriptor, or -1 if not (successfully) open.
    pub fn descriptor(&self) -> i32 {
        match &*self.lock() {
            State::Open { fd, .. } => *fd,
            _ => -1,
        }
    }

    /// The error the cleanup handler reports: why the channel never had a descriptor (an
    /// error of the deferred open is the operations', not the cleanup handler's).
    pub fn close_error(&self) -> i32 {
        match &*self.lock() {
            State::Failed(errno) => *errno,
            _ => 0,
        }
    }
}

/// Pipes and sockets go non-blocking; returns the flags to restore. Regular files (and
/// anything already non-blocking) are left alone.
fn make_nonblocking(fd: i32, flags: i32) -> Option<i32> {
    if sys::is_regular_file(fd) || flags & libc::O_NONBLOCK != 0 {
        return None;
    }
    sys::set_fd_flags(fd, flags | libc::O_NONBLOCK).then_some(flags)
}

/// The checks `with_path` makes; `Err(errno)` fails the channel.
fn path_check(path: &CStr, oflag: i32, random: bool) -> Result<(), i32> {
    let mode = match sys::path_mode(path, oflag & libc::O_NOFOLLOW != 0) {
        Ok(mode) => mode,
        Err(errno) => {
            // O_CREAT will make a regular file if the directory exists.
            let bytes = path.to_bytes();
            let creatable = oflag & libc::O_CREAT != 0
                && !bytes.ends_with(b"/")
                && bytes.iter().rposition(|&b| b == b'/').is_some_and(|slash| {
                    let dir = CString::new(&bytes[..slash.max(1)]).expect("a part of a C string");
                    sys::path_mode(&dir, false).is_ok()
                });
            return if creatable { Ok(()) } else { Err(errno) };
        }
    };
    match mode & libc::S_IFMT {
        libc::S_IFDIR => Err(libc::EISDIR),
        libc::S_IFIFO | libc::S_IFSOCK if random => Err(libc::ESPIPE),
        _ => Ok(()),
    }
}

/// Restores an open descriptor's flags and closes it if ours.
fn release(state: &State) {
    if let State::Open { fd, owned, restore_flags } = state {
        if let Some(flags) = restore_flags {
            sys::set_fd_flags(*fd, *flags);
        }
        if *owned {
            sys::close_fd(*fd);
        }
    }
}

impl Drop for FdEntry {
    fn drop(&mut self) {
        release(&self.lock());
    }
}
