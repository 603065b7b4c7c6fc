/* GCD's main queue inside GLib's main loop (a GTK-style program, no dispatch_main): watch
 * the main queue's handle with g_unix_fd_add and drain it with
 * _dispatch_main_queue_callback_4CF when it is readable. Workers compute in parallel and
 * send results to the main queue; they run on the loop's thread, between GLib's own events.
 * Idle, the loop sleeps in poll (the handle is readable only while the main queue has work).
 * Build: gcc -std=gnu11 glib_main_queue.c $(pkg-config --cflags --libs dispatch glib-2.0)
 * pkg-config: glib-2.0
 */
#define _GNU_SOURCE
#include <dispatch/dispatch.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <unistd.h>

enum { JOBS = 4 };
static GMainLoop *loop;
static int results;

static gboolean on_main_queue_handle(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd, (void)cond, (void)data;
    _dispatch_main_queue_callback_4CF(NULL); /* runs the main queue's items here */
    return G_SOURCE_CONTINUE;
}

static void finish(void *ctx)
{
    (void)ctx;
    printf("dispatch_after on the main queue: %d results in, quitting the GLib loop\n", results);
    g_main_loop_quit(loop);
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

static gboolean tick(gpointer data)
{
    (void)data;
    printf("a GLib timeout fires on the same thread\n");
    return G_SOURCE_REMOVE;
}

int main(void)
{
    loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(_dispatch_get_main_queue_handle_4CF(), G_IO_IN, on_main_queue_handle, NULL);
    g_timeout_add(50, tick, NULL);
    for (long i = 1; i <= JOBS; i++)
        dispatch_async_f(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), (void *)(intptr_t)i, job);
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    return results == JOBS ? 0 : 1;
}
