/*
 * bench/bench.c: performance figures for a libdispatch implementation, each next to a
 * baseline written here with plain pthreads / futexes / clock_nanosleep.
 *
 * Uses only the public C API (function-pointer `_f` variants, no blocks), so it builds with
 *     gcc -std=gnu11 -O2 -pthread -fopenmp -Iinclude bench/bench.c -Ltarget/release -ldispatch
 * (-fopenmp for the OpenMP baseline of figure 15; without it that baseline is skipped)
 * and can run against any libdispatch.so through LD_LIBRARY_PATH.
 *
 * Method. Every throughput figure runs once as a warm-up, then REPS times; the median is
 * printed; a figure compared with its baseline through run_ratio_interleaved (figure 3's
 * serial queue, figure 17) alternates baseline and figure rounds and prints the median of the
 * per-round ratios. Latency distributions (after, timer) take REPS_DIST repetitions of a fixed number
 * of samples and print the median of each repetition's p50 and p99. Times come from
 * clock_gettime(CLOCK_MONOTONIC). Work functions write to counters that are checked
 * afterwards (a wrong count prints a WARNING), and busy loops go through asm barriers, so the
 * compiler cannot delete the measured work.
 *
 * Output: one line per figure, "name value unit"; baselines are named baseline_*; a
 * comparison is "ratio A/B value (target ...: met|not met)"; an absolute limit is
 * "check name value unit (target ...: met|not met)". Lines starting with '#' are comments.
 *
 * Figures (N = items per repetition):
 *  1 once_inline / once_call   dispatch_once_f on a predicate already done: the header's inline
 *                              fast path, and the exported function; ns per call.
 *  2 sync_*                    dispatch_sync_f of an increment on a serial and on a concurrent
 *                              queue, from one thread, then from 2 threads at once (wall time /
 *                              total calls). Baseline: pthread_mutex lock + increment + unlock,
 *                              1 and 2 threads.
 *  3 async_*                   dispatch_async_f of an increment onto a serial queue from 1 and 2
 *                              producer threads, timed until a final dispatch_sync_f returns;
 *                              dispatch_group_async_f onto the default global queue, timed until
 *                              dispatch_group_wait returns; ns per item. Baseline: a linked-list
 *                              work queue (malloc per item, mutex + condvar, one worker thread),
 *                              same item function and counts, timed until a final marker item
 *                              has run.
 *  4 rw_mix_barrier            concurrent queue, 90% dispatch_async_f readers, every 10th item
 *                              a dispatch_barrier_async_f writer, until a final
 *                              dispatch_barrier_sync_f; ns per item.
 *  5 apply_*                   dispatch_apply_f(DISPATCH_APPLY_AUTO) with 1,000,000 empty
 *                              iterations (ns/iteration), and with 2,000 iterations of ~20 us of
 *                              calibrated CPU work (an LCG loop). Baseline: a plain serial loop
 *                              over the same work; the ratio is the speedup.
 *  6 group_enter_leave         dispatch_group_enter + dispatch_group_leave; ns per pair.
 *  7 semaphore_pingpong        two dispatch semaphores bounced between the main thread and a
 *                              pthread; ns per round trip. Baseline: the same with raw futexes
 *                              (FUTEX_WAIT/FUTEX_WAKE on one word, no spinning).
 *  8 queue_hop                 a work item on serial queue A dispatch_async_f's itself to serial
 *                              queue B, which sends it back, N hops, then a semaphore; ns per
 *                              hop. A hop is a one-way hand-off, so it is compared with half a
 *                              futex round trip (baseline_futex_handoff).
 *  9 after_lateness            dispatch_after_f(now + 1 ms) on the default global queue, one at
 *                              a time, 200 samples: fire time - (time read before the call +
 *                              1 ms); p50/p99 in us. Baseline: clock_nanosleep(TIMER_ABSTIME,
 *                              now + 1 ms), same statistic; the two alternate repetition by
 *                              repetition, and the p99 ratio is the median of theirs.
 * 10 timer_jitter              a DISPATCH_SOURCE_TYPE_TIMER with 1 ms interval and 0 leeway on a
 *                              serial queue: |interval between handler calls - 1 ms| over 200
 *                              intervals, p50/p99 in us. Baseline (no target): a thread looping
 *                              on clock_nanosleep to absolute deadlines 1 ms apart.
 * 11 queue_create_release      dispatch_queue_create(serial) + dispatch_release; ns per pair.
 *    queue_bytes               100,000 serial queues kept alive: growth of malloc'd bytes
 *                              (mallinfo2 uordblks + hblkhd) per queue (RSS growth if the C
 *                              library has no mallinfo2).
 * 12 idle_cpu_2s               run last (the pool has threads by then): user+system CPU
 *                              of the whole process over the first 2 s of a 5 s sleep
 *                              (getrusage), and the threads beyond main (/proc/self/task) at
 *                              the end of the 5 s.
 * 13 fanout_block_50ms         64 items that each usleep(50 ms), dispatch_group_async_f onto the
 *                              default global queue: wall time until dispatch_group_wait
 *                              returns, and the peak thread count beyond main, polled from the
 *                              main thread every 1 ms (dispatch_group_wait with a 1 ms timeout).
 *                              Run first, so that its first (cold) run, printed separately,
 *                              starts from an unused pool; the peak is the maximum over all
 *                              runs.
 * 14 blocking_*_x_20ms         100 and 1,000 items that each usleep(20 ms), group_async onto
 *                              the default global queue: wall time, peak threads beyond main
 *                              (polled every 1 ms), and the ideal: ceil(items / peak) waves of
 *                              20 ms. Run after figure 11, so that its threads have retired
 *                              (or not) by figure 12.
 * 15 apply_*_x_*               dispatch_apply_f(DISPATCH_APPLY_AUTO) of the same ~40 ms of
 *                              CPU work cut into 2,000 iterations of 20 us and 200,000 of
 *                              0.2 us; wall ms, and the ratio of the two. Baseline: an OpenMP `#pragma omp parallel for` of the
 *                              same loop (build with -fopenmp; `make bench` does), run in a
 *                              forked child so that libgomp's threads, which live as long as
 *                              their process, do not count in figure 12. Library and
 *                              baseline alternate, round by round (each a warm run: the
 *                              second of two back-to-back); the ratio is the median of the
 *                              rounds' ratios.
 * 16 async_10*_queues          200,000 dispatch_async_f round-robin over 10 and over 10,000
 *                              serial queues; each item counts on its queue and the last one
 *                              signals a semaphore; ns per item, and the ratio. The two sets
 *                              alternate round by round; the ratio is the median of the
 *                              rounds' ratios.
 * 17 sync_serial_contended_*   dispatch_sync_f of an increment on one serial queue from 2
 *                              and from 8 threads at once, 100,000 calls in all; wall time /
 *                              calls, and the ratio (2- and 8-thread rounds interleaved, the
 *                              median of the rounds' ratios).
 * 18 timer_100x10ms_*          timers (issue 12): 100 repeating 10 ms timer sources on one
 *    set_timer_*_live          serial queue, leeway 0 and 5 ms: CPU and context switches per
 *                              second, fires counted and lost; dispatch_source_set_timer with
 *                              1k and 100k live timers (see the block "timers (issue 12)").
 *
 * Targets (for a 2-core machine) are printed next to each comparison. A watchdog (alarm,
 * re-armed per figure) ends the program if a figure hangs; waits on the library time out.
 */
#define _GNU_SOURCE
#include <dispatch/dispatch.h>

#include <dirent.h>
#include <errno.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 7      /* timed repetitions of a throughput figure, after one warm-up */
#define REPS_DIST 5 /* timed repetitions of a latency distribution, after one warm-up */
#define MAX_REPS 16
#define WATCHDOG_SECONDS 60 /* per figure */
#define WAIT_LIMIT_NS (30 * NSEC_PER_SEC) /* no single wait on the library may take longer */

/* ------------------------------------------------------------------------------------ */
/* Harness                                                                               */
/* ------------------------------------------------------------------------------------ */

static volatile uint64_t sink; /* results are stored here so they count as used */
static const char *volatile current_figure = "startup";
static int targets_met, targets_missed;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC), .tv_nsec = (long)(ns % NSEC_PER_SEC) };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
    }
}

static void on_watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "\nbench: watchdog: figure did not finish in time: ";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    r = write(STDERR_FILENO, current_figure, strlen(current_figure));
    r = write(STDERR_FILENO, "\n", 1);
    (void)r;
    _exit(2);
}

/* Names the figure being measured (for messages) and re-arms the watchdog. */
static void begin_figure(const char *name)
{
    current_figure = name;
    alarm(WATCHDOG_SECONDS);
}

static void die(const char *what)
{
    fflush(stdout);
    fprintf(stderr, "bench: %s (figure %s)\n", what, current_figure);
    _exit(1); /* without exit handlers: work items may still be running */
}

/* A timeout for waits on the library: long enough never to fire on a working system. */
static dispatch_time_t wait_limit(void)
{
    return dispatch_time(DISPATCH_TIME_NOW, (int64_t)WAIT_LIMIT_NS);
}

