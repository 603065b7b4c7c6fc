/*
 * test_source_data.c: dispatch sources of the DATA_ADD / DATA_OR / DATA_REPLACE types,
 * their life cycle (inactive, suspend/resume, cancel, registration handler), the misuse
 * aborts and dispatch_source_create's refusal of bad arguments.
 *
 *   add_threads          DATA_ADD on a concurrent target queue, 4 threads merging 1..2000
 *                        each: the get_data values summed over all handler calls equal the
 *                        sum merged (8004000) exactly; every call sees data > 0; the handler
 *                        never runs concurrently with itself (atomic "inside" counter) even
 *                        though the target is concurrent; it runs on the target queue
 *                        (dispatch_get_specific of a key set on the target), with the
 *                        source's context.
 *   or_threads           DATA_OR, 8 threads each merging their own 4 bits many times: the OR
 *                        of all delivered data is 0xffffffff, each delivered value is a
 *                        non-zero subset of it.
 *   replace_last         DATA_REPLACE, one thread merging 1..1000 in order: the values the
 *                        handler sees strictly increase and the last one is 1000.
 *   merge_zero           a merge of 0 delivers nothing (DATA_ADD, DATA_OR and DATA_REPLACE).
 *   serial_target        on a serial target queue busy with an item, the handler does not run
 *                        until that item returned (it runs as an item of that queue).
 *   inactive             a new source is inactive: merges 3 and 4 before activation deliver
 *                        nothing for 150 ms; dispatch_activate then delivers 7 (one or more
 *                        calls). The same with dispatch_resume as the activation.
 *   suspend_coalesce     an active source suspended: merges 1, 2, 3 deliver nothing for 150 ms;
 *                        after dispatch_resume exactly one call with 6 (DATA_ADD); DATA_OR
 *                        0x1, 0x4, 0x10 give one call with 0x15; DATA_REPLACE 5, 9, 7 one call
 *                        with 7.
 *   suspend_nested       suspended twice, resumed once: still nothing delivered (150 ms); the
 *                        second resume delivers the merged value once.
 *   handler_while_active dispatch_source_set_event_handler_f on an active source: later events
 *                        go to the new handler only.
 *   mask_handle          get_handle / get_mask return what was given at creation (data types
 *                        0/0, TIMER with DISPATCH_TIMER_STRICT, READ on a pipe fd, SIGNAL).
 *   null_queue           a source created with a NULL queue delivers on a global-queue worker
 *                        (not the main thread).
 *   cancel               cancel while the event handler runs (it is blocked): testcancel is 0
 *                        before and non-zero after; the cancel handler does not run while the
 *                        event handler still runs, runs exactly once after it returned (also
 *                        with a second dispatch_source_cancel), on the target queue; events
 *                        merged before (pending) and after the cancel are never delivered;
 *                        a source cancelled with no event runs its cancel handler; a source
 *                        cancelled before activation runs its cancel handler once activated
 *                        and never its event handler, even with data merged.
 *   release_after_cancel the client's last reference released right after dispatch_source_cancel
 *                        while an event handler still runs: the source lives on, the handler
 *                        finishes, the cancel handler runs once, then the finalizer
 *                        (dispatch_set_finalizer_f) runs once, after the cancel handler.
 *   merge_cancel_race    50 rounds: 3 threads merge into a DATA_ADD source on a concurrent queue
 *                        while the main thread cancels it after a random 0..2 ms: the cancel
 *                        handler runs once, no event handler call starts after it, nothing
 *                        crashes; merges into the cancelled source are ignored.
 *   registration         the registration handler runs once, on the target queue, before the
 *                        first event handler call.
 *   release_misuse       (runs first, in forked children, before this process uses the
 *                        library) releasing a source that has a mandatory cancel handler and
 *                        was never cancelled, an inactive source and a suspended source each
 *                        abort with "BUG IN CLIENT OF LIBDISPATCH:" (needles "cancel",
 *                        "inactive", "suspended").
 *   mandatory_cancel     a mandatory cancel handler runs once when the source is cancelled,
 *                        and the release after it does not abort.
 *   bad_input            dispatch_source_create returns NULL (no crash) for: READ/WRITE/VNODE
 *                        with fd -1, READ on a fd that is not open, SIGNAL 0, 1000 and NSIG,
 *                        PROC on a pid that does not exist (a reaped child), a DATA_ADD with a
 *                        non-zero handle, VNODE with a mask bit that is no vnode event.
 */
#include "check.h"

/* ---- helpers ---- */

