/*
 * test_concurrent.c: concurrent queues and barriers.
 *
 *   parallel_rendezvous    two items of one concurrent queue run at the same time: each
 *                          waits (bounded, 3 s) until both have started.
 *   sync_runs_alongside    a dispatch_sync_f onto a concurrent queue runs while an earlier
 *                          async item of that queue is still running (it releases it).
 *   barrier_async_excludes for several rounds of items / barrier / items: no item runs
 *                          during a barrier, every item submitted before a barrier has
 *                          finished when it starts, and every item submitted after it starts
 *                          after it finished.
 *   sync_to_serial_from_concurrent
 *                          items of a concurrent queue dispatch_sync_f onto one serial
 *                          queue: every call runs once and those functions never overlap.
 *   barrier_sync           dispatch_barrier_sync_f waits for earlier items, runs alone,
 *                          and its effect is visible when it returns.
 */
#include "check.h"

static void signal_sema(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

/* ------------------------------------------------------------------ */

static atomic_int rv_started;
static atomic_int rv_saw_both;

static void rendezvous_item(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&rv_started, 1);
    uint64_t deadline = now_ns() + 3ull * 1000000000ull;
    while (atomic_load(&rv_started) < 2 && now_ns() < deadline)
        sleep_ms(1);
    if (atomic_load(&rv_started) >= 2)
        atomic_fetch_add(&rv_saw_both, 1);
}

static void test_parallel_rendezvous(void)
{
    test_start("parallel_rendezvous", 10);
    dispatch_queue_t cq = dispatch_queue_create("test.conc.rv", DISPATCH_QUEUE_CONCURRENT);
    CHECK(cq != NULL, "dispatch_queue_create returned NULL");
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_async_f(g, cq, NULL, rendezvous_item);
    dispatch_group_async_f(g, cq, NULL, rendezvous_item);
    CHECK(group_wait_ms(g, 8000), "the two items did not finish within 8 s");
    CHECK(atomic_load(&rv_saw_both) == 2,
          "only %d of 2 items saw the other one running: the concurrent queue ran them one at a time",
          atomic_load(&rv_saw_both));
    dispatch_release(g);
    dispatch_release(cq);
    OK("parallel_rendezvous");
}

/* ------------------------------------------------------------------ */

static atomic_int sa_flag;
static atomic_int sa_saw_flag;

static void sa_waiter(void *ctx)
{
    UNUSED(ctx);
    uint64_t deadline = now_ns() + 3ull * 1000000000ull;
    while (!atomic_load(&sa_flag) && now_ns() < deadline)
        sleep_ms(1);
    atomic_store(&sa_saw_flag, atomic_load(&sa_flag));
}

static void sa_setter(void *ctx)
{
    UNUSED(ctx);
    atomic_store(&sa_flag, 1);
}

static void test_sync_runs_alongside(void)
{
    test_start("sync_runs_alongside", 10);
    dispatch_queue_t cq = dispatch_queue_create("test.conc.sa", DISPATCH_QUEUE_CONCURRENT);
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_async_f(g, cq, NULL, sa_waiter);
    sleep_ms(20); /* let the waiter start */
    dispatch_sync_f(cq, NULL, sa_setter);
    CHECK(group_wait_ms(g, 5000), "the waiting item did not finish");
    CHECK(atomic_load(&sa_saw_flag) == 1,
          "the sync item ran only after the running async item gave up: not concurrent");
    dispatch_release(g);
    dispatch_release(cq);
    OK("sync_runs_alongside");
}

/* ------------------------------------------------------------------ */

#define ROUNDS 4
#define PER_SIDE 40

static atomic_int bx_running;        /* normal items running now */
static atomic_int bx_finished;       /* normal items finished (all rounds) */
static atomic_int bx_barrier_active;
static atomic_int bx_barriers_done;
static atomic_int bx_violations;
static char bx_errmsg[256];

static void bx_note(const char *msg)
{
    if (atomic_fetch_add(&bx_violations, 1) == 0)
        snprintf(bx_errmsg, sizeof bx_errmsg, "%s", msg);
}

/* ctx = round number this item belongs to (items of round r are submitted after barrier r-1
 * and before barrier r) */
static void bx_item(void *ctx)
{
    int round = (int)(intptr_t)ctx;
    atomic_fetch_add(&bx_running, 1);
    if (atomic_load(&bx_barrier_active))
        bx_note("an item started while a barrier was running");
    if (atomic_load(&bx_barriers_done) != round)
        bx_note("an item started before the barrier preceding it finished, or after the next one");
    for (volatile int i = 0; i < 20000; i++) {
    }
    if (atomic_load(&bx_barrier_active))
        bx_note("a barrier ran while an item was running");
    atomic_fetch_add(&bx_finished, 1);
    atomic_fetch_sub(&bx_running, 1);
}

struct bx_barrier_ctx {
    int round;
    dispatch_group_t group;
};

static void bx_barrier(void *ctx)
{
    struct bx_barrier_ctx *b = ctx;
    int round = b->round;
    atomic_store(&bx_barrier_active, 1);
    if (atomic_load(&bx_running) != 0)
        bx_note("a barrier started while items were running");
    if (atomic_load(&bx_finished) != (round + 1) * PER_SIDE)
        bx_note("a barrier started before every earlier item finished");
    sleep_ms(2);
    if (atomic_load(&bx_running) != 0)
        bx_note("an item ran during a barrier");
    atomic_store(&bx_barrier_active, 0);
    atomic_fetch_add(&bx_barriers_done, 1);
    dispatch_group_leave(b->group);
}

