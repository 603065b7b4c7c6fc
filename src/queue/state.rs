//! `dq_state`: the one atomic word that says who may run what on a queue.
//!
//! Bit layout (the table is repeated in `docs/ARCHITECTURE.md`):
//!
//! | bits   | field             | meaning                                                        |
//! |--------|-------------------|----------------------------------------------------------------|
//! | 0–31   | `OWNER`           | tid of the thread holding the drain lock (may pop items), or 0 |
//! | 32–43  | `WIDTH`           | width units held by running non-barrier items / sync callers   |
//! | 44     | `IN_BARRIER`      | the owner runs exclusively (serial item, barrier, barrier sync)|
//! | 45     | `ENQUEUED`        | the queue sits on its target (or a drainer is about to run it) |
//! | 46     | `DIRTY`           | items arrived while the drain lock was held: owner re-checks   |
//! | 47     | `INACTIVE`        | created inactive and not yet activated                         |
//! | 48     | `PENDING_BARRIER` | a barrier waits for `WIDTH` to drain to 0                       |
//! | 49–63  | `SUSPEND`         | suspend count                                                  |
//!
//! The masks are private: other files see [`QueueState`]'s transitions, each named for
//! what it does, and read the word only through a [`Snapshot`]'s questions
//! (`is_suspended_or_inactive`, `held_exclusively_by`, ...). The protocols, each a CAS loop
//! below and each modelled with loom:
//!
//! * **Barrier sync** (serial `dispatch_sync`, `dispatch_barrier_sync`): one CAS from the
//!   idle value 0 to `IN_BARRIER | tid` ([`QueueState::try_lock_exclusive`]), one CAS back
//!   ([`QueueState::try_unlock_exclusive`], or [`QueueState::unlock`] if items arrived).
//! * **Width sync** (`dispatch_sync` on a concurrent queue): one CAS adding a width unit
//!   when nothing is queued, draining or pending ([`QueueState::try_reserve_width`]).
//! * **Wake-up**: a producer whose push made the list non-empty calls
//!   [`QueueState::wakeup`]: if the drain lock is held it sets `DIRTY` (the owner will see
//!   it when it tries to unlock), else it sets `ENQUEUED` and the caller puts the queue on
//!   its target. [`QueueState::unlock`] fails while `DIRTY` is set, so a push is never
//!   stranded between an owner's last look at the list and its unlock.
//! * **Hand-off**: a drainer that reaches a sync waiter, or a sync caller releasing a level
//!   whose next item is one, gives the drain lock to the waiter's thread by rewriting
//!   `OWNER` ([`QueueState::hand_off_to`]) instead of unlocking; both sides go through
//!   `SyncWaiter::hand_over`.
//! * **Suspend/resume/activate**: counts in the high bits; the transition to runnable
//!   re-runs the wake-up when the list is non-empty.
//!
//! Every operation that takes part in the wake-up protocol is SeqCst: the list's push (a
//! swap on `tail`) and the state word form a Dekker-style pair (push-then-check-state
//! against set-state-then-check-list, as in `unlock` and the width release), which needs a
//! single total order over both locations. The three sync fast transitions are not part of
//! it (none of them looks at the list; a push racing them is ordered by the word's own
//! modification order, both being RMWs of it) and use the orderings of a lock instead:
//! Acquire to take the queue ([`QueueState::try_lock_exclusive`],
//! [`QueueState::try_reserve_width`]), Release to give it up
//! ([`QueueState::try_unlock_exclusive`]). The loom models below run them against the
//! SeqCst slow paths and check, with loom's cells, that each holder's writes happen before
//! the next holder's reads.
//!
//! **Width limit.** How many width units non-barrier work may hold at once is a separate
//! atomic beside the word, adjustable by `dispatch_queue_set_width`. Whether the queue is
//! *serial* (drained exclusively) or *concurrent* (drained by handing out width units) is
//! fixed at creation and never changes: every structural decision (drain mode, sync
//! exclusivity, which width units an item holds) is made from that, so changing the limit
//! while items are in flight cannot strand a unit. A concurrent queue whose limit is 1
//! still drains by width units; it just never hands out a second one.

use crate::primitive::{AtomicU32, AtomicU64};
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

const OWNER_MASK: u64 = 0xffff_ffff;
const WIDTH_SHIFT: u32 = 32;
const WIDTH_ONE: u64 = 1 << WIDTH_SHIFT;
const WIDTH_MASK: u64 = 0xfff << WIDTH_SHIFT;
const IN_BARRIER: u64 = 1 << 44;
const ENQUEUED: u64 = 1 << 45;
const DIRTY: u64 = 1 << 46;
const INACTIVE: u64 = 1 << 47;
const PENDING_BARRIER: u64 = 1 << 48;
const SUSPEND_SHIFT: u32 = 49;
const SUSPEND_ONE: u64 = 1 << SUSPEND_SHIFT;
const SUSPEND_MASK: u64 = !0 << SUSPEND_SHIFT;
/// Largest width of a concurrent queue (fits `WIDTH` with room for one more unit).
pub const WIDTH_MAX: u32 = 0xffe;

const fn owner(s: u64) -> u32 {
    (s & OWNER_MASK) as u32
}
const fn width(s: u64) -> u32 {
    ((s & WIDTH_MASK) >> WIDTH_SHIFT) as u32
}
const fn suspend_count(s: u64) -> u32 {
    (s >> SUSPEND_SHIFT) as u32
}
const fn is_suspended_or_inactive(s: u64) -> bool {
    s & (SUSPEND_MASK | INACTIVE) != 0
}