/* bounded wait until *a == want (true) */
static bool wait_ull(atomic_ullong *a, unsigned long long want, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(a) != want) {
        if (now_ns() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

static int queue_key; /* address used as the dispatch_queue_set_specific key */

struct dctx {
    dispatch_source_t src;
    void *marker;                  /* dispatch_get_specific(&queue_key) expected in handlers */
    dispatch_semaphore_t ev_sem;   /* signalled at the end of each event handler call */
    dispatch_semaphore_t cancel_sem;
    atomic_int calls;
    atomic_int inside;
    atomic_int overlap;
    atomic_int zero_data;
    atomic_int wrong_queue;
    atomic_int wrong_ctx;
    atomic_int cancels;
    atomic_int cancel_saw_inside;  /* the cancel handler ran while the event handler did */
    atomic_ullong total;           /* sum (ADD) or or (OR) of delivered data */
    atomic_ullong last;            /* last delivered data */
    atomic_int not_increasing;     /* REPLACE: a value not above the previous one */
    atomic_int sleep_every;        /* sleep 1 ms every n-th call (0: never) */
    int kind;                      /* 0 add, 1 or, 2 replace */
};

static void dctx_init(struct dctx *c, int kind, void *marker)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->marker = marker;
    c->ev_sem = dispatch_semaphore_create(0);
    c->cancel_sem = dispatch_semaphore_create(0);
}

static void dctx_destroy(struct dctx *c)
{
    dispatch_release(c->ev_sem);
    dispatch_release(c->cancel_sem);
}

static void data_handler(void *ctx)
{
    struct dctx *c = ctx;
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_fetch_add(&c->overlap, 1);
    if (c->marker && dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&c->wrong_queue, 1);
    if (dispatch_get_context(c->src) != c)
        atomic_fetch_add(&c->wrong_ctx, 1);
    uintptr_t d = dispatch_source_get_data(c->src);
    if (d == 0)
        atomic_fetch_add(&c->zero_data, 1);
    int n = atomic_fetch_add(&c->calls, 1) + 1;
    int every = atomic_load(&c->sleep_every);
    if (every && n % every == 0)
        sleep_ms(1);
    if (c->kind == 0) {
        atomic_fetch_add(&c->total, (unsigned long long)d);
    } else if (c->kind == 1) {
        atomic_fetch_or(&c->total, (unsigned long long)d);
    } else {
        if (d <= atomic_load(&c->last))
            atomic_fetch_add(&c->not_increasing, 1);
    }
    atomic_store(&c->last, (unsigned long long)d);
    atomic_fetch_sub(&c->inside, 1);
    dispatch_semaphore_signal(c->ev_sem);
}

static void data_cancel_handler(void *ctx)
{
    struct dctx *c = ctx;
    if (atomic_load(&c->inside) != 0)
        atomic_fetch_add(&c->cancel_saw_inside, 1);
    if (c->marker && dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&c->wrong_queue, 1);
    atomic_fetch_add(&c->cancels, 1);
    dispatch_semaphore_signal(c->cancel_sem);
}

static dispatch_source_type_t kind_type(int kind)
{
    return kind == 0 ? DISPATCH_SOURCE_TYPE_DATA_ADD
         : kind == 1 ? DISPATCH_SOURCE_TYPE_DATA_OR
                     : DISPATCH_SOURCE_TYPE_DATA_REPLACE;
}

/* creates an inactive data source with data_handler / data_cancel_handler */
static dispatch_source_t make_data_source(struct dctx *c, dispatch_queue_t q)
{
    dispatch_source_t s = dispatch_source_create(kind_type(c->kind), 0, 0, q);
    CHECK(s != NULL, "dispatch_source_create(DATA kind %d) returned NULL", c->kind);
    c->src = s;
    dispatch_set_context(s, c);
    dispatch_source_set_event_handler_f(s, data_handler);
    dispatch_source_set_cancel_handler_f(s, data_cancel_handler);
    return s;
}

/* cancel, wait for the cancel handler (once), release */
static void cancel_and_release(struct dctx *c)
{
    dispatch_source_cancel(c->src);
    CHECK(sem_wait_ms(c->cancel_sem, 5000), "cancel handler did not run within 5 s");
    sleep_ms(20);
    CHECK(atomic_load(&c->cancels) == 1, "cancel handler ran %d times", atomic_load(&c->cancels));
    dispatch_release(c->src);
}

static void common_checks(struct dctx *c)
{
    CHECK(atomic_load(&c->overlap) == 0, "event handler ran concurrently with itself %d times",
          atomic_load(&c->overlap));
    CHECK(atomic_load(&c->wrong_queue) == 0, "a handler ran %d times off the target queue",
          atomic_load(&c->wrong_queue));
    CHECK(atomic_load(&c->wrong_ctx) == 0, "dispatch_get_context(source) changed (%d)", atomic_load(&c->wrong_ctx));
    CHECK(atomic_load(&c->zero_data) == 0, "event handler called %d times with data 0", atomic_load(&c->zero_data));
}

/* ------------------------------------------------------------------ */

#define ADD_THREADS 4
#define ADD_MAX 2000

static void *add_merger(void *arg)
{
    dispatch_source_t s = arg;
    for (uintptr_t v = 1; v <= ADD_MAX; v++) {
        dispatch_source_merge_data(s, v);
        if (v % 256 == 0)
            sched_yield();
    }
    return NULL;
}

static void test_add_threads(void)
{
    test_start("add_threads", 30);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.source.add", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct dctx c;
    dctx_init(&c, 0, &marker);
    atomic_store(&c.sleep_every, 8);
    dispatch_source_t s = make_data_source(&c, q);
    CHECK(dispatch_source_testcancel(s) == 0, "testcancel of a fresh source is non-zero");
    dispatch_activate(s);

    pthread_t th[ADD_THREADS];
    for (int i = 0; i < ADD_THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, add_merger, s) == 0, "pthread_create");
    for (int i = 0; i < ADD_THREADS; i++)
        pthread_join(th[i], NULL);

    unsigned long long want = (unsigned long long)ADD_THREADS * ADD_MAX * (ADD_MAX + 1) / 2;
    CHECK(wait_ull(&c.total, want, 10000), "sum of delivered data is %llu, merged %llu (calls %d)",
          (unsigned long long)atomic_load(&c.total), want, atomic_load(&c.calls));
    sleep_ms(50);
    CHECK(atomic_load(&c.total) == want, "sum of delivered data grew to %llu after reaching %llu",
          (unsigned long long)atomic_load(&c.total), want);
    CHECK(atomic_load(&c.calls) >= 1, "no handler call");
    common_checks(&c);
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(q);
    OK("add_threads");
}

