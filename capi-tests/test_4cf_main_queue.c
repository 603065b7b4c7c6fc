/*
 * test_4cf_main_queue.c: driving the main queue from a foreign run loop (the CoreFoundation
 * hooks): _dispatch_get_main_queue_handle_4CF() is an fd (eventfd) that polls readable when
 * the main queue has work, and _dispatch_main_queue_callback_4CF(NULL) drains the main queue
 * on the calling (main) thread, consuming the readiness. dispatch_main() is never called.
 *
 *   handle_valid       the handle is an open fd, the same on every call, not readable while
 *                      the main queue is empty; the callback with nothing queued returns.
 *   wakes_on_async     another thread does dispatch_async_f(main queue) after 50 ms: poll on
 *                      the handle reports POLLIN within 2 s and not before the item was sent
 *                      (>= 45 ms); the item has not run before the callback (it runs nowhere
 *                      else, 50 ms); the callback runs it on the main thread (gettid() ==
 *                      getpid()) before returning; then the handle is quiet (poll 0 and 200 ms).
 *   fifo_many          another thread sends 100 items; a poll + callback loop on the main
 *                      thread runs them all, in FIFO order, on the main thread, within 5 s;
 *                      once the sender finished and a last callback drained, the handle is
 *                      quiet.
 *   from_main          an item sent from the main thread itself makes the handle readable at
 *                      once; the callback runs it.
 *   item_enqueues      an item that sends another item to the main queue: either the second
 *                      runs in the same callback and the handle is quiet right after it, or it
 *                      does not and the handle stays readable so the next callback runs it
 *                      (Apple drains a snapshot); after that the handle is quiet.
 *   after_main         dispatch_after_f(100 ms, main queue): the handle becomes readable no
 *                      earlier than 100 ms, within 2 s; the callback runs the item on the main
 *                      thread.
 *   sync_from_worker   a worker thread's dispatch_sync_f onto the main queue is served by
 *                      the callback (the item runs on the main thread) and the worker's
 *                      dispatch_sync_f returns.
 *   epoll              the handle registered with epoll (EPOLLIN) reports an event when another
 *                      thread sends an item; the callback runs it.
 *   source_on_main     a DATA_ADD source targeting the main queue, merged from another thread:
 *                      the handle becomes readable, the callback runs the event handler on the
 *                      main thread with the merged data; its cancel handler likewise.
 */
#include "check.h"

#include <sys/epoll.h>

extern int _dispatch_get_main_queue_handle_4CF(void);
extern void _dispatch_main_queue_callback_4CF(void *msg);

static int handle;

/* 1 when readable within ms, 0 when not */
static int readable(int ms)
{
    struct pollfd pfd = { handle, POLLIN, 0 };
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    for (;;) {
        int left = ms <= 0 ? 0 : (int)((deadline - now_ns()) / 1000000ull);
        if (ms > 0 && now_ns() >= deadline)
            left = 0;
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r >= 0, "poll: %s", strerror(errno));
        CHECK(!(pfd.revents & (POLLERR | POLLNVAL)), "poll revents %#x on the handle", pfd.revents);
        return r > 0 && (pfd.revents & POLLIN);
    }
}

static void drain(void)
{
    _dispatch_main_queue_callback_4CF(NULL);
}

/* ---- items ---- */

static atomic_int ran;
static atomic_int ran_tid;
static atomic_int wrong_thread;

static void item(void *ctx)
{
    UNUSED(ctx);
    if (my_tid() != getpid())
        atomic_fetch_add(&wrong_thread, 1);
    atomic_store(&ran_tid, (int)my_tid());
    atomic_fetch_add(&ran, 1);
}

static void reset(void)
{
    atomic_store(&ran, 0);
    atomic_store(&ran_tid, 0);
}

static void check_quiet(const char *what)
{
    CHECK(!readable(0), "%s: handle readable right after the drain with nothing queued", what);
    CHECK(!readable(200), "%s: handle became readable with nothing queued", what);
}

/* ------------------------------------------------------------------ */

static void test_handle_valid(void)
{
    test_start("handle_valid", 10);
    handle = _dispatch_get_main_queue_handle_4CF();
    CHECK(handle >= 0, "handle %d", handle);
    CHECK(fcntl(handle, F_GETFD) != -1, "handle %d is not an open fd", handle);
    CHECK(_dispatch_get_main_queue_handle_4CF() == handle, "second call returned another handle");
    CHECK(!readable(0), "handle readable with an empty main queue");
    drain(); /* nothing queued: returns */
    CHECK(!readable(50), "handle readable after an empty drain");
    OK("handle_valid");
}

/* ------------------------------------------------------------------ */

static void *send_after_50(void *arg)
{
    UNUSED(arg);
    sleep_ms(50);
    dispatch_async_f(dispatch_get_main_queue(), NULL, item);
    return NULL;
}

