/*
 * soak.c: a time-bounded soak of the whole library through its C API.
 *
 * Usage: soak [SECONDS]   (default: $SOAK_SECONDS, else SOAK_DEFAULT_SECONDS = 30)
 *        make soak SECONDS=60
 * $SOAK_ONLY / $SOAK_SKIP (comma-separated workload names, listed below) select workloads.
 * capi-tests/test_soak_short.c includes this file with a 3-second default, so `make check`
 * runs a short soak too.
 *
 * One driver thread per workload submits work in rounds until the deadline, then every
 * driver drains its last round and the program checks and prints a summary. Workloads:
 *
 *   serial         serial queues (recreated every 16 rounds), async and sync items.
 *   concurrent     a concurrent queue with barriers between groups of items.
 *   concurrent-sync
 *                  the same with one dispatch_sync_f among every 31 items: the sync must
 *                  wait for the barrier submitted before it.
 *   chain-ss       a serial queue targeting a serial queue, items on both.
 *   chain-cs       a concurrent queue (with barriers) targeting a serial queue, items on both.
 *   chain-cc       a concurrent queue (with barriers and sync items) targeting a concurrent
 *                  queue, items on both.
 *   suspend        a serial or concurrent queue, or the serial target of a child queue, is
 *                  suspended; items submitted meanwhile must not run until it is resumed.
 *   group          group_async on global queues of every priority, enter + async + leave,
 *                  dispatch_after_f + leave, then group_notify_f and group_wait.
 *   semaphore      items signal a semaphore the driver waits on once per item; a semaphore
 *                  of value 1 used as a lock inside dispatch_apply.
 *   apply          dispatch_apply_f (auto and on a concurrent queue), nested applies.
 *   timer          repeating and one-shot timer sources created, run briefly, cancelled.
 *   data_add       DATA_ADD sources merged from the driver and from apply iterations.
 *
 * What is checked (any failure is a violation: reported, and the exit status is 1):
 *   - every item runs exactly once: each round's items own one byte of a per-round table,
 *     checked after the round drains; and in total executed == issued;
 *   - serial order: items of one serial queue run in submission order, one at a time
 *     (per-queue sequence number and an "inside" counter); queues that target a serial
 *     queue never overlap with each other (they share the target's counter);
 *   - barriers: a barrier runs alone, after every item submitted before it, and before
 *     every item submitted after it (per-queue epoch);
 *   - suspension: items submitted while their queue (or its target) is suspended do not run
 *     before the resume;
 *   - sources: no event handler after the cancel handler, the cancel handler exactly once,
 *     one-shot timers fire at most once, DATA_ADD handlers see exactly the merged sum;
 *   - threads bounded: /proc/self/task is sampled every 50 ms; the maximum must stay within
 *     the pool's cap (255) plus this program's own threads and a small allowance;
 *   - memory bounded: VmRSS is sampled; the value after the drain must not exceed the value
 *     at the end of the warm-up by more than 64 MiB ($SOAK_RSS_MARGIN_MB);
 *   - no hang: every wait is bounded (30 s); a watchdog ends the program SECONDS + 120 s in.
 *
 * Concurrency is never asserted (only counts, order, exclusion), so a concurrent queue
 * that runs its items one at a time passes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dispatch/dispatch.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SOAK_DEFAULT_SECONDS
#define SOAK_DEFAULT_SECONDS 30
#endif

#define SOAK_BATCH 256           /* items per round */
#define SOAK_WAIT_S 30           /* bound on every wait */
#define SOAK_POOL_CAP 255        /* the library's worker cap (src/pool MAX_THREADS) */

/* ---- clock, failures ---- */

static uint64_t soak_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void soak_sleep_us(unsigned us)
{
    struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t soak_deadline;
static atomic_bool soak_stop;
static atomic_ulong soak_violations;

static bool soak_running(void)
{
    return !atomic_load(&soak_stop) && soak_now_ns() < soak_deadline;
}

static void soak_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void soak_fail(const char *fmt, ...)
{
    unsigned long n = atomic_fetch_add(&soak_violations, 1);
    if (n >= 20)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "soak: VIOLATION: %s\n", buf);
}

static void soak_summary(bool final);

static void soak_hang(const char *what)
{
    fprintf(stderr, "soak: VIOLATION: HANG: %s did not finish within %d s\n", what, SOAK_WAIT_S);
    atomic_fetch_add(&soak_violations, 1);
    soak_summary(false);
    fflush(NULL);
    _exit(1);
}

static void soak_group_wait(dispatch_group_t g, const char *what)
{
    if (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, SOAK_WAIT_S * (int64_t)NSEC_PER_SEC)) != 0)
        soak_hang(what);
}

static void soak_sem_wait(dispatch_semaphore_t s, const char *what)
{
    if (dispatch_semaphore_wait(s, dispatch_time(DISPATCH_TIME_NOW, SOAK_WAIT_S * (int64_t)NSEC_PER_SEC)) != 0)
        soak_hang(what);
}

/* ---- exactly-once accounting ---- */

static atomic_ullong soak_issued, soak_executed;

