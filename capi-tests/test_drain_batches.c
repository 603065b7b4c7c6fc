/*
 * A serial queue's drain and the pool (issue 12, async to a serial queue): a drain runs its
 * items in batches, and between batches it keeps its worker unless other work waits on a
 * root queue. Handing the queue back to its root list with nothing else waiting made it
 * hop to another worker every 128 items (a searching worker took it), and the idle worker
 * spun beside the producer and the drainer.
 *
 *   one_worker_per_drain   10 rounds: 20,000 items queued on a suspended serial queue, then
 *                          resumed: they run in order, all on one thread (the old code
 *                          moved the queue to another worker in most rounds)
 *   other_work_still_runs  while a serial queue works through 20,000 items that each
 *                          spin ~5 us (100 ms), 100 items sent to the global queue all
 *                          run before it has finished: a drain that keeps its worker
 *                          does not keep the pool from other work (with one CPU, one
 *                          worker: the drain hands the queue back at its next batch,
 *                          behind the global items on the same root list). Run twice:
 *                          first in a forked child bound to one CPU (before the parent
 *                          uses the library), then with every CPU
 */
#include "check.h"

#define N 20000

static pid_t ran_on[N];
static atomic_long next_index;
static atomic_long out_of_order;

static void record(void *ctx)
{
    long i = (long)(intptr_t)ctx;
    if (atomic_fetch_add_explicit(&next_index, 1, memory_order_relaxed) != i)
        atomic_fetch_add_explicit(&out_of_order, 1, memory_order_relaxed);
    ran_on[i] = my_tid();
}

static void noop(void *ctx) { UNUSED(ctx); }

static void one_worker_per_drain(void)
{
    test_start("one_worker_per_drain", 30);
    dispatch_queue_t q = dispatch_queue_create("drain-batches", NULL);
    // Warm-up: the pool starts its workers.
    for (long i = 0; i < 1000; i++) dispatch_async_f(q, NULL, noop);
    dispatch_sync_f(q, NULL, noop);

    for (int round = 0; round < 10; round++) {
        atomic_store(&next_index, 0);
        dispatch_suspend(q);
        for (long i = 0; i < N; i++) dispatch_async_f(q, (void *)(intptr_t)i, record);
        dispatch_resume(q);
        dispatch_sync_f(q, NULL, noop);

        CHECK(atomic_load(&next_index) == N, "%ld items ran, expected %d", atomic_load(&next_index), N);
        CHECK(atomic_load(&out_of_order) == 0, "%ld items out of order", atomic_load(&out_of_order));
        int hops = 0;
        for (long i = 1; i < N; i++) hops += ran_on[i] != ran_on[i - 1];
        CHECK(hops == 0, "round %d: the queue moved between threads %d times while nothing else waited",
              round, hops);
    }
    dispatch_release(q);
    OK("one_worker_per_drain");
}

static atomic_long busy_done;

static void busy_item(void *ctx)
{
    UNUSED(ctx);
    uint64_t until = now_ns() + 5000;
    while (now_ns() < until) {
    }
    atomic_fetch_add(&busy_done, 1);
}

static void other_item(void *ctx) { UNUSED(ctx); }

static void other_work_still_runs(void)
{
    test_start("other_work_still_runs", 60);
    dispatch_queue_t g = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    // On the global queue's own root list (a serial queue's default target is the
    // overcommit list, which a single worker would serve first however it yields).
    dispatch_queue_t q = dispatch_queue_create("drain-busy", NULL);
    dispatch_set_target_queue(q, g);
    dispatch_suspend(q);
    for (long i = 0; i < N; i++) dispatch_async_f(q, NULL, busy_item);
    dispatch_resume(q);
    while (atomic_load(&busy_done) == 0) sched_yield(); // the drain has started
    dispatch_group_t group = dispatch_group_create();
    for (int i = 0; i < 100; i++) dispatch_group_async_f(group, g, NULL, other_item);
    CHECK(dispatch_group_wait(group, in_ms(10000)) == 0, "the global items did not run within 10 s");
    long busy = atomic_load(&busy_done);
    CHECK(busy < N, "the global items waited until the busy queue (%d items of ~5 us) had finished", N);
    dispatch_sync_f(q, NULL, noop);
    CHECK(atomic_load(&busy_done) == N, "%ld busy items ran", atomic_load(&busy_done));
    dispatch_release(group);
    dispatch_release(q);
    OK("other_work_still_runs");
}

/* Runs `fn` in a forked child bound to one CPU, before this process used the library: the
 * child's pool sees one CPU and has one worker, so only the drain's hand-back lets the
 * other items run. */
static void on_one_cpu(void (*fn)(void), const char *name)
{
    test_start(name, 60);
    in_one_cpu_child(fn);
}

int main(void)
{
    on_one_cpu(other_work_still_runs, "other_work_still_runs (one CPU)");
    one_worker_per_drain();
    other_work_still_runs();
    return 0;
}
