/*
 * test_serial.c: serial queues.
 *
 *   fifo_multi_producer   4 threads x 10000 dispatch_async_f onto one serial queue: every
 *                         item runs once, and each producer's items run in submission order.
 *   exclusion_one_queue   items of one serial queue never overlap (in-section counter <= 1).
 *   exclusion_shared_target
 *                         4 serial queues (2 made with dispatch_queue_create_with_target,
 *                         2 retargeted with dispatch_set_target_queue) and their serial
 *                         target itself never run two items at once.
 *   sync_on_caller_thread dispatch_sync_f onto a serial queue runs the function on the
 *                         calling thread (main thread and another pthread).
 *   sync_after_busy_asyncs dispatch_sync_f onto a queue busy with async items waits for
 *                         them: it runs after every earlier item (FIFO), and returns.
 *   sync_chain_3          nested dispatch_sync_f across 3 queues runs on the caller's
 *                         thread, innermost first returning, with each queue current.
 *   async_and_wait        dispatch_async_and_wait_f / dispatch_barrier_async_and_wait_f
 *                         run after earlier items, and their effects are visible on return.
 *   sync_contention_target
 *                         4 threads for 1.5 s each pick at random dispatch_sync_f onto a
 *                         serial queue T or dispatch_barrier_sync_f / dispatch_sync_f onto a
 *                         queue targeting T: every call returns (bounded by the watchdog),
 *                         every function ran, and none overlapped.
 */
#include "check.h"

/* ------------------------------------------------------------------ */
/* fifo_multi_producer */

#define PRODUCERS 4
#define PER_PRODUCER 10000

static dispatch_queue_t fifo_q;
static int fifo_next[PRODUCERS];       /* only touched on fifo_q */
static int fifo_bad_order;             /* only touched on fifo_q */
static int fifo_count;                 /* only touched on fifo_q */
static atomic_int fifo_inside;
static atomic_int fifo_overlap;

static void fifo_item(void *ctx)
{
    uintptr_t v = (uintptr_t)ctx;
    int p = (int)(v >> 20), seq = (int)(v & 0xfffff);
    if (atomic_fetch_add(&fifo_inside, 1) != 0)
        atomic_fetch_add(&fifo_overlap, 1);
    if (fifo_next[p] != seq)
        fifo_bad_order++;
    fifo_next[p] = seq + 1;
    fifo_count++;
    atomic_fetch_sub(&fifo_inside, 1);
}

static void *fifo_producer(void *arg)
{
    uintptr_t p = (uintptr_t)arg;
    for (uintptr_t i = 0; i < PER_PRODUCER; i++)
        dispatch_async_f(fifo_q, (void *)((p << 20) | i), fifo_item);
    return NULL;
}

static void signal_sema(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

static void test_fifo_multi_producer(void)
{
    test_start("fifo_multi_producer", 20);
    fifo_q = dispatch_queue_create("test.serial.fifo", DISPATCH_QUEUE_SERIAL);
    CHECK(fifo_q != NULL, "dispatch_queue_create returned NULL");
    pthread_t th[PRODUCERS];
    for (uintptr_t p = 0; p < PRODUCERS; p++)
        CHECK(pthread_create(&th[p], NULL, fifo_producer, (void *)p) == 0, "pthread_create");
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(th[p], NULL);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async_f(fifo_q, done, signal_sema);
    CHECK(sem_wait_ms(done, 10000), "the queue did not drain 40000 items within 10 s (ran %d)", fifo_count);
    CHECK(fifo_count == PRODUCERS * PER_PRODUCER, "ran %d items, expected %d", fifo_count, PRODUCERS * PER_PRODUCER);
    CHECK(fifo_bad_order == 0, "%d items ran out of their producer's order", fifo_bad_order);
    CHECK(atomic_load(&fifo_overlap) == 0, "%d items overlapped", atomic_load(&fifo_overlap));
    for (int p = 0; p < PRODUCERS; p++)
        CHECK(fifo_next[p] == PER_PRODUCER, "producer %d: last item seen %d", p, fifo_next[p] - 1);
    dispatch_release(done);
    dispatch_release(fifo_q);
    OK("fifo_multi_producer");
}

/* ------------------------------------------------------------------ */
/* mutual exclusion */

static atomic_int ex_inside;
static atomic_int ex_max;
static atomic_int ex_ran;

static void ex_item(void *ctx)
{
    UNUSED(ctx);
    int now = atomic_fetch_add(&ex_inside, 1) + 1;
    int m = atomic_load(&ex_max);
    while (now > m && !atomic_compare_exchange_weak(&ex_max, &m, now)) {
    }
    /* stay a little while so that overlapping items would be caught */
    for (volatile int i = 0; i < 2000; i++) {
    }
    if ((atomic_load(&ex_ran) & 63) == 0)
        sched_yield();
    atomic_fetch_add(&ex_ran, 1);
    atomic_fetch_sub(&ex_inside, 1);
}

static dispatch_queue_t ex_targets[5];

static void *ex_submitter(void *arg)
{
    uintptr_t which = (uintptr_t)arg;
    for (int i = 0; i < 500; i++)
        dispatch_async_f(ex_targets[(which + (uintptr_t)i) % 5], NULL, ex_item);
    return NULL;
}

static void test_exclusion_one_queue(void)
{
    test_start("exclusion_one_queue", 20);
    atomic_store(&ex_inside, 0);
    atomic_store(&ex_max, 0);
    atomic_store(&ex_ran, 0);
    dispatch_queue_t q = dispatch_queue_create("test.serial.excl", NULL);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 3000; i++)
        dispatch_group_async_f(g, q, NULL, ex_item);
    CHECK(group_wait_ms(g, 10000), "3000 items did not finish within 10 s (ran %d)", atomic_load(&ex_ran));
    CHECK(atomic_load(&ex_ran) == 3000, "ran %d items", atomic_load(&ex_ran));
    CHECK(atomic_load(&ex_max) == 1, "max items running at once on a serial queue: %d", atomic_load(&ex_max));
    dispatch_release(g);
    dispatch_release(q);
    OK("exclusion_one_queue");
}