struct batch {
    const char *name;
    atomic_uchar hits[SOAK_BATCH];
    unsigned used;
    unsigned long long rounds;
};

static void batch_reset(struct batch *b)
{
    for (unsigned i = 0; i < SOAK_BATCH; i++)
        atomic_store_explicit(&b->hits[i], 0, memory_order_relaxed);
    b->used = 0;
}

/* returns a fresh slot index of the round (the caller fills its item) */
static unsigned batch_take(struct batch *b)
{
    if (b->used >= SOAK_BATCH) {
        fprintf(stderr, "soak: internal error: batch %s overflow\n", b->name);
        abort();
    }
    atomic_fetch_add_explicit(&soak_issued, 1, memory_order_relaxed);
    return b->used++;
}

static void batch_hit(struct batch *b, unsigned idx)
{
    if (atomic_fetch_add(&b->hits[idx], 1) != 0)
        soak_fail("%s: item %u of round %llu ran twice", b->name, idx, b->rounds);
    atomic_fetch_add_explicit(&soak_executed, 1, memory_order_relaxed);
}

/* after the round drained: every issued item ran exactly once */
static void batch_check(struct batch *b)
{
    for (unsigned i = 0; i < b->used; i++) {
        unsigned h = atomic_load(&b->hits[i]);
        if (h != 1)
            soak_fail("%s: item %u of round %llu ran %u times", b->name, i, b->rounds, h);
    }
    b->rounds++;
    batch_reset(b);
}

/* ---- items: one handler checks order, exclusion, barriers, suspension ---- */

/* a serial queue: items run in submission order, one at a time */
struct lane {
    const char *name;
    atomic_int inside;
    atomic_uint next;      /* sequence number of the next item to run */
    unsigned issue;        /* next sequence number to hand out (driver only) */
};

/* a concurrent queue with barriers */
struct cq {
    const char *name;
    atomic_int inside;           /* non-barrier items running */
    atomic_uint epoch_done;      /* barriers completed */
    atomic_uint done_in_epoch;   /* items completed since the last barrier */
    unsigned epoch;              /* barriers submitted (driver only) */
    unsigned issued_in_epoch;    /* items submitted since the last barrier (driver only) */
};

struct item {
    struct batch *b;
    unsigned idx;
    struct lane *lane;     /* ordered and exclusive, or NULL */
    unsigned seq;
    atomic_int *excl;      /* exclusive only (a serial target shared by queues), or NULL */
    struct cq *cq;         /* concurrent queue with barriers, or NULL */
    unsigned epoch;
    unsigned barrier_expect;
    bool barrier;
    atomic_bool *held;     /* set while the queue is suspended, for items that must wait */
    const char *what;      /* which queue shape, for the report */
    dispatch_group_t leave;
};

static void item_run(void *ctx)
{
    struct item *it = ctx;
    const char *name = it->b->name;
    if (it->held && atomic_load(it->held))
        soak_fail("%s: item %u ran while its queue (%s) was suspended", name, it->idx, it->what);
    if (it->excl && atomic_fetch_add(it->excl, 1) != 0)
        soak_fail("%s: item %u overlapped another item of the same serial target", name, it->idx);
    if (it->lane) {
        if (atomic_fetch_add(&it->lane->inside, 1) != 0)
            soak_fail("%s: two items of serial queue %s ran at once", name, it->lane->name);
        unsigned expect = atomic_load_explicit(&it->lane->next, memory_order_relaxed);
        if (it->seq != expect)
            soak_fail("%s: serial queue %s ran item #%u when #%u was next", name, it->lane->name, it->seq, expect);
        atomic_store_explicit(&it->lane->next, it->seq + 1, memory_order_relaxed);
    }
    if (it->cq) {
        struct cq *q = it->cq;
        unsigned done = atomic_load(&q->epoch_done);
        if (it->barrier) {
            if (atomic_load(&q->inside) != 0)
                soak_fail("%s: barrier %u ran alongside %d items", name, it->epoch, atomic_load(&q->inside));
            if (done != it->epoch)
                soak_fail("%s: barrier %u ran when %u barriers were done", name, it->epoch, done);
            unsigned d = atomic_load(&q->done_in_epoch);
            if (d != it->barrier_expect)
                soak_fail("%s: barrier %u ran after %u of the %u items submitted before it", name, it->epoch, d,
                          it->barrier_expect);
            atomic_store(&q->done_in_epoch, 0);
            atomic_store(&q->epoch_done, done + 1);
        } else {
            atomic_fetch_add(&q->inside, 1);
            if (done != it->epoch)
                soak_fail("%s: item %u, submitted after barrier %u, ran when %u barriers were done", name, it->idx, it->epoch,
                          done);
            atomic_fetch_add(&q->done_in_epoch, 1);
            atomic_fetch_sub(&q->inside, 1);
        }
    }
    batch_hit(it->b, it->idx);
    if (it->lane)
        atomic_fetch_sub(&it->lane->inside, 1);
    if (it->excl)
        atomic_fetch_sub(it->excl, 1);
    if (it->leave)
        dispatch_group_leave(it->leave);
}

