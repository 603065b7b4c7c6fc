/*
 * test_group.c: dispatch groups.
 *
 *   wait_timeout          dispatch_group_wait returns non-zero with DISPATCH_TIME_NOW and
 *                         with a 50 ms timeout (after at least 50 ms) while an item is still
 *                         running, then 0 once it finished.
 *   wait_forever          DISPATCH_TIME_FOREVER returns 0 once every item ran.
 *   notify_after_all      dispatch_group_notify_f runs once, after every item of the group,
 *                         on the queue given.
 *   enter_leave           dispatch_group_enter/leave count like items: wait and notify wait
 *                         for the last leave (leaves done from other threads).
 *   empty_group           wait on an empty group returns 0 at once; notify on it fires.
 *   reuse                 a group that emptied can be used again: new items, new wait, new
 *                         notify; several notifies registered at once all fire once.
 *   wait_then_release     2000 rounds of: enter, a worker leaves while the main thread
 *                         waits, the main thread releases the group as soon as the wait
 *                         returned 0 (the last leave's wake and the waiter race every round).
 *   notify_races_leave    2000 rounds of: enter, a worker leaves while the main thread
 *                         registers a notify and releases the group; every notify runs
 *                         exactly once (counted after draining its serial queue), none
 *                         before its round's leave.
 *   wait_across_reentry   a thread waits (forever) while the main thread empties and
 *                         re-enters the group 1000 times, then leaves for good: the wait
 *                         returns 0, and only once the group was empty.
 */
#include "check.h"

static void signal_sema(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

static void wait_on_sema(void *ctx)
{
    dispatch_semaphore_wait((dispatch_semaphore_t)ctx, in_ms(5000));
}

/* ------------------------------------------------------------------ */

static void test_wait_timeout(void)
{
    test_start("wait_timeout", 15);
    dispatch_group_t g = dispatch_group_create();
    CHECK(g != NULL, "dispatch_group_create returned NULL");
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_group_async_f(g, q, gate, wait_on_sema);

    CHECK(dispatch_group_wait(g, DISPATCH_TIME_NOW) != 0, "wait(DISPATCH_TIME_NOW) returned 0 with an item running");
    uint64_t t0 = now_ns();
    long r = dispatch_group_wait(g, in_ms(50));
    uint64_t el = now_ns() - t0;
    CHECK(r != 0, "wait(50 ms) returned 0 with an item running");
    CHECK(el >= 50ull * 1000000ull, "wait(50 ms) timed out after only %.1f ms", el / 1e6);
    CHECK(el < 2000ull * 1000000ull, "wait(50 ms) took %.1f ms", el / 1e6);

    dispatch_semaphore_signal(gate);
    CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "wait did not return 0 after the item finished");
    CHECK(dispatch_group_wait(g, DISPATCH_TIME_NOW) == 0, "wait(NOW) on the emptied group is not 0");
    dispatch_release(gate);
    dispatch_release(g);
    OK("wait_timeout");
}

/* ------------------------------------------------------------------ */

static atomic_int wf_done;

static void slow_item(void *ctx)
{
    UNUSED(ctx);
    sleep_ms(10);
    atomic_fetch_add(&wf_done, 1);
}

