/*
 * test_blocks_objects.c: dispatch block objects (dispatch_block_create,
 * dispatch_block_create_with_qos_class, dispatch_block_perform, dispatch_block_wait,
 * dispatch_block_notify, dispatch_block_cancel, dispatch_block_testcancel) and their flags.
 *
 * The misuse cases run first, each in a forked child (expect_abort in check.h), before this
 * process starts any dispatch thread.
 *
 *   misuse_wait_twice         dispatch_block_wait on a block object that was already waited
 *                             for successfully aborts ("waited for more than once").
 *   misuse_wait_concurrently  a second dispatch_block_wait while another thread is still
 *                             waiting on the same block object aborts (the same message).
 *   misuse_run_after_wait     submitting a block object again after it was waited for aborts
 *                             when the second execution is attempted ("run more than once").
 *   misuse_run_twice_wait     dispatch_block_wait on a block object that already ran twice
 *                             aborts ("run more than once").
 *   misuse_run_twice_notify   dispatch_block_notify on a block object that already ran twice
 *                             aborts ("run more than once").
 *   create_and_call           dispatch_block_create copies the block given (a counted stack
 *                             block: copy helper once; the stack block may die); calling the
 *                             object directly runs it on the caller's thread; the last
 *                             Block_release disposes the copy once; invalid flags and invalid
 *                             QoS class / relative priority give NULL.
 *   layout                    the object is a block whose invoke is
 *                             _dispatch_block_special_invoke, with 0xD159B10C at offset 32 and
 *                             the flags given at offset 40, for every flag and a combination.
 *   perform                   dispatch_block_perform runs the block once, synchronously, on
 *                             the calling thread, without copying it; with every flag.
 *   wait_timeout              dispatch_block_wait on a submitted block that is held up on a
 *                             semaphore: non-zero with DISPATCH_TIME_NOW and after a 50 ms
 *                             timeout (not earlier); 0 once it finished; a never-run object
 *                             times out until it is run.
 *   notify                    dispatch_block_notify blocks run once, on the queue given, after
 *                             the block finished; several notifications all fire; one added
 *                             after the block finished fires too.
 *   cancel_before_start       a block object cancelled while queued behind a blocked item
 *                             never runs, its notify fires, dispatch_block_wait returns 0;
 *                             testcancel is 0 before and non-zero after cancel; a cancelled
 *                             object called directly does not run its body.
 *   cancel_while_running      cancelling a running block does not stop it: it completes,
 *                             testcancel is non-zero, wait returns 0.
 *   barrier_flag              a DISPATCH_BLOCK_BARRIER object given to dispatch_async on a
 *                             concurrent queue runs alone, after every earlier item, before
 *                             every later one.
 *   submit_paths              block objects run through dispatch_sync, dispatch_group_async,
 *                             dispatch_after, dispatch_barrier_async and dispatch_async_and_wait:
 *                             each runs once and dispatch_block_wait returns 0; an object
 *                             Block_release'd right after dispatch_async still runs and then
 *                             its copy of the block is disposed.
 *   submitted_twice           an object submitted twice without waiting runs twice; its notify
 *                             fires once.
 *   flags_accepted            DETACHED, NO_QOS_CLASS, INHERIT_QOS_CLASS, ENFORCE_QOS_CLASS,
 *                             ASSIGN_CURRENT (with and without a QoS class) each create an
 *                             object that runs when submitted and can be waited for.
 *   qos                       on the BACKGROUND global queue a plain object runs at
 *                             QOS_CLASS_BACKGROUND and a higher nice value than the process's;
 *                             an ENFORCE USER_INITIATED object runs at USER_INITIATED and (when
 *                             this process may lower a thread's nice value) at the process's
 *                             nice; INHERIT keeps the queue's BACKGROUND; ENFORCE BACKGROUND
 *                             on the USER_INITIATED queue does not lower it; a USER_INITIATED
 *                             object on a queue without QoS runs at USER_INITIATED;
 *                             ASSIGN_CURRENT|ENFORCE created in a USER_INITIATED item keeps
 *                             USER_INITIATED on the BACKGROUND queue.
 */
#include "check.h"

#include <Block.h>
#include <sys/resource.h>

/* exported by the library (the reference's name): the invoke function of every block object */
extern void (*const _dispatch_block_special_invoke)(void *);

/* ---- a counted block (Blocks ABI literal with counting copy/dispose helpers) ---- */

#include "counted_block.h"


static void park_main_thread(void)
{
    sleep_ms(5000);
    static const char msg[] = "the expected abort did not happen within 5 s\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(3);
}