/* a fresh item of the round; the caller sets what applies */
static struct item *item_new(struct batch *b, struct item *items)
{
    unsigned i = batch_take(b);
    struct item *it = &items[i];
    memset(it, 0, sizeof *it);
    it->b = b;
    it->idx = i;
    return it;
}

static void item_on_lane(struct item *it, struct lane *l)
{
    it->lane = l;
    it->seq = l->issue++;
}

static void item_on_cq(struct item *it, struct cq *q)
{
    it->cq = q;
    it->epoch = q->epoch;
    q->issued_in_epoch++;
}

static void item_barrier_on_cq(struct item *it, struct cq *q)
{
    it->cq = q;
    it->barrier = true;
    it->epoch = q->epoch++;
    it->barrier_expect = q->issued_in_epoch;
    q->issued_in_epoch = 0;
}

static void submit_async(dispatch_group_t g, dispatch_queue_t q, struct item *it)
{
    dispatch_group_enter(g);
    it->leave = g;
    dispatch_async_f(q, it, item_run);
}

static void submit_barrier(dispatch_group_t g, dispatch_queue_t q, struct item *it)
{
    dispatch_group_enter(g);
    it->leave = g;
    dispatch_barrier_async_f(q, it, item_run);
}

static void lane_init(struct lane *l, const char *name)
{
    memset(l, 0, sizeof *l);
    l->name = name;
}

static void cq_init(struct cq *q, const char *name)
{
    memset(q, 0, sizeof *q);
    q->name = name;
}

/* ---- per-workload counters for the summary ---- */

enum { W_SERIAL, W_CONCURRENT, W_CONCURRENT_SYNC, W_CHAIN_SS, W_CHAIN_CS, W_CHAIN_CC, W_SUSPEND, W_GROUP, W_SEMAPHORE, W_APPLY,
       W_TIMER, W_DATA_ADD, W_COUNT };
static const char *const workload_names[W_COUNT] = { "serial", "concurrent", "concurrent-sync", "chain-ss",
                                                     "chain-cs", "chain-cc", "suspend", "group",
                                                     "semaphore", "apply", "timer", "data_add" };
static atomic_ullong workload_rounds[W_COUNT];

struct driver {
    int kind;
    int instance;
    struct batch batch;
    struct item items[SOAK_BATCH];
};

/* ---- workloads ---- */

static void round_serial(struct driver *d, dispatch_queue_t q, struct lane *lane)
{
    dispatch_group_t g = dispatch_group_create();
    for (unsigned i = 0; i < SOAK_BATCH; i++) {
        struct item *it = item_new(&d->batch, d->items);
        item_on_lane(it, lane);
        if (i % 64 == 63)
            dispatch_sync_f(q, it, item_run);
        else
            submit_async(g, q, it);
    }
    soak_group_wait(g, "serial round");
    dispatch_release(g);
    batch_check(&d->batch);
}

static void drive_serial(struct driver *d)
{
    while (soak_running()) {
        dispatch_queue_t q = dispatch_queue_create("soak.serial", NULL);
        struct lane lane;
        lane_init(&lane, "soak.serial");
        for (int r = 0; r < 16 && soak_running(); r++) {
            round_serial(d, q, &lane);
            atomic_fetch_add(&workload_rounds[W_SERIAL], 1);
        }
        dispatch_release(q);
    }
}

/* items on a concurrent queue, with a barrier after every 32 */
static void fill_cq(struct driver *d, dispatch_group_t g, dispatch_queue_t q, struct cq *state, unsigned n,
                    atomic_int *excl, bool with_sync)
{
    for (unsigned i = 0; i < n; i++) {
        struct item *it = item_new(&d->batch, d->items);
        it->excl = excl;
        if (i % 32 == 31) {
            item_barrier_on_cq(it, state);
            submit_barrier(g, q, it);
        } else {
            item_on_cq(it, state);
            if (with_sync && i % 32 == 7)
                dispatch_sync_f(q, it, item_run);
            else
                submit_async(g, q, it);
        }
    }
}

static void drive_concurrent(struct driver *d, bool with_sync)
{
    while (soak_running()) {
        dispatch_queue_t q = dispatch_queue_create("soak.concurrent", DISPATCH_QUEUE_CONCURRENT);
        struct cq state;
        cq_init(&state, "soak.concurrent");
        for (int r = 0; r < 8 && soak_running(); r++) {
            dispatch_group_t g = dispatch_group_create();
            fill_cq(d, g, q, &state, SOAK_BATCH, NULL, with_sync);
            soak_group_wait(g, "concurrent round");
            dispatch_release(g);
            batch_check(&d->batch);
            atomic_fetch_add(&workload_rounds[with_sync ? W_CONCURRENT_SYNC : W_CONCURRENT], 1);
        }
        dispatch_release(q);
    }
}

