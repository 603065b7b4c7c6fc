//! The calling thread's stack of queues it is currently running on behalf of.
//!
//! A frame is pushed while a thread drains a queue, runs a redirected item of a
//! concurrent queue, or runs a `dispatch_sync` function. The top frame is
//! `dispatch_get_current_queue()`; a queue is *held* by the thread when it is a frame or in
//! the target chain of a frame, which is what deadlock detection and
//! `dispatch_assert_queue` ask.
//!
//! Frames are nodes on the native stack, linked from one thread-local pointer (the
//! arrangement of libdispatch's `dispatch_thread_frame_s`): pushing one is two stores, with
//! no allocation and no `RefCell`. The thread-local is const-initialised and has no
//! destructor, and also caches the thread id, so the `dispatch_sync` fast path makes a
//! single TLS lookup.

use super::object::Queue;
use core::cell::Cell;
use core::ptr;

struct Frame {
    queue: *const Queue,
    below: *const Frame,
}

/// Everything the hot paths need per thread, in one thread-local so they pay for one TLS
/// lookup (`__tls_get_addr` in a shared library): the frame stack, and this thread's id.
struct ThreadState {
    top: Cell<*const Frame>,
    /// Cached `gettid()`; 0 until first use, and again in a forked child.
    tid: Cell<u32>,
}

thread_local! {
    static THREAD: ThreadState = const { ThreadState { top: Cell::new(ptr::null()), tid: Cell::new(0) } };
}

impl ThreadState {
    fn tid(&self) -> u32 {
        match self.tid.get() {
            0 => {
                extern "C" fn forget_tid_in_child() {
                    THREAD.with(|t| t.tid.set(0));
                }
                static AT_FORK: std::sync::Once = std::sync::Once::new();
                AT_FORK.call_once(|| crate::sys::on_fork_child(forget_tid_in_child));
                let tid = crate::sys::gettid();
                self.tid.set(tid);
                tid
            }
            tid => tid,
        }
    }
}

/// The calling thread's kernel thread id, cached (the owner value of the state word, on
/// every `dispatch_sync`).
pub fn thread_id() -> u32 {
    THREAD.with(ThreadState::tid)
}

/// `fork` child: forgets the cached id (the child's only thread has a new one; the
/// handler registered in `ThreadState::tid` may not have run yet).
pub(crate) fn forget_thread_id_after_fork() {
    THREAD.with(|t| t.tid.set(0));
}

/// Pushes a frame for `q` on `top`, runs `f`, pops it (on unwind too, though panics abort
/// in this crate).
fn push_run_pop<R>(top: &Cell<*const Frame>, q: &Queue, f: impl FnOnce() -> R) -> R {
    let frame = Frame { queue: q, below: top.get() };
    top.set(&frame);
    struct Pop<'a>(&'a Cell<*const Frame>, *const Frame);
    impl Drop for Pop<'_> {
        fn drop(&mut self) {
            self.0.set(self.1);
        }
    }
    let _pop = Pop(top, frame.below);
    f()
}

/// Runs `f` with `q` as the current queue.
pub fn with_frame<R>(q: &Queue, f: impl FnOnce() -> R) -> R {
    THREAD.with(|t| push_run_pop(&t.top, q, f))
}

/// The `dispatch_sync` fast path in one thread-local access: `acquire(tid)`; if it
/// succeeds, `body` runs with `q` as the current queue, then `release(tid)`. Returns
/// whether it acquired.
pub fn acquire_run_release(
    q: &Queue,
    acquire: impl FnOnce(u32) -> bool,
    body: impl FnOnce(),
    release: impl FnOnce(u32),
) -> bool {
    THREAD.with(|t| {
        let tid = t.tid();
        if !acquire(tid) {
            return false;
        }
        push_run_pop(&t.top, q, body);
        release(tid);
        true
    })
}

fn frames() -> impl Iterator<Item = &'static Queue> {
    let mut f = THREAD.with(|t| t.top.get());
    core::iter::from_fn(move || {
        // SAFETY: a frame lives on the stack of `push_run_pop`, which is still running on
        // this thread while the frame is linked, and so is its borrow of the queue.
        let (queue, below) = unsafe {
            let frame = f.as_ref()?;
            (&*frame.queue, frame.below)
        };
        f = below;
        Some(queue)
    })
}

/// The innermost queue this thread runs on behalf of.
pub fn current() -> Option<&'static Queue> {
    frames().next()
}

/// Whether `q` is a frame of this thread or in the target chain of one.
pub fn holds(q: &Queue) -> bool {
    find_held(|l| ptr::eq(l, q)).is_some()
}

/// The innermost held queue (a frame or a level of a frame's target chain) that `pred`
/// accepts.
pub fn find_held(pred: impl Fn(&Queue) -> bool) -> Option<&'static Queue> {
    frames().find_map(|f| {
        let mut level = Some(f);
        while let Some(l) = level {
            if pred(l) {
                return Some(l);
            }
            level = l.target();
        }
        None
    })
}

/// Whether this thread runs on behalf of no queue at all (the cheap first check of the
/// `dispatch_sync` deadlock detection).
pub fn is_empty() -> bool {
    THREAD.with(|t| t.top.get().is_null())
}

/// How many frames this thread has (0 outside any queue).
pub fn depth() -> usize {
    frames().count()
}