static void test_wait_forever(void)
{
    test_start("wait_forever", 10);
    dispatch_group_t g = dispatch_group_create();
    dispatch_queue_t cq = dispatch_queue_create("test.group.wf", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_t sq = dispatch_queue_create("test.group.wfs", NULL);
    for (int i = 0; i < 10; i++)
        dispatch_group_async_f(g, (i & 1) ? cq : sq, NULL, slow_item);
    long r = dispatch_group_wait(g, DISPATCH_TIME_FOREVER);
    CHECK(r == 0, "wait(FOREVER) returned %ld", r);
    CHECK(atomic_load(&wf_done) == 10, "wait returned with %d of 10 items done", atomic_load(&wf_done));
    dispatch_release(sq);
    dispatch_release(cq);
    dispatch_release(g);
    OK("wait_forever");
}

/* ------------------------------------------------------------------ */

static atomic_int na_items;
static atomic_int na_notified;
static atomic_int na_items_at_notify;
static dispatch_queue_t na_queue;
static atomic_int na_on_queue;

static void na_item(void *ctx)
{
    int i = (int)(intptr_t)ctx;
    sleep_ms((unsigned)(i % 5) * 3);
    atomic_fetch_add(&na_items, 1);
}

static void na_notify(void *ctx)
{
    atomic_store(&na_items_at_notify, atomic_load(&na_items));
    atomic_store(&na_on_queue, dispatch_get_current_queue() == na_queue);
    atomic_fetch_add(&na_notified, 1);
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

static void test_notify_after_all(void)
{
    test_start("notify_after_all", 10);
    dispatch_group_t g = dispatch_group_create();
    dispatch_queue_t cq = dispatch_queue_create("test.group.na", DISPATCH_QUEUE_CONCURRENT);
    na_queue = dispatch_queue_create("test.group.notifyq", NULL);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    for (intptr_t i = 0; i < 20; i++)
        dispatch_group_async_f(g, cq, (void *)i, na_item);
    dispatch_group_notify_f(g, na_queue, done, na_notify);
    CHECK(sem_wait_ms(done, 5000), "notify did not run within 5 s");
    sleep_ms(100);
    CHECK(atomic_load(&na_notified) == 1, "notify ran %d times", atomic_load(&na_notified));
    CHECK(atomic_load(&na_items_at_notify) == 20, "notify ran when %d of 20 items had finished",
          atomic_load(&na_items_at_notify));
    CHECK(atomic_load(&na_on_queue) == 1, "notify did not run on the queue given to dispatch_group_notify_f");
    dispatch_release(done);
    dispatch_release(na_queue);
    dispatch_release(cq);
    dispatch_release(g);
    OK("notify_after_all");
}

/* ------------------------------------------------------------------ */

static atomic_int el_left;
static atomic_int el_left_at_notify;
static atomic_int el_notified;

struct leaver {
    dispatch_group_t g;
    unsigned delay_ms;
};

static void *leave_later(void *arg)
{
    struct leaver *l = arg;
    sleep_ms(l->delay_ms);
    atomic_fetch_add(&el_left, 1);
    dispatch_group_leave(l->g);
    return NULL;
}

static void el_notify(void *ctx)
{
    atomic_store(&el_left_at_notify, atomic_load(&el_left));
    atomic_fetch_add(&el_notified, 1);
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

static void test_enter_leave(void)
{
    test_start("enter_leave", 10);
    dispatch_group_t g = dispatch_group_create();
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    struct leaver lv[3] = { { g, 30 }, { g, 60 }, { g, 90 } };
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        dispatch_group_enter(g);
    CHECK(dispatch_group_wait(g, DISPATCH_TIME_NOW) != 0, "wait(NOW) returned 0 after 3 enters");
    dispatch_group_notify_f(g, dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), done, el_notify);
    for (int i = 0; i < 3; i++)
        CHECK(pthread_create(&th[i], NULL, leave_later, &lv[i]) == 0, "pthread_create");
    CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "wait did not return 0 after 3 leaves");
    CHECK(atomic_load(&el_left) == 3, "wait returned after %d of 3 leaves", atomic_load(&el_left));
    CHECK(sem_wait_ms(done, 5000), "notify did not fire");
    CHECK(atomic_load(&el_left_at_notify) == 3, "notify fired after %d of 3 leaves", atomic_load(&el_left_at_notify));
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);

    /* enter/leave mixed with async items */
    dispatch_group_enter(g);
    dispatch_group_async_f(g, dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), NULL, slow_item);
    sleep_ms(50);
    CHECK(dispatch_group_wait(g, DISPATCH_TIME_NOW) != 0, "the group emptied while one enter was outstanding");
    dispatch_group_leave(g);
    CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "the group did not empty after the leave");
    sleep_ms(50);
    CHECK(atomic_load(&el_notified) == 1, "the earlier notify ran %d times", atomic_load(&el_notified));
    dispatch_release(done);
    dispatch_release(g);
    OK("enter_leave");
}

