/* GCD with blocks: captures, __block state on a serial queue, a parallel map with
 * dispatch_apply, a group notify, and a cancellable dispatch block object.
 * Build: clang -fblocks blocks.c -Iinclude -Ltarget/release -ldispatch */
#include <dispatch/dispatch.h>
#include <Block.h>
#include <stdio.h>

int main(void)
{
    dispatch_queue_t counter_q = dispatch_queue_create("example.counter", DISPATCH_QUEUE_SERIAL);
    dispatch_queue_t work_q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_group_t group = dispatch_group_create();

    /* __block state owned by a serial queue; many producers */
    __block long total = 0;
    for (long i = 1; i <= 100; i++) {
        dispatch_group_async(group, work_q, ^{
            long sq = i * i; /* `i` captured by value */
            dispatch_async(counter_q, ^{ total += sq; });
        });
    }
    dispatch_group_wait(group, DISPATCH_TIME_FOREVER);
    dispatch_sync(counter_q, ^{ printf("sum of squares 1..100 = %ld\n", total); });

    /* a parallel map */
    static double roots[8];
    dispatch_apply(8, DISPATCH_APPLY_AUTO, ^(size_t k) {
        double x = (double)k, r = x / 2 + 1;
        for (int n = 0; n < 20; n++)
            r = (r + x / r) / 2;
        roots[k] = r;
    });
    printf("sqrt(2) ~ %.6f, sqrt(7) ~ %.6f\n", roots[2], roots[7]);

    /* a block object: cancelled before it ran, its notification still fires */
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_block_t job = dispatch_block_create(0, ^{ printf("never printed\n"); });
    dispatch_block_notify(job, counter_q, ^{
        printf("job finished (cancelled: %s)\n", dispatch_block_testcancel(job) ? "yes" : "no");
        dispatch_semaphore_signal(done);
    });
    dispatch_block_cancel(job);
    dispatch_async(work_q, job);
    dispatch_semaphore_wait(done, DISPATCH_TIME_FOREVER);
    Block_release(job);

    dispatch_release(done);
    dispatch_release(group);
    dispatch_release(counter_q);
    return 0;
}
