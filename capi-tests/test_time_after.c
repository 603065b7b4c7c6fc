/*
 * test_time_after.c: dispatch_time, dispatch_walltime, dispatch_after_f.
 *
 *   time_arithmetic    dispatch_time(DISPATCH_TIME_NOW, 0) increases with time and tracks
 *                      the monotonic clock; dispatch_time(t, d) == t + d for a time t (in
 *                      nanoseconds on this platform), for positive and negative d;
 *                      DISPATCH_TIME_FOREVER plus anything stays FOREVER.
 *   walltime           dispatch_walltime(NULL, 0) is neither FOREVER nor NOW; adding a
 *                      delta with dispatch_time matches dispatch_walltime(ts, delta); a
 *                      semaphore wait on a walltime deadline 50 ms ahead times out after
 *                      >= 50 ms, one in the past at once.
 *   after_50ms         dispatch_after_f 50 ms ahead fires no earlier than 50 ms and within
 *                      500 ms, once, on the queue given.
 *   after_walltime     dispatch_after_f with dispatch_walltime deadlines (NULL and an
 *                      explicit timespec) fire no earlier than asked and within 500 ms.
 *   after_order        six afters submitted out of order fire in deadline order.
 *   after_now          dispatch_after_f(DISPATCH_TIME_NOW) runs promptly.
 *   after_suspended    an after whose deadline passes while its queue is suspended runs only
 *                      after dispatch_resume.
 */
#include "check.h"

#define MS 1000000ull

static void test_time_arithmetic(void)
{
    test_start("time_arithmetic", 10);
    dispatch_time_t t1 = dispatch_time(DISPATCH_TIME_NOW, 0);
    CHECK(t1 != DISPATCH_TIME_NOW && t1 != DISPATCH_TIME_FOREVER, "dispatch_time(NOW, 0) = %llu",
          (unsigned long long)t1);
    sleep_ms(2);
    dispatch_time_t t2 = dispatch_time(DISPATCH_TIME_NOW, 0);
    CHECK(t2 > t1, "time did not increase: %llu then %llu", (unsigned long long)t1, (unsigned long long)t2);
    CHECK(t2 - t1 >= 2 * MS, "2 ms of sleep advanced dispatch_time by only %llu ns", (unsigned long long)(t2 - t1));
    CHECK(t2 - t1 < 1000 * MS, "2 ms of sleep advanced dispatch_time by %llu ns", (unsigned long long)(t2 - t1));

    CHECK(dispatch_time(t1, 1000) == t1 + 1000, "dispatch_time(t, 1000) != t + 1000");
    CHECK(dispatch_time(t1, (int64_t)NSEC_PER_SEC) == t1 + NSEC_PER_SEC, "dispatch_time(t, 1 s) != t + 1 s");
    CHECK(dispatch_time(t1, -1000) == t1 - 1000, "dispatch_time(t, -1000) != t - 1000");
    CHECK(dispatch_time(t1, 0) == t1, "dispatch_time(t, 0) != t");

    /* NOW + delta lies between two reads of NOW, shifted by delta */
    dispatch_time_t a = dispatch_time(DISPATCH_TIME_NOW, 0);
    dispatch_time_t b = dispatch_time(DISPATCH_TIME_NOW, 5 * (int64_t)NSEC_PER_MSEC);
    dispatch_time_t c = dispatch_time(DISPATCH_TIME_NOW, 0);
    CHECK(b >= a + 5 * NSEC_PER_MSEC && b <= c + 5 * NSEC_PER_MSEC, "NOW + 5 ms = %llu is outside [%llu, %llu]",
          (unsigned long long)b, (unsigned long long)(a + 5 * NSEC_PER_MSEC),
          (unsigned long long)(c + 5 * NSEC_PER_MSEC));

    /* tracks CLOCK_MONOTONIC's rate */
    uint64_t m0 = now_ns();
    dispatch_time_t d0 = dispatch_time(DISPATCH_TIME_NOW, 0);
    sleep_ms(50);
    dispatch_time_t d1 = dispatch_time(DISPATCH_TIME_NOW, 0);
    uint64_t m1 = now_ns();
    uint64_t dd = d1 - d0, dm = m1 - m0;
    CHECK(dd <= dm + MS && dd + 5 * MS >= dm, "dispatch_time advanced %llu ns while the clock advanced %llu",
          (unsigned long long)dd, (unsigned long long)dm);

    CHECK(dispatch_time(DISPATCH_TIME_FOREVER, 0) == DISPATCH_TIME_FOREVER, "FOREVER + 0 is not FOREVER");
    CHECK(dispatch_time(DISPATCH_TIME_FOREVER, 1000) == DISPATCH_TIME_FOREVER, "FOREVER + 1000 is not FOREVER");
    CHECK(dispatch_time(DISPATCH_TIME_FOREVER, -1000) == DISPATCH_TIME_FOREVER, "FOREVER - 1000 is not FOREVER");
    OK("time_arithmetic");
}