static void expect_count(const char *what, long got, long want)
{
    if (got != want)
        printf("# WARNING: %s: %s counted %ld, expected %ld\n", current_figure, what, got, want);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (0..100) of v[0..n); sorts v. */
static double percentile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int rank = (int)(p / 100.0 * n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One repetition of a figure; writes its value(s) to out[0] (and out[1] for a pair). */
typedef void (*rep_fn)(void *arg, double out[2]);

/* Warm-up, then `reps` repetitions; result[i] = median of out[i] over the repetitions. */
static void run_reps(rep_fn fn, void *arg, int reps, double result[2])
{
    double out[2] = { 0, 0 }, a[MAX_REPS], b[MAX_REPS];
    fn(arg, out); /* warm-up */
    for (int i = 0; i < reps; i++) {
        out[0] = out[1] = 0;
        fn(arg, out);
        a[i] = out[0];
        b[i] = out[1];
    }
    result[0] = median(a, reps);
    result[1] = median(b, reps);
}

static double run_median(rep_fn fn, void *arg)
{
    double r[2];
    run_reps(fn, arg, REPS, r);
    return r[0];
}

/*
 * A figure and its baseline measured in interleaved rounds: one warm-up of each, then `REPS`
 * rounds of (ref, fig), so that a change of machine phase (this VM jumps between two speed
 * levels for seconds at a time) hits both sides of a round alike, instead of deciding the
 * ratio when every baseline round runs before every figure round. out[0] = median of ref,
 * out[1] = median of fig, out[2] = median of the per-round ratios fig / ref (the reported
 * ratio; not the ratio of the two medians).
 */
static void run_ratio_interleaved(rep_fn ref, void *ref_arg, rep_fn fig, void *fig_arg,
                                  double out[3])
{
    double o[2] = { 0, 0 }, a[MAX_REPS], b[MAX_REPS], r[MAX_REPS];
    ref(ref_arg, o); /* warm-ups */
    fig(fig_arg, o);
    for (int i = 0; i < REPS; i++) {
        o[0] = o[1] = 0;
        ref(ref_arg, o);
        a[i] = o[0];
        o[0] = o[1] = 0;
        fig(fig_arg, o);
        b[i] = o[0];
        r[i] = a[i] > 0 ? b[i] / a[i] : 0;
    }
    out[0] = median(a, REPS);
    out[1] = median(b, REPS);
    out[2] = median(r, REPS);
}

/* ---- output ---- */

static const char *fmt(double v, char *buf, size_t n)
{
    double a = v < 0 ? -v : v;
    snprintf(buf, n, a >= 1000 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v);
    return buf;
}

static void report(const char *name, double v, const char *unit)
{
    char b[32];
    printf("%-40s %10s %s\n", name, fmt(v, b, sizeof b), unit);
}

static bool meets(double v, const char *cmp, double target)
{
    if (strcmp(cmp, "<") == 0)
        return v < target;
    if (strcmp(cmp, "<=") == 0)
        return v <= target;
    return v >= target;
}

static void verdict(double v, const char *cmp, double target, const char *unit)
{
    char b[32];
    if (cmp == NULL) {
        printf(" (no target)\n");
        return;
    }
    bool ok = meets(v, cmp, target);
    ok ? targets_met++ : targets_missed++;
    printf(" (target %s %s%s%s: %s)\n", cmp, fmt(target, b, sizeof b), *unit ? " " : "", unit,
           ok ? "met" : "not met");
}

/* "ratio num/den value (target cmp t: met)"; cmp NULL for an informational ratio. */
static void report_ratio(const char *num, const char *den, double ratio, const char *cmp,
                         double target)
{
    char name[96];
    snprintf(name, sizeof name, "%s/%s", num, den);
    printf("ratio %-50s %6.2f", name, ratio);
    verdict(ratio, cmp, target, "");
}

/* "check name value unit (target cmp t unit: met)" for an absolute limit. */
static void report_check(const char *name, double v, const char *unit, const char *cmp,
                         double target)
{
    char b[32];
    printf("check %-34s %10s %s", name, fmt(v, b, sizeof b), unit);
    verdict(v, cmp, target, unit);
}

/* ---- threads ---- */

struct team {
    pthread_barrier_t start;
    void *(*fn)(void *);
    void *arg;
};

static void *team_member(void *p)
{
    struct team *t = p;
    pthread_barrier_wait(&t->start);
    return t->fn(t->arg);
}

/* Runs fn(arg) on n new threads released together; returns when all have finished. The
 * result is the release time, so thread creation is not part of the measurement. It is
 * read before the main thread's own barrier wait: read after it, the threads could already
 * have done their work while the main thread waited for a CPU (seen with 8 threads). */
static uint64_t run_threads(int n, void *(*fn)(void *), void *arg)
{
    struct team t = { .fn = fn, .arg = arg };
    pthread_t th[8];
    pthread_barrier_init(&t.start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, team_member, &t) != 0)
            die("pthread_create failed");
    uint64_t t0 = now_ns();
    pthread_barrier_wait(&t.start);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&t.start);
    return t0;
}

/* Threads of this process other than the main thread. */
static int threads_beyond_main(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* ---- shared work items ---- */

static void item_noop(void *ctx) { (void)ctx; }
static void item_incr(void *ctx) { ++*(long *)ctx; }
static void item_incr_atomic(void *ctx) { __atomic_fetch_add((long *)ctx, 1, __ATOMIC_RELAXED); }

/* CPU work: n steps of a 64-bit LCG; the asm keeps each step. */
static uint64_t spin(uint64_t n)
{
    uint64_t x = n;
    for (uint64_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        __asm__ __volatile__("" : "+r"(x));
    }
    return x;
}

static uint64_t spin_per_20us; /* spin() steps that take ~20 us, set by calibrate_spin() */

static void calibrate_spin(void)
{
    const uint64_t n = 1u << 20;
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = now_ns();
        sink = spin(n);
        uint64_t dt = now_ns() - t0;
        if (dt < best)
            best = dt;
    }
    spin_per_20us = (uint64_t)(20000.0 * (double)n / (double)best);
    if (spin_per_20us == 0)
        spin_per_20us = 1;
}

/* ------------------------------------------------------------------------------------ */
/* 1. dispatch_once fast path                                                            */
/* ------------------------------------------------------------------------------------ */

#define ONCE_N 20000000L
/* Fewer calls of the exported function: at 7a6dae8..68c0ab5 it makes a gettid syscall per
 * call (~250 ns), and 8 x 20 M of those outlast the watchdog on a loaded machine. */
#define ONCE_CALL_N 2000000L

static dispatch_once_t once_pred;
static void once_init(void *ctx) { (void)ctx; }

/* The header maps dispatch_once_f to its inline fast path; this calls the exported function. */
#pragma push_macro("dispatch_once_f")
#undef dispatch_once_f
static void once_call(dispatch_once_t *pred, void *ctx, dispatch_function_t fn)
{
    dispatch_once_f(pred, ctx, fn);
}
#pragma pop_macro("dispatch_once_f")

static void m_once_inline(void *arg, double out[2])
{
    (void)arg;
    uint64_t t0 = now_ns();
    for (long i = 0; i < ONCE_N; i++)
        dispatch_once_f(&once_pred, NULL, once_init); /* reloads the predicate each time */
    out[0] = (double)(now_ns() - t0) / ONCE_N;
}

static void m_once_call(void *arg, double out[2])
{
    (void)arg;
    uint64_t t0 = now_ns();
    for (long i = 0; i < ONCE_CALL_N; i++)
        once_call(&once_pred, NULL, once_init);
    out[0] = (double)(now_ns() - t0) / ONCE_CALL_N;
}

static void fig_once(void)
{
    begin_figure("once");
    dispatch_once_f(&once_pred, NULL, once_init);
    report("once_inline", run_median(m_once_inline, NULL), "ns/op");
    report("once_call", run_median(m_once_call, NULL), "ns/op");
}

/* ------------------------------------------------------------------------------------ */
/* 2. dispatch_sync_f, uncontended and 2 threads contending                              */
/* ------------------------------------------------------------------------------------ */

#define SYNC_N 1000000L

struct sync_arg {
    dispatch_queue_t q;        /* NULL: the mutex baseline */
    pthread_mutex_t *mutex;
    dispatch_function_t fn;
    long per_thread;
    /* Written by every call: on a cache line of its own, apart from the fields every
     * thread reads for every call (no false sharing with them). */
    _Alignas(64) long count;
};

static void *sync_loop(void *p)
{
    struct sync_arg *a = p;
    if (a->q) {
        for (long i = 0; i < a->per_thread; i++)
            dispatch_sync_f(a->q, &a->count, a->fn);
    } else {
        for (long i = 0; i < a->per_thread; i++) {
            pthread_mutex_lock(a->mutex);
            a->count++;
            pthread_mutex_unlock(a->mutex);
        }
    }
    return NULL;
}

static void m_sync_1(void *p, double out[2])
{
    struct sync_arg *a = p;
    a->count = 0;
    a->per_thread = SYNC_N;
    uint64_t t0 = now_ns();
    sync_loop(a);
    out[0] = (double)(now_ns() - t0) / SYNC_N;
    expect_count("calls", a->count, SYNC_N);
}

static void m_sync_2(void *p, double out[2])
{
    struct sync_arg *a = p;
    a->count = 0;
    a->per_thread = SYNC_N / 2;
    uint64_t t0 = run_threads(2, sync_loop, a);
    out[0] = (double)(now_ns() - t0) / SYNC_N;
    expect_count("calls", a->count, SYNC_N);
}

