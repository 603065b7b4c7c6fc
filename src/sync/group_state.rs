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
//! ## Notifications
//!
//! `NOTIFIED` is set and cleared only under the notification list's mutex, together with
//! the list: a registrar sets it (if the group is not empty) and pushes; the leave that
//! emptied the group clears it and takes the list. So, under the mutex, `NOTIFIED` is set
//! exactly when the list is not empty, and a registrar that finds the group empty (with
//! `NOTIFIED` clear) fires its notification itself. The leave's subtraction and the
//! registrar's CAS are ordered by the word: either the leave sees the flag (and takes the
//! list once the registrar released the mutex) or the registrar sees the group empty. A
//! notification is fired exactly once and never lost. As in libdispatch, a notification
//! registered after a re-entry that races the previous round's last leave may fire with
//! that leave.
//!
//! ## The last leave (the cold path) and who may touch the group when
//!
//! The leave that empties the group with flags set then, in this order:
//! 1. if `NOTIFIED`: under the mutex, clears it and takes the list;
//! 2. clears `WAITERS` (CAS), unless the group was re-entered meanwhile (its waiters,
//!    if any, wait for the next round; the flag stays for them);
//! 3. wakes every waiter (the futex is the state word itself, so the wake only uses its
//!    address), and submits the notifications.
//!
//! Its caller (a client thread calling `dispatch_group_leave`) may hold no reference on
//! the group, so each touch must be covered by someone else's: until step 1, by the
//! notifications in the list (each holds a reference on the group, and the list cannot be
//! emptied while `NOTIFIED` is set but by this leave); from step 1 to step 3 by the ones
//! it took; and a waiter returns only once it sees the count at zero with `WAITERS` clear,
//! so the common `dispatch_group_wait(g); dispatch_release(g);` frees the group after
//! step 2 at the earliest. (With neither flag set, the leave's own `lock xadd` is its last
//! touch.)
//!
//! Limit: two last leaves of two rounds can run at once (leave, enter, leave on three
//! threads). The one that comes second to the flags only reads the word afterwards, but it
//! does read it; libdispatch closes this by retaining the group on every 0 -> 1 `enter`,
//! an atomic operation more on the fast path, which this implementation does not pay. (A
//! group the client released while it had members is held by a notification, `group.rs`,
//! which the last leave fires after its last touch.)

use crate::park;
use crate::primitive::{AtomicU32, Mutex};
use crate::sys::{self, Clock};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// One `enter` in the state word (see the module doc).
const ONE: i32 = 4;
/// Flag: a thread sleeps (or is about to) in `wait` on the state word.
const WAITERS: i32 = 1;
/// Flag: notifications are registered (changed only under the list's mutex).
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

/// The group's protocol, apart from the object around it (so that loom can model it):
/// the state word and the registered notifications `N`.
pub(crate) struct Members<N> {
    state: AtomicU32,
    notes: Mutex<Vec<N>>,
}

impl<N> Members<N> {
    /// Where [`Members::leave`] subtracts, and what: for an object that makes the same
    /// subtraction through `sys::atomic` (`Group::leave`).
    #[cfg(not(loom))]
    pub(crate) const STATE_OFFSET: usize = core::mem::offset_of!(Members<N>, state);
    pub(crate) const LEAVE_SUBTRAHEND: u32 = ONE as u32;

    pub(crate) fn new() -> Members<N> {
        Members { state: AtomicU32::new(0), notes: Mutex::new(Vec::new()) }
    }

    fn load(&self) -> i32 {
        // Acquire: a reader that sees the count at zero sees the work of every leave
        // (each leave's Release subtraction heads a release sequence continued by every
        // later RMW on the word, and all writes to it are RMWs).
        self.state.load(Acquire) as i32
    }

    pub(crate) fn count(&self) -> i32 {
        count_of(self.load())
    }

    /// `dispatch_group_enter`: one `lock add`. Returns `false` when the count overflowed
    /// (the caller calls [`Members::undo_enter`] and aborts).
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

    /// `dispatch_group_leave`'s fast path: one atomic subtraction. `true` when the cold
    /// path ([`Members::last_leave`]) must run: the old value was below `ONE`, so this
    /// leave emptied the group with flags set (old value 1..3) or unbalanced it (0 or
    /// below).
    ///
    /// Only loom runs this one: the shipped `Group::leave` makes the same subtraction as
    /// `lock sub [group + offset]; jl` through `sys::atomic`, at `STATE_OFFSET`.
    #[cfg(loom)]
    #[inline(always)]
    pub(crate) fn leave(&self) -> bool {
        // Release: the leaving thread's work happens-before whatever sees the group empty
        // (a waiter's Acquire load, the last leave's Acquire CAS before notifying).
        (self.state.fetch_sub(ONE as u32, Release) as i32) < ONE
    }

