//! `fork()`: what the child of a process with dispatch threads inherits, and how it gets a
//! working runtime of its own.
//!
//! The child has one thread, the one that called `fork`; memory is copied as it was at
//! that instant. Left alone, every counter that describes the parent's threads lies in
//! the child: the pool believes in parked workers (a push "claims" one and wakes nobody),
//! the monitor and event thread are "started", the event thread's epoll, timerfds and
//! eventfd are files *shared* with the parent, and a lock held by some parent thread at
//! the instant of the fork stays held forever. `pthread_atfork` handlers, registered when
//! the library is loaded, fix that:
//!
//! * **prepare** (parent, forking thread): takes every internal lock the child could need,
//!   in one fixed order — the source registry, the timer heaps (`event`), then the pool's
//!   worker list and its twelve run lists (`pool`). No path of the runtime takes these in
//!   another order (the registry is the only one held while another is taken: a delivery
//!   pushes to a run list), so this cannot deadlock. The guards are kept in a thread-local
//!   of the forking thread, which the parent and child handlers run on.
//! * **parent**: drops the guards.
//! * **child**: with the locks still held, forgets the parent's source registrations and
//!   timer entries (without calling into them: their references are leaked, not
//!   released, so no client code runs because of them), resets the pool (no worker, no
//!   sleeper, no claim; pending counts recomputed from the lists), then releases the
//!   locks (a std futex mutex records no owner, so the child's unlock is a plain unlock),
//!   replaces the event thread's descriptors and the main queue's loop handle with fresh
//!   ones under the same numbers, and starts a new event thread and monitor if the parent
//!   had them, and a worker if copied items wait on the root lists.
//!
//! What the child keeps and loses:
//!
//! * Items queued and not yet started run in the child too (they are in the copied
//!   memory, and a queue marked `ENQUEUED` depends on its queue item being run); items
//!   that were running are the parent's.
//! * Sources of the parent are cancelled in the child: each source records the fork
//!   [`epoch`] it was created in, and `is_cancelled` is true for an older one, so its
//!   handlers never run there on their own and `dispatch_source_testcancel` says so. An
//!   explicit `dispatch_source_cancel` (or the last release) in the child runs its cancel
//!   handler, which lets the child close descriptors it owns.
//! * A custom queue that another thread of the parent was draining (or held with
//!   `dispatch_sync`) at the fork can never be unlocked: that thread does not exist in the
//!   child. Using it aborts with a `BUG IN CLIENT OF LIBDISPATCH:` message instead of
//!   silently stranding the work. The check costs nothing on the fast paths: it runs only
//!   when a push did not make the queue runnable (it was owned, enqueued or already had
//!   items), and there only in a forked child (one load of a flag). It then asks whether
//!   the owner in the state word is a live thread of this process (`tgkill(pid, tid, 0)`),
//!   this thread, or this thread under the id it had in an ancestor process (the forking
//!   thread keeps the queues it held across `fork`, under its old id).
//!
//! `_dispatch_is_fork_of_multithreaded_parent()` is true in a child whose parent had
//! started a dispatch thread (worker, monitor or event thread).

use crate::queue::{frames, main_queue, state, Flavor, Queue};
use crate::{event, pool, sys};
use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::ffi::CStr;
use std::sync::Once;

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

/// What prepare took, for the parent or child handler on the same thread.
struct Held {
    forker_tid: u32,
    multithreaded: bool,
    event: event::ForkHeld,
    pool: pool::ForkHeld,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
    /// Nesting of prepare calls (the registered handler, plus `dispatch_atfork_prepare`
    /// when a client calls it too): only the outermost pair locks and unlocks.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

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

/// Registers the `fork` handlers once.
pub(crate) fn ensure_registered() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| sys::at_fork(prepare_handler, parent_handler, child_handler));
}

extern "C" fn register_at_load() {
    ensure_registered();
}

/// Registration at load time, before any thread of the library can hold a lock.
#[used]
#[link_section = ".init_array"]
static REGISTER_AT_LOAD: extern "C" fn() = register_at_load;

extern "C" fn prepare_handler() {
    prepare();
}
extern "C" fn parent_handler() {
    parent();
}
extern "C" fn child_handler() {
    child();
}

/// `dispatch_atfork_prepare`: takes every internal lock (see the module doc).
pub(crate) fn prepare() {
    let depth = DEPTH.with(|d| d.replace(d.get() + 1));
    if depth > 0 {
        return;
    }
    let forker_tid = frames::thread_id();
    let multithreaded = pool::had_threads() || event::has_thread();
    let event = event::lock_for_fork();
    let pool = pool::lock_for_fork();
    HELD.with(|h| *h.borrow_mut() = Some(Held { forker_tid, multithreaded, event, pool }));
}

/// Ends one prepare; the outermost returns what it took.
fn take_outermost() -> Option<Held> {
    let last = DEPTH.with(|d| match d.get() {
        0 => false, // unbalanced call: nothing is held
        n => {
            d.set(n - 1);
            n == 1
        }
    });
    if last {
        HELD.with(|h| h.borrow_mut().take())
    } else {
        None
    }
}

/// `dispatch_atfork_parent`: releases what prepare took.
pub(crate) fn parent() {
    drop(take_outermost());
}

/// `dispatch_atfork_child`: resets the runtime for the child's single thread.
pub(crate) fn child() {
    let Some(held) = take_outermost() else { return };
    frames::forget_thread_id_after_fork();
    // Shift the ancestor ids and record this thread's id in the parent.
    for i in (1..ANCESTOR_SLOTS).rev() {
        // Relaxed: single-threaded here; thread creation publishes it to later threads.
        ANCESTOR_TIDS[i].store(ANCESTOR_TIDS[i - 1].load(Relaxed), Relaxed);
    }
    ANCESTOR_TIDS[0].store(held.forker_tid, Relaxed);
    // Relaxed: as above.
    MULTITHREADED_PARENT.store(held.multithreaded, Relaxed);
    EPOCH.fetch_add(1, Relaxed);
    FORKED_CHILD.store(true, Relaxed);
    let Held { event, pool, .. } = held;
    event::reset_in_child(event);
    pool::reset_in_child(pool);
    main_queue::renew_handle_after_fork();
}

/// Aborts if `q`, which a push just found not runnable, is owned by a thread that stayed
/// in an ancestor process: nothing would ever run its items.
#[inline]
pub(crate) fn check_queue_usable(q: &Queue) {
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
    let owner = state::owner(q.state.load());
    // Relaxed: written in the child handler, as above.
    let is_ancestor = |tid: u32| ANCESTOR_TIDS.iter().any(|t| t.load(Relaxed) == tid);
    if owner == 0 || owner == frames::thread_id() || is_ancestor(owner) || sys::thread_alive(owner) {
        return;
    }
    // A live owner may have unlocked (and its thread exited) since the first look: only a
    // dead owner that still holds the queue is a stranded one.
    if state::owner(q.state.load()) != owner {
        return;
    }
    // SAFETY: a queue's label is a NUL-terminated string that lives as long as the queue.
    let label = unsafe { CStr::from_ptr(q.label()) }.to_string_lossy();
    sys::abort_with_message(&format!(
        "BUG IN CLIENT OF LIBDISPATCH: queue \"{label}\" was being drained by another thread at fork(); it cannot be used in the child"
    ));
}
