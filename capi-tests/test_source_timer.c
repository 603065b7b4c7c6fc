/*
 * test_source_timer.c: DISPATCH_SOURCE_TYPE_TIMER sources.
 *
 *   repeating_count   interval 10 ms (start now, leeway 1 ms) for ~300 ms: the sum of get_data
 *                     over the handler calls (fires since the last delivery) is 20..35 and at
 *                     most elapsed/10 ms + 2; every call sees get_data >= 1; at least 5 calls;
 *                     the handler never overlaps itself; it runs on the target queue.
 *   slow_handler      a 10 ms timer whose handler takes 35 ms, for ~400 ms: the fires coalesce:
 *                     at most 15 calls, the sum of get_data is 25..42 and <= elapsed/10 ms + 2,
 *                     and some call after the first sees get_data >= 2.
 *   one_shot          interval DISPATCH_TIME_FOREVER, start now + 50 ms, mask
 *                     DISPATCH_TIMER_STRICT: fires exactly once (nothing more in 300 ms), not
 *                     before 50 ms, within 2 s, get_data 1; a one-shot with start
 *                     DISPATCH_TIME_NOW fires once promptly (< 1 s).
 *   unarmed           an activated timer never given dispatch_source_set_timer never fires
 *                     (200 ms).
 *   rearm_in_handler  start now, interval 100 ms; the 3rd call re-arms with
 *                     set_timer(NOW, 10 ms): the gaps before are >= 90 ms, the next 10 calls
 *                     take < 450 ms in all (not 900 ms); the 13th call re-arms as a one-shot
 *                     50 ms later: exactly one more call, >= 50 ms after, then nothing for
 *                     300 ms.
 *   walltime          start dispatch_walltime(NULL, 50 ms), one-shot: fires once, not before
 *                     CLOCK_REALTIME + 50 ms (read before), within 2 s; the same for
 *                     dispatch_walltime(&ts, 0) with ts = realtime + 80 ms.
 *   suspended_target  a 10 ms timer whose serial target queue is suspended for 150 ms: the
 *                     first call starting after dispatch_resume(queue) has get_data >= 5 (the
 *                     fires coalesced); the same with the timer source itself suspended.
 *   thousand          1000 one-shot timers with random starts within 200 ms, all live at once
 *                     on one concurrent queue: each fires exactly once, get_data 1, never
 *                     before its start; all within 10 s; all 1000 cancel handlers run.
 *   cancel_stops      a 5 ms repeating timer cancelled after >= 5 calls: the cancel handler
 *                     runs once with no event handler running, and no event handler call
 *                     happens after it (100 ms).
 *   idle_cpu          100 live timers due in 1 hour (interval 1 hour): over 2 s of this
 *                     process sleeping, user+system CPU time (getrusage RUSAGE_SELF, all
 *                     threads) grows by < 10 ms; none fires.
 */
#include "check.h"

#include <sys/resource.h>

#define MAXREC 512

static int queue_key;

struct tctx {
    dispatch_source_t src;
    void *marker;
    dispatch_semaphore_t ev_sem;
    dispatch_semaphore_t cancel_sem;
    atomic_int calls;
    atomic_int inside;
    atomic_int overlap;
    atomic_int zero_data;
    atomic_int wrong_queue;
    atomic_int cancels;
    atomic_int cancel_saw_inside;
    atomic_int calls_after_cancel;
    atomic_ullong sum;
    /* per call (the handler is serial): entry time (monotonic ns) and data */
    uint64_t times[MAXREC];
    uintptr_t datas[MAXREC];
    atomic_int recorded; /* published after times/datas[n] are written */
    /* optional hook run inside the handler, with the call number (1-based) */
    void (*hook)(struct tctx *c, int n);
};

static void tctx_init(struct tctx *c, void *marker)
{
    memset(c, 0, sizeof *c);
    c->marker = marker;
    c->ev_sem = dispatch_semaphore_create(0);
    c->cancel_sem = dispatch_semaphore_create(0);
}

static void tctx_destroy(struct tctx *c)
{
    dispatch_release(c->ev_sem);
    dispatch_release(c->cancel_sem);
}

