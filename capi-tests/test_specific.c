/*
 * test_specific.c: queue-specific data, current queue, labels, QoS, queue assertions.
 *
 *   set_get_specific       dispatch_queue_set_specific / dispatch_queue_get_specific on one
 *                          queue: values per key, unknown keys give NULL, NULL removes.
 *   get_specific_in_items  dispatch_get_specific inside an item (async and sync) returns the
 *                          queue's value, outside any queue NULL.
 *   specific_target_chain  dispatch_get_specific looks through the target chain (nearest
 *                          queue wins); dispatch_queue_get_specific looks at that queue only.
 *   specific_destructor    the destructor is called once with the old value when a value is
 *                          replaced or removed, and once for the last value when the queue is
 *                          released, never before.
 *   current_queue          dispatch_get_current_queue inside async, sync, target-chained and
 *                          global-queue items is the queue the item was submitted to.
 *   labels                 dispatch_queue_get_label returns the label, "" for a NULL label,
 *                          and DISPATCH_CURRENT_QUEUE_LABEL gives the current queue's label.
 *   qos_class              dispatch_queue_get_qos_class gives the QoS class and relative
 *                          priority the queue was created with, UNSPECIFIED/0 without one,
 *                          and the class of a global queue.
 *   assert_queue_passes    dispatch_assert_queue / _not / _barrier return normally where the
 *                          assertion holds (also through the target chain).
 */
#include "check.h"

static char key_a, key_b, key_c;

static void signal_sema(void *ctx)
{
    dispatch_semaphore_signal((dispatch_semaphore_t)ctx);
}

/* ------------------------------------------------------------------ */

static void test_set_get_specific(void)
{
    test_start("set_get_specific", 10);
    dispatch_queue_t q = dispatch_queue_create("test.specific.q", NULL);
    CHECK(dispatch_queue_get_specific(q, &key_a) == NULL, "a fresh queue has a value for key_a");
    dispatch_queue_set_specific(q, &key_a, (void *)0x1111, NULL);
    dispatch_queue_set_specific(q, &key_b, (void *)0x2222, NULL);
    CHECK(dispatch_queue_get_specific(q, &key_a) == (void *)0x1111, "key_a gave %p",
          dispatch_queue_get_specific(q, &key_a));
    CHECK(dispatch_queue_get_specific(q, &key_b) == (void *)0x2222, "key_b gave %p",
          dispatch_queue_get_specific(q, &key_b));
    CHECK(dispatch_queue_get_specific(q, &key_c) == NULL, "an unset key gave %p",
          dispatch_queue_get_specific(q, &key_c));
    dispatch_queue_set_specific(q, &key_a, (void *)0x3333, NULL);
    CHECK(dispatch_queue_get_specific(q, &key_a) == (void *)0x3333, "replaced key_a gave %p",
          dispatch_queue_get_specific(q, &key_a));
    dispatch_queue_set_specific(q, &key_b, NULL, NULL);
    CHECK(dispatch_queue_get_specific(q, &key_b) == NULL, "key_b set to NULL still gives %p",
          dispatch_queue_get_specific(q, &key_b));
    CHECK(dispatch_queue_get_specific(q, &key_a) == (void *)0x3333, "removing key_b changed key_a");

    /* another queue has its own values */
    dispatch_queue_t q2 = dispatch_queue_create("test.specific.q2", NULL);
    CHECK(dispatch_queue_get_specific(q2, &key_a) == NULL, "values leak between queues");
    dispatch_release(q2);
    dispatch_release(q);
    OK("set_get_specific");
}

/* ------------------------------------------------------------------ */

struct spec_seen {
    void *a, *b;
    dispatch_semaphore_t done;
};

static void read_specifics(void *ctx)
{
    struct spec_seen *s = ctx;
    s->a = dispatch_get_specific(&key_a);
    s->b = dispatch_get_specific(&key_b);
    if (s->done)
        dispatch_semaphore_signal(s->done);
}

