/*
 * test_stress.c: a bounded (about 3 s) mixed workload on shared queues.
 *
 * Queues: T (serial), S (serial, target T) and C (concurrent, target T).
 * 4 threads pick operations at random until the time is up: dispatch_async_f,
 * dispatch_group_async_f, dispatch_barrier_async_f, dispatch_sync_f,
 * dispatch_barrier_sync_f, dispatch_async_and_wait_f, and suspend + a few asyncs + resume,
 * on the three queues. Every submitted item has a unique id and marks it when it runs.
 *
 *   every_item_once   when everything has drained (bounded group wait), every id ran
 *                     exactly once, sync calls had run when they returned, and the items of
 *                     S and T (serial, S targeting T) never overlapped.
 */
#include "check.h"

#define THREADS 4
#define MAX_IDS 400000
#define RUN_MS 2500
#define MAX_BACKLOG 20000

enum { Q_T = 0, Q_S = 1, Q_C = 2 };

static dispatch_queue_t queues[3];
static dispatch_group_t group;
static atomic_uchar ran[MAX_IDS];
static atomic_int next_id;
static atomic_int total_ran;
static atomic_int serial_inside;
static atomic_int serial_overlap;
static atomic_int sync_not_done;
static atomic_int ops_done[8];

#define CTX(id, q, leave) ((void *)(((uintptr_t)(id) << 4) | ((uintptr_t)(q) << 1) | (uintptr_t)(leave)))

static void item(void *ctx)
{
    uintptr_t v = (uintptr_t)ctx;
    int id = (int)(v >> 4);
    int q = (int)((v >> 1) & 3);
    bool leave = v & 1;
    bool serial = q != Q_C;
    if (serial && atomic_fetch_add(&serial_inside, 1) != 0)
        atomic_fetch_add(&serial_overlap, 1);
    atomic_fetch_add(&ran[id], 1);
    atomic_fetch_add(&total_ran, 1);
    if (serial)
        atomic_fetch_sub(&serial_inside, 1);
    if (leave)
        dispatch_group_leave(group);
}

static int take_id(void)
{
    int id = atomic_fetch_add(&next_id, 1);
    return id < MAX_IDS ? id : -1;
}

/* async-style submission: the group counts it until it ran */
static bool submit_async(int q, bool barrier)
{
    int id = take_id();
    if (id < 0)
        return false;
    dispatch_group_enter(group);
    if (barrier)
        dispatch_barrier_async_f(queues[q], CTX(id, q, 1), item);
    else
        dispatch_async_f(queues[q], CTX(id, q, 1), item);
    return true;
}

/* sync-style: must have run when the call returns */
static bool submit_sync(int q, int how)
{
    int id = take_id();
    if (id < 0)
        return false;
    if (how == 0)
        dispatch_sync_f(queues[q], CTX(id, q, 0), item);
    else if (how == 1)
        dispatch_barrier_sync_f(queues[q], CTX(id, q, 0), item);
    else
        dispatch_async_and_wait_f(queues[q], CTX(id, q, 0), item);
    if (atomic_load(&ran[id]) != 1)
        atomic_fetch_add(&sync_not_done, 1);
    return true;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 17u;
    uint64_t deadline = now_ns() + (uint64_t)RUN_MS * 1000000ull;
    while (now_ns() < deadline) {
        /* keep the backlog bounded so the final drain is quick */
        while (atomic_load(&next_id) - atomic_load(&total_ran) > MAX_BACKLOG && now_ns() < deadline)
            sleep_ms(1);
        int r = rand_r(&seed);
        int op = r % 10;
        int q = (r / 10) % 3;
        bool more = true;
        switch (op) {
        case 0:
        case 1:
        case 2:
            more = submit_async(q, false);
            break;
        case 3:
            more = submit_async(Q_C, true);
            break;
        case 4: {
            int id = take_id();
            if (id < 0) {
                more = false;
                break;
            }
            dispatch_group_async_f(group, queues[q], CTX(id, q, 0), item);
            break;
        }
        case 5:
        case 6:
            more = submit_sync(q, 0);
            break;
        case 7:
            more = submit_sync(Q_C, 1);
            break;
        case 8:
            more = submit_sync(q, 2);
            break;
        case 9: {
            int sq = (r & 1024) ? Q_S : Q_C;
            dispatch_suspend(queues[sq]);
            for (int i = 0; i < 1 + (r / 30) % 3 && more; i++)
                more = submit_async(sq, false);
            dispatch_resume(queues[sq]);
            break;
        }
        }
        atomic_fetch_add(&ops_done[op % 8], 1);
        if (!more)
            break;
    }
    return NULL;
}

static void test_every_item_once(void)
{
    test_start("every_item_once", 30);
    queues[Q_T] = dispatch_queue_create("stress.T", DISPATCH_QUEUE_SERIAL);
    queues[Q_S] = dispatch_queue_create_with_target("stress.S", DISPATCH_QUEUE_SERIAL, queues[Q_T]);
    queues[Q_C] = dispatch_queue_create_with_target("stress.C", DISPATCH_QUEUE_CONCURRENT, queues[Q_T]);
    group = dispatch_group_create();

    uint64_t t0 = now_ns();
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t submit_ms = (now_ns() - t0) / 1000000ull;

    CHECK(group_wait_ms(group, 15000) == true, "the submitted items did not drain within 15 s (%d of %d ran)",
          atomic_load(&total_ran), atomic_load(&next_id));
    int total = atomic_load(&next_id);
    if (total > MAX_IDS)
        total = MAX_IDS;
    int missing = 0, dup = 0, first_bad = -1;
    for (int i = 0; i < total; i++) {
        int n = atomic_load(&ran[i]);
        if (n != 1 && first_bad < 0)
            first_bad = i;
        if (n == 0)
            missing++;
        else if (n > 1)
            dup++;
    }
    CHECK(missing == 0 && dup == 0, "of %d items %d never ran and %d ran more than once (first bad id %d)", total,
          missing, dup, first_bad);
    CHECK(atomic_load(&total_ran) == total, "%d runs for %d items", atomic_load(&total_ran), total);
    CHECK(atomic_load(&sync_not_done) == 0, "%d sync calls returned before their function ran",
          atomic_load(&sync_not_done));
    CHECK(atomic_load(&serial_overlap) == 0, "items of the serial queues S and T overlapped %d times",
          atomic_load(&serial_overlap));
    CHECK(total > 1000, "only %d items were submitted in %llu ms", total, (unsigned long long)submit_ms);
    printf("# %d items in %llu ms of submitting\n", total, (unsigned long long)submit_ms);

    dispatch_release(group);
    dispatch_release(queues[Q_C]);
    dispatch_release(queues[Q_S]);
    dispatch_release(queues[Q_T]);
    OK("every_item_once");
}

int main(void)
{
    test_every_item_once();
    return 0;
}
