//! The protocol behind `dispatch_group_t` (`group.rs` wraps it in the object): a count of
//! unfinished work, with waiters and notifications.
//!
//! ## The state word
//!
//! One `AtomicU32`, read as an `i32`: `state = 4 * count - flags`, where `count` is the
//! number of `enter`s not yet matched by a `leave` and `flags` is a subset of
//! `WAITERS` (1: a thread sleeps in `wait`) and `NOTIFIED` (2: notifications are
//! registered). Flags are stored negated so that each common operation is one atomic
//! instruction and one branch (x86: `lock add; js` and `lock xadd; cmp; jle`):
//!
//! - `enter` adds 4. The result is negative only when the count overflowed (2^29
//!   outstanding enters), which aborts.
//! - `leave` subtracts 4. The old value is below 4 exactly when this leave emptied a
//!   group with a flag set (old value 1..3) or the group was already empty (old value
//!   0..-3: an unbalanced leave, which aborts). An empty-making leave with no flag set
//!   (old value exactly 4) and every non-last leave return at once: no futex, no lock.
//!
//! A new group is all zeros. Every write to the word is a read-modify-write, so the
//! waiters' and registrars' flag updates and the leaves are totally ordered with each
//! other (its modification order) and no Dekker pattern is needed anywhere.
//!
//! ## The last leave (the cold path) and who may touch the group when
//!
//! The leave that empties the group with flags set then, in this order:
//! 1. clears `NOTIFIED` (CAS) and takes the registered notifications (under the mutex);
//! 2. clears `WAITERS` (CAS), unless the group was re-entered meanwhile (its waiters,
//!    if any, wait for the next round; the flag stays for them);
//! 3. wakes every waiter (the futex is the state word itself, so the wake only uses its
//!    address), and submits the notifications.
//!
//! A waiter returns once it sees the count at zero with `WAITERS` clear, so step 2 is the
//! last touch of the group's memory by a leave that waiters depend on: the common
//! `dispatch_group_wait(g); dispatch_release(g);` may free the group at once. A set
//! `NOTIFIED` flag holds an internal reference on the group (taken by the registrar
//! that set it, dropped by the leave that cleared it, after step 3), so a leave that
//! fires notifications keeps the group alive although its caller may hold no reference.
//!
//! Notifications are registered under a small mutex: the registrar pushes, then sets
//! `NOTIFIED` unless the group is empty (then it fires the list itself); the leave clears
//! `NOTIFIED`, then takes the list. Whoever comes second in the word's order sees the
//! other: a notification is fired exactly once and never lost. As in libdispatch, a
//! notification registered after a re-entry that races the previous round's last leave
//! may fire with that leave.
//!
//! Limit: two last leaves of two rounds can run at once (leave, enter, leave on three
//! threads). The one whose step 2 comes second only reads the word afterwards, but it does
//! read it; libdispatch closes this by retaining the group on every 0 -> 1 `enter`, an
//! atomic operation more on the fast path, which this implementation does not pay.

use crate::park;
use crate::primitive::{AtomicU32, Mutex};
use crate::sys::{self, Clock};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// One `enter` in the state word (see the module doc).
const ONE: i32 = 4;
/// Flag: a thread sleeps (or is about to) in `wait` on the state word.
const WAITERS: i32 = 1;
/// Flag: notifications are registered; holds an internal reference on the group.
const NOTIFIED: i32 = 2;

fn count_of(state: i32) -> i32 {
    // state = 4 * count - flags with flags in 0..=3, so adding 3 and dividing by 4 (an
    // arithmetic shift) gives the count.
    state.wrapping_add(3) >> 2
}

fn flags_of(state: i32) -> i32 {
    // -state = flags - 4 * count: its two low bits are the flags.
    state.wrapping_neg() & 3
}

/// What a last leave found to do once it no longer touches the group (see
/// [`Members::finish_last_leave`]).
pub(crate) struct LastLeave<N> {
    notes: Vec<N>,
    /// The leave cleared `NOTIFIED`, and with it took over the flag's reference.
    owns_notify_ref: bool,
    wake: bool,
}

