//! System programming interfaces (SPI): the exports of the reference Linux library that are
//! not in Apple's public headers (`private/*.h`, `os/object_private.h`, runtime hooks).
//!
//! cbindgen skips this module (see the `cbindgen:ignore` on its declaration), so the
//! generated public `dispatch.h` stays the public API; the declarations live in the
//! hand-written `include/dispatch/private.h`, one section per file here.

#![allow(non_upper_case_globals)]

pub mod benchmark;
#[cfg(feature = "blocks")]
pub mod block;
pub mod data;
pub mod fork;
pub mod object;
pub mod queue;
pub mod runtime;
pub mod workloop;
