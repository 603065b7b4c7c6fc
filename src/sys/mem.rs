//! Memory: the C heap and mappings.
//!
//! Contract:
//! - `c_malloc(size)` / `c_calloc(size)` (zeroed) / `c_free(p)`: the C library's heap, the
//!   one another Blocks runtime in the process allocates from and frees into (block copies
//!   cross between runtimes); NULL when exhausted. `c_free` takes NULL or a live C-heap
//!   allocation.
//! - `unmap(addr, size)`: releases a mapping the client handed over with
//!   `DISPATCH_DATA_DESTRUCTOR_MUNMAP`.
//! - `page_size()`: the memory page size.

#[cfg(target_os = "linux")]
pub use super::imp::mem::{c_calloc, c_free, c_malloc, page_size, unmap};