static const dispatch_block_flags_t all_flags[] = {
    DISPATCH_BLOCK_BARRIER,           DISPATCH_BLOCK_DETACHED,          DISPATCH_BLOCK_ASSIGN_CURRENT,
    DISPATCH_BLOCK_NO_QOS_CLASS,      DISPATCH_BLOCK_INHERIT_QOS_CLASS, DISPATCH_BLOCK_ENFORCE_QOS_CLASS,
};
#define N_FLAGS (sizeof all_flags / sizeof all_flags[0])

/* ------------------------------------------------------------------ */
/* misuse (forked children) */

static void misuse_wait_twice(void)
{
    dispatch_block_t b = dispatch_block_create(0, ^{
    });
    dispatch_async(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), b);
    if (dispatch_block_wait(b, in_ms(5000)) != 0) {
        fprintf(stderr, "the first dispatch_block_wait did not return 0\n");
        _exit(4);
    }
    dispatch_block_wait(b, in_ms(1000));
}

static dispatch_semaphore_t mc_gate;

static void misuse_wait_concurrently(void)
{
    mc_gate = dispatch_semaphore_create(0);
    dispatch_block_t b = dispatch_block_create(0, ^{
        dispatch_semaphore_wait(mc_gate, in_ms(5000));
    });
    dispatch_async(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), b);
    dispatch_semaphore_t waiting = dispatch_semaphore_create(0);
    dispatch_async(dispatch_get_global_queue(QOS_CLASS_DEFAULT, DISPATCH_QUEUE_OVERCOMMIT), ^{
        dispatch_semaphore_signal(waiting);
        dispatch_block_wait(b, in_ms(5000));
    });
    dispatch_semaphore_wait(waiting, in_ms(5000));
    sleep_ms(100); /* the other thread is inside dispatch_block_wait by now */
    dispatch_block_wait(b, in_ms(3000));
}

static void misuse_run_after_wait(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.blocks.again", NULL);
    dispatch_block_t b = dispatch_block_create(0, ^{
    });
    dispatch_async(q, b);
    if (dispatch_block_wait(b, in_ms(5000)) != 0) {
        fprintf(stderr, "dispatch_block_wait did not return 0\n");
        _exit(4);
    }
    dispatch_async(q, b); /* runs (and aborts) on a worker */
    park_main_thread();
}

static void misuse_run_twice_wait(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.blocks.twice", NULL);
    dispatch_block_t b = dispatch_block_create(0, ^{
    });
    dispatch_sync(q, b);
    dispatch_sync(q, b);
    dispatch_block_wait(b, in_ms(1000));
}

static void misuse_run_twice_notify(void)
{
    dispatch_queue_t q = dispatch_queue_create("misuse.blocks.twice.notify", NULL);
    dispatch_block_t b = dispatch_block_create(0, ^{
    });
    dispatch_sync(q, b);
    dispatch_sync(q, b);
    dispatch_block_notify(b, q, ^{
    });
    park_main_thread();
}

static void test_misuse(void)
{
    test_start("misuse_wait_twice", 30);
    CHECK(expect_abort(misuse_wait_twice, "waited for more than once"), "waiting twice on a block object");
    OK("misuse_wait_twice");
    test_start("misuse_wait_concurrently", 30);
    CHECK(expect_abort(misuse_wait_concurrently, "waited for more than once"),
          "two threads waiting on one block object");
    OK("misuse_wait_concurrently");
    test_start("misuse_run_after_wait", 30);
    CHECK(expect_abort(misuse_run_after_wait, "run more than once"), "running a block object again after waiting");
    OK("misuse_run_after_wait");
    test_start("misuse_run_twice_wait", 30);
    CHECK(expect_abort(misuse_run_twice_wait, "run more than once"), "waiting on a block object that ran twice");
    OK("misuse_run_twice_wait");
    test_start("misuse_run_twice_notify", 30);
    CHECK(expect_abort(misuse_run_twice_notify, "run more than once"),
          "dispatch_block_notify on a block object that ran twice");
    OK("misuse_run_twice_notify");
}

/* ------------------------------------------------------------------ */

