/*
 * test_attr.c: queue attributes and how they combine.
 *
 *   autorelease_frequency  dispatch_queue_attr_make_with_autorelease_frequency (INHERIT,
 *                          WORK_ITEM, NEVER) gives an attribute; queues made with it run
 *                          their items, a serial one in FIFO order and one at a time.
 *   combined_attributes    inactive + QoS + autorelease frequency layered on
 *                          DISPATCH_QUEUE_CONCURRENT: the queue is inactive until activated,
 *                          reports the QoS, and still runs two items at the same time.
 *   serial_with_qos        QoS layered on DISPATCH_QUEUE_SERIAL keeps the queue serial.
 */
#include "check.h"

static atomic_int started;
static atomic_int saw_both;
static atomic_int inside;
static atomic_int overlap;
static int order_log[100];
static atomic_int order_n;

static void serial_item(void *ctx)
{
    if (atomic_fetch_add(&inside, 1) != 0)
        atomic_fetch_add(&overlap, 1);
    int n = atomic_fetch_add(&order_n, 1);
    if (n < 100)
        order_log[n] = (int)(intptr_t)ctx;
    for (volatile int i = 0; i < 2000; i++) {
    }
    atomic_fetch_sub(&inside, 1);
}

static void check_serial_queue(dispatch_queue_t q, const char *what)
{
    atomic_store(&inside, 0);
    atomic_store(&overlap, 0);
    atomic_store(&order_n, 0);
    dispatch_group_t g = dispatch_group_create();
    for (intptr_t i = 0; i < 100; i++)
        dispatch_group_async_f(g, q, (void *)i, serial_item);
    CHECK(group_wait_ms(g, 5000), "%s: items did not finish within 5 s", what);
    CHECK(atomic_load(&order_n) == 100, "%s: %d of 100 items ran", what, atomic_load(&order_n));
    CHECK(atomic_load(&overlap) == 0, "%s: items overlapped %d times", what, atomic_load(&overlap));
    for (int i = 0; i < 100; i++)
        CHECK(order_log[i] == i, "%s: position %d ran item %d", what, i, order_log[i]);
    dispatch_release(g);
}

static void rendezvous(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&started, 1);
    uint64_t deadline = now_ns() + 3ull * 1000000000ull;
    while (atomic_load(&started) < 2 && now_ns() < deadline)
        sleep_ms(1);
    if (atomic_load(&started) >= 2)
        atomic_fetch_add(&saw_both, 1);
}

/* ------------------------------------------------------------------ */

static void test_autorelease_frequency(void)
{
    test_start("autorelease_frequency", 15);
    static const struct {
        dispatch_autorelease_frequency_t f;
        const char *name;
    } freqs[] = {
        { DISPATCH_AUTORELEASE_FREQUENCY_INHERIT, "INHERIT" },
        { DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM, "WORK_ITEM" },
        { DISPATCH_AUTORELEASE_FREQUENCY_NEVER, "NEVER" },
    };
    for (size_t i = 0; i < 3; i++) {
        dispatch_queue_attr_t a = dispatch_queue_attr_make_with_autorelease_frequency(DISPATCH_QUEUE_SERIAL, freqs[i].f);
        /* for INHERIT the attribute may legitimately stay DISPATCH_QUEUE_SERIAL (NULL) */
        if (freqs[i].f != DISPATCH_AUTORELEASE_FREQUENCY_INHERIT)
            CHECK(a != NULL, "autorelease frequency %s: NULL attribute", freqs[i].name);
        dispatch_queue_t q = dispatch_queue_create("test.attr.arf", a);
        CHECK(q != NULL, "autorelease frequency %s: queue is NULL", freqs[i].name);
        check_serial_queue(q, freqs[i].name);
        dispatch_release(q);
    }
    OK("autorelease_frequency");
}

/* ------------------------------------------------------------------ */

static void test_combined_attributes(void)
{
    test_start("combined_attributes", 15);
    dispatch_queue_attr_t a = dispatch_queue_attr_make_initially_inactive(DISPATCH_QUEUE_CONCURRENT);
    a = dispatch_queue_attr_make_with_qos_class(a, QOS_CLASS_UTILITY, -1);
    a = dispatch_queue_attr_make_with_autorelease_frequency(a, DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM);
    CHECK(a != NULL, "combined attribute is NULL");
    dispatch_queue_t q = dispatch_queue_create("test.attr.combined", a);
    CHECK(q != NULL, "queue is NULL");
    int rel = 99;
    CHECK(dispatch_queue_get_qos_class(q, &rel) == QOS_CLASS_UTILITY && rel == -1,
          "QoS 0x%x / %d, expected UTILITY / -1", (unsigned)dispatch_queue_get_qos_class(q, NULL), rel);

    dispatch_group_t g = dispatch_group_create();
    dispatch_group_async_f(g, q, NULL, rendezvous);
    dispatch_group_async_f(g, q, NULL, rendezvous);
    sleep_ms(100);
    CHECK(atomic_load(&started) == 0, "an item ran before dispatch_activate");
    dispatch_activate(q);
    CHECK(group_wait_ms(g, 8000), "the items did not finish within 8 s of activation");
    CHECK(atomic_load(&saw_both) == 2, "only %d of 2 items saw the other running: not concurrent",
          atomic_load(&saw_both));
    dispatch_release(g);
    dispatch_release(q);
    OK("combined_attributes");
}

/* ------------------------------------------------------------------ */

static void test_serial_with_qos(void)
{
    test_start("serial_with_qos", 10);
    dispatch_queue_attr_t a = dispatch_queue_attr_make_with_qos_class(DISPATCH_QUEUE_SERIAL, QOS_CLASS_USER_INITIATED, 0);
    dispatch_queue_t q = dispatch_queue_create("test.attr.serialqos", a);
    check_serial_queue(q, "serial queue with QoS");
    dispatch_release(q);
    OK("serial_with_qos");
}

int main(void)
{
    test_autorelease_frequency();
    test_combined_attributes();
    test_serial_with_qos();
    return 0;
}
