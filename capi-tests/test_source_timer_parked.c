/*
 * test_source_timer_parked.c: a repeating timer whose fires cannot be delivered (its queue
 * is suspended) leaves the event thread idle, and counts every missed interval once the
 * delivery runs.
 *
 *   handler_suspends_queue  a 1 us repeating timer on a serial queue whose handler calls
 *                           dispatch_suspend(queue) on its first call. 300 ms later, over a
 *                           further ~300 ms window of this process sleeping, its CPU time
 *                           (getrusage RUSAGE_SELF, all threads) is < 0.3 x the window (an
 *                           event thread re-arming a 1 us timer uses about 1 x). After
 *                           dispatch_resume(queue) the handler runs again; the first call has
 *                           get_data >= 300000 (>= 600 ms passed at 1 fire per us: the
 *                           missed fires are counted), and the timer keeps firing (3 more
 *                           calls).
 *   source_suspended        the same with the timer source itself suspended by the main
 *                           thread after its first call.
 */
#include "check.h"

#include <sys/resource.h>

#define MAXCALLS 4096

struct pctx {
    dispatch_source_t src;
    dispatch_queue_t queue;
    bool suspend_queue_in_handler;
    atomic_int calls;
    atomic_ullong data[MAXCALLS];
};

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * NSEC_PER_USEC;
}

static void on_fire(void *p)
{
    struct pctx *c = p;
    int n = atomic_fetch_add(&c->calls, 1);
    if (n < MAXCALLS)
        atomic_store(&c->data[n], dispatch_source_get_data(c->src));
    if (n == 0 && c->suspend_queue_in_handler)
        dispatch_suspend(c->queue);
}

/* Waits (up to 5 s) until the handler ran more than `n` times. */
static void wait_calls_above(struct pctx *c, int n)
{
    for (int i = 0; i < 5000 && atomic_load(&c->calls) <= n; i++)
        sleep_ms(1);
    CHECK(atomic_load(&c->calls) > n, "the timer handler did not run again (%d calls)", atomic_load(&c->calls));
}

static void run(const char *name, bool suspend_queue_in_handler)
{
    test_start(name, 30);
    struct pctx *c = calloc(1, sizeof *c);
    CHECK(c != NULL, "calloc");
    c->suspend_queue_in_handler = suspend_queue_in_handler;
    c->queue = dispatch_queue_create("test.timer.parked", NULL);
    c->src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, c->queue);
    CHECK(c->src != NULL, "timer source");
    dispatch_set_context(c->src, c);
    dispatch_source_set_event_handler_f(c->src, on_fire);
    dispatch_source_set_timer(c->src, DISPATCH_TIME_NOW, 1000, 0);
    dispatch_activate(c->src);
    wait_calls_above(c, 0);
    if (!suspend_queue_in_handler)
        dispatch_suspend(c->src);

    sleep_ms(300); /* the undelivered fire is parked by now */
    uint64_t c0 = cpu_ns(), t0 = now_ns();
    sleep_ms(300);
    uint64_t used = cpu_ns() - c0, wall = now_ns() - t0;
    CHECK(used * 10 < wall * 3, "%.1f ms of CPU in %.1f ms while the timer could not be delivered (want < 30%%)",
          used / 1e6, wall / 1e6);

    int before = atomic_load(&c->calls);
    if (suspend_queue_in_handler)
        dispatch_resume(c->queue);
    else
        dispatch_resume(c->src);
    wait_calls_above(c, before);
    unsigned long long missed = atomic_load(&c->data[before]);
    CHECK(missed >= 300000, "first call after resume: get_data %llu, want >= 300000 (600 ms of 1 us fires)", missed);
    wait_calls_above(c, before + 3); /* re-armed: it goes on firing */

    dispatch_source_cancel_and_wait(c->src); /* no handler runs after this */
    dispatch_release(c->src);
    dispatch_release(c->queue);
    free(c);
    OK(name);
}

int main(void)
{
    run("handler_suspends_queue", true);
    run("source_suspended", false);
    return 0;
}
