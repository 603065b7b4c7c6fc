/*
 * test_blocks_dispatch.c: the block variants of the dispatch API (dispatch_async,
 * dispatch_sync, barriers, async_and_wait, dispatch_after, dispatch_apply, groups,
 * dispatch_once).
 *
 * Some checks use a "counted" block: a block laid out by hand following the Blocks ABI
 * (flags HAS_COPY_DISPOSE) whose copy and dispose helpers count how often the runtime calls
 * them, i.e. how often the library copied a stack block to the heap and released its copy.
 *
 *   async_runs_once       dispatch_async to a global, a serial and a concurrent queue: each
 *                         block runs exactly once, on a thread other than the submitter's,
 *                         with the values captured at submission (the variable is changed
 *                         right after) and its __block writes visible afterwards.
 *   async_fifo_producers  4 threads each submit 2000 blocks to one serial queue: every block
 *                         runs once, one at a time, each producer's blocks in its order.
 *   async_copy_balance    100 counted stack blocks given to dispatch_async: each is copied
 *                         once (copy helper) and, after it ran, released once (dispose).
 *   heap_release_after_submit
 *                         a Block_copy'd block released by the caller right after
 *                         dispatch_async (its queue held up by an earlier item): not disposed
 *                         before it ran, runs once, then disposed once; the same with a clang
 *                         block capturing a __block variable and a string.
 *   sync_caller_thread    dispatch_sync on serial, concurrent and global queues, from the
 *                         main thread and from a worker: runs on the caller's thread before
 *                         dispatch_sync returns, sees captures, its __block writes are
 *                         visible; a counted block is run without being copied.
 *   barrier               dispatch_barrier_async on a concurrent queue: no other item of the
 *                         queue runs while a barrier runs, every item submitted before it has
 *                         finished when it starts, none submitted after it has started;
 *                         dispatch_barrier_sync likewise and on the caller's thread, no copy.
 *   async_and_wait        dispatch_async_and_wait returns after the block ran, after the
 *                         items queued before it; dispatch_barrier_async_and_wait on a
 *                         concurrent queue runs alone; counted blocks' copies are released.
 *   after                 dispatch_after(100 ms) runs once, not before 100 ms, within 3 s,
 *                         on the queue given; DISPATCH_TIME_NOW runs it promptly; a counted
 *                         block is copied once and disposed once.
 *   apply                 dispatch_apply(1000) on a concurrent queue and DISPATCH_APPLY_AUTO:
 *                         each index exactly once, all done when it returns; nested 16x16
 *                         apply covers each pair once; a counted apply block is not copied.
 *   group                 dispatch_group_async of 20 blocks on two queues, then
 *                         dispatch_group_notify: runs once, after all 20, on the queue given;
 *                         dispatch_group_wait sees them; counted blocks balanced.
 *   once                  16 threads racing dispatch_once on one predicate: the block runs
 *                         once, every caller sees its write, the predicate is ~0l; later calls
 *                         do not run; a counted block is not copied.
 *   many_queues           one block literal evaluated in a loop and given to 8 queues: each
 *                         runs once on its queue with its own captured index; one block
 *                         variable given to 8 queues runs 8 times, once on each.
 */
#include "check.h"

#include <Block.h>

/* ---- the counted block ---- */

#include "counted_block.h"


/* ------------------------------------------------------------------ */

