//! The atomics the lock-free protocols are written against: std's normally, loom's mocks
//! under `cfg(loom)`, so the model-checked code and the shipped code are the same code
//! (the arrangement of crossbeam's `primitive` module and tokio's `loom` module). Every
//! atomic of the pool (`pool/`), the parker (`park.rs`) and the sync hand-off
//! (`queue/state.rs`, `park::Event`) comes from here.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};
#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};
#[cfg(loom)]
pub(crate) use loom::sync::Mutex;

/// Hint for a spin-wait iteration.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    core::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}
