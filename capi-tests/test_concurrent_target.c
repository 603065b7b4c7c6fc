/*
 * test_concurrent_target.c: a concurrent queue that targets another concurrent queue keeps
 * its width: work on it runs in parallel, and barriers of either level still exclude.
 *
 *   sync_width_through_target   8 threads dispatch_sync_f onto c (concurrent, targeting
 *                               concurrent b): all 8 functions are inside at once (each
 *                               waits, bounded, until it sees all 8).
 *   sync_rendezvous             two sync callers on c meet inside their functions: each
 *                               signals a semaphore and waits for the other's.
 *   async_width_through_target  4 async items of c run at once (same rendezvous).
 *   barrier_of_target_excludes  readers dispatch_sync_f onto c from 8 threads while
 *                               writers dispatch_barrier_async_f onto b: no reader runs
 *                               during a writer, writers never overlap, every call runs
 *                               once, and more than one reader was inside at some moment.
 *   barrier_of_queue_excludes   dispatch_barrier_async_f on c waits for c's running items,
 *                               runs alone and items after it start after it.
 *   serial_level_still_serialises  c concurrent targeting serial s: c's async and sync
 *                               work never overlaps.
 */
#include "check.h"

static dispatch_queue_t make_chain(dispatch_queue_t *b_out)
{
    dispatch_queue_t b = dispatch_queue_create("test.ct.b", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_t c = dispatch_queue_create_with_target("test.ct.c", DISPATCH_QUEUE_CONCURRENT, b);
    CHECK(b != NULL && c != NULL, "dispatch_queue_create returned NULL");
    *b_out = b;
    return c;
}

/* ------------------------------------------------------------------ */
/* A rendezvous of `want` functions: each counts itself in, then waits (bounded) for the
 * others; `met` counts those that saw all of them inside. */

struct rendezvous {
    atomic_int inside;
    atomic_int met;
    int want;
};

static void rendezvous_fn(void *ctx)
{
    struct rendezvous *r = ctx;
    atomic_fetch_add(&r->inside, 1);
    uint64_t deadline = now_ns() + 5ull * 1000000000ull;
    while (atomic_load(&r->inside) < r->want && now_ns() < deadline)
        sleep_ms(1);
    if (atomic_load(&r->inside) >= r->want)
        atomic_fetch_add(&r->met, 1);
}

struct sync_arg {
    dispatch_queue_t q;
    void *ctx;
    dispatch_function_t fn;
};

static void *sync_thread(void *p)
{
    struct sync_arg *a = p;
    dispatch_sync_f(a->q, a->ctx, a->fn);
    return NULL;
}

static void test_sync_width_through_target(void)
{
    test_start("sync_width_through_target", 20);
    dispatch_queue_t b, c = make_chain(&b);
    struct rendezvous r = { .want = 8 };
    pthread_t th[8];
    struct sync_arg a = { c, &r, rendezvous_fn };
    for (int i = 0; i < 8; i++)
        CHECK(pthread_create(&th[i], NULL, sync_thread, &a) == 0, "pthread_create");
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&r.met) == 8,
          "only %d of 8 dispatch_sync_f calls on a concurrent queue targeting a concurrent queue "
          "saw all 8 inside: the calls were serialised",
          atomic_load(&r.met));
    dispatch_release(c);
    dispatch_release(b);
    OK("sync_width_through_target");
}

/* ------------------------------------------------------------------ */

struct meet {
    dispatch_semaphore_t mine, theirs;
    bool ok;
};

static void meet_fn(void *ctx)
{
    struct meet *m = ctx;
    dispatch_semaphore_signal(m->mine);
    m->ok = sem_wait_ms(m->theirs, 5000);
}

static void test_sync_rendezvous(void)
{
    test_start("sync_rendezvous", 20);
    dispatch_queue_t b, c = make_chain(&b);
    dispatch_semaphore_t s1 = dispatch_semaphore_create(0), s2 = dispatch_semaphore_create(0);
    struct meet m1 = { s1, s2, false }, m2 = { s2, s1, false };
    struct sync_arg a1 = { c, &m1, meet_fn }, a2 = { c, &m2, meet_fn };
    pthread_t t1, t2;
    CHECK(pthread_create(&t1, NULL, sync_thread, &a1) == 0, "pthread_create");
    CHECK(pthread_create(&t2, NULL, sync_thread, &a2) == 0, "pthread_create");
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(m1.ok && m2.ok, "two sync callers on a concurrent queue (concurrent target) could not meet "
                          "inside their functions (first %d, second %d)", m1.ok, m2.ok);
    dispatch_release(s1);
    dispatch_release(s2);
    dispatch_release(c);
    dispatch_release(b);
    OK("sync_rendezvous");
}