/// A value of the word read once, asked through named questions: no code outside this
/// file sees the bit layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot(u64);

impl Snapshot {
    /// Suspended, or created inactive and not yet activated: no item may start.
    pub const fn is_suspended_or_inactive(self) -> bool {
        is_suspended_or_inactive(self.0)
    }
    pub const fn is_inactive(self) -> bool {
        self.0 & INACTIVE != 0
    }
    pub const fn suspend_count(self) -> u32 {
        suspend_count(self.0)
    }
    /// The thread holding the drain lock (0: none).
    pub const fn owner(self) -> u32 {
        owner(self.0)
    }
    /// Nothing at all: no owner, no width, no flag.
    pub const fn is_idle(self) -> bool {
        self.0 == 0
    }
    /// Whether thread `tid` holds the queue exclusively (serial item, barrier, sync).
    pub const fn held_exclusively_by(self, tid: u32) -> bool {
        self.0 & IN_BARRIER != 0 && owner(self.0) == tid
    }
}

/// What a caller must do after a state transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Wake {
    /// Nothing: someone else is (or will be) responsible for the items.
    Nothing,
    /// The caller set `ENQUEUED` and must put the queue on its target.
    Enqueue,
}

/// How a drainer that popped the queue from its target may proceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainStart {
    /// The drain lock is ours (with `IN_BARRIER` when asked for).
    Acquired,
    /// Suspended, inactive or owned by a sync caller: the holder or resume re-wakes it.
    NotRunnable,
}

/// Outcome of asking for exclusive use from inside a concurrent queue's drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarrierStart {
    /// `IN_BARRIER` is set; the barrier may run now.
    Acquired,
    /// Width is in use: `PENDING_BARRIER` is set and the drain lock released; the last
    /// width release will wake the queue.
    Pending,
}

#[derive(Debug)]
#[repr(C)]
pub struct QueueState {
    word: AtomicU64,
    /// Width units available to non-barrier work (1 for serial queues); see the module doc.
    width_limit: AtomicU32,
    /// Created serial (width 1): drained exclusively for its whole life.
    serial: bool,
}

/// Byte offset of the width limit (a `u32`) inside the state, for `dispatch_queue_offsets`.
pub const WIDTH_LIMIT_OFFSET: usize = core::mem::offset_of!(QueueState, width_limit);

/// Owner value of a thread-bound queue's word (main queue, run-loop queues): never a real
/// tid, so no drainer or sync caller ever takes it.
const BOUND_OWNER: u64 = 1;

impl QueueState {
    /// An idle queue of `width_limit` units (1: serial).
    #[cfg(not(loom))]
    pub const fn idle(width_limit: u32) -> QueueState {
        QueueState::new(0, width_limit)
    }

    /// A queue created inactive (`dispatch_activate` makes it runnable).
    #[cfg(not(loom))]
    pub const fn inactive(width_limit: u32) -> QueueState {
        QueueState::new(INACTIVE, width_limit)
    }

    /// A thread-bound queue (main queue, run-loop queues): permanently held exclusively
    /// by a placeholder owner, so only the bound thread drains it.
    #[cfg(not(loom))]
    pub const fn thread_bound() -> QueueState {
        QueueState::new(IN_BARRIER | BOUND_OWNER, 1)
    }

    #[cfg(not(loom))]
    const fn new(initial: u64, width_limit: u32) -> QueueState {
        QueueState {
            word: AtomicU64::new(initial),
            width_limit: AtomicU32::new(width_limit),
            serial: width_limit == 1,
        }
    }

    #[cfg(loom)]
    fn new(initial: u64, width_limit: u32) -> QueueState {
        QueueState {
            word: AtomicU64::new(initial),
            width_limit: AtomicU32::new(width_limit),
            serial: width_limit == 1,
        }
    }

    fn load(&self) -> u64 {
        self.word.load(SeqCst)
    }

