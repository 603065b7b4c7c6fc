/*
 * test_suspend.c: dispatch_suspend / dispatch_resume, inactive queues, dispatch_activate.
 *
 *   suspend_blocks_items   items submitted to a suspended queue (serial and concurrent) do
 *                          not start; after dispatch_resume they all run, in FIFO order on
 *                          the serial queue.
 *   suspend_running_item   suspending while an item runs does not interrupt it, but the next
 *                          item waits for the resume.
 *   nested_suspend         two suspends need two resumes.
 *   suspend_target         items of a queue whose target queue is suspended do not run until
 *                          the target is resumed.
 *   inactive_until_activate a queue made with dispatch_queue_attr_make_initially_inactive
 *                          (serial and concurrent) runs nothing until dispatch_activate,
 *                          then runs everything in order; activating again is harmless.
 *   inactive_set_target    dispatch_set_target_queue on an inactive queue takes effect once
 *                          it is activated (specific values and suspension of the new target
 *                          apply to it).
 */
#include "check.h"

static atomic_int ran;
static int order_log[256];
static atomic_int order_n;

static void count_item(void *ctx)
{
    int id = (int)(intptr_t)ctx;
    int n = atomic_fetch_add(&order_n, 1);
    if (n < 256)
        order_log[n] = id;
    atomic_fetch_add(&ran, 1);
}

static void reset_counts(void)
{
    atomic_store(&ran, 0);
    atomic_store(&order_n, 0);
    memset(order_log, 0xff, sizeof order_log);
}

static void signal_sema(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

/* wait until `ran` reaches n, at most ms milliseconds */
static bool wait_ran(int n, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(&ran) < n && now_ns() < deadline)
        sleep_ms(1);
    return atomic_load(&ran) >= n;
}

/* ------------------------------------------------------------------ */

static void suspend_blocks_on(dispatch_queue_t q, bool fifo)
{
    reset_counts();
    dispatch_suspend(q);
    for (intptr_t i = 0; i < 10; i++)
        dispatch_async_f(q, (void *)i, count_item);
    sleep_ms(150);
    CHECK(atomic_load(&ran) == 0, "%d items ran on a suspended queue", atomic_load(&ran));
    dispatch_resume(q);
    CHECK(wait_ran(10, 3000), "only %d of 10 items ran within 3 s of dispatch_resume", atomic_load(&ran));
    if (fifo)
        for (int i = 0; i < 10; i++)
            CHECK(order_log[i] == i, "position %d ran item %d", i, order_log[i]);
}

static void test_suspend_blocks_items(void)
{
    test_start("suspend_blocks_items", 10);
    dispatch_queue_t q = dispatch_queue_create("test.suspend.serial", NULL);
    suspend_blocks_on(q, true);
    dispatch_queue_t cq = dispatch_queue_create("test.suspend.conc", DISPATCH_QUEUE_CONCURRENT);
    suspend_blocks_on(cq, false);
    dispatch_release(cq);
    dispatch_release(q);
    OK("suspend_blocks_items");
}

/* ------------------------------------------------------------------ */

struct gate {
    dispatch_semaphore_t started;
    dispatch_semaphore_t release;
    atomic_int finished;
};

static void gated_item(void *ctx)
{
    struct gate *g = ctx;
    dispatch_semaphore_signal(g->started);
    dispatch_semaphore_wait(g->release, in_ms(5000));
    atomic_store(&g->finished, 1);
}

static void test_suspend_running_item(void)
{
    test_start("suspend_running_item", 10);
    reset_counts();
    dispatch_queue_t q = dispatch_queue_create("test.suspend.running", NULL);
    struct gate g = { dispatch_semaphore_create(0), dispatch_semaphore_create(0), 0 };
    dispatch_async_f(q, &g, gated_item);
    CHECK(sem_wait_ms(g.started, 3000), "the first item did not start");
    dispatch_suspend(q);
    dispatch_async_f(q, (void *)1, count_item);
    dispatch_semaphore_signal(g.release);
    uint64_t deadline = now_ns() + 3000ull * 1000000ull;
    while (!atomic_load(&g.finished) && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&g.finished), "the running item did not finish after the queue was suspended");
    sleep_ms(150);
    CHECK(atomic_load(&ran) == 0, "the next item ran although the queue is suspended");
    dispatch_resume(q);
    CHECK(wait_ran(1, 3000), "the next item did not run after dispatch_resume");
    dispatch_release(g.started);
    dispatch_release(g.release);
    dispatch_release(q);
    OK("suspend_running_item");
}

/* ------------------------------------------------------------------ */

