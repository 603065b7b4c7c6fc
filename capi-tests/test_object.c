/*
 * test_object.c: dispatch object life cycle, context and finalizer.
 *
 *   context_set_get      dispatch_get_context is NULL on a new queue, group and semaphore,
 *                        and returns what dispatch_set_context stored (last value wins).
 *   finalizer_last_release
 *                        for a queue, a group and a semaphore: with an extra retain, the first
 *                        release does not run the finalizer; the last one runs it exactly
 *                        once, with the object's current context.
 *   retain_release_balance
 *                        100 retains and 100 releases leave the object alive and working;
 *                        the finalizer runs only after the final release.
 *   finalizer_after_pending_items
 *                        releasing a queue that still has pending items does not drop them:
 *                        they all run, and the finalizer runs after the last one.
 *   finalizer_on_target_queue
 *                        the finalizer runs on the object's target queue.
 */
#include "check.h"

struct fin {
    atomic_int calls;
    void *ctx_seen;
    int items_done_at_finalize;
    void *specific_seen;
    dispatch_semaphore_t done;
};

static struct fin fin_state;
static atomic_int items_done;
static char key_tag;

static void finalizer(void *ctx)
{
    fin_state.ctx_seen = ctx;
    fin_state.items_done_at_finalize = atomic_load(&items_done);
    fin_state.specific_seen = dispatch_get_specific(&key_tag);
    atomic_fetch_add(&fin_state.calls, 1);
    dispatch_semaphore_signal(fin_state.done);
}

static void fin_reset(void)
{
    atomic_store(&fin_state.calls, 0);
    fin_state.ctx_seen = NULL;
    fin_state.items_done_at_finalize = -1;
    fin_state.specific_seen = NULL;
    atomic_store(&items_done, 0);
}

