/*
 * A group with members outlives the client's last reference, as libdispatch's does (it
 * retains itself while it has members): the last leave frees it. dispatch_group_async
 * items hold their group by address only (no reference per item), so this is also what
 * keeps them safe when the client releases the group right after submitting.
 *
 *   release_while_entered      enter, release (the client's last reference), then leave
 *                              from another thread: the group's finalizer has not run
 *                              before the leave, and runs once after it. (The old code
 *                              aborted: "Group object deallocated while in use".)
 *   release_after_group_async  2,000 dispatch_group_async_f items on a global queue and a
 *                              notification, then release at once: every item runs, the
 *                              notification fires once, after all of them, and the
 *                              finalizer runs once, after the notification was submitted.
 *   nested_after_release       items of a released group submit more items to it (they
 *                              are members, so the group is alive): all 1 + 10 + 100 run
 *                              and the notification sees every one.
 *   release_empty              a released empty group is freed at once (finalizer runs).
 *   release_racing_leave       4 threads x 2,000 rounds of: create, enter, a global-queue
 *                              item that leaves, release at once (racing the leave, which
 *                              may come first or last): every group is finalized exactly
 *                              once.
 */
#include "check.h"

static atomic_int finalized, ran, notified_at;
static dispatch_semaphore_t done;

static void finalizer(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&finalized, 1);
    dispatch_semaphore_signal(done);
}

static dispatch_group_t new_group(void)
{
    dispatch_group_t g = dispatch_group_create();
    dispatch_set_context(g, g);
    dispatch_set_finalizer_f(g, finalizer);
    return g;
}

static void leave_later(void *ctx)
{
    usleep(20 * 1000);
    CHECK(atomic_load(&finalized) == 0, "the group was freed while it had a member");
    dispatch_group_leave((dispatch_group_t)ctx);
}

static void test_release_while_entered(void)
{
    test_start("release_while_entered", 30);
    atomic_store(&finalized, 0);
    dispatch_group_t g = new_group();
    dispatch_group_enter(g);
    dispatch_release(g);
    dispatch_async_f(dispatch_get_global_queue(0, 0), g, leave_later);
    CHECK(sem_wait_ms(done, 10000), "the finalizer never ran");
    usleep(10 * 1000);
    CHECK(atomic_load(&finalized) == 1, "finalizer ran %d times", atomic_load(&finalized));
    OK("release_while_entered");
}

static void item(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, 1);
}

static void notify(void *ctx)
{
    (void)ctx;
    CHECK(atomic_load(&notified_at) == -1, "notified twice");
    atomic_store(&notified_at, atomic_load(&ran));
}

/* The finalizer may run before the notification: the notification's reference goes once it
 * is submitted, not once it has run. Waits (up to 10 s) for it to have run. */
static void wait_for_notify(void)
{
    for (int i = 0; i < 10000 && atomic_load(&notified_at) == -1; i++)
        usleep(1000);
}

static void test_release_after_group_async(void)
{
    test_start("release_after_group_async", 30);
    for (int round = 0; round < 20; round++) {
        atomic_store(&finalized, 0);
        atomic_store(&ran, 0);
        atomic_store(&notified_at, -1);
        dispatch_group_t g = new_group();
        dispatch_queue_t q = dispatch_get_global_queue(0, 0);
        for (int i = 0; i < 2000; i++)
            dispatch_group_async_f(g, q, NULL, item);
        dispatch_group_notify_f(g, q, NULL, notify);
        dispatch_release(g);
        CHECK(sem_wait_ms(done, 10000), "round %d: the finalizer never ran", round);
        wait_for_notify();
        CHECK(atomic_load(&notified_at) == 2000, "round %d: notified with %d of 2000 items run", round,
              atomic_load(&notified_at));
        CHECK(atomic_load(&ran) == 2000, "round %d: %d items ran", round, atomic_load(&ran));
        CHECK(atomic_load(&finalized) == 1, "round %d: finalizer ran %d times", round, atomic_load(&finalized));
    }
    OK("release_after_group_async");
}

static dispatch_group_t nested_group;

static void branch(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, 1);
    usleep(1000);
    for (int i = 0; i < 10; i++)
        dispatch_group_async_f(nested_group, dispatch_get_global_queue(0, 0), NULL, item);
}

static void root(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, 1);
    usleep(5000); /* the client has released the group by now */
    for (int i = 0; i < 10; i++)
        dispatch_group_async_f(nested_group, dispatch_get_global_queue(0, 0), NULL, branch);
}

static void test_nested_after_release(void)
{
    test_start("nested_after_release", 30);
    atomic_store(&finalized, 0);
    atomic_store(&ran, 0);
    atomic_store(&notified_at, -1);
    nested_group = new_group();
    dispatch_group_async_f(nested_group, dispatch_get_global_queue(0, 0), NULL, root);
    dispatch_group_notify_f(nested_group, dispatch_get_global_queue(0, 0), NULL, notify);
    dispatch_release(nested_group);
    CHECK(sem_wait_ms(done, 10000), "the finalizer never ran");
    wait_for_notify();
    CHECK(atomic_load(&notified_at) == 111, "notified with %d of 111 items run", atomic_load(&notified_at));
    CHECK(atomic_load(&finalized) == 1, "finalizer ran %d times", atomic_load(&finalized));
    OK("nested_after_release");
}

static void test_release_empty(void)
{
    test_start("release_empty", 30);
    atomic_store(&finalized, 0);
    dispatch_group_t g = new_group();
    dispatch_group_enter(g);
    dispatch_group_leave(g);
    dispatch_release(g);
    CHECK(sem_wait_ms(done, 10000), "the finalizer never ran");
    CHECK(atomic_load(&finalized) == 1, "finalizer ran %d times", atomic_load(&finalized));
    OK("release_empty");
}

static atomic_int race_finalized;

static void race_finalizer(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&race_finalized, 1);
}

static void race_leave(void *ctx) { dispatch_group_leave((dispatch_group_t)ctx); }

static void *race_rounds(void *arg)
{
    (void)arg;
    dispatch_queue_t q = dispatch_get_global_queue(0, 0);
    for (int i = 0; i < 2000; i++) {
        dispatch_group_t g = dispatch_group_create();
        dispatch_set_context(g, g);
        dispatch_set_finalizer_f(g, race_finalizer);
        dispatch_group_enter(g);
        dispatch_async_f(q, g, race_leave);
        dispatch_release(g);
    }
    return NULL;
}

static void test_release_racing_leave(void)
{
    test_start("release_racing_leave", 60);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, race_rounds, NULL) == 0, "pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 20000 && atomic_load(&race_finalized) < 8000; i++)
        usleep(1000);
    usleep(20 * 1000);
    CHECK(atomic_load(&race_finalized) == 8000, "%d of 8000 groups finalized", atomic_load(&race_finalized));
    OK("release_racing_leave");
}

int main(void)
{
    done = dispatch_semaphore_create(0);
    test_release_while_entered();
    test_release_after_group_async();
    test_nested_after_release();
    test_release_empty();
    test_release_racing_leave();
    return 0;
}
