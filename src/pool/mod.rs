//! The worker pool that serves the root (global) queues.
//!
//! One run list per root queue (QoS class × overcommit), one set of workers for all of
//! them. A worker always takes the first item of the highest non-empty list (a bitmask
//! of non-empty lists makes that one load), sets its nice value for that QoS (background
//! work runs at lower OS priority), and runs the item.
//!
//! ## Thread budget
//!
//! * A push wakes one parked worker if one is not already claimed by an earlier push
//!   (see `sleepers.rs`: each push gets a worker of its own).
//! * Otherwise it starts a worker when fewer than one per CPU exist.
//! * Otherwise the pool is saturated and the *monitor* is told. While work is pending
//!   and no worker is idle, the monitor checks every [`MONITOR_PERIOD`] how many workers
//!   are actually runnable (`/proc/self/task/<tid>/stat`); for each CPU left idle because
//!   workers are blocked (in `sleep`, I/O, a lock) it starts one more worker. When nothing
//!   is pending it sleeps on a futex: an idle process has no periodic tick. For overcommit
//!   lists it also adds one thread per waiting item when those items waited a whole period
//!   while no worker took anything: every overcommit item gets a thread even if all the
//!   others block or spin, yet a stream of short items (a contended queue re-enqueued over
//!   and over) does not spawn a thread per push.
//! * Idle workers spin briefly, then park on the pool's futex; one that stays parked for
//!   [`IDLE_TIMEOUT`] retires.
//!
//! ## Wake protocol
//!
//! Push: append, `pending += 1`, then claim a parked worker. Park: enter the parked
//! count, then re-check the lists before sleeping on the epoch read *before* entering. Both sides are SeqCst,
//! so either the pusher sees the idle worker (and bumps the epoch, failing its futex
//! wait) or the worker sees the item. Retiring decrements `threads` before its last look
//! at the lists, so a pusher that saw the old count cannot strand an item.

mod run_list;
mod sleepers;

use crate::queue::drain::run_root_item;
use crate::queue::item::Item;
use crate::queue::root::{nice_of_index, qos_of_index, ROOT_COUNT, ROOT_QUEUES};
use crate::sys::{self, Clock, WaitResult};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use crossbeam_utils::CachePadded;
use run_list::RunList;
use sleepers::Sleepers;
use std::sync::{LazyLock, Mutex, Once};
use std::time::Duration;

/// Hard cap on worker threads.
pub const MAX_THREADS: usize = 255;
/// How long a parked worker waits for work before it retires.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the monitor looks at a saturated pool.
pub const MONITOR_PERIOD: Duration = Duration::from_millis(2);
/// Spin rounds before parking.
const SPIN_ROUNDS: u32 = 64;

struct Pool {
    lists: [CachePadded<RunList>; ROOT_COUNT],
    /// Bit `i` set while list `i` is non-empty (changed under that list's lock).
    nonempty: CachePadded<AtomicU32>,
    pending: AtomicUsize,
    /// Items waiting on overcommit lists (the monitor's starvation check).
    overcommit_pending: AtomicUsize,
    /// Items taken by workers so far (progress, for the starvation check).
    pops: AtomicUsize,
    threads: AtomicUsize,
    sleepers: Sleepers,
    wake_epoch: AtomicU32,
    cpus: usize,
    workers: Mutex<Vec<u32>>,
    monitor_sleeping: AtomicBool,
    monitor_epoch: AtomicU32,
    monitor_started: Once,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| Pool {
    lists: core::array::from_fn(|_| CachePadded::new(RunList::new())),
    nonempty: CachePadded::new(AtomicU32::new(0)),
    pending: AtomicUsize::new(0),
    overcommit_pending: AtomicUsize::new(0),
    pops: AtomicUsize::new(0),
    threads: AtomicUsize::new(0),
    sleepers: Sleepers::new(),
    wake_epoch: AtomicU32::new(0),
    cpus: sys::cpu_count(),
    workers: Mutex::new(Vec::new()),
    monitor_sleeping: AtomicBool::new(false),
    monitor_epoch: AtomicU32::new(0),
    monitor_started: Once::new(),
});

/// Appends `item` to root list `index` and makes sure a worker will run it.
pub fn push(index: usize, item: *mut Item) {
    let pool = &*POOL;
    pool.lists[index].push(item, || {
        pool.nonempty.fetch_or(1 << index, SeqCst);
    });
    pool.pending.fetch_add(1, SeqCst);
    if is_overcommit(index) {
        pool.overcommit_pending.fetch_add(1, SeqCst);
    }
    if pool.sleepers.try_claim() {
        pool.wake_epoch.fetch_add(1, SeqCst);
        sys::futex_wake(&pool.wake_epoch, 1);
        return;
    }
    if !pool.try_spawn(pool.cpus) && pool.monitor_sleeping.load(SeqCst) {
        pool.monitor_epoch.fetch_add(1, SeqCst);
        sys::futex_wake(&pool.monitor_epoch, 1);
    }
}

fn is_overcommit(index: usize) -> bool {
    index % 2 == 1
}