static void fig_sync(void)
{
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    dispatch_queue_t serial = dispatch_queue_create("bench.sync.serial", DISPATCH_QUEUE_SERIAL);
    dispatch_queue_t conc = dispatch_queue_create("bench.sync.concurrent", DISPATCH_QUEUE_CONCURRENT);

    begin_figure("sync uncontended");
    struct sync_arg base = { .mutex = &mutex };
    double mutex1 = run_median(m_sync_1, &base);
    struct sync_arg s = { .q = serial, .fn = item_incr };
    double serial1 = run_median(m_sync_1, &s);
    struct sync_arg c = { .q = conc, .fn = item_incr };
    double conc1 = run_median(m_sync_1, &c);
    report("sync_serial_uncontended", serial1, "ns/op");
    report("sync_concurrent_uncontended", conc1, "ns/op");
    report("baseline_mutex_pair", mutex1, "ns/op");
    report_ratio("sync_serial_uncontended", "baseline_mutex_pair", serial1 / mutex1, "<=", 1.5);
    report_ratio("sync_concurrent_uncontended", "baseline_mutex_pair", conc1 / mutex1, "<=", 1.5);

    begin_figure("sync contended");
    double mutex2 = run_median(m_sync_2, &base);
    double serial2 = run_median(m_sync_2, &s);
    c.fn = item_incr_atomic; /* the work items now run in parallel */
    double conc2 = run_median(m_sync_2, &c);
    report("sync_serial_2threads", serial2, "ns/op");
    report("sync_concurrent_2threads", conc2, "ns/op");
    report("baseline_mutex_pair_2threads", mutex2, "ns/op");
    report_ratio("sync_serial_2threads", "baseline_mutex_pair_2threads", serial2 / mutex2, NULL, 0);

    dispatch_release(serial);
    dispatch_release(conc);
}

/* ------------------------------------------------------------------------------------ */
/* 3. dispatch_async_f throughput, and the mutex + condvar work-queue baseline           */
/* ------------------------------------------------------------------------------------ */

#define ASYNC_N 200000L

/* Baseline: a linked-list work queue with one worker thread. */
struct cvq_node {
    struct cvq_node *next;
    dispatch_function_t fn;
    void *ctx;
};

struct cvq {
    pthread_mutex_t mutex;
    pthread_cond_t nonempty;
    struct cvq_node *head, *tail;
    bool stop;
    pthread_t worker;
};

static void cvq_push(struct cvq *q, dispatch_function_t fn, void *ctx)
{
    struct cvq_node *n = malloc(sizeof *n);
    if (n == NULL)
        die("out of memory");
    n->next = NULL;
    n->fn = fn;
    n->ctx = ctx;
    pthread_mutex_lock(&q->mutex);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->mutex);
}

static void *cvq_worker(void *p)
{
    struct cvq *q = p;
    pthread_mutex_lock(&q->mutex);
    for (;;) {
        while (q->head == NULL && !q->stop)
            pthread_cond_wait(&q->nonempty, &q->mutex);
        struct cvq_node *n = q->head;
        if (n == NULL)
            break; /* stopped and drained */
        q->head = n->next;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mutex);
        n->fn(n->ctx);
        free(n);
        pthread_mutex_lock(&q->mutex);
    }
    pthread_mutex_unlock(&q->mutex);
    return NULL;
}

static void cvq_start(struct cvq *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mutex, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    if (pthread_create(&q->worker, NULL, cvq_worker, q) != 0)
        die("pthread_create failed");
}

static void cvq_stop(struct cvq *q)
{
    pthread_mutex_lock(&q->mutex);
    q->stop = true;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->mutex);
    pthread_join(q->worker, NULL);
    pthread_mutex_destroy(&q->mutex);
    pthread_cond_destroy(&q->nonempty);
}

/* A marker item: the worker has run everything queued before it. */
struct flag {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool set;
};

static void flag_set(void *p)
{
    struct flag *f = p;
    pthread_mutex_lock(&f->mutex);
    f->set = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mutex);
}

static void cvq_drain(struct cvq *q)
{
    struct flag f = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
    cvq_push(q, flag_set, &f);
    pthread_mutex_lock(&f.mutex);
    while (!f.set)
        pthread_cond_wait(&f.cond, &f.mutex);
    pthread_mutex_unlock(&f.mutex);
    pthread_mutex_destroy(&f.mutex);
    pthread_cond_destroy(&f.cond);
}

struct async_arg {
    dispatch_queue_t q;   /* a serial queue, or NULL for the baseline */
    struct cvq *cvq;
    long per_producer;
    /* Written by the queue's worker for every item: on a cache line of its own, apart from
     * the fields every producer reads for every item (no false sharing in either side). */
    _Alignas(64) long count;
};

static void *async_producer(void *p)
{
    struct async_arg *a = p;
    for (long i = 0; i < a->per_producer; i++) {
        if (a->q)
            dispatch_async_f(a->q, &a->count, item_incr);
        else
            cvq_push(a->cvq, item_incr, &a->count);
    }
    return NULL;
}

static void async_drain(struct async_arg *a)
{
    if (a->q)
        dispatch_sync_f(a->q, NULL, item_noop);
    else
        cvq_drain(a->cvq);
}

static void m_async_1(void *p, double out[2])
{
    struct async_arg *a = p;
    a->count = 0;
    a->per_producer = ASYNC_N;
    uint64_t t0 = now_ns();
    async_producer(a);
    async_drain(a);
    out[0] = (double)(now_ns() - t0) / ASYNC_N;
    expect_count("items", a->count, ASYNC_N);
}

static void m_async_2(void *p, double out[2])
{
    struct async_arg *a = p;
    a->count = 0;
    a->per_producer = ASYNC_N / 2;
    uint64_t t0 = run_threads(2, async_producer, a);
    async_drain(a);
    out[0] = (double)(now_ns() - t0) / ASYNC_N;
    expect_count("items", a->count, ASYNC_N);
}

static void m_async_group(void *p, double out[2])
{
    long *count = p;
    *count = 0;
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_group_t g = dispatch_group_create();
    uint64_t t0 = now_ns();
    for (long i = 0; i < ASYNC_N; i++)
        dispatch_group_async_f(g, q, count, item_incr_atomic);
    if (dispatch_group_wait(g, wait_limit()) != 0)
        die("dispatch_group_wait timed out");
    out[0] = (double)(now_ns() - t0) / ASYNC_N;
    dispatch_release(g);
    expect_count("items", __atomic_load_n(count, __ATOMIC_RELAXED), ASYNC_N);
}

static void fig_async(void)
{
    /* The baseline's worker and the serial queue both live through the interleaved rounds;
     * each side is idle (its worker parked or soon parking) while the other runs. */
    begin_figure("async serial vs baseline");
    struct cvq cvq;
    cvq_start(&cvq);
    struct async_arg base = { .cvq = &cvq };
    dispatch_queue_t q = dispatch_queue_create("bench.async", DISPATCH_QUEUE_SERIAL);
    struct async_arg a = { .q = q };
    double r1[3], r2[3];
    run_ratio_interleaved(m_async_1, &base, m_async_1, &a, r1);
    run_ratio_interleaved(m_async_2, &base, m_async_2, &a, r2);
    double base1 = r1[0], serial1 = r1[1], base2 = r2[0], serial2 = r2[1];
    dispatch_release(q);
    cvq_stop(&cvq);

    begin_figure("async group");
    long count = 0;
    double group = run_median(m_async_group, &count);

    report("async_serial_1producer", serial1, "ns/item");
    report("async_serial_2producers", serial2, "ns/item");
    report("async_global_group", group, "ns/item");
    report("baseline_condvar_queue_1producer", base1, "ns/item");
    report("baseline_condvar_queue_2producers", base2, "ns/item");
    /* >= 3x the baseline's throughput, i.e. <= 1/3 of its time per item */
    report_ratio("async_serial_1producer", "baseline_condvar_queue_1producer", r1[2], "<=", 1.0 / 3);
    report_ratio("async_serial_2producers", "baseline_condvar_queue_2producers", r2[2], "<=", 0.5); /* issue 12: >= 2x with 2 producers */
    report_ratio("async_global_group", "baseline_condvar_queue_1producer", group / base1, "<=", 1.0 / 3);
}

/* ------------------------------------------------------------------------------------ */
/* 4. Readers and barrier writers on a concurrent queue                                  */
/* ------------------------------------------------------------------------------------ */

#define RW_N 100000L

struct rw {
    dispatch_queue_t q;
    long value;  /* written only by barriers */
    long reads;  /* atomic */
};

static void rw_reader(void *p)
{
    struct rw *r = p;
    sink = (uint64_t)*(volatile long *)&r->value;
    __atomic_fetch_add(&r->reads, 1, __ATOMIC_RELAXED);
}

static void rw_writer(void *p) { ((struct rw *)p)->value++; }

static void m_rw(void *p, double out[2])
{
    struct rw *r = p;
    r->value = r->reads = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < RW_N; i++) {
        if (i % 10 == 9)
            dispatch_barrier_async_f(r->q, r, rw_writer);
        else
            dispatch_async_f(r->q, r, rw_reader);
    }
    dispatch_barrier_sync_f(r->q, NULL, item_noop);
    out[0] = (double)(now_ns() - t0) / RW_N;
    expect_count("writes", r->value, RW_N / 10);
    expect_count("reads", r->reads, RW_N - RW_N / 10);
}

static void fig_rw(void)
{
    begin_figure("rw mix");
    struct rw r = { .q = dispatch_queue_create("bench.rw", DISPATCH_QUEUE_CONCURRENT) };
    report("rw_mix_barrier_10pct", run_median(m_rw, &r), "ns/item");
    dispatch_release(r.q);
}

/* ------------------------------------------------------------------------------------ */
/* 5. dispatch_apply_f                                                                   */
/* ------------------------------------------------------------------------------------ */

#define APPLY_TRIVIAL_N 1000000L
#define APPLY_WORK_N 2000L

static void apply_nothing(void *ctx, size_t i)
{
    (void)ctx;
    (void)i;
}

static void apply_work(void *ctx, size_t i)
{
    (void)ctx;
    uint64_t r = spin(spin_per_20us + (i & 1));
    __asm__ __volatile__("" ::"r"(r));
}

