//! Per-thread slots for the hot paths, at the cost of a plain load.
//!
//! `dispatch_sync` must know the calling thread's id (the owner value it writes into a
//! queue's state word) and push a frame onto its current-queue stack. A Rust
//! `thread_local!` in a shared library goes through `__tls_get_addr` (the general-dynamic
//! TLS model) on every access: more instructions than the whole fast path may take. So the
//! two words live in one C `__thread` variable of the *initial-exec* model, whose address is
//! the thread pointer plus a link-time constant.
//!
//! Contract:
//! - `thread_slots()`: the calling thread's [`ThreadSlots`], zero-initialised (null frame,
//!   tid 0) in every new thread, never freed while the thread runs, without a destructor.
//!   Not `Sync`: a reference to one stays on its thread. What the slots mean is the
//!   caller's business (`queue::frames`); a forked child inherits the forking thread's
//!   values, so the caller resets what must not survive `fork`.

#[cfg(target_os = "linux")]
pub use super::imp::tls::thread_slots;
pub use super::types::ThreadSlots;
