/*
 * fork(): the child of a process with dispatch threads gets a working runtime of its
 * own; the parent's timers and sources never fire in the child; a queue another thread
 * was draining at the fork aborts when the child uses it; the parent carries on.
 */
#include "check.h"
#include <dispatch/private.h>

static atomic_int counter;
static atomic_int parent_timer_fires;
static atomic_int child_timer_fires;
static atomic_int far_after_ran;

static void inc(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void signal_sem(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

static void noop(void *ctx)
{
    UNUSED(ctx);
}

static void parent_timer(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&parent_timer_fires, 1);
}

static dispatch_semaphore_t child_timer_done;
static void child_timer(void *ctx)
{
    UNUSED(ctx);
    if (atomic_fetch_add(&child_timer_fires, 1) + 1 == 3)
        dispatch_semaphore_signal(child_timer_done);
}

/* Waits for the child and requires it to have exited with status 0. */
static void reap(pid_t pid, const char *what)
{
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    CHECK(w == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child failed (status 0x%x)", what, status);
}

/* Async onto `q` runs (bounded wait). */
static bool async_runs(dispatch_queue_t q)
{
    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    dispatch_async_f(q, s, signal_sem);
    bool ran = sem_wait_ms(s, 5000);
    dispatch_release(s);
    return ran;
}

/* What every child checks: async to new and existing serial queues and a global queue,
 * a group, dispatch_after and a new timer source all work. */
static void child_runtime_works(dispatch_queue_t existing_serial)
{
    dispatch_queue_t fresh = dispatch_queue_create("child.serial", NULL);
    CHECK(async_runs(fresh), "async to a new serial queue ran in the child");
    CHECK(async_runs(existing_serial), "async to an existing serial queue ran in the child");
    CHECK(async_runs(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0)),
          "async to a global queue ran in the child");

    atomic_store(&counter, 0);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 20; i++) {
        dispatch_group_async_f(g, dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0), &counter, inc);
        dispatch_group_async_f(g, fresh, &counter, inc);
    }
    CHECK(group_wait_ms(g, 5000), "group wait in the child");
    CHECK(atomic_load(&counter) == 40, "group ran %d of 40", atomic_load(&counter));
    dispatch_release(g);

    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    dispatch_after_f(in_ms(20), dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0), s, signal_sem);
    CHECK(sem_wait_ms(s, 5000), "dispatch_after ran in the child");
    dispatch_release(s);

    child_timer_done = dispatch_semaphore_create(0);
    dispatch_source_t t = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, fresh);
    dispatch_source_set_timer(t, in_ms(5), 5 * NSEC_PER_MSEC, 0);
    dispatch_source_set_event_handler_f(t, child_timer);
    dispatch_resume(t);
    CHECK(sem_wait_ms(child_timer_done, 5000), "a new timer source fired 3 times in the child (%d)",
          atomic_load(&child_timer_fires));
    dispatch_source_cancel(t);
    dispatch_release(t);
    dispatch_release(fresh);
}

/* ---- 1. a process that never called dispatch at all, then one without threads ---- */

static void fork_before_any_dispatch_call(void)
{
    test_start("fork before any dispatch call", 20);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        test_start("child of a process that never called dispatch", 20);
        CHECK(!_dispatch_is_fork_of_multithreaded_parent(), "the parent had no dispatch threads");
        dispatch_queue_t q = dispatch_queue_create("fresh.serial", NULL);
        child_runtime_works(q);
        _exit(0);
    }
    reap(pid, "fork before any dispatch call");
    OK("fork before any dispatch call: the child works");
}

static void fork_without_threads(void)
{
    test_start("fork before any dispatch thread", 20);
    dispatch_queue_t q = dispatch_queue_create("nothreads.serial", NULL);
    dispatch_sync_f(q, &counter, inc); /* runs on this thread: no worker */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        test_start("child of a process without dispatch threads", 20);
        CHECK(!_dispatch_is_fork_of_multithreaded_parent(), "the parent had no dispatch threads");
        child_runtime_works(q);
        _exit(0);
    }
    reap(pid, "fork before any dispatch thread");
    dispatch_release(q);
    OK("fork from a process without dispatch threads: the child works, the query is false");
}

/* ---- 2. a process with workers, monitor, event thread, a live timer and a far after ---- */

