//! The worker pool that serves the root (global) queues.
//!
//! One run list per root queue (QoS class × overcommit), one set of workers for all of
//! them. A worker always takes the first item of the highest non-empty list (a bitmask
//! of non-empty lists makes that one load), sets its nice value for that QoS (background
//! work runs at lower OS priority), and runs the item.
//!
//! The pool knows nothing of queues: an item is a [`job::Item`] header, and a worker hands
//! each one, with the index of its list, to the [`Runner`] the queue layer passes to
//! [`push`] (rayon-core's type-erased `JobRef`, with the execute function shared by all).
//!
//! ## Thread budget
//!
//! * A push wakes one parked worker if one is not already claimed by an earlier push
//!   (see `sleepers.rs`: each push gets a worker of its own).
//! * Otherwise it starts a worker when fewer than one per CPU exist.
//! * Otherwise the pool is saturated and the *monitor* is told. While work is pending
//!   and no worker is idle, the monitor checks every [`MONITOR_PERIOD`] how many workers
//!   are actually runnable (`/proc/self/task/<tid>/stat`); for each CPU left idle because
//!   workers are blocked (in `sleep`, I/O, a lock) it starts one more worker, and while CPUs
//!   are left idle so, also a quarter of the blocked workers (geometric growth up to
//!   [`GROWTH_LIMIT`], `workers_wanted`). When nothing is pending it sleeps (`sleepers::MonitorBell`): an idle process has no periodic tick.
//!   For overcommit lists it also adds one thread per waiting item when those items waited a whole period
//!   while no worker took anything: every overcommit item gets a thread even if all the
//!   others block or spin, yet a stream of short items (a contended queue re-enqueued over
//!   and over) does not spawn a thread per push.
//! * Idle workers spin briefly, then park (`sleepers::Idle`, on a `park::Epoch`); one that
//!   stays parked for [`IDLE_TIMEOUT`] retires.
//!
//! ## Wake protocol
//!
//! Push: append (`run_list.rs`: one CAS, no lock), `pending += 1` (the list's own count, on
//! the cache line the CAS just took: no second line per push); then, unless a worker is
//! *searching* (spinning for work between items), claim a parked worker. A searching worker
//! stops searching before its last look at the lists, so a push that saw it searching is
//! seen by that look; when the look finds work and more items are pending, the worker
//! does what the skipped pushes would have done (`Pool::make_sure_someone_looks`), so a
//! burst of pushes still fans out, one wake-up at a time (`sleepers.rs` models it).
//!
//! Then a push claims a parked worker. Park: enter the parked
//! count, then re-check the lists before sleeping on the epoch read *before* entering. Both sides are SeqCst,
//! so either the pusher sees the idle worker (and bumps the epoch, failing its sleep) or
//! the worker sees the item (`sleepers.rs`: the protocol and its loom models). Retiring
//! decrements `threads` before its last look at the lists, so a pusher that saw the old
//! count cannot strand an item.

pub mod job;
mod run_list;
mod sleepers;

use crate::park::WaitResult;
use crate::primitive::{AtomicU32, AtomicU8, AtomicUsize};
use crate::qos::{nice_of_index, qos_of_index, ROOT_COUNT};
use crate::sys::{self, Clock};
use core::sync::atomic::Ordering::{Relaxed, SeqCst};
use crossbeam_utils::CachePadded;
use job::Item;
use run_list::RunList;
use sleepers::{Idle, MonitorBell};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Hard cap on worker threads: with the monitor and the event thread, the library runs at
/// most 255 threads, the reference's worker limit.
pub const MAX_THREADS: usize = 253;
/// How long a parked worker waits for work before it retires: under the 5 s after which an
/// idle process should be back to its service threads (issue 12), so that the retirement
/// of workers that parked up to a few hundred ms after the process went idle (the last
/// wake-ups of a burst) is not a race with that deadline.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// How often the monitor looks at a saturated pool.
pub const MONITOR_PERIOD: Duration = Duration::from_millis(2);
/// Workers beyond which the monitor grows the pool by `cpus` a period only.
const GROWTH_LIMIT: usize = MAX_THREADS * 3 / 4;
/// Spin rounds before parking.
const SPIN_ROUNDS: u32 = 8;
/// Longest pause between two attempts to create a thread the system refused (the thread
/// limit, `RLIMIT_NPROC`, or no memory for a stack): the delay doubles from
/// [`MONITOR_PERIOD`] up to this, so a limit lifted later is noticed within 100 ms while a
/// process stuck at its limit does not spin on `clone`.
const MAX_SPAWN_BACKOFF: Duration = Duration::from_millis(100);

