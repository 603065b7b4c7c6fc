/*
 * test_once.c: dispatch_once_f.
 *
 *   race_16_threads     16 threads released together call dispatch_once_f on one predicate:
 *                       the initializer runs exactly once, with the context given, and every
 *                       caller returns only after it finished (sees its writes); afterwards
 *                       the predicate equals ~0l.
 *   later_calls         further calls on a done predicate do not run the function again.
 *   independent         separate predicates each run their own initializer once.
 *   from_queue_items    1000 items on a concurrent queue share one predicate: one run.
 *   recursive_aborts    an initializer that calls dispatch_once_f on its own predicate
 *                       aborts with "BUG IN CLIENT OF LIBDISPATCH: ... recursively" instead
 *                       of waiting for itself forever; so does the same recursion while
 *                       another thread already waits on the predicate. A nested call on a
 *                       different predicate is fine and both initializers run once.
 */
#include "check.h"

#define THREADS 16

static dispatch_once_t race_pred;
static atomic_int race_runs;
static int race_value;          /* plain: the once must publish it */
static void *race_ctx_seen;
static int race_seen[THREADS];
static pthread_barrier_t race_barrier;

static void race_init(void *ctx)
{
    atomic_fetch_add(&race_runs, 1);
    race_ctx_seen = ctx;
    sleep_ms(50); /* keep the others waiting */
    race_value = 42;
}

static void *race_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    pthread_barrier_wait(&race_barrier);
    dispatch_once_f(&race_pred, &race_value, race_init);
    race_seen[i] = race_value;
    return NULL;
}

static void test_race_16_threads(void)
{
    test_start("race_16_threads", 10);
    CHECK(race_pred == 0, "a static predicate is not 0");
    pthread_barrier_init(&race_barrier, NULL, THREADS);
    pthread_t th[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, race_thread, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&race_barrier);
    CHECK(atomic_load(&race_runs) == 1, "the initializer ran %d times", atomic_load(&race_runs));
    CHECK(race_ctx_seen == &race_value, "the initializer got context %p, expected %p", race_ctx_seen,
          (void *)&race_value);
    for (int i = 0; i < THREADS; i++)
        CHECK(race_seen[i] == 42, "thread %d returned from dispatch_once_f before the initializer finished (saw %d)",
              i, race_seen[i]);
    CHECK(race_pred == ~0l, "the predicate is %ld after the initializer ran, expected ~0l", (long)race_pred);
    OK("race_16_threads");
}

/* ------------------------------------------------------------------ */

static void count_init(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void test_later_calls(void)
{
    test_start("later_calls", 5);
    atomic_int runs = 0;
    for (int i = 0; i < 100; i++)
        dispatch_once_f(&race_pred, &runs, count_init);
    CHECK(atomic_load(&runs) == 0, "a done predicate ran a new function %d times", atomic_load(&runs));

    /* a fresh predicate on the stack: first call runs, later ones do not */
    dispatch_once_t pred = 0;
    for (int i = 0; i < 100; i++)
        dispatch_once_f(&pred, &runs, count_init);
    CHECK(atomic_load(&runs) == 1, "the initializer ran %d times over 100 calls", atomic_load(&runs));
    CHECK(pred == ~0l, "the predicate is %ld, expected ~0l", (long)pred);
    OK("later_calls");
}

/* ------------------------------------------------------------------ */

static void test_independent(void)
{
    test_start("independent", 5);
    dispatch_once_t preds[8] = { 0 };
    atomic_int runs[8];
    for (int i = 0; i < 8; i++)
        atomic_init(&runs[i], 0);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 8; i++)
            dispatch_once_f(&preds[i], &runs[i], count_init);
    for (int i = 0; i < 8; i++) {
        CHECK(atomic_load(&runs[i]) == 1, "predicate %d: initializer ran %d times", i, atomic_load(&runs[i]));
        CHECK(preds[i] == ~0l, "predicate %d is %ld", i, (long)preds[i]);
    }
    OK("independent");
}

/* ------------------------------------------------------------------ */

static dispatch_once_t item_pred;
static atomic_int item_runs;
static int item_value;
static atomic_int item_bad;

static void item_init(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&item_runs, 1);
    sleep_ms(5);
    item_value = 7;
}

static void once_item(void *ctx)
{
    UNUSED(ctx);
    dispatch_once_f(&item_pred, NULL, item_init);
    if (item_value != 7)
        atomic_fetch_add(&item_bad, 1);
}

static void test_from_queue_items(void)
{
    test_start("from_queue_items", 10);
    dispatch_queue_t cq = dispatch_queue_create("test.once.items", DISPATCH_QUEUE_CONCURRENT);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 1000; i++)
        dispatch_group_async_f(g, cq, NULL, once_item);
    CHECK(group_wait_ms(g, 5000), "the items did not finish within 5 s");
    CHECK(atomic_load(&item_runs) == 1, "the initializer ran %d times", atomic_load(&item_runs));
    CHECK(atomic_load(&item_bad) == 0, "%d items did not see the initializer's write", atomic_load(&item_bad));
    dispatch_release(g);
    dispatch_release(cq);
    OK("from_queue_items");
}

/* ------------------------------------------------------------------ */

static dispatch_once_t rec_pred;

static void rec_init(void *ctx)
{
    UNUSED(ctx);
    dispatch_once_f(&rec_pred, NULL, rec_init);
}

static void recursive_once(void)
{
    dispatch_once_f(&rec_pred, NULL, rec_init);
}

static dispatch_once_t rec2_pred;
static atomic_int rec2_waiting;

static void *rec2_waiter(void *arg)
{
    UNUSED(arg);
    atomic_store(&rec2_waiting, 1);
    dispatch_once_f(&rec2_pred, NULL, count_init); /* blocks: the initializer is running */
    return NULL;
}

static void rec2_init(void *ctx)
{
    UNUSED(ctx);
    pthread_t t;
    pthread_create(&t, NULL, rec2_waiter, NULL);
    while (!atomic_load(&rec2_waiting))
        sleep_ms(1);
    sleep_ms(20); /* let the waiter reach its futex wait */
    dispatch_once_f(&rec2_pred, NULL, rec2_init);
}

static void recursive_once_with_waiter(void)
{
    dispatch_once_f(&rec2_pred, NULL, rec2_init);
}

static dispatch_once_t outer_pred, inner_pred;
static atomic_int outer_runs, inner_runs;

static void inner_init(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&inner_runs, 1);
}

static void outer_init(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&outer_runs, 1);
    dispatch_once_f(&inner_pred, NULL, inner_init);
}

static void test_recursive_aborts(void)
{
    test_start("recursive_aborts", 30);
    CHECK(expect_abort(recursive_once, "recursive"), "a recursive dispatch_once_f did not abort");
    CHECK(expect_abort(recursive_once_with_waiter, "recursive"),
          "a recursive dispatch_once_f with a waiting thread did not abort");
    dispatch_once_f(&outer_pred, NULL, outer_init);
    dispatch_once_f(&outer_pred, NULL, outer_init);
    CHECK(atomic_load(&outer_runs) == 1 && atomic_load(&inner_runs) == 1,
          "nested once on another predicate: outer ran %d, inner ran %d times", atomic_load(&outer_runs),
          atomic_load(&inner_runs));
    CHECK(outer_pred == ~0l && inner_pred == ~0l, "predicates %ld and %ld, expected ~0l", (long)outer_pred,
          (long)inner_pred);
    OK("recursive_aborts");
}

int main(void)
{
    test_race_16_threads();
    test_later_calls();
    test_independent();
    test_from_queue_items();
    test_recursive_aborts();
    return 0;
}