static void test_nested_suspend(void)
{
    test_start("nested_suspend", 10);
    reset_counts();
    dispatch_queue_t q = dispatch_queue_create("test.suspend.nested", NULL);
    dispatch_suspend(q);
    dispatch_suspend(q);
    for (intptr_t i = 0; i < 5; i++)
        dispatch_async_f(q, (void *)i, count_item);
    dispatch_resume(q);
    sleep_ms(150);
    CHECK(atomic_load(&ran) == 0, "%d items ran after one resume of a twice-suspended queue", atomic_load(&ran));
    dispatch_resume(q);
    CHECK(wait_ran(5, 3000), "only %d of 5 items ran after the second resume", atomic_load(&ran));
    for (int i = 0; i < 5; i++)
        CHECK(order_log[i] == i, "position %d ran item %d", i, order_log[i]);
    dispatch_release(q);
    OK("nested_suspend");
}

/* ------------------------------------------------------------------ */

static void test_suspend_target(void)
{
    test_start("suspend_target", 10);
    reset_counts();
    dispatch_queue_t t = dispatch_queue_create("test.suspend.target", NULL);
    dispatch_queue_t q = dispatch_queue_create_with_target("test.suspend.sub", NULL, t);
    dispatch_suspend(t);
    for (intptr_t i = 0; i < 5; i++)
        dispatch_async_f(q, (void *)i, count_item);
    sleep_ms(150);
    CHECK(atomic_load(&ran) == 0, "%d items of a queue ran while its target was suspended", atomic_load(&ran));
    dispatch_resume(t);
    CHECK(wait_ran(5, 3000), "only %d of 5 items ran after the target was resumed", atomic_load(&ran));
    for (int i = 0; i < 5; i++)
        CHECK(order_log[i] == i, "position %d ran item %d", i, order_log[i]);
    dispatch_release(q);
    dispatch_release(t);
    OK("suspend_target");
}

/* ------------------------------------------------------------------ */

static void inactive_on(dispatch_queue_attr_t base, bool fifo)
{
    reset_counts();
    dispatch_queue_attr_t attr = dispatch_queue_attr_make_initially_inactive(base);
    CHECK(attr != NULL, "dispatch_queue_attr_make_initially_inactive returned NULL");
    dispatch_queue_t q = dispatch_queue_create("test.suspend.inactive", attr);
    CHECK(q != NULL, "dispatch_queue_create with an inactive attribute returned NULL");
    for (intptr_t i = 0; i < 10; i++)
        dispatch_async_f(q, (void *)i, count_item);
    sleep_ms(150);
    CHECK(atomic_load(&ran) == 0, "%d items ran on a queue that was never activated", atomic_load(&ran));
    dispatch_activate(q);
    CHECK(wait_ran(10, 3000), "only %d of 10 items ran after dispatch_activate", atomic_load(&ran));
    if (fifo)
        for (int i = 0; i < 10; i++)
            CHECK(order_log[i] == i, "position %d ran item %d", i, order_log[i]);
    /* activating an active queue has no effect; the queue goes on working */
    dispatch_activate(q);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async_f(q, done, signal_sema);
    CHECK(sem_wait_ms(done, 3000), "the queue stopped working after a second dispatch_activate");
    dispatch_release(done);
    dispatch_release(q);
}

static void test_inactive_until_activate(void)
{
    test_start("inactive_until_activate", 10);
    inactive_on(DISPATCH_QUEUE_SERIAL, true);
    inactive_on(DISPATCH_QUEUE_CONCURRENT, false);
    OK("inactive_until_activate");
}

/* ------------------------------------------------------------------ */

static char key_tag;

struct spec_seen {
    void *value;
    dispatch_semaphore_t done;
};

static void read_specific(void *ctx)
{
    struct spec_seen *s = ctx;
    s->value = dispatch_get_specific(&key_tag);
    atomic_fetch_add(&ran, 1);
    dispatch_semaphore_signal(s->done);
}

static void test_inactive_set_target(void)
{
    test_start("inactive_set_target", 10);
    reset_counts();
    dispatch_queue_t t = dispatch_queue_create("test.suspend.newtarget", NULL);
    dispatch_queue_set_specific(t, &key_tag, (void *)0x7a7a, NULL);
    dispatch_queue_t q = dispatch_queue_create("test.suspend.retarget",
                                               dispatch_queue_attr_make_initially_inactive(DISPATCH_QUEUE_SERIAL));
    struct spec_seen s = { (void *)1, dispatch_semaphore_create(0) };
    dispatch_async_f(q, &s, read_specific);
    dispatch_set_target_queue(q, t);
    dispatch_suspend(t);
    dispatch_activate(q);
    CHECK(!sem_wait_ms(s.done, 150), "an item ran although the new target queue is suspended");
    dispatch_resume(t);
    CHECK(sem_wait_ms(s.done, 3000), "the item did not run after activation and resume of the target");
    CHECK(s.value == (void *)0x7a7a, "dispatch_get_specific in the item gave %p, not the new target's value", s.value);
    dispatch_release(s.done);
    dispatch_release(q);
    dispatch_release(t);
    OK("inactive_set_target");
}

int main(void)
{
    test_suspend_blocks_items();
    test_suspend_running_item();
    test_nested_suspend();
    test_suspend_target();
    test_inactive_until_activate();
    test_inactive_set_target();
    return 0;
}
