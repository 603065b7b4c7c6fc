//! The safe Rust API: dispatch queues, groups, semaphores, once, sources and data as
//! owned, thread-safe handles, re-exported at the crate root (`dispatch::Queue`, ...).
//!
//! It is the top layer: it calls the exported C functions of `src/ffi/` like any C
//! client (same crate, so plain calls), which keeps it independent of the runtime's
//! internals and makes it exercise exactly the surface C programs use. Closures cross the
//! boundary as described in `callout.rs` (boxed once; a panic aborts with a message). The
//! names follow the `dispatch` crate (bindings to Apple's libdispatch), so a program
//! written against it ports by renaming the dependency.
//!
//! This `mod.rs` only declares and re-exports; `callout.rs` and `time.rs` are the leaves
//! the concept files share, `queue.rs` is named by `group.rs` and `source.rs`.

mod callout;
mod data;
mod group;
mod once;
mod queue;
mod semaphore;
mod source;
mod time;

pub use data::Data;
pub use group::{Group, GroupGuard};
pub use once::Once;
pub use queue::{apply, main, Qos, Queue, QueueAttribute, QueuePriority, SuspendGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};
pub use source::{Source, SourceKind};
pub use time::WaitTimeout;
