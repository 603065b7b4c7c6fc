/*
 * Private queue SPI: QoS setters, overcommit attribute, label without copy, enforced-QoS
 * async, the voucher variants, dispatch_queue_offsets.
 */
#include "check.h"
#include <dispatch/private.h>
#include <stddef.h>

static dispatch_semaphore_t done;
static atomic_uint seen_qos;

static void record_qos(void *ctxt)
{
    UNUSED(ctxt);
    atomic_store(&seen_qos, qos_class_self());
    dispatch_semaphore_signal(done);
}

static void set_qos_after_activation(void)
{
    dispatch_queue_t q = dispatch_queue_create("active", NULL);
    dispatch_set_qos_class(q, QOS_CLASS_UTILITY, 0);
}

static void set_qos_on_group(void)
{
    dispatch_set_qos_class(dispatch_group_create(), QOS_CLASS_UTILITY, 0);
}

static void nop(void *ctxt) { UNUSED(ctxt); }

int main(void)
{
    test_start("QoS setters abort after activation and on other objects", 15);
    CHECK(expect_abort(set_qos_after_activation, "setter called after activation"), "no abort");
    CHECK(expect_abort(set_qos_on_group, "invalid object type"), "no abort");
    OK("QoS setters abort after activation and on other objects");

    done = dispatch_semaphore_create(0);

    test_start("dispatch_set_qos_class on an inactive queue", 10);
    dispatch_queue_t q = dispatch_queue_create("qos", DISPATCH_QUEUE_SERIAL_INACTIVE);
    dispatch_set_qos_class(q, QOS_CLASS_UTILITY, -3);
    int rel = 1;
    CHECK(dispatch_queue_get_qos_class(q, &rel) == QOS_CLASS_UTILITY && rel == -3, "qos %u rel %d",
          dispatch_queue_get_qos_class(q, &rel), rel);
    dispatch_activate(q);
    dispatch_async_f(q, NULL, record_qos);
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    CHECK(atomic_load(&seen_qos) == QOS_CLASS_UTILITY, "ran at 0x%x", atomic_load(&seen_qos));
    dispatch_release(q);
    OK("dispatch_set_qos_class on an inactive queue");

    test_start("dispatch_set_qos_class_floor and _fallback", 10);
    q = dispatch_queue_create("floor", DISPATCH_QUEUE_SERIAL_INACTIVE);
    dispatch_set_qos_class_floor(q, QOS_CLASS_USER_INITIATED, 0);
    CHECK(dispatch_queue_get_qos_class(q, NULL) == QOS_CLASS_USER_INITIATED, "floor class");
    dispatch_activate(q);
    dispatch_async_f(q, NULL, record_qos);
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    CHECK(atomic_load(&seen_qos) == QOS_CLASS_USER_INITIATED, "ran at 0x%x", atomic_load(&seen_qos));
    dispatch_release(q);
    q = dispatch_queue_create("fallback", DISPATCH_QUEUE_SERIAL_INACTIVE);
    dispatch_set_qos_class_fallback(q, QOS_CLASS_UTILITY);
    CHECK(dispatch_queue_get_qos_class(q, NULL) == QOS_CLASS_UNSPECIFIED, "fallback is not the class");
    dispatch_activate(q);
    dispatch_async_f(q, NULL, record_qos);
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    CHECK(atomic_load(&seen_qos) == QOS_CLASS_UTILITY, "ran at 0x%x", atomic_load(&seen_qos));
    dispatch_release(q);
    dispatch_source_t s = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, NULL);
    dispatch_set_qos_class(s, QOS_CLASS_UTILITY, 0); /* a source before activation is fine */
    dispatch_activate(s);
    dispatch_source_cancel(s);
    dispatch_release(s);
    OK("dispatch_set_qos_class_floor and _fallback");

    test_start("dispatch_async_enforce_qos_class_f runs at the submitter's class", 10);
    q = dispatch_queue_create("enforce", dispatch_queue_attr_make_with_qos_class(NULL, QOS_CLASS_BACKGROUND, 0));
    dispatch_async_enforce_qos_class_f(q, NULL, record_qos); /* main thread: DEFAULT */
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    CHECK(atomic_load(&seen_qos) == QOS_CLASS_DEFAULT, "ran at 0x%x", atomic_load(&seen_qos));
    dispatch_async_f(q, NULL, record_qos);
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    CHECK(atomic_load(&seen_qos) == QOS_CLASS_BACKGROUND, "plain async ran at 0x%x", atomic_load(&seen_qos));
    dispatch_release(q);
    OK("dispatch_async_enforce_qos_class_f runs at the submitter's class");

    test_start("overcommit attribute", 10);
    dispatch_queue_attr_t a = dispatch_queue_attr_make_with_overcommit(DISPATCH_QUEUE_CONCURRENT, true);
    CHECK(a != NULL && a == dispatch_queue_attr_make_with_overcommit(DISPATCH_QUEUE_CONCURRENT, true), "interned");
    q = dispatch_queue_create("oc", a);
    dispatch_async_f(q, NULL, record_qos);
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    dispatch_sync_f(q, NULL, nop);
    dispatch_release(q);
    OK("overcommit attribute");

    test_start("dispatch_queue_set_label_nocopy keeps the pointer", 10);
    static const char label[] = "a label kept by the client";
    q = dispatch_queue_create("copied", NULL);
    dispatch_queue_set_label_nocopy(q, label);
    CHECK(dispatch_queue_get_label(q) == label, "label pointer not kept");
    dispatch_queue_set_label_nocopy(dispatch_get_global_queue(0, 0), label);
    CHECK(dispatch_queue_get_label(dispatch_get_global_queue(0, 0)) != label, "global label changed");
    dispatch_release(q);
    OK("dispatch_queue_set_label_nocopy keeps the pointer");

    test_start("accounting override voucher queue is a plain queue", 10);
    q = dispatch_queue_create_with_accounting_override_voucher("acct", DISPATCH_QUEUE_CONCURRENT, NULL);
    CHECK(q != NULL && strcmp(dispatch_queue_get_label(q), "acct") == 0, "label");
    dispatch_async_f(q, NULL, record_qos);
    CHECK(sem_wait_ms(done, 5000), "item did not run");
    dispatch_release(q);
    OK("accounting override voucher queue is a plain queue");

    test_start("dispatch_queue_offsets describes real fields", 10);
    CHECK(sizeof(dispatch_queue_offsets) == 34, "size");
    CHECK(dispatch_queue_offsets.dqo_version >= 1, "version");
    q = dispatch_queue_create("offsets", DISPATCH_QUEUE_CONCURRENT);
    const char *lp = *(const char *const *)((const char *)q + dispatch_queue_offsets.dqo_label);
    CHECK(dispatch_queue_offsets.dqo_label_size == sizeof(void *) && strcmp(lp, "offsets") == 0, "label field");
    dispatch_queue_set_width(q, 3);
    dispatch_sync_f(q, NULL, nop); /* after the width barrier */
    dispatch_barrier_sync_f(q, NULL, nop);
    CHECK(dispatch_queue_offsets.dqo_width_size == 4, "width size");
    uint32_t w = *(const uint32_t *)((const char *)q + dispatch_queue_offsets.dqo_width);
    CHECK(w == 3, "width field reads %u", w);
    dispatch_queue_t t = dispatch_queue_create("target", NULL);
    dispatch_set_target_queue(q, t);
    CHECK(*(dispatch_queue_t const *)((const char *)q + dispatch_queue_offsets.dqo_target_queue) == t, "target field");
    dispatch_release(q);
    dispatch_release(t);
    OK("dispatch_queue_offsets describes real fields");
    return 0;
}
