/*
 * test_source_timer_leeway.c: timer leeway (fires batched within their windows), and
 * re-setting timers among many live ones. No check bounds how long anything took: the
 * checks are counts, orderings, and "never before the deadline" (load only makes fires
 * later); each check is bounded by the test_start watchdog.
 *
 *   batched      one-shot A at now + 100 ms with leeway 500 ms, one-shot B at now + 150 ms
 *                with leeway 0, on one serial queue: the event thread wakes once, at B's
 *                deadline, and fires both: A runs after B's deadline (it waited within its
 *                leeway for B's wake-up), before B (earlier deadline first), each exactly
 *                once with get_data 1. Before leeway was honoured A fired at 100 ms.
 *   hundred      100 repeating timers, interval 10 ms, leeway 5 ms, starts 100 us apart, on
 *                one serial queue, for ~300 ms: no handler call comes before the deadline of
 *                the last fire it counts; every timer's fires (the sum of get_data) reach
 *                the number of boundaries passed by a mark taken at the end (a lost fire
 *                would leave a count short for ever, and the watchdog fails the test); after
 *                cancel, no count exceeds the boundaries passed by then; calls <= fires.
 *   capped       interval 20 ms with leeway 10 s: the leeway is capped at half the interval,
 *                so 3 calls come (an uncapped leeway would delay the first by 10 s: the
 *                wait gives up after 5 s); each call's get_data >= 1.
 *   reset_many   2000 live repeating timers (first fire in 1 hour) and one more, X, re-set
 *                1000 times to one-shots 30..60 ms ahead and finally to start FOREVER: X
 *                does not fire for 200 ms (every earlier entry was removed); set once more to
 *                now + 20 ms, it fires exactly once with get_data 1; none of the 2000 fires;
 *                all 2001 cancel handlers run.
 */
#include "check.h"

/* ------------------------------------------------------------------------------------ */

struct shot {
    dispatch_source_t src;
    uint64_t start;
    atomic_int calls;
    atomic_ullong data;
    uint64_t fired_at;
    int order;
    dispatch_semaphore_t sem;
};

static atomic_int order_counter;

static void shot_fire(void *p)
{
    struct shot *s = p;
    s->fired_at = now_ns();
    s->order = atomic_fetch_add(&order_counter, 1);
    atomic_fetch_add(&s->data, dispatch_source_get_data(s->src));
    atomic_fetch_add(&s->calls, 1);
    dispatch_semaphore_signal(s->sem);
}

static void shot_arm(struct shot *s, dispatch_queue_t q, uint64_t delay_ns, uint64_t leeway_ns)
{
    memset(s, 0, sizeof *s);
    s->sem = dispatch_semaphore_create(0);
    s->src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(s->src != NULL, "timer source");
    dispatch_set_context(s->src, s);
    dispatch_source_set_event_handler_f(s->src, shot_fire);
    s->start = now_ns() + delay_ns;
    dispatch_source_set_timer(s->src, s->start, DISPATCH_TIME_FOREVER, leeway_ns);
    dispatch_resume(s->src);
}

static void noop(void *p) { UNUSED(p); }

static void test_batched(void)
{
    test_start("batched", 20);
    dispatch_queue_t q = dispatch_queue_create("leeway.batched", NULL);
    struct shot a, b;
    atomic_store(&order_counter, 0);
    shot_arm(&a, q, 100 * NSEC_PER_MSEC, 500 * NSEC_PER_MSEC);
    shot_arm(&b, q, 150 * NSEC_PER_MSEC, 0);
    CHECK(sem_wait_ms(a.sem, 10000), "A fired");
    CHECK(sem_wait_ms(b.sem, 10000), "B fired");
    sleep_ms(100);
    CHECK(atomic_load(&a.calls) == 1 && atomic_load(&b.calls) == 1, "each once: A %d, B %d",
          atomic_load(&a.calls), atomic_load(&b.calls));
    CHECK(atomic_load(&a.data) == 1 && atomic_load(&b.data) == 1, "get_data 1");
    CHECK(a.fired_at >= a.start && b.fired_at >= b.start, "never early");
    CHECK(a.fired_at >= b.start,
          "A (leeway 500 ms) fired %.1f ms before B's deadline instead of joining its wake-up",
          (double)(b.start - a.fired_at) / 1e6);
    CHECK(a.order < b.order, "A (earlier deadline) runs first");
    printf("# A fired %.1f ms after its deadline, B %.1f ms after its\n",
           (double)(a.fired_at - a.start) / 1e6, (double)(b.fired_at - b.start) / 1e6);
    dispatch_source_cancel(a.src);
    dispatch_source_cancel(b.src);
    dispatch_sync_f(q, NULL, noop);
    dispatch_release(a.src);
    dispatch_release(b.src);
    dispatch_release(a.sem);
    dispatch_release(b.sem);
    dispatch_release(q);
    OK("batched");
}