static void drive_chain_ss(struct driver *d)
{
    while (soak_running()) {
        dispatch_queue_t root = dispatch_queue_create("soak.ss.root", NULL);
        dispatch_queue_t child = dispatch_queue_create("soak.ss.child", NULL);
        dispatch_set_target_queue(child, root);
        struct lane lroot, lchild;
        lane_init(&lroot, "soak.ss.root");
        lane_init(&lchild, "soak.ss.child");
        atomic_int excl = 0;
        dispatch_group_t g = dispatch_group_create();
        for (unsigned i = 0; i < SOAK_BATCH; i++) {
            struct item *it = item_new(&d->batch, d->items);
            it->excl = &excl;
            bool on_child = (i % 3) != 0;
            item_on_lane(it, on_child ? &lchild : &lroot);
            if (i % 50 == 49)
                dispatch_sync_f(on_child ? child : root, it, item_run);
            else
                submit_async(g, on_child ? child : root, it);
        }
        soak_group_wait(g, "chain s->s round");
        dispatch_release(g);
        batch_check(&d->batch);
        dispatch_release(child);
        dispatch_release(root);
        atomic_fetch_add(&workload_rounds[W_CHAIN_SS], 1);
    }
}

static void drive_chain_cs(struct driver *d)
{
    while (soak_running()) {
        dispatch_queue_t root = dispatch_queue_create("soak.cs.root", NULL);
        dispatch_queue_t child = dispatch_queue_create("soak.cs.child", DISPATCH_QUEUE_CONCURRENT);
        dispatch_set_target_queue(child, root);
        struct lane lroot;
        lane_init(&lroot, "soak.cs.root");
        struct cq state;
        cq_init(&state, "soak.cs.child");
        atomic_int excl = 0;
        dispatch_group_t g = dispatch_group_create();
        fill_cq(d, g, child, &state, SOAK_BATCH / 2, &excl, false);
        for (unsigned i = 0; i < SOAK_BATCH / 2; i++) {
            struct item *it = item_new(&d->batch, d->items);
            it->excl = &excl;
            item_on_lane(it, &lroot);
            submit_async(g, root, it);
        }
        soak_group_wait(g, "chain c->s round");
        dispatch_release(g);
        batch_check(&d->batch);
        dispatch_release(child);
        dispatch_release(root);
        atomic_fetch_add(&workload_rounds[W_CHAIN_CS], 1);
    }
}

static void drive_chain_cc(struct driver *d)
{
    while (soak_running()) {
        dispatch_queue_t root = dispatch_queue_create("soak.cc.root", DISPATCH_QUEUE_CONCURRENT);
        dispatch_queue_t child = dispatch_queue_create("soak.cc.child", DISPATCH_QUEUE_CONCURRENT);
        dispatch_set_target_queue(child, root);
        struct cq state;
        cq_init(&state, "soak.cc.child");
        dispatch_group_t g = dispatch_group_create();
        fill_cq(d, g, child, &state, SOAK_BATCH / 2, NULL, true);
        for (unsigned i = 0; i < SOAK_BATCH / 2; i++) {
            struct item *it = item_new(&d->batch, d->items);
            if (i % 40 == 39)
                dispatch_sync_f(root, it, item_run);
            else
                submit_async(g, root, it);
        }
        soak_group_wait(g, "chain c->c round");
        dispatch_release(g);
        batch_check(&d->batch);
        dispatch_release(child);
        dispatch_release(root);
        atomic_fetch_add(&workload_rounds[W_CHAIN_CC], 1);
    }
}

static const char *const shape_names[] = { "serial", "concurrent", "serial target of a serial queue" };

static void drive_suspend(struct driver *d)
{
    unsigned r = 0;
    while (soak_running()) {
        /* 0: serial queue, 1: concurrent queue, 2: serial target of a serial child */
        int shape = (int)(r++ % 3);
        dispatch_queue_t q = dispatch_queue_create("soak.suspend", shape == 1 ? DISPATCH_QUEUE_CONCURRENT : NULL);
        dispatch_queue_t child = NULL;
        if (shape == 2) {
            child = dispatch_queue_create("soak.suspend.child", NULL);
            dispatch_set_target_queue(child, q);
        }
        dispatch_queue_t submit_to = child ? child : q;
        struct lane lane;
        lane_init(&lane, "soak.suspend");
        atomic_bool held = false;
        dispatch_group_t g = dispatch_group_create();
        for (unsigned i = 0; i < SOAK_BATCH / 2; i++) {
            struct item *it = item_new(&d->batch, d->items);
            if (shape != 1)
                item_on_lane(it, &lane);
            submit_async(g, submit_to, it);
        }
        dispatch_suspend(q);
        atomic_store(&held, true);
        for (unsigned i = 0; i < SOAK_BATCH / 2; i++) {
            struct item *it = item_new(&d->batch, d->items);
            if (shape != 1)
                item_on_lane(it, &lane);
            /* Suspending a target does not stop a child queue it is draining right now
               (the reference checks only the child's own suspension between items), so
               only the queue's own suspension holds items back for sure. */
            if (shape != 2)
                it->held = &held;
            it->what = shape_names[shape];
            submit_async(g, submit_to, it);
        }
        soak_sleep_us(500);
        atomic_store(&held, false);
        dispatch_resume(q);
        soak_group_wait(g, "suspend round");
        dispatch_release(g);
        batch_check(&d->batch);
        if (child)
            dispatch_release(child);
        dispatch_release(q);
        atomic_fetch_add(&workload_rounds[W_SUSPEND], 1);
    }
}

