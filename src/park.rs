//! Parking: the one place a thread of the runtime goes to sleep and another wakes it.
//!
//! Every blocking primitive is built on the three functions below (parking_lot_core's
//! arrangement: one generic park/unpark keyed by an address, which every primitive uses),
//! so `sys::futex_wait`/`sys::futex_wake` are called from this file only:
//!
//! - [`wait`]`(word, expected, deadline)` sleeps while `*word == expected`, until a wake on
//!   the same word or the absolute deadline. The comparison is atomic with going to sleep,
//!   so the one rule every user follows is: *change the word, then wake*. A waiter that
//!   read the old value either sleeps before the change (and the wake finds it) or compares
//!   after it (and does not sleep). Spurious returns are possible; callers re-check their
//!   condition in a loop.
//! - [`wake_one`]`(word)` / [`wake_all`]`(word)` wake one / every thread in [`wait`] on the
//!   word. They use the address only as a key, so a waker may call them after the waiter
//!   returned and freed the word (at worst a spurious wake-up of a later user of the
//!   address, which every user tolerates).
//!
//! Two shapes are built on them, and cover every parking site of the runtime:
//!
//! - [`Event`]: one waiter, one setter, auto-reset (a sync waiter waiting for the drain
//!   lock, `dispatch_apply`'s caller waiting for the last index). Protocol (after std's
//!   `thread_parking/futex.rs`): `EMPTY` → `NOTIFIED` by [`Event::set`] with Release,
//!   consumed by [`Event::wait`] with an Acquire swap back to `EMPTY`, so everything the
//!   setter wrote before `set` is visible to the waiter after `wait`.
//! - [`Epoch`]: "sleep until the epoch moves", for any number of sleepers whose condition
//!   lives elsewhere (the pool's idle workers, the pool monitor, the main thread). The sleeper takes a [`Epoch::ticket`] *before* it checks its condition and
//!   sleeps on that ticket; the notifier makes the condition true, then
//!   [`Epoch::advance`]s and wakes. Either the sleeper's check sees the condition, or its
//!   sleep sees the new epoch and returns at once. The epoch wraps; a sleeper would have to
//!   miss exactly 2^32 advances between its ticket and its sleep to be fooled.
//!
//! The other word-based users (semaphore wake tokens, a group's state word, the once
//! predicate, a source's `cancel_and_wait`) call [`wait`]/[`wake_one`]/[`wake_all`] directly on their own word.
//!
//! ## Under loom
//!
//! Loom has no futex, so under `cfg(loom)` [`wait`] and the wakes are a faithful futex
//! model built from loom's `Mutex` and `Condvar`: one table of sleepers (address, woken
//! flag) behind one mutex. [`wait`] compares the word under that mutex and, if it still
//! holds `expected`, registers and blocks on the condvar until a wake marks it; a wake takes
//! the mutex, marks one (or every) sleeper on that address and notifies. The waker's change
//! to the word comes before it takes the mutex, so the waiter's compare (under the mutex)
//! either sees the change or runs before the wake looks at the table: the kernel's
//! atomic compare-and-sleep. A sleeper nobody wakes stays blocked, which loom reports as a
//! deadlock: that is how the models of the protocols built on this file catch a lost
//! wake-up. A deadline under loom stands for "may pass at any moment": the wait returns
//! `TimedOut` at once, without sleeping, when the word still holds `expected`.

use crate::primitive::AtomicU32;
use crate::sys::Clock;
use core::sync::atomic::Ordering;

pub use crate::sys::WaitResult;

/// An absolute deadline: nanoseconds on a clock (`None` where a deadline is optional: never).
pub type Deadline = (Clock, u64);

/// Sleeps while `*word == expected`, until woken or until `deadline` passes. May return
/// spuriously; `TimedOut` only when the deadline passed.
#[cfg(not(loom))]
pub fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> WaitResult {
    crate::sys::futex_wait(word, expected, deadline)
}

/// Wakes one thread in [`wait`] on `word`, if any.
#[cfg(not(loom))]
pub fn wake_one(word: &AtomicU32) {
    crate::sys::futex_wake(word, 1);
}

/// Wakes every thread in [`wait`] on `word`.
#[cfg(not(loom))]
pub fn wake_all(word: &AtomicU32) {
    crate::sys::futex_wake(word, i32::MAX);
}

#[cfg(loom)]
pub use loom_futex::{wait, wake_all, wake_one};

#[cfg(loom)]
mod loom_futex {
    use super::{AtomicU32, Deadline, WaitResult};
    use core::sync::atomic::Ordering;
    use loom::sync::{Condvar, Mutex};