    /// The word as it is now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.load())
    }

    pub fn width_limit(&self) -> u32 {
        // Relaxed: the limit is only a bound; either the old or the new value is a valid
        // one to apply (see `set_width_limit`), and the word's SeqCst CASs order the rest.
        self.width_limit.load(Relaxed)
    }

    /// Whether the queue was created serial (the drain mode never changes afterwards).
    pub fn is_serial(&self) -> bool {
        self.serial
    }

    /// `dispatch_queue_set_width` on a concurrent queue: from now on at most `limit`
    /// (1..=[`WIDTH_MAX`]) units are handed out. Units already held are returned as usual;
    /// a lower limit only stops new reservations until the count falls below it.
    pub fn set_width_limit(&self, limit: u32) {
        debug_assert!(!self.serial);
        // Relaxed: see `width_limit`; the caller runs as a barrier of the queue, and the
        // SeqCst end of that barrier publishes the value to the next drainer anyway.
        self.width_limit.store(limit.clamp(1, WIDTH_MAX), Relaxed);
    }

    fn update(&self, mut f: impl FnMut(u64) -> Option<u64>) -> Result<u64, u64> {
        let mut s = self.word.load(SeqCst);
        loop {
            let Some(new) = f(s) else { return Err(s) };
            match self.word.compare_exchange_weak(s, new, SeqCst, SeqCst) {
                Ok(_) => return Ok(new),
                Err(now) => s = now,
            }
        }
    }

    /// Whether a queue in state `s` with a non-empty list should be put on its target.
    fn runnable(&self, s: u64) -> bool {
        !is_suspended_or_inactive(s)
            && s & (ENQUEUED | PENDING_BARRIER | IN_BARRIER) == 0
            && owner(s) == 0
            && width(s) < self.width_limit()
    }

    /// Barrier sync fast path: idle → `IN_BARRIER | tid`.
    #[inline]
    pub fn try_lock_exclusive(&self, tid: u32) -> bool {
        // Acquire: the lock of a lock; pairs with the Release (or SeqCst) of whoever gave
        // the queue up, so their writes happen before the caller's function. Relaxed on
        // failure: the caller then pushes a waiter with SeqCst RMWs that order the rest.
        self.word.compare_exchange(0, IN_BARRIER | tid as u64, Acquire, Relaxed).is_ok()
    }

    /// Barrier sync fast release: `IN_BARRIER | tid` → idle, only if nothing happened
    /// while the lock was held. A push during that time set `DIRTY` (the producer's
    /// wake-up saw the owner), which makes this CAS fail and the caller use [`unlock`];
    /// a push whose wake-up comes after this CAS finds the queue idle and enqueues it.
    /// Both sides are RMWs of this one word, so their order is the word's modification
    /// order: no Dekker pair with the list here (the fast release never looks at it).
    ///
    /// [`unlock`]: QueueState::unlock
    #[inline]
    pub fn try_unlock_exclusive(&self, tid: u32) -> bool {
        // Release: the unlock of a lock; the function's writes happen before the next
        // holder's Acquire. Acquire on failure: the caller then reads the list that the
        // producer who set DIRTY pushed to (`unlock` re-reads SeqCst anyway).
        self.word.compare_exchange(IN_BARRIER | tid as u64, 0, Release, Acquire).is_ok()
    }

    /// Width sync fast path: one more width unit while nothing is queued or exclusive.
    #[inline]
    pub fn try_reserve_width(&self) -> bool {
        // First attempt on a guess, an idle word (the uncontended case): no load and no
        // test before the CAS; when the guess is wrong the CAS returns the word, and the
        // loop goes on from there. (Orderings: as in the loop.)
        let mut s = match self.word.compare_exchange(0, WIDTH_ONE, Acquire, Relaxed) {
            Ok(_) => return true,
            Err(now) => now,
        };
        loop {
            // Only the width may be set (nothing queued, owned, exclusive, pending,
            // suspended or inactive), and below the limit: every flag sits above the width
            // field, so with the owner bits clear, `s < limit << 32` says both.
            if s & OWNER_MASK != 0 || s >> WIDTH_SHIFT >= u64::from(self.width_limit()) {
                return false;
            }
            // Acquire: pairs with the Release/SeqCst end of the last barrier (or exclusive
            // holder), whose writes the caller's function may read. Relaxed on failure:
            // only the next guess. Nothing here reads the list, so no Dekker pair needs
            // SeqCst: a push racing this CAS is ordered by the word's modification order
            // (its wake-up RMW sees the unit or not).
            match self.word.compare_exchange_weak(s, s + WIDTH_ONE, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Width sync fast release: gives a unit back when no flag is set (no barrier pending,
    /// in particular) and the queue is below its width limit (counting this unit). Fails, changing nothing, otherwise:
    /// the caller then uses [`QueueState::release_width`] and checks the list.
    ///
    /// Why skipping the list is safe here: a push whose wake-up found the queue
    /// unrunnable for want of width (a drainer stopped at the limit likewise) saw the word
    /// at its limit; width only grows below the limit, so the first release after that
    /// wake-up in the word's modification order sees the limit too and takes the slow
    /// path, which finds the item. Any other wake-up of a queue this thread holds a unit
    /// of either enqueued it or left it to a `DIRTY` owner or to whoever suspended it. The
    /// limit cannot change under a held unit (`set_width_limit` runs as a barrier).
    #[inline]
    pub fn try_release_width(&self) -> bool {
        // First attempt on a guess, as in `try_reserve_width`: this unit alone, nothing
        // else set. Valid only below the limit (a limit of 1 is full with this unit).
        let limit = u64::from(self.width_limit());
        let mut s = WIDTH_ONE;
        if limit > 1 {
            match self.word.compare_exchange(WIDTH_ONE, 0, Release, Relaxed) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        loop {
            // Conservative: any flag (all sit above the width field) sends the release to
            // the slow path, which handles every case; a pending barrier must go there.
            if s >> WIDTH_SHIFT >= limit {
                return false;
            }
            // Release: the reader's accesses happen before a later barrier's (which takes
            // the queue with a SeqCst RMW, acquiring). Relaxed on failure: only the next
            // guess. No list check follows, so no Dekker pair needs SeqCst.
            match self.word.compare_exchange_weak(s, s - WIDTH_ONE, Release, Relaxed) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Called by the producer whose push made the list non-empty (and by anyone who makes
    /// a queue with items runnable again).
    pub fn wakeup(&self) -> Wake {
        let mut wake = Wake::Nothing;
        let _ = self.update(|s| {
            // Reset on every attempt: a failed CAS must not leave a stale verdict.
            wake = Wake::Nothing;
            if is_suspended_or_inactive(s) || s & ENQUEUED != 0 {
                return None;
            }
            if owner(s) != 0 {
                return (s & DIRTY == 0).then_some(s | DIRTY);
            }
            if !self.runnable(s) {
                return None;
            }
            wake = Wake::Enqueue;
            Some(s | ENQUEUED)
        });
        wake
    }

    /// A drainer that took the queue off its target claims the drain lock.
    pub fn start_drain(&self, tid: u32, exclusive: bool) -> DrainStart {
        let r = self.update(|s| {
            let base = s & !ENQUEUED;
            if is_suspended_or_inactive(s) || owner(s) != 0 || s & IN_BARRIER != 0 {
                // Not ours to run; whoever blocks it re-wakes the queue later.
                return Some(if owner(s) != 0 { base | DIRTY } else { base });
            }
            if exclusive && width(s) != 0 {
                return Some(base | PENDING_BARRIER);
            }
            let mut new = (base & !DIRTY) | tid as u64;
            if exclusive {
                new |= IN_BARRIER;
            }
            Some(new)
        });
        match r {
            Ok(s) if owner(s) == tid => DrainStart::Acquired,
            _ => DrainStart::NotRunnable,
        }
    }

    /// The owner of a concurrent queue's drain lock asks to run a barrier.
    pub fn start_barrier(&self, tid: u32) -> BarrierStart {
        match self.update(|s| {
            debug_assert_eq!(owner(s), tid);
            Some(if width(s) == 0 {
                (s | IN_BARRIER) & !DIRTY
            } else {
                s & !(OWNER_MASK | DIRTY) | PENDING_BARRIER
            })
        }) {
            Ok(s) if s & IN_BARRIER != 0 => BarrierStart::Acquired,
            _ => BarrierStart::Pending,
        }
    }

    /// The owner of a concurrent queue finished a barrier but keeps draining.
    pub fn end_barrier(&self) {
        let _ = self.update(|s| Some(s & !IN_BARRIER));
    }

    /// The owner of a concurrent queue's drain lock reserves width for an item it sends
    /// off to run in parallel. Fails at the width limit.
    pub fn reserve_drain_width(&self) -> bool {
        self.update(|s| (width(s) < self.width_limit()).then_some(s + WIDTH_ONE)).is_ok()
    }

    /// Returns a width unit. When it was the last one and a barrier is pending, the same
    /// CAS turns `PENDING_BARRIER` into `ENQUEUED` and the caller must put the queue on its
    /// target (`Wake::Enqueue`): the barrier is still at the head of the list, and a word
    /// that showed neither flag for a moment would let a width sync (which looks only at
    /// the word) run ahead of it. Otherwise the caller must call [`QueueState::wakeup`]
    /// when the list is non-empty (width-blocked items may be waiting).
    pub fn release_width(&self) -> Wake {
        let mut wake = Wake::Nothing;
        let _ = self.update(|s| {
            wake = Wake::Nothing;
            debug_assert!(width(s) > 0);
            let mut new = s - WIDTH_ONE;
            if width(new) == 0 && new & PENDING_BARRIER != 0 {
                new &= !PENDING_BARRIER;
                if owner(new) == 0 && new & ENQUEUED == 0 && !is_suspended_or_inactive(new) {
                    new |= ENQUEUED;
                    wake = Wake::Enqueue;
                }
            }
            Some(new)
        });
        wake
    }

    /// The drain-lock owner gives up the lock. `list_is_empty` is consulted after every
    /// load; if items remain and the queue is runnable, the lock is converted into
    /// `ENQUEUED` and the caller must put the queue on its target.
    ///
    /// `DIRTY` is cleared by a CAS of its own before the list is looked at: a producer
    /// that pushes after that look must *change* the word (by setting `DIRTY` again) for
    /// the releasing CAS to fail. Clearing it in the releasing CAS instead would let a
    /// second producer, who finds `DIRTY` already set and writes nothing, strand its item.
    pub fn unlock(&self, list_is_empty: impl Fn() -> bool) -> Wake {
        let mut s = self.word.load(SeqCst);
        loop {
            let (new, wake) = if s & DIRTY != 0 {
                (s & !DIRTY, None)
            } else {
                let base = s & !(OWNER_MASK | IN_BARRIER);
                if !list_is_empty() && self.runnable(base) {
                    (base | ENQUEUED, Some(Wake::Enqueue))
                } else {
                    (base, Some(Wake::Nothing))
                }
            };
            match self.word.compare_exchange_weak(s, new, SeqCst, SeqCst) {
                Ok(_) => match wake {
                    Some(wake) => return wake,
                    None => s = new, // still the owner: look at the list again
                },
                Err(now) => s = now,
            }
        }
    }

    /// The holder of the drain lock gives it, with `IN_BARRIER`, to thread `tid` (a sync
    /// waiter: see `SyncWaiter::hand_over`, the one caller).
    pub fn hand_off_to(&self, tid: u32) {
        let _ = self.update(|s| Some((s & !OWNER_MASK) | tid as u64 | IN_BARRIER));
    }

    /// `dispatch_suspend`. Returns `false` when the count would overflow.
    pub fn suspend(&self) -> bool {
        self.update(|s| {
            (suspend_count(s) < (SUSPEND_MASK >> SUSPEND_SHIFT) as u32).then_some(s + SUSPEND_ONE)
        })
        .is_ok()
    }

    /// `dispatch_resume`: `Err(())` on over-resume. `Ok(true)` when the queue became
    /// runnable (no longer suspended nor inactive). Resuming an inactive, unsuspended
    /// queue activates it, as in the reference implementation.
    pub fn resume(&self) -> Result<bool, ()> {
        match self.update(|s| {
            if suspend_count(s) > 0 {
                Some(s - SUSPEND_ONE)
            } else if s & INACTIVE != 0 {
                Some(s & !INACTIVE)
            } else {
                None
            }
        }) {
            Ok(s) => Ok(!is_suspended_or_inactive(s)),
            Err(_) => Err(()),
        }
    }

    /// `dispatch_activate`: `true` when this call activated the queue and it is runnable.
    pub fn activate(&self) -> bool {
        match self.update(|s| (s & INACTIVE != 0).then_some(s & !INACTIVE)) {
            Ok(s) => !is_suspended_or_inactive(s),
            Err(_) => false,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn barrier_sync_is_one_cas_each_way() {
        let st = QueueState::new(0, 1);
        assert!(st.try_lock_exclusive(42));
        assert_eq!(st.load(), IN_BARRIER | 42);
        assert!(!st.try_lock_exclusive(7));
        assert_eq!(st.unlock(|| true), Wake::Nothing);
        assert_eq!(st.load(), 0);
    }

    #[test]
    fn wakeup_marks_dirty_while_owned_and_unlock_then_enqueues() {
        let st = QueueState::new(0, 1);
        assert!(st.try_lock_exclusive(5));
        assert_eq!(st.wakeup(), Wake::Nothing);
        assert_eq!(st.load() & DIRTY, DIRTY);
        assert_eq!(st.unlock(|| false), Wake::Enqueue);
        assert_eq!(st.load(), ENQUEUED);
        assert_eq!(st.wakeup(), Wake::Nothing);
    }

    #[test]
    fn suspend_and_inactive_block_wakeup_until_resumed() {
        let st = QueueState::new(INACTIVE, 1);
        assert_eq!(st.wakeup(), Wake::Nothing);
        assert!(st.suspend());
        assert_eq!(st.resume(), Ok(false));
        assert!(st.activate());
        assert_eq!(st.resume(), Err(()));
        assert_eq!(st.wakeup(), Wake::Enqueue);
    }

    #[test]
    fn sync_readers_share_width_of_a_concurrent_target() {
        let (c, b) = (QueueState::new(0, WIDTH_MAX), QueueState::new(0, WIDTH_MAX));
        for _ in 0..2 {
            assert!(c.try_reserve_width());
            assert!(b.try_reserve_width());
        }
        assert_eq!((width(c.load()), width(b.load())), (2, 2));
        // A barrier of the target now waits for both readers.
        assert_eq!(b.start_drain(9, false), DrainStart::Acquired);
        assert_eq!(b.start_barrier(9), BarrierStart::Pending);
        assert!(!b.try_reserve_width(), "a pending barrier holds off new readers");
        assert_eq!(b.release_width(), Wake::Nothing);
        assert_eq!(b.release_width(), Wake::Enqueue, "the last release enqueues the pending barrier");
        assert_eq!(b.load(), ENQUEUED);
    }

    #[test]
    fn width_limit_bounds_reservations_and_keeps_the_drain_mode() {
        let st = QueueState::new(0, WIDTH_MAX);
        st.set_width_limit(2);
        assert!(st.reserve_drain_width() && st.reserve_drain_width());
        assert!(!st.reserve_drain_width(), "a third unit past the limit");
        st.set_width_limit(1);
        assert_eq!(st.release_width(), Wake::Nothing);
        assert!(!st.reserve_drain_width(), "one unit still held at limit 1");
        assert_eq!(st.release_width(), Wake::Nothing);
        assert!(st.reserve_drain_width());
        assert!(!st.is_serial(), "a narrowed concurrent queue still drains by units");
        assert!(QueueState::new(0, 1).is_serial());
    }

    #[test]
    fn barrier_waits_for_width() {
        let st = QueueState::new(0, WIDTH_MAX);
        assert!(st.try_reserve_width());
        assert_eq!(st.wakeup(), Wake::Enqueue);
        assert_eq!(st.start_drain(9, false), DrainStart::Acquired);
        assert_eq!(st.start_barrier(9), BarrierStart::Pending);
        assert_eq!(st.load() & PENDING_BARRIER, PENDING_BARRIER);
        assert_eq!(owner(st.load()), 0);
        assert_eq!(st.wakeup(), Wake::Nothing);
        assert_eq!(st.release_width(), Wake::Enqueue);
        assert_eq!(st.load(), ENQUEUED);
        assert_eq!(st.wakeup(), Wake::Nothing);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the protocols, each against every interleaving loom explores.
    use super::*;
    use crate::queue::item::{Item, ItemKind};
    use crate::queue::list::model::BoxList;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;

    /// Sync lock: two threads race for the barrier; exactly one wins at a time and the
    /// loser, retrying, eventually gets it; the critical sections never overlap.
    #[test]
    fn barrier_sync_lock_is_mutually_exclusive() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, 1));
            let inside = Arc::new(AtomicUsize::new(0));
            let run = |tid: u32, st: Arc<QueueState>, inside: Arc<AtomicUsize>| {
                while !st.try_lock_exclusive(tid) {
                    loom::thread::yield_now();
                }
                assert_eq!(inside.fetch_add(1, SeqCst), 0);
                inside.fetch_sub(1, SeqCst);
                assert_eq!(st.unlock(|| true), Wake::Nothing);
            };
            let (s2, i2) = (st.clone(), inside.clone());
            let t = loom::thread::spawn(move || run(2, s2, i2));
            run(1, st.clone(), inside);
            t.join().unwrap();
            assert_eq!(st.load(), 0);
        });
    }

    /// The shared race: a producer pushes an item onto the (now empty) list of a queue the
    /// owner holds, and wakes it, while the owner gives the lock up with `release`. Exactly
    /// one party must enqueue the queue, which ends up ENQUEUED.
    fn push_races_release(
        st: Arc<QueueState>,
        list: Arc<BoxList>,
        release: impl FnOnce(&QueueState, &BoxList) -> Wake,
    ) {
        let producer = {
            let (st, list) = (st.clone(), list.clone());
            loom::thread::spawn(move || {
                let was_empty = list.push(Box::new(Item::new(ItemKind::Continuation, 0)));
                assert!(was_empty);
                st.wakeup()
            })
        };
        let owner_wake = release(&st, &list);
        let producer_wake = producer.join().unwrap();
        let enqueues = [owner_wake, producer_wake].iter().filter(|w| **w == Wake::Enqueue).count();
        assert_eq!(enqueues, 1, "exactly one party must enqueue the queue");
        assert_eq!(st.load(), ENQUEUED);
    }

    /// Enqueue/wake: a producer pushes and wakes while the owner finishes and unlocks.
    /// Whatever the interleaving, the item is not stranded: either the owner sees it (and
    /// converts its lock into ENQUEUED) or the producer's wake-up enqueues the queue.
    #[test]
    fn push_racing_unlock_never_strands_an_item() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, 1));
            assert!(st.try_lock_exclusive(1));
            let (list, _consumer) = BoxList::new();
            push_races_release(st, list, |st, list| st.unlock(|| list.is_empty()));
        });
    }

    /// The sync fast release racing a producer: whichever order, the item is not stranded.
    #[test]
    fn push_racing_fast_release_never_strands_an_item() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, 1));
            assert!(st.try_lock_exclusive(1));
            let (list, _consumer) = BoxList::new();
            push_races_release(st, list, |st, list| {
                if st.try_unlock_exclusive(1) {
                    Wake::Nothing
                } else {
                    st.unlock(|| list.is_empty())
                }
            });
        });
    }

    /// Enqueue/wake with `DIRTY` already set: a first producer's wake-up marked the queue
    /// dirty and the owner drained its item; a second producer pushes while the owner
    /// unlocks. Its wake-up finds `DIRTY` set and writes nothing, so the owner must not
    /// release the lock on a snapshot that still holds the old `DIRTY`. (A stress test
    /// stranded items this way before `unlock` cleared `DIRTY` separately.)
    #[test]
    fn second_push_while_dirty_is_not_stranded() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, 1));
            let (list, mut consumer) = BoxList::new();
            assert!(st.try_lock_exclusive(1));
            assert!(list.push(Box::new(Item::new(ItemKind::Continuation, 0))));
            assert_eq!(st.wakeup(), Wake::Nothing);
            assert_eq!(st.load() & DIRTY, DIRTY);
            // The owner drains the first item.
            assert!(consumer.pop().is_some());
            push_races_release(st, list, |st, list| st.unlock(|| list.is_empty()));
        });
    }

    /// The weakened sync fast paths (Acquire to take, Release to give back), checked for
    /// what those orderings are for: the previous holder's writes happen before the next
    /// holder's accesses. A loom cell stands for the client's data; loom reports any two
    /// accesses that no happens-before edge orders. A serial caller that finds DIRTY set
    /// releases through the SeqCst `unlock`, as `sync.rs` does.
    struct Data(loom::cell::Cell<u32>);
    // SAFETY: shared between the model's threads on purpose: whether their accesses are
    // ordered is what loom's cell checks (it fails the model on two unordered accesses).
    unsafe impl Sync for Data {}

    fn exclusive_sync(st: &QueueState, tid: u32, data: &Data) {
        while !st.try_lock_exclusive(tid) {
            loom::thread::yield_now();
        }
        // The claim under test: the lock orders these accesses with every other.
        data.0.set(data.0.get() + 1);
        if !st.try_unlock_exclusive(tid) {
            let _ = st.unlock(|| true);
        }
    }

    /// Two serial `dispatch_sync` callers on the fast paths: their functions' writes are
    /// ordered by the lock (Acquire on lock, Release on unlock), in either order.
    #[test]
    fn fast_exclusive_sync_orders_the_functions() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, 1));
            let data = Arc::new(Data(loom::cell::Cell::new(0)));
            let t = {
                let (st, data) = (st.clone(), data.clone());
                loom::thread::spawn(move || exclusive_sync(&st, 2, &data))
            };
            exclusive_sync(&st, 1, &data);
            t.join().unwrap();
            assert_eq!(data.0.get(), 2);
            assert_eq!(st.load(), 0);
        });
    }

    /// A width `dispatch_sync` reader (fast reserve and fast release) against a barrier
    /// sync writer on the same concurrent queue: the reader's read and the writer's write
    /// are ordered whichever runs first (the reader's Acquire sees a finished writer's
    /// Release; the writer's Acquire sees a finished reader's Release).
    #[test]
    fn fast_width_reader_and_barrier_writer_are_ordered() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, WIDTH_MAX));
            let data = Arc::new(Data(loom::cell::Cell::new(0)));
            let reader = {
                let (st, data) = (st.clone(), data.clone());
                loom::thread::spawn(move || {
                    while !st.try_reserve_width() {
                        loom::thread::yield_now();
                    }
                    // The claim under test, checked by loom's cell.
                    let seen = data.0.get();
                    assert!(st.try_release_width(), "an idle queue below its limit releases fast");
                    seen
                })
            };
            exclusive_sync(&st, 1, &data);
            let seen = reader.join().unwrap();
            assert!(seen <= 1);
            assert_eq!(st.load(), 0);
        });
    }

    /// The fast width release skips the list, which at the limit would strand an item
    /// whose producer found no width to spare. Two readers fill a width of 2 and release
    /// with the fast CAS while a producer's wake-up runs: if the wake-up found the queue
    /// full (and so did nothing), at most one release may be fast: the first release after
    /// it sees the limit and must take the slow path (`drain::release_width`, which looks
    /// at the list; its release-then-look against the producer's push-then-wake is the
    /// SeqCst Dekker pair of the module doc, which loom, modelling SeqCst accesses as
    /// AcqRel, cannot check; this model checks the part on the word alone).
    #[test]
    fn fast_width_release_is_refused_after_a_wakeup_found_no_width() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, WIDTH_MAX));
            st.set_width_limit(2);
            assert!(st.try_reserve_width() && st.try_reserve_width());
            assert!(!st.try_reserve_width(), "the width is full");
            let other = {
                let st = st.clone();
                loom::thread::spawn(move || st.try_release_width())
            };
            let producer = {
                let st = st.clone();
                loom::thread::spawn(move || st.wakeup())
            };
            let mine = st.try_release_width();
            let theirs = other.join().unwrap();
            if producer.join().unwrap() == Wake::Nothing {
                assert!(!(mine && theirs), "both releases skipped the list after a wake-up found no width");
            }
        });
    }

    /// Below the limit the fast release is taken, and a racing wake-up still enqueues the
    /// queue exactly once (the word shows the held unit or not; either way it is runnable).
    #[test]
    fn fast_width_release_below_the_limit_leaves_the_wakeup_to_the_producer() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, WIDTH_MAX));
            assert!(st.try_reserve_width());
            let producer = {
                let st = st.clone();
                loom::thread::spawn(move || st.wakeup())
            };
            let fast = st.try_release_width();
            assert_eq!(producer.join().unwrap(), Wake::Enqueue);
            if fast {
                assert_eq!(st.load(), ENQUEUED);
            } else {
                // ENQUEUED was set first: the conservative test sent the release slow.
                assert_eq!(st.release_width(), Wake::Nothing);
                assert_eq!(st.load(), ENQUEUED);
            }
        });
    }

    /// Width reservation: a barrier that found width in use goes pending; the racing width
    /// release then re-wakes the queue exactly once, and the barrier can start.
    #[test]
    fn width_release_wakes_pending_barrier() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, WIDTH_MAX));
            assert!(st.try_reserve_width());
            assert_eq!(st.wakeup(), Wake::Enqueue);
            assert_eq!(st.start_drain(1, false), DrainStart::Acquired);
            let releaser = {
                let st = st.clone();
                loom::thread::spawn(move || match st.release_width() {
                    Wake::Enqueue => Wake::Enqueue,
                    Wake::Nothing => st.wakeup(), // the barrier item is still on the list
                })
            };
            let mine = match st.start_barrier(1) {
                BarrierStart::Acquired => {
                    st.end_barrier();
                    st.unlock(|| true)
                }
                BarrierStart::Pending => Wake::Nothing,
            };
            let theirs = releaser.join().unwrap();
            let s = st.load();
            if mine == Wake::Nothing && theirs == Wake::Nothing {
                // Only possible if the barrier ran: then nothing is left to do.
                assert_eq!(s, 0);
            } else {
                assert_eq!(s, ENQUEUED);
            }
        });
    }

    /// Width through a target: a `dispatch_sync` reader on concurrent `c` takes a width
    /// unit of `c` and then of its concurrent target `b` (retrying while `b` is blocked,
    /// as a parked waiter would be woken to), while a barrier of `b` is started by `b`'s
    /// drainer (pending while width is in use, retried when re-woken). The reader's
    /// function and the barrier never overlap, both finish, and both words end idle.
    #[test]
    fn width_through_target_excludes_target_barrier() {
        loom::model(|| {
            let c = Arc::new(QueueState::new(0, WIDTH_MAX));
            let b = Arc::new(QueueState::new(0, WIDTH_MAX));
            let readers = Arc::new(AtomicUsize::new(0));
            let barriers = Arc::new(AtomicUsize::new(0));
            let reader = {
                let (c, b, readers, barriers) = (c.clone(), b.clone(), readers.clone(), barriers.clone());
                loom::thread::spawn(move || {
                    assert!(c.try_reserve_width());
                    while !b.try_reserve_width() {
                        loom::thread::yield_now();
                    }
                    readers.fetch_add(1, SeqCst);
                    assert_eq!(barriers.load(SeqCst), 0, "a reader ran inside a barrier of its target");
                    readers.fetch_sub(1, SeqCst);
                    // The barrier's drainer retries by itself in this model.
                    let _ = b.release_width();
                    let _ = c.release_width();
                })
            };
            // The barrier's drainer: acquire the drain lock, start the barrier, and when
            // it is pending come back (the width release re-wakes the queue).
            loop {
                if b.start_drain(2, false) == DrainStart::Acquired
                    && b.start_barrier(2) == BarrierStart::Acquired
                {
                    barriers.fetch_add(1, SeqCst);
                    assert_eq!(readers.load(SeqCst), 0, "a barrier ran while a reader held width");
                    barriers.fetch_sub(1, SeqCst);
                    b.end_barrier();
                    assert_eq!(b.unlock(|| true), Wake::Nothing);
                    break;
                }
                loom::thread::yield_now();
            }
            reader.join().unwrap();
            assert_eq!(c.load(), 0);
            assert_eq!(b.load(), 0);
        });
    }

    /// A width sync never overtakes a pending barrier: an item holds the last width unit
    /// of a queue whose barrier is pending (it is at the head of the list); the item's
    /// release races a `dispatch_sync` caller's width reservation. The caller must not get
    /// width before the barrier ran (the soak caught a release that cleared
    /// `PENDING_BARRIER` and only then re-enqueued, leaving a moment with the word idle).
    #[test]
    fn width_sync_never_overtakes_pending_barrier() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(WIDTH_ONE | PENDING_BARRIER, WIDTH_MAX));
            let released = Arc::new(AtomicUsize::new(0));
            let barrier_done = Arc::new(AtomicUsize::new(0));
            let releaser = {
                let (st, released, barrier_done) = (st.clone(), released.clone(), barrier_done.clone());
                loom::thread::spawn(move || {
                    assert_eq!(st.release_width(), Wake::Enqueue);
                    released.store(1, SeqCst);
                    // The drainer that pops the queue from its target runs the barrier.
                    assert_eq!(st.start_drain(1, false), DrainStart::Acquired);
                    assert_eq!(st.start_barrier(1), BarrierStart::Acquired);
                    barrier_done.store(1, SeqCst);
                    st.end_barrier();
                    let _ = st.unlock(|| true);
                })
            };
            // The sync caller arrives once the item released its width (before, the
            // pending barrier blocks it anyway).
            while released.load(SeqCst) == 0 {
                loom::thread::yield_now();
            }
            if st.try_reserve_width() {
                assert_eq!(barrier_done.load(SeqCst), 1, "a width sync ran ahead of a pending barrier");
                let _ = st.release_width();
            }
            releaser.join().unwrap();
        });
    }

    /// Suspend: a resume racing a wake-up of a suspended queue never loses the wake-up and
    /// never enqueues twice.
    #[test]
    fn resume_racing_wakeup_enqueues_once() {
        loom::model(|| {
            let st = Arc::new(QueueState::new(0, 1));
            assert!(st.suspend());
            let waker = {
                let st = st.clone();
                loom::thread::spawn(move || st.wakeup())
            };
            let resumed = st.resume().unwrap();
            assert!(resumed);
            let mine = st.wakeup(); // resume re-wakes a non-empty queue
            let theirs = waker.join().unwrap();
            let enqueues = [mine, theirs].iter().filter(|w| **w == Wake::Enqueue).count();
            assert_eq!(enqueues, 1);
            assert_eq!(st.load(), ENQUEUED);
        });
    }

    /// The sync hand-off (`SyncWaiter::hand_over`: `hand_off_to(tid)`, then set the
    /// waiter's `park::Event`; mirrored here line for line, since the waiter type is not
    /// compiled under loom), with the real parker. A drainer holding the queue reads the
    /// parked waiter's fields and hands the lock over; the waiter, parked on its event,
    /// wakes (no lost wake-up: else loom reports a deadlock), finds itself the exclusive
    /// owner, "frees" its stack frame by overwriting its fields, and unlocks with the fast
    /// release. The overwrite is checked by loom's cell against the drainer's reads, so a
    /// drainer touching the waiter after setting the event would be reported as a race.
    #[test]
    fn sync_hand_off_wakes_the_waiter_as_exclusive_owner() {
        use crate::park::Event;
        use loom::cell::UnsafeCell;

        struct Waiter {
            func: UnsafeCell<usize>,
            event: Event,
        }
        // SAFETY: `func` is written by the waiter before it parks and after it wakes,
        // read by the drainer in between; loom's cell checks exactly that claim.
        unsafe impl Sync for Waiter {}

        impl Waiter {
            /// Replaces `func`, returning the old value: a write in loom's eyes, also for
            /// the drainer's read (stricter: any access unordered with another is reported).
            fn swap_func(&self, v: usize) -> usize {
                // SAFETY: the accesses are ordered by the hand-off (the claim under test);
                // loom's cell checks each one against the others before it happens and
                // fails the model on a race, and loom runs one thread at a time.
                self.func.with_mut(|f| unsafe { core::mem::replace(&mut *f, v) })
            }
        }

        loom::model(|| {
            const DRAINER: u32 = 1;
            const WAITER: u32 = 2;
            let st = Arc::new(QueueState::new(0, 1));
            let w = Arc::new(Waiter { func: UnsafeCell::new(42), event: Event::new() });
            let (st2, w2) = (st.clone(), w.clone());
            let drainer = loom::thread::spawn(move || {
                assert!(st2.try_lock_exclusive(DRAINER));
                // The waiter is parked until the event is set below.
                assert_eq!(w2.swap_func(42), 42);
                // SyncWaiter::hand_over:
                st2.hand_off_to(WAITER);
                w2.event.set();
            });
            w.event.wait();
            assert!(st.snapshot().held_exclusively_by(WAITER), "woken without owning the queue");
            // The drainer's last access to the waiter happened before `set`.
            w.swap_func(0);
            assert!(st.try_unlock_exclusive(WAITER), "the drainer changed the state after handing over");
            drainer.join().unwrap();
            assert_eq!(st.load(), 0);
        });
    }
}