/* ------------------------------------------------------------------ */

#define OR_THREADS 8

struct or_arg {
    dispatch_source_t s;
    int index;
};

static void *or_merger(void *arg)
{
    struct or_arg *a = arg;
    for (int round = 0; round < 500; round++)
        for (int k = 0; k < 4; k++)
            dispatch_source_merge_data(a->s, (uintptr_t)1 << (a->index * 4 + k));
    return NULL;
}

static atomic_int or_outside_bits;

static void or_handler(void *ctx)
{
    struct dctx *c = ctx;
    uintptr_t d = dispatch_source_get_data(c->src);
    if (d & ~(uintptr_t)0xffffffffu)
        atomic_fetch_add(&or_outside_bits, 1);
    data_handler(ctx);
}

static void test_or_threads(void)
{
    test_start("or_threads", 30);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.source.or", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct dctx c;
    dctx_init(&c, 1, &marker);
    atomic_store(&c.sleep_every, 4);
    dispatch_source_t s = make_data_source(&c, q);
    dispatch_source_set_event_handler_f(s, or_handler);
    dispatch_activate(s);

    pthread_t th[OR_THREADS];
    struct or_arg args[OR_THREADS];
    for (int i = 0; i < OR_THREADS; i++) {
        args[i].s = s;
        args[i].index = i;
        CHECK(pthread_create(&th[i], NULL, or_merger, &args[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < OR_THREADS; i++)
        pthread_join(th[i], NULL);

    CHECK(wait_ull(&c.total, 0xffffffffull, 10000), "OR of delivered data is %#llx, want 0xffffffff",
          (unsigned long long)atomic_load(&c.total));
    CHECK(atomic_load(&or_outside_bits) == 0, "delivered data had bits never merged");
    common_checks(&c);
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(q);
    OK("or_threads");
}

/* ------------------------------------------------------------------ */

static void test_replace_last(void)
{
    test_start("replace_last", 30);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.source.replace", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct dctx c;
    dctx_init(&c, 2, &marker);
    atomic_store(&c.sleep_every, 3);
    dispatch_source_t s = make_data_source(&c, q);
    dispatch_activate(s);
    for (uintptr_t v = 1; v <= 1000; v++) {
        dispatch_source_merge_data(s, v);
        if (v % 50 == 0)
            sleep_ms(1);
    }
    CHECK(wait_ull(&c.last, 1000, 5000), "last delivered value is %llu, want 1000",
          (unsigned long long)atomic_load(&c.last));
    sleep_ms(50);
    CHECK(atomic_load(&c.last) == 1000, "a value was delivered after 1000: %llu",
          (unsigned long long)atomic_load(&c.last));
    CHECK(atomic_load(&c.not_increasing) == 0,
          "%d delivered values were not above the previous one (REPLACE must keep the last merged)",
          atomic_load(&c.not_increasing));
    CHECK(atomic_load(&c.calls) >= 1 && atomic_load(&c.calls) <= 1000, "calls %d", atomic_load(&c.calls));
    common_checks(&c);
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(q);
    OK("replace_last");
}

/* ------------------------------------------------------------------ */

static void test_merge_zero(void)
{
    test_start("merge_zero", 15);
    dispatch_queue_t q = dispatch_queue_create("test.source.zero", NULL);
    for (int kind = 0; kind < 3; kind++) {
        struct dctx c;
        dctx_init(&c, kind, NULL);
        dispatch_source_t s = make_data_source(&c, q);
        dispatch_activate(s);
        for (int i = 0; i < 10; i++)
            dispatch_source_merge_data(s, 0);
        sleep_ms(150);
        CHECK(atomic_load(&c.calls) == 0, "kind %d: merges of 0 caused %d handler calls", kind,
              atomic_load(&c.calls));
        /* the source still works */
        dispatch_source_merge_data(s, 2);
        CHECK(sem_wait_ms(c.ev_sem, 5000), "kind %d: merge of 2 not delivered", kind);
        CHECK(atomic_load(&c.last) == 2, "kind %d: delivered %llu, want 2", kind,
              (unsigned long long)atomic_load(&c.last));
        cancel_and_release(&c);
        dctx_destroy(&c);
    }
    dispatch_release(q);
    OK("merge_zero");
}

/* ------------------------------------------------------------------ */

static atomic_int st_blocker_done;

static void st_blocker(void *ctx)
{
    dispatch_semaphore_t gate = ctx;
    dispatch_semaphore_wait(gate, in_ms(5000));
    atomic_store(&st_blocker_done, 1);
}

static atomic_int st_ran_early;

static void st_handler(void *ctx)
{
    if (!atomic_load(&st_blocker_done))
        atomic_fetch_add(&st_ran_early, 1);
    data_handler(ctx);
}

static void test_serial_target(void)
{
    test_start("serial_target", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.source.serial", NULL);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct dctx c;
    dctx_init(&c, 0, &marker);
    dispatch_source_t s = make_data_source(&c, q);
    dispatch_source_set_event_handler_f(s, st_handler);
    dispatch_activate(s);

    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_async_f(q, gate, st_blocker);
    sleep_ms(20);
    dispatch_source_merge_data(s, 5);
    sleep_ms(150);
    CHECK(atomic_load(&c.calls) == 0, "the handler ran while another item of its serial target queue ran");
    dispatch_semaphore_signal(gate);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "handler did not run after the blocking item returned");
    CHECK(atomic_load(&st_ran_early) == 0, "handler ran before the blocking item returned");
    CHECK(atomic_load(&c.total) == 5, "delivered %llu, want 5", (unsigned long long)atomic_load(&c.total));
    common_checks(&c);
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(gate);
    dispatch_release(q);
    OK("serial_target");
}

/* ------------------------------------------------------------------ */

static void test_inactive(void)
{
    test_start("inactive", 15);
    dispatch_queue_t q = dispatch_queue_create("test.source.inactive", NULL);
    for (int use_resume = 0; use_resume < 2; use_resume++) {
        struct dctx c;
        dctx_init(&c, 0, NULL);
        dispatch_source_t s = make_data_source(&c, q);
        dispatch_source_merge_data(s, 3);
        dispatch_source_merge_data(s, 4);
        sleep_ms(150);
        CHECK(atomic_load(&c.calls) == 0, "an inactive source delivered (%d calls)", atomic_load(&c.calls));
        if (use_resume)
            dispatch_resume(s);
        else
            dispatch_activate(s);
        CHECK(wait_ull(&c.total, 7, 5000), "after %s: delivered %llu, want 7",
              use_resume ? "dispatch_resume" : "dispatch_activate", (unsigned long long)atomic_load(&c.total));
        common_checks(&c);
        cancel_and_release(&c);
        dctx_destroy(&c);
    }
    dispatch_release(q);
    OK("inactive");
}

/* ------------------------------------------------------------------ */

static void test_suspend_coalesce(void)
{
    test_start("suspend_coalesce", 20);
    dispatch_queue_t q = dispatch_queue_create("test.source.suspend", DISPATCH_QUEUE_CONCURRENT);
    static const uintptr_t vals[3][3] = { { 1, 2, 3 }, { 0x1, 0x4, 0x10 }, { 5, 9, 7 } };
    static const uintptr_t want[3] = { 6, 0x15, 7 };
    for (int kind = 0; kind < 3; kind++) {
        struct dctx c;
        dctx_init(&c, kind, NULL);
        dispatch_source_t s = make_data_source(&c, q);
        dispatch_activate(s);
        /* one delivery first, so the source is known to be running */
        dispatch_source_merge_data(s, 1);
        CHECK(sem_wait_ms(c.ev_sem, 5000), "kind %d: first merge not delivered", kind);
        sleep_ms(20);
        CHECK(atomic_load(&c.calls) == 1, "kind %d: %d calls for one merge", kind, atomic_load(&c.calls));

        dispatch_suspend(s);
        for (int i = 0; i < 3; i++) {
            dispatch_source_merge_data(s, vals[kind][i]);
            sleep_ms(5);
        }
        sleep_ms(150);
        CHECK(atomic_load(&c.calls) == 1, "kind %d: a suspended source delivered", kind);
        dispatch_resume(s);
        CHECK(sem_wait_ms(c.ev_sem, 5000), "kind %d: nothing delivered after resume", kind);
        sleep_ms(150);
        CHECK(atomic_load(&c.calls) == 2, "kind %d: %d calls after resume, want exactly 1", kind,
              atomic_load(&c.calls) - 1);
        CHECK(atomic_load(&c.last) == want[kind], "kind %d: coalesced data %#llx, want %#llx", kind,
              (unsigned long long)atomic_load(&c.last), (unsigned long long)want[kind]);
        common_checks(&c);
        cancel_and_release(&c);
        dctx_destroy(&c);
    }
    dispatch_release(q);
    OK("suspend_coalesce");
}

/* ------------------------------------------------------------------ */

static void release_after_cancel_noop(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

/* activate, cancel with a cancel handler signalling, wait, release */
static void dispose_plain(dispatch_source_t s)
{
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    dispatch_set_context(s, sem);
    dispatch_source_set_cancel_handler_f(s, release_after_cancel_noop);
    dispatch_activate(s);
    dispatch_source_cancel(s);
    CHECK(sem_wait_ms(sem, 5000), "cancel handler did not run");
    dispatch_release(s);
    dispatch_release(sem);
}

static void test_mask_handle(void)
{
    test_start("mask_handle", 20);
    dispatch_queue_t q = dispatch_queue_create("test.source.mask", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "DATA_ADD create");
    CHECK(dispatch_source_get_handle(s) == 0 && dispatch_source_get_mask(s) == 0, "DATA_ADD handle %lu mask %lu",
          (unsigned long)dispatch_source_get_handle(s), (unsigned long)dispatch_source_get_mask(s));
    dispose_plain(s);

    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, DISPATCH_TIMER_STRICT, q);
    CHECK(s != NULL, "TIMER with DISPATCH_TIMER_STRICT refused");
    CHECK(dispatch_source_get_mask(s) == DISPATCH_TIMER_STRICT, "TIMER mask %lu, want %lu",
          (unsigned long)dispatch_source_get_mask(s), (unsigned long)DISPATCH_TIMER_STRICT);
    CHECK(dispatch_source_get_handle(s) == 0, "TIMER handle %lu", (unsigned long)dispatch_source_get_handle(s));
    dispose_plain(s);

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)p[0], 0, q);
    CHECK(s != NULL, "READ create");
    CHECK(dispatch_source_get_handle(s) == (uintptr_t)p[0], "READ handle %lu, want %d",
          (unsigned long)dispatch_source_get_handle(s), p[0]);
    CHECK(dispatch_source_get_mask(s) == 0, "READ mask %lu", (unsigned long)dispatch_source_get_mask(s));
    dispose_plain(s);

    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_WRITE, (uintptr_t)p[1], 0, q);
    CHECK(s != NULL, "WRITE create");
    CHECK(dispatch_source_get_handle(s) == (uintptr_t)p[1], "WRITE handle %lu, want %d",
          (unsigned long)dispatch_source_get_handle(s), p[1]);
    dispose_plain(s);
    close(p[0]);
    close(p[1]);

    signal(SIGUSR1, SIG_IGN);
    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_SIGNAL, SIGUSR1, 0, q);
    CHECK(s != NULL, "SIGNAL create");
    CHECK(dispatch_source_get_handle(s) == SIGUSR1, "SIGNAL handle %lu, want %d",
          (unsigned long)dispatch_source_get_handle(s), SIGUSR1);
    dispose_plain(s);

    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        sleep_ms(300);
        _exit(0);
    }
    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT, q);
    CHECK(s != NULL, "PROC create on a live child");
    CHECK(dispatch_source_get_handle(s) == (uintptr_t)pid, "PROC handle %lu, want %d",
          (unsigned long)dispatch_source_get_handle(s), (int)pid);
    CHECK(dispatch_source_get_mask(s) == DISPATCH_PROC_EXIT, "PROC mask %#lx", (unsigned long)dispatch_source_get_mask(s));
    dispose_plain(s);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid on the child failed: %s", strerror(errno));

    dispatch_release(q);
    OK("mask_handle");
}