static void test_get_specific_in_items(void)
{
    test_start("get_specific_in_items", 10);
    dispatch_queue_t q = dispatch_queue_create("test.specific.items", NULL);
    dispatch_queue_set_specific(q, &key_a, (void *)0xa1, NULL);

    struct spec_seen s = { (void *)1, (void *)1, dispatch_semaphore_create(0) };
    dispatch_async_f(q, &s, read_specifics);
    CHECK(sem_wait_ms(s.done, 3000), "the async item did not run");
    CHECK(s.a == (void *)0xa1, "async item: dispatch_get_specific(key_a) = %p", s.a);
    CHECK(s.b == NULL, "async item: an unset key gave %p", s.b);

    struct spec_seen t = { (void *)1, (void *)1, NULL };
    dispatch_sync_f(q, &t, read_specifics);
    CHECK(t.a == (void *)0xa1, "sync item: dispatch_get_specific(key_a) = %p", t.a);

    CHECK(dispatch_get_specific(&key_a) == NULL, "outside any queue dispatch_get_specific gave %p",
          dispatch_get_specific(&key_a));

    /* a concurrent queue too */
    dispatch_queue_t cq = dispatch_queue_create("test.specific.conc", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_set_specific(cq, &key_b, (void *)0xb2, NULL);
    struct spec_seen u = { (void *)1, (void *)1, s.done };
    dispatch_async_f(cq, &u, read_specifics);
    CHECK(sem_wait_ms(s.done, 3000), "the concurrent queue's item did not run");
    CHECK(u.b == (void *)0xb2 && u.a == NULL, "concurrent item saw a=%p b=%p", u.a, u.b);

    dispatch_release(s.done);
    dispatch_release(cq);
    dispatch_release(q);
    OK("get_specific_in_items");
}

/* ------------------------------------------------------------------ */

struct chain_seen {
    void *a, *b, *c;
    dispatch_semaphore_t done;
};

static void read_chain(void *ctx)
{
    struct chain_seen *s = ctx;
    s->a = dispatch_get_specific(&key_a);
    s->b = dispatch_get_specific(&key_b);
    s->c = dispatch_get_specific(&key_c);
    if (s->done)
        dispatch_semaphore_signal(s->done);
}

static void test_specific_target_chain(void)
{
    test_start("specific_target_chain", 10);
    /* top <- mid <- leaf */
    dispatch_queue_t top = dispatch_queue_create("test.specific.top", NULL);
    dispatch_queue_t mid = dispatch_queue_create_with_target("test.specific.mid", NULL, top);
    dispatch_queue_t leaf = dispatch_queue_create("test.specific.leaf", NULL);
    dispatch_set_target_queue(leaf, mid);
    dispatch_queue_set_specific(top, &key_a, (void *)0x10, NULL);
    dispatch_queue_set_specific(top, &key_b, (void *)0x11, NULL);
    dispatch_queue_set_specific(mid, &key_b, (void *)0x20, NULL);
    dispatch_queue_set_specific(leaf, &key_c, (void *)0x30, NULL);

    struct chain_seen s = { 0, 0, 0, dispatch_semaphore_create(0) };
    dispatch_async_f(leaf, &s, read_chain);
    CHECK(sem_wait_ms(s.done, 3000), "the leaf item did not run");
    CHECK(s.a == (void *)0x10, "key_a (set on the top queue only) gave %p", s.a);
    CHECK(s.b == (void *)0x20, "key_b (set on top and mid) gave %p, the nearest (mid) must win", s.b);
    CHECK(s.c == (void *)0x30, "key_c (set on the leaf) gave %p", s.c);

    struct chain_seen m = { 0, 0, 0, NULL };
    dispatch_sync_f(mid, &m, read_chain);
    CHECK(m.a == (void *)0x10 && m.b == (void *)0x20 && m.c == NULL, "item on mid saw a=%p b=%p c=%p", m.a, m.b,
          m.c);

    /* dispatch_queue_get_specific does not look at targets */
    CHECK(dispatch_queue_get_specific(leaf, &key_a) == NULL, "dispatch_queue_get_specific looked through targets");
    CHECK(dispatch_queue_get_specific(leaf, &key_c) == (void *)0x30, "leaf key_c");

    dispatch_release(s.done);
    dispatch_release(leaf);
    dispatch_release(mid);
    dispatch_release(top);
    OK("specific_target_chain");
}

/* ------------------------------------------------------------------ */

static atomic_int dtor_calls[3];
static dispatch_semaphore_t dtor_sema;

static void dtor(void *ctx)
{
    int which = (int)(intptr_t)ctx - 1;
    if (which >= 0 && which < 3)
        atomic_fetch_add(&dtor_calls[which], 1);
    dispatch_semaphore_signal(dtor_sema);
}

static void test_specific_destructor(void)
{
    test_start("specific_destructor", 10);
    dtor_sema = dispatch_semaphore_create(0);
    dispatch_queue_t q = dispatch_queue_create("test.specific.dtor", NULL);
    dispatch_queue_set_specific(q, &key_a, (void *)1, dtor);
    sleep_ms(50);
    CHECK(atomic_load(&dtor_calls[0]) == 0, "the destructor ran while the value was still set");

    /* replacing calls the destructor for the old value */
    dispatch_queue_set_specific(q, &key_a, (void *)2, dtor);
    CHECK(sem_wait_ms(dtor_sema, 3000), "replacing a value did not call its destructor");
    CHECK(atomic_load(&dtor_calls[0]) == 1, "destructor(old value) ran %d times", atomic_load(&dtor_calls[0]));
    CHECK(dispatch_queue_get_specific(q, &key_a) == (void *)2, "the new value is not set");

    /* removing (NULL) calls it too */
    dispatch_queue_set_specific(q, &key_b, (void *)3, dtor);
    dispatch_queue_set_specific(q, &key_b, NULL, NULL);
    CHECK(sem_wait_ms(dtor_sema, 3000), "setting NULL did not call the old value's destructor");
    CHECK(atomic_load(&dtor_calls[2]) == 1, "destructor(removed value) ran %d times", atomic_load(&dtor_calls[2]));

    sleep_ms(50);
    CHECK(atomic_load(&dtor_calls[1]) == 0, "the destructor of the current value ran before release");

    /* releasing the queue calls it for the value still set */
    dispatch_release(q);
    CHECK(sem_wait_ms(dtor_sema, 3000), "releasing the queue did not call the destructor");
    sleep_ms(100);
    CHECK(atomic_load(&dtor_calls[1]) == 1, "destructor(last value) ran %d times", atomic_load(&dtor_calls[1]));
    CHECK(atomic_load(&dtor_calls[0]) == 1 && atomic_load(&dtor_calls[2]) == 1,
          "an old value's destructor ran again (%d, %d)", atomic_load(&dtor_calls[0]), atomic_load(&dtor_calls[2]));
    dispatch_release(dtor_sema);
    OK("specific_destructor");
}

/* ------------------------------------------------------------------ */

struct cur_seen {
    dispatch_queue_t current;
    dispatch_semaphore_t done;
};

static void read_current(void *ctx)
{
    struct cur_seen *s = ctx;
    s->current = dispatch_get_current_queue();
    if (s->done)
        dispatch_semaphore_signal(s->done);
}

static void test_current_queue(void)
{
    test_start("current_queue", 10);
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_queue_t q = dispatch_queue_create("test.specific.cur", NULL);
    dispatch_queue_t t = dispatch_queue_create("test.specific.curtarget", NULL);
    dispatch_queue_t sub = dispatch_queue_create_with_target("test.specific.cursub", NULL, t);
    dispatch_queue_t cq = dispatch_queue_create("test.specific.curconc", DISPATCH_QUEUE_CONCURRENT);
    dispatch_queue_t gq = dispatch_get_global_queue(QOS_CLASS_UTILITY, 0);

    struct cur_seen s = { NULL, done };
    dispatch_async_f(q, &s, read_current);
    CHECK(sem_wait_ms(done, 3000), "async item did not run");
    CHECK(s.current == q, "async item: dispatch_get_current_queue() = %p, queue is %p", (void *)s.current, (void *)q);

    struct cur_seen y = { NULL, NULL };
    dispatch_sync_f(q, &y, read_current);
    CHECK(y.current == q, "sync item: dispatch_get_current_queue() = %p, queue is %p", (void *)y.current, (void *)q);

    struct cur_seen z = { NULL, done };
    dispatch_async_f(sub, &z, read_current);
    CHECK(sem_wait_ms(done, 3000), "sub-queue item did not run");
    CHECK(z.current == sub, "item of a queue with a target: current queue %p is not the queue %p (target %p)",
          (void *)z.current, (void *)sub, (void *)t);

    struct cur_seen c = { NULL, done };
    dispatch_async_f(cq, &c, read_current);
    CHECK(sem_wait_ms(done, 3000), "concurrent item did not run");
    CHECK(c.current == cq, "concurrent item: current queue %p, expected %p", (void *)c.current, (void *)cq);

    struct cur_seen gl = { NULL, done };
    dispatch_async_f(gq, &gl, read_current);
    CHECK(sem_wait_ms(done, 3000), "global queue item did not run");
    CHECK(gl.current == gq, "global item: current queue %p, expected %p", (void *)gl.current, (void *)gq);

    dispatch_release(cq);
    dispatch_release(sub);
    dispatch_release(t);
    dispatch_release(q);
    dispatch_release(done);
    OK("current_queue");
}

/* ------------------------------------------------------------------ */

struct label_seen {
    const char *label;
    char copy[64];
};

static void read_label(void *ctx)
{
    struct label_seen *s = ctx;
    s->label = dispatch_queue_get_label(DISPATCH_CURRENT_QUEUE_LABEL);
    snprintf(s->copy, sizeof s->copy, "%s", s->label ? s->label : "(null)");
}

static void test_labels(void)
{
    test_start("labels", 10);
    dispatch_queue_t q = dispatch_queue_create("com.example.capi.label", NULL);
    const char *l = dispatch_queue_get_label(q);
    CHECK(l != NULL && strcmp(l, "com.example.capi.label") == 0, "label is \"%s\"", l ? l : "(null)");

    dispatch_queue_t anon = dispatch_queue_create(NULL, NULL);
    const char *la = dispatch_queue_get_label(anon);
    CHECK(la != NULL && la[0] == '\0', "a queue created with a NULL label has label \"%s\", expected \"\"",
          la ? la : "(null)");

    struct label_seen s;
    memset(&s, 0, sizeof s);
    dispatch_sync_f(q, &s, read_label);
    CHECK(strcmp(s.copy, "com.example.capi.label") == 0, "DISPATCH_CURRENT_QUEUE_LABEL inside an item gave \"%s\"",
          s.copy);

    dispatch_queue_t cq = dispatch_queue_create("com.example.capi.conc", DISPATCH_QUEUE_CONCURRENT);
    CHECK(strcmp(dispatch_queue_get_label(cq), "com.example.capi.conc") == 0, "concurrent label");

    CHECK(dispatch_queue_get_label(dispatch_get_main_queue()) != NULL, "the main queue has a NULL label");
    CHECK(dispatch_queue_get_label(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0)) != NULL,
          "a global queue has a NULL label");
    dispatch_release(cq);
    dispatch_release(anon);
    dispatch_release(q);
    OK("labels");
}

