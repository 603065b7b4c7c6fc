/*
 * foreign_loop.h: the checks shared by the foreign event loop tests (test_loop_glib.c,
 * test_loop_uv.c). Each test hosts GCD's main queue in a real event loop, the way a GLib or
 * libuv program would: the loop watches _dispatch_get_main_queue_handle_4CF() for
 * readability (level-triggered, as both loops poll) and calls
 * _dispatch_main_queue_callback_4CF(NULL) when it is readable. dispatch_main() is never
 * called.
 *
 * The including file defines the loop driver, then calls run_foreign_loop_tests():
 *   static void loop_watch(int fd);          call loop_on_readable() whenever fd is readable
 *   static void loop_run(void);              run the loop until loop_quit()
 *   static void loop_quit(void);             (called from inside a callback)
 *   static void loop_run_for_ms(unsigned);   run the loop for that long (a loop timer), return
 *
 * Checks (each bounded by test_start):
 *   in_order        before the loop runs, the main thread sends 100 items to the main queue
 *                   and three dispatch_after_f items (90, 60 then 30 ms); once it runs, four
 *                   worker threads send 100 items each and a fifth does dispatch_sync_f onto
 *                   the main queue; an item sent from a main-queue item chains 20 more. Every
 *                   item runs on the loop's thread (gettid() == the thread that runs the
 *                   loop, the main thread), inside the loop's handle callback; each sender's
 *                   items run in the order it sent them (main, each worker, the chain); the
 *                   dispatch_after items run in deadline order (30, 60, 90 ms), none before
 *                   its deadline; the dispatch_sync_f caller gets its answer.
 *   idle            with nothing queued (a dispatch_after item 60 s away pending), the loop
 *                   runs for one second: its handle callback is not called once, and the
 *                   loop thread's CPU time (getrusage RUSAGE_THREAD, user + system) over that
 *                   second stays under 50 ms. This is a spin detector, not a speed
 *                   assertion: a handle that stays readable spins the loop at ~1000 ms.
 *   wake_after_idle a worker sends an item 100 ms after the idle loop restarts: the loop
 *                   wakes and runs it on its thread (an idle loop is asleep, not deaf).
 */
#ifndef CAPI_TESTS_FOREIGN_LOOP_H
#define CAPI_TESTS_FOREIGN_LOOP_H

#include "check.h"

#include <sys/resource.h>

static void loop_watch(int fd);
static void loop_run(void);
static void loop_quit(void);
static void loop_run_for_ms(unsigned ms);

enum { N_MAIN = 100, N_WORKERS = 4, N_PER_WORKER = 100, N_CHAIN = 20, N_AFTER = 3 };

static pid_t loop_tid;
static int in_callback;
static long callbacks;
static long wrong_place; /* items that ran off the loop thread or outside its callback */

/* what has to run before in_order is done */
static int expected_left;

/* The loop calls this when the handle is readable. */
static void loop_on_readable(void)
{
    callbacks++;
    in_callback = 1;
    _dispatch_main_queue_callback_4CF(NULL);
    in_callback = 0;
}

/* Every item calls this first. Items run on the loop thread only, so plain variables. */
static void ran_here(void)
{
    if (my_tid() != loop_tid || !in_callback)
        __atomic_add_fetch(&wrong_place, 1, __ATOMIC_RELAXED);
}

static void one_done(void)
{
    if (--expected_left == 0)
        loop_quit();
}

/* ---- per-sender sequences: seq[s] is the next number sender s must deliver ---- */

enum { S_MAIN, S_CHAIN, S_WORKER0 };
static long seq[S_WORKER0 + N_WORKERS];
static long out_of_order;

static void seq_item(void *ctx)
{
    ran_here();
    uintptr_t v = (uintptr_t)ctx;
    int sender = (int)(v >> 16);
    long n = (long)(v & 0xffff);
    if (seq[sender] != n)
        out_of_order++;
    seq[sender] = n + 1;
    one_done();
}

static void *seq_ctx(int sender, long n)
{
    return (void *)(((uintptr_t)sender << 16) | (uintptr_t)n);
}

static void chain_item(void *ctx)
{
    seq_item(ctx); /* counts itself */
    long n = (long)((uintptr_t)ctx & 0xffff);
    if (n + 1 < N_CHAIN)
        dispatch_async_f(dispatch_get_main_queue(), seq_ctx(S_CHAIN, n + 1), chain_item);
}

/* ---- dispatch_after ---- */

static uint64_t after_t0;
static int after_order[N_AFTER];
static int after_count;
static int after_early;

static void after_item(void *ctx)
{
    ran_here();
    int ms = (int)(intptr_t)ctx;
    if (now_ns() - after_t0 < (uint64_t)ms * 1000000ull)
        after_early++;
    after_order[after_count++] = ms;
    one_done();
}

/* ---- workers ---- */

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    for (long n = 0; n < N_PER_WORKER; n++) {
        dispatch_async_f(dispatch_get_main_queue(), seq_ctx(S_WORKER0 + w, n), seq_item);
        if (n % 10 == 0)
            sleep_ms(1); /* spread over several loop iterations */
    }
    return NULL;
}

static int sync_answer;

static void sync_item(void *ctx)
{
    ran_here();
    *(int *)ctx = 42;
    one_done();
}

static void *sync_worker(void *arg)
{
    UNUSED(arg);
    sleep_ms(5);
    int answer = 0;
    dispatch_sync_f(dispatch_get_main_queue(), &answer, sync_item);
    __atomic_store_n(&sync_answer, answer, __ATOMIC_RELEASE);
    return NULL;
}