/* ------------------------------------------------------------------------------------ */

#define HUNDRED 100
#define INTERVAL (10 * NSEC_PER_MSEC)

struct rep {
    dispatch_source_t src;
    uint64_t start;
    long calls; /* handler-only (serial queue) */
    atomic_long fires;
    long early;
};

static struct rep reps[HUNDRED];

static uint64_t boundaries_by(const struct rep *r, uint64_t t)
{
    return t < r->start ? 0 : (t - r->start) / INTERVAL + 1;
}

static void rep_fire(void *p)
{
    struct rep *r = p;
    uint64_t now = now_ns();
    long data = (long)dispatch_source_get_data(r->src);
    long f = atomic_fetch_add(&r->fires, data) + data;
    r->calls++;
    if (r->start + (uint64_t)(f - 1) * INTERVAL > now)
        r->early++;
}

static void test_hundred(void)
{
    test_start("hundred", 60);
    dispatch_queue_t q = dispatch_queue_create("leeway.hundred", NULL);
    uint64_t base = now_ns() + 20 * NSEC_PER_MSEC;
    for (int i = 0; i < HUNDRED; i++) {
        struct rep *r = &reps[i];
        r->src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
        CHECK(r->src != NULL, "timer source");
        dispatch_set_context(r->src, r);
        dispatch_source_set_event_handler_f(r->src, rep_fire);
        r->start = base + (uint64_t)i * (INTERVAL / HUNDRED);
        dispatch_source_set_timer(r->src, r->start, INTERVAL, 5 * NSEC_PER_MSEC);
        dispatch_resume(r->src);
    }
    sleep_ms(300);
    uint64_t mark = now_ns();
    /* Every boundary passed by the mark is counted eventually: wait for it. */
    for (int i = 0; i < HUNDRED; i++) {
        while ((uint64_t)atomic_load(&reps[i].fires) < boundaries_by(&reps[i], mark))
            sleep_ms(5);
    }
    for (int i = 0; i < HUNDRED; i++)
        dispatch_source_cancel(reps[i].src);
    dispatch_sync_f(q, NULL, noop);
    uint64_t end = now_ns();
    long calls = 0, fires = 0, early = 0;
    for (int i = 0; i < HUNDRED; i++) {
        struct rep *r = &reps[i];
        long f = atomic_load(&r->fires);
        CHECK((uint64_t)f <= boundaries_by(r, end), "timer %d counted %ld fires, only %llu boundaries passed",
              i, f, (unsigned long long)boundaries_by(r, end));
        CHECK(r->calls <= f, "timer %d: %ld calls for %ld fires", i, r->calls, f);
        calls += r->calls;
        fires += f;
        early += r->early;
        dispatch_release(r->src);
    }
    CHECK(early == 0, "%ld handler calls came before their deadline", early);
    printf("# %ld fires in %ld calls\n", fires, calls);
    dispatch_release(q);
    OK("hundred");
}

/* ------------------------------------------------------------------------------------ */

struct capped {
    dispatch_source_t src;
    atomic_int calls;
    atomic_int zero;
    dispatch_semaphore_t sem;
};

static void capped_fire(void *p)
{
    struct capped *c = p;
    if (dispatch_source_get_data(c->src) == 0)
        atomic_fetch_add(&c->zero, 1);
    if (atomic_fetch_add(&c->calls, 1) + 1 == 3)
        dispatch_semaphore_signal(c->sem);
}

