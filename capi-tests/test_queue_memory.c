/*
 * test_queue_memory.c: what a queue costs in memory, and what its compact layout keeps.
 *
 *   queue_bytes          100,000 serial queues labelled "bench.q" (the bench's figure) grow
 *                        the C heap (mallinfo2) by at most 128 bytes each: the queue and its
 *                        label are one 128-byte block (they were 240 bytes in two).
 *   labels_every_length  labels of 1 to 40 bytes, 1,000 and 70,000 bytes, and no label, read
 *                        back byte for byte by dispatch_queue_get_label and through
 *                        dispatch_queue_offsets' label field (both the same pointer), while
 *                        queues with neighbouring labels live alongside.
 *   finalizer_not_inherited
 *                        a queue with a context and finalizer runs it once on release; the
 *                        next 1,000 objects (queues, groups, semaphores, often at the same
 *                        address) with a context but no finalizer run none; a finalizer set
 *                        and then cleared (NULL) does not run; a finalizer replaced runs the
 *                        new function only.
 *   rare_settings        what a queue keeps out of line until used: the relative priority of
 *                        its attribute, specifics (set, replaced, removed, looked up through
 *                        a target), and the QoS set while inactive, each read back.
 */
#include "check.h"

#include <dispatch/private.h>
#include <malloc.h>

#define N_QUEUES 100000

static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void queue_bytes(void)
{
    test_start("queue_bytes", 30);
    dispatch_queue_t *qs = calloc(N_QUEUES, sizeof *qs);
    CHECK(qs != NULL, "calloc");
    dispatch_release(dispatch_queue_create("warm", NULL)); /* the library's own first allocations */
    size_t before = heap_in_use();
    for (int i = 0; i < N_QUEUES; i++)
        qs[i] = dispatch_queue_create("bench.q", DISPATCH_QUEUE_SERIAL);
    size_t per_queue = (heap_in_use() - before) / N_QUEUES;
    for (int i = 0; i < N_QUEUES; i++)
        dispatch_release(qs[i]);
    free(qs);
    CHECK(per_queue <= 128, "%zu bytes per serial queue, expected at most 128", per_queue);
    OK("queue_bytes");
}

static const char *offset_label(dispatch_queue_t q)
{
    return *(const char *const *)((const char *)q + dispatch_queue_offsets.dqo_label);
}

static void labels_every_length(void)
{
    test_start("labels_every_length", 30);
    enum { SHORT = 40 };
    static char text[70100];
    for (size_t i = 0; i < sizeof text - 1; i++)
        text[i] = (char)('a' + i % 26);
    dispatch_queue_t qs[SHORT + 2];
    char *labels[SHORT + 2];
    size_t lens[SHORT + 2];
    for (int i = 0; i < SHORT + 2; i++) {
        size_t len = i < SHORT ? (size_t)i + 1 : i == SHORT ? 1000 : 70000;
        labels[i] = strndup(text + i, len);
        lens[i] = len;
        qs[i] = dispatch_queue_create(labels[i], i % 2 ? DISPATCH_QUEUE_CONCURRENT : DISPATCH_QUEUE_SERIAL);
        /* the queue copied the label: the caller's buffer may change or go */
        memset(labels[i], '#', len);
    }
    for (int i = 0; i < SHORT + 2; i++) {
        const char *l = dispatch_queue_get_label(qs[i]);
        CHECK(strlen(l) == lens[i] && strncmp(l, text + i, lens[i]) == 0, "label %d (%zu bytes) read back wrong",
              i, lens[i]);
        CHECK(offset_label(qs[i]) == l, "label %d: dispatch_queue_offsets' label field is not the label", i);
        dispatch_release(qs[i]);
        free(labels[i]);
    }
    dispatch_queue_t none = dispatch_queue_create(NULL, NULL);
    CHECK(strcmp(dispatch_queue_get_label(none), "") == 0, "a queue without a label has the empty label");
    CHECK(offset_label(none) == dispatch_queue_get_label(none), "offsets label of an unlabelled queue");
    dispatch_release(none);
    OK("labels_every_length");
}

static atomic_int fin_a, fin_b;
static void finalizer_a(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&fin_a, 1);
}
static void finalizer_b(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&fin_b, 1);
}

static void nothing(void *ctx)
{
    (void)ctx;
}

/* Waits for what a serial queue was given before: the finalizers submitted to it so far. */
static void drain(dispatch_queue_t q)
{
    dispatch_sync_f(q, NULL, nothing);
}

/* The default global queue is concurrent: a barrier-free sync does not wait for earlier
 * items, so wait until the count settles at `want` (bounded by the test's watchdog). */
static void wait_count(atomic_int *count, int want)
{
    for (int i = 0; i < 2000 && atomic_load(count) < want; i++)
        usleep(1000);
    usleep(20000); /* a surplus call would show up now */
}