static void test_async_runs_once(void)
{
    test_start("async_runs_once", 15);
    pid_t main_tid = my_tid();
    dispatch_queue_t queues[3] = {
        dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0),
        dispatch_queue_create("test.blocks.async.serial", NULL),
        dispatch_queue_create("test.blocks.async.concurrent", DISPATCH_QUEUE_CONCURRENT),
    };
    for (int qi = 0; qi < 3; qi++) {
        dispatch_queue_t q = queues[qi];
        dispatch_semaphore_t done = dispatch_semaphore_create(0);
        __block int runs = 0;
        __block int seen_value = -1;
        __block pid_t tid = 0;
        __block dispatch_queue_t current = NULL;
        int value = 40 + qi;
        dispatch_async(q, ^{
            runs++;
            seen_value = value;
            tid = my_tid();
            current = dispatch_get_current_queue();
            dispatch_semaphore_signal(done);
        });
        value = 0; /* the block captured the earlier value */
        CHECK(sem_wait_ms(done, 5000), "queue %d: the block did not run", qi);
        sleep_ms(20);
        CHECK(runs == 1, "queue %d: the block ran %d times", qi, runs);
        CHECK(seen_value == 40 + qi, "queue %d: the block saw %d, expected %d", qi, seen_value, 40 + qi);
        CHECK(tid != 0 && tid != main_tid, "queue %d: the block ran on the submitting thread", qi);
        CHECK(current == q, "queue %d: dispatch_get_current_queue in the block is not the queue", qi);
        dispatch_release(done);
    }
    dispatch_release(queues[1]);
    dispatch_release(queues[2]);
    OK("async_runs_once");
}

/* ------------------------------------------------------------------ */

#define FIFO_PRODUCERS 4
#define FIFO_PER_PRODUCER 2000

static dispatch_queue_t fifo_q;
static int fifo_last[FIFO_PRODUCERS]; /* touched only by the serial queue's blocks */
static atomic_int fifo_bad_order;
static atomic_int fifo_inflight;
static atomic_int fifo_overlap;
static atomic_int fifo_total;
static pthread_barrier_t fifo_barrier;

static void *fifo_producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    pthread_barrier_wait(&fifo_barrier);
    for (int seq = 0; seq < FIFO_PER_PRODUCER; seq++) {
        dispatch_async(fifo_q, ^{
            if (atomic_fetch_add(&fifo_inflight, 1) != 0)
                atomic_fetch_add(&fifo_overlap, 1);
            if (fifo_last[p] != seq - 1)
                atomic_fetch_add(&fifo_bad_order, 1);
            fifo_last[p] = seq;
            atomic_fetch_add(&fifo_total, 1);
            atomic_fetch_sub(&fifo_inflight, 1);
        });
    }
    return NULL;
}

static void test_async_fifo_producers(void)
{
    test_start("async_fifo_producers", 30);
    fifo_q = dispatch_queue_create("test.blocks.fifo", NULL);
    for (int p = 0; p < FIFO_PRODUCERS; p++)
        fifo_last[p] = -1;
    pthread_barrier_init(&fifo_barrier, NULL, FIFO_PRODUCERS);
    pthread_t t[FIFO_PRODUCERS];
    for (int p = 0; p < FIFO_PRODUCERS; p++)
        pthread_create(&t[p], NULL, fifo_producer, (void *)(intptr_t)p);
    for (int p = 0; p < FIFO_PRODUCERS; p++)
        pthread_join(t[p], NULL);
    pthread_barrier_destroy(&fifo_barrier);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async(fifo_q, ^{
        dispatch_semaphore_signal(done);
    });
    CHECK(sem_wait_ms(done, 20000), "the serial queue did not drain within 20 s (%d of %d ran)",
          atomic_load(&fifo_total), FIFO_PRODUCERS * FIFO_PER_PRODUCER);
    CHECK(atomic_load(&fifo_total) == FIFO_PRODUCERS * FIFO_PER_PRODUCER, "%d blocks ran, expected %d",
          atomic_load(&fifo_total), FIFO_PRODUCERS * FIFO_PER_PRODUCER);
    CHECK(atomic_load(&fifo_overlap) == 0, "%d blocks of the serial queue overlapped", atomic_load(&fifo_overlap));
    CHECK(atomic_load(&fifo_bad_order) == 0, "%d blocks ran out of their producer's order",
          atomic_load(&fifo_bad_order));
    for (int p = 0; p < FIFO_PRODUCERS; p++)
        CHECK(fifo_last[p] == FIFO_PER_PRODUCER - 1, "producer %d's last block seen was %d", p, fifo_last[p]);
    dispatch_release(done);
    dispatch_release(fifo_q);
    OK("async_fifo_producers");
}

/* ------------------------------------------------------------------ */

#define BAL_N 100