/* ------------------------------------------------------------------ */

static void test_qos_class(void)
{
    test_start("qos_class", 10);
    dispatch_queue_attr_t attr = dispatch_queue_attr_make_with_qos_class(DISPATCH_QUEUE_SERIAL, QOS_CLASS_UTILITY, -5);
    CHECK(attr != NULL, "dispatch_queue_attr_make_with_qos_class returned NULL");
    dispatch_queue_t q = dispatch_queue_create("test.specific.qos", attr);
    int rel = 99;
    dispatch_qos_class_t qos = dispatch_queue_get_qos_class(q, &rel);
    CHECK(qos == QOS_CLASS_UTILITY, "qos class 0x%x, expected UTILITY 0x%x", (unsigned)qos, QOS_CLASS_UTILITY);
    CHECK(rel == -5, "relative priority %d, expected -5", rel);
    /* the pointer is optional */
    CHECK(dispatch_queue_get_qos_class(q, NULL) == QOS_CLASS_UTILITY, "with a NULL relative priority pointer");

    dispatch_queue_attr_t cattr =
        dispatch_queue_attr_make_with_qos_class(DISPATCH_QUEUE_CONCURRENT, QOS_CLASS_USER_INITIATED, 0);
    dispatch_queue_t cq = dispatch_queue_create("test.specific.qosc", cattr);
    rel = 99;
    qos = dispatch_queue_get_qos_class(cq, &rel);
    CHECK(qos == QOS_CLASS_USER_INITIATED && rel == 0, "concurrent queue: qos 0x%x rel %d", (unsigned)qos, rel);

    dispatch_queue_t plain = dispatch_queue_create("test.specific.noqos", NULL);
    rel = 99;
    qos = dispatch_queue_get_qos_class(plain, &rel);
    CHECK(qos == QOS_CLASS_UNSPECIFIED && rel == 0, "queue without QoS: qos 0x%x rel %d", (unsigned)qos, rel);

    static const struct {
        unsigned qos;
        const char *name;
    } globals[] = {
        { QOS_CLASS_USER_INTERACTIVE, "USER_INTERACTIVE" },
        { QOS_CLASS_USER_INITIATED, "USER_INITIATED" },
        { QOS_CLASS_DEFAULT, "DEFAULT" },
        { QOS_CLASS_UTILITY, "UTILITY" },
        { QOS_CLASS_BACKGROUND, "BACKGROUND" },
        { QOS_CLASS_MAINTENANCE, "MAINTENANCE" },
    };
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
        dispatch_queue_t gq = dispatch_get_global_queue((intptr_t)globals[i].qos, 0);
        CHECK(gq != NULL, "global queue %s is NULL", globals[i].name);
        qos = dispatch_queue_get_qos_class(gq, NULL);
        CHECK(qos == globals[i].qos, "global queue %s reports qos 0x%x", globals[i].name, (unsigned)qos);
    }
    dispatch_release(plain);
    dispatch_release(cq);
    dispatch_release(q);
    OK("qos_class");
}