/* ------------------------------------------------------------------ */

static atomic_int nq_tid;

static void nq_handler(void *ctx)
{
    struct dctx *c = ctx;
    atomic_store(&nq_tid, (int)my_tid());
    data_handler(c);
}

static void test_null_queue(void)
{
    test_start("null_queue", 15);
    struct dctx c;
    dctx_init(&c, 0, NULL);
    dispatch_source_t s = make_data_source(&c, NULL);
    dispatch_source_set_event_handler_f(s, nq_handler);
    dispatch_activate(s);
    dispatch_source_merge_data(s, 11);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "a source with the NULL (default) queue delivered nothing");
    CHECK(atomic_load(&c.total) == 11, "delivered %llu, want 11", (unsigned long long)atomic_load(&c.total));
    CHECK(atomic_load(&nq_tid) != 0 && atomic_load(&nq_tid) != getpid(),
          "handler of a NULL-queue source ran on the main thread");
    cancel_and_release(&c);
    dctx_destroy(&c);
    OK("null_queue");
}

/* ------------------------------------------------------------------ */

struct cctx {
    dispatch_source_t src;
    dispatch_semaphore_t entered;
    dispatch_semaphore_t gate;
    dispatch_semaphore_t cancel_sem;
    atomic_int calls;
    atomic_int inside;
    atomic_int returned;          /* event handler calls that returned */
    atomic_int cancels;
    atomic_int cancel_before_return; /* cancel handler ran while the event handler had not returned */
    atomic_int cancel_wrong_queue;
    void *marker;
};

