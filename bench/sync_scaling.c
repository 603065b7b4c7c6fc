/*
 * bench/sync_scaling.c: dispatch_sync_f on one serial queue from 1, 2, 4 and 8 threads at
 * once, against a pthread mutex pair under the same load; and the uncontended figures
 * (one thread) against the mutex pair. Each contended figure: the threads call in a loop
 * for 300 ms; wall time / total calls, median of 3 runs.
 *
 *   gcc -std=gnu11 -O2 -Wall -Wextra -Werror -pthread -Iinclude bench/sync_scaling.c \
 *       -o target/bench/sync_scaling -Ltarget/release -ldispatch -Wl,-rpath,$PWD/target/release
 *   target/bench/sync_scaling [unc|cont]
 */
#define _GNU_SOURCE
#include <dispatch/dispatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long counter;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static dispatch_queue_t q;
static int use_mutex;
static pthread_barrier_t start;
static volatile int stop;
static long done_ops[16];

static void inc(void *c) { ++*(volatile long *)c; }

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *worker(void *arg)
{
    long id = (long)arg, n = 0;
    pthread_barrier_wait(&start);
    while (!stop) {
        for (int i = 0; i < 64; i++) {
            if (use_mutex) {
                pthread_mutex_lock(&mtx);
                counter++;
                pthread_mutex_unlock(&mtx);
            } else {
                dispatch_sync_f(q, &counter, inc);
            }
        }
        n += 64;
    }
    done_ops[id] = n;
    return NULL;
}

static double contended(int threads, long ms)
{
    pthread_t t[16];
    stop = 0;
    pthread_barrier_init(&start, NULL, threads + 1);
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_barrier_wait(&start);
    double t0 = now_ns();
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
    stop = 1;
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += done_ops[i];
    }
    double dt = now_ns() - t0;
    pthread_barrier_destroy(&start);
    return dt / total;
}

static double uncontended(dispatch_queue_t qq, long n)
{
    double t0 = now_ns();
    if (qq == NULL) {
        for (long i = 0; i < n; i++) {
            pthread_mutex_lock(&mtx);
            counter++;
            pthread_mutex_unlock(&mtx);
        }
    } else {
        for (long i = 0; i < n; i++)
            dispatch_sync_f(qq, &counter, inc);
    }
    return (now_ns() - t0) / n;
}

#define REPS 5

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    dispatch_queue_t serial = dispatch_queue_create("scaling.serial", NULL);
    dispatch_queue_t conc = dispatch_queue_create("scaling.concurrent", DISPATCH_QUEUE_CONCURRENT);
    if (!strcmp(what, "all") || !strcmp(what, "unc")) {
        double m[REPS], s[REPS], c[REPS];
        dispatch_sync_f(serial, &counter, inc);
        for (int r = 0; r < REPS; r++) {
            m[r] = uncontended(NULL, 2000000);
            s[r] = uncontended(serial, 2000000);
            c[r] = uncontended(conc, 2000000);
        }
        qsort(m, REPS, sizeof m[0], cmp_double);
        qsort(s, REPS, sizeof s[0], cmp_double);
        qsort(c, REPS, sizeof c[0], cmp_double);
        printf("uncontended: mutex pair %.2f ns, sync serial %.2f ns (%.2fx), sync concurrent %.2f ns (%.2fx)\n",
               m[REPS / 2], s[REPS / 2], s[REPS / 2] / m[REPS / 2], c[REPS / 2], c[REPS / 2] / m[REPS / 2]);
    }
    if (!strcmp(what, "all") || !strcmp(what, "cont")) {
        q = serial;
        static const int threads[] = { 1, 2, 4, 8 };
        double per_op[4];
        for (int k = 0; k < 4; k++) {
            double d[3], mm[3];
            for (int r = 0; r < 3; r++) {
                use_mutex = 0;
                d[r] = contended(threads[k], 300);
                use_mutex = 1;
                mm[r] = contended(threads[k], 300);
            }
            qsort(d, 3, sizeof d[0], cmp_double);
            qsort(mm, 3, sizeof mm[0], cmp_double);
            per_op[k] = d[1];
            printf("contended serial sync, %d threads: %.1f ns/op (mutex pair %.1f ns/op)\n", threads[k], d[1], mm[1]);
        }
        printf("8 threads / 2 threads per op: %.2f (target <= 2)\n", per_op[3] / per_op[1]);
    }
    dispatch_release(serial);
    dispatch_release(conc);
    return 0;
}