static void finalizer_not_inherited(void)
{
    test_start("finalizer_not_inherited", 30);
    static int ctx;
    dispatch_queue_t target = dispatch_queue_create("fin.target", NULL);

    dispatch_queue_t q = dispatch_queue_create_with_target("fin", NULL, target);
    dispatch_set_context(q, &ctx);
    dispatch_set_finalizer_f(q, finalizer_a);
    dispatch_release(q);
    drain(target);
    CHECK(atomic_load(&fin_a) == 1, "the finalizer ran %d times, expected once", atomic_load(&fin_a));

    for (int i = 0; i < 1000; i++) {
        dispatch_object_t o;
        switch (i % 3) {
        case 0:
            o = (dispatch_object_t)dispatch_queue_create_with_target("fin", NULL, target);
            break;
        case 1:
            o = (dispatch_object_t)dispatch_group_create();
            break;
        default:
            o = (dispatch_object_t)dispatch_semaphore_create(0);
            break;
        }
        dispatch_set_context(o, &ctx);
        dispatch_release(o);
    }
    drain(target);
    CHECK(atomic_load(&fin_a) == 1, "objects without a finalizer ran one (%d calls)", atomic_load(&fin_a));

    q = dispatch_queue_create_with_target("fin.cleared", NULL, target);
    dispatch_set_context(q, &ctx);
    dispatch_set_finalizer_f(q, finalizer_a);
    dispatch_set_finalizer_f(q, NULL);
    dispatch_release(q);
    q = dispatch_queue_create_with_target("fin.replaced", NULL, target);
    dispatch_set_context(q, &ctx);
    dispatch_set_finalizer_f(q, finalizer_a);
    dispatch_set_finalizer_f(q, finalizer_b);
    dispatch_release(q);
    drain(target);
    CHECK(atomic_load(&fin_a) == 1, "a cleared or replaced finalizer ran (%d calls)", atomic_load(&fin_a));
    CHECK(atomic_load(&fin_b) == 1, "the replacing finalizer ran %d times, expected once", atomic_load(&fin_b));

    dispatch_group_t g = dispatch_group_create();
    dispatch_set_context(g, &ctx);
    dispatch_set_finalizer_f(g, finalizer_b);
    dispatch_release(g);
    wait_count(&fin_b, 2);
    CHECK(atomic_load(&fin_b) == 2, "a group's finalizer ran %d times, expected once", atomic_load(&fin_b) - 1);
    dispatch_release(target);
    OK("finalizer_not_inherited");
}

static char key1, key2;
static atomic_int destructed;
static void destructor(void *v)
{
    (void)v;
    atomic_fetch_add(&destructed, 1);
}

static void read_key2(void *out)
{
    *(void **)out = dispatch_get_specific(&key2);
}

static void rare_settings(void)
{
    test_start("rare_settings", 30);
    dispatch_queue_attr_t a = dispatch_queue_attr_make_with_qos_class(NULL, QOS_CLASS_UTILITY, -7);
    dispatch_queue_t q = dispatch_queue_create("rare", a);
    int rel = 0;
    CHECK(dispatch_queue_get_qos_class(q, &rel) == QOS_CLASS_UTILITY && rel == -7, "qos %u/%d",
          dispatch_queue_get_qos_class(q, &rel), rel);
    CHECK(dispatch_queue_get_specific(q, &key1) == NULL, "no specific yet");
    dispatch_queue_set_specific(q, &key1, NULL, NULL); /* removing nothing */
    CHECK(dispatch_queue_get_specific(q, &key1) == NULL, "still none");
    dispatch_queue_set_specific(q, &key1, (void *)1, destructor);
    dispatch_queue_set_specific(q, &key1, (void *)2, destructor);
    dispatch_queue_set_specific(q, &key2, (void *)3, NULL);
    CHECK(dispatch_queue_get_specific(q, &key1) == (void *)2, "replaced value");
    dispatch_queue_t child = dispatch_queue_create_with_target("rare.child", NULL, q);
    void *seen = NULL;
    dispatch_sync_f(child, &seen, read_key2);
    CHECK(seen == (void *)3, "a specific of the target is found from the child (%p)", seen);
    dispatch_release(child);
    dispatch_release(q);
    for (int i = 0; i < 1000 && atomic_load(&destructed) < 2; i++)
        usleep(1000);
    CHECK(atomic_load(&destructed) == 2, "destructors ran %d times, expected 2 (replace, release)",
          atomic_load(&destructed));

    dispatch_queue_t plain = dispatch_queue_create("plain", NULL);
    CHECK(dispatch_queue_get_qos_class(plain, &rel) == QOS_CLASS_UNSPECIFIED && rel == 0, "plain qos");
    dispatch_release(plain);

    dispatch_queue_t inactive = dispatch_queue_create("inactive", DISPATCH_QUEUE_SERIAL_INACTIVE);
    dispatch_set_qos_class_floor(inactive, QOS_CLASS_USER_INITIATED, -3);
    CHECK(dispatch_queue_get_qos_class(inactive, &rel) == QOS_CLASS_USER_INITIATED && rel == -3, "set qos %d",
          rel);
    dispatch_activate(inactive);
    dispatch_release(inactive);
    OK("rare_settings");
}

int main(void)
{
    queue_bytes();
    labels_every_length();
    finalizer_not_inherited();
    rare_settings();
    return 0;
}