static void timer_handler(void *ctx)
{
    struct tctx *c = ctx;
    uint64_t t = now_ns();
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_fetch_add(&c->overlap, 1);
    if (atomic_load(&c->cancels) != 0)
        atomic_fetch_add(&c->calls_after_cancel, 1);
    if (c->marker && dispatch_get_specific(&queue_key) != c->marker)
        atomic_fetch_add(&c->wrong_queue, 1);
    uintptr_t d = dispatch_source_get_data(c->src);
    if (d == 0)
        atomic_fetch_add(&c->zero_data, 1);
    atomic_fetch_add(&c->sum, (unsigned long long)d);
    int n = atomic_fetch_add(&c->calls, 1) + 1;
    if (n <= MAXREC) {
        c->times[n - 1] = t;
        c->datas[n - 1] = d;
        atomic_store(&c->recorded, n);
    }
    if (c->hook)
        c->hook(c, n);
    atomic_fetch_sub(&c->inside, 1);
    dispatch_semaphore_signal(c->ev_sem);
}

static void timer_cancel_handler(void *ctx)
{
    struct tctx *c = ctx;
    if (atomic_load(&c->inside) != 0)
        atomic_fetch_add(&c->cancel_saw_inside, 1);
    atomic_fetch_add(&c->cancels, 1);
    dispatch_semaphore_signal(c->cancel_sem);
}

static dispatch_source_t make_timer(struct tctx *c, uintptr_t mask, dispatch_queue_t q)
{
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, mask, q);
    CHECK(s != NULL, "dispatch_source_create(TIMER, mask %lu) returned NULL", (unsigned long)mask);
    c->src = s;
    dispatch_set_context(s, c);
    dispatch_source_set_event_handler_f(s, timer_handler);
    dispatch_source_set_cancel_handler_f(s, timer_cancel_handler);
    return s;
}

static void cancel_and_release(struct tctx *c)
{
    dispatch_source_cancel(c->src);
    CHECK(sem_wait_ms(c->cancel_sem, 5000), "cancel handler did not run within 5 s");
    sleep_ms(20);
    CHECK(atomic_load(&c->cancels) == 1, "cancel handler ran %d times", atomic_load(&c->cancels));
    CHECK(atomic_load(&c->cancel_saw_inside) == 0, "cancel handler ran while the event handler ran");
    dispatch_release(c->src);
}

static void common_checks(struct tctx *c)
{
    CHECK(atomic_load(&c->overlap) == 0, "timer handler overlapped itself %d times", atomic_load(&c->overlap));
    CHECK(atomic_load(&c->zero_data) == 0, "timer handler saw get_data 0 in %d calls", atomic_load(&c->zero_data));
    CHECK(atomic_load(&c->wrong_queue) == 0, "timer handler ran off its target queue %d times",
          atomic_load(&c->wrong_queue));
    CHECK(atomic_load(&c->calls_after_cancel) == 0, "event handler ran after the cancel handler");
}

/* ------------------------------------------------------------------ */