static void test_create_and_call(void)
{
    test_start("create_and_call", 10);
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_block_t b = dispatch_block_create(0, as_block(&sb));
    CHECK(b != NULL, "dispatch_block_create returned NULL");
    CHECK(atomic_load(&c.copies) == 1, "dispatch_block_create copied the block %d times", atomic_load(&c.copies));
    memset(&sb, 0xEE, sizeof sb); /* the stack block is gone; the object holds its own copy */
    b();
    CHECK(atomic_load(&c.runs) == 1, "calling the object ran the block %d times", atomic_load(&c.runs));
    CHECK(atomic_load(&c.tid) == my_tid(), "calling the object ran the block on another thread");
    CHECK(dispatch_block_wait(b, DISPATCH_TIME_NOW) == 0, "wait after a direct call did not return 0");
    dispatch_block_t extra = Block_copy(b);
    Block_release(extra);
    CHECK(atomic_load(&c.disposes) == 0, "the block's copy was disposed while the object lives");
    Block_release(b);
    CHECK(wait_for_value(&c.disposes, 1, 2000), "releasing the object disposed the copied block %d times",
          atomic_load(&c.disposes));

    /* capture by value through the object */
    int v = 5;
    __block int out = 0;
    dispatch_block_t b2 = dispatch_block_create(0, ^{
        out = v * 3;
    });
    v = 100;
    b2();
    CHECK(out == 15, "the object's block saw %d, expected 15", out);
    Block_release(b2);

    CHECK(dispatch_block_create((dispatch_block_flags_t)0x40, ^{
          }) == NULL,
          "dispatch_block_create with an undefined flag bit did not return NULL");
    CHECK(dispatch_block_create_with_qos_class(0, (dispatch_qos_class_t)0x30, 0, ^{
          }) == NULL,
          "dispatch_block_create_with_qos_class with an invalid QoS class did not return NULL");
    CHECK(dispatch_block_create_with_qos_class(0, QOS_CLASS_UTILITY, 1, ^{
          }) == NULL,
          "relative priority 1 did not give NULL");
    CHECK(dispatch_block_create_with_qos_class(0, QOS_CLASS_UTILITY, QOS_MIN_RELATIVE_PRIORITY - 1, ^{
          }) == NULL,
          "relative priority %d did not give NULL", QOS_MIN_RELATIVE_PRIORITY - 1);
    dispatch_block_t ok = dispatch_block_create_with_qos_class(0, QOS_CLASS_UTILITY, QOS_MIN_RELATIVE_PRIORITY, ^{
    });
    CHECK(ok != NULL, "relative priority QOS_MIN_RELATIVE_PRIORITY gave NULL");
    Block_release(ok);
    OK("create_and_call");
}

/* ------------------------------------------------------------------ */

struct dispatch_block_private {
    void *isa;
    int flags;
    int reserved;
    void (*invoke)(void *);
    void *descriptor;
    unsigned long magic;
    unsigned long dbflags;
};

static void check_layout(dispatch_block_t b, dispatch_block_flags_t given, const char *what)
{
    CHECK(b != NULL, "%s: dispatch_block_create returned NULL", what);
    const struct dispatch_block_private *p = (const void *)b;
    CHECK(p->magic == 0xD159B10Cul, "%s: magic at offset 32 is %#lx", what, p->magic);
    CHECK((void *)p->invoke == (void *)_dispatch_block_special_invoke,
          "%s: invoke %p is not _dispatch_block_special_invoke %p", what, (void *)p->invoke,
          (void *)_dispatch_block_special_invoke);
    CHECK((p->dbflags & 0x3ful) == given, "%s: flags at offset 40 are %#lx, given %#lx", what, p->dbflags,
          (unsigned long)given);
}

static void test_layout(void)
{
    test_start("layout", 10);
    dispatch_block_t b = dispatch_block_create(0, ^{
    });
    check_layout(b, 0, "flags 0");
    Block_release(b);
    for (size_t i = 0; i < N_FLAGS; i++) {
        char what[64];
        snprintf(what, sizeof what, "flag %#lx", (unsigned long)all_flags[i]);
        b = dispatch_block_create(all_flags[i], ^{
        });
        check_layout(b, all_flags[i], what);
        Block_release(b);
        b = dispatch_block_create_with_qos_class(all_flags[i], QOS_CLASS_UTILITY, -2, ^{
        });
        check_layout(b, all_flags[i], what);
        Block_release(b);
    }
    dispatch_block_flags_t combo = DISPATCH_BLOCK_BARRIER | DISPATCH_BLOCK_DETACHED | DISPATCH_BLOCK_ENFORCE_QOS_CLASS;
    b = dispatch_block_create(combo, ^{
    });
    check_layout(b, combo, "barrier|detached|enforce");
    Block_release(b);
    OK("layout");
}

/* ------------------------------------------------------------------ */

