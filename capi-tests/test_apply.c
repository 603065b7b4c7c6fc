/*
 * test_apply.c: dispatch_apply_f.
 *
 *   coverage           for 1, 7 and 100000 iterations on DISPATCH_APPLY_AUTO, a global
 *                      queue, a serial queue and a concurrent queue, every index in [0, n)
 *                      is passed exactly once with the context given, no index outside it,
 *                      and all iterations finished when dispatch_apply_f returns.
 *   zero_iterations    0 iterations never calls the function.
 *   serial_one_at_a_time on a serial queue no two iterations overlap.
 *   nested_8x8         an apply of 8 whose iterations each apply 8 (on AUTO and on a
 *                      concurrent queue) completes and covers every pair exactly once.
 *   apply_from_item    dispatch_apply_f called from inside a queue item completes.
 */
#include "check.h"

struct cover {
    size_t n;
    atomic_uchar *hits;
    atomic_int out_of_range;
    atomic_int bad_ctx;
    atomic_int inside;
    atomic_int max_inside;
    bool track_overlap;
};

static void cover_iter(void *ctx, size_t i)
{
    struct cover *c = ctx;
    if (c->track_overlap) {
        int now = atomic_fetch_add(&c->inside, 1) + 1;
        int m = atomic_load(&c->max_inside);
        while (now > m && !atomic_compare_exchange_weak(&c->max_inside, &m, now)) {
        }
        for (volatile int k = 0; k < 200; k++) {
        }
    }
    if (i >= c->n)
        atomic_fetch_add(&c->out_of_range, 1);
    else
        atomic_fetch_add(&c->hits[i], 1);
    if (c->track_overlap)
        atomic_fetch_sub(&c->inside, 1);
}

static void run_cover(size_t n, dispatch_queue_t q, const char *qname, bool serial)
{
    struct cover c;
    memset(&c, 0, sizeof c);
    c.n = n;
    c.hits = calloc(n, sizeof *c.hits);
    c.track_overlap = serial;
    CHECK(c.hits != NULL, "calloc");
    dispatch_apply_f(n, q, &c, cover_iter);
    CHECK(atomic_load(&c.out_of_range) == 0, "%s, n=%zu: %d indexes out of range", qname, n,
          atomic_load(&c.out_of_range));
    size_t missing = 0, dup = 0, first_bad = n;
    for (size_t i = 0; i < n; i++) {
        unsigned h = atomic_load(&c.hits[i]);
        if (h != 1 && first_bad == n)
            first_bad = i;
        if (h == 0)
            missing++;
        else if (h > 1)
            dup++;
    }
    CHECK(missing == 0 && dup == 0, "%s, n=%zu: %zu indexes never ran, %zu ran more than once (first bad %zu)", qname,
          n, missing, dup, first_bad);
    if (serial)
        CHECK(atomic_load(&c.max_inside) == 1, "%s, n=%zu: %d iterations overlapped on a serial queue", qname, n,
              atomic_load(&c.max_inside));
    free(c.hits);
}

static void test_coverage(void)
{
    test_start("coverage", 30);
    dispatch_queue_t serial = dispatch_queue_create("test.apply.serial", NULL);
    dispatch_queue_t conc = dispatch_queue_create("test.apply.conc", DISPATCH_QUEUE_CONCURRENT);
    struct {
        dispatch_queue_t q;
        const char *name;
        bool serial;
    } queues[] = {
        { DISPATCH_APPLY_AUTO, "DISPATCH_APPLY_AUTO", false },
        { dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), "global default", false },
        { dispatch_get_global_queue(QOS_CLASS_UTILITY, 0), "global utility", false },
        { serial, "serial queue", true },
        { conc, "concurrent queue", false },
    };
    static const size_t sizes[] = { 1, 7, 100000 };
    for (size_t qi = 0; qi < sizeof queues / sizeof queues[0]; qi++)
        for (size_t si = 0; si < 3; si++)
            run_cover(sizes[si], queues[qi].q, queues[qi].name, queues[qi].serial);
    dispatch_release(conc);
    dispatch_release(serial);
    OK("coverage");
}

