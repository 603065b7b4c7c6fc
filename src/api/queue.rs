//! [`Queue`]: a dispatch queue as an owned, thread-safe handle, and the submission
//! functions (`exec_async`, `exec_sync`, barriers, `after`, `apply`, `for_each`, `map`),
//! plus [`main`].
//!
//! A `Queue` owns one client reference (`dispatch_retain` on clone, `dispatch_release` on
//! drop; the global and main queues are immortal, so theirs are no-ops). Every method calls
//! the exported C function of the same meaning (`src/ffi/`), with the closure passed the
//! way `callout.rs` describes. The bounds are what makes the calls race-free:
//! - `exec_async`, `barrier_async`, `after`: `F: FnOnce() + Send + 'static`: the closure
//!   runs later on some worker thread.
//! - `exec_sync`, `barrier_sync`: `F: FnOnce() -> T + Send, T: Send`, not `'static`: it
//!   runs before the call returns (on the caller's thread for a custom queue, on the main
//!   thread for the main queue), so it may borrow the caller's locals.
//! - `apply`, `for_each`, `map`: `F: Fn(..) + Sync`: called concurrently from several
//!   threads, through a shared reference.

use super::callout::{boxed, run_or_abort, InPlace};
use super::time::deadline_after;
use crate::ffi::object::{dispatch_release, dispatch_resume, dispatch_retain, dispatch_suspend};
use crate::ffi::queue::{
    _dispatch_main_q, _dispatch_queue_attr_concurrent, dispatch_get_global_queue, dispatch_main,
    dispatch_queue_create_with_target, dispatch_queue_get_label,
};
use crate::ffi::work::{
    dispatch_after_f, dispatch_apply_f, dispatch_async_f, dispatch_barrier_async_f, dispatch_barrier_sync_f,
    dispatch_sync_f,
};
use crate::ffi::{dispatch_queue_t, size_t};
use core::ffi::{c_void, CStr};
use core::ptr::NonNull;
use core::time::Duration;
use std::ffi::CString;

/// The priority of a global queue, in the terms of the legacy
/// `DISPATCH_QUEUE_PRIORITY_*` constants (the `dispatch` crate's names). Each maps to a
/// QoS class: `High` to user-initiated, `Default` to default, `Low` to utility,
/// `Background` to background.
///
/// ```
/// use dispatch::{Queue, QueuePriority};
///
/// let q = Queue::global(QueuePriority::High);
/// assert_eq!(q.label(), "com.apple.root.user-initiated-qos");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueuePriority {
    High,
    Default,
    Low,
    Background,
}

impl QueuePriority {
    fn identifier(self) -> isize {
        match self {
            QueuePriority::High => 2,
            QueuePriority::Default => 0,
            QueuePriority::Low => -2,
            QueuePriority::Background => i16::MIN as isize,
        }
    }
}

/// A quality-of-service class: which global queue, and how urgently its worker threads
/// are scheduled (background work runs at a lower `nice` value).
///
/// ```
/// use dispatch::{Qos, Queue};
///
/// let q = Queue::global_qos(Qos::Utility);
/// assert_eq!(q.label(), "com.apple.root.utility-qos");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    UserInteractive,
    UserInitiated,
    Default,
    Utility,
    Background,
}

impl Qos {
    /// The `qos_class_t` value.
    fn class(self) -> isize {
        match self {
            Qos::UserInteractive => 0x21,
            Qos::UserInitiated => 0x19,
            Qos::Default => 0x15,
            Qos::Utility => 0x11,
            Qos::Background => 0x09,
        }
    }
}

/// Whether a queue created with [`Queue::create`] runs one item at a time.
///
/// ```
/// use dispatch::{Queue, QueueAttribute};
///
/// let serial = Queue::create("com.example.serial", QueueAttribute::Serial);
/// let concurrent = Queue::create("com.example.concurrent", QueueAttribute::Concurrent);
/// assert_eq!(serial.exec_sync(|| 1) + concurrent.exec_sync(|| 2), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueAttribute {
    /// Items run one at a time, in submission order.
    Serial,
    /// Items may run in parallel; barriers run alone.
    Concurrent,
}