/* ------------------------------------------------------------------ */

static void test_async_width_through_target(void)
{
    test_start("async_width_through_target", 20);
    dispatch_queue_t b, c = make_chain(&b);
    struct rendezvous r = { .want = 4 };
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 4; i++)
        dispatch_group_async_f(g, c, &r, rendezvous_fn);
    CHECK(group_wait_ms(g, 15000), "the items did not finish");
    CHECK(atomic_load(&r.met) == 4, "only %d of 4 async items of c saw all 4 running at once",
          atomic_load(&r.met));
    dispatch_release(g);
    dispatch_release(c);
    dispatch_release(b);
    OK("async_width_through_target");
}

/* ------------------------------------------------------------------ */

static atomic_int rw_readers, rw_writers, rw_max_readers, rw_violations;
static atomic_int rw_reads, rw_writes;

static void reader_fn(void *ctx)
{
    UNUSED(ctx);
    int n = atomic_fetch_add(&rw_readers, 1) + 1;
    if (atomic_load(&rw_writers) != 0)
        atomic_fetch_add(&rw_violations, 1);
    int m = atomic_load(&rw_max_readers);
    while (n > m && !atomic_compare_exchange_weak(&rw_max_readers, &m, n)) {
    }
    /* Stay a little so readers overlap: wait (bounded) for a second reader. */
    for (int i = 0; i < 200 && atomic_load(&rw_readers) < 2; i++)
        sched_yield();
    if (atomic_load(&rw_writers) != 0)
        atomic_fetch_add(&rw_violations, 1);
    atomic_fetch_add(&rw_reads, 1);
    atomic_fetch_sub(&rw_readers, 1);
}

static void writer_fn(void *ctx)
{
    UNUSED(ctx);
    if (atomic_fetch_add(&rw_writers, 1) != 0 || atomic_load(&rw_readers) != 0)
        atomic_fetch_add(&rw_violations, 1);
    for (int i = 0; i < 20; i++)
        sched_yield();
    if (atomic_load(&rw_readers) != 0)
        atomic_fetch_add(&rw_violations, 1);
    atomic_fetch_add(&rw_writes, 1);
    atomic_fetch_sub(&rw_writers, 1);
}

enum { RW_THREADS = 8, RW_READS = 300, RW_WRITES = 200 };

struct rw_arg {
    dispatch_queue_t b, c;
    int id;
};

static void *rw_thread(void *p)
{
    struct rw_arg *a = p;
    for (int i = 0; i < RW_READS; i++) {
        dispatch_sync_f(a->c, NULL, reader_fn);
        if (a->id == 0 && i < RW_WRITES)
            dispatch_barrier_async_f(a->b, NULL, writer_fn);
    }
    return NULL;
}