static void test_exclusion_shared_target(void)
{
    test_start("exclusion_shared_target", 20);
    atomic_store(&ex_inside, 0);
    atomic_store(&ex_max, 0);
    atomic_store(&ex_ran, 0);
    dispatch_queue_t t = dispatch_queue_create("test.serial.target", DISPATCH_QUEUE_SERIAL);
    ex_targets[0] = t;
    ex_targets[1] = dispatch_queue_create_with_target("test.serial.sub1", DISPATCH_QUEUE_SERIAL, t);
    ex_targets[2] = dispatch_queue_create_with_target("test.serial.sub2", DISPATCH_QUEUE_SERIAL, t);
    ex_targets[3] = dispatch_queue_create("test.serial.sub3", DISPATCH_QUEUE_SERIAL);
    ex_targets[4] = dispatch_queue_create("test.serial.sub4", DISPATCH_QUEUE_SERIAL);
    for (int i = 0; i < 5; i++)
        CHECK(ex_targets[i] != NULL, "queue %d is NULL", i);
    dispatch_set_target_queue(ex_targets[3], t);
    dispatch_set_target_queue(ex_targets[4], t);

    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, ex_submitter, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);

    /* flush each sub-queue, then the target */
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    for (int i = 1; i < 5; i++) {
        dispatch_async_f(ex_targets[i], done, signal_sema);
        CHECK(sem_wait_ms(done, 10000), "queue %d did not drain within 10 s", i);
    }
    dispatch_async_f(t, done, signal_sema);
    CHECK(sem_wait_ms(done, 10000), "the target did not drain within 10 s");
    CHECK(atomic_load(&ex_ran) == 2000, "ran %d items, expected 2000", atomic_load(&ex_ran));
    CHECK(atomic_load(&ex_max) == 1, "max items running at once across queues sharing a serial target: %d",
          atomic_load(&ex_max));
    for (int i = 4; i >= 0; i--)
        dispatch_release(ex_targets[i]);
    dispatch_release(done);
    OK("exclusion_shared_target");
}

/* ------------------------------------------------------------------ */
/* sync on the caller's thread */

struct where {
    pthread_t self;
    pid_t tid;
    dispatch_queue_t current;
    int ran;
};

static void record_where(void *ctx)
{
    struct where *w = ctx;
    w->self = pthread_self();
    w->tid = my_tid();
    w->current = dispatch_get_current_queue();
    w->ran++;
}

static dispatch_queue_t sync_q;

static void *sync_from_thread(void *arg)
{
    struct where *w = arg;
    dispatch_sync_f(sync_q, w, record_where);
    return NULL;
}

