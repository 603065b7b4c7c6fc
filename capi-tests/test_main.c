/*
 * test_main.c: the main queue and dispatch_main().
 *
 * Each check forks a child (before this process uses libdispatch at all); the child calls
 * dispatch_main() and its main-queue items end it with exit(0) when everything held, or
 * exit(N) naming what failed. The parent checks the exit status within a bounded wait.
 *
 *   main_fifo_main_thread  items put on the main queue before dispatch_main (from the main
 *                          thread) and from another thread run on the main thread
 *                          (gettid() == getpid()), in FIFO order; the current queue inside
 *                          them is the main queue and dispatch_assert_queue(main) passes;
 *                          dispatch_main() never returns.
 *   main_from_workers      items sent later from global-queue items, a dispatch_after_f onto
 *                          the main queue and a dispatch_sync_f onto the main queue from a
 *                          worker thread all run on the main thread.
 */
#include "check.h"

#define N_ITEMS 200

/* ---- shared by the children (each child has its own copy) ---- */

static pid_t main_tid;
static pthread_t main_pthread;
static int next_expected;        /* touched only on the main queue */
static int fail_code;            /* first failure, touched only on the main queue */
static uint64_t fail_seen;       /* failures already reported (bit per code - 10) */

/* Records a failure: the child's exit status is the first code; each kind is printed once. */
static void fail_once(int code, const char *what)
{
    if (fail_code == 0)
        fail_code = code;
    uint64_t bit = 1ull << ((unsigned)(code - 10) % 64);
    if (!(fail_seen & bit)) {
        fail_seen |= bit;
        fprintf(stderr, "child: %s\n", what);
    }
}

static void check_on_main(void)
{
    if (my_tid() != getpid() || my_tid() != main_tid)
        fail_once(10, "a main-queue item ran on a thread other than the main thread");
    if (!pthread_equal(pthread_self(), main_pthread))
        fail_once(11, "a main-queue item ran on another pthread");
    if (dispatch_get_current_queue() != dispatch_get_main_queue())
        fail_once(12, "inside a main-queue item the current queue is not the main queue");
}

static void ordered_item(void *ctx)
{
    int id = (int)(intptr_t)ctx;
    check_on_main();
    dispatch_assert_queue(dispatch_get_main_queue());
    if (id != next_expected)
        fail_once(13, "main-queue items ran out of order");
    next_expected = id + 1;
}

static void finish_item(void *ctx)
{
    int expected_count = (int)(intptr_t)ctx;
    check_on_main();
    if (next_expected != expected_count)
        fail_once(14, "the final item ran before all earlier items");
    fflush(stderr);
    exit(fail_code);
}

static void *producer(void *arg)
{
    UNUSED(arg);
    sleep_ms(20); /* the main thread is in dispatch_main() by now, most likely */
    for (intptr_t i = N_ITEMS / 2; i < N_ITEMS; i++)
        dispatch_async_f(dispatch_get_main_queue(), (void *)i, ordered_item);
    dispatch_async_f(dispatch_get_main_queue(), (void *)(intptr_t)N_ITEMS, finish_item);
    return NULL;
}

static void child_fifo(void)
{
    main_tid = my_tid();
    main_pthread = pthread_self();
    for (intptr_t i = 0; i < N_ITEMS / 2; i++)
        dispatch_async_f(dispatch_get_main_queue(), (void *)i, ordered_item);
    pthread_t th;
    if (pthread_create(&th, NULL, producer, NULL) != 0)
        _exit(20);
    dispatch_main();
    fprintf(stderr, "child: dispatch_main() returned\n");
    _exit(21);
}

/* ---- second child ---- */

static atomic_int workers_done;

struct sync_result {
    pid_t tid;
    int ran;
};

static void sync_on_main(void *ctx)
{
    struct sync_result *r = ctx;
    r->tid = my_tid();
    r->ran = 1;
}

static void from_worker_item(void *ctx)
{
    UNUSED(ctx);
    check_on_main();
    atomic_fetch_add(&workers_done, 1);
}

static void after_item(void *ctx);

static void worker_item(void *ctx)
{
    UNUSED(ctx);
    dispatch_async_f(dispatch_get_main_queue(), NULL, from_worker_item);
}

static void sync_worker(void *ctx)
{
    UNUSED(ctx);
    struct sync_result r = { 0, 0 };
    dispatch_sync_f(dispatch_get_main_queue(), &r, sync_on_main);
    /* report back on the main queue */
    dispatch_async_f(dispatch_get_main_queue(), (void *)(intptr_t)(r.ran && r.tid == getpid() ? 1 : 2), after_item);
}

static int phases_seen;

static void after_item(void *ctx)
{
    int what = (int)(intptr_t)ctx;
    check_on_main();
    if (what == 2)
        fail_once(30, "dispatch_sync_f onto the main queue did not run on the main thread");
    phases_seen++;
    /* two reports: the after timer (0) and the sync worker (1 or 2) */
    if (phases_seen == 2) {
        if (atomic_load(&workers_done) != 20)
            fail_once(31, "not every item sent from a worker ran on the main queue before the end");
        fflush(stderr);
        exit(fail_code);
    }
}

static void child_workers(void)
{
    main_tid = my_tid();
    main_pthread = pthread_self();
    dispatch_queue_t gq = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    for (int i = 0; i < 20; i++)
        dispatch_async_f(gq, NULL, worker_item);
    dispatch_async_f(gq, NULL, sync_worker);
    dispatch_after_f(dispatch_time(DISPATCH_TIME_NOW, 200 * (int64_t)NSEC_PER_MSEC), dispatch_get_main_queue(),
                     (void *)0, after_item);
    dispatch_main();
    fprintf(stderr, "child: dispatch_main() returned\n");
    _exit(21);
}

/* ---- parent ---- */

/* Runs fn in a child; returns true (and prints ok) when it exited with status 0. */
static bool run_child(const char *name, void (*fn)(void))
{
    test_start(name, 20);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        /* SIGALRM (default action) ends a stuck child */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGALRM, &sa, NULL);
        alarm(10);
        fn();
        _exit(22);
    }
    int status = 0;
    uint64_t deadline = now_ns() + 12ull * 1000000000ull;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ns() < deadline)
        sleep_ms(5);
    alarm(0);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "FAIL %s: the child did not exit within 12 s\n", name);
        return false;
    }
    CHECK(w == pid, "waitpid failed");
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "FAIL %s: the child died of signal %d%s\n", name, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timed out: main-queue items did not finish)" : "");
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "FAIL %s: the child exited with status %d\n", name, WEXITSTATUS(status));
        return false;
    }
    OK(name);
    return true;
}

int main(void)
{
    bool ok = true;
    ok &= run_child("main_fifo_main_thread", child_fifo);
    ok &= run_child("main_from_workers", child_workers);
    return ok ? 0 : 1;
}
