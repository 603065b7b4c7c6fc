/*
 * test_global.c: global (root) queues.
 *
 *   every_class_runs      each QoS class and each legacy priority gives a non-NULL queue,
 *                         the same pointer on repeated calls, and an item submitted to it
 *                         runs (with that queue as the current queue).
 *   legacy_mapping        dispatch_get_global_queue(0, 0) is the QOS_CLASS_DEFAULT queue;
 *                         HIGH/DEFAULT/LOW/BACKGROUND give the USER_INITIATED/DEFAULT/
 *                         UTILITY/BACKGROUND queues.
 *   global_is_concurrent  two items of the default global queue run at the same time.
 *   background_priority   an item on the BACKGROUND queue runs at a lower OS priority
 *                         (getpriority > the process's), an item on USER_INITIATED at the
 *                         process's own; alternating many times (worker threads are reused).
 *   overcommit            DISPATCH_QUEUE_OVERCOMMIT gives a queue that runs 8 blocking items
 *                         at once on this machine, whatever its number of CPUs.
 *   retain_release_noop   dispatch_retain/dispatch_release on a global queue have no effect.
 *   item_behind_blocker   300 times: an item that blocks until a second item runs, then that
 *                         second item pushed right behind it: the second always runs (the
 *                         first gives up after 5 s). A push onto a non-empty run list wakes
 *                         nobody itself; the worker that takes the item below must see it
 *                         counted and get it a thread. Also in a forked child bound to one
 *                         CPU (a pool of one worker), run first, before the library is used.
 *                         A liveness check of the whole path; the race it guards against
 *                         (the count made after the append) is a few instructions wide and
 *                         is checked by the loom model `skipped_look_is_covered`.
 */
#include "check.h"

#include <sys/resource.h>

struct ran {
    dispatch_queue_t current;
    dispatch_semaphore_t done;
};

static void record_current(void *ctx)
{
    struct ran *r = ctx;
    r->current = dispatch_get_current_queue();
    dispatch_semaphore_signal(r->done);
}

static const struct {
    intptr_t id;
    const char *name;
} ids[] = {
    { QOS_CLASS_USER_INTERACTIVE, "QOS_CLASS_USER_INTERACTIVE" },
    { QOS_CLASS_USER_INITIATED, "QOS_CLASS_USER_INITIATED" },
    { QOS_CLASS_DEFAULT, "QOS_CLASS_DEFAULT" },
    { QOS_CLASS_UTILITY, "QOS_CLASS_UTILITY" },
    { QOS_CLASS_BACKGROUND, "QOS_CLASS_BACKGROUND" },
    { QOS_CLASS_MAINTENANCE, "QOS_CLASS_MAINTENANCE" },
    { DISPATCH_QUEUE_PRIORITY_HIGH, "DISPATCH_QUEUE_PRIORITY_HIGH" },
    { DISPATCH_QUEUE_PRIORITY_DEFAULT, "DISPATCH_QUEUE_PRIORITY_DEFAULT" },
    { DISPATCH_QUEUE_PRIORITY_LOW, "DISPATCH_QUEUE_PRIORITY_LOW" },
    { DISPATCH_QUEUE_PRIORITY_BACKGROUND, "DISPATCH_QUEUE_PRIORITY_BACKGROUND" },
};

#define NIDS (sizeof ids / sizeof ids[0])

static void test_every_class_runs(void)
{
    test_start("every_class_runs", 15);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    for (size_t i = 0; i < NIDS; i++) {
        dispatch_queue_t q = dispatch_get_global_queue(ids[i].id, 0);
        CHECK(q != NULL, "dispatch_get_global_queue(%s, 0) returned NULL", ids[i].name);
        CHECK(dispatch_get_global_queue(ids[i].id, 0) == q, "%s: a second call gave another queue", ids[i].name);
        struct ran r = { NULL, done };
        dispatch_async_f(q, &r, record_current);
        CHECK(sem_wait_ms(done, 3000), "%s: an item did not run within 3 s", ids[i].name);
        CHECK(r.current == q, "%s: the item's current queue is %p, not %p", ids[i].name, (void *)r.current,
              (void *)q);
    }
    /* distinct QoS classes are distinct queues */
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            CHECK(dispatch_get_global_queue(ids[i].id, 0) != dispatch_get_global_queue(ids[j].id, 0),
                  "%s and %s are the same queue", ids[i].name, ids[j].name);
    dispatch_release(done);
    OK("every_class_runs");
}

