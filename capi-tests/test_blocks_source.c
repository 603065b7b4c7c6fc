/*
 * test_blocks_source.c: the block variants of the dispatch source handler setters
 * (clang -fblocks).
 *
 *   event_block         a DATA_ADD source with dispatch_source_set_event_handler(block): the
 *                       block sees its captured values (a const multiplier, the source) and
 *                       its __block writes are visible afterwards: merges 1..10 give a
 *                       multiplied total of 3 * 55; it runs on the target queue.
 *   block_copied        the handler block is set from a helper function whose stack frame
 *                       (and the stack block with its captures) is gone before the source
 *                       fires: the library kept a copy, which still sees the captured value.
 *   cancel_block        dispatch_source_set_cancel_handler(block) runs once, after the event
 *                       handler block returned (the event block is blocked when cancel is
 *                       called), on the target queue; no event block call after it.
 *   registration_block  dispatch_source_set_registration_handler(block) runs once, before the
 *                       first event handler block call.
 *   mandatory_block     dispatch_source_set_mandatory_cancel_handler(block) runs once on
 *                       cancel.
 *   replace_handler     setting the event handler block a second time (before activation)
 *                       replaces the first: only the second runs; a function handler set
 *                       after a block replaces the block.
 *   timer_rearm_block   a one-shot TIMER (20 ms) whose handler block re-arms it with
 *                       dispatch_source_set_timer(+20 ms, FOREVER) until it ran 5 times: exactly
 *                       5 calls, each >= 20 ms after the previous one, then none for 300 ms.
 */
#include "check.h"

static int queue_key;