static void cancel_ev_handler(void *ctx)
{
    struct cctx *c = ctx;
    atomic_fetch_add(&c->inside, 1);
    atomic_fetch_add(&c->calls, 1);
    dispatch_semaphore_signal(c->entered);
    dispatch_semaphore_wait(c->gate, in_ms(5000));
    sleep_ms(20);
    atomic_fetch_sub(&c->inside, 1);
    atomic_fetch_add(&c->returned, 1);
}

static void cancel_cancel_handler(void *ctx)
{
    struct cctx *c = ctx;
    if (atomic_load(&c->inside) != 0 || atomic_load(&c->returned) != atomic_load(&c->calls))
        atomic_fetch_add(&c->cancel_before_return, 1);
    if (c->marker && dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&c->cancel_wrong_queue, 1);
    atomic_fetch_add(&c->cancels, 1);
    dispatch_semaphore_signal(c->cancel_sem);
}

static void cctx_init(struct cctx *c, dispatch_source_t s, void *marker)
{
    memset(c, 0, sizeof *c);
    c->src = s;
    c->marker = marker;
    c->entered = dispatch_semaphore_create(0);
    c->gate = dispatch_semaphore_create(0);
    c->cancel_sem = dispatch_semaphore_create(0);
    dispatch_set_context(s, c);
    dispatch_source_set_event_handler_f(s, cancel_ev_handler);
    dispatch_source_set_cancel_handler_f(s, cancel_cancel_handler);
}

static void cctx_destroy(struct cctx *c)
{
    dispatch_release(c->entered);
    dispatch_release(c->gate);
    dispatch_release(c->cancel_sem);
}