/// A dispatch queue: submitted closures run on it in FIFO order, one at a time
/// ([`QueueAttribute::Serial`], the main queue) or in parallel
/// ([`QueueAttribute::Concurrent`], the global queues).
///
/// Cloning retains the same queue; the queue lives until its last handle is dropped and
/// the items submitted to it have run.
///
/// ```
/// use dispatch::{Queue, QueueAttribute};
/// use std::sync::mpsc;
///
/// let q = Queue::create("com.example.worker", QueueAttribute::Serial);
/// let (tx, rx) = mpsc::channel();
/// for i in 0..3 {
///     let tx = tx.clone();
///     q.exec_async(move || tx.send(i).unwrap());
/// }
/// // A serial queue runs its items in order.
/// assert_eq!(rx.iter().take(3).collect::<Vec<_>>(), [0, 1, 2]);
///
/// // exec_sync returns the closure's value and may borrow locals.
/// let words = vec!["a", "b"];
/// assert_eq!(q.exec_sync(|| words.len()), 2);
/// ```
pub struct Queue {
    raw: NonNull<c_void>,
}

// SAFETY: a dispatch queue is a thread-safe object: every C function on it may be called
// from any thread, and the reference this handle owns may be released from any thread.
unsafe impl Send for Queue {}
// SAFETY: as above; `&Queue` only calls those functions.
unsafe impl Sync for Queue {}

impl Queue {
    /// Takes ownership of one client reference.
    fn from_owned(raw: dispatch_queue_t, what: &str) -> Queue {
        match NonNull::new(raw) {
            Some(raw) => Queue { raw },
            None => panic!("{what} returned NULL"),
        }
    }

    /// The queue as the C functions take it.
    pub(super) fn as_raw(&self) -> dispatch_queue_t {
        self.raw.as_ptr()
    }

    /// The main queue: a serial queue whose items run on the main thread, once the main
    /// thread calls [`main`] (or a foreign loop drains it).
    ///
    /// ```no_run
    /// use dispatch::Queue;
    ///
    /// let main_thread = std::thread::current().id();
    /// Queue::global(dispatch::QueuePriority::Default).exec_async(move || {
    ///     Queue::main().exec_async(move || {
    ///         assert_eq!(std::thread::current().id(), main_thread);
    ///         std::process::exit(0);
    ///     });
    /// });
    /// dispatch::main();
    /// ```
    pub fn main() -> Queue {
        // `dispatch_get_main_queue()` is `&_dispatch_main_q`; the main queue is immortal, so
        // the handle owns nothing to release.
        Queue::from_owned(core::ptr::addr_of!(_dispatch_main_q) as *mut c_void, "dispatch_get_main_queue")
    }

    /// The global concurrent queue of a priority.
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    ///
    /// let sum: usize = Queue::global(QueuePriority::Default).exec_sync(|| (1..=4).sum());
    /// assert_eq!(sum, 10);
    /// ```
    pub fn global(priority: QueuePriority) -> Queue {
        Queue::from_owned(dispatch_get_global_queue(priority.identifier(), 0), "dispatch_get_global_queue")
    }

    /// The global concurrent queue of a QoS class.
    ///
    /// ```
    /// use dispatch::{Qos, Queue};
    ///
    /// assert_eq!(Queue::global_qos(Qos::Background).exec_sync(|| 7), 7);
    /// ```
    pub fn global_qos(qos: Qos) -> Queue {
        Queue::from_owned(dispatch_get_global_queue(qos.class(), 0), "dispatch_get_global_queue")
    }

    /// A new queue. Its label shows in debuggers and crash reports; a NUL byte ends it.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute};
    ///
    /// let q = Queue::create("com.example.io", QueueAttribute::Serial);
    /// assert_eq!(q.label(), "com.example.io");
    /// ```
    pub fn create(label: &str, attr: QueueAttribute) -> Queue {
        Queue::create_with_target(label, attr, None)
    }