static void test_sync_on_caller_thread(void)
{
    test_start("sync_on_caller_thread", 10);
    sync_q = dispatch_queue_create("test.serial.sync", NULL);
    struct where w = { 0 };
    dispatch_sync_f(sync_q, &w, record_where);
    CHECK(w.ran == 1, "the function ran %d times", w.ran);
    CHECK(pthread_equal(w.self, pthread_self()), "dispatch_sync_f ran on another pthread");
    CHECK(w.tid == my_tid(), "dispatch_sync_f ran on tid %d, caller is %d", (int)w.tid, (int)my_tid());

    /* and from a thread that is not the main thread */
    struct where w2 = { 0 };
    pthread_t th;
    CHECK(pthread_create(&th, NULL, sync_from_thread, &w2) == 0, "pthread_create");
    pthread_join(th, NULL);
    CHECK(w2.ran == 1, "the function ran %d times", w2.ran);
    CHECK(pthread_equal(w2.self, th), "dispatch_sync_f from a pthread ran on another thread");
    dispatch_release(sync_q);
    OK("sync_on_caller_thread");
}

/* ------------------------------------------------------------------ */
/* sync after busy asyncs */

static int order_log[64];
static atomic_int order_n;

static void log_item(void *ctx)
{
    int id = (int)(intptr_t)ctx;
    if (id == 0)
        sleep_ms(100); /* the first one keeps the queue busy */
    int n = atomic_fetch_add(&order_n, 1);
    if (n < 64)
        order_log[n] = id;
}

static void test_sync_after_busy_asyncs(void)
{
    test_start("sync_after_busy_asyncs", 10);
    atomic_store(&order_n, 0);
    dispatch_queue_t q = dispatch_queue_create("test.serial.busy", NULL);
    for (intptr_t i = 0; i < 20; i++)
        dispatch_async_f(q, (void *)i, log_item);
    uint64_t t0 = now_ns();
    dispatch_sync_f(q, (void *)(intptr_t)20, log_item);
    uint64_t waited = now_ns() - t0;
    int n = atomic_load(&order_n);
    CHECK(n == 21, "after dispatch_sync_f returned %d items had run, expected 21", n);
    for (int i = 0; i < 21; i++)
        CHECK(order_log[i] == i, "position %d ran item %d", i, order_log[i]);
    CHECK(waited >= 50ull * 1000000ull, "dispatch_sync_f returned after %llu ns, before the busy item finished",
          (unsigned long long)waited);
    dispatch_release(q);
    OK("sync_after_busy_asyncs");
}

/* ------------------------------------------------------------------ */
/* sync chain across 3 queues */

struct chain {
    dispatch_queue_t q[3];
    struct where at[3];
    int order[6];      /* entry/exit order */
    int norder;
};

static void chain_level2(void *ctx)
{
    struct chain *c = ctx;
    c->order[c->norder++] = 2;
    record_where(&c->at[2]);
    c->order[c->norder++] = -2;
}

static void chain_level1(void *ctx)
{
    struct chain *c = ctx;
    c->order[c->norder++] = 1;
    record_where(&c->at[1]);
    dispatch_sync_f(c->q[2], c, chain_level2);
    c->order[c->norder++] = -1;
}

static void chain_level(void *ctx)
{
    struct chain *c = ctx;
    c->order[c->norder++] = 0;
    record_where(&c->at[0]);
    dispatch_sync_f(c->q[1], c, chain_level1);
    c->order[c->norder++] = -100;
}

static void test_sync_chain_3(void)
{
    test_start("sync_chain_3", 10);
    struct chain c;
    memset(&c, 0, sizeof c);
    c.q[0] = dispatch_queue_create("test.serial.chain0", NULL);
    c.q[1] = dispatch_queue_create("test.serial.chain1", NULL);
    c.q[2] = dispatch_queue_create("test.serial.chain2", NULL);
    dispatch_sync_f(c.q[0], &c, chain_level);
    static const int want[6] = { 0, 1, 2, -2, -1, -100 };
    CHECK(c.norder == 6, "%d steps recorded", c.norder);
    for (int i = 0; i < 6; i++)
        CHECK(c.order[i] == want[i], "step %d was %d, expected %d", i, c.order[i], want[i]);
    for (int i = 0; i < 3; i++) {
        CHECK(c.at[i].ran == 1, "level %d ran %d times", i, c.at[i].ran);
        CHECK(c.at[i].tid == my_tid(), "level %d ran on tid %d, not the caller %d", i, (int)c.at[i].tid,
              (int)my_tid());
        CHECK(c.at[i].current == c.q[i], "level %d: dispatch_get_current_queue() is not its queue", i);
    }
    for (int i = 0; i < 3; i++)
        dispatch_release(c.q[i]);
    OK("sync_chain_3");
}

/* ------------------------------------------------------------------ */
/* async_and_wait */

static int aw_value;        /* written inside the items, read after return */
static atomic_int aw_before_done;
static atomic_int aw_running;