    /// The cold path of a leave whose [`Members::leave`] returned `true`: the three steps
    /// of the module doc, handing each taken notification to `fire` last. Aborts on an
    /// unbalanced leave.
    ///
    /// It reads the word afresh rather than being handed the old value, which the fast
    /// path does not keep. Whatever happened in between is what a failed CAS would show:
    /// only enters, or the leaves and flags of a later round. A count below zero is an
    /// unbalanced leave (unless an enter raced it back up; the next leave then reports it).
    ///
    /// After step 2 the group may be freed by a waiter's caller (unless notifications
    /// were taken, which hold it): the wake then only uses the word's address as a futex
    /// key, as `park::wake_all` allows, and nothing else reads `self`.
    pub(crate) fn last_leave(&self, mut fire: impl FnMut(N)) {
        let mut cur = self.load();
        if count_of(cur) < 0 {
            // Relaxed: undoing our own subtraction (the process aborts next).
            self.state.fetch_add(ONE as u32, Relaxed);
            sys::abort_with_message(
                "BUG IN CLIENT OF LIBDISPATCH: Unbalanced call to dispatch_group_leave()",
            );
        }
        let mut notes = Vec::new();
        if flags_of(cur) & NOTIFIED != 0 {
            let mut list = self.notes.lock().unwrap_or_else(|e| e.into_inner());
            cur = self.load();
            while flags_of(cur) & NOTIFIED != 0 {
                // Acquire: the notifications see the work of every leave (the release
                // sequence of the word). Relaxed on failure: we retry. (The list itself
                // is ordered by the mutex.)
                match self.state.compare_exchange_weak(cur as u32, (cur + NOTIFIED) as u32, Acquire, Relaxed)
                {
                    Ok(_) => {
                        cur += NOTIFIED;
                        notes = core::mem::take(&mut *list);
                    }
                    Err(now) => cur = now as i32,
                }
            }
        }
        let mut wake = false;
        while flags_of(cur) & WAITERS != 0 {
            wake = true;
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
        if wake {
            park::wake_all(&self.state);
        }
        for n in notes {
            fire(n);
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

    /// `dispatch_group_notify`: registers `n`, or returns it to be fired now when the
    /// group is empty.
    pub(crate) fn notify(&self, n: N) -> Option<N> {
        if count_of(self.load()) == 0 {
            return Some(n);
        }
        let mut list = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        let mut cur = self.load();
        loop {
            if flags_of(cur) & NOTIFIED != 0 {
                // The leave that clears it takes the list, under this mutex, after us.
                list.push(n);
                return None;
            }
            if count_of(cur) == 0 {
                return Some(n); // emptied meanwhile (Acquire load or CAS failure)
            }
            // Relaxed: the push is published by the mutex, which the clearing leave takes.
            // Acquire on failure: the new value may be empty.
            match self.state.compare_exchange(cur as u32, (cur - NOTIFIED) as u32, Relaxed, Acquire) {
                Ok(_) => {
                    list.push(n);
                    return None;
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

    fn fire(n: Note) {
        n.fetch_add(1, Relaxed);
    }

    fn leave(m: &Members<Note>) {
        if m.leave() {
            m.last_leave(fire);
        }
    }

    fn notify(m: &Members<Note>, note: &Note) {
        if let Some(n) = m.notify(note.clone()) {
            fire(n);
        }
    }

    /// The last leave racing `wait`: the waiter always returns, sees the leaver's work,
    /// and the word ends empty with no flag left behind.
    #[test]
    fn leave_racing_wait_never_loses_a_wake_up() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let data = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            let (m2, d2) = (m.clone(), data.clone());
            let leaver = loom::thread::spawn(move || {
                d2.store(7, Relaxed);
                leave(&m2);
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
            assert!(m.enter());
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let m = m.clone();
                    loom::thread::spawn(move || assert!(m.wait(None)))
                })
                .collect();
            leave(&m);
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
            assert!(m.enter());
            let m2 = m.clone();
            let worker = loom::thread::spawn(move || leave(&m2));
            assert!(m.enter());
            leave(&m);
            assert!(m.wait(None));
            worker.join().unwrap();
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// A notification registered while the last leave runs fires exactly once (by the
    /// registrar when it saw the group empty, or by the leave), and no flag is left.
    #[test]
    fn notify_registered_while_the_last_leave_runs_fires_exactly_once() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let fired: Note = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            let m2 = m.clone();
            let leaver = loom::thread::spawn(move || leave(&m2));
            notify(&m, &fired);
            leaver.join().unwrap();
            assert_eq!(fired.load(Relaxed), 1);
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// Two registrars racing the last leave: each notification fires exactly once.
    #[test]
    fn two_notifies_racing_the_last_leave_each_fire_once() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let fired: [Note; 2] = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
            assert!(m.enter());
            let (m2, f2) = (m.clone(), fired[1].clone());
            let registrar = loom::thread::spawn(move || notify(&m2, &f2));
            notify(&m, &fired[0]);
            leave(&m);
            registrar.join().unwrap();
            assert_eq!(fired[0].load(Relaxed), 1);
            assert_eq!(fired[1].load(Relaxed), 1);
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }

    /// A waiter and a notification together on the last leave: both are served.
    #[test]
    fn waiter_and_notification_on_one_last_leave() {
        loom::model(|| {
            let m = Arc::new(Members::<Note>::new());
            let fired: Note = Arc::new(AtomicUsize::new(0));
            assert!(m.enter());
            notify(&m, &fired);
            let m2 = m.clone();
            let leaver = loom::thread::spawn(move || leave(&m2));
            assert!(m.wait(None));
            leaver.join().unwrap();
            assert_eq!(fired.load(Relaxed), 1);
            assert_eq!(m.state.load(Relaxed), 0);
        });
    }
}
