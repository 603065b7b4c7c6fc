/*
 * test_misuse.c: API misuse aborts the process (SIGABRT) after printing a
 * "BUG IN CLIENT OF LIBDISPATCH:" message naming the misuse.
 *
 * Each case runs in a forked child (expect_abort in check.h); this parent process never
 * calls libdispatch itself, so every child starts from a fresh library.
 *
 *   over_release            releasing a queue more often than it was retained (the queue is
 *                           kept alive by a queue that targets it, so this is no use-after-
 *                           free).
 *   over_resume             dispatch_resume of a queue that is not suspended; resuming a
 *                           once-suspended queue twice.
 *   release_suspended       releasing the last reference of a suspended queue.
 *   release_inactive        releasing the last reference of a never-activated queue.
 *   group_leave_unbalanced  dispatch_group_leave without an enter; one leave too many; one
 *                           leave too many after a notify and a wait set the group's flags
 *                           (the leave's cold path).
 *   wrong_kind              the one-compare type check of the group and semaphore fast
 *                           paths: dispatch_group_enter/leave with a queue, a semaphore or
 *                           NULL, dispatch_semaphore_signal/wait with a group or NULL.
 *   sync_deadlock           dispatch_sync_f onto the serial queue the thread is running:
 *                           from a sync item, from an async item (worker thread), and via
 *                           the target chain (onto a queue targeting the current one).
 *   assert_queue            dispatch_assert_queue(q) outside q: on no queue, and on another.
 *   assert_queue_not        dispatch_assert_queue_not(q) inside an item of q.
 *   assert_queue_barrier    dispatch_assert_queue_barrier(q) in a non-barrier item of a
 *                           concurrent queue.
 *   null_queue              dispatch_async_f / dispatch_sync_f with a NULL queue.
 *   null_retain             dispatch_retain(NULL).
 */
#include "check.h"

static void noop(void *ctx)
{
    UNUSED(ctx);
}

static void signal_ctx(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

/* The main thread of a child waits here (bounded) while a worker is expected to abort. */
static void park_main_thread(void)
{
    sleep_ms(5000);
    static const char msg[] = "the expected abort did not happen within 5 s\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(3);
}

/* ------------------------------------------------------------------ */

static void over_release_queue(void)
{
    dispatch_queue_t t = dispatch_queue_create("misuse.target", NULL);
    dispatch_queue_t q = dispatch_queue_create_with_target("misuse.sub", NULL, t);
    (void)q;
    dispatch_release(t); /* the client's only reference; q still holds t internally */
    dispatch_release(t); /* one too many */
}

static void test_over_release(void)
{
    test_start("over_release", 30);
    CHECK(expect_abort(over_release_queue, "over-release|overrelease"), "over-release of a queue");
    OK("over_release");
}

/* ------------------------------------------------------------------ */

static void over_resume_fresh(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.resume", NULL);
    dispatch_resume(q);
}

static void over_resume_twice(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.resume2", DISPATCH_QUEUE_CONCURRENT);
    dispatch_suspend(q);
    dispatch_resume(q);
    dispatch_resume(q);
}

static void test_over_resume(void)
{
    test_start("over_resume", 30);
    CHECK(expect_abort(over_resume_fresh, "over-resume|overresume"), "resume of a queue never suspended");
    CHECK(expect_abort(over_resume_twice, "over-resume|overresume"), "second resume after one suspend");
    OK("over_resume");
}

/* ------------------------------------------------------------------ */

static void release_suspended(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.suspended", NULL);
    dispatch_suspend(q);
    dispatch_release(q);
}

static void test_release_suspended(void)
{
    test_start("release_suspended", 15);
    CHECK(expect_abort(release_suspended, "suspended"), "release of a suspended queue");
    OK("release_suspended");
}

/* ------------------------------------------------------------------ */

static void release_inactive(void)
{
    dispatch_queue_t q =
        dispatch_queue_create("misuse.inactive", dispatch_queue_attr_make_initially_inactive(DISPATCH_QUEUE_SERIAL));
    dispatch_release(q);
}

static void test_release_inactive(void)
{
    test_start("release_inactive", 15);
    CHECK(expect_abort(release_inactive, "inactive"), "release of an inactive queue");
    OK("release_inactive");
}

/* ------------------------------------------------------------------ */

static void leave_without_enter(void)
{
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_leave(g);
}

static void leave_twice(void)
{
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_enter(g);
    dispatch_group_leave(g);
    dispatch_group_leave(g);
}

static void leave_twice_after_notify_and_wait(void)
{
    dispatch_group_t g = dispatch_group_create();
    dispatch_semaphore_t fired = dispatch_semaphore_create(0);
    dispatch_group_enter(g);
    dispatch_group_notify_f(g, dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), fired, signal_ctx);
    /* A timed-out wait leaves the waiters flag set, so the last leave takes the cold path. */
    if (dispatch_group_wait(g, in_ms(20)) == 0)
        _exit(4);
    dispatch_group_leave(g);
    if (!sem_wait_ms(fired, 5000))
        _exit(5);
    dispatch_group_leave(g);
}