    /// A new queue whose items run on `target` (a serial target serializes it with the
    /// target's other queues).
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute};
    ///
    /// let target = Queue::create("com.example.target", QueueAttribute::Serial);
    /// let q = Queue::with_target_queue("com.example.child", QueueAttribute::Concurrent, &target);
    /// assert_eq!(q.exec_sync(|| "ran"), "ran");
    /// ```
    pub fn with_target_queue(label: &str, attr: QueueAttribute, target: &Queue) -> Queue {
        Queue::create_with_target(label, attr, Some(target))
    }

    fn create_with_target(label: &str, attr: QueueAttribute, target: Option<&Queue>) -> Queue {
        let label = label.split('\0').next().unwrap_or_default();
        let label = CString::new(label).expect("no NUL byte before the first one");
        let attr = match attr {
            QueueAttribute::Serial => core::ptr::null_mut(),
            QueueAttribute::Concurrent => core::ptr::addr_of!(_dispatch_queue_attr_concurrent) as *mut c_void,
        };
        let target = target.map_or(core::ptr::null_mut(), Queue::as_raw);
        // SAFETY: a NUL-terminated label (copied by the call), NULL or the concurrent
        // attribute, and NULL or a live queue.
        let raw = unsafe { dispatch_queue_create_with_target(label.as_ptr(), attr, target) };
        Queue::from_owned(raw, "dispatch_queue_create_with_target")
    }

    /// The queue's label (`""` if it is not UTF-8).
    ///
    /// ```
    /// use dispatch::Queue;
    ///
    /// assert_eq!(Queue::main().label(), "com.apple.main-thread");
    /// ```
    pub fn label(&self) -> &str {
        // SAFETY: `self` is a live queue.
        let p = unsafe { dispatch_queue_get_label(self.as_raw()) };
        if p.is_null() {
            return "";
        }
        // SAFETY: the label is a NUL-terminated string that lives as long as the queue,
        // which `&self` keeps alive.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
    }

    /// Submits `work` and returns at once; it runs later, on a worker thread (on the main
    /// thread for the main queue).
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    /// use std::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// Queue::global(QueuePriority::Default).exec_async(move || tx.send("done").unwrap());
    /// assert_eq!(rx.recv().unwrap(), "done");
    /// ```
    pub fn exec_async<F: FnOnce() + Send + 'static>(&self, work: F) {
        let (ctx, f) = boxed(work);
        // SAFETY: a live queue; `f` calls `ctx` once, as dispatch_async_f does.
        unsafe { dispatch_async_f(self.as_raw(), ctx, f) }
    }

    /// Runs `work` on the queue and returns its value once it ran. `work` may borrow: it
    /// finishes before this returns. Calling it on the queue the caller is running on
    /// (a serial queue from its own item) deadlocks, which the runtime reports and aborts.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute};
    ///
    /// let q = Queue::create("com.example.sync", QueueAttribute::Serial);
    /// let mut v = vec![1, 2];
    /// let len = q.exec_sync(|| {
    ///     v.push(3);
    ///     v.len()
    /// });
    /// assert_eq!((len, v), (3, vec![1, 2, 3]));
    /// ```
    pub fn exec_sync<T: Send, F: FnOnce() -> T + Send>(&self, work: F) -> T {
        let mut call = InPlace::new(work);
        let (ctx, f) = call.as_callout();
        // SAFETY: a live queue; `ctx` is `call`, alive and untouched until the call returns,
        // which dispatch_sync_f does only after `f` ran.
        unsafe { dispatch_sync_f(self.as_raw(), ctx, f) };
        call.into_result().expect("dispatch_sync_f ran the closure")
    }

    /// Submits `work` as a barrier: on a concurrent queue it waits for the items before it
    /// and runs alone; items after it wait for it. On a serial queue it is `exec_async`.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let q = Queue::create("com.example.rw", QueueAttribute::Concurrent);
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// for i in 0..4 {
    ///     let log = log.clone();
    ///     q.exec_async(move || log.lock().unwrap().push(i));
    /// }
    /// let l = log.clone();
    /// q.barrier_async(move || l.lock().unwrap().push(100));
    /// q.barrier_sync(|| {});
    /// let log = log.lock().unwrap();
    /// assert_eq!(log.len(), 5);
    /// assert_eq!(log[4], 100); // the barrier ran after every item before it
    /// ```
    pub fn barrier_async<F: FnOnce() + Send + 'static>(&self, work: F) {
        let (ctx, f) = boxed(work);
        // SAFETY: as in `exec_async`.
        unsafe { dispatch_barrier_async_f(self.as_raw(), ctx, f) }
    }

    /// `exec_sync` as a barrier: runs `work` alone on the queue and returns its value.
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute};
    ///
    /// let q = Queue::create("com.example.rw", QueueAttribute::Concurrent);
    /// assert_eq!(q.barrier_sync(|| 2 + 2), 4);
    /// ```
    pub fn barrier_sync<T: Send, F: FnOnce() -> T + Send>(&self, work: F) -> T {
        let mut call = InPlace::new(work);
        let (ctx, f) = call.as_callout();
        // SAFETY: as in `exec_sync`.
        unsafe { dispatch_barrier_sync_f(self.as_raw(), ctx, f) };
        call.into_result().expect("dispatch_barrier_sync_f ran the closure")
    }

    /// Submits `work` to run on the queue `delay` from now (uptime; at or after it).
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    /// use std::sync::mpsc;
    /// use std::time::{Duration, Instant};
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let start = Instant::now();
    /// Queue::global(QueuePriority::Default).after(Duration::from_millis(20), move || {
    ///     tx.send(start.elapsed()).unwrap()
    /// });
    /// assert!(rx.recv().unwrap() >= Duration::from_millis(20)); // never early
    /// ```
    pub fn after<F: FnOnce() + Send + 'static>(&self, delay: Duration, work: F) {
        let (ctx, f) = boxed(work);
        // SAFETY: as in `exec_async`.
        unsafe { dispatch_after_f(deadline_after(delay), self.as_raw(), ctx, f) }
    }

    /// [`after`](Queue::after) under the `dispatch` crate's name.
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// Queue::global(QueuePriority::Low).exec_after(Duration::from_millis(1), move || tx.send(1).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// ```
    pub fn exec_after<F: FnOnce() + Send + 'static>(&self, delay: Duration, work: F) {
        self.after(delay, work)
    }

    /// Calls `work(i)` for every `i` in `0..iterations`, in parallel on a concurrent queue
    /// (one at a time on a serial one), and returns when all calls returned.
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let sum = AtomicUsize::new(0);
    /// Queue::global(QueuePriority::Default).apply(100, |i| {
    ///     sum.fetch_add(i, Ordering::Relaxed);
    /// });
    /// assert_eq!(sum.into_inner(), 4950);
    /// ```
    pub fn apply<F: Fn(usize) + Sync>(&self, iterations: usize, work: F) {
        apply_on(self.as_raw(), iterations, &work)
    }

    /// Calls `work` on every element of `slice`, in parallel, each element once.
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    ///
    /// let mut v = [1, 2, 3, 4];
    /// Queue::global(QueuePriority::Default).for_each(&mut v, |x| *x *= 10);
    /// assert_eq!(v, [10, 20, 30, 40]);
    /// ```
    pub fn for_each<T: Send, F: Fn(&mut T) + Sync>(&self, slice: &mut [T], work: F) {
        let base = SharedPtr(slice.as_mut_ptr());
        self.apply(slice.len(), |i| {
            // SAFETY: `i < slice.len()` and apply passes each index exactly once, so every
            // `&mut` is to a distinct element of the slice borrowed mutably for this call.
            work(unsafe { &mut *base.get().add(i) })
        });
    }

    /// Maps `vec` through `work` in parallel, keeping the order.
    ///
    /// ```
    /// use dispatch::{Queue, QueuePriority};
    ///
    /// let squares = Queue::global(QueuePriority::Default).map(vec![1, 2, 3], |x| x * x);
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn map<T: Send, U: Send, F: Fn(T) -> U + Sync>(&self, vec: Vec<T>, work: F) -> Vec<U> {
        let len = vec.len();
        let mut src = vec;
        let mut out: Vec<U> = Vec::with_capacity(len);
        let (from, to) = (SharedPtr(src.as_mut_ptr()), SharedPtr(out.as_mut_ptr()));
        self.apply(len, |i| {
            // SAFETY: each index below `len` comes exactly once: element `i` of `src` is
            // moved out once (its slot is forgotten below), and slot `i` of `out`'s
            // capacity is written once. A panic aborts, so no half-moved state is observed.
            unsafe { to.get().add(i).write(work(from.get().add(i).read())) }
        });
        // SAFETY: every element of `src` was moved out (so dropping them again must not
        // happen) and every slot of `out` below `len` was written.
        unsafe {
            src.set_len(0);
            out.set_len(len);
        }
        out
    }

    /// Suspends the queue: items already running finish, later ones wait until the guard
    /// is dropped (or [`SuspendGuard::resume`]d).
    ///
    /// ```
    /// use dispatch::{Queue, QueueAttribute};
    /// use std::sync::mpsc;
    ///
    /// let q = Queue::create("com.example.paused", QueueAttribute::Serial);
    /// let guard = q.suspend();
    /// let (tx, rx) = mpsc::channel();
    /// q.exec_async(move || tx.send(()).unwrap());
    /// assert!(rx.try_recv().is_err()); // held while suspended
    /// guard.resume();
    /// rx.recv().unwrap();
    /// ```
    pub fn suspend(&self) -> SuspendGuard {
        // SAFETY: a live queue; the guard resumes it exactly once.
        unsafe { dispatch_suspend(self.as_raw()) };
        SuspendGuard { queue: self.clone() }
    }
}