static void test_perform(void)
{
    test_start("perform", 10);
    pid_t me = my_tid();
    __block int runs = 0;
    __block pid_t tid = 0;
    int cap = 11;
    __block int seen = 0;
    dispatch_block_perform(0, ^{
        runs++;
        tid = my_tid();
        seen = cap;
    });
    CHECK(runs == 1, "dispatch_block_perform ran the block %d times", runs);
    CHECK(tid == me, "dispatch_block_perform ran the block on thread %d, caller %d", (int)tid, (int)me);
    CHECK(seen == 11, "captured value %d", seen);
    for (size_t i = 0; i < N_FLAGS; i++) {
        runs = 0;
        tid = 0;
        dispatch_block_perform(all_flags[i], ^{
            runs++;
            tid = my_tid();
        });
        CHECK(runs == 1 && tid == me, "flag %#lx: perform ran %d times on thread %d (caller %d)",
              (unsigned long)all_flags[i], runs, (int)tid, (int)me);
    }
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_block_perform(0, as_block(&sb));
    CHECK(atomic_load(&c.runs) == 1, "perform ran the counted block %d times", atomic_load(&c.runs));
    CHECK(atomic_load(&c.copies) == atomic_load(&c.disposes), "perform left %d copies unreleased",
          atomic_load(&c.copies) - atomic_load(&c.disposes));
    CHECK(atomic_load(&c.copies) == 0, "dispatch_block_perform copied the block %d times", atomic_load(&c.copies));
    OK("perform");
}

/* ------------------------------------------------------------------ */

static void test_wait_timeout(void)
{
    test_start("wait_timeout", 15);
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    __block int finished = 0;
    dispatch_block_t b = dispatch_block_create(0, ^{
        dispatch_semaphore_wait(gate, in_ms(5000));
        finished = 1;
    });
    dispatch_async(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), b);
    CHECK(dispatch_block_wait(b, DISPATCH_TIME_NOW) != 0, "wait(NOW) returned 0 while the block is held up");
    uint64_t t0 = now_ns();
    intptr_t r = dispatch_block_wait(b, in_ms(50));
    uint64_t el = now_ns() - t0;
    CHECK(r != 0, "wait(50 ms) returned 0 while the block is held up");
    CHECK(el >= 50ull * 1000000ull, "wait(50 ms) timed out after %.1f ms", el / 1e6);
    CHECK(el < 2000ull * 1000000ull, "wait(50 ms) took %.1f ms", el / 1e6);
    dispatch_semaphore_signal(gate);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "wait did not return 0 after the block finished");
    CHECK(finished == 1, "wait returned 0 before the block finished");
    Block_release(b);

    /* an object never submitted: waits time out, until it runs */
    __block int ran = 0;
    dispatch_block_t idle = dispatch_block_create(0, ^{
        ran++;
    });
    CHECK(dispatch_block_wait(idle, in_ms(30)) != 0, "wait on a never-run object returned 0");
    dispatch_queue_t q = dispatch_queue_create("test.blockobj.idle", NULL);
    dispatch_async(q, idle);
    CHECK(dispatch_block_wait(idle, in_ms(5000)) == 0, "wait after the object ran did not return 0");
    CHECK(ran == 1, "the object ran %d times", ran);
    Block_release(idle);
    dispatch_release(q);
    dispatch_release(gate);
    OK("wait_timeout");
}

/* ------------------------------------------------------------------ */

static void test_notify(void)
{
    test_start("notify", 15);
    dispatch_queue_t q = dispatch_queue_create("test.blockobj.notify.work", NULL);
    dispatch_queue_t nq = dispatch_queue_create("test.blockobj.notify.target", NULL);
    static atomic_int finished, notified, bad_order, bad_queue;
    atomic_store(&finished, 0);
    atomic_store(&notified, 0);
    atomic_store(&bad_order, 0);
    atomic_store(&bad_queue, 0);
    dispatch_block_t b = dispatch_block_create(0, ^{
        sleep_ms(50);
        atomic_store(&finished, 1);
    });
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    for (int i = 0; i < 3; i++) {
        dispatch_block_notify(b, nq, ^{
            if (!atomic_load(&finished))
                atomic_fetch_add(&bad_order, 1);
            if (dispatch_get_current_queue() != nq)
                atomic_fetch_add(&bad_queue, 1);
            atomic_fetch_add(&notified, 1);
            dispatch_semaphore_signal(done);
        });
    }
    sleep_ms(20);
    CHECK(atomic_load(&notified) == 0, "a notification ran before the block was submitted");
    dispatch_async(q, b);
    for (int i = 0; i < 3; i++)
        CHECK(sem_wait_ms(done, 5000), "notification %d did not run", i);
    CHECK(atomic_load(&bad_order) == 0, "%d notifications ran before the block finished", atomic_load(&bad_order));
    CHECK(atomic_load(&bad_queue) == 0, "%d notifications ran off the queue given", atomic_load(&bad_queue));

    /* a notification added after the block finished fires too */
    dispatch_block_notify(b, nq, ^{
        atomic_fetch_add(&notified, 1);
        dispatch_semaphore_signal(done);
    });
    CHECK(sem_wait_ms(done, 5000), "a notification added after completion did not run");
    sleep_ms(50);
    CHECK(atomic_load(&notified) == 4, "notifications ran %d times, expected 4", atomic_load(&notified));
    Block_release(b);
    dispatch_release(done);
    dispatch_release(nq);
    dispatch_release(q);
    OK("notify");
}