static void fork_with_threads(void)
{
    test_start("fork with live dispatch threads", 30);
    dispatch_queue_t serial = dispatch_queue_create("parent.serial", NULL);
    dispatch_queue_t global = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);

    /* workers (and with them the monitor) on global and serial queues */
    atomic_store(&counter, 0);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < 200; i++) {
        dispatch_group_async_f(g, global, &counter, inc);
        dispatch_group_async_f(g, serial, &counter, inc);
    }
    CHECK(group_wait_ms(g, 5000), "parent group");
    dispatch_release(g);

    /* the event thread: a repeating timer source and a dispatch_after an hour away */
    dispatch_source_t timer = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, global);
    dispatch_source_set_timer(timer, in_ms(1), 2 * NSEC_PER_MSEC, 0);
    dispatch_source_set_event_handler_f(timer, parent_timer);
    dispatch_resume(timer);
    dispatch_after_f(in_ms(3600 * 1000), global, &far_after_ran, inc);
    while (atomic_load(&parent_timer_fires) < 3)
        sleep_ms(1);

    /* the main queue's loop handle exists before the fork */
    int handle = _dispatch_get_main_queue_handle_4CF();
    sleep_ms(20); /* let the workers park: the child inherits "parked" sleepers */

    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        test_start("child of a process with dispatch threads", 20);
        int fires_at_fork = atomic_load(&parent_timer_fires);
        CHECK(_dispatch_is_fork_of_multithreaded_parent(), "the parent had dispatch threads");
        CHECK(dispatch_source_testcancel(timer), "the parent's timer source is cancelled in the child");
        child_runtime_works(serial);

        /* the main queue, drained through its loop handle (now the child's own eventfd) */
        atomic_store(&counter, 0);
        dispatch_async_f(dispatch_get_main_queue(), &counter, inc);
        struct pollfd pfd = { handle, POLLIN, 0 };
        CHECK(poll(&pfd, 1, 5000) == 1, "the main queue's handle became readable in the child");
        _dispatch_main_queue_callback_4CF(NULL);
        CHECK(atomic_load(&counter) == 1, "the main queue item ran in the child");

        sleep_ms(30); /* fifteen periods of the parent's timer */
        CHECK(atomic_load(&parent_timer_fires) == fires_at_fork, "the parent's timer fired %d times in the child",
              atomic_load(&parent_timer_fires) - fires_at_fork);
        CHECK(atomic_load(&far_after_ran) == 0, "the parent's dispatch_after did not run");
        _exit(0);
    }
    reap(pid, "fork with live dispatch threads");

    /* the parent carries on: its timer keeps firing, async runs, and the child's main
     * queue wake-up did not reach the parent's handle */
    struct pollfd pfd = { handle, POLLIN, 0 };
    CHECK(poll(&pfd, 1, 0) == 0, "the child's main-queue wake-up reached the parent's handle");
    int fires = atomic_load(&parent_timer_fires);
    while (atomic_load(&parent_timer_fires) < fires + 3)
        sleep_ms(1);
    CHECK(async_runs(serial) && async_runs(global), "async in the parent after the fork");
    dispatch_source_cancel(timer);
    dispatch_release(timer);
    dispatch_release(serial);
    OK("fork with workers, monitor, event thread: the child works, the parent's timers stay in the parent");
}

/* ---- 3. fork from inside a queue this thread holds: the child may keep using it ---- */

static dispatch_queue_t held_queue;
static void fork_inside(void *ctx)
{
    UNUSED(ctx);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        test_start("child forked inside a sync block", 20);
        atomic_store(&counter, 0);
        dispatch_async_f(held_queue, &counter, inc); /* runs once the sync below returns */
        return;
    }
    *(pid_t *)ctx = pid;
}

static void fork_inside_held_queue(void)
{
    test_start("fork inside dispatch_sync", 20);
    held_queue = dispatch_queue_create("held.serial", NULL);
    pid_t pid = 0;
    dispatch_sync_f(held_queue, &pid, fork_inside);
    if (pid == 0) { /* the child, back from the sync */
        dispatch_semaphore_t s = dispatch_semaphore_create(0);
        dispatch_async_f(held_queue, s, signal_sem);
        CHECK(sem_wait_ms(s, 5000), "the queue the forking thread held works in the child");
        CHECK(atomic_load(&counter) == 1, "the item pushed inside the held queue ran");
        _exit(0);
    }
    reap(pid, "fork inside dispatch_sync");
    dispatch_release(held_queue);
    OK("a queue the forking thread held stays usable in the child");
}

/* ---- 4. a queue another thread was draining at the fork ---- */

static dispatch_queue_t busy_queue;
static dispatch_semaphore_t entered, release_blocker;

static void blocker(void *ctx)
{
    UNUSED(ctx);
    dispatch_semaphore_signal(entered);
    dispatch_semaphore_wait(release_blocker, DISPATCH_TIME_FOREVER);
}

static void async_to_busy_queue(void)
{
    dispatch_async_f(busy_queue, NULL, noop);
    sleep_ms(2000); /* the old code strands the item silently */
}

static void sync_to_busy_queue(void)
{
    dispatch_sync_f(busy_queue, NULL, noop);
}

static void async_to_queue_targeting_busy_queue(void)
{
    dispatch_queue_t q = dispatch_queue_create_with_target("above.busy", NULL, busy_queue);
    dispatch_async_f(q, NULL, noop);
    sleep_ms(2000);
}

static void fork_while_queue_drained(void)
{
    test_start("fork while another thread drains a queue", 60);
    busy_queue = dispatch_queue_create("busy.serial", NULL);
    entered = dispatch_semaphore_create(0);
    release_blocker = dispatch_semaphore_create(0);
    dispatch_async_f(busy_queue, NULL, blocker);
    CHECK(sem_wait_ms(entered, 5000), "the blocker started");
    const char *needle = "was being drained by another thread at fork()";
    CHECK(expect_abort(async_to_busy_queue, needle), "dispatch_async onto the stranded queue aborts");
    CHECK(expect_abort(sync_to_busy_queue, needle), "dispatch_sync onto the stranded queue aborts");
    CHECK(expect_abort(async_to_queue_targeting_busy_queue, needle),
          "work reaching the stranded queue through a target aborts");
    dispatch_semaphore_signal(release_blocker);
    CHECK(async_runs(busy_queue), "the queue still works in the parent");
    dispatch_release(busy_queue);
    OK("using a queue another thread was draining at fork() aborts in the child");
}

int main(void)
{
    fork_before_any_dispatch_call(); /* first: nothing of the library used yet */
    fork_without_threads();          /* then: no dispatch thread may exist yet */
    fork_with_threads();
    fork_inside_held_queue();
    fork_while_queue_drained();
    return 0;
}