static pthread_t workers[N_WORKERS + 1];

static void start_workers(void *ctx)
{
    UNUSED(ctx);
    ran_here();
    for (int w = 0; w < N_WORKERS; w++)
        CHECK(pthread_create(&workers[w], NULL, worker, (void *)(intptr_t)w) == 0, "pthread_create");
    CHECK(pthread_create(&workers[N_WORKERS], NULL, sync_worker, NULL) == 0, "pthread_create");
    dispatch_async_f(dispatch_get_main_queue(), seq_ctx(S_CHAIN, 0), chain_item);
    one_done();
}

static void test_in_order(void)
{
    test_start("in_order", 20);
    expected_left = N_MAIN + N_AFTER + 1 /* start_workers */ + N_WORKERS * N_PER_WORKER + 1 /* sync */ + N_CHAIN;
    after_t0 = now_ns();
    for (int ms = 90; ms >= 30; ms -= 30)
        dispatch_after_f(in_ms(ms), dispatch_get_main_queue(), (void *)(intptr_t)ms, after_item);
    dispatch_async_f(dispatch_get_main_queue(), NULL, start_workers);
    for (long n = 0; n < N_MAIN; n++)
        dispatch_async_f(dispatch_get_main_queue(), seq_ctx(S_MAIN, n), seq_item);
    CHECK(callbacks == 0, "the loop ran before it was started");

    loop_run();

    for (int w = 0; w <= N_WORKERS; w++)
        pthread_join(workers[w], NULL);
    CHECK(expected_left == 0, "%d items did not run", expected_left);
    CHECK(wrong_place == 0, "%ld items ran off the loop thread or outside its handle callback", wrong_place);
    CHECK(out_of_order == 0, "%ld items ran out of their sender's order", out_of_order);
    CHECK(seq[S_MAIN] == N_MAIN, "main sequence at %ld", seq[S_MAIN]);
    CHECK(seq[S_CHAIN] == N_CHAIN, "chain at %ld", seq[S_CHAIN]);
    for (int w = 0; w < N_WORKERS; w++)
        CHECK(seq[S_WORKER0 + w] == N_PER_WORKER, "worker %d sequence at %ld", w, seq[S_WORKER0 + w]);
    CHECK(after_count == N_AFTER, "%d dispatch_after items ran", after_count);
    CHECK(after_order[0] == 30 && after_order[1] == 60 && after_order[2] == 90,
          "dispatch_after items ran in the order %d, %d, %d ms", after_order[0], after_order[1], after_order[2]);
    CHECK(after_early == 0, "%d dispatch_after items ran before their deadline", after_early);
    CHECK(__atomic_load_n(&sync_answer, __ATOMIC_ACQUIRE) == 42, "dispatch_sync_f from a worker got %d", sync_answer);
    CHECK(callbacks > 0, "no callback");
    printf("in_order: %d items in %ld handle callbacks\n",
           N_MAIN + N_AFTER + 2 + N_WORKERS * N_PER_WORKER + N_CHAIN, callbacks);
    OK("in_order");
}

static void never(void *ctx)
{
    UNUSED(ctx);
    ran_here();
}

static uint64_t thread_cpu_ns(void)
{
    struct rusage ru;
    CHECK(getrusage(RUSAGE_THREAD, &ru) == 0, "getrusage: %s", strerror(errno));
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static void test_idle(void)
{
    test_start("idle", 10);
    dispatch_after_f(in_ms(60000), dispatch_get_main_queue(), NULL, never);
    long callbacks_before = callbacks;
    uint64_t cpu0 = thread_cpu_ns();
    loop_run_for_ms(1000);
    uint64_t cpu = thread_cpu_ns() - cpu0;
    long idle_callbacks = callbacks - callbacks_before;
    printf("idle: %ld handle callbacks, %.1f ms of loop-thread CPU in 1 s\n", idle_callbacks, cpu / 1e6);
    CHECK(idle_callbacks == 0, "the handle woke the loop %ld times with nothing queued", idle_callbacks);
    CHECK(cpu < 50 * 1000000ull, "the idle loop thread used %.1f ms of CPU in one second (spinning)", cpu / 1e6);
    CHECK(wrong_place == 0, "an item ran in the wrong place");
    OK("idle");
}

static int late_ran;

static void late_item(void *ctx)
{
    UNUSED(ctx);
    ran_here();
    late_ran = 1;
    loop_quit();
}

static void *late_sender(void *arg)
{
    UNUSED(arg);
    sleep_ms(100);
    dispatch_async_f(dispatch_get_main_queue(), NULL, late_item);
    return NULL;
}

static void test_wake_after_idle(void)
{
    test_start("wake_after_idle", 10);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, late_sender, NULL) == 0, "pthread_create");
    loop_run();
    pthread_join(th, NULL);
    CHECK(late_ran == 1, "the item did not run");
    CHECK(wrong_place == 0, "the item ran off the loop thread or outside its handle callback");
    OK("wake_after_idle");
}

static void run_foreign_loop_tests(void)
{
    loop_tid = my_tid();
    CHECK(loop_tid == getpid(), "the loop must run on the main thread");
    int fd = _dispatch_get_main_queue_handle_4CF();
    CHECK(fd >= 0, "_dispatch_get_main_queue_handle_4CF() = %d", fd);
    loop_watch(fd);
    test_in_order();
    test_idle();
    test_wake_after_idle();
}

#endif