/* ------------------------------------------------------------------ */

static void test_cancel_before_start(void)
{
    test_start("cancel_before_start", 15);
    dispatch_queue_t q = dispatch_queue_create("test.blockobj.cancel", NULL);
    dispatch_queue_t nq = dispatch_queue_create("test.blockobj.cancel.notify", NULL);
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_async(q, ^{
        dispatch_semaphore_wait(gate, in_ms(5000));
    });
    __block int ran = 0;
    __block int notified = 0;
    dispatch_semaphore_t nsem = dispatch_semaphore_create(0);
    dispatch_block_t b = dispatch_block_create(0, ^{
        ran = 1;
    });
    dispatch_async(q, b);
    dispatch_block_notify(b, nq, ^{
        notified++;
        dispatch_semaphore_signal(nsem);
    });
    CHECK(dispatch_block_testcancel(b) == 0, "testcancel is non-zero before cancel");
    dispatch_block_cancel(b);
    CHECK(dispatch_block_testcancel(b) != 0, "testcancel is 0 after cancel");
    dispatch_semaphore_signal(gate);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "wait on the cancelled object did not return 0");
    CHECK(sem_wait_ms(nsem, 5000), "the cancelled object's notification did not run");
    dispatch_sync(q, ^{
    });
    CHECK(ran == 0, "the cancelled block ran");
    sleep_ms(20);
    CHECK(notified == 1, "the notification ran %d times", notified);
    dispatch_block_cancel(b); /* again: harmless */
    CHECK(dispatch_block_testcancel(b) != 0, "testcancel after a second cancel");
    Block_release(b);

    /* a cancelled object called directly does not run its body */
    __block int direct = 0;
    dispatch_block_t d = dispatch_block_create(0, ^{
        direct = 1;
    });
    dispatch_block_cancel(d);
    d();
    CHECK(direct == 0, "a cancelled object ran when called directly");
    CHECK(dispatch_block_wait(d, in_ms(1000)) == 0, "wait on the cancelled, called object did not return 0");
    Block_release(d);
    dispatch_release(nsem);
    dispatch_release(gate);
    dispatch_release(nq);
    dispatch_release(q);
    OK("cancel_before_start");
}

/* ------------------------------------------------------------------ */

static void test_cancel_while_running(void)
{
    test_start("cancel_while_running", 15);
    dispatch_semaphore_t started = dispatch_semaphore_create(0);
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    __block int finished = 0;
    dispatch_block_t b = dispatch_block_create(0, ^{
        dispatch_semaphore_signal(started);
        dispatch_semaphore_wait(gate, in_ms(5000));
        finished = 1;
    });
    dispatch_async(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), b);
    CHECK(sem_wait_ms(started, 5000), "the block did not start");
    dispatch_block_cancel(b);
    CHECK(dispatch_block_testcancel(b) != 0, "testcancel is 0 after cancelling a running block");
    dispatch_semaphore_signal(gate);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "wait did not return 0");
    CHECK(finished == 1, "cancelling a running block stopped it");
    Block_release(b);
    dispatch_release(gate);
    dispatch_release(started);
    OK("cancel_while_running");
}

/* ------------------------------------------------------------------ */

