/*
 * test_source_references.c: the references the event thread and a source's queue items
 * hold on a source (or, for dispatch_after, on a queue) keep it alive exactly as long as
 * they are needed, and are all given back: the object's finalizer runs once, after the
 * last thing that used it.
 *
 * Each source case: the client releases its only reference right after
 * dispatch_source_cancel. The finalizer (dispatch_set_finalizer_f) then runs exactly once
 * within 5 s, after the cancel handler ran once, and no handler runs after it (100 ms).
 *
 *   read_registered   READ on a pipe, one event delivered (the registry's token entry holds
 *                     a reference until the cancel unregisters it).
 *   signal_registered SIGNAL (SIGUSR2, ignored by default here), one event delivered (the
 *                     registry's signal entry).
 *   timer_far         TIMER armed for 1 hour and never fired (the heap entry's reference is
 *                     given back by the cancel's disarm).
 *   timer_reset       a 2 ms repeating TIMER that fired >= 3 times and was re-set 20 times
 *                     (each re-set disarms the old entry): the finalizer still runs once.
 *   data_queued       DATA_ADD with 100 merges while its target queue is suspended (delivery
 *                     items wait, each holding a reference), cancelled and released before
 *                     the queue is resumed: the finalizer waits for those items, then runs.
 *   after_queue       dispatch_after_f 50 ms on a serial queue whose only client reference is
 *                     released at once: the work runs once, then the queue's finalizer once.
 */
#include "check.h"

#include <unistd.h>

struct refs {
    atomic_int events;
    atomic_int cancels;
    atomic_int finalized;
    atomic_int late; /* handler calls after the finalizer */
    dispatch_semaphore_t event_sem;
    dispatch_semaphore_t fin_sem;
};

static void refs_init(struct refs *r)
{
    atomic_init(&r->events, 0);
    atomic_init(&r->cancels, 0);
    atomic_init(&r->finalized, 0);
    atomic_init(&r->late, 0);
    r->event_sem = dispatch_semaphore_create(0);
    r->fin_sem = dispatch_semaphore_create(0);
}

static void on_event(void *ctx)
{
    struct refs *r = ctx;
    if (atomic_load(&r->finalized))
        atomic_fetch_add(&r->late, 1);
    atomic_fetch_add(&r->events, 1);
    dispatch_semaphore_signal(r->event_sem);
}

static void on_cancel(void *ctx)
{
    struct refs *r = ctx;
    if (atomic_load(&r->finalized))
        atomic_fetch_add(&r->late, 1);
    atomic_fetch_add(&r->cancels, 1);
}

static void on_finalize(void *ctx)
{
    struct refs *r = ctx;
    CHECK(atomic_load(&r->cancels) == 1, "finalizer ran before the cancel handler");
    atomic_fetch_add(&r->finalized, 1);
    dispatch_semaphore_signal(r->fin_sem);
}

static void arm(dispatch_source_t s, struct refs *r)
{
    dispatch_set_context(s, r);
    dispatch_source_set_event_handler_f(s, on_event);
    dispatch_source_set_cancel_handler_f(s, on_cancel);
    dispatch_set_finalizer_f(s, on_finalize);
}

/* Cancels and releases `s` (the client's only reference), then checks the finalizer. */
static void cancel_release_and_check(dispatch_source_t s, struct refs *r)
{
    dispatch_source_cancel(s);
    dispatch_release(s);
    CHECK(sem_wait_ms(r->fin_sem, 5000), "finalizer never ran (a reference was not given back)");
    sleep_ms(100);
    CHECK(atomic_load(&r->finalized) == 1, "finalizer ran %d times", atomic_load(&r->finalized));
    CHECK(atomic_load(&r->cancels) == 1, "cancel handler ran %d times", atomic_load(&r->cancels));
    CHECK(atomic_load(&r->late) == 0, "a handler ran after the finalizer");
}

static void test_read_registered(void)
{
    test_start("read_registered", 15);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    struct refs r;
    refs_init(&r);
    dispatch_queue_t q = dispatch_queue_create("test.refs.read", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_READ, (uintptr_t)fds[0], 0, q);
    CHECK(s != NULL, "create");
    arm(s, &r);
    dispatch_activate(s);
    CHECK(write(fds[1], "x", 1) == 1, "write");
    CHECK(sem_wait_ms(r.event_sem, 5000), "no read event");
    cancel_release_and_check(s, &r);
    dispatch_release(q);
    close(fds[0]);
    close(fds[1]);
    OK("read_registered");
}

