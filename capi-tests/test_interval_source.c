/*
 * test_interval_source.c: DISPATCH_SOURCE_TYPE_INTERVAL (private.h).
 *
 *   invalid             handle 0 or an unknown mask bit gives NULL.
 *   set_timer_aborts    dispatch_source_set_timer on an interval source aborts.
 *   phase_aligned       a 20 ms interval source created in the middle of a period fires at
 *                       multiples of 20 ms of the uptime clock (CLOCK_MONOTONIC): most
 *                       fires land in the first half of their period (a timer counting
 *                       from its creation would land in the second half); it fires at
 *                       least 5 times in 10 periods and each delivery reports >= 1.
 *   two_sources_together  two 30 ms sources created 15 ms apart fire in the same periods.
 *   animation_frames    with DISPATCH_INTERVAL_UI_ANIMATION, handle 3 fires every 3 frames
 *                       (50 ms): the fires fall in distinct 50 ms periods.
 */
#include "check.h"
#include <dispatch/private.h>

static void set_timer_on_interval(void)
{
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_INTERVAL, 10, 0, NULL);
    dispatch_source_set_timer(s, DISPATCH_TIME_NOW, 1000000, 0);
}

static void nothing(void *p)
{
    UNUSED(p);
}

enum { MAX_FIRES = 64 };
struct rec {
    dispatch_source_t src;
    uint64_t at[MAX_FIRES];
    unsigned long data[MAX_FIRES];
    atomic_int n;
};

static void record(void *p)
{
    struct rec *r = p;
    int i = atomic_load(&r->n);
    if (i < MAX_FIRES) {
        r->at[i] = now_ns();
        r->data[i] = dispatch_source_get_data(r->src);
        atomic_store(&r->n, i + 1);
    }
}

static void start(struct rec *r, uintptr_t handle, uintptr_t mask, dispatch_queue_t q)
{
    r->src = dispatch_source_create(DISPATCH_SOURCE_TYPE_INTERVAL, handle, mask, q);
    CHECK(r->src != NULL, "dispatch_source_create(INTERVAL, %lu, %#lx) returned NULL", (unsigned long)handle,
          (unsigned long)mask);
    dispatch_set_context(r->src, r);
    dispatch_source_set_event_handler_f(r->src, record);
    dispatch_activate(r->src);
}

static void stop(struct rec *r)
{
    dispatch_source_cancel(r->src);
    dispatch_release(r->src);
}

static void test_phase_aligned(void)
{
    test_start("phase_aligned", 10);
    dispatch_queue_t q = dispatch_queue_create("test.interval", NULL);
    struct rec r = { 0 };
    const uint64_t period = 20000000;
    /* Created in the middle of a period: a timer counting from its creation would fire
     * in the second half of every period, an aligned one in the first. */
    while (now_ns() % period < period / 2 || now_ns() % period > period / 2 + period / 10) {
    }
    start(&r, 20, 0, q);
    sleep_ms(200);
    stop(&r);
    dispatch_sync_f(q, NULL, nothing); /* the handlers queued before cancel are done */
    int n = atomic_load(&r.n);
    CHECK(n >= 5, "a 20 ms interval source fired %d times in 200 ms", n);
    int early_in_period = 0;
    for (int i = 0; i < n; i++) {
        CHECK(r.data[i] >= 1, "delivery %d reported %lu intervals", i, r.data[i]);
        if (r.at[i] % period < period / 2)
            early_in_period++;
    }
    /* Fires are due at multiples of 20 ms; a handler runs soon after: most land in the
     * first half of their period (an unaligned timer would spread evenly). */
    CHECK(early_in_period * 4 >= n * 3, "only %d of %d fires were near a multiple of 20 ms", early_in_period, n);
    dispatch_release(q);
    OK("phase_aligned");
}

static void test_two_sources_together(void)
{
    test_start("two_sources_together", 10);
    dispatch_queue_t q = dispatch_queue_create("test.interval.two", NULL);
    struct rec a = { 0 }, b = { 0 };
    const uint64_t period = 30000000;
    start(&a, 30, 0, q);
    sleep_ms(15); /* half a period: unaligned timers would share a period half the time */
    start(&b, 30, 0, q);
    sleep_ms(250);
    stop(&a);
    stop(&b);
    dispatch_sync_f(q, NULL, nothing); /* the handlers queued before cancel are done */
    int na = atomic_load(&a.n), nb = atomic_load(&b.n), same = 0;
    /* Intervals, not deliveries: on a loaded machine a late delivery reports several. */
    unsigned long ia = 0, ib = 0;
    for (int i = 0; i < na; i++)
        ia += a.data[i];
    for (int i = 0; i < nb; i++)
        ib += b.data[i];
    CHECK(na >= 1 && nb >= 1 && ia >= 4 && ib >= 4, "intervals: %lu and %lu in %d and %d deliveries", ia, ib, na, nb);
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < na; j++)
            if (b.at[i] / period == a.at[j] / period)
                same++;
    CHECK(same * 4 >= nb * 3, "only %d of %d fires of the second source shared a period with the first", same, nb);
    dispatch_release(q);
    OK("two_sources_together");
}

static void test_animation_frames(void)
{
    test_start("animation_frames", 10);
    dispatch_queue_t q = dispatch_queue_create("test.interval.frames", NULL);
    struct rec r = { 0 };
    start(&r, 3, DISPATCH_INTERVAL_UI_ANIMATION, q);
    sleep_ms(400);
    stop(&r);
    dispatch_sync_f(q, NULL, nothing); /* the handlers queued before cancel are done */
    int n = atomic_load(&r.n);
    CHECK(n >= 3 && n <= 10, "a 3-frame (50 ms) source fired %d times in 400 ms", n);
    for (int i = 1; i < n; i++)
        CHECK(r.at[i] - r.at[i - 1] > 25000000, "fires %d and %d were %llu ns apart", i - 1, i,
              (unsigned long long)(r.at[i] - r.at[i - 1]));
    dispatch_release(q);
    OK("animation_frames");
}

int main(void)
{
    CHECK(dispatch_source_create(DISPATCH_SOURCE_TYPE_INTERVAL, 0, 0, NULL) == NULL, "handle 0 accepted");
    CHECK(dispatch_source_create(DISPATCH_SOURCE_TYPE_INTERVAL, 10, 0x1, NULL) == NULL, "mask 0x1 accepted");
    OK("invalid");
    CHECK(expect_abort(set_timer_on_interval, "not a timer"), "set_timer on an interval source did not abort");
    OK("set_timer_aborts");
    test_phase_aligned();
    test_two_sources_together();
    test_animation_frames();
    return 0;
}
