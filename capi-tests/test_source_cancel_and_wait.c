/*
 * test_source_cancel_and_wait.c: dispatch_source_cancel_and_wait.
 *
 *   cancel_and_wait    returns only after the cancel handler (which sleeps 50 ms) returned,
 *                      and the handler ran once.
 *   misuse             called from an item of the serial queue the source targets (its
 *                      cancellation could never run there): aborts with a BUG IN CLIENT
 *                      message naming cancel_and_wait, instead of hanging.
 */
#include "check.h"

static atomic_int cancels;
static atomic_int finished;
static dispatch_source_t misuse_source;

static void on_cancel(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&cancels, 1);
    sleep_ms(50);
    atomic_store(&finished, 1);
}

static void wait_from_target(void *ctx)
{
    (void)ctx;
    dispatch_source_cancel_and_wait(misuse_source);
}

static void misuse(void)
{
    dispatch_queue_t q = dispatch_queue_create("test.cancel_and_wait.misuse", DISPATCH_QUEUE_SERIAL);
    misuse_source = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    dispatch_activate(misuse_source);
    dispatch_sync_f(q, NULL, wait_from_target);
}

static void test_cancel_and_wait(void)
{
    test_start("cancel_and_wait", 10);
    dispatch_queue_t q = dispatch_queue_create("test.cancel_and_wait", DISPATCH_QUEUE_SERIAL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "dispatch_source_create returned NULL");
    dispatch_source_set_cancel_handler_f(s, on_cancel);
    dispatch_activate(s);
    dispatch_source_cancel_and_wait(s);
    CHECK(atomic_load(&finished) == 1, "returned before the cancel handler finished");
    CHECK(dispatch_source_testcancel(s) != 0, "testcancel is 0 after cancel_and_wait");
    sleep_ms(20);
    CHECK(atomic_load(&cancels) == 1, "cancel handler ran %d times", atomic_load(&cancels));
    dispatch_release(s);
    dispatch_release(q);
    OK("cancel_and_wait");
}

static void test_misuse(void)
{
    test_start("misuse", 15);
    CHECK(expect_abort(misuse, "cancel_and_wait"), "waiting from the source's own target queue did not abort");
    OK("misuse");
}

int main(void)
{
    test_misuse(); /* forks: run before this process starts dispatch threads */
    test_cancel_and_wait();
    return 0;
}