static void aw_slow(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&aw_running, 1);
    sleep_ms(5);
    atomic_fetch_add(&aw_before_done, 1);
    atomic_fetch_sub(&aw_running, 1);
}

struct aw_seen {
    int before_done;
    int running;
    int value;
};

static void aw_set(void *ctx)
{
    struct aw_seen *s = ctx;
    s->before_done = atomic_load(&aw_before_done);
    s->running = atomic_load(&aw_running);
    aw_value = s->value;
}

static void test_async_and_wait(void)
{
    test_start("async_and_wait", 10);
    /* serial queue with earlier async items */
    dispatch_queue_t q = dispatch_queue_create("test.serial.aw", NULL);
    atomic_store(&aw_before_done, 0);
    for (int i = 0; i < 10; i++)
        dispatch_async_f(q, NULL, aw_slow);
    struct aw_seen s = { -1, -1, 1234 };
    dispatch_async_and_wait_f(q, &s, aw_set);
    CHECK(aw_value == 1234, "effect of dispatch_async_and_wait_f not visible after return (%d)", aw_value);
    CHECK(s.before_done == 10, "it ran after only %d of the 10 earlier items", s.before_done);

    /* barrier variant on a concurrent queue */
    dispatch_queue_t cq = dispatch_queue_create("test.serial.aw.c", DISPATCH_QUEUE_CONCURRENT);
    atomic_store(&aw_before_done, 0);
    atomic_store(&aw_running, 0);
    for (int i = 0; i < 10; i++)
        dispatch_async_f(cq, NULL, aw_slow);
    struct aw_seen b = { -1, -1, 5678 };
    dispatch_barrier_async_and_wait_f(cq, &b, aw_set);
    CHECK(aw_value == 5678, "effect of dispatch_barrier_async_and_wait_f not visible after return (%d)", aw_value);
    CHECK(b.before_done == 10, "the barrier ran after only %d of the 10 earlier items", b.before_done);
    CHECK(b.running == 0, "%d items ran during the barrier", b.running);

    /* on an idle queue too */
    struct aw_seen c = { -1, -1, 42 };
    dispatch_async_and_wait_f(q, &c, aw_set);
    CHECK(aw_value == 42, "dispatch_async_and_wait_f on an idle queue: effect not visible (%d)", aw_value);
    dispatch_release(cq);
    dispatch_release(q);
    OK("async_and_wait");
}

/* ------------------------------------------------------------------ */
/* sync contention across a target chain */

static dispatch_queue_t sc_t, sc_sub;
static atomic_long sc_calls;
static atomic_long sc_ran;
static atomic_int sc_inside;
static atomic_int sc_overlap;

static void sc_item(void *ctx)
{
    UNUSED(ctx);
    if (atomic_fetch_add(&sc_inside, 1) != 0)
        atomic_fetch_add(&sc_overlap, 1);
    atomic_fetch_add(&sc_ran, 1);
    atomic_fetch_sub(&sc_inside, 1);
}

static void *sc_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1u;
    uint64_t deadline = now_ns() + 1500ull * 1000000ull;
    while (now_ns() < deadline) {
        int r = rand_r(&seed) % 3;
        atomic_fetch_add(&sc_calls, 1);
        if (r == 0)
            dispatch_sync_f(sc_t, NULL, sc_item);
        else if (r == 1)
            dispatch_barrier_sync_f(sc_sub, NULL, sc_item);
        else
            dispatch_sync_f(sc_sub, NULL, sc_item);
    }
    return NULL;
}

static void test_sync_contention_target(void)
{
    test_start("sync_contention_target", 15);
    sc_t = dispatch_queue_create("test.serial.sc.t", NULL);
    sc_sub = dispatch_queue_create_with_target("test.serial.sc.sub", DISPATCH_QUEUE_SERIAL, sc_t);
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, sc_thread, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&sc_ran) == atomic_load(&sc_calls), "%ld sync calls but %ld functions ran",
          atomic_load(&sc_calls), atomic_load(&sc_ran));
    CHECK(atomic_load(&sc_overlap) == 0, "%d overlapping functions on T and a queue targeting it",
          atomic_load(&sc_overlap));
    dispatch_release(sc_sub);
    dispatch_release(sc_t);
    OK("sync_contention_target");
}

int main(void)
{
    test_fifo_multi_producer();
    test_exclusion_one_queue();
    test_exclusion_shared_target();
    test_sync_on_caller_thread();
    test_sync_after_busy_asyncs();
    test_sync_chain_3();
    test_async_and_wait();
    test_sync_contention_target();
    return 0;
}
