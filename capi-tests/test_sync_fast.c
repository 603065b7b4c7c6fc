/*
 * The dispatch_sync fast path (src/queue/sync.rs, try_sync_idle): what it must keep doing
 * while it skips the slow path's work.
 *
 *   fresh_threads_keep_their_frames  new threads (thread id not cached yet: the first sync
 *                                    takes the slow path, the later ones the fast one) see
 *                                    the right current queue inside nested syncs, hold the
 *                                    outer queue in the inner function, hold nothing after,
 *                                    and run every function on the calling thread.
 *   serial_item_pushed_inside_runs   an async pushed onto a serial queue from inside a
 *                                    sync onto it runs after the sync returns (the fast
 *                                    unlock fails on DIRTY and takes the full release).
 *   width_one_reader_release_wakes   a concurrent queue narrowed to width 1: an async
 *                                    pushed while a sync reader holds the only unit finds
 *                                    no width and waits; the reader's release must wake
 *                                    it (the list-free fast release is refused at the
 *                                    limit).
 *   width_two_readers_release_wakes  the same with width 2 filled by two readers on two
 *                                    threads, the item pushed while both are inside.
 *   barrier_sync_excludes_readers    barrier syncs and sync readers on a concurrent queue
 *                                    from several threads: a barrier never overlaps a
 *                                    reader or another barrier, and every function runs.
 *   contended_sync_keeps_fifo        8 threads each alternate an async and a sync onto one
 *                                    serial queue: the functions never overlap, and each
 *                                    sync finds its own thread's earlier async already run
 *                                    (a contended caller polls for the queue before
 *                                    queueing, sync.rs spin_for_exclusive, and must never
 *                                    overtake a queued item).
 */
#include "check.h"
#include <dispatch/private.h>

static void noop(void *ctx) { UNUSED(ctx); }

/* ---- fresh_threads_keep_their_frames ---- */

static dispatch_queue_t outer_serial, inner_concurrent;

struct frame_check {
    pid_t caller;
    int inner_ran, outer_ran;
};

static void inner_fn(void *ctx)
{
    struct frame_check *c = ctx;
    CHECK(my_tid() == c->caller, "the inner sync function runs on the calling thread");
    CHECK(dispatch_get_current_queue() == inner_concurrent, "inside: the current queue is the inner one");
    dispatch_assert_queue(inner_concurrent);
    dispatch_assert_queue(outer_serial); /* still held: a frame below */
    c->inner_ran++;
}

static void outer_fn(void *ctx)
{
    struct frame_check *c = ctx;
    CHECK(my_tid() == c->caller, "the outer sync function runs on the calling thread");
    CHECK(dispatch_get_current_queue() == outer_serial, "inside: the current queue is the outer one");
    dispatch_sync_f(inner_concurrent, c, inner_fn);
    CHECK(dispatch_get_current_queue() == outer_serial, "back from the inner sync: the outer queue again");
    dispatch_assert_queue_not(inner_concurrent);
    c->outer_ran++;
}

enum { FRAME_THREADS = 4, FRAME_ROUNDS = 200 };

static void *frame_thread(void *arg)
{
    UNUSED(arg);
    struct frame_check c = { .caller = my_tid() };
    for (int i = 0; i < FRAME_ROUNDS; i++) {
        dispatch_sync_f(outer_serial, &c, outer_fn);
        dispatch_assert_queue_not(outer_serial);
        dispatch_assert_queue_not(inner_concurrent);
    }
    CHECK(c.outer_ran == FRAME_ROUNDS && c.inner_ran == FRAME_ROUNDS, "every function ran once per round (%d, %d)",
          c.outer_ran, c.inner_ran);
    return NULL;
}

