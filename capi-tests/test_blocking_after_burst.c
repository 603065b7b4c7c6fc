/*
 * Blocking items pushed right after a burst of short ones still get threads of their own.
 *
 * A push does not wake anyone while a worker is searching for work (it relies on the
 * searcher), and the monitor, which starts a thread for every CPU left idle by blocked
 * workers, sleeps whenever nothing is pending. Items pushed just after a burst, while the
 * burst's workers are still searching, reached neither the monitor nor a new thread: all
 * of them then ran on the two or three workers that existed, one after another.
 *
 *   blocking_after_burst   10 rounds: 20,000 empty items onto the default global queue
 *                          (waited for), then 32 items that each count themselves in and
 *                          wait (polling) until 16 of them are in at once. Every round,
 *                          all 32 see 16 running together within 3 s. This bound is a
 *                          liveness check, not a speed target: the monitor adds threads
 *                          for blocked workers every 2 ms, so 16 are running within tens of
 *                          milliseconds even on a loaded machine; with the lost monitor
 *                          wake-up a round ran 2-4 at a time until an idle worker retired
 *                          (5 s), and its items gave up.
 */
#include "check.h"

#define ROUNDS 10
#define BLOCKERS 32
#define TOGETHER 16

static atomic_int inside;
static atomic_int saw_together;
static atomic_int timed_out;

static void empty(void *ctx) { (void)ctx; }

static void blocker(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&inside, 1);
    uint64_t give_up = now_ns() + 3ull * 1000000000ull;
    while (atomic_load(&inside) < TOGETHER) {
        if (now_ns() > give_up) {
            atomic_fetch_add(&timed_out, 1);
            return;
        }
        sleep_ms(1);
    }
    atomic_fetch_add(&saw_together, 1);
}

int main(void)
{
    test_start("blocking_after_burst", 120);
    dispatch_queue_t q = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    dispatch_group_t g = dispatch_group_create();
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < 20000; i++)
            dispatch_group_async_f(g, q, NULL, empty);
        CHECK(group_wait_ms(g, 60000), "round %d: the empty items did not finish", round);
        atomic_store(&inside, 0);
        atomic_store(&saw_together, 0);
        for (int i = 0; i < BLOCKERS; i++)
            dispatch_group_async_f(g, q, NULL, blocker);
        CHECK(group_wait_ms(g, 60000), "round %d: the blocking items did not finish", round);
        CHECK(atomic_load(&timed_out) == 0,
              "round %d: %d items never saw %d blocking items running together (%d did)", round,
              atomic_load(&timed_out), TOGETHER, atomic_load(&saw_together));
        CHECK(atomic_load(&saw_together) == BLOCKERS, "round %d: %d of %d items saw the others", round,
              atomic_load(&saw_together), BLOCKERS);
    }
    dispatch_release(g);
    OK("blocking_after_burst");
    return 0;
}
