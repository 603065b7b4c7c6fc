/*
 * test_blocks_benchmark.c: dispatch_benchmark with a block (clang -fblocks, private.h).
 *
 *   calls       count 1000: the block runs exactly 1000 times, in place (a __block
 *               counter captured by the literal reaches 1000); count 0 runs it never and
 *               returns 0.
 *   more_work   a block spinning 100000 volatile iterations reports more than an empty
 *               block, which reports less than 1 ms.
 */
#include "check.h"

#include <dispatch/private.h>

int main(void)
{
    test_start("calls", 30);
    __block size_t calls = 0;
    CHECK(dispatch_benchmark(0, ^{ calls++; }) == 0 && calls == 0, "count 0: nothing runs, 0 returned");
    (void)dispatch_benchmark(1000, ^{ calls++; });
    CHECK(calls == 1000, "ran %zu times, want 1000", calls);
    OK("calls");

    test_start("more_work", 30);
    uint64_t empty = dispatch_benchmark(100000, ^{});
    __block volatile unsigned long sink = 0;
    uint64_t spin = dispatch_benchmark(20, ^{
        for (unsigned long i = 0; i < 100000; i++) {
            sink += i;
        }
    });
    CHECK(sink == 20 * (100000ul * 99999ul / 2), "the spin ran 20 times");
    CHECK(empty < 1000000, "an empty block costs %llu ns", (unsigned long long)empty);
    CHECK(spin > empty, "spinning costs %llu ns, empty %llu ns", (unsigned long long)spin, (unsigned long long)empty);
    OK("more_work");
    return 0;
}