/// `Pool::monitor` states.
const MONITOR_NONE: u8 = 0;
const MONITOR_STARTING: u8 = 1;
const MONITOR_RUNNING: u8 = 2;

/// What [`Pool::try_spawn`] did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spawn {
    Started,
    /// The pool already has `limit` workers.
    AtLimit,
    /// The system refused the thread; someone must try again later.
    Refused,
}

struct Pool {
    lists: [CachePadded<RunList>; ROOT_COUNT],
    /// Bit `i` set while list `i` is non-empty (see `run_list.rs`: set by the push that
    /// found it empty, cleared by a pop that found it empty).
    nonempty: CachePadded<AtomicU32>,
    threads: AtomicUsize,
    /// Parked workers and their wake-up epoch (`sleepers.rs`).
    idle: Idle,
    cpus: usize,
    workers: Mutex<Vec<u32>>,
    /// The monitor's sleep while nothing is pending (`sleepers.rs`).
    monitor_bell: MonitorBell,
    /// `MONITOR_NONE` until a thread succeeds in starting the monitor (then `RUNNING` for
    /// good); `STARTING` while one thread tries, which keeps trying until it succeeds.
    monitor: AtomicU8,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| Pool {
    lists: core::array::from_fn(|_| CachePadded::new(RunList::new())),
    nonempty: CachePadded::new(AtomicU32::new(0)),
    threads: AtomicUsize::new(0),
    idle: Idle::new(),
    cpus: sys::cpu_count(),
    // Reserved up front so a new worker's registration never calls `malloc`: glibc would
    // give the worker an arena of its own (64 MiB of address space) for that one push.
    workers: Mutex::new(Vec::with_capacity(MAX_THREADS)),
    monitor_bell: MonitorBell::new(),
    monitor: AtomicU8::new(MONITOR_NONE),
});

/// What a worker calls with each item it pops, and the list it came from: the queue layer's
/// runner, handed over by [`push`] (the pool may not name the queues above it).
pub type Runner = unsafe fn(index: usize, item: *mut Item);

