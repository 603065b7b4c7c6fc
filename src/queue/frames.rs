//! The calling thread's stack of queues it is currently running on behalf of.
//!
//! A frame is pushed while a thread drains a queue, runs a redirected item of a
//! concurrent queue, or runs a `dispatch_sync` function. The top frame is
//! `dispatch_get_current_queue()`; a queue is *held* by the thread when it is a frame or in
//! the target chain of a frame, which is what deadlock detection and
//! `dispatch_assert_queue` ask.
//!
//! Frames are nodes on the native stack, linked from one per-thread pointer (the
//! arrangement of libdispatch's `dispatch_thread_frame_s`): pushing one is two stores, with
//! no allocation and no `RefCell`. The pointer and the cached thread id are
//! [`sys::ThreadSlots`]: an initial-exec C thread-local (`sys::tls`), so the
//! `dispatch_sync` fast path reaches both with two instructions and no `__tls_get_addr`.

use super::object::Queue;
use crate::sys::{self, ThreadSlots};
use core::cell::Cell;
use core::ptr;

/// Cells, though only the owner writes them, so that the pop reads them back from memory
/// (see [`ThisThread::run_in_frame`]). The lifetime is the queue borrow of the frame's
/// owner; a frame reached from the thread-local is read as `Frame<'static>` (see
/// [`frames`]).
struct Frame<'q> {
    queue: Cell<&'q Queue>,
    below: Cell<*const Frame<'static>>,
}

/// The calling thread's slots, typed: `ThreadSlots::top` holds a `*const Frame`.
#[derive(Clone, Copy)]
pub struct ThisThread(&'static ThreadSlots);

/// The calling thread (one TLS address computation; pass it down rather than ask again).
#[inline(always)]
pub fn this_thread() -> ThisThread {
    ThisThread(sys::thread_slots())
}

impl ThisThread {
    /// The cached thread id, 0 if not cached yet on this thread (the fast path then
    /// leaves the work to the slow one, which calls [`thread_id`]).
    #[inline(always)]
    pub fn cached_tid(self) -> u32 {
        self.0.tid.get()
    }

    fn top(self) -> *const Frame<'static> {
        self.0.top.get() as *const Frame<'static>
    }

    /// Runs `f` with `q` as the current queue: pushes a frame, runs `f`, pops it (on unwind
    /// too, though panics abort in this crate). Returns `q`, read back from the frame.
    ///
    /// What the pop needs is read back from the frame rather than kept in registers across
    /// `f`: a value live across the client's call costs a push and a pop of a callee-saved
    /// register, a load one instruction (the `dispatch_sync` budget). The frame's fields
    /// are cells and its address was published in the thread-local, so the compiler must
    /// assume `f` may have changed them and reloads.
    #[inline(always)]
    pub fn run_in_frame(self, q: &Queue, f: impl FnOnce()) -> &Queue {
        let frame = Frame { queue: Cell::new(q), below: Cell::new(self.top()) };
        self.0.top.set(&frame as *const Frame<'_> as *const ());
        struct Pop<'a, 'q>(&'a Cell<*const ()>, &'a Frame<'q>);
        impl Drop for Pop<'_, '_> {
            #[inline(always)]
            fn drop(&mut self) {
                self.0.set(self.1.below.get() as *const ());
            }
        }
        let pop = Pop(&self.0.top, &frame);
        f();
        drop(pop);
        frame.queue.get()
    }
}

/// The calling thread's kernel thread id, cached (the owner value of the state word, on
/// every `dispatch_sync`).
pub fn thread_id() -> u32 {
    match this_thread().cached_tid() {
        0 => cache_thread_id(),
        tid => tid,
    }
}

#[cold]
fn cache_thread_id() -> u32 {
    extern "C" fn forget_tid_in_child() {
        forget_thread_id_after_fork();
    }
    static AT_FORK: std::sync::Once = std::sync::Once::new();
    AT_FORK.call_once(|| sys::on_fork_child(forget_tid_in_child));
    let tid = sys::gettid();
    sys::thread_slots().tid.set(tid);
    tid
}

/// `fork` child: forgets the cached id (the child's only thread has a new one; the
/// handler registered in `cache_thread_id` may not have run yet).
pub(crate) fn forget_thread_id_after_fork() {
    sys::thread_slots().tid.set(0);
}

/// Runs `f` with `q` as the current queue.
#[inline]
pub fn with_frame<R>(q: &Queue, f: impl FnOnce() -> R) -> R {
    let mut r = None;
    this_thread().run_in_frame(q, || r = Some(f()));
    r.expect("the function ran")
}

fn frames() -> impl Iterator<Item = &'static Queue> {
    let mut f = this_thread().top();
    core::iter::from_fn(move || {
        // SAFETY: a frame lives on the stack of `run_in_frame`, which is still running on
        // this thread while the frame is linked, and so is its borrow of the queue (read
        // as 'static: the borrow outlives every use the callers make on this thread).
        let frame = unsafe { f.as_ref()? };
        let (queue, below) = (frame.queue.get(), frame.below.get());
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
    this_thread().top().is_null()
}

/// How many frames this thread has (0 outside any queue).
pub fn depth() -> usize {
    frames().count()
}
