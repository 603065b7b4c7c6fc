//! Queues: the object, its creation and target hierarchy, and how work reaches it.
//!
//! Three flavours share one structure: custom queues (serial or concurrent, created by the
//! client), root queues (the global queues, one per QoS class and overcommit flag, served
//! directly by the worker pool), and the main queue (drained only by the main thread).
//!
//! The files form layers of their own (checked by `layers::tests`; this file only
//! re-exports): `item`, `list`, `state`, `attr` → `object` (the `Queue` struct and its
//! reads) → `frames`, `root`, `forked`, `main_queue` and `runloop` (their wakes),
//! `autorelease` → `continuation` → `taken` → `workloop` → `drain` (push and drain, which
//! call each other) → `sync`, `thread_bound`, `lifecycle`, `event_target`.

pub mod attr;
pub mod autorelease;
pub mod continuation;
pub mod drain;
mod event_target;
pub mod forked;
pub mod frames;
pub mod item;
pub mod lifecycle;
pub mod list;
pub mod main_queue;
pub mod object;
pub mod root;
pub mod runloop;
pub mod state;
pub mod sync;
pub mod taken;
pub mod thread_bound;
pub mod workloop;

pub use drain::{async_f, submit};
pub use object::{layout, Flavor, Queue};