static void test_repeating_count(void)
{
    test_start("repeating_count", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.timer.rep", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    struct tctx c;
    tctx_init(&c, &marker);
    dispatch_source_t s = make_timer(&c, 0, q);
    uint64_t t0 = now_ns();
    dispatch_source_set_timer(s, dispatch_time(DISPATCH_TIME_NOW, 0), 10 * NSEC_PER_MSEC, 1 * NSEC_PER_MSEC);
    dispatch_activate(s);
    sleep_ms(300);
    dispatch_source_cancel(s);
    uint64_t elapsed = now_ns() - t0;
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler did not run");
    unsigned long long sum = atomic_load(&c.sum);
    unsigned long long upper = elapsed / (10 * NSEC_PER_MSEC) + 2;
    CHECK(sum >= 20 && sum <= 35, "sum of get_data over %.1f ms of a 10 ms timer is %llu, want 20..35",
          elapsed / 1e6, sum);
    CHECK(sum <= upper, "sum of get_data %llu is more than elapsed/10ms + 2 = %llu", sum, upper);
    CHECK(atomic_load(&c.calls) >= 5, "only %d handler calls in 300 ms of a 10 ms timer", atomic_load(&c.calls));
    common_checks(&c);
    sleep_ms(20);
    CHECK(atomic_load(&c.cancels) == 1, "cancel handler ran %d times", atomic_load(&c.cancels));
    dispatch_release(s);
    tctx_destroy(&c);
    dispatch_release(q);
    OK("repeating_count");
}

/* ------------------------------------------------------------------ */

static void slow_hook(struct tctx *c, int n)
{
    UNUSED(c);
    UNUSED(n);
    sleep_ms(35);
}

static void test_slow_handler(void)
{
    test_start("slow_handler", 15);
    dispatch_queue_t q = dispatch_queue_create("test.timer.slow", NULL);
    struct tctx c;
    tctx_init(&c, NULL);
    c.hook = slow_hook;
    dispatch_source_t s = make_timer(&c, 0, q);
    uint64_t t0 = now_ns();
    dispatch_source_set_timer(s, DISPATCH_TIME_NOW, 10 * NSEC_PER_MSEC, 0);
    dispatch_activate(s);
    sleep_ms(400);
    dispatch_source_cancel(s);
    uint64_t elapsed = now_ns() - t0;
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler did not run");
    unsigned long long sum = atomic_load(&c.sum);
    int calls = atomic_load(&c.calls);
    CHECK(calls <= 15, "%d calls of a 35 ms handler in 400 ms", calls);
    CHECK(sum >= 25 && sum <= 42 && sum <= elapsed / (10 * NSEC_PER_MSEC) + 2,
          "sum of get_data %llu over %.1f ms of a 10 ms timer (slow handler), want 25..42", sum, elapsed / 1e6);
    uintptr_t maxd = 0;
    for (int i = 1; i < atomic_load(&c.recorded); i++)
        if (c.datas[i] > maxd)
            maxd = c.datas[i];
    CHECK(maxd >= 2, "no call saw coalesced fires (max get_data after the first: %lu)", (unsigned long)maxd);
    common_checks(&c);
    sleep_ms(20);
    dispatch_release(s);
    tctx_destroy(&c);
    dispatch_release(q);
    OK("slow_handler");
}

/* ------------------------------------------------------------------ */

static void test_one_shot(void)
{
    test_start("one_shot", 15);
    dispatch_queue_t q = dispatch_queue_create("test.timer.once", NULL);
    struct tctx c;
    tctx_init(&c, NULL);
    dispatch_source_t s = make_timer(&c, DISPATCH_TIMER_STRICT, q);
    CHECK(dispatch_source_get_mask(s) == DISPATCH_TIMER_STRICT, "mask %lu", (unsigned long)dispatch_source_get_mask(s));
    uint64_t t0 = now_ns();
    dispatch_source_set_timer(s, in_ms(50), DISPATCH_TIME_FOREVER, 0);
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.ev_sem, 2000), "one-shot timer (50 ms) did not fire within 2 s");
    uint64_t fired = c.times[0] - t0;
    CHECK(fired >= 50 * NSEC_PER_MSEC, "one-shot fired after %.2f ms, before its 50 ms start", fired / 1e6);
    sleep_ms(300);
    CHECK(atomic_load(&c.calls) == 1, "one-shot timer fired %d times", atomic_load(&c.calls));
    CHECK(c.datas[0] == 1, "one-shot get_data %lu, want 1", (unsigned long)c.datas[0]);
    common_checks(&c);
    cancel_and_release(&c);
    tctx_destroy(&c);

    tctx_init(&c, NULL);
    s = make_timer(&c, 0, q);
    t0 = now_ns();
    dispatch_source_set_timer(s, DISPATCH_TIME_NOW, DISPATCH_TIME_FOREVER, 0);
    dispatch_activate(s);
    CHECK(sem_wait_ms(c.ev_sem, 1000), "one-shot timer starting now did not fire within 1 s");
    sleep_ms(200);
    CHECK(atomic_load(&c.calls) == 1, "one-shot (start now) fired %d times", atomic_load(&c.calls));
    CHECK(c.datas[0] == 1, "get_data %lu, want 1", (unsigned long)c.datas[0]);
    common_checks(&c);
    cancel_and_release(&c);
    tctx_destroy(&c);
    dispatch_release(q);
    OK("one_shot");
}

/* ------------------------------------------------------------------ */

static void test_unarmed(void)
{
    test_start("unarmed", 10);
    dispatch_queue_t q = dispatch_queue_create("test.timer.unarmed", NULL);
    struct tctx c;
    tctx_init(&c, NULL);
    dispatch_source_t s = make_timer(&c, 0, q);
    dispatch_activate(s);
    sleep_ms(200);
    CHECK(atomic_load(&c.calls) == 0, "a timer never armed fired %d times", atomic_load(&c.calls));
    cancel_and_release(&c);
    tctx_destroy(&c);
    dispatch_release(q);
    OK("unarmed");
}