static void test_signal_registered(void)
{
    test_start("signal_registered", 15);
    signal(SIGUSR2, SIG_IGN);
    struct refs r;
    refs_init(&r);
    dispatch_queue_t q = dispatch_queue_create("test.refs.signal", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_SIGNAL, SIGUSR2, 0, q);
    CHECK(s != NULL, "create");
    arm(s, &r);
    dispatch_activate(s);
    kill(getpid(), SIGUSR2);
    CHECK(sem_wait_ms(r.event_sem, 5000), "no signal event");
    cancel_release_and_check(s, &r);
    dispatch_release(q);
    OK("signal_registered");
}

static void test_timer_far(void)
{
    test_start("timer_far", 15);
    struct refs r;
    refs_init(&r);
    dispatch_queue_t q = dispatch_queue_create("test.refs.timer_far", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(s != NULL, "create");
    arm(s, &r);
    dispatch_source_set_timer(s, in_ms(3600 * 1000), 3600 * NSEC_PER_SEC, 0);
    dispatch_activate(s);
    sleep_ms(20);
    cancel_release_and_check(s, &r);
    CHECK(atomic_load(&r.events) == 0, "the 1-hour timer fired");
    dispatch_release(q);
    OK("timer_far");
}

static void test_timer_reset(void)
{
    test_start("timer_reset", 15);
    struct refs r;
    refs_init(&r);
    dispatch_queue_t q = dispatch_queue_create("test.refs.timer_reset", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, q);
    CHECK(s != NULL, "create");
    arm(s, &r);
    dispatch_source_set_timer(s, DISPATCH_TIME_NOW, 2 * NSEC_PER_MSEC, 0);
    dispatch_activate(s);
    for (int i = 0; i < 3; i++)
        CHECK(sem_wait_ms(r.event_sem, 5000), "timer fire %d missing", i);
    for (int i = 0; i < 20; i++)
        dispatch_source_set_timer(s, in_ms(1 + i % 3), 2 * NSEC_PER_MSEC, 0);
    cancel_release_and_check(s, &r);
    dispatch_release(q);
    OK("timer_reset");
}

static void test_data_queued(void)
{
    test_start("data_queued", 15);
    struct refs r;
    refs_init(&r);
    dispatch_queue_t q = dispatch_queue_create("test.refs.data", NULL);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, q);
    CHECK(s != NULL, "create");
    arm(s, &r);
    dispatch_activate(s);
    dispatch_suspend(q);
    for (int i = 0; i < 100; i++)
        dispatch_source_merge_data(s, 1);
    dispatch_source_cancel(s);
    dispatch_release(s);
    sleep_ms(50);
    CHECK(atomic_load(&r.finalized) == 0, "finalized while its queue items were still waiting");
    dispatch_resume(q);
    CHECK(sem_wait_ms(r.fin_sem, 5000), "finalizer never ran");
    sleep_ms(100);
    CHECK(atomic_load(&r.finalized) == 1, "finalizer ran %d times", atomic_load(&r.finalized));
    CHECK(atomic_load(&r.cancels) == 1, "cancel handler ran %d times", atomic_load(&r.cancels));
    CHECK(atomic_load(&r.late) == 0, "a handler ran after the finalizer");
    dispatch_release(q);
    OK("data_queued");
}

static atomic_int after_runs;
static atomic_int after_fin_runs;
static atomic_int after_fin_before_work;
static dispatch_semaphore_t after_fin_sem;

static void after_work(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&after_runs, 1);
}

static void after_finalizer(void *ctx)
{
    (void)ctx;
    if (atomic_load(&after_runs) != 1)
        atomic_fetch_add(&after_fin_before_work, 1);
    atomic_fetch_add(&after_fin_runs, 1);
    dispatch_semaphore_signal(after_fin_sem);
}

static void test_after_queue(void)
{
    test_start("after_queue", 15);
    after_fin_sem = dispatch_semaphore_create(0);
    dispatch_queue_t q = dispatch_queue_create("test.refs.after", NULL);
    dispatch_set_context(q, &after_runs);
    dispatch_set_finalizer_f(q, after_finalizer);
    dispatch_after_f(in_ms(50), q, NULL, after_work);
    dispatch_release(q);
    CHECK(sem_wait_ms(after_fin_sem, 5000), "the queue's finalizer never ran");
    sleep_ms(100);
    CHECK(atomic_load(&after_runs) == 1, "the work ran %d times", atomic_load(&after_runs));
    CHECK(atomic_load(&after_fin_before_work) == 0, "the queue was finalized before its timer's work ran");
    CHECK(atomic_load(&after_fin_runs) == 1, "the finalizer ran %d times", atomic_load(&after_fin_runs));
    OK("after_queue");
}

int main(void)
{
    test_read_registered();
    test_signal_registered();
    test_timer_far();
    test_timer_reset();
    test_data_queued();
    test_after_queue();
    return 0;
}