static void test_group_leave_unbalanced(void)
{
    test_start("group_leave_unbalanced", 30);
    CHECK(expect_abort(leave_without_enter, "dispatch_group_leave|unbalanced"), "leave without enter");
    CHECK(expect_abort(leave_twice, "dispatch_group_leave|unbalanced"), "one leave too many");
    CHECK(expect_abort(leave_twice_after_notify_and_wait, "dispatch_group_leave|unbalanced"),
          "one leave too many after a notify and a timed-out wait");
    OK("group_leave_unbalanced");
}

/* ------------------------------------------------------------------ */

static void enter_a_queue(void)
{
    dispatch_group_enter((dispatch_group_t)dispatch_queue_create("misuse.kind", NULL));
}

static void leave_a_semaphore(void)
{
    dispatch_group_leave((dispatch_group_t)dispatch_semaphore_create(1));
}

static void enter_null(void)
{
    dispatch_group_enter((dispatch_group_t)NULL);
}

static void signal_a_group(void)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)dispatch_group_create());
}

static void wait_on_a_queue(void)
{
    dispatch_semaphore_wait((dispatch_semaphore_t)dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0),
                            DISPATCH_TIME_NOW);
}

static void signal_null(void)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)NULL);
}

static void test_wrong_kind(void)
{
    test_start("wrong_kind", 30);
    CHECK(expect_abort(enter_a_queue, "not a dispatch group"), "dispatch_group_enter(queue)");
    CHECK(expect_abort(leave_a_semaphore, "not a dispatch group"), "dispatch_group_leave(semaphore)");
    CHECK(expect_abort(enter_null, "NULL"), "dispatch_group_enter(NULL)");
    CHECK(expect_abort(signal_a_group, "not a dispatch semaphore"), "dispatch_semaphore_signal(group)");
    CHECK(expect_abort(wait_on_a_queue, "not a dispatch semaphore"), "dispatch_semaphore_wait(queue)");
    CHECK(expect_abort(signal_null, "NULL"), "dispatch_semaphore_signal(NULL)");
    OK("wrong_kind");
}

/* ------------------------------------------------------------------ */

#define SYNC_NEEDLE "already owned|deadlock|dispatch_sync"

static void sync_onto_ctx_queue(void *ctx)
{
    dispatch_sync_f((dispatch_queue_t)ctx, NULL, noop);
}

static void sync_deadlock_direct(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.sync", NULL);
    dispatch_sync_f(q, q, sync_onto_ctx_queue);
}

static void sync_deadlock_from_async(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.sync.async", NULL);
    dispatch_async_f(q, q, sync_onto_ctx_queue);
    park_main_thread();
}

static void sync_deadlock_target_chain(void)
{
    dispatch_queue_t t = dispatch_queue_create("misuse.sync.target", NULL);
    dispatch_queue_t q = dispatch_queue_create_with_target("misuse.sync.sub", NULL, t);
    /* inside an item of t, sync onto q whose target is t */
    dispatch_sync_f(t, q, sync_onto_ctx_queue);
}

static void sync_deadlock_target_chain_async(void)
{
    dispatch_queue_t t = dispatch_queue_create("misuse.sync.target2", NULL);
    dispatch_queue_t mid = dispatch_queue_create_with_target("misuse.sync.mid", NULL, t);
    dispatch_queue_t q = dispatch_queue_create_with_target("misuse.sync.leaf", NULL, mid);
    dispatch_async_f(t, q, sync_onto_ctx_queue);
    park_main_thread();
}