/* ------------------------------------------------------------------ */

static void rearm_hook(struct tctx *c, int n)
{
    if (n == 3)
        dispatch_source_set_timer(c->src, DISPATCH_TIME_NOW, 10 * NSEC_PER_MSEC, 0);
    else if (n == 13)
        dispatch_source_set_timer(c->src, in_ms(50), DISPATCH_TIME_FOREVER, 0);
}

static void test_rearm_in_handler(void)
{
    test_start("rearm_in_handler", 20);
    dispatch_queue_t q = dispatch_queue_create("test.timer.rearm", NULL);
    struct tctx c;
    tctx_init(&c, NULL);
    c.hook = rearm_hook;
    dispatch_source_t s = make_timer(&c, 0, q);
    dispatch_source_set_timer(s, DISPATCH_TIME_NOW, 100 * NSEC_PER_MSEC, 0);
    dispatch_activate(s);
    uint64_t deadline = now_ns() + 5 * NSEC_PER_SEC;
    while (atomic_load(&c.recorded) < 14 && now_ns() < deadline)
        sleep_ms(2);
    CHECK(atomic_load(&c.recorded) >= 14, "only %d calls within 5 s", atomic_load(&c.recorded));
    sleep_ms(300);
    CHECK(atomic_load(&c.calls) == 14, "%d calls; after the one-shot re-arm exactly 14 were due",
          atomic_load(&c.calls));
    for (int i = 1; i < 3; i++)
        CHECK(c.times[i] - c.times[i - 1] >= 90 * NSEC_PER_MSEC, "gap %d->%d of the 100 ms timer is %.1f ms", i,
              i + 1, (c.times[i] - c.times[i - 1]) / 1e6);
    uint64_t fast = c.times[12] - c.times[3];
    CHECK(fast < 450 * NSEC_PER_MSEC, "10 calls after re-arming to 10 ms took %.1f ms (period not changed?)",
          fast / 1e6);
    uint64_t last_gap = c.times[13] - c.times[12];
    CHECK(last_gap >= 50 * NSEC_PER_MSEC && last_gap < 1000 * NSEC_PER_MSEC,
          "the one-shot re-armed for +50 ms fired after %.1f ms", last_gap / 1e6);
    common_checks(&c);
    cancel_and_release(&c);
    tctx_destroy(&c);
    dispatch_release(q);
    OK("rearm_in_handler");
}

/* ------------------------------------------------------------------ */

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static _Atomic uint64_t wall_fired_at;

static void wall_hook(struct tctx *c, int n)
{
    UNUSED(c);
    if (n == 1)
        atomic_store(&wall_fired_at, real_ns());
}

static void test_walltime(void)
{
    test_start("walltime", 15);
    dispatch_queue_t q = dispatch_queue_create("test.timer.wall", NULL);
    for (int variant = 0; variant < 2; variant++) {
        struct tctx c;
        tctx_init(&c, NULL);
        c.hook = wall_hook;
        atomic_store(&wall_fired_at, 0);
        dispatch_source_t s = make_timer(&c, 0, q);
        uint64_t before = real_ns();
        uint64_t want;
        if (variant == 0) {
            want = before + 50 * NSEC_PER_MSEC;
            dispatch_source_set_timer(s, dispatch_walltime(NULL, 50 * (int64_t)NSEC_PER_MSEC), DISPATCH_TIME_FOREVER, 0);
        } else {
            want = before + 80 * NSEC_PER_MSEC;
            struct timespec ts = { (time_t)(want / NSEC_PER_SEC), (long)(want % NSEC_PER_SEC) };
            dispatch_source_set_timer(s, dispatch_walltime(&ts, 0), DISPATCH_TIME_FOREVER, 0);
        }
        dispatch_activate(s);
        CHECK(sem_wait_ms(c.ev_sem, 2000), "wall-clock timer (variant %d) did not fire within 2 s", variant);
        uint64_t at = atomic_load(&wall_fired_at);
        CHECK(at >= want, "wall-clock timer (variant %d) fired %.2f ms before its start", variant,
              (want - at) / 1e6);
        sleep_ms(150);
        CHECK(atomic_load(&c.calls) == 1, "wall-clock one-shot fired %d times", atomic_load(&c.calls));
        CHECK(c.datas[0] == 1, "get_data %lu", (unsigned long)c.datas[0]);
        common_checks(&c);
        cancel_and_release(&c);
        tctx_destroy(&c);
    }
    dispatch_release(q);
    OK("walltime");
}