/* group: notify must see every item done */
struct notify_state {
    struct batch *b;
    atomic_int calls;
    unsigned expect;
    dispatch_semaphore_t sem;
};

static void group_notified(void *ctx)
{
    struct notify_state *n = ctx;
    unsigned done = 0;
    for (unsigned i = 0; i < n->expect; i++)
        done += atomic_load(&n->b->hits[i]) ? 1 : 0;
    if (done != n->expect)
        soak_fail("group: notify ran after %u of %u items", done, n->expect);
    atomic_fetch_add(&n->calls, 1);
    dispatch_semaphore_signal(n->sem);
}

static void drive_group(struct driver *d)
{
    static const long prios[] = { DISPATCH_QUEUE_PRIORITY_HIGH, DISPATCH_QUEUE_PRIORITY_DEFAULT,
                                  DISPATCH_QUEUE_PRIORITY_LOW, DISPATCH_QUEUE_PRIORITY_BACKGROUND };
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    while (soak_running()) {
        dispatch_group_t g = dispatch_group_create();
        dispatch_queue_t cq = dispatch_queue_create("soak.group", DISPATCH_QUEUE_CONCURRENT);
        for (unsigned i = 0; i < SOAK_BATCH; i++) {
            struct item *it = item_new(&d->batch, d->items);
            switch (i % 4) {
            case 0:
                dispatch_group_async_f(g, dispatch_get_global_queue(prios[(i / 4) % 4], 0), it, item_run);
                break;
            case 1:
                submit_async(g, cq, it);
                break;
            case 2:
                dispatch_group_enter(g);
                it->leave = g;
                dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, (int64_t)(i % 3) * 100000), cq, it, item_run);
                break;
            default:
                dispatch_group_async_f(g, cq, it, item_run);
                break;
            }
        }
        struct notify_state n = { &d->batch, 0, SOAK_BATCH, sem };
        dispatch_group_notify_f(g, cq, &n, group_notified);
        soak_sem_wait(sem, "group notify");
        soak_group_wait(g, "group round");
        if (atomic_load(&n.calls) != 1)
            soak_fail("group: notify ran %d times", atomic_load(&n.calls));
        dispatch_release(g);
        dispatch_release(cq);
        batch_check(&d->batch);
        atomic_fetch_add(&workload_rounds[W_GROUP], 1);
    }
    dispatch_release(sem);
}

/* semaphore: one signal per item */
struct sem_item {
    struct item item;
    dispatch_semaphore_t sem;
};

static struct sem_item sem_items[SOAK_BATCH];

static void sem_item_run(void *ctx)
{
    struct sem_item *s = ctx;
    item_run(&s->item);
    dispatch_semaphore_signal(s->sem);
}

/* a semaphore of value 1 as a lock around a critical section, inside dispatch_apply */
struct lock_apply {
    dispatch_semaphore_t lock;
    atomic_int inside;
    unsigned long long counter; /* guarded by the semaphore */
};

static void lock_apply_iter(void *ctx, size_t i)
{
    (void)i;
    struct lock_apply *l = ctx;
    if (dispatch_semaphore_wait(l->lock, dispatch_time(DISPATCH_TIME_NOW, SOAK_WAIT_S * (int64_t)NSEC_PER_SEC)) != 0)
        soak_hang("semaphore lock");
    if (atomic_fetch_add(&l->inside, 1) != 0)
        soak_fail("semaphore: two holders of a semaphore of value 1");
    l->counter++;
    atomic_fetch_sub(&l->inside, 1);
    dispatch_semaphore_signal(l->lock);
}

static void drive_semaphore(struct driver *d)
{
    struct lock_apply la = { dispatch_semaphore_create(1), 0, 0 };
    unsigned long long expect_counter = 0;
    while (soak_running()) {
        dispatch_semaphore_t sem = dispatch_semaphore_create(0);
        dispatch_queue_t cq = dispatch_queue_create("soak.semaphore", DISPATCH_QUEUE_CONCURRENT);
        for (unsigned i = 0; i < SOAK_BATCH; i++) {
            unsigned idx = batch_take(&d->batch);
            struct sem_item *s = &sem_items[idx];
            memset(&s->item, 0, sizeof s->item);
            s->item.b = &d->batch;
            s->item.idx = idx;
            s->sem = sem;
            dispatch_async_f(i % 2 ? cq : dispatch_get_global_queue(0, 0), s, sem_item_run);
        }
        for (unsigned i = 0; i < SOAK_BATCH; i++)
            soak_sem_wait(sem, "semaphore signal");
        if (dispatch_semaphore_wait(sem, DISPATCH_TIME_NOW) == 0)
            soak_fail("semaphore: acquired once more than it was signalled");
        batch_check(&d->batch);
        dispatch_apply_f(64, cq, &la, lock_apply_iter);
        expect_counter += 64;
        if (la.counter != expect_counter)
            soak_fail("semaphore: the locked counter is %llu, expected %llu", la.counter, expect_counter);
        dispatch_release(cq);
        dispatch_release(sem);
        atomic_fetch_add(&workload_rounds[W_SEMAPHORE], 1);
    }
    dispatch_release(la.lock);
}

