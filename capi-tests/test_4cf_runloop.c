/*
 * test_4cf_runloop.c: run-loop queues (_dispatch_runloop_root_queue_*_4CF), drained by a
 * plain poll loop on this thread.
 *
 *   create_and_port    create returns a queue; get_port gives a descriptor that is not
 *                      readable while the queue is empty; bad flags give NULL.
 *   items_on_loop      items sent from another thread make the port readable within 1 s;
 *                      perform runs them one per call, in FIFO order, on the polling
 *                      thread, with the queue as the current queue; the last perform
 *                      returns false and the port is quiet afterwards.
 *   sync_from_worker   a worker's dispatch_sync_f onto the queue is run by the loop's
 *                      perform on the loop thread, and the worker's call returns.
 *   wakeup             _wakeup_4CF makes the port readable with nothing queued; perform on
 *                      the empty queue returns false and runs nothing.
 */
#include "check.h"

extern dispatch_queue_t _dispatch_runloop_root_queue_create_4CF(const char *label, unsigned long flags);
extern void _dispatch_runloop_root_queue_wakeup_4CF(dispatch_queue_t queue);
extern bool _dispatch_runloop_root_queue_perform_4CF(dispatch_queue_t queue);
extern int _dispatch_runloop_root_queue_get_port_4CF(dispatch_queue_t queue);

static dispatch_queue_t rq;
static int port;

static bool readable(int ms)
{
    struct pollfd p = { port, POLLIN, 0 };
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static int order[64];
static atomic_int ran;
static atomic_int wrong;

static void item(void *ctx)
{
    int i = atomic_fetch_add(&ran, 1);
    if (i < 64)
        order[i] = (int)(intptr_t)ctx;
    if (my_tid() != getpid() || dispatch_get_current_queue() != rq)
        atomic_fetch_add(&wrong, 1);
}

static void *sender(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < 10; i++)
        dispatch_async_f(rq, (void *)i, item);
    return NULL;
}

static void *sync_sender(void *arg)
{
    (void)arg;
    dispatch_sync_f(rq, (void *)(intptr_t)99, item);
    return NULL;
}

static void test_create_and_port(void)
{
    test_start("create_and_port", 10);
    rq = _dispatch_runloop_root_queue_create_4CF("test.runloop", 0);
    CHECK(rq != NULL, "create returned NULL");
    port = _dispatch_runloop_root_queue_get_port_4CF(rq);
    CHECK(port >= 0 && fcntl(port, F_GETFD) >= 0, "port %d is not a descriptor", port);
    CHECK(!readable(50), "port readable with an empty queue");
    CHECK(_dispatch_runloop_root_queue_create_4CF("bad", 0x100) == NULL, "bad flags accepted");
    OK("create_and_port");
}

static void test_items_on_loop(void)
{
    test_start("items_on_loop", 10);
    atomic_store(&ran, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, sender, NULL) == 0, "pthread_create");
    pthread_join(th, NULL);
    CHECK(readable(1000), "port not readable after 10 items were sent");
    int performs = 0;
    while (_dispatch_runloop_root_queue_perform_4CF(rq)) {
        performs++;
        CHECK(atomic_load(&ran) == performs, "perform %d ran %d items in total", performs, atomic_load(&ran));
        CHECK(performs < 20, "perform keeps returning true");
    }
    CHECK(atomic_load(&ran) == 10, "%d of 10 items ran", atomic_load(&ran));
    for (int i = 0; i < 10; i++)
        CHECK(order[i] == i, "item %d ran at position %d", order[i], i);
    CHECK(atomic_load(&wrong) == 0, "%d items ran off the loop thread or with another current queue",
          atomic_load(&wrong));
    CHECK(!readable(100), "port readable after the queue was drained");
    OK("items_on_loop");
}

static void test_sync_from_worker(void)
{
    test_start("sync_from_worker", 10);
    atomic_store(&ran, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, sync_sender, NULL) == 0, "pthread_create");
    CHECK(readable(1000), "port not readable for the sync caller");
    while (_dispatch_runloop_root_queue_perform_4CF(rq)) {
    }
    if (atomic_load(&ran) == 0 && readable(1000))
        _dispatch_runloop_root_queue_perform_4CF(rq);
    pthread_join(th, NULL);
    CHECK(atomic_load(&ran) == 1 && order[0] == 99, "the sync function did not run on the loop");
    CHECK(atomic_load(&wrong) == 0, "the sync function ran off the loop thread");
    OK("sync_from_worker");
}

static void test_wakeup(void)
{
    test_start("wakeup", 10);
    atomic_store(&ran, 0);
    _dispatch_runloop_root_queue_wakeup_4CF(rq);
    CHECK(readable(1000), "wakeup did not make the port readable");
    CHECK(!_dispatch_runloop_root_queue_perform_4CF(rq), "perform on an empty queue returned true");
    CHECK(atomic_load(&ran) == 0, "perform on an empty queue ran something");
    CHECK(!readable(50), "port still readable after perform cleared it");
    dispatch_release(rq);
    OK("wakeup");
}

int main(void)
{
    test_create_and_port();
    test_items_on_loop();
    test_sync_from_worker();
    test_wakeup();
    return 0;
}
