//! Files: the calls behind `dispatch_io` and the read/write sources' size estimates.
//! Failures are reported as the `errno` value (`Err(i32)`), which `dispatch_io` hands to
//! the client.
//!
//! Contract:
//! - `open_path(path, oflag, mode) -> Result<fd, errno>` (close-on-exec always added);
//!   `path_mode(path, nofollow) -> Result<st_mode, errno>`.
//! - `read_at(fd, buf, offset)` / `write_at(fd, buf, offset)`: one `read`/`write` at the
//!   current position (`None`) or at `offset`, returning the byte count (may be short).
//! - `current_offset(fd)`: the file position (`None` for pipes and sockets);
//!   `is_regular_file(fd)`; `file_size_and_links(fd)`.
//! - `bytes_readable(fd)`: bytes readable without blocking, if the descriptor can say;
//!   `write_space(fd)`: an estimate of the bytes writable without blocking (at least 1).

#[cfg(target_os = "linux")]
pub use super::imp::file::{
    bytes_readable, current_offset, file_size_and_links, is_regular_file, open_path, path_mode, read_at,
    write_at, write_space,
};
