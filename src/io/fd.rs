//! The descriptor behind one or more channels: opened lazily for path channels, switched
//! to non-blocking mode for pipes and sockets (so waits go through the event thread), and
//! restored (or closed, if a channel opened it) when the last channel using it is gone.

use crate::sys;
use std::ffi::CString;
use std::sync::Mutex;

enum State {
    Path { path: CString, oflag: i32, mode: u32 },
    Open { fd: i32, owned: bool, restore_flags: Option<i32> },
    Failed(i32),
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

    /// A path opened on first use.
    pub fn with_path(path: CString, oflag: i32, mode: u32) -> FdEntry {
        FdEntry { state: Mutex::new(State::Path { path, oflag, mode }), initial_offset: Mutex::new(0) }
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
                Err(errno) => State::Failed(errno),
            };
        }
        match &*st {
            State::Open { fd, .. } => Ok(*fd),
            State::Failed(errno) => Err(*errno),
            State::Path { .. } => unreachable!("opened above"),
        }
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

    /// The error the cleanup handler reports: why the descriptor could not be used.
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

impl Drop for FdEntry {
    fn drop(&mut self) {
        if let State::Open { fd, owned, restore_flags } = &*self.lock() {
            if let Some(flags) = restore_flags {
                sys::set_fd_flags(*fd, *flags);
            }
            if *owned {
                sys::close_fd(*fd);
            }
        }
    }
}