static void signal_sema(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

/* ------------------------------------------------------------------ */

static void test_context_set_get(void)
{
    test_start("context_set_get", 5);
    dispatch_queue_t q = dispatch_queue_create("test.object.ctx", NULL);
    dispatch_group_t g = dispatch_group_create();
    dispatch_semaphore_t s = dispatch_semaphore_create(0);
    CHECK(dispatch_get_context(q) == NULL, "a new queue has context %p", dispatch_get_context(q));
    CHECK(dispatch_get_context(g) == NULL, "a new group has context %p", dispatch_get_context(g));
    CHECK(dispatch_get_context(s) == NULL, "a new semaphore has context %p", dispatch_get_context(s));
    int a, b, c;
    dispatch_set_context(q, &a);
    dispatch_set_context(g, &b);
    dispatch_set_context(s, &c);
    CHECK(dispatch_get_context(q) == &a, "queue context");
    CHECK(dispatch_get_context(g) == &b, "group context");
    CHECK(dispatch_get_context(s) == &c, "semaphore context");
    dispatch_set_context(q, &b);
    CHECK(dispatch_get_context(q) == &b, "the queue context was not replaced");
    dispatch_set_context(q, NULL);
    CHECK(dispatch_get_context(q) == NULL, "the queue context was not cleared");
    dispatch_release(s);
    dispatch_release(g);
    dispatch_release(q);
    OK("context_set_get");
}

/* ------------------------------------------------------------------ */

static void finalizer_on(dispatch_object_t obj, const char *what)
{
    fin_reset();
    static int ctx_a, ctx_b;
    dispatch_set_context(obj, &ctx_a);
    dispatch_set_finalizer_f(obj, finalizer);
    dispatch_set_context(obj, &ctx_b); /* the finalizer gets the context current at the end */
    dispatch_retain(obj);
    dispatch_release(obj);
    CHECK(!sem_wait_ms(fin_state.done, 100), "%s: the finalizer ran while a reference remained", what);
    CHECK(atomic_load(&fin_state.calls) == 0, "%s: finalizer calls %d before the last release", what,
          atomic_load(&fin_state.calls));
    dispatch_release(obj);
    CHECK(sem_wait_ms(fin_state.done, 3000), "%s: the finalizer did not run within 3 s of the last release", what);
    sleep_ms(100);
    CHECK(atomic_load(&fin_state.calls) == 1, "%s: the finalizer ran %d times", what, atomic_load(&fin_state.calls));
    CHECK(fin_state.ctx_seen == &ctx_b, "%s: the finalizer got context %p, expected %p", what, fin_state.ctx_seen,
          (void *)&ctx_b);
}

static void test_finalizer_last_release(void)
{
    test_start("finalizer_last_release", 10);
    finalizer_on(dispatch_queue_create("test.object.fin", NULL), "serial queue");
    finalizer_on(dispatch_queue_create("test.object.finc", DISPATCH_QUEUE_CONCURRENT), "concurrent queue");
    finalizer_on(dispatch_group_create(), "group");
    finalizer_on(dispatch_semaphore_create(1), "semaphore");
    OK("finalizer_last_release");
}

/* ------------------------------------------------------------------ */

static void test_retain_release_balance(void)
{
    test_start("retain_release_balance", 10);
    fin_reset();
    static int ctx;
    dispatch_queue_t q = dispatch_queue_create("test.object.balance", NULL);
    dispatch_set_context(q, &ctx);
    dispatch_set_finalizer_f(q, finalizer);
    for (int i = 0; i < 100; i++)
        dispatch_retain(q);
    for (int i = 0; i < 100; i++)
        dispatch_release(q);
    CHECK(!sem_wait_ms(fin_state.done, 100), "the finalizer ran after balanced retains and releases");
    /* still alive and working */
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async_f(q, done, signal_sema);
    CHECK(sem_wait_ms(done, 3000), "the queue does not work after balanced retains and releases");
    CHECK(atomic_load(&fin_state.calls) == 0, "the finalizer ran early");
    dispatch_release(q);
    CHECK(sem_wait_ms(fin_state.done, 3000), "the finalizer did not run after the final release");
    CHECK(atomic_load(&fin_state.calls) == 1, "the finalizer ran %d times", atomic_load(&fin_state.calls));
    CHECK(fin_state.ctx_seen == &ctx, "the finalizer got context %p", fin_state.ctx_seen);
    dispatch_release(done);
    OK("retain_release_balance");
}

/* ------------------------------------------------------------------ */

static void slow_item(void *ctx)
{
    UNUSED(ctx);
    sleep_ms(2);
    atomic_fetch_add(&items_done, 1);
}

static void test_finalizer_after_pending_items(void)
{
    test_start("finalizer_after_pending_items", 10);
    fin_reset();
    static int ctx;
    dispatch_queue_t q = dispatch_queue_create("test.object.pending", NULL);
    dispatch_set_context(q, &ctx);
    dispatch_set_finalizer_f(q, finalizer);
    for (int i = 0; i < 50; i++)
        dispatch_async_f(q, NULL, slow_item);
    dispatch_release(q); /* the pending items keep the queue alive */
    CHECK(sem_wait_ms(fin_state.done, 5000), "the finalizer did not run");
    CHECK(atomic_load(&items_done) == 50, "%d of 50 items ran", atomic_load(&items_done));
    CHECK(fin_state.items_done_at_finalize == 50, "the finalizer ran when %d of 50 items had run",
          fin_state.items_done_at_finalize);
    CHECK(fin_state.ctx_seen == &ctx, "finalizer context %p", fin_state.ctx_seen);
    OK("finalizer_after_pending_items");
}

/* ------------------------------------------------------------------ */

static void test_finalizer_on_target_queue(void)
{
    test_start("finalizer_on_target_queue", 10);
    fin_reset();
    static int ctx;
    dispatch_queue_t t = dispatch_queue_create("test.object.fintarget", NULL);
    dispatch_queue_set_specific(t, &key_tag, (void *)0x5151, NULL);
    dispatch_queue_t q = dispatch_queue_create_with_target("test.object.finsub", NULL, t);
    dispatch_set_context(q, &ctx);
    dispatch_set_finalizer_f(q, finalizer);
    dispatch_release(q);
    CHECK(sem_wait_ms(fin_state.done, 3000), "the finalizer did not run");
    CHECK(fin_state.specific_seen == (void *)0x5151,
          "the finalizer did not run on the target queue (dispatch_get_specific gave %p)", fin_state.specific_seen);

    /* a group whose target is the default: the finalizer runs on some queue, with the context */
    fin_reset();
    dispatch_group_t g = dispatch_group_create();
    dispatch_set_context(g, &ctx);
    dispatch_set_finalizer_f(g, finalizer);
    dispatch_release(g);
    CHECK(sem_wait_ms(fin_state.done, 3000), "the group's finalizer did not run");
    CHECK(fin_state.ctx_seen == &ctx, "the group's finalizer got context %p", fin_state.ctx_seen);
    dispatch_release(t);
    OK("finalizer_on_target_queue");
}

int main(void)
{
    fin_state.done = dispatch_semaphore_create(0);
    test_context_set_get();
    test_finalizer_last_release();
    test_retain_release_balance();
    test_finalizer_after_pending_items();
    test_finalizer_on_target_queue();
    return 0;
}
