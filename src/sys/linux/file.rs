//! Files on Linux: `open`, `read`/`pread`, `write`/`pwrite`, `stat`, `lseek`, and estimates
//! of how much a descriptor can take or give without blocking (FIONREAD, pipe size,
//! socket send buffer).

use super::io_result;
use core::ffi::c_void;
use std::io;

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

/// Size and link count of an open file.
pub fn file_size_and_links(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes one stat.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_size as u64, st.st_nlink))
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