static void test_async_copy_balance(void)
{
    test_start("async_copy_balance", 15);
    dispatch_queue_t q = dispatch_queue_create("test.blocks.balance", DISPATCH_QUEUE_CONCURRENT);
    static struct counts c[BAL_N];
    for (int i = 0; i < BAL_N; i++) {
        struct counted_block sb; /* a fresh stack block each time: the library must copy it */
        counted_init(&sb, &c[i]);
        dispatch_async(q, as_block(&sb));
        CHECK(atomic_load(&c[i].copies) == 1, "block %d: dispatch_async copied it %d times", i,
              atomic_load(&c[i].copies));
        memset(&sb, 0xEE, sizeof sb); /* the stack block is gone */
    }
    for (int i = 0; i < BAL_N; i++) {
        CHECK(wait_for_value(&c[i].runs, 1, 5000), "block %d ran %d times", i, atomic_load(&c[i].runs));
        CHECK(wait_for_value(&c[i].disposes, 1, 5000), "block %d: its copy was released %d times after it ran", i,
              atomic_load(&c[i].disposes));
    }
    sleep_ms(50);
    for (int i = 0; i < BAL_N; i++) {
        CHECK(atomic_load(&c[i].runs) == 1, "block %d ran %d times", i, atomic_load(&c[i].runs));
        CHECK(atomic_load(&c[i].copies) == 1, "block %d copied %d times", i, atomic_load(&c[i].copies));
        CHECK(atomic_load(&c[i].disposes) == 1, "block %d disposed %d times", i, atomic_load(&c[i].disposes));
    }
    dispatch_release(q);
    OK("async_copy_balance");
}

/* ------------------------------------------------------------------ */

static void test_heap_release_after_submit(void)
{
    test_start("heap_release_after_submit", 15);
    dispatch_queue_t q = dispatch_queue_create("test.blocks.heaprel", NULL);
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_async(q, ^{
        dispatch_semaphore_wait(gate, in_ms(5000));
    });

    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_block_t h = Block_copy(as_block(&sb));
    CHECK(atomic_load(&c.copies) == 1, "Block_copy ran the copy helper %d times", atomic_load(&c.copies));
    dispatch_async(q, h);
    Block_release(h);
    CHECK(atomic_load(&c.disposes) == 0, "the caller's release disposed the block the queue still holds");

    __block int result = 0;
    struct {
        char s[16];
    } word; /* a struct is captured by value, array and all */
    strcpy(word.s, "captured");
    int factor = 3;
    dispatch_block_t lit = ^{
        result = factor * (int)strlen(word.s);
    };
    dispatch_block_t h2 = Block_copy(lit);
    dispatch_async(q, h2);
    Block_release(h2);
    strcpy(word.s, "x");
    factor = 0;

    sleep_ms(20);
    CHECK(atomic_load(&c.runs) == 0 && atomic_load(&c.disposes) == 0, "the block ran or died behind a blocked item");
    dispatch_semaphore_signal(gate);
    dispatch_sync(q, ^{
    });
    CHECK(atomic_load(&c.runs) == 1, "the released heap block ran %d times", atomic_load(&c.runs));
    CHECK(wait_for_value(&c.disposes, 1, 5000), "the block was disposed %d times after it ran",
          atomic_load(&c.disposes));
    CHECK(result == 24, "the clang heap block computed %d, expected 3 * 8", result);
    CHECK(atomic_load(&c.copies) == 1, "copies %d", atomic_load(&c.copies));
    dispatch_release(gate);
    dispatch_release(q);
    OK("heap_release_after_submit");
}

/* ------------------------------------------------------------------ */

static void sync_checks(dispatch_queue_t q, const char *what)
{
    pid_t me = my_tid();
    __block pid_t tid = 0;
    __block int out = 0;
    __block dispatch_queue_t current = NULL;
    int in = 17;
    dispatch_sync(q, ^{
        tid = my_tid();
        out = in * 2;
        current = dispatch_get_current_queue();
    });
    CHECK(out == 34, "%s: __block write not visible after dispatch_sync (%d)", what, out);
    CHECK(tid == me, "%s: dispatch_sync ran the block on thread %d, caller %d", what, (int)tid, (int)me);
    CHECK(current == q, "%s: dispatch_get_current_queue in the block is not the queue", what);

    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_sync(q, as_block(&sb));
    CHECK(atomic_load(&c.runs) == 1, "%s: counted block ran %d times", what, atomic_load(&c.runs));
    CHECK(atomic_load(&c.copies) == 0 && atomic_load(&c.disposes) == 0,
          "%s: dispatch_sync copied the block (%d copies, %d disposes)", what, atomic_load(&c.copies),
          atomic_load(&c.disposes));
    CHECK(atomic_load(&c.tid) == me, "%s: counted block ran on another thread", what);
}