impl Clone for Queue {
    fn clone(&self) -> Queue {
        // SAFETY: a live queue; the new handle owns the reference taken here.
        unsafe { dispatch_retain(self.as_raw()) };
        Queue { raw: self.raw }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: the handle owns one client reference and gives it up.
        unsafe { dispatch_release(self.as_raw()) }
    }
}

impl core::fmt::Debug for Queue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Queue").field("label", &self.label()).finish()
    }
}

/// A suspended queue, resumed when this is dropped. See [`Queue::suspend`].
///
/// ```
/// use dispatch::{Queue, QueueAttribute};
///
/// let q = Queue::create("com.example.s", QueueAttribute::Serial);
/// drop(q.suspend()); // resumed again
/// assert_eq!(q.exec_sync(|| 1), 1);
/// ```
#[derive(Debug)]
pub struct SuspendGuard {
    queue: Queue,
}

impl SuspendGuard {
    /// Resumes the queue.
    pub fn resume(self) {}
}

impl Drop for SuspendGuard {
    fn drop(&mut self) {
        // SAFETY: the guard's queue was suspended once by `Queue::suspend`.
        unsafe { dispatch_resume(self.queue.as_raw()) }
    }
}

/// [`Queue::apply`] on the global queues, spread as the runtime sees fit
/// (`DISPATCH_APPLY_AUTO`).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let hits = AtomicUsize::new(0);
/// dispatch::apply(8, |_| {
///     hits.fetch_add(1, Ordering::Relaxed);
/// });
/// assert_eq!(hits.into_inner(), 8);
/// ```
pub fn apply<F: Fn(usize) + Sync>(iterations: usize, work: F) {
    apply_on(core::ptr::null_mut(), iterations, &work)
}

