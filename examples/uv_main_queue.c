/* GCD's main queue inside a libuv loop (a Node-style program, no dispatch_main): a uv_poll_t
 * watches the main queue's handle and drains it with _dispatch_main_queue_callback_4CF.
 * Workers compute in parallel and send results to the main queue; they run on the loop's
 * thread, next to libuv's own timers. Idle, the loop sleeps in epoll (the handle is readable
 * only while the main queue has work).
 * Build: gcc -std=gnu11 uv_main_queue.c $(pkg-config --cflags --libs dispatch libuv)
 * pkg-config: libuv
 */
#define _GNU_SOURCE
#include <dispatch/dispatch.h>
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

enum { JOBS = 4 };
static uv_poll_t main_queue_watch;
static uv_timer_t timer;
static int results;

static void on_main_queue_handle(uv_poll_t *watch, int status, int events)
{
    (void)watch, (void)status, (void)events;
    _dispatch_main_queue_callback_4CF(NULL); /* runs the main queue's items here */
}

static void finish(void *ctx)
{
    (void)ctx;
    printf("dispatch_after on the main queue: %d results in, closing the libuv handles\n", results);
    uv_close((uv_handle_t *)&main_queue_watch, NULL); /* no handle left: uv_run returns */
}

static void show_result(void *ctx)
{
    printf("result %ld received on the loop thread: %s\n", (long)(intptr_t)ctx,
           gettid() == getpid() ? "yes" : "no");
    if (++results == JOBS) /* all in: quit a little later, on the main queue too */
        dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, 100 * NSEC_PER_MSEC), dispatch_get_main_queue(), NULL,
                         finish);
}

static void job(void *ctx)
{
    long n = (long)(intptr_t)ctx, sum = 0;
    for (long i = 1; i <= n * 1000; i++)
        sum += i;
    dispatch_async_f(dispatch_get_main_queue(), (void *)(intptr_t)sum, show_result);
}

static void tick(uv_timer_t *t)
{
    (void)t;
    printf("a libuv timer fires on the same thread\n");
    uv_close((uv_handle_t *)&timer, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_poll_init(loop, &main_queue_watch, _dispatch_get_main_queue_handle_4CF());
    uv_poll_start(&main_queue_watch, UV_READABLE, on_main_queue_handle);
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, tick, 50, 0);
    for (long i = 1; i <= JOBS; i++)
        dispatch_async_f(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), (void *)(intptr_t)i, job);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return results == JOBS ? 0 : 1;
}