/* ------------------------------------------------------------------ */

static atomic_int zero_calls;

static void zero_iter(void *ctx, size_t i)
{
    UNUSED(ctx);
    UNUSED(i);
    atomic_fetch_add(&zero_calls, 1);
}

static void test_zero_iterations(void)
{
    test_start("zero_iterations", 5);
    dispatch_apply_f(0, DISPATCH_APPLY_AUTO, NULL, zero_iter);
    dispatch_queue_t q = dispatch_queue_create("test.apply.zero", NULL);
    dispatch_apply_f(0, q, NULL, zero_iter);
    CHECK(atomic_load(&zero_calls) == 0, "0 iterations called the function %d times", atomic_load(&zero_calls));
    dispatch_release(q);
    OK("zero_iterations");
}

/* ------------------------------------------------------------------ */

struct nest {
    dispatch_queue_t q;
    atomic_int hits[64];
    atomic_int bad;
};

struct nest_inner {
    struct nest *n;
    size_t outer;
};

static void inner_iter(void *ctx, size_t j)
{
    struct nest_inner *in = ctx;
    if (j >= 8 || in->outer >= 8)
        atomic_fetch_add(&in->n->bad, 1);
    else
        atomic_fetch_add(&in->n->hits[in->outer * 8 + j], 1);
}

static void outer_iter(void *ctx, size_t i)
{
    struct nest *n = ctx;
    struct nest_inner in = { n, i };
    dispatch_apply_f(8, n->q, &in, inner_iter);
}

static void nested_on(dispatch_queue_t q, const char *name)
{
    struct nest n;
    memset(&n, 0, sizeof n);
    n.q = q;
    dispatch_apply_f(8, q, &n, outer_iter);
    CHECK(atomic_load(&n.bad) == 0, "%s: %d indexes out of range", name, atomic_load(&n.bad));
    for (int k = 0; k < 64; k++)
        CHECK(atomic_load(&n.hits[k]) == 1, "%s: pair (%d,%d) ran %d times", name, k / 8, k % 8,
              atomic_load(&n.hits[k]));
}

static void test_nested_8x8(void)
{
    test_start("nested_8x8", 15);
    nested_on(DISPATCH_APPLY_AUTO, "DISPATCH_APPLY_AUTO");
    dispatch_queue_t conc = dispatch_queue_create("test.apply.nested", DISPATCH_QUEUE_CONCURRENT);
    nested_on(conc, "concurrent queue");
    nested_on(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), "global queue");
    dispatch_release(conc);
    OK("nested_8x8");
}

/* ------------------------------------------------------------------ */

struct from_item {
    struct cover c;
    dispatch_semaphore_t done;
};

static void apply_in_item(void *ctx)
{
    struct from_item *f = ctx;
    dispatch_apply_f(f->c.n, DISPATCH_APPLY_AUTO, &f->c, cover_iter);
    dispatch_semaphore_signal(f->done);
}

static void test_apply_from_item(void)
{
    test_start("apply_from_item", 10);
    static atomic_uchar hits[1000];
    struct from_item f;
    memset(&f, 0, sizeof f);
    f.c.n = 1000;
    f.c.hits = hits;
    f.done = dispatch_semaphore_create(0);
    dispatch_queue_t q = dispatch_queue_create("test.apply.fromitem", NULL);
    dispatch_async_f(q, &f, apply_in_item);
    CHECK(sem_wait_ms(f.done, 5000), "dispatch_apply_f inside a serial queue item did not finish");
    for (int i = 0; i < 1000; i++)
        CHECK(atomic_load(&hits[i]) == 1, "index %d ran %d times", i, atomic_load(&hits[i]));
    dispatch_release(f.done);
    dispatch_release(q);
    OK("apply_from_item");
}

int main(void)
{
    test_coverage();
    test_zero_iterations();
    test_nested_8x8();
    test_apply_from_item();
    return 0;
}