    struct Sleeper {
        key: usize,
        id: usize,
        woken: bool,
    }

    #[derive(Default)]
    struct Table {
        sleepers: Vec<Sleeper>,
        next_id: usize,
    }

    loom::lazy_static! {
        static ref TABLE: Mutex<Table> = Mutex::new(Table::default());
        static ref CONDVAR: Condvar = Condvar::new();
    }

    fn key(word: &AtomicU32) -> usize {
        word as *const AtomicU32 as usize
    }

    pub fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> WaitResult {
        let mut table = TABLE.lock().unwrap();
        // Relaxed: the table's mutex orders this compare after a waker's change (the
        // waker changes the word, then takes the mutex), as the kernel's compare does.
        if word.load(Ordering::Relaxed) != expected {
            return WaitResult::Woken;
        }
        if deadline.is_some() {
            return WaitResult::TimedOut;
        }
        let id = table.next_id;
        table.next_id += 1;
        table.sleepers.push(Sleeper { key: key(word), id, woken: false });
        loop {
            table = CONDVAR.wait(table).unwrap();
            let at = table
                .sleepers
                .iter()
                .position(|s| s.id == id)
                .expect("a sleeper stays listed until it leaves");
            if table.sleepers[at].woken {
                table.sleepers.remove(at);
                return WaitResult::Woken;
            }
        }
    }

    fn wake(word: &AtomicU32, mut count: usize) {
        let mut table = TABLE.lock().unwrap();
        let key = key(word);
        for s in table.sleepers.iter_mut().filter(|s| s.key == key && !s.woken) {
            if count == 0 {
                break;
            }
            s.woken = true;
            count -= 1;
        }
        drop(table);
        CONDVAR.notify_all();
    }

    pub fn wake_one(word: &AtomicU32) {
        wake(word, 1);
    }

    pub fn wake_all(word: &AtomicU32) {
        wake(word, usize::MAX);
    }
}

const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;

/// A one-waiter, auto-reset event (see the module doc).
pub struct Event {
    state: AtomicU32,
}

impl Event {
    #[cfg(not(loom))]
    pub const fn new() -> Event {
        Event { state: AtomicU32::new(EMPTY) }
    }

    #[cfg(loom)]
    pub fn new() -> Event {
        Event { state: AtomicU32::new(EMPTY) }
    }

    /// Marks the event and wakes the waiter, if any.
    ///
    /// The waiter may return and free the event as soon as the store lands; the wake that
    /// follows only uses the address as a key (see [`wake_one`]).
    pub fn set(&self) {
        // Release: publishes the setter's writes to the waiter's Acquire swap.
        self.state.store(NOTIFIED, Ordering::Release);
        wake_one(&self.state);
    }

    /// Waits until [`Event::set`] was called, consuming the notification.
    pub fn wait(&self) {
        let _ = self.wait_until(None);
    }

