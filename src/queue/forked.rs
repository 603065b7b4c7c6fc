//! What a forked child knows about its ancestry, and the check that keeps it from using a
//! queue stranded by the fork (the handlers themselves are in `crate::fork`, above the
//! pool and event layers; this part sits in the queue layer, which calls it).
//!
//! A custom queue that another thread of the parent was draining (or held with
//! `dispatch_sync`) at the fork can never be unlocked in the child: that thread does not
//! exist there. [`check_usable`] runs only when a push did not make the queue runnable
//! (it was owned, enqueued or already had items), and does real work only in a forked
//! child (one load of a flag otherwise): it aborts when the state word's owner is neither
//! a live thread of this process (`tgkill(pid, tid, 0)`), nor this thread, nor this
//! thread under the id it had in an ancestor process (the forking thread keeps the queues
//! it held across `fork`, under its old id).

use super::frames;
use super::object::{Flavor, Queue};
use crate::sys;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// Set in the child handler of every fork that ran our handlers.
static FORKED_CHILD: AtomicBool = AtomicBool::new(false);
/// The parent (of the last fork) had started dispatch threads.
static MULTITHREADED_PARENT: AtomicBool = AtomicBool::new(false);
/// Forks this process descends through (0 in the original process).
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The forking thread's ids in its ancestor processes (most recent forks; a queue held
/// across more forks than this by the same thread would be taken for a stranded one).
const ANCESTOR_SLOTS: usize = 8;
static ANCESTOR_TIDS: [AtomicU32; ANCESTOR_SLOTS] = [const { AtomicU32::new(0) }; ANCESTOR_SLOTS];

/// The fork epoch this process is in; a source created in an older one is cancelled.
pub(crate) fn epoch() -> u32 {
    // Relaxed: changes only in the child handler, before the child has a second thread.
    EPOCH.load(Relaxed)
}

/// `_dispatch_is_fork_of_multithreaded_parent`.
pub(crate) fn is_fork_of_multithreaded_parent() -> bool {
    // Relaxed: as in `epoch`.
    MULTITHREADED_PARENT.load(Relaxed)
}

/// Records, in the child handler, that this process is a forked child: the forking
/// thread's id in the parent, and whether the parent had dispatch threads.
pub(crate) fn enter_child(forker_tid: u32, multithreaded: bool) {
    for i in (1..ANCESTOR_SLOTS).rev() {
        // Relaxed: single-threaded here; thread creation publishes it to later threads.
        ANCESTOR_TIDS[i].store(ANCESTOR_TIDS[i - 1].load(Relaxed), Relaxed);
    }
    ANCESTOR_TIDS[0].store(forker_tid, Relaxed);
    // Relaxed: as above.
    MULTITHREADED_PARENT.store(multithreaded, Relaxed);
    EPOCH.fetch_add(1, Relaxed);
    FORKED_CHILD.store(true, Relaxed);
}

/// Aborts if `q`, which a push just found not runnable, is owned by a thread that stayed
/// in an ancestor process: nothing would ever run its items.
#[inline]
pub(crate) fn check_usable(q: &Queue) {
    // Relaxed: set before the child had a second thread (thread creation orders it before
    // every other thread's loads); in the original process it is never set.
    if FORKED_CHILD.load(Relaxed) {
        check_in_forked_child(q);
    }
}

#[cold]
#[inline(never)]
fn check_in_forked_child(q: &Queue) {
    if q.flavor != Flavor::Custom {
        return; // root queues have no owner; the main queue's is a placeholder
    }
    let owner = q.state.snapshot().owner();
    // Relaxed: written in the child handler, as above.
    let is_ancestor = |tid: u32| ANCESTOR_TIDS.iter().any(|t| t.load(Relaxed) == tid);
    if owner == 0 || owner == frames::thread_id() || is_ancestor(owner) || sys::thread_alive(owner) {
        return;
    }
    // A live owner may have unlocked (and its thread exited) since the first look: only a
    // dead owner that still holds the queue is a stranded one.
    if q.state.snapshot().owner() != owner {
        return;
    }
    let label = q.label_cstr().to_string_lossy();
    sys::abort_with_message(&format!(
        "BUG IN CLIENT OF LIBDISPATCH: queue \"{label}\" was being drained by another thread at fork(); it cannot be used in the child"
    ));
}
