/*
 * test_blocks_workloop.c: workloops (dispatch_workloop_create*, and the private
 * workloop interface).
 *
 *   set_target_aborts   dispatch_set_target_queue on a workloop aborts.
 *   not_a_workloop      dispatch_workloop_set_qos_class on a plain queue aborts.
 *   qos_order           items submitted to an inactive workloop run, once activated, highest
 *                       QoS first and in submission order within a class; items naming no
 *                       class run at the workloop's floor.
 *   child_queues        queues with QoS attributes targeting a workloop are run in QoS
 *                       order, each child's items in order.
 *   exclusive           items of the workloop and of four queues targeting it (several
 *                       QoS classes, from 4 threads) never run at the same time; all run.
 *   is_current          dispatch_workloop_is_current / copy_current: true (the workloop)
 *                       inside its items, inside items of queues targeting it, inside a
 *                       dispatch_sync onto it, inside a source handler targeting it; false
 *                       (NULL) on other queues and outside.
 *   should_yield        _dispatch_workloop_should_yield_4NW is false inside a low-class item
 *                       with nothing waiting and true once a higher-class item waits.
 */
#include "check.h"
#include <Block.h>
#include <dispatch/private.h>

static char order[64];
static int n;
static dispatch_queue_t qs[4];

static void set_target_on_workloop(void)
{
    dispatch_workloop_t wl = dispatch_workloop_create("test.wl.target");
    dispatch_set_target_queue(wl, dispatch_get_global_queue(0, 0));
}

static void qos_on_plain_queue(void)
{
    dispatch_queue_t q = dispatch_queue_create("test.wl.plain", NULL);
    dispatch_workloop_set_qos_class(q, QOS_CLASS_UTILITY, 0);
}

static dispatch_block_t at(dispatch_qos_class_t qos, dispatch_block_t b)
{
    return dispatch_block_create_with_qos_class(DISPATCH_BLOCK_ENFORCE_QOS_CLASS, qos, 0, b);
}

static void test_qos_order(void)
{
    test_start("qos_order", 10);
    dispatch_workloop_t wl = dispatch_workloop_create_inactive("test.wl.order");
    CHECK(wl != NULL, "dispatch_workloop_create_inactive returned NULL");
    dispatch_workloop_set_qos_class_floor(wl, QOS_CLASS_UTILITY, 0, DISPATCH_WORKLOOP_NONE);
    n = 0;
    dispatch_qos_class_t classes[] = { QOS_CLASS_BACKGROUND, QOS_CLASS_USER_INITIATED, 0,
                                       QOS_CLASS_USER_INTERACTIVE, QOS_CLASS_DEFAULT };
    const char names[] = "bi-UD"; /* '-' runs at the floor (utility) */
    dispatch_block_t blocks[10];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5; i++) {
            char tag = names[i];
            char r = (char)('0' + round);
            dispatch_block_t body = ^{
                order[n++] = tag;
                order[n++] = r;
            };
            blocks[round * 5 + i] = classes[i] ? at(classes[i], body) : Block_copy(body);
            dispatch_async(wl, blocks[round * 5 + i]);
        }
    }
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_async(wl, ^{ dispatch_semaphore_signal(done); }); /* floor class: after '-' */
    dispatch_activate(wl);
    CHECK(sem_wait_ms(done, 5000), "the workloop did not run its items");
    /* The floor item that signals runs after both '-' items; the background ones follow. */
    for (int i = 0; i < 5000 && __atomic_load_n(&n, __ATOMIC_SEQ_CST) < 20; i++)
        sleep_ms(1);
    CHECK(__atomic_load_n(&n, __ATOMIC_SEQ_CST) == 20, "%d of 10 items ran", n / 2);
    order[20] = 0;
    CHECK(strcmp(order, "U0U1i0i1D0D1-0-1b0b1") == 0, "run order %s, expected U0U1i0i1D0D1-0-1b0b1", order);
    for (int i = 0; i < 10; i++)
        Block_release(blocks[i]);
    dispatch_release(done);
    dispatch_release(wl);
    OK("qos_order");
}

static void test_child_queues(void)
{
    test_start("child_queues", 10);
    dispatch_workloop_t wl = dispatch_workloop_create_inactive("test.wl.children");
    dispatch_qos_class_t classes[] = { QOS_CLASS_UTILITY, QOS_CLASS_USER_INTERACTIVE, QOS_CLASS_BACKGROUND,
                                       QOS_CLASS_USER_INITIATED };
    const char names[] = "uUbi";
    n = 0;
    for (int i = 0; i < 4; i++) {
        dispatch_queue_attr_t a = dispatch_queue_attr_make_with_qos_class(DISPATCH_QUEUE_SERIAL, classes[i], 0);
        qs[i] = dispatch_queue_create_with_target("test.wl.child", a, wl);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++) {
            char tag = names[i];
            char r = (char)('0' + k);
            dispatch_async(qs[i], ^{
                order[n++] = tag;
                order[n++] = r;
            });
        }
    dispatch_activate(wl);
    dispatch_sync(qs[2], ^{}); /* the background child runs last */
    order[n] = 0;
    CHECK(strcmp(order, "U0U1U2i0i1i2u0u1u2b0b1b2") == 0, "run order %s", order);
    for (int i = 0; i < 4; i++)
        dispatch_release(qs[i]);
    dispatch_release(wl);
    OK("child_queues");
}

static atomic_int ex_inside, ex_overlaps, ex_runs;

