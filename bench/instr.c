/*
 * bench/instr.c: N operations of one kind, for instruction counting under
 * `valgrind --tool=callgrind` (bench/instr.py runs it; `make bench-instr`).
 *
 *     target/bench/instr OPERATION N
 *
 * The program sets up (creates the queue, group or semaphore), runs WARMUP operations so
 * that every lazy initialisation (the pool, thread-locals, caches) has happened, runs N
 * operations from the main thread, waits until they have all finished, lets the library's
 * threads go idle, and exits. Everything except the N operations is the same for every N,
 * so Ir(2N) - Ir(N) is the cost of N operations, whatever thread spends it: callgrind
 * counts the instructions of every thread.
 *
 * Operations (public API only, `_f` variants):
 *   sync_serial            dispatch_sync_f of an increment on a serial queue
 *   sync_concurrent        dispatch_sync_f of an increment on a concurrent queue
 *   async_serial           dispatch_async_f of an increment to a serial queue; the item is
 *                          run and freed on a worker; a dispatch_sync_f after every ROUND
 *                          (1000) items waits for them
 *   group_async_global     dispatch_group_async_f of an atomic increment to the default
 *                          global queue; a dispatch_group_wait after every ROUND items
 *   group_enter_leave      dispatch_group_enter + dispatch_group_leave
 *   semaphore_signal_wait  dispatch_semaphore_signal + dispatch_semaphore_wait, uncontended
 *                          (the wait finds the count the signal left)
 *   queue_create_release   dispatch_queue_create(label, serial) + dispatch_release
 *
 * The counters the items increment are checked at the end (exit status 1 if wrong), so
 * nothing measured can be skipped.
 */
#define _GNU_SOURCE
#include <dispatch/dispatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 1000L
/* After the last operation: long enough for every worker that spins for more work to give
 * up and park (under valgrind a thread runs ~50x slower), so that the idle tail costs the
 * same in every run. */
#define SETTLE_MS 300

static long count;

static void item_incr(void *ctx) { ++*(long *)ctx; }
static void item_incr_atomic(void *ctx) { __atomic_fetch_add((long *)ctx, 1, __ATOMIC_RELAXED); }
static void item_noop(void *ctx) { (void)ctx; }

static void sync_ops(dispatch_queue_t q, long n)
{
    for (long i = 0; i < n; i++)
        dispatch_sync_f(q, &count, item_incr);
}

/* The asynchronous operations go in rounds of ROUND items, each round waited for (one
 * dispatch_sync_f or dispatch_group_wait, amortised over the round): valgrind runs one
 * thread at a time, so an unbounded burst would measure how far the producer runs ahead of
 * the worker (every item in flight a fresh allocation), not the path a program with a
 * bounded backlog takes. */
#define ROUND 1000

static void async_ops(dispatch_queue_t q, long n)
{
    for (long done = 0; done < n; done += ROUND) {
        for (long i = done; i < n && i < done + ROUND; i++)
            dispatch_async_f(q, &count, item_incr);
        dispatch_sync_f(q, NULL, item_noop); /* every item of the round has run (and been freed) */
    }
}

static void group_async_ops(dispatch_group_t g, long n)
{
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    for (long done = 0; done < n; done += ROUND) {
        for (long i = done; i < n && i < done + ROUND; i++)
            dispatch_group_async_f(g, q, &count, item_incr_atomic);
        if (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, 600 * (int64_t)NSEC_PER_SEC)) != 0) {
            fprintf(stderr, "instr: dispatch_group_wait timed out\n");
            exit(1);
        }
    }
}

static void group_enter_leave_ops(dispatch_group_t g, long n)
{
    for (long i = 0; i < n; i++) {
        dispatch_group_enter(g);
        dispatch_group_leave(g);
        count++;
    }
}

static void semaphore_ops(dispatch_semaphore_t s, long n)
{
    for (long i = 0; i < n; i++) {
        dispatch_semaphore_signal(s);
        if (dispatch_semaphore_wait(s, DISPATCH_TIME_FOREVER) == 0)
            count++;
    }
}

static void queue_create_ops(long n)
{
    for (long i = 0; i < n; i++) {
        dispatch_queue_t q = dispatch_queue_create("instr.q", DISPATCH_QUEUE_SERIAL);
        if (q != NULL)
            count++;
        dispatch_release(q);
    }
}

/* Runs `warmup` then `n` operations of `op`; false if `op` is unknown. */
static int run(const char *op, long warmup, long n)
{
    if (strcmp(op, "sync_serial") == 0 || strcmp(op, "sync_concurrent") == 0 ||
        strcmp(op, "async_serial") == 0) {
        dispatch_queue_attr_t attr =
            strcmp(op, "sync_concurrent") == 0 ? DISPATCH_QUEUE_CONCURRENT : DISPATCH_QUEUE_SERIAL;
        dispatch_queue_t q = dispatch_queue_create("instr.q", attr);
        void (*ops)(dispatch_queue_t, long) = strncmp(op, "sync_", 5) == 0 ? sync_ops : async_ops;
        ops(q, warmup);
        ops(q, n);
        dispatch_release(q);
    } else if (strcmp(op, "group_async_global") == 0 || strcmp(op, "group_enter_leave") == 0) {
        dispatch_group_t g = dispatch_group_create();
        void (*ops)(dispatch_group_t, long) =
            strcmp(op, "group_async_global") == 0 ? group_async_ops : group_enter_leave_ops;
        ops(g, warmup);
        ops(g, n);
        dispatch_release(g);
    } else if (strcmp(op, "semaphore_signal_wait") == 0) {
        dispatch_semaphore_t s = dispatch_semaphore_create(0);
        semaphore_ops(s, warmup);
        semaphore_ops(s, n);
        dispatch_release(s);
    } else if (strcmp(op, "queue_create_release") == 0) {
        queue_create_ops(warmup);
        queue_create_ops(n);
    } else {
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (argc != 3 || n <= 0) {
        fprintf(stderr, "usage: %s OPERATION N\n", argv[0]);
        return 2;
    }
    if (!run(argv[1], WARMUP, n)) {
        fprintf(stderr, "instr: unknown operation %s\n", argv[1]);
        return 2;
    }
    if (count != WARMUP + n) {
        fprintf(stderr, "instr: %s: counted %ld, expected %ld\n", argv[1], count, WARMUP + n);
        return 1;
    }
    struct timespec settle = { .tv_sec = 0, .tv_nsec = SETTLE_MS * 1000000L };
    nanosleep(&settle, NULL);
    fflush(stdout);
    _exit(0); /* no exit handlers: the library's threads stay parked, nothing else runs */
}