static void test_barrier_flag(void)
{
    test_start("barrier_flag", 20);
    dispatch_queue_t q = dispatch_queue_create("test.blockobj.barrier", DISPATCH_QUEUE_CONCURRENT);
    static atomic_int inflight, barrier_active, violations, finished, max_inflight;
    atomic_store(&inflight, 0);
    atomic_store(&barrier_active, 0);
    atomic_store(&violations, 0);
    atomic_store(&finished, 0);
    atomic_store(&max_inflight, 0);
    dispatch_group_t g = dispatch_group_create();
    enum { ROUNDS = 8, PER_ROUND = 16 };
    dispatch_block_t item = ^{
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
    };
    dispatch_block_t barriers[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++)
            dispatch_group_async(g, q, item);
        int before = (r + 1) * PER_ROUND;
        barriers[r] = dispatch_block_create(DISPATCH_BLOCK_BARRIER, ^{
            atomic_store(&barrier_active, 1);
            if (atomic_load(&inflight) != 0)
                atomic_fetch_add(&violations, 1);
            if (atomic_load(&finished) != before)
                atomic_fetch_add(&violations, 1000);
            sleep_ms(3);
            if (atomic_load(&inflight) != 0)
                atomic_fetch_add(&violations, 1);
            atomic_store(&barrier_active, 0);
        });
        dispatch_async(q, barriers[r]);
    }
    CHECK(group_wait_ms(g, 15000), "the items did not finish");
    for (int r = 0; r < ROUNDS; r++) {
        CHECK(dispatch_block_wait(barriers[r], in_ms(5000)) == 0, "barrier %d did not finish", r);
        Block_release(barriers[r]);
    }
    CHECK(atomic_load(&violations) == 0,
          "barrier object violations: %d (1 per overlap, 1000 per barrier started before earlier items ended)",
          atomic_load(&violations));
    CHECK(atomic_load(&max_inflight) >= 2, "the concurrent queue never ran two items at once");
    dispatch_release(g);
    dispatch_release(q);
    OK("barrier_flag");
}

/* ------------------------------------------------------------------ */

static void test_submit_paths(void)
{
    test_start("submit_paths", 20);
    dispatch_queue_t s = dispatch_queue_create("test.blockobj.paths", NULL);
    dispatch_queue_t cq = dispatch_queue_create("test.blockobj.paths.c", DISPATCH_QUEUE_CONCURRENT);
    static atomic_int runs[5];
    for (int i = 0; i < 5; i++)
        atomic_store(&runs[i], 0);
    dispatch_block_t b[5];
    for (int i = 0; i < 5; i++)
        b[i] = dispatch_block_create(0, ^{
            atomic_fetch_add(&runs[i], 1);
        });
    pid_t me = my_tid();
    __block pid_t sync_tid = 0;
    dispatch_block_t bs = dispatch_block_create(0, ^{
        sync_tid = my_tid();
    });
    dispatch_sync(s, bs);
    CHECK(sync_tid == me, "dispatch_sync of an object ran on another thread");
    CHECK(dispatch_block_wait(bs, DISPATCH_TIME_NOW) == 0, "wait after dispatch_sync did not return 0");
    Block_release(bs);

    dispatch_sync(s, b[0]);
    dispatch_group_t g = dispatch_group_create();
    dispatch_group_async(g, cq, b[1]);
    dispatch_after(in_ms(10), s, b[2]);
    dispatch_barrier_async(cq, b[3]);
    dispatch_async_and_wait(s, b[4]);
    CHECK(atomic_load(&runs[0]) == 1, "dispatch_sync: ran %d times", atomic_load(&runs[0]));
    CHECK(atomic_load(&runs[4]) == 1, "dispatch_async_and_wait: ran %d times", atomic_load(&runs[4]));
    for (int i = 0; i < 5; i++) {
        CHECK(dispatch_block_wait(b[i], in_ms(5000)) == 0, "path %d: wait did not return 0", i);
        CHECK(atomic_load(&runs[i]) == 1, "path %d: ran %d times", i, atomic_load(&runs[i]));
        Block_release(b[i]);
    }
    CHECK(group_wait_ms(g, 5000), "the group did not empty");

    /* released right after submission: the queue's reference keeps it alive */
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_async(s, ^{
        dispatch_semaphore_wait(gate, in_ms(5000));
    });
    struct counts c;
    struct counted_block sb;
    counted_init(&sb, &c);
    dispatch_block_t o = dispatch_block_create(DISPATCH_BLOCK_DETACHED, as_block(&sb));
    dispatch_async(s, o);
    Block_release(o);
    sleep_ms(20);
    CHECK(atomic_load(&c.disposes) == 0 && atomic_load(&c.runs) == 0, "the released object died or ran early");
    dispatch_semaphore_signal(gate);
    CHECK(wait_for_value(&c.runs, 1, 5000), "the released object did not run");
    CHECK(wait_for_value(&c.disposes, 1, 5000), "the released object's block was not disposed after it ran");
    CHECK(atomic_load(&c.copies) == 1, "the block was copied %d times", atomic_load(&c.copies));
    dispatch_release(gate);
    dispatch_release(g);
    dispatch_release(cq);
    dispatch_release(s);
    OK("submit_paths");
}