static void test_barrier_async_excludes(void)
{
    test_start("barrier_async_excludes", 15);
    dispatch_queue_t cq = dispatch_queue_create("test.conc.barrier", DISPATCH_QUEUE_CONCURRENT);
    dispatch_group_t g = dispatch_group_create();
    static struct bx_barrier_ctx barriers[ROUNDS];
    for (intptr_t r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_SIDE; i++)
            dispatch_group_async_f(g, cq, (void *)r, bx_item);
        barriers[r].round = (int)r;
        barriers[r].group = g;
        dispatch_group_enter(g);
        dispatch_barrier_async_f(cq, &barriers[r], bx_barrier);
    }
    for (int i = 0; i < PER_SIDE; i++)
        dispatch_group_async_f(g, cq, (void *)(intptr_t)ROUNDS, bx_item);
    CHECK(group_wait_ms(g, 10000), "items and barriers did not finish within 10 s");
    CHECK(atomic_load(&bx_violations) == 0, "%d violations, first: %s", atomic_load(&bx_violations), bx_errmsg);
    CHECK(atomic_load(&bx_barriers_done) == ROUNDS, "%d barriers ran", atomic_load(&bx_barriers_done));
    CHECK(atomic_load(&bx_finished) == (ROUNDS + 1) * PER_SIDE, "%d items ran", atomic_load(&bx_finished));
    dispatch_release(g);
    dispatch_release(cq);
    OK("barrier_async_excludes");
}

/* ------------------------------------------------------------------ */

static dispatch_queue_t ss_serial;
static int ss_count;          /* only changed inside ss_serial */
static atomic_int ss_inside;
static atomic_int ss_overlap;

static void ss_inner(void *ctx)
{
    UNUSED(ctx);
    if (atomic_fetch_add(&ss_inside, 1) != 0)
        atomic_fetch_add(&ss_overlap, 1);
    int v = ss_count;
    for (volatile int i = 0; i < 500; i++) {
    }
    ss_count = v + 1;
    atomic_fetch_sub(&ss_inside, 1);
}

static void ss_outer(void *ctx)
{
    UNUSED(ctx);
    dispatch_sync_f(ss_serial, NULL, ss_inner);
}

static void test_sync_to_serial_from_concurrent(void)
{
    test_start("sync_to_serial_from_concurrent", 15);
    dispatch_queue_t cq = dispatch_queue_create("test.conc.outer", DISPATCH_QUEUE_CONCURRENT);
    ss_serial = dispatch_queue_create("test.conc.inner", NULL);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 1000; i++)
        dispatch_group_async_f(g, cq, NULL, ss_outer);
    CHECK(group_wait_ms(g, 10000), "items did not finish within 10 s");
    CHECK(ss_count == 1000, "counter is %d, expected 1000 (lost updates or missing calls)", ss_count);
    CHECK(atomic_load(&ss_overlap) == 0, "%d overlapping sync calls on a serial queue", atomic_load(&ss_overlap));
    dispatch_release(g);
    dispatch_release(ss_serial);
    dispatch_release(cq);
    OK("sync_to_serial_from_concurrent");
}

/* ------------------------------------------------------------------ */

static atomic_int bs_running;
static atomic_int bs_done;

static void bs_item(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&bs_running, 1);
    sleep_ms(3);
    atomic_fetch_add(&bs_done, 1);
    atomic_fetch_sub(&bs_running, 1);
}

struct bs_seen {
    int done_at_start;
    int running_at_start;
    int running_at_end;
    int value;
};

static void bs_barrier(void *ctx)
{
    struct bs_seen *s = ctx;
    s->done_at_start = atomic_load(&bs_done);
    s->running_at_start = atomic_load(&bs_running);
    sleep_ms(10);
    s->running_at_end = atomic_load(&bs_running);
    s->value = 99;
}

static void test_barrier_sync(void)
{
    test_start("barrier_sync", 10);
    dispatch_queue_t cq = dispatch_queue_create("test.conc.bsync", DISPATCH_QUEUE_CONCURRENT);
    for (int i = 0; i < 20; i++)
        dispatch_async_f(cq, NULL, bs_item);
    struct bs_seen s = { -1, -1, -1, 0 };
    dispatch_barrier_sync_f(cq, &s, bs_barrier);
    CHECK(s.value == 99, "the barrier's effect is not visible after dispatch_barrier_sync_f returned");
    CHECK(s.done_at_start == 20, "the barrier started after only %d of 20 earlier items", s.done_at_start);
    CHECK(s.running_at_start == 0 && s.running_at_end == 0, "items ran during the barrier (%d at start, %d at end)",
          s.running_at_start, s.running_at_end);

    /* the queue still works afterwards, concurrently */
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async_f(cq, done, signal_sema);
    CHECK(sem_wait_ms(done, 3000), "an item after the barrier did not run");
    dispatch_release(done);
    dispatch_release(cq);
    OK("barrier_sync");
}

int main(void)
{
    test_parallel_rendezvous();
    test_sync_runs_alongside();
    test_barrier_async_excludes();
    test_sync_to_serial_from_concurrent();
    test_barrier_sync();
    return 0;
}