static void fresh_threads_keep_their_frames(void)
{
    test_start("fresh_threads_keep_their_frames", 30);
    outer_serial = dispatch_queue_create("sync.fast.outer", NULL);
    inner_concurrent = dispatch_queue_create("sync.fast.inner", DISPATCH_QUEUE_CONCURRENT);
    pthread_t t[FRAME_THREADS];
    for (int i = 0; i < FRAME_THREADS; i++) {
        CHECK(pthread_create(&t[i], NULL, frame_thread, NULL) == 0, "pthread_create");
    }
    frame_thread(NULL);
    for (int i = 0; i < FRAME_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    dispatch_release(outer_serial);
    dispatch_release(inner_concurrent);
    OK("fresh_threads_keep_their_frames");
}

/* ---- serial_item_pushed_inside_runs ---- */

struct push_inside {
    dispatch_queue_t q;
    dispatch_semaphore_t done;
    atomic_int inside, ran_early;
};

static void item_after(void *ctx)
{
    struct push_inside *p = ctx;
    if (atomic_load(&p->inside)) {
        atomic_store(&p->ran_early, 1);
    }
    dispatch_semaphore_signal(p->done);
}

static void push_from_inside(void *ctx)
{
    struct push_inside *p = ctx;
    atomic_store(&p->inside, 1);
    dispatch_async_f(p->q, p, item_after);
    for (int i = 0; i < 1000; i++) {
        sched_yield(); /* give a wrongly started item time to show itself */
    }
    atomic_store(&p->inside, 0);
}

static void serial_item_pushed_inside_runs(void)
{
    test_start("serial_item_pushed_inside_runs", 20);
    struct push_inside p = { .q = dispatch_queue_create("sync.fast.serial", NULL),
                             .done = dispatch_semaphore_create(0) };
    for (int i = 0; i < 100; i++) {
        dispatch_sync_f(p.q, &p, push_from_inside);
        CHECK(sem_wait_ms(p.done, 5000), "the item pushed inside the sync ran (round %d)", i);
    }
    CHECK(!atomic_load(&p.ran_early), "no item ran while the sync held the serial queue");
    dispatch_release(p.q);
    dispatch_release(p.done);
    OK("serial_item_pushed_inside_runs");
}

/* ---- width_one_reader_release_wakes ---- */

static void width_one_reader_release_wakes(void)
{
    test_start("width_one_reader_release_wakes", 20);
    struct push_inside p = { .q = dispatch_queue_create("sync.fast.width1", DISPATCH_QUEUE_CONCURRENT),
                             .done = dispatch_semaphore_create(0) };
    dispatch_queue_set_width(p.q, 1);
    dispatch_barrier_sync_f(p.q, NULL, noop); /* the width change (a barrier) took effect */
    for (int i = 0; i < 100; i++) {
        dispatch_sync_f(p.q, &p, push_from_inside); /* a reader: holds the only unit */
        CHECK(sem_wait_ms(p.done, 5000), "the item that found no width ran after the reader left (round %d)", i);
    }
    CHECK(!atomic_load(&p.ran_early), "no item ran while the reader held the only width unit");
    dispatch_release(p.q);
    dispatch_release(p.done);
    OK("width_one_reader_release_wakes");
}

/* ---- width_two_readers_release_wakes ---- */

static struct {
    dispatch_queue_t q;
    dispatch_semaphore_t a_inside, go, a_out, done;
} two;

static void reader_a(void *ctx)
{
    UNUSED(ctx);
    dispatch_semaphore_signal(two.a_inside);
    dispatch_semaphore_wait(two.go, DISPATCH_TIME_FOREVER);
}

static void *thread_a(void *arg)
{
    UNUSED(arg);
    dispatch_sync_f(two.q, NULL, reader_a);
    dispatch_semaphore_signal(two.a_out);
    return NULL;
}

static void item_after_both(void *ctx)
{
    UNUSED(ctx);
    dispatch_semaphore_signal(two.done);
}

static void reader_b(void *ctx)
{
    UNUSED(ctx);
    CHECK(sem_wait_ms(two.a_inside, 5000), "reader A got the other unit");
    dispatch_async_f(two.q, NULL, item_after_both); /* both units held: it must wait */
    dispatch_semaphore_signal(two.go);
}

static void width_two_readers_release_wakes(void)
{
    test_start("width_two_readers_release_wakes", 30);
    two.q = dispatch_queue_create("sync.fast.width2", DISPATCH_QUEUE_CONCURRENT);
    two.a_inside = dispatch_semaphore_create(0);
    two.go = dispatch_semaphore_create(0);
    two.a_out = dispatch_semaphore_create(0);
    two.done = dispatch_semaphore_create(0);
    dispatch_queue_set_width(two.q, 2);
    dispatch_barrier_sync_f(two.q, NULL, noop);
    for (int i = 0; i < 50; i++) {
        pthread_t a;
        CHECK(pthread_create(&a, NULL, thread_a, NULL) == 0, "pthread_create");
        dispatch_sync_f(two.q, NULL, reader_b);
        CHECK(sem_wait_ms(two.a_out, 5000), "reader A returned");
        CHECK(sem_wait_ms(two.done, 5000), "the item pushed at the limit ran after both readers left (round %d)", i);
        pthread_join(a, NULL);
    }
    /* The item may start as soon as the first reader is out: "it ran" is the claim. */
    dispatch_release(two.q);
    OK("width_two_readers_release_wakes");
}

/* ---- barrier_sync_excludes_readers ---- */

static dispatch_queue_t rw_queue;
static atomic_int readers_in, writers_in, overlaps, functions_run;

static void rw_reader(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&readers_in, 1);
    if (atomic_load(&writers_in) != 0) {
        atomic_fetch_add(&overlaps, 1);
    }
    atomic_fetch_sub(&readers_in, 1);
    atomic_fetch_add(&functions_run, 1);
}