/* ------------------------------------------------------------------ */

static void test_empty_group(void)
{
    test_start("empty_group", 10);
    dispatch_group_t g = dispatch_group_create();
    uint64_t t0 = now_ns();
    CHECK(dispatch_group_wait(g, DISPATCH_TIME_NOW) == 0, "wait(NOW) on an empty group is not 0");
    CHECK(dispatch_group_wait(g, DISPATCH_TIME_FOREVER) == 0, "wait(FOREVER) on an empty group is not 0");
    CHECK(now_ns() - t0 < 500ull * 1000000ull, "waiting on an empty group took %.1f ms", (now_ns() - t0) / 1e6);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_group_notify_f(g, dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), done, signal_sema);
    CHECK(sem_wait_ms(done, 3000), "notify on an empty group did not fire");
    dispatch_release(done);
    dispatch_release(g);
    OK("empty_group");
}

/* ------------------------------------------------------------------ */

static atomic_int ru_count[4];

static void ru_notify(void *ctx)
{
    int i = (int)(intptr_t)ctx;
    atomic_fetch_add(&ru_count[i], 1);
}

static atomic_int ru_items;

static void ru_item(void *ctx)
{
    UNUSED(ctx);
    sleep_ms(5);
    atomic_fetch_add(&ru_items, 1);
}

static bool wait_count(atomic_int *c, int n, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(c) < n && now_ns() < deadline)
        sleep_ms(1);
    return atomic_load(c) >= n;
}

static void test_reuse(void)
{
    test_start("reuse", 15);
    dispatch_group_t g = dispatch_group_create();
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_queue_t sq = dispatch_queue_create("test.group.reuse", NULL);

    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 10; i++)
            dispatch_group_async_f(g, q, NULL, ru_item);
        /* several notifies registered on the same generation */
        dispatch_group_notify_f(g, sq, (void *)0, ru_notify);
        dispatch_group_notify_f(g, q, (void *)1, ru_notify);
        CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "round %d: wait did not return 0", round);
        CHECK(atomic_load(&ru_items) == 10 * round, "round %d: %d items ran", round, atomic_load(&ru_items));
        CHECK(wait_count(&ru_count[0], round, 3000) && wait_count(&ru_count[1], round, 3000),
              "round %d: notifies ran %d and %d times", round, atomic_load(&ru_count[0]), atomic_load(&ru_count[1]));
    }
    sleep_ms(100);
    CHECK(atomic_load(&ru_count[0]) == 3 && atomic_load(&ru_count[1]) == 3,
          "over 3 rounds the notifies ran %d and %d times, expected 3 each", atomic_load(&ru_count[0]),
          atomic_load(&ru_count[1]));
    dispatch_release(sq);
    dispatch_release(g);
    OK("reuse");
}

/* ------------------------------------------------------------------ */

static atomic_int race_left;

static void leave_ctx(void *ctx)
{
    atomic_fetch_add(&race_left, 1);
    dispatch_group_leave((dispatch_group_t)ctx);
}

static void test_wait_then_release(void)
{
    test_start("wait_then_release", 60);
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    atomic_store(&race_left, 0);
    for (int i = 0; i < 2000; i++) {
        dispatch_group_t g = dispatch_group_create();
        dispatch_group_enter(g);
        dispatch_async_f(q, g, leave_ctx);
        CHECK(dispatch_group_wait(g, in_ms(5000)) == 0, "round %d: wait did not return 0", i);
        CHECK(atomic_load(&race_left) == i + 1, "round %d: wait returned before the leave", i);
        dispatch_release(g);
    }
    OK("wait_then_release");
}

