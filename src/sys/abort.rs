//! Aborting and diagnostics.
//!
//! Contract:
//! - `abort_with_message(msg) -> !`: writes `msg` and a newline to standard error in one
//!   write, then aborts the process (`SIGABRT`, no unwinding, no `atexit` handlers): the
//!   GCD crash convention behind every `BUG IN CLIENT OF LIBDISPATCH:` message.
//! - `abort_with_parts(parts) -> !`: the same for a message in pieces, allocating nothing
//!   (the out-of-memory path).
//! - `write_stderr(buf)`: one line to standard error, not interleaved with other threads'
//!   lines; a closed stderr only loses it.
//! - `format_va(fmt, ap)`: `vsnprintf` of a C `va_list` received as `VaListArg` (for
//!   `dispatch_debugv`); `None` if formatting failed.

#[cfg(target_os = "linux")]
pub use super::imp::abort::{abort_with_message, abort_with_parts, format_va, write_stderr, VaListArg};