/* ------------------------------------------------------------------ */

static void test_suspended_target(void)
{
    test_start("suspended_target", 20);
    for (int suspend_source = 0; suspend_source < 2; suspend_source++) {
        dispatch_queue_t q = dispatch_queue_create("test.timer.susp", NULL);
        struct tctx c;
        tctx_init(&c, NULL);
        dispatch_source_t s = make_timer(&c, 0, q);
        dispatch_source_set_timer(s, DISPATCH_TIME_NOW, 10 * NSEC_PER_MSEC, 0);
        dispatch_activate(s);
        CHECK(sem_wait_ms(c.ev_sem, 2000), "timer did not fire");
        if (suspend_source)
            dispatch_suspend(s);
        else
            dispatch_suspend(q);
        sleep_ms(150);
        uint64_t resumed = now_ns();
        if (suspend_source)
            dispatch_resume(s);
        else
            dispatch_resume(q);
        /* find the first call that started after the resume */
        uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
        int found = -1;
        while (found < 0 && now_ns() < deadline) {
            int n = atomic_load(&c.recorded);
            for (int i = 0; i < n; i++)
                if (c.times[i] >= resumed) {
                    found = i;
                    break;
                }
            if (found < 0)
                sleep_ms(1);
        }
        CHECK(found >= 0, "no timer call after resuming the %s", suspend_source ? "source" : "target queue");
        CHECK(c.datas[found] >= 5,
              "first call after a 150 ms suspension of the %s of a 10 ms timer has get_data %lu, want >= 5",
              suspend_source ? "source" : "target queue", (unsigned long)c.datas[found]);
        common_checks(&c);
        cancel_and_release(&c);
        tctx_destroy(&c);
        dispatch_release(q);
    }
    OK("suspended_target");
}

/* ------------------------------------------------------------------ */

#define N_TIMERS 1000

struct one {
    dispatch_source_t src;
    uint64_t deadline;
    atomic_int fires;
    atomic_int bad_data;
};

static struct one timers[N_TIMERS];
static atomic_int th_fired;
static atomic_int th_early;
static atomic_int th_cancels;

static void th_handler(void *ctx)
{
    struct one *o = ctx;
    uint64_t t = now_ns();
    if (t < o->deadline)
        atomic_fetch_add(&th_early, 1);
    if (dispatch_source_get_data(o->src) != 1)
        atomic_fetch_add(&o->bad_data, 1);
    if (atomic_fetch_add(&o->fires, 1) == 0)
        atomic_fetch_add(&th_fired, 1);
}

static void th_cancel(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&th_cancels, 1);
}

static void test_thousand(void)
{
    test_start("thousand", 40);
    dispatch_queue_t q = dispatch_queue_create("test.timer.many", DISPATCH_QUEUE_CONCURRENT);
    srand(12345);
    for (int i = 0; i < N_TIMERS; i++) {
        struct one *o = &timers[i];
        o->src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
        CHECK(o->src != NULL, "timer %d: create returned NULL", i);
        dispatch_set_context(o->src, o);
        dispatch_source_set_event_handler_f(o->src, th_handler);
        dispatch_source_set_cancel_handler_f(o->src, th_cancel);
        int64_t delay = (int64_t)(rand() % 200) * (int64_t)NSEC_PER_MSEC + (rand() % 1000) * 1000;
        o->deadline = now_ns() + (uint64_t)delay;
        dispatch_source_set_timer(o->src, dispatch_time(DISPATCH_TIME_NOW, delay), DISPATCH_TIME_FOREVER, 0);
        dispatch_activate(o->src);
    }
    uint64_t deadline = now_ns() + 10 * NSEC_PER_SEC;
    while (atomic_load(&th_fired) < N_TIMERS && now_ns() < deadline)
        sleep_ms(5);
    CHECK(atomic_load(&th_fired) == N_TIMERS, "only %d of %d timers fired within 10 s", atomic_load(&th_fired),
          N_TIMERS);
    sleep_ms(100);
    for (int i = 0; i < N_TIMERS; i++) {
        CHECK(atomic_load(&timers[i].fires) == 1, "timer %d fired %d times", i, atomic_load(&timers[i].fires));
        CHECK(atomic_load(&timers[i].bad_data) == 0, "timer %d: get_data != 1", i);
    }
    CHECK(atomic_load(&th_early) == 0, "%d timers fired before their start", atomic_load(&th_early));
    for (int i = 0; i < N_TIMERS; i++)
        dispatch_source_cancel(timers[i].src);
    deadline = now_ns() + 10 * NSEC_PER_SEC;
    while (atomic_load(&th_cancels) < N_TIMERS && now_ns() < deadline)
        sleep_ms(5);
    CHECK(atomic_load(&th_cancels) == N_TIMERS, "%d of %d cancel handlers ran", atomic_load(&th_cancels), N_TIMERS);
    for (int i = 0; i < N_TIMERS; i++)
        dispatch_release(timers[i].src);
    dispatch_release(q);
    OK("thousand");
}

