/*
 * test_source_suspend_target.c: suspending a source's target queue from inside the
 * source's handler stops the next handler until the queue is resumed (suspension takes
 * effect when the running item returns, for source handlers as for any item).
 *
 *   data_handler_suspends   a DATA_ADD source whose handler suspends its queue: data
 *                           merged afterwards is not delivered while the queue stays
 *                           suspended (200 ms), and is delivered, once, after resume.
 *   timer_handler_suspends  a 100 ns repeating timer whose handler suspends its queue on
 *                           the first call: the handler has run exactly once after 200 ms;
 *                           after resume it runs again and reports the missed fires.
 *   nested_target           the same through a chain: the source targets serial q1, which
 *                           targets serial q2; the handler suspends q2.
 */
#include "check.h"

struct ctx {
    dispatch_queue_t suspend_me;
    dispatch_source_t src;
    atomic_int calls;
    atomic_ulong last_data;
    atomic_int suspended;
};

static void suspending_handler(void *p)
{
    struct ctx *c = p;
    atomic_store(&c->last_data, dispatch_source_get_data(c->src));
    if (atomic_fetch_add(&c->calls, 1) == 0) {
        dispatch_suspend(c->suspend_me);
        atomic_store(&c->suspended, 1);
        /* Stay inside long enough for the next event to be queued behind this delivery. */
        sleep_ms(30);
    }
}

static void wait_for_calls(struct ctx *c, int n, const char *what)
{
    uint64_t deadline = now_ns() + 5ull * 1000000000ull;
    while (atomic_load(&c->calls) < n && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&c->calls) >= n, "%s: the handler ran %d times, expected %d", what,
          atomic_load(&c->calls), n);
}

static void run_data_case(dispatch_queue_t target, dispatch_queue_t suspend_me, const char *name)
{
    struct ctx c = { .suspend_me = suspend_me };
    c.src = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, target);
    CHECK(c.src != NULL, "dispatch_source_create");
    dispatch_set_context(c.src, &c);
    dispatch_source_set_event_handler_f(c.src, suspending_handler);
    dispatch_activate(c.src);
    dispatch_source_merge_data(c.src, 1);
    wait_for_calls(&c, 1, name);
    while (!atomic_load(&c.suspended))
        sleep_ms(1);
    for (int i = 0; i < 10; i++) { /* the first of these arrives while the handler runs */
        dispatch_source_merge_data(c.src, 2);
        sleep_ms(20);
    }
    CHECK(atomic_load(&c.calls) == 1, "%s: the handler ran %d times while its queue was suspended",
          name, atomic_load(&c.calls));
    dispatch_resume(suspend_me);
    wait_for_calls(&c, 2, name);
    sleep_ms(50);
    CHECK(atomic_load(&c.calls) == 2, "%s: %d handler calls after resume, expected 2 (coalesced)", name,
          atomic_load(&c.calls));
    CHECK(atomic_load(&c.last_data) == 20, "%s: the delivery after resume reported %lu, expected 20",
          name, (unsigned long)atomic_load(&c.last_data));
    dispatch_source_cancel(c.src);
    dispatch_release(c.src);
}

static void test_data_handler_suspends(void)
{
    test_start("data_handler_suspends", 20);
    dispatch_queue_t q = dispatch_queue_create("test.sst.q", DISPATCH_QUEUE_SERIAL);
    run_data_case(q, q, "data_handler_suspends");
    dispatch_release(q);
    OK("data_handler_suspends");
}

static void test_nested_target(void)
{
    test_start("nested_target", 20);
    dispatch_queue_t q2 = dispatch_queue_create("test.sst.q2", DISPATCH_QUEUE_SERIAL);
    dispatch_queue_t q1 = dispatch_queue_create_with_target("test.sst.q1", DISPATCH_QUEUE_SERIAL, q2);
    run_data_case(q1, q2, "nested_target");
    dispatch_release(q1);
    dispatch_release(q2);
    OK("nested_target");
}

static void test_timer_handler_suspends(void)
{
    test_start("timer_handler_suspends", 20);
    dispatch_queue_t q = dispatch_queue_create("test.sst.timer", DISPATCH_QUEUE_SERIAL);
    struct ctx c = { .suspend_me = q };
    c.src = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(c.src != NULL, "dispatch_source_create");
    dispatch_set_context(c.src, &c);
    dispatch_source_set_event_handler_f(c.src, suspending_handler);
    dispatch_source_set_timer(c.src, dispatch_time(DISPATCH_TIME_NOW, 0), 100, 0);
    dispatch_activate(c.src);
    wait_for_calls(&c, 1, "timer_handler_suspends");
    sleep_ms(200);
    CHECK(atomic_load(&c.calls) == 1, "the timer handler ran %d times while its queue was suspended",
          atomic_load(&c.calls));
    dispatch_resume(q);
    wait_for_calls(&c, 2, "timer_handler_suspends (after resume)");
    CHECK(atomic_load(&c.last_data) > 1, "the first delivery after resume reported %lu fires, expected the "
          "fires missed while suspended", (unsigned long)atomic_load(&c.last_data));
    dispatch_source_cancel(c.src);
    dispatch_release(c.src);
    dispatch_release(q);
    OK("timer_handler_suspends");
}

int main(void)
{
    test_data_handler_suspends();
    test_nested_target();
    test_timer_handler_suspends();
    return 0;
}