static void test_exclusive(void)
{
    test_start("exclusive", 30);
    dispatch_workloop_t wl = dispatch_workloop_create("test.wl.exclusive");
    dispatch_qos_class_t classes[] = { QOS_CLASS_UTILITY, QOS_CLASS_USER_INTERACTIVE, QOS_CLASS_BACKGROUND,
                                       QOS_CLASS_DEFAULT };
    for (int i = 0; i < 4; i++)
        qs[i] = dispatch_queue_create_with_target(
            "test.wl.ex", dispatch_queue_attr_make_with_qos_class(DISPATCH_QUEUE_SERIAL, classes[i], 0), wl);
    dispatch_group_t g = dispatch_group_create();
    dispatch_block_t body = ^{
        if (atomic_fetch_add(&ex_inside, 1) != 0)
            atomic_fetch_add(&ex_overlaps, 1);
        for (int k = 0; k < 20; k++)
            sched_yield();
        atomic_fetch_sub(&ex_inside, 1);
        atomic_fetch_add(&ex_runs, 1);
    };
    dispatch_apply(4, dispatch_get_global_queue(0, 0), ^(size_t t) {
        for (int i = 0; i < 200; i++) {
            if (i % 3 == 0)
                dispatch_group_async(g, wl, body);
            else
                dispatch_group_async(g, qs[(t + (size_t)i) % 4], body);
            if (i % 50 == 0)
                dispatch_sync(wl, body);
        }
    });
    CHECK(group_wait_ms(g, 20000), "items did not finish");
    CHECK(atomic_load(&ex_overlaps) == 0, "%d items of the workloop overlapped", atomic_load(&ex_overlaps));
    CHECK(atomic_load(&ex_runs) == 4 * 204, "%d of %d items ran", atomic_load(&ex_runs), 4 * 204);
    for (int i = 0; i < 4; i++)
        dispatch_release(qs[i]);
    dispatch_release(g);
    dispatch_release(wl);
    OK("exclusive");
}

static void test_is_current(void)
{
    test_start("is_current", 10);
    dispatch_workloop_t wl = dispatch_workloop_create("test.wl.current");
    dispatch_workloop_t other = dispatch_workloop_create("test.wl.other");
    dispatch_queue_t child = dispatch_queue_create_with_target("test.wl.cur.child", NULL, wl);
    dispatch_queue_t plain = dispatch_queue_create("test.wl.cur.plain", NULL);
    CHECK(!dispatch_workloop_is_current(wl), "is_current outside any item");
    CHECK(dispatch_workloop_copy_current() == NULL, "copy_current outside any item");
    __block int seen = 0;
    dispatch_block_t check_in = ^{
        if (dispatch_workloop_is_current(wl) && !dispatch_workloop_is_current(other))
            seen++;
        dispatch_workloop_t cur = dispatch_workloop_copy_current();
        if (cur == wl)
            seen++;
        if (cur)
            dispatch_release(cur);
    };
    dispatch_async(wl, check_in);
    dispatch_async(child, check_in);
    dispatch_sync(wl, check_in);
    dispatch_sync(child, check_in);
    __block int outside = 0;
    dispatch_sync(plain, ^{
        if (!dispatch_workloop_is_current(wl) && dispatch_workloop_copy_current() == NULL)
            outside = 1;
    });
    dispatch_semaphore_t fired = dispatch_semaphore_create(0);
    dispatch_source_t src = dispatch_source_create(DISPATCH_SOURCE_TYPE_DATA_ADD, 0, 0, wl);
    dispatch_source_set_event_handler(src, ^{
        check_in();
        dispatch_semaphore_signal(fired);
    });
    dispatch_activate(src);
    dispatch_source_merge_data(src, 1);
    CHECK(sem_wait_ms(fired, 5000), "the source handler did not run");
    dispatch_sync(wl, ^{});
    CHECK(seen == 10, "is_current/copy_current held in %d of 10 checks", seen);
    CHECK(outside, "is_current or copy_current answered for a plain queue's item");
    dispatch_source_cancel(src);
    dispatch_release(src);
    dispatch_release(fired);
    dispatch_release(child);
    dispatch_release(plain);
    dispatch_release(other);
    dispatch_release(wl);
    OK("is_current");
}

static void test_should_yield(void)
{
    test_start("should_yield", 10);
    dispatch_workloop_t wl = dispatch_workloop_create("test.wl.yield");
    __block bool before = true, after = false;
    dispatch_semaphore_t done = dispatch_semaphore_create(0);
    dispatch_block_t low = at(QOS_CLASS_UTILITY, ^{
        before = _dispatch_workloop_should_yield_4NW();
        dispatch_block_t high = at(QOS_CLASS_USER_INTERACTIVE, ^{});
        dispatch_async(wl, high);
        Block_release(high);
        after = _dispatch_workloop_should_yield_4NW();
        dispatch_semaphore_signal(done);
    });
    dispatch_async(wl, low);
    CHECK(sem_wait_ms(done, 5000), "the item did not run");
    CHECK(!before, "should_yield with nothing waiting");
    CHECK(after, "should_yield false while a higher class item waits");
    CHECK(!_dispatch_workloop_should_yield_4NW(), "should_yield outside a workloop");
    Block_release(low);
    dispatch_sync(wl, ^{});
    dispatch_release(done);
    dispatch_release(wl);
    OK("should_yield");
}

int main(void)
{
    CHECK(expect_abort(set_target_on_workloop, "workloop"), "set_target on a workloop did not abort");
    OK("set_target_aborts");
    CHECK(expect_abort(qos_on_plain_queue, "not a workloop"), "workloop call on a plain queue did not abort");
    OK("not_a_workloop");
    test_qos_order();
    test_child_queues();
    test_exclusive();
    test_is_current();
    test_should_yield();
    return 0;
}
