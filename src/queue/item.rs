//! What sits on a queue's list: the intrusive [`Item`] header, defined below the queues in
//! the pool layer (`pool/job.rs`) because the pool's run lists link the same items (see
//! `taken.rs` for the typed views of an item its consumer works with).

pub use crate::pool::job::{Item, ItemKind};