static void m_apply_trivial(void *arg, double out[2])
{
    (void)arg;
    uint64_t t0 = now_ns();
    dispatch_apply_f(APPLY_TRIVIAL_N, DISPATCH_APPLY_AUTO, NULL, apply_nothing);
    out[0] = (double)(now_ns() - t0) / APPLY_TRIVIAL_N;
}

static void m_apply_work(void *arg, double out[2])
{
    (void)arg;
    uint64_t t0 = now_ns();
    dispatch_apply_f(APPLY_WORK_N, DISPATCH_APPLY_AUTO, NULL, apply_work);
    out[0] = (double)(now_ns() - t0) / APPLY_WORK_N;
}

static void m_serial_work(void *arg, double out[2])
{
    (void)arg;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < APPLY_WORK_N; i++)
        apply_work(NULL, i);
    out[0] = (double)(now_ns() - t0) / APPLY_WORK_N;
}

static void fig_apply(void)
{
    begin_figure("apply trivial");
    double trivial = run_median(m_apply_trivial, NULL);
    report("apply_trivial", trivial, "ns/iter");
    report_check("apply_trivial", trivial, "ns/iter", "<=", 5);

    begin_figure("apply work");
    double serial = run_median(m_serial_work, NULL);
    double par = run_median(m_apply_work, NULL);
    report("apply_work_20us", par, "ns/iter");
    report("baseline_serial_loop_20us", serial, "ns/iter");
    report_ratio("baseline_serial_loop_20us", "apply_work_20us (speedup)", serial / par, ">=", 1.8);
}

/* ------------------------------------------------------------------------------------ */
/* 6. Group enter/leave                                                                  */
/* ------------------------------------------------------------------------------------ */

#define GROUP_N 1000000L

static void m_group(void *p, double out[2])
{
    dispatch_group_t g = p;
    uint64_t t0 = now_ns();
    for (long i = 0; i < GROUP_N; i++) {
        dispatch_group_enter(g);
        dispatch_group_leave(g);
    }
    out[0] = (double)(now_ns() - t0) / GROUP_N;
}

static void fig_group(void)
{
    begin_figure("group enter/leave");
    dispatch_group_t g = dispatch_group_create();
    report("group_enter_leave", run_median(m_group, g), "ns/pair");
    if (dispatch_group_wait(g, DISPATCH_TIME_NOW) != 0)
        printf("# WARNING: group not empty after balanced enter/leave\n");
    dispatch_release(g);
}

/* ------------------------------------------------------------------------------------ */
/* 7, 8. Wake-ups: semaphore ping-pong, futex ping-pong, hops between serial queues      */
/* ------------------------------------------------------------------------------------ */

#define PINGPONG_N 20000L
#define HOP_N 50000L

struct sem_pp {
    dispatch_semaphore_t ping, pong;
};

static void *sem_ponger(void *p)
{
    struct sem_pp *s = p;
    for (long i = 0; i < PINGPONG_N; i++) {
        if (dispatch_semaphore_wait(s->ping, wait_limit()) != 0)
            die("dispatch_semaphore_wait timed out");
        dispatch_semaphore_signal(s->pong);
    }
    return NULL;
}

static void m_sem_pingpong(void *p, double out[2])
{
    struct sem_pp *s = p;
    pthread_t th;
    if (pthread_create(&th, NULL, sem_ponger, s) != 0)
        die("pthread_create failed");
    uint64_t t0 = now_ns();
    for (long i = 0; i < PINGPONG_N; i++) {
        dispatch_semaphore_signal(s->ping);
        if (dispatch_semaphore_wait(s->pong, wait_limit()) != 0)
            die("dispatch_semaphore_wait timed out");
    }
    out[0] = (double)(now_ns() - t0) / PINGPONG_N;
    pthread_join(th, NULL);
}

/* Baseline: one futex word; 1 = the ponger's turn, 0 = the pinger's turn, -1 = quit. */
static long futex(int *addr, int op, int val)
{
    return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void *futex_ponger(void *p)
{
    int *turn = p;
    for (;;) {
        int t;
        while ((t = __atomic_load_n(turn, __ATOMIC_ACQUIRE)) == 0)
            futex(turn, FUTEX_WAIT_PRIVATE, 0);
        if (t < 0)
            return NULL;
        __atomic_store_n(turn, 0, __ATOMIC_RELEASE);
        futex(turn, FUTEX_WAKE_PRIVATE, 1);
    }
}

static void m_futex_pingpong(void *arg, double out[2])
{
    (void)arg;
    int turn = 0;
    pthread_t th;
    if (pthread_create(&th, NULL, futex_ponger, &turn) != 0)
        die("pthread_create failed");
    uint64_t t0 = now_ns();
    for (long i = 0; i < PINGPONG_N; i++) {
        __atomic_store_n(&turn, 1, __ATOMIC_RELEASE);
        futex(&turn, FUTEX_WAKE_PRIVATE, 1);
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) == 1)
            futex(&turn, FUTEX_WAIT_PRIVATE, 1);
    }
    out[0] = (double)(now_ns() - t0) / PINGPONG_N;
    __atomic_store_n(&turn, -1, __ATOMIC_RELEASE);
    futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    pthread_join(th, NULL);
}

struct hop {
    dispatch_queue_t q[2];
    int side;       /* the queue the item is on; touched only by the item */
    long remaining;
    dispatch_semaphore_t done;
};

static void hop_fn(void *p)
{
    struct hop *h = p;
    if (--h->remaining == 0) {
        dispatch_semaphore_signal(h->done);
        return;
    }
    h->side ^= 1;
    dispatch_async_f(h->q[h->side], h, hop_fn);
}

static void m_hop(void *p, double out[2])
{
    struct hop *h = p;
    h->side = 0;
    h->remaining = HOP_N;
    uint64_t t0 = now_ns();
    dispatch_async_f(h->q[0], h, hop_fn);
    if (dispatch_semaphore_wait(h->done, wait_limit()) != 0)
        die("queue hop did not finish");
    out[0] = (double)(now_ns() - t0) / HOP_N;
}

static void fig_wakeups(void)
{
    begin_figure("futex ping-pong");
    double fut = run_median(m_futex_pingpong, NULL);

    begin_figure("semaphore ping-pong");
    struct sem_pp s = { dispatch_semaphore_create(0), dispatch_semaphore_create(0) };
    double sem = run_median(m_sem_pingpong, &s);
    dispatch_release(s.ping);
    dispatch_release(s.pong);

    begin_figure("queue hop");
    struct hop h = {
        .q = { dispatch_queue_create("bench.hop.a", DISPATCH_QUEUE_SERIAL),
               dispatch_queue_create("bench.hop.b", DISPATCH_QUEUE_SERIAL) },
        .done = dispatch_semaphore_create(0),
    };
    double hop = run_median(m_hop, &h);
    dispatch_release(h.q[0]);
    dispatch_release(h.q[1]);
    dispatch_release(h.done);

    report("semaphore_pingpong", sem, "ns/roundtrip");
    report("baseline_futex_pingpong", fut, "ns/roundtrip");
    report_ratio("semaphore_pingpong", "baseline_futex_pingpong", sem / fut, "<=", 1.3);
    report("queue_hop", hop, "ns/hop");
    report("baseline_futex_handoff", fut / 2, "ns/handoff");
    report_ratio("queue_hop", "baseline_futex_handoff", hop / (fut / 2), "<=", 1.3);
}

/* ------------------------------------------------------------------------------------ */
/* 9. dispatch_after lateness; 10. timer source jitter                                   */
/* ------------------------------------------------------------------------------------ */

#define TIMING_SAMPLES 200
#define ONE_MS NSEC_PER_MSEC

/* p50 and p99 of n samples given in ns, as us */
static void dist_us(double *ns, int n, double out[2])
{
    out[0] = percentile(ns, n, 50) / 1000;
    out[1] = percentile(ns, n, 99) / 1000;
}

struct after_sample {
    uint64_t fired;
    dispatch_semaphore_t sem;
};

static void after_fire(void *p)
{
    struct after_sample *s = p;
    s->fired = now_ns();
    dispatch_semaphore_signal(s->sem);
}

static void m_after(void *arg, double out[2])
{
    (void)arg;
    double late[TIMING_SAMPLES];
    struct after_sample s = { .sem = dispatch_semaphore_create(0) };
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    for (int i = 0; i < TIMING_SAMPLES; i++) {
        uint64_t deadline = now_ns() + ONE_MS;
        dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, (int64_t)ONE_MS), q, &s, after_fire);
        if (dispatch_semaphore_wait(s.sem, wait_limit()) != 0)
            die("dispatch_after_f did not fire");
        late[i] = (double)((int64_t)(s.fired - deadline));
    }
    dispatch_release(s.sem);
    dist_us(late, TIMING_SAMPLES, out);
}

