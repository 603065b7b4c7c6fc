/*
 * test_apply_hot.c: what dispatch_apply_f costs between back-to-back applies, and that the
 * helpers kept hot between them (src/apply/hot.rs) only join regions they may run.
 *
 *   no_file_reads_per_apply  200 applies make fewer than 20 read(2) calls in the whole
 *                            process (/proc/self/io syscr): the CPU count is not read from
 *                            the cgroup files per apply (it was: ~120 us each on a VM).
 *   hot_helper_stays_awake   on 2+ CPUs, 200 applies of 2 iterations that wait for each
 *                            other (so a helper runs one) then spin, each followed by a
 *                            serial part a quarter as long on the caller: the worker threads go
 *                            to sleep (voluntary context switches, /proc/self/task/N/status)
 *                            fewer than 100 times (before: about once per apply): a helper
 *                            that ran out of indices waits on its mailbox and is handed the
 *                            next region instead of parking and being woken.
 *   hot_helper_right_queue   applies alternating between the utility and user-initiated
 *                            global queues, 300 rounds: every iteration sees the queue it
 *                            was applied on as current queue and, off the caller's thread,
 *                            that queue's QoS class; every index runs exactly once.
 */
#include "check.h"

#include <dirent.h>

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

/* Sum of voluntary context switches of every thread but the caller's. */
static long others_voluntary_switches(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "opendir /proc/self/task");
    long sum = 0;
    pid_t me = my_tid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == me)
            continue;
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/self/task/%d/status", atoi(e->d_name));
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue; /* the thread just retired */
        long v;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
                sum += v;
        fclose(f);
    }
    closedir(d);
    return sum;
}

static atomic_ulong spin_sink;

static void spin(long steps)
{
    unsigned long x = (unsigned long)steps;
    for (long k = 0; k < steps; k++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    atomic_fetch_add_explicit(&spin_sink, x, memory_order_relaxed);
}

/* Two iterations that wait for each other, so that every apply has a helper (the caller
 * cannot run both), then spin: the region lasts some tens of microseconds. */
struct pair {
    atomic_int arrived;
    long steps;
};

static void pair_iter(void *ctx, size_t i)
{
    UNUSED(i);
    struct pair *p = ctx;
    atomic_fetch_add(&p->arrived, 1);
    while (atomic_load(&p->arrived) < 2) {
    }
    spin(p->steps);
}

static void hot_helper_stays_awake(void)
{
    test_start("hot_helper_stays_awake", 60);
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        OK("hot_helper_stays_awake (skipped: one CPU)");
        return;
    }
    const long steps = 40000; /* some tens of microseconds */
    for (int k = 0; k < 20; k++) { /* warm-up: the pool's workers exist */
        struct pair p = { 0, steps };
        dispatch_apply_f(2, DISPATCH_APPLY_AUTO, &p, pair_iter);
    }
    long before = others_voluntary_switches();
    for (int k = 0; k < 200; k++) {
        struct pair p = { 0, steps };
        dispatch_apply_f(2, DISPATCH_APPLY_AUTO, &p, pair_iter);
        spin(steps / 4); /* the caller's serial part, shorter than the parallel one */
    }
    long sleeps = others_voluntary_switches() - before;
    CHECK(sleeps < 100, "the helpers went to sleep %ld times in 200 applies", sleeps);
    OK("hot_helper_stays_awake");
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
    hot_helper_stays_awake();
    hot_helper_right_queue();
    return 0;
}