static void test_sync_deadlock(void)
{
    test_start("sync_deadlock", 50);
    CHECK(expect_abort(sync_deadlock_direct, SYNC_NEEDLE), "sync onto the current queue from a sync item");
    CHECK(expect_abort(sync_deadlock_from_async, SYNC_NEEDLE), "sync onto the current queue from an async item");
    CHECK(expect_abort(sync_deadlock_target_chain, SYNC_NEEDLE), "sync onto a queue targeting the current one");
    CHECK(expect_abort(sync_deadlock_target_chain_async, SYNC_NEEDLE),
          "sync from an async item of t onto a queue two levels below t");
    OK("sync_deadlock");
}

/* ------------------------------------------------------------------ */

static void assert_outside(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.assert", NULL);
    dispatch_assert_queue(q);
}

static void assert_ctx_queue(void *ctx)
{
    dispatch_assert_queue((dispatch_queue_t)ctx);
}

static void assert_on_other(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.assert.q", NULL);
    dispatch_queue_t other = dispatch_queue_create("misuse.assert.other", NULL);
    dispatch_async_f(other, q, assert_ctx_queue);
    park_main_thread();
}

static void test_assert_queue(void)
{
    test_start("assert_queue", 30);
    CHECK(expect_abort(assert_outside, "expected to execute"), "dispatch_assert_queue on no queue");
    CHECK(expect_abort(assert_on_other, "expected to execute"), "dispatch_assert_queue on another queue");
    OK("assert_queue");
}

/* ------------------------------------------------------------------ */

static void assert_not_ctx_queue(void *ctx)
{
    dispatch_assert_queue_not((dispatch_queue_t)ctx);
}

static void assert_not_inside(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.assertnot", NULL);
    dispatch_sync_f(q, q, assert_not_ctx_queue);
}

static void assert_not_inside_async(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.assertnot.async", DISPATCH_QUEUE_CONCURRENT);
    dispatch_async_f(q, q, assert_not_ctx_queue);
    park_main_thread();
}

static void test_assert_queue_not(void)
{
    test_start("assert_queue_not", 30);
    CHECK(expect_abort(assert_not_inside, "not to execute|not expected"), "assert_queue_not inside a sync item");
    CHECK(expect_abort(assert_not_inside_async, "not to execute|not expected"),
          "assert_queue_not inside an async item of a concurrent queue");
    OK("assert_queue_not");
}

/* ------------------------------------------------------------------ */

static void assert_barrier_ctx_queue(void *ctx)
{
    dispatch_assert_queue_barrier((dispatch_queue_t)ctx);
}

static void assert_barrier_in_async(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.barrier", DISPATCH_QUEUE_CONCURRENT);
    dispatch_async_f(q, q, assert_barrier_ctx_queue);
    park_main_thread();
}

static void assert_barrier_in_sync(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.barrier.sync", DISPATCH_QUEUE_CONCURRENT);
    dispatch_sync_f(q, q, assert_barrier_ctx_queue);
}

static void test_assert_queue_barrier(void)
{
    test_start("assert_queue_barrier", 30);
    CHECK(expect_abort(assert_barrier_in_async, "barrier"), "assert_queue_barrier in a non-barrier async item");
    CHECK(expect_abort(assert_barrier_in_sync, "barrier"), "assert_queue_barrier in a non-barrier sync item");
    OK("assert_queue_barrier");
}

/* ------------------------------------------------------------------ */

static void async_null_queue(void)
{
    dispatch_async_f((dispatch_queue_t)NULL, NULL, noop);
}

static void sync_null_queue(void)
{
    dispatch_sync_f((dispatch_queue_t)NULL, NULL, noop);
}

static void test_null_queue(void)
{
    test_start("null_queue", 30);
    CHECK(expect_abort(async_null_queue, "NULL"), "dispatch_async_f(NULL, ...)");
    CHECK(expect_abort(sync_null_queue, "NULL"), "dispatch_sync_f(NULL, ...)");
    OK("null_queue");
}

static void retain_null(void)
{
    dispatch_retain((dispatch_queue_t)NULL);
}

static void test_null_retain(void)
{
    test_start("null_retain", 15);
    CHECK(expect_abort(retain_null, "NULL"), "dispatch_retain(NULL)");
    OK("null_retain");
}

int main(void)
{
    test_over_release();
    test_over_resume();
    test_release_suspended();
    test_release_inactive();
    test_group_leave_unbalanced();
    test_wrong_kind();
    test_sync_deadlock();
    test_assert_queue();
    test_assert_queue_not();
    test_assert_queue_barrier();
    test_null_queue();
    test_null_retain();
    return 0;
}
