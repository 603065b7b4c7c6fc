// The asynchronous path's own measurements (bench/README.md, "dispatch_async path").
//
//   async_path instr serial|group N   N items, then wait (run under callgrind at N and 2N:
//                                      instructions per item = (Ir(2N) - Ir(N)) / N)
//   async_path instr serial1k|group1k N  the same in rounds of 1000 items, each waited for
//                                      (dispatch_sync_f / dispatch_group_wait): at most 1000
//                                      items in flight, so the heap's high-water mark (which
//                                      grows with N when the producer outruns the worker, as
//                                      it does under valgrind's scheduler) stays out of the
//                                      difference
//   async_path queues Q N             N dispatch_async_f items spread round-robin over Q
//                                      serial queues; prints ns per item
//   async_path group N                N dispatch_group_async_f onto the default global queue,
//                                      then dispatch_group_wait; prints ns per item (best of 5)
//   async_path blocking N US          N items that each usleep(US) on the default global
//                                      queue; prints wall ms and the peak thread count
//   async_path idle S                 threads beyond main S seconds after some work
#include <dispatch/dispatch.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long counter;
static void inc(void *ctx) { (void)ctx; atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed); }
static void noop(void *ctx) { (void)ctx; }
static void nap(void *ctx) { usleep((useconds_t)(long)ctx); inc(NULL); }

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int threads(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[argc - 1]);
    if (!strcmp(argv[1], "instr")) {
        long round = strstr(argv[2], "1k") ? 1000 : n;
        if (!strncmp(argv[2], "serial", 6)) {
            dispatch_queue_t q = dispatch_queue_create("instr", NULL);
            dispatch_sync_f(q, NULL, noop); // warm-up: the pool, the caches
            for (long done = 0; done < n; done += round) {
                for (long i = 0; i < round; i++) dispatch_async_f(q, NULL, inc);
                dispatch_sync_f(q, NULL, noop);
            }
            dispatch_release(q);
        } else {
            dispatch_queue_t q = dispatch_get_global_queue(0, 0);
            dispatch_group_t g = dispatch_group_create();
            dispatch_group_async_f(g, q, NULL, noop);
            dispatch_group_wait(g, DISPATCH_TIME_FOREVER);
            for (long done = 0; done < n; done += round) {
                for (long i = 0; i < round; i++) dispatch_group_async_f(g, q, NULL, inc);
                dispatch_group_wait(g, DISPATCH_TIME_FOREVER);
            }
            dispatch_release(g);
        }
        if (atomic_load(&counter) != n) { fprintf(stderr, "lost items\n"); return 1; }
        return 0;
    }
    if (!strcmp(argv[1], "queues")) {
        long nq = atol(argv[2]);
        dispatch_queue_t *qs = malloc(sizeof *qs * nq);
        for (long i = 0; i < nq; i++) qs[i] = dispatch_queue_create("q", NULL);
        double best = 1e300;
        for (int round = 0; round < 3; round++) {
            atomic_store(&counter, 0);
            double t0 = now_ns();
            for (long i = 0; i < n; i++) dispatch_async_f(qs[i % nq], NULL, inc);
            while (atomic_load(&counter) != n) usleep(50);
            double t = (now_ns() - t0) / n;
            if (t < best) best = t;
        }
        printf("queues %ld items %ld: %.1f ns/item (best of 3)\n", nq, n, best);
        return 0;
    }
    if (!strcmp(argv[1], "group")) {
        dispatch_queue_t q = dispatch_get_global_queue(0, 0);
        dispatch_group_t g = dispatch_group_create();
        double best = 1e300;
        for (int round = 0; round < 5; round++) {
            double t0 = now_ns();
            for (long i = 0; i < n; i++) dispatch_group_async_f(g, q, NULL, inc);
            dispatch_group_wait(g, DISPATCH_TIME_FOREVER);
            double t = (now_ns() - t0) / n;
            if (t < best) best = t;
        }
        printf("group items %ld: %.1f ns/item (best of 5)\n", n, best);
        return 0;
    }
    if (!strcmp(argv[1], "blocking")) {
        long us = atol(argv[3]);
        n = atol(argv[2]);
        dispatch_group_t g = dispatch_group_create();
        double t0 = now_ns();
        for (long i = 0; i < n; i++) dispatch_group_async_f(g, dispatch_get_global_queue(0, 0), (void *)us, nap);
        int peak = 0;
        while (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, 1000000))) {
            int t = threads();
            if (t > peak) peak = t;
        }
        printf("blocking %ld x %ld us: %.0f ms, peak threads %d\n", n, us, (now_ns() - t0) / 1e6, peak);
        return 0;
    }
    if (!strcmp(argv[1], "idle")) {
        dispatch_group_t g = dispatch_group_create();
        for (int i = 0; i < 64; i++) dispatch_group_async_f(g, dispatch_get_global_queue(0, 0), (void *)10000L, nap);
        dispatch_group_wait(g, DISPATCH_TIME_FOREVER);
        sleep((unsigned)n);
        printf("threads beyond main after %ld s idle: %d\n", n, threads() - 1);
        return 0;
    }
    return 2;
}