/* ------------------------------------------------------------------ */

static void test_walltime(void)
{
    test_start("walltime", 10);
    dispatch_time_t w = dispatch_walltime(NULL, 0);
    CHECK(w != DISPATCH_TIME_FOREVER, "dispatch_walltime(NULL, 0) is DISPATCH_TIME_FOREVER");
    CHECK(w != DISPATCH_TIME_NOW, "dispatch_walltime(NULL, 0) is DISPATCH_TIME_NOW");

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    dispatch_time_t w1 = dispatch_walltime(&ts, 0);
    dispatch_time_t w2 = dispatch_walltime(&ts, 1000);
    CHECK(w1 != DISPATCH_TIME_FOREVER && w2 != DISPATCH_TIME_FOREVER, "walltime of a timespec is FOREVER");
    CHECK(w1 != w2, "dispatch_walltime(&ts, 0) == dispatch_walltime(&ts, 1000)");
    CHECK(dispatch_time(w1, 1000) == w2, "dispatch_time(walltime(ts), 1000) != walltime(ts, 1000)");

    /* waits on wall-clock deadlines */
    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    uint64_t t0 = now_ns();
    long r = dispatch_semaphore_wait(s, dispatch_walltime(NULL, 50 * (int64_t)NSEC_PER_MSEC));
    uint64_t el = now_ns() - t0;
    CHECK(r != 0, "wait on a walltime deadline returned 0");
    CHECK(el >= 49 * MS, "wait on a walltime deadline 50 ms ahead returned after %.2f ms", el / 1e6);
    CHECK(el < 1000 * MS, "wait on a walltime deadline 50 ms ahead took %.1f ms", el / 1e6);

    /* a wall-clock deadline in the past does not block */
    t0 = now_ns();
    r = dispatch_semaphore_wait(s, dispatch_walltime(NULL, -(int64_t)NSEC_PER_SEC));
    CHECK(r != 0 && now_ns() - t0 < 100 * MS, "a past walltime deadline: r=%ld after %.1f ms", r,
          (now_ns() - t0) / 1e6);
    dispatch_release(s);
    OK("walltime");
}

/* ------------------------------------------------------------------ */

struct fired {
    uint64_t at;
    atomic_int count;
    dispatch_queue_t current;
    dispatch_semaphore_t done;
};

static void on_fire(void *ctx)
{
    struct fired *f = ctx;
    f->at = now_ns();
    f->current = dispatch_get_current_queue();
    atomic_fetch_add(&f->count, 1);
    dispatch_semaphore_signal(f->done);
}

static void test_after_50ms(void)
{
    test_start("after_50ms", 10);
    dispatch_queue_t q = dispatch_queue_create("test.after.q", NULL);
    struct fired f = { 0, 0, NULL, dispatch_semaphore_create(0) };
    uint64_t t0 = now_ns();
    dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, 50 * (int64_t)NSEC_PER_MSEC), q, &f, on_fire);
    CHECK(sem_wait_ms(f.done, 3000), "dispatch_after_f(50 ms) did not fire within 3 s");
    uint64_t el = f.at - t0;
    CHECK(el >= 50 * MS, "fired after %.2f ms, before the 50 ms deadline", el / 1e6);
    CHECK(el < 500 * MS, "fired after %.1f ms (expected < 500 ms)", el / 1e6);
    CHECK(f.current == q, "the function did not run on the queue given");
    sleep_ms(100);
    CHECK(atomic_load(&f.count) == 1, "fired %d times", atomic_load(&f.count));
    dispatch_release(f.done);
    dispatch_release(q);
    OK("after_50ms");
}

/* ------------------------------------------------------------------ */