/* ------------------------------------------------------------------ */

static void test_submitted_twice(void)
{
    test_start("submitted_twice", 10);
    dispatch_queue_t q = dispatch_queue_create("test.blockobj.twice", NULL);
    dispatch_queue_t nq = dispatch_queue_create("test.blockobj.twice.n", NULL);
    __block int runs = 0;
    __block int notified = 0;
    dispatch_block_t b = dispatch_block_create(0, ^{
        runs++;
    });
    dispatch_block_notify(b, nq, ^{
        notified++;
    });
    dispatch_async(q, b);
    dispatch_async(q, b);
    dispatch_sync(q, ^{
    });
    CHECK(runs == 2, "an object submitted twice ran %d times", runs);
    sleep_ms(50);
    dispatch_sync(nq, ^{
    });
    CHECK(notified == 1, "the notification ran %d times, expected once", notified);
    Block_release(b);
    dispatch_release(nq);
    dispatch_release(q);
    OK("submitted_twice");
}

/* ------------------------------------------------------------------ */

static void test_flags_accepted(void)
{
    test_start("flags_accepted", 15);
    dispatch_queue_t q = dispatch_queue_create("test.blockobj.flags", NULL);
    dispatch_queue_t cq = dispatch_queue_create("test.blockobj.flags.c", DISPATCH_QUEUE_CONCURRENT);
    for (size_t i = 0; i < N_FLAGS; i++) {
        for (int with_qos = 0; with_qos < 2; with_qos++) {
            __block int ran = 0;
            dispatch_block_t blk = ^{
                ran++;
            };
            dispatch_block_t b = with_qos ? dispatch_block_create_with_qos_class(all_flags[i], QOS_CLASS_UTILITY, 0, blk)
                                          : dispatch_block_create(all_flags[i], blk);
            CHECK(b != NULL, "flag %#lx (qos %d): NULL", (unsigned long)all_flags[i], with_qos);
            dispatch_async((i & 1) ? q : cq, b);
            CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "flag %#lx (qos %d): wait did not return 0",
                  (unsigned long)all_flags[i], with_qos);
            CHECK(ran == 1, "flag %#lx (qos %d): ran %d times", (unsigned long)all_flags[i], with_qos, ran);
            Block_release(b);
        }
    }
    dispatch_release(cq);
    dispatch_release(q);
    OK("flags_accepted");
}

/* ------------------------------------------------------------------ */

struct where {
    int nice;
    unsigned qos;
};

/* runs `b` (an object) on q, returns where it ran */
static struct where run_on(dispatch_queue_t q, dispatch_block_t b, struct where *w)
{
    dispatch_async(q, b);
    CHECK(dispatch_block_wait(b, in_ms(5000)) == 0, "the QoS object did not run");
    Block_release(b);
    return *w;
}

struct nice_probe {
    int base;
    bool ok;
};

static void *nice_probe_thread(void *arg)
{
    struct nice_probe *p = arg;
    id_t tid = (id_t)my_tid();
    if (setpriority(PRIO_PROCESS, tid, p->base + 1) == 0)
        p->ok = setpriority(PRIO_PROCESS, tid, p->base) == 0;
    return NULL;
}

/* lowering a thread's nice value needs CAP_SYS_NICE or RLIMIT_NICE: probe on a helper thread */
static bool can_lower_nice(int base)
{
    struct nice_probe p = { base, false };
    pthread_t t;
    if (pthread_create(&t, NULL, nice_probe_thread, &p) != 0)
        return false;
    pthread_join(t, NULL);
    return p.ok;
}

