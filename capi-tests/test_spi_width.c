/*
 * dispatch_queue_set_width (private SPI): the legacy concurrency limit of a concurrent
 * queue, effective for items submitted after the call.
 */
#include "check.h"
#include <dispatch/private.h>

static atomic_int running, max_running, next_index;
static int order[200];

static void count_in(void *ctxt)
{
    int idx = (int)(intptr_t)ctxt;
    int now = atomic_fetch_add(&running, 1) + 1;
    int seen = atomic_load(&max_running);
    while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now)) {
    }
    order[atomic_fetch_add(&next_index, 1)] = idx;
    usleep(200); /* long enough for other workers to start items if the limit allowed */
    atomic_fetch_sub(&running, 1);
}

static int run_items(dispatch_queue_t q, int n)
{
    atomic_store(&running, 0);
    atomic_store(&max_running, 0);
    atomic_store(&next_index, 0);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < n; i++) {
        dispatch_group_async_f(g, q, (void *)(intptr_t)i, count_in);
    }
    CHECK(group_wait_ms(g, 20000), "items did not finish");
    dispatch_release(g);
    return atomic_load(&max_running);
}

static dispatch_semaphore_t rendezvous_a, rendezvous_b;
static atomic_int met;

static void meet_a(void *ctxt)
{
    UNUSED(ctxt);
    dispatch_semaphore_signal(rendezvous_a);
    if (sem_wait_ms(rendezvous_b, 10000)) atomic_fetch_add(&met, 1);
}

static void meet_b(void *ctxt)
{
    UNUSED(ctxt);
    dispatch_semaphore_signal(rendezvous_b);
    if (sem_wait_ms(rendezvous_a, 10000)) atomic_fetch_add(&met, 1);
}

static void set_width_on_serial(void)
{
    dispatch_queue_t q = dispatch_queue_create("serial", NULL);
    dispatch_queue_set_width(q, 4);
}

static dispatch_queue_t narrow_q;

static void sync_noop(void *ctxt) { UNUSED(ctxt); }

static void sync_onto_own_narrow_queue(void *ctxt)
{
    UNUSED(ctxt);
    dispatch_sync_f(narrow_q, NULL, sync_noop);
}

static void sync_onto_narrow_queue_from_inside(void)
{
    narrow_q = dispatch_queue_create("narrow", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_width(narrow_q, 1);
    dispatch_sync_f(narrow_q, NULL, sync_onto_own_narrow_queue);
}

int main(void)
{
    /* The forked children need a parent that has not started threads yet. */
    test_start("a serial queue's width cannot be set", 15);
    CHECK(expect_abort(set_width_on_serial, "Cannot set width of a serial queue"), "no abort");
    OK("a serial queue's width cannot be set");

    test_start("sync onto a width-1 queue from its own item is a deadlock", 15);
    CHECK(expect_abort(sync_onto_narrow_queue_from_inside, "already owned by current thread"), "no abort");
    OK("sync onto a width-1 queue from its own item is a deadlock");

    test_start("width 2 never runs more than 2 items at once", 30);
    dispatch_queue_t q = dispatch_queue_create("w2", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_width(q, 2);
    int max = run_items(q, 200);
    CHECK(max >= 1 && max <= 2, "max running %d", max);
    OK("width 2 never runs more than 2 items at once");

    test_start("width 1 serialises a concurrent queue in FIFO order", 30);
    dispatch_queue_set_width(q, 1);
    max = run_items(q, 100);
    CHECK(max == 1, "max running %d", max);
    for (int i = 0; i < 100; i++) CHECK(order[i] == i, "item %d ran at position %d", order[i], i);
    OK("width 1 serialises a concurrent queue in FIFO order");

    test_start("width 0 is width 1", 30);
    dispatch_queue_set_width(q, 4);
    dispatch_queue_set_width(q, 0);
    max = run_items(q, 50);
    CHECK(max == 1, "max running %d", max);
    OK("width 0 is width 1");

    if (sysconf(_SC_NPROCESSORS_CONF) >= 2) {
        test_start("MAX_LOGICAL_CPUS lets two items meet", 30);
        dispatch_queue_set_width(q, DISPATCH_QUEUE_WIDTH_MAX_LOGICAL_CPUS);
        rendezvous_a = dispatch_semaphore_create(0);
        rendezvous_b = dispatch_semaphore_create(0);
        dispatch_group_t g = dispatch_group_create();
        dispatch_group_async_f(g, q, NULL, meet_a);
        dispatch_group_async_f(g, q, NULL, meet_b);
        CHECK(group_wait_ms(g, 20000), "rendezvous items did not finish");
        CHECK(atomic_load(&met) == 2, "the two items did not run at the same time (%d met)", atomic_load(&met));
        dispatch_release(g);
        OK("MAX_LOGICAL_CPUS lets two items meet");
    }

    test_start("global queues ignore the width", 10);
    dispatch_queue_set_width(dispatch_get_global_queue(0, 0), 1);
    max = run_items(dispatch_get_global_queue(0, 0), 4);
    CHECK(max >= 1, "items ran");
    OK("global queues ignore the width");

    dispatch_release(q);
    return 0;
}
