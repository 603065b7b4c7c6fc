/*
 * test_loop_glib.c: GCD's main queue hosted by GLib's main loop: g_unix_fd_add() on
 * _dispatch_get_main_queue_handle_4CF(), whose callback calls
 * _dispatch_main_queue_callback_4CF(NULL). The checks (in_order, idle, wake_after_idle)
 * are in foreign_loop.h.
 * capi-pkg-config: glib-2.0
 */
#include "foreign_loop.h"

#include <glib-unix.h>
#include <glib.h>

static GMainLoop *loop;

static gboolean on_handle(gint fd, GIOCondition condition, gpointer data)
{
    UNUSED(fd);
    UNUSED(data);
    CHECK(condition & G_IO_IN, "g_unix_fd_add callback with condition %#x", (unsigned)condition);
    loop_on_readable();
    return G_SOURCE_CONTINUE;
}

static void loop_watch(int fd)
{
    g_unix_fd_add(fd, G_IO_IN, on_handle, NULL);
}

static void loop_run(void)
{
    g_main_loop_run(loop);
}

static void loop_quit(void)
{
    g_main_loop_quit(loop);
}

static gboolean on_timeout(gpointer data)
{
    UNUSED(data);
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static void loop_run_for_ms(unsigned ms)
{
    g_timeout_add(ms, on_timeout, NULL);
    g_main_loop_run(loop);
}

int main(void)
{
    loop = g_main_loop_new(NULL, FALSE);
    run_foreign_loop_tests();
    g_main_loop_unref(loop);
    return 0;
}