static void test_barrier_of_target_excludes(void)
{
    test_start("barrier_of_target_excludes", 40);
    dispatch_queue_t b, c = make_chain(&b);
    pthread_t th[RW_THREADS];
    struct rw_arg args[RW_THREADS];
    for (int i = 0; i < RW_THREADS; i++) {
        args[i] = (struct rw_arg){ b, c, i };
        CHECK(pthread_create(&th[i], NULL, rw_thread, &args[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < RW_THREADS; i++)
        pthread_join(th[i], NULL);
    dispatch_barrier_sync_f(b, NULL, writer_fn); /* waits for every earlier writer */
    CHECK(atomic_load(&rw_violations) == 0, "%d exclusion violations between readers on c and "
          "barriers on its target b", atomic_load(&rw_violations));
    CHECK(atomic_load(&rw_reads) == RW_THREADS * RW_READS, "%d reads ran, expected %d",
          atomic_load(&rw_reads), RW_THREADS * RW_READS);
    CHECK(atomic_load(&rw_writes) == RW_WRITES + 1, "%d writes ran, expected %d",
          atomic_load(&rw_writes), RW_WRITES + 1);
    CHECK(atomic_load(&rw_max_readers) > 1, "readers on c never overlapped (max %d)",
          atomic_load(&rw_max_readers));
    printf("max readers inside at once: %d of %d threads\n", atomic_load(&rw_max_readers), RW_THREADS);
    dispatch_release(c);
    dispatch_release(b);
    OK("barrier_of_target_excludes");
}

/* ------------------------------------------------------------------ */

static atomic_int bq_running, bq_before_done, bq_after_started_early, bq_barrier_bad;
static atomic_int bq_barrier_done;

static void bq_before(void *ctx)
{
    struct rendezvous *r = ctx;
    atomic_fetch_add(&bq_running, 1);
    rendezvous_fn(r);
    atomic_fetch_add(&bq_before_done, 1);
    atomic_fetch_sub(&bq_running, 1);
}

static void bq_barrier(void *ctx)
{
    UNUSED(ctx);
    if (atomic_load(&bq_running) != 0 || atomic_load(&bq_before_done) != 3)
        atomic_fetch_add(&bq_barrier_bad, 1);
    sleep_ms(20);
    if (atomic_load(&bq_running) != 0)
        atomic_fetch_add(&bq_barrier_bad, 1);
    atomic_store(&bq_barrier_done, 1);
}

static void bq_after(void *ctx)
{
    UNUSED(ctx);
    if (!atomic_load(&bq_barrier_done))
        atomic_fetch_add(&bq_after_started_early, 1);
}

static void test_barrier_of_queue_excludes(void)
{
    test_start("barrier_of_queue_excludes", 20);
    dispatch_queue_t b, c = make_chain(&b);
    struct rendezvous r = { .want = 3 };
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 3; i++)
        dispatch_group_async_f(g, c, &r, bq_before);
    dispatch_barrier_async_f(c, NULL, bq_barrier);
    for (int i = 0; i < 3; i++)
        dispatch_group_async_f(g, c, NULL, bq_after);
    CHECK(group_wait_ms(g, 15000), "items did not finish");
    CHECK(atomic_load(&r.met) == 3, "the 3 items before the barrier did not run in parallel (%d met)",
          atomic_load(&r.met));
    CHECK(atomic_load(&bq_barrier_bad) == 0, "the barrier of c overlapped c's items");
    CHECK(atomic_load(&bq_after_started_early) == 0, "an item after c's barrier started before it ended");
    dispatch_release(g);
    dispatch_release(c);
    dispatch_release(b);
    OK("barrier_of_queue_excludes");
}

/* ------------------------------------------------------------------ */

static atomic_int sl_inside, sl_overlaps, sl_count;

static void sl_fn(void *ctx)
{
    UNUSED(ctx);
    if (atomic_fetch_add(&sl_inside, 1) != 0)
        atomic_fetch_add(&sl_overlaps, 1);
    for (int i = 0; i < 50; i++)
        sched_yield();
    atomic_fetch_add(&sl_count, 1);
    atomic_fetch_sub(&sl_inside, 1);
}

static void *sl_thread(void *p)
{
    for (int i = 0; i < 100; i++)
        dispatch_sync_f((dispatch_queue_t)p, NULL, sl_fn);
    return NULL;
}

static void test_serial_level_still_serialises(void)
{
    test_start("serial_level_still_serialises", 30);
    dispatch_queue_t s = dispatch_queue_create("test.ct.s", DISPATCH_QUEUE_SERIAL);
    dispatch_queue_t c = dispatch_queue_create_with_target("test.ct.cs", DISPATCH_QUEUE_CONCURRENT, s);
    dispatch_group_t g = dispatch_group_create();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, sl_thread, c) == 0, "pthread_create");
    for (int i = 0; i < 400; i++)
        dispatch_group_async_f(g, c, NULL, sl_fn);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(group_wait_ms(g, 20000), "items did not finish");
    CHECK(atomic_load(&sl_overlaps) == 0, "%d overlaps under a serial target", atomic_load(&sl_overlaps));
    CHECK(atomic_load(&sl_count) == 800, "%d of 800 calls ran", atomic_load(&sl_count));
    dispatch_release(g);
    dispatch_release(c);
    dispatch_release(s);
    OK("serial_level_still_serialises");
}

int main(void)
{
    test_sync_width_through_target();
    test_sync_rendezvous();
    test_async_width_through_target();
    test_barrier_of_target_excludes();
    test_barrier_of_queue_excludes();
    test_serial_level_still_serialises();
    return 0;
}