    /// Takes the notification if there is one.
    ///
    /// A CAS rather than std's `swap(EMPTY)`: the same effect (a swap on `EMPTY` writes
    /// back `EMPTY`), but a failed CAS writes nothing. Loom does not keep an RMW's write
    /// adjacent to the value it read in the modification order, so under loom the
    /// redundant `EMPTY` write of a swap could be ordered after the setter's `NOTIFIED`
    /// and erase it, a lost notification no hardware can produce.
    fn try_consume(&self) -> bool {
        // Acquire: pairs with the Release store in `set`. Relaxed on failure: nothing taken.
        self.state.compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Waits until set or until the deadline. Returns `true` when the event was set.
    pub fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        loop {
            if self.try_consume() {
                return true;
            }
            if wait(&self.state, EMPTY, deadline) == WaitResult::TimedOut {
                return self.try_consume();
            }
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

/// A wake-up epoch: "sleep until it moves" (see the module doc).
///
/// All accesses are SeqCst: each user pairs the epoch with a condition word of its own in
/// a Dekker pattern (the sleeper takes its ticket, publishes that it sleeps, reads the
/// condition; the notifier writes the condition, reads whether anyone sleeps, advances),
/// which needs the single total order.
pub struct Epoch {
    word: AtomicU32,
}

impl Epoch {
    #[cfg(not(loom))]
    pub const fn new() -> Epoch {
        Epoch { word: AtomicU32::new(0) }
    }

    #[cfg(loom)]
    pub fn new() -> Epoch {
        Epoch { word: AtomicU32::new(0) }
    }

    /// The current epoch, to take *before* checking the condition slept on.
    pub fn ticket(&self) -> u32 {
        self.word.load(Ordering::SeqCst)
    }

    /// Sleeps while the epoch is still `ticket`, until woken or until `deadline`. May
    /// return spuriously; the caller re-checks its condition (with a new ticket).
    pub fn sleep(&self, ticket: u32, deadline: Option<Deadline>) -> WaitResult {
        wait(&self.word, ticket, deadline)
    }

    /// Moves the epoch, so that every sleeper holding an older ticket returns (once woken,
    /// or at once if it has not slept yet).
    pub fn advance(&self) {
        self.word.fetch_add(1, Ordering::SeqCst);
    }

    /// Wakes one sleeper (after [`Epoch::advance`]).
    pub fn wake_one(&self) {
        wake_one(&self.word);
    }

    /// [`Epoch::advance`], then [`Epoch::wake_one`].
    pub fn notify_one(&self) {
        self.advance();
        self.wake_one();
    }
}

impl Default for Epoch {
    fn default() -> Self {
        Epoch::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The one-place rule: no file but this one (and `sys`, which defines them) calls the
    /// futex functions, so every parking site goes through this module.
    #[test]
    fn only_park_calls_the_futex() {
        fn walk(dir: &std::path::Path, offenders: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("sys") {
                        walk(&path, offenders);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("park.rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains(concat!("futex", "_wait(")) || text.contains(concat!("futex", "_wake("))
                    {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        let mut offenders = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut offenders);
        assert!(offenders.is_empty(), "futex calls outside park.rs: {offenders:?}");
    }

    #[test]
    fn event_wait_consumes_a_set_made_before_it() {
        let e = Event::new();
        e.set();
        e.wait();
        assert!(!e.wait_until(Some((Clock::Monotonic, 0))), "the notification was consumed");
    }

    #[test]
    fn epoch_sleep_returns_at_once_on_a_stale_ticket() {
        let e = Epoch::new();
        let ticket = e.ticket();
        e.advance();
        assert_eq!(e.sleep(ticket, None), WaitResult::Woken);
        assert_eq!(e.sleep(e.ticket(), Some((Clock::Monotonic, 0))), WaitResult::TimedOut);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the parker itself. A lost wake-up leaves a thread blocked in the modelled
    //! futex forever, which loom reports as a deadlock, so "the model completes" is the
    //! no-lost-wake-up property; the assertions check what the wake-up publishes.
    use super::*;
    use crate::primitive::{AtomicBool, AtomicUsize};
    use core::sync::atomic::Ordering::{Relaxed, SeqCst};
    use loom::sync::Arc;

    /// `Event`: a set racing with the waiter's arrival is never lost, and what the setter
    /// wrote before `set` (even Relaxed) is visible once `wait` returns.
    #[test]
    fn event_set_is_never_lost_and_publishes() {
        loom::model(|| {
            let e = Arc::new(Event::new());
            let data = Arc::new(AtomicUsize::new(0));
            let (e2, d2) = (e.clone(), data.clone());
            let setter = loom::thread::spawn(move || {
                d2.store(7, Relaxed);
                e2.set();
            });
            e.wait();
            assert_eq!(data.load(Relaxed), 7);
            setter.join().unwrap();
        });
    }

    /// `Epoch`, as every user drives it (ticket, check the condition, sleep on the ticket;
    /// the notifier makes the condition true, then advances and wakes one): the sleeper
    /// always ends up seeing the condition.
    #[test]
    fn epoch_sleeper_never_misses_the_notify() {
        loom::model(|| {
            let e = Arc::new(Epoch::new());
            let ready = Arc::new(AtomicBool::new(false));
            let (e2, r2) = (e.clone(), ready.clone());
            let notifier = loom::thread::spawn(move || {
                r2.store(true, SeqCst);
                e2.notify_one();
            });
            loop {
                let ticket = e.ticket();
                if ready.load(SeqCst) {
                    break;
                }
                e.sleep(ticket, None);
            }
            notifier.join().unwrap();
        });
    }

    /// An epoch with several sleepers: one advance and a [`wake_all`] on its word releases
    /// every sleeper.
    #[test]
    fn epoch_wake_all_releases_every_sleeper() {
        loom::model(|| {
            let e = Arc::new(Epoch::new());
            let ready = Arc::new(AtomicBool::new(false));
            let sleepers: Vec<_> = (0..2)
                .map(|_| {
                    let (e, ready) = (e.clone(), ready.clone());
                    loom::thread::spawn(move || loop {
                        let ticket = e.ticket();
                        if ready.load(SeqCst) {
                            return;
                        }
                        e.sleep(ticket, None);
                    })
                })
                .collect();
            ready.store(true, SeqCst);
            e.advance();
            wake_all(&e.word);
            for s in sleepers {
                s.join().unwrap();
            }
        });
    }
}
