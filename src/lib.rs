//! A libdispatch (Grand Central Dispatch) for Linux, exported as a C ABI.
//!
//! Layers, bottom up (see `docs/ARCHITECTURE.md`; checked by `layers.rs`): `sys`
//! (syscalls) → primitives (`primitive`, `time`, `park`, `qos`, `threads`) → `pool`
//! (type-erased jobs) and `event` (type-erased targets) → objects and queues (`object`,
//! `queue`, `sync`, `apply`) → `source`, `data`, `io`, `blocks`, `debug`, `benchmark`,
//! `fork` → `ffi` (the exported C functions) → `api` (the safe Rust API).
//!
//! # The Rust API
//!
//! Rust programs use the same runtime without C: [`Queue`] (serial, concurrent, global by
//! [`QueuePriority`] or [`Qos`], main), [`Group`], [`Semaphore`], [`Once`], [`Source`]
//! (timers, descriptors, signals, custom data), [`Data`], [`apply`] and [`main`]. The
//! names follow the `dispatch` crate, so porting from it is a rename of the dependency
//! (the package is `gcd-linux`, the library `dispatch`). The README's example
//! (`examples/rust_hello.rs`):
//!
#![doc = concat!("```\n", include_str!("../examples/rust_hello.rs"), "```")]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod callback;
mod primitive;

#[cfg(test)]
mod layers;

#[cfg(not(loom))]
mod api;
#[cfg(not(loom))]
mod apply;
#[cfg(not(loom))]
mod benchmark;
#[cfg(not(loom))]
mod blocks;
#[cfg(not(loom))]
mod data;
#[cfg(not(loom))]
mod debug;
#[cfg(not(loom))]
mod event;
#[cfg(not(loom))]
pub mod ffi;
#[cfg(not(loom))]
mod fork;
#[cfg(not(loom))]
mod io;
#[cfg(not(loom))]
mod object;
mod park;
#[cfg(not(loom))]
mod pool;
#[cfg(not(loom))]
mod qos;
#[cfg(not(loom))]
mod queue;
#[cfg(not(loom))]
mod source;
#[cfg(not(loom))]
mod sync;
mod sys;
#[cfg(not(loom))]
mod threads;
#[cfg(not(loom))]
mod time;

#[cfg(not(loom))]
pub use api::{
    apply, main, Data, Group, GroupGuard, Once, Qos, Queue, QueueAttribute, QueuePriority, Semaphore,
    SemaphoreGuard, Source, SourceKind, SuspendGuard, WaitTimeout,
};

/// Under loom only the lock-free protocols are compiled, against loom's atomics (plus
/// `park`, whose futex is modelled with loom's mutex and condvar, and `sys`, which `park`
/// names the clocks of; nothing under loom calls into `sys`).
#[cfg(loom)]
mod apply {
    pub mod hot;
}
#[cfg(loom)]
mod queue {
    pub mod item;
    pub mod list;
    pub mod state;
}
#[cfg(loom)]
mod pool {
    pub mod job;
    pub mod run_list;
    pub mod sleepers;
}
#[cfg(loom)]
mod source {
    pub mod coalesce;
}
#[cfg(loom)]
mod sync {
    pub mod group_state;
    pub mod semaphore;
}
