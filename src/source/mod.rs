//! Dispatch sources: events from the event thread (or `dispatch_source_merge_data`)
//! delivered to handlers on a queue.
//!
//! A source owns a private serial queue that targets the client's queue. Everything a
//! source does to its client runs there, in order, so handlers never overlap themselves,
//! and the cancel handler runs after the last event handler returned:
//!
//! 1. *Registration item*, pushed by `dispatch_activate`: the registration handler. The
//!    kind's registration with the event thread ([`kinds`]) happens right after it is
//!    queued, on the activating thread, so a source suspended before activation still
//!    collects its events.
//! 2. *Delivery items*: an event merges its data by the kind's rule (sum, or, replace)
//!    and, if no delivery is scheduled yet, schedules one (`coalesce.rs`, loom-modelled). So events that
//!    arrive while a delivery waits (the queue is busy or suspended) coalesce into it.
//!    The delivery takes the merged data, publishes it for `dispatch_source_get_data`, calls the
//!    event handler, and re-arms one-shot registrations (level-triggered descriptors).
//! 3. *Cancel item*, pushed by `dispatch_source_cancel`: unregisters (after which the
//!    event thread never touches the source or its descriptor again), runs the cancel
//!    handler once, and drops the handlers. Deliveries still queued skip their handler.
//!
//! Suspending or resuming a source suspends or resumes its queue. The source is created
//! inactive, like the reference: nothing is registered before `dispatch_activate` (or the
//! first `dispatch_resume`).
//!
//! The files, bottom up (each names only files below it; `src/layers.rs` checks it):
//! `coalesce.rs` (the merge word), `parts.rs` (the kind and the records of a registration
//! and a timer), `object.rs` (the `Source` struct, its handlers and accessors), `kinds.rs`
//! and `timer.rs` (registration per kind, timer settings; they take a `&Source`), and
//! `lifecycle.rs` (creation, activation, merging, the callouts, cancellation, the event
//! thread's entry points), which drives the two. This file only re-exports.

pub mod coalesce;
pub mod kinds;
mod lifecycle;
mod object;
mod parts;
mod timer;

pub use object::{HandlerSlot, Source};