static void test_wakes_on_async(void)
{
    test_start("wakes_on_async", 15);
    reset();
    pthread_t th;
    uint64_t t0 = now_ns();
    CHECK(pthread_create(&th, NULL, send_after_50, NULL) == 0, "pthread_create");
    CHECK(readable(2000), "handle not readable within 2 s of a dispatch_async_f to the main queue");
    uint64_t el = now_ns() - t0;
    CHECK(el >= 45 * NSEC_PER_MSEC, "handle readable after %.1f ms, before the item was sent (50 ms)", el / 1e6);
    pthread_join(th, NULL);
    sleep_ms(50);
    CHECK(atomic_load(&ran) == 0, "the main-queue item ran without the callback (on thread %d)", atomic_load(&ran_tid));
    drain();
    CHECK(atomic_load(&ran) == 1, "the callback ran %d items, want 1", atomic_load(&ran));
    CHECK(atomic_load(&ran_tid) == getpid(), "the item ran on thread %d, not the main thread %d",
          atomic_load(&ran_tid), (int)getpid());
    check_quiet("wakes_on_async");
    CHECK(atomic_load(&ran) == 1, "item ran again");
    OK("wakes_on_async");
}

/* ------------------------------------------------------------------ */

#define N_FIFO 100

static int fifo_next;
static atomic_int fifo_bad_order;

static void fifo_item(void *ctx)
{
    int id = (int)(intptr_t)ctx;
    if (my_tid() != getpid())
        atomic_fetch_add(&wrong_thread, 1);
    if (id != fifo_next)
        atomic_fetch_add(&fifo_bad_order, 1);
    fifo_next = id + 1;
}

static void *fifo_sender(void *arg)
{
    UNUSED(arg);
    for (intptr_t i = 0; i < N_FIFO; i++) {
        dispatch_async_f(dispatch_get_main_queue(), (void *)i, fifo_item);
        if (i % 10 == 0)
            sleep_ms(2);
    }
    return NULL;
}

static void test_fifo_many(void)
{
    test_start("fifo_many", 15);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, fifo_sender, NULL) == 0, "pthread_create");
    uint64_t deadline = now_ns() + 5 * NSEC_PER_SEC;
    int callbacks = 0;
    while (fifo_next < N_FIFO && now_ns() < deadline) {
        if (readable(100)) {
            drain();
            callbacks++;
        }
    }
    CHECK(fifo_next == N_FIFO, "%d of %d items ran within 5 s (%d callbacks)", fifo_next, N_FIFO, callbacks);
    CHECK(atomic_load(&fifo_bad_order) == 0, "%d items ran out of FIFO order", atomic_load(&fifo_bad_order));
    CHECK(atomic_load(&wrong_thread) == 0, "%d items ran off the main thread", atomic_load(&wrong_thread));
    pthread_join(th, NULL);
    drain(); /* every send is complete: this drains whatever readiness is left */
    check_quiet("fifo_many");
    OK("fifo_many");
}

/* ------------------------------------------------------------------ */

static void test_from_main(void)
{
    test_start("from_main", 10);
    reset();
    dispatch_async_f(dispatch_get_main_queue(), NULL, item);
    CHECK(readable(1000), "handle not readable after dispatch_async_f from the main thread");
    CHECK(atomic_load(&ran) == 0, "item ran before the callback");
    drain();
    CHECK(atomic_load(&ran) == 1 && atomic_load(&ran_tid) == getpid(), "ran %d on thread %d", atomic_load(&ran),
          atomic_load(&ran_tid));
    check_quiet("from_main");
    OK("from_main");
}

/* ------------------------------------------------------------------ */

static void enqueuing_item(void *ctx)
{
    UNUSED(ctx);
    if (my_tid() != getpid())
        atomic_fetch_add(&wrong_thread, 1);
    dispatch_async_f(dispatch_get_main_queue(), NULL, item);
}

static void test_item_enqueues(void)
{
    test_start("item_enqueues", 10);
    reset();
    dispatch_async_f(dispatch_get_main_queue(), NULL, enqueuing_item);
    CHECK(readable(1000), "handle not readable");
    drain();
    if (atomic_load(&ran) == 0) {
        CHECK(readable(1000), "an item sent during the drain neither ran nor left the handle readable");
        drain();
    } else {
        /* it ran in the same drain: then its wake-up must have been consumed too */
        CHECK(!readable(0), "the item sent during the drain ran in that same drain, yet the handle is still "
                            "readable with nothing queued (spurious wake-up)");
    }
    CHECK(atomic_load(&ran) == 1, "second item ran %d times", atomic_load(&ran));
    CHECK(atomic_load(&ran_tid) == getpid(), "second item ran off the main thread");
    CHECK(atomic_load(&wrong_thread) == 0, "an item ran off the main thread");
    check_quiet("item_enqueues");
    OK("item_enqueues");
}

/* ------------------------------------------------------------------ */