#define NR_ROUNDS 2000
static struct nr_round {
    dispatch_group_t g;
    atomic_int left;
} nr_rounds[NR_ROUNDS];
static atomic_int nr_fired, nr_fired_early;

static void nr_leave(void *ctx)
{
    struct nr_round *r = ctx;
    atomic_store(&r->left, 1);
    dispatch_group_leave(r->g);
}

static void nr_notify(void *ctx)
{
    struct nr_round *r = ctx;
    if (!atomic_load(&r->left))
        atomic_fetch_add(&nr_fired_early, 1);
    atomic_fetch_add(&nr_fired, 1);
}

static void nr_noop(void *ctx)
{
    UNUSED(ctx);
}

static void test_notify_races_leave(void)
{
    test_start("notify_races_leave", 60);
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_queue_t sq = dispatch_queue_create("test.group.notify_race", NULL);
    for (int i = 0; i < NR_ROUNDS; i++) {
        struct nr_round *r = &nr_rounds[i];
        r->g = dispatch_group_create();
        dispatch_group_enter(r->g);
        dispatch_async_f(q, r, nr_leave);
        dispatch_group_notify_f(r->g, sq, r, nr_notify);
        dispatch_release(r->g); /* the pending notify keeps it alive */
    }
    for (int spins = 0; atomic_load(&nr_fired) < NR_ROUNDS && spins < 5000; spins++)
        sleep_ms(1);
    dispatch_sync_f(sq, NULL, nr_noop); /* anything fired twice has run by now */
    CHECK(atomic_load(&nr_fired) == NR_ROUNDS, "%d notifies ran for %d rounds", atomic_load(&nr_fired),
          NR_ROUNDS);
    CHECK(atomic_load(&nr_fired_early) == 0, "%d notifies ran before their round's leave",
          atomic_load(&nr_fired_early));
    dispatch_release(sq);
    OK("notify_races_leave");
}

struct reentry {
    dispatch_group_t g;
    atomic_int done;
    long result;
};

static void *reentry_waiter(void *arg)
{
    struct reentry *r = arg;
    r->result = dispatch_group_wait(r->g, DISPATCH_TIME_FOREVER);
    atomic_store(&r->done, 1);
    return NULL;
}

static void test_wait_across_reentry(void)
{
    test_start("wait_across_reentry", 30);
    struct reentry r = { dispatch_group_create(), 0, -1 };
    pthread_t th;
    dispatch_group_enter(r.g);
    dispatch_group_enter(r.g);
    CHECK(pthread_create(&th, NULL, reentry_waiter, &r) == 0, "pthread_create");
    for (int i = 0; i < 1000; i++) {
        dispatch_group_leave(r.g);
        dispatch_group_enter(r.g);
    }
    CHECK(atomic_load(&r.done) == 0, "the wait returned while two enters were outstanding");
    dispatch_group_leave(r.g);
    for (int i = 0; i < 1000; i++) {
        dispatch_group_leave(r.g); /* empties the group: the waiter may return */
        dispatch_group_enter(r.g); /* ... or sleep on through the next round */
    }
    dispatch_group_leave(r.g);
    pthread_join(th, NULL);
    CHECK(r.result == 0, "dispatch_group_wait returned %ld", r.result);
    CHECK(dispatch_group_wait(r.g, DISPATCH_TIME_NOW) == 0, "the group is not empty at the end");
    dispatch_release(r.g);
    OK("wait_across_reentry");
}

int main(void)
{
    test_wait_timeout();
    test_wait_forever();
    test_notify_after_all();
    test_enter_leave();
    test_empty_group();
    test_reuse();
    test_wait_then_release();
    test_notify_races_leave();
    test_wait_across_reentry();
    return 0;
}
