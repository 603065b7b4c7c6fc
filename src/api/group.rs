//! [`Group`]: waits for a set of closures (`dispatch_group_t`).
//!
//! The handle owns one client reference, like [`Queue`]. Work joins the group by
//! [`Group::exec_async`] (`dispatch_group_async_f`: the runtime leaves the group when the
//! closure returns) or by an [`Group::enter`] guard, which leaves on drop, so an enter is
//! never left twice or forgotten by an early return.

use super::callout::boxed;
use super::queue::Queue;
use super::time::WaitTimeout;
use super::time::{deadline_after, FOREVER, NOW};
use crate::ffi::dispatch_group_t;
use crate::ffi::group::{
    dispatch_group_async_f, dispatch_group_create, dispatch_group_enter, dispatch_group_leave,
    dispatch_group_notify_f, dispatch_group_wait,
};
use crate::ffi::object::{dispatch_release, dispatch_retain};
use core::ffi::c_void;
use core::ptr::NonNull;
use core::time::Duration;

/// A group of closures to wait for, or to be notified about, as a whole.
///
/// ```
/// use dispatch::{Group, Queue, QueuePriority};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let group = Group::new();
/// let q = Queue::global(QueuePriority::Default);
/// let done = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     let done = done.clone();
///     group.exec_async(&q, move || {
///         done.fetch_add(1, Ordering::SeqCst);
///     });
/// }
/// group.wait();
/// assert_eq!(done.load(Ordering::SeqCst), 10);
/// ```
pub struct Group {
    raw: NonNull<c_void>,
}

// SAFETY: a dispatch group is a thread-safe object: every C function on it may be called
// from any thread, and its reference may be released from any thread.
unsafe impl Send for Group {}
// SAFETY: as above.
unsafe impl Sync for Group {}

impl Group {
    /// An empty group.
    ///
    /// ```
    /// let group = dispatch::Group::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Group {
        let raw = NonNull::new(dispatch_group_create()).expect("dispatch_group_create returned NULL");
        Group { raw }
    }

    /// [`Group::new`] under the `dispatch` crate's name.
    ///
    /// ```
    /// assert!(dispatch::Group::create().is_empty());
    /// ```
    pub fn create() -> Group {
        Group::new()
    }

    fn as_raw(&self) -> dispatch_group_t {
        self.raw.as_ptr()
    }

    /// Submits `work` to `queue` as a member of the group until it returns.
    ///
    /// ```
    /// use dispatch::{Group, Queue, QueueAttribute};
    ///
    /// let group = Group::new();
    /// let q = Queue::create("com.example.g", QueueAttribute::Serial);
    /// group.exec_async(&q, || {});
    /// group.wait();
    /// ```
    pub fn exec_async<F: FnOnce() + Send + 'static>(&self, queue: &Queue, work: F) {
        let (ctx, f) = boxed(work);
        // SAFETY: a live group and queue; `f` calls `ctx` once, as dispatch_group_async_f does.
        unsafe { dispatch_group_async_f(self.as_raw(), queue.as_raw(), ctx, f) }
    }

    /// Enters the group by hand: it is not empty until the guard is dropped (or
    /// [`GroupGuard::leave`]s). The guard may move to another thread.
    ///
    /// ```
    /// use dispatch::Group;
    ///
    /// let group = Group::new();
    /// let guard = group.enter();
    /// assert!(!group.is_empty());
    /// std::thread::spawn(move || guard.leave()).join().unwrap();
    /// assert!(group.is_empty());
    /// ```
    pub fn enter(&self) -> GroupGuard {
        // SAFETY: a live group; the guard leaves it exactly once.
        unsafe { dispatch_group_enter(self.as_raw()) };
        GroupGuard { group: self.clone() }
    }

    /// Submits `work` to `queue` once the group is empty (at once if it is empty now).
    ///
    /// ```
    /// use dispatch::{Group, Queue, QueuePriority};
    /// use std::sync::mpsc;
    ///
    /// let group = Group::new();
    /// let q = Queue::global(QueuePriority::Default);
    /// let guard = group.enter();
    /// let (tx, rx) = mpsc::channel();
    /// group.notify(&q, move || tx.send("all done").unwrap());
    /// assert!(rx.try_recv().is_err());
    /// drop(guard);
    /// assert_eq!(rx.recv().unwrap(), "all done");
    /// ```
    pub fn notify<F: FnOnce() + Send + 'static>(&self, queue: &Queue, work: F) {
        let (ctx, f) = boxed(work);
        // SAFETY: as in `exec_async`; the notification is called once.
        unsafe { dispatch_group_notify_f(self.as_raw(), queue.as_raw(), ctx, f) }
    }

    /// Blocks until the group is empty.
    ///
    /// ```
    /// let group = dispatch::Group::new();
    /// group.wait(); // empty: returns at once
    /// ```
    pub fn wait(&self) {
        // SAFETY: a live group.
        let r = unsafe { dispatch_group_wait(self.as_raw(), FOREVER) };
        debug_assert_eq!(r, 0, "a wait forever does not time out");
    }

    /// Blocks until the group is empty or `timeout` passed.
    ///
    /// ```
    /// use dispatch::Group;
    /// use std::time::Duration;
    ///
    /// let group = Group::new();
    /// let guard = group.enter();
    /// assert!(group.wait_timeout(Duration::from_millis(5)).is_err());
    /// drop(guard);
    /// assert!(group.wait_timeout(Duration::from_secs(5)).is_ok());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitTimeout> {
        // SAFETY: a live group.
        match unsafe { dispatch_group_wait(self.as_raw(), deadline_after(timeout)) } {
            0 => Ok(()),
            _ => Err(WaitTimeout { duration: timeout }),
        }
    }

    /// Whether the group is empty now.
    ///
    /// ```
    /// let group = dispatch::Group::new();
    /// let guard = group.enter();
    /// assert!(!group.is_empty());
    /// drop(guard);
    /// assert!(group.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        // SAFETY: a live group; DISPATCH_TIME_NOW only looks.
        unsafe { dispatch_group_wait(self.as_raw(), NOW) == 0 }
    }
}