static void test_sync_caller_thread(void)
{
    test_start("sync_caller_thread", 15);
    dispatch_queue_t s = dispatch_queue_create("test.blocks.sync.serial", NULL);
    dispatch_queue_t cq = dispatch_queue_create("test.blocks.sync.concurrent", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_t g = dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0);
    sync_checks(s, "serial");
    sync_checks(cq, "concurrent");
    sync_checks(g, "global");

    /* from a worker thread: a block on one queue dispatch_syncs onto another */
    dispatch_queue_t outer = dispatch_queue_create("test.blocks.sync.outer", NULL);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    __block int nested_ok = 0;
    dispatch_async(outer, ^{
        sync_checks(s, "serial from a worker");
        sync_checks(cq, "concurrent from a worker");
        nested_ok = 1;
        dispatch_semaphore_signal(done);
    });
    CHECK(sem_wait_ms(done, 5000), "the worker's dispatch_sync calls did not finish");
    CHECK(nested_ok == 1, "nested checks did not complete");
    dispatch_release(done);
    dispatch_release(outer);
    dispatch_release(cq);
    dispatch_release(s);
    OK("sync_caller_thread");
}

/* ------------------------------------------------------------------ */

static void test_barrier(void)
{
    test_start("barrier", 20);
    dispatch_queue_t q = dispatch_queue_create("test.blocks.barrier", DISPATCH_QUEUE_CONCURRENT);
    static atomic_int inflight, barrier_active, violations, finished, max_inflight;
    atomic_store(&inflight, 0);
    atomic_store(&barrier_active, 0);
    atomic_store(&violations, 0);
    atomic_store(&finished, 0);
    atomic_store(&max_inflight, 0);
    dispatch_group_t g = dispatch_group_create();
    enum { ROUNDS = 10, PER_ROUND = 20 };
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            dispatch_group_async(g, q, ^{
                int now = atomic_fetch_add(&inflight, 1) + 1;
                int m = atomic_load(&max_inflight);
                while (now > m && !atomic_compare_exchange_weak(&max_inflight, &m, now)) {
                }
                if (atomic_load(&barrier_active))
                    atomic_fetch_add(&violations, 1);
                sleep_ms(1);
                if (atomic_load(&barrier_active))
                    atomic_fetch_add(&violations, 1);
                atomic_fetch_sub(&inflight, 1);
                atomic_fetch_add(&finished, 1);
            });
        }
        int before = (r + 1) * PER_ROUND;
        dispatch_block_t barrier = ^{
            atomic_store(&barrier_active, 1);
            if (atomic_load(&inflight) != 0)
                atomic_fetch_add(&violations, 1);
            if (atomic_load(&finished) != before)
                atomic_fetch_add(&violations, 1000);
            sleep_ms(2);
            if (atomic_load(&inflight) != 0)
                atomic_fetch_add(&violations, 1);
            atomic_store(&barrier_active, 0);
        };
        if (r % 2 == 0) {
            dispatch_group_enter(g);
            dispatch_barrier_async(q, barrier);
            dispatch_async(q, ^{
                dispatch_group_leave(g);
            });
        } else {
            pid_t me = my_tid();
            __block pid_t tid = 0;
            dispatch_barrier_sync(q, ^{
                barrier();
                tid = my_tid();
            });
            CHECK(atomic_load(&finished) == before, "round %d: dispatch_barrier_sync returned before the items", r);
            CHECK(tid == me, "round %d: dispatch_barrier_sync ran on another thread", r);
        }
    }
    CHECK(group_wait_ms(g, 15000), "the items did not finish");
    CHECK(atomic_load(&violations) == 0, "barrier exclusivity/order violations: %d", atomic_load(&violations));
    CHECK(atomic_load(&finished) == ROUNDS * PER_ROUND, "%d items finished", atomic_load(&finished));
    CHECK(atomic_load(&max_inflight) >= 2, "the concurrent queue never ran two items at once (max %d)",
          atomic_load(&max_inflight));

    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_barrier_sync(q, as_block(&sb));
    CHECK(atomic_load(&c.runs) == 1 && atomic_load(&c.copies) == 0,
          "dispatch_barrier_sync: runs %d copies %d (expected 1, 0)", atomic_load(&c.runs), atomic_load(&c.copies));
    struct counts c2;
    struct counted_block sb2;
    counted_init(&sb2, &c2);
    dispatch_barrier_async(q, as_block(&sb2));
    CHECK(atomic_load(&c2.copies) == 1, "dispatch_barrier_async copied the block %d times", atomic_load(&c2.copies));
    CHECK(wait_for_value(&c2.disposes, 1, 5000), "dispatch_barrier_async's copy was released %d times",
          atomic_load(&c2.disposes));
    CHECK(atomic_load(&c2.runs) == 1, "dispatch_barrier_async block ran %d times", atomic_load(&c2.runs));
    dispatch_release(g);
    dispatch_release(q);
    OK("barrier");
}

