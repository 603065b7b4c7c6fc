/*
 * test_benchmark.c: dispatch_benchmark_f (private.h). No timing bounds beyond "an empty
 * function costs less than a millisecond"; the rest compares two measurements.
 *
 *   count_zero    count 0 returns 0 and never calls the function.
 *   calls         count 100000: the function is called exactly 100000 times (no warm-up
 *                 calls of the client's function), with the context given, on the calling
 *                 thread.
 *   empty_small   an empty function's result is below 1 ms (the loop cost is subtracted:
 *                 in practice 0 or a few ns).
 *   more_work     a function spinning 100000 iterations of a volatile loop reports more
 *                 than the empty function, and more than 0.
 */
#include "check.h"

#include <dispatch/private.h>

struct counter {
    size_t calls;
    pid_t tid;
    bool wrong_thread;
};

static void count_call(void *ctxt)
{
    struct counter *c = ctxt;
    c->calls++;
    if (my_tid() != c->tid) {
        c->wrong_thread = true;
    }
}

static void empty_fn(void *ctxt)
{
    UNUSED(ctxt);
}

static void spin_fn(void *ctxt)
{
    volatile unsigned long *sink = ctxt;
    for (unsigned long i = 0; i < 100000; i++) {
        *sink += i;
    }
}

int main(void)
{
    test_start("count_zero", 30);
    struct counter c = {0, my_tid(), false};
    CHECK(dispatch_benchmark_f(0, &c, count_call) == 0, "count 0 returns 0");
    CHECK(c.calls == 0, "count 0 calls nothing (%zu calls)", c.calls);
    OK("count_zero");

    test_start("calls", 30);
    (void)dispatch_benchmark_f(100000, &c, count_call);
    CHECK(c.calls == 100000, "called %zu times, want 100000", c.calls);
    CHECK(!c.wrong_thread, "called on the calling thread");
    OK("calls");

    test_start("empty_small", 30);
    uint64_t empty = dispatch_benchmark_f(100000, NULL, empty_fn);
    CHECK(empty < 1000000, "an empty function costs %llu ns", (unsigned long long)empty);
    OK("empty_small");

    test_start("more_work", 30);
    volatile unsigned long sink = 0;
    uint64_t spin = dispatch_benchmark_f(20, (void *)&sink, spin_fn);
    CHECK(spin > 0 && spin > empty, "spinning costs %llu ns, empty %llu ns", (unsigned long long)spin,
          (unsigned long long)empty);
    CHECK(sink == 20 * (100000ul * 99999ul / 2), "the spin ran 20 times");
    OK("more_work");
    printf("empty: %llu ns, 100k-iteration spin: %llu ns\n", (unsigned long long)empty, (unsigned long long)spin);
    return 0;
}