/* ------------------------------------------------------------------ */

static void test_cancel_stops(void)
{
    test_start("cancel_stops", 15);
    dispatch_queue_t q = dispatch_queue_create("test.timer.cancel", DISPATCH_QUEUE_CONCURRENT);
    struct tctx c;
    tctx_init(&c, NULL);
    dispatch_source_t s = make_timer(&c, 0, q);
    dispatch_source_set_timer(s, DISPATCH_TIME_NOW, 5 * NSEC_PER_MSEC, 0);
    dispatch_activate(s);
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (atomic_load(&c.calls) < 5 && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&c.calls) >= 5, "5 ms timer: %d calls in 3 s", atomic_load(&c.calls));
    dispatch_source_cancel(s);
    CHECK(sem_wait_ms(c.cancel_sem, 5000), "cancel handler did not run");
    int at_cancel = atomic_load(&c.calls);
    sleep_ms(100);
    CHECK(atomic_load(&c.calls) == at_cancel, "%d timer calls after the cancel handler ran",
          atomic_load(&c.calls) - at_cancel);
    CHECK(atomic_load(&c.cancels) == 1, "cancel handler ran %d times", atomic_load(&c.cancels));
    CHECK(atomic_load(&c.cancel_saw_inside) == 0, "cancel handler ran while an event handler ran");
    CHECK(dispatch_source_testcancel(s) != 0, "testcancel 0 after cancel");
    common_checks(&c);
    dispatch_release(s);
    tctx_destroy(&c);
    dispatch_release(q);
    OK("cancel_stops");
}

/* ------------------------------------------------------------------ */

#define N_IDLE 100

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * NSEC_PER_USEC;
}

static void test_idle_cpu(void)
{
    test_start("idle_cpu", 20);
    dispatch_queue_t q = dispatch_queue_create("test.timer.idle", NULL);
    static struct tctx cs[N_IDLE];
    for (int i = 0; i < N_IDLE; i++) {
        tctx_init(&cs[i], NULL);
        dispatch_source_t s = make_timer(&cs[i], 0, q);
        dispatch_source_set_timer(s, dispatch_time(DISPATCH_TIME_NOW, 3600 * (int64_t)NSEC_PER_SEC),
                                  3600 * NSEC_PER_SEC, NSEC_PER_SEC);
        dispatch_activate(s);
    }
    sleep_ms(200); /* let the library settle */
    uint64_t c0 = cpu_ns();
    sleep_ms(2000);
    uint64_t used = cpu_ns() - c0;
    CHECK(used < 10 * NSEC_PER_MSEC, "100 idle timers: %.2f ms of CPU in 2 s of sleep (want < 10 ms)", used / 1e6);
    for (int i = 0; i < N_IDLE; i++)
        CHECK(atomic_load(&cs[i].calls) == 0, "timer due in 1 hour fired");
    for (int i = 0; i < N_IDLE; i++) {
        cancel_and_release(&cs[i]);
        tctx_destroy(&cs[i]);
    }
    dispatch_release(q);
    OK("idle_cpu");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_repeating_count();
    test_slow_handler();
    test_one_shot();
    test_unarmed();
    test_rearm_in_handler();
    test_walltime();
    test_suspended_target();
    test_thousand();
    test_cancel_stops();
    test_idle_cpu();
    return 0;
}