/* ------------------------------------------------------------------ */

static void test_async_and_wait(void)
{
    test_start("async_and_wait", 15);
    dispatch_queue_t s = dispatch_queue_create("test.blocks.aaw", NULL);
    __block int earlier_done = 0;
    dispatch_async(s, ^{
        sleep_ms(50);
        earlier_done = 1;
    });
    __block int ran = 0;
    __block int saw_earlier = -1;
    int cap = 5;
    dispatch_async_and_wait(s, ^{
        saw_earlier = earlier_done;
        ran = cap;
    });
    CHECK(ran == 5, "dispatch_async_and_wait returned before the block ran (ran = %d)", ran);
    CHECK(saw_earlier == 1, "the block ran before the item queued earlier finished");

    dispatch_queue_t cq = dispatch_queue_create("test.blocks.baaw", DISPATCH_QUEUE_CONCURRENT);
    static atomic_int inflight, started;
    atomic_store(&inflight, 0);
    atomic_store(&started, 0);
    for (int i = 0; i < 8; i++) {
        dispatch_async(cq, ^{
            atomic_fetch_add(&inflight, 1);
            atomic_fetch_add(&started, 1);
            sleep_ms(20);
            atomic_fetch_sub(&inflight, 1);
        });
    }
    __block int alone = -1;
    __block int started_before = -1;
    dispatch_barrier_async_and_wait(cq, ^{
        alone = atomic_load(&inflight);
        started_before = atomic_load(&started);
        sleep_ms(5);
    });
    CHECK(alone == 0, "the barrier ran with %d other items running", alone);
    CHECK(started_before == 8, "the barrier ran when %d of 8 earlier items had started", started_before);

    struct counts c1, c2;
    struct counted_block b1, b2;
    counted_init(&b1, &c1);
    counted_init(&b2, &c2);
    dispatch_async_and_wait(s, as_block(&b1));
    dispatch_barrier_async_and_wait(cq, as_block(&b2));
    CHECK(atomic_load(&c1.runs) == 1 && atomic_load(&c2.runs) == 1, "counted blocks ran %d and %d times",
          atomic_load(&c1.runs), atomic_load(&c2.runs));
    CHECK(wait_for_value(&c1.disposes, atomic_load(&c1.copies), 5000) &&
              wait_for_value(&c2.disposes, atomic_load(&c2.copies), 5000),
          "async_and_wait copies not released: copies %d/%d disposes %d/%d", atomic_load(&c1.copies),
          atomic_load(&c2.copies), atomic_load(&c1.disposes), atomic_load(&c2.disposes));
    CHECK(atomic_load(&c1.copies) <= 1 && atomic_load(&c2.copies) <= 1, "copied more than once");
    dispatch_release(cq);
    dispatch_release(s);
    OK("async_and_wait");
}

/* ------------------------------------------------------------------ */