/// The group's protocol, apart from the object around it (so that loom can model it):
/// the state word and the registered notifications `N`.
pub(crate) struct Members<N> {
    state: AtomicU32,
    notes: Mutex<Vec<N>>,
}

impl<N> Members<N> {
    pub(crate) fn new() -> Members<N> {
        Members { state: AtomicU32::new(0), notes: Mutex::new(Vec::new()) }
    }

    fn load(&self) -> i32 {
        // Acquire: a reader that sees the count at zero sees the work of every leave
        // (each leave's Release add heads a release sequence continued by every later
        // RMW on the word, and all writes to it are RMWs).
        self.state.load(Acquire) as i32
    }

    pub(crate) fn count(&self) -> i32 {
        count_of(self.load())
    }

    /// `dispatch_group_enter`: one `lock add`. Returns `false` when the count overflowed
    /// (the caller aborts).
    #[inline(always)]
    pub(crate) fn enter(&self) -> bool {
        // Relaxed: entering publishes nothing; what a waiter or notification must see is
        // published by the leaves.
        let prev = self.state.fetch_add(ONE as u32, Relaxed) as i32;
        prev.wrapping_add(ONE) >= 0
    }

    /// Takes back an `enter` whose count overflowed (before aborting).
    pub(crate) fn undo_enter(&self) {
        // Relaxed: undoing our own addition (the process aborts next).
        self.state.fetch_sub(ONE as u32, Relaxed);
    }

    /// `dispatch_group_leave`'s fast path: one `lock xadd`. `Some(old state)` when the
    /// cold path ([`Members::finish_last_leave`]) must run: this leave emptied the group
    /// with flags set, or unbalanced it.
    #[inline(always)]
    pub(crate) fn leave(&self) -> Option<i32> {
        // Release: the leaving thread's work happens-before whatever sees the group empty
        // (a waiter's Acquire load, the last leave's Acquire CAS before notifying).
        let prev = self.state.fetch_sub(ONE as u32, Release) as i32;
        (prev < ONE).then_some(prev)
    }