/* ------------------------------------------------------------------ */

static void test_legacy_mapping(void)
{
    test_start("legacy_mapping", 5);
    CHECK(dispatch_get_global_queue(0, 0) == dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0),
          "dispatch_get_global_queue(0, 0) is not the QOS_CLASS_DEFAULT queue");
    CHECK(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_HIGH, 0) ==
              dispatch_get_global_queue(QOS_CLASS_USER_INITIATED, 0),
          "PRIORITY_HIGH is not the USER_INITIATED queue");
    CHECK(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0) ==
              dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0),
          "PRIORITY_DEFAULT is not the DEFAULT queue");
    CHECK(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_LOW, 0) == dispatch_get_global_queue(QOS_CLASS_UTILITY, 0),
          "PRIORITY_LOW is not the UTILITY queue");
    CHECK(dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_BACKGROUND, 0) ==
              dispatch_get_global_queue(QOS_CLASS_BACKGROUND, 0),
          "PRIORITY_BACKGROUND is not the BACKGROUND queue");
    OK("legacy_mapping");
}

/* ------------------------------------------------------------------ */

static atomic_int rv_started;
static atomic_int rv_saw_all;

static void rendezvous(void *ctx)
{
    int want = (int)(intptr_t)ctx;
    atomic_fetch_add(&rv_started, 1);
    uint64_t deadline = now_ns() + 3ull * 1000000000ull;
    while (atomic_load(&rv_started) < want && now_ns() < deadline)
        sleep_ms(1);
    if (atomic_load(&rv_started) >= want)
        atomic_fetch_add(&rv_saw_all, 1);
}

static void run_rendezvous(dispatch_queue_t q, int n, const char *what)
{
    atomic_store(&rv_started, 0);
    atomic_store(&rv_saw_all, 0);
    dispatch_group_t g = dispatch_group_create();
    for (int i = 0; i < n; i++)
        dispatch_group_async_f(g, q, (void *)(intptr_t)n, rendezvous);
    CHECK(group_wait_ms(g, 8000), "%s: the items did not finish within 8 s", what);
    CHECK(atomic_load(&rv_saw_all) == n, "%s: only %d of %d items saw all %d running at once", what,
          atomic_load(&rv_saw_all), n, n);
    dispatch_release(g);
}

static void test_global_is_concurrent(void)
{
    test_start("global_is_concurrent", 12);
    run_rendezvous(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), 2, "default global queue");
    OK("global_is_concurrent");
}

/* ------------------------------------------------------------------ */

struct prio {
    int prio;
    int err;
    dispatch_semaphore_t done;
};

static void read_prio(void *ctx)
{
    struct prio *p = ctx;
    errno = 0;
    p->prio = getpriority(PRIO_PROCESS, (id_t)my_tid());
    p->err = errno;
    dispatch_semaphore_signal(p->done);
}

static void test_background_priority(void)
{
    test_start("background_priority", 15);
    errno = 0;
    int base = getpriority(PRIO_PROCESS, (id_t)my_tid());
    CHECK(errno == 0, "getpriority failed");
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_queue_t bg = dispatch_get_global_queue(QOS_CLASS_BACKGROUND, 0);
    dispatch_queue_t legacy_bg = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_BACKGROUND, 0);
    dispatch_queue_t ui = dispatch_get_global_queue(QOS_CLASS_USER_INITIATED, 0);
    for (int round = 0; round < 20; round++) {
        struct prio b = { -100, 0, done };
        dispatch_async_f((round & 1) ? legacy_bg : bg, &b, read_prio);
        CHECK(sem_wait_ms(done, 3000), "round %d: the background item did not run", round);
        CHECK(b.err == 0, "getpriority in the background item failed (errno %d)", b.err);
        CHECK(b.prio > base, "round %d: the background item runs at priority %d, not lower than the process's %d",
              round, b.prio, base);

        struct prio u = { -100, 0, done };
        dispatch_async_f(ui, &u, read_prio);
        CHECK(sem_wait_ms(done, 3000), "round %d: the user-initiated item did not run", round);
        CHECK(u.err == 0, "getpriority in the user-initiated item failed (errno %d)", u.err);
        CHECK(u.prio == base, "round %d: the user-initiated item runs at priority %d, the process at %d", round,
              u.prio, base);
    }
    dispatch_release(done);
    OK("background_priority");
}