static void test_after(void)
{
    test_start("after", 15);
    dispatch_queue_t q = dispatch_queue_create("test.blocks.after", NULL);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    __block uint64_t ran_at = 0;
    __block int runs = 0;
    __block dispatch_queue_t current = NULL;
    uint64_t t0 = now_ns();
    dispatch_after(dispatch_time(DISPATCH_TIME_NOW, 100 * (int64_t)NSEC_PER_MSEC), q, ^{
        ran_at = now_ns();
        runs++;
        current = dispatch_get_current_queue();
        dispatch_semaphore_signal(done);
    });
    CHECK(sem_wait_ms(done, 5000), "dispatch_after(100 ms) did not run within 5 s");
    uint64_t el = ran_at - t0;
    CHECK(el >= 100ull * 1000000ull, "dispatch_after(100 ms) ran after only %.1f ms", el / 1e6);
    CHECK(el < 3000ull * 1000000ull, "dispatch_after(100 ms) ran after %.1f ms", el / 1e6);
    CHECK(current == q, "dispatch_after's block did not run on the queue given");
    sleep_ms(50);
    CHECK(runs == 1, "dispatch_after's block ran %d times", runs);

    t0 = now_ns();
    dispatch_after(DISPATCH_TIME_NOW, q, ^{
        dispatch_semaphore_signal(done);
    });
    CHECK(sem_wait_ms(done, 2000), "dispatch_after(DISPATCH_TIME_NOW) did not run");
    CHECK(now_ns() - t0 < 1000ull * 1000000ull, "dispatch_after(NOW) took %.1f ms", (now_ns() - t0) / 1e6);

    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_after(in_ms(20), q, as_block(&sb));
    CHECK(atomic_load(&c.copies) == 1, "dispatch_after copied the block %d times", atomic_load(&c.copies));
    memset(&sb, 0xEE, sizeof sb);
    CHECK(wait_for_value(&c.runs, 1, 5000), "the counted block did not run");
    CHECK(wait_for_value(&c.disposes, 1, 5000), "dispatch_after's copy was not released");
    dispatch_release(done);
    dispatch_release(q);
    OK("after");
}

/* ------------------------------------------------------------------ */

static void test_apply(void)
{
    test_start("apply", 20);
    enum { N = 1000 };
    static atomic_int hits[N];
    dispatch_queue_t cq = dispatch_queue_create("test.blocks.apply", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_t targets[2] = { cq, DISPATCH_APPLY_AUTO };
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < N; i++)
            atomic_store(&hits[i], 0);
        __block atomic_long sum = 0;
        int offset = 3;
        dispatch_apply(N, targets[t], ^(size_t i) {
            atomic_fetch_add(&hits[i], 1);
            atomic_fetch_add(&sum, (long)i + offset);
        });
        for (int i = 0; i < N; i++)
            CHECK(atomic_load(&hits[i]) == 1, "target %d: index %d ran %d times", t, i, atomic_load(&hits[i]));
        long want = (long)N * (N - 1) / 2 + (long)N * 3;
        CHECK(atomic_load(&sum) == want, "target %d: sum %ld, expected %ld", t, atomic_load(&sum), want);
    }

    enum { M = 16 };
    static atomic_int pairs[M][M];
    memset(pairs, 0, sizeof pairs);
    dispatch_apply(M, cq, ^(size_t i) {
        dispatch_apply(M, cq, ^(size_t j) {
            atomic_fetch_add(&pairs[i][j], 1);
        });
    });
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            CHECK(atomic_load(&pairs[i][j]) == 1, "nested apply: (%d,%d) ran %d times", i, j,
                  atomic_load(&pairs[i][j]));

    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    sb.invoke.indexed = counted_invoke_indexed;
    dispatch_apply(50, cq, (void (^)(size_t))(void *)&sb);
    CHECK(atomic_load(&c.runs) == 50, "counted apply block ran %d times", atomic_load(&c.runs));
    CHECK(atomic_load(&c.copies) == 0 && atomic_load(&c.disposes) == 0, "dispatch_apply copied the block (%d, %d)",
          atomic_load(&c.copies), atomic_load(&c.disposes));
    dispatch_release(cq);
    OK("apply");
}