    /// The cold path of a leave that returned `Some(prev)`: steps 1 and 2 of the module
    /// doc. Aborts on an unbalanced leave.
    fn last_leave(&self, prev: i32) -> LastLeave<N> {
        if count_of(prev) == 0 {
            // Relaxed: undoing our own subtraction (the process aborts next).
            self.state.fetch_add(ONE as u32, Relaxed);
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Unbalanced call to dispatch_group_leave()",
            );
        }
        let mut cur = prev.wrapping_sub(ONE);
        let mut out = LastLeave { notes: Vec::new(), owns_notify_ref: false, wake: false };
        while flags_of(cur) & NOTIFIED != 0 {
            // Acquire: pairs with the registrar's Release CAS that set the flag (its push
            // comes before our take) and with every leave's Release add (the
            // notifications see their work). Relaxed on failure: we retry.
            match self.state.compare_exchange_weak(cur as u32, (cur + NOTIFIED) as u32, Acquire, Relaxed) {
                Ok(_) => {
                    cur += NOTIFIED;
                    out.owns_notify_ref = true;
                    out.notes = core::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()));
                }
                Err(now) => cur = now as i32,
            }
        }
        while flags_of(cur) & WAITERS != 0 {
            out.wake = true;
            if count_of(cur) != 0 {
                break; // re-entered: the flag stays for this round's waiters
            }
            // Release: the last touch of the group; the waiter that sees the flag clear
            // (Acquire load) may free it. Relaxed on failure: we retry.
            match self.state.compare_exchange_weak(cur as u32, (cur + WAITERS) as u32, Release, Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now as i32,
            }
        }
        out
    }

    /// Runs the cold path of a leave and then step 3: wakes the waiters, hands each taken
    /// notification to `fire` and, if this leave took over the `NOTIFIED` flag's
    /// reference, calls `drop_ref` last.
    ///
    /// # Safety
    /// `this` points at live `Members` (the caller's `leave` just returned `Some(prev)`
    /// on it); they may be freed by another thread as soon as `WAITERS` is cleared,
    /// unless this leave owns the flag's reference.
    pub(crate) unsafe fn finish_last_leave(
        this: *const Members<N>,
        prev: i32,
        mut fire: impl FnMut(N),
        drop_ref: impl FnOnce(),
    ) {
        // SAFETY: live until the `WAITERS` clear inside `last_leave` (the contract).
        let (out, word) = unsafe { ((*this).last_leave(prev), core::ptr::addr_of!((*this).state)) };
        if out.wake {
            // SAFETY: only the address is used, as a futex key (`park::wake_all`'s rule:
            // a waker may call it after the waiter freed the word).
            park::wake_all(unsafe { &*word });
        }
        for n in out.notes {
            fire(n);
        }
        if out.owns_notify_ref {
            drop_ref();
        }
    }

    /// `dispatch_group_wait`: `true` when the group was empty before the deadline.
    pub(crate) fn wait(&self, deadline: Option<(Clock, u64)>) -> bool {
        let mut cur = self.load();
        loop {
            if count_of(cur) == 0 {
                if flags_of(cur) & WAITERS == 0 {
                    return true;
                }
                // Empty, but its last leave has not cleared `WAITERS` yet: it still
                // touches the group, which our caller may free once we return. It wakes
                // us right after; the deadline does not apply (the group is empty).
                park::wait(&self.state, cur as u32, None);
            } else {
                if deadline.is_some_and(|(clock, ns)| sys::now_ns(clock) >= ns) {
                    return false;
                }
                if flags_of(cur) & WAITERS == 0 {
                    // Relaxed: the flag only asks the last leave to wake us; the futex
                    // compare orders it. Acquire on failure: the new value may be empty.
                    match self.state.compare_exchange(cur as u32, (cur - WAITERS) as u32, Relaxed, Acquire) {
                        Ok(_) => cur -= WAITERS,
                        Err(now) => {
                            cur = now as i32;
                            continue;
                        }
                    }
                }
                park::wait(&self.state, cur as u32, deadline);
            }
            cur = self.load();
        }
    }

    /// `dispatch_group_notify`: registers `n`. Returns the notifications to fire now
    /// (`n`, and any others registered, when the group is empty). `take_ref` makes the
    /// reference the `NOTIFIED` flag holds; it is dropped here if this call does not set
    /// the flag, and handed to the flag (forgotten) if it does.
    pub(crate) fn notify<R>(&self, n: N, take_ref: impl FnOnce() -> R) -> Vec<N> {
        if count_of(self.load()) == 0 {
            return vec![n];
        }
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).push(n);
        let flag_ref = take_ref();
        let mut cur = self.load();
        loop {
            if count_of(cur) == 0 {
                // Emptied meanwhile: fire what is registered (ours, at least, unless a
                // last leave took it, which fires it).
                return core::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()));
            }
            if flags_of(cur) & NOTIFIED != 0 {
                // Set by another registrar: the leave that clears it takes our push too.
                return Vec::new();
            }
            // Release: our push happens-before the take of the leave that clears the
            // flag (its Acquire CAS). Acquire on failure: the new value may be empty.
            match self.state.compare_exchange(cur as u32, (cur - NOTIFIED) as u32, Release, Acquire) {
                Ok(_) => {
                    core::mem::forget(flag_ref);
                    return Vec::new();
                }
                Err(now) => cur = now as i32,
            }
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the group's protocol on [`Members`], driven the way `Group` drives it.
    //! A lost wake-up leaves a waiter blocked in the modelled futex forever, which loom
    //! reports as a deadlock, so "the model completes" is the no-lost-wake-up property.
    use super::*;
    use crate::primitive::AtomicUsize;
    use loom::sync::Arc;

    /// A notification: counts its firings.
    type Note = Arc<AtomicUsize>;

    /// Stands for the internal reference `NOTIFIED` holds: counted, so a model can check
    /// that every reference taken is dropped exactly once.
    struct FlagRef<'a>(&'a AtomicUsize);

    impl Drop for FlagRef<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Relaxed);
        }
    }

    fn leave(m: &Members<Note>, refs: &Arc<AtomicUsize>) {
        if let Some(prev) = m.leave() {
            // SAFETY: `m` is live for the whole model (an `Arc` each thread holds).
            unsafe {
                Members::finish_last_leave(
                    m,
                    prev,
                    |n: Note| {
                        n.fetch_add(1, Relaxed);
                    },
                    || drop(FlagRef(refs)),
                )
            }
        }
    }

    fn notify(m: &Members<Note>, note: &Note, refs: &Arc<AtomicUsize>) {
        let fire_now = m.notify(note.clone(), || {
            refs.fetch_add(1, Relaxed);
            FlagRef(refs)
        });
        for n in fire_now {
            n.fetch_add(1, Relaxed);
        }
    }

    /// The last leave racing `wait`: the waiter always returns, sees the leaver's work,
    /// and the word ends empty with no flag left behind.
    #[test]
    fn leave_racing_wait_never_loses_a_wake_up() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let refs = Arc::new(AtomicUsize::new(0));
            let data = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            let (m2, r2, d2) = (m.clone(), refs.clone(), data.clone());
            let leaver = loom::thread::spawn(move || {
                d2.store(7, Relaxed);
                leave(&m2, &r2);
            });
            assert!(m.wait(None));
            assert_eq!(data.load(Relaxed), 7, "the leave's work is visible to the waiter");
            leaver.join().unwrap();
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// Two waiters and the last leave: one wake releases both.
    #[test]
    fn last_leave_wakes_every_waiter() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let refs = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let m = m.clone();
                    loom::thread::spawn(move || assert!(m.wait(None)))
                })
                .collect();
            leave(&m, &refs);
            for w in waiters {
                w.join().unwrap();
            }
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// A waiter racing a round that empties and is re-entered before its last leave has
    /// finished: the waiter returns once the group is empty for good, whatever the order
    /// (the `WAITERS` flag kept on re-entry reaches the second round's last leave).
    #[test]
    fn wait_across_a_re_entry_never_loses_a_wake_up() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let refs = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            let (m2, r2) = (m.clone(), refs.clone());
            let worker = loom::thread::spawn(move || {
                leave(&m2, &r2);
            });
            assert!(m.enter());
            leave(&m, &refs);
            assert!(m.wait(None));
            worker.join().unwrap();
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// A notification registered while the last leave runs fires exactly once (by the
    /// registrar when it saw the group empty, or by the leave), and the reference
    /// `NOTIFIED` held is dropped exactly once.
    #[test]
    fn notify_registered_while_the_last_leave_runs_fires_exactly_once() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let refs = Arc::new(AtomicUsize::new(0));
            let fired: Note = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            let (m2, r2) = (m.clone(), refs.clone());
            let leaver = loom::thread::spawn(move || leave(&m2, &r2));
            notify(&m, &fired, &refs);
            leaver.join().unwrap();
            assert_eq!(fired.load(Relaxed), 1);
            assert_eq!(refs.load(Relaxed), 0, "the flag's reference was dropped once");
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// A waiter and a notification together on the last leave: both are served.
    #[test]
    fn waiter_and_notification_on_one_last_leave() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let refs = Arc::new(AtomicUsize::new(0));
            let fired: Note = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            notify(&m, &fired, &refs);
            let (m2, r2) = (m.clone(), refs.clone());
            let leaver = loom::thread::spawn(move || leave(&m2, &r2));
            assert!(m.wait(None));
            leaver.join().unwrap();
            assert_eq!(fired.load(Relaxed), 1);
            assert_eq!(refs.load(Relaxed), 0);
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }
}
