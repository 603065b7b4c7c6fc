/*
 * The asynchronous path (issue 12): work items come from per-thread caches, not from
 * malloc per item; root queues take pushes without a lock and wake workers only when no
 * worker is already searching.
 *
 *   no_malloc_per_item_serial  10,000 dispatch_async_f onto a serial queue, in rounds of
 *                              100 each waited for: fewer than 1,000 calls to malloc in
 *                              the whole process (the old code made one per item)
 *   no_malloc_per_item_group   the same with dispatch_group_async_f onto a global queue
 *   producers_exit             8 threads each submit 2,000 items to a serial queue and to
 *                              a global queue and exit at once (their caches are torn
 *                              down while their items run elsewhere): every item runs
 *                              exactly once, each producer's serial items in order
 *   burst_fans_out             4 items onto a global queue, each waiting until all 4 run:
 *                              a burst pushed while a worker searches still gets a thread
 *                              per item (the searcher passes the wake-up on)
 *
 * malloc is counted by defining malloc here (the executable's definition is the one every
 * library in the process calls), forwarding to glibc's __libc_malloc.
 */
#include "check.h"

extern void *__libc_malloc(size_t);
static atomic_long mallocs;

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&mallocs, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

static atomic_long ran;
static void inc(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
}
static void noop(void *ctx) { UNUSED(ctx); }

static void no_malloc_per_item_serial(void)
{
    test_start("no_malloc_per_item_serial", 30);
    dispatch_queue_t q = dispatch_queue_create("async-path", NULL);
    for (int i = 0; i < 200; i++) dispatch_async_f(q, NULL, inc); // warm-up
    dispatch_sync_f(q, NULL, noop);
    atomic_store(&ran, 0);
    long before = atomic_load(&mallocs);
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 100; i++) dispatch_async_f(q, NULL, inc);
        dispatch_sync_f(q, NULL, noop);
    }
    long calls = atomic_load(&mallocs) - before;
    CHECK(atomic_load(&ran) == 10000, "ran %ld items", atomic_load(&ran));
    CHECK(calls < 1000, "%ld calls to malloc for 10,000 items", calls);
    dispatch_release(q);
    OK("no_malloc_per_item_serial");
}

static void no_malloc_per_item_group(void)
{
    test_start("no_malloc_per_item_group", 30);
    dispatch_queue_t q = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 200; i++) dispatch_group_async_f(g, q, NULL, inc); // warm-up
    CHECK(group_wait_ms(g, 10000), "warm-up items ran");
    atomic_store(&ran, 0);
    long before = atomic_load(&mallocs);
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 100; i++) dispatch_group_async_f(g, q, NULL, inc);
        CHECK(group_wait_ms(g, 10000), "round %d ran", round);
    }
    long calls = atomic_load(&mallocs) - before;
    CHECK(atomic_load(&ran) == 10000, "ran %ld items", atomic_load(&ran));
    CHECK(calls < 1000, "%ld calls to malloc for 10,000 items", calls);
    dispatch_release(g);
    OK("no_malloc_per_item_group");
}

#define PRODUCERS 8
#define PER_PRODUCER 2000

struct producer {
    int id;
    dispatch_queue_t serial;
    dispatch_group_t group;
};

static atomic_int seen[PRODUCERS][PER_PRODUCER];
static int next_expected[PRODUCERS]; // only touched on the serial queue
static atomic_int out_of_order;

static void serial_item(void *ctx)
{
    intptr_t v = (intptr_t)ctx;
    int p = (int)(v / PER_PRODUCER), i = (int)(v % PER_PRODUCER);
    if (next_expected[p] != i) atomic_fetch_add(&out_of_order, 1);
    next_expected[p] = i + 1;
}

static void global_item(void *ctx)
{
    intptr_t v = (intptr_t)ctx;
    atomic_fetch_add(&seen[v / PER_PRODUCER][v % PER_PRODUCER], 1);
}

static void *produce(void *arg)
{
    struct producer *p = arg;
    dispatch_queue_t global = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);
    for (int i = 0; i < PER_PRODUCER; i++) {
        void *ctx = (void *)(intptr_t)(p->id * PER_PRODUCER + i);
        dispatch_async_f(p->serial, ctx, serial_item);
        dispatch_group_async_f(p->group, global, ctx, global_item);
    }
    return NULL; // exits with its items still queued
}

static void producers_exit(void)
{
    test_start("producers_exit", 30);
    dispatch_queue_t serial = dispatch_queue_create("producers", NULL);
    dispatch_group_t g = dispatch_group_create();
    pthread_t t[PRODUCERS];
    struct producer ps[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct producer){ i, serial, g };
        CHECK(pthread_create(&t[i], NULL, produce, &ps[i]) == 0, "thread %d", i);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(t[i], NULL);
    dispatch_sync_f(serial, NULL, noop);
    CHECK(group_wait_ms(g, 20000), "global items ran");
    for (int p = 0; p < PRODUCERS; p++) {
        CHECK(next_expected[p] == PER_PRODUCER, "producer %d: %d serial items", p, next_expected[p]);
        for (int i = 0; i < PER_PRODUCER; i++)
            CHECK(atomic_load(&seen[p][i]) == 1, "item %d of producer %d ran %d times", i, p, atomic_load(&seen[p][i]));
    }
    CHECK(atomic_load(&out_of_order) == 0, "%d serial items out of their producer's order", atomic_load(&out_of_order));
    dispatch_release(g);
    dispatch_release(serial);
    OK("producers_exit");
}

#define BURST 4
static atomic_int arrived, timed_out;

static void rendezvous(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&arrived, 1);
    uint64_t deadline = now_ns() + 10ull * 1000000000ull;
    while (atomic_load(&arrived) < BURST) {
        if (now_ns() > deadline) {
            atomic_fetch_add(&timed_out, 1);
            return;
        }
        usleep(100);
    }
}

static void burst_fans_out(void)
{
    test_start("burst_fans_out", 30);
    dispatch_queue_t q = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);
    dispatch_group_t g = dispatch_group_create();
    // A worker that just ran something spins for work: the burst arrives while it searches.
    dispatch_group_async_f(g, q, NULL, noop);
    CHECK(group_wait_ms(g, 10000), "first item ran");
    for (int i = 0; i < BURST; i++) dispatch_group_async_f(g, q, NULL, rendezvous);
    CHECK(group_wait_ms(g, 20000), "burst ran");
    CHECK(atomic_load(&timed_out) == 0, "%d of %d items never saw all %d running at once",
          atomic_load(&timed_out), BURST, BURST);
    dispatch_release(g);
    OK("burst_fans_out");
}

int main(void)
{
    no_malloc_per_item_serial();
    no_malloc_per_item_group();
    producers_exit();
    burst_fans_out();
    return 0;
}
