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
//!   `dispatch_sync`) at the fork can never be unlocked in the child. Using it aborts with
//!   a `BUG IN CLIENT OF LIBDISPATCH:` message instead of silently stranding the work
//!   (`queue/forked.rs`, which also keeps the fork epoch and the forking thread's ids in
//!   ancestor processes: that state sits in the queue layer, which checks it on push).
//!
//! `_dispatch_is_fork_of_multithreaded_parent()` is true in a child whose parent had
//! started a dispatch thread (worker, monitor or event thread).

use crate::queue::{forked, frames, main_queue};
use crate::{event, pool, sys};
use core::cell::{Cell, RefCell};
use std::sync::Once;

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

/// `_dispatch_is_fork_of_multithreaded_parent`.
pub(crate) fn is_fork_of_multithreaded_parent() -> bool {
    forked::is_fork_of_multithreaded_parent()
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
    // Not `frames::thread_id()`: its first call registers a handler, and glibc holds its
    // handler-list lock while running handlers (registering from one deadlocks).
    let forker_tid = sys::gettid();
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
    forked::enter_child(held.forker_tid, held.multithreaded);
    let Held { event, pool, .. } = held;
    event::reset_in_child(event);
    pool::reset_in_child(pool);
    main_queue::renew_handle_after_fork();
}