/* ------------------------------------------------------------------ */

static void test_group(void)
{
    test_start("group", 15);
    dispatch_group_t g = dispatch_group_create();
    dispatch_queue_t cq = dispatch_queue_create("test.blocks.group.c", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_t sq = dispatch_queue_create("test.blocks.group.s", NULL);
    dispatch_queue_t nq = dispatch_queue_create("test.blocks.group.notify", NULL);
    static atomic_int items, notified, at_notify, notify_on_q;
    atomic_store(&items, 0);
    atomic_store(&notified, 0);
    for (int i = 0; i < 20; i++) {
        dispatch_group_async(g, (i & 1) ? cq : sq, ^{
            sleep_ms((unsigned)(i % 5) * 3);
            atomic_fetch_add(&items, 1);
        });
    }
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_group_notify(g, nq, ^{
        atomic_store(&at_notify, atomic_load(&items));
        atomic_store(&notify_on_q, dispatch_get_current_queue() == nq);
        atomic_fetch_add(&notified, 1);
        dispatch_semaphore_signal(done);
    });
    CHECK(sem_wait_ms(done, 5000), "the group notify block did not run");
    CHECK(atomic_load(&at_notify) == 20, "notify ran when %d of 20 items had finished", atomic_load(&at_notify));
    CHECK(atomic_load(&notify_on_q), "notify did not run on the queue given");
    CHECK(group_wait_ms(g, 1000), "dispatch_group_wait after notify did not return 0");
    sleep_ms(50);
    CHECK(atomic_load(&notified) == 1, "notify ran %d times", atomic_load(&notified));

    /* counted blocks: group_async and group_notify each copy once and release once */
    struct counts ca, cn;
    struct counted_block ba, bn;
    counted_init(&ba, &ca);
    counted_init(&bn, &cn);
    dispatch_group_async(g, cq, as_block(&ba));
    dispatch_group_notify(g, nq, as_block(&bn));
    CHECK(atomic_load(&ca.copies) == 1 && atomic_load(&cn.copies) == 1, "group copies: async %d, notify %d",
          atomic_load(&ca.copies), atomic_load(&cn.copies));
    memset(&ba, 0xEE, sizeof ba);
    memset(&bn, 0xEE, sizeof bn);
    CHECK(group_wait_ms(g, 5000), "group with a counted block did not empty");
    CHECK(wait_for_value(&cn.runs, 1, 5000), "counted notify did not run");
    CHECK(wait_for_value(&ca.disposes, 1, 5000) && wait_for_value(&cn.disposes, 1, 5000),
          "group copies not released: async %d, notify %d", atomic_load(&ca.disposes), atomic_load(&cn.disposes));
    CHECK(atomic_load(&ca.runs) == 1, "counted group item ran %d times", atomic_load(&ca.runs));
    dispatch_release(done);
    dispatch_release(nq);
    dispatch_release(sq);
    dispatch_release(cq);
    dispatch_release(g);
    OK("group");
}

/* ------------------------------------------------------------------ */

#define ONCE_THREADS 16
static dispatch_once_t once_pred;
static atomic_int once_runs;
static int once_value;
static int once_seen[ONCE_THREADS];
static pthread_barrier_t once_barrier;

static void *once_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    pthread_barrier_wait(&once_barrier);
    dispatch_once(&once_pred, ^{
        atomic_fetch_add(&once_runs, 1);
        sleep_ms(50);
        once_value = 42;
    });
    once_seen[i] = once_value;
    return NULL;
}