static void test_qos(void)
{
    test_start("qos", 20);
    errno = 0;
    int base = getpriority(PRIO_PROCESS, (id_t)my_tid());
    CHECK(errno == 0, "getpriority failed");
    bool privileged = can_lower_nice(base);
    dispatch_queue_t bg = dispatch_get_global_queue(QOS_CLASS_BACKGROUND, 0);
    dispatch_queue_t ui = dispatch_get_global_queue(QOS_CLASS_USER_INITIATED, 0);
    __block struct where w;
    dispatch_block_t record = ^{
        w.nice = getpriority(PRIO_PROCESS, (id_t)my_tid());
        w.qos = qos_class_self();
    };

    for (int round = 0; round < 5; round++) {
        struct where r = run_on(bg, dispatch_block_create(0, record), &w);
        CHECK(r.qos == QOS_CLASS_BACKGROUND, "round %d: a plain object on the BACKGROUND queue runs at QoS %#x",
              round, r.qos);
        CHECK(r.nice > base, "round %d: a plain object on the BACKGROUND queue runs at nice %d, process %d", round,
              r.nice, base);

        r = run_on(bg,
                   dispatch_block_create_with_qos_class(DISPATCH_BLOCK_ENFORCE_QOS_CLASS, QOS_CLASS_USER_INITIATED, 0,
                                                        record),
                   &w);
        CHECK(r.qos == QOS_CLASS_USER_INITIATED,
              "round %d: an ENFORCE USER_INITIATED object on the BACKGROUND queue runs at QoS %#x", round, r.qos);
        if (privileged)
            CHECK(r.nice == base, "round %d: an ENFORCE USER_INITIATED object runs at nice %d, process %d", round,
                  r.nice, base);

        /* the worker thread went back to BACKGROUND afterwards */
        r = run_on(bg, dispatch_block_create(0, record), &w);
        CHECK(r.qos == QOS_CLASS_BACKGROUND && r.nice > base,
              "round %d: after an ENFORCE object the BACKGROUND queue runs at QoS %#x nice %d", round, r.qos,
              r.nice);

        r = run_on(bg,
                   dispatch_block_create_with_qos_class(DISPATCH_BLOCK_INHERIT_QOS_CLASS, QOS_CLASS_USER_INITIATED, 0,
                                                        record),
                   &w);
        CHECK(r.qos == QOS_CLASS_BACKGROUND,
              "round %d: an INHERIT USER_INITIATED object on the BACKGROUND queue runs at QoS %#x", round, r.qos);

        r = run_on(ui,
                   dispatch_block_create_with_qos_class(DISPATCH_BLOCK_ENFORCE_QOS_CLASS, QOS_CLASS_BACKGROUND, 0,
                                                        record),
                   &w);
        CHECK(r.qos == QOS_CLASS_USER_INITIATED && r.nice == base,
              "round %d: ENFORCE BACKGROUND on the USER_INITIATED queue ran at QoS %#x nice %d (must not lower)",
              round, r.qos, r.nice);

        r = run_on(bg, dispatch_block_create(DISPATCH_BLOCK_NO_QOS_CLASS, record), &w);
        CHECK(r.qos == QOS_CLASS_BACKGROUND, "round %d: a NO_QOS_CLASS object on BACKGROUND runs at QoS %#x",
              round, r.qos);
    }

    dispatch_queue_t plain = dispatch_queue_create("test.blockobj.qos.plain", NULL);
    struct where r =
        run_on(plain, dispatch_block_create_with_qos_class(0, QOS_CLASS_USER_INITIATED, 0, record), &w);
    CHECK(r.qos == QOS_CLASS_USER_INITIATED, "a USER_INITIATED object on a queue without QoS runs at QoS %#x",
          r.qos);
    dispatch_release(plain);

    /* ASSIGN_CURRENT captures the creating item's USER_INITIATED */
    __block dispatch_block_t assigned = NULL;
    dispatch_semaphore_t made = dispatch_semaphore_create(0);
    dispatch_async(ui, ^{
        assigned = dispatch_block_create(DISPATCH_BLOCK_ASSIGN_CURRENT | DISPATCH_BLOCK_ENFORCE_QOS_CLASS, record);
        dispatch_semaphore_signal(made);
    });
    CHECK(sem_wait_ms(made, 5000), "the USER_INITIATED item did not run");
    CHECK(assigned != NULL, "dispatch_block_create(ASSIGN_CURRENT|ENFORCE) returned NULL");
    r = run_on(bg, assigned, &w);
    CHECK(r.qos == QOS_CLASS_USER_INITIATED,
          "an ASSIGN_CURRENT|ENFORCE object made in a USER_INITIATED item ran on BACKGROUND at QoS %#x", r.qos);
    if (privileged)
        CHECK(r.nice == base, "the ASSIGN_CURRENT|ENFORCE object ran at nice %d, process %d", r.nice, base);
    dispatch_release(made);
    if (!privileged)
        printf("note: this process may not lower a thread's nice value; nice checks of raised QoS skipped\n");
    OK("qos");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_misuse();
    test_create_and_call();
    test_layout();
    test_perform();
    test_wait_timeout();
    test_notify();
    test_cancel_before_start();
    test_cancel_while_running();
    test_barrier_flag();
    test_submit_paths();
    test_submitted_twice();
    test_flags_accepted();
    test_qos();
    return 0;
}