/* ------------------------------------------------------------------ */

static void test_overcommit(void)
{
    test_start("overcommit", 12);
    dispatch_queue_t oq = dispatch_get_global_queue(QOS_CLASS_DEFAULT, DISPATCH_QUEUE_OVERCOMMIT);
    CHECK(oq != NULL, "dispatch_get_global_queue(DEFAULT, OVERCOMMIT) returned NULL");
    CHECK(dispatch_get_global_queue(QOS_CLASS_DEFAULT, DISPATCH_QUEUE_OVERCOMMIT) == oq,
          "a second call gave another queue");
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    struct ran r = { NULL, done };
    dispatch_async_f(oq, &r, record_current);
    CHECK(sem_wait_ms(done, 3000), "an item on the overcommit queue did not run");
    dispatch_release(done);
    /* Let the worker that ran it park: then all the pushes below find one idle worker,
     * and each must still get a thread of its own. */
    sleep_ms(50);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n = ncpu + 4 > 8 ? (int)ncpu + 4 : 8;
    run_rendezvous(oq, n, "overcommit queue");
    OK("overcommit");
}

/* ------------------------------------------------------------------ */

static void test_retain_release_noop(void)
{
    test_start("retain_release_noop", 10);
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_UTILITY, 0);
    for (int i = 0; i < 10; i++)
        dispatch_release(q);
    for (int i = 0; i < 3; i++)
        dispatch_retain(q);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    struct ran r = { NULL, done };
    dispatch_async_f(q, &r, record_current);
    CHECK(sem_wait_ms(done, 3000), "the global queue stopped working after extra releases");
    CHECK(dispatch_get_global_queue(QOS_CLASS_UTILITY, 0) == q, "the global queue changed");
    dispatch_release(done);
    OK("retain_release_noop");
}

static atomic_int blocker_gave_up;

static void wait_for_follower(void *ctx)
{
    if (!sem_wait_ms((dispatch_semaphore_t)ctx, 5000))
        atomic_fetch_add(&blocker_gave_up, 1);
}

static void follower(void *ctx) { dispatch_semaphore_signal((dispatch_semaphore_t)ctx); }

static void item_behind_blocker(void)
{
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    for (int round = 0; round < 300; round++) {
        dispatch_semaphore_t sem = dispatch_semaphore_create(0);
        dispatch_group_t g = dispatch_group_create();
        dispatch_group_async_f(g, q, sem, wait_for_follower);
        dispatch_group_async_f(g, q, sem, follower);
        CHECK(dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, 10 * NSEC_PER_SEC)) == 0,
              "round %d: the two items did not finish", round);
        dispatch_release(g);
        dispatch_release(sem);
    }
    CHECK(atomic_load(&blocker_gave_up) == 0, "%d items waited in vain for the item behind them",
          atomic_load(&blocker_gave_up));
}

static void test_item_behind_blocker(void)
{
    test_start("item_behind_blocker", 60);
    item_behind_blocker();
    OK("item_behind_blocker");
}

/* `item_behind_blocker` in a forked child bound to one CPU, before this process used the
 * library: the child's pool sees one CPU and starts with one worker. */
static void test_item_behind_blocker_one_cpu(void)
{
    test_start("item_behind_blocker (one CPU)", 60);
    in_one_cpu_child(item_behind_blocker);
    OK("item_behind_blocker (one CPU)");
}

int main(void)
{
    test_item_behind_blocker_one_cpu();
    test_every_class_runs();
    test_legacy_mapping();
    test_global_is_concurrent();
    test_background_priority();
    test_overcommit();
    test_retain_release_noop();
    test_item_behind_blocker();
    return 0;
}