static void m_nanosleep(void *arg, double out[2])
{
    (void)arg;
    double late[TIMING_SAMPLES];
    for (int i = 0; i < TIMING_SAMPLES; i++) {
        uint64_t deadline = now_ns() + ONE_MS;
        struct timespec ts = { .tv_sec = (time_t)(deadline / NSEC_PER_SEC),
                               .tv_nsec = (long)(deadline % NSEC_PER_SEC) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        late[i] = (double)((int64_t)(now_ns() - deadline));
    }
    dist_us(late, TIMING_SAMPLES, out);
}

/* Timer source: the handler records TIMING_SAMPLES + 1 call times, then ignores calls. */
static struct ticks {
    uint64_t t[TIMING_SAMPLES + 1];
    int n;
    dispatch_semaphore_t done;
} ticks;

static void tick(void *p)
{
    struct ticks *k = p;
    if (k->n > TIMING_SAMPLES)
        return;
    k->t[k->n++] = now_ns();
    if (k->n == TIMING_SAMPLES + 1)
        dispatch_semaphore_signal(k->done);
}

static void interval_dist(const uint64_t *t, double out[2])
{
    double dev[TIMING_SAMPLES];
    for (int i = 0; i < TIMING_SAMPLES; i++) {
        int64_t d = (int64_t)(t[i + 1] - t[i]) - (int64_t)ONE_MS;
        dev[i] = (double)(d < 0 ? -d : d);
    }
    dist_us(dev, TIMING_SAMPLES, out);
}

static void m_timer(void *arg, double out[2])
{
    dispatch_queue_t q = arg;
    ticks.n = 0;
    dispatch_source_t src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    if (src == NULL)
        die("dispatch_source_create(TIMER) returned NULL");
    dispatch_set_context(src, &ticks);
    dispatch_source_set_event_handler_f(src, tick);
    dispatch_source_set_timer(src, dispatch_time(DISPATCH_TIME_NOW, (int64_t)ONE_MS), ONE_MS, 0);
    dispatch_resume(src);
    if (dispatch_semaphore_wait(ticks.done, wait_limit()) != 0)
        die("timer source did not fire 201 times");
    dispatch_source_cancel(src);
    dispatch_sync_f(q, NULL, item_noop); /* a handler already running has finished */
    dispatch_release(src);
    interval_dist(ticks.t, out);
}

static void m_periodic_nanosleep(void *arg, double out[2])
{
    (void)arg;
    uint64_t t[TIMING_SAMPLES + 1];
    uint64_t next = now_ns() + ONE_MS;
    for (int i = 0; i <= TIMING_SAMPLES; i++, next += ONE_MS) {
        struct timespec ts = { .tv_sec = (time_t)(next / NSEC_PER_SEC),
                               .tv_nsec = (long)(next % NSEC_PER_SEC) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        t[i] = now_ns();
    }
    interval_dist(t, out);
}

static void fig_timing(void)
{
    double after[2], nanosleep_late[2], timer[2], periodic[2];

    /* clock_nanosleep and dispatch_after repetitions alternate; the ratio is the median of
     * the repetitions' p99 ratios (a p99 follows the VM's speed level of the moment) */
    begin_figure("clock_nanosleep and dispatch_after lateness");
    double np50[MAX_REPS], np99[MAX_REPS], ap50[MAX_REPS], ap99[MAX_REPS], r99[MAX_REPS], o[2];
    m_nanosleep(NULL, o); /* warm-ups */
    m_after(NULL, o);
    for (int i = 0; i < REPS_DIST; i++) {
        m_nanosleep(NULL, o);
        np50[i] = o[0];
        np99[i] = o[1];
        m_after(NULL, o);
        ap50[i] = o[0];
        ap99[i] = o[1];
        r99[i] = np99[i] > 0 ? ap99[i] / np99[i] : 0;
    }
    after[0] = median(ap50, REPS_DIST);
    after[1] = median(ap99, REPS_DIST);
    nanosleep_late[0] = median(np50, REPS_DIST);
    nanosleep_late[1] = median(np99, REPS_DIST);
    report("after_lateness_p50", after[0], "us");
    report("after_lateness_p99", after[1], "us");
    report("baseline_nanosleep_lateness_p50", nanosleep_late[0], "us");
    report("baseline_nanosleep_lateness_p99", nanosleep_late[1], "us");
    report_ratio("after_lateness_p99", "baseline_nanosleep_lateness_p99", median(r99, REPS_DIST), "<=",
                 1); /* issue 12: no later than clock_nanosleep */

    begin_figure("periodic clock_nanosleep jitter");
    run_reps(m_periodic_nanosleep, NULL, REPS_DIST, periodic);
    begin_figure("timer source jitter");
    dispatch_queue_t q = dispatch_queue_create("bench.timer", DISPATCH_QUEUE_SERIAL);
    ticks.done = dispatch_semaphore_create(0);
    run_reps(m_timer, q, REPS_DIST, timer);
    dispatch_release(ticks.done);
    dispatch_release(q);
    report("timer_1ms_jitter_p50", timer[0], "us");
    report("timer_1ms_jitter_p99", timer[1], "us");
    report("baseline_periodic_nanosleep_jitter_p50", periodic[0], "us");
    report("baseline_periodic_nanosleep_jitter_p99", periodic[1], "us");
    report_ratio("timer_1ms_jitter_p99", "baseline_periodic_nanosleep_jitter_p99",
                 timer[1] / periodic[1], NULL, 0);
}

/* ------------------------------------------------------------------------------------ */
/* 11. Queue create + release, bytes per queue                                           */
/* ------------------------------------------------------------------------------------ */

#define QUEUE_N 100000L

static void m_queue_create(void *arg, double out[2])
{
    (void)arg;
    uint64_t t0 = now_ns();
    for (long i = 0; i < QUEUE_N; i++) {
        dispatch_queue_t q = dispatch_queue_create("bench.q", DISPATCH_QUEUE_SERIAL);
        dispatch_release(q);
    }
    out[0] = (double)(now_ns() - t0) / QUEUE_N;
}

static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

/* out[0]: heap bytes per live queue; out[1]: RSS bytes per live queue. */
static void m_queue_bytes(void *arg, double out[2])
{
    dispatch_queue_t *qs = arg;
    size_t heap0 = heap_in_use();
    long rss0 = rss_bytes();
    for (long i = 0; i < QUEUE_N; i++)
        qs[i] = dispatch_queue_create("bench.q", DISPATCH_QUEUE_SERIAL);
    out[0] = (double)((long)(heap_in_use() - heap0)) / QUEUE_N;
    out[1] = (double)(rss_bytes() - rss0) / QUEUE_N;
    for (long i = 0; i < QUEUE_N; i++)
        dispatch_release(qs[i]);
}

static void fig_queues(void)
{
    begin_figure("queue create+release");
    double create = run_median(m_queue_create, NULL);
    report("queue_create_release", create, "ns/pair");
    report_check("queue_create_release", create, "ns", "<=", 200);

    begin_figure("queue bytes");
    dispatch_queue_t *qs = calloc(QUEUE_N, sizeof *qs);
    if (qs == NULL)
        die("out of memory");
    rss_bytes(); /* touch stdio before measuring */
    double bytes[2];
    run_reps(m_queue_bytes, qs, 3, bytes);
    free(qs);
    if (heap_in_use() == 0) {
        printf("# mallinfo2 unavailable: queue_bytes is the RSS growth\n");
        bytes[0] = bytes[1];
    }
    report("queue_bytes", bytes[0], "bytes/queue");
    report_check("queue_bytes", bytes[0], "bytes", "<=", 128);
}

/* ------------------------------------------------------------------------------------ */
/* 12. Idle cost; 13. blocking fan-out                                                   */
/* ------------------------------------------------------------------------------------ */

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void fig_idle(void)
{
    begin_figure("idle");
    int before = threads_beyond_main();
    double c0 = cpu_ms();
    sleep_ns(2 * NSEC_PER_SEC);
    double cpu = cpu_ms() - c0;
    sleep_ns(3 * NSEC_PER_SEC); /* the thread count is taken after 5 s idle (issue 12) */
    int after = threads_beyond_main();
    printf("# idle: %d threads beyond main before the sleep, %d after 5 s\n", before, after);
    report("idle_cpu_2s", cpu, "ms");
    report("idle_threads_beyond_main", after, "threads");
    report_check("idle_cpu_2s", cpu, "ms", "<", 5);
    report_check("idle_threads_beyond_main", after, "threads", "<=", 2);
}

#define FAN_N 64
#define FAN_SLEEP_US 50000

static int fan_peak_max; /* over every run, including the cold one */

static void block_50ms(void *p)
{
    (void)p;
    usleep(FAN_SLEEP_US);
}

/* out[0]: wall ms; out[1]: peak threads beyond main */
static void m_fanout(void *arg, double out[2])
{
    (void)arg;
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_group_t g = dispatch_group_create();
    int peak = threads_beyond_main();
    uint64_t t0 = now_ns();
    for (int i = 0; i < FAN_N; i++)
        dispatch_group_async_f(g, q, NULL, block_50ms);
    for (;;) {
        int n = threads_beyond_main();
        if (n > peak)
            peak = n;
        if (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, (int64_t)ONE_MS)) == 0)
            break;
        if (now_ns() - t0 > WAIT_LIMIT_NS)
            die("blocking fan-out did not finish");
    }
    out[0] = (double)(now_ns() - t0) / 1e6;
    out[1] = peak;
    if (peak > fan_peak_max)
        fan_peak_max = peak;
    dispatch_release(g);
}

static void fig_fanout(void)
{
    begin_figure("blocking fan-out");
    double cold[2], warm[2];
    m_fanout(NULL, cold);
    run_reps(m_fanout, NULL, REPS_DIST, warm);
    report("fanout_block_50ms_cold", cold[0], "ms");
    report("fanout_block_50ms_cold_peak_threads", cold[1], "threads");
    report("fanout_block_50ms", warm[0], "ms");
    report("fanout_block_50ms_peak_threads", fan_peak_max, "threads (max over all runs)");
    report_check("fanout_block_50ms", warm[0], "ms", "<=", 150);
    report_check("fanout_block_50ms_cold", cold[0], "ms", "<=", 150);
    report_check("fanout_block_50ms_peak_threads", fan_peak_max, "threads", "<=", 70);
}

/* ------------------------------------------------------------------------------------ */
/* 18. timers (issue 12)                                                                 */
/* ------------------------------------------------------------------------------------ */

