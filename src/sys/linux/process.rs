//! The process on Linux: its id, other processes' existence and exit status (by `kill`
//! with signal 0 and `waitid` on a pidfd), and symbol lookup in the global scope of the
//! dynamic linker.

use core::ffi::c_void;
use std::io;

/// The process id, which is also the main thread's tid.
pub fn getpid() -> u32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() as u32 }
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

/// The address the dynamic linker binds `name` to for every module of the process: the
/// executable's copy when a copy relocation moved the object there, else our own.
/// `None` if the symbol is not in the global scope (the library was `dlopen`ed locally).
pub fn global_symbol_address(name: &core::ffi::CStr) -> Option<*const c_void> {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the global scope only.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p as *const c_void)
}