fn apply_on<F: Fn(usize) + Sync>(queue: dispatch_queue_t, iterations: usize, work: &F) {
    let ctx = work as *const F as *mut c_void;
    // SAFETY: NULL (auto) or a live queue; `ctx` is `work`, borrowed until dispatch_apply_f
    // returns, which it does after every call; `F: Sync`, so calling it through `&F` from
    // several threads at once is sound.
    unsafe { dispatch_apply_f(iterations as size_t, queue, ctx, Some(call_index::<F>)) }
}

/// # Safety
/// `ctx` is a live `&F` (see `apply_on`).
unsafe extern "C" fn call_index<F: Fn(usize) + Sync>(ctx: *mut c_void, i: size_t) {
    // SAFETY: the caller's contract.
    let work = unsafe { &*(ctx as *const F) };
    run_or_abort::<F, ()>(|| work(i))
}

/// A raw pointer the parallel closures of `for_each`/`map` share; each index is touched
/// by one call only.
struct SharedPtr<T>(*mut T);

impl<T> SharedPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: the closures that share it touch disjoint elements (one index each) of `T:
// Send` values, which is what sending each element to its thread would allow.
unsafe impl<T: Send> Sync for SharedPtr<T> {}

/// Runs the main queue on this thread, forever (`dispatch_main`). Call it from `main`
/// after setting up; the process ends with `std::process::exit` from some closure.
///
/// ```no_run
/// use dispatch::Queue;
/// use std::time::Duration;
///
/// Queue::main().after(Duration::from_millis(10), || std::process::exit(0));
/// dispatch::main();
/// ```
pub fn main() -> ! {
    dispatch_main()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    use std::thread;

    #[test]
    fn serial_queue_runs_items_in_submission_order_one_at_a_time() {
        let q = Queue::create("t.serial", QueueAttribute::Serial);
        let running = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        for i in 0..200 {
            let (running, log) = (running.clone(), log.clone());
            q.exec_async(move || {
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two items at once");
                log.lock().unwrap().push(i);
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
        q.exec_sync(|| {});
        assert_eq!(*log.lock().unwrap(), (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn exec_sync_runs_on_the_calling_thread_and_returns_the_value() {
        let q = Queue::create("t.sync", QueueAttribute::Serial);
        let me = thread::current().id();
        let local = String::from("borrowed");
        let (ran_on, len) = q.exec_sync(|| (thread::current().id(), local.len()));
        assert_eq!(ran_on, me);
        assert_eq!(len, 8);
        // Non-Copy, non-'static results come back whole.
        let v: Vec<String> = q.exec_sync(|| vec![local.clone(); 3]);
        assert_eq!(v, ["borrowed"; 3]);
    }

    #[test]
    fn exec_async_runs_on_a_worker_thread() {
        let me = thread::current().id();
        let (tx, rx) = mpsc::channel();
        Queue::global(QueuePriority::Default).exec_async(move || tx.send(thread::current().id()).unwrap());
        assert_ne!(rx.recv().unwrap(), me);
    }

    #[test]
    fn closures_are_dropped_exactly_once() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Queue::create("t.drop", QueueAttribute::Serial);
        for _ in 0..10 {
            let c = Counted(drops.clone());
            q.exec_async(move || drop(c));
        }
        let c = Counted(drops.clone());
        q.after(Duration::from_millis(1), move || drop(c));
        let c = Counted(drops.clone());
        q.barrier_async(move || drop(c));
        let c = Counted(drops.clone());
        q.exec_sync(move || drop(c));
        let (tx, rx) = mpsc::channel();
        q.after(Duration::from_millis(2), move || tx.send(()).unwrap());
        rx.recv().unwrap();
        q.exec_sync(|| {});
        assert_eq!(drops.load(Ordering::SeqCst), 13);
    }

    #[test]
    fn barrier_waits_for_earlier_items_and_later_items_wait_for_it() {
        let q = Queue::create("t.barrier", QueueAttribute::Concurrent);
        let log = Arc::new(Mutex::new(Vec::new()));
        for i in 0..8 {
            let log = log.clone();
            q.exec_async(move || {
                thread::sleep(Duration::from_millis(1));
                log.lock().unwrap().push(i);
            });
        }
        let l = log.clone();
        q.barrier_async(move || l.lock().unwrap().push(100));
        for i in 200..204 {
            let log = log.clone();
            q.exec_async(move || log.lock().unwrap().push(i));
        }
        let seen = q.barrier_sync(|| log.lock().unwrap().clone());
        assert_eq!(seen.len(), 13);
        assert_eq!(seen[8], 100, "barrier after the 8 earlier items, before the later ones: {seen:?}");
        let mut before = seen[..8].to_vec();
        before.sort();
        assert_eq!(before, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn after_fires_later_than_an_immediate_item() {
        let q = Queue::create("t.after", QueueAttribute::Serial);
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        q.after(Duration::from_millis(30), move || tx.send("late").unwrap());
        q.exec_async(move || tx2.send("now").unwrap());
        assert_eq!(rx.iter().take(2).collect::<Vec<_>>(), ["now", "late"]);
    }

    #[test]
    fn apply_calls_every_index_once_and_for_each_and_map_keep_positions() {
        let q = Queue::global(QueuePriority::High);
        let hits: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        q.apply(1000, |i| {
            hits[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));

        let mut v: Vec<usize> = (0..1000).collect();
        q.for_each(&mut v, |x| *x *= 2);
        assert_eq!(v, (0..1000).map(|x| x * 2).collect::<Vec<_>>());

        let strings = q.map((0..100).collect(), |i: usize| i.to_string());
        assert_eq!(strings, (0..100).map(|i| i.to_string()).collect::<Vec<_>>());

        // On a serial queue apply runs the indices one at a time, in order.
        let serial = Queue::create("t.apply", QueueAttribute::Serial);
        let order = Mutex::new(Vec::new());
        serial.apply(50, |i| order.lock().unwrap().push(i));
        assert_eq!(order.into_inner().unwrap(), (0..50).collect::<Vec<_>>());
        apply(0, |_| panic!("no index"));
    }

    #[test]
    fn target_queue_serializes_children() {
        let target = Queue::create("t.target", QueueAttribute::Serial);
        let a = Queue::with_target_queue("t.a", QueueAttribute::Serial, &target);
        let b = Queue::with_target_queue("t.b", QueueAttribute::Serial, &target);
        let running = Arc::new(AtomicUsize::new(0));
        for q in [&a, &b, &a, &b] {
            let running = running.clone();
            q.exec_async(move || {
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0);
                thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
        a.exec_sync(|| {});
        b.exec_sync(|| {});
        assert_eq!(a.label(), "t.a");
    }

    #[test]
    fn global_queues_have_their_labels_and_labels_stop_at_nul() {
        assert_eq!(Queue::global(QueuePriority::Default).label(), "com.apple.root.default-qos");
        assert_eq!(Queue::global(QueuePriority::Low).label(), "com.apple.root.utility-qos");
        assert_eq!(Queue::global(QueuePriority::Background).label(), "com.apple.root.background-qos");
        assert_eq!(Queue::global_qos(Qos::UserInteractive).label(), "com.apple.root.user-interactive-qos");
        assert_eq!(Queue::global_qos(Qos::UserInitiated).label(), "com.apple.root.user-initiated-qos");
        assert_eq!(Queue::global_qos(Qos::Default).label(), "com.apple.root.default-qos");
        assert_eq!(Queue::create("a\0b", QueueAttribute::Serial).label(), "a");
        let main = Queue::main();
        let clone = main.clone();
        assert_eq!(clone.label(), "com.apple.main-thread");
    }

    #[test]
    fn suspended_queue_holds_items_until_resumed() {
        let q = Queue::create("t.suspend", QueueAttribute::Serial);
        let ran = Arc::new(AtomicUsize::new(0));
        let guard = q.suspend();
        let r = ran.clone();
        q.exec_async(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        thread::sleep(Duration::from_millis(20));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        drop(guard);
        q.exec_sync(|| {});
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn queue_handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Queue>();
        check::<SuspendGuard>();
        let q = Queue::create("t.threads", QueueAttribute::Serial);
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || q.exec_sync(|| i * 2))
            })
            .collect();
        let sum: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 12);
    }

    /// The child half of `a_panicking_closure_aborts_with_a_message`: only panics when run
    /// by that test.
    #[test]
    fn panic_child() {
        if std::env::var_os("DISPATCH_API_PANIC_CHILD").is_none() {
            return;
        }
        let q = Queue::create("t.panic", QueueAttribute::Serial);
        q.exec_sync(|| panic!("boom in a closure"));
    }

    #[test]
    fn a_panicking_closure_aborts_with_a_message() {
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "api::queue::tests::panic_child", "--nocapture", "--test-threads=1"])
            .env("DISPATCH_API_PANIC_CHILD", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr: {stderr}");
        assert!(stderr.contains("boom in a closure"), "stderr: {stderr}");
        assert!(
            stderr.contains("BUG IN CLIENT OF LIBDISPATCH: a closure run by dispatch panicked"),
            "stderr: {stderr}"
        );
    }
}