/*
 * timer_100x10ms_*: 100 repeating DISPATCH_SOURCE_TYPE_TIMER sources of 10 ms on one serial
 * queue (10,000 fires/s), their starts 100 us apart (so no two share a deadline: with
 * leeway 0 every fire is its own wake-up). After 200 ms of warm-up, the whole process's
 * user+system CPU and context switches (getrusage: ru_nvcsw + ru_nivcsw) over 2 s, per
 * second. Fires are counted (the sum of dispatch_source_get_data per timer): after a mark
 * taken at the end, the bench waits (up to 1 s) for every timer to count the boundaries
 * passed by the mark; what is still missing is reported as lost. Lateness: handler call
 * time - the deadline of the last fire it counts, averaged.
 * timer_100x10ms_one_start_*: the same at leeway 0 with the 100 starts equal (what a plain
 * creation loop of dispatch_time(DISPATCH_TIME_NOW, ...) comes close to): 100 fires per
 * wake-up, for comparison with the staggered figure, which pays 10,000 wake-ups a second.
 * baseline_nanosleep_10k_wakeups: one thread sleeping (clock_nanosleep, TIMER_ABSTIME) to
 * the same 10,000 instants per second, for 1 s: the CPU cost of the wake-ups alone.
 * set_timer_*_live: dispatch_source_set_timer on one timer (one-shot, 1 h ahead) while 1,000
 * or 100,000 other timer sources are armed; ns per call; the ratio shows the growth.
 */
#define TMR_N 100
#define TMR_INTERVAL (10 * NSEC_PER_MSEC)

struct tmr {
    dispatch_source_t src;
    uint64_t start;
    long calls, fires;
    double late_sum;
};

static struct tmr tmrs[TMR_N];

static uint64_t tmr_boundaries(const struct tmr *t, uint64_t at)
{
    return at < t->start ? 0 : (at - t->start) / TMR_INTERVAL + 1;
}

static void tmr_fire(void *p)
{
    struct tmr *t = p;
    uint64_t now = now_ns();
    long data = (long)dispatch_source_get_data(t->src);
    t->calls++;
    __atomic_fetch_add(&t->fires, data, __ATOMIC_RELAXED);
    uint64_t deadline = t->start + (uint64_t)(t->fires - 1) * TMR_INTERVAL;
    t->late_sum += (double)((int64_t)(now - deadline));
}

struct rusage_sample {
    double cpu_ms;
    long ctxsw;
};

static struct rusage_sample rusage_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (struct rusage_sample){
        (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
            (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3,
        ru.ru_nvcsw + ru.ru_nivcsw,
    };
}

/* out: CPU ms/s, context switches/s, fires, lost fires, mean lateness (us), calls.
 * stagger: the starts' spacing (TMR_INTERVAL / TMR_N: every deadline its own instant; 0:
 * all from one instant, as a plain creation loop of dispatch_time(NOW, ...) nearly gives) */
static void m_timers_100(uint64_t leeway, uint64_t stagger, double out[6])
{
    dispatch_queue_t q = dispatch_queue_create("bench.timers", DISPATCH_QUEUE_SERIAL);
    memset(tmrs, 0, sizeof tmrs);
    uint64_t base = now_ns() + 20 * NSEC_PER_MSEC;
    for (int i = 0; i < TMR_N; i++) {
        struct tmr *t = &tmrs[i];
        t->src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
        if (t->src == NULL)
            die("dispatch_source_create(TIMER) returned NULL");
        dispatch_set_context(t->src, t);
        dispatch_source_set_event_handler_f(t->src, tmr_fire);
        t->start = base + (uint64_t)i * stagger;
        dispatch_source_set_timer(t->src, t->start, TMR_INTERVAL, leeway);
        dispatch_resume(t->src);
    }
    sleep_ns(200 * NSEC_PER_MSEC);
    struct rusage_sample a = rusage_now();
    uint64_t t0 = now_ns();
    sleep_ns(2 * NSEC_PER_SEC);
    struct rusage_sample b = rusage_now();
    uint64_t mark = now_ns();
    double secs = (double)(mark - t0) / 1e9;
    long lost = 0;
    for (int i = 0; i < TMR_N; i++) {
        while ((uint64_t)__atomic_load_n(&tmrs[i].fires, __ATOMIC_RELAXED) < tmr_boundaries(&tmrs[i], mark) &&
               now_ns() - mark < NSEC_PER_SEC)
            sleep_ns(NSEC_PER_MSEC);
    }
    for (int i = 0; i < TMR_N; i++)
        dispatch_source_cancel(tmrs[i].src);
    dispatch_sync_f(q, NULL, item_noop);
    uint64_t end = now_ns();
    long fires = 0, calls = 0;
    double late = 0;
    for (int i = 0; i < TMR_N; i++) {
        struct tmr *t = &tmrs[i];
        long want = (long)tmr_boundaries(t, mark);
        if (t->fires < want)
            lost += want - t->fires;
        if ((uint64_t)t->fires > tmr_boundaries(t, end))
            printf("# WARNING: timer %d counted %ld fires, more than the %llu boundaries passed\n", i,
                   t->fires, (unsigned long long)tmr_boundaries(t, end));
        fires += t->fires;
        calls += t->calls;
        late += t->late_sum;
        dispatch_release(t->src);
    }
    dispatch_release(q);
    out[0] = (b.cpu_ms - a.cpu_ms) / secs;
    out[1] = (double)(b.ctxsw - a.ctxsw) / secs;
    out[2] = (double)fires;
    out[3] = (double)lost;
    out[4] = calls ? late / (double)calls / 1e3 : 0;
    out[5] = (double)calls;
}

static double m_nanosleep_10k_wakeups(void)
{
    struct rusage_sample a = rusage_now();
    uint64_t t0 = now_ns(), next = t0;
    while (next - t0 < NSEC_PER_SEC) {
        next += TMR_INTERVAL / TMR_N;
        struct timespec ts = { .tv_sec = (time_t)(next / NSEC_PER_SEC), .tv_nsec = (long)(next % NSEC_PER_SEC) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
    }
    struct rusage_sample b = rusage_now();
    return (b.cpu_ms - a.cpu_ms) / ((double)(now_ns() - t0) / 1e9);
}

#define SET_TIMER_CALLS 2000

/* ns per dispatch_source_set_timer with `live` other timers armed */
static double m_set_timer_live(long live)
{
    dispatch_queue_t q = dispatch_queue_create("bench.set_timer", DISPATCH_QUEUE_SERIAL);
    dispatch_source_t *srcs = malloc(sizeof *srcs * (size_t)(live + 1));
    if (srcs == NULL)
        die("malloc");
    for (long i = 0; i <= live; i++) {
        srcs[i] = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
        if (srcs[i] == NULL)
            die("dispatch_source_create(TIMER) returned NULL");
        dispatch_source_set_timer(srcs[i], dispatch_time(DISPATCH_TIME_NOW, 3600 * (int64_t)NSEC_PER_SEC + i),
                                  DISPATCH_TIME_FOREVER, 0);
        dispatch_resume(srcs[i]);
    }
    dispatch_source_t x = srcs[live / 2];
    uint64_t t0 = now_ns();
    for (int i = 0; i < SET_TIMER_CALLS; i++)
        dispatch_source_set_timer(x, dispatch_time(DISPATCH_TIME_NOW, 3600 * (int64_t)NSEC_PER_SEC + i * 7),
                                  DISPATCH_TIME_FOREVER, 0);
    double ns = (double)(now_ns() - t0) / SET_TIMER_CALLS;
    for (long i = 0; i <= live; i++) {
        dispatch_source_cancel(srcs[i]);
        dispatch_release(srcs[i]);
    }
    dispatch_sync_f(q, NULL, item_noop);
    free(srcs);
    dispatch_release(q);
    return ns;
}

static void fig_timers_issue12(void)
{
    double l0[6], l5[6], same[6];
    begin_figure("100 timers x 10 ms, leeway 0");
    m_timers_100(0, TMR_INTERVAL / TMR_N, l0);
    begin_figure("100 timers x 10 ms, leeway 5 ms");
    m_timers_100(5 * NSEC_PER_MSEC, TMR_INTERVAL / TMR_N, l5);
    begin_figure("100 timers x 10 ms, leeway 0, one start");
    m_timers_100(0, 0, same);
    begin_figure("nanosleep 10k wake-ups");
    double floor_cpu = m_nanosleep_10k_wakeups();
    report("timer_100x10ms_cpu_ms_per_s", l0[0], "ms/s");
    report("timer_100x10ms_ctxsw_per_s", l0[1], "/s");
    report("timer_100x10ms_fires", l0[2], "fires");
    report("timer_100x10ms_calls", l0[5], "calls");
    report("timer_100x10ms_lost_fires", l0[3], "fires");
    report("timer_100x10ms_mean_lateness", l0[4], "us");
    report("timer_100x10ms_leeway5_cpu_ms_per_s", l5[0], "ms/s");
    report("timer_100x10ms_leeway5_ctxsw_per_s", l5[1], "/s");
    report("timer_100x10ms_leeway5_fires", l5[2], "fires");
    report("timer_100x10ms_leeway5_calls", l5[5], "calls");
    report("timer_100x10ms_leeway5_lost_fires", l5[3], "fires");
    report("timer_100x10ms_leeway5_mean_lateness", l5[4], "us");
    report("timer_100x10ms_one_start_cpu_ms_per_s", same[0], "ms/s (leeway 0, the 100 starts equal)");
    report("timer_100x10ms_one_start_ctxsw_per_s", same[1], "/s");
    report("timer_100x10ms_one_start_lost_fires", same[3], "fires");
    report("baseline_nanosleep_10k_wakeups_cpu_ms_per_s", floor_cpu, "ms/s");
    report_check("timer_100x10ms_cpu_ms_per_s", l0[0], "ms/s", "<=", 100);
    report_ratio("timer_100x10ms_cpu_ms_per_s", "baseline_nanosleep_10k_wakeups_cpu_ms_per_s",
                 l0[0] / floor_cpu, NULL, 0);
    report_check("timer_100x10ms_leeway5_cpu_ms_per_s", l5[0], "ms/s", "<=", 30);
    report_check("timer_100x10ms_leeway5_ctxsw_per_s", l5[1], "/s", "<=", 1000);
    report_check("timer_100x10ms_lost_fires", l0[3], "fires", "<=", 0);
    report_check("timer_100x10ms_leeway5_lost_fires", l5[3], "fires", "<=", 0);
    report_check("timer_100x10ms_leeway5_mean_lateness", l5[4], "us", "<=", 5000);

    begin_figure("set_timer with 1k live timers");
    double small = m_set_timer_live(1000);
    begin_figure("set_timer with 100k live timers");
    double big = m_set_timer_live(100000);
    report("set_timer_1k_live", small, "ns");
    report("set_timer_100k_live", big, "ns");
    report_ratio("set_timer_100k_live", "set_timer_1k_live", big / small, "<=", 3);
}

/* ------------------------------------------------------------------------------------ */
/* 14. Blocking items at scale: 100 and 1,000 items that each sleep 20 ms                */
/* ------------------------------------------------------------------------------------ */

#define BLOCK_SLEEP_US 20000
#define BLOCK_CAP 255 /* a bounded pool: swift-corelibs-libdispatch's worker limit */

static void block_20ms(void *p)
{
    (void)p;
    usleep(BLOCK_SLEEP_US);
}

/* arg: item count. out[0]: wall ms until dispatch_group_wait returns; out[1]: peak threads
 * beyond main, polled every 1 ms. */
static void m_block(void *arg, double out[2])
{
    long n = *(long *)arg;
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_group_t g = dispatch_group_create();
    int peak = threads_beyond_main();
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        dispatch_group_async_f(g, q, NULL, block_20ms);
    for (;;) {
        int k = threads_beyond_main();
        if (k > peak)
            peak = k;
        if (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, (int64_t)ONE_MS)) == 0)
            break;
        if (now_ns() - t0 > WAIT_LIMIT_NS)
            die("blocking items did not finish");
    }
    out[0] = (double)(now_ns() - t0) / 1e6;
    out[1] = peak;
    dispatch_release(g);
}