/// The runner and the pool, set together by the first push (every push passes the same
/// function), so that a push checks one initialisation, not two. Workers are started only
/// by pushes (or by the monitor, which a push started), so a worker always finds it set; it
/// reads the runner once and calls it per item (one indirect call).
static READY: std::sync::OnceLock<(Runner, &'static Pool)> = std::sync::OnceLock::new();

/// Appends `item` to root list `index` and makes sure a worker will run it with `run`.
///
/// The common push (while a worker is searching) makes no call and keeps no stack frame:
/// the first push's initialisation and the wake-up are out of line. Not inlined itself, so
/// that the queue layer's push stays small enough to inline into `dispatch_async_f`.
#[inline(never)]
pub fn push(index: usize, item: *mut Item, run: Runner) {
    match READY.get() {
        Some(&(_, pool)) => pool.append(index, item),
        None => first_push(index, item, run),
    }
}

#[cold]
#[inline(never)]
fn first_push(index: usize, item: *mut Item, run: Runner) {
    let &(_, pool) = READY.get_or_init(|| (run, &*POOL));
    pool.append(index, item)
}

impl Pool {
    #[inline(always)]
    fn append(&'static self, index: usize, item: *mut Item) {
        // Not `lists[index]`: its panic is a call, which would give every push a frame.
        let Some(list) = self.lists.get(index) else {
            return no_such_list(index);
        };
        // Counted before it is appended: the consumer whose swap takes the item then finds
        // it counted when it pops the item below, which is what makes skipping the look
        // below safe (`run_list.rs`, "Pushes onto a non-empty inbox").
        list.pending.fetch_add(1, SeqCst);
        let inbox_was_empty = list.push(item, &self.nonempty, 1 << index);
        // Onto a non-empty inbox: the item below ours made sure someone looks, and whoever
        // takes it takes ours in the same swap, then wakes the next worker (`Pool::pop`).
        if inbox_was_empty {
            self.make_sure_someone_looks();
        }
    }
}

/// Returns `()` (and aborts) so that `append` reaches it by a tail jump.
#[cold]
#[inline(never)]
fn no_such_list(index: usize) {
    sys::abort_with_message(&format!("dispatch internal error: no root run list {index}"))
}

/// The CPUs the pool sizes itself by (`sys::cpu_count`, read once when the pool was made:
/// it reads the cgroup's quota files and the affinity mask, ~120 µs here).
pub fn cpus() -> usize {
    POOL.cpus
}

/// Whether some item waits on a root list for a worker: what a worker that has run a whole
/// batch of one queue's items asks before it keeps that queue (`queue/drain.rs`). With
/// nothing waiting, handing the queue back to its root list would only make it migrate to
/// another worker (a searching one takes it) or start one, with nothing gained.
pub fn items_waiting() -> bool {
    // A hint, read between batches (twelve loads); an item it misses was pushed by a thread
    // that then woke or started a worker for it, and the next batch boundary sees it.
    POOL.pending() != 0
}

fn is_overcommit(index: usize) -> bool {
    index % 2 == 1
}

impl Pool {
    /// After an append (or after a searching worker found work and more remains): makes
    /// sure a worker will look at the lists. Nothing to do while a worker is searching
    /// (it looks again after it stops searching, see `sleepers.rs`); otherwise claim and
    /// wake a parked worker, else start one, else tell the monitor.
    #[inline]
    fn make_sure_someone_looks(&'static self) {
        if !self.idle.anyone_searching() {
            self.wake_someone();
        }
    }

    /// [`Pool::make_sure_someone_looks`] once no worker is searching: out of line, so that
    /// a push that finds a searcher returns without a stack frame.
    #[inline(never)]
    fn wake_someone(&'static self) {
        if self.idle.wake_claimed() {
            return;
        }
        // A worker per CPU exists already (the common case when every worker is busy):
        // straight to the monitor, without `try_spawn`'s call and CAS loop.
        if self.threads.load(SeqCst) >= self.cpus || self.try_spawn(self.cpus) != Spawn::Started {
            self.monitor_bell.ring();
        }
    }

    /// Starts a worker if fewer than `limit` exist.
    ///
    /// The monitor is started first: it is what retries a worker the system refused, so
    /// once it runs, a refusal here only delays the item until the monitor's next attempt.
    fn try_spawn(&'static self, limit: usize) -> Spawn {
        let mut n = self.threads.load(SeqCst);
        loop {
            if n >= limit.min(MAX_THREADS) {
                return Spawn::AtLimit;
            }
            match self.threads.compare_exchange(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        crate::threads::will_start_thread();
        self.ensure_monitor();
        let spawned =
            sys::thread::spawn(c"dispatch-worker", sys::thread::WORKER_STACK_SIZE, || POOL.worker_main());
        if spawned.is_err() {
            self.threads.fetch_sub(1, SeqCst);
            return Spawn::Refused;
        }
        Spawn::Started
    }

    /// Makes sure the monitor thread runs, retrying with back-off for as long as the
    /// system refuses it.
    ///
    /// This is the one place a pusher may wait: without a monitor, nothing would retry a
    /// refused worker, and an item pushed while the thread limit is reached would wait
    /// for some unrelated later push (the reference port retries the same way, once a
    /// second, for every worker). It happens at most until the monitor's first successful
    /// start, since the monitor never exits. A pusher that finds another thread already
    /// starting it returns at once: that thread keeps trying until it succeeds.
    fn ensure_monitor(&'static self) {
        let mut backoff = MONITOR_PERIOD;
        while self.monitor.load(SeqCst) == MONITOR_NONE {
            if self.monitor.compare_exchange(MONITOR_NONE, MONITOR_STARTING, SeqCst, SeqCst).is_err() {
                return;
            }
            let started = sys::thread::spawn(c"dispatch-monitor", sys::thread::SERVICE_STACK_SIZE, || {
                POOL.monitor_main()
            });
            if started.is_ok() {
                self.monitor.store(MONITOR_RUNNING, SeqCst);
                return;
            }
            // Back to NONE while sleeping, so that the state never claims a start that
            // nobody is attempting (our caller could be a thread that never comes back).
            self.monitor.store(MONITOR_NONE, SeqCst);
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_SPAWN_BACKOFF);
        }
    }

    /// Items appended to any list and not yet taken. The sum of the lists' own counts
    /// (see `RunList::pending`): each is SeqCst, so a monitor that reads every count as 0
    /// after its `prepare` is rung for any item whose increment it missed, by its push
    /// (`wake_someone`) or, for one stacked on a non-empty inbox, by the worker that pops
    /// the item below it and finds it counted (`Pool::pop`).
    fn pending(&self) -> usize {
        self.lists.iter().map(|l| l.pending.load(SeqCst)).sum()
    }

    /// Items waiting on overcommit lists (the monitor's starvation check).
    fn overcommit_pending(&self) -> usize {
        let lists = self.lists.iter().enumerate().filter(|&(i, _)| is_overcommit(i));
        lists.map(|(_, l)| l.pending.load(SeqCst)).sum()
    }

    /// Items taken by workers so far (progress, for the starvation check).
    fn pops(&self) -> usize {
        self.lists.iter().map(|l| l.pops.load(Relaxed)).fold(0, usize::wrapping_add)
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
            let list = &self.lists[index];
            let item = list.pop(&self.nonempty, 1 << index);
            if let Some(item) = item {
                let others = || self.nonempty.load(SeqCst) & !(1 << index) != 0;
                if list.pending.fetch_sub(1, SeqCst) > 1 || others() {
                    // Work is left behind this item: the monitor must be watching, in case
                    // this worker (and the others) block in it. Its pushes may not have
                    // told the monitor: a push relies on a searching or parked worker when
                    // there is one, and the monitor sleeps whenever nothing is pending.
                    // One load while it is awake; a wake-up once per backlog otherwise.
                    self.monitor_bell.ring();
                    // And the work behind must not wait for this one: pushes made while a
                    // worker searched woke nobody, so each worker that takes an item with
                    // more behind it wakes a parked one, if any is unpromised and nobody
                    // searches (a chain, as Go's spinning threads do; one load when every
                    // worker is busy). Without it a burst on a pool of parked workers was
                    // fanned out by the monitor alone, one worker per look.
                    if self.idle.any_unclaimed() && !self.idle.anyone_searching() {
                        self.idle.wake_claimed();
                    }
                }
                return Some((index, item));
            }
        }
    }

    fn worker_main(&'static self) {
        let tid = sys::gettid();
        // A worker is only started after a push installed the runner.
        let (run, _) = *READY.get().expect("a push installed the runner before any worker starts");
        self.workers.lock().unwrap_or_else(|e| e.into_inner()).push(tid);
        // The worker frees its work-item cache itself when it retires (no thread-local
        // destructor: registering one would give the worker a malloc arena).
        sys::slab::manage_thread_cache();
        let mut nice = 0;
        // The root list whose QoS and nice value the thread has (`qos::set_current` is a
        // thread-local write: once per change, not per item; whatever raises the QoS for one
        // item restores it).
        let mut qos_index = usize::MAX;
        loop {
            if let Some((index, item)) = self.pop() {
                let mut retire = false;
                if index != qos_index {
                    let wanted = nice_of_index(index);
                    if wanted != nice {
                        // Lowering nice needs privilege; a thread stuck at a low priority
                        // retires after this item rather than run normal work slowly.
                        retire = !sys::set_thread_nice(wanted) && wanted < nice;
                        nice = sys::thread_nice();
                    }
                    crate::qos::set_current(qos_of_index(index));
                    // A thread that could not reach the list's nice value retires after
                    // this item; otherwise the next item of the same list needs no change.
                    qos_index = if retire { usize::MAX } else { index };
                }
                // SAFETY: the item was just popped from root list `index`.
                unsafe { run(index, item) };
                if retire && self.retire(tid) {
                    sys::slab::release_thread_cache();
                    return;
                }
                continue;
            }
            if self.spin_for_work() {
                continue;
            }
            let ticket = self.idle.prepare();
            if self.has_work() {
                self.idle.cancel();
                continue;
            }
            let deadline = sys::now_ns(Clock::Monotonic) + IDLE_TIMEOUT.as_nanos() as u64;
            let r = self.idle.park(ticket, Some((Clock::Monotonic, deadline)));
            if r == WaitResult::TimedOut && self.retire(tid) {
                sys::slab::release_thread_cache();
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

    /// Spins a little, counted as searching (pushes meanwhile leave the wake-up to us).
    /// Having stopped searching, with work seen, the worker passes the duty on if more
    /// work is pending than it takes: the one that leaves the searching state with work
    /// around makes sure someone looks (Go's scheduler does the same with its spinning
    /// threads), so items pushed while it searched are not left to it alone.
    fn spin_for_work(&'static self) -> bool {
        self.idle.start_search();
        let mut found = false;
        for _ in 0..SPIN_ROUNDS {
            if self.has_work() {
                found = true;
                break;
            }
            for _ in 0..32 {
                core::hint::spin_loop();
            }
        }
        if !found {
            std::thread::yield_now();
        }
        self.idle.stop_search();
        // After `stop_search`: a push that saw us searching appended before this look.
        if self.has_work() {
            if self.pending() > 1 {
                self.make_sure_someone_looks();
            }
            return true;
        }
        false
    }

    fn monitor_main(&'static self) {
        let mut pops_seen = usize::MAX;
        // Pause before the next look; grows while the system refuses threads.
        let mut period = MONITOR_PERIOD;
        loop {
            let ticket = self.monitor_bell.prepare();
            if self.pending() == 0 {
                period = MONITOR_PERIOD;
                self.monitor_bell.sleep(ticket);
                self.monitor_bell.awake();
                continue;
            }
            self.monitor_bell.awake();
            std::thread::sleep(period);
            let pending = self.pending();
            if pending == 0 {
                continue;
            }
            if self.idle.any_unclaimed() {
                // Work waits while a worker sleeps unpromised: wake it rather than start
                // another. (A push skips the wake while some worker searches, and that
                // worker passes the duty on; this is the backstop should a pass be lost.)
                self.idle.wake_claimed();
                continue;
            }
            let tids = self.workers.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let runnable = tids.iter().filter(|&&t| !sys::thread_is_blocked(t)).count();
            let mut wanted = workers_wanted(self.cpus, tids.len(), runnable, pending);
            // Overcommit items must not wait for busy workers: if some waited a whole
            // period while no worker took anything, each gets a thread of its own.
            let pops = self.pops();
            let starving = self.overcommit_pending();
            if starving > 0 && pops == pops_seen {
                wanted = wanted.max(starving);
            }
            pops_seen = pops;
            let mut refused = false;
            for _ in 0..wanted {
                match self.try_spawn(MAX_THREADS) {
                    Spawn::Started => {}
                    Spawn::AtLimit => break,
                    Spawn::Refused => {
                        refused = true;
                        break;
                    }
                }
            }
            // Refused: the items stay pending, so the loop comes back here (it does not
            // sleep on its bell) after a pause that doubles while refusals last.
            period = if refused { (period * 2).min(MAX_SPAWN_BACKOFF) } else { MONITOR_PERIOD };
        }
    }
}

/// How many workers the monitor starts when it finds `workers` workers, `runnable` of them
/// not blocked, and `pending` items waiting: one per CPU left idle by blocked workers, and,
/// while CPUs are idle, also a quarter of the blocked workers, so that a burst of blocking
/// items gets its threads geometrically (from 2 to 128 in about 20 looks, 40 ms) instead of
/// `cpus` a look (the pool of a 2-CPU machine took 250 ms to reach 128). The geometric
/// part stops at [`GROWTH_LIMIT`]; never more than the items waiting.
fn workers_wanted(cpus: usize, workers: usize, runnable: usize, pending: usize) -> usize {
    let mut wanted = cpus.saturating_sub(runnable);
    if wanted > 0 && workers < GROWTH_LIMIT {
        let blocked = workers - runnable.min(workers);
        wanted = wanted.max((blocked / 4).min(GROWTH_LIMIT - workers));
    }
    wanted.min(pending)
}

/// The pool's locks, held across `fork` (see `crate::fork`): the worker list, then every
/// run list in index order (no code path holds two of them, so the order is free).
pub(crate) struct ForkHeld {
    workers: std::sync::MutexGuard<'static, Vec<u32>>,
    lists: [run_list::ForkHeld; ROOT_COUNT],
}

/// `fork` prepare: takes every pool lock the child could need.
pub(crate) fn lock_for_fork() -> ForkHeld {
    let pool: &'static Pool = &POOL;
    ForkHeld {
        workers: pool.workers.lock().unwrap_or_else(|e| e.into_inner()),
        lists: core::array::from_fn(|i| pool.lists[i].lock_for_fork()),
    }
}

/// Whether the pool ever started a thread (the monitor starts with the first worker and
/// never exits).
pub(crate) fn had_threads() -> bool {
    POOL.monitor.load(SeqCst) != MONITOR_NONE || POOL.threads.load(SeqCst) > 0
}

/// `fork` child: the child has only the forking thread, so the pool starts over with no
/// worker, no sleeper and no claim. Items that were queued and not yet taken stay queued
/// (the copied memory holds them, and queues marked enqueued depend on them being run):
/// the counters are recomputed from the lists, a worker is started for them, and the
/// monitor is restarted if the parent had one.
pub(crate) fn reset_in_child(held: ForkHeld) {
    let pool: &'static Pool = &POOL;
    let ForkHeld { mut workers, lists } = held;
    workers.clear();
    for (index, list) in lists.iter().enumerate() {
        pool.lists[index].pending.store(list.len(), SeqCst);
    }
    let pending = pool.pending();
    pool.threads.store(0, SeqCst);
    pool.idle.reset();
    pool.monitor_bell.reset();
    drop(lists);
    drop(workers);
    // A parent thread may have been starting the monitor at the fork: start over.
    if pool.monitor.swap(MONITOR_NONE, SeqCst) != MONITOR_NONE {
        pool.ensure_monitor();
    }
    if pending > 0 {
        let _ = pool.try_spawn(pool.cpus); // a refusal is retried by the monitor
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// CPU-bound workers (as many runnable as CPUs) get no company, however much waits.
    #[test]
    fn no_worker_while_the_cpus_are_busy() {
        assert_eq!(workers_wanted(2, 2, 2, 1000), 0);
        assert_eq!(workers_wanted(2, 40, 2, 1000), 0);
    }

    /// Every worker blocked: one per idle CPU, plus a quarter of the blocked ones, so the
    /// pool grows geometrically (2 to 128 in under 25 looks), stops growing that way at the
    /// limit, and never beyond what waits.
    #[test]
    fn blocked_workers_grow_the_pool_geometrically() {
        assert_eq!(workers_wanted(2, 2, 0, 1000), 2, "small pools: one per idle CPU");
        assert_eq!(workers_wanted(2, 40, 0, 1000), 10, "a quarter of the blocked workers");
        assert_eq!(workers_wanted(2, 40, 1, 1000), 9, "blocked ones only");
        let mut workers = 2;
        let mut looks = 0;
        while workers < 128 {
            workers += workers_wanted(2, workers, 0, 1000);
            looks += 1;
        }
        assert!(looks <= 25, "{looks} looks to reach 128 workers");
        assert_eq!(workers_wanted(2, GROWTH_LIMIT - 3, 0, 1000), 3, "up to the limit");
        assert_eq!(workers_wanted(2, GROWTH_LIMIT + 10, 0, 1000), 2, "beyond it, one per CPU");
        assert_eq!(workers_wanted(2, 100, 0, 7), 7, "no more than what waits");
    }
}