static void test_capped(void)
{
    test_start("capped", 20);
    dispatch_queue_t q = dispatch_queue_create("leeway.capped", NULL);
    struct capped c = { .sem = dispatch_semaphore_create(0) };
    c.src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(c.src != NULL, "timer source");
    dispatch_set_context(c.src, &c);
    dispatch_source_set_event_handler_f(c.src, capped_fire);
    dispatch_source_set_timer(c.src, dispatch_time(DISPATCH_TIME_NOW, 20 * NSEC_PER_MSEC),
                              20 * NSEC_PER_MSEC, 10 * NSEC_PER_SEC);
    dispatch_resume(c.src);
    CHECK(sem_wait_ms(c.sem, 5000), "3 calls (%d) within 5 s: the leeway was not capped",
          atomic_load(&c.calls));
    dispatch_source_cancel(c.src);
    dispatch_sync_f(q, NULL, noop);
    CHECK(atomic_load(&c.zero) == 0, "a call with get_data 0");
    dispatch_release(c.src);
    dispatch_release(c.sem);
    dispatch_release(q);
    OK("capped");
}

/* ------------------------------------------------------------------------------------ */

#define MANY 2000

static atomic_int many_fired, many_cancelled;

static void many_fire(void *p)
{
    UNUSED(p);
    atomic_fetch_add(&many_fired, 1);
}

static void many_cancel(void *p)
{
    UNUSED(p);
    atomic_fetch_add(&many_cancelled, 1);
}

static void test_reset_many(void)
{
    test_start("reset_many", 60);
    dispatch_queue_t cq = dispatch_queue_create("leeway.many", DISPATCH_QUEUE_CONCURRENT);
    static dispatch_source_t many[MANY];
    for (int i = 0; i < MANY; i++) {
        many[i] = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, cq);
        CHECK(many[i] != NULL, "timer source");
        dispatch_source_set_event_handler_f(many[i], many_fire);
        dispatch_source_set_cancel_handler_f(many[i], many_cancel);
        dispatch_source_set_timer(many[i], dispatch_time(DISPATCH_TIME_NOW, 3600 * NSEC_PER_SEC),
                                  3600 * NSEC_PER_SEC, 0);
        dispatch_resume(many[i]);
    }
    dispatch_queue_t q = dispatch_queue_create("leeway.x", NULL);
    struct shot x;
    shot_arm(&x, q, 3600 * NSEC_PER_SEC, 0);
    for (int i = 0; i < 1000; i++)
        dispatch_source_set_timer(x.src, dispatch_time(DISPATCH_TIME_NOW, (30 + i % 31) * NSEC_PER_MSEC),
                                  DISPATCH_TIME_FOREVER, 0);
    dispatch_source_set_timer(x.src, DISPATCH_TIME_FOREVER, DISPATCH_TIME_FOREVER, 0);
    sleep_ms(200);
    CHECK(atomic_load(&x.calls) == 0, "X fired %d times after being set to FOREVER", atomic_load(&x.calls));
    dispatch_source_set_timer(x.src, dispatch_time(DISPATCH_TIME_NOW, 20 * NSEC_PER_MSEC),
                              DISPATCH_TIME_FOREVER, 0);
    CHECK(sem_wait_ms(x.sem, 10000), "X fired after its last set_timer");
    sleep_ms(100);
    CHECK(atomic_load(&x.calls) == 1 && atomic_load(&x.data) == 1, "X: %d calls, data %llu",
          atomic_load(&x.calls), (unsigned long long)atomic_load(&x.data));
    CHECK(atomic_load(&many_fired) == 0, "%d of the far timers fired", atomic_load(&many_fired));
    for (int i = 0; i < MANY; i++) {
        dispatch_source_cancel(many[i]);
        dispatch_release(many[i]);
    }
    dispatch_source_cancel(x.src);
    dispatch_sync_f(q, NULL, noop);
    dispatch_barrier_sync_f(cq, NULL, noop);
    while (atomic_load(&many_cancelled) < MANY)
        sleep_ms(5);
    CHECK(atomic_load(&many_cancelled) == MANY, "cancel handlers");
    dispatch_release(x.src);
    dispatch_release(x.sem);
    dispatch_release(q);
    dispatch_release(cq);
    OK("reset_many");
}

int main(void)
{
    test_batched();
    test_hundred();
    test_capped();
    test_reset_many();
    return 0;
}