static void fig_blocking_scale(void)
{
    static long sizes[2] = { 100, 1000 };
    double r[2][2], ideal[2];
    char name[64];
    begin_figure("blocking items at scale");
    for (int s = 0; s < 2; s++) {
        run_reps(m_block, &sizes[s], 3, r[s]);
        /* waves of `peak` threads, one sleep each */
        long waves = (sizes[s] + (long)r[s][1] - 1) / (long)(r[s][1] > 0 ? r[s][1] : 1);
        ideal[s] = (double)waves * BLOCK_SLEEP_US / 1000;
        snprintf(name, sizeof name, "blocking_%ld_x_20ms", sizes[s]);
        report(name, r[s][0], "ms");
        snprintf(name, sizeof name, "blocking_%ld_x_20ms_peak_threads", sizes[s]);
        report(name, r[s][1], "threads");
        snprintf(name, sizeof name, "blocking_%ld_x_20ms_ideal", sizes[s]);
        report(name, ideal[s], "ms (waves of peak threads x 20 ms)");
    }
    report_ratio("blocking_1000_x_20ms", "blocking_100_x_20ms (10x the items)", r[1][0] / r[0][0],
                 NULL, 0);
    report_ratio("blocking_1000_x_20ms", "blocking_1000_x_20ms_ideal", r[1][0] / ideal[1], "<=", 1.5);
    report_check("blocking_1000_x_20ms_peak_threads", r[1][1], "threads", "<=", BLOCK_CAP);
}

/* ------------------------------------------------------------------------------------ */
/* 15. dispatch_apply against an OpenMP parallel for of the same work                    */
/* ------------------------------------------------------------------------------------ */
/* apply_helper_sleeps: do helpers stay hot between back-to-back applies?                */
/* ------------------------------------------------------------------------------------ */

/*
 * apply_helper_sleeps_per_200: 200 applies of 2 iterations that wait for each other (so a
 * helper runs one) and then spin some tens of microseconds, each followed by a serial part
 * a quarter as long on the caller; the voluntary context switches of every thread but the
 * caller's (/proc/self/task/N/status) over the 200, that is how often a helper went to
 * sleep between two applies (before apply/hot.rs: about once per apply). On 1 CPU, skipped.
 */
static long others_voluntary_switches(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        die("opendir /proc/self/task");
    long sum = 0;
    pid_t me = (pid_t)syscall(SYS_gettid);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == me)
            continue;
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/self/task/%d/status", atoi(e->d_name));
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue; /* the thread just retired */
        long v;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
                sum += v;
        fclose(f);
    }
    closedir(d);
    return sum;
}

struct hot_pair {
    int arrived; /* atomic */
    long steps;
};

static void hot_spin(long steps)
{
    unsigned long x = (unsigned long)steps;
    for (long k = 0; k < steps; k++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    sink = x;
}

static void hot_pair_iter(void *ctx, size_t i)
{
    (void)i;
    struct hot_pair *p = ctx;
    __atomic_fetch_add(&p->arrived, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&p->arrived, __ATOMIC_SEQ_CST) < 2) {
    }
    hot_spin(p->steps);
}

static void fig_apply_hot(void)
{
    begin_figure("apply helpers between applies");
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        printf("# apply_helper_sleeps_per_200: skipped (one CPU)\n");
        return;
    }
    const long steps = 40000; /* some tens of microseconds */
    for (int k = 0; k < 20; k++) { /* warm-up: the pool's workers exist */
        struct hot_pair p = { 0, steps };
        dispatch_apply_f(2, DISPATCH_APPLY_AUTO, &p, hot_pair_iter);
    }
    long before = others_voluntary_switches();
    for (int k = 0; k < 200; k++) {
        struct hot_pair p = { 0, steps };
        dispatch_apply_f(2, DISPATCH_APPLY_AUTO, &p, hot_pair_iter);
        hot_spin(steps / 4); /* the caller's serial part, shorter than the parallel one */
    }
    double sleeps = (double)(others_voluntary_switches() - before);
    report("apply_helper_sleeps_per_200", sleeps, "sleeps in 200 back-to-back applies");
    report_check("apply_helper_sleeps_per_200", sleeps, "sleeps", "<", 100);
}

/* ------------------------------------------------------------------------------------ */

struct apply_size {
    long iters;
    uint64_t steps; /* spin() steps per iteration */
};

static void apply_spin(void *ctx, size_t i)
{
    const struct apply_size *s = ctx;
    uint64_t r = spin(s->steps + (i & 1));
    __asm__ __volatile__("" ::"r"(r));
}

static void m_apply_size(void *arg, double out[2])
{
    const struct apply_size *s = arg;
    uint64_t t0 = now_ns();
    dispatch_apply_f((size_t)s->iters, DISPATCH_APPLY_AUTO, (void *)s, apply_spin);
    out[0] = (double)(now_ns() - t0) / 1e6;
}

/* One warm run (after a warm-up run of the same size, as the second of two back-to-back
 * regions: libgomp's threads still spin from the first, ours are hot from it). */
static double warm_run(rep_fn fn, struct apply_size *size)
{
    double out[2] = { 0, 0 };
    fn(size, out); /* warm-up */
    fn(size, out);
    return out[0];
}

#ifdef _OPENMP
static void m_omp_size(void *arg, double out[2])
{
    const struct apply_size *s = arg;
    uint64_t t0 = now_ns();
#pragma omp parallel for
    for (long i = 0; i < s->iters; i++)
        apply_spin((void *)s, (size_t)i);
    out[0] = (double)(now_ns() - t0) / 1e6;
}

/* The OpenMP runs happen in a child process: libgomp's threads live as long as their
 * process (and spin after each region), so in this process they would be counted by the
 * idle figure and compete with the figures after this one. The child stays for the whole
 * figure and runs one warm OpenMP run per request (a size index written to its pipe),
 * so that library and baseline runs alternate round by round: a change of machine load
 * then touches both sides of a round's ratio alike. */
struct omp_child {
    pid_t pid;
    int to, from;
};

static bool omp_child_start(struct apply_size sizes[2], struct omp_child *c)
{
    int req[2], resp[2];
    if (pipe(req) != 0 || pipe(resp) != 0)
        die("pipe failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        close(req[1]);
        close(resp[0]);
        begin_figure("OpenMP parallel for (child)");
        unsigned char s;
        while (read(req[0], &s, 1) == 1 && s < 2) {
            double r = warm_run(m_omp_size, &sizes[s]);
            if (write(resp[1], &r, sizeof r) != (ssize_t)sizeof r)
                _exit(1);
        }
        _exit(0);
    }
    close(req[0]);
    close(resp[1]);
    *c = (struct omp_child){ pid, req[1], resp[0] };
    return true;
}

/* One warm OpenMP run of size `s` in the child; false if the child failed. */
static bool omp_child_run(struct omp_child *c, unsigned char s, double *result)
{
    return write(c->to, &s, 1) == 1 && read(c->from, result, sizeof *result) == (ssize_t)sizeof *result;
}