/* apply: every index once; every 16th iteration runs a nested apply of 8 */
struct apply_ctx {
    struct batch *b;
    unsigned base;
    atomic_uint nested;
};

static void nested_iter(void *ctx, size_t i)
{
    (void)i;
    atomic_fetch_add(&((struct apply_ctx *)ctx)->nested, 1);
}

static void apply_iter(void *ctx, size_t i)
{
    struct apply_ctx *a = ctx;
    batch_hit(a->b, a->base + (unsigned)i);
    if (i % 16 == 0)
        dispatch_apply_f(8, DISPATCH_APPLY_AUTO, a, nested_iter);
}

static void drive_apply(struct driver *d)
{
    dispatch_queue_t cq = dispatch_queue_create("soak.apply", DISPATCH_QUEUE_CONCURRENT);
    unsigned r = 0;
    while (soak_running()) {
        struct apply_ctx a = { &d->batch, 0, 0 };
        for (unsigned i = 0; i < SOAK_BATCH; i++)
            batch_take(&d->batch);
        dispatch_apply_f(SOAK_BATCH, r++ % 2 ? cq : DISPATCH_APPLY_AUTO, &a, apply_iter);
        batch_check(&d->batch);
        unsigned expect = (SOAK_BATCH / 16) * 8;
        if (atomic_load(&a.nested) != expect)
            soak_fail("apply: %u nested iterations ran, expected %u", atomic_load(&a.nested), expect);
        atomic_fetch_add(&workload_rounds[W_APPLY], 1);
    }
    dispatch_release(cq);
}

static void soak_nothing(void *ctx)
{
    (void)ctx;
}

/* timers */
static atomic_ullong timer_fires, timers_created, timers_cancelled;

struct timer_state {
    atomic_uint fires;
    atomic_int cancelled;
    bool one_shot;
    dispatch_semaphore_t done;
};

static void timer_event(void *ctx)
{
    struct timer_state *t = ctx;
    if (atomic_load(&t->cancelled))
        soak_fail("timer: event handler ran after the cancel handler");
    unsigned f = atomic_fetch_add(&t->fires, 1) + 1;
    if (t->one_shot && f > 1)
        soak_fail("timer: a one-shot timer fired %u times", f);
    atomic_fetch_add_explicit(&timer_fires, 1, memory_order_relaxed);
}

static void timer_cancelled(void *ctx)
{
    struct timer_state *t = ctx;
    if (atomic_fetch_add(&t->cancelled, 1) != 0)
        soak_fail("timer: cancel handler ran twice");
    dispatch_semaphore_signal(t->done);
}

static void drive_timer(struct driver *d)
{
    (void)d;
    enum { K = 6 };
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    while (soak_running()) {
        dispatch_queue_t q = dispatch_queue_create("soak.timer", NULL);
        dispatch_source_t src[K];
        struct timer_state st[K];
        for (int i = 0; i < K; i++) {
            memset(&st[i], 0, sizeof st[i]);
            st[i].done = done;
            st[i].one_shot = i == K - 1;
            src[i] = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0,
                                            i % 2 ? q : dispatch_get_global_queue(0, 0));
            dispatch_set_context(src[i], &st[i]);
            dispatch_source_set_event_handler_f(src[i], timer_event);
            dispatch_source_set_cancel_handler_f(src[i], timer_cancelled);
            uint64_t interval = st[i].one_shot ? DISPATCH_TIME_FOREVER : (uint64_t)(i + 1) * NSEC_PER_MSEC;
            dispatch_source_set_timer(src[i], dispatch_time(DISPATCH_TIME_NOW, (int64_t)NSEC_PER_MSEC), interval, 0);
            dispatch_resume(src[i]);
            atomic_fetch_add(&timers_created, 1);
        }
        soak_sleep_us(10000);
        for (int i = 0; i < K; i++)
            dispatch_source_cancel(src[i]);
        for (int i = 0; i < K; i++)
            soak_sem_wait(done, "timer cancel handler");
        for (int i = 0; i < K; i++) {
            if (atomic_load(&st[i].cancelled) != 1)
                soak_fail("timer: cancel handler ran %d times", atomic_load(&st[i].cancelled));
            dispatch_release(src[i]);
            atomic_fetch_add(&timers_cancelled, 1);
        }
        /* the sources' last handler calls are over: their cancel handlers ran */
        dispatch_sync_f(q, NULL, soak_nothing); /* drain q */
        dispatch_release(q);
        atomic_fetch_add(&workload_rounds[W_TIMER], 1);
    }
    dispatch_release(done);
}

/* DATA_ADD sources */
static atomic_ullong data_sources, data_merged;

struct add_state {
    atomic_ullong sum;
    atomic_int cancelled;
    dispatch_semaphore_t done;
    dispatch_source_t src;
};