static void test_cancel(void)
{
    test_start("cancel", 30);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.source.cancel", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);

    /* 1. cancel while the event handler runs */
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    struct cctx c;
    cctx_init(&c, s, &marker);
    dispatch_activate(s);
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(c.entered, 5000), "event handler not entered");
    dispatch_source_merge_data(s, 2); /* pending while the handler runs */
    sleep_ms(20);
    CHECK(dispatch_source_testcancel(s) == 0, "testcancel non-zero before cancel");
    dispatch_source_cancel(s);
    CHECK(dispatch_source_testcancel(s) != 0, "testcancel is 0 right after dispatch_source_cancel");
    dispatch_source_merge_data(s, 4); /* after cancel */
    dispatch_source_cancel(s);        /* a second cancel is harmless */
    sleep_ms(150);
    CHECK(atomic_load(&c.cancels) == 0, "cancel handler ran while the event handler was still running");
    CHECK(atomic_load(&c.calls) == 1, "a second event handler call started during the first (%d)",
          atomic_load(&c.calls));
    dispatch_semaphore_signal(c.gate);
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler did not run after the event handler returned");
    sleep_ms(150);
    CHECK(atomic_load(&c.cancels) == 1, "cancel handler ran %d times", atomic_load(&c.cancels));
    CHECK(atomic_load(&c.cancel_before_return) == 0, "cancel handler ran before the event handler returned");
    CHECK(atomic_load(&c.cancel_wrong_queue) == 0, "cancel handler ran off the target queue");
    CHECK(atomic_load(&c.calls) == 1,
          "event handler ran %d times; events pending at or merged after the cancel must not be delivered",
          atomic_load(&c.calls));
    CHECK(dispatch_source_testcancel(s) != 0, "testcancel is 0 after the cancel handler ran");
    dispatch_source_merge_data(s, 8); /* merging into a cancelled source: no delivery, no crash */
    sleep_ms(50);
    CHECK(atomic_load(&c.calls) == 1, "a cancelled source delivered");
    dispatch_release(s);
    cctx_destroy(&c);

    /* 2. cancel with no event ever */
    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_OR, 0, 0, q);
    CHECK(s != NULL, "create");
    cctx_init(&c, s, &marker);
    dispatch_activate(s);
    sleep_ms(10);
    dispatch_source_cancel(s);
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler of an idle source did not run");
    sleep_ms(50);
    CHECK(atomic_load(&c.cancels) == 1 && atomic_load(&c.calls) == 0, "cancels %d calls %d",
          atomic_load(&c.cancels), atomic_load(&c.calls));
    dispatch_release(s);
    cctx_destroy(&c);

    /* 3. cancelled before activation: the data merged is never delivered */
    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    cctx_init(&c, s, &marker);
    dispatch_semaphore_signal(c.gate); /* the event handler must not block if wrongly called */
    dispatch_source_merge_data(s, 3);
    dispatch_source_cancel(s);
    CHECK(dispatch_source_testcancel(s) != 0, "testcancel 0 after cancel of an inactive source");
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler did not run once the cancelled source was activated");
    sleep_ms(100);
    CHECK(atomic_load(&c.cancels) == 1, "cancel handler ran %d times", atomic_load(&c.cancels));
    CHECK(atomic_load(&c.calls) == 0, "event handler of a source cancelled before activation ran");
    dispatch_release(s);
    cctx_destroy(&c);

    dispatch_release(q);
    OK("cancel");
}

/* ------------------------------------------------------------------ */

static void test_suspend_nested(void)
{
    test_start("suspend_nested", 15);
    dispatch_queue_t q = dispatch_queue_create("test.source.nested", NULL);
    struct dctx c;
    dctx_init(&c, 0, NULL);
    dispatch_source_t s = make_data_source(&c, q);
    dispatch_activate(s);
    dispatch_suspend(s);
    dispatch_suspend(s);
    dispatch_source_merge_data(s, 20);
    dispatch_source_merge_data(s, 22);
    dispatch_resume(s);
    sleep_ms(150);
    CHECK(atomic_load(&c.calls) == 0, "delivered while still suspended once (suspended twice, resumed once)");
    dispatch_resume(s);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "nothing delivered after the second resume");
    sleep_ms(100);
    CHECK(atomic_load(&c.calls) == 1 && atomic_load(&c.total) == 42, "calls %d total %llu, want 1 call with 42",
          atomic_load(&c.calls), (unsigned long long)atomic_load(&c.total));
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(q);
    OK("suspend_nested");
}

/* ------------------------------------------------------------------ */

static atomic_int second_handler_runs;

static void second_handler(void *ctx)
{
    struct dctx *c = ctx;
    atomic_fetch_add(&second_handler_runs, 1);
    atomic_store(&c->last, dispatch_source_get_data(c->src));
    dispatch_semaphore_signal(c->ev_sem);
}

static void test_handler_while_active(void)
{
    test_start("handler_while_active", 15);
    dispatch_queue_t q = dispatch_queue_create("test.source.sethandler", NULL);
    struct dctx c;
    dctx_init(&c, 0, NULL);
    dispatch_source_t s = make_data_source(&c, q);
    dispatch_activate(s);
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "first handler not called");
    dispatch_source_set_event_handler_f(s, second_handler);
    sleep_ms(20);
    dispatch_source_merge_data(s, 77);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "nothing called after replacing the handler");
    sleep_ms(50);
    CHECK(atomic_load(&c.calls) == 1, "the old handler ran %d times after being replaced", atomic_load(&c.calls) - 1);
    CHECK(atomic_load(&second_handler_runs) == 1 && atomic_load(&c.last) == 77, "new handler runs %d data %llu",
          atomic_load(&second_handler_runs), (unsigned long long)atomic_load(&c.last));
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(q);
    OK("handler_while_active");
}

/* ------------------------------------------------------------------ */

static atomic_int fin_runs;
static atomic_int fin_before_cancel;
static dispatch_semaphore_t fin_sem;

static void fin_finalizer(void *ctx)
{
    struct cctx *c = ctx;
    if (atomic_load(&c->cancels) != 1)
        atomic_fetch_add(&fin_before_cancel, 1);
    atomic_fetch_add(&fin_runs, 1);
    dispatch_semaphore_signal(fin_sem);
}

