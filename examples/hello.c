/* A first taste of GCD: a serial queue, a concurrent fan-out with a group, a sync
 * round-trip, and a timer-driven item, all with the function-pointer (_f) API.
 * Build: gcc -std=c99 hello.c -Iinclude -Ltarget/release -ldispatch */
#include <dispatch/dispatch.h>
#include <stdio.h>
#include <stdlib.h>

static long squares[16];

static void square(void *ctx, size_t i)
{
    (void)ctx;
    squares[i] = (long)(i * i);
}

static void append(void *ctx)
{
    printf("serial item %ld\n", (long)(intptr_t)ctx);
}

struct later {
    const char *msg;
    dispatch_semaphore_t done;
};

static void late(void *ctx)
{
    struct later *l = ctx;
    printf("after 20 ms: %s\n", l->msg);
    dispatch_semaphore_signal(l->done);
}

int main(void)
{
    dispatch_queue_t serial = dispatch_queue_create("com.example.serial", DISPATCH_QUEUE_SERIAL);
    for (intptr_t i = 0; i < 3; i++)
        dispatch_async_f(serial, (void *)i, append);
    dispatch_sync_f(serial, (void *)(intptr_t)3, append); /* runs after 0, 1, 2 */

    dispatch_apply_f(16, DISPATCH_APPLY_AUTO, NULL, square);
    long sum = 0;
    for (int i = 0; i < 16; i++)
        sum += squares[i];
    printf("sum of squares below 16: %ld\n", sum);

    struct later l = { "hello from the timer", dispatch_semaphore_create(0) };
    dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, 20 * NSEC_PER_MSEC),
                     dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), &l, late);
    dispatch_semaphore_wait(l.done, DISPATCH_TIME_FOREVER);
    dispatch_release(l.done);
    dispatch_release(serial);
    return sum == 1240 ? EXIT_SUCCESS : EXIT_FAILURE;
}