static void test_after_walltime(void)
{
    test_start("after_walltime", 10);
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    struct fired f = { 0, 0, NULL, dispatch_semaphore_create(0) };
    uint64_t t0 = now_ns();
    dispatch_after_f(dispatch_walltime(NULL, 60 * (int64_t)NSEC_PER_MSEC), q, &f, on_fire);
    CHECK(sem_wait_ms(f.done, 3000), "walltime after (60 ms) did not fire within 3 s");
    uint64_t el = f.at - t0;
    CHECK(el >= 59 * MS, "walltime after (60 ms) fired after %.2f ms", el / 1e6);
    CHECK(el < 500 * MS, "walltime after (60 ms) fired after %.1f ms", el / 1e6);

    /* explicit timespec: now + 80 ms */
    struct fired g = { 0, 0, NULL, dispatch_semaphore_create(0) };
    struct timespec ts;
    t0 = now_ns();
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 80 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    dispatch_after_f(dispatch_walltime(&ts, 0), q, &g, on_fire);
    CHECK(sem_wait_ms(g.done, 3000), "timespec after (80 ms) did not fire within 3 s");
    el = g.at - t0;
    CHECK(el >= 79 * MS, "timespec after (80 ms) fired after %.2f ms", el / 1e6);
    CHECK(el < 500 * MS, "timespec after (80 ms) fired after %.1f ms", el / 1e6);
    dispatch_release(f.done);
    dispatch_release(g.done);
    OK("after_walltime");
}

/* ------------------------------------------------------------------ */

static int ao_log[8];
static atomic_int ao_n;
static dispatch_semaphore_t ao_done;

static void ao_fire(void *ctx)
{
    int n = atomic_fetch_add(&ao_n, 1);
    if (n < 8)
        ao_log[n] = (int)(intptr_t)ctx;
    dispatch_semaphore_signal(ao_done);
}

static void test_after_order(void)
{
    test_start("after_order", 10);
    ao_done = dispatch_semaphore_create(0);
    dispatch_queue_t q = dispatch_queue_create("test.after.order", NULL);
    static const int delays[6] = { 120, 40, 100, 20, 80, 60 };
    for (int i = 0; i < 6; i++)
        dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, delays[i] * (int64_t)NSEC_PER_MSEC), q,
                         (void *)(intptr_t)delays[i], ao_fire);
    for (int i = 0; i < 6; i++)
        CHECK(sem_wait_ms(ao_done, 3000), "only %d of 6 afters fired", i);
    for (int i = 0; i < 6; i++)
        CHECK(ao_log[i] == 20 * (i + 1), "position %d fired the %d ms after, expected %d ms", i, ao_log[i],
              20 * (i + 1));
    dispatch_release(q);
    dispatch_release(ao_done);
    OK("after_order");
}

/* ------------------------------------------------------------------ */

static void test_after_now(void)
{
    test_start("after_now", 10);
    struct fired f = { 0, 0, NULL, dispatch_semaphore_create(0) };
    uint64_t t0 = now_ns();
    dispatch_after_f(DISPATCH_TIME_NOW, dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), &f, on_fire);
    CHECK(sem_wait_ms(f.done, 3000), "dispatch_after_f(NOW) did not fire");
    CHECK(f.at - t0 < 500 * MS, "dispatch_after_f(NOW) fired after %.1f ms", (f.at - t0) / 1e6);
    dispatch_release(f.done);
    OK("after_now");
}

/* ------------------------------------------------------------------ */

static void test_after_suspended(void)
{
    test_start("after_suspended", 10);
    dispatch_queue_t q = dispatch_queue_create("test.after.susp", NULL);
    struct fired f = { 0, 0, NULL, dispatch_semaphore_create(0) };
    dispatch_suspend(q);
    dispatch_after_f(in_ms(20), q, &f, on_fire);
    CHECK(!sem_wait_ms(f.done, 200), "an after ran on a suspended queue");
    uint64_t t0 = now_ns();
    dispatch_resume(q);
    CHECK(sem_wait_ms(f.done, 3000), "the after did not run after dispatch_resume");
    CHECK(f.at >= t0, "the after ran before the resume");
    dispatch_release(f.done);
    dispatch_release(q);
    OK("after_suspended");
}

int main(void)
{
    test_time_arithmetic();
    test_walltime();
    test_after_50ms();
    test_after_walltime();
    test_after_order();
    test_after_now();
    test_after_suspended();
    return 0;
}