static bool wait_until(atomic_int *a, int want, int ms)
{
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (atomic_load(a) < want) {
        if (now_ns() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* activate already done; cancel, wait for the cancel block to signal, release */
static void cancel_wait_release(dispatch_source_t s, dispatch_semaphore_t cancelled)
{
    dispatch_source_cancel(s);
    CHECK(sem_wait_ms(cancelled, 5000), "cancel handler did not run within 5 s");
    dispatch_release(s);
}

/* ------------------------------------------------------------------ */

static void test_event_block(void)
{
    test_start("event_block", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.event", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    const unsigned long multiplier = 3;
    __block unsigned long total = 0;
    __block int calls = 0;
    __block int wrong_queue = 0;
    atomic_int *done = calloc(1, sizeof *done);
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    dispatch_source_set_event_handler(s, ^{
        if (dispatch_get_specific(&queue_key) != &marker)
            wrong_queue++;
        total += dispatch_source_get_data(s) * multiplier;
        calls++;
        atomic_store(done, (int)total);
    });
    dispatch_source_set_cancel_handler(s, ^{
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_activate(s);
    for (uintptr_t v = 1; v <= 10; v++)
        dispatch_source_merge_data(s, v);
    CHECK(wait_until(done, 165, 5000), "block total %d, want 165", atomic_load(done));
    cancel_wait_release(s, cancelled);
    /* the cancel handler ran after the last event block: its writes are visible now */
    CHECK(total == 165, "__block total %lu, want 165", total);
    CHECK(calls >= 1 && calls <= 10, "calls %d", calls);
    CHECK(wrong_queue == 0, "event block ran off the target queue");
    free(done);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("event_block");
}

/* ------------------------------------------------------------------ */

static atomic_long copied_seen;

static void set_handler_from_helper(dispatch_source_t s, long value)
{
    long local[8];
    for (int i = 0; i < 8; i++)
        local[i] = value + i;
    long captured = local[7];
    dispatch_source_set_event_handler(s, ^{
        atomic_store(&copied_seen, captured * 1000 + (long)dispatch_source_get_data(s));
    });
}

static void scribble_stack(void)
{
    volatile char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)0xa5;
    (void)junk[100];
}

static void test_block_copied(void)
{
    test_start("block_copied", 10);
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.copy", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_OR, 0, 0, q);
    CHECK(s != NULL, "create");
    set_handler_from_helper(s, 40);
    scribble_stack();
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    dispatch_source_set_cancel_handler(s, ^{
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_activate(s);
    dispatch_source_merge_data(s, 6);
    uint64_t deadline = now_ns() + 5 * NSEC_PER_SEC;
    while (atomic_load(&copied_seen) == 0 && now_ns() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&copied_seen) == 47006, "handler block saw %ld, want 47006 (captured 47, data 6)",
          atomic_load(&copied_seen));
    cancel_wait_release(s, cancelled);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("block_copied");
}

/* ------------------------------------------------------------------ */

static void test_cancel_block(void)
{
    test_start("cancel_block", 15);
    static char marker;
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.cancel", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(q, &queue_key, &marker, NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    dispatch_semaphore_t entered = dispatch_semaphore_create(0);
    dispatch_semaphore_t gate = dispatch_semaphore_create(0);
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    atomic_int *state = calloc(4, sizeof *state); /* [0] event calls, [1] inside, [2] cancels, [3] bad */
    dispatch_source_set_event_handler(s, ^{
        atomic_fetch_add(&state[1], 1);
        atomic_fetch_add(&state[0], 1);
        if (atomic_load(&state[2]) != 0)
            atomic_fetch_add(&state[3], 1);
        dispatch_semaphore_signal(entered);
        dispatch_semaphore_wait(gate, in_ms(5000));
        sleep_ms(10);
        atomic_fetch_sub(&state[1], 1);
    });
    dispatch_source_set_cancel_handler(s, ^{
        if (atomic_load(&state[1]) != 0)
            atomic_fetch_add(&state[3], 1);
        if (dispatch_get_specific(&queue_key) != &marker)
            atomic_fetch_add(&state[3], 100);
        atomic_fetch_add(&state[2], 1);
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_activate(s);
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(entered, 5000), "event block not entered");
    dispatch_source_merge_data(s, 2);
    dispatch_source_cancel(s);
    sleep_ms(100);
    CHECK(atomic_load(&state[2]) == 0, "cancel block ran while the event block was running");
    dispatch_semaphore_signal(gate);
    CHECK(sem_wait_ms(cancelled, 5000), "cancel block did not run");
    sleep_ms(100);
    CHECK(atomic_load(&state[2]) == 1, "cancel block ran %d times", atomic_load(&state[2]));
    CHECK(atomic_load(&state[0]) == 1, "event block ran %d times (pending data after cancel must not be delivered)",
          atomic_load(&state[0]));
    CHECK(atomic_load(&state[3]) == 0, "ordering/queue violations: %d", atomic_load(&state[3]));
    dispatch_release(s);
    free(state);
    dispatch_release(entered);
    dispatch_release(gate);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("cancel_block");
}

/* ------------------------------------------------------------------ */

static void test_registration_block(void)
{
    test_start("registration_block", 10);
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.reg", DISPATCH_QUEUE_CONCURRENT);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    atomic_int *seq = calloc(4, sizeof *seq); /* [0] counter, [1] reg at, [2] first event at, [3] reg count */
    dispatch_semaphore_t ev = dispatch_semaphore_create(0);
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    dispatch_source_set_registration_handler(s, ^{
        atomic_fetch_add(&seq[3], 1);
        atomic_store(&seq[1], atomic_fetch_add(&seq[0], 1) + 1);
    });
    dispatch_source_set_event_handler(s, ^{
        int n = atomic_fetch_add(&seq[0], 1) + 1;
        int zero = 0;
        atomic_compare_exchange_strong(&seq[2], &zero, n);
        dispatch_semaphore_signal(ev);
    });
    dispatch_source_set_cancel_handler(s, ^{
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_source_merge_data(s, 1);
    dispatch_activate(s);
    CHECK(sem_wait_ms(ev, 5000), "event block did not run");
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(ev, 5000), "second event block did not run");
    CHECK(atomic_load(&seq[3]) == 1, "registration block ran %d times", atomic_load(&seq[3]));
    CHECK(atomic_load(&seq[1]) != 0 && atomic_load(&seq[1]) < atomic_load(&seq[2]),
          "registration block (seq %d) not before the first event block (seq %d)", atomic_load(&seq[1]),
          atomic_load(&seq[2]));
    cancel_wait_release(s, cancelled);
    free(seq);
    dispatch_release(ev);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("registration_block");
}

/* ------------------------------------------------------------------ */

static void test_mandatory_block(void)
{
    test_start("mandatory_block", 10);
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.mand", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    __block int runs = 0;
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    dispatch_source_set_event_handler(s, ^{
    });
    dispatch_source_set_mandatory_cancel_handler(s, ^{
        runs++;
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_activate(s);
    cancel_wait_release(s, cancelled);
    sleep_ms(50);
    CHECK(runs == 1, "mandatory cancel block ran %d times", runs);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("mandatory_block");
}

/* ------------------------------------------------------------------ */

static atomic_int fn_handler_runs;

static void fn_handler(void *ctx)
{
    UNUSED(ctx);
    atomic_fetch_add(&fn_handler_runs, 1);
}

static void test_replace_handler(void)
{
    test_start("replace_handler", 10);
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.replace", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    atomic_int *runs = calloc(2, sizeof *runs);
    dispatch_semaphore_t ev = dispatch_semaphore_create(0);
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    dispatch_source_set_event_handler(s, ^{
        atomic_fetch_add(&runs[0], 1);
        dispatch_semaphore_signal(ev);
    });
    dispatch_source_set_event_handler(s, ^{
        atomic_fetch_add(&runs[1], 1);
        dispatch_semaphore_signal(ev);
    });
    dispatch_source_set_cancel_handler(s, ^{
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_activate(s);
    dispatch_source_merge_data(s, 1);
    CHECK(sem_wait_ms(ev, 5000), "no handler ran");
    sleep_ms(50);
    CHECK(atomic_load(&runs[0]) == 0 && atomic_load(&runs[1]) == 1, "first block ran %d, second %d",
          atomic_load(&runs[0]), atomic_load(&runs[1]));
    cancel_wait_release(s, cancelled);

    /* a function handler replacing a block */
    s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    dispatch_source_set_event_handler(s, ^{
        atomic_fetch_add(&runs[0], 1);
    });
    dispatch_source_set_event_handler_f(s, fn_handler);
    dispatch_source_set_cancel_handler(s, ^{
        dispatch_semaphore_signal(cancelled);
    });
    dispatch_activate(s);
    dispatch_source_merge_data(s, 1);
    CHECK(wait_until(&fn_handler_runs, 1, 5000), "function handler did not run");
    sleep_ms(50);
    CHECK(atomic_load(&runs[0]) == 0, "the replaced block ran");
    cancel_wait_release(s, cancelled);
    free(runs);
    dispatch_release(ev);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("replace_handler");
}

/* ------------------------------------------------------------------ */

static void test_timer_rearm_block(void)
{
    test_start("timer_rearm_block", 10);
    dispatch_queue_t q = dispatch_queue_create("test.bsrc.timer", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(s != NULL, "create");
    __block int count = 0;
    uint64_t *times = calloc(16, sizeof *times);
    atomic_int *published = calloc(1, sizeof *published);
    dispatch_semaphore_t cancelled = dispatch_semaphore_create(0);
    dispatch_source_set_event_handler(s, ^{
        if (count < 16)
            times[count] = now_ns();
        count++;
        atomic_store(published, count);
        if (count < 5)
            dispatch_source_set_timer(s, in_ms(20), DISPATCH_TIME_FOREVER, 0);
    });
    dispatch_source_set_cancel_handler(s, ^{
        dispatch_semaphore_signal(cancelled);
    });
    uint64_t t0 = now_ns();
    dispatch_source_set_timer(s, in_ms(20), DISPATCH_TIME_FOREVER, 0);
    dispatch_activate(s);
    CHECK(wait_until(published, 5, 3000), "re-arming timer block ran %d of 5 times in 3 s", atomic_load(published));
    sleep_ms(300);
    CHECK(atomic_load(published) == 5, "timer block ran %d times, want 5 (it stops re-arming)",
          atomic_load(published));
    cancel_wait_release(s, cancelled);
    CHECK(count == 5, "count %d", count);
    CHECK(times[0] - t0 >= 20 * NSEC_PER_MSEC, "first fire after %.1f ms", (times[0] - t0) / 1e6);
    for (int i = 1; i < 5; i++)
        CHECK(times[i] - times[i - 1] >= 20 * NSEC_PER_MSEC, "fire %d came %.1f ms after the previous one", i + 1,
              (times[i] - times[i - 1]) / 1e6);
    free(published);
    free(times);
    dispatch_release(cancelled);
    dispatch_release(q);
    OK("timer_rearm_block");
}

/* ------------------------------------------------------------------ */

int main(void)
{
    test_event_block();
    test_block_copied();
    test_cancel_block();
    test_registration_block();
    test_mandatory_block();
    test_replace_handler();
    test_timer_rearm_block();
    return 0;
}
