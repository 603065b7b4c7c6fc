//! [`Semaphore`]: a counting semaphore (`dispatch_semaphore_t`), with an RAII
//! [`SemaphoreGuard`] for the wait-then-signal pattern.

use super::time::WaitTimeout;
use super::time::{deadline_after, FOREVER};
use crate::ffi::dispatch_semaphore_t;
use crate::ffi::object::{dispatch_release, dispatch_retain};
use crate::ffi::semaphore::{dispatch_semaphore_create, dispatch_semaphore_signal, dispatch_semaphore_wait};
use core::ffi::c_void;
use core::ptr::NonNull;
use core::time::Duration;

/// A counting semaphore: [`wait`](Semaphore::wait) takes one unit, blocking while there
/// is none; [`signal`](Semaphore::signal) returns one and wakes a waiter.
///
/// ```
/// use dispatch::{Queue, QueuePriority, Semaphore};
///
/// let done = Semaphore::new(0);
/// let d = done.clone();
/// Queue::global(QueuePriority::Default).exec_async(move || {
///     d.signal();
/// });
/// done.wait();
/// ```
pub struct Semaphore {
    raw: NonNull<c_void>,
}

// SAFETY: a dispatch semaphore is a thread-safe object: every C function on it may be
// called from any thread, and its reference may be released from any thread.
unsafe impl Send for Semaphore {}
// SAFETY: as above.
unsafe impl Sync for Semaphore {}

impl Semaphore {
    /// A semaphore holding `value` units.
    ///
    /// # Panics
    /// If `value` is negative.
    ///
    /// ```
    /// let pool = dispatch::Semaphore::new(2); // e.g. two connections
    /// let _a = pool.access();
    /// let _b = pool.access();
    /// assert!(pool.access_timeout(std::time::Duration::ZERO).is_err());
    /// ```
    pub fn new(value: isize) -> Semaphore {
        assert!(value >= 0, "Semaphore::new: negative value {value}");
        let raw =
            NonNull::new(dispatch_semaphore_create(value)).expect("dispatch_semaphore_create returned NULL");
        Semaphore { raw }
    }

    fn as_raw(&self) -> dispatch_semaphore_t {
        self.raw.as_ptr()
    }

    /// Takes a unit, blocking until there is one.
    ///
    /// ```
    /// let s = dispatch::Semaphore::new(1);
    /// s.wait();
    /// s.signal();
    /// ```
    pub fn wait(&self) {
        // SAFETY: a live semaphore.
        let r = unsafe { dispatch_semaphore_wait(self.as_raw(), FOREVER) };
        debug_assert_eq!(r, 0, "a wait forever does not time out");
    }

    /// Takes a unit, blocking at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let s = dispatch::Semaphore::new(0);
    /// assert!(s.wait_timeout(Duration::from_millis(1)).is_err());
    /// s.signal();
    /// assert!(s.wait_timeout(Duration::from_millis(1)).is_ok());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitTimeout> {
        // SAFETY: a live semaphore.
        match unsafe { dispatch_semaphore_wait(self.as_raw(), deadline_after(timeout)) } {
            0 => Ok(()),
            _ => Err(WaitTimeout { duration: timeout }),
        }
    }

    /// Returns a unit; `true` if that woke a waiting thread.
    ///
    /// ```
    /// let s = dispatch::Semaphore::new(0);
    /// assert!(!s.signal()); // nobody was waiting
    /// ```
    pub fn signal(&self) -> bool {
        // SAFETY: a live semaphore.
        unsafe { dispatch_semaphore_signal(self.as_raw()) != 0 }
    }

    /// Takes a unit and returns a guard that signals it back when dropped.
    ///
    /// ```
    /// let s = dispatch::Semaphore::new(1);
    /// {
    ///     let _held = s.access();
    ///     assert!(s.access_timeout(std::time::Duration::ZERO).is_err());
    /// }
    /// let _again = s.access(); // given back by the drop
    /// ```
    pub fn access(&self) -> SemaphoreGuard {
        self.wait();
        SemaphoreGuard { sema: self.clone() }
    }

    /// [`access`](Semaphore::access), blocking at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let s = dispatch::Semaphore::new(1);
    /// let held = s.access_timeout(Duration::from_secs(1)).unwrap();
    /// drop(held);
    /// ```
    pub fn access_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard, WaitTimeout> {
        self.wait_timeout(timeout)?;
        Ok(SemaphoreGuard { sema: self.clone() })
    }
}

impl Clone for Semaphore {
    fn clone(&self) -> Semaphore {
        // SAFETY: a live semaphore; the new handle owns the reference taken here.
        unsafe { dispatch_retain(self.as_raw()) };
        Semaphore { raw: self.raw }
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        // SAFETY: the handle owns one client reference and gives it up. (The runtime aborts
        // on the last release of a semaphore holding fewer units than it was created with;
        // guards hold a handle, so a held unit keeps the semaphore alive.)
        unsafe { dispatch_release(self.as_raw()) }
    }
}

impl core::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Semaphore").finish_non_exhaustive()
    }
}

/// A unit taken from a [`Semaphore`]; dropping it signals the semaphore.
///
/// ```
/// let s = dispatch::Semaphore::new(1);
/// let guard = s.access();
/// drop(guard); // signals
/// s.wait();
/// s.signal();
/// ```
#[derive(Debug)]
pub struct SemaphoreGuard {
    sema: Semaphore,
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        self.sema.signal();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::queue::{Queue, QueueAttribute};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn access_limits_concurrency_to_the_count() {
        let sema = Semaphore::new(2);
        let q = Queue::create("t.sema", QueueAttribute::Concurrent);
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let group = crate::api::group::Group::new();
        for _ in 0..20 {
            let (sema, inside, most) = (sema.clone(), inside.clone(), most.clone());
            group.exec_async(&q, move || {
                let _unit = sema.access();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
                inside.fetch_sub(1, Ordering::SeqCst);
            });
        }
        group.wait();
        assert!(most.load(Ordering::SeqCst) <= 2);
        // Both units are back.
        let _a = sema.access_timeout(Duration::ZERO).unwrap();
        let _b = sema.access_timeout(Duration::ZERO).unwrap();
        assert!(sema.access_timeout(Duration::ZERO).is_err());
    }

    #[test]
    fn signal_releases_a_blocked_waiter_on_another_thread() {
        let s = Semaphore::new(0);
        let s2 = s.clone();
        let waiter = std::thread::spawn(move || {
            s2.wait();
            "released"
        });
        s.signal();
        assert_eq!(waiter.join().unwrap(), "released");
        assert!(s.wait_timeout(Duration::ZERO).is_err(), "the one unit was taken");
    }

    #[test]
    #[should_panic(expected = "negative value")]
    fn negative_value_panics() {
        Semaphore::new(-1);
    }
}
