/*
 * test_apply_hot.c: what dispatch_apply_f costs between back-to-back applies, and that the
 * helpers kept hot between them (src/apply/hot.rs) only join regions they may run.
 *
 *   no_file_reads_per_apply  200 applies make fewer than 20 read(2) calls in the whole
 *                            process (/proc/self/io syscr): the CPU count is not read from
 *                            the cgroup files per apply (it was: ~120 us each on a VM).
 *   hot_helper_right_queue   applies alternating between the utility and user-initiated
 *                            global queues, 300 rounds: every iteration sees the queue it
 *                            was applied on as current queue and, off the caller's thread,
 *                            that queue's QoS class; every index runs exactly once.
 *
 * That the helpers do stay hot (how often one goes to sleep between two applies) depends
 * on scheduling, so it is a bench figure (apply_helper_sleeps_per_200), not a test here.
 */
#include "check.h"

static unsigned long long proc_io_syscr(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return 0;
    char line[128];
    unsigned long long v = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "syscr: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

static void nothing(void *ctx, size_t i)
{
    UNUSED(ctx);
    UNUSED(i);
}

static void no_file_reads_per_apply(void)
{
    test_start("no_file_reads_per_apply", 30);
    if (access("/proc/self/io", R_OK) != 0) {
        OK("no_file_reads_per_apply (skipped: no /proc/self/io)");
        return;
    }
    dispatch_apply_f(2, DISPATCH_APPLY_AUTO, NULL, nothing); /* warm-up */
    unsigned long long before = proc_io_syscr();
    for (int k = 0; k < 200; k++)
        dispatch_apply_f(2, DISPATCH_APPLY_AUTO, NULL, nothing);
    unsigned long long reads = proc_io_syscr() - before;
    CHECK(reads < 20, "200 applies made %llu read calls", reads);
    OK("no_file_reads_per_apply");
}

struct where {
    dispatch_queue_t q;
    dispatch_qos_class_t qos;
    pid_t caller;
    size_t n;
    atomic_uchar *hits;
    atomic_int wrong_queue, wrong_qos;
};

static void where_iter(void *ctx, size_t i)
{
    struct where *w = ctx;
    if (dispatch_get_current_queue() != w->q)
        atomic_fetch_add(&w->wrong_queue, 1);
    if (my_tid() != w->caller && qos_class_self() != w->qos)
        atomic_fetch_add(&w->wrong_qos, 1);
    atomic_fetch_add(&w->hits[i], 1);
    for (volatile int k = 0; k < 2000; k++) {
    }
}

static void hot_helper_right_queue(void)
{
    test_start("hot_helper_right_queue", 60);
    dispatch_qos_class_t classes[2] = { (dispatch_qos_class_t)QOS_CLASS_UTILITY,
                                       (dispatch_qos_class_t)QOS_CLASS_USER_INITIATED };
    for (int round = 0; round < 300; round++) {
        struct where w;
        memset(&w, 0, sizeof w);
        w.qos = classes[round % 2];
        w.q = dispatch_get_global_queue((intptr_t)w.qos, 0);
        w.caller = my_tid();
        w.n = 1 + (size_t)(round * 7 % 64);
        w.hits = calloc(w.n, sizeof *w.hits);
        CHECK(w.hits != NULL, "calloc");
        dispatch_apply_f(w.n, w.q, &w, where_iter);
        for (size_t i = 0; i < w.n; i++)
            CHECK(atomic_load(&w.hits[i]) == 1, "round %d: index %zu ran %u times", round, i,
                  (unsigned)atomic_load(&w.hits[i]));
        CHECK(atomic_load(&w.wrong_queue) == 0, "round %d: %d iterations saw another queue",
              round, atomic_load(&w.wrong_queue));
        CHECK(atomic_load(&w.wrong_qos) == 0, "round %d: %d helper iterations ran at another QoS",
              round, atomic_load(&w.wrong_qos));
        free(w.hits);
    }
    OK("hot_helper_right_queue");
}

int main(void)
{
    no_file_reads_per_apply();
    hot_helper_right_queue();
    return 0;
}