/* ------------------------------------------------------------------ */

struct assert_ctx {
    dispatch_queue_t self, other, target;
    int reached;
};

static void assert_in_serial(void *ctx)
{
    struct assert_ctx *a = ctx;
    dispatch_assert_queue(a->self);
    dispatch_assert_queue_barrier(a->self); /* a serial queue's item is a barrier */
    dispatch_assert_queue_not(a->other);
    if (a->target)
        dispatch_assert_queue(a->target); /* the current queue targets it */
    a->reached = 1;
}

static void assert_in_barrier(void *ctx)
{
    struct assert_ctx *a = ctx;
    dispatch_assert_queue(a->self);
    dispatch_assert_queue_barrier(a->self);
    a->reached = 1;
}

static void test_assert_queue_passes(void)
{
    test_start("assert_queue_passes", 10);
    dispatch_queue_t t = dispatch_queue_create("test.specific.atarget", NULL);
    dispatch_queue_t q = dispatch_queue_create_with_target("test.specific.assert", NULL, t);
    dispatch_queue_t other = dispatch_queue_create("test.specific.other", NULL);
    dispatch_queue_t cq = dispatch_queue_create("test.specific.aconc", DISPATCH_QUEUE_CONCURRENT);

    dispatch_assert_queue_not(q); /* not on any queue here */

    struct assert_ctx a = { q, other, t, 0 };
    dispatch_sync_f(q, &a, assert_in_serial);
    CHECK(a.reached == 1, "the sync item did not get past the assertions");

    struct assert_ctx b = { other, q, NULL, 0 };
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async_f(other, &b, assert_in_serial);
    dispatch_async_f(other, done, signal_sema);
    CHECK(sem_wait_ms(done, 3000), "the async item did not finish");
    CHECK(b.reached == 1, "the async item did not get past the assertions");

    struct assert_ctx c = { cq, NULL, NULL, 0 };
    dispatch_barrier_sync_f(cq, &c, assert_in_barrier);
    CHECK(c.reached == 1, "the barrier item did not get past dispatch_assert_queue_barrier");

    dispatch_release(done);
    dispatch_release(cq);
    dispatch_release(other);
    dispatch_release(q);
    dispatch_release(t);
    OK("assert_queue_passes");
}

int main(void)
{
    test_set_get_specific();
    test_get_specific_in_items();
    test_specific_target_chain();
    test_specific_destructor();
    test_current_queue();
    test_labels();
    test_qos_class();
    test_assert_queue_passes();
    return 0;
}
