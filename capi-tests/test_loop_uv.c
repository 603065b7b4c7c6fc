/*
 * test_loop_uv.c: GCD's main queue hosted by a libuv loop: a uv_poll_t (UV_READABLE) on
 * _dispatch_get_main_queue_handle_4CF(), whose callback calls
 * _dispatch_main_queue_callback_4CF(NULL). The checks (in_order, idle, wake_after_idle)
 * are in foreign_loop.h.
 * capi-pkg-config: libuv
 */
#include "foreign_loop.h"

#include <uv.h>

static uv_loop_t *loop;
static uv_poll_t handle_poll;
static uv_timer_t timer;

static void on_handle(uv_poll_t *p, int status, int events)
{
    UNUSED(p);
    CHECK(status == 0, "uv_poll callback status %s", uv_strerror(status));
    CHECK(events & UV_READABLE, "uv_poll callback with events %#x", (unsigned)events);
    loop_on_readable();
}

static void loop_watch(int fd)
{
    CHECK(uv_poll_init(loop, &handle_poll, fd) == 0, "uv_poll_init");
    CHECK(uv_poll_start(&handle_poll, UV_READABLE, on_handle) == 0, "uv_poll_start");
}

static void loop_run(void)
{
    uv_run(loop, UV_RUN_DEFAULT);
}

static void loop_quit(void)
{
    uv_stop(loop);
}

static void on_timeout(uv_timer_t *t)
{
    UNUSED(t);
    uv_stop(loop);
}

static void loop_run_for_ms(unsigned ms)
{
    uv_timer_start(&timer, on_timeout, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
}

int main(void)
{
    loop = uv_default_loop();
    CHECK(uv_timer_init(loop, &timer) == 0, "uv_timer_init");
    run_foreign_loop_tests();
    return 0;
}
