/* The main queue: work from other threads runs on the main thread once it calls
 * dispatch_main(), which never returns; the program exits from a main-queue item. */
#include <dispatch/dispatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

static int steps;

static void on_main(void *ctx)
{
    int on_main_thread = syscall(SYS_gettid) == getpid();
    printf("main-queue item %s, on the main thread: %s\n", (const char *)ctx, on_main_thread ? "yes" : "no");
    if (++steps == 3)
        exit(on_main_thread ? EXIT_SUCCESS : EXIT_FAILURE);
}

static void from_worker(void *ctx)
{
    (void)ctx;
    dispatch_async_f(dispatch_get_main_queue(), "sent from a worker", on_main);
    dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, 10 * NSEC_PER_MSEC), dispatch_get_main_queue(),
                     "after 10 ms", on_main);
}

int main(void)
{
    dispatch_async_f(dispatch_get_main_queue(), "queued before dispatch_main", on_main);
    dispatch_async_f(dispatch_get_global_queue(QOS_CLASS_UTILITY, 0), NULL, from_worker);
    dispatch_main();
}