static void rw_writer(void *ctx)
{
    UNUSED(ctx);
    if (atomic_fetch_add(&writers_in, 1) != 0 || atomic_load(&readers_in) != 0) {
        atomic_fetch_add(&overlaps, 1);
    }
    atomic_fetch_sub(&writers_in, 1);
    atomic_fetch_add(&functions_run, 1);
}

enum { RW_THREADS = 4, RW_ROUNDS = 20000 };

static void *rw_thread(void *arg)
{
    intptr_t n = (intptr_t)arg;
    for (int i = 0; i < RW_ROUNDS; i++) {
        if ((i + n) % 8 == 0) {
            dispatch_barrier_sync_f(rw_queue, NULL, rw_writer);
        } else {
            dispatch_sync_f(rw_queue, NULL, rw_reader);
        }
    }
    return NULL;
}

static void barrier_sync_excludes_readers(void)
{
    test_start("barrier_sync_excludes_readers", 40);
    rw_queue = dispatch_queue_create("sync.fast.rw", DISPATCH_QUEUE_CONCURRENT);
    pthread_t t[RW_THREADS];
    for (intptr_t i = 0; i < RW_THREADS; i++) {
        CHECK(pthread_create(&t[i], NULL, rw_thread, (void *)i) == 0, "pthread_create");
    }
    for (int i = 0; i < RW_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    CHECK(atomic_load(&overlaps) == 0, "a barrier overlapped a reader or another barrier (%d times)",
          atomic_load(&overlaps));
    CHECK(atomic_load(&functions_run) == RW_THREADS * RW_ROUNDS, "every function ran once (%d)",
          atomic_load(&functions_run));
    dispatch_release(rw_queue);
    OK("barrier_sync_excludes_readers");
}

/* ---- contended_sync_keeps_fifo ---- */

enum { FIFO_THREADS = 8, FIFO_ROUNDS = 3000 };
static dispatch_queue_t fifo_queue;
static atomic_int fifo_inside, fifo_overlaps, fifo_out_of_order;
static int fifo_async_done[FIFO_THREADS]; /* written only on the serial queue */

struct fifo_arg {
    int thread, round;
};

static void fifo_enter(void)
{
    if (atomic_fetch_add(&fifo_inside, 1) != 0) {
        atomic_fetch_add(&fifo_overlaps, 1);
    }
}

static void fifo_async(void *ctx)
{
    struct fifo_arg *a = ctx;
    fifo_enter();
    fifo_async_done[a->thread]++;
    atomic_fetch_sub(&fifo_inside, 1);
    free(a);
}

static void fifo_sync(void *ctx)
{
    struct fifo_arg *a = ctx;
    fifo_enter();
    if (fifo_async_done[a->thread] != a->round + 1) {
        atomic_fetch_add(&fifo_out_of_order, 1);
    }
    atomic_fetch_sub(&fifo_inside, 1);
}

static void *fifo_thread(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < FIFO_ROUNDS; i++) {
        struct fifo_arg *a = malloc(sizeof *a);
        CHECK(a != NULL, "malloc");
        a->thread = me;
        a->round = i;
        dispatch_async_f(fifo_queue, a, fifo_async);
        struct fifo_arg s = { me, i };
        dispatch_sync_f(fifo_queue, &s, fifo_sync);
        dispatch_sync_f(fifo_queue, &s, fifo_sync); /* a second one, often uncontended-fast */
    }
    return NULL;
}

static void contended_sync_keeps_fifo(void)
{
    test_start("contended_sync_keeps_fifo", 50);
    fifo_queue = dispatch_queue_create("sync.fast.fifo", NULL);
    pthread_t t[FIFO_THREADS];
    for (intptr_t i = 0; i < FIFO_THREADS; i++) {
        CHECK(pthread_create(&t[i], NULL, fifo_thread, (void *)i) == 0, "pthread_create");
    }
    for (int i = 0; i < FIFO_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    CHECK(atomic_load(&fifo_overlaps) == 0, "functions on the serial queue overlapped (%d times)",
          atomic_load(&fifo_overlaps));
    CHECK(atomic_load(&fifo_out_of_order) == 0, "a sync ran before its thread's earlier async (%d times)",
          atomic_load(&fifo_out_of_order));
    for (int i = 0; i < FIFO_THREADS; i++) {
        CHECK(fifo_async_done[i] == FIFO_ROUNDS, "every async of thread %d ran (%d)", i, fifo_async_done[i]);
    }
    dispatch_release(fifo_queue);
    OK("contended_sync_keeps_fifo");
}

int main(void)
{
    fresh_threads_keep_their_frames();
    serial_item_pushed_inside_runs();
    width_one_reader_release_wakes();
    width_two_readers_release_wakes();
    barrier_sync_excludes_readers();
    contended_sync_keeps_fifo();
    return 0;
}