impl Default for Group {
    fn default() -> Group {
        Group::new()
    }
}

impl Clone for Group {
    fn clone(&self) -> Group {
        // SAFETY: a live group; the new handle owns the reference taken here.
        unsafe { dispatch_retain(self.as_raw()) };
        Group { raw: self.raw }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: the handle owns one client reference and gives it up.
        unsafe { dispatch_release(self.as_raw()) }
    }
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group").field("is_empty", &self.is_empty()).finish()
    }
}

/// Membership of a [`Group`] taken by [`Group::enter`]; dropping it leaves the group.
///
/// ```
/// let group = dispatch::Group::new();
/// {
///     let _member = group.enter();
///     assert!(!group.is_empty());
/// }
/// assert!(group.is_empty());
/// ```
#[derive(Debug)]
pub struct GroupGuard {
    group: Group,
}

impl GroupGuard {
    /// Leaves the group.
    pub fn leave(self) {}
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // SAFETY: the guard's group was entered once by `Group::enter`.
        unsafe { dispatch_group_leave(self.group.as_raw()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::queue::{QueueAttribute, QueuePriority};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};

    #[test]
    fn wait_returns_after_every_member_ran() {
        let group = Group::new();
        let q = Queue::global(QueuePriority::Default);
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let done = done.clone();
            group.exec_async(&q, move || {
                std::thread::sleep(Duration::from_micros(100));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        group.wait();
        assert_eq!(done.load(Ordering::SeqCst), 100);
        assert!(group.is_empty());
    }

    #[test]
    fn notify_runs_on_its_queue_after_the_members() {
        let group = Group::new();
        let work = Queue::create("t.members", QueueAttribute::Concurrent);
        let target = Queue::create("t.notify", QueueAttribute::Serial);
        let done = Arc::new(AtomicUsize::new(0));
        let member = group.enter();
        for _ in 0..5 {
            let done = done.clone();
            group.exec_async(&work, move || {
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let (tx, rx) = mpsc::channel();
        let d = done.clone();
        group.notify(&target, move || tx.send(d.load(Ordering::SeqCst)).unwrap());
        assert!(group.wait_timeout(Duration::from_millis(10)).is_err(), "the guard still holds it");
        member.leave();
        assert_eq!(rx.recv().unwrap(), 5, "notified after all 5 members");
    }

    #[test]
    fn wait_timeout_reports_the_duration() {
        let group = Group::new();
        let _g = group.enter();
        let err = group.wait_timeout(Duration::from_millis(3)).unwrap_err();
        assert_eq!(err.duration(), Duration::from_millis(3));
    }
}