static void test_after_main(void)
{
    test_start("after_main", 10);
    reset();
    uint64_t t0 = now_ns();
    dispatch_after_f(in_ms(100), dispatch_get_main_queue(), NULL, item);
    CHECK(readable(2000), "handle not readable within 2 s of a dispatch_after_f(100 ms)");
    uint64_t el = now_ns() - t0;
    CHECK(el >= 100 * NSEC_PER_MSEC, "handle readable after %.1f ms, before the 100 ms deadline", el / 1e6);
    drain();
    CHECK(atomic_load(&ran) == 1 && atomic_load(&ran_tid) == getpid(), "ran %d on thread %d", atomic_load(&ran),
          atomic_load(&ran_tid));
    check_quiet("after_main");
    OK("after_main");
}

/* ------------------------------------------------------------------ */

static atomic_int sync_returned;

static void *sync_worker(void *arg)
{
    UNUSED(arg);
    dispatch_sync_f(dispatch_get_main_queue(), NULL, item);
    atomic_store(&sync_returned, 1);
    return NULL;
}

static void test_sync_from_worker(void)
{
    test_start("sync_from_worker", 10);
    reset();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, sync_worker, NULL) == 0, "pthread_create");
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (!atomic_load(&sync_returned) && now_ns() < deadline) {
        if (readable(50))
            drain();
    }
    CHECK(atomic_load(&sync_returned), "the worker's dispatch_sync_f onto the main queue did not return within 3 s");
    pthread_join(th, NULL);
    CHECK(atomic_load(&ran) == 1, "sync item ran %d times", atomic_load(&ran));
    CHECK(atomic_load(&ran_tid) == getpid(), "sync item ran on thread %d, not the main thread", atomic_load(&ran_tid));
    if (readable(0))
        drain();
    check_quiet("sync_from_worker");
    OK("sync_from_worker");
}

/* ------------------------------------------------------------------ */

static void *send_now(void *arg)
{
    UNUSED(arg);
    sleep_ms(20);
    dispatch_async_f(dispatch_get_main_queue(), NULL, item);
    return NULL;
}

static void test_epoll(void)
{
    test_start("epoll", 10);
    reset();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, handle, &ev) == 0, "epoll_ctl ADD handle: %s", strerror(errno));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, send_now, NULL) == 0, "pthread_create");
    struct epoll_event out;
    int n;
    do {
        n = epoll_wait(ep, &out, 1, 2000);
    } while (n < 0 && errno == EINTR);
    CHECK(n == 1 && out.data.u64 == 42 && (out.events & EPOLLIN), "epoll_wait returned %d", n);
    pthread_join(th, NULL);
    drain();
    CHECK(atomic_load(&ran) == 1 && atomic_load(&ran_tid) == getpid(), "ran %d on thread %d", atomic_load(&ran),
          atomic_load(&ran_tid));
    do {
        n = epoll_wait(ep, &out, 1, 100);
    } while (n < 0 && errno == EINTR);
    CHECK(n == 0, "epoll reports the handle after the drain");
    close(ep);
    OK("epoll");
}

/* ------------------------------------------------------------------ */

static atomic_ullong src_data;
static atomic_int src_tid, src_cancel_tid;

static void src_handler(void *ctx)
{
    dispatch_source_t s = ctx;
    atomic_fetch_add(&src_data, dispatch_source_get_data(s));
    atomic_store(&src_tid, (int)my_tid());
}

static void src_cancel(void *ctx)
{
    UNUSED(ctx);
    atomic_store(&src_cancel_tid, (int)my_tid());
}

static void *merger(void *arg)
{
    sleep_ms(20);
    dispatch_source_merge_data((dispatch_source_t)arg, 5);
    return NULL;
}

static void test_source_on_main(void)
{
    test_start("source_on_main", 10);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, dispatch_get_main_queue());
    CHECK(s != NULL, "create");
    dispatch_set_context(s, s);
    dispatch_source_set_event_handler_f(s, src_handler);
    dispatch_source_set_cancel_handler_f(s, src_cancel);
    dispatch_activate(s);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, merger, s) == 0, "pthread_create");
    uint64_t deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (atomic_load(&src_data) == 0 && now_ns() < deadline)
        if (readable(50))
            drain();
    pthread_join(th, NULL);
    CHECK(atomic_load(&src_data) == 5, "source on the main queue delivered %llu, want 5",
          (unsigned long long)atomic_load(&src_data));
    CHECK(atomic_load(&src_tid) == getpid(), "source handler ran on thread %d, not the main thread",
          atomic_load(&src_tid));
    dispatch_source_cancel(s);
    deadline = now_ns() + 3 * NSEC_PER_SEC;
    while (atomic_load(&src_cancel_tid) == 0 && now_ns() < deadline)
        if (readable(50))
            drain();
    CHECK(atomic_load(&src_cancel_tid) == getpid(), "cancel handler ran on thread %d, not the main thread",
          atomic_load(&src_cancel_tid));
    dispatch_release(s);
    if (readable(0))
        drain();
    OK("source_on_main");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_handle_valid();
    test_wakes_on_async();
    test_fifo_many();
    test_from_main();
    test_item_enqueues();
    test_after_main();
    test_sync_from_worker();
    test_epoll();
    test_source_on_main();
    CHECK(atomic_load(&wrong_thread) == 0, "%d main-queue items ran off the main thread", atomic_load(&wrong_thread));
    return 0;
}