static void add_event(void *ctx)
{
    struct add_state *a = ctx;
    if (atomic_load(&a->cancelled))
        soak_fail("data_add: event handler ran after the cancel handler");
    atomic_fetch_add(&a->sum, dispatch_source_get_data(a->src));
}

static void add_cancelled(void *ctx)
{
    struct add_state *a = ctx;
    atomic_fetch_add(&a->cancelled, 1);
    dispatch_semaphore_signal(a->done);
}

static void add_merge_iter(void *ctx, size_t i)
{
    struct add_state *a = ctx;
    dispatch_source_merge_data(a->src, (uintptr_t)i + 1);
}

static void drive_data_add(struct driver *d)
{
    (void)d;
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    unsigned r = 0;
    while (soak_running()) {
        dispatch_queue_t q = dispatch_queue_create("soak.data_add", NULL);
        struct add_state a;
        memset(&a, 0, sizeof a);
        a.done = done;
        a.src = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
        dispatch_set_context(a.src, &a);
        dispatch_source_set_event_handler_f(a.src, add_event);
        dispatch_source_set_cancel_handler_f(a.src, add_cancelled);
        if (r++ % 2)
            dispatch_activate(a.src);
        else
            dispatch_resume(a.src);
        unsigned long long total = 0;
        for (unsigned i = 1; i <= 200; i++) {
            dispatch_source_merge_data(a.src, i);
            total += i;
        }
        dispatch_apply_f(100, DISPATCH_APPLY_AUTO, &a, add_merge_iter);
        total += 100 * 101 / 2;
        uint64_t limit = soak_now_ns() + SOAK_WAIT_S * 1000000000ull;
        while (atomic_load(&a.sum) != total && soak_now_ns() < limit)
            soak_sleep_us(200);
        if (atomic_load(&a.sum) != total)
            soak_fail("data_add: handlers saw a sum of %llu, %llu was merged", (unsigned long long)atomic_load(&a.sum),
                      total);
        dispatch_source_cancel(a.src);
        soak_sem_wait(done, "data_add cancel handler");
        if (atomic_load(&a.sum) != total)
            soak_fail("data_add: sum %llu after cancel, %llu was merged", (unsigned long long)atomic_load(&a.sum), total);
        dispatch_release(a.src);
        dispatch_sync_f(q, NULL, soak_nothing); /* drain q */
        dispatch_release(q);
        atomic_fetch_add(&data_sources, 1);
        atomic_fetch_add(&data_merged, 300);
        atomic_fetch_add(&workload_rounds[W_DATA_ADD], 1);
    }
    dispatch_release(done);
}

static bool name_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* $SOAK_ONLY: comma-separated workload names to run (default: all);
   $SOAK_SKIP: comma-separated workload names not to run */
static bool workload_enabled(int kind)
{
    const char *only = getenv("SOAK_ONLY"), *skip = getenv("SOAK_SKIP");
    if (skip && *skip && name_in_list(skip, workload_names[kind]))
        return false;
    return !only || !*only || name_in_list(only, workload_names[kind]);
}

static void *driver_main(void *arg)
{
    struct driver *d = arg;
    d->batch.name = workload_names[d->kind];
    batch_reset(&d->batch);
    if (!workload_enabled(d->kind))
        return NULL;
    switch (d->kind) {
    case W_SERIAL: drive_serial(d); break;
    case W_CONCURRENT: drive_concurrent(d, false); break;
    case W_CONCURRENT_SYNC: drive_concurrent(d, true); break;
    case W_CHAIN_SS: drive_chain_ss(d); break;
    case W_CHAIN_CS: drive_chain_cs(d); break;
    case W_CHAIN_CC: drive_chain_cc(d); break;
    case W_SUSPEND: drive_suspend(d); break;
    case W_GROUP: drive_group(d); break;
    case W_SEMAPHORE: drive_semaphore(d); break;
    case W_APPLY: drive_apply(d); break;
    case W_TIMER: drive_timer(d); break;
    case W_DATA_ADD: drive_data_add(d); break;
    }
    return NULL;
}

/* ---- sampling /proc ---- */

static long soak_task_count(void)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static long soak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static atomic_long max_threads, rss_initial, rss_start, rss_max, rss_end;
static atomic_bool sampler_stop;
static uint64_t warmup_end;

static void *sampler_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&sampler_stop)) {
        long t = soak_task_count();
        if (t > atomic_load(&max_threads))
            atomic_store(&max_threads, t);
        long r = soak_rss_kib();
        if (r > atomic_load(&rss_max))
            atomic_store(&rss_max, r);
        if (atomic_load(&rss_start) == 0 && soak_now_ns() >= warmup_end)
            atomic_store(&rss_start, r);
        soak_sleep_us(50000);
    }
    return NULL;
}

/* ---- main ---- */

static unsigned soak_seconds;
static long soak_thread_limit;
static long soak_rss_margin_kib;
static uint64_t soak_started;