static bool omp_child_stop(struct omp_child *c)
{
    close(c->to);
    close(c->from);
    int status = 0;
    waitpid(c->pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

static void fig_apply_openmp(void)
{
    /* The same total work (~40 ms of CPU) in coarse and in fine iterations. */
    struct apply_size sizes[2] = { { 2000, spin_per_20us }, { 200000, spin_per_20us / 100 } };
    const char *names[2] = { "apply_2000_x_20us", "apply_200000_x_0.2us" };
    double apply[2][REPS];
    begin_figure("apply vs OpenMP");
#ifdef _OPENMP
    /* Rounds alternate: a warm apply run, then a warm OpenMP run of the same size in the
     * child; the ratio is the median of the rounds' ratios. */
    const char *omp_names[2] = { "baseline_openmp_2000_x_20us", "baseline_openmp_200000_x_0.2us" };
    double omp[2][REPS], ratio[2][REPS];
    struct omp_child child;
    bool omp_ok = omp_child_start(sizes, &child);
    for (int r = 0; r < REPS; r++)
        for (int s = 0; s < 2; s++) {
            apply[s][r] = warm_run(m_apply_size, &sizes[s]);
            omp_ok = omp_ok && omp_child_run(&child, (unsigned char)s, &omp[s][r]);
            ratio[s][r] = omp_ok ? apply[s][r] / omp[s][r] : 0;
        }
    omp_ok = omp_child_stop(&child) && omp_ok;
#else
    for (int r = 0; r < REPS; r++)
        for (int s = 0; s < 2; s++)
            apply[s][r] = warm_run(m_apply_size, &sizes[s]);
#endif
    double med[2];
    for (int s = 0; s < 2; s++) {
        med[s] = median(apply[s], REPS);
        report(names[s], med[s], "ms");
    }
    report_ratio(names[1], names[0], med[1] / med[0], NULL, 0); /* same work, 100x the iterations */
#ifdef _OPENMP
    if (!omp_ok) {
        printf("# WARNING: the OpenMP baseline (child process) failed\n");
        return;
    }
    for (int s = 0; s < 2; s++)
        report(omp_names[s], median(omp[s], REPS), "ms");
    for (int s = 0; s < 2; s++)
        report_ratio(names[s], omp_names[s], median(ratio[s], REPS), "<=", 1.0);
#else
    printf("# OpenMP baseline skipped: built without -fopenmp (make bench adds it)\n");
#endif
}

/* ------------------------------------------------------------------------------------ */
/* 16. Many serial queues: 10 and 10,000 queues fed by dispatch_async_f                  */
/* ------------------------------------------------------------------------------------ */

#define MANYQ_ITEMS 200000L
#define MANYQ_STRIDE 8 /* longs: one counter per cache line */

/* One set of queues fed round-robin; `manyq` is the set being measured. */
struct manyq {
    long nq;
    dispatch_queue_t *qs;
    long *counts; /* counts[k * MANYQ_STRIDE]: items run on queue k (serial, no atomics) */
};

static struct {
    struct manyq *set;
    long done; /* atomic: items run on any queue */
    dispatch_semaphore_t all_done;
} manyq;

static void manyq_item(void *ctx)
{
    ++*(long *)ctx;
    if (__atomic_add_fetch(&manyq.done, 1, __ATOMIC_RELAXED) == MANYQ_ITEMS)
        dispatch_semaphore_signal(manyq.all_done);
}

static void m_manyq(void *arg, double out[2])
{
    struct manyq *m = arg;
    manyq.set = m;
    memset(m->counts, 0, (size_t)m->nq * MANYQ_STRIDE * sizeof(long));
    manyq.done = 0;
    uint64_t t0 = now_ns();
    for (long i = 0, k = 0; i < MANYQ_ITEMS; i++, k = k + 1 == m->nq ? 0 : k + 1)
        dispatch_async_f(m->qs[k], &m->counts[k * MANYQ_STRIDE], manyq_item);
    if (dispatch_semaphore_wait(manyq.all_done, wait_limit()) != 0)
        die("items on many queues did not finish");
    out[0] = (double)(now_ns() - t0) / MANYQ_ITEMS;
    long sum = 0;
    for (long k = 0; k < m->nq; k++)
        sum += m->counts[k * MANYQ_STRIDE];
    expect_count("items", sum, MANYQ_ITEMS);
}

static void manyq_create(struct manyq *m, long nq)
{
    m->nq = nq;
    m->qs = calloc((size_t)nq, sizeof *m->qs);
    m->counts = calloc((size_t)nq * MANYQ_STRIDE, sizeof(long));
    if (m->qs == NULL || m->counts == NULL)
        die("out of memory");
    for (long k = 0; k < nq; k++)
        m->qs[k] = dispatch_queue_create("bench.manyq", DISPATCH_QUEUE_SERIAL);
}

static void manyq_destroy(struct manyq *m)
{
    for (long k = 0; k < m->nq; k++)
        dispatch_release(m->qs[k]);
    free(m->qs);
    free(m->counts);
}

/* Rounds alternate between the two sets (each run after a warm-up of its own set, as
 * before), and the ratio is the median of the rounds' ratios: a change of machine load
 * then touches both sides of a round alike. */
static void fig_many_queues(void)
{
    begin_figure("many queues");
    manyq.all_done = dispatch_semaphore_create(0);
    struct manyq ten, many;
    manyq_create(&ten, 10);
    manyq_create(&many, 10000);
    double t[REPS], m[REPS], ratio[REPS], out[2];
    m_manyq(&ten, out); /* warm-up */
    m_manyq(&many, out);
    for (int r = 0; r < REPS; r++) {
        m_manyq(&ten, out);
        t[r] = out[0];
        m_manyq(&many, out);
        m[r] = out[0];
        ratio[r] = m[r] / t[r];
    }
    manyq_destroy(&ten);
    manyq_destroy(&many);
    dispatch_release(manyq.all_done);
    report("async_10_queues", median(t, REPS), "ns/item");
    report("async_10000_queues", median(m, REPS), "ns/item");
    report_ratio("async_10000_queues", "async_10_queues", median(ratio, REPS), "<=", 1.5);
}

/* ------------------------------------------------------------------------------------ */
/* 17. dispatch_sync_f on one serial queue: 2 and 8 threads contending                   */
/* ------------------------------------------------------------------------------------ */

#define SYNCC_N 100000L /* calls in total, split among the threads */

static void m_sync_contended(void *p, double out[2])
{
    struct sync_arg *a = p;
    int threads = (int)(SYNCC_N / a->per_thread);
    a->count = 0;
    uint64_t t0 = run_threads(threads, sync_loop, a);
    out[0] = (double)(now_ns() - t0) / SYNCC_N;
    expect_count("calls", a->count, SYNCC_N);
}

static void fig_sync_contended(void)
{
    begin_figure("sync contended, 2 and 8 threads");
    dispatch_queue_t q = dispatch_queue_create("bench.sync.contended", DISPATCH_QUEUE_SERIAL);
    struct sync_arg two = { .q = q, .fn = item_incr, .per_thread = SYNCC_N / 2 };
    struct sync_arg eight = { .q = q, .fn = item_incr, .per_thread = SYNCC_N / 8 };
    double out[3];
    /* 2- and 8-thread rounds alternate: the ratio is the median of the rounds' ratios */
    run_ratio_interleaved(m_sync_contended, &two, m_sync_contended, &eight, out);
    dispatch_release(q);
    report("sync_serial_contended_2threads", out[0], "ns/op");
    report("sync_serial_contended_8threads", out[1], "ns/op");
    report_ratio("sync_serial_contended_8threads", "sync_serial_contended_2threads", out[2], "<=", 2);
}

/* ------------------------------------------------------------------------------------ */

static void print_environment(void)
{
    char line[512], lib[512] = "?";
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *path = strchr(line, '/');
        if (path && strstr(path, "libdispatch")) {
            path[strcspn(path, "\n")] = 0;
            snprintf(lib, sizeof lib, "%s", path);
            break;
        }
    }
    if (f)
        fclose(f);
    double load[1] = { -1 };
    getloadavg(load, 1);
    printf("# library: %s\n", lib);
    printf("# cpus online: %ld, load average (1 min): %.2f\n", sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    printf("# spin calibration: %llu steps ~ 20 us\n", (unsigned long long)spin_per_20us);
}

/* `target/bench/bench fig_timers_issue12 fig_many_queues` runs only the figures named (the
 * functions below); with no argument, all of them. */
static int figure_wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

#define RUN_FIGURE(f)                        \
    do {                                     \
        if (figure_wanted(argc, argv, #f))   \
            f();                             \
    } while (0)

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_watchdog);
    begin_figure("calibration");
    uint64_t start = now_ns();

    calibrate_spin();
    print_environment();

    RUN_FIGURE(fig_fanout); /* first, so that its cold run starts from an unused pool */
    RUN_FIGURE(fig_once);
    RUN_FIGURE(fig_sync);
    RUN_FIGURE(fig_async);
    RUN_FIGURE(fig_rw);
    RUN_FIGURE(fig_apply);
    RUN_FIGURE(fig_group);
    RUN_FIGURE(fig_wakeups);
    RUN_FIGURE(fig_timing);
    RUN_FIGURE(fig_queues);
    RUN_FIGURE(fig_timers_issue12);
    RUN_FIGURE(fig_blocking_scale); /* first of these: its threads have idled longest by fig_idle */
    RUN_FIGURE(fig_apply_openmp);
    RUN_FIGURE(fig_apply_hot);
    RUN_FIGURE(fig_many_queues);
    RUN_FIGURE(fig_sync_contended);
    RUN_FIGURE(fig_idle); /* last: the library has been used, the pool has threads */

    printf("# targets: %d met, %d not met; total run time %.1f s\n", targets_met, targets_missed,
           (double)(now_ns() - start) / 1e9);
    return 0;
}