static void test_once(void)
{
    test_start("once", 15);
    pthread_barrier_init(&once_barrier, NULL, ONCE_THREADS);
    pthread_t t[ONCE_THREADS];
    for (int i = 0; i < ONCE_THREADS; i++)
        pthread_create(&t[i], NULL, once_thread, (void *)(intptr_t)i);
    for (int i = 0; i < ONCE_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&once_barrier);
    CHECK(atomic_load(&once_runs) == 1, "the once block ran %d times", atomic_load(&once_runs));
    for (int i = 0; i < ONCE_THREADS; i++)
        CHECK(once_seen[i] == 42, "thread %d returned from dispatch_once before the block finished (saw %d)", i,
              once_seen[i]);
    CHECK(once_pred == ~0l, "the predicate is %ld after dispatch_once, expected ~0l", (long)once_pred);
    dispatch_once(&once_pred, ^{
        atomic_fetch_add(&once_runs, 1);
    });
    CHECK(atomic_load(&once_runs) == 1, "a later dispatch_once ran the block again");

    static dispatch_once_t pred2;
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_once(&pred2, as_block(&sb));
    dispatch_once(&pred2, as_block(&sb));
    CHECK(atomic_load(&c.runs) == 1, "counted once block ran %d times", atomic_load(&c.runs));
    CHECK(atomic_load(&c.copies) == 0 && atomic_load(&c.disposes) == 0, "dispatch_once copied the block");
    CHECK(pred2 == ~0l, "the second predicate is %ld", (long)pred2);
    OK("once");
}

/* ------------------------------------------------------------------ */

#define NQ 8

static void test_many_queues(void)
{
    test_start("many_queues", 15);
    dispatch_queue_t qs[NQ];
    for (int i = 0; i < NQ; i++) {
        char label[32];
        snprintf(label, sizeof label, "test.blocks.many.%d", i);
        qs[i] = dispatch_queue_create(label, (i & 1) ? DISPATCH_QUEUE_CONCURRENT : NULL);
    }
    dispatch_group_t g = dispatch_group_create();
    static atomic_int ran_with[NQ];
    static atomic_int on_right_queue[NQ];
    for (int i = 0; i < NQ; i++) {
        atomic_store(&ran_with[i], 0);
        atomic_store(&on_right_queue[i], 0);
    }
    for (int i = 0; i < NQ; i++) {
        dispatch_queue_t mine = qs[i];
        dispatch_group_async(g, qs[i], ^{
            sleep_ms(2);
            atomic_fetch_add(&ran_with[i], 1);
            if (dispatch_get_current_queue() == mine)
                atomic_fetch_add(&on_right_queue[i], 1);
        });
    }
    CHECK(group_wait_ms(g, 5000), "the loop's blocks did not all run");
    for (int i = 0; i < NQ; i++) {
        CHECK(atomic_load(&ran_with[i]) == 1, "the block with index %d ran %d times", i, atomic_load(&ran_with[i]));
        CHECK(atomic_load(&on_right_queue[i]) == 1, "the block with index %d did not run on queue %d", i, i);
    }

    static atomic_int per_queue[NQ];
    static atomic_int total, unknown;
    for (int i = 0; i < NQ; i++)
        atomic_store(&per_queue[i], 0);
    atomic_store(&total, 0);
    atomic_store(&unknown, 0);
    dispatch_queue_t *qsp = qs;
    dispatch_block_t one = ^{
        dispatch_queue_t cur = dispatch_get_current_queue();
        int found = -1;
        for (int k = 0; k < NQ; k++)
            if (qsp[k] == cur)
                found = k;
        if (found < 0)
            atomic_fetch_add(&unknown, 1);
        else
            atomic_fetch_add(&per_queue[found], 1);
        atomic_fetch_add(&total, 1);
    };
    for (int i = 0; i < NQ; i++)
        dispatch_group_async(g, qs[i], one);
    CHECK(group_wait_ms(g, 5000), "the shared block did not run on every queue");
    CHECK(atomic_load(&total) == NQ, "the shared block ran %d times, expected %d", atomic_load(&total), NQ);
    CHECK(atomic_load(&unknown) == 0, "the shared block ran outside the queues");
    for (int i = 0; i < NQ; i++)
        CHECK(atomic_load(&per_queue[i]) == 1, "the shared block ran %d times on queue %d",
              atomic_load(&per_queue[i]), i);
    for (int i = 0; i < NQ; i++)
        dispatch_release(qs[i]);
    dispatch_release(g);
    OK("many_queues");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_async_runs_once();
    test_async_fifo_producers();
    test_async_copy_balance();
    test_heap_release_after_submit();
    test_sync_caller_thread();
    test_barrier();
    test_async_and_wait();
    test_after();
    test_apply();
    test_group();
    test_once();
    test_many_queues();
    return 0;
}