impl Pool {
    /// Starts a worker if fewer than `limit` exist. Returns whether one was started.
    fn try_spawn(&'static self, limit: usize) -> bool {
        let mut n = self.threads.load(SeqCst);
        loop {
            if n >= limit.min(MAX_THREADS) {
                return false;
            }
            match self.threads.compare_exchange(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        crate::threads::will_start_thread();
        self.monitor_started.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("dispatch-monitor".into())
                .spawn(move || self.monitor_main());
        });
        let spawned =
            std::thread::Builder::new().name("dispatch-worker".into()).spawn(move || self.worker_main());
        if spawned.is_err() {
            self.threads.fetch_sub(1, SeqCst);
            return false;
        }
        true
    }

    fn has_work(&self) -> bool {
        self.nonempty.load(SeqCst) != 0
    }

    /// Takes the first item of the highest-QoS non-empty list.
    fn pop(&self) -> Option<(usize, *mut Item)> {
        loop {
            let mask = self.nonempty.load(SeqCst);
            if mask == 0 {
                return None;
            }
            let index = (31 - mask.leading_zeros()) as usize;
            let item = self.lists[index].pop(|| {
                self.nonempty.fetch_and(!(1 << index), SeqCst);
            });
            if let Some(item) = item {
                self.pending.fetch_sub(1, SeqCst);
                self.pops.fetch_add(1, SeqCst);
                if is_overcommit(index) {
                    self.overcommit_pending.fetch_sub(1, SeqCst);
                }
                return Some((index, item));
            }
        }
    }

    fn worker_main(&'static self) {
        let tid = crate::queue::frames::thread_id();
        self.workers.lock().unwrap_or_else(|e| e.into_inner()).push(tid);
        let mut nice = 0;
        loop {
            if let Some((index, item)) = self.pop() {
                let wanted = nice_of_index(index);
                let mut retire = false;
                if wanted != nice {
                    // Lowering nice needs privilege; a thread stuck at a low priority
                    // retires after this item rather than run normal work slowly.
                    retire = !sys::set_thread_nice(wanted) && wanted < nice;
                    nice = sys::thread_nice();
                }
                crate::qos::set_current(qos_of_index(index));
                // SAFETY: the item was just popped from root list `index`.
                unsafe { run_root_item(&ROOT_QUEUES[index], item) };
                if retire && self.retire(tid) {
                    return;
                }
                continue;
            }
            if self.spin_for_work() {
                continue;
            }
            let epoch = self.wake_epoch.load(SeqCst);
            self.sleepers.enter();
            if self.has_work() {
                self.sleepers.leave();
                continue;
            }
            let deadline = sys::now_ns(Clock::Monotonic) + IDLE_TIMEOUT.as_nanos() as u64;
            let r = sys::futex_wait(&self.wake_epoch, epoch, Some((Clock::Monotonic, deadline)));
            self.sleepers.leave();
            if r == WaitResult::TimedOut && self.retire(tid) {
                return;
            }
        }
    }

    /// Leaves the pool unless work arrived meanwhile. Returns whether the thread retired.
    fn retire(&self, tid: u32) -> bool {
        self.threads.fetch_sub(1, SeqCst);
        if self.has_work() {
            self.threads.fetch_add(1, SeqCst);
            return false;
        }
        self.workers.lock().unwrap_or_else(|e| e.into_inner()).retain(|&t| t != tid);
        true
    }

    fn spin_for_work(&self) -> bool {
        for _ in 0..SPIN_ROUNDS {
            if self.has_work() {
                return true;
            }
            for _ in 0..32 {
                core::hint::spin_loop();
            }
        }
        std::thread::yield_now();
        self.has_work()
    }

    fn monitor_main(&'static self) {
        let mut pops_seen = usize::MAX;
        loop {
            let epoch = self.monitor_epoch.load(SeqCst);
            self.monitor_sleeping.store(true, SeqCst);
            if self.pending.load(SeqCst) == 0 {
                sys::futex_wait(&self.monitor_epoch, epoch, None);
                self.monitor_sleeping.store(false, SeqCst);
                continue;
            }
            self.monitor_sleeping.store(false, SeqCst);
            std::thread::sleep(MONITOR_PERIOD);
            let pending = self.pending.load(SeqCst);
            if pending == 0 || self.sleepers.any_unclaimed() {
                continue;
            }
            let tids = self.workers.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let runnable = tids.iter().filter(|&&t| !sys::thread_is_blocked(t)).count();
            let mut wanted = self.cpus.saturating_sub(runnable).min(pending);
            // Overcommit items must not wait for busy workers: if some waited a whole
            // period while no worker took anything, each gets a thread of its own.
            let pops = self.pops.load(SeqCst);
            let starving = self.overcommit_pending.load(SeqCst);
            if starving > 0 && pops == pops_seen {
                wanted = wanted.max(starving);
            }
            pops_seen = pops;
            for _ in 0..wanted {
                if !self.try_spawn(MAX_THREADS) {
                    break;
                }
            }
        }
    }
}
