//! Aborting and diagnostics.
//!
//! Contract:
//! - `abort_with_message(msg) -> !`: writes `msg` and a newline to standard error in one
//!   write, then aborts the process (`SIGABRT`, no unwinding, no `atexit` handlers): the
//!   GCD crash convention behind every `BUG IN CLIENT OF LIBDISPATCH:` message.
//! - `abort_with_parts(parts) -> !`: the same for a message in pieces, allocating nothing
//!   (the out-of-memory path).
//! - `abort_out_of_memory(size, what) -> !`: "libdispatch: out of memory: cannot allocate
//!   N bytes (WHAT)", through `abort_with_parts` (portable, defined here).
//! - `write_stderr(buf)`: one line to standard error, not interleaved with other threads'
//!   lines; a closed stderr only loses it.
//! - `format_va(fmt, ap)`: `vsnprintf` of a C `va_list` received as `VaListArg` (for
//!   `dispatch_debugv`); `None` if formatting failed.

#[cfg(target_os = "linux")]
pub use super::imp::abort::{abort_with_message, abort_with_parts, format_va, write_stderr, VaListArg};

/// Aborts for an allocation of `size` bytes the heap refused (`what` names what it was
/// for), without allocating anything more: the library's name and the size, instead of
/// the anonymous "memory allocation of N bytes failed".
#[cold]
pub fn abort_out_of_memory(size: usize, what: &str) -> ! {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = size;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    abort_with_parts(&[
        b"libdispatch: out of memory: cannot allocate ",
        &digits[i..],
        b" bytes (",
        what.as_bytes(),
        b")",
    ])
}
