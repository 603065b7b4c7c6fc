/*
 * test_semaphore.c: dispatch semaphores.
 *
 *   timeouts          wait on a zero semaphore returns non-zero: at once with
 *                     DISPATCH_TIME_NOW, after at least 50 ms with a 50 ms timeout, and a
 *                     timed-out wait does not consume a later signal.
 *   counting          a semaphore created with N=3 admits exactly 3 non-blocking waits;
 *                     8 threads contending never hold more than 3 at once.
 *   signal_wakes      dispatch_semaphore_signal returns non-zero when it woke a waiting
 *                     thread, 0 when nobody waited; the woken wait returns 0.
 *   ping_pong         two threads hand control back and forth 10000 times.
 *   create_negative   dispatch_semaphore_create(-1) returns NULL (documented).
 */
#include "check.h"

static void test_timeouts(void)
{
    test_start("timeouts", 10);
    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    CHECK(s != NULL, "dispatch_semaphore_create(0) returned NULL");
    uint64_t t0 = now_ns();
    CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) != 0, "wait(NOW) on a zero semaphore returned 0");
    CHECK(now_ns() - t0 < 100ull * 1000000ull, "wait(NOW) blocked for %.1f ms", (now_ns() - t0) / 1e6);

    for (int i = 0; i < 3; i++) {
        t0 = now_ns();
        long r = dispatch_semaphore_wait(s, in_ms(50));
        uint64_t el = now_ns() - t0;
        CHECK(r != 0, "wait(50 ms) on a zero semaphore returned 0");
        CHECK(el >= 50ull * 1000000ull, "wait(50 ms) timed out after only %.2f ms", el / 1e6);
        CHECK(el < 1000ull * 1000000ull, "wait(50 ms) took %.1f ms", el / 1e6);
    }

    /* a deadline in the past */
    t0 = now_ns();
    dispatch_time_t past = dispatch_time(DISPATCH_TIME_NOW, -(int64_t)NSEC_PER_SEC);
    CHECK(dispatch_semaphore_wait(s, past) != 0, "wait with a past deadline returned 0");
    CHECK(now_ns() - t0 < 100ull * 1000000ull, "wait with a past deadline blocked %.1f ms", (now_ns() - t0) / 1e6);

    /* the timed-out waits did not leave the count negative: one signal, one wait */
    dispatch_semaphore_signal(s);
    CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) == 0, "a signal after timed-out waits was lost");
    CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) != 0, "one signal admitted two waits");
    dispatch_release(s);
    OK("timeouts");
}

/* ------------------------------------------------------------------ */

static dispatch_semaphore_t cnt_sem;
static atomic_int cnt_inside;
static atomic_int cnt_max;
static atomic_int cnt_failed_waits;

static void *cnt_worker(void *arg)
{
    UNUSED(arg);
    for (int i = 0; i < 20; i++) {
        if (dispatch_semaphore_wait(cnt_sem, in_ms(5000)) != 0) {
            atomic_fetch_add(&cnt_failed_waits, 1);
            return NULL;
        }
        int now = atomic_fetch_add(&cnt_inside, 1) + 1;
        int m = atomic_load(&cnt_max);
        while (now > m && !atomic_compare_exchange_weak(&cnt_max, &m, now)) {
        }
        sleep_ms(1);
        atomic_fetch_sub(&cnt_inside, 1);
        dispatch_semaphore_signal(cnt_sem);
    }
    return NULL;
}

static void test_counting(void)
{
    test_start("counting", 15);
    dispatch_semaphore_t s = dispatch_semaphore_create(3);
    for (int i = 0; i < 3; i++)
        CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) == 0, "non-blocking wait %d of 3 failed", i + 1);
    CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) != 0, "a 4th wait succeeded on a semaphore of 3");
    CHECK(dispatch_semaphore_wait(s, in_ms(20)) != 0, "a 4th timed wait succeeded on a semaphore of 3");
    for (int i = 0; i < 3; i++)
        dispatch_semaphore_signal(s);

    cnt_sem = s;
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        CHECK(pthread_create(&th[i], NULL, cnt_worker, NULL) == 0, "pthread_create");
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&cnt_failed_waits) == 0, "%d waits timed out", atomic_load(&cnt_failed_waits));
    CHECK(atomic_load(&cnt_max) <= 3, "%d threads held a semaphore of 3 at once", atomic_load(&cnt_max));
    CHECK(atomic_load(&cnt_max) >= 2, "the semaphore of 3 never admitted two threads at once (max %d)",
          atomic_load(&cnt_max));
    /* back at 3: exactly three waits succeed again */
    for (int i = 0; i < 3; i++)
        CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) == 0, "after the run, wait %d of 3 failed", i + 1);
    CHECK(dispatch_semaphore_wait(s, DISPATCH_TIME_NOW) != 0, "after the run the count exceeds 3");
    for (int i = 0; i < 3; i++)
        dispatch_semaphore_signal(s);
    dispatch_release(s);
    OK("counting");
}