static void test_release_after_cancel(void)
{
    test_start("release_after_cancel", 15);
    dispatch_queue_t q = dispatch_queue_create("test.source.relcancel", DISPATCH_QUEUE_CONCURRENT);
    fin_sem = dispatch_semaphore_create(0);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    struct cctx c;
    cctx_init(&c, s, NULL);
    dispatch_set_finalizer_f(s, fin_finalizer);
    dispatch_activate(s);
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(c.entered, 5000), "event handler not entered");
    dispatch_source_cancel(s);
    dispatch_release(s); /* the client's only reference, while the handler still runs */
    sleep_ms(50);
    CHECK(atomic_load(&fin_runs) == 0, "finalizer ran while the event handler was still running");
    dispatch_semaphore_signal(c.gate);
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler did not run after the source was released");
    CHECK(sem_wait_ms(fin_sem, 5000), "finalizer did not run");
    sleep_ms(50);
    CHECK(atomic_load(&c.cancels) == 1 && atomic_load(&fin_runs) == 1, "cancel handler %d, finalizer %d runs",
          atomic_load(&c.cancels), atomic_load(&fin_runs));
    CHECK(atomic_load(&fin_before_cancel) == 0, "finalizer ran before the cancel handler");
    CHECK(atomic_load(&c.cancel_before_return) == 0, "cancel handler ran before the event handler returned");
    CHECK(atomic_load(&c.calls) == 1, "event handler ran %d times", atomic_load(&c.calls));
    cctx_destroy(&c);
    dispatch_release(fin_sem);
    dispatch_release(q);
    OK("release_after_cancel");
}

/* ------------------------------------------------------------------ */

struct race {
    dispatch_source_t src;
    atomic_int stop;
    atomic_int calls;
    atomic_int after_cancel;
    atomic_int cancels;
    dispatch_semaphore_t cancel_sem;
};

static void race_handler(void *ctx)
{
    struct race *r = ctx;
    if (atomic_load(&r->cancels))
        atomic_fetch_add(&r->after_cancel, 1);
    atomic_fetch_add(&r->calls, 1);
}

static void race_cancel(void *ctx)
{
    struct race *r = ctx;
    atomic_fetch_add(&r->cancels, 1);
    dispatch_semaphore_signal(r->cancel_sem);
}

static void *race_merger(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop))
        dispatch_source_merge_data(r->src, 1);
    return NULL;
}

static void test_merge_cancel_race(void)
{
    test_start("merge_cancel_race", 40);
    dispatch_queue_t q = dispatch_queue_create("test.source.race", DISPATCH_QUEUE_CONCURRENT);
    srand(777);
    for (int round = 0; round < 50; round++) {
        struct race r;
        memset(&r, 0, sizeof r);
        r.cancel_sem = dispatch_semaphore_create(0);
        r.src = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
        CHECK(r.src != NULL, "create");
        dispatch_set_context(r.src, &r);
        dispatch_source_set_event_handler_f(r.src, race_handler);
        dispatch_source_set_cancel_handler_f(r.src, race_cancel);
        dispatch_activate(r.src);
        pthread_t th[3];
        for (int i = 0; i < 3; i++)
            CHECK(pthread_create(&th[i], NULL, race_merger, &r) == 0, "pthread_create");
        struct timespec ts = { 0, (long)(rand() % 2000) * 1000L };
        nanosleep(&ts, NULL);
        dispatch_source_cancel(r.src);
        CHECK(sem_wait_ms(r.cancel_sem, 5000), "round %d: cancel handler did not run", round);
        sleep_ms(2); /* merges keep coming into the cancelled source */
        atomic_store(&r.stop, 1);
        for (int i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
        sleep_ms(5);
        CHECK(atomic_load(&r.cancels) == 1, "round %d: cancel handler ran %d times", round, atomic_load(&r.cancels));
        CHECK(atomic_load(&r.after_cancel) == 0, "round %d: %d event handler calls after the cancel handler", round,
              atomic_load(&r.after_cancel));
        dispatch_release(r.src);
        dispatch_release(r.cancel_sem);
    }
    dispatch_release(q);
    OK("merge_cancel_race");
}

/* ------------------------------------------------------------------ */

static atomic_int reg_seq;
static atomic_int reg_at;        /* sequence number when the registration handler ran */
static atomic_int reg_count;
static atomic_int first_ev_at;
static atomic_int reg_wrong_queue;

static void reg_handler(void *ctx)
{
    struct dctx *c = ctx;
    atomic_fetch_add(&reg_count, 1);
    atomic_store(&reg_at, atomic_fetch_add(&reg_seq, 1) + 1);
    if (dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&reg_wrong_queue, 1);
}

static void reg_ev_handler(void *ctx)
{
    int seq = atomic_fetch_add(&reg_seq, 1) + 1;
    int expected = 0;
    atomic_compare_exchange_strong(&first_ev_at, &expected, seq);
    data_handler(ctx);
}

static void test_registration(void)
{
    test_start("registration", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.source.reg", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct dctx c;
    dctx_init(&c, 0, &marker);
    dispatch_source_t s = make_data_source(&c, q);
    dispatch_source_set_event_handler_f(s, reg_ev_handler);
    dispatch_source_set_registration_handler_f(s, reg_handler);
    dispatch_source_merge_data(s, 9); /* already pending at activation */
    sleep_ms(50);
    CHECK(atomic_load(&reg_count) == 0, "registration handler ran before activation");
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "event not delivered");
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(c.ev_sem, 5000), "second event not delivered");
    sleep_ms(50);
    CHECK(atomic_load(&reg_count) == 1, "registration handler ran %d times, want once", atomic_load(&reg_count));
    CHECK(atomic_load(&reg_at) != 0 && atomic_load(&reg_at) < atomic_load(&first_ev_at),
          "registration handler (seq %d) did not run before the first event handler (seq %d)",
          atomic_load(&reg_at), atomic_load(&first_ev_at));
    CHECK(atomic_load(&reg_wrong_queue) == 0, "registration handler ran off the target queue");
    CHECK(atomic_load(&c.total) == 10, "delivered %llu, want 10", (unsigned long long)atomic_load(&c.total));
    common_checks(&c);
    cancel_and_release(&c);
    dctx_destroy(&c);
    dispatch_release(q);
    OK("registration");
}