static void soak_summary(bool final)
{
    unsigned long long issued = atomic_load(&soak_issued), executed = atomic_load(&soak_executed);
    double secs = (double)(soak_now_ns() - soak_started) / 1e9;
    printf("soak: %u s requested, %.1f s run; items issued %llu, executed %llu (%.0f/s)\n", soak_seconds, secs, issued,
           executed, secs > 0 ? (double)executed / secs : 0.0);
    printf("soak: rounds:");
    for (int w = 0; w < W_COUNT; w++)
        printf(" %s %llu%s", workload_names[w], (unsigned long long)atomic_load(&workload_rounds[w]),
               w + 1 < W_COUNT ? "," : "\n");
    printf("soak: timers created %llu, cancelled %llu, fired %llu; DATA_ADD sources %llu, merges %llu\n",
           (unsigned long long)atomic_load(&timers_created), (unsigned long long)atomic_load(&timers_cancelled),
           (unsigned long long)atomic_load(&timer_fires), (unsigned long long)atomic_load(&data_sources),
           (unsigned long long)atomic_load(&data_merged));
    printf("soak: threads max %ld (limit %ld)\n", atomic_load(&max_threads), soak_thread_limit);
    printf("soak: RSS KiB initial %ld, start (after warm-up) %ld, max %ld, end %ld (limit end <= start + %ld)\n",
           atomic_load(&rss_initial), atomic_load(&rss_start), atomic_load(&rss_max), atomic_load(&rss_end),
           soak_rss_margin_kib);
    unsigned long v = atomic_load(&soak_violations);
    printf("soak: %s (%lu violations)\n", final && v == 0 ? "PASS" : "FAIL", v);
    fflush(stdout);
}

static void soak_on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "soak: VIOLATION: watchdog: the run did not end in time\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(1);
}

static int soak_main(unsigned seconds)
{
    soak_seconds = seconds;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, soak_on_alarm);
    alarm(seconds + 120);

    /* one driver per workload, two for the serial queues */
    enum { NDRIVERS = W_COUNT + 1 };
    static struct driver drivers[NDRIVERS];
    for (int i = 0; i < NDRIVERS; i++) {
        drivers[i].kind = i < W_COUNT ? i : W_SERIAL;
        drivers[i].instance = i < W_COUNT ? 0 : 1;
    }
    /* the pool's cap, this program's threads (main, sampler, drivers) and a few for the
       library's own (event/timer thread, manager) */
    soak_thread_limit = SOAK_POOL_CAP + 2 + NDRIVERS + 8;
    const char *m = getenv("SOAK_RSS_MARGIN_MB");
    soak_rss_margin_kib = (m ? atol(m) : 64) * 1024;

    soak_started = soak_now_ns();
    soak_deadline = soak_started + (uint64_t)seconds * 1000000000ull;
    uint64_t warm = seconds / 5;
    warm = warm < 1 ? 1 : warm > 10 ? 10 : warm;
    warmup_end = soak_started + warm * 1000000000ull;
    atomic_store(&rss_initial, soak_rss_kib());

    pthread_t sampler, th[NDRIVERS];
    if (pthread_create(&sampler, NULL, sampler_main, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    for (int i = 0; i < NDRIVERS; i++)
        if (pthread_create(&th[i], NULL, driver_main, &drivers[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (int i = 0; i < NDRIVERS; i++)
        pthread_join(th[i], NULL);

    /* drained: every driver waited for its last round */
    soak_sleep_us(300000);
    atomic_store(&sampler_stop, true);
    pthread_join(sampler, NULL);
    long end = soak_rss_kib();
    atomic_store(&rss_end, end);
    if (atomic_load(&rss_start) == 0)
        atomic_store(&rss_start, end);

    unsigned long long issued = atomic_load(&soak_issued), executed = atomic_load(&soak_executed);
    if (issued != executed)
        soak_fail("%llu items issued but %llu executed", issued, executed);
    if (issued == 0)
        soak_fail("no item was issued");
    if (workload_enabled(W_TIMER) && atomic_load(&timer_fires) == 0)
        soak_fail("no timer fired in the whole run");
    for (int w = 0; w < W_COUNT; w++)
        if (workload_enabled(w) && atomic_load(&workload_rounds[w]) == 0)
            soak_fail("workload %s completed no round", workload_names[w]);
    if (atomic_load(&max_threads) > soak_thread_limit)
        soak_fail("%ld threads at most, more than the limit %ld", atomic_load(&max_threads), soak_thread_limit);
    if (end > atomic_load(&rss_start) + soak_rss_margin_kib)
        soak_fail("RSS grew from %ld KiB after warm-up to %ld KiB at the end", atomic_load(&rss_start), end);

    soak_summary(true);
    alarm(0);
    return atomic_load(&soak_violations) == 0 ? 0 : 1;
}

#ifndef SOAK_NO_MAIN
int main(int argc, char **argv)
{
    unsigned seconds = SOAK_DEFAULT_SECONDS;
    const char *env = getenv("SOAK_SECONDS");
    if (argc > 1)
        seconds = (unsigned)strtoul(argv[1], NULL, 10);
    else if (env && *env)
        seconds = (unsigned)strtoul(env, NULL, 10);
    if (seconds == 0)
        seconds = 1;
    return soak_main(seconds);
}
#endif