/* ------------------------------------------------------------------ */

struct waiter {
    dispatch_semaphore_t s;
    atomic_int about_to_wait;
    long result;
    atomic_int returned;
};

static void *waiter_thread(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->about_to_wait, 1);
    w->result = dispatch_semaphore_wait(w->s, in_ms(5000));
    atomic_store(&w->returned, 1);
    return NULL;
}

static void test_signal_wakes(void)
{
    test_start("signal_wakes", 10);
    struct waiter w = { dispatch_semaphore_create(0), 0, -1, 0 };
    pthread_t th;
    CHECK(pthread_create(&th, NULL, waiter_thread, &w) == 0, "pthread_create");
    while (!atomic_load(&w.about_to_wait))
        sleep_ms(1);
    sleep_ms(200); /* let it block inside dispatch_semaphore_wait */
    CHECK(!atomic_load(&w.returned), "the waiter returned without a signal");
    long r = dispatch_semaphore_signal(w.s);
    pthread_join(th, NULL);
    CHECK(w.result == 0, "the woken wait returned %ld", w.result);
    CHECK(r != 0, "dispatch_semaphore_signal returned 0 although it woke a waiting thread");

    /* nobody waiting: 0 */
    r = dispatch_semaphore_signal(w.s);
    CHECK(r == 0, "dispatch_semaphore_signal returned %ld with no waiter", r);
    CHECK(dispatch_semaphore_wait(w.s, DISPATCH_TIME_NOW) == 0, "the unconsumed signal was lost");
    dispatch_release(w.s);
    OK("signal_wakes");
}

/* ------------------------------------------------------------------ */

#define PINGS 10000

static dispatch_semaphore_t ping_sem, pong_sem;
static int pp_value;          /* handed back and forth; never touched concurrently */
static atomic_int pp_errors;

static void *pong_thread(void *arg)
{
    UNUSED(arg);
    for (int i = 0; i < PINGS; i++) {
        if (dispatch_semaphore_wait(ping_sem, in_ms(5000)) != 0) {
            atomic_fetch_add(&pp_errors, 1);
            return NULL;
        }
        if (pp_value != 2 * i + 1)
            atomic_fetch_add(&pp_errors, 1);
        pp_value++;
        dispatch_semaphore_signal(pong_sem);
    }
    return NULL;
}

static void test_ping_pong(void)
{
    test_start("ping_pong", 20);
    ping_sem = dispatch_semaphore_create(0);
    pong_sem = dispatch_semaphore_create(0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, pong_thread, NULL) == 0, "pthread_create");
    for (int i = 0; i < PINGS; i++) {
        CHECK(pp_value == 2 * i, "round %d: value %d", i, pp_value);
        pp_value++;
        dispatch_semaphore_signal(ping_sem);
        CHECK(dispatch_semaphore_wait(pong_sem, in_ms(5000)) == 0, "round %d: no pong within 5 s", i);
    }
    pthread_join(th, NULL);
    CHECK(atomic_load(&pp_errors) == 0, "%d errors on the pong side", atomic_load(&pp_errors));
    CHECK(pp_value == 2 * PINGS, "final value %d", pp_value);
    dispatch_release(ping_sem);
    dispatch_release(pong_sem);
    OK("ping_pong");
}

/* ------------------------------------------------------------------ */

static void test_create_negative(void)
{
    test_start("create_negative", 5);
    dispatch_semaphore_t s = dispatch_semaphore_create(-1);
    CHECK(s == NULL, "dispatch_semaphore_create(-1) returned an object, expected NULL");
    OK("create_negative");
}

int main(void)
{
    test_timeouts();
    test_counting();
    test_signal_wakes();
    test_ping_pong();
    test_create_negative();
    return 0;
}
