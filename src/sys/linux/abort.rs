//! Aborting and diagnostics on Linux: messages to standard error with raw `write(2)` (one
//! call per line, none allocating on the out-of-memory path), `abort(3)`, and `vasprintf`
//! for the C `va_list` of `dispatch_debugv`.

use core::ffi::c_void;

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

/// A C `va_list` received as a function argument, as the callee sees it: one pointer-sized
/// value. On the architectures `build.rs` lists `va_list` is a pointer (i386, riscv, powerpc64,
/// loongarch64), an array that decays to a pointer (x86_64, powerpc, s390x), a one-pointer
/// struct passed in a register (arm), or a larger struct the caller passes by reference
/// (aarch64, AAPCS64 §6.8.2: composites over 16 bytes): in every case the callee gets one
/// pointer-sized register it may hand on to a `v*printf` unchanged, once. (`build.rs` sets
/// `va_list_in_one_register` for exactly these.)
#[cfg(va_list_in_one_register)]
pub type VaListArg = *mut c_void;
#[cfg(not(va_list_in_one_register))]
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