/* ------------------------------------------------------------------ */

static void noop(void *ctx)
{
    UNUSED(ctx);
}

static void mandatory_not_cancelled(void)
{
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, NULL);
    dispatch_source_set_event_handler_f(s, noop);
    dispatch_source_set_mandatory_cancel_handler_f(s, noop);
    dispatch_activate(s);
    sleep_ms(20);
    dispatch_release(s);
    sleep_ms(500); /* an asynchronous abort is allowed to happen a little later */
}

static atomic_int mand_runs;

static void mand_handler(void *ctx)
{
    atomic_fetch_add(&mand_runs, 1);
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

static void test_mandatory_cancel(void)
{
    test_start("mandatory_cancel", 30);
    dispatch_semaphore_t sem = dispatch_semaphore_create(0);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, NULL);
    CHECK(s != NULL, "create");
    dispatch_set_context(s, sem);
    dispatch_source_set_event_handler_f(s, noop);
    dispatch_source_set_mandatory_cancel_handler_f(s, mand_handler);
    dispatch_activate(s);
    dispatch_source_cancel(s);
    CHECK(sem_wait_ms(sem, 5000), "mandatory cancel handler did not run after cancel");
    dispatch_release(s);
    sleep_ms(50);
    CHECK(atomic_load(&mand_runs) == 1, "mandatory cancel handler ran %d times", atomic_load(&mand_runs));
    dispatch_release(sem);
    OK("mandatory_cancel");
}

/* ------------------------------------------------------------------ */

static void release_inactive_source(void)
{
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, NULL);
    dispatch_source_set_event_handler_f(s, noop);
    dispatch_release(s);
    sleep_ms(500);
}

static void release_suspended_source(void)
{
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, NULL);
    dispatch_source_set_event_handler_f(s, noop);
    dispatch_activate(s);
    dispatch_suspend(s);
    dispatch_release(s);
    sleep_ms(500);
}

/* runs first: the forked children must start from a library this process never used */
static void test_release_misuse(void)
{
    test_start("release_misuse", 40);
    CHECK(expect_abort(mandatory_not_cancelled, "cancel"),
          "release of an uncancelled source with a mandatory cancel handler did not abort");
    CHECK(expect_abort(release_inactive_source, "inactive"), "release of an inactive source did not abort");
    CHECK(expect_abort(release_suspended_source, "suspended"), "release of a suspended source did not abort");
    OK("release_misuse");
}

/* ------------------------------------------------------------------ */

static int closed_fd(void)
{
    /* a descriptor number that is certainly not open: open one, close it */
    int fd = open("/dev/null", O_RDONLY);
    CHECK(fd >= 0, "open /dev/null");
    close(fd);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "closed fd still valid");
    return fd;
}

static void expect_null(dispatch_source_t s, const char *what)
{
    if (s != NULL) {
        /* clean up so the failure report is the only effect */
        fprintf(stderr, "dispatch_source_create(%s) returned non-NULL\n", what);
        CHECK(s == NULL, "%s", what);
    }
}

static void test_bad_input(void)
{
    test_start("bad_input", 15);
    dispatch_queue_t q = dispatch_queue_create("test.source.bad", NULL);
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)-1, 0, q), "READ, fd -1");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_WRITE, (uintptr_t)-1, 0, q), "WRITE, fd -1");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)closed_fd(), 0, q),
                "READ, fd not open");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_WRITE, (uintptr_t)closed_fd(), 0, q),
                "WRITE, fd not open");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_VNODE, (uintptr_t)-1, DISPATCH_VNODE_WRITE, q),
                "VNODE, fd -1");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_VNODE, (uintptr_t)closed_fd(), DISPATCH_VNODE_WRITE, q),
                "VNODE, fd not open");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_SIGNAL, 0, 0, q), "SIGNAL 0");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_SIGNAL, 1000, 0, q), "SIGNAL 1000");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_SIGNAL, NSIG, 0, q), "SIGNAL NSIG");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_SIGNAL, (uintptr_t)-1, 0, q), "SIGNAL -1");

    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        _exit(0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(kill(pid, 0) == -1 && errno == ESRCH, "the reaped child's pid %d still exists", (int)pid);
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_PROC, (uintptr_t)pid, DISPATCH_PROC_EXIT, q),
                "PROC, pid that does not exist");

    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 1, 0, q), "DATA_ADD, handle 1");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    expect_null(dispatch_source_create(DISPATCH_SOURCE_TYPE_VNODE, (uintptr_t)p[0], 0x80000000u, q),
                "VNODE, mask 0x80000000 (no vnode event)");
    close(p[0]);
    close(p[1]);
    dispatch_release(q);
    OK("bad_input");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_release_misuse();
    test_add_threads();
    test_or_threads();
    test_replace_last();
    test_merge_zero();
    test_serial_target();
    test_inactive();
    test_suspend_coalesce();
    test_mask_handle();
    test_null_queue();
    test_cancel();
    test_suspend_nested();
    test_handler_while_active();
    test_release_after_cancel();
    test_merge_cancel_race();
    test_registration();
    test_mandatory_cancel();
    test_bad_input();
    return 0;
}
